"""Pure numpy helpers of the spatial models: elliptical shapes and pixel integration.

Everything works on float64 arrays of angles in **radians** (lon/lat pairs); no astropy
units inside. The spherical kernels themselves (separation, position angle, frame
rotations) come from `gammapipe.utils.coordinates`; `transform_lonlat` is re-exported here
for the callers in the datasets layer.
"""

from __future__ import annotations

import numpy as np

from ...utils.coordinates import position_angle, transform_lonlat

__all__ = [
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
