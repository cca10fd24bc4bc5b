"""Shared PSF logic: containment, containment radius, conversion and plots.

All PSFs are radially symmetric probability densities ``dP/dOmega(rad)`` (unit sr-1)
depending on true energy and field-of-view offset. Integrals use the small-angle
approximation of the GADF specification: ``P(< r) = int_0^r 2 pi r' dP/dOmega dr'``
with ``r`` in radians.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .core import IRF

__all__ = ["PSF", "invert_containment", "DEFAULT_RAD_AXIS_EDGES_DEG"]

# default rad binning of `to_psf3d`: 0 - 0.66 deg in 0.01 deg steps
DEFAULT_RAD_AXIS_EDGES_DEG = np.linspace(0, 0.66, 67)


def invert_containment(
    rad_grid: np.ndarray, containment: np.ndarray, fraction: np.ndarray
) -> np.ndarray:
    """Smallest radius where a monotone containment curve reaches ``fraction``.

    ``containment`` has the rad grid on its last axis (shape ``S + (n,)``) and
    ``fraction`` broadcasts against ``S``. Linear interpolation between grid points;
    the last grid radius is returned where ``fraction`` is never reached.
    """
    containment = np.maximum.accumulate(containment, axis=-1)
    shape = np.broadcast_shapes(containment.shape[:-1], np.shape(fraction))
    c = np.broadcast_to(containment, shape + containment.shape[-1:])
    f = np.broadcast_to(fraction, shape)[..., None]
    above = c >= f
    idx = np.argmax(above, axis=-1)
    never = ~above.any(axis=-1)
    idx = np.clip(idx, 1, rad_grid.size - 1)
    c_hi = np.take_along_axis(c, idx[..., None], axis=-1)[..., 0]
    c_lo = np.take_along_axis(c, (idx - 1)[..., None], axis=-1)[..., 0]
    r_hi, r_lo = rad_grid[idx], rad_grid[idx - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(c_hi > c_lo, (f[..., 0] - c_lo) / (c_hi - c_lo), 1.0)
    r = r_lo + np.clip(w, 0, 1) * (r_hi - r_lo)
    r = np.where(f[..., 0] <= c[..., 0], rad_grid[0], r)
    return np.where(never, rad_grid[-1], r)


class PSF(IRF):
    """Common API of the PSF classes (`PSF3D`, `EnergyDependentMultiGaussPSF`,
    `PSFKing`)."""

    default_unit = u.sr**-1

    def _default_coord(self, name, value):
        if value is None:
            axis = self.axes[name]
            return axis.center[0] if name == "offset" else axis.center
        return u.Quantity(value)

    def _rad_max(self) -> u.Quantity:
        """Largest radius used for numerical containment radii."""
        return u.Quantity(2.0, u.deg)

    def containment(self, rad, energy_true=None, offset=None) -> u.Quantity:
        """Fraction of the PSF within ``rad`` (arrays broadcast)."""
        raise NotImplementedError

    def containment_radius(self, fraction, energy_true=None, offset=None) -> u.Quantity:
        """Radius containing ``fraction`` of the PSF.

        Vectorised: the containment is computed on a fine rad grid (2001 points from 0
        to the PSF's maximum radius) for all (energy, offset) at once and inverted by
        linear interpolation. ``fraction``, ``energy_true`` and ``offset`` broadcast.
        """
        energy_true = self._default_coord("energy_true", energy_true)
        offset = self._default_coord("offset", offset)
        fraction = np.asarray(fraction, dtype=float)
        if np.any((fraction < 0) | (fraction > 1)):
            raise ValueError(f"containment_radius: fraction must be in [0, 1], got {fraction}")
        rad_max = self._rad_max().to_value(u.deg)
        grid = np.linspace(0, rad_max, 2001)
        e, o = np.broadcast_arrays(energy_true.value, offset.to_value(u.deg))
        cont = self.containment(
            rad=grid * u.deg,
            energy_true=u.Quantity(e, energy_true.unit)[..., None],
            offset=u.Quantity(o, u.deg)[..., None],
        ).to_value(u.dimensionless_unscaled)
        return u.Quantity(invert_containment(grid, cont, fraction), u.deg)

    def to_psf3d(self, rad_axis=None):
        """Tabulate on ``(energy_true, offset, rad)`` as a `PSF3D` (default rad axis
        0-0.66 deg in 0.01 deg bins)."""
        from gammapipe.maps import MapAxis

        from .psf_table import PSF3D

        if rad_axis is None:
            rad_axis = MapAxis.from_edges(DEFAULT_RAD_AXIS_EDGES_DEG, unit="deg", name="rad")
        e_axis, o_axis = self.axes["energy_true"], self.axes["offset"]
        data = self.evaluate(
            energy_true=e_axis.center[:, None, None],
            offset=o_axis.center[None, :, None],
            rad=rad_axis.center[None, None, :],
        ).to(u.sr**-1)
        return PSF3D(
            axes=[e_axis, o_axis, rad_axis], data=data.value, unit=data.unit, meta=dict(self.meta)
        )

    # ---------------------------------------------------------------- plots
    def plot_containment_radius_vs_energy(
        self, ax=None, fraction=(0.68, 0.95), offset=(0, 1) * u.deg, **kwargs
    ):
        """Containment radius versus true energy; returns the axes."""
        from .plotting import get_ax

        ax = get_ax(ax)
        energy = self.axes["energy_true"].center
        for frac in np.atleast_1d(fraction):
            for off in np.atleast_1d(u.Quantity(offset, u.deg)):
                radius = self.containment_radius(frac, energy_true=energy, offset=off)
                ax.plot(
                    energy.value,
                    radius.value,
                    label=f"{100 * frac:.0f}% containment, offset = {off:.1f}",
                    **kwargs,
                )
        ax.set_xscale("log")
        ax.set_xlabel(f"True energy [{energy.unit}]")
        ax.set_ylabel("Containment radius [deg]")
        ax.legend(loc="best")
        return ax

    def plot_psf_vs_rad(
        self, ax=None, energy_true=(0.1, 1, 10) * u.TeV, offset=0 * u.deg, **kwargs
    ):
        """PSF profile versus rad for a few true energies; returns the axes."""
        from .plotting import get_ax

        ax = get_ax(ax)
        rad = np.linspace(0, self._rad_max().to_value(u.deg), 200)[1:] * u.deg
        for energy in np.atleast_1d(u.Quantity(energy_true)):
            values = self.evaluate(energy_true=energy, offset=offset, rad=rad).to(u.sr**-1)
            ax.plot(rad.value, values.value, label=f"E = {energy:.2g}", **kwargs)
        ax.set_yscale("log")
        ax.set_xlabel("Rad [deg]")
        ax.set_ylabel("PSF [sr-1]")
        ax.legend(loc="best")
        return ax

    def plot_containment_radius(self, ax=None, fraction=0.68, add_cbar=True, **kwargs):
        """Image of the containment radius versus true energy and offset."""
        from .plotting import plot_image

        e_axis, o_axis = self.axes["energy_true"], self.axes["offset"]
        radius = self.containment_radius(
            fraction, energy_true=e_axis.center[:, None], offset=o_axis.center[None, :]
        )
        return plot_image(
            ax,
            e_axis,
            o_axis,
            radius,
            label=f"{100 * fraction:.0f}% containment radius [deg]",
            add_cbar=add_cbar,
            **kwargs,
        )

    def peek(self, figsize=(15, 5)):
        """Quick-look figure; returns the array of axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=3, figsize=figsize)
        self.plot_containment_radius(ax=axes[0])
        self.plot_containment_radius_vs_energy(ax=axes[1])
        self.plot_psf_vs_rad(ax=axes[2])
        fig.tight_layout()
        return axes
