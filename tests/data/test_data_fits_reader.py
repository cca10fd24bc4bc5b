"""The fast FITS reader and the file cache against astropy, on real DL3 files.

Data: HESS DL3 DR1 (H.E.S.S. collaboration), CTA 1DC, MAGIC RAD_MAX example files.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits

from gammapipe.data._fits_reader import bintable_to_table, parse_fits
from gammapipe.data.file_cache import CachedFile, FileCache, read_file_bytes
from gammapipe.utils.errors import FITSFormatError, MissingHDUError
from gammapipe.utils.fits import table_from_hdu


def _files(data_dir):
    hess = data_dir / "hess-dl3-dr1"
    files = [hess / "data" / f"hess_dl3_dr1_obs_id_{i:06d}.fits.gz"
             for i in (20136, 23523, 33787, 47829)]
    files += [hess / "obs-index.fits.gz", hess / "hdu-index.fits.gz"]
    files += [data_dir / "cta-1dc" / "data" / "baseline" / "gps" / "gps_baseline_110380.fits",
              data_dir / "cta-1dc" / "caldb" / "data" / "cta" / "1dc" / "bcf" / "South_z20_50h"
              / "irf_file.fits",
              data_dir / "cta-1dc" / "index" / "gps" / "obs-index.fits.gz"]
    files += sorted((data_dir / "magic" / "rad_max" / "data").glob("*.fits"))
    return files


def test_fast_reader_equals_astropy(data_dir):
    n_columns = 0
    for path in _files(data_dir):
        raw = read_file_bytes(path)
        hdus = parse_fits(raw)
        assert hdus is not None, path
        with fits.open(path) as hdulist:
            assert [h.name for h in hdus] == [h.name for h in hdulist]
            for fast, ref in zip(hdus[1:], hdulist[1:], strict=True):
                expected_header = {k: v for k, v in ref.header.items()
                                   if k not in ("COMMENT", "HISTORY", "")}
                assert fast.header == expected_header, (path, ref.name)
                table = bintable_to_table(raw, fast)
                expected = table_from_hdu(ref)
                assert table.colnames == expected.colnames
                for name in expected.colnames:
                    a, b = np.asarray(expected[name]), np.asarray(table[name])
                    assert b.dtype.kind == a.dtype.kind and b.shape == a.shape, (path, name)
                    assert b.dtype.isnative
                    if a.dtype.kind == "f":
                        np.testing.assert_array_equal(a, b)
                    else:
                        assert np.array_equal(a, b), (path, name)
                    assert table[name].unit == expected[name].unit
                    n_columns += 1
    assert n_columns > 150


def test_unsigned_columns_cta(data_dir):
    """CTA 1DC EVENT_ID is stored as int32 with TZERO = 2**31: read as uint32."""
    path = data_dir / "cta-1dc" / "data" / "baseline" / "gps" / "gps_baseline_110380.fits"
    cached = CachedFile(path, read_file_bytes(path))
    table = cached.table("EVENTS")
    assert table["EVENT_ID"].dtype == np.uint32
    with fits.open(path) as hdulist:
        np.testing.assert_array_equal(table["EVENT_ID"], hdulist["EVENTS"].data["EVENT_ID"])
    meta = cached.meta("EVENTS")
    assert meta["_ALTITUDE_UNIT"] == "km" and "TTYPE1" not in meta


def test_fallback_to_astropy(tmp_path):
    """A CONTINUE long-string card is outside the fast subset: astropy reads the file."""
    hdu = fits.BinTableHDU.from_columns([fits.Column("X", "D", unit="m", array=[1.0, 2.0])],
                                        name="DATA")
    hdu.header["LONGSTR"] = "x" * 120
    path = tmp_path / "long.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    raw = read_file_bytes(path)
    assert parse_fits(raw) is None
    cached = CachedFile(path, raw)
    assert cached.names == ["PRIMARY", "DATA"]
    table = cached.table("DATA")
    np.testing.assert_array_equal(table["X"], [1.0, 2.0])
    assert str(table["X"].unit) == "m"
    assert cached.meta("DATA")["LONGSTR"] == "x" * 120


def test_variable_length_column_falls_back(tmp_path):
    col = fits.Column("V", "PD()", array=np.array([np.ones(2), np.ones(3)], dtype=object))
    hdu = fits.BinTableHDU.from_columns([col], name="VLA")
    path = tmp_path / "vla.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    raw = read_file_bytes(path)
    hdus = parse_fits(raw)
    assert bintable_to_table(raw, hdus[1]) is None
    table = CachedFile(path, raw).table("VLA")
    assert len(table["V"][1]) == 3


def test_errors(tmp_path, hess_dir):
    path = tmp_path / "text.fits"
    path.write_bytes(b"hello" * 1000)
    with pytest.raises(FITSFormatError, match="not a FITS file"):
        CachedFile(path, read_file_bytes(path))
    src = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    raw = gzip.decompress(src.read_bytes())
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[:-3 * 2880])
    with pytest.raises(FITSFormatError, match="truncated"):
        CachedFile(cut, read_file_bytes(cut))
    gz_cut = tmp_path / "cut.fits.gz"
    gz_cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(FITSFormatError, match=r"cut.fits.gz: truncated or corrupt gzip"):
        read_file_bytes(gz_cut)
    cached = CachedFile(src, read_file_bytes(src))
    with pytest.raises(MissingHDUError, match=r"no HDU 'NOPE' \(available: \['PRIMARY'"):
        cached.table("NOPE")
    with pytest.raises(FITSFormatError, match="expected a binary table"):
        cached.table("PRIMARY")


def test_file_cache_lru_copies_and_invalidation(tmp_path, hess_dir):
    cache = FileCache(max_files=2)
    paths = []
    for i, obs_id in enumerate((23523, 23526, 23559)):
        src = hess_dir / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        dst = tmp_path / f"f{i}.fits.gz"
        dst.write_bytes(src.read_bytes())
        paths.append(dst)
    first = cache.get(paths[0])
    assert cache.get(paths[0]) is first
    table = first.table("EVENTS")
    table["ENERGY"][:] = -1.0  # modifying a returned table never touches the cache
    assert np.all(np.asarray(first.table("EVENTS")["ENERGY"]) > 0)
    cache.get(paths[1])
    cache.get(paths[2])
    assert len(cache) == 2
    assert cache.get(paths[0]) is not first  # evicted, read again
    # a rewritten file is read again
    paths[2].write_bytes((hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz").read_bytes())
    assert cache.get(paths[2]).meta("EVENTS")["OBS_ID"] == 23592
    cache.clear()
    assert len(cache) == 0
