"""Vectorised interpolation of values defined on a regular pixel grid.

All functions work on pixel coordinates (float arrays, one per array dimension, in
numpy order). Interpolating linearly in *pixel* coordinates is linear in the axis
interpolation space of the map: a ``log`` axis maps coordinates to pixels linearly in
``log(coordinate)``, so multilinear interpolation on the pixel grid is linear in the log
of the coordinate on such an axis.

The value transformation (``values_scale``) is applied before interpolation and inverted
afterwards, e.g. ``"log"`` interpolates ``log(value)`` (exact for power laws on log axes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gammapipe.utils.errors import GammapipeError

__all__ = [
    "VALUE_SCALES",
    "scale_values",
    "inverse_scale_values",
    "interp_linear_pix",
    "interp_nearest_pix",
    "interp_pix",
]


_TINY = float(np.finfo(np.float32).tiny)


def _log_forward(values: np.ndarray) -> np.ndarray:
    # zeros (and negatives) are clipped to the smallest float32 so that log stays finite
    return np.log(np.clip(values, _TINY, np.inf))


def _sqrt_forward(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.sqrt(np.abs(values))


def _sqrt_inverse(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * values**2


VALUE_SCALES = {
    "lin": (lambda v: v, lambda v: v),
    "log": (_log_forward, np.exp),
    "sqrt": (_sqrt_forward, _sqrt_inverse),
}


def _check_scale(values_scale: str) -> None:
    if values_scale not in VALUE_SCALES:
        raise GammapipeError(
            f"argument 'values_scale': {values_scale!r} is not one of {sorted(VALUE_SCALES)}"
        )


def scale_values(values: np.ndarray, values_scale: str = "lin") -> np.ndarray:
    """Transform values to the interpolation space (``lin``, ``log`` or ``sqrt``)."""
    _check_scale(values_scale)
    return VALUE_SCALES[values_scale][0](np.asarray(values, dtype=float))


def inverse_scale_values(values: np.ndarray, values_scale: str = "lin") -> np.ndarray:
    """Inverse of :func:`scale_values`."""
    _check_scale(values_scale)
    return VALUE_SCALES[values_scale][1](values)


def _prepare(data: np.ndarray, pix: Sequence) -> tuple[np.ndarray, list[np.ndarray], tuple]:
    data = np.asarray(data)
    if len(pix) != data.ndim:
        raise GammapipeError(
            f"interpolation: got {len(pix)} pixel coordinate arrays for data with "
            f"{data.ndim} dimensions"
        )
    arrays = np.broadcast_arrays(*[np.asarray(p, dtype=float) for p in pix])
    shape = arrays[0].shape
    return data, [a.ravel() for a in arrays], shape


# tolerance of the in-bounds test, in pixels: a coordinate computed independently of the
# axis nodes (e.g. ``np.geomspace`` of the same bounds) may land a few ulps outside the grid
_PIX_TOL = 1e-9


def _outside(pix: list[np.ndarray], shape: tuple[int, ...], margin: float) -> np.ndarray:
    """Boolean mask of points outside ``[-margin, n - 1 + margin]`` on any dimension.

    The bounds are widened by ``_PIX_TOL`` (1e-9 pixel) against float round-off. A
    dimension of length one accepts points within half a pixel of its centre.
    """
    bad = np.zeros(pix[0].shape, dtype=bool)
    for p, n in zip(pix, shape, strict=True):
        m = (0.5 if n == 1 else margin) + _PIX_TOL
        bad |= ~((p >= -m) & (p <= n - 1 + m))
    return bad


def interp_nearest_pix(
    data: np.ndarray, pix: Sequence, fill_value: float | None = np.nan
) -> np.ndarray:
    """Nearest-neighbour lookup of ``data`` at pixel coordinates ``pix`` (numpy order).

    Points farther than half a pixel outside the grid get ``fill_value``; with
    ``fill_value=None`` they take the value of the closest edge pixel.
    """
    data, flat, shape = _prepare(data, pix)
    idx = []
    for p, n in zip(flat, data.shape, strict=True):
        i = np.floor(np.nan_to_num(p, nan=-1e9) + 0.5)
        idx.append(np.clip(i, 0, n - 1).astype(np.intp))
    values = data[tuple(idx)]
    if fill_value is not None:
        bad = _outside(flat, data.shape, 0.5)
        if bad.any():
            values = values.astype(np.result_type(values.dtype, np.float64), copy=True)
            values[bad] = fill_value
    return values.reshape(shape)


def interp_linear_pix(
    data: np.ndarray, pix: Sequence, fill_value: float | None = np.nan
) -> np.ndarray:
    """Multilinear interpolation of ``data`` at pixel coordinates ``pix`` (numpy order).

    Pixel centres are at integer coordinates. Points outside ``[0, n - 1]`` along any
    dimension get ``fill_value``; with ``fill_value=None`` they are extrapolated linearly
    from the two edge pixels. A dimension of length one is constant along that dimension.

    The work is vectorised over points: ``2**ndim`` gathers from ``data`` (ndim <= 5 in
    practice), no Python loop over points.
    """
    data, flat, shape = _prepare(data, pix)
    data = np.ascontiguousarray(data, dtype=np.float64)
    values = data.ravel()
    strides = np.cumprod((1,) + data.shape[:0:-1])[::-1]  # element strides, C order
    base = np.zeros(flat[0].shape if flat else (), dtype=np.intp)
    dims = []  # (stride, fraction) of the dimensions with more than one pixel
    for p, n, stride in zip(flat, data.shape, strides, strict=True):
        if n == 1:
            continue
        q = np.nan_to_num(p, nan=0.0, posinf=n - 1.0, neginf=0.0)
        i0 = np.floor(q)
        np.clip(i0, 0, n - 2, out=i0)
        q -= i0  # fraction, may be < 0 or > 1 when extrapolating
        i0 = i0.astype(np.intp)
        i0 *= int(stride)
        base += i0
        dims.append((int(stride), q))
    result = np.zeros(base.shape, dtype=np.float64)
    for corner in range(2 ** len(dims)):
        offset = 0
        weight = None
        for bit, (stride, frac) in enumerate(dims):
            if (corner >> bit) & 1:
                offset += stride
                w = frac
            else:
                w = 1.0 - frac
            weight = w if weight is None else weight * w
        vals = values.take(base + offset) if offset else values.take(base)
        result += vals if weight is None else weight * vals
    if fill_value is not None:
        result[_outside(flat, data.shape, 0.0)] = fill_value
    else:
        nan_in = np.zeros(result.shape, dtype=bool)
        for p in flat:
            nan_in |= np.isnan(p)
        result[nan_in] = np.nan
    return result.reshape(shape)


def interp_pix(
    data: np.ndarray,
    pix: Sequence,
    method: str = "linear",
    fill_value: float | None = np.nan,
    values_scale: str = "lin",
) -> np.ndarray:
    """Interpolate ``data`` at pixel coordinates with ``method`` and ``values_scale``.

    Parameters
    ----------
    data : ndarray
        Values on the grid.
    pix : sequence of array-like
        Pixel coordinates, one array per data dimension (numpy order), broadcastable.
    method : {"linear", "nearest"}
        Interpolation method.
    fill_value : float or None
        Value outside the grid; ``None`` extrapolates (linear) / clips (nearest).
    values_scale : {"lin", "log", "sqrt"}
        Space in which the values are interpolated.
    """
    if method == "nearest":
        return interp_nearest_pix(data, pix, fill_value=fill_value)
    if method != "linear":
        raise GammapipeError(f"argument 'method': {method!r} is not 'linear' or 'nearest'")
    scaled = scale_values(data, values_scale)
    out = interp_linear_pix(scaled, pix, fill_value=None)
    out = inverse_scale_values(out, values_scale)
    if fill_value is not None:
        _, flat, shape = _prepare(data, pix)
        out = out.reshape(-1)
        out[_outside(flat, np.shape(data), 0.0)] = fill_value
        out = out.reshape(shape)
    return out
