"""Base class of the makers: configuration in ``__init__``, data in ``run``."""

from __future__ import annotations

import abc
import html

import numpy as np

__all__ = ["Maker"]


class Maker(abc.ABC):
    """Abstract maker.

    A maker holds only its configuration (set in ``__init__``); every data product is
    passed to and returned by `run`, so one maker can be reused for many observations
    without hidden state.
    """

    tag: str = "Maker"

    @abc.abstractmethod
    def run(self, *args, **kwargs):
        """Apply the maker."""

    def _config(self) -> dict:
        return {key.lstrip("_"): value for key, value in vars(self).items()
                if not key.startswith("__")}

    def __str__(self) -> str:
        lines = [f"{type(self).__name__}", "-" * len(type(self).__name__), ""]
        for name, value in self._config().items():
            if isinstance(value, np.ndarray) and not hasattr(value, "unit"):
                value = f"array{value.shape}"
            elif hasattr(value, "geom") and hasattr(value, "data"):
                value = f"{type(value).__name__} {tuple(value.data.shape)}"
            lines.append(f"\t{name:<32}: {value}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items()
                         if not (hasattr(v, "geom") and hasattr(v, "data")))
        return f"{type(self).__name__}({args})"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"
