"""All IRF plot / peek methods render to PNG with Agg (HESS DL3 DR1, H.E.S.S.
collaboration; CTA 1DC)."""

from __future__ import annotations

import astropy.units as u
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gammapipe.irf import (  # noqa: E402
    PSF3D,
    Background2D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDispersion2D,
    PSFKing,
    RadMax2D,
)
from gammapipe.maps import MapAxis  # noqa: E402


@pytest.fixture(scope="module")
def irfs(hess_dir):
    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    edisp = EnergyDispersion2D.read(path, hdu="EDISP")
    e_axis = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=4, name="energy_true")
    o_axis = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    king = PSFKing(
        axes=[e_axis, o_axis], data={"gamma": np.full((4, 2), 2.5), "sigma": np.full((4, 2), 0.1)}
    )
    reco = MapAxis.from_energy_bounds("0.1 TeV", "10 TeV", nbin=4, name="energy")
    return {
        "aeff": EffectiveAreaTable2D.read(path, hdu="AEFF"),
        "edisp": edisp,
        "kernel": edisp.to_edisp_kernel(0.5 * u.deg),
        "psf": PSF3D.read(path, hdu="PSF"),
        "king": king,
        "bkg": Background3D.read(path, hdu="BKG"),
        "bkg2d": Background2D.from_parametrization(),
        "rad_max": RadMax2D(axes=[reco, o_axis], data=0.1, unit="deg"),
    }


CALLS = [
    ("aeff", "plot_energy_dependence"),
    ("aeff", "plot_offset_dependence"),
    ("aeff", "plot"),
    ("aeff", "peek"),
    ("edisp", "plot_migration"),
    ("edisp", "plot_bias"),
    ("edisp", "peek"),
    ("kernel", "plot_matrix"),
    ("kernel", "plot_bias"),
    ("kernel", "peek"),
    ("psf", "plot_containment_radius_vs_energy"),
    ("psf", "plot_psf_vs_rad"),
    ("psf", "plot_containment_radius"),
    ("psf", "peek"),
    ("king", "peek"),
    ("bkg", "plot_at_energy"),
    ("bkg", "plot_energy_dependence"),
    ("bkg", "plot_offset_dependence"),
    ("bkg", "peek"),
    ("bkg2d", "plot"),
    ("bkg2d", "peek"),
    ("rad_max", "plot_rad_max_vs_energy"),
    ("rad_max", "peek"),
]


@pytest.mark.parametrize("name, method", CALLS)
def test_plot_renders(irfs, name, method, tmp_path):
    result = getattr(irfs[name], method)()
    axes = np.atleast_1d(result).ravel()
    assert all(hasattr(ax, "figure") for ax in axes)
    path = tmp_path / f"{name}_{method}.png"
    axes[0].figure.savefig(path)
    assert path.stat().st_size > 1000
    plt.close("all")
