"""HDU index table (GADF ``HDU_INDEX``): where each HDU of each observation is stored."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..utils.errors import FITSFormatError, MissingFileError
from ..utils.fits import make_path, require_columns
from .metadata import clean_meta

__all__ = ["HDUIndexTable", "HDULocation", "HDU_TYPES", "HDU_CLASSES"]

log = logging.getLogger(__name__)

HDU_TYPES = ["events", "gti", "aeff", "edisp", "psf", "bkg", "rad_max", "pointing"]
HDU_CLASSES = [
    "events", "gti", "aeff_2d", "edisp_2d", "psf_table", "psf_3gauss", "psf_king",
    "bkg_2d", "bkg_3d", "rad_max_2d", "pointing",
]
REQUIRED_COLUMNS = ["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]


def read_index_table(filename, hdu) -> Table:
    """Read an index table HDU (fast reader; structural keywords dropped from ``meta``)."""
    from .file_cache import CachedFile, read_file_bytes

    path = make_path(filename)
    if not path.is_file():
        raise MissingFileError(f"index file not found: {path}")
    try:
        table = CachedFile(path, read_file_bytes(path)).table(hdu)
    except FITSFormatError as exc:
        message = str(exc)
        raise FITSFormatError(message if str(path) in message else f"{path}: {message}") from exc
    table.meta = clean_meta(table.meta)
    return table


def _clean_str(values) -> np.ndarray:
    """Strip whitespace of a string column (bytes decoded)."""
    out = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("ascii", errors="replace")
        out.append(str(value).strip())
    return np.array(out, dtype=object)


@dataclass(frozen=True)
class HDULocation:
    """Location of one HDU: the file (``base_dir / file_dir / file_name``) and the HDU name."""

    obs_id: int
    hdu_type: str
    hdu_class: str
    base_dir: Path
    file_dir: str
    file_name: str
    hdu_name: str

    def path(self, abs_path: bool = True) -> Path:
        """File path (absolute: resolved against the index's ``base_dir``)."""
        relative = Path(self.file_dir) / self.file_name
        path = make_path(relative)
        if not abs_path or path.is_absolute():
            return path
        return Path(os.path.normpath(Path(self.base_dir) / path))

    @property
    def filename(self) -> Path:
        """Absolute file path."""
        return self.path(abs_path=True)

    def __str__(self) -> str:
        return (f"HDULocation(obs_id={self.obs_id}, hdu_type={self.hdu_type!r}, "
                f"hdu_class={self.hdu_class!r}, file={self.path()}, hdu={self.hdu_name!r})")

    def get_hdu(self):
        """Read the HDU (data in memory)."""
        from ..utils.fits import read_hdu

        return read_hdu(self.path(), self.hdu_name)

    def load(self):
        """Load the HDU as the gammapipe object of its class (EventList, GTI or an IRF)."""
        from .loading import load_hdu

        return load_hdu(self)


class HDUIndexTable(Table):
    """HDU index table (one row per HDU of each observation).

    Columns ``OBS_ID``, ``HDU_TYPE``, ``HDU_CLASS``, ``FILE_DIR``, ``FILE_NAME``,
    ``HDU_NAME``; ``meta["BASE_DIR"]`` is the folder that relative ``FILE_DIR`` values are
    resolved against (the folder of the index file when read from disk).
    """

    @classmethod
    def read(cls, filename: str | os.PathLike, hdu: str | int | None = None, **kwargs):
        """Read an HDU index file; ``BASE_DIR`` is set to its folder."""
        filename = make_path(filename)
        table = read_index_table(filename, hdu if hdu is not None else 1)
        require_columns(table, REQUIRED_COLUMNS, where=f"{filename} [HDU index]")
        result = cls(table)
        result.meta["BASE_DIR"] = str(filename.parent.resolve())
        return result

    @property
    def base_dir(self) -> Path:
        """Base folder for relative file paths."""
        return make_path(self.meta.get("BASE_DIR", ""))

    def _lookup(self) -> dict:
        cache = getattr(self, "_lookup_cache", None)
        if cache is not None and cache[0] == len(self):
            return cache[1]
        obs_ids = np.asarray(self["OBS_ID"]).astype(np.int64)
        types = np.char.lower(_clean_str(self["HDU_TYPE"]).astype(str))
        classes = np.char.lower(_clean_str(self["HDU_CLASS"]).astype(str))
        index: dict = {}
        for row, (obs_id, hdu_type, hdu_class) in enumerate(
            zip(obs_ids.tolist(), types.tolist(), classes.tolist(), strict=True)
        ):
            index.setdefault(("type", obs_id, hdu_type), []).append(row)
            index.setdefault(("class", obs_id, hdu_class), []).append(row)
            index.setdefault(("obs", obs_id), []).append(row)
        self._lookup_cache = (len(self), index)
        return index

    def row_idx(self, obs_id: int, hdu_type: str | None = None,
                hdu_class: str | None = None) -> list[int]:
        """Row indices matching the observation and HDU type or class."""
        index = self._lookup()
        obs_id = int(obs_id)
        if hdu_type is not None and hdu_class is not None:
            rows_t = index.get(("type", obs_id, hdu_type.lower()), [])
            rows_c = set(index.get(("class", obs_id, hdu_class.lower()), []))
            return [r for r in rows_t if r in rows_c]
        if hdu_type is not None:
            if hdu_type.lower() not in HDU_TYPES:
                raise ValueError(f"invalid hdu_type {hdu_type!r}; valid: {HDU_TYPES}")
            return list(index.get(("type", obs_id, hdu_type.lower()), []))
        if hdu_class is not None:
            if hdu_class.lower() not in HDU_CLASSES:
                raise ValueError(f"invalid hdu_class {hdu_class!r}; valid: {HDU_CLASSES}")
            return list(index.get(("class", obs_id, hdu_class.lower()), []))
        return list(index.get(("obs", obs_id), []))

    def location_info(self, idx: int) -> HDULocation:
        """`HDULocation` of row ``idx``."""
        row = self[idx]
        return HDULocation(
            obs_id=int(row["OBS_ID"]),
            hdu_type=str(row["HDU_TYPE"]).strip().lower(),
            hdu_class=str(row["HDU_CLASS"]).strip().lower(),
            base_dir=self.base_dir,
            file_dir=str(row["FILE_DIR"]).strip(),
            file_name=str(row["FILE_NAME"]).strip(),
            hdu_name=str(row["HDU_NAME"]).strip(),
        )

    def hdu_location(self, obs_id: int, hdu_type: str | None = None,
                     hdu_class: str | None = None, warn_missing: bool = False):
        """Location of one HDU of an observation, or None if the index has no such HDU.

        Parameters
        ----------
        obs_id : int
            Observation ID.
        hdu_type : str, optional
            HDU type (``events``, ``gti``, ``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``).
        hdu_class : str, optional
            HDU class (``aeff_2d``, ``psf_table``, ...).
        warn_missing : bool
            Log a warning when nothing matches.
        """
        if hdu_type is None and hdu_class is None:
            raise ValueError("hdu_location: give hdu_type or hdu_class")
        rows = self.row_idx(obs_id, hdu_type=hdu_type, hdu_class=hdu_class)
        if not rows:
            if warn_missing:
                log.warning(f"No HDU found matching: OBS_ID = {obs_id}, HDU_TYPE = {hdu_type},"
                            f" HDU_CLASS = {hdu_class}")
            return None
        if len(rows) > 1:
            log.warning(f"Found multiple HDUs matching OBS_ID = {obs_id}, HDU_TYPE = {hdu_type},"
                        f" HDU_CLASS = {hdu_class}; using the first")
        return self.location_info(rows[0])

    @property
    def obs_id_unique(self) -> np.ndarray:
        """Sorted unique observation IDs."""
        return np.unique(np.asarray(self["OBS_ID"]))

    @property
    def hdu_type_unique(self) -> list[str]:
        """Sorted unique HDU types."""
        return sorted(set(np.char.lower(_clean_str(self["HDU_TYPE"]).astype(str)).tolist()))

    @property
    def hdu_class_unique(self) -> list[str]:
        """Sorted unique HDU classes."""
        return sorted(set(np.char.lower(_clean_str(self["HDU_CLASS"]).astype(str)).tolist()))

    def summary(self) -> str:
        """Text summary: number of rows and observations, counts per HDU type and class."""
        types = Counter(np.char.lower(_clean_str(self["HDU_TYPE"]).astype(str)).tolist())
        classes = Counter(np.char.lower(_clean_str(self["HDU_CLASS"]).astype(str)).tolist())
        lines = [
            "HDU index table:",
            f"BASE_DIR: {self.base_dir}",
            f"Rows: {len(self)}",
            f"OBS_ID: {len(self.obs_id_unique)} observations",
            "",
            "HDU_TYPE counts:",
            *(f"  {name}: {n}" for name, n in sorted(types.items())),
            "",
            "HDU_CLASS counts:",
            *(f"  {name}: {n}" for name, n in sorted(classes.items())),
        ]
        return "\n".join(lines)


def hdu_index_from_rows(rows: list[dict], base_dir: str | os.PathLike) -> HDUIndexTable:
    """Build an `HDUIndexTable` from dicts with the index columns."""
    if not rows:
        raise FITSFormatError("cannot build an HDU index without rows")
    table = HDUIndexTable(rows=[[r[c] for c in REQUIRED_COLUMNS] for r in rows],
                          names=REQUIRED_COLUMNS)
    table.meta["BASE_DIR"] = str(base_dir)
    return table
