"""Minimal fast reader for the FITS files of DL3 data sets (headers + binary tables).

DL3 files are small binary tables; with astropy most of the time of reading them goes into
header-card objects and the ``FITS_rec`` machinery. This module parses the 80-character cards
and maps binary-table rows onto a numpy structured dtype directly (`numpy.frombuffer`), then
copies each column to a native-endian array. Anything outside the plain subset used by DL3
files (``CONTINUE`` / ``HIERARCH`` cards, variable-length arrays, bit columns, ``TNULL``,
ASCII tables, unusual scaling) makes `parse_fits` return None, and the caller falls back on
astropy. The results equal what astropy returns (tested on all DL3 files of the test data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.table import Column, Table

from ..utils.errors import FITSFormatError, UnitError
from ..utils.fits import parse_unit

__all__ = ["RawHDU", "parse_fits", "bintable_to_table"]

BLOCK = 2880
CARD = 80
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")
_TFORM_RE = re.compile(r"^(\d*)([LXBIJKAEDCMPQ])(.*)$")
_CODES = {"L": "u1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8",
          "C": ">c8", "M": ">c16"}
# (code, TZERO) pairs that astropy reads as unsigned / signed integers
_UNSIGNED = {("I", 32768): np.uint16, ("J", 2147483648): np.uint32,
             ("K", 9223372036854775808): np.uint64, ("B", -128): np.int8}


@lru_cache(maxsize=256)
def _unit(text: str):
    """Parsed unit of a TUNIT string (cached: DL3 files repeat a handful of units)."""
    return parse_unit(text)


def _column_unit(text: str, where: str):
    try:
        return _unit(text)
    except UnitError:
        return parse_unit(text, where=where)  # raises with the context


class _Unsupported(Exception):
    """The file uses a FITS feature outside the fast subset."""


@dataclass
class RawHDU:
    """One HDU of a file held in memory: parsed header and location of its data."""

    index: int
    name: str
    header: dict
    comments: dict
    data_offset: int
    data_size: int


def _parse_value(text: str):
    """Value and comment of the value field of a card (columns 11-80)."""
    stripped = text.lstrip()
    if stripped.startswith("'"):
        i, chars = 1, []
        while True:
            j = stripped.find("'", i)
            if j < 0:
                raise _Unsupported("unterminated string")
            chars.append(stripped[i:j])
            if stripped[j + 1:j + 2] == "'":
                chars.append("'")
                i = j + 2
                continue
            rest = stripped[j + 1:]
            break
        value = "".join(chars).rstrip()
        slash = rest.find("/")
        comment = rest[slash + 1:].strip() if slash >= 0 else ""
        return value, comment
    slash = stripped.find("/")
    value_text = (stripped[:slash] if slash >= 0 else stripped).strip()
    comment = stripped[slash + 1:].strip() if slash >= 0 else ""
    if value_text == "":
        return None, comment
    if value_text == "T":
        return True, comment
    if value_text == "F":
        return False, comment
    if _INT_RE.match(value_text):
        return int(value_text), comment
    if _FLOAT_RE.match(value_text):
        return float(value_text.replace("D", "E").replace("d", "e")), comment
    raise _Unsupported(f"value {value_text!r}")


def _parse_header(raw: bytes, offset: int) -> tuple[dict, dict, int]:
    """Parse the header starting at ``offset``; returns values, comments and the data offset."""
    header, comments = {}, {}
    pos = offset
    size = len(raw)
    while True:
        if pos + CARD > size:
            raise FITSFormatError("truncated header (no END card)")
        card = raw[pos:pos + CARD].decode("ascii", errors="strict")
        pos += CARD
        keyword = card[:8].rstrip()
        if keyword == "END":
            break
        if keyword in ("COMMENT", "HISTORY", ""):
            continue
        if keyword in ("CONTINUE", "HIERARCH") or card[8:10] != "= ":
            raise _Unsupported(f"card {keyword!r}")
        if keyword in header:
            raise _Unsupported(f"duplicate keyword {keyword}")
        header[keyword], comments[keyword] = _parse_value(card[10:])
    end = offset + -(-(pos - offset) // BLOCK) * BLOCK
    return header, comments, end


def _data_size(header: dict) -> int:
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    size = abs(int(header["BITPIX"])) // 8
    for i in range(1, naxis + 1):
        size *= int(header[f"NAXIS{i}"])
    return int(header.get("GCOUNT", 1)) * (size + int(header.get("PCOUNT", 0)))


def parse_fits(raw: bytes) -> list[RawHDU] | None:
    """HDUs of an in-memory FITS file, or None if it needs the general (astropy) reader.

    Raises
    ------
    FITSFormatError
        The file is not FITS or is truncated.
    """
    if not raw.startswith(b"SIMPLE  ="):
        raise FITSFormatError("not a FITS file (no SIMPLE card)")
    hdus, offset, index = [], 0, 0
    try:
        while offset < len(raw):
            if not raw[offset:offset + CARD].strip(b" \x00"):
                break  # trailing padding
            header, comments, data_offset = _parse_header(raw, offset)
            size = _data_size(header)
            if data_offset + size > len(raw):
                raise FITSFormatError(
                    f"truncated FITS file: HDU {index} needs {data_offset + size} bytes, "
                    f"the file has {len(raw)}"
                )
            name = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip().upper()
            hdus.append(RawHDU(index, name, header, comments, data_offset, size))
            offset = data_offset + -(-size // BLOCK) * BLOCK
            index += 1
    except (_Unsupported, UnicodeDecodeError):
        return None
    return hdus


def _column_dtype(tform: str, tdim: str | None):
    match = _TFORM_RE.match(tform.strip().upper())
    if match is None:
        raise _Unsupported(f"TFORM {tform!r}")
    repeat_text, code, _ = match.groups()
    repeat = int(repeat_text) if repeat_text else 1
    if code in ("P", "Q", "X") or repeat == 0:
        raise _Unsupported(f"TFORM {tform!r}")
    if code == "A":
        if tdim:
            raise _Unsupported("string TDIM")
        return np.dtype(f"S{repeat}"), code, ()
    shape = (repeat,) if repeat > 1 else ()
    if tdim:
        dims = [int(v) for v in tdim.strip().strip("()").split(",")]
        if int(np.prod(dims)) != repeat:
            raise _Unsupported(f"TDIM {tdim!r} does not match TFORM {tform!r}")
        shape = tuple(reversed(dims))
    return np.dtype(_CODES[code]), code, shape


def bintable_to_table(raw: bytes, hdu: RawHDU, where: str = "") -> Table | None:
    """Binary table HDU as a Table (column copies, parsed units, ``meta`` = header values).

    Returns None when the table needs the general reader.
    """
    header = hdu.header
    if header.get("XTENSION") != "BINTABLE":
        return None
    try:
        nfields = int(header["TFIELDS"])
        row_bytes, nrows = int(header["NAXIS1"]), int(header["NAXIS2"])
        names, formats, offsets, extra = [], [], [], []
        position = 0
        for i in range(1, nfields + 1):
            if f"TNULL{i}" in header:
                raise _Unsupported("TNULL")
            dtype, code, shape = _column_dtype(str(header[f"TFORM{i}"]), header.get(f"TDIM{i}"))
            names.append(str(header.get(f"TTYPE{i}", f"col{i}")).strip())
            formats.append((dtype, shape) if shape else dtype)
            offsets.append(position)
            position += dtype.itemsize * int(np.prod(shape, dtype=int))
            extra.append((code, header.get(f"TSCAL{i}", 1), header.get(f"TZERO{i}", 0),
                          header.get(f"TUNIT{i}")))
        if position != row_bytes or len(set(names)) != len(names):
            raise _Unsupported("row layout")
    except (_Unsupported, KeyError, ValueError, TypeError):
        return None
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets,
                      "itemsize": row_bytes})
    records = np.frombuffer(raw, dtype=dtype, count=nrows, offset=hdu.data_offset)
    columns = []
    for name, (code, scale, zero, unit_text) in zip(names, extra, strict=True):
        values = records[name]
        if code == "A":
            values = np.char.rstrip(np.char.decode(values, "ascii", errors="replace"))
        elif code == "L":
            values = values == ord("T")
        elif (scale, zero) != (1, 0):
            target = _UNSIGNED.get((code, zero)) if scale == 1 else None
            if target is None:
                values = values.astype(np.float64) * scale + zero
            elif code == "K":
                values = values.astype(np.int64).view(np.uint64) ^ np.uint64(1 << 63)
            else:
                values = (values.astype(np.int64) + zero).astype(target)
        else:
            values = values.astype(values.dtype.newbyteorder("="))
        unit = _column_unit(str(unit_text), f"{where} column {name}") if unit_text else None
        columns.append(Column(np.array(values, copy=True), name=name, unit=unit, copy=False))
    table = Table(columns, copy=False)
    table.meta = dict(header)
    return table
