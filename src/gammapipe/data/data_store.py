"""Data store: access to the observations of a GADF DL3 data set through its index files."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..utils.errors import GammapipeError, MissingFileError, MissingHDUError
from ..utils.fits import make_path
from .hdu_index import HDUIndexTable, hdu_index_from_rows
from .loading import relative_location, scan_file_hdus
from .metadata import clean_meta, header_to_meta
from .obs_table import ObservationTable
from .observation import HDU_NAMES, Observation
from .observations import Observations

__all__ = ["DataStore", "REQUIRED_IRFS"]

REQUIRED_IRFS = {
    "full-enclosure": ("aeff", "edisp", "psf", "bkg"),
    "point-like": ("aeff", "edisp"),
    "all-optional": (),
}
_DEFAULT_HDU_INDEX = ("hdu-index.fits.gz", "hdu-index.fits")
_DEFAULT_OBS_INDEX = ("obs-index.fits.gz", "obs-index.fits")
# Observation index columns copied from the EVENTS header by `from_events_files`.
_OBS_COLUMNS = ("RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "ONTIME", "LIVETIME", "DEADC",
                "TSTART", "TSTOP", "RA_OBJ", "DEC_OBJ")
_OBS_META = ("MJDREFI", "MJDREFF", "TIMESYS", "TIMEUNIT", "TIMEREF", "GEOLON", "GEOLAT",
             "ALTITUDE", "TELESCOP")


def _required_hdus(required_irf) -> tuple[str, ...]:
    if isinstance(required_irf, str):
        if required_irf not in REQUIRED_IRFS:
            raise ValueError(f"invalid required_irf {required_irf!r}; valid: "
                             f"{list(REQUIRED_IRFS)} or a list of {list(HDU_NAMES[2:])}")
        return REQUIRED_IRFS[required_irf]
    names = tuple(required_irf)
    bad = [n for n in names if n not in HDU_NAMES[2:]]
    if bad:
        raise ValueError(f"invalid IRF name(s) {bad} in required_irf; valid: {list(HDU_NAMES[2:])}")
    return names


def _find_index(base_dir: Path, filename, defaults: tuple[str, ...], what: str) -> Path:
    if filename is not None:
        path = make_path(filename)
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise MissingFileError(f"{what} file not found: {path}")
        return path
    for name in defaults:
        if (base_dir / name).is_file():
            return base_dir / name
    raise MissingFileError(f"{what} file not found in {base_dir} (tried: {', '.join(defaults)})")


class DataStore:
    """IACT DL3 data store (GADF observation and HDU index tables).

    Parameters
    ----------
    hdu_table : `HDUIndexTable`
        HDU index table.
    obs_table : `ObservationTable`, optional
        Observation index table.
    """

    DEFAULT_HDU_TABLE = "hdu-index.fits.gz"
    DEFAULT_OBS_TABLE = "obs-index.fits.gz"

    def __init__(self, hdu_table: HDUIndexTable | None = None,
                 obs_table: ObservationTable | None = None):
        if hdu_table is not None and not isinstance(hdu_table, HDUIndexTable):
            hdu_table = HDUIndexTable(hdu_table)
        if obs_table is not None and not isinstance(obs_table, ObservationTable):
            obs_table = ObservationTable(obs_table)
        self.hdu_table = hdu_table
        self.obs_table = obs_table

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dir(cls, base_dir, hdu_table_filename=None, obs_table_filename=None) -> DataStore:
        """Data store from a folder with ``hdu-index.fits[.gz]`` and ``obs-index.fits[.gz]``.

        ``$VARS`` and ``~`` are expanded; explicit index file names are relative to
        ``base_dir`` unless absolute. The HDU index's ``FILE_DIR`` entries are resolved
        against the folder of the HDU index file.

        Raises
        ------
        MissingFileError
            The folder or an index file does not exist (the message lists the names tried).
        """
        base_dir = make_path(base_dir)
        if not base_dir.is_dir():
            raise MissingFileError(f"data store folder not found: {base_dir}")
        hdu_path = _find_index(base_dir, hdu_table_filename, _DEFAULT_HDU_INDEX, "HDU index")
        obs_path = _find_index(base_dir, obs_table_filename, _DEFAULT_OBS_INDEX,
                               "observation index")
        hdu_table = HDUIndexTable.read(hdu_path)
        obs_table = ObservationTable.read(obs_path)
        return cls(hdu_table=hdu_table, obs_table=obs_table)

    @classmethod
    def from_file(cls, filename, hdu_hdu: str = "HDU_INDEX", hdu_obs: str = "OBS_INDEX"):
        """Data store from one file holding both index tables."""
        filename = make_path(filename)
        hdu_table = HDUIndexTable.read(filename, hdu=hdu_hdu)
        try:
            obs_table = ObservationTable.read(filename, hdu=hdu_obs)
        except MissingHDUError:
            obs_table = None
        return cls(hdu_table=hdu_table, obs_table=obs_table)

    @classmethod
    def from_events_files(cls, events_paths: Iterable, irfs_paths: Iterable | None = None):
        """Data store built from EVENTS files.

        The observation index is filled from the EVENTS headers (``OBS_ID``, pointing, times);
        the HDU index lists the events and GTI HDUs and the IRF HDUs found by their GADF
        ``HDUCLAS`` keywords, first in the events file itself, else in the matching entry of
        ``irfs_paths`` (one IRF file for all, or one per events file).
        """
        events_paths = [make_path(p) for p in events_paths]
        if not events_paths:
            raise ValueError("from_events_files: no events files given")
        irfs_paths = [make_path(p) for p in irfs_paths] if irfs_paths else []
        if len(irfs_paths) not in (0, 1, len(events_paths)):
            raise ValueError(f"from_events_files: {len(irfs_paths)} IRF files for "
                             f"{len(events_paths)} events files (give 1 or one per events file)")
        base_dir = Path(os.path.commonpath([str(p.resolve().parent) for p in
                                            events_paths + irfs_paths]))
        hdu_rows, obs_rows, obs_meta = [], [], {}
        for idx, path in enumerate(events_paths):
            hdus = scan_file_hdus(path)
            events = [h for h in hdus if h[0] == "events"]
            if not events:
                raise MissingHDUError(f"{path}: no EVENTS HDU (HDUCLAS1 = 'EVENTS')")
            header = header_to_meta(events[0][3])
            if "OBS_ID" not in header:
                raise MissingHDUError(f"{path} [HDU {events[0][2]}]: no OBS_ID keyword")
            obs_id = int(header["OBS_ID"])
            found = {h[0] for h in hdus}
            entries = [(path, h) for h in hdus]
            if irfs_paths:
                irf_path = irfs_paths[0] if len(irfs_paths) == 1 else irfs_paths[idx]
                entries += [(irf_path, h) for h in scan_file_hdus(irf_path) if h[0] not in found]
            seen = set()
            for file_path, (hdu_type, hdu_class, hdu_name, _) in entries:
                if hdu_type in seen:
                    continue
                seen.add(hdu_type)
                file_dir, file_name = relative_location(file_path, base_dir)
                hdu_rows.append({"OBS_ID": obs_id, "HDU_TYPE": hdu_type, "HDU_CLASS": hdu_class,
                                 "FILE_DIR": file_dir, "FILE_NAME": file_name,
                                 "HDU_NAME": hdu_name})
            row = {"OBS_ID": obs_id}
            for key in _OBS_COLUMNS:
                try:
                    row[key] = float(header[key]) if key in header else np.nan
                except (TypeError, ValueError):
                    row[key] = np.nan
            obs_rows.append(row)
            if not obs_meta:
                obs_meta = {k: header[k] for k in _OBS_META if k in header}
        obs_table = ObservationTable(rows=[[r[c] for c in ("OBS_ID", *_OBS_COLUMNS)]
                                           for r in obs_rows], names=("OBS_ID", *_OBS_COLUMNS))
        for name in ("RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "RA_OBJ", "DEC_OBJ"):
            obs_table[name].unit = "deg"
        for name in ("ONTIME", "LIVETIME", "TSTART", "TSTOP"):
            obs_table[name].unit = "s"
        obs_table.meta.update(obs_meta)
        return cls(hdu_table=hdu_index_from_rows(hdu_rows, base_dir), obs_table=obs_table)

    # ------------------------------------------------------------------ info
    @property
    def obs_ids(self) -> list[int]:
        """Observation IDs (from the observation table, else the HDU index)."""
        if self.obs_table is not None:
            return [int(v) for v in np.asarray(self.obs_table["OBS_ID"]).tolist()]
        return [int(v) for v in self.hdu_table.obs_id_unique.tolist()]

    def info(self, show: bool = True) -> str:
        """Summary text (number of observations, HDU type and class counts).

        With ``show=True`` the text is also written to standard output.
        """
        lines = ["Data store:"]
        if self.hdu_table is not None:
            lines.append(self.hdu_table.summary())
        lines.append("")
        if self.obs_table is not None:
            lines.append(self.obs_table.summary())
        text = "\n".join(lines)
        if show:
            sys.stdout.write(text + "\n")
        return text

    def __str__(self) -> str:
        return self.info(show=False)

    # ------------------------------------------------------------------ observations
    def obs(self, obs_id, required_irf="full-enclosure", require_events: bool = True):
        """One observation, with its HDUs loaded lazily.

        Raises
        ------
        MissingHDUError
            ``obs_id`` is not in the HDU index, or a required HDU (events, gti, required
            IRFs) is missing from it (message names the obs_id and HDU type).
        MissingFileError
            The file of a required HDU does not exist.
        """
        obs_id = int(obs_id)
        required = set(_required_hdus(required_irf))
        if require_events:
            required |= {"events", "gti"}
        if not self.hdu_table.row_idx(obs_id):
            raise MissingHDUError(f"OBS_ID {obs_id} not in the HDU index table "
                                  f"(base dir {self.hdu_table.base_dir})")
        kwargs = {}
        for hdu_type in HDU_NAMES:
            location = self.hdu_table.hdu_location(obs_id, hdu_type=hdu_type)
            if location is None:
                if hdu_type in required:
                    raise MissingHDUError(f"obs {obs_id}: required HDU type {hdu_type!r} not "
                                          "in the HDU index table")
                continue
            if hdu_type in required and not location.path().is_file():
                raise MissingFileError(f"obs {obs_id}: file of required HDU type {hdu_type!r} "
                                       f"not found: {location.path()}")
            kwargs[hdu_type] = location
        return Observation(obs_id=obs_id, **kwargs)

    def get_observations(self, obs_id=None, skip_missing: bool = False,
                         required_irf="full-enclosure", require_events: bool = True):
        """Observations for a list of IDs (default: all of the observation table).

        Parameters
        ----------
        obs_id : list of int, optional
            Observation IDs (a table column is fine).
        skip_missing : bool
            Skip observations that are missing or lack a required HDU, with a warning naming
            them, instead of raising.
        required_irf : str or list of str
            ``"full-enclosure"`` (aeff, edisp, psf, bkg), ``"point-like"`` (aeff, edisp;
            rad_max loaded when present), ``"all-optional"`` or a list of IRF names.
        require_events : bool
            Require events and GTI HDUs.
        """
        ids = self.obs_ids if obs_id is None else [int(v) for v in np.atleast_1d(obs_id)]
        observations = Observations()
        for one in ids:
            try:
                observations.append(self.obs(one, required_irf=required_irf,
                                             require_events=require_events))
            except (MissingHDUError, MissingFileError) as exc:
                if not skip_missing:
                    raise
                warnings.warn(f"Skipping observation {one}: {exc}")
        return observations

    def copy_obs(self, obs_id, outdir, hdu_class=None, verbose: bool = False,
                 overwrite: bool = False) -> None:
        """Copy the files of some observations and write index tables for them to ``outdir``."""
        outdir = make_path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        ids = [int(v) for v in np.atleast_1d(obs_id)]
        rows = [r for one in ids for r in self.hdu_table.row_idx(one)]
        if not rows:
            raise MissingHDUError(f"copy_obs: none of the OBS_IDs {ids} is in the HDU index")
        hdu_table = self.hdu_table[rows]
        if hdu_class is not None:
            classes = {c.lower() for c in np.atleast_1d(hdu_class)}
            keep = [str(c).strip().lower() in classes for c in hdu_table["HDU_CLASS"]]
            hdu_table = hdu_table[np.array(keep, dtype=bool)]
        copied = set()
        for idx in range(len(hdu_table)):
            location = hdu_table.location_info(idx)
            source = location.path()
            target = (outdir / location.path(abs_path=False)).resolve()
            if source in copied:
                continue
            copied.add(source)
            if target.exists() and not overwrite:
                raise FileExistsError(f"{target} exists; use overwrite=True")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        hdu_out = Table(hdu_table, copy=True)
        hdu_out.meta = clean_meta(hdu_out.meta)
        hdu_out.meta.pop("BASE_DIR", None)
        hdu_out.write(outdir / self.DEFAULT_HDU_TABLE, overwrite=overwrite)
        if self.obs_table is not None:
            present = [i for i in ids if i in set(self.obs_ids)]
            obs_out = Table(self.obs_table.select_obs_id(present), copy=True)
            obs_out.meta = clean_meta(obs_out.meta)
            obs_out.write(outdir / self.DEFAULT_OBS_TABLE, overwrite=overwrite)

    def check(self, checks="all") -> Iterator[dict]:
        """Check every HDU of the index: file exists, HDU present and readable.

        Yields one dict per problem with keys ``obs_id``, ``hdu_type``, ``file``, ``hdu``
        and ``message``; also flags observations of the observation table without HDUs.
        """
        from .loading import load_hdu

        for idx in range(len(self.hdu_table)):
            location = self.hdu_table.location_info(idx)
            problem = None
            if not location.path().is_file():
                problem = "file not found"
            else:
                try:
                    load_hdu(location)
                except (GammapipeError, OSError, ValueError, KeyError, ImportError) as exc:
                    problem = str(exc)
            if problem:
                yield {"obs_id": location.obs_id, "hdu_type": location.hdu_type,
                       "file": str(location.path()), "hdu": location.hdu_name,
                       "message": problem}
        if self.obs_table is not None:
            in_index = set(self.hdu_table.obs_id_unique.tolist())
            for one in self.obs_ids:
                if one not in in_index:
                    yield {"obs_id": one, "hdu_type": None, "file": None, "hdu": None,
                           "message": "observation in the observation table has no HDUs"}
