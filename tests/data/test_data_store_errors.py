"""Bad input for the DataStore: broken index files, missing files / HDUs, truncated files.

Broken copies of HESS DL3 DR1 files (H.E.S.S. collaboration) are written to tmp_path.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from gammapipe.data import DataStore
from gammapipe.utils.errors import (
    FITSFormatError,
    MissingFileError,
    MissingHDUError,
    UnitError,
)

HDUS = [("events", "events", "EVENTS"), ("gti", "gti", "GTI"), ("aeff", "aeff_2d", "AEFF"),
        ("edisp", "edisp_2d", "EDISP"), ("psf", "psf_table", "PSF"), ("bkg", "bkg_3d", "BKG")]


def _write_index(folder, entries, obs_ids):
    """entries: (obs_id, hdu_type, hdu_class, file_dir, file_name, hdu_name)."""
    hdu = Table(rows=entries, names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR",
                                     "FILE_NAME", "HDU_NAME"])
    hdu.write(folder / "hdu-index.fits.gz")
    obs = Table({"OBS_ID": obs_ids, "RA_PNT": [83.6] * len(obs_ids),
                 "DEC_PNT": [22.0] * len(obs_ids)})
    obs["RA_PNT"].unit = obs["DEC_PNT"].unit = "deg"
    obs.write(folder / "obs-index.fits.gz")


def _entries(obs_id, file_name, skip=(), hdu_names=None):
    hdu_names = hdu_names or {}
    return [(obs_id, t, c, "data", file_name, hdu_names.get(t, n))
            for t, c, n in HDUS if t not in skip]


@pytest.fixture()
def store_dir(tmp_path, hess_dir):
    (tmp_path / "data").mkdir()
    src = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    shutil.copyfile(src, tmp_path / "data" / "run_23523.fits.gz")
    return tmp_path


def test_missing_index_files(tmp_path):
    with pytest.raises(MissingFileError) as info:
        DataStore.from_dir(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "hdu-index.fits.gz" in message and "hdu-index.fits" in message
    with pytest.raises(MissingFileError, match="data store folder not found"):
        DataStore.from_dir(tmp_path / "nope")
    Table({"OBS_ID": [1], "HDU_TYPE": ["events"], "HDU_CLASS": ["events"], "FILE_DIR": ["."],
           "FILE_NAME": ["x.fits"], "HDU_NAME": ["EVENTS"]}).write(tmp_path / "hdu-index.fits")
    with pytest.raises(MissingFileError, match="observation index.*obs-index.fits.gz"):
        DataStore.from_dir(tmp_path)
    with pytest.raises(MissingFileError, match="other.fits"):
        DataStore.from_dir(tmp_path, hdu_table_filename="other.fits")


def test_index_missing_columns(tmp_path):
    Table({"OBS_ID": [1], "HDU_TYPE": ["events"]}).write(tmp_path / "hdu-index.fits.gz")
    Table({"OBS_ID": [1]}).write(tmp_path / "obs-index.fits.gz")
    with pytest.raises(FITSFormatError, match=r"hdu-index.fits.gz.*missing column.*FILE_DIR"):
        DataStore.from_dir(tmp_path)


def test_valid_copy_loads(store_dir):
    _write_index(store_dir, _entries(23523, "run_23523.fits.gz"), [23523])
    obs = DataStore.from_dir(store_dir).obs(23523)
    assert len(obs.events.table) == 7613
    assert obs.gti.time_sum.value == 1687.0


def test_index_points_to_missing_file(store_dir):
    entries = _entries(23523, "run_23523.fits.gz", skip=("psf",))
    entries.append((23523, "psf", "psf_table", "data", "missing_psf.fits", "PSF"))
    entries += _entries(23526, "run_23526.fits.gz")  # file absent entirely
    _write_index(store_dir, entries, [23523, 23526])
    store = DataStore.from_dir(store_dir)
    with pytest.raises(MissingFileError) as info:
        store.obs(23523)
    message = str(info.value)
    assert "obs 23523" in message and "'psf'" in message and "missing_psf.fits" in message
    # psf not required: the observation is created, the psf fails on access with context
    obs = store.obs(23523, required_irf=["aeff"])
    with pytest.raises(MissingFileError, match=r"obs 23523 HDU type 'psf'.*missing_psf.fits"):
        obs.psf  # noqa: B018
    with pytest.warns(UserWarning) as record:
        observations = store.get_observations(skip_missing=True)
    assert len(observations) == 0
    messages = " ".join(str(w.message) for w in record)
    assert "Skipping observation 23523" in messages and "Skipping observation 23526" in messages
    assert "run_23526.fits.gz" in messages
    problems = list(store.check())
    assert {(p["obs_id"], p["hdu_type"]) for p in problems} >= {(23523, "psf"),
                                                               (23526, "events")}


def test_index_points_to_missing_hdu(store_dir):
    entries = _entries(23523, "run_23523.fits.gz", hdu_names={"bkg": "BACKGROUND_NOPE"})
    _write_index(store_dir, entries, [23523])
    store = DataStore.from_dir(store_dir)
    obs = store.obs(23523)
    with pytest.raises(MissingHDUError) as info:
        obs.bkg  # noqa: B018
    message = str(info.value)
    assert "obs 23523" in message and "'bkg'" in message
    assert "run_23523.fits.gz" in message and "BACKGROUND_NOPE" in message
    assert "available" in message
    problems = list(store.check())
    assert [(p["obs_id"], p["hdu_type"], p["hdu"]) for p in problems] == [
        (23523, "bkg", "BACKGROUND_NOPE")]


def test_required_hdu_missing_from_index(store_dir):
    _write_index(store_dir, _entries(23523, "run_23523.fits.gz", skip=("edisp",)), [23523])
    store = DataStore.from_dir(store_dir)
    with pytest.raises(MissingHDUError, match=r"obs 23523: required HDU type 'edisp'"):
        store.get_observations([23523])
    with pytest.warns(UserWarning, match=r"Skipping observation 23523.*'edisp'"):
        assert len(store.get_observations([23523], skip_missing=True)) == 0
    # not required: loads, edisp is None
    obs = store.get_observations([23523], required_irf=["aeff", "psf"])[0]
    assert obs.edisp is None and "edisp" not in obs.available_irfs
    with pytest.raises(ValueError, match="invalid required_irf"):
        store.get_observations([23523], required_irf="everything")
    with pytest.raises(ValueError, match=r"invalid IRF name\(s\) \['nope'\]"):
        store.get_observations([23523], required_irf=["nope"])


def test_obs_id_not_in_index(store_dir):
    _write_index(store_dir, _entries(23523, "run_23523.fits.gz"), [23523])
    store = DataStore.from_dir(store_dir)
    with pytest.raises(MissingHDUError, match="OBS_ID 99999 not in the HDU index"):
        store.get_observations([23523, 99999])
    with pytest.warns(UserWarning, match="Skipping observation 99999"):
        observations = store.get_observations([23523, 99999], skip_missing=True)
    assert observations.ids == ["23523"]


def test_truncated_gzip(store_dir):
    path = store_dir / "data" / "run_23523.fits.gz"
    raw = path.read_bytes()
    (store_dir / "data" / "cut.fits.gz").write_bytes(raw[: len(raw) // 2])
    _write_index(store_dir, _entries(23523, "cut.fits.gz"), [23523])
    obs = DataStore.from_dir(store_dir).obs(23523)
    with pytest.raises(FITSFormatError) as info:
        obs.events  # noqa: B018
    message = str(info.value)
    assert "obs 23523" in message and "cut.fits.gz" in message and "gzip" in message


def test_truncated_plain_fits(store_dir):
    raw = fits.open(store_dir / "data" / "run_23523.fits.gz")
    plain = store_dir / "data" / "plain.fits"
    raw.writeto(plain)
    data = plain.read_bytes()
    plain.write_bytes(data[: len(data) - 5 * 2880])
    _write_index(store_dir, _entries(23523, "plain.fits"), [23523])
    obs = DataStore.from_dir(store_dir).obs(23523)
    with pytest.raises(FITSFormatError, match=r"obs 23523 HDU type 'events'.*plain.fits.*trunc"):
        obs.events  # noqa: B018


def test_not_a_fits_file(store_dir):
    (store_dir / "data" / "text.fits").write_text("this is not FITS\n" * 300)
    _write_index(store_dir, _entries(23523, "text.fits"), [23523])
    obs = DataStore.from_dir(store_dir).obs(23523)
    with pytest.raises(FITSFormatError, match=r"obs 23523.*text.fits"):
        obs.gti  # noqa: B018


def _events_file(path, drop=None, units=None):
    units = {"TIME": "s", "RA": "deg", "DEC": "deg", "ENERGY": "TeV", **(units or {})}
    cols = [fits.Column(name, "D", unit=units[name], array=np.ones(3))
            for name in ("TIME", "RA", "DEC", "ENERGY") if name != drop]
    events = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    events.header.update({"OBS_ID": 1, "MJDREFI": 51910, "MJDREFF": 0.0, "TSTART": 0.0,
                          "TSTOP": 10.0, "RA_PNT": 1.0, "DEC_PNT": 1.0})
    gti = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", unit="s", array=[0.0]),
         fits.Column("STOP", "D", unit="s", array=[10.0])], name="GTI")
    gti.header.update({"MJDREFI": 51910, "MJDREFF": 0.0})
    fits.HDUList([fits.PrimaryHDU(), events, gti]).writeto(path)


def test_events_missing_column_via_store(tmp_path):
    (tmp_path / "data").mkdir()
    _events_file(tmp_path / "data" / "ev.fits", drop="ENERGY")
    _write_index(tmp_path, [(1, "events", "events", "data", "ev.fits", "EVENTS"),
                            (1, "gti", "gti", "data", "ev.fits", "GTI")], [1])
    obs = DataStore.from_dir(tmp_path).obs(1, required_irf="all-optional")
    with pytest.raises(FITSFormatError) as info:
        obs.events  # noqa: B018
    message = str(info.value)
    assert "obs 1" in message and "ev.fits" in message and "EVENTS" in message
    assert "ENERGY" in message
    assert obs.gti.time_sum.value == 10.0


def test_events_bad_unit_via_store(tmp_path):
    (tmp_path / "data").mkdir()
    _events_file(tmp_path / "data" / "ev.fits", units={"DEC": "s"})
    _write_index(tmp_path, [(1, "events", "events", "data", "ev.fits", "EVENTS"),
                            (1, "gti", "gti", "data", "ev.fits", "GTI")], [1])
    obs = DataStore.from_dir(tmp_path).obs(1, required_irf="all-optional")
    with pytest.raises(UnitError, match=r"obs 1 HDU type 'events'.*ev.fits.*DEC.*unit s"):
        obs.events  # noqa: B018
    problems = list(obs.check())
    assert problems and "cannot load events" in problems[0]


def test_irf_class_mismatch(store_dir):
    pytest.importorskip("gammapipe.irf")
    entries = _entries(23523, "run_23523.fits.gz", hdu_names={"aeff": "EDISP"})
    _write_index(store_dir, entries, [23523])
    obs = DataStore.from_dir(store_dir).obs(23523)
    with pytest.raises(FITSFormatError, match=r"obs 23523 HDU type 'aeff'.*EDISP"):
        obs.aeff  # noqa: B018
