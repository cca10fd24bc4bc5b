"""Tabulated PSF ``dP/dOmega(E_true, offset, rad)`` (GADF ``psf_table``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .psf_core import PSF

__all__ = ["PSF3D", "radial_cumulative"]


def radial_cumulative(edges: np.ndarray, values: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Containment ``P(< rad)`` of a PSF histogram in annuli.

    ``values`` (shape ``S + (n,)``) are the mean ``dP/dOmega`` in the annuli between
    ``edges`` (``n + 1`` radii, radians); ``rad`` broadcasts against ``S``. The
    probability of annulus ``k`` is ``values[k] * pi * (r_{k+1}**2 - r_k**2)``
    (small-angle); within an annulus the density is constant, so ``P`` grows linearly
    in ``r**2``. Beyond the last edge ``P`` is the total.
    """
    area = np.pi * np.diff(edges**2)
    cum = np.cumsum(values * area, axis=-1)
    cum = np.concatenate([np.zeros(values.shape[:-1] + (1,)), cum], axis=-1)
    shape = np.broadcast_shapes(values.shape[:-1], np.shape(rad))
    vals = np.broadcast_to(values, shape + values.shape[-1:])
    cum = np.broadcast_to(cum, shape + cum.shape[-1:])
    r = np.clip(np.broadcast_to(rad, shape), edges[0], edges[-1])
    idx = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, edges.size - 2)
    c0 = np.take_along_axis(cum, idx[..., None], axis=-1)[..., 0]
    v = np.take_along_axis(vals, idx[..., None], axis=-1)[..., 0]
    return c0 + v * np.pi * (r**2 - edges[idx] ** 2)


class PSF3D(PSF):
    """Tabulated PSF (unit sr-1) on ``energy_true`` (log), ``offset`` and ``rad`` (linear).

    `evaluate` interpolates linearly between the rad nodes (bin centres) and
    extrapolates linearly between 0 and the first node (clipped at 0). Integrals
    (`containment`, `normalize`) treat the table as the histogram it is: mean
    ``dP/dOmega`` per annulus.
    """

    tag = "psf_table"
    required_axes = ["energy_true", "offset", "rad"]
    _data_columns = ("RPSF", "PSF")

    def _rad_max(self) -> u.Quantity:
        return self.axes["rad"].edges[-1].to(u.deg)

    def containment(self, rad, energy_true=None, offset=None) -> u.Quantity:
        """Containment fraction within ``rad``.

        The table is a histogram in rad: the value of a rad bin is the mean
        ``dP/dOmega`` over its annulus (interpolated in energy and offset), so the
        probability in the bin is ``value * pi * (r_hi**2 - r_lo**2)``. The containment
        at the bin edges is the cumulative sum of these (the table normalisation is
        preserved exactly); within a bin it grows linearly in ``r**2`` (constant
        density). Inputs broadcast.
        """
        energy_true = self._default_coord("energy_true", energy_true)
        offset = self._default_coord("offset", offset)
        rad = u.Quantity(rad, u.deg)
        axis = self.axes["rad"]
        e, o = np.broadcast_arrays(energy_true.value, offset.to_value(u.deg))
        values = self.evaluate(
            energy_true=u.Quantity(e, energy_true.unit)[..., None],
            offset=u.Quantity(o, u.deg)[..., None],
            rad=axis.center,
        ).to_value(u.sr**-1)
        edges = axis.edges.to_value(u.rad)
        out = radial_cumulative(edges, values, rad.to_value(u.rad))
        return u.Quantity(out, u.dimensionless_unscaled)

    def normalize(self, axis_name: str = "rad") -> None:
        """Normalise in place so that the PSF integrates to 1 over rad (per energy and
        offset): divide by ``sum(value * pi * (r_hi**2 - r_lo**2))`` (as `containment`)."""
        if axis_name != "rad":
            super().normalize(axis_name)
            return
        e_axis, o_axis = self.axes["energy_true"], self.axes["offset"]
        total = self.containment(
            rad=self.axes["rad"].edges[-1],
            energy_true=e_axis.center[:, None],
            offset=o_axis.center[None, :],
        ).value
        with np.errstate(invalid="ignore", divide="ignore"):
            data = self.data / total[:, :, None]
        self.data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
