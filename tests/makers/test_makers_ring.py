"""Ring and adaptive-ring background makers (MapDatasetOnOff).

Data: HESS DL3 DR1, H.E.S.S. collaboration (run 23592) for the realistic case; the
analytic checks use synthetic maps.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from gammapipe.datasets import MapDataset
from gammapipe.datasets.map_onoff import MapDatasetOnOff
from gammapipe.makers.background.ring import (
    AdaptiveRingBackgroundMaker,
    RingBackgroundMaker,
    ring_kernel,
    tophat_kernel,
)
from gammapipe.maps import Map, MapAxis, WcsGeom

CENTER = SkyCoord(83.63, 22.01, unit="deg")


def _synthetic(nbin=2, seed=1):
    axis = MapAxis.from_energy_bounds(1, 10, nbin=nbin, unit="TeV", name="energy")
    geom = WcsGeom.create(skydir=CENTER, width=3, binsz=0.05, axes=[axis])
    ds = MapDataset.create(geom, name="syn")
    yy, xx = np.indices(geom.data_shape_image)
    bkg = 2.0 + 0.01 * xx + 0.02 * yy
    ds.background.data = np.broadcast_to(bkg, geom.data_shape).astype("float32").copy()
    rng = np.random.default_rng(seed)
    ds.counts.data = rng.poisson(ds.background.data).astype("float32")
    ds.mask_safe = Map.from_geom(geom, data=np.ones(geom.data_shape, bool), dtype=bool)
    return ds


def _ring_sum_brute(image, ix, iy, r_in, r_out, usable):
    ny, nx = image.shape
    yy, xx = np.indices((ny, nx))
    rr = (xx - ix) ** 2 + (yy - iy) ** 2
    sel = (rr >= r_in ** 2) & (rr <= r_out ** 2) & usable
    return image[sel].sum()


def test_ring_kernel_shapes():
    k = ring_kernel(3.0, 2.0)
    assert k.shape == (11, 11)
    assert k[5, 5] == 0 and k[5, 8] == 1 and k[5, 10] == 1 and k[5, 7] == 0
    # number of integer points with 9 <= r^2 <= 25
    yy, xx = np.mgrid[-5:6, -5:6]
    assert k.sum() == np.sum(((xx ** 2 + yy ** 2) >= 9) & ((xx ** 2 + yy ** 2) <= 25))
    assert tophat_kernel(0.01).shape == (1, 1)
    assert tophat_kernel(2.0).sum() == 13
    with pytest.raises(ValueError):
        ring_kernel(1.0, 0.0)


def test_ring_counts_off_brute_force():
    ds = _synthetic()
    excl_region = CircleSkyRegion(CENTER, 0.3 * u.deg)
    exclusion = ds.counts.geom.to_image().region_mask([excl_region], inside=False)
    maker = RingBackgroundMaker(r_in="0.4 deg", width="0.2 deg", exclusion_mask=exclusion)
    on_off = maker.run(ds)
    assert isinstance(on_off, MapDatasetOnOff)
    usable = exclusion.data
    r_in = 0.4 / 0.05
    r_out = r_in + 0.2 / 0.05  # (the kernel is defined by r_in and width)
    for ix, iy in [(30, 30), (5, 7), (50, 12), (59, 59)]:
        for e in range(2):
            expected_n = _ring_sum_brute(ds.counts.data[e], ix, iy, r_in, r_out, usable)
            expected_b = _ring_sum_brute(ds.background.data[e].astype(float), ix, iy, r_in,
                                         r_out, usable)
            assert on_off.counts_off.data[e, iy, ix] == pytest.approx(expected_n, abs=1e-6)
            assert on_off.acceptance_off.data[e, iy, ix] == pytest.approx(expected_b,
                                                                          rel=1e-9)
    np.testing.assert_allclose(on_off.acceptance.data, ds.background.data, rtol=1e-7)


def test_ring_background_estimate_exact_for_model_counts():
    """If counts equal the background model, alpha x counts_off is the model exactly."""
    ds = _synthetic()
    ds.counts.data = ds.background.data.copy()
    on_off = RingBackgroundMaker(r_in="0.3 deg", width="0.2 deg").run(ds)
    mask = on_off.mask_safe.data
    np.testing.assert_allclose(on_off.background.data[mask], ds.background.data[mask],
                               rtol=1e-6)


def test_ring_excluded_counts_do_not_enter():
    ds = _synthetic()
    iy, ix = 30, 30
    # pixel (30, 30) is 0.035 deg from the centre of the 60 x 60 grid
    excl_region = CircleSkyRegion(CENTER, 0.12 * u.deg)
    exclusion = ds.counts.geom.to_image().region_mask([excl_region], inside=False)
    maker = RingBackgroundMaker(r_in="0.3 deg", width="0.2 deg", exclusion_mask=exclusion)
    before = maker.run(ds).counts_off.data.copy()
    ds.counts.data[:, iy, ix] += 1000  # a bright source inside the excluded circle
    after = maker.run(ds).counts_off.data
    np.testing.assert_array_equal(before, after)


def test_ring_mask_without_off_acceptance():
    ds = _synthetic()
    ds.background.data[:, :30, :] = 0  # no background model in the lower half
    on_off = RingBackgroundMaker(r_in="0.1 deg", width="0.1 deg").run(ds)
    no_acc = on_off.acceptance_off.data <= 0
    assert no_acc.any()
    assert not on_off.mask_safe.data[no_acc].any()


def test_ring_needs_background():
    ds = _synthetic()
    ds.background = None
    with pytest.raises(Exception, match="background"):
        RingBackgroundMaker(r_in="0.3 deg", width="0.2 deg").run(ds)


def test_adaptive_ring_threshold():
    ds = _synthetic(nbin=1)
    exclusion = ds.counts.geom.to_image().region_mask(
        [CircleSkyRegion(CENTER, 0.4 * u.deg)], inside=False)
    maker = AdaptiveRingBackgroundMaker(r_in="0.1 deg", r_out_max="0.8 deg", width="0.1 deg",
                                        stepsize="0.05 deg", threshold_alpha=0.02,
                                        exclusion_mask=exclusion)
    on_off = maker.run(ds)
    mask = on_off.mask_safe.data
    alpha = on_off.alpha.data
    assert mask.sum() > 0.5 * mask.size
    assert np.all(alpha[mask] <= 0.02 + 1e-12)
    assert np.all(alpha[mask] > 0)
    # pixels inside the large exclusion need larger rings than those outside
    fixed = RingBackgroundMaker(r_in="0.1 deg", width="0.1 deg", exclusion_mask=exclusion)
    alpha_fixed = fixed.run(ds).alpha.data
    centre = (0, 30, 30)
    assert alpha_fixed[centre] == 0 or alpha_fixed[centre] > 0.02
    assert 0 < alpha[centre] <= 0.02
    with pytest.raises(Exception, match="one reco energy"):
        maker.run(_synthetic(nbin=2))


def test_adaptive_ring_fixed_r_in():
    ds = _synthetic(nbin=1)
    maker = AdaptiveRingBackgroundMaker(r_in="0.2 deg", r_out_max="0.8 deg",
                                        width="0.05 deg", stepsize="0.05 deg",
                                        threshold_alpha=0.05, method="fixed_r_in")
    kernels = maker.kernels(ds.counts.geom)
    widths = [k.shape[0] for k in kernels]
    assert widths == sorted(widths) and len(kernels) == 11
    on_off = maker.run(ds)
    mask = on_off.mask_safe.data
    assert np.all(on_off.alpha.data[mask] <= 0.05 + 1e-12)
    with pytest.raises(ValueError, match="method"):
        AdaptiveRingBackgroundMaker(method="unknown")


def test_ring_on_hess_run(hess_dir):
    """Ring background on a real run: the excess in a 0.11 deg circle at the Crab."""
    from gammapipe.data import DataStore
    from gammapipe.makers import MapDatasetMaker, SafeMaskMaker

    obs = DataStore.from_dir(hess_dir).get_observations([23592])[0]
    axis = MapAxis.from_energy_bounds(1, 10, nbin=2, unit="TeV", name="energy")
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=4, binsz=0.04, axes=[axis])
    ds = MapDatasetMaker().run(MapDataset.create(geom, name="r"), obs)
    ds = SafeMaskMaker(methods=["offset-max"], offset_max="2.5 deg").run(ds, obs)
    exclusion = geom.to_image().region_mask([CircleSkyRegion(CENTER, 0.3 * u.deg)],
                                            inside=False)
    on_off = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg",
                                 exclusion_mask=exclusion).run(ds)
    spec = on_off.to_spectrum_dataset(CircleSkyRegion(CENTER, 0.11 * u.deg))
    info = spec.info_dict()
    # ON counts are the events in the circle (same pixels as the map's region mask)
    inside = geom.region_mask([CircleSkyRegion(CENTER, 0.11 * u.deg)]).data
    assert info["counts"] == int(ds.counts.data[inside & ds.mask_safe.data].sum())
    # the background estimate in the ON region is the model's prediction there, scaled
    # by the ring's data/model ratio (close to 1 for this run)
    model = float(ds.background.data[inside].sum())
    assert 0.8 * model < info["background"] < 1.2 * model
    assert info["sqrt_ts"] > 10
