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

All functions work on plain float64 / bool arrays (already cut to the overlap).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "safe_divide",
    "stack_masked_sum",
    "stack_exposure",
    "stack_irf_arrays",
    "mask_union",
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


def mask_union(mask: np.ndarray | None, mask_other: np.ndarray | None) -> np.ndarray | None:
    """Union of two boolean masks (None means "no mask")."""
    if mask is None:
        return None if mask_other is None else np.asarray(mask_other, dtype=bool).copy()
    if mask_other is None:
        return np.asarray(mask, dtype=bool).copy()
    return np.asarray(mask, dtype=bool) | np.asarray(mask_other, dtype=bool)
