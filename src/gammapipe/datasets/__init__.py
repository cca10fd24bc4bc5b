"""Datasets: binned data + IRF maps for likelihood fits (`MapDataset`,
`MapDatasetOnOff`), IRF maps (`PSFMap`, `PSFKernel`, `EDispKernelMap`, `EDispMap`), the
sky-model forward folding (`MapEvaluator`) and the `Datasets` container.

Names are loaded lazily so that ``import gammapipe.datasets`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Dataset": "core",
    "Datasets": "core",
    "MapDataset": "map_dataset",
    "MapDatasetOnOff": "map_onoff",
    "SpectrumDataset": "spectrum",
    "SpectrumDatasetOnOff": "spectrum",
    "MapEvaluator": "evaluator",
    "IRFMap": "irf_map",
    "PSFMap": "psf_map",
    "PSFKernel": "psf_map",
    "EDispKernelMap": "edisp_map",
    "EDispMap": "edisp_map",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
