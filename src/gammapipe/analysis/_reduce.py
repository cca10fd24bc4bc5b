"""Per-observation data reduction tasks (module level, picklable for process/Dask pools)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import astropy.units as u

log = logging.getLogger(__name__)

__all__ = ["ReductionContext", "reduce_observation", "DatasetsAccumulator",
           "SkippedObservation"]


@dataclass
class SkippedObservation:
    """Result of an observation that could not be reduced (reported by the accumulator)."""

    obs_id: int
    reason: str


@dataclass
class ReductionContext:
    """Everything a worker needs to reduce one observation.

    Attributes
    ----------
    kind : {"3d", "1d"}
        Dataset type.
    template : `MapDataset` or `SpectrumDataset`
        Empty dataset on the analysis geometry.
    dataset_maker : `MapDatasetMaker` or `SpectrumDatasetMaker`
        Fills counts, exposure, background, PSF, EDisp.
    safe_mask_maker : `SafeMaskMaker` or None
    background_maker : `FoVBackgroundMaker`, `ReflectedRegionsBackgroundMaker` or None
    cutout_width : `~astropy.units.Quantity` or None
        3d: reduce each observation on a cutout of this width around its pointing.
    """

    kind: str
    template: Any
    dataset_maker: Any
    safe_mask_maker: Any = None
    background_maker: Any = None
    cutout_width: u.Quantity | None = None


def _detached(observation):
    """Copy of ``observation`` with its own lazy-HDU holders.

    Observations of a data store cache every HDU they load; reducing a detached copy lets
    the events and IRFs be freed after the reduction instead of staying cached in the
    caller's `Observations` (memory stays bounded over thousands of runs).
    """
    from gammapipe.data.observation import LazyHDU

    sources = getattr(observation, "_sources", None)
    if not isinstance(sources, dict):
        return observation
    lazy = {name: holder.location for name, holder in sources.items()
            if isinstance(holder, LazyHDU) and not holder.is_loaded}
    return observation.copy(**lazy) if lazy else observation


def reduce_observation(observation, context: ReductionContext):
    """Reduce one observation to a dataset named after its id (``obs-<ID>``).

    3d: cutout around the pointing -> `MapDatasetMaker` -> `SafeMaskMaker` ->
    `FoVBackgroundMaker`; 1d: `SpectrumDatasetMaker` -> `ReflectedRegionsBackgroundMaker`
    -> `SafeMaskMaker` (the reflected-regions maker turns the dataset into an ON-OFF one).
    """
    name = f"obs-{observation.obs_id}"
    observation = _detached(observation)
    if context.kind == "3d":
        if context.cutout_width is not None:
            from astropy.nddata.utils import NoOverlapError

            pointing = observation.get_pointing_icrs(observation.tmid)
            try:
                dataset = context.template.cutout(pointing, width=context.cutout_width,
                                                  name=name)
            except NoOverlapError:
                return SkippedObservation(observation.obs_id, "its field of view does not "
                                          "overlap the analysis geometry")
        else:
            dataset = context.template.copy(name=name)
        dataset = context.dataset_maker.run(dataset, observation)
        if context.safe_mask_maker is not None:
            dataset = context.safe_mask_maker.run(dataset, observation)
        if context.background_maker is not None:
            dataset = context.background_maker.run(dataset)
        return dataset
    dataset = context.template.copy(name=name)
    dataset = context.dataset_maker.run(dataset, observation)
    if context.background_maker is not None:
        dataset = context.background_maker.run(dataset, observation)
    if context.safe_mask_maker is not None:
        dataset = context.safe_mask_maker.run(dataset, observation)
    return dataset


class DatasetsAccumulator:
    """Receives reduced datasets in input order: stacks them or keeps them (joint)."""

    def __init__(self, stack: bool, stacked=None):
        from gammapipe.datasets import Datasets

        self.stack = stack
        self.stacked = stacked
        self.datasets = Datasets([])
        self.per_obs: list[dict] = []
        self.skipped: list[int] = []

    def __call__(self, index: int, dataset) -> None:
        if isinstance(dataset, SkippedObservation):
            log.warning("observation %s skipped: %s", dataset.obs_id, dataset.reason)
            self.skipped.append(dataset.obs_id)
            return
        info = {"name": dataset.name}
        bkg_model = getattr(dataset, "background_model", None)
        if bkg_model is not None:
            norm = bkg_model.spectral_model.parameters["norm"]
            info["bkg_norm"] = float(norm.value)
        if self.stack and self.stacked is None:
            self.stacked = dataset.to_masked(name="stacked")  # as stack_reduce: masked first
        elif self.stack:
            self.stacked.stack(dataset)
        else:
            self.datasets.append(dataset)
        self.per_obs.append(info)

    def result(self):
        """`Datasets` (one stacked dataset, or one per observation)."""
        from gammapipe.datasets import Datasets
        from gammapipe.utils.errors import EmptySelectionError

        if not self.per_obs:
            raise EmptySelectionError(f"no observation could be reduced (skipped: "
                                      f"{self.skipped[:10]})")
        if self.stack:
            return Datasets([self.stacked])
        return self.datasets
