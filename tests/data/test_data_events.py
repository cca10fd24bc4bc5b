"""Tests of gammapipe.data.EventList on HESS DL3 DR1 (H.E.S.S. collaboration) and CTA 1DC."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta
from regions import CircleSkyRegion, RectangleSkyRegion

from gammapipe.data import GTI, EventList
from gammapipe.utils.errors import FITSFormatError, MissingHDUError, UnitError


def _hess_file(hess_dir, obs_id):
    return hess_dir / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"


@pytest.fixture(scope="module")
def raw_23523(hess_dir):
    """Raw columns and header of the EVENTS HDU of run 23523 read with astropy alone."""
    with fits.open(_hess_file(hess_dir, 23523)) as hdul:
        data = hdul["EVENTS"].data
        cols = {name: np.array(data[name], dtype=float) for name in
                ("TIME", "RA", "DEC", "ENERGY")}
        return cols, hdul["EVENTS"].header.copy()


@pytest.fixture(scope="module")
def events_23523(hess_dir):
    return EventList.read(_hess_file(hess_dir, 23523))


def test_events_read_basic(events_23523, raw_23523):
    cols, header = raw_23523
    events = events_23523
    assert len(events) == 7613
    assert events.energy.unit == u.TeV
    np.testing.assert_array_equal(events.energy.value, cols["ENERGY"])
    np.testing.assert_array_equal(events.radec.ra.deg, cols["RA"])
    assert events.meta["OBS_ID"] == 23523
    assert events.observation_time_duration.to_value(u.s) == header["ONTIME"]
    assert events.observation_live_time_duration.to_value(u.s) == header["LIVETIME"]
    assert events.observation_dead_time_fraction == pytest.approx(1 - header["DEADC"], rel=1e-12)
    assert events.is_pointed_observation
    assert events.pointing_radec.dec.deg == header["DEC_PNT"]
    assert events.observatory_earth_location.lat.deg == pytest.approx(header["GEOLAT"])
    assert "Number of events : 7613" in str(events)


def test_events_time(events_23523, raw_23523):
    cols, header = raw_23523
    time_ref = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="tt")
    times = events_23523.time
    assert times.scale == "tt"
    expected = time_ref + TimeDelta(cols["TIME"], format="sec")
    assert np.max(np.abs((times - expected).to_value(u.s))) < 1e-6
    assert events_23523.time_ref == time_ref
    assert events_23523.observation_time_start.tt.iso == "2004-12-04 22:08:10.184"
    assert events_23523.observation_time_stop.tt.iso == "2004-12-04 22:36:17.184"


def test_events_offset_matches_astropy(events_23523):
    offset = events_23523.offset
    expected = events_23523.radec.separation(events_23523.pointing_radec)
    np.testing.assert_allclose(offset.deg, expected.deg, atol=1e-9)
    center = SkyCoord(184.557, -5.784, unit="deg", frame="galactic")
    np.testing.assert_allclose(events_23523.offset_from(center).deg,
                               events_23523.radec.separation(center).deg, atol=1e-9)


def test_events_galactic(events_23523):
    gal = events_23523.galactic
    assert gal.frame.name == "galactic"
    assert gal[0].separation(events_23523.radec[0]).deg < 1e-9


def test_events_select_energy(events_23523, raw_23523):
    energy = raw_23523[0]["ENERGY"]
    selected = events_23523.select_energy([1, 10] * u.TeV)
    expected = int(((energy >= 1) & (energy < 10)).sum())
    assert len(selected) == expected
    assert expected > 1000
    # strings and other units are accepted
    assert len(events_23523.select_energy(["1 TeV", "10000 GeV"])) == expected


def test_events_select_offset_and_parameter(events_23523):
    offset = events_23523.offset.deg
    selected = events_23523.select_offset([0.5, 1.5] * u.deg)
    assert len(selected) == int(((offset >= 0.5) & (offset < 1.5)).sum())
    ra = np.asarray(events_23523.table["RA"])
    sel = events_23523.select_parameter("RA", (83, 84) * u.deg)
    assert len(sel) == int(((ra >= 83) & (ra < 84)).sum())
    with pytest.raises(KeyError, match="NOPE"):
        events_23523.select_parameter("NOPE", (0, 1))


def test_events_select_time(events_23523, raw_23523):
    cols, _ = raw_23523
    t0 = events_23523.observation_time_start
    selected = events_23523.select_time((t0 + 100 * u.s, t0 + 400 * u.s))
    met0 = events_23523.meta["TSTART"]
    expected = int(((cols["TIME"] >= met0 + 100) & (cols["TIME"] < met0 + 400)).sum())
    assert len(selected) == expected > 0


def test_events_select_region_circle(events_23523):
    crab = SkyCoord(83.633, 22.014, unit="deg")
    region = CircleSkyRegion(crab, 0.2 * u.deg)
    selected = events_23523.select_region(region)
    expected = int((events_23523.radec.separation(crab).deg <= 0.2).sum())
    assert len(selected) == expected
    assert expected > 100
    # DS9 string and list of regions
    text = "icrs; circle(83.633, 22.014, 0.2)"
    assert len(events_23523.select_region(text)) == expected
    other = CircleSkyRegion(SkyCoord(84.5, 22.0, unit="deg"), 0.1 * u.deg)
    both = events_23523.select_region([region, other])
    n_other = int((events_23523.radec.separation(other.center).deg <= 0.1).sum())
    assert len(both) == expected + n_other


def test_events_select_region_box_matches_regions_package(events_23523):
    from astropy.wcs import WCS

    box = RectangleSkyRegion(SkyCoord(83.633, 22.014, unit="deg"), 1 * u.deg, 0.5 * u.deg)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    wcs.wcs.crval = [83.633, 22.014]
    wcs.wcs.crpix = [50, 50]
    wcs.wcs.cdelt = [-0.02, 0.02]
    expected = int(box.contains(events_23523.radec, wcs).sum())
    assert len(events_23523.select_region(box, wcs=wcs)) == expected
    # without a wcs: local gnomonic projection; the counts agree within edge effects
    assert abs(len(events_23523.select_region(box)) - expected) <= 3


def test_events_select_row_subset_and_mask(events_23523):
    sub = events_23523.select_row_subset(slice(0, 10))
    assert len(sub) == 10
    assert sub.meta["OBS_ID"] == 23523
    mask = np.zeros(len(events_23523), dtype=bool)
    mask[::2] = True
    assert len(events_23523.select_row_subset(mask)) == mask.sum()


def test_events_stack_and_from_stack(hess_dir):
    ev1 = EventList.read(_hess_file(hess_dir, 23523))
    ev2 = EventList.read(_hess_file(hess_dir, 23526))
    stacked = EventList.from_stack([ev1, ev2])
    assert len(stacked) == len(ev1) + len(ev2)
    assert stacked.meta["OBS_ID"] == 23523
    ev1.stack(ev2)
    assert len(ev1) == len(stacked)


def test_events_stack_converts_time_reference(events_23523):
    ev = events_23523.copy()
    other = events_23523.select_row_subset(slice(0, 5))
    other.table.meta["MJDREFI"] = other.meta["MJDREFI"] - 1  # reference one day earlier
    other.table["TIME"] = np.asarray(other.table["TIME"]) + 86400.0
    other.table["TIME"].unit = u.s
    ev.stack(other)
    times = ev.time
    np.testing.assert_allclose((times[-5:] - events_23523.time[:5]).to_value(u.s), 0, atol=1e-5)


def test_events_write_read_roundtrip(events_23523, tmp_path):
    gti = GTI.create([events_23523.meta["TSTART"]] * u.s, [events_23523.meta["TSTOP"]] * u.s,
                     reference_time=events_23523.time_ref)
    path = tmp_path / "events.fits.gz"
    events_23523.write(path, gti=gti)
    back = EventList.read(path)
    assert len(back) == len(events_23523)
    np.testing.assert_array_equal(back.energy.value, events_23523.energy.value)
    np.testing.assert_array_equal(np.asarray(back.table["TIME"]),
                                  np.asarray(events_23523.table["TIME"]))
    assert back.meta["OBS_ID"] == 23523 and back.meta["HDUCLAS1"] == "EVENTS"
    assert GTI.read(path).time_sum.to_value(u.s) == 1687.0
    with pytest.raises(FileExistsError):
        events_23523.write(path)


def test_events_check(events_23523):
    assert list(events_23523.check()) == []
    bad = events_23523.select_row_subset(slice(0, 3))
    bad.table["TIME"] = np.asarray(bad.table["TIME"]) + 1e6
    bad.table["TIME"].unit = u.s
    problems = list(bad.check())
    assert any("outside TSTART..TSTOP" in p for p in problems)


def test_events_cta_1dc(data_dir):
    path = data_dir / "cta-1dc" / "data" / "baseline" / "gps" / "gps_baseline_110380.fits"
    events = EventList.read(path)
    assert len(events) == 106217
    assert "DETX" in events.table.colnames
    assert events.time_ref.mjd == pytest.approx(51544.5)
    # CTA 1DC: ALTITUDE keyword in km
    assert events.observatory_earth_location.height.to_value(u.m) == pytest.approx(2150.0)


# ---------------------------------------------------------------- bad input
def _write_events(path, columns, header=None):
    hdu = fits.BinTableHDU.from_columns(columns, name="EVENTS")
    for key, value in (header or {"MJDREFI": 51910, "MJDREFF": 0.0}).items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_events_missing_column(tmp_path):
    path = _write_events(tmp_path / "no_energy.fits", [
        fits.Column("TIME", "D", unit="s", array=[1.0]),
        fits.Column("RA", "E", unit="deg", array=[1.0]),
        fits.Column("DEC", "E", unit="deg", array=[1.0]),
    ])
    with pytest.raises(FITSFormatError, match=r"no_energy.fits \[HDU EVENTS\].*ENERGY"):
        EventList.read(path)


def test_events_wrong_unit(tmp_path):
    path = _write_events(tmp_path / "bad_unit.fits", [
        fits.Column("TIME", "D", unit="s", array=[1.0]),
        fits.Column("RA", "E", unit="m", array=[1.0]),
        fits.Column("DEC", "E", unit="deg", array=[1.0]),
        fits.Column("ENERGY", "E", unit="TeV", array=[1.0]),
    ])
    with pytest.raises(UnitError, match=r"bad_unit.fits \[HDU EVENTS\].*RA.*unit m"):
        EventList.read(path)


def test_events_unparsable_unit(tmp_path):
    path = _write_events(tmp_path / "garbage_unit.fits", [
        fits.Column("TIME", "D", unit="s", array=[1.0]),
        fits.Column("RA", "E", unit="deg", array=[1.0]),
        fits.Column("DEC", "E", unit="deg", array=[1.0]),
        fits.Column("ENERGY", "E", unit="furlongs_per_tev", array=[1.0]),
    ])
    with pytest.raises(UnitError, match=r"garbage_unit.fits.*EVENTS.*ENERGY"):
        EventList.read(path)


def test_events_missing_energy_unit(tmp_path):
    cols = [
        fits.Column("TIME", "D", unit="s", array=[1.0]),
        fits.Column("RA", "E", unit="deg", array=[1.0]),
        fits.Column("DEC", "E", unit="deg", array=[1.0]),
        fits.Column("ENERGY", "E", array=[1.0]),
    ]
    path = _write_events(tmp_path / "no_unit.fits", cols)
    with pytest.raises(UnitError, match=r"no_unit.fits.*ENERGY has no unit"):
        EventList.read(path)
    # EUNIT keyword supplies the unit
    path = _write_events(tmp_path / "eunit.fits", cols,
                         {"MJDREFI": 51910, "MJDREFF": 0.0, "EUNIT": "GeV"})
    assert EventList.read(path).energy.to_value(u.TeV)[0] == pytest.approx(1e-3)


def test_events_missing_ra_unit_warns(tmp_path):
    path = _write_events(tmp_path / "no_ra_unit.fits", [
        fits.Column("TIME", "D", unit="s", array=[1.0]),
        fits.Column("RA", "E", array=[1.0]),
        fits.Column("DEC", "E", unit="deg", array=[1.0]),
        fits.Column("ENERGY", "E", unit="TeV", array=[1.0]),
    ])
    with pytest.warns(UserWarning, match="RA has no unit; assuming deg"):
        events = EventList.read(path)
    assert events.radec.ra.deg[0] == 1.0


def test_events_missing_hdu(hess_dir):
    with pytest.raises(MissingHDUError, match="hess_dl3_dr1_obs_id_023523.*EVENTZ"):
        EventList.read(_hess_file(hess_dir, 23523), hdu="EVENTZ")


def test_events_missing_time_reference():
    table = Table({"TIME": [1.0] * u.s, "RA": [1.0] * u.deg, "DEC": [1.0] * u.deg,
                   "ENERGY": [1.0] * u.TeV})
    events = EventList(table)
    with pytest.raises(FITSFormatError, match="MJDREFI"):
        events.time  # noqa: B018


def test_events_plots(events_23523, tmp_path):
    import matplotlib.pyplot as plt

    fig = events_23523.peek()
    fig.savefig(tmp_path / "peek.png")
    plt.close(fig)
    for method in ("plot_energy", "plot_offset2_distribution", "plot_time",
                   "plot_energy_offset"):
        fig, ax = plt.subplots()
        assert getattr(events_23523, method)(ax=ax) is ax
        fig.savefig(tmp_path / f"{method}.png")
        plt.close(fig)
    fig = events_23523.peek(allsky=True)
    fig.savefig(tmp_path / "peek_allsky.png")
    plt.close(fig)
    assert (tmp_path / "peek.png").stat().st_size > 1000


def test_events_select_mask_and_map_coord(events_23523):
    maps = pytest.importorskip("gammapipe.maps")
    geom = maps.WcsGeom.create(skydir=(83.633, 22.014), binsz=0.02, width=(2, 2), frame="icrs")
    mask = maps.Map.from_geom(geom, dtype=bool)
    mask.data[:, :50] = True  # left half of the image (x pixel < 50)
    selected = events_23523.select_mask(mask)
    x, y = geom.wcs.world_to_pixel(events_23523.radec)
    inside = (x > -0.5) & (x < 49.5) & (y > -0.5) & (y < 99.5)
    assert len(selected) == int(inside.sum()) > 500
    axis = maps.MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3)
    coord = events_23523.map_coord(geom.to_cube([axis]))
    np.testing.assert_array_equal(coord["energy"].to_value("TeV"),
                                  events_23523.energy.to_value("TeV"))
