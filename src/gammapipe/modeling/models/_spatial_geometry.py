"""Pure numpy helpers of the spatial models: spherical geometry and pixel integration.

Everything works on float64 arrays of angles in **radians** (lon/lat pairs); no astropy
units inside. The frame conversion of whole coordinate arrays happens in one vectorised
astropy call (`transform_lonlat`).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "angular_separation",
    "haversine",
    "position_angle",
    "offset_by",
    "sigma_eff",
    "ellipse_solid_angle",
    "transform_lonlat",
    "check_frame",
    "EDGE_WIDTH_95",
    "MAX_OVERSAMPLING",
]

#: ``2 * erfinv(0.9)``: with ``0.5 * (1 - erf(EDGE_WIDTH_95 * x / w))`` the smooth disk
#: edge drops from 95 % to 5 % of its amplitude over the width ``w``.
EDGE_WIDTH_95 = 2.326174307353347

#: Largest sub-pixel factor per axis used when a model is small compared to the pixels.
MAX_OVERSAMPLING = 200

_FRAMES = ("icrs", "galactic", "fk5", "fk4", "barycentrictrueecliptic", "geocentrictrueecliptic")


def check_frame(frame: str) -> str:
    """Return the lower-case frame name; ValueError for an unknown frame."""
    name = str(getattr(frame, "name", frame)).lower()
    if name not in _FRAMES:
        raise ValueError(f"frame: unknown sky frame {frame!r}; use one of {list(_FRAMES)}")
    return name


def haversine(lon1, lat1, lon2, lat2) -> np.ndarray:
    """``sin^2(sep / 2) = (1 - cos(sep)) / 2`` of the great-circle separation (radians in).

    Accurate for small separations (no cancellation), cheap (three trigonometric calls).
    """
    s_lat = np.sin(0.5 * (lat2 - lat1))
    s_lon = np.sin(0.5 * (lon2 - lon1))
    return s_lat * s_lat + np.cos(lat1) * np.cos(lat2) * (s_lon * s_lon)


def angular_separation(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in radians (haversine; exact to ~1e-8 rad near antipodes)."""
    hav = np.clip(haversine(lon1, lat1, lon2, lat2), 0.0, 1.0)
    return 2.0 * np.arcsin(np.sqrt(hav))


def position_angle(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Position angle (east of north) of point 2 as seen from point 1, radians."""
    dlon = lon2 - lon1
    x = np.sin(dlon) * np.cos(lat2)
    y = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.arctan2(x, y)


def offset_by(lon, lat, posang, distance) -> tuple[np.ndarray, np.ndarray]:
    """Point at ``distance`` along position angle ``posang`` from (lon, lat), radians."""
    slat, clat = np.sin(lat), np.cos(lat)
    sd, cd = np.sin(distance), np.cos(distance)
    lat2 = np.arcsin(np.clip(slat * cd + clat * sd * np.cos(posang), -1, 1))
    lon2 = lon + np.arctan2(np.sin(posang) * sd * clat, cd - slat * np.sin(lat2))
    return np.mod(lon2, 2 * np.pi), lat2


def sigma_eff(lon_0, lat_0, lon, lat, phi, major, e) -> tuple[np.ndarray, np.ndarray]:
    """Minor axis and effective radius of an ellipse in the direction of (lon, lat).

    The ellipse has semi-major axis ``major`` along the position angle ``phi`` (east of
    north) and eccentricity ``e``; the effective radius in the direction with position
    angle ``psi`` is ``a b / sqrt((a sin(phi - psi))**2 + (b cos(phi - psi))**2)``.
    """
    psi = position_angle(lon_0, lat_0, lon, lat)
    minor = major * np.sqrt(1.0 - e**2)
    d_phi = phi - psi
    denom = np.hypot(major * np.sin(d_phi), minor * np.cos(d_phi))
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = np.where(denom > 0, major * minor / np.where(denom > 0, denom, 1.0), 0.0)
    return minor, eff


def ellipse_solid_angle(major: float, e: float, n: int = 512) -> float:
    """Solid angle (sr) inside the spherical ellipse of `sigma_eff` (radius ``r_eff(psi)``).

    ``integral_0^{2 pi} (1 - cos r_eff(psi)) dpsi`` by the trapezoid rule, which converges
    exponentially for this smooth periodic integrand. For ``e = 0`` it is the cap area
    ``2 pi (1 - cos r)``.
    """
    if e == 0:
        return float(2 * np.pi * (1 - np.cos(major)))
    psi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    minor = major * np.sqrt(1.0 - e**2)
    r_eff = major * minor / np.hypot(major * np.sin(psi), minor * np.cos(psi))
    return float(2 * np.pi * np.mean(1 - np.cos(r_eff)))


# frames related by a constant rotation (no time dependence, no aberration terms)
_ROTATION_FRAMES = ("icrs", "galactic", "fk5")


@functools.lru_cache(maxsize=16)
def _rotation_matrix(frame_from: str, frame_to: str) -> np.ndarray:
    """3x3 matrix taking unit vectors of ``frame_from`` to ``frame_to`` (via astropy once)."""
    import astropy.units as u
    from astropy.coordinates import CartesianRepresentation, SkyCoord

    basis = CartesianRepresentation(np.eye(3) * u.one)
    coord = SkyCoord(basis, frame=frame_from, representation_type="cartesian")
    cart = coord.transform_to(frame_to).cartesian
    return np.array([cart.x.value, cart.y.value, cart.z.value])


def transform_lonlat(lon_deg, lat_deg, frame_from: str, frame_to: str):
    """Convert lon/lat arrays (deg) between sky frames.

    ICRS, Galactic and FK5 (J2000) differ by constant rotations: those use a cached
    rotation matrix (pure numpy). Other frames go through one vectorised astropy call.
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    if frame_from == frame_to:
        return lon, lat
    if frame_from in _ROTATION_FRAMES and frame_to in _ROTATION_FRAMES:
        matrix = _rotation_matrix(frame_from, frame_to)
        lon_r, lat_r = np.deg2rad(lon), np.deg2rad(lat)
        cos_lat = np.cos(lat_r)
        vec = np.stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)])
        x, y, z = np.tensordot(matrix, vec, axes=1)
        lon_out = np.mod(np.rad2deg(np.arctan2(y, x)), 360.0)
        lat_out = np.rad2deg(np.arctan2(z, np.hypot(x, y)))
        return lon_out, lat_out
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    coord = SkyCoord(lon * u.deg, lat * u.deg, frame=frame_from).transform_to(frame_to)
    sph = coord.spherical
    return sph.lon.to_value(u.deg), sph.lat.to_value(u.deg)


def bilinear_point_weights(x0: float, y0: float, shape: tuple[int, int]) -> np.ndarray:
    """Weights of a point at pixel position (x0, y0) on an image of ``shape`` (ny, nx).

    The point's unit flux is spread over the (up to) four pixels whose centres surround
    it, with the bilinear weights ``(1 - |x - x0|) (1 - |y - y0|)``: the fraction of a
    pixel-sized box centred on the point that falls in each pixel. The centroid of the
    weights is the point position (sub-pixel positions stay visible to a fit) and they sum
    to one when the four pixels are inside the image.
    """
    ny, nx = shape
    out = np.zeros(shape)
    if not (np.isfinite(x0) and np.isfinite(y0)):
        return out
    ix, iy = int(np.floor(x0)), int(np.floor(y0))
    dx, dy = x0 - ix, y0 - iy
    for jx, wx in ((ix, 1 - dx), (ix + 1, dx)):
        for jy, wy in ((iy, 1 - dy), (iy + 1, dy)):
            if 0 <= jx < nx and 0 <= jy < ny:
                out[jy, jx] += wx * wy
    return out


def subpixel_offsets(factor: int) -> np.ndarray:
    """Sub-pixel centre offsets (in pixels) for an ``factor x factor`` split of a pixel."""
    return (np.arange(factor) + 0.5) / factor - 0.5
