"""Effective area versus true energy and field-of-view offset (GADF ``aeff_2d``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .core import IRF

__all__ = ["EffectiveAreaTable2D"]

# aeff(E) = g1 * (E / MeV)**(-g2) * exp(-g3 / (E / MeV)) in cm2 (simple analytic
# approximations of the H.E.S.S. / CTA effective areas, for simulations and tests)
_PARAMETRIZATIONS = {
    "HESS": (6.85e9, 0.0891, 5e5),
    "HESS2": (2.05e9, 0.0891, 1e5),
    "CTA": (1.71e11, 0.0891, 1e5),
}


class EffectiveAreaTable2D(IRF):
    """Effective area ``A(E_true, offset)`` (unit m2).

    Axes: ``energy_true`` (log interpolation) and ``offset`` (linear). The safe energy
    range declared by the instrument team, if any, is in ``meta["LO_THRES"]`` /
    ``meta["HI_THRES"]`` (TeV), also available as `low_threshold` / `high_threshold`.
    """

    tag = "aeff_2d"
    required_axes = ["energy_true", "offset"]
    default_unit = u.m**2
    _data_columns = ("EFFAREA", "AEFF", "SPECRESP")

    @property
    def low_threshold(self) -> u.Quantity | None:
        """``LO_THRES`` header value (TeV) or None."""
        value = self.meta.get("LO_THRES")
        return None if value is None else u.Quantity(float(value), u.TeV)

    @property
    def high_threshold(self) -> u.Quantity | None:
        """``HI_THRES`` header value (TeV) or None."""
        value = self.meta.get("HI_THRES")
        return None if value is None else u.Quantity(float(value), u.TeV)

    @classmethod
    def from_parametrization(
        cls, energy_axis_true=None, instrument: str = "HESS", offset_max="5 deg"
    ) -> EffectiveAreaTable2D:
        """Analytic effective area for simulations.

        ``A(E) = g1 (E/MeV)**(-g2) exp(-g3 / (E/MeV))`` cm2 with ``(g1, g2, g3)`` for
        ``instrument`` in ``{"HESS", "HESS2", "CTA"}``; constant in offset over one offset
        bin from 0 to ``offset_max``.

        Parameters
        ----------
        energy_axis_true : `~gammapipe.maps.MapAxis`, optional
            True energy axis (default: 2 GeV - 200 TeV, 20 log bins per decade).
        instrument : str
            Parametrisation name.
        offset_max : `~astropy.units.Quantity`
            Upper edge of the single offset bin.
        """
        from gammapipe.maps import MapAxis

        if instrument not in _PARAMETRIZATIONS:
            raise ValueError(
                f"from_parametrization: unknown instrument {instrument!r}; "
                f"choose from {sorted(_PARAMETRIZATIONS)}"
            )
        if energy_axis_true is None:
            energy_axis_true = MapAxis.from_energy_bounds(
                "2 GeV", "200 TeV", nbin=100, name="energy_true"
            )
        g1, g2, g3 = _PARAMETRIZATIONS[instrument]
        energy = energy_axis_true.center.to_value(u.MeV)
        area = g1 * energy ** (-g2) * np.exp(-g3 / energy)
        offset_axis = MapAxis.from_edges(
            u.Quantity([0, u.Quantity(offset_max).to_value(u.deg)], u.deg), name="offset"
        )
        data = (area * u.cm**2).to_value(u.m**2)[:, np.newaxis]
        return cls(axes=[energy_axis_true, offset_axis], data=data, unit=u.m**2)

    # ---------------------------------------------------------------- plots
    def plot_energy_dependence(self, ax=None, offset=None, **kwargs):
        """Effective area versus true energy at a few offsets; returns the axes."""
        from .plotting import plot_curves

        axis = self.axes["energy_true"]
        if offset is None:
            offset_axis = self.axes["offset"]
            offset = (
                np.linspace(offset_axis.edges[0].value, offset_axis.center[-1].value, 4)
                * offset_axis.unit
            )
        offset = np.atleast_1d(u.Quantity(offset))
        energy = axis.center
        values = self.evaluate(energy_true=energy[:, None], offset=offset[None, :])
        labels = [f"offset = {o:.2f}" for o in offset]
        return plot_curves(
            ax,
            energy,
            values.T,
            labels,
            xlabel=f"True energy [{energy.unit}]",
            ylabel=f"Effective area [{self.unit}]",
            xscale="log",
            **kwargs,
        )

    def plot_offset_dependence(self, ax=None, energy=None, **kwargs):
        """Effective area versus offset at a few true energies; returns the axes."""
        from .plotting import plot_curves

        axis = self.axes["energy_true"]
        if energy is None:
            energy = np.geomspace(axis.center[0].value, axis.center[-1].value, 4) * axis.unit
        energy = np.atleast_1d(u.Quantity(energy))
        offset_axis = self.axes["offset"]
        offset = np.linspace(offset_axis.edges[0], offset_axis.edges[-1], 100)
        values = self.evaluate(energy_true=energy[:, None], offset=offset[None, :])
        labels = [f"E = {e:.3g}" for e in energy]
        return plot_curves(
            ax,
            offset,
            values,
            labels,
            xlabel=f"Offset [{offset.unit}]",
            ylabel=f"Effective area [{self.unit}]",
            **kwargs,
        )

    def plot(self, ax=None, add_cbar: bool = True, **kwargs):
        """Colour image of the effective area (true energy vs offset); returns the axes."""
        from .plotting import plot_image

        return plot_image(
            ax,
            self.axes["energy_true"],
            self.axes["offset"],
            self.quantity,
            label=f"Effective area [{self.unit}]",
            add_cbar=add_cbar,
            **kwargs,
        )

    def peek(self, figsize=(15, 5)):
        """Quick-look figure with the three plots; returns the array of axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=3, figsize=figsize)
        self.plot(ax=axes[2])
        self.plot_energy_dependence(ax=axes[0])
        self.plot_offset_dependence(ax=axes[1])
        fig.tight_layout()
        return axes
