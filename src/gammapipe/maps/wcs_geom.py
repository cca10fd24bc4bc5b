"""`WcsGeom`: a regular WCS image grid (any FITS celestial projection) plus non-spatial axes."""

from __future__ import annotations

import copy as _copy
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits

from ..utils.coordinates import angular_separation_deg
from ..utils.errors import GeometryError
from ._axes import MapAxes
from ._sky import pixel_solid_angles
from ._wcs_regions import WcsRegionsMixin
from ._wcs_utils import (
    FRAMES,
    PROJECTIONS,
    celestial_wcs_from_header,
    frame_of_wcs,
    make_wcs,
    parse_pair_deg,
    projection_of_wcs,
    round_up_to_odd,
    skydir_to_lonlat,
)
from .coord import MapCoord
from .geom import Geom

__all__ = ["WcsGeom"]


def _world_to_pix(wcs, lon, lat):
    try:
        from ._fast_wcs import world_to_pix
    except ImportError:  # pragma: no cover - fall back to wcslib
        world_to_pix = None
    if world_to_pix is not None:
        return world_to_pix(wcs, lon, lat)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        x, y = wcs.wcs_world2pix(lon, lat, 0)
    return np.asarray(x, float), np.asarray(y, float)


def _compressed(*arrays):
    """Views of ``arrays`` without the dimensions along which all of them are broadcast
    (stride 0), so that a function can be evaluated once per distinct value."""
    arrays = [np.asanyarray(a) for a in arrays]  # keep Quantity units
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    full = [np.broadcast_to(a, shape, subok=True) for a in arrays]
    sel = tuple(
        slice(0, 1) if n > 1 and all(a.strides[i] == 0 for a in full) else slice(None)
        for i, n in enumerate(shape)
    )
    return [a[sel] for a in full], shape


def _pix_to_world(wcs, x, y):
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        lon, lat = wcs.wcs_pix2world(x.ravel(), y.ravel(), 0)
    return np.asarray(lon).reshape(x.shape), np.asarray(lat).reshape(x.shape)


class WcsGeom(WcsRegionsMixin, Geom):
    """Regular WCS geometry: an ``nx x ny`` image grid times non-spatial axes.

    Parameters
    ----------
    wcs : `~astropy.wcs.WCS`
        Celestial WCS of the image (copied; extra WCS axes are dropped).
    npix : tuple of int
        Number of pixels ``(nx, ny)``.
    cdelt, crpix : tuple of float, optional
        Replace the pixel size / reference pixel of ``wcs``.
    axes : list of axes, optional
        Non-spatial axes.

    Notes
    -----
    A geometry is immutable: what depends only on it (pixel coordinates, solid angles,
    `to_image`, the world -> pixel transformation) is computed once and cached. The
    image-level cache and the WCS object are shared by the geometries that differ only
    in their non-spatial axes (`to_image`, `to_cube`, `squash`, ...): never modify
    ``geom.wcs`` in place (build a new geometry instead).
    """

    def __init__(self, wcs, npix, cdelt=None, crpix=None, axes=None):
        wcs = wcs.celestial.deepcopy() if wcs.naxis > 2 else wcs.deepcopy()
        npix_arr = np.asarray(npix)
        if npix_arr.dtype == object or npix_arr.size not in (1, 2):
            raise ValueError(f"argument 'npix': expected (nx, ny), got {npix!r}")
        npix_arr = np.unique(npix_arr.reshape(2, -1), axis=1) if npix_arr.ndim > 1 else npix_arr
        if npix_arr.ndim > 1:
            if npix_arr.shape[1] != 1:
                raise GeometryError("irregular geometries (npix per band) are not supported")
            npix_arr = npix_arr[:, 0]
        npix_arr = np.broadcast_to(npix_arr.ravel(), (2,))
        nx, ny = (int(v) for v in npix_arr)
        if nx < 1 or ny < 1:
            raise ValueError(f"argument 'npix': need positive sizes, got {(nx, ny)}")
        if cdelt is not None:
            wcs.wcs.cdelt = np.broadcast_to(np.asarray(cdelt, float).ravel()[:2], (2,))
        if crpix is not None:
            wcs.wcs.crpix = np.broadcast_to(np.asarray(crpix, float).ravel()[:2], (2,))
        wcs.pixel_shape = (nx, ny)
        wcs.wcs.set()
        self._wcs = wcs
        self._npix = (nx, ny)
        self._axes = MapAxes.from_default(axes, n_spatial_axes=2)
        self._cache: dict = {}
        self._spatial: dict = {}

    @classmethod
    def _with_same_image(cls, geom: WcsGeom, axes) -> WcsGeom:
        """Geometry of the same image (shared WCS and image cache) with other axes."""
        new = cls.__new__(cls)
        new._wcs = geom._wcs
        new._npix = geom._npix
        new._axes = MapAxes.from_default(axes, n_spatial_axes=2)
        new._cache = {}
        new._spatial = geom._spatial
        return new

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        npix=None,
        binsz=0.5,
        proj="CAR",
        frame="icrs",
        refpix=None,
        axes=None,
        skydir=None,
        width=None,
    ) -> WcsGeom:
        """Create a WCS geometry.

        Parameters
        ----------
        npix : int or (int, int), optional
            Number of pixels in lon / lat. Default: from ``width``.
        binsz : float, (float, float), str or `~astropy.units.Quantity`
            Pixel size (deg).
        proj : str
            FITS projection code ("CAR", "TAN", "AIT", ...).
        frame : {"icrs", "galactic"}
            Sky frame.
        refpix : (float, float), optional
            Reference pixel (FITS, 1-based). Default: the image centre ``(npix + 1) / 2``.
        axes : list of axes, optional
            Non-spatial axes.
        skydir : `~astropy.coordinates.SkyCoord` or (float, float), optional
            Reference (centre) position; a tuple is in deg in ``frame``. Default (0, 0).
        width : float, (float, float), str or Quantity, optional
            Image width (deg); ``npix = round(width / binsz)``. Default (if ``npix`` is
            not given either): all-sky (360, 180).
        """
        if frame not in FRAMES:
            raise ValueError(f"argument 'frame': unknown frame {frame!r}, allowed: {FRAMES}")
        if str(proj).upper() not in PROJECTIONS:
            raise ValueError(
                f"argument 'proj': unknown projection {proj!r}, allowed: {PROJECTIONS}"
            )
        binsz_arr = parse_pair_deg(binsz, "binsz")
        if np.any(binsz_arr <= 0) or not np.all(np.isfinite(binsz_arr)):
            raise ValueError(f"argument 'binsz': must be positive, got {binsz!r}")
        if npix is None:
            width_arr = parse_pair_deg((360.0, 180.0) if width is None else width, "width")
            if np.any(width_arr <= 0):
                raise ValueError(f"argument 'width': must be positive, got {width!r}")
            npix_arr = np.rint(width_arr / binsz_arr).astype(int)
        else:
            npix_arr = np.broadcast_to(np.asarray(npix, dtype=int).ravel(), (2,)).copy()
        if np.any(npix_arr < 1):
            raise ValueError(f"geometry needs at least one pixel per axis, got npix={npix_arr}")
        lon, lat = skydir_to_lonlat(skydir, frame)
        if refpix is None:
            crpix = (npix_arr + 1) / 2.0
        else:
            crpix = np.broadcast_to(np.asarray(refpix, float).ravel(), (2,))
        wcs = make_wcs(proj, frame, (lon, lat), (-binsz_arr[0], binsz_arr[1]), crpix, npix_arr)
        return cls(wcs, tuple(int(v) for v in npix_arr), axes=axes)

    @classmethod
    def from_header(cls, header: fits.Header, hdu_bands=None, format: str = "gadf") -> WcsGeom:
        """Geometry from an image header and an optional BANDS table HDU (or Table)."""
        wcs = celestial_wcs_from_header(header)
        try:
            npix = (int(header["NAXIS1"]), int(header["NAXIS2"]))
        except KeyError as exc:
            raise GeometryError(f"header lacks {exc.args[0]}: cannot get the image size") from exc
        axes = None
        if hdu_bands is not None:
            if isinstance(hdu_bands, fits.BinTableHDU):
                axes = MapAxes.from_table_hdu(hdu_bands, format=format)
            else:
                axes = MapAxes.from_table(hdu_bands, format=format)
        return cls(wcs, npix, axes=axes)

    def to_header(self, hdu_bands: str | None = None) -> fits.Header:
        """FITS header of the image WCS (with ``BANDSHDU`` if axes are present).

        ``NAXISn`` are set by the image HDU from its data array.
        """
        header = self._wcs.to_header()
        if len(self._axes):
            header["BANDSHDU"] = hdu_bands or "BANDS"
        return header

    def to_bands_hdu(self, hdu_bands: str = "BANDS", format: str = "gadf"):
        """BANDS table HDU describing the non-spatial axes (GADF sky-map format)."""
        return self._axes.to_table_hdu(format=format, hdu_bands=hdu_bands)

    @classmethod
    def from_aligned(cls, geom: WcsGeom, skydir, width) -> WcsGeom:
        """Geometry of ``width`` around ``skydir`` on the pixel grid of ``geom``."""
        return geom.cutout(position=skydir, width=width, mode="partial")

    def _init_copy(self, **kwargs) -> WcsGeom:
        same_image = (kwargs.get("wcs", self._wcs) is self._wcs
                      and tuple(kwargs.get("npix", self._npix)) == self._npix)
        if same_image and set(kwargs) <= {"wcs", "npix", "axes"}:
            return self._with_same_image(self, kwargs.get("axes", self._axes))
        params = {"wcs": self._wcs, "npix": self._npix, "axes": self._axes}
        params.update(kwargs)
        return WcsGeom(**params)

    def __deepcopy__(self, memo):
        return WcsGeom(self._wcs, self._npix, axes=_copy.deepcopy(list(self._axes), memo))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        state["_spatial"] = {}
        return state

    def __setstate__(self, state):
        state.setdefault("_spatial", {})
        self.__dict__.update(state)

    def to_image(self) -> WcsGeom:
        """Geometry without non-spatial axes (cached; shares the image cache)."""
        if not len(self._axes):
            return self
        if "to_image" not in self._cache:
            self._cache["to_image"] = self._with_same_image(self, None)
        return self._cache["to_image"]

    def _world_to_pix(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """0-based pixel coordinates of lon / lat (deg, geometry frame); the transformation
        set-up (projection, Euler angles, inverse matrix) is cached."""
        func = self._spatial.get("world_to_pix")
        if func is None:
            try:
                from ._fast_wcs import make_world_to_pix

                func = make_world_to_pix(self._wcs)
            except ImportError:  # pragma: no cover - fall back to wcslib
                wcs = self._wcs

                def func(lon, lat):
                    return _world_to_pix(wcs, lon, lat)

            self._spatial["world_to_pix"] = func
        return func(lon, lat)

    # ------------------------------------------------------------------ properties
    @property
    def wcs(self):
        """Celestial WCS of the image."""
        return self._wcs

    @property
    def axes(self) -> MapAxes:
        return self._axes

    @property
    def npix(self) -> tuple[int, int]:
        """Number of pixels ``(nx, ny)``."""
        return self._npix

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Data shape ``(..., n_axis0, ny, nx)``."""
        return tuple(ax.nbin for ax in self._axes[::-1]) + self.data_shape_image

    @property
    def data_shape_image(self) -> tuple[int, int]:
        """Image shape ``(ny, nx)``."""
        return (self._npix[1], self._npix[0])

    @property
    def frame(self) -> str:
        return frame_of_wcs(self._wcs)

    @property
    def projection(self) -> str:
        """Projection code, e.g. "CAR"."""
        return projection_of_wcs(self._wcs)

    @property
    def pixel_scales(self) -> Angle:
        """Pixel sizes ``(lon, lat)`` at the reference pixel."""
        return Angle(np.abs(self._wcs.wcs.cdelt), "deg")

    @property
    def width(self) -> u.Quantity:
        """Angular extent ``(lon, lat)`` (pixel size times number of pixels)."""
        return u.Quantity(np.abs(self._wcs.wcs.cdelt) * np.array(self._npix), "deg")

    @property
    def is_allsky(self) -> bool:
        """Whether the image covers 360 deg in longitude."""
        return bool(np.isclose(self.width[0].to_value("deg"), 360.0, atol=1e-6))

    @property
    def is_regular(self) -> bool:
        """Always True: every image plane has the same pixelisation."""
        return True

    @property
    def center_pix(self) -> tuple:
        """Pixel coordinates of the centre ``(x, y, *axes)``."""
        return tuple((np.array(self.data_shape, dtype=float) - 1.0) / 2.0)[::-1]

    @property
    def center_skydir(self) -> SkyCoord:
        """Sky position of the image centre."""
        nx, ny = self._npix
        lon, lat = _pix_to_world(self._wcs, (nx - 1) / 2.0, (ny - 1) / 2.0)
        return SkyCoord(float(lon), float(lat), unit="deg", frame=self.frame)

    @property
    def footprint(self) -> SkyCoord:
        """Sky positions of the four outer image corners."""
        nx, ny = self._npix
        x = np.array([-0.5, -0.5, nx - 0.5, nx - 0.5])
        y = np.array([-0.5, ny - 0.5, ny - 0.5, -0.5])
        lon, lat = _pix_to_world(self._wcs, x, y)
        return SkyCoord(lon, lat, unit="deg", frame=self.frame)

    # ------------------------------------------------------------------ coordinates
    def _image_lonlat(self, mode: str, frame: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Cached lon/lat of the pixel centres ("center") or corners ("edges")."""
        frame = frame or self.frame
        key = ("lonlat", mode, frame)
        if key not in self._spatial:
            nx, ny = self._npix
            if mode == "center":
                x, y = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
            else:
                x, y = np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5
            lon, lat = _pix_to_world(self._wcs, x[np.newaxis, :], y[:, np.newaxis])
            if frame != self.frame:
                sph = SkyCoord(lon, lat, unit="deg", frame=self.frame).transform_to(frame)
                lon, lat = sph.spherical.lon.deg, sph.spherical.lat.deg
            lon, lat = np.asarray(lon, float), np.asarray(lat, float)
            lon.setflags(write=False)
            lat.setflags(write=False)
            self._spatial[key] = (lon, lat)
        return self._spatial[key]

    def get_coord(self, mode="center", frame=None, sparse=False, axis_name=None) -> MapCoord:
        """Coordinates of all pixels.

        Parameters
        ----------
        mode : {"center", "edges"}
            Pixel centres, or edges: with ``axis_name`` that axis is given by its edges,
            without it the spatial pixel corners (shape ``(ny + 1, nx + 1)``) are used.
        frame : str, optional
            Sky frame of lon/lat (default: the geometry frame).
        sparse : bool
            Keep the arrays un-broadcast (image arrays and per-axis columns).
        axis_name : str, optional
            Axis given by its edges for ``mode="edges"``.

        Returns
        -------
        coords : `MapCoord`
            ``lon``, ``lat`` (deg) and one entry per axis (read-only broadcast views).
        """
        if mode not in ("center", "edges"):
            raise ValueError(f"argument 'mode': must be 'center' or 'edges', got {mode!r}")
        spatial_mode = "edges" if (mode == "edges" and axis_name is None) else "center"
        lon, lat = self._image_lonlat(spatial_mode, frame)
        n_axes = len(self._axes)
        lead = (1,) * n_axes
        data = {"lon": lon.reshape(lead + lon.shape), "lat": lat.reshape(lead + lat.shape)}
        for idx, ax in enumerate(self._axes):
            values = ax.edges if (mode == "edges" and ax.name == axis_name) else ax.center
            shape = [1] * (n_axes + 2)
            shape[n_axes - 1 - idx] = -1
            data[ax.name] = values.reshape(shape)
        return MapCoord(data, frame=frame or self.frame, match_by_name=True,
                        broadcast=not sparse)

    def coord_to_pix(self, coords) -> tuple:
        """Coordinates to float pixel coordinates ``(x, y, *axes)`` (vectorised)."""
        coords = self._to_map_coord(coords)
        (lon, lat), shape = _compressed(coords.lon, coords.lat)
        x, y = self._world_to_pix(lon, lat)
        values = self._axis_coords(coords)
        rest = []
        for ax, value in zip(self._axes, values, strict=True):
            if isinstance(value, np.ndarray) and value.dtype.kind not in "USO":
                (value,), _ = _compressed(value)
            rest.append(ax.coord_to_pix(value))
        shape = np.broadcast_shapes(shape, *[np.shape(r) for r in rest])
        return tuple(np.broadcast_to(a, shape) for a in (x, y, *rest))

    def pix_to_coord(self, pix) -> tuple:
        """Pixel coordinates ``(x, y, *axes)`` to ``(lon, lat, *axes)`` (lon/lat in deg)."""
        pix = tuple(pix)
        lon, lat = _pix_to_world(self._wcs, pix[0], pix[1])
        rest = [ax.pix_to_coord(p) for ax, p in zip(self._axes, pix[2:], strict=False)]
        return (lon, lat, *rest)

    def _spatial_pix_to_idx(self, x, y, clip: bool):
        out = []
        for pix, n in zip((x, y), self._npix, strict=True):
            pix = np.asarray(pix, dtype=float)
            with np.errstate(invalid="ignore"):
                idx = np.floor(pix + 0.5)
                if clip:
                    idx = np.clip(idx, 0, n - 1)
                else:
                    idx = np.where((idx < 0) | (idx > n - 1), -1, idx)
            out.append(np.where(np.isfinite(idx), idx, -1).astype(int))
        return out[0], out[1]

    def separation(self, center) -> Angle:
        """Angular distance of every pixel centre (image shape) to ``center``."""
        lon0, lat0 = skydir_to_lonlat(center, self.frame)
        lon, lat = self._image_lonlat("center", None)
        return Angle(angular_separation_deg(lon0, lat0, lon, lat), "deg")

    def solid_angle(self) -> u.Quantity:
        """Exact solid angle of each pixel (image shape ``(ny, nx)``), cached.

        Pixels are spherical quadrilaterals with great-circle sides between their
        projected corners; pixels with corners outside the projection are NaN.
        """
        if "solid_angle" not in self._spatial:
            lon, lat = self._image_lonlat("edges", None)
            with np.errstate(invalid="ignore"):
                values = pixel_solid_angles(lon, lat)
            values.setflags(write=False)
            # one read-only Quantity shared by all callers
            self._spatial["solid_angle"] = u.Quantity(values, "sr", copy=False)
        return self._spatial["solid_angle"]

    # ------------------------------------------------------------------ spatial resampling
    def _with_spatial(self, npix, cdelt, crpix, axes=None) -> WcsGeom:
        return WcsGeom(self._wcs, npix, cdelt=cdelt, crpix=crpix,
                       axes=self._axes if axes is None else axes)

    def upsample(self, factor: int, axis_name: str | None = None) -> WcsGeom:
        """Geometry with ``factor`` times finer pixels (or a finer axis ``axis_name``)."""
        if axis_name is not None:
            return self._upsample_axis(factor, axis_name)
        factor = int(factor)
        if factor < 1:
            raise ValueError(f"argument 'factor': must be >= 1, got {factor}")
        npix = (self._npix[0] * factor, self._npix[1] * factor)
        crpix = (self._wcs.wcs.crpix - 0.5) * factor + 0.5
        return self._with_spatial(npix, self._wcs.wcs.cdelt / factor, crpix)

    def downsample(self, factor: int, axis_name: str | None = None) -> WcsGeom:
        """Geometry with ``factor`` times coarser pixels (or a coarser axis ``axis_name``)."""
        if axis_name is not None:
            return self._downsample_axis(factor, axis_name)
        factor = int(factor)
        if factor < 1:
            raise ValueError(f"argument 'factor': must be >= 1, got {factor}")
        if self._npix[0] % factor or self._npix[1] % factor:
            raise ValueError(
                f"argument 'factor': npix {self._npix} is not divisible by {factor}"
            )
        npix = (self._npix[0] // factor, self._npix[1] // factor)
        crpix = (self._wcs.wcs.crpix - 0.5) / factor + 0.5
        return self._with_spatial(npix, self._wcs.wcs.cdelt * factor, crpix)

    @staticmethod
    def _pair_int(value, name: str) -> tuple[int, int]:
        arr = np.broadcast_to(np.asarray(value, dtype=int).ravel(), (2,))
        if np.any(arr < 0):
            raise ValueError(f"argument {name!r}: must be non-negative, got {value!r}")
        return int(arr[0]), int(arr[1])

    def pad(self, pad_width, axis_name: str | None = None) -> WcsGeom:
        """Geometry enlarged by ``pad_width`` pixels on each side (int or (px, py))."""
        if axis_name is not None:
            return self._pad_axis(pad_width, axis_name)
        if isinstance(pad_width, u.Quantity | str | Angle):
            pad_width = np.ceil(parse_pair_deg(pad_width, "pad_width")
                                / self.pixel_scales.deg).astype(int)
        px, py = self._pair_int(pad_width, "pad_width")
        npix = (self._npix[0] + 2 * px, self._npix[1] + 2 * py)
        crpix = self._wcs.wcs.crpix + np.array([px, py])
        return self._with_spatial(npix, None, crpix)

    def crop(self, crop_width) -> WcsGeom:
        """Geometry reduced by ``crop_width`` pixels on each side (int or (cx, cy))."""
        cx, cy = self._pair_int(crop_width, "crop_width")
        npix = (self._npix[0] - 2 * cx, self._npix[1] - 2 * cy)
        if min(npix) < 1:
            raise ValueError(f"argument 'crop_width': {crop_width} removes all pixels")
        crpix = self._wcs.wcs.crpix - np.array([cx, cy])
        return self._with_spatial(npix, None, crpix)

    def to_odd_npix(self, max_radius=None) -> WcsGeom:
        """Geometry around the same centre with an odd number of pixels per side.

        ``max_radius`` (angle) limits the half width.
        """
        width = self.width.to_value("deg")
        if max_radius is not None:
            width = np.minimum(width, 2 * parse_pair_deg(max_radius, "max_radius"))
        npix = round_up_to_odd(width / self.pixel_scales.deg)
        return WcsGeom.create(skydir=self.center_skydir, binsz=self.pixel_scales.deg,
                              npix=npix, proj=self.projection, frame=self.frame,
                              axes=self._axes)

    def to_binsz(self, binsz) -> WcsGeom:
        """Geometry of the same centre and width with another pixel size."""
        return WcsGeom.create(skydir=self.center_skydir, binsz=binsz, width=self.width,
                              proj=self.projection, frame=self.frame, axes=self._axes)

    # ------------------------------------------------------------------ cutouts
    def cutout(self, position, width, mode="trim", odd_npix=False, min_npix=1) -> WcsGeom:
        """Geometry of a cutout around ``position`` on the pixel grid of this geometry.

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord` or (float, float)
            Centre (a tuple is in deg in the geometry frame).
        width : float, (float, float), str or Quantity
            Size ``(lon, lat)`` (deg), converted to pixels with the pixel scale at the
            reference pixel, rounded to integers (at least ``min_npix``).
        mode : {"trim", "partial", "strict"}
            "trim" clips the cutout at the image edges, "partial" keeps the full size
            (pixels outside the parent image included), "strict" raises if the cutout
            does not fit (as `astropy.nddata.Cutout2D`).
        odd_npix : bool
            Round the number of pixels up to odd values.
        min_npix : int
            Minimal number of pixels per side.
        """
        return self._cutout_info(position, width, mode, odd_npix, min_npix)[0]

    def _cutout_info(self, position, width, mode="trim", odd_npix=False, min_npix=1):
        """`cutout` geometry with the ``(y, x)`` slices of the overlap in this geometry
        (parent) and in the cutout: ``(geom, parent_slices, cutout_slices)``."""
        from astropy.nddata.utils import overlap_slices

        width_deg = parse_pair_deg(width, "width")
        npix = np.clip(width_deg / np.abs(self._wcs.wcs.cdelt), min_npix, None)
        if odd_npix:
            npix = round_up_to_odd(npix)
        shape = (int(np.round(npix[1])), int(np.round(npix[0])))
        lon, lat = skydir_to_lonlat(position, self.frame)
        x, y = self._world_to_pix(np.array([lon]), np.array([lat]))
        pos_yx = (float(y[0]), float(x[0]))
        if not np.all(np.isfinite(pos_yx)):
            raise GeometryError(f"cutout: position {position} is outside the projection")
        large, small = overlap_slices(self.data_shape_image, shape, pos_yx, mode=mode)
        if mode == "trim":
            cut_shape = (large[0].stop - large[0].start, large[1].stop - large[1].start)
        else:
            cut_shape = shape
        origin = np.array([large[1].start - small[1].start, large[0].start - small[0].start])
        crpix = self._wcs.wcs.crpix - origin
        geom = WcsGeom(self._wcs, (cut_shape[1], cut_shape[0]), crpix=crpix, axes=self._axes)
        return geom, tuple(large), tuple(small)

    def _same_image(self, other) -> bool:
        """Whether ``other`` is a `WcsGeom` with the same image grid (WCS and npix)."""
        if not isinstance(other, WcsGeom):
            return False
        if other._spatial is self._spatial:
            return True
        if other._npix != self._npix:
            return False
        from ._wcs_ops import _same_but_crpix

        a, b = self._wcs.wcs, other._wcs.wcs
        return _same_but_crpix(a, b) and np.array_equal(a.crpix, b.crpix)

    def cutout_slices(self, geom: WcsGeom, mode: str = "partial") -> dict:
        """Slices relating this (cutout) geometry to its parent ``geom``.

        Returns
        -------
        slices : dict
            ``"parent-slices"`` and ``"cutout-slices"``: ``(slice_y, slice_x)`` of the
            overlapping pixels in the parent and in this geometry.
        """
        if not self.is_aligned(geom):
            raise GeometryError("cutout_slices: geometries are not on the same pixel grid")
        offset = np.asarray(geom.wcs.wcs.crpix) - np.asarray(self._wcs.wcs.crpix)
        x0, y0 = (int(v) for v in np.round(offset))
        parent, cutout = [], []
        for start, n_cut, n_parent in ((y0, self._npix[1], geom.npix[1]),
                                       (x0, self._npix[0], geom.npix[0])):
            lo, hi = max(0, start), min(n_parent, start + n_cut)
            if hi <= lo:
                raise GeometryError("cutout_slices: geometries do not overlap")
            parent.append(slice(lo, hi))
            cutout.append(slice(lo - start, hi - start))
        if mode == "trim":
            cutout = [slice(0, s.stop - s.start) for s in parent]
        return {"parent-slices": tuple(parent), "cutout-slices": tuple(cutout)}

    # ------------------------------------------------------------------ comparison
    def is_aligned(self, other: WcsGeom, tolerance: float = 1e-6) -> bool:
        """Whether ``other`` has the same projection, pixel size and pixel grid."""
        if not isinstance(other, WcsGeom):
            return False
        w1, w2 = self._wcs.wcs, other.wcs.wcs
        if list(w1.ctype) != list(w2.ctype):
            return False
        if not np.allclose(w1.cdelt, w2.cdelt, atol=tolerance, rtol=0):
            return False
        if not np.allclose(w1.crval, w2.crval, atol=tolerance, rtol=0):
            return False
        if not np.allclose(w1.get_pc(), w2.get_pc(), atol=tolerance, rtol=0):
            return False
        offset = np.asarray(w1.crpix) - np.asarray(w2.crpix)
        return bool(np.allclose(offset, np.round(offset), atol=tolerance, rtol=0))

    def is_allclose(self, other, rtol_axes: float = 1e-6, atol: float = 1e-6) -> bool:
        """Same shape, WCS (``atol`` on crval/cdelt/crpix) and axes (``rtol_axes``)."""
        if not isinstance(other, WcsGeom):
            return False
        if self.data_shape != other.data_shape:
            return False
        if not self._axes.is_allclose(other.axes, rtol=rtol_axes, atol=atol):
            return False
        w1, w2 = self._wcs.wcs, other.wcs.wcs
        return bool(
            list(w1.ctype) == list(w2.ctype)
            and np.allclose(w1.crval, w2.crval, atol=atol, rtol=0)
            and np.allclose(w1.cdelt, w2.cdelt, atol=atol, rtol=0)
            and np.allclose(w1.crpix, w2.crpix, atol=atol, rtol=0)
            and np.allclose(w1.get_pc(), w2.get_pc(), atol=atol, rtol=0)
        )

    def __repr__(self) -> str:
        return (
            f"WcsGeom(npix={self._npix}, binsz={self.pixel_scales.deg.tolist()} deg, "
            f"proj={self.projection!r}, frame={self.frame!r}, axes={self._axes.names})"
        )

    def __str__(self) -> str:
        lon, lat = self.center_skydir.spherical.lon.deg, self.center_skydir.spherical.lat.deg
        lines = [
            "WcsGeom",
            "",
            f"\taxes       : {['lon', 'lat'] + self._axes.names}",
            f"\tshape      : {self._npix + tuple(ax.nbin for ax in self._axes)}",
            f"\tndim       : {self.ndim}",
            f"\tframe      : {self.frame}",
            f"\tprojection : {self.projection}",
            f"\tcenter     : {lon:.4f} deg, {lat:.4f} deg",
            f"\twidth      : {self.width[0]:.3f} x {self.width[1]:.3f}",
        ]
        return "\n".join(lines)
