"""Significance, errors and upper limits of counts measurements (vectorised).

`CashCountsStatistic`: ON counts with a known background; `WStatCountsStatistic`: ON/OFF
counts (background measured in an OFF region, ``alpha`` = ON/OFF exposure ratio). The test
statistic is ``TS = stat_null - stat_max`` (difference of ``-2 log L`` between the
background-only hypothesis and the best fit); ``sqrt_ts`` carries the sign of the excess and
for WStat equals Li & Ma (1983) eq. 17. Errors and limits are roots of the profile
``stat(n_sig) = stat_max + n_sigma^2`` found by vectorised bisection (no Python loop over
elements).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fit_statistics import cash, wstat

__all__ = ["CashCountsStatistic", "WStatCountsStatistic"]


def _bisect(func, lo: np.ndarray, hi: np.ndarray, n_iter: int = 100) -> tuple[np.ndarray, ...]:
    """Vectorised bisection: roots of ``func(x)`` in ``[lo, hi]`` (NaN where not bracketed)."""
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    f_lo = func(lo)
    f_hi = func(hi)
    ok = np.isfinite(f_lo) & np.isfinite(f_hi) & (np.sign(f_lo) * np.sign(f_hi) <= 0)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        f_mid = func(mid)
        same = np.sign(f_mid) == np.sign(f_lo)
        lo = np.where(same, mid, lo)
        f_lo = np.where(same, f_mid, f_lo)
        hi = np.where(same, hi, mid)
        if np.all(np.abs(hi - lo) <= 1e-12 * np.maximum(np.abs(lo), 1.0)):
            break
    return np.where(ok, 0.5 * (lo + hi), np.nan), ok


class _CountsStatistic:
    """Shared machinery: TS, significance, errors, upper limits."""

    n_on: np.ndarray
    n_sig: np.ndarray
    n_bkg: np.ndarray

    def _stat(self, n_sig: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def stat_null(self) -> np.ndarray:
        """Statistic of the null hypothesis (no excess)."""
        return self._stat(np.zeros_like(self.n_sig))

    @property
    def stat_max(self) -> np.ndarray:
        """Statistic at the best-fit excess ``n_sig``."""
        return self._stat(self.n_sig)

    @property
    def ts(self) -> np.ndarray:
        """Test statistic ``stat_null - stat_max`` (>= 0)."""
        return np.clip(self.stat_null - self.stat_max, 0, None)

    @property
    def sqrt_ts(self) -> np.ndarray:
        """Signed significance ``sign(n_sig) sqrt(TS)``."""
        return np.sign(self.n_sig) * np.sqrt(self.ts)

    @property
    def p_value(self) -> np.ndarray:
        """Chance probability of TS (chi2 with one degree of freedom)."""
        from scipy.special import erfc

        return erfc(np.sqrt(self.ts / 2.0))

    def compute_errn(self, n_sigma: float = 1.0) -> np.ndarray:
        """Negative error of ``n_sig`` (a negative number): lower root minus ``n_sig``.

        Where the profile does not cross ``stat_max + n_sigma^2`` below ``n_sig`` (e.g.
        ``n_on = 0``), ``-n_on`` is returned.
        """
        target = self.stat_max + n_sigma**2
        lo = self.n_sig - 2 * n_sigma * (self.error + 1)
        root, ok = _bisect(lambda x: self._stat(x) - target, lo, self.n_sig)
        return np.where(ok, root - self.n_sig, -self.n_on)

    def compute_errp(self, n_sigma: float = 1.0) -> np.ndarray:
        """Positive error of ``n_sig``: upper root minus ``n_sig``."""
        target = self.stat_max + n_sigma**2
        hi = self.n_sig + 2 * n_sigma * (self.error + 1)
        root, _ = _bisect(lambda x: self._stat(x) - target, self.n_sig, hi)
        return root - self.n_sig

    def compute_upper_limit(self, n_sigma: float = 3) -> np.ndarray:
        """Upper limit on the excess: ``stat(ul) = stat_max + n_sigma^2`` above max(n_sig, 0)."""
        target = self.stat_max + n_sigma**2
        lo = np.maximum(self.n_sig, 0)
        hi = lo + 2 * n_sigma * (self.error + 1)
        root, _ = _bisect(lambda x: self._stat(x) - target, lo, hi)
        return root

    def n_sig_matching_significance(self, significance: float) -> np.ndarray:
        """Excess giving ``sqrt_ts == significance`` for the same background (NaN if none)."""
        significance = float(significance)
        if significance <= 0:
            raise ValueError(f"significance must be > 0, got {significance}")
        hi = np.broadcast_to(
            significance * np.sqrt(np.maximum(self.n_bkg, 0)) + significance**2 + 1.0,
            self.n_bkg.shape,
        ).copy()
        for _ in range(60):  # grow the bracket until sqrt_ts(hi) > significance
            low = self._sqrt_ts_for(hi) < significance
            if not np.any(low):
                break
            hi = np.where(low, 2 * hi, hi)
        root, _ = _bisect(
            lambda x: self._sqrt_ts_for(x) - significance, np.zeros_like(hi), hi
        )
        return root

    def _sqrt_ts_for(self, n_sig: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def info_dict(self) -> dict[str, Any]:
        """Summary numbers as a dict."""
        return {
            "n_on": self.n_on,
            "background": self.n_bkg,
            "excess": self.n_sig,
            "significance": self.sqrt_ts,
            "p_value": self.p_value,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_on={self.n_on}, n_bkg={self.n_bkg}, n_sig={self.n_sig})"


class CashCountsStatistic(_CountsStatistic):
    """Counts ``n_on`` with a known expected background ``mu_bkg``.

    Parameters
    ----------
    n_on : array-like
        Observed counts.
    mu_bkg : array-like
        Known background counts.
    """

    def __init__(self, n_on, mu_bkg) -> None:
        n_on, mu_bkg = np.broadcast_arrays(
            np.asarray(n_on, dtype=np.float64), np.asarray(mu_bkg, dtype=np.float64)
        )
        self.n_on = n_on.copy()
        self.mu_bkg = mu_bkg.copy()

    @property
    def n_bkg(self) -> np.ndarray:
        """Background counts."""
        return self.mu_bkg

    @property
    def n_sig(self) -> np.ndarray:
        """Excess ``n_on - mu_bkg``."""
        return self.n_on - self.mu_bkg

    @property
    def error(self) -> np.ndarray:
        """Symmetric error of the excess from the curvature: ``sqrt(n_on)``."""
        return np.sqrt(self.n_on)

    def _stat(self, n_sig: np.ndarray) -> np.ndarray:
        return cash(self.n_on, self.mu_bkg + n_sig)

    def _sqrt_ts_for(self, n_sig: np.ndarray) -> np.ndarray:
        return CashCountsStatistic(self.mu_bkg + n_sig, self.mu_bkg).sqrt_ts


class WStatCountsStatistic(_CountsStatistic):
    """ON/OFF counts with the background measured in the OFF region.

    Parameters
    ----------
    n_on, n_off : array-like
        ON and OFF counts.
    alpha : array-like
        ON/OFF exposure ratio.
    mu_sig : array-like, optional
        Known signal expected in the ON region under the null hypothesis (default 0).
    """

    def __init__(self, n_on, n_off, alpha, mu_sig=None) -> None:
        mu_sig = 0.0 if mu_sig is None else mu_sig
        arrays = np.broadcast_arrays(
            *(np.asarray(x, dtype=np.float64) for x in (n_on, n_off, alpha, mu_sig))
        )
        self.n_on, self.n_off, self.alpha, self.mu_sig = (a.copy() for a in arrays)

    @property
    def n_bkg(self) -> np.ndarray:
        """Background estimate ``alpha n_off``."""
        return self.alpha * self.n_off

    @property
    def n_sig(self) -> np.ndarray:
        """Excess ``n_on - alpha n_off - mu_sig``."""
        return self.n_on - self.alpha * self.n_off - self.mu_sig

    @property
    def error(self) -> np.ndarray:
        """Symmetric error of the excess: ``sqrt(n_on + alpha^2 n_off)``."""
        return np.sqrt(self.n_on + self.alpha**2 * self.n_off)

    def _stat(self, n_sig: np.ndarray) -> np.ndarray:
        return wstat(self.n_on, self.n_off, self.alpha, self.mu_sig + n_sig)

    def _sqrt_ts_for(self, n_sig: np.ndarray) -> np.ndarray:
        return WStatCountsStatistic(
            self.n_bkg + self.mu_sig + n_sig, self.n_off, self.alpha, self.mu_sig
        ).sqrt_ts
