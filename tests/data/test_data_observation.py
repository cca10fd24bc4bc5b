"""Observation / Observations: creation, time selection, copies, write/read, plots.

Real data: HESS DL3 DR1, H.E.S.S. collaboration.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time

from gammapipe.data import (
    GTI,
    DataStore,
    FixedPointingInfo,
    Observation,
    Observations,
    observatory_location,
)


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


def test_create_for_simulation():
    pointing = SkyCoord(83.63, 22.01, unit="deg")
    location = observatory_location("cta_south")
    obs = Observation.create(pointing, livetime=2 * u.h, deadtime_fraction=0.1, obs_id=7,
                             location=location)
    assert obs.obs_id == 7
    assert obs.observation_time_duration.to_value(u.h) == pytest.approx(2.0)
    assert obs.observation_live_time_duration.to_value(u.h) == pytest.approx(1.8)
    assert obs.observation_dead_time_fraction == pytest.approx(0.1)
    assert obs.tstart.isot == "2000-01-01T00:00:00.000"
    assert (obs.tstop - obs.tstart).to_value(u.h) == pytest.approx(2.0)
    assert obs.get_pointing_icrs(obs.tmid).separation(pointing).deg < 1e-12
    altaz = obs.get_pointing_altaz(obs.tmid)
    assert altaz.separation(pointing.transform_to(altaz.frame)).deg < 1e-9
    assert obs.events is None
    assert obs.available_hdus == ["gti"] and obs.available_irfs == []
    assert np.isnan(obs.target_radec.ra.deg)


def test_create_with_times_and_irfs(store):
    ref = store.obs(23523)
    irfs = {"aeff": ref.aeff, "psf": ref.psf}
    t0 = Time("2022-01-01T00:00:00", scale="tt")
    pointing = FixedPointingInfo(fixed_icrs=SkyCoord(10, 20, unit="deg"),
                                 location=observatory_location("hess"))
    obs = Observation.create(pointing, tstart=t0, tstop=t0 + 30 * u.min, irfs=irfs,
                             reference_time=Time("2021-01-01T00:00:00", scale="tt"))
    assert obs.aeff is ref.aeff and obs.psf is ref.psf and obs.edisp is None
    assert obs.available_irfs == ["aeff", "psf"]
    assert obs.observation_time_duration.to_value(u.s) == pytest.approx(1800.0, abs=1e-6)
    assert abs((obs.tstart - t0).to_value(u.s)) < 1e-6
    with pytest.raises(ValueError, match="unknown IRF key"):
        Observation.create(pointing, livetime=1 * u.h, irfs={"banana": None})
    with pytest.raises(ValueError, match="livetime or tstop"):
        Observation.create(pointing)
    with pytest.raises(TypeError, match="pointing"):
        Observation.create("83 22", livetime=1 * u.h)


def test_lazy_loading_and_cache(store):
    obs = store.obs(23592)
    assert obs._loaded == {}
    events = obs.events
    assert obs.events is events  # cached
    assert set(obs._loaded) == {"events"}


def test_select_time(store):
    obs = store.obs(23523)
    t0 = obs.tstart
    interval = (t0 + 100 * u.s, t0 + 700 * u.s)
    selected = obs.select_time(interval)
    assert selected.obs_id == 23523
    assert selected.gti.time_sum.to_value(u.s) == pytest.approx(600.0, abs=1e-6)
    seconds = np.asarray(obs.events.table["TIME"])
    met0 = float(obs.gti.met_start.value[0])
    expected = int(((seconds >= met0 + 100) & (seconds < met0 + 700)).sum())
    assert len(selected.events.table) == expected
    assert selected.observation_live_time_duration.to_value(u.s) == pytest.approx(
        600.0 * (1 - obs.observation_dead_time_fraction))
    assert selected.aeff is obs.aeff  # IRFs are shared
    assert len(obs.events.table) == 7613  # the original is untouched


def test_copy(store):
    obs = store.obs(23526)
    copy = obs.copy()
    assert copy.obs_id == 23526 and copy.available_hdus == obs.available_hdus
    in_memory = obs.copy(in_memory=True)
    assert set(in_memory._sources) >= {"events", "aeff"}
    assert not any(type(v).__name__ == "LazyHDU" for v in in_memory._sources.values())
    assert copy._sources["aeff"] is obs._sources["aeff"]  # lazy holders are shared
    gti = GTI.create([0] * u.s, [10] * u.s)
    replaced = obs.copy(gti=gti, obs_id=5)
    assert replaced.obs_id == 5 and replaced.gti is gti


def test_write_read_roundtrip(store, tmp_path):
    obs = store.obs(23523)
    path = tmp_path / "obs_23523.fits.gz"
    obs.write(path)
    back = Observation.read(path)
    assert back.obs_id == 23523
    assert len(back.events.table) == 7613
    np.testing.assert_array_equal(np.asarray(back.events.table["ENERGY"]),
                                  np.asarray(obs.events.table["ENERGY"]))
    assert back.gti.time_sum == obs.gti.time_sum
    assert back.observation_live_time_duration.to_value(u.s) == pytest.approx(
        obs.observation_live_time_duration.to_value(u.s), rel=1e-12)
    assert back.available_irfs == ["aeff", "edisp", "psf", "bkg"]
    np.testing.assert_allclose(back.aeff.data, obs.aeff.data)
    np.testing.assert_allclose(back.bkg.data, obs.bkg.data)
    with pytest.raises(FileExistsError):
        obs.write(path)
    obs.write(path, overwrite=True, include_irfs=False)
    assert Observation.read(path).available_irfs == []


def test_check_clean(store):
    assert list(store.obs(23523).check()) == []


def test_observations_container(store):
    observations = store.get_observations([23523, 23526, 23559])
    assert len(observations) == 3
    assert observations.ids == ["23523", "23526", "23559"]
    assert observations["23526"].obs_id == 23526
    sub = observations[[0, "23559"]]
    assert isinstance(sub, Observations) and sub.ids == ["23523", "23559"]
    with pytest.raises(TypeError, match="Observation"):
        observations.append("not an observation")
    stacked = Observations.from_stack([observations[:1], observations[1:]])
    assert stacked.ids == observations.ids
    with pytest.raises(ValueError, match="twice"):
        Observations.from_stack([observations, observations[:1]])
    generated = list(observations.in_memory_generator())
    assert [o.obs_id for o in generated] == [23523, 23526, 23559]
    assert "Number of observations: 3" in str(observations)
    groups = observations.group_by_label([0, 1, 0])
    assert groups["group_0"].ids == ["23523", "23559"]


def test_observations_select_time(store):
    observations = store.get_observations([23523, 23526])
    t0 = observations[0].tstart
    # 10 minutes inside the first run only
    selected = observations.select_time([(t0 + 60 * u.s, t0 + 660 * u.s)])
    assert selected.ids == ["23523"]
    assert selected[0].gti.time_sum.to_value(u.s) == pytest.approx(600.0, abs=1e-6)
    # a window covering both runs keeps both, a single (start, stop) pair is accepted
    t_end = observations[1].tstop
    both = observations.select_time((t0 - 1 * u.s, t_end + 1 * u.s))
    assert both.ids == ["23523", "23526"]
    assert both[1].gti.time_sum == observations[1].gti.time_sum


def test_location_from_header(store):
    obs = store.obs(23523)
    assert isinstance(obs.location, EarthLocation)
    assert obs.location.lon.deg == pytest.approx(16.5002222222222)


def test_peek(store, tmp_path):
    import matplotlib.pyplot as plt

    fig = store.obs(23523).peek()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not any("cannot plot" in t or "not available" in t for t in texts), texts
    assert len(fig.axes) >= 6
    fig.savefig(tmp_path / "obs_peek.png")
    plt.close(fig)
    assert (tmp_path / "obs_peek.png").stat().st_size > 1000
    # an observation without IRFs still plots
    sim = store.obs(23523).copy(aeff=None, edisp=None, psf=None, bkg=None)
    fig = sim.peek()
    plt.close(fig)


def test_meta_attribute_access(store):
    obs = store.obs(23523)
    assert obs.meta.deadtime_fraction == obs.meta["deadtime_fraction"]
    assert obs.obs_info["OBS_ID"] == 23523
    with pytest.raises(AttributeError, match="nope"):
        obs.meta.nope  # noqa: B018


def test_select_time_simulated_observation():
    obs = Observation.create(SkyCoord(0, 0, unit="deg"), livetime=1 * u.h)
    t0 = obs.tstart
    selected = obs.select_time((t0 + 10 * u.min, t0 + 20 * u.min))
    assert selected.events is None
    assert selected.gti.time_sum.to_value(u.s) == pytest.approx(600.0, abs=1e-6)
    observations = Observations([obs]).select_time([(t0 + 2 * u.h, t0 + 3 * u.h)])
    assert len(observations) == 0
