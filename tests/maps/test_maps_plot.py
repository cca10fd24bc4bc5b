"""Map plots render with Agg to PNG files and return their axes."""

from __future__ import annotations

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from gammapipe.maps import Map, MapAxis, RegionNDMap
from gammapipe.utils.errors import GammapipeError

matplotlib.use("Agg")

CRAB = SkyCoord(83.633, 22.014, unit="deg")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _cube(frame="icrs"):
    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    skydir = CRAB if frame == "icrs" else CRAB.galactic
    m = Map.create(npix=(30, 20), binsz=0.05, skydir=skydir, frame=frame, axes=[axis],
                   unit="cm-2 s-1")
    m.data = np.random.default_rng(0).uniform(size=m.data.shape).astype("float32")
    return m


def _saved(ax, path):
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    return path


@pytest.mark.parametrize(("frame", "labels"), [
    ("icrs", ("Right Ascension", "Declination")),
    ("galactic", ("Galactic Longitude", "Galactic Latitude")),
])
def test_wcs_image_plot_labels(tmp_path, frame, labels):
    image = _cube(frame).sum_over_axes(keepdims=False)
    ax = image.plot(add_cbar=True, stretch="sqrt", cmap="viridis", vmin=0)
    assert ax.coords[0].get_axislabel() == labels[0]
    assert ax.coords[1].get_axislabel() == labels[1]
    assert len(ax.images) == 1
    _saved(ax, tmp_path / "image.png")


def test_plot_stretches_and_cube_error(tmp_path):
    m = _cube()
    for stretch in ("linear", "log"):
        ax = m.get_image_by_idx((0,)).plot(stretch=stretch)
    _saved(ax, tmp_path / "log.png")
    with pytest.raises(GammapipeError, match="plot_grid"):
        m.plot()


def test_plot_grid_titles(tmp_path):
    axes = _cube().plot_grid(ncols=2)
    assert axes.shape == (2, 2)
    titles = [ax.get_title() for ax in axes.flat[:3]]
    assert titles[0] == "1 - 2.15 TeV"
    assert titles[2] == "4.64 - 10 TeV"
    assert not axes.flat[3].get_visible()
    _saved(axes.flat[0], tmp_path / "grid.png")


def test_plot_mask(tmp_path):
    m = _cube().get_image_by_idx((0,))
    mask = m > 0.5
    ax = m.plot()
    ax = mask.plot_mask(ax=ax)
    assert len(ax.collections) > 0
    _saved(ax, tmp_path / "mask.png")
    with pytest.raises(GammapipeError, match="boolean"):
        m.plot_mask()


def test_region_map_plots(tmp_path):
    import matplotlib.pyplot as plt

    region = CircleSkyRegion(CRAB, 0.2 * u.deg)
    axis = MapAxis.from_energy_bounds(0.5, 50, 8, unit="TeV")
    m = RegionNDMap.create(region=region, axes=[axis], unit="cm-2 s-1 TeV-1")
    m.data[:, 0, 0] = np.geomspace(1, 1e-3, 8)
    ax = m.plot(yerr=0.1 * m.data.ravel())
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "Energy [TeV]"
    _saved(ax, tmp_path / "spectrum.png")
    plt.figure()
    ax = m.plot_hist()
    assert ax.get_xscale() == "log"
    mask = m > 0.01
    ax = mask.plot_mask(ax=ax)
    _saved(ax, tmp_path / "hist.png")
    plt.figure()
    ax = m.plot_region()
    assert len(ax.patches) == 1
    assert ax.coords[0].get_axislabel() == "Right Ascension"
    _saved(ax, tmp_path / "region.png")
