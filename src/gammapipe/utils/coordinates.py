"""Vectorised spherical geometry on plain float64 arrays: the single home of the kernels.

Every function broadcasts like a numpy ufunc and never builds a SkyCoord, so it runs at C
speed on millions of pixels or events. Two families:

* radians in / radians out: `haversine`, `angular_separation`, `position_angle`,
  `offset_by` (the spatial models work in radians);
* degrees in / degrees out: the ``*_deg`` wrappers, unit vectors, longitude wrapping, mean
  directions, offset / field-of-view frames and the fixed-rotation frame conversion
  `transform_lonlat` (maps, data and makers work in degrees).

Field-of-view (FoV) coordinates follow the GADF convention: the frame is centred on the
pointing position and rotated like astropy's ``SkyOffsetFrame``; the longitude axis is
*mirrored* (``fov_lon = -lon_offset``), so that for a RADEC-aligned FoV ``fov_lon`` grows
towards decreasing right ascension, as on a sky image seen from inside the sphere.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "haversine",
    "angular_separation",
    "angular_separation_deg",
    "position_angle",
    "position_angle_deg",
    "offset_by",
    "offset_by_deg",
    "lonlat_to_unit_vector",
    "unit_vector_to_lonlat",
    "wrap_longitude",
    "center_lonlat_deg",
    "offset_frame_lonlat",
    "offset_frame_to_sky",
    "sky_to_fov",
    "fov_to_sky",
    "ROTATION_FRAMES",
    "frame_rotation_matrix",
    "transform_lonlat",
]


# --------------------------------------------------------------------------------------
# radians
# --------------------------------------------------------------------------------------
def haversine(lon1, lat1, lon2, lat2) -> np.ndarray:
    """``sin^2(sep / 2) = (1 - cos(sep)) / 2`` of the great-circle separation (radians in).

    Accurate for small separations (no cancellation) and cheap (three trigonometric calls);
    ``2 * haversine`` is ``1 - cos(sep)`` without cancellation.
    """
    s_lat = np.sin(0.5 * (lat2 - lat1))
    s_lon = np.sin(0.5 * (lon2 - lon1))
    return s_lat * s_lat + np.cos(lat1) * np.cos(lat2) * (s_lon * s_lon)


def angular_separation(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in radians (Vincenty formula, accurate at all separations)."""
    dlon = lon2 - lon1
    sin_dlon, cos_dlon = np.sin(dlon), np.cos(dlon)
    sin1, cos1 = np.sin(lat1), np.cos(lat1)
    sin2, cos2 = np.sin(lat2), np.cos(lat2)
    num1 = cos2 * sin_dlon
    num2 = cos1 * sin2 - sin1 * cos2 * cos_dlon
    denominator = sin1 * sin2 + cos1 * cos2 * cos_dlon
    return np.arctan2(np.hypot(num1, num2), denominator)


def position_angle(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Position angle (east of north) of point 2 seen from point 1, radians in (-pi, pi]."""
    dlon = lon2 - lon1
    x = np.sin(dlon) * np.cos(lat2)
    y = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.arctan2(x, y)


def _offset_by_unwrapped(lon, lat, posang, distance) -> tuple[np.ndarray, np.ndarray]:
    """`offset_by` before wrapping the longitude (radians)."""
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_d, cos_d = np.sin(distance), np.cos(distance)
    sin_lat2 = np.clip(sin_lat * cos_d + cos_lat * sin_d * np.cos(posang), -1.0, 1.0)
    dlon = np.arctan2(np.sin(posang) * sin_d * cos_lat, cos_d - sin_lat * sin_lat2)
    return lon + dlon, np.arcsin(sin_lat2)


def offset_by(lon, lat, posang, distance) -> tuple[np.ndarray, np.ndarray]:
    """Position reached from (lon, lat) moving ``distance`` along position angle ``posang``.

    All angles in radians; returns the longitude in [0, 2 pi) and the latitude.
    """
    lon2, lat2 = _offset_by_unwrapped(lon, lat, posang, distance)
    return np.mod(lon2, 2 * np.pi), lat2


# --------------------------------------------------------------------------------------
# degrees
# --------------------------------------------------------------------------------------
def _radians(*values) -> tuple[np.ndarray, ...]:
    return tuple(np.radians(np.asarray(v, dtype=float)) for v in values)


def angular_separation_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty formula, stable at all separations)."""
    return np.degrees(angular_separation(*_radians(lon1, lat1, lon2, lat2)))


def position_angle_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Position angle (east of north) of point 2 as seen from point 1, in degrees [0, 360)."""
    return np.degrees(position_angle(*_radians(lon1, lat1, lon2, lat2))) % 360.0


def offset_by_deg(lon, lat, posang, distance) -> tuple[np.ndarray, np.ndarray]:
    """`offset_by` in degrees; returns the longitude in [0, 360) and the latitude."""
    lon2, lat2 = _offset_by_unwrapped(*_radians(lon, lat, posang, distance))
    return np.degrees(lon2) % 360.0, np.degrees(lat2)


def lonlat_to_unit_vector(lon, lat) -> np.ndarray:
    """Unit vectors (shape ``(..., 3)``) of positions ``lon``, ``lat`` in degrees."""
    lon_r, lat_r = _radians(lon, lat)
    cos_lat = np.cos(lat_r)
    return np.stack(
        np.broadcast_arrays(cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)),
        axis=-1,
    )


def unit_vector_to_lonlat(vec) -> tuple[np.ndarray, np.ndarray]:
    """Longitude in [0, 360) and latitude (deg) of (not necessarily unit) vectors ``(..., 3)``."""
    vec = np.asarray(vec, dtype=float)
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    lon = np.degrees(np.arctan2(y, x)) % 360.0
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


def wrap_longitude(lon, wrap_angle: float = 360.0) -> np.ndarray:
    """Wrap longitudes (deg) into ``[wrap_angle - 360, wrap_angle)``."""
    lon = np.asarray(lon, dtype=float)
    return (lon - wrap_angle) % 360.0 + (wrap_angle - 360.0)


def center_lonlat_deg(lon, lat) -> tuple[float, float]:
    """Mean direction (unit-vector average) of points given in degrees, lon in [0, 360)."""
    lon_r, lat_r = _radians(lon, lat)
    cos_lat = np.cos(lat_r)
    mean = [
        np.mean(cos_lat * np.cos(lon_r)),
        np.mean(cos_lat * np.sin(lon_r)),
        np.mean(np.sin(lat_r)),
    ]
    lon_c, lat_c = unit_vector_to_lonlat(mean)
    return float(lon_c), float(lat_c)


# --------------------------------------------------------------------------------------
# offset and field-of-view frames (degrees)
# --------------------------------------------------------------------------------------
def offset_frame_lonlat(lon, lat, lon_center, lat_center):
    """Coordinates in the frame centred on (lon_center, lat_center), like ``SkyOffsetFrame``.

    Returns (lon_offset, lat_offset) in degrees, lon_offset in (-180, 180].
    """
    lon, lat = _radians(lon, lat)
    lon0, lat0 = np.radians(lon_center), np.radians(lat_center)
    dlon = lon - lon0
    clat = np.cos(lat)
    x = clat * np.cos(dlon)
    y = clat * np.sin(dlon)
    z = np.sin(lat)
    sl0, cl0 = np.sin(lat0), np.cos(lat0)
    xr = x * cl0 + z * sl0
    zr = z * cl0 - x * sl0
    lon_off = np.degrees(np.arctan2(y, xr))
    lat_off = np.degrees(np.arcsin(np.clip(zr, -1.0, 1.0)))
    return lon_off, lat_off


def offset_frame_to_sky(lon_off, lat_off, lon_center, lat_center):
    """Inverse of :func:`offset_frame_lonlat`; returns (lon, lat) in degrees, lon in [0, 360)."""
    lon_off, lat_off = _radians(lon_off, lat_off)
    lon0, lat0 = np.radians(lon_center), np.radians(lat_center)
    clat = np.cos(lat_off)
    xr = clat * np.cos(lon_off)
    y = clat * np.sin(lon_off)
    zr = np.sin(lat_off)
    sl0, cl0 = np.sin(lat0), np.cos(lat0)
    x = xr * cl0 - zr * sl0
    z = zr * cl0 + xr * sl0
    lon = (np.degrees(np.arctan2(y, x) + lon0)) % 360.0
    lat = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    return lon, lat


def sky_to_fov(lon, lat, lon_pointing, lat_pointing):
    """Sky coordinates -> GADF FoV coordinates (fov_lon, fov_lat) in degrees.

    Works for any pair of frames as long as both positions are in the same frame: RA/DEC for a
    RADEC-aligned FoV, AZ/ALT for an ALTAZ-aligned one.
    """
    lon_off, lat_off = offset_frame_lonlat(lon, lat, lon_pointing, lat_pointing)
    return -lon_off, lat_off


def fov_to_sky(fov_lon, fov_lat, lon_pointing, lat_pointing):
    """GADF FoV coordinates -> sky coordinates (inverse of :func:`sky_to_fov`)."""
    return offset_frame_to_sky(
        -np.asarray(fov_lon, dtype=float), fov_lat, lon_pointing, lat_pointing
    )


# --------------------------------------------------------------------------------------
# frame rotations
# --------------------------------------------------------------------------------------
#: Frames related by a constant rotation (no time dependence, no aberration terms); FK5 is
#: the J2000 equinox.
ROTATION_FRAMES = ("icrs", "galactic", "fk5")

# Rotation matrices taking unit vectors of the first frame to the second. ICRS -> FK5 J2000
# is the IAU 2006 frame bias; FK5 J2000 -> Galactic is fixed by the north galactic pole
# (RA 192.8594812065348, Dec 27.12825118085622 deg) and the galactic longitude of the north
# celestial pole (122.9319185680026 deg); ICRS -> Galactic is their product. The values are
# the float64 matrices of astropy's transformation graph (checked in the tests to 1e-10
# arcsec), so the results agree with SkyCoord to rounding.
_ICRS_TO_GALACTIC = np.array(
    [
        [-0.05487565771259163, -0.8734370519556159, -0.48383507361671546],
        [0.4941094371927268, -0.4448297212232952, 0.7469821839866676],
        [-0.8676661375596576, -0.19807633727300053, 0.4559838136873016],
    ]
)
_ICRS_TO_FK5 = np.array(
    [
        [0.9999999999999921, -1.1102233297408327e-07, -4.411804498096771e-08],
        [1.1102233723050035e-07, 0.9999999999999889, 9.647792246010129e-08],
        [4.411803426976326e-08, -9.647792751958126e-08, 0.9999999999999943],
    ]
)
_FK5_TO_GALACTIC = np.array(
    [
        [-0.054875539395714525, -0.8734371047274332, -0.4838349917703224],
        [0.49410945362336345, -0.44482959429881663, 0.74698224870205],
        [-0.8676661356858694, -0.1980763896109499, 0.4559837945175692],
    ]
)
_ROTATIONS = {
    ("icrs", "galactic"): _ICRS_TO_GALACTIC,
    ("icrs", "fk5"): _ICRS_TO_FK5,
    ("fk5", "galactic"): _FK5_TO_GALACTIC,
}
for _matrix in _ROTATIONS.values():
    _matrix.setflags(write=False)


def _frame_name(frame) -> str:
    return str(getattr(frame, "name", frame)).lower()


def frame_rotation_matrix(frame_from: str, frame_to: str) -> np.ndarray:
    """Constant 3x3 rotation taking unit vectors of ``frame_from`` to ``frame_to``.

    Parameters
    ----------
    frame_from, frame_to : str
        Frame names among `ROTATION_FRAMES` ("icrs", "galactic", "fk5").

    Returns
    -------
    matrix : `~numpy.ndarray`
        Read-only orthogonal matrix (the inverse rotation is its transpose).
    """
    key = (_frame_name(frame_from), _frame_name(frame_to))
    for name in key:
        if name not in ROTATION_FRAMES:
            raise ValueError(
                f"frame: {name!r} is not related to the others by a constant rotation; "
                f"use one of {list(ROTATION_FRAMES)}"
            )
    if key[0] == key[1]:
        return np.eye(3)
    if key in _ROTATIONS:
        return _ROTATIONS[key]
    return _ROTATIONS[key[::-1]].T


def transform_lonlat(lon_deg, lat_deg, frame_from: str, frame_to: str):
    """Convert lon/lat arrays (deg) between sky frames.

    ICRS, Galactic and FK5 (J2000) differ by constant rotations: those use the fixed
    matrices of `frame_rotation_matrix` (pure numpy). Other frames go through one vectorised
    astropy call.

    Returns
    -------
    lon, lat : `~numpy.ndarray`
        Longitude in [0, 360) and latitude in deg (the inputs unchanged if the frames are
        the same).
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    name_from, name_to = _frame_name(frame_from), _frame_name(frame_to)
    if name_from == name_to:
        return lon, lat
    if name_from in ROTATION_FRAMES and name_to in ROTATION_FRAMES:
        matrix = frame_rotation_matrix(name_from, name_to)
        return unit_vector_to_lonlat(lonlat_to_unit_vector(lon, lat) @ matrix.T)
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    coord = SkyCoord(lon * u.deg, lat * u.deg, frame=frame_from).transform_to(frame_to)
    sph = coord.spherical
    return sph.lon.to_value(u.deg), sph.lat.to_value(u.deg)
