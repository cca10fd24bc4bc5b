"""gammapipe: fast gamma-ray astronomy analysis of IACT DL3 data.

Subpackages (layered, bottom up): ``utils``/``stats``, ``maps``, ``irf``, ``data``,
``modeling``, ``datasets``, ``makers``, ``estimators``, ``analysis``.
Importing ``gammapipe`` is cheap: subpackages load on first attribute access.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = (
    "utils",
    "stats",
    "maps",
    "irf",
    "data",
    "modeling",
    "datasets",
    "makers",
    "estimators",
    "analysis",
)

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gammapipe' has no attribute {name!r}")
