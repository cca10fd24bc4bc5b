"""Analysis on simulated data: truth recovered, serial / process-pool / Dask reductions
identical, joint datasets, selection errors and atomic output."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammapipe.analysis import Analysis, AnalysisConfig
from gammapipe.analysis.config import ConfigError
from gammapipe.utils.errors import EmptySelectionError, MissingFileError

SMALL = {
    "general": {"progress": False, "plots": False},
    "simulation": {"n_obs": 2, "livetime": "0.1 h"},
    "datasets": {
        "geom": {
            "wcs": {"binsize": "0.05 deg", "width": {"width": "2 deg", "height": "2 deg"}},
            "selection": {"offset_max": "1.5 deg"},
            "axes": {"energy": {"min": "0.5 TeV", "max": "50 TeV", "nbins": 6},
                     "energy_true": {"min": "0.3 TeV", "max": "100 TeV", "nbins": 30}},
        }
    },
    "flux_points": {"energy": {"min": "0.5 TeV", "max": "50 TeV", "nbins": 2}},
}


def small_config(tmp_path, **changes) -> AnalysisConfig:
    config = AnalysisConfig().update(SMALL).set("general.outdir", str(tmp_path / "out"))
    for key, value in changes.items():
        config = config.set(key.replace("__", "."), value)
    return config


@pytest.fixture(scope="module")
def simulated_store(tmp_path_factory):
    """A 3-run simulated data store shared by the reduction tests."""
    path = tmp_path_factory.mktemp("sim")
    config = small_config(path, simulation__n_obs=3, simulation__seed=5,
                          simulation__outdir=str(path / "dl3"))
    Analysis(config).simulate_data()
    return path / "dl3"


@pytest.mark.parametrize("seed", [1, 2])
def test_truth_recovered(tmp_path, seed):
    config = small_config(tmp_path, simulation__seed=seed)
    analysis = Analysis(config)
    analysis.get_observations()
    assert len(analysis.observations) == 2
    analysis.get_datasets()
    assert analysis.datasets.names == ["stacked"]
    analysis.set_models(analysis._models_from_config())
    assert analysis.models.names == ["source", "stacked-bkg"]
    result = analysis.run_fit()
    assert result.success
    table = analysis.truth_comparison()
    assert list(table["parameter"]) == ["index", "amplitude", "lon_0", "lat_0"]
    assert np.all(np.isfinite(table["error"])) and np.all(table["error"] > 0)
    # unbiased within the statistical errors
    assert np.all(np.abs(table["pull"]) < 3.5), table
    # the FoV background norm is close to 1 (the source is excluded)
    norm = analysis.models["stacked-bkg"].spectral_model.norm
    assert abs(norm.value - 1) < 4 * norm.error + 0.1


def _reduce(store, tmp_path, **kwargs):
    config = small_config(tmp_path, observations__datastore=str(store),
                          datasets__geom__wcs__skydir={"lon": "83.633 deg",
                                                       "lat": "22.014 deg"})
    analysis = Analysis(config)
    analysis.get_observations()
    return analysis, analysis.get_datasets(**kwargs)


def _assert_identical(a, b):
    assert a.names == b.names
    for da, db in zip(a, b, strict=True):
        for name in ("counts", "background", "exposure", "mask_safe"):
            ma, mb = getattr(da, name), getattr(db, name)
            assert np.array_equal(np.asarray(ma.data), np.asarray(mb.data)), name
        assert np.array_equal(da.psf.psf_map.data, db.psf.psf_map.data)
        assert np.array_equal(da.edisp.edisp_map.data, db.edisp.edisp_map.data)


def test_reduction_identical_serial_processes_dask(simulated_store, tmp_path):
    analysis, serial = _reduce(simulated_store, tmp_path, backend="serial")
    assert len(analysis.observations) == 3
    # the reduction works on detached copies: nothing stays cached in the observations
    holders = [h for obs in analysis.observations for h in obs._sources.values()
               if hasattr(h, "is_loaded")]
    assert holders and not any(h.is_loaded for h in holders)
    assert serial[0].counts.data.sum() > 1000
    _, pool = _reduce(simulated_store, tmp_path, backend="processes", n_jobs=2)
    _assert_identical(serial, pool)
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        _, dask = _reduce(simulated_store, tmp_path, scheduler=cluster.scheduler_address)
    _assert_identical(serial, dask)


def test_joint_datasets_and_models(simulated_store, tmp_path):
    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          datasets__stack=False, observations__obs_ids=[1, 3])
    analysis = Analysis(config)
    analysis.get_observations()
    datasets = analysis.get_datasets()
    assert datasets.names == ["obs-1", "obs-3"]
    # each joint dataset is a cutout around its own pointing, with its own FoV norm
    assert [info["name"] for info in analysis.reduction_info] == ["obs-1", "obs-3"]
    analysis.set_models(analysis._models_from_config())
    assert analysis.models.names == ["source", "obs-1-bkg", "obs-3-bkg"]
    # stacking the joint datasets onto the empty template reproduces the stacked reduction
    manual = analysis._reduction_context().template.copy(name="manual")
    for dataset in datasets:
        manual.stack(dataset)
    config = config.set("datasets.stack", True)
    stacked_analysis = Analysis(config)
    stacked_analysis.get_observations()
    stacked = stacked_analysis.get_datasets()[0]
    assert np.array_equal(manual.counts.data, stacked.counts.data)
    assert np.allclose(manual.background.data, stacked.background.data, rtol=1e-12)
    assert manual.counts.data.sum() > 0


def test_selection_errors(simulated_store, tmp_path):
    config = small_config(tmp_path, observations__datastore=str(tmp_path / "nowhere"))
    with pytest.raises(MissingFileError, match="observations.datastore: data store not found"):
        Analysis(config).get_observations()
    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          observations__obs_ids=[1, 99])
    with pytest.raises(EmptySelectionError, match=r"not in the data store: \[99\]"):
        Analysis(config).get_observations()
    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          observations__obs_cone={"lon": "10 deg", "lat": "-50 deg",
                                                  "radius": "1 deg"})
    with pytest.raises(EmptySelectionError, match="matches no observation"):
        Analysis(config).get_observations()


def test_write_outputs_and_atomicity(simulated_store, tmp_path, monkeypatch):
    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          datasets__geom__wcs__skydir={"lon": "83.633 deg",
                                                       "lat": "22.014 deg"},
                          flux_points__source="nope")
    analysis = Analysis(config)
    analysis.get_observations()
    analysis.get_datasets()
    analysis.set_models(analysis._models_from_config())
    analysis.run_fit()
    with pytest.raises(ConfigError, match="flux_points.source: no model named 'nope'; "
                                          "models: source, stacked-bkg"):
        analysis.get_flux_points()
    # a failure while writing leaves nothing in the output folder
    from gammapipe.analysis import report

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(report, "make_report", broken)
    out = tmp_path / "atomic"
    with pytest.raises(OSError, match="disk full"):
        analysis.write(out)
    assert list(out.iterdir()) == []
    monkeypatch.undo()
    files = analysis.write(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.yaml", "datasets", "fit_result.txt", "fit_summary.ecsv",
                     "models.yaml", "models_covariance.dat", "report.md"]
    assert files["datasets"] == ["datasets/stacked.fits.gz", "datasets/datasets.yaml"]
    from gammapipe.datasets import MapDataset
    from gammapipe.modeling.models import Models

    back = MapDataset.read(out / "datasets" / "stacked.fits.gz")
    assert back.counts.data.sum() == analysis.datasets[0].counts.data.sum()
    models = Models.read(out / "models.yaml")
    index = models["source"].spectral_model.index
    assert index.value == pytest.approx(
        analysis.models["source"].spectral_model.index.value, rel=1e-6)
    assert AnalysisConfig.read(out / "config.yaml").to_dict() == config.to_dict()
    report_text = (out / "report.md").read_text()
    assert "[models.yaml](models.yaml)" in report_text


@pytest.mark.slow
def test_no_bias_over_seeds(tmp_path):
    """Mean pull of each fitted parameter over 6 simulated data sets is compatible with 0."""
    pulls = []
    for seed in range(10, 16):
        config = small_config(tmp_path / str(seed), simulation__seed=seed,
                              simulation__n_obs=1)
        analysis = Analysis(config)
        analysis.get_observations()
        analysis.get_datasets()
        analysis.set_models(analysis._models_from_config())
        assert analysis.run_fit().success
        pulls.append(np.asarray(analysis.truth_comparison()["pull"], float))
    pulls = np.array(pulls)
    mean = pulls.mean(axis=0)
    # 3 sigma of the mean of 6 unit-width pulls
    assert np.all(np.abs(mean) < 3 / np.sqrt(len(pulls))), mean
    assert np.all(pulls.std(axis=0) < 2.0), pulls


def test_user_background_models_are_kept(simulated_store, tmp_path):
    from gammapipe.modeling.models import FoVBackgroundModel, Models

    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          datasets__stack=False, observations__obs_ids=[1, 2])
    analysis = Analysis(config)
    analysis.get_observations()
    analysis.get_datasets()
    user = FoVBackgroundModel(dataset_name="obs-2")
    user.spectral_model.tilt.frozen = False
    analysis.set_models(Models([*analysis._models_from_config(), user]))
    assert analysis.models.names == ["source", "obs-1-bkg", "obs-2-bkg"]
    assert analysis.models["obs-2-bkg"].spectral_model.tilt.frozen is False
    assert analysis.models["obs-1-bkg"].spectral_model.tilt.frozen is True


def test_exclusion_mask_file_equals_regions(simulated_store, tmp_path):
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammapipe.maps import WcsGeom

    base = dict(observations__datastore=str(simulated_store),
                datasets__geom__wcs__skydir={"lon": "83.633 deg", "lat": "22.014 deg"})
    region = {"frame": "icrs", "lon": "83.633 deg", "lat": "22.014 deg", "radius": "0.4 deg"}
    by_region = Analysis(small_config(tmp_path, datasets__background__exclusion_regions=[
        region], **base))
    by_region.get_datasets()
    geom = WcsGeom.create(skydir=(83.633, 22.014), width=4, binsz=0.01, frame="icrs")
    mask = ~geom.region_mask([CircleSkyRegion(SkyCoord(83.633, 22.014, unit="deg"),
                                              radius=0.4 * u.deg)])
    path = tmp_path / "exclusion.fits"
    mask.write(path)
    by_file = Analysis(small_config(tmp_path, datasets__background__exclusion=str(path),
                                    **base))
    by_file.get_datasets()
    norms_region = [info["bkg_norm"] for info in by_region.reduction_info]
    norms_file = [info["bkg_norm"] for info in by_file.reduction_info]
    assert norms_file == pytest.approx(norms_region, rel=0.02)
    # and the exclusion matters: the default 0.3 deg exclusion gives other norms
    default = Analysis(small_config(tmp_path, **base))
    default.get_datasets()
    assert [i["bkg_norm"] for i in default.reduction_info] != pytest.approx(norms_region,
                                                                            rel=1e-6)
    missing = small_config(tmp_path, datasets__background__exclusion=str(tmp_path / "no.fits"),
                           **base)
    with pytest.raises(MissingFileError, match="datasets.background.exclusion: file not found"):
        Analysis(missing).get_datasets()


def test_datasets_and_models_files_round_trip(simulated_store, tmp_path):
    config = small_config(tmp_path, observations__datastore=str(simulated_store),
                          datasets__geom__wcs__skydir={"lon": "83.633 deg",
                                                       "lat": "22.014 deg"})
    analysis = Analysis(config)
    analysis.get_datasets()
    analysis.run_fit()  # models from the config (default point source)
    index = analysis.write_datasets(tmp_path / "dl4" / "datasets.yaml")
    models_path = analysis.write_models(tmp_path / "dl4" / "models.yaml")
    assert (tmp_path / "dl4" / "stacked.fits.gz").is_file()
    assert (tmp_path / "dl4" / "models_covariance.dat").is_file()
    # a new analysis starts from the written DL4 datasets and models
    again = Analysis(config.update({"general": {"datasets_file": str(index),
                                                "models_file": str(models_path)}}))
    datasets = again.get_datasets()
    assert again.observations is None  # nothing was reduced
    assert np.array_equal(datasets[0].counts.data, analysis.datasets[0].counts.data)
    again.set_models(again._models_from_config())
    assert again.models.names == ["source", "stacked-bkg"]
    assert datasets.stat_sum() == pytest.approx(analysis.datasets.stat_sum(), rel=1e-6)
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: 3\n")
    with pytest.raises(ConfigError, match="expected a 'datasets' list"):
        Analysis(config.set("general.datasets_file", str(bad))).get_datasets()
