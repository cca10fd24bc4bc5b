"""Pixel <-> coordinate interpolation of one map axis (pure numpy, vectorised).

An axis maps the pixel coordinate ``pix`` to a coordinate through piecewise-linear
interpolation of its nodes in a transformed space: ``coord`` (lin), ``log(coord)`` (log)
or ``sign(coord) sqrt(|coord|)`` (sqrt). The nodes sit at integer positions
``0 .. n-1``; outside the node range the first / last segment is extended linearly (in
the transformed space). Also validation helpers for axis nodes.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = [
    "INTERP_SCALES",
    "NODE_TYPES",
    "scale_forward",
    "scale_inverse",
    "interp_extrapolate",
]

INTERP_SCALES = ("lin", "log", "sqrt")
NODE_TYPES = ("edges", "center")

# smallest positive value accepted on a log axis (zero maps to a very negative pixel)
_LOG_TINY = float(np.finfo(np.float32).tiny)


def scale_forward(values: np.ndarray, interp: str) -> np.ndarray:
    """Transform coordinates to the space in which the axis is linear."""
    values = np.asarray(values, dtype=float)
    if interp == "lin":
        return values
    if interp == "log":
        with np.errstate(invalid="ignore"):
            return np.log(np.clip(values, _LOG_TINY, np.inf))
    if interp == "sqrt":
        return np.sign(values) * np.sqrt(np.abs(values))
    raise ValueError(f"argument 'interp': unknown value {interp!r}, allowed: {INTERP_SCALES}")


def scale_inverse(values: np.ndarray, interp: str) -> np.ndarray:
    """Inverse of :func:`scale_forward`."""
    values = np.asarray(values, dtype=float)
    if interp == "lin":
        return values
    if interp == "log":
        with np.errstate(over="ignore"):
            return np.exp(values)
    if interp == "sqrt":
        return np.sign(values) * values**2
    raise ValueError(f"argument 'interp': unknown value {interp!r}, allowed: {INTERP_SCALES}")


def interp_extrapolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation with linear extrapolation beyond both ends.

    ``xp`` must be strictly increasing. For a single node the value is constant.
    The arithmetic is ``slope * (x - xp[lo]) + fp[lo]`` on the segment ``[lo, lo + 1]``
    found with a left-sided search, so that nodes are reproduced to the last bit when
    ``xp`` holds integers.
    """
    x = np.asarray(x, dtype=float)
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    if xp.size == 1:
        return np.full(x.shape, fp[0]) + 0.0 * x
    hi = np.clip(np.searchsorted(xp, x, side="left"), 1, xp.size - 1)
    lo = hi - 1
    slope = (fp[hi] - fp[lo]) / (xp[hi] - xp[lo])
    return slope * (x - xp[lo]) + fp[lo]


def _as_unit(unit) -> u.UnitBase:
    if unit is None or unit == "":
        return u.dimensionless_unscaled
    return u.Unit(unit)


def _validate_nodes(values, interp: str, node_type: str, argname: str) -> np.ndarray:
    """Check axis nodes; return a float64 1D array. Errors name ``argname``."""
    if interp not in INTERP_SCALES:
        raise ValueError(f"argument 'interp': unknown value {interp!r}, allowed: {INTERP_SCALES}")
    if node_type not in NODE_TYPES:
        raise ValueError(
            f"argument 'node_type': unknown value {node_type!r}, allowed: {NODE_TYPES}"
        )
    try:
        arr = np.array(values, dtype=float, ndmin=1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"argument {argname!r}: not numeric ({values!r})") from exc
    if arr.ndim != 1:
        raise ValueError(f"argument {argname!r}: must be one-dimensional, got shape {arr.shape}")
    nmin = 2 if node_type == "edges" else 1
    if arr.size < nmin:
        raise ValueError(
            f"argument {argname!r}: need at least {nmin} value(s) for node_type={node_type!r} "
            f"(nbin >= 1), got {arr.tolist()}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"argument {argname!r}: non-finite values in {arr.tolist()}")
    diff = np.diff(arr)
    if np.any(diff <= 0):
        bad = int(np.argmax(diff <= 0))
        raise ValueError(
            f"argument {argname!r}: values must be strictly increasing, got "
            f"{float(arr[bad])!r} followed by {float(arr[bad + 1])!r}"
        )
    if interp == "log" and arr[0] <= 0:
        raise ValueError(
            f"argument {argname!r}: log axis requires positive values, got {float(arr[0])!r}"
        )
    if interp == "sqrt" and arr[0] < 0:
        raise ValueError(
            f"argument {argname!r}: sqrt axis requires non-negative values, "
            f"got {float(arr[0])!r}"
        )
    return arr


def _values_in_unit(values, unit: u.UnitBase, argname: str) -> np.ndarray:
    """Values as float array in ``unit`` (plain numbers are taken to be in ``unit``)."""
    if isinstance(values, u.Quantity):
        try:
            return values.to_value(unit)
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"argument {argname!r}: unit {values.unit} not convertible to axis unit {unit}"
            ) from exc
    if isinstance(values, str):
        return u.Quantity(values).to_value(unit)
    return np.asarray(values, dtype=float)
