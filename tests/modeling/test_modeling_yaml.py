"""YAML I/O of model collections.

The reference file ``lowlevel_crab3d-models.yaml`` was written by gammapy 2.1 from a fit
of HESS DL3 DR1 data (H.E.S.S. collaboration).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import yaml

from gammapipe.modeling.models.collections import DatasetModels, Models
from gammapipe.modeling.models.io import from_yaml, to_yaml
from gammapipe.modeling.models.sky import FoVBackgroundModel, SkyModel
from gammapipe.modeling.models.spatial import (
    ConstantFluxSpatialModel,
    ConstantSpatialModel,
    DiskSpatialModel,
    GaussianSpatialModel,
    GeneralizedGaussianSpatialModel,
    PointSpatialModel,
    Shell2SpatialModel,
    ShellSpatialModel,
)
from gammapipe.modeling.models.spectral import (
    ExpCutoffPowerLawSpectralModel,
    LogParabolaSpectralModel,
    PowerLawNormSpectralModel,
    PowerLawSpectralModel,
)
from gammapipe.utils.errors import MissingFileError

REF_NAME = "lowlevel_crab3d-models.yaml"


def _strip_metadata(data: dict) -> dict:
    data = dict(data)
    data.pop("metadata", None)
    return data


def _sorted_params(data):
    """Same dict with every parameter list sorted by name (order-insensitive compare)."""
    if isinstance(data, dict):
        out = {}
        for key, val in data.items():
            if key == "parameters":
                val = sorted(val, key=lambda p: p["name"])
            out[key] = _sorted_params(val)
        return out
    if isinstance(data, list):
        return [_sorted_params(v) for v in data]
    return data


@pytest.fixture(scope="module")
def reference_yaml(reference_dir):
    return reference_dir / REF_NAME


def test_read_reference_yaml(reference_yaml):
    models = Models.read(reference_yaml)
    assert models.names == ["crab", "crab-stacked-bkg"]
    crab = models["crab"]
    assert isinstance(crab, SkyModel)
    pl = crab.spectral_model
    assert isinstance(pl, PowerLawSpectralModel)
    assert pl.index.value == 2.6023640817133638
    assert pl.amplitude.value == 4.59208206716576e-11
    assert pl.amplitude.unit == u.Unit("TeV-1 s-1 cm-2")
    assert pl.amplitude.error == 3.70558655086063e-12
    assert pl.reference.quantity == 1 * u.TeV
    assert pl.reference.frozen
    point = crab.spatial_model
    assert isinstance(point, PointSpatialModel)
    assert point.frame == "icrs"
    assert point.lon_0.value == 83.61923928456405
    assert point.lat_0.error == 0.002764965609607246
    bkg = models[1]
    assert isinstance(bkg, FoVBackgroundModel)
    assert bkg.datasets_names == ["crab-stacked"]
    assert bkg.spectral_model.norm.value == 0.9351303975231281
    assert bkg.spectral_model.tilt.frozen
    # free parameters in the order of the reference fit (lowlevel_crab3d.json)
    free = [n for n, p in zip(models.parameters_unique_names, models.parameters, strict=True)
            if not p.frozen]
    assert free == [
        "crab.spectral.index",
        "crab.spectral.amplitude",
        "crab.spatial.lon_0",
        "crab.spatial.lat_0",
        "crab-stacked-bkg.spectral.norm",
    ]
    # covariance diagonal from the errors
    cov = models.covariance.data
    assert cov[1, 1] == pytest.approx(3.70558655086063e-12**2, rel=1e-12)


def test_reference_yaml_round_trip(reference_yaml):
    original = yaml.safe_load(reference_yaml.read_text())
    models = Models.read(reference_yaml)
    written = models.to_dict()
    assert written["metadata"]["creator"].startswith("gammapipe")
    assert _sorted_params(_strip_metadata(written)) == _sorted_params(_strip_metadata(original))
    again = Models.from_yaml(models.to_yaml())
    assert _strip_metadata(again.to_dict()) == _strip_metadata(written)


def test_reference_yaml_round_trip_parameter_order(reference_yaml):
    """Exact dict equality, including the parameter order (tilt before norm)."""
    original = yaml.safe_load(reference_yaml.read_text())
    models = Models.read(reference_yaml)
    assert _strip_metadata(models.to_dict()) == _strip_metadata(original)


def test_write_read_with_covariance(tmp_path, reference_yaml):
    models = Models.read(reference_yaml)
    names = models.parameters_unique_names
    cov = models.covariance.data.copy()
    i, j = names.index("crab.spectral.index"), names.index("crab.spectral.amplitude")
    cov[i, j] = cov[j, i] = -0.3 * np.sqrt(cov[i, i] * cov[j, j])
    models.covariance = cov
    path = tmp_path / "models.yaml"
    models.write(path)
    covar_file = tmp_path / "models_covariance.dat"
    assert covar_file.is_file()
    assert yaml.safe_load(path.read_text())["covariance"] == "models_covariance.dat"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.yaml", "models_covariance.dat"]
    with pytest.raises(FileExistsError):
        models.write(path)
    new = Models.read(path)
    np.testing.assert_allclose(new.covariance.data, cov, rtol=1e-12, atol=0)
    assert new["crab"].covariance.data[i, j] == pytest.approx(cov[i, j], rel=1e-12)
    assert new["crab"].spectral_model.covariance.data[0, 1] == pytest.approx(cov[i, j], rel=1e-12)
    # without covariance: no file referenced
    models.write(tmp_path / "nocov.yaml", write_covariance=False)
    assert "covariance" not in yaml.safe_load((tmp_path / "nocov.yaml").read_text())
    # missing covariance file -> clear error
    covar_file.unlink()
    with pytest.raises(MissingFileError, match="covariance"):
        Models.read(path)


def _all_models():
    spatial = [
        PointSpatialModel(lon_0="1 deg", lat_0="2 deg", frame="galactic"),
        GaussianSpatialModel(sigma="0.3 deg", e=0.5, phi="10 deg"),
        GeneralizedGaussianSpatialModel(eta=0.3),
        DiskSpatialModel(r_0="0.4 deg", edge_width=0.1),
        ShellSpatialModel(),
        Shell2SpatialModel(),
        ConstantSpatialModel(),
        ConstantFluxSpatialModel(),
    ]
    spectral = [
        PowerLawSpectralModel(index=2.3),
        ExpCutoffPowerLawSpectralModel(),
        LogParabolaSpectralModel(),
        PowerLawSpectralModel(),
        PowerLawSpectralModel(),
        PowerLawSpectralModel(),
        PowerLawSpectralModel(),
        PowerLawSpectralModel(),
    ]
    models = [
        SkyModel(spectral_model=spec, spatial_model=spat, name=f"src-{idx}")
        for idx, (spec, spat) in enumerate(zip(spectral, spatial, strict=True))
    ]
    models.append(SkyModel(PowerLawSpectralModel(), name="spec-only", datasets_names=["a", "b"],
                           apply_irf={"psf": False}))
    from gammapipe.modeling.models import temporal

    for idx, tmodel in enumerate([
        temporal.ConstantTemporalModel(),
        temporal.LinearTemporalModel(),
        temporal.ExpDecayTemporalModel(),
        temporal.GaussianTemporalModel(),
        temporal.PowerLawTemporalModel(),
        temporal.SineTemporalModel(),
    ]):
        models.append(SkyModel(PowerLawSpectralModel(), PointSpatialModel(),
                               temporal_model=tmodel, name=f"var-{idx}"))
    models.append(FoVBackgroundModel(dataset_name="ds1"))
    models.append(FoVBackgroundModel(
        dataset_name="ds2", spatial_model=GaussianSpatialModel(sigma="3 deg")
    ))
    return Models(models)


@pytest.mark.parametrize("full_output", [False, True])
def test_yaml_round_trip_every_model_type(full_output):
    models = _all_models()
    models["src-1"].spatial_model.sigma.error = 0.01
    models["src-1"].spatial_model.sigma.min = 0.001
    models["src-2"].spectral_model.alpha.frozen = True
    text = models.to_yaml(full_output=full_output)
    new = Models.from_yaml(text)
    assert new.names == models.names
    for old_model, new_model in zip(models, new, strict=True):
        assert type(new_model) is type(old_model)
        for key in ("spectral_model", "spatial_model", "temporal_model"):
            old_c, new_c = getattr(old_model, key), getattr(new_model, key)
            assert type(old_c) is type(new_c)
    old_pars, new_pars = models.parameters, new.parameters
    np.testing.assert_array_equal(new_pars.values, old_pars.values)
    np.testing.assert_array_equal(new_pars.errors, old_pars.errors)
    np.testing.assert_array_equal(new_pars.min, old_pars.min)
    assert [p.frozen for p in new_pars] == [p.frozen for p in old_pars]
    assert [p.unit for p in new_pars] == [p.unit for p in old_pars]
    assert new["src-0"].spatial_model.frame == "galactic"
    assert new["spec-only"].apply_irf == {"exposure": True, "psf": False, "edisp": True}
    assert new["spec-only"].datasets_names == ["a", "b"]
    # compare as YAML text (NaN bounds compare unequal in dicts)
    assert to_yaml(_strip_metadata(new.to_dict(full_output))) == to_yaml(
        _strip_metadata(models.to_dict(full_output))
    )
    if full_output:
        entry = yaml.safe_load(text)["components"][1]["spatial"]["parameters"][2]
        assert entry["name"] == "sigma" and entry["min"] == 0.001 and "frozen" in entry


def test_linked_parameters_round_trip():
    spectral = PowerLawSpectralModel()
    a = SkyModel(spectral, PointSpatialModel(), name="a")
    b_spec = PowerLawSpectralModel(index=3)
    b_spec.index = spectral.index  # link the index
    b = SkyModel(b_spec, PointSpatialModel(lon_0="1 deg"), name="b")
    models = Models([a, b])
    assert len(models.parameters) == 9  # 10 minus the shared index
    data = models.to_dict()
    links = [p.get("link") for c in data["components"] for p in c["spectral"]["parameters"]]
    assert links.count("@a.spectral.index") == 2
    new = Models.from_yaml(models.to_yaml())
    assert new["a"].spectral_model.index is new["b"].spectral_model.index
    assert len(new.parameters) == 9
    new["a"].spectral_model.index.value = 2.5
    assert new["b"].spectral_model.index.value == 2.5


def test_dataset_models_is_read_only_and_from_yaml():
    models = _all_models()
    dm = DatasetModels.from_yaml(models.to_yaml())
    assert isinstance(dm, DatasetModels)
    assert not hasattr(dm, "append")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("components: [", "invalid or unsafe YAML"),
        ("- a\n- b\n", "mapping at the top level"),
        ("foo: 1\n", "components"),
        ("components:\n- name: x\n", "no 'type'"),
        ("components:\n- name: x\n  type: FancyModel\n", "FancyModel.*known tags.*SkyModel"),
        (
            "components:\n- name: x\n  type: SkyModel\n  spectral:\n    type: NoSuchSpectrum\n",
            "NoSuchSpectrum.*known tags",
        ),
        (
            "components:\n- name: x\n  type: SkyModel\n  spectral:\n    type: pl\n"
            "    parameters:\n    - name: idx\n      value: 2\n",
            "unknown parameter",
        ),
        ("components:\n- type: FoVBackgroundModel\n", "datasets_names"),
        ("components:\n- name: x\n  type: SkyModel\n", "spectral"),
    ],
)
def test_bad_yaml(text, match):
    with pytest.raises(ValueError, match=match):
        Models.from_yaml(text)


def test_yaml_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    text = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ValueError, match="unsafe"):
        Models.from_yaml(text)
    text = (
        "components:\n- name: x\n  type: SkyModel\n  spectral: !!python/object/apply:"
        f"os.system ['touch {marker}']\n"
    )
    with pytest.raises(ValueError):
        Models.from_yaml(text)
    assert not marker.exists()


def test_duplicate_names_in_yaml():
    text = Models([SkyModel(PowerLawSpectralModel(), name="x")]).to_yaml()
    data = yaml.safe_load(text)
    data["components"] = data["components"] * 2
    with pytest.raises(ValueError, match="unique"):
        Models.from_dict(data)


def test_io_helpers():
    data = {"a": np.float64(1.5), "b": np.array([1, 2]), "c": (np.bool_(True), None)}
    text = to_yaml(data)
    assert from_yaml(text) == {"a": 1.5, "b": [1, 2], "c": [True, None]}
    with pytest.raises(TypeError):
        from_yaml(b"a: 1")


def test_read_missing_file(tmp_path):
    with pytest.raises(MissingFileError):
        Models.read(tmp_path / "nothere.yaml")


def test_norm_model_layout():
    bkg = FoVBackgroundModel(dataset_name="d", spectral_model=PowerLawNormSpectralModel(norm=2))
    data = bkg.to_dict()
    assert list(data) == ["type", "datasets_names", "spectral"]
    assert "name" not in data
