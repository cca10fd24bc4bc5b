"""`MapCoord`: broadcast arrays of sky (lon, lat) and non-spatial axis coordinates."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time

__all__ = ["MapCoord", "FRAMES", "skycoord_frame_name"]

FRAMES = ("icrs", "galactic")


def skycoord_frame_name(skycoord: SkyCoord) -> str:
    """Frame name of a SkyCoord ("icrs", "galactic", ...)."""
    return skycoord.frame.name


def _as_degrees(value, name: str) -> np.ndarray:
    if isinstance(value, u.Quantity):
        try:
            return value.to_value(u.deg)
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"coordinate {name!r}: {value.unit} is not an angle"
            ) from exc
    return np.asarray(value, dtype=float)


def _shape_of(value) -> tuple:
    return np.shape(value) if not isinstance(value, Time) else value.shape


def _broadcast(value, shape: tuple):
    if _shape_of(value) == shape:
        return value
    if isinstance(value, Time):
        return value.reshape(value.shape)._apply(np.broadcast_to, shape, subok=True)
    return np.broadcast_to(value, shape, subok=True)


class MapCoord:
    """Coordinates of map positions: ``lon``, ``lat`` (deg) plus non-spatial axes.

    Parameters
    ----------
    data : dict
        ``{"lon": ..., "lat": ..., axis_name: ...}``; all arrays are broadcast to one shape.
        ``lon``/``lat`` may be Quantities (converted to deg) or floats in deg.
    frame : {"icrs", "galactic"}, optional
        Sky frame of lon/lat.
    match_by_name : bool
        Whether geometries match non-spatial coordinates to axes by name (True) or by
        position (False).
    broadcast : bool
        Broadcast the arrays to a common shape (read-only views, no copy). With False
        the arrays keep their shapes (sparse coordinates); `shape` is still the
        broadcast shape.
    """

    def __init__(
        self,
        data: dict,
        frame: str | None = None,
        match_by_name: bool = True,
        *,
        broadcast: bool = True,
    ):
        if "lon" not in data or "lat" not in data:
            raise ValueError(f"argument 'data': needs 'lon' and 'lat' keys, got {list(data)}")
        values = {"lon": _as_degrees(data["lon"], "lon"), "lat": _as_degrees(data["lat"], "lat")}
        for key, val in data.items():
            if key in ("lon", "lat"):
                continue
            if isinstance(val, u.Quantity | Time):
                values[key] = val
            elif isinstance(val, str) or (
                isinstance(val, list | tuple | np.ndarray) and np.asarray(val).dtype.kind in "US"
            ):
                values[key] = np.asarray(val, dtype=str)
            else:
                values[key] = np.asarray(val)
        try:
            shape = np.broadcast_shapes(*[_shape_of(v) for v in values.values()])
        except ValueError as exc:
            shapes = {k: _shape_of(v) for k, v in values.items()}
            raise ValueError(f"argument 'data': shapes cannot be broadcast: {shapes}") from exc
        self._data = {k: _broadcast(v, shape) for k, v in values.items()} if broadcast else values
        self._shape = shape
        self._frame = frame
        self._match_by_name = match_by_name

    # ------------------------------------------------------------------ access
    def __getitem__(self, key):
        if isinstance(key, str):
            return self._data[key]
        return list(self._data.values())[key]

    def __setitem__(self, key: str, value) -> None:
        self._data[key] = _broadcast(value, self._shape)

    def broadcasted(self) -> MapCoord:
        """Copy with all arrays broadcast to `shape`."""
        return MapCoord(dict(self._data), frame=self._frame, match_by_name=self._match_by_name)

    def __iter__(self):
        return iter(self._data.values())

    def __contains__(self, key) -> bool:
        return key in self._data

    @property
    def ndim(self) -> int:
        """Number of coordinates (2 spatial + non-spatial axes)."""
        return len(self._data)

    @property
    def axis_names(self) -> list[str]:
        """Names of the coordinates (``lon``, ``lat``, then axes)."""
        return list(self._data.keys())

    @property
    def shape(self) -> tuple:
        """Broadcast shape of the coordinate arrays."""
        return self._shape

    @property
    def size(self) -> int:
        return int(np.prod(self._shape))

    @property
    def lon(self) -> np.ndarray:
        """Longitude in deg."""
        return self._data["lon"]

    @property
    def lat(self) -> np.ndarray:
        """Latitude in deg."""
        return self._data["lat"]

    @property
    def frame(self) -> str | None:
        """Sky frame name."""
        return self._frame

    @property
    def match_by_name(self) -> bool:
        return self._match_by_name

    @property
    def skycoord(self) -> SkyCoord:
        """Sky positions as a SkyCoord (needs a frame)."""
        if self._frame is None:
            raise ValueError("MapCoord has no frame: cannot build a SkyCoord")
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self._frame)

    @property
    def non_spatial(self) -> dict:
        """The non-spatial coordinates."""
        return {k: v for k, v in self._data.items() if k not in ("lon", "lat")}

    # ------------------------------------------------------------------ construction
    @classmethod
    def _from_skycoord(cls, skycoord: SkyCoord, extra: dict, frame: str | None, match: bool):
        if frame is not None and skycoord.frame.name != frame:
            skycoord = skycoord.transform_to(frame)
        frame = skycoord.frame.name
        sph = skycoord.spherical
        data = {"lon": sph.lon.deg, "lat": sph.lat.deg}
        data.update(extra)
        return cls(data, frame=frame, match_by_name=match)

    @classmethod
    def create(cls, data, frame: str | None = None, axis_names=None) -> MapCoord:
        """Build a MapCoord from a dict, a tuple/list, a SkyCoord or a MapCoord.

        Parameters
        ----------
        data : dict, tuple, list, `~astropy.coordinates.SkyCoord` or `MapCoord`
            dict: ``lon``/``lat`` or ``skycoord`` plus axis names; tuple: ``(lon, lat,
            *axes)`` or ``(skycoord, *axes)``.
        frame : str, optional
            Frame of lon/lat (a SkyCoord is converted to it).
        axis_names : list of str, optional
            Names of the non-spatial coordinates of a tuple (otherwise matched by position).
        """
        if isinstance(data, MapCoord):
            if frame is None or data.frame is None or data.frame == frame:
                if frame is not None and data.frame is None:
                    return cls(dict(data._data), frame=frame, match_by_name=data.match_by_name)
                return data
            return data.to_frame(frame)
        if isinstance(data, SkyCoord):
            return cls._from_skycoord(data, {}, frame, True)
        if isinstance(data, dict):
            data = dict(data)
            if "skycoord" in data:
                skycoord = data.pop("skycoord")
                return cls._from_skycoord(skycoord, data, frame, True)
            return cls(data, frame=frame, match_by_name=True)
        if isinstance(data, tuple | list):
            items = list(data)
            if items and isinstance(items[0], SkyCoord):
                spatial = items[0]
                rest = items[1:]
            else:
                if len(items) < 2:
                    raise ValueError("argument 'data': a tuple needs at least (lon, lat)")
                spatial = None
                rest = items[2:]
            if axis_names is not None:
                names = list(axis_names)
                match = True
            else:
                names = [f"axis{i}" for i in range(len(rest))]
                match = False
            if len(names) < len(rest):
                raise ValueError(
                    f"argument 'axis_names': {len(names)} names for {len(rest)} axis coordinates"
                )
            extra = dict(zip(names, rest, strict=False))
            if spatial is not None:
                return cls._from_skycoord(spatial, extra, frame, match)
            values = {"lon": items[0], "lat": items[1]}
            values.update(extra)
            return cls(values, frame=frame, match_by_name=match)
        raise TypeError(f"argument 'data': unsupported type {type(data).__name__}")

    # ------------------------------------------------------------------ transformations
    def to_frame(self, frame: str) -> MapCoord:
        """Coordinates in another sky frame (one vectorised astropy transformation)."""
        if frame == self._frame:
            return self.copy()
        if self._frame is None:
            raise ValueError("MapCoord has no frame: cannot transform")
        sph = self.skycoord.transform_to(frame).spherical
        data = dict(self._data)
        data["lon"] = sph.lon.deg
        data["lat"] = sph.lat.deg
        return MapCoord(data, frame=frame, match_by_name=self._match_by_name)

    def apply_mask(self, mask) -> MapCoord:
        """Coordinates at the positions where ``mask`` is True (flattened)."""
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), self._shape)
        data = {k: _broadcast(v, self._shape)[mask] for k, v in self._data.items()}
        return MapCoord(data, frame=self._frame, match_by_name=self._match_by_name)

    def copy(self) -> MapCoord:
        data = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in self._data.items()}
        return MapCoord(data, frame=self._frame, match_by_name=self._match_by_name)

    def flatten(self) -> MapCoord:
        """One-dimensional copy."""
        data = {k: _broadcast(v, self._shape).ravel() for k, v in self._data.items()}
        return MapCoord(data, frame=self._frame, match_by_name=self._match_by_name)

    def __repr__(self) -> str:
        return (f"MapCoord(axes={self.axis_names}, shape={self._shape}, "
                f"frame={self._frame!r})")
