"""Objects caching what does not change between fit iterations.

* `FastSpectrum`: a spectral model evaluated (values and derivatives with respect to its
  parameter values) on fixed energies, on plain floats. Unit conversions are worked out
  once against the model's own Quantity evaluation; the analytic ``_evaluate_*gradient``
  of the model is used when it exists (checked once against finite differences), else
  central finite differences of the float evaluation. Models without a float-capable
  analytic form (compound models, ...) are evaluated through their Quantity API.
* `DatasetFitCache`: per `MapDataset`, the flat indices of the fitted bins, counts,
  background, reco-bin index of every fitted bin, the FoV-background spectral evaluator
  and, per sky-model evaluator, the mapping of the fitted bins onto its cutout. It
  computes the Cash statistic and its gradient with respect to any list of parameters
  (`DatasetFitCache.stat_and_gradient`) and keeps the result of the last parameter point.

The cache is keyed explicitly: `DatasetFitCache.key` holds the identities of the maps and
models of the dataset, and a cache whose key no longer matches is rebuilt (see
`get_fit_cache`). In-place edits of the arrays of a dataset during a fit are not detected.
"""

from __future__ import annotations

import weakref
from typing import Any

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError

__all__ = [
    "FastSpectrum",
    "DatasetFitCache",
    "get_fit_cache",
    "invalidate_fit_cache",
    "FD_REL_STEP",
    "get_evaluators",
    "stat_sum_and_gradient",
    "stat_sum",
    "npred_total",
    "npred_background_gradient",
]

#: Relative step of central finite differences on spectral parameters.
FD_REL_STEP = 1e-6


def _raw(value) -> np.ndarray:
    """Float array of a number, array or Quantity (its value in its own unit)."""
    return np.asarray(getattr(value, "value", value), dtype=np.float64)


def _fd_step(value: float, scale: float) -> float:
    base = abs(value) if value != 0 else abs(scale) if scale else 1.0
    return FD_REL_STEP * base


class _Shift:
    """Temporarily set a parameter value; restores the exact internal factor."""

    def __init__(self, par, value: float) -> None:
        self.par, self.value = par, value

    def __enter__(self):
        self.saved = self.par._factor
        self.par._set_value_unchecked(self.value)

    def __exit__(self, *exc):
        self.par._factor = self.saved


class FastSpectrum:
    """Spectral model values (and parameter derivatives) on fixed energies, as floats.

    Parameters
    ----------
    model : `~gammapipe.modeling.models.SpectralModel`
        The model (its parameters are read at every call).
    energy_min, energy_max : `~astropy.units.Quantity`
        Bin edges for ``mode="integral"``.
    energy : `~astropy.units.Quantity`
        Energies for ``mode="evaluate"``.
    unit : str or `~astropy.units.Unit`
        Unit of the returned values (``"cm-2 s-1"`` for integrals, ``""`` for norms).
    """

    def __init__(self, model, energy_min=None, energy_max=None, energy=None,
                 unit: Any = "cm-2 s-1") -> None:
        self.model = model
        self.unit = u.Unit(unit)
        self.mode = "evaluate" if energy is not None else "integral"
        if self.mode == "integral":
            self._args_q = (u.Quantity(energy_min), u.Quantity(energy_max))
        else:
            self._args_q = (u.Quantity(energy),)
        self.parameters = list(model.parameters.unique_parameters)
        self._attrs = list(model._attr_items()) if hasattr(model, "_attr_items") else []
        self._fast = False
        self._grad_fast = False
        self._setup_fast()

    # -- setup --------------------------------------------------------------------------
    def _quantity_values(self) -> np.ndarray:
        if self.mode == "integral":
            q = self.model.integral(*self._args_q)
        else:
            q = self.model(*self._args_q)
        return np.asarray(u.Quantity(q).to_value(self.unit), dtype=np.float64)

    def _setup_fast(self) -> None:
        model = self.model
        func = "evaluate_integral" if self.mode == "integral" else "evaluate"
        if not self._attrs or not hasattr(model, func):
            return
        # every parameter must be a plain attribute of this model (no nested components)
        attr_ids = {id(p) for _, p in self._attrs}
        if any(id(p) not in attr_ids for p in self.parameters):
            return
        e_unit = model._energy_unit()
        self._conv = {}
        for attr, par in self._attrs:
            unit = par.unit
            if unit != e_unit and unit.is_equivalent(e_unit) and unit != u.one:
                self._conv[attr] = float(unit.to(e_unit))
            else:
                self._conv[attr] = 1.0
        self._args = tuple(np.asarray(a.to_value(e_unit), dtype=np.float64)
                           for a in self._args_q)
        self._func = getattr(model, func)
        try:
            raw = self._raw_values(self._kwargs())
            ref = self._quantity_values()
        except Exception:  # noqa: BLE001 - any failure means: use the Quantity path
            return
        if raw.shape != ref.shape:
            return
        good = np.abs(raw) > 0
        if not np.any(good):
            return
        scale = ref[good] / raw[good]
        if not (np.all(np.isfinite(scale)) and np.allclose(scale, scale[0], rtol=1e-9)):
            return
        if not np.allclose(raw * scale[0], ref, rtol=1e-9, atol=0):
            return
        self._scale = float(scale[0])
        self._fast = True
        gname = ("_evaluate_integral_gradient" if self.mode == "integral"
                 else "_evaluate_gradient")
        self._grad_func = getattr(model, gname, None)
        if self._grad_func is not None:
            self._grad_fast = self._check_analytic_gradient()

    def _kwargs(self, override: dict | None = None) -> dict[str, float]:
        kw = {attr: par.value * self._conv[attr] for attr, par in self._attrs}
        if override:
            kw.update(override)
        return kw

    def _raw_values(self, kwargs) -> np.ndarray:
        return _raw(self._func(*self._args, **kwargs))

    def _check_analytic_gradient(self) -> bool:
        try:
            analytic = self._analytic_items(self.parameters)
        except Exception:  # noqa: BLE001
            return False
        numeric = self._numeric_items(self.parameters, use_fast=True)
        for key, grad in analytic.items():
            ref = numeric[key]
            tol = 1e-5 * max(np.max(np.abs(ref)), 1e-300)
            if grad.shape != ref.shape or not np.allclose(grad, ref, rtol=1e-4, atol=tol):
                return False
        return True

    # -- evaluation ---------------------------------------------------------------------
    def values(self) -> np.ndarray:
        """Values at the current parameter values (in `unit`)."""
        if self._fast:
            return self._raw_values(self._kwargs()) * self._scale
        return self._quantity_values()

    def _analytic_items(self, parameters) -> dict[int, np.ndarray]:
        wanted = {id(p) for p in parameters}
        grads = self._grad_func(*self._args, **self._kwargs())
        out: dict[int, np.ndarray] = {}
        shape = np.broadcast(*self._args).shape
        for attr, par in self._attrs:
            if id(par) not in wanted:
                continue
            if attr not in grads:
                raise KeyError(attr)
            g = np.broadcast_to(_raw(grads[attr]), shape) * (self._scale * self._conv[attr])
            out[id(par)] = out[id(par)] + g if id(par) in out else g
        return out

    def _numeric_items(self, parameters, use_fast: bool | None = None) -> dict[int, np.ndarray]:
        use_fast = self._fast if use_fast is None else use_fast
        out: dict[int, np.ndarray] = {}
        own = {id(p) for p in self.parameters}
        for par in parameters:
            if id(par) not in own or id(par) in out:
                continue
            value = par.value
            h = _fd_step(value, par.scale)
            if use_fast:
                attrs = [a for a, p in self._attrs if p is par]
                up = self._raw_values(self._kwargs({a: (value + h) * self._conv[a]
                                                    for a in attrs}))
                down = self._raw_values(self._kwargs({a: (value - h) * self._conv[a]
                                                      for a in attrs}))
                out[id(par)] = (up - down) * (self._scale / (2 * h))
            else:
                try:
                    par._set_value_unchecked(value + h)
                    up = self._quantity_values()
                    par._set_value_unchecked(value - h)
                    down = self._quantity_values()
                finally:
                    par._set_value_unchecked(value)
                out[id(par)] = (up - down) / (2 * h)
        return out

    def gradient(self, parameters) -> dict[int, np.ndarray]:
        """Derivatives of the values w.r.t. the values of those of ``parameters`` that
        belong to the model, keyed by ``id(parameter)``."""
        own = {id(p) for p in self.parameters}
        pars = [p for p in parameters if id(p) in own]
        if not pars:
            return {}
        if self._grad_fast:
            return self._analytic_items(pars)
        return self._numeric_items(pars)


# ----------------------------------------------------------------------------- dataset cache
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fingerprint(data) -> float:
    """Sum of ``data`` (a count of the True values for a boolean mask: same number,
    without the integer conversion of `numpy.sum`)."""
    if getattr(data, "dtype", None) == np.bool_:
        return float(np.count_nonzero(data))
    return float(np.add.reduce(data, axis=None))  # `numpy.sum` without its dispatch layers


def _dataset_key(dataset) -> tuple:
    maps = (dataset.counts, dataset.background, dataset.exposure, dataset.mask_safe,
            dataset.mask_fit, dataset.psf, dataset.edisp)
    ids = tuple(id(m) for m in maps)
    data_ids = tuple(id(getattr(m, "data", None)) if m is not None else 0
                     for m in maps[:5])
    # cheap content fingerprint: catches in-place edits such as stacking
    sums = tuple(_fingerprint(m.data) if m is not None else 0.0
                 for m in (dataset.counts, dataset.background, dataset.mask_safe,
                           dataset.mask_fit))
    models = dataset.models
    model_ids = () if models is None else tuple(
        (id(m), id(getattr(m, "spectral_model", None)), id(getattr(m, "spatial_model", None)))
        for m in models)
    return ids + data_ids + sums + (id(models),) + model_ids


def invalidate_fit_cache(dataset) -> None:
    """Forget the fit cache and evaluator list of ``dataset`` (after editing its maps)."""
    _CACHES.pop(dataset, None)
    _EVALUATOR_LISTS.pop(dataset, None)


def get_fit_cache(dataset) -> DatasetFitCache:
    """The `DatasetFitCache` of ``dataset`` (rebuilt when its maps or models changed)."""
    key = _dataset_key(dataset)
    cache = _CACHES.get(dataset)
    if cache is None or cache.key != key:
        cache = DatasetFitCache(dataset, key)
        _CACHES[dataset] = cache
    return cache


class DatasetFitCache:
    """Fitted bins, counts, background and evaluator mappings of one dataset.

    Parameters
    ----------
    dataset : `~gammapipe.datasets.MapDataset`
        The dataset.
    key : tuple
        Identity key (see `get_fit_cache`).
    """

    def __init__(self, dataset, key: tuple = ()) -> None:
        self.key = key
        self.dataset_ref = weakref.ref(dataset)
        if dataset.counts is None:
            raise GammapipeError(f"MapDataset {dataset.name!r}: no counts to compute a statistic")
        geom = dataset.counts.geom
        self.shape = tuple(dataset.counts.data.shape)
        mask = dataset.mask
        if mask is None:
            self.idx = np.arange(int(np.prod(self.shape)))
        else:
            self.idx = np.flatnonzero(np.asarray(mask.data, dtype=bool))
        self.counts = np.asarray(dataset.counts.data, dtype=np.float64).ravel()[self.idx]
        self.has_counts = self.counts > 0
        self.count_idx = np.flatnonzero(self.has_counts)
        self.counts_nonzero = self.counts[self.count_idx]
        if dataset.background is not None:
            self.background = np.asarray(dataset.background.data,
                                         dtype=np.float64).ravel()[self.idx]
        else:
            self.background = np.zeros(self.idx.size)
        n_spatial = int(np.prod(self.shape[-2:]))
        self.n_reco = int(np.prod(self.shape[:-2])) if len(self.shape) > 2 else 1
        self.reco_idx = self.idx // n_spatial
        self._setup_background(dataset, geom)
        # bins with counts (the only ones where ln(mu) is needed) and masked sums
        self.k_c = self.reco_idx[self.count_idx]
        self.bkg_c = self.background[self.count_idx]
        self.bkg_sum = np.bincount(self.reco_idx, weights=self.background,
                                   minlength=self.n_reco)
        self._mappings: dict[str, tuple] = {}
        self._terms: dict[str, tuple] = {}
        self._last: tuple | None = None
        self._pars_cache: tuple | None = None

    # -- background ---------------------------------------------------------------------
    def _setup_background(self, dataset, geom) -> None:
        model = dataset.background_model
        self.bkg_model = model
        self.bkg_parameters = [] if model is None else list(model.parameters)
        self.bkg_spectrum = None
        self.bkg_generic = False
        if model is None:
            return
        if getattr(model, "spatial_model", None) is not None or len(self.shape) != 3:
            self.bkg_generic = True
            return
        energy = geom.axes["energy"].center
        self.bkg_spectrum = FastSpectrum(model.spectral_model, energy=energy, unit="")

    def _background(self) -> np.ndarray:
        """npred background on the fitted bins."""
        if self.bkg_model is None:
            return self.background
        if self.bkg_generic:
            dataset = self.dataset_ref()
            return np.asarray(dataset.npred_background().data, float).ravel()[self.idx]
        factor = self.bkg_spectrum.values()
        return self.background * factor[self.reco_idx]

    # -- evaluator mapping --------------------------------------------------------------
    def _kyx(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reco bin, y, x) indices of the fitted bins (computed once)."""
        if self.__dict__.get("_kyx_cache") is None:
            self._kyx_cache = np.unravel_index(self.idx, (self.n_reco,) + self.shape[-2:])
        return self._kyx_cache

    def mapping(self, name: str, evaluator) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions in the fitted bins, flat indices in the evaluator's npred cutout)."""
        from ._folding import cutout_flat_indices

        geom_key = evaluator.cutout_key
        entry = self._mappings.get(name)
        if entry is not None and entry[0] == geom_key:
            return entry[1]
        if not evaluator.contributes:
            value = None
        elif evaluator.parent_slices is None:  # evaluated on the full geometry
            value = (np.arange(self.idx.size), self.idx)
        else:
            evaluator.npred_size  # noqa: B018 - prepares the cutout arrays
            shape = (self.n_reco,) + tuple(evaluator.cutout_shape)
            value = cutout_flat_indices(self._kyx(), (self.n_reco,) + self.shape[-2:],
                                        evaluator.parent_slices, evaluator.cutout_slices,
                                        shape)
        self._mappings[name] = (geom_key, value)
        return value

    # -- count-bin formulation -----------------------------------------------------------
    def _signal_terms(self, name: str, ev):
        """Cached per evaluator and cutout / planes version:
        ``(pos, k, flat, onehot, mask_cut, PM, P_sel)`` with ``pos`` the count bins inside
        the cutout, ``k`` their reco bin, ``flat`` their index in the (reco, pixel) cutout,
        ``mask_cut`` the fitted bins of the cutout, ``PM = P mask_cut^T`` (planes summed
        over the fitted pixels of every reco bin) and ``P_sel`` the planes at the count
        bins."""
        from ._folding import cutout_flat_indices

        mapping = self.mapping(name, ev)
        if mapping is None:
            return None
        planes = ev.planes()
        key = (ev.cutout_key, ev._planes_key)
        entry = self._terms.get(name)
        if entry is not None and entry[0][0] == key[0]:
            geo = entry[1]
        else:
            n_cut = int(np.prod(ev.cutout_shape))
            mask_cut = np.zeros(self.n_reco * n_cut)
            mask_cut[mapping[1]] = 1.0
            mask_cut = mask_cut.reshape(self.n_reco, n_cut)
            if ev.parent_slices is None:
                pos, flat = np.arange(self.count_idx.size), self.idx[self.count_idx]
            else:
                pos, flat = cutout_flat_indices(
                    tuple(a[self.count_idx] for a in self._kyx()),
                    (self.n_reco,) + self.shape[-2:],
                    ev.parent_slices, ev.cutout_slices, (self.n_reco,) + tuple(ev.cutout_shape))
            k, pix = np.divmod(flat, n_cut)
            onehot = np.zeros((pos.size, self.n_reco))
            onehot[np.arange(pos.size), k] = 1.0
            geo = (pos, k, flat, onehot, mask_cut, pix)
            entry = None
        if entry is not None and entry[0] == key:
            return entry[2]
        pos, k, flat, onehot, mask_cut, pix = geo
        terms = (pos, k, flat, onehot, mask_cut, planes @ mask_cut.T, planes[:, pix])
        self._terms[name] = (key, geo, terms)
        return terms

    def _stat_fast(self, evaluators, pars) -> tuple[float, np.ndarray]:
        from gammapipe.stats.fit_statistics import TRUNCATION_VALUE

        factor = (self.bkg_spectrum.values() if self.bkg_model is not None
                  else np.ones(self.n_reco))
        total = float(np.dot(factor, self.bkg_sum))
        mu_c = self.bkg_c * factor[self.k_c]
        parts = []
        for name, ev in evaluators:
            terms = self._signal_terms(name, ev)
            if terms is None:
                continue
            pos, k, _, _, _, pm, p_sel = terms
            flux = ev._flux()
            matrix = ev._edisp_matrix
            weights = flux[:, None] * matrix if matrix is not None else np.diag(flux)
            total += float(np.sum(weights * pm))
            mu_c[pos] += np.einsum("lc,lc->c", weights[:, k], p_sel)
            parts.append((ev, terms, weights))
        above = mu_c > TRUNCATION_VALUE
        log_mu = np.log(np.where(above, mu_c, TRUNCATION_VALUE))
        stat = 2.0 * (total - float(np.dot(self.counts_nonzero, log_mu)))
        grad = np.zeros(len(pars))
        if not pars:
            return stat, grad
        ratio = np.where(above, self.counts_nonzero / np.where(above, mu_c, 1.0), 0.0)
        index: dict[int, list] = {}
        for i, p in enumerate(pars):
            index.setdefault(id(p), []).append(i)

        def add(key, value):
            for i in index.get(key, ()):
                grad[i] += value

        if self.bkg_model is not None:
            weighted = self.bkg_sum - np.bincount(self.k_c, weights=ratio * self.bkg_c,
                                                  minlength=self.n_reco)
            for key, dfactor in self.bkg_spectrum.gradient(pars).items():
                add(key, 2.0 * float(np.dot(weighted, dfactor)))
        for ev, terms, _ in parts:
            pos, k, flat, onehot, mask_cut, pm, p_sel = terms
            spectral = ev._flux_spec.gradient(pars)
            if spectral:
                m = pm - (p_sel * ratio[pos]) @ onehot
                matrix = ev._edisp_matrix
                h = (m * matrix).sum(axis=1) if matrix is not None else np.diag(m)
                tf = ev._temporal_factor()
                for key, dflux in spectral.items():
                    add(key, 2.0 * float(np.dot(dflux, h)) * tf)
            own = {id(p) for p in ev._model_pars}
            rest = [p for p in pars if id(p) in own and id(p) not in spectral]
            if rest:
                g_cut = 2.0 * mask_cut
                g_flat = g_cut.ravel()
                np.subtract.at(g_flat, flat, 2.0 * ratio[pos])
                for key, value in ev.stat_gradient(g_flat, rest).items():
                    add(key, value)
        return stat, grad

    # -- statistic and gradient ---------------------------------------------------------
    def _mu(self, evaluators) -> tuple[np.ndarray, np.ndarray, list]:
        bkg = self._background()
        mu = bkg.copy()
        parts = []
        for name, ev in evaluators:
            mapping = self.mapping(name, ev)
            if mapping is None:
                parts.append((ev, None, None))
                continue
            signal = ev.npred_array().ravel()
            pos, cidx = mapping
            mu[pos] += signal[cidx]
            parts.append((ev, pos, cidx))
        return mu, bkg, parts

    def stat_and_gradient(self, evaluators, parameters=None) -> tuple[float, np.ndarray]:
        """Cash statistic on the fitted bins and its gradient w.r.t. ``parameters``.

        Parameters
        ----------
        evaluators : list of (name, `MapEvaluator`)
            Evaluators of the sky models of the dataset.
        parameters : sequence of `~gammapipe.modeling.Parameter`, optional
            Parameters (values) to differentiate against; None: statistic only.
        """
        from gammapipe.stats.fit_statistics import TRUNCATION_VALUE

        pars = [] if parameters is None else list(parameters)
        for _, ev in evaluators:
            ev.refresh()
        point = (tuple(p.value for p in self._all_parameters(evaluators)),
                 tuple(id(p) for p in pars), tuple(ev.update_count for _, ev in evaluators))
        if self._last is not None and self._last[0] == point:
            return self._last[1], self._last[2]
        if not self.bkg_generic and all(hasattr(ev, "planes") for _, ev in evaluators):
            stat, grad = self._stat_fast(evaluators, pars)
            self._last = (point, stat, grad)
            return stat, grad
        mu, bkg, parts = self._mu(evaluators)
        mu_n = mu[self.count_idx]
        log_mu = np.log(np.maximum(mu_n, TRUNCATION_VALUE))
        stat = 2.0 * (float(np.sum(mu)) - float(np.dot(self.counts_nonzero, log_mu)))
        grad = np.zeros(len(pars))
        if pars:
            dstat_dmu = np.full(mu.shape, 2.0)
            above = mu_n > TRUNCATION_VALUE
            dstat_dmu[self.count_idx] -= np.where(
                above, 2.0 * self.counts_nonzero / np.where(above, mu_n, 1.0), 0.0)
            index = {}
            for i, p in enumerate(pars):
                index.setdefault(id(p), []).append(i)
            self._background_gradient(dstat_dmu, pars, index, grad)
            for ev, pos, cidx in parts:
                if pos is None:
                    continue
                g_cut = np.zeros(ev.npred_size)
                g_cut[cidx] = dstat_dmu[pos]
                for key, value in ev.stat_gradient(g_cut, pars).items():
                    for i in index.get(key, ()):
                        grad[i] += value
        self._last = (point, stat, grad)
        return stat, grad

    def _background_gradient(self, dstat_dmu, pars, index, grad) -> None:
        if self.bkg_model is None:
            return
        bkg_ids = {id(q) for q in self.bkg_parameters}
        own = [p for p in pars if id(p) in bkg_ids]
        if not own:
            return
        if self.bkg_generic:
            for p in own:
                value = p.value
                h = _fd_step(value, p.scale)
                try:
                    p._set_value_unchecked(value + h)
                    up = self._background()
                    p._set_value_unchecked(value - h)
                    down = self._background()
                finally:
                    p._set_value_unchecked(value)
                for i in index[id(p)]:
                    grad[i] += float(np.dot(dstat_dmu, (up - down) / (2 * h)))
            return
        weighted = np.bincount(self.reco_idx, weights=dstat_dmu * self.background,
                               minlength=self.n_reco)
        for key, dfactor in self.bkg_spectrum.gradient(own).items():
            value = float(np.dot(weighted, dfactor))
            for i in index[key]:
                grad[i] += value

    def _all_parameters(self, evaluators) -> list:
        key = tuple(id(ev) for _, ev in evaluators)
        if self._pars_cache is None or self._pars_cache[0] != key:
            pars = list(self.bkg_parameters)
            for _, ev in evaluators:
                pars.extend(ev.model.parameters)
            self._pars_cache = (key, pars)
        return self._pars_cache[1]


# ----------------------------------------------------------------------------- dataset glue
def get_evaluators(dataset) -> list:
    """``[(model name, evaluator)]`` of the sky models of ``dataset``.

    Shares ``dataset._evaluators`` (the dataset's own evaluator store) when it exists, so
    that `stat_sum_and_gradient` and ``dataset.npred()`` use the same IRF state.
    """
    models = dataset.models
    if models is None:
        return []
    store = getattr(dataset, "_evaluators", None)
    if store is None:
        store = {}
        dataset.__dict__["_evaluators"] = store
    cached = _EVALUATOR_LISTS.get(dataset)
    if cached is not None and cached[0] is store and cached[1] is models and cached[4] == len(
            models) and all(
            store.get(name) is ev and ev.model is model for name, ev, model in cached[2]):
        return cached[3]
    out = []
    for model in models:
        if type(model).__name__ == "FoVBackgroundModel":
            continue
        ev = store.get(model.name)
        if ev is None or ev.model is not model:
            from .evaluator import make_evaluator

            ev = make_evaluator(dataset, model)
            store[model.name] = ev
        out.append((model.name, ev))
    _EVALUATOR_LISTS[dataset] = (store, models, [(n, e, e.model) for n, e in out], out,
                                 len(models))
    return out


_EVALUATOR_LISTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _items(datasets) -> list:
    if hasattr(datasets, "stat_sum") and hasattr(datasets, "models") and not hasattr(
            datasets, "__iter__"):
        return [datasets]
    if hasattr(datasets, "counts"):
        return [datasets]
    return list(datasets)


def stat_sum_and_gradient(datasets, parameters) -> tuple[float, np.ndarray]:
    """Cash statistic summed over datasets and its gradient w.r.t. parameter values.

    Parameters
    ----------
    datasets : `MapDataset`, list of `MapDataset` or `Datasets`
        Datasets (the statistic is ``mask_safe & mask_fit``-masked, as ``stat_sum``).
    parameters : sequence of `~gammapipe.modeling.Parameter`
        Parameters to differentiate against (usually the free ones).

    Returns
    -------
    stat : float
    gradient : `~numpy.ndarray`
        ``d stat / d value`` per parameter (0 for parameters no dataset depends on).
    """
    pars = list(parameters)
    total, grad = 0.0, np.zeros(len(pars))
    for ds in _items(datasets):
        cache = get_fit_cache(ds)
        s, g = cache.stat_and_gradient(get_evaluators(ds), pars)
        total += s
        grad += g
    return total, grad


def stat_sum(datasets) -> float:
    """Cash statistic summed over datasets (fast path, same numbers as ``stat_sum``)."""
    total = 0.0
    for ds in _items(datasets):
        total += get_fit_cache(ds).stat_and_gradient(get_evaluators(ds), None)[0]
    return total


def npred_background_gradient(dataset, parameters) -> list:
    """d npred_background / d value for each of ``parameters`` (Maps on the counts
    geometry; zero for parameters that are not the FoV background model's).

    ``npred_background = background x norm model(E_reco centres)``, so the derivative is
    the background times the derivative of the norm model, e.g. ``(E/E_ref)^-tilt`` for
    ``norm`` and ``-ln(E/E_ref) norm (E/E_ref)^-tilt`` for ``tilt`` of a power-law norm.
    """
    from gammapipe.maps import Map

    geom = dataset.counts.geom if dataset.counts is not None else dataset.background.geom
    model = dataset.background_model
    out = []
    grads = {}
    if model is not None and dataset.background is not None:
        energy = geom.axes["energy"].center
        grads = FastSpectrum(model.spectral_model, energy=energy, unit="").gradient(parameters)
        bkg = np.asarray(dataset.background.data, dtype=np.float64)
        spatial = 1.0
        if model.spatial_model is not None:
            spatial = np.asarray(model.spatial_model.evaluate_geom(geom.to_image()).value)
    for p in parameters:
        data = np.zeros(tuple(geom.data_shape))
        if id(p) in grads:
            data = bkg * grads[id(p)].reshape((-1,) + (1,) * (bkg.ndim - 1)) * spatial
        out.append(Map.from_geom(geom, data=data, unit=""))
    return out


def npred_total(dataset):
    """Total predicted counts Map (background model + all sky models) of ``dataset``."""
    from gammapipe.maps import Map

    cache = get_fit_cache(dataset)
    data = np.zeros(cache.shape)
    if dataset.background is not None:
        bkg = dataset.npred_background()
        data += np.asarray(bkg.data, dtype=np.float64)
    for _, ev in get_evaluators(dataset):
        ev.refresh()
        if not ev.contributes:
            continue
        npred = ev.npred_array()
        if ev.parent_slices is None:
            data += npred.reshape(data.shape)
        else:
            py, px = ev.parent_slices
            cy, cx = ev.cutout_slices
            data[..., py, px] += npred[..., cy, cx]
    return Map.from_geom(dataset.counts.geom, data=data, unit="")
