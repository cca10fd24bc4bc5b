"""Plots of 1D spectral datasets: counts, excess, residuals, fit and quick look.

Matplotlib is imported inside the functions only.
"""

from __future__ import annotations

import numpy as np

from .map_onoff import OnOffMixin

__all__ = ["_plot_counts", "_plot_excess", "_plot_residuals", "_plot_fit", "_peek"]


def _axis_data(ds):
    axis = ds._geom.axes["energy"]
    edges = axis.edges
    return axis, edges, axis.center


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def _style(ax, edges, ylabel):
    ax.set_xscale("log")
    ax.set_xlim(edges[0].value, edges[-1].value)
    ax.set_xlabel(f"Energy [{edges.unit}]")
    ax.set_ylabel(ylabel)


def _masked(ds, values):
    values = np.asarray(values, float).ravel().copy()
    if ds.mask_safe is not None:
        values[~np.asarray(ds.mask_safe.data, bool).ravel()] = np.nan
    return values


def _plot_counts(ds, ax=None, kwargs_counts=None, kwargs_background=None, **kwargs):
    ax = _ax(ax)
    _, edges, center = _axis_data(ds)
    kc = {"label": "Counts", "color": "k", **kwargs, **(kwargs_counts or {})}
    ax.stairs(_masked(ds, ds.counts.data), edges.value, **kc)
    if ds.background is not None:
        kb = {"label": "Background", "color": "tab:blue", "linestyle": "--",
              **(kwargs_background or {})}
        ax.stairs(_masked(ds, ds.background.data), edges.value, **kb)
    _style(ax, edges, "Counts")
    ax.legend()
    return ax


def _excess_and_errors(ds):
    from gammapipe.stats import CashCountsStatistic, WStatCountsStatistic

    counts = np.asarray(ds.counts.data, float).ravel()
    if isinstance(ds, OnOffMixin):
        stat = WStatCountsStatistic(counts, np.asarray(ds.counts_off.data, float).ravel(),
                                    np.asarray(ds.alpha.data, float).ravel())
    else:
        bkg = np.zeros_like(counts) if ds.background is None else np.asarray(
            ds.npred_background().data, float).ravel()
        stat = CashCountsStatistic(counts, bkg)
    return np.asarray(stat.n_sig, float), np.asarray(stat.error, float)


def _plot_excess(ds, ax=None, kwargs_excess=None, kwargs_npred_signal=None, **kwargs):
    ax = _ax(ax)
    _, edges, center = _axis_data(ds)
    excess, error = _excess_and_errors(ds)
    ke = {"label": "Excess counts", "color": "k", "fmt": "o", **kwargs,
          **(kwargs_excess or {})}
    ax.errorbar(center.value, _masked(ds, excess), yerr=error, **ke)
    if ds._sky_models():
        kn = {"label": "Predicted signal counts", "color": "tab:red",
              **(kwargs_npred_signal or {})}
        ax.stairs(_masked(ds, ds.npred_signal().data), edges.value, **kn)
    _style(ax, edges, "Excess counts")
    ax.legend()
    return ax


def _plot_residuals(ds, ax=None, method="diff", **kwargs):
    from .map_dataset import compute_residuals

    ax = _ax(ax)
    _, edges, center = _axis_data(ds)
    counts = np.asarray(ds.counts.data, float).ravel()
    npred = np.asarray(ds.npred().data, float).ravel()
    residuals = compute_residuals(counts, npred, method)
    yerr = np.sqrt(counts)
    if method == "diff/model":
        yerr = yerr / np.where(npred > 0, npred, np.nan)
    elif method == "diff/sqrt(model)":
        yerr = yerr / np.sqrt(np.where(npred > 0, npred, np.nan))
    style = {"color": "k", "fmt": "o", **kwargs}
    ax.errorbar(center.value, _masked(ds, residuals), yerr=yerr, **style)
    ax.axhline(0, color="gray", lw=0.8)
    _style(ax, edges, f"Residuals ({method})")
    return ax


def _plot_fit(ds, ax_spectrum=None, ax_residuals=None, kwargs_spectrum=None,
              kwargs_residuals=None):
    import matplotlib.pyplot as plt

    if ax_spectrum is None or ax_residuals is None:
        fig = plt.figure(figsize=(7, 7))
        grid = fig.add_gridspec(4, 1, hspace=0.05)
        ax_spectrum = fig.add_subplot(grid[:3])
        ax_residuals = fig.add_subplot(grid[3], sharex=ax_spectrum)
    _plot_excess(ds, ax=ax_spectrum, **(kwargs_spectrum or {}))
    _plot_residuals(ds, ax=ax_residuals, **(kwargs_residuals or {}))
    return ax_spectrum, ax_residuals


def _peek(ds, figsize=(16, 4)):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=figsize)
    _plot_counts(ds, ax=axes[0])
    axes[0].set_title("Counts")
    if ds.exposure is not None:
        e_axis = ds.exposure.geom.axes["energy_true"]
        axes[1].stairs(ds.exposure.quantity.to_value("m2 s").ravel(), e_axis.edges.value,
                       color="k")
        _style(axes[1], e_axis.edges, "Exposure [m2 s]")
        axes[1].set_title("Exposure")
    if ds.edisp is not None:
        kernel = ds.edisp.get_edisp_kernel(energy_axis=ds._geom.axes["energy"])
        kernel.plot_matrix(ax=axes[2])
        axes[2].set_title("Energy dispersion")
    return axes
