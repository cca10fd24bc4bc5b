"""DL3 data access: data store, observation index, observations, events, GTIs and pointing.

Names are loaded lazily so that ``import gammapipe.data`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
