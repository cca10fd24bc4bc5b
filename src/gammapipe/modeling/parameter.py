"""Model parameters: `Parameter` and the `Parameters` container.

A `Parameter` holds its value as ``factor * scale``: optimisers work on the factor (of order
unity after `Parameter.autoscale`), users on the value (in ``unit``). Linking a parameter
between models means sharing the same `Parameter` object.

Bounds policy
-------------
``min`` / ``max`` are given in ``unit`` (NaN means unbounded). Setting ``value`` (or
``quantity``) outside ``[min, max]`` raises a `ValueError` naming the parameter and the
bounds, so that a wrong starting value is reported where it is made. Changing ``min`` /
``max`` themselves is allowed at any time (bounds are often edited one after the other); a
value left outside new bounds is reported by `Parameters.check_limits`, which `Fit` calls
before optimising. The optimiser path (``factor``) is not checked, because the optimiser
enforces the bounds itself (in factor space) and rounding may land a hair outside.
"""

from __future__ import annotations

from ._parameter_base import Parameter
from ._parameters import Parameters

__all__ = ["Parameter", "Parameters"]
