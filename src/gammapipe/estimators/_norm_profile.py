"""Likelihood of a single amplitude ``norm`` scaling one linear component of the prediction.

With all parameters frozen except the norm of one source, the predicted counts of every bin
are ``mu = other + norm * signal``. The fit statistic (Cash, or WStat with the background
profiled) is then a cheap one-dimensional function of ``norm``, evaluated here on plain
float64 arrays, vectorised over many ``norm`` values at once. The best fit uses safeguarded
Newton iterations (analytic gradient and curvature), the errors come from the curvature
(``err = sqrt(2 / H)`` for the ``-2 log L`` statistic), asymmetric errors and upper limits from
the roots of ``stat(norm) = stat_min + n_sigma**2`` found with Brent's method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..stats.fit_statistics import TRUNCATION_VALUE, get_wstat_mu_bkg, wstat

__all__ = ["CashTerm", "WStatTerm", "NormLikelihood", "NormFitResult"]

_CHUNK = 2_000_000  # max elements (norms x bins) per vectorised evaluation


class CashTerm:
    """Cash statistic of counts ``n`` against ``other + norm * signal`` (1D float arrays)."""

    def __init__(self, counts, other, signal) -> None:
        self.n = np.asarray(counts, dtype=np.float64).ravel()
        self.b = np.asarray(other, dtype=np.float64).ravel()
        self.s = np.asarray(signal, dtype=np.float64).ravel()
        self._nlog_const = 0.0

    def stat(self, norms: np.ndarray) -> np.ndarray:
        norms = np.atleast_1d(np.asarray(norms, dtype=np.float64))
        out = np.empty(norms.size)
        step = max(1, _CHUNK // max(self.n.size, 1))
        for i in range(0, norms.size, step):
            x = norms[i : i + step, None]
            mu = self.b + x * self.s
            log_mu = np.log(np.maximum(mu, TRUNCATION_VALUE))
            out[i : i + step] = 2.0 * (mu.sum(axis=1) - (self.n * log_mu).sum(axis=1))
        return out

    def grad_hess(self, norm: float) -> tuple[float, float]:
        mu = self.b + norm * self.s
        ok = mu > TRUNCATION_VALUE
        ratio = np.where(ok, self.n / np.where(ok, mu, 1.0), 0.0)
        grad = 2.0 * np.sum(self.s * (1.0 - ratio))
        hess = 2.0 * np.sum(np.where(ok, ratio / np.where(ok, mu, 1.0), 0.0) * self.s**2)
        return float(grad), float(hess)

    def npred(self, norm: float) -> float:
        return float(np.sum(self.b + norm * self.s))

    def npred_excess(self, norm: float) -> float:
        return float(norm * np.sum(self.s))

    @property
    def counts(self) -> float:
        return float(self.n.sum())


class WStatTerm:
    """WStat of ON/OFF counts with signal ``other + norm * signal`` (background profiled)."""

    def __init__(self, counts, counts_off, alpha, other, signal) -> None:
        self.n = np.asarray(counts, dtype=np.float64).ravel()
        self.n_off = np.asarray(counts_off, dtype=np.float64).ravel()
        self.alpha = np.asarray(alpha, dtype=np.float64).ravel()
        self.b = np.asarray(other, dtype=np.float64).ravel()
        self.s = np.asarray(signal, dtype=np.float64).ravel()

    def stat(self, norms: np.ndarray) -> np.ndarray:
        norms = np.atleast_1d(np.asarray(norms, dtype=np.float64))
        out = np.empty(norms.size)
        step = max(1, _CHUNK // max(self.n.size, 1))
        for i in range(0, norms.size, step):
            mu_sig = self.b + norms[i : i + step, None] * self.s
            out[i : i + step] = wstat(self.n, self.n_off, self.alpha, mu_sig).sum(axis=1)
        return out

    def grad_hess(self, norm: float) -> tuple[float, float]:
        def grad(x: float) -> float:
            mu_sig = self.b + x * self.s
            mu_bkg = get_wstat_mu_bkg(self.n, self.n_off, self.alpha, mu_sig)
            mu_on = mu_sig + self.alpha * mu_bkg
            ok = mu_on > TRUNCATION_VALUE
            ratio = np.where(ok, self.n / np.where(ok, mu_on, 1.0), 0.0)
            return float(2.0 * np.sum(self.s * (1.0 - ratio)))

        h = 1e-5 * max(abs(norm), 1e-2)
        g0 = grad(norm)
        hess = (grad(norm + h) - grad(norm - h)) / (2 * h)
        return g0, float(hess)

    def _mu_bkg(self, norm: float) -> np.ndarray:
        return get_wstat_mu_bkg(self.n, self.n_off, self.alpha, self.b + norm * self.s)

    def npred(self, norm: float) -> float:
        return float(np.sum(self.b + norm * self.s + self.alpha * self._mu_bkg(norm)))

    def npred_excess(self, norm: float) -> float:
        return float(norm * np.sum(self.s))

    @property
    def counts(self) -> float:
        return float(self.n.sum())


@dataclass
class NormFitResult:
    """Outcome of the one-parameter fit."""

    norm: float = np.nan
    norm_err: float = np.nan
    stat: float = np.nan
    success: bool = False
    niter: int = 0
    message: str = ""
    extra: dict = field(default_factory=dict)


class NormLikelihood:
    """Total statistic of several terms as a function of the shared ``norm``.

    Parameters
    ----------
    terms : list of `CashTerm` / `WStatTerm`
    norm_min, norm_max : float
        Bounds of the norm (NaN: unbounded).
    """

    def __init__(self, terms: list, norm_min: float = np.nan, norm_max: float = np.nan) -> None:
        self.terms = list(terms)
        self.lo = -1e6 if not np.isfinite(norm_min) else float(norm_min)
        self.hi = 1e6 if not np.isfinite(norm_max) else float(norm_max)

    def stat(self, norms) -> np.ndarray:
        """Statistic at each value of ``norms``."""
        norms = np.atleast_1d(np.asarray(norms, dtype=np.float64))
        total = np.zeros(norms.size)
        for term in self.terms:
            total += term.stat(norms)
        return total

    def _stat1(self, x: float) -> float:
        return float(self.stat(np.array([x]))[0])

    def grad_hess(self, norm: float) -> tuple[float, float]:
        grad = hess = 0.0
        for term in self.terms:
            g, h = term.grad_hess(norm)
            grad += g
            hess += h
        return grad, hess

    @property
    def has_signal(self) -> bool:
        return any(np.any(t.s != 0) for t in self.terms)

    # -- best fit ---------------------------------------------------------------------------
    def _bracket(self, x: float, g: float) -> tuple[float, float]:
        """Finite interval around the gradient root (g(lo) <= 0 <= g(hi))."""
        side = -1.0 if g > 0 else 1.0
        bound = self.lo if side < 0 else self.hi
        step = max(abs(x), 1.0)
        inner = x
        for _ in range(80):
            outer = x + side * step
            if (outer - bound) * side >= 0:
                outer = bound
            g_out = self.grad_hess(outer)[0]
            if g_out * side >= 0 or outer == bound:
                return (outer, inner) if side < 0 else (inner, outer)
            inner, step = outer, 2 * step
        return (bound, inner) if side < 0 else (inner, bound)

    def fit(self, norm0: float = 1.0, rtol: float = 1e-10, max_iter: int = 100) -> NormFitResult:
        """Minimise the statistic (Newton steps safeguarded by bisection)."""
        if not self.terms or not self.has_signal:
            return NormFitResult(message="no signal prediction in the fit range")
        x = float(np.clip(norm0, self.lo, self.hi))
        g, h = self.grad_hess(x)
        lo, hi = self._bracket(x, g)
        niter = 0
        for niter in range(1, max_iter + 1):  # noqa: B007 - niter reported
            x_new = x - g / h if (h > 0 and np.isfinite(h)) else np.nan
            if not (lo <= x_new <= hi):
                x_new = 0.5 * (lo + hi)
            step = x_new - x
            x = x_new
            g, h = self.grad_hess(x)
            if g > 0:
                hi = x
            else:
                lo = x
            tol = rtol * max(1.0, abs(x))
            if abs(step) <= tol or hi - lo <= tol or g == 0:
                break
        at_bound = (x - self.lo) < 1e-9 * max(1.0, abs(x)) or (self.hi - x) < 1e-9 * max(
            1.0, abs(x)
        )
        success = bool(np.isfinite(x) and np.isfinite(g) and not at_bound)
        err = float(np.sqrt(2.0 / h)) if h > 0 and np.isfinite(h) else np.nan
        return NormFitResult(
            norm=float(x),
            norm_err=err,
            stat=self._stat1(x),
            success=success,
            niter=niter,
            message="Optimization terminated successfully." if success else
            "Optimization failed: norm at its bound or non-finite statistic.",
        )

    # -- profile roots ----------------------------------------------------------------------
    def crossing(self, best: float, stat_min: float, delta: float, side: int,
                 step0: float, max_steps: int = 60) -> float:
        """Norm where the statistic rises by ``delta`` above ``stat_min`` on one side."""
        from scipy.optimize import brentq

        target = stat_min + delta
        bound = self.hi if side > 0 else self.lo
        step = step0 if np.isfinite(step0) and step0 > 0 else max(0.1 * abs(best), 0.1)
        inner = best
        for _ in range(max_steps):
            outer = best + side * step
            if (outer - bound) * side >= 0:
                outer = bound
            value = self._stat1(outer) - target
            if not np.isfinite(value):
                return np.nan
            if value >= 0:
                lo, hi = sorted((inner, outer))
                return float(brentq(lambda v: self._stat1(v) - target, lo, hi,
                                    xtol=1e-10 * max(1.0, abs(best)), rtol=1e-12))
            if outer == bound:
                return np.nan
            inner, step = outer, 2 * step
        return np.nan

    def errn_errp(self, fit: NormFitResult, n_sigma: float) -> tuple[float, float]:
        """Asymmetric errors (positive numbers) at ``n_sigma``."""
        if not fit.success:
            return np.nan, np.nan
        delta = n_sigma**2
        step = n_sigma * fit.norm_err
        up = self.crossing(fit.norm, fit.stat, delta, +1, step)
        down = self.crossing(fit.norm, fit.stat, delta, -1, step)
        return fit.norm - down, up - fit.norm

    def upper_limit(self, fit: NormFitResult, n_sigma_ul: float) -> float:
        """Norm where the statistic is ``n_sigma_ul**2`` above the minimum (upper side)."""
        if not fit.success:
            return np.nan
        return self.crossing(fit.norm, fit.stat, n_sigma_ul**2, +1, n_sigma_ul * fit.norm_err)

    # -- summaries --------------------------------------------------------------------------
    def npred(self, norm: float) -> np.ndarray:
        return np.array([t.npred(norm) for t in self.terms])

    def npred_excess(self, norm: float) -> np.ndarray:
        return np.array([t.npred_excess(norm) for t in self.terms])

    def counts(self) -> np.ndarray:
        return np.array([t.counts for t in self.terms])
