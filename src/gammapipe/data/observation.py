"""A single observation: events, GTI, pointing and IRFs, loaded lazily from their HDUs."""

from __future__ import annotations

import copy as _copy
import os
import warnings
from collections.abc import Iterator

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.io import fits
from astropy.time import Time

from ..utils.errors import FITSFormatError, GammapipeError
from ..utils.fits import write_hdulist
from .gti import GTI
from .hdu_index import HDULocation
from .loading import load_hdu, read_header
from .metadata import earth_location_from_dict, to_time
from .pointing import FixedPointingInfo

__all__ = ["Observation", "LazyHDU", "ObservationMeta"]

HDU_NAMES = ("events", "gti", "aeff", "edisp", "psf", "bkg", "rad_max")
IRF_NAMES = ("aeff", "edisp", "psf", "bkg", "rad_max")

_DEFAULT_REFERENCE_TIME = Time("2000-01-01 00:00:00")

# HDU extension names used by `Observation.write` (GADF conventions).
_WRITE_HDU_NAMES = {"aeff": "EFFECTIVE AREA", "edisp": "ENERGY DISPERSION",
                    "psf": "POINT SPREAD FUNCTION", "bkg": "BACKGROUND", "rad_max": "RAD_MAX"}


class ObservationMeta(dict):
    """Observation metadata: a dict whose keys are also readable as attributes
    (``meta["deadtime_fraction"]`` or ``meta.deadtime_fraction``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"observation metadata has no {name!r}") from None


class LazyHDU:
    """Explicit cache of one HDU: loads the object at ``location`` on first access.

    Copies of an observation share these holders, so an HDU is read at most once.
    """

    __slots__ = ("location", "_value", "_loaded")

    def __init__(self, location: HDULocation):
        self.location = location
        self._value = None
        self._loaded = False

    @property
    def value(self):
        """The loaded object (read on first access)."""
        if not self._loaded:
            self._value = load_hdu(self.location)
            self._loaded = True
        return self._value

    @property
    def is_loaded(self) -> bool:
        """True once the HDU has been read."""
        return self._loaded

    def __repr__(self) -> str:
        return f"LazyHDU({self.location}, loaded={self._loaded})"


class Observation:
    """In-memory or lazily loaded observation.

    Each of ``events``, ``gti``, ``aeff``, ``edisp``, ``psf``, ``bkg`` and ``rad_max`` may be
    the object itself or an `HDULocation`; a location is loaded on first access and cached.

    Parameters
    ----------
    obs_id : int, optional
        Observation ID.
    meta : dict, optional
        Observation metadata (default: derived from the events header).
    gti, events, aeff, edisp, psf, bkg, rad_max : object or `HDULocation`, optional
        Data and IRFs.
    pointing : `FixedPointingInfo` or `~astropy.coordinates.SkyCoord`, optional
        Pointing (default: from the events header).
    location : `~astropy.coordinates.EarthLocation`, optional
        Observatory location (default: from the events header).
    """

    def __init__(self, obs_id=None, meta=None, gti=None, aeff=None, edisp=None, psf=None,
                 bkg=None, rad_max=None, events=None, obs_filter=None, pointing=None,
                 location=None):
        self.obs_id = int(obs_id) if obs_id is not None else None
        sources = {"events": events, "gti": gti, "aeff": aeff, "edisp": edisp,
                   "psf": psf, "bkg": bkg, "rad_max": rad_max}
        self._sources = {name: LazyHDU(value) if isinstance(value, HDULocation) else value
                         for name, value in sources.items()}
        self._loaded: dict = {}
        self._meta = ObservationMeta(meta) if meta is not None else None
        self._header: dict | None = None
        if isinstance(pointing, SkyCoord):
            pointing = FixedPointingInfo(fixed_icrs=pointing.icrs, location=location)
        self._pointing = pointing
        self._location = location
        self.obs_filter = obs_filter

    # ------------------------------------------------------------------ lazy HDUs
    def _get(self, name: str):
        if name in self._loaded:
            return self._loaded[name]
        source = self._sources.get(name)
        value = source.value if isinstance(source, LazyHDU) else source
        if name == "gti" and value is None:
            value = self._gti_from_header()
        self._loaded[name] = value
        return value

    def _get_optional(self, name: str):
        """Like `_get` but returns None when loading fails (used by plots / checks)."""
        try:
            return self._get(name)
        except (GammapipeError, OSError, ValueError, KeyError, ImportError):
            return None

    def _set(self, name: str, value) -> None:
        self._sources[name] = value
        self._loaded.pop(name, None)

    def _gti_from_header(self) -> GTI | None:
        header = self._events_header()
        if not header or "TSTART" not in header or "TSTOP" not in header:
            return None
        from .metadata import time_ref_from_dict

        time_ref = time_ref_from_dict(header, where=f"obs {self.obs_id} EVENTS header")
        return GTI.create(float(header["TSTART"]) * u.s, float(header["TSTOP"]) * u.s,
                          reference_time=time_ref)

    events = property(lambda self: self._get("events"), lambda self, v: self._set("events", v),
                      doc="Event list (`EventList`).")
    gti = property(lambda self: self._get("gti"), lambda self, v: self._set("gti", v),
                   doc="Good time intervals (`GTI`; from TSTART/TSTOP when no GTI HDU).")
    aeff = property(lambda self: self._get("aeff"), lambda self, v: self._set("aeff", v),
                    doc="Effective area IRF (None if absent).")
    edisp = property(lambda self: self._get("edisp"), lambda self, v: self._set("edisp", v),
                     doc="Energy dispersion IRF (None if absent).")
    psf = property(lambda self: self._get("psf"), lambda self, v: self._set("psf", v),
                   doc="PSF IRF (None if absent).")
    bkg = property(lambda self: self._get("bkg"), lambda self, v: self._set("bkg", v),
                   doc="Background IRF (None if absent).")
    rad_max = property(lambda self: self._get("rad_max"), lambda self, v: self._set("rad_max", v),
                       doc="RAD_MAX IRF of point-like observations (None if absent).")

    @property
    def available_hdus(self) -> list[str]:
        """Names of the HDUs present (loaded or locatable)."""
        return [name for name in HDU_NAMES
                if self._sources.get(name) is not None or self._loaded.get(name) is not None]

    @property
    def available_irfs(self) -> list[str]:
        """Names of the IRFs present."""
        return [name for name in self.available_hdus if name in IRF_NAMES]

    # ------------------------------------------------------------------ header / meta
    def _events_header(self) -> dict:
        if self._header is not None:
            return self._header
        events = self._loaded.get("events")
        source = self._sources.get("events")
        if events is not None:
            self._header = dict(events.meta)
        elif isinstance(source, LazyHDU) and source.is_loaded:
            self._header = dict(source.value.meta) if source.value is not None else {}
        elif isinstance(source, LazyHDU):
            self._header = read_header(source.location.path(), source.location.hdu_name)
        elif source is not None:
            self._header = dict(source.meta)
        else:
            self._header = {}
        return self._header

    @property
    def meta(self) -> ObservationMeta:
        """Observation metadata from the events header.

        Keys: ``telescope``, ``instrument``, ``obs_mode``, ``deadtime_fraction``, ``ontime``
        and ``livetime`` (header ONTIME / LIVETIME, Quantity s, None if absent), ``location``,
        ``target_name``, ``target_position``, ``header`` / ``obs_info`` (all keywords).
        Keys are also readable as attributes (``obs.meta.deadtime_fraction``).
        """
        if self._meta is None:
            header = self._events_header()
            where = f"obs {self.obs_id} EVENTS header"
            target = None
            if "RA_OBJ" in header and "DEC_OBJ" in header:
                target = SkyCoord(float(header["RA_OBJ"]), float(header["DEC_OBJ"]),
                                  unit="deg", frame="icrs")
            if "DEADC" in header:
                deadtime = 1.0 - float(header["DEADC"])
            elif "LIVETIME" in header and header.get("ONTIME"):
                deadtime = 1.0 - float(header["LIVETIME"]) / float(header["ONTIME"])
            else:
                deadtime = 0.0
            self._meta = ObservationMeta({
                "telescope": header.get("TELESCOP"),
                "instrument": header.get("INSTRUME"),
                "obs_mode": header.get("OBS_MODE"),
                "deadtime_fraction": deadtime,
                "ontime": float(header["ONTIME"]) * u.s if "ONTIME" in header else None,
                "livetime": float(header["LIVETIME"]) * u.s if "LIVETIME" in header else None,
                "location": (self._location if self._location is not None
                             else earth_location_from_dict(header, where=where)),
                "target_name": header.get("OBJECT"),
                "target_position": target,
                "header": header,
                "obs_info": header,
            })
        return self._meta

    @property
    def obs_info(self) -> dict:
        """All keywords of the events header."""
        return self.meta.get("obs_info", self.meta.get("header", {}))

    @property
    def pointing(self) -> FixedPointingInfo:
        """Pointing information (from the events header unless given)."""
        if self._pointing is None:
            header = self._events_header()
            if not header:
                raise FITSFormatError(f"obs {self.obs_id}: no pointing and no events header")
            self._pointing = FixedPointingInfo.from_fits_header(
                header, where=f"obs {self.obs_id} EVENTS header")
        return self._pointing

    @property
    def fixed_pointing_info(self) -> FixedPointingInfo:
        """Alias of `pointing`."""
        return self.pointing

    @property
    def location(self) -> EarthLocation | None:
        """Observatory location."""
        return self._location if self._location is not None else self.meta.get("location")

    def get_pointing_icrs(self, time) -> SkyCoord:
        """Pointing position in ICRS at ``time``."""
        return self.pointing.get_icrs(time, location=self.location)

    def get_pointing_altaz(self, time) -> SkyCoord:
        """Pointing position in ALT/AZ at ``time`` (vectorised over times)."""
        return self.pointing.get_altaz(time, location=self.location)

    @property
    def pointing_radec(self) -> SkyCoord:
        """Fixed ICRS pointing (deprecated: use ``get_pointing_icrs(obs.tmid)``)."""
        warnings.warn("Observation.pointing_radec is deprecated; use get_pointing_icrs(tmid)",
                      DeprecationWarning, stacklevel=2)
        return self.get_pointing_icrs(self.tmid)

    @property
    def target_radec(self) -> SkyCoord:
        """Target position (``RA_OBJ``/``DEC_OBJ``; NaN coordinates if absent)."""
        target = self.meta.get("target_position")
        if target is None:
            return SkyCoord(np.nan, np.nan, unit="deg", frame="icrs")
        return target

    # ------------------------------------------------------------------ times
    @property
    def tstart(self) -> Time:
        """Start of the first good time interval."""
        return self.gti.time_start[0]

    @property
    def tstop(self) -> Time:
        """Stop of the last good time interval."""
        return self.gti.time_stop[-1]

    @property
    def tmid(self) -> Time:
        """Middle between `tstart` and `tstop`."""
        start = self.tstart
        return start + 0.5 * (self.tstop - start)

    @property
    def observation_time_duration(self) -> u.Quantity:
        """Observation time including dead time: the summed GTI duration (Quantity s)."""
        return self.gti.time_sum

    @property
    def observation_dead_time_fraction(self) -> float:
        """Dead-time fraction ``1 - DEADC``."""
        return float(self.meta.get("deadtime_fraction", 0.0))

    @property
    def observation_live_time_duration(self) -> u.Quantity:
        """Live time ``observation_time_duration * (1 - dead_time_fraction)`` (Quantity s).

        This is ``ONTIME * DEADC`` for single-interval runs; the header ``LIVETIME`` keyword
        (in ``meta["livetime"]``) agrees with it to the float32 precision of the keyword.
        """
        return self.observation_time_duration * (1.0 - self.observation_dead_time_fraction)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, pointing, livetime=None, tstart=None, tstop=None, irfs=None,
               deadtime_fraction: float = 0.0, reference_time=_DEFAULT_REFERENCE_TIME,
               obs_id: int = 0, location: EarthLocation | None = None) -> Observation:
        """Create an observation for simulations.

        Parameters
        ----------
        pointing : `~astropy.coordinates.SkyCoord` or `FixedPointingInfo`
            Pointing position.
        livetime : `~astropy.units.Quantity`, optional
            Observation duration (``tstop = tstart + livetime``).
        tstart, tstop : `~astropy.units.Quantity` or `~astropy.time.Time`, optional
            Start (default 0 s after ``reference_time``) and stop.
        irfs : dict, optional
            IRFs with keys among ``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``.
        deadtime_fraction : float
            Dead-time fraction (live time = duration x (1 - deadtime_fraction)).
        reference_time : `~astropy.time.Time`
            Reference time of the GTI.
        """
        irfs = dict(irfs or {})
        unknown = set(irfs) - set(IRF_NAMES)
        if unknown:
            raise ValueError(f"Observation.create: unknown IRF key(s) {sorted(unknown)}; "
                             f"valid: {list(IRF_NAMES)}")
        if not 0.0 <= float(deadtime_fraction) < 1.0:
            raise ValueError(f"deadtime_fraction must be in [0, 1), got {deadtime_fraction}")
        reference_time = to_time(reference_time, "reference_time")
        if tstart is None:
            tstart = 0.0 * u.s
        if tstop is None:
            if livetime is None:
                raise ValueError("Observation.create: give livetime or tstop")
            if isinstance(tstart, Time):
                tstop = tstart + u.Quantity(livetime)
            else:
                tstop = u.Quantity(tstart) + u.Quantity(livetime)
        gti = GTI.create(tstart, tstop, reference_time=reference_time)
        if isinstance(pointing, SkyCoord):
            pointing = FixedPointingInfo(fixed_icrs=pointing.icrs, location=location,
                                         time_start=gti.time_start[0],
                                         time_stop=gti.time_stop[-1], time_ref=reference_time)
        elif not isinstance(pointing, FixedPointingInfo):
            raise TypeError(f"pointing: expected SkyCoord or FixedPointingInfo, "
                            f"got {type(pointing).__name__}")
        meta = {"telescope": None, "instrument": None, "obs_mode": pointing.mode.name,
                "deadtime_fraction": float(deadtime_fraction),
                "ontime": gti.time_sum,
                "livetime": gti.time_sum * (1.0 - float(deadtime_fraction)),
                "location": location if location is not None else pointing.location,
                "target_name": None, "target_position": None, "header": {}, "obs_info": {}}
        return cls(obs_id=obs_id, meta=meta, gti=gti, pointing=pointing,
                   location=location if location is not None else pointing.location, **irfs)

    @classmethod
    def read(cls, event_file, irf_file=None, checksum: bool = False) -> Observation:
        """Observation from an events file (IRFs in the same file or in ``irf_file``)."""
        from .data_store import DataStore

        store = DataStore.from_events_files([event_file],
                                            irfs_paths=[irf_file] if irf_file else None)
        return store.obs(store.obs_ids[0], required_irf="all-optional")

    def copy(self, in_memory: bool = False, **kwargs) -> Observation:
        """Copy; ``in_memory=True`` loads all HDUs; keyword arguments replace attributes."""
        sources = {}
        for name in HDU_NAMES:
            if in_memory:
                sources[name] = _copy.deepcopy(self._get(name))
            else:
                sources[name] = self._sources.get(name)  # LazyHDU holders are shared
        params = dict(obs_id=self.obs_id, meta=self._meta, pointing=self._pointing,
                      location=self._location, obs_filter=self.obs_filter, **sources)
        params.update(kwargs)
        new = self.__class__(**params)
        if self._header is not None and not any(k in kwargs for k in ("events", "meta")):
            new._header = self._header
        return new

    def select_time(self, time_interval) -> Observation:
        """Observation restricted to ``time_interval`` (events and GTI; IRFs shared)."""
        events = self.events
        return self.copy(events=events.select_time(time_interval) if events is not None else None,
                         gti=self.gti.select_time(time_interval))

    # ------------------------------------------------------------------ checks / output
    def check(self) -> Iterator[str]:
        """Yield problems: HDUs that cannot be loaded, event-list issues, bad times."""
        for name in HDU_NAMES:
            if name not in self.available_hdus and name not in ("gti",):
                continue
            try:
                value = self._get(name)
            except (GammapipeError, OSError, ValueError, KeyError, ImportError) as exc:
                yield f"obs {self.obs_id}: cannot load {name}: {exc}"
                continue
            if name == "events" and value is not None:
                for problem in value.check():
                    yield f"obs {self.obs_id}: events: {problem}"
            if name == "gti" and value is not None and len(value) == 0:
                yield f"obs {self.obs_id}: GTI is empty"

    def peek(self, figsize=(15, 10)):
        """Overview figure (events image, energy histogram, IRF panels); returns it."""
        from .plotting import peek_observation

        return peek_observation(self, figsize=figsize)

    def write(self, path: str | os.PathLike, overwrite: bool = False, format: str = "gadf",
              include_irfs: bool = True, checksum: bool = False) -> None:
        """Write events, GTI and IRFs into one GADF file (atomically)."""
        if format != "gadf":
            raise ValueError(f"Observation.write: unsupported format {format!r}")
        hdus = [fits.PrimaryHDU()]
        events = self.events
        if events is not None:
            hdus.append(events.to_table_hdu())
        gti = self.gti
        if gti is not None:
            hdus.append(gti.to_table_hdu())
        if include_irfs:
            for name in IRF_NAMES:
                irf = self._get(name)
                if irf is None:
                    continue
                hdu = irf.to_table_hdu()
                hdu.name = _WRITE_HDU_NAMES[name]
                hdus.append(hdu)
        hdulist = fits.HDUList(hdus)
        if checksum:
            for hdu in hdulist:
                hdu.add_checksum()
        write_hdulist(hdulist, path, overwrite=overwrite)

    def __str__(self) -> str:
        lines = ["Observation", "", f"\tobs id            : {self.obs_id}"]
        try:
            lines += [
                f"\ttstart            : {self.tstart.mjd:.2f}",
                f"\ttstop             : {self.tstop.mjd:.2f}",
                f"\tduration          : {self.observation_time_duration:.2f}",
                f"\tpointing (icrs)   : {self.get_pointing_icrs(self.tmid).to_string('decimal')}",
                f"\tdeadtime fraction : {100 * self.observation_dead_time_fraction:.1f}%",
            ]
        except (GammapipeError, OSError, ValueError, KeyError, IndexError, TypeError):
            pass
        lines.append(f"\tavailable hdus    : {', '.join(self.available_hdus)}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"Observation(obs_id={self.obs_id}, hdus={self.available_hdus})"
