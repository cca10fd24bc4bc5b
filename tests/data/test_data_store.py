"""DataStore and observations on real data.

Data: HESS DL3 DR1, H.E.S.S. collaboration; CTA first data challenge (1DC); MAGIC RAD_MAX
example files.
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from gammapipe.data import (
    GTI,
    DataStore,
    EventList,
    FixedPointingInfo,
    HDUIndexTable,
    Observations,
    ObservationTable,
)


@pytest.fixture(scope="module")
def hess_store(hess_dir):
    return DataStore.from_dir(hess_dir)


@pytest.fixture(scope="module")
def hess_obs_index(hess_dir):
    return Table.read(hess_dir / "obs-index.fits.gz")


def _irf_module():
    return pytest.importorskip("gammapipe.irf", reason="gammapipe.irf (helper H3) not available")


def test_from_dir_tables(hess_store, hess_dir):
    assert isinstance(hess_store.obs_table, ObservationTable)
    assert isinstance(hess_store.hdu_table, HDUIndexTable)
    assert len(hess_store.obs_ids) == 105
    assert hess_store.obs_ids[:3] == [20136, 20137, 20151]
    assert hess_store.hdu_table.base_dir == hess_dir.resolve()
    loc = hess_store.hdu_table.hdu_location(23523, "events")
    assert loc.path() == (hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz").resolve()
    assert loc.hdu_name == "events" and loc.hdu_class == "events"
    assert hess_store.hdu_table.hdu_location(23523, hdu_class="psf_table").hdu_type == "psf"
    assert hess_store.hdu_table.hdu_location(23523, "rad_max") is None
    with pytest.raises(ValueError, match="invalid hdu_type"):
        hess_store.hdu_table.hdu_location(23523, "banana")


def test_from_dir_expands_variables(hess_dir, monkeypatch):
    monkeypatch.setenv("GAMMAPIPE_TEST_DATA_DIR", str(hess_dir))
    store = DataStore.from_dir("$GAMMAPIPE_TEST_DATA_DIR")
    assert len(store.obs_ids) == 105


def test_info(hess_store):
    text = hess_store.info(show=False)
    assert "OBS_ID: 105 observations" in text
    assert "psf_table: 105" in text and "events: 105" in text


def test_observation_23523_numbers(hess_store, hess_dir, reference_dir):
    """Numbers of run 23523 against the raw file and makers_map.json (``spectrum.per_run``)."""
    obs = hess_store.obs(23523)
    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    header = fits.getheader(path, "EVENTS")
    assert obs.obs_id == 23523
    assert len(obs.events.table) == 7613
    assert obs.available_hdus == ["events", "gti", "aeff", "edisp", "psf", "bkg"]
    assert obs.available_irfs == ["aeff", "edisp", "psf", "bkg"]
    assert obs.observation_dead_time_fraction == pytest.approx(1 - header["DEADC"], rel=1e-12)
    assert obs.observation_time_duration.to_value(u.s) == header["ONTIME"] == 1687.0
    # gammapy's livetime: GTI sum x DEADC (makers_map.json spectrum.per_run livetime_s)
    per_run = json.loads((reference_dir / "makers_map.json").read_text())["spectrum"]["per_run"]
    livetime = {r["obs_id"]: r["livetime_s"] for r in per_run}
    assert obs.observation_live_time_duration.to_value(u.s) == pytest.approx(
        livetime[23523], rel=1e-12)
    # the LIVETIME keyword (float32) agrees to 1e-7
    assert obs.meta["livetime"].to_value(u.s) == header["LIVETIME"]
    assert obs.meta["livetime"].to_value(u.s) == pytest.approx(livetime[23523], rel=1e-7)
    assert obs.meta["telescope"] == "HESS" and obs.meta["obs_mode"] == "WOBBLE"
    assert obs.tstart.tt.iso == "2004-12-04 22:08:10.184"
    assert obs.tstop.tt.iso == "2004-12-04 22:36:17.184"
    assert (obs.tmid - obs.tstart).to_value(u.s) == pytest.approx(843.5, abs=1e-6)
    pointing = obs.get_pointing_icrs(obs.tmid)
    assert pointing.ra.deg == header["RA_PNT"] and pointing.dec.deg == header["DEC_PNT"]
    assert isinstance(obs.pointing, FixedPointingInfo)
    assert obs.target_radec.dec.deg == pytest.approx(22.014444444444)
    with pytest.warns(DeprecationWarning):
        assert obs.pointing_radec.dec.deg == header["DEC_PNT"]


def test_livetimes_of_reference_runs(hess_store, reference_dir):
    per_run = json.loads((reference_dir / "makers_map.json").read_text())["spectrum"]["per_run"]
    observations = hess_store.get_observations([r["obs_id"] for r in per_run])
    for obs, ref in zip(observations, per_run, strict=True):
        assert obs.obs_id == ref["obs_id"]
        assert obs.observation_live_time_duration.to_value(u.s) == pytest.approx(
            ref["livetime_s"], rel=1e-12)


def test_all_runs_consistent_with_obs_index(hess_store, hess_obs_index):
    """Every run: events, GTI and pointing load; numbers match the observation index."""
    observations = hess_store.get_observations()
    assert len(observations) == 105
    for obs, row in zip(observations, hess_obs_index, strict=True):
        assert obs.obs_id == row["OBS_ID"]
        events = obs.events
        assert isinstance(events, EventList)
        assert len(events.table) == row["EVENT_COUNT"]
        gti = obs.gti
        assert isinstance(gti, GTI)
        assert gti.met_start.value[0] == row["TSTART"]
        assert gti.met_stop.value[-1] == row["TSTOP"]
        assert gti.time_sum.to_value(u.s) == pytest.approx(row["ONTIME"], rel=1e-9)
        assert obs.observation_dead_time_fraction == pytest.approx(1 - row["DEADC"], rel=1e-6)
        assert obs.meta["livetime"].to_value(u.s) == pytest.approx(row["LIVETIME"], rel=1e-6)
        icrs = obs.get_pointing_icrs(obs.tmid)
        assert icrs.ra.deg == pytest.approx(row["RA_PNT"], abs=1e-4)  # float32 index
        assert icrs.dec.deg == pytest.approx(row["DEC_PNT"], abs=1e-4)


def test_all_runs_load_irfs(hess_store):
    irf = _irf_module()
    observations = hess_store.get_observations()
    for obs in observations:
        assert isinstance(obs.aeff, irf.EffectiveAreaTable2D)
        assert isinstance(obs.edisp, irf.EnergyDispersion2D)
        assert isinstance(obs.psf, irf.PSF3D)
        assert isinstance(obs.bkg, irf.Background3D)
        assert obs.rad_max is None


def test_irf_values_match_file(hess_store, hess_dir, reference_dir):
    _irf_module()
    obs = hess_store.obs(23592)
    # makers_map.json: aeff LO_THRES of obs 23592
    ref = json.loads((reference_dir / "makers_map.json").read_text())
    lo = ref["safe_mask_aeff_default_offset_max_3deg"]["aeff_LO_THRES_TeV"]
    assert obs.aeff.meta["LO_THRES"] == pytest.approx(lo, rel=1e-12)
    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz"
    with fits.open(path) as hdul:
        raw = np.asarray(hdul["AEFF"].data["EFFAREA"][0], dtype=float)
    np.testing.assert_array_equal(np.sort(obs.aeff.data.ravel()), np.sort(raw.ravel()))


def test_get_observations_from_selection(hess_store):
    selected = hess_store.obs_table.select_observations(dict(
        type="sky_circle", frame="icrs", lon="83.633 deg", lat="22.014 deg", radius="5 deg"))
    observations = hess_store.get_observations(selected["OBS_ID"])
    assert isinstance(observations, Observations)
    assert observations.ids == ["23523", "23526", "23559", "23592"]
    assert observations["23559"].obs_id == 23559
    assert observations[1].obs_id == 23526
    assert observations[1:3].ids == ["23526", "23559"]
    with pytest.raises(KeyError, match="99"):
        observations["99"]  # noqa: B018


def test_cta_1dc(data_dir):
    """FILE_DIR relative to the index folder (../../data, ../../caldb), psf_3gauss."""
    irf = _irf_module()
    store = DataStore.from_dir(data_dir / "cta-1dc" / "index" / "gps")
    assert store.obs_ids == [110380, 111140, 111159, 111630]
    obs = store.obs(110380)
    assert len(obs.events.table) == 106217
    assert obs.gti.time_sum.to_value(u.s) == pytest.approx(1800.0)
    assert isinstance(obs.psf, irf.EnergyDependentMultiGaussPSF)
    assert isinstance(obs.aeff, irf.EffectiveAreaTable2D)
    assert isinstance(obs.bkg, irf.Background3D)
    assert obs.observation_dead_time_fraction == pytest.approx(0.02, abs=1e-7)
    assert obs.location.height.to_value(u.m) == pytest.approx(2150.0)
    loc = store.hdu_table.hdu_location(110380, "aeff")
    assert loc.path() == (data_dir / "cta-1dc" / "caldb" / "data" / "cta" / "1dc" / "bcf"
                          / "South_z20_50h" / "irf_file.fits").resolve()


def test_magic_point_like(data_dir):
    irf = _irf_module()
    store = DataStore.from_dir(data_dir / "magic" / "rad_max" / "data")
    with pytest.raises(Exception, match="psf"):
        store.get_observations(required_irf="full-enclosure")
    observations = store.get_observations(required_irf="point-like")
    assert len(observations) == 2
    obs = observations["5029747"]
    assert isinstance(obs.rad_max, irf.RadMax2D)
    assert obs.psf is None and obs.bkg is None
    assert obs.available_irfs == ["aeff", "edisp", "rad_max"]
    assert len(obs.events.table) == 11189
    # MAGIC: TIMESYS UTC
    assert obs.events.time_ref.scale == "utc"
    assert obs.observation_dead_time_fraction == pytest.approx(1 - 0.991545, rel=1e-9)
    assert obs.location.lat.deg == pytest.approx(28.761944)
    skipped = store.get_observations(required_irf=["aeff", "edisp"])
    assert len(skipped) == 2


def test_from_events_files(hess_dir, data_dir):
    paths = [hess_dir / "data" / f"hess_dl3_dr1_obs_id_{i:06d}.fits.gz" for i in (23523, 23526)]
    store = DataStore.from_events_files(paths)
    assert store.obs_ids == [23523, 23526]
    assert sorted(store.hdu_table.hdu_type_unique) == sorted(
        ["events", "gti", "aeff", "edisp", "psf", "bkg"])
    obs = store.obs(23526)
    assert len(obs.events.table) == len(EventList.read(paths[1]).table)
    assert store.obs_table["RA_PNT"][0] == pytest.approx(83.633333333333)
    assert store.obs_table.time_ref.mjd == pytest.approx(51910.000742870370370241)
    # CTA 1DC: IRFs in a separate file
    cta = data_dir / "cta-1dc"
    events = cta / "data" / "baseline" / "gps" / "gps_baseline_110380.fits"
    irfs = cta / "caldb" / "data" / "cta" / "1dc" / "bcf" / "South_z20_50h" / "irf_file.fits"
    store = DataStore.from_events_files([events], irfs_paths=[irfs])
    assert store.hdu_table.hdu_location(110380, "psf").hdu_class == "psf_3gauss"
    assert store.hdu_table.hdu_location(110380, "aeff").path().resolve() == irfs.resolve()
    if _has_irf():
        assert store.obs(110380).psf is not None


def _has_irf() -> bool:
    try:
        import gammapipe.irf  # noqa: F401
    except ImportError:
        return False
    return True


def test_check_clean_store(data_dir):
    store = DataStore.from_dir(data_dir / "magic" / "rad_max" / "data")
    if not _has_irf():
        pytest.skip("gammapipe.irf not available")
    assert list(store.check()) == []


def test_copy_obs(hess_store, tmp_path):
    hess_store.copy_obs([23523, 23526], tmp_path / "copy")
    store = DataStore.from_dir(tmp_path / "copy")
    assert store.obs_ids == [23523, 23526]
    assert len(store.obs(23526).events.table) == len(hess_store.obs(23526).events.table)
    with pytest.raises(FileExistsError):
        hess_store.copy_obs([23523], tmp_path / "copy")


def test_magic_select_rad_max(data_dir):
    _irf_module()
    store = DataStore.from_dir(data_dir / "magic" / "rad_max" / "data")
    obs = store.obs(5029747, required_irf="point-like")
    crab = SkyCoord(83.633, 22.014, unit="deg")
    events = obs.events
    selected = events.select_rad_max(obs.rad_max, crab)
    offset = obs.get_pointing_icrs(obs.tmid).separation(crab)
    radius = obs.rad_max.evaluate(method="nearest", energy=events.energy, offset=offset)
    expected = events.radec.separation(crab).deg <= radius.to_value("deg")
    assert len(selected) == int(expected.sum()) > 100
