"""Fast multilinear interpolation on rectilinear grids (pure numpy).

The bracketing node indices and weights are computed once per axis with
`numpy.searchsorted` on the (scaled) nodes; the gather over the ``2**ndim`` corners of
the enclosing cell uses numpy broadcasting. Coordinates of different axes broadcast
against each other, so evaluating an outer grid such as ``energy[:, None, None]``,
``lon[None, :, None]``, ``lat[None, None, :]`` costs one gather per corner instead of a
per-point interpolator call on a materialised coordinate array.

Scales
------
Each axis may be interpolated in ``"lin"``, ``"log"`` or ``"sqrt"`` coordinates; the
values may be interpolated in ``"lin"``, ``"log"`` or ``"sqrt"`` space. In ``"log"``
value space zeros (and negative values) are floored at the smallest normal float32
(``LOG_VALUE_FLOOR``) before taking the logarithm, and results at or below twice that
floor map back to exactly 0. So a table that is zero at a node gives 0 at that node,
a rapidly falling (log-linear) value towards it, and never a NaN or a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["interp_regular_grid", "GridInterpolator", "LOG_VALUE_FLOOR", "scale_values"]

LOG_VALUE_FLOOR = float(np.finfo(np.float32).tiny)
_SCALES = ("lin", "log", "sqrt")


def _check_scale(scale: str, what: str) -> str:
    if scale not in _SCALES:
        raise ValueError(f"{what}: unknown interpolation scale {scale!r}; use one of {_SCALES}")
    return scale


def _scale_coord(x: np.ndarray, scale: str) -> np.ndarray:
    """Map coordinates to the interpolation space (invalid values become NaN silently)."""
    if scale == "lin":
        return x
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale == "log":
            return np.log(np.where(x > 0, x, np.nan))
        return np.sqrt(np.where(x >= 0, x, np.nan))


def scale_values(values: np.ndarray, scale: str) -> np.ndarray:
    """Map values to the interpolation space (``log``: floored at `LOG_VALUE_FLOOR`)."""
    values = np.asarray(values, dtype=float)
    if scale == "lin":
        return values
    if scale == "log":
        return np.log(np.maximum(values, LOG_VALUE_FLOOR))
    return np.sqrt(np.maximum(values, 0.0))


def _inverse_values(values: np.ndarray, scale: str) -> np.ndarray:
    if scale == "lin":
        return values
    if scale == "log":
        with np.errstate(over="ignore", under="ignore"):
            out = np.exp(values)
        return np.where(out <= 2 * LOG_VALUE_FLOOR, 0.0, out)
    return values**2


class GridInterpolator:
    """Multilinear (or nearest-node) interpolator on a rectilinear grid.

    Scaled nodes and values are computed once at construction.

    Parameters
    ----------
    nodes : sequence of 1D arrays
        Strictly increasing node positions of each axis (length >= 1).
    values : ndarray
        Values with shape ``tuple(len(n) for n in nodes)``.
    scales : sequence of {"lin", "log", "sqrt"}, optional
        Interpolation scale of each axis (default all ``"lin"``).
    values_scale : {"lin", "log", "sqrt"}
        Space in which values are interpolated.
    method : {"linear", "nearest"}
        Default interpolation method.
    fill_value : float or None
        Value returned for points outside ``bounds``. ``None`` means no bounds check:
        every point is extrapolated (as `scipy.interpolate.RegularGridInterpolator` with
        ``fill_value=None``).
    bounds : sequence of (lo, hi), optional
        Per-axis valid coordinate range, in the original (unscaled) coordinates. Default:
        the outermost nodes. Points outside the range of any axis get ``fill_value``.
    extrapolate : bool
        For points inside ``bounds`` but beyond the outermost node: ``True`` extrapolates
        linearly from the last two nodes, ``False`` uses the value at the outermost node.
    clip_min : float, optional
        Lower limit applied to the result (e.g. 0 for quantities that cannot be negative).
    """

    def __init__(
        self,
        nodes: Sequence[np.ndarray],
        values: np.ndarray,
        scales: Sequence[str] | None = None,
        values_scale: str = "lin",
        method: str = "linear",
        fill_value: float | None = 0.0,
        bounds: Sequence[tuple[float, float]] | None = None,
        extrapolate: bool = True,
        clip_min: float | None = None,
    ):
        nodes = [np.atleast_1d(np.asarray(n, dtype=float)) for n in nodes]
        values = np.asarray(values, dtype=float)
        if values.ndim != len(nodes):
            raise ValueError(
                f"values have {values.ndim} dimensions but {len(nodes)} node arrays were given"
            )
        for idx, (n, size) in enumerate(zip(nodes, values.shape, strict=True)):
            if n.ndim != 1 or n.size != size:
                raise ValueError(
                    f"axis {idx}: {n.size} nodes do not match values shape {values.shape}"
                )
        scales = tuple(scales) if scales is not None else ("lin",) * len(nodes)
        if len(scales) != len(nodes):
            raise ValueError(f"got {len(scales)} scales for {len(nodes)} axes")
        self.scales = tuple(_check_scale(s, "axis scale") for s in scales)
        self.values_scale = _check_scale(values_scale, "values_scale")
        if method not in ("linear", "nearest"):
            raise ValueError(f"method must be 'linear' or 'nearest', got {method!r}")
        self.method = method
        self.fill_value = fill_value
        self.extrapolate = bool(extrapolate)
        self.clip_min = clip_min
        self.nodes = nodes
        self.scaled_nodes = [_scale_coord(n, s) for n, s in zip(nodes, self.scales, strict=True)]
        for idx, sn in enumerate(self.scaled_nodes):
            if not np.all(np.isfinite(sn)):
                raise ValueError(f"axis {idx}: nodes invalid for scale {self.scales[idx]!r}")
            if sn.size > 1 and np.any(np.diff(sn) <= 0):
                raise ValueError(f"axis {idx}: nodes must be strictly increasing")
        self.values = values
        self.scaled_values = scale_values(values, self.values_scale)
        if fill_value is None:
            self.bounds = None
        elif bounds is None:
            self.bounds = [(n[0], n[-1]) for n in nodes]
        else:
            if len(bounds) != len(nodes):
                raise ValueError(f"got {len(bounds)} bounds for {len(nodes)} axes")
            self.bounds = [(float(lo), float(hi)) for lo, hi in bounds]

    @property
    def ndim(self) -> int:
        return len(self.nodes)

    def _axis_index_weight(self, axis: int, x: np.ndarray):
        sn = self.scaled_nodes[axis]
        xs = _scale_coord(x, self.scales[axis])
        if sn.size == 1:
            return np.zeros(xs.shape, dtype=np.intp), None, xs
        idx = np.clip(np.asarray(np.searchsorted(sn, xs, side="right")) - 1, 0, sn.size - 2)
        lo = sn[idx]
        w = (xs - lo) / (sn[idx + 1] - lo)
        if not self.extrapolate:
            w = np.clip(w, 0.0, 1.0)
        return idx, w, xs

    def _nearest_index(self, axis: int, x: np.ndarray) -> np.ndarray:
        sn = self.scaled_nodes[axis]
        xs = _scale_coord(x, self.scales[axis])
        if sn.size == 1:
            return np.zeros(xs.shape, dtype=np.intp)
        idx = np.clip(np.asarray(np.searchsorted(sn, xs, side="right")) - 1, 0, sn.size - 2)
        # ties go to the upper node (x >= midpoint); NaN coordinates select node 0 here
        # and are replaced by the fill value (or NaN) by the caller
        with np.errstate(invalid="ignore"):
            upper = (xs - sn[idx]) >= (sn[idx + 1] - xs)
        return idx + upper

    def __call__(self, coords: Sequence, method: str | None = None) -> np.ndarray:
        """Evaluate at ``coords`` (one array per axis; arrays broadcast together)."""
        method = method or self.method
        if len(coords) != self.ndim:
            raise ValueError(f"expected {self.ndim} coordinate arrays, got {len(coords)}")
        coords = [np.asarray(c, dtype=float) for c in coords]
        shape = np.broadcast_shapes(*(c.shape for c in coords))
        if method == "nearest":
            idx = tuple(self._nearest_index(i, c) for i, c in enumerate(coords))
            out = np.broadcast_to(self.values[idx], shape).astype(float, copy=True)
            bad = np.zeros(shape, dtype=bool)
            for i, c in enumerate(coords):
                bad |= ~np.isfinite(_scale_coord(c, self.scales[i]))
            out[bad] = np.nan
        elif method == "linear":
            out = self._linear(coords, shape)
        else:
            raise ValueError(f"method must be 'linear' or 'nearest', got {method!r}")
        if self.clip_min is not None:
            np.maximum(out, self.clip_min, out=out)
        if self.bounds is not None:
            inside = np.ones(shape, dtype=bool)
            for c, (lo, hi) in zip(coords, self.bounds, strict=True):
                inside &= (c >= lo) & (c <= hi)
            out[~inside] = self.fill_value
        return out

    def _linear(self, coords: list[np.ndarray], shape: tuple) -> np.ndarray:
        parts = [self._axis_index_weight(i, c) for i, c in enumerate(coords)]
        values = self.scaled_values
        out = np.zeros(shape)
        # iterate over the 2**ndim cell corners (skipping the upper corner of 1-node axes)
        corner_choices = [(0,) if w is None else (0, 1) for _, w, _ in parts]
        for corner in np.ndindex(*(len(c) for c in corner_choices)):
            index = []
            weight = None
            for (idx, w, _), bit in zip(parts, corner, strict=True):
                index.append(idx + bit if bit else idx)
                if w is None:
                    continue
                factor = w if bit else 1.0 - w
                weight = factor if weight is None else weight * factor
            term = values[tuple(index)]
            if weight is not None:
                with np.errstate(invalid="ignore"):
                    term = term * weight
            out = out + term
        return np.asarray(
            _inverse_values(np.asarray(out, dtype=float), self.values_scale), dtype=float
        )


def interp_regular_grid(
    nodes: Sequence[np.ndarray],
    values: np.ndarray,
    coords: Sequence,
    scales: Sequence[str] | None = None,
    values_scale: str = "lin",
    fill_value: float | None = 0.0,
    extrapolate: bool = True,
    bounds: Sequence[tuple[float, float]] | None = None,
    method: str = "linear",
    clip_min: float | None = None,
) -> np.ndarray:
    """Interpolate ``values`` given on a rectilinear grid at ``coords``.

    One-shot form of `GridInterpolator`; see there for the parameters. Coordinates of
    the axes broadcast against each other.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([1.0, 10.0, 100.0]), np.array([0.0, 1.0])
    >>> vals = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]])
    >>> interp_regular_grid((x, y), vals, (np.array([[3.0], [30.0]]), np.array([0.5])),
    ...                     scales=("log", "lin"), values_scale="log").round(3)
    array([[ 4.243],
           [42.426]])
    """
    interp = GridInterpolator(
        nodes,
        values,
        scales=scales,
        values_scale=values_scale,
        method=method,
        fill_value=fill_value,
        bounds=bounds,
        extrapolate=extrapolate,
        clip_min=clip_min,
    )
    return interp(coords)
