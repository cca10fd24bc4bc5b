"""Energy- and offset-dependent directional cut ``RAD_MAX`` of point-like IRFs
(GADF ``rad_max_2d``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import FITSFormatError

from .core import IRF

__all__ = ["RadMax2D"]


class RadMax2D(IRF):
    """Radius of the ON region (theta cut) versus reco ``energy`` and ``offset`` (deg)."""

    tag = "rad_max_2d"
    required_axes = ["energy", "offset"]
    default_unit = u.deg
    _data_columns = ("RAD_MAX",)

    @property
    def is_fixed_rad_max(self) -> bool:
        """Whether the cut is the same for all energies and offsets."""
        return bool(np.all(self.data == self.data.flat[0]))

    @classmethod
    def from_irf(cls, irf) -> RadMax2D:
        """Global cut from the ``RAD_MAX`` header keyword of a point-like IRF: one bin
        covering the IRF's energy and offset ranges."""
        from gammapipe.maps import MapAxis

        if not irf.is_pointlike:
            raise ValueError(f"RadMax2D.from_irf: {type(irf).__name__} is not point-like")
        value = irf.meta.get("RAD_MAX")
        if value is None:
            raise FITSFormatError(
                f"RadMax2D.from_irf: {type(irf).__name__} has no RAD_MAX header keyword"
            )
        energy_name = "energy_true" if "energy_true" in irf.axes.names else "energy"
        e_axis = irf.axes[energy_name]
        o_axis = irf.axes["offset"]
        energy_axis = MapAxis.from_edges(e_axis.edges[[0, -1]], name="energy", interp="log")
        offset_axis = MapAxis.from_edges(o_axis.edges[[0, -1]], name="offset")
        return cls(
            axes=[energy_axis, offset_axis], data=[[float(value)]], unit=u.deg, is_pointlike=True
        )

    def plot_rad_max_vs_energy(self, ax=None, **kwargs):
        """RAD_MAX versus energy for each offset bin; returns the axes."""
        from .plotting import plot_curves

        energy = self.axes["energy"].center
        offsets = self.axes["offset"].center
        values = self.evaluate(energy=energy[None, :], offset=offsets[:, None])
        return plot_curves(
            ax,
            energy,
            values,
            [f"offset = {o:.2f}" for o in offsets],
            xlabel=f"Energy [{energy.unit}]",
            ylabel=f"RAD_MAX [{self.unit}]",
            xscale="log",
            **kwargs,
        )

    def peek(self, figsize=(6, 5)):
        """Quick-look plot; returns the axes."""
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
        return self.plot_rad_max_vs_energy(ax=ax)
