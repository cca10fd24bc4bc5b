"""Background makers from OFF measurements: reflected regions (1D) and ring (2D/3D)."""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

_EXPORTS = {
    "RegionsFinder": "reflected",
    "ReflectedRegionsFinder": "reflected",
    "WobbleRegionsFinder": "reflected",
    "ReflectedRegionsBackgroundMaker": "reflected",
    "RingBackgroundMaker": "ring",
    "AdaptiveRingBackgroundMaker": "ring",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
