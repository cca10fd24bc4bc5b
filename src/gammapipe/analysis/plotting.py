"""PNG plots of an analysis: sky maps (counts, excess, significance, residuals) and the
spectrum (model with its butterfly and the flux points). matplotlib is imported inside."""

from __future__ import annotations

import logging
from pathlib import Path

import astropy.units as u
import numpy as np

__all__ = ["plot_sky_image", "plot_residual_image", "plot_spectrum", "plot_spectrum_fit",
           "save_figure"]

log = logging.getLogger(__name__)


def save_figure(fig, path: Path) -> Path:
    """Save ``fig`` as PNG and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _image(m):
    """Sum a map over its non-spatial axes (an image map)."""
    if len(m.geom.data_shape) > 2:
        return m.sum_over_axes(keepdims=False) if hasattr(m, "sum_over_axes") else m
    return m


def plot_sky_image(m, path: Path, title: str, stretch: str = "linear", cmap: str = "afmhot",
                   symmetric: bool = False, label: str | None = None) -> Path:
    """Image of map ``m`` (summed over energy) with a colour bar, saved as PNG."""
    import matplotlib.pyplot as plt

    image = _image(m)
    fig = plt.figure(figsize=(6.5, 5.5))
    kwargs = {"cmap": cmap}
    if symmetric:
        finite = np.asarray(image.data, float)
        finite = finite[np.isfinite(finite)]
        vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
        kwargs.update(vmin=-vmax, vmax=vmax)
    ax = image.plot(fig=fig, add_cbar=True, stretch=stretch,
                    kwargs_colorbar={"label": label} if label else None, **kwargs)
    ax.set_title(title)
    return save_figure(fig, path)


def plot_residual_image(dataset, path: Path, smooth_radius="0.1 deg") -> Path:
    """Spatial residuals ``(counts - npred) / sqrt(npred)`` summed over energy inside the
    safe mask, both smoothed with a Gaussian of ``smooth_radius``; PNG on sky axes."""
    mask = 1.0 if dataset.mask_safe is None else np.asarray(dataset.mask_safe.data, float)
    counts = dataset.counts.copy(data=np.asarray(dataset.counts.data, float) * mask)
    npred = dataset.counts.copy(data=np.asarray(dataset.npred().data, float) * mask)
    c_img = counts.sum_over_axes(keepdims=False).smooth(smooth_radius, kernel="gauss")
    n_img = npred.sum_over_axes(keepdims=False).smooth(smooth_radius, kernel="gauss")
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(n_img.data > 0, (c_img.data - n_img.data) / np.sqrt(n_img.data), np.nan)
    residual = c_img.copy(data=res)
    return plot_sky_image(residual, path, "Residuals (counts - npred) / sqrt(npred), smoothed",
                          cmap="coolwarm", symmetric=True,
                          label="(counts - npred) / sqrt(npred)")


def plot_spectrum(model, path: Path, flux_points=None, energy_bounds=None,
                  truth=None) -> Path:
    """E^2 dN/dE of ``model`` (a SkyModel) with its butterfly, the flux points and the
    simulated truth when given; PNG."""
    import matplotlib.pyplot as plt

    spectral = model.spectral_model
    if energy_bounds is None:
        energy_bounds = u.Quantity([0.3, 100], u.TeV)
    fig, ax = plt.subplots(figsize=(7, 5))
    kwargs = {"sed_type": "e2dnde"}
    spectral.plot(energy_bounds, ax=ax, label=f"{model.name} (best fit)", color="C0",
                  **kwargs)
    try:
        spectral.plot_error(energy_bounds, ax=ax, facecolor="C0", alpha=0.25, **kwargs)
    except (ValueError, RuntimeError, KeyError) as exc:  # no covariance: no butterfly
        log.warning("spectrum plot: no error band (%s)", exc)
    if truth is not None:
        truth.spectral_model.plot(energy_bounds, ax=ax, label="simulated truth", color="k",
                                  ls="--", **kwargs)
    if flux_points is not None:
        try:
            flux_points.plot(ax=ax, sed_type="e2dnde", color="C1", label="flux points")
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            log.warning("spectrum plot: flux points not drawn (%s)", exc)
    ax.set_title(f"Spectrum of {model.name}")
    ax.legend()
    return save_figure(fig, path)


def plot_spectrum_fit(dataset, path: Path) -> Path:
    """Counts / excess and npred versus energy with residuals of a 1D dataset
    (``dataset.plot_fit``); PNG."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 6))
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    ax_spectrum = fig.add_subplot(gs[0])
    ax_residuals = fig.add_subplot(gs[1], sharex=ax_spectrum)
    dataset.plot_fit(ax_spectrum=ax_spectrum, ax_residuals=ax_residuals)
    ax_spectrum.set_title(f"{dataset.name}: counts and model")
    return save_figure(fig, path)
