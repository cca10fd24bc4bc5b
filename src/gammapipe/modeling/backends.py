"""Optimisation backends for `~gammapipe.modeling.Fit` (iminuit, scipy), imported lazily.

All backends work on the *factors* of the free parameters (``value / scale``; `Fit` calls
`Parameters.autoscale` first). ``function()`` returns the total statistic (``-2 log L``) for
the current parameter values; ``gradient()`` (optional) returns its derivatives with respect
to the free parameter values, converted here to factor space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .parameter import Parameters

__all__ = [
    "FactorObjective",
    "optimize_iminuit",
    "covariance_iminuit",
    "contour_iminuit",
    "optimize_scipy",
    "covariance_scipy",
    "numerical_hessian",
    "BACKENDS",
]

_MINUIT_OPTS = ("tol", "strategy", "print_level", "migrad_opts", "ncall", "errordef")


class FactorObjective:
    """Statistic as a function of the free-parameter factors (with optional gradient).

    Parameters
    ----------
    parameters : `Parameters`
        Free parameters varied by the optimiser.
    function : callable
        ``function()`` -> total statistic.
    gradient : callable, optional
        ``gradient()`` -> ``(stat, d stat / d value)`` for ``parameters``.
    store_trace : bool
        Record the statistic and the parameter values of every call.
    """

    def __init__(
        self,
        parameters: Parameters,
        function: Callable[[], float],
        gradient: Callable[[], tuple[float, np.ndarray]] | None = None,
        store_trace: bool = False,
    ) -> None:
        self.parameters = parameters
        self.function = function
        self.gradient = gradient
        self.store_trace = store_trace
        self.trace: list[list[float]] = []
        self.nfev = 0

    def _set(self, factors) -> None:
        self.parameters.set_parameter_factors(factors)

    def fcn(self, factors) -> float:
        """Statistic at ``factors``."""
        self._set(np.asarray(factors, dtype=float))
        self.nfev += 1
        stat = float(self.function())
        if self.store_trace:
            self.trace.append([stat, *self.parameters.values.tolist()])
        return stat

    def grad(self, factors) -> np.ndarray:
        """Gradient of the statistic in factor space at ``factors``."""
        self._set(np.asarray(factors, dtype=float))
        _, grad = self.gradient()
        return np.asarray(grad, dtype=float) * self.parameters.scales


def _minuit_names(parameters: Parameters) -> list[str]:
    return [f"par_{idx:03d}_{par.name}" for idx, par in enumerate(parameters)]


def _minuit_message(minuit) -> str:
    fmin = minuit.fmin
    if minuit.valid:
        return "Optimization terminated successfully."
    message = "Optimization failed."
    if fmin is not None:
        if fmin.has_reached_call_limit:
            message += " Call limit was reached."
        if fmin.is_above_max_edm:
            message += " Estimated distance to minimum too large."
    return message


def setup_iminuit(objective: FactorObjective, **opts: Any):
    """Create a `~iminuit.Minuit` instance: factors, limits, steps, errordef 1, tol, strategy."""
    from iminuit import Minuit

    parameters = objective.parameters
    unknown = set(opts) - set(_MINUIT_OPTS)
    if unknown:
        raise ValueError(
            f"unknown minuit option(s) {sorted(unknown)}; allowed: {list(_MINUIT_OPTS)}"
        )
    names = _minuit_names(parameters)
    grad = objective.grad if objective.gradient is not None else None
    minuit = Minuit(objective.fcn, parameters.factors, grad=grad, name=names)
    minuit.errordef = opts.get("errordef", 1.0)
    minuit.tol = opts.get("tol", 0.1)
    minuit.strategy = opts.get("strategy", 1)
    minuit.print_level = opts.get("print_level", 0)
    for name, par in zip(names, parameters, strict=True):
        lo = None if np.isnan(par.factor_min) else par.factor_min
        hi = None if np.isnan(par.factor_max) else par.factor_max
        minuit.limits[name] = (lo, hi)
        minuit.errors[name] = par.error / abs(par.scale) if par.error > 0 else 1.0
    return minuit


def optimize_iminuit(objective: FactorObjective, **opts: Any):
    """Run MIGRAD. Returns ``(factors, info, minuit)``."""
    migrad_opts = dict(opts.pop("migrad_opts", {}) or {})
    if "ncall" in opts:
        migrad_opts.setdefault("ncall", opts.pop("ncall"))
    minuit = setup_iminuit(objective, **opts)
    minuit.migrad(**migrad_opts)
    info = {
        "success": bool(minuit.valid),
        "message": _minuit_message(minuit),
        "nfev": int(minuit.nfcn),
    }
    return np.array(minuit.values, dtype=float), info, minuit


def covariance_iminuit(objective: FactorObjective, minuit=None, **opts: Any):
    """Run HESSE (on the optimiser's Minuit if given). Returns ``(factor_matrix, info)``."""
    opts.pop("migrad_opts", None)
    opts.pop("ncall", None)
    if minuit is None:
        minuit = setup_iminuit(objective, **opts)
    minuit.hesse()
    matrix = minuit.covariance
    success = bool(minuit.valid) and matrix is not None and bool(minuit.fmin.has_covariance)
    message = "Hesse terminated successfully." if success else "Hesse failed."
    if matrix is None:
        return np.full((len(objective.parameters),) * 2, np.nan), {
            "success": False,
            "message": message,
        }
    return np.array(matrix, dtype=float), {"success": success, "message": message}


def contour_iminuit(objective: FactorObjective, x: int, y: int, numpoints: int, sigma: float,
                    **opts: Any):
    """MINOS contour of free parameters ``x`` and ``y`` (positions) at ``sigma`` (2 d.o.f.)."""
    from scipy.special import gammainc

    opts.pop("migrad_opts", None)
    minuit = setup_iminuit(objective, **opts)
    minuit.migrad()
    cl = float(gammainc(1.0, sigma**2 / 2.0))  # chi2 CDF with 2 d.o.f.
    names = _minuit_names(objective.parameters)
    points = minuit.mncontour(names[x], names[y], size=numpoints, cl=cl)
    return {"success": bool(minuit.valid), "x": points[:, 0], "y": points[:, 1]}


def optimize_scipy(objective: FactorObjective, method: str = "Nelder-Mead", **opts: Any):
    """Minimise with `scipy.optimize.minimize` in factor space. Returns ``(factors, info, res)``.

    Gradient-based methods get the analytic gradient when the objective provides one.
    """
    from scipy.optimize import minimize

    parameters = objective.parameters
    bounds = [
        (
            None if np.isnan(p.factor_min) else p.factor_min,
            None if np.isnan(p.factor_max) else p.factor_max,
        )
        for p in parameters
    ]
    has_bounds = any(b != (None, None) for b in bounds)
    jac = objective.grad if objective.gradient is not None and method not in (
        "Nelder-Mead", "Powell", "COBYLA"
    ) else None
    res = minimize(
        objective.fcn,
        parameters.factors,
        method=method,
        jac=jac,
        bounds=bounds if has_bounds and method not in ("BFGS", "CG") else None,
        **opts,
    )
    info = {"success": bool(res.success), "message": str(res.message), "nfev": int(res.nfev)}
    return np.asarray(res.x, dtype=float), info, res


def numerical_hessian(func: Callable[[np.ndarray], float], x0: np.ndarray,
                      step: np.ndarray | None = None) -> np.ndarray:
    """Central finite-difference Hessian of ``func`` at ``x0``."""
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    if step is None:
        step = 1e-4 * np.maximum(np.abs(x0), 1.0)
    f0 = func(x0)
    hess = np.zeros((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = step[i]
        hess[i, i] = (func(x0 + ei) - 2 * f0 + func(x0 - ei)) / step[i] ** 2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = step[j]
            val = (
                func(x0 + ei + ej) - func(x0 + ei - ej) - func(x0 - ei + ej) + func(x0 - ei - ej)
            ) / (4 * step[i] * step[j])
            hess[i, j] = hess[j, i] = val
    return hess


def covariance_scipy(objective: FactorObjective, **opts: Any):
    """Covariance ``2 H^-1`` from a finite-difference Hessian of the statistic."""
    x0 = objective.parameters.factors
    hess = numerical_hessian(objective.fcn, x0, opts.get("step"))
    objective.parameters.set_parameter_factors(x0)
    try:
        matrix = 2.0 * np.linalg.inv(hess)
        success = bool(np.all(np.linalg.eigvalsh(hess) > 0))
    except np.linalg.LinAlgError:
        matrix = np.full_like(hess, np.nan)
        success = False
    message = "Hessian inverted successfully." if success else "Hessian is not positive definite."
    return matrix, {"success": success, "message": message}


BACKENDS: dict[str, dict[str, Callable]] = {
    "minuit": {
        "optimize": optimize_iminuit,
        "covariance": covariance_iminuit,
        "contour": contour_iminuit,
    },
    "scipy": {"optimize": optimize_scipy, "covariance": covariance_scipy},
}
