"""Vectorised spherical coordinate kernels (plain float64 arrays in degrees).

Field-of-view (FoV) coordinates follow the GADF convention: the frame is centred on the
pointing position and rotated like astropy's ``SkyOffsetFrame``; the longitude axis is
*mirrored* (``fov_lon = -lon_offset``), so that for a RADEC-aligned FoV ``fov_lon`` grows
towards decreasing right ascension, as on a sky image seen from inside the sphere. These
functions replace one SkyCoord frame transformation per pixel or event by a handful of numpy
expressions on whole arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "angular_separation_deg",
    "offset_frame_lonlat",
    "offset_frame_to_sky",
    "sky_to_fov",
    "fov_to_sky",
    "position_angle_deg",
]


def angular_separation_deg(lon1, lat1, lon2, lat2):
    """Great-circle distance in degrees (Vincenty formula, stable at all separations)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(x, dtype=float)) for x in (lon1, lat1, lon2, lat2)
    )
    dlon = lon2 - lon1
    slat1, clat1 = np.sin(lat1), np.cos(lat1)
    slat2, clat2 = np.sin(lat2), np.cos(lat2)
    num1 = clat2 * np.sin(dlon)
    num2 = clat1 * slat2 - slat1 * clat2 * np.cos(dlon)
    denom = slat1 * slat2 + clat1 * clat2 * np.cos(dlon)
    return np.degrees(np.arctan2(np.hypot(num1, num2), denom))


def position_angle_deg(lon1, lat1, lon2, lat2):
    """Position angle (east of north) of point 2 as seen from point 1, in degrees [0, 360)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(x, dtype=float)) for x in (lon1, lat1, lon2, lat2)
    )
    dlon = lon2 - lon1
    y = np.sin(dlon) * np.cos(lat2)
    x = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.degrees(np.arctan2(y, x)) % 360.0


def offset_frame_lonlat(lon, lat, lon_center, lat_center):
    """Coordinates in the frame centred on (lon_center, lat_center), like ``SkyOffsetFrame``.

    Returns (lon_offset, lat_offset) in degrees, lon_offset in (-180, 180].
    """
    lon, lat = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    lon0, lat0 = np.radians(lon_center), np.radians(lat_center)
    dlon = lon - lon0
    clat = np.cos(lat)
    x = clat * np.cos(dlon)
    y = clat * np.sin(dlon)
    z = np.sin(lat)
    sl0, cl0 = np.sin(lat0), np.cos(lat0)
    xr = x * cl0 + z * sl0
    zr = z * cl0 - x * sl0
    lon_off = np.degrees(np.arctan2(y, xr))
    lat_off = np.degrees(np.arcsin(np.clip(zr, -1.0, 1.0)))
    return lon_off, lat_off


def offset_frame_to_sky(lon_off, lat_off, lon_center, lat_center):
    """Inverse of :func:`offset_frame_lonlat`; returns (lon, lat) in degrees, lon in [0, 360)."""
    lon_off = np.radians(np.asarray(lon_off, dtype=float))
    lat_off = np.radians(np.asarray(lat_off, dtype=float))
    lon0, lat0 = np.radians(lon_center), np.radians(lat_center)
    clat = np.cos(lat_off)
    xr = clat * np.cos(lon_off)
    y = clat * np.sin(lon_off)
    zr = np.sin(lat_off)
    sl0, cl0 = np.sin(lat0), np.cos(lat0)
    x = xr * cl0 - zr * sl0
    z = zr * cl0 + xr * sl0
    lon = (np.degrees(np.arctan2(y, x) + lon0)) % 360.0
    lat = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    return lon, lat


def sky_to_fov(lon, lat, lon_pointing, lat_pointing):
    """Sky coordinates -> GADF FoV coordinates (fov_lon, fov_lat) in degrees.

    Works for any pair of frames as long as both positions are in the same frame: RA/DEC for a
    RADEC-aligned FoV, AZ/ALT for an ALTAZ-aligned one.
    """
    lon_off, lat_off = offset_frame_lonlat(lon, lat, lon_pointing, lat_pointing)
    return -lon_off, lat_off


def fov_to_sky(fov_lon, fov_lat, lon_pointing, lat_pointing):
    """GADF FoV coordinates -> sky coordinates (inverse of :func:`sky_to_fov`)."""
    return offset_frame_to_sky(
        -np.asarray(fov_lon, dtype=float), fov_lat, lon_pointing, lat_pointing
    )
