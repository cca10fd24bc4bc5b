"""Event simulator: analytic CTA-like IRFs, event sampling from a dataset's npred, GADF DL3.

- `make_analytic_irfs`: effective area (CTA parametrisation, flat in offset up to
  ``offset_max``), Gaussian energy dispersion, single-Gaussian PSF whose width shrinks with
  energy, and a power-law x radial-Gaussian background; all GADF-writable.
- `MapDatasetEventSampler`: draws an `EventList` from a `MapDataset` with models: source
  events are drawn per pixel and true-energy bin from ``flux x exposure`` (point sources at
  their exact position), displaced by the dataset's PSF map and migrated by its energy
  dispersion; background events are drawn from ``npred_background`` in reco energy.
  Positions are uniform inside a pixel, energies log-uniform inside a bin, times uniform
  inside the GTIs.
- `simulate_observation` / `simulate_dl3`: complete runs written as GADF DL3 files with
  ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` so that `DataStore.from_dir` reads them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from gammapipe.utils.fits import make_path

__all__ = [
    "make_analytic_irfs",
    "load_irfs",
    "wobble_pointings",
    "MapDatasetEventSampler",
    "simulate_observation",
    "simulate_dl3",
    "make_source_model",
]

log = logging.getLogger(__name__)

_IRF_KEYS = ("aeff", "edisp", "psf", "bkg")


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state == "random-seed" or random_state is None:
        return np.random.default_rng()
    return np.random.default_rng(int(random_state))


# ----------------------------------------------------------------------------- IRFs
def make_analytic_irfs(offset_max="4 deg", psf_sigma_1tev="0.08 deg",
                       edisp_sigma: float = 0.1, bkg_amplitude="5e-5 s-1 MeV-1 sr-1",
                       bkg_index: float = 2.7, bkg_sigma="1.5 deg",
                       energy_threshold=("0.3 TeV", "150 TeV")) -> dict:
    """CTA-like analytic IRFs for simulations.

    Parameters
    ----------
    offset_max : `~astropy.units.Quantity`
        Field-of-view radius of the effective area, PSF and energy dispersion.
    psf_sigma_1tev : `~astropy.units.Quantity`
        Gaussian PSF width at 1 TeV; ``sigma(E) = sigma_1TeV (E / TeV)**-0.25`` clipped to
        [0.03, 0.3] deg.
    edisp_sigma : float
        Relative energy resolution (Gaussian migration width, no bias).
    bkg_amplitude, bkg_index, bkg_sigma
        Background rate ``amplitude (E / TeV)**-index exp(-r**2 / 2 sigma**2)``.
    energy_threshold : tuple of `~astropy.units.Quantity`
        ``LO_THRES`` / ``HI_THRES`` written in the effective-area header (used by the
        ``aeff-default`` safe mask).

    Returns
    -------
    irfs : dict
        ``aeff`` (`EffectiveAreaTable2D`), ``edisp`` (`EnergyDispersion2D`), ``psf``
        (`EnergyDependentMultiGaussPSF`), ``bkg`` (`Background3D`).
    """
    from gammapipe.irf import (
        Background3D,
        EffectiveAreaTable2D,
        EnergyDependentMultiGaussPSF,
        EnergyDispersion2D,
    )
    from gammapipe.maps import MapAxis

    offset_max = u.Quantity(offset_max, u.deg)
    e_true = MapAxis.from_energy_bounds("0.03 TeV", "300 TeV", nbin=40, name="energy_true")
    aeff = EffectiveAreaTable2D.from_parametrization(e_true, "CTA", offset_max=offset_max)
    lo, hi = (u.Quantity(e, u.TeV).value for e in energy_threshold)
    aeff.meta.update({"LO_THRES": lo, "HI_THRES": hi})

    offset_axis = MapAxis.from_bounds(0, offset_max.value, nbin=4, unit="deg", name="offset")
    migra = MapAxis.from_bounds(0.2, 5, nbin=150, node_type="edges", name="migra")
    edisp = EnergyDispersion2D.from_gauss(e_true, migra, offset_axis, bias=0.0,
                                          sigma=edisp_sigma)
    energy = e_true.center.to_value(u.TeV)
    sigma = np.clip(u.Quantity(psf_sigma_1tev, u.deg).value * energy ** -0.25, 0.03, 0.3)
    shape = (e_true.nbin, offset_axis.nbin)
    data = {"sigma_1": np.broadcast_to(sigma[:, None], shape),
            "sigma_2": np.zeros(shape), "sigma_3": np.zeros(shape),
            "scale": np.broadcast_to((1 / (2 * np.pi * np.deg2rad(sigma) ** 2))[:, None],
                                     shape),
            "ampl_2": np.zeros(shape), "ampl_3": np.zeros(shape)}
    psf = EnergyDependentMultiGaussPSF(axes=[e_true, offset_axis], data=data)
    fov = offset_max.value + 1.0
    nfov = int(round(2 * fov / 0.2))
    bkg = Background3D.from_parametrization(
        energy_axis=MapAxis.from_energy_bounds("0.05 TeV", "200 TeV", nbin=36, name="energy"),
        fov_lon_axis=MapAxis.from_bounds(-fov, fov, nbin=nfov, unit="deg", name="fov_lon"),
        fov_lat_axis=MapAxis.from_bounds(-fov, fov, nbin=nfov, unit="deg", name="fov_lat"),
        amplitude=bkg_amplitude, index=bkg_index, sigma=bkg_sigma)
    return {"aeff": aeff, "edisp": edisp, "psf": psf, "bkg": bkg}


def load_irfs(path: str | os.PathLike) -> dict:
    """IRFs from one GADF file (HDUs recognised by their ``HDUCLAS`` keywords).

    Raises
    ------
    MissingHDUError
        The file lacks one of the effective area, energy dispersion, PSF or background.
    """
    from gammapipe.data.loading import scan_file_hdus
    from gammapipe.irf import load_irf_hdu
    from gammapipe.utils.errors import MissingHDUError

    path = make_path(path)
    irfs = {}
    for hdu_type, hdu_class, hdu_name, _ in scan_file_hdus(path):
        if hdu_type in _IRF_KEYS and hdu_type not in irfs:
            irfs[hdu_type] = load_irf_hdu(path, hdu_name, hdu_class=hdu_class)
    missing = [k for k in _IRF_KEYS if k not in irfs]
    if missing:
        raise MissingHDUError(f"{path}: no IRF HDU for {', '.join(missing)}")
    return irfs


def wobble_pointings(position: SkyCoord, offset, n_obs: int) -> list[SkyCoord]:
    """``n_obs`` pointings offset by ``offset`` from ``position``, cycling N, S, E, W."""
    offset = u.Quantity(offset, u.deg)
    angles = np.array([0.0, 180.0, 90.0, 270.0]) * u.deg
    return [position.directional_offset_by(angles[i % 4], offset) for i in range(n_obs)]


def make_source_model(position: SkyCoord, index: float = 2.6,
                      amplitude="4.5e-11 cm-2 s-1 TeV-1", reference="1 TeV",
                      name: str = "source"):
    """Point source with a power-law spectrum."""
    from gammapipe.modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    frame = "galactic" if position.frame.name == "galactic" else "icrs"
    if frame == "galactic":
        lon, lat = position.l, position.b
    else:
        position = position.icrs
        lon, lat = position.ra, position.dec
    spatial = PointSpatialModel(lon_0=lon.to(u.deg), lat_0=lat.to(u.deg), frame=frame)
    spectral = PowerLawSpectralModel(index=index, amplitude=u.Quantity(amplitude),
                                     reference=u.Quantity(reference))
    return SkyModel(spatial_model=spatial, spectral_model=spectral, name=name)


# ----------------------------------------------------------------------------- sampler
def _uniform_in_pixels(geom, idx_y, idx_x, rng):
    """Sky positions uniform inside the given pixels (deg, frame of the geom)."""
    x = idx_x + rng.uniform(-0.5, 0.5, size=len(idx_x))
    y = idx_y + rng.uniform(-0.5, 0.5, size=len(idx_y))
    lon, lat = geom.wcs.wcs_pix2world(x, y, 0)
    return np.asarray(lon, float) % 360.0, np.asarray(lat, float)


def _loguniform_in_bins(edges: np.ndarray, idx: np.ndarray, rng) -> np.ndarray:
    log_edges = np.log(edges)
    return np.exp(log_edges[idx] + rng.uniform(size=len(idx)) * np.diff(log_edges)[idx])


def _poisson_pixels(npred: np.ndarray, rng):
    """Poisson counts per bin -> flat bin index of each event."""
    counts = rng.poisson(np.clip(np.nan_to_num(npred), 0, None).ravel())
    return np.repeat(np.arange(counts.size), counts)


class MapDatasetEventSampler:
    """Sample events from a `MapDataset` and its models.

    Parameters
    ----------
    random_state : int, `numpy.random.Generator` or "random-seed"
        Random state.
    """

    def __init__(self, random_state=0):
        self.random_state = random_state
        self._rng = _rng(random_state)

    def _frame(self, geom) -> str:
        return geom.frame

    def sample_sources(self, dataset) -> Table:
        """Events of the dataset's `SkyModel` components.

        Returns a table with ``lon``, ``lat`` (deg, frame of the dataset geometry),
        ``ENERGY`` (reco, TeV), ``ENERGY_TRUE`` (TeV) and ``MC_ID`` (1-based index of the
        model); only events with a reco energy inside the dataset's energy axis are kept.
        """
        from gammapipe.modeling.models import SkyModel

        rng = self._rng
        exposure = dataset.exposure
        geom = exposure.geom
        e_axis = geom.axes["energy_true"]
        edges = e_axis.edges.to_value(u.TeV)
        rows = []
        models = [m for m in (dataset.models or []) if isinstance(m, SkyModel)]
        for mc_id, model in enumerate(models, start=1):
            flux = model.integrate_geom(geom, gti=dataset.gti)
            npred = (flux.quantity * exposure.quantity).to_value(u.one)
            flat = _poisson_pixels(npred, rng)
            if flat.size == 0:
                continue
            ie, iy, ix = np.unravel_index(flat, npred.shape)
            energy_true = _loguniform_in_bins(edges, ie, rng)
            spatial = model.spatial_model
            if spatial is not None and spatial.tag[0] == "PointSpatialModel":
                pos = spatial.position
                pos = pos.galactic if geom.frame == "galactic" else pos.icrs
                lon = np.full(flat.size, pos.spherical.lon.deg)
                lat = np.full(flat.size, pos.spherical.lat.deg)
            else:
                lon, lat = _uniform_in_pixels(geom, iy, ix, rng)
            rows.append((lon, lat, energy_true, np.full(flat.size, mc_id)))
        if not rows:
            return Table({"lon": [], "lat": [], "ENERGY": [], "ENERGY_TRUE": [], "MC_ID": []},
                         dtype=[float, float, float, float, int])
        lon, lat, energy_true, mc_id = (np.concatenate(c) for c in zip(*rows, strict=True))
        energy_true_q = u.Quantity(energy_true, u.TeV)
        if dataset.psf is not None:
            coords = dataset.psf.sample_coord(
                {"lon": lon, "lat": lat, "energy_true": energy_true_q}, random_state=rng)
            lon, lat = coords["lon"], coords["lat"]
        if dataset.edisp is not None:
            coords = dataset.edisp.sample_coord(
                {"lon": lon, "lat": lat, "energy_true": energy_true_q}, random_state=rng)
            energy = u.Quantity(coords["energy"], u.TeV).value
        else:
            energy = energy_true
        # keep events inside the reconstructed-energy range of the dataset
        reco_edges = dataset.counts.geom.axes["energy"].edges.to_value(u.TeV) \
            if dataset.counts is not None else np.array([0, np.inf])
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(energy) & (energy >= reco_edges[0]) & (energy < reco_edges[-1])
        return Table({"lon": np.asarray(lon)[keep] % 360.0, "lat": np.asarray(lat)[keep],
                      "ENERGY": energy[keep], "ENERGY_TRUE": energy_true[keep],
                      "MC_ID": mc_id[keep]})

    def sample_background(self, dataset) -> Table:
        """Background events drawn from ``dataset.npred_background()`` (``MC_ID`` 0)."""
        rng = self._rng
        npred = dataset.npred_background()
        geom = npred.geom
        flat = _poisson_pixels(np.asarray(npred.data, float), rng)
        ie, iy, ix = np.unravel_index(flat, npred.data.shape)
        lon, lat = _uniform_in_pixels(geom, iy, ix, rng)
        energy = _loguniform_in_bins(geom.axes["energy"].edges.to_value(u.TeV), ie, rng)
        return Table({"lon": lon, "lat": lat, "ENERGY": energy,
                      "ENERGY_TRUE": np.full(flat.size, np.nan),
                      "MC_ID": np.zeros(flat.size, int)})

    def sample_time(self, n: int, gti) -> np.ndarray:
        """Event times (MET s) uniform over the GTIs (weighted by their durations)."""
        start = gti.met_start.to_value(u.s)
        stop = gti.met_stop.to_value(u.s)
        weights = (stop - start) / np.sum(stop - start)
        which = self._rng.choice(len(start), size=n, p=weights)
        return start[which] + self._rng.uniform(size=n) * (stop - start)[which]

    def run(self, dataset, observation=None):
        """Sample source and background events; returns an `EventList` sorted in time.

        The header carries ``OBS_ID``, the pointing (``RA_PNT``/``DEC_PNT``), the GTI
        times, ``ONTIME``/``LIVETIME``/``DEADC`` and the GADF keywords when an
        ``observation`` is given.
        """
        from astropy.table import vstack

        from gammapipe.data import EventList

        table = vstack([self.sample_sources(dataset), self.sample_background(dataset)])
        frame = dataset.counts.geom.frame if dataset.counts is not None else "icrs"
        coords = SkyCoord(table["lon"], table["lat"], unit="deg",
                          frame="galactic" if frame == "galactic" else "icrs").icrs
        gti = observation.gti if observation is not None else dataset.gti
        if gti is None:
            raise ValueError("MapDatasetEventSampler.run: the dataset has no GTI; give the "
                             "observation")
        times = self.sample_time(len(table), gti)
        order = np.argsort(times, kind="stable")
        events = Table()
        events["EVENT_ID"] = np.arange(1, len(table) + 1, dtype=np.int64)
        events["TIME"] = u.Quantity(times[order], u.s)
        events["RA"] = u.Quantity(coords.ra.deg[order], u.deg)
        events["DEC"] = u.Quantity(coords.dec.deg[order], u.deg)
        events["ENERGY"] = u.Quantity(np.asarray(table["ENERGY"], float)[order], u.TeV)
        events["MC_ID"] = np.asarray(table["MC_ID"], np.int32)[order]
        events.meta = _events_meta(observation, gti)
        return EventList(events)


def _events_meta(observation, gti) -> dict:
    meta = {"HDUCLASS": "GADF", "HDUDOC": "https://gamma-astro-data-formats.readthedocs.io",
            "HDUVERS": "0.3", "HDUCLAS1": "EVENTS", "TELESCOP": "CTA-like",
            "INSTRUME": "gammapipe-simulator", "EQUINOX": 2000.0, "RADECSYS": "ICRS",
            "CREATOR": "gammapipe.analysis.simulate"}
    ref = gti.time_ref
    meta["MJDREFI"] = int(np.floor(ref.tt.mjd))
    meta["MJDREFF"] = float(ref.tt.mjd - np.floor(ref.tt.mjd))
    meta["TIMESYS"] = "TT"
    meta["TIMEUNIT"] = "s"
    meta["TIMEREF"] = "LOCAL"
    start = float(gti.met_start.to_value(u.s)[0])
    stop = float(gti.met_stop.to_value(u.s)[-1])
    meta["TSTART"] = start
    meta["TSTOP"] = stop
    if observation is not None:
        ontime = float(observation.gti.time_sum.to_value(u.s))
        dead = float(observation.observation_dead_time_fraction)
        pnt = observation.get_pointing_icrs(observation.tmid)
        meta.update({"OBS_ID": int(observation.obs_id or 0), "ONTIME": ontime,
                     "LIVETIME": ontime * (1 - dead), "DEADC": 1 - dead,
                     "RA_PNT": float(pnt.ra.deg), "DEC_PNT": float(pnt.dec.deg),
                     "OBS_MODE": "POINTING"})
    return meta


# ----------------------------------------------------------------------------- whole runs
def _simulation_dataset(observation, offset_max: u.Quantity, binsz: u.Quantity,
                        energy_min: u.Quantity):
    from gammapipe.datasets import MapDataset
    from gammapipe.makers import MapDatasetMaker
    from gammapipe.maps import MapAxis, WcsGeom

    pointing = observation.get_pointing_icrs(observation.tmid)
    width = 2 * offset_max.to_value(u.deg)
    energy = MapAxis.from_energy_bounds(energy_min, "120 TeV", nbin=40, name="energy")
    energy_true = MapAxis.from_energy_bounds(energy_min / 2, "200 TeV", nbin=50,
                                             name="energy_true")
    migra = MapAxis.from_bounds(0.2, 5, nbin=150, node_type="edges", name="migra")
    geom = WcsGeom.create(skydir=pointing, width=width, binsz=binsz.to_value(u.deg),
                          frame="icrs", proj="TAN", axes=[energy])
    empty = MapDataset.create(geom, energy_axis_true=energy_true, migra_axis=migra,
                              binsz_irf=0.5, name=f"sim-{observation.obs_id}")
    maker = MapDatasetMaker(selection=["exposure", "background", "psf", "edisp"])
    return maker.run(empty, observation)


def simulate_observation(observation, models, random_state=0, offset_max="2.5 deg",
                         binsz="0.02 deg", energy_min="0.2 TeV"):
    """Simulate the events of ``observation`` (which must carry the IRFs) for ``models``.

    Returns a copy of the observation with an `EventList` attached (sources plus the IRF
    background) inside ``offset_max`` of the pointing, with reconstructed energies from
    ``energy_min`` to 120 TeV (true energies from ``energy_min / 2`` to 200 TeV).
    """
    from gammapipe.modeling.models import Models

    dataset = _simulation_dataset(observation, u.Quantity(offset_max, u.deg),
                                  u.Quantity(binsz, u.deg), u.Quantity(energy_min, u.TeV))
    dataset.models = Models([m.copy(name=m.name) for m in models])
    events = MapDatasetEventSampler(random_state=random_state).run(dataset, observation)
    # keep events inside the circular field of view
    pnt = observation.get_pointing_icrs(observation.tmid)
    offset = events.radec.separation(pnt)
    events = events.select_row_subset(np.asarray(offset <= u.Quantity(offset_max, u.deg)))
    return observation.copy(events=events)


def simulate_dl3(outdir: str | os.PathLike, models, pointings, livetime="0.5 h",
                 irfs: dict | None = None, random_state=0, obs_id_start: int = 1,
                 offset_max="2.5 deg", energy_min="0.2 TeV", overwrite: bool = False,
                 progress: bool = False):
    """Simulate runs and write them as a GADF DL3 data store.

    One file per run (``obs_<ID>.fits.gz`` with EVENTS, GTI and the IRF HDUs) plus
    ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` in ``outdir``.

    Parameters
    ----------
    outdir : path-like
        Output folder (created).
    models : list of `SkyModel`
        Sources to simulate.
    pointings : list of `~astropy.coordinates.SkyCoord`
        One pointing per run.
    livetime : `~astropy.units.Quantity`
        Live time per run (no dead time).
    irfs : dict, optional
        IRFs (default: `make_analytic_irfs`).
    random_state : int or `numpy.random.Generator`
        Random state; run ``i`` uses the generator seeded from (seed, i).
    obs_id_start : int
        First observation id.
    offset_max : `~astropy.units.Quantity`
        Radius of the simulated field of view.
    energy_min : `~astropy.units.Quantity`
        Lowest simulated reconstructed energy.
    overwrite : bool
        Replace existing files.
    progress : bool
        Show a progress bar.

    Returns
    -------
    data_store : `~gammapipe.data.DataStore`
    """
    from gammapipe.data import DataStore, Observation

    from .parallel import progress_bar

    outdir = make_path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    irfs = irfs if irfs is not None else make_analytic_irfs()
    seed = int(random_state) if not isinstance(random_state, np.random.Generator) else \
        int(random_state.integers(2**31))
    paths = []
    bar = progress_bar(len(pointings), "simulate obs", enabled=progress)
    try:
        for i, pointing in enumerate(pointings):
            obs_id = obs_id_start + i
            obs = Observation.create(pointing=pointing, livetime=u.Quantity(livetime),
                                     tstart=i * (u.Quantity(livetime) + 600 * u.s),
                                     irfs=irfs, obs_id=obs_id)
            rng = np.random.default_rng([seed, i])
            obs = simulate_observation(obs, models, random_state=rng, offset_max=offset_max,
                                       energy_min=energy_min)
            path = outdir / f"obs_{obs_id:06d}.fits.gz"
            obs.write(path, overwrite=overwrite)
            log.debug("simulated obs %d: %d events -> %s", obs_id, len(obs.events), path)
            paths.append(path)
            bar.update(1)
    finally:
        bar.close()
    store = DataStore.from_events_files(paths)
    _write_index(store, outdir, overwrite)
    return DataStore.from_dir(outdir)


def _write_index(store, outdir: Path, overwrite: bool) -> None:
    from astropy.io import fits

    from gammapipe.utils.fits import write_hdulist

    hdu_table = Table(store.hdu_table)
    hdu_table.meta = {"HDUCLASS": "GADF", "HDUDOC": "https://gamma-astro-data-formats."
                      "readthedocs.io", "HDUVERS": "0.3", "HDUCLAS1": "INDEX",
                      "HDUCLAS2": "HDU"}
    for name in ("FILE_DIR", "FILE_NAME", "HDU_TYPE", "HDU_CLASS", "HDU_NAME"):
        hdu_table[name] = np.asarray(hdu_table[name]).astype(str)
    hdu_table["FILE_DIR"] = "."
    obs_table = Table(store.obs_table)
    obs_table.meta.update({"HDUCLASS": "GADF", "HDUCLAS1": "INDEX", "HDUCLAS2": "OBS"})
    for table, name, fname in ((hdu_table, "HDU_INDEX", "hdu-index.fits.gz"),
                               (obs_table, "OBS_INDEX", "obs-index.fits.gz")):
        hdu = fits.table_to_hdu(table)
        hdu.name = name
        write_hdulist(fits.HDUList([fits.PrimaryHDU(), hdu]), outdir / fname,
                      overwrite=overwrite)
