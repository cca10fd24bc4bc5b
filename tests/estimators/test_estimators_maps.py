"""ExcessMapEstimator and TSMapEstimator on a simulated point source (Asimov counts), compared
with the analytic Cash significance; FluxMaps I/O."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammapipe.estimators import ExcessMapEstimator, FluxMaps, TSMapEstimator
from gammapipe.stats import CashCountsStatistic

BINSZ = 0.02
LON0, LAT0 = 83.63, 22.01


@pytest.fixture(scope="module")
def sim():
    """60x60 map, 0.02 deg, 2 reco bins; point source at the centre of pixel (x=35, y=24)."""
    from gammapipe.datasets import EDispKernelMap, MapDataset, PSFMap
    from gammapipe.maps import MapAxis, WcsGeom
    from gammapipe.modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    e = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    et = MapAxis.from_energy_bounds(0.5, 20, 6, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=(LON0, LAT0), binsz=BINSZ, width=(1.2, 1.2), frame="icrs",
                          proj="CAR", axes=[e])
    ds = MapDataset.create(geom, energy_axis_true=et, name="sim")
    ds.exposure.data[...] = 1e11
    ds.background.data[...] = 0.5
    ds.mask_safe.data[...] = True
    ds.psf = PSFMap.from_gauss(et, sigma=0.05 * u.deg)
    ds.edisp = EDispKernelMap.from_diagonal_response(e, et)
    coord = geom.to_image().pix_to_coord((35, 24))
    lon, lat = float(np.ravel(coord[0])[0]), float(np.ravel(coord[1])[0])
    spectral = PowerLawSpectralModel(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"))
    src = SkyModel(spatial_model=PointSpatialModel(lon_0=lon * u.deg, lat_0=lat * u.deg,
                                                   frame="icrs"),
                   spectral_model=spectral, name="src")
    ds.models = [src]
    signal = np.asarray(ds.npred_signal().data, float).copy()
    ds.counts.data[...] = ds.npred().data
    ds.models = None
    return ds, signal, src


def test_excess_map_asimov(sim):
    ds, signal, _ = sim
    est = ExcessMapEstimator(correlation_radius="0.1 deg", selection_optional="all")
    maps = est.run(ds)
    sqrt_ts = maps.sqrt_ts.data[0]
    iy, ix = np.unravel_index(np.nanargmax(sqrt_ts), sqrt_ts.shape)
    assert (iy, ix) == (24, 35)
    # analytic: disk of 0.1 deg = 5 pixels (centre distance <= 5)
    yy, xx = np.mgrid[:60, :60]
    disk = (yy - 24) ** 2 + (xx - 35) ** 2 <= 25
    n_on = ds.counts.data.sum(axis=0)[disk].sum()
    mu_bkg = ds.background.data.sum(axis=0)[disk].sum()
    stat = CashCountsStatistic(n_on, mu_bkg)
    np.testing.assert_allclose(sqrt_ts[iy, ix], stat.sqrt_ts, rtol=1e-6)
    np.testing.assert_allclose(maps.npred_excess.data[0, iy, ix], n_on - mu_bkg, rtol=1e-6)
    np.testing.assert_allclose(maps.npred_background.data[0, iy, ix], mu_bkg, rtol=1e-6)
    # norm errors and ul: consistent ordering
    assert maps.norm_ul.data[0, iy, ix] > maps.norm.data[0, iy, ix]
    assert maps.norm_errp.data[0, iy, ix] > maps.norm_errn.data[0, iy, ix] > 0
    # flux in the disk of the reference PL (index 2, 1e-12 at 1 TeV) over 1-10 TeV
    assert maps.flux.unit == u.Unit("cm-2 s-1")
    # far from the source no excess
    np.testing.assert_allclose(sqrt_ts[5, 5], 0, atol=1e-6)


def test_excess_map_energy_bins_and_io(sim, tmp_path):
    ds, _, _ = sim
    maps = ExcessMapEstimator("0.1 deg", energy_edges=[1, 3.16, 10] * u.TeV).run(ds)
    assert maps.geom.axes["energy"].nbin == 2
    np.testing.assert_allclose(maps.geom.axes["energy"].edges.to_value("TeV"),
                               [1, 3.1622777, 10], rtol=1e-6)
    table = maps.to_table("flux")
    assert len(table) == 2 * 60 * 60
    assert {"lon", "lat", "e_min", "flux", "flux_err", "sqrt_ts"} <= set(table.colnames)
    np.testing.assert_allclose(np.nanmax(table["sqrt_ts"]), np.nanmax(maps.sqrt_ts.data))
    path = tmp_path / "excess.fits"
    maps.write(path)
    back = FluxMaps.read(path)
    np.testing.assert_allclose(back.sqrt_ts.data, maps.sqrt_ts.data, equal_nan=True)
    np.testing.assert_allclose(back.dnde.quantity.value, maps.dnde.quantity.value,
                               rtol=1e-6, equal_nan=True)


def test_ts_map_asimov_point_source(sim):
    ds, signal, src = sim
    est = TSMapEstimator(model=src, kernel_width="0.5 deg", selection_optional=["ul"])
    maps = est.run(ds)
    ts = maps.ts.data[0]
    iy, ix = np.unravel_index(np.nanargmax(ts), ts.shape)
    assert (iy, ix) == (24, 35)
    # Asimov expectation: TS = 2 sum[(b + s) ln(1 + s / b) - s] with the true signal
    b = ds.background.data.sum(axis=0)
    s = signal.sum(axis=0)
    ts_true = 2 * np.sum((b + s) * np.log1p(s / b) - s)
    np.testing.assert_allclose(ts[iy, ix], ts_true, rtol=0.02)
    np.testing.assert_allclose(maps.sqrt_ts.data[0, iy, ix], np.sqrt(ts_true), rtol=0.01)
    # the fitted amplitude is the model's (kernel = PSF of the same spectrum)
    np.testing.assert_allclose(maps.norm.data[0, iy, ix], 1.0, rtol=0.02)
    flux = maps.flux.quantity[0, iy, ix]
    np.testing.assert_allclose(flux.to_value("cm-2 s-1"),
                               src.spectral_model.integral(1 * u.TeV, 10 * u.TeV)
                               .to_value("cm-2 s-1"), rtol=0.02)
    assert maps.norm_ul.data[0, iy, ix] > maps.norm.data[0, iy, ix]
    assert np.nanmax(maps.niter.data) <= 30
    assert maps.success.data[0, iy, ix]


def test_ts_map_default_model_threshold_downsampling(sim):
    ds, _, _ = sim
    full = TSMapEstimator(kernel_width="0.4 deg").run(ds)
    thr = TSMapEstimator(kernel_width="0.4 deg", threshold=100).run(ds)
    # pixels above the threshold get the same optimised TS, the others are not iterated
    np.testing.assert_allclose(thr.ts.data[0, 24, 35], full.ts.data[0, 24, 35], rtol=1e-6)
    skipped = thr.niter.data == 0
    assert skipped.sum() > 0.5 * skipped.size
    assert np.all(thr.ts.data[skipped] < 100)
    down = TSMapEstimator(kernel_width="0.4 deg", downsampling_factor=2).run(ds)
    assert down.ts.data.shape == full.ts.data.shape
    peak = np.unravel_index(np.nanargmax(down.ts.data[0]), (60, 60))
    assert abs(peak[0] - 24) <= 1 and abs(peak[1] - 35) <= 1


def test_ts_map_matches_brute_force_fits(sim):
    """Poisson counts: per-pixel 1D minimisation (scipy) with the full kernel agrees."""
    from scipy.optimize import minimize_scalar

    from gammapipe.estimators._ts_core import fit_amplitudes, initial_amplitude
    from gammapipe.estimators.excess_map import reference_npred

    ds, signal, src = sim
    est = TSMapEstimator(model=src, kernel_width="0.3 deg")
    kernel = est.estimate_kernel(ds, [np.arange(2)])[0]
    rng = np.random.default_rng(7)
    b = np.full((40, 40), 1.0)
    c = rng.poisson(b).astype(float)
    c[20, 20] += 15
    x = reference_npred(ds, src.spectral_model).sum(axis=0)[:40, :40]
    res = fit_amplitudes(c, b, x, kernel, initial_amplitude(c, b, x, kernel), rtol=1e-4)
    h = kernel.shape[0] // 2
    pad = [np.pad(a, h) for a in (c, b, x)]
    for iy, ix in [(20, 20), (10, 30), (25, 5), (0, 0)]:
        cp, bp, xp = (a[iy : iy + 2 * h + 1, ix : ix + 2 * h + 1] for a in pad)
        sp = xp * kernel

        def stat(a, cp=cp, bp=bp, sp=sp):
            mu = bp + a * sp
            return 2 * np.sum(mu - np.where(cp > 0, cp * np.log(np.maximum(mu, 1e-25)), 0))

        a_min = np.max(-bp[sp > 0] / sp[sp > 0])
        best = minimize_scalar(stat, bounds=(a_min * 0.999, 100), method="bounded",
                               options={"xatol": 1e-8})
        ts = stat(0.0) - best.fun
        np.testing.assert_allclose(res["ts"][iy, ix], max(ts, 0), atol=2e-3, rtol=1e-4)
        atol = 1e-3 * res["norm_err"][iy, ix] + 1e-6
        np.testing.assert_allclose(res["norm"][iy, ix], best.x, atol=atol, rtol=1e-3)


def test_excess_map_onoff_li_ma(sim):
    """ON/OFF map dataset: Li & Ma significance of the disk sums (alpha = 1/4)."""
    from gammapipe.datasets.map_onoff import MapDatasetOnOff
    from gammapipe.maps import Map
    from gammapipe.stats import WStatCountsStatistic

    ds, _, _ = sim
    geom = ds.counts.geom
    ones = np.ones(geom.data_shape)
    onoff = MapDatasetOnOff.from_map_dataset(
        ds, acceptance=Map.from_geom(geom, data=ones, dtype=float),
        acceptance_off=Map.from_geom(geom, data=4 * ones, dtype=float),
        counts_off=Map.from_geom(geom, data=4 * ds.background.data, dtype=float), name="onoff")
    maps = ExcessMapEstimator("0.1 deg", correlate_off=True).run(onoff)
    yy, xx = np.mgrid[:60, :60]
    disk = (yy - 24) ** 2 + (xx - 35) ** 2 <= 25
    n_on = ds.counts.data.sum(axis=0)[disk].sum()
    n_off = 4 * ds.background.data.sum(axis=0)[disk].sum()
    expected = WStatCountsStatistic(n_on, n_off, 0.25)
    np.testing.assert_allclose(maps.sqrt_ts.data[0, 24, 35], expected.sqrt_ts, rtol=1e-6)
    np.testing.assert_allclose(maps.alpha.data[0, 24, 35], 0.25, rtol=1e-6)
    np.testing.assert_allclose(maps.npred_background.data[0, 24, 35], 0.25 * n_off, rtol=1e-6)


def test_ts_map_threads_do_not_change_results(sim):
    """The per-pixel amplitude fits run in chunks on threads: results must not depend on it."""
    ds, _, src = sim
    one = TSMapEstimator(model=src, kernel_width="0.5 deg", n_jobs=1,
                         selection_optional=["errn-errp", "ul"]).run(ds)
    two = TSMapEstimator(model=src, kernel_width="0.5 deg", n_jobs=2,
                         selection_optional=["errn-errp", "ul"]).run(ds)
    for name in ("ts", "norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "niter"):
        np.testing.assert_array_equal(getattr(one, name).data, getattr(two, name).data)
