"""Tests of ObservationTable selections on HESS DL3 DR1 (H.E.S.S. collaboration)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from gammapipe.data import ObservationTable
from gammapipe.utils.errors import UnitError


@pytest.fixture(scope="module")
def obs_table(hess_dir):
    return ObservationTable.read(hess_dir / "obs-index.fits.gz")


@pytest.fixture(scope="module")
def raw_table(hess_dir):
    return Table.read(hess_dir / "obs-index.fits.gz")


def test_sky_circle_reference(obs_table, reference_dir):
    """lowlevel_crab3d.json ``obs_ids``: runs within 5 deg of the Crab, in table order."""
    expected = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())["obs_ids"]
    selection = dict(type="sky_circle", frame="icrs", lon="83.633 deg", lat="22.014 deg",
                     radius="5 deg")
    selected = obs_table.select_observations(selection)
    assert isinstance(selected, ObservationTable)
    assert list(selected["OBS_ID"]) == expected == [23523, 23526, 23559, 23592]
    # Quantities and plain numbers (deg) are accepted too
    same = obs_table.select_observations(
        [dict(type="sky_circle", frame="icrs", lon=83.633 * u.deg, lat=22.014,
              radius=4 * u.deg, border=1 * u.deg)])
    assert list(same["OBS_ID"]) == expected


def test_sky_circle_galactic_and_inverted(obs_table, raw_table):
    crab = SkyCoord(83.633, 22.014, unit="deg").galactic
    selected = obs_table.select_observations(dict(
        type="sky_circle", frame="galactic", lon=crab.l, lat=crab.b, radius="5 deg"))
    assert list(selected["OBS_ID"]) == [23523, 23526, 23559, 23592]
    inverted = obs_table.select_observations(dict(
        type="sky_circle", frame="icrs", lon=83.633, lat=22.014, radius="5 deg", inverted=True))
    assert len(inverted) == len(raw_table) - 4


def test_sky_box(obs_table, raw_table):
    selected = obs_table.select_observations(dict(
        type="sky_box", frame="icrs", lon=("80 deg", "90 deg"), lat=("20 deg", "25 deg")))
    ra, dec = np.asarray(raw_table["RA_PNT"]), np.asarray(raw_table["DEC_PNT"])
    expected = (ra >= 80) & (ra < 90) & (dec >= 20) & (dec < 25)
    assert list(selected["OBS_ID"]) == list(raw_table["OBS_ID"][expected])
    assert len(selected) == 4
    # galactic box across l = 0 (RX J1713 at l ~ 347 deg, MSH 15-52 at l ~ 320 deg)
    gal = obs_table.select_observations(dict(
        type="sky_box", frame="galactic", lon=(-20, 0), lat=(-5, 5)))
    glon = np.asarray(raw_table["GLON_PNT"])
    glon = np.where(glon > 180, glon - 360, glon)
    glat = np.asarray(raw_table["GLAT_PNT"])
    expected_gal = (glon >= -20) & (glon < 0) & (glat >= -5) & (glat < 5)
    assert len(gal) == int(expected_gal.sum()) == 15


def test_par_box(obs_table):
    """Hand-checked counts: 54 runs with 0 <= ZEN_PNT < 30 deg, 26 with 60 <= ALT_PNT < 70."""
    selected = obs_table.select_observations(dict(
        type="par_box", variable="ZEN_PNT", value_range=[0, 30] * u.deg))
    assert len(selected) == 54
    assert np.all(np.asarray(selected["ZEN_PNT"]) < 30)
    alt = obs_table.select_observations(dict(
        type="par_box", variable="ALT_PNT", value_range=("60 deg", "70 deg")))
    assert len(alt) == 26
    # bounds: lo inclusive, hi exclusive
    value = float(obs_table["ZEN_PNT"][0])
    assert len(obs_table.select_range("ZEN_PNT", (value, value + 1e-3))) >= 1
    assert obs_table[0]["OBS_ID"] not in list(
        obs_table.select_range("ZEN_PNT", (value - 1, value))["OBS_ID"])
    with pytest.raises(UnitError, match="ZEN_PNT"):
        obs_table.select_range("ZEN_PNT", (0 * u.s, 1 * u.s))


def test_time_box(obs_table):
    """Hand-checked: 59 runs lie entirely within the year 2004 (TT)."""
    time_range = Time(["2004-01-01T00:00:00", "2005-01-01T00:00:00"], scale="tt")
    selected = obs_table.select_observations(dict(type="time_box", time_range=time_range))
    assert len(selected) == 59
    assert np.all(selected.time_start >= time_range[0])
    assert np.all(selected.time_stop <= time_range[1])
    # one run, partially overlapping window
    t0 = obs_table.select_obs_id(23523).time_start[0]
    window = (t0 + 10 * u.min, t0 + 20 * u.min)
    assert len(obs_table.select_time_range(window)) == 0
    partial = obs_table.select_time_range(window, partial_overlap=True)
    assert list(partial["OBS_ID"]) == [23523]


def test_obs_id_selections(obs_table):
    sel = obs_table.select_observations(dict(type="obs_id", obs_id=[23592, 23523]))
    assert list(sel["OBS_ID"]) == [23523, 23592]  # table order
    direct = obs_table.select_obs_id([23592, 23523])
    assert list(direct["OBS_ID"]) == [23592, 23523]  # requested order
    with pytest.raises(KeyError, match="99999"):
        obs_table.select_obs_id([23523, 99999])


def test_combined_selection_and_empty(obs_table):
    selected = obs_table.select_observations([
        dict(type="sky_circle", frame="icrs", lon=83.633, lat=22.014, radius="5 deg"),
        dict(type="par_box", variable="OBS_ID", value_range=(23524, 23600)),
    ])
    assert list(selected["OBS_ID"]) == [23526, 23559, 23592]
    empty = obs_table.select_observations(dict(
        type="sky_circle", frame="icrs", lon=0, lat=89, radius="1 deg"))
    assert len(empty) == 0 and isinstance(empty, ObservationTable)
    with pytest.raises(ValueError, match="invalid selection type"):
        obs_table.select_observations(dict(type="banana"))
    with pytest.raises(ValueError, match="radius"):
        obs_table.select_observations(dict(type="sky_circle", lon=0, lat=0))


def test_pointing_and_times(obs_table, raw_table):
    radec = obs_table.pointing_radec
    np.testing.assert_array_equal(radec.ra.deg, np.asarray(raw_table["RA_PNT"], dtype=float))
    gal = obs_table.pointing_galactic
    np.testing.assert_array_equal(gal.b.deg, np.asarray(raw_table["GLAT_PNT"], dtype=float))
    # the tabulated GLON/GLAT agree with the converted RA/DEC
    assert radec.galactic.separation(gal).max().deg < 1e-3
    assert obs_table.time_ref.mjd == pytest.approx(51910 + 0.000742870370370241)
    first = obs_table.time_start[0]
    assert first.tt.iso == f"{raw_table['DATE-OBS'][0]} {raw_table['TIME-OBS'][0]}"
    last = obs_table.time_stop[0]
    assert last.tt.iso == f"{raw_table['DATE-END'][0]} {raw_table['TIME-END'][0]}"


def test_summary(obs_table):
    text = obs_table.summary()
    assert "Number of observations: 105" in text
    assert "OBS_ID range: 20136 .. 47829" in text
