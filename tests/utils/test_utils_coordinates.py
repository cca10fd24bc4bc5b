"""Vectorised coordinate kernels agree with astropy's frame machinery."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import CartesianRepresentation, SkyCoord, SkyOffsetFrame

from gammapipe.utils.coordinates import (
    ROTATION_FRAMES,
    angular_separation,
    angular_separation_deg,
    center_lonlat_deg,
    fov_to_sky,
    frame_rotation_matrix,
    haversine,
    lonlat_to_unit_vector,
    offset_by,
    offset_by_deg,
    offset_frame_lonlat,
    offset_frame_to_sky,
    position_angle,
    position_angle_deg,
    sky_to_fov,
    transform_lonlat,
    unit_vector_to_lonlat,
    wrap_longitude,
)

ARCSEC_RAD = np.deg2rad(1 / 3600)

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


def _random_sky(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def test_radian_kernels_match_astropy_and_degree_wrappers():
    lon1, lat1 = _random_sky(400, 1)
    lon2, lat2 = _random_sky(400, 2)
    c1 = SkyCoord(lon1, lat1, unit="deg")
    c2 = SkyCoord(lon2, lat2, unit="deg")
    rad = np.deg2rad([lon1, lat1, lon2, lat2])
    sep = angular_separation(*rad)
    assert np.allclose(sep, c1.separation(c2).rad, rtol=0, atol=1e-12)
    # the degree wrapper is the radian kernel, to rounding
    assert np.allclose(angular_separation_deg(lon1, lat1, lon2, lat2), np.degrees(sep),
                       rtol=1e-14, atol=0)
    # haversine: sin^2(sep / 2), accurate for tiny separations
    assert np.allclose(haversine(*rad), np.sin(sep / 2) ** 2, rtol=0, atol=1e-15)
    tiny = np.deg2rad(1e-3 / 3600)
    assert np.isclose(2 * np.arcsin(np.sqrt(haversine(0.3, 0.2, 0.3 + tiny, 0.2))),
                      tiny * np.cos(0.2), rtol=1e-9)
    pa = position_angle(*rad)
    assert np.all((pa > -np.pi) & (pa <= np.pi))
    assert np.allclose(np.mod(pa, 2 * np.pi), c1.position_angle(c2).rad, rtol=0, atol=1e-10)
    assert np.allclose(position_angle_deg(lon1, lat1, lon2, lat2), np.degrees(pa) % 360,
                       rtol=0, atol=1e-11)


def test_separation_antipodes_and_identity():
    assert angular_separation(0.4, -0.3, 0.4, -0.3) == 0.0
    assert np.isclose(angular_separation_deg(10.0, 20.0, 190.0, -20.0), 180.0, atol=1e-12)
    # position angles of the cardinal directions (east of north)
    assert np.isclose(position_angle_deg(0.0, 0.0, 0.0, 1.0), 0.0)
    assert np.isclose(position_angle_deg(0.0, 0.0, 1.0, 0.0), 90.0)
    assert np.isclose(position_angle_deg(0.0, 0.0, 0.0, -1.0), 180.0)
    assert np.isclose(position_angle_deg(0.0, 0.0, -1.0, 0.0), 270.0)


def test_offset_by_matches_astropy_and_inverts_separation():
    lon, lat = _random_sky(300, 3)
    rng = np.random.default_rng(4)
    posang, dist = rng.uniform(0, 360, 300), rng.uniform(0, 179, 300)
    ref = SkyCoord(lon, lat, unit="deg").directional_offset_by(posang * u.deg, dist * u.deg)
    lon2, lat2 = offset_by_deg(lon, lat, posang, dist)
    assert np.all((lon2 >= 0) & (lon2 < 360))
    assert angular_separation_deg(lon2, lat2, ref.ra.deg, ref.dec.deg).max() < 1e-9
    rlon, rlat = offset_by(*np.deg2rad([lon, lat, posang, dist]))
    assert np.all((rlon >= 0) & (rlon < 2 * np.pi))
    assert np.allclose(np.degrees(rlat), lat2, rtol=0, atol=1e-12)
    assert angular_separation_deg(np.degrees(rlon), np.degrees(rlat), lon2, lat2).max() < 1e-11
    # the separation reached is the requested distance, at the requested position angle
    assert np.allclose(angular_separation_deg(lon, lat, lon2, lat2), dist, atol=1e-9)


def test_unit_vectors_round_trip_and_mean_direction():
    lon, lat = _random_sky(500, 5)
    vec = lonlat_to_unit_vector(lon, lat)
    assert vec.shape == (500, 3)
    assert np.allclose(np.linalg.norm(vec, axis=-1), 1.0, atol=1e-15)
    ref = SkyCoord(lon, lat, unit="deg").cartesian
    assert np.allclose(vec, np.stack([ref.x.value, ref.y.value, ref.z.value], -1), atol=1e-15)
    back_lon, back_lat = unit_vector_to_lonlat(3.5 * vec)  # need not be normalised
    assert angular_separation_deg(back_lon, back_lat, lon, lat).max() < 1e-11
    # broadcasting: a scalar latitude with an array of longitudes
    assert lonlat_to_unit_vector([0.0, 90.0], 0.0).shape == (2, 3)
    assert np.allclose(lonlat_to_unit_vector(90.0, 0.0), [0.0, 1.0, 0.0], atol=1e-16)
    # mean direction of points symmetric about (359.5, 10) wraps correctly
    lon_c, lat_c = center_lonlat_deg([359.0, 0.0], [10.0, 10.0])
    assert np.isclose(lon_c, 359.5)
    assert lat_c > 10.0  # great-circle midpoint bulges towards the pole
    assert np.isclose(lat_c, np.degrees(np.arctan(np.tan(np.radians(10)) /
                                                  np.cos(np.radians(0.5)))), atol=1e-12)


def test_wrap_longitude():
    lon = np.array([-10.0, 0.0, 179.9, 180.0, 359.0, 360.0, 725.0])
    assert np.allclose(wrap_longitude(lon), [350, 0, 179.9, 180, 359, 0, 5])
    assert np.allclose(wrap_longitude(lon, 180.0), [-10, 0, 179.9, -180, -1, 0, 5])


def test_offset_frame_round_trip():
    lon, lat = _random_sky(200, 6)
    lon_off, lat_off = offset_frame_lonlat(lon, lat, 266.4, -28.9)
    back_lon, back_lat = offset_frame_to_sky(lon_off, lat_off, 266.4, -28.9)
    assert angular_separation_deg(back_lon, back_lat, lon, lat).max() < 1e-10


@pytest.mark.parametrize("frame_from", ROTATION_FRAMES)
@pytest.mark.parametrize("frame_to", ROTATION_FRAMES)
def test_frame_rotation_matches_astropy(frame_from, frame_to):
    matrix = frame_rotation_matrix(frame_from, frame_to)
    assert np.allclose(matrix @ matrix.T, np.eye(3), rtol=0, atol=5e-15)
    assert np.isclose(np.linalg.det(matrix), 1.0, rtol=0, atol=5e-15)
    # the matrix is astropy's rotation: images of the basis vectors agree to 1e-10 arcsec
    basis = CartesianRepresentation(np.eye(3) * u.one)
    cart = SkyCoord(basis, frame=frame_from, representation_type="cartesian")
    cart = cart.transform_to(frame_to).cartesian
    ref_matrix = np.array([cart.x.value, cart.y.value, cart.z.value])
    if frame_from == frame_to:
        assert np.array_equal(matrix, np.eye(3))  # astropy itself adds ~1e-16 rounding here
    else:
        assert np.abs(matrix - ref_matrix).max() < 1e-10 * ARCSEC_RAD
    # on random positions the difference is the float64 rounding of the lon/lat <-> unit
    # vector conversions (~1e-15 rad, also present for frame_from == frame_to)
    lon, lat = _random_sky(1000, 7)
    coord = SkyCoord(lon, lat, unit="deg", frame=frame_from).transform_to(frame_to)
    ref = coord.cartesian
    ref_vec = np.stack([ref.x.value, ref.y.value, ref.z.value], axis=-1)
    vec = lonlat_to_unit_vector(lon, lat) @ matrix.T
    # angle between the two directions, from the norm of the cross product
    angle = np.linalg.norm(np.cross(vec, ref_vec), axis=-1)
    assert angle.max() < 1e-9 * ARCSEC_RAD
    lon2, lat2 = transform_lonlat(lon, lat, frame_from, frame_to)
    sph = coord.spherical
    assert angular_separation_deg(lon2, lat2, sph.lon.deg, sph.lat.deg).max() < 1e-9 / 3600
    assert np.all((lon2 >= 0) & (lon2 < 360))


def test_frame_rotation_values_and_errors():
    # the Galactic centre and the north galactic pole in ICRS (IAU definition via FK5 J2000)
    lon, lat = transform_lonlat(0.0, 0.0, "galactic", "icrs")
    assert np.isclose(lon, 266.40498829, atol=1e-7)
    assert np.isclose(lat, -28.93617776, atol=1e-7)
    lon, lat = transform_lonlat(192.8594812065348, 27.12825118085622, "fk5", "galactic")
    assert np.isclose(lat, 90.0, atol=1e-12)
    assert frame_rotation_matrix("icrs", "galactic").flags.writeable is False
    assert np.array_equal(frame_rotation_matrix("galactic", "icrs"),
                          frame_rotation_matrix("icrs", "galactic").T)
    with pytest.raises(ValueError, match="fk4"):
        frame_rotation_matrix("fk4", "icrs")


def test_transform_lonlat_other_frames_use_astropy():
    lon, lat = _random_sky(50, 8)
    lon2, lat2 = transform_lonlat(lon, lat, "icrs", "fk4")
    ref = SkyCoord(lon, lat, unit="deg", frame="icrs").transform_to("fk4")
    assert angular_separation_deg(lon2, lat2, ref.ra.deg, ref.dec.deg).max() < 1e-12
    same_lon, same_lat = transform_lonlat(lon, lat, "galactic", "galactic")
    assert np.array_equal(same_lon, lon) and np.array_equal(same_lat, lat)
