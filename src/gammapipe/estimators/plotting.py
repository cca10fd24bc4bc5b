"""Plots of estimator results (matplotlib is imported inside the functions)."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from .core import DEFAULT_UNIT

__all__ = ["plot_flux_points", "plot_ts_profiles", "plot_spectrum"]


def _get_ax(ax: Any) -> Any:
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def _values(fp: Any, name: str) -> u.Quantity | None:
    try:
        m = fp.get(name)
    except AttributeError:
        return None
    return m.quantity


def plot_flux_points(fp: Any, ax: Any = None, sed_type: str | None = None,
                     energy_power: float = 0, time_format: str = "iso",
                     axis_name: str | None = None, energy_unit: Any = None,
                     flux_unit: Any = None, **kwargs: Any) -> Any:
    """Flux points with error bars; upper limits (``is_ul``) drawn as downward arrows.

    Parameters
    ----------
    fp : `FluxPoints`
    ax : `~matplotlib.axes.Axes`, optional
    sed_type : str, optional
        "dnde", "e2dnde", "flux", "eflux" or "norm" (default: "dnde" for likelihood points).
    energy_power : float
        Multiply the values by ``e_ref ** energy_power`` (energy axis only).
    time_format : {"iso", "mjd"}
        Time labels of light curves.
    axis_name : {"energy", "time"}, optional
        Abscissa (default "time" when there are several time bins).
    **kwargs
        Passed to `~matplotlib.axes.Axes.errorbar`.
    """
    ax = _get_ax(ax)
    sed_type = sed_type or fp.sed_type_plot_default
    if sed_type == "likelihood":
        sed_type = "norm"
    has_time = "time" in fp.geom.axes.names
    if axis_name is None:
        axis_name = "time" if has_time and fp.geom.axes["time"].nbin > 1 else "energy"
    y = _values(fp, sed_type)
    if y is None:
        raise ValueError(f"plot: no {sed_type!r} values")
    unit = u.Unit(flux_unit) if flux_unit is not None else DEFAULT_UNIT.get(sed_type, y.unit)
    errn = _values(fp, f"{sed_type}_errn")
    errp = _values(fp, f"{sed_type}_errp")
    err = _values(fp, f"{sed_type}_err")
    if errn is None or errp is None:
        errn = errp = err
    ul = _values(fp, f"{sed_type}_ul")
    is_ul = np.zeros(y.shape, dtype=bool)
    if ul is not None:
        is_ul = np.asarray(fp.is_ul.data, dtype=bool)

    kwargs.setdefault("marker", "o")
    kwargs.setdefault("linestyle", "none")
    label = kwargs.pop("label", None)

    if axis_name == "energy":
        e_unit = u.Unit(energy_unit) if energy_unit is not None else fp.energy_axis.unit
        e_ref = fp.energy_ref.to(e_unit)
        x = fp._expand(e_ref.value)
        xlo = fp._expand((e_ref - fp.energy_min.to(e_unit)).value)
        xhi = fp._expand((fp.energy_max.to(e_unit) - e_ref).value)
        scale = fp._expand((e_ref**energy_power).value) * e_unit**energy_power
        unit = unit * e_unit**energy_power
    else:
        time_axis = fp.geom.axes["time"]
        t_min, t_max = time_axis.time_min, time_axis.time_max
        if time_format == "mjd":
            mid = 0.5 * (t_min.mjd + t_max.mjd)
            lo, hi = mid - t_min.mjd, t_max.mjd - mid
        else:
            mid_t = t_min + 0.5 * (t_max - t_min)
            mid = mid_t.to_datetime()
            lo = (mid_t - t_min).to_datetime()
            hi = (t_max - mid_t).to_datetime()
        # data shape (n_t, n_e, 1, 1): time along numpy axis 0
        x = np.asarray(mid)[:, None, None, None]
        xlo = np.asarray(lo)[:, None, None, None]
        xhi = np.asarray(hi)[:, None, None, None]
        scale = 1.0

    def conv(q):
        return None if q is None else np.asarray((q * scale).to_value(unit))

    yv, ylo, yhi, yul = conv(y), conv(errn), conv(errp), conv(ul)
    x_b, xlo_b, xhi_b = (np.broadcast_to(a, yv.shape) for a in (x, xlo, xhi))
    n_series = yv.shape[1] if axis_name == "time" else 1
    for i in range(n_series):
        sel = (slice(None), i) if axis_name == "time" else (Ellipsis,)
        xs, xl, xh = x_b[sel].ravel(), xlo_b[sel].ravel(), xhi_b[sel].ravel()
        ys = yv[sel].ravel()
        uls = is_ul[sel].ravel() if is_ul.shape == yv.shape else np.zeros(ys.size, bool)
        det = ~uls & np.isfinite(ys)
        yerr = None
        if ylo is not None:
            yerr = np.vstack([ylo[sel].ravel()[det], yhi[sel].ravel()[det]])
        lab = label
        if axis_name == "time" and n_series > 1:
            e_min, e_max = fp.energy_min[i], fp.energy_max[i]
            lab = f"{e_min:.3g} - {e_max:.3g}" if label is None else f"{label} {e_min:.3g}"
        handle = ax.errorbar(xs[det], ys[det], xerr=[xl[det], xh[det]], yerr=yerr,
                             label=lab, **kwargs)
        if yul is not None and np.any(uls):
            color = handle[0].get_color()
            vals = yul[sel].ravel()[uls]
            ul_kwargs = {k: v for k, v in kwargs.items() if k not in ("marker", "color")}
            ax.errorbar(xs[uls], vals, xerr=[xl[uls], xh[uls]], yerr=0.3 * np.abs(vals),
                        uplims=True, marker="", color=color, **ul_kwargs)
    if axis_name == "energy":
        ax.set_xscale("log")
        ax.set_xlabel(f"Energy [{e_unit.to_string()}]")
    else:
        ax.set_xlabel(f"Time [{'MJD' if time_format == 'mjd' else 'iso'}]")
    if sed_type != "norm":
        ax.set_yscale("log")
    label_y = sed_type if energy_power == 0 else f"E^{energy_power} x {sed_type}"
    ax.set_ylabel(f"{label_y} [{unit.to_string()}]" if unit != u.Unit("") else label_y)
    return ax


def plot_ts_profiles(fp: Any, ax: Any = None, sed_type: str | None = None,
                     add_cbar: bool = True, **kwargs: Any) -> Any:
    """Delta-statistic profiles (``stat_scan - stat``) per energy bin as a colour mesh."""
    ax = _get_ax(ax)
    sed_type = sed_type or fp.sed_type_plot_default
    if "stat_scan" not in fp.available_quantities:
        raise ValueError("plot_ts_profiles: no likelihood profiles (use selection 'scan')")
    scan_q = fp.get(f"{sed_type}_scan" if sed_type != "likelihood" else "norm_scan").quantity
    unit = DEFAULT_UNIT.get(sed_type, scan_q.unit)
    scan = np.asarray(scan_q.to_value(unit))[..., 0, 0]  # (n_scan, n_e)
    stat_scan = np.asarray(fp.get("stat_scan").data, dtype=float)[..., 0, 0]
    stat = np.asarray(fp.get("stat").data, dtype=float)[..., 0, 0]
    if stat.ndim > 1:  # time axis of length 1
        scan, stat_scan, stat = scan[..., 0, :], stat_scan[..., 0, :], stat[0]
    delta = stat_scan - stat[None, :]
    edges = fp.energy_axis.edges.to_value(fp.energy_axis.unit)
    kwargs.setdefault("cmap", "Blues_r")
    kwargs.setdefault("vmin", 0)
    kwargs.setdefault("vmax", 4)
    n_e = edges.size - 1
    mesh = None
    for i in range(n_e):
        y = scan[:, i]
        order = np.argsort(y)
        y = y[order]
        y_edges = np.concatenate([[y[0]], 0.5 * (y[1:] + y[:-1]), [y[-1]]])
        z = delta[order, i][:, None]
        mesh = ax.pcolormesh(edges[i : i + 2], y_edges, z, **kwargs)
    ax.set_xscale("log")
    ax.set_yscale("log" if np.all(scan > 0) else "linear")
    ax.set_xlabel(f"Energy [{fp.energy_axis.unit.to_string()}]")
    ax.set_ylabel(f"{sed_type} [{u.Unit(unit).to_string()}]")
    if add_cbar and mesh is not None:
        cbar = ax.figure.colorbar(mesh, ax=ax)
        cbar.set_label("delta stat (-2 log L)")
    return ax


def plot_spectrum(model: Any, flux_points: Any = None, ax: Any = None,
                  sed_type: str = "e2dnde", energy_bounds: Any = None,
                  filename: Any = None, **kwargs: Any) -> Any:
    """Peek-style spectrum figure: model, butterfly (error band) and flux points.

    Parameters
    ----------
    model : `SpectralModel` or `SkyModel`
        Best-fit model (the band uses its covariance).
    flux_points : `FluxPoints`, optional
    ax : `~matplotlib.axes.Axes`, optional
    sed_type : str
    energy_bounds : `~astropy.units.Quantity`, optional
        Energy range of the model curve (default: the flux-point range, else 0.1-100 TeV).
    filename : str or Path, optional
        Save the figure as PNG (or any matplotlib format) there.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 5)))
    spectral = getattr(model, "spectral_model", None) or model
    if energy_bounds is None:
        if flux_points is not None:
            edges = flux_points.energy_axis.edges
            energy_bounds = u.Quantity([edges[0], edges[-1]])
        else:
            energy_bounds = [0.1, 100] * u.TeV
    energy_power = 2 if sed_type == "e2dnde" else 0
    base = "dnde" if sed_type == "e2dnde" else sed_type
    spectral.plot(energy_bounds=energy_bounds, ax=ax, sed_type=base,
                  energy_power=energy_power, label="model")
    try:
        spectral.plot_error(energy_bounds=energy_bounds, ax=ax, sed_type=base,
                            energy_power=energy_power, facecolor="C0", alpha=0.3)
    except Exception:  # noqa: BLE001 - no covariance: plot without the band
        pass
    if flux_points is not None:
        flux_points.plot(ax=ax, sed_type=base, energy_power=energy_power, color="k",
                         label="flux points")
    ax.legend()
    ax.figure.tight_layout()
    if filename is not None:
        ax.figure.savefig(filename)
    return ax
