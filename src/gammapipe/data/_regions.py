"""Vectorised region containment for event positions (regions imported lazily)."""

from __future__ import annotations

import numpy as np

from ..utils.coordinates import angular_separation_deg, center_lonlat_deg

__all__ = ["parse_regions", "region_mask"]


def parse_regions(regions) -> list:
    """Normalise ``regions`` (DS9 string, region, list of regions) to a list of regions."""
    from regions import Region, Regions

    if isinstance(regions, str):
        try:
            return list(Regions.parse(regions, format="ds9"))
        except Exception as exc:  # regions raises several private error types
            raise ValueError(f"cannot parse DS9 region string {regions!r}: {exc}") from exc
    if isinstance(regions, Region):
        return [regions]
    result = []
    for region in regions:
        result.extend(parse_regions(region))
    return result


def _local_wcs(lon: float, lat: float):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [lon, lat]
    wcs.wcs.crpix = [0.0, 0.0]
    wcs.wcs.cdelt = [-0.01, 0.01]
    wcs.wcs.radesys = "ICRS"
    return wcs


def _region_center_icrs(region) -> tuple[float, float] | None:
    center = getattr(region, "center", None)
    if center is None:
        vertices = getattr(region, "vertices", None)
        if vertices is None:
            return None
        icrs = vertices.icrs
        return center_lonlat_deg(icrs.ra.deg, icrs.dec.deg)
    icrs = center.icrs
    return float(icrs.ra.deg), float(icrs.dec.deg)


def region_mask(regions, ra_deg: np.ndarray, dec_deg: np.ndarray, wcs=None) -> np.ndarray:
    """Boolean mask of positions (ICRS, deg) inside any of ``regions``.

    Circles are tested by exact angular distance. Other sky regions are projected with
    ``wcs`` (or a local gnomonic projection centred on the region) and tested in pixel
    coordinates; pixel regions need ``wcs``.
    """
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion, PixCoord, PixelRegion, SkyRegion

    ra_deg = np.asarray(ra_deg, float)
    dec_deg = np.asarray(dec_deg, float)
    mask = np.zeros(ra_deg.shape, dtype=bool)
    pix_cache: dict[int, PixCoord] = {}

    def pixcoord(the_wcs) -> PixCoord:
        key = id(the_wcs)
        if key not in pix_cache:
            if the_wcs.wcs.radesys in ("ICRS", "") and the_wcs.wcs.ctype[0].startswith("RA"):
                x, y = the_wcs.wcs_world2pix(ra_deg, dec_deg, 0)
            else:
                from astropy.wcs.utils import skycoord_to_pixel

                coords = SkyCoord(ra_deg, dec_deg, unit="deg", frame="icrs")
                x, y = skycoord_to_pixel(coords, the_wcs, origin=0)
            pix_cache[key] = PixCoord(x, y)
        return pix_cache[key]

    for region in parse_regions(regions):
        if isinstance(region, CircleSkyRegion):
            center = region.center.icrs
            sep = angular_separation_deg(ra_deg, dec_deg, center.ra.deg, center.dec.deg)
            mask |= sep <= region.radius.to_value("deg")
        elif isinstance(region, SkyRegion):
            the_wcs = wcs
            if the_wcs is None:
                center = _region_center_icrs(region)
                if center is None:
                    center = center_lonlat_deg(ra_deg, dec_deg)
                the_wcs = _local_wcs(*center)
            pixel_region = region.to_pixel(the_wcs)
            mask |= np.asarray(pixel_region.contains(pixcoord(the_wcs)), dtype=bool)
        elif isinstance(region, PixelRegion):
            if wcs is None:
                raise ValueError(f"select_region: pixel region {region!r} requires wcs")
            mask |= np.asarray(region.contains(pixcoord(wcs)), dtype=bool)
        else:
            raise TypeError(f"select_region: unsupported region type {type(region).__name__}")
    return mask
