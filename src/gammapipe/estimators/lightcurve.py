"""`LightCurveEstimator`: flux points of one source per time interval (or per dataset)."""

from __future__ import annotations

import logging
from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import EmptySelectionError, GammapipeError
from .core import as_datasets
from .points import FluxPoints
from .points_estimator import FluxPointsEstimator, results_to_flux_points

__all__ = ["LightCurveEstimator"]

log = logging.getLogger(__name__)


def _gti_bounds(dataset: Any) -> tuple[Any, Any]:
    gti = getattr(dataset, "gti", None)
    if gti is None or len(gti) == 0:
        raise GammapipeError(
            f"LightCurveEstimator: dataset {dataset.name!r} has no GTI (needed for the times)"
        )
    return gti.time_start.min(), gti.time_stop.max()


class LightCurveEstimator(FluxPointsEstimator):
    """Light curve: `FluxPointsEstimator` run on the datasets of every time interval.

    A dataset belongs to an interval when its GTI lies inside it (within ``atol``).
    Intervals without data are skipped (logged). Without ``time_intervals`` every dataset
    (e.g. every run) is its own interval, spanning its GTI.

    Parameters
    ----------
    time_intervals : list of (`~astropy.time.Time`, `~astropy.time.Time`), optional
        Start and stop of the intervals.
    atol : `~astropy.units.Quantity` or str
        Tolerance of the GTI containment test.
    energy_edges, source, n_sigma, n_sigma_ul, selection_optional, fit, reoptimize, norm,
    sum_over_energy_groups, n_jobs
        As for `FluxPointsEstimator`.
    """

    tag = "LightCurveEstimator"

    def __init__(self, time_intervals: Any = None, atol: Any = "1e-6 d", **kwargs: Any) -> None:
        self.time_intervals = time_intervals
        self.atol = u.Quantity(atol)
        super().__init__(**kwargs)

    def _intervals(self, datasets: Any) -> list[tuple[Any, Any]]:
        from astropy.time import Time

        if self.time_intervals is None:
            return [_gti_bounds(d) for d in datasets]
        out = []
        for item in self.time_intervals:
            t0, t1 = (Time(item[0]), Time(item[1])) if not isinstance(item, Time) else item
            if t1 <= t0:
                raise ValueError(f"time interval {t0.iso} - {t1.iso}: stop must follow start")
            out.append((t0, t1))
        return out

    def run(self, datasets: Any) -> FluxPoints:
        """Light curve of the source on ``datasets`` (each with a GTI)."""
        from ..datasets import Datasets
        from ..maps import MapAxis, TimeMapAxis

        datasets = as_datasets(datasets)
        bounds = [_gti_bounds(d) for d in datasets]
        intervals = self._intervals(datasets)
        rows, kept = [], []
        energy_edges = None
        atol = self.atol
        for t0, t1 in intervals:
            selected = [d for d, (s0, s1) in zip(datasets, bounds, strict=True)
                        if (s0 - t0) >= -atol and (t1 - s1) >= -atol]
            if not selected:
                log.info("LightCurveEstimator: no data in %s - %s, skipping", t0.iso, t1.iso)
                continue
            results, edges, source_model, _ = self.estimate_bins(Datasets(selected))
            if energy_edges is None:
                energy_edges, reference = edges, source_model.spectral_model.copy()
            elif edges.size != energy_edges.size or not np.allclose(
                    edges.to_value("TeV"), energy_edges.to_value("TeV"), rtol=1e-6):
                raise GammapipeError(
                    "LightCurveEstimator: datasets have different reco energy edges "
                    f"({energy_edges} vs {edges})"
                )
            # per-dataset quantities: sum over the datasets of the interval
            for res in results:
                for key in ("npred", "npred_excess", "counts"):
                    res[key] = np.array([np.nansum(res[key])]) if np.any(
                        np.isfinite(res[key])) else np.array([np.nan])
            rows.append(results)
            kept.append((t0, t1))
        if not rows:
            raise EmptySelectionError(
                "LightCurveEstimator: no dataset lies inside any of the time intervals"
            )
        ref_time = min(t0 for t0, _ in kept)
        t_min = u.Quantity([(t0 - ref_time).to("d") for t0, _ in kept])
        t_max = u.Quantity([(t1 - ref_time).to("d") for _, t1 in kept])
        time_axis = TimeMapAxis(t_min, t_max, reference_time=ref_time, name="time")
        energy_axis = MapAxis.from_energy_edges(energy_edges)
        meta = {"n_sigma": self.n_sigma, "n_sigma_ul": self.n_sigma_ul,
                "sed_type_init": "likelihood"}
        return results_to_flux_points(rows, energy_axis, ["all"], reference, meta,
                                      time_axis=time_axis)
