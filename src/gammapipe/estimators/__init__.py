"""Estimators: flux points, flux/excess/TS maps, light curves and their containers.

Names are loaded lazily so that ``import gammapipe.estimators`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Estimator": "core",
    "ParameterEstimator": "parameter",
    "FluxMaps": "flux_map",
    "FluxPoints": "points",
    "FluxEstimator": "flux_estimator",
    "FluxPointsEstimator": "points_estimator",
    "ExcessMapEstimator": "excess_map",
    "TSMapEstimator": "ts_map",
    "LightCurveEstimator": "lightcurve",
    "plot_spectrum": "plotting",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.estimators' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
