"""Spectral model base class: evaluation, integration, gradients, error propagation, plots.

Integration
-----------
Models with an analytic integral define ``evaluate_integral(energy_min, energy_max, **pars)``
(and ``evaluate_energy_flux``); the others are integrated by Gauss-Legendre quadrature in
``ln E`` (`integrate_log_space`: 8 sub-intervals per decade, 8 nodes each), which is exact to
~1e-10 for the smooth spectra used here.

Gradients
---------
``evaluate_gradient(energy)`` and ``integral_gradient(energy_min, energy_max)`` return one
Quantity per parameter of ``model.free_parameters_unique`` (free parameters, linked ones
once), the derivative with respect to the parameter *value* (unit: model unit / parameter
unit). Models provide analytic derivatives through ``_evaluate_gradient(energy, **pars)`` /
``_evaluate_integral_gradient(energy_min, energy_max, **pars)`` (dicts keyed by parameter
attribute name); without them the integral gradient is the quadrature of the analytic
evaluate gradient, and as a last resort central finite differences are used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import astropy.units as u
import numpy as np

from ...utils.units import to_quantity
from ..parameter import Parameter, Parameters
from .core import ModelBase

__all__ = ["SpectralModel", "integrate_log_space", "DEFAULT_SED_UNITS"]

DEFAULT_SED_UNITS = {
    "dnde": u.Unit("cm-2 s-1 TeV-1"),
    "e2dnde": u.Unit("erg cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("erg cm-2 s-1"),
    "norm": u.dimensionless_unscaled,
}
_LN10 = math.log(10.0)
_GL_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _gauss_legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    if order not in _GL_CACHE:
        _GL_CACHE[order] = np.polynomial.legendre.leggauss(order)
    return _GL_CACHE[order]


def integrate_log_space(
    func: Callable[[u.Quantity], Any],
    energy_min: u.Quantity,
    energy_max: u.Quantity,
    n_sub_per_decade: int = 8,
    order: int = 8,
    breakpoints: u.Quantity | None = None,
):
    """Integrate ``func(E) dE`` over ``[energy_min, energy_max]`` (Gauss-Legendre in ln E).

    Parameters
    ----------
    func : callable
        Vectorised function of an energy Quantity of shape ``shape + (n_nodes,)``; returns a
        Quantity or a list of Quantities of that shape.
    energy_min, energy_max : `~astropy.units.Quantity`
        Integration bounds (> 0, broadcastable).
    n_sub_per_decade, order : int
        Sub-intervals per decade (same for all bins: the widest bin decides) and nodes each.
    breakpoints : `~astropy.units.Quantity`, optional
        Energies where ``func`` has kinks; each bin is split there.

    Returns
    -------
    integral : `~astropy.units.Quantity` or list of Quantity
        Shape of the broadcast bounds.
    """
    energy_min = u.Quantity(energy_min)
    unit = energy_min.unit
    emax = u.Quantity(energy_max).to_value(unit)
    emin = energy_min.value
    emin, emax = np.broadcast_arrays(np.asarray(emin, float), np.asarray(emax, float))
    if np.any(emin <= 0) or np.any(emax <= 0):
        raise ValueError("integrate_log_space: energies must be > 0")
    if breakpoints is not None:
        return _integrate_split(func, emin, emax, unit, breakpoints, n_sub_per_decade, order)
    lo = np.log(emin)
    width = np.log(emax) - lo
    span = float(np.max(np.abs(width), initial=0.0)) / _LN10
    n_sub = max(1, math.ceil(span * n_sub_per_decade))
    x, w = _gauss_legendre(order)
    frac = ((np.arange(n_sub)[:, None] + 0.5 * (x[None, :] + 1.0)) / n_sub).ravel()
    wfrac = (np.broadcast_to(w, (n_sub, order)) / (2.0 * n_sub)).ravel()
    energy = np.exp(lo[..., None] + width[..., None] * frac)
    weights = width[..., None] * wfrac * energy
    values = func(u.Quantity(energy, unit, copy=False))

    def _sum(val: u.Quantity) -> u.Quantity:
        val = u.Quantity(val)
        return u.Quantity(np.sum(val.value * weights, axis=-1), val.unit * unit)

    if isinstance(values, list | tuple):
        return [_sum(v) for v in values]
    return _sum(values)


def _integrate_split(func, emin, emax, unit, breakpoints, n_sub_per_decade, order):
    bps = np.atleast_1d(u.Quantity(breakpoints).to_value(unit)).ravel()
    sign = np.where(emax >= emin, 1.0, -1.0)
    lo, hi = np.minimum(emin, emax)[..., None], np.maximum(emin, emax)[..., None]
    inner = np.clip(np.broadcast_to(bps, lo.shape[:-1] + bps.shape), lo, hi)
    nodes = np.sort(np.concatenate([lo, inner, hi], axis=-1), axis=-1)
    res = integrate_log_space(
        func,
        u.Quantity(nodes[..., :-1], unit),
        u.Quantity(nodes[..., 1:], unit),
        n_sub_per_decade,
        order,
    )
    if isinstance(res, list):
        return [np.sum(r, axis=-1) * sign for r in res]
    return np.sum(res, axis=-1) * sign


def _energy_bounds(energy_bounds) -> tuple[u.Quantity, u.Quantity]:
    if isinstance(energy_bounds, u.Quantity):
        if energy_bounds.size != 2:
            raise ValueError(f"energy_bounds: expected 2 values, got {energy_bounds}")
        return energy_bounds[0], energy_bounds[1]
    emin, emax = energy_bounds
    return u.Quantity(emin), u.Quantity(emax)


class SpectralModel(ModelBase):
    """Base class of spectral models (``dN/dE`` as a function of energy)."""

    type = "spectral"
    _n_sub_per_decade = 8
    _quadrature_order = 8

    # -- evaluation ---------------------------------------------------------------------
    def _breakpoints(self) -> u.Quantity | None:
        """Energies where the model has kinks (quadrature splits bins there)."""
        return None

    def _quad(self, func, energy_min, energy_max):
        return integrate_log_space(
            func,
            energy_min,
            energy_max,
            self._n_sub_per_decade,
            self._quadrature_order,
            self._breakpoints(),
        )

    @property
    def is_norm_spectral_model(self) -> bool:
        """Whether the model is a dimensionless norm (used on other spectra / maps)."""
        return "Norm" in type(self).__name__

    def _energy_unit(self) -> u.UnitBase:
        for par in self.parameters:
            if par.unit.is_equivalent(u.TeV) and par.unit != u.dimensionless_unscaled:
                return par.unit
        return u.TeV

    def _as_energy(self, energy: Any, name: str = "energy") -> u.Quantity:
        return to_quantity(energy, self._energy_unit(), name)

    def _parameter_kwargs(self, energy_unit: u.UnitBase) -> dict[str, u.Quantity]:
        kwargs = {}
        pars = self.parameters._parameters
        for attr, idx in self.__dict__.get("_parameter_attrs", {}).items():
            quantity = pars[idx].quantity
            if quantity.unit != energy_unit and quantity.unit.is_equivalent(energy_unit):
                quantity = quantity.to(energy_unit)
            kwargs[attr] = quantity
        return kwargs

    def __call__(self, energy: u.Quantity) -> u.Quantity:
        """Differential flux ``dN/dE`` at ``energy``."""
        energy = self._as_energy(energy)
        return self.evaluate(energy, **self._parameter_kwargs(energy.unit))

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral flux between ``energy_min`` and ``energy_max`` (broadcast)."""
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to(emin.unit)
        if hasattr(self, "evaluate_integral"):
            return self.evaluate_integral(emin, emax, **self._parameter_kwargs(emin.unit))
        return self._quad(self.__call__, emin, emax)

    def energy_flux(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Energy flux ``int E dN/dE dE`` between ``energy_min`` and ``energy_max``."""
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to(emin.unit)
        if hasattr(self, "evaluate_energy_flux"):
            return self.evaluate_energy_flux(emin, emax, **self._parameter_kwargs(emin.unit))
        return self._quad(lambda e: e * self(e), emin, emax)

    # -- gradients ----------------------------------------------------------------------
    @property
    def free_parameters_unique(self) -> Parameters:
        """Free parameters, linked ones once: the order of all gradient lists."""
        return self.parameters.free_parameters.unique_parameters

    def _attr_items(self) -> list[tuple[str, Parameter]]:
        pars = self.parameters._parameters
        return [(a, pars[i]) for a, i in self.__dict__.get("_parameter_attrs", {}).items()]

    def _collect(self, items: Sequence[tuple[Parameter, u.Quantity]]) -> list[u.Quantity]:
        """Sum derivatives per parameter object, ordered as `free_parameters_unique`."""
        out: dict[int, u.Quantity] = {}
        for par, grad in items:
            key = id(par)
            out[key] = grad if key not in out else out[key] + grad
        result = []
        for par in self.free_parameters_unique:
            if id(par) not in out:
                raise RuntimeError(f"{type(self).__name__}: no derivative for {par.name!r}")
            result.append(out[id(par)])
        return result

    def _numerical_items(
        self, func: Callable[[], u.Quantity], parameters: Sequence[Parameter] | None = None
    ) -> list[tuple[Parameter, Any]]:
        items = []
        for par in self.free_parameters_unique if parameters is None else parameters:
            factor = par._factor
            value = par.value
            step = 1e-6 * (abs(value) if value != 0 else abs(par.scale))
            try:
                par._set_value_unchecked(value + step)
                f_plus = func()
                par._set_value_unchecked(value - step)
                f_minus = func()
            finally:
                par._factor = factor
            items.append((par, (f_plus - f_minus) / (2 * step * par.unit)))
        return items

    def _gradient_items(self, energy: u.Quantity) -> list[tuple[Parameter, u.Quantity]]:
        """(parameter, d dnde / d value) pairs for free parameters (energy in model unit)."""
        if hasattr(self, "_evaluate_gradient"):
            grads = self._evaluate_gradient(energy, **self._parameter_kwargs(energy.unit))
            return self._complete(grads, lambda: self(energy))
        return self._numerical_items(lambda: self(energy))

    def _complete(self, grads: dict[str, Any], func: Callable[[], u.Quantity]) -> list:
        """Analytic derivatives plus finite differences for free parameters not covered."""
        items, missing = [], []
        for attr, par in self._attr_items():
            if par.frozen:
                continue
            if attr in grads:
                items.append((par, grads[attr]))
            else:
                missing.append(par)
        if missing:
            items += self._numerical_items(func, missing)
        return items

    def _integral_gradient_items(
        self, energy_min: u.Quantity, energy_max: u.Quantity
    ) -> list[tuple[Parameter, u.Quantity]]:
        if hasattr(self, "_evaluate_integral_gradient"):
            kwargs = self._parameter_kwargs(energy_min.unit)
            grads = self._evaluate_integral_gradient(energy_min, energy_max, **kwargs)
            return self._complete(grads, lambda: self.integral(energy_min, energy_max))
        if hasattr(self, "_evaluate_gradient") or not hasattr(self, "evaluate_integral"):
            pars = [p for p, _ in self._gradient_items(energy_min.ravel()[:1])]
            grads = self._quad(
                lambda e: [g for _, g in self._gradient_items(e)], energy_min, energy_max
            )
            return list(zip(pars, grads, strict=True))
        return self._numerical_items(lambda: self.integral(energy_min, energy_max))

    def evaluate_gradient(self, energy: u.Quantity) -> list[u.Quantity]:
        """Derivatives of ``dN/dE`` w.r.t. the values of `free_parameters_unique`."""
        energy = self._as_energy(energy)
        return self._collect(self._gradient_items(energy))

    def integral_gradient(self, energy_min: u.Quantity, energy_max: u.Quantity) -> list[u.Quantity]:
        """Derivatives of the integral flux w.r.t. the values of `free_parameters_unique`."""
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to(emin.unit)
        emin, emax = np.broadcast_arrays(emin, emax, subok=True)
        return self._collect(self._integral_gradient_items(emin, emax))

    def energy_flux_gradient(
        self, energy_min: u.Quantity, energy_max: u.Quantity
    ) -> list[u.Quantity]:
        """Derivatives of the energy flux w.r.t. the values of `free_parameters_unique`."""
        emin = self._as_energy(energy_min, "energy_min")
        emax = self._as_energy(energy_max, "energy_max").to(emin.unit)
        emin, emax = np.broadcast_arrays(emin, emax, subok=True)
        if hasattr(self, "evaluate_energy_flux"):
            items = self._numerical_items(lambda: self.energy_flux(emin, emax))
        else:
            pars = [p for p, _ in self._gradient_items(emin.ravel()[:1])]
            grads = self._quad(lambda e: [e * g for _, g in self._gradient_items(e)], emin, emax)
            items = list(zip(pars, grads, strict=True))
        return self._collect(items)

    # -- error propagation --------------------------------------------------------------
    def _propagate(self, value: u.Quantity, grads: list[u.Quantity]) -> u.Quantity:
        free = self.free_parameters_unique
        value = u.Quantity(value)
        if len(free) == 0:
            err = np.zeros(value.shape)
        else:
            cov = self.covariance.get_subcovariance(free)
            jac = np.stack(
                [
                    np.broadcast_to(u.Quantity(g).to_value(value.unit / p.unit), value.shape)
                    for g, p in zip(grads, free, strict=True)
                ]
            )
            var = np.einsum("i...,ij,j...->...", jac, cov, jac)
            err = np.sqrt(np.clip(var, 0, None))
        return u.Quantity([value.value, err], value.unit)

    def evaluate_error(self, energy: u.Quantity, epsilon: float | None = None) -> u.Quantity:
        """``dN/dE`` and its 1-sigma error from the model covariance, stacked (shape (2, ...)).

        ``epsilon`` is accepted for compatibility (derivatives are analytic or use fixed
        relative steps).
        """
        energy = self._as_energy(energy)
        return self._propagate(self(energy), self.evaluate_gradient(energy))

    def integral_error(
        self, energy_min: u.Quantity, energy_max: u.Quantity, epsilon: float | None = None
    ) -> u.Quantity:
        """Integral flux and its error, stacked (shape (2, ...))."""
        return self._propagate(
            self.integral(energy_min, energy_max), self.integral_gradient(energy_min, energy_max)
        )

    def energy_flux_error(
        self, energy_min: u.Quantity, energy_max: u.Quantity, epsilon: float | None = None
    ) -> u.Quantity:
        """Energy flux and its error, stacked (shape (2, ...))."""
        return self._propagate(
            self.energy_flux(energy_min, energy_max),
            self.energy_flux_gradient(energy_min, energy_max),
        )

    # -- spectral index, inverse, pivot -------------------------------------------------
    def spectral_index(self, energy: u.Quantity, epsilon: float = 1e-5) -> np.ndarray:
        """Local spectral index ``-d ln(dN/dE) / d ln E`` (finite difference)."""
        energy = self._as_energy(energy)
        f1 = self(energy)
        f2 = self(energy * (1 + epsilon))
        return np.log((f1 / f2).to_value(u.one)) / np.log(1 + epsilon)

    def spectral_index_error(self, energy: u.Quantity, epsilon: float = 1e-5) -> np.ndarray:
        """Spectral index and its error, stacked (shape (2, ...))."""
        energy = self._as_energy(energy)
        index = u.Quantity(self.spectral_index(energy, epsilon))
        items = self._numerical_items(lambda: u.Quantity(self.spectral_index(energy, epsilon)))
        return self._propagate(index, self._collect(items)).value

    def inverse(
        self,
        value: u.Quantity,
        energy_min: u.Quantity = 0.1 * u.TeV,
        energy_max: u.Quantity = 100 * u.TeV,
    ) -> u.Quantity:
        """Energy where ``dN/dE`` equals ``value`` (model monotonic in the range; NaN if none).

        Vectorised bisection in ``ln E`` over all values at once.
        """
        value = u.Quantity(value)
        emin = self._as_energy(energy_min, "energy_min")
        unit = emin.unit
        lo = np.full(value.shape, np.log(emin.value))
        hi = np.full(value.shape, np.log(self._as_energy(energy_max, "energy_max").to_value(unit)))

        def diff(log_e):
            f = self(u.Quantity(np.exp(log_e), unit))
            return (f - value).to_value(value.unit)

        d_lo = diff(lo)
        d_hi = diff(hi)
        ok = np.sign(d_lo) * np.sign(d_hi) <= 0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            d_mid = diff(mid)
            left = np.sign(d_mid) == np.sign(d_lo)
            lo = np.where(left, mid, lo)
            d_lo = np.where(left, d_mid, d_lo)
            hi = np.where(left, hi, mid)
        result = np.where(ok, np.exp(0.5 * (lo + hi)), np.nan)
        return u.Quantity(result, unit)

    def inverse_all(
        self,
        values: u.Quantity,
        energy_min: u.Quantity = 0.1 * u.TeV,
        energy_max: u.Quantity = 100 * u.TeV,
    ) -> list[u.Quantity]:
        """All energies where ``dN/dE`` equals each value (for non-monotonic models)."""
        from scipy.optimize import brentq

        values = np.atleast_1d(u.Quantity(values))
        emin = self._as_energy(energy_min, "energy_min")
        unit = emin.unit
        grid = np.linspace(
            np.log(emin.value), np.log(self._as_energy(energy_max).to_value(unit)), 1001
        )
        f_grid = self(u.Quantity(np.exp(grid), unit)).to_value(values.unit)
        out = []
        for val in values.value:
            d = f_grid - val
            idx = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) <= 0)
            roots = []
            for i in idx:
                if d[i] == 0:
                    roots.append(grid[i])
                    continue
                roots.append(
                    brentq(
                        lambda x, v=val: self(u.Quantity(np.exp(x), unit)).to_value(values.unit)
                        - v,
                        grid[i],
                        grid[i + 1],
                    )
                )
            out.append(u.Quantity(np.unique(np.exp(roots)), unit))
        return out

    @property
    def pivot_energy(self) -> u.Quantity:
        """Decorrelation energy: where the relative ``dN/dE`` error is smallest (NaN if flat)."""
        from scipy.optimize import minimize_scalar

        unit = self._energy_unit()
        grid = np.linspace(np.log(1e-4), np.log(1e5), 361) + np.log(u.TeV.to(unit))

        def rel_err(log_e):
            val, err = self.evaluate_error(u.Quantity(np.exp(log_e), unit)).value
            return err / np.abs(val)

        rel = rel_err(grid)
        if not np.all(np.isfinite(rel)) or np.ptp(rel) <= 1e-9 * np.max(rel):
            return u.Quantity(np.nan, unit)
        i = int(np.argmin(rel))
        if i in (0, grid.size - 1):
            warnings.warn(f"{type(self).__name__}: pivot energy is outside 1e-4 - 1e5 TeV")
            return u.Quantity(np.nan, unit)
        res = minimize_scalar(
            lambda x: float(rel_err(np.array([x]))[0]),
            bounds=(grid[i - 1], grid[i + 1]),
            method="bounded",
            options={"xatol": 1e-8},
        )
        return u.Quantity(np.exp(res.x), unit)

    # -- SED helpers --------------------------------------------------------------------
    def reference_fluxes(self, energy_axis) -> dict[str, u.Quantity]:
        """Reference fluxes for flux points: e_ref, e_min, e_max, ref_dnde/flux/eflux/e2dnde.

        Parameters
        ----------
        energy_axis : MapAxis-like or `~astropy.units.Quantity`
            An axis with ``edges_min``, ``edges_max`` and ``center`` (log-centres), or an
            array of energy edges.
        """
        if isinstance(energy_axis, u.Quantity):
            edges = energy_axis
            e_min, e_max = edges[:-1], edges[1:]
            e_ref = np.sqrt(e_min * e_max)
        else:
            e_min, e_max = energy_axis.edges_min, energy_axis.edges_max
            e_ref = energy_axis.center
        dnde = self(e_ref)
        return {
            "e_ref": e_ref,
            "e_min": e_min,
            "e_max": e_max,
            "ref_dnde": dnde,
            "ref_flux": self.integral(e_min, e_max),
            "ref_eflux": self.energy_flux(e_min, e_max),
            "ref_e2dnde": dnde * e_ref**2,
        }

    def _sed(self, sed_type: str, edges: u.Quantity, with_error: bool):
        center = np.sqrt(edges[:-1] * edges[1:])
        if sed_type in ("dnde", "norm", "e2dnde"):
            res = self.evaluate_error(center) if with_error else self(center)
            if sed_type == "e2dnde":
                res = res * center**2
        elif sed_type == "flux":
            res = (self.integral_error if with_error else self.integral)(edges[:-1], edges[1:])
        elif sed_type == "eflux":
            func = self.energy_flux_error if with_error else self.energy_flux
            res = func(edges[:-1], edges[1:])
        else:
            raise ValueError(
                f"sed_type must be one of {list(DEFAULT_SED_UNITS)}, got {sed_type!r}"
            )
        return center, res

    def _plot_setup(self, energy_bounds, sed_type, energy_power, n_points, kwargs):
        emin, emax = _energy_bounds(energy_bounds)
        emin = self._as_energy(emin, "energy_bounds")
        edges = u.Quantity(
            np.geomspace(emin.value, emax.to_value(emin.unit), int(n_points) + 1), emin.unit
        )
        if self.is_norm_spectral_model:
            sed_type = "norm"
        if sed_type not in DEFAULT_SED_UNITS:
            raise ValueError(
                f"sed_type must be one of {list(DEFAULT_SED_UNITS)}, got {sed_type!r}"
            )
        xunit = u.Unit(kwargs.pop("energy_unit", emin.unit))
        yunit = u.Unit(kwargs.pop("yunits", DEFAULT_SED_UNITS[sed_type] * xunit**energy_power))
        return edges, sed_type, xunit, yunit

    @staticmethod
    def _plot_format_ax(ax, sed_type: str, energy_power: int, xunit, yunit) -> None:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"Energy [{xunit.to_string()}]")
        label = sed_type if energy_power == 0 else f"E^{energy_power} x {sed_type}"
        ax.set_ylabel(f"{label} [{yunit.to_string()}]")

    def plot(
        self,
        energy_bounds,
        ax=None,
        sed_type: str = "dnde",
        energy_power: int = 0,
        n_points: int = 100,
        **kwargs,
    ):
        """Plot the model (matplotlib), log-log.

        Parameters
        ----------
        energy_bounds : `~astropy.units.Quantity` or tuple
            Energy range.
        ax : `~matplotlib.axes.Axes`, optional
            Axes (default: current).
        sed_type : {"dnde", "e2dnde", "flux", "eflux"}
            Quantity plotted (norm models always plot "norm").
        energy_power : int
            Multiply by ``E**energy_power``.
        n_points : int
            Number of energy points (bins for "flux"/"eflux").
        **kwargs
            Passed to ``ax.plot`` (``energy_unit`` and ``yunits`` select the axis units).
        """
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        edges, sed_type, xunit, yunit = self._plot_setup(
            energy_bounds, sed_type, energy_power, n_points, kwargs
        )
        center, flux = self._sed(sed_type, edges, with_error=False)
        flux = flux * center**energy_power
        ax.plot(center.to_value(xunit), flux.to_value(yunit), **kwargs)
        self._plot_format_ax(ax, sed_type, energy_power, xunit, yunit)
        return ax

    def plot_error(
        self,
        energy_bounds,
        ax=None,
        sed_type: str = "dnde",
        energy_power: int = 0,
        n_points: int = 100,
        **kwargs,
    ):
        """Plot the 1-sigma error band (butterfly) from the model covariance.

        Same arguments as `plot`; ``kwargs`` go to ``ax.fill_between`` (defaults:
        ``facecolor="black"``, ``alpha=0.2``, ``linewidth=0``).
        """
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        edges, sed_type, xunit, yunit = self._plot_setup(
            energy_bounds, sed_type, energy_power, n_points, kwargs
        )
        center, res = self._sed(sed_type, edges, with_error=True)
        value, err = res[0] * center**energy_power, res[1] * center**energy_power
        kwargs.setdefault("facecolor", "black")
        kwargs.setdefault("alpha", 0.2)
        kwargs.setdefault("linewidth", 0)
        ax.fill_between(
            center.to_value(xunit),
            (value - err).to_value(yunit),
            (value + err).to_value(yunit),
            **kwargs,
        )
        self._plot_format_ax(ax, sed_type, energy_power, xunit, yunit)
        return ax

    # -- arithmetic -----------------------------------------------------------------------
    def _compound(self, other, operator_name: str, reverse: bool = False):
        import operator

        from .spectral_compound import CompoundSpectralModel

        if not isinstance(other, SpectralModel):
            return NotImplemented
        op = getattr(operator, operator_name)
        if reverse:
            return CompoundSpectralModel(other, self, op)
        return CompoundSpectralModel(self, other, op)

    def __add__(self, other):
        return self._compound(other, "add")

    def __radd__(self, other):
        return self._compound(other, "add", reverse=True)

    def __sub__(self, other):
        return self._compound(other, "sub")

    def __rsub__(self, other):
        return self._compound(other, "sub", reverse=True)

    def __mul__(self, other):
        return self._compound(other, "mul")

    def __rmul__(self, other):
        return self._compound(other, "mul", reverse=True)

    def __truediv__(self, other):
        return self._compound(other, "truediv")

    def __rtruediv__(self, other):
        return self._compound(other, "truediv", reverse=True)
