"""Tests of gammapipe.data.GTI (analytic cases and HESS DL3 DR1, H.E.S.S. collaboration)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta
from hypothesis import given, settings
from hypothesis import strategies as st

from gammapipe.data import GTI
from gammapipe.utils.errors import FITSFormatError


def _hess_file(hess_dir, obs_id):
    return hess_dir / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"


def test_gti_create_and_times():
    ref = Time("2010-01-01T00:00:00", scale="tt")
    gti = GTI.create([0, 100, 300] * u.s, [50, 200, 310] * u.s, reference_time=ref)
    assert len(gti) == 3
    assert gti.time_sum.to_value(u.s) == 160.0
    np.testing.assert_array_equal(gti.time_delta.to_value(u.s), [50, 100, 10])
    assert gti.time_ref == ref
    assert gti.time_start[1].isot == "2010-01-01T00:01:40.000"
    assert gti.time_stop[-1].isot == "2010-01-01T00:05:10.000"
    assert gti.met_start.unit == u.s
    pairs = gti.time_intervals
    assert len(pairs) == 3 and (pairs[0][1] - pairs[0][0]).to_value(u.s) == pytest.approx(50)


def test_gti_create_from_time_objects_and_default_reference():
    t0 = Time("2020-06-01T12:00:00", scale="tt")
    gti = GTI.create(t0, t0 + 30 * u.min)
    assert gti.time_ref.isot == "2000-01-01T00:00:00.000"
    assert gti.time_sum.to_value(u.s) == pytest.approx(1800.0, abs=1e-6)
    assert abs((gti.time_start[0] - t0).to_value(u.s)) < 1e-6


def test_gti_from_time_intervals():
    t0 = Time("2020-06-01T12:00:00", scale="tt")
    gti = GTI.from_time_intervals([(t0, t0 + 10 * u.s), (t0 + 20 * u.s, t0 + 25 * u.s)])
    assert len(gti) == 2
    assert gti.time_sum.to_value(u.s) == pytest.approx(15.0, abs=1e-6)


def test_gti_union_merges_overlaps():
    gti = GTI.create([10, 0, 5, 30, 40] * u.s, [20, 8, 12, 40, 45] * u.s)
    merged = gti.union()
    np.testing.assert_array_equal(merged.met_start.value, [0, 30])
    np.testing.assert_array_equal(merged.met_stop.value, [20, 45])
    not_touching = gti.union(merge_equal=False)
    np.testing.assert_array_equal(not_touching.met_start.value, [0, 30, 40])
    np.testing.assert_array_equal(not_touching.met_stop.value, [20, 40, 45])
    with pytest.raises(ValueError, match="overlap"):
        gti.union(overlap_ok=False)
    disjoint = GTI.create([0, 10] * u.s, [5, 20] * u.s)
    assert len(disjoint.union(overlap_ok=False)) == 2


def test_gti_select_time_clips():
    ref = Time("2010-01-01T00:00:00", scale="tt")
    gti = GTI.create([0, 100, 300] * u.s, [50, 200, 310] * u.s, reference_time=ref)
    selected = gti.select_time((ref + 40 * u.s, ref + 150 * u.s))
    np.testing.assert_allclose(selected.met_start.value, [40, 100], atol=1e-6)
    np.testing.assert_allclose(selected.met_stop.value, [50, 150], atol=1e-6)
    assert selected.time_sum.to_value(u.s) == pytest.approx(60.0, abs=1e-6)
    empty = gti.select_time((ref + 400 * u.s, ref + 500 * u.s))
    assert len(empty) == 0 and empty.time_sum.value == 0


def test_gti_delete_interval():
    ref = Time("2010-01-01T00:00:00", scale="tt")
    gti = GTI.create([0] * u.s, [100] * u.s, reference_time=ref)
    cut = gti.delete_interval((ref + 20 * u.s, ref + 30 * u.s))
    np.testing.assert_allclose(cut.met_start.value, [0, 30], atol=1e-6)
    np.testing.assert_allclose(cut.met_stop.value, [20, 100], atol=1e-6)


def test_gti_stack_converts_reference_time():
    ref1 = Time("2010-01-01T00:00:00", scale="tt")
    ref2 = Time("2010-01-02T00:00:00", scale="tt")
    gti1 = GTI.create([0] * u.s, [10] * u.s, reference_time=ref1)
    gti2 = GTI.create([0] * u.s, [10] * u.s, reference_time=ref2)
    gti1.stack(gti2)
    assert len(gti1) == 2
    np.testing.assert_allclose(gti1.met_start.value, [0, 86400], atol=1e-6)
    assert gti1.time_ref == ref1
    assert abs((gti1.time_start[1] - gti2.time_start[0]).to_value(u.s)) < 1e-6
    stacked = GTI.from_stack([gti2, gti2])
    assert len(stacked) == 2 and stacked.time_sum.to_value(u.s) == 20


def test_gti_table_with_time_columns():
    ref = Time("2010-01-01T00:00:00", scale="tt")
    table = Table({"START": ref + TimeDelta([0, 60], format="sec"),
                   "STOP": ref + TimeDelta([30, 90], format="sec")})
    gti = GTI(table, reference_time=ref)
    np.testing.assert_allclose(gti.met_stop.value, [30, 90], atol=1e-6)


def test_gti_bad_interval_raises():
    with pytest.raises(ValueError, match="STOP"):
        GTI.create([10] * u.s, [5] * u.s)


def test_gti_read_hess_matches_file(hess_dir):
    """GTI of run 23523 against the raw FITS values (HESS DL3 DR1)."""
    path = _hess_file(hess_dir, 23523)
    gti = GTI.read(path)
    with fits.open(path) as hdul:
        data = hdul["GTI"].data
        header = hdul["GTI"].header
        start, stop = float(data["START"][0]), float(data["STOP"][0])
    assert gti.met_start.value[0] == start
    assert gti.met_stop.value[0] == stop
    assert gti.time_sum.to_value(u.s) == stop - start == 1687.0
    expected_ref = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="tt")
    assert abs((gti.time_ref - expected_ref).to_value(u.s)) < 1e-9
    # DATE-OBS / TIME-OBS of the EVENTS header: 2004-12-04 22:08:10.184 (TT)
    assert gti.time_start[0].tt.iso == "2004-12-04 22:08:10.184"
    assert gti.time_stop[0].tt.iso == "2004-12-04 22:36:17.184"


def test_gti_write_read_roundtrip(tmp_path):
    ref = Time("2015-03-01T00:00:00", scale="tt")
    gti = GTI.create([0, 100] * u.s, [50, 160] * u.s, reference_time=ref)
    path = tmp_path / "gti.fits.gz"
    gti.write(path)
    back = GTI.read(path)
    np.testing.assert_array_equal(back.met_start.value, gti.met_start.value)
    np.testing.assert_array_equal(back.met_stop.value, gti.met_stop.value)
    assert abs((back.time_ref - ref).to_value(u.s)) < 1e-6
    with pytest.raises(FileExistsError):
        gti.write(path)
    gti.write(path, overwrite=True)


def test_gti_read_bad_unit(tmp_path):
    cols = [fits.Column("START", "D", unit="m", array=[0.0]),
            fits.Column("STOP", "D", unit="m", array=[1.0])]
    hdu = fits.BinTableHDU.from_columns(cols, name="GTI")
    hdu.header["MJDREFI"] = 51910
    hdu.header["MJDREFF"] = 0.0
    path = tmp_path / "bad_gti.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with pytest.raises(FITSFormatError, match=r"bad_gti.fits.*GTI.*START.*unit"):
        GTI.read(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 50)), min_size=1, max_size=15))
def test_gti_union_property(intervals):
    """union(): sorted, disjoint intervals covering exactly the same set of times."""
    start = np.array([a for a, _ in intervals], dtype=float)
    stop = start + np.array([d for _, d in intervals], dtype=float)
    merged = GTI.create(start * u.s, stop * u.s).union()
    m_start, m_stop = merged.met_start.value, merged.met_stop.value
    assert np.all(np.diff(m_start) > 0)
    assert np.all(m_start[1:] > m_stop[:-1])  # disjoint and not touching
    grid = np.arange(0, 260, 0.5)
    inside_orig = np.any((grid[:, None] >= start) & (grid[:, None] <= stop), axis=1)
    inside_merged = np.any((grid[:, None] >= m_start) & (grid[:, None] <= m_stop), axis=1)
    np.testing.assert_array_equal(inside_orig, inside_merged)
    assert merged.time_sum <= GTI.create(start * u.s, stop * u.s).time_sum
