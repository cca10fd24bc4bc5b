"""FITS I/O and plotting of `RegionGeom`.

The region is stored with the FITS region-file convention: a binary table (``SHAPE``,
``X``, ``Y``, ``R``, ``ROTANG`` columns, written and parsed by `regions`) holding the
shapes in pixel coordinates of the geometry's local WCS, whose keywords are in the same
table header. A union of regions is stored as one row per component.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS, FITSFixedWarning

from ..utils.errors import FITSFormatError, MissingHDUError

__all__ = ["region_geom_to_hdulist", "region_geom_from_hdulist", "region_to_table",
           "region_from_table", "plot_region_geom"]


def region_to_table(region, wcs) -> Table:
    """Table of the region components (pixel shapes) with the WCS keywords in ``meta``."""
    from regions import Regions

    from ._wcs_utils import sky_region_to_pixel
    from .region_geom import _components

    pixel_regions = [sky_region_to_pixel(r, wcs) for r in _components(region)]
    table = Regions(pixel_regions).serialize(format="fits")
    header = wcs.to_header()
    for key in header:
        table.meta[key] = header[key]
    return table


def region_from_table(table: Table):
    """Sky region (union of the rows) and WCS from a table written by `region_to_table`."""
    from regions import Regions

    header = fits.Header()
    for key, value in table.meta.items():
        if isinstance(value, str | int | float | bool) and len(str(key)) <= 8:
            header[key] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, naxis=2)
    if not wcs.has_celestial:
        raise FITSFormatError("region table: no celestial WCS keywords in the header")
    columns = [c for c in table.colnames if c.upper() in ("SHAPE", "X", "Y", "R", "ROTANG",
                                                          "COMPONENT")]
    pixel_regions = Regions.parse(QTable(table[columns], meta={}), format="fits")
    region = None
    for pixel_region in pixel_regions:
        sky = pixel_region.to_sky(wcs)
        region = sky if region is None else region.union(sky)
    return region, wcs


def region_geom_to_hdulist(geom, format: str = "gadf", hdu_bands=None, hdu_region=None):
    """HDU list ``[PRIMARY, BANDS, REGION]`` of a region geometry."""
    hdu_bands = (hdu_bands or "BANDS").upper()
    hdu_region = (hdu_region or "REGION").upper()
    hdus = [fits.PrimaryHDU()]
    if len(geom.axes):
        hdus.append(geom.axes.to_table_hdu(format="gadf", hdu_bands=hdu_bands))
    if geom.region is not None:
        table_hdu = fits.table_to_hdu(region_to_table(geom.region, geom.wcs))
        table_hdu.name = hdu_region
        hdus.append(table_hdu)
    else:
        header = geom.wcs.to_header()
        table_hdu = fits.BinTableHDU(Table({"SHAPE": np.array([], dtype="U8")}),
                                     header=header, name=hdu_region)
        hdus.append(table_hdu)
    return fits.HDUList(hdus)


def region_geom_from_hdulist(hdulist, format: str = "gadf", hdu=None, hdu_bands=None,
                             hdu_region=None):
    """Read a region geometry written by `region_geom_to_hdulist`."""
    from ._axes import MapAxes
    from .region_geom import RegionGeom

    hdu_region = (hdu_region or "REGION").upper()
    if hdu is not None and hdu in hdulist:
        header = hdulist[hdu].header
        hdu_bands = hdu_bands or header.get("BANDSHDU")
        hdu_region = header.get("REGIONHDU", hdu_region)
    hdu_bands = (hdu_bands or "BANDS").upper()
    axes = None
    if hdu_bands in hdulist:
        axes = MapAxes.from_table_hdu(hdulist[hdu_bands], format="gadf")
    if hdu_region not in hdulist:
        raise MissingHDUError(f"region HDU {hdu_region!r} not found in the HDU list")
    table = QTable.read(hdulist[hdu_region])
    if len(table) == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(hdulist[hdu_region].header, naxis=2)
        return RegionGeom(None, axes=axes, wcs=wcs)
    region, wcs = region_from_table(table)
    return RegionGeom(region, axes=axes, wcs=wcs)


def plot_region_geom(geom, ax=None, kwargs_point=None, **kwargs):
    """Draw the region of ``geom`` on ``ax`` (a WCSAxes is created if None)."""
    import matplotlib.pyplot as plt
    from regions import PointPixelRegion

    from ._wcs_utils import sky_region_to_pixel
    from .region_geom import _components

    if ax is None:
        wcs_geom = geom.to_wcs_geom(width_min="1 deg")
        fig = plt.figure()
        ax = fig.add_subplot(projection=wcs_geom.wcs)
        ax.set_xlim(-0.5, wcs_geom.npix[0] - 0.5)
        ax.set_ylim(-0.5, wcs_geom.npix[1] - 0.5)
    wcs = getattr(ax, "wcs", None)
    if wcs is None:
        raise TypeError("plot_region: 'ax' must be a WCSAxes (projection=wcs)")
    if geom.region is None:
        return ax
    kwargs.setdefault("facecolor", "none")
    kwargs.setdefault("edgecolor", "tab:blue")
    kwargs_point = dict(kwargs_point or {})
    kwargs_point.setdefault("marker", "+")
    kwargs_point.setdefault("color", kwargs["edgecolor"])
    for region in _components(geom.region):
        pixel_region = sky_region_to_pixel(region, wcs)
        if isinstance(pixel_region, PointPixelRegion):
            ax.plot(pixel_region.center.x, pixel_region.center.y, **kwargs_point)
            continue
        artist = pixel_region.as_artist(**kwargs)
        ax.add_artist(artist)
    return ax
