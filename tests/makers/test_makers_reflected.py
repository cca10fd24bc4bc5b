"""Reflected / wobble OFF regions and the reflected-regions background maker.

Data: HESS DL3 DR1, H.E.S.S. collaboration (Crab runs 23523, 23526, 23559, 23592) and the
MAGIC point-like runs with RAD_MAX (MAGIC collaboration, CC BY-NC-SA 4.0). Reference
numbers: gammapy 2.1 (``makers_map.json`` "spectrum" and ``datasets_stack_vs_joint.json``).
"""

from __future__ import annotations

import json
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord
from regions import (
    CircleSkyRegion,
    EllipseSkyRegion,
    PointSkyRegion,
    PolygonSkyRegion,
    RectangleSkyRegion,
)

from gammapipe.datasets.spectrum import SpectrumDataset, SpectrumDatasetOnOff
from gammapipe.makers import SafeMaskMaker
from gammapipe.makers.background.reflected import (
    ReflectedRegionsBackgroundMaker,
    ReflectedRegionsFinder,
    WobbleRegionsFinder,
)
from gammapipe.makers.spectrum import SpectrumDatasetMaker
from gammapipe.maps import Map, MapAxis, RegionGeom, WcsGeom

TARGET = SkyCoord(83.63, 22.01, unit="deg", frame="icrs")
OBS_MAKERS_MAP = [23523, 23592, 23526, 23559]


@pytest.fixture(scope="module")
def observations(hess_dir):
    from gammapipe.data import DataStore

    store = DataStore.from_dir(hess_dir)
    return {o.obs_id: o for o in store.get_observations([23523, 23526, 23559, 23592])}


@pytest.fixture(scope="module")
def makers_map_ref(reference_dir):
    return json.loads((reference_dir / "makers_map.json").read_text())["spectrum"]


@pytest.fixture(scope="module")
def stack_ref(reference_dir):
    return json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())


def _makers_map_setup():
    """ON region r=0.2 deg and exclusion of the same circle (makers_map.py part 6)."""
    energy_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy_axis], width=5 * u.deg,
                          binsz=0.05 * u.deg, frame="icrs")
    circle = CircleSkyRegion(center=geom.center_skydir, radius=0.2 * u.deg)
    exclusion = geom.region_mask([circle], inside=False)
    exclusion_2d = exclusion.reduce_over_axes(np.logical_or, keepdims=False)
    return circle, exclusion_2d, energy_axis


def _tutorial_exclusion():
    """r=0.5 deg around RGB J0521+212 on a 150x150, 0.05 deg TAN grid."""
    region = CircleSkyRegion(SkyCoord(183.604, -8.708, unit="deg", frame="galactic"),
                             0.5 * u.deg)
    geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=TARGET.galactic, proj="TAN",
                          frame="icrs")
    return ~geom.region_mask([region]), region


def _pointing(obs):
    return obs.get_pointing_icrs(obs.tmid)


# ---------------------------------------------------------------------------- finder
def test_reflected_number_of_regions_makers_map(observations, makers_map_ref):
    circle, exclusion, _ = _makers_map_setup()
    finder = ReflectedRegionsFinder()
    expected = {r["obs_id"]: r["n_reflected_regions"] for r in makers_map_ref["per_run"]}
    got = {}
    for obs_id in OBS_MAKERS_MAP:
        regions, wcs = finder.run(circle, _pointing(observations[obs_id]), exclusion)
        got[obs_id] = len(regions)
        assert wcs.wcs.ctype[0].endswith("TAN")
    assert got == expected == {23523: 6, 23592: 21, 23526: 6, 23559: 22}


def test_reflected_number_of_regions_with_exclusion(observations, stack_ref):
    exclusion, _ = _tutorial_exclusion()
    assert int((~exclusion.data).sum()) == stack_ref["exclusion_mask_n_excluded"] == 314
    on = CircleSkyRegion(TARGET, Angle("0.11 deg"))
    finder = ReflectedRegionsFinder()
    for row in stack_ref["per_run"]:
        regions, _ = finder.run(on, _pointing(observations[int(row["name"])]), exclusion)
        assert len(regions) == row["acceptance_off_per_bin"][0]


def test_reflected_regions_geometry(observations):
    """Same offset and size as the ON region, no overlap with it or with each other, and
    none touching the excluded circle."""
    exclusion, excluded = _tutorial_exclusion()
    on = CircleSkyRegion(TARGET, Angle("0.11 deg"))
    pointing = _pointing(observations[23559])
    regions, _ = ReflectedRegionsFinder().run(on, pointing, exclusion)
    assert len(regions) == 41
    offset_on = TARGET.separation(pointing).deg
    centers = SkyCoord([r.center for r in regions])
    np.testing.assert_allclose(centers.separation(pointing).deg, offset_on, rtol=1e-6)
    # the sky radius keeps the ON region's pixel radius on the TAN grid (the reference
    # convention); at 1.5 deg offset the gnomonic scale changes it by < 4e-4
    radii = np.array([r.radius.deg for r in regions])
    np.testing.assert_allclose(radii, 0.11, rtol=4e-4)
    assert np.all(centers.separation(TARGET).deg > 2 * 0.11)
    # the angular size of the ON region is measured on the pixel centres of the 0.01 deg
    # reference grid (as the reference does: 41 regions for this run), so neighbouring
    # circles may overlap by less than one grid pixel on the sky ...
    sep = centers[:, None].separation(centers[None, :]).deg + np.eye(len(regions)) * 10
    assert sep.min() > 2 * 0.11 - 0.01
    # ... and neighbours share at most a few pixel centres of that grid (on average < 1 %
    # of a region's pixels; 96 of 42 x 378 here)
    regions, wcs = ReflectedRegionsFinder().run(on, pointing, exclusion)
    geom = WcsGeom(wcs, wcs.pixel_shape)
    masks = np.array([geom.region_mask([r]).data for r in regions + [on]])
    shared = int(np.sum(masks.sum(axis=0) > 1))
    assert shared <= 0.01 * masks[-1].sum() * len(masks)
    # excluded circle (0.5 deg) + region radius, minus one exclusion pixel of slack
    d_excl = centers.separation(excluded.center).deg
    assert np.all(d_excl > 0.5 + 0.11 - 0.05 * np.sqrt(2))


def test_reflected_min_distance_and_max_number(observations):
    on = CircleSkyRegion(TARGET, Angle("0.11 deg"))
    pointing = _pointing(observations[23523])
    regions, _ = ReflectedRegionsFinder(max_region_number=3).run(on, pointing)
    assert len(regions) == 3
    regions_md, _ = ReflectedRegionsFinder(min_distance="0.2 rad").run(on, pointing)
    regions_all, _ = ReflectedRegionsFinder().run(on, pointing)
    assert len(regions_all) == 12
    # angular size of the ON region seen from the pointing at offset 0.4956 deg:
    # 2 asin(0.11 / 0.4956) = 0.4476 rad (pixel centres: slightly less); with 0.2 rad
    # more between regions: floor((2 pi - 2 (0.4476 + 0.1)) / 0.6476) + 1 = 9
    assert len(regions_md) == 9


@pytest.mark.parametrize("shape", ["ellipse", "rectangle", "polygon"])
def test_reflected_other_shapes(observations, shape):
    pointing = _pointing(observations[23592])
    if shape == "ellipse":
        on = EllipseSkyRegion(TARGET, width=0.3 * u.deg, height=0.15 * u.deg,
                              angle=30 * u.deg)
    elif shape == "rectangle":
        on = RectangleSkyRegion(TARGET, width=0.3 * u.deg, height=0.15 * u.deg,
                                angle=30 * u.deg)
    else:
        on = PolygonSkyRegion(SkyCoord([83.5, 83.8, 83.7], [21.9, 21.95, 22.15],
                                       unit="deg"))
    regions, wcs = ReflectedRegionsFinder().run(on, pointing)
    assert 10 < len(regions) < 60
    # pixel masks on a fine grid: same area as the ON region, no overlaps
    geom = WcsGeom.create(skydir=pointing, binsz=0.01, width=4.0, proj="TAN")
    on_mask = geom.region_mask([on]).data
    masks = [geom.region_mask([r]).data for r in regions]
    for m in masks:
        assert abs(int(m.sum()) - int(on_mask.sum())) <= 0.03 * on_mask.sum()
        assert not np.any(m & on_mask)
    total = np.sum(masks, axis=0)
    assert total.max() == 1


def test_wobble_regions_finder(observations):
    on = CircleSkyRegion(TARGET, Angle("0.11 deg"))
    pointing = _pointing(observations[23523])
    regions, _ = WobbleRegionsFinder(n_off_regions=3).run(on, pointing)
    assert len(regions) == 3
    offset = TARGET.separation(pointing)
    pa_on = pointing.position_angle(TARGET)
    angles = [(pointing.position_angle(r.center) - pa_on).wrap_at("360d").deg for r in regions]
    np.testing.assert_allclose(sorted(angles), [90, 180, 270], atol=0.05)
    np.testing.assert_allclose([pointing.separation(r.center).deg for r in regions],
                               offset.deg, rtol=1e-6)
    # an exclusion over the region opposite to the ON region removes it
    opposite = [r for r, a in zip(regions, angles, strict=True) if abs(a - 180) < 1][0]
    geom = WcsGeom.create(skydir=pointing, binsz=0.02, width=3, proj="TAN")
    exclusion = geom.region_mask([CircleSkyRegion(opposite.center, 0.05 * u.deg)],
                                 inside=False)
    regions_ex, _ = WobbleRegionsFinder(n_off_regions=3).run(on, pointing, exclusion)
    assert len(regions_ex) == 2
    with pytest.raises(ValueError, match="n_off_regions"):
        WobbleRegionsFinder(n_off_regions=0)


def test_finder_bad_input(observations):
    pointing = _pointing(observations[23523])
    with pytest.raises(TypeError, match="sky region"):
        ReflectedRegionsFinder().run("not a region", pointing)
    with pytest.raises(Exception, match="RAD_MAX"):
        ReflectedRegionsFinder().run(PointSkyRegion(TARGET), pointing)
    # rotation centre inside the ON region: warning, no region
    with pytest.warns(UserWarning, match="inside the ON"):
        regions, _ = ReflectedRegionsFinder().run(CircleSkyRegion(pointing, 0.2 * u.deg),
                                                  pointing.directional_offset_by(
                                                      0 * u.deg, 0.05 * u.deg))
    assert regions == []


# ---------------------------------------------------------------------------- maker
@pytest.fixture(scope="module")
def makers_map_datasets(observations):
    circle, exclusion, energy_axis = _makers_map_setup()
    geom = RegionGeom.create(region=circle, axes=[energy_axis])
    energy_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV",
                                      interp="log")
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
    maker = SpectrumDatasetMaker(containment_correction=False,
                                 selection=["counts", "exposure", "edisp"])
    reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    out = {}
    for obs_id in OBS_MAKERS_MAP:
        obs = observations[obs_id]
        ds = maker.run(empty.copy(name=f"obs-{obs_id}"), obs)
        ds = reflected.run(ds, obs)
        # the aeff-max energy mask (the on-off safe mask of the reference workflow)
        mask = safe.make_mask_energy_aeff_max(ds, obs)
        ds.mask_safe = Map.from_geom(ds.counts.geom, data=mask, dtype=bool)
        out[obs_id] = ds
    return out


def test_reflected_maker_per_run_numbers(makers_map_datasets, makers_map_ref):
    for row in makers_map_ref["per_run"]:
        ds = makers_map_datasets[row["obs_id"]]
        assert isinstance(ds, SpectrumDatasetOnOff)
        info = ds.info_dict()
        np.testing.assert_array_equal(ds.counts.data.ravel(), row["counts_per_bin"])
        np.testing.assert_array_equal(ds.counts_off.data.ravel(), row["counts_off_per_bin"])
        np.testing.assert_allclose(ds.alpha.data.ravel(), row["alpha_per_bin"], rtol=1e-12)
        assert ds.meta["n_off_regions"] == row["n_reflected_regions"]
        assert info["counts"] == row["counts_in_safe"]
        assert info["counts_off"] == row["counts_off_in_safe"]
        assert info["acceptance"] == pytest.approx(row["acceptance"], rel=1e-12)
        assert info["acceptance_off"] == pytest.approx(row["acceptance_off"], rel=1e-12)
        assert info["alpha"] == pytest.approx(row["alpha"], rel=1e-12)
        assert info["excess"] == pytest.approx(row["excess_in_safe"], rel=1e-12)
        assert info["sqrt_ts"] == pytest.approx(row["sqrt_ts_in_safe"], rel=1e-9)
        assert info["livetime"].to_value("s") == pytest.approx(row["livetime_s"], rel=1e-12)
        assert ds.exposure.quantity.to_value("m2 s").sum() == pytest.approx(
            row["exposure_total_m2s"], rel=1e-9)


def test_reflected_maker_alpha_and_background(makers_map_datasets):
    ds = makers_map_datasets[23592]
    np.testing.assert_allclose(ds.acceptance.data, 1.0)
    np.testing.assert_allclose(ds.acceptance_off.data, 21.0)
    np.testing.assert_allclose(ds.background.data, ds.counts_off.data / 21.0)


def test_reflected_maker_no_off_region(observations):
    """Everything excluded: a warning naming the run and an unusable dataset."""
    circle, _, energy_axis = _makers_map_setup()
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=8, binsz=0.1)
    exclusion = Map.from_geom(geom, data=np.zeros(geom.data_shape, bool), dtype=bool)
    empty = SpectrumDataset.create(RegionGeom.create(circle, axes=[energy_axis]))
    ds = SpectrumDatasetMaker(selection=["counts", "exposure"]).run(
        empty.copy(name="x"), observations[23523])
    maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    with pytest.warns(UserWarning, match="23523"):
        on_off = maker.run(ds, observations[23523])
    assert on_off.meta["usable"] is False
    assert not on_off.mask_safe.data.any()
    assert on_off.counts_off.data.sum() == 0
    assert on_off.stat_sum() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(on_off.info_dict()["alpha"])


def test_reflected_maker_rad_max(data_dir):
    """Point-like IRFs: ON counts within RAD_MAX(E) of the source, OFF counts within
    RAD_MAX(E) of the wobble regions' centres."""
    from gammapipe.data import DataStore

    path = data_dir / "magic" / "rad_max" / "data"
    if not path.exists():
        pytest.skip("MAGIC RAD_MAX data not available")
    store = DataStore.from_dir(path)
    obs = store.get_observations(required_irf="point-like")[0]
    target = SkyCoord(83.633, 22.014, unit="deg")
    e_axis = MapAxis.from_energy_bounds(0.05, 50, nbin=10, unit="TeV", name="energy")
    e_true = MapAxis.from_energy_bounds(0.01, 100, nbin=20, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(RegionGeom.create(PointSkyRegion(target), axes=[e_axis]),
                                   energy_axis_true=e_true)
    ds = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"]).run(empty, obs)
    on_off = ReflectedRegionsBackgroundMaker(
        region_finder=WobbleRegionsFinder(n_off_regions=3)).run(ds, obs)
    # brute force: events within RAD_MAX(E_event) of the target, per energy bin
    events = obs.events
    offset = _pointing(obs).separation(target)
    radius = obs.rad_max.evaluate(method="nearest", energy=events.energy, offset=offset)
    inside = events.radec.separation(target).deg <= u.Quantity(radius, "deg").value
    expected, _ = np.histogram(events.energy.to_value("TeV")[inside],
                               bins=e_axis.edges.to_value("TeV"))
    np.testing.assert_array_equal(ds.counts.data.ravel(), expected)
    np.testing.assert_allclose(on_off.alpha.data, 1 / 3)
    assert on_off.counts_off.data.sum() > 0
