"""Statistics: fit statistics (cash, cstat, wstat, chi2) and counts statistics.

Names are loaded on first access (``scipy.special`` is only imported by counts statistics).
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

_INDEX = {
    "TRUNCATION_VALUE": "fit_statistics",
    "cash": "fit_statistics",
    "cash_sum": "fit_statistics",
    "cash_grad_factor": "fit_statistics",
    "cstat": "fit_statistics",
    "wstat": "fit_statistics",
    "wstat_grad_factor": "fit_statistics",
    "get_wstat_mu_bkg": "fit_statistics",
    "get_wstat_gof_terms": "fit_statistics",
    "chi2": "fit_statistics",
    "chi2asym": "fit_statistics",
    "CashCountsStatistic": "counts_statistics",
    "WStatCountsStatistic": "counts_statistics",
}


__getattr__, __dir__, __all__ = lazy_exports(__name__, _INDEX)
