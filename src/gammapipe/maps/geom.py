"""`Geom`: behaviour shared by the WCS and region geometries (non-spatial axes, masks)."""

from __future__ import annotations

import abc

import astropy.units as u
import numpy as np

from ..utils.errors import GeometryError
from ._axes import MapAxes
from .coord import MapCoord

__all__ = ["Geom"]


class Geom(abc.ABC):
    """Abstract geometry: two spatial dimensions plus non-spatial `MapAxes`.

    Data arrays of a geometry have the shape ``(n_axis_k, ..., n_axis_0, ny, nx)``.
    Subclasses implement the spatial part (`coord_to_pix`, `pix_to_coord`, `solid_angle`,
    ...) and `_init_copy`.
    """

    is_hpx = False
    is_region = False

    # ------------------------------------------------------------------ abstract interface
    @property
    @abc.abstractmethod
    def data_shape(self) -> tuple[int, ...]:
        """Shape of the data array."""

    @property
    @abc.abstractmethod
    def axes(self) -> MapAxes:
        """Non-spatial axes."""

    @property
    @abc.abstractmethod
    def frame(self) -> str:
        """Sky frame ("icrs" or "galactic")."""

    @property
    @abc.abstractmethod
    def center_skydir(self):
        """Sky position of the geometry centre."""

    @abc.abstractmethod
    def coord_to_pix(self, coords) -> tuple:
        """Coordinates to pixel coordinates ``(x, y, *axes)``."""

    @abc.abstractmethod
    def pix_to_coord(self, pix) -> tuple:
        """Pixel coordinates to coordinates ``(lon, lat, *axes)``."""

    @abc.abstractmethod
    def get_coord(self, *args, **kwargs) -> MapCoord:
        """Coordinates of the pixel centres."""

    @abc.abstractmethod
    def solid_angle(self) -> u.Quantity:
        """Solid angle of each spatial pixel."""

    @abc.abstractmethod
    def _init_copy(self, **kwargs) -> Geom:
        """Copy with some constructor arguments replaced."""

    @abc.abstractmethod
    def is_allclose(self, other, rtol_axes: float = 1e-6, atol: float = 1e-6) -> bool:
        """Whether two geometries agree within tolerances."""

    @abc.abstractmethod
    def _spatial_pix_to_idx(self, x, y, clip: bool) -> tuple[np.ndarray, np.ndarray]:
        """Spatial pixel to index conversion."""

    # ------------------------------------------------------------------ shared properties
    @property
    def ndim(self) -> int:
        """Number of dimensions (2 spatial + non-spatial)."""
        return len(self.data_shape)

    @property
    def is_image(self) -> bool:
        """Whether the geometry has no non-spatial axes."""
        return len(self.axes) == 0

    @property
    def is_flat(self) -> bool:
        """Whether all non-spatial axes have a single bin."""
        return all(ax.nbin == 1 for ax in self.axes)

    @property
    def data_shape_axes(self) -> tuple[int, ...]:
        """Shape of the non-spatial part of the data, with singleton spatial dimensions."""
        return tuple(ax.nbin for ax in self.axes[::-1]) + (1, 1)

    @property
    def center_coord(self) -> tuple:
        """Coordinates of the centre pixel ``(lon, lat, *axes)``."""
        return self.pix_to_coord(self.center_pix)

    def data_nbytes(self, dtype="float32") -> u.Quantity:
        """Memory needed by a data array of this geometry (MB)."""
        nbytes = int(np.prod(self.data_shape)) * np.dtype(dtype).itemsize
        return (nbytes * u.byte).to("MB")

    # ------------------------------------------------------------------ coordinates
    def _axis_coords(self, coords: MapCoord) -> list:
        """Non-spatial coordinate values, matched by name or by position."""
        values = []
        for idx, ax in enumerate(self.axes):
            if coords.match_by_name:
                if ax.name not in coords:
                    raise GeometryError(
                        f"coordinates lack the axis {ax.name!r} (have {coords.axis_names})"
                    )
                values.append(coords[ax.name])
            else:
                if coords.ndim < idx + 3:
                    raise GeometryError(
                        f"coordinates have {coords.ndim - 2} non-spatial value(s), the "
                        f"geometry has {len(self.axes)} axes {self.axes.names}"
                    )
                values.append(coords[idx + 2])
        return values

    def _to_map_coord(self, coords) -> MapCoord:
        coords = MapCoord.create(coords, frame=self.frame, axis_names=self.axes.names)
        if coords.frame is not None and coords.frame != self.frame:
            coords = coords.to_frame(self.frame)
        return coords

    def pix_to_idx(self, pix, clip: bool = False) -> tuple:
        """Pixel coordinates to integer indices (-1 outside unless ``clip``)."""
        pix = tuple(pix)
        x, y = self._spatial_pix_to_idx(pix[0], pix[1], clip)
        rest = [ax.pix_to_idx(p, clip=clip) for ax, p in zip(self.axes, pix[2:], strict=False)]
        out = np.broadcast_arrays(x, y, *rest)
        return tuple(np.asarray(a) for a in out)

    def coord_to_idx(self, coords, clip: bool = False) -> tuple:
        """Coordinates to integer indices ``(ix, iy, *axes)`` (-1 outside unless ``clip``).

        Non-spatial indices use the axis edges (``MapAxis.coord_to_idx``).
        """
        coords = self._to_map_coord(coords)
        pix = self.coord_to_pix(coords)
        x, y = self._spatial_pix_to_idx(pix[0], pix[1], clip)
        values = self._axis_coords(coords)
        rest = [ax.coord_to_idx(v, clip=clip) for ax, v in zip(self.axes, values, strict=True)]
        out = np.broadcast_arrays(x, y, *rest)
        return tuple(np.asarray(a) for a in out)

    def contains(self, coords) -> np.ndarray:
        """Whether coordinates fall inside the geometry."""
        idx = self.coord_to_idx(coords)
        return np.all(np.stack([i != -1 for i in idx]), axis=0)

    def contains_pix(self, pix) -> np.ndarray:
        """Whether pixel coordinates fall inside the geometry."""
        idx = self.pix_to_idx(pix)
        return np.all(np.stack([i != -1 for i in idx]), axis=0)

    def get_idx(self, idx=None, flat: bool = False) -> tuple:
        """Integer pixel indices ``(ix, iy, *axes)`` of all pixels (broadcast views).

        Parameters
        ----------
        idx : tuple, optional
            Restrict non-spatial axes to these indices (one value per axis).
        flat : bool
            Return flattened copies.
        """
        shape = self.data_shape
        n_axes = len(self.axes)
        ny, nx = shape[-2], shape[-1]
        arrays = [
            np.arange(nx).reshape((1,) * n_axes + (1, nx)),
            np.arange(ny).reshape((1,) * n_axes + (ny, 1)),
        ]
        for i, ax in enumerate(self.axes):
            sub = [1] * (n_axes + 2)
            sub[n_axes - 1 - i] = ax.nbin
            arrays.append(np.arange(ax.nbin).reshape(sub))
        out = np.broadcast_arrays(*arrays)
        if idx is not None:
            sel = tuple(
                slice(None) if v is None else int(v) for v in list(idx)[::-1]
            ) + (slice(None), slice(None))
            out = [a[sel] for a in out]
        if flat:
            return tuple(np.ravel(a).copy() for a in out)
        return tuple(out)

    def get_pix(self, idx=None) -> tuple:
        """Float pixel coordinates of all pixel centres."""
        return tuple(a.astype(float) for a in self.get_idx(idx=idx))

    # ------------------------------------------------------------------ axes manipulation
    def to_image(self) -> Geom:
        """Geometry without non-spatial axes (cached: geometries are immutable)."""
        cache = getattr(self, "_cache", None)
        if cache is None:
            return self._init_copy(axes=None)
        if "to_image" not in cache:
            cache["to_image"] = self._init_copy(axes=None)
        return cache["to_image"]

    def to_cube(self, axes) -> Geom:
        """Geometry with ``axes`` appended to the existing non-spatial axes."""
        return self._init_copy(axes=list(self.axes) + list(MapAxes.from_default(axes)))

    def squash(self, axis_name: str) -> Geom:
        """Geometry with the named axis reduced to one bin."""
        return self._init_copy(axes=self.axes.squash(axis_name))

    def drop(self, axis_name: str) -> Geom:
        """Geometry without the named axis."""
        return self._init_copy(axes=self.axes.drop(axis_name))

    def replace_axis(self, axis) -> Geom:
        """Geometry with the axis of the same name replaced."""
        return self._init_copy(axes=self.axes.replace(axis))

    def resample_axis(self, axis) -> Geom:
        """Geometry with the axis of the same name rebinned to ``axis``."""
        return self._init_copy(axes=self.axes.resample(axis))

    def rename_axes(self, names, new_names) -> Geom:
        """Geometry with renamed axes."""
        return self._init_copy(axes=self.axes.rename_axes(names, new_names))

    def get_axis_by_name(self, name: str):
        return self.axes[name]

    def get_axis_index_by_name(self, name: str) -> int:
        return self.axes.index(name)

    def slice_by_idx(self, slices: dict) -> Geom:
        """Slice non-spatial axes with ``{axis_name: slice | int}`` (ints drop the axis)."""
        unknown = [k for k in slices if k not in self.axes.names]
        if unknown:
            raise GeometryError(f"slice_by_idx: unknown axes {unknown} (have {self.axes.names})")
        return self._init_copy(axes=self.axes.slice_by_idx(slices))

    def _upsample_axis(self, factor: int, axis_name: str) -> Geom:
        return self._init_copy(axes=self.axes.upsample(factor, axis_name))

    def _downsample_axis(self, factor: int, axis_name: str) -> Geom:
        return self._init_copy(axes=self.axes.downsample(factor, axis_name))

    def _pad_axis(self, pad_width, axis_name: str) -> Geom:
        return self._init_copy(axes=self.axes.pad(axis_name, pad_width))

    def copy(self, **kwargs) -> Geom:
        """Copy, replacing constructor arguments given as keywords."""
        return self._init_copy(**kwargs)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Geom):
            return NotImplemented
        if type(other) is not type(self):
            return False
        return self.is_allclose(other)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ volumes and masks
    def bin_volume(self) -> u.Quantity:
        """Solid angle times the bin widths of the non-spatial axes (data shape)."""
        solid_angle = self.solid_angle()
        axes = MapAxes(list(self.axes), n_spatial_axes=2)
        volume = solid_angle * axes.bin_volume() if len(axes) else solid_angle
        return np.broadcast_to(volume, self.data_shape, subok=True)

    def energy_mask(self, energy_min=None, energy_max=None, round_to_edge: bool = False):
        """Boolean map selecting the energy bins fully inside ``[energy_min, energy_max]``.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, optional
            Range (default: the axis range).
        round_to_edge : bool
            Round the limits to the nearest bin edges first.
        """
        from .core import Map

        name = "energy" if "energy" in self.axes.names else "energy_true"
        axis = self.axes[name]
        edges = axis.edges
        emin = edges[0] if energy_min is None else u.Quantity(energy_min).to(axis.unit)
        emax = edges[-1] if energy_max is None else u.Quantity(energy_max).to(axis.unit)
        if round_to_edge:
            emin, emax = axis.round(u.Quantity([emin, emax]))
        mask = (edges[:-1] >= emin) & (edges[1:] <= emax)
        shape = [1] * self.ndim
        shape[self.ndim - 3 - self.axes.index(name)] = axis.nbin
        data = np.broadcast_to(mask.reshape(shape), self.data_shape).copy()
        return Map.from_geom(geom=self, data=data, dtype=bool)
