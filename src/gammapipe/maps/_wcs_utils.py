"""Helpers of `WcsGeom`: WCS construction, argument parsing and region parsing."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord, SphericalRepresentation, UnitSphericalRepresentation
from astropy.wcs import WCS, FITSFixedWarning

from ..utils.errors import GeometryError

__all__ = [
    "PROJECTIONS",
    "FRAMES",
    "make_wcs",
    "frame_of_wcs",
    "projection_of_wcs",
    "parse_pair_deg",
    "skydir_to_lonlat",
    "parse_regions",
    "round_up_to_odd",
    "sky_region_to_pixel",
]

# celestial projections known to wcslib / astropy.wcs
PROJECTIONS = (
    "AZP", "SZP", "TAN", "STG", "SIN", "ARC", "ZPN", "ZEA", "AIR", "CYP", "CEA", "CAR",
    "MER", "COP", "COE", "COD", "COO", "SFL", "PAR", "MOL", "AIT", "BON", "PCO", "TSC",
    "CSC", "QSC", "HPX", "XPH",
)  # fmt: skip
FRAMES = ("icrs", "galactic")
_CTYPES = {"icrs": ("RA", "DEC"), "galactic": ("GLON", "GLAT")}


def parse_pair_deg(value, name: str) -> np.ndarray:
    """Scalar or pair (Quantity, str or float in deg) to a float array ``(lon, lat)``."""
    if isinstance(value, str):
        value = u.Quantity(value)
    if isinstance(value, tuple | list) and any(isinstance(v, u.Quantity | str) for v in value):
        value = u.Quantity([u.Quantity(v) for v in value])
    if isinstance(value, u.Quantity):
        try:
            value = value.to_value(u.deg)
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(f"argument {name!r}: {value.unit} is not an angle") from exc
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.array([arr, arr], dtype=float)
    arr = arr.ravel()
    if arr.size != 2:
        raise ValueError(f"argument {name!r}: expected a scalar or a pair, got {value!r}")
    return arr


def skydir_to_lonlat(skydir, frame: str) -> tuple[float, float]:
    """``skydir`` (SkyCoord, or (lon, lat) in deg in ``frame``) to lon/lat in ``frame``."""
    if skydir is None:
        return 0.0, 0.0
    if isinstance(skydir, SkyCoord):
        if frame in FRAMES and skydir.frame.name == frame and skydir.isscalar:
            # already in the requested frame (the common case): skip transform_to
            rep = skydir.frame.data
            if isinstance(rep, UnitSphericalRepresentation | SphericalRepresentation):
                return float(rep.lon.to_value(u.deg)) % 360.0, float(rep.lat.to_value(u.deg))
        sph = skydir.transform_to(frame).spherical
        return float(sph.lon.deg), float(sph.lat.deg)
    values = parse_pair_deg(skydir, "skydir")
    return float(values[0]), float(values[1])


def make_wcs(proj: str, frame: str, crval, cdelt, crpix, npix=None) -> WCS:
    """Two-dimensional celestial WCS."""
    proj = str(proj).upper()
    if proj not in PROJECTIONS:
        raise ValueError(f"argument 'proj': unknown projection {proj!r}, allowed: {PROJECTIONS}")
    if frame not in FRAMES:
        raise ValueError(f"argument 'frame': unknown frame {frame!r}, allowed: {FRAMES}")
    lon_name, lat_name = _CTYPES[frame]
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"{lon_name.ljust(5, '-')}{proj}", f"{lat_name.ljust(5, '-')}{proj}"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [float(crval[0]), float(crval[1])]
    wcs.wcs.cdelt = [float(cdelt[0]), float(cdelt[1])]
    wcs.wcs.crpix = [float(crpix[0]), float(crpix[1])]
    if frame == "icrs":
        wcs.wcs.radesys = "ICRS"
    if npix is not None:
        wcs.pixel_shape = (int(npix[0]), int(npix[1]))
    try:
        wcs.wcs.set()
    except Exception as exc:  # wcslib errors (e.g. projections needing PV parameters)
        raise ValueError(f"argument 'proj': cannot build a {proj} WCS ({exc})") from exc
    return wcs


def celestial_wcs_from_header(header) -> WCS:
    """Celestial 2D WCS of a FITS header (extra axes are ignored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        naxis = int(header.get("WCSAXES", header.get("NAXIS", 2)) or 2)
        wcs = WCS(header, naxis=[1, 2]) if naxis > 2 else WCS(header)
    if not wcs.has_celestial:
        raise GeometryError("header has no celestial WCS (CTYPE1/CTYPE2)")
    return wcs.celestial


def frame_of_wcs(wcs: WCS) -> str:
    """Frame name of a celestial WCS ("icrs", "galactic", "fk5")."""
    ctype = wcs.wcs.ctype[0].upper()
    if ctype.startswith("GLON"):
        return "galactic"
    if ctype.startswith("RA"):
        radesys = str(wcs.wcs.radesys).strip().upper()
        return "fk5" if radesys == "FK5" else "icrs"
    raise GeometryError(f"unsupported celestial frame of CTYPE {wcs.wcs.ctype[0]!r}")


def projection_of_wcs(wcs: WCS) -> str:
    """Projection code, e.g. "CAR"."""
    return wcs.wcs.ctype[0][5:].strip("-")


def round_up_to_odd(values) -> np.ndarray:
    """Smallest odd integers >= ``values``."""
    return (np.ceil(values) // 2 * 2 + 1).astype(int)


def parse_regions(regions) -> list:
    """List of `regions` objects from a region, a list, a Regions object or a DS9 string."""
    from regions import Region, Regions

    if regions is None:
        return []
    if isinstance(regions, str):
        return list(Regions.parse(regions, format="ds9"))
    if isinstance(regions, Region):
        return [regions]
    out = []
    for item in regions:
        if isinstance(item, str):
            out.extend(Regions.parse(item, format="ds9"))
        elif isinstance(item, Region):
            out.append(item)
        else:
            raise TypeError(f"argument 'regions': unsupported item {type(item).__name__}")
    return out


def _north_pixel_scale(center: SkyCoord, wcs, offset_arcsec: float = 1.0):
    """Pixel position of ``center`` and the pixel scale (deg / pixel) measured along the
    local North direction of the position's own frame, over a small offset."""
    x, y = wcs.world_to_pixel(center)
    north = center.directional_offset_by(0.0 * u.deg, offset_arcsec * u.arcsec)
    xn, yn = wcs.world_to_pixel(north)
    scale = (offset_arcsec / 3600.0) / float(np.hypot(xn - x, yn - y))
    return float(x), float(y), scale


def sky_region_to_pixel(region, wcs):
    """Pixel region of a sky region for pixel-centre masks.

    Circles and circular annuli are converted with the pixel scale measured along the
    local North direction of their centre (the convention of regions <= 0.10, which the
    gammapy 2.1 reference numbers use); compound regions are converted component-wise;
    other shapes use ``region.to_pixel(wcs)``.
    """
    from regions import (
        CircleAnnulusPixelRegion,
        CircleAnnulusSkyRegion,
        CirclePixelRegion,
        CircleSkyRegion,
        CompoundPixelRegion,
        CompoundSkyRegion,
        PixCoord,
        SkyRegion,
    )

    if not isinstance(region, SkyRegion):
        return region
    if isinstance(region, CircleSkyRegion):
        x, y, scale = _north_pixel_scale(region.center, wcs)
        return CirclePixelRegion(PixCoord(x, y), region.radius.to_value("deg") / scale)
    if isinstance(region, CircleAnnulusSkyRegion):
        x, y, scale = _north_pixel_scale(region.center, wcs)
        return CircleAnnulusPixelRegion(
            PixCoord(x, y),
            region.inner_radius.to_value("deg") / scale,
            region.outer_radius.to_value("deg") / scale,
        )
    if isinstance(region, CompoundSkyRegion):
        return CompoundPixelRegion(
            sky_region_to_pixel(region.region1, wcs),
            sky_region_to_pixel(region.region2, wcs),
            region.operator,
        )
    return region.to_pixel(wcs)
