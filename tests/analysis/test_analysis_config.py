"""AnalysisConfig: defaults, YAML round trip, documented default YAML and validation errors."""

from __future__ import annotations

import astropy.units as u
import pytest
import yaml

from gammapipe.analysis.config import AnalysisConfig, ConfigError


def test_defaults_and_types():
    config = AnalysisConfig()
    assert config.datasets.type == "3d"
    assert config.datasets.stack is True
    assert config.observations.datastore is None  # simulate by default
    assert config.datasets.geom.wcs.binsize == 0.04 * u.deg
    assert config.datasets.geom.axes.energy.nbins == 8
    assert config.simulation.livetime.to_value("h") == pytest.approx(0.1)
    assert config.general.n_jobs == 1
    assert config.flux_points.parameters["selection_optional"] == ["errn-errp", "ul"]


def test_yaml_round_trip(tmp_path):
    config = AnalysisConfig().set("datasets.geom.wcs.binsize", "0.02 deg")
    config = config.set("observations.obs_ids", [23523, 23526])
    text = config.to_yaml()
    again = AnalysisConfig.from_yaml(text)
    assert again.to_dict() == config.to_dict()
    assert again.datasets.geom.wcs.binsize == 0.02 * u.deg
    path = tmp_path / "config.yaml"
    config.write(path)
    assert AnalysisConfig.read(path).to_dict() == config.to_dict()
    with pytest.raises(FileExistsError):
        config.write(path)


def test_quantities_convert_units():
    config = AnalysisConfig.from_yaml("datasets: {geom: {wcs: {binsize: 3 arcmin}}}\n"
                                      "simulation: {livetime: 30 min}")
    assert config.datasets.geom.wcs.binsize.unit == u.deg
    assert config.datasets.geom.wcs.binsize.value == pytest.approx(0.05)
    assert config.simulation.livetime.to_value("h") == pytest.approx(0.5)
    # plain numbers are taken in the field's unit
    config = AnalysisConfig.from_dict({"datasets": {"geom": {"wcs": {"binsize": 0.1}}}})
    assert config.datasets.geom.wcs.binsize == 0.1 * u.deg


def test_default_yaml_is_documented_and_valid():
    text = AnalysisConfig.default_yaml()
    assert AnalysisConfig.from_yaml(text).to_dict() == AnalysisConfig().to_dict()
    lines = text.splitlines()
    # every key line is preceded by a comment line documenting it
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped and i > 3:
            assert lines[i - 1].strip().startswith("#"), f"undocumented key: {line}"
    assert "[one of: 3d, 1d]" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("datasets: {geom: {wcs: {binsze: 1}}}",
         "datasets.geom.wcs.binsze: unknown key; allowed keys in datasets.geom.wcs: skydir, "
         "binsize"),
        ("datasets: {type: 2d}", "datasets.type: '2d' is not allowed; allowed values: '3d', '1d'"),
        ("general: {n_jobs: two}", "general.n_jobs: expected an integer, got 'two'"),
        ("general: {n_jobs: 1.5}", "general.n_jobs: expected an integer"),
        ("datasets: {stack: maybe}", "datasets.stack: expected true or false"),
        ("datasets: {geom: {wcs: {binsize: 1 TeV}}}",
         "datasets.geom.wcs.binsize: expected a quantity convertible to 'deg'"),
        ("datasets: {safe_mask: {methods: [aeff-max, foo]}}",
         "datasets.safe_mask.methods[1]: 'foo' is not allowed"),
        ("models: 3", "models: expected a list of model mappings or a file name"),
        ("observations: {obs_ids: 23523}", "observations.obs_ids: expected a list of int"),
        ("fit: {backend: sherpa}", "fit.backend: 'sherpa' is not allowed; allowed values: "
         "'minuit', 'scipy'"),
        ("[1, 2]", "config: expected a mapping at the top level"),
        ("foo: 1", "foo: unknown key; allowed keys in config: general, observations"),
        ("a: [", "invalid YAML"),
    ],
)
def test_validation_errors_name_key_and_allowed(text, expected):
    with pytest.raises(ConfigError) as excinfo:
        AnalysisConfig.from_yaml(text)
    assert expected in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        AnalysisConfig.read(tmp_path / "missing.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("general: {outdir: 3, n_jobs: -}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: general.outdir: expected a path"):
        AnalysisConfig.read(path)


def test_update_merges_nested_keys():
    config = AnalysisConfig().update({"datasets": {"geom": {"wcs": {"binsize": "0.1 deg"}}}})
    assert config.datasets.geom.wcs.binsize == 0.1 * u.deg
    assert config.datasets.geom.wcs.width.width == 3 * u.deg  # untouched sibling
    with pytest.raises(ConfigError, match="general.n_job: unknown key"):
        config.set("general.n_job", 2)


def test_models_inline_and_energy_edges():
    text = """
models:
  - name: crab
    type: SkyModel
    spectral: {type: PowerLawSpectralModel}
flux_points:
  energy: {edges: [1 TeV, 2 TeV, 4000 GeV]}
"""
    config = AnalysisConfig.from_yaml(text)
    assert config.models[0]["name"] == "crab"
    edges = config.flux_points.energy.edges
    assert [e.to_value("TeV") for e in edges] == [1, 2, 4]
    dumped = yaml.safe_load(config.to_yaml())
    assert dumped["flux_points"]["energy"]["edges"] == ["1 TeV", "2 TeV", "4 TeV"]
