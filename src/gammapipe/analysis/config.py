"""Typed analysis configuration (`AnalysisConfig`) with YAML read/write and validation.

The tree mirrors the sections a high-level analysis needs::

    general       logging, output folder, parallel execution
    observations  data store and observation selection (null data store: simulate data)
    simulation    the embedded event simulator used when no data store is given
    datasets      3D map or 1D spectrum datasets, geometry, makers, safe mask, background
    models        inline model list (Models YAML ``components``) or a models YAML file
    fit           fit energy range and fit options
    flux_points   flux points energy bins and estimator options
    excess_map    excess / significance map options

Every value is validated on construction: an unknown key, a wrong type or a value outside
the allowed set raises `ConfigError` naming the key path, e.g.
``datasets.geom.wcs.binsize: expected a quantity convertible to 'deg' ...``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u

from gammapipe.utils.errors import MissingFileError

from ._config_types import (
    ConfigError,
    build_section,
    doc_field,
    documented_yaml,
    section_to_dict,
)

__all__ = [
    "AnalysisConfig",
    "ConfigError",
    "GeneralConfig",
    "LogConfig",
    "ObservationsConfig",
    "SimulationConfig",
    "DatasetsConfig",
    "GeomConfig",
    "WcsConfig",
    "BackgroundConfig",
    "SafeMaskConfig",
    "FitConfig",
    "FluxPointsConfig",
    "ExcessMapConfig",
    "SkyCoordConfig",
    "SpatialCircleConfig",
    "EnergyAxisConfig",
    "EnergyRangeConfig",
    "TimeRangeConfig",
]

FRAMES = ("icrs", "galactic")
SAFE_MASK_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
MAP_SELECTION = ("counts", "exposure", "background", "psf", "edisp")
REQUIRED_IRF = ("aeff", "edisp", "psf", "bkg", "rad_max")


def _q(text: str) -> u.Quantity:
    return u.Quantity(text)


# ----------------------------------------------------------------------------- small blocks
@dataclass
class SkyCoordConfig:
    """A sky position."""

    frame: str = doc_field("icrs", doc="coordinate frame", choices=FRAMES)
    lon: u.Quantity | None = doc_field(None, doc="longitude (RA or l)", unit="deg")
    lat: u.Quantity | None = doc_field(None, doc="latitude (Dec or b)", unit="deg")


@dataclass
class SpatialCircleConfig:
    """A circular sky region."""

    frame: str = doc_field("icrs", doc="coordinate frame", choices=FRAMES)
    lon: u.Quantity | None = doc_field(None, doc="centre longitude", unit="deg")
    lat: u.Quantity | None = doc_field(None, doc="centre latitude", unit="deg")
    radius: u.Quantity | None = doc_field(None, doc="radius", unit="deg")


@dataclass
class EnergyAxisConfig:
    """Log-spaced energy axis."""

    min: u.Quantity | None = doc_field(None, doc="lowest edge", unit="TeV")
    max: u.Quantity | None = doc_field(None, doc="highest edge", unit="TeV")
    nbins: int | None = doc_field(None, doc="number of bins (log-spaced)")
    edges: list[u.Quantity] | None = doc_field(
        None, doc="explicit bin edges, e.g. ['1 TeV', '2 TeV', '4 TeV'] (replaces min, max, "
        "nbins)", unit="TeV")


@dataclass
class EnergyRangeConfig:
    """Energy interval."""

    min: u.Quantity | None = doc_field(None, doc="lower bound", unit="TeV")
    max: u.Quantity | None = doc_field(None, doc="upper bound", unit="TeV")


@dataclass
class TimeRangeConfig:
    """Time interval (ISO or MJD strings understood by astropy.time.Time)."""

    start: str | None = doc_field(None, doc="start time, e.g. '2004-12-04T00:00:00'")
    stop: str | None = doc_field(None, doc="stop time")


# ----------------------------------------------------------------------------- general
@dataclass
class LogConfig:
    """Logging."""

    level: str = doc_field("info", doc="log level",
                           choices=("debug", "info", "warning", "error", "critical"))
    filename: Path | None = doc_field(None, doc="log file (default: console only)")


@dataclass
class GeneralConfig:
    """Output folder, logging and parallel execution."""

    log: LogConfig = doc_field(doc="logging", factory=LogConfig)
    outdir: Path = doc_field(Path("gammapipe-output"), doc="output folder of `write` / `run`")
    n_jobs: int = doc_field(1, doc="number of parallel workers for the data reduction")
    parallel_backend: str = doc_field(
        "auto", doc="reduction backend (auto: dask if a scheduler is named, else a process "
        "pool when n_jobs > 1, else serial)", choices=("auto", "serial", "processes", "dask"))
    scheduler: str | None = doc_field(
        None, doc="Dask scheduler address, e.g. 'tcp://127.0.0.1:8786' (needs the dask extra)")
    datasets_file: Path | None = doc_field(
        None, doc="reduced datasets to read instead of reducing observations (a dataset "
        "FITS file or the datasets.yaml index written by `write`); `write_datasets` target")
    models_file: Path | None = doc_field(None, doc="models YAML file used when `models` is "
                                         "null; `write_models` target")
    progress: bool = doc_field(True, doc="show progress bars (tqdm if installed)")
    plots: bool = doc_field(True, doc="write PNG plots in `run`")


# ----------------------------------------------------------------------------- observations
@dataclass
class ObservationsConfig:
    """Data store and observation selection."""

    datastore: Path | None = doc_field(
        None, doc="data store folder (hdu-index/obs-index); $VARS are expanded, e.g. "
        "'$GAMMAPIPE_DATA/hess-dl3-dr1'. null: simulate a data set (see `simulation`)")
    obs_ids: list[int] = doc_field(doc="observation ids (empty: all, after the cone/time "
                                   "selection)", factory=list)
    obs_file: Path | None = doc_field(None, doc="text file with one observation id per line")
    obs_cone: SpatialCircleConfig = doc_field(
        doc="select observations pointing within this circle", factory=SpatialCircleConfig)
    obs_time: TimeRangeConfig = doc_field(doc="select observations in this time range",
                                          factory=TimeRangeConfig)
    required_irf: list[str] = doc_field(
        doc="IRFs an observation must have", choices=REQUIRED_IRF,
        factory=lambda: ["aeff", "edisp", "psf", "bkg"])


# ----------------------------------------------------------------------------- simulation
@dataclass
class SimulatedSourceConfig:
    """The simulated point source (power law)."""

    position: SkyCoordConfig = doc_field(
        doc="source position",
        factory=lambda: SkyCoordConfig("icrs", _q("83.633 deg"), _q("22.014 deg")))
    index: float = doc_field(2.6, doc="power-law index")
    amplitude: u.Quantity = doc_field(_q("4.5e-11 cm-2 s-1 TeV-1"),
                                      doc="power-law amplitude at `reference`",
                                      unit="cm-2 s-1 TeV-1")
    reference: u.Quantity = doc_field(_q("1 TeV"), doc="reference energy", unit="TeV")


@dataclass
class SimulationConfig:
    """The embedded simulator (used when `observations.datastore` is null)."""

    n_obs: int = doc_field(4, doc="number of runs")
    livetime: u.Quantity = doc_field(_q("0.1 h"), doc="live time per run", unit="h")
    wobble_offset: u.Quantity = doc_field(_q("0.5 deg"), doc="pointing offset from the "
                                          "source (runs cycle through 4 wobble directions)",
                                          unit="deg")
    seed: int = doc_field(0, doc="random seed")
    irf: Path | None = doc_field(None, doc="GADF IRF file to use (null: analytic CTA-like "
                                 "IRFs)")
    source: SimulatedSourceConfig = doc_field(doc="simulated source",
                                              factory=SimulatedSourceConfig)
    outdir: Path | None = doc_field(None, doc="folder for the simulated DL3 files "
                                    "(default: <general.outdir>/dl3-simulated)")


# ----------------------------------------------------------------------------- datasets
@dataclass
class WidthConfig:
    """Map width."""

    width: u.Quantity = doc_field(_q("3 deg"), doc="width", unit="deg")
    height: u.Quantity = doc_field(_q("3 deg"), doc="height", unit="deg")


@dataclass
class WcsConfig:
    """WCS map geometry."""

    skydir: SkyCoordConfig = doc_field(doc="map centre (default: simulated source or the "
                                       "mean pointing)", factory=SkyCoordConfig)
    binsize: u.Quantity = doc_field(_q("0.04 deg"), doc="pixel size", unit="deg")
    width: WidthConfig = doc_field(doc="map size", factory=WidthConfig)
    binsize_irf: u.Quantity = doc_field(_q("0.2 deg"), doc="pixel size of the PSF/EDisp "
                                        "maps", unit="deg")
    proj: str = doc_field("CAR", doc="WCS projection", choices=("CAR", "TAN", "AIT"))


@dataclass
class SelectionConfig:
    """Per-observation selection."""

    offset_max: u.Quantity = doc_field(_q("2.5 deg"), doc="maximum offset from the pointing "
                                       "(cutout size and offset-max safe mask)", unit="deg")


@dataclass
class AxesConfig:
    """Energy axes."""

    energy: EnergyAxisConfig = doc_field(
        doc="reconstructed energy axis",
        factory=lambda: EnergyAxisConfig(_q("0.5 TeV"), _q("50 TeV"), 8))
    energy_true: EnergyAxisConfig = doc_field(
        doc="true energy axis",
        factory=lambda: EnergyAxisConfig(_q("0.3 TeV"), _q("100 TeV"), 30))


@dataclass
class GeomConfig:
    """Dataset geometry."""

    wcs: WcsConfig = doc_field(doc="map geometry (3d; also the exclusion-mask geometry in 1d)",
                               factory=WcsConfig)
    selection: SelectionConfig = doc_field(doc="selection", factory=SelectionConfig)
    axes: AxesConfig = doc_field(doc="energy axes", factory=AxesConfig)


@dataclass
class BackgroundConfig:
    """Background estimation."""

    method: str | None = doc_field(
        "fov_background", doc="3d: fov_background or null (IRF background only); 1d: "
        "reflected", choices=("fov_background", "reflected"))
    exclusion: Path | None = doc_field(None, doc="exclusion mask FITS file (True = use)")
    exclusion_regions: list[SpatialCircleConfig] = doc_field(
        doc="circular regions to exclude (the source region is added automatically)",
        factory=list)
    parameters: dict = doc_field(doc="keyword arguments of the background maker, e.g. "
                                 "{method: fit} for FoVBackgroundMaker", factory=dict)


@dataclass
class SafeMaskConfig:
    """Safe data range."""

    methods: list[str] = doc_field(doc="SafeMaskMaker methods", choices=SAFE_MASK_METHODS,
                                   factory=lambda: ["aeff-default", "offset-max"])
    parameters: dict = doc_field(doc="SafeMaskMaker keyword arguments, e.g. "
                                 "{aeff_percent: 10}", factory=dict)


@dataclass
class DatasetsConfig:
    """Data reduction."""

    type: str = doc_field("3d", doc="dataset type", choices=("3d", "1d"))
    stack: bool = doc_field(True, doc="stack the runs into one dataset (else joint)")
    geom: GeomConfig = doc_field(doc="geometry", factory=GeomConfig)
    map_selection: list[str] = doc_field(doc="MapDatasetMaker selection",
                                         choices=MAP_SELECTION, factory=lambda: list(MAP_SELECTION))
    background: BackgroundConfig = doc_field(doc="background", factory=BackgroundConfig)
    safe_mask: SafeMaskConfig = doc_field(doc="safe mask", factory=SafeMaskConfig)
    on_region: SpatialCircleConfig = doc_field(
        doc="1d ON region (default centre: map centre; default radius 0.11 deg)",
        factory=SpatialCircleConfig)
    containment_correction: bool = doc_field(True, doc="1d: correct exposure for the PSF "
                                             "containment in the ON region")


# ----------------------------------------------------------------------------- fit & estimators
@dataclass
class FitConfig:
    """Fit."""

    fit_range: EnergyRangeConfig = doc_field(doc="energy range used in the fit (mask_fit)",
                                             factory=EnergyRangeConfig)
    backend: str = doc_field("minuit", doc="optimiser", choices=("minuit", "scipy"))
    optimize_opts: dict = doc_field(doc="optimiser options", factory=dict)


@dataclass
class FluxPointsConfig:
    """Flux points."""

    energy: EnergyAxisConfig = doc_field(
        doc="flux point energy edges", factory=lambda: EnergyAxisConfig(
            _q("0.5 TeV"), _q("50 TeV"), 4))
    source: str = doc_field("source", doc="name of the model to estimate flux points for")
    parameters: dict = doc_field(doc="FluxPointsEstimator keyword arguments",
                                 factory=lambda: {"selection_optional": ["errn-errp", "ul"]})


@dataclass
class ExcessMapConfig:
    """Excess and significance maps (3d only)."""

    correlation_radius: u.Quantity = doc_field(_q("0.1 deg"), doc="correlation radius",
                                               unit="deg")
    parameters: dict = doc_field(doc="ExcessMapEstimator keyword arguments", factory=dict)
    energy_edges: EnergyRangeConfig = doc_field(doc="energy range of the maps (default: all)",
                                                factory=EnergyRangeConfig)


# ----------------------------------------------------------------------------- root
@dataclass
class AnalysisConfig:
    """Configuration of a high-level `Analysis`.

    Build it from a nested dict (``AnalysisConfig(**d)`` is not validated: use
    `AnalysisConfig.from_dict`), from YAML text (`from_yaml`) or a file (`read`); the
    default (`AnalysisConfig()`) simulates a small data set and analyses it in 3D.
    """

    general: GeneralConfig = doc_field(doc="output, logging, parallelism",
                                       factory=GeneralConfig)
    observations: ObservationsConfig = doc_field(doc="observations",
                                                 factory=ObservationsConfig)
    simulation: SimulationConfig = doc_field(doc="embedded simulator (no data store)",
                                             factory=SimulationConfig)
    datasets: DatasetsConfig = doc_field(doc="data reduction", factory=DatasetsConfig)
    models: Any = doc_field(None, doc="models: a list of model dicts (Models YAML "
                            "'components') or a models YAML file; null: a point source "
                            "with a power law named 'source' at the map centre")
    fit: FitConfig = doc_field(doc="fit", factory=FitConfig)
    flux_points: FluxPointsConfig = doc_field(doc="flux points", factory=FluxPointsConfig)
    excess_map: ExcessMapConfig = doc_field(doc="excess map", factory=ExcessMapConfig)

    def __post_init__(self):
        models = self.models
        if models is not None and not isinstance(models, (str, Path, list)):
            raise ConfigError(f"models: expected a list of model mappings or a file name, "
                              f"got {models!r}")
        if isinstance(models, list):
            for i, item in enumerate(models):
                if not isinstance(item, dict):
                    raise ConfigError(f"models[{i}]: expected a mapping, got {item!r}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: dict | None) -> AnalysisConfig:
        """Config from a nested dict (validated)."""
        return build_section(cls, data or {}, "")

    @classmethod
    def from_yaml(cls, text: str) -> AnalysisConfig:
        """Config from YAML text (validated; safe loader).

        Raises
        ------
        ConfigError
            Invalid YAML, an unknown key, a wrong type or a disallowed value (the message
            names the key path and what is allowed).
        """
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())}") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"config: expected a mapping at the top level, got {data!r}")
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | os.PathLike) -> AnalysisConfig:
        """Read a YAML config file (see `from_yaml`); errors name the file."""
        from gammapipe.utils.fits import make_path

        path = make_path(path)
        if not path.is_file():
            raise MissingFileError(f"config file not found: {path}")
        try:
            return cls.from_yaml(path.read_text())
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """Nested dict of YAML-friendly values (quantities as strings)."""
        return section_to_dict(self)

    def to_yaml(self) -> str:
        """YAML text (round-trips through `from_yaml`)."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the config as YAML (atomically)."""
        from gammapipe.utils.fits import atomic_write, make_path

        text = self.to_yaml()
        atomic_write(lambda tmp: Path(tmp).write_text(text), make_path(path), overwrite)

    @classmethod
    def default_yaml(cls) -> str:
        """The default config as YAML with a comment documenting every key."""
        header = ["# gammapipe analysis config (defaults). Run with: gammapipe run CONFIG.yaml",
                  "# Quantities are strings with units ('0.02 deg', '1 TeV').", ""]
        return "\n".join(header + documented_yaml(cls())) + "\n"

    def update(self, other: dict | AnalysisConfig) -> AnalysisConfig:
        """New config with the keys of ``other`` (nested dict or config) merged over this one."""
        base = self.to_dict()
        extra = other.to_dict() if isinstance(other, AnalysisConfig) else other
        return AnalysisConfig.from_dict(_merge(base, extra))

    def set(self, key_path: str, value: Any) -> AnalysisConfig:
        """New config with one dotted key replaced, e.g. ``set("general.n_jobs", 2)``."""
        nested: dict = {}
        node = nested
        parts = key_path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        return self.update(nested)

    def __str__(self) -> str:
        return "AnalysisConfig\n\n" + self.to_yaml()


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def replace(section, **changes):
    """`dataclasses.replace` re-exported for convenience."""
    return dataclasses.replace(section, **changes)
