"""1D spectral datasets: SpectrumDataset, SpectrumDatasetMaker, forward folding, stacking
and the joint / stacked WStat fits of the 4 Crab runs.

Data: HESS DL3 DR1, H.E.S.S. collaboration (runs 23523, 23526, 23559, 23592). Reference
numbers: gammapy 2.1, ``datasets_stack_vs_joint.json`` and ``makers_map.json``.
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from regions import CircleSkyRegion

from gammapipe.datasets import Datasets
from gammapipe.datasets.spectrum import SpectrumDataset, SpectrumDatasetOnOff
from gammapipe.irf.edisp_map import EDispKernelMap
from gammapipe.makers import SafeMaskMaker
from gammapipe.makers.background.reflected import ReflectedRegionsBackgroundMaker
from gammapipe.makers.spectrum import SpectrumDatasetMaker
from gammapipe.maps import Map, MapAxis, RegionGeom, WcsGeom
from gammapipe.modeling import Fit
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel

TARGET = SkyCoord(ra=83.63, dec=22.01, unit="deg", frame="icrs")
OBS_IDS = [23523, 23526, 23559, 23592]


def make_model(name="crab"):
    spectral = PowerLawSpectralModel(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"),
                                     reference=1 * u.TeV)
    return SkyModel(spectral_model=spectral, name=name)


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())


@pytest.fixture(scope="module")
def observations(hess_dir):
    from gammapipe.data import DataStore

    return DataStore.from_dir(hess_dir).get_observations(OBS_IDS)


def _setup():
    on_region = CircleSkyRegion(center=TARGET, radius=Angle("0.11 deg"))
    exclusion_region = CircleSkyRegion(
        center=SkyCoord(183.604, -8.708, unit="deg", frame="galactic"), radius=0.5 * u.deg)
    exclusion_geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=TARGET.galactic,
                                    proj="TAN", frame="icrs")
    exclusion_mask = ~exclusion_geom.region_mask([exclusion_region])
    energy_axis = MapAxis.from_energy_bounds(0.5, 40, nbin=20, unit="TeV", name="energy")
    energy_axis_true = MapAxis.from_energy_bounds(0.3, 100, nbin=40, unit="TeV",
                                                  name="energy_true")
    geom = RegionGeom.create(region=on_region, axes=[energy_axis])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_axis_true)
    return on_region, exclusion_mask, empty


def reduce_runs(observations, containment_correction=True, prefix=""):
    """The reference workflow's reduction (the aeff-max safe mask set explicitly)."""
    _, exclusion_mask, empty = _setup()
    maker = SpectrumDatasetMaker(containment_correction=containment_correction,
                                 selection=["counts", "exposure", "edisp"])
    bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = Datasets()
    for obs in observations:
        ds = maker.run(empty.copy(name=f"{prefix}{obs.obs_id}"), obs)
        ds = bkg_maker.run(ds, obs)
        ds.mask_safe = Map.from_geom(ds.counts.geom, data=safe.make_mask_energy_aeff_max(
            ds, obs), dtype=bool)
        datasets.append(ds)
    return datasets


def stack(datasets, name="stacked"):
    stacked = datasets[0].to_masked(name=name)
    for ds in list(datasets)[1:]:
        stacked.stack(ds)
    return stacked


@pytest.fixture(scope="module")
def joint(observations):
    datasets = reduce_runs(observations)
    datasets.models = [make_model()]
    result = Fit().run(datasets=datasets)
    return datasets, result


def _par(record, name):
    return next(p for p in record["parameters"] if p["name"] == name)


# ---------------------------------------------------------------------------- create
def test_spectrum_dataset_create():
    _, _, empty = _setup()
    assert empty.counts.data.shape == (20, 1, 1)
    assert empty.exposure.data.shape == (40, 1, 1)
    assert empty.edisp.edisp_map.data.shape == (40, 20, 1, 1)
    assert empty.psf is None
    assert not empty.mask_safe.data.any()
    assert empty.counts.geom.region.radius == Angle("0.11 deg")
    assert empty.tag == "SpectrumDataset"
    on_off = SpectrumDatasetOnOff.create(empty.counts.geom)
    np.testing.assert_allclose(on_off.acceptance.data, 1)
    np.testing.assert_allclose(on_off.acceptance_off.data, 1)
    assert on_off.counts_off.data.sum() == 0
    with pytest.raises(Exception, match="RegionGeom"):
        SpectrumDataset.create(WcsGeom.create(npix=3, axes=[empty._geom.axes["energy"]]))
    with pytest.raises(Exception, match="1D"):
        empty.cutout(TARGET, "1 deg")


# ---------------------------------------------------------------------------- maker
def test_maker_exposure_and_edisp(observations, ref):
    obs = observations[0]
    _, _, empty = _setup()
    ds = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"]).run(empty, obs)
    offset = obs.get_pointing_icrs(obs.tmid).separation(TARGET)
    e_true = empty.exposure.geom.axes["energy_true"].center
    aeff = obs.aeff.evaluate(energy_true=e_true, offset=offset).to_value("m2")
    expected = aeff * obs.observation_live_time_duration.to_value("s")
    np.testing.assert_allclose(ds.exposure.quantity.to_value("m2 s").ravel(), expected,
                               rtol=1e-10)
    assert ds.exposure.meta["livetime"].to_value("s") == pytest.approx(
        ref["per_run"][0]["livetime_s"], rel=1e-12)
    rows = ds.edisp.get_edisp_kernel().data.sum(axis=1)
    np.testing.assert_allclose(rows, ref["per_run"][0]["edisp_kernel_row_sums"], atol=1e-6)
    np.testing.assert_array_equal(ds.counts.data.ravel(), ref["per_run"][0]["counts_per_bin"])


def test_maker_containment_correction(observations, ref):
    """PSF containment in the 0.11 deg circle: within 1e-4 of the reference (the PSF
    containment integral of the IRF layer differs from the reference by ~5e-5)."""
    datasets = reduce_runs(observations[:1])
    ds = datasets[0]
    expected = np.array(ref["per_run"][0]["exposure_per_true_bin_m2s"])
    got = ds.exposure.quantity.to_value("m2 s").ravel()
    good = expected > 0
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-4)
    assert np.all(got[~good] == 0)


def test_maker_region_average(observations):
    """use_region_center=False: exposure averaged over the region's fine pixels."""
    obs = observations[0]
    _, _, empty = _setup()
    big = RegionGeom.create(CircleSkyRegion(TARGET, 0.5 * u.deg),
                            axes=[empty._geom.axes["energy"]])
    empty_big = SpectrumDataset.create(big, energy_axis_true=empty.exposure.geom.axes[
        "energy_true"])
    ds = SpectrumDatasetMaker(selection=["exposure"], use_region_center=False).run(
        empty_big, obs)
    coords, weights = big.to_image().get_wcs_coord_and_weights()
    offsets = obs.get_pointing_icrs(obs.tmid).separation(coords.skycoord)
    e_true = empty.exposure.geom.axes["energy_true"].center
    aeff = obs.aeff.evaluate(energy_true=e_true[:, None], offset=offsets[None, :])
    expected = (aeff.to_value("m2") * weights).sum(axis=1) / weights.sum()
    expected = expected * obs.observation_live_time_duration.to_value("s")
    np.testing.assert_allclose(ds.exposure.quantity.to_value("m2 s").ravel(), expected,
                               rtol=1e-6)
    centre = SpectrumDatasetMaker(selection=["exposure"]).run(empty_big, obs)
    assert not np.allclose(centre.exposure.data, ds.exposure.data, rtol=1e-4)


# ---------------------------------------------------------------------------- folding
def test_npred_signal_analytic():
    energy_axis = MapAxis.from_energy_bounds(1, 10, nbin=5, unit="TeV", name="energy")
    geom = RegionGeom.create(CircleSkyRegion(TARGET, 0.1 * u.deg), axes=[energy_axis])
    ds = SpectrumDataset.create(geom)
    ds.exposure.data[...] = 1e10  # m2 s
    ds.edisp = EDispKernelMap.from_diagonal_response(energy_axis, geom=geom)
    ds.models = [make_model()]
    edges = energy_axis.edges.to_value("TeV")
    # PL integral: A E0 / (1 - G) [(E2/E0)^(1-G) - (E1/E0)^(1-G)] with A = 1e-12 cm-2 s-1 TeV-1
    integral = 1e-12 / (1 - 2) * (edges[1:] ** (1 - 2) - edges[:-1] ** (1 - 2))
    expected = integral * 1e10 * 1e4  # cm-2 s-1 x m2 s x (cm2 / m2)
    np.testing.assert_allclose(ds.npred_signal().data.ravel(), expected, rtol=1e-12)
    # no edisp applied when the model says so
    ds.models[0].apply_irf["edisp"] = False
    np.testing.assert_allclose(ds.npred_signal().data.ravel(), expected, rtol=1e-12)


def test_stat_gradient_matches_finite_differences(joint):
    datasets, _ = joint
    ds = datasets[1]
    pars = [p for p in datasets.models.parameters if not p.frozen]
    stat, grad = ds.stat_sum_and_gradient(pars)
    assert stat == pytest.approx(ds.stat_sum(), rel=1e-12)
    for i, par in enumerate(pars):
        value = par.value
        h = 1e-6 * abs(value)
        par.value = value + h
        up = ds.stat_sum()
        par.value = value - h
        down = ds.stat_sum()
        par.value = value
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-4)


# ---------------------------------------------------------------------------- fits
def test_joint_fit_matches_reference(joint, ref):
    datasets, result = joint
    assert result.success
    rec = ref["joint_fit"]
    assert result.total_stat == pytest.approx(rec["total_stat"], abs=1e-3)
    for name in ("index", "amplitude"):
        par = datasets.models.parameters[name]
        expected = _par(rec, name)
        # within 1 % of the statistical error (exposure containment differs by 5e-5)
        assert abs(par.value - expected["value"]) < 0.01 * expected["error"]
        assert par.error == pytest.approx(expected["error"], rel=2e-3)
    np.testing.assert_allclose([ds.stat_sum() for ds in datasets], rec["stat_per_dataset"],
                               atol=5e-3)


def test_stacked_fit_matches_reference(joint, ref):
    datasets, _ = joint
    stacked = stack(datasets)
    stacked.models = [make_model()]
    result = Fit().run(datasets=[stacked])
    rec = ref["stacked_fit"]
    assert result.total_stat == pytest.approx(rec["total_stat"], abs=1e-3)
    for name in ("index", "amplitude"):
        par = stacked.models.parameters[name]
        expected = _par(rec, name)
        assert abs(par.value - expected["value"]) < 0.01 * expected["error"]


def test_npred_conservation_without_containment(observations, joint, ref):
    """Without containment correction, sum over runs of npred_signal (safe masks) equals
    the stacked npred_signal (the reference gets 9e-9)."""
    datasets, _ = joint
    model = datasets.models["crab"]
    runs = reduce_runs(observations, containment_correction=False, prefix="nc-")
    for ds in runs:
        ds.models = [model.copy(name="crab")]
    total_runs = sum(np.where(ds.mask_safe.data.ravel(), ds.npred_signal().data.ravel(), 0)
                     for ds in runs)
    stacked = stack(runs, name="stacked-nc")
    stacked.models = [model.copy(name="crab")]
    total_stacked = np.where(stacked.mask_safe.data.ravel(),
                             stacked.npred_signal().data.ravel(), 0)
    rel = (total_stacked.sum() - total_runs.sum()) / total_runs.sum()
    assert abs(rel) < 1e-6
    np.testing.assert_allclose(total_stacked, total_runs, rtol=1e-5)
    rec = ref["npred_conservation_no_containment"]
    assert total_runs.sum() == pytest.approx(rec["npred_signal_sum_runs_total"], rel=2e-4)


def test_npred_conservation_with_containment(joint, ref):
    """With containment correction the edisp is stacked with its own (uncorrected)
    exposure: npred conservation to 2e-4, as in the reference (README note 4)."""
    datasets, _ = joint
    model = datasets.models["crab"]
    runs = sum(np.where(ds.mask_safe.data.ravel(), ds.npred_signal().data.ravel(), 0)
               for ds in datasets)
    stacked = stack(datasets, name="stacked-c")
    stacked.models = [model.copy(name="crab-joint")]
    st = np.where(stacked.mask_safe.data.ravel(), stacked.npred_signal().data.ravel(), 0)
    rel = (st.sum() - runs.sum()) / runs.sum()
    rec = ref["npred_conservation"]
    assert rel == pytest.approx(rec["npred_signal_rel_diff_total"], abs=2e-5)
    assert runs.sum() == pytest.approx(rec["npred_signal_sum_runs_total"], rel=3e-4)


# ---------------------------------------------------------------------------- ops, I/O
def test_spectrum_dataset_stack_rules():
    energy_axis = MapAxis.from_energy_bounds(1, 10, nbin=3, unit="TeV", name="energy")
    geom = RegionGeom.create(CircleSkyRegion(TARGET, 0.1 * u.deg), axes=[energy_axis])
    a = SpectrumDataset.create(geom, name="a")
    b = SpectrumDataset.create(geom, name="b")
    for ds, counts, bkg, exp, mask, live in (
            (a, [1, 2, 3], [0.5, 0.5, 0.5], 10.0, [False, True, True], 100),
            (b, [4, 5, 6], [1.0, 1.0, 1.0], 20.0, [True, True, False], 50)):
        ds.counts.data = np.array(counts, "float32").reshape(3, 1, 1)
        ds.background.data = np.array(bkg, "float32").reshape(3, 1, 1)
        ds.exposure.data[...] = exp
        ds.exposure.meta["livetime"] = live * u.s
        ds.mask_safe.data = np.array(mask).reshape(3, 1, 1)
    stacked = a.to_masked(name="s")
    stacked.stack(b)
    np.testing.assert_allclose(stacked.counts.data.ravel(), [4, 7, 3])
    np.testing.assert_allclose(stacked.background.data.ravel(), [1.0, 1.5, 0.5])
    np.testing.assert_allclose(stacked.exposure.data, 30.0)
    assert stacked.exposure.meta["livetime"] == 150 * u.s
    assert stacked.mask_safe.data.all()
    sliced = stacked.slice_by_energy(energy_min=2 * u.TeV, energy_max=10 * u.TeV)
    assert sliced.counts.data.shape[0] == 2
    image = stacked.to_image()
    assert image.counts.data.sum() == 14


def test_spectrum_dataset_write_read(tmp_path, joint):
    datasets, _ = joint
    ds = datasets[0].to_spectrum_dataset(name="plain")
    path = tmp_path / "spec.fits"
    ds.write(path)
    back = SpectrumDataset.read(path)
    np.testing.assert_array_equal(back.counts.data, ds.counts.data)
    np.testing.assert_allclose(back.exposure.data, ds.exposure.data, rtol=1e-6)
    np.testing.assert_allclose(back.background.data, ds.background.data, rtol=1e-6)
    np.testing.assert_allclose(back.edisp.get_edisp_kernel().data,
                               ds.edisp.get_edisp_kernel().data, atol=1e-7)


def test_spectrum_plots(tmp_path, joint):
    import matplotlib.pyplot as plt

    datasets, _ = joint
    ds = datasets[0]
    ax_spec, ax_res = ds.plot_fit()
    assert len(ax_spec.lines) + len(ax_spec.containers) + len(ax_spec.patches) > 0
    plt.savefig(tmp_path / "fit.png")
    plt.close("all")
    ax = ds.plot_counts()
    assert ax.get_xscale() == "log"
    ax = ds.plot_excess()
    assert ax.get_ylabel() == "Excess counts"
    axes = ds.peek()
    assert len(axes) == 3
    plt.savefig(tmp_path / "peek.png")
    plt.close("all")
    assert (tmp_path / "fit.png").stat().st_size > 0
