"""Pure array rules of IRF-map stacking (exposure-weighted mean of two IRF maps).

For datasets ``j`` with IRF values ``irf_j`` (axes: IRF axis -- rad, reco energy or
migra --, true energy, sky pixels), exposures ``exp_j`` (IRF axis squashed to one bin) and
weights ``w_j`` of the added dataset (typically its safe mask on the IRF grid):

* irf = (irf_1 * exp_1 + irf_2 * exp_2 * w_2) / (exp_1 + exp_2 * any(w_2 > 0));
* exposure = exp_1 + exp_2 * any(w_2 > 0), the ``any`` taken over the IRF axis;
* 0 where the stacked exposure is 0 (no NaN); non-finite inputs count as 0.

All functions work on plain float64 / bool arrays (already cut to the overlap). The
``*_inplace`` variant updates writable views of the stacked arrays; it computes in float64
and rounds once to the target dtype, giving the same numbers as `stack_irf_arrays`.
`gammapipe.datasets.stacking` builds the dataset stacking rules on these helpers.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "safe_divide",
    "clean_values",
    "all_finite",
    "zero_non_finite",
    "stack_irf_arrays",
    "stack_irf_inplace",
]


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 or the result is not finite."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.isfinite(out) & (den != 0), out, 0.0)


def clean_values(values: np.ndarray, nan_to_num: bool) -> np.ndarray:
    """``values`` as float64, with NaN / inf replaced by 0 if ``nan_to_num``."""
    values = np.asarray(values, dtype=float)
    if nan_to_num:
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values


def all_finite(values: np.ndarray) -> bool:
    """Whether all values are finite: one summation pass, no temporary (a NaN or inf
    propagates to the sum; a sum overflowing to inf falls back to the exact test)."""
    if values.dtype.kind not in "fc":
        return True
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(values, dtype=np.float64)
    return bool(np.isfinite(total)) or bool(np.isfinite(values).all())


def zero_non_finite(values: np.ndarray) -> None:
    """Set NaN / inf entries of a float array (or writable view) to 0 in place."""
    if all_finite(values):
        return
    values[~np.isfinite(values)] = 0.0


def stack_irf_arrays(irf: np.ndarray, exposure: np.ndarray, irf_other: np.ndarray,
                     exposure_other: np.ndarray, weights: np.ndarray | None, irf_axis: int,
                     nan_to_num: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exposure-weighted mean of two IRF arrays.

    Parameters
    ----------
    irf, irf_other : array
        IRF values (same shape).
    exposure, exposure_other : array
        Exposures, with the IRF axis of length 1 (broadcasting against the IRF arrays).
    weights : array or None
        Weights of ``other`` (shape of ``irf_other``): typically the safe mask. The
        exposure of ``other`` is weighted by ``any(weights > 0)`` over the IRF axis.
    irf_axis : int
        Numpy axis of the IRF-specific axis (rad, reco energy or migra).
    nan_to_num : bool
        Treat NaN / inf of ``irf_other`` and ``exposure_other`` as 0 (those of ``irf`` and
        ``exposure`` always are).

    Returns
    -------
    irf, exposure : array
        Stacked IRF ``(irf * exp + irf_o * exp_o * w) / (exp + exp_o * any(w))`` and
        stacked exposure.
    """
    irf_other = clean_values(irf_other, nan_to_num)
    exposure_other = clean_values(exposure_other, nan_to_num)
    irf = clean_values(irf, True)
    exposure = clean_values(exposure, True)
    w_irf = 1.0
    w_exp = 1.0
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        w_irf = w
        w_exp = np.any(w > 0, axis=irf_axis, keepdims=True).astype(float)
    num = irf * exposure + irf_other * exposure_other * w_irf
    exposure_new = exposure + exposure_other * w_exp
    return safe_divide(num, exposure_new), exposure_new


def stack_irf_inplace(irf: np.ndarray, exposure: np.ndarray, irf_other: np.ndarray,
                      exposure_other: np.ndarray, weights: np.ndarray | None, irf_axis: int,
                      nan_to_num: bool = True) -> None:
    """In-place version of `stack_irf_arrays`: ``irf`` and ``exposure`` (writable views of
    the overlap) receive the stacked IRF and exposure. Same rule and same numbers."""
    num = np.array(irf, dtype=np.float64)
    zero_non_finite(num)
    exp_self = np.array(exposure, dtype=np.float64)
    zero_non_finite(exp_self)
    num *= exp_self
    term = np.multiply(irf_other, exposure_other, dtype=np.float64)
    exp_other = np.array(exposure_other, dtype=np.float64)
    if nan_to_num:
        zero_non_finite(exp_other)
        if not (all_finite(np.asarray(irf_other)) and all_finite(np.asarray(exposure_other))):
            # 0 where either factor is not finite, as when both were cleaned first
            finite = np.isfinite(irf_other) & np.isfinite(exposure_other)
            term[~finite] = 0.0
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        term *= w
        exp_other = exp_other * np.any(w > 0, axis=irf_axis, keepdims=True)
    num += term
    exp_self += exp_other
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(num, exp_self, out=num)
    num[~(np.isfinite(num) & (exp_self != 0))] = 0.0
    irf[...] = num
    exposure[...] = exp_self
