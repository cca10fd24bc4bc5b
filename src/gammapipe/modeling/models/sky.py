"""Source and background models of datasets: `SkyModel`, `FoVBackgroundModel`,
`TemplateNPredModel`."""

from __future__ import annotations

import copy as _copy
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from ...utils.fits import make_path
from ._sky_base import (
    _COMPONENTS,
    _check_component,
    _component_from_dict,
    _CompositeModel,
    _is_norm_spectral_model,
    _names_list,
    make_name,
)
from .core import get_model_class

__all__ = ["SkyModel", "FoVBackgroundModel", "TemplateNPredModel", "make_name"]


class SkyModel(_CompositeModel):
    """Source model: spectral x spatial x temporal components (dnde per sr).

    Parameters
    ----------
    spectral_model : `~gammapipe.modeling.models.SpectralModel`
        Spectrum (dnde; e.g. in cm-2 s-1 TeV-1).
    spatial_model : `~gammapipe.modeling.models.SpatialModel`, optional
        Morphology (sr-1); None for 1D spectral analyses.
    temporal_model : `~gammapipe.modeling.models.TemporalModel`, optional
        Light curve.
    name : str, optional
        Unique name (default: random 8-character name).
    apply_irf : dict, optional
        Which IRFs to apply: keys "exposure", "psf", "edisp" (default all True).
    datasets_names : list of str, optional
        Datasets the model applies to (None: all).
    covariance_data : array-like, optional
        Covariance of the parameters.
    """

    tag = ("SkyModel", "sky-model")
    _apply_irf_default = {"exposure": True, "psf": True, "edisp": True}

    def __init__(
        self,
        spectral_model,
        spatial_model=None,
        temporal_model=None,
        name: str | None = None,
        apply_irf: dict | None = None,
        datasets_names: list[str] | None = None,
        covariance_data=None,
    ) -> None:
        self.spectral_model = spectral_model
        self.spatial_model = spatial_model
        self.temporal_model = temporal_model
        self._name = make_name(name)
        apply = dict(self._apply_irf_default)
        if apply_irf is not None:
            unknown = set(apply_irf) - set(apply)
            if unknown:
                raise ValueError(
                    f"argument 'apply_irf': unknown key(s) {sorted(unknown)}; use {list(apply)}"
                )
            apply.update(apply_irf)
        self.apply_irf = apply
        self.datasets_names = _names_list(datasets_names)
        self._init_composite(covariance_data)

    # -- components ---------------------------------------------------------------------
    @property
    def spatial_model(self):
        """Spatial component (or None)."""
        return self._spatial_model

    @spatial_model.setter
    def spatial_model(self, model) -> None:
        self._spatial_model = _check_component(model, "spatial", optional=True)
        self.__dict__["_covariance"] = None

    @property
    def temporal_model(self):
        """Temporal component (or None)."""
        return self._temporal_model

    @temporal_model.setter
    def temporal_model(self, model) -> None:
        self._temporal_model = _check_component(model, "temporal", optional=True)
        self.__dict__["_covariance"] = None

    # -- spatial shortcuts ------------------------------------------------------------
    @property
    def position(self):
        """Position of the spatial model (None without one)."""
        return None if self.spatial_model is None else self.spatial_model.position

    @position.setter
    def position(self, skycoord) -> None:
        if self.spatial_model is None:
            raise ValueError(f"SkyModel {self.name!r}: no spatial model to move")
        self.spatial_model.position = skycoord

    @property
    def position_lonlat(self):
        """``(lon, lat)`` of the spatial model in radians (None without one)."""
        return None if self.spatial_model is None else self.spatial_model.position_lonlat

    @property
    def evaluation_radius(self):
        """Evaluation radius of the spatial model (None without one)."""
        return None if self.spatial_model is None else self.spatial_model.evaluation_radius

    @property
    def evaluation_region(self):
        """Evaluation region of the spatial model (None without one)."""
        return None if self.spatial_model is None else self.spatial_model.evaluation_region

    @property
    def frame(self) -> str | None:
        """Frame of the spatial model (None without one)."""
        return None if self.spatial_model is None else self.spatial_model.frame

    def contributes(self, mask, margin="0 deg") -> bool:
        """Whether the model can contribute inside the True pixels of ``mask``.

        True if any True pixel (any along non-spatial axes) lies within
        `evaluation_radius` + ``margin`` + one pixel of the position; always True
        without a spatial model or an evaluation radius.
        """
        from gammapipe.utils.coordinates import angular_separation, transform_lonlat

        if mask is None or self.spatial_model is None or self.evaluation_radius is None:
            return True
        data = np.asarray(mask.data, dtype=bool)
        if data.ndim > 2:
            data = data.reshape((-1,) + data.shape[-2:]).any(axis=0)
        image = mask.geom.to_image()
        coords = image.get_coord()
        lon = np.deg2rad(np.asarray(getattr(coords.lon, "value", coords.lon), dtype=float))
        lat = np.deg2rad(np.asarray(getattr(coords.lat, "value", coords.lat), dtype=float))
        pos = self.position
        plon, plat = transform_lonlat(
            pos.spherical.lon.deg, pos.spherical.lat.deg, self.frame, image.frame
        )
        sep = np.rad2deg(angular_separation(lon, lat, np.deg2rad(plon), np.deg2rad(plat)))
        pix = float(np.max(u.Quantity(image.pixel_scales, "deg").to_value("deg")))
        limit = (u.Quantity(self.evaluation_radius, "deg") + u.Quantity(margin)).to_value(
            "deg"
        ) + pix
        return bool(np.any(data.reshape(sep.shape) & (sep <= limit)))

    # -- evaluation -------------------------------------------------------------------
    def __call__(self, lon, lat, energy, time=None) -> u.Quantity:
        return self.evaluate(lon, lat, energy, time)

    def evaluate(self, lon, lat, energy, time=None) -> u.Quantity:
        """Differential surface brightness dN/dE/dOmega at (lon, lat, energy[, time])."""
        value = self.spectral_model(energy)
        if self.spatial_model is not None:
            if self.spatial_model.is_energy_dependent:
                spatial = self.spatial_model(lon, lat, energy)
            else:
                spatial = self.spatial_model(lon, lat)
            value = value * spatial
        if self.temporal_model is not None and time is not None:
            value = value * self.temporal_model(time)
        return value

    @staticmethod
    def _energy_shape(geom) -> list[int]:
        shape = [1] * len(tuple(geom.data_shape))
        try:
            idx = geom.axes.index_data("energy_true")
        except (AttributeError, KeyError, ValueError):
            idx = len(shape) - 1 - 2 - geom.axes.names.index("energy_true")
        shape[idx] = -1
        return shape

    def _temporal_factor(self, gti):
        if self.temporal_model is None or gti is None:
            return 1.0
        return np.sum(self.temporal_model.integral(gti.time_start, gti.time_stop))

    def evaluate_geom(self, geom, gti=None) -> u.Quantity:
        """dN/dE/dOmega at the pixel centres and ``energy_true`` bin centres of ``geom``."""
        energy = geom.axes["energy_true"].center.reshape(self._energy_shape(geom))
        value = self.spectral_model(energy)
        if self.spatial_model is not None:
            value = value * self.spatial_model.evaluate_geom(geom)
        value = value * self._temporal_factor(gti)
        return np.broadcast_to(value, tuple(geom.data_shape), subok=True)

    def integrate_geom(self, geom, gti=None, oversampling_factor: int | None = None):
        """Flux per pixel and ``energy_true`` bin (e.g. cm-2 s-1) as a Map on ``geom``.

        Spectral integral over each energy bin times the spatial integral over each pixel
        (see `SpatialModel.integrate_geom`), times the mean of the temporal model over the
        GTIs if both are given.
        """
        from ...maps import Map

        edges = geom.axes["energy_true"].edges
        shape = self._energy_shape(geom)
        flux = u.Quantity(self.spectral_model.integral(edges[:-1], edges[1:]))
        data = np.asarray(flux.value, dtype=float).reshape(shape)
        if self.spatial_model is not None:
            cache = self.__dict__.get("_image_geom_cache")
            if cache is None or cache[0] is not geom:
                cache = (geom, geom.to_image())
                self.__dict__["_image_geom_cache"] = cache
            image = cache[1]
            if self.spatial_model.is_energy_dependent:
                image = image.to_cube([geom.axes["energy_true"]])
            spatial = self.spatial_model.integrate_geom(image, oversampling_factor)
            data = data * u.Quantity(spatial.quantity).to_value(u.one)
        factor = self._temporal_factor(gti)
        if factor != 1.0:
            data = data * float(u.Quantity(factor).to_value(u.one))
        full_shape = tuple(geom.data_shape)
        if data.shape != full_shape:
            data = np.array(np.broadcast_to(data, full_shape), dtype=float)
        return Map.from_geom(geom=geom, data=data, unit=flux.unit)

    # -- copies, I/O ------------------------------------------------------------------
    def copy(self, name: str | None = None, copy_data: bool = False, **kwargs: Any) -> SkyModel:
        """Copy with new parameter objects; ``name`` (default: random) and other
        constructor arguments may be replaced."""
        replaced = any(f"{key}_model" in kwargs for key in _COMPONENTS)
        kwargs.setdefault("apply_irf", dict(self.apply_irf))
        kwargs.setdefault("datasets_names", _copy.copy(self.datasets_names))
        if not replaced:
            kwargs.setdefault("covariance_data", self.covariance.data.copy())
        for key in _COMPONENTS:
            attr = f"{key}_model"
            if attr not in kwargs and getattr(self, attr) is not None:
                kwargs[attr] = getattr(self, attr).copy()
        return self.__class__(name=make_name(name), **kwargs)

    def reassign(self, datasets_names, new_datasets_names) -> SkyModel:
        """Copy (same name) with ``datasets_names`` entries replaced."""
        model = super().reassign(datasets_names, new_datasets_names)
        model._name = self.name
        return model

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Dictionary in the YAML layout: name, type, [apply_irf], [datasets_names],
        spectral, [spatial], [temporal]."""
        data: dict[str, Any] = {"name": self.name, "type": self.tag[0]}
        if self.apply_irf != self._apply_irf_default:
            data["apply_irf"] = dict(self.apply_irf)
        if self.datasets_names is not None:
            data["datasets_names"] = list(self.datasets_names)
        for model in self._models:
            data.update(model.to_dict(full_output))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None, **kwargs: Any):
        """Create from a dictionary as written by `to_dict`."""
        if "spectral" not in data:
            raise ValueError(f"SkyModel {data.get('name')!r}: missing 'spectral' entry")
        spatial_kwargs = {}
        spatial = data.get("spatial")
        if spatial is not None and spatial.get("type") in ("TemplateSpatialModel", "template"):
            spatial_kwargs["path"] = path
        return cls(
            spectral_model=_component_from_dict(data["spectral"], "spectral"),
            spatial_model=_component_from_dict(spatial, "spatial", **spatial_kwargs),
            temporal_model=_component_from_dict(data.get("temporal"), "temporal"),
            name=data.get("name"),
            apply_irf=data.get("apply_irf"),
            datasets_names=data.get("datasets_names"),
            **kwargs,
        )


class FoVBackgroundModel(_CompositeModel):
    """Background model of one dataset: its background map times a norm spectral model.

    ``npred_background = background x spectral_model(energy bin centres) [x spatial]``.

    Parameters
    ----------
    spectral_model : norm spectral model, optional
        Default `PowerLawNormSpectralModel` (norm 1, tilt 0 frozen, reference 1 TeV).
    dataset_name : str
        Name of the dataset (the model is called ``f"{dataset_name}-bkg"``); required.
        Given as the only positional argument it is recognised as the dataset name.
    spatial_model : spatial model, optional
        Multiplicative spatial correction (evaluated per pixel, dimensionless).
    covariance_data : array-like, optional
        Covariance of the parameters.
    """

    tag = ("FoVBackgroundModel", "fov-bkg")
    _components = ("spectral", "spatial")

    def __init__(self, spectral_model=None, dataset_name: str | None = None,
                 spatial_model=None, covariance_data=None) -> None:
        if isinstance(spectral_model, str) and not isinstance(dataset_name, str):
            # FoVBackgroundModel("name") or FoVBackgroundModel("name", spectral_model)
            spectral_model, dataset_name = dataset_name, spectral_model
        if not dataset_name or not isinstance(dataset_name, str):
            raise ValueError(
                f"FoVBackgroundModel: argument 'dataset_name' is required, got {dataset_name!r}"
            )
        if spectral_model is None:
            spectral_model = get_model_class("PowerLawNormSpectralModel", "spectral")()
        _check_component(spectral_model, "spectral", optional=False)
        if not _is_norm_spectral_model(spectral_model):
            raise ValueError(
                "FoVBackgroundModel: the spectral model must be a norm model "
                f"(e.g. PowerLawNormSpectralModel), got {type(spectral_model).__name__}"
            )
        self._spectral_model = spectral_model
        self._spatial_model = _check_component(spatial_model, "spatial", optional=True)
        self.datasets_names = [dataset_name]
        self._init_composite(covariance_data)

    @property
    def name(self) -> str:
        """``f"{dataset_name}-bkg"``."""
        return f"{self.datasets_names[0]}-bkg"

    @property
    def spatial_model(self):
        """Spatial correction (or None)."""
        return self._spatial_model

    @spatial_model.setter
    def spatial_model(self, model) -> None:
        self._spatial_model = _check_component(model, "spatial", optional=True)
        self.__dict__["_covariance"] = None

    @property
    def temporal_model(self) -> None:
        """None (background models have no temporal component)."""
        return None

    def evaluate(self, lon, lat, energy) -> np.ndarray:
        """Background scaling factor at (lon, lat, energy)."""
        value = np.asarray(u.Quantity(self.spectral_model(energy)).to_value(u.one))
        if self.spatial_model is not None:
            value = value * self.spatial_model(lon, lat).value
        return value

    def evaluate_geom(self, geom) -> np.ndarray:
        """Scaling factor of the background map on ``geom`` (reco ``energy`` axis).

        The norm spectral model is evaluated at the energy bin centres; the result has
        shape ``(n_energy, 1, 1)`` (or the full map shape with a spatial model).
        """
        energy = geom.axes["energy"].center
        shape = [1] * len(tuple(geom.data_shape))
        try:
            shape[geom.axes.index_data("energy")] = -1
        except (AttributeError, KeyError, ValueError):
            shape[len(shape) - 3 - geom.axes.names.index("energy")] = -1
        value = u.Quantity(self.spectral_model(energy.reshape(shape))).to_value(u.one)
        if self.spatial_model is not None:
            value = value * self.spatial_model.evaluate_geom(geom.to_image()).value
        return np.asarray(value)

    def reset_to_default(self) -> None:
        """Reset the spectral (and spatial) parameter values and frozen flags to defaults."""
        for model in self._models:
            for par in model.parameters:
                default = model._default_for(par.name)
                if default is not None:
                    par.value = default.value
                    par.frozen = default.frozen
                    par.error = 0.0

    def copy(self, name: str | None = None, **kwargs: Any) -> FoVBackgroundModel:
        """Copy with new parameter objects (``name`` is ignored: it follows the dataset)."""
        kwargs.setdefault("dataset_name", self.datasets_names[0])
        kwargs.setdefault("spectral_model", self.spectral_model.copy())
        if self.spatial_model is not None:
            kwargs.setdefault("spatial_model", self.spatial_model.copy())
        kwargs.setdefault("covariance_data", self.covariance.data.copy())
        return self.__class__(**kwargs)

    def reassign(self, datasets_names, new_datasets_names) -> FoVBackgroundModel:
        """Copy bound to the new dataset name if its dataset is renamed."""
        old = [datasets_names] if isinstance(datasets_names, str) else list(datasets_names)
        new = [new_datasets_names] if isinstance(new_datasets_names, str) else list(
            new_datasets_names
        )
        mapping = dict(zip(old, new, strict=True))
        return self.copy(dataset_name=mapping.get(self.datasets_names[0], self.datasets_names[0]))

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """``{"type": "FoVBackgroundModel", "datasets_names": [...], "spectral": ...}``."""
        data: dict[str, Any] = {"type": self.tag[0], "datasets_names": list(self.datasets_names)}
        for model in self._models:
            data.update(model.to_dict(full_output))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> FoVBackgroundModel:
        """Create from a dictionary as written by `to_dict`."""
        names = _names_list(data.get("datasets_names"))
        if not names:
            raise ValueError("FoVBackgroundModel entry needs 'datasets_names' with one name")
        return cls(
            dataset_name=names[0],
            spectral_model=_component_from_dict(data.get("spectral"), "spectral"),
            spatial_model=_component_from_dict(data.get("spatial"), "spatial"),
        )



class TemplateNPredModel(_CompositeModel):
    """Predicted-counts template (e.g. a background cube) scaled by a norm spectral model.

    ``evaluate() = map x spectral_model(energy bin centres) [x spatial]``.

    Parameters
    ----------
    map : `~gammapipe.maps.Map`
        Template of predicted counts with a reco ``energy`` axis.
    spectral_model : norm spectral model, optional
        Default `PowerLawNormSpectralModel`.
    name : str, optional
        Model name (default random).
    filename : str, optional
        File of the map (for YAML serialisation).
    datasets_names : list of str, optional
        Datasets the model applies to.
    spatial_model : spatial model, optional
        Multiplicative spatial correction.
    copy_data : bool
        Copy the map.
    """

    tag = ("TemplateNPredModel", "template-npred")
    _components = ("spectral", "spatial")

    def __init__(self, map, spectral_model=None, name: str | None = None,  # noqa: A002
                 filename: str | None = None, datasets_names=None, spatial_model=None,
                 copy_data: bool = True, covariance_data=None) -> None:
        if spectral_model is None:
            spectral_model = get_model_class("PowerLawNormSpectralModel", "spectral")()
        self._spectral_model = _check_component(spectral_model, "spectral", optional=False)
        self._spatial_model = _check_component(spatial_model, "spatial", optional=True)
        self.map = map.copy() if copy_data else map
        self._name = make_name(name)
        self.filename = None if filename is None else str(filename)
        self.datasets_names = _names_list(datasets_names)
        self._init_composite(covariance_data)

    @property
    def spatial_model(self):
        """Spatial correction (or None)."""
        return self._spatial_model

    @property
    def temporal_model(self) -> None:
        """None."""
        return None

    @property
    def energy_center(self) -> u.Quantity:
        """Centres of the reco energy bins of the map, shaped to broadcast (n, 1, 1)."""
        return self.map.geom.axes["energy"].center.reshape((-1, 1, 1))

    def evaluate(self):
        """Scaled template as a Map (same geometry and unit as `map`)."""
        value = u.Quantity(self.spectral_model(self.energy_center)).to_value(u.one)
        if self.spatial_model is not None:
            value = value * self.spatial_model.evaluate_geom(self.map.geom.to_image()).value
        return self.map.copy(data=np.asarray(self.map.data, dtype=float) * value)

    def cutout(self, position, width, mode: str = "trim", name: str | None = None):
        """Model on a cutout of the template (parameters copied, new name)."""
        return self.copy(name=name, map=self.map.cutout(position=position, width=width,
                                                        mode=mode), copy_data=False)

    def stack(self, other: TemplateNPredModel, weights=None, nan_to_num: bool = True) -> None:
        """Add the scaled template of ``other`` into this one (in place).

        Both templates are evaluated with their current spectral (and spatial) scaling;
        the sum becomes the new template and the scaling parameters are reset to their
        defaults (norm 1, tilt 0).
        """
        own = self.evaluate()
        if nan_to_num:
            own.data[~np.isfinite(own.data)] = 0
        own.stack(other.evaluate(), weights=weights)
        self.map = own
        for model in self._models:
            for par in model.parameters:
                default = model._default_for(par.name)
                if default is not None:
                    par.value = default.value

    def copy(self, name: str | None = None, copy_data: bool = False, **kwargs: Any):
        """Copy with new parameter objects and a new name."""
        kwargs.setdefault("map", self.map)
        kwargs.setdefault("spectral_model", self.spectral_model.copy())
        if self.spatial_model is not None:
            kwargs.setdefault("spatial_model", self.spatial_model.copy())
        kwargs.setdefault("filename", self.filename)
        kwargs.setdefault("datasets_names", _copy.copy(self.datasets_names))
        return self.__class__(name=make_name(name), copy_data=copy_data, **kwargs)

    def write(self, overwrite: bool = False, filename=None) -> None:
        """Write the template map to ``filename`` (default: `filename` attribute)."""
        if filename is not None:
            self.filename = str(filename)
        if self.filename is None:
            raise ValueError(f"TemplateNPredModel {self.name!r}: no filename to write to")
        self.map.write(make_path(self.filename), overwrite=overwrite)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """``{"name", "type", ["datasets_names"], "filename", "spectral", ...}``."""
        data: dict[str, Any] = {"name": self.name, "type": self.tag[0]}
        if self.datasets_names is not None:
            data["datasets_names"] = list(self.datasets_names)
        data["filename"] = self.filename
        for model in self._models:
            data.update(model.to_dict(full_output))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None, **kwargs: Any):
        """Create from a dict (the map is read from ``filename``, relative to ``path``)."""
        from ...maps import Map

        filename = data.get("filename")
        if not filename:
            raise ValueError(f"TemplateNPredModel {data.get('name')!r}: missing 'filename'")
        fname = make_path(filename)
        if not fname.is_absolute() and path is not None and not fname.exists():
            fname = make_path(path) / fname
        return cls(
            map=Map.read(fname),
            spectral_model=_component_from_dict(data.get("spectral"), "spectral"),
            spatial_model=_component_from_dict(data.get("spatial"), "spatial"),
            name=data.get("name"),
            filename=filename,
            datasets_names=data.get("datasets_names"),
            copy_data=False,
        )

