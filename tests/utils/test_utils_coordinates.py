"""Vectorised coordinate kernels agree with astropy's frame machinery."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord, SkyOffsetFrame

from gammapipe.utils.coordinates import (
    angular_separation_deg,
    fov_to_sky,
    offset_frame_lonlat,
    position_angle_deg,
    sky_to_fov,
)

RNG = np.random.default_rng(42)


@pytest.mark.parametrize(("lon0", "lat0"), [(83.633, 22.014), (329.7, -30.2), (10.0, 89.0), (0, 0)])
def test_offset_frame_matches_astropy(lon0, lat0):
    lon = lon0 + RNG.uniform(-5, 5, 500)
    lat = np.clip(lat0 + RNG.uniform(-5, 5, 500), -89.9, 89.9)
    center = SkyCoord(lon0 * u.deg, lat0 * u.deg, frame="icrs")
    ref = SkyCoord(lon * u.deg, lat * u.deg, frame="icrs").transform_to(
        SkyOffsetFrame(origin=center)
    )
    lon_off, lat_off = offset_frame_lonlat(lon, lat, lon0, lat0)
    assert np.allclose(lon_off, ref.lon.wrap_at("180d").deg, atol=1e-9)
    assert np.allclose(lat_off, ref.lat.deg, atol=1e-9)
    fov_lon, fov_lat = sky_to_fov(lon, lat, lon0, lat0)
    assert np.allclose(fov_lon, -ref.lon.wrap_at("180d").deg, atol=1e-9)
    back_lon, back_lat = fov_to_sky(fov_lon, fov_lat, lon0, lat0)
    sep = angular_separation_deg(back_lon, back_lat, lon, lat)
    assert sep.max() < 1e-9


def test_separation_and_position_angle_match_astropy():
    lon1, lat1 = RNG.uniform(0, 360, 300), RNG.uniform(-90, 90, 300)
    lon2, lat2 = RNG.uniform(0, 360, 300), RNG.uniform(-90, 90, 300)
    c1 = SkyCoord(lon1, lat1, unit="deg")
    c2 = SkyCoord(lon2, lat2, unit="deg")
    assert np.allclose(
        angular_separation_deg(lon1, lat1, lon2, lat2), c1.separation(c2).deg, atol=1e-9
    )
    pa = position_angle_deg(lon1, lat1, lon2, lat2)
    assert np.allclose(pa, c1.position_angle(c2).to_value("deg") % 360, atol=1e-8)


def test_fov_sign_convention():
    # a source east of the pointing (larger RA) has negative fov_lon (mirrored longitude)
    fov_lon, fov_lat = sky_to_fov(84.0, 22.0, 83.0, 22.0)
    assert fov_lon < 0
    assert abs(fov_lat) < 0.01
