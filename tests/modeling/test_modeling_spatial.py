"""Tests of the spatial models (analytic normalisations, pixel integration, I/O)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from scipy.special import erfinv

from gammapipe.modeling.models._spatial_geometry import EDGE_WIDTH_95
from gammapipe.modeling.models.spatial import (
    ConstantFluxSpatialModel,
    ConstantSpatialModel,
    DiskSpatialModel,
    GaussianSpatialModel,
    GeneralizedGaussianSpatialModel,
    PointSpatialModel,
    Shell2SpatialModel,
    ShellSpatialModel,
    SpatialModel,
    TemplateSpatialModel,
)
from gammapipe.utils.coordinates import (
    angular_separation,
    offset_by,
    position_angle,
    transform_lonlat,
)


def polar_integral(model, r_max_deg, n_r=3000, n_phi=720, r_min_deg=0.0):
    """Integral of the model over a cap around its centre (midpoint rule in r, phi)."""
    lon0, lat0 = model.position_lonlat
    edges = np.linspace(np.deg2rad(r_min_deg), np.deg2rad(r_max_deg), n_r + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    phi = (np.arange(n_phi) + 0.5) / n_phi * 2 * np.pi
    rr, pp = np.meshgrid(r, phi)
    lon, lat = offset_by(lon0, lat0, pp, rr)
    values = model._evaluate_rad(lon, lat)
    return float(np.sum(values * np.sin(rr)) * (edges[1] - edges[0]) * 2 * np.pi / n_phi)


def make_geom(center=(83.6, 22.0), width=6.0, binsz=0.02, frame="icrs", proj="CAR", axes=None):
    from gammapipe.maps import WcsGeom

    return WcsGeom.create(
        skydir=center, width=width, binsz=binsz, frame=frame, proj=proj, axes=axes
    )


# ----------------------------------------------------------------------------- geometry
def test_geometry_helpers_against_astropy():
    rng = np.random.default_rng(1)
    lon1, lat1 = rng.uniform(0, 360, 50), rng.uniform(-89, 89, 50)
    lon2, lat2 = rng.uniform(0, 360, 50), rng.uniform(-89, 89, 50)
    c1 = SkyCoord(lon1, lat1, unit="deg")
    c2 = SkyCoord(lon2, lat2, unit="deg")
    sep = angular_separation(*np.deg2rad([lon1, lat1, lon2, lat2]))
    pa = position_angle(*np.deg2rad([lon1, lat1, lon2, lat2]))
    np.testing.assert_allclose(sep, c1.separation(c2).rad, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        np.mod(pa, 2 * np.pi), c1.position_angle(c2).rad, rtol=0, atol=1e-9
    )
    lon3, lat3 = offset_by(np.deg2rad(lon1), np.deg2rad(lat1), pa, sep)
    np.testing.assert_allclose(
        angular_separation(lon3, lat3, *np.deg2rad([lon2, lat2])), 0, atol=1e-9
    )


@pytest.mark.parametrize(("frame_from", "frame_to"), [("icrs", "galactic"), ("galactic", "fk5")])
def test_transform_lonlat(frame_from, frame_to):
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(0, 360, 200), rng.uniform(-90, 90, 200)
    lon2, lat2 = transform_lonlat(lon, lat, frame_from, frame_to)
    expected = SkyCoord(lon, lat, unit="deg", frame=frame_from).transform_to(frame_to)
    got = SkyCoord(lon2, lat2, unit="deg", frame=frame_to)
    assert np.max(expected.separation(got).arcsec) < 1e-6


def test_edge_width_constant():
    assert EDGE_WIDTH_95 == pytest.approx(2 * erfinv(0.9), rel=1e-15)


# ------------------------------------------------------------------- analytic integrals
@pytest.mark.parametrize(
    ("model", "r_max"),
    [
        (GaussianSpatialModel(lon_0="10 deg", lat_0="40 deg", sigma="0.5 deg"), 4),
        (GaussianSpatialModel(lat_0="-70 deg", sigma="0.3 deg", e=0.7, phi="30 deg"), 3),
        (GeneralizedGaussianSpatialModel(lat_0="40 deg", r_0="0.3 deg", eta=0.7), 12),
        (GeneralizedGaussianSpatialModel(r_0="0.3 deg", eta=0.3, e=0.5, phi="20 deg"), 6),
        (DiskSpatialModel(lat_0="-30 deg", r_0="2 deg", edge_width=0), 2.5),
        (DiskSpatialModel(lat_0="30 deg", r_0="2 deg", e=0.8, phi="40 deg", edge_width=0), 2.5),
        (ShellSpatialModel(lat_0="60 deg", radius="0.5 deg", width="0.1 deg"), 0.7),
        (Shell2SpatialModel(lat_0="60 deg", r_0="0.5 deg", eta=0.3), 0.7),
    ],
    ids=lambda x: getattr(x, "tag", [str(x)])[0],
)
def test_models_integrate_to_one(model, r_max):
    assert polar_integral(model, r_max) == pytest.approx(1.0, abs=1e-4)


def test_gaussian_sphere_normalisation_and_containment():
    sigma = 5.0
    model = GaussianSpatialModel(lat_0="20 deg", sigma=f"{sigma} deg")
    # whole sphere: exact normalisation on the sphere
    assert polar_integral(model, 180, n_r=20000) == pytest.approx(1.0, abs=1e-5)
    # 68 % containment: small-angle radius 1.50959 sigma, exact spherical formula
    a = 1 - np.cos(np.deg2rad(sigma))
    r68_small = sigma * np.sqrt(-2 * np.log(1 - 0.68))
    frac = polar_integral(model, r68_small, n_r=4000)
    x = 1 - np.cos(np.deg2rad(r68_small))
    expected = -np.expm1(-x / (2 * a)) / -np.expm1(-1 / a)
    assert frac == pytest.approx(expected, abs=1e-6)
    assert frac == pytest.approx(0.68, abs=2e-3)


def test_gaussian_small_angle_value():
    model = GaussianSpatialModel(sigma="0.2 deg")
    sigma = np.deg2rad(0.2)
    value = model(0.2 * u.deg, 0 * u.deg)
    assert value.unit == u.Unit("sr-1")
    assert value.value == pytest.approx(np.exp(-0.5) / (2 * np.pi * sigma**2), rel=1e-5)


def test_elongated_gaussian_orientation():
    # phi = 90 deg: major axis pointing east (increasing lon)
    model = GaussianSpatialModel(sigma="1 deg", e=0.8, phi="90 deg")
    east = model(0.5 * u.deg, 0 * u.deg)
    north = model(0 * u.deg, 0.5 * u.deg)
    expected = np.exp(-0.5 * 0.5**2) / np.exp(-0.5 * (0.5 / 0.6) ** 2)  # minor = 0.6 sigma
    assert (east / north).value == pytest.approx(expected, rel=1e-3)
    peak = model(0 * u.deg, 0 * u.deg)
    assert peak.to_value("sr-1") == pytest.approx(
        1 / (2 * np.pi * np.deg2rad(1) ** 2 * 0.6), rel=1e-6
    )
    model.phi.value = 0
    ratio = model(0 * u.deg, 0.5 * u.deg) / model(0.5 * u.deg, 0 * u.deg)
    assert ratio.value == pytest.approx(expected, rel=1e-3)


def test_disk_edge():
    r_0, ew = 1.0, 0.2
    model = DiskSpatialModel(r_0=f"{r_0} deg", edge_width=ew)
    plateau = 1 / (2 * np.pi * (1 - np.cos(np.deg2rad(r_0))))
    w = ew * r_0
    values = model(np.array([0, r_0 - w / 2, r_0, r_0 + w / 2, 2 * r_0]) * u.deg, 0 * u.deg)
    np.testing.assert_allclose(
        values.to_value("sr-1") / plateau, [1, 0.95, 0.5, 0.05, 0], rtol=1e-6, atol=1e-12
    )
    # the smooth edge adds the variance of its derivative: 1 + s^2 / r^2 in flat sky
    s = ew / (np.sqrt(2) * EDGE_WIDTH_95)
    assert polar_integral(model, 2 * r_0, n_r=6000) == pytest.approx(1 + s**2, rel=2e-4)


def test_constant_models():
    model = ConstantSpatialModel(value="2 sr-1")
    assert model(1 * u.deg, 2 * u.deg) == 2 * u.Unit("sr-1")
    assert model.position is None
    assert model.evaluation_radius is None
    assert "frame" not in model.to_dict()["spatial"]
    flux = ConstantFluxSpatialModel()
    assert flux.to_dict() == {"spatial": {"type": "ConstantFluxSpatialModel", "parameters": []}}


# ------------------------------------------------------------------ position, regions, I/O
def test_position_and_frame():
    model = PointSpatialModel(lon_0="184.557 deg", lat_0="-5.784 deg", frame="galactic")
    icrs = model.position.icrs
    assert icrs.ra.deg == pytest.approx(83.6331, abs=1e-3)
    model.position = SkyCoord(83.63, 22.01, unit="deg", frame="icrs")
    assert model.frame == "galactic"
    assert model.position.icrs.separation(SkyCoord(83.63, 22.01, unit="deg")).deg < 1e-9
    assert model.position_lonlat == pytest.approx(
        (model.lon_0.quantity.to_value("rad"), model.lat_0.quantity.to_value("rad"))
    )
    with pytest.raises(ValueError, match="frame"):
        PointSpatialModel(frame="nowhere")


def test_regions_and_radius():
    from regions import (
        CircleAnnulusSkyRegion,
        CircleSkyRegion,
        EllipseSkyRegion,
        PointSkyRegion,
    )

    assert isinstance(PointSpatialModel().to_region(), PointSkyRegion)
    gauss = GaussianSpatialModel(sigma="0.2 deg")
    assert isinstance(gauss.to_region(), CircleSkyRegion)
    assert gauss.to_region().radius.to_value("deg") == pytest.approx(0.3)
    ell = GaussianSpatialModel(sigma="0.2 deg", e=0.6, phi="30 deg").to_region()
    assert isinstance(ell, EllipseSkyRegion)
    assert ell.height.to_value("deg") == pytest.approx(0.6)
    assert ell.width.to_value("deg") == pytest.approx(0.6 * 0.8)
    shell = ShellSpatialModel(radius="0.5 deg", width="0.1 deg").to_region()
    assert isinstance(shell, CircleAnnulusSkyRegion)
    assert shell.outer_radius.to_value("deg") == pytest.approx(0.6)
    assert gauss.evaluation_radius.to_value("deg") == pytest.approx(1.0)
    assert DiskSpatialModel(r_0="1 deg").evaluation_radius.to_value("deg") == pytest.approx(1.01)
    assert gauss.evaluation_region.radius.to_value("deg") == pytest.approx(1.0)


@pytest.mark.parametrize(
    "model",
    [
        PointSpatialModel(lon_0="1 deg", lat_0="2 deg", frame="galactic"),
        GaussianSpatialModel(sigma="0.3 deg", e=0.5, phi="10 deg"),
        GeneralizedGaussianSpatialModel(eta=0.3),
        DiskSpatialModel(r_0="0.4 deg", edge_width=0.1),
        ShellSpatialModel(),
        Shell2SpatialModel(),
        ConstantSpatialModel(),
        ConstantFluxSpatialModel(),
    ],
    ids=lambda m: m.tag[0],
)
def test_dict_round_trip(model):
    if len(model.parameters):
        model.parameters[0].error = 0.1
    data = model.to_dict()
    new = SpatialModel.from_dict(data)
    assert type(new) is type(model)
    assert new.to_dict() == data
    assert new.frame == model.frame
    np.testing.assert_allclose(new.parameters.values, model.parameters.values)


def test_point_layout_matches_reference_yaml():
    model = PointSpatialModel(lon_0="83.61923928456405 deg", lat_0="22.023736359522253 deg")
    assert model.to_dict() == {
        "spatial": {
            "type": "PointSpatialModel",
            "frame": "icrs",
            "parameters": [
                {"name": "lon_0", "value": 83.61923928456405, "unit": "deg"},
                {"name": "lat_0", "value": 22.023736359522253, "unit": "deg"},
            ],
        }
    }


# ----------------------------------------------------------------- evaluation on geometries
@pytest.mark.parametrize(
    "model",
    [
        GaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", sigma="0.3 deg"),
        GaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", sigma="0.3 deg", e=0.6),
        GeneralizedGaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", r_0="0.2 deg"),
        DiskSpatialModel(lon_0="83.6 deg", lat_0="22 deg", r_0="0.8 deg"),
        ShellSpatialModel(lon_0="83.6 deg", lat_0="22 deg", radius="0.6 deg"),
        Shell2SpatialModel(lon_0="83.6 deg", lat_0="22 deg", r_0="0.8 deg"),
    ],
    ids=lambda m: m.tag[0],
)
def test_integrate_geom_sums_to_one(model):
    geom = make_geom(width=4, binsz=0.02)
    integral = model.integrate_geom(geom)
    assert integral.data.shape == geom.data_shape[-2:]
    assert integral.data.sum() == pytest.approx(1.0, abs=1e-3)


def test_integrate_geom_oversampling_small_source():
    geom = make_geom(width=2, binsz=0.1)
    model = GaussianSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg", sigma="0.01 deg")
    assert model._oversampling(geom, None) > 1
    total = model.integrate_geom(geom).data.sum()
    assert total == pytest.approx(1.0, abs=1e-3)
    # without oversampling the pixel-centre value is far off for this small source
    plain = model.integrate_geom(geom, oversampling_factor=1).data.sum()
    assert abs(plain - 1) > 0.1


def test_gaussian_containment_on_map():
    sigma = 0.2
    geom = make_geom(center=(0, 0), width=3, binsz=0.01, frame="galactic")
    model = GaussianSpatialModel(sigma=f"{sigma} deg", frame="galactic")
    values = model.integrate_geom(geom).data
    sep = geom.to_image().separation(model.position).to_value("deg")
    r68 = sigma * np.sqrt(-2 * np.log(0.32))
    inside = values[sep < r68].sum()
    assert inside == pytest.approx(0.68, abs=0.01)  # pixelised circle boundary
    # containment as function of radius: interpolate the cumulative sum
    order = np.argsort(sep.ravel())
    cumsum = np.cumsum(values.ravel()[order])
    r_found = np.interp(0.68, cumsum, sep.ravel()[order])
    assert r_found == pytest.approx(r68, rel=0.01)


def test_point_integrate_geom():
    geom = make_geom(center=(83.6, 22.0), width=1, binsz=0.02)
    image = geom.to_image()
    coord = image.pix_to_coord((20, 30))
    lon, lat = (np.asarray(getattr(c, "value", c)).item() for c in coord[:2])
    model = PointSpatialModel(lon_0=lon * u.deg, lat_0=lat * u.deg)
    data = model.integrate_geom(geom).data
    assert data.sum() == pytest.approx(1.0, abs=1e-9)
    assert data[30, 20] == pytest.approx(1.0, abs=1e-6)
    # quarter-pixel offset: bilinear weights 0.75 / 0.25 along x
    x, y = 20.25, 30.0
    sky = image.pix_to_coord((x, y))
    lon, lat = (np.asarray(getattr(c, "value", c)).item() for c in sky[:2])
    model.position = SkyCoord(lon, lat, unit="deg", frame="icrs")
    data = model.integrate_geom(geom).data
    assert data.sum() == pytest.approx(1.0, abs=1e-9)
    assert data[30, 20] == pytest.approx(0.75, abs=1e-4)
    assert data[30, 21] == pytest.approx(0.25, abs=1e-4)
    # evaluate_geom is the integral over the pixel solid angle
    dens = model.evaluate_geom(geom)
    sa = image.solid_angle().to_value("sr")
    np.testing.assert_allclose(dens.to_value("sr-1").reshape(sa.shape) * sa, data, atol=1e-12)


def test_point_outside_map_gives_zero():
    geom = make_geom(center=(83.6, 22.0), width=1, binsz=0.02)
    model = PointSpatialModel(lon_0="90 deg", lat_0="22 deg")
    assert model.integrate_geom(geom).data.sum() == 0


def test_galactic_model_on_icrs_geom():
    geom = make_geom(center=(83.6, 22.0), width=2, binsz=0.02, frame="icrs")
    pos = SkyCoord(83.7, 21.9, unit="deg", frame="icrs")
    gal = GaussianSpatialModel(
        lon_0=pos.galactic.l, lat_0=pos.galactic.b, sigma="0.2 deg", frame="galactic"
    )
    icrs = GaussianSpatialModel(lon_0=pos.ra, lat_0=pos.dec, sigma="0.2 deg", frame="icrs")
    np.testing.assert_allclose(
        gal.evaluate_geom(geom).value, icrs.evaluate_geom(geom).value, rtol=1e-7
    )


def test_evaluate_geom_broadcasts_on_cube():
    from gammapipe.maps import MapAxis

    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV", name="energy_true")
    geom = make_geom(width=1, binsz=0.05, axes=[axis])
    model = GaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", sigma="0.2 deg")
    values = model.evaluate_geom(geom)
    assert values.shape == (1, 20, 20)
    assert model.integrate_geom(geom).data.shape == (20, 20)


def test_template_spatial_model(tmp_path):
    from gammapipe.maps import Map, MapAxis

    geom = make_geom(center=(83.6, 22.0), width=2, binsz=0.02)
    gauss = GaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", sigma="0.2 deg")
    m = Map.from_geom(geom.to_image(), data=3.0 * gauss.evaluate_geom(geom).value.reshape(100, 100))
    template = TemplateSpatialModel(m, filename=tmp_path / "template.fits")
    assert template.map.unit == u.Unit("sr-1")
    assert template.integrate_geom(geom).data.sum() == pytest.approx(1.0, rel=1e-6)
    # at a pixel centre the template reproduces the model (normalised on the map)
    centre = geom.to_image().pix_to_coord((50, 50))
    lon, lat = (np.asarray(getattr(c, "value", c)).item() for c in centre)
    value = template(lon * u.deg, lat * u.deg)
    peak = gauss(lon * u.deg, lat * u.deg)
    assert value.to_value("sr-1") == pytest.approx(peak.value, rel=1e-4)
    assert template.position.separation(geom.center_skydir).deg < 1e-9
    template.write(overwrite=True)
    data = template.to_dict()
    assert data["spatial"]["filename"] == str(tmp_path / "template.fits")
    new = SpatialModel.from_dict(data)
    np.testing.assert_allclose(new.map.data, template.map.data, rtol=1e-6)
    # energy-dependent template: cube normalised per energy plane
    axis = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV", name="energy_true")
    cube = Map.from_geom(geom.to_image().to_cube([axis]))
    cube.data[0] = m.data
    cube.data[1] = 2 * m.data
    tcube = TemplateSpatialModel(cube)
    assert tcube.is_energy_dependent
    integral = tcube.integrate_geom(geom.to_image().to_cube([axis]))
    np.testing.assert_allclose(integral.data.sum(axis=(1, 2)), [1, 1], rtol=1e-6)
    # linear in log(energy) between the planes, constant outside
    e_mid = np.sqrt(axis.center[0] * axis.center[1])
    energies = u.Quantity([0.5 * axis.center[0], e_mid, 2 * axis.center[1]])
    values = tcube(lon * u.deg, lat * u.deg, energies).to_value("sr-1")
    np.testing.assert_allclose(values, [peak.value] * 3, rtol=1e-4)
    with pytest.raises(ValueError, match="energy"):
        tcube(lon * u.deg, lat * u.deg)


def test_plot(tmp_path):
    import matplotlib.pyplot as plt

    model = GaussianSpatialModel(lon_0="83.6 deg", lat_0="22 deg", sigma="0.2 deg", e=0.5)
    model.lon_0.error = 0.01
    model.lat_0.error = 0.02
    ax = model.plot(add_cbar=True)
    model.plot_error(ax=ax)
    err = model.position_error
    assert err.height.to_value("deg") == pytest.approx(0.04)
    assert err.width.to_value("deg") == pytest.approx(0.02 * np.cos(np.deg2rad(22)))
    plt.savefig(tmp_path / "model.png")
    plt.close("all")
    assert (tmp_path / "model.png").stat().st_size > 0


def test_integrate_region_geom():
    from regions import CircleSkyRegion

    from gammapipe.maps import RegionGeom

    center = SkyCoord(83.63, 22.01, unit="deg")
    region = CircleSkyRegion(center=center, radius=0.3 * u.deg)
    geom = RegionGeom.create(region)
    gauss = GaussianSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg", sigma="0.2 deg")
    frac = gauss.integrate_geom(geom).data
    assert frac.shape == (1, 1)
    assert frac.item() == pytest.approx(1 - np.exp(-0.5 * 1.5**2), abs=3e-3)
    point = PointSpatialModel(lon_0="83.7 deg", lat_0="22.0 deg")
    assert point.integrate_geom(geom).data.item() == pytest.approx(1.0, abs=1e-9)
    point.lon_0.value = 84.5
    assert point.integrate_geom(geom).data.item() == 0
    # point-like region: everything "in" (containment is an IRF matter)
    from regions import PointSkyRegion

    point_geom = RegionGeom.create(PointSkyRegion(center))
    assert gauss.integrate_geom(point_geom).data.item() == 1.0


def test_constant_models_on_geom():
    geom = make_geom(center=(0, 0), width=(360, 180), binsz=2, proj="AIT")
    flux = ConstantFluxSpatialModel()
    assert flux.integrate_geom(geom).data.sum() == pytest.approx(1.0, rel=1e-12)
    small = make_geom(width=2, binsz=0.1)
    dens = flux.evaluate_geom(small).to_value("sr-1")
    total = small.solid_angle().to_value("sr").sum()
    np.testing.assert_allclose(dens, 1 / total, rtol=1e-12)
    const = ConstantSpatialModel(value="3 sr-1")
    np.testing.assert_allclose(
        const.integrate_geom(small).data, 3 * small.solid_angle().to_value("sr"), rtol=1e-12
    )
