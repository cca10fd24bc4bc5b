"""Base class of PSFs given by analytic profiles whose parameters are tabulated on
``(energy_true, offset)`` (GADF ``psf_3gauss`` and ``psf_king``)."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import numpy as np
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, GeometryError
from gammapipe.utils.interpolation import GridInterpolator

from . import io
from .core import FoVAlignment, _as_axes
from .psf_core import PSF

__all__ = ["ParametricPSF"]


class ParametricPSF(PSF):
    """PSF with analytic profile; parameters tabulated on ``energy_true`` x ``offset``.

    ``data`` is a numpy structured array (one float field per parameter, shape
    ``axes.shape``) and ``unit`` a dict parameter -> unit. Parameters are interpolated
    like the other IRFs (log in energy, linear in offset, 0 outside the axis edges).
    """

    required_axes = ["energy_true", "offset"]
    required_parameters: ClassVar[list[str]] = []
    parameter_units: ClassVar[dict[str, u.UnitBase]] = {}

    def __init__(
        self,
        axes,
        data=None,
        unit=None,
        is_pointlike=False,
        fov_alignment=FoVAlignment.RADEC,
        meta=None,
        interp_kwargs=None,
    ):
        axes = _as_axes(axes)
        if list(axes.names) != self.required_axes:
            raise GeometryError(
                f"{type(self).__name__}: axes must be {self.required_axes}, got {axes.names}"
            )
        self._axes = axes
        self._unit = {p: u.Unit(self.parameter_units.get(p, "")) for p in self.required_parameters}
        if isinstance(unit, dict):
            self._unit.update({k: u.Unit(v) for k, v in unit.items()})
        self.data = data
        self.is_pointlike = bool(is_pointlike)
        self.fov_alignment = FoVAlignment(getattr(fov_alignment, "value", fov_alignment))
        self.meta = dict(meta) if meta else {}
        kwargs = dict(self.default_interp_kwargs)
        kwargs.update(interp_kwargs or {})
        kwargs.pop("bounds_error", None)
        self.interp_kwargs = kwargs

    @property
    def data(self) -> np.ndarray:
        """Structured array of the parameters."""
        return self._data

    @data.setter
    def data(self, value):
        shape = tuple(self.axes.shape)
        dtype = np.dtype([(p, float) for p in self.required_parameters])
        out = np.zeros(shape, dtype=dtype)
        if value is not None:
            names = value.dtype.names if isinstance(value, np.ndarray) else list(value)
            missing = [p for p in self.required_parameters if p not in (names or ())]
            if missing:
                raise ValueError(f"{type(self).__name__}: missing parameter(s) {missing}")
            for p in self.required_parameters:
                v = value[p]
                if isinstance(v, u.Quantity):
                    v = v.to_value(self._unit[p])
                try:
                    out[p] = np.broadcast_to(np.asarray(v, dtype=float), shape)
                except ValueError:
                    raise GeometryError(
                        f"{type(self).__name__}: parameter {p} of shape {np.shape(v)} does not "
                        f"match the axes shape {shape}"
                    ) from None
        self._data = out
        self._interpolators = {}

    @property
    def unit(self) -> dict:
        """Units of the parameters."""
        return self._unit

    @property
    def quantity(self) -> dict:
        """Parameters as a dict of Quantities."""
        return {p: u.Quantity(self.data[p], self._unit[p]) for p in self.required_parameters}

    def _replace(self, **kwargs):
        init = {
            "axes": self.axes,
            "data": self.data.copy(),
            "unit": dict(self.unit),
            "is_pointlike": self.is_pointlike,
            "fov_alignment": self.fov_alignment,
            "meta": dict(self.meta),
            "interp_kwargs": dict(self.interp_kwargs),
        }
        init.update(kwargs)
        return type(self)(**init)

    def to_unit(self, unit):
        raise TypeError(f"{type(self).__name__} has per-parameter units; to_unit is undefined")

    def evaluate_parameters(self, energy_true=None, offset=None) -> dict:
        """Interpolated parameters at ``(energy_true, offset)`` (broadcast)."""
        energy_true = self._default_coord("energy_true", energy_true)
        offset = self._default_coord("offset", offset)
        e_axis, o_axis = self.axes["energy_true"], self.axes["offset"]
        coords = (energy_true.to_value(e_axis.unit), offset.to_value(o_axis.unit))
        out = {}
        for p in self.required_parameters:
            interp = self._interpolators.get(p)
            if interp is None:
                interp = GridInterpolator(
                    [e_axis.center.to_value(e_axis.unit), o_axis.center.to_value(o_axis.unit)],
                    self.data[p],
                    scales=[e_axis.interp, o_axis.interp],
                    values_scale="lin",
                    method=self.interp_kwargs.get("method", "linear"),
                    fill_value=self.interp_kwargs.get("fill_value", 0.0),
                    bounds=[
                        (
                            e_axis.edges[0].to_value(e_axis.unit),
                            e_axis.edges[-1].to_value(e_axis.unit),
                        ),
                        (
                            o_axis.edges[0].to_value(o_axis.unit),
                            o_axis.edges[-1].to_value(o_axis.unit),
                        ),
                    ],
                    extrapolate=self.interp_kwargs.get("extrapolate", True),
                )
                self._interpolators[p] = interp
            out[p] = u.Quantity(interp(coords), self._unit[p])
        return out

    @staticmethod
    def evaluate_direct(rad, **kwargs):
        """Profile dP/dOmega at ``rad`` for given parameters (implemented by subclasses)."""
        raise NotImplementedError

    @staticmethod
    def containment_direct(rad, **kwargs):
        """Analytic containment within ``rad`` for given parameters."""
        raise NotImplementedError

    def evaluate(self, rad=None, energy_true=None, offset=None, method=None, **kwargs):
        """PSF ``dP/dOmega`` (sr-1) at ``rad`` for ``(energy_true, offset)`` (broadcast).

        Outside the energy / offset range of the table the PSF is 0.
        """
        if kwargs:
            raise ValueError(f"{type(self).__name__}.evaluate: unknown argument(s) {list(kwargs)}")
        if rad is None:
            raise ValueError(f"{type(self).__name__}.evaluate: rad is required")
        pars = self.evaluate_parameters(energy_true=energy_true, offset=offset)
        return self.evaluate_direct(u.Quantity(rad, u.deg), **pars).to(u.sr**-1)

    def containment(self, rad, energy_true=None, offset=None) -> u.Quantity:
        """Analytic containment fraction within ``rad`` (small-angle)."""
        pars = self.evaluate_parameters(energy_true=energy_true, offset=offset)
        return self.containment_direct(u.Quantity(rad, u.deg), **pars)

    def normalize(self, axis_name=None) -> None:
        """No-op: the analytic profiles are normalised by construction."""

    def is_allclose(self, other, rtol_axes=1e-3, atol_axes=1e-6, **kwargs) -> bool:
        if not isinstance(other, type(self)):
            return False
        for a, b in zip(self.axes, other.axes, strict=True):
            if a.nbin != b.nbin or not np.allclose(
                a.edges.value, b.edges.to_value(a.unit), rtol=rtol_axes, atol=atol_axes
            ):
                return False
        return all(
            np.allclose(
                self.data[p],
                u.Quantity(other.data[p], other.unit[p]).to_value(self.unit[p]),
                **kwargs,
            )
            for p in self.required_parameters
        )

    def slice_by_idx(self, slices: dict):
        from gammapipe.maps import MapAxis

        axes, index = [], []
        for axis in self.axes:
            sl = slices.get(axis.name, slice(None))
            if isinstance(sl, int | np.integer):
                sl = slice(int(sl), int(sl) + 1)
            start, stop, _ = sl.indices(axis.nbin)
            axes.append(
                MapAxis.from_edges(
                    axis.edges[start : stop + 1], name=axis.name, interp=axis.interp, unit=axis.unit
                )
            )
            index.append(slice(start, stop))
        return self._replace(axes=axes, data=self.data[tuple(index)].copy())

    def cumsum(self, axis_name):
        raise TypeError(f"{type(self).__name__}: cumsum needs tabulated data; use to_psf3d()")

    def pad(self, pad_width, axis_name, **kwargs):
        raise TypeError(f"{type(self).__name__}: pad needs tabulated data; use to_psf3d()")

    # ------------------------------------------------------------------ I/O
    @classmethod
    def _column_name(cls, parameter: str) -> str:
        return parameter.upper()

    @classmethod
    def from_table(cls, table: Table, format: str = "gadf-dl3", where: str = ""):
        cls._check_format(format)
        where = where or f"{cls.__name__} table"
        axes = io.axes_from_gadf_table(table, cls.tag, cls.required_axes, where)
        candidates = [list(reversed(io.column_axis_order(table, cls.tag)))]
        data = {}
        missing = [
            cls._column_name(p)
            for p in cls.required_parameters
            if cls._column_name(p) not in table.colnames
        ]
        if missing:
            raise FITSFormatError(f"{where}: missing column(s) {missing} (have {table.colnames})")
        units = {}
        for p in cls.required_parameters:
            col = table[cls._column_name(p)]
            unit = u.Unit(col.unit) if col.unit is not None else u.dimensionless_unscaled
            expected = u.Unit(cls.parameter_units.get(p, ""))
            if expected != u.dimensionless_unscaled and unit == u.dimensionless_unscaled:
                unit = expected  # lenient: some writers omit the unit of sigmas
            if not unit.is_equivalent(expected):
                from gammapipe.utils.errors import UnitError

                raise UnitError(
                    f"{where}: column {cls._column_name(p)} has unit {unit}, expected {expected}"
                )
            raw = np.asarray(col[0], dtype=float)
            values = io.data_to_class_order(raw, candidates, cls.required_axes, axes.shape, where)
            data[p] = u.Quantity(values, unit).to_value(expected)
            units[p] = expected
        from .core import _fov_alignment, _irf_meta, _is_pointlike

        return cls(
            axes=axes,
            data=data,
            unit=units,
            is_pointlike=_is_pointlike(table.meta),
            fov_alignment=_fov_alignment(table.meta),
            meta=_irf_meta(table.meta),
        )

    def to_table(self, format: str = "gadf-dl3") -> Table:
        self._check_format(format)
        table = Table(meta=self._header_cards())
        for name in self.required_axes:
            for key, value in io.axis_to_gadf_columns(self.axes[name]).items():
                table[key] = value
        for p in self.required_parameters:
            table[self._column_name(p)] = u.Quantity(self.data[p].T[np.newaxis], self.unit[p])
        return table

    def __repr__(self) -> str:
        shape = dict(zip(self.axes.names, self.data.shape, strict=True))
        return f"{type(self).__name__}(axes={shape}, parameters={self.required_parameters})"
