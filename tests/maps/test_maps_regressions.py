"""Regression tests of gammapipe.maps (bugs found after the first release of the package).

* ``MapAxis.coord_to_pix(axis.center)`` gave ``-5.55e-17`` for the first bin of a log axis,
  so that ``Map.interp_by_coord(..., fill_value=0)`` returned 0 at the first node.
* Counts of RA/DEC events in galactic geometries vs the reference tool (frame and
  precision of the sky -> galactic conversion); data: CTA first data challenge (1DC), GPS
  run 110380, CTA Consortium.
* Geometry caches (``to_image``, solid angle, coordinates) shared by derived geometries.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammapipe.maps import Map, MapAxis, RegionGeom, WcsGeom

AXES = [
    ("log", 0.1, 100.0),
    ("lin", -3.3, 100.0),
    ("sqrt", 0.1, 100.0),
]


def _axis(interp, lo, hi, node_type, nbin=17):
    return MapAxis.from_bounds(
        lo, hi, nbin, interp=interp, name="energy", unit="TeV", node_type=node_type
    )


@pytest.mark.parametrize("node_type", ["edges", "center"])
@pytest.mark.parametrize(("interp", "lo", "hi"), AXES)
def test_axis_centres_and_edges_map_to_exact_pixels(interp, lo, hi, node_type):
    axis = _axis(interp, lo, hi, node_type)
    pix_center = axis.coord_to_pix(axis.center)
    pix_edges = axis.coord_to_pix(axis.edges)
    # exactly (not approximately): integers at the centres, half-integers at the edges
    np.testing.assert_array_equal(pix_center, np.arange(axis.nbin, dtype=float))
    np.testing.assert_array_equal(pix_edges, np.arange(axis.nbin + 1, dtype=float) - 0.5)
    # first and last node as scalars too
    assert axis.coord_to_pix(axis.center[0]) == 0.0
    assert axis.coord_to_pix(axis.center[-1]) == axis.nbin - 1.0
    # the given nodes themselves
    expected_nodes = np.arange(axis.nbin + (node_type == "edges"), dtype=float)
    if node_type == "edges":
        expected_nodes -= 0.5
    np.testing.assert_array_equal(axis.coord_to_pix(axis.nodes), expected_nodes)


def test_axis_coord_to_pix_between_nodes_unchanged():
    axis = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    # geometric mean of the centres of bins 0 and 1 is at pixel 0.5 on a log axis
    energy = np.sqrt(axis.center[0] * axis.center[1])
    assert axis.coord_to_pix(energy) == pytest.approx(0.5, abs=1e-14)
    # 1 TeV and 10 TeV: edges at -0.5 and 1.5 (exact), 100 TeV extrapolated to 3.5
    np.testing.assert_allclose(axis.coord_to_pix([1, 10, 100] * u.TeV), [-0.5, 1.5, 3.5],
                               atol=1e-14)


def _log_energy_map(node_type):
    axis = _axis("log", 0.1, 100.0, node_type, nbin=6)
    geom = WcsGeom.create(skydir=(0, 0), width=1.0, binsz=0.5, axes=[axis])
    data = np.broadcast_to((np.arange(axis.nbin) + 1.0)[:, None, None] * 10.0,
                           geom.data_shape).copy()
    return Map.from_geom(geom, data=data), axis


@pytest.mark.parametrize("node_type", ["edges", "center"])
@pytest.mark.parametrize("values_scale", ["lin", "log", "sqrt"])
def test_interp_by_coord_at_exact_nodes_returns_node_values(node_type, values_scale):
    m, axis = _log_energy_map(node_type)
    coords = {"lon": 0.25 * u.deg, "lat": 0.25 * u.deg, "energy": axis.center}
    values = m.interp_by_coord(coords, fill_value=0, values_scale=values_scale)
    np.testing.assert_allclose(values, 10.0 * (np.arange(axis.nbin) + 1), rtol=1e-13)
    assert values[0] != 0 and values[-1] != 0


@pytest.mark.parametrize(("interp", "lo", "hi"), AXES)
def test_interp_region_map_first_and_last_node(interp, lo, hi):
    axis = _axis(interp, lo, hi, "edges", nbin=5)
    geom = RegionGeom.create("icrs;circle(83.63, 22.01, 0.1)", axes=[axis])
    m = Map.from_geom(geom, data=np.arange(1.0, 6.0).reshape(5, 1, 1))
    values = m.interp_by_coord({"skycoord": geom.center_skydir, "energy": axis.center},
                               fill_value=0)
    np.testing.assert_allclose(np.ravel(values), np.arange(1.0, 6.0), rtol=1e-13)


def test_interp_by_coord_tolerates_independently_computed_nodes_only():
    m, axis = _log_energy_map("center")
    # nodes recomputed with geomspace differ from the axis nodes by ulps at most
    energy = np.geomspace(0.1, 100.0, 6) * u.TeV
    values = m.interp_by_coord({"lon": 0.25, "lat": 0.25, "energy": energy}, fill_value=0)
    np.testing.assert_allclose(values, 10.0 * np.arange(1, 7), rtol=1e-12)
    # a coordinate truly outside (1e-6 in log space below the first node) is filled
    outside = [0.1 * np.exp(-1e-6), 100.0 * np.exp(1e-6)] * u.TeV
    values = m.interp_by_coord({"lon": 0.25, "lat": 0.25, "energy": outside}, fill_value=0)
    np.testing.assert_array_equal(values, [0.0, 0.0])
    # without fill value it is extrapolated linearly in pixels
    values = m.interp_by_coord({"lon": 0.25, "lat": 0.25, "energy": outside}, fill_value=None)
    step = 1e-6 / np.log(10.0 ** (3 / 5))
    np.testing.assert_allclose(values, [10.0 - 10.0 * step, 60.0 + 10.0 * step], rtol=1e-9)


# ---------------------------------------------------------------------------------------
# Counts in galactic geometries from RA/DEC events (CTA 1DC GPS run 110380).
#
# Finding (the reference tool run as a black box on the same events, counts geometry of
# `_gps_geom`): it also takes RA/DEC as ICRS (not FK5, although the 1DC event header says
# RADECSYS = 'FK5', EQUINOX = 2000), but it keeps the float32 RA/DEC columns in float32 in
# the ICRS -> Galactic rotation: its (l, b) equal astropy's float32 transformation to the
# last bit and differ from the float64 one by up to 0.1 arcsec (median 0.028 arcsec), which
# moves events into a neighbouring 0.05 deg pixel. gammapipe computes in
# float64, i.e. transforms exactly the stored values: kept as is. (The two counts maps
# differ by +-1 in 28 pixels; 27 events get other pixel coordinates.) Frame: the gamma-astro-
# data-formats coordinates page recommends taking RA/DEC as ICRS (the FK5 J2000 - ICRS
# difference, 0.032 arcsec, is irrelevant for gamma-ray astronomy and below the float32
# storage step of RA, 0.055 arcsec at RA = 267 deg); the reference tool does the same, so
# gammapipe keeps ICRS (FK5 would move 4 of these 45470 events, and 13 of the 19239
# H.E.S.S. Crab events of the 4x4 deg 0.02 deg geometry, away from the reference pixels).
# ---------------------------------------------------------------------------------------

GPS_RUN = "cta-1dc/data/baseline/gps/gps_baseline_110380.fits"


def _gps_events(data_dir):
    path = data_dir / GPS_RUN
    if not path.exists():
        pytest.skip(f"CTA 1DC GPS run not found: {path}")
    from gammapipe.data import EventList

    return EventList.read(path)


def _gps_geom():
    from astropy.coordinates import SkyCoord

    pnt = SkyCoord(267.68121338, -29.6075, unit="deg", frame="icrs").galactic
    axis = MapAxis.from_energy_bounds(0.1, 100, 10, unit="TeV")
    return WcsGeom.create(skydir=(pnt.l.deg, pnt.b.deg), binsz=0.05, width=(6, 6),
                          frame="galactic", proj="CAR", axes=[axis])


def _histogram(geom, skycoord, energy):
    idx = geom.coord_to_idx({"skycoord": skycoord, "energy": energy})
    m = Map.from_geom(geom)
    m.fill_by_idx(idx)
    return m.data


def test_fill_events_galactic_is_float64_icrs_transform(data_dir):
    """CTA 1DC GPS run 110380 (CTA first data challenge, CTA Consortium)."""
    from astropy.coordinates import SkyCoord
    from astropy.io import fits

    events = _gps_events(data_dir)
    geom = _gps_geom()
    counts = Map.from_geom(geom)
    counts.fill_events(events)
    assert counts.data.sum() == 45470  # same total as the reference tool

    table = fits.getdata(data_dir / GPS_RUN, "EVENTS")
    header = fits.getheader(data_dir / GPS_RUN, "EVENTS")
    assert header["RADECSYS"].strip() == "FK5" and header["EQUINOX"] == 2000
    assert table["RA"].dtype.kind == "f" and table["RA"].dtype.itemsize == 4
    ra = table["RA"].astype(np.float64)
    dec = table["DEC"].astype(np.float64)
    energy = table["ENERGY"].astype(np.float64) * u.TeV

    # exactly the float64 ICRS -> Galactic transformation of the stored values
    icrs = SkyCoord(ra, dec, unit="deg", frame="icrs")
    np.testing.assert_array_equal(counts.data, _histogram(geom, icrs, energy))

    # the reference tool's float32 arithmetic: up to ~0.1 arcsec off, 28 events moved
    icrs32 = SkyCoord(u.Quantity(table["RA"].astype(np.float32), "deg"),
                      u.Quantity(table["DEC"].astype(np.float32), "deg"), frame="icrs")
    offset = icrs32.galactic.separation(icrs.galactic).arcsec
    assert 0.05 < offset.max() < 0.2
    assert 0.01 < np.median(offset) < 0.05
    moved32 = np.abs(_histogram(geom, icrs32, energy) - counts.data).sum()
    # 28 in the reference environment (the counts maps of the reference tool and of
    # gammapipe differ by +-1 in 28 pixels: 14 events in a neighbouring pixel)
    assert 10 <= moved32 <= 60

    # FK5 J2000 (the declared frame) differs from ICRS by the frame bias only
    fk5 = SkyCoord(ra, dec, unit="deg", frame="fk5", equinox="J2000")
    bias = fk5.galactic.separation(icrs.galactic).arcsec
    np.testing.assert_allclose(bias.max(), 0.0317, atol=5e-4)
    moved_fk5 = np.abs(_histogram(geom, fk5, energy) - counts.data).sum() // 2
    assert moved_fk5 == 4


# ---------------------------------------------------------------------------------------
# Geometry caches: a WcsGeom is immutable; derived geometries with the same image share
# the WCS and the image cache (coordinates, solid angles, world -> pixel transformation).
# ---------------------------------------------------------------------------------------


def _cube_geom():
    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    return WcsGeom.create(skydir=(83.63, 22.01), binsz=0.1, width=(3, 2), frame="icrs",
                          proj="TAN", axes=[axis])


def test_wcs_geom_to_image_cached_and_shares_image_cache():
    geom = _cube_geom()
    image = geom.to_image()
    assert geom.to_image() is image
    assert image.to_image() is image
    assert image.data_shape == (20, 30) and geom.data_shape == (3, 20, 30)
    # same numbers as a geometry built from scratch, computed once for both
    fresh = WcsGeom.create(skydir=(83.63, 22.01), binsz=0.1, width=(3, 2), frame="icrs",
                           proj="TAN")
    np.testing.assert_array_equal(image.solid_angle().value, fresh.solid_angle().value)
    assert np.shares_memory(geom.solid_angle().value, image.solid_angle().value)
    # pixel solid angles sum to the solid angle of the TAN image (3 x 2 deg, ~1.83e-3 sr)
    assert image.solid_angle().sum().to_value("sr") == pytest.approx(1.8273e-3, rel=1e-3)
    lon = geom.get_coord()["lon"]
    assert not lon.flags.writeable
    with pytest.raises(ValueError):
        geom.solid_angle().value[0, 0] = 1.0
    other_axes = geom.to_cube([MapAxis.from_bounds(0, 1, 2, name="x")])
    assert other_axes.wcs is geom.wcs
    assert np.shares_memory(other_axes.solid_angle().value, image.solid_angle().value)


def test_wcs_geom_copies_do_not_share_mutable_state():
    import copy
    import pickle

    geom = _cube_geom()
    geom.solid_angle()
    deep = copy.deepcopy(geom)
    assert deep.wcs is not geom.wcs
    assert deep == geom
    restored = pickle.loads(pickle.dumps(geom))
    assert restored == geom
    np.testing.assert_array_equal(restored.solid_angle().value, geom.solid_angle().value)
    x, y, _ = restored.coord_to_pix({"lon": 83.63, "lat": 22.01, "energy": 2 * u.TeV})
    np.testing.assert_allclose([x, y], [14.5, 9.5], atol=1e-9)
    # a cutout has its own WCS (other reference pixel)
    cut = geom.cutout((83.63, 22.01), width=1.0)
    assert cut.wcs is not geom.wcs
    np.testing.assert_allclose(cut.wcs.wcs.crpix, geom.wcs.wcs.crpix - [10, 5])


@pytest.mark.parametrize("mode", ["trim", "partial"])
@pytest.mark.parametrize("position", [(83.63, 22.01), (85.0, 22.8), (81.9, 21.2)])
def test_cutout_slices_match_overlap_of_geometries(mode, position):
    from gammapipe.maps._wcs_ops import overlap_slices

    geom = _cube_geom()
    m = Map.from_geom(geom, data=np.arange(np.prod(geom.data_shape), dtype=float).reshape(
        geom.data_shape))
    cut, parent, child = geom._cutout_info(position, 1.2, mode=mode)
    assert (parent, child) == overlap_slices(geom, cut)
    out = m.cutout(position, 1.2, mode=mode)
    assert out.geom == cut
    expected = np.zeros(cut.data_shape)
    expected[(Ellipsis,) + child] = m.data[(Ellipsis,) + parent]
    np.testing.assert_array_equal(out.data, expected)
    assert not np.shares_memory(out.data, m.data)
    # world coordinates of the cutout pixels are those of the parent pixels
    lon_c, lat_c = cut.to_image().get_coord()["lon"], cut.to_image().get_coord()["lat"]
    lon_p, lat_p = geom.to_image().get_coord()["lon"], geom.to_image().get_coord()["lat"]
    np.testing.assert_allclose(lon_c[child], lon_p[parent], atol=1e-10)
    np.testing.assert_allclose(lat_c[child], lat_p[parent], atol=1e-10)


def test_wcs_geom_coord_to_pix_converts_axis_units():
    """Energies given in GeV on a TeV axis: converted, not read as TeV (found with the
    node-exactness fix: the broadcasting helper dropped the Quantity unit)."""
    axis = MapAxis.from_energy_bounds(0.3, 70, 7, unit="TeV")
    geom = WcsGeom.create(skydir=(0, 0), width=1, binsz=0.5, axes=[axis])
    m = Map.from_geom(geom, data=np.broadcast_to(np.arange(1.0, 8.0)[:, None, None],
                                                 geom.data_shape).copy())
    energy = axis.center.to("GeV")
    pix = geom.coord_to_pix({"lon": 15 * u.arcmin, "lat": 0.25, "energy": energy})
    np.testing.assert_allclose(pix[2], np.arange(7.0), atol=1e-12)
    np.testing.assert_allclose(pix[1], 1.0, atol=1e-12)
    values = m.interp_by_coord({"lon": 0.25, "lat": 0.25, "energy": energy}, fill_value=0)
    np.testing.assert_allclose(values, np.arange(1.0, 8.0), rtol=1e-12)
    idx = geom.coord_to_idx({"lon": 0.25, "lat": 0.25, "energy": 5000 * u.GeV})
    assert int(idx[2]) == axis.coord_to_idx(5 * u.TeV)


def test_get_by_coord_scalar_gives_one_element_array():
    """As the reference tool: ``m.get_by_coord({"skycoord": scalar})[0]`` works (used by
    the reference workflow makers_map.py)."""
    from astropy.coordinates import SkyCoord

    geom = _cube_geom()
    m = Map.from_geom(geom, data=np.arange(np.prod(geom.data_shape), dtype=float).reshape(
        geom.data_shape))
    lon, lat = geom.to_image().pix_to_coord((15.0, 10.0))
    position = SkyCoord(float(lon), float(lat), unit="deg", frame="icrs")
    values = m.get_by_coord({"skycoord": position, "energy": 3 * u.TeV})
    assert values.shape == (1,)
    assert values[0] == m.data[1, 10, 15] == 915.0
    assert m.get_by_pix((15, 10, 1)).shape == (1,)
    assert m.get_by_idx((15, 10, 1))[0] == 915.0
    image = Map.from_geom(geom.to_image(), data=m.data[1])
    assert image.get_by_coord({"skycoord": position}).tolist() == [915.0]
    outside = m.get_by_coord({"lon": 100.0, "lat": 0.0, "energy": 3 * u.TeV})
    assert outside.shape == (1,) and np.isnan(outside[0])
    lon = np.full((2, 3), 83.63)
    assert m.get_by_coord({"lon": lon, "lat": 22.01, "energy": 3 * u.TeV}).shape == (2, 3)
