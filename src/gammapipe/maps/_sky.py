"""Vectorised spherical geometry on plain float arrays (angles in degrees).

All functions broadcast their inputs like numpy ufuncs and never build SkyCoord objects,
so they can be used on millions of positions (pixels, events) at C speed.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "angular_separation",
    "position_angle",
    "offset_by",
    "lonlat_to_unit_vector",
    "unit_vector_to_lonlat",
    "triangle_solid_angle",
    "quadrilateral_solid_angle",
    "pixel_solid_angles",
    "wrap_longitude",
]


def lonlat_to_unit_vector(lon, lat) -> np.ndarray:
    """Unit vectors (shape ``(..., 3)``) of positions ``lon``, ``lat`` in deg."""
    lon_r = np.radians(lon)
    lat_r = np.radians(lat)
    cos_lat = np.cos(lat_r)
    return np.stack(
        np.broadcast_arrays(cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)),
        axis=-1,
    )


def unit_vector_to_lonlat(vec) -> tuple[np.ndarray, np.ndarray]:
    """Longitude in [0, 360) and latitude (deg) of (not necessarily unit) vectors."""
    vec = np.asarray(vec, dtype=float)
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    lon = np.degrees(np.arctan2(y, x)) % 360.0
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


def wrap_longitude(lon, wrap_angle: float = 360.0) -> np.ndarray:
    """Wrap longitudes (deg) into ``[wrap_angle - 360, wrap_angle)``."""
    lon = np.asarray(lon, dtype=float)
    return (lon - wrap_angle) % 360.0 + (wrap_angle - 360.0)


def angular_separation(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in deg (Vincenty formula, accurate at all distances)."""
    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (lon1, lat1, lon2, lat2))
    dlon = lon2 - lon1
    sin_dlon, cos_dlon = np.sin(dlon), np.cos(dlon)
    sin1, cos1 = np.sin(lat1), np.cos(lat1)
    sin2, cos2 = np.sin(lat2), np.cos(lat2)
    num1 = cos2 * sin_dlon
    num2 = cos1 * sin2 - sin1 * cos2 * cos_dlon
    denominator = sin1 * sin2 + cos1 * cos2 * cos_dlon
    return np.degrees(np.arctan2(np.hypot(num1, num2), denominator))


def position_angle(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Position angle (deg, East of North, in [0, 360)) of point 2 seen from point 1."""
    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (lon1, lat1, lon2, lat2))
    dlon = lon2 - lon1
    x = np.sin(dlon) * np.cos(lat2)
    y = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.degrees(np.arctan2(x, y)) % 360.0


def offset_by(lon, lat, posang, distance) -> tuple[np.ndarray, np.ndarray]:
    """Position reached from (lon, lat) moving ``distance`` along position angle ``posang``.

    All angles in deg. Returns longitude in [0, 360) and latitude.
    """
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    pa, d = np.radians(posang), np.radians(distance)
    sin_lat2 = np.sin(lat_r) * np.cos(d) + np.cos(lat_r) * np.sin(d) * np.cos(pa)
    lat2 = np.arcsin(np.clip(sin_lat2, -1.0, 1.0))
    dlon = np.arctan2(
        np.sin(pa) * np.sin(d) * np.cos(lat_r), np.cos(d) - np.sin(lat_r) * sin_lat2
    )
    return np.degrees(lon_r + dlon) % 360.0, np.degrees(lat2)


def triangle_solid_angle(a, b, c) -> np.ndarray:
    """Solid angle (sr) of spherical triangles with unit-vector vertices ``(..., 3)``.

    Van Oosterom & Strackee (1983): ``tan(omega / 2) = |a.(b x c)| / (1 + a.b + b.c + c.a)``.
    The triple product is evaluated on the edge vectors ``b - a`` and ``c - a`` to avoid
    cancellation for small triangles.
    """
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    triple = np.einsum("...i,...i->...", a, np.cross(b - a, c - a))
    denom = (
        1.0
        + np.einsum("...i,...i->...", a, b)
        + np.einsum("...i,...i->...", b, c)
        + np.einsum("...i,...i->...", c, a)
    )
    return 2.0 * np.arctan2(np.abs(triple), denom)


def quadrilateral_solid_angle(a, b, c, d) -> np.ndarray:
    """Solid angle (sr) of spherical quadrilaterals ``a-b-c-d`` (unit vectors, in order)."""
    return triangle_solid_angle(a, b, c) + triangle_solid_angle(a, c, d)


def pixel_solid_angles(corner_lon, corner_lat) -> np.ndarray:
    """Exact solid angles (sr) of the pixels of a grid given its corners.

    Parameters
    ----------
    corner_lon, corner_lat : `~numpy.ndarray`
        Corner positions (deg), shape ``(ny + 1, nx + 1)``. Pixel edges are taken as
        great-circle arcs between neighbouring corners.

    Returns
    -------
    solid_angle : `~numpy.ndarray`
        Shape ``(ny, nx)``; NaN where a corner is undefined (outside the projection).
    """
    vec = lonlat_to_unit_vector(corner_lon, corner_lat)
    a = vec[:-1, :-1]
    b = vec[:-1, 1:]
    c = vec[1:, 1:]
    d = vec[1:, :-1]
    return quadrilateral_solid_angle(a, b, c, d)
