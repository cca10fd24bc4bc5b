"""GADF DL3 IRF format glue: HDU-class detection, axis column parsing, data layout.

GADF IRF HDUs (``fits-arrays-bintable-hdu``) hold one table row; each axis is a pair of
array columns ``<PREFIX>_LO`` / ``<PREFIX>_HI`` and the IRF values are one array column
whose FITS ``TDIM`` lists the axes fastest-first in the order of the axis columns (also
declared by the ``CREFn`` keyword when present). Read through numpy the array therefore
has the axes in *reverse* column order; gammapipe transposes it to the axis order of
the IRF class (e.g. ``energy_true, offset`` for ``aeff_2d``).

Axis columns and the names of the gammapipe axes:

=========  ===========================  ==================================
prefix     axis name                    notes
=========  ===========================  ==================================
ENERG      energy_true / energy         reco energy for bkg_* and rad_max
ETRUE      energy_true                  (CTA 1DC edisp)
THETA      offset                       field-of-view offset
MIGRA      migra                        E_reco / E_true, dimensionless
RAD        rad                          angular separation from the source
DETX       fov_lon                      see below
DETY       fov_lat
=========  ===========================  ==================================

Field-of-view coordinates (GADF "coords-fov"): ``DETX``/``DETY`` are the longitude /
latitude of a spherical system whose origin is the pointing position, either aligned
with RA/Dec (``FOVALIGN = 'RADEC'``, the default) or with Alt/Az (``'ALTAZ'``). In the
RADEC alignment ``fov_lon`` increases towards increasing RA (to the east, i.e. to the
left on a sky image) and ``fov_lat`` towards increasing Dec; for ALTAZ ``fov_lon``
increases with azimuth and ``fov_lat`` with altitude. gammapipe keeps the file values
unchanged (no sign flip): ``fov_lon = DETX`` and ``fov_lat = DETY``.
"""

from __future__ import annotations

import re

import astropy.units as u
import numpy as np
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, UnitError
from gammapipe.utils.fits import parse_unit

__all__ = [
    "HDUCLAS_TO_TAG",
    "detect_hdu_class",
    "axes_from_gadf_table",
    "axis_to_gadf_columns",
    "column_axis_order",
    "data_to_class_order",
]

# Default column prefix of each axis, used when writing.
AXIS_TO_PREFIX = {
    "energy_true": "ENERG",
    "energy": "ENERG",
    "offset": "THETA",
    "migra": "MIGRA",
    "rad": "RAD",
    "fov_lon": "DETX",
    "fov_lat": "DETY",
}

_AXIS_DEFAULT_UNIT = {
    "energy_true": u.TeV,
    "energy": u.TeV,
    "offset": u.deg,
    "migra": u.dimensionless_unscaled,
    "rad": u.deg,
    "fov_lon": u.deg,
    "fov_lat": u.deg,
}

# (HDUCLAS2, HDUCLAS4) -> tag. HDUCLAS4 spellings seen in real files are accepted.
HDUCLAS_TO_TAG = {
    ("EFF_AREA", "AEFF_2D"): "aeff_2d",
    ("EFF_AREA", "2D"): "aeff_2d",
    ("EDISP", "EDISP_2D"): "edisp_2d",
    ("EDISP", "2D"): "edisp_2d",
    ("RPSF", "PSF_TABLE"): "psf_table",
    ("RPSF", "PSF_3GAUSS"): "psf_3gauss",
    ("RPSF", "3GAUSS"): "psf_3gauss",
    ("RPSF", "PSF_KING"): "psf_king",
    ("RPSF", "KING"): "psf_king",
    ("BKG", "BKG_3D"): "bkg_3d",
    ("BKG", "3D"): "bkg_3d",
    ("BKG", "BKG_2D"): "bkg_2d",
    ("BKG", "2D"): "bkg_2d",
    ("RAD_MAX", "RAD_MAX_2D"): "rad_max_2d",
    ("RAD_MAX", "2D"): "rad_max_2d",
}

# HDUCLAS2 / HDUCLAS4 written for each tag
TAG_TO_HDUCLAS = {
    "aeff_2d": ("EFF_AREA", "AEFF_2D"),
    "edisp_2d": ("EDISP", "EDISP_2D"),
    "psf_table": ("RPSF", "PSF_TABLE"),
    "psf_3gauss": ("RPSF", "PSF_3GAUSS"),
    "psf_king": ("RPSF", "PSF_KING"),
    "bkg_3d": ("BKG", "BKG_3D"),
    "bkg_2d": ("BKG", "BKG_2D"),
    "rad_max_2d": ("RAD_MAX", "RAD_MAX_2D"),
}

_TAGS_RECO_ENERGY = ("bkg_3d", "bkg_2d", "rad_max_2d")


def _clean(value) -> str:
    return str(value).strip().upper() if value is not None else ""


def detect_hdu_class(header, where: str = "") -> str:
    """Return the IRF tag (``"aeff_2d"``, ...) from the HDUCLAS keywords of ``header``.

    Falls back on the column names (EFFAREA, MATRIX, RPSF, SIGMA_1, GAMMA, BKG, RAD_MAX)
    when the HDUCLAS keywords are missing or unknown.
    """
    clas2 = _clean(header.get("HDUCLAS2"))
    clas4 = _clean(header.get("HDUCLAS4"))
    tag = HDUCLAS_TO_TAG.get((clas2, clas4))
    if tag is not None:
        return tag
    lowered = clas4.lower()
    if lowered in TAG_TO_HDUCLAS:
        return lowered
    columns = {_clean(header[key]) for key in header if re.fullmatch(r"TTYPE\d+", str(key))}
    if columns & {"EFFAREA", "AEFF", "EFFAREA_RECO"}:
        return "aeff_2d"
    if "MATRIX" in columns and "MIGRA_LO" in columns:
        return "edisp_2d"
    if "RPSF" in columns:
        return "psf_table"
    if {"SIGMA_1", "AMPL_2"} <= columns:
        return "psf_3gauss"
    if {"GAMMA", "SIGMA"} <= columns:
        return "psf_king"
    if columns & {"BKG", "BGD"}:
        return "bkg_3d" if "DETX_LO" in columns else "bkg_2d"
    if "RAD_MAX" in columns:
        return "rad_max_2d"
    raise FITSFormatError(
        f"{where}: cannot identify the IRF type (HDUCLAS2={clas2!r}, HDUCLAS4={clas4!r}, "
        f"columns {sorted(columns)})"
    )


def _prefix_to_axis_name(prefix: str, tag: str) -> str:
    if prefix == "ENERG":
        return "energy" if tag in _TAGS_RECO_ENERGY else "energy_true"
    return {
        "ETRUE": "energy_true",
        "EREC": "energy",
        "E": "energy",
        "THETA": "offset",
        "MIGRA": "migra",
        "RAD": "rad",
        "DETX": "fov_lon",
        "DETY": "fov_lat",
    }[prefix]


_PREFIXES = ("ENERG", "ETRUE", "EREC", "E", "THETA", "MIGRA", "RAD", "DETX", "DETY")


def column_axis_order(table: Table, tag: str) -> list[str]:
    """Axis names in the order of the axis columns of a GADF table (fastest TDIM first).

    Uses ``CREFn`` of the data column when present, else the order of the ``*_LO`` columns.
    """
    prefixes = []
    for name in table.colnames:
        match = re.fullmatch(r"(\w+?)_LO", name.upper())
        if match and match.group(1) in _PREFIXES:
            prefixes.append(match.group(1))
    cref = None
    for key, value in table.meta.items():
        if re.fullmatch(r"CREF\d+", str(key)):
            cref = [p.split(":")[0].strip().upper() for p in str(value).strip("() ").split(",")]
            break
    if cref:
        ordered = [c[:-3] for c in cref if c.endswith("_LO") and c[:-3] in prefixes]
        if sorted(ordered) == sorted(prefixes):
            prefixes = ordered
    return [_prefix_to_axis_name(p, tag) for p in prefixes]


def _find_prefix(table: Table, axis_name: str, tag: str) -> str:
    for name in table.colnames:
        match = re.fullmatch(r"(\w+?)_LO", name.upper())
        if match and match.group(1) in _PREFIXES:
            if _prefix_to_axis_name(match.group(1), tag) == axis_name:
                return name[: -len("_LO")]
    raise KeyError(axis_name)


def axes_from_gadf_table(table: Table, tag: str, required_axes: list[str], where: str = ""):
    """Build the `~gammapipe.maps.MapAxes` of an IRF from the axis column pairs.

    Raises
    ------
    FITSFormatError
        A required axis column pair is missing, empty or not increasing.
    UnitError
        An axis column has a unit incompatible with the axis (e.g. energy in deg).
    """
    from gammapipe.maps import MapAxes, MapAxis

    if len(table) < 1:
        raise FITSFormatError(f"{where}: the IRF table has no rows")
    axes = []
    for name in required_axes:
        try:
            prefix = _find_prefix(table, name, tag)
        except KeyError:
            want = {"energy_true": "ENERG_LO/ENERG_HI (or ETRUE_LO/ETRUE_HI)"}.get(
                name, f"{AXIS_TO_PREFIX[name]}_LO/{AXIS_TO_PREFIX[name]}_HI"
            )
            raise FITSFormatError(
                f"{where}: missing column pair {want} for axis {name!r} (have {table.colnames})"
            ) from None
        if f"{prefix}_HI" not in table.colnames:
            raise FITSFormatError(
                f"{where}: missing column {prefix}_HI for axis {name!r} (have {table.colnames})"
            )
        lo_col, hi_col = table[f"{prefix}_LO"], table[f"{prefix}_HI"]
        unit = lo_col.unit if lo_col.unit is not None else hi_col.unit
        unit = u.dimensionless_unscaled if unit is None else parse_unit(unit, where)
        default = _AXIS_DEFAULT_UNIT[name]
        if not unit.is_equivalent(default):
            raise UnitError(
                f"{where}: column {prefix}_LO has unit {unit!r}, not convertible to {default} "
                f"(axis {name!r})"
            )
        lo = np.atleast_1d(np.asarray(lo_col[0], dtype=float)).ravel()
        hi = np.atleast_1d(np.asarray(hi_col[0], dtype=float)).ravel()
        if lo.size == 0 or lo.size != hi.size:
            raise FITSFormatError(
                f"{where}: columns {prefix}_LO/{prefix}_HI are empty or differ in length"
            )
        interp = "log" if name.startswith("energy") else "lin"
        if lo.size > 1 and np.array_equal(lo, hi):
            # LO == HI: the columns list node values (e.g. H.E.S.S. THETA); the bin edges
            # are the midpoints between nodes, extrapolated at both ends
            nodes = lo
            if not (np.all(np.isfinite(nodes)) and np.all(np.diff(nodes) > 0)):
                raise FITSFormatError(
                    f"{where}: columns {prefix}_LO/{prefix}_HI are not finite and increasing"
                )
            axes.append(MapAxis.from_nodes(nodes, unit=unit, name=name, interp=interp))
            continue
        edges = np.append(lo, hi[-1])
        if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)):
            raise FITSFormatError(
                f"{where}: columns {prefix}_LO/{prefix}_HI are not finite and increasing"
            )
        axes.append(MapAxis.from_edges(edges, unit=unit, name=name, interp=interp))
    return MapAxes(axes)


def axis_to_gadf_columns(axis, prefix: str | None = None) -> dict[str, u.Quantity]:
    """Return ``{PREFIX_LO: edges[:-1], PREFIX_HI: edges[1:]}`` (shape ``(1, nbin)``)."""
    prefix = prefix or AXIS_TO_PREFIX[axis.name]
    if axis.node_type == "center" and axis.nbin > 1:
        nodes = u.Quantity(axis.center)[np.newaxis]
        return {f"{prefix}_LO": nodes, f"{prefix}_HI": nodes.copy()}
    edges = u.Quantity(axis.edges)
    return {f"{prefix}_LO": edges[:-1][np.newaxis], f"{prefix}_HI": edges[1:][np.newaxis]}


def data_to_class_order(
    data: np.ndarray,
    numpy_orders: list[list[str]],
    class_axes: list[str],
    shape: tuple,
    where: str,
) -> np.ndarray:
    """Transpose a data array read with numpy to the axis order of the IRF class.

    ``numpy_orders`` are candidate axis orders of the numpy array (slowest first), tried
    in turn; the first whose transposition matches ``shape`` is used. Axes of the file
    not needed by the class must have length 1 (they are dropped).
    """
    data = np.asarray(data)
    for numpy_axes in numpy_orders:
        if data.ndim != len(numpy_axes) or not set(class_axes) <= set(numpy_axes):
            continue
        perm = [numpy_axes.index(name) for name in class_axes]
        extra = [i for i, name in enumerate(numpy_axes) if name not in class_axes]
        out = np.transpose(data, perm + extra)
        if any(out.shape[len(perm) + k] != 1 for k in range(len(extra))):
            continue
        out = out.reshape(out.shape[: len(perm)])
        if out.shape == tuple(shape):
            return out
    raise FITSFormatError(
        f"{where}: data array of shape {data.shape} does not match the axes "
        f"{dict(zip(class_axes, shape, strict=True))} (axis column order "
        f"{list(reversed(numpy_orders[-1]))})"
    )
