"""Modeling: parameters, covariance, fitting (`Fit`) and models (`gammapipe.modeling.models`).

Names are loaded on first access so that ``import gammapipe.modeling`` stays cheap.
"""

from __future__ import annotations

import importlib

from gammapipe.utils.lazy import lazy_exports

_INDEX = {
    "Parameter": "parameter",
    "Parameters": "parameter",
    "Covariance": "covariance",
    "Fit": "fit",
    "FitResult": "fit",
    "OptimizeResult": "fit",
    "CovarianceResult": "fit",
}


_getattr, _dir, _all = lazy_exports(__name__, _INDEX)
__all__ = [*_all, "models"]


def __getattr__(name: str):
    if name == "models":  # the subpackage gammapipe.modeling.models
        return importlib.import_module(f"{__name__}.models")
    return _getattr(name)


def __dir__() -> list[str]:
    return sorted(__all__)
