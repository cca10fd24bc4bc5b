"""Loading HDUs referenced by an HDU index (events, GTI, IRFs) with errors naming the context."""

from __future__ import annotations

import os
from pathlib import Path

from astropy.io import fits

from ..utils.errors import FITSFormatError, GammapipeError, MissingFileError, MissingHDUError
from ..utils.fits import make_path, open_fits
from .file_cache import FILE_CACHE
from .hdu_index import HDULocation

__all__ = ["load_hdu", "IRF_HDU_TYPES", "scan_file_hdus", "read_header", "FILE_CACHE"]

IRF_HDU_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")


def _context(location: HDULocation) -> str:
    return (f"obs {location.obs_id} HDU type {location.hdu_type!r} "
            f"({location.path()} [HDU {location.hdu_name!r}])")


def _rewrap(exc: Exception, location: HDULocation) -> Exception:
    """Same exception type with the observation / HDU context prepended."""
    message = f"{_context(location)}: {exc}"
    for kind in (MissingFileError, MissingHDUError, FITSFormatError):
        if isinstance(exc, kind):
            return kind(message)
    if isinstance(exc, GammapipeError):
        try:
            return type(exc)(message)
        except TypeError:
            return FITSFormatError(message)
    if isinstance(exc, KeyError):
        return MissingHDUError(message)
    if isinstance(exc, FileNotFoundError):
        return MissingFileError(message)
    return FITSFormatError(message)


def _load(location: HDULocation, path: Path):
    cached = FILE_CACHE.get(path)
    meta = cached.meta(location.hdu_name)
    where = f"{path} [HDU {location.hdu_name}]"
    if location.hdu_type == "pointing":
        from .pointing import FixedPointingInfo

        return FixedPointingInfo.from_fits_header(meta, where=where)
    table = cached.table(location.hdu_name, where=where)  # column copies: cache stays intact
    if location.hdu_type == "events":
        from .event_list import EventList

        return EventList.from_table(table, meta=meta, where=where)
    if location.hdu_type == "gti":
        from .gti import GTI

        return GTI.from_table(table, where=where)
    if location.hdu_type in IRF_HDU_TYPES:
        from ..irf import IRF_REGISTRY
        from ..irf.io import detect_hdu_class

        cls = IRF_REGISTRY.get(location.hdu_class)
        if cls is None:
            raise FITSFormatError(
                f"unsupported HDU class {location.hdu_class!r} (supported: {sorted(IRF_REGISTRY)})"
            )
        header = table.meta
        if "HDUCLAS2" in header or "HDUCLAS4" in header:
            try:
                declared = detect_hdu_class(header, where)
            except FITSFormatError:
                declared = None
            if declared is not None and declared != location.hdu_class:
                raise FITSFormatError(
                    f"{where}: HDU is of class {declared!r} (HDUCLAS4="
                    f"{header.get('HDUCLAS4')!r}) but the HDU index says {location.hdu_class!r}"
                )
        return cls.from_table(table, where=where)
    raise FITSFormatError(f"unknown HDU type {location.hdu_type!r}")


def load_hdu(location: HDULocation):
    """Load the object stored at ``location``.

    Returns an `EventList` (events), `GTI` (gti), `FixedPointingInfo` (pointing) or an IRF
    object of the class registered in ``gammapipe.irf.IRF_REGISTRY`` for the HDU class.
    Files are read through `FILE_CACHE`, so that the HDUs of one file are decompressed and
    parsed once.

    Raises
    ------
    MissingFileError, MissingHDUError, FITSFormatError, UnitError
        With the observation ID, HDU type, file and HDU name in the message.
    """
    path = location.path()
    if not path.is_file():
        raise MissingFileError(f"{_context(location)}: file not found")
    try:
        return _load(location, path)
    except (GammapipeError, KeyError, OSError, ValueError) as exc:
        raise _rewrap(exc, location) from exc


def read_header(path: str | os.PathLike, hdu: str | int) -> dict:
    """Header keywords of one HDU as a dict (see `CachedFile.meta`)."""
    return FILE_CACHE.get(path).meta(hdu)


_TYPE_OF_CLASS = {
    "aeff_2d": "aeff", "edisp_2d": "edisp", "psf_table": "psf", "psf_3gauss": "psf",
    "psf_king": "psf", "bkg_2d": "bkg", "bkg_3d": "bkg", "rad_max_2d": "rad_max",
}
# (HDUCLAS2, HDUCLAS4) of GADF / CALDB files -> HDU class (used when gammapipe.irf is absent)
_CLASS_FROM_HDUCLAS = {
    ("EFF_AREA", "AEFF_2D"): "aeff_2d", ("EFF_AREA", "2D"): "aeff_2d",
    ("EDISP", "EDISP_2D"): "edisp_2d", ("EDISP", "2D"): "edisp_2d",
    ("RPSF", "PSF_TABLE"): "psf_table", ("RPSF", "3GAUSS"): "psf_3gauss",
    ("RPSF", "PSF_3GAUSS"): "psf_3gauss", ("RPSF", "PSF_KING"): "psf_king",
    ("RPSF", "KING"): "psf_king", ("BKG", "BKG_3D"): "bkg_3d", ("BKG", "3D"): "bkg_3d",
    ("BKG", "BKG_2D"): "bkg_2d", ("BKG", "2D"): "bkg_2d",
    ("RAD_MAX", "RAD_MAX_2D"): "rad_max_2d", ("RAD_MAX", "2D"): "rad_max_2d",
}


def _classify(header: fits.Header) -> tuple[str, str] | None:
    """(hdu_type, hdu_class) of an HDU from its HDUCLAS keywords / EXTNAME, or None."""
    clas1 = str(header.get("HDUCLAS1", "")).strip().upper()
    extname = str(header.get("EXTNAME", "")).strip().upper()
    if clas1 == "EVENTS" or (not clas1 and extname == "EVENTS"):
        return "events", "events"
    if clas1 == "GTI" or (not clas1 and extname == "GTI"):
        return "gti", "gti"
    if clas1 != "RESPONSE":
        return None
    clas2 = str(header.get("HDUCLAS2", "")).strip().upper()
    clas4 = str(header.get("HDUCLAS4", "")).strip().upper()
    hdu_class = _CLASS_FROM_HDUCLAS.get((clas2, clas4))
    if hdu_class is None:
        try:
            from ..irf.io import detect_hdu_class

            hdu_class = detect_hdu_class(header)
        except (ImportError, FITSFormatError):
            return None
    hdu_type = _TYPE_OF_CLASS.get(hdu_class)
    return (hdu_type, hdu_class) if hdu_type else None


def scan_file_hdus(path: str | os.PathLike) -> list[tuple[str, str, str, fits.Header]]:
    """List ``(hdu_type, hdu_class, hdu_name, header)`` of the GADF HDUs in a file."""
    path = make_path(path)
    result = []
    with open_fits(path) as hdulist:
        for hdu in hdulist[1:]:
            kind = _classify(hdu.header)
            if kind is not None:
                result.append((kind[0], kind[1], hdu.name, hdu.header.copy()))
    return result


def relative_location(path: Path, base_dir: Path) -> tuple[str, str]:
    """(FILE_DIR, FILE_NAME) of ``path`` relative to ``base_dir`` when possible."""
    path = Path(os.path.abspath(path))
    try:
        file_dir = os.path.relpath(path.parent, base_dir)
    except ValueError:  # different drives
        file_dir = str(path.parent)
    return file_dir, path.name
