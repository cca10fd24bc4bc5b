"""IRF base class: axes, data, unit, meta, interpolation and GADF table I/O."""

from __future__ import annotations

import copy
import enum
import os
import re
from typing import ClassVar

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, GeometryError, MissingHDUError, UnitError
from gammapipe.utils.fits import make_path, open_fits, table_from_hdu, write_hdulist
from gammapipe.utils.interpolation import GridInterpolator

from . import io

__all__ = ["IRF", "FoVAlignment", "integrate_loglog_segments"]


class FoVAlignment(enum.StrEnum):
    """Alignment of the field-of-view coordinate system (GADF ``FOVALIGN``)."""

    RADEC = "RADEC"
    ALTAZ = "ALTAZ"
    REVERSE_LON_RADEC = "REVERSE_LON_RADEC"


def integrate_loglog_segments(x: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    """Integrate ``y(x)`` between consecutive ``x`` along ``axis`` assuming a power law.

    Between two points ``(x1, y1)``, ``(x2, y2)`` with positive values the function is
    ``y1 (x / x1)**g`` with ``g = log(y2 / y1) / log(x2 / x1)``; the segment integral is
    ``y1 x1 ((x2/x1)**(g+1) - 1) / (g + 1)`` (``y1 x1 log(x2/x1)`` for ``g = -1``). A
    segment with a zero (or negative) end contributes 0 (the limit of a power law
    falling to zero, consistent with log-interpolated values).

    Returns an array with ``n - 1`` entries along ``axis``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = np.broadcast_arrays(x, y)
    x1 = np.take(x, np.arange(x.shape[axis] - 1), axis=axis)
    x2 = np.take(x, np.arange(1, x.shape[axis]), axis=axis)
    y1 = np.take(y, np.arange(y.shape[axis] - 1), axis=axis)
    y2 = np.take(y, np.arange(1, y.shape[axis]), axis=axis)
    positive = (y1 > 0) & (y2 > 0) & (x1 > 0) & (x2 > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio_x = x2 / x1
        log_rx = np.log(ratio_x)
        g = np.log(y2 / y1) / log_rx
        gp1 = g + 1.0
        power = y1 * x1 * np.expm1(gp1 * log_rx) / gp1
        near = np.abs(gp1 * log_rx) < 1e-10
        power = np.where(near, y1 * x1 * log_rx, power)
    return np.where(positive, power, 0.0)


def _as_axes(axes):
    from gammapipe.maps import MapAxes

    if isinstance(axes, MapAxes):
        return axes
    return MapAxes(list(axes))


class IRF:
    """Base class of the instrument response functions.

    An IRF is an N-dimensional table ``data`` on ``axes`` (a `~gammapipe.maps.MapAxes`
    whose names are `required_axes`, in that order) with a ``unit``. Values between the
    bin centres (nodes) are interpolated multilinearly (in log for energy axes, linear
    otherwise; see `evaluate`).

    Parameters
    ----------
    axes : `~gammapipe.maps.MapAxes` or list of `~gammapipe.maps.MapAxis`
        Axes, named as `required_axes` (in this order).
    data : float or array-like or `~astropy.units.Quantity`
        Values with shape ``axes.shape`` (scalars broadcast).
    unit : str or `~astropy.units.Unit`
        Unit of ``data`` (taken from ``data`` when it is a Quantity).
    is_pointlike : bool
        Whether the IRF is point-like (``HDUCLAS3 = 'POINT-LIKE'``).
    fov_alignment : `FoVAlignment`
        Alignment of the field-of-view axes (background).
    meta : dict, optional
        Header keywords (e.g. ``LO_THRES`` / ``HI_THRES``).
    interp_kwargs : dict, optional
        Interpolation options: ``method`` ("linear"/"nearest"), ``values_scale``
        ("lin"/"log"/"sqrt"), ``fill_value`` (value outside the axis edges, ``None`` to
        extrapolate everywhere), ``extrapolate`` (beyond the outermost nodes but inside
        the edges; default True).
    """

    tag: ClassVar[str] = ""
    required_axes: ClassVar[list[str]] = []
    default_unit: ClassVar[u.UnitBase] = u.dimensionless_unscaled
    default_interp_kwargs: ClassVar[dict] = {"fill_value": 0.0}
    # minimum of evaluated values (None: no clipping)
    _clip_min: ClassVar[float | None] = 0.0
    # numpy axis order of the GADF data column, if it is not the reversed column order
    _numpy_axis_order: ClassVar[list[str] | None] = None
    # order of the axis columns when writing (default: required_axes)
    _write_column_order: ClassVar[list[str] | None] = None
    # data column names accepted when reading (first one written)
    _data_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        axes,
        data=0,
        unit="",
        is_pointlike: bool = False,
        fov_alignment=FoVAlignment.RADEC,
        meta: dict | None = None,
        interp_kwargs: dict | None = None,
    ):
        axes = _as_axes(axes)
        names = list(axes.names)
        if self.required_axes and names != list(self.required_axes):
            raise GeometryError(
                f"{type(self).__name__}: axes must be {self.required_axes}, got {names}"
            )
        self._axes = axes
        if isinstance(data, u.Quantity):
            unit = data.unit if unit in ("", None) else u.Unit(unit)
            data = data.to_value(unit)
        self._unit = u.Unit(unit) if unit is not None else u.dimensionless_unscaled
        self.data = data
        self.is_pointlike = bool(is_pointlike)
        self.fov_alignment = FoVAlignment(
            fov_alignment.value if isinstance(fov_alignment, FoVAlignment) else fov_alignment
        )
        self.meta = dict(meta) if meta else {}
        kwargs = dict(self.default_interp_kwargs)
        kwargs.update(interp_kwargs or {})
        kwargs.pop("bounds_error", None)
        self.interp_kwargs = kwargs

    # ------------------------------------------------------------------ data
    @property
    def axes(self):
        """Axes (`~gammapipe.maps.MapAxes`)."""
        return self._axes

    @property
    def data(self) -> np.ndarray:
        """Data array (float64, shape ``axes.shape``)."""
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, u.Quantity):
            value = value.to_value(self.unit)
        value = np.asarray(value, dtype=float)
        shape = tuple(self.axes.shape)
        if value.shape != shape:
            try:
                value = np.broadcast_to(value, shape).copy()
            except ValueError:
                raise GeometryError(
                    f"{type(self).__name__}: data shape {value.shape} does not match axes "
                    f"{dict(zip(self.axes.names, shape, strict=True))}"
                ) from None
        self._data = value
        self._interpolator = None

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the data."""
        return self._unit

    @property
    def quantity(self) -> u.Quantity:
        """Data as a `~astropy.units.Quantity`."""
        return u.Quantity(self.data, self.unit, copy=False)

    @quantity.setter
    def quantity(self, value):
        value = u.Quantity(value)
        self._unit = value.unit
        self.data = value.value

    def to_unit(self, unit) -> IRF:
        """Return a copy with the data converted to ``unit``."""
        unit = u.Unit(unit)
        try:
            data = self.quantity.to_value(unit)
        except u.UnitConversionError as exc:
            raise UnitError(f"{type(self).__name__}: cannot convert {self.unit} to {unit}") from exc
        return self._replace(data=data, unit=unit)

    def _replace(self, **kwargs) -> IRF:
        init = {
            "axes": self.axes,
            "data": self.data,
            "unit": self.unit,
            "is_pointlike": self.is_pointlike,
            "fov_alignment": self.fov_alignment,
            "meta": copy.deepcopy(self.meta),
            "interp_kwargs": dict(self.interp_kwargs),
        }
        init.update(kwargs)
        obj = type(self).__new__(type(self))
        IRF.__init__(obj, **init)
        return obj

    def copy(self) -> IRF:
        """Deep copy."""
        return self._replace(data=self.data.copy())

    # ----------------------------------------------------------- evaluation
    def _get_interpolator(self) -> GridInterpolator:
        if self._interpolator is None:
            fill_value = self.interp_kwargs.get("fill_value", 0.0)
            if isinstance(fill_value, u.Quantity):
                fill_value = fill_value.to_value(self.unit)
            self._interpolator = GridInterpolator(
                [ax.center.to_value(ax.unit) for ax in self.axes],
                self.data,
                scales=[ax.interp for ax in self.axes],
                values_scale=self.interp_kwargs.get("values_scale", "lin"),
                method=self.interp_kwargs.get("method", "linear"),
                fill_value=fill_value,
                bounds=[
                    (ax.edges[0].to_value(ax.unit), ax.edges[-1].to_value(ax.unit))
                    for ax in self.axes
                ],
                extrapolate=self.interp_kwargs.get("extrapolate", True),
                clip_min=self._clip_min,
            )
        return self._interpolator

    def _coord_values(self, kwargs: dict) -> list[np.ndarray]:
        unknown = set(kwargs) - set(self.axes.names)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.evaluate: unknown axis name(s) {sorted(unknown)}; "
                f"axes are {self.axes.names}"
            )
        values = []
        ndim = len(self.axes)
        for idx, axis in enumerate(self.axes):
            if axis.name in kwargs and kwargs[axis.name] is not None:
                coord = kwargs[axis.name]
                if isinstance(coord, u.Quantity) or axis.unit != u.dimensionless_unscaled:
                    try:
                        value = u.Quantity(coord, axis.unit).value
                    except (u.UnitConversionError, TypeError) as exc:
                        raise UnitError(
                            f"{type(self).__name__}.evaluate: {axis.name}={coord!r} is not "
                            f"convertible to {axis.unit}"
                        ) from exc
                else:
                    value = np.asarray(coord, dtype=float)
            else:
                shape = [1] * ndim
                shape[idx] = -1
                value = axis.center.to_value(axis.unit).reshape(shape)
            values.append(np.asarray(value, dtype=float))
        return values

    def evaluate(self, method: str | None = None, **kwargs) -> u.Quantity:
        """Evaluate the IRF at the given axis coordinates.

        Coordinates are given by axis name (Quantities, or numbers in the axis unit) and
        broadcast against each other; omitted axes default to the axis centres (along
        their own dimension). Interpolation is multilinear on the bin centres: in
        ``log(E)`` for energy axes, linear for the others, in the value scale of
        ``interp_kwargs["values_scale"]``. Between the outermost node and the axis edge
        values are extrapolated linearly from the last two nodes; outside the edges the
        ``fill_value`` (0) is returned. Response values are clipped at 0.

        Parameters
        ----------
        method : {"linear", "nearest"}, optional
            Interpolation method (default from ``interp_kwargs``).
        **kwargs : Quantity
            Coordinates by axis name.
        """
        coords = self._coord_values(kwargs)
        values = self._get_interpolator()(coords, method=method)
        return u.Quantity(values, self.unit, copy=False)

    def integrate_log_log(self, axis_name: str, **kwargs) -> u.Quantity:
        """Integrate along ``axis_name`` assuming a power law between evaluation points.

        ``kwargs`` give the coordinates as for `evaluate`; the coordinate of
        ``axis_name`` (default: the axis edges) gives the integration points, and the
        result has one entry less along the dimension in which those points vary
        (i.e. one value per bin when integrating over edges).
        """
        axis = self.axes[axis_name]
        idx = self.axes.index(axis_name)
        if kwargs.get(axis_name) is None:
            shape = [1] * len(self.axes)
            shape[idx] = -1
            kwargs[axis_name] = axis.edges.reshape(shape)
        values = self.evaluate(**kwargs)
        coord = u.Quantity(kwargs[axis_name], axis.unit).value
        coord_b = np.broadcast_to(coord, np.broadcast_shapes(coord.shape, values.shape))
        pad = values.ndim - coord.ndim
        varying = [d for d in range(values.ndim) if d >= pad and coord.shape[d - pad] > 1]
        if not varying:
            raise ValueError(f"integrate_log_log: {axis_name} needs at least two points")
        dim = varying[0]
        out = integrate_loglog_segments(coord_b, values.value, axis=dim)
        return u.Quantity(out, values.unit * axis.unit)

    def cumsum(self, axis_name: str) -> IRF:
        """Cumulative integral along ``axis_name`` (rectangle rule on the bins).

        For ``rad`` and ``offset`` axes the integrand is multiplied by ``2 pi r`` (the
        Jacobian of a radial integral). The returned IRF has its axis nodes at the upper
        bin edges (the value at a node is the integral from the first edge to it).
        """
        from gammapipe.maps import MapAxis

        axis = self.axes[axis_name]
        idx = self.axes.index(axis_name)
        shape = [1] * len(self.axes)
        shape[idx] = -1
        if axis_name in ("rad", "offset"):
            radius = axis.center.to_value(u.rad).reshape(shape)
            width = axis.bin_width.to_value(u.rad).reshape(shape)
            values = self.quantity * (2 * np.pi * radius * width) * u.sr
        else:
            values = self.quantity * axis.bin_width.reshape(shape)
        data = np.cumsum(values, axis=idx)
        new_axis = MapAxis.from_nodes(axis.edges[1:], name=axis.name, interp=axis.interp)
        return self._replace(axes=self.axes.replace(new_axis), data=data.value, unit=data.unit)

    def integral(self, axis_name: str, **kwargs) -> u.Quantity:
        """Integral along ``axis_name`` evaluated at the other ``kwargs`` coordinates."""
        cumsum = self.cumsum(axis_name=axis_name)
        return cumsum.evaluate(**{axis_name: cumsum.axes[axis_name].center[-1]}, **kwargs)

    def normalize(self, axis_name: str | None = None) -> None:
        """Normalise in place so that the integral along ``axis_name`` is 1 (0 stays 0)."""
        axis_name = axis_name or self.required_axes[-1]
        idx = self.axes.index(axis_name)
        cumsum = self.cumsum(axis_name=axis_name).quantity
        total = np.take(cumsum, [-1], axis=idx)
        with np.errstate(invalid="ignore", divide="ignore"):
            normed = (self.quantity / total).decompose()
        self._unit = normed.unit
        self.data = np.nan_to_num(normed.value, nan=0.0, posinf=0.0, neginf=0.0)

    def pad(self, pad_width, axis_name: str, **kwargs) -> IRF:
        """Pad the data and extend the axis by ``pad_width`` bins (``np.pad`` options).

        New edges continue the first / last bin width in the axis interpolation scale.
        ``pad_width`` is an int or a ``(before, after)`` pair; by default the added bins
        are filled with 0 (``mode="constant"``); pass ``mode="edge"`` to repeat values.
        """
        from gammapipe.maps import MapAxis

        if np.isscalar(pad_width):
            pad_width = (int(pad_width), int(pad_width))
        before, after = (int(p) for p in pad_width)
        axis = self.axes[axis_name]
        idx = self.axes.index(axis_name)
        edges = axis.edges.to_value(axis.unit)
        fwd, inv = (np.log, np.exp) if axis.interp == "log" else (lambda x: x, lambda x: x)
        s = fwd(edges)
        lo = s[0] - (s[1] - s[0]) * np.arange(before, 0, -1)
        hi = s[-1] + (s[-1] - s[-2]) * np.arange(1, after + 1)
        new_edges = inv(np.concatenate([lo, s, hi]))
        new_axis = MapAxis.from_edges(new_edges, unit=axis.unit, name=axis.name, interp=axis.interp)
        width = [(0, 0)] * self.data.ndim
        width[idx] = (before, after)
        kwargs.setdefault("mode", "constant")
        data = np.pad(self.data, width, **kwargs)
        return self._replace(axes=self.axes.replace(new_axis), data=data)

    def slice_by_idx(self, slices: dict) -> IRF:
        """Slice by bin index: ``slices`` maps axis names to `slice` objects."""
        from gammapipe.maps import MapAxis

        axes = []
        index = []
        for axis in self.axes:
            sl = slices.get(axis.name, slice(None))
            if isinstance(sl, int | np.integer):
                sl = slice(int(sl), int(sl) + 1)
            start, stop, step = sl.indices(axis.nbin)
            if step != 1 or stop <= start:
                raise ValueError(f"slice_by_idx: invalid slice {sl} for axis {axis.name!r}")
            edges = axis.edges[start : stop + 1]
            axes.append(
                MapAxis.from_edges(edges, name=axis.name, interp=axis.interp, unit=axis.unit)
            )
            index.append(slice(start, stop))
        return self._replace(axes=axes, data=self.data[tuple(index)])

    def is_allclose(
        self, other: IRF, rtol_axes: float = 1e-3, atol_axes: float = 1e-6, **kwargs
    ) -> bool:
        """Whether axes (edges within tolerance) and data (``np.allclose(**kwargs)``) agree."""
        if not isinstance(other, IRF) or self.axes.names != other.axes.names:
            return False
        for a, b in zip(self.axes, other.axes, strict=True):
            if a.nbin != b.nbin:
                return False
            if not np.allclose(
                a.edges.to_value(a.unit), b.edges.to_value(a.unit), rtol=rtol_axes, atol=atol_axes
            ):
                return False
        try:
            other_data = other.quantity.to_value(self.unit)
        except u.UnitConversionError:
            return False
        return bool(np.allclose(self.data, other_data, **kwargs))

    # ------------------------------------------------------------------ I/O
    @classmethod
    def _check_format(cls, format: str) -> None:
        if format != "gadf-dl3":
            raise ValueError(f"{cls.__name__}: unsupported format {format!r} (use 'gadf-dl3')")

    @classmethod
    def _read_data_column(cls, table: Table, where: str) -> tuple[np.ndarray, u.UnitBase, str]:
        for name in cls._data_columns:
            if name in table.colnames:
                col = table[name]
                unit = col.unit if col.unit is not None else u.dimensionless_unscaled
                return np.asarray(col[0], dtype=float), u.Unit(unit), name
        raise FITSFormatError(
            f"{where}: missing data column (one of {list(cls._data_columns)}; "
            f"have {table.colnames})"
        )

    @classmethod
    def _check_data_unit(cls, unit: u.UnitBase, column: str, where: str) -> u.UnitBase:
        if cls.default_unit == u.dimensionless_unscaled:
            return unit
        if unit == u.dimensionless_unscaled:
            raise UnitError(f"{where}: column {column} has no unit (expected {cls.default_unit})")
        if not unit.is_equivalent(cls.default_unit):
            raise UnitError(
                f"{where}: column {column} has unit {unit}, not convertible to {cls.default_unit}"
            )
        return unit

    @classmethod
    def from_table(cls, table: Table, format: str = "gadf-dl3", where: str = "") -> IRF:
        """Create from a GADF IRF table (one row of array columns)."""
        cls._check_format(format)
        where = where or f"{cls.__name__} table"
        axes = io.axes_from_gadf_table(table, cls.tag, cls.required_axes, where)
        raw, unit, column = cls._read_data_column(table, where)
        unit = cls._check_data_unit(unit, column, where)
        candidates = [list(reversed(io.column_axis_order(table, cls.tag)))]
        if cls._numpy_axis_order is not None:
            candidates.insert(0, list(cls._numpy_axis_order))
        data = io.data_to_class_order(raw, candidates, cls.required_axes, axes.shape, where)
        return cls(
            axes=axes,
            data=data,
            unit=unit,
            is_pointlike=_is_pointlike(table.meta),
            fov_alignment=_fov_alignment(table.meta),
            meta=_irf_meta(table.meta),
        )

    def _data_to_column(self) -> np.ndarray:
        numpy_order = self._numpy_axis_order or list(reversed(self._column_order()))
        return np.transpose(self.data, [self.axes.index(n) for n in numpy_order])

    def _column_order(self) -> list[str]:
        return list(self._write_column_order or self.required_axes)

    def to_table(self, format: str = "gadf-dl3") -> Table:
        """Convert to a GADF IRF table (one row; axis column pairs then the data)."""
        self._check_format(format)
        table = Table(meta=self._header_cards())
        for name in self._column_order():
            for key, value in io.axis_to_gadf_columns(self.axes[name]).items():
                table[key] = value
        table[self._data_columns[0]] = u.Quantity(self._data_to_column()[np.newaxis], self.unit)
        return table

    def _header_cards(self) -> dict:
        clas2, clas4 = io.TAG_TO_HDUCLAS[self.tag]
        header = {
            "HDUCLASS": "GADF",
            "HDUDOC": "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
            "HDUVERS": "0.3",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": clas2,
            "HDUCLAS3": "POINT-LIKE" if self.is_pointlike else "FULL-ENCLOSURE",
            "HDUCLAS4": clas4,
        }
        for key, value in self.meta.items():
            if key.upper() in header or key.upper() in _STRUCTURAL_KEYS:
                continue
            if _STRUCTURAL_RE(key):
                continue
            header[key] = value
        return header

    def to_table_hdu(self, format: str = "gadf-dl3", name: str | None = None):
        """Convert to a `~astropy.io.fits.BinTableHDU` (``EXTNAME`` = ``name``)."""
        table = self.to_table(format=format)
        hdu = fits.table_to_hdu(table)
        hdu.name = name or _DEFAULT_EXTNAME.get(self.tag, self.tag.upper())
        return hdu

    def to_hdulist(self, format: str = "gadf-dl3", name: str | None = None) -> fits.HDUList:
        """HDU list with an empty primary HDU and the IRF table HDU."""
        return fits.HDUList([fits.PrimaryHDU(), self.to_table_hdu(format=format, name=name)])

    @classmethod
    def from_hdulist(
        cls,
        hdulist: fits.HDUList,
        hdu: str | int | None = None,
        format: str = "gadf-dl3",
        where: str = "",
    ) -> IRF:
        """Create from an open `~astropy.io.fits.HDUList` (``hdu`` by name or index)."""
        where = where or "HDU list"
        selected = _select_hdu(hdulist, hdu, cls, where)
        hdu_where = f"{where} [HDU {selected.name}]"
        _check_hduclass(selected.header, cls, hdu_where)
        table = table_from_hdu(selected, where=hdu_where)
        return cls.from_table(table, format=format, where=hdu_where)

    @classmethod
    def read(
        cls, filename: str | os.PathLike, hdu: str | int | None = None, format: str = "gadf-dl3"
    ) -> IRF:
        """Read from a FITS file (``hdu``: name or index; default: the first HDU of this
        IRF type)."""
        path = make_path(filename)
        with open_fits(path) as hdulist:
            try:
                return cls.from_hdulist(hdulist, hdu=hdu, format=format, where=str(path))
            except (OSError, EOFError) as exc:
                raise FITSFormatError(f"{path} [HDU {hdu}]: cannot read data ({exc})") from exc

    def write(
        self,
        filename: str | os.PathLike,
        overwrite: bool = False,
        format: str = "gadf-dl3",
        hdu: str | None = None,
    ) -> None:
        """Write to a FITS file atomically (never leaves a half-written file)."""
        write_hdulist(self.to_hdulist(format=format, name=hdu), filename, overwrite=overwrite)

    # -------------------------------------------------------------- display
    def __str__(self) -> str:
        lines = [f"{type(self).__name__}", "-" * len(type(self).__name__), ""]
        for axis in self.axes:
            lines.append(
                f"  {axis.name:<12s}: size = {axis.nbin:4d}, "
                f"min = {axis.edges[0]:.3f}, max = {axis.edges[-1]:.3f}, interp = {axis.interp}"
            )
        lines.append(f"  unit        : {self.unit}")
        lines.append(f"  dtype       : {self.data.dtype}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        shape = dict(zip(self.axes.names, self.data.shape, strict=True))
        return f"{type(self).__name__}(axes={shape}, unit={self.unit!s})"


_DEFAULT_EXTNAME = {
    "aeff_2d": "EFFECTIVE AREA",
    "edisp_2d": "ENERGY DISPERSION",
    "psf_table": "PSF",
    "psf_3gauss": "POINT SPREAD FUNCTION",
    "psf_king": "POINT SPREAD FUNCTION",
    "bkg_3d": "BACKGROUND",
    "bkg_2d": "BACKGROUND",
    "rad_max_2d": "RAD_MAX",
}

_STRUCTURAL_KEYS = {
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "PCOUNT",
    "GCOUNT",
    "TFIELDS",
    "EXTNAME",
    "EXTVER",
    "COMMENT",
    "HISTORY",
    "",
}


_STRUCTURAL_PATTERN = re.compile(r"(TTYPE|TFORM|TUNIT|TDIM|CREF|TNULL|TSCAL|TZERO|TDISP)\d+")


def _STRUCTURAL_RE(key: str) -> bool:
    return _STRUCTURAL_PATTERN.fullmatch(key) is not None


def _irf_meta(header) -> dict:
    meta = {}
    for key, value in dict(header).items():
        if str(key).upper() in _STRUCTURAL_KEYS or _STRUCTURAL_RE(str(key)):
            continue
        if isinstance(value, str | int | float | bool | np.integer | np.floating):
            meta[str(key)] = value
    return meta


def _is_pointlike(header) -> bool:
    return str(header.get("HDUCLAS3", "")).strip().upper() == "POINT-LIKE"


def _fov_alignment(header) -> FoVAlignment:
    value = str(header.get("FOVALIGN", "RADEC")).strip().upper() or "RADEC"
    try:
        return FoVAlignment(value)
    except ValueError:
        raise FITSFormatError(f"unknown FOVALIGN {value!r} (RADEC or ALTAZ)") from None


def _select_hdu(hdulist: fits.HDUList, hdu, cls, where: str):
    names = [h.name for h in hdulist]
    if hdu is None:
        for candidate in hdulist:
            if isinstance(candidate, fits.BinTableHDU):
                try:
                    if io.detect_hdu_class(candidate.header) == cls.tag:
                        return candidate
                except FITSFormatError:
                    continue
        raise MissingHDUError(f"{where}: no {cls.tag} HDU found (HDUs: {names})")
    try:
        selected = hdulist[hdu.upper() if isinstance(hdu, str) else hdu]
    except (KeyError, IndexError):
        raise MissingHDUError(f"{where}: no HDU {hdu!r} (available: {names})") from None
    if not isinstance(selected, fits.BinTableHDU):
        raise FITSFormatError(
            f"{where} [HDU {selected.name}]: expected a binary table, got {type(selected).__name__}"
        )
    return selected


def _check_hduclass(header, cls, where: str) -> None:
    """Raise if the HDUCLAS keywords declare a different IRF type than ``cls``."""
    if "HDUCLAS2" not in header and "HDUCLAS4" not in header:
        return
    try:
        tag = io.detect_hdu_class(header, where)
    except FITSFormatError:
        return
    if cls.tag != tag:
        raise FITSFormatError(
            f"{where}: HDU is of class {tag!r} (HDUCLAS2={header.get('HDUCLAS2')!r}, "
            f"HDUCLAS4={header.get('HDUCLAS4')!r}), cannot read it as {cls.__name__} "
            f"({cls.tag!r})"
        )

