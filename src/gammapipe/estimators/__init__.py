"""Estimators: flux points, flux/excess/TS maps, light curves and their containers.

Names are loaded lazily so that ``import gammapipe.estimators`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
