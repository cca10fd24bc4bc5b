"""Map axes: `MapAxis` (binned numeric axis), `MapAxes` (container), `LabelMapAxis`
(named bins) and `TimeMapAxis` (time intervals).

The classes live in private modules (``_axis``, ``_axes``, ``_axis_other``, table I/O in
``_axis_io``) to keep each module small; import them from here or from `gammapipe.maps`.
"""

from __future__ import annotations

from ._axes import MapAxes
from ._axis import ENERGY_AXIS_NAMES, NODE_TYPES, MapAxis
from ._axis_other import LabelMapAxis, TimeMapAxis
from ._axis_scale import INTERP_SCALES

__all__ = [
    "MapAxis",
    "MapAxes",
    "LabelMapAxis",
    "TimeMapAxis",
    "INTERP_SCALES",
    "NODE_TYPES",
    "ENERGY_AXIS_NAMES",
]
