"""Tests of RegionGeom (circle, compound, point and polygon regions)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from numpy.testing import assert_allclose, assert_array_equal
from regions import (
    CircleAnnulusSkyRegion,
    CircleSkyRegion,
    PointSkyRegion,
    RectangleSkyRegion,
)

from gammapipe.maps import MapAxis, MapCoord, RegionGeom, WcsGeom
from gammapipe.utils.errors import GeometryError

CRAB = SkyCoord(83.63, 22.01, unit="deg", frame="icrs")


def cap(radius_deg: float) -> float:
    return 2 * np.pi * (1 - np.cos(np.radians(radius_deg)))


@pytest.fixture(scope="module")
def energy_axis():
    return MapAxis.from_energy_bounds(0.5, 40, nbin=20, unit="TeV", name="energy")


def test_circle_geom_basics(energy_axis):
    region = CircleSkyRegion(CRAB, 0.11 * u.deg)
    geom = RegionGeom.create(region, axes=[energy_axis])
    assert geom.data_shape == (20, 1, 1)
    assert geom.npix == (1, 1)
    assert geom.frame == "icrs"
    assert geom.projection == "TAN"
    assert geom.center_skydir.separation(CRAB).deg < 1e-12
    assert not geom.is_all_point_sky_regions
    assert_allclose(geom.width.to_value("deg"), [0.3, 0.3])
    assert_allclose(geom.binsz_wcs.deg, 0.1)
    for radius in (0.11, 0.5, 3.0):
        sa = RegionGeom.create(CircleSkyRegion(CRAB, radius * u.deg)).solid_angle()
        assert sa.unit == u.sr
        assert_allclose(sa.value, cap(radius), rtol=1e-3)
    volume = geom.bin_volume()
    assert volume.shape == (20, 1, 1)
    assert_allclose(volume[:, 0, 0].to_value("sr TeV"),
                    cap(0.11) * energy_axis.bin_width.to_value("TeV"), rtol=1e-3)


def test_non_circular_solid_angles():
    annulus = RegionGeom.create(CircleAnnulusSkyRegion(CRAB, 0.2 * u.deg, 0.5 * u.deg))
    assert_allclose(annulus.solid_angle().value, cap(0.5) - cap(0.2), rtol=1e-3)
    rect = RegionGeom.create(RectangleSkyRegion(CRAB, 1 * u.deg, 0.5 * u.deg, angle=30 * u.deg))
    assert_allclose(rect.solid_angle().to_value("deg2"), 0.5, rtol=1e-3)
    ds9 = RegionGeom.create("icrs;circle(83.63,22.01,0.5)")
    assert_allclose(ds9.solid_angle().value, cap(0.5), rtol=1e-3)


def test_compound_region(energy_axis):
    other = SkyCoord(84.2, 22.01, unit="deg")
    regions = [CircleSkyRegion(CRAB, 0.11 * u.deg), CircleSkyRegion(other, 0.2 * u.deg)]
    geom = RegionGeom.from_regions(regions, axes=[energy_axis])
    assert_allclose(geom.solid_angle().value, cap(0.11) + cap(0.2), rtol=1e-3)
    # overlapping circles: the union counts the overlap once
    overlap = RegionGeom.from_regions([CircleSkyRegion(CRAB, 0.3 * u.deg),
                                       CircleSkyRegion(CRAB, 0.2 * u.deg)])
    assert_allclose(overlap.solid_angle().value, cap(0.3), rtol=1e-3)
    inside = geom.contains(SkyCoord([83.63, 84.2, 83.9], [22.01, 22.1, 22.01], unit="deg"))
    assert_array_equal(inside, [True, True, False])
    union = RegionGeom.create(regions[0], axes=[energy_axis]).union(
        RegionGeom.create(regions[1], axes=[energy_axis]))
    assert_allclose(union.solid_angle().value, cap(0.11) + cap(0.2), rtol=1e-3)
    center = geom.center_skydir
    assert abs(center.ra.deg - (83.63 + 84.2) / 2) < 1e-3
    large = RegionGeom.from_regions([CircleSkyRegion(CRAB, 5 * u.deg),
                                     CircleSkyRegion(SkyCoord(100, 22, unit="deg"), 3 * u.deg)])
    assert_allclose(large.solid_angle().value, cap(5) + cap(3), rtol=1e-3)


def test_point_region(energy_axis):
    geom = RegionGeom.create(PointSkyRegion(CRAB), axes=[energy_axis])
    assert geom.is_all_point_sky_regions
    assert geom.solid_angle().value == 0
    assert geom.data_shape == (20, 1, 1)
    coords = geom.get_coord()
    assert_allclose([coords.lon.ravel()[0], coords.lat.ravel()[0]], [83.63, 22.01])
    assert_array_equal(geom.contains(SkyCoord([83.63, 83.7], [22.01, 22.01], unit="deg")),
                       [True, False])
    wcs_geom = geom.to_wcs_geom(width_min="1 deg")
    assert wcs_geom.npix == (11, 11)
    assert wcs_geom.center_skydir.separation(CRAB).deg < 1e-10


def test_coordinates(energy_axis):
    geom = RegionGeom.create(CircleSkyRegion(CRAB, 0.2 * u.deg), axes=[energy_axis])
    coords = geom.get_coord()
    assert coords.shape == (20, 1, 1)
    assert_allclose(coords["energy"][:, 0, 0].to_value("TeV"), energy_axis.center.value)
    sky = SkyCoord([83.63, 83.63, 85.0], [22.01, 22.1, 22.01], unit="deg")
    energy = [1.0, 100.0, 1.0] * u.TeV
    idx = geom.coord_to_idx({"skycoord": sky, "energy": energy})
    assert_array_equal(idx[0], [0, 0, -1])
    assert_array_equal(idx[2], [energy_axis.coord_to_idx(1 * u.TeV), -1,
                                energy_axis.coord_to_idx(1 * u.TeV)])
    pix = geom.coord_to_pix({"skycoord": sky, "energy": energy})
    assert np.isnan(pix[0][2]) and pix[0][0] == 0
    lon, lat, energy_back = geom.pix_to_coord((0, 0, 3.0))
    assert_allclose([lon, lat], [83.63, 22.01])
    assert_allclose(energy_back.to_value("TeV"), energy_axis.center[3].value)
    gal = MapCoord.create(sky.galactic)
    assert_array_equal(geom.contains(gal), [True, True, False])
    assert_allclose(geom.separation(SkyCoord(83.63, 23.01, unit="deg")).deg, 1.0, rtol=1e-9)


def test_to_wcs_geom_and_weights(energy_axis):
    region = CircleSkyRegion(CRAB, 0.25 * u.deg)
    geom = RegionGeom.create(region, axes=[energy_axis], binsz_wcs="0.02 deg")
    wcs_geom = geom.to_wcs_geom()
    assert isinstance(wcs_geom, WcsGeom)
    assert wcs_geom.axes.names == ["energy"]
    assert all(n % 2 == 1 for n in wcs_geom.npix)
    assert wcs_geom.center_skydir.separation(CRAB).deg < 1e-10
    assert_allclose(wcs_geom.pixel_scales.deg, 0.02)
    wide = geom.to_wcs_geom(width_min=2 * u.deg)
    assert wide.npix == (101, 101)
    coords, weights = geom.get_wcs_coord_and_weights(factor=10)
    assert coords["lon"].shape == weights.shape
    assert np.all((weights > 0) & (weights <= 1))
    sa = wcs_geom.solid_angle().to_value("sr").ravel()[0]
    assert_allclose(weights.sum() * sa, cap(0.25), rtol=2e-3)
    # axis coordinates broadcast against the pixels: (n_energy, n_pixels)
    assert np.broadcast_shapes(coords["energy"].shape, coords["lon"].shape) == (
        20, weights.size)
    inside = geom.contains(MapCoord.create({"lon": coords["lon"], "lat": coords["lat"]},
                                           frame="icrs"))
    assert np.all(inside[weights == 1])


def test_axes_manipulation_and_equality(energy_axis):
    geom = RegionGeom.create(CircleSkyRegion(CRAB, 0.2 * u.deg), axes=[energy_axis])
    assert geom.to_image().data_shape == (1, 1)
    assert geom.squash("energy").data_shape == (1, 1, 1)
    assert geom.upsample(2).axes["energy"].nbin == 40
    assert geom.downsample(4).axes["energy"].nbin == 5
    assert geom.to_image().to_cube([energy_axis]) == geom
    assert geom == RegionGeom.create(CircleSkyRegion(CRAB, 0.2 * u.deg), axes=[energy_axis])
    assert geom != RegionGeom.create(CircleSkyRegion(CRAB, 0.3 * u.deg), axes=[energy_axis])
    assert geom.copy(axes=None).is_image
    with pytest.raises(ValueError, match="axis_name"):
        geom.to_image().to_cube([energy_axis, energy_axis.rename("energy_true")]).upsample(2)


def test_hdulist_roundtrip(energy_axis, tmp_path):
    from astropy.io import fits

    regions = [CircleSkyRegion(CRAB, 0.11 * u.deg),
               RectangleSkyRegion(SkyCoord(84.5, 22.5, unit="deg"), 0.4 * u.deg, 0.2 * u.deg,
                                  angle=20 * u.deg)]
    geom = RegionGeom.from_regions(regions, axes=[energy_axis])
    hdulist = geom.to_hdulist(hdu_region="ON_REGION")
    assert "ON_REGION" in hdulist and "BANDS" in hdulist
    path = tmp_path / "region.fits"
    hdulist.writeto(path)
    with fits.open(path) as read:
        back = RegionGeom.from_hdulist(read, hdu_region="ON_REGION")
    assert back.axes == geom.axes
    assert_allclose(back.solid_angle().value, geom.solid_angle().value, rtol=1e-3)
    test_points = SkyCoord([83.63, 84.5, 84.0], [22.01, 22.5, 22.0], unit="deg")
    assert_array_equal(back.contains(test_points), geom.contains(test_points))


def test_whole_sky_geometry(energy_axis):
    geom = RegionGeom(None, axes=[energy_axis])
    assert geom.region is None
    assert np.all(geom.contains(SkyCoord([0, 180], [0, 45], unit="deg")))
    with pytest.raises(GeometryError, match="solid angle"):
        geom.solid_angle()


def test_plot_region(tmp_path):
    import matplotlib.pyplot as plt

    geom = RegionGeom.from_regions([CircleSkyRegion(CRAB, 0.3 * u.deg), PointSkyRegion(CRAB)])
    ax = geom.plot_region()
    assert len(ax.patches) + len(ax.artists) >= 1
    path = tmp_path / "region.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 0
    plt.close("all")
