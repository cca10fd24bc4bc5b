"""Statistics: fit statistics (cash, cstat, wstat, chi2) and counts statistics.

Names are loaded on first access (``scipy.special`` is only imported by counts statistics).
"""

from __future__ import annotations

import importlib

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

__all__ = list(_INDEX)


def __getattr__(name: str):
    if name in _INDEX:
        module = importlib.import_module(f"{__name__}.{_INDEX[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
