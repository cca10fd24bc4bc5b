"""`SpatialModel` base class: position and frame, evaluation and integration on geometries.

See `gammapipe.modeling.models.spatial` for the concrete models.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from ...utils.coordinates import transform_lonlat
from ._spatial_geometry import (
    MAX_OVERSAMPLING,
    bilinear_point_weights,
    check_frame,
    subpixel_offsets,
)
from .core import ModelBase

__all__ = ["SpatialModel"]

# largest number of sub-pixel samples evaluated at once in the oversampled integration
_CHUNK_SAMPLES = 2_000_000


def _is_region(geom) -> bool:
    is_region = getattr(geom, "is_region", None)
    if is_region is not None:
        return bool(is_region)
    return type(geom).__name__ == "RegionGeom"


def _deg(x) -> np.ndarray:
    if isinstance(x, u.Quantity):
        return x.to_value(u.deg)
    return np.asarray(x, dtype=float)


def _celestial_wcs(geom):
    wcs = geom.wcs
    return wcs.celestial if wcs.naxis > 2 else wcs


def _region_is_pointlike(geom) -> bool:
    if geom.region is None:
        return True
    flag = getattr(geom, "is_all_point_sky_regions", None)
    if flag is not None:
        return bool(flag)
    return type(geom.region).__name__ == "PointSkyRegion"


class SpatialModel(ModelBase):
    """Base class of spatial models (surface brightness in sr-1).

    Parameters
    ----------
    frame : str
        Sky frame of the position parameters ("icrs" or "galactic"; default "icrs").
    **kwargs
        Parameter values (numbers in the parameter unit, Quantities, strings or
        `~gammapipe.modeling.Parameter` objects to link).
    """

    type = "spatial"
    #: whether the model has lon_0/lat_0 position parameters (and a frame)
    _has_position = True

    def __init__(self, frame: str = "icrs", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frame = check_frame(frame) if self._has_position else None
        self._coord_cache: dict | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_coord_cache"] = None
        state.pop("_region_cache", None)
        return state

    # -- position ---------------------------------------------------------------------
    @property
    def is_energy_dependent(self) -> bool:
        """Whether the morphology depends on (true) energy."""
        return False

    @property
    def position(self):
        """Centre position as a `~astropy.coordinates.SkyCoord` (settable)."""
        from astropy.coordinates import SkyCoord

        return SkyCoord(self.lon_0.quantity, self.lat_0.quantity, frame=self.frame)

    @position.setter
    def position(self, skycoord) -> None:
        coord = skycoord.transform_to(self.frame)
        self.lon_0.quantity = coord.spherical.lon.to(self.lon_0.unit)
        self.lat_0.quantity = coord.spherical.lat.to(self.lat_0.unit)

    @property
    def position_lonlat(self) -> tuple[float, float]:
        """Centre ``(lon, lat)`` in radians, in the model frame."""
        return (
            float(self.lon_0.quantity.to_value(u.rad)),
            float(self.lat_0.quantity.to_value(u.rad)),
        )

    @property
    def evaluation_radius(self) -> u.Quantity | None:
        """Radius beyond which the model is negligible (None: unbounded)."""
        return None

    @property
    def evaluation_bin_size_min(self) -> u.Quantity | None:
        """Pixel size below which no oversampling is needed (None: never oversample)."""
        return None

    @property
    def evaluation_region(self):
        """`~regions.CircleSkyRegion` of radius `evaluation_radius` (None if unbounded)."""
        radius = self.evaluation_radius
        position = self.position
        if radius is None or position is None:
            return None
        from regions import CircleSkyRegion

        return CircleSkyRegion(center=position, radius=u.Quantity(radius, "deg"))

    @property
    def position_error(self):
        """1-sigma error ellipse of the position (`~regions.EllipseSkyRegion`).

        From the lon_0/lat_0 block of the covariance (lon scaled by cos(lat)). The
        ``height`` is the major axis, at position angle ``angle`` (east of north), as in
        `to_region`.
        """
        from regions import EllipseSkyRegion

        cov = self.covariance.get_subcovariance([self.lon_0, self.lat_0])
        cov = np.asarray(cov, dtype=float)
        scale = np.array([np.cos(self.lat_0.quantity.to_value(u.rad)), 1.0])
        cov = cov * np.outer(scale, scale)
        eigval, eigvec = np.linalg.eigh(cov)
        eigval = np.clip(eigval, 0, None)
        major = eigvec[:, 1]  # (east, north) components of the major axis
        angle = np.arctan2(major[0], major[1]) * u.rad
        return EllipseSkyRegion(
            center=self.position,
            height=2 * np.sqrt(eigval[1]) * u.deg,
            width=2 * np.sqrt(eigval[0]) * u.deg,
            angle=angle.to(u.deg),
        )

    # -- evaluation -------------------------------------------------------------------
    def _parameter_values_rad(self) -> dict[str, float]:
        """Parameter values for `evaluate`: angles in radians, others in their unit."""
        out = {}
        for par in self.parameters:
            unit = par.unit
            if unit.physical_type == "angle":
                out[par.name] = par.value * unit.to(u.rad)
            else:
                out[par.name] = par.value
        return out

    def _evaluate_rad(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Surface brightness (sr-1, float array) at lon/lat in radians (model frame)."""
        return np.asarray(self.evaluate(lon, lat, **self._parameter_values_rad()), dtype=float)

    def __call__(self, lon, lat, energy=None) -> u.Quantity:
        """Surface brightness at lon/lat (Quantities, or numbers in deg) in ``sr-1``."""
        lon = np.deg2rad(_deg(lon))
        lat = np.deg2rad(_deg(lat))
        return u.Quantity(self._evaluate_rad(lon, lat), "sr-1", copy=False)

    def _geom_cache(self, geom) -> dict:
        """Per-geometry cache (image geometry, coordinates, solid angles) of the last geom.

        Keyed by object identity: evaluators call the model repeatedly with the same
        geometry object, so pixel coordinates and solid angles are computed once.
        """
        cache = self._coord_cache
        if cache is None or cache["geom"] is not geom:
            cache = {"geom": geom, "image": geom.to_image()}
            self._coord_cache = cache
        return cache

    def _image_lonlat_deg(self, geom) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre lon/lat (deg) of the image of ``geom`` in the model frame (cached)."""
        cache = self._geom_cache(geom)
        image = cache["image"]
        frame = self.frame or image.frame
        key = ("lonlat", frame)
        if key not in cache:
            coords = image.get_coord()
            lon, lat = _deg(coords.lon), _deg(coords.lat)
            lon, lat = transform_lonlat(lon, lat, image.frame, frame)
            shape = tuple(image.data_shape)
            cache[key] = (lon.reshape(shape), lat.reshape(shape))
        return cache[key]

    def _image_solid_angle(self, geom) -> np.ndarray:
        """Pixel solid angles (sr) of the image of ``geom`` (cached)."""
        cache = self._geom_cache(geom)
        if "solid_angle" not in cache:
            image = cache["image"]
            sa = np.asarray(image.solid_angle().to_value("sr"), dtype=float)
            cache["solid_angle"] = sa.reshape(tuple(image.data_shape)[-2:])
        return cache["solid_angle"]

    @staticmethod
    def _broadcast_image(values: np.ndarray, geom) -> np.ndarray:
        """Reshape image values to broadcast against ``geom.data_shape``."""
        shape = tuple(geom.data_shape)
        image_shape = shape[-2:]
        return np.asarray(values).reshape((1,) * (len(shape) - 2) + image_shape)

    def evaluate_geom(self, geom) -> u.Quantity:
        """Surface brightness at the pixel centres of ``geom`` (sr-1).

        The result broadcasts against ``geom.data_shape``: image shape with leading
        length-one axes for the non-spatial axes.
        """
        lon, lat = self._image_lonlat_deg(geom)
        values = self._evaluate_rad(np.deg2rad(lon), np.deg2rad(lat))
        return u.Quantity(self._broadcast_image(values, geom), "sr-1", copy=False)

    # -- integration ------------------------------------------------------------------
    def _oversampling(self, geom, oversampling_factor) -> int:
        if oversampling_factor is not None:
            return max(int(oversampling_factor), 1)
        bin_min = self.evaluation_bin_size_min
        if bin_min is None:
            return 1
        pix_scale = float(np.max(u.Quantity(geom.pixel_scales, "deg").to_value("deg")))
        res = float(u.Quantity(bin_min, "deg").to_value("deg"))
        if res <= 0:
            return MAX_OVERSAMPLING
        return int(min(np.ceil(pix_scale / res), MAX_OVERSAMPLING))

    def _window(self, image) -> tuple[slice, slice]:
        """Pixel slices (y, x) around the source covering its evaluation radius."""
        ny, nx = tuple(image.data_shape)[-2:]
        radius = self.evaluation_radius
        if radius is None or not self._has_position:
            return slice(0, ny), slice(0, nx)
        wcs = _celestial_wcs(image)
        lon, lat = transform_lonlat(
            self.lon_0.quantity.to_value("deg"), self.lat_0.quantity.to_value("deg"),
            self.frame, image.frame,
        )
        x0, y0 = wcs.wcs_world2pix(np.atleast_1d(lon), np.atleast_1d(lat), 0)
        x0, y0 = float(x0[0]), float(y0[0])
        if not (np.isfinite(x0) and np.isfinite(y0)):
            return slice(0, ny), slice(0, nx)
        scale = float(np.min(u.Quantity(image.pixel_scales, "deg").to_value("deg")))
        r_pix = u.Quantity(radius, "deg").to_value("deg") / scale + 2
        xs = slice(int(max(np.floor(x0 - r_pix), 0)), int(min(np.ceil(x0 + r_pix) + 1, nx)))
        ys = slice(int(max(np.floor(y0 - r_pix), 0)), int(min(np.ceil(y0 + r_pix) + 1, ny)))
        return ys, xs

    def _refine_oversampled(self, values, image, factor: int, solid_angle) -> None:
        """Replace ``values`` near the source by sub-pixel averages (in place)."""
        ys, xs = self._window(image)
        if ys.stop <= ys.start or xs.stop <= xs.start:
            return
        wcs = _celestial_wcs(image)
        off = subpixel_offsets(factor)
        cols = np.arange(xs.start, xs.stop, dtype=float)
        rows_all = np.arange(ys.start, ys.stop)
        per_row = max(len(cols) * factor * factor, 1)
        rows_per_chunk = max(_CHUNK_SAMPLES // per_row, 1)
        frame = self.frame or image.frame
        for start in range(0, len(rows_all), rows_per_chunk):
            rows = rows_all[start : start + rows_per_chunk]
            xpix = cols[None, :, None, None] + off[None, None, None, :]
            ypix = rows[:, None, None, None].astype(float) + off[None, None, :, None]
            xpix, ypix = np.broadcast_arrays(xpix, ypix)
            lon, lat = wcs.wcs_pix2world(xpix.ravel(), ypix.ravel(), 0)
            lon, lat = transform_lonlat(lon, lat, image.frame, frame)
            sub = self._evaluate_rad(np.deg2rad(lon), np.deg2rad(lat)).reshape(xpix.shape)
            mean = np.nan_to_num(sub, nan=0.0).mean(axis=(2, 3))
            block = (slice(rows[0], rows[-1] + 1), xs)
            values[block] = mean * solid_angle[block]

    def _integrate_image_data(self, geom, oversampling_factor) -> np.ndarray:
        image = self._geom_cache(geom)["image"]
        solid_angle = self._image_solid_angle(geom)
        values = self.evaluate_geom(geom).to_value("sr-1").reshape(solid_angle.shape)
        values = np.nan_to_num(values * solid_angle, nan=0.0)
        factor = self._oversampling(image, oversampling_factor)
        if factor > 1:
            self._refine_oversampled(values, image, factor, solid_angle)
        return values

    def integrate_geom(self, geom, oversampling_factor: int | None = None):
        """Integral of the model over each pixel (probability content, dimensionless Map).

        Pixel values are ``surface brightness x pixel solid angle`` at the pixel centres.
        If the model is small compared to the pixels (``evaluation_bin_size_min`` below
        the pixel size) the pixels within `evaluation_radius` of the source are split
        into ``factor x factor`` sub-pixels (``factor = ceil(pixel size /
        evaluation_bin_size_min)``, at most 200, or ``oversampling_factor``) and the
        model is averaged over them. For a `RegionGeom` the model is integrated on the
        region's WCS grid and summed over the pixels inside the region.

        Returns
        -------
        map : `~gammapipe.maps.Map`
            Map on the image of ``geom`` (or on ``geom`` for energy-dependent models).
        """
        from ...maps import Map

        if _is_region(geom):
            return self._integrate_region(geom, oversampling_factor, point=False)
        data = self._integrate_image_data(geom, oversampling_factor)
        return Map.from_geom(geom=self._geom_cache(geom)["image"], data=data, unit="")

    def _point_weights(self, image) -> np.ndarray:
        wcs = _celestial_wcs(image)
        lon, lat = transform_lonlat(
            self.lon_0.quantity.to_value("deg"), self.lat_0.quantity.to_value("deg"),
            self.frame, image.frame,
        )
        x0, y0 = wcs.wcs_world2pix(np.atleast_1d(lon), np.atleast_1d(lat), 0)
        return bilinear_point_weights(float(x0[0]), float(y0[0]), tuple(image.data_shape)[-2:])

    def _integrate_point(self, geom):
        from ...maps import Map

        if _is_region(geom):
            return self._integrate_region(geom, None, point=True)
        image = geom.to_image()
        return Map.from_geom(geom=image, data=self._point_weights(image), unit="")

    def _region_grid(self, geom):
        """Fine WCS image covering a region geometry and the region fraction per pixel.

        The region's own WCS grid is refined to about 1/50 of the region width (at most
        20 times finer); each pixel's covered fraction comes from 4 x 4 sub-pixels.
        Cached for the last region geometry.
        """
        cache = self.__dict__.get("_region_cache")
        if cache is not None and cache[0] is geom:
            return cache[1], cache[2]
        wcs_geom = geom.to_wcs_geom().to_image()
        binsz = float(np.max(u.Quantity(wcs_geom.pixel_scales, "deg").to_value("deg")))
        width = float(np.max(u.Quantity(geom.width, "deg").to_value("deg")))
        factor = int(min(max(np.ceil(binsz / max(width / 50.0, 1e-6)), 1), 20))
        if factor > 1:
            wcs_geom = wcs_geom.upsample(factor)
        weights = wcs_geom.region_weights([geom.region], oversampling_factor=4).data
        weights = np.asarray(weights, dtype=float).reshape(tuple(wcs_geom.data_shape)[-2:])
        self.__dict__["_region_cache"] = (geom, wcs_geom, weights)
        return wcs_geom, weights

    def _integrate_region(self, geom, oversampling_factor, point: bool):
        from ...maps import Map

        image = geom.to_image()
        if _region_is_pointlike(geom):
            data = np.ones(tuple(image.data_shape))
            return Map.from_geom(geom=image, data=data, unit="")
        wcs_geom, weights = self._region_grid(geom)
        if point:
            values = self._point_weights(wcs_geom)
        else:
            values = self._integrate_image_data(wcs_geom, oversampling_factor)
        data = np.full(tuple(image.data_shape), float(np.sum(values * weights)))
        return Map.from_geom(geom=image, data=data, unit="")

    # -- regions, plots -----------------------------------------------------------------
    def to_region(self, **kwargs):
        """Region describing the model extension (`regions` object)."""
        raise NotImplementedError(f"{self.__class__.__name__}.to_region is not defined")

    def _plot_geom(self):
        from ...maps import WcsGeom

        radius = self.evaluation_radius
        radius = 0.5 if radius is None else u.Quantity(radius, "deg").to_value("deg")
        width = 2 * max(1.2 * radius, 0.2)
        return WcsGeom.create(
            skydir=self.position, frame=self.frame, width=width, binsz=width / 100
        )

    def plot(self, ax=None, geom=None, **kwargs):
        """Image of the surface brightness (sr-1) on ``geom`` (default: around the source).

        Parameters
        ----------
        ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
            Axes to plot on.
        geom : `~gammapipe.maps.WcsGeom`, optional
            Geometry (its image is used).
        **kwargs
            Passed to `~gammapipe.maps.WcsNDMap.plot`.
        """
        from ...maps import Map

        if geom is None:
            geom = self._plot_geom()
        image = geom.to_image()
        values = self.evaluate_geom(image).to_value("sr-1")
        data = values.reshape(tuple(image.data_shape))
        return Map.from_geom(image, data=data, unit="sr-1").plot(ax=ax, **kwargs)

    def plot_error(self, ax=None, which: str = "all", kwargs_position=None,
                   kwargs_extension=None):
        """Overlay the position error ellipse and/or the extension region on WCS axes.

        Parameters
        ----------
        ax : `~astropy.visualization.wcsaxes.WCSAxes`
            Axes (e.g. from `plot`); default: current axes (must carry a ``wcs``).
        which : {"all", "position", "extension"}
            What to draw.
        kwargs_position, kwargs_extension : dict, optional
            Passed to the regions' ``plot``.
        """
        import matplotlib.pyplot as plt

        if which not in ("all", "position", "extension"):
            raise ValueError(f"argument 'which': {which!r} not in ('all', 'position', 'extension')")
        ax = plt.gca() if ax is None else ax
        wcs = getattr(ax, "wcs", None)
        if wcs is None:
            raise ValueError("plot_error needs WCS axes (e.g. returned by model.plot())")
        has_lonlat = "lon_0" in self.parameters.names
        if which in ("all", "position") and has_lonlat:
            kwargs = {"edgecolor": "tab:red", "facecolor": "none", **(kwargs_position or {})}
            self.position_error.to_pixel(wcs).plot(ax=ax, **kwargs)
        if which in ("all", "extension") and has_lonlat:
            region = self.to_region()
            if region is not None and type(region).__name__ != "PointSkyRegion":
                kwargs = {"edgecolor": "tab:blue", "facecolor": "none",
                          **(kwargs_extension or {})}
                region.to_pixel(wcs).plot(ax=ax, **kwargs)
        return ax

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """``{"spatial": {"type", "frame", "parameters"}}`` (no frame without a position)."""
        inner = super().to_dict(full_output)[self.type]
        out: dict[str, Any] = {"type": inner.pop("type")}
        if self._has_position:
            out["frame"] = self.frame
        out.update(inner)
        return {self.type: out}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any):
        """Create from ``{"type", "frame", "parameters", ...}`` (optionally wrapped)."""
        inner = cls._unwrap_dict(dict(data))
        if cls.tag and cls._has_position and "frame" in inner:
            kwargs.setdefault("frame", inner["frame"])
        return super().from_dict(inner, **kwargs)

    def __str__(self) -> str:
        frame = f"  Frame: {self.frame}\n" if self._has_position else ""
        return f"{self.__class__.__name__}\n\n{frame}\n{self.parameters}"
