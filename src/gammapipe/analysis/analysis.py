"""High-level analysis driven by an `AnalysisConfig`: observations -> datasets -> fit ->
flux points / excess map -> files.

Typical use::

    from gammapipe.analysis import Analysis, AnalysisConfig

    config = AnalysisConfig.read("config.yaml")
    analysis = Analysis(config)
    analysis.get_observations()
    analysis.get_datasets()
    analysis.read_models("models.yaml")   # or config.models, or the default point source
    analysis.run_fit()
    analysis.get_flux_points()
    analysis.get_excess_map()
    analysis.write()
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from gammapipe.utils.errors import EmptySelectionError, GammapipeError, MissingFileError
from gammapipe.utils.fits import make_path

from ._config_types import ConfigError
from .config import AnalysisConfig
from .report import read_datasets

__all__ = ["Analysis", "read_datasets"]

log = logging.getLogger(__name__)

DEFAULT_ON_RADIUS = u.Quantity(0.11, u.deg)
DEFAULT_EXCLUSION_RADIUS = u.Quantity(0.3, u.deg)


def _skycoord(section) -> SkyCoord | None:
    if section.lon is None or section.lat is None:
        return None
    return SkyCoord(section.lon, section.lat, frame=section.frame)


def _energy_axis(section, name: str, where: str):
    from gammapipe.maps import MapAxis

    if section.edges:
        edges = u.Quantity(section.edges).to(u.TeV)
        if len(edges) < 2 or np.any(np.diff(edges.value) <= 0):
            raise ConfigError(f"{where}.edges: need at least 2 increasing edges")
        return MapAxis.from_energy_edges(edges, name=name)
    if section.min is None or section.max is None or section.nbins is None:
        raise ConfigError(f"{where}: min, max and nbins are all required")
    if section.max <= section.min or section.nbins < 1:
        raise ConfigError(f"{where}: need min < max and nbins >= 1")
    return MapAxis.from_energy_bounds(section.min, section.max, nbin=section.nbins,
                                      name=name)


class Analysis:
    """Config-driven analysis session.

    Parameters
    ----------
    config : `AnalysisConfig`, dict or path-like
        The configuration (a dict is validated; a path is read as YAML).

    Attributes
    ----------
    observations : `~gammapipe.data.Observations` or None
    datasets : `~gammapipe.datasets.Datasets` or None
    models : `~gammapipe.modeling.models.Models` or None
    fit_result : `~gammapipe.modeling.FitResult` or None
    flux_points : `~gammapipe.estimators.FluxPoints` or None
    excess_map : dict of `~gammapipe.maps.Map` or None
    truth : `~gammapipe.modeling.models.Models` or None
        The simulated models when the data were simulated.
    """

    def __init__(self, config: AnalysisConfig | dict | str | os.PathLike | None = None):
        self.config = config if config is not None else AnalysisConfig()
        self.datastore = None
        self.observations = None
        self.datasets = None
        self.models = None
        self.fit_result = None
        self.flux_points = None
        self.excess_map = None
        self.truth = None
        self.reduction_info: list[dict] = []
        self._target: SkyCoord | None = None

    # ------------------------------------------------------------------ config
    @property
    def config(self) -> AnalysisConfig:
        """The analysis config (assigning validates it)."""
        return self._config

    @config.setter
    def config(self, value) -> None:
        if isinstance(value, AnalysisConfig):
            self._config = value
        elif isinstance(value, dict):
            self._config = AnalysisConfig.from_dict(value)
        elif isinstance(value, (str, os.PathLike)):
            self._config = AnalysisConfig.read(value)
        else:
            raise ConfigError(f"Analysis: config must be an AnalysisConfig, a dict or a path, "
                              f"got {type(value).__name__}")

    def update_config(self, config: dict | AnalysisConfig) -> None:
        """Merge ``config`` (nested dict or config) over the current config."""
        self.config = self.config.update(config)

    @property
    def outdir(self) -> Path:
        """Output folder (``general.outdir``, ``$VARS`` expanded)."""
        return make_path(self.config.general.outdir)

    # ------------------------------------------------------------------ observations
    def simulate_data(self, overwrite: bool = True):
        """Simulate the DL3 data set described by ``config.simulation`` (see
        `gammapipe.analysis.simulate.simulate_dl3`); returns the `DataStore`."""
        from .simulate import load_irfs, make_source_model, simulate_dl3, wobble_pointings

        sim = self.config.simulation
        position = _skycoord(sim.source.position)
        if position is None:
            raise ConfigError("simulation.source.position: lon and lat are required")
        truth = make_source_model(position, index=sim.source.index,
                                  amplitude=sim.source.amplitude,
                                  reference=sim.source.reference, name="source")
        from gammapipe.modeling.models import Models

        self.truth = Models([truth])
        irfs = load_irfs(sim.irf) if sim.irf is not None else None
        outdir = make_path(sim.outdir) if sim.outdir is not None else \
            self.outdir / "dl3-simulated"
        offset_max = self.config.datasets.geom.selection.offset_max
        log.info("simulating %d runs of %s into %s", sim.n_obs, sim.livetime, outdir)
        pointings = wobble_pointings(position, sim.wobble_offset, sim.n_obs)
        return simulate_dl3(outdir, [truth], pointings, livetime=sim.livetime, irfs=irfs,
                            random_state=sim.seed, offset_max=offset_max,
                            overwrite=overwrite, progress=self.config.general.progress)

    def get_observations(self):
        """Open the data store and select observations (``config.observations``).

        With ``observations.datastore: null`` the data set is simulated first
        (`simulate_data`).

        Raises
        ------
        MissingFileError
            The data store folder or an index file does not exist.
        EmptySelectionError
            The selection matches no observation.
        """
        from gammapipe.data import DataStore

        cfg = self.config.observations
        if cfg.datastore is None:
            self.datastore = self.simulate_data()
        else:
            path = make_path(cfg.datastore)
            if not path.exists():
                raise MissingFileError(f"observations.datastore: data store not found: {path}")
            self.datastore = DataStore.from_dir(path) if path.is_dir() else \
                DataStore.from_file(path)
        ids = self._select_obs_ids(self.datastore)
        required = list(cfg.required_irf)
        if self.config.datasets.type == "1d":
            required = [r for r in required if r not in ("psf", "bkg")] or required
        self.observations = self.datastore.get_observations(
            ids, skip_missing=False, required_irf=required)
        if len(self.observations) == 0:
            raise EmptySelectionError("the observation selection matches no observation")
        log.info("selected %d observation(s): %s", len(self.observations),
                 ", ".join(str(o.obs_id) for o in self.observations)[:200])
        return self.observations

    def _select_obs_ids(self, datastore) -> list[int]:
        cfg = self.config.observations
        obs_table = datastore.obs_table
        ids = [int(i) for i in cfg.obs_ids]
        if cfg.obs_file is not None:
            path = make_path(cfg.obs_file)
            if not path.is_file():
                raise MissingFileError(f"observations.obs_file: file not found: {path}")
            ids += [int(t) for t in path.read_text().split() if t.strip()]
        if ids:
            unknown = sorted(set(ids) - set(datastore.obs_ids))
            if unknown:
                raise EmptySelectionError(f"observations.obs_ids: not in the data store: "
                                          f"{unknown[:10]}")
            obs_table = obs_table.select_obs_id(ids)
        cone = cfg.obs_cone
        if cone.lon is not None and cone.lat is not None and cone.radius is not None:
            obs_table = obs_table.select_sky_circle(_skycoord(cone), cone.radius)
        if cfg.obs_time.start is not None or cfg.obs_time.stop is not None:
            from astropy.time import Time

            try:
                start = Time(cfg.obs_time.start) if cfg.obs_time.start else Time("1900-01-01")
                stop = Time(cfg.obs_time.stop) if cfg.obs_time.stop else Time("2200-01-01")
            except ValueError as exc:
                raise ConfigError(f"observations.obs_time: {exc}") from None
            obs_table = obs_table.select_time_range((start, stop))
        selected = [int(i) for i in np.asarray(obs_table["OBS_ID"]).tolist()]
        if not selected:
            raise EmptySelectionError("the observation selection (obs_ids / obs_cone / "
                                      "obs_time) matches no observation")
        return selected

    # ------------------------------------------------------------------ geometry
    @property
    def target(self) -> SkyCoord:
        """Analysis centre: ``geom.wcs.skydir``, else the on region, else the simulated
        source, else the mean pointing of the selected observations."""
        cfg = self.config.datasets
        for candidate in (_skycoord(cfg.geom.wcs.skydir), _skycoord(cfg.on_region)):
            if candidate is not None:
                return candidate
        if self.truth is not None:
            return self.truth[0].position
        if self.observations is None:
            raise GammapipeError("the analysis centre is not configured "
                                 "(datasets.geom.wcs.skydir); call get_observations first "
                                 "to use the mean pointing")
        pointings = SkyCoord([o.get_pointing_icrs(o.tmid) for o in self.observations])
        from astropy.coordinates import UnitSphericalRepresentation

        mean = pointings.icrs.cartesian.mean().represent_as(UnitSphericalRepresentation)
        return SkyCoord(mean.lon, mean.lat, frame="icrs")

    def _geom(self):
        from gammapipe.maps import WcsGeom

        wcs = self.config.datasets.geom.wcs
        axis = _energy_axis(self.config.datasets.geom.axes.energy, "energy",
                            "datasets.geom.axes.energy")
        target = self.target
        frame = wcs.skydir.frame if wcs.skydir.lon is not None else "icrs"
        skydir = target.galactic if frame == "galactic" else target.icrs
        return WcsGeom.create(skydir=skydir, binsz=wcs.binsize.to_value(u.deg),
                              width=(wcs.width.width.to_value(u.deg),
                                     wcs.width.height.to_value(u.deg)),
                              frame=frame, proj=wcs.proj, axes=[axis])

    def _exclusion_mask(self, geom):
        """Boolean image (True = usable) from the exclusion file / regions."""
        from regions import CircleSkyRegion

        from gammapipe.maps import Map

        bkg = self.config.datasets.background
        image = geom.to_image()
        if bkg.exclusion is not None:
            path = make_path(bkg.exclusion)
            if not path.is_file():
                raise MissingFileError(f"datasets.background.exclusion: file not found: "
                                       f"{path}")
            mask = Map.read(path)
            # the makers take a boolean mask on any sky geometry (interpolated by them)
            return Map.from_geom(mask.geom, data=np.asarray(mask.data) > 0, dtype=bool)
        regions = []
        for i, circle in enumerate(bkg.exclusion_regions):
            center = _skycoord(circle)
            if center is None or circle.radius is None:
                raise ConfigError(f"datasets.background.exclusion_regions[{i}]: lon, lat and "
                                  f"radius are required")
            regions.append(CircleSkyRegion(center=center, radius=circle.radius))
        if not regions:
            radius = self.config.datasets.on_region.radius
            radius = DEFAULT_EXCLUSION_RADIUS if radius is None else radius
            regions = [CircleSkyRegion(center=self.target,
                                       radius=max(radius, DEFAULT_EXCLUSION_RADIUS))]
        return ~image.region_mask(regions)

    def _on_region(self):
        from regions import CircleSkyRegion

        cfg = self.config.datasets.on_region
        center = _skycoord(cfg)
        center = self.target if center is None else center
        radius = cfg.radius if cfg.radius is not None else DEFAULT_ON_RADIUS
        return CircleSkyRegion(center=center, radius=radius)

    # ------------------------------------------------------------------ datasets
    def _reduction_context(self):
        from ._reduce import ReductionContext

        cfg = self.config.datasets
        energy_true = _energy_axis(cfg.geom.axes.energy_true, "energy_true",
                                   "datasets.geom.axes.energy_true")
        safe_mask_maker = self._safe_mask_maker()
        geom = self._geom()
        if cfg.type == "3d":
            from gammapipe.datasets import MapDataset
            from gammapipe.makers import FoVBackgroundMaker, MapDatasetMaker

            template = MapDataset.create(geom, energy_axis_true=energy_true,
                                         binsz_irf=cfg.geom.wcs.binsize_irf.to_value(u.deg),
                                         name="stacked")
            maker = MapDatasetMaker(selection=list(cfg.map_selection))
            bkg_maker = None
            if cfg.background.method == "fov_background":
                params = {"method": "scale", **cfg.background.parameters}
                bkg_maker = FoVBackgroundMaker(exclusion_mask=self._exclusion_mask(geom),
                                               **params)
            elif cfg.background.method is not None:
                raise ConfigError(f"datasets.background.method: {cfg.background.method!r} is "
                                  f"not available for 3d datasets (use fov_background or null)")
            width = 2 * cfg.geom.selection.offset_max
            return ReductionContext("3d", template, maker, safe_mask_maker, bkg_maker, width)
        from gammapipe.datasets.spectrum import SpectrumDataset
        from gammapipe.makers.background.reflected import ReflectedRegionsBackgroundMaker
        from gammapipe.makers.spectrum import SpectrumDatasetMaker
        from gammapipe.maps import RegionGeom

        region_geom = RegionGeom.create(region=self._on_region(), axes=[geom.axes["energy"]])
        template = SpectrumDataset.create(geom=region_geom, energy_axis_true=energy_true,
                                          name="stacked")
        maker = SpectrumDatasetMaker(containment_correction=cfg.containment_correction,
                                     selection=["counts", "exposure", "edisp"])
        if cfg.background.method not in ("reflected", None):
            raise ConfigError(f"datasets.background.method: {cfg.background.method!r} is not "
                              f"available for 1d datasets (use reflected)")
        bkg_maker = ReflectedRegionsBackgroundMaker(
            exclusion_mask=self._exclusion_mask(geom), **cfg.background.parameters)
        return ReductionContext("1d", template, maker, safe_mask_maker, bkg_maker, None)

    def _safe_mask_maker(self):
        from gammapipe.makers import SafeMaskMaker

        cfg = self.config.datasets
        if not cfg.safe_mask.methods:
            return None
        params = dict(cfg.safe_mask.parameters)
        if "offset-max" in cfg.safe_mask.methods:
            params.setdefault("offset_max", cfg.geom.selection.offset_max)
        try:
            return SafeMaskMaker(methods=list(cfg.safe_mask.methods), **params)
        except TypeError as exc:
            raise ConfigError(f"datasets.safe_mask.parameters: {exc}") from None

    def get_datasets(self, n_jobs: int | None = None, scheduler: Any = None,
                     backend: str | None = None):
        """Reduce the observations to datasets (stacked or one per observation), or read
        them from ``general.datasets_file`` when it is set.

        Observations are reduced in parallel (``general.n_jobs`` / ``general.scheduler``
        unless given here) and folded as they arrive, in observation order, so the result
        does not depend on the backend.
        """
        from ._reduce import DatasetsAccumulator, reduce_observation
        from .parallel import run_parallel

        if self.config.general.datasets_file is not None:
            self.datasets = read_datasets(self.config.general.datasets_file,
                                          self.config.datasets.type)
            log.info("datasets read from %s: %s", self.config.general.datasets_file,
                     ", ".join(self.datasets.names)[:200])
            return self.datasets
        if self.observations is None:
            self.get_observations()
        general = self.config.general
        context = self._reduction_context()
        stack = self.config.datasets.stack
        # 3d: stack onto the empty template; 1d (ON-OFF): the first dataset starts the stack
        stacked = context.template.copy(name="stacked") if stack and \
            context.kind == "3d" else None
        accumulate = DatasetsAccumulator(stack=stack, stacked=stacked)
        run_parallel(reduce_observation, list(self.observations), context=context,
                     on_result=accumulate, backend=backend or general.parallel_backend,
                     n_jobs=n_jobs or general.n_jobs,
                     scheduler=scheduler if scheduler is not None else general.scheduler,
                     progress=general.progress, desc="reduce obs")
        self.datasets = accumulate.result()
        self.reduction_info = accumulate.per_obs
        if self.config.datasets.type == "3d" and stack:
            self._check_stacked(self.datasets[0])
        log.info("datasets: %s", ", ".join(self.datasets.names)[:200])
        return self.datasets

    @staticmethod
    def _check_stacked(dataset) -> None:
        mask = dataset.mask_safe
        if mask is not None and not np.any(mask.data):
            log.warning("the stacked dataset has no safe bins: check datasets.safe_mask and "
                        "the energy axes")

    # ------------------------------------------------------------------ models
    def _default_models(self):
        from gammapipe.modeling.models import Models, PowerLawSpectralModel, SkyModel

        spectral = PowerLawSpectralModel(index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1",
                                         reference="1 TeV")
        if self.config.datasets.type == "1d":
            return Models([SkyModel(spectral_model=spectral, name="source")])
        from .simulate import make_source_model

        model = make_source_model(self.target, index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1",
                                  name="source")
        return Models([model])

    def set_models(self, models, extend: bool = True) -> None:
        """Set the models on the datasets.

        `FoVBackgroundModel` entries of ``models`` are kept for the datasets they name; with
        ``extend`` every other 3d dataset gets one (a copy of the model fitted by the
        FoV background maker, else a default one).

        Parameters
        ----------
        models : `Models`, list of models, dict or YAML string
        extend : bool
            Add a `FoVBackgroundModel` for every 3d dataset that has none.
        """
        from gammapipe.modeling.models import FoVBackgroundModel, Models

        if self.datasets is None:
            raise GammapipeError("set_models: call get_datasets first")
        if isinstance(models, str):
            models = Models.from_yaml(models)
        elif isinstance(models, dict):
            models = Models.from_dict(models)
        elif not isinstance(models, Models):
            models = Models(list(models))
        is_bkg = [type(m).__name__ == "FoVBackgroundModel" for m in models]
        user_bkg = {m.datasets_names[0]: m for m, b in zip(models, is_bkg, strict=True) if b}
        models = Models([m for m, b in zip(models, is_bkg, strict=True) if not b])
        for dataset in self.datasets:
            if dataset.name in user_bkg:
                models.append(user_bkg[dataset.name])
            elif extend and self.config.datasets.type == "3d":
                bkg = dataset.background_model
                models.append(bkg.copy(name=f"{dataset.name}-bkg") if bkg is not None else
                              FoVBackgroundModel(dataset_name=dataset.name))
        self.datasets.models = models
        self.models = self.datasets.models
        log.info("models: %s", ", ".join(self.models.names))

    def read_models(self, path: str | os.PathLike, extend: bool = True) -> None:
        """Read models from a YAML file and set them (see `set_models`)."""
        from gammapipe.modeling.models import Models

        path = make_path(path)
        if not path.is_file():
            raise MissingFileError(f"models file not found: {path}")
        self.set_models(Models.read(path), extend=extend)

    def _models_from_config(self):
        from gammapipe.modeling.models import Models

        spec = self.config.models
        if spec is None and self.config.general.models_file is not None:
            spec = self.config.general.models_file
        if spec is None:
            return self._default_models()
        if isinstance(spec, (str, Path)):
            path = make_path(spec)
            if not path.is_file():
                raise MissingFileError(f"models: file not found: {path}")
            return Models.read(path)
        try:
            return Models.from_dict({"components": spec})
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"models: {exc}") from None

    # ------------------------------------------------------------------ fit
    def run_fit(self):
        """Fit the models to the datasets (``config.fit``); returns the `FitResult`."""
        from gammapipe.modeling import Fit

        if self.datasets is None:
            raise GammapipeError("run_fit: call get_datasets first")
        if self.models is None:
            self.set_models(self._models_from_config())
        self._apply_fit_range()
        cfg = self.config.fit
        fit = Fit(backend=cfg.backend, optimize_opts=dict(cfg.optimize_opts) or None)
        self.fit_result = fit.run(datasets=self.datasets)
        if not self.fit_result.success:
            # start values far from the optimum can leave MIGRAD above its EDM goal or HESSE
            # without a valid matrix: one restart from the best fit (steps from its errors)
            log.info("fit not converged (%s); restarting from the best fit",
                     self.fit_result.message)
            self.fit_result = fit.run(datasets=self.datasets)
        result = self.fit_result
        if result.success:
            log.info("fit succeeded: total stat %.2f, nfev %s", result.total_stat, result.nfev)
        else:
            messages = [result.optimize_result.message]
            if result.covariance_result is not None:
                messages.append(result.covariance_result.message)
            log.warning("fit FAILED: %s (total stat %.2f, nfev %s)", "; ".join(messages),
                        result.total_stat, result.nfev)
        return self.fit_result

    def _apply_fit_range(self) -> None:
        rng = self.config.fit.fit_range
        if rng.min is None and rng.max is None:
            return
        for dataset in self.datasets:
            geom = dataset.counts.geom
            edges = geom.axes["energy"].edges
            lo = rng.min if rng.min is not None else edges[0]
            hi = rng.max if rng.max is not None else edges[-1]
            keep = (edges[:-1] >= lo * (1 - 1e-6)) & (edges[1:] <= hi * (1 + 1e-6))
            shape = (-1,) + (1,) * (len(geom.data_shape) - 1)
            data = np.broadcast_to(keep.reshape(shape), geom.data_shape).copy()
            from gammapipe.maps import Map

            dataset.mask_fit = Map.from_geom(geom, data=data, dtype=bool)

    # ------------------------------------------------------------------ estimators
    def get_flux_points(self):
        """Flux points of ``flux_points.source`` in ``flux_points.energy`` bins."""
        from gammapipe.estimators import FluxPointsEstimator

        if self.datasets is None or self.models is None:
            raise GammapipeError("get_flux_points: run get_datasets and run_fit first")
        cfg = self.config.flux_points
        if cfg.source not in self.models.names:
            raise ConfigError(f"flux_points.source: no model named {cfg.source!r}; models: "
                              f"{', '.join(self.models.names)}")
        edges = _energy_axis(cfg.energy, "energy", "flux_points.energy").edges
        try:
            estimator = FluxPointsEstimator(energy_edges=edges, source=cfg.source,
                                            **cfg.parameters)
        except TypeError as exc:
            raise ConfigError(f"flux_points.parameters: {exc}") from None
        log.info("flux points of %r in %d energy bins", cfg.source, len(edges) - 1)
        self.flux_points = estimator.run(datasets=self.datasets)
        return self.flux_points

    def get_excess_map(self):
        """Counts, excess and significance maps of the stacked 3d dataset
        (`ExcessMapEstimator` with ``excess_map`` options) against the (fitted) background
        model alone; returns the estimator's `FluxMaps`."""
        if self.datasets is None:
            raise GammapipeError("get_excess_map: call get_datasets first")
        if self.config.datasets.type != "3d":
            raise GammapipeError("get_excess_map needs 3d datasets (datasets.type: 3d)")
        dataset = self.datasets[0] if len(self.datasets) == 1 else \
            self.datasets.stack_reduce(name="stacked")
        # the excess is counted against the background model only (fitted FoV norm kept),
        # so that the significance map shows the sources; the models are restored after
        saved = dataset.models
        background = dataset.background_model
        dataset.models = [background.copy(name=background.name)] if background is not None \
            else None
        log.info("excess and significance maps (correlation radius %s)",
                 self.config.excess_map.correlation_radius)
        try:
            self.excess_map = self._run_excess_estimator(dataset)
        finally:
            dataset.models = saved
            if self.models is not None and len(self.datasets) == 1:
                self.models = self.datasets.models
        return self.excess_map

    def _run_excess_estimator(self, dataset):
        from gammapipe.estimators import ExcessMapEstimator

        cfg = self.config.excess_map
        kwargs = dict(cfg.parameters)
        rng = cfg.energy_edges
        if "energy_edges" not in kwargs:  # one energy band (the whole range by default)
            edges = dataset.counts.geom.axes["energy"].edges
            kwargs["energy_edges"] = u.Quantity([edges[0] if rng.min is None else rng.min,
                                                 edges[-1] if rng.max is None else rng.max])
        try:
            estimator = ExcessMapEstimator(correlation_radius=cfg.correlation_radius,
                                           **kwargs)
        except TypeError as exc:
            raise ConfigError(f"excess_map.parameters: {exc}") from None
        return estimator.run(dataset)

    # ------------------------------------------------------------------ results
    def truth_comparison(self):
        """Table of fitted parameters next to the simulated truth (simulated data only)."""
        from astropy.table import Table

        if self.truth is None or self.models is None:
            return None
        rows = []
        for truth_model in self.truth:
            if truth_model.name not in self.models.names:
                continue
            fitted = self.models[truth_model.name]
            for par in truth_model.parameters:
                if par.frozen:
                    continue
                fpar = fitted.parameters[par.name]
                err = float(fpar.error) if fpar.error else np.nan
                pull = (fpar.value - par.value) / err if err > 0 else np.nan
                rows.append((truth_model.name, par.name, par.value, fpar.value, err, pull,
                             par.unit.to_string()))
        return Table(rows=rows, names=("model", "parameter", "truth", "fitted", "error",
                                       "pull", "unit"))

    def write(self, outdir: str | os.PathLike | None = None, overwrite: bool = True,
              plots: bool | None = None) -> dict:
        """Write everything into ``outdir`` (default ``general.outdir``); returns the dict
        of written files (see `gammapipe.analysis.report.write_outputs`)."""
        from .report import write_outputs

        outdir = make_path(outdir) if outdir is not None else self.outdir
        if plots is None:
            plots = self.config.general.plots
        return write_outputs(self, outdir, overwrite=overwrite, plots=plots)

    def write_datasets(self, filename: str | os.PathLike | None = None,
                       overwrite: bool = True) -> Path:
        """Write the datasets (FITS files + a ``datasets.yaml`` index) to ``filename``
        (default ``general.datasets_file``, else ``<outdir>/datasets/datasets.yaml``);
        returns the index path (readable through ``general.datasets_file``)."""
        from .report import write_datasets_index

        if self.datasets is None:
            raise GammapipeError("write_datasets: call get_datasets first")
        path = filename or self.config.general.datasets_file or \
            self.outdir / "datasets" / "datasets.yaml"
        return write_datasets_index(self.datasets, make_path(path), overwrite=overwrite)

    def write_models(self, filename: str | os.PathLike | None = None, overwrite: bool = True,
                     write_covariance: bool = True) -> Path:
        """Write the models YAML (default ``general.models_file``, else
        ``<outdir>/models.yaml``), with the covariance next to it."""
        if self.models is None:
            raise GammapipeError("write_models: no models (call set_models or run_fit)")
        path = make_path(filename or self.config.general.models_file or
                         self.outdir / "models.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.models.write(path, overwrite=overwrite, write_covariance=write_covariance)
        return path

    def run(self, write: bool = True) -> dict | None:
        """Whole analysis: observations, datasets, fit, flux points, excess map (3d), write."""
        self.get_observations()
        self.get_datasets()
        self.set_models(self._models_from_config())
        self.run_fit()
        self.get_flux_points()
        if self.config.datasets.type == "3d":
            self.get_excess_map()
        return self.write() if write else None
