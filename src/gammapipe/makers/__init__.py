"""Data reduction (DL3 -> DL4): makers of map datasets, safe masks and FoV background.

Names are loaded lazily so that ``import gammapipe.makers`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
