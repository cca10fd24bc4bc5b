"""`ParameterEstimator`: best fit, errors, TS, upper limit and profile of one parameter.

Works on any object (or list of objects) that has ``.models`` and ``.stat_sum()``, through
`~gammapipe.modeling.Fit`: the other parameters stay frozen unless ``reoptimize`` is set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Estimator

__all__ = ["ParameterEstimator"]


def _as_fit_input(datasets: Any) -> Any:
    if isinstance(datasets, (list, tuple)) and len(datasets) == 1:
        return datasets[0]
    return datasets


class ParameterEstimator(Estimator):
    """Estimate the value of one model parameter and its likelihood properties.

    Parameters
    ----------
    n_sigma : float
        Sigma of the symmetric and asymmetric errors (profile rise ``n_sigma**2``).
    n_sigma_ul : float
        Sigma of the upper limit: where the profile is ``n_sigma_ul**2`` above its minimum.
    null_value : float
        Parameter value of the null hypothesis for the TS.
    selection_optional : list of str, "all" or None
        Among "errn-errp", "ul", "scan".
    fit : `~gammapipe.modeling.Fit`, optional
        Fit instance (default: ``Fit()``).
    reoptimize : bool
        Re-fit the other free parameters at every point of the profiles.
    """

    tag = "ParameterEstimator"
    _available_selection_optional = ("errn-errp", "ul", "scan")

    def __init__(self, n_sigma: float = 1, n_sigma_ul: float = 2, null_value: float = 1e-150,
                 selection_optional: Any = None, fit: Any = None,
                 reoptimize: bool = False) -> None:
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.null_value = float(null_value)
        self.selection_optional = selection_optional
        if fit is None:
            from ..modeling import Fit

            fit = Fit()
        self.fit = fit
        self.reoptimize = bool(reoptimize)

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _parameters(datasets: Any):
        from ..modeling.fit import _FitDatasets

        fd = _FitDatasets(_as_fit_input(datasets))
        return fd, fd.parameters

    def _freeze_others(self, parameters, parameter) -> list[tuple[Any, bool]]:
        saved = [(p, p.frozen) for p in parameters]
        if not self.reoptimize:
            for p in parameters:
                if p is not parameter:
                    p.frozen = True
        parameter.frozen = False
        return saved

    @staticmethod
    def _restore(saved) -> None:
        for p, frozen in saved:
            p.frozen = frozen

    # -- estimates ----------------------------------------------------------------------------
    def estimate_best_fit(self, datasets: Any, parameter: Any) -> dict[str, Any]:
        """Best-fit value, error (covariance), statistic and success flag."""
        fd, parameters = self._parameters(datasets)
        saved = self._freeze_others(parameters, parameter)
        try:
            result = self.fit.optimize(fd)
            value, error = parameter.value, np.nan
            if result.success:
                try:
                    self.fit.covariance(fd, optimize_result=result)
                    error = parameter.error
                except Exception:  # noqa: BLE001 - covariance failure leaves NaN errors
                    error = np.nan
        finally:
            self._restore(saved)
        return {
            parameter.name: value,
            f"{parameter.name}_err": error,
            "success": bool(result.success),
            "stat": float(result.total_stat),
        }

    def estimate_ts(self, datasets: Any, parameter: Any) -> dict[str, float]:
        """TS of the current (best-fit) value against ``null_value``."""
        fd, parameters = self._parameters(datasets)
        stat = fd.stat_sum()
        saved = self._freeze_others(parameters, parameter)
        try:
            with parameters.restore_status():
                parameter._set_value_unchecked(self.null_value)
                others = [p for p in parameters.free_parameters if p is not parameter]
                if self.reoptimize and others:
                    parameter.frozen = True
                    stat_null = self.fit.optimize(fd).total_stat
                else:
                    stat_null = fd.stat_sum()
        finally:
            self._restore(saved)
        return {"ts": float(stat_null - stat), "stat_null": float(stat_null)}

    def estimate_errn_errp(self, datasets: Any, parameter: Any) -> dict[str, float]:
        """Asymmetric errors from the profile (rise of ``n_sigma**2``)."""
        fd, parameters = self._parameters(datasets)
        saved = self._freeze_others(parameters, parameter)
        try:
            res = self.fit.confidence(fd, parameter, sigma=self.n_sigma,
                                      reoptimize=self.reoptimize)
        finally:
            self._restore(saved)
        return {f"{parameter.name}_errp": res["errp"], f"{parameter.name}_errn": res["errn"]}

    def estimate_ul(self, datasets: Any, parameter: Any) -> dict[str, float]:
        """Upper limit: value + positive error at ``n_sigma_ul``."""
        fd, parameters = self._parameters(datasets)
        value = parameter.value
        saved = self._freeze_others(parameters, parameter)
        try:
            res = self.fit.confidence(fd, parameter, sigma=self.n_sigma_ul,
                                      reoptimize=self.reoptimize)
        finally:
            self._restore(saved)
        return {f"{parameter.name}_ul": value + res["errp"]}

    def estimate_scan(self, datasets: Any, parameter: Any) -> dict[str, np.ndarray]:
        """Statistic profile on ``parameter.scan_values``."""
        fd, parameters = self._parameters(datasets)
        saved = self._freeze_others(parameters, parameter)
        try:
            res = self.fit.stat_profile(fd, parameter, reoptimize=self.reoptimize)
        finally:
            self._restore(saved)
        return {
            f"{parameter.name}_scan": np.asarray(parameter.scan_values),
            "stat_scan": np.asarray(res["stat_scan"]),
        }

    def run(self, datasets: Any, parameter: Any) -> dict[str, Any]:
        """Estimate ``parameter`` (a `Parameter` of the datasets' models or its name).

        The parameter is left at its best-fit value; all other parameters are restored.
        Returns a dict with the value, ``<name>_err``, ``ts``, ``stat``, ``stat_null``,
        ``success`` and, as selected, ``<name>_errn/errp``, ``<name>_ul``,
        ``<name>_scan`` and ``stat_scan``.
        """
        fd, parameters = self._parameters(datasets)
        if isinstance(parameter, str):
            parameter = self.fit._lookup(fd, parameters, parameter)
        best = [p.value for p in parameters]
        result = self.estimate_best_fit(datasets, parameter)
        result.update(self.estimate_ts(datasets, parameter))
        if result["success"]:
            if "errn-errp" in self.selection_optional:
                result.update(self.estimate_errn_errp(datasets, parameter))
            if "ul" in self.selection_optional:
                result.update(self.estimate_ul(datasets, parameter))
        else:
            if "errn-errp" in self.selection_optional:
                result.update({f"{parameter.name}_errp": np.nan,
                               f"{parameter.name}_errn": np.nan})
            if "ul" in self.selection_optional:
                result[f"{parameter.name}_ul"] = np.nan
        if "scan" in self.selection_optional:
            result.update(self.estimate_scan(datasets, parameter))
        fitted = {p: p.value for p in parameters if p is parameter or self.reoptimize}
        for p, v in zip(parameters, best, strict=True):
            p._set_value_unchecked(fitted.get(p, v))
        return result
