"""On-off datasets: the background is measured in an OFF region (``counts_off``) whose
exposure relative to the ON region is ``alpha = acceptance / acceptance_off``; the fit
statistic is WStat (Poisson ON and OFF counts, background profiled per bin).

`OnOffMixin` holds what map and spectrum on-off datasets share; `MapDatasetOnOff` is the
map (WCS) version.
"""

from __future__ import annotations

import contextlib

import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError

from .map_dataset import MapDataset

__all__ = ["MapDatasetOnOff", "OnOffMixin", "stack_onoff_arrays"]


def stack_onoff_arrays(acceptance, counts_off, alpha, mask, acceptance_o, counts_off_o,
                       alpha_o, mask_o, dtype="float32"):
    """Stacking rule of the OFF quantities of two on-off datasets (per bin).

    ``acceptance = sum_j acc_j m_j``, ``counts_off = sum_j n_off_j m_j`` and the stacked
    alpha is the OFF-counts weighted mean ``sum_j alpha_j n_off_j m_j / sum_j n_off_j m_j``,
    so that the background estimate ``alpha x counts_off`` is conserved bin by bin. The
    OFF acceptance is ``acceptance / alpha``; in bins without OFF counts alpha is the
    OFF-counts weighted mean over all bins. The maps are accumulated in ``dtype``.

    Returns
    -------
    acceptance, counts_off, acceptance_off : `~numpy.ndarray`
    """
    def masked(values, m):
        values = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0,
                               neginf=0.0)
        return values if m is None else values * np.asarray(m, dtype=float)

    acc = np.zeros(np.shape(acceptance), dtype=dtype)
    off = np.zeros_like(acc)
    total_alpha = np.zeros_like(acc)
    for a, n, al, m in ((acceptance, counts_off, alpha, mask),
                        (acceptance_o, counts_off_o, alpha_o, mask_o)):
        acc += masked(a, m).astype(dtype)
        if n is not None:
            off += masked(n, m).astype(dtype)
            total_alpha += masked(np.asarray(al, float) * np.asarray(n, float), m).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        acceptance_off = acc * off / total_alpha
        average_alpha = total_alpha.sum() / off.sum()
    is_zero = off == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        acceptance_off[is_zero] = acc[is_zero] / average_alpha
    acceptance_off = np.nan_to_num(acceptance_off, nan=0.0, posinf=0.0, neginf=0.0)
    return acc, off, acceptance_off.astype(dtype)


class OnOffMixin:
    """ON/OFF quantities, WStat statistic and OFF-aware stacking (for map and region
    datasets). The host class is a `MapDataset` subclass."""

    stat_type = "wstat"
    _hide_background = False
    # the ON-only dataset class the on-off class is built from (set by the host class)
    _on_dataset_class: type = MapDataset

    @classmethod
    def from_geoms(cls, geom, geom_exposure=None, geom_psf=None, geom_edisp=None,
                   reference_time="2000-01-01", name=None, **kwargs):
        """Empty on-off dataset (zero OFF counts, acceptances of one)."""
        from gammapipe.maps import Map

        ds = cls._on_dataset_class.from_geoms(
            geom, geom_exposure=geom_exposure, geom_psf=geom_psf, geom_edisp=geom_edisp,
            reference_time=reference_time, name=name,
            meta_table=kwargs.pop("meta_table", None))
        ones = np.ones(geom.data_shape)
        kwargs.setdefault("acceptance", Map.from_geom(geom, data=ones, dtype="float32"))
        kwargs.setdefault("acceptance_off", Map.from_geom(geom, data=ones, dtype="float32"))
        kwargs.setdefault("counts_off", Map.from_geom(geom, dtype="float32"))
        return cls._from_on_dataset(ds, name=name, **kwargs)

    @classmethod
    def _from_on_dataset(cls, dataset, acceptance, acceptance_off, counts_off=None,
                         name=None, **kwargs):
        """On-off dataset from an ON-only dataset (its background is dropped)."""
        from gammapipe.maps import Map

        geom = dataset.counts.geom
        if np.isscalar(acceptance):
            acceptance = Map.from_geom(geom, data=np.full(geom.data_shape, float(acceptance)))
        if np.isscalar(acceptance_off):
            acceptance_off = Map.from_geom(geom, data=np.full(geom.data_shape,
                                                              float(acceptance_off)))
        return cls(
            models=kwargs.pop("models", None), counts=dataset.counts, exposure=dataset.exposure,
            counts_off=counts_off, edisp=dataset.edisp, psf=dataset.psf,
            mask_safe=dataset.mask_safe, mask_fit=dataset.mask_fit, acceptance=acceptance,
            acceptance_off=acceptance_off, gti=dataset.gti, meta_table=dataset.meta_table,
            name=name or dataset.name, meta=dict(getattr(dataset, "meta", {}) or {}), **kwargs)

    # ------------------------------------------------------------------ OFF data
    def _init_onoff(self, counts_off, acceptance, acceptance_off) -> None:
        self.counts_off = counts_off
        self.acceptance = _as_float_map(acceptance, "acceptance")
        self.acceptance_off = _as_float_map(acceptance_off, "acceptance_off")

    def _check_onoff_shapes(self) -> None:
        ref = self.counts.data.shape if self.counts is not None else None
        for key in ("counts_off", "acceptance", "acceptance_off"):
            m = getattr(self, key)
            if m is not None and ref is not None and m.data.shape != ref:
                raise GeometryError(
                    f"{type(self).__name__} {self.name!r}: {key} shape {m.data.shape} differs "
                    f"from the counts shape {ref}")

    @property
    def background(self):
        """Background estimate from the OFF counts: ``alpha x counts_off`` (None if no OFF
        counts)."""
        if self._hide_background or getattr(self, "counts_off", None) is None:
            return None
        return self.counts_off.copy(data=self.alpha.data * self.counts_off.data, unit="")

    @background.setter
    def background(self, value) -> None:
        if value is not None:
            raise GammapipeError(
                f"{type(self).__name__}: the background is alpha x counts_off and cannot be "
                "set; set counts_off, acceptance and acceptance_off instead")

    @property
    def alpha(self):
        """Exposure ratio ``acceptance / acceptance_off`` (0 where acceptance_off is 0)."""
        if self.acceptance is None or self.acceptance_off is None:
            raise GammapipeError(f"{type(self).__name__} {self.name!r}: acceptance and "
                                 "acceptance_off are needed for alpha")
        with np.errstate(divide="ignore", invalid="ignore"):
            data = np.asarray(self.acceptance.data, float) / np.asarray(
                self.acceptance_off.data, float)
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        return self.acceptance.copy(data=data, unit="")

    def _onoff_flat(self):
        """Flattened ``(n_on, n_off, alpha)`` (cached on the data identities and sums)."""
        if self.counts is None or self.counts_off is None:
            raise GammapipeError(
                f"{type(self).__name__} {self.name!r}: counts and counts_off are needed for "
                "the WStat statistic")
        c, n, a, b = self.counts, self.counts_off, self.acceptance, self.acceptance_off
        cd, nd, ad, bd = c.data, n.data, a.data, b.data
        key = (id(c), id(n), id(a), id(b), id(cd), id(nd), id(ad), id(bd),
               float(cd.sum()), float(nd.sum()), float(ad.sum()), float(bd.sum()))
        cache = self.__dict__.get("_onoff_cache")
        if cache is None or cache[0] != key:
            n_on = np.asarray(self.counts.data, float).ravel().copy()
            n_off = np.asarray(self.counts_off.data, float).ravel().copy()
            alpha = np.asarray(self.alpha.data, float).ravel().copy()
            cache = (key, n_on, n_off, alpha)
            self.__dict__["_onoff_cache"] = cache
        return cache[1], cache[2], cache[3]

    def _arrays(self):
        n_on, n_off, alpha = self._onoff_flat()
        mu_sig = np.broadcast_to(np.asarray(self._mu_sig_flat(), float), n_on.shape)
        shape = self.counts.data.shape
        return (n_on.reshape(shape), n_off.reshape(shape), alpha.reshape(shape),
                mu_sig.reshape(shape))

    def npred_off(self):
        """Profiled OFF-region background (WStat) given the current models."""
        from gammapipe.stats import get_wstat_mu_bkg

        n_on, n_off, alpha, mu_sig = self._arrays()
        return self.counts.copy(data=get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig), unit="")

    def npred_background(self):
        """Profiled ON-region background ``alpha x mu_bkg`` (WStat) given the models."""
        from gammapipe.stats import get_wstat_mu_bkg

        if self.counts_off is None:
            return self.counts.copy(data=np.zeros(self.counts.data.shape), unit="")
        n_on, n_off, alpha, mu_sig = self._arrays()
        return self.counts.copy(data=alpha * get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig),
                                unit="")

    def stat_array(self) -> np.ndarray:
        """WStat per bin."""
        from gammapipe.stats import wstat

        n_on, n_off, alpha, mu_sig = self._arrays()
        return wstat(n_on=n_on, n_off=n_off, alpha=alpha, mu_sig=mu_sig)

    def stat_sum(self) -> float:
        """WStat summed over the fitted bins (``mask_safe & mask_fit``)."""
        from gammapipe.stats import wstat

        n_on, n_off, alpha = self._onoff_flat()
        mu_sig = np.broadcast_to(np.asarray(self._mu_sig_flat(), float), n_on.shape)
        mask = self.mask
        if mask is not None:
            data = mask.data
            cache = self.__dict__.get("_mask_idx_cache")
            key = hash(np.asarray(data, bool).tobytes())
            if cache is None or cache[0] != key:
                cache = (key, np.flatnonzero(np.asarray(data, bool)))
                self.__dict__["_mask_idx_cache"] = cache
            idx = cache[1]
            n_on, n_off, alpha, mu_sig = n_on[idx], n_off[idx], alpha[idx], mu_sig[idx]
        return float(wstat(n_on=n_on, n_off=n_off, alpha=alpha, mu_sig=mu_sig).sum())

    def _stat_and_grad_factor(self, mu_sig):
        """WStat per bin and its derivative w.r.t. ``mu_sig`` (profiled background)."""
        from gammapipe.stats import wstat, wstat_grad_factor

        n_on, n_off, alpha = self._onoff_flat()
        return (wstat(n_on=n_on, n_off=n_off, alpha=alpha, mu_sig=mu_sig),
                wstat_grad_factor(n_on, n_off, alpha, mu_sig))

    def fake(self, npred_background, random_state="random-seed") -> None:
        """Poisson draws: ON counts from ``npred_signal + npred_background`` and OFF counts
        from ``npred_background / alpha``."""
        if isinstance(random_state, np.random.Generator):
            rng = random_state
        elif random_state == "random-seed":
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng(random_state)
        bkg = np.asarray(getattr(npred_background, "data", npred_background), float)
        bkg = np.broadcast_to(bkg, self.counts.data.shape)
        sig = self.npred_signal().data if self._sky_models() else 0.0
        mu_on = np.clip(np.nan_to_num(bkg + sig), 0, None)
        self.counts = self.counts.copy(data=rng.poisson(mu_on).astype("float32"))
        alpha = self.alpha.data
        with np.errstate(divide="ignore", invalid="ignore"):
            mu_off = np.where(alpha > 0, bkg / alpha, 0.0)
        self.counts_off = self.counts.copy(
            data=rng.poisson(np.clip(np.nan_to_num(mu_off), 0, None)).astype("float32"))

    # ------------------------------------------------------------------ stacking
    def _stack_onoff(self, other) -> None:
        """Stack the OFF quantities of ``other`` into this dataset (see
        `stack_onoff_arrays`); the ON part is stacked by the host class."""
        if not isinstance(other, OnOffMixin):
            raise GeometryError(f"stack: cannot stack a {type(other).__name__} onto a "
                                f"{type(self).__name__}")
        m_self = None if self.mask_safe is None else self.mask_safe.data
        m_other = None if other.mask_safe is None else other.mask_safe.data
        n_self = None if self.counts_off is None else self.counts_off.data
        n_other = None if other.counts_off is None else other.counts_off.data
        acc, off, acc_off = stack_onoff_arrays(
            self.acceptance.data, n_self, self.alpha.data, m_self,
            other.acceptance.data, n_other, other.alpha.data, m_other)
        self.acceptance = self.acceptance.copy(data=acc)
        self.acceptance_off = self.acceptance_off.copy(data=acc_off)
        self.counts_off = self.counts.copy(data=off, unit="") if self.counts_off is None \
            else self.counts_off.copy(data=off)

    @contextlib.contextmanager
    def _without_background(self):
        """Hide the OFF-derived background while the ON part is stacked."""
        self._hide_background = True
        try:
            yield
        finally:
            self._hide_background = False

    # ------------------------------------------------------------------ summary
    def _info_onoff(self, info: dict, in_safe_data_range: bool = True) -> dict:
        from gammapipe.stats import WStatCountsStatistic

        mask = None
        if in_safe_data_range and self.mask_safe is not None:
            mask = np.asarray(self.mask_safe.data, bool)

        def msum(values):
            values = np.asarray(values, float)
            return float(values[mask].sum() if mask is not None else values.sum())

        counts = msum(self.counts.data)
        counts_off = msum(self.counts_off.data) if self.counts_off is not None else 0.0
        acceptance = msum(self.acceptance.data)
        acceptance_off = msum(self.acceptance_off.data)
        background = msum(self.background.data) if self.counts_off is not None else 0.0
        # alpha of the summed spectrum: OFF-counts weighted mean (background conserved)
        if counts_off > 0:
            alpha = background / counts_off
        else:
            alpha = acceptance / acceptance_off if acceptance_off > 0 else np.nan
        if np.isfinite(alpha) and alpha > 0:
            acceptance_off = acceptance / alpha
        info["counts"] = int(round(counts))
        info["background"] = background
        info["excess"] = counts - background
        livetime = info.get("livetime")
        if livetime is not None:  # the rates of the base info used the NaN model background
            with np.errstate(invalid="ignore", divide="ignore"):
                info["background_rate"] = background / livetime
                info["excess_rate"] = (counts - background) / livetime
        stat = WStatCountsStatistic(n_on=counts, n_off=counts_off, alpha=alpha)
        info["sqrt_ts"] = float(stat.sqrt_ts) if np.isfinite(alpha) else np.nan
        npred_background = msum(self.npred_background().data)
        has_sky = bool(self._sky_models())
        npred_signal = msum(self.npred_signal().data) if has_sky else np.nan
        info["npred_background"] = npred_background
        info["npred_signal"] = npred_signal
        info["npred"] = npred_background + (npred_signal if has_sky else 0.0)
        info["stat_sum"] = self.stat_sum() if self.counts_off is not None else np.nan
        info["counts_off"] = int(round(counts_off))
        info["acceptance"] = acceptance
        info["acceptance_off"] = acceptance_off
        info["alpha"] = alpha
        return info


def _as_float_map(m, name):
    if m is None:
        return None
    if not np.issubdtype(np.asarray(m.data).dtype, np.floating):
        return m.copy(data=np.asarray(m.data, dtype=float))
    return m


class MapDatasetOnOff(OnOffMixin, MapDataset):
    """Map dataset with OFF counts (ring background, ...) and the WStat statistic.

    Parameters
    ----------
    models, counts, exposure, psf, edisp, mask_safe, mask_fit, gti, meta_table, name,
    meta :
        As for `MapDataset` (there is no background map: it is ``alpha x counts_off``).
    counts_off : `~gammapipe.maps.WcsNDMap`
        OFF counts (counts geometry).
    acceptance, acceptance_off : `~gammapipe.maps.WcsNDMap`
        ON and OFF acceptances (e.g. background model integrated over the ON pixel and
        over the ring); ``alpha = acceptance / acceptance_off``.
    """

    tag = "MapDatasetOnOff"

    def _mu_sig_flat(self) -> np.ndarray | float:
        """Predicted signal (flat array; 0 without sky models)."""
        if not self._sky_models():
            return 0.0
        return np.asarray(self.npred_signal().data, float).ravel()

    def __init__(self, models=None, counts=None, counts_off=None, acceptance=None,
                 acceptance_off=None, exposure=None, mask_fit=None, psf=None, edisp=None,
                 name=None, mask_safe=None, gti=None, meta_table=None, meta=None):
        self._init_onoff(counts_off, acceptance, acceptance_off)
        super().__init__(models=models, counts=counts, exposure=exposure, background=None,
                         psf=psf, edisp=edisp, mask_safe=mask_safe, mask_fit=mask_fit,
                         gti=gti, meta_table=meta_table, name=name, meta=meta)
        self._check_onoff_shapes()

    @classmethod
    def create(cls, geom, energy_axis_true=None, migra_axis=None, rad_axis=None,
               binsz_irf=None, reference_time="2000-01-01", name=None, **kwargs):
        """Empty on-off dataset: zero counts and OFF counts, acceptances of one."""
        from gammapipe.maps import Map

        ds = MapDataset.create(geom, energy_axis_true=energy_axis_true, migra_axis=migra_axis,
                               rad_axis=rad_axis, binsz_irf=binsz_irf,
                               reference_time=reference_time, name=name,
                               meta_table=kwargs.pop("meta_table", None))
        ones = np.ones(geom.data_shape)
        return cls.from_map_dataset(
            ds, acceptance=Map.from_geom(geom, data=ones, dtype="float32"),
            acceptance_off=Map.from_geom(geom, data=ones, dtype="float32"),
            counts_off=Map.from_geom(geom, dtype="float32"), name=name, **kwargs)

    @classmethod
    def from_map_dataset(cls, dataset, acceptance, acceptance_off, counts_off=None,
                         name=None, **kwargs):
        """On-off dataset from a `MapDataset` (its background is dropped).

        ``acceptance`` / ``acceptance_off`` may be maps or numbers (broadcast).
        """
        return cls._from_on_dataset(dataset, acceptance, acceptance_off, counts_off, name,
                                    **kwargs)

    def to_map_dataset(self, name=None):
        """`MapDataset` whose background is ``alpha x counts_off``."""
        return MapDataset(counts=self.counts, exposure=self.exposure, psf=self.psf,
                          edisp=self.edisp, mask_safe=self.mask_safe, mask_fit=self.mask_fit,
                          background=self.background, gti=self.gti,
                          meta_table=self.meta_table, name=name or self.name,
                          meta=dict(self.meta))

    def to_spectrum_dataset(self, on_region, containment_correction=False, name=None):
        """`SpectrumDatasetOnOff` in ``on_region``: ON / OFF counts, acceptances summed
        over the pixels inside the region, exposure and edisp at the region centre (the
        exposure times the PSF containment in a circular region if asked)."""
        return map_onoff_to_spectrum(self, on_region, containment_correction, name)

    def stack(self, other, nan_to_num=True) -> None:
        """Stack ``other`` in place: ON part as `MapDataset.stack`, OFF part with
        `stack_onoff_arrays` (OFF counts summed, alpha the OFF-weighted mean)."""
        from gammapipe.maps._wcs_ops import overlap_slices

        parent, child = overlap_slices(self._geom, other._geom)
        if self.counts.data.shape != other.counts.data.shape:
            # bring ``other``'s OFF quantities onto this grid first
            other = _pad_onoff_to(other, self, parent, child)
        self._stack_onoff(other)
        with self._without_background(), other._without_background():
            super().stack(other, nan_to_num=nan_to_num)

    def cutout(self, position, width, mode="trim", name=None):
        """Cutout of all maps (OFF counts and acceptances included)."""
        from . import map_dataset_ops as ops

        with self._without_background():
            cut = ops.cutout(self.to_map_dataset_no_bkg(), position, width, mode=mode,
                             name=name)
        geom = cut.counts.geom
        kwargs = {key: getattr(self, key).cutout(position, width, mode=mode)
                  for key in ("counts_off", "acceptance", "acceptance_off")
                  if getattr(self, key) is not None}
        for key, m in kwargs.items():
            if m.data.shape != geom.data_shape:
                raise GeometryError(f"cutout: {key} shape {m.data.shape} differs from "
                                    f"{geom.data_shape}")
        return MapDatasetOnOff.from_map_dataset(cut, name=cut.name, **kwargs)

    # ------------------------------------------------------------------ geometry ops
    def _with_off(self, base, counts_off, acceptance, acceptance_off):
        return MapDatasetOnOff.from_map_dataset(base, acceptance=acceptance,
                                                acceptance_off=acceptance_off,
                                                counts_off=counts_off, name=base.name)

    def _regroup_off(self, base, func):
        """OFF maps regrouped by ``func`` (a sum over merged bins / pixels) so that the
        background ``alpha x counts_off`` is conserved: ``alpha`` of a merged bin is the
        OFF-counts weighted mean (the mean alpha of the dataset where it has no OFF
        counts) and ``acceptance_off = acceptance / alpha``."""
        mask = 1.0 if self.mask_safe is None else np.asarray(self.mask_safe.data, float)
        n_off = np.asarray(self.counts_off.data, float) * mask
        bkg = np.asarray(self.alpha.data, float) * n_off
        acc = np.asarray(self.acceptance.data, float) * mask
        off_new, bkg_new, acc_new = (func(self.counts_off.copy(data=v, unit="")).data
                                     for v in (n_off, bkg, acc))
        off_new = np.asarray(off_new, float)
        bkg_new = np.asarray(bkg_new, float)
        mean_alpha = bkg_new.sum() / off_new.sum() if off_new.sum() > 0 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(off_new > 0, bkg_new / off_new, mean_alpha)
            acc_off = np.where(alpha > 0, np.asarray(acc_new, float) / alpha, 0.0)
        geom = base.counts.geom
        return self._with_off(base, base.counts.copy(data=off_new.reshape(geom.data_shape)),
                              base.counts.copy(data=np.asarray(acc_new, float).reshape(
                                  geom.data_shape)),
                              base.counts.copy(data=acc_off.reshape(geom.data_shape)))

    def slice_by_idx(self, slices, name=None):
        """Slice the non-spatial axes (OFF maps included)."""
        from . import map_dataset_ops as ops

        base = ops.slice_by_idx(self.to_map_dataset_no_bkg(), slices, name=name)
        own = {k: v for k, v in slices.items() if k in self.counts.geom.axes.names}
        maps = [getattr(self, k).slice_by_idx(own) if own else getattr(self, k).copy()
                for k in ("counts_off", "acceptance", "acceptance_off")]
        return self._with_off(base, *maps)

    def slice_by_energy(self, energy_min=None, energy_max=None, name=None):
        """Reco-energy bins between the edges nearest to ``energy_min`` / ``energy_max``."""
        import astropy.units as u

        axis = self._geom.axes["energy"]
        edges = axis.edges
        emin = edges[0] if energy_min is None else u.Quantity(energy_min)
        emax = edges[-1] if energy_max is None else u.Quantity(energy_max)
        log_edges = np.log(edges.to_value(axis.unit))
        i0 = int(np.argmin(np.abs(log_edges - np.log(emin.to_value(axis.unit)))))
        i1 = int(np.argmin(np.abs(log_edges - np.log(emax.to_value(axis.unit)))))
        if i1 <= i0:
            raise GeometryError(f"slice_by_energy: no energy bin between {emin} and {emax}")
        return self.slice_by_idx({"energy": slice(i0, i1)}, name=name)

    def resample_energy_axis(self, energy_axis, name=None):
        """Regroup reco bins onto ``energy_axis`` (background conserved, see
        `_regroup_off`)."""
        from . import map_dataset_ops as ops

        base = ops.resample_energy_axis(self.to_map_dataset_no_bkg(), energy_axis, name=name)
        return self._regroup_off(base, lambda m: m.resample_axis(energy_axis))

    def to_image(self, name=None):
        """One reco-energy bin spanning the full axis."""
        return self.resample_energy_axis(self._geom.axes["energy"].squash(), name=name)

    def downsample(self, factor, axis_name=None, name=None):
        """Merge ``factor`` pixels (or bins of ``axis_name``), background conserved."""
        from . import map_dataset_ops as ops

        base = ops.downsample(self.to_map_dataset_no_bkg(), factor, axis_name=axis_name,
                              name=name)
        return self._regroup_off(base, lambda m: m.downsample(
            factor, preserve_counts=True, axis_name=axis_name))

    def pad(self, pad_width, mode="constant", name=None):
        """Pad the spatial axes (OFF counts and acceptances padded with 0)."""
        from . import map_dataset_ops as ops

        base = ops.pad(self.to_map_dataset_no_bkg(), pad_width, mode=mode, name=name)
        maps = [getattr(self, k).pad(pad_width, mode="constant", cval=0)
                for k in ("counts_off", "acceptance", "acceptance_off")]
        return self._with_off(base, *maps)

    def to_map_dataset_no_bkg(self, name=None):
        """`MapDataset` with the ON data only (no background)."""
        return MapDataset(counts=self.counts, exposure=self.exposure, psf=self.psf,
                          edisp=self.edisp, mask_safe=self.mask_safe, mask_fit=self.mask_fit,
                          gti=self.gti, meta_table=self.meta_table, name=name or self.name,
                          meta=dict(self.meta))

    def info_dict(self, in_safe_data_range=True) -> dict:
        """Summary numbers of `MapDataset.info_dict` plus counts_off, acceptance,
        acceptance_off and alpha (background = sum of alpha x counts_off)."""
        from .info import info_dict

        with self._without_background():
            info = info_dict(self, in_safe_data_range=in_safe_data_range)
        return self._info_onoff(info, in_safe_data_range)

    def __str__(self) -> str:
        return onoff_str(self)

    def to_hdulist(self):
        """HDU list (GADF dataset layout plus COUNTS_OFF, ACCEPTANCE, ACCEPTANCE_OFF)."""
        from .ogip import onoff_to_hdulist

        return onoff_to_hdulist(self)

    @classmethod
    def from_hdulist(cls, hdulist, name=None, lazy=False, format="gadf"):
        """Dataset from an HDU list written by `to_hdulist`."""
        from .ogip import onoff_from_hdulist

        return onoff_from_hdulist(cls, hdulist, name=name)

    @classmethod
    def read(cls, filename, name=None, lazy=False, cache=True, format="gadf",
             checksum=False):
        """Read from a FITS file (GADF layout)."""
        from gammapipe.utils.fits import open_fits

        with open_fits(filename) as hdulist:
            return cls.from_hdulist(hdulist, name=name)

    def write(self, filename, overwrite=False, checksum=False) -> None:
        """Write to a FITS file (GADF layout, atomically)."""
        from gammapipe.utils.fits import write_hdulist

        write_hdulist(self.to_hdulist(), filename, overwrite=overwrite)


def _pad_onoff_to(other, target, parent, child):
    """Copy of ``other`` whose OFF maps are embedded in ``target``'s grid."""
    out = other.copy(name=other.name)
    for key in ("counts_off", "acceptance", "acceptance_off"):
        m = getattr(other, key)
        data = np.zeros(target.counts.data.shape, dtype=m.data.dtype)
        data[(Ellipsis,) + parent] = m.data[(Ellipsis,) + child]
        setattr(out, key, target.counts.copy(data=data, unit=""))
    mask = np.zeros(target.counts.data.shape, dtype=bool)
    if other.mask_safe is not None:
        mask[(Ellipsis,) + parent] = np.asarray(other.mask_safe.data, bool)[(Ellipsis,) + child]
    else:
        mask[(Ellipsis,) + parent] = True
    out.mask_safe = target.counts.copy(data=mask, unit="")
    return out


def onoff_str(ds) -> str:
    """Summary text of an on-off dataset (the classic block plus the OFF numbers)."""
    info = ds.info_dict()
    w = 38

    def fmt(value, spec=".2f"):
        if hasattr(value, "unit"):
            return f"{value.value:{spec}} {value.unit}"
        return f"{value:{spec}}"

    name = type(ds).__name__
    lines = [name, "-" * len(name), "", f"  {'Name':{w}}: {info['name']} ", ""]
    lines += [f"  {'Total counts':{w}}: {info['counts']} ",
              f"  {'Total background counts':{w}}: {fmt(info['background'])}",
              f"  {'Total excess counts':{w}}: {fmt(info['excess'])}", ""]
    lines += [f"  {'Predicted counts':{w}}: {fmt(info['npred'])}",
              f"  {'Predicted background counts':{w}}: {fmt(info['npred_background'])}",
              f"  {'Predicted excess counts':{w}}: {fmt(info['npred_signal'])}", ""]
    lines += [f"  {'Exposure min':{w}}: {fmt(info['exposure_min'], '.2e')}",
              f"  {'Exposure max':{w}}: {fmt(info['exposure_max'], '.2e')}", ""]
    lines += [f"  {'Number of total bins':{w}}: {info['n_bins']} ",
              f"  {'Number of fit bins':{w}}: {info['n_fit_bins']} ", ""]
    lines += [f"  {'Fit statistic type':{w}}: {info['stat_type']}",
              f"  {'Fit statistic value (-2 log(L))':{w}}: {fmt(info['stat_sum'])}", ""]
    lines += [f"  {'Number of counts_off':{w}}: {info['counts_off']} ",
              f"  {'Acceptance':{w}}: {fmt(info['acceptance'], '.4g')}",
              f"  {'Acceptance off':{w}}: {fmt(info['acceptance_off'], '.4g')}",
              f"  {'Alpha':{w}}: {fmt(info['alpha'], '.4g')}", ""]
    models = ds.models
    n_models = 0 if models is None else len(models)
    n_pars = n_free = 0
    if n_models:
        pars = models.parameters
        n_pars = len(pars)
        n_free = sum(1 for p in pars if not p.frozen)
    lines += [f"  {'Number of models':{w}}: {n_models} ",
              f"  {'Number of parameters':{w}}: {n_pars}",
              f"  {'Number of free parameters':{w}}: {n_free}", ""]
    if n_models:
        lines.append("  " + str(models).replace("\n", "\n  "))
    return "\n".join(lines)


def map_onoff_to_spectrum(ds, on_region, containment_correction=False, name=None):
    """`SpectrumDatasetOnOff` of a `MapDatasetOnOff` inside ``on_region``."""
    from gammapipe.maps import Map, RegionGeom

    from .spectrum import SpectrumDatasetOnOff

    geom = ds.counts.geom
    inside = geom.region_mask([on_region]).data
    inside_img = np.asarray(inside, bool).reshape((-1,) + inside.shape[-2:])[0]
    energy_axis = geom.axes["energy"]
    region_geom = RegionGeom.create(on_region, axes=[energy_axis])

    def summed(m, dtype=float):
        data = np.asarray(m.data, float)[..., inside_img].sum(axis=-1)
        return Map.from_geom(region_geom, data=data.reshape(region_geom.data_shape),
                             dtype=dtype)

    counts = summed(ds.counts, "float32")
    counts_off = summed(ds.counts_off, "float32")
    acceptance = summed(ds.acceptance)
    acceptance_off = summed(ds.acceptance_off)
    # background conserved: alpha = sum(alpha_i n_off_i) / sum(n_off_i)
    bkg = np.asarray((ds.alpha.data * ds.counts_off.data), float)[..., inside_img].sum(-1)
    off = counts_off.data.reshape(-1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_reg = np.where(off > 0, bkg.reshape(-1) / off, np.nan)
        fallback = acceptance.data.reshape(-1) / acceptance_off.data.reshape(-1)
    alpha_reg = np.where(np.isfinite(alpha_reg), alpha_reg, fallback)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc_off = np.where(alpha_reg > 0, acceptance.data.reshape(-1) / alpha_reg, 0.0)
    acceptance_off = acceptance_off.copy(data=acc_off.reshape(region_geom.data_shape))
    mask_safe = None
    if ds.mask_safe is not None:
        m = np.asarray(ds.mask_safe.data, bool)[..., inside_img].any(axis=-1)
        mask_safe = Map.from_geom(region_geom, data=m.reshape(region_geom.data_shape),
                                  dtype=bool)
    exposure = edisp = None
    center = region_geom.center_skydir
    if ds.exposure is not None:
        egeom = ds.exposure.geom
        e_axis = egeom.axes["energy_true"]
        values = ds.exposure.interp_by_coord(
            {"skycoord": center, "energy_true": e_axis.center}, method="linear")
        values = np.nan_to_num(np.asarray(values, float))
        if containment_correction:
            from regions import CircleSkyRegion

            if not isinstance(on_region, CircleSkyRegion) or ds.psf is None:
                raise GeometryError("containment_correction needs a circular ON region and "
                                    "a PSF map")
            values = values * np.asarray(ds.psf.containment(
                rad=on_region.radius, energy_true=e_axis.center, position=center)).reshape(-1)
        geom_exp = region_geom.to_image().to_cube([e_axis])
        exposure = Map.from_geom(geom_exp, data=values.reshape(geom_exp.data_shape),
                                 unit=ds.exposure.unit, meta=dict(ds.exposure.meta))
    if ds.edisp is not None:
        from gammapipe.irf.edisp_map import EDispKernelMap

        kernel = ds.edisp.get_edisp_kernel(position=center, energy_axis=energy_axis)
        edisp = EDispKernelMap.from_edisp_kernel(kernel, geom=region_geom.to_image())
    return SpectrumDatasetOnOff(
        counts=counts, counts_off=counts_off, acceptance=acceptance,
        acceptance_off=acceptance_off, exposure=exposure, edisp=edisp, mask_safe=mask_safe,
        gti=ds.gti, meta_table=ds.meta_table, name=name or ds.name, meta=dict(ds.meta))
