"""Model collections: `DatasetModels` (read-only list) and `Models` (mutable)."""

from __future__ import annotations

import copy as _copy
import datetime
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from ...utils.fits import atomic_write, make_path
from ..covariance import Covariance
from ..parameter import Parameter, Parameters
from .core import ModelBase, get_model_class
from .io import (
    from_yaml,
    pop_and_verify_checksum,
    read_yaml,
    to_yaml,
    with_checksum,
    write_yaml,
)

__all__ = ["DatasetModels", "Models"]

_COMPONENT_KEYS = ("spectral", "spatial", "temporal")


def _creator() -> str:
    try:
        from importlib.metadata import version

        return f"gammapipe {version('gammapipe')}"
    except Exception:  # noqa: BLE001 - metadata is optional
        return "gammapipe"


def _components(model) -> list[tuple[str, Any]]:
    """(key, component model) pairs of a sky-type model (or the model itself)."""
    out = []
    for key in _COMPONENT_KEYS:
        comp = getattr(model, f"{key}_model", None)
        if comp is not None:
            out.append((key, comp))
    return out


def _param_dicts(model, model_dict: dict) -> Iterator[tuple[Any, Parameter, dict]]:
    """(component, Parameter, its dict entry) for every parameter of a model dict."""
    for key, comp in _components(model):
        entries = model_dict.get(key, {}).get("parameters", [])
        by_name = {entry["name"]: entry for entry in entries}
        for par in comp.parameters:
            if par.name in by_name:
                yield comp, par, by_name[par.name]


class DatasetModels:
    """Immutable list of models (sky models, background models) with unique names.

    Parameters
    ----------
    models : model, list of models or `DatasetModels`, optional
        Models; each needs a unique ``name``.
    covariance_data : array-like, optional
        Covariance of `parameters`.
    """

    def __init__(self, models=None, covariance_data=None) -> None:
        if models is None:
            models = []
        elif isinstance(models, DatasetModels):
            models = list(models._models)
        elif isinstance(models, ModelBase):
            models = [models]
        else:
            models = list(models)
        for model in models:
            if not isinstance(model, ModelBase) or not hasattr(model, "name"):
                raise TypeError(
                    f"{self.__class__.__name__}: expected sky or background models with a "
                    f"name, got {type(model).__name__}"
                )
        self._check_unique_names([m.name for m in models])
        self._models = list(models)
        self._covar_file: str | None = None
        if covariance_data is not None:
            self.covariance = covariance_data

    @staticmethod
    def _check_unique_names(names: list[str]) -> None:
        seen, dup = set(), []
        for name in names:
            if name in seen:
                dup.append(name)
            seen.add(name)
        if dup:
            raise ValueError(f"Model names must be unique; duplicated: {sorted(set(dup))}")

    # -- sequence protocol ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator:
        return iter(self._models)

    def __contains__(self, item) -> bool:
        if isinstance(item, str):
            return item in self.names
        return any(m is item for m in self._models)

    def index(self, key) -> int:
        """Position of a model given as name, position or object."""
        if isinstance(key, int | np.integer):
            if not -len(self) <= key < len(self):
                raise IndexError(f"model index {key} out of range ({len(self)} models)")
            return int(key) % len(self)
        if isinstance(key, str):
            for idx, model in enumerate(self._models):
                if model.name == key:
                    return idx
            raise KeyError(f"No model named {key!r}; available: {self.names}")
        for idx, model in enumerate(self._models):
            if model is key:
                return idx
        raise KeyError(f"Model {getattr(key, 'name', key)!r} is not in this list")

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.__class__(self._models[key])
        if isinstance(key, list | tuple | np.ndarray):
            arr = np.asarray(key)
            if arr.dtype == bool:
                if arr.size != len(self):
                    raise IndexError(f"mask of length {arr.size} for {len(self)} models")
                return self.__class__([m for m, keep in zip(self._models, arr, strict=True)
                                       if keep])
            return self.__class__([self._models[self.index(k)] for k in key])
        return self._models[self.index(key)]

    def __add__(self, other) -> Models:
        if isinstance(other, ModelBase):
            return Models([*self._models, other])
        if isinstance(other, DatasetModels | list | tuple):
            return Models([*self._models, *other])
        return NotImplemented

    def __radd__(self, other) -> Models:
        if isinstance(other, ModelBase):
            return Models([other, *self._models])
        return Models([*other, *self._models])

    # -- views --------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Model names."""
        return [m.name for m in self._models]

    @property
    def parameters(self) -> Parameters:
        """Unique parameters of all models (linked parameters appear once)."""
        pars: list[Parameter] = []
        for model in self._models:
            pars.extend(model.parameters)
        return Parameters(pars).unique_parameters

    @property
    def parameters_unique_names(self) -> list[str]:
        """``"model.type.name"`` for each of `parameters`."""
        names, seen = [], set()
        for model in self._models:
            for par in model.parameters:
                if id(par) in seen:
                    continue
                seen.add(id(par))
                names.append(f"{model.name}.{par.type}.{par.name}")
        return names

    @property
    def covariance(self) -> Covariance:
        """Covariance of `parameters`: block diagonal with each model's covariance."""
        cov = Covariance(self.parameters)
        for model in self._models:
            cov.set_subcovariance(model.covariance)
        return cov

    @covariance.setter
    def covariance(self, covariance) -> None:
        data = covariance.data if isinstance(covariance, Covariance) else covariance
        cov = Covariance(self.parameters, data)
        for model in self._models:
            model.covariance = cov.get_subcovariance(model.parameters)

    @property
    def positions(self):
        """ICRS positions (`~astropy.coordinates.SkyCoord`) of the models that have one."""
        from astropy.coordinates import SkyCoord

        lon, lat = [], []
        for model in self._models:
            pos = getattr(model, "position", None)
            if pos is not None:
                icrs = pos.icrs
                lon.append(icrs.ra.deg)
                lat.append(icrs.dec.deg)
        return SkyCoord(lon * u.deg, lat * u.deg, frame="icrs")

    def to_regions(self) -> list:
        """Regions (`to_region`) of the spatial models."""
        regions = []
        for model in self._models:
            spatial = getattr(model, "spatial_model", None)
            if spatial is not None:
                region = spatial.to_region()
                if region is not None:
                    regions.append(region)
        return regions

    @property
    def wcs_geom(self):
        """Smallest WCS geometry containing the regions of all spatial models."""
        from ...maps import RegionGeom

        regions = self.to_regions()
        if not regions:
            raise ValueError("No spatial component in any model: geometry not defined")
        return RegionGeom.from_regions(regions).to_wcs_geom()

    # -- selection ----------------------------------------------------------------------
    def selection_mask(self, name_substring: str | None = None, datasets_names=None,
                       tag=None, model_type: str | None = None,
                       frozen: bool | None = None) -> np.ndarray:
        """Boolean mask of the models matching all criteria (see `select`)."""
        tags = [tag] if isinstance(tag, str) else tag
        names = [datasets_names] if isinstance(datasets_names, str) else datasets_names
        mask = np.ones(len(self), dtype=bool)
        for idx, model in enumerate(self._models):
            sub = model if model_type is None else getattr(model, f"{model_type}_model", None)
            if name_substring is not None:
                mask[idx] &= name_substring in model.name
            if names:
                own = getattr(model, "datasets_names", None)
                mask[idx] &= own is None or any(n in own for n in names)
            if tags:
                mask[idx] &= sub is not None and any(t in sub.tag for t in tags)
            if frozen is not None:
                mask[idx] &= sub is not None and sub.frozen == frozen
            if model_type is not None and sub is None:
                mask[idx] = False
        return mask

    def select(self, name_substring: str | None = None, datasets_names=None, tag=None,
               model_type: str | None = None, frozen: bool | None = None):
        """Models matching all given criteria.

        Parameters
        ----------
        name_substring : str
            Part of the model name.
        datasets_names : str or list of str
            Keep models applying to any of these datasets (or to all datasets).
        tag : str or list of str
            Model tag(s) (of the component ``model_type`` if given), e.g. "sky-model",
            "PointSpatialModel", "pl".
        model_type : {"spectral", "spatial", "temporal"}
            Component the ``tag``/``frozen`` criteria apply to (models without it are
            dropped).
        frozen : bool
            Frozen status (all parameters frozen) of the model or component.
        """
        mask = self.selection_mask(name_substring, datasets_names, tag, model_type, frozen)
        return self[mask]

    def select_mask(self, mask, margin="0 deg", use_evaluation_region: bool = True):
        """Sky models contributing inside ``mask`` (a boolean sky map).

        With ``use_evaluation_region`` a model is kept if any True pixel lies within
        its evaluation radius + ``margin`` + one pixel; otherwise if its position falls
        on a True pixel.
        """
        from .sky import SkyModel

        kept = []
        for model in self._models:
            if not isinstance(model, SkyModel):
                continue
            if model.spatial_model is None or model.position is None:
                kept.append(model)
            elif use_evaluation_region and model.contributes(mask, margin):
                kept.append(model)
            elif not use_evaluation_region:
                value = mask.get_by_coord({"skycoord": model.position}, fill_value=0)
                if np.any(np.asarray(value, dtype=bool)):
                    kept.append(model)
        return self.__class__(kept)

    def select_region(self, regions, wcs=None):
        """Sky models whose position lies in any of ``regions`` (regions objects or
        DS9 strings)."""
        from ...maps import RegionGeom

        geom = RegionGeom.from_regions(regions, wcs=wcs)
        kept = []
        for model in self._models:
            position = getattr(model, "position", None)
            if position is not None and np.any(geom.contains(position)):
                kept.append(model)
        return self.__class__(kept)

    def select_from_geom(self, geom, **kwargs):
        """Sky models contributing inside the footprint of ``geom``."""
        from ...maps import Map

        mask = Map.from_geom(geom.to_image(), data=np.ones(geom.to_image().data_shape, bool))
        return self.select_mask(mask, **kwargs)

    # -- parameters -------------------------------------------------------------------
    def freeze(self, model_type: str | None = None) -> None:
        """Freeze all parameters (or those of one component type) of all models."""
        for model in self._models:
            comps = getattr(model, "_components", None)
            if model_type is None:
                model.freeze()
            elif comps is not None and model_type in comps:
                model.freeze(model_type)

    def unfreeze(self, model_type: str | None = None) -> None:
        """Restore the default frozen status (all, or of one component type)."""
        for model in self._models:
            comps = getattr(model, "_components", None)
            if model_type is None:
                model.unfreeze()
            elif comps is not None and model_type in comps:
                model.unfreeze(model_type)

    def restore_status(self, restore_values: bool = True):
        """Context manager restoring the parameters' frozen flags (and values) on exit."""
        return self.parameters.restore_status(restore_values)

    @property
    def frozen(self) -> bool:
        """True if all parameters are frozen."""
        return all(p.frozen for p in self.parameters)

    def set_parameters_bounds(self, tag, model_type: str, parameters_names=None,
                              min=None, max=None, value=None) -> None:  # noqa: A002
        """Set min/max/value of the named parameters of the selected components."""
        models = self.select(tag=tag, model_type=model_type)
        pars = models.parameters.select(name=parameters_names, type=model_type)
        for par in pars:
            if min is not None:
                par.min = min
            if max is not None:
                par.max = max
            if value is not None:
                par.value = value

    def to_parameters_table(self):
        """Table of all parameters with a ``model`` column (model name)."""
        from astropy.table import Column

        table = self.parameters.to_table()
        owners = []
        seen = set()
        for model in self._models:
            for par in model.parameters:
                if id(par) not in seen:
                    seen.add(id(par))
                    owners.append(model.name)
        table.add_column(Column(owners, name="model", dtype=str), index=0)
        return table

    # -- copies and reassignment --------------------------------------------------------
    def copy(self, copy_data: bool = False):
        """Deep copy (links between the copied models are kept)."""
        return _copy.deepcopy(self)

    def reassign(self, datasets_names, new_datasets_names):
        """Copies of the models with ``datasets_names`` entries replaced."""
        return self.__class__(
            [m.reassign(datasets_names, new_datasets_names) for m in self._models]
        )

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self, full_output: bool = False, overwrite_templates: bool = False) -> dict:
        """``{"components": [...], ["covariance": file], "metadata": {...}}``.

        Parameters shared by several model components get a ``link`` key (the unique
        name of their first occurrence, prefixed by "@"). With ``overwrite_templates``
        the template maps of template models are written to their files.
        """
        components = []
        first: dict[int, str] = {}
        count: dict[int, int] = {}
        for model in self._models:
            for _, comp in _components(model):
                for par in comp.parameters:
                    count[id(par)] = count.get(id(par), 0) + 1
                    first.setdefault(id(par), f"@{model.name}.{par.type}.{par.name}")
        for model in self._models:
            data = model.to_dict(full_output)
            for _, par, entry in _param_dicts(model, data):
                if count.get(id(par), 0) > 1:
                    entry["link"] = first[id(par)]
                else:
                    entry.pop("link", None)
            components.append(data)
            if overwrite_templates:
                for obj in (model, getattr(model, "spatial_model", None)):
                    if obj is not None and hasattr(obj, "write") and getattr(
                        obj, "filename", None
                    ):
                        obj.write(overwrite=True)
        out: dict[str, Any] = {"components": components}
        if self._covar_file is not None:
            out["covariance"] = str(self._covar_file)
        out["metadata"] = {
            "creator": _creator(),
            "date": datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(),
            "origin": None,
        }
        return out

    @classmethod
    def from_dict(cls, data: dict, path: str | Path | None = None):
        """Create from a dict in the YAML layout (see `to_dict`).

        Raises
        ------
        ValueError
            Missing ``components``, unknown model type (the message names the tag and
            the known tags) or invalid entries.
        """
        if not isinstance(data, dict) or "components" not in data:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"models YAML: expected a mapping with 'components', got {keys}")
        entries = data["components"] or []
        if not isinstance(entries, list):
            raise ValueError("models YAML: 'components' must be a list")
        models = []
        for idx, entry in enumerate(entries):
            if not isinstance(entry, dict) or "type" not in entry:
                raise ValueError(f"models YAML: component {idx} has no 'type': {entry!r}")
            try:
                model_cls = get_model_class(entry["type"], "model")
            except KeyError as exc:
                raise ValueError(f"models YAML: component {idx}: {exc.args[0]}") from exc
            kwargs = {"path": path} if "path" in _from_dict_args(model_cls) else {}
            try:
                models.append(model_cls.from_dict(entry, **kwargs))
            except KeyError as exc:
                raise ValueError(
                    f"models YAML: component {idx} ({entry.get('name')!r}): {exc.args[0]}"
                ) from exc
        _relink(models, entries)
        result = cls(models)
        covar = data.get("covariance")
        if covar:
            fname = make_path(covar)
            if not fname.is_absolute() and path is not None:
                fname = make_path(path) / fname
            result.read_covariance(fname)
            result._covar_file = str(covar)
        return result

    def to_yaml(self, full_output: bool = False, overwrite_templates: bool = False) -> str:
        """YAML text of `to_dict`."""
        return to_yaml(self.to_dict(full_output, overwrite_templates))

    @classmethod
    def from_yaml(cls, yaml_str: str, path: str | Path | None = None):
        """Create from YAML text (parsed with ``yaml.safe_load`` only)."""
        return cls.from_dict(from_yaml(yaml_str, where="models YAML"), path=path)

    @classmethod
    def read(cls, filename):
        """Read a models YAML file (covariance and templates relative to its folder)."""
        path = make_path(filename)
        data = read_yaml(path)
        pop_and_verify_checksum(data, str(path))
        return cls.from_dict(data, path=path.parent)

    def write(self, path, overwrite: bool = False, full_output: bool = False,
              overwrite_templates: bool = False, write_covariance: bool = True) -> None:
        """Write the models to a YAML file (atomic).

        With ``write_covariance`` the covariance goes to ``<stem>_covariance.dat`` next to
        it (ASCII fixed-width table, "|" delimited) and the YAML refers to it.
        """
        path = make_path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; use overwrite=True to replace it")
        if write_covariance:
            covar_name = f"{path.stem}_covariance.dat"
            self.write_covariance(path.parent / covar_name, overwrite=True)
            self._covar_file = covar_name
        else:
            self._covar_file = None
        text = with_checksum(self.to_yaml(full_output, overwrite_templates))
        write_yaml(text, path, overwrite=True)

    def write_covariance(self, filename, overwrite: bool = False) -> None:
        """Write the covariance as a fixed-width ASCII table (first column "Parameters")."""
        from astropy.table import Table

        names = self.parameters_unique_names
        data = self.covariance.data
        table = Table()
        table["Parameters"] = names
        for idx, name in enumerate(names):
            table[name] = data[:, idx]
        atomic_write(
            lambda tmp: table.write(tmp, format="ascii.fixed_width", delimiter="|",
                                    overwrite=True),
            filename, overwrite=overwrite,
        )

    def read_covariance(self, filename) -> None:
        """Read a covariance table written by `write_covariance`."""
        from astropy.table import Table

        filename = make_path(filename)
        if not filename.is_file():
            from ...utils.errors import MissingFileError

            raise MissingFileError(f"covariance file not found: {filename}")
        table = Table.read(filename, format="ascii.fixed_width", delimiter="|")
        cols = [c for c in table.colnames if c != "Parameters"]
        data = np.array([np.asarray(table[c], dtype=float) for c in cols]).T
        n = len(self.parameters)
        if data.shape != (n, n):
            raise ValueError(
                f"{filename}: covariance of shape {data.shape} for {n} parameters"
            )
        self.covariance = data

    # -- printing ---------------------------------------------------------------------
    def __str__(self) -> str:
        out = [f"{self.__class__.__name__}\n"]
        for idx, model in enumerate(self._models):
            out.append(f"Component {idx}: {model}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.names})"

    def plot_regions(self, ax=None, kwargs_point=None, path_effect=None, **kwargs):
        """Plot the model regions on WCS axes (default: current axes)."""
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        wcs = getattr(ax, "wcs", None)
        if wcs is None:
            raise ValueError("plot_regions needs WCS axes")
        kwargs.setdefault("facecolor", "none")
        for region in self.to_regions():
            pix = region.to_pixel(wcs)
            if type(region).__name__ == "PointSkyRegion":
                pix.plot(ax=ax, **(kwargs_point or {}))
            else:
                pix.plot(ax=ax, **kwargs)
        return ax


class Models(DatasetModels):
    """Mutable list of models: `append`, `extend`, `insert`, `remove`, item assignment."""

    def __setitem__(self, key, model) -> None:
        idx = self.index(key)
        others = [m.name for i, m in enumerate(self._models) if i != idx]
        self._check_unique_names([*others, model.name])
        self._models[idx] = model

    def __delitem__(self, key) -> None:
        del self._models[self.index(key)]

    def append(self, model) -> None:
        """Add a model at the end (names must stay unique)."""
        self._check_unique_names([*self.names, model.name])
        self._models.append(model)

    def extend(self, models: Iterable) -> None:
        """Add several models."""
        models = list(models)
        self._check_unique_names([*self.names, *[m.name for m in models]])
        self._models.extend(models)

    def insert(self, idx: int, model) -> None:
        """Insert a model at position ``idx``."""
        self._check_unique_names([*self.names, model.name])
        self._models.insert(idx, model)

    def remove(self, model) -> None:
        """Remove a model (given as object or name)."""
        del self._models[self.index(model)]


def _from_dict_args(model_cls) -> tuple[str, ...]:
    import inspect

    try:
        return tuple(inspect.signature(model_cls.from_dict).parameters)
    except (TypeError, ValueError):
        return ()


def _relink(models: list, entries: list[dict]) -> None:
    """Share the parameters that carry the same ``link`` label in the YAML entries."""
    registry: dict[str, Parameter] = {}
    for model, entry in zip(models, entries, strict=True):
        for key, comp in _components(model):
            for par_entry in entry.get(key, {}).get("parameters", []) or []:
                label = par_entry.get("link")
                if not label:
                    continue
                name = par_entry["name"]
                par = getattr(comp, name)
                if label in registry:
                    setattr(comp, name, registry[label])
                    model.__dict__["_covariance"] = None
                else:
                    registry[label] = par
