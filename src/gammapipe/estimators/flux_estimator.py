"""`FluxEstimator`: fit the amplitude of one source in one energy range.

The source spectral model ``F(E)`` is replaced by ``norm * F(E)`` (the other parameters
frozen, unless ``reoptimize``) and ``norm`` is fitted. Two equivalent computations:

* fast path (``reoptimize=False``, Cash or WStat datasets): the prediction is linear in
  ``norm``, ``mu = other + norm * signal``, so the source and total predictions are
  evaluated once and the fit, errors, TS, upper limit and profile are obtained from the 1D
  likelihood in `_norm_profile` (no model re-evaluation);
* generic path: datasets sliced to the energy range, models copied with the scaled source
  model, `ParameterEstimator` with `~gammapipe.modeling.Fit`.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GammapipeError, GeometryError
from ._norm_profile import CashTerm, NormLikelihood, WStatTerm
from .core import Estimator, as_datasets, as_energy_edges, resolve_source
from .parameter import ParameterEstimator

__all__ = ["FluxEstimator", "default_norm"]


def default_norm(norm: Any = None) -> Any:
    """The norm `Parameter` of the estimators (default grid: 11 log values in 0.2-5)."""
    from ..modeling import Parameter

    if norm is None:
        return Parameter("norm", 1, unit="", interp="log", scan_min=0.2, scan_max=5,
                         scan_n_values=11, is_norm=True)
    if isinstance(norm, dict):
        kwargs = {"name": "norm", "value": 1, "interp": "log", "scan_min": 0.2,
                  "scan_max": 5, "scan_n_values": 11, "is_norm": True}
        kwargs.update(norm)
        return Parameter(**kwargs)
    return norm.copy()


# ----------------------------------------------------------------------------- fast path
class _DatasetArrays:
    """Per-dataset float64 arrays needed by the linear-norm likelihood (full energy range)."""

    def __init__(self, dataset: Any, source_name: str) -> None:
        self.name = dataset.name
        self.stat_type = getattr(dataset, "stat_type", None)
        counts = dataset.counts
        self.energy_edges = counts.geom.axes["energy"].edges
        self.n = np.asarray(counts.data, dtype=np.float64)
        mask = dataset.mask
        self.mask = (np.ones(self.n.shape, bool) if mask is None
                     else np.broadcast_to(np.asarray(getattr(mask, "data", mask), bool),
                                          self.n.shape))
        has_source = dataset.models is not None and source_name in dataset.models.names
        if has_source:
            self.s = np.asarray(dataset.npred_signal(model_names=[source_name]).data,
                                dtype=np.float64)
        else:
            self.s = np.zeros(self.n.shape)
        if self.stat_type == "cash":
            self.b = np.asarray(dataset.npred().data, dtype=np.float64) - self.s
        elif self.stat_type == "wstat":
            total = np.asarray(dataset.npred_signal().data, dtype=np.float64)
            self.b = total - self.s
            self.n_off = np.asarray(dataset.counts_off.data, dtype=np.float64)
            alpha = dataset.alpha
            self.alpha = np.broadcast_to(np.asarray(getattr(alpha, "data", alpha),
                                                    dtype=np.float64), self.n.shape)
        else:
            raise GammapipeError(f"unsupported statistic {self.stat_type!r} for the fast path")

    def energy_slice(self, energy_min: u.Quantity, energy_max: u.Quantity) -> np.ndarray:
        """Indices of the reco bins lying fully inside [energy_min, energy_max]."""
        edges = self.energy_edges.to_value("TeV")
        lo, hi = energy_min.to_value("TeV"), energy_max.to_value("TeV")
        inside = (edges[:-1] >= lo * (1 - 1e-6)) & (edges[1:] <= hi * (1 + 1e-6))
        return np.nonzero(inside)[0]

    def term(self, idx: np.ndarray, sum_over_energy_groups: bool) -> Any:
        """Likelihood term of the reco bins ``idx`` (None when nothing is in the mask)."""
        if idx.size == 0:
            return None
        mask = self.mask[idx]
        if not mask.any():
            return None
        arrays = [self.n, self.b, self.s]
        if self.stat_type == "wstat":
            arrays = [self.n, self.n_off, self.alpha, self.b, self.s]
        if sum_over_energy_groups:
            picked = [np.where(mask, a[idx], 0.0).sum(axis=0) for a in arrays]
            keep = mask.any(axis=0)
            if self.stat_type == "wstat":
                # alpha of the summed bins: OFF-weighted mean (exact for equal alphas)
                n_off = picked[1]
                a_w = np.where(mask, self.alpha[idx] * self.n_off[idx], 0.0).sum(axis=0)
                n_bins = mask.sum(axis=0)
                alpha_mean = np.where(mask, self.alpha[idx], 0.0).sum(axis=0) / np.maximum(
                    n_bins, 1)
                picked[2] = np.where(n_off > 0, a_w / np.where(n_off > 0, n_off, 1.0),
                                     alpha_mean)
            picked = [p[keep] for p in picked]
        else:
            picked = [a[idx][mask] for a in arrays]
        if self.stat_type == "wstat":
            return WStatTerm(*picked)
        return CashTerm(*picked)


def _empty_result(n_datasets: int, selection: list[str], norm: Any) -> dict[str, Any]:
    nan = np.nan
    res = {"norm": nan, "norm_err": nan, "ts": nan, "stat": nan, "stat_null": nan,
           "success": False, "npred": np.full(n_datasets, nan),
           "npred_excess": np.full(n_datasets, nan), "counts": np.zeros(n_datasets)}
    if "errn-errp" in selection:
        res["norm_errn"] = res["norm_errp"] = nan
    if "ul" in selection:
        res["norm_ul"] = nan
    if "scan" in selection:
        res["norm_scan"] = norm.scan_values
        res["stat_scan"] = np.full(res["norm_scan"].size, nan)
    return res


def fast_flux_estimate(arrays: list[_DatasetArrays], energy_min: u.Quantity,
                       energy_max: u.Quantity, norm: Any, n_sigma: float, n_sigma_ul: float,
                       selection: list[str], sum_over_energy_groups: bool = False
                       ) -> dict[str, Any]:
    """Flux estimate in one energy range from precomputed prediction arrays."""
    terms, owners = [], []
    counts = np.zeros(len(arrays))
    for i, arr in enumerate(arrays):
        term = arr.term(arr.energy_slice(energy_min, energy_max), sum_over_energy_groups)
        if term is not None:
            terms.append(term)
            owners.append(i)
            counts[i] = term.counts
    like = NormLikelihood(terms, norm_min=norm.min, norm_max=norm.max)
    fit = like.fit(norm0=norm.value)
    if not terms or not fit.success:
        res = _empty_result(len(arrays), selection, norm)
        res["counts"] = counts
        if terms and np.isfinite(fit.norm):
            res["stat"] = like.stat([fit.norm])[0]
        return res
    stat_null = float(like.stat([0.0])[0])
    npred = np.zeros(len(arrays))
    npred_excess = np.zeros(len(arrays))
    npred[owners] = like.npred(fit.norm)
    npred_excess[owners] = like.npred_excess(fit.norm)
    res = {"norm": fit.norm, "norm_err": fit.norm_err, "ts": stat_null - fit.stat,
           "stat": fit.stat, "stat_null": stat_null, "success": True, "npred": npred,
           "npred_excess": npred_excess, "counts": counts}
    if "errn-errp" in selection:
        res["norm_errn"], res["norm_errp"] = like.errn_errp(fit, n_sigma)
    if "ul" in selection:
        res["norm_ul"] = like.upper_limit(fit, n_sigma_ul)
    if "scan" in selection:
        res["norm_scan"] = norm.scan_values
        res["stat_scan"] = like.stat(res["norm_scan"])
    return res


def supports_fast_path(datasets: Any) -> bool:
    """Whether all datasets have a Cash / WStat statistic and the needed predictions."""
    for d in datasets:
        if getattr(d, "stat_type", None) not in ("cash", "wstat"):
            return False
        if not hasattr(d, "npred_signal") or getattr(d, "counts", None) is None:
            return False
        if getattr(d, "stat_type", None) == "wstat" and getattr(d, "counts_off", None) is None:
            return False
    return True


# ----------------------------------------------------------------------------- generic path
def scaled_models(datasets: Any, source: int | str, norm: Any, reoptimize: bool) -> tuple:
    """Copy of the models with the source spectrum multiplied by ``norm``.

    All parameters are frozen except ``norm`` (unless ``reoptimize``, where the free
    parameters other than those of the source spectrum stay free).
    """
    from ..modeling.models import ScaleSpectralModel

    models = datasets.models.copy()
    idx, source_model = resolve_source(models, source)
    spectral = source_model.spectral_model
    for p in spectral.parameters:
        p.frozen = True
    if not reoptimize:
        for p in models.parameters:
            p.frozen = True
    scale = ScaleSpectralModel(spectral, norm=norm)
    scale.norm.frozen = False
    source_model.spectral_model = scale
    return models, scale.norm


def generic_flux_estimate(datasets: Any, source: int | str, energy_min: u.Quantity,
                          energy_max: u.Quantity, norm: Any, estimator: ParameterEstimator,
                          ) -> dict[str, Any]:
    """Flux estimate in one energy range by fitting sliced datasets with `Fit`."""
    from ..datasets import Datasets

    sliced = []
    for d in datasets:
        try:
            ds = d.slice_by_energy(energy_min, energy_max, name=d.name)
        except (GeometryError, ValueError):
            continue
        mask = ds.mask
        if mask is not None and not np.any(mask.data):
            continue
        sliced.append(ds)
    selection = estimator.selection_optional
    if not sliced:
        return _empty_result(len(datasets), selection, norm)
    sliced = Datasets(sliced)
    models, par = scaled_models(datasets, source, norm.copy(), estimator.reoptimize)
    sliced.models = models
    res = estimator.run(sliced, par)
    source_name = models[resolve_source(models, source)[0]].name
    npred = np.full(len(datasets), np.nan)
    npred_excess = np.full(len(datasets), np.nan)
    counts = np.zeros(len(datasets))
    names = list(datasets.names)
    for ds in sliced:
        i = names.index(ds.name)
        mask = np.ones(ds.counts.data.shape, bool) if ds.mask is None else ds.mask.data
        counts[i] = float(np.sum(ds.counts.data[mask]))
        npred[i] = float(np.sum(ds.npred().data[mask]))
        npred_excess[i] = float(np.sum(ds.npred_signal(model_names=[source_name]).data[mask]))
    res.update({"npred": npred, "npred_excess": npred_excess, "counts": counts})
    if not res.get("success", False):
        empty = _empty_result(len(datasets), selection, norm)
        empty.update({"counts": counts, "stat": res.get("stat", np.nan)})
        return empty
    return res


# ----------------------------------------------------------------------------- estimator
class FluxEstimator(Estimator):
    """Flux (norm of the source model) in one energy range.

    Parameters
    ----------
    source : int or str
        Source model (index or name) in the datasets' models.
    energy_min, energy_max : `~astropy.units.Quantity`, optional
        Energy range (default: the datasets' full range). ``energy_edges`` of two values
        is also accepted.
    n_sigma, n_sigma_ul : float
        Sigma of errors and of the upper limit (profile rise ``n**2``).
    selection_optional : list of str, "all" or None
        Among "errn-errp", "ul", "scan".
    fit : `~gammapipe.modeling.Fit`, optional
    reoptimize : bool
        Refit the other free parameters at each profile point (generic path).
    norm : `~gammapipe.modeling.Parameter` or dict, optional
        Norm parameter (value = start, min/max, scan grid).
    sum_over_energy_groups : bool
        Sum counts and predictions over the reco bins of the range before the fit.
    """

    tag = "FluxEstimator"
    _available_selection_optional = ("errn-errp", "ul", "scan")

    def __init__(self, source: int | str = 0, energy_min: Any = None, energy_max: Any = None,
                 n_sigma: float = 1, n_sigma_ul: float = 2, selection_optional: Any = None,
                 fit: Any = None, reoptimize: bool = False, norm: Any = None,
                 sum_over_energy_groups: bool = False, energy_edges: Any = None) -> None:
        self.source = source
        if energy_edges is not None:
            edges = as_energy_edges(energy_edges)
            energy_min, energy_max = edges[0], edges[-1]
        self.energy_min = None if energy_min is None else u.Quantity(energy_min)
        self.energy_max = None if energy_max is None else u.Quantity(energy_max)
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.selection_optional = selection_optional
        self.fit = fit
        self.reoptimize = bool(reoptimize)
        self.norm = default_norm(norm)
        self.sum_over_energy_groups = bool(sum_over_energy_groups)

    def _parameter_estimator(self) -> ParameterEstimator:
        return ParameterEstimator(n_sigma=self.n_sigma, n_sigma_ul=self.n_sigma_ul,
                                  null_value=0, selection_optional=self.selection_optional,
                                  fit=self.fit, reoptimize=self.reoptimize)

    def _estimate(self, datasets: Any, energy_min: u.Quantity, energy_max: u.Quantity,
                  arrays: list | None) -> dict[str, Any]:
        if arrays is not None:
            return fast_flux_estimate(arrays, energy_min, energy_max, self.norm,
                                      self.n_sigma, self.n_sigma_ul, self.selection_optional,
                                      self.sum_over_energy_groups)
        return generic_flux_estimate(datasets, self.source, energy_min, energy_max,
                                     self.norm, self._parameter_estimator())

    def _prepare(self, datasets: Any) -> tuple[Any, str, list | None]:
        datasets = as_datasets(datasets)
        models = datasets.models
        if models is None or len(models) == 0:
            raise GammapipeError(f"{type(self).__name__}: the datasets have no models")
        _, source_model = resolve_source(models, self.source)
        arrays = None
        if not self.reoptimize and supports_fast_path(datasets):
            arrays = [_DatasetArrays(d, source_model.name) for d in datasets]
        return datasets, source_model, arrays

    def run(self, datasets: Any) -> dict[str, Any]:
        """Estimate the flux in ``[energy_min, energy_max]``.

        Returns a dict with ``norm``, ``norm_err``, ``ts``, ``stat``, ``stat_null``,
        ``success``, ``npred``, ``npred_excess``, ``counts`` (per dataset), the selected
        optional quantities and the reference fluxes (``e_ref``, ``e_min``, ``e_max``,
        ``ref_dnde``, ``ref_flux``, ``ref_eflux``, ``ref_e2dnde``) and ``dnde``, ``flux``...
        """
        datasets, source_model, arrays = self._prepare(datasets)
        if arrays is not None:
            edges = arrays[0].energy_edges
        else:
            edges = datasets[0].counts.geom.axes["energy"].edges
        emin = edges[0] if self.energy_min is None else self.energy_min
        emax = edges[-1] if self.energy_max is None else self.energy_max
        res = self._estimate(datasets, emin, emax, arrays)
        ref = source_model.spectral_model.reference_fluxes(u.Quantity([emin, emax]))
        for key, value in ref.items():
            res[key] = value[0]
        for sed in ("dnde", "flux", "eflux", "e2dnde"):
            res[sed] = res["norm"] * res[f"ref_{sed}"]
        return res
