"""`FluxPointsEstimator`: flux points of one source in energy bins."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GammapipeError
from .core import as_energy_edges, snap_energy_edges
from .flux_estimator import FluxEstimator
from .points import FluxPoints

__all__ = ["FluxPointsEstimator", "results_to_flux_points"]

_SCALARS = ("norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat",
            "stat_null", "success")
_PER_DATASET = ("npred", "npred_excess", "counts")


def results_to_flux_points(results: list[list[dict]], energy_axis: Any, dataset_names: list,
                           reference_model: Any, meta: dict, time_axis: Any = None,
                           gti: Any = None) -> FluxPoints:
    """Assemble per-bin result dicts (``results[i_time][i_energy]``) into `FluxPoints`."""
    from ..maps import LabelMapAxis, Map, MapAxis, RegionGeom

    axes = [energy_axis] if time_axis is None else [energy_axis, time_axis]
    geom = RegionGeom.create(None, axes=axes)
    n_t, n_e = len(results), energy_axis.nbin
    first = results[0][0]
    maps = {}
    keys = [k for k in _SCALARS if k in first] + [k for k in _PER_DATASET if k in first]
    if "stat_scan" in first:
        keys += ["norm_scan", "stat_scan"]
    for key in keys:
        values = np.array([[np.asarray(r[key], dtype=float) for r in row] for row in results])
        # values: (n_t, n_e) or (n_t, n_e, k)
        if key in _PER_DATASET or key in ("norm_scan", "stat_scan"):
            if key in _PER_DATASET:
                extra = LabelMapAxis(list(dataset_names), name="dataset")
            else:
                extra = MapAxis.from_nodes(np.arange(values.shape[-1]), name="scan")
            m_geom = geom.to_cube([extra])
            data = np.moveaxis(values, -1, 0)  # (k, n_t, n_e)
        else:
            m_geom = geom
            data = values
        if time_axis is None:
            data = data[..., 0, :] if data.ndim == 3 else data[0]
        data = data[..., None, None]
        dtype = bool if key == "success" else float
        maps[key] = Map.from_geom(m_geom, data=data.astype(dtype), dtype=dtype)
    if "ts" in maps:
        ts = np.clip(maps["ts"].data, 0, None)
        sign = np.where(maps["norm"].data > 0, 1.0, -1.0)
        with np.errstate(invalid="ignore"):
            maps["sqrt_ts"] = maps["ts"].copy(data=sign * np.sqrt(ts))
    ordered = {k: maps[k] for k in ("norm", "norm_err", "norm_errn", "norm_errp", "norm_ul",
                                    "ts", "sqrt_ts", "npred", "npred_excess", "stat",
                                    "stat_null", "norm_scan", "stat_scan", "counts",
                                    "success") if k in maps}
    assert n_t == (1 if time_axis is None else time_axis.nbin) and n_e == energy_axis.nbin
    return FluxPoints(data=ordered, reference_model=reference_model, meta=meta, gti=gti)


class FluxPointsEstimator(FluxEstimator):
    """Flux points: the source norm fitted in each energy bin.

    The requested ``energy_edges`` snap to the closest reco energy edges of the first dataset
    (``[1, 2, 4, 10]`` TeV on 4 log bins in 1-10 TeV gives ``[1, 1.778, 3.162, 10]``); a
    bin uses the reco bins fully inside it. In each bin all model parameters are frozen
    except the norm multiplying the source spectrum (unless ``reoptimize``). A bin without
    safe data gives a NaN row with ``success=False``.

    Parameters
    ----------
    energy_edges : `~astropy.units.Quantity`
        Requested energy edges of the flux points.
    source : int or str
        Source model (index or name).
    n_sigma, n_sigma_ul : float
        Sigma of the errors and of the upper limits.
    selection_optional : list of str, "all" or None
        Among "errn-errp", "ul", "scan".
    fit : `~gammapipe.modeling.Fit`, optional
    reoptimize : bool
    norm : `~gammapipe.modeling.Parameter` or dict, optional
        Norm parameter (start value, bounds, scan grid; default 11 values in 0.2-5, log).
    sum_over_energy_groups : bool
        Sum the reco bins of each flux-point bin before fitting.
    n_jobs : int, optional
        Accepted for API compatibility (the fast path is vectorised; bins run in sequence).
    """

    tag = "FluxPointsEstimator"

    def __init__(self, energy_edges: Any = (1, 10) * u.TeV, source: int | str = 0,
                 n_sigma: float = 1, n_sigma_ul: float = 2, selection_optional: Any = None,
                 fit: Any = None, reoptimize: bool = False, norm: Any = None,
                 sum_over_energy_groups: bool = False, n_jobs: int | None = None) -> None:
        self.energy_edges = as_energy_edges(energy_edges)
        self.n_jobs = n_jobs
        super().__init__(source=source, n_sigma=n_sigma, n_sigma_ul=n_sigma_ul,
                         selection_optional=selection_optional, fit=fit,
                         reoptimize=reoptimize, norm=norm,
                         sum_over_energy_groups=sum_over_energy_groups)

    def _snapped_edges(self, datasets: Any) -> u.Quantity:
        for d in datasets:
            counts = getattr(d, "counts", None)
            if counts is not None and "energy" in counts.geom.axes.names:
                edges = snap_energy_edges(counts.geom.axes["energy"].edges, self.energy_edges)
                if edges.size < 2:
                    raise GammapipeError(
                        f"FluxPointsEstimator: energy_edges {self.energy_edges} snap to a single "
                        f"reco edge {edges} of dataset {d.name!r}"
                    )
                return edges
        return self.energy_edges

    def estimate_bins(self, datasets: Any) -> tuple[list[dict], u.Quantity, Any, Any]:
        """Per-bin result dicts, the snapped edges, the source model and the datasets."""
        datasets, source_model, arrays = self._prepare(datasets)
        edges = self._snapped_edges(datasets)
        results = [self._estimate(datasets, lo, hi, arrays)
                   for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        return results, edges, source_model, datasets

    def run(self, datasets: Any) -> FluxPoints:
        """Flux points of the source on ``datasets`` (a dataset, list or `Datasets`)."""
        from ..maps import MapAxis

        results, edges, source_model, datasets = self.estimate_bins(datasets)
        energy_axis = MapAxis.from_energy_edges(edges)
        meta = {"n_sigma": self.n_sigma, "n_sigma_ul": self.n_sigma_ul,
                "sed_type_init": "likelihood"}
        gti = getattr(datasets[0], "gti", None) if len(datasets) == 1 else None
        return results_to_flux_points([results], energy_axis, datasets.names,
                                      source_model.spectral_model.copy(), meta, gti=gti)
