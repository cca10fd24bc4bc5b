"""Fast conversion of a FITS binary table HDU to an astropy Table.

Same result as `gammapipe.utils.fits.table_from_hdu` (lenient unit parsing, header in
``meta``) but builds the columns directly from the record array: no intermediate HDU and no
`Table.read` machinery, which dominate the cost of reading small DL3 tables (IRFs, GTIs).
The column data are copies, never views of the HDU.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Column, Table

from ..utils.fits import parse_unit, table_from_hdu

__all__ = ["fast_table_from_hdu"]


def fast_table_from_hdu(hdu: fits.BinTableHDU, where: str = "") -> Table:
    """Table with parsed units and ``meta = dict(header)`` from a binary table HDU."""
    columns = hdu.columns
    if any(str(col.format).upper().lstrip("0123456789").startswith(("P", "Q")) for col in columns):
        return table_from_hdu(hdu, where=where)  # variable-length arrays: generic path
    data = hdu.data
    table_columns = []
    for idx, col in enumerate(columns):
        values = np.array(data.field(idx)) if data is not None else np.array([])
        if values.dtype.kind == "S":
            values = np.char.decode(values, "ascii")
        unit = parse_unit(col.unit, where=f"{where} column {col.name}") if col.unit else None
        table_columns.append(Column(values, name=col.name, unit=unit, copy=False))
    table = Table(table_columns, copy=False)
    table.meta = dict(hdu.header)
    return table
