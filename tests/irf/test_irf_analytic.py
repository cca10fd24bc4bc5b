"""IRFs built from analytic functions: GADF files written with astropy, read back and
evaluated against the analytic truth; simulation helpers (from_gauss, parametrisations)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from gammapipe.irf import (
    Background2D,
    Background3D,
    EDispKernel,
    EffectiveAreaTable2D,
    EnergyDispersion2D,
    FoVAlignment,
    PSFKing,
    load_irf_hdu,
)
from gammapipe.maps import MapAxis


def _col(name, values, unit=None, dim=None):
    values = np.asarray(values, dtype=np.float32)
    fmt = f"{values.size}E"
    return fits.Column(name=name, format=fmt, unit=unit, array=values.ravel()[None, :], dim=dim)


def _write(path, columns, hduclas2, hduclas4, extname, extra=None):
    hdu = fits.BinTableHDU.from_columns(columns, name=extname)
    for key, value in {
        "HDUCLASS": "GADF",
        "HDUCLAS1": "RESPONSE",
        "HDUCLAS2": hduclas2,
        "HDUCLAS3": "FULL-ENCLOSURE",
        "HDUCLAS4": hduclas4,
        **(extra or {}),
    }.items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


E_EDGES = np.geomspace(0.1, 100, 13)
O_EDGES = np.linspace(0, 3, 7)


def _king_params(e, o):
    sigma = 0.05 + 0.1 / np.sqrt(e) + 0.01 * o
    gamma = 2.0 + 0.5 * np.log10(e) ** 2 + 0.1 * o
    return sigma, gamma


@pytest.fixture
def king_file(tmp_path):
    e = np.sqrt(E_EDGES[:-1] * E_EDGES[1:])
    o = 0.5 * (O_EDGES[:-1] + O_EDGES[1:])
    sigma, gamma = _king_params(e[None, :], o[:, None])  # numpy (THETA, ENERG)
    dim = f"({e.size},{o.size})"
    columns = [
        _col("ENERG_LO", E_EDGES[:-1], "TeV"),
        _col("ENERG_HI", E_EDGES[1:], "TeV"),
        _col("THETA_LO", O_EDGES[:-1], "deg"),
        _col("THETA_HI", O_EDGES[1:], "deg"),
        _col("GAMMA", gamma, None, dim),
        _col("SIGMA", sigma, "deg", dim),
    ]
    return _write(tmp_path / "king.fits", columns, "RPSF", "PSF_KING", "PSF_KING")


def test_king_read_evaluate_normalisation(king_file):
    psf = load_irf_hdu(king_file, "PSF_KING")
    assert isinstance(psf, PSFKing)
    e_axis, o_axis = psf.axes["energy_true"], psf.axes["offset"]
    e, o = e_axis.center[4], o_axis.center[2]
    sigma, gamma = _king_params(e.value, o.value)
    rad = np.linspace(0, 10, 200001) * u.deg
    r = rad.value
    truth = (
        (1 - 1 / gamma) / (2 * np.pi * sigma**2) * (1 + r**2 / (2 * gamma * sigma**2)) ** (-gamma)
    )
    value = psf.evaluate(rad=rad, energy_true=e, offset=o).to_value(u.deg**-2)
    assert_allclose(value, truth, rtol=1e-6)  # float32 parameters in the file
    # normalisation to 1 (small-angle): numerical integral out to large radius + tail
    pdf = psf.evaluate(rad=rad, energy_true=e, offset=o).to_value(u.sr**-1)
    integral = np.trapezoid(2 * np.pi * rad.to_value(u.rad) * pdf, rad.to_value(u.rad))
    tail = (1 + 100 / (2 * gamma * sigma**2)) ** (1 - gamma)
    assert integral + tail == pytest.approx(1, abs=1e-3)
    # analytic containment and its inverse
    c = psf.containment(rad=0.2 * u.deg, energy_true=e, offset=o).value
    assert c == pytest.approx(1 - (1 + 0.04 / (2 * gamma * sigma**2)) ** (1 - gamma), rel=1e-5)
    r68 = psf.containment_radius(0.68, energy_true=e, offset=o).to_value(u.deg)
    expected = sigma * np.sqrt(2 * gamma * ((1 - 0.68) ** (1 / (1 - gamma)) - 1))
    assert r68 == pytest.approx(expected, rel=1e-4)
    # outside the table: 0
    assert psf.evaluate(rad=0 * u.deg, energy_true=500 * u.TeV, offset=o).value == 0


def test_king_to_psf3d_containment(king_file):
    psf = PSFKing.read(king_file)
    rad_axis = MapAxis.from_edges(np.linspace(0, 2, 401), unit="deg", name="rad")
    psf3d = psf.to_psf3d(rad_axis)
    e, o = psf.axes["energy_true"].center[6], psf.axes["offset"].center[1]
    for rad in [0.05, 0.1, 0.3] * u.deg:
        assert psf3d.containment(rad=rad, energy_true=e, offset=o).value == pytest.approx(
            psf.containment(rad=rad, energy_true=e, offset=o).value, abs=2e-3
        )


def _bkg_rate(e, off):
    return 1e-4 * e**-2.5 * np.exp(-0.5 * (off / 1.2) ** 2)


def test_background2d_file(tmp_path):
    e = np.sqrt(E_EDGES[:-1] * E_EDGES[1:])
    o = 0.5 * (O_EDGES[:-1] + O_EDGES[1:])
    data = _bkg_rate(e[None, :], o[:, None])  # numpy (THETA, ENERG): TDIM (ENERG, THETA)
    columns = [
        _col("ENERG_LO", E_EDGES[:-1], "TeV"),
        _col("ENERG_HI", E_EDGES[1:], "TeV"),
        _col("THETA_LO", O_EDGES[:-1], "deg"),
        _col("THETA_HI", O_EDGES[1:], "deg"),
        _col("BKG", data, "s-1 MeV-1 sr-1", f"({e.size},{o.size})"),
    ]
    path = _write(tmp_path / "bkg2d.fits", columns, "BKG", "BKG_2D", "BACKGROUND")
    bkg = load_irf_hdu(path, "BACKGROUND")
    assert isinstance(bkg, Background2D)
    assert bkg.data.shape == (12, 6)
    # at nodes: exact (float32); between energy nodes: log-log interpolation of a power
    # law is exact in energy
    assert_allclose(
        bkg.evaluate(energy=e[:, None] * u.TeV, offset=o[None, :] * u.deg).value, data.T, rtol=1e-6
    )
    energy = np.geomspace(e[0], e[-1], 37)
    value = bkg.evaluate(energy=energy * u.TeV, offset=o[2] * u.deg).value
    assert_allclose(value, _bkg_rate(energy, o[2]), rtol=1e-5)
    # fov_lon / fov_lat are converted to offset
    value = bkg.evaluate(energy=e[3] * u.TeV, fov_lon=0.6 * u.deg, fov_lat=0.8 * u.deg)
    assert value.value == pytest.approx(
        bkg.evaluate(energy=e[3] * u.TeV, offset=1.0 * u.deg).value, rel=1e-12
    )
    # integral over energy bins of a power law
    edges = np.geomspace(1, 10, 4) * u.TeV
    integral = bkg.integrate_log_log(axis_name="energy", energy=edges, offset=o[1] * u.deg)
    norm = _bkg_rate(1.0, o[1]) * 1e6  # per TeV
    expected = norm / 1.5 * (edges[:-1].value ** -1.5 - edges[1:].value ** -1.5)
    assert_allclose(integral.to_value("s-1 sr-1"), expected, rtol=1e-5)
    # 3D conversion evaluates the radial profile
    bkg3d = bkg.to_3d()
    lon = bkg3d.axes["fov_lon"].center[7]
    lat = bkg3d.axes["fov_lat"].center[4]
    assert bkg3d.evaluate(energy=e[5] * u.TeV, fov_lon=lon, fov_lat=lat).value == (
        pytest.approx(bkg.evaluate(energy=e[5] * u.TeV, offset=np.hypot(lon, lat)).value, rel=1e-9)
    )


def test_background3d_altaz_file(tmp_path):
    e = np.sqrt(E_EDGES[:-1] * E_EDGES[1:])
    lon_edges = np.linspace(-3, 3, 13)
    lat_edges = np.linspace(-2, 2, 9)  # non-square grid
    lon = 0.5 * (lon_edges[:-1] + lon_edges[1:])
    lat = 0.5 * (lat_edges[:-1] + lat_edges[1:])

    def rate(e, lon, lat):  # asymmetric in lon / lat
        return 1e-4 * e**-2.7 * np.exp(-0.5 * ((lon - 0.3) / 1.5) ** 2 - 0.5 * (lat / 0.8) ** 2)

    # numpy (ENERG, DETX, DETY) layout of the existing IACT files
    data = rate(e[:, None, None], lon[None, :, None], lat[None, None, :])
    columns = [
        _col("DETX_LO", lon_edges[:-1], "deg"),
        _col("DETX_HI", lon_edges[1:], "deg"),
        _col("DETY_LO", lat_edges[:-1], "deg"),
        _col("DETY_HI", lat_edges[1:], "deg"),
        _col("ENERG_LO", E_EDGES[:-1], "TeV"),
        _col("ENERG_HI", E_EDGES[1:], "TeV"),
        _col("BKG", data, "s-1 MeV-1 sr-1", f"({lat.size},{lon.size},{e.size})"),
    ]
    path = _write(
        tmp_path / "bkg3d.fits", columns, "BKG", "BKG_3D", "BACKGROUND", extra={"FOVALIGN": "ALTAZ"}
    )
    bkg = Background3D.read(path)
    assert bkg.fov_alignment is FoVAlignment.ALTAZ
    assert bkg.data.shape == (12, 12, 8)
    assert_allclose(
        bkg.evaluate(
            energy=e[:, None, None] * u.TeV,
            fov_lon=lon[None, :, None] * u.deg,
            fov_lat=lat[None, None, :] * u.deg,
        ).value,
        data,
        rtol=1e-6,
    )
    # between nodes: log-interpolation of a Gaussian in lon is exact up to the quadratic
    x = np.linspace(lon[2], lon[-3], 21)
    value = bkg.evaluate(energy=e[4] * u.TeV, fov_lon=x * u.deg, fov_lat=lat[3] * u.deg).value
    assert_allclose(value, rate(e[4], x, lat[3]), rtol=0.05)
    # the strict column-order layout (ENERG, DETY, DETX) of a non-square grid also reads
    columns[-1] = _col(
        "BKG", np.transpose(data, (0, 2, 1)), "s-1 MeV-1 sr-1", f"({lon.size},{lat.size},{e.size})"
    )
    path2 = _write(tmp_path / "bkg3d_strict.fits", columns, "BKG", "BKG_3D", "BACKGROUND")
    assert_allclose(Background3D.read(path2).data, bkg.data)
    # round trip keeps the alignment
    bkg.write(tmp_path / "out.fits")
    back = Background3D.read(tmp_path / "out.fits")
    assert back.fov_alignment is FoVAlignment.ALTAZ
    assert back.is_allclose(bkg, rtol=1e-12)


def test_background_from_parametrization():
    bkg = Background3D.from_parametrization(index=2.0, sigma="1 deg")
    e = bkg.axes["energy"].center[3]
    value = bkg.evaluate(energy=e, fov_lon=0.5 * u.deg, fov_lat=0 * u.deg)
    base = bkg.evaluate(
        energy=e, fov_lon=bkg.axes["fov_lon"].center[15], fov_lat=bkg.axes["fov_lat"].center[15]
    )
    assert value.value > 0 and base.value > 0
    bkg2 = Background2D.from_parametrization(index=2.0, sigma="1 deg")
    off = bkg2.axes["offset"].center[4]
    expected = (
        1e-4 * (bkg2.axes["energy"].center[2].to_value(u.TeV)) ** -2 * np.exp(-0.5 * off.value**2)
    )
    assert bkg2.data[2, 4] == pytest.approx(expected, rel=1e-12)


def test_edisp_from_gauss_and_kernel():
    e_true = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=30, name="energy_true")
    migra = MapAxis.from_bounds(0.2, 5, nbin=480, name="migra")
    offset = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    edisp = EnergyDispersion2D.from_gauss(e_true, migra, offset, bias=0.05, sigma=0.1)
    integral = (edisp.data * migra.bin_width.value[None, :, None]).sum(axis=1)
    assert_allclose(integral, 1, atol=1e-6)
    e_reco = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=60, name="energy")
    kernel = edisp.to_edisp_kernel(0.5 * u.deg, energy_axis=e_reco)
    direct = EDispKernel.from_gauss(e_true, e_reco, sigma=0.1, bias=0.05)
    inner = slice(2, -2)
    assert_allclose(kernel.data[inner], direct.data[inner], atol=2e-3)
    # mean reco energy ~ (1 + bias) E_true, resolution ~ sigma
    mid = e_true.center[15]
    assert direct.get_bias(mid) == pytest.approx(0.05, abs=0.02)
    assert direct.get_resolution(mid) == pytest.approx(0.1, abs=0.03)


def test_edisp_kernel_diagonal_and_image():
    e_true = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=6, name="energy_true")
    kernel = EDispKernel.from_diagonal_response(e_true)
    assert_allclose(kernel.data, np.eye(6), atol=1e-12)
    e_reco = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3, name="energy")
    coarse = EDispKernel.from_diagonal_response(e_true, e_reco)
    assert_allclose(coarse.data.sum(axis=1), 1)
    assert_allclose(coarse.data[:2, 0], 1)
    image = kernel.to_image()
    assert image.data.shape == (6, 1)
    assert_allclose(image.data[:, 0], 1)
    safe = kernel.pdf_in_safe_range(lo_threshold=2.1 * u.TeV, hi_threshold=10 * u.TeV)
    edges = kernel.axes["energy"].edges.value
    assert np.all(safe[:, edges[:-1] < 2.1] == 0)
    assert safe[-1, -1] == 1


def test_aeff_from_parametrization():
    aeff = EffectiveAreaTable2D.from_parametrization(instrument="HESS")
    e = aeff.axes["energy_true"].center[10]
    energy_mev = e.to_value(u.MeV)
    expected = 6.85e9 * energy_mev**-0.0891 * np.exp(-5e5 / energy_mev) * 1e-4  # m2
    assert aeff.data[10, 0] == pytest.approx(expected, rel=1e-12)
    # the reference software gives 6.91099905e+07 cm2 for the first bin of 0.1-100 TeV
    axis = MapAxis.from_energy_bounds(0.1, 100, 10, unit="TeV", name="energy_true")
    aeff = EffectiveAreaTable2D.from_parametrization(axis, instrument="HESS")
    assert aeff.quantity[0, 0].to_value(u.cm**2) == pytest.approx(6.91099905e07, rel=1e-8)
    with pytest.raises(ValueError, match="unknown instrument"):
        EffectiveAreaTable2D.from_parametrization(instrument="XYZ")
