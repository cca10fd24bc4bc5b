"""Plot helpers of the IRF classes (matplotlib is imported inside the functions)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = ["get_ax", "plot_curves", "plot_image"]


def get_ax(ax=None):
    """Return ``ax`` or the current matplotlib axes."""
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def plot_curves(
    ax, x, ys, labels, xlabel="", ylabel="", xscale="linear", yscale="linear", **kwargs
):
    """Plot one curve per row of ``ys`` against ``x``; returns the axes."""
    ax = get_ax(ax)
    x = u.Quantity(x)
    ys = u.Quantity(ys)
    for y, label in zip(np.atleast_2d(ys.value), labels, strict=False):
        ax.plot(x.value, y, label=label, **kwargs)
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(labels) > 0:
        ax.legend(loc="best")
    return ax


def plot_image(ax, x_axis, y_axis, data, label="", add_cbar=True, **kwargs):
    """Colour image of a 2D array on ``(x_axis, y_axis)`` bin edges; returns the axes."""
    import matplotlib.pyplot as plt

    ax = get_ax(ax)
    data = u.Quantity(data)
    x = x_axis.edges.value
    y = y_axis.edges.value
    kwargs.setdefault("cmap", "GnBu")
    kwargs.setdefault("shading", "flat")
    mesh = ax.pcolormesh(x, y, data.value.T, **kwargs)
    if x_axis.interp == "log":
        ax.set_xscale("log")
    if y_axis.interp == "log":
        ax.set_yscale("log")
    ax.set_xlabel(_axis_label(x_axis))
    ax.set_ylabel(_axis_label(y_axis))
    if add_cbar:
        plt.colorbar(mesh, ax=ax, label=label)
    return ax


def _axis_label(axis) -> str:
    names = {
        "energy_true": "True energy",
        "energy": "Reco energy",
        "offset": "Offset",
        "migra": "Migra",
        "rad": "Rad",
        "fov_lon": "FoV lon",
        "fov_lat": "FoV lat",
    }
    unit = f" [{axis.unit}]" if axis.unit != u.dimensionless_unscaled else ""
    return f"{names.get(axis.name, axis.name)}{unit}"
