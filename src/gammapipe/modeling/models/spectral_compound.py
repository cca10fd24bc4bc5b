"""Composite and tabulated spectral models.

`CompoundSpectralModel` (``model1 op model2``), `ScaleSpectralModel` (``norm x model``),
`TemplateSpectralModel` (tabulated ``dN/dE``, log-log interpolation) and
`PiecewiseNormSpectralModel` (norms at energy nodes). Log-log interpolation is a power law
between nodes (the end segments are extended outside the nodes), so these templates are
integrated exactly, segment by segment.
"""

from __future__ import annotations

import operator
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from ...utils.errors import FITSFormatError
from ...utils.fits import make_path, read_table_hdu
from ..parameter import Parameter, Parameters
from ._spectral_base import SpectralModel
from .spectral import pl_integral

__all__ = [
    "CompoundSpectralModel",
    "ScaleSpectralModel",
    "TemplateSpectralModel",
    "PiecewiseNormSpectralModel",
]

_OPERATORS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
}
_TINY = 1e-300


# ----------------------------------------------------------------------------- helpers
def _segments(log_e: np.ndarray, log_xp: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(log_xp, log_e, side="right") - 1, 0, log_xp.size - 2)


def loglog_interp(log_e: np.ndarray, log_xp: np.ndarray, log_fp: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``log_fp(log_xp)`` at ``log_e``, end segments extended."""
    idx = _segments(log_e, log_xp)
    slope = np.diff(log_fp) / np.diff(log_xp)
    return log_fp[idx] + slope[idx] * (log_e - log_xp[idx])


def loglog_integral(
    energy_min: np.ndarray, energy_max: np.ndarray, xp: np.ndarray, fp: np.ndarray, power: int = 0
) -> np.ndarray:
    """Exact ``int E^power f(E) dE`` of the log-log interpolation of ``fp(xp)``.

    Segment by segment (``bins x segments`` overlaps), so steep spectra lose no precision.
    Plain float arrays in consistent units; ``xp`` increasing, ``fp > 0``.
    """
    emin = np.asarray(energy_min, dtype=float)
    emax = np.asarray(energy_max, dtype=float)
    emin, emax = np.broadcast_arrays(emin, emax)
    sign = np.where(emax >= emin, 1.0, -1.0)
    lo, hi = np.minimum(emin, emax)[..., None], np.maximum(emin, emax)[..., None]
    log_xp, log_fp = np.log(xp), np.log(fp)
    index = -np.diff(log_fp) / np.diff(log_xp)
    seg_lo = np.concatenate([[0.0], xp[1:-1]])
    seg_hi = np.concatenate([xp[1:-1], [np.inf]])
    a = np.maximum(lo, seg_lo)
    b = np.minimum(hi, seg_hi)
    valid = b > a
    a_safe = np.where(valid, a, 1.0)
    b_safe = np.where(valid, b, 2.0)
    ref, fref = xp[:-1], fp[:-1]
    part = fref * ref ** (1 + power) * pl_integral(a_safe / ref, b_safe / ref, index - power)
    return sign * np.sum(np.where(valid, part, 0.0), axis=-1)


def _quantity_dict(q: u.Quantity) -> dict[str, Any]:
    return {"data": np.asarray(q.value, dtype=float).tolist(), "unit": q.unit.to_string("fits")}


def _quantity_from(data: Any, what: str) -> u.Quantity:
    if isinstance(data, dict):
        if "data" not in data:
            raise ValueError(f"{what}: expected a dict with 'data' and 'unit', got {data!r}")
        return u.Quantity(data["data"], data.get("unit", ""))
    return u.Quantity(data)


# ----------------------------------------------------------------------------- compound
class CompoundSpectralModel(SpectralModel):
    """Arithmetic combination ``operator(model1, model2)`` of two spectral models.

    Parameters
    ----------
    model1, model2 : `SpectralModel`
        Components (their Parameter objects are shared, not copied).
    operator : callable or str
        ``operator.add``, ``sub``, ``mul`` or ``truediv`` (or their names).
    """

    tag = ("CompoundSpectralModel", "compound")

    def __init__(self, model1: SpectralModel, model2: SpectralModel, operator) -> None:
        if isinstance(operator, str):
            if operator not in _OPERATORS:
                raise ValueError(f"operator must be one of {list(_OPERATORS)}, got {operator!r}")
            operator = _OPERATORS[operator]
        if operator not in _OPERATORS.values():
            raise ValueError(f"operator must be one of {list(_OPERATORS)}, got {operator!r}")
        for name, model in (("model1", model1), ("model2", model2)):
            if not isinstance(model, SpectralModel):
                raise TypeError(f"{name} must be a SpectralModel, got {type(model).__name__}")
        object.__setattr__(self, "_parameter_attrs", {})
        self.model1 = model1
        self.model2 = model2
        self.operator = operator
        self._covariance = None

    @property
    def parameters(self) -> Parameters:
        """Parameters of model1 followed by those of model2."""
        return self.model1.parameters + self.model2.parameters

    def _energy_unit(self) -> u.UnitBase:
        return self.model1._energy_unit()

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        energy = self._as_energy(energy)
        return self.operator(self.model1(energy), self.model2(energy))

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral flux (sum/difference of the component integrals for + and -)."""
        if self.operator in (operator.add, operator.sub):
            return self.operator(
                self.model1.integral(energy_min, energy_max),
                self.model2.integral(energy_min, energy_max),
            )
        return super().integral(energy_min, energy_max)

    def energy_flux(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Energy flux (sum/difference of the component energy fluxes for + and -)."""
        if self.operator in (operator.add, operator.sub):
            return self.operator(
                self.model1.energy_flux(energy_min, energy_max),
                self.model2.energy_flux(energy_min, energy_max),
            )
        return super().energy_flux(energy_min, energy_max)

    def _gradient_items(self, energy: u.Quantity) -> list:
        items1 = self.model1._gradient_items(energy)
        items2 = self.model2._gradient_items(energy)
        op = self.operator
        if op is operator.add:
            return items1 + items2
        if op is operator.sub:
            return items1 + [(p, -g) for p, g in items2]
        f1, f2 = self.model1(energy), self.model2(energy)
        if op is operator.mul:
            return [(p, g * f2) for p, g in items1] + [(p, f1 * g) for p, g in items2]
        return [(p, g / f2) for p, g in items1] + [(p, -f1 * g / f2**2) for p, g in items2]

    def _integral_gradient_items(self, energy_min: u.Quantity, energy_max: u.Quantity) -> list:
        if self.operator in (operator.add, operator.sub):
            items1 = self.model1._integral_gradient_items(energy_min, energy_max)
            items2 = self.model2._integral_gradient_items(energy_min, energy_max)
            if self.operator is operator.sub:
                items2 = [(p, -g) for p, g in items2]
            return items1 + items2
        pars = [p for p, _ in self._gradient_items(energy_min.ravel()[:1])]
        grads = self._quad(
            lambda e: [g for _, g in self._gradient_items(e)], energy_min, energy_max
        )
        return list(zip(pars, grads, strict=True))

    def _breakpoints(self) -> u.Quantity | None:
        bps = [b for b in (self.model1._breakpoints(), self.model2._breakpoints()) if b is not None]
        if not bps:
            return None
        unit = self._energy_unit()
        return u.Quantity(np.concatenate([np.atleast_1d(b.to_value(unit)) for b in bps]), unit)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout: type, model1, model2 (component dicts) and operator name."""
        return {
            "spectral": {
                "type": self.tag[0],
                "model1": self.model1.to_dict(full_output)["spectral"],
                "model2": self.model2.to_dict(full_output)["spectral"],
                "operator": self.operator.__name__,
            }
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> CompoundSpectralModel:
        """Create from the layout written by `to_dict`."""
        data = cls._unwrap_dict(dict(data))
        for key in ("model1", "model2", "operator"):
            if key not in data:
                raise ValueError(f"CompoundSpectralModel.from_dict: missing key {key!r}")
        model1 = SpectralModel.from_dict(data["model1"])
        model2 = SpectralModel.from_dict(data["model2"])
        return cls(model1, model2, data["operator"])

    def __str__(self) -> str:
        return (
            f"{self.__class__.__name__}\n    Component 1 : {self.model1}\n"
            f"    Component 2 : {self.model2}\n    Operator : {self.operator.__name__}\n"
        )


# ----------------------------------------------------------------------------- scale
class ScaleSpectralModel(SpectralModel):
    """Spectral model multiplied by a dimensionless ``norm``.

    Parameters
    ----------
    model : `SpectralModel`
        Scaled model (its parameters are shared).
    norm : float or `Parameter`
        Multiplicative factor.
    """

    tag = ("ScaleSpectralModel", "scale")
    norm = Parameter("norm", 1, unit="", interp="log", is_norm=True)

    def __init__(self, model: SpectralModel, norm: float | Parameter = 1, **kwargs: Any) -> None:
        if not isinstance(model, SpectralModel):
            raise TypeError(f"model must be a SpectralModel, got {type(model).__name__}")
        object.__setattr__(self, "model", model)
        kwargs["norm"] = norm
        self._init_parameters(kwargs)
        if kwargs:
            raise TypeError(f"ScaleSpectralModel: unexpected argument(s) {sorted(kwargs)}")
        self._covariance = None

    @property
    def parameters(self) -> Parameters:
        """``norm`` followed by the parameters of the scaled model."""
        return Parameters([self.norm]) + self.model.parameters

    def _energy_unit(self) -> u.UnitBase:
        return self.model._energy_unit()

    def _breakpoints(self) -> u.Quantity | None:
        return self.model._breakpoints()

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        return self.norm.value * self.model(energy)

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral flux."""
        return self.norm.value * self.model.integral(energy_min, energy_max)

    def energy_flux(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Energy flux."""
        return self.norm.value * self.model.energy_flux(energy_min, energy_max)

    def _gradient_items(self, energy: u.Quantity) -> list:
        items = [(p, self.norm.value * g) for p, g in self.model._gradient_items(energy)]
        if not self.norm.frozen:
            items.insert(0, (self.norm, self.model(energy)))
        return items

    def _integral_gradient_items(self, energy_min: u.Quantity, energy_max: u.Quantity) -> list:
        items = self.model._integral_gradient_items(energy_min, energy_max)
        items = [(p, self.norm.value * g) for p, g in items]
        if not self.norm.frozen:
            items.insert(0, (self.norm, self.model.integral(energy_min, energy_max)))
        return items

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout: type, parameters (norm) and the scaled model."""
        norm = self._parameters_to_dict(full_output)[0]
        return {
            "spectral": {
                "type": self.tag[0],
                "parameters": [norm],
                "model": self.model.to_dict(full_output)["spectral"],
            }
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> ScaleSpectralModel:
        """Create from the layout written by `to_dict`."""
        data = cls._unwrap_dict(dict(data))
        if "model" not in data:
            raise ValueError("ScaleSpectralModel.from_dict: missing key 'model'")
        model = SpectralModel.from_dict(data["model"])
        norm = cls.default_parameters["norm"].copy()
        for item in data.get("parameters", []):
            if item.get("name") != "norm":
                raise ValueError(f"ScaleSpectralModel: unknown parameter {item.get('name')!r}")
            norm.update_from_dict(item)
        norm.type = cls.type
        return cls(model, norm=norm)


# ----------------------------------------------------------------------------- template
class TemplateSpectralModel(SpectralModel):
    """Tabulated ``dN/dE``, interpolated linearly in log-log (``values_scale="log"``).

    Parameters
    ----------
    energy : `~astropy.units.Quantity`
        Increasing node energies (> 0).
    values : `~astropy.units.Quantity`
        ``dN/dE`` at the nodes.
    interp_kwargs : dict, optional
        ``values_scale``: "log" (default, values clipped at 1e-300) or "lin" (linear in
        ``ln E``); ``extrapolate``: extend the end segments (default True) or return 0
        outside the nodes.
    meta : dict, optional
        Free-form metadata.
    filename : str, optional
        Source file (kept for serialisation).
    """

    tag = ("TemplateSpectralModel", "template")

    def __init__(
        self,
        energy: u.Quantity,
        values: u.Quantity,
        interp_kwargs: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        filename: str | None = None,
    ) -> None:
        energy = u.Quantity(energy)
        values = u.Quantity(values)
        if energy.ndim != 1 or energy.shape != values.shape or energy.size < 2:
            raise ValueError(
                f"TemplateSpectralModel: energy {energy.shape} and values {values.shape} must "
                "be 1D of the same length >= 2"
            )
        if np.any(np.diff(energy.value) <= 0) or np.any(energy.value <= 0):
            raise ValueError("TemplateSpectralModel: energy must be positive and increasing")
        interp_kwargs = dict(interp_kwargs or {})
        scale = interp_kwargs.pop("values_scale", "log")
        extrapolate = interp_kwargs.pop("extrapolate", True)
        if scale not in ("log", "lin"):
            raise ValueError(f"values_scale must be 'log' or 'lin', got {scale!r}")
        if interp_kwargs:
            raise ValueError(
                f"TemplateSpectralModel: unknown interp_kwargs {sorted(interp_kwargs)}"
            )
        super().__init__()
        self.energy = energy
        self.values = values
        self.values_scale = scale
        self.extrapolate = bool(extrapolate)
        self.meta = dict(meta or {})
        self.filename = filename

    def _breakpoints(self) -> u.Quantity | None:
        return self.energy

    @property
    def interp_kwargs(self) -> dict[str, Any]:
        """Interpolation settings."""
        return {"values_scale": self.values_scale, "extrapolate": self.extrapolate}

    def _energy_unit(self) -> u.UnitBase:
        return self.energy.unit

    def _fp(self) -> np.ndarray:
        return np.clip(self.values.value, _TINY, None)

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        energy = self._as_energy(energy)
        log_e = np.log(energy.value)
        log_xp = np.log(self.energy.value)
        if self.values_scale == "log":
            out = np.exp(loglog_interp(log_e, log_xp, np.log(self._fp())))
        else:
            out = loglog_interp(log_e, log_xp, self.values.value)
        if not self.extrapolate:
            out = np.where((log_e < log_xp[0]) | (log_e > log_xp[-1]), 0.0, out)
        return u.Quantity(out, self.values.unit)

    def evaluate(self, energy: u.Quantity) -> u.Quantity:
        """Interpolated ``dN/dE`` (no parameters)."""
        return self(energy)

    def _exact_integral(self, energy_min, energy_max, power: int) -> u.Quantity:
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to_value(emin.unit)
        xp = self.energy.to_value(emin.unit)
        if not self.extrapolate:
            emin_v = np.clip(emin.value, xp[0], xp[-1])
            emax = np.clip(emax, xp[0], xp[-1])
        else:
            emin_v = emin.value
        res = loglog_integral(emin_v, emax, xp, self._fp(), power)
        return u.Quantity(res, self.values.unit * emin.unit ** (1 + power))

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral flux (exact for log-log interpolation)."""
        if self.values_scale == "log":
            return self._exact_integral(energy_min, energy_max, 0)
        return super().integral(energy_min, energy_max)

    def energy_flux(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Energy flux (exact for log-log interpolation)."""
        if self.values_scale == "log":
            return self._exact_integral(energy_min, energy_max, 1)
        return super().energy_flux(energy_min, energy_max)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout with the nodes inline."""
        data: dict[str, Any] = {
            "type": self.tag[0],
            "energy": _quantity_dict(self.energy),
            "values": _quantity_dict(self.values),
        }
        if self.filename is not None:
            data["filename"] = str(self.filename)
        if full_output or self.interp_kwargs != {"values_scale": "log", "extrapolate": True}:
            data["interp_kwargs"] = self.interp_kwargs
        return {"spectral": data}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> TemplateSpectralModel:
        """Create from the layout written by `to_dict`."""
        data = cls._unwrap_dict(dict(data))
        for key in ("energy", "values"):
            if key not in data:
                raise ValueError(f"TemplateSpectralModel.from_dict: missing key {key!r}")
        return cls(
            energy=_quantity_from(data["energy"], "energy"),
            values=_quantity_from(data["values"], "values"),
            interp_kwargs=data.get("interp_kwargs"),
            filename=data.get("filename"),
        )

    @classmethod
    def from_table(
        cls, table: Table, energy_column: str | None = None, values_column: str | None = None
    ) -> TemplateSpectralModel:
        """Create from a table with an energy column and a ``dN/dE`` column.

        Default column names: ``ENERGY``/``energy``/``e_ref`` and ``DNDE``/``dnde``/``values``.
        """
        def pick(given, options, what):
            if given is not None:
                if given not in table.colnames:
                    raise KeyError(f"column {given!r} not in table ({table.colnames})")
                return given
            for name in options:
                if name in table.colnames:
                    return name
            raise KeyError(f"no {what} column (tried {options}) in table ({table.colnames})")

        ecol = pick(energy_column, ("ENERGY", "energy", "e_ref", "E"), "energy")
        vcol = pick(values_column, ("DNDE", "dnde", "values", "FLUX", "flux"), "values")
        energy = u.Quantity(table[ecol])
        values = u.Quantity(table[vcol])
        if energy.unit == u.dimensionless_unscaled:
            raise ValueError(f"energy column {ecol!r} has no unit")
        return cls(energy=energy, values=values, meta=dict(table.meta))

    @classmethod
    def read_xspec_model(
        cls, filename: str, param: float, **kwargs: Any
    ) -> TemplateSpectralModel:
        """Read an XSPEC additive table model (OGIP 92-009) at parameter value ``param``.

        The ``SPECTRA`` rows (``INTPSPEC``, photons per cm2 s per bin) are interpolated
        linearly in ``PARAMVAL`` (first parameter) and divided by the ``ENERGIES`` bin widths;
        nodes are the bin log-centres. Energies use the column unit (default keV).
        """
        path = make_path(filename)
        energies = read_table_hdu(path, "ENERGIES")
        spectra = read_table_hdu(path, "SPECTRA")
        for table, cols, hdu in (
            (energies, ("ENERG_LO", "ENERG_HI"), "ENERGIES"),
            (spectra, ("PARAMVAL", "INTPSPEC"), "SPECTRA"),
        ):
            missing = [c for c in cols if c not in table.colnames]
            if missing:
                raise FITSFormatError(f"{path} [HDU {hdu}]: missing column(s) {missing}")
        eunit = energies["ENERG_LO"].unit or u.keV
        e_lo = np.asarray(energies["ENERG_LO"], dtype=float)
        e_hi = np.asarray(energies["ENERG_HI"], dtype=float)
        pvals = np.asarray(spectra["PARAMVAL"], dtype=float)
        pvals = pvals[:, 0] if pvals.ndim > 1 else pvals
        spec = np.asarray(spectra["INTPSPEC"], dtype=float)
        order = np.argsort(pvals)
        pvals, spec = pvals[order], spec[order]
        if not pvals[0] <= param <= pvals[-1]:
            raise ValueError(
                f"{path}: param {param} outside the table range [{pvals[0]}, {pvals[-1]}]"
            )
        k = int(np.clip(np.searchsorted(pvals, param, side="right") - 1, 0, len(pvals) - 2))
        w = 0.0 if pvals[k + 1] == pvals[k] else (param - pvals[k]) / (pvals[k + 1] - pvals[k])
        row = (1 - w) * spec[k] + w * spec[k + 1]
        energy = u.Quantity(np.sqrt(e_lo * e_hi), eunit)
        values = u.Quantity(row / (e_hi - e_lo), u.Unit("cm-2 s-1") / eunit)
        meta = {"param": float(param)}
        return cls(energy=energy, values=values, meta=meta, filename=str(filename), **kwargs)


# ----------------------------------------------------------------------------- piecewise
class PiecewiseNormSpectralModel(SpectralModel):
    """Norms at energy nodes, interpolated in ``ln E`` (``interp="log"``: log-log).

    Parameters
    ----------
    energy : `~astropy.units.Quantity`
        Increasing node energies.
    norms : list of float or `Parameter`, optional
        Norm at each node (default 1); parameters are named ``norm_0``, ``norm_1``, ...
    interp : {"log", "lin"}
        "log": ``ln norm`` linear in ``ln E``; "lin": ``norm`` linear in ``ln E``. The end
        segments are extended outside the nodes.
    """

    tag = ("PiecewiseNormSpectralModel", "piecewise-norm")

    def __init__(self, energy: u.Quantity, norms=None, interp: str = "log") -> None:
        energy = u.Quantity(energy)
        if energy.ndim != 1 or energy.size < 2 or np.any(np.diff(energy.value) <= 0):
            raise ValueError(
                "PiecewiseNormSpectralModel: energy must be 1D increasing, size >= 2"
            )
        if interp not in ("log", "lin"):
            raise ValueError(f"interp must be 'log' or 'lin', got {interp!r}")
        if norms is None:
            norms = np.ones(energy.size)
        if len(norms) != energy.size:
            raise ValueError(f"got {len(norms)} norms for {energy.size} energy nodes")
        params, attrs = [], {}
        for idx, norm in enumerate(norms):
            name = f"norm_{idx}"
            par = norm if isinstance(norm, Parameter) else Parameter(
                name, float(norm), unit="", interp="log", is_norm=True
            )
            if par.type is None:
                par.type = self.type
            attrs[name] = idx
            params.append(par)
            object.__setattr__(self, name, par)
        object.__setattr__(self, "_parameter_attrs", attrs)
        object.__setattr__(self, "parameters", Parameters(params))
        self._covariance = None
        self.energy = energy
        self.interp = interp

    def _energy_unit(self) -> u.UnitBase:
        return self.energy.unit

    def _breakpoints(self) -> u.Quantity | None:
        return self.energy

    @property
    def norms(self) -> np.ndarray:
        """Current norm values."""
        return np.array([p.value for p in self.parameters], dtype=float)

    def _weights(self, energy: u.Quantity) -> tuple[np.ndarray, np.ndarray]:
        log_e = np.log(self._as_energy(energy).value)
        log_xp = np.log(self.energy.value)
        idx = _segments(log_e, log_xp)
        t = (log_e - log_xp[idx]) / (log_xp[idx + 1] - log_xp[idx])
        return idx, t

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        idx, t = self._weights(energy)
        norms = self.norms
        if self.interp == "log":
            logn = np.log(np.clip(norms, _TINY, None))
            return u.Quantity(np.exp((1 - t) * logn[idx] + t * logn[idx + 1]))
        return u.Quantity((1 - t) * norms[idx] + t * norms[idx + 1])

    def evaluate(self, energy: u.Quantity, **norms: Any) -> u.Quantity:
        """Norm at ``energy`` (current parameter values)."""
        return self(energy)

    def _gradient_items(self, energy: u.Quantity) -> list:
        idx, t = self._weights(energy)
        value = self(energy).value if self.interp == "log" else None
        items = []
        for k, par in enumerate(self.parameters):
            if par.frozen:
                continue
            weight = np.where(idx == k, 1 - t, 0.0) + np.where(idx + 1 == k, t, 0.0)
            if self.interp == "log":
                weight = value * weight / max(par.value, _TINY)
            items.append((par, u.Quantity(weight)))
        return items

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral (exact for ``interp="log"``), unit of energy."""
        if self.interp != "log":
            return super().integral(energy_min, energy_max)
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to_value(emin.unit)
        xp = self.energy.to_value(emin.unit)
        fp = np.clip(self.norms, _TINY, None)
        return u.Quantity(loglog_integral(emin.value, emax, xp, fp), emin.unit)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout: type, parameters (norm_i), energy nodes and interp."""
        return {
            "spectral": {
                "type": self.tag[0],
                "parameters": self._parameters_to_dict(full_output),
                "energy": _quantity_dict(self.energy),
                "interp": self.interp,
            }
        }

    def _default_for(self, name: str) -> Parameter | None:
        return Parameter(name, 1.0, unit="", interp="log", is_norm=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> PiecewiseNormSpectralModel:
        """Create from the layout written by `to_dict`."""
        data = cls._unwrap_dict(dict(data))
        if "energy" not in data:
            raise ValueError("PiecewiseNormSpectralModel.from_dict: missing key 'energy'")
        energy = _quantity_from(data["energy"], "energy")
        by_name = {p["name"]: p for p in data.get("parameters", [])}
        norms = []
        for idx in range(energy.size):
            par = Parameter(f"norm_{idx}", 1.0, unit="", interp="log", is_norm=True)
            if par.name in by_name:
                par.update_from_dict(by_name.pop(par.name))
            norms.append(par)
        if by_name:
            raise ValueError(
                f"PiecewiseNormSpectralModel: unknown parameter(s) {sorted(by_name)}"
            )
        return cls(energy=energy, norms=norms, interp=data.get("interp", "log"))
