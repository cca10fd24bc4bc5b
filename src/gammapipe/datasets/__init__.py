"""Datasets: binned data + IRF maps for likelihood fits (`MapDataset`,
`MapDatasetOnOff`), the sky-model forward folding (`MapEvaluator`) and the `Datasets`
container.

The IRF maps (`IRFMap`, `PSFMap`, `PSFKernel`, `EDispKernelMap`, `EDispMap`) are defined
in `gammapipe.irf`; they are re-exported here so that ``from gammapipe.datasets import
PSFMap`` keeps working. Names are loaded lazily so that ``import gammapipe.datasets``
stays cheap.
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
    "FluxPointsDataset": "flux_points",
    # IRF maps, defined in gammapipe.irf
    "IRFMap": "gammapipe.irf.irf_map",
    "PSFMap": "gammapipe.irf.psf_map",
    "PSFKernel": "gammapipe.irf.psf_map",
    "EDispKernelMap": "gammapipe.irf.edisp_map",
    "EDispMap": "gammapipe.irf.edisp_map",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
