"""`MapAxis`: a one-dimensional binned axis (energy, offset, migra, ...) with units."""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.table import Table

from ._axis_plot import AxisPlotMixin
from ._axis_scale import (
    INTERP_SCALES,
    NODE_TYPES,
    _as_unit,
    _validate_nodes,
    _values_in_unit,
    interp_extrapolate,
    scale_forward,
    scale_inverse,
)

__all__ = ["MapAxis", "NODE_TYPES", "ENERGY_AXIS_NAMES"]

ENERGY_AXIS_NAMES = ("energy", "energy_true")


class MapAxis(AxisPlotMixin):
    """One-dimensional binned axis of a map.

    Parameters
    ----------
    nodes : array-like or `~astropy.units.Quantity`
        Bin edges (``node_type="edges"``) or bin centres (``node_type="center"``),
        strictly increasing.
    interp : {"lin", "log", "sqrt"}
        Space in which the pixel coordinate is linear.
    name : str
        Axis name, e.g. ``"energy"``, ``"energy_true"``, ``"offset"``, ``"migra"``.
    node_type : {"edges", "center"}
        Meaning of ``nodes``.
    unit : str or `~astropy.units.Unit`
        Unit of the nodes (taken from ``nodes`` when it is a Quantity and ``unit`` is
        empty; otherwise the Quantity is converted to ``unit``).

    Notes
    -----
    Bin ``i`` has its centre at pixel coordinate ``i`` and its edges at ``i -/+ 0.5``.
    """

    def __init__(self, nodes, interp="lin", name="", node_type="edges", unit=""):
        if isinstance(nodes, list | tuple) and any(isinstance(n, u.Quantity) for n in nodes):
            nodes = u.Quantity(nodes)
        if isinstance(nodes, u.Quantity):
            unit_obj = nodes.unit if (unit is None or unit == "") else _as_unit(unit)
            nodes = _values_in_unit(nodes, unit_obj, "nodes")
        else:
            unit_obj = _as_unit(unit)
        self._nodes = _validate_nodes(nodes, interp, node_type, "nodes")
        self._nodes.setflags(write=False)
        self._interp = interp
        self._node_type = node_type
        self._unit = unit_obj
        self._name = str(name) if name is not None else ""
        self._pix_offset = -0.5 if node_type == "edges" else 0.0
        self._nbin = self._nodes.size - 1 if node_type == "edges" else self._nodes.size
        self._cache: dict = {}

    # ------------------------------------------------------------------ basic properties
    @property
    def name(self) -> str:
        """Axis name."""
        return self._name

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the axis coordinates."""
        return self._unit

    @property
    def interp(self) -> str:
        """Interpolation scale ("lin", "log" or "sqrt")."""
        return self._interp

    @property
    def node_type(self) -> str:
        """"edges" or "center"."""
        return self._node_type

    @property
    def nbin(self) -> int:
        """Number of bins."""
        return self._nbin

    @property
    def nodes(self) -> u.Quantity:
        """The nodes given at construction (edges or centres)."""
        return u.Quantity(self._nodes, self._unit, copy=True)

    @property
    def is_energy_axis(self) -> bool:
        """Whether the axis is a reconstructed or true energy axis."""
        return self._name in ENERGY_AXIS_NAMES

    def _cached(self, key, func):
        if key not in self._cache:
            value = func()
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            self._cache[key] = value
        return self._cache[key]

    @property
    def _edges_value(self) -> np.ndarray:
        return self._cached(
            "edges", lambda: self.pix_to_coord_value(np.arange(self._nbin + 1, dtype=float) - 0.5)
        )

    @property
    def _center_value(self) -> np.ndarray:
        return self._cached(
            "center", lambda: self.pix_to_coord_value(np.arange(self._nbin, dtype=float))
        )

    @property
    def edges(self) -> u.Quantity:
        """Bin edges (``nbin + 1`` values)."""
        return u.Quantity(self._edges_value, self._unit, copy=True)

    @property
    def edges_min(self) -> u.Quantity:
        """Lower bin edges."""
        return self.edges[:-1]

    @property
    def edges_max(self) -> u.Quantity:
        """Upper bin edges."""
        return self.edges[1:]

    @property
    def center(self) -> u.Quantity:
        """Bin centres (pixel coordinate ``i``; geometric means on log axes)."""
        return u.Quantity(self._center_value, self._unit, copy=True)

    @property
    def bin_width(self) -> u.Quantity:
        """Bin widths."""
        return np.diff(self.edges)

    @property
    def bounds(self) -> u.Quantity:
        """Lower and upper bound of the axis."""
        return u.Quantity([self._edges_value[0], self._edges_value[-1]], self._unit)

    @property
    def nbin_per_decade(self) -> float:
        """Number of bins per decade (log axes only)."""
        if self._interp != "log":
            raise ValueError(f"axis {self._name!r}: nbin_per_decade requires interp='log'")
        values = self._edges_value if self._node_type == "edges" else self._center_value
        ndecades = np.log10(values.max() / values.min())
        if ndecades == 0:
            return np.inf
        return float(self._nbin / ndecades)

    # ------------------------------------------------------------------ transformations
    def pix_to_coord_value(self, pix) -> np.ndarray:
        """Pixel coordinate to coordinate value (float, axis unit)."""
        pix = np.asarray(pix, dtype=float) - self._pix_offset
        xp = np.arange(self._nodes.size, dtype=float)
        fp = scale_forward(self._nodes, self._interp)
        return scale_inverse(interp_extrapolate(pix, xp, fp), self._interp)

    def pix_to_coord(self, pix) -> u.Quantity:
        """Pixel coordinate to coordinate (Quantity in the axis unit)."""
        return u.Quantity(self.pix_to_coord_value(pix), self._unit)

    def _coord_value(self, coord) -> np.ndarray:
        return _values_in_unit(coord, self._unit, "coord").astype(float, copy=False)

    @property
    def _exact_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted coordinate values with an exactly known pixel (nodes, centres, edges)."""

        def build():
            nodes_pix = np.arange(self._nodes.size, dtype=float) + self._pix_offset
            values = np.concatenate([self._nodes, self._center_value, self._edges_value])
            pix = np.concatenate(
                [nodes_pix, np.arange(self._nbin, dtype=float),
                 np.arange(self._nbin + 1, dtype=float) - 0.5]
            )
            order = np.argsort(values, kind="stable")
            return values[order], pix[order]

        return self._cached("exact_grid", build)

    def coord_to_pix(self, coord) -> np.ndarray:
        """Coordinate (Quantity or value in the axis unit) to float pixel coordinate.

        The nodes, bin centres and bin edges of the axis map exactly to their integer
        (centres) or half-integer (edges) pixel: the round trip through the log / sqrt
        scale would otherwise be off by a few ulps (e.g. ``-5.6e-17`` for the first
        centre of a log axis, which an in-bounds check ``pix >= 0`` rejects).
        """
        raw = self._coord_value(coord)
        values = scale_forward(raw, self._interp)
        xp = scale_forward(self._nodes, self._interp)
        fp = np.arange(self._nodes.size, dtype=float)
        pix = interp_extrapolate(values, xp, fp) + self._pix_offset
        grid_values, grid_pix = self._exact_grid
        idx = np.clip(np.searchsorted(grid_values, raw), 0, grid_values.size - 1)
        exact = grid_values[idx] == raw
        if np.ndim(pix) == 0:
            return grid_pix[idx] if exact else pix
        return np.where(exact, grid_pix[idx], pix)

    def coord_to_idx(self, coord, clip: bool = False) -> np.ndarray:
        """Coordinate to bin index; -1 outside the axis unless ``clip``.

        Bins include their lower edge; the upper edge of the last bin belongs to it.
        """
        values = np.asarray(self._coord_value(coord), dtype=float)
        edges = self._edges_value
        idx = np.searchsorted(edges, values, side="right") - 1
        # the outer edges are inclusive, with a relative tolerance for float round-off
        # of the edges computed from the nodes
        tol = 1e-12 * np.abs(edges[[0, -1]])
        idx = np.where((idx < 0) & (values >= edges[0] - tol[0]), 0, idx)
        idx = np.where((idx >= self._nbin) & (values <= edges[-1] + tol[1]), self._nbin - 1, idx)
        if clip:
            idx = np.clip(idx, 0, self._nbin - 1)
        else:
            idx = np.where((idx < 0) | (idx >= self._nbin), -1, idx)
        idx = np.where(np.isnan(values), -1, idx)
        return idx.astype(int)

    def pix_to_idx(self, pix, clip: bool = False) -> np.ndarray:
        """Pixel coordinate to bin index (-1 outside unless ``clip``; NaN gives -1)."""
        pix = np.asarray(pix, dtype=float)
        with np.errstate(invalid="ignore"):
            idx = np.floor(pix + 0.5)
            if clip:
                idx = np.clip(idx, 0, self._nbin - 1)
            else:
                idx = np.where((idx < 0) | (idx > self._nbin - 1), -1, idx)
        idx = np.where(np.isfinite(idx), idx, -1)
        return idx.astype(int)

    # ------------------------------------------------------------------ derived axes
    def _init_copy(self, **kwargs) -> MapAxis:
        params = {
            "nodes": self.nodes,
            "interp": self._interp,
            "name": self._name,
            "node_type": self._node_type,
            "unit": self._unit,
        }
        if "nodes" in kwargs and isinstance(kwargs["nodes"], u.Quantity) and "unit" not in kwargs:
            kwargs["unit"] = kwargs["nodes"].unit
        params.update(kwargs)
        return self.__class__(**params)

    def copy(self, **kwargs) -> MapAxis:
        """Copy, optionally changing ``nodes``, ``interp``, ``name``, ``node_type``, ``unit``."""
        return self._init_copy(**kwargs)

    def rename(self, new_name: str) -> MapAxis:
        """Copy with another name."""
        return self._init_copy(name=new_name)

    def round(self, coord, clip: bool = False) -> u.Quantity:
        """Round coordinates to the nearest bin edge.

        Parameters
        ----------
        coord : `~astropy.units.Quantity` or array-like
            Coordinates (plain values are in the axis unit).
        clip : bool
            Clip to the axis range first.
        """
        pix = self.coord_to_pix(coord)
        if clip:
            pix = np.clip(pix, -0.5, self._nbin - 0.5)
        return self.pix_to_coord(np.round(pix + 0.5) - 0.5)

    def slice(self, idx) -> MapAxis:
        """Sub-axis for a bin slice (``slice`` object or integer bin index)."""
        if isinstance(idx, int | np.integer):
            index = int(idx)
            if index < 0:
                index += self._nbin
            if not 0 <= index < self._nbin:
                raise IndexError(f"axis {self._name!r}: bin index {idx} out of range {self._nbin}")
            idx = slice(index, index + 1)
        if not isinstance(idx, slice):
            raise TypeError(f"argument 'idx': expected slice or int, got {type(idx).__name__}")
        start, stop, step = idx.indices(self._nbin)
        if step != 1:
            raise ValueError(f"argument 'idx': slice step must be 1, got {step}")
        if stop <= start:
            raise ValueError(f"argument 'idx': empty slice {idx} of axis {self._name!r}")
        if self._node_type == "edges":
            nodes = self._nodes[start : stop + 1]
        else:
            nodes = self._nodes[start:stop]
        return self._init_copy(nodes=u.Quantity(nodes, self._unit))

    def squash(self) -> MapAxis:
        """One-bin axis covering the whole range."""
        lo, hi = self._edges_value[0], self._edges_value[-1]
        return self.__class__(
            [lo, hi], interp=self._interp, name=self._name, node_type="edges", unit=self._unit
        )

    def upsample(self, factor: int) -> MapAxis:
        """Axis with ``factor`` times more bins on the same range and scale."""
        factor = int(factor)
        if factor < 1:
            raise ValueError(f"argument 'factor': must be >= 1, got {factor}")
        if self._node_type == "edges":
            pix = np.linspace(-0.5, self._nbin - 0.5, self._nbin * factor + 1)
        else:
            pix = np.linspace(0, self._nbin - 1, (self._nbin - 1) * factor + 1)
        nodes = self.pix_to_coord_value(pix)
        return self._init_copy(nodes=u.Quantity(nodes, self._unit))

    def downsample(self, factor: int, strict: bool = True) -> MapAxis:
        """Axis with ``factor`` times fewer bins (merging consecutive bins).

        With ``strict`` the number of bins must be divisible by ``factor``; otherwise the
        last (smaller) group keeps the remaining bins.
        """
        factor = int(factor)
        if factor < 1:
            raise ValueError(f"argument 'factor': must be >= 1, got {factor}")
        if self._nbin % factor != 0 and strict:
            raise ValueError(
                f"argument 'factor': axis {self._name!r} with {self._nbin} bins cannot be "
                f"downsampled by {factor} (use strict=False)"
            )
        if self._node_type == "edges":
            nodes = self._edges_value[::factor]
            if nodes[-1] != self._edges_value[-1]:
                nodes = np.append(nodes, self._edges_value[-1])
        else:
            nodes = self._nodes[::factor]
        return self._init_copy(nodes=u.Quantity(nodes, self._unit))

    def pad(self, pad_width) -> MapAxis:
        """Axis extended by ``pad_width`` bins (int or ``(before, after)``), extrapolated."""
        if np.isscalar(pad_width):
            before = after = int(pad_width)
        else:
            before, after = (int(v) for v in pad_width)
        if before < 0 or after < 0:
            raise ValueError(f"argument 'pad_width': must be non-negative, got {pad_width}")
        if self._node_type == "edges":
            pix = np.arange(-before, self._nbin + after + 1, dtype=float) - 0.5
        else:
            pix = np.arange(-before, self._nbin + after, dtype=float)
        nodes = self.pix_to_coord_value(pix)
        return self._init_copy(nodes=u.Quantity(nodes, self._unit))

    def to_node_type(self, node_type: str) -> MapAxis:
        """Same binning described by its edges or by its centres."""
        if node_type == self._node_type:
            return self.copy()
        if node_type == "edges":
            return self._init_copy(nodes=self.edges, node_type="edges")
        if node_type == "center":
            return self._init_copy(nodes=self.center, node_type="center")
        raise ValueError(
            f"argument 'node_type': unknown value {node_type!r}, allowed: {NODE_TYPES}"
        )

    def concatenate(self, axis: MapAxis) -> MapAxis:
        """Join with an adjacent axis (its first edge equals this axis' last edge)."""
        return self.from_stack([self, axis])

    @classmethod
    def from_stack(cls, axes: Sequence[MapAxis]) -> MapAxis:
        """Join adjacent edge axes into one."""
        axes = list(axes)
        if not axes:
            raise ValueError("argument 'axes': empty list")
        first = axes[0]
        edges = [first._edges_value]
        for ax in axes[1:]:
            if ax.name != first.name or ax.node_type != "edges" or first.node_type != "edges":
                raise ValueError("argument 'axes': stacking needs edge axes with the same name")
            values = ax.edges.to_value(first.unit)
            if not np.isclose(values[0], edges[-1][-1], rtol=1e-9, atol=0):
                raise ValueError(
                    f"argument 'axes': axes are not contiguous ({edges[-1][-1]} != {values[0]})"
                )
            edges.append(values[1:])
        return first._init_copy(nodes=u.Quantity(np.concatenate(edges), first.unit))

    # ------------------------------------------------------------------ grouping / comparison
    def group_table(self, edges) -> Table:
        """Group bins of this axis into groups delimited by the requested ``edges``.

        Requested edges are snapped to the nearest bin edge of this axis. Bins below the
        first / above the last requested edge form an "underflow" / "overflow" group.

        Returns
        -------
        table : `~astropy.table.Table`
            Columns ``group_idx``, ``idx_min``, ``idx_max``, ``bin_type``,
            ``<name>_min``, ``<name>_max``.
        """
        values = _values_in_unit(edges, self._unit, "edges")
        pix = np.clip(self.coord_to_pix(values), -0.5, self._nbin - 0.5)
        snapped = np.unique(np.round(pix + 0.5).astype(int))  # edge indices 0..nbin
        rows_min, rows_max, types = [], [], []
        if snapped[0] > 0:
            rows_min.append(0)
            rows_max.append(snapped[0] - 1)
            types.append("underflow")
        for lo, hi in zip(snapped[:-1], snapped[1:], strict=True):
            rows_min.append(lo)
            rows_max.append(hi - 1)
            types.append("normal")
        if snapped[-1] < self._nbin:
            rows_min.append(snapped[-1])
            rows_max.append(self._nbin - 1)
            types.append("overflow")
        idx_min = np.array(rows_min, dtype=int)
        idx_max = np.array(rows_max, dtype=int)
        table = Table()
        table["group_idx"] = np.arange(idx_min.size)
        table["idx_min"] = idx_min
        table["idx_max"] = idx_max
        table["bin_type"] = np.array(types, dtype=str)
        table[f"{self._name}_min"] = self.edges[idx_min]
        table[f"{self._name}_max"] = self.edges[idx_max + 1]
        return table

    def is_aligned(self, other: MapAxis, atol: float = 2e-2) -> bool:
        """Whether the edges (or centres) of ``other`` fall on the bin grid of this axis."""
        if not isinstance(other, MapAxis):
            return False
        if not self._unit.is_equivalent(other.unit):
            return False
        if self._interp != other.interp:
            return False
        if self._node_type == "edges":
            pix = self.coord_to_pix(other.edges) + 0.5
        else:
            pix = self.coord_to_pix(other.center)
        return bool(np.allclose(pix, np.round(pix), atol=atol, rtol=0))

    def is_allclose(self, other, **kwargs) -> bool:
        """Same name, scale, node type and units, and nodes equal within ``np.allclose``."""
        if not isinstance(other, MapAxis) or type(other) is not type(self):
            return False
        if self._nodes.shape != other._nodes.shape:
            return False
        if not self._unit.is_equivalent(other.unit):
            return False
        if (
            self._node_type != other.node_type
            or self._interp != other.interp
            or self._name.upper() != other.name.upper()
        ):
            return False
        return bool(np.allclose(self._nodes, other.nodes.to_value(self._unit), **kwargs))

    def __eq__(self, other) -> bool:
        if not isinstance(other, MapAxis):
            return NotImplemented
        return self.is_allclose(other, rtol=1e-6, atol=1e-6)

    def __ne__(self, other) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = object.__hash__

    def __len__(self) -> int:
        return self._nbin

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __repr__(self) -> str:
        lo, hi = self._edges_value[0], self._edges_value[-1]
        return (
            f"MapAxis(name={self._name!r}, nbin={self._nbin}, node_type={self._node_type!r}, "
            f"interp={self._interp!r}, range=[{lo:.4g}, {hi:.4g}] {self._unit})"
        )

    def __str__(self) -> str:
        lines = [
            "MapAxis",
            "",
            f"\tname       : {self._name}",
            f"\tunit       : {self._unit}",
            f"\tnbins      : {self._nbin}",
            f"\tnode type  : {self._node_type}",
            f"\tedges min  : {self._edges_value[0]:.1e} {self._unit}",
            f"\tedges max  : {self._edges_value[-1]:.1e} {self._unit}",
            f"\tinterp     : {self._interp}",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_bounds(cls, lo, hi, nbin, interp="lin", name="", unit="", node_type="edges"):
        """Axis of ``nbin`` bins regularly spaced (in ``interp`` space) between lo and hi."""
        nbin_int = int(nbin) if np.ndim(nbin) == 0 else -1
        if nbin_int < 1 or nbin_int != nbin:
            raise ValueError(f"argument 'nbin': must be a positive integer, got {nbin!r}")
        if isinstance(lo, u.Quantity) or isinstance(hi, u.Quantity):
            if unit is None or unit == "":
                unit = (lo if isinstance(lo, u.Quantity) else hi).unit
        unit_obj = _as_unit(unit)
        lo_v = float(_values_in_unit(lo, unit_obj, "lo"))
        hi_v = float(_values_in_unit(hi, unit_obj, "hi"))
        if not (np.isfinite(lo_v) and np.isfinite(hi_v)):
            raise ValueError(f"arguments 'lo', 'hi': must be finite, got {lo_v!r}, {hi_v!r}")
        if lo_v >= hi_v:
            raise ValueError(f"arguments 'lo', 'hi': need lo < hi, got lo={lo_v!r} hi={hi_v!r}")
        if interp not in INTERP_SCALES:
            raise ValueError(
                f"argument 'interp': unknown value {interp!r}, allowed: {INTERP_SCALES}"
            )
        if interp == "log" and lo_v <= 0:
            raise ValueError(f"argument 'lo': log axis requires lo > 0, got {lo_v!r}")
        if interp == "sqrt" and lo_v < 0:
            raise ValueError(f"argument 'lo': sqrt axis requires lo >= 0, got {lo_v!r}")
        npts = nbin_int + 1 if node_type == "edges" else nbin_int
        if node_type == "center" and npts == 1:
            raise ValueError("argument 'nbin': a center axis from bounds needs nbin >= 2")
        if interp == "lin":
            nodes = np.linspace(lo_v, hi_v, npts)
        elif interp == "log":
            nodes = np.geomspace(lo_v, hi_v, npts)
        else:
            nodes = np.linspace(np.sqrt(lo_v), np.sqrt(hi_v), npts) ** 2
        return cls(nodes, interp=interp, name=name, node_type=node_type, unit=unit_obj)

    @classmethod
    def from_edges(cls, edges, interp="lin", name="", unit=""):
        """Axis from bin edges."""
        if isinstance(edges, list | tuple) and any(isinstance(e, u.Quantity) for e in edges):
            edges = u.Quantity(edges)
        if isinstance(edges, u.Quantity):
            unit = edges.unit if (unit is None or unit == "") else unit
            edges = edges.to_value(unit)
        values = _validate_nodes(edges, interp, "edges", "edges")
        return cls(values, interp=interp, name=name, node_type="edges", unit=unit)

    @classmethod
    def from_nodes(cls, nodes, interp="lin", name="", unit=""):
        """Axis from bin centres (edges at the midpoints in ``interp`` space)."""
        if isinstance(nodes, list | tuple) and any(isinstance(n, u.Quantity) for n in nodes):
            nodes = u.Quantity(nodes)
        if isinstance(nodes, u.Quantity):
            unit = nodes.unit if (unit is None or unit == "") else unit
            nodes = nodes.to_value(unit)
        values = _validate_nodes(nodes, interp, "center", "nodes")
        return cls(values, interp=interp, name=name, node_type="center", unit=unit)

    @classmethod
    def from_energy_bounds(
        cls,
        energy_min,
        energy_max,
        nbin,
        unit=None,
        per_decade=False,
        name=None,
        node_type="edges",
        strict_bounds=True,
    ):
        """Log-spaced energy axis.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, float or str
            Range (plain numbers are in ``unit``).
        nbin : int
            Number of bins (or bins per decade if ``per_decade``).
        unit : str or `~astropy.units.Unit`, optional
            Axis unit (default: the unit of ``energy_max``).
        per_decade : bool
            Interpret ``nbin`` per decade.
        name : {"energy", "energy_true"}, optional
            Axis name (default "energy").
        node_type : {"edges", "center"}
            Node type.
        strict_bounds : bool
            With ``per_decade``: if True, keep the bounds exactly and round the total number
            of bins up; if False, put the edges on the global grid ``10**(k / nbin)`` (in
            ``unit``) that covers the range.
        """
        name = "energy" if name is None else name
        if name not in ENERGY_AXIS_NAMES:
            raise ValueError(f"argument 'name': must be one of {ENERGY_AXIS_NAMES}, got {name!r}")
        if isinstance(energy_min, str):
            energy_min = u.Quantity(energy_min)
        if isinstance(energy_max, str):
            energy_max = u.Quantity(energy_max)
        if unit is None:
            if isinstance(energy_max, u.Quantity):
                unit = energy_max.unit
            elif isinstance(energy_min, u.Quantity):
                unit = energy_min.unit
            else:
                raise ValueError("argument 'unit': required when energies are plain numbers")
        unit = u.Unit(unit)
        if not unit.is_equivalent(u.TeV):
            raise u.UnitConversionError(f"argument 'unit': {unit} is not an energy unit")
        emin = float(_values_in_unit(energy_min, unit, "energy_min"))
        emax = float(_values_in_unit(energy_max, unit, "energy_max"))
        if not emin > 0:
            raise ValueError(f"argument 'energy_min': must be > 0, got {emin!r} {unit}")
        if emin >= emax:
            raise ValueError(
                f"arguments 'energy_min', 'energy_max': need energy_min < energy_max, got "
                f"{emin!r} and {emax!r} {unit}"
            )
        if per_decade:
            per = float(nbin)
            if per <= 0:
                raise ValueError(f"argument 'nbin': must be > 0, got {nbin!r}")
            if strict_bounds:
                nbin = int(np.ceil(np.log10(emax / emin) * per))
            else:
                kmin = np.floor(np.log10(emin) * per + 1e-9)
                kmax = np.ceil(np.log10(emax) * per - 1e-9)
                emin, emax = 10 ** (kmin / per), 10 ** (kmax / per)
                nbin = int(kmax - kmin)
        return cls.from_bounds(
            emin, emax, nbin=nbin, interp="log", name=name, unit=unit, node_type=node_type
        )

    @classmethod
    def from_energy_edges(cls, energy_edges, unit=None, name=None, interp="log"):
        """Energy axis from edges (Quantity, or values in ``unit``)."""
        name = "energy" if name is None else name
        if name not in ENERGY_AXIS_NAMES:
            raise ValueError(f"argument 'name': must be one of {ENERGY_AXIS_NAMES}, got {name!r}")
        if isinstance(energy_edges, u.Quantity):
            unit = energy_edges.unit if unit is None else u.Unit(unit)
            values = energy_edges.to_value(unit)
        else:
            if unit is None:
                raise ValueError("argument 'unit': required when energy_edges has no unit")
            values = energy_edges
        unit = u.Unit(unit)
        if not unit.is_equivalent(u.TeV):
            raise u.UnitConversionError(f"argument 'unit': {unit} is not an energy unit")
        return cls.from_edges(values, interp=interp, name=name, unit=unit)

    # ------------------------------------------------------------------ table I/O
    def to_table(self, format: str = "ogip") -> Table:
        """Axis as a table: "ogip", "ogip-sherpa", "ogip-arf", "gadf", "gadf-dl3".

        See `gammapipe.maps._axis_io.axis_to_table`.
        """
        from ._axis_io import axis_to_table

        return axis_to_table(self, format=format)

    def to_table_hdu(self, format: str = "ogip"):
        """Axis table as a `~astropy.io.fits.BinTableHDU` (EXTNAME from the format)."""
        from ._axis_io import table_to_hdu

        return table_to_hdu(self.to_table(format=format))

    @classmethod
    def from_table(cls, table: Table, format: str = "ogip", idx: int = 0, column_prefix=None):
        """Read an axis from a table (see `to_table` for the formats)."""
        from ._axis_io import axis_from_table

        return axis_from_table(table, format=format, idx=idx, column_prefix=column_prefix)

    @classmethod
    def from_table_hdu(cls, hdu, format: str = "ogip", idx: int = 0):
        """Read an axis from a table HDU."""
        from ..utils.fits import table_from_hdu

        return cls.from_table(table_from_hdu(hdu, where=hdu.name), format=format, idx=idx)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache = {}
        self._nodes = np.array(self._nodes)
        self._nodes.setflags(write=False)
