"""IRF maps of gammapipe.irf (PSFMap, PSFKernel, EDispKernelMap, EDispMap) against analytic
expectations."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammapipe.irf import EDispKernelMap, EDispMap, PSFKernel, PSFMap
from gammapipe.maps import MapAxis, WcsGeom
from gammapipe.utils.errors import GeometryError

E_TRUE = MapAxis.from_energy_bounds(0.1, 100, 15, unit="TeV", name="energy_true")
E_RECO = MapAxis.from_energy_bounds(0.1, 100, 15, unit="TeV")


def gauss_psf(sigma=0.1):
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.5, width=2.0, frame="galactic")
    return PSFMap.from_gauss(E_TRUE, sigma=sigma * u.deg, geom=geom)


def test_psf_gauss_containment_radius():
    psf = gauss_psf(0.1)
    r68 = psf.containment_radius(0.68, [1, 10] * u.TeV)
    analytic = 0.1 * np.sqrt(-2 * np.log(1 - 0.68))
    assert np.allclose(r68.to_value("deg"), analytic, atol=1e-3)
    # radii are quantised to the centres of the rad axis upsampled 20 times
    frac = (r68.to_value("deg") - 0.00025) / 0.0005
    assert np.allclose(frac, np.round(frac), atol=1e-6)
    r95 = psf.containment_radius(0.95, 1 * u.TeV)
    assert r95.to_value("deg") == pytest.approx(0.1 * np.sqrt(-2 * np.log(0.05)), abs=2e-3)
    c = psf.containment(rad=[0.1, 0.6] * u.deg, energy_true=1 * u.TeV).to_value("")
    assert c[0] == pytest.approx(1 - np.exp(-0.5), abs=2e-3)
    assert c[1] == pytest.approx(1.0, abs=2e-3)


def test_psf_energy_dependent_sigma_interpolated():
    sigma = np.linspace(0.05, 0.2, E_TRUE.nbin) * u.deg
    psf = PSFMap.from_gauss(E_TRUE, sigma=sigma)
    r = psf.containment_radius(0.68, E_TRUE.center[[2, 10]])
    assert np.allclose(r.to_value("deg"), 1.5096 * sigma.value[[2, 10]], atol=1.5e-3)


def test_psf_kernel_normalised_with_gauss_width():
    psf = gauss_psf(0.1)
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.02, width=2.0, frame="galactic",
                          axes=[E_TRUE])
    kernel = psf.get_psf_kernel(geom)
    assert isinstance(kernel, PSFKernel)
    ny, nx = kernel.data.shape[-2:]
    assert ny % 2 == 1 and nx % 2 == 1
    assert np.allclose(kernel.data.sum(axis=(1, 2)), 1.0)
    # radius: 99.9% containment (0.3717 deg analytic, 0.36225 deg on the 0.01 deg rad
    # bins) -> width 0.7245 deg = 36.2 pixels of 0.02 deg, rounded up to odd: 37
    assert psf.containment_radius(0.999, 1 * u.TeV).to_value("deg") == pytest.approx(
        0.36225)
    assert (ny, nx) == (37, 37)
    k = kernel.data[5]
    x = (np.arange(nx) - nx // 2) * 0.02
    var_x = (k.sum(axis=0) * x**2).sum()
    assert var_x == pytest.approx(0.1**2 + 0.02**2 / 12, rel=0.03)
    small = psf.get_psf_kernel(geom, max_radius=0.1 * u.deg)
    assert small.data.shape[-1] == 11
    image = kernel.to_image()
    assert image.data.sum() == pytest.approx(1.0)
    gk = PSFKernel.from_gauss(geom, sigma=0.1 * u.deg)
    assert np.allclose(gk.data.sum(axis=(-2, -1)), 1.0)


def test_psf_map_io_cutout_and_sampling(tmp_path):
    psf = gauss_psf(0.1)
    fn = tmp_path / "psf.fits"
    psf.write(fn)
    back = PSFMap.read(fn)
    assert back.is_allclose(psf)
    assert np.array_equal(back.psf_map.data, psf.psf_map.data)
    cut = psf.cutout(SkyCoord(0, 0, unit="deg", frame="galactic"), width=0.5 * u.deg)
    assert cut.psf_map.data.shape[-2:] == (3, 3)
    coords = {"lon": np.zeros(20000), "lat": np.zeros(20000),
              "energy_true": np.full(20000, 1.0) * u.TeV}
    sampled = psf.sample_coord(coords, random_state=1)
    lat = np.asarray(sampled["lat"])
    lon = (np.asarray(sampled["lon"]) + 180) % 360 - 180
    r2 = np.mean(lon**2 + lat**2)
    assert r2 == pytest.approx(2 * 0.1**2, rel=0.05)


def test_edisp_kernel_map_diagonal():
    emap = EDispKernelMap.from_diagonal_response(E_RECO, E_TRUE)
    kernel = emap.get_edisp_kernel()
    assert np.allclose(kernel.data, np.eye(15))
    coarse = E_RECO.downsample(3)
    k2 = emap.get_edisp_kernel(energy_axis=coarse)
    assert k2.data.shape == (15, 5)
    assert np.allclose(k2.data.sum(axis=1), 1.0)
    assert k2.data[4, 1] == 1.0
    res = emap.resample_energy_axis(coarse)
    assert res.edisp_map.data.shape == (15, 5, 1, 1)
    image = emap.to_image()
    assert np.allclose(image.edisp_map.data, 1.0)
    weights = np.ones((15, 1, 1))
    weights[:7] = 0
    img_w = emap.to_image(weights=weights)
    assert np.allclose(img_w.edisp_map.data[:7, 0, 0, 0], 0)
    assert np.allclose(img_w.edisp_map.data[7:, 0, 0, 0], 1)
    sampled = emap.sample_coord({"lon": np.zeros(500), "lat": np.zeros(500),
                                 "energy_true": E_TRUE.center[np.arange(500) % 15]},
                                random_state=0)
    idx = E_RECO.coord_to_idx(sampled["energy"])
    assert np.array_equal(idx, np.arange(500) % 15)


def test_edisp_map_uniform_migra_exact_integral():
    migra = MapAxis.from_bounds(0.2, 5, nbin=48, name="migra", node_type="edges")
    emap = EDispMap.from_diagonal_response(E_TRUE, migra)
    assert np.allclose(emap.get_edisp_kernel(energy_axis=E_RECO).data, np.eye(15))
    # uniform pdf on [0.8, 1.2]: probability of a reco bin = 2.5 x overlap length
    edges = migra.edges.value
    pdf = np.where((edges[:-1] >= 0.8 - 1e-9) & (edges[1:] <= 1.2 + 1e-9), 2.5, 0.0)
    emap.edisp_map.data[...] = pdf[None, :, None, None]
    kernel = emap.get_edisp_kernel(energy_axis=E_RECO)
    et = E_TRUE.center.to_value("TeV")
    er = E_RECO.edges.to_value("TeV")
    lo = np.clip(er[None, :-1] / et[:, None], 0.8, 1.2)
    hi = np.clip(er[None, 1:] / et[:, None], 0.8, 1.2)
    assert np.allclose(kernel.data, 2.5 * (hi - lo), atol=1e-6)
    kmap = emap.to_edisp_kernel_map(E_RECO)
    assert isinstance(kmap, EDispKernelMap)
    assert np.allclose(kmap.get_edisp_kernel().data, kernel.data, atol=1e-6)
    sampled = emap.sample_coord({"lon": [0.0] * 1000, "lat": [0.0] * 1000,
                                 "energy_true": np.ones(1000) * u.TeV}, random_state=3)
    ratio = sampled["energy"].to_value("TeV")
    assert ratio.min() >= 0.8 - 1e-9 and ratio.max() <= 1.2 + 1e-9


def test_irf_map_stack_exposure_weighted_and_errors():
    a = gauss_psf(0.1)
    b = gauss_psf(0.2)
    b.exposure_map.data[...] = 3.0
    expected = (a.psf_map.data * 1.0 + b.psf_map.data * 3.0) / 4.0
    a.stack(b)
    assert np.allclose(a.psf_map.data, expected, rtol=1e-6)
    assert np.allclose(a.exposure_map.data, 4.0)
    with pytest.raises(GeometryError, match="cannot stack"):
        a.stack(EDispKernelMap.from_diagonal_response(E_RECO, E_TRUE))
    other_axis = MapAxis.from_energy_bounds(0.1, 100, 10, unit="TeV", name="energy_true")
    with pytest.raises(GeometryError, match="axes differ"):
        a.stack(PSFMap.from_gauss(other_axis, geom=a.geom.to_image()))


def test_psf_map_rejects_wrong_axes():
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.5, width=1.0, axes=[E_TRUE])
    with pytest.raises(GeometryError, match="rad"):
        PSFMap.from_geom(geom)


def test_irf_map_downsample_and_region():
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.5, width=2.0, frame="galactic")
    psf = PSFMap.from_gauss(E_TRUE, sigma=0.1 * u.deg, geom=geom)
    psf.psf_map.data[..., :, 0] *= 3.0  # first column: 3x the PSF values
    psf.exposure_map.data[..., :, 0] = 3.0  # ... with 3x the exposure
    down = psf.downsample(2)
    assert down.psf_map.data.shape[-2:] == (2, 2)
    base = gauss_psf(0.1).psf_map.data[..., 0, 0]
    # exposure-weighted mean of 2 pixels (3 x value, exposure 3) and 2 pixels (value, 1)
    assert np.allclose(down.psf_map.data[..., 0, 0], base * (2 * 9 + 2 * 1) / 8, rtol=1e-6)
    assert np.allclose(down.exposure_map.data[..., 0, 0], 8.0)
    region = psf.to_region_nd_map(SkyCoord(0.2, 0.2, unit="deg", frame="galactic"))
    assert type(region.geom).__name__ == "RegionGeom"
    assert region.psf_map.data.shape == (15, 66, 1, 1)
    assert np.allclose(region.psf_map.data[..., 0, 0], psf.psf_map.data[..., 2, 1])
    assert region.containment_radius(0.68, 1 * u.TeV).to_value("deg") == pytest.approx(
        psf.containment_radius(0.68, 1 * u.TeV,
                               position=SkyCoord(0.25, 0.25, unit="deg", frame="galactic")
                               ).to_value("deg"))


def test_sample_coord_accepts_map_coord_in_other_frame():
    from gammapipe.maps import MapCoord

    psf = gauss_psf(0.05)
    gal = SkyCoord(np.zeros(2000), np.zeros(2000), unit="deg", frame="galactic")
    coords = MapCoord.create({"skycoord": gal.icrs, "energy_true": np.ones(2000) * u.TeV})
    sampled = psf.sample_coord(coords, random_state=2)
    assert sampled.frame == "galactic"
    sep = SkyCoord(sampled.lon, sampled.lat, unit="deg", frame="galactic").separation(
        SkyCoord(0, 0, unit="deg", frame="galactic")).deg
    assert np.sqrt(np.mean(sep**2)) == pytest.approx(np.sqrt(2) * 0.05, rel=0.05)
