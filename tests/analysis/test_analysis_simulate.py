"""Event simulator: analytic IRFs, event sampling from a dataset's npred, GADF DL3 output
readable by DataStore.from_dir."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammapipe.analysis.simulate import (
    MapDatasetEventSampler,
    _simulation_dataset,
    make_analytic_irfs,
    make_source_model,
    simulate_dl3,
    wobble_pointings,
)

CRAB = SkyCoord(83.633, 22.014, unit="deg")


@pytest.fixture(scope="module")
def irfs():
    return make_analytic_irfs()


def test_analytic_irfs(irfs):
    aeff = irfs["aeff"]
    # CTA parametrisation g1 E^-g2 exp(-g3/E), E in MeV, cm2
    energy = 1e6
    expected = 1.71e11 * energy ** -0.0891 * np.exp(-1e5 / energy) * 1e-4
    value = aeff.evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg).to_value("m2")
    assert value == pytest.approx(expected, rel=0.02)
    assert aeff.low_threshold == 0.3 * u.TeV
    # single Gaussian PSF: containment at r = sigma is 1 - exp(-1/2)
    sigma = 0.08 * u.deg
    frac = irfs["psf"].containment(sigma, energy_true=1 * u.TeV, offset=0.5 * u.deg)
    assert float(frac) == pytest.approx(1 - np.exp(-0.5), abs=0.01)
    # Gaussian migration integrates to 1 around migra = 1
    edisp = irfs["edisp"]
    kernel_sum = np.sum(edisp.data[20, :, 0] * np.diff(edisp.axes["migra"].edges.value))
    assert kernel_sum == pytest.approx(1.0, abs=1e-3)
    assert irfs["bkg"].data.max() > 0


def test_wobble_pointings():
    points = wobble_pointings(CRAB, 0.5 * u.deg, 5)
    sep = [p.separation(CRAB).deg for p in points]
    assert np.allclose(sep, 0.5)
    assert points[0].dec.deg == pytest.approx(CRAB.dec.deg + 0.5)
    assert points[1].dec.deg == pytest.approx(CRAB.dec.deg - 0.5)
    assert points[4].dec.deg == pytest.approx(points[0].dec.deg)


def test_sampler_reproduces_npred(irfs):
    from gammapipe.data import Observation
    from gammapipe.maps import Map
    from gammapipe.modeling.models import Models

    pointing = wobble_pointings(CRAB, 0.5 * u.deg, 1)[0]
    obs = Observation.create(pointing=pointing, livetime=0.05 * u.h, irfs=irfs, obs_id=7)
    dataset = _simulation_dataset(obs, 1.0 * u.deg, 0.05 * u.deg, 0.5 * u.TeV)
    dataset.models = Models([make_source_model(CRAB)])
    sampler = MapDatasetEventSampler(random_state=1)
    events = sampler.run(dataset, obs)
    table = events.table
    assert events.meta["OBS_ID"] == 7
    assert np.all(np.diff(table["TIME"].value) >= 0)
    n_src = int(np.sum(table["MC_ID"] == 1))
    n_bkg = int(np.sum(table["MC_ID"] == 0))
    expected_bkg = float(dataset.npred_background().data.sum())
    assert abs(n_bkg - expected_bkg) < 4 * np.sqrt(expected_bkg)
    # source events: PSF/EDisp move a few events outside the dataset geometry
    expected_src = float(dataset.npred_signal().data.sum())
    assert abs(n_src - expected_src) < 4 * np.sqrt(expected_src) + 0.02 * expected_src
    # binned counts follow npred per energy bin (chi2 test)
    counts = Map.from_geom(dataset.counts.geom)
    counts.fill_events(events)
    observed = counts.data.sum(axis=(1, 2))
    predicted = dataset.npred().data.sum(axis=(1, 2))
    use = predicted > 20
    chi2 = np.sum((observed[use] - predicted[use]) ** 2 / predicted[use])
    assert chi2 / use.sum() < 2.5
    # the source events are centred on the source
    src = table[table["MC_ID"] == 1]
    sep = SkyCoord(src["RA"], src["DEC"]).separation(CRAB).deg
    assert np.median(sep) < 0.1
    # same seed -> same events
    again = MapDatasetEventSampler(random_state=1).run(dataset, obs)
    assert np.array_equal(again.table["ENERGY"], table["ENERGY"])


def test_simulate_dl3_readable_by_datastore(tmp_path, irfs):
    from gammapipe.data import DataStore

    models = [make_source_model(CRAB)]
    pointings = wobble_pointings(CRAB, 0.5 * u.deg, 2)
    store = simulate_dl3(tmp_path / "dl3", models, pointings, livetime="0.02 h", irfs=irfs,
                         random_state=3, offset_max="1.5 deg", energy_min="0.5 TeV")
    assert sorted(p.name for p in (tmp_path / "dl3").iterdir()) == [
        "hdu-index.fits.gz", "obs-index.fits.gz", "obs_000001.fits.gz", "obs_000002.fits.gz"]
    store = DataStore.from_dir(tmp_path / "dl3")
    assert store.obs_ids == [1, 2]
    obs = store.obs(2)
    assert list(obs.check()) == []
    assert obs.observation_live_time_duration.to_value("s") == pytest.approx(72.0)
    pnt = obs.get_pointing_icrs(obs.tmid)
    assert pnt.separation(pointings[1]).deg < 1e-6
    events = obs.events
    assert len(events) > 100
    assert np.all(events.offset_from(pnt).deg <= 1.5 + 1e-6)
    assert np.all(events.energy.to_value("TeV") >= 0.5 * (1 - 1e-9))
    assert obs.aeff.low_threshold == 0.3 * u.TeV
    # reproducible for a seed, different for another one
    again = simulate_dl3(tmp_path / "again", models, pointings[:1], livetime="0.02 h",
                         irfs=irfs, random_state=3, offset_max="1.5 deg",
                         energy_min="0.5 TeV")
    assert len(again.obs(1).events) == len(store.obs(1).events)
    other = simulate_dl3(tmp_path / "other", models, pointings[:1], livetime="0.02 h",
                         irfs=irfs, random_state=4, offset_max="1.5 deg",
                         energy_min="0.5 TeV")
    assert len(other.obs(1).events) != len(store.obs(1).events)
    with pytest.raises(FileExistsError):
        simulate_dl3(tmp_path / "dl3", models, pointings[:1], livetime="0.02 h", irfs=irfs)


def test_load_irfs_from_a_gadf_file(hess_dir, tmp_path, irfs):
    """IRFs of a HESS DL3 DR1 run file (H.E.S.S. collaboration) drive the simulator."""
    from gammapipe.analysis.simulate import load_irfs
    from gammapipe.utils.errors import MissingHDUError

    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    loaded = load_irfs(path)
    assert sorted(loaded) == ["aeff", "bkg", "edisp", "psf"]
    assert type(loaded["psf"]).__name__ == "PSF3D"
    store = simulate_dl3(tmp_path / "hess-like", [make_source_model(CRAB)],
                         wobble_pointings(CRAB, 0.5 * u.deg, 1), livetime="0.05 h",
                         irfs=loaded, random_state=0, offset_max="1.5 deg",
                         energy_min="0.7 TeV")
    events = store.obs(1).events
    assert np.sum(events.table["MC_ID"] == 1) > 20
    only_aeff = tmp_path / "aeff.fits"
    irfs["aeff"].write(only_aeff)
    with pytest.raises(MissingHDUError, match="no IRF HDU for edisp, psf, bkg"):
        load_irfs(only_aeff)
