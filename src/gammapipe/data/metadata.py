"""Header helpers shared by the data classes: time reference, observatory location, metadata.

GADF / OGIP time convention: times in event lists and GTIs are "mission elapsed time" (MET)
seconds counted from a reference epoch given by ``MJDREFI`` + ``MJDREFF`` (days) in the time
scale ``TIMESYS`` (``TT`` when absent). ``TIMEUNIT`` must be seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.time import Time, TimeDelta

from ..utils.errors import FITSFormatError

__all__ = [
    "time_ref_from_dict",
    "time_ref_to_dict",
    "met_to_time",
    "time_to_met",
    "to_time",
    "earth_location_from_dict",
    "observatory_location",
    "location_to_dict",
]

# Array-centre coordinates of the main IACT sites (longitude, latitude in deg; height in m).
_SITES = {
    "hess": (16.5002222222222, -23.2717777777778, 1835.0),
    "magic": (-17.890701, 28.761894, 2200.0),
    "lst": (-17.891497, 28.761526, 2185.0),
    "cta_north": (-17.891497, 28.761526, 2185.0),
    "cta_south": (-70.316345, -24.683429, 2147.0),
    "veritas": (-110.952, 31.675, 1268.0),
    "hawc": (-97.3084, 18.9947, 4100.0),
    "hegra": (-17.89, 28.76, 2200.0),
    "fact": (-17.890789, 28.761625, 2200.0),
}

_LOCATION_CACHE: dict[str, EarthLocation] = {}

# TELESCOP keyword values mapped to the site keys above.
_TELESCOP_ALIASES = {
    "hess": "hess",
    "h.e.s.s.": "hess",
    "magic": "magic",
    "lst": "lst",
    "lst-1": "lst",
    "cta": "cta_south",
    "cta-south": "cta_south",
    "cta_south": "cta_south",
    "cta-north": "cta_north",
    "cta_north": "cta_north",
    "veritas": "veritas",
    "hawc": "hawc",
    "hegra": "hegra",
    "fact": "fact",
}

_TIME_SCALES = {"tt": "tt", "tdb": "tdb", "tai": "tai", "utc": "utc", "tcb": "tcb", "tcg": "tcg",
                "ut1": "ut1", "tdt": "tt", "et": "tdb", "gps": "tai"}


def _site(name: str) -> EarthLocation:
    if name not in _LOCATION_CACHE:
        lon, lat, height = _SITES[name]
        _LOCATION_CACHE[name] = EarthLocation.from_geodetic(
            lon=lon * u.deg, lat=lat * u.deg, height=height * u.m
        )
    return _LOCATION_CACHE[name]


def observatory_location(name: str) -> EarthLocation:
    """Location of a known observatory (``"hess"``, ``"magic"``, ``"cta_south"``, ...).

    The name may also be a ``TELESCOP`` keyword value such as ``"HESS"`` or ``"CTA"``.
    """
    key = str(name).strip().lower()
    key = _TELESCOP_ALIASES.get(key, key)
    if key not in _SITES:
        raise KeyError(f"unknown observatory {name!r}; known: {sorted(_SITES)}")
    return _site(key)


def time_ref_from_dict(meta: Mapping, where: str = "", default_scale: str = "tt") -> Time:
    """Reference time from ``MJDREFI``/``MJDREFF`` (or ``MJDREF``) and ``TIMESYS``.

    Parameters
    ----------
    meta : dict-like
        Header keywords.
    where : str
        Context for error messages.
    default_scale : str
        Time scale used when ``TIMESYS`` is absent (GADF default: TT).
    """
    scale_text = str(meta.get("TIMESYS", default_scale)).strip().lower()
    scale = _TIME_SCALES.get(scale_text)
    if scale is None:
        raise FITSFormatError(f"{where}: unsupported TIMESYS {meta.get('TIMESYS')!r}")
    unit = str(meta.get("TIMEUNIT", "s")).strip().lower()
    if unit not in ("s", "sec", "second", "seconds", ""):
        raise FITSFormatError(f"{where}: TIMEUNIT {meta.get('TIMEUNIT')!r}, expected 's'")
    if "MJDREFI" in meta:
        mjd_int = float(meta["MJDREFI"])
        mjd_frac = float(meta.get("MJDREFF", 0.0))
    elif "MJDREF" in meta:
        mjd_int, mjd_frac = float(meta["MJDREF"]), 0.0
    else:
        raise FITSFormatError(f"{where}: no reference time keywords MJDREFI/MJDREFF or MJDREF")
    return Time(mjd_int, mjd_frac, format="mjd", scale=scale)


def time_ref_to_dict(time_ref: Time, scale: str | None = None) -> dict:
    """Header keywords ``MJDREFI``, ``MJDREFF``, ``TIMEUNIT``, ``TIMESYS`` for a reference time."""
    scale = scale or time_ref.scale
    t = getattr(time_ref, scale) if scale != time_ref.scale else time_ref
    mjd = t.mjd
    mjd_int = np.floor(mjd)
    # use the two-double representation for full precision of the fraction
    frac = (t.jd1 - 2400000.5 - mjd_int) + t.jd2
    return {
        "MJDREFI": int(mjd_int),
        "MJDREFF": float(frac),
        "TIMEUNIT": "s",
        "TIMESYS": scale.upper(),
        "TIMEREF": "LOCAL",
    }


def to_time(value, name: str = "time") -> Time:
    """Convert ``value`` (Time, ISO string, list of those) to `~astropy.time.Time`."""
    if isinstance(value, Time):
        return value
    try:
        return Time(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"argument {name!r}: cannot convert {value!r} to Time ({exc})") from exc


def met_to_time(met, time_ref: Time) -> Time:
    """Convert MET (Quantity or float seconds) to `~astropy.time.Time` in the reference scale."""
    seconds = u.Quantity(met, u.s).to_value(u.s) if isinstance(met, u.Quantity) else met
    return time_ref + TimeDelta(np.asarray(seconds, dtype=float), format="sec")


def time_to_met(time: Time, time_ref: Time) -> u.Quantity:
    """Convert `~astropy.time.Time` to MET seconds relative to ``time_ref`` (Quantity s)."""
    time = to_time(time)
    return (time - time_ref).to(u.s)


def _header_float(meta: Mapping, key: str, where: str) -> float | None:
    if key not in meta:
        return None
    try:
        return float(meta[key])
    except (TypeError, ValueError) as exc:
        raise FITSFormatError(f"{where}: keyword {key}={meta[key]!r} is not a number") from exc


def earth_location_from_dict(meta: Mapping, where: str = "") -> EarthLocation | None:
    """Observatory location from header keywords.

    Tried in order: ``GEOLON``/``GEOLAT``/``ALTITUDE`` (altitude in m, or km when the card
    comment ``_ALTITUDE_UNIT`` says so), ``OBSGEO-L``/``OBSGEO-B``/``OBSGEO-H``,
    ``OBSGEO-X/Y/Z`` (geocentric, m), and finally the ``TELESCOP`` keyword for a known site.
    Returns None when nothing is known.
    """
    lon = _header_float(meta, "GEOLON", where)
    lat = _header_float(meta, "GEOLAT", where)
    if lon is not None and lat is not None:
        height = _header_float(meta, "ALTITUDE", where) or 0.0
        unit = str(meta.get("_ALTITUDE_UNIT", "m")).strip().lower()
        height_q = height * (u.km if unit == "km" else u.m)
        return EarthLocation.from_geodetic(lon=lon * u.deg, lat=lat * u.deg, height=height_q)
    lon = _header_float(meta, "OBSGEO-L", where)
    lat = _header_float(meta, "OBSGEO-B", where)
    if lon is not None and lat is not None:
        height = _header_float(meta, "OBSGEO-H", where) or 0.0
        return EarthLocation.from_geodetic(lon=lon * u.deg, lat=lat * u.deg, height=height * u.m)
    xyz = [_header_float(meta, f"OBSGEO-{c}", where) for c in "XYZ"]
    if all(v is not None for v in xyz):
        return EarthLocation.from_geocentric(*xyz, unit=u.m)
    telescope = meta.get("TELESCOP")
    if telescope:
        try:
            return observatory_location(str(telescope))
        except KeyError:
            return None
    return None


def location_to_dict(location: EarthLocation | None) -> dict:
    """Header keywords ``GEOLON``, ``GEOLAT``, ``ALTITUDE`` (deg, deg, m) for a location."""
    if location is None:
        return {}
    return {
        "GEOLON": float(location.lon.to_value(u.deg)),
        "GEOLAT": float(location.lat.to_value(u.deg)),
        "ALTITUDE": float(location.height.to_value(u.m)),
    }


def header_to_meta(header) -> dict:
    """Header as a plain dict (comments/history dropped), remembering the ALTITUDE unit.

    Some files (CTA 1DC) give ``ALTITUDE`` in km with the card comment ``[km]``; the unit is
    stored under the private key ``_ALTITUDE_UNIT`` so that the location comes out right.
    """
    meta = {}
    for card in header.cards:
        key = card.keyword
        if key in ("COMMENT", "HISTORY", "") or key.startswith(("TTYPE", "TFORM", "TUNIT")):
            continue
        meta[key] = card.value
        if key == "ALTITUDE" and "[km]" in (card.comment or "").lower():
            meta["_ALTITUDE_UNIT"] = "km"
    return meta


_STRUCTURAL_PREFIXES = (
    "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "TTYPE", "TFORM", "TUNIT",
    "TZERO", "TSCAL", "TNULL", "TDIM", "TDISP", "THEAP", "EXTNAME", "CHECKSUM", "DATASUM",
    "SIMPLE", "EXTEND", "COMMENT", "HISTORY", "_",
)


def clean_meta(meta: Mapping) -> dict:
    """Drop FITS structural keywords (NAXIS, TTYPEn, ...) and private keys from a meta dict."""
    out = {
        k: v
        for k, v in meta.items()
        if isinstance(k, str) and k and not k.upper().startswith(_STRUCTURAL_PREFIXES)
        and not isinstance(v, dict | list | tuple)
    }
    if str(meta.get("_ALTITUDE_UNIT", "")).lower() == "km" and "ALTITUDE" in out:
        out["ALTITUDE"] = float(out["ALTITUDE"]) * 1000.0  # written in m, the GADF unit
    return out


def __getattr__(name: str):
    if name == "observatory_locations":
        # all known sites, built on first use (EarthLocation construction is not free)
        return {key: _site(key) for key in _SITES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
