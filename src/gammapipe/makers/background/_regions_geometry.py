"""Pure geometry helpers of the OFF-region finders.

Everything happens on a fine gnomonic (TAN) pixel grid centred on the rotation point (the
pointing position). In an azimuthal projection centred on that point, a rotation of the
pixel plane about the projection centre is exactly a rotation of the sky about the
pointing, so the ON region is rotated in pixel coordinates and converted back to the sky.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "reference_geom",
    "pixel_region",
    "region_pixels",
    "angular_extent",
    "circle_pixels",
    "rotate_point",
    "region_angle",
    "ExclusionLookup",
]


def reference_geom(region_center, center, binsz_deg: float, frame: str):
    """Fine TAN geometry centred on ``center`` that contains every rotated region.

    The width is four times the ON-region offset plus 0.3 deg, so that all regions
    rotated about ``center`` lie inside the image whatever their size (the rotation
    point is outside the ON region, so the region is smaller than twice its offset).
    """
    from gammapipe.maps import WcsGeom

    offset = float(region_center.separation(center).deg)
    width = 4.0 * offset + 0.3
    return WcsGeom.create(skydir=center.transform_to(frame), binsz=binsz_deg, width=width,
                          frame=frame, proj="TAN")


def pixel_region(region, wcs):
    """Pixel version of a sky region on ``wcs`` (circles with the North pixel scale)."""
    from gammapipe.maps._wcs_utils import sky_region_to_pixel

    return sky_region_to_pixel(region, wcs)


def _bbox(region_pix, shape) -> tuple[int, int, int, int]:
    ny, nx = shape
    try:
        bbox = region_pix.bounding_box
        return (max(bbox.ixmin, 0), min(bbox.ixmax, nx), max(bbox.iymin, 0),
                min(bbox.iymax, ny))
    except (AttributeError, NotImplementedError, ValueError, TypeError):
        return 0, nx, 0, ny


def region_pixels(region_pix, shape) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel coordinates ``(x, y)`` of the pixel centres inside ``region_pix``."""
    from regions import PixCoord

    ixmin, ixmax, iymin, iymax = _bbox(region_pix, shape)
    if ixmax <= ixmin or iymax <= iymin:
        return np.zeros(0, int), np.zeros(0, int)
    yy, xx = np.mgrid[iymin:iymax, ixmin:ixmax]
    inside = np.asarray(region_pix.contains(PixCoord(xx, yy)), dtype=bool)
    return xx[inside], yy[inside]


def angular_extent(x: np.ndarray, y: np.ndarray, cx: float, cy: float) -> float:
    """Angle (rad) subtended by a group of pixels as seen from ``(cx, cy)``.

    The rotation point is assumed outside the group; angles are unwrapped so that a group
    straddling the +-pi cut is measured correctly.
    """
    if len(x) == 0:
        return 0.0
    angles = np.arctan2(np.asarray(y, float) - cy, np.asarray(x, float) - cx)
    extent = float(angles.max() - angles.min())
    if extent > np.pi:
        wrapped = np.mod(angles, 2 * np.pi)
        extent = float(wrapped.max() - wrapped.min())
    return extent


def circle_pixels(x0: float, y0: float, radius: float, shape) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel centres strictly inside a pixel circle (the `regions` convention)."""
    ny, nx = shape
    ix0, ix1 = max(int(np.floor(x0 - radius)), 0), min(int(np.ceil(x0 + radius)) + 1, nx)
    iy0, iy1 = max(int(np.floor(y0 - radius)), 0), min(int(np.ceil(y0 + radius)) + 1, ny)
    if ix1 <= ix0 or iy1 <= iy0:
        return np.zeros(0, int), np.zeros(0, int)
    yy, xx = np.mgrid[iy0:iy1, ix0:ix1]
    inside = np.hypot(xx - x0, yy - y0) < radius
    return xx[inside], yy[inside]


def rotate_point(x: float, y: float, cx: float, cy: float, angle: float) -> tuple[float, float]:
    """``(x, y)`` rotated counter-clockwise by ``angle`` (rad) about ``(cx, cy)``."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = x - cx, y - cy
    return cx + c * dx - s * dy, cy + s * dx + c * dy


def region_angle(x0: float, y0: float, cx: float, cy: float) -> float:
    """Position angle (rad, pixel plane) of ``(x0, y0)`` seen from ``(cx, cy)``."""
    return float(np.arctan2(y0 - cy, x0 - cx))


class ExclusionLookup:
    """Exclusion mask (True = allowed) evaluated lazily on the pixels of a reference grid.

    Pixel centres of the reference grid are mapped to the nearest pixel of the exclusion
    mask; positions outside the mask's image are treated as allowed (nothing is known to
    be excluded there). Values are computed only for the pixels that are asked for, and
    cached.
    """

    def __init__(self, exclusion_mask, reference):
        self._ref = reference
        self._shape = tuple(reference.data_shape_image)
        self._cache = np.full(self._shape, -1, dtype=np.int8)
        if exclusion_mask is None:
            self._mask = None
            return
        data = np.asarray(exclusion_mask.data, dtype=bool)
        data = data.reshape((-1,) + data.shape[-2:])
        # an image pixel is allowed only if allowed in every non-spatial bin
        self._mask = data.all(axis=0)
        self._geom = exclusion_mask.geom.to_image()
        self._same_frame = self._geom.frame == reference.frame

    @property
    def is_trivial(self) -> bool:
        """True if there is no exclusion mask (everything allowed)."""
        return self._mask is None

    def prefetch_annulus(self, cx: float, cy: float, r_min: float, r_max: float) -> None:
        """Evaluate the mask at once on all pixels at distance ``[r_min, r_max]`` (pixels)
        from ``(cx, cy)``: where rotated regions can lie."""
        if self._mask is None:
            return
        ny, nx = self._shape
        x0, x1 = max(int(np.floor(cx - r_max)), 0), min(int(np.ceil(cx + r_max)) + 1, nx)
        y0, y1 = max(int(np.floor(cy - r_max)), 0), min(int(np.ceil(cy + r_max)) + 1, ny)
        if x1 <= x0 or y1 <= y0:
            return
        yy, xx = np.mgrid[y0:y1, x0:x1]
        rr = np.hypot(xx - cx, yy - cy)
        sel = (rr >= max(r_min, 0.0)) & (rr <= r_max)
        self.allowed(xx[sel], yy[sel])

    def allowed(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the reference pixels ``(x, y)`` are allowed (not excluded)."""
        if self._mask is None:
            return np.ones(len(x), dtype=bool)
        cached = self._cache[y, x]
        todo = cached < 0
        if np.any(todo):
            xt, yt = x[todo], y[todo]
            lon, lat = self._ref.wcs.wcs_pix2world(xt.astype(float), yt.astype(float), 0)
            if not self._same_frame:
                from astropy.coordinates import SkyCoord

                sky = SkyCoord(lon, lat, unit="deg", frame=self._ref.frame)
                sky = sky.transform_to(self._geom.frame)
                lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
            with np.errstate(invalid="ignore"):
                px, py = self._geom.wcs.wcs_world2pix(lon, lat, 0)
            ny, nx = self._mask.shape
            ix = np.floor(np.asarray(px) + 0.5)
            iy = np.floor(np.asarray(py) + 0.5)
            inside = np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nx) \
                & (iy >= 0) & (iy < ny)
            values = np.ones(len(xt), dtype=bool)
            values[inside] = self._mask[iy[inside].astype(int), ix[inside].astype(int)]
            self._cache[yt, xt] = values.astype(np.int8)
            cached = self._cache[y, x]
        return cached.astype(bool)
