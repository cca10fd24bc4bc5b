"""Lazy attribute loading for package indexes (keeps ``import gammapipe.<pkg>`` cheap)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for a package exporting names lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping
        Public name -> submodule (relative to the package) that defines it, or an absolute
        module path starting with ``gammapipe.`` for re-exported names.

    Examples
    --------
    In a package ``__init__.py``::

        __getattr__, __dir__, __all__ = lazy_exports(__name__, {"MapAxis": "axes"})
    """
    names = sorted(exports)
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if module.startswith("gammapipe.") else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names
