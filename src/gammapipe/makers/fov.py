"""`FoVBackgroundMaker`: adjust a dataset's background model to the counts outside the
exclusion regions."""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict

import numpy as np

from gammapipe.utils.errors import GammapipeError

from . import _reduction as red
from .core import Maker

__all__ = ["FoVBackgroundMaker"]

log = logging.getLogger(__name__)


class FoVBackgroundMaker(Maker):
    """Normalise the background of a dataset with the counts of its source-free region.

    The dataset's `~gammapipe.modeling.models.FoVBackgroundModel` (created when absent,
    with ``spectral_model``) is adjusted on the bins of ``mask_safe & mask_fit &
    exclusion``:

    * ``method="scale"``: ``norm = (counts - npred_signal) / npred_background`` summed over
      those bins (error ``sqrt(counts) / npred_background``);
    * ``method="fit"``: the free background-model parameters (``norm``; ``tilt`` is frozen
      by default) are fitted with the cash statistic, every other model frozen.

    A dataset with no counts (or background) in the mask keeps its norm with a warning.

    Parameters
    ----------
    method : {"scale", "fit"}
        Method.
    exclusion_mask : `~gammapipe.maps.WcsNDMap`, optional
        Boolean map, True where the background may be measured (False: excluded).
    spectral_model : str or spectral model
        Norm spectral model of a new background model ("pl-norm": power-law norm with norm
        and tilt, tilt frozen).
    min_counts : int
        Minimal number of counts in the mask for the adjustment.
    min_npred_background : float
        Minimal predicted background in the mask for the adjustment.
    fit : `~gammapipe.modeling.Fit`, optional
        Fit instance for ``method="fit"`` (default: minuit backend).
    """

    tag = "FoVBackgroundMaker"

    def __init__(self, method="scale", exclusion_mask=None, spectral_model="pl-norm",
                 min_counts=0, min_npred_background=0, fit=None):
        if method not in ("scale", "fit"):
            raise ValueError(f"FoVBackgroundMaker: method must be 'scale' or 'fit', "
                             f"got {method!r}")
        self.method = method
        self.exclusion_mask = exclusion_mask
        self.spectral_model = spectral_model
        self.min_counts = min_counts
        self.min_npred_background = min_npred_background
        self.fit = fit

    # ------------------------------------------------------------------ helpers
    def _spectral_model(self):
        model = self.spectral_model
        if isinstance(model, str):
            from gammapipe.modeling.models.core import get_model_class

            cls = get_model_class(model, "spectral")
            model = cls()
            if "tilt" in model.parameters.names:
                model.tilt.frozen = True
            return model
        return model.copy()

    def make_default_fov_background_model(self, dataset):
        """Add a `FoVBackgroundModel` named ``{dataset.name}-bkg`` to the dataset."""
        from gammapipe.modeling.models import FoVBackgroundModel

        bkg_model = FoVBackgroundModel(dataset_name=dataset.name,
                                       spectral_model=self._spectral_model())
        models = list(dataset.models) if dataset.models is not None else []
        dataset.models = models + [bkg_model]
        return dataset

    def make_exclusion_mask(self, dataset):
        """Exclusion mask on the dataset geometry (boolean array, True = usable).

        The exclusion map is looked up at the dataset's pixel centres (nearest pixel, one
        vectorised WCS projection); positions outside it are usable. A mask with
        non-spatial axes must have the dataset's non-spatial shape.
        """
        geom = dataset.counts.geom
        if self.exclusion_mask is None:
            return np.ones(geom.data_shape, dtype=bool)
        mask_map = self.exclusion_mask
        mgeom = mask_map.geom
        ix, iy, inside = _nearest_pixels(geom, mgeom)
        ixc = np.where(inside, ix, 0).astype(int)
        iyc = np.where(inside, iy, 0).astype(int)
        data = np.asarray(mask_map.data, dtype=bool)
        flat = data.reshape((-1,) + tuple(mgeom.data_shape_image))
        if data.ndim == 2 or np.all(flat == flat[:1]):
            image = flat[0]
            values = np.where(inside, image[iyc, ixc], True)
            return np.broadcast_to(values, geom.data_shape).copy()
        if tuple(data.shape[:-2]) != tuple(geom.data_shape[:-2]):
            raise ValueError(
                f"FoVBackgroundMaker: exclusion mask non-spatial shape {data.shape[:-2]} does "
                f"not match the dataset {geom.data_shape[:-2]}"
            )
        values = data[..., iyc, ixc]
        return np.where(inside, values, True)

    def _fit_mask(self, dataset):
        mask = self.make_exclusion_mask(dataset)
        if dataset.mask_safe is not None:
            mask = mask & np.asarray(dataset.mask_safe.data, dtype=bool)
        if dataset.mask_fit is not None:
            mask = mask & np.asarray(dataset.mask_fit.data, dtype=bool)
        return mask

    def _warn(self, dataset, reason):
        warnings.warn(f"FoVBackgroundMaker: dataset {dataset.name!r}: {reason}; the "
                      f"background norm is not adjusted", stacklevel=3)

    # ------------------------------------------------------------------ methods
    def make_background_scale(self, dataset, mask=None):
        """Scale the background norm to ``(counts - npred_signal) / npred_background``."""
        if mask is None:
            mask = self._fit_mask(dataset)
        counts = float(np.sum(np.asarray(dataset.counts.data, float)[mask]))
        bkg = float(np.sum(np.asarray(dataset.npred_background().data, float)[mask]))
        if not mask.any() or counts <= self.min_counts:
            self._warn(dataset, f"{counts:g} counts outside the exclusion region (minimum "
                                f"{self.min_counts})")
            return dataset
        if not bkg > self.min_npred_background:
            self._warn(dataset, f"predicted background {bkg:g} in the mask (minimum "
                                f"{self.min_npred_background})")
            return dataset
        signal = 0.0
        if dataset._sky_models():
            signal = float(np.sum(np.asarray(dataset.npred_signal().data, float)[mask]))
        norm = dataset.background_model.spectral_model.norm
        old = float(norm.value)
        norm.value = old * (counts - signal) / bkg
        norm.error = old * np.sqrt(counts) / bkg
        return dataset

    def make_background_fit(self, dataset, mask=None):
        """Fit the free background-model parameters with every other model frozen."""
        from gammapipe.maps import Map

        if mask is None:
            mask = self._fit_mask(dataset)
        counts = float(np.sum(np.asarray(dataset.counts.data, float)[mask]))
        if not mask.any() or counts <= self.min_counts:
            self._warn(dataset, f"{counts:g} counts outside the exclusion region (minimum "
                                f"{self.min_counts})")
            return dataset
        bkg = float(np.sum(np.asarray(dataset.npred_background().data, float)[mask]))
        if not bkg > self.min_npred_background:
            self._warn(dataset, f"predicted background {bkg:g} in the mask")
            return dataset
        fit = self.fit
        if fit is None:
            from gammapipe.modeling import Fit

            fit = Fit()
        reduced = _reduced_background_stat(dataset, mask)
        if reduced is not None:
            result = fit.run(datasets=[reduced])
            if not result.success:
                warnings.warn(f"FoVBackgroundMaker: fit of dataset {dataset.name!r} did not "
                              f"converge: {result.message}", stacklevel=2)
            return dataset
        mask_fit = dataset.mask_fit
        dataset.mask_fit = Map.from_geom(dataset.counts.geom, data=mask, dtype=bool)
        others = [m for m in dataset.models if m is not dataset.background_model]
        frozen = [(p, p.frozen) for m in others for p in m.parameters]
        try:
            for p, _ in frozen:
                p.frozen = True
            result = fit.run(datasets=[dataset])
            if not result.success:
                warnings.warn(f"FoVBackgroundMaker: fit of dataset {dataset.name!r} did not "
                              f"converge: {result.message}", stacklevel=2)
        finally:
            for p, state in frozen:
                p.frozen = state
            dataset.mask_fit = mask_fit
        return dataset

    def run(self, dataset, observation=None):
        """Adjust the dataset's FoV background model (in place) and return the dataset."""
        if dataset.background is None:
            raise GammapipeError(f"FoVBackgroundMaker: dataset {dataset.name!r} has no "
                                 "background map")
        if dataset.background_model is None:
            dataset = self.make_default_fov_background_model(dataset)
        mask = self._fit_mask(dataset)
        if self.method == "fit":
            return self.make_background_fit(dataset, mask)
        return self.make_background_scale(dataset, mask)


class _ReducedBackgroundStat:
    """Cash statistic of a background-only dataset reduced to per-energy-bin sums.

    With ``npred_i = b_i f_k`` (background map times the norm spectral model at the reco
    bin centre ``E_k``) the cash statistic over the masked bins is
    ``2 sum_k (B_k f_k - N_k log f_k) + const`` with ``B_k``, ``N_k`` the masked sums of
    background and counts of energy bin ``k``: the same minimum and curvature as the full
    statistic at a cost independent of the number of pixels. Duck-types a dataset for
    `~gammapipe.modeling.Fit` (``models`` and ``stat_sum``).
    """

    def __init__(self, model, energy_center, counts_k, background_k):
        from gammapipe.modeling.models import DatasetModels

        self.models = DatasetModels([model])
        self._spectral = model.spectral_model
        self._energy = energy_center
        self._counts = np.asarray(counts_k, dtype=float)
        self._background = np.asarray(background_k, dtype=float)

    def stat_sum(self) -> float:
        factor = np.asarray(self._spectral(self._energy).to_value(""), dtype=float)
        mu = np.maximum(self._background * factor, 1e-25)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(self._counts > 0, self._counts * np.log(mu), 0.0)
        return float(2.0 * np.sum(mu - log_term))


def _reduced_background_stat(dataset, mask):
    """`_ReducedBackgroundStat` of ``dataset`` when exact (no sky model, no spatial
    background correction, background and counts with a reco ``energy`` axis), else None.
    """
    model = dataset.background_model
    if model is None or getattr(model, "spatial_model", None) is not None:
        return None
    if dataset._sky_models():
        return None
    geom = dataset.counts.geom
    if "energy" not in geom.axes.names or len(geom.axes) != 1:
        return None
    counts = np.where(mask, np.asarray(dataset.counts.data, dtype=float), 0.0)
    background = np.where(mask, np.asarray(dataset.background.data, dtype=float), 0.0)
    counts_k = counts.sum(axis=(-2, -1))
    background_k = background.sum(axis=(-2, -1))
    keep = background_k > 0
    if not keep.all() and np.any(counts_k[~keep] > 0):
        return None  # counts on a zero background: keep the full statistic's behaviour
    energy = geom.axes["energy"].center[keep]
    return _ReducedBackgroundStat(model, energy, counts_k[keep], background_k[keep])


_NEAREST_CACHE: OrderedDict = OrderedDict()


def _nearest_pixels(geom, mask_geom):
    """Nearest pixel ``(ix, iy, inside)`` of ``mask_geom`` for each pixel centre of ``geom``.

    Exact half-pixel ties go to the lower pixel. Grids with commensurate pixel sizes put
    pixel centres on such ties, so the projection is done with astropy's WCS (one
    vectorised call) to round exactly as the reference tool does. Cached by both
    geometries (a run's cutout is looked up once per maker call chain).
    """
    key = (red._geom_key(geom, mask_geom.frame), red._geom_key(mask_geom, mask_geom.frame))

    def compute():
        lon, lat = red.pixel_lonlat(geom, mask_geom.frame)
        x, y = mask_geom.wcs.wcs_world2pix(np.ravel(lon), np.ravel(lat), 0)
        ix = np.ceil(x.reshape(lon.shape) - 0.5)
        iy = np.ceil(y.reshape(lon.shape) - 0.5)
        ny, nx = mask_geom.data_shape_image
        inside = (np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nx) & (iy >= 0)
                  & (iy < ny))
        return ix, iy, inside

    return red._lru_get(_NEAREST_CACHE, key, compute)
