"""Import hygiene: subpackages import without the heavy optional modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "iminuit", "scipy.optimize", "dask", "gammapy")
SUBPACKAGES = ["utils", "stats", "maps", "irf", "data", "modeling", "datasets", "makers",
               "estimators", "analysis"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_import_is_light(name):
    code = (
        f"import sys, importlib; importlib.import_module('gammapipe.{name}');"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [m for m in out.stdout.strip().split(",") if m]
    assert loaded == [], f"gammapipe.{name} imports {loaded} at import time"


def test_lazy_top_level_attribute():
    import gammapipe

    assert gammapipe.maps.__name__ == "gammapipe.maps"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gammapipe.nope  # noqa: B018
