"""GADF sky-map / region-map / OGIP I/O of maps.

Reference files written by gammapy 2.1 from HESS DL3 DR1, H.E.S.S. collaboration.
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from regions import CircleSkyRegion

from gammapipe.maps import Map, MapAxis, RegionNDMap, WcsGeom, WcsNDMap
from gammapipe.maps.io import axes_from_bands_hdu, axes_to_bands_hdu
from gammapipe.utils.errors import FITSFormatError, MissingHDUError

CRAB = SkyCoord(83.633, 22.014, unit="deg")


def _energy_axis(name="energy"):
    return MapAxis.from_energy_bounds(1, 10, 4, unit="TeV", name=name)


def _random_map(axes, dtype="float32", unit="cm-2 s-1", proj="TAN", frame="icrs"):
    m = Map.create(npix=(12, 9), binsz=0.05, skydir=CRAB, frame=frame, proj=proj, axes=axes,
                   dtype=dtype, unit=unit, meta={"origin": "test", "n": 3})
    rng = np.random.default_rng(42)
    m.data = rng.normal(size=m.data.shape).astype(dtype)
    return m


def _assert_same_map(m, m2):
    assert type(m2) is type(m)
    assert m2.data.dtype == m.data.dtype
    np.testing.assert_array_equal(m2.data, m.data)
    assert m2.unit == m.unit
    assert m2.meta == m.meta
    assert m2.geom.data_shape == m.geom.data_shape
    assert m2.geom.axes.names == m.geom.axes.names
    for a, b in zip(m.geom.axes, m2.geom.axes, strict=True):
        np.testing.assert_array_equal(a.edges.value, b.edges.value)
        assert a.unit == b.unit and a.interp == b.interp and a.node_type == b.node_type


@pytest.mark.parametrize(
    "axes",
    [
        [],
        [_energy_axis()],
        [MapAxis.from_edges([0.0, 0.1, 0.3, 0.7], unit="deg", name="rad", interp="lin"),
         _energy_axis("energy_true")],
        [MapAxis.from_nodes([1.0, 2.0, 4.0], unit="", name="index", interp="lin")],
    ],
    ids=["image", "energy-cube", "rad-energy_true", "node-axis"],
)
def test_wcs_map_round_trip_bit_exact(tmp_path, axes):
    m = _random_map(axes)
    path = tmp_path / "map.fits.gz"
    m.write(path)
    m2 = Map.read(path)
    _assert_same_map(m, m2)
    w1, w2 = m.geom.wcs.wcs, m2.geom.wcs.wcs
    np.testing.assert_array_equal(w1.crpix, w2.crpix)
    np.testing.assert_array_equal(w1.crval, w2.crval)
    np.testing.assert_array_equal(w1.cdelt, w2.cdelt)
    assert list(w1.ctype) == list(w2.ctype)
    with fits.open(path) as hdul:
        assert u.Unit(hdul["SKYMAP"].header["BUNIT"]) == u.Unit("cm-2 s-1")
        if axes:
            assert hdul["SKYMAP"].header["BANDSHDU"] == "SKYMAP_BANDS"


def test_wcs_map_float64_int_and_galactic_round_trip(tmp_path):
    m = _random_map([_energy_axis()], dtype="float64", frame="galactic", proj="CAR")
    m.write(tmp_path / "a.fits")
    _assert_same_map(m, Map.read(tmp_path / "a.fits"))
    counts = Map.create(npix=5, binsz=0.1, skydir=CRAB, dtype="int32")
    counts.data[2, 3] = 7
    counts.write(tmp_path / "b.fits", hdu="COUNTS")
    read = Map.read(tmp_path / "b.fits", hdu="counts")
    _assert_same_map(counts, read)


def test_bool_mask_round_trip(tmp_path):
    m = _random_map([_energy_axis()], unit="")
    mask = m > 0.2
    assert mask.is_mask
    mask.write(tmp_path / "mask.fits")
    read = Map.read(tmp_path / "mask.fits")
    assert read.is_mask
    _assert_same_map(mask, read)


def test_write_is_atomic_and_refuses_overwrite(tmp_path):
    m = _random_map([])
    path = tmp_path / "m.fits"
    m.write(path)
    with pytest.raises(FileExistsError):
        m.write(path)
    m.data[...] = 1
    m.write(path, overwrite=True)
    assert Map.read(path).data.sum() == m.data.size
    assert [p.name for p in tmp_path.iterdir()] == ["m.fits"]


def test_to_hdulist_custom_hdu_names():
    m = _random_map([_energy_axis()])
    hdul = m.to_hdulist(hdu="counts", hdu_bands="ebins")
    assert [h.name for h in hdul] == ["PRIMARY", "COUNTS", "EBINS"]
    m2 = Map.from_hdulist(hdul, hdu="COUNTS")
    _assert_same_map(m, m2)


def test_region_map_round_trip(tmp_path):
    region = CircleSkyRegion(CRAB, 0.2 * u.deg)
    m = RegionNDMap.create(region=region, axes=[_energy_axis()], unit="cm-2 s-1 TeV-1",
                           meta={"a": 1})
    m.data[:, 0, 0] = [1.5, 2.5, 3.5, 4.25]
    m.write(tmp_path / "region.fits")
    m2 = Map.read(tmp_path / "region.fits")
    assert isinstance(m2, RegionNDMap)
    _assert_same_map(m, m2)
    assert m2.geom.region.center.separation(CRAB).deg < 1e-9
    assert m2.geom.region.radius.to_value("deg") == pytest.approx(0.2, rel=1e-6)


def test_region_mask_round_trip(tmp_path):
    m = RegionNDMap.create(region="icrs;circle(83.63,22.01,0.5)", axes=[_energy_axis()],
                           dtype=bool)
    m.data[1:3] = True
    m.write(tmp_path / "mask.fits")
    _assert_same_map(m, Map.read(tmp_path / "mask.fits"))


# ----------------------------------------------------------------------------- reference


@pytest.fixture(scope="module")
def stacked_path(reference_dir):
    return reference_dir / "lowlevel_crab3d-stacked.fits.gz"


@pytest.fixture(scope="module")
def crab3d(reference_dir):
    return json.loads((reference_dir / "lowlevel_crab3d.json").read_text())


def test_read_reference_counts(stacked_path, crab3d):
    counts = Map.read(stacked_path, hdu="COUNTS")
    assert isinstance(counts, WcsNDMap)
    assert counts.data.shape == (4, 100, 100)
    assert counts.data.sum() == crab3d["stacked"]["counts_total"] == 2479
    expected = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    axis = counts.geom.axes["energy"]
    np.testing.assert_allclose(axis.edges.to_value("TeV"), expected.edges.to_value("TeV"),
                               rtol=1e-14)
    assert axis.interp == "log"
    geom = WcsGeom.create(skydir=(83.633, 22.014), binsz=0.02, width=(2, 2), frame="icrs",
                          proj="CAR", axes=[expected])
    w_ref, w = geom.wcs.wcs, counts.geom.wcs.wcs
    np.testing.assert_allclose(w.crpix, w_ref.crpix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w.crval, w_ref.crval, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w.cdelt, w_ref.cdelt, rtol=0, atol=1e-15)
    assert counts.geom.data_shape == geom.data_shape


def test_read_reference_background_exposure_mask(stacked_path, crab3d):
    ref = crab3d["stacked"]
    counts = Map.read(stacked_path, hdu="COUNTS")
    np.testing.assert_array_equal(counts.data.sum(axis=(1, 2)), ref["counts_per_energy_bin"])
    bkg = Map.read(stacked_path, hdu="BACKGROUND")
    assert bkg.data.dtype == np.float32
    assert ref["background_total"] == 2112.971435546875
    assert float(bkg.data.sum(dtype=np.float32)) == pytest.approx(2112.971435546875, rel=1e-6)
    np.testing.assert_allclose(bkg.data.sum(axis=(1, 2), dtype=np.float64),
                               ref["background_per_energy_bin"], rtol=1e-6)
    exposure = Map.read(stacked_path, hdu="EXPOSURE")
    assert exposure.unit == u.Unit("m2 s")
    assert exposure.geom.axes.names == ["energy_true"]
    assert list(exposure.data.shape) == ref["exposure"]["shape"]
    positive = exposure.data[exposure.data > 0]
    assert positive.min() == pytest.approx(3.74866e8, rel=1e-5)
    assert positive.max() == pytest.approx(3.48320e9, rel=1e-5)
    assert positive.min() == ref["exposure_min_m2s"]
    assert positive.max() == ref["exposure_max_m2s"]
    assert exposure.data.sum(dtype=np.float64) == pytest.approx(ref["exposure"]["sum"], rel=1e-9)
    mask = Map.read(stacked_path, hdu="MASK_SAFE")
    assert mask.data.shape == (4, 100, 100)
    psf = Map.read(stacked_path, hdu="PSF")
    assert psf.geom.axes.names == ["rad", "energy_true"]
    assert list(psf.data.shape) == crab3d["stacked"]["psf_map_shape"] == [10, 66, 10, 10]
    assert psf.unit == u.Unit("sr-1")


def test_reference_bands_tables_written_identically(stacked_path):
    with fits.open(stacked_path) as hdul:
        for name in ("COUNTS_BANDS", "EXPOSURE_BANDS", "PSF_BANDS", "EDISP_BANDS"):
            axes = axes_from_bands_hdu(hdul[name])
            out = axes_to_bands_hdu(axes, name=name)
            assert out.columns.names == hdul[name].columns.names
            for col in out.columns.names:
                np.testing.assert_array_equal(out.data[col], hdul[name].data[col])
            for key in hdul[name].header:
                if key.startswith(("AXCOLS", "INTERP", "TUNIT", "TTYPE")):
                    assert out.header[key] == hdul[name].header[key]


def test_read_non_map_hdu_raises(stacked_path):
    with pytest.raises(FITSFormatError, match="GTI"):
        Map.read(stacked_path, hdu="GTI")
    with pytest.raises(MissingHDUError, match="NOPE"):
        Map.read(stacked_path, hdu="NOPE")
    with pytest.raises(FITSFormatError, match="COUNTS_BANDS"):
        Map.read(stacked_path, hdu="COUNTS_BANDS")


def test_read_reference_ogip_pha(reference_dir):
    spectrum = json.loads((reference_dir / "makers_map.json").read_text())["spectrum"]
    run = spectrum["per_run"][0]
    assert run["obs_id"] == 23523
    on = Map.read(reference_dir / "makers_map-obs-23523.fits.gz")
    assert isinstance(on, RegionNDMap)
    assert on.geom.axes.names == ["energy"]
    np.testing.assert_array_equal(on.data[:, 0, 0], run["counts_per_bin"])
    assert on.data.sum() == 137
    np.testing.assert_allclose(on.geom.axes["energy"].edges.to_value("TeV")[[0, -1]], [1, 10])
    off = Map.read(reference_dir / "makers_map-obs-23523_bkg.fits.gz")
    np.testing.assert_array_equal(off.data[:, 0, 0], run["counts_off_per_bin"])
    assert off.data.sum() == 131
    backscal = RegionNDMap.from_table(
        fits_table(reference_dir / "makers_map-obs-23523_bkg.fits.gz", "SPECTRUM"),
        format="ogip", colname="BACKSCAL",
        ebounds=fits_table(reference_dir / "makers_map-obs-23523_bkg.fits.gz", "EBOUNDS"),
    )
    np.testing.assert_array_equal(backscal.data.ravel(), 6)


def fits_table(path, hdu):
    from gammapipe.utils.fits import read_table_hdu

    return read_table_hdu(path, hdu)


def test_ogip_write_read_round_trip(tmp_path, reference_dir):
    on = Map.read(reference_dir / "makers_map-obs-23523.fits.gz")
    on.write(tmp_path / "pha.fits", format="ogip")
    with fits.open(tmp_path / "pha.fits") as hdul:
        assert [h.name for h in hdul][:3] == ["PRIMARY", "SPECTRUM", "EBOUNDS"]
        header = hdul["SPECTRUM"].header
        assert header["HDUCLAS1"] == "SPECTRUM" and header["DETCHANS"] == 11
        assert hdul["SPECTRUM"].data["COUNTS"].dtype == np.dtype(">i4")
    back = Map.read(tmp_path / "pha.fits")
    np.testing.assert_array_equal(back.data, on.data)
    np.testing.assert_allclose(back.geom.axes[0].edges.value, on.geom.axes[0].edges.value)


def test_bad_format_and_map_type_arguments(tmp_path, stacked_path):
    from gammapipe.utils.errors import GammapipeError

    with pytest.raises(GammapipeError, match="format"):
        _random_map([]).write(tmp_path / "x.fits", format="ogip")
    assert not (tmp_path / "x.fits").exists()
    with pytest.raises(GammapipeError, match="map_type"):
        Map.read(stacked_path, hdu="COUNTS", map_type="hpx")
    with pytest.raises(GammapipeError, match="map_type"):
        Map.create(map_type="hpx", npix=3)


def test_rewrite_reference_counts_same_header_and_data(stacked_path, tmp_path):
    counts = Map.read(stacked_path, hdu="COUNTS")
    counts.write(tmp_path / "counts.fits", hdu="COUNTS")
    with fits.open(stacked_path) as ref, fits.open(tmp_path / "counts.fits") as out:
        a, b = ref["COUNTS"].header, out["COUNTS"].header
        keys = [k for k in a if k not in ("CREATOR", "CREATED")]
        assert keys == [k for k in b if k not in ("CREATOR", "CREATED")]
        for key in keys:
            assert a[key] == b[key], key
        np.testing.assert_array_equal(ref["COUNTS"].data, out["COUNTS"].data)
        for col in ref["COUNTS_BANDS"].columns.names:
            np.testing.assert_array_equal(ref["COUNTS_BANDS"].data[col],
                                          out["COUNTS_BANDS"].data[col])
