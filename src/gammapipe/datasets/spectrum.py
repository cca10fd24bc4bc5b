"""1D spectral datasets on a `~gammapipe.maps.RegionGeom`: `SpectrumDataset` (counts and
a background model, Cash statistic) and `SpectrumDatasetOnOff` (OFF counts, WStat).

The forward folding of a 1D dataset is a small matrix product: the model flux integrated
over the true-energy bins (times the fraction of the spatial model inside the region)
times the exposure, redistributed over the reco bins by the energy-dispersion kernel.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError

from .map_dataset import MapDataset
from .map_onoff import OnOffMixin, onoff_str

__all__ = ["SpectrumDataset", "SpectrumDatasetOnOff"]

_CM2S = u.Unit("cm2 s")
_FLUX = u.Unit("cm-2 s-1")


def _region_geom_check(geom, where: str):
    if not getattr(geom, "is_region", False):
        raise GeometryError(f"{where}: a RegionGeom is required, got {type(geom).__name__}")
    if "energy" not in geom.axes.names:
        raise GeometryError(f"{where}: geom needs a reco 'energy' axis")


def _not_for_spectrum(what: str):
    raise GammapipeError(f"{what} is not defined for a 1D (region) dataset")


class SpectrumDataset(MapDataset):
    """1D spectral dataset: counts, background, exposure and energy dispersion in one
    sky region (`~gammapipe.maps.RegionGeom` with a reco ``energy`` axis).

    Parameters are those of `MapDataset`; the maps are `~gammapipe.maps.RegionNDMap`.
    """

    tag = "SpectrumDataset"

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, geom, energy_axis_true=None, migra_axis=None, rad_axis=None,
               binsz_irf=None, reference_time="2000-01-01", name=None, meta_table=None,
               **kwargs):
        """Empty dataset on the region geometry ``geom``.

        Exposure on the region with the ``energy_true`` axis (default: the reco axis
        renamed), an `EDispKernelMap` (or `EDispMap` if ``migra_axis`` is given) on the
        region; no PSF map (1D analyses use the PSF only through the containment
        correction of the exposure).
        """
        _region_geom_check(geom, f"{cls.__name__}.create")
        if energy_axis_true is None:
            energy_axis_true = geom.axes["energy"].copy(name="energy_true")
        elif energy_axis_true.name != "energy_true":
            raise GeometryError(f"{cls.__name__}.create: energy_axis_true must be named "
                                f"'energy_true', got {energy_axis_true.name!r}")
        image = geom.to_image()
        geom_exposure = image.to_cube([energy_axis_true])
        if isinstance(migra_axis, str) and migra_axis == "default":
            from .map_dataset import _default_migra_axis

            migra_axis = _default_migra_axis()
        if migra_axis is not None:
            geom_edisp = image.to_cube([migra_axis, energy_axis_true])
        else:
            geom_edisp = image.to_cube([geom.axes["energy"], energy_axis_true])
        return cls.from_geoms(geom, geom_exposure=geom_exposure, geom_psf=None,
                              geom_edisp=geom_edisp, reference_time=reference_time,
                              name=name, meta_table=meta_table, **kwargs)

    # ------------------------------------------------------------------ prediction
    def _response(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Exposure (cm2 s, per true bin) and EDisp kernel (n_true, n_reco) or None.

        Cached; the cache key includes the identity and the sums of the exposure and
        edisp arrays, so replacing or modifying them invalidates it.
        """
        exp_map = self.exposure
        edisp = self.edisp
        emap = None if edisp is None else edisp.edisp_map
        key = (id(exp_map), id(exp_map.data), float(np.sum(exp_map.data)), id(edisp),
               None if emap is None else (id(emap.data), float(np.sum(emap.data))))
        cache = self.__dict__.get("_response_cache")
        if cache is not None and cache[0] == key:
            return cache[1], cache[2]
        exposure = np.asarray(exp_map.data, dtype=float).reshape(-1) * float(
            exp_map.unit.to(_CM2S))
        kernel = None
        if edisp is not None:
            energy_axis = self._geom.axes["energy"]
            kernel = np.asarray(edisp.get_edisp_kernel(energy_axis=energy_axis).data,
                                dtype=float)
        self.__dict__["_response_cache"] = (key, exposure, kernel)
        return exposure, kernel

    def _fast_spectrum(self, model):
        """Float-only evaluator of the model's spectral integrals on the true bins."""
        from ._fit_cache import FastSpectrum

        axis = self.exposure.geom.axes["energy_true"]
        store = self.__dict__.setdefault("_fast_spectra", {})
        item = store.get(model.name)
        if item is None or item[0] is not model.spectral_model or item[1] is not axis:
            edges = axis.edges
            fast = FastSpectrum(model.spectral_model, energy_min=edges[:-1],
                                energy_max=edges[1:], unit=_FLUX)
            item = (model.spectral_model, axis, fast)
            store[model.name] = item
        return item[2]

    def _temporal_factor(self, model) -> float:
        if model.temporal_model is None or self.gti is None:
            return 1.0
        return float(np.ravel(u.Quantity(model._temporal_factor(self.gti)).to_value(u.one))[0])

    def _model_flux(self, model) -> np.ndarray:
        """Model flux (cm-2 s-1) per true-energy bin inside the region."""
        if model.spatial_model is None:
            values = np.asarray(self._fast_spectrum(model).values(), float).reshape(-1)
            return values * self._temporal_factor(model)
        flux = model.integrate_geom(self.exposure.geom, gti=self.gti)
        return np.asarray(flux.quantity.to_value(_FLUX), dtype=float).reshape(-1)

    def _fold(self, model, values) -> np.ndarray:
        """True-bin flux values -> reco-bin counts (exposure and edisp as the model asks)."""
        exposure, kernel = self._response()
        apply = getattr(model, "apply_irf", {}) or {}
        if apply.get("exposure", True):
            values = values * exposure
        if kernel is not None and apply.get("edisp", True):
            return values @ kernel
        if values.size != self._geom.axes["energy"].nbin:
            raise GeometryError(f"{type(self).__name__} {self.name!r}: without energy "
                                "dispersion the true and reco energy axes must be equal")
        return values

    def _stat_and_grad_factor(self, mu_sig: np.ndarray):
        """Statistic per bin and its derivative w.r.t. ``mu_sig`` (Cash with background)."""
        from gammapipe.stats import cash, cash_grad_factor

        mu = np.asarray(self.npred_background().data, float).reshape(-1) + mu_sig
        n = np.asarray(self.counts.data, float).reshape(-1)
        return cash(n, mu), cash_grad_factor(n, mu)

    def _mu_sig_flat(self) -> np.ndarray | float:
        """Predicted signal per reco bin (flat array; 0 without sky models)."""
        models = self._sky_models()
        if not models:
            return 0.0
        return np.sum([self._fold(m, self._model_flux(m)) for m in models], axis=0)

    def stat_sum_and_gradient(self, parameters) -> tuple[float, np.ndarray]:
        """Statistic over the fitted bins and its gradient w.r.t. the parameter values.

        Spectral parameters of models without spatial / temporal parts are
        differentiated analytically (chain rule through the folding); any other
        parameter by central finite differences of the statistic.
        """
        from ._fit_cache import _fd_step

        pars = list(parameters)
        grad = np.zeros(len(pars))
        models = self._sky_models()
        mask = None if self.mask is None else np.asarray(self.mask.data, bool).reshape(-1)
        n_reco = self._geom.axes["energy"].nbin
        mu_sig = np.zeros(n_reco)
        for model in models:
            mu_sig = mu_sig + self._fold(model, self._model_flux(model))
        stat, factor = self._stat_and_grad_factor(mu_sig)
        if mask is not None:
            stat, factor = stat[mask], np.where(mask, factor, 0.0)
        total = float(np.sum(stat, dtype=np.float64))
        done = set()
        index = {id(p): i for i, p in enumerate(pars)}
        for model in models:
            if model.spatial_model is not None or model.temporal_model is not None:
                continue
            derivs = self._fast_spectrum(model).gradient(pars)
            for pid, dflux in derivs.items():
                i = index[pid]
                dmu = self._fold(model, np.asarray(dflux, float).reshape(-1))
                grad[i] += float(np.dot(factor, dmu))
                done.add(pid)
        own = {id(p) for m in models for p in m.parameters}
        for i, par in enumerate(pars):
            if id(par) in done or id(par) not in own:
                continue
            value = par.value
            h = _fd_step(value, par.scale)
            try:
                par._set_value_unchecked(value + h)
                up = self.stat_sum()
                par._set_value_unchecked(value - h)
                down = self.stat_sum()
            finally:
                par._set_value_unchecked(value)
            grad[i] = (up - down) / (2 * h)
        return total, grad

    def npred_signal(self, model_names=None, stack=True):
        """Predicted signal counts per reco bin: flux x exposure folded with the edisp.

        ``model_names`` selects models; with ``stack=False`` a list of maps (one per
        model) is returned.
        """
        from gammapipe.maps import Map

        models = self._sky_models()
        if model_names is not None:
            names = [model_names] if isinstance(model_names, str) else list(model_names)
            models = [m for m in models if m.name in names]
        geom = self._geom
        if not models:
            return Map.from_geom(geom, dtype=float) if stack else []
        if self.exposure is None:
            raise GammapipeError(f"{type(self).__name__} {self.name!r}: no exposure, cannot "
                                 "predict signal counts")
        values_all = [self._fold(model, self._model_flux(model)) for model in models]
        if not stack:
            return [Map.from_geom(geom, data=v.reshape(geom.data_shape), dtype=float)
                    for v in values_all]
        total = np.sum(values_all, axis=0)
        return Map.from_geom(geom, data=total.reshape(geom.data_shape), dtype=float)

    # ------------------------------------------------------------------ stacking
    def stack(self, other, nan_to_num=True) -> None:
        """Stack ``other`` in place (same region grid and axes).

        counts (and background) summed inside the safe masks, exposure summed where any
        reco bin is safe, edisp the exposure-weighted mean (weights: safe mask), safe
        masks OR-ed, livetimes summed, GTIs and meta tables merged.
        """
        _stack_region_datasets(self, other, nan_to_num)
        self._background_cache = None

    def to_masked(self, name=None, nan_to_num=True):
        """Dataset with the safe mask applied (stacked onto an empty copy)."""
        geoms = self.geoms
        ds = self.__class__.from_geoms(geoms["geom"], geom_exposure=geoms.get("geom_exposure"),
                                       geom_psf=None, geom_edisp=geoms.get("geom_edisp"),
                                       name=name)
        if self.background is None and not isinstance(ds, OnOffMixin):
            ds.background = None
        ds.stack(self, nan_to_num=nan_to_num)
        return ds

    # ------------------------------------------------------------------ not for 1D
    def cutout(self, *args, **kwargs):
        """Not defined for a 1D dataset."""
        _not_for_spectrum("cutout")

    def plot_residuals_spatial(self, *args, **kwargs):
        """Not defined for a 1D dataset."""
        _not_for_spectrum("plot_residuals_spatial")

    def to_image(self, name=None):
        """Dataset with a single reco-energy bin (sum over the safe range)."""
        from gammapipe.maps import MapAxis

        axis = self._geom.axes["energy"]
        edges = axis.edges[[0, -1]]
        return self.resample_energy_axis(MapAxis.from_edges(edges, name="energy",
                                                            interp=axis.interp), name=name)

    def resample_energy_axis(self, energy_axis, name=None):
        """Regroup reco bins onto ``energy_axis`` (sums inside the safe mask)."""
        return _resample_region(self, energy_axis, name)

    def slice_by_idx(self, slices, name=None):
        """Slice the non-spatial axes: ``{"energy": slice(..), "energy_true": slice(..)}``."""
        return _slice_region(self, slices, name)

    def slice_by_energy(self, energy_min=None, energy_max=None, name=None):
        """Reco-energy bins inside ``[energy_min, energy_max]`` (edges snapped to bins)."""
        axis = self._geom.axes["energy"]
        edges = axis.edges
        emin = edges[0] if energy_min is None else u.Quantity(energy_min).to(edges.unit)
        emax = edges[-1] if energy_max is None else u.Quantity(energy_max).to(edges.unit)
        lo = int(np.argmin(np.abs(edges - emin)))
        hi = int(np.argmin(np.abs(edges - emax)))
        if hi <= lo:
            raise GeometryError(f"slice_by_energy: empty energy range [{emin}, {emax}]")
        return self.slice_by_idx({"energy": slice(lo, hi)}, name=name)

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self):
        """HDU list in the GADF dataset layout (region maps)."""
        from .map_dataset_io import to_hdulist
        from .ogip import fix_region_hdus

        return fix_region_hdus(to_hdulist(self), self.counts.geom)

    def write(self, filename, overwrite=False, checksum=False) -> None:
        """Write the dataset to a FITS file (GADF layout, atomically)."""
        from gammapipe.utils.fits import write_hdulist

        hdulist = self.to_hdulist()
        if checksum:
            for hdu in hdulist:
                hdu.add_checksum()
        write_hdulist(hdulist, filename, overwrite=overwrite)

    # ------------------------------------------------------------------ plots
    def plot_fit(self, ax_spectrum=None, ax_residuals=None, kwargs_spectrum=None,
                 kwargs_residuals=None):
        """Counts and predicted counts (top) and residuals (bottom); returns both axes."""
        from .spectrum_plot import _plot_fit

        return _plot_fit(self, ax_spectrum, ax_residuals, kwargs_spectrum, kwargs_residuals)

    def plot_counts(self, ax=None, kwargs_counts=None, kwargs_background=None, **kwargs):
        """Counts and background versus reco energy; returns the axes."""
        from .spectrum_plot import _plot_counts

        return _plot_counts(self, ax, kwargs_counts, kwargs_background, **kwargs)

    def plot_excess(self, ax=None, kwargs_excess=None, kwargs_npred_signal=None, **kwargs):
        """Excess counts (with errors) and predicted signal; returns the axes."""
        from .spectrum_plot import _plot_excess

        return _plot_excess(self, ax, kwargs_excess, kwargs_npred_signal, **kwargs)

    def plot_residuals_spectral(self, ax=None, method="diff", region=None, **kwargs):
        """Residuals versus reco energy; returns the axes."""
        from .spectrum_plot import _plot_residuals

        return _plot_residuals(self, ax, method, **kwargs)

    def plot_residuals(self, ax_spatial=None, ax_spectral=None, kwargs_spatial=None,
                       kwargs_spectral=None):
        """Spectral residuals (no spatial part in 1D); returns the axes."""
        return self.plot_residuals_spectral(ax=ax_spectral, **(kwargs_spectral or {}))

    def peek(self, figsize=(16, 4)):
        """Counts, exposure and energy dispersion in one figure; returns the axes."""
        from .spectrum_plot import _peek

        return _peek(self, figsize)


class SpectrumDatasetOnOff(OnOffMixin, SpectrumDataset):
    """1D on-off dataset: ON counts, OFF counts and acceptances in a region (WStat).

    Parameters
    ----------
    models, counts, exposure, edisp, mask_safe, mask_fit, gti, meta_table, name, meta :
        As for `SpectrumDataset` (no background map: it is ``alpha x counts_off``).
    counts_off : `~gammapipe.maps.RegionNDMap`
        OFF counts (same geometry as the counts, the region being the ON region).
    acceptance, acceptance_off : `~gammapipe.maps.RegionNDMap`
        ON and OFF acceptances per reco bin (1 and the number of OFF regions for
        reflected regions); ``alpha = acceptance / acceptance_off``.
    """

    _on_dataset_class = SpectrumDataset

    tag = "SpectrumDatasetOnOff"

    def __init__(self, models=None, counts=None, counts_off=None, acceptance=None,
                 acceptance_off=None, exposure=None, mask_fit=None, psf=None, edisp=None,
                 name=None, mask_safe=None, gti=None, meta_table=None, meta=None):
        self._init_onoff(counts_off, acceptance, acceptance_off)
        super().__init__(models=models, counts=counts, exposure=exposure, background=None,
                         psf=psf, edisp=edisp, mask_safe=mask_safe, mask_fit=mask_fit,
                         gti=gti, meta_table=meta_table, name=name, meta=meta)
        self._check_onoff_shapes()

    @classmethod
    def from_spectrum_dataset(cls, dataset, acceptance, acceptance_off, counts_off=None,
                              name=None, **kwargs):
        """On-off dataset from a `SpectrumDataset` (its background is dropped).

        ``acceptance`` / ``acceptance_off`` may be maps or numbers (broadcast).
        """
        return cls._from_on_dataset(dataset, acceptance, acceptance_off, counts_off, name,
                                    **kwargs)

    from_map_dataset = from_spectrum_dataset

    def to_spectrum_dataset(self, name=None):
        """`SpectrumDataset` whose background is ``alpha x counts_off``."""
        return SpectrumDataset(counts=self.counts, exposure=self.exposure, edisp=self.edisp,
                               mask_safe=self.mask_safe, mask_fit=self.mask_fit,
                               background=self.background, gti=self.gti,
                               meta_table=self.meta_table, name=name or self.name,
                               meta=dict(self.meta))

    def stack(self, other, nan_to_num=True) -> None:
        """Stack ``other`` in place: ON part as `SpectrumDataset.stack`; OFF counts summed
        in the safe masks and alpha the OFF-counts weighted mean (see
        `~gammapipe.datasets.map_onoff.stack_onoff_arrays`), acceptance summed."""
        if not isinstance(other, SpectrumDatasetOnOff):
            raise GeometryError(f"stack: cannot stack a {type(other).__name__} onto a "
                                "SpectrumDatasetOnOff")
        self._stack_onoff(other)
        with self._without_background(), other._without_background():
            _stack_region_datasets(self, other, nan_to_num)

    def info_dict(self, in_safe_data_range=True) -> dict:
        """Summary numbers plus counts_off, acceptance, acceptance_off and alpha."""
        from .info import info_dict

        with self._without_background():
            info = info_dict(self, in_safe_data_range=in_safe_data_range)
        return self._info_onoff(info, in_safe_data_range)

    def __str__(self) -> str:
        return onoff_str(self)

    # ------------------------------------------------------------------ slicing
    def _onoff_kwargs(self, func):
        return {key: func(getattr(self, key)) for key in
                ("counts_off", "acceptance", "acceptance_off") if getattr(self, key) is not None}

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        """Entry of a datasets YAML index: name, type and the file name
        (``pha_obs<name>.fits``, GADF layout)."""
        return {"name": self.name, "type": self.tag, "filename": f"pha_obs{self.name}.fits"}

    @classmethod
    def from_dict(cls, data: dict, path=None):
        """Dataset of a datasets YAML index entry (file relative to ``path``)."""
        from pathlib import Path

        filename = Path(data["filename"])
        if path is not None and not filename.is_absolute():
            filename = Path(path) / filename
        return cls.read(filename, format=data.get("format", "gadf"), name=data.get("name"))

    def write(self, filename, overwrite=False, format="gadf", checksum=False) -> None:
        """Write the dataset: ``format="gadf"`` (one FITS file) or ``"ogip"`` (PHA file
        ``filename`` plus ``_arf``, ``_rmf`` and ``_bkg`` files next to it)."""
        from . import ogip

        if format == "ogip":
            ogip.write_ogip(self, filename, overwrite=overwrite)
        elif format == "gadf":
            from gammapipe.utils.fits import write_hdulist

            write_hdulist(ogip.onoff_to_hdulist(self), filename, overwrite=overwrite)
        else:
            raise ValueError(f"argument 'format': must be 'gadf' or 'ogip', got {format!r}")

    @classmethod
    def read(cls, filename, format=None, checksum=False, name=None, **kwargs):
        """Read a dataset written with `write` (``format="gadf"`` or ``"ogip"``; None:
        OGIP if the file has a ``SPECTRUM`` HDU, else GADF)."""
        from . import ogip

        if format is None:
            format = ogip.guess_format(filename)
        if format == "ogip":
            return ogip.read_ogip(cls, filename, name=name)
        if format == "gadf":
            from gammapipe.utils.errors import FITSFormatError, MissingHDUError
            from gammapipe.utils.fits import open_fits

            with open_fits(filename) as hdulist:
                try:
                    return ogip.onoff_from_hdulist(cls, hdulist, name=name)
                except (MissingHDUError, FITSFormatError) as exc:
                    raise type(exc)(f"{filename}: {exc}") from exc
        raise ValueError(f"argument 'format': must be 'gadf' or 'ogip', got {format!r}")

    def to_hdulist(self):
        """HDU list in the GADF layout (with COUNTS_OFF, ACCEPTANCE, ACCEPTANCE_OFF)."""
        from .ogip import onoff_to_hdulist

        return onoff_to_hdulist(self)

    @classmethod
    def from_hdulist(cls, hdulist, name=None, lazy=False, format="gadf"):
        """Dataset from a GADF HDU list (or an OGIP PHA HDU list with ``format="ogip"``)."""
        from . import ogip

        if format == "ogip":
            return ogip.from_ogip_hdulists(cls, hdulist, name=name)
        return ogip.onoff_from_hdulist(cls, hdulist, name=name)


# ---------------------------------------------------------------------------- helpers
def _stack_region_datasets(ds, other, nan_to_num=True) -> None:
    """Stack the ON part of two region datasets (see `SpectrumDataset.stack`)."""
    if not isinstance(other, SpectrumDataset):
        raise GeometryError(f"stack: cannot stack a {type(other).__name__} onto a "
                            f"{type(ds).__name__}")
    g1, g2 = ds._geom, other._geom
    if not g1.axes.is_allclose(g2.axes, rtol=1e-3, atol=1e-6):
        raise GeometryError(f"stack: energy axes of {other.name!r} differ from those of "
                            f"{ds.name!r}")
    if ds.exposure is not None and other.exposure is not None and not \
            ds.exposure.geom.axes.is_allclose(other.exposure.geom.axes, rtol=1e-3, atol=1e-6):
        raise GeometryError(f"stack: true-energy axes of {other.name!r} differ from those "
                            f"of {ds.name!r}")

    def clean(values):
        values = np.asarray(values, dtype=float)
        return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0) if nan_to_num else values

    m1 = None if ds.mask_safe is None else np.asarray(ds.mask_safe.data, bool)
    m2 = None if other.mask_safe is None else np.asarray(other.mask_safe.data, bool)
    any1 = True if m1 is None else bool(m1.any())
    any2 = True if m2 is None else bool(m2.any())

    def msum(a, ma, b, mb):
        a = clean(a) if ma is None else clean(a) * ma
        b = clean(b) if mb is None else clean(b) * mb
        return a + b

    if ds.counts is not None and other.counts is not None:
        ds.counts.data = msum(ds.counts.data, m1, other.counts.data, m2).astype(
            ds.counts.data.dtype)
    if not isinstance(ds, OnOffMixin) and ds.background is not None \
            and other.background is not None:
        b1 = ds.npred_background().data
        b2 = other.npred_background().data
        ds.background = ds.background.copy(data=msum(b1, m1, b2, m2).astype(
            ds.background.data.dtype))
        if ds.background_model is not None:
            ds.background_model.reset_to_default()
    if ds.exposure is not None and other.exposure is not None:
        e2 = other.exposure.quantity.to_value(ds.exposure.unit)
        data = clean(ds.exposure.data) * any1 + clean(e2) * any2
        ds.exposure.data = data.astype(ds.exposure.data.dtype)
        live2 = other.exposure.meta.get("livetime")
        if live2 is not None and any2:
            live1 = ds.exposure.meta.get("livetime")
            ds.exposure.meta["livetime"] = (u.Quantity(live2).copy() if live1 is None or not any1
                                            else u.Quantity(live1) + u.Quantity(live2))
    if ds.edisp is not None and other.edisp is not None:
        weights = None if m2 is None else m2
        if weights is not None and "energy" not in other.edisp.edisp_map.geom.axes.names:
            weights = np.full(other.edisp.edisp_map.data.shape, any2, dtype=float)
        ds.edisp.stack(other.edisp, weights=weights, nan_to_num=nan_to_num)
    if ds.psf is not None and other.psf is not None:
        ds.psf.stack(other.psf, weights=None, nan_to_num=nan_to_num)
    if m1 is not None and m2 is not None:
        ds.mask_safe.data = m1 | m2
    elif m1 is not None:
        ds.mask_safe.data = np.ones_like(m1)
    if ds.mask_fit is not None and other.mask_fit is not None:
        ds.mask_fit.data = np.asarray(ds.mask_fit.data, bool) | np.asarray(
            other.mask_fit.data, bool)
    if other.gti is not None:
        if ds.gti is None or len(ds.gti) == 0:
            ds.gti = other.gti.copy()
        else:
            ds.gti.stack(other.gti)
            ds.gti = ds.gti.union()
    if other.meta_table is not None:
        from astropy.table import vstack

        ds.meta_table = other.meta_table.copy() if ds.meta_table is None else vstack(
            [ds.meta_table, other.meta_table], metadata_conflicts="silent")


def _slice_map(m, slices):
    if m is None:
        return None
    return m.slice_by_idx({k: v for k, v in slices.items() if k in m.geom.axes.names})


def _slice_region(ds, slices, name):
    kwargs = {"name": name or ds.name, "gti": ds.gti, "meta_table": ds.meta_table,
              "meta": dict(ds.meta)}
    for key in ("counts", "exposure", "mask_safe", "mask_fit"):
        kwargs[key] = _slice_map(getattr(ds, key), slices)
    if not isinstance(ds, OnOffMixin):
        kwargs["background"] = _slice_map(ds.background, slices)
    else:
        for key in ("counts_off", "acceptance", "acceptance_off"):
            kwargs[key] = _slice_map(getattr(ds, key), slices)
    if ds.edisp is not None:
        edisp = ds.edisp.slice_by_idx({k: v for k, v in slices.items()
                                       if k in ds.edisp.edisp_map.geom.axes.names})
        kwargs["edisp"] = edisp
    return ds.__class__(**kwargs)


def _resample_region(ds, energy_axis, name):
    """Regroup the reco bins of a region dataset onto ``energy_axis``.

    Sums of counts (OFF counts, background) inside the safe mask; OFF acceptance such
    that the background ``alpha x counts_off`` is conserved; edisp kernel regrouped.
    """
    from gammapipe.maps import Map

    old = ds._geom.axes["energy"]
    edges_old = old.edges.to_value(energy_axis.unit)
    edges_new = energy_axis.edges.to_value(energy_axis.unit)
    idx = np.searchsorted(edges_old, edges_new)
    if not np.allclose(edges_old[np.clip(idx, 0, len(edges_old) - 1)], edges_new,
                       rtol=1e-5):
        raise GeometryError("resample_energy_axis: the new edges must be edges of the "
                            "current reco axis")
    geom = ds._geom.to_image().to_cube([energy_axis])
    mask = np.ones(old.nbin, bool) if ds.mask_safe is None else np.asarray(
        ds.mask_safe.data, bool).reshape(-1)

    def group(values, use_mask=True):
        v = np.asarray(values, float).reshape(-1)
        if use_mask:
            v = v * mask
        return np.add.reduceat(v, idx[:-1])[: energy_axis.nbin] * (np.diff(idx) > 0)

    new_mask = np.add.reduceat(mask.astype(int), idx[:-1])[: energy_axis.nbin] > 0
    kwargs = {"name": name or ds.name, "gti": ds.gti, "meta_table": ds.meta_table,
              "meta": dict(ds.meta), "exposure": ds.exposure}
    kwargs["counts"] = Map.from_geom(geom, data=group(ds.counts.data).reshape(geom.data_shape))
    kwargs["mask_safe"] = Map.from_geom(geom, data=new_mask.reshape(geom.data_shape),
                                        dtype=bool)
    if isinstance(ds, OnOffMixin):
        off = group(ds.counts_off.data)
        bkg = group(ds.alpha.data * ds.counts_off.data)
        acc = group(ds.acceptance.data)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(off > 0, bkg / off, np.nan)
        mean_alpha = bkg.sum() / off.sum() if off.sum() > 0 else 1.0
        alpha = np.where(np.isfinite(alpha), alpha, mean_alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            acc_off = np.where(alpha > 0, acc / alpha, 0.0)
        kwargs["counts_off"] = Map.from_geom(geom, data=off.reshape(geom.data_shape))
        kwargs["acceptance"] = Map.from_geom(geom, data=acc.reshape(geom.data_shape),
                                             dtype=float)
        kwargs["acceptance_off"] = Map.from_geom(geom, data=acc_off.reshape(geom.data_shape),
                                                 dtype=float)
    elif ds.background is not None:
        kwargs["background"] = Map.from_geom(
            geom, data=group(ds.npred_background().data).reshape(geom.data_shape))
    if ds.edisp is not None:
        kwargs["edisp"] = ds.edisp.resample_energy_axis(energy_axis, weights=ds.mask_safe)
    return ds.__class__(**kwargs)
