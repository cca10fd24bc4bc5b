"""Plots of map datasets (matplotlib is imported inside the functions).

The IRF-map plots (`PSFMap`, `PSFKernel`, `EDispKernelMap`, `EDispMap`) are in
`gammapipe.irf.map_plotting`.
"""

from __future__ import annotations

import numpy as np

from gammapipe.irf.map_plotting import get_or_create_ax as _get_ax
from gammapipe.irf.map_plotting import image_panel as _image

__all__ = [
    "plot_residuals_spatial",
    "plot_residuals_spectral",
    "plot_residuals",
    "peek_map_dataset",
]


def plot_residuals_spatial(ds, ax=None, method="diff", smooth_kernel="gauss",
                           smooth_radius="0.1 deg", **kwargs):
    """Residual image (energy-summed counts and npred inside the safe mask)."""
    from .map_dataset import compute_residuals

    ax = _get_ax(ax)
    mask = None if ds.mask_safe is None else np.asarray(ds.mask_safe.data, bool)
    counts = ds.counts.data * (1 if mask is None else mask)
    npred = ds.npred().data * (1 if mask is None else mask)
    c_img = ds.counts.copy(data=counts.astype(float)).sum_over_axes(keepdims=False)
    n_img = ds.counts.copy(data=npred.astype(float)).sum_over_axes(keepdims=False)
    if smooth_radius is not None:
        c_img = c_img.smooth(smooth_radius, kernel=smooth_kernel)
        n_img = n_img.smooth(smooth_radius, kernel=smooth_kernel)
    res = compute_residuals(c_img.data, n_img.data, method)
    kwargs.setdefault("cmap", "coolwarm")
    vmax = float(np.nanmax(np.abs(res))) if np.any(np.isfinite(res)) else 1.0
    kwargs.setdefault("vmin", -vmax)
    kwargs.setdefault("vmax", vmax)
    cmap = kwargs.pop("cmap")
    return _image(ax, res, f"Residuals ({method})", cmap=cmap, **kwargs)


def plot_residuals_spectral(ds, ax=None, method="diff", region=None, **kwargs):
    """Residuals vs reco energy, summed inside ``region`` (or the whole map) and the
    safe mask; error bars from the counts (``sqrt(counts)``)."""
    from .map_dataset import compute_residuals

    ax = _get_ax(ax)
    mask = np.ones(ds.counts.data.shape, bool)
    if ds.mask_safe is not None:
        mask &= np.asarray(ds.mask_safe.data, bool)
    if region is not None:
        mask &= np.asarray(ds._geom.region_mask([region]).data, bool)
    counts = (ds.counts.data * mask).sum(axis=(-2, -1))
    npred = (ds.npred().data * mask).sum(axis=(-2, -1))
    res = compute_residuals(counts, npred, method)
    err = np.sqrt(np.clip(counts, 0, None))
    if method == "diff/model":
        err = np.where(npred > 0, err / np.where(npred > 0, npred, 1), 0)
    elif method == "diff/sqrt(model)":
        err = np.where(npred > 0, err / np.sqrt(np.where(npred > 0, npred, 1)), 0)
    axis = ds._geom.axes["energy"]
    e = axis.center.value
    xerr = np.abs(np.vstack([e - axis.edges[:-1].value, axis.edges[1:].value - e]))
    kwargs.setdefault("fmt", "o")
    ax.errorbar(e, res, yerr=err, xerr=xerr, **kwargs)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel(f"Energy [{axis.unit}]")
    ax.set_ylabel(f"Residuals ({method})")
    return ax


def plot_residuals(ds, ax_spatial=None, ax_spectral=None, kwargs_spatial=None,
                   kwargs_spectral=None):
    """Spatial and spectral residuals; returns ``(ax_spatial, ax_spectral)``."""
    import matplotlib.pyplot as plt

    if ax_spatial is None or ax_spectral is None:
        fig = plt.figure(figsize=(12, 4))
        ax_spatial = fig.add_subplot(121)
        ax_spectral = fig.add_subplot(122)
    plot_residuals_spatial(ds, ax=ax_spatial, **(kwargs_spatial or {}))
    plot_residuals_spectral(ds, ax=ax_spectral, **(kwargs_spectral or {}))
    return ax_spatial, ax_spectral


def peek_map_dataset(ds, figsize=(12, 10)):
    """Counts, excess, exposure and background images plus spectra; returns the axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(figsize[0] * 1.5, figsize[1]))
    axes = axes.ravel()
    mask = None if ds.mask_safe is None else np.asarray(ds.mask_safe.data, bool)

    def image(m):
        data = np.asarray(m.data, float)
        if mask is not None and data.shape == mask.shape:
            data = data * mask
        return data.reshape((-1,) + data.shape[-2:]).sum(axis=0)

    counts = image(ds.counts) if ds.counts is not None else None
    bkg = image(ds.npred_background()) if ds.background is not None else None
    if counts is not None:
        _image(axes[0], counts, "Counts")
    if counts is not None and bkg is not None:
        _image(axes[1], counts - bkg, "Excess counts", cmap="coolwarm")
    if ds.exposure is not None:
        exp = np.asarray(ds.exposure.data, float)
        _image(axes[2], exp.reshape((-1,) + exp.shape[-2:]).sum(axis=0),
               f"Exposure (sum over true energy) [{ds.exposure.unit}]")
    if bkg is not None:
        _image(axes[3], bkg, "Background")
    axis = ds._geom.axes["energy"]
    if ds.counts is not None:
        c = np.asarray(ds.counts.data * (1 if mask is None else mask), float).sum(axis=(-2, -1))
        axes[4].step(axis.center.value, c, where="mid", label="counts")
    if ds.background is not None:
        b = np.asarray(ds.npred_background().data * (1 if mask is None else mask),
                       float).sum(axis=(-2, -1))
        axes[4].step(axis.center.value, b, where="mid", label="background")
    axes[4].set_xscale("log")
    axes[4].set_xlabel(f"Energy [{axis.unit}]")
    axes[4].set_title("Spectra (safe mask)")
    axes[4].legend()
    if ds.exposure is not None:
        t_axis = ds.exposure.geom.axes["energy_true"]
        e = np.asarray(ds.exposure.data, float).reshape(t_axis.nbin, -1).max(axis=1)
        axes[5].plot(t_axis.center.value, e)
        axes[5].set_xscale("log")
        axes[5].set_yscale("log")
        axes[5].set_xlabel(f"True energy [{t_axis.unit}]")
        axes[5].set_title(f"Max exposure [{ds.exposure.unit}]")
    fig.tight_layout()
    return axes
