"""`MapDataset`: binned counts, exposure, background and IRF maps for a 3D (or 2D) fit."""

from __future__ import annotations

import importlib

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError

from . import map_dataset_ops as _ops
from . import stacking
from .core import Dataset, make_name

__all__ = ["MapDataset", "RAD_AXIS_DEFAULT_EDGES_DEG", "MIGRA_AXIS_DEFAULT_EDGES",
           "BINSZ_IRF_DEFAULT_DEG"]

BINSZ_IRF_DEFAULT_DEG = 0.2
RAD_AXIS_DEFAULT_EDGES_DEG = np.linspace(0.0, 0.66, 67)
MIGRA_AXIS_DEFAULT_EDGES = np.linspace(0.2, 5.0, 49)

RESIDUAL_METHODS = ("diff", "diff/model", "diff/sqrt(model)")


def _default_rad_axis():
    from gammapipe.maps import MapAxis

    return MapAxis.from_edges(RAD_AXIS_DEFAULT_EDGES_DEG, unit="deg", name="rad")


def _default_migra_axis():
    from gammapipe.maps import MapAxis

    return MapAxis.from_edges(MIGRA_AXIS_DEFAULT_EDGES, unit="", name="migra")


def compute_residuals(counts: np.ndarray, npred: np.ndarray, method: str = "diff"):
    """Residuals of counts w.r.t. the prediction: ``counts - npred``, divided by
    ``npred`` or ``sqrt(npred)`` (0 where ``npred`` is 0)."""
    diff = np.asarray(counts, float) - np.asarray(npred, float)
    if method == "diff":
        return diff
    if method == "diff/model":
        return stacking.safe_divide(diff, npred)
    if method == "diff/sqrt(model)":
        return stacking.safe_divide(diff, np.sqrt(np.clip(npred, 0, None)))
    raise GammapipeError(
        f"residuals: argument 'method' must be one of {RESIDUAL_METHODS}, got {method!r}"
    )


class MapDataset(Dataset):
    """Binned dataset for a likelihood fit of sky models (Poisson, ``cash`` statistic).

    Parameters
    ----------
    models : model or list of models, optional
        Models; only those applying to this dataset (``datasets_names``) are kept.
    counts : `~gammapipe.maps.WcsNDMap`
        Counts (reco ``energy`` axis).
    exposure : `~gammapipe.maps.WcsNDMap`
        Exposure (``energy_true`` axis, m2 s; ``meta["livetime"]``).
    background : `~gammapipe.maps.WcsNDMap`
        Background counts prediction (counts geometry).
    psf : `~gammapipe.datasets.PSFMap`
        PSF map.
    edisp : `~gammapipe.datasets.EDispKernelMap` or `~gammapipe.datasets.EDispMap`
        Energy dispersion map.
    mask_safe, mask_fit : `~gammapipe.maps.WcsNDMap` (bool)
        Safe data range and fit mask.
    gti : `~gammapipe.data.GTI`
        Good time intervals.
    meta_table : `~astropy.table.Table`
        Observation information (one row per stacked observation).
    name : str
        Dataset name (random 8 characters if None).
    meta : dict
        Free metadata.
    """

    tag = "MapDataset"
    stat_type = "cash"

    def __init__(self, models=None, counts=None, exposure=None, background=None, psf=None,
                 edisp=None, mask_safe=None, mask_fit=None, gti=None, meta_table=None,
                 name=None, meta=None):
        self._name = make_name(name)
        self._models = None
        self._evaluators: dict = {}
        self._background_cache: tuple | None = None
        self.counts = counts
        self.exposure = exposure
        self.background = background
        self.psf = psf
        self.edisp = edisp
        self.mask_safe = _as_mask(mask_safe, "mask_safe")
        self.mask_fit = _as_mask(mask_fit, "mask_fit")
        self.gti = gti
        self.meta_table = meta_table
        self.meta = dict(meta) if meta else {}
        self._check_shapes()
        self.models = models

    def _check_shapes(self) -> None:
        shapes = {key: getattr(self, key).data.shape
                  for key in ("counts", "background", "mask_safe", "mask_fit")
                  if getattr(self, key) is not None}
        if len(set(shapes.values())) > 1:
            raise GeometryError(f"MapDataset {self.name!r}: map shapes differ: {shapes}")

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, geom, energy_axis_true=None, migra_axis=None, rad_axis=None,
               binsz_irf=None, reference_time="2000-01-01", name=None, meta_table=None,
               **kwargs):
        """Empty dataset on ``geom`` (counts geometry with a reco ``energy`` axis).

        Parameters
        ----------
        geom : `~gammapipe.maps.WcsGeom`
            Counts / background geometry.
        energy_axis_true : `~gammapipe.maps.MapAxis`, optional
            True-energy axis of exposure and IRFs (default: the reco axis renamed).
        migra_axis : `~gammapipe.maps.MapAxis`, optional
            If given the energy dispersion is an `EDispMap` on this migra axis (use
            ``"default"`` for 0.2-5 in 48 bins); else an `EDispKernelMap`.
        rad_axis : `~gammapipe.maps.MapAxis`, optional
            PSF rad axis (default 0-0.66 deg in 66 bins).
        binsz_irf : float or Quantity, optional
            Pixel size of the IRF maps (default 0.2 deg).
        reference_time : str or `~astropy.time.Time`
            Reference time of the (empty) GTI.
        name : str, optional
            Dataset name.
        meta_table : `~astropy.table.Table`, optional
            Observation information.
        **kwargs
            Passed to the constructor (e.g. ``models``, ``meta``).
        """
        if "energy" not in geom.axes.names:
            raise GeometryError("MapDataset.create: geom needs a reco 'energy' axis")
        if energy_axis_true is None:
            energy_axis_true = geom.axes["energy"].copy(name="energy_true")
        elif energy_axis_true.name != "energy_true":
            raise GeometryError(
                f"MapDataset.create: energy_axis_true must be named 'energy_true', got "
                f"{energy_axis_true.name!r}"
            )
        if binsz_irf is None:
            binsz_irf = BINSZ_IRF_DEFAULT_DEG
        binsz_irf = u.Quantity(binsz_irf, "deg").to_value("deg")
        rad_axis = rad_axis or _default_rad_axis()
        if isinstance(migra_axis, str) and migra_axis == "default":
            migra_axis = _default_migra_axis()
        geom_image = geom.to_image()
        geom_exposure = geom_image.to_cube([energy_axis_true])
        geom_irf = geom_image.to_binsz(binsz_irf)
        geom_psf = geom_irf.to_cube([rad_axis, energy_axis_true])
        if migra_axis is not None:
            geom_edisp = geom_irf.to_cube([migra_axis, energy_axis_true])
        else:
            geom_edisp = geom_irf.to_cube([geom.axes["energy"], energy_axis_true])
        return cls.from_geoms(geom, geom_exposure=geom_exposure, geom_psf=geom_psf,
                              geom_edisp=geom_edisp, reference_time=reference_time,
                              name=name, meta_table=meta_table, **kwargs)

    @classmethod
    def from_geoms(cls, geom, geom_exposure=None, geom_psf=None, geom_edisp=None,
                   reference_time="2000-01-01", name=None, **kwargs):
        """Empty dataset from explicit geometries (counts, exposure, PSF and EDisp maps).

        The counts, background (float32) and safe mask (all False) use ``geom``; the
        EDisp map is an `EDispMap` if ``geom_edisp`` has a ``migra`` axis, else an
        `EDispKernelMap`; the GTI is empty with the given reference time.
        """
        from astropy.time import Time

        from gammapipe.data.gti import GTI
        from gammapipe.irf.edisp_map import EDispKernelMap, EDispMap
        from gammapipe.irf.psf_map import PSFMap
        from gammapipe.maps import Map

        kwargs = dict(kwargs)
        kwargs["counts"] = Map.from_geom(geom, unit="")
        kwargs["background"] = Map.from_geom(geom, unit="")
        if geom_exposure is not None:
            kwargs["exposure"] = Map.from_geom(geom_exposure, unit="m2 s")
        if geom_psf is not None:
            kwargs["psf"] = PSFMap.from_geom(geom_psf)
        if geom_edisp is not None:
            if "migra" in geom_edisp.axes.names:
                kwargs["edisp"] = EDispMap.from_geom(geom_edisp)
            else:
                kwargs["edisp"] = EDispKernelMap.from_geom(geom_edisp)
        kwargs.setdefault("mask_safe", Map.from_geom(geom, dtype=bool))
        ref = reference_time if isinstance(reference_time, Time) else Time(
            reference_time, scale="utc")
        kwargs["gti"] = GTI.create([] * u.s, [] * u.s, reference_time=ref)
        return cls(name=name, **kwargs)

    # ------------------------------------------------------------------ geometry
    @property
    def _geom(self):
        for key in ("counts", "background", "mask_safe", "mask_fit"):
            m = getattr(self, key)
            if m is not None:
                return m.geom
        raise GeometryError(f"MapDataset {self.name!r}: no counts, background or mask map")

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of the counts data."""
        return tuple(self._geom.data_shape)

    @property
    def geoms(self) -> dict:
        """Geometries: ``geom``, ``geom_exposure``, ``geom_psf``, ``geom_edisp``."""
        geoms = {"geom": self._geom}
        if self.exposure is not None:
            geoms["geom_exposure"] = self.exposure.geom
        if self.psf is not None:
            geoms["geom_psf"] = self.psf.psf_map.geom
        if self.edisp is not None:
            geoms["geom_edisp"] = self.edisp.edisp_map.geom
        return geoms

    @property
    def mask_safe_image(self):
        """Safe mask reduced over reco energy (logical or), energy axis of one bin."""
        if self.mask_safe is None:
            return None
        return self.mask_safe.reduce_over_axes(func=np.logical_or, keepdims=True)

    @property
    def mask_fit_image(self):
        """Fit mask reduced over reco energy (logical or)."""
        if self.mask_fit is None:
            return None
        return self.mask_fit.reduce_over_axes(func=np.logical_or, keepdims=True)

    @property
    def mask_image(self):
        """`mask` reduced over reco energy (logical or)."""
        mask = self.mask
        if mask is None:
            return None
        return mask.reduce_over_axes(func=np.logical_or, keepdims=True)

    def _energy_range(self, mask_map=None):
        from gammapipe.maps import Map

        geom = self._geom
        axis = geom.axes["energy"]
        edges = axis.edges
        image_geom = geom.to_image()
        if mask_map is None:
            emin = np.full(image_geom.data_shape, edges[0].value)
            emax = np.full(image_geom.data_shape, edges[-1].value)
        else:
            emin_v, emax_v = _ops.energy_range_from_mask(
                np.asarray(mask_map.data, bool), edges.value, axis_np=-3)
            emin, emax = emin_v, emax_v
        return (Map.from_geom(image_geom, data=emin, unit=edges.unit),
                Map.from_geom(image_geom, data=emax, unit=edges.unit))

    @property
    def energy_range(self):
        """(energy_min, energy_max) image maps of the `mask` (NaN where all masked)."""
        return self._energy_range(self.mask)

    @property
    def energy_range_safe(self):
        """(energy_min, energy_max) image maps of the safe mask."""
        return self._energy_range(self.mask_safe)

    @property
    def energy_range_fit(self):
        """(energy_min, energy_max) image maps of the fit mask."""
        return self._energy_range(self.mask_fit)

    @property
    def energy_range_total(self) -> tuple[u.Quantity, u.Quantity]:
        """Smallest minimum and largest maximum energy of `mask` over all pixels."""
        emin, emax = self.energy_range
        return (u.Quantity(np.nanmin(emin.data), emin.unit),
                u.Quantity(np.nanmax(emax.data), emax.unit))

    @property
    def livetime(self):
        """Livetime (``exposure.meta["livetime"]``) or None."""
        if self.exposure is None or "livetime" not in self.exposure.meta:
            return None
        return u.Quantity(self.exposure.meta["livetime"])

    # ------------------------------------------------------------------ models
    @property
    def models(self):
        """Models applying to this dataset (`~gammapipe.modeling.models.DatasetModels`)."""
        return self._models

    @models.setter
    def models(self, models) -> None:
        self._evaluators = {}
        self._background_cache = None
        if models is not None:
            from gammapipe.modeling.models import DatasetModels

            models = DatasetModels(models).select(datasets_names=self.name)
        self._models = models

    @property
    def background_model(self):
        """The `FoVBackgroundModel` of this dataset, or None."""
        if self._models is None:
            return None
        for model in self._models:
            if model.name == f"{self.name}-bkg" and type(model).__name__ == "FoVBackgroundModel":
                return model
        return None

    def _sky_models(self) -> list:
        if self._models is None:
            return []
        return [m for m in self._models
                if type(m).__name__ not in ("FoVBackgroundModel",)]

    # ------------------------------------------------------------------ prediction
    def npred_background(self):
        """Predicted background counts: the background map times the FoV background
        model (norm spectral model evaluated at the reco bin centres)."""
        from gammapipe.maps import Map

        if self.background is None:
            return Map.from_geom(self._geom, unit="")
        model = self.background_model
        if model is None:
            return self.background.copy()
        return self.background.copy(data=self._npred_background_data().copy())

    def _npred_background_data(self) -> np.ndarray:
        """Data of `npred_background` without a copy (cached, read-only: do not modify)."""
        if self.background is None:
            return np.zeros(self._geom.data_shape)
        model = self.background_model
        if model is None:
            return self.background.data
        key = tuple(float(p.value) for p in model.parameters)
        if self._background_cache is None or self._background_cache[0] != key:
            values = np.asarray(model.evaluate_geom(self.background.geom), dtype=float)
            data = np.asarray(self.background.data, dtype=float) * values
            data.setflags(write=False)
            self._background_cache = (key, data)
        return self._background_cache[1]

    def _evaluator_module(self):
        try:
            return importlib.import_module("gammapipe.datasets.evaluator")
        except ModuleNotFoundError as exc:
            if exc.name != "gammapipe.datasets.evaluator":
                raise
            return None

    def npred_signal(self, model_names=None, stack=True):
        """Predicted counts of the sky models (sum, or one map per model if not ``stack``).

        Sky-model forward folding is provided by ``gammapipe.datasets.evaluator``
        (``make_evaluator(dataset, model)`` returning an object whose ``compute_npred()``
        gives a map on the counts geometry or on an aligned cutout of it).
        """
        from gammapipe.maps import Map

        models = self._sky_models()
        if model_names is not None:
            names = [model_names] if isinstance(model_names, str) else list(model_names)
            models = [m for m in models if m.name in names]
        total = Map.from_geom(self._geom, dtype=float)
        if not models:
            return total if stack else []
        module = self._evaluator_module()
        if module is None:
            raise GammapipeError(
                f"MapDataset {self.name!r}: sky-model evaluation is not available yet "
                "(module gammapipe.datasets.evaluator is missing); only background models "
                "can be predicted"
            )
        maps = []
        for model in models:
            evaluator = self._evaluators.get(model.name)
            if evaluator is None:
                evaluator = module.make_evaluator(self, model)
                self._evaluators[model.name] = evaluator
            npred = evaluator.compute_npred()
            full = Map.from_geom(self._geom, dtype=float)
            full.stack(npred)
            maps.append(full)
        if not stack:
            return maps
        for m in maps:
            total.data += m.data
        return total

    def npred(self):
        """Total predicted counts: `npred_background` + `npred_signal`."""
        bkg = self.npred_background()
        data = np.asarray(bkg.data, dtype=float)
        if self._sky_models():
            data = data + self.npred_signal().data
        return bkg.copy(data=data)

    def stat_array(self) -> np.ndarray:
        """Cash statistic per bin, ``2 (npred - counts ln npred)``."""
        from gammapipe.stats import cash

        if self.counts is None:
            raise GammapipeError(f"MapDataset {self.name!r}: no counts to compute a statistic")
        return cash(n_on=self.counts.data, mu_on=self.npred().data)

    def stat_sum(self) -> float:
        """Cash statistic summed over the fitted bins (``mask_safe & mask_fit``).

        With models set, this uses the cached fit path of `~gammapipe.datasets.evaluator`
        (fitted-bin indices, counts and convolved templates computed once per fit; the same
        number as the direct sum to 1e-12).
        """
        from gammapipe.stats import cash

        if self.counts is None:
            raise GammapipeError(f"MapDataset {self.name!r}: no counts to compute a statistic")
        if self.models is not None and len(self.models) > 0 and type(self) is MapDataset:
            from .evaluator import stat_sum

            return float(stat_sum(self))
        npred = self.npred().data
        mask = self.mask
        if mask is None:
            return float(np.sum(cash(self.counts.data, npred), dtype=np.float64))
        idx = np.flatnonzero(mask.data)
        return float(np.sum(cash(self.counts.data.ravel()[idx], npred.ravel()[idx]),
                            dtype=np.float64))

    def stat_sum_and_gradient(self, parameters) -> tuple[float, np.ndarray]:
        """Statistic and its analytic gradient with respect to the values of ``parameters``.

        Spectral parameters and the FoV background norm/tilt are differentiated analytically
        (cached PSF-convolved templates times d flux / d parameter); spatial parameters via
        the template derivative. Used by `~gammapipe.modeling.Fit` with ``gradient=True``.
        """
        from .evaluator import stat_sum_and_gradient

        return stat_sum_and_gradient(self, parameters)

    def residuals(self, method="diff", **kwargs):
        """Residual map ``counts - npred`` (``"diff"``), divided by ``npred``
        (``"diff/model"``) or ``sqrt(npred)`` (``"diff/sqrt(model)"``).

        ``kwargs`` (e.g. ``width``, ``kernel``) smooth counts and npred first.
        """
        counts, npred = self.counts, self.npred()
        if kwargs:
            counts = counts.smooth(**kwargs)
            npred = npred.smooth(**kwargs)
        data = compute_residuals(counts.data, npred.data, method)
        return counts.copy(data=data, unit="")

    def fake(self, random_state="random-seed") -> None:
        """Replace the counts by a Poisson draw of `npred`."""
        from gammapipe.maps import Map

        if isinstance(random_state, np.random.Generator):
            rng = random_state
        elif random_state == "random-seed":
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng(random_state)
        npred = np.clip(np.nan_to_num(self.npred().data), 0, None)
        data = rng.poisson(npred).astype("float32")
        self.counts = Map.from_geom(self._geom, data=data, unit="")

    # ------------------------------------------------------------------ stacking
    def stack(self, other, nan_to_num=True) -> None:
        """Stack ``other`` into this dataset in place (rules in `stacking`).

        ``other`` must be on the same pixel grid (equal or a cutout of this geometry) with
        the same non-spatial axes; its models are applied to its background first.
        """
        _ops.stack_datasets(self, other, nan_to_num=nan_to_num)
        self._background_cache = None

    # ------------------------------------------------------------------ geometry ops
    def cutout(self, position, width, mode="trim", name=None):
        """Dataset cut out around ``position`` (``width`` converted to pixels of the
        counts grid and, with ``mode="trim"``, trimmed at the image border)."""
        return _ops.cutout(self, position, width, mode=mode, name=name)

    def slice_by_idx(self, slices, name=None):
        """Slice the non-spatial axes: ``{"energy": slice(..), "energy_true": slice(..)}``."""
        return _ops.slice_by_idx(self, slices, name=name)

    def slice_by_energy(self, energy_min=None, energy_max=None, name=None):
        """Reco-energy bins inside ``[energy_min, energy_max]`` (edges snapped to bins)."""
        return _ops.slice_by_energy(self, energy_min, energy_max, name=name)

    def resample_energy_axis(self, energy_axis, name=None):
        """Regroup reco energy bins onto ``energy_axis`` (masked sums; edisp weighted)."""
        return _ops.resample_energy_axis(self, energy_axis, name=name)

    def to_image(self, name=None):
        """Dataset with a single reco-energy bin (the sum in the safe range)."""
        return _ops.to_image(self, name=name)

    def downsample(self, factor, axis_name=None, name=None):
        """Merge ``factor`` spatial pixels (or bins of ``axis_name``)."""
        return _ops.downsample(self, factor, axis_name=axis_name, name=name)

    def pad(self, pad_width, mode="constant", name=None):
        """Pad the spatial axes by ``pad_width`` pixels (masks padded with False)."""
        return _ops.pad(self, pad_width, mode=mode, name=name)

    def to_masked(self, name=None, nan_to_num=True):
        """Dataset with the safe mask applied (stacked onto an empty copy)."""
        return _ops.to_masked(self, name=name, nan_to_num=nan_to_num)

    # ------------------------------------------------------------------ summary
    def info_dict(self, in_safe_data_range=True) -> dict:
        """Summary numbers (counts, background, excess, npred, exposure, ... stat_sum)."""
        from .info import info_dict

        return info_dict(self, in_safe_data_range=in_safe_data_range)

    def __str__(self) -> str:
        from .info import dataset_str

        return dataset_str(self)

    # ------------------------------------------------------------------ plots
    def plot_residuals_spatial(self, ax=None, method="diff", smooth_kernel="gauss",
                               smooth_radius="0.1 deg", **kwargs):
        """Image of the spatial residuals (summed over energy); returns the axes."""
        from .plotting import plot_residuals_spatial

        return plot_residuals_spatial(self, ax=ax, method=method, smooth_kernel=smooth_kernel,
                                      smooth_radius=smooth_radius, **kwargs)

    def plot_residuals_spectral(self, ax=None, method="diff", region=None, **kwargs):
        """Spectral residuals inside ``region`` (default: whole map); returns the axes."""
        from .plotting import plot_residuals_spectral

        return plot_residuals_spectral(self, ax=ax, method=method, region=region, **kwargs)

    def plot_residuals(self, ax_spatial=None, ax_spectral=None, kwargs_spatial=None,
                       kwargs_spectral=None):
        """Spatial and spectral residuals side by side; returns both axes."""
        from .plotting import plot_residuals

        return plot_residuals(self, ax_spatial=ax_spatial, ax_spectral=ax_spectral,
                              kwargs_spatial=kwargs_spatial, kwargs_spectral=kwargs_spectral)

    def peek(self, figsize=(12, 10)):
        """Counts, excess, exposure and background images; returns the axes."""
        from .plotting import peek_map_dataset

        return peek_map_dataset(self, figsize=figsize)

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self):
        """HDU list in the GADF dataset layout."""
        from .map_dataset_io import to_hdulist

        return to_hdulist(self)

    @classmethod
    def from_hdulist(cls, hdulist, name=None, lazy=False, format="gadf"):
        """Dataset from an HDU list in the GADF dataset layout."""
        from .map_dataset_io import from_hdulist

        return from_hdulist(cls, hdulist, name=name, format=format)

    @classmethod
    def read(cls, filename, name=None, lazy=False, cache=True, format="gadf",
             checksum=False):
        """Read a dataset from a FITS file (GADF layout)."""
        from .map_dataset_io import read

        return read(cls, filename, name=name, format=format)

    def write(self, filename, overwrite=False, checksum=False) -> None:
        """Write the dataset to a FITS file (atomically: temporary name, then rename)."""
        from .map_dataset_io import write

        write(self, filename, overwrite=overwrite, checksum=checksum)


def _as_mask(mask, name):
    if mask is None:
        return None
    if mask.data.dtype != bool:
        return mask.copy(data=np.asarray(mask.data).astype(bool), unit="")
    return mask
