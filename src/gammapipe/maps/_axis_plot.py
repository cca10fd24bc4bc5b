"""Plotting helpers shared by numeric map axes (matplotlib is never imported here)."""

from __future__ import annotations

import astropy.units as u

__all__ = ["AxisPlotMixin"]


class AxisPlotMixin:
    """``as_plot_*`` properties and axis formatting for `MapAxis`."""

    @property
    def as_plot_edges(self) -> u.Quantity:
        """Edges for plotting (same as `edges`)."""
        return self.edges

    @property
    def as_plot_center(self) -> u.Quantity:
        """Centres for plotting."""
        return self.center

    @property
    def as_plot_xerr(self) -> tuple[u.Quantity, u.Quantity]:
        """Lower and upper x errors (distance of the centre to the bin edges)."""
        return self.center - self.edges_min, self.edges_max - self.center

    @property
    def as_plot_labels(self) -> list[str]:
        """Labels "lo - hi unit" for each bin."""
        lo, hi = self.edges_min.value, self.edges_max.value
        return [f"{a:.2e} - {b:.2e} {self._unit}" for a, b in zip(lo, hi, strict=True)]

    @property
    def as_plot_scale(self) -> str:
        """Matplotlib axis scale ("log" or "linear")."""
        return "log" if self._interp == "log" else "linear"

    def format_plot_xaxis(self, ax):
        """Set scale and label of the x axis of ``ax``; return ``ax``."""
        ax.set_xscale(self.as_plot_scale)
        label = self._name.replace("_", " ").capitalize()
        ax.set_xlabel(f"{label} [{self._unit}]" if self._unit != u.one else label)
        return ax

    def format_plot_yaxis(self, ax):
        """Set scale and label of the y axis of ``ax``; return ``ax``."""
        ax.set_yscale(self.as_plot_scale)
        label = self._name.replace("_", " ").capitalize()
        ax.set_ylabel(f"{label} [{self._unit}]" if self._unit != u.one else label)
        return ax

    def iter_by_edges(self):
        """Iterate over ``(edge_min, edge_max)`` Quantity pairs."""
        yield from zip(self.edges_min, self.edges_max, strict=True)
