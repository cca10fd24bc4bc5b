"""MapDataset creation (shapes of the reference ``makers_map`` workflow), statistics,
models, and geometry operations (cutout, slicing, regrouping, downsampling, padding)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammapipe.datasets import Datasets, EDispKernelMap, EDispMap, MapDataset
from gammapipe.maps import MapAxis, WcsGeom
from gammapipe.utils.errors import GammapipeError, GeometryError


@pytest.fixture(scope="module")
def makers_ref(reference_dir):
    with open(reference_dir / "makers_map.json") as f:
        return json.load(f)


def geom_makers():
    energy = MapAxis.from_energy_bounds(1.0, 10.0, 11, unit="TeV")
    return WcsGeom.create(skydir=(83.63, 22.01), axes=[energy], width=5, binsz=0.05)


def test_create_shapes_makers_map(makers_ref):
    ref = makers_ref["empty"]
    ds = MapDataset.create(geom_makers())
    assert ds.counts.data.size == ref["n_bins"] == 110000
    assert list(ds.counts.data.shape) == ref["counts_shape"]
    assert list(ds.exposure.data.shape) == ref["default_shapes"]["exposure"]
    assert list(ds.psf.psf_map.data.shape) == ref["default_shapes"]["psf"]
    assert list(ds.edisp.edisp_map.data.shape) == ref["default_shapes"]["edisp"]
    assert np.allclose(ds.counts.geom.axes["energy"].edges.to_value("TeV"),
                       ref["energy_edges_TeV"])
    assert len(ds.name) == 8
    assert MapDataset.create(geom_makers()).name != ds.name
    e_true = MapAxis.from_energy_bounds(0.3, 10, 31, unit="TeV", name="energy_true")
    ds2 = MapDataset.create(geom_makers(), energy_axis_true=e_true, name="x")
    for key, shape in ref["etrue_shapes"].items():
        m = {"exposure": ds2.exposure, "psf": ds2.psf.psf_map, "edisp": ds2.edisp.edisp_map,
             "background": ds2.background}[key]
        assert list(m.data.shape) == shape, key
    assert np.allclose(ds2.exposure.geom.axes["energy_true"].edges.to_value("TeV"),
                       ref["energy_true_edges_TeV"])
    rad = ds2.psf.psf_map.geom.axes["rad"]
    assert rad.nbin == 66 and rad.edges[-1].to_value("deg") == pytest.approx(0.66)
    assert ds2.psf.exposure_map.data.shape == (31, 1, 25, 25)
    assert ds2.edisp.exposure_map.data.shape == (31, 1, 25, 25)
    assert ds2.edisp.edisp_map.geom.wcs.wcs.cdelt[1] == pytest.approx(0.2)
    assert ds2.mask_safe.data.dtype == bool and not ds2.mask_safe.data.any()
    assert ds2.mask_fit is None
    assert len(ds2.gti) == 0
    assert isinstance(ds2.edisp, EDispKernelMap)


def test_create_with_migra_axis():
    migra = MapAxis.from_bounds(0.2, 5, nbin=48, name="migra", node_type="edges")
    ds = MapDataset.create(geom_makers(), migra_axis=migra, binsz_irf=0.5)
    assert isinstance(ds.edisp, EDispMap)
    assert ds.edisp.edisp_map.data.shape == (11, 48, 10, 10)
    assert ds.geoms["geom_psf"].data_shape == (11, 66, 10, 10)
    with pytest.raises(GeometryError, match="energy"):
        MapDataset.create(geom_makers().to_image())


def small_dataset(name="small", seed=0):
    energy = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=(2.0, 1.6), frame="galactic",
                          axes=[energy])
    ds = MapDataset.create(geom, binsz_irf=0.4, name=name)
    rng = np.random.default_rng(seed)
    ds.background.data[...] = rng.uniform(0.5, 1.5, ds.background.data.shape)
    ds.counts.data[...] = rng.poisson(ds.background.data)
    ds.exposure.data[...] = rng.uniform(1e9, 2e9, ds.exposure.data.shape)
    ds.exposure.meta["livetime"] = 1000 * u.s
    ds.mask_safe.data[...] = True
    ds.mask_safe.data[0, :, :5] = False
    ds.psf.exposure_map.data[...] = 1.0
    ds.edisp.exposure_map.data[...] = 1.0
    ds.edisp.edisp_map.data[...] = np.eye(4)[:, :, None, None]
    return ds


def test_stat_sum_and_npred_background_with_fov_model():
    from gammapipe.modeling.models import FoVBackgroundModel, PowerLawNormSpectralModel

    ds = small_dataset()
    n, b = ds.counts.data.astype(float), ds.background.data.astype(float)
    m = ds.mask_safe.data
    expected = 2 * np.sum((b - np.where(n > 0, n * np.log(b), 0))[m])
    assert ds.stat_sum() == pytest.approx(expected, rel=1e-12)
    assert ds.background_model is None
    spec = PowerLawNormSpectralModel(norm=1.5, tilt=0.5)
    bkg_model = FoVBackgroundModel(dataset_name=ds.name, spectral_model=spec)
    other = FoVBackgroundModel(dataset_name="someone-else")
    ds.models = [bkg_model, other]
    assert len(ds.models) == 1
    assert ds.background_model is bkg_model
    e = ds.counts.geom.axes["energy"].center.to_value("TeV")
    factor = 1.5 * e ** -0.5
    assert np.allclose(ds.npred_background().data, b * factor[:, None, None])
    assert np.allclose(ds.npred().data, b * factor[:, None, None])
    # the cache follows parameter changes
    bkg_model.spectral_model.norm.value = 2.0
    assert np.allclose(ds.npred_background().data, b * (2.0 * e ** -0.5)[:, None, None])
    ds.mask_fit = ds.mask_safe.copy(data=np.zeros_like(m))
    ds.mask_fit.data[1] = True
    mu = b * (2.0 * e ** -0.5)[:, None, None]
    expected = 2 * np.sum((mu - np.where(n > 0, n * np.log(mu), 0))[m & ds.mask_fit.data])
    assert ds.stat_sum() == pytest.approx(expected, rel=1e-12)
    info = ds.info_dict()
    assert info["n_fit_bins"] == int((m & ds.mask_fit.data).sum())
    assert info["stat_sum"] == pytest.approx(expected, rel=1e-12)
    copy = ds.copy(name="copy")
    assert copy.name == "copy" and copy.models is None


def test_npred_signal_without_evaluator_gives_clear_error():
    from gammapipe.modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    ds = small_dataset()
    # simulate a build without the forward-folding module (issue 5)
    ds._evaluator_module = lambda: None
    ds.models = [SkyModel(spectral_model=PowerLawSpectralModel(),
                          spatial_model=PointSpatialModel(frame="galactic"), name="src")]
    with pytest.raises(GammapipeError, match="sky-model evaluation is not available"):
        ds.npred()


def test_residuals_and_fake():
    ds = small_dataset()
    n, b = ds.counts.data.astype(float), ds.background.data.astype(float)
    assert np.allclose(ds.residuals().data, n - b)
    assert np.allclose(ds.residuals("diff/model").data, (n - b) / b)
    assert np.allclose(ds.residuals("diff/sqrt(model)").data, (n - b) / np.sqrt(b))
    with pytest.raises(GammapipeError, match="method"):
        ds.residuals("ratio")
    ds.fake(random_state=42)
    assert ds.counts.data.sum() == pytest.approx(b.sum(), rel=0.05)
    assert not np.array_equal(ds.counts.data, n)


def test_cutout_trim_and_partial():
    ds = small_dataset()
    pos = SkyCoord(-0.85, 0.0, unit="deg", frame="galactic")
    cut = ds.cutout(pos, width=0.6 * u.deg, name="cut")
    assert cut.name == "cut"
    # 6 pixels around x=18.5 -> trimmed at the right edge (x < 20)
    assert cut.counts.data.shape == (4, 6, 4)
    assert np.array_equal(cut.counts.data, ds.counts.data[:, 5:11, 16:20])
    assert cut.exposure.data.shape == (4, 6, 4)
    assert cut.psf.psf_map.data.shape[-2:][0] >= 3
    assert cut.livetime == ds.livetime
    partial = ds.cutout(pos, width=0.6 * u.deg, mode="partial")
    assert partial.counts.data.shape == (4, 6, 6)
    assert partial.counts.data.sum() == cut.counts.data.sum()


def test_slice_by_energy_and_idx():
    ds = small_dataset()
    sliced = ds.slice_by_energy(energy_min=1.8 * u.TeV, energy_max=10 * u.TeV, name="sl")
    edges = sliced.counts.geom.axes["energy"].edges.to_value("TeV")
    assert np.allclose(edges, ds.counts.geom.axes["energy"].edges.to_value("TeV")[1:])
    assert np.array_equal(sliced.counts.data, ds.counts.data[1:])
    assert sliced.edisp.edisp_map.data.shape == (4, 3, 4, 5)
    assert sliced.exposure.data.shape == ds.exposure.data.shape
    sl2 = ds.slice_by_idx({"energy_true": slice(0, 2)})
    assert sl2.exposure.data.shape[0] == 2
    assert sl2.psf.psf_map.data.shape[0] == 2
    assert sl2.edisp.exposure_map.data.shape == (2, 1, 4, 5)
    with pytest.raises(GeometryError, match="no energy bin"):
        ds.slice_by_energy(3 * u.TeV, 3.1 * u.TeV)


def test_to_image_and_resample_preserve_masked_sums():
    ds = small_dataset()
    m = ds.mask_safe.data
    img = ds.to_image()
    assert img.counts.data.shape == (1, 16, 20)
    assert img.counts.data.sum() == ds.counts.data[m].sum()
    assert img.background.data.sum() == pytest.approx(ds.background.data[m].sum(), rel=1e-6)
    assert img.mask_safe.data.all()
    # edisp summed over reco energy with the safe mask: identity -> rows of 0/1
    assert img.edisp.edisp_map.data.shape == (4, 1, 4, 5)
    e2 = ds.counts.geom.axes["energy"].downsample(2)
    res = ds.resample_energy_axis(e2)
    assert np.allclose(res.counts.data[0], (ds.counts.data[:2] * m[:2]).sum(axis=0))
    assert np.allclose(res.counts.data[1], ds.counts.data[2:].sum(axis=0))


def test_downsample_and_pad():
    ds = small_dataset()
    m = ds.mask_safe.data
    down = ds.downsample(2)
    assert down.counts.data.shape == (4, 8, 10)
    assert down.counts.data.sum() == ds.counts.data[m].sum()
    assert down.background.data.sum() == pytest.approx(ds.background.data[m].sum(), rel=1e-6)
    assert np.allclose(down.exposure.data[0, 0, 0], ds.exposure.data[0, :2, :2].mean(),
                       rtol=1e-6)
    down_e = ds.downsample(2, axis_name="energy")
    assert down_e.counts.data.shape == (2, 16, 20)
    padded = ds.pad(2)
    assert padded.counts.data.shape == (4, 20, 24)
    assert padded.counts.data.sum() == ds.counts.data.sum()
    assert not padded.mask_safe.data[:, :2].any()
    assert np.array_equal(padded.counts.data[:, 2:-2, 2:-2], ds.counts.data)


def test_to_masked_and_energy_ranges():
    ds = small_dataset()
    masked = ds.to_masked(name="masked")
    m = ds.mask_safe.data
    assert masked.counts.data.sum() == ds.counts.data[m].sum()
    assert np.array_equal(masked.mask_safe.data, m)
    emin, emax = ds.energy_range_safe
    edges = ds.counts.geom.axes["energy"].edges.to_value("TeV")
    assert emin.data[0, 0] == pytest.approx(edges[1])
    assert emin.data[0, 10] == pytest.approx(edges[0])
    assert emax.data[3, 3] == pytest.approx(edges[-1])
    value = emin.get_by_coord({"lon": 0.0, "lat": 0.0})
    assert value == pytest.approx(edges[0])
    total = ds.energy_range_total
    assert total[0].to_value("TeV") == pytest.approx(1.0)
    assert total[1].to_value("TeV") == pytest.approx(10.0)


def test_datasets_container():
    a, b = small_dataset("a"), small_dataset("b", seed=1)
    dsets = Datasets([a, b])
    assert dsets.names == ["a", "b"]
    assert dsets["b"] is b and dsets[0] is a
    assert dsets.stat_sum() == pytest.approx(a.stat_sum() + b.stat_sum())
    with pytest.raises(GammapipeError, match="duplicate"):
        dsets.append(small_dataset("a"))
    with pytest.raises(KeyError, match="no dataset named"):
        dsets["zzz"]
    from gammapipe.modeling.models import FoVBackgroundModel

    dsets.models = [FoVBackgroundModel(dataset_name="a"), FoVBackgroundModel(dataset_name="b")]
    assert a.background_model.name == "a-bkg"
    assert b.background_model.name == "b-bkg"
    assert len(dsets.models) == 2
