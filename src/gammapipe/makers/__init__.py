"""Data reduction (DL3 -> DL4): makers of map datasets, safe masks and FoV background.

Names are loaded lazily so that ``import gammapipe.makers`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Maker": "core",
    "MapDatasetMaker": "map",
    "SafeMaskMaker": "safe_mask",
    "FoVBackgroundMaker": "fov",
    "make_map_exposure_true_energy": "utils",
    "make_map_background_irf": "utils",
    "make_psf_map": "utils",
    "make_edisp_map": "utils",
    "make_edisp_kernel_map": "utils",
    "make_counts_map": "utils",
    # 1D reduction (helper H10's modules)
    "SpectrumDatasetMaker": "spectrum",
    "RegionsFinder": "background.reflected",
    "ReflectedRegionsFinder": "background.reflected",
    "WobbleRegionsFinder": "background.reflected",
    "ReflectedRegionsBackgroundMaker": "background.reflected",
    "RingBackgroundMaker": "background.ring",
    "AdaptiveRingBackgroundMaker": "background.ring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.makers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
