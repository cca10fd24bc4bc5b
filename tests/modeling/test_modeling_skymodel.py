"""Tests of SkyModel, FoVBackgroundModel, TemplateNPredModel and the Models collections.

The reference dataset and models (``lowlevel_crab3d-*``) were produced by gammapy 2.1
from HESS DL3 DR1 (H.E.S.S. collaboration).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammapipe.modeling.models.collections import DatasetModels, Models
from gammapipe.modeling.models.sky import FoVBackgroundModel, SkyModel, TemplateNPredModel
from gammapipe.modeling.models.spatial import (
    ConstantSpatialModel,
    DiskSpatialModel,
    GaussianSpatialModel,
    PointSpatialModel,
)
from gammapipe.modeling.models.spectral import (
    ExpCutoffPowerLawSpectralModel,
    PowerLawNormSpectralModel,
    PowerLawSpectralModel,
)


def energy_true_axis(nbin=4):
    from gammapipe.maps import MapAxis

    return MapAxis.from_energy_bounds(1, 10, nbin, unit="TeV", name="energy_true")


def make_geom(axes, center=(83.63, 22.01), width=2.0, binsz=0.02, frame="icrs"):
    from gammapipe.maps import WcsGeom

    return WcsGeom.create(skydir=center, width=width, binsz=binsz, frame=frame, axes=axes)


def crab_model(name="crab"):
    return SkyModel(
        spectral_model=PowerLawSpectralModel(index=2.6, amplitude="4.6e-11 cm-2 s-1 TeV-1"),
        spatial_model=PointSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg"),
        name=name,
    )


# ------------------------------------------------------------------------------ SkyModel
def test_skymodel_parameters_and_names():
    model = crab_model()
    assert model.parameters.names == ["index", "amplitude", "reference", "lon_0", "lat_0"]
    assert model.parameters["index"] is model.spectral_model.index
    assert model.parameters["lon_0"] is model.spatial_model.lon_0
    assert [p.type for p in model.parameters] == ["spectral"] * 3 + ["spatial"] * 2
    unnamed = [SkyModel(PowerLawSpectralModel()).name for _ in range(20)]
    assert all(len(n) == 8 for n in unnamed) and len(set(unnamed)) == 20
    assert model.frame == "icrs"
    assert model.position.separation(SkyCoord(83.63, 22.01, unit="deg")).deg < 1e-9
    assert model.evaluation_radius == 0 * u.deg
    with pytest.raises(TypeError, match="spectral"):
        SkyModel(spectral_model=PointSpatialModel())
    with pytest.raises(TypeError, match="spatial"):
        SkyModel(PowerLawSpectralModel(), spatial_model=PowerLawSpectralModel())
    with pytest.raises(ValueError, match="apply_irf"):
        SkyModel(PowerLawSpectralModel(), apply_irf={"bogus": True})


def test_skymodel_evaluate():
    spectral = PowerLawSpectralModel(index=2.5, amplitude="1e-11 cm-2 s-1 TeV-1")
    spatial = GaussianSpatialModel(lon_0="10 deg", lat_0="20 deg", sigma="0.3 deg")
    model = SkyModel(spectral, spatial, name="g")
    energy = [1, 2, 4] * u.TeV
    value = model.evaluate(10.1 * u.deg, 20 * u.deg, energy)
    sigma = np.deg2rad(0.3)
    sep = np.deg2rad(0.1) * np.cos(np.deg2rad(20))
    expected = 1e-11 * energy.value**-2.5 * np.exp(-0.5 * (sep / sigma) ** 2) / (
        2 * np.pi * sigma**2
    )
    assert value.unit.is_equivalent("cm-2 s-1 TeV-1 sr-1")
    np.testing.assert_allclose(value.to_value("cm-2 s-1 TeV-1 sr-1"), expected, rtol=1e-4)


def test_skymodel_integrate_geom_point():
    axis = energy_true_axis()
    geom = make_geom([axis])
    model = crab_model()
    flux = model.integrate_geom(geom)
    assert flux.data.shape == geom.data_shape
    assert flux.unit.is_equivalent("cm-2 s-1")
    edges = axis.edges
    expected = model.spectral_model.integral(edges[:-1], edges[1:]).to_value(flux.unit)
    np.testing.assert_allclose(flux.data.sum(axis=(1, 2)), expected, rtol=1e-9)
    # the flux lands at the source pixel
    image = geom.to_image()
    pix = image.coord_to_pix({"skycoord": model.position})
    iy, ix = int(np.round(np.ravel(pix[1])[0])), int(np.round(np.ravel(pix[0])[0]))
    assert flux.data[0, iy - 1 : iy + 2, ix - 1 : ix + 2].sum() == pytest.approx(expected[0])


def test_skymodel_integrate_and_evaluate_geom_extended():
    axis = energy_true_axis(3)
    geom = make_geom([axis], width=3)
    model = SkyModel(
        ExpCutoffPowerLawSpectralModel(),
        DiskSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg", r_0="0.5 deg"),
        name="disk",
    )
    # the hard disk edge needs sub-pixels for a 1e-3 integral
    flux = model.integrate_geom(geom, oversampling_factor=4)
    edges = axis.edges
    expected = model.spectral_model.integral(edges[:-1], edges[1:]).to_value(flux.unit)
    np.testing.assert_allclose(flux.data.sum(axis=(1, 2)), expected, rtol=1e-3)
    dnde = model.evaluate_geom(geom)
    assert dnde.shape == geom.data_shape
    centre = model.evaluate(83.63 * u.deg, 22.01 * u.deg, axis.center)
    assert dnde.unit.is_equivalent(centre.unit)
    np.testing.assert_allclose(dnde.to_value(centre.unit).max(axis=(1, 2)), centre.value,
                               rtol=1e-6)
    # without a spatial model: spectral integral per energy bin
    spec = SkyModel(PowerLawSpectralModel(), name="spec")
    np.testing.assert_allclose(
        spec.integrate_geom(geom).data[:, 0, 0],
        PowerLawSpectralModel().integral(edges[:-1], edges[1:]).to_value(flux.unit),
    )


def test_skymodel_copy_freeze_str_add():
    model = crab_model()
    copy = model.copy(name="crab2")
    assert copy.name == "crab2"
    assert copy.spectral_model.index is not model.spectral_model.index
    copy.spectral_model.index.value = 3
    assert model.spectral_model.index.value == 2.6
    assert len(model.copy().name) == 8
    model.freeze("spatial")
    assert model.spatial_model.frozen and not model.spectral_model.index.frozen
    model.unfreeze("spatial")
    assert not model.spatial_model.lon_0.frozen
    model.freeze()
    assert all(p.frozen for p in model.parameters)
    model.unfreeze()
    assert model.spectral_model.reference.frozen and not model.spectral_model.index.frozen
    with pytest.raises(ValueError, match="model_type"):
        model.freeze("bogus")
    text = str(model)
    assert "crab" in text and "PowerLawSpectralModel" in text and "lon_0" in text
    both = model + copy
    assert isinstance(both, Models) and both.names == ["crab", "crab2"]


def test_skymodel_covariance_distribution():
    model = crab_model()
    n = len(model.parameters)
    cov = np.diag(np.arange(1, n + 1, dtype=float) * 1e-4)
    cov[0, 3] = cov[3, 0] = 2e-5  # index - lon_0 cross term
    model.covariance = cov
    np.testing.assert_allclose(model.covariance.data, cov)
    assert model.spectral_model.index.error == pytest.approx(1e-2)
    np.testing.assert_allclose(model.spectral_model.covariance.data, cov[:3, :3])
    np.testing.assert_allclose(model.spatial_model.covariance.data, cov[3:, 3:])


def test_skymodel_dict_round_trip():
    model = SkyModel(
        PowerLawSpectralModel(),
        GaussianSpatialModel(sigma="0.2 deg", frame="galactic"),
        name="src",
        datasets_names=["d1"],
        apply_irf={"edisp": False},
    )
    data = model.to_dict()
    assert list(data) == ["name", "type", "apply_irf", "datasets_names", "spectral", "spatial"]
    new = SkyModel.from_dict(data)
    assert new.to_dict() == data
    assert new.spatial_model.frame == "galactic"


def test_skymodel_temporal():
    from astropy.time import Time

    temporal = pytest.importorskip("gammapipe.modeling.models.temporal")
    from gammapipe.data.gti import GTI

    tmodel = temporal.ConstantTemporalModel()
    model = SkyModel(PowerLawSpectralModel(), PointSpatialModel(lon_0="83.63 deg",
                     lat_0="22.01 deg"), temporal_model=tmodel, name="t")
    assert model.temporal_model is tmodel
    expected_names = (model.spectral_model.parameters.names
                      + model.spatial_model.parameters.names + tmodel.parameters.names)
    assert model.parameters.names == expected_names
    value = model.evaluate(
        83.63 * u.deg, 22.01 * u.deg, 1 * u.TeV, time=Time(55555, format="mjd")
    )
    assert value.to_value("cm-2 s-1 TeV-1 sr-1") == pytest.approx(
        model.evaluate(83.63 * u.deg, 22.01 * u.deg, 1 * u.TeV).to_value("cm-2 s-1 TeV-1 sr-1")
    )
    # a constant light curve integrated over the GTIs leaves the flux unchanged
    gti = GTI.create([0, 200] * u.s, [100, 400] * u.s, reference_time=Time(55555, format="mjd"))
    geom = make_geom([energy_true_axis(2)], width=0.5, binsz=0.05)
    with_gti = model.integrate_geom(geom, gti=gti)
    without = model.integrate_geom(geom)
    np.testing.assert_allclose(with_gti.data, without.data, rtol=1e-6)
    data = model.to_dict()
    assert data["temporal"]["type"] == "ConstantTemporalModel"
    new = SkyModel.from_dict(data)
    assert type(new.temporal_model) is type(tmodel)
    model.freeze("temporal")
    with pytest.raises(TypeError, match="temporal"):
        SkyModel(PowerLawSpectralModel(), temporal_model=PowerLawSpectralModel())


# ----------------------------------------------------------------- FoV / template npred
def test_fov_background_model():
    from gammapipe.maps import MapAxis

    bkg = FoVBackgroundModel(dataset_name="crab-stacked")
    assert bkg.name == "crab-stacked-bkg"
    assert bkg.datasets_names == ["crab-stacked"]
    assert bkg.parameters.names == PowerLawNormSpectralModel().parameters.names
    energy = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV", name="energy")
    geom = make_geom([energy], width=1, binsz=0.1)
    bkg.spectral_model.norm.value = 1.1
    bkg.spectral_model.tilt.value = 0.2
    values = bkg.evaluate_geom(geom)
    assert values.shape == (4, 1, 1)
    expected = 1.1 * energy.center.to_value("TeV") ** -0.2
    np.testing.assert_allclose(values.ravel(), expected, rtol=1e-12)
    bkg.spectral_model.norm.error = 0.1
    bkg.reset_to_default()
    assert bkg.spectral_model.norm.value == 1 and bkg.spectral_model.tilt.value == 0
    assert bkg.spectral_model.norm.error == 0
    with pytest.raises(ValueError, match="dataset_name"):
        FoVBackgroundModel()
    with pytest.raises(ValueError, match="norm"):
        FoVBackgroundModel(dataset_name="d", spectral_model=PowerLawSpectralModel())
    moved = bkg.reassign("crab-stacked", "other")
    assert moved.name == "other-bkg"
    assert bkg.copy().name == bkg.name
    assert "crab-stacked-bkg" in str(bkg)


def test_fov_background_reference_npred(reference_dir):
    """Background map x fitted FoV norm reproduces the reference npred_background."""
    import json

    from gammapipe.maps import Map

    fn = reference_dir / "lowlevel_crab3d-stacked.fits.gz"
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    background = Map.read(fn, hdu="BACKGROUND")
    mask = Map.read(fn, hdu="MASK_SAFE").data.astype(bool)
    models = Models.read(reference_dir / "lowlevel_crab3d-models.yaml")
    factor = models["crab-stacked-bkg"].evaluate_geom(background.geom)
    npred = (background.data * factor)[mask].sum()
    assert npred == pytest.approx(ref["fit"]["npred_background"], rel=1e-12)


def test_template_npred_model(tmp_path):
    from gammapipe.maps import Map, MapAxis

    energy = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV", name="energy")
    geom = make_geom([energy], width=1, binsz=0.1)
    m = Map.from_geom(geom, data=np.ones(geom.data_shape) * 2.0)
    model = TemplateNPredModel(m, name="tmpl", datasets_names=["d"])
    model.spectral_model.norm.value = 1.5
    out = model.evaluate()
    np.testing.assert_allclose(out.data, 3.0)
    model.write(filename=tmp_path / "tmpl.fits")
    data = model.to_dict()
    assert data["filename"] == str(tmp_path / "tmpl.fits")
    new = TemplateNPredModel.from_dict(data)
    np.testing.assert_allclose(new.evaluate().data, 3.0)
    models = Models([model])
    models.write(tmp_path / "m.yaml")
    back = Models.read(tmp_path / "m.yaml")
    assert back["tmpl"].spectral_model.norm.value == 1.5
    # cutout keeps the scaling; stacking folds the scaling into the template
    cut = model.cutout(geom.center_skydir, width=0.5 * u.deg, name="cut")
    assert cut.map.data.shape == (3, 5, 5)
    np.testing.assert_allclose(cut.evaluate().data, 3.0)
    cut.spectral_model.norm.value = 2.0
    model.stack(cut)
    assert model.spectral_model.norm.value == 1.0
    data = model.evaluate().data
    assert data.max() == pytest.approx(3.0 + 4.0) and data.min() == pytest.approx(3.0)
    assert data.sum() == pytest.approx(3.0 * data.size + 4.0 * cut.map.data.size)


# --------------------------------------------------------------------------- collections
def test_models_indexing_and_mutation():
    a, b = crab_model("a"), crab_model("b")
    bkg = FoVBackgroundModel(dataset_name="ds")
    models = Models([a, b, bkg])
    assert models["a"] is a and models[1] is b and models[-1] is bkg
    assert models.names == ["a", "b", "ds-bkg"]
    with pytest.raises(KeyError, match="available.*'a'"):
        models["zz"]
    with pytest.raises(ValueError, match="unique"):
        Models([a, crab_model("a")])
    with pytest.raises(ValueError, match="unique"):
        models.append(crab_model("b"))
    c = crab_model("c")
    models.insert(0, c)
    assert models.names[0] == "c"
    models.remove("c")
    models.extend([crab_model("d")])
    assert "d" in models and a in models
    del models["d"]
    assert isinstance(models[["a", "b"]], Models)
    assert len(models[np.array([True, False, True])]) == 2
    sub = models[:2]
    assert sub.names == ["a", "b"]
    assert isinstance(models + crab_model("e"), Models)
    dm = DatasetModels([a, b])
    assert not hasattr(dm, "append")
    assert "Component 0: SkyModel" in str(models)


def test_models_parameters_and_covariance():
    a, b = crab_model("a"), crab_model("b")
    b.spectral_model.index = a.spectral_model.index  # link
    models = Models([a, b, FoVBackgroundModel(dataset_name="ds")])
    assert len(models.parameters) == 5 + 4 + 3
    names = models.parameters_unique_names
    assert names[:3] == ["a.spectral.index", "a.spectral.amplitude", "a.spectral.reference"]
    assert "b.spectral.index" not in names and "ds-bkg.spectral.norm" in names
    n = len(names)
    cov = np.diag(np.linspace(1, 2, n) * 1e-4)
    cov[0, 1] = cov[1, 0] = 1e-6
    cov[0, n - 1] = cov[n - 1, 0] = 5e-5  # cross-model term: dropped (block diagonal)
    models.covariance = cov
    got = models.covariance.data
    assert got[0, 1] == pytest.approx(1e-6)
    assert got[0, n - 1] == 0
    np.testing.assert_allclose(np.diag(got), np.diag(cov))
    table = models.to_parameters_table()
    assert list(table["model"][:2]) == ["a", "a"]
    assert len(table) == n


def test_models_select_and_freeze():
    a = crab_model("src-a")
    b = SkyModel(PowerLawSpectralModel(), GaussianSpatialModel(), name="src-b",
                 datasets_names=["d2"])
    c = SkyModel(PowerLawSpectralModel(), name="spec")
    bkg = FoVBackgroundModel(dataset_name="d1")
    models = Models([a, b, c, bkg])
    assert models.select(name_substring="src").names == ["src-a", "src-b"]
    assert models.select(datasets_names="d1").names == ["src-a", "spec", "d1-bkg"]
    assert models.select(tag="sky-model").names == ["src-a", "src-b", "spec"]
    assert models.select(tag="gauss", model_type="spatial").names == ["src-b"]
    assert models.select(model_type="spatial").names == ["src-a", "src-b"]
    models.freeze("spatial")
    assert models.select(frozen=True, model_type="spatial").names == ["src-a", "src-b"]
    models.unfreeze()
    assert models.select(frozen=True, model_type="spatial").names == []
    models.freeze()
    assert models.frozen
    models.unfreeze()
    models.set_parameters_bounds(tag="pl", model_type="spectral", parameters_names="index",
                                 min=1, max=4)
    assert a.spectral_model.index.min == 1 and c.spectral_model.index.max == 4
    moved = models.reassign("d1", "d9")
    assert "d9-bkg" in moved.names


def test_models_positions_geom_and_masks():
    from gammapipe.maps import Map

    a = crab_model("a")
    b = SkyModel(PowerLawSpectralModel(), GaussianSpatialModel(
        lon_0="85 deg", lat_0="23 deg", sigma="0.1 deg"), name="b")
    c = SkyModel(PowerLawSpectralModel(), ConstantSpatialModel(), name="c")
    models = Models([a, b, c, FoVBackgroundModel(dataset_name="ds")])
    pos = models.positions
    assert len(pos) == 2
    assert pos[1].separation(SkyCoord(85, 23, unit="deg")).deg < 1e-9
    geom = make_geom([], center=(83.63, 22.01), width=1.0, binsz=0.05)
    mask = Map.from_geom(geom, data=np.ones(geom.data_shape, dtype=bool))
    assert models.select_mask(mask).names == ["a", "c"]
    assert models.select_mask(mask, margin="1.5 deg").names == ["a", "b", "c"]
    assert models.select_mask(mask, use_evaluation_region=False).names == ["a", "c"]
    from regions import CircleSkyRegion

    region = CircleSkyRegion(SkyCoord(85, 23, unit="deg"), radius=0.2 * u.deg)
    assert models.select_region([region]).names == ["b"]
    wcs_geom = Models([a, b]).wcs_geom
    assert wcs_geom.contains(SkyCoord(85, 23, unit="deg")).all()
    assert wcs_geom.contains(SkyCoord(83.63, 22.01, unit="deg")).all()


def test_copy_with_replaced_component_and_contributes():
    from gammapipe.maps import Map

    model = crab_model()
    model.covariance = np.diag(np.arange(1, 6) * 1e-4)
    new = model.copy(name="scaled", spectral_model=PowerLawNormSpectralModel())
    assert new.spectral_model.tag[0] == "PowerLawNormSpectralModel"
    assert new.spatial_model is not model.spatial_model
    assert new.spatial_model.lon_0.value == model.spatial_model.lon_0.value
    assert new.covariance.data.shape == (5, 5)
    geom = make_geom([], center=(80, 22.01), width=1.0, binsz=0.05)
    mask = Map.from_geom(geom, data=np.ones(geom.data_shape, dtype=bool))
    assert not model.contributes(mask)
    assert model.contributes(mask, margin="3.2 deg")
    assert SkyModel(PowerLawSpectralModel()).contributes(mask)


def test_fov_positional_and_restore_status():
    bkg = FoVBackgroundModel("obs-1")
    assert bkg.name == "obs-1-bkg"
    bkg2 = FoVBackgroundModel(PowerLawNormSpectralModel(norm=2), "obs-2")
    assert bkg2.spectral_model.norm.value == 2 and bkg2.name == "obs-2-bkg"
    models = Models([crab_model(), bkg])
    with models.restore_status():
        models.freeze()
        models.parameters["index"].value = 3.3
    assert models["crab"].spectral_model.index.value == 2.6
    assert not models["crab"].spectral_model.index.frozen


def test_models_with_template_relative_path(tmp_path, monkeypatch):
    from gammapipe.maps import Map
    from gammapipe.modeling.models.spatial import TemplateSpatialModel

    geom = make_geom([], width=1, binsz=0.05)
    m = Map.from_geom(geom, data=np.ones(geom.data_shape))
    monkeypatch.chdir(tmp_path)
    template = TemplateSpatialModel(m, filename="diffuse.fits")
    models = Models([SkyModel(PowerLawSpectralModel(), template, name="diffuse")])
    models.write("models.yaml", overwrite_templates=True)
    assert (tmp_path / "diffuse.fits").is_file()
    monkeypatch.chdir("/")
    back = Models.read(tmp_path / "models.yaml")
    np.testing.assert_allclose(back["diffuse"].spatial_model.map.data,
                               template.map.data, rtol=1e-6)


def test_skymodel_integrate_region_geom():
    from regions import CircleSkyRegion

    from gammapipe.maps import RegionGeom

    axis = energy_true_axis(3)
    region = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), radius=0.2 * u.deg)
    geom = RegionGeom.create(region, axes=[axis])
    model = crab_model()
    flux = model.integrate_geom(geom)
    assert flux.data.shape == (3, 1, 1)
    edges = axis.edges
    expected = model.spectral_model.integral(edges[:-1], edges[1:]).to_value(flux.unit)
    np.testing.assert_allclose(flux.data.ravel(), expected, rtol=1e-9)


def test_fit_simulated_gaussian_source():
    """A 3D fit of simulated counts recovers position, size and spectrum (Poisson)."""
    from gammapipe.modeling.fit import Fit
    from gammapipe.stats.fit_statistics import cash_sum

    axis = energy_true_axis(3)
    geom = make_geom([axis], center=(83.63, 22.01), width=1.0, binsz=0.02)
    exposure = 2e15  # cm2 s: about 3000 source counts
    truth = SkyModel(
        PowerLawSpectralModel(index=2.3, amplitude="2e-12 cm-2 s-1 TeV-1"),
        GaussianSpatialModel(lon_0="83.65 deg", lat_0="22.0 deg", sigma="0.08 deg"),
        name="truth",
    )
    background = 0.2
    rng = np.random.default_rng(42)
    counts = rng.poisson(truth.integrate_geom(geom).data * exposure + background)

    class SimDataset:
        def __init__(self, models):
            self.models = Models(models)

        def stat_sum(self):
            npred = self.models[0].integrate_geom(geom).data * exposure + background
            return cash_sum(counts, npred)

    model = SkyModel(
        PowerLawSpectralModel(index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1"),
        GaussianSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg", sigma="0.1 deg"),
        name="fit",
    )
    dataset = SimDataset([model])
    result = Fit().run(dataset)
    assert result.success
    spatial = model.spatial_model
    for par, value in [(spatial.lon_0, 83.65), (spatial.lat_0, 22.0), (spatial.sigma, 0.08),
                       (model.spectral_model.index, 2.3)]:
        assert par.error > 0
        assert abs(par.value - value) < 4 * par.error, par.name
    assert spatial.lon_0.error < 0.01 and spatial.sigma.error < 0.01
    assert model.spectral_model.index.error < 0.1
