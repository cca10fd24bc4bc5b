"""Good time intervals (GADF / OGIP ``GTI`` table: START, STOP in MET seconds)."""

from __future__ import annotations

import copy as _copy
import os
from collections.abc import Iterable, Sequence

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from ..utils.errors import FITSFormatError
from ..utils.fits import make_path, read_hdu, require_columns, table_from_hdu, write_hdulist
from .metadata import clean_meta, met_to_time, time_ref_from_dict, time_ref_to_dict, to_time

__all__ = ["GTI"]

DEFAULT_REFERENCE_TIME = "2000-01-01 00:00:00"


def _as_met(values, time_ref: Time, name: str) -> np.ndarray:
    """MET seconds (float64 array) from Time, Quantity (time unit) or plain seconds."""
    if isinstance(values, Time):
        return np.atleast_1d((values - time_ref).to_value(u.s)).astype(float)
    if isinstance(values, u.Quantity):
        try:
            return np.atleast_1d(values.to_value(u.s)).astype(float)
        except u.UnitConversionError as exc:
            raise ValueError(f"{name}: expected a time quantity, got unit {values.unit}") from exc
    if isinstance(values, str) or (
        isinstance(values, Sequence) and values and isinstance(values[0], str | Time)
    ):
        return _as_met(to_time(values, name), time_ref, name)
    return np.atleast_1d(np.asarray(values, dtype=float))


def _column_met(column, time_ref: Time, name: str) -> np.ndarray:
    """MET seconds from a table column (Time, Quantity, Column with or without unit)."""
    if isinstance(column, Time | u.Quantity):
        return _as_met(column, time_ref, name)
    unit = getattr(column, "unit", None)
    if unit is not None and unit != u.dimensionless_unscaled:
        return _as_met(np.asarray(column, dtype=float) * unit, time_ref, name)
    return np.asarray(column, dtype=float)


def merge_intervals(start: np.ndarray, stop: np.ndarray, merge_equal: bool = True):
    """Merge overlapping intervals (vectorised).

    Parameters
    ----------
    start, stop : ndarray
        Interval bounds (any order).
    merge_equal : bool
        Also merge intervals that only touch (``start == previous stop``).

    Returns
    -------
    start, stop : ndarray
        Sorted, disjoint intervals.
    """
    if start.size == 0:
        return start.copy(), stop.copy()
    order = np.argsort(start, kind="stable")
    start, stop = start[order], stop[order]
    running_stop = np.maximum.accumulate(stop)
    previous = running_stop[:-1]
    new_group = start[1:] > previous if merge_equal else start[1:] >= previous
    first = np.concatenate([[True], new_group])
    group = np.cumsum(first) - 1
    n_group = group[-1] + 1
    merged_start = start[first]
    merged_stop = np.full(n_group, -np.inf)
    np.maximum.at(merged_stop, group, stop)
    return merged_start, merged_stop


class GTI:
    """Good time intervals.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Table with ``START`` and ``STOP`` columns: MET (seconds since the reference time,
        plain numbers or time Quantities) or `~astropy.time.Time` columns.
    reference_time : `~astropy.time.Time`, str or None
        Reference time of the MET values. Default: from the table meta (``MJDREFI``,
        ``MJDREFF``, ``TIMESYS``), else 2000-01-01 00:00:00 TT.

    Notes
    -----
    The intervals are stored as MET seconds (float64) relative to `time_ref`; `time_start` /
    `time_stop` convert them to `~astropy.time.Time` in the scale of the reference time
    (TT for GADF files unless ``TIMESYS`` says otherwise).
    """

    def __init__(self, table: Table, reference_time: Time | str | None = None):
        if not isinstance(table, Table):
            raise TypeError(f"GTI: expected an astropy Table, got {type(table).__name__}")
        require_columns(table, ["START", "STOP"], where="GTI table")
        meta = dict(table.meta)
        if reference_time is None:
            if "MJDREFI" in meta or "MJDREF" in meta:
                reference_time = time_ref_from_dict(meta, where="GTI table")
            else:
                reference_time = Time(DEFAULT_REFERENCE_TIME, scale="tt")
        self._time_ref = to_time(reference_time, "reference_time")
        start = _column_met(table["START"], self._time_ref, "START")
        stop = _column_met(table["STOP"], self._time_ref, "STOP")
        start, stop = np.atleast_1d(start).astype(float), np.atleast_1d(stop).astype(float)
        if start.shape != stop.shape:
            raise ValueError(f"GTI: START {start.shape} and STOP {stop.shape} differ in shape")
        if np.any(stop < start):
            bad = int(np.argmax(stop < start))
            raise ValueError(f"GTI: row {bad} has STOP {stop[bad]} < START {start[bad]}")
        self._start = start
        self._stop = stop
        self.meta = {k: v for k, v in clean_meta(meta).items()
                     if k not in ("MJDREFI", "MJDREFF", "MJDREF", "TIMESYS", "TIMEUNIT")}

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, start, stop, reference_time: Time | str = DEFAULT_REFERENCE_TIME) -> GTI:
        """Create from interval bounds.

        Parameters
        ----------
        start, stop : `~astropy.units.Quantity`, `~astropy.time.Time` or float
            Interval bounds: times, or durations since ``reference_time`` (plain numbers are
            seconds).
        reference_time : `~astropy.time.Time` or str
            Reference time (default 2000-01-01 00:00:00; a string is taken as TT).
        """
        time_ref = (reference_time if isinstance(reference_time, Time)
                    else Time(reference_time, scale="tt"))
        met_start = _as_met(start, time_ref, "start")
        met_stop = _as_met(stop, time_ref, "stop")
        table = Table({"START": met_start * u.s, "STOP": met_stop * u.s})
        return cls(table, reference_time=time_ref)

    @classmethod
    def from_time_intervals(cls, time_intervals: Iterable, reference_time=None) -> GTI:
        """Create from a list of ``(Time start, Time stop)`` pairs.

        The reference time defaults to 2000-01-01 00:00:00 TT.
        """
        pairs = list(time_intervals)
        if not pairs:
            raise ValueError("from_time_intervals: no time intervals given")
        starts = Time([to_time(p[0], "start") for p in pairs])
        stops = Time([to_time(p[1], "stop") for p in pairs])
        if reference_time is None:
            reference_time = Time(DEFAULT_REFERENCE_TIME, scale="tt")
        return cls.create(starts, stops, reference_time=reference_time)

    @classmethod
    def read(cls, filename: str | os.PathLike, hdu: str | int = "GTI", format: str = "gadf"):
        """Read a GTI table HDU (``START``, ``STOP`` in MET seconds)."""
        if format != "gadf":
            raise ValueError(f"GTI.read: unsupported format {format!r} (only 'gadf')")
        filename = make_path(filename)
        return cls.from_hdu(read_hdu(filename, hdu), where=f"{filename} [HDU {hdu}]")

    @classmethod
    def from_hdu(cls, hdu: fits.BinTableHDU, where: str = "GTI HDU") -> GTI:
        """GTI from a table HDU (``START``/``STOP`` in MET s, time reference in the header)."""
        if not isinstance(hdu, fits.BinTableHDU):
            raise FITSFormatError(f"{where}: expected a binary table, got {type(hdu).__name__}")
        return cls.from_table(table_from_hdu(hdu, where=where), where=where)

    @classmethod
    def from_table(cls, table: Table, where: str = "GTI table") -> GTI:
        """GTI from a table read from a GTI HDU (units and time reference checked)."""
        require_columns(table, ["START", "STOP"], where=where)
        for name in ("START", "STOP"):
            unit = table[name].unit
            if unit is None or unit == u.dimensionless_unscaled:
                table[name].unit = u.s  # GADF: MET seconds; TIMEUNIT default is s
            elif not unit.is_equivalent(u.s):
                raise FITSFormatError(f"{where}: column {name} has unit {unit}, expected s")
        time_ref = time_ref_from_dict(table.meta, where=where)
        return cls(table, reference_time=time_ref)

    @classmethod
    def from_stack(cls, gtis: Iterable[GTI], **kwargs) -> GTI:
        """Stack several GTIs into one (reference time of the first)."""
        gtis = list(gtis)
        if not gtis:
            raise ValueError("GTI.from_stack: empty list")
        stacked = gtis[0].copy()
        for other in gtis[1:]:
            stacked.stack(other)
        return stacked

    def copy(self) -> GTI:
        """Deep copy."""
        return _copy.deepcopy(self)

    # ------------------------------------------------------------------ properties
    @property
    def table(self) -> Table:
        """Table with ``START``/``STOP`` in MET seconds and the time reference in ``meta``."""
        meta = dict(self.meta)
        meta.update(time_ref_to_dict(self._time_ref))
        return Table({"START": self._start * u.s, "STOP": self._stop * u.s}, meta=meta)

    def __len__(self) -> int:
        return self._start.size

    @property
    def time_ref(self) -> Time:
        """Reference time of the MET values."""
        return self._time_ref

    @property
    def met_start(self) -> u.Quantity:
        """Interval starts in MET seconds."""
        return self._start * u.s

    @property
    def met_stop(self) -> u.Quantity:
        """Interval stops in MET seconds."""
        return self._stop * u.s

    @property
    def time_start(self) -> Time:
        """Interval starts (`~astropy.time.Time`, scale of the reference time)."""
        return met_to_time(self._start, self._time_ref)

    @property
    def time_stop(self) -> Time:
        """Interval stops (`~astropy.time.Time`)."""
        return met_to_time(self._stop, self._time_ref)

    @property
    def time_delta(self) -> u.Quantity:
        """Interval durations (Quantity s)."""
        return (self._stop - self._start) * u.s

    @property
    def time_sum(self) -> u.Quantity:
        """Summed duration of all intervals (Quantity s)."""
        return float(np.sum(self._stop - self._start)) * u.s

    @property
    def time_intervals(self) -> list[tuple[Time, Time]]:
        """List of ``(start, stop)`` `~astropy.time.Time` pairs."""
        starts, stops = self.time_start, self.time_stop
        return [(starts[i], stops[i]) for i in range(len(self))]

    def __str__(self) -> str:
        if len(self) == 0:
            return "GTI info:\n- Number of GTIs: 0\n"
        start, stop = self.time_start, self.time_stop
        return (
            "GTI info:\n"
            f"- Number of GTIs: {len(self)}\n"
            f"- Duration: {self.time_sum}\n"
            f"- Start: {self._start[0]} s MET\n"
            f"- Start: {start[0].iso} ({start.scale.upper()})\n"
            f"- Stop: {self._stop[-1]} s MET\n"
            f"- Stop: {stop[-1].iso} ({stop.scale.upper()})\n"
        )

    def __repr__(self) -> str:
        return f"GTI(n_intervals={len(self)}, time_sum={self.time_sum:.6g})"

    # ------------------------------------------------------------------ operations
    def _interval_met(self, time_interval) -> tuple[float, float]:
        if len(time_interval) != 2:
            raise ValueError(f"time_interval must be a (start, stop) pair, got {time_interval!r}")
        tmin = _as_met(time_interval[0] if isinstance(time_interval[0], u.Quantity)
                       else to_time(time_interval[0], "time_interval"), self._time_ref,
                       "time_interval")[0]
        tmax = _as_met(time_interval[1] if isinstance(time_interval[1], u.Quantity)
                       else to_time(time_interval[1], "time_interval"), self._time_ref,
                       "time_interval")[0]
        return float(tmin), float(tmax)

    def select_time(self, time_interval) -> GTI:
        """Intervals overlapping ``time_interval``, clipped to it.

        Parameters
        ----------
        time_interval : (`~astropy.time.Time`, `~astropy.time.Time`)
            Start and stop time (Quantities are taken as MET).
        """
        tmin, tmax = self._interval_met(time_interval)
        keep = (self._stop > tmin) & (self._start < tmax)
        new = self.copy()
        new._start = np.clip(self._start[keep], tmin, tmax)
        new._stop = np.clip(self._stop[keep], tmin, tmax)
        return new

    def delete_interval(self, time_interval) -> GTI:
        """Remove a time interval, splitting intervals that contain it."""
        tmin, tmax = self._interval_met(time_interval)
        left_start, left_stop = self._start, np.minimum(self._stop, tmin)
        right_start, right_stop = np.maximum(self._start, tmax), self._stop
        start = np.concatenate([left_start, right_start])
        stop = np.concatenate([left_stop, right_stop])
        keep = stop > start
        order = np.argsort(start[keep], kind="stable")
        new = self.copy()
        new._start, new._stop = start[keep][order], stop[keep][order]
        return new

    def stack(self, other: GTI) -> None:
        """Append the intervals of ``other`` in place, converted to this reference time."""
        shift = float((other.time_ref - self._time_ref).to_value(u.s))
        self._start = np.concatenate([self._start, other._start + shift])
        self._stop = np.concatenate([self._stop, other._stop + shift])

    def union(self, overlap_ok: bool = True, merge_equal: bool = True) -> GTI:
        """Merge overlapping intervals into a sorted list of disjoint intervals.

        Parameters
        ----------
        overlap_ok : bool
            If False, raise `ValueError` when intervals overlap.
        merge_equal : bool
            Merge intervals that only touch (stop of one == start of the next).
        """
        order = np.argsort(self._start, kind="stable")
        start, stop = self._start[order], self._stop[order]
        if not overlap_ok and start.size > 1:
            overlap = start[1:] < np.maximum.accumulate(stop)[:-1]
            if np.any(overlap):
                raise ValueError("GTI.union: intervals overlap and overlap_ok=False")
        new = self.copy()
        new._start, new._stop = merge_intervals(start, stop, merge_equal=merge_equal)
        return new

    # ------------------------------------------------------------------ I/O
    def to_table_hdu(self, format: str = "gadf") -> fits.BinTableHDU:
        """GADF ``GTI`` binary table HDU."""
        if format != "gadf":
            raise ValueError(f"GTI.to_table_hdu: unsupported format {format!r}")
        header = fits.Header()
        for key, value in self.meta.items():
            if key not in ("HDUCLASS", "HDUCLAS1", "EXTNAME"):
                try:
                    header[key] = value
                except (ValueError, TypeError):
                    continue
        header.update(time_ref_to_dict(self._time_ref))
        header["HDUCLASS"] = "GADF"
        header["HDUDOC"] = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
        header["HDUVERS"] = "0.3"
        header["HDUCLAS1"] = "GTI"
        columns = [
            fits.Column("START", "D", unit="s", array=self._start),
            fits.Column("STOP", "D", unit="s", array=self._stop),
        ]
        return fits.BinTableHDU.from_columns(columns, header=header, name="GTI")

    def write(self, filename: str | os.PathLike, overwrite: bool = False, **kwargs) -> None:
        """Write to a FITS file (primary HDU + ``GTI``), atomically."""
        hdulist = fits.HDUList([fits.PrimaryHDU(), self.to_table_hdu()])
        write_hdulist(hdulist, filename, overwrite=overwrite)
