"""Unit tests of the vectorised reduction kernels against analytic truth and against the
direct (per-offset / per-pixel astropy) computations. The HESS DL3 DR1 IRFs (H.E.S.S.
collaboration) are used where a realistic table is needed."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time

from gammapipe.irf import Background3D, EnergyDispersion2D
from gammapipe.makers import _reduction as red
from gammapipe.makers import make_map_background_irf
from gammapipe.maps import MapAxis, WcsGeom
from gammapipe.utils.coordinates import sky_to_fov


def test_interp_missing_along_axis_power_law():
    x = np.log(np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]))
    column = 5.0 * np.exp(x) ** -2.0
    data = np.stack([column, column * 3], axis=1)  # (6, 2): axis 0 is "energy"
    holed = data.copy()
    holed[[2, 3], 0] = 0.0      # interior hole: filled by the power law
    holed[0, 1] = 0.0           # leading zero: kept
    out = red.interp_missing_along_axis(holed, x, axis=0)
    np.testing.assert_allclose(out[:, 0], data[:, 0], rtol=1e-12)
    assert out[0, 1] == 0.0
    np.testing.assert_allclose(out[1:, 1], data[1:, 1], rtol=1e-12)
    # input untouched
    assert holed[2, 0] == 0.0


def test_energy_edges_oversampled():
    edges = np.array([1.0, 10.0, 100.0])
    out = red.energy_edges_oversampled(edges, 4)
    np.testing.assert_allclose(out, np.logspace(0, 2, 9), rtol=1e-12)
    np.testing.assert_array_equal(red.energy_edges_oversampled(edges, None), edges)


@pytest.mark.parametrize("oversampling", [None, 3])
def test_background_values_power_law_exact(oversampling):
    """A pure power-law rate is integrated exactly by the log-log rule."""
    e_axis = MapAxis.from_energy_bounds(0.1, 100, 30, unit="TeV", name="energy")
    lon = MapAxis.from_bounds(-3, 3, 12, unit="deg", name="fov_lon")
    lat = MapAxis.from_bounds(-3, 3, 12, unit="deg", name="fov_lat")
    energy = e_axis.center.to_value("MeV")
    rate = 1e-10 * (energy / 1e6) ** -2.5  # s-1 MeV-1 sr-1
    bkg = Background3D(axes=[e_axis, lon, lat], data=rate[:, None, None] * np.ones((1, 12, 12)),
                       unit="s-1 MeV-1 sr-1")
    edges = np.array([1.0, 2.0, 5.0])
    fov = np.zeros((2, 2))
    sa = np.full((2, 2), 1e-4)
    values = red.background_values(bkg, edges, fov, fov, sa, 100.0, oversampling)
    e_mev = edges * 1e6
    expected = 1e-10 * 1e6 / 1.5 * ((e_mev[:-1] / 1e6) ** -1.5 - (e_mev[1:] / 1e6) ** -1.5)
    np.testing.assert_allclose(values[:, 0, 0], expected * 1e-4 * 100.0, rtol=1e-10)


def test_fov_coordinates_altaz_against_astropy():
    location = EarthLocation.from_geodetic(16.5, -23.27, 1800)
    time = Time("2004-12-08T22:09:00", scale="utc")
    frame = AltAz(obstime=time, location=location)
    pointing = SkyCoord(82.01, 22.01, unit="deg", frame="icrs")
    pnt_altaz = pointing.transform_to(frame)
    ra = 82.01 + np.array([-2.0, -0.5, 0.0, 1.0, 2.4])
    dec = 22.01 + np.array([1.5, -2.0, 0.3, 0.0, -1.0])
    sky = SkyCoord(ra, dec, unit="deg", frame="icrs").transform_to(frame)
    expected = sky_to_fov(sky.az.deg, sky.alt.deg, pnt_altaz.az.deg, pnt_altaz.alt.deg)

    def to_icrs(az, alt):
        c = SkyCoord(az=az * u.deg, alt=alt * u.deg, frame=frame).icrs
        return c.ra.deg, c.dec.deg

    basis = red.altaz_tangent_basis(to_icrs, pnt_altaz.az.deg, pnt_altaz.alt.deg)
    lon, lat = red.fov_coordinates(ra, dec, 82.01, 22.01, "ALTAZ", basis)
    # aberration varies by < 1 arcsec over a few degrees
    np.testing.assert_allclose(lon, expected[0], atol=3e-4)
    np.testing.assert_allclose(lat, expected[1], atol=3e-4)
    # RADEC: offset-frame longitude grows with RA
    lon_r, lat_r = red.fov_coordinates(np.array([83.0]), np.array([22.01]), 82.01, 22.01)
    assert lon_r[0] > 0 and abs(lat_r[0]) < 0.01


def test_altaz_background_map_matches_direct_transform():
    """ALTAZ-aligned background: the 3-point basis equals a per-pixel astropy transform."""
    from gammapipe.data.pointing import FixedPointingInfo

    location = EarthLocation.from_geodetic(16.5, -23.27, 1800)
    t0 = Time("2004-12-08T22:00:00", scale="utc")
    e_axis = MapAxis.from_energy_bounds(0.1, 100, 12, unit="TeV", name="energy")
    lon_axis = MapAxis.from_bounds(-3, 3, 24, unit="deg", name="fov_lon")
    lat_axis = MapAxis.from_bounds(-3, 3, 24, unit="deg", name="fov_lat")
    e = e_axis.center.to_value("TeV")[:, None, None]
    lo = lon_axis.center.to_value("deg")[None, :, None]
    la = lat_axis.center.to_value("deg")[None, None, :]
    data = 1e-6 * e**-2.7 * np.exp(-((lo - 0.8) ** 2 + 0.5 * la**2) / 2)  # asymmetric
    bkg = Background3D(axes=[e_axis, lon_axis, lat_axis], data=data, unit="s-1 MeV-1 sr-1",
                       fov_alignment="ALTAZ")
    axis = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    geom = WcsGeom.create(skydir=(82.0, 22.0), binsz=0.25, width=4, axes=[axis])
    pointing = FixedPointingInfo(fixed_icrs=SkyCoord(82.0, 22.0, unit="deg"),
                                 location=location)
    m = make_map_background_irf(pointing, 100 * u.s, bkg, geom, obstime=t0, location=location)
    frame = AltAz(obstime=t0, location=location)
    coords = geom.get_coord(sparse=True)
    lon = np.asarray(coords.lon).reshape(geom.data_shape_image)
    lat = np.asarray(coords.lat).reshape(geom.data_shape_image)
    sky = SkyCoord(lon, lat, unit="deg").transform_to(frame)
    pnt = SkyCoord(82.0, 22.0, unit="deg").transform_to(frame)
    fl, fb = sky_to_fov(sky.az.deg, sky.alt.deg, pnt.az.deg, pnt.alt.deg)
    sa = geom.solid_angle().to_value("sr")
    direct = red.background_values(bkg, axis.edges.to_value("TeV"), fl, fb, sa, 100.0)
    np.testing.assert_allclose(m.data, direct, rtol=2e-3)
    assert m.data.sum() > 0
    # a long observation is split when the FoV rotates more than the limit: the result is
    # the mean of the single-time maps at the sub-interval centres
    t1 = t0 + 3 * u.h
    split = make_map_background_irf(pointing, 100 * u.s, bkg, geom, location=location,
                                    time_start=t0, time_stop=t1,
                                    fov_rotation_error_limit="10 deg")
    single = make_map_background_irf(pointing, 100 * u.s, bkg, geom, location=location,
                                     time_start=t0, time_stop=t1,
                                     fov_rotation_error_limit="180 deg")
    assert not np.allclose(split.data, single.data, rtol=1e-3)
    basis0 = red.altaz_tangent_basis(
        lambda az, alt: _to_icrs(az, alt, t0, location),
        *_altaz(pointing, t0, location))
    basis1 = red.altaz_tangent_basis(
        lambda az, alt: _to_icrs(az, alt, t1, location),
        *_altaz(pointing, t1, location))
    rotation = np.degrees(np.arccos(np.dot(basis0[2], basis1[2])))
    n = int(np.ceil(rotation / 10))
    maps = [make_map_background_irf(pointing, 100 * u.s, bkg, geom, location=location,
                                    obstime=t0 + (i + 0.5) / n * (t1 - t0)).data
            for i in range(n)]
    np.testing.assert_allclose(split.data, np.mean(maps, axis=0), rtol=1e-10)


def _altaz(pointing, time, location):
    c = pointing.get_altaz(time, location=location)
    return float(c.az.deg), float(c.alt.deg)


def _to_icrs(az, alt, time, location):
    c = SkyCoord(az=az * u.deg, alt=alt * u.deg,
                 frame=AltAz(obstime=time, location=location)).icrs
    return c.ra.deg, c.dec.deg


@pytest.fixture(scope="module")
def hess_obs(hess_dir):
    from gammapipe.data import DataStore

    return DataStore.from_dir(hess_dir).obs(23592)


def test_edisp_kernel_fast_path_matches_per_offset(hess_obs):
    """Node-factored kernels equal the direct per-offset kernels, also beyond the last
    offset node (extrapolation) and outside the table (zero)."""
    edisp = hess_obs.edisp
    e_true = MapAxis.from_energy_bounds(0.3, 30, 12, unit="TeV", name="energy_true")
    e_reco = MapAxis.from_energy_bounds(0.5, 50, 7, unit="TeV", name="energy")
    offsets = np.array([[0.0, 0.3, 1.25], [2.5, 2.6, 3.5]])
    kernel = red.edisp_kernel_values(edisp, e_true.center.to_value("TeV"),
                                     e_reco.edges.to_value("TeV"), offsets)
    assert kernel.shape == (12, 7, 2, 3)
    for (j, i), off in np.ndenumerate(offsets):
        direct = edisp.to_edisp_kernel(off * u.deg, energy_axis_true=e_true,
                                       energy_axis=e_reco).data
        np.testing.assert_allclose(kernel[:, :, j, i], direct, atol=1e-12)
    assert kernel[:, :, 1, 2].sum() == 0  # 3.5 deg: outside the table


def test_psf_fast_path_matches_evaluate(hess_obs):
    psf = hess_obs.psf
    e = np.array([0.5, 1.0, 7.0])
    rad = np.array([0.0, 0.02, 0.15, 0.5])
    offsets = np.array([0.1, 1.7, 2.6, 2.9])
    values = red.psf_values(psf, e, rad, offsets)
    direct = psf.evaluate(energy_true=e[:, None, None] * u.TeV, rad=rad[None, :, None] * u.deg,
                          offset=offsets[None, None, :] * u.deg).to_value("sr-1")
    np.testing.assert_allclose(values, direct, rtol=1e-12, atol=1e-300)


def test_edisp_migra_normalised_unit_integral():
    e_true = MapAxis.from_energy_bounds(0.1, 100, 10, unit="TeV", name="energy_true")
    migra = MapAxis.from_bounds(0.2, 5, 48, name="migra")
    offset = MapAxis.from_bounds(0, 2.5, 5, unit="deg", name="offset")
    edisp = EnergyDispersion2D.from_gauss(e_true, migra, offset, bias=0.05, sigma=0.15)
    values = red.edisp_migra_values(edisp, np.array([1.0, 3.0]), migra.center.value,
                                    migra.edges.value, np.array([0.2, 1.2]))
    integral = np.sum(values * np.diff(migra.edges.value)[None, :, None], axis=1)
    np.testing.assert_allclose(integral, 1.0, rtol=1e-12)


def test_geometry_cache_reused():
    axis = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    g1 = WcsGeom.create(skydir=(10, 20), binsz=0.1, width=2, axes=[axis])
    g2 = WcsGeom.create(skydir=(10, 20), binsz=0.1, width=2, axes=[axis])
    a = red.pixel_lonlat(g1)
    b = red.pixel_lonlat(g2)
    assert a[0] is b[0]
    assert not a[0].flags.writeable
    sa = red.pixel_solid_angle(g1)
    # CAR around the reference point: pixels are ~binsz x binsz (no cos(lat) factor)
    assert sa.sum() == pytest.approx(np.deg2rad(2) ** 2, rel=2e-3)


@pytest.mark.parametrize("values_scale", ["lin", "log"])
def test_separable_eval_equals_full_multilinear(values_scale):
    from gammapipe.utils.interpolation import GridInterpolator

    rng = np.random.default_rng(1)
    nodes = [np.geomspace(0.1, 100, 9), np.linspace(-2.5, 2.5, 11), np.linspace(-2, 2, 7)]
    values = rng.uniform(0.5, 2.0, (9, 11, 7))
    values[4, 3:5, 2] = 0.0  # zero nodes (log floor)
    interp = GridInterpolator(nodes, values, scales=["log", "lin", "lin"],
                              values_scale=values_scale, fill_value=0.0,
                              bounds=[(0.08, 120), (-2.6, 2.6), (-2.1, 2.1)], clip_min=0.0)
    energy = np.geomspace(0.05, 150, 13)  # includes energies outside the bounds
    lon = rng.uniform(-2.8, 2.8, (5, 6))
    lat = rng.uniform(-2.2, 2.2, (5, 6))
    fast = red.separable_eval(interp, energy, [lon, lat])
    full = interp([energy[:, None, None], lon[None], lat[None]])
    np.testing.assert_allclose(fast, full, rtol=1e-10, atol=1e-300)


def test_map_dataset_maker_altaz_observation():
    """Simulated observation with an ALTAZ-aligned background: the maker evaluates the
    FoV at the observation's middle time and location, ontime x rate x solid angle."""
    from gammapipe.data import Observation
    from gammapipe.datasets import MapDataset
    from gammapipe.irf import EffectiveAreaTable2D
    from gammapipe.makers import MapDatasetMaker

    location = EarthLocation.from_geodetic(16.5, -23.27, 1800)
    e_axis = MapAxis.from_energy_bounds(0.1, 100, 12, unit="TeV", name="energy")
    lon_axis = MapAxis.from_bounds(-3, 3, 24, unit="deg", name="fov_lon")
    lat_axis = MapAxis.from_bounds(-3, 3, 24, unit="deg", name="fov_lat")
    e = e_axis.center.to_value("TeV")[:, None, None]
    lo = lon_axis.center.to_value("deg")[None, :, None]
    la = lat_axis.center.to_value("deg")[None, None, :]
    data = 1e-6 * e**-2.7 * np.exp(-((lo - 0.8) ** 2 + 0.5 * la**2) / 2)
    bkg = Background3D(axes=[e_axis, lon_axis, lat_axis], data=data, unit="s-1 MeV-1 sr-1",
                       fov_alignment="ALTAZ")
    aeff = EffectiveAreaTable2D.from_parametrization(instrument="HESS")
    pointing = SkyCoord(82.0, 22.0, unit="deg")
    obs = Observation.create(pointing, livetime=20 * u.min, irfs={"aeff": aeff, "bkg": bkg},
                             location=location, tstart=Time("2004-12-08T22:00:00"),
                             obs_id=7)
    axis = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    geom = WcsGeom.create(skydir=(82.0, 22.0), binsz=0.25, width=4, axes=[axis])
    ds = MapDatasetMaker(selection=["exposure", "background"]).run(
        MapDataset.create(geom, name="sim"), obs)
    direct = make_map_background_irf(pointing, 20 * u.min, bkg, geom, location=location,
                                     time_start=obs.tstart, time_stop=obs.tstop,
                                     fov_rotation_error_limit="0.5 deg")
    np.testing.assert_allclose(ds.background.data, direct.data, rtol=1e-12)
    # the FoV rotates by more than 0.5 deg in these 20 min: the run was split in time
    single = make_map_background_irf(pointing, 20 * u.min, bkg, geom, obstime=obs.tmid,
                                     location=location)
    assert np.max(np.abs(ds.background.data / single.data - 1)) > 1e-3
    assert ds.exposure.meta["livetime"].to_value("s") == pytest.approx(1200.0)
    assert int(ds.meta_table["OBS_ID"][0]) == 7


def test_region_geom_exposure_and_background(reference_dir, hess_dir):
    """Exposure on a region geometry (at the region centre) against the 1D reference
    (makers_map.json spectrum: exposure summed over 31 true-energy bins per run)."""
    import json

    from regions import CircleSkyRegion

    from gammapipe.data import DataStore
    from gammapipe.makers import make_map_exposure_true_energy
    from gammapipe.maps import RegionGeom

    ref = json.loads((reference_dir / "makers_map.json").read_text())["spectrum"]["per_run"]
    store = DataStore.from_dir(hess_dir)
    center = SkyCoord(83.63, 22.01, unit="deg")
    circle = CircleSkyRegion(center=center, radius=0.2 * u.deg)
    axis_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV",
                                    interp="log")
    geom = RegionGeom.create(region=circle, axes=[axis_true])
    for rec in ref:
        obs = store.obs(rec["obs_id"])
        pointing = obs.get_pointing_icrs(obs.tmid)
        expo = make_map_exposure_true_energy(pointing, obs.observation_live_time_duration,
                                             obs.aeff, geom)
        assert expo.data.shape == (31, 1, 1)
        assert expo.data.sum() == pytest.approx(rec["exposure_total_m2s"], rel=1e-9)
        # averaged over the region instead: close to the centre value (smooth aeff)
        mean = make_map_exposure_true_energy(pointing, obs.observation_live_time_duration,
                                             obs.aeff, geom, use_region_center=False)
        np.testing.assert_allclose(mean.data[5:], expo.data[5:], rtol=2e-2)
        assert not np.allclose(mean.data, expo.data, rtol=1e-6, atol=0)
    # background on a region: rate at the centre x solid angle x time
    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    geom_reco = RegionGeom.create(region=circle, axes=[axis])
    bkg = make_map_background_irf(pointing, 1000 * u.s, obs.bkg, geom_reco)
    fov_lon, fov_lat = red.fov_coordinates(np.array([83.63]), np.array([22.01]),
                                           pointing.ra.deg, pointing.dec.deg)
    sa = geom_reco.solid_angle().to_value("sr")
    expected = red.background_values(obs.bkg, axis.edges.to_value("TeV"), fov_lon, fov_lat,
                                     np.atleast_1d(sa), 1000.0)
    np.testing.assert_allclose(bkg.data.ravel(), expected.ravel(), rtol=1e-10)
