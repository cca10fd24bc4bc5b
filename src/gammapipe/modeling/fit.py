"""Likelihood fitting: `Fit` and its result classes.

`Fit` works on anything that has ``.models`` (with ``.parameters``) and ``.stat_sum()``
(``-2 log L``): a dataset, a datasets collection, or a list of datasets (summed). If the
object (or every dataset of a list) also provides
``stat_sum_and_gradient(parameters) -> (stat, d stat / d value)`` for the given free
parameters, the analytic gradient is passed to the optimiser; otherwise the optimiser uses
finite differences.

Minuit is set up as follows: the free parameters are autoscaled and varied as factors
(``value / scale``) with the bounds converted to factor space; the initial step of a
parameter is ``error / scale`` when its error is set, else 1; ``errordef = 1`` (the
statistic is ``-2 log L``), ``strategy = 1`` and ``tol = 0.1``. MIGRAD optimises and HESSE
gives the covariance, which is written into the parameter errors and the models'
covariance. All options can be overridden through ``optimize_opts`` / ``covariance_opts``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from astropy.table import Table

from .backends import BACKENDS, FactorObjective
from .covariance import Covariance
from .parameter import Parameter, Parameters

__all__ = ["Fit", "FitResult", "OptimizeResult", "CovarianceResult"]


# ----------------------------------------------------------------------------- datasets glue
class _ModelsList(list):
    """Minimal models container (unique models of several datasets)."""

    @property
    def parameters(self) -> Parameters:
        pars = Parameters([])
        for model in self:
            pars = pars + model.parameters
        return pars.unique_parameters

    def copy(self) -> _ModelsList:
        return copy.deepcopy(self)


def _models_parameters(models: Any) -> Parameters:
    if models is None:
        return Parameters([])
    if hasattr(models, "parameters"):
        return Parameters(models.parameters)
    pars = Parameters([])
    for model in models:
        pars = pars + model.parameters
    return pars


class _FitDatasets:
    """Sum of the statistics of one or several datasets, with their unique parameters."""

    def __init__(self, datasets: Any) -> None:
        if isinstance(datasets, _FitDatasets):
            self.items = datasets.items
            self.combined = datasets.combined
            self._priors = datasets._priors
            return
        if hasattr(datasets, "stat_sum") and hasattr(datasets, "models"):
            self.items = [datasets]
        else:
            try:
                self.items = list(datasets)
            except TypeError as exc:
                raise TypeError(
                    "Fit: datasets must have .models and .stat_sum() or be a list of such "
                    f"objects, got {type(datasets).__name__}"
                ) from exc
            if not self.items:
                raise ValueError("Fit: empty list of datasets")
            for idx, ds in enumerate(self.items):
                if not hasattr(ds, "stat_sum"):
                    raise TypeError(f"Fit: datasets[{idx}] ({type(ds).__name__}) has no stat_sum()")
        self.combined = datasets if len(self.items) == 1 and self.items[0] is datasets else None
        self._priors = [p for p in self.parameters if p.prior is not None]

    @property
    def models(self) -> Any:
        if len(self.items) == 1:
            return getattr(self.items[0], "models", None)
        unique: list = []
        for ds in self.items:
            models = getattr(ds, "models", None)
            if models is None:
                continue
            for model in models if not hasattr(models, "tag") else [models]:
                if not any(model is m for m in unique):
                    unique.append(model)
        return _ModelsList(unique)

    @property
    def parameters(self) -> Parameters:
        pars = Parameters([])
        for ds in self.items:
            pars = pars + _models_parameters(getattr(ds, "models", None))
        return pars.unique_parameters

    def stat_sum(self) -> float:
        total = 0.0
        for ds in self.items:
            total += float(ds.stat_sum())
        return total + sum(p.prior_stat() for p in self._priors)

    def gradient_function(self, free: Parameters):
        """Callable returning (stat, gradient w.r.t. the values of ``free``), or None."""
        if not all(hasattr(ds, "stat_sum_and_gradient") for ds in self.items):
            return None
        has_prior = any(p.prior is not None for p in free)

        def gradient() -> tuple[float, np.ndarray]:
            stat, grad = 0.0, np.zeros(len(free))
            for ds in self.items:
                s, g = ds.stat_sum_and_gradient(free)
                stat += float(s)
                grad += np.asarray(g, dtype=float)
            if has_prior:
                stat += free.prior_stat_sum()
                for i, par in enumerate(free):
                    if par.prior is not None:
                        h = 1e-6 * max(abs(par.value), 1e-12)
                        value = par.value
                        par._set_value_unchecked(value + h)
                        up = par.prior_stat()
                        par._set_value_unchecked(value - h)
                        down = par.prior_stat()
                        par._set_value_unchecked(value)
                        grad[i] += (up - down) / (2 * h)
            return stat, grad

        return gradient

    def unique_names(self) -> list[str]:
        models = self.models
        names = getattr(models, "parameters_unique_names", None)
        pars = self.parameters
        if names is not None and len(names) == len(pars):
            return list(names)
        return [p.name for p in pars]


def _set_models_covariance(models: Any, covariance: Covariance) -> None:
    """Write per-model blocks of ``covariance`` into the models (and thus the errors)."""
    if models is None:
        return
    items = [models] if hasattr(models, "tag") else list(models)
    for model in items:
        pars = model.parameters
        if not len(pars):
            continue
        sub = Covariance(pars, covariance.get_subcovariance(pars))
        model.covariance = sub


def _copy_models(models: Any) -> Any:
    if models is None:
        return None
    if type(models) in (list, tuple):  # builtin copy() would be shallow
        return _ModelsList(copy.deepcopy(list(models)))
    if hasattr(models, "copy"):
        try:
            return models.copy()
        except TypeError:
            pass
    return copy.deepcopy(models)


# ----------------------------------------------------------------------------- results
class _ResultBase:
    def __init__(self, backend: str, method: str, success: bool, message: str) -> None:
        self.backend = backend
        self.method = method
        self.success = bool(success)
        self.message = message

    def _lines(self) -> list[str]:
        return [
            f"\tbackend    : {self.backend}",
            f"\tmethod     : {self.method}",
            f"\tsuccess    : {self.success}",
            f"\tmessage    : {self.message}",
        ]

    def __repr__(self) -> str:
        return str(self)


class CovarianceResult(_ResultBase):
    """Result of `Fit.covariance`: ``matrix`` (all unique parameters, value units)."""

    def __init__(
        self,
        backend: str = "minuit",
        method: str = "hesse",
        success: bool = False,
        message: str = "",
        matrix: np.ndarray | None = None,
    ) -> None:
        super().__init__(backend, method, success, message)
        self.matrix = matrix

    def __str__(self) -> str:
        return "CovarianceResult\n\n" + "\n".join(self._lines()) + "\n"


class OptimizeResult(_ResultBase):
    """Result of `Fit.optimize`.

    Attributes
    ----------
    success, message, nfev, total_stat, backend, method
        Outcome of the optimisation.
    models
        Copy of the models at the optimum.
    trace : `~astropy.table.Table`
        Statistic and parameter values per call (``store_trace=True``).
    minuit
        The `~iminuit.Minuit` instance (minuit backend) or scipy result.
    """

    def __init__(
        self,
        backend: str,
        method: str,
        success: bool,
        message: str,
        nfev: int,
        total_stat: float,
        models: Any = None,
        trace: Table | None = None,
        minuit: Any = None,
    ) -> None:
        super().__init__(backend, method, success, message)
        self.nfev = int(nfev)
        self.total_stat = float(total_stat)
        self.models = models
        self.trace = trace if trace is not None else Table()
        self.minuit = minuit

    @property
    def parameters(self) -> Parameters:
        """Parameters of the models at the optimum."""
        return _models_parameters(self.models).unique_parameters

    def __str__(self) -> str:
        lines = self._lines() + [
            f"\tnfev       : {self.nfev}",
            f"\ttotal stat : {self.total_stat:.2f}",
        ]
        return "OptimizeResult\n\n" + "\n".join(lines) + "\n"


class FitResult:
    """Result of `Fit.run`: optimisation and covariance."""

    def __init__(
        self, optimize_result: OptimizeResult, covariance_result: CovarianceResult | None = None
    ) -> None:
        self.optimize_result = optimize_result
        self.covariance_result = covariance_result

    @property
    def success(self) -> bool:
        """True if both the optimisation and the covariance succeeded."""
        ok = self.optimize_result.success
        if self.covariance_result is not None:
            ok = ok and self.covariance_result.success
        return ok

    @property
    def message(self) -> str:
        """Optimiser message."""
        return self.optimize_result.message

    @property
    def nfev(self) -> int:
        """Number of statistic evaluations of the optimisation."""
        return self.optimize_result.nfev

    @property
    def total_stat(self) -> float:
        """Statistic at the optimum."""
        return self.optimize_result.total_stat

    @property
    def backend(self) -> str:
        """Optimisation backend."""
        return self.optimize_result.backend

    @property
    def method(self) -> str:
        """Optimisation method."""
        return self.optimize_result.method

    @property
    def models(self) -> Any:
        """Copy of the models at the optimum (with covariance)."""
        return self.optimize_result.models

    @property
    def parameters(self) -> Parameters:
        """Parameters at the optimum."""
        return self.optimize_result.parameters

    @property
    def trace(self) -> Table:
        """Optimisation trace."""
        return self.optimize_result.trace

    @property
    def minuit(self) -> Any:
        """Minuit instance (minuit backend)."""
        return self.optimize_result.minuit

    def __str__(self) -> str:
        out = str(self.optimize_result)
        if self.covariance_result is not None:
            out += "\n" + str(self.covariance_result)
        return out

    def __repr__(self) -> str:
        return str(self)


# ----------------------------------------------------------------------------- Fit
class Fit:
    """Fit models to datasets by minimising the total statistic.

    Parameters
    ----------
    backend : {"minuit", "scipy"}
        Optimisation backend.
    optimize_opts : dict, optional
        Backend options (minuit: ``tol``, ``strategy``, ``print_level``, ``migrad_opts``,
        ``ncall``; scipy: ``method`` and `scipy.optimize.minimize` options). May contain
        ``backend`` to override.
    covariance_opts : dict, optional
        Options of the covariance step (minuit: as above; scipy: ``step``).
    confidence_opts : dict, optional
        ``max_steps`` (bracket expansions, default 40) and ``rtol`` (root tolerance,
        default 1e-6) of `confidence`.
    store_trace : bool
        Record the statistic and parameter values of every call.
    gradient : bool, optional
        Pass the datasets' analytic gradient (``stat_sum_and_gradient``) to the optimiser.
        Default (None): off for ``minuit``, on for ``scipy``. Measured on the low-level Crab
        3D fit, MIGRAD with the analytic gradient needs as many statistic calls as without
        (it evaluates the function for its line searches) plus the gradients, ends on a
        different path and leaves HESSE with a 10 % larger latitude error; scipy's
        quasi-Newton methods, in contrast, replace ``n`` finite-difference evaluations per
        step by one gradient call.
    """

    def __init__(
        self,
        backend: str = "minuit",
        optimize_opts: dict[str, Any] | None = None,
        covariance_opts: dict[str, Any] | None = None,
        confidence_opts: dict[str, Any] | None = None,
        store_trace: bool = False,
        gradient: bool | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Unknown backend {backend!r}; available: {list(BACKENDS)}")
        self.gradient = gradient
        self.backend = backend
        self.optimize_opts = dict(optimize_opts or {})
        self.covariance_opts = dict(covariance_opts or {})
        self.confidence_opts = dict(confidence_opts or {})
        self.store_trace = store_trace
        self._minuit = None

    @property
    def minuit(self):
        """Minuit instance of the last optimisation (minuit backend)."""
        return self._minuit

    def _gradient_function(self, fd: _FitDatasets, free: Parameters, backend: str):
        use = self.gradient if self.gradient is not None else backend != "minuit"
        return fd.gradient_function(free) if use else None

    @staticmethod
    def _parse(datasets: Any) -> tuple[_FitDatasets, Parameters]:
        fd = _FitDatasets(datasets)
        return fd, fd.parameters

    @staticmethod
    def _lookup(fd: _FitDatasets, parameters: Parameters, key: Any) -> Parameter:
        if isinstance(key, Parameter):
            parameters.index(key)
            return key
        if isinstance(key, str):
            names = fd.unique_names()
            if key in names:
                return parameters[names.index(key)]
            matches = [p for p in parameters if p.name == key]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise KeyError(f"Parameter name {key!r} is ambiguous; use one of {names}")
            raise KeyError(f"No parameter {key!r}; available: {names}")
        return parameters[key]

    # -- optimisation -------------------------------------------------------------------
    def run(self, datasets: Any) -> FitResult:
        """Optimise, then estimate the covariance."""
        optimize_result = self.optimize(datasets)
        backend = self.optimize_opts.get("backend", self.backend)
        if "covariance" not in BACKENDS[backend]:
            return FitResult(optimize_result)
        covariance_result = self.covariance(datasets, optimize_result=optimize_result)
        return FitResult(optimize_result, covariance_result)

    def optimize(self, datasets: Any) -> OptimizeResult:
        """Minimise the statistic; the best-fit values are set on the parameters."""
        fd, parameters = self._parse(datasets)
        parameters.check_limits()
        free = parameters.free_parameters
        if len(free) == 0:
            raise ValueError(
                f"No free parameters to fit (parameters: {parameters.names}); unfreeze some"
            )
        parameters.autoscale()
        opts = dict(self.optimize_opts)
        backend = opts.pop("backend", self.backend)
        if backend not in BACKENDS:
            raise ValueError(f"Unknown backend {backend!r}; available: {list(BACKENDS)}")
        objective = FactorObjective(
            free, fd.stat_sum, self._gradient_function(fd, free, backend),
            store_trace=self.store_trace,
        )
        factors, info, optimizer = BACKENDS[backend]["optimize"](objective, **opts)
        free.set_parameter_factors(factors)
        if backend == "minuit":
            self._minuit = optimizer
            method = "migrad"
        else:
            method = opts.get("method", "Nelder-Mead")
        names = [n for n, p in zip(fd.unique_names(), parameters, strict=True) if not p.frozen]
        trace = Table(
            rows=objective.trace if objective.trace else None,
            names=["total_stat", *names],
            dtype=[float] * (1 + len(names)),
        )
        return OptimizeResult(
            backend=backend,
            method=method,
            success=info["success"],
            message=info["message"],
            nfev=info["nfev"],
            total_stat=fd.stat_sum(),
            models=_copy_models(fd.models),
            trace=trace,
            minuit=optimizer,
        )

    def covariance(
        self, datasets: Any, optimize_result: OptimizeResult | None = None
    ) -> CovarianceResult:
        """Covariance at the current parameter values, written into errors and models."""
        fd, parameters = self._parse(datasets)
        free = parameters.free_parameters
        if len(free) == 0:
            raise ValueError("No free parameters: cannot estimate a covariance")
        opts = dict(self.covariance_opts)
        backend = opts.pop("backend", self.backend)
        if "covariance" not in BACKENDS.get(backend, {}):
            raise ValueError(f"Backend {backend!r} has no covariance estimate")
        minuit = None
        if optimize_result is not None and optimize_result.backend == "minuit" == backend:
            minuit = optimize_result.minuit
        objective = FactorObjective(
            free, fd.stat_sum, self._gradient_function(fd, free, backend)
        )
        with parameters.restore_status():
            if minuit is None:
                parameters.autoscale()
            if backend == "minuit":
                factor_matrix, info = BACKENDS[backend]["covariance"](
                    objective, minuit=minuit, **opts
                )
            else:
                factor_matrix, info = BACKENDS[backend]["covariance"](objective, **opts)
            covariance = Covariance.from_factor_matrix(parameters, factor_matrix)
        _set_models_covariance(fd.models, covariance)
        diag = np.clip(np.diag(covariance.data), 0, None)
        for par, var in zip(parameters, diag, strict=True):
            par.error = float(np.sqrt(var)) if np.isfinite(var) else np.nan
        if optimize_result is not None and optimize_result.models is not None:
            copied = Covariance(optimize_result.parameters, covariance.data.copy())
            _set_models_covariance(optimize_result.models, copied)
        return CovarianceResult(
            backend=backend,
            method="hesse" if backend == "minuit" else "hessian",
            success=info["success"],
            message=info["message"],
            matrix=covariance.data,
        )

    # -- profiles -------------------------------------------------------------------------
    def _profile_stat(self, fd: _FitDatasets, parameters: Parameters, par: Parameter,
                      value: float, reoptimize: bool) -> tuple[float, OptimizeResult | None]:
        par._set_value_unchecked(value)
        others = [p for p in parameters.free_parameters if p is not par]
        if reoptimize and others:
            frozen = par.frozen
            par.frozen = True
            try:
                result = self.optimize(fd)
            finally:
                par.frozen = frozen
            return result.total_stat, result
        return fd.stat_sum(), None

    def stat_profile(self, datasets: Any, parameter: Any, reoptimize: bool = False) -> dict:
        """Statistic along ``parameter.scan_values`` (other parameters re-fitted if asked).

        Returns ``{"<name>_scan": values, "stat_scan": stats, "fit_results": [...]}``.
        """
        fd, parameters = self._parse(datasets)
        par = self._lookup(fd, parameters, parameter)
        name = fd.unique_names()[parameters.index(par)]
        values = par.scan_values
        stats, results = [], []
        with parameters.restore_status():
            for value in values:
                stat, result = self._profile_stat(fd, parameters, par, value, reoptimize)
                stats.append(stat)
                if result is not None:
                    results.append(result)
        return {f"{name}_scan": values, "stat_scan": np.array(stats), "fit_results": results}

    def stat_surface(self, datasets: Any, x: Any, y: Any, reoptimize: bool = False) -> dict:
        """Statistic on the grid ``x.scan_values`` x ``y.scan_values`` (shape (nx, ny))."""
        fd, parameters = self._parse(datasets)
        par_x = self._lookup(fd, parameters, x)
        par_y = self._lookup(fd, parameters, y)
        names = fd.unique_names()
        name_x, name_y = names[parameters.index(par_x)], names[parameters.index(par_y)]
        xs, ys = par_x.scan_values, par_y.scan_values
        stats = np.zeros((xs.size, ys.size))
        results = []
        with parameters.restore_status():
            for i, xv in enumerate(xs):
                for j, yv in enumerate(ys):
                    par_x._set_value_unchecked(xv)
                    par_y._set_value_unchecked(yv)
                    others = [p for p in parameters.free_parameters if p not in (par_x, par_y)]
                    if reoptimize and others:
                        fx, fy = par_x.frozen, par_y.frozen
                        par_x.frozen = par_y.frozen = True
                        try:
                            result = self.optimize(fd)
                        finally:
                            par_x.frozen, par_y.frozen = fx, fy
                        stats[i, j] = result.total_stat
                        results.append(result)
                    else:
                        stats[i, j] = fd.stat_sum()
        return {
            f"{name_x}_scan": xs,
            f"{name_y}_scan": ys,
            "stat_scan": stats,
            "fit_results": results,
        }

    def stat_contour(self, datasets: Any, x: Any, y: Any, numpoints: int = 10,
                     sigma: float = 1) -> dict:
        """MINOS contour of two parameters at ``sigma`` (2 degrees of freedom; minuit only)."""
        fd, parameters = self._parse(datasets)
        par_x = self._lookup(fd, parameters, x)
        par_y = self._lookup(fd, parameters, y)
        names = fd.unique_names()
        free = parameters.free_parameters
        for par in (par_x, par_y):
            if par.frozen:
                raise ValueError(f"stat_contour: parameter {par.name!r} is frozen")
        with parameters.restore_status():
            parameters.autoscale()
            objective = FactorObjective(
                free, fd.stat_sum, self._gradient_function(fd, free, "minuit")
            )
            opts = dict(self.optimize_opts)
            opts.pop("backend", None)
            result = BACKENDS["minuit"]["contour"](
                objective, free.index(par_x), free.index(par_y), numpoints, sigma, **opts
            )
            x_vals = result["x"] * par_x.scale
            y_vals = result["y"] * par_y.scale
        return {
            names[parameters.index(par_x)]: x_vals,
            names[parameters.index(par_y)]: y_vals,
            "success": result["success"],
        }

    def confidence(self, datasets: Any, parameter: Any, sigma: float = 1,
                   reoptimize: bool = True) -> dict:
        """Asymmetric errors of ``parameter``: where the profile rises by ``sigma**2``.

        The current parameter values are taken as the best fit. The crossing on each side
        is bracketed by doubling steps (starting at the parameter error, or 1% of the
        value) and refined with Brent's method; with ``reoptimize`` the other free
        parameters are re-fitted at every point. Returns ``success``, ``message``,
        ``errp``, ``errn`` (both positive, value units) and ``nfev``.
        """
        from scipy.optimize import brentq

        fd, parameters = self._parse(datasets)
        par = self._lookup(fd, parameters, parameter)
        max_steps = int(self.confidence_opts.get("max_steps", 40))
        rtol = float(self.confidence_opts.get("rtol", 1e-6))
        nfev = 0
        with parameters.restore_status():
            value0 = par.value
            best = [p.value for p in parameters]
            target = fd.stat_sum() + sigma**2

            def profile(value: float) -> float:
                nonlocal nfev
                nfev += 1
                return self._profile_stat(fd, parameters, par, value, reoptimize)[0] - target

            def reset() -> None:
                for p, v in zip(parameters, best, strict=True):
                    p._set_value_unchecked(v)

            step0 = par.error if par.error > 0 else (0.01 * abs(value0) or 0.01)
            errors, messages = {}, []
            for side, sign in (("errp", 1.0), ("errn", -1.0)):
                reset()
                bound = par.conf_max if sign > 0 else par.conf_min
                inner, step, found = value0, step0, False
                for _ in range(max_steps):
                    outer = value0 + sign * step
                    if (outer - bound) * sign >= 0:
                        outer = bound
                    delta = profile(outer)
                    if not np.isfinite(delta):
                        break
                    if delta >= 0:
                        found = True
                        break
                    if outer == bound:
                        break
                    inner, step = outer, 2 * step
                if not found:
                    errors[side] = np.nan
                    messages.append(f"{side}: no crossing of the profile found")
                    continue
                lo, hi = sorted((inner, outer))
                try:
                    root = brentq(profile, lo, hi, rtol=rtol, xtol=rtol * abs(step0))
                except ValueError as exc:  # non-finite statistic inside the bracket
                    errors[side] = np.nan
                    messages.append(f"{side}: root finding failed ({exc})")
                    continue
                errors[side] = abs(root - value0)
        success = not messages
        message = "Confidence terminated successfully." if success else "; ".join(messages)
        return {
            "success": success,
            "message": message,
            "errp": errors["errp"],
            "errn": errors["errn"],
            "nfev": nfev,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(backend={self.backend!r}, optimize_opts={self.optimize_opts},"
            f" covariance_opts={self.covariance_opts})"
        )
