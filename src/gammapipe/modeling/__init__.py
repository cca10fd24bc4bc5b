"""Modeling: parameters, covariance, fitting (`Fit`) and models (`gammapipe.modeling.models`).

Names are loaded on first access so that ``import gammapipe.modeling`` stays cheap.
"""

from __future__ import annotations

import importlib

_INDEX = {
    "Parameter": "parameter",
    "Parameters": "parameter",
    "Covariance": "covariance",
    "Fit": "fit",
    "FitResult": "fit",
    "OptimizeResult": "fit",
    "CovarianceResult": "fit",
}

__all__ = [*_INDEX, "models"]


def __getattr__(name: str):
    if name == "models":
        return importlib.import_module(f"{__name__}.models")
    if name in _INDEX:
        module = importlib.import_module(f"{__name__}.{_INDEX[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
