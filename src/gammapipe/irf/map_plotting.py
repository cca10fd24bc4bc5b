"""Plots of the IRF maps `PSFMap`, `PSFKernel`, `EDispKernelMap` and `EDispMap`
(matplotlib is imported inside the functions)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = [
    "image_panel",
    "get_or_create_ax",
    "plot_psf_containment_vs_energy",
    "plot_psf_vs_rad",
    "peek_psf_map",
    "plot_psf_kernel",
    "peek_psf_kernel",
    "peek_edisp_map",
]


def image_panel(ax, data, title, cmap="viridis", **kwargs):
    """Show a 2D array as an image on pixel axes with a colour bar; returns ``ax``."""
    im = ax.imshow(np.asarray(data, float), origin="lower", cmap=cmap, **kwargs)
    ax.set_title(title)
    ax.set_xlabel("x [pix]")
    ax.set_ylabel("y [pix]")
    ax.figure.colorbar(im, ax=ax)
    return ax


def get_or_create_ax(ax=None, **kwargs):
    """``ax``, else the current axes, else the axes of a new figure (``kwargs`` go to
    ``plt.figure``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.gca() if plt.get_fignums() else plt.figure(**kwargs).add_subplot(111)
    return ax


def plot_psf_containment_vs_energy(psf_map, ax=None, fraction=(0.68, 0.95), position=None,
                                   **kwargs):
    """Containment radius vs true energy."""
    ax = get_or_create_ax(ax)
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
    ax = get_or_create_ax(ax)
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
        image_panel(axes[2], exp.reshape((-1,) + exp.shape[-2:]).sum(axis=0), "PSF exposure")
    r68 = np.asarray(psf_map.psf_map.data, float)
    image_panel(axes[3], r68.reshape((-1,) + r68.shape[-2:]).max(axis=0), "PSF peak value")
    fig.tight_layout()
    return axes


def plot_psf_kernel(kernel, ax=None, energy=None, add_cbar=False, **kwargs):
    """Kernel image (sum over energy, or the bin containing ``energy``)."""
    ax = get_or_create_ax(ax)
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
        image_panel(ax, data, f"energy bin {idx}")
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
        image_panel(axes[2], exp.reshape((-1,) + exp.shape[-2:]).sum(axis=0), "EDisp exposure")
    fig.tight_layout()
    return axes
