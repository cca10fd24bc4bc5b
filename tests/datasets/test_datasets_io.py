"""MapDataset GADF I/O: the reference stacked dataset of the low-level Crab analysis
(HESS DL3 DR1, H.E.S.S. collaboration; made with the reference tool), write/read round
trips and atomic writes."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from gammapipe.datasets import EDispKernelMap, EDispMap, MapDataset, PSFMap
from gammapipe.maps import MapAxis, WcsGeom

FILENAME = "lowlevel_crab3d-stacked.fits.gz"


@pytest.fixture(scope="module")
def reference(reference_dir):
    with open(reference_dir / "lowlevel_crab3d.json") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def stacked(reference_dir):
    return MapDataset.read(reference_dir / FILENAME)


def test_read_reference_numbers(stacked, reference):
    ref = reference["stacked"]
    assert stacked.name == "crab-stacked"
    assert stacked.counts.data.sum() == ref["counts_total"] == 2479
    assert float(stacked.background.data.sum(dtype=float)) == pytest.approx(
        ref["background_total"], rel=1e-6)
    assert list(stacked.psf.psf_map.data.shape) == ref["psf_map_shape"] == [10, 66, 10, 10]
    assert list(stacked.edisp.edisp_map.data.shape) == ref["edisp_map_shape"] == [10, 4, 10, 10]
    assert isinstance(stacked.psf, PSFMap)
    assert isinstance(stacked.edisp, EDispKernelMap)
    assert int(stacked.mask_safe.data.sum()) == ref["n_fit_bins"]
    assert stacked.livetime.to_value("s") == pytest.approx(ref["livetime_s"], rel=1e-12)
    assert np.allclose(stacked.counts.data.sum(axis=(1, 2)), ref["counts_per_energy_bin"])
    assert np.allclose(stacked.background.data.sum(axis=(1, 2), dtype=float),
                       ref["background_per_energy_bin"], rtol=1e-6)
    assert stacked.exposure.data.sum(dtype=float) == pytest.approx(ref["exposure"]["sum"],
                                                                   rel=1e-6)


def test_info_dict_reference(stacked, reference):
    ref = reference["stacked"]
    info = stacked.info_dict()
    assert list(info)[:8] == ["name", "counts", "excess", "sqrt_ts", "background", "npred",
                              "npred_background", "npred_signal"]
    assert info["counts"] == 2479
    # float32 sums, as the reference tool (json: 2112.971435546875)
    assert info["background"] == ref["background_total"]
    assert info["npred_background"] == ref["background_total"]
    assert info["excess"] == 366.028564453125
    assert info["npred"] == pytest.approx(2112.9715171074495, rel=1e-12)
    assert np.isnan(info["npred_signal"])
    assert info["exposure_min"].to_value("m2 s") == pytest.approx(ref["exposure_min_m2s"],
                                                                  rel=1e-6)
    assert info["exposure_max"].to_value("m2 s") == pytest.approx(ref["exposure_max_m2s"],
                                                                  rel=1e-6)
    assert info["exposure_min"].to_value("m2 s") == pytest.approx(3.74866e8, rel=1e-5)
    assert info["exposure_max"].to_value("m2 s") == pytest.approx(3.48320e9, rel=1e-5)
    assert info["n_bins"] == ref["n_bins"]
    assert info["n_fit_bins"] == ref["n_fit_bins"]
    assert info["livetime"].to_value("s") == pytest.approx(ref["livetime_s"])
    # GTI of the 4 runs: 1687 + 1683 + 1686 + 1686 s
    assert info["ontime"].to_value("s") == pytest.approx(6742.0)
    assert info["stat_type"] == "cash"
    # like the reference tool, the statistic is only evaluated once models are set
    assert np.isnan(info["stat_sum"])
    # cash with npred = background: 2 sum(b - n ln b); reference tool: 17778.062076560676
    b = stacked.background.data.astype(float)
    n = stacked.counts.data.astype(float)
    expected = 2 * np.sum(b - np.where(n > 0, n * np.log(b), 0))
    assert stacked.stat_sum() == pytest.approx(expected, rel=1e-10)
    assert stacked.stat_sum() == pytest.approx(17778.062076560676, rel=1e-9)
    # sqrt_ts of the Cash counts statistic with known background (reference tool:
    # 7.748103925317206)
    c, mu = 2479.0, info["background"]
    ts = 2 * (c * np.log(c / mu) - (c - mu))
    assert info["sqrt_ts"] == pytest.approx(np.sqrt(ts), rel=1e-9)
    assert info["sqrt_ts"] == pytest.approx(7.748103925317206, rel=1e-9)
    text = str(stacked)
    for label in ("Name", "Total counts", "Total background counts", "Predicted counts",
                  "Exposure min", "Number of fit bins", "Fit statistic value (-2 log(L))",
                  "Number of free parameters"):
        assert label in text
    assert "2479" in text


def test_write_back_identical_hdus(stacked, reference_dir, tmp_path):
    out = tmp_path / "stacked.fits.gz"
    stacked.write(out)
    with fits.open(reference_dir / FILENAME) as ref, fits.open(out) as new:
        assert new[0].header["NAME"] == "crab-stacked"
        assert [h.name for h in new] == [h.name for h in ref]
        for hdu in ref[1:]:
            other = new[hdu.name]
            if hdu.is_image:
                # masks are stored as 0/1 (uint8 here, int64 in the reference file)
                assert np.array_equal(hdu.data, other.data), hdu.name
                assert hdu.data.dtype.kind == other.data.dtype.kind or hdu.name.startswith(
                    "MASK")
            else:
                for col in hdu.columns.names:
                    assert np.array_equal(np.asarray(hdu.data[col]),
                                          np.asarray(other.data[col])), (hdu.name, col)
    back = MapDataset.read(out)
    assert back.stat_sum() == stacked.stat_sum()
    assert back.meta_table["OBS_ID"].tolist() == stacked.meta_table["OBS_ID"].tolist()


def test_round_trip_bit_exact(tmp_path):
    energy = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    geom = WcsGeom.create(skydir=(83.6, 22.0), binsz=0.1, width=1.0, axes=[energy])
    ds = MapDataset.create(geom, migra_axis="default", name="rt", binsz_irf=0.5)
    rng = np.random.default_rng(1)
    ds.counts.data[...] = rng.poisson(3, ds.counts.data.shape)
    ds.background.data[...] = rng.uniform(1, 2, ds.background.data.shape)
    ds.exposure.data[...] = rng.uniform(1e8, 2e8, ds.exposure.data.shape)
    ds.exposure.meta["livetime"] = 123.5 * u.s
    ds.psf.psf_map.data[...] = rng.uniform(0, 1, ds.psf.psf_map.data.shape)
    ds.edisp.edisp_map.data[...] = rng.uniform(0, 1, ds.edisp.edisp_map.data.shape)
    ds.mask_safe.data[...] = rng.uniform(size=ds.mask_safe.data.shape) > 0.3
    ds.mask_fit = ds.mask_safe.copy(data=~ds.mask_safe.data)
    out = tmp_path / "rt.fits"
    ds.write(out)
    back = MapDataset.read(out)
    assert back.name == "rt"
    assert isinstance(back.edisp, EDispMap)
    for key in ("counts", "background", "exposure", "mask_safe", "mask_fit"):
        a, b = getattr(ds, key), getattr(back, key)
        assert np.array_equal(a.data, b.data), key
        assert a.data.dtype == b.data.dtype, key
        assert a.unit == b.unit
    assert np.array_equal(ds.psf.psf_map.data, back.psf.psf_map.data)
    assert np.array_equal(ds.edisp.edisp_map.data, back.edisp.edisp_map.data)
    assert back.livetime == 123.5 * u.s
    with pytest.raises(FileExistsError):
        ds.write(out)
    ds.write(out, overwrite=True)


def test_write_never_leaves_partial_file(tmp_path, monkeypatch):
    energy = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.5, width=2.0, axes=[energy])
    ds = MapDataset.create(geom, name="partial")
    out = tmp_path / "ds.fits.gz"
    ds.write(out)
    before = out.read_bytes()

    def broken_writeto(self, *args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(fits.HDUList, "writeto", broken_writeto)
    with pytest.raises(OSError, match="simulated"):
        ds.write(out, overwrite=True)
    with pytest.raises(OSError, match="simulated"):
        ds.write(tmp_path / "new.fits.gz")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.fits.gz"]


def test_read_missing_maps_raises(tmp_path):
    from gammapipe.utils.errors import FITSFormatError

    fn = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(fn)
    with pytest.raises(FITSFormatError, match="COUNTS"):
        MapDataset.read(fn)
