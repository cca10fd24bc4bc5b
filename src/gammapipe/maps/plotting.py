"""Plotting of maps (matplotlib is imported inside the functions only)."""

from __future__ import annotations

import numpy as np

from gammapipe.utils.errors import GammapipeError

__all__ = [
    "plot_wcs_image",
    "plot_wcs_grid",
    "plot_wcs_mask",
    "plot_region_map",
    "plot_region_hist",
    "plot_region_mask",
    "plot_region_outline",
]

_FRAME_LABELS = {
    "icrs": ("Right Ascension", "Declination"),
    "fk5": ("Right Ascension", "Declination"),
    "galactic": ("Galactic Longitude", "Galactic Latitude"),
}


def _image_data(m) -> np.ndarray:
    shape = m.data.shape
    if any(n != 1 for n in shape[:-2]):
        raise GammapipeError(
            f"plot: the map has non-spatial axes {m.geom.axes.names} with shape "
            f"{shape[:-2]}; plot an image: use plot_grid(), sum_over_axes() or "
            "get_image_by_idx()"
        )
    data = m.data.reshape(shape[-2:])
    return data.astype(float) if data.dtype == bool else data


def _wcs_axes(m, ax=None, fig=None):
    import matplotlib.pyplot as plt

    wcs = m.geom.wcs
    if ax is None:
        fig = fig if fig is not None else plt.gcf()
        ax = fig.add_subplot(1, 1, 1, projection=wcs)
    return ax


def _label_sky_axes(ax, frame: str) -> None:
    xlabel, ylabel = _FRAME_LABELS.get(frame, ("Longitude", "Latitude"))
    if hasattr(ax, "coords"):
        ax.coords[0].set_axislabel(xlabel)
        ax.coords[1].set_axislabel(ylabel)
        ax.coords[0].set_major_formatter("d.d")
        ax.coords[1].set_major_formatter("d.d")
    else:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)


def plot_wcs_image(m, ax=None, fig=None, add_cbar=False, stretch="linear", axes_loc=None,
                   kwargs_colorbar=None, **kwargs):
    """Plot an image `WcsNDMap` on WCS axes.

    Parameters
    ----------
    m : `WcsNDMap`
        Image map (non-spatial axes of length one are accepted).
    ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
        Axes; created with the map WCS when not given.
    fig : `~matplotlib.figure.Figure`, optional
        Figure for new axes.
    add_cbar : bool
        Add a colorbar labelled with the unit.
    stretch : {"linear", "sqrt", "log", "asinh", "power"}
        Colour stretch (`astropy.visualization.simple_norm`).
    axes_loc : dict, optional
        ``append_axes`` arguments of the colorbar axes (``position``, ``size``, ``pad``).
    kwargs_colorbar : dict, optional
        Colorbar keyword arguments.
    **kwargs
        ``imshow`` arguments (``vmin``, ``vmax``, ``cmap``...).

    Returns
    -------
    ax : `~astropy.visualization.wcsaxes.WCSAxes`
    """
    from astropy.visualization import simple_norm

    data = _image_data(m)
    ax = _wcs_axes(m, ax=ax, fig=fig)
    vmin = kwargs.pop("vmin", None)
    vmax = kwargs.pop("vmax", None)
    finite = data[np.isfinite(data)]
    if "norm" not in kwargs:
        if finite.size:
            vmin = float(np.min(finite)) if vmin is None else vmin
            vmax = float(np.max(finite)) if vmax is None else vmax
            if vmax <= vmin:
                vmax = vmin + 1.0
        kwargs["norm"] = simple_norm(finite if finite.size else np.zeros(1), stretch=stretch,
                                     vmin=vmin, vmax=vmax)
    kwargs.setdefault("interpolation", "nearest")
    kwargs.setdefault("origin", "lower")
    kwargs.setdefault("cmap", "afmhot")
    image = ax.imshow(data, **kwargs)
    _label_sky_axes(ax, m.geom.frame)
    if add_cbar:
        kwargs_colorbar = dict(kwargs_colorbar or {})
        kwargs_colorbar.setdefault("label", f"{m.unit}" if str(m.unit) else "")
        fig = ax.figure
        if axes_loc:
            from mpl_toolkits.axes_grid1 import make_axes_locatable

            cax = make_axes_locatable(ax).append_axes(
                axes_class=__import__("matplotlib").axes.Axes, **axes_loc
            )
            fig.colorbar(image, cax=cax, **kwargs_colorbar)
        else:
            fig.colorbar(image, ax=ax, **kwargs_colorbar)
    return ax


def _plane_titles(m) -> list[str]:
    titles = []
    names = list(m.geom.axes.names)
    for idx in np.ndindex(m.data.shape[:-2]):
        parts = []
        for name, i in zip(names, idx[::-1], strict=True):
            axis = m.geom.axes[name]
            if type(axis).__name__ == "LabelMapAxis":
                parts.append(f"{axis.center[i]}")
            elif getattr(axis, "node_type", "edges") == "edges" and hasattr(axis, "edges"):
                lo, hi = axis.edges[i], axis.edges[i + 1]
                parts.append(f"{lo.value:.3g} - {hi.value:.3g} {axis.unit}")
            else:
                parts.append(f"{axis.name} = {axis.center[i]:.3g}")
        titles.append(", ".join(parts))
    return titles


def plot_wcs_grid(m, figsize=None, ncols=3, **kwargs):
    """One WCS panel per image plane, titled with its bin range; returns the axes array."""
    import matplotlib.pyplot as plt

    planes = [m.data[idx] for idx in np.ndindex(m.data.shape[:-2])]
    titles = _plane_titles(m)
    n = len(planes)
    ncols = max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    figsize = figsize or (4 * ncols, 4 * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False,
                             subplot_kw={"projection": m.geom.wcs})
    fig.subplots_adjust(hspace=0.35, wspace=0.45)
    finite = np.concatenate([p[np.isfinite(p)].ravel() for p in planes]) if n else np.zeros(1)
    kwargs.setdefault("vmin", float(np.min(finite)) if finite.size else 0.0)
    kwargs.setdefault("vmax", float(np.max(finite)) if finite.size else 1.0)
    kwargs.setdefault("origin", "lower")
    kwargs.setdefault("interpolation", "nearest")
    kwargs.setdefault("cmap", "afmhot")
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        data = planes[k].astype(float) if planes[k].dtype == bool else planes[k]
        ax.imshow(data, **kwargs)
        ax.set_title(titles[k])
        _label_sky_axes(ax, m.geom.frame)
    return axes


def plot_wcs_mask(m, ax=None, **kwargs):
    """Overlay a boolean image mask: contour of its edge and hatches on the True pixels."""
    data = _image_data(m)
    if m.data.dtype != bool:
        raise GammapipeError(f"plot_mask: needs a boolean mask map, got dtype {m.data.dtype}")
    ax = _wcs_axes(m, ax=ax)
    if not np.any(data) or np.all(data):
        # nothing to contour: shade everything or nothing
        ax.imshow(np.where(data, 1.0, np.nan), origin="lower", alpha=0.3, cmap="Greys",
                  vmin=0, vmax=1)
        _label_sky_axes(ax, m.geom.frame)
        return ax
    hatches = kwargs.pop("hatches", ["x"])
    colors = kwargs.pop("colors", "w")
    ax.contourf(data, levels=[0.5, 1.5], hatches=hatches, colors="none")
    kwargs.setdefault("linewidths", 1.5)
    ax.contour(data, levels=[0.5], colors=colors, **kwargs)
    _label_sky_axes(ax, m.geom.frame)
    return ax


def _spectrum_axis(m, axis_name):
    axes = m.geom.axes
    if axis_name is None:
        if len(axes) == 0:
            raise GammapipeError("plot: the region map has no non-spatial axis")
        axis_name = axes.names[0]
    axis = axes[axis_name]
    other = [a for a in axes if a.name != axis_name]
    if any(a.nbin != 1 for a in other):
        raise GammapipeError(
            f"plot: axes {[a.name for a in other]} have more than one bin; slice the map "
            "with slice_by_idx() first"
        )
    values = np.moveaxis(m.data, m._np_axis(axis_name), 0).reshape(axis.nbin, -1)[:, 0]
    return axis, values


def _axis_xy(axis):
    if type(axis).__name__ == "LabelMapAxis":
        x = np.arange(axis.nbin, dtype=float)
        return x, x - 0.5, x + 0.5
    x = axis.center.value
    if getattr(axis, "node_type", "edges") == "edges":
        edges = axis.edges.value
        return x, edges[:-1], edges[1:]
    return x, x, x


def _format_xaxis(ax, axis):
    if type(axis).__name__ == "LabelMapAxis":
        ax.set_xticks(np.arange(axis.nbin))
        ax.set_xticklabels([str(c) for c in axis.center], rotation=30, ha="right")
        ax.set_xlabel(axis.name)
        return
    if getattr(axis, "interp", "lin") == "log" or axis.name.startswith("energy"):
        ax.set_xscale("log")
    unit = f" [{axis.unit}]" if str(axis.unit) else ""
    ax.set_xlabel(f"{axis.name.replace('_', ' ').capitalize()}{unit}")


def plot_region_map(m, ax=None, axis_name=None, **kwargs):
    """Values of a `RegionNDMap` along an axis as step-like error bars; returns the axes."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    axis, values = _spectrum_axis(m, axis_name)
    x, lo, hi = _axis_xy(axis)
    yerr = kwargs.pop("yerr", None)
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("markersize", 3)
    values = values.astype(float)
    ax.errorbar(x, values, xerr=(x - lo, hi - x), yerr=yerr, **kwargs)
    _format_xaxis(ax, axis)
    ax.set_ylabel(f"Data [{m.unit}]" if str(m.unit) else "Data")
    return ax


def plot_region_hist(m, ax=None, axis_name=None, **kwargs):
    """Histogram (stairs) of a `RegionNDMap` along an axis with edges; returns the axes."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    axis, values = _spectrum_axis(m, axis_name)
    x, lo, hi = _axis_xy(axis)
    edges = np.append(lo, hi[-1])
    ax.stairs(values.astype(float), edges, **kwargs)
    _format_xaxis(ax, axis)
    ax.set_ylabel(f"Data [{m.unit}]" if str(m.unit) else "Data")
    return ax


def plot_region_mask(m, ax=None, axis_name=None, **kwargs):
    """Shade the bins where a boolean `RegionNDMap` is True; returns the axes."""
    import matplotlib.pyplot as plt

    if m.data.dtype != bool:
        raise GammapipeError(f"plot_mask: needs a boolean mask map, got dtype {m.data.dtype}")
    ax = plt.gca() if ax is None else ax
    axis, values = _spectrum_axis(m, axis_name)
    _, lo, hi = _axis_xy(axis)
    kwargs.setdefault("color", "k")
    kwargs.setdefault("alpha", 0.2)
    label = kwargs.pop("label", "mask")
    for k, (a, b) in enumerate(zip(lo[values], hi[values], strict=True)):
        ax.axvspan(a, b, label=label if k == 0 else None, **kwargs)
    _format_xaxis(ax, axis)
    return ax


def plot_region_outline(geom, ax=None, **kwargs):
    """Draw the region of a `RegionGeom` on WCS axes (created around the region if None).

    Drawing is done by ``RegionGeom.plot_region``; the sky axes are labelled here.
    """
    if geom.region is None:
        raise GammapipeError("plot_region: the geometry has no region")
    ax = geom.plot_region(ax=ax, **kwargs)
    _label_sky_axes(ax, getattr(geom, "frame", "icrs"))
    return ax
