"""`RegionGeom`: one spatial bin (a sky region, or a point) plus non-spatial axes."""

from __future__ import annotations

import operator

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord

from ..utils.coordinates import angular_separation_deg, center_lonlat_deg
from ..utils.errors import GeometryError
from ._axes import MapAxes
from ._wcs_utils import (
    FRAMES,
    frame_of_wcs,
    make_wcs,
    parse_pair_deg,
    parse_regions,
    projection_of_wcs,
    round_up_to_odd,
    sky_region_to_pixel,
    skydir_to_lonlat,
)
from .coord import MapCoord
from .geom import Geom

__all__ = ["RegionGeom"]

_FINE_MIN_PIXELS = 400  # fine-grid pixels across a region for pixelised integrals


def _as_region(region):
    """Single sky region (union of several) from a region, list or DS9 string."""
    if region is None:
        return None
    items = parse_regions(region)
    if not items:
        return None
    out = items[0]
    for item in items[1:]:
        out = out.union(item)
    return out


def _components(region) -> list:
    """Leaves of a union of regions (other compound operators are kept whole)."""
    from regions import CompoundSkyRegion

    if isinstance(region, CompoundSkyRegion) and region.operator is operator.or_:
        return _components(region.region1) + _components(region.region2)
    return [region]


def _region_center(region) -> SkyCoord:
    """Centre of a sky region: its ``center``, or the mean direction of its parts."""
    from regions import CompoundSkyRegion, PolygonSkyRegion

    if hasattr(region, "center"):
        return region.center
    if isinstance(region, PolygonSkyRegion):
        vertices = region.vertices
    elif isinstance(region, CompoundSkyRegion):
        c1, c2 = _region_center(region.region1), _region_center(region.region2)
        vertices = SkyCoord([c1, c2.transform_to(c1.frame)])
    else:
        raise GeometryError(f"cannot determine the centre of a {type(region).__name__}")
    sph = vertices.spherical
    lon, lat = center_lonlat_deg(sph.lon.deg, sph.lat.deg)
    return SkyCoord(lon, lat, unit="deg", frame=vertices.frame.name)


def _region_frame(region) -> str:
    from regions import CompoundSkyRegion, PolygonSkyRegion

    if isinstance(region, CompoundSkyRegion):
        return _region_frame(region.region1)
    if isinstance(region, PolygonSkyRegion):
        return region.vertices.frame.name
    return region.center.frame.name


def _sky_contains(region, lon, lat, frame: str, wcs) -> np.ndarray:
    """Whether positions (deg, in ``frame``) are inside ``region``.

    Circles and circular annuli are tested exactly on the sphere (angular distance to the
    centre); compound regions combine their parts; other shapes are tested in pixel
    coordinates of ``wcs`` (the `regions` convention).
    """
    from regions import (
        CircleAnnulusSkyRegion,
        CircleSkyRegion,
        CompoundSkyRegion,
        PixCoord,
    )

    if isinstance(region, CircleSkyRegion | CircleAnnulusSkyRegion):
        lon0, lat0 = skydir_to_lonlat(region.center, frame)
        sep = angular_separation_deg(lon0, lat0, lon, lat)
        if isinstance(region, CircleSkyRegion):
            return sep <= region.radius.to_value("deg")
        return (sep >= region.inner_radius.to_value("deg")) & (
            sep <= region.outer_radius.to_value("deg")
        )
    if isinstance(region, CompoundSkyRegion):
        first = _sky_contains(region.region1, lon, lat, frame, wcs)
        second = _sky_contains(region.region2, lon, lat, frame, wcs)
        return np.asarray(region.operator(first, second), dtype=bool)
    with np.errstate(invalid="ignore"):
        x, y = wcs.wcs_world2pix(np.ravel(lon), np.ravel(lat), 0)
    pixel_region = sky_region_to_pixel(region, wcs)
    inside = np.asarray(pixel_region.contains(PixCoord(x, y)), dtype=bool)
    return inside.reshape(np.shape(lon))


def _analytic_solid_angle(region) -> float | None:
    """Exact solid angle (sr) of circles and circular annuli, else None."""
    from regions import CircleAnnulusSkyRegion, CircleSkyRegion

    if isinstance(region, CircleSkyRegion):
        return float(2 * np.pi * (1 - np.cos(region.radius.to_value("rad"))))
    if isinstance(region, CircleAnnulusSkyRegion):
        return float(2 * np.pi * (np.cos(region.inner_radius.to_value("rad"))
                                  - np.cos(region.outer_radius.to_value("rad"))))
    return None


class RegionGeom(Geom):
    """Geometry of a single spatial bin: a sky region (or a point) times non-spatial axes.

    Parameters
    ----------
    region : `~regions.SkyRegion`, list of regions, DS9 string or None
        The region (a list is their union); None means the whole sky, a
        `~regions.PointSkyRegion` a point-like geometry.
    axes : list of axes, optional
        Non-spatial axes.
    wcs : `~astropy.wcs.WCS`, optional
        Local WCS used for pixelised integrations in the region. Default: TAN around the
        region centre with pixels of ``binsz_wcs``.
    binsz_wcs : str, float or Quantity
        Pixel size of the default WCS (deg).
    """

    is_region = True

    def __init__(self, region, axes=None, wcs=None, binsz_wcs="0.1 deg"):
        self._region = _as_region(region)
        self._axes = MapAxes.from_default(axes, n_spatial_axes=2)
        binsz = float(parse_pair_deg(binsz_wcs if binsz_wcs is not None else "0.1 deg",
                                     "binsz_wcs")[0])
        if wcs is None:
            if self._region is not None:
                frame = _region_frame(self._region)
                if frame not in FRAMES:
                    frame = "icrs"
                lon, lat = skydir_to_lonlat(_region_center(self._region), frame)
            else:
                frame, lon, lat = "icrs", 0.0, 0.0
            wcs = make_wcs("TAN", frame, (lon, lat), (-binsz, binsz), (1.0, 1.0))
        else:
            wcs = wcs.celestial.deepcopy() if wcs.naxis > 2 else wcs.deepcopy()
            binsz = float(np.abs(wcs.wcs.cdelt[1]))
        self._wcs = wcs
        self._binsz_wcs = binsz
        self._cache: dict = {}

    @classmethod
    def create(cls, region, axes=None, wcs=None, binsz_wcs=None) -> RegionGeom:
        """Create a region geometry (``region`` may be a DS9 string or a list)."""
        return cls(region, axes=axes, wcs=wcs, binsz_wcs=binsz_wcs or "0.1 deg")

    @classmethod
    def from_regions(cls, regions, **kwargs) -> RegionGeom:
        """Geometry of the union of ``regions`` (list, `~regions.Regions` or DS9 string)."""
        return cls(_as_region(regions), **kwargs)

    def _init_copy(self, **kwargs) -> RegionGeom:
        params = {"region": self._region, "axes": self._axes, "wcs": self._wcs}
        params.update(kwargs)
        return RegionGeom(**params)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    # ------------------------------------------------------------------ properties
    @property
    def region(self):
        """The sky region (None: whole sky)."""
        return self._region

    @property
    def axes(self) -> MapAxes:
        return self._axes

    @property
    def wcs(self):
        """Local WCS of the region."""
        return self._wcs

    @property
    def binsz_wcs(self) -> Angle:
        """Pixel size of the local WCS."""
        return Angle(self._binsz_wcs, "deg")

    @property
    def frame(self) -> str:
        if self._region is not None:
            return _region_frame(self._region)
        return frame_of_wcs(self._wcs)

    @property
    def projection(self) -> str:
        return projection_of_wcs(self._wcs)

    @property
    def npix(self) -> tuple[int, int]:
        return (1, 1)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Data shape ``(..., n_axis0, 1, 1)``."""
        return tuple(ax.nbin for ax in self._axes[::-1]) + (1, 1)

    @property
    def data_shape_image(self) -> tuple[int, int]:
        return (1, 1)

    @property
    def is_regular(self) -> bool:
        return True

    @property
    def is_allsky(self) -> bool:
        return self._region is None

    @property
    def is_all_point_sky_regions(self) -> bool:
        """Whether the region consists of points only."""
        from regions import PointSkyRegion

        if self._region is None:
            return False
        return all(isinstance(r, PointSkyRegion) for r in _components(self._region))

    @property
    def center_skydir(self) -> SkyCoord:
        """Centre of the region (NaN for the whole sky)."""
        if self._region is None:
            return SkyCoord(np.nan, np.nan, unit="deg", frame=self.frame)
        return _region_center(self._region)

    @property
    def center_pix(self) -> tuple:
        return (0.0, 0.0) + tuple((ax.nbin - 1) / 2.0 for ax in self._axes)

    def _pixel_region(self):
        if "pixel_region" not in self._cache:
            self._cache["pixel_region"] = sky_region_to_pixel(self._region, self._wcs)
        return self._cache["pixel_region"]

    def _pixel_bbox(self):
        """Bounding box of the region in the local WCS (ixmin, ixmax, iymin, iymax)."""
        from regions import PointPixelRegion

        pixel_region = self._pixel_region()
        if isinstance(pixel_region, PointPixelRegion) or self.is_all_point_sky_regions:
            parts = [sky_region_to_pixel(r, self._wcs) for r in _components(self._region)]
            x = np.array([p.center.x for p in parts])
            y = np.array([p.center.y for p in parts])
            return (int(np.floor(x.min() + 0.5)), int(np.floor(x.max() + 0.5)) + 1,
                    int(np.floor(y.min() + 0.5)), int(np.floor(y.max() + 0.5)) + 1)
        bbox = pixel_region.bounding_box
        return bbox.ixmin, bbox.ixmax, bbox.iymin, bbox.iymax

    @property
    def width(self) -> u.Quantity:
        """Extent ``(lon, lat)`` of the region's bounding box in the local WCS."""
        if self._region is None:
            raise GeometryError("RegionGeom without region: width undefined")
        ixmin, ixmax, iymin, iymax = self._pixel_bbox()
        return u.Quantity([ixmax - ixmin, iymax - iymin], "deg") * self._binsz_wcs

    # ------------------------------------------------------------------ coordinates
    def _spatial_contains(self, lon, lat) -> np.ndarray:
        from regions import PointSkyRegion

        lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
        if self._region is None:
            return np.ones(lon.shape, dtype=bool)
        if self.is_all_point_sky_regions:
            inside = np.zeros(lon.shape, dtype=bool)
            for point in _components(self._region):
                if isinstance(point, PointSkyRegion):
                    plon, plat = skydir_to_lonlat(point.center, self.frame)
                    inside |= angular_separation_deg(plon, plat, lon, lat) < 1e-8
            return inside
        return _sky_contains(self._region, lon, lat, self.frame, self._wcs)

    def contains(self, coords) -> np.ndarray:
        """Whether sky positions are inside the region (non-spatial coordinates ignored)."""
        coords = MapCoord.create(coords, frame=self.frame)
        if coords.frame is not None and coords.frame != self.frame:
            coords = coords.to_frame(self.frame)
        return self._spatial_contains(coords.lon, coords.lat)

    def coord_to_pix(self, coords) -> tuple:
        """Pixel coordinates: spatial 0 inside the region, NaN outside; axes as usual."""
        coords = self._to_map_coord(coords)
        inside = self._spatial_contains(coords.lon, coords.lat)
        x = np.where(inside, 0.0, np.nan)
        values = self._axis_coords(coords)
        rest = [ax.coord_to_pix(v) for ax, v in zip(self._axes, values, strict=True)]
        return tuple(np.broadcast_arrays(x, x, *rest))

    def pix_to_coord(self, pix) -> tuple:
        """Coordinates: the region centre for spatial pixel 0 (NaN elsewhere); axes."""
        pix = tuple(pix)
        ix, iy = self._spatial_pix_to_idx(pix[0], pix[1], clip=False)
        center = self.center_skydir.spherical
        ok = (ix == 0) & (iy == 0)
        lon = np.where(ok, center.lon.deg, np.nan)
        lat = np.where(ok, center.lat.deg, np.nan)
        rest = [ax.pix_to_coord(p) for ax, p in zip(self._axes, pix[2:], strict=False)]
        return (lon, lat, *rest)

    def _spatial_pix_to_idx(self, x, y, clip: bool):
        out = []
        for pix in (x, y):
            pix = np.asarray(pix, dtype=float)
            with np.errstate(invalid="ignore"):
                idx = np.floor(pix + 0.5)
                idx = np.zeros_like(idx) if clip else np.where(idx == 0, 0.0, -1.0)
            out.append(np.where(np.isfinite(pix) | clip, idx, -1).astype(int))
        return out[0], out[1]

    def get_coord(self, mode="center", frame=None, sparse=False, axis_name=None) -> MapCoord:
        """Coordinates: the region centre and the axis centres (or edges of ``axis_name``)."""
        if mode not in ("center", "edges"):
            raise ValueError(f"argument 'mode': must be 'center' or 'edges', got {mode!r}")
        center = self.center_skydir
        if frame is not None and frame != self.frame:
            center = center.transform_to(frame)
        sph = center.spherical
        n_axes = len(self._axes)
        shape = (1,) * (n_axes + 2)
        data = {"lon": np.full(shape, sph.lon.deg), "lat": np.full(shape, sph.lat.deg)}
        for idx, ax in enumerate(self._axes):
            values = ax.edges if (mode == "edges" and ax.name == axis_name) else ax.center
            sub = [1] * (n_axes + 2)
            sub[n_axes - 1 - idx] = -1
            data[ax.name] = values.reshape(sub)
        return MapCoord(data, frame=frame or self.frame, broadcast=not sparse)

    def separation(self, position) -> Angle:
        """Angular distance between the region centre and ``position``."""
        lon0, lat0 = skydir_to_lonlat(self.center_skydir, self.frame)
        lon, lat = skydir_to_lonlat(position, self.frame)
        return Angle(angular_separation_deg(lon0, lat0, lon, lat), "deg")

    # ------------------------------------------------------------------ WCS helpers
    def to_wcs_geom(self, width_min=None):
        """WCS geometry covering the region on the local WCS grid (odd npix, same axes)."""
        from .wcs_geom import WcsGeom

        if self._region is None:
            raise GeometryError("RegionGeom without region: no WCS geometry")
        width = self.width.to_value("deg")
        if width_min is not None:
            width = np.maximum(width, parse_pair_deg(width_min, "width_min"))
        npix = round_up_to_odd(np.maximum(width / self._binsz_wcs, 1.0) - 1e-9)
        lon, lat = skydir_to_lonlat(self.center_skydir, frame_of_wcs(self._wcs))
        x, y = self._wcs.wcs_world2pix(np.array([lon]), np.array([lat]), 0)
        ix, iy = np.floor(x[0] + 0.5), np.floor(y[0] + 0.5)
        crpix = np.asarray(self._wcs.wcs.crpix) - np.array([ix - (npix[0] - 1) / 2,
                                                            iy - (npix[1] - 1) / 2])
        return WcsGeom(self._wcs, (int(npix[0]), int(npix[1])), crpix=crpix, axes=self._axes)

    def get_wcs_coord_and_weights(self, factor: int = 10) -> tuple[MapCoord, np.ndarray]:
        """Coordinates of the WCS pixels overlapping the region and their covered fraction.

        Returns
        -------
        coords : `MapCoord`
            ``lon``/``lat`` of shape ``(npix,)``; axis coordinates shaped to broadcast
            to ``(..., n_axis0, npix)`` (sparse).
        weights : `~numpy.ndarray`
            Fraction of each pixel inside the region (``factor**2`` sub-pixels).
        """
        wcs_geom = self.to_wcs_geom().to_image()
        weights = wcs_geom.region_weights([self._region], oversampling_factor=factor).data
        mask = weights > 0
        lon, lat = wcs_geom._image_lonlat("center", None)
        data = {"lon": lon[mask], "lat": lat[mask]}
        n_axes = len(self._axes)
        for idx, ax in enumerate(self._axes):
            sub = [1] * (n_axes + 1)
            sub[n_axes - 1 - idx] = -1
            data[ax.name] = ax.center.reshape(sub)
        coords = MapCoord(data, frame=wcs_geom.frame, broadcast=False)
        return coords, weights[mask].astype(float)

    def solid_angle(self) -> u.Quantity:
        """Solid angle of the region.

        Circles and circular annuli: exact spherical caps. Other shapes with an analytic
        area in the local WCS (ellipses, rectangles, polygons): that area times the exact
        solid angle of the local pixel at the region centre (second order in the region
        size). Compound regions: integration on a fine pixel grid (at least 400 pixels
        across) with exact pixel solid angles. Points give 0 sr.
        """
        if self._region is None:
            raise GeometryError("RegionGeom without region: solid angle undefined")
        if "solid_angle" not in self._cache:
            self._cache["solid_angle"] = self._compute_solid_angle()
        return u.Quantity(self._cache["solid_angle"], "sr")

    def _compute_solid_angle(self) -> float:
        from .wcs_geom import WcsGeom

        if self.is_all_point_sky_regions:
            return 0.0
        exact = _analytic_solid_angle(self._region)
        if exact is not None:
            return exact
        pixel_region = self._pixel_region()
        try:
            area_pix = float(pixel_region.area)
        except (AttributeError, NotImplementedError):
            area_pix = None
        x, y = (float(v) for v in self._wcs.wcs_world2pix(
            *skydir_to_lonlat(self.center_skydir, frame_of_wcs(self._wcs)), 0))
        local = WcsGeom(self._wcs, (1, 1), crpix=np.asarray(self._wcs.wcs.crpix) - [x, y])
        pixel_sr = float(local.solid_angle().to_value("sr")[0, 0])
        if area_pix is not None and np.isfinite(area_pix):
            return area_pix * pixel_sr
        # pixelised integration on a fine grid around the region
        width = self.width.to_value("deg")
        binsz = max(width.max(), self._binsz_wcs) / _FINE_MIN_PIXELS
        extent = 1.5 * np.maximum(width, self._binsz_wcs)
        for _ in range(4):  # enlarge the grid while the region touches its border
            fine = WcsGeom.create(skydir=self.center_skydir, binsz=binsz, width=extent,
                                  proj=self.projection, frame=self.frame)
            lon, lat = fine._image_lonlat("center", None)
            mask = _sky_contains(self._region, lon, lat, self.frame, self._wcs)
            border = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
            if not border:
                break
            extent = 1.5 * extent
        return float(np.sum(fine.solid_angle().to_value("sr")[mask]))

    # ------------------------------------------------------------------ manipulation
    def upsample(self, factor: int, axis_name: str | None = None) -> RegionGeom:
        """Upsample a non-spatial axis (the only one if ``axis_name`` is None)."""
        return self._upsample_axis(factor, self._single_axis_name(axis_name))

    def downsample(self, factor: int, axis_name: str | None = None) -> RegionGeom:
        """Downsample a non-spatial axis (the only one if ``axis_name`` is None)."""
        return self._downsample_axis(factor, self._single_axis_name(axis_name))

    def _single_axis_name(self, axis_name):
        if axis_name is not None:
            return axis_name
        if len(self._axes) != 1:
            raise ValueError(
                f"argument 'axis_name': required for a geometry with axes {self._axes.names}"
            )
        return self._axes[0].name

    def union(self, other: RegionGeom) -> RegionGeom:
        """Geometry of the union of both regions (same axes required)."""
        if not self._axes.is_allclose(other.axes, rtol=1e-6, atol=1e-6):
            raise GeometryError("union: region geometries have different axes")
        if self._region is None or other.region is None:
            return self._init_copy(region=None)
        return self._init_copy(region=self._region.union(other.region))

    def is_allclose(self, other, rtol_axes: float = 1e-6, atol: float = 1e-6) -> bool:
        """Same region and axes within tolerances."""
        if not isinstance(other, RegionGeom):
            return False
        if self.data_shape != other.data_shape:
            return False
        if not self._axes.is_allclose(other.axes, rtol=rtol_axes, atol=atol):
            return False
        if (self._region is None) != (other.region is None):
            return False
        if self._region is None:
            return True
        try:
            same = bool(self._region == other.region)
        except (TypeError, ValueError, AttributeError, NotImplementedError):
            same = str(self._region) == str(other.region)
        return same

    # ------------------------------------------------------------------ I/O and plotting
    def to_hdulist(self, format: str = "gadf", hdu_bands: str | None = None,
                   hdu_region: str | None = None):
        """HDU list with the BANDS table (axes) and the REGION table (region shapes in
        pixels of the local WCS, whose keywords are in the REGION header)."""
        from ._region_io import region_geom_to_hdulist

        return region_geom_to_hdulist(self, format=format, hdu_bands=hdu_bands,
                                      hdu_region=hdu_region)

    @classmethod
    def from_hdulist(cls, hdulist, format: str = "gadf", hdu: str | None = None,
                     hdu_bands: str | None = None, hdu_region: str | None = None):
        """Read a region geometry written by `to_hdulist`."""
        from ._region_io import region_geom_from_hdulist

        return region_geom_from_hdulist(hdulist, format=format, hdu=hdu, hdu_bands=hdu_bands,
                                        hdu_region=hdu_region)

    def plot_region(self, ax=None, kwargs_point=None, **kwargs):
        """Draw the region on a (WCS) matplotlib axes; return the axes."""
        from ._region_io import plot_region_geom

        return plot_region_geom(self, ax=ax, kwargs_point=kwargs_point, **kwargs)

    def __repr__(self) -> str:
        return f"RegionGeom(region={self._region!r}, axes={self._axes.names})"

    def __str__(self) -> str:
        center = self.center_skydir.spherical
        lines = [
            "RegionGeom",
            "",
            f"\tregion     : {type(self._region).__name__}",
            f"\taxes       : {['lon', 'lat'] + self._axes.names}",
            f"\tshape      : {(1, 1) + tuple(ax.nbin for ax in self._axes)}",
            f"\tndim       : {self.ndim}",
            f"\tframe      : {self.frame}",
            f"\tcenter     : {center.lon.deg:.4f} deg, {center.lat.deg:.4f} deg",
        ]
        return "\n".join(lines)
