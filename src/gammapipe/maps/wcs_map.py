"""`WcsNDMap`: map on a WCS sky geometry with any number of non-spatial axes."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError, UnitError

from . import _wcs_ops
from ._convolve import convolve_images, smooth_images
from .core import Map

__all__ = ["WcsNDMap", "WcsMap"]

_FILL_CHUNK = 1 << 16


class WcsNDMap(Map):
    """Map with a `WcsGeom`: data of shape ``(..., n_axis0, ny, nx)``.

    Parameters
    ----------
    geom : `WcsGeom`
        Geometry.
    data : ndarray, optional
        Data (zeros of ``dtype`` when not given).
    dtype : str
        Data type of the zero-initialised data.
    meta : dict, optional
        Metadata.
    unit : str or `~astropy.units.Unit`
        Data unit.
    """

    tag = "map"

    def __init__(self, geom, data=None, dtype="float32", meta=None, unit=""):
        if type(geom).__name__ != "WcsGeom":
            raise GeometryError(
                f"WcsNDMap: argument 'geom' must be a WcsGeom, got {type(geom).__name__}"
            )
        super().__init__(geom=geom, data=data, dtype=dtype, meta=meta, unit=unit)

    @classmethod
    def create(
        cls,
        npix=None,
        binsz=0.1,
        proj="CAR",
        frame="icrs",
        refpix=None,
        axes=None,
        skydir=None,
        dtype="float32",
        meta=None,
        unit="",
        width=None,
        map_type="wcs",
        **kwargs,
    ) -> WcsNDMap:
        """Empty WCS map; arguments as `WcsGeom.create` plus ``dtype``, ``unit``, ``meta``."""
        from .wcs_geom import WcsGeom

        if map_type not in ("wcs", "wcs-sparse"):
            raise GammapipeError(f"WcsNDMap.create: map_type {map_type!r} is not 'wcs'")
        geom = WcsGeom.create(
            npix=npix, binsz=binsz, width=width, proj=proj, skydir=skydir, frame=frame,
            refpix=refpix, axes=axes, **kwargs,
        )
        return cls(geom=geom, dtype=dtype, meta=meta, unit=unit)

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self, hdu="SKYMAP", hdu_bands=None, sparse=False, format="gadf"):
        """GADF HDU list: primary, image ``hdu`` and (cubes) the BANDS table."""
        from .io import wcs_map_to_hdulist

        if sparse:
            raise GammapipeError("WcsNDMap.to_hdulist: the sparse format is not supported")
        if format not in ("gadf", None):
            raise GammapipeError(
                f"argument 'format': {format!r} is not supported for WCS maps (use 'gadf')"
            )
        return wcs_map_to_hdulist(self, hdu=hdu, hdu_bands=hdu_bands)

    def to_hdu(self, hdu="SKYMAP", hdu_bands=None):
        """Image HDU of the map (the BANDS table is in `to_hdulist`)."""
        return self.to_hdulist(hdu=hdu, hdu_bands=hdu_bands)[1]

    # ------------------------------------------------------------------ filling
    def fill_events(self, events, weights=None) -> None:
        """Histogram events into the map (vectorised, chunked; no per-event Python loop).

        Parameters
        ----------
        events : EventList-like or `~astropy.table.Table`
            Object with ``.radec`` (SkyCoord) and one attribute per non-spatial axis
            (``.energy``), or a table with RA, DEC and e.g. ENERGY columns.
        weights : array-like, optional
            Weight per event.
        """
        from ._events import event_axis_values, event_skycoord, make_bin_indexer
        from ._fast_wcs import make_world_to_pix

        sky = event_skycoord(events)
        frame = self.geom.frame
        if frame == "galactic":
            sky = sky.galactic
            lon, lat = sky.l.deg, sky.b.deg
        else:
            if sky.frame.name != "icrs":
                sky = sky.icrs
            lon, lat = sky.ra.deg, sky.dec.deg
        lon = np.asarray(lon, dtype=float).ravel()
        lat = np.asarray(lat, dtype=float).ravel()
        axes = list(self.geom.axes)
        axis_values = []
        for axis in axes:
            vals = event_axis_values(events, axis.name)
            if isinstance(vals, u.Quantity):
                try:
                    vals = vals.to_value(axis.unit)
                except u.UnitConversionError as exc:
                    raise UnitError(
                        f"fill_events: events {axis.name} unit {vals.unit} is not "
                        f"convertible to the axis unit {axis.unit}"
                    ) from exc
            axis_values.append(np.asarray(vals).ravel())
        indexers = [
            make_bin_indexer(axis.edges.to_value(axis.unit), getattr(axis, "interp", "lin"))
            for axis in axes
        ]
        nbins = [axis.nbin for axis in axes]
        ny, nx = self.data.shape[-2:]
        to_pix = make_world_to_pix(self.geom.wcs)
        n = lon.size
        flat = np.empty(n, dtype=np.int64)
        for start in range(0, n, _FILL_CHUNK):
            sl = slice(start, start + _FILL_CHUNK)
            x, y = to_pix(lon[sl], lat[sl])
            x += 0.5
            y += 0.5
            valid = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)  # NaN -> False
            ix = np.floor(x, out=x)
            idx = np.floor(y, out=y)
            idx *= nx
            idx += ix
            stride = nx * ny
            for vals, indexer, nbin in zip(axis_values, indexers, nbins, strict=True):
                i = indexer(vals[sl])
                valid &= i >= 0
                idx += i * stride
                stride *= nbin
            idx[~valid] = -1
            flat[sl] = idx
        keep = flat >= 0
        w = None
        if weights is not None:
            w = np.broadcast_to(np.asarray(u.Quantity(weights).value, dtype=float), (n,))[keep]
        self._add_counts(flat[keep], w)

    # ------------------------------------------------------------------ smoothing
    def _width_pix(self, width) -> float:
        if isinstance(width, u.Quantity | str):
            width = u.Quantity(width)
            try:
                deg = width.to_value("deg")
            except u.UnitConversionError as exc:
                raise UnitError(f"argument 'width': {width} is not an angle") from exc
            scale = np.mean(np.abs(self.geom.wcs.wcs.get_cdelt()))
            return float(deg / scale)
        return float(width)

    def smooth(self, width, kernel="gauss", **kwargs) -> WcsNDMap:
        """Smooth every image with a Gaussian (width = sigma), disk (radius) or box kernel.

        Parameters
        ----------
        width : `~astropy.units.Quantity`, str or float
            Kernel width as an angle or in pixels.
        kernel : {"gauss", "disk", "box"}
            ``gauss`` and ``box`` are separable filters with reflecting borders
            (`scipy.ndimage.gaussian_filter`, `scipy.ndimage.uniform_filter` with side
            ``round(width)``); ``disk`` is a unit-sum top-hat applied by FFT convolution
            with zero borders. Totals are preserved for signal away from the borders.
        **kwargs
            Passed to the scipy filter (``mode``, ``truncate``...) or `disk_kernel`.
        """
        if self.is_mask:
            raise GammapipeError("smooth: cannot smooth a boolean mask map")
        data = smooth_images(self.data, kernel, self._width_pix(width), **kwargs)
        dtype = self.data.dtype if self.data.dtype.kind == "f" else np.float64
        return self._init_from(geom=self.geom, data=data.astype(dtype), meta=dict(self.meta))

    def convolve(self, kernel) -> WcsNDMap:
        """Convolve every image with ``kernel``.

        ``kernel`` is a 2D array (same kernel for all planes), an array / `Map` with one
        kernel image per plane (leading shape equal to the map's non-spatial shape), or an
        object with a ``psf_kernel_map`` attribute (PSF kernel).
        """
        if hasattr(kernel, "psf_kernel_map"):
            kernel = kernel.psf_kernel_map
        if isinstance(kernel, Map):
            kdata = kernel.data
            if kdata.ndim == self.data.ndim and kdata.shape[:-2] != self.data.shape[:-2]:
                raise GeometryError(
                    f"convolve: kernel map planes {kdata.shape[:-2]} do not match the map "
                    f"planes {self.data.shape[:-2]}"
                )
        else:
            kdata = np.asarray(kernel, dtype=float)
        if kdata.ndim not in (2, self.data.ndim):
            raise GeometryError(
                f"convolve: kernel of shape {kdata.shape} does not fit a map of shape "
                f"{self.data.shape}"
            )
        data = convolve_images(self.data, kdata)
        return self._init_from(geom=self.geom, data=data, meta=dict(self.meta))

    # ------------------------------------------------------------------ geometry changes
    def cutout(self, position, width, mode="trim", odd_npix=False, min_npix=1) -> WcsNDMap:
        """Cut out a region around ``position`` (see `WcsGeom.cutout`); zeros outside."""
        kwargs = {"mode": mode, "odd_npix": odd_npix}
        if min_npix != 1:
            kwargs["min_npix"] = min_npix
        geom, parent, child = self.geom._cutout_info(position, width, **kwargs)
        return self._cutout_with_slices(geom, parent, child)

    def _cutout_with_slices(self, geom, parent, child) -> WcsNDMap:
        """Map on the cutout ``geom`` whose pixels ``child`` are the pixels ``parent`` of
        this map (zeros elsewhere); the non-spatial axes of ``geom`` must be this map's."""
        sub = self.data[(Ellipsis,) + tuple(parent)]
        if sub.shape == tuple(geom.data_shape):
            data = sub.copy()
        else:
            data = np.zeros(geom.data_shape, dtype=self.data.dtype)
            data[(Ellipsis,) + tuple(child)] = sub
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    def stack(self, other, weights=None, nan_to_num=True) -> None:
        """Add ``other`` (same pixels, possibly a cutout of this map) into the overlap.

        Parameters
        ----------
        other : `WcsNDMap`
            Map on a cutout (or equal) geometry with the same non-spatial axes.
        weights : `WcsNDMap` or array, optional
            Multiplied with ``other`` before stacking (e.g. a safe mask).
        nan_to_num : bool
            Replace NaN / inf of ``other`` by 0 before adding.
        """
        if other.data.shape[:-2] != self.data.shape[:-2]:
            raise GeometryError(
                f"stack: non-spatial shapes differ: {self.data.shape[:-2]} vs "
                f"{other.data.shape[:-2]}"
            )
        parent, child = _wcs_ops.overlap_slices(self.geom, other.geom)
        sel = (Ellipsis,) + child
        if self.is_mask:
            data = other.data[sel]
            if weights is not None:
                w = weights.data if isinstance(weights, Map) else np.asarray(weights)
                data = data & np.asarray(w, dtype=bool)[sel]
            self.data[(Ellipsis,) + parent] |= data
            return
        try:
            data = other.quantity[sel].to_value(self.unit)
        except u.UnitConversionError as exc:
            raise UnitError(f"stack: unit {other.unit} not convertible to {self.unit}") from exc
        if weights is not None:
            w = weights.data if isinstance(weights, Map) else np.asarray(weights)
            data = data * np.broadcast_to(w, other.data.shape)[sel]
        if nan_to_num:
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        target = self.data[(Ellipsis,) + parent]
        np.add(target, data, out=target, casting="unsafe")
        self.data[(Ellipsis,) + parent] = target

    def pad(self, pad_width, axis_name=None, mode="constant", cval=0, method=None):
        """Pad the spatial axes (or the axis ``axis_name``) by ``pad_width`` pixels."""
        return _wcs_ops.pad(self, pad_width, axis_name=axis_name, mode=mode, cval=cval)

    def crop(self, crop_width) -> WcsNDMap:
        """Remove ``crop_width`` pixels (int or (x, y)) from each spatial border."""
        return _wcs_ops.crop(self, crop_width)

    def downsample(self, factor, preserve_counts=True, axis_name=None, weights=None):
        """Merge ``factor`` bins (sum with ``preserve_counts`` else mean; masks: any)."""
        return _wcs_ops.downsample(self, factor, preserve_counts, axis_name, weights)

    def upsample(self, factor, order=0, preserve_counts=True, axis_name=None):
        """Split bins ``factor`` times (order 0: repeat, 1: linear); counts are divided."""
        return _wcs_ops.upsample(self, factor, order, preserve_counts, axis_name)

    def reproject_to_geom(self, geom, preserve_counts=False, precision_factor=10):
        """Reproject onto another WCS geometry (or a region geometry).

        Each target pixel is sampled on a ``precision_factor``-squared grid of sub-pixels,
        each taking the value of the source pixel it falls in; the sub-pixel values are
        averaged (surface brightness) or, with ``preserve_counts``, converted to a density
        per solid angle and integrated over the target pixel.
        """
        if type(geom).__name__ == "RegionGeom":
            return self.to_region_nd_map(region=geom.region, func=np.nansum)
        return _wcs_ops.reproject(self, geom, preserve_counts, precision_factor)

    def to_region_nd_map(self, region=None, func=np.nansum, weights=None, method="nearest"):
        """Aggregate the map inside ``region`` into a `RegionNDMap` (default: sum).

        A point region takes the value at its position (``method`` interpolation).
        """
        return _wcs_ops.to_region_nd_map(self, region, func, weights, method)

    def get_spectrum(self, region=None, func=np.nansum, weights=None):
        """Alias of `to_region_nd_map`."""
        return self.to_region_nd_map(region=region, func=func, weights=weights)

    def mask_nearest_position(self, position):
        """Sky position of the valid (True) pixel nearest to ``position``."""
        return _wcs_ops.mask_nearest_position(self, position)

    def binary_erode(self, width, kernel="disk", use_fft=False) -> WcsNDMap:
        """Binary erosion of a mask with a disk / box of ``width`` (radius / side)."""
        return _wcs_ops.binary_morphology(self, width, kernel, erode=True)

    def binary_dilate(self, width, kernel="disk", use_fft=False) -> WcsNDMap:
        """Binary dilation of a mask with a disk / box of ``width`` (radius / side)."""
        return _wcs_ops.binary_morphology(self, width, kernel, erode=False)

    # ------------------------------------------------------------------ plotting
    def plot(self, ax=None, fig=None, add_cbar=False, stretch="linear", axes_loc=None,
             kwargs_colorbar=None, **kwargs):
        """Plot an image map on WCS axes; see `gammapipe.maps.plotting.plot_wcs_image`."""
        from .plotting import plot_wcs_image

        return plot_wcs_image(self, ax=ax, fig=fig, add_cbar=add_cbar, stretch=stretch,
                              axes_loc=axes_loc, kwargs_colorbar=kwargs_colorbar, **kwargs)

    def plot_grid(self, figsize=None, ncols=3, **kwargs):
        """One panel per image plane, titled with the bin range; returns the axes."""
        from .plotting import plot_wcs_grid

        return plot_wcs_grid(self, figsize=figsize, ncols=ncols, **kwargs)

    def plot_mask(self, ax=None, **kwargs):
        """Contour / hatched overlay of a boolean image mask; returns the axes."""
        from .plotting import plot_wcs_mask

        return plot_wcs_mask(self, ax=ax, **kwargs)


WcsMap = WcsNDMap
