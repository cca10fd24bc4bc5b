"""Stacking rules of MapDataset on small synthetic datasets (hand-computed expectations).

Geometry: 6x6 pixels of 0.5 deg (CAR at the origin), IRF grid 2x2 pixels of 1.5 deg, so
the IRF pixel centres fall on the centres of fine pixels (1 + 3 i).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from gammapipe.data.gti import GTI
from gammapipe.datasets import MapDataset, stacking
from gammapipe.maps import MapAxis, WcsGeom
from gammapipe.utils.errors import GeometryError

REF = Time("2000-01-01", scale="utc")
E_RECO = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
E_TRUE = MapAxis.from_energy_bounds(0.5, 20, 3, unit="TeV", name="energy_true")
RAD = MapAxis.from_edges([0, 0.1, 0.2, 0.3], unit="deg", name="rad")
KERNEL_A = np.array([[0.6, 0.1], [0.2, 0.7], [0.0, 0.9]])
KERNEL_B = np.array([[0.4, 0.3], [0.1, 0.8], [0.1, 0.6]])


def make_geom(width=3.0):
    return WcsGeom.create(skydir=(0, 0), binsz=0.5, width=width, frame="galactic",
                          axes=[E_RECO])


def make_empty(name, geom=None):
    geom = make_geom() if geom is None else geom
    return MapDataset.create(geom, energy_axis_true=E_TRUE, rad_axis=RAD, binsz_irf=1.5,
                             name=name)


def make_run(name, counts, bkg, exposure, psf, irf_exposure, kernel, mask, t0, geom=None):
    ds = make_empty(name, geom)
    ds.counts.data[...] = counts
    ds.background.data[...] = bkg
    ds.exposure.data[...] = exposure
    ds.exposure.meta["livetime"] = 100 * u.s
    ds.psf.psf_map.data[...] = psf
    ds.psf.exposure_map.data[...] = irf_exposure
    ds.edisp.edisp_map.data[...] = kernel[:, :, None, None]
    ds.edisp.exposure_map.data[...] = irf_exposure
    ds.mask_safe.data[...] = mask
    ds.gti = GTI.create([t0] * u.s, [t0 + 100] * u.s, reference_time=REF)
    return ds


def masks():
    # A: bin 0 everywhere, bin 1 only in the left half (x < 3)
    mask_a = np.zeros((2, 6, 6), bool)
    mask_a[0] = True
    mask_a[1, :, :3] = True
    # B: all bins in the bottom half (y < 3)
    mask_b = np.zeros((2, 6, 6), bool)
    mask_b[:, :3, :] = True
    return mask_a, mask_b


@pytest.fixture
def runs():
    mask_a, mask_b = masks()
    a = make_run("a", 1.0, 0.5, 10.0, 2.0, 5.0, KERNEL_A, mask_a, 0.0)
    b = make_run("b", 2.0, 1.0, 20.0, 6.0, 15.0, KERNEL_B, mask_b, 200.0)
    return a, b


@pytest.fixture
def stacked(runs):
    st = make_empty("stacked")
    for ds in runs:
        st.stack(ds)
    return st


def test_stack_counts_background_masked_sums(stacked):
    mask_a, mask_b = masks()
    assert np.array_equal(stacked.counts.data, 1.0 * mask_a + 2.0 * mask_b)
    assert np.allclose(stacked.background.data, 0.5 * mask_a + 1.0 * mask_b)
    assert np.array_equal(stacked.mask_safe.data, mask_a | mask_b)
    assert stacked.counts.data.sum() == 1 * mask_a.sum() + 2 * mask_b.sum()


def test_stack_exposure_any_mask_and_livetime(stacked):
    any_b = np.zeros((6, 6), bool)
    any_b[:3] = True
    expected = 10.0 + 20.0 * any_b
    for plane in stacked.exposure.data:
        assert np.allclose(plane, expected)
    assert u.isclose(stacked.exposure.meta["livetime"], 200 * u.s)
    assert stacked.livetime == 200 * u.s


def test_stack_psf_exposure_weighted(stacked):
    psf = stacked.psf.psf_map.data
    # coarse row 0 (fine row 1) sees both runs, row 1 (fine row 4) only A
    assert np.allclose(psf[:, :, 0, :], (2.0 * 5 + 6.0 * 15) / 20)
    assert np.allclose(psf[:, :, 1, :], 2.0)
    assert np.allclose(stacked.psf.exposure_map.data[:, :, 0, :], 20.0)
    assert np.allclose(stacked.psf.exposure_map.data[:, :, 1, :], 5.0)


def test_stack_edisp_mask_and_exposure_weights(stacked):
    k = stacked.edisp.edisp_map.data  # (true, reco, y, x)
    # (y=0, x=0): both runs, both reco bins
    assert np.allclose(k[:, :, 0, 0], (KERNEL_A * 5 + KERNEL_B * 15) / 20)
    # (y=0, x=1): A has only reco bin 0 there
    assert np.allclose(k[:, 0, 0, 1], (KERNEL_A[:, 0] * 5 + KERNEL_B[:, 0] * 15) / 20)
    assert np.allclose(k[:, 1, 0, 1], KERNEL_B[:, 1] * 15 / 20)
    # (y=1): only A; at x=1 its reco bin 1 is masked
    assert np.allclose(k[:, :, 1, 0], KERNEL_A)
    assert np.allclose(k[:, 0, 1, 1], KERNEL_A[:, 0])
    assert np.allclose(k[:, 1, 1, 1], 0.0)
    assert np.allclose(stacked.edisp.exposure_map.data[:, 0, 0, :], 20.0)
    assert np.allclose(stacked.edisp.exposure_map.data[:, 0, 1, :], 5.0)


def test_stack_gti_union(stacked):
    assert len(stacked.gti) == 2
    assert u.isclose(stacked.gti.time_sum, 200 * u.s)
    assert np.allclose(stacked.gti.met_start.to_value("s"), [0, 200])


def test_stack_conserves_npred_background_with_fov_models(runs):
    from gammapipe.modeling.models import FoVBackgroundModel

    a, b = runs
    for ds, norm in ((a, 1.2), (b, 0.8)):
        model = FoVBackgroundModel(dataset_name=ds.name)
        model.spectral_model.norm.value = norm
        ds.models = [model]
    expected = sum(float(ds.npred_background().data[ds.mask_safe.data].sum()) for ds in runs)
    mask_a, mask_b = masks()
    assert expected == pytest.approx(0.5 * 1.2 * mask_a.sum() + 1.0 * 0.8 * mask_b.sum())
    st = make_empty("stacked")
    for ds in runs:
        st.stack(ds)
    assert float(st.npred_background().data.sum()) == pytest.approx(expected, rel=1e-6)
    assert float(st.background.data[st.mask_safe.data].sum()) == pytest.approx(expected)


def test_stack_cutout_pasted_into_overlap():
    big = make_empty("big", make_geom(width=6.0))
    run = make_empty("run", make_geom(width=6.0))
    run.counts.data[...] = np.arange(run.counts.data.size).reshape(run.counts.data.shape)
    run.mask_safe.data[...] = True
    run.exposure.data[...] = 3.0
    position = run._geom.pix_to_coord((1.0, 1.0))
    from astropy.coordinates import SkyCoord

    pos = SkyCoord(float(position[0]), float(position[1]), unit="deg", frame="galactic")
    cut = run.cutout(pos, width=2.5 * u.deg)
    # trimmed at the lower-left corner: 2.5 deg = 5 pixels around pixel (1, 1) -> 4x4 kept
    assert cut.counts.data.shape == (2, 4, 4)
    big.stack(cut)
    assert np.array_equal(big.counts.data[:, :4, :4], run.counts.data[:, :4, :4])
    assert big.counts.data[:, 4:, :].sum() == 0
    assert big.counts.data[:, :, 4:].sum() == 0
    assert np.array_equal(big.mask_safe.data[0], np.pad(np.ones((4, 4), bool), ((0, 8), (0, 8))))
    assert np.allclose(big.exposure.data[:, :4, :4], 3.0)
    assert np.allclose(big.exposure.data[:, 4:, :], 0.0)


def test_stack_incompatible_geometries_raise():
    a = make_empty("a")
    other_binsz = MapDataset.create(
        WcsGeom.create(skydir=(0, 0), binsz=0.4, width=3.0, frame="galactic", axes=[E_RECO]),
        energy_axis_true=E_TRUE, rad_axis=RAD, binsz_irf=1.5, name="c")
    with pytest.raises(GeometryError, match="pixel grid"):
        a.stack(other_binsz)
    e3 = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    other_axis = MapDataset.create(
        WcsGeom.create(skydir=(0, 0), binsz=0.5, width=3.0, frame="galactic", axes=[e3]),
        energy_axis_true=E_TRUE, rad_axis=RAD, binsz_irf=1.5, name="d")
    with pytest.raises(GeometryError, match="axes"):
        a.stack(other_axis)


def test_stacking_pure_rules():
    irf, exp = stacking.stack_irf_arrays(
        irf=np.array([[1.0], [3.0]]), exposure=np.array([[2.0]]),
        irf_other=np.array([[5.0], [7.0]]), exposure_other=np.array([[6.0]]),
        weights=np.array([[1.0], [0.0]]), irf_axis=0)
    assert np.allclose(exp, 8.0)
    assert np.allclose(irf, [[(1 * 2 + 5 * 6) / 8], [3 * 2 / 8]])
    assert np.allclose(stacking.safe_divide([1.0, 1.0], [0.0, 2.0]), [0.0, 0.5])
    assert np.array_equal(stacking.mask_union(np.array([True, False]), None), [True, False])


def test_stack_conserves_npred_signal_of_a_point_source():
    """sum over runs of npred_signal == npred_signal of the stacked dataset (uniform
    Gaussian PSF and diagonal edisp, full safe masks, different exposures)."""
    pytest.importorskip("gammapipe.datasets.evaluator")
    from gammapipe.datasets import EDispKernelMap, PSFMap
    from gammapipe.modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    energy = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    e_true = MapAxis.from_energy_bounds(0.5, 20, 8, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.05, width=2.0, frame="galactic",
                          axes=[energy])

    def run(name, exposure):
        ds = MapDataset.create(geom, energy_axis_true=e_true, binsz_irf=0.5, name=name)
        ds.exposure.data[...] = exposure
        ds.background.data[...] = 0.1
        ds.mask_safe.data[...] = True
        irf_geom = ds.psf.psf_map.geom.to_image()
        ds.psf = PSFMap.from_gauss(e_true, sigma=0.1 * u.deg, geom=irf_geom)
        ds.psf.exposure_map.data[...] = exposure
        ds.edisp = EDispKernelMap.from_diagonal_response(energy, e_true, geom=irf_geom)
        ds.edisp.exposure_map.data[...] = exposure
        return ds

    runs = [run("a", 1e9), run("b", 3e9)]
    stacked = MapDataset.create(geom, energy_axis_true=e_true, binsz_irf=0.5, name="st")
    for ds in runs:
        stacked.stack(ds)
    source = SkyModel(
        spectral_model=PowerLawSpectralModel(amplitude="1e-11 cm-2 s-1 TeV-1"),
        spatial_model=PointSpatialModel(lon_0="0.1 deg", lat_0="0 deg", frame="galactic"),
        name="src")
    total = 0.0
    for ds in runs:
        ds.models = [source]
        total += float(ds.npred_signal().data.sum())
    stacked.models = [source]
    assert total > 100
    assert float(stacked.npred_signal().data.sum()) == pytest.approx(total, rel=1e-6)
    npred = stacked.npred().data
    assert np.allclose(npred, stacked.background.data + stacked.npred_signal().data)


def test_mask_on_grid_conventions():
    from gammapipe.datasets.map_dataset_ops import mask_on_grid

    fine = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=0.6, frame="galactic")
    mask = np.zeros((6, 6), bool)
    mask[1, 2] = True
    # odd ratio (3): coarse centres are fine pixel centres 1 and 4 -> both methods agree
    coarse3 = WcsGeom.create(skydir=(0, 0), binsz=0.3, width=0.6, frame="galactic")
    for method in ("nearest", "linear"):
        assert np.array_equal(mask_on_grid(mask, fine, coarse3, method=method),
                              [[False, False], [False, False]])
    mask[1, 1] = True
    assert np.array_equal(mask_on_grid(mask, fine, coarse3), [[True, False], [False, False]])
    # even ratio (2): centres on fine-pixel corners; "linear" takes any of the 4 neighbours
    coarse2 = WcsGeom.create(skydir=(0, 0), binsz=0.2, width=0.6, frame="galactic")
    mask = np.zeros((6, 6), bool)
    mask[2, 5] = True
    got = mask_on_grid(mask[None], fine, coarse2, method="linear")
    assert got.shape == (1, 3, 3)
    assert np.array_equal(got[0], [[False, False, False], [False, False, True],
                                   [False, False, False]])
    with pytest.raises(ValueError, match="method"):
        mask_on_grid(mask, fine, coarse2, method="cubic")


# ------------------------------------------------------------------ in-place stacking
def _random_with_bad(rng, shape, dtype=np.float64):
    values = rng.uniform(0.0, 5.0, size=shape).astype(dtype)
    flat = values.reshape(-1)
    flat[rng.choice(flat.size, 6, replace=False)] = [np.nan, np.inf, -np.inf, np.nan, 0, 1]
    return values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nan_to_num", [True, False])
def test_add_masked_inplace_equals_stack_masked_sum(dtype, nan_to_num):
    rng = np.random.default_rng(42)
    target = _random_with_bad(rng, (3, 5, 7), dtype)
    other = _random_with_bad(rng, (3, 5, 7))
    mask = rng.uniform(size=(5, 7)) > 0.3  # broadcast over the leading axis
    expected = stacking.stack_masked_sum(target, None, other, mask, nan_to_num=nan_to_num)
    expected = expected.astype(dtype)
    work = target.copy()
    view = work[:, 1:4, 2:6]  # an overlap view: only it may change
    stacking.add_masked_inplace(view, other[:, 1:4, 2:6], mask[1:4, 2:6],
                                nan_to_num=nan_to_num)
    sub = stacking.stack_masked_sum(target[:, 1:4, 2:6], None, other[:, 1:4, 2:6],
                                    mask[1:4, 2:6], nan_to_num=nan_to_num).astype(dtype)
    np.testing.assert_array_equal(work[:, 1:4, 2:6], sub)
    outside = np.ones(work.shape, bool)
    outside[:, 1:4, 2:6] = False
    np.testing.assert_array_equal(work[outside], target[outside])
    if nan_to_num:
        assert np.isfinite(work[:, 1:4, 2:6]).all()
        np.testing.assert_array_equal(sub, expected[:, 1:4, 2:6])


@pytest.mark.parametrize("with_weights", [True, False])
def test_stack_irf_inplace_equals_stack_irf_arrays(with_weights):
    rng = np.random.default_rng(1)
    shape, exp_shape = (4, 6, 3, 3), (4, 1, 3, 3)
    irf = _random_with_bad(rng, shape, np.float32)
    irf_o = _random_with_bad(rng, shape)
    exposure = _random_with_bad(rng, exp_shape, np.float32)
    exposure_o = _random_with_bad(rng, exp_shape)
    exposure_o[0, 0, 0, 0] = 0.0
    weights = (rng.uniform(size=shape) > 0.4).astype(float) if with_weights else None
    exp_irf, exp_exposure = stacking.stack_irf_arrays(irf, exposure, irf_o, exposure_o,
                                                      weights, irf_axis=1)
    irf_work, exposure_work = irf.copy(), exposure.copy()
    stacking.stack_irf_inplace(irf_work, exposure_work, irf_o, exposure_o, weights,
                               irf_axis=1)
    np.testing.assert_array_equal(irf_work, exp_irf.astype(np.float32))
    np.testing.assert_array_equal(exposure_work, exp_exposure.astype(np.float32))
    assert np.isfinite(irf_work).all()


def test_stack_in_place_leaves_other_and_its_cache_untouched(runs):
    a, b = runs
    counts_b = b.counts.data.copy()
    bkg_b = b.npred_background().data.copy()
    exposure_b = b.exposure.data.copy()
    psf_b = b.psf.psf_map.data.copy()
    stacked = make_empty("stacked-inplace")
    counts_array = stacked.counts.data
    stacked.stack(a)
    stacked.stack(b)
    # the stacked maps were updated in place, the stacked dataset's arrays stay its own
    assert stacked.counts.data is counts_array
    for m in (a, b):
        for key in ("counts", "background", "exposure"):
            assert not np.shares_memory(getattr(stacked, key).data, getattr(m, key).data)
    np.testing.assert_array_equal(b.counts.data, counts_b)
    np.testing.assert_array_equal(b.npred_background().data, bkg_b)
    np.testing.assert_array_equal(b.exposure.data, exposure_b)
    np.testing.assert_array_equal(b.psf.psf_map.data, psf_b)
    mask_a = a.mask_safe.data
    mask_b = b.mask_safe.data
    expected = a.counts.data * mask_a + b.counts.data * mask_b
    np.testing.assert_allclose(stacked.counts.data, expected)


@pytest.mark.parametrize("mode", ["trim", "partial"])
@pytest.mark.parametrize("lonlat", [(0.3, -0.4), (1.4, 1.2)])
def test_dataset_cutout_equals_map_cutouts(runs, mode, lonlat):
    from astropy.coordinates import SkyCoord

    a, _ = runs
    position = SkyCoord(*lonlat, unit="deg", frame="galactic").icrs  # converted once
    cut = a.cutout(position, width=2.0 * u.deg, mode=mode, name="cut")
    for key in ("counts", "background", "exposure", "mask_safe"):
        expected = getattr(a, key).cutout(position, width=2.0 * u.deg, mode=mode)
        got = getattr(cut, key)
        assert got.geom == expected.geom
        np.testing.assert_array_equal(got.data, expected.data)
        assert not np.shares_memory(got.data, getattr(a, key).data)
    psf = a.psf.cutout(position, width=2.0 * u.deg, mode=mode)
    np.testing.assert_array_equal(cut.psf.psf_map.data, psf.psf_map.data)
    np.testing.assert_array_equal(cut.psf.exposure_map.data, psf.exposure_map.data)
    assert cut.psf.psf_map.geom == psf.psf_map.geom
    # IRF cutouts keep min_npix = 3 pixels per side (trimmed to the 2x2 IRF grid)
    assert cut.psf.psf_map.data.shape[-2:] == ((3, 3) if mode == "partial" else (2, 2))
    if mode == "partial":
        assert cut.counts.data.shape[-2:] == (4, 4)


@pytest.mark.parametrize("with_mask", [True, False])
def test_add_masked_inplace_finite_fast_path(with_mask):
    rng = np.random.default_rng(7)
    target = rng.uniform(0, 5, size=(3, 5, 7)).astype(np.float32)
    other = rng.uniform(0, 5, size=(3, 5, 7))
    mask = (rng.uniform(size=(5, 7)) > 0.5) if with_mask else None
    expected = stacking.stack_masked_sum(target, None, other, mask).astype(np.float32)
    work = target.copy()
    stacking.add_masked_inplace(work, other, mask)
    np.testing.assert_array_equal(work, expected)
    # a huge but finite sum (float64 overflow of the quick test) is still handled
    big = np.full((4,), 1e308)
    out = np.zeros(4)
    stacking.add_masked_inplace(out, big)
    np.testing.assert_array_equal(out, big)
