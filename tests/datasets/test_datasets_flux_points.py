"""Tests of `FluxPointsDataset` (chi2 / profile / distrib statistics, fits, I/O, plots).

Real-data tests use the reference products of the low-level Crab workflow built from
HESS DL3 DR1, H.E.S.S. collaboration (flux points in ``lowlevel_crab3d.json``, the stacked
dataset ``lowlevel_crab3d-stacked.fits.gz`` and ``lowlevel_crab3d-models.yaml``), and the
stacked 1D OGIP dataset of ``datasets_stack_vs_joint``.
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from numpy.testing import assert_allclose
from scipy.stats import norm as normal

from gammapipe.datasets import Datasets, FluxPointsDataset
from gammapipe.estimators import FluxPoints
from gammapipe.modeling import Fit
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel

DNDE = u.Unit("cm-2 s-1 TeV-1")


def _pl(index=2.3, amplitude=1e-11, name="src"):
    spec = PowerLawSpectralModel(index=index, amplitude=amplitude * DNDE, reference="1 TeV")
    return SkyModel(spectral_model=spec, name=name)


def _table(e_edges, dnde, **cols):
    e_edges = np.asarray(e_edges, float)
    t = Table()
    t["e_min"] = e_edges[:-1] * u.TeV
    t["e_max"] = e_edges[1:] * u.TeV
    t["e_ref"] = np.sqrt(e_edges[:-1] * e_edges[1:]) * u.TeV
    t["dnde"] = np.asarray(dnde) * DNDE
    for name, values in cols.items():
        t[name] = np.asarray(values) * DNDE if name.startswith("dnde") else np.asarray(values)
    t.meta["SED_TYPE"] = "dnde"
    return t


def _simulated_points(rng, index=2.3, amplitude=1e-11, rel_err=0.1, n=10):
    edges = np.geomspace(0.5, 50, n + 1)
    e_ref = np.sqrt(edges[:-1] * edges[1:])
    truth = amplitude * e_ref ** -index
    sigma = rel_err * truth
    dnde = truth + sigma * rng.standard_normal(n)
    return FluxPoints.from_table(_table(edges, dnde, dnde_err=sigma)), truth, sigma


# ------------------------------------------------------------------ analytic truth
def test_stat_sum_equals_hand_chi2():
    rng = np.random.default_rng(1)
    fp, truth, sigma = _simulated_points(rng)
    model = _pl(index=2.2, amplitude=1.1e-11)
    ds = FluxPointsDataset(models=model, data=fp, name="fp")
    e_ref = fp.energy_ref.to_value("TeV")
    pred = 1.1e-11 * e_ref ** -2.2
    assert_allclose(ds.flux_pred().to_value(DNDE).ravel(), pred, rtol=1e-12)
    dnde = fp.dnde.quantity.to_value(DNDE).ravel()
    expected = np.sum(((dnde - pred) / sigma) ** 2)
    assert_allclose(ds.stat_sum(), expected, rtol=1e-10)
    assert_allclose(ds.stat_array().ravel(), ((dnde - pred) / sigma) ** 2, rtol=1e-10)
    assert_allclose(ds.residuals().to_value(DNDE).ravel(), dnde - pred, rtol=1e-10)
    assert_allclose(ds.residuals("diff/model").value.ravel(), (dnde - pred) / pred, rtol=1e-10)


def test_chi2_fit_pulls():
    """50 seeded draws of 10 Gaussian points around a power law: pulls ~ N(0, 1)."""
    rng = np.random.default_rng(42)
    pulls_index, pulls_amp = [], []
    for _ in range(50):
        fp, _, _ = _simulated_points(rng)
        model = _pl(index=2.0, amplitude=2e-11)
        ds = FluxPointsDataset(models=model, data=fp)
        result = Fit().run(ds)
        assert result.success
        spec = model.spectral_model
        pulls_index.append((spec.index.value - 2.3) / spec.index.error)
        pulls_amp.append((spec.amplitude.value - 1e-11) / spec.amplitude.error)
    for pulls in (np.array(pulls_index), np.array(pulls_amp)):
        assert abs(pulls.mean()) < 0.45  # 3 sigma of the mean of 50 unit pulls
        assert 0.7 < pulls.std(ddof=1) < 1.3


def test_chi2_error_choice_and_distrib_sides():
    edges = [1, 2, 4, 8]
    dnde = np.array([1.0, 2.0, 3.0]) * 1e-12
    errn = np.array([0.1, 0.2, 0.3]) * 1e-12
    errp = np.array([0.2, 0.4, 0.6]) * 1e-12
    err = np.array([0.15, 0.25, 0.5]) * 1e-12
    # constant model via index 0: 2e-12 everywhere (above, equal, below the points)
    model = _pl(index=0, amplitude=2e-12)
    fp_sym = FluxPoints.from_table(_table(edges, dnde, dnde_err=err, dnde_errn=errn,
                                          dnde_errp=errp))
    ds = FluxPointsDataset(models=model, data=fp_sym)
    # chi2: the symmetric error (reference default)
    assert_allclose(ds.stat_array().ravel(), ((dnde - 2e-12) / err) ** 2, rtol=1e-10)
    # chi2 without dnde_err: the mean of errn and errp
    fp_asym = FluxPoints.from_table(_table(edges, dnde, dnde_errn=errn, dnde_errp=errp))
    ds = FluxPointsDataset(models=model, data=fp_asym)
    assert_allclose(ds.stat_array().ravel(), ((dnde - 2e-12) / (0.5 * (errn + errp))) ** 2,
                    rtol=1e-10)
    # distrib: errp where the model is above the point, errn below
    ds = FluxPointsDataset(models=model, data=fp_sym, stat_type="distrib")
    sigma = np.array([errp[0], errp[1], errn[2]])
    expected = ((dnde - 2e-12) / sigma) ** 2
    assert_allclose(ds.stat_array().ravel(), expected, rtol=1e-10)
    assert_allclose(ds.stat_sum(), (1 / 0.2) ** 2 + 0 + (1 / 0.3) ** 2, rtol=1e-10)


def test_upper_limits_chi2_mask_and_distrib():
    edges = [1, 2, 4, 8]
    dnde = np.array([1.0, 2.0, 0.5]) * 1e-12
    err = np.array([0.1, 0.2, 0.3]) * 1e-12
    ul = np.array([1.2, 2.4, 1.0]) * 1e-12
    is_ul = np.array([False, False, True])
    fp = FluxPoints.from_table(_table(edges, dnde, dnde_err=err, dnde_ul=ul, is_ul=is_ul))
    model = _pl(index=0, amplitude=1.0e-12)
    ds = FluxPointsDataset(models=model, data=fp)
    assert_allclose(ds.mask.ravel(), [True, True, False])
    assert_allclose(ds.stat_sum(), 0 + (1 / 0.2) ** 2, rtol=1e-10)
    ds = FluxPointsDataset(models=model, data=fp, stat_type="distrib")
    assert_allclose(ds.mask.ravel(), [True, True, True])
    # model equal to the UL (n_sigma_ul = 2): -2 log(Phi(0) / Phi(2))
    expected_ul = -2 * np.log(0.5 / normal.cdf(2.0))
    assert_allclose(ds.stat_array().ravel()[2], expected_ul, rtol=1e-10)
    # a vanishing model does not pay for the upper limit
    model.spectral_model.amplitude.value = 1e-30
    assert_allclose(ds.stat_array().ravel()[2], 0, atol=1e-12)


def test_masks_and_info():
    rng = np.random.default_rng(3)
    fp, truth, sigma = _simulated_points(rng)
    model = _pl()
    full = FluxPointsDataset(models=model, data=fp, name="full")
    mask_fit = np.arange(10) < 6
    ds = FluxPointsDataset(models=model, data=fp, name="part", mask_fit=mask_fit,
                           mask_safe=np.arange(10) >= 2)
    assert ds.is_masked and not full.is_masked
    stat = full.stat_array().ravel()
    assert_allclose(ds.stat_sum(), stat[2:6].sum(), rtol=1e-12)
    info = ds.info_dict()
    assert info["n_points"] == 10 and info["n_fit_points"] == 4
    assert info["models"] == ["src"] and info["stat_type"] == "chi2"
    text = str(ds)
    assert "part" in text and "chi2" in text and f"{ds.stat_sum():.2f}" in text
    with pytest.raises(ValueError, match="mask_fit"):
        FluxPointsDataset(data=fp, mask_fit=np.ones(3, bool))


def test_models_selection_and_copy():
    rng = np.random.default_rng(4)
    fp, _, _ = _simulated_points(rng)
    mine, other = _pl(name="mine"), _pl(name="other")
    mine.datasets_names = ["fp"]
    other.datasets_names = ["spec"]
    ds = FluxPointsDataset(models=[mine, other], data=fp, name="fp")
    assert ds.models.names == ["mine"]
    new = ds.copy(name="fp2")
    assert new.name == "fp2" and new.models is None and ds.models.names == ["mine"]
    assert_allclose(new.data.dnde.data, ds.data.dnde.data)


def test_profile_exact_for_parabolic_profiles():
    """A parabolic profile (Gaussian likelihood) gives exactly the chi2 of the point."""
    edges = [1, 2, 4, 8]
    norm = np.array([0.9, 1.2, 1.05])
    norm_err = np.array([0.1, 0.15, 0.3])
    scan = np.geomspace(0.2, 5, 11)
    stat_scan = ((scan[:, None] - norm) / norm_err) ** 2 + 100.0
    t = Table()
    e = np.asarray(edges, float)
    t["e_min"], t["e_max"] = e[:-1] * u.TeV, e[1:] * u.TeV
    t["e_ref"] = np.sqrt(e[:-1] * e[1:]) * u.TeV
    ref = 1e-12 * t["e_ref"].value ** -2
    t["ref_dnde"] = ref * DNDE
    t["norm"], t["norm_err"] = norm, norm_err
    t["stat"] = np.full(3, 100.0)
    t["norm_scan"] = np.tile(scan, (3, 1))
    t["stat_scan"] = stat_scan.T
    t.meta["SED_TYPE"] = "likelihood"
    fp = FluxPoints.from_table(t)
    for amp, index in ((1e-12, 2.0), (1.3e-12, 2.2), (0.05e-12, 2.0), (8e-12, 1.5)):
        model = _pl(index=index, amplitude=amp)
        e_ref = t["e_ref"].value
        pred_norm = amp * e_ref ** -index / ref
        ds = FluxPointsDataset(models=model, data=fp, stat_type="profile")
        expected = ((pred_norm - norm) / norm_err) ** 2
        assert_allclose(ds.stat_array().ravel(), expected, rtol=1e-9, atol=1e-9)
    # chi2 on the same points (norm_err -> dnde_err) gives the same numbers
    ds_chi2 = FluxPointsDataset(models=model, data=fp, stat_type="chi2")
    assert_allclose(ds_chi2.stat_sum(), ds.stat_sum(), rtol=1e-9)


def test_bad_input():
    rng = np.random.default_rng(5)
    fp, _, _ = _simulated_points(rng)
    with pytest.raises(TypeError, match="FluxPoints"):
        FluxPointsDataset(data=fp.to_table())
    with pytest.raises(TypeError, match="FluxPoints"):
        FluxPointsDataset(models=_pl())
    with pytest.raises(ValueError, match="stat_type"):
        FluxPointsDataset(data=fp, stat_type="cash")
    with pytest.raises(ValueError, match="stat_scan"):
        FluxPointsDataset(data=fp, stat_type="profile")
    ds = FluxPointsDataset(data=fp, models=_pl())
    with pytest.raises(ValueError, match="method"):
        ds.residuals("ratio")
    with pytest.raises(ValueError, match="unsupported"):
        ds.write("points.txt")


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    fp, _, _ = _simulated_points(rng)
    model = _pl(index=2.1, amplitude=1.2e-11)
    ds = FluxPointsDataset(models=model, data=fp, name="fp", mask_fit=np.arange(10) != 3,
                           stat_type="distrib")
    for fname in ("fp.fits", "fp.fits.gz", "fp.ecsv"):
        ds.write(tmp_path / fname)
        with pytest.raises(FileExistsError):
            ds.write(tmp_path / fname)
        new = FluxPointsDataset.read(tmp_path / fname, name="fp")
        new.models = model
        assert new.stat_type == "distrib"
        assert_allclose(new.mask_fit.data, ds.mask_fit.data)
        assert new.stat_sum() == pytest.approx(ds.stat_sum(), rel=1e-12)
    # through a Datasets YAML index
    datasets = Datasets([ds])
    sub = tmp_path / "index"
    sub.mkdir()
    datasets.write(sub / "datasets.yaml", filename_models=sub / "models.yaml")
    assert (sub / "fp.fits").exists()
    back = Datasets.read(sub / "datasets.yaml", filename_models=sub / "models.yaml")
    assert isinstance(back[0], FluxPointsDataset) and back[0].name == "fp"
    assert back.stat_sum() == pytest.approx(ds.stat_sum(), rel=1e-12)


def test_plot_fit(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(7)
    fp, _, _ = _simulated_points(rng)
    ds = FluxPointsDataset(models=_pl(), data=fp)
    Fit().run(ds)
    ax_spec, ax_res = ds.plot_fit(kwargs_residuals={"method": "diff/model"})
    assert ax_res.get_xscale() == "log"
    assert len(ax_spec.get_lines()) >= 1
    fn = tmp_path / "fit.png"
    ax_spec.figure.savefig(fn)
    assert fn.stat().st_size > 1000
    plt.close("all")


# ------------------------------------------------------------------ real data
def _reference_flux_points(reference_dir):
    d = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    rec = d["flux_points_errn_errp_ul"]["dnde"]
    t = Table()
    for name, values in rec["columns"].items():
        if name in ("npred", "npred_excess", "counts"):
            continue
        unit = rec["units"][name]
        t[name] = u.Quantity(values, unit) if unit else np.asarray(values)
    t.meta["SED_TYPE"] = "dnde"
    return FluxPoints.from_table(t), d["fit"]["parameters"]


def test_crab_flux_points_chi2_fit(reference_dir):
    fp, ref_pars = _reference_flux_points(reference_dir)
    model = _pl(index=2.5, amplitude=3e-11, name="crab")
    ds = FluxPointsDataset(models=model, data=fp, name="crab-fp")
    result = Fit().run(ds)
    assert result.success
    spec = model.spectral_model
    ref = {p["name"]: p for p in ref_pars if p["model"] == "crab"}
    assert ref["index"]["value"] == pytest.approx(2.6024, abs=1e-4)
    for name in ("index", "amplitude"):
        par = getattr(spec, name)
        combined = np.hypot(par.error, ref[name]["error"])
        assert abs(par.value - ref[name]["value"]) < combined
    assert 2.4 < spec.index.value < 2.8 and 0.05 < spec.index.error < 0.15
    # 3 points, 2 parameters: a chi2 of one degree of freedom
    assert 0 < ds.stat_sum() < 10


@pytest.fixture(scope="module")
def crab_scan_points(reference_dir):
    from gammapipe.datasets import MapDataset
    from gammapipe.estimators import FluxPointsEstimator
    from gammapipe.modeling.models import Models

    ds = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz", name="crab-stacked")
    ds.models = Models.read(reference_dir / "lowlevel_crab3d-models.yaml")
    fpe = FluxPointsEstimator(energy_edges=[1, 2, 4, 10] * u.TeV, source="crab",
                              selection_optional=["scan", "errn-errp", "ul"])
    return fpe.run([ds])


def test_crab_profile_fit_agrees_with_chi2(crab_scan_points):
    fp = crab_scan_points
    # the estimator reproduces the reference flux points
    assert_allclose(fp.dnde.quantity.to_value(DNDE).ravel(),
                    [2.070951e-11, 5.725679e-12, 4.511245e-13], rtol=2e-3)
    fits = {}
    for stat_type in ("chi2", "profile"):
        model = _pl(index=2.5, amplitude=3e-11, name="crab")
        ds = FluxPointsDataset(models=model, data=fp, stat_type=stat_type, name=stat_type)
        assert Fit().run(ds).success
        fits[stat_type] = (model.spectral_model, ds)
    (s_chi2, d_chi2), (s_prof, d_prof) = fits["chi2"], fits["profile"]
    for name in ("index", "amplitude"):
        a, b = getattr(s_chi2, name), getattr(s_prof, name)
        assert abs(a.value - b.value) < 0.5 * a.error
        assert b.error == pytest.approx(a.error, rel=0.2)
    # both statistics measure the same (small) disagreement of 3 points with a power law
    assert d_chi2.stat_sum() == pytest.approx(d_prof.stat_sum(), abs=1.5)
    # the profile is zero at each point's best-fit norm
    stat_best = d_prof._profile_interpolator()(fp.norm.data.ravel())
    assert_allclose(stat_best, 0, atol=1e-12)


def test_joint_fit_with_spectrum_dataset(reference_dir, crab_scan_points):
    from gammapipe.datasets import SpectrumDatasetOnOff

    spec = SpectrumDatasetOnOff.read(reference_dir / "datasets_stack_vs_joint-stacked.fits.gz",
                                     name="stacked")
    model = _pl(index=2.5, amplitude=3e-11, name="crab")
    fp_ds = FluxPointsDataset(data=crab_scan_points, name="fp")
    datasets = Datasets([spec, fp_ds])
    datasets.models = [model]
    assert fp_ds.models.names == ["crab"] and spec.models.names == ["crab"]
    result = Fit().run(datasets)
    assert result.success
    index = model.spectral_model.index
    assert result.total_stat == pytest.approx(spec.stat_sum() + fp_ds.stat_sum(), rel=1e-9)
    # between the 1D stacked fit (2.649, reference) and the flux-points fit (~2.64),
    # with a smaller error than either alone
    assert 2.55 < index.value < 2.72
    single = _pl(index=2.5, amplitude=3e-11, name="crab")
    spec.models = [single]
    Fit().run(spec)
    assert single.spectral_model.index.value == pytest.approx(2.648990, abs=2e-3)
    assert index.error < single.spectral_model.index.error


def test_light_curve_points(tmp_path):
    """Flux points with a time axis: one chi2 term per time bin, masks survive I/O."""
    t = Table()
    t["time_min"] = [55197.0, 55198.0]
    t["time_max"] = [55198.0, 55199.0]
    t["e_min"] = [[1.0]] * 2 * u.TeV
    t["e_max"] = [[10.0]] * 2 * u.TeV
    t["e_ref"] = [[np.sqrt(10)]] * 2 * u.TeV  # log centre of the bin
    t["dnde"] = [[1e-12], [2e-12]] * DNDE
    t["dnde_err"] = [[1e-13], [2e-13]] * DNDE
    lc = FluxPoints.from_table(t, format="lightcurve", sed_type="dnde")
    model = _pl(index=2, amplitude=1.5e-12 * 10)  # 1.5e-12 at sqrt(10) TeV
    ds = FluxPointsDataset(models=model, data=lc, mask_fit=[True, False])
    assert_allclose(ds.stat_array().ravel(), [25.0, 6.25], rtol=1e-9)
    assert_allclose(ds.stat_sum(), 25.0, rtol=1e-9)
    ds.write(tmp_path / "lc.fits")
    back = FluxPointsDataset.read(tmp_path / "lc.fits")
    back.models = model
    assert_allclose(back.mask_fit.data.ravel(), [True, False])
    assert back.stat_sum() == pytest.approx(ds.stat_sum(), rel=1e-12)


def test_datasets_energy_ranges_with_flux_points(reference_dir):
    """A FluxPointsDataset has no counts: Datasets reports the range of its energy bins."""
    import astropy.units as u
    from astropy.table import Table

    from gammapipe.datasets import Datasets, FluxPointsDataset, SpectrumDatasetOnOff
    from gammapipe.estimators import FluxPoints

    spectrum = SpectrumDatasetOnOff.read(reference_dir / "makers_map-obs-23523.fits.gz")
    unit = u.Unit("cm-2 s-1 TeV-1")
    table = Table({"e_ref": [1.3, 2.4] * u.TeV, "e_min": [1, 1.8] * u.TeV,
                   "e_max": [1.8, 3.2] * u.TeV, "dnde": [2e-11, 5e-12] * unit,
                   "dnde_err": [1e-12, 5e-13] * unit}, meta={"SED_TYPE": "dnde"})
    points = FluxPointsDataset(data=FluxPoints.from_table(table), name="fp")
    energy_min, energy_max = Datasets([spectrum, points]).energy_ranges
    # makers_map.json: the 1D spectrum spans 1-10 TeV (11 bins)
    assert energy_min.to_value("TeV") == pytest.approx([1.0, 1.0])
    assert energy_max.to_value("TeV") == pytest.approx([10.0, 3.2])
