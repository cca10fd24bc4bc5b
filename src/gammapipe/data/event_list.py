"""Event lists (GADF ``EVENTS`` HDU): reconstructed time, direction and energy per event.

Times: the ``TIME`` column holds mission elapsed time (MET) in seconds since the reference
time ``MJDREFI + MJDREFF`` of the header, in the time scale ``TIMESYS`` (TT for H.E.S.S. and
CTA files; `EventList.time` returns `~astropy.time.Time` in that scale).
"""

from __future__ import annotations

import copy as _copy
import os
import warnings
from collections.abc import Iterable, Iterator

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.time import Time

from ..utils.coordinates import angular_separation_deg, center_lonlat_deg
from ..utils.errors import FITSFormatError, UnitError
from ..utils.fits import make_path, read_hdu, require_columns, table_from_hdu, write_hdulist
from ..utils.units import to_quantity
from .metadata import (
    clean_meta,
    earth_location_from_dict,
    header_to_meta,
    met_to_time,
    time_ref_from_dict,
    to_time,
)

__all__ = ["EventList"]

REQUIRED_COLUMNS = ("TIME", "RA", "DEC", "ENERGY")
_COLUMN_UNITS = {"TIME": u.s, "RA": u.deg, "DEC": u.deg, "ENERGY": u.TeV}


def _check_units(table: Table, where: str) -> None:
    """Check / fix the units of the GADF mandatory columns, in place."""
    for name, unit in _COLUMN_UNITS.items():
        column = table[name]
        if column.unit is None or column.unit == u.dimensionless_unscaled:
            if name == "ENERGY":
                eunit = table.meta.get("EUNIT")
                if not eunit:
                    raise UnitError(f"{where}: column ENERGY has no unit (no TUNIT, no EUNIT)")
                try:
                    column.unit = u.Unit(str(eunit))
                except ValueError as exc:
                    raise UnitError(f"{where}: column ENERGY: bad EUNIT {eunit!r}") from exc
            else:
                warnings.warn(f"{where}: column {name} has no unit; assuming {unit} (GADF)")
                column.unit = unit
        if not column.unit.is_equivalent(unit):
            raise UnitError(f"{where}: column {name} has unit {column.unit}, expected {unit}")


class EventList:
    """Event list.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Event table with at least ``TIME`` (MET s), ``RA``, ``DEC`` (deg) and ``ENERGY``.
    meta : dict, optional
        Header keywords (default ``table.meta``).
    """

    def __init__(self, table: Table, meta: dict | None = None):
        if not isinstance(table, Table):
            table = Table(table)
        self.table = table
        if meta is not None:
            self.table.meta = dict(meta)
        self.table.meta = dict(self.table.meta)

    @property
    def meta(self) -> dict:
        """Header keywords (the table meta)."""
        return self.table.meta

    # ------------------------------------------------------------------ I/O
    @classmethod
    def read(cls, filename: str | os.PathLike, hdu: str | int = "EVENTS", checksum=False,
             format: str = "gadf") -> EventList:
        """Read an ``EVENTS`` HDU.

        Raises
        ------
        MissingFileError, MissingHDUError, FITSFormatError, UnitError
            Naming the file, HDU and the problem (missing column, bad unit).
        """
        if format != "gadf":
            raise ValueError(f"EventList.read: unsupported format {format!r}")
        filename = make_path(filename)
        return cls.from_hdu(read_hdu(filename, hdu), where=f"{filename} [HDU {hdu}]")

    @classmethod
    def from_hdu(cls, hdu: fits.BinTableHDU, where: str = "EVENTS HDU") -> EventList:
        """Event list from an ``EVENTS`` table HDU (columns and units checked)."""
        if not isinstance(hdu, fits.BinTableHDU):
            raise FITSFormatError(f"{where}: expected a binary table, got {type(hdu).__name__}")
        return cls.from_table(table_from_hdu(hdu, where=where), header=hdu.header, where=where)

    @classmethod
    def from_table(cls, table: Table, header=None, meta: dict | None = None,
                   where: str = "EVENTS table") -> EventList:
        """Event list from a table read from an ``EVENTS`` HDU (columns and units checked).

        ``header`` (a FITS header, converted with the card comments that carry units such as
        ``ALTITUDE [km]``) or ``meta`` (a dict) replaces ``table.meta`` when given.
        """
        if header is not None:
            table.meta = header_to_meta(header)
        elif meta is not None:
            table.meta = dict(meta)
        require_columns(table, REQUIRED_COLUMNS, where=where)
        _check_units(table, where)
        return cls(table)

    def to_table_hdu(self, format: str = "gadf") -> fits.BinTableHDU:
        """GADF ``EVENTS`` binary table HDU."""
        if format != "gadf":
            raise ValueError(f"EventList.to_table_hdu: unsupported format {format!r}")
        table = self.table.copy(copy_data=False)
        table.meta = clean_meta(self.table.meta)
        table.meta.setdefault("HDUCLASS", "GADF")
        table.meta.setdefault("HDUDOC",
                              "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats")
        table.meta.setdefault("HDUVERS", "0.3")
        table.meta["HDUCLAS1"] = "EVENTS"
        hdu = fits.table_to_hdu(table)
        hdu.name = "EVENTS"
        return hdu

    def write(self, filename: str | os.PathLike, gti=None, overwrite: bool = False,
              format: str = "gadf", checksum: bool = False) -> None:
        """Write to a FITS file (primary, ``EVENTS`` and optionally ``GTI``), atomically."""
        hdus = [fits.PrimaryHDU(), self.to_table_hdu(format=format)]
        if gti is not None:
            hdus.append(gti.to_table_hdu())
        hdulist = fits.HDUList(hdus)
        if checksum:
            for hdu in hdulist:
                hdu.add_checksum()
        write_hdulist(hdulist, filename, overwrite=overwrite)

    def copy(self) -> EventList:
        """Deep copy."""
        return _copy.deepcopy(self)

    def __len__(self) -> int:
        return len(self.table)

    def __str__(self) -> str:
        n = len(self)
        lines = [
            "EventList",
            "---------",
            "",
            f"  Instrument       : {self.meta.get('INSTRUME', 'unknown')}",
            f"  Telescope        : {self.meta.get('TELESCOP', 'unknown')}",
            f"  Obs. ID          : {self.meta.get('OBS_ID', 'unknown')}",
            "",
            f"  Number of events : {n}",
        ]
        if n and "ONTIME" in self.meta:
            lines.append(f"  Event rate       : {n / float(self.meta['ONTIME']):.3f} 1 / s")
        if n:
            energy = self.energy
            lines += [
                "",
                f"  Time start       : {self.table['TIME'].min()} s MET",
                f"  Time stop        : {self.table['TIME'].max()} s MET",
                f"  Min. energy      : {energy.min():.2e}",
                f"  Max. energy      : {energy.max():.2e}",
                f"  Median energy    : {np.median(energy):.2e}",
            ]
            if self.is_pointed_observation:
                offset = self.offset.deg
                lines.append(f"  Max. offset      : {offset.max():.1f} deg")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ columns as quantities
    def _column(self, name: str) -> u.Quantity:
        if name not in self.table.colnames:
            raise FITSFormatError(f"EventList: no column {name!r} (have {self.table.colnames})")
        column = self.table[name]
        if isinstance(column, u.Quantity):
            return column
        unit = column.unit if column.unit is not None else _COLUMN_UNITS.get(name, u.one)
        return u.Quantity(np.asarray(column), unit, copy=False)

    @property
    def energy(self) -> u.Quantity:
        """Reconstructed energies (Quantity, TeV)."""
        return self._column("ENERGY").to(u.TeV)

    def _radec_deg(self) -> tuple[np.ndarray, np.ndarray]:
        ra = self._column("RA").to_value(u.deg)
        dec = self._column("DEC").to_value(u.deg)
        return np.asarray(ra, float), np.asarray(dec, float)

    @property
    def radec(self) -> SkyCoord:
        """Event directions in ICRS (`~astropy.coordinates.SkyCoord`)."""
        ra, dec = self._radec_deg()
        return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")

    @property
    def galactic(self) -> SkyCoord:
        """Event directions in galactic coordinates (one vectorised transformation)."""
        return self.radec.galactic

    @property
    def galactic_median(self) -> SkyCoord:
        """Median galactic position of the events."""
        gal = self.galactic
        return SkyCoord(np.median(gal.l.wrap_at("180d")), np.median(gal.b), frame="galactic")

    @property
    def time_ref(self) -> Time:
        """MET reference time (``MJDREFI + MJDREFF``, scale ``TIMESYS``)."""
        return time_ref_from_dict(self.meta, where="EventList header")

    @property
    def time(self) -> Time:
        """Event times (`~astropy.time.Time`, scale ``TIMESYS``, default TT)."""
        return met_to_time(self._column("TIME").to_value(u.s), self.time_ref)

    def _meta_time(self, key: str) -> Time:
        if key not in self.meta:
            raise FITSFormatError(f"EventList header has no {key} keyword")
        return met_to_time(float(self.meta[key]), self.time_ref)

    @property
    def observation_time_start(self) -> Time:
        """Observation start (``TSTART`` keyword)."""
        return self._meta_time("TSTART")

    @property
    def observation_time_stop(self) -> Time:
        """Observation stop (``TSTOP`` keyword)."""
        return self._meta_time("TSTOP")

    @property
    def observation_time_duration(self) -> u.Quantity:
        """Observation duration including dead time (``ONTIME``, Quantity s)."""
        if "ONTIME" in self.meta:
            return float(self.meta["ONTIME"]) * u.s
        return (float(self.meta["TSTOP"]) - float(self.meta["TSTART"])) * u.s

    @property
    def observation_live_time_duration(self) -> u.Quantity:
        """Live time (``LIVETIME`` keyword, Quantity s)."""
        return float(self.meta["LIVETIME"]) * u.s

    @property
    def observation_dead_time_fraction(self) -> float:
        """Dead-time fraction ``1 - DEADC`` (``1 - LIVETIME / ONTIME`` without DEADC)."""
        if "DEADC" in self.meta:
            return 1.0 - float(self.meta["DEADC"])
        return 1.0 - float(self.meta["LIVETIME"]) / float(self.meta["ONTIME"])

    @property
    def observatory_earth_location(self):
        """Observatory location from the header (GEOLON/GEOLAT/ALTITUDE, ... or TELESCOP)."""
        return earth_location_from_dict(self.meta, where="EventList header")

    @property
    def is_pointed_observation(self) -> bool:
        """True if the header has a fixed pointing position (``RA_PNT``)."""
        return "RA_PNT" in self.meta

    @property
    def pointing_radec(self) -> SkyCoord:
        """Pointing position (``RA_PNT``, ``DEC_PNT``) in ICRS."""
        try:
            return SkyCoord(float(self.meta["RA_PNT"]), float(self.meta["DEC_PNT"]),
                            unit="deg", frame="icrs")
        except KeyError as exc:
            raise FITSFormatError("EventList header has no RA_PNT/DEC_PNT") from exc

    @property
    def offset(self) -> Angle:
        """Angular distance of each event from the pointing position."""
        return self.offset_from(self.pointing_radec)

    def offset_from(self, center: SkyCoord) -> Angle:
        """Angular distance of each event from ``center`` (vectorised, no per-event SkyCoord)."""
        center = center.icrs
        ra, dec = self._radec_deg()
        sep = angular_separation_deg(ra, dec, center.ra.deg, center.dec.deg)
        return Angle(sep, u.deg)

    # ------------------------------------------------------------------ selections
    def select_row_subset(self, row_specifier) -> EventList:
        """Events selected by a boolean mask, index array or slice."""
        return self.__class__(self.table[row_specifier], meta=self.meta)

    def select_mask(self, mask) -> EventList:
        """Events in the True pixels of a boolean sky (or sky x energy) mask map."""
        coords = {"skycoord": self.radec}
        names = list(getattr(mask.geom.axes, "names", []))
        for name in names:
            coords[name] = self.energy if name == "energy" else self._column(name.upper())
        values = mask.get_by_coord(coords)
        return self.select_row_subset(np.asarray(values, dtype=float) > 0)

    def select_energy(self, energy_range) -> EventList:
        """Events with ``energy_range[0] <= ENERGY < energy_range[1]``."""
        lo = to_quantity(energy_range[0], u.TeV, "energy_range").value
        hi = to_quantity(energy_range[1], u.TeV, "energy_range").value
        energy = self.energy.value
        return self.select_row_subset((energy >= lo) & (energy < hi))

    def select_time(self, time_interval) -> EventList:
        """Events with ``start <= time < stop`` (`~astropy.time.Time` pair)."""
        time_ref = self.time_ref
        met = []
        for t in time_interval:
            if isinstance(t, u.Quantity):
                met.append(t.to_value(u.s))
            else:
                met.append((to_time(t, "time_interval") - time_ref).to_value(u.s))
        seconds = self._column("TIME").to_value(u.s)
        return self.select_row_subset((seconds >= met[0]) & (seconds < met[1]))

    def select_offset(self, offset_band) -> EventList:
        """Events with ``offset_band[0] <= offset < offset_band[1]`` from the pointing."""
        lo = to_quantity(offset_band[0], u.deg, "offset_band").value
        hi = to_quantity(offset_band[1], u.deg, "offset_band").value
        offset = self.offset.deg
        return self.select_row_subset((offset >= lo) & (offset < hi))

    def select_parameter(self, parameter: str, band) -> EventList:
        """Events with ``band[0] <= table[parameter] < band[1]`` (units respected)."""
        if parameter not in self.table.colnames:
            raise KeyError(
                f"select_parameter: no column {parameter!r} (have {self.table.colnames})"
            )
        column = self.table[parameter]
        unit = column.unit if column.unit is not None else u.one
        values = np.asarray(column)
        lo = to_quantity(band[0], unit, "band").value
        hi = to_quantity(band[1], unit, "band").value
        return self.select_row_subset((values >= lo) & (values < hi))

    def select_region(self, regions, wcs=None) -> EventList:
        """Events inside any of ``regions``.

        Parameters
        ----------
        regions : str, `~regions.Region` or list of them
            Sky regions, pixel regions (``wcs`` required) or a DS9 region string.
        wcs : `~astropy.wcs.WCS`, optional
            WCS for the containment test. Circles are tested by angular distance; other sky
            regions use ``wcs`` or a local gnomonic projection centred on the region.
        """
        from ._regions import region_mask

        ra, dec = self._radec_deg()
        return self.select_row_subset(region_mask(regions, ra, dec, wcs=wcs))

    def select_rad_max(self, rad_max, position: SkyCoord) -> EventList:
        """Events within the energy-dependent ``RAD_MAX`` of ``position``."""
        offset = self.pointing_radec.separation(position)
        radius = rad_max.evaluate(method="nearest", energy=self.energy, offset=offset)
        sep = self.offset_from(position)
        return self.select_row_subset(sep.deg <= u.Quantity(radius).to_value(u.deg))

    # ------------------------------------------------------------------ stacking
    def stack(self, other: EventList) -> None:
        """Append the events of ``other`` in place (times converted to this reference)."""
        table = other.table
        try:
            shift = float((other.time_ref - self.time_ref).to_value(u.s))
        except FITSFormatError:
            shift = 0.0
        if shift != 0.0:
            table = table.copy()
            table["TIME"] = self._to_seconds(table["TIME"]) + shift
            table["TIME"].unit = u.s
        meta = self.table.meta
        self.table = vstack([self.table, table], metadata_conflicts="silent")
        self.table.meta = meta

    @staticmethod
    def _to_seconds(column) -> np.ndarray:
        unit = column.unit if column.unit is not None else u.s
        return (np.asarray(column, float) * unit).to_value(u.s)

    @classmethod
    def from_stack(cls, event_lists: Iterable[EventList], **kwargs) -> EventList:
        """Stack event lists (header of the first)."""
        event_lists = list(event_lists)
        if not event_lists:
            raise ValueError("EventList.from_stack: empty list")
        stacked = event_lists[0].copy()
        for other in event_lists[1:]:
            stacked.stack(other)
        return stacked

    # ------------------------------------------------------------------ misc
    def map_coord(self, geom):
        """Event coordinates for filling a map with ``geom`` (sky + non-spatial axes)."""
        from ..maps import MapCoord

        coords = {"skycoord": self.radec}
        columns = {name.upper(): name for name in self.table.colnames}
        for axis in geom.axes:
            if axis.name == "energy":
                coords["energy"] = self.energy
            else:
                key = columns.get(axis.name.upper())
                if key is None:
                    raise KeyError(f"map_coord: no event column for map axis {axis.name!r}")
                coords[axis.name] = self._column(key)
        return MapCoord.create(coords, frame=geom.frame)

    def check(self) -> Iterator[str]:
        """Yield problems found in the event list (columns, units, times, header)."""
        for name in REQUIRED_COLUMNS:
            if name not in self.table.colnames:
                yield f"missing column {name}"
        try:
            _check_units(self.table.copy(copy_data=False), "EventList")
        except (UnitError, KeyError) as exc:
            yield str(exc)
        try:
            self.time_ref  # noqa: B018
        except FITSFormatError as exc:
            yield str(exc)
        if "TIME" in self.table.colnames and "TSTART" in self.meta and "TSTOP" in self.meta:
            seconds = self._to_seconds(self.table["TIME"])
            # 1 s tolerance: some files (HESS DR1) store TSTART/TSTOP rounded to whole seconds
            tol = 1.0
            outside = ((seconds < float(self.meta["TSTART"]) - tol)
                       | (seconds > float(self.meta["TSTOP"]) + tol))
            if np.any(outside):
                yield f"{int(outside.sum())} event(s) outside TSTART..TSTOP (+-1 s)"
        if "ENERGY" in self.table.colnames and np.any(np.asarray(self.table["ENERGY"]) <= 0):
            yield "non-positive ENERGY values"

    # ------------------------------------------------------------------ plots
    def plot_energy(self, ax=None, **kwargs):
        """Histogram of the event energies (log axes); returns the axes."""
        from .plotting import plot_energy

        return plot_energy(self, ax=ax, **kwargs)

    def plot_offset2_distribution(self, ax=None, center=None, max_percentile=98, **kwargs):
        """Histogram of the squared offset from ``center`` (default the pointing)."""
        from .plotting import plot_offset2_distribution

        return plot_offset2_distribution(self, ax=ax, center=center,
                                         max_percentile=max_percentile, **kwargs)

    def plot_time(self, ax=None, **kwargs):
        """Event rate versus time; returns the axes."""
        from .plotting import plot_time

        return plot_time(self, ax=ax, **kwargs)

    def plot_energy_offset(self, ax=None, **kwargs):
        """2D histogram of energy versus offset; returns the axes."""
        from .plotting import plot_energy_offset

        return plot_energy_offset(self, ax=ax, **kwargs)

    def peek(self, allsky: bool = False):
        """Overview figure: counts image, energy, offset and time distributions."""
        from .plotting import peek_events

        return peek_events(self, allsky=allsky)

    def _center_deg(self) -> tuple[float, float]:
        if self.is_pointed_observation:
            return float(self.meta["RA_PNT"]), float(self.meta["DEC_PNT"])
        return center_lonlat_deg(*self._radec_deg())

