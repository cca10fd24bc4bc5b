"""Model base class and the registry of model types (YAML tags).

Subclasses declare their parameters once, as class attributes::

    class PowerLawSpectralModel(SpectralModel):
        tag = ("PowerLawSpectralModel", "pl")
        index = Parameter("index", 2.0)
        amplitude = Parameter("amplitude", "1e-12 cm-2 s-1 TeV-1")

(or as a ``_parameter_defaults`` list). Each instance gets copies of these defaults, so
``model.index`` is the instance's own `Parameter` and ``model.parameters`` is a plain
`Parameters` attribute holding the same objects. Passing a `Parameter` object as keyword
argument shares it (linking); passing a number, a Quantity or a string such as ``"2 TeV"``
sets the value of a fresh copy. Assigning ``model.index = other.index`` links after
construction; assigning a number or Quantity sets the value.

Registry: every subclass that defines ``tag`` in its own body is entered in
``MODEL_REGISTRY[model_type][tag]`` for each of its tags (``model_type`` is the class
attribute ``type``: "spectral", "spatial", "temporal", or "model" for types without one,
e.g. sky models). Short tags ("gauss", "const") are shared between model types, which is
why the registry is keyed by type first. Use `get_model_class` to look a tag up.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from ...utils.errors import UnitError
from ..covariance import Covariance
from ..parameter import Parameter, Parameters

__all__ = ["MODEL_REGISTRY", "ModelBase", "get_model_class", "set_parameter_input"]

MODEL_REGISTRY: dict[str, dict[str, type[ModelBase]]] = {}
"""Model classes by model type ("spectral", "spatial", "temporal", "model") and tag."""

# keys whose default value is dropped from ``to_dict(full_output=False)``
_OPTIONAL_KEYS = ("min", "max", "error", "interp", "scale_method", "is_norm")


# modules defining registered models (imported before a registry look-up)
_MODEL_MODULES = ("spectral", "spectral_compound", "spectral_ebl", "temporal", "spatial", "sky")


def _load_model_modules() -> None:
    import importlib

    for name in _MODEL_MODULES:
        module = f"{__package__}.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                warnings.warn(f"model module {module} cannot be imported: {exc}")
        except ImportError as exc:
            warnings.warn(f"model module {module} cannot be imported: {exc}")


def get_model_class(tag: str, model_type: str | None = None) -> type[ModelBase]:
    """Model class registered under ``tag``.

    Parameters
    ----------
    tag : str
        Model tag (class name or short tag, e.g. ``"pl"``).
    model_type : str, optional
        "spectral", "spatial", "temporal" or "model"; required when the tag is ambiguous.

    Raises
    ------
    KeyError
        Unknown tag (the message lists the known tags) or ambiguous tag.
    """
    _load_model_modules()
    if model_type is not None:
        registry = MODEL_REGISTRY.get(model_type, {})
        if tag in registry:
            return registry[tag]
        raise KeyError(
            f"Unknown {model_type} model tag {tag!r}; known tags: {sorted(registry)}"
        )
    matches = {mtype: reg[tag] for mtype, reg in MODEL_REGISTRY.items() if tag in reg}
    if len(matches) == 1:
        return next(iter(matches.values()))
    if not matches:
        known = sorted({t for reg in MODEL_REGISTRY.values() for t in reg})
        raise KeyError(f"Unknown model tag {tag!r}; known tags: {known}")
    raise KeyError(
        f"Model tag {tag!r} is ambiguous between model types {sorted(matches)}; "
        "give model_type"
    )


def set_parameter_input(par: Parameter, value: Any) -> None:
    """Set a parameter from user input: number (in the parameter unit), Quantity or string."""
    if isinstance(value, str):
        try:
            value = u.Quantity(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Parameter {par.name!r}: cannot parse {value!r}") from exc
    if isinstance(value, u.Quantity):
        if value.size != 1:
            raise ValueError(f"Parameter {par.name!r}: expected a scalar, got {value!r}")
        if value.unit.is_equivalent(par.unit):
            par.quantity = value.reshape(())
        elif value.unit == u.dimensionless_unscaled:
            par.value = float(value.value)
        else:
            raise UnitError(
                f"Parameter {par.name!r}: unit {value.unit} is not convertible to {par.unit}"
            )
        return
    try:
        par.value = float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Parameter {par.name!r}: cannot use {value!r} as value") from exc


def _collect_class_parameters(cls: type) -> Parameters:
    found: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for par in klass.__dict__.get("_parameter_defaults", ()) or ():
            found[par.name] = par
        for key, val in klass.__dict__.items():
            if isinstance(val, Parameter):
                found[key] = val
    return Parameters(list(found.values()))


class ModelBase:
    """Base class of all models (spectral, spatial, temporal, sky)."""

    tag: ClassVar[tuple[str, ...]] = ()
    type: ClassVar[str | None] = None
    default_parameters: ClassVar[Parameters] = Parameters([])

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.default_parameters = _collect_class_parameters(cls)
        if "tag" in cls.__dict__ and cls.__dict__["tag"]:
            tags = cls.__dict__["tag"]
            tags = (tags,) if isinstance(tags, str) else tuple(tags)
            cls.tag = tags
            registry = MODEL_REGISTRY.setdefault(cls.type or "model", {})
            for tag in tags:
                old = registry.get(tag)
                if old is not None and old.__qualname__ != cls.__qualname__:
                    warnings.warn(
                        f"Model tag {tag!r} ({cls.type or 'model'}) re-registered: "
                        f"{old.__module__}.{old.__qualname__} -> "
                        f"{cls.__module__}.{cls.__qualname__}"
                    )
                registry[tag] = cls

    def __init__(self, covariance_data: np.ndarray | None = None, **kwargs: Any) -> None:
        params = self._init_parameters(kwargs)
        if kwargs:
            raise TypeError(
                f"{self.__class__.__name__}: unexpected argument(s) {sorted(kwargs)}; "
                f"parameters are {self.default_parameters.names}"
            )
        object.__setattr__(self, "parameters", Parameters(params))
        self._covariance: Covariance | None = None
        if covariance_data is not None:
            self.covariance = covariance_data

    def _init_parameters(self, kwargs: dict[str, Any]) -> list[Parameter]:
        """Per-instance parameters from the class defaults and ``kwargs`` (consumed)."""
        params = []
        attrs = {}
        for default in self.default_parameters:
            value = kwargs.pop(default.name, None)
            if isinstance(value, Parameter):
                par = value
            else:
                par = default.copy()
                if value is not None:
                    set_parameter_input(par, value)
            if par.type is None:
                par.type = self.type
            attrs[default.name] = len(params)
            params.append(par)
            object.__setattr__(self, default.name, par)
        object.__setattr__(self, "_parameter_attrs", attrs)
        return params

    def __setattr__(self, name: str, value: Any) -> None:
        attrs = self.__dict__.get("_parameter_attrs")
        if attrs is not None and name in attrs:
            if isinstance(value, Parameter):
                self.parameters._parameters[attrs[name]] = value
                object.__setattr__(self, name, value)
                self.__dict__["_covariance"] = None
            else:
                set_parameter_input(self.__dict__[name], value)
            return
        object.__setattr__(self, name, value)

    # -- construction from parameters / dicts -------------------------------------------
    @classmethod
    def from_parameters(cls, parameters: Parameters | list[Parameter], **kwargs: Any):
        """Create a model sharing the given Parameter objects (matched by name)."""
        pars = {p.name: p for p in parameters}
        return cls(**pars, **kwargs)

    @classmethod
    def _parameters_from_dict(cls, data: list[dict[str, Any]]) -> Parameters:
        by_name = {}
        for item in data or []:
            if "name" not in item:
                raise ValueError(f"{cls.__name__}: parameter entry without 'name': {item!r}")
            by_name[item["name"]] = item
        unknown = set(by_name) - set(cls.default_parameters.names)
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown parameter(s) {sorted(unknown)}; "
                f"expected {cls.default_parameters.names}"
            )
        params = []
        for default in cls.default_parameters:
            par = default.copy()
            if default.name in by_name:
                par.update_from_dict(by_name[default.name])
            par.type = cls.type
            params.append(par)
        return Parameters(params)

    @classmethod
    def _unwrap_dict(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "type" not in data and len(data) == 1:
            key = next(iter(data))
            if key in ("spectral", "spatial", "temporal"):
                return data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any):
        """Create a model from a dictionary in the YAML layout.

        Accepts ``{"type": tag, "parameters": [...], ...}`` or the same wrapped in
        ``{"spectral": {...}}`` (``"spatial"``, ``"temporal"``). Called on a base class
        without tag, the class is looked up in the registry from ``type``.
        """
        data = cls._unwrap_dict(dict(data))
        tag = data.get("type")
        if not cls.tag:
            if tag is None:
                raise ValueError(f"{cls.__name__}.from_dict: missing 'type' in {sorted(data)}")
            model_type = cls.type
            return get_model_class(tag, model_type).from_dict(data, **kwargs)
        if tag is not None and tag not in cls.tag:
            raise ValueError(f"{cls.__name__}.from_dict: type {tag!r} is not one of {cls.tag}")
        parameters = cls._parameters_from_dict(data.get("parameters", []))
        return cls.from_parameters(parameters, **kwargs)

    def _default_for(self, name: str) -> Parameter | None:
        defaults = self.default_parameters
        return defaults[name] if name in defaults else None

    def _parameters_to_dict(self, full_output: bool) -> list[dict[str, Any]]:
        params = self.parameters.to_dict()
        if full_output:
            return params
        for par_dict in params:
            default = self._default_for(par_dict["name"])
            init = default.to_dict() if default is not None else Parameter(
                par_dict["name"], 0.0, unit=par_dict["unit"]
            ).to_dict()
            for key in _OPTIONAL_KEYS:
                val, ref = par_dict[key], init[key]
                same = val == ref or (
                    isinstance(val, float) and isinstance(ref, float)
                    and np.isnan(val) and np.isnan(ref)
                )
                if same:
                    del par_dict[key]
            if par_dict["frozen"] == init["frozen"]:
                del par_dict["frozen"]
            if par_dict["unit"] == "" and init["unit"] == "":
                del par_dict["unit"]
        return params

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Dictionary in the YAML layout.

        Returns ``{"type": tag, "parameters": [...]}``, wrapped as ``{self.type: {...}}``
        for typed models (spectral/spatial/temporal). Without ``full_output`` the
        parameter keys equal to the class defaults are left out (``min``/``max`` only when
        set, ``frozen`` only when not the default, ``unit`` only when not dimensionless).
        """
        data = {"type": self.tag[0], "parameters": self._parameters_to_dict(full_output)}
        if self.type is None:
            return data
        return {self.type: data}

    # -- covariance ---------------------------------------------------------------------
    @property
    def covariance(self) -> Covariance:
        """`Covariance` of the model parameters; its diagonal follows the parameter errors."""
        cov = self.__dict__.get("_covariance")
        params = self.parameters
        if cov is None or len(cov.parameters) != len(params) or any(
            a is not b for a, b in zip(cov.parameters, params, strict=True)
        ):
            cov = Covariance(params)
            self.__dict__["_covariance"] = cov
            return cov
        diag = np.diag(cov.data)
        errors = params.errors
        changed = np.flatnonzero(np.sqrt(np.clip(diag, 0, None)) != errors)
        if changed.size:
            cov.data[changed, changed] = errors[changed] ** 2
        return cov

    @covariance.setter
    def covariance(self, covariance: Covariance | np.ndarray) -> None:
        data = covariance.data if isinstance(covariance, Covariance) else covariance
        cov = Covariance(self.parameters, data)
        self.__dict__["_covariance"] = cov
        diag = np.clip(np.diag(cov.data), 0, None)
        for par, var in zip(self.parameters, diag, strict=True):
            par.error = float(np.sqrt(var))

    # -- status helpers -----------------------------------------------------------------
    @property
    def frozen(self) -> bool:
        """True if every parameter is frozen."""
        return all(p.frozen for p in self.parameters)

    def freeze(self) -> None:
        """Freeze all parameters."""
        self.parameters.freeze_all()

    def unfreeze(self) -> None:
        """Restore the default frozen status of every parameter."""
        for par in self.parameters:
            default = self._default_for(par.name)
            par.frozen = default.frozen if default is not None else False

    def copy(self, **kwargs: Any):
        """Deep copy (parameters are new objects); ``kwargs`` set attributes of the copy."""
        new = copy.deepcopy(self)
        for key, value in kwargs.items():
            setattr(new, key, value)
        return new

    def reassign(self, datasets_names: str | list[str], new_datasets_names: str | list[str]):
        """Copy of the model with dataset names replaced (for models bound to datasets)."""
        model = self.copy()
        old = [datasets_names] if isinstance(datasets_names, str) else list(datasets_names)
        new = new_datasets_names
        new = [new] if isinstance(new, str) else list(new)
        if len(old) != len(new):
            raise ValueError("reassign: datasets_names and new_datasets_names differ in length")
        names = getattr(model, "datasets_names", None)
        if names:
            names = [names] if isinstance(names, str) else list(names)
            mapping = dict(zip(old, new, strict=True))
            model.datasets_names = [mapping.get(n, n) for n in names]
        return model

    def __str__(self) -> str:
        return f"{self.__class__.__name__}\n\n{self.parameters}"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({', '.join(self.parameters.names)})"
