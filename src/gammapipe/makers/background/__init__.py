"""Background makers from OFF measurements: reflected regions (1D) and ring (2D/3D)."""

from __future__ import annotations

import importlib

_EXPORTS = {
    "RegionsFinder": "reflected",
    "ReflectedRegionsFinder": "reflected",
    "WobbleRegionsFinder": "reflected",
    "ReflectedRegionsBackgroundMaker": "reflected",
    "RingBackgroundMaker": "ring",
    "AdaptiveRingBackgroundMaker": "ring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
