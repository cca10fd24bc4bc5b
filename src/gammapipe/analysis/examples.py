"""Example analysis configs (``gammapipe config --example NAME``).

- ``crab3d``: the low-level Crab 3D analysis of four H.E.S.S. DL3 DR1 runs (stacked map
  dataset, FoV background fit, point source with a power law, flux points in 1-2-4-10 TeV).
- ``spectrum1d``: the 1D reflected-regions spectrum of the same runs (joint ON-OFF fit).

Both read the data from ``$GAMMAPIPE_DATA/hess-dl3-dr1`` (H.E.S.S. DL3 DR1, H.E.S.S.
collaboration, https://www.mpi-hd.mpg.de/hfm/HESS/pages/dl3-dr1/).
"""

from __future__ import annotations

__all__ = ["EXAMPLES", "example_config"]

CRAB3D = """\
# Crab 3D analysis: 4 H.E.S.S. DL3 DR1 runs, stacked map dataset, point source + power law
general:
  outdir: crab3d-results
observations:
  datastore: $GAMMAPIPE_DATA/hess-dl3-dr1
  obs_ids: [23523, 23526, 23559, 23592]
datasets:
  type: 3d
  stack: true
  geom:
    wcs:
      skydir: {frame: icrs, lon: 83.633 deg, lat: 22.014 deg}
      binsize: 0.02 deg
      width: {width: 2 deg, height: 2 deg}
      binsize_irf: 0.2 deg
    selection: {offset_max: 2.5 deg}
    axes:
      energy: {min: 1 TeV, max: 10 TeV, nbins: 4}
      energy_true: {min: 0.5 TeV, max: 20 TeV, nbins: 10}
  background:
    method: fov_background
    parameters: {method: fit}
    exclusion_regions:
      - {frame: icrs, lon: 83.63 deg, lat: 22.14 deg, radius: 0.2 deg}
  safe_mask:
    methods: [offset-max, aeff-max]
models:
  - name: crab
    type: SkyModel
    spatial:
      type: PointSpatialModel
      frame: icrs
      parameters:
        - {name: lon_0, value: 83.61, unit: deg}
        - {name: lat_0, value: 22.02, unit: deg}
    spectral:
      type: PowerLawSpectralModel
      parameters:
        - {name: index, value: 2.702}
        - {name: amplitude, value: 4.712e-11, unit: cm-2 s-1 TeV-1}
        - {name: reference, value: 1, unit: TeV}
flux_points:
  source: crab
  energy: {edges: [1 TeV, 2 TeV, 4 TeV, 10 TeV]}
"""

SPECTRUM1D = """\
# Crab 1D spectrum: reflected-regions background, joint fit of 4 H.E.S.S. DL3 DR1 runs
general:
  outdir: crab1d-results
observations:
  datastore: $GAMMAPIPE_DATA/hess-dl3-dr1
  obs_ids: [23523, 23526, 23559, 23592]
  required_irf: [aeff, edisp]
datasets:
  type: 1d
  stack: false
  geom:
    wcs:
      skydir: {frame: icrs, lon: 83.63 deg, lat: 22.01 deg}
      binsize: 0.05 deg
      width: {width: 7.5 deg, height: 7.5 deg}
      proj: TAN
    axes:
      energy: {min: 0.5 TeV, max: 40 TeV, nbins: 20}
      energy_true: {min: 0.3 TeV, max: 100 TeV, nbins: 40}
  on_region: {frame: icrs, lon: 83.63 deg, lat: 22.01 deg, radius: 0.11 deg}
  containment_correction: true
  background:
    method: reflected
    exclusion_regions:
      - {frame: galactic, lon: 183.604 deg, lat: -8.708 deg, radius: 0.5 deg}
  safe_mask:
    methods: [aeff-max]
    parameters: {aeff_percent: 10}
models:
  - name: crab
    type: SkyModel
    spectral:
      type: PowerLawSpectralModel
      parameters:
        - {name: index, value: 2}
        - {name: amplitude, value: 1e-12, unit: cm-2 s-1 TeV-1}
        - {name: reference, value: 1, unit: TeV}
flux_points:
  source: crab
  energy: {min: 1 TeV, max: 10 TeV, nbins: 3}
"""

EXAMPLES = {"crab3d": CRAB3D, "spectrum1d": SPECTRUM1D}


def example_config(name: str):
    """The example config ``name`` as an `AnalysisConfig`."""
    from .config import AnalysisConfig, ConfigError

    if name not in EXAMPLES:
        raise ConfigError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}")
    return AnalysisConfig.from_yaml(EXAMPLES[name])
