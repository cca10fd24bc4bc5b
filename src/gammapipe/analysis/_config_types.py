"""Typed config machinery: dataclass trees built from plain dicts with validation.

Each config section is a dataclass; each field carries ``metadata`` with:

- ``doc``: one line of documentation (used by `AnalysisConfig.default_yaml`);
- ``unit``: for Quantity fields, the unit a value must convert to (e.g. ``"deg"``);
- ``choices``: allowed values for a string field (or for the items of a list field).

`build_section` converts a nested dict into the dataclass tree and raises `ConfigError`
naming the key path (``datasets.geom.wcs.binsize``), what was given and what is allowed.
`section_to_dict` converts back to YAML-friendly plain types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Union

import astropy.units as u

from gammapipe.utils.errors import GammapipeError

__all__ = ["ConfigError", "build_section", "section_to_dict", "doc_field", "quantity_to_str"]


class ConfigError(GammapipeError, ValueError):
    """An analysis config has an unknown key, a wrong type or a disallowed value."""


def doc_field(default: Any = dataclasses.MISSING, *, doc: str, unit: str | None = None,
              choices: tuple | None = None, factory: Any = dataclasses.MISSING):
    """Dataclass field with documentation, an optional unit and allowed values."""
    metadata = {"doc": doc, "unit": unit, "choices": choices}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        raise TypeError("use factory= for mutable defaults")
    return dataclasses.field(default=default, metadata=metadata)


def quantity_to_str(value: u.Quantity) -> str:
    """Quantity as a compact string, e.g. ``'0.02 deg'``."""
    number = float(value.value)
    text = f"{number:.10g}"
    try:
        unit = value.unit.to_string("fits")
    except ValueError:
        unit = value.unit.to_string()
    return f"{text} {unit}" if unit else text


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return f"a list of {_describe(item)}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if tp is u.Quantity:
        return "a quantity"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, meta: dict, path: str) -> Any:
    """Convert ``value`` to type ``tp`` (with field ``meta``) or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{path}: null is not allowed; expected {_describe(tp)}")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, meta, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{path}: expected {_describe(tp)}, got {value!r}")
    if tp is Any:
        return value
    if value is None:
        raise ConfigError(f"{path}: null is not allowed; expected {_describe(tp)}")
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, path)
    if origin is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}")
        return [_convert(v, item_tp, meta, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{path}: {value!r} is not allowed; allowed values: "
                              f"{', '.join(repr(c) for c in choices)}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{path}: expected a path string, got {value!r}")
        return Path(value)
    if tp is u.Quantity:
        unit = meta.get("unit")
        try:
            quantity = u.Quantity(value)
            if unit is not None:
                if quantity.unit == u.dimensionless_unscaled and not isinstance(value, str):
                    quantity = quantity * u.Unit(unit)
                quantity = quantity.to(unit)
            if quantity.isscalar is False:
                raise ValueError("not a scalar")
        except (TypeError, ValueError, u.UnitsError):
            raise ConfigError(f"{path}: expected a quantity convertible to {unit!r} "
                              f"(e.g. '1 {unit}'), got {value!r}") from None
        return quantity
    raise ConfigError(f"{path}: unsupported field type {tp!r}")  # pragma: no cover


def build_section(cls, data: Any, path: str = ""):
    """Build dataclass ``cls`` from a mapping, validating every key (recursively)."""
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    where = path or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        raise ConfigError(f"{(path + '.') if path else ''}{key}: unknown key; allowed keys "
                          f"in {where}: {', '.join(fields)}")
    kwargs = {}
    for name, value in data.items():
        sub = f"{path}.{name}" if path else name
        kwargs[name] = _convert(value, hints[name], dict(fields[name].metadata), sub)
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return section_to_dict(value)
    if isinstance(value, u.Quantity):
        return quantity_to_str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def section_to_dict(section) -> dict:
    """Dataclass tree -> nested dict of YAML-friendly values."""
    return {f.name: _plain(getattr(section, f.name)) for f in dataclasses.fields(section)}


def documented_yaml(section, indent: int = 0) -> list[str]:
    """YAML lines for ``section`` with a ``# doc`` comment above each key."""
    import yaml

    lines: list[str] = []
    pad = " " * indent
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        doc = f.metadata.get("doc")
        choices = f.metadata.get("choices")
        if doc:
            extra = f" [one of: {', '.join(map(str, choices))}]" if choices else ""
            lines.append(f"{pad}# {doc}{extra}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            lines.extend(documented_yaml(value, indent + 2))
            continue
        plain = _plain(value)
        if isinstance(plain, (list, dict)):
            text = f"{f.name}: " + yaml.safe_dump(plain, default_flow_style=True).strip()
        else:
            text = yaml.safe_dump({f.name: plain}, default_flow_style=False).strip()
        lines.extend(pad + line for line in text.splitlines())
    return lines
