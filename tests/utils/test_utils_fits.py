"""FITS helpers: errors name the file and HDU; writes are atomic."""

from __future__ import annotations

import gzip
import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, MissingFileError, MissingHDUError, UnitError
from gammapipe.utils.fits import (
    atomic_write,
    make_path,
    open_fits,
    parse_unit,
    read_table_hdu,
    require_columns,
    write_hdulist,
)
from gammapipe.utils.units import to_quantity


def _table_file(path, unit="TeV"):
    col = fits.Column(name="ENERGY", format="E", unit=unit, array=np.array([1.0, 2.0]))
    hdu = fits.BinTableHDU.from_columns([col], name="EVENTS")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_make_path_expands_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("GP_TEST_DIR", str(tmp_path))
    assert make_path("$GP_TEST_DIR/x.fits") == tmp_path / "x.fits"


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nothere.fits"):
        open_fits(tmp_path / "nothere.fits")


def test_truncated_gzip_names_file(tmp_path):
    path = _table_file(tmp_path / "t.fits")
    with open(path, "rb") as f, gzip.open(tmp_path / "t.fits.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    data = (tmp_path / "t.fits.gz").read_bytes()
    (tmp_path / "cut.fits.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FITSFormatError, match="cut.fits.gz"):
        read_table_hdu(tmp_path / "cut.fits.gz", "EVENTS")


def test_not_fits(tmp_path):
    (tmp_path / "junk.fits").write_text("hello")
    with pytest.raises(FITSFormatError, match="junk.fits"):
        open_fits(tmp_path / "junk.fits")


def test_missing_hdu_lists_available(tmp_path):
    path = _table_file(tmp_path / "t.fits")
    with pytest.raises(MissingHDUError, match=r"no HDU 'GTI'.*EVENTS"):
        read_table_hdu(path, "GTI")


def test_units_parsed_and_bad_unit_named(tmp_path):
    table = read_table_hdu(_table_file(tmp_path / "ok.fits"), "EVENTS")
    assert table["ENERGY"].unit == u.TeV
    bad = _table_file(tmp_path / "bad.fits", unit="furlongs_per_bogon")
    with pytest.raises(UnitError, match="bad.fits.*ENERGY"):
        read_table_hdu(bad, "EVENTS")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("cm**2", u.cm**2), ("1/s/MeV/sr", u.Unit("s-1 MeV-1 sr-1")), ("deg", u.deg), ("", u.one)],
)
def test_parse_unit_dl3_spellings(text, expected):
    assert parse_unit(text) == expected


def test_require_columns():
    table = Table({"A": [1]})
    with pytest.raises(FITSFormatError, match=r"\['B'\]"):
        require_columns(table, ["A", "B"], where="x.fits [EVENTS]")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.fits"

    def failing(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(failing, target)
    assert list(tmp_path.iterdir()) == []


def test_write_hdulist_overwrite_protection(tmp_path):
    hdul = fits.HDUList([fits.PrimaryHDU(np.arange(3.0))])
    path = write_hdulist(hdul, tmp_path / "a.fits.gz")
    assert np.array_equal(fits.getdata(path), np.arange(3.0))
    with pytest.raises(FileExistsError, match="a.fits.gz"):
        write_hdulist(hdul, path)
    write_hdulist(fits.HDUList([fits.PrimaryHDU(np.ones(2))]), path, overwrite=True)
    assert np.array_equal(fits.getdata(path), np.ones(2))


def test_to_quantity_names_argument():
    assert to_quantity("2 deg", "deg", "width") == 2 * u.deg
    assert to_quantity(3, "TeV", "energy") == 3 * u.TeV
    with pytest.raises(UnitError, match="'width'"):
        to_quantity(2 * u.s, "deg", "width")


def test_atomic_write_follows_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = write_hdulist(fits.HDUList([fits.PrimaryHDU()]), tmp_path / "p.fits")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
