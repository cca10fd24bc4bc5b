"""Observation index table (GADF ``OBS_INDEX``) and its selections."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Table
from astropy.time import Time

from ..utils.coordinates import angular_separation_deg
from ..utils.errors import FITSFormatError, UnitError
from ..utils.fits import make_path, require_columns
from .hdu_index import read_index_table
from .metadata import met_to_time, time_ref_from_dict, to_time

__all__ = ["ObservationTable"]

SELECTION_TYPES = ("sky_circle", "sky_box", "time_box", "par_box", "obs_id")


def _angle_deg(value, name: str) -> float:
    """Angle in deg from a Quantity, Angle, "5 deg" string or a number (deg)."""
    try:
        if isinstance(value, str):
            return float(Angle(value).deg)
        if isinstance(value, u.Quantity):
            return float(value.to_value(u.deg))
        return float(value)
    except (u.UnitsError, ValueError, TypeError) as exc:
        raise UnitError(f"selection parameter {name!r}: cannot read {value!r} as an angle") from exc


class ObservationTable(Table):
    """Observation index table (one row per observation).

    Standard columns: ``OBS_ID``, ``RA_PNT``, ``DEC_PNT`` (deg), optional ``GLON_PNT``,
    ``GLAT_PNT``, ``ALT_PNT``, ``AZ_PNT``, ``TSTART``/``TSTOP`` (MET s, with the time reference
    ``MJDREFI``/``MJDREFF``/``TIMESYS`` in ``meta``), ``ONTIME``, ``LIVETIME``, ``DEADC``, ...
    Selections return a new `ObservationTable` (possibly empty).
    """

    @classmethod
    def read(cls, filename: str | os.PathLike, hdu: str | int | None = None, **kwargs):
        """Read an observation index file."""
        filename = make_path(filename)
        table = read_index_table(filename, hdu if hdu is not None else 1)
        require_columns(table, ["OBS_ID"], where=f"{filename} [observation index]")
        return cls(table)

    # ------------------------------------------------------------------ derived quantities
    def _deg(self, name: str) -> np.ndarray:
        if name not in self.colnames:
            raise KeyError(f"observation table has no column {name!r}")
        column = self[name]
        unit = column.unit if column.unit not in (None, u.dimensionless_unscaled) else u.deg
        return (np.asarray(column, dtype=float) * unit).to_value(u.deg)

    @property
    def pointing_radec(self) -> SkyCoord:
        """Pointing positions (``RA_PNT``, ``DEC_PNT``) in ICRS."""
        return SkyCoord(self._deg("RA_PNT"), self._deg("DEC_PNT"), unit="deg", frame="icrs")

    @property
    def pointing_galactic(self) -> SkyCoord:
        """Pointing positions in galactic coordinates (``GLON_PNT``/``GLAT_PNT`` if present)."""
        if "GLON_PNT" in self.colnames and "GLAT_PNT" in self.colnames:
            return SkyCoord(self._deg("GLON_PNT"), self._deg("GLAT_PNT"), unit="deg",
                            frame="galactic")
        return self.pointing_radec.galactic

    @property
    def time_ref(self) -> Time:
        """MET reference time from the table header."""
        return time_ref_from_dict(self.meta, where="observation table")

    def _met(self, name: str) -> np.ndarray:
        if name not in self.colnames:
            raise KeyError(f"observation table has no column {name!r}")
        column = self[name]
        unit = column.unit if column.unit not in (None, u.dimensionless_unscaled) else u.s
        return (np.asarray(column, dtype=float) * unit).to_value(u.s)

    @property
    def time_start(self) -> Time:
        """Observation start times (``TSTART``)."""
        return met_to_time(self._met("TSTART"), self.time_ref)

    @property
    def time_stop(self) -> Time:
        """Observation stop times (``TSTOP``)."""
        return met_to_time(self._met("TSTOP"), self.time_ref)

    def summary(self) -> str:
        """Text summary (number of observations, pointing and time ranges, total times)."""
        lines = ["Observation table:", f"Number of observations: {len(self)}"]
        if len(self) == 0:
            return "\n".join(lines)
        obs_id = np.asarray(self["OBS_ID"])
        lines.append(f"OBS_ID range: {obs_id.min()} .. {obs_id.max()}")
        if "RA_PNT" in self.colnames:
            gal = self.pointing_galactic
            lines.append(f"RA_PNT range: {self._deg('RA_PNT').min():.3f} .. "
                         f"{self._deg('RA_PNT').max():.3f} deg")
            lines.append(f"DEC_PNT range: {self._deg('DEC_PNT').min():.3f} .. "
                         f"{self._deg('DEC_PNT').max():.3f} deg")
            lines.append(f"GLON range: {gal.l.wrap_at('180d').deg.min():.3f} .. "
                         f"{gal.l.wrap_at('180d').deg.max():.3f} deg")
            lines.append(f"GLAT range: {gal.b.deg.min():.3f} .. {gal.b.deg.max():.3f} deg")
        for name in ("ONTIME", "LIVETIME"):
            if name in self.colnames:
                lines.append(f"Total {name}: {self._met(name).sum() / 3600:.3f} h")
        if "ZEN_PNT" in self.colnames:
            zen = self._deg("ZEN_PNT")
            lines.append(f"ZEN_PNT mean: {np.nanmean(zen):.2f} deg")
        if "TSTART" in self.colnames and "TSTOP" in self.colnames:
            try:
                lines.append(f"Time start: {self.time_start.min().iso}")
                lines.append(f"Time stop: {self.time_stop.max().iso}")
            except FITSFormatError:
                pass
        return "\n".join(lines)

    # ------------------------------------------------------------------ selections
    def _apply(self, mask: np.ndarray, inverted: bool = False) -> ObservationTable:
        mask = np.asarray(mask, dtype=bool)
        return self[~mask if inverted else mask]

    def select_obs_id(self, obs_id) -> ObservationTable:
        """Rows of the given observation ID(s), in the requested order.

        Raises
        ------
        KeyError
            An ID is not in the table (the message lists the missing IDs).
        """
        requested = np.atleast_1d(np.asarray(obs_id, dtype=np.int64))
        ids = np.asarray(self["OBS_ID"], dtype=np.int64)
        position = {int(v): i for i, v in enumerate(ids.tolist())}
        missing = [int(v) for v in requested if int(v) not in position]
        if missing:
            raise KeyError(f"OBS_ID(s) not in the observation table: {missing}")
        return self[[position[int(v)] for v in requested]]

    def get_obs_idx(self, obs_id) -> np.ndarray:
        """Row indices of the given observation IDs."""
        ids = np.asarray(self["OBS_ID"], dtype=np.int64)
        position = {int(v): i for i, v in enumerate(ids.tolist())}
        requested = np.atleast_1d(np.asarray(obs_id, dtype=np.int64))
        try:
            return np.array([position[int(v)] for v in requested], dtype=int)
        except KeyError as exc:
            raise KeyError(f"OBS_ID {exc.args[0]} not in the observation table") from exc

    def select_range(self, column: str, value_range, inverted: bool = False) -> ObservationTable:
        """Rows with ``value_range[0] <= column < value_range[1]`` (units converted)."""
        if column not in self.colnames:
            raise KeyError(f"select_range: no column {column!r} (have {self.colnames})")
        values = self[column]
        unit = values.unit if values.unit is not None else u.one
        data = np.asarray(values, dtype=float)
        bounds = []
        for value in value_range:
            if isinstance(value, str):
                value = u.Quantity(value)
            if isinstance(value, u.Quantity):
                try:
                    value = value.to_value(unit)
                except u.UnitConversionError as exc:
                    raise UnitError(f"select_range: {value} not compatible with column "
                                    f"{column!r} unit {unit}") from exc
            bounds.append(float(value))
        return self._apply((data >= bounds[0]) & (data < bounds[1]), inverted)

    def select_sky_circle(self, center: SkyCoord, radius, inverted: bool = False,
                          border="0 deg") -> ObservationTable:
        """Observations pointed within ``radius + border`` of ``center``."""
        radius_deg = _angle_deg(radius, "radius") + _angle_deg(border, "border")
        frame = center.frame.name
        if frame == "galactic":
            gal = self.pointing_galactic
            lon, lat = gal.l.deg, gal.b.deg
            c_lon, c_lat = center.l.deg, center.b.deg
        else:
            icrs = center.icrs
            lon, lat = self._deg("RA_PNT"), self._deg("DEC_PNT")
            c_lon, c_lat = icrs.ra.deg, icrs.dec.deg
        sep = angular_separation_deg(lon, lat, c_lon, c_lat)
        return self._apply(sep < radius_deg, inverted)

    def select_sky_box(self, lon_lim, lat_lim, frame: str = "icrs", border="0 deg",
                       inverted: bool = False) -> ObservationTable:
        """Observations pointed in a longitude/latitude box (``lo - border <= x < hi + border``).

        Longitudes are wrapped at 180 deg when the lower limit is negative, else at 360 deg.
        """
        border_deg = _angle_deg(border, "border")
        lon_min, lon_max = (_angle_deg(v, "lon") for v in lon_lim)
        lat_min, lat_max = (_angle_deg(v, "lat") for v in lat_lim)
        if frame == "galactic":
            gal = self.pointing_galactic
            lon, lat = gal.l.deg, gal.b.deg
        elif frame == "icrs":
            lon, lat = self._deg("RA_PNT"), self._deg("DEC_PNT")
        else:
            raise ValueError(f"select_sky_box: invalid frame {frame!r} ('icrs' or 'galactic')")
        wrap = 180.0 if lon_min < 0 else 360.0
        lon = np.mod(lon - wrap, 360.0) + wrap - 360.0
        mask = (lon >= lon_min - border_deg) & (lon < lon_max + border_deg)
        mask &= (lat >= lat_min - border_deg) & (lat < lat_max + border_deg)
        return self._apply(mask, inverted)

    def select_time_range(self, time_range, partial_overlap: bool = False,
                          inverted: bool = False) -> ObservationTable:
        """Observations within ``time_range`` (``Time`` pair).

        Fully contained (``TSTART >= start`` and ``TSTOP <= stop``) by default; with
        ``partial_overlap=True`` any overlap counts.
        """
        t0, t1 = (to_time(t, "time_range") for t in time_range)
        time_ref = self.time_ref
        met0 = float((t0 - time_ref).to_value(u.s))
        met1 = float((t1 - time_ref).to_value(u.s))
        tstart, tstop = self._met("TSTART"), self._met("TSTOP")
        if partial_overlap:
            mask = (tstart < met1) & (tstop > met0)
        else:
            mask = (tstart >= met0) & (tstop <= met1)
        return self._apply(mask, inverted)

    def select_observations(self, selections: Mapping | Iterable[Mapping] | None = None):
        """Apply one selection dict or a list of them (in sequence).

        Selection types (key ``type``), all accepting ``inverted=False``:

        - ``sky_circle``: ``frame`` ("icrs" or "galactic"), ``lon``, ``lat``, ``radius``,
          ``border`` (added to the radius); pointing within the circle.
        - ``sky_box``: ``frame``, ``lon=(min, max)``, ``lat=(min, max)``, ``border``.
        - ``time_box``: ``time_range=(Time, Time)``, ``partial_overlap=False``.
        - ``par_box``: ``variable`` (column), ``value_range=(lo, hi)``: ``lo <= x < hi``.
        - ``obs_id``: ``obs_id`` (one or a list).

        Angles may be Quantities, "5 deg" strings or numbers in deg. A selection matching
        nothing returns an empty table.
        """
        if selections is None:
            return self.copy()
        if isinstance(selections, Mapping):
            selections = [selections]
        table = self
        for selection in selections:
            table = table._select_one(dict(selection))
        return table

    def _select_one(self, selection: dict) -> ObservationTable:
        kind = selection.pop("type", None)
        inverted = bool(selection.pop("inverted", False))
        if kind == "sky_circle":
            frame = selection.get("frame", "icrs")
            if frame not in ("icrs", "galactic"):
                raise ValueError(f"sky_circle: invalid frame {frame!r} ('icrs' or 'galactic')")
            try:
                lon = _angle_deg(selection["lon"], "lon")
                lat = _angle_deg(selection["lat"], "lat")
                radius = selection["radius"]
            except KeyError as exc:
                raise ValueError(f"sky_circle selection needs key {exc.args[0]!r}") from exc
            center = SkyCoord(lon, lat, unit="deg", frame=frame)
            return self.select_sky_circle(center, radius, inverted=inverted,
                                          border=selection.get("border", "0 deg"))
        if kind == "sky_box":
            try:
                lon, lat = selection["lon"], selection["lat"]
            except KeyError as exc:
                raise ValueError(f"sky_box selection needs key {exc.args[0]!r}") from exc
            return self.select_sky_box(lon, lat, frame=selection.get("frame", "icrs"),
                                       border=selection.get("border", "0 deg"),
                                       inverted=inverted)
        if kind == "time_box":
            if "time_range" not in selection:
                raise ValueError("time_box selection needs key 'time_range'")
            return self.select_time_range(selection["time_range"],
                                          partial_overlap=selection.get("partial_overlap", False),
                                          inverted=inverted)
        if kind == "par_box":
            try:
                variable, value_range = selection["variable"], selection["value_range"]
            except KeyError as exc:
                raise ValueError(f"par_box selection needs key {exc.args[0]!r}") from exc
            return self.select_range(variable, value_range, inverted=inverted)
        if kind == "obs_id":
            if "obs_id" not in selection:
                raise ValueError("obs_id selection needs key 'obs_id'")
            wanted = np.atleast_1d(np.asarray(selection["obs_id"], dtype=np.int64))
            mask = np.isin(np.asarray(self["OBS_ID"], dtype=np.int64), wanted)
            return self._apply(mask, inverted)
        raise ValueError(f"invalid selection type {kind!r}; valid: {list(SELECTION_TYPES)}")
