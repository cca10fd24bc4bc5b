"""Tests of FixedPointingInfo / PointingMode (HESS DL3 DR1, H.E.S.S. collaboration; MAGIC)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.time import Time

from gammapipe.data import FixedPointingInfo, PointingMode, observatory_location
from gammapipe.data.metadata import earth_location_from_dict, header_to_meta
from gammapipe.utils.errors import FITSFormatError


def _events_header(hess_dir, obs_id):
    path = hess_dir / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
    return fits.getheader(path, "EVENTS")


def test_pointing_mode_from_gadf_string():
    assert PointingMode.from_gadf_string("WOBBLE") == PointingMode.POINTING
    assert PointingMode.from_gadf_string("POINTING") == PointingMode.POINTING
    assert PointingMode.from_gadf_string(None) == PointingMode.POINTING
    assert PointingMode.from_gadf_string("drift") == PointingMode.DRIFT


def test_pointing_from_hess_header(hess_dir):
    header = _events_header(hess_dir, 23523)
    pointing = FixedPointingInfo.from_fits_header(header)
    assert pointing.mode == PointingMode.POINTING
    assert pointing.fixed_icrs.ra.deg == header["RA_PNT"]
    assert pointing.fixed_icrs.dec.deg == header["DEC_PNT"]
    assert pointing.location.lon.deg == pytest.approx(header["GEOLON"], abs=1e-9)
    assert pointing.location.lat.deg == pytest.approx(header["GEOLAT"], abs=1e-9)
    assert pointing.location.height.to_value(u.m) == pytest.approx(1835.0, abs=1e-3)
    # ICRS is the same for any time in POINTING mode, with the shape of obstime
    times = pointing.time_start + np.linspace(0, 1687, 5) * u.s
    icrs = pointing.get_icrs(times)
    assert icrs.shape == (5,)
    np.testing.assert_allclose(icrs.ra.deg, header["RA_PNT"])
    assert pointing.time_start.tt.iso == "2004-12-04 22:08:10.184"


def test_pointing_altaz_hess_crab_runs(hess_dir):
    """ALT_PNT/AZ_PNT of HESS DR1 are run-mean horizontal coordinates of the *target*
    (RA_OBJ/DEC_OBJ), not of the wobble pointing: the target's altitude at mid-run matches
    ALT_PNT within 0.15 deg, and the pointing's ALT/AZ lies at the wobble offset from the
    header position (within 0.2 deg)."""
    for obs_id in (23523, 23526, 23559, 23592):
        header = _events_header(hess_dir, obs_id)
        pointing = FixedPointingInfo.from_fits_header(header)
        tmid = pointing.time_start + 0.5 * (pointing.time_stop - pointing.time_start)
        altaz = pointing.get_altaz(tmid)
        frame = AltAz(obstime=tmid, location=pointing.location)
        header_altaz = SkyCoord(alt=header["ALT_PNT"] * u.deg, az=header["AZ_PNT"] * u.deg,
                                frame=frame)
        target = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg").transform_to(frame)
        assert abs(target.alt.deg - header["ALT_PNT"]) < 0.15
        wobble = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg").separation(
            pointing.fixed_icrs).deg
        assert abs(altaz.separation(header_altaz).deg - wobble) < 0.2
        # the legacy header values are kept
        assert pointing.legacy_altaz.alt.deg == header["ALT_PNT"]


def test_pointing_altitude_against_hour_angle_formula(hess_dir):
    """Independent check: sin(alt) = sin(dec) sin(lat) + cos(dec) cos(lat) cos(HA) with the
    local sidereal time (ignores precession, nutation, aberration: agreement ~0.1 deg)."""
    header = _events_header(hess_dir, 23523)
    pointing = FixedPointingInfo.from_fits_header(header)
    times = pointing.time_start + np.linspace(0, 1687, 7) * u.s
    altaz = pointing.get_altaz(times)
    lst = times.sidereal_time("mean", longitude=header["GEOLON"] * u.deg).rad
    ha = lst - np.radians(header["RA_PNT"])
    dec, lat = np.radians(header["DEC_PNT"]), np.radians(header["GEOLAT"])
    sin_alt = np.sin(dec) * np.sin(lat) + np.cos(dec) * np.cos(lat) * np.cos(ha)
    np.testing.assert_allclose(altaz.alt.deg, np.degrees(np.arcsin(sin_alt)), atol=0.15)


def test_pointing_altaz_vectorised_matches_scalar(hess_dir):
    pointing = FixedPointingInfo.from_fits_header(_events_header(hess_dir, 23592))
    times = pointing.time_start + np.array([0.0, 600.0, 1200.0]) * u.s
    altaz = pointing.get_altaz(times)
    assert altaz.shape == (3,)
    single = pointing.get_altaz(times[1])
    assert altaz[1].separation(single).deg < 1e-9
    # the source moves on the sky: altitude changes over 20 min
    assert np.ptp(altaz.alt.deg) > 0.5
    # round trip to ICRS
    back = altaz.icrs
    assert back.separation(pointing.fixed_icrs).max().deg < 1e-6


def test_pointing_drift_mode():
    location = observatory_location("magic")
    header = {"OBS_MODE": "DRIFT", "ALT_PNT": 70.0, "AZ_PNT": 180.0, "MJDREFI": 58000,
              "MJDREFF": 0.0, "TIMESYS": "TT", "TSTART": 0.0, "TSTOP": 3600.0,
              "TELESCOP": "MAGIC"}
    pointing = FixedPointingInfo.from_fits_header(header)
    assert pointing.mode == PointingMode.DRIFT
    assert pointing.location.lat.deg == pytest.approx(location.lat.deg)
    times = pointing.time_start + np.array([0.0, 1800.0, 3600.0]) * u.s
    altaz = pointing.get_altaz(times)
    np.testing.assert_allclose(altaz.alt.deg, 70.0)
    icrs = pointing.get_icrs(times)
    # the sky drifts by 15 deg/hour in RA at a fixed ALT/AZ (sidereal rate 15.04 deg/h)
    dra = (icrs.ra.deg[2] - icrs.ra.deg[0]) % 360
    assert dra == pytest.approx(15.04, abs=0.05)
    # transforming back gives the fixed position
    frame = AltAz(obstime=times, location=pointing.location)
    np.testing.assert_allclose(icrs.transform_to(frame).alt.deg, 70.0, atol=1e-6)
    with pytest.raises(FITSFormatError, match="DRIFT"):
        FixedPointingInfo.from_fits_header({"OBS_MODE": "DRIFT", "MJDREFI": 1})


def test_pointing_missing_keywords():
    with pytest.raises(FITSFormatError, match="RA_PNT"):
        FixedPointingInfo.from_fits_header({"OBS_MODE": "POINTING", "MJDREFI": 1})
    with pytest.raises(FITSFormatError, match="DEC_PNT=.*not a number"):
        FixedPointingInfo.from_fits_header({"RA_PNT": 1.0, "DEC_PNT": "abc"})


def test_pointing_create_and_header_roundtrip():
    loc = EarthLocation.from_geodetic(10 * u.deg, 20 * u.deg, 100 * u.m)
    pointing = FixedPointingInfo(fixed_icrs=SkyCoord(10, 20, unit="deg"), location=loc)
    header = pointing.to_fits_header()
    assert header["RA_PNT"] == pytest.approx(10) and header["GEOLAT"] == pytest.approx(20)
    back = FixedPointingInfo.from_fits_header(header)
    assert back.fixed_icrs.separation(pointing.fixed_icrs).deg < 1e-12
    with pytest.raises(ValueError, match="obstime"):
        pointing.get_altaz()
    altaz = pointing.get_altaz(Time("2020-01-01T00:00:00"))
    expected = SkyCoord(10, 20, unit="deg").transform_to(
        AltAz(obstime=Time("2020-01-01T00:00:00"), location=loc))
    assert altaz.separation(expected).deg < 1e-9


def test_location_keywords_and_known_sites(data_dir):
    # CTA 1DC gives ALTITUDE in km ("[km]" in the card comment)
    path = data_dir / "cta-1dc" / "data" / "baseline" / "gps" / "gps_baseline_110380.fits"
    meta = header_to_meta(fits.getheader(path, "EVENTS"))
    location = earth_location_from_dict(meta)
    assert location.height.to_value(u.m) == pytest.approx(2150.0, rel=1e-6)
    assert location.lat.deg == pytest.approx(-24.6272, abs=1e-6)
    hess = earth_location_from_dict({"TELESCOP": "HESS"})
    assert hess.lat.deg == pytest.approx(-23.2717777777778)
    geo = earth_location_from_dict({"OBSGEO-L": 5.0, "OBSGEO-B": 45.0, "OBSGEO-H": 10.0})
    assert geo.lon.deg == pytest.approx(5.0)
    assert earth_location_from_dict({"TELESCOP": "UNKNOWN"}) is None
    with pytest.raises(KeyError, match="unknown observatory"):
        observatory_location("nowhere")


def test_observatory_locations_dict():
    from gammapipe.data import observatory_locations

    assert {"hess", "magic", "cta_south", "cta_north", "veritas"} <= set(observatory_locations)
    assert observatory_locations["hess"].height.to_value(u.m) == pytest.approx(1835.0)
