"""Datasets: binned data + IRF maps for likelihood fits (`MapDataset`,
`MapDatasetOnOff`), IRF maps (`PSFMap`, `PSFKernel`, `EDispKernelMap`, `EDispMap`), the
sky-model forward folding (`MapEvaluator`) and the `Datasets` container.

Names are loaded lazily so that ``import gammapipe.datasets`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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
    "FluxPointsDataset": "flux_points",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
