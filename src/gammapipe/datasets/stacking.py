"""Pure array rules of dataset stacking.

Notation: ``k`` reco-energy bin, ``l`` true-energy bin, ``j`` dataset, ``mask_jk`` the
safe mask of dataset ``j``. The rules applied by `MapDataset.stack`:

* livetime: summed;
* mask_safe: union (logical or);
* counts_k = sum_j counts_jk * mask_jk; background (predicted, FoV model applied) likewise;
* exposure_l = sum_j exposure_jl * any_k(mask_jk);
* PSF: exposure-weighted mean, the weight of dataset ``j`` being its PSF exposure times
  ``any_k(mask_jk)`` on the PSF grid;
* EDisp kernel: edisp_kl = sum_j edisp_jkl * mask_jk * exposure_jl / sum_j exposure_jl
  * any_k(mask_jk).

The masks are taken on the coarse IRF grids: for the PSF the value of the fine pixel
nearest to each coarse pixel centre; for the EDisp a coarse pixel counts as safe if any of
the (up to four) fine pixels entering a bilinear interpolation at its centre is safe. These
two conventions reproduce the reference tool pixel by pixel (they differ only where a
coarse centre falls on a boundary between fine pixels, e.g. 0.2 deg over 0.02 deg bins).
* GTI: union; meta tables: concatenated.

All functions work on plain float64 / bool arrays (already cut to the overlap). The
``*_inplace`` variants update the (overlap view of the) stacked arrays without full-size
temporaries; they compute in float64 and round once to the target dtype, so that they give
the same numbers as the functions returning new arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "safe_divide",
    "stack_masked_sum",
    "stack_exposure",
    "stack_irf_arrays",
    "mask_union",
    "add_masked_inplace",
    "stack_irf_inplace",
]


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 or the result is not finite."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.isfinite(out) & (den != 0), out, 0.0)


def _clean(values: np.ndarray, nan_to_num: bool) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if nan_to_num:
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values


def stack_masked_sum(data: np.ndarray, mask: np.ndarray | None, data_other: np.ndarray,
                     mask_other: np.ndarray | None, nan_to_num: bool = True) -> np.ndarray:
    """``data * mask + data_other * mask_other`` (a None mask keeps everything)."""
    a = _clean(data, nan_to_num)
    b = _clean(data_other, nan_to_num)
    if mask is not None:
        a = a * mask
    if mask_other is not None:
        b = b * mask_other
    return a + b


def stack_exposure(exposure: np.ndarray, mask_image: np.ndarray | None,
                   exposure_other: np.ndarray, mask_image_other: np.ndarray | None,
                   nan_to_num: bool = True) -> np.ndarray:
    """Exposure rule: ``sum_j exposure_jl * any_k(mask_jk)``.

    ``mask_image`` arrays are the masks reduced over reco energy (shape ``(ny, nx)`` or
    broadcastable to the exposure).
    """
    return stack_masked_sum(exposure, mask_image, exposure_other, mask_image_other,
                            nan_to_num=nan_to_num)


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

    Returns
    -------
    irf, exposure : array
        Stacked IRF ``(irf * exp + irf_o * exp_o * w) / (exp + exp_o * any(w))`` and
        stacked exposure.
    """
    irf_other = _clean(irf_other, nan_to_num)
    exposure_other = _clean(exposure_other, nan_to_num)
    irf = _clean(irf, True)
    exposure = _clean(exposure, True)
    w_irf = 1.0
    w_exp = 1.0
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        w_irf = w
        w_exp = np.any(w > 0, axis=irf_axis, keepdims=True).astype(float)
    num = irf * exposure + irf_other * exposure_other * w_irf
    exposure_new = exposure + exposure_other * w_exp
    return safe_divide(num, exposure_new), exposure_new


def _all_finite(values: np.ndarray) -> bool:
    """Whether all values are finite: one summation pass, no temporary (a NaN or inf
    propagates to the sum; a sum overflowing to inf falls back to the exact test)."""
    if values.dtype.kind not in "fc":
        return True
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(values, dtype=np.float64)
    return bool(np.isfinite(total)) or bool(np.isfinite(values).all())


def _zero_non_finite(values: np.ndarray) -> None:
    """Set NaN / inf entries of a float array (or writable view) to 0 in place."""
    if _all_finite(values):
        return
    values[~np.isfinite(values)] = 0.0


def add_masked_inplace(target: np.ndarray, other: np.ndarray, mask: np.ndarray | None = None,
                       nan_to_num: bool = True) -> None:
    """``target += other * mask`` in place (``target`` is typically an overlap view).

    With ``nan_to_num`` the non-finite values of ``target`` and ``other`` count as 0
    (as `stack_masked_sum`); the addition is skipped where ``mask`` is False instead of
    multiplying, so no temporary of the size of ``other`` is made.

    Parameters
    ----------
    target : float array
        Writable array (or view) updated in place.
    other : array
        Values to add, same shape as ``target``.
    mask : bool array, optional
        Broadcastable to ``other``.
    nan_to_num : bool
        Treat NaN / inf as 0.
    """
    other = np.asarray(other)
    if not nan_to_num:
        np.add(target, other if mask is None else other * mask, out=target,
               casting="same_kind")
        return
    _zero_non_finite(target)
    if _all_finite(other):
        if mask is None:
            np.add(target, other, out=target, casting="same_kind")
            return
        where = np.asarray(mask, dtype=bool)
    else:
        where = np.isfinite(other)
        if mask is not None:
            where &= np.asarray(mask, dtype=bool)
    np.add(target, other, out=target, where=where, casting="same_kind")


def stack_irf_inplace(irf: np.ndarray, exposure: np.ndarray, irf_other: np.ndarray,
                      exposure_other: np.ndarray, weights: np.ndarray | None, irf_axis: int,
                      nan_to_num: bool = True) -> None:
    """In-place version of `stack_irf_arrays`: ``irf`` and ``exposure`` (writable views of
    the overlap) receive the stacked IRF and exposure. Same rule and same numbers."""
    num = np.array(irf, dtype=np.float64)
    _zero_non_finite(num)
    exp_self = np.array(exposure, dtype=np.float64)
    _zero_non_finite(exp_self)
    num *= exp_self
    term = np.multiply(irf_other, exposure_other, dtype=np.float64)
    exp_other = np.array(exposure_other, dtype=np.float64)
    if nan_to_num:
        _zero_non_finite(exp_other)
        if not (_all_finite(np.asarray(irf_other)) and _all_finite(np.asarray(exposure_other))):
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


def mask_union(mask: np.ndarray | None, mask_other: np.ndarray | None) -> np.ndarray | None:
    """Union of two boolean masks (None means "no mask")."""
    if mask is None:
        return None if mask_other is None else np.asarray(mask_other, dtype=bool).copy()
    if mask_other is None:
        return np.asarray(mask, dtype=bool).copy()
    return np.asarray(mask, dtype=bool) | np.asarray(mask_other, dtype=bool)
