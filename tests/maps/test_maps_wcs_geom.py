"""Tests of WcsGeom and the spherical helpers.

Reference numbers: gammapy 2.1 on HESS DL3 DR1, H.E.S.S. collaboration
(makers_map.json, lowlevel_crab3d.json, datasets_stack_vs_joint.json).
"""

from __future__ import annotations

import json
import pickle

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from numpy.testing import assert_allclose, assert_array_equal
from regions import CircleSkyRegion

from gammapipe.maps import MapAxis, MapCoord, WcsGeom
from gammapipe.maps._sky import pixel_solid_angles
from gammapipe.utils.coordinates import angular_separation_deg, offset_by_deg, position_angle_deg
from gammapipe.utils.errors import GeometryError

PROJECTIONS = ["CAR", "TAN", "SIN", "AIT", "MOL", "ARC", "ZEA", "STG"]


@pytest.fixture(scope="module")
def energy_axis():
    return MapAxis.from_bounds(1, 10, nbin=11, interp="log", name="energy", unit="TeV")


# ---------------------------------------------------------------------- reference
def test_create_makers_map_empty(reference_dir, energy_axis):
    ref = json.loads((reference_dir / "makers_map.json").read_text())["empty"]
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=5 * u.deg, binsz=0.05 * u.deg,
                          frame="icrs", axes=[energy_axis])
    assert list(geom.wcs.wcs.crpix) == ref["geom_wcs_crpix"]
    assert list(geom.wcs.wcs.cdelt) == ref["geom_wcs_cdelt"]
    assert list(geom.wcs.wcs.crval) == ref["geom_wcs_crval"]
    assert list(geom.data_shape) == ref["counts_shape"]
    assert int(np.prod(geom.data_shape)) == ref["n_bins"]
    assert geom.axes["energy"].edges.to_value("TeV").tolist() == ref["energy_edges_TeV"]
    assert list(geom.wcs.wcs.ctype) == ["RA---CAR", "DEC--CAR"]
    assert geom.npix == (100, 100)
    assert geom.data_shape_image == (100, 100)
    assert_allclose(geom.width.to_value("deg"), [5, 5])
    center = geom.center_skydir
    assert_allclose([center.ra.deg, center.dec.deg], [83.63, 22.01], atol=1e-10)


def test_region_mask_makers_map_exclusion(reference_dir, energy_axis):
    ref = json.loads((reference_dir / "makers_map.json").read_text())
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=5 * u.deg, binsz=0.05 * u.deg,
                          frame="icrs", axes=[energy_axis])
    circle = CircleSkyRegion(center=geom.center_skydir, radius=0.2 * u.deg)
    mask = geom.region_mask([circle], inside=False)
    assert mask.data.shape == geom.data_shape and mask.data.dtype == bool
    assert int((~mask.data).sum()) == ref["exclusion_mask_n_excluded_pixels"]


def test_region_mask_tan_galactic_region(reference_dir):
    ref = json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())
    target = SkyCoord(83.63, 22.01, unit="deg", frame="icrs")
    region = CircleSkyRegion(center=SkyCoord(183.604, -8.708, unit="deg", frame="galactic"),
                             radius=0.5 * u.deg)
    geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=target.galactic, proj="TAN",
                          frame="icrs")
    # the reference exclusion mask is ~region_mask: its False pixels are inside
    inside = geom.region_mask([region]).data
    assert int(inside.sum()) == ref["exclusion_mask_n_excluded"]
    # the same region as a DS9 string
    ds9 = "galactic; circle(183.604, -8.708, 0.5)"
    assert int(geom.region_mask(ds9).data.sum()) == ref["exclusion_mask_n_excluded"]


def test_cutout_shapes_makers_map_loop(reference_dir, hess_dir, energy_axis):
    """6 deg cutouts of a 5 deg / 0.02 deg geometry at the pointing positions of
    HESS DL3 DR1, H.E.S.S. collaboration runs (trim mode)."""
    ref = json.loads((reference_dir / "makers_map.json").read_text())["loop"]["per_run"]
    obs_index = Table.read(hess_dir / "obs-index.fits.gz")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy_axis], width=5, binsz=0.02)
    for run in ref:
        row = obs_index[obs_index["OBS_ID"] == run["obs_id"]][0]
        pointing = SkyCoord(row["RA_PNT"], row["DEC_PNT"], unit="deg", frame="icrs")
        cutout = geom.cutout(pointing, width="6 deg")
        assert list(cutout.data_shape) == run["cutout_shape"]
        assert cutout.is_aligned(geom)


def test_cutout_shapes_lowlevel(reference_dir, hess_dir):
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())["per_run"]
    obs_index = Table.read(hess_dir / "obs-index.fits.gz")
    axis = MapAxis.from_energy_bounds(1.0, 10.0, 4, unit="TeV")
    geom = WcsGeom.create(skydir=(83.633, 22.014), binsz=0.02, width=(2, 2), frame="icrs",
                          proj="CAR", axes=[axis])
    for run in ref:
        row = obs_index[obs_index["OBS_ID"] == run["obs_id"]][0]
        pointing = SkyCoord(row["RA_PNT"], row["DEC_PNT"], unit="deg")
        assert list(geom.cutout(pointing, width=5 * u.deg).data_shape) == run["cutout_shape"]


# ---------------------------------------------------------------------- projections
@pytest.mark.parametrize("proj", PROJECTIONS)
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_pix_sky_agrees_with_astropy(proj, frame):
    skydir = (266.4, -28.9) if frame == "icrs" else (0.0, 0.0)
    geom = WcsGeom.create(skydir=skydir, binsz=0.1, width=(12, 8), proj=proj, frame=frame)
    assert geom.projection == proj and geom.frame == frame
    ctype_lon = {"icrs": "RA---", "galactic": "GLON-"}[frame] + proj
    assert geom.wcs.wcs.ctype[0] == ctype_lon
    coords = geom.get_coord()
    x, y = geom.get_pix()
    lon_ref, lat_ref = geom.wcs.wcs_pix2world(x, y, 0)
    assert_allclose(coords.lon, lon_ref, atol=1e-10)
    assert_allclose(coords.lat, lat_ref, atol=1e-10)
    # sky -> pix against astropy, and the round trip coord -> pix -> coord
    rng = np.random.default_rng(1)
    px = rng.uniform(-0.5, geom.npix[0] - 0.5, 500)
    py = rng.uniform(-0.5, geom.npix[1] - 0.5, 500)
    lon, lat = geom.pix_to_coord((px, py))
    xs, ys = geom.coord_to_pix({"lon": lon, "lat": lat})
    xa, ya = geom.wcs.wcs_world2pix(lon, lat, 0)
    assert_allclose(xs, xa, atol=1e-8)
    assert_allclose(ys, ya, atol=1e-8)
    lon2, lat2 = geom.pix_to_coord((xs, ys))
    sep = angular_separation_deg(lon, lat, lon2, lat2)
    assert np.max(sep) < 1e-10
    # SkyCoord input in the other frame is transformed
    other = "galactic" if frame == "icrs" else "icrs"
    sky = SkyCoord(lon, lat, unit="deg", frame=frame).transform_to(other)
    xo, yo = geom.coord_to_pix(MapCoord.create(sky))
    assert_allclose(xo, px, atol=1e-7)
    assert_allclose(yo, py, atol=1e-7)


def test_unknown_projection_and_frame():
    with pytest.raises(ValueError, match="'proj'.*XYZ.*allowed"):
        WcsGeom.create(proj="XYZ")
    with pytest.raises(ValueError, match="'frame'.*fk4.*allowed"):
        WcsGeom.create(frame="fk4")
    with pytest.raises(ValueError, match="'binsz'"):
        WcsGeom.create(binsz=-1)


def test_car_nonzero_reference_latitude_follows_fits():
    geom = WcsGeom.create(skydir=(83.63, 22.01), binsz=0.5, width=10)
    # crval = (lon, lat): the reference pixel maps onto the sky position
    lon, lat = geom.pix_to_coord(geom.center_pix[:2])
    assert_allclose([lon, lat], [83.63, 22.01], atol=1e-10)
    # pixels are regular along the native equator through the reference point
    assert_allclose(geom.solid_angle()[10, 10].value, np.radians(0.5) ** 2, rtol=1e-4)


# ---------------------------------------------------------------------- solid angles
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_allsky_car_solid_angle_sums_to_4pi(frame):
    geom = WcsGeom.create(binsz=0.5, frame=frame, proj="CAR")
    assert geom.is_allsky and geom.npix == (720, 360)
    total = geom.solid_angle().to_value("sr").sum()
    assert abs(total - 4 * np.pi) < 1e-6
    # equal-lat pixels: exact zone area / n_lon (great-circle sides, second order)
    sa = geom.solid_angle().to_value("sr")
    lat_edges = np.radians([0.0, 0.5])
    zone = 2 * np.pi * (np.sin(lat_edges[1]) - np.sin(lat_edges[0])) / 720
    assert_allclose(sa[180, 0], zone, rtol=1e-5)


def test_tan_solid_angle_second_order():
    binsz = 0.02
    geom = WcsGeom.create(skydir=(10, 40), binsz=binsz, npix=(201, 201), proj="TAN")
    sa = geom.solid_angle().to_value("sr")
    expected = np.radians(binsz) ** 2
    assert abs(sa[100, 100] / expected - 1) < np.radians(binsz) ** 2
    # away from the centre the TAN area element is cos^3(theta) dx dy
    theta = np.radians(geom.separation(geom.center_skydir).deg)
    assert_allclose(sa, expected * np.cos(theta) ** 3, rtol=1e-6)


def test_pixel_solid_angles_octant():
    lon, lat = np.meshgrid([0.0, 90.0], [0.0, 90.0])
    sa = pixel_solid_angles(lon, lat)
    assert_allclose(sa, [[np.pi / 2]], rtol=1e-14)


def test_bin_volume_and_separation(energy_axis):
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=1, frame="galactic",
                          axes=[energy_axis])
    volume = geom.bin_volume()
    assert volume.shape == geom.data_shape
    assert volume.unit.is_equivalent(u.sr * u.TeV)
    assert_allclose(
        volume[:, 3, 4].to_value("sr TeV"),
        geom.solid_angle()[3, 4].to_value("sr") * energy_axis.bin_width.to_value("TeV"),
    )
    sep = geom.separation(SkyCoord(0, 0, unit="deg", frame="galactic"))
    assert sep.shape == (10, 10)
    assert_allclose(sep.deg[4:6, 4:6], np.hypot(0.05, 0.05), rtol=1e-4)


def test_sky_helpers_against_astropy():
    rng = np.random.default_rng(2)
    lon1, lat1 = rng.uniform(0, 360, 100), rng.uniform(-90, 90, 100)
    lon2, lat2 = rng.uniform(0, 360, 100), rng.uniform(-90, 90, 100)
    c1 = SkyCoord(lon1, lat1, unit="deg")
    c2 = SkyCoord(lon2, lat2, unit="deg")
    assert_allclose(angular_separation_deg(lon1, lat1, lon2, lat2), c1.separation(c2).deg,
                    atol=1e-10)
    assert_allclose(position_angle_deg(lon1, lat1, lon2, lat2),
                    c1.position_angle(c2).deg % 360, atol=1e-8)
    lon3, lat3 = offset_by_deg(lon1, lat1, 30.0, 2.0)
    c3 = c1.directional_offset_by(30 * u.deg, 2 * u.deg)
    assert_allclose(angular_separation_deg(lon3, lat3, c3.ra.deg, c3.dec.deg), 0, atol=1e-9)


# ---------------------------------------------------------------------- coordinates
def test_get_coord_idx_contains(energy_axis):
    geom = WcsGeom.create(skydir=(83.63, 22.01), binsz=0.1, width=(2, 1), axes=[energy_axis])
    coords = geom.get_coord()
    assert coords.shape == geom.data_shape == (11, 10, 20)
    assert coords["energy"].unit == u.TeV
    sparse = geom.get_coord(sparse=True)
    assert sparse["lon"].shape == (1, 10, 20) and sparse["energy"].shape == (11, 1, 1)
    edges = geom.get_coord(mode="edges")
    assert edges["lon"].shape[-2:] == (11, 21)
    e_edges = geom.get_coord(mode="edges", axis_name="energy")
    assert e_edges["energy"].shape == (12, 10, 20)
    idx = geom.coord_to_idx(coords)
    for got, expected in zip(idx, geom.get_idx(), strict=True):
        assert_array_equal(got, expected)
    assert np.all(geom.contains(coords))
    outside = {"lon": [83.63, 90.0], "lat": [22.01, 22.01], "energy": [2, 2] * u.TeV}
    assert_array_equal(geom.contains(outside), [True, False])
    clipped = geom.coord_to_idx(outside, clip=True)
    assert clipped[0][1] == 0  # RA increases to the left
    with pytest.raises(GeometryError, match="energy"):
        geom.coord_to_pix({"lon": 83.63, "lat": 22.01})
    gidx = geom.get_idx(idx=(3,))
    assert gidx[0].shape == (10, 20)
    assert np.all(gidx[2] == 3)


def test_image_and_axes_manipulation(energy_axis):
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=2, axes=[energy_axis])
    image = geom.to_image()
    assert image.is_image and image.data_shape == (20, 20)
    offset = MapAxis.from_bounds(0, 1, 2, name="offset", unit="deg")
    cube = image.to_cube([energy_axis, offset])
    assert cube.data_shape == (2, 11, 20, 20)
    assert cube.squash("energy").data_shape == (2, 1, 20, 20)
    assert cube.drop("offset") == geom
    assert cube.slice_by_idx({"energy": slice(2, 5)}).data_shape == (2, 3, 20, 20)
    assert cube.slice_by_idx({"energy": 0}).axes.names == ["offset"]
    assert geom.resample_axis(energy_axis.downsample(11, strict=False)).data_shape == (1, 20, 20)
    assert geom.rename_axes("energy", "energy_true").axes.names == ["energy_true"]
    assert geom.upsample(2, axis_name="energy").axes["energy"].nbin == 22
    assert geom.data_nbytes().unit == u.MB
    mask = geom.energy_mask(energy_min=2 * u.TeV, energy_max=8 * u.TeV)
    edges = energy_axis.edges.to_value("TeV")
    keep = (edges[:-1] >= 2) & (edges[1:] <= 8)
    assert_array_equal(mask.data[:, 0, 0], keep)


def test_upsample_downsample_pad_crop():
    geom = WcsGeom.create(skydir=(10, 20), binsz=0.1, width=(3, 2), proj="TAN")
    up = geom.upsample(4)
    assert up.npix == (120, 80)
    assert_allclose(up.pixel_scales.deg, 0.025)
    assert_allclose(up.center_skydir.separation(geom.center_skydir).deg, 0, atol=1e-10)
    down = up.downsample(4)
    assert down == geom
    with pytest.raises(ValueError, match="divisible"):
        geom.downsample(7)
    padded = geom.pad(5)
    assert padded.npix == (40, 30)
    assert padded.is_aligned(geom)
    assert padded.crop(5) == geom
    corner = geom.pix_to_coord((0, 0))
    corner_padded = padded.pix_to_coord((5, 5))
    assert_allclose(corner[:2], corner_padded[:2], atol=1e-10)
    assert geom.pad("0.5 deg").npix == (40, 30)


# ---------------------------------------------------------------------- cutouts
def test_cutout_of_cutout_equals_direct_cutout():
    geom = WcsGeom.create(skydir=(83.63, 22.01), binsz=0.02, width=5)
    pos = SkyCoord(83.2, 22.3, unit="deg")
    first = geom.cutout(pos, width=3)
    second = first.cutout(pos, width=1.5)
    direct = geom.cutout(pos, width=1.5)
    assert second.npix == direct.npix
    assert_allclose(second.wcs.wcs.crpix, direct.wcs.wcs.crpix)
    assert_allclose(second.wcs.wcs.crval, direct.wcs.wcs.crval)
    assert second == direct


def test_cutout_modes_and_slices():
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, npix=(50, 40), frame="galactic")
    pos = SkyCoord(2.2, 1.0, unit="deg", frame="galactic")  # near the left edge
    trim = geom.cutout(pos, width=1.0)
    partial = geom.cutout(pos, width=1.0, mode="partial")
    assert partial.npix == (10, 10)
    assert trim.npix[1] == 10 and trim.npix[0] < 10
    for cut in (trim, partial):
        slices = cut.cutout_slices(geom)
        parent, child = slices["parent-slices"], slices["cutout-slices"]
        ix_parent, iy_parent = parent[1].start, parent[0].start
        lon_p, lat_p = geom.pix_to_coord((ix_parent, iy_parent))
        lon_c, lat_c = cut.pix_to_coord((child[1].start, child[0].start))
        assert_allclose([lon_p, lat_p], [lon_c, lat_c], atol=1e-10)
        assert parent[1].stop - parent[1].start == child[1].stop - child[1].start
    # the cutout pixel containing `position` is at the cutout centre
    x, y = partial.coord_to_pix(MapCoord.create(pos))
    assert abs(x - 4.5) <= 0.5 and abs(y - 4.5) <= 0.5
    odd = geom.cutout(SkyCoord(0, 0, unit="deg", frame="galactic"), width=1.0, odd_npix=True)
    assert odd.npix == (11, 11)
    assert geom.cutout(pos, width=0.01, min_npix=3, mode="partial").npix == (3, 3)
    aligned = WcsGeom.from_aligned(geom, pos, width=2)
    assert aligned.npix == (20, 20) and aligned.is_aligned(geom)


# ---------------------------------------------------------------------- comparison and I/O
def test_equality_alignment_copy_pickle(energy_axis):
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=2, axes=[energy_axis])
    assert geom == geom.copy()
    assert geom != geom.to_image()
    shifted = WcsGeom.create(skydir=(0.05, 0), binsz=0.1, width=2, axes=[energy_axis])
    assert not geom.is_aligned(shifted)
    assert geom != WcsGeom.create(skydir=(0, 0), binsz=0.1, width=2, proj="TAN",
                                  axes=[energy_axis])
    assert pickle.loads(pickle.dumps(geom)) == geom


def test_header_roundtrip(energy_axis, tmp_path):
    offset = MapAxis.from_bounds(0, 2, 4, name="offset", unit="deg")
    geom = WcsGeom.create(skydir=(266.4, -28.9), binsz=0.05, width=(3, 2), proj="TAN",
                          frame="galactic", axes=[energy_axis, offset])
    header = geom.to_header()
    assert header["BANDSHDU"] == "BANDS"
    bands = geom.to_bands_hdu()
    image = fits.ImageHDU(data=np.zeros(geom.data_shape, "float32"), header=header,
                          name="SKYMAP")
    hdul = fits.HDUList([fits.PrimaryHDU(), image, bands])
    path = tmp_path / "geom.fits"
    hdul.writeto(path)
    with fits.open(path) as read:
        back = WcsGeom.from_header(read["SKYMAP"].header, hdu_bands=read["BANDS"])
    assert back == geom
    assert back.axes.names == ["energy", "offset"]


def test_region_weights_fraction():
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=3, frame="galactic")
    region = CircleSkyRegion(SkyCoord(0, 0, unit="deg", frame="galactic"), 0.5 * u.deg)
    weights = geom.region_weights([region], oversampling_factor=20)
    area = (weights.data.sum() * geom.solid_angle()[15, 15]).to_value("deg2")
    assert_allclose(area, np.pi * 0.25, rtol=5e-3)
    assert weights.data.max() == 1.0 and 0 < weights.data[weights.data < 1].max() < 1


def test_footprint():
    geom = WcsGeom.create(skydir=(0, 0), binsz=1, width=(4, 2), frame="galactic")
    footprint = geom.footprint
    assert footprint.shape == (4,)
    assert_allclose(np.sort(np.abs(footprint.l.wrap_at("180d").deg)), [2, 2, 2, 2], atol=1e-9)


def test_read_gammapy_written_geometries(reference_dir):
    """Geometries of the stacked dataset of lowlevel_crab3d (gammapy 2.1 on HESS DL3 DR1)."""
    path = reference_dir / "lowlevel_crab3d-stacked.fits.gz"
    with fits.open(path) as hdulist:
        shapes = {}
        for name in ("COUNTS", "EXPOSURE", "EDISP", "PSF"):
            geom = WcsGeom.from_header(hdulist[name].header, hdu_bands=hdulist[f"{name}_BANDS"])
            assert geom.data_shape == hdulist[name].data.shape
            shapes[name] = geom
    counts = shapes["COUNTS"]
    assert counts.axes.names == ["energy"]
    assert_allclose(counts.axes["energy"].edges.to_value("TeV"),
                    MapAxis.from_energy_bounds(1, 10, 4, unit="TeV").edges.value, rtol=1e-12)
    assert_allclose(counts.wcs.wcs.crval, [83.633, 22.014])
    assert counts.frame == "icrs" and counts.projection == "CAR"
    psf = shapes["PSF"]
    assert psf.axes.names == ["rad", "energy_true"]
    assert psf.axes["rad"].nbin == 66 and psf.axes["rad"].interp == "lin"
    assert_allclose(psf.axes["energy_true"].edges.to_value("TeV")[[0, -1]], [0.5, 20])
    assert shapes["EDISP"].axes.names == ["energy", "energy_true"]
