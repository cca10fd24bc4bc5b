"""Fit statistics (``-2 log L`` up to model-independent terms), vectorised on float64 arrays.

* `cash`: Poisson counts with a known model, ``2 (mu - n ln mu)`` (Cash 1979).
* `cstat`: the same with the saturated-model terms, ``2 (mu - n + n ln(n / mu))``.
* `wstat`: ON/OFF counts with the background profiled out (XSPEC "W statistic", Poisson
  background), including the ``n_on = 0`` and ``n_off = 0`` limits.
* `chi2`, `chi2asym`: Gaussian statistics.

Model values ``mu <= 0`` where counts are present never give NaN: ``mu`` is truncated at
``truncation_value`` inside the logarithm, which gives a large but finite penalty.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "TRUNCATION_VALUE",
    "cash",
    "cash_sum",
    "cash_grad_factor",
    "cstat",
    "wstat",
    "wstat_grad_factor",
    "get_wstat_mu_bkg",
    "get_wstat_gof_terms",
    "chi2",
    "chi2asym",
]

TRUNCATION_VALUE = 1e-25


def _check_truncation(truncation_value: float) -> float:
    value = float(truncation_value)
    if not value > 0:
        raise ValueError(f"truncation_value must be > 0, got {truncation_value!r}")
    return value


def _xlogx(x: np.ndarray) -> np.ndarray:
    """``x ln x`` with ``0 ln 0 = 0``."""
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, x * np.log(safe), 0.0)


def cash(n_on, mu_on, truncation_value: float = TRUNCATION_VALUE) -> np.ndarray:
    """Cash statistic per bin: ``2 (mu - n ln mu)``.

    Parameters
    ----------
    n_on : array-like
        Observed counts.
    mu_on : array-like
        Expected counts.
    truncation_value : float
        ``mu`` is replaced by ``max(mu, truncation_value)`` in the logarithm.
    """
    trunc = _check_truncation(truncation_value)
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_on = np.asarray(mu_on, dtype=np.float64)
    log_mu = np.log(np.maximum(mu_on, trunc))
    return 2.0 * (mu_on - np.where(n_on > 0, n_on * log_mu, 0.0))


def cash_sum(n_on, mu_on, truncation_value: float = TRUNCATION_VALUE) -> float:
    """Sum of `cash` over all bins (float)."""
    return float(np.sum(cash(n_on, mu_on, truncation_value)))


def cash_grad_factor(n_on, mu_on, truncation_value: float = TRUNCATION_VALUE) -> np.ndarray:
    """Derivative of `cash` with respect to ``mu``: ``2 (1 - n / mu)``.

    Multiply by ``d mu / d theta`` and sum to get the gradient of the total statistic.
    Where ``mu`` is truncated the log term is constant and the derivative is 2.
    """
    trunc = _check_truncation(truncation_value)
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_on = np.asarray(mu_on, dtype=np.float64)
    above = mu_on > trunc
    return 2.0 * (1.0 - np.where(above, n_on / np.where(above, mu_on, 1.0), 0.0))


def cstat(n_on, mu_on, truncation_value: float = TRUNCATION_VALUE) -> np.ndarray:
    """C statistic per bin: ``2 (mu - n + n ln(n / mu))`` (0 for a perfect model).

    ``n = 0`` gives ``2 mu``; ``mu`` is truncated as in `cash`.
    """
    trunc = _check_truncation(truncation_value)
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_on = np.asarray(mu_on, dtype=np.float64)
    log_mu = np.log(np.maximum(mu_on, trunc))
    n_log_mu = np.where(n_on > 0, n_on * log_mu, 0.0)
    return 2.0 * (mu_on - n_on + _xlogx(n_on) - n_log_mu)


def get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig) -> np.ndarray:
    """Profiled background (in OFF counts) maximising the ON/OFF Poisson likelihood.

    Solves ``alpha (alpha + 1) b^2 - C b - n_off mu_sig = 0`` with
    ``C = alpha (n_on + n_off) - (alpha + 1) mu_sig`` for its non-negative root; the
    expected counts are ``mu_sig + alpha b`` (ON) and ``b`` (OFF).
    """
    n_on = np.asarray(n_on, dtype=np.float64)
    n_off = np.asarray(n_off, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    mu_sig = np.asarray(mu_sig, dtype=np.float64)
    c = alpha * (n_on + n_off) - (alpha + 1.0) * mu_sig
    disc = np.sqrt(np.maximum(c**2 + 4.0 * alpha * (alpha + 1.0) * n_off * mu_sig, 0.0))
    denom = 2.0 * alpha * (alpha + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu_bkg = (c + disc) / denom
    # alpha = 0: the ON region has no background, b = n_off
    return np.where(alpha > 0, np.maximum(mu_bkg, 0.0), n_off)


def get_wstat_gof_terms(n_on, n_off) -> np.ndarray:
    """Saturated-model terms ``2 [n_on (ln n_on - 1) + n_off (ln n_off - 1)]`` (0 ln 0 = 0)."""
    n_on = np.asarray(n_on, dtype=np.float64)
    n_off = np.asarray(n_off, dtype=np.float64)
    return 2.0 * (_xlogx(n_on) - n_on + _xlogx(n_off) - n_off)


def wstat(
    n_on,
    n_off,
    alpha,
    mu_sig,
    mu_bkg=None,
    extra_terms: bool = True,
    truncation_value: float = TRUNCATION_VALUE,
) -> np.ndarray:
    """W statistic per bin (ON/OFF with profiled Poisson background).

    ``2 [mu_sig + (1 + alpha) b - n_on ln(mu_sig + alpha b) - n_off ln b]`` plus, with
    ``extra_terms``, `get_wstat_gof_terms` so that a perfect fit gives 0. Bins with
    ``n_on = 0`` or ``n_off = 0`` drop the corresponding log term (XSPEC limits).

    Parameters
    ----------
    n_on, n_off : array-like
        ON and OFF counts.
    alpha : array-like
        Exposure ratio ON / OFF.
    mu_sig : array-like
        Expected signal counts in the ON region.
    mu_bkg : array-like, optional
        Background (OFF counts); default: profiled with `get_wstat_mu_bkg`.
    extra_terms : bool
        Add the saturated-model terms.
    truncation_value : float
        Lower bound of the expected counts inside the logarithms.
    """
    trunc = _check_truncation(truncation_value)
    n_on = np.asarray(n_on, dtype=np.float64)
    n_off = np.asarray(n_off, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    mu_sig = np.asarray(mu_sig, dtype=np.float64)
    if mu_bkg is None:
        mu_bkg = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    mu_bkg = np.asarray(mu_bkg, dtype=np.float64)
    mu_on = mu_sig + alpha * mu_bkg
    term_on = np.where(n_on > 0, n_on * np.log(np.maximum(mu_on, trunc)), 0.0)
    term_off = np.where(n_off > 0, n_off * np.log(np.maximum(mu_bkg, trunc)), 0.0)
    stat = 2.0 * (mu_sig + (1.0 + alpha) * mu_bkg - term_on - term_off)
    if extra_terms:
        stat = stat + get_wstat_gof_terms(n_on, n_off)
    return stat


def wstat_grad_factor(
    n_on, n_off, alpha, mu_sig, truncation_value: float = TRUNCATION_VALUE
) -> np.ndarray:
    """Derivative of `wstat` (profiled background) with respect to ``mu_sig``.

    By the envelope theorem only the explicit dependence counts:
    ``2 (1 - n_on / (mu_sig + alpha b))``.
    """
    trunc = _check_truncation(truncation_value)
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_bkg = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    mu_on = np.asarray(mu_sig, dtype=np.float64) + np.asarray(alpha, dtype=np.float64) * mu_bkg
    above = mu_on > trunc
    return 2.0 * (1.0 - np.where(above, n_on / np.where(above, mu_on, 1.0), 0.0))


def chi2(N_S, B, S, sigma) -> np.ndarray:  # noqa: N803 - conventional symbols
    """Chi-square per bin ``((N_S - B - S) / sigma)^2``.

    Parameters
    ----------
    N_S : array-like
        Measured counts (or flux).
    B : array-like
        Known background.
    S : array-like
        Model signal.
    sigma : array-like
        Error of the measurement.
    """
    N_S = np.asarray(N_S, dtype=np.float64)  # noqa: N806
    return ((N_S - np.asarray(B, np.float64) - np.asarray(S, np.float64)) / sigma) ** 2


def chi2asym(counts, model, errn, errp) -> np.ndarray:
    """Chi-square with asymmetric errors: ``errp`` where the model is above the data."""
    counts = np.asarray(counts, dtype=np.float64)
    model = np.asarray(model, dtype=np.float64)
    resid = counts - model
    err = np.where(model > counts, np.asarray(errp, np.float64), np.asarray(errn, np.float64))
    return (resid / err) ** 2
