"""Non-numeric axes: `LabelMapAxis` (named bins) and `TimeMapAxis` (time intervals)."""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time

from ..utils.errors import FITSFormatError

__all__ = ["LabelMapAxis", "TimeMapAxis"]


class LabelMapAxis:
    """Axis whose bins are identified by string labels (e.g. dataset names).

    Parameters
    ----------
    labels : sequence of str
        Unique bin labels.
    name : str
        Axis name.
    """

    node_type = "label"
    interp = "lin"

    def __init__(self, labels: Sequence[str], name: str = ""):
        values = np.array(labels, dtype=str, ndmin=1)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"argument 'labels': need a non-empty 1D sequence, got {labels!r}")
        unique, counts = np.unique(values, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"argument 'labels': duplicate labels {unique[counts > 1].tolist()}")
        self._labels = values
        self._name = str(name)

    @property
    def name(self) -> str:
        """Axis name."""
        return self._name

    @property
    def unit(self) -> u.UnitBase:
        """Unit (dimensionless)."""
        return u.dimensionless_unscaled

    @property
    def nbin(self) -> int:
        """Number of bins."""
        return int(self._labels.size)

    @property
    def center(self) -> np.ndarray:
        """The labels."""
        return self._labels.copy()

    @property
    def edges(self) -> u.Quantity:
        """Pixel edges ``-0.5 .. nbin - 0.5``."""
        return u.Quantity(np.arange(self.nbin + 1, dtype=float) - 0.5)

    @property
    def bin_width(self) -> u.Quantity:
        """Unit bin widths."""
        return u.Quantity(np.ones(self.nbin))

    @property
    def is_energy_axis(self) -> bool:
        return False

    @property
    def as_plot_labels(self) -> list[str]:
        return self._labels.tolist()

    def coord_to_idx(self, coord, clip: bool = False) -> np.ndarray:
        """Labels to bin indices (unknown labels raise `ValueError`)."""
        coord = np.asarray(coord, dtype=str)
        order = np.argsort(self._labels)
        sorted_labels = self._labels[order]
        pos = np.clip(np.searchsorted(sorted_labels, coord), 0, self.nbin - 1)
        found = sorted_labels[pos] == coord
        if not np.all(found):
            raise ValueError(
                f"axis {self._name!r}: unknown label(s) {np.unique(coord[~found]).tolist()}, "
                f"valid: {self._labels.tolist()}"
            )
        return order[pos].astype(int)

    def coord_to_pix(self, coord) -> np.ndarray:
        """Labels to (integer-valued) pixel coordinates."""
        return self.coord_to_idx(coord).astype(float)

    def pix_to_idx(self, pix, clip: bool = False) -> np.ndarray:
        """Pixel coordinates to indices (-1 outside unless ``clip``)."""
        pix = np.asarray(pix, dtype=float)
        with np.errstate(invalid="ignore"):
            idx = np.floor(pix + 0.5)
            if clip:
                idx = np.clip(idx, 0, self.nbin - 1)
            else:
                idx = np.where((idx < 0) | (idx > self.nbin - 1), -1, idx)
        return np.where(np.isfinite(idx), idx, -1).astype(int)

    def pix_to_coord(self, pix) -> np.ndarray:
        """Pixel coordinates to labels."""
        idx = self.pix_to_idx(pix)
        if np.any(idx < 0):
            raise ValueError(f"axis {self._name!r}: pixel coordinate outside the axis")
        return self._labels[idx]

    def slice(self, idx) -> LabelMapAxis:
        """Sub-axis for a slice or an integer index."""
        if isinstance(idx, int | np.integer):
            idx = slice(int(idx), int(idx) + 1 if int(idx) != -1 else None)
        labels = self._labels[idx]
        return LabelMapAxis(labels, name=self._name)

    def squash(self) -> LabelMapAxis:
        """One bin labelled ``"first...last"``."""
        label = self._labels[0] if self.nbin == 1 else f"{self._labels[0]}...{self._labels[-1]}"
        return LabelMapAxis([label], name=self._name)

    def upsample(self, factor: int):
        raise ValueError(f"label axis {self._name!r} cannot be upsampled")

    def downsample(self, factor: int, strict: bool = True):
        raise ValueError(f"label axis {self._name!r} cannot be downsampled")

    def pad(self, pad_width):
        raise ValueError(f"label axis {self._name!r} cannot be padded")

    @classmethod
    def from_stack(cls, axes: Sequence[LabelMapAxis]) -> LabelMapAxis:
        """Concatenate label axes."""
        labels = np.concatenate([ax.center for ax in axes])
        return cls(labels, name=axes[0].name)

    def concatenate(self, axis: LabelMapAxis) -> LabelMapAxis:
        return self.from_stack([self, axis])

    def copy(self, **kwargs) -> LabelMapAxis:
        params = {"labels": self._labels, "name": self._name}
        params.update(kwargs)
        return LabelMapAxis(**params)

    def rename(self, new_name: str) -> LabelMapAxis:
        return self.copy(name=new_name)

    def to_table(self, format: str = "gadf") -> Table:
        """BANDS-style table with the labels in column ``<NAME>``."""
        from ._axes import MapAxes

        return MapAxes([self]).to_table(format=format)

    @classmethod
    def from_table(cls, table: Table, format: str = "gadf", idx: int = 0):
        from ._axis_io import axes_from_table

        return axes_from_table(table, format=format)[idx]

    def is_allclose(self, other, **kwargs) -> bool:
        return self == other

    def __eq__(self, other) -> bool:
        if not isinstance(other, LabelMapAxis):
            return NotImplemented
        return other.name == self._name and np.array_equal(other.center, self._labels)

    __hash__ = object.__hash__

    def __len__(self) -> int:
        return self.nbin

    def __repr__(self) -> str:
        return f"LabelMapAxis(name={self._name!r}, labels={self._labels.tolist()})"


def _as_time(value, argname: str) -> Time:
    if isinstance(value, Time):
        return value
    try:
        if isinstance(value, str):
            return Time(value, scale="tt")
        return Time(value, format="mjd", scale="tt")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"argument {argname!r}: cannot interpret {value!r} as a time") from exc


def _time_from_reference(mjdref: float, offset: u.Quantity, scale: str) -> Time:
    """Times ``MJDREF + offset`` in ``scale`` (FITS convention: offsets counted in that
    time scale, so no leap-second shift between the reference and the times)."""
    days = np.atleast_1d(offset.to_value(u.d))
    return Time(np.full(days.shape, mjdref), days, format="mjd", scale=scale)


def _as_time_quantity(value, unit, argname: str) -> u.Quantity:
    if isinstance(value, u.Quantity):
        if not value.unit.is_equivalent(u.s):
            raise u.UnitConversionError(f"argument {argname!r}: {value.unit} is not a time unit")
        return np.atleast_1d(value).astype(float)
    return u.Quantity(np.atleast_1d(np.asarray(value, dtype=float)), unit)


class TimeMapAxis:
    """Axis of (possibly non-contiguous) time intervals.

    Parameters
    ----------
    edges_min, edges_max : `~astropy.units.Quantity`
        Interval starts / stops relative to ``reference_time`` (time unit).
    reference_time : `~astropy.time.Time`
        Reference time.
    name : str
        Axis name.
    interp : str
        Scale (only "lin").

    Notes
    -----
    A time ``t`` belongs to interval ``i`` when ``time_min[i] < t <= time_max[i]``.
    """

    node_type = "intervals"

    def __init__(self, edges_min, edges_max, reference_time, name="time", interp="lin"):
        edges_min = _as_time_quantity(edges_min, "d", "edges_min")
        edges_max = _as_time_quantity(edges_max, edges_min.unit, "edges_max").to(edges_min.unit)
        if edges_min.ndim != 1 or edges_min.shape != edges_max.shape or edges_min.size == 0:
            raise ValueError(
                f"arguments 'edges_min', 'edges_max': need equal non-empty 1D shapes, got "
                f"{edges_min.shape} and {edges_max.shape}"
            )
        if not (np.all(np.isfinite(edges_min)) and np.all(np.isfinite(edges_max))):
            raise ValueError("arguments 'edges_min', 'edges_max': non-finite values")
        if np.any(edges_max <= edges_min):
            bad = int(np.argmax(edges_max <= edges_min))
            raise ValueError(
                f"arguments 'edges_min', 'edges_max': interval {bad} has stop <= start "
                f"({edges_min[bad]} >= {edges_max[bad]})"
            )
        if np.any(edges_min[1:] < edges_max[:-1]):
            raise ValueError("arguments 'edges_min', 'edges_max': intervals must be sorted and "
                             "must not overlap")
        if interp != "lin":
            raise ValueError(f"argument 'interp': time axes support only 'lin', got {interp!r}")
        self._edges_min = edges_min
        self._edges_max = edges_max
        self._reference_time = _as_time(reference_time, "reference_time")
        self._name = str(name)
        self._interp = interp

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return self._name

    @property
    def interp(self) -> str:
        return self._interp

    @property
    def unit(self) -> u.UnitBase:
        return self._edges_min.unit

    @property
    def reference_time(self) -> Time:
        """Reference time."""
        return self._reference_time

    @property
    def nbin(self) -> int:
        return int(self._edges_min.size)

    @property
    def edges_min(self) -> u.Quantity:
        return self._edges_min.copy()

    @property
    def edges_max(self) -> u.Quantity:
        return self._edges_max.copy()

    @property
    def is_contiguous(self) -> bool:
        """Whether each interval starts where the previous one stops."""
        return bool(np.allclose(self._edges_min[1:].value, self._edges_max[:-1].value,
                                rtol=0, atol=1e-12 * max(1.0, abs(self._edges_max.value).max())))

    @property
    def edges(self) -> u.Quantity:
        """Edges (contiguous axes only)."""
        if not self.is_contiguous:
            raise ValueError(f"time axis {self._name!r} is not contiguous: edges undefined")
        return u.Quantity(np.append(self._edges_min.value, self._edges_max.value[-1]), self.unit)

    @property
    def bounds(self) -> u.Quantity:
        return u.Quantity([self._edges_min.value[0], self._edges_max.value[-1]], self.unit)

    @property
    def time_delta(self) -> u.Quantity:
        """Interval durations."""
        return self._edges_max - self._edges_min

    @property
    def bin_width(self) -> u.Quantity:
        return self.time_delta

    @property
    def center(self) -> u.Quantity:
        """Interval mid points relative to the reference time."""
        return self._edges_min + 0.5 * self.time_delta

    @property
    def time_min(self) -> Time:
        return self._reference_time + self._edges_min

    @property
    def time_max(self) -> Time:
        return self._reference_time + self._edges_max

    @property
    def time_mid(self) -> Time:
        return self._reference_time + self.center

    @property
    def time_bounds(self) -> Time:
        return self._reference_time + self.bounds

    @property
    def is_energy_axis(self) -> bool:
        return False

    @property
    def as_plot_center(self) -> Time:
        return self.time_mid

    @property
    def as_plot_xerr(self) -> tuple[u.Quantity, u.Quantity]:
        half = 0.5 * self.time_delta
        return half, half

    def iter_by_edges(self):
        yield from zip(self.time_min, self.time_max, strict=True)

    # ------------------------------------------------------------------ transformations
    def _relative(self, coord) -> np.ndarray:
        if isinstance(coord, Time):
            return (coord - self._reference_time).to_value(self.unit)
        if isinstance(coord, u.Quantity):
            return coord.to_value(self.unit)
        return np.asarray(coord, dtype=float)

    def coord_to_idx(self, coord, clip: bool = False) -> np.ndarray:
        """Times (`~astropy.time.Time` or Quantity relative to the reference) to indices."""
        t = np.asarray(self._relative(coord), dtype=float)
        emin, emax = self._edges_min.value, self._edges_max.value
        idx = np.clip(np.searchsorted(emax, t, side="left"), 0, self.nbin - 1)
        inside = (t > emin[idx]) & (t <= emax[idx])
        if clip:
            idx = np.where(t <= emin[0], 0, idx)
            idx = np.where(t > emax[-1], self.nbin - 1, idx)
            gap = ~inside & (t > emin[0]) & (t <= emax[-1])
            return np.where(gap | np.isnan(t), -1, idx).astype(int)
        return np.where(inside, idx, -1).astype(int)

    def coord_to_pix(self, coord) -> np.ndarray:
        """Times to pixel coordinates (linear inside each interval; NaN outside)."""
        t = np.asarray(self._relative(coord), dtype=float)
        idx = self.coord_to_idx(t)
        safe = np.clip(idx, 0, None)
        emin, delta = self._edges_min.value[safe], self.time_delta.value[safe]
        pix = safe - 0.5 + (t - emin) / delta
        return np.where(idx >= 0, pix, np.nan)

    def pix_to_idx(self, pix, clip: bool = False) -> np.ndarray:
        pix = np.asarray(pix, dtype=float)
        with np.errstate(invalid="ignore"):
            idx = np.floor(pix + 0.5)
            if clip:
                idx = np.clip(idx, 0, self.nbin - 1)
            else:
                idx = np.where((idx < 0) | (idx > self.nbin - 1), -1, idx)
        return np.where(np.isfinite(idx), idx, -1).astype(int)

    def pix_to_coord(self, pix) -> Time:
        """Pixel coordinates to times (linear inside each interval)."""
        pix = np.asarray(pix, dtype=float)
        idx = self.pix_to_idx(pix, clip=True)
        rel = self._edges_min.value[idx] + (pix - idx + 0.5) * self.time_delta.value[idx]
        return self._reference_time + u.Quantity(rel, self.unit)

    # ------------------------------------------------------------------ derived axes
    def copy(self, **kwargs) -> TimeMapAxis:
        params = {"edges_min": self._edges_min, "edges_max": self._edges_max,
                  "reference_time": self._reference_time, "name": self._name,
                  "interp": self._interp}
        params.update(kwargs)
        return TimeMapAxis(**params)

    def rename(self, new_name: str) -> TimeMapAxis:
        return self.copy(name=new_name)

    def slice(self, idx) -> TimeMapAxis:
        if isinstance(idx, int | np.integer):
            idx = slice(int(idx), int(idx) + 1 if int(idx) != -1 else None)
        return self.copy(edges_min=self._edges_min[idx], edges_max=self._edges_max[idx])

    def squash(self) -> TimeMapAxis:
        """One interval from the first start to the last stop."""
        return self.copy(edges_min=self._edges_min[:1], edges_max=self._edges_max[-1:])

    def upsample(self, factor: int):
        raise ValueError(f"time axis {self._name!r} cannot be upsampled")

    def downsample(self, factor: int, strict: bool = True):
        raise ValueError(f"time axis {self._name!r} cannot be downsampled")

    def pad(self, pad_width):
        raise ValueError(f"time axis {self._name!r} cannot be padded")

    @classmethod
    def from_stack(cls, axes: Sequence[TimeMapAxis]) -> TimeMapAxis:
        """Concatenate time axes (converted to the first axis' reference)."""
        first = axes[0]
        tmin = Time(np.concatenate([ax.time_min.tt.mjd for ax in axes]), format="mjd", scale="tt")
        tmax = Time(np.concatenate([ax.time_max.tt.mjd for ax in axes]), format="mjd", scale="tt")
        ref = first.reference_time
        return cls((tmin - ref).to(first.unit), (tmax - ref).to(first.unit), ref, name=first.name)

    def concatenate(self, axis: TimeMapAxis) -> TimeMapAxis:
        return self.from_stack([self, axis])

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_time_edges(cls, time_min, time_max, unit="d", interp="lin", name="time"):
        """Axis from interval start and stop times (reference: the first start)."""
        time_min = _as_time(time_min, "time_min")
        time_max = _as_time(time_max, "time_max")
        time_min = time_min.reshape(-1) if time_min.ndim else time_min.reshape(1)
        time_max = time_max.reshape(-1) if time_max.ndim else time_max.reshape(1)
        reference = Time(time_min[0].mjd, format="mjd", scale=time_min.scale)
        return cls((time_min - reference).to(unit), (time_max - reference).to(unit), reference,
                   name=name, interp=interp)

    @classmethod
    def from_time_bounds(cls, time_min, time_max, nbin, unit="d", name="time"):
        """``nbin`` contiguous equal intervals between two times."""
        nbin = int(nbin)
        if nbin < 1:
            raise ValueError(f"argument 'nbin': must be >= 1, got {nbin}")
        time_min = _as_time(time_min, "time_min")
        time_max = _as_time(time_max, "time_max")
        total = (time_max - time_min).to_value(unit)
        if not total > 0:
            raise ValueError("arguments 'time_min', 'time_max': need time_min < time_max")
        edges = np.linspace(0.0, total, nbin + 1)
        return cls(u.Quantity(edges[:-1], unit), u.Quantity(edges[1:], unit), time_min, name=name)

    @classmethod
    def from_gti(cls, gti, name="time"):
        """Axis with one interval per good time interval.

        ``gti`` is an object with ``time_start`` / ``time_stop`` (`~astropy.time.Time`)
        or a GTI `~astropy.table.Table` (``START``/``STOP`` seconds, ``MJDREFI/F`` meta).
        """
        if hasattr(gti, "time_start") and hasattr(gti, "time_stop"):
            start, stop = gti.time_start, gti.time_stop
        elif isinstance(gti, Table):
            meta = {str(k).upper(): v for k, v in gti.meta.items()}
            ref_mjd = float(meta.get("MJDREFI", 0)) + float(meta.get("MJDREFF", 0.0))
            scale = str(meta.get("TIMESYS", "tt")).lower()
            tunit = gti["START"].unit or u.s
            start = _time_from_reference(ref_mjd, u.Quantity(np.asarray(gti["START"], float),
                                                             tunit), scale)
            stop = _time_from_reference(ref_mjd, u.Quantity(np.asarray(gti["STOP"], float),
                                                            tunit), scale)
        else:
            raise TypeError(f"argument 'gti': expected a GTI or a Table, got {type(gti).__name__}")
        order = np.argsort(start.mjd)
        return cls.from_time_edges(start[order], stop[order], name=name)

    # ------------------------------------------------------------------ table I/O
    def to_table(self, format: str = "gadf") -> Table:
        """Table with ``TIME_MIN``/``TIME_MAX`` (MJD) or ``time_min``/``time_max`` columns.

        Formats: "gadf" (BANDS-style, MJD with ``MJDREFI=0``) and "lightcurve".
        """
        if format == "gadf":
            from ._axes import MapAxes

            return MapAxes([self]).to_table(format="gadf")
        if format == "lightcurve":
            table = Table()
            table["time_min"] = self.time_min.mjd
            table["time_max"] = self.time_max.mjd
            table.meta.update(TIMESYS=self._reference_time.scale, TIMEUNIT="d", MJDREFI=0,
                              MJDREFF=0.0)
            return table
        raise ValueError(f"argument 'format': unknown value {format!r}, allowed: gadf, lightcurve")

    @classmethod
    def from_table(cls, table: Table, format: str = "gadf", idx: int = 0, column_names=None):
        """Read a time axis ("gadf" BANDS-style or "lightcurve" table)."""
        meta = {str(k).upper(): v for k, v in table.meta.items()}
        if format == "gadf":
            names = column_names or ["TIME_MIN", "TIME_MAX"]
        elif format == "lightcurve":
            names = column_names or ["time_min", "time_max"]
        else:
            raise ValueError(f"argument 'format': unknown value {format!r}, allowed: gadf, "
                             "lightcurve")
        for col in names:
            if col not in table.colnames:
                raise FITSFormatError(f"time axis table: missing column {col!r}")
        ref_mjd = float(meta.get("MJDREFI", 0)) + float(meta.get("MJDREFF", 0.0))
        scale = str(meta.get("TIMESYS", "tt")).lower()
        unit = table[names[0]].unit or u.Unit(str(meta.get("TIMEUNIT", "d")))
        lo = np.asarray(table[names[0]], dtype=float)
        hi = np.asarray(table[names[1]], dtype=float)
        if len(lo) > 1:  # BANDS tables repeat values for other axes
            pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
            lo, hi = pairs[:, 0], pairs[:, 1]
        tmin = _time_from_reference(ref_mjd, u.Quantity(lo, unit), scale)
        tmax = _time_from_reference(ref_mjd, u.Quantity(hi, unit), scale)
        return cls.from_time_edges(tmin, tmax, name="time")

    # ------------------------------------------------------------------ comparison
    def is_allclose(self, other, atol: u.Quantity = 1e-6 * u.s, **kwargs) -> bool:
        if not isinstance(other, TimeMapAxis) or other.nbin != self.nbin:
            return False
        tol = u.Quantity(atol).to_value(u.s)
        d_min = (self.time_min - other.time_min).to_value(u.s)
        d_max = (self.time_max - other.time_max).to_value(u.s)
        return bool(np.all(np.abs(d_min) <= tol) and np.all(np.abs(d_max) <= tol)
                    and self._name == other.name)

    def __eq__(self, other) -> bool:
        if not isinstance(other, TimeMapAxis):
            return NotImplemented
        return self.is_allclose(other)

    __hash__ = object.__hash__

    def __len__(self) -> int:
        return self.nbin

    def __repr__(self) -> str:
        return (f"TimeMapAxis(name={self._name!r}, nbin={self.nbin}, "
                f"reference_time={self._reference_time.iso} {self._reference_time.scale})")
