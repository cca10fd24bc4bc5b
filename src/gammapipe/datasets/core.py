"""`Dataset` base class and the `Datasets` container.

`Datasets` is an ordered, mutable list of datasets with unique names. It gives the joint
likelihood of its datasets (`Datasets.stat_sum`, plus `Datasets.stat_sum_and_gradient`
when every dataset provides an analytic gradient), shares models between datasets
(`Datasets.models`), stacks them (`Datasets.stack_reduce`, `Datasets.info_table`) and
reads / writes them through a YAML index file::

    datasets:
    - name: '23523'
      type: SpectrumDatasetOnOff
      filename: pha_obs23523.fits

Each entry comes from the dataset's ``to_dict()`` and is read back with the ``from_dict``
of the class whose ``tag`` equals ``type``; the file names are relative to the folder of
the index file.
"""

from __future__ import annotations

import abc
import collections.abc
import copy as _copy
import inspect
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gammapipe.utils.errors import GammapipeError

if TYPE_CHECKING:
    import astropy.units as u

__all__ = ["Dataset", "Datasets", "DatasetNameError", "DatasetNotFoundError"]

log = logging.getLogger(__name__)

# classes that can appear in a datasets YAML index (name in gammapipe.datasets)
_KNOWN_TYPES = ("MapDataset", "MapDatasetOnOff", "SpectrumDataset", "SpectrumDatasetOnOff",
                "FluxPointsDataset")


class DatasetNameError(GammapipeError, ValueError):
    """Two datasets of a `Datasets` collection have the same name."""


class DatasetNotFoundError(GammapipeError, KeyError):
    """No dataset of that name in a `Datasets` collection."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


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

    # ------------------------------------------------------------------ YAML index entry
    def to_dict(self) -> dict:
        """Entry of a datasets YAML index: ``name``, ``type`` (the class tag) and
        ``filename`` (``<name>.fits``, spaces replaced by underscores)."""
        filename = f"{self.name.replace(' ', '_')}.fits"
        return {"name": self.name, "type": self.tag, "filename": filename}

    @classmethod
    def from_dict(cls, data: dict, path=None, lazy: bool = False, cache: bool = True):
        """Dataset of a datasets YAML index entry (file relative to ``path``)."""
        filename = Path(data["filename"])
        if path is not None and not filename.is_absolute():
            filename = Path(path) / filename
        return cls.read(filename, name=data.get("name"), lazy=lazy, cache=cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _dataset_class(tag: str):
    """Dataset class whose ``tag`` is ``tag`` (searched among all `Dataset` subclasses)."""
    import gammapipe.datasets as package

    for name in _KNOWN_TYPES:
        try:
            getattr(package, name)
        except (AttributeError, ImportError):
            continue
    todo, seen = [Dataset], set()
    while todo:
        klass = todo.pop()
        if klass in seen:
            continue
        seen.add(klass)
        if klass.__dict__.get("tag") == tag:
            return klass
        todo.extend(klass.__subclasses__())
    raise GammapipeError(f"datasets YAML: unknown dataset type {tag!r}")


def _table_from_rows(rows: list[dict]):
    """`~astropy.table.Table` from a list of dicts (Quantity values become unit columns)."""
    import astropy.units as u
    from astropy.table import Table

    table = Table()
    if not rows:
        return table
    for key in rows[0]:
        values = [row.get(key) for row in rows]
        if all(isinstance(v, u.Quantity) for v in values):
            unit = values[0].unit
            table[key] = u.Quantity([v.to_value(unit) for v in values], unit)
        elif all(isinstance(v, str) for v in values):
            table[key] = values
        else:
            table[key] = np.array([np.nan if v is None else v for v in values])
    return table


def _energy_edges(dataset):
    """Reco-energy edges of a binned dataset, None for datasets without counts."""
    if getattr(dataset, "counts", None) is not None:
        return dataset.counts.geom.axes["energy"].edges
    geom = getattr(dataset, "_geom", None)
    return None if geom is None else geom.axes["energy"].edges


def _index_yaml(entries: list[dict]) -> str:
    """YAML text of a datasets index: ``datasets``, ``metadata`` (creator, UTC date,
    origin) and ``checksum``, the MD5 hex digest of the YAML text above it (the layout the
    reference tool writes and verifies)."""
    import datetime

    from gammapipe.modeling.models.collections import _creator
    from gammapipe.modeling.models.io import to_yaml, with_checksum

    data = {
        "datasets": entries,
        "metadata": {
            "creator": _creator(),
            "date": datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(),
            "origin": None,
        },
    }
    return with_checksum(to_yaml(data))


def _verify_checksum(path, data: dict) -> None:
    """Warn when the ``checksum`` of a datasets index does not match its content."""
    from gammapipe.modeling.models.io import pop_and_verify_checksum

    pop_and_verify_checksum(data, str(path))


class Datasets(collections.abc.MutableSequence):
    """Ordered list of datasets with unique names.

    Datasets are accessed by position, by name or by object; ``datasets[1:3]`` gives a new
    `Datasets`. The joint statistic is the sum of the datasets' statistics (priors are
    added by `~gammapipe.modeling.Fit`, not here). `models` collects the models of all
    datasets (each once) and, when set, assigns the models to every dataset (each dataset
    keeps those whose ``datasets_names`` include its name).

    Parameters
    ----------
    datasets : `Dataset`, iterable of `Dataset` or `Datasets`, optional
        Datasets (names must be unique).
    """

    def __init__(self, datasets: Dataset | Iterable[Dataset] | None = None):
        if datasets is None:
            datasets = []
        elif isinstance(datasets, Datasets):
            datasets = list(datasets._datasets)
        elif isinstance(datasets, Dataset):
            datasets = [datasets]
        elif not isinstance(datasets, Iterable):
            raise TypeError(
                "Datasets: argument 'datasets' must be a Dataset or a list of datasets, "
                f"got {type(datasets).__name__}"
            )
        self._datasets: list[Dataset] = []
        for d in datasets:
            self.append(d)

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self._datasets)

    def __iter__(self):
        return iter(self._datasets)

    def _index(self, key) -> int:
        if isinstance(key, bool):
            raise TypeError("Datasets: invalid key type bool")
        if isinstance(key, int | np.integer):
            if not -len(self) <= key < len(self):
                raise IndexError(f"Datasets: index {key} out of range ({len(self)} datasets)")
            return int(key) % len(self)
        if isinstance(key, str):
            for i, d in enumerate(self._datasets):
                if d.name == key:
                    return i
            raise DatasetNotFoundError(
                f"Datasets: no dataset named {key!r} (names: {self.names})"
            )
        if isinstance(key, Dataset):
            for i, d in enumerate(self._datasets):
                if d is key:
                    return i
            raise DatasetNotFoundError(f"Datasets: dataset {key.name!r} is not in the list")
        raise TypeError(f"Datasets: invalid key type {type(key).__name__}")

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.__class__(self._datasets[key])
        return self._datasets[self._index(key)]

    def __setitem__(self, key, dataset) -> None:
        if isinstance(key, slice):
            raise TypeError("Datasets: slice assignment is not supported")
        idx = self._index(key)
        self._check(dataset, ignore=idx)
        self._datasets[idx] = dataset

    def __delitem__(self, key) -> None:
        if isinstance(key, slice):
            del self._datasets[key]
            return
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
                raise DatasetNameError(
                    f"Datasets: duplicate dataset name {dataset.name!r}, names must be "
                    f"unique (names: {self.names})"
                )

    def insert(self, idx: int, dataset: Dataset) -> None:
        """Insert a dataset at position ``idx`` (its name must not be used yet)."""
        self._check(dataset)
        self._datasets.insert(idx, dataset)

    def index(self, key, *args) -> int:
        """Position of a dataset (by name, position or object)."""
        return self._index(key)

    @property
    def names(self) -> list[str]:
        """Dataset names."""
        return [d.name for d in self._datasets]

    # ------------------------------------------------------------------ properties
    @property
    def is_all_same_type(self) -> bool:
        """Whether all datasets have the same type."""
        return len({type(d) for d in self._datasets}) <= 1

    @property
    def is_all_same_shape(self) -> bool:
        """Whether all datasets have the same data shape."""
        return len({tuple(d.data_shape) for d in self._datasets}) <= 1

    @property
    def is_all_same_energy_shape(self) -> bool:
        """Whether all datasets have the same number of reco-energy bins."""
        return len({tuple(d.data_shape)[0] for d in self._datasets}) <= 1

    @property
    def energy_axes_are_aligned(self) -> bool:
        """Whether the reco-energy axes of all datasets have the same edges."""
        edges = [_energy_edges(d) for d in self._datasets]
        edges = [e for e in edges if e is not None]
        if not edges:
            return True
        ref = edges[0]
        return all(e.shape == ref.shape and np.allclose(e.to_value(ref.unit), ref.value,
                                                         rtol=1e-6, atol=0) for e in edges)

    @property
    def contributes_to_stat(self) -> np.ndarray:
        """Per dataset: whether any bin enters the statistic (True without a mask)."""
        values = []
        for d in self._datasets:
            mask = d.mask
            values.append(True if mask is None else bool(np.any(mask.data)))
        return np.array(values, dtype=bool)

    @property
    def energy_ranges(self) -> tuple[u.Quantity, u.Quantity]:
        """Reco-energy range of each dataset's counts axis: ``(energy_min, energy_max)``,
        each a Quantity array with one value per dataset."""
        import astropy.units as u

        emin, emax = [], []
        for d in self._datasets:
            edges = _energy_edges(d)
            if edges is None:  # flux points: the range of their energy bins
                emin.append(np.nanmin(d.data.energy_min))
                emax.append(np.nanmax(d.data.energy_max))
                continue
            emin.append(edges[0])
            emax.append(edges[-1])
        if not emin:
            return u.Quantity([], "TeV"), u.Quantity([], "TeV")
        return u.Quantity(emin), u.Quantity(emax)

    @property
    def meta_table(self):
        """Meta tables of the datasets stacked, with ``NAME`` and ``TYPE`` columns first."""
        from astropy.table import Table, vstack

        tables = [d.meta_table for d in self._datasets if getattr(d, "meta_table", None)
                  is not None]
        if len(tables) == len(self._datasets) and tables:
            table = vstack([Table(t) for t in tables], metadata_conflicts="silent").copy()
        else:
            table = Table()
        table.add_column([d.tag for d in self._datasets], index=0, name="TYPE")
        table.add_column(self.names, index=0, name="NAME")
        return table

    @property
    def gti(self):
        """Union of the datasets' GTIs (None when no dataset has one)."""
        from gammapipe.data.gti import GTI

        gtis = [d.gti for d in self._datasets if getattr(d, "gti", None) is not None
                and len(d.gti) > 0]
        if not gtis:
            return None
        return GTI.from_stack(gtis).union()

    # ------------------------------------------------------------------ statistic
    def stat_sum(self) -> float:
        """Joint statistic: sum of the datasets' ``stat_sum()`` (no priors)."""
        total = 0.0
        for d in self._datasets:
            total += float(d.stat_sum())
        return total

    def _stat_sum_and_gradient(self, parameters) -> tuple[float, np.ndarray]:
        pars = list(parameters)
        stat, grad = 0.0, np.zeros(len(pars))
        for d in self._datasets:
            s, g = d.stat_sum_and_gradient(pars)
            stat += float(s)
            grad += np.asarray(g, dtype=float)
        return stat, grad

    @property
    def stat_sum_and_gradient(self):
        """``stat_sum_and_gradient(parameters) -> (stat, d stat / d value)``: the sum of the
        datasets' own methods.

        Only available when every dataset provides one (otherwise accessing it raises
        `AttributeError`, so that `~gammapipe.modeling.Fit` falls back to numerical
        derivatives, exactly as for a plain list of the same datasets).
        """
        missing = [d.name for d in self._datasets if not hasattr(d, "stat_sum_and_gradient")]
        if missing or not self._datasets:
            raise AttributeError(
                f"stat_sum_and_gradient: datasets {missing} have no analytic gradient"
            )
        return self._stat_sum_and_gradient

    # ------------------------------------------------------------------ models
    @property
    def models(self):
        """Models of all datasets, each once (`~gammapipe.modeling.models.DatasetModels`).

        Setting assigns the models to every dataset; each dataset keeps the models whose
        ``datasets_names`` include its name (or are None).
        """
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

    @property
    def parameters(self):
        """Parameters of the models (each once), `~gammapipe.modeling.Parameters`."""
        return self.models.parameters

    def copy(self):
        """Deep copy (datasets and models; shared models stay shared)."""
        return _copy.deepcopy(self)

    # ------------------------------------------------------------------ selections
    def select_time(self, time_min, time_max, atol="1e-6 s"):
        """Datasets whose GTIs lie within ``[time_min - atol, time_max + atol]``.

        Parameters
        ----------
        time_min, time_max : `~astropy.time.Time`
            Time interval.
        atol : `~astropy.units.Quantity` or str
            Tolerance on the interval bounds.

        Returns
        -------
        datasets : `Datasets`
            The selected datasets (the same objects).
        """
        import astropy.units as u
        from astropy.time import Time

        atol = u.Quantity(atol)
        start = Time(time_min) - atol
        stop = Time(time_max) + atol
        selected = []
        for d in self._datasets:
            gti = getattr(d, "gti", None)
            if gti is None or len(gti) == 0:
                log.info("Datasets.select_time: dataset %r has no GTI, skipped", d.name)
                continue
            t_start = gti.time_start.min()
            t_stop = gti.time_stop.max()
            if t_start >= start and t_stop <= stop:
                selected.append(d)
        return self.__class__(selected)

    def slice_by_energy(self, energy_min=None, energy_max=None):
        """Datasets sliced in reco energy (datasets without a bin in the range are left
        out, with a log message).

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, optional
            Energy range (None: the edge of each dataset's axis).

        Returns
        -------
        datasets : `Datasets`
            Sliced datasets, keeping their names.
        """
        sliced = []
        for d in self._datasets:
            try:
                new = d.slice_by_energy(energy_min=energy_min, energy_max=energy_max,
                                        name=d.name)
            except ValueError:
                log.info("Datasets.slice_by_energy: dataset %r has no bin in [%s, %s]",
                         d.name, energy_min, energy_max)
                continue
            sliced.append(new)
        return self.__class__(sliced)

    def to_spectrum_datasets(self, region):
        """1D datasets extracted in ``region`` from each (map) dataset, same names."""
        return self.__class__([d.to_spectrum_dataset(region, name=d.name) for d in self])

    # ------------------------------------------------------------------ stacking
    def _check_stackable(self, what: str) -> None:
        if not self._datasets:
            raise GammapipeError(f"Datasets.{what}: no datasets")
        if not self.is_all_same_type:
            types = sorted({type(d).__name__ for d in self._datasets})
            raise GammapipeError(
                f"Datasets.{what}: cannot stack datasets of different types {types}"
            )

    def stack_reduce(self, name: str | None = None, nan_to_num: bool = True):
        """Stack all datasets into one: the first one masked (``to_masked``), then the
        others stacked onto it.

        Parameters
        ----------
        name : str, optional
            Name of the stacked dataset.
        nan_to_num : bool
            Replace NaN data by zero before stacking.

        Returns
        -------
        dataset : `Dataset`
            The stacked dataset (the inputs are not modified).
        """
        self._check_stackable("stack_reduce")
        stacked = self._datasets[0].to_masked(name=name, nan_to_num=nan_to_num)
        for d in self._datasets[1:]:
            stacked.stack(d, nan_to_num=nan_to_num)
        return stacked

    def info_table(self, cumulative: bool = False):
        """Table with one `info_dict` row per dataset.

        Parameters
        ----------
        cumulative : bool
            If True, row ``i`` describes the datasets ``0..i`` stacked (named "stacked").

        Returns
        -------
        table : `~astropy.table.Table`
        """
        if not self._datasets:
            return _table_from_rows([])
        if cumulative:
            self._check_stackable("info_table")
            stacked = self._datasets[0].to_masked(name="stacked")
            rows = [stacked.info_dict()]
            for d in self._datasets[1:]:
                stacked.stack(d)
                rows.append(stacked.info_dict())
        else:
            rows = [d.info_dict() for d in self._datasets]
        return _table_from_rows(rows)

    # ------------------------------------------------------------------ I/O
    def write(self, filename, filename_models=None, overwrite: bool = False,
              write_covariance: bool = True, checksum: bool = False) -> None:
        """Write the datasets: the YAML index ``filename``, each dataset's file next to it
        (name from its ``to_dict()``) and, optionally, the models YAML.

        Parameters
        ----------
        filename : str or `~pathlib.Path`
            YAML index file.
        filename_models : str or `~pathlib.Path`, optional
            Models YAML file (with ``<stem>_covariance.dat`` when ``write_covariance``).
        overwrite : bool
            Replace existing files.
        write_covariance : bool
            Write the models' covariance file.
        checksum : bool
            Add FITS checksums to the dataset files.
        """
        from gammapipe.modeling.models.io import write_yaml
        from gammapipe.utils.fits import make_path

        path = make_path(filename)
        if path.exists() and not overwrite:
            raise FileExistsError(f"Datasets.write: {path} exists; use overwrite=True")
        entries = []
        for d in self._datasets:
            entry = d.to_dict()
            target = path.parent / entry["filename"]
            if checksum:
                d.write(target, overwrite=overwrite, checksum=True)
            else:
                d.write(target, overwrite=overwrite)
            entries.append(entry)
        write_yaml(_index_yaml(entries), path, overwrite=overwrite)
        if filename_models:
            self.models.write(filename_models, overwrite=overwrite,
                              write_covariance=write_covariance)

    @classmethod
    def read(cls, filename, filename_models=None, lazy: bool = True, cache: bool = True,
             checksum: bool = False):
        """Read datasets written by `write`.

        Parameters
        ----------
        filename : str or `~pathlib.Path`
            YAML index file (dataset files are relative to its folder).
        filename_models : str or `~pathlib.Path`, optional
            Models YAML file, assigned to the datasets.
        lazy, cache : bool
            Passed to the datasets' readers that support them.

        Returns
        -------
        datasets : `Datasets`
        """
        from gammapipe.modeling.models.io import read_yaml
        from gammapipe.utils.errors import FITSFormatError
        from gammapipe.utils.fits import make_path

        path = make_path(filename)
        data = read_yaml(path)
        _verify_checksum(path, data)
        entries = data.get("datasets")
        if not isinstance(entries, list):
            raise FITSFormatError(f"{path}: no 'datasets' list in the datasets YAML")
        datasets = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "type" not in entry or "filename" not in entry:
                raise FITSFormatError(
                    f"{path}: datasets[{i}] needs 'type' and 'filename' keys, got {entry!r}"
                )
            entry = dict(entry)
            file = Path(entry["filename"])
            if not file.is_absolute():
                entry["filename"] = str(path.parent / file)
            klass = _dataset_class(entry["type"])
            accepted = inspect.signature(klass.from_dict).parameters
            kwargs = {k: v for k, v in (("lazy", lazy), ("cache", cache)) if k in accepted}
            datasets.append(klass.from_dict(entry, **kwargs))
        out = cls(datasets)
        if filename_models:
            from gammapipe.modeling.models import Models

            out.models = Models.read(filename_models)
        return out

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        lines = [type(self).__name__, "--------", ""]
        for i, d in enumerate(self._datasets):
            instrument = ""
            meta = getattr(d, "meta_table", None)
            if meta is not None and "TELESCOP" in getattr(meta, "colnames", []):
                values = {str(v) for v in meta["TELESCOP"]}
                instrument = values.pop() if len(values) == 1 else ", ".join(sorted(values))
            names = "" if not d.models else d.models.names
            lines += [
                f"Dataset {i}: ",
                "",
                f"  Type       : {d.tag}",
                f"  Name       : {d.name}",
                f"  Instrument : {instrument}",
                f"  Models     : {names}",
                "",
            ]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"Datasets({self.names})"
