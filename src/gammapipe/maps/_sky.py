"""Exact solid angles of spherical polygons and map pixels (vectorised, unit vectors).

The generic spherical kernels (separations, position angles, unit vectors, frame
rotations) live in `gammapipe.utils.coordinates`; this module only holds the solid-angle
geometry used by the map geometries.
"""

from __future__ import annotations

import numpy as np

from ..utils.coordinates import lonlat_to_unit_vector

__all__ = [
    "triangle_solid_angle",
    "quadrilateral_solid_angle",
    "pixel_solid_angles",
]


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
