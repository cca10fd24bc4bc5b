"""`ExcessMapEstimator`: correlated counts, excess, significance and flux maps.

Counts (and the predicted background, or the OFF counts and acceptances of an ON/OFF
dataset) are summed within a disk of ``correlation_radius`` around every pixel (top-hat
convolution by FFT). The significance is Li & Ma's (WStat, `WStatCountsStatistic`) for
ON/OFF datasets and Cash's against the predicted counts (`CashCountsStatistic`) otherwise.
Fluxes are ``norm`` values relative to a reference spectral model: ``norm = excess /
npred_ref`` with ``npred_ref`` the counts the reference model predicts per pixel (exposure
folded with the energy dispersion), averaged over the disk.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GeometryError
from .core import Estimator, as_energy_edges, snap_energy_edges
from .flux_map import FluxMaps, _default_reference_model

__all__ = ["ExcessMapEstimator", "reference_npred", "group_energy_bins"]


def _data(m: Any, dtype=np.float64) -> np.ndarray:
    return np.asarray(getattr(m, "data", m), dtype=dtype)


def reference_npred(dataset: Any, spectral_model: Any) -> np.ndarray:
    """Counts predicted per pixel and reco bin by a spatially flat-per-pixel ``spectral_model``.

    ``exposure(E_true) x integral of the model over the true bins``, folded with the energy
    dispersion kernel of the dataset centre (shape of ``dataset.counts``).
    """
    counts_geom = dataset.counts.geom
    reco_axis = counts_geom.axes["energy"]
    exposure = dataset.exposure
    if exposure is None:
        raise GeometryError(f"dataset {dataset.name!r}: an exposure map is needed")
    expo = exposure.quantity
    true_axis = exposure.geom.axes[0]
    if expo.shape[-2:] != counts_geom.data_shape[-2:]:
        expo = exposure.interp_to_geom(counts_geom.to_image().to_cube([true_axis])).quantity
    flux_true = spectral_model.integral(true_axis.edges[:-1], true_axis.edges[1:])
    npred_true = (expo * flux_true[:, None, None]).to_value("")
    edisp = getattr(dataset, "edisp", None)
    if edisp is None:
        if true_axis.nbin != reco_axis.nbin:
            raise GeometryError(
                f"dataset {dataset.name!r}: no energy dispersion and true/reco axes differ"
            )
        return npred_true
    kernel = edisp.get_edisp_kernel(position=None, energy_axis=reco_axis)
    matrix = np.asarray(kernel.pdf_matrix, dtype=np.float64)  # (n_true, n_reco)
    return np.einsum("tyx,tr->ryx", npred_true, matrix, optimize=True)


def group_energy_bins(edges: u.Quantity, group_edges: u.Quantity) -> list[np.ndarray]:
    """Indices of the reco bins (``edges``) lying inside each bin of ``group_edges``."""
    e = edges.to_value("TeV")
    g = group_edges.to_value("TeV")
    out = []
    for lo, hi in zip(g[:-1], g[1:], strict=True):
        out.append(np.nonzero((e[:-1] >= lo * (1 - 1e-6)) & (e[1:] <= hi * (1 + 1e-6)))[0])
    return out


def _group_sum(data: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return np.stack([data[idx].sum(axis=0) for idx in groups])


def _group_any(mask: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return np.stack([mask[idx].any(axis=0) for idx in groups])


class ExcessMapEstimator(Estimator):
    """Excess, significance and flux maps in disks of ``correlation_radius``.

    Parameters
    ----------
    correlation_radius : `~astropy.coordinates.Angle` or str
        Radius of the correlation disk.
    n_sigma, n_sigma_ul : float
        Sigma of the errors and of the upper limits.
    selection_optional : list of str, "all" or None
        Among "errn-errp", "ul".
    energy_edges : `~astropy.units.Quantity`, optional
        Energy bins of the maps (snapped to the reco edges); default: one bin (all energies)
        if ``sum_over_energy_groups`` else the dataset's reco bins.
    correlate_off : bool
        Correlate the OFF counts and acceptances too (ON/OFF datasets).
    spectral_model : `SpectralModel`, optional
        Reference spectrum of the flux maps (default power law of index 2).
    sum_over_energy_groups : bool
        Sum all reco bins into one (when ``energy_edges`` is None).
    """

    tag = "ExcessMapEstimator"
    _available_selection_optional = ("errn-errp", "ul")

    def __init__(self, correlation_radius: Any = "0.1 deg", n_sigma: float = 1,
                 n_sigma_ul: float = 2, selection_optional: Any = None,
                 energy_edges: Any = None, correlate_off: bool = True,
                 spectral_model: Any = None, sum_over_energy_groups: bool = True) -> None:
        from astropy.coordinates import Angle

        self.correlation_radius = Angle(correlation_radius)
        if self.correlation_radius.to_value("deg") <= 0:
            raise ValueError(f"correlation_radius must be > 0, got {correlation_radius}")
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.selection_optional = selection_optional
        self.energy_edges = None if energy_edges is None else as_energy_edges(energy_edges)
        self.correlate_off = bool(correlate_off)
        self.spectral_model = spectral_model or _default_reference_model()
        self.sum_over_energy_groups = bool(sum_over_energy_groups)

    def estimate_kernel(self, dataset: Any) -> np.ndarray:
        """Top-hat disk kernel (peak value 1: sums the pixels within the radius)."""
        from ..maps._convolve import disk_kernel

        binsz = np.abs(np.asarray(dataset.counts.geom.pixel_scales.to_value("deg"))).mean()
        radius = self.correlation_radius.to_value("deg") / binsz
        kernel = disk_kernel(radius)
        return kernel / kernel.max()

    def _group_edges(self, dataset: Any) -> u.Quantity:
        edges = dataset.counts.geom.axes["energy"].edges
        if self.energy_edges is not None:
            return snap_energy_edges(edges, self.energy_edges)
        if self.sum_over_energy_groups:
            return u.Quantity([edges[0], edges[-1]])
        return edges

    def run(self, dataset: Any) -> FluxMaps:
        """Compute the maps for a `MapDataset` or `MapDatasetOnOff` (WCS geometry)."""
        from ..maps import Map, MapAxis
        from ..maps._convolve import convolve_images
        from ..stats import CashCountsStatistic, WStatCountsStatistic

        geom = dataset.counts.geom
        if not hasattr(geom, "pixel_scales"):
            raise GeometryError(
                f"ExcessMapEstimator: dataset {dataset.name!r} must have a WCS geometry"
            )
        kernel = self.estimate_kernel(dataset)
        group_edges = self._group_edges(dataset)
        groups = group_energy_bins(geom.axes["energy"].edges, group_edges)
        keep = [i for i, g in enumerate(groups) if g.size]
        groups = [groups[i] for i in keep]
        if not groups:
            raise GeometryError(f"ExcessMapEstimator: no reco bins inside {group_edges}")
        group_edges = u.Quantity([*(group_edges[i] for i in keep), group_edges[keep[-1] + 1]])
        mask_full = (np.ones(geom.data_shape, bool) if dataset.mask is None
                     else np.broadcast_to(_data(dataset.mask, bool), geom.data_shape))
        maskf = mask_full.astype(np.float64)
        mask = _group_any(mask_full, groups)

        def corr(data: np.ndarray) -> np.ndarray:
            return convolve_images(_group_sum(data * maskf, groups), kernel)

        n_on = corr(_data(dataset.counts))
        is_onoff = getattr(dataset, "stat_type", "cash") == "wstat"
        maps = {}
        if is_onoff:
            n_off_raw = _data(dataset.counts_off)
            acc_on_raw = _data(dataset.acceptance)
            acc_off_raw = _data(dataset.acceptance_off)
            if self.correlate_off:
                n_off, acc_on, acc_off = corr(n_off_raw), corr(acc_on_raw), corr(acc_off_raw)
            else:
                n_off = _group_sum(n_off_raw * maskf, groups)
                acc_on = corr(acc_on_raw)
                acc_off = _group_sum(acc_off_raw * maskf, groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(acc_off > 0, acc_on / np.where(acc_off > 0, acc_off, 1), 0.0)
            mu_sig = 0.0
            if dataset.models is not None and len(dataset.models) > 0:
                mu_sig = corr(_data(dataset.npred_signal()))
            stat = WStatCountsStatistic(n_on, n_off, alpha, mu_sig)
            maps.update(alpha=alpha, acceptance_on=acc_on, acceptance_off=acc_off)
        else:
            mu_bkg = corr(_data(dataset.npred()))
            stat = CashCountsStatistic(n_on, mu_bkg)
        n_sig = stat.n_sig
        npred_ref = corr(reference_npred(dataset, self.spectral_model))
        norm_cov = convolve_images(mask.astype(np.float64), kernel)
        # mean reference counts in the disk x number of pixels = correlated reference counts
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = np.where(npred_ref > 0, npred_ref, np.nan)
            maps["npred"] = n_on
            maps["npred_excess"] = n_sig
            maps["counts"] = n_on
            maps["npred_background"] = stat.n_bkg
            maps["ts"] = stat.ts
            maps["sqrt_ts"] = stat.sqrt_ts
            maps["norm"] = n_sig / ref
            maps["norm_err"] = stat.error / ref
            if "errn-errp" in self.selection_optional:
                maps["norm_errn"] = -stat.compute_errn(self.n_sigma) / ref
                maps["norm_errp"] = stat.compute_errp(self.n_sigma) / ref
            if "ul" in self.selection_optional:
                maps["norm_ul"] = stat.compute_upper_limit(self.n_sigma_ul) / ref
        valid = mask & (norm_cov > 0)
        energy_axis = MapAxis.from_energy_edges(group_edges)
        out_geom = geom.to_image().to_cube([energy_axis])
        data = {}
        for name, values in maps.items():
            values = np.array(np.broadcast_to(values, out_geom.data_shape), dtype=np.float64)
            values[~valid] = np.nan
            data[name] = Map.from_geom(out_geom, data=values, dtype=float)
        data["success"] = Map.from_geom(out_geom, data=valid, dtype=bool)
        meta = {"n_sigma": self.n_sigma, "n_sigma_ul": self.n_sigma_ul,
                "sed_type_init": "likelihood"}
        return FluxMaps(data=data, reference_model=self.spectral_model, meta=meta,
                        gti=getattr(dataset, "gti", None))
