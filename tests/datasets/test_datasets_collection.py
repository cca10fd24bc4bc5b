"""The `Datasets` container: access, models, joint statistic and gradient, stacking,
info tables, selections and the YAML-index write / read.

Data: HESS DL3 DR1, H.E.S.S. collaboration (runs 23523, 23526, 23559, 23592, reduced as in
``datasets_stack_vs_joint.py``). Reference numbers and DL4 files: gammapy 2.1
(``../shared/reference/public``).
"""

from __future__ import annotations

import hashlib
import json
import warnings

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits
from astropy.time import Time
from regions import CircleSkyRegion

from gammapipe.datasets import Datasets, MapDataset, SpectrumDataset, SpectrumDatasetOnOff
from gammapipe.datasets.core import DatasetNameError, DatasetNotFoundError
from gammapipe.modeling import Fit
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel
from gammapipe.utils.errors import GammapipeError

OBS_IDS = [23523, 23526, 23559, 23592]
TARGET = SkyCoord(ra=83.63, dec=22.01, unit="deg", frame="icrs")


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())


@pytest.fixture(scope="module")
def runs(hess_dir):
    """The 4 Crab runs as SpectrumDatasetOnOff (r = 0.11 deg, reflected regions)."""
    from gammapipe.data import DataStore
    from gammapipe.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapipe.maps import MapAxis, RegionGeom, WcsGeom

    observations = DataStore.from_dir(hess_dir).get_observations(OBS_IDS)
    on_region = CircleSkyRegion(center=TARGET, radius=Angle("0.11 deg"))
    exclusion = CircleSkyRegion(SkyCoord(183.604, -8.708, unit="deg", frame="galactic"),
                                0.5 * u.deg)
    exclusion_geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=TARGET.galactic,
                                    proj="TAN", frame="icrs")
    exclusion_mask = ~exclusion_geom.region_mask([exclusion])
    e_axis = MapAxis.from_energy_bounds(0.5, 40, nbin=20, unit="TeV", name="energy")
    et_axis = MapAxis.from_energy_bounds(0.3, 100, nbin=40, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=on_region, axes=[e_axis]),
                                   energy_axis_true=et_axis)
    maker = SpectrumDatasetMaker(containment_correction=True,
                                 selection=["counts", "exposure", "edisp"])
    bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    out = []
    for obs in observations:
        ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        out.append(safe.run(bkg_maker.run(ds, obs), obs))
    return out


@pytest.fixture
def datasets(runs):
    """Fresh container of copies (tests may change models and masks)."""
    out = Datasets()
    for ds in runs:
        new = ds.copy(name=ds.name)
        out.append(new)
    return out


def crab_model(index=2.0, amplitude=1e-12, name="crab"):
    spectral = PowerLawSpectralModel(index=index, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"),
                                     reference=1 * u.TeV)
    return SkyModel(spectral_model=spectral, name=name)


def reference_best_fit(ref, key="joint_fit"):
    pars = {p["name"]: p["value"] for p in ref[key]["parameters"]}
    return crab_model(index=pars["index"], amplitude=pars["amplitude"])


# ---------------------------------------------------------------------------- container
def test_access_by_name_and_index(datasets):
    assert datasets.names == ["23523", "23526", "23559", "23592"]
    assert len(datasets) == 4
    assert datasets["23559"] is datasets[2] is datasets[-2]
    assert datasets.index("23592") == 3
    assert "23526" in datasets and datasets[1] in datasets and "nope" not in datasets
    sub = datasets[1:3]
    assert isinstance(sub, Datasets) and sub.names == ["23526", "23559"]
    assert sub[0] is datasets[1]
    with pytest.raises(KeyError, match=r"no dataset named 'nope'.*23523"):
        datasets["nope"]
    with pytest.raises(DatasetNotFoundError):
        datasets["nope"]
    with pytest.raises(IndexError, match="out of range"):
        datasets[4]
    with pytest.raises(TypeError, match="invalid key"):
        datasets[1.5]


def test_unique_names(datasets, runs):
    with pytest.raises(ValueError, match="duplicate dataset name '23523'"):
        datasets.append(runs[0])
    with pytest.raises(DatasetNameError):
        Datasets([runs[0], runs[0]])
    with pytest.raises(DatasetNameError):
        datasets[1] = runs[0]
    with pytest.raises(TypeError, match="expected a Dataset"):
        datasets.append("23523")
    # replacing a dataset by one of the same name at its own position is allowed
    replacement = runs[1].copy(name="23526")
    datasets["23526"] = replacement
    assert datasets[1] is replacement


def test_mutable_sequence_operations(datasets):
    first = datasets[0]
    del datasets["23523"]
    assert datasets.names == ["23526", "23559", "23592"]
    datasets.insert(0, first)
    assert datasets.names[0] == "23523"
    last = datasets.pop()
    assert last.name == "23592" and len(datasets) == 3
    datasets.extend([last])
    datasets.remove(first)
    assert datasets.names == ["23526", "23559", "23592"]
    assert Datasets(datasets).names == datasets.names
    assert Datasets(first).names == ["23523"]
    assert Datasets().names == [] and len(Datasets(None)) == 0
    with pytest.raises(TypeError, match="must be a Dataset or a list"):
        Datasets(3)


def test_type_and_shape_properties(datasets, reference_dir):
    assert datasets.is_all_same_type
    assert datasets.is_all_same_shape
    assert datasets.is_all_same_energy_shape
    assert datasets.energy_axes_are_aligned
    emin, emax = datasets.energy_ranges
    np.testing.assert_allclose(emin.to_value("TeV"), [0.5] * 4, rtol=1e-12)
    np.testing.assert_allclose(emax.to_value("TeV"), [40] * 4, rtol=1e-12)
    mixed = Datasets([datasets[0], MapDataset.read(
        reference_dir / "lowlevel_crab3d-stacked.fits.gz")])
    assert not mixed.is_all_same_type
    assert not mixed.is_all_same_shape
    assert not mixed.energy_axes_are_aligned
    with pytest.raises(GammapipeError, match="different types"):
        mixed.stack_reduce()
    with pytest.raises(GammapipeError, match="no datasets"):
        Datasets().stack_reduce()


def test_contributes_to_stat(datasets):
    np.testing.assert_array_equal(datasets.contributes_to_stat, [True] * 4)
    datasets[2].mask_safe.data[...] = False
    np.testing.assert_array_equal(datasets.contributes_to_stat, [True, True, False, True])


# ---------------------------------------------------------------------------- models, stat
def test_models_shared_and_datasets_names(datasets):
    assert len(datasets.models) == 0
    model = crab_model()
    datasets.models = [model]
    assert all(ds.models[0] is model for ds in datasets)
    assert datasets.models.names == ["crab"]  # each model once
    assert [p.name for p in datasets.parameters] == ["index", "amplitude", "reference"]
    assert datasets.parameters["index"] is model.spectral_model.index
    # a model restricted to one dataset only goes there
    only = crab_model(name="only-23559")
    only.datasets_names = ["23559"]
    datasets.models = [model, only]
    assert [len(ds.models) for ds in datasets] == [1, 1, 2, 1]
    assert datasets["23559"].models.names == ["crab", "only-23559"]
    assert datasets.models.names == ["crab", "only-23559"]
    datasets.models = None
    assert all(ds.models is None for ds in datasets)


def test_stat_sum_at_reference_best_fit(datasets, ref):
    """Joint WStat at the reference best fit: reference stat per dataset and in total."""
    datasets.models = [reference_best_fit(ref)]
    per_dataset = [ds.stat_sum() for ds in datasets]
    # per dataset within 1e-4 (the exposures with containment correction agree to 5e-5)
    np.testing.assert_allclose(per_dataset, ref["joint_fit"]["stat_per_dataset"], rtol=1e-4)
    assert datasets.stat_sum() == pytest.approx(sum(per_dataset), rel=1e-14)
    assert datasets.stat_sum() == pytest.approx(ref["joint_fit"]["total_stat"], rel=1e-5)


def test_stat_sum_does_not_add_priors(datasets, ref):
    datasets.models = [reference_best_fit(ref)]
    before = datasets.stat_sum()
    index = datasets.parameters["index"]
    index.prior = lambda value: ((value - 2.0) / 0.1) ** 2  # -2 log of a Gaussian prior
    assert index.prior_stat() > 40
    assert datasets.stat_sum() == before


def test_stat_sum_and_gradient(datasets, ref):
    model = reference_best_fit(ref)
    datasets.models = [model]
    free = datasets.parameters.free_parameters
    stat, grad = datasets.stat_sum_and_gradient(free)
    assert stat == pytest.approx(datasets.stat_sum(), rel=1e-12)
    # at the best fit the gradient is ~0 in units of the parameter errors ...
    errors = np.array([p["error"] for p in ref["joint_fit"]["parameters"][:2]])
    assert np.all(np.abs(grad * errors) < 0.05)
    # ... and it equals the sum of the datasets' own gradients and central differences
    np.testing.assert_allclose(
        grad, np.sum([ds.stat_sum_and_gradient(free)[1] for ds in datasets], axis=0),
        rtol=1e-12)
    index = model.spectral_model.index
    index.value = 2.3
    stat, grad = datasets.stat_sum_and_gradient(free)
    h = 1e-5
    index.value = 2.3 + h
    up = datasets.stat_sum()
    index.value = 2.3 - h
    down = datasets.stat_sum()
    index.value = 2.3
    assert grad[0] == pytest.approx((up - down) / (2 * h), rel=1e-5)


def test_stat_sum_and_gradient_only_when_all_datasets_have_it(datasets, reference_dir):
    assert hasattr(datasets, "stat_sum_and_gradient")
    map_dataset = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz")
    mixed = Datasets([datasets[0], map_dataset])
    assert hasattr(mixed, "stat_sum_and_gradient") == hasattr(map_dataset,
                                                              "stat_sum_and_gradient")
    assert not hasattr(Datasets(), "stat_sum_and_gradient")


def test_joint_fit_matches_reference(datasets, ref):
    datasets.models = [crab_model()]
    result = Fit().run(datasets=datasets)
    assert result.success
    fitted = datasets.models["crab"].spectral_model
    for name in ("index", "amplitude"):
        row = next(p for p in ref["joint_fit"]["parameters"] if p["name"] == name)
        assert abs(fitted.parameters[name].value - row["value"]) < 0.1 * row["error"]
        assert fitted.parameters[name].error == pytest.approx(row["error"], rel=1e-3)
    assert result.total_stat == pytest.approx(ref["joint_fit"]["total_stat"], abs=1e-3)


def test_copy_is_deep_and_keeps_shared_models(datasets):
    datasets.models = [crab_model()]
    new = datasets.copy()
    assert new.names == datasets.names
    assert new[0] is not datasets[0]
    assert new[0].models[0] is new[3].models[0]  # still one shared model
    new.models["crab"].spectral_model.index.value = 3.0
    assert datasets.models["crab"].spectral_model.index.value == 2.0
    new[0].counts.data[...] = 0
    assert datasets[0].counts.data.sum() > 0


# ---------------------------------------------------------------------------- stacking
def test_stack_reduce_matches_reference(datasets, ref):
    before = [ds.counts.data.copy() for ds in datasets]
    stacked = datasets.stack_reduce(name="stacked")
    assert stacked.name == "stacked"
    assert isinstance(stacked, SpectrumDatasetOnOff)
    expected = ref["stacked"]
    np.testing.assert_array_equal(stacked.counts.data.ravel(), expected["counts_per_bin"])
    np.testing.assert_array_equal(stacked.counts_off.data.ravel(),
                                  expected["counts_off_per_bin"])
    np.testing.assert_allclose(stacked.acceptance_off.data.ravel(),
                               expected["acceptance_off_per_bin"], rtol=1e-5)
    np.testing.assert_array_equal(stacked.mask_safe.data.ravel().astype(int),
                                  expected["mask_safe_per_bin"])
    info = stacked.info_dict()
    assert info["counts"] == expected["counts_in_safe"] == 608
    assert info["livetime"].to_value("s") == pytest.approx(expected["livetime_s"], rel=1e-9)
    for ds, data in zip(datasets, before, strict=True):  # inputs unchanged
        np.testing.assert_array_equal(ds.counts.data, data)
    # the stacked fit gives the reference numbers
    stacked.models = [crab_model()]
    result = Fit().run(datasets=[stacked])
    row = {p["name"]: p for p in ref["stacked_fit"]["parameters"]}
    for name in ("index", "amplitude"):
        value = stacked.models["crab"].spectral_model.parameters[name].value
        assert abs(value - row[name]["value"]) < 0.1 * row[name]["error"]
    assert result.total_stat == pytest.approx(17.5905, abs=1e-3)


def test_info_table(datasets, ref):
    table = datasets.info_table()
    assert list(table["name"]) == datasets.names
    assert list(table["counts"]) == [r["counts_in_safe"] for r in ref["per_run"]]
    np.testing.assert_allclose(table["alpha"], [r["alpha"] for r in ref["per_run"]],
                               rtol=1e-9)
    assert table["livetime"].unit == u.s
    np.testing.assert_allclose(table["livetime"].quantity.to_value("s"),
                               [r["livetime_s"] for r in ref["per_run"]], rtol=1e-9)


def test_info_table_cumulative(datasets, ref):
    table = datasets.info_table(cumulative=True)
    expected = ref["info_table_cumulative"]
    assert table.colnames == list(expected["columns"])
    assert list(table["name"]) == ["stacked"] * 4
    assert list(table["counts"]) == expected["columns"]["counts"] == [173, 355, 483, 608]
    assert list(table["counts_off"]) == expected["columns"]["counts_off"]
    assert list(table["n_fit_bins"]) == expected["columns"]["n_fit_bins"]
    for key in ("excess", "sqrt_ts", "background", "npred_background", "exposure_min",
                "exposure_max", "livetime", "ontime", "counts_rate", "stat_sum", "acceptance",
                "acceptance_off", "alpha"):
        np.testing.assert_allclose(np.asarray(table[key], float), expected["columns"][key],
                                   rtol=1e-3, err_msg=key)
        assert str(table[key].unit or "") == expected["units"][key], key
    assert np.all(np.isnan(table["npred_signal"]))
    # the inputs are not modified by the cumulative stacking
    assert datasets[0].info_dict()["counts"] == 173


# ---------------------------------------------------------------------------- selections
def test_select_time(datasets):
    starts = [ds.gti.time_start[0] for ds in datasets]
    stops = [ds.gti.time_stop[-1] for ds in datasets]
    order = np.argsort([t.mjd for t in starts])
    first, second = int(order[0]), int(order[1])
    selected = datasets.select_time(starts[first], stops[second])
    assert sorted(selected.names) == sorted([datasets.names[first], datasets.names[second]])
    assert selected[0] is datasets[selected.names[0]]
    # 1 s short of the end of the second run: only the first one
    short = datasets.select_time(starts[first], stops[second] - 1 * u.s)
    assert short.names == [datasets.names[first]]
    # the tolerance is applied on both sides
    assert len(datasets.select_time(starts[first] + 0.5e-6 * u.s, stops[first])) == 1
    assert len(datasets.select_time(Time("2000-01-01"), Time("2020-01-01"))) == 4


def test_slice_by_energy(datasets):
    """Each dataset is cut to the reco bins covering [1, 10] TeV (its own edges)."""
    sliced = datasets.slice_by_energy(energy_min=1 * u.TeV, energy_max=10 * u.TeV)
    assert sliced.names == datasets.names
    emin, emax = sliced.energy_ranges
    edges = datasets[0].counts.geom.axes["energy"].edges.to_value("TeV")
    i0 = int(np.searchsorted(edges, emin[0].to_value("TeV") * (1 - 1e-9)))
    i1 = int(np.searchsorted(edges, emax[0].to_value("TeV") * (1 - 1e-9)))
    assert edges[i0] <= 1 < edges[i0 + 1] and edges[i1 - 1] < 10 <= edges[i1]
    np.testing.assert_allclose(emin.to_value("TeV"), edges[i0], rtol=1e-9)
    np.testing.assert_allclose(emax.to_value("TeV"), edges[i1], rtol=1e-9)
    for a, b in zip(sliced, datasets, strict=True):
        np.testing.assert_array_equal(a.counts.data.ravel(), b.counts.data.ravel()[i0:i1])
        np.testing.assert_array_equal(a.counts_off.data.ravel(),
                                      b.counts_off.data.ravel()[i0:i1])
    # a dataset without any bin in the range is left out
    assert len(datasets.slice_by_energy(energy_min=50 * u.TeV, energy_max=60 * u.TeV)) == 0


def test_meta_and_gti(datasets):
    gti = datasets.gti
    total = sum(ds.gti.time_sum.to_value("s") for ds in datasets)
    assert gti.time_sum.to_value("s") == pytest.approx(total, rel=1e-9)
    assert len(gti) == 4
    table = datasets.meta_table
    assert table.colnames[:2] == ["NAME", "TYPE"]
    assert list(table["NAME"]) == datasets.names
    assert set(table["TYPE"]) == {"SpectrumDatasetOnOff"}


def test_str(datasets):
    datasets.models = [crab_model()]
    text = str(datasets)
    assert text.startswith("Datasets\n--------\n")
    assert "Dataset 3: " in text
    assert "Type       : SpectrumDatasetOnOff" in text
    assert "Name       : 23559" in text
    assert "Models     : ['crab']" in text
    assert repr(datasets) == "Datasets(['23523', '23526', '23559', '23592'])"


# ---------------------------------------------------------------------------- I/O
def test_write_read_roundtrip(tmp_path, datasets, ref):
    datasets.models = [reference_best_fit(ref)]
    stat = datasets.stat_sum()
    datasets.write(tmp_path / "datasets.yaml", filename_models=tmp_path / "models.yaml")
    # same files as the reference run (roundtrip.files of datasets_stack_vs_joint.json)
    assert sorted(p.name for p in tmp_path.iterdir()) == ref["roundtrip"]["files"]
    text = (tmp_path / "datasets.yaml").read_text()
    index = yaml.safe_load(text)
    assert index["datasets"] == [
        {"name": n, "type": "SpectrumDatasetOnOff", "filename": f"pha_obs{n}.fits"}
        for n in datasets.names]
    assert index["metadata"]["creator"].startswith("gammapipe")
    # checksum: MD5 of the YAML text above it, as the reference tool writes and checks it
    body = text[:text.index("checksum:")]
    assert index["checksum"] == hashlib.md5(body.encode()).hexdigest()
    read = Datasets.read(tmp_path / "datasets.yaml", filename_models=tmp_path / "models.yaml")
    assert read.names == datasets.names
    assert read.stat_sum() == stat
    assert read.models.names == ["crab"]
    assert read[0].models[0] is read[3].models[0]
    # without models: no stat contribution from a model, data identical
    bare = Datasets.read(tmp_path / "datasets.yaml")
    assert all(ds.models is None for ds in bare)
    for a, b in zip(bare, datasets, strict=True):
        np.testing.assert_array_equal(a.counts_off.data, b.counts_off.data)
        assert a.livetime.to_value("s") == pytest.approx(b.livetime.to_value("s"), rel=1e-12)
    with pytest.raises(FileExistsError, match="overwrite"):
        datasets.write(tmp_path / "datasets.yaml")
    datasets.write(tmp_path / "datasets.yaml", overwrite=True)


def test_checksum_verification(tmp_path, datasets):
    datasets.write(tmp_path / "datasets.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Datasets.read(tmp_path / "datasets.yaml").names == datasets.names
    text = (tmp_path / "datasets.yaml").read_text()
    (tmp_path / "datasets.yaml").write_text(text.replace("origin: null", "origin: edited"))
    with pytest.warns(UserWarning, match="checksum verification failed"):
        Datasets.read(tmp_path / "datasets.yaml")
    # an index without checksum (hand-written) reads silently
    lines = [line for line in text.splitlines() if not line.startswith("checksum")]
    (tmp_path / "datasets.yaml").write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Datasets.read(tmp_path / "datasets.yaml")) == 4


def test_write_read_map_dataset(tmp_path, reference_dir):
    ds = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz", name="crab stacked")
    datasets = Datasets([ds])
    datasets.write(tmp_path / "index.yaml", write_covariance=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crab_stacked.fits", "index.yaml"]
    read = Datasets.read(tmp_path / "index.yaml", lazy=False)
    assert read.names == ["crab stacked"]
    assert isinstance(read[0], MapDataset)
    np.testing.assert_array_equal(read[0].counts.data, ds.counts.data)
    assert read[0].livetime.to_value("s") == pytest.approx(6313.811659421768, rel=1e-12)


def test_read_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("datasets:\n- name: a\n  type: NoSuchDataset\n"
                                       "  filename: a.fits\n")
    with pytest.raises(GammapipeError, match="unknown dataset type 'NoSuchDataset'"):
        Datasets.read(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("datasets:\n- name: a\n")
    with pytest.raises(ValueError, match=r"datasets\[0\] needs 'type' and 'filename'"):
        Datasets.read(tmp_path / "bad2.yaml")
    (tmp_path / "bad3.yaml").write_text("models: []\n")
    with pytest.raises(ValueError, match="no 'datasets' list"):
        Datasets.read(tmp_path / "bad3.yaml")
    (tmp_path / "missing.yaml").write_text(
        "datasets:\n- name: a\n  type: MapDataset\n  filename: a.fits\n")
    with pytest.raises(FileNotFoundError, match="a.fits"):
        Datasets.read(tmp_path / "missing.yaml")


def test_exposure_livetime_header_as_reference(tmp_path, reference_dir):
    """The EXPOSURE HDU carries the livetime the way the reference tool writes (and reads)
    it: ``META = '{"livetime": "<seconds> s"}'``."""
    path = reference_dir / "lowlevel_crab3d-stacked.fits.gz"
    ds = MapDataset.read(path)
    ds.write(tmp_path / "out.fits.gz")
    ours = fits.getheader(tmp_path / "out.fits.gz", "EXPOSURE")
    theirs = fits.getheader(path, "EXPOSURE")
    assert ours["META"] == theirs["META"] == '{"livetime": "6313.811659421768 s"}'
    assert ours["BUNIT"] == theirs["BUNIT"]
    assert MapDataset.read(tmp_path / "out.fits.gz").exposure.meta["livetime"] == (
        6313.811659421768 * u.s)
