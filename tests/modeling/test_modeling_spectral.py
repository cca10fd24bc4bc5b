"""Tests of the spectral models: integrals vs quadrature, gradients, errors, I/O, plots."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy.integrate import quad

from gammapipe.modeling.models import core
from gammapipe.modeling.models.spectral import (
    BrokenPowerLawSpectralModel,
    ConstantSpectralModel,
    ExpCutoffPowerLaw3FGLSpectralModel,
    ExpCutoffPowerLawNormSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    GaussianSpectralModel,
    LogParabolaNormSpectralModel,
    LogParabolaSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    PowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
    SpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    SuperExpCutoffPowerLaw4FGLSpectralModel,
    integrate_log_space,
    pl_integral,
    pl_integral_dindex,
)
from gammapipe.modeling.models.spectral_compound import (
    CompoundSpectralModel,
    PiecewiseNormSpectralModel,
    ScaleSpectralModel,
    TemplateSpectralModel,
)
from gammapipe.modeling.models.spectral_ebl import EBLAbsorptionNormSpectralModel

NODES = np.geomspace(0.1, 100, 30) * u.TeV
EBL_ENERGY = np.geomspace(0.05, 200, 40) * u.TeV
EBL_Z = np.array([0.0, 0.1, 0.3])
EBL_DATA = np.exp(-np.outer(EBL_Z, 2.0 * (EBL_ENERGY.value / 1.0) ** 0.6))


def _models() -> dict[str, SpectralModel]:
    pl = PowerLawSpectralModel(index=2.3, amplitude="3e-12 cm-2 s-1 TeV-1")
    return {
        "pl": pl,
        "pl-index1": PowerLawSpectralModel(index=1.0),
        "pl2": PowerLaw2SpectralModel(index=2.5, amplitude="2e-11 cm-2 s-1"),
        "bpl": BrokenPowerLawSpectralModel(index1=1.5, index2=3, ebreak="2.7 TeV"),
        "sbpl": SmoothBrokenPowerLawSpectralModel(index1=1.5, index2=3, ebreak="3 TeV", beta=0.5),
        "ecpl": ExpCutoffPowerLawSpectralModel(index=2.1, lambda_="0.2 TeV-1"),
        "ecpl-alpha": ExpCutoffPowerLawSpectralModel(index=1.8, lambda_="0.1 TeV-1", alpha=0.7),
        "ecpl3fgl": ExpCutoffPowerLaw3FGLSpectralModel(),
        "secpl4fgl": SuperExpCutoffPowerLaw4FGLSpectralModel(index_2=0.7),
        "secpl4fgl-dr3": SuperExpCutoffPowerLaw4FGLDR3SpectralModel(expfactor=0.1, index_2=0.6),
        "lp": LogParabolaSpectralModel(alpha=2.3, beta=0.2, reference="2 TeV"),
        "const": ConstantSpectralModel(),
        "gauss": GaussianSpectralModel(mean="3 TeV", sigma="0.5 TeV"),
        "pl-norm": PowerLawNormSpectralModel(tilt=0.3, norm=1.2),
        "ecpl-norm": ExpCutoffPowerLawNormSpectralModel(index=0.2),
        "lp-norm": LogParabolaNormSpectralModel(alpha=0.2, beta=0.1),
        "compound-add": pl + ExpCutoffPowerLawSpectralModel(),
        "compound-mul": PowerLawSpectralModel(index=2.0) * PowerLawNormSpectralModel(tilt=0.2),
        "compound-div": PowerLawSpectralModel() / PowerLawNormSpectralModel(tilt=-0.3),
        "scale": ScaleSpectralModel(PowerLawSpectralModel(index=2.7), norm=2),
        "template": TemplateSpectralModel(NODES, ExpCutoffPowerLawSpectralModel()(NODES)),
        "piecewise": PiecewiseNormSpectralModel([0.5, 1, 3, 10] * u.TeV, [1, 2, 0.5, 0.7]),
        "ebl": EBLAbsorptionNormSpectralModel(EBL_ENERGY, EBL_Z, EBL_DATA, redshift=0.2),
        "pl-times-ebl": PowerLawSpectralModel()
        * EBLAbsorptionNormSpectralModel(EBL_ENERGY, EBL_Z, EBL_DATA, redshift=0.05),
        "piecewise-lin": PiecewiseNormSpectralModel(
            [0.5, 1, 3, 10] * u.TeV, [1, 2, 0.5, 0.7], "lin"
        ),
    }


MODELS = _models()
EMIN = np.array([0.7, 1.5, 3.0, 0.2, 2.5]) * u.TeV
EMAX = np.array([1.2, 8.0, 3.5, 80.0, 3.1]) * u.TeV
KINKS = {
    "ebl": list(EBL_ENERGY.value),
    "pl-times-ebl": list(EBL_ENERGY.value),
    "bpl": [2.7],
    "template": list(NODES.value),
    "piecewise": [0.5, 1, 3, 10],
    "piecewise-lin": [0.5, 1, 3, 10],
}


def _quad(model, a, b, power, unit, points):
    def integrand(log_e):
        energy = np.exp(log_e)
        return model(energy * u.TeV).to_value(unit) * energy ** (1 + power)

    pts = [np.log(p) for p in points if a < p < b] or None
    return quad(integrand, np.log(a), np.log(b), epsabs=0, epsrel=1e-11, limit=400, points=pts)[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_integral_and_energy_flux_vs_quadrature(name):
    model = MODELS[name]
    unit = model(1 * u.TeV).unit
    integral = model.integral(EMIN, EMAX).to_value(unit * u.TeV)
    eflux = model.energy_flux(EMIN, EMAX).to_value(unit * u.TeV**2)
    points = KINKS.get(name, [])
    for i, (a, b) in enumerate(zip(EMIN.value, EMAX.value, strict=True)):
        assert integral[i] == pytest.approx(_quad(model, a, b, 0, unit, points), rel=1e-7)
        assert eflux[i] == pytest.approx(_quad(model, a, b, 1, unit, points), rel=1e-7)


def test_integral_units_and_scalar_and_reversed():
    model = MODELS["pl"]
    val = model.integral(1 * u.TeV, 10 * u.TeV)
    assert val.shape == ()
    assert val.unit.is_equivalent("cm-2 s-1")
    gev = model.integral(1000 * u.GeV, 10000 * u.GeV)
    assert gev.to_value("cm-2 s-1") == pytest.approx(val.to_value("cm-2 s-1"), rel=1e-12)
    rev = model.integral(10 * u.TeV, 1 * u.TeV)
    assert rev.value == pytest.approx(-val.value, rel=1e-12)
    # analytic truth
    expected = 3e-12 / 1.3 * (1 - 10**-1.3)
    assert val.to_value("cm-2 s-1") == pytest.approx(expected, rel=1e-13)


def test_pl_integral_index_one_limit():
    assert pl_integral(1.0, np.e, 1.0) == pytest.approx(1.0, rel=1e-14)
    near = pl_integral(2.0, 5.0, 1.0 + 1e-10)
    assert near == pytest.approx(np.log(2.5), rel=1e-9)
    # derivative at index 1: -(ln^2 x2 - ln^2 x1) / 2
    expected = -(np.log(5.0) ** 2 - np.log(2.0) ** 2) / 2
    assert pl_integral_dindex(2.0, 5.0, 1.0) == pytest.approx(expected, rel=1e-9)
    h = 1e-6
    fd = (pl_integral(2.0, 5.0, 2.3 + h) - pl_integral(2.0, 5.0, 2.3 - h)) / (2 * h)
    assert pl_integral_dindex(2.0, 5.0, 2.3) == pytest.approx(fd, rel=1e-8)


def test_known_values():
    pl2 = MODELS["pl2"]
    assert pl2.integral(0.1 * u.TeV, 100 * u.TeV).to_value("cm-2 s-1") == pytest.approx(2e-11)
    gauss = MODELS["gauss"]
    total = gauss.integral(1e-6 * u.TeV, 1e3 * u.TeV).to_value("cm-2 s-1")
    assert total == pytest.approx(1e-12, rel=1e-12)
    lp = LogParabolaSpectralModel.from_log10(
        amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV", alpha=2, beta=0.5
    )
    e = 10 * u.TeV
    expected = 1e-12 * 10 ** (-2 - 0.5 * np.log10(10))
    assert lp(e).to_value("cm-2 s-1 TeV-1") == pytest.approx(expected, rel=1e-12)
    ecpl = ExpCutoffPowerLawSpectralModel(index=2, lambda_="0.1 TeV-1")
    assert ecpl(10 * u.TeV).to_value("cm-2 s-1 TeV-1") == pytest.approx(1e-14 * np.exp(-1))
    dr3 = SuperExpCutoffPowerLaw4FGLDR3SpectralModel(expfactor=0.3, index_2=1e-6)
    e = 3 * u.TeV
    lnx = np.log(3)
    series = -1.5 - 0.3 / 2 * lnx - 0.3 * 1e-6 / 6 * lnx**2
    assert dr3(e).value == pytest.approx(1e-12 * np.exp(series * lnx), rel=1e-10)
    # the series branch (|b ln x| < 1e-2) agrees with the closed form near the switch
    dr3b = SuperExpCutoffPowerLaw4FGLDR3SpectralModel(expfactor=0.3, index_2=0.5)
    lnx = np.array([0.0199, 0.0201, -0.0199]) / 0.5
    closed = np.exp((0.3 / 0.5 - 1.5) * lnx + 0.3 / 0.25 * (1 - np.exp(0.5 * lnx)))
    np.testing.assert_allclose(dr3b(np.exp(lnx) * u.TeV).value, 1e-12 * closed, rtol=1e-9)
    fgl = SuperExpCutoffPowerLaw4FGLSpectralModel(expfactor=0.01, index_2=2)
    assert fgl(2 * u.TeV).value == pytest.approx(1e-12 * 2**-1.5 * np.exp(0.01 * (1 - 4)))


def test_template_reproduces_power_law_exactly():
    pl = PowerLawSpectralModel(index=2.7)
    energy = np.geomspace(0.1, 100, 7) * u.TeV
    template = TemplateSpectralModel(energy, pl(energy))
    e = np.array([0.05, 0.3, 7.0, 300.0]) * u.TeV  # extrapolation both sides
    np.testing.assert_allclose(template(e).value, pl(e).value, rtol=1e-12)
    np.testing.assert_allclose(
        template.integral(EMIN, EMAX).value, pl.integral(EMIN, EMAX).value, rtol=1e-12
    )
    no_extra = TemplateSpectralModel(energy, pl(energy), interp_kwargs={"extrapolate": False})
    assert no_extra(300 * u.TeV).value == 0
    np.testing.assert_allclose(
        no_extra.integral(0.01 * u.TeV, 200 * u.TeV).value,
        pl.integral(0.1 * u.TeV, 100 * u.TeV).value,
        rtol=1e-12,
    )


def test_template_steep_spectrum_precision():
    pl = PowerLawSpectralModel(index=4.5)
    energy = np.geomspace(0.01, 1000, 50) * u.TeV
    template = TemplateSpectralModel(energy, pl(energy))
    val = template.integral(500 * u.TeV, 600 * u.TeV).value
    assert val == pytest.approx(pl.integral(500 * u.TeV, 600 * u.TeV).value, rel=1e-10)


def test_piecewise_norm_values():
    model = PiecewiseNormSpectralModel([1, 10] * u.TeV, [1, 10])
    assert model(np.sqrt(10) * u.TeV).value == pytest.approx(np.sqrt(10))
    flat = PiecewiseNormSpectralModel([1, 3, 10] * u.TeV, [2, 2, 2])
    assert flat.integral(0.5 * u.TeV, 20 * u.TeV).to_value("TeV") == pytest.approx(39.0)
    lin = PiecewiseNormSpectralModel([1, 10] * u.TeV, [1, 3], interp="lin")
    assert lin(np.sqrt(10) * u.TeV).value == pytest.approx(2.0)
    assert flat.norm_1 is flat.parameters["norm_1"]


def test_compound_and_scale_values():
    pl = MODELS["pl"]
    ecpl = ExpCutoffPowerLawSpectralModel()
    added = pl + ecpl
    e = [1, 3] * u.TeV
    np.testing.assert_allclose(added(e).value, (pl(e) + ecpl(e)).value)
    assert len(added.parameters) == 8
    assert added.parameters[0] is pl.index
    scaled = ScaleSpectralModel(pl, norm=3)
    np.testing.assert_allclose(scaled(e).value, 3 * pl(e).value)
    with pytest.raises(TypeError):
        _ = pl + 2.0
    with pytest.raises(ValueError, match="operator"):
        CompoundSpectralModel(pl, ecpl, "pow")


# ----------------------------------------------------------------------------- gradients
GRADIENT_MODELS = [
    "pl", "pl-index1", "pl2", "ecpl", "ecpl-alpha", "lp", "const", "pl-norm", "ecpl-norm",
    "lp-norm", "bpl", "gauss", "sbpl", "compound-add", "compound-mul", "compound-div", "scale",
    "piecewise", "piecewise-lin",
]


def _fd_gradient(model, func):
    out = []
    for par in model.free_parameters_unique:
        value = par.value
        step = 1e-5 * (abs(value) if value != 0 else 1.0)
        par.value = value + step
        plus = func()
        par.value = value - step
        minus = func()
        par.value = value
        out.append((plus - minus) / (2 * step))
    return out


@pytest.mark.parametrize("name", GRADIENT_MODELS)
def test_gradients_vs_finite_differences(name):
    model = _models()[name]
    for par in model.parameters:  # free everything that is not a reference energy
        if par.name not in ("reference", "emin", "emax"):
            par.frozen = False
    energy = np.array([0.3, 0.9, 2.0, 4.5, 30.0]) * u.TeV
    analytic = model.evaluate_gradient(energy)
    numeric = _fd_gradient(model, lambda: model(energy).value)
    assert len(analytic) == len(numeric) == len(model.free_parameters_unique)
    for par, a, n in zip(model.free_parameters_unique, analytic, numeric, strict=True):
        unit = model(energy).unit / par.unit
        np.testing.assert_allclose(a.to_value(unit), n, rtol=2e-6, atol=1e-9 * np.max(np.abs(n)))
    analytic = model.integral_gradient(EMIN, EMAX)
    numeric = _fd_gradient(model, lambda: model.integral(EMIN, EMAX).value)
    for par, a, n in zip(model.free_parameters_unique, analytic, numeric, strict=True):
        unit = model.integral(EMIN, EMAX).unit / par.unit
        np.testing.assert_allclose(a.to_value(unit), n, rtol=2e-6, atol=1e-9 * np.max(np.abs(n)))


def test_gradient_linked_parameter_is_summed():
    pl1 = PowerLawSpectralModel(index=2.0)
    pl2 = PowerLawSpectralModel(index=pl1.index, amplitude="2e-12 cm-2 s-1 TeV-1")
    model = pl1 + pl2
    assert len(model.free_parameters_unique) == 3  # index, amplitude, amplitude
    energy = [0.5, 3.0] * u.TeV
    grad = model.evaluate_gradient(energy)[0].value
    expected = -np.log(energy.value) * model(energy).value
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


def test_integrate_log_space_gradient_list():
    res = integrate_log_space(
        lambda e: [e**0 * u.Unit("TeV-1"), e * u.Unit("TeV-1")], 1 * u.TeV, 4 * u.TeV
    )
    assert res[0].to_value("") == pytest.approx(3.0)
    assert res[1].to_value("TeV") == pytest.approx(7.5)
    with pytest.raises(ValueError, match="> 0"):
        integrate_log_space(lambda e: e, 0 * u.TeV, 1 * u.TeV)


# ----------------------------------------------------------------------------- errors
def test_error_propagation_power_law():
    model = PowerLawSpectralModel(index=2.5, amplitude="2e-12 cm-2 s-1 TeV-1")
    cov = np.array([[0.01, 2e-15, 0], [2e-15, 1e-26, 0], [0, 0, 0]])
    model.covariance = cov
    value, err = model.evaluate_error(1 * u.TeV)
    assert value.value == pytest.approx(2e-12)
    assert err.value == pytest.approx(1e-13)  # at the reference only amplitude matters
    e = 4.0
    f = 2e-12 * e**-2.5
    jac = np.array([-np.log(e) * f, e**-2.5])
    expected = np.sqrt(jac @ cov[:2, :2] @ jac)
    assert model.evaluate_error(e * u.TeV)[1].value == pytest.approx(expected, rel=1e-10)
    # integral error by explicit Jacobian
    x1, x2 = 1.0, 10.0
    integral = 2e-12 * pl_integral(x1, x2, 2.5)
    jac = np.array([2e-12 * pl_integral_dindex(x1, x2, 2.5), integral / 2e-12])
    val, err = model.integral_error(1 * u.TeV, 10 * u.TeV)
    assert val.value == pytest.approx(integral)
    assert err.value == pytest.approx(np.sqrt(jac @ cov[:2, :2] @ jac), rel=1e-10)
    val, err = model.energy_flux_error(1 * u.TeV, 10 * u.TeV)
    assert err.value > 0 and err.unit.is_equivalent("erg cm-2 s-1")
    # pivot (decorrelation) energy: E0 exp(cov_ia / (A var_i)) for a power law
    expected_pivot = np.exp(2e-15 / (2e-12 * 0.01))
    assert model.pivot_energy.to_value("TeV") == pytest.approx(expected_pivot, rel=1e-5)


def test_spectral_index_and_inverse():
    pl = PowerLawSpectralModel(index=2.4)
    assert pl.spectral_index(3 * u.TeV) == pytest.approx(2.4, rel=1e-6)
    lp = LogParabolaSpectralModel(alpha=2.0, beta=0.3, reference="1 TeV")
    assert lp.spectral_index(5 * u.TeV) == pytest.approx(2 + 2 * 0.3 * np.log(5), rel=1e-4)
    value = pl(7 * u.TeV)
    assert pl.inverse(value).to_value("TeV") == pytest.approx(7.0)
    ecpl = ExpCutoffPowerLawSpectralModel()
    values = ecpl([0.5, 2.0, 20.0] * u.TeV)
    np.testing.assert_allclose(ecpl.inverse(values).to_value("TeV"), [0.5, 2, 20], rtol=1e-9)
    assert np.isnan(ecpl.inverse(1 * u.Unit("cm-2 s-1 TeV-1")).value)
    gauss = GaussianSpectralModel(mean="3 TeV", sigma="1 TeV")
    roots = gauss.inverse_all(gauss(2 * u.TeV), 0.1 * u.TeV, 100 * u.TeV)[0]
    np.testing.assert_allclose(roots.to_value("TeV"), [2, 4], rtol=1e-8)
    index, err = pl.spectral_index_error(3 * u.TeV)
    assert index == pytest.approx(2.4, rel=1e-6) and err == 0


def test_reference_fluxes():
    pl = PowerLawSpectralModel()
    edges = [1, 2, 4] * u.TeV
    ref = pl.reference_fluxes(edges)
    np.testing.assert_allclose(ref["e_ref"].value, [np.sqrt(2), np.sqrt(8)])
    np.testing.assert_allclose(ref["ref_flux"].to_value("cm-2 s-1"), [0.5e-12, 0.25e-12])
    np.testing.assert_allclose(ref["ref_e2dnde"].to_value("TeV cm-2 s-1"), [1e-12, 1e-12])
    np.testing.assert_allclose(
        ref["ref_eflux"].to_value("TeV cm-2 s-1"), [1e-12 * np.log(2)] * 2, rtol=1e-12
    )
    from gammapipe.maps import MapAxis

    axis = MapAxis.from_energy_bounds(1, 4, 2, unit="TeV")
    from_axis = pl.reference_fluxes(axis)
    for key, value in ref.items():
        np.testing.assert_allclose(from_axis[key].value, value.value, rtol=1e-12)


# ----------------------------------------------------------------------------- I/O
@pytest.mark.parametrize("name", list(MODELS))
def test_dict_round_trip(name):
    model = _models()[name]
    for par in model.parameters:
        par.error = 0.1 * abs(par.value)
    data = model.to_dict()
    assert list(data) == ["spectral"]
    new = SpectralModel.from_dict(data)
    assert type(new) is type(model)
    assert new.to_dict() == data
    full = type(model).from_dict(model.to_dict(full_output=True))
    energy = [0.3, 2, 40] * u.TeV
    np.testing.assert_allclose(new(energy).value, model(energy).value, rtol=1e-14)
    np.testing.assert_allclose(full(energy).value, model(energy).value, rtol=1e-14)
    np.testing.assert_allclose(new.parameters.errors, model.parameters.errors)


def test_power_law_dict_matches_reference_layout():
    model = PowerLawSpectralModel(index=2.6023640817133638, amplitude=4.59208206716576e-11)
    model.index.error = 0.10052790654484993
    model.amplitude.error = 3.70558655086063e-12
    assert model.to_dict() == {
        "spectral": {
            "type": "PowerLawSpectralModel",
            "parameters": [
                {"name": "index", "value": 2.6023640817133638, "error": 0.10052790654484993},
                {
                    "name": "amplitude",
                    "value": 4.59208206716576e-11,
                    "unit": "TeV-1 s-1 cm-2",
                    "error": 3.70558655086063e-12,
                },
                {"name": "reference", "value": 1.0, "unit": "TeV"},
            ],
        }
    }
    norm = PowerLawNormSpectralModel(norm=0.9351303975231281)
    norm.norm.error = 0.021921480361757197
    assert norm.to_dict()["spectral"]["parameters"] == [
        {"name": "tilt", "value": 0.0},
        {"name": "norm", "value": 0.9351303975231281, "error": 0.021921480361757197},
        {"name": "reference", "value": 1.0, "unit": "TeV"},
    ]


def test_registry_short_tags():
    assert core.get_model_class("pl", "spectral") is PowerLawSpectralModel
    assert core.get_model_class("pl-norm") is PowerLawNormSpectralModel
    assert core.get_model_class("ecpl", "spectral") is ExpCutoffPowerLawSpectralModel
    model = SpectralModel.from_dict({"type": "pl", "parameters": [{"name": "index", "value": 3}]})
    assert isinstance(model, PowerLawSpectralModel) and model.index.value == 3
    with pytest.raises(KeyError, match="known tags"):
        SpectralModel.from_dict({"type": "NoSuchSpectralModel", "parameters": []})


def test_template_from_table_and_xspec(tmp_path):
    table = Table({"ENERGY": NODES, "DNDE": PowerLawSpectralModel()(NODES)})
    model = TemplateSpectralModel.from_table(table)
    assert model(3 * u.TeV).value == pytest.approx(1e-12 / 9, rel=1e-12)
    # synthetic XSPEC additive table model: two parameter values, 3 energy bins
    e_lo = np.array([1.0, 2.0, 4.0])
    e_hi = np.array([2.0, 4.0, 8.0])
    spectra = np.array([[1.0, 2.0, 4.0], [3.0, 6.0, 12.0]])
    hdus = [
        fits.PrimaryHDU(),
        fits.BinTableHDU(
            Table({"NAME": ["z"], "NUMBVALS": [2], "VALUE": [[0.0, 1.0]]}), name="PARAMETERS"
        ),
        fits.BinTableHDU(
            Table({"ENERG_LO": e_lo * u.TeV, "ENERG_HI": e_hi * u.TeV}), name="ENERGIES"
        ),
        fits.BinTableHDU(
            Table({"PARAMVAL": [0.0, 1.0], "INTPSPEC": spectra}), name="SPECTRA"
        ),
    ]
    path = tmp_path / "table.fits"
    fits.HDUList(hdus).writeto(path)
    model = TemplateSpectralModel.read_xspec_model(path, param=0.5)
    np.testing.assert_allclose(model.energy.to_value("TeV"), np.sqrt(e_lo * e_hi))
    np.testing.assert_allclose(model.values.to_value("cm-2 s-1 TeV-1"), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="outside"):
        TemplateSpectralModel.read_xspec_model(path, param=3)


# ----------------------------------------------------------------------------- plots
def test_plot_and_plot_error(tmp_path):
    import matplotlib.pyplot as plt

    model = PowerLawSpectralModel(index=2.5)
    model.covariance = np.diag([0.01, 1e-26, 0])
    fig, axes = plt.subplots(1, 3)
    ax = model.plot([0.1, 100] * u.TeV, ax=axes[0], sed_type="e2dnde", n_points=20)
    line = ax.lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert len(x) == 20
    expected = (model(x * u.TeV) * (x * u.TeV) ** 2).to_value("erg cm-2 s-1")
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    model.plot_error((0.1 * u.TeV, 100 * u.TeV), ax=axes[0], sed_type="e2dnde")
    assert len(axes[0].collections) == 1
    model.plot([1, 10] * u.TeV, ax=axes[1], sed_type="flux", energy_power=1)
    PowerLawNormSpectralModel(tilt=0.2).plot([1, 10] * u.TeV, ax=axes[2])
    assert "norm" in axes[2].get_ylabel()
    with pytest.raises(ValueError, match="sed_type"):
        model.plot([1, 10] * u.TeV, ax=axes[1], sed_type="bad")
    fig.savefig(tmp_path / "spec.png")
    plt.close(fig)
    assert (tmp_path / "spec.png").stat().st_size > 0


def test_ebl_absorption_interpolation_and_read(tmp_path):
    model = EBLAbsorptionNormSpectralModel(EBL_ENERGY, EBL_Z, EBL_DATA, redshift=0.2)
    e = EBL_ENERGY[10]
    expected = 0.5 * (EBL_DATA[1, 10] + EBL_DATA[2, 10])  # linear in redshift
    assert model(e).value == pytest.approx(expected, rel=1e-12)
    model.alpha_norm.value = 2
    assert model(e).value == pytest.approx(expected**2, rel=1e-12)
    # XSPEC multiplicative table (energies in keV)
    e_kev = EBL_ENERGY.to_value("keV")
    edges = np.sqrt(e_kev[1:] * e_kev[:-1])
    e_lo, e_hi = edges[:-1], edges[1:]
    center = np.sqrt(e_lo * e_hi)
    values = np.exp(-np.outer(EBL_Z, 2.0 * (center / 1e9) ** 0.6))
    hdus = [
        fits.PrimaryHDU(),
        fits.BinTableHDU(Table({"ENERG_LO": e_lo, "ENERG_HI": e_hi}), name="ENERGIES"),
        fits.BinTableHDU(Table({"PARAMVAL": EBL_Z, "INTPSPEC": values}), name="SPECTRA"),
    ]
    path = tmp_path / "ebl.fits.gz"
    fits.HDUList(hdus).writeto(path)
    read = EBLAbsorptionNormSpectralModel.read(path, redshift=0.1)
    assert read.energy.unit == u.keV
    np.testing.assert_allclose(read(center[5] * u.keV).value, values[1, 5], rtol=1e-12)
    assert read.redshift.frozen and read.redshift.value == 0.1
    with pytest.raises(ValueError, match="Unknown EBL"):
        EBLAbsorptionNormSpectralModel.read_builtin("nope")
