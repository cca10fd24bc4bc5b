"""`TemplateSpatialModel`: surface brightness interpolated from a sky map."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from ...utils.fits import make_path
from ._spatial_base import SpatialModel, _deg

__all__ = ["TemplateSpatialModel"]

log = logging.getLogger(__name__)

_SPATIAL_AXES = ("lon", "lat")


class TemplateSpatialModel(SpatialModel):
    """Spatial model from a map template (image or cube with an ``energy_true`` axis).

    Parameters
    ----------
    map : `~gammapipe.maps.WcsNDMap`
        Template. With ``normalize=True`` (default) it is divided by its integral over
        the sky (``sum(data x pixel solid angle)``, per energy plane for cubes) and gets
        the unit ``sr-1``; otherwise its unit must be a surface brightness (``sr-1``;
        a dimensionless map is taken to be in ``sr-1``).
    meta : dict, optional
        Free metadata.
    normalize : bool
        Normalise the template to a unit integral.
    interp_kwargs : dict, optional
        Options of `~gammapipe.maps.Map.interp_by_coord`; defaults ``method="linear"``,
        ``fill_value=0``, ``values_scale="lin"``.
    filename : str or Path, optional
        File the template is read from / written to (needed for YAML serialisation).
    copy_data : bool
        Copy the map (default) or keep a reference.
    """

    tag = ("TemplateSpatialModel", "template")

    def __init__(
        self,
        map,  # noqa: A002 - gammapy-compatible argument name
        meta: dict | None = None,
        normalize: bool = True,
        interp_kwargs: dict | None = None,
        filename: str | Path | None = None,
        copy_data: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("frame", map.geom.frame)
        super().__init__(**kwargs)
        data = np.asarray(map.data, dtype=float)
        if np.any(data < 0):
            log.warning("TemplateSpatialModel: the map has negative values")
        unit = map.unit
        if normalize:
            image = map.geom.to_image()
            sa = np.asarray(image.solid_angle().to_value("sr"), dtype=float)
            sa = sa.reshape(tuple(image.data_shape)[-2:])
            total = np.sum(data * sa, axis=(-2, -1), keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                data = np.where(total > 0, data / np.where(total > 0, total, 1.0), 0.0)
            unit = u.Unit("sr-1")
        elif unit == u.dimensionless_unscaled:
            log.warning("TemplateSpatialModel: dimensionless map taken to be in sr-1")
            unit = u.Unit("sr-1")
        elif not unit.is_equivalent("sr-1"):
            raise ValueError(
                f"TemplateSpatialModel: map unit {unit} is not a surface brightness (sr-1); "
                "use normalize=True or a map in sr-1"
            )
        if not copy_data and data is map.data and unit == map.unit:
            self.map = map
        else:
            self.map = map.copy(data=data, unit=unit)
        self.meta = {} if meta is None else dict(meta)
        interp = {} if interp_kwargs is None else dict(interp_kwargs)
        interp.setdefault("method", "linear")
        interp.setdefault("fill_value", 0)
        interp.setdefault("values_scale", "lin")
        self._interp_kwargs = interp
        self.normalize = bool(normalize)
        self.filename = None if filename is None else str(make_path(filename))

    # -- properties -----------------------------------------------------------------
    @property
    def is_energy_dependent(self) -> bool:
        """True if the template has an ``energy_true`` axis."""
        return "energy_true" in self.map.geom.axes.names

    @property
    def position(self):
        """Centre of the template map."""
        return self.map.geom.center_skydir

    @position.setter
    def position(self, value) -> None:
        raise AttributeError("TemplateSpatialModel: the position is fixed by the map")

    @property
    def position_lonlat(self) -> tuple[float, float]:
        """Centre ``(lon, lat)`` of the map in radians."""
        pos = self.position
        return float(pos.spherical.lon.to_value(u.rad)), float(pos.spherical.lat.to_value(u.rad))

    @property
    def evaluation_radius(self) -> u.Quantity:
        """Half the largest width of the map."""
        return np.max(u.Quantity(self.map.geom.width, "deg")) / 2.0

    # -- evaluation -------------------------------------------------------------------
    def _interp(self, lon_deg, lat_deg, energy=None) -> np.ndarray:
        if not self.is_energy_dependent:
            coords = {"lon": lon_deg, "lat": lat_deg}
            return np.asarray(self.map.interp_by_coord(coords, **self._interp_kwargs), float)
        if energy is None:
            raise ValueError(
                "TemplateSpatialModel: the template depends on energy_true; give energy"
            )
        return self._interp_energy(lon_deg, lat_deg, energy)

    def _interp_energy(self, lon_deg, lat_deg, energy) -> np.ndarray:
        """Interpolate each energy plane on the sky, then linearly in log(energy).

        Outside the range of the template's energy bin centres the first / last plane
        is used.
        """
        axis = self.map.geom.axes["energy_true"]
        lon_deg, lat_deg = np.broadcast_arrays(np.asarray(lon_deg, float),
                                               np.asarray(lat_deg, float))
        coords = {"lon": lon_deg, "lat": lat_deg}
        planes = np.stack([
            np.asarray(
                self.map.slice_by_idx({"energy_true": idx}).interp_by_coord(
                    coords, **self._interp_kwargs
                ),
                dtype=float,
            ).reshape(lon_deg.shape)
            for idx in range(axis.nbin)
        ])
        energy = u.Quantity(energy, axis.unit)
        log_e = np.log(energy.to_value(axis.unit))
        log_c = np.log(axis.center.to_value(axis.unit))
        shape = np.broadcast_shapes(lon_deg.shape, log_e.shape)
        if axis.nbin == 1:
            return np.broadcast_to(planes[0], shape).copy()
        idx = np.clip(np.searchsorted(log_c, log_e) - 1, 0, axis.nbin - 2)
        weight = np.clip((log_e - log_c[idx]) / (log_c[idx + 1] - log_c[idx]), 0.0, 1.0)
        idx = np.broadcast_to(idx, shape)
        weight = np.broadcast_to(weight, shape)
        stack = np.broadcast_to(planes.reshape((axis.nbin,) + (1,) * (len(shape) - lon_deg.ndim)
                                               + lon_deg.shape), (axis.nbin,) + shape)
        low = np.take_along_axis(stack, idx[None], axis=0)[0]
        high = np.take_along_axis(stack, (idx + 1)[None], axis=0)[0]
        return (1 - weight) * low + weight * high

    def evaluate(self, lon, lat, energy=None) -> u.Quantity:
        """Interpolated surface brightness at lon/lat (Quantities or deg), in ``sr-1``."""
        values = self._interp(_deg(lon), _deg(lat), energy)
        return u.Quantity(values, self.map.unit).to("sr-1")

    def __call__(self, lon, lat, energy=None) -> u.Quantity:
        return self.evaluate(lon, lat, energy)

    def _evaluate_rad(self, lon, lat) -> np.ndarray:
        return self._interp(np.rad2deg(lon), np.rad2deg(lat)) * self.map.unit.to("sr-1")

    def evaluate_geom(self, geom) -> u.Quantity:
        """Template on the pixel centres of ``geom`` (per ``energy_true`` bin if needed)."""
        if not self.is_energy_dependent:
            return super().evaluate_geom(geom)
        lon, lat = self._image_lonlat_deg(geom)
        energy = geom.axes["energy_true"].center.reshape((-1, 1, 1))
        values = self._interp(lon[None], lat[None], energy)
        values = values * self.map.unit.to("sr-1")
        shape = tuple(geom.data_shape)
        return u.Quantity(values.reshape((1,) * (len(shape) - 3) + values.shape), "sr-1")

    def integrate_geom(self, geom, oversampling_factor=None):
        """Template x pixel solid angle (per ``energy_true`` bin for cube templates)."""
        if not self.is_energy_dependent:
            return super().integrate_geom(geom, oversampling_factor)
        from ...maps import Map
        from ._spatial_base import _is_region

        if _is_region(geom):
            return self._integrate_region(geom, oversampling_factor, point=False)
        axis = geom.axes["energy_true"]
        target = geom.to_image().to_cube([axis])
        sa = np.asarray(target.to_image().solid_angle().to_value("sr"), dtype=float)
        values = self.evaluate_geom(target).to_value("sr-1") * sa.reshape(sa.shape[-2:])
        return Map.from_geom(target, data=np.nan_to_num(values, nan=0.0), unit="")

    def _integrate_region(self, geom, oversampling_factor, point: bool):
        if not self.is_energy_dependent:
            return super()._integrate_region(geom, oversampling_factor, point)
        from ...maps import Map

        axis = geom.axes["energy_true"]
        wcs_geom, weights = self._region_grid(geom)
        values = self.integrate_geom(wcs_geom.to_cube([axis])).data
        data = np.sum(values * weights, axis=(-2, -1)).reshape((-1, 1, 1))
        target = geom.to_image().to_cube([axis])
        return Map.from_geom(target, data=data, unit="")

    def to_region(self, **kwargs):
        """Rectangle covering the template map."""
        from regions import RectangleSkyRegion

        width = u.Quantity(self.map.geom.width, "deg").ravel()
        return RectangleSkyRegion(
            center=self.position, width=width[0], height=width[-1], **kwargs
        )

    def plot(self, ax=None, geom=None, **kwargs):
        """Image of the template (summed over energy for cubes) or of ``geom``."""
        if geom is None and not self.is_energy_dependent:
            geom = self.map.geom
        if self.is_energy_dependent:
            m = self.map.sum_over_axes(keepdims=False) if geom is None else None
            if m is not None:
                return m.plot(ax=ax, **kwargs)
            raise ValueError("TemplateSpatialModel.plot: give no geom for cube templates")
        return super().plot(ax=ax, geom=geom, **kwargs)

    # -- I/O --------------------------------------------------------------------------
    @classmethod
    def read(cls, filename, normalize: bool = True, **kwargs: Any) -> TemplateSpatialModel:
        """Read the template from a FITS map file."""
        from ...maps import Map

        m = Map.read(filename, **kwargs)
        return cls(m, normalize=normalize, filename=filename)

    def write(self, overwrite: bool = False, filename=None) -> None:
        """Write the template map to ``filename`` (default: `filename` attribute)."""
        if filename is not None:
            self.filename = str(make_path(filename))
        if self.filename is None:
            raise ValueError("TemplateSpatialModel.write: no filename set")
        self.map.write(self.filename, overwrite=overwrite)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """``{"spatial": {"type", "frame", "parameters", "filename", "normalize", "unit"}}``."""
        data = super().to_dict(full_output)
        inner = data[self.type]
        inner["filename"] = self.filename
        inner["normalize"] = self.normalize
        inner["unit"] = self.map.unit.to_string()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None, **kwargs: Any):
        """Create from a dict (reads ``filename``, relative to ``path`` if not found)."""
        from ...maps import Map

        inner = cls._unwrap_dict(dict(data))
        filename = inner.get("filename")
        if not filename:
            raise ValueError("TemplateSpatialModel.from_dict: missing 'filename'")
        fname = make_path(filename)
        if not fname.is_absolute() and path is not None and not fname.exists():
            fname = make_path(path) / fname
        m = Map.read(fname)
        unit = inner.get("unit")
        if unit and m.unit == u.dimensionless_unscaled:
            m = m.copy(unit=unit)
        return cls(m, normalize=bool(inner.get("normalize", True)), filename=filename, **kwargs)
