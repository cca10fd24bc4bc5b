"""Binned sky and spectral data: axes, geometries (WCS, region) and maps (GADF format).

Names are loaded lazily so that ``import gammapipe.maps`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MapAxis": "axes",
    "MapAxes": "axes",
    "LabelMapAxis": "axes",
    "TimeMapAxis": "axes",
    "MapCoord": "coord",
    "Geom": "geom",
    "WcsGeom": "wcs_geom",
    "RegionGeom": "region_geom",
    "Map": "core",
    "WcsMap": "wcs_map",
    "WcsNDMap": "wcs_map",
    "RegionNDMap": "region_map",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.maps' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
