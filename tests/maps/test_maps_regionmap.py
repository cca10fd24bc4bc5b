"""RegionNDMap: creation, filling, interpolation, reductions, tables (OGIP / gadf)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from regions import CircleSkyRegion

from gammapipe.maps import Map, MapAxis, RegionNDMap
from gammapipe.utils.errors import FITSFormatError, GammapipeError, GeometryError, UnitError

CRAB = SkyCoord(83.633, 22.014, unit="deg")


def _axis(nbin=4, lo=1, hi=10, name="energy"):
    return MapAxis.from_energy_bounds(lo, hi, nbin, unit="TeV", name=name)


def _region_map(**kwargs):
    region = CircleSkyRegion(CRAB, 0.3 * u.deg)
    return RegionNDMap.create(region=region, axes=[kwargs.pop("axis", _axis())], **kwargs)


def test_create_from_region_and_ds9_string():
    m = _region_map(unit="cm-2")
    assert m.data.shape == (4, 1, 1) == m.geom.data_shape
    assert m.unit == u.Unit("cm-2") and m.data.dtype == np.float32
    m2 = Map.create(map_type="region", region="icrs;circle(83.633,22.014,0.3)",
                    axes=[_axis()], dtype="int64")
    assert isinstance(m2, RegionNDMap) and m2.data.dtype == np.int64
    assert m2.geom.region.radius.to_value("deg") == pytest.approx(0.3)
    assert isinstance(Map.from_geom(m.geom), RegionNDMap)


def test_fill_events_inside_region_only():
    rng = np.random.default_rng(11)
    n = 50_000
    table = Table()
    table["RA"] = (CRAB.ra.deg + rng.normal(0, 0.4, n)) * u.deg
    table["DEC"] = (CRAB.dec.deg + rng.normal(0, 0.4, n)) * u.deg
    table["ENERGY"] = 10 ** rng.uniform(-0.3, 1.3, n) * u.TeV
    m = _region_map()
    m.fill_events(table)
    sep = SkyCoord(table["RA"], table["DEC"]).separation(CRAB).deg
    edges = m.geom.axes["energy"].edges.to_value("TeV")
    expected, _ = np.histogram(np.asarray(table["ENERGY"])[sep < 0.3], bins=edges)
    np.testing.assert_array_equal(m.data[:, 0, 0], expected)
    assert 0 < m.data.sum() < n


def test_interp_and_get_by_coord_along_energy():
    axis = _axis(nbin=10, lo=0.1, hi=100)
    m = _region_map(axis=axis, dtype="float64", unit="cm-2 s-1 TeV-1")
    e_center = axis.center.to_value("TeV")
    m.data[:, 0, 0] = 2e-11 * e_center**-2.7
    e = np.geomspace(0.15, 80, 37)
    values = m.interp_by_coord({"energy": e * u.TeV}, values_scale="log")
    np.testing.assert_allclose(values, 2e-11 * e**-2.7, rtol=1e-12)
    got = m.get_by_coord({"energy": e_center[3] * u.TeV})
    assert got == pytest.approx(2e-11 * e_center[3] ** -2.7)
    outside = m.get_by_coord({"skycoord": SkyCoord(90, 22, unit="deg"),
                              "energy": e_center[3] * u.TeV})
    assert np.isnan(outside)


def test_reduce_resample_stack_arithmetic():
    m = _region_map(dtype="float64", unit="m2")
    m.data[:, 0, 0] = [1.0, 2.0, 3.0, 4.0]
    s = m.sum_over_axes()
    assert s.data.shape == (1, 1, 1) and s.data.item() == 10.0
    coarse = MapAxis.from_energy_edges(m.geom.axes["energy"].edges[::2])
    r = m.resample_axis(coarse)
    np.testing.assert_allclose(r.data.ravel(), [3.0, 7.0])
    other = m.copy()
    mask = m.copy(data=np.array([True, False, True, False]).reshape(4, 1, 1), unit="")
    m.stack(other, weights=mask)
    np.testing.assert_allclose(m.data.ravel(), [2.0, 2.0, 6.0, 4.0])
    cm = m.copy(unit="cm2", data=np.full((4, 1, 1), 1e4))
    np.testing.assert_allclose((m + cm).data.ravel(), [3.0, 3.0, 7.0, 5.0])
    with pytest.raises(UnitError):
        m + m.copy(unit="s")
    with pytest.raises(GeometryError, match=r"\(4, 1, 1\).*\(6, 1, 1\)"):
        m + _region_map(axis=_axis(nbin=6))
    assert ((m > 2.5).data.ravel() == [False, False, True, True]).all()


def test_tables_ogip_gadf_sed_round_trip():
    m = _region_map(dtype="float64")
    m.data[:, 0, 0] = [5.0, 3.0, 2.0, 0.0]
    ogip = m.to_table(format="ogip")
    assert ogip.colnames == ["CHANNEL", "COUNTS"]
    assert ogip["COUNTS"].dtype == np.int32 and ogip.meta["HDUCLAS1"] == "SPECTRUM"
    ebounds = Table({"CHANNEL": np.arange(4),
                     "E_MIN": m.geom.axes[0].edges[:-1], "E_MAX": m.geom.axes[0].edges[1:]})
    back = RegionNDMap.from_table(ogip, format="ogip", ebounds=ebounds)
    np.testing.assert_array_equal(back.data, m.data)
    gadf = m.to_table(format="gadf")
    assert gadf.colnames == ["CHANNEL", "ENERGY", "E_MIN", "E_MAX", "DATA"]
    back = RegionNDMap.from_table(gadf, format="gadf")
    np.testing.assert_array_equal(back.data, m.data)
    np.testing.assert_allclose(back.geom.axes[0].edges, m.geom.axes[0].edges)
    sed = m.copy(unit="cm-2 s-1").to_table(format="gadf-sed")
    assert sed.colnames == ["e_ref", "e_min", "e_max", "data"]
    assert sed["data"].unit == u.Unit("cm-2 s-1")
    back = RegionNDMap.from_table(sed, format="gadf-sed")
    np.testing.assert_allclose(back.data, m.data)
    with pytest.raises(FITSFormatError, match="EBOUNDS"):
        RegionNDMap.from_table(ogip, format="ogip")
    with pytest.raises(GammapipeError, match="format"):
        m.to_table(format="csv")
    rad = _region_map(axis=MapAxis.from_edges([0, 1, 2], unit="deg", name="rad"))
    with pytest.raises(GammapipeError, match="energy"):
        rad.to_table(format="ogip")
