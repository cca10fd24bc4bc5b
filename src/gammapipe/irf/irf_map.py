"""`IRFMap`: an instrument response tabulated on a coarse spatial grid plus its exposure.

An IRF map holds two maps on the same (coarse) sky grid:

* ``irf_map``: the response (PSF profile vs ``rad``, EDisp kernel vs reco ``energy`` or
  migration pdf vs ``migra``) for every true energy and sky pixel;
* ``exposure_map``: the exposure with which it was obtained, on the same geometry with the
  IRF-specific axis squashed to one bin. It is the weight used when stacking.

GADF dataset layout: the IRF map goes to the HDU ``<NAME>`` (+ ``<NAME>_BANDS``), the
exposure to ``<NAME>_EXPOSURE`` (+ ``<NAME>_EXPOSURE_BANDS``), e.g. ``PSF`` / ``EDISP``.
"""

from __future__ import annotations

import copy as _copy

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammapipe.utils.coordinates import angular_separation_deg
from gammapipe.utils.errors import GeometryError, MissingHDUError
from gammapipe.utils.fits import make_path, open_fits, write_hdulist

from ._map_stacking import safe_divide, stack_irf_inplace

__all__ = ["IRFMap"]


def _writable_float(m) -> np.ndarray:
    """Data of map ``m`` as a writable float array that the map holds (converted once if
    the data are integer, read-only or not an own ndarray)."""
    data = m.data
    if not (isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.flags.writeable
            and data.base is None):
        m.data = np.array(data, dtype=np.result_type(data.dtype, np.float32))
    return m.data


def _data_in_unit(m, unit) -> np.ndarray:
    """Data of map ``m`` in ``unit`` (no copy when the unit is already ``unit``)."""
    if m.unit == unit:
        return m.data
    return m.quantity.to_value(unit)


class IRFMap:
    """Base class of `PSFMap`, `EDispKernelMap` and `EDispMap`.

    Parameters
    ----------
    irf_map : `~gammapipe.maps.WcsNDMap`
        The response on a sky grid (axes: the IRF axis, then ``energy_true``).
    exposure_map : `~gammapipe.maps.WcsNDMap`, optional
        Exposure on the same grid with the IRF axis squashed (used as stacking weight).
    """

    tag = "irf_map"
    _hdu_name = "IRF"
    _irf_axis = ""
    _irf_unit = ""
    required_axes: tuple[str, ...] = ()

    def __init__(self, irf_map, exposure_map=None):
        names = list(irf_map.geom.axes.names)
        missing = [n for n in self.required_axes if n not in names]
        if missing:
            raise GeometryError(
                f"{type(self).__name__}: the IRF map lacks axes {missing} (has {names})"
            )
        if exposure_map is not None:
            expected = irf_map.geom.data_shape
            squashed = list(expected)
            squashed[len(names) - 1 - names.index(self._irf_axis)] = 1
            if tuple(exposure_map.data.shape) != tuple(squashed):
                raise GeometryError(
                    f"{type(self).__name__}: exposure map shape {exposure_map.data.shape} "
                    f"does not match the IRF map shape {expected} with {self._irf_axis!r} "
                    f"squashed ({tuple(squashed)})"
                )
        self._irf_map = irf_map
        self.exposure_map = exposure_map

    # ------------------------------------------------------------------ basics
    @property
    def _map(self):
        return self._irf_map

    @property
    def geom(self):
        """Geometry of the IRF map."""
        return self._irf_map.geom

    @property
    def _is_wcs(self) -> bool:
        return type(self.geom).__name__ == "WcsGeom"

    @property
    def has_single_spatial_bin(self) -> bool:
        """Whether the IRF map has a single sky pixel."""
        return int(np.prod(self.geom.data_shape[-2:])) == 1

    def copy(self):
        """Deep copy."""
        return _copy.deepcopy(self)

    def _new(self, irf_map, exposure_map):
        return self.__class__(irf_map, exposure_map)

    def __str__(self) -> str:
        exp = None if self.exposure_map is None else self.exposure_map.data.shape
        return (
            f"{type(self).__name__}\n\n\tIRF map  : {self._irf_map.data.shape} "
            f"{self._irf_map.unit}\n\texposure : {exp}\n\taxes     : "
            f"{list(self.geom.axes.names)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self._irf_map.data.shape})"

    @classmethod
    def _exposure_geom(cls, geom):
        return geom.squash(cls._irf_axis)

    @classmethod
    def from_geom(cls, geom):
        """Empty (zero) IRF map and exposure on ``geom`` (needs the IRF's axes)."""
        from gammapipe.maps import Map

        names = list(geom.axes.names)
        missing = [n for n in cls.required_axes if n not in names]
        if missing:
            raise GeometryError(
                f"{cls.__name__}.from_geom: geometry lacks axes {missing} (has {names})"
            )
        irf_map = Map.from_geom(geom, unit=cls._irf_unit)
        exposure_map = Map.from_geom(cls._exposure_geom(geom), unit="m2 s")
        return cls(irf_map, exposure_map)

    # ------------------------------------------------------------------ positions
    def _image_coords(self):
        """(lon, lat) in deg of the IRF-map pixel centres (image), in its frame."""
        coord = self.geom.to_image().get_coord()
        return np.asarray(coord["lon"], float), np.asarray(coord["lat"], float)

    def _position_lonlat(self, position):
        from gammapipe.maps._wcs_utils import skydir_to_lonlat

        if position is None:
            position = self.geom.center_skydir
        return skydir_to_lonlat(position, self.geom.frame)

    def _nearest_valid_pixel(self, position) -> tuple[int, int]:
        """(iy, ix) of the pixel of ``position``; the nearest pixel with exposure if that
        pixel has none (or lies outside the map)."""
        if not self._is_wcs:
            return 0, 0
        lon, lat = self._position_lonlat(position)
        x, y = self.geom.to_image().coord_to_pix({"lon": np.atleast_1d(lon),
                                                  "lat": np.atleast_1d(lat)})
        ix, iy = int(np.round(x[0])), int(np.round(y[0]))
        ny, nx = self.geom.data_shape[-2:]
        inside = 0 <= ix < nx and 0 <= iy < ny
        valid = self._valid_image()
        if inside and valid[iy, ix]:
            return iy, ix
        if not valid.any():
            return int(np.clip(iy, 0, ny - 1)), int(np.clip(ix, 0, nx - 1))
        lons, lats = self._image_coords()
        sep = angular_separation_deg(lon, lat, lons, lats)
        sep = np.where(valid, sep, np.inf)
        iy, ix = np.unravel_index(int(np.argmin(sep)), sep.shape)
        return int(iy), int(ix)

    def _event_coords(self, map_coord, energy_name: str):
        """(lon, lat, energy, frame) of event coordinates (`MapCoord` or dict with
        ``lon``/``lat`` or ``skycoord``), positions converted to the map frame."""
        from gammapipe.maps import MapCoord

        frame = self.geom.frame if self._is_wcs else getattr(self.geom, "frame", "icrs")
        coords = MapCoord.create(map_coord, frame=frame)
        if coords.frame is not None and coords.frame != frame:
            coords = coords.to_frame(frame)
        lon = np.atleast_1d(np.asarray(coords.lon, dtype=float))
        lat = np.atleast_1d(np.asarray(coords.lat, dtype=float))
        energy = u.Quantity(coords[energy_name])
        return lon, lat, np.atleast_1d(energy), frame

    def _event_pixels(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Nearest IRF-map pixel (iy, ix) of each event (clipped to the map)."""
        ny, nx = self.geom.data_shape[-2:]
        if not self._is_wcs:
            zeros = np.zeros(lon.shape, dtype=int)
            return zeros, zeros
        x, y = self.geom.to_image().coord_to_pix({"lon": lon, "lat": lat})
        ix = np.clip(np.round(np.asarray(x, float)).astype(int), 0, nx - 1)
        iy = np.clip(np.round(np.asarray(y, float)).astype(int), 0, ny - 1)
        return iy, ix

    def _valid_image(self) -> np.ndarray:
        if self.exposure_map is None:
            return np.ones(self.geom.data_shape[-2:], dtype=bool)
        data = self.exposure_map.data.reshape((-1,) + self.exposure_map.data.shape[-2:])
        return np.any(data > 0, axis=0)

    # ------------------------------------------------------------------ geometry ops
    def cutout(self, position, width, mode="trim", min_npix=3):
        """IRF map (and exposure) cut out around ``position`` (at least ``min_npix``
        pixels per side, so that interpolation stays possible). A region-geometry IRF
        map (one spatial bin) is returned unchanged (copied)."""
        if not self._is_wcs:
            return self.copy()
        geom = self._irf_map.geom
        cut, parent, child = geom._cutout_info(position, width, mode=mode, min_npix=min_npix)
        irf_map = self._irf_map._cutout_with_slices(cut, parent, child)
        exposure_map = None
        if self.exposure_map is not None:
            exp_geom = self.exposure_map.geom
            if geom._same_image(exp_geom):  # the usual case: one cutout for both maps
                exp_cut = cut._with_same_image(cut, exp_geom.axes)
                exposure_map = self.exposure_map._cutout_with_slices(exp_cut, parent, child)
            else:
                exposure_map = self.exposure_map.cutout(position=position, width=width,
                                                        mode=mode, min_npix=min_npix)
        return self._new(irf_map, exposure_map)

    def slice_by_idx(self, slices: dict):
        """Slice non-spatial axes (the squashed axis of the exposure is not sliced)."""
        irf_map = self._irf_map.slice_by_idx(slices)
        exposure_map = None
        if self.exposure_map is not None:
            exp_slices = {k: v for k, v in slices.items() if k != self._irf_axis}
            exposure_map = self.exposure_map.slice_by_idx(exp_slices)
        return self._new(irf_map, exposure_map)

    def downsample(self, factor, axis_name=None, weights=None):
        """Coarser IRF map: exposure-weighted mean over merged pixels (or axis bins)."""
        if axis_name is not None and axis_name == self._irf_axis:
            irf_map = self._irf_map.downsample(factor, preserve_counts=True,
                                               axis_name=axis_name, weights=weights)
            return self._new(irf_map, self.exposure_map)
        if self.exposure_map is None:
            irf_map = self._irf_map.downsample(factor, preserve_counts=False,
                                               axis_name=axis_name)
            return self._new(irf_map, None)
        weighted = self._irf_map.copy(data=self._irf_map.data * self.exposure_map.data)
        num = weighted.downsample(factor, preserve_counts=True, axis_name=axis_name)
        exposure = self.exposure_map.downsample(factor, preserve_counts=True,
                                                axis_name=axis_name)
        data = safe_divide(num.data, exposure.data)
        return self._new(num.copy(data=data.astype(self._irf_map.data.dtype)), exposure)

    def stack(self, other, weights=None, nan_to_num=True) -> None:
        """Stack ``other`` into this IRF map in place (exposure-weighted mean).

        ``irf = (irf * exposure + irf_o * exposure_o * w) / (exposure + exposure_o * any(w))``
        on the overlapping pixels, where ``w`` (``weights``, broadcasting to the IRF map of
        ``other``) is typically the safe mask of the other dataset on this grid and
        ``any(w)`` is its "any" over the IRF axis.

        Parameters
        ----------
        other : `IRFMap`
            IRF map of the same type on an aligned grid (equal or a cutout of this one).
        weights : array or `~gammapipe.maps.Map`, optional
            Weights of ``other`` (broadcast to its IRF-map data shape).
        nan_to_num : bool
            Replace non-finite values of ``other`` by 0.
        """
        if not isinstance(other, type(self)):
            raise GeometryError(
                f"{type(self).__name__}.stack: cannot stack a {type(other).__name__}"
            )
        if self.exposure_map is None or other.exposure_map is None:
            raise GeometryError(
                f"{type(self).__name__}.stack: both IRF maps need an exposure map"
            )
        if not self.geom.axes.is_allclose(other.geom.axes, rtol=1e-3, atol=1e-6):
            raise GeometryError(
                f"{type(self).__name__}.stack: non-spatial axes differ: "
                f"{self.geom.axes.names} {self._irf_map.data.shape[:-2]} vs "
                f"{other.geom.axes.names} {other._irf_map.data.shape[:-2]}"
            )
        if self._is_wcs and other._is_wcs:
            from gammapipe.maps._wcs_ops import overlap_slices

            parent, child = overlap_slices(self.geom, other.geom)
        elif self._irf_map.data.shape == other._irf_map.data.shape:
            parent = child = (slice(None), slice(None))
        else:
            raise GeometryError(
                f"{type(self).__name__}.stack: region IRF maps of shapes "
                f"{self._irf_map.data.shape} and {other._irf_map.data.shape} differ"
            )
        w = None
        if weights is not None:
            w = np.asarray(getattr(weights, "data", weights))
            w = np.broadcast_to(w, other._irf_map.data.shape)
        irf_axis = self._np_irf_axis()
        sel_self, sel_other = (Ellipsis,) + tuple(parent), (Ellipsis,) + tuple(child)
        irf_data = _writable_float(self._irf_map)
        exp_data = _writable_float(self.exposure_map)
        stack_irf_inplace(
            irf=irf_data[sel_self],
            exposure=exp_data[sel_self],
            irf_other=_data_in_unit(other._irf_map, self._irf_map.unit)[sel_other],
            exposure_other=_data_in_unit(other.exposure_map, self.exposure_map.unit)[sel_other],
            weights=None if w is None else w[sel_other],
            irf_axis=irf_axis,
            nan_to_num=nan_to_num,
        )

    def _np_irf_axis(self) -> int:
        names = list(self.geom.axes.names)
        return len(names) - 1 - names.index(self._irf_axis)

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self, format: str = "gadf") -> fits.HDUList:
        """HDU list: primary, ``<NAME>``, ``<NAME>_BANDS``, ``<NAME>_EXPOSURE``(+ bands)."""
        if format != "gadf":
            raise ValueError(f"{type(self).__name__}.to_hdulist: unsupported format {format!r}")
        name = self._hdu_name
        hdulist = self._irf_map.to_hdulist(hdu=name, hdu_bands=f"{name}_BANDS")
        if self.exposure_map is not None:
            exp = self.exposure_map.to_hdulist(hdu=f"{name}_EXPOSURE",
                                               hdu_bands=f"{name}_EXPOSURE_BANDS")
            hdulist.extend(exp[1:])
        return hdulist

    @classmethod
    def from_hdulist(cls, hdulist, hdu=None, hdu_bands=None, exposure_hdu=None,
                     exposure_hdu_bands=None, format: str = "gadf"):
        """Read from an HDU list (default HDU names from the class, e.g. ``PSF``)."""
        from gammapipe.maps import Map

        if format != "gadf":
            raise ValueError(f"{cls.__name__}.from_hdulist: unsupported format {format!r}")
        hdu = hdu or cls._hdu_name
        if hdu not in hdulist:
            raise MissingHDUError(
                f"{cls.__name__}: HDU {hdu!r} not found (HDUs: {[h.name for h in hdulist]})"
            )
        irf_map = Map.from_hdulist(hdulist, hdu=hdu, hdu_bands=hdu_bands)
        exposure_hdu = exposure_hdu or f"{hdu}_EXPOSURE"
        exposure_map = None
        if exposure_hdu in hdulist:
            exposure_map = Map.from_hdulist(hdulist, hdu=exposure_hdu,
                                            hdu_bands=exposure_hdu_bands)
        return cls(irf_map, exposure_map)

    @classmethod
    def read(cls, filename, format: str = "gadf", hdu=None):
        """Read from a FITS file."""
        path = make_path(filename)
        with open_fits(path) as hdulist:
            return cls.from_hdulist(hdulist, hdu=hdu, format=format)

    def write(self, filename, overwrite: bool = False, format: str = "gadf") -> None:
        """Write to a FITS file (atomically)."""
        write_hdulist(self.to_hdulist(format=format), filename, overwrite=overwrite)

    def is_allclose(self, other, rtol_axes=1e-3, atol_axes=1e-6, **kwargs) -> bool:
        """Same type, IRF map and exposure map (within tolerances)."""
        if not isinstance(other, type(self)):
            return False
        if not self._irf_map.is_allclose(other._irf_map, rtol_axes, atol_axes, **kwargs):
            return False
        if (self.exposure_map is None) != (other.exposure_map is None):
            return False
        if self.exposure_map is None:
            return True
        return self.exposure_map.is_allclose(other.exposure_map, rtol_axes, atol_axes, **kwargs)

    # ------------------------------------------------------------------ region
    def to_region_nd_map(self, region):
        """IRF map (and exposure) at the position of ``region`` (nearest valid pixel)."""
        from regions import PointSkyRegion

        from gammapipe.maps import Map

        if region is None:
            region = self.geom.center_skydir
        if not hasattr(region, "center") and not hasattr(region, "ra") and not hasattr(
                region, "spherical"):
            raise GeometryError("to_region_nd_map: need a sky region or a SkyCoord")
        position = getattr(region, "center", region)
        iy, ix = self._nearest_valid_pixel(position)
        try:
            from gammapipe.maps import RegionGeom
        except (ImportError, AttributeError) as exc:
            raise GeometryError(
                "to_region_nd_map: RegionGeom is not available in gammapipe.maps yet"
            ) from exc
        point = PointSkyRegion(center=position) if not hasattr(region, "center") else region
        geom = RegionGeom.create(region=point, axes=list(self.geom.axes))
        irf = self._irf_map.data[..., iy, ix][..., None, None]
        irf_map = Map.from_geom(geom, data=irf.copy(), unit=self._irf_map.unit)
        exposure_map = None
        if self.exposure_map is not None:
            exp = self.exposure_map.data[..., iy, ix][..., None, None]
            exposure_map = Map.from_geom(self._exposure_geom(geom), data=exp.copy(),
                                         unit=self.exposure_map.unit)
        return self._new(irf_map, exposure_map)


def quantity_or_none(value, unit):
    """``value`` as a Quantity in ``unit`` or None."""
    return None if value is None else u.Quantity(value, unit)
