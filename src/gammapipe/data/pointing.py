"""Telescope pointing of an observation: fixed in RA/DEC (tracking) or fixed in ALT/AZ (drift)."""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time

from ..utils.errors import FITSFormatError
from .metadata import (
    earth_location_from_dict,
    header_to_meta,
    location_to_dict,
    met_to_time,
    time_ref_from_dict,
    to_time,
)

__all__ = ["PointingMode", "FixedPointingInfo"]


class PointingMode(enum.Enum):
    """Pointing mode of an observation.

    ``POINTING``: the telescopes track a fixed position in the sky (RA/DEC); wobble
    observations are pointing observations. ``DRIFT``: the telescopes stay at a fixed
    ALT/AZ position while the sky drifts through the field of view.
    """

    POINTING = enum.auto()
    DRIFT = enum.auto()

    @staticmethod
    def from_gadf_string(value: str | None) -> PointingMode:
        """Mode from the GADF ``OBS_MODE`` keyword.

        ``OBS_MODE`` is optional in GADF 0.2 and its values are not standardised; every value
        except ``"DRIFT"`` (``"POINTING"``, ``"WOBBLE"``, ``"ON"``, ...) means a tracking
        observation.
        """
        if value is not None and str(value).strip().upper() == "DRIFT":
            return PointingMode.DRIFT
        return PointingMode.POINTING


def _float_key(meta: Mapping, key: str, where: str) -> float | None:
    if key not in meta or meta[key] is None:
        return None
    try:
        value = float(meta[key])
    except (TypeError, ValueError) as exc:
        raise FITSFormatError(f"{where}: keyword {key}={meta[key]!r} is not a number") from exc
    return value if np.isfinite(value) else None


class FixedPointingInfo:
    """Fixed pointing of an observation.

    Parameters
    ----------
    mode : `PointingMode`, optional
        Pointing mode; default ``POINTING`` if ``fixed_icrs`` is given, else ``DRIFT``.
    fixed_icrs : `~astropy.coordinates.SkyCoord`, optional
        Tracked position (``POINTING`` mode).
    fixed_altaz : `~astropy.coordinates.SkyCoord` or `~astropy.coordinates.AltAz`, optional
        Fixed horizontal position (``DRIFT`` mode).
    location : `~astropy.coordinates.EarthLocation`, optional
        Observatory location (needed for ALT/AZ conversions).
    time_start, time_stop, time_ref : `~astropy.time.Time`, optional
        Observation start / stop and the MET reference time.
    legacy_altaz : `~astropy.coordinates.SkyCoord`, optional
        The ``ALT_PNT``/``AZ_PNT`` header values of a tracking observation (a run mean;
        informative only: `get_altaz` computes the horizontal position at the requested time).
    """

    def __init__(
        self,
        mode: PointingMode | None = None,
        fixed_icrs: SkyCoord | None = None,
        fixed_altaz: SkyCoord | None = None,
        location: EarthLocation | None = None,
        time_start: Time | None = None,
        time_stop: Time | None = None,
        time_ref: Time | None = None,
        legacy_altaz: SkyCoord | None = None,
    ):
        if mode is None:
            mode = PointingMode.POINTING if fixed_icrs is not None else PointingMode.DRIFT
        if isinstance(mode, str):
            mode = PointingMode.from_gadf_string(mode)
        if mode == PointingMode.POINTING and fixed_icrs is None:
            raise ValueError("FixedPointingInfo: mode POINTING requires fixed_icrs")
        if mode == PointingMode.DRIFT and fixed_altaz is None:
            raise ValueError("FixedPointingInfo: mode DRIFT requires fixed_altaz")
        self._mode = mode
        self._fixed_icrs = fixed_icrs.icrs if fixed_icrs is not None else None
        self._fixed_altaz = fixed_altaz
        self._location = location
        self._time_start = time_start
        self._time_stop = time_stop
        self._time_ref = time_ref
        self._legacy_altaz = legacy_altaz

    @classmethod
    def from_fits_header(cls, header, where: str = "EVENTS header") -> FixedPointingInfo:
        """Pointing from an EVENTS header (``OBS_MODE``, ``RA_PNT``/``DEC_PNT``,
        ``ALT_PNT``/``AZ_PNT``, ``TSTART``/``TSTOP``, location keywords).

        Raises
        ------
        FITSFormatError
            The keywords needed for the mode are missing.
        """
        meta = header_to_meta(header) if hasattr(header, "cards") else dict(header)
        mode = PointingMode.from_gadf_string(meta.get("OBS_MODE"))
        location = earth_location_from_dict(meta, where=where)
        try:
            time_ref = time_ref_from_dict(meta, where=where)
        except FITSFormatError:
            time_ref = None
        time_start = time_stop = None
        if time_ref is not None:
            tstart = _float_key(meta, "TSTART", where)
            tstop = _float_key(meta, "TSTOP", where)
            time_start = met_to_time(tstart, time_ref) if tstart is not None else None
            time_stop = met_to_time(tstop, time_ref) if tstop is not None else None
        ra, dec = _float_key(meta, "RA_PNT", where), _float_key(meta, "DEC_PNT", where)
        alt, az = _float_key(meta, "ALT_PNT", where), _float_key(meta, "AZ_PNT", where)
        altaz = None
        if alt is not None and az is not None:
            altaz = SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=AltAz(location=location))
        if mode == PointingMode.POINTING:
            if ra is None or dec is None:
                if altaz is None:
                    raise FITSFormatError(
                        f"{where}: pointing observation without RA_PNT/DEC_PNT (or ALT_PNT/AZ_PNT)"
                    )
                if time_start is None or location is None:
                    raise FITSFormatError(
                        f"{where}: RA_PNT/DEC_PNT missing; ALT_PNT/AZ_PNT cannot be converted "
                        "without TSTART/TSTOP, the time reference and the observatory location"
                    )
                warnings.warn(
                    f"{where}: RA_PNT/DEC_PNT missing; using ALT_PNT/AZ_PNT at the run middle"
                )
                tmid = time_start + 0.5 * (time_stop - time_start) if time_stop else time_start
                frame = AltAz(obstime=tmid, location=location)
                fixed_icrs = SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=frame).icrs
            else:
                fixed_icrs = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
            return cls(
                mode=mode, fixed_icrs=fixed_icrs, location=location, time_start=time_start,
                time_stop=time_stop, time_ref=time_ref, legacy_altaz=altaz,
            )
        if altaz is None:
            raise FITSFormatError(f"{where}: OBS_MODE DRIFT requires ALT_PNT and AZ_PNT")
        return cls(
            mode=mode, fixed_altaz=altaz, location=location, time_start=time_start,
            time_stop=time_stop, time_ref=time_ref,
        )

    def to_fits_header(self) -> dict:
        """Header keywords describing this pointing (``OBS_MODE``, ``RA_PNT``, ...)."""
        header = {"OBS_MODE": "POINTING" if self._mode == PointingMode.POINTING else "DRIFT"}
        if self._fixed_icrs is not None:
            header["RA_PNT"] = float(self._fixed_icrs.ra.deg)
            header["DEC_PNT"] = float(self._fixed_icrs.dec.deg)
        altaz = self._fixed_altaz if self._fixed_altaz is not None else self._legacy_altaz
        if altaz is not None:
            header["ALT_PNT"] = float(altaz.alt.deg)
            header["AZ_PNT"] = float(altaz.az.deg)
        header.update(location_to_dict(self._location))
        return header

    # ------------------------------------------------------------------ properties
    @property
    def mode(self) -> PointingMode:
        """Pointing mode."""
        return self._mode

    @property
    def fixed_icrs(self) -> SkyCoord | None:
        """Tracked ICRS position (None in DRIFT mode)."""
        return self._fixed_icrs

    @property
    def fixed_altaz(self) -> SkyCoord | None:
        """Fixed horizontal position (None in POINTING mode)."""
        return self._fixed_altaz

    @property
    def legacy_altaz(self) -> SkyCoord | None:
        """``ALT_PNT``/``AZ_PNT`` of the header of a tracking observation (run mean)."""
        return self._legacy_altaz

    @property
    def location(self) -> EarthLocation | None:
        """Observatory location."""
        return self._location

    @property
    def time_start(self) -> Time | None:
        """Observation start."""
        return self._time_start

    @property
    def time_stop(self) -> Time | None:
        """Observation stop."""
        return self._time_stop

    @property
    def time_ref(self) -> Time | None:
        """MET reference time."""
        return self._time_ref

    def __repr__(self) -> str:
        if self._mode == PointingMode.POINTING:
            pos = f"fixed_icrs=({self._fixed_icrs.ra.deg:.4f}, {self._fixed_icrs.dec.deg:.4f}) deg"
        else:
            pos = f"fixed_altaz=({self._fixed_altaz.alt.deg:.4f}, {self._fixed_altaz.az.deg:.4f})"
        return f"FixedPointingInfo(mode={self._mode.name}, {pos})"

    # ------------------------------------------------------------------ evaluation
    def _obstime(self, obstime) -> Time:
        if obstime is None:
            if self._time_start is None:
                raise ValueError("obstime is required (the pointing has no start/stop time)")
            if self._time_stop is None:
                return self._time_start
            return self._time_start + 0.5 * (self._time_stop - self._time_start)
        return to_time(obstime, "obstime")

    def _location_or_raise(self, location):
        location = location if location is not None else self._location
        if location is None:
            raise ValueError(
                "the observatory location is unknown (no GEOLON/GEOLAT, OBSGEO-* or known "
                "TELESCOP keyword); pass location="
            )
        return location

    def get_icrs(self, obstime=None, location: EarthLocation | None = None) -> SkyCoord:
        """Pointing position in ICRS at ``obstime``.

        For POINTING mode this is the fixed position (with the shape of ``obstime``); for
        DRIFT mode the fixed ALT/AZ is transformed at each time (one vectorised call).
        """
        obstime = self._obstime(obstime)
        if self._mode == PointingMode.POINTING:
            shape = np.shape(obstime)
            ra = np.broadcast_to(self._fixed_icrs.ra.deg, shape)
            dec = np.broadcast_to(self._fixed_icrs.dec.deg, shape)
            return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        location = self._location_or_raise(location)
        frame = AltAz(obstime=obstime, location=location)
        shape = np.shape(obstime)
        alt = np.broadcast_to(self._fixed_altaz.alt.deg, shape)
        az = np.broadcast_to(self._fixed_altaz.az.deg, shape)
        return SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=frame).icrs

    def get_altaz(self, obstime=None, location: EarthLocation | None = None) -> SkyCoord:
        """Pointing position in ALT/AZ at ``obstime`` (no refraction: pressure 0).

        Parameters
        ----------
        obstime : `~astropy.time.Time`, optional
            Time(s); default the middle of the observation.
        location : `~astropy.coordinates.EarthLocation`, optional
            Observatory location; default `location`.
        """
        obstime = self._obstime(obstime)
        location = self._location_or_raise(location)
        frame = AltAz(obstime=obstime, location=location)
        if self._mode == PointingMode.POINTING:
            return self._fixed_icrs.transform_to(frame)
        shape = np.shape(obstime)
        alt = np.broadcast_to(self._fixed_altaz.alt.deg, shape)
        az = np.broadcast_to(self._fixed_altaz.az.deg, shape)
        return SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=frame)
