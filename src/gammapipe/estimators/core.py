"""Estimator base class and helpers shared by all estimators.

An estimator takes its configuration in ``__init__`` and the data in ``run(...)``; it never
keeps the data. ``selection_optional`` chooses the optional (more expensive) quantities:
``None`` computes none of them, ``"all"`` all of those the estimator knows.
"""

from __future__ import annotations

import abc
import copy
import html
from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GammapipeError

__all__ = ["Estimator", "DEFAULT_UNIT", "SED_TYPES"]

#: Default units of the SED representations.
DEFAULT_UNIT = {
    "dnde": u.Unit("1 / (TeV s cm2)"),
    "e2dnde": u.Unit("erg / (s cm2)"),
    "flux": u.Unit("1 / (s cm2)"),
    "eflux": u.Unit("erg / (s cm2)"),
    "norm": u.Unit(""),
}
#: SED types understood by `FluxMaps` / `FluxPoints`.
SED_TYPES = ("dnde", "e2dnde", "flux", "eflux", "likelihood")


class Estimator(abc.ABC):
    """Base class of the estimators (configuration in ``__init__``, data in ``run``)."""

    tag: str = "Estimator"
    _available_selection_optional: tuple[str, ...] = ()

    @abc.abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the estimator on datasets."""

    @property
    def selection_optional(self) -> list[str]:
        """Optional quantities to compute (list of names)."""
        return list(self._selection_optional)

    @selection_optional.setter
    def selection_optional(self, selection: Any) -> None:
        available = list(self._available_selection_optional)
        if selection is None:
            self._selection_optional = []
            return
        if isinstance(selection, str):
            selection = available if selection == "all" else [selection]
        selection = list(selection)
        unknown = [s for s in selection if s not in available]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown selection_optional {unknown}; "
                f"available: {available} (or 'all' / None)"
            )
        self._selection_optional = selection

    def copy(self) -> Estimator:
        """Deep copy of the estimator."""
        return copy.deepcopy(self)

    @property
    def config_parameters(self) -> dict[str, Any]:
        """Configuration attributes (public, non-callable)."""
        out = {}
        for key, value in self.__dict__.items():
            name = key.lstrip("_")
            if key.startswith("__") or callable(value):
                continue
            out[name] = value
        return out

    def __str__(self) -> str:
        lines = [type(self).__name__, "-" * len(type(self).__name__), ""]
        for key, value in sorted(self.config_parameters.items()):
            text = str(value).replace("\n", " ")
            if len(text) > 70:
                text = text[:67] + "..."
            lines.append(f"  {key:<24}: {text}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


# ----------------------------------------------------------------------------- helpers
def as_energy_edges(energy_edges: Any, name: str = "energy_edges") -> u.Quantity:
    """Validate energy edges (>= 2 increasing energies with units)."""
    from ..utils.units import to_quantity

    edges = to_quantity(energy_edges, "TeV", name)
    edges = np.atleast_1d(edges)
    if edges.size < 2 or np.any(np.diff(edges.value) <= 0):
        raise ValueError(f"{name}: need at least two increasing energies, got {edges}")
    return edges


def snap_energy_edges(reco_edges: u.Quantity, energy_edges: u.Quantity) -> u.Quantity:
    """Snap requested energy edges to the closest reco bin edges (in log energy).

    Edges outside the reco axis are clipped to its range; duplicate snapped edges are
    removed. ``[1, 2, 4, 10]`` TeV on 4 log bins of 1-10 TeV gives ``[1, 1.778, 3.162, 10]``.
    """
    reco = reco_edges.to_value("TeV")
    req = energy_edges.to_value("TeV")
    log_reco = np.log(reco)
    idx = np.abs(np.log(req)[:, None] - log_reco[None, :]).argmin(axis=1)
    idx = np.unique(idx)
    return u.Quantity(reco[idx], "TeV").to(energy_edges.unit)


def dataset_reco_edges(dataset: Any) -> u.Quantity | None:
    """Reco energy edges of a dataset (None when it has no energy axis)."""
    counts = getattr(dataset, "counts", None)
    if counts is None:
        return None
    axes = counts.geom.axes
    if "energy" not in axes.names:
        return None
    return axes["energy"].edges


def resolve_source(models: Any, source: int | str) -> tuple[int, Any]:
    """Index and model of ``source`` (an index or a name) in ``models``."""
    names = [m.name for m in models]
    if isinstance(source, (int, np.integer)):
        if not -len(names) <= source < len(names):
            raise GammapipeError(
                f"source index {source} out of range; models are {names}"
            )
        idx = int(source) % len(names)
    else:
        if source not in names:
            raise GammapipeError(f"Unknown source {source!r}; available models: {names}")
        idx = names.index(source)
    model = models[idx]
    if getattr(model, "spectral_model", None) is None or getattr(model, "tag", ("",))[0] in (
        "FoVBackgroundModel",
    ):
        raise GammapipeError(
            f"source {names[idx]!r} is not a sky model with a spectral model; models: {names}"
        )
    return idx, model


def as_datasets(datasets: Any) -> Any:
    """A `Datasets` collection from a dataset, a list of datasets or a `Datasets`."""
    from ..datasets import Datasets

    if isinstance(datasets, Datasets):
        return datasets
    if hasattr(datasets, "stat_sum") and not isinstance(datasets, (list, tuple)):
        return Datasets([datasets])
    return Datasets(list(datasets))
