"""High-level analysis: typed config (`AnalysisConfig`), the `Analysis` session, parallel
reduction, the event simulator and the ``gammapipe`` command-line tool.

Names are loaded lazily so that ``import gammapipe.analysis`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Analysis": "analysis",
    "AnalysisConfig": "config",
    "ConfigError": "config",
    "run_parallel": "parallel",
    "ParallelError": "parallel",
    "MapDatasetEventSampler": "simulate",
    "make_analytic_irfs": "simulate",
    "simulate_dl3": "simulate",
    "simulate_observation": "simulate",
    "wobble_pointings": "simulate",
    "make_report": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
