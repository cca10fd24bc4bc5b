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

The IRF-map rules (`safe_divide`, `stack_irf_arrays`, `stack_irf_inplace`) live in
`gammapipe.irf._map_stacking` (used by `gammapipe.irf.IRFMap.stack`) and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from gammapipe.irf._map_stacking import (
    all_finite,
    clean_values,
    safe_divide,
    stack_irf_arrays,
    stack_irf_inplace,
    zero_non_finite,
)

__all__ = [
    "safe_divide",
    "stack_masked_sum",
    "stack_exposure",
    "stack_irf_arrays",
    "mask_union",
    "add_masked_inplace",
    "stack_irf_inplace",
]


def stack_masked_sum(data: np.ndarray, mask: np.ndarray | None, data_other: np.ndarray,
                     mask_other: np.ndarray | None, nan_to_num: bool = True) -> np.ndarray:
    """``data * mask + data_other * mask_other`` (a None mask keeps everything)."""
    a = clean_values(data, nan_to_num)
    b = clean_values(data_other, nan_to_num)
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
    zero_non_finite(target)
    if all_finite(other):
        if mask is None:
            np.add(target, other, out=target, casting="same_kind")
            return
        # finite values: multiplying by the mask adds an exact 0 where it is False, and
        # a plain add is much faster than a masked (``where=``) one
        np.add(target, np.multiply(other, np.asarray(mask, dtype=bool)), out=target,
               casting="same_kind")
        return
    where = np.isfinite(other)
    if mask is not None:
        where &= np.asarray(mask, dtype=bool)
    np.add(target, other, out=target, where=where, casting="same_kind")


def mask_union(mask: np.ndarray | None, mask_other: np.ndarray | None) -> np.ndarray | None:
    """Union of two boolean masks (None means "no mask")."""
    if mask is None:
        return None if mask_other is None else np.asarray(mask_other, dtype=bool).copy()
    if mask_other is None:
        return np.asarray(mask, dtype=bool).copy()
    return np.asarray(mask, dtype=bool) | np.asarray(mask_other, dtype=bool)
