"""Plots of MapDataset and IRF maps (Agg backend, PNG files in tmp_path)."""

from __future__ import annotations

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from gammapipe.datasets import EDispKernelMap, MapDataset, PSFMap
from gammapipe.maps import MapAxis, WcsGeom

matplotlib.use("Agg")


@pytest.fixture
def dataset():
    energy = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, width=1.0, frame="galactic",
                          axes=[energy])
    ds = MapDataset.create(geom, binsz_irf=0.5, name="plot")
    rng = np.random.default_rng(0)
    ds.background.data[...] = 2.0
    ds.counts.data[...] = rng.poisson(2.0, ds.counts.data.shape)
    ds.exposure.data[...] = 1e9
    ds.mask_safe.data[...] = True
    return ds


def _save(fig_or_ax, path):
    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") else fig_or_ax
    fig.savefig(path)
    assert path.stat().st_size > 1000


def test_plot_residuals(dataset, tmp_path):
    import matplotlib.pyplot as plt

    ax = dataset.plot_residuals_spatial(method="diff/sqrt(model)")
    _save(ax, tmp_path / "spatial.png")
    plt.close("all")
    region = CircleSkyRegion(SkyCoord(0, 0, unit="deg", frame="galactic"), 0.3 * u.deg)
    ax = dataset.plot_residuals_spectral(region=region)
    y = ax.containers[0].lines[0].get_ydata()
    inside = dataset.counts.geom.region_mask([region]).data
    expected = ((dataset.counts.data - 2.0) * inside).sum(axis=(1, 2))
    assert np.allclose(y, expected)
    assert ax.get_xscale() == "log"
    _save(ax, tmp_path / "spectral.png")
    plt.close("all")
    ax1, ax2 = dataset.plot_residuals()
    _save(ax1, tmp_path / "both.png")
    plt.close("all")


def test_peek_dataset_and_irfs(dataset, tmp_path):
    import matplotlib.pyplot as plt

    axes = dataset.peek()
    assert len(axes) == 6
    _save(axes[0], tmp_path / "peek.png")
    plt.close("all")
    e_true = MapAxis.from_energy_bounds(0.5, 50, 5, unit="TeV", name="energy_true")
    psf = PSFMap.from_gauss(e_true, sigma=0.1 * u.deg)
    axes = psf.peek()
    _save(axes[0], tmp_path / "psf.png")
    plt.close("all")
    e_reco = MapAxis.from_energy_bounds(0.5, 50, 5, unit="TeV")
    axes = EDispKernelMap.from_diagonal_response(e_reco, e_true).peek()
    _save(axes[0], tmp_path / "edisp.png")
    plt.close("all")
    geom = WcsGeom.create(skydir=(0, 0), binsz=0.02, width=1.0, axes=[e_true])
    kernel = psf.get_psf_kernel(geom)
    _save(kernel.plot_kernel(), tmp_path / "kernel.png")
    plt.close("all")
    axes = kernel.peek()
    _save(axes[0], tmp_path / "kernel_peek.png")
    plt.close("all")
