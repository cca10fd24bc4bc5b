"""Tests of Parameter, Parameters, Covariance and the ModelBase machinery."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammapipe.modeling.covariance import Covariance
from gammapipe.modeling.models.core import (
    MODEL_REGISTRY,
    ModelBase,
    get_model_class,
    set_parameter_input,
)
from gammapipe.modeling.parameter import Parameter, Parameters
from gammapipe.utils.errors import UnitError


class _DemoSpectral(ModelBase):
    tag = ("DemoTestSpectralModel", "demo-test")
    type = "spectral"
    index = Parameter("index", 2.0)
    amplitude = Parameter("amplitude", "1e-12 cm-2 s-1 TeV-1", is_norm=True)
    reference = Parameter("reference", "1 TeV", frozen=True)


class _DemoChild(_DemoSpectral):
    tag = ("DemoTestChildModel",)
    beta = Parameter("beta", 0.5, min=0, max=10)


# ----------------------------------------------------------------------------- Parameter
def test_parameter_basic_and_quantity():
    par = Parameter("amplitude", 3.0e-12, unit="cm-2 s-1 TeV-1")
    assert par.value == 3.0e-12
    assert par.unit == u.Unit("cm-2 s-1 TeV-1")
    assert par.quantity.unit == u.Unit("cm-2 s-1 TeV-1")
    par.quantity = 2e-8 * u.Unit("m-2 s-1 TeV-1")
    assert par.unit == u.Unit("m-2 s-1 TeV-1")
    assert par.value == pytest.approx(2e-8)
    with pytest.raises(UnitError, match="amplitude"):
        par.quantity = 1 * u.deg


def test_parameter_from_string_quantity():
    par = Parameter("reference", "3 TeV")
    assert par.value == 3.0
    assert par.unit == u.TeV


def test_parameter_quantity_converts_bounds_and_error():
    par = Parameter("lat_0", 10, unit="deg", min=-90, max=90, error=0.5)
    par.quantity = 0.1 * u.rad
    assert par.unit == u.rad
    assert par.min == pytest.approx(-np.pi / 2)
    assert par.max == pytest.approx(np.pi / 2)
    assert par.error == pytest.approx(np.deg2rad(0.5))


def test_parameter_bounds_checked_on_set():
    par = Parameter("index", 2.0, min=1, max=5)
    par.value = 4.9
    with pytest.raises(ValueError, match=r"'index'.*outside.*min=1.0, max=5.0"):
        par.value = 6.0
    assert par.value == 4.9  # unchanged after the failed set
    with pytest.raises(ValueError, match="outside"):
        Parameter("norm", -1, min=0)
    # changing the bounds does not raise, check_limits does
    par.max = 3
    with pytest.raises(ValueError, match="index"):
        par.check_limits()
    # the optimiser path is not checked
    par.factor = 100
    assert par.value == 100


def test_parameter_autoscale_methods():
    par = Parameter("amplitude", 4.7e-11)
    par.autoscale()
    assert par.scale == pytest.approx(1e-11)
    assert par.factor == pytest.approx(4.7)
    assert par.value == pytest.approx(4.7e-11, rel=1e-15)
    par = Parameter("x", -0.03, scale_method="factor1")
    par.autoscale()
    assert par.scale == -0.03 and par.factor == 1
    par = Parameter("x", 0.0)
    par.autoscale()
    assert par.scale == 1 and par.value == 0
    par = Parameter("x", 250.0, scale_method=None)
    par.autoscale()
    assert par.scale == 1


def test_parameter_factor_bounds_negative_scale():
    par = Parameter("x", -5.0, min=-10, max=-1, scale_method="factor1")
    par.autoscale()
    assert par.factor_min == pytest.approx(0.2)
    assert par.factor_max == pytest.approx(2.0)


def test_parameter_scale_setter_keeps_value():
    par = Parameter("x", 123.0)
    par.scale = 100
    assert par.factor == pytest.approx(1.23)
    assert par.value == pytest.approx(123.0)
    with pytest.raises(ValueError, match="scale"):
        par.scale = 0


def test_parameter_invalid_inputs():
    with pytest.raises(ValueError, match="error"):
        Parameter("x", 1, error=-1)
    with pytest.raises(ValueError, match="interp"):
        Parameter("x", 1, interp="cubic")
    with pytest.raises(ValueError, match="scale_method"):
        Parameter("x", 1, scale_method="bad")
    with pytest.raises(ValueError, match="frozen"):
        Parameter("x", 1, frozen="maybe")
    with pytest.raises(UnitError, match="'x'"):
        Parameter("x", 1, unit="not_a_unit")
    with pytest.raises(TypeError, match="quantity"):
        Parameter("x", 1, unit="TeV").value = 2 * u.TeV


def test_parameter_scan_values():
    par = Parameter("index", 2.0, error=0.1)
    np.testing.assert_allclose(par.scan_values, np.linspace(1.8, 2.2, 11))
    par = Parameter("norm", 1.0, error=0.5, min=0.8, interp="log", scan_n_values=3)
    np.testing.assert_allclose(par.scan_values, [0.8, np.sqrt(0.8 * 2.0), 2.0])
    par.scan_values = [1, 2, 3]
    np.testing.assert_allclose(par.scan_values, [1, 2, 3])


def test_parameter_dict_round_trip():
    par = Parameter("lat_0", 22.0, unit="deg", min=-90, max=90, error=0.01, frozen=True)
    data = par.to_dict()
    assert data == {
        "name": "lat_0",
        "value": 22.0,
        "unit": "deg",
        "error": 0.01,
        "min": -90.0,
        "max": 90.0,
        "frozen": True,
        "interp": "lin",
        "scale_method": "scale10",
        "is_norm": False,
    }
    new = Parameter.from_dict(data)
    assert new.to_dict() == data
    with pytest.raises(ValueError, match="unknown key"):
        Parameter.from_dict({**data, "colour": "red"})


def test_parameter_prior_stat():
    par = Parameter("index", 2.5, prior=lambda x: ((x - 2.0) / 0.5) ** 2)
    assert par.prior_stat() == pytest.approx(1.0)
    assert Parameters([par, par, Parameter("a", 1)]).prior_stat_sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- Parameters
@pytest.fixture
def pars():
    return Parameters(
        [
            Parameter("index", 2.0, error=0.1),
            Parameter("amplitude", 1e-12, unit="cm-2 s-1 TeV-1", error=1e-13),
            Parameter("reference", 1, unit="TeV", frozen=True),
        ]
    )


def test_parameters_indexing(pars):
    assert pars.names == ["index", "amplitude", "reference"]
    assert pars["amplitude"] is pars[1]
    assert pars[-1].name == "reference"
    assert pars[["index", "reference"]].names == ["index", "reference"]
    assert pars[[True, False, True]].names == ["index", "reference"]
    assert pars[1:].names == ["amplitude", "reference"]
    with pytest.raises(KeyError, match="available"):
        pars["nope"]
    assert "index" in pars and pars[0] in pars
    assert pars.index(pars[2]) == 2


def test_parameters_values_and_free(pars):
    np.testing.assert_allclose(pars.values, [2.0, 1e-12, 1.0])
    pars.values = [3.0, 2e-12, 1.0]
    assert pars["index"].value == 3.0
    assert pars.free_parameters.names == ["index", "amplitude"]
    np.testing.assert_allclose(pars.errors, [0.1, 1e-13, 0])
    assert np.all(np.isnan(pars.min))
    with pytest.raises(ValueError, match="2 values for 3"):
        pars.values = [1.0, 2.0]


def test_parameters_unique_and_add(pars):
    shared = pars[0]
    other = Parameters([shared, Parameter("beta", 0.2)])
    combined = pars + other
    assert len(combined) == 5
    assert combined.unique_parameters.names == ["index", "amplitude", "reference", "beta"]


def test_parameters_select_freeze(pars):
    for p in pars:
        p.type = "spectral"
    pars[1].type = "spatial"
    assert pars.select(type="spectral").names == ["index", "reference"]
    assert pars.select(frozen=True).names == ["reference"]
    assert pars.select(name=["index", "amplitude"], frozen=False).names == ["index", "amplitude"]
    pars.freeze_all()
    assert len(pars.free_parameters) == 0
    pars.unfreeze_all()
    assert len(pars.free_parameters) == 3


def test_parameters_restore_status(pars):
    with pars.restore_status():
        pars["index"].value = 5
        pars["index"].frozen = True
    assert pars["index"].value == 2.0 and not pars["index"].frozen
    with pars.restore_status(restore_values=False):
        pars["index"].value = 5
        pars["index"].frozen = True
    assert pars["index"].value == 5 and not pars["index"].frozen


def test_parameters_factors_and_limits(pars):
    pars.autoscale()
    np.testing.assert_allclose(pars.factors, [2.0, 1.0, 1.0])
    np.testing.assert_allclose(pars.scales, [1.0, 1e-12, 1.0])
    pars.free_parameters.set_parameter_factors([4.0, 3.0])
    assert pars["amplitude"].value == pytest.approx(3e-12)
    pars["index"].min = 0
    pars["index"].max = 3
    with pytest.raises(ValueError, match="'index'.*outside"):
        pars.check_limits()


def test_parameters_table_and_dict(pars):
    table = pars.to_table()
    assert table.colnames == [
        "type", "name", "value", "unit", "error", "min", "max", "frozen", "is_norm", "link"
    ]
    assert table["unit"][1] == "1 / (TeV s cm2)"
    assert list(table["frozen"]) == [False, False, True]
    new = Parameters.from_dict(pars.to_dict())
    np.testing.assert_allclose(new.values, pars.values)
    assert new["reference"].frozen
    assert len(Parameters([]).to_table()) == 0


# ----------------------------------------------------------------------------- Covariance
def test_covariance_factor_matrix_and_subcovariance(pars):
    pars.autoscale()
    factor_cov = np.array([[0.01, 0.02], [0.02, 0.09]])
    cov = Covariance.from_factor_matrix(pars, factor_cov)
    expected = np.array([[0.01, 0.02e-12, 0], [0.02e-12, 0.09e-24, 0], [0, 0, 0]])
    np.testing.assert_allclose(cov.data, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(cov.correlation[0, 1], 0.02 / np.sqrt(0.01 * 0.09))
    assert cov.correlation[2, 2] == 0
    sub = cov.get_subcovariance(pars[["amplitude", "index"]])
    np.testing.assert_allclose(sub, [[0.09e-24, 0.02e-12], [0.02e-12, 0.01]])
    cov.set_subcovariance(Covariance(pars[["index"]], [[4.0]]))
    assert cov.data[0, 0] == 4.0
    with pytest.raises(ValueError, match="shape"):
        Covariance(pars, np.eye(2))


def test_covariance_from_stack():
    a = Covariance(Parameters([Parameter("a", 1, error=2)]))
    b = Covariance(Parameters([Parameter("b", 1), Parameter("c", 1)]), [[1, 0.5], [0.5, 1]])
    stacked = Covariance.from_stack([a, b])
    np.testing.assert_allclose(stacked.data, [[4, 0, 0], [0, 1, 0.5], [0, 0.5, 1]])


def test_covariance_plot_correlation(pars, tmp_path):
    import matplotlib.pyplot as plt

    cov = Covariance(pars, np.diag([0.01, 1e-26, 0]))
    ax = cov.plot_correlation()
    assert len(ax.get_xticklabels()) == 2
    ax.figure.savefig(tmp_path / "corr.png")
    plt.close("all")
    assert (tmp_path / "corr.png").stat().st_size > 0


# ----------------------------------------------------------------------------- ModelBase
def test_model_parameters_are_per_instance_and_attribute_access():
    m1 = _DemoSpectral()
    m2 = _DemoSpectral(index=3, amplitude="2e-12 cm-2 s-1 TeV-1")
    assert m1.index is m1.parameters["index"]
    assert m1.index is not m2.index
    assert m1.index.value == 2.0 and m2.index.value == 3.0
    assert m2.amplitude.value == 2e-12
    assert m1.index.type == "spectral"
    assert _DemoSpectral.default_parameters["index"].value == 2.0  # defaults untouched
    m3 = _DemoSpectral(reference=1000 * u.GeV)
    assert m3.reference.unit == u.GeV and m3.reference.value == 1000
    with pytest.raises(UnitError, match="reference"):
        _DemoSpectral(reference=1 * u.deg)
    with pytest.raises(TypeError, match="unexpected"):
        _DemoSpectral(colour=1)


def test_model_inheritance_of_parameters():
    assert _DemoChild.default_parameters.names == ["index", "amplitude", "reference", "beta"]
    child = _DemoChild(beta=2)
    assert child.beta.value == 2
    with pytest.raises(ValueError, match="beta"):
        _DemoChild(beta=20)


def test_model_linking():
    m1 = _DemoSpectral()
    m2 = _DemoSpectral(index=m1.index)
    assert m2.index is m1.index
    m3 = _DemoSpectral()
    m3.index = m1.index
    assert m3.parameters["index"] is m1.index
    m1.index.value = 2.7
    assert m3.index.value == 2.7
    m3.amplitude = 5e-12
    assert m3.amplitude.value == 5e-12
    m3.reference = "2 TeV"
    assert m3.reference.quantity == 2 * u.TeV


def test_model_registry():
    assert MODEL_REGISTRY["spectral"]["demo-test"] is _DemoSpectral
    assert get_model_class("DemoTestChildModel") is _DemoChild
    with pytest.raises(KeyError, match="known tags"):
        get_model_class("NoSuchModel", "spectral")


def test_model_to_dict_layout_and_round_trip():
    model = _DemoSpectral(index=2.6023640817133638, amplitude=4.59208206716576e-11)
    model.index.error = 0.10052790654484993
    model.amplitude.error = 3.70558655086063e-12
    data = model.to_dict()
    assert data == {
        "spectral": {
            "type": "DemoTestSpectralModel",
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
    full = model.to_dict(full_output=True)["spectral"]["parameters"][0]
    assert set(full) >= {"min", "max", "frozen", "interp", "scale_method", "is_norm"}
    new = _DemoSpectral.from_dict(data)
    assert new.to_dict() == data
    # dispatch through the registry from the base class, unwrapped layout
    other = ModelBase.from_dict(data["spectral"])
    assert isinstance(other, _DemoSpectral)
    assert other.amplitude.error == 3.70558655086063e-12
    with pytest.raises(ValueError, match="unknown parameter"):
        _DemoSpectral.from_dict({"type": "demo-test", "parameters": [{"name": "x", "value": 1}]})
    with pytest.raises(ValueError, match="not one of"):
        _DemoSpectral.from_dict({"type": "DemoTestChildModel", "parameters": []})


def test_model_from_dict_frozen_and_bounds():
    data = {
        "type": "DemoTestSpectralModel",
        "parameters": [{"name": "index", "value": 2, "frozen": True, "min": 1, "max": 3}],
    }
    model = _DemoSpectral.from_dict(data)
    assert model.index.frozen and model.index.min == 1 and model.index.max == 3
    out = model.to_dict()["spectral"]["parameters"][0]
    assert out == {"name": "index", "value": 2.0, "min": 1.0, "max": 3.0, "frozen": True}


def test_model_covariance_syncs_with_errors():
    model = _DemoSpectral()
    model.index.error = 0.2
    np.testing.assert_allclose(np.diag(model.covariance.data), [0.04, 0, 0])
    cov = np.array([[0.09, 1e-14, 0], [1e-14, 4e-26, 0], [0, 0, 0]])
    model.covariance = cov
    assert model.index.error == pytest.approx(0.3)
    assert model.amplitude.error == pytest.approx(2e-13)
    model.index.error = 0.5
    assert model.covariance.data[0, 0] == pytest.approx(0.25)
    assert model.covariance.data[0, 1] == 1e-14


def test_model_freeze_unfreeze_copy_str():
    model = _DemoSpectral()
    model.freeze()
    assert model.frozen
    model.unfreeze()
    assert [p.frozen for p in model.parameters] == [False, False, True]
    new = model.copy()
    assert new.index is not model.index and new.parameters["index"] is new.index
    new.index.value = 4
    assert model.index.value == 2
    text = str(model)
    assert text.startswith("_DemoSpectral") and "amplitude" in text and "1.0000e-12" in text


def test_set_parameter_input_errors():
    par = Parameter("x", 1.0, unit="TeV")
    set_parameter_input(par, "2000 GeV")
    assert par.quantity.to_value("TeV") == pytest.approx(2)
    with pytest.raises(ValueError, match="'x'"):
        set_parameter_input(par, [1, 2])
    with pytest.raises(ValueError, match="cannot parse"):
        set_parameter_input(par, "two TeV")
