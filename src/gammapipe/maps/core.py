"""`Map`: base class of binned data on a geometry (WCS or region), with units.

The data array has the shape ``geom.data_shape``: non-spatial axes in reverse order,
then the spatial ones (``(..., n_axis1, n_axis0, ny, nx)``). Index and pixel tuples are
given in geometry order ``(x, y, axis0, axis1, ...)``.
"""

from __future__ import annotations

import abc
import copy as _copy
from collections.abc import Iterator

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError, UnitError
from gammapipe.utils.fits import parse_unit, write_hdulist

from ._interp import interp_pix
from ._map_ops import ArithmeticMixin

__all__ = ["Map"]


def _as_unit(unit) -> u.UnitBase:
    """Unit from a unit or a string (lenient DL3 spellings, e.g. ``counts``, ``1/s/MeV/sr``)."""
    if isinstance(unit, u.UnitBase):
        return unit
    if unit is None:
        return u.dimensionless_unscaled
    if isinstance(unit, str):
        return parse_unit(unit, where="argument 'unit'")
    return u.Unit(unit)


def _geom_kind(geom) -> str:
    name = type(geom).__name__
    if name == "WcsGeom":
        return "wcs"
    if name == "RegionGeom":
        return "region"
    raise GeometryError(f"argument 'geom': unsupported geometry type {name}")


class Map(ArithmeticMixin, abc.ABC):
    """Abstract map: a geometry, a data array of shape ``geom.data_shape``, a unit, meta.

    Create maps with `Map.create`, `Map.from_geom` or `Map.read`.
    """

    tag = "map"

    def __init__(self, geom, data=None, dtype="float32", meta=None, unit=""):
        self._geom = geom
        self._unit = _as_unit(unit)
        if isinstance(data, u.Quantity) and self._unit == u.dimensionless_unscaled:
            self._unit = data.unit
        if data is None:
            data = np.zeros(geom.data_shape, dtype=dtype)
        self.data = data
        self.meta = dict(meta) if meta else {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, **kwargs) -> Map:
        """Create an empty map.

        Parameters
        ----------
        map_type : {"wcs", "region"}
            Type of map (default "wcs"). Remaining arguments go to `WcsNDMap.create`
            (npix, binsz, width, proj, frame, skydir, axes, dtype, unit, meta, ...) or
            `RegionNDMap.create` (region, axes, dtype, unit, meta, binsz_wcs, wcs).
        """
        map_type = kwargs.pop("map_type", "wcs")
        if map_type in ("wcs", "wcs-sparse"):
            from .wcs_map import WcsNDMap

            return WcsNDMap.create(**kwargs)
        if map_type == "region":
            from .region_map import RegionNDMap

            return RegionNDMap.create(**kwargs)
        raise GammapipeError(
            f"argument 'map_type': {map_type!r} is not supported (use 'wcs' or 'region')"
        )

    @staticmethod
    def _class_for_geom(geom):
        kind = _geom_kind(geom)
        if kind == "wcs":
            from .wcs_map import WcsNDMap

            return WcsNDMap
        from .region_map import RegionNDMap

        return RegionNDMap

    @classmethod
    def from_geom(cls, geom, meta=None, data=None, unit="", dtype="float32", **kwargs) -> Map:
        """Map of the class matching ``geom`` (WcsGeom -> WcsNDMap, RegionGeom -> RegionNDMap).

        ``kwargs`` (e.g. ``map_type``) are accepted for compatibility and ignored.
        """
        klass = cls._class_for_geom(geom)
        return klass(geom=geom, data=data, dtype=dtype, meta=meta, unit=unit)

    @classmethod
    def read(cls, filename, hdu=None, hdu_bands=None, map_type="auto", format=None) -> Map:
        """Read a map from a FITS file (GADF sky map, gadf region map or OGIP PHA).

        Parameters
        ----------
        filename : path-like
            FITS file (``$VARS`` expanded).
        hdu : str or int, optional
            Map HDU; default the first image HDU or region-map table.
        hdu_bands : str, optional
            BANDS HDU; default from the ``BANDSHDU`` keyword.
        map_type : {"auto", "wcs", "region"}
            Map type; ``auto`` picks it from the HDU type.
        format : str, optional
            Only ``None``/``"gadf"`` (and OGIP for spectra) are understood.
        """
        from gammapipe.utils.fits import make_path

        from .io import read_map

        if format not in (None, "gadf", "ogip", "ogip-sherpa"):
            raise GammapipeError(f"argument 'format': {format!r} is not supported")
        return read_map(make_path(filename), hdu=hdu, hdu_bands=hdu_bands, map_type=map_type)

    @classmethod
    def from_hdulist(cls, hdulist, hdu=None, hdu_bands=None, format=None, map_type="auto"):
        """Map from an open `~astropy.io.fits.HDUList`."""
        from .io import find_map_hdu, region_map_from_hdulist, wcs_map_from_hdulist

        selected = find_map_hdu(hdulist, hdu, where="HDUList")
        name = selected.name or hdulist.index_of(selected)
        if map_type == "auto":
            map_type = "wcs" if selected.is_image else "region"
        if map_type == "wcs":
            return wcs_map_from_hdulist(hdulist, hdu=name, hdu_bands=hdu_bands, where="HDUList")
        return region_map_from_hdulist(hdulist, hdu=name, hdu_bands=hdu_bands, where="HDUList")

    def write(self, filename, overwrite=False, hdu=None, hdu_bands=None, format="gadf"):
        """Write the map to a FITS file (atomic: temporary name then rename).

        Parameters
        ----------
        filename : path-like
            Output file (``.gz`` compresses).
        overwrite : bool
            Replace an existing file.
        hdu, hdu_bands : str, optional
            Names of the map HDU (default ``SKYMAP``) and of its BANDS table.
        format : str
            ``gadf`` (default); region maps also write ``ogip`` / ``ogip-sherpa``.
        """
        hdulist = self.to_hdulist(hdu=hdu or "SKYMAP", hdu_bands=hdu_bands, format=format)
        return write_hdulist(hdulist, filename, overwrite=overwrite)

    @abc.abstractmethod
    def to_hdulist(self, hdu="SKYMAP", hdu_bands=None, **kwargs):
        """Serialise to an `~astropy.io.fits.HDUList` (GADF)."""

    # ------------------------------------------------------------------ attributes
    @property
    def geom(self):
        """Map geometry."""
        return self._geom

    @property
    def data(self) -> np.ndarray:
        """Data array of shape ``geom.data_shape``."""
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, u.Quantity):
            value = value.to_value(self.unit) if str(self.unit) else value.value
        if np.isscalar(value):
            value = np.full(self.geom.data_shape, value)
        value = np.asarray(value)
        shape = tuple(self.geom.data_shape)
        if value.shape != shape:
            if value.size != int(np.prod(shape)):
                raise GeometryError(
                    f"map data of shape {value.shape} does not match geometry shape {shape}"
                )
            value = value.reshape(shape)
        self._data = value

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the data."""
        return self._unit

    @unit.setter
    def unit(self, value):
        self._unit = _as_unit(value)

    @property
    def quantity(self) -> u.Quantity:
        """Data as a `~astropy.units.Quantity` (no copy)."""
        return u.Quantity(self.data, self.unit, copy=False)

    @quantity.setter
    def quantity(self, value):
        value = u.Quantity(value)
        self._unit = value.unit
        self.data = value.value

    @property
    def is_mask(self) -> bool:
        """Whether the data are boolean."""
        return self.data.dtype == bool

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self.data
        return self.data.astype(dtype)

    def copy(self, **kwargs) -> Map:
        """Deep copy, optionally replacing ``geom``, ``data``, ``unit`` or ``meta``."""
        if "geom" in kwargs and "data" not in kwargs:
            geom = kwargs["geom"]
            if tuple(geom.data_shape) != tuple(self.geom.data_shape):
                kwargs["data"] = np.zeros(geom.data_shape, dtype=self.data.dtype)
        init = {
            "geom": kwargs.pop("geom", self.geom),
            "unit": kwargs.pop("unit", self.unit),
            "meta": kwargs.pop("meta", _copy.deepcopy(self.meta)),
        }
        data = kwargs.pop("data", None)
        init["data"] = self.data.copy() if data is None else data
        if kwargs:
            raise GammapipeError(f"copy(): unknown argument(s) {sorted(kwargs)}")
        return self._init_from(**init)

    def _init_from(self, geom, data, unit=None, meta=None):
        """New map of the same class (subclasses may carry extra state)."""
        unit = self.unit if unit is None else unit
        return self.__class__(geom=geom, data=data, unit=unit, meta=meta)

    def to_unit(self, unit) -> Map:
        """Copy converted to ``unit``."""
        try:
            q = self.quantity.to(_as_unit(unit))
        except u.UnitConversionError as exc:
            raise UnitError(f"cannot convert map unit {self.unit} to {unit!r}") from exc
        return self._init_from(geom=self.geom, data=q.value, unit=q.unit, meta=dict(self.meta))

    def __str__(self) -> str:
        geom = str(self.geom).replace("\n", "\n\t")
        return (
            f"{type(self).__name__}\n\n\tgeom  : {type(self.geom).__name__}\n"
            f"\taxes  : {['lon', 'lat'] + list(self.geom.axes.names)}\n"
            f"\tshape : {self.data.shape}\n\tdtype : {self.data.dtype}\n"
            f"\tunit  : {self.unit}\n\n\t{geom}"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(shape={self.data.shape}, dtype={self.data.dtype}, "
            f"unit={self.unit})"
        )

    # ------------------------------------------------------------------ coordinates
    def coord_to_idx(self, coords, clip=False):
        """Pixel indices (geometry order) of coordinates; -1 outside."""
        return self.geom.coord_to_idx(coords, clip=clip)

    def coord_to_pix(self, coords):
        """Pixel coordinates (geometry order) of coordinates."""
        return self.geom.coord_to_pix(coords)

    def _valid_idx(self, idx) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        shape = tuple(self.geom.data_shape)[::-1]
        if len(idx) != len(shape):
            raise GeometryError(
                f"got {len(idx)} index arrays for a map with {len(shape)} dimensions"
            )
        arrays = np.broadcast_arrays(*[np.asarray(i) for i in idx])
        valid = np.ones(arrays[0].shape, dtype=bool)
        out = []
        for arr, n in zip(arrays, shape, strict=True):
            if arr.dtype.kind == "f":
                good = np.isfinite(arr)
                arr = np.where(good, arr, -1).astype(np.intp)
                valid &= good
            else:
                arr = arr.astype(np.intp)
            valid &= (arr >= 0) & (arr < n)
            out.append(arr)
        return tuple(out), valid

    @staticmethod
    def _pix_to_idx(pix) -> tuple[np.ndarray, ...]:
        out = []
        for p in pix:
            p = np.asarray(p, dtype=float)
            out.append(np.where(np.isfinite(p), np.floor(p + 0.5), -1).astype(np.intp))
        return tuple(out)

    def get_by_idx(self, idx) -> np.ndarray:
        """Values at pixel indices (geometry order, at least 1-d). Out-of-range indices
        raise."""
        idx, valid = self._valid_idx(idx)
        if not np.all(valid):
            raise GeometryError("get_by_idx: index out of range of the map")
        return np.atleast_1d(self.data[idx[::-1]])

    def _get_with_fill(self, idx, fill_value) -> np.ndarray:
        idx, valid = self._valid_idx(idx)
        safe = tuple(np.where(valid, i, 0) for i in idx)
        vals = np.asarray(self.data[safe[::-1]])
        if not np.all(valid):
            vals = vals.astype(np.result_type(vals.dtype, np.asarray(fill_value).dtype))
            vals[~valid] = fill_value
        return np.atleast_1d(vals)  # as the reference tool: scalar coordinates give (1,)

    def get_by_pix(self, pix, fill_value=np.nan) -> np.ndarray:
        """Values at pixel coordinates (nearest pixel, at least 1-d); ``fill_value``
        outside."""
        return self._get_with_fill(self._pix_to_idx(pix), fill_value)

    def get_by_coord(self, coords, fill_value=np.nan) -> np.ndarray:
        """Values at map coordinates (nearest pixel, at least 1-d: a scalar coordinate
        gives shape ``(1,)``); ``fill_value`` outside."""
        return self.get_by_pix(self.geom.coord_to_pix(coords), fill_value=fill_value)

    def interp_by_pix(self, pix, method="linear", fill_value=None, values_scale="lin"):
        """Interpolate at pixel coordinates (geometry order); see `interp_by_coord`."""
        pix = [np.asarray(p, dtype=float) for p in pix]
        data = self.data
        if data.dtype == bool:
            data = data.astype(float)
        return interp_pix(data, pix[::-1], method, fill_value, values_scale)

    def interp_by_coord(self, coords, method="linear", fill_value=None, values_scale="lin"):
        """Interpolate the map at coordinates.

        Linear interpolation is multilinear on the pixel grid, i.e. linear in the
        interpolation space of each axis (``log`` axes: linear in log of the coordinate).

        Parameters
        ----------
        coords : tuple, dict or `MapCoord`
            Coordinates (``lon``/``lat`` or ``skycoord`` plus one entry per axis).
        method : {"linear", "nearest"}
            Interpolation method.
        fill_value : float or None
            Value outside the map; ``None`` extrapolates linearly.
        values_scale : {"lin", "log", "sqrt"}
            Space in which the values are interpolated (``log`` is exact for power laws
            on ``log`` axes).
        """
        pix = self.geom.coord_to_pix(coords)
        return self.interp_by_pix(pix, method, fill_value, values_scale)

    def interp_to_geom(self, geom, preserve_counts=False, fill_value=0, **kwargs) -> Map:
        """Interpolate the map onto the bin centres of another geometry.

        Parameters
        ----------
        geom : `WcsGeom` or `RegionGeom`
            Target geometry (its axes must be known to this map by name).
        preserve_counts : bool
            Interpolate the density per solid angle and multiply by the target pixel
            solid angle (for counts-like maps).
        fill_value : float or None
            Value outside this map (``None`` extrapolates).
        **kwargs
            ``method`` / ``values_scale`` of `interp_by_coord`.
        """
        coords = geom.get_coord()
        source = self
        if preserve_counts:
            density = self.quantity / self.geom.solid_angle()
            source = self._init_from(geom=self.geom, data=density.value, unit=density.unit)
        data = source.interp_by_coord(coords, fill_value=fill_value, **kwargs)
        data = np.broadcast_to(data, geom.data_shape)
        unit = source.unit
        if preserve_counts:
            q = u.Quantity(data, unit) * geom.solid_angle()
            data, unit = q.to_value(self.unit), self.unit
        out = Map.from_geom(geom, data=np.array(data, dtype=float), unit=unit,
                            meta=dict(self.meta))
        if self.is_mask:
            out.data = out.data >= 0.5
        return out

    def normalize(self, axis_name=None) -> Map:
        """Copy normalised to unit sum (over all bins, or along ``axis_name``)."""
        data = self.data.astype(float)
        if axis_name is None:
            total = np.nansum(data)
        else:
            total = np.nansum(data, axis=self._np_axis(axis_name), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.where(total != 0, data / total, 0.0)
        return self._init_from(geom=self.geom, data=data, unit="", meta=dict(self.meta))

    def fill_by_idx(self, idx, weights=None) -> None:
        """Add ``weights`` (default 1) at pixel indices; out-of-range entries are ignored.

        Vectorised histogram: flat bin index + `numpy.bincount`.
        """
        idx, valid = self._valid_idx(idx)
        flat = np.ravel_multi_index(
            tuple(i[valid] for i in idx[::-1]), tuple(self.geom.data_shape)
        )
        w = None
        if weights is not None:
            w = np.broadcast_to(np.asarray(u.Quantity(weights).value), valid.shape)[valid]
        self._add_counts(flat, w)

    def _add_counts(self, flat: np.ndarray, weights: np.ndarray | None) -> None:
        counts = np.bincount(flat, weights=weights, minlength=self.data.size)
        counts = counts.reshape(self.data.shape)
        if self.data.dtype == bool:
            self.data = self.data | (counts > 0)
        elif np.issubdtype(self.data.dtype, np.integer) and weights is None:
            self.data += counts.astype(self.data.dtype)
        else:
            np.add(self.data, counts, out=self.data, casting="unsafe")

    def fill_by_pix(self, pix, weights=None) -> None:
        """Fill at pixel coordinates (rounded to the nearest pixel)."""
        self.fill_by_idx(self._pix_to_idx(pix), weights=weights)

    def fill_by_coord(self, coords, weights=None) -> None:
        """Fill at map coordinates (bin edges decide, as in ``geom.coord_to_idx``)."""
        self.fill_by_idx(self.geom.coord_to_idx(coords, clip=False), weights=weights)

    def fill_events(self, events, weights=None) -> None:
        """Histogram events (``.radec`` / ``.energy`` or a RA/DEC/ENERGY table) into the map."""
        coords = self._event_coords(events)
        self.fill_by_coord(coords, weights=weights)

    def _event_coords(self, events) -> dict:
        from ._events import event_coords

        return event_coords(events, self.geom.axes.names)

    def set_by_idx(self, idx, vals) -> None:
        """Set values at pixel indices (geometry order)."""
        idx, valid = self._valid_idx(idx)
        if not np.all(valid):
            raise GeometryError("set_by_idx: index out of range of the map")
        self.data[idx[::-1]] = vals

    def set_by_pix(self, pix, vals) -> None:
        """Set values at pixel coordinates (nearest pixel)."""
        self.set_by_idx(self._pix_to_idx(pix), vals)

    def set_by_coord(self, coords, vals) -> None:
        """Set values at map coordinates (nearest pixel)."""
        self.set_by_pix(self.geom.coord_to_pix(coords), vals)

    # ------------------------------------------------------------------ images
    def iter_by_image_data(self) -> Iterator[tuple[np.ndarray, tuple]]:
        """Yield ``(image_data, idx)`` for every image plane; ``idx`` in numpy order."""
        for idx in np.ndindex(self.data.shape[:-2]):
            yield self.data[idx], idx

    def iter_by_image(self, keepdims=False) -> Iterator[Map]:
        """Yield one map per image plane (``keepdims`` keeps length-1 axes)."""
        names = self.geom.axes.names
        for idx in np.ndindex(self.data.shape[:-2]):
            geom_idx = idx[::-1]
            if keepdims:
                slices = {n: slice(i, i + 1) for n, i in zip(names, geom_idx, strict=True)}
            else:
                slices = dict(zip(names, geom_idx, strict=True))
            yield self.slice_by_idx(slices)

    def get_image_by_idx(self, idx) -> Map:
        """Image at the non-spatial indices ``idx`` (geometry axis order)."""
        names = self.geom.axes.names
        if len(idx) != len(names):
            raise GeometryError(f"get_image_by_idx: need {len(names)} indices, got {len(idx)}")
        return self.slice_by_idx(dict(zip(names, idx, strict=True)))

    def get_image_by_coord(self, coords) -> Map:
        """Image containing the non-spatial coordinates ``coords`` (dict name -> value)."""
        idx = []
        for axis in self.geom.axes:
            if axis.name not in coords:
                raise GeometryError(f"get_image_by_coord: missing coordinate {axis.name!r}")
            i = int(np.squeeze(axis.coord_to_idx(coords[axis.name])))
            if i < 0 or i >= axis.nbin:
                raise GeometryError(
                    f"get_image_by_coord: {axis.name}={coords[axis.name]} is outside the axis"
                )
            idx.append(i)
        return self.get_image_by_idx(tuple(idx))

    def slice_by_idx(self, slices: dict) -> Map:
        """Slice non-spatial axes: ``{"energy": slice(0, 3), "time": 2}`` (int drops the axis)."""
        names = list(self.geom.axes.names)
        index = [slice(None)] * self.data.ndim
        for name, sl in slices.items():
            if name not in names:
                raise GeometryError(
                    f"slice_by_idx: no axis {name!r} (axes: {names})"
                )
            index[len(names) - 1 - names.index(name)] = sl
        geom = self.geom.slice_by_idx(slices)
        data = self.data[tuple(index)]
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    def is_allclose(self, other, rtol_axes=1e-3, atol_axes=1e-6, **kwargs) -> bool:
        """Same geometry (within tolerances), unit and data (`numpy.allclose` kwargs)."""
        if not isinstance(other, Map) or self.data.shape != other.data.shape:
            return False
        if not self._geom_matches(other.geom, rtol_axes, atol_axes):
            return False
        if self.is_mask or other.is_mask:
            return bool(np.array_equal(self.data, other.data))
        try:
            other_data = other.quantity.to_value(self.unit)
        except u.UnitConversionError:
            return False
        return bool(np.allclose(self.data, other_data, **kwargs))

    def _geom_matches(self, geom, rtol_axes=1e-3, atol_axes=1e-6) -> bool:
        mine = self.geom
        if type(mine) is not type(geom):
            return False
        if hasattr(mine, "is_allclose"):
            try:
                return bool(mine.is_allclose(geom, rtol_axes=rtol_axes, atol=atol_axes))
            except TypeError:
                return bool(mine.is_allclose(geom))
        return bool(mine == geom)

    # ------------------------------------------------------------------ reductions
    def _np_axis(self, axis_name: str) -> int:
        names = list(self.geom.axes.names)
        if axis_name not in names:
            raise GeometryError(f"no axis {axis_name!r} in the map (axes: {names})")
        return len(names) - 1 - names.index(axis_name)

    def reduce(self, axis_name, func=np.add, keepdims=False, weights=None) -> Map:
        """Reduce along one non-spatial axis with a ufunc (default: sum).

        Parameters
        ----------
        axis_name : str
            Axis to reduce.
        func : `numpy.ufunc`
            Reduction ufunc (``np.add``, ``np.logical_or``, ``np.maximum``...).
        keepdims : bool
            Keep the axis with a single bin spanning the full range.
        weights : `Map` or array, optional
            Multiplied with the data before reducing.
        """
        np_axis = self._np_axis(axis_name)
        data = self.data
        if weights is not None:
            w = weights.data if isinstance(weights, Map) else np.asarray(weights)
            data = data * w
        data = func.reduce(data, axis=np_axis, keepdims=keepdims)
        geom = self.geom.squash(axis_name) if keepdims else self.geom.drop(axis_name)
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    def reduce_over_axes(self, func=np.add, keepdims=False, axes_names=None, weights=None):
        """Reduce over several (default: all) non-spatial axes; see `reduce`."""
        names = list(self.geom.axes.names) if axes_names is None else list(axes_names)
        result = self
        if weights is not None:
            w = weights.data if isinstance(weights, Map) else np.asarray(weights)
            result = self.copy(data=self.data * w)
        for name in names:
            result = result.reduce(name, func=func, keepdims=keepdims)
        return result

    def sum_over_axes(self, axes_names=None, keepdims=True, weights=None) -> Map:
        """Sum over non-spatial axes (default all), keeping length-1 axes by default."""
        return self.reduce_over_axes(
            func=np.add, keepdims=keepdims, axes_names=axes_names, weights=weights
        )

    def resample_axis(self, axis, weights=None, ufunc=np.add) -> Map:
        """Regroup the bins of a non-spatial axis onto coarser ``axis`` edges.

        The new edges must be a subset of the old ones (same axis name); bins are combined
        with ``ufunc.reduceat`` (default sum), after multiplying with ``weights``.
        """
        old = self.geom.axes[axis.name]
        old_edges = old.edges.to_value(old.unit)
        new_edges = u.Quantity(axis.edges).to_value(old.unit)
        pos = np.searchsorted(old_edges, new_edges)
        pos = np.clip(pos, 0, len(old_edges) - 1)
        near = np.abs(np.take(old_edges, pos) - new_edges) <= 1e-6 * np.abs(new_edges)
        alt = np.clip(pos - 1, 0, len(old_edges) - 1)
        near_alt = np.abs(np.take(old_edges, alt) - new_edges) <= 1e-6 * np.abs(new_edges)
        pos = np.where(near, pos, alt)
        if not np.all(near | near_alt):
            raise GeometryError(
                f"resample_axis: edges of the new {axis.name!r} axis are not a subset of the "
                "map axis edges"
            )
        data = self.data
        if weights is not None:
            w = weights.data if isinstance(weights, Map) else np.asarray(weights)
            data = data * w
        np_axis = self._np_axis(axis.name)
        data = np.take(data, np.arange(pos[0], pos[-1]), axis=np_axis)
        data = ufunc.reduceat(data, pos[:-1] - pos[0], axis=np_axis)
        geom = self.geom.resample_axis(axis)
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    def to_cube(self, axes) -> Map:
        """Image map broadcast onto a cube with the given non-spatial ``axes``."""
        geom = self.geom.to_image().to_cube(axes)
        image = self.data.reshape(self.data.shape[-2:])
        data = np.broadcast_to(image, geom.data_shape).copy()
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    def to_image(self) -> Map:
        """Image map of a map whose non-spatial axes all have one bin (else `GeometryError`)."""
        if any(n != 1 for n in self.data.shape[:-2]):
            raise GeometryError(
                f"to_image: axes {list(self.geom.axes.names)} have shape "
                f"{self.data.shape[:-2]}; use sum_over_axes() or get_image_by_idx()"
            )
        geom = self.geom.to_image()
        data = self.data.reshape(self.data.shape[-2:]).copy()
        return self._init_from(geom=geom, data=data, meta=dict(self.meta))

    @classmethod
    def from_stack(cls, maps, axis=None, axis_name=None) -> Map:
        """Stack maps of identical spatial geometry along a new or existing axis.

        Parameters
        ----------
        maps : list of `Map`
            Maps to stack.
        axis : `MapAxis`, optional
            New axis with one bin per map (when the maps have no such axis).
        axis_name : str, optional
            Existing axis to concatenate along (its bins are joined).
        """
        if not maps:
            raise GeometryError("from_stack: empty list of maps")
        first = maps[0]
        if axis_name is not None:
            np_axis = first._np_axis(axis_name)
            data = np.concatenate([m.quantity.to_value(first.unit) for m in maps], axis=np_axis)
            from .axes import MapAxis

            new_axis = MapAxis.from_stack([m.geom.axes[axis_name] for m in maps])
            geom = first.geom.to_image().to_cube(
                [new_axis if a.name == axis_name else a for a in first.geom.axes]
            )
        else:
            if axis is None or axis.nbin != len(maps):
                raise GeometryError("from_stack: give an axis with one bin per map")
            data = np.stack([m.quantity.to_value(first.unit) for m in maps], axis=0)
            geom = first.geom.to_cube([axis])
            data = data.reshape(geom.data_shape)
        return first._init_from(geom=geom, data=data, meta=dict(first.meta))
