"""Shared pytest fixtures: location of the real DL3 data (``$GAMMAPIPE_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GAMMAPIPE_DATA", REPO.parent / "shared" / "data"))
REFERENCE = Path(os.environ.get("GAMMAPIPE_REFERENCE", REPO.parent / "shared" / "reference"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data not found: {path} (set GAMMAPIPE_DATA)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the test data (``$GAMMAPIPE_DATA``, default ``../shared/data``)."""
    return _require(DATA)


@pytest.fixture(scope="session")
def hess_dir() -> Path:
    """H.E.S.S. DL3 DR1 (HESS DL3 DR1, H.E.S.S. collaboration)."""
    return _require(DATA / "hess-dl3-dr1")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Reference numbers and DL4 files (``../shared/reference/public``)."""
    return _require(REFERENCE / "public")
