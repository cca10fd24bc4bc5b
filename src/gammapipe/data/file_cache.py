"""In-memory cache of DL3 files: each file is decompressed and parsed once for all its HDUs.

DL3 files usually hold all HDUs of an observation (events, GTI, IRFs). Read HDU by HDU with
astropy, a gzipped file is decompressed and parsed again for each HDU. `FileCache` keeps
the few most recently used files in memory (decompressed bytes + parsed headers) and hands
out fresh tables (column copies), so cached data can never be modified by a caller.
Plain DL3 files are parsed by the fast reader of `._fits_reader`; any file it does not
support goes through astropy.
"""

from __future__ import annotations

import gzip
import io
import os
import threading
import warnings
import zlib
from collections import OrderedDict
from pathlib import Path

from astropy.io import fits
from astropy.table import Table

from ..utils.errors import FITSFormatError, MissingFileError, MissingHDUError
from ..utils.fits import make_path
from ._fits_fast import fast_table_from_hdu
from ._fits_reader import bintable_to_table, parse_fits
from .metadata import header_to_meta

__all__ = ["CachedFile", "FileCache", "FILE_CACHE"]

_STRUCTURAL = ("TTYPE", "TFORM", "TUNIT")


class CachedFile:
    """A FITS file held in memory: HDU names, headers and tables on demand."""

    def __init__(self, path: Path, raw: bytes):
        self.path = path
        self.nbytes = len(raw)
        self._raw = raw
        self._fast = parse_fits(raw)
        self._hdulist = None if self._fast is not None else self._astropy_open(path, raw)

    @staticmethod
    def _astropy_open(path: Path, raw: bytes) -> fits.HDUList:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                hdulist = fits.open(io.BytesIO(raw), lazy_load_hdus=False, memmap=False)
                for hdu in hdulist:
                    hdu.data  # noqa: B018 - load everything now: truncation shows up here
            except (OSError, EOFError, ValueError, TypeError, IndexError) as exc:
                raise FITSFormatError(f"{path}: not a readable FITS file ({exc})") from exc
        for warning in caught:
            text = str(warning.message)
            if "truncat" in text.lower():
                raise FITSFormatError(f"{path}: truncated FITS file ({text})")
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
        return hdulist

    @property
    def names(self) -> list[str]:
        """HDU names (``PRIMARY`` first)."""
        if self._fast is not None:
            return [h.name for h in self._fast]
        return [h.name for h in self._hdulist]

    def _index(self, hdu: str | int) -> int:
        names = self.names
        if isinstance(hdu, int):
            if not 0 <= hdu < len(names):
                raise MissingHDUError(f"{self.path}: no HDU {hdu} (available: {names})")
            return hdu
        key = str(hdu).strip().upper()
        if key not in names:
            raise MissingHDUError(f"{self.path}: no HDU {hdu!r} (available: {names})")
        return names.index(key)

    def meta(self, hdu: str | int) -> dict:
        """Header keywords of one HDU as a dict (column keywords dropped).

        An ``ALTITUDE`` card commented ``[km]`` (CTA 1DC) adds ``_ALTITUDE_UNIT = "km"``.
        """
        idx = self._index(hdu)
        if self._fast is None:
            return header_to_meta(self._hdulist[idx].header)
        raw_hdu = self._fast[idx]
        meta = {k: v for k, v in raw_hdu.header.items() if not k.startswith(_STRUCTURAL)}
        if "[km]" in raw_hdu.comments.get("ALTITUDE", "").lower():
            meta["_ALTITUDE_UNIT"] = "km"
        return meta

    def header_values(self, hdu: str | int) -> dict:
        """All header keywords of one HDU (values only, column keywords included)."""
        idx = self._index(hdu)
        if self._fast is None:
            return dict(self._hdulist[idx].header)
        return dict(self._fast[idx].header)

    def table(self, hdu: str | int, where: str = "") -> Table:
        """Binary table HDU as a new Table (column copies; ``meta`` = header values)."""
        idx = self._index(hdu)
        where = where or f"{self.path} [HDU {self.names[idx]}]"
        if self._fast is not None:
            raw_hdu = self._fast[idx]
            if raw_hdu.header.get("XTENSION") != "BINTABLE":
                raise FITSFormatError(f"{where}: expected a binary table, got "
                                      f"{raw_hdu.header.get('XTENSION', 'primary array')}")
            table = bintable_to_table(self._raw, raw_hdu, where=where)
            if table is not None:
                return table
            with fits.open(io.BytesIO(self._raw), lazy_load_hdus=False) as hdulist:
                return fast_table_from_hdu(hdulist[idx], where=where)
        selected = self._hdulist[idx]
        if not isinstance(selected, fits.BinTableHDU):
            raise FITSFormatError(f"{where}: expected a binary table, got "
                                  f"{type(selected).__name__}")
        return fast_table_from_hdu(selected, where=where)


def read_file_bytes(path: Path) -> bytes:
    """File content, gunzipped when it is a gzip stream."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise FITSFormatError(f"{path}: truncated or corrupt gzip file ({exc})") from exc
    return raw


class FileCache:
    """Small LRU cache of `CachedFile` objects.

    Entries are keyed by the resolved path, modification time and size (a changed file is
    read again) and bounded by ``max_files`` and ``max_bytes``.
    """

    def __init__(self, max_files: int = 4, max_bytes: int = 256 * 2**20):
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Drop all cached files."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str | os.PathLike) -> CachedFile:
        """The cached file for ``path`` (read and parsed on first use)."""
        path = make_path(path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise MissingFileError(f"FITS file not found: {path}") from None
        if not path.is_file():
            raise MissingFileError(f"not a file: {path}")
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        try:
            entry = CachedFile(path, read_file_bytes(path))
        except FITSFormatError as exc:
            message = str(exc)
            raise FITSFormatError(message if str(path) in message else f"{path}: {message}") \
                from exc
        with self._lock:
            self._entries[key] = entry
            total = sum(e.nbytes for e in self._entries.values())
            while len(self._entries) > 1 and (len(self._entries) > self.max_files
                                              or total > self.max_bytes):
                _, dropped = self._entries.popitem(last=False)
                total -= dropped.nbytes
        return entry


FILE_CACHE = FileCache()
