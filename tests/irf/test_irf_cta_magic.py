"""IRFs of the CTA 1DC (South_z20_50h) and MAGIC point-like (RAD_MAX) test files."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from gammapipe.irf import (
    Background3D,
    EffectiveAreaTable2D,
    EnergyDependentMultiGaussPSF,
    EnergyDispersion2D,
    RadMax2D,
    load_irf_hdu,
)


@pytest.fixture(scope="module")
def cta_file(data_dir):
    path = data_dir / "cta-1dc" / "caldb" / "data" / "cta" / "1dc" / "bcf" / "South_z20_50h"
    path = path / "irf_file.fits"
    if not path.exists():
        pytest.skip(f"CTA 1DC IRF not found: {path}")
    return path


@pytest.fixture(scope="module")
def magic_file(data_dir):
    folder = data_dir / "magic" / "rad_max" / "data"
    files = sorted(folder.glob("*DL3*.fits*")) if folder.exists() else []
    if not files:
        pytest.skip(f"MAGIC RAD_MAX files not found in {folder}")
    return files[0]


def test_cta_aeff_edisp(cta_file):
    aeff = load_irf_hdu(cta_file, "EFFECTIVE AREA")
    assert isinstance(aeff, EffectiveAreaTable2D)
    raw = fits.getdata(cta_file, "EFFECTIVE AREA")["EFFAREA"][0]
    assert_allclose(aeff.data, raw.T)
    assert aeff.evaluate(energy_true=1 * u.TeV, offset=1 * u.deg).to_value(u.m**2) > 1e5
    edisp = load_irf_hdu(cta_file, "ENERGY DISPERSION")
    assert isinstance(edisp, EnergyDispersion2D)
    assert edisp.axes.names == ["energy_true", "migra", "offset"]
    assert edisp.data.shape == (500, 300, 6)
    kernel = edisp.to_edisp_kernel(offset=1 * u.deg)
    e_t = kernel.axes["energy_true"].center.to_value(u.TeV)
    sums = kernel.data.sum(axis=1)
    inside = (e_t > 0.1) & (e_t < 50)
    assert_allclose(sums[inside], 1, atol=1e-6)


def test_cta_psf_3gauss_normalised(cta_file):
    psf = load_irf_hdu(cta_file, "POINT SPREAD FUNCTION")
    assert isinstance(psf, EnergyDependentMultiGaussPSF)
    e = psf.axes["energy_true"].center
    o = psf.axes["offset"].center
    filled = psf.data["sigma_1"] > 0
    # numerical integral of the evaluated dP/dOmega: 1 within 1e-3
    rad = np.linspace(0, 3, 30001) * u.deg
    for i, j in np.argwhere(filled)[::7]:
        pdf = psf.evaluate(rad=rad, energy_true=e[i], offset=o[j]).to_value(u.sr**-1)
        r = rad.to_value(u.rad)
        integral = np.trapezoid(2 * np.pi * r * pdf, r)
        assert integral == pytest.approx(1, abs=1e-3)
    total = psf.containment(rad=5 * u.deg, energy_true=e[:, None], offset=o[None, :]).value
    assert_allclose(total[filled], 1, atol=1e-9)
    # single-Gaussian entries: dP/dOmega(0) = 1 / (2 pi sigma^2)
    raw = fits.getdata(cta_file, "POINT SPREAD FUNCTION")
    sigma = raw["SIGMA_1"][0][2, 10]
    value = psf.evaluate(rad=0 * u.deg, energy_true=e[10], offset=o[2]).to_value(u.deg**-2)
    if raw["AMPL_2"][0][2, 10] == 0 and raw["AMPL_3"][0][2, 10] == 0:
        assert value == pytest.approx(1 / (2 * np.pi * sigma**2), rel=1e-6)
        # containment radius of a Gaussian: sigma sqrt(-2 ln(1 - f))
        r68 = psf.containment_radius(0.68, energy_true=e[10], offset=o[2]).to_value(u.deg)
        assert r68 == pytest.approx(sigma * np.sqrt(-2 * np.log(0.32)), rel=1e-4)
    # to_psf3d tabulates the same profile
    psf3d = psf.to_psf3d()
    assert psf3d.axes.names == ["energy_true", "offset", "rad"]
    rad_c = psf3d.axes["rad"].center
    assert_allclose(
        psf3d.evaluate(energy_true=e[10], offset=o[2], rad=rad_c).value,
        psf.evaluate(rad=rad_c, energy_true=e[10], offset=o[2]).value,
        rtol=1e-10,
    )


def test_cta_bkg_3d(cta_file):
    bkg = load_irf_hdu(cta_file, "BACKGROUND")
    assert isinstance(bkg, Background3D)
    assert bkg.unit == u.Unit("s-1 MeV-1 sr-1")  # "1/s/MeV/sr" in the file
    raw = fits.getdata(cta_file, "BACKGROUND")["BGD"][0]
    assert bkg.data.shape == (21, 36, 36)
    assert_allclose(bkg.data, raw)
    axes = bkg.axes
    value = bkg.evaluate(
        energy=axes["energy"].center[8],
        fov_lon=axes["fov_lon"].center[3],
        fov_lat=axes["fov_lat"].center[20],
    )
    assert value.value == pytest.approx(raw[8, 3, 20], rel=1e-12)
    two_d = bkg.to_2d()
    assert two_d.axes.names == ["energy", "offset"]
    # radial average near the centre is close to the central 3D values
    centre = bkg.evaluate(
        energy=axes["energy"].center[8], fov_lon=0.2 * u.deg, fov_lat=0 * u.deg
    ).value
    assert two_d.evaluate(energy=axes["energy"].center[8], offset=0.2 * u.deg).value == (
        pytest.approx(centre, rel=0.2)
    )


def test_magic_point_like(magic_file):
    rad_max = RadMax2D.read(magic_file, hdu="RAD_MAX")
    raw = fits.getdata(magic_file, "RAD_MAX")["RAD_MAX"][0]
    assert rad_max.axes.names == ["energy", "offset"]
    assert rad_max.unit == u.deg
    assert_allclose(rad_max.data[:, 0], np.ravel(raw))
    values = rad_max.evaluate(
        energy=rad_max.axes["energy"].center, offset=rad_max.axes["offset"].center[0]
    )
    assert_allclose(values.value, np.ravel(raw))
    assert rad_max.is_pointlike
    aeff = load_irf_hdu(magic_file, "EFFECTIVE AREA")
    assert isinstance(aeff, EffectiveAreaTable2D) and aeff.is_pointlike
    assert aeff.meta["LO_THRES"] == pytest.approx(0.08576008)
    value = aeff.evaluate(energy_true=1 * u.TeV, offset=0.4 * u.deg).to_value(u.m**2)
    assert value == pytest.approx(93296.97118333, rel=1e-6)  # gammapy 2.1 value
    edisp = load_irf_hdu(magic_file, "ENERGY DISPERSION")
    assert edisp.is_pointlike
    kernel = edisp.to_edisp_kernel(offset=0.4 * u.deg)
    assert kernel.data.shape == (28, 28)
    assert np.all(kernel.data.sum(axis=1) <= 1 + 1e-9)


def test_rad_max_from_irf(magic_file):
    aeff = EffectiveAreaTable2D.read(magic_file, hdu="EFFECTIVE AREA")
    aeff.meta["RAD_MAX"] = 0.2
    rad_max = RadMax2D.from_irf(aeff)
    assert rad_max.is_fixed_rad_max
    assert rad_max.evaluate(energy=1 * u.TeV, offset=0.4 * u.deg).value == pytest.approx(0.2)
    del aeff.meta["RAD_MAX"]
    with pytest.raises(Exception, match="RAD_MAX"):
        RadMax2D.from_irf(aeff)
