"""`MapAxes`: ordered container of the non-spatial axes of a geometry or an IRF."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import astropy.units as u
import numpy as np
from astropy.table import Table

from ..utils.errors import GeometryError
from ._axis import MapAxis
from ._axis_other import LabelMapAxis, TimeMapAxis

__all__ = ["MapAxes", "MissingAxisError"]


class MissingAxisError(GeometryError, KeyError):
    """No axis of the requested name (both a `KeyError` and a `ValueError`)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""

_AXIS_TYPES = (MapAxis, LabelMapAxis, TimeMapAxis)


class MapAxes(Sequence):
    """Ordered list of uniquely named axes.

    Parameters
    ----------
    axes : sequence of axes
        `MapAxis`, `LabelMapAxis` or `TimeMapAxis` instances.
    n_spatial_axes : int, optional
        Number of spatial data dimensions following the axes in the data array (used for
        the broadcasting shapes of `get_coord` and `bin_volume`).

    Notes
    -----
    Data arrays store the axes in reversed order followed by the spatial dimensions:
    for axes ``[a0, a1]`` the data shape is ``(a1.nbin, a0.nbin, ny, nx)``.
    """

    def __init__(self, axes: Iterable = (), n_spatial_axes: int | None = None):
        axes = list(axes) if axes is not None else []
        for ax in axes:
            if not isinstance(ax, _AXIS_TYPES):
                raise TypeError(
                    f"argument 'axes': expected map axes, got {type(ax).__name__}"
                )
        names = [ax.name for ax in axes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"argument 'axes': duplicate axis names {dupes}")
        self._axes = axes
        self._n_spatial_axes = n_spatial_axes

    @classmethod
    def from_default(cls, axes, n_spatial_axes: int | None = None) -> MapAxes:
        """Build from None, a MapAxes or a list of axes."""
        if axes is None:
            return cls([], n_spatial_axes=n_spatial_axes)
        if isinstance(axes, MapAxes):
            return cls(list(axes), n_spatial_axes=n_spatial_axes)
        if isinstance(axes, _AXIS_TYPES):
            return cls([axes], n_spatial_axes=n_spatial_axes)
        return cls(axes, n_spatial_axes=n_spatial_axes)

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self._axes)

    def __iter__(self):
        return iter(self._axes)

    def __getitem__(self, key):
        if isinstance(key, int | np.integer):
            return self._axes[key]
        if isinstance(key, str):
            for ax in self._axes:
                if ax.name == key:
                    return ax
            raise MissingAxisError(f"no axis named {key!r}; available: {self.names}")
        if isinstance(key, slice):
            return MapAxes(self._axes[key], n_spatial_axes=self._n_spatial_axes)
        if isinstance(key, list | tuple):
            return MapAxes([self[k] for k in key], n_spatial_axes=self._n_spatial_axes)
        raise TypeError(f"invalid axis key {key!r}")

    def __contains__(self, item) -> bool:
        if isinstance(item, str):
            return item in self.names
        return any(item is ax or item == ax for ax in self._axes)

    def __add__(self, other) -> MapAxes:
        return MapAxes(list(self) + list(other), n_spatial_axes=self._n_spatial_axes)

    def __eq__(self, other) -> bool:
        if not isinstance(other, MapAxes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"MapAxes({self._axes!r})"

    def __str__(self) -> str:
        return "MapAxes\n\n" + "\n".join(f"\t{ax!r}" for ax in self._axes)

    # ------------------------------------------------------------------ properties
    @property
    def names(self) -> list[str]:
        """Axis names in order."""
        return [ax.name for ax in self._axes]

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of bins of each axis, in axis order."""
        return tuple(ax.nbin for ax in self._axes)

    @property
    def n_spatial_axes(self) -> int | None:
        return self._n_spatial_axes

    @property
    def is_flat(self) -> bool:
        """All axes have a single bin."""
        return all(n == 1 for n in self.shape)

    @property
    def is_unidimensional(self) -> bool:
        """At most one axis has more than one bin."""
        return sum(n > 1 for n in self.shape) <= 1

    @property
    def primary_axis(self):
        """The first axis with more than one bin (or the first axis)."""
        for ax in self._axes:
            if ax.nbin > 1:
                return ax
        if not self._axes:
            raise ValueError("MapAxes is empty: no primary axis")
        return self._axes[0]

    @property
    def reverse(self) -> MapAxes:
        """Axes in reversed (data) order."""
        return MapAxes(self._axes[::-1], n_spatial_axes=self._n_spatial_axes)

    @property
    def center_coord(self) -> tuple:
        """Coordinate of the central pixel of each axis."""
        out = []
        for ax in self._axes:
            pix = (ax.nbin - 1) / 2.0
            if isinstance(ax, MapAxis):
                out.append(ax.pix_to_coord(pix))
            else:
                out.append(ax.pix_to_coord(round(pix)))
        return tuple(out)

    # ------------------------------------------------------------------ indices
    def index(self, axis_name: str) -> int:
        """Position of the named axis."""
        names = self.names
        if axis_name not in names:
            raise MissingAxisError(f"no axis named {axis_name!r}; available: {names}")
        return names.index(axis_name)

    def index_data(self, axis_name: str) -> int:
        """Position of the named axis in the data array (axes are stored reversed)."""
        return len(self) - self.index(axis_name) - 1

    def _broadcast_shape(self, idx: int) -> tuple[int, ...]:
        n_spatial = self._n_spatial_axes or 0
        shape = [1] * (len(self) + n_spatial)
        shape[len(self) - idx - 1] = -1
        return tuple(shape)

    def assert_names(self, required_names: Sequence[str], allow_extra: bool = False) -> None:
        """Raise `ValueError` unless the axis names equal ``required_names`` (in order)."""
        names = self.names
        if allow_extra:
            ok = names[: len(required_names)] == list(required_names)
        else:
            ok = names == list(required_names)
        if not ok:
            raise ValueError(
                f"unexpected axes: got {names}, required {list(required_names)} (in this order)"
            )

    # ------------------------------------------------------------------ coordinates
    def get_coord(self, mode: str = "center", axis_name: str | None = None) -> dict:
        """Axis coordinates, each reshaped to broadcast against the data array.

        Parameters
        ----------
        mode : {"center", "edges"}
            With "edges", the axis ``axis_name`` is given by its edges.
        axis_name : str, optional
            Axis for ``mode="edges"``.
        """
        if mode not in ("center", "edges"):
            raise ValueError(f"argument 'mode': must be 'center' or 'edges', got {mode!r}")
        coords = {}
        for idx, ax in enumerate(self._axes):
            if mode == "edges" and ax.name == axis_name:
                values = ax.edges
            else:
                values = ax.center
            coords[ax.name] = values.reshape(self._broadcast_shape(idx))
        return coords

    def bin_volume(self) -> u.Quantity:
        """Product of the bin widths, broadcastable against the data array."""
        volume = u.Quantity(np.ones((1,) * (len(self) + (self._n_spatial_axes or 0))))
        for idx, ax in enumerate(self._axes):
            volume = volume * ax.bin_width.reshape(self._broadcast_shape(idx))
        return volume

    def coord_to_idx(self, coord, clip: bool = True) -> tuple:
        """Bin indices of a MapCoord/dict with the axis names."""
        return tuple(ax.coord_to_idx(coord[ax.name], clip=clip) for ax in self._axes)

    def coord_to_pix(self, coord) -> tuple:
        """Pixel coordinates of a MapCoord/dict with the axis names."""
        return tuple(ax.coord_to_pix(coord[ax.name]) for ax in self._axes)

    def pix_to_coord(self, pix) -> tuple:
        """Coordinates of the pixel coordinates ``pix`` (one array per axis)."""
        return tuple(ax.pix_to_coord(p) for ax, p in zip(self._axes, pix, strict=True))

    def pix_to_idx(self, pix, clip: bool = False) -> tuple:
        return tuple(ax.pix_to_idx(p, clip=clip) for ax, p in zip(self._axes, pix, strict=True))

    # ------------------------------------------------------------------ derived containers
    def _new(self, axes) -> MapAxes:
        return MapAxes(axes, n_spatial_axes=self._n_spatial_axes)

    def replace(self, axis) -> MapAxes:
        """Replace the axis of the same name."""
        idx = self.index(axis.name)
        axes = list(self._axes)
        axes[idx] = axis
        return self._new(axes)

    def resample(self, axis) -> MapAxes:
        """Replace the axis of the same name by ``axis`` (a new binning)."""
        return self.replace(axis)

    def drop(self, axis_name: str) -> MapAxes:
        """Axes without the named axis."""
        idx = self.index(axis_name)
        return self._new(self._axes[:idx] + self._axes[idx + 1 :])

    def squash(self, axis_name: str) -> MapAxes:
        """Replace the named axis by its one-bin version."""
        return self.replace(self[axis_name].squash())

    def pad(self, axis_name: str, pad_width) -> MapAxes:
        return self.replace(self[axis_name].pad(pad_width))

    def upsample(self, factor: int, axis_name: str) -> MapAxes:
        return self.replace(self[axis_name].upsample(factor))

    def downsample(self, factor: int, axis_name: str, strict: bool = True) -> MapAxes:
        return self.replace(self[axis_name].downsample(factor, strict=strict))

    def rename_axes(self, names, new_names) -> MapAxes:
        """Rename axes ``names`` (str or list) to ``new_names``."""
        if isinstance(names, str):
            names, new_names = [names], [new_names]
        axes = list(self._axes)
        for name, new in zip(names, new_names, strict=True):
            idx = self.index(name)
            axes[idx] = axes[idx].rename(new)
        return self._new(axes)

    def slice_by_idx(self, slices: dict) -> MapAxes:
        """Slice axes with ``{name: slice | int}``; integer-indexed axes are dropped."""
        axes = []
        for ax in self._axes:
            sl = slices.get(ax.name, slice(None))
            if isinstance(sl, int | np.integer):
                continue
            axes.append(ax.slice(sl))
        return self._new(axes)

    def copy(self) -> MapAxes:
        return self._new(list(self._axes))

    def is_allclose(self, other, **kwargs) -> bool:
        """Same axes within tolerances (passed to each axis' ``is_allclose``)."""
        if not isinstance(other, MapAxes) or len(other) != len(self):
            return False
        return all(a.is_allclose(b, **kwargs) for a, b in zip(self, other, strict=True))

    # ------------------------------------------------------------------ I/O
    def to_table(self, format: str = "gadf") -> Table:
        """Axes as a table: "gadf" (BANDS), "gadf-dl3" (IRF) or an OGIP format."""
        from ._axis_io import axes_to_table

        return axes_to_table(self, format=format)

    def to_table_hdu(self, format: str = "gadf", hdu_bands: str = "BANDS"):
        """Axes table as a `~astropy.io.fits.BinTableHDU` named ``hdu_bands``."""
        from ._axis_io import table_to_hdu

        table = self.to_table(format=format)
        if format == "gadf":
            table.meta["EXTNAME"] = hdu_bands
        return table_to_hdu(table)

    @classmethod
    def from_table(cls, table: Table, format: str = "gadf") -> MapAxes:
        """Read axes from a table ("gadf" BANDS, "gadf-dl3" IRF, or OGIP formats)."""
        from ._axis_io import axes_from_table

        return axes_from_table(table, format=format)

    @classmethod
    def from_table_hdu(cls, hdu, format: str = "gadf") -> MapAxes:
        from ..utils.fits import table_from_hdu

        return cls.from_table(table_from_hdu(hdu, where=hdu.name), format=format)
