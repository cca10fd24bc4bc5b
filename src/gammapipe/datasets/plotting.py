"""Plots of datasets and IRF maps (matplotlib is imported inside the functions)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = [
    "plot_residuals_spatial",
    "plot_residuals_spectral",
    "plot_residuals",
    "peek_map_dataset",
    "plot_psf_containment_vs_energy",
    "plot_psf_vs_rad",
    "peek_psf_map",
    "plot_psf_kernel",
    "peek_psf_kernel",
    "peek_edisp_map",
]


def _image(ax, data, title, cmap="viridis", **kwargs):
    im = ax.imshow(np.asarray(data, float), origin="lower", cmap=cmap, **kwargs)
    ax.set_title(title)
    ax.set_xlabel("x [pix]")
    ax.set_ylabel("y [pix]")
    ax.figure.colorbar(im, ax=ax)
    return ax


def _get_ax(ax, **kwargs):
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.gca() if plt.get_fignums() else plt.figure(**kwargs).add_subplot(111)
    return ax


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


def plot_psf_containment_vs_energy(psf_map, ax=None, fraction=(0.68, 0.95), position=None,
                                   **kwargs):
    """Containment radius vs true energy."""
    ax = _get_ax(ax)
    e_axis = psf_map.geom.axes["energy_true"]
    energy = e_axis.center
    for f in np.atleast_1d(fraction):
        r = psf_map.containment_radius(f, energy, position=position)
        ax.plot(energy.value, r.to_value("deg"), label=f"{100 * f:.0f}% containment",
                **kwargs)
    ax.set_xscale("log")
    ax.set_xlabel(f"True energy [{e_axis.unit}]")
    ax.set_ylabel("Containment radius [deg]")
    ax.legend()
    return ax


def plot_psf_vs_rad(psf_map, ax=None, energy_true=(0.1, 1, 10) * u.TeV, position=None,
                    **kwargs):
    """PSF profile vs rad at several true energies."""
    ax = _get_ax(ax)
    rad = psf_map.geom.axes["rad"].center
    profiles = psf_map._profiles(position, u.Quantity(energy_true))
    for e, prof in zip(np.atleast_1d(u.Quantity(energy_true)), profiles, strict=True):
        ax.plot(rad.to_value("deg"), np.clip(prof, 1e-30, None), label=f"{e:.2f}", **kwargs)
    ax.set_yscale("log")
    ax.set_xlabel("Rad [deg]")
    ax.set_ylabel(f"PSF [{psf_map.psf_map.unit}]")
    ax.legend()
    return ax


def peek_psf_map(psf_map, figsize=(12, 10)):
    """Containment radius, PSF profile and exposure image."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=figsize)
    axes = axes.ravel()
    plot_psf_containment_vs_energy(psf_map, ax=axes[0])
    e_axis = psf_map.geom.axes["energy_true"]
    energies = e_axis.center[[0, e_axis.nbin // 2, -1]]
    plot_psf_vs_rad(psf_map, ax=axes[1], energy_true=energies)
    if psf_map.exposure_map is not None:
        exp = np.asarray(psf_map.exposure_map.data, float)
        _image(axes[2], exp.reshape((-1,) + exp.shape[-2:]).sum(axis=0), "PSF exposure")
    r68 = np.asarray(psf_map.psf_map.data, float)
    _image(axes[3], r68.reshape((-1,) + r68.shape[-2:]).max(axis=0), "PSF peak value")
    fig.tight_layout()
    return axes


def plot_psf_kernel(kernel, ax=None, energy=None, add_cbar=False, **kwargs):
    """Kernel image (sum over energy, or the bin containing ``energy``)."""
    ax = _get_ax(ax)
    data = kernel.data
    if data.ndim == 3:
        if energy is None:
            data = data.sum(axis=0)
        else:
            axis = kernel.psf_kernel_map.geom.axes["energy_true"]
            idx = int(np.clip(axis.coord_to_idx(u.Quantity(energy), clip=True), 0,
                              axis.nbin - 1))
            data = data[idx]
    im = ax.imshow(data, origin="lower", **kwargs)
    if add_cbar:
        ax.figure.colorbar(im, ax=ax)
    ax.set_title("PSF kernel")
    return ax


def peek_psf_kernel(kernel, figsize=(15, 5)):
    """Kernel images of the first, middle and last true energy."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=figsize)
    n = kernel.data.shape[0] if kernel.data.ndim == 3 else 1
    for ax, idx in zip(axes, [0, n // 2, n - 1], strict=True):
        data = kernel.data[idx] if kernel.data.ndim == 3 else kernel.data
        _image(ax, data, f"energy bin {idx}")
    fig.tight_layout()
    return axes


def peek_edisp_map(edisp_map, figsize=(15, 5)):
    """Kernel matrix at the centre, its bias and the exposure image."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=figsize)
    kernel = edisp_map.get_edisp_kernel()
    kernel.plot_matrix(ax=axes[0])
    kernel.plot_bias(ax=axes[1])
    if edisp_map.exposure_map is not None:
        exp = np.asarray(edisp_map.exposure_map.data, float)
        _image(axes[2], exp.reshape((-1,) + exp.shape[-2:]).sum(axis=0), "EDisp exposure")
    fig.tight_layout()
    return axes
