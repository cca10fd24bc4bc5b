"""WcsNDMap: interpolation, filling, smoothing, arithmetic, geometry operations."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.wcs import WCS

from gammapipe.maps import Map, MapAxis, RegionNDMap, WcsGeom, WcsNDMap
from gammapipe.maps._convolve import box_kernel, convolve_images, disk_kernel, gauss_kernel
from gammapipe.maps._fast_wcs import world_to_pix
from gammapipe.maps._interp import interp_linear_pix, interp_pix
from gammapipe.utils.errors import GammapipeError, GeometryError, UnitError

# ----------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("kernel", [gauss_kernel, disk_kernel, box_kernel])
def test_kernels_unit_sum_odd_symmetric(kernel):
    k = kernel(2.7)
    assert k.shape[0] % 2 == 1 and k.shape[0] == k.shape[1]
    assert k.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-16)
    np.testing.assert_allclose(k, k.T, atol=1e-16)
    assert k[k.shape[0] // 2, k.shape[1] // 2] == k.max()


def test_disk_kernel_pixels_inside_radius():
    k = disk_kernel(3.0)
    y, x = np.mgrid[-3:4, -3:4]
    np.testing.assert_array_equal(k > 0, x**2 + y**2 <= 9)
    assert k.shape == (7, 7)


def test_box_kernel_fractional_edges():
    # width 2 pixels: centre pixel full, neighbours half
    k1 = box_kernel(2.0)
    assert k1.shape == (3, 3)
    np.testing.assert_allclose(k1 / k1.max(), np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]))


def test_convolve_images_per_plane_kernels():
    data = np.zeros((2, 21, 21))
    data[:, 10, 10] = [1.0, 2.0]
    kernels = np.stack([gauss_kernel(1.0, size=9), disk_kernel(2.0, size=9)])
    out = convolve_images(data, kernels)
    np.testing.assert_allclose(out[0, 6:15, 6:15], kernels[0], atol=1e-15)
    np.testing.assert_allclose(out[1, 6:15, 6:15], 2 * kernels[1], atol=1e-15)


# ----------------------------------------------------------------------------- interpolation


def test_interp_linear_pix_exact_for_multilinear_function():
    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(np.arange(4.0), np.arange(5.0), np.arange(6.0), indexing="ij")
    data = 1.5 + 2.0 * x - 0.5 * y + 3.0 * z + 0.25 * x * y * z
    pts = [rng.uniform(0, n - 1, 1000) for n in data.shape]
    expected = 1.5 + 2.0 * pts[2] - 0.5 * pts[1] + 3.0 * pts[0] + 0.25 * pts[0] * pts[1] * pts[2]
    np.testing.assert_allclose(interp_linear_pix(data, pts), expected, rtol=1e-12)


def test_interp_pix_fill_and_extrapolation():
    data = np.arange(5.0)
    assert np.isnan(interp_pix(data, [np.array([-0.1])], fill_value=np.nan)[0])
    assert interp_pix(data, [np.array([5.5])], fill_value=None)[0] == pytest.approx(5.5)
    assert interp_pix(data, [np.array([2.6])], method="nearest")[0] == 3.0
    assert interp_pix(data, [np.array([4.4])], method="nearest")[0] == 4.0
    assert np.isnan(interp_pix(data, [np.array([4.6])], method="nearest")[0])
    with pytest.raises(GammapipeError, match="values_scale"):
        interp_pix(data, [np.array([1.0])], values_scale="cubic")
    with pytest.raises(GammapipeError, match="method"):
        interp_pix(data, [np.array([1.0])], method="spline")


# ----------------------------------------------------------------------------- fast WCS


@pytest.mark.parametrize("proj", ["CAR", "TAN", "SIN", "ARC", "ZEA", "STG", "AIT"])
@pytest.mark.parametrize("crval", [(83.633, 22.014), (0.0, 0.0), (350.0, -60.0), (180, 89.0)])
def test_world_to_pix_matches_wcslib(proj, crval):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"RA---{proj}", f"DEC--{proj}"]
    wcs.wcs.crval = crval
    wcs.wcs.crpix = [250.5, 200.5]
    wcs.wcs.cdelt = [-0.02, 0.02]
    rng = np.random.default_rng(1)
    lon = crval[0] + rng.uniform(-5, 5, 20000)
    lat = np.clip(crval[1] + rng.uniform(-5, 5, 20000), -90, 90)
    x0, y0 = wcs.wcs_world2pix(lon, lat, 0)
    x, y = world_to_pix(wcs, lon, lat)
    np.testing.assert_allclose(x, x0, atol=1e-7)
    np.testing.assert_allclose(y, y0, atol=1e-7)


# ----------------------------------------------------------------------------- maps

CRAB = SkyCoord(83.633, 22.014, unit="deg")


def _energy_axis(nbin=4, name="energy"):
    return MapAxis.from_energy_bounds(1, 10, nbin, unit="TeV", name=name)


def _cube(proj="TAN", dtype="float32", unit="", npix=(40, 30), binsz=0.05, axes=None):
    axes = [_energy_axis()] if axes is None else axes
    return Map.create(npix=npix, binsz=binsz, skydir=CRAB, frame="icrs", proj=proj, axes=axes,
                      dtype=dtype, unit=unit)


def test_create_attributes_and_quantity():
    m = _cube(unit="cm-2 s-1")
    assert isinstance(m, WcsNDMap)
    assert m.data.shape == (4, 30, 40) == m.geom.data_shape
    assert m.data.dtype == np.float32
    assert m.unit == u.Unit("cm-2 s-1")
    assert not m.is_mask
    m.quantity = np.ones(m.data.shape) * u.m**-2
    assert m.unit == u.Unit("m-2") and m.data.sum() == 4 * 30 * 40
    assert m.quantity.unit == u.Unit("m-2")
    m2 = Map.from_geom(m.geom, unit="TeV", dtype="int32")
    assert isinstance(m2, WcsNDMap) and m2.data.dtype == np.int32 and m2.unit == u.TeV
    with pytest.raises(GeometryError, match="does not match"):
        m.data = np.zeros((3, 30, 40))
    assert np.asarray(m).shape == m.data.shape


def test_interp_by_coord_linear_function_exact():
    x_axis = MapAxis.from_edges(np.linspace(0, 10, 11), name="x", unit="m", interp="lin")
    m = _cube(axes=[x_axis], dtype="float64")
    x_node = x_axis.center.to_value("m")[:, None, None]
    y_pix, x_pix = np.mgrid[0:30, 0:40]
    m.data = 1.5 + 0.3 * x_pix - 0.7 * y_pix + 2.0 * x_node
    rng = np.random.default_rng(3)
    lon = CRAB.ra.deg + rng.uniform(-0.8, 0.8, 500)
    lat = CRAB.dec.deg + rng.uniform(-0.6, 0.6, 500)
    xq = rng.uniform(0.5, 9.5, 500)
    px, py = m.geom.wcs.wcs_world2pix(lon, lat, 0)
    np.testing.assert_allclose(m.geom.coord_to_pix((lon, lat, xq))[:2], (px, py), atol=1e-8)
    # the pixel transformation is the geometry's; test the interpolation on its pixels
    px, py = m.geom.coord_to_pix((lon, lat, xq))[:2]
    inside = (px >= 0) & (px <= 39) & (py >= 0) & (py <= 29)
    values = m.interp_by_coord({"lon": lon, "lat": lat, "x": xq * u.m})
    expected = 1.5 + 0.3 * px - 0.7 * py + 2.0 * xq
    np.testing.assert_allclose(values[inside], expected[inside], rtol=1e-12)
    # outside the map: extrapolated with fill_value=None, NaN with fill_value=nan
    nan_values = m.interp_by_coord({"lon": lon, "lat": lat, "x": xq * u.m}, fill_value=np.nan)
    assert np.all(np.isnan(nan_values[~inside]))
    assert np.all(np.isfinite(nan_values[inside]))


def test_interp_by_coord_power_law_on_log_axis_exact():
    axis = MapAxis.from_energy_bounds(0.1, 100, 12, unit="TeV")
    m = _cube(axes=[axis], dtype="float64", unit="cm-2 s-1 TeV-1")
    energy = m.geom.get_coord()["energy"].to_value("TeV")
    m.data = 3e-11 * energy**-2.3
    rng = np.random.default_rng(5)
    e = 10 ** rng.uniform(np.log10(0.14), np.log10(70), 300)
    coords = {"skycoord": CRAB, "energy": e * u.TeV}
    values = m.interp_by_coord(coords, values_scale="log")
    np.testing.assert_allclose(values, 3e-11 * e**-2.3, rtol=1e-12)
    # nearest: value of the bin containing e
    nearest = m.interp_by_coord(coords, method="nearest")
    idx = np.searchsorted(axis.edges.to_value("TeV"), e) - 1
    np.testing.assert_allclose(nearest, 3e-11 * axis.center.to_value("TeV")[idx] ** -2.3,
                               rtol=1e-6)


class _Events:
    def __init__(self, table):
        self.table = table
        self.radec = SkyCoord(table["RA"], table["DEC"], frame="icrs")
        self.energy = table["ENERGY"].quantity


def _random_events(n=200_000, seed=7):
    rng = np.random.default_rng(seed)
    table = Table()
    table["RA"] = (CRAB.ra.deg + rng.normal(0, 0.7, n)) * u.deg
    table["DEC"] = (CRAB.dec.deg + rng.normal(0, 0.7, n)) * u.deg
    table["ENERGY"] = 10 ** rng.uniform(-0.2, 1.2, n) * u.TeV
    return table


@pytest.mark.parametrize("proj", ["CAR", "TAN"])
def test_fill_events_equals_histogramdd(proj):
    table = _random_events()
    m = _cube(proj=proj, npix=(60, 50), binsz=0.03)
    m.fill_events(_Events(table))
    x, y = m.geom.wcs.wcs_world2pix(table["RA"], table["DEC"], 0)
    edges = m.geom.axes["energy"].edges.to_value("TeV")
    hist, _ = np.histogramdd(
        (np.asarray(table["ENERGY"]), y, x),
        bins=(edges, np.arange(51) - 0.5, np.arange(61) - 0.5),
    )
    np.testing.assert_array_equal(m.data, hist)
    assert 0 < m.data.sum() < len(table)
    # a plain table and explicit weights
    m2 = Map.from_geom(m.geom)
    m2.fill_events(table, weights=np.full(len(table), 0.5))
    np.testing.assert_allclose(m2.data, 0.5 * hist)
    # the generic coordinate path gives the same histogram
    m3 = Map.from_geom(m.geom)
    m3.fill_by_coord({"skycoord": SkyCoord(table["RA"], table["DEC"]),
                      "energy": table["ENERGY"].quantity})
    np.testing.assert_array_equal(m3.data, hist)


def test_get_set_by_coord_idx_pix():
    m = _cube(dtype="float64")
    m.data = np.arange(m.data.size, dtype=float).reshape(m.data.shape)
    assert m.get_by_idx((3, 2, 1)) == m.data[1, 2, 3]
    assert m.get_by_pix((3.4, 1.6, 0.6)) == m.data[1, 2, 3]
    lon, lat = m.geom.wcs.wcs_pix2world(3, 2, 0)
    e = m.geom.axes["energy"].center[1]
    assert m.get_by_coord({"lon": lon, "lat": lat, "energy": e}) == m.data[1, 2, 3]
    assert np.isnan(m.get_by_coord({"lon": lon + 40, "lat": lat, "energy": e}))
    m.set_by_coord({"lon": lon, "lat": lat, "energy": e}, -5.0)
    assert m.data[1, 2, 3] == -5.0
    m.set_by_idx((0, 0, 0), 7.0)
    assert m.data[0, 0, 0] == 7.0
    with pytest.raises(GeometryError):
        m.get_by_idx((100, 0, 0))


def test_smooth_preserves_total_and_gauss_delta_is_analytic():
    m = _cube(npix=(61, 61), binsz=0.02, dtype="float64", axes=[_energy_axis(2)])
    rng = np.random.default_rng(1)
    m.data[:, 20:41, 20:41] = rng.uniform(0, 1, (2, 21, 21))
    for kernel, width in [("gauss", "0.05 deg"), ("disk", 0.1 * u.deg), ("box", 6)]:
        s = m.smooth(width, kernel=kernel)
        np.testing.assert_allclose(s.data.sum(axis=(1, 2)), m.data.sum(axis=(1, 2)), rtol=1e-12)
        assert s.data.max() < m.data.max()
    delta = Map.from_geom(m.geom.to_image(), dtype="float64")
    delta.data[30, 30] = 1.0
    sigma_pix = 3.0
    smoothed = delta.smooth(sigma_pix * 0.02 * u.deg, kernel="gauss")
    y, x = np.mgrid[0:61, 0:61]
    r2 = (x - 30) ** 2 + (y - 30) ** 2
    analytic = np.exp(-0.5 * r2 / sigma_pix**2) / (2 * np.pi * sigma_pix**2)
    core = r2 <= (3 * sigma_pix) ** 2
    np.testing.assert_allclose(smoothed.data[core], analytic[core], rtol=2e-3)
    # disk of radius 3 px: the 29 pixel centres within 3 px share the delta equally
    disk = delta.smooth(3, kernel="disk")
    assert np.count_nonzero(disk.data > 1e-12) == 29
    np.testing.assert_allclose(disk.data[r2 <= 9], 1 / 29, rtol=1e-12)
    # box of 5 px: 25 pixels of 1/25
    box = delta.smooth(5, kernel="box")
    np.testing.assert_allclose(box.data[25:36, 25:36][3:8, 3:8], 1 / 25, rtol=1e-12)
    assert box.data.sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(GammapipeError, match="kernel"):
        m.smooth(2, kernel="triangle")


def test_convolve_with_kernel_per_plane():
    m = _cube(npix=(31, 31), dtype="float64", axes=[_energy_axis(2)])
    m.data[:, 15, 15] = 1.0
    kernels = np.stack([gauss_kernel(1.0, size=7), box_kernel(3.0, size=7)])
    out = m.convolve(kernels)
    np.testing.assert_allclose(out.data[0, 12:19, 12:19], kernels[0], atol=1e-15)
    np.testing.assert_allclose(out.data[1, 12:19, 12:19], kernels[1], atol=1e-15)


def test_arithmetic_units_and_geometry_checks():
    a = _cube(unit="m2", dtype="float64")
    a.data += 2.0
    b = Map.from_geom(a.geom, unit="cm2", dtype="float64")
    b.data += 1e4
    c = a + b
    assert c.unit == u.m**2 and np.allclose(c.data, 3.0)
    d = a * b
    assert d.unit == u.Unit("m2 cm2") and np.allclose(d.data, 2e4)
    assert np.allclose((a / (2 * u.m**2)).data, 1.0)
    assert (a / (2 * u.m**2)).unit == u.dimensionless_unscaled
    assert np.allclose((a**2).data, 4.0) and (a**2).unit == u.m**4
    assert np.allclose((a - 1 * u.m**2).data, 1.0)
    assert np.allclose((3 * u.m**2 - a).data, 1.0)
    assert np.allclose((1 / a).data, 0.5) and (1 / a).unit == u.m**-2
    with pytest.raises(UnitError, match="s"):
        a + 1 * u.s
    other = _cube(npix=(10, 10), unit="m2")
    with pytest.raises(GeometryError, match=r"\(4, 30, 40\).*\(4, 10, 10\)"):
        a + other
    a += b
    assert np.allclose(a.data, 3.0) and a.unit == u.m**2
    a *= 2
    assert np.allclose(a.data, 6.0)
    a -= 1 * u.m**2
    assert np.allclose(a.data, 5.0)
    a /= 5 * u.s
    assert np.allclose(a.data, 1.0) and a.unit == u.Unit("m2 / s")
    # image map broadcast over the energy axis
    image = Map.from_geom(a.geom.to_image(), dtype="float64") + 2.0
    assert np.allclose((a * image).data, 2.0)


def test_comparisons_and_boolean_masks():
    m = _cube(dtype="float64")
    m.data = np.linspace(-1, 1, m.data.size).reshape(m.data.shape)
    pos = m > 0
    neg = m <= 0
    assert pos.is_mask and pos.data.sum() + neg.data.sum() == m.data.size
    assert not np.any((pos & neg).data)
    assert np.all((pos | neg).data)
    assert np.all((pos ^ neg).data)
    np.testing.assert_array_equal((~pos).data, neg.data)
    with pytest.raises(TypeError, match="boolean"):
        m & pos
    assert (m == m).data.all()


def test_reductions_slicing_and_resampling():
    m = _cube(dtype="float64", axes=[_energy_axis(4)])
    m.data[...] = np.arange(4)[:, None, None] + 1.0
    s = m.sum_over_axes()
    assert s.data.shape == (1, 30, 40) and np.allclose(s.data, 10.0)
    s2 = m.sum_over_axes(keepdims=False)
    assert s2.data.shape == (30, 40) and s2.geom.axes.names == []
    r = m.reduce("energy", func=np.maximum)
    assert np.allclose(r.data, 4.0)
    w = m.sum_over_axes(weights=m.copy(data=np.full(m.data.shape, 2.0)), keepdims=False)
    assert np.allclose(w.data, 20.0)
    sl = m.slice_by_idx({"energy": slice(1, 3)})
    assert sl.data.shape == (2, 30, 40) and np.allclose(sl.data[0], 2.0)
    img = m.get_image_by_idx((2,))
    assert img.data.shape == (30, 40) and np.allclose(img.data, 3.0)
    img = m.get_image_by_coord({"energy": 5 * u.TeV})
    assert np.allclose(img.data, 3.0)
    images = list(m.iter_by_image())
    assert len(images) == 4 and np.allclose(images[3].data, 4.0)
    coarse = MapAxis.from_energy_edges(m.geom.axes["energy"].edges[::2])
    rs = m.resample_axis(coarse)
    assert rs.data.shape == (2, 30, 40)
    np.testing.assert_allclose(rs.data[:, 0, 0], [3.0, 7.0])
    cube = m.get_image_by_idx((0,)).to_cube([_energy_axis(3)])
    assert cube.data.shape == (3, 30, 40) and np.allclose(cube.data, 1.0)
    image = s.to_image()
    assert image.data.shape == (30, 40) and image.geom.axes.names == []
    with pytest.raises(GeometryError, match="sum_over_axes"):
        m.to_image()
    stacked = Map.from_stack([img, img * 2], axis=MapAxis.from_edges([0, 1, 2], name="idx"))
    assert stacked.data.shape == (2, 30, 40) and np.allclose(stacked.data[1], 6.0)
    joined = Map.from_stack([m.slice_by_idx({"energy": slice(0, 2)}),
                             m.slice_by_idx({"energy": slice(2, 4)})], axis_name="energy")
    assert joined.is_allclose(m)


def test_cutout_stack_pad_crop():
    m = _cube(proj="CAR", npix=(50, 40), binsz=0.02, dtype="float64")
    m.data = np.random.default_rng(2).uniform(size=m.data.shape)
    cut = m.cutout(CRAB, 0.3 * u.deg)
    assert cut.data.shape == (4, 15, 15)
    corner = cut.geom.wcs.wcs_pix2world(0, 0, 0)
    ix, iy = (int(round(float(v))) for v in m.geom.wcs.wcs_world2pix(*corner, 0))
    np.testing.assert_array_equal(cut.data, m.data[:, iy:iy + 15, ix:ix + 15])
    total = Map.from_geom(m.geom, dtype="float64")
    total.stack(cut)
    total.stack(cut, weights=np.full(cut.data.shape, 2.0))
    np.testing.assert_allclose(total.data[:, iy:iy + 15, ix:ix + 15], 3 * cut.data)
    assert total.data.sum() == pytest.approx(3 * cut.data.sum())
    padded = m.pad(3, cval=-1.0)
    assert padded.data.shape == (4, 46, 56)
    np.testing.assert_array_equal(padded.data[:, 3:-3, 3:-3], m.data)
    assert np.all(padded.data[:, :3] == -1)
    lon, lat = m.geom.wcs.wcs_pix2world(10, 12, 0)
    np.testing.assert_allclose(padded.geom.wcs.wcs_world2pix(lon, lat, 0), [13, 15], atol=1e-9)
    cropped = padded.crop(3)
    np.testing.assert_array_equal(cropped.data, m.data)
    np.testing.assert_allclose(cropped.geom.wcs.wcs.crpix, m.geom.wcs.wcs.crpix)


def test_downsample_upsample_preserve_counts():
    m = _cube(proj="CAR", npix=(40, 30), binsz=0.02, dtype="float64")
    m.data = np.random.default_rng(3).uniform(size=m.data.shape)
    down = m.downsample(2)
    assert down.data.shape == (4, 15, 20)
    assert down.data.sum() == pytest.approx(m.data.sum())
    np.testing.assert_allclose(down.data[0, 0, 0], m.data[0, :2, :2].sum())
    lon, lat = down.geom.wcs.wcs_pix2world(0, 0, 0)
    np.testing.assert_allclose(m.geom.wcs.wcs_world2pix(lon, lat, 0), [0.5, 0.5], atol=1e-6)
    mean = m.downsample(2, preserve_counts=False)
    np.testing.assert_allclose(mean.data[0, 0, 0], m.data[0, :2, :2].mean())
    up = m.upsample(2)
    assert up.data.shape == (4, 60, 80)
    assert up.data.sum() == pytest.approx(m.data.sum())
    np.testing.assert_allclose(up.downsample(2).data, m.data)
    up_e = m.upsample(2, axis_name="energy")
    assert up_e.data.shape == (8, 30, 40) and up_e.geom.axes["energy"].nbin == 8
    down_e = up_e.downsample(2, axis_name="energy")
    np.testing.assert_allclose(down_e.data, m.data)
    with pytest.raises(GeometryError, match="divisible"):
        m.downsample(7)


def test_reproject_to_geom():
    m = _cube(proj="CAR", npix=(60, 60), binsz=0.02, dtype="float64", unit="ct")
    m.data[:, 20:40, 20:40] = 1.0
    same = m.reproject_to_geom(m.geom, precision_factor=4)
    np.testing.assert_allclose(same.data, m.data)
    coarse_geom = WcsGeom.create(skydir=CRAB, npix=(20, 20), binsz=0.05, proj="TAN",
                                 frame="icrs", axes=[_energy_axis()])
    counts = m.reproject_to_geom(coarse_geom, preserve_counts=True, precision_factor=10)
    np.testing.assert_allclose(counts.data.sum(axis=(1, 2)), m.data.sum(axis=(1, 2)), rtol=2e-2)
    gal_geom = WcsGeom.create(skydir=CRAB.galactic, npix=(60, 60), binsz=0.02, proj="CAR",
                              frame="galactic", axes=[_energy_axis()])
    gal = m.reproject_to_geom(gal_geom, preserve_counts=True)
    np.testing.assert_allclose(gal.data.sum(axis=(1, 2)), 400.0, rtol=2e-2)


def test_to_region_nd_map_and_mask_helpers():
    from regions import CircleSkyRegion, PointSkyRegion

    m = _cube(proj="CAR", npix=(51, 51), binsz=0.02, dtype="float64")
    m.data[...] = 1.0
    region = CircleSkyRegion(CRAB, 0.105 * u.deg)  # no pixel centre on the border
    spec = m.to_region_nd_map(region)
    assert isinstance(spec, RegionNDMap) and spec.data.shape == (4, 1, 1)
    coords = m.geom.to_image().get_coord()
    sep = SkyCoord(coords["lon"], coords["lat"], unit="deg").separation(CRAB)
    assert spec.data[0, 0, 0] == np.sum(sep < 0.105 * u.deg)
    assert spec.data[0, 0, 0] == m.geom.to_image().region_mask([region]).data.sum()
    point = m.to_region_nd_map(PointSkyRegion(CRAB))
    np.testing.assert_allclose(point.data.ravel(), 1.0)
    mask = Map.from_geom(m.geom.to_image(), data=np.asarray(sep < 0.105 * u.deg))
    assert mask.is_mask
    eroded = mask.binary_erode(0.04 * u.deg)
    dilated = mask.binary_dilate(0.04 * u.deg)
    assert eroded.data.sum() < mask.data.sum() < dilated.data.sum()
    assert np.all(mask.data[eroded.data]) and np.all(dilated.data[mask.data])
    far = SkyCoord(84.5, 22.014, unit="deg")
    nearest = mask.mask_nearest_position(far)
    assert nearest.separation(CRAB).deg == pytest.approx(0.1, abs=0.021)
    assert mask.get_by_coord({"skycoord": nearest})


def test_copy_is_allclose_to_unit():
    m = _cube(unit="m2 s", dtype="float64")
    m.data += 3.0
    c = m.copy()
    c.data += 1
    assert m.data[0, 0, 0] == 3.0
    assert m.is_allclose(m.copy()) and not m.is_allclose(c)
    cm = m.to_unit("cm2 s")
    assert np.allclose(cm.data, 3e4) and m.is_allclose(cm)
    with pytest.raises(UnitError):
        m.to_unit("TeV")
    new = m.copy(unit="TeV", data=np.zeros(m.data.shape))
    assert new.unit == u.TeV and new.data.sum() == 0


def test_interp_to_geom_and_normalize():
    m = _cube(proj="CAR", npix=(40, 40), binsz=0.02, dtype="float64", unit="ct")
    y, x = np.mgrid[0:40, 0:40]
    m.data[...] = (1.0 + 0.1 * x + 0.2 * y)[None]
    fine = m.geom.upsample(2)
    out = m.interp_to_geom(fine, fill_value=None)
    assert out.data.shape == (4, 80, 80)
    yf, xf = np.mgrid[0:80, 0:80]
    expected = 1.0 + 0.1 * ((xf + 0.5) / 2 - 0.5) + 0.2 * ((yf + 0.5) / 2 - 0.5)
    np.testing.assert_allclose(out.data[2], expected, rtol=1e-9)
    counts = m.interp_to_geom(fine, preserve_counts=True, fill_value=None)
    assert counts.data.sum() == pytest.approx(m.data.sum(), rel=1e-3)
    norm = m.normalize(axis_name="energy")
    np.testing.assert_allclose(norm.data.sum(axis=0), 1.0)
    np.testing.assert_allclose(m.normalize().data.sum(), 1.0)


def test_interp_value_scales_handle_zeros_and_sqrt():
    data = np.array([0.0, 4.0, 16.0])
    # log: zeros stay (numerically) zero instead of producing NaN
    out = interp_pix(data, [np.array([0.0, 0.5, 1.5])], values_scale="log")
    assert out[0] < 1e-37 and np.isfinite(out).all()
    assert out[2] == pytest.approx(8.0)  # geometric mean of 4 and 16
    # sqrt: linear in sqrt(value) -> exact for quadratics in pixel
    out = interp_pix(data, [np.array([0.5, 1.25])], values_scale="sqrt")
    np.testing.assert_allclose(out, [1.0, 2.5**2], rtol=1e-14)


def test_cutout_partial_and_stack_partial_overlap():
    m = _cube(proj="CAR", npix=(20, 20), binsz=0.1, dtype="float64", axes=[])
    m.data[...] = 1.0
    corner = SkyCoord(*m.geom.wcs.wcs_pix2world(1, 1, 0), unit="deg")
    cut = m.cutout(corner, 0.9 * u.deg, mode="partial")
    assert cut.data.shape == (9, 9)
    # pixels beyond the parent map are zero, the overlap is copied
    assert cut.data.sum() == 6 * 6
    assert cut.data[4, 4] == 1.0 and cut.data[0, 0] == 0.0
    total = Map.from_geom(m.geom, dtype="float64")
    total.stack(cut)
    assert total.data.sum() == 36 and total.data[:6, :6].sum() == 36
    trimmed = m.cutout(corner, 0.9 * u.deg, mode="trim")
    assert trimmed.data.shape == (6, 6) and trimmed.data.sum() == 36
