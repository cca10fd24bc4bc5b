"""Table I/O of map axes: OGIP (EBOUNDS / ARF), GADF sky-map BANDS and GADF DL3 IRF axes.

Formats
-------
"ogip" / "ogip-sherpa"
    EBOUNDS table: ``CHANNEL``, ``E_MIN``, ``E_MAX`` (sherpa: in keV).
"ogip-arf" / "ogip-arf-sherpa"
    ``ENERG_LO``, ``ENERG_HI`` of an ARF (``SPECRESP``) table.
"gadf"
    GADF sky-map BANDS table: one row per band (column-major channel ordering), columns
    per non-spatial axis named in the ``AXCOLS{i}`` header keywords (edges: two columns
    ``<NAME>_MIN, <NAME>_MAX``, energy: ``E_MIN, E_MAX``; centres: one column
    ``<NAME>`` / ``ENERGY``), scale in ``INTERP{i}``.
"gadf-dl3"
    IRF tables (single row, one pair of array columns ``<PREFIX>_LO/_HI`` per axis).
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from ..utils.errors import FITSFormatError

__all__ = [
    "DL3_AXIS_PREFIXES",
    "axis_to_table",
    "axis_from_table",
    "axes_to_table",
    "axes_from_table",
    "table_to_hdu",
]

# column prefix in GADF DL3 IRF tables -> axis name
DL3_AXIS_PREFIXES = {
    "ENERG": "energy_true",
    "ETRUE": "energy_true",
    "E": "energy",
    "THETA": "offset",
    "MIGRA": "migra",
    "RAD": "rad",
    "DETX": "fov_lon",
    "DETY": "fov_lat",
}
# axis name -> preferred prefix when writing
_DL3_PREFIX_OF_NAME = {
    "energy_true": "ENERG",
    "energy": "ENERG",
    "offset": "THETA",
    "migra": "MIGRA",
    "rad": "RAD",
    "fov_lon": "DETX",
    "fov_lat": "DETY",
}
# IRF classes in which ENERG is the reconstructed energy
_RECO_ENERGY_HDUCLAS2 = ("BKG", "RAD_MAX")
_DEFAULT_UNITS = {"energy": "TeV", "energy_true": "TeV", "offset": "deg", "rad": "deg",
                  "fov_lon": "deg", "fov_lat": "deg"}
_OGIP_FORMATS = ("ogip", "ogip-sherpa", "ogip-arf", "ogip-arf-sherpa")
FORMATS = _OGIP_FORMATS + ("gadf", "gadf-dl3")


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"argument 'format': unknown value {format!r}, allowed: {FORMATS}")


def _column_quantity(table: Table, name: str, where: str) -> u.Quantity:
    if name not in table.colnames:
        raise FITSFormatError(f"{where}: missing column {name!r} (have {table.colnames})")
    col = table[name]
    unit = col.unit if col.unit is not None else u.dimensionless_unscaled
    return u.Quantity(np.asarray(col, dtype=float), unit)


def table_to_hdu(table: Table) -> fits.BinTableHDU:
    """Table to a `~astropy.io.fits.BinTableHDU` named after ``table.meta['EXTNAME']``."""
    hdu = fits.table_to_hdu(Table(table, copy=False))
    if "EXTNAME" in table.meta:
        hdu.name = table.meta["EXTNAME"]
    return hdu


# ---------------------------------------------------------------------------- single axis
def axis_to_table(axis, format: str = "ogip") -> Table:
    """One axis as a table (see module docstring for the formats)."""
    _check_format(format)
    if format in _OGIP_FORMATS:
        if not axis.is_energy_axis and axis.name != "":
            raise ValueError(f"format {format!r} requires an energy axis, got {axis.name!r}")
        unit = "keV" if format.endswith("sherpa") else axis.unit
        edges = axis.edges.to(unit)
        table = Table()
        if format.startswith("ogip-arf"):
            table["ENERG_LO"] = edges[:-1]
            table["ENERG_HI"] = edges[1:]
            table.meta.update(EXTNAME="SPECRESP", HDUCLASS="OGIP", HDUCLAS1="RESPONSE",
                              HDUCLAS2="SPECRESP", HDUVERS="1.1.0")
        else:
            table["CHANNEL"] = np.arange(axis.nbin, dtype=np.int16)
            table["E_MIN"] = edges[:-1]
            table["E_MAX"] = edges[1:]
            table.meta.update(EXTNAME="EBOUNDS", HDUCLASS="OGIP", HDUCLAS1="RESPONSE",
                              HDUCLAS2="EBOUNDS", HDUVERS="1.2.0", CHANTYPE="PHA",
                              DETCHANS=axis.nbin, TLMIN1=0, TLMAX1=max(axis.nbin - 1, 0))
        return table
    if format == "gadf":
        from ._axes import MapAxes

        return axes_to_table(MapAxes([axis]), format="gadf")
    return axes_to_table_dl3([axis])


def _ravel_dl3_column(table: Table, name: str, where: str) -> u.Quantity:
    q = _column_quantity(table, name, where)
    if len(table) == 1:
        return q[0].ravel()
    return q.ravel()


def _dl3_unit(values: u.Quantity, axis_name: str, where: str, column: str) -> u.Quantity:
    if values.unit == u.dimensionless_unscaled and axis_name in _DEFAULT_UNITS:
        unit = _DEFAULT_UNITS[axis_name]
        warnings.warn(f"{where}: column {column!r} has no unit, assuming {unit}", stacklevel=3)
        return u.Quantity(values.value, unit)
    return values


def axis_from_table(table: Table, format: str = "ogip", idx: int = 0, column_prefix=None):
    """Read one axis from a table (see module docstring for the formats)."""
    from ._axis import MapAxis

    _check_format(format)
    where = f"table {table.meta.get('EXTNAME', '')!s}".strip()
    if format in ("ogip", "ogip-sherpa"):
        lo = _column_quantity(table, "E_MIN", where)
        hi = _column_quantity(table, "E_MAX", where)
        edges = _edges_from_lo_hi(lo, hi, where, "E_MIN/E_MAX")
        unit = "TeV" if edges.unit == u.dimensionless_unscaled else edges.unit
        return MapAxis.from_energy_edges(u.Quantity(edges.value, unit), name="energy")
    if format in ("ogip-arf", "ogip-arf-sherpa"):
        lo = _column_quantity(table, "ENERG_LO", where)
        hi = _column_quantity(table, "ENERG_HI", where)
        edges = _edges_from_lo_hi(lo, hi, where, "ENERG_LO/ENERG_HI")
        unit = "TeV" if edges.unit == u.dimensionless_unscaled else edges.unit
        return MapAxis.from_energy_edges(u.Quantity(edges.value, unit), name="energy_true")
    if format == "gadf":
        return axes_from_table(table, format="gadf")[idx]
    # gadf-dl3
    if column_prefix is None:
        return axes_from_table(table, format="gadf-dl3")[idx]
    return _dl3_axis(table, column_prefix, where)


def _edges_from_lo_hi(lo: u.Quantity, hi: u.Quantity, where: str, columns: str) -> u.Quantity:
    lo = np.atleast_1d(lo)
    hi = np.atleast_1d(hi).to(lo.unit)
    if lo.shape != hi.shape or lo.size == 0:
        raise FITSFormatError(f"{where}: columns {columns} have shapes {lo.shape}, {hi.shape}")
    if lo.size > 1 and not np.allclose(lo.value[1:], hi.value[:-1], rtol=1e-5, atol=0):
        raise FITSFormatError(
            f"{where}: columns {columns} do not describe contiguous bins "
            f"(lo[1:] != hi[:-1])"
        )
    return u.Quantity(np.append(lo.value, hi.value[-1]), lo.unit)


def _dl3_axis_name(prefix: str, meta: dict) -> str:
    name = DL3_AXIS_PREFIXES.get(prefix.upper())
    if name is None:
        return prefix.lower()
    if prefix.upper() == "ENERG" and str(meta.get("HDUCLAS2", "")).upper() in _RECO_ENERGY_HDUCLAS2:
        return "energy"
    return name


def _dl3_axis(table: Table, prefix: str, where: str):
    from ._axis import MapAxis

    prefix = prefix.upper()
    name = _dl3_axis_name(prefix, table.meta)
    interp = "log" if name in ("energy", "energy_true") else "lin"
    lo_name, hi_name = f"{prefix}_LO", f"{prefix}_HI"
    if lo_name in table.colnames and hi_name in table.colnames:
        lo = _ravel_dl3_column(table, lo_name, where)
        hi = _ravel_dl3_column(table, hi_name, where)
        if lo.shape == hi.shape and np.array_equal(lo.value, hi.to_value(lo.unit)):
            # node values written in both columns (e.g. H.E.S.S. THETA): a centre axis
            nodes = _dl3_unit(lo, name, where, lo_name)
            try:
                return MapAxis.from_nodes(nodes, interp=interp, name=name)
            except ValueError as exc:
                raise FITSFormatError(f"{where}: column {lo_name}: {exc}") from exc
        edges = _edges_from_lo_hi(lo, hi, where, f"{lo_name}/{hi_name}")
        edges = _dl3_unit(edges, name, where, lo_name)
        try:
            return MapAxis.from_edges(edges, interp=interp, name=name)
        except ValueError as exc:
            raise FITSFormatError(f"{where}: columns {lo_name}/{hi_name}: {exc}") from exc
    if prefix in table.colnames:
        nodes = _dl3_unit(_ravel_dl3_column(table, prefix, where), name, where, prefix)
        try:
            return MapAxis.from_nodes(nodes, interp=interp, name=name)
        except ValueError as exc:
            raise FITSFormatError(f"{where}: column {prefix}: {exc}") from exc
    raise FITSFormatError(
        f"{where}: no columns {lo_name}/{hi_name} or {prefix} (have {table.colnames})"
    )


def axes_to_table_dl3(axes) -> Table:
    """Single-row GADF DL3 table with one ``<PREFIX>_LO/_HI`` pair per axis."""
    table = Table()
    for axis in axes:
        prefix = _DL3_PREFIX_OF_NAME.get(axis.name, axis.name.upper())
        if axis.node_type == "edges":
            table[f"{prefix}_LO"] = axis.edges_min[np.newaxis]
            table[f"{prefix}_HI"] = axis.edges_max[np.newaxis]
        else:
            table[prefix] = axis.center[np.newaxis]
    return table


def dl3_prefixes(table: Table) -> list[str]:
    """Axis column prefixes of a GADF DL3 table, in column order."""
    prefixes = []
    for name in table.colnames:
        upper = name.upper()
        if upper.endswith("_LO") and f"{name[:-3]}_HI" in table.colnames:
            prefixes.append(name[:-3])
    return prefixes


# ---------------------------------------------------------------------------- several axes
def _gadf_columns(axis) -> list[str]:
    from ._axis_other import LabelMapAxis, TimeMapAxis

    upper = axis.name.upper()
    if isinstance(axis, LabelMapAxis):
        return [upper]
    if isinstance(axis, TimeMapAxis):
        return [f"{upper}_MIN", f"{upper}_MAX"]
    if axis.node_type == "edges":
        if axis.name == "energy":
            return ["E_MIN", "E_MAX"]
        return [f"{upper}_MIN", f"{upper}_MAX"]
    return ["ENERGY" if axis.name == "energy" else upper]


def axes_to_table(axes, format: str = "gadf") -> Table:
    """Table describing several axes ("gadf" BANDS table or "gadf-dl3" IRF axes)."""
    from ._axis_other import LabelMapAxis, TimeMapAxis

    if format == "gadf-dl3":
        return axes_to_table_dl3(axes)
    if format != "gadf":
        if len(axes) != 1:
            raise ValueError(f"format {format!r} supports a single axis, got {len(axes)}")
        return axis_to_table(axes[0], format=format)
    shape = tuple(ax.nbin for ax in axes)
    nband = int(np.prod(shape)) if shape else 1
    idx = np.unravel_index(np.arange(nband), shape, order="F") if shape else ()
    table = Table()
    table["CHANNEL"] = np.arange(nband, dtype=np.int64)
    meta = {"EXTNAME": "BANDS"}
    for i, axis in enumerate(axes):
        columns = _gadf_columns(axis)
        meta[f"AXCOLS{i + 1}"] = ",".join(columns)
        if isinstance(axis, LabelMapAxis):
            table[columns[0]] = np.asarray(axis.center)[idx[i]]
            continue
        if isinstance(axis, TimeMapAxis):
            table[columns[0]] = u.Quantity(axis.time_min.mjd[idx[i]], "d")
            table[columns[1]] = u.Quantity(axis.time_max.mjd[idx[i]], "d")
            meta[f"INTERP{i + 1}"] = axis.interp
            meta.update(MJDREFI=0, MJDREFF=0.0, TIMESYS=axis.reference_time.scale.upper(),
                        TIMEUNIT="d", TIMEREF="LOCAL")
            continue
        meta[f"INTERP{i + 1}"] = axis.interp
        if axis.node_type == "edges":
            table[columns[0]] = axis.edges_min[idx[i]]
            table[columns[1]] = axis.edges_max[idx[i]]
        else:
            table[columns[0]] = axis.center[idx[i]]
    table.meta.update(meta)
    return table


def _axis_name_from_columns(columns: list[str]) -> str:
    first = columns[0].upper()
    if first in ("E_MIN", "ENERGY"):
        return "energy"
    for suffix in ("_MIN", "_LO"):
        if first.endswith(suffix):
            return first[: -len(suffix)].lower()
    return first.lower()


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    return np.unique(values)


def _unique_in_order(values: np.ndarray) -> np.ndarray:
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def axes_from_table(table: Table, format: str = "gadf"):
    """Read all axes described by a table ("gadf" BANDS or "gadf-dl3" IRF table)."""
    from ._axes import MapAxes
    from ._axis import MapAxis
    from ._axis_other import LabelMapAxis, TimeMapAxis

    where = f"table {table.meta.get('EXTNAME', '')!s}".strip()
    if format == "gadf-dl3":
        axes = [_dl3_axis(table, p, where) for p in dl3_prefixes(table)]
        return MapAxes(axes)
    if format != "gadf":
        return MapAxes([axis_from_table(table, format=format)])
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    axcols = []
    i = 1
    while f"AXCOLS{i}" in meta:
        axcols.append([c.strip() for c in str(meta[f"AXCOLS{i}"]).split(",") if c.strip()])
        i += 1
    if not axcols:
        if "E_MIN" in table.colnames:
            axcols = [["E_MIN", "E_MAX"]]
        elif "ENERGY" in table.colnames:
            axcols = [["ENERGY"]]
        else:
            raise FITSFormatError(f"{where}: no AXCOLS keywords and no E_MIN/E_MAX or ENERGY")
    axes = []
    for i, columns in enumerate(axcols):
        name = _axis_name_from_columns(columns)
        for col in columns:
            if col not in table.colnames:
                raise FITSFormatError(f"{where}: AXCOLS{i + 1} names missing column {col!r}")
        col0 = table[columns[0]]
        if col0.dtype.kind in "US":
            labels = _unique_in_order(np.asarray(col0).astype(str))
            axes.append(LabelMapAxis(labels, name=name))
            continue
        interp = str(meta.get(f"INTERP{i + 1}", "log" if name.startswith("energy") else "lin"))
        if name == "time" and len(columns) == 2:
            axes.append(TimeMapAxis.from_table(table, format="gadf", column_names=columns))
            continue
        if len(columns) == 2:
            lo = _column_quantity(table, columns[0], where)
            hi = _column_quantity(table, columns[1], where)
            lo_u = _unique_sorted(lo.value)
            hi_u = _unique_sorted(hi.to_value(lo.unit))
            edges = _edges_from_lo_hi(u.Quantity(lo_u, lo.unit), u.Quantity(hi_u, lo.unit),
                                      where, ",".join(columns))
            unit = edges.unit
            if unit == u.dimensionless_unscaled and name in _DEFAULT_UNITS:
                unit = u.Unit("keV") if columns[0] == "E_MIN" else u.Unit(_DEFAULT_UNITS[name])
            axes.append(MapAxis.from_edges(edges.value, interp=interp, name=name, unit=unit))
        else:
            values = _column_quantity(table, columns[0], where)
            nodes = _unique_sorted(values.value)
            axes.append(MapAxis.from_nodes(nodes, interp=interp, name=name, unit=values.unit))
    return MapAxes(axes)
