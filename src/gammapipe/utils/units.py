"""Unit handling at the API boundary."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .errors import UnitError

__all__ = ["to_quantity", "standardise_unit"]


def to_quantity(value, unit: str | u.UnitBase, name: str) -> u.Quantity:
    """Convert ``value`` to a Quantity in ``unit``, with an error that names the argument.

    Strings such as ``"2 deg"`` are parsed. Plain numbers are taken to be in ``unit``.
    """
    try:
        if isinstance(value, str):
            value = u.Quantity(value)
        if isinstance(value, u.Quantity):
            return value.to(unit)
        return u.Quantity(np.asarray(value, dtype=float), unit)
    except (u.UnitConversionError, u.UnitsError, TypeError, ValueError) as exc:
        raise UnitError(f"argument {name!r}: cannot convert {value!r} to {unit} ({exc})") from exc


def standardise_unit(unit) -> u.UnitBase:
    """Return a unit with the conventional IACT spellings (e.g. ``cm-2 s-1 TeV-1``)."""
    return u.Unit(unit)
