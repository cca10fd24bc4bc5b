"""On-off datasets (SpectrumDatasetOnOff, MapDatasetOnOff): WStat, info, stacking of OFF
counts and acceptances, OGIP and GADF serialisation.

Data: HESS DL3 DR1, H.E.S.S. collaboration (runs 23523, 23526, 23559, 23592). Reference
numbers and OGIP files: gammapy 2.1 (``datasets_stack_vs_joint`` and ``makers_map``).
"""

from __future__ import annotations

import json
import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from regions import CircleSkyRegion

from gammapipe.datasets import Datasets, MapDataset
from gammapipe.datasets.map_onoff import MapDatasetOnOff, stack_onoff_arrays
from gammapipe.datasets.ogip import ogip_filenames
from gammapipe.datasets.spectrum import SpectrumDataset, SpectrumDatasetOnOff
from gammapipe.makers import SafeMaskMaker
from gammapipe.makers.background.reflected import ReflectedRegionsBackgroundMaker
from gammapipe.makers.spectrum import SpectrumDatasetMaker
from gammapipe.maps import Map, MapAxis, RegionGeom, WcsGeom
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel
from gammapipe.stats import WStatCountsStatistic, wstat
from gammapipe.utils.errors import FITSFormatError, MissingFileError

TARGET = SkyCoord(ra=83.63, dec=22.01, unit="deg", frame="icrs")
OBS_IDS = [23523, 23526, 23559, 23592]


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())


@pytest.fixture(scope="module")
def observations(hess_dir):
    from gammapipe.data import DataStore

    return DataStore.from_dir(hess_dir).get_observations(OBS_IDS)


def _reduce(observations, region_radius="0.11 deg", energy=(0.5, 40, 20),
            energy_true=(0.3, 100, 40), exclusion="tutorial", containment=True,
            safe_mask="aeff-max"):
    on_region = CircleSkyRegion(center=TARGET, radius=Angle(region_radius))
    if exclusion == "tutorial":
        region = CircleSkyRegion(SkyCoord(183.604, -8.708, unit="deg", frame="galactic"),
                                 0.5 * u.deg)
        geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=TARGET.galactic,
                              proj="TAN", frame="icrs")
        exclusion_mask = ~geom.region_mask([region])
    else:
        geom = WcsGeom.create(skydir=(83.63, 22.01), width=5, binsz=0.05)
        exclusion_mask = geom.region_mask([on_region], inside=False)
    e_axis = MapAxis.from_energy_bounds(energy[0], energy[1], nbin=energy[2], unit="TeV",
                                        name="energy")
    if energy_true[2] == 31:
        e_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
        et_axis = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV",
                                      interp="log")
    else:
        et_axis = MapAxis.from_energy_bounds(energy_true[0], energy_true[1],
                                             nbin=energy_true[2], unit="TeV",
                                             name="energy_true")
    empty = SpectrumDataset.create(RegionGeom.create(on_region, axes=[e_axis]),
                                   energy_axis_true=et_axis)
    maker = SpectrumDatasetMaker(containment_correction=containment,
                                 selection=["counts", "exposure", "edisp"])
    bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    out = Datasets()
    for obs in observations:
        ds = bkg_maker.run(maker.run(empty.copy(name=str(obs.obs_id)), obs), obs)
        if safe_mask == "aeff-max":
            ds.mask_safe = Map.from_geom(ds.counts.geom, dtype=bool,
                                         data=safe.make_mask_energy_aeff_max(ds, obs))
        out.append(ds)
    return out


@pytest.fixture(scope="module")
def runs(observations):
    return _reduce(observations)


@pytest.fixture(scope="module")
def stacked(runs):
    st = runs[0].to_masked(name="stacked")
    for ds in list(runs)[1:]:
        st.stack(ds)
    return st


# ---------------------------------------------------------------------------- basics
def test_wstat_and_alpha(runs):
    ds = runs[0]
    ds.models = [SkyModel(spectral_model=PowerLawSpectralModel(), name="m")]
    try:
        mu_sig = ds.npred_signal().data
        mask = ds.mask_safe.data
        expected = wstat(ds.counts.data, ds.counts_off.data, ds.alpha.data, mu_sig)[mask].sum()
        assert ds.stat_sum() == pytest.approx(expected, rel=1e-12)
        assert ds.stat_type == "wstat"
        # npred_background is the profiled background alpha x mu_bkg
        npred = ds.npred().data
        np.testing.assert_allclose(npred, mu_sig + ds.npred_background().data, rtol=1e-12)
        np.testing.assert_allclose(ds.npred_off().data * ds.alpha.data,
                                   ds.npred_background().data, rtol=1e-12)
    finally:
        ds.models = None
    np.testing.assert_allclose(ds.alpha.data, 1 / 12)
    np.testing.assert_allclose(ds.background.data, ds.counts_off.data / 12)
    with pytest.raises(Exception, match="alpha x counts_off"):
        ds.background = ds.counts


def test_info_per_run(runs, ref):
    for ds, row in zip(runs, ref["per_run"], strict=True):
        info = ds.info_dict()
        assert info["counts"] == row["counts_in_safe"]
        assert info["counts_off"] == row["counts_off_in_safe"]
        assert info["alpha"] == pytest.approx(row["alpha"], rel=1e-12)
        assert info["acceptance_off"] == pytest.approx(row["acceptance_off"], rel=1e-12)
        assert info["excess"] == pytest.approx(row["excess_in_safe"], rel=1e-12)
        assert info["sqrt_ts"] == pytest.approx(row["sqrt_ts_in_safe"], rel=1e-9)
        np.testing.assert_array_equal(ds.counts_off.data.ravel(), row["counts_off_per_bin"])
        np.testing.assert_array_equal(ds.mask_safe.data.ravel().astype(int),
                                      row["mask_safe_per_bin"])
    text = str(runs[0])
    assert "SpectrumDatasetOnOff" in text and "wstat" in text and "Alpha" in text


def test_info_table_columns(runs, ref):
    """Cumulative sums of the runs reproduce the reference's info table."""
    table = ref["info_table_cumulative"]["columns"]
    counts = np.cumsum([ds.info_dict()["counts"] for ds in runs])
    np.testing.assert_array_equal(counts, table["counts"])
    counts_off = np.cumsum([ds.info_dict()["counts_off"] for ds in runs])
    np.testing.assert_array_equal(counts_off, table["counts_off"])


# ---------------------------------------------------------------------------- stacking
def test_stack_matches_reference(stacked, ref):
    rs = ref["stacked"]
    np.testing.assert_array_equal(stacked.counts.data.ravel(), rs["counts_per_bin"])
    np.testing.assert_array_equal(stacked.counts_off.data.ravel(), rs["counts_off_per_bin"])
    np.testing.assert_array_equal(stacked.acceptance.data.ravel(), rs["acceptance_per_bin"])
    np.testing.assert_allclose(stacked.acceptance_off.data.ravel(),
                               rs["acceptance_off_per_bin"], rtol=1e-6)
    np.testing.assert_array_equal(stacked.mask_safe.data.ravel().astype(int),
                                  rs["mask_safe_per_bin"])
    info = stacked.info_dict()
    assert info["counts"] == rs["counts_in_safe"] == 608
    assert info["counts_off"] == rs["counts_off_in_safe"] == 1058
    assert info["alpha"] == pytest.approx(rs["alpha"], rel=1e-6)
    assert info["acceptance_off"] == pytest.approx(rs["acceptance_off"], rel=1e-6)
    assert info["excess"] == pytest.approx(rs["excess_in_safe"], rel=1e-7)
    assert info["sqrt_ts"] == pytest.approx(rs["sqrt_ts_in_safe"], rel=1e-7)
    assert info["livetime"].to_value("s") == pytest.approx(rs["livetime_s"], rel=1e-12)
    expected = np.array(rs["exposure_per_true_bin_m2s"])
    got = stacked.exposure.quantity.to_value("m2 s").ravel()
    np.testing.assert_allclose(got[expected > 0], expected[expected > 0], rtol=1e-4)
    rows = stacked.edisp.get_edisp_kernel().data.sum(axis=1)
    np.testing.assert_allclose(rows, rs["edisp_kernel_row_sums"], atol=1e-6)


def test_stack_conserves_background(runs, stacked):
    """alpha x counts_off of the stacked dataset equals the sum over runs (safe bins)."""
    total = sum(np.where(ds.mask_safe.data, ds.background.data, 0) for ds in runs)
    np.testing.assert_allclose(stacked.background.data, total, rtol=1e-6)
    # and alpha is not normalised away: it differs from bin to bin
    assert np.ptp(stacked.alpha.data) > 0.01


def test_stack_onoff_arrays_zero_off_counts():
    acc, off, acc_off = stack_onoff_arrays(
        np.ones(3), np.array([0.0, 2.0, 4.0]), np.full(3, 0.5), None,
        np.ones(3), np.array([0.0, 2.0, 0.0]), np.full(3, 0.25), None, dtype=float)
    np.testing.assert_allclose(acc, 2)
    np.testing.assert_allclose(off, [0, 4, 4])
    # bin 1: alpha = (0.5 * 2 + 0.25 * 2) / 4 = 0.375; bin 2: 0.5
    # bin 0 (no OFF counts): mean alpha over all bins = (1.5 + 2) / 8 = 0.4375
    np.testing.assert_allclose(acc / acc_off, [0.4375, 0.375, 0.5])


def test_zero_off_counts_statistic(runs):
    ds = runs[0].copy(name="zero-off")
    ds.counts_off = ds.counts_off.copy(data=np.zeros_like(ds.counts_off.data))
    ds.models = [SkyModel(spectral_model=PowerLawSpectralModel(), name="m0")]
    stat = ds.stat_sum()
    assert np.isfinite(stat)
    # with no OFF counts the profiled background vanishes where mu_sig is large
    mu_sig = ds.npred_signal().data
    n_on = ds.counts.data
    alpha = ds.alpha.data
    mask = ds.mask_safe.data
    expected = wstat(n_on, 0 * n_on, alpha, mu_sig)[mask].sum()
    assert stat == pytest.approx(expected, rel=1e-12)
    info = ds.info_dict()
    assert info["counts_off"] == 0 and np.isfinite(info["alpha"])


def test_to_spectrum_dataset_and_fake(runs):
    ds = runs[1]
    plain = ds.to_spectrum_dataset(name="plain")
    assert isinstance(plain, SpectrumDataset) and not isinstance(plain, SpectrumDatasetOnOff)
    np.testing.assert_allclose(plain.background.data, ds.alpha.data * ds.counts_off.data)
    assert plain.stat_type == "cash"
    fake = ds.copy(name="fake")
    fake.fake(npred_background=ds.background, random_state=42)
    fake2 = ds.copy(name="fake2")
    fake2.fake(npred_background=ds.background, random_state=42)
    np.testing.assert_array_equal(fake.counts.data, fake2.counts.data)
    assert abs(fake.counts_off.data.sum() - ds.counts_off.data.sum()) < 5 * np.sqrt(
        ds.counts_off.data.sum())


# ---------------------------------------------------------------------------- OGIP
def test_read_reference_ogip_single_run(observations, reference_dir):
    """makers_map-obs-23523 (r = 0.2 deg, 1-10 TeV, no containment correction)."""
    ds = _reduce([observations[0]], region_radius="0.2 deg", energy=(1, 10, 11),
                 energy_true=(0.3, 10, 31), exclusion="on", containment=False)[0]
    read = SpectrumDatasetOnOff.read(reference_dir / "makers_map-obs-23523.fits.gz",
                                     format="ogip")
    assert read.name == "obs-23523"
    np.testing.assert_array_equal(read.counts.data, ds.counts.data)
    np.testing.assert_array_equal(read.counts_off.data, ds.counts_off.data)
    np.testing.assert_allclose(read.acceptance.data, ds.acceptance.data)
    np.testing.assert_allclose(read.acceptance_off.data, ds.acceptance_off.data)
    np.testing.assert_allclose(read.exposure.quantity.to_value("m2 s"),
                               ds.exposure.quantity.to_value("m2 s"), rtol=1e-12)
    # the RMF matrix is stored as float32
    np.testing.assert_allclose(read.edisp.get_edisp_kernel().data,
                               ds.edisp.get_edisp_kernel().data, atol=2e-7)
    assert read.livetime.to_value("s") == pytest.approx(ds.livetime.to_value("s"), rel=1e-12)
    np.testing.assert_array_equal(read.mask_safe.data, ds.mask_safe.data)
    assert read.gti.time_sum.to_value("s") == pytest.approx(ds.gti.time_sum.to_value("s"))
    # the REGION HDU stores the circle in pixels of a 0.1 deg TAN grid
    assert read.counts.geom.region.radius.to_value("deg") == pytest.approx(0.2, rel=1e-5)


def test_read_reference_ogip_stacked(stacked, reference_dir):
    read = SpectrumDatasetOnOff.read(
        reference_dir / "datasets_stack_vs_joint-stacked.fits.gz", format="ogip")
    np.testing.assert_array_equal(read.counts.data, stacked.counts.data)
    np.testing.assert_array_equal(read.counts_off.data, stacked.counts_off.data)
    np.testing.assert_allclose(read.acceptance_off.data, stacked.acceptance_off.data,
                               rtol=1e-6)
    good = stacked.exposure.data > 0
    np.testing.assert_allclose(read.exposure.data[good], stacked.exposure.data[good],
                               rtol=1e-4)
    np.testing.assert_allclose(read.edisp.get_edisp_kernel().data,
                               stacked.edisp.get_edisp_kernel().data, atol=1e-6)


@pytest.mark.parametrize("fmt", ["ogip", "gadf"])
def test_write_read_roundtrip(tmp_path, runs, fmt):
    ds = runs[2].copy(name="23559")
    ds.models = [SkyModel(spectral_model=PowerLawSpectralModel(index=2.6), name="m")]
    path = tmp_path / "obs.fits.gz"
    ds.write(path, format=fmt)
    if fmt == "ogip":
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["obs.fits.gz", "obs_arf.fits.gz", "obs_bkg.fits.gz",
                         "obs_rmf.fits.gz"]
    else:
        assert [p.name for p in tmp_path.iterdir()] == ["obs.fits.gz"]
    back = SpectrumDatasetOnOff.read(path, format=fmt)
    back.models = [ds.models[0].copy(name="m2")]
    if fmt == "gadf":
        assert back.stat_sum() == ds.stat_sum()
    else:
        # OGIP RMF matrices are float32 (MATRIX column format "PE")
        assert back.stat_sum() == pytest.approx(ds.stat_sum(), rel=1e-9)
        np.testing.assert_array_equal(back.counts_off.data, ds.counts_off.data)
    np.testing.assert_array_equal(back.mask_safe.data, ds.mask_safe.data)
    np.testing.assert_allclose(back.alpha.data, ds.alpha.data, rtol=1e-12)
    # the format is recognised when not given
    auto = SpectrumDatasetOnOff.read(path)
    np.testing.assert_array_equal(auto.counts_off.data, ds.counts_off.data)
    with pytest.raises(FileExistsError):
        ds.write(path, format=fmt)
    ds.write(path, format=fmt, overwrite=True)


def test_ogip_headers(tmp_path, runs):
    from astropy.io import fits

    ds = runs[0]
    path = tmp_path / "spec.fits"
    ds.write(path, format="ogip")
    files = ogip_filenames(path)
    with fits.open(files["pha"]) as pha:
        header = pha["SPECTRUM"].header
        assert header["HDUCLASS"] == "OGIP" and header["HDUCLAS2"] == "TOTAL"
        assert header["EXPOSURE"] == pytest.approx(ds.livetime.to_value("s"))
        assert header["BACKFILE"] == "spec_bkg.fits"
        assert header["RESPFILE"] == "spec_rmf.fits"
        assert header["ANCRFILE"] == "spec_arf.fits"
        cols = pha["SPECTRUM"].columns.names
        assert cols == ["CHANNEL", "COUNTS", "QUALITY", "BACKSCAL", "AREASCAL"]
        np.testing.assert_array_equal(pha["SPECTRUM"].data["QUALITY"],
                                      np.where(ds.mask_safe.data.ravel(), 0, 1))
    with fits.open(files["bkg"]) as bkg:
        assert bkg["SPECTRUM"].header["HDUCLAS2"] == "BKG"
        np.testing.assert_allclose(bkg["SPECTRUM"].data["BACKSCAL"], 12)
    with fits.open(files["arf"]) as arf:
        specresp = arf["SPECRESP"].data["SPECRESP"]
        np.testing.assert_allclose(specresp * ds.livetime.to_value("s"),
                                   ds.exposure.quantity.to_value("m2 s").ravel(), rtol=1e-12)


def test_ogip_errors(tmp_path, reference_dir):
    arf = reference_dir / "makers_map-obs-23523_arf.fits.gz"
    with pytest.raises(FITSFormatError, match="makers_map-obs-23523_arf"):
        SpectrumDatasetOnOff.read(arf, format="ogip")
    bkg = reference_dir / "makers_map-obs-23523_bkg.fits.gz"
    with pytest.raises(FITSFormatError, match="background"):
        SpectrumDatasetOnOff.read(bkg, format="ogip")
    for name in ("makers_map-obs-23523.fits.gz", "makers_map-obs-23523_bkg.fits.gz",
                 "makers_map-obs-23523_arf.fits.gz"):
        shutil.copy(reference_dir / name, tmp_path / name)
    with pytest.raises(MissingFileError, match="makers_map-obs-23523_rmf.fits.gz"):
        SpectrumDatasetOnOff.read(tmp_path / "makers_map-obs-23523.fits.gz", format="ogip")
    with pytest.raises(MissingFileError, match="nothere"):
        SpectrumDatasetOnOff.read(tmp_path / "nothere.fits", format="ogip")
    with pytest.raises(ValueError, match="format"):
        SpectrumDatasetOnOff.read(tmp_path / "x.fits", format="xspec")
    # an ARF is neither an OGIP spectrum nor a GADF on-off dataset
    with pytest.raises(KeyError, match="makers_map-obs-23523_arf"):
        SpectrumDatasetOnOff.read(tmp_path / "makers_map-obs-23523_arf.fits.gz")


# ---------------------------------------------------------------------------- map on-off
def _map_onoff(name, seed):
    axis = MapAxis.from_energy_bounds(1, 10, nbin=2, unit="TeV", name="energy")
    geom = WcsGeom.create(skydir=TARGET, width=2, binsz=0.1, axes=[axis])
    rng = np.random.default_rng(seed)
    ds = MapDataset.create(geom, name=name)
    ds.counts.data = rng.poisson(5, geom.data_shape).astype("float32")
    ds.exposure.data[...] = 1e9
    ds.mask_safe.data[...] = True
    counts_off = Map.from_geom(geom, data=rng.poisson(50, geom.data_shape).astype("float32"))
    acceptance_off = Map.from_geom(geom, data=np.full(geom.data_shape, 10.0 + seed))
    return MapDatasetOnOff.from_map_dataset(ds, acceptance=1, acceptance_off=acceptance_off,
                                            counts_off=counts_off)


def test_map_onoff_basics_and_stack(tmp_path):
    a, b = _map_onoff("a", 1), _map_onoff("b", 2)
    assert a.stat_type == "wstat" and a.background is not None
    md = a.to_map_dataset(name="md")
    assert type(md) is MapDataset
    np.testing.assert_allclose(md.background.data, a.counts_off.data / 11.0, rtol=1e-6)
    total_bkg = a.background.data + b.background.data
    st = MapDatasetOnOff.from_geoms(**a.geoms, name="st")
    st.stack(a)
    st.stack(b)
    np.testing.assert_array_equal(st.counts.data, a.counts.data + b.counts.data)
    np.testing.assert_array_equal(st.counts_off.data, a.counts_off.data + b.counts_off.data)
    np.testing.assert_allclose(st.background.data, total_bkg, rtol=1e-5)
    np.testing.assert_allclose(st.acceptance.data, 2)
    cut = st.cutout(TARGET, width="1 deg")
    assert cut.counts_off.data.shape == (2, 10, 10)
    assert isinstance(cut, MapDatasetOnOff)
    path = tmp_path / "map-onoff.fits"
    st.write(path)
    back = MapDatasetOnOff.read(path)
    np.testing.assert_array_equal(back.counts_off.data, st.counts_off.data)
    assert back.stat_sum() == pytest.approx(st.stat_sum(), rel=1e-12)
    assert "MapDatasetOnOff" in str(st)


def test_map_onoff_to_spectrum_dataset():
    ds = _map_onoff("m", 3)
    region = CircleSkyRegion(TARGET, 0.25 * u.deg)
    spec = ds.to_spectrum_dataset(region)
    inside = ds.counts.geom.region_mask([region]).data
    assert spec.counts.data.sum() == ds.counts.data[inside].sum()
    assert spec.counts_off.data.sum() == ds.counts_off.data[inside].sum()
    bkg_map = (ds.alpha.data * ds.counts_off.data)[inside].sum()
    assert spec.background.data.sum() == pytest.approx(bkg_map, rel=1e-6)
    info = spec.info_dict()
    stat = WStatCountsStatistic(info["counts"], info["counts_off"], info["alpha"])
    assert info["sqrt_ts"] == pytest.approx(float(stat.sqrt_ts), rel=1e-12)


def test_map_onoff_geometry_ops():
    ds = _map_onoff("g", 4)
    ds.mask_safe.data[0, :3, :] = False
    bkg = np.where(ds.mask_safe.data, ds.background.data, 0)
    image = ds.to_image()
    assert isinstance(image, MapDatasetOnOff)
    assert image.counts_off.data.shape == (1, 20, 20)
    np.testing.assert_allclose(image.background.data[0], bkg.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(image.counts_off.data[0],
                               np.where(ds.mask_safe.data, ds.counts_off.data, 0).sum(0))
    down = ds.downsample(2)
    assert down.counts_off.data.shape == (2, 10, 10)
    assert down.background.data.sum() == pytest.approx(bkg.sum(), rel=1e-6)
    sliced = ds.slice_by_energy(energy_min=1 * u.TeV, energy_max=np.sqrt(10) * u.TeV)
    assert sliced.counts_off.data.shape == (1, 20, 20)
    np.testing.assert_array_equal(sliced.counts_off.data[0], ds.counts_off.data[0])
    padded = ds.pad(2)
    assert padded.counts_off.data.shape == (2, 24, 24)
    assert padded.counts_off.data[:, :2].sum() == 0
    masked = ds.to_masked(name="masked")
    assert isinstance(masked, MapDatasetOnOff)
    np.testing.assert_allclose(masked.background.data, bkg, rtol=1e-5)
