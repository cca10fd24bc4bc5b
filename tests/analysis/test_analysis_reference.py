"""The high-level pipeline expresses the reference workflows (HESS DL3 DR1, H.E.S.S.
collaboration): the low-level Crab 3D analysis (lowlevel_crab3d.json) and the 1D
reflected-regions analysis of datasets_stack_vs_joint.py, configured only through YAML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gammapipe.analysis import Analysis
from gammapipe.analysis.examples import EXAMPLES, example_config


def _example(name, hess_dir, tmp_path, **changes):
    config = example_config(name).update({
        "general": {"outdir": str(tmp_path / "out"), "progress": False},
        "observations": {"datastore": str(hess_dir)},
    })
    for key, value in changes.items():
        config = config.set(key.replace("__", "."), value)
    return config


def _par(record, model, name):
    return next(p for p in record["parameters"] if p["model"] == model and p["name"] == name)


def test_crab_3d_config_reproduces_lowlevel_reference(hess_dir, reference_dir, tmp_path):
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    config = _example("crab3d", hess_dir, tmp_path,
                      flux_points__parameters={"selection_optional": []})
    analysis = Analysis(config)
    analysis.get_observations()
    datasets = analysis.get_datasets()
    # per-run FoV background norms (fit method)
    norms = [info["bkg_norm"] for info in analysis.reduction_info]
    assert norms == pytest.approx([r["bkg_norm"] for r in ref["per_run"]], rel=1e-3)
    stacked = datasets[0]
    assert stacked.counts.data.sum() == ref["stacked"]["counts_total"] == 2479
    assert stacked.npred_background().data.sum() == pytest.approx(
        ref["stacked"]["background_total"], rel=1e-4)
    exposure = stacked.exposure.quantity.to_value("m2 s")
    assert exposure.min() == pytest.approx(ref["stacked"]["exposure_min_m2s"], rel=1e-3)
    assert exposure.max() == pytest.approx(ref["stacked"]["exposure_max_m2s"], rel=1e-3)

    analysis.set_models(analysis._models_from_config())
    result = analysis.run_fit()
    assert result.success
    assert result.total_stat == pytest.approx(ref["fit"]["total_stat"], abs=0.1)
    for model, name in [("crab", "index"), ("crab", "amplitude"), ("crab", "lon_0"),
                        ("crab", "lat_0")]:
        expected = _par(ref["fit"], model, name)
        par = analysis.models[model].parameters[name]
        # the 0.1 sigma / 5 % targets belong to the fit itself (issue 5); the pipeline
        # must land on the same minimum
        assert abs(par.value - expected["value"]) < 0.5 * expected["error"], name
        assert par.error == pytest.approx(expected["error"], rel=0.1), name
    norm = analysis.models["stacked-bkg"].spectral_model.norm
    expected = _par(ref["fit"], "crab-stacked-bkg", "norm")
    assert abs(norm.value - expected["value"]) < 0.5 * expected["error"]

    flux_points = analysis.get_flux_points()
    table = flux_points.to_table(sed_type="dnde")
    ref_fp = ref["flux_points"]["dnde"]["columns"]
    assert np.allclose(table["e_ref"].quantity.to_value("TeV"), ref_fp["e_ref"], rtol=1e-4)
    assert np.allclose(table["dnde"].quantity.to_value("cm-2 s-1 TeV-1"), ref_fp["dnde"],
                       rtol=0.01)
    assert np.allclose(table["ts"], ref_fp["ts"], atol=1.0)

    excess = analysis.get_excess_map()
    sqrt_ts = excess["sqrt_ts"]
    peak = np.unravel_index(np.nanargmax(sqrt_ts.data[0]), sqrt_ts.data.shape[1:])
    lon, lat = sqrt_ts.geom.pix_to_coord((peak[1], peak[0]))[:2]
    assert abs(float(np.squeeze(lon)) - 83.62) < 0.05
    assert abs(float(np.squeeze(lat)) - 22.02) < 0.05

    files = analysis.write()
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    for name in ["counts.png", "excess.png", "significance.png", "residuals.png",
                 "spectrum.png", "flux_points.fits", "flux_points.ecsv", "excess_maps.fits",
                 "models.yaml", "models_covariance.dat", "fit_summary.ecsv", "report.md"]:
        assert name in written
    assert files["plots"] == ["counts.png", "excess.png", "significance.png", "residuals.png",
                              "spectrum.png"]


def _spectrum_analysis(hess_dir, tmp_path, stack: bool):
    config = _example("spectrum1d", hess_dir, tmp_path, datasets__stack=stack)
    analysis = Analysis(config)
    analysis.get_observations()
    analysis.get_datasets()
    return analysis


def test_spectrum_1d_pipeline_equals_lowlevel_chain(hess_dir, tmp_path):
    """The 1D config runs the same maker chain as datasets_stack_vs_joint.py."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammapipe.datasets.spectrum import SpectrumDataset
    from gammapipe.makers import SafeMaskMaker
    from gammapipe.makers.background.reflected import ReflectedRegionsBackgroundMaker
    from gammapipe.makers.spectrum import SpectrumDatasetMaker
    from gammapipe.maps import MapAxis, RegionGeom, WcsGeom

    analysis = _spectrum_analysis(hess_dir, tmp_path, stack=False)
    target = SkyCoord(83.63, 22.01, unit="deg")
    on_region = CircleSkyRegion(center=target, radius=0.11 * u.deg)
    exclusion = CircleSkyRegion(center=SkyCoord(183.604, -8.708, unit="deg", frame="galactic"),
                                radius=0.5 * u.deg)
    mask_geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=target.galactic, proj="TAN",
                               frame="icrs")
    exclusion_mask = ~mask_geom.region_mask([exclusion])
    energy = MapAxis.from_energy_bounds(0.5, 40, nbin=20, unit="TeV", name="energy")
    energy_true = MapAxis.from_energy_bounds(0.3, 100, nbin=40, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=on_region, axes=[energy]),
                                   energy_axis_true=energy_true)
    maker = SpectrumDatasetMaker(containment_correction=True,
                                 selection=["counts", "exposure", "edisp"])
    bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    for obs, dataset in zip(analysis.observations, analysis.datasets, strict=True):
        expected = safe.run(bkg_maker.run(maker.run(empty.copy(name="x"), obs), obs), obs)
        assert np.array_equal(dataset.counts.data, expected.counts.data)
        assert np.array_equal(dataset.counts_off.data, expected.counts_off.data)
        assert np.array_equal(dataset.mask_safe.data, expected.mask_safe.data)
        assert np.allclose(dataset.exposure.data, expected.exposure.data, rtol=1e-12)
        assert np.allclose(dataset.alpha.data, expected.alpha.data, rtol=1e-12)


@pytest.mark.parametrize("stack", [False, True])
def test_spectrum_1d_config_reproduces_reference(hess_dir, reference_dir, tmp_path, stack):
    ref = json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())
    analysis = _spectrum_analysis(hess_dir, tmp_path, stack=stack)
    if not stack:
        for dataset, run in zip(analysis.datasets, ref["per_run"], strict=True):
            info = dataset.info_dict()
            assert info["counts"] == run["counts_in_safe"]
            assert info["counts_off"] == run["counts_off_in_safe"]
    analysis.set_models(analysis._models_from_config())
    result = analysis.run_fit()
    record = ref["stacked_fit" if stack else "joint_fit"]
    assert result.total_stat == pytest.approx(record["total_stat"], abs=0.01)
    index = analysis.models["crab"].spectral_model.index
    expected = _par(record, "crab", "index")
    assert abs(index.value - expected["value"]) < 0.1 * expected["error"]


def test_examples_read_data_from_gammapipe_data(monkeypatch, hess_dir):
    """The examples point at $GAMMAPIPE_DATA (expanded when the data store is opened)."""
    from gammapipe.analysis.config import ConfigError

    assert set(EXAMPLES) == {"crab3d", "spectrum1d"}
    monkeypatch.setenv("GAMMAPIPE_DATA", str(hess_dir.parent))
    analysis = Analysis(example_config("spectrum1d"))
    observations = analysis.get_observations()
    assert [o.obs_id for o in observations] == [23523, 23526, 23559, 23592]
    assert str(example_config("crab3d").observations.datastore) == \
        "$GAMMAPIPE_DATA/hess-dl3-dr1"
    with pytest.raises(ConfigError, match="unknown example 'x'; available: crab3d"):
        example_config("x")


def test_spectrum_1d_outputs(hess_dir, tmp_path):
    analysis = _spectrum_analysis(hess_dir, tmp_path, stack=False)
    analysis.set_models(analysis._models_from_config())
    assert analysis.models.names == ["crab"]  # no FoV background model in 1d
    assert analysis.run_fit().success
    flux_points = analysis.get_flux_points()
    table = flux_points.to_table(sed_type="dnde")
    assert len(table) == 3
    assert np.all(table["ts"] > 25)
    with pytest.raises(Exception, match="needs 3d datasets"):
        analysis.get_excess_map()
    files = analysis.write()
    assert files["plots"] == [f"spectrum_fit_obs-{i}.png" for i in
                              (23523, 23526, 23559, 23592)] + ["spectrum.png"]
    assert files["datasets"][:4] == [f"datasets/obs-{i}.fits.gz" for i in
                                     (23523, 23526, 23559, 23592)]
    assert (tmp_path / "out" / "flux_points.ecsv").is_file()


def test_runs_outside_the_geometry_are_skipped(hess_dir, tmp_path, caplog):
    """A PKS 2155-304 run does not overlap the Crab geometry: skipped with a warning."""
    from gammapipe.utils.errors import EmptySelectionError

    config = _example("crab3d", hess_dir, tmp_path, observations__obs_ids=[23523, 33787])
    analysis = Analysis(config)
    with caplog.at_level("WARNING"):
        datasets = analysis.get_datasets()
    assert "observation 33787 skipped: its field of view does not overlap" in caplog.text
    assert [info["name"] for info in analysis.reduction_info] == ["obs-23523"]
    assert datasets[0].counts.data.sum() > 0
    only_outside = _example("crab3d", hess_dir, tmp_path, observations__obs_ids=[33787])
    with pytest.raises(EmptySelectionError, match=r"no observation could be reduced "
                                                  r"\(skipped: \[33787\]\)"):
        Analysis(only_outside).get_datasets()


def test_observation_selection(hess_dir, tmp_path):
    crab_runs = [23523, 23526, 23559, 23592]
    cone = {"frame": "icrs", "lon": "83.633 deg", "lat": "22.014 deg", "radius": "5 deg"}
    config = _example("crab3d", hess_dir, tmp_path, observations__obs_ids=[],
                      observations__obs_cone=cone)
    observations = Analysis(config).get_observations()
    assert sorted(o.obs_id for o in observations) == crab_runs
    obs_file = tmp_path / "runs.txt"
    obs_file.write_text("23526\n23559\n")
    config = _example("crab3d", hess_dir, tmp_path, observations__obs_ids=[],
                      observations__obs_file=str(obs_file))
    assert [o.obs_id for o in Analysis(config).get_observations()] == [23526, 23559]
    # runs 23523 and 23526 were taken on 2004-12-04, the others on 2004-12-06 and -08
    config = _example("crab3d", hess_dir, tmp_path, observations__obs_ids=[],
                      observations__obs_cone=cone,
                      observations__obs_time={"start": "2004-12-01", "stop": "2004-12-05"})
    selected = sorted(o.obs_id for o in Analysis(config).get_observations())
    assert selected == [23523, 23526]
