"""YAML serialisation of models: safe loading only, atomic writing.

Loading uses ``yaml.safe_load`` exclusively: YAML tags that would construct Python
objects (``!!python/object`` ...) are rejected, so reading a model file never runs code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...utils.fits import atomic_write, make_path

__all__ = ["to_yaml", "from_yaml", "read_yaml", "write_yaml", "sanitize"]


def sanitize(data: Any) -> Any:
    """Convert numpy scalars/arrays, Paths, Quantities and tuples to plain YAML types."""
    if isinstance(data, dict):
        return {str(key): sanitize(val) for key, val in data.items()}
    if isinstance(data, list | tuple):
        return [sanitize(val) for val in data]
    if isinstance(data, np.ndarray):
        return [sanitize(val) for val in data.tolist()]
    if isinstance(data, bool | np.bool_):
        return bool(data)
    if isinstance(data, int | np.integer):
        return int(data)
    if isinstance(data, float | np.floating):
        return float(data)
    if isinstance(data, Path):
        return str(data)
    if data is None or isinstance(data, str):
        return data
    if hasattr(data, "unit") and hasattr(data, "value"):  # astropy Quantity
        return f"{data.value} {data.unit}"
    return str(data)


def to_yaml(data: dict[str, Any]) -> str:
    """YAML text of a dict (key order kept, 4-space indent, block style)."""
    import yaml

    return yaml.safe_dump(
        sanitize(data), sort_keys=False, indent=4, width=80, default_flow_style=False,
        allow_unicode=True,
    )


def with_checksum(text: str) -> str:
    """Append the ``checksum`` line (MD5 hex digest of the YAML text above it).

    This is the layout the reference tool writes and verifies for models and datasets files.
    """
    import hashlib

    return text + f"checksum: {hashlib.md5(text.encode()).hexdigest()}\n"


def pop_and_verify_checksum(data: dict[str, Any], where: str) -> None:
    """Remove ``checksum`` from parsed YAML and warn if it does not match the content."""
    import hashlib
    import warnings

    expected = data.pop("checksum", None)
    if expected is None:
        return
    if hashlib.md5(to_yaml(data).encode()).hexdigest() != str(expected):
        warnings.warn(
            f"{where}: checksum verification failed (the file was modified after it was "
            "written)", UserWarning, stacklevel=3,
        )


def from_yaml(text: str, where: str = "YAML") -> dict[str, Any]:
    """Parse YAML text with ``yaml.safe_load`` into a dict.

    Raises
    ------
    ValueError
        Invalid YAML, unsafe tags, or a top level that is not a mapping.
    """
    import yaml

    if not isinstance(text, str):
        raise TypeError(f"{where}: expected YAML text (str), got {type(text).__name__}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: invalid or unsafe YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(
            f"{where}: expected a mapping at the top level, got {type(data).__name__}"
        )
    return data


def read_yaml(path) -> dict[str, Any]:
    """Read a YAML file safely (see `from_yaml`)."""
    path = make_path(path)
    if not path.is_file():
        from ...utils.errors import MissingFileError

        raise MissingFileError(f"YAML file not found: {path}")
    return from_yaml(path.read_text(), where=str(path))


def write_yaml(text: str, path, overwrite: bool = False) -> Path:
    """Write YAML text atomically (temporary file + rename)."""
    return atomic_write(lambda tmp: Path(tmp).write_text(text), path, overwrite=overwrite)
