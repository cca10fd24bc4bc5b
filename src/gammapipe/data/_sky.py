"""Small spherical helpers for the data layer (plain float64 arrays in degrees)."""

from __future__ import annotations

import numpy as np

from ..utils.coordinates import angular_separation_deg

__all__ = ["angular_separation_deg", "center_lonlat_deg"]


def center_lonlat_deg(lon, lat) -> tuple[float, float]:
    """Mean direction (unit-vector average) of points given in degrees."""
    lon, lat = np.radians(np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    x = np.mean(np.cos(lat) * np.cos(lon))
    y = np.mean(np.cos(lat) * np.sin(lon))
    z = np.mean(np.sin(lat))
    lon_c = float(np.degrees(np.arctan2(y, x)) % 360)
    return lon_c, float(np.degrees(np.arctan2(z, np.hypot(x, y))))
