"""Tests of MapAxis, MapAxes, LabelMapAxis, TimeMapAxis and MapCoord.

Reference numbers: gammapy 2.1 on HESS DL3 DR1, H.E.S.S. collaboration
(makers_map.json, lowlevel_crab3d.json).
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from gammapipe.maps import LabelMapAxis, MapAxes, MapAxis, MapCoord, TimeMapAxis
from gammapipe.utils.fits import table_from_hdu


# ---------------------------------------------------------------------- reference numbers
def test_energy_edges_bitwise_makers_map(reference_dir):
    ref = json.loads((reference_dir / "makers_map.json").read_text())["empty"]
    axis = MapAxis.from_bounds(1, 10, nbin=11, interp="log", name="energy", unit="TeV")
    assert axis.edges.unit == u.TeV
    assert axis.edges.value.tolist() == ref["energy_edges_TeV"]
    assert axis.edges[1].value == 1.2328467394420661
    assert axis.edges[-1].value == 10.000000000000002
    axis_true = MapAxis.from_bounds(0.3, 10, nbin=31, interp="log", name="energy_true",
                                    unit="TeV")
    assert axis_true.edges.value.tolist() == ref["energy_true_edges_TeV"]


def test_energy_bounds_flux_point_edges(reference_dir):
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    cols = ref["flux_points"]["dnde"]["columns"]
    axis = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    assert axis.name == "energy"
    edges = axis.edges.value
    assert edges[0] == 1.0
    assert edges[1] == 1.778279410038923 or edges[1] == 1.7782794100389228
    # flux points snap [1, 2, 4, 10] TeV to the reco edges (indices 0, 1, 2, 4)
    table = axis.group_table([1, 2, 4, 10] * u.TeV)
    normal = table[table["bin_type"] == "normal"]
    assert normal["energy_min"].quantity.to_value("TeV").tolist() == cols["e_min"]
    assert normal["energy_max"].quantity.to_value("TeV").tolist() == cols["e_max"]
    # e_ref of the first group is the log centre of its single bin
    assert axis.center[0].value == cols["e_ref"][0]


def test_log_centre_geometric_mean():
    axis = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    assert_allclose(axis.center[0].value, 1.3335214321633240, rtol=1e-15)
    assert_allclose(axis.center.value, np.sqrt(axis.edges[:-1].value * axis.edges[1:].value),
                    rtol=1e-14)
    lin = MapAxis.from_bounds(0, 4, 4, name="x")
    assert_allclose(lin.center.value, [0.5, 1.5, 2.5, 3.5])
    sq = MapAxis.from_bounds(0, 16, 4, interp="sqrt", name="x")
    assert_allclose(sq.edges.value, [0, 1, 4, 9, 16])
    assert_allclose(sq.center.value, [0.25, 2.25, 6.25, 12.25])


# ---------------------------------------------------------------------- transformations
@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(1e-3, 1e3),
    ratio=st.floats(1.01, 1e4),
    nbin=st.integers(1, 50),
    interp=st.sampled_from(["lin", "log", "sqrt"]),
    node_type=st.sampled_from(["edges", "center"]),
    pix=st.floats(-0.5, 1.0),
)
def test_axis_pix_coord_roundtrip(lo, ratio, nbin, interp, node_type, pix):
    if node_type == "center" and nbin < 2:
        nbin = 2
    axis = MapAxis.from_bounds(lo, lo * ratio, nbin, interp=interp, node_type=node_type,
                               unit="TeV", name="energy")
    pixels = pix * axis.nbin + np.array([0.0, 0.25, 0.5])
    coord = axis.pix_to_coord(pixels)
    assert_allclose(axis.coord_to_pix(coord), pixels, atol=1e-8 * max(1, axis.nbin))
    # edges are at half-integer pixels
    assert_allclose(axis.coord_to_pix(axis.edges), np.arange(axis.nbin + 1) - 0.5, atol=1e-8)
    assert_allclose(axis.coord_to_pix(axis.center), np.arange(axis.nbin), atol=1e-8)
    idx = axis.coord_to_idx(axis.center)
    assert_array_equal(idx, np.arange(axis.nbin))


def test_axis_coord_to_idx_outside_and_clip():
    axis = MapAxis.from_edges([1, 2, 4, 8], unit="TeV", name="energy", interp="log")
    values = [0.5, 1.0, 1.99, 2.0, 7.9, 8.0, 9.0, np.nan] * u.TeV
    assert_array_equal(axis.coord_to_idx(values), [-1, 0, 0, 1, 2, 2, -1, -1])
    assert_array_equal(axis.coord_to_idx(values, clip=True), [0, 0, 0, 1, 2, 2, 2, -1])
    assert_array_equal(axis.coord_to_idx(2000 * u.GeV), 1)
    assert_array_equal(axis.pix_to_idx([-0.6, -0.5, 0.49, 2.49, 2.5, np.nan]),
                       [-1, 0, 0, 2, -1, -1])
    assert_array_equal(axis.pix_to_idx([-3, 10], clip=True), [0, 2])


def test_axis_extrapolates_linearly_in_interp_space():
    axis = MapAxis.from_edges([1, 10, 100], unit="TeV", interp="log", name="energy")
    assert_allclose(axis.pix_to_coord([-1.5, 2.5]).value, [0.1, 1000.0])
    assert_allclose(axis.coord_to_pix([0.1, 1000] * u.TeV), [-1.5, 2.5])


def test_center_node_axis_edges():
    axis = MapAxis.from_nodes([1, 2, 3], unit="deg", name="offset")
    assert axis.node_type == "center"
    assert axis.nbin == 3
    assert_allclose(axis.edges.value, [0.5, 1.5, 2.5, 3.5])
    log_axis = MapAxis.from_nodes([1, 10, 100], unit="TeV", name="energy_true", interp="log")
    assert_allclose(log_axis.edges.value, [10**-0.5, 10**0.5, 10**1.5, 10**2.5])
    assert_allclose(log_axis.center.value, [1, 10, 100])


def test_axis_properties():
    axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 5, per_decade=True)
    assert axis.nbin == 15
    assert_allclose(axis.nbin_per_decade, 5)
    assert_allclose(axis.bounds.value, [0.1, 100])
    assert_allclose(axis.bin_width.sum().value, 99.9)
    assert axis.edges_min.shape == (15,) and axis.edges_max.shape == (15,)
    loose = MapAxis.from_energy_bounds(0.15, 90, 4, unit="TeV", per_decade=True,
                                       strict_bounds=False)
    assert_allclose(loose.edges.value[[0, -1]], [0.1, 100], rtol=1e-12)
    assert loose.nbin == 12
    with pytest.raises(ValueError, match="nbin_per_decade"):
        _ = MapAxis.from_bounds(0, 1, 2, name="x").nbin_per_decade


def test_upsample_downsample_slice_squash_pad():
    axis = MapAxis.from_energy_bounds(1, 100, 4, unit="TeV")
    up = axis.upsample(3)
    assert up.nbin == 12
    assert_allclose(up.edges.value[::3], axis.edges.value, rtol=1e-14)
    assert_allclose(np.diff(np.log(up.edges.value)), np.log(100) / 12, rtol=1e-12)
    down = up.downsample(3)
    assert_allclose(down.edges.value, axis.edges.value, rtol=1e-14)
    with pytest.raises(ValueError, match="factor"):
        axis.downsample(3)
    loose = axis.downsample(3, strict=False)
    assert_allclose(loose.edges.value, [1, 10**1.5, 100], rtol=1e-14)
    sliced = axis.slice(slice(1, 3))
    assert_allclose(sliced.edges.value, axis.edges.value[1:4])
    assert axis.slice(2).nbin == 1
    squashed = axis.squash()
    assert squashed.nbin == 1
    assert_allclose(squashed.edges.value, [1, 100], rtol=1e-14)
    padded = axis.pad(1)
    assert_allclose(padded.edges.value, np.geomspace(10**-0.5, 10**2.5, 7), rtol=1e-12)
    assert axis.pad((0, 2)).nbin == 6


def test_group_table_under_overflow():
    axis = MapAxis.from_energy_bounds(0.1, 100, 9, unit="TeV")
    table = axis.group_table([1, 10] * u.TeV)
    assert table["bin_type"].tolist() == ["underflow", "normal", "overflow"]
    assert table["idx_min"].tolist() == [0, 3, 6]
    assert table["idx_max"].tolist() == [2, 5, 8]
    assert table["group_idx"].tolist() == [0, 1, 2]
    assert_allclose(table["energy_min"].quantity.to_value("TeV"), [0.1, 1, 10], rtol=1e-12)
    assert_allclose(table["energy_max"].quantity.to_value("TeV"), [1, 10, 100], rtol=1e-12)


def test_alignment_and_equality():
    axis = MapAxis.from_energy_bounds(1, 100, 8, unit="TeV")
    assert axis.is_aligned(axis.slice(slice(2, 5)))
    assert axis.is_aligned(axis.downsample(2))
    assert not axis.is_aligned(MapAxis.from_energy_bounds(1.1, 100, 8, unit="TeV"))
    assert axis == MapAxis.from_energy_bounds(1000, 100000, 8, unit="GeV").copy(unit="TeV",
        nodes=MapAxis.from_energy_bounds(1000, 100000, 8, unit="GeV").edges.to("TeV"))
    assert axis != axis.rename("energy_true")
    assert axis != axis.copy(interp="lin")
    rounded = axis.round([1.5, 3.0, 200] * u.TeV, clip=True)
    assert_allclose(rounded.to_value("TeV"), [10**0.25, 10**0.5, 100], rtol=1e-12)
    assert MapAxis.from_edges([1, 2, 3], name="x", unit="m") != MapAxis.from_edges(
        [1, 2, 3.1], name="x", unit="m")
    joined = MapAxis.from_stack([axis.slice(slice(0, 3)), axis.slice(slice(3, 8))])
    assert joined == axis


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nodes": [1, 3, 2]}, "'nodes'.*increasing.*3.0 followed by 2.0"),
        ({"nodes": [1, np.nan, 2]}, "'nodes'.*non-finite"),
        ({"nodes": [1]}, "'nodes'.*at least 2"),
        ({"nodes": [1, 2], "interp": "cubic"}, "'interp'.*cubic"),
        ({"nodes": [1, 2], "node_type": "bins"}, "'node_type'.*bins"),
        ({"nodes": [-1, 2], "interp": "log"}, "'nodes'.*positive.*-1.0"),
    ],
)
def test_axis_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MapAxis(**kwargs)


def test_constructor_bad_input():
    with pytest.raises(ValueError, match="'edges'.*increasing"):
        MapAxis.from_edges([3, 2, 1], name="x")
    with pytest.raises(ValueError, match="'nbin'"):
        MapAxis.from_bounds(1, 2, 0)
    with pytest.raises(ValueError, match="'lo', 'hi'.*lo=2.0 hi=1.0"):
        MapAxis.from_bounds(2, 1, 3)
    with pytest.raises(ValueError, match="'lo'.*log"):
        MapAxis.from_bounds(0, 1, 3, interp="log")
    with pytest.raises(ValueError, match="'name'"):
        MapAxis.from_energy_bounds(1, 10, 3, unit="TeV", name="offset")
    with pytest.raises(u.UnitConversionError, match="'unit'"):
        MapAxis.from_energy_bounds(1, 10, 3, unit="deg")
    with pytest.raises(ValueError, match="energy_min"):
        MapAxis.from_energy_bounds(10, 1, 3, unit="TeV")


def test_quantity_nodes_and_units():
    axis = MapAxis([1, 2, 3] * u.deg, name="offset")
    assert axis.unit == u.deg
    converted = MapAxis([1, 2, 3] * u.deg, name="offset", unit="arcmin")
    assert_allclose(converted.edges.value, [60, 120, 180])
    assert_allclose(axis.coord_to_pix(90 * u.arcmin), 0.0)
    with pytest.raises(u.UnitConversionError, match="coord"):
        axis.coord_to_pix(1 * u.TeV)
    listed = MapAxis.from_edges([1 * u.TeV, 2000 * u.GeV, 4 * u.TeV], name="energy")
    assert listed.unit == u.TeV
    assert_allclose(listed.edges.value, [1, 2, 4])


# ---------------------------------------------------------------------- table I/O
def test_ogip_tables_roundtrip():
    axis = MapAxis.from_energy_bounds(0.1, 10, 6, unit="TeV")
    table = axis.to_table(format="ogip")
    assert table.colnames == ["CHANNEL", "E_MIN", "E_MAX"]
    assert table.meta["EXTNAME"] == "EBOUNDS"
    assert MapAxis.from_table(table, format="ogip") == axis
    sherpa = axis.to_table(format="ogip-sherpa")
    assert sherpa["E_MIN"].unit == u.keV
    assert_allclose(MapAxis.from_table(sherpa, format="ogip").edges.to_value("TeV"),
                    axis.edges.value)
    arf = axis.rename("energy_true").to_table(format="ogip-arf")
    assert arf.colnames == ["ENERG_LO", "ENERG_HI"]
    back = MapAxis.from_table(arf, format="ogip-arf")
    assert back.name == "energy_true" and back == axis.rename("energy_true")
    hdu = axis.to_table_hdu(format="ogip")
    assert hdu.name == "EBOUNDS"
    assert MapAxis.from_table_hdu(hdu, format="ogip") == axis


def test_gadf_bands_table_multi_axis_roundtrip():
    energy = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    offset = MapAxis.from_bounds(0, 2, 2, name="offset", unit="deg")
    nodes = MapAxis.from_nodes([0.5, 1.0, 1.5, 2.0], name="rad", unit="deg")
    axes = MapAxes([energy, offset, nodes])
    table = axes.to_table(format="gadf")
    assert len(table) == 3 * 2 * 4
    assert table.meta["AXCOLS1"] == "E_MIN,E_MAX"
    assert table.meta["AXCOLS2"] == "OFFSET_MIN,OFFSET_MAX"
    assert table.meta["AXCOLS3"] == "RAD"
    # column-major channel ordering: energy varies fastest
    assert_allclose(table["E_MIN"][:4].quantity.value, [1, 10 ** (1 / 3), 10 ** (2 / 3), 1])
    assert_allclose(table["OFFSET_MIN"][:4].quantity.value, [0, 0, 0, 1])
    hdu = axes.to_table_hdu(format="gadf", hdu_bands="BANDS")
    back = MapAxes.from_table(table_from_hdu(hdu, where="BANDS"), format="gadf")
    assert back == axes
    assert back.names == ["energy", "offset", "rad"]


def test_gadf_bands_ebounds_without_axcols():
    table = Table({"CHANNEL": [0, 1], "E_MIN": [1e9, 1e10] * u.keV, "E_MAX": [1e10, 1e11] * u.keV})
    axes = MapAxes.from_table(table, format="gadf")
    assert axes.names == ["energy"]
    assert_allclose(axes["energy"].edges.to_value("TeV"), [1, 10, 100])


def test_gadf_dl3_hess_aeff_edisp(hess_dir):
    """Axes of HESS DL3 DR1, H.E.S.S. collaboration IRF tables."""
    from gammapipe.utils.fits import read_table_hdu

    path = sorted((hess_dir / "data").glob("*.fits.gz"))[0]
    aeff = read_table_hdu(path, "AEFF")
    energy = MapAxis.from_table(aeff, format="gadf-dl3", column_prefix="ENERG")
    assert energy.name == "energy_true" and energy.interp == "log" and energy.unit == u.TeV
    assert energy.nbin == 96
    assert_allclose(energy.edges_min.value, np.asarray(aeff["ENERG_LO"][0], float))
    # THETA_LO == THETA_HI in these files: node values, i.e. a centre axis
    offset = MapAxis.from_table(aeff, format="gadf-dl3", column_prefix="THETA")
    assert offset.name == "offset" and offset.unit == u.deg and offset.nbin == 6
    assert offset.node_type == "center"
    assert_allclose(offset.center.value, [0, 0.5, 1, 1.5, 2, 2.5])
    axes = MapAxes.from_table(read_table_hdu(path, "EDISP"), format="gadf-dl3")
    assert axes.names == ["energy_true", "migra", "offset"]
    assert axes["migra"].unit == u.dimensionless_unscaled
    bkg = MapAxes.from_table(read_table_hdu(path, "BKG"), format="gadf-dl3")
    assert bkg.names == ["fov_lon", "fov_lat", "energy"]
    assert bkg.shape == (50, 50, 20)


def test_gadf_dl3_write_read_and_center_columns():
    energy = MapAxis.from_energy_bounds(0.1, 100, 6, unit="TeV", name="energy_true")
    offset = MapAxis.from_bounds(0, 3, 3, name="offset", unit="deg")
    table = MapAxes([energy, offset]).to_table(format="gadf-dl3")
    assert table.colnames == ["ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI"]
    assert table["ENERG_LO"].shape == (1, 6)
    back = MapAxes.from_table(table, format="gadf-dl3")
    assert back == MapAxes([energy, offset])
    nodes = Table({"THETA": [[0.0, 1.0, 2.0]] * u.deg})
    axis = MapAxis.from_table(nodes, format="gadf-dl3", column_prefix="THETA")
    assert axis.node_type == "center" and axis.name == "offset"
    bad = Table({"THETA_LO": [[0.0, 1.5]] * u.deg, "THETA_HI": [[1.0, 2.0]] * u.deg})
    with pytest.raises(ValueError, match="contiguous"):
        MapAxis.from_table(bad, format="gadf-dl3", column_prefix="THETA")


# ---------------------------------------------------------------------- MapAxes
def test_map_axes_container():
    energy = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    offset = MapAxis.from_bounds(0, 2, 4, name="offset", unit="deg")
    axes = MapAxes([energy, offset], n_spatial_axes=2)
    assert axes.names == ["energy", "offset"] and axes.shape == (3, 4) and len(axes) == 2
    assert axes["offset"] is offset and axes[0] is energy
    assert axes.index("offset") == 1 and axes.index_data("offset") == 0
    assert axes.index_data("energy") == 1
    coords = axes.get_coord()
    assert coords["energy"].shape == (1, 3, 1, 1)
    assert coords["offset"].shape == (4, 1, 1, 1)
    edges = axes.get_coord(mode="edges", axis_name="energy")
    assert edges["energy"].shape == (1, 4, 1, 1)
    volume = axes.bin_volume()
    assert volume.unit == u.TeV * u.deg
    assert volume.shape == (4, 3, 1, 1)
    assert_allclose(volume[0, :, 0, 0].value, energy.bin_width.value * 0.5)
    assert not axes.is_unidimensional
    assert axes.squash("offset").is_unidimensional
    assert axes.drop("energy").names == ["offset"]
    assert axes.upsample(2, "offset")["offset"].nbin == 8
    assert axes.downsample(2, "offset")["offset"].nbin == 2
    assert axes.rename_axes("offset", "theta").names == ["energy", "theta"]
    assert axes.slice_by_idx({"energy": 1, "offset": slice(1, 3)}).names == ["offset"]
    assert axes.slice_by_idx({"offset": slice(1, 3)}).shape == (3, 2)
    assert_allclose(axes.center_coord[1].value, 1.0)
    assert axes.reverse.names == ["offset", "energy"]
    axes.assert_names(["energy", "offset"])
    with pytest.raises(ValueError, match="required"):
        axes.assert_names(["offset", "energy"])
    with pytest.raises(ValueError, match="duplicate"):
        MapAxes([energy, energy])
    with pytest.raises(KeyError, match="nope"):
        axes["nope"]
    with pytest.raises(ValueError, match="available"):
        axes.index("nope")
    assert axes == axes.copy() and axes.is_allclose(axes.copy(), rtol=1e-9)
    idx = axes.coord_to_idx({"energy": [1.5, 20] * u.TeV, "offset": [0.1, 1.9] * u.deg},
                            clip=False)
    assert_array_equal(idx[0], [0, -1])
    assert_array_equal(idx[1], [0, 3])


# ---------------------------------------------------------------------- label / time axes
def test_label_axis():
    axis = LabelMapAxis(["a", "b", "c"], name="dataset")
    assert axis.nbin == 3
    assert_array_equal(axis.coord_to_idx(["c", "a"]), [2, 0])
    with pytest.raises(ValueError, match="unknown label"):
        axis.coord_to_idx(["z"])
    assert axis.slice(slice(1, 3)) == LabelMapAxis(["b", "c"], name="dataset")
    assert axis.squash().center.tolist() == ["a...c"]
    assert_array_equal(axis.pix_to_coord([0.2, 1.6]), ["a", "c"])
    with pytest.raises(ValueError, match="duplicate"):
        LabelMapAxis(["a", "a"])
    energy = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    table = MapAxes([energy, axis]).to_table(format="gadf")
    back = MapAxes.from_table(table, format="gadf")
    assert back["dataset"] == axis and back["energy"] == energy


def test_time_axis():
    t0 = Time("2020-01-01T00:00:00", scale="utc")
    axis = TimeMapAxis.from_time_bounds(t0, t0 + 4 * u.h, nbin=4, unit="h")
    assert axis.nbin == 4 and axis.is_contiguous
    assert_allclose(axis.edges.to_value("h"), [0, 1, 2, 3, 4])
    assert_allclose(axis.time_delta.to_value("h"), 1)
    assert_allclose((axis.time_mid[0] - t0).to_value("min"), 30, rtol=1e-9)
    times = t0 + [0.5, 0.999, 3.99, 5.0, -1.0] * u.h
    assert_array_equal(axis.coord_to_idx(times), [0, 0, 3, -1, -1])
    assert_array_equal(axis.coord_to_idx(times, clip=True), [0, 0, 3, 3, 0])
    sliced = axis.slice(slice(1, 3))
    assert sliced.nbin == 2
    assert abs((sliced.time_min[0] - t0).to_value("s") - 3600) < 1e-3
    squashed = axis.squash()
    assert squashed.nbin == 1
    assert abs((squashed.time_max[0] - t0).to_value("s") - 4 * 3600) < 1e-3
    gaps = TimeMapAxis.from_time_edges(t0 + [0, 2] * u.h, t0 + [1, 3] * u.h)
    assert not gaps.is_contiguous
    assert_array_equal(gaps.coord_to_idx(t0 + [0.5, 1.5, 2.5] * u.h), [0, -1, 1])
    with pytest.raises(ValueError, match="contiguous"):
        _ = gaps.edges
    table = gaps.to_table(format="gadf")
    assert table.colnames == ["CHANNEL", "TIME_MIN", "TIME_MAX"]
    assert_allclose(table["TIME_MIN"].quantity.value, (t0 + [0, 2] * u.h).mjd)
    back = TimeMapAxis.from_table(table, format="gadf")
    assert back == gaps
    lc = TimeMapAxis.from_table(gaps.to_table(format="lightcurve"), format="lightcurve")
    assert lc == gaps
    gti = Table({"START": [10.0, 100.0] * u.s, "STOP": [50.0, 200.0] * u.s},
                meta={"MJDREFI": 51910, "MJDREFF": 7.428703703703703e-4, "TIMESYS": "TT"})
    from_gti = TimeMapAxis.from_gti(gti)
    assert_allclose(from_gti.time_delta.to_value("s"), [40, 100], rtol=1e-6)
    with pytest.raises(ValueError, match="stop <= start"):
        TimeMapAxis([1, 2] * u.d, [0.5, 3] * u.d, t0)


# ---------------------------------------------------------------------- MapCoord
def test_map_coord_create_and_frames():
    sky = SkyCoord([83.63, 84.0], [22.01, 22.5], unit="deg", frame="icrs")
    coord = MapCoord.create({"skycoord": sky, "energy": [[1], [2], [3]] * u.TeV})
    assert coord.frame == "icrs" and coord.shape == (3, 2)
    assert coord["energy"].shape == (3, 2)
    assert_allclose(coord.lon[0], [83.63, 84.0])
    gal = coord.to_frame("galactic")
    expected = sky.galactic
    assert_allclose(gal.lon[0], expected.l.deg, atol=1e-10)
    assert_allclose(gal.lat[0], expected.b.deg, atol=1e-10)
    assert_allclose(gal["energy"][:, 0].value, [1, 2, 3])
    masked = coord.apply_mask(coord["energy"] > 1.5 * u.TeV)
    assert masked.shape == (4,)
    tup = MapCoord.create((1.0 * u.rad, 0.0, [1, 2]), frame="galactic")
    assert_allclose(tup.lon, np.degrees(1.0))
    assert not tup.match_by_name and tup.axis_names == ["lon", "lat", "axis0"]
    named = MapCoord.create((sky, [1, 2] * u.TeV), axis_names=["energy"], frame="galactic")
    assert named.match_by_name and named.frame == "galactic"
    assert_allclose(named.lon, expected.l.deg, atol=1e-10)
    with pytest.raises(ValueError, match="broadcast"):
        MapCoord({"lon": [1, 2], "lat": [1, 2, 3]})
    with pytest.raises(ValueError, match="lon"):
        MapCoord({"lat": 1})


def test_axis_plot_helpers(tmp_path):
    import matplotlib.pyplot as plt

    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    assert axis.as_plot_scale == "log"
    lo, hi = axis.as_plot_xerr
    assert_allclose((lo + hi).value, axis.bin_width.value)
    assert axis.as_plot_labels[0] == "1.00e+00 - 2.15e+00 TeV"
    fig, ax = plt.subplots()
    axis.format_plot_xaxis(ax)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Energy [TeV]"
    ax.plot(axis.as_plot_center.value, np.ones(3))
    fig.savefig(tmp_path / "axis.png")
    plt.close(fig)
