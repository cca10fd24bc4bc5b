"""A list of observations, indexable by position or by observation ID string."""

from __future__ import annotations

import collections.abc
import logging
from collections.abc import Iterable, Iterator

import numpy as np

from .observation import Observation

__all__ = ["Observations", "Observation"]

log = logging.getLogger(__name__)


class Observations(collections.abc.MutableSequence):
    """Container of `Observation` objects.

    Index with an int (position), a str (observation ID), a slice or a list of those.
    """

    def __init__(self, observations: Iterable[Observation] | None = None):
        self._observations: list[Observation] = []
        for obs in observations or []:
            self.append(obs)

    # ------------------------------------------------------------------ sequence protocol
    def _index(self, key) -> int:
        if isinstance(key, str):
            ids = self.ids
            if key not in ids:
                raise KeyError(f"observation ID {key!r} not in Observations (have {ids})")
            return ids.index(key)
        if isinstance(key, int | np.integer):
            return int(key)
        raise TypeError(f"invalid index type {type(key).__name__}: use int, str, slice or list")

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.__class__(self._observations[key])
        if isinstance(key, list | tuple | np.ndarray):
            return self.__class__([self._observations[self._index(k)] for k in key])
        return self._observations[self._index(key)]

    def __setitem__(self, key, obs: Observation) -> None:
        if not isinstance(obs, Observation):
            raise TypeError(f"Observations can only hold Observation, got {type(obs).__name__}")
        self._observations[self._index(key)] = obs

    def __delitem__(self, key) -> None:
        del self._observations[self._index(key)]

    def __len__(self) -> int:
        return len(self._observations)

    def __iter__(self) -> Iterator[Observation]:
        return iter(self._observations)

    def insert(self, index: int, obs: Observation) -> None:
        if not isinstance(obs, Observation):
            raise TypeError(f"Observations can only hold Observation, got {type(obs).__name__}")
        self._observations.insert(index, obs)

    @property
    def ids(self) -> list[str]:
        """Observation IDs as strings."""
        return [str(obs.obs_id) for obs in self._observations]

    def __str__(self) -> str:
        lines = ["Observations", f"Number of observations: {len(self)}"]
        lines += [str(obs) for obs in self._observations]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Observations(n={len(self)}, ids={self.ids})"

    # ------------------------------------------------------------------ operations
    def select_time(self, time_intervals) -> Observations:
        """Observations restricted to time intervals.

        Parameters
        ----------
        time_intervals : (Time, Time) or list of (Time, Time)
            One interval or a list; each observation is cut to each interval; parts without
            good time are dropped.
        """
        intervals = list(time_intervals)
        if len(intervals) == 2 and not isinstance(intervals[0], list | tuple):
            first = intervals[0]
            if getattr(first, "shape", None) == () or not hasattr(first, "__len__"):
                intervals = [tuple(intervals)]
        selected = []
        for interval in intervals:
            for obs in self._observations:
                gti = obs.gti.select_time(interval)
                if len(gti) == 0 or gti.time_sum.value <= 0:
                    continue
                events = obs.events
                if events is not None:
                    events = events.select_time(interval)
                selected.append(obs.copy(events=events, gti=gti))
        return self.__class__(selected)

    @classmethod
    def from_stack(cls, observations_list: Iterable[Observations]) -> Observations:
        """Concatenate several `Observations`; duplicated IDs raise `ValueError`."""
        result = cls()
        for observations in observations_list:
            for obs in observations:
                if str(obs.obs_id) in result.ids:
                    raise ValueError(f"from_stack: observation {obs.obs_id} appears twice")
                result.append(obs)
        return result

    def in_memory_generator(self) -> Iterator[Observation]:
        """Yield in-memory copies (all HDUs loaded) one observation at a time."""
        for obs in self._observations:
            yield obs.copy(in_memory=True)

    def group_by_label(self, labels) -> dict[str, Observations]:
        """Split into groups by one label per observation."""
        labels = list(labels)
        if len(labels) != len(self):
            raise ValueError(f"group_by_label: {len(labels)} labels for {len(self)} observations")
        groups: dict[str, Observations] = {}
        for label, obs in zip(labels, self._observations, strict=True):
            groups.setdefault(f"group_{label}", self.__class__()).append(obs)
        return groups
