"""`TSMapEstimator`: test-statistic map of a trial source moved over every pixel.

For each pixel the amplitude (``norm``, relative to the model's spectrum) of a source with
the model's morphology, convolved with the PSF and weighted by exposure, is fitted to the
counts against the predicted background (the dataset's ``npred``, i.e. background plus all
models). The fits of all pixels run together (`_ts_core`): FFT correlations give the
starting amplitudes, then vectorised Newton iterations on the exact Cash statistic, on
chunks of pixels spread over threads.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GeometryError
from ._ts_core import _correlate, fit_amplitudes, initial_amplitude
from .core import Estimator, as_energy_edges, snap_energy_edges
from .excess_map import _data, group_energy_bins, reference_npred
from .flux_map import FluxMaps

__all__ = ["TSMapEstimator"]


def _default_model(geom: Any) -> Any:
    from ..modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    center = geom.center_skydir
    frame = geom.frame
    lon, lat = ((center.ra, center.dec) if frame == "icrs"
                else (center.galactic.l, center.galactic.b))
    spatial = PointSpatialModel(lon_0=lon, lat_0=lat, frame=frame)
    spectral = PowerLawSpectralModel(index=2, amplitude="1e-12 cm-2 s-1 TeV-1",
                                     reference="1 TeV")
    return SkyModel(spatial_model=spatial, spectral_model=spectral, name="ts-kernel")


class TSMapEstimator(Estimator):
    """TS, significance and flux maps of a trial source.

    Parameters
    ----------
    model : `~gammapipe.modeling.models.SkyModel`, optional
        Trial source: morphology (at the map centre) and spectrum. Default: a point source
        with a power law of index 2.
    kernel_width : `~astropy.coordinates.Angle`, optional
        Full width of the kernel (default: twice the 99.9 % PSF containment radius,
        enlarged by the model extension).
    downsampling_factor : int, optional
        Compute on a map downsampled by this factor and upsample the results.
    n_sigma, n_sigma_ul : float
        Sigma of the errors and of the upper limits.
    threshold : float, optional
        Pixels whose TS at the starting amplitude is below are not optimised.
    rtol : float
        Newton iterations stop when the step is below ``rtol`` times the amplitude error.
    selection_optional : list of str, "all" or None
        Among "errn-errp", "ul".
    energy_edges : `~astropy.units.Quantity`, optional
        Energy bins of the maps (snapped to the reco edges).
    sum_over_energy_groups : bool
        One energy bin (all energies) when ``energy_edges`` is None.
    n_jobs : int, optional
        Threads fitting chunks of pixels (default: the idle CPUs, at most 4); the results
        do not depend on it.
    """

    tag = "TSMapEstimator"
    _available_selection_optional = ("errn-errp", "ul")

    def __init__(self, model: Any = None, kernel_width: Any = None,
                 downsampling_factor: int | None = None, n_sigma: float = 1,
                 n_sigma_ul: float = 2, threshold: float | None = None, rtol: float = 0.01,
                 selection_optional: Any = None, energy_edges: Any = None,
                 sum_over_energy_groups: bool = True, n_jobs: int | None = None,
                 max_niter: int = 30) -> None:
        from astropy.coordinates import Angle

        self.model = model
        self.kernel_width = None if kernel_width is None else Angle(kernel_width)
        self.downsampling_factor = downsampling_factor
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.threshold = threshold
        self.rtol = float(rtol)
        self.selection_optional = selection_optional
        self.energy_edges = None if energy_edges is None else as_energy_edges(energy_edges)
        self.sum_over_energy_groups = bool(sum_over_energy_groups)
        self.n_jobs = n_jobs
        self.max_niter = int(max_niter)

    # -- kernel -------------------------------------------------------------------------------
    def _model(self, geom: Any) -> Any:
        return self.model if self.model is not None else _default_model(geom)

    def estimate_kernel(self, dataset: Any, groups: list[np.ndarray]) -> list[np.ndarray]:
        """Source kernel (unit sum) of every energy group: PSF weighted by the expected
        counts of the model per true energy, convolved with the model morphology."""
        geom = dataset.counts.geom
        model = self._model(geom)
        binsz = float(np.abs(np.asarray(geom.pixel_scales.to_value("deg"))).mean())
        exposure = dataset.exposure
        true_axis = exposure.geom.axes[0]
        flux_true = model.spectral_model.integral(true_axis.edges[:-1], true_axis.edges[1:])
        expo = exposure.quantity
        cy, cx = expo.shape[-2] // 2, expo.shape[-1] // 2
        counts_true = (expo[:, cy, cx] * flux_true).to_value("")  # (n_true,)
        if getattr(dataset, "edisp", None) is not None:
            edisp = dataset.edisp.get_edisp_kernel(position=None,
                                                   energy_axis=geom.axes["energy"])
            matrix = np.asarray(edisp.pdf_matrix, dtype=float)  # (n_true, n_reco)
        else:
            matrix = np.eye(true_axis.nbin)
        max_radius = None if self.kernel_width is None else self.kernel_width / 2
        psf = getattr(dataset, "psf", None)
        if psf is not None:
            kernel_geom = geom.to_image().to_cube([true_axis])
            psf_k = np.asarray(psf.get_psf_kernel(kernel_geom, max_radius=max_radius).data,
                               dtype=float)
        else:
            half = 0 if max_radius is None else int(np.ceil(max_radius.to_value("deg") / binsz))
            psf_k = np.zeros((true_axis.nbin, 2 * half + 1, 2 * half + 1))
            psf_k[:, half, half] = 1.0
        template = self._morphology(model, geom, binsz, psf_k.shape[-1])
        kernels = []
        for idx in groups:
            w = counts_true * matrix[:, idx].sum(axis=1)
            if w.sum() <= 0:
                w = np.ones_like(w)
            k = np.tensordot(w / w.sum(), psf_k, axes=(0, 0))
            if template is not None:
                from ..maps._convolve import convolve_images

                size = max(k.shape[0], template.shape[0])
                k = _pad_to(k, size)
                k = convolve_images(k, template)
            k = np.clip(k, 0, None)
            kernels.append(k / k.sum())
        return kernels

    @staticmethod
    def _morphology(model: Any, geom: Any, binsz: float, size: int) -> np.ndarray | None:
        """Model morphology on a pixel grid centred on the model (None for point sources)."""
        spatial = getattr(model, "spatial_model", None)
        if spatial is None or type(spatial).__name__ == "PointSpatialModel":
            return None
        from ..maps import WcsGeom

        extent = getattr(spatial, "evaluation_radius", None)
        radius = extent.to_value("deg") if extent is not None else 3 * binsz
        npix = max(size, 2 * int(np.ceil(radius / binsz)) + 1)
        npix += 1 - npix % 2
        small = WcsGeom.create(skydir=spatial.position, binsz=binsz, npix=npix,
                               frame=geom.frame, proj=geom.projection)
        values = spatial.evaluate_geom(small)
        template = np.asarray((values * small.solid_angle()).to_value(""), dtype=float)
        template = np.squeeze(template)
        return template / template.sum()

    # -- run ----------------------------------------------------------------------------------
    def _group_edges(self, dataset: Any) -> u.Quantity:
        edges = dataset.counts.geom.axes["energy"].edges
        if self.energy_edges is not None:
            return snap_energy_edges(edges, self.energy_edges)
        if self.sum_over_energy_groups:
            return u.Quantity([edges[0], edges[-1]])
        return edges

    def run(self, dataset: Any) -> FluxMaps:
        """TS maps of a `MapDataset` (WCS geometry) -> `FluxMaps` (norm, ts, sqrt_ts,
        flux... per energy group, plus ``niter``, ``npred``, ``npred_excess``)."""
        from ..maps import Map, MapAxis

        geom = dataset.counts.geom
        if not hasattr(geom, "pixel_scales"):
            raise GeometryError(f"TSMapEstimator: dataset {dataset.name!r} needs a WCS geometry")
        full_geom = geom
        if self.downsampling_factor:
            dataset = dataset.downsample(int(self.downsampling_factor))
            geom = dataset.counts.geom
        group_edges = self._group_edges(dataset)
        groups = group_energy_bins(geom.axes["energy"].edges, group_edges)
        keep = [i for i, g in enumerate(groups) if g.size]
        if not keep:
            raise GeometryError(f"TSMapEstimator: no reco bins inside {group_edges}")
        groups = [groups[i] for i in keep]
        group_edges = u.Quantity([*(group_edges[i] for i in keep), group_edges[keep[-1] + 1]])

        mask = (np.ones(geom.data_shape, bool) if dataset.mask is None
                else np.broadcast_to(_data(dataset.mask, bool), geom.data_shape))
        maskf = mask.astype(float)
        counts = _data(dataset.counts) * maskf
        background = _data(dataset.npred()) * maskf
        model = self._model(geom)
        x_all = reference_npred(dataset, model.spectral_model) * maskf
        kernels = self.estimate_kernel(dataset, groups)
        results = {}
        for idx, kernel in zip(groups, kernels, strict=True):
            c, b, x = counts[idx].sum(0), background[idx].sum(0), x_all[idx].sum(0)
            pix = mask[idx].any(axis=0)
            a0 = initial_amplitude(c, b, x, kernel)
            res = fit_amplitudes(
                c, b, x, kernel, a0, rtol=self.rtol, max_iter=self.max_niter,
                threshold=self.threshold, n_sigma=self.n_sigma, n_sigma_ul=self.n_sigma_ul,
                errn_errp="errn-errp" in self.selection_optional,
                ul="ul" in self.selection_optional, pixel_mask=pix, n_threads=self.n_jobs,
            )
            # expected source counts of the fitted amplitude (whole kernel)
            norm0 = np.nan_to_num(res["norm"])
            res["npred_excess"] = np.where(pix, norm0 * _correlate(x, kernel), np.nan)
            res["npred"] = np.where(pix, c, np.nan)
            for key, value in res.items():
                results.setdefault(key, []).append(value)
        energy_axis = MapAxis.from_energy_edges(group_edges)
        out_geom = geom.to_image().to_cube([energy_axis])
        data = {}
        order = ["norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "sqrt_ts",
                 "npred", "npred_excess", "stat", "stat_null", "niter", "success"]
        results["sqrt_ts"] = [np.where(n > 0, 1.0, -1.0) * np.sqrt(t)
                              for n, t in zip(results["norm"], results["ts"], strict=True)]
        for key in order:
            if key not in results:
                continue
            values = np.stack(results[key])
            if self.downsampling_factor:
                values = _upsample(values, int(self.downsampling_factor),
                                   full_geom.data_shape[-2:])
            dtype = bool if key == "success" else float
            m_geom = out_geom if not self.downsampling_factor else \
                full_geom.to_image().to_cube([energy_axis])
            data[key] = Map.from_geom(m_geom, data=values.astype(dtype), dtype=dtype)
        meta = {"n_sigma": self.n_sigma, "n_sigma_ul": self.n_sigma_ul,
                "sed_type_init": "likelihood"}
        return FluxMaps(data=data, reference_model=model, meta=meta,
                        gti=getattr(dataset, "gti", None))


def _pad_to(k: np.ndarray, size: int) -> np.ndarray:
    pad = (size - k.shape[-1]) // 2
    if pad <= 0:
        return k
    return np.pad(k, ((pad, pad), (pad, pad)))


def _upsample(values: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour upsampling of (n, ny, nx) images, cropped to ``shape``."""
    up = np.repeat(np.repeat(values, factor, axis=-2), factor, axis=-1)
    return up[..., : shape[0], : shape[1]]
