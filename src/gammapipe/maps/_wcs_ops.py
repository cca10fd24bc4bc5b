"""Geometry-changing operations of `WcsNDMap` (pad, crop, resampling, reprojection...).

All operations are vectorised over pixels; loops run only over the handful of
sub-pixel offsets of the reprojection oversampling.
"""

from __future__ import annotations

import copy
import warnings

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError

__all__ = [
    "overlap_slices",
    "pad",
    "crop",
    "downsample",
    "upsample",
    "reproject",
    "to_region_nd_map",
    "mask_nearest_position",
    "binary_morphology",
]


def _pix2world(wcs, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return wcs.wcs_pix2world(x, y, 0)


def _new_geom(geom, wcs=None, npix=None, axes=None):
    """Geometry of the same type with a new WCS / pixel counts / axes."""
    wcs = geom.wcs if wcs is None else wcs
    if npix is None:
        npix = (geom.data_shape[-1], geom.data_shape[-2])
    axes = list(geom.axes) if axes is None else list(axes)
    return type(geom)(wcs=wcs, npix=tuple(int(n) for n in npix), axes=axes)


def _shift_wcs(wcs, dx: float, dy: float, factor: float = 1.0):
    """WCS with the reference pixel moved by (dx, dy) and the pixel size times ``factor``."""
    new = copy.deepcopy(wcs)
    crpix = np.array(new.wcs.crpix, dtype=float)
    if factor != 1.0:
        crpix = (crpix - 0.5) / factor + 0.5
        if new.wcs.has_cd():
            new.wcs.cd = np.asarray(new.wcs.cd) * factor
        else:
            new.wcs.cdelt = np.asarray(new.wcs.cdelt) * factor
    new.wcs.crpix = crpix + np.array([dx, dy])
    new.wcs.set()
    return new


def _nxy(geom) -> tuple[int, int]:
    return int(geom.data_shape[-1]), int(geom.data_shape[-2])


def _same_but_crpix(a, b) -> bool:
    """Whether two Wcsprm differ at most in their reference pixel."""
    return (list(a.ctype) == list(b.ctype)
            and np.array_equal(a.crval, b.crval)
            and np.array_equal(a.get_cdelt(), b.get_cdelt())
            and np.array_equal(a.get_pc(), b.get_pc())
            and _same_float(a.lonpole, b.lonpole) and _same_float(a.latpole, b.latpole)
            and str(a.radesys) == str(b.radesys))


def _same_float(x: float, y: float) -> bool:
    return x == y or (x != x and y != y)  # equal, or both NaN


def overlap_slices(parent, child) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(parent, child) ``(y, x)`` slices of the overlap of two pixel-aligned WCS geometries."""
    cp = np.abs(parent.wcs.wcs.get_cdelt())
    cc = np.abs(child.wcs.wcs.get_cdelt())
    if not np.allclose(cp, cc, rtol=1e-6) or parent.frame != child.frame:
        raise GeometryError(
            "geometries do not share the pixel grid (different pixel size or frame): "
            f"{cp} {parent.frame} vs {cc} {child.frame}"
        )
    if _same_but_crpix(parent.wcs.wcs, child.wcs.wcs):
        # same projection, reference and pixel size: pixels differ by the crpix offset
        ox, oy = (float(v) for v in np.subtract(parent.wcs.wcs.crpix, child.wcs.wcs.crpix))
    else:
        lon, lat = _pix2world(child.wcs, np.array([0.0]), np.array([0.0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, y = parent.wcs.wcs_world2pix(lon, lat, 0)
        ox, oy = float(x[0]), float(y[0])
    ix, iy = int(np.round(ox)), int(np.round(oy))
    if abs(ox - ix) > 1e-3 or abs(oy - iy) > 1e-3:
        raise GeometryError(
            f"geometries are not pixel-aligned (offset {ox:.4f}, {oy:.4f} pixels)"
        )
    npx, npy = _nxy(parent)
    ncx, ncy = _nxy(child)
    x0, x1 = max(0, ix), min(npx, ix + ncx)
    y0, y1 = max(0, iy), min(npy, iy + ncy)
    if x1 <= x0 or y1 <= y0:
        empty = (slice(0, 0), slice(0, 0))
        return empty, empty
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - iy, y1 - iy), slice(x0 - ix, x1 - ix))


def _xy_width(width, name: str) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(width, dtype=int))
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    if arr.size != 2:
        raise GeometryError(f"argument {name!r}: give an int or (x, y) pixels, got {width}")
    return int(arr[0]), int(arr[1])


def pad(m, pad_width, axis_name=None, mode="constant", cval=0):
    """Padded copy of a WCS map (spatial axes or one non-spatial axis)."""
    if axis_name is not None:
        axis = m.geom.axes[axis_name]
        new_axis = axis.pad(pad_width)
        width = np.atleast_1d(pad_width)
        before, after = (int(width[0]), int(width[-1]))
        np_axis = m._np_axis(axis_name)
        spec = [(0, 0)] * m.data.ndim
        spec[np_axis] = (before, after)
        axes = [new_axis if a.name == axis_name else a for a in m.geom.axes]
        geom = _new_geom(m.geom, axes=axes)
    else:
        px, py = _xy_width(pad_width, "pad_width")
        nx, ny = _nxy(m.geom)
        npix = (nx + 2 * px, ny + 2 * py)
        geom = _new_geom(m.geom, wcs=_shift_wcs(m.geom.wcs, px, py), npix=npix)
        spec = [(0, 0)] * (m.data.ndim - 2) + [(py, py), (px, px)]
    if mode == "constant":
        data = np.pad(m.data, spec, mode="constant", constant_values=cval)
    elif mode in ("edge", "reflect", "symmetric", "wrap"):
        data = np.pad(m.data, spec, mode=mode)
    else:
        raise GammapipeError(f"argument 'mode': {mode!r} not in constant/edge/reflect/wrap")
    return m._init_from(geom=geom, data=data, meta=dict(m.meta))


def crop(m, crop_width):
    """Copy of a WCS map without ``crop_width`` pixels on each spatial border."""
    cx, cy = _xy_width(crop_width, "crop_width")
    nx, ny = _nxy(m.geom)
    if 2 * cx >= nx or 2 * cy >= ny:
        raise GeometryError(f"crop: width ({cx}, {cy}) leaves no pixel of a {nx}x{ny} map")
    geom = _new_geom(m.geom, wcs=_shift_wcs(m.geom.wcs, -cx, -cy), npix=(nx - 2 * cx, ny - 2 * cy))
    data = m.data[..., cy : ny - cy, cx : nx - cx].copy()
    return m._init_from(geom=geom, data=data, meta=dict(m.meta))


def _block_reduce(data, np_axes, factor, func):
    shape = []
    red = []
    for d, n in enumerate(data.shape):
        if d in np_axes:
            shape += [n // factor, factor]
            red.append(len(shape) - 1)
        else:
            shape.append(n)
    return func(data.reshape(shape), axis=tuple(red))


def downsample(m, factor, preserve_counts=True, axis_name=None, weights=None):
    """Downsampled copy (block sum, mean, or logical-or for masks)."""
    factor = int(factor)
    data = m.data
    if weights is not None:
        data = data * (weights.data if hasattr(weights, "data") else np.asarray(weights))
    if axis_name is None:
        nx, ny = _nxy(m.geom)
        if nx % factor or ny % factor:
            raise GeometryError(
                f"downsample: map size {nx}x{ny} is not divisible by factor {factor}"
            )
        geom = _new_geom(m.geom, wcs=_shift_wcs(m.geom.wcs, 0, 0, factor),
                         npix=(nx // factor, ny // factor))
        np_axes = (data.ndim - 2, data.ndim - 1)
    else:
        axis = m.geom.axes[axis_name]
        if axis.nbin % factor:
            raise GeometryError(
                f"downsample: axis {axis_name!r} with {axis.nbin} bins is not divisible by "
                f"factor {factor}"
            )
        axes = [axis.downsample(factor) if a.name == axis_name else a for a in m.geom.axes]
        geom = _new_geom(m.geom, axes=axes)
        np_axes = (m._np_axis(axis_name),)
    if m.is_mask:
        out = _block_reduce(data, np_axes, factor, np.any)
    elif preserve_counts:
        out = _block_reduce(data, np_axes, factor, np.sum)
    else:
        out = _block_reduce(data, np_axes, factor, np.mean)
    if not m.is_mask:
        out = out.astype(m.data.dtype if m.data.dtype.kind == "f" else out.dtype, copy=False)
    return m._init_from(geom=geom, data=out, meta=dict(m.meta))


def upsample(m, factor, order=0, preserve_counts=True, axis_name=None):
    """Upsampled copy (order 0: repeat, 1: linear interpolation on the pixel grid)."""
    from ._interp import interp_pix

    factor = int(factor)
    if axis_name is None:
        nx, ny = _nxy(m.geom)
        geom = _new_geom(m.geom, wcs=_shift_wcs(m.geom.wcs, 0, 0, 1.0 / factor),
                         npix=(nx * factor, ny * factor))
        np_axes = [m.data.ndim - 2, m.data.ndim - 1]
        scale = factor**2
    else:
        axis = m.geom.axes[axis_name]
        axes = [axis.upsample(factor) if a.name == axis_name else a for a in m.geom.axes]
        geom = _new_geom(m.geom, axes=axes)
        np_axes = [m._np_axis(axis_name)]
        scale = factor
    if order == 0 or m.is_mask:
        data = m.data
        for ax in np_axes:
            data = np.repeat(data, factor, axis=ax)
    else:
        # new pixel centres in old pixel coordinates
        grids = []
        for d, n in enumerate(geom.data_shape):
            if d in np_axes:
                grids.append((np.arange(n) + 0.5) / factor - 0.5)
            else:
                grids.append(np.arange(n, dtype=float))
        pix = np.meshgrid(*grids, indexing="ij", sparse=True)
        data = interp_pix(m.data.astype(float), pix, method="linear", fill_value=None)
    if preserve_counts and not m.is_mask:
        data = data / scale
    if not m.is_mask and m.data.dtype.kind == "f":
        data = data.astype(m.data.dtype)
    return m._init_from(geom=geom, data=data, meta=dict(m.meta))


def _solid_angle_image(geom) -> np.ndarray:
    sa = u.Quantity(geom.solid_angle()).to_value("sr")
    return np.broadcast_to(sa, geom.data_shape)[(0,) * (len(geom.data_shape) - 2)]


def reproject(m, geom, preserve_counts=False, precision_factor=10):
    """Reproject a WCS map onto the WCS geometry ``geom`` (see `WcsNDMap.reproject_to_geom`)."""
    from astropy.coordinates import SkyCoord

    from ._fast_wcs import world_to_pix

    if m.data.shape[:-2] != tuple(geom.data_shape[:-2]):
        if geom.axes.names:
            raise GeometryError(
                f"reproject_to_geom: non-spatial axes differ ({m.geom.axes.names} "
                f"{m.data.shape[:-2]} vs {geom.axes.names} {tuple(geom.data_shape[:-2])})"
            )
        geom = geom.to_cube(list(m.geom.axes))
    pf = max(int(precision_factor), 1)
    nx, ny = _nxy(geom)
    snx, sny = _nxy(m.geom)
    data = m.data.astype(float)
    if preserve_counts:
        data = data / _solid_angle_image(m.geom)
    acc = np.zeros(m.data.shape[:-2] + (ny, nx))
    jj, ii = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    offsets = (np.arange(pf) + 0.5) / pf - 0.5
    for dy in offsets:
        for dx in offsets:
            lon, lat = _pix2world(geom.wcs, ii + dx, jj + dy)
            if geom.frame != m.geom.frame:
                sky = SkyCoord(lon, lat, unit="deg", frame=geom.frame)
                sky = sky.transform_to(m.geom.frame)
                lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
            x, y = world_to_pix(m.geom.wcs, lon, lat)
            ix = np.floor(np.nan_to_num(x, nan=-10) + 0.5).astype(np.intp)
            iy = np.floor(np.nan_to_num(y, nan=-10) + 0.5).astype(np.intp)
            valid = (ix >= 0) & (ix < snx) & (iy >= 0) & (iy < sny)
            vals = data[..., np.where(valid, iy, 0), np.where(valid, ix, 0)]
            acc += np.where(valid, vals, 0.0)
    acc /= pf * pf
    if preserve_counts:
        acc = acc * _solid_angle_image(geom)
    if m.is_mask:
        acc = acc >= 0.5
    elif m.data.dtype.kind == "f":
        acc = acc.astype(m.data.dtype)
    return m._init_from(geom=geom, data=acc, meta=dict(m.meta))


def _pixel_region_mask(geom, region) -> np.ndarray:
    from regions import PixCoord

    nx, ny = _nxy(geom)
    y, x = np.mgrid[0:ny, 0:nx]
    pix_region = region.to_pixel(geom.wcs) if hasattr(region, "to_pixel") else region
    return np.asarray(pix_region.contains(PixCoord(x, y)), dtype=bool)


def to_region_nd_map(m, region=None, func=np.nansum, weights=None, method="nearest"):
    """Aggregate a WCS map in a sky region into a `RegionNDMap`."""
    from regions import PointSkyRegion

    from ._interp import interp_pix
    from .region_geom import RegionGeom
    from .region_map import RegionNDMap

    if type(region).__name__ == "RegionGeom":
        region = region.region
    if region is None:
        region = _footprint_region(m.geom)
    geom = RegionGeom(region=region, axes=list(m.geom.axes), wcs=m.geom.wcs)
    data = m.data
    if weights is not None:
        data = data * (weights.data if hasattr(weights, "data") else np.asarray(weights))
    if isinstance(region, PointSkyRegion):
        from ._fast_wcs import world_to_pix

        center = region.center.transform_to(m.geom.frame)
        x, y = world_to_pix(m.geom.wcs, center.spherical.lon.deg, center.spherical.lat.deg)
        lead = np.meshgrid(*[np.arange(n, dtype=float) for n in data.shape[:-2]], indexing="ij")
        pix = [*lead, np.full(data.shape[:-2], float(y)), np.full(data.shape[:-2], float(x))]
        values = interp_pix(data.astype(float), pix, method=method, fill_value=np.nan)
        values = np.asarray(values).reshape(data.shape[:-2] + (1, 1))
    else:
        mask = _pixel_region_mask(m.geom, region)
        values = func(data[..., mask], axis=-1)[..., None, None]
    if m.is_mask:
        values = values.astype(bool)
    return RegionNDMap(geom=geom, data=values, unit=m.unit, meta=dict(m.meta))


def _footprint_region(geom):
    from regions import RectangleSkyRegion

    center = geom.center_skydir
    nx, ny = _nxy(geom)
    cdelt = np.abs(geom.wcs.wcs.get_cdelt())
    return RectangleSkyRegion(center, width=nx * cdelt[0] * u.deg, height=ny * cdelt[1] * u.deg)


def mask_nearest_position(m, position):
    """Sky position of the True pixel nearest to ``position``."""
    from astropy.coordinates import SkyCoord

    mask = np.asarray(m.data, dtype=bool)
    mask = mask.reshape((-1,) + mask.shape[-2:]).any(axis=0)
    iy, ix = np.nonzero(mask)
    if ix.size == 0:
        raise GammapipeError("mask_nearest_position: the mask has no True pixel")
    lon, lat = _pix2world(m.geom.wcs, ix.astype(float), iy.astype(float))
    sky = SkyCoord(lon, lat, unit="deg", frame=m.geom.frame)
    sep = sky.separation(position)
    return sky[int(np.argmin(sep))]


def binary_morphology(m, width, kernel="disk", erode=True):
    """Binary erosion / dilation of every image of a mask map."""
    from scipy import ndimage

    from ._convolve import make_kernel

    if not m.is_mask:
        raise GammapipeError("binary_erode/binary_dilate need a boolean mask map")
    structure = make_kernel(kernel, m._width_pix(width)) > 0
    structure = structure.reshape((1,) * (m.data.ndim - 2) + structure.shape)
    func = ndimage.binary_erosion if erode else ndimage.binary_dilation
    data = func(m.data, structure=structure)  # scipy default: zeros beyond the border
    return m._init_from(geom=m.geom, data=data, meta=dict(m.meta))
