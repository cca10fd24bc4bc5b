"""FITS helpers: reading with errors that name the file/HDU, atomic writes, unit parsing."""

from __future__ import annotations

import gzip
import os
import tempfile
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path

import astropy.units as u
from astropy.io import fits
from astropy.table import Table

from .errors import FITSFormatError, MissingFileError, MissingHDUError, UnitError

__all__ = [
    "make_path",
    "open_fits",
    "check_gzip_stream",
    "read_hdu",
    "read_table_hdu",
    "atomic_write",
    "write_hdulist",
    "parse_unit",
    "require_columns",
]

# Unit strings found in IACT DL3 files that astropy does not parse as written.
_UNIT_ALIASES = {
    "": "",
    "none": "",
    "counts": "ct",
    "count": "ct",
    "cm**2": "cm2",
    "m**2": "m2",
    "1/s/MeV/sr": "s-1 MeV-1 sr-1",
    "s^-1 MeV^-1 sr^-1": "s-1 MeV-1 sr-1",
    "1/(s MeV sr)": "s-1 MeV-1 sr-1",
    "sr^-1": "sr-1",
    "1/sr": "sr-1",
    "deg^-2": "deg-2",
    "1/deg2": "deg-2",
}


def make_path(path: str | os.PathLike) -> Path:
    """Expand ``$VARS`` and ``~`` in a path and return a `~pathlib.Path`."""
    return Path(os.path.expanduser(os.path.expandvars(str(path))))


def parse_unit(unit: str | u.UnitBase | None, where: str = "") -> u.UnitBase:
    """Parse a FITS unit string, accepting the spellings used in DL3 files.

    Parameters
    ----------
    unit : str, `~astropy.units.UnitBase` or None
        Unit string (``TUNITn`` / ``BUNIT``) or unit.
    where : str
        Context for error messages (file, HDU, column).
    """
    if unit is None:
        return u.dimensionless_unscaled
    if isinstance(unit, u.UnitBase):
        return unit
    text = str(unit).strip()
    text = _UNIT_ALIASES.get(text, _UNIT_ALIASES.get(text.lower(), text))
    try:
        return u.Unit(text, format="fits", parse_strict="raise")
    except ValueError:
        try:
            return u.Unit(text, parse_strict="raise")
        except ValueError as exc:
            raise UnitError(f"{where}: cannot parse unit {unit!r}") from exc


def check_gzip_stream(path: Path) -> None:
    """Raise `FITSFormatError` if ``path`` is a truncated or corrupt gzip file."""
    if path.suffix != ".gz":
        return
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise FITSFormatError(f"{path}: truncated or corrupt gzip stream ({exc})") from exc


def open_fits(path: str | os.PathLike, memmap: bool = False) -> fits.HDUList:
    """Open a FITS file (optionally gzipped) and check that it is readable.

    Raises
    ------
    MissingFileError
        The file does not exist.
    FITSFormatError
        The file is truncated, not FITS or a corrupt gzip stream.
    """
    path = make_path(path)
    if not path.is_file():
        raise MissingFileError(f"FITS file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*truncated.*")
            hdulist = fits.open(path, memmap=memmap, lazy_load_hdus=False)
    except (OSError, EOFError, zlib.error, ValueError, TypeError, Warning) as exc:
        check_gzip_stream(path)
        raise FITSFormatError(f"{path}: not a readable FITS file ({exc})") from exc
    if len(hdulist) == 0:
        check_gzip_stream(path)
        raise FITSFormatError(f"{path}: no HDU found (empty or not a FITS file)")
    return hdulist


def _hdu_names(hdulist: fits.HDUList) -> list[str]:
    return [hdu.name for hdu in hdulist]


def read_hdu(path: str | os.PathLike, hdu: str | int | None = None):
    """Read one HDU (data loaded into memory) and return a copy detached from the file.

    Parameters
    ----------
    path : path-like
        FITS file.
    hdu : str, int or None
        HDU name or index; ``None`` means the first HDU with data.
    """
    path = make_path(path)
    with open_fits(path) as hdulist:
        if hdu is None:
            candidates = [h for h in hdulist if h.data is not None] if len(hdulist) else []
            if not candidates:
                raise MissingHDUError(f"{path}: no HDU with data")
            selected = candidates[0]
        else:
            try:
                selected = hdulist[hdu.upper() if isinstance(hdu, str) else hdu]
            except (KeyError, IndexError) as exc:
                check_gzip_stream(path)
                raise MissingHDUError(
                    f"{path}: no HDU {hdu!r} (available: {_hdu_names(hdulist)})"
                ) from exc
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("error", message=".*truncated.*")
                selected.data  # noqa: B018 - force reading, surfaces truncation
                return selected.copy()
        except (OSError, EOFError, zlib.error, ValueError, TypeError, Warning) as exc:
            check_gzip_stream(path)
            raise FITSFormatError(f"{path} [HDU {hdu}]: cannot read data ({exc})") from exc


def read_table_hdu(path: str | os.PathLike, hdu: str | int | None = None) -> Table:
    """Read a binary table HDU as an `~astropy.table.Table` with parsed units.

    Unit strings are parsed with :func:`parse_unit`; a unit that cannot be parsed raises
    `UnitError` naming the file, HDU and column.
    """
    path = make_path(path)
    hdu_obj = read_hdu(path, hdu)
    if not isinstance(hdu_obj, fits.BinTableHDU | fits.TableHDU):
        kind = type(hdu_obj).__name__
        raise FITSFormatError(f"{path} [HDU {hdu}]: expected a table HDU, got {kind}")
    return table_from_hdu(hdu_obj, where=f"{path} [HDU {hdu_obj.name}]")


def table_from_hdu(hdu: fits.BinTableHDU, where: str = "") -> Table:
    """Convert a table HDU to an `~astropy.table.Table`, parsing units leniently."""
    header = hdu.header.copy()
    units = {}
    for idx in range(1, header.get("TFIELDS", 0) + 1):
        key = f"TUNIT{idx}"
        if key in header:
            units[header[f"TTYPE{idx}"]] = header[key]
            del header[key]
    stripped = fits.BinTableHDU(data=hdu.data, header=header, name=hdu.name)
    table = Table.read(stripped, unit_parse_strict="silent")
    for name, unit in units.items():
        table[name].unit = parse_unit(unit, where=f"{where} column {name}")
    table.meta = dict(hdu.header)
    return table


def require_columns(table: Table, names: Iterable[str], where: str) -> None:
    """Raise `FITSFormatError` listing the missing columns of ``table``."""
    missing = [n for n in names if n not in table.colnames]
    if missing:
        raise FITSFormatError(f"{where}: missing column(s) {missing} (have {table.colnames})")


def atomic_write(write_func, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a file through a temporary name in the same folder, then rename.

    ``write_func(tmp_path)`` must write the complete file to ``tmp_path``. On any error
    the temporary file is removed and the target is left untouched.
    """
    path = make_path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; use overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write_func(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600: follow the umask
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_hdulist(hdulist: fits.HDUList, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an HDU list atomically (gzip compression if the name ends in ``.gz``)."""
    return atomic_write(lambda tmp: hdulist.writeto(tmp, overwrite=True), path, overwrite)
