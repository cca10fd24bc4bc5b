"""Extraction of event coordinates for filling maps (no dependency on the data layer)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from gammapipe.utils.errors import FITSFormatError

__all__ = ["event_coords", "event_skycoord", "event_axis_values"]


def _table_of(events):
    from astropy.table import Table

    if isinstance(events, Table):
        return events
    table = getattr(events, "table", None)
    return table if isinstance(table, Table) else None


def event_skycoord(events) -> SkyCoord:
    """Sky positions of events: ``events.radec`` or the RA / DEC table columns."""
    radec = getattr(events, "radec", None)
    if isinstance(radec, SkyCoord):
        return radec
    table = _table_of(events)
    if table is None:
        raise FITSFormatError(
            "events: expected an object with a `.radec` SkyCoord or an astropy Table with "
            f"RA/DEC columns, got {type(events).__name__}"
        )
    cols = {c.upper(): c for c in table.colnames}
    if "RA" not in cols or "DEC" not in cols:
        raise FITSFormatError(f"events: missing RA/DEC columns (have {table.colnames})")
    ra = u.Quantity(table[cols["RA"]], u.deg if table[cols["RA"]].unit is None else None)
    dec = u.Quantity(table[cols["DEC"]], u.deg if table[cols["DEC"]].unit is None else None)
    return SkyCoord(ra, dec, frame="icrs")


def event_axis_values(events, name: str) -> u.Quantity | np.ndarray:
    """Values of the event column matching the map axis ``name`` (e.g. ``energy``)."""
    value = getattr(events, name, None) if not hasattr(events, "colnames") else None
    if value is not None and not callable(value):
        return value
    table = _table_of(events)
    if table is not None:
        cols = {c.upper(): c for c in table.colnames}
        key = name.upper()
        if key in cols:
            col = table[cols[key]]
            return u.Quantity(col) if col.unit is not None else np.asarray(col)
        raise FITSFormatError(
            f"events: no column {key!r} for map axis {name!r} (have {table.colnames})"
        )
    raise FITSFormatError(f"events: no attribute or column for map axis {name!r}")


def event_coords(events, axis_names) -> dict:
    """Map coordinates ``{"skycoord": ..., <axis>: ...}`` of events."""
    coords = {"skycoord": event_skycoord(events)}
    for name in axis_names:
        coords[name] = event_axis_values(events, name)
    return coords


def _forward(values: np.ndarray, interp: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if interp == "log":
            return np.log(values)
        if interp == "sqrt":
            return np.sqrt(values)
    return values


def make_bin_indexer(edges: np.ndarray, interp: str = "lin"):
    """Function ``values -> bin index`` for increasing ``edges`` (-1 outside or NaN).

    Bins include their lower edge; the upper edge of the last bin belongs to it (as
    ``MapAxis.coord_to_idx``). Edges regularly spaced in the axis ``interp`` space (linear,
    log or sqrt) are indexed arithmetically, then corrected by one bin where round-off
    puts a value on the wrong side of an edge, so the result equals `numpy.searchsorted`
    at a fraction of its cost; other edges use `numpy.searchsorted`.
    """
    edges = np.asarray(edges, dtype=float)
    nbin = edges.size - 1
    scaled = _forward(edges, interp)
    step = np.diff(scaled)
    regular = bool(
        nbin >= 1
        and np.all(np.isfinite(scaled))
        and step[0] > 0
        and np.allclose(step, step[0], rtol=1e-9, atol=0)
    )
    upper = edges[-1] * (1 + 1e-12) if edges[-1] >= 0 else edges[-1] * (1 - 1e-12)
    start = scaled[0]
    inv_step = 1.0 / step[0] if regular else 0.0

    def index(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if regular:
            guess = _forward(values, interp) - start
            guess *= inv_step
            np.floor(guess, out=guess)
            np.clip(guess, 0, nbin - 1, out=guess)  # NaN stays NaN
            ii = np.nan_to_num(guess, nan=0.0, copy=False).astype(np.intp)
            idx = ii - (values < edges[ii])
            idx += values >= edges[ii + 1]
        else:
            idx = np.searchsorted(edges, values, side="right") - 1
        idx[(idx == nbin) & (values <= upper)] = nbin - 1
        idx[(idx >= nbin) | ~(values == values)] = -1
        idx[idx < 0] = -1
        return idx

    return index


def bin_index(values: np.ndarray, edges: np.ndarray, interp: str = "lin") -> np.ndarray:
    """Bin index of ``values`` in ``edges``; see `make_bin_indexer`."""
    return make_bin_indexer(edges, interp)(values)
