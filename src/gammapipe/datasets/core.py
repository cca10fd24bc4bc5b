"""`Dataset` base class and a minimal `Datasets` container."""

from __future__ import annotations

import abc
import copy as _copy
from collections.abc import Iterable

import numpy as np

from gammapipe.utils.errors import GammapipeError

__all__ = ["Dataset", "Datasets"]


def make_name(name: str | None = None) -> str:
    """``name`` or a random unique 8-character name (delegates to the modeling helper)."""
    from gammapipe.modeling.models.sky import make_name as _make_name

    return _make_name(name)


class Dataset(abc.ABC):
    """Abstract dataset: data, a statistic and (optionally) models.

    Subclasses implement `stat_array` (per-bin statistic) and provide a `mask`
    (bins entering the fit); `stat_sum` sums the statistic over the mask.
    """

    tag = "Dataset"
    stat_type = "cash"
    _name = ""

    @property
    def name(self) -> str:
        """Dataset name."""
        return self._name

    @property
    def mask(self):
        """Boolean map of the fitted bins: ``mask_safe & mask_fit`` (None = all)."""
        mask_safe = getattr(self, "mask_safe", None)
        mask_fit = getattr(self, "mask_fit", None)
        if mask_safe is not None and mask_fit is not None:
            return mask_safe & mask_fit
        if mask_fit is not None:
            return mask_fit
        return mask_safe

    @abc.abstractmethod
    def stat_array(self) -> np.ndarray:
        """Statistic per bin."""

    def stat_sum(self) -> float:
        """Total statistic over the fitted bins (`mask`)."""
        stat = self.stat_array()
        mask = self.mask
        if mask is not None:
            return float(np.sum(stat[np.asarray(mask.data, dtype=bool)], dtype=np.float64))
        return float(np.sum(stat, dtype=np.float64))

    def copy(self, name: str | None = None):
        """Deep copy with a new name (random if None); models are not copied."""
        new = _copy.deepcopy(self)
        new._name = make_name(name)
        new.models = None
        return new

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Datasets:
    """Ordered list of datasets with unique names.

    Access by position or by name; `stat_sum` adds the statistics; `models` collects the
    models of all datasets (without duplicates) and sets models on all of them.

    Parameters
    ----------
    datasets : `Dataset` or iterable of `Dataset`, optional
    """

    def __init__(self, datasets: Dataset | Iterable[Dataset] | None = None):
        if datasets is None:
            datasets = []
        elif isinstance(datasets, Datasets):
            datasets = list(datasets)
        elif isinstance(datasets, Dataset):
            datasets = [datasets]
        self._datasets: list[Dataset] = []
        for d in datasets:
            self.append(d)

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self._datasets)

    def __iter__(self):
        return iter(self._datasets)

    def _index(self, key) -> int:
        if isinstance(key, int | np.integer):
            if not -len(self) <= key < len(self):
                raise IndexError(f"Datasets: index {key} out of range ({len(self)} datasets)")
            return int(key) % len(self)
        if isinstance(key, str):
            for i, d in enumerate(self._datasets):
                if d.name == key:
                    return i
            raise KeyError(f"Datasets: no dataset named {key!r} (names: {self.names})")
        if isinstance(key, Dataset):
            for i, d in enumerate(self._datasets):
                if d is key:
                    return i
            raise KeyError(f"Datasets: dataset {key.name!r} is not in the list")
        raise TypeError(f"Datasets: invalid key type {type(key).__name__}")

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.__class__(self._datasets[key])
        return self._datasets[self._index(key)]

    def __setitem__(self, key, dataset) -> None:
        idx = self._index(key)
        self._check(dataset, ignore=idx)
        self._datasets[idx] = dataset

    def __delitem__(self, key) -> None:
        del self._datasets[self._index(key)]

    def __contains__(self, item) -> bool:
        if isinstance(item, str):
            return item in self.names
        return any(d is item for d in self._datasets)

    def _check(self, dataset, ignore: int | None = None) -> None:
        if not isinstance(dataset, Dataset):
            raise TypeError(f"Datasets: expected a Dataset, got {type(dataset).__name__}")
        for i, d in enumerate(self._datasets):
            if i != ignore and d.name == dataset.name:
                raise GammapipeError(f"Datasets: duplicate dataset name {dataset.name!r}")

    def append(self, dataset: Dataset) -> None:
        """Add a dataset (names must be unique)."""
        self._check(dataset)
        self._datasets.append(dataset)

    def extend(self, datasets: Iterable[Dataset]) -> None:
        """Add several datasets."""
        for d in datasets:
            self.append(d)

    def insert(self, idx: int, dataset: Dataset) -> None:
        """Insert a dataset at position ``idx``."""
        self._check(dataset)
        self._datasets.insert(idx, dataset)

    def index(self, key) -> int:
        """Position of a dataset (by name or object)."""
        return self._index(key)

    @property
    def names(self) -> list[str]:
        """Dataset names."""
        return [d.name for d in self._datasets]

    @property
    def is_all_same_type(self) -> bool:
        """Whether all datasets have the same type."""
        return len({type(d) for d in self._datasets}) <= 1

    # ------------------------------------------------------------------ statistic, models
    def stat_sum(self) -> float:
        """Sum of the datasets' statistics."""
        return float(sum(d.stat_sum() for d in self._datasets))

    @property
    def models(self):
        """Models of all datasets (each once), as `~gammapipe.modeling.models.DatasetModels`."""
        from gammapipe.modeling.models import DatasetModels

        seen: dict[int, object] = {}
        for d in self._datasets:
            if d.models is not None:
                for m in d.models:
                    seen.setdefault(id(m), m)
        return DatasetModels(list(seen.values()))

    @models.setter
    def models(self, models) -> None:
        for d in self._datasets:
            d.models = models

    def copy(self):
        """Deep copy."""
        return _copy.deepcopy(self)

    def __str__(self) -> str:
        lines = [f"{type(self).__name__}", "--------", ""]
        for i, d in enumerate(self._datasets):
            lines.append(f"Dataset {i}: \n")
            lines.append(f"  Type       : {d.tag}")
            lines.append(f"  Name       : {d.name}")
            n_models = 0 if d.models is None else len(d.models)
            lines.append(f"  Models     : {n_models}\n")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Datasets({self.names})"
