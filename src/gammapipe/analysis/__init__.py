"""High-level analysis: typed config (`AnalysisConfig`), the `Analysis` session, parallel
reduction, the event simulator and the ``gammapipe`` command-line tool.

Names are loaded lazily so that ``import gammapipe.analysis`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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
    "example_config": "examples",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
