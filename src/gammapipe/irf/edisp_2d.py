"""Energy dispersion as a migration pdf ``dP/dmigra(E_true, migra, offset)`` (``edisp_2d``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .core import IRF

__all__ = ["EnergyDispersion2D", "migra_cdf_on_edges", "interp_cdf"]


def migra_cdf_on_edges(
    pdf: np.ndarray, migra_edges: np.ndarray, normalize: bool = False
) -> np.ndarray:
    """Cumulative probability at the migra bin edges for a pdf constant within bins.

    ``pdf`` has the migra axis last; the result has ``nbin + 1`` entries along it
    (0 at the first edge, the integral ``sum(pdf * width)`` at the last, or 1 with
    ``normalize=True``; rows without probability stay 0).
    """
    widths = np.diff(migra_edges)
    cdf = np.cumsum(pdf * widths, axis=-1)
    zeros = np.zeros(pdf.shape[:-1] + (1,))
    cdf = np.concatenate([zeros, cdf], axis=-1)
    if normalize:
        total = cdf[..., -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            cdf = np.where(total > 0, cdf / total, 0.0)
    return cdf


def interp_cdf(cdf: np.ndarray, edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Piecewise-linear evaluation of row-wise cdfs (last axis) at ``x`` (rows x points).

    ``cdf`` has shape ``(n_rows, n_edges)`` and ``x`` ``(n_rows, n_points)``; values below
    the first edge are 0, above the last edge the total.
    """
    n_rows = cdf.shape[0]
    xc = np.clip(x, edges[0], edges[-1])
    idx = np.clip(np.searchsorted(edges, xc, side="right") - 1, 0, edges.size - 2)
    lo, hi = edges[idx], edges[idx + 1]
    w = (xc - lo) / (hi - lo)
    rows = np.arange(n_rows)[:, None]
    return cdf[rows, idx] * (1 - w) + cdf[rows, idx + 1] * w


class EnergyDispersion2D(IRF):
    """Energy dispersion ``dP/dmigra`` with ``migra = E_reco / E_true``.

    Axes: ``energy_true`` (log), ``migra`` (linear), ``offset`` (linear); dimensionless
    probability density per unit migra.
    """

    tag = "edisp_2d"
    required_axes = ["energy_true", "migra", "offset"]
    default_unit = u.dimensionless_unscaled
    _data_columns = ("MATRIX",)

    def _pdf_rows(self, offset, energy_true: u.Quantity) -> np.ndarray:
        """Migra pdf at the migra bin centres, one row per true energy."""
        migra = self.axes["migra"].center
        return self.evaluate(
            offset=offset, energy_true=energy_true[:, None], migra=migra[None, :]
        ).to_value(u.dimensionless_unscaled)

    def to_edisp_kernel(
        self, offset, energy_axis_true=None, energy_axis=None, normalize: bool = True
    ):
        """Energy dispersion matrix (`EDispKernel`) at a given offset.

        For each true energy ``E_t`` (the centres of ``energy_axis_true``) the migra pdf
        is interpolated (log in energy, linear in offset) at the migra bin centres and
        taken constant within each migra bin; the probability of a reco bin
        ``[E_lo, E_hi]`` is the exact integral of that pdf over
        ``[E_lo / E_t, E_hi / E_t]`` (difference of the cumulative distribution on the
        migra edges, linear within a bin).

        With ``normalize=True`` (default, as the reference software) each interpolated
        migra pdf is first normalised to unit integral over the table's migra range, so
        a reco axis covering that range gives rows summing to 1 (rows without any
        probability stay 0). With ``normalize=False`` the table's own normalisation is
        kept (rows sum to the table's migra integral, which can be below 1 where the
        instrument team's table is, e.g. at very low energies of H.E.S.S. DL3 DR1).

        Parameters
        ----------
        offset : `~astropy.units.Quantity`
            Field-of-view offset.
        energy_axis_true : `~gammapipe.maps.MapAxis`, optional
            True energy axis (default: the IRF's).
        energy_axis : `~gammapipe.maps.MapAxis`, optional
            Reco energy axis (default: the true energy edges, named ``energy``).
        """
        from gammapipe.maps import MapAxis

        from .edisp_kernel import EDispKernel

        offset = u.Quantity(offset, u.deg)
        if offset.size != 1:
            raise ValueError("to_edisp_kernel: offset must be a scalar")
        offset = offset.reshape(())
        if energy_axis_true is None:
            energy_axis_true = self.axes["energy_true"]
        if energy_axis is None:
            energy_axis = MapAxis.from_edges(
                energy_axis_true.edges, name="energy", interp=energy_axis_true.interp
            )
        data = self._kernel_matrix(
            offset, energy_axis_true.center, energy_axis.edges, normalize=normalize
        )
        return EDispKernel(axes=[energy_axis_true, energy_axis], data=data)

    def _kernel_matrix(
        self, offset, energy_true: u.Quantity, energy_edges: u.Quantity, normalize: bool = True
    ):
        migra_edges = self.axes["migra"].edges.to_value(u.dimensionless_unscaled)
        pdf = self._pdf_rows(offset, energy_true)
        cdf = migra_cdf_on_edges(pdf, migra_edges, normalize=normalize)
        ratio = (energy_edges[None, :] / energy_true[:, None]).to_value(u.dimensionless_unscaled)
        values = interp_cdf(cdf, migra_edges, ratio)
        return np.clip(np.diff(values, axis=1), 0, None)

    @classmethod
    def from_gauss(
        cls,
        energy_axis_true,
        migra_axis,
        offset_axis,
        bias,
        sigma,
        pdf_threshold: float = 1e-6,
    ) -> EnergyDispersion2D:
        """Gaussian migration for simulations.

        The pdf in ``migra`` is a Gaussian of mean ``1 + bias`` and width ``sigma``
        (both may depend on true energy: arrays broadcast against the true energy
        axis centres), integrated exactly over each migra bin and divided by the bin
        width; values below ``pdf_threshold`` are set to 0. Constant in offset.
        """
        from scipy.special import ndtr

        n_e = energy_axis_true.nbin
        bias = np.broadcast_to(np.asarray(u.Quantity(bias).value, dtype=float), (n_e,))
        sigma = np.broadcast_to(np.asarray(u.Quantity(sigma).value, dtype=float), (n_e,))
        if np.any(sigma <= 0):
            raise ValueError("from_gauss: sigma must be positive")
        edges = migra_axis.edges.to_value(u.dimensionless_unscaled)
        t = (edges[None, :] - 1 - bias[:, None]) / sigma[:, None]
        pdf = np.diff(ndtr(t), axis=1) / np.diff(edges)[None, :]
        pdf[pdf < pdf_threshold] = 0
        data = np.repeat(pdf[:, :, None], offset_axis.nbin, axis=2)
        return cls(axes=[energy_axis_true, migra_axis, offset_axis], data=data)

    def normalize(self, axis_name: str = "migra") -> None:
        """Normalise the migra pdf to integrate to 1 for each (true energy, offset)."""
        super().normalize(axis_name=axis_name)

    # ---------------------------------------------------------------- plots
    def plot_migration(self, ax=None, offset=None, energy_true=None, migra=None, **kwargs):
        """Migration pdf versus migra for a few true energies; returns the axes."""
        from .plotting import plot_curves

        if offset is None:
            offset = self.axes["offset"].center[0]
        if energy_true is None:
            axis = self.axes["energy_true"]
            energy_true = np.geomspace(axis.center[0].value, axis.center[-1].value, 4)
            energy_true = energy_true * axis.unit
        if migra is None:
            migra = self.axes["migra"].center
        energy_true = np.atleast_1d(u.Quantity(energy_true))
        values = self.evaluate(
            offset=offset, energy_true=energy_true[:, None], migra=u.Quantity(migra)[None, :]
        )
        labels = [f"E_true = {e:.3g}, offset = {u.Quantity(offset):.2f}" for e in energy_true]
        return plot_curves(
            ax,
            migra,
            values,
            labels,
            xlabel="Migra (E_reco / E_true)",
            ylabel="Probability density",
            **kwargs,
        )

    def plot_bias(self, ax=None, offset=None, add_cbar: bool = True, **kwargs):
        """Image of the migration pdf versus true energy and migra; returns the axes."""
        from .plotting import plot_image

        if offset is None:
            offset = self.axes["offset"].center[0]
        energy_axis = self.axes["energy_true"]
        values = self.evaluate(
            offset=offset,
            energy_true=energy_axis.center[:, None],
            migra=self.axes["migra"].center[None, :],
        )
        ax = plot_image(
            ax,
            energy_axis,
            self.axes["migra"],
            values,
            label="Probability density",
            add_cbar=add_cbar,
            **kwargs,
        )
        return ax

    def peek(self, figsize=(15, 5)):
        """Quick-look figure (bias image, migration curves, kernel); returns the axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=3, figsize=figsize)
        self.plot_bias(ax=axes[0])
        self.plot_migration(ax=axes[1])
        offset = self.axes["offset"].center[0]
        self.to_edisp_kernel(offset=offset).plot_matrix(ax=axes[2])
        fig.tight_layout()
        return axes
