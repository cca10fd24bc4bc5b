"""Shared helpers of the dataset-level models in `sky` (component checks, composite base)."""

from __future__ import annotations

import uuid
from typing import Any

from ..covariance import Covariance
from ..parameter import Parameters
from .core import ModelBase, get_model_class

__all__ = ["make_name"]

_COMPONENTS = ("spectral", "spatial", "temporal")


def make_name(name: str | None = None) -> str:
    """``name`` if given, else a random 8-character hexadecimal name."""
    if name is None:
        return uuid.uuid4().hex[:8]
    if not isinstance(name, str) or not name:
        raise ValueError(f"argument 'name': expected a non-empty string, got {name!r}")
    return name


def _names_list(datasets_names) -> list[str] | None:
    if datasets_names is None:
        return None
    if isinstance(datasets_names, str):
        return [datasets_names]
    return [str(n) for n in datasets_names]


def _check_component(model, kind: str, optional: bool):
    if model is None:
        if optional:
            return None
        raise ValueError(f"argument '{kind}_model' is required")
    if getattr(model, "type", None) != kind:
        raise TypeError(
            f"argument '{kind}_model': expected a {kind} model, got "
            f"{type(model).__name__} (type {getattr(model, 'type', None)!r})"
        )
    return model


def _component_from_dict(data: dict | None, kind: str, **kwargs: Any):
    if data is None:
        return None
    if "type" not in data:
        raise ValueError(f"{kind} model entry without 'type': {sorted(data)}")
    cls = get_model_class(data["type"], kind)
    return cls.from_dict({kind: data}, **kwargs)


def _is_norm_spectral_model(model) -> bool:
    """Norm models are dimensionless multiplicative spectra (``*NormSpectralModel``)."""
    return "Norm" in type(model).__name__


def _stacked_parameters(*models) -> Parameters:
    pars = []
    for model in models:
        if model is not None:
            pars.extend(model.parameters._parameters)
    return Parameters(pars)


class _CompositeModel(ModelBase):
    """Shared behaviour of models made of spectral/spatial/temporal components."""

    _components: tuple[str, ...] = _COMPONENTS

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_image_geom_cache", None)
        return state

    def _init_composite(self, covariance_data) -> None:
        self.__dict__["_covariance"] = None
        if covariance_data is not None:
            self.covariance = covariance_data

    @property
    def name(self) -> str:
        """Model name."""
        return self._name

    @property
    def spectral_model(self):
        """Spectral component (a norm model for background models)."""
        return self._spectral_model

    @spectral_model.setter
    def spectral_model(self, model) -> None:
        self._spectral_model = _check_component(model, "spectral", optional=False)
        self.__dict__["_covariance"] = None

    @property
    def _models(self) -> list:
        return [
            getattr(self, f"{kind}_model")
            for kind in self._components
            if getattr(self, f"{kind}_model", None) is not None
        ]

    @property
    def parameters(self) -> Parameters:
        """Parameters of the components (the same objects), spectral first."""
        return _stacked_parameters(*self._models)

    @property
    def covariance(self) -> Covariance:
        """Covariance of all parameters (cross terms between components kept)."""
        return ModelBase.covariance.fget(self)

    @covariance.setter
    def covariance(self, covariance) -> None:
        ModelBase.covariance.fset(self, covariance)
        cov = self.__dict__["_covariance"]
        for model in self._models:
            model.covariance = cov.get_subcovariance(model.parameters)

    def freeze(self, model_type: str | None = None) -> None:
        """Freeze all parameters, or those of one component ("spectral", "spatial", ...)."""
        for model in self._select_components(model_type):
            model.freeze()

    def unfreeze(self, model_type: str | None = None) -> None:
        """Restore the default frozen status (all components or one)."""
        for model in self._select_components(model_type):
            model.unfreeze()

    def _select_components(self, model_type: str | None) -> list:
        if model_type is None:
            return self._models
        if model_type not in self._components:
            raise ValueError(
                f"argument 'model_type': {model_type!r} not in {list(self._components)}"
            )
        model = getattr(self, f"{model_type}_model")
        return [] if model is None else [model]

    def __add__(self, other):
        from .collections import Models

        if isinstance(other, ModelBase):
            return Models([self, other])
        try:
            return Models([self, *other])
        except TypeError:
            return NotImplemented

    def __radd__(self, other):
        from .collections import Models

        if isinstance(other, ModelBase):
            return Models([other, self])
        return Models([*other, self])

    def __str__(self) -> str:
        def kind(model):
            return "" if model is None else type(model).__name__

        lines = [
            f"{self.__class__.__name__}\n",
            f"  Name                      : {self.name}",
            f"  Datasets names            : {self.datasets_names}",
        ]
        for key in self._components:
            label = f"{key.capitalize():<8s} model type"
            lines.append(f"  {label:<26s}: {kind(getattr(self, f'{key}_model'))}")
        lines += ["  Parameters:", self._parameters_str()]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(name={self.name!r})"

    def _parameters_str(self) -> str:
        lines = []
        for par in self.parameters:
            frozen = "(frozen)" if par.frozen else ""
            unit = par.unit.to_string()
            err = "" if par.frozen or par.error == 0 else f"+/- {par.error:8.2g}"
            lines.append(
                f"    {par.name:<26s}{frozen:>10s}:  {par.value:12.4g} {err:>14s} {unit}"
            )
        return "\n".join(lines)
