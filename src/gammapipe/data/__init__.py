"""DL3 data access: data store, observation index, observations, events, GTIs and pointing.

Names are loaded lazily so that ``import gammapipe.data`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DataStore": "data_store",
    "REQUIRED_IRFS": "data_store",
    "HDUIndexTable": "hdu_index",
    "HDULocation": "hdu_index",
    "ObservationTable": "obs_table",
    "Observation": "observation",
    "Observations": "observations",
    "EventList": "event_list",
    "GTI": "gti",
    "FixedPointingInfo": "pointing",
    "PointingMode": "pointing",
    "observatory_location": "metadata",
    "observatory_locations": "metadata",
    "ObservationMeta": "observation",
    "LazyHDU": "observation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
