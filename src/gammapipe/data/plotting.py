"""Plots of event lists and observations (matplotlib imported inside the functions)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from ..utils.coordinates import angular_separation_deg

__all__ = [
    "plot_energy",
    "plot_offset2_distribution",
    "plot_time",
    "plot_energy_offset",
    "plot_counts_image",
    "peek_events",
    "peek_observation",
]


def _axes(ax, **kwargs):
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def plot_energy(events, ax=None, energy_edges=None, **kwargs):
    """Histogram of event energies on log-log axes; returns the axes."""
    ax = _axes(ax)
    energy = events.energy.to_value(u.TeV)
    if energy_edges is None:
        positive = energy[energy > 0]
        lo, hi = (positive.min(), positive.max()) if positive.size else (0.1, 100.0)
        energy_edges = np.geomspace(lo, hi * 1.0001, 31)
    else:
        energy_edges = u.Quantity(energy_edges, u.TeV).to_value(u.TeV)
    kwargs.setdefault("histtype", "step")
    kwargs.setdefault("label", "Events")
    ax.hist(energy, bins=energy_edges, **kwargs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Energy [TeV]")
    ax.set_ylabel("Counts")
    return ax


def plot_offset2_distribution(events, ax=None, center=None, max_percentile=98, **kwargs):
    """Histogram of the squared angular distance to ``center`` (default pointing)."""
    ax = _axes(ax)
    offset = (events.offset if center is None else events.offset_from(center)).deg
    offset2 = offset**2
    max2 = np.percentile(offset2, max_percentile) if offset2.size else 1.0
    kwargs.setdefault("histtype", "step")
    kwargs.setdefault("bins", 30)
    kwargs.setdefault("range", (0.0, max2))
    ax.hist(offset2, **kwargs)
    ax.set_xlabel("Offset^2 [deg2]")
    ax.set_ylabel("Counts")
    return ax


def plot_time(events, ax=None, n_bins: int = 30, **kwargs):
    """Event rate versus time since the first event; returns the axes."""
    ax = _axes(ax)
    seconds = events._column("TIME").to_value(u.s)
    if seconds.size == 0:
        return ax
    t0 = seconds.min()
    edges = np.linspace(0.0, max(seconds.max() - t0, 1.0), n_bins + 1)
    counts, _ = np.histogram(seconds - t0, bins=edges)
    rate = counts / np.diff(edges)
    kwargs.setdefault("drawstyle", "steps-mid")
    ax.plot(0.5 * (edges[1:] + edges[:-1]), rate, **kwargs)
    ax.set_xlabel(f"Time - {t0:.0f} s MET [s]")
    ax.set_ylabel("Event rate [s-1]")
    return ax


def plot_energy_offset(events, ax=None, energy_edges=None, offset_edges=None, **kwargs):
    """2D histogram of energy (log) versus offset; returns the axes."""
    from matplotlib.colors import LogNorm

    ax = _axes(ax)
    energy = events.energy.to_value(u.TeV)
    offset = events.offset.deg
    if energy_edges is None:
        energy_edges = np.geomspace(max(energy.min(), 1e-3), energy.max() * 1.0001, 31)
    if offset_edges is None:
        offset_edges = np.linspace(0.0, max(offset.max(), 0.1), 31)
    counts, _, _ = np.histogram2d(energy, offset, bins=(energy_edges, offset_edges))
    kwargs.setdefault("norm", LogNorm(vmin=1))
    mesh = ax.pcolormesh(energy_edges, offset_edges, counts.T, **kwargs)
    ax.set_xscale("log")
    ax.set_xlabel("Energy [TeV]")
    ax.set_ylabel("Offset [deg]")
    ax.figure.colorbar(mesh, ax=ax, label="Counts")
    return ax


def _image_wcs(lon: float, lat: float, width_deg: float, binsz_deg: float, allsky: bool):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    if allsky:
        npix = (int(360 / binsz_deg), int(180 / binsz_deg))
        wcs.wcs.ctype = ["RA---AIT", "DEC--AIT"]
        wcs.wcs.crval = [0.0, 0.0]
    else:
        npix = (int(np.ceil(width_deg / binsz_deg)),) * 2
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [lon, lat]
    wcs.wcs.cdelt = [-binsz_deg, binsz_deg]
    wcs.wcs.crpix = [npix[0] / 2 + 0.5, npix[1] / 2 + 0.5]
    wcs.wcs.radesys = "ICRS"
    return wcs, npix


def plot_counts_image(events, fig=None, position=111, allsky: bool = False,
                      width_deg: float | None = None, binsz_deg: float = 0.02, **kwargs):
    """Counts image in a WCSAxes (TAN around the pointing, or AIT all-sky); returns the axes."""
    import matplotlib.pyplot as plt

    fig = plt.gcf() if fig is None else fig
    ra, dec = events._radec_deg()
    lon, lat = events._center_deg()
    if width_deg is None:
        sep = angular_separation_deg(ra, dec, lon, lat) if ra.size else np.array([1.0])
        width_deg = 2.0 * min(max(float(np.percentile(sep, 99.5)), 0.5), 10.0)
    if allsky:
        binsz_deg = max(binsz_deg, 1.0)
    wcs, npix = _image_wcs(lon, lat, width_deg, binsz_deg, allsky)
    x, y = wcs.wcs_world2pix(ra, dec, 0)
    image, _, _ = np.histogram2d(y, x, bins=(npix[1], npix[0]),
                                 range=((-0.5, npix[1] - 0.5), (-0.5, npix[0] - 0.5)))
    ax = fig.add_subplot(position, projection=wcs)
    kwargs.setdefault("cmap", "viridis")
    kwargs.setdefault("origin", "lower")
    kwargs.setdefault("interpolation", "nearest")
    ax.imshow(image, **kwargs)
    ax.set_xlabel("Right Ascension")
    ax.set_ylabel("Declination")
    return ax


def peek_events(events, allsky: bool = False):
    """Overview figure of an event list (counts image, energy, offset^2, rate); returns it."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 8))
    plot_counts_image(events, fig=fig, position=221, allsky=allsky)
    plot_energy(events, ax=fig.add_subplot(222))
    if events.is_pointed_observation:
        plot_offset2_distribution(events, ax=fig.add_subplot(223))
    plot_time(events, ax=fig.add_subplot(224))
    fig.tight_layout()
    return fig


def peek_observation(observation, figsize=(15, 10)):
    """Overview figure of an observation: events image, energy histogram and IRF summaries.

    IRFs are drawn with their own ``plot``-style methods when available; a missing IRF leaves
    its panel with a note.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    events = observation.events
    plot_counts_image(events, fig=fig, position=231)
    plot_energy(events, ax=fig.add_subplot(232))
    panels = [
        ("aeff", "plot_energy_dependence", 233),
        ("edisp", "plot_bias", 234),
        ("psf", "plot_containment_radius_vs_energy", 235),
        ("bkg", "plot_energy_dependence", 236),
    ]
    for name, method, position in panels:
        ax = fig.add_subplot(position)
        irf = observation._get_optional(name)
        plotted = False
        if irf is not None and hasattr(irf, method):
            try:
                getattr(irf, method)(ax=ax)
                plotted = True
            except Exception as exc:  # a plotting issue of one IRF must not hide the others
                ax.text(0.5, 0.5, f"{name}: cannot plot ({exc})", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8, wrap=True)
                plotted = True
        if not plotted:
            ax.text(0.5, 0.5, f"{name}: not available", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_title(name)
    fig.tight_layout()
    return fig
