"""The `Parameters` container."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._parameter_base import Parameter

__all__ = ["Parameters"]


def _is_sequence_key(key: Any) -> bool:
    return isinstance(key, list | tuple | np.ndarray)


class Parameters:
    """Ordered collection of `Parameter` objects.

    Index by position, by name (first match), by a slice, a list of names/positions or a
    boolean mask. The same Parameter object may appear more than once (linked parameters);
    `unique_parameters` removes the repeats.

    Parameters
    ----------
    parameters : iterable of `Parameter`
        The parameters.
    """

    def __init__(self, parameters: Iterable[Parameter] | None = None) -> None:
        if parameters is None:
            parameters = []
        elif isinstance(parameters, Parameters):
            parameters = parameters._parameters
        items = list(parameters)
        for par in items:
            if not isinstance(par, Parameter):
                raise TypeError(f"Parameters: expected Parameter objects, got {type(par)}")
        self._parameters: list[Parameter] = items

    # -- sequence protocol ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters)

    def __contains__(self, item: Parameter | str) -> bool:
        if isinstance(item, str):
            return item in self.names
        return any(p is item for p in self._parameters)

    def index(self, key: Parameter | str | int) -> int:
        """Position of a parameter given as object, name or position."""
        if isinstance(key, int | np.integer):
            if not -len(self) <= key < len(self):
                raise IndexError(f"Parameters: index {key} out of range ({len(self)})")
            return int(key) % len(self)
        if isinstance(key, str):
            for idx, par in enumerate(self._parameters):
                if par.name == key:
                    return idx
            raise KeyError(f"No parameter named {key!r}; available: {self.names}")
        if isinstance(key, Parameter):
            for idx, par in enumerate(self._parameters):
                if par is key:
                    return idx
            raise KeyError(f"Parameter {key.name!r} (id {id(key)}) is not in this list")
        raise TypeError(f"Parameters: invalid key {key!r}")

    def __getitem__(self, key: Any) -> Parameter | Parameters:
        if isinstance(key, slice):
            return self.__class__(self._parameters[key])
        if _is_sequence_key(key):
            arr = np.asarray(key)
            if arr.dtype == bool:
                if arr.size != len(self):
                    raise IndexError(f"Parameters: mask of length {arr.size} != {len(self)}")
                return self.__class__([p for p, m in zip(self, arr, strict=True) if m])
            return self.__class__([self._parameters[self.index(k)] for k in key])
        return self._parameters[self.index(key)]

    def __add__(self, other: Parameters | Iterable[Parameter]) -> Parameters:
        if isinstance(other, Parameters):
            return Parameters(self._parameters + other._parameters)
        if isinstance(other, Iterable):
            return Parameters(self._parameters + list(other))
        return NotImplemented

    def __radd__(self, other: Iterable[Parameter]) -> Parameters:
        return Parameters(list(other) + self._parameters)

    def append(self, par: Parameter) -> None:
        """Add a parameter at the end."""
        if not isinstance(par, Parameter):
            raise TypeError(f"Parameters.append: expected Parameter, got {type(par)}")
        self._parameters.append(par)

    def copy(self) -> Parameters:
        """Deep copy (links inside the list are kept, links to outside are cut)."""
        return copy.deepcopy(self)

    # -- views --------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Parameter names."""
        return [p.name for p in self._parameters]

    @property
    def types(self) -> list[str | None]:
        """Parameter types ("spectral", "spatial", ...)."""
        return [p.type for p in self._parameters]

    @property
    def free_parameters(self) -> Parameters:
        """Parameters that are not frozen."""
        return self.__class__([p for p in self._parameters if not p.frozen])

    @property
    def unique_parameters(self) -> Parameters:
        """Parameters with repeated (linked) objects removed, order kept."""
        seen: set[int] = set()
        out = []
        for par in self._parameters:
            if id(par) not in seen:
                seen.add(id(par))
                out.append(par)
        return self.__class__(out)

    @property
    def norm_parameters(self) -> Parameters:
        """Parameters flagged ``is_norm``."""
        return self.__class__([p for p in self._parameters if p.is_norm])

    @property
    def values(self) -> np.ndarray:
        """Values as a float64 array (settable, bounds checked)."""
        return np.array([p.value for p in self._parameters], dtype=float)

    @values.setter
    def values(self, values: Iterable[float]) -> None:
        values = np.asarray(values, dtype=float).ravel()
        if values.size != len(self):
            raise ValueError(f"Parameters.values: got {values.size} values for {len(self)}")
        for par, val in zip(self._parameters, values, strict=True):
            par.value = val

    @property
    def errors(self) -> np.ndarray:
        """Errors as a float64 array (settable)."""
        return np.array([p.error for p in self._parameters], dtype=float)

    @errors.setter
    def errors(self, values: Iterable[float]) -> None:
        values = np.asarray(values, dtype=float).ravel()
        if values.size != len(self):
            raise ValueError(f"Parameters.errors: got {values.size} values for {len(self)}")
        for par, val in zip(self._parameters, values, strict=True):
            par.error = val

    @property
    def min(self) -> np.ndarray:
        """Lower bounds (NaN: none)."""
        return np.array([p.min for p in self._parameters], dtype=float)

    @min.setter
    def min(self, values: Iterable[float]) -> None:
        for par, val in zip(self._parameters, np.broadcast_to(values, len(self)), strict=True):
            par.min = val

    @property
    def max(self) -> np.ndarray:
        """Upper bounds (NaN: none)."""
        return np.array([p.max for p in self._parameters], dtype=float)

    @max.setter
    def max(self, values: Iterable[float]) -> None:
        for par, val in zip(self._parameters, np.broadcast_to(values, len(self)), strict=True):
            par.max = val

    @property
    def factors(self) -> np.ndarray:
        """Factors (value / scale)."""
        return np.array([p.factor for p in self._parameters], dtype=float)

    @property
    def scales(self) -> np.ndarray:
        """Scales."""
        return np.array([p.scale for p in self._parameters], dtype=float)

    # -- operations ---------------------------------------------------------------------
    def select(
        self,
        name: str | Iterable[str] | None = None,
        type: str | None = None,  # noqa: A002 - gammapy-compatible name
        frozen: bool | None = None,
    ) -> Parameters:
        """Parameters matching all given criteria.

        Parameters
        ----------
        name : str or list of str
            Parameter name(s).
        type : str
            Parameter type ("spectral", "spatial", "temporal", ...).
        frozen : bool
            Frozen status.
        """
        names = [name] if isinstance(name, str) else (None if name is None else list(name))
        out = [
            p
            for p in self._parameters
            if (names is None or p.name in names)
            and (type is None or p.type == type)
            and (frozen is None or p.frozen == frozen)
        ]
        return self.__class__(out)

    def freeze_all(self) -> None:
        """Freeze every parameter."""
        for par in self._parameters:
            par.frozen = True

    def unfreeze_all(self) -> None:
        """Unfreeze every parameter."""
        for par in self._parameters:
            par.frozen = False

    def set_parameter_factors(self, factors: Iterable[float]) -> None:
        """Set the factors (optimiser path, bounds not checked)."""
        factors = np.asarray(factors, dtype=float).ravel()
        if factors.size != len(self):
            raise ValueError(
                f"Parameters.set_parameter_factors: got {factors.size} factors for {len(self)}"
            )
        for par, fac in zip(self._parameters, factors.tolist(), strict=True):
            par._factor = fac

    def autoscale(self) -> None:
        """Call `Parameter.autoscale` on every parameter."""
        for par in self._parameters:
            par.autoscale()

    def check_limits(self) -> None:
        """Raise `ValueError` naming every parameter whose value is outside its bounds."""
        bad = []
        for par in self._parameters:
            try:
                par.check_limits()
            except ValueError as exc:
                bad.append(str(exc))
        if bad:
            raise ValueError("; ".join(bad))

    def prior_stat_sum(self) -> float:
        """Sum of the prior terms of the unique parameters (0 without priors)."""
        return float(
            sum(p.prior_stat() for p in self.unique_parameters if p.prior is not None)
        )

    @contextmanager
    def restore_status(self, restore_values: bool = True):
        """Context manager restoring frozen flags (and values) on exit.

        Parameters
        ----------
        restore_values : bool
            Also restore the values (and errors).
        """
        values = [p.value for p in self._parameters]
        errors = [p.error for p in self._parameters]
        frozen = [p.frozen for p in self._parameters]
        try:
            yield
        finally:
            for par, val, err, frz in zip(self._parameters, values, errors, frozen, strict=True):
                if restore_values:
                    par._set_value_unchecked(val)
                    par.error = err
                par.frozen = frz

    # -- I/O ----------------------------------------------------------------------------
    def to_dict(self) -> list[dict[str, Any]]:
        """List of parameter dictionaries."""
        return [p.to_dict() for p in self._parameters]

    @classmethod
    def from_dict(cls, data: Iterable[dict[str, Any]]) -> Parameters:
        """Create from a list of parameter dictionaries."""
        return cls([Parameter.from_dict(d) for d in data])

    def to_table(self):
        """Table with columns type, name, value, unit, error, min, max, frozen, is_norm, link."""
        from astropy.table import Table

        rows = {
            "type": [p.type or "" for p in self._parameters],
            "name": self.names,
            "value": self.values,
            "unit": [p.unit.to_string() for p in self._parameters],
            "error": self.errors,
            "min": self.min,
            "max": self.max,
            "frozen": np.array([p.frozen for p in self._parameters], dtype=bool),
            "is_norm": np.array([p.is_norm for p in self._parameters], dtype=bool),
            "link": [p._link_label_io or "" for p in self._parameters],
        }
        names = list(rows)
        dtypes = [str, str, float, str, float, float, float, bool, bool, str]
        if not self._parameters:
            return Table(names=names, dtype=dtypes)
        table = Table(rows, names=names)
        table["value"].format = ".4e"
        for col in ("error", "min", "max"):
            table[col].format = ".3e"
        return table

    def __str__(self) -> str:
        return "\n".join(self.to_table().pformat(max_lines=-1, max_width=-1))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.names})"
