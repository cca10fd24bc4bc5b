"""The `Parameter` class (see `gammapipe.modeling.parameter` for the bounds policy)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import UnitError

__all__ = ["Parameter"]

_SCALE_METHODS = ("scale10", "factor1", None)
_INTERP = ("lin", "log", "sqrt")
_DICT_KEYS = (
    "name",
    "value",
    "unit",
    "error",
    "min",
    "max",
    "frozen",
    "interp",
    "scale_method",
    "is_norm",
    "scale",
    "scan_min",
    "scan_max",
    "scan_n_values",
    "scan_n_sigma",
    "scan_values",
    "prior",
    "link",
    "type",
    "factor",
)


def _as_float(value: Any, what: str, name: str) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Parameter {name!r}: {what} must be a number, got {value!r}") from exc


def _as_bool(value: Any, what: str, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    raise ValueError(f"Parameter {name!r}: {what} must be a bool, got {value!r}")


class Parameter:
    """A model parameter.

    Parameters
    ----------
    name : str
        Parameter name.
    value : float, `~astropy.units.Quantity` or str
        Value; a Quantity (or a string such as ``"2 TeV"``) also sets ``unit``.
    unit : str or `~astropy.units.Unit`
        Unit of ``value``, ``min``, ``max`` and ``error``.
    scale : float
        Scale; the optimiser works on ``factor = value / scale``.
    min, max : float
        Bounds in ``unit``; NaN (default) means unbounded.
    frozen : bool
        Whether the parameter is fixed in fits.
    error : float
        1-sigma error in ``unit``.
    scan_min, scan_max, scan_n_values, scan_n_sigma, scan_values
        Definition of the grid used by likelihood profiles (`scan_values`).
    interp : {"lin", "log", "sqrt"}
        Spacing of the scan grid.
    scale_method : {"scale10", "factor1", None}
        Method of `autoscale`.
    is_norm : bool
        Whether the parameter is a normalisation (used by estimators).
    prior : callable or None
        Optional prior; ``prior(value)`` returns its contribution to the fit statistic
        (-2 log prior). Added to the statistic by `Fit`.
    """

    def __init__(
        self,
        name: str,
        value: float | u.Quantity | str,
        unit: str | u.UnitBase = "",
        scale: float = 1,
        min: float = np.nan,  # noqa: A002 - public gammapy-compatible name
        max: float = np.nan,  # noqa: A002
        frozen: bool = False,
        error: float = 0,
        scan_min: float | None = None,
        scan_max: float | None = None,
        scan_n_values: int = 11,
        scan_n_sigma: float = 2,
        scan_values: Iterable[float] | None = None,
        interp: str = "lin",
        scale_method: str | None = "scale10",
        is_norm: bool = False,
        prior: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Parameter name must be a non-empty string, got {name!r}")
        self.name = name
        self.type: str | None = None
        self._link_label_io: str | None = None
        self._min = math.nan
        self._max = math.nan
        self._scale = 1.0
        self._factor = 0.0
        if isinstance(value, str):
            try:
                value = u.Quantity(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Parameter {name!r}: cannot parse value {value!r}") from exc
        if isinstance(value, u.Quantity):
            if value.size != 1:
                raise ValueError(f"Parameter {name!r}: value must be a scalar, got {value!r}")
            self.unit = value.unit
            value = float(value.value)
        else:
            self.unit = unit
        scale = _as_float(scale, "scale", name)
        if scale == 0 or not np.isfinite(scale):
            raise ValueError(f"Parameter {name!r}: scale must be finite and non-zero")
        self._scale = scale
        self.min = min
        self.max = max
        self.value = value
        self.frozen = frozen
        self.error = error
        self.scan_min = scan_min
        self.scan_max = scan_max
        self.scan_n_values = int(scan_n_values)
        self.scan_n_sigma = float(scan_n_sigma)
        self.scan_values = scan_values
        self.interp = interp
        self.scale_method = scale_method
        self.is_norm = is_norm
        self.prior = prior

    def __set_name__(self, owner: type, attr_name: str) -> None:
        if attr_name != self.name:
            raise ValueError(
                f"{owner.__name__}.{attr_name}: class attribute name differs from the "
                f"Parameter name {self.name!r}"
            )

    # -- value / factor / scale -------------------------------------------------------
    @property
    def factor(self) -> float:
        """Value divided by scale (what the optimiser varies)."""
        return self._factor

    @factor.setter
    def factor(self, val: float) -> None:
        self._factor = float(val)

    @property
    def scale(self) -> float:
        """Scale such that ``value = factor * scale``."""
        return self._scale

    @scale.setter
    def scale(self, val: float) -> None:
        val = _as_float(val, "scale", self.name)
        if val == 0 or not np.isfinite(val):
            raise ValueError(f"Parameter {self.name!r}: scale must be finite and non-zero")
        value = self.value
        self._scale = val
        self._factor = value / val

    @property
    def value(self) -> float:
        """Value in ``unit`` (``factor * scale``)."""
        return self._factor * self._scale

    @value.setter
    def value(self, val: float) -> None:
        if isinstance(val, u.Quantity):
            raise TypeError(
                f"Parameter {self.name!r}: set a Quantity through .quantity, not .value"
            )
        val = _as_float(val, "value", self.name)
        lo, hi = self._min, self._max
        if val < lo or val > hi:  # NaN bounds compare False
            raise ValueError(
                f"Parameter {self.name!r}: value {val!r} is outside its bounds "
                f"[min={lo!r}, max={hi!r}] {self.unit.to_string()}"
            )
        self._factor = val / self._scale

    def _set_value_unchecked(self, val: float) -> None:
        self._factor = float(val) / self._scale

    @property
    def quantity(self) -> u.Quantity:
        """Value as a `~astropy.units.Quantity`."""
        return u.Quantity(self.value, self._unit)

    @quantity.setter
    def quantity(self, val: u.Quantity | str | float) -> None:
        if isinstance(val, str):
            val = u.Quantity(val)
        if not isinstance(val, u.Quantity):
            self.value = val
            return
        if not val.unit.is_equivalent(self._unit):
            raise UnitError(
                f"Parameter {self.name!r}: unit {val.unit} is not convertible to {self._unit}"
            )
        # adopt the new unit (bounds and error are converted with it)
        factor = self._unit.to(val.unit) if self._unit != val.unit else 1.0
        old = (self._min, self._max, self.error, self._unit, self._factor)
        try:
            self._min *= factor
            self._max *= factor
            self.error = self.error * factor
            self._unit = val.unit
            self.value = float(val.value)
        except ValueError:
            self._min, self._max, self.error, self._unit, self._factor = old
            raise

    @property
    def unit(self) -> u.UnitBase:
        """Unit of value, bounds and error."""
        return self._unit

    @unit.setter
    def unit(self, val: str | u.UnitBase) -> None:
        try:
            self._unit = u.Unit(val) if val is not None else u.dimensionless_unscaled
        except (TypeError, ValueError) as exc:
            raise UnitError(f"Parameter {self.name!r}: cannot parse unit {val!r}") from exc

    # -- bounds -----------------------------------------------------------------------
    @property
    def min(self) -> float:
        """Lower bound in ``unit`` (NaN: none)."""
        return self._min

    @min.setter
    def min(self, val: float | u.Quantity | None) -> None:
        if isinstance(val, u.Quantity):
            val = val.to_value(self._unit)
        self._min = _as_float(val, "min", self.name)

    @property
    def max(self) -> float:
        """Upper bound in ``unit`` (NaN: none)."""
        return self._max

    @max.setter
    def max(self, val: float | u.Quantity | None) -> None:
        if isinstance(val, u.Quantity):
            val = val.to_value(self._unit)
        self._max = _as_float(val, "max", self.name)

    @property
    def factor_min(self) -> float:
        """Lower bound of the factor (NaN: none; accounts for a negative scale)."""
        return self._min / self._scale if self._scale > 0 else self._max / self._scale

    @property
    def factor_max(self) -> float:
        """Upper bound of the factor (NaN: none; accounts for a negative scale)."""
        return self._max / self._scale if self._scale > 0 else self._min / self._scale

    @property
    def conf_min(self) -> float:
        """Lower bound usable by root finders (``-inf`` when unbounded)."""
        return -np.inf if np.isnan(self._min) else self._min

    @property
    def conf_max(self) -> float:
        """Upper bound usable by root finders (``+inf`` when unbounded)."""
        return np.inf if np.isnan(self._max) else self._max

    def check_limits(self) -> None:
        """Raise `ValueError` if the value is outside ``[min, max]``."""
        val = self.value
        if val < self._min or val > self._max:
            raise ValueError(
                f"Parameter {self.name!r}: value {val!r} is outside its bounds "
                f"[min={self._min!r}, max={self._max!r}] {self._unit.to_string()}"
            )

    # -- other attributes -------------------------------------------------------------
    @property
    def error(self) -> float:
        """1-sigma error in ``unit``."""
        return self._error

    @error.setter
    def error(self, val: float | u.Quantity) -> None:
        if isinstance(val, u.Quantity):
            val = val.to_value(self._unit)
        val = _as_float(val, "error", self.name)
        if val < 0:
            raise ValueError(f"Parameter {self.name!r}: error must be >= 0, got {val!r}")
        self._error = 0.0 if np.isnan(val) else val

    @property
    def frozen(self) -> bool:
        """Whether the parameter is fixed in fits."""
        return self._frozen

    @frozen.setter
    def frozen(self, val: bool) -> None:
        self._frozen = _as_bool(val, "frozen", self.name)

    @property
    def is_norm(self) -> bool:
        """Whether the parameter is a normalisation."""
        return self._is_norm

    @is_norm.setter
    def is_norm(self, val: bool) -> None:
        self._is_norm = _as_bool(val, "is_norm", self.name)

    @property
    def interp(self) -> str:
        """Spacing of the scan grid: "lin", "log" or "sqrt"."""
        return self._interp

    @interp.setter
    def interp(self, val: str) -> None:
        if val not in _INTERP:
            raise ValueError(f"Parameter {self.name!r}: interp must be one of {_INTERP}")
        self._interp = val

    @property
    def scale_method(self) -> str | None:
        """Method of `autoscale`: "scale10", "factor1" or None."""
        return self._scale_method

    @scale_method.setter
    def scale_method(self, val: str | None) -> None:
        if val not in _SCALE_METHODS:
            raise ValueError(
                f"Parameter {self.name!r}: scale_method must be one of {_SCALE_METHODS}"
            )
        self._scale_method = val

    def autoscale(self) -> None:
        """Choose ``scale`` so that the factor is of order one (value unchanged).

        ``"scale10"``: scale is the power of ten below ``|value|``; ``"factor1"``: scale is
        the value itself (factor 1); None: unchanged. A zero value keeps its scale.
        """
        value = self.value
        if self._scale_method is None or value == 0 or not np.isfinite(value):
            return
        if self._scale_method == "scale10":
            scale = 10.0 ** math.floor(math.log10(abs(value)))
        else:
            scale = value
        self._scale = scale
        self._factor = value / scale

    # -- scans ------------------------------------------------------------------------
    @property
    def scan_min(self) -> float:
        """Lower end of the scan (default: value - scan_n_sigma * error, within bounds)."""
        if self._scan_min is None:
            val = self.value - self.scan_n_sigma * self.error
            return val if np.isnan(self._min) else max(val, self._min)
        return self._scan_min

    @scan_min.setter
    def scan_min(self, val: float | None) -> None:
        self._scan_min = None if val is None else float(val)

    @property
    def scan_max(self) -> float:
        """Upper end of the scan (default: value + scan_n_sigma * error, within bounds)."""
        if self._scan_max is None:
            val = self.value + self.scan_n_sigma * self.error
            return val if np.isnan(self._max) else min(val, self._max)
        return self._scan_max

    @scan_max.setter
    def scan_max(self, val: float | None) -> None:
        self._scan_max = None if val is None else float(val)

    @property
    def scan_values(self) -> np.ndarray:
        """Grid of values for likelihood profiles (spaced according to ``interp``)."""
        if self._scan_values is not None:
            return self._scan_values.copy()
        lo, hi, n = self.scan_min, self.scan_max, self.scan_n_values
        if self._interp == "log":
            if lo <= 0 or hi <= 0:
                raise ValueError(f"Parameter {self.name!r}: log scan needs positive bounds")
            return np.geomspace(lo, hi, n)
        if self._interp == "sqrt":
            return np.linspace(np.sqrt(lo), np.sqrt(hi), n) ** 2
        return np.linspace(lo, hi, n)

    @scan_values.setter
    def scan_values(self, val: Iterable[float] | None) -> None:
        self._scan_values = None if val is None else np.asarray(val, dtype=float).ravel()

    # -- prior ------------------------------------------------------------------------
    def prior_stat(self) -> float:
        """Contribution of the prior to the fit statistic (0 without prior)."""
        if self.prior is None:
            return 0.0
        if hasattr(self.prior, "evaluate"):
            return float(self.prior.evaluate(self.value))
        return float(self.prior(self.value))

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Dictionary with the full parameter description (YAML layout)."""
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self._unit.to_string("fits"),
            "error": self.error,
            "min": self._min,
            "max": self._max,
            "frozen": self.frozen,
            "interp": self.interp,
            "scale_method": self.scale_method,
            "is_norm": self.is_norm,
        }
        if self._link_label_io is not None:
            out["link"] = self._link_label_io
        if self.prior is not None and hasattr(self.prior, "to_dict"):
            out["prior"] = self.prior.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Parameter:
        """Create from a dictionary as written by `to_dict` (unknown keys raise)."""
        data = dict(data)
        unknown = set(data) - set(_DICT_KEYS)
        if unknown:
            raise ValueError(
                f"Parameter {data.get('name')!r}: unknown key(s) {sorted(unknown)} "
                f"(allowed: {list(_DICT_KEYS)})"
            )
        if "name" not in data or "value" not in data:
            raise ValueError(f"Parameter dict needs 'name' and 'value', got {sorted(data)}")
        link = data.pop("link", None)
        ptype = data.pop("type", None)
        factor = data.pop("factor", None)
        if factor is not None and "scale" in data:
            data["value"] = float(factor) * float(data["scale"])
        prior = data.pop("prior", None)
        par = cls(**data)
        par._link_label_io = link
        par.type = ptype
        if prior is not None and not isinstance(prior, dict):
            par.prior = prior
        return par

    def update_from_dict(self, data: dict[str, Any]) -> None:
        """Update the attributes given in ``data`` (keys as in `to_dict`)."""
        data = dict(data)
        if "unit" in data:
            self.unit = data.pop("unit")
        for key in ("min", "max"):
            if key in data:
                setattr(self, key, data.pop(key))
        if "scale" in data:
            self.scale = data.pop("scale")
        if "value" in data:
            self.value = data.pop("value")
        for key in ("frozen", "error", "interp", "scale_method", "is_norm"):
            if key in data:
                setattr(self, key, data.pop(key))
        if "link" in data:
            self._link_label_io = data.pop("link")
        data.pop("name", None)
        data.pop("type", None)
        data.pop("prior", None)
        for key, value in data.items():
            if key.startswith("scan_"):
                setattr(self, key, value)
            else:
                raise ValueError(f"Parameter {self.name!r}: unknown key {key!r}")

    def copy(self) -> Parameter:
        """Independent copy."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(name={self.name!r}, value={self.value!r}, "
            f"factor={self.factor!r}, scale={self.scale!r}, unit={self.unit.to_string()!r}, "
            f"min={self.min!r}, max={self.max!r}, frozen={self.frozen!r}, error={self.error!r})"
        )
