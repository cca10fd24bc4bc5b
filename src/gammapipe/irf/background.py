"""Background rate models: ``Background3D`` (``bkg_3d``) and ``Background2D`` (``bkg_2d``).

Field-of-view coordinates: ``fov_lon`` / ``fov_lat`` are the GADF ``DETX`` / ``DETY``
columns, unchanged (see `gammapipe.irf.io` for the conventions: with
``FOVALIGN = 'RADEC'`` fov_lon grows with RA and fov_lat with Dec; with ``'ALTAZ'``
with azimuth and altitude).

Data layout of ``bkg_3d``: existing IACT files (H.E.S.S. DL3 DR1, CTA 1DC) and the
reference software store the ``BKG`` array with numpy (slowest-first) order
``(ENERG, DETX, DETY)`` while listing the axis columns as DETX, DETY, ENERG. gammapipe
reads and writes that layout (falling back on the strict reverse-column order for
non-square files that only fit it).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .core import IRF

__all__ = ["Background3D", "Background2D"]

_BKG_UNIT = u.Unit("s-1 MeV-1 sr-1")


def _power_law_gauss(energy, offset, amplitude, index, sigma, reference):
    """``amplitude (E / reference)**-index exp(-offset**2 / (2 sigma**2))``."""
    energy = u.Quantity(energy)
    spectral = (energy / u.Quantity(reference)).to_value(u.dimensionless_unscaled) ** (-index)
    radial = np.exp(-0.5 * (u.Quantity(offset) / u.Quantity(sigma)).to_value("") ** 2)
    return u.Quantity(amplitude) * spectral * radial


class _BackgroundMixin:
    def plot_energy_dependence(self, ax=None, offset=None, **kwargs):
        """Background rate versus energy at a few offsets; returns the axes."""
        from .plotting import plot_curves

        energy = self.axes["energy"].center
        if offset is None:
            offset = np.linspace(0, self._offset_max().to_value(u.deg), 4)[:-1] * u.deg
        offset = np.atleast_1d(u.Quantity(offset, u.deg))
        values = self._evaluate_offset(energy[None, :], offset[:, None])
        return plot_curves(
            ax,
            energy,
            values,
            [f"offset = {o:.2f}" for o in offset],
            xlabel=f"Energy [{energy.unit}]",
            ylabel=f"Background rate [{self.unit}]",
            xscale="log",
            yscale="log",
            **kwargs,
        )

    def plot_offset_dependence(self, ax=None, energy=None, **kwargs):
        """Background rate versus offset at a few energies; returns the axes."""
        from .plotting import plot_curves

        axis = self.axes["energy"]
        if energy is None:
            energy = np.geomspace(axis.center[0].value, axis.center[-1].value, 4) * axis.unit
        energy = np.atleast_1d(u.Quantity(energy))
        offset = np.linspace(0, self._offset_max().to_value(u.deg), 100) * u.deg
        values = self._evaluate_offset(energy[:, None], offset[None, :])
        return plot_curves(
            ax,
            offset,
            values,
            [f"E = {e:.3g}" for e in energy],
            xlabel="Offset [deg]",
            ylabel=f"Background rate [{self.unit}]",
            yscale="log",
            **kwargs,
        )

    def plot_spectrum(self, ax=None, **kwargs):
        """Background rate versus energy at the field-of-view centre; returns the axes."""
        return self.plot_energy_dependence(ax=ax, offset=[0] * u.deg, **kwargs)


class Background3D(_BackgroundMixin, IRF):
    """Background rate ``dN/(dt dE dOmega)`` (unit s-1 MeV-1 sr-1) on reco ``energy``
    and field-of-view ``fov_lon``, ``fov_lat``.

    Interpolation is linear in ``log(rate)`` (log energy, linear FoV coordinates); rate
    zero in the table gives zero.
    """

    tag = "bkg_3d"
    required_axes = ["energy", "fov_lon", "fov_lat"]
    default_unit = _BKG_UNIT
    default_interp_kwargs = {"fill_value": 0.0, "values_scale": "log"}
    _data_columns = ("BKG", "BGD")
    _numpy_axis_order = ["energy", "fov_lon", "fov_lat"]
    _write_column_order = ["fov_lon", "fov_lat", "energy"]

    def _header_cards(self) -> dict:
        header = super()._header_cards()
        header["FOVALIGN"] = self.fov_alignment.value
        return header

    def _offset_max(self) -> u.Quantity:
        lon = np.max(np.abs(self.axes["fov_lon"].edges.to_value(u.deg)))
        lat = np.max(np.abs(self.axes["fov_lat"].edges.to_value(u.deg)))
        return u.Quantity(min(lon, lat), u.deg)

    def _evaluate_offset(self, energy, offset):
        return self.evaluate(energy=energy, fov_lon=offset, fov_lat=0 * u.deg)

    def to_2d(self) -> Background2D:
        """Radially averaged `Background2D`.

        Offset bins: from 0 to the smallest half-width of the FoV grid, with half as many
        bins as ``fov_lon``; each offset bin holds the mean rate of the FoV bins whose
        centres fall in it (bins without any FoV bin centre are interpolated).
        """
        from gammapipe.maps import MapAxis

        lon = self.axes["fov_lon"].center.to_value(u.deg)
        lat = self.axes["fov_lat"].center.to_value(u.deg)
        n_off = max(self.axes["fov_lon"].nbin // 2, 1)
        edges = np.linspace(0, self._offset_max().value, n_off + 1)
        offset = np.hypot(lon[:, None], lat[None, :]).ravel()
        idx = np.digitize(offset, edges) - 1
        inside = (idx >= 0) & (idx < n_off)
        data = self.data.reshape(self.data.shape[0], -1)[:, inside]
        idx = idx[inside]
        counts = np.bincount(idx, minlength=n_off).astype(float)
        n_e = data.shape[0]
        flat_idx = (np.arange(n_e)[:, None] * n_off + idx[None, :]).ravel()
        sums = np.bincount(flat_idx, weights=data.ravel(), minlength=n_e * n_off)
        sums = sums.reshape(n_e, n_off)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts[None, :]
        empty = counts == 0
        if empty.any() and (~empty).sum() >= 1:
            centers = 0.5 * (edges[1:] + edges[:-1])
            for i in range(n_e):  # loop over energy bins only (few), not pixels
                mean[i, empty] = np.interp(centers[empty], centers[~empty], mean[i, ~empty])
        offset_axis = MapAxis.from_edges(edges, unit="deg", name="offset")
        return Background2D(
            axes=[self.axes["energy"], offset_axis], data=mean, unit=self.unit, meta=dict(self.meta)
        )

    def to_3d(self) -> Background3D:
        """Return self (already 3D)."""
        return self

    @classmethod
    def from_parametrization(
        cls,
        energy_axis=None,
        fov_lon_axis=None,
        fov_lat_axis=None,
        amplitude="1e-4 s-1 MeV-1 sr-1",
        index=2.7,
        sigma="1.5 deg",
        reference="1 TeV",
        fov_alignment="RADEC",
    ) -> Background3D:
        """Analytic background for simulations: power law in energy times a radial
        Gaussian, ``amplitude (E/reference)**-index exp(-r**2 / 2 sigma**2)`` with
        ``r**2 = fov_lon**2 + fov_lat**2`` (defaults: 0.1-100 TeV in 12 bins,
        -3..3 deg in 0.2 deg bins)."""
        from gammapipe.maps import MapAxis

        if energy_axis is None:
            energy_axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=12, name="energy")
        if fov_lon_axis is None:
            fov_lon_axis = MapAxis.from_bounds(-3, 3, nbin=30, unit="deg", name="fov_lon")
        if fov_lat_axis is None:
            fov_lat_axis = MapAxis.from_bounds(-3, 3, nbin=30, unit="deg", name="fov_lat")
        lon = fov_lon_axis.center.to(u.deg)[None, :, None]
        lat = fov_lat_axis.center.to(u.deg)[None, None, :]
        offset = np.hypot(lon, lat)
        data = _power_law_gauss(
            energy_axis.center[:, None, None], offset, amplitude, index, sigma, reference
        ).to(_BKG_UNIT)
        return cls(
            axes=[energy_axis, fov_lon_axis, fov_lat_axis],
            data=data.value,
            unit=data.unit,
            fov_alignment=fov_alignment,
        )

    def plot_at_energy(
        self, energy=None, add_cbar: bool = True, ncols: int = 3, figsize=None, **kwargs
    ):
        """FoV images of the rate at a few energies; returns the array of axes."""
        import matplotlib.pyplot as plt

        from .plotting import plot_image

        axis = self.axes["energy"]
        if energy is None:
            energy = np.geomspace(axis.center[0].value, axis.center[-1].value, 3) * axis.unit
        energy = np.atleast_1d(u.Quantity(energy))
        ncols = min(ncols, energy.size)
        nrows = int(np.ceil(energy.size / ncols))
        figsize = figsize or (4 * ncols + 1, 3.5 * nrows)
        fig, axes = plt.subplots(nrows=nrows, ncols=ncols, figsize=figsize, squeeze=False)
        lon_axis, lat_axis = self.axes["fov_lon"], self.axes["fov_lat"]
        for ax, e in zip(axes.flat, energy, strict=False):
            values = self.evaluate(
                energy=e, fov_lon=lon_axis.center[:, None], fov_lat=lat_axis.center[None, :]
            )
            plot_image(
                ax,
                lon_axis,
                lat_axis,
                values,
                label=f"Rate [{self.unit}]",
                add_cbar=add_cbar,
                **kwargs,
            )
            ax.set_title(f"E = {e:.3g}")
        for ax in list(axes.flat)[energy.size :]:
            ax.set_visible(False)
        fig.tight_layout()
        return axes

    def peek(self, figsize=(15, 5)):
        """Quick-look figure; returns the array of axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=3, figsize=figsize)
        self.plot_energy_dependence(ax=axes[0])
        self.plot_offset_dependence(ax=axes[1])
        from .plotting import plot_image

        lon_axis, lat_axis = self.axes["fov_lon"], self.axes["fov_lat"]
        e = self.axes["energy"].center[self.axes["energy"].nbin // 2]
        values = self.evaluate(
            energy=e, fov_lon=lon_axis.center[:, None], fov_lat=lat_axis.center[None, :]
        )
        plot_image(axes[2], lon_axis, lat_axis, values, label=f"Rate [{self.unit}]")
        axes[2].set_title(f"E = {e:.3g}")
        fig.tight_layout()
        return axes


class Background2D(_BackgroundMixin, IRF):
    """Radially symmetric background rate (unit s-1 MeV-1 sr-1) on reco ``energy`` and
    ``offset``; `evaluate` also accepts ``fov_lon`` / ``fov_lat`` (converted to offset).
    """

    tag = "bkg_2d"
    required_axes = ["energy", "offset"]
    default_unit = _BKG_UNIT
    default_interp_kwargs = {"fill_value": 0.0, "values_scale": "log"}
    _data_columns = ("BKG", "BGD")

    def evaluate(self, method=None, **kwargs):
        """Evaluate at ``energy`` and ``offset`` (or ``fov_lon`` and ``fov_lat``)."""
        lon = kwargs.pop("fov_lon", None)
        lat = kwargs.pop("fov_lat", None)
        if lon is not None or lat is not None:
            if "offset" in kwargs:
                raise ValueError("Background2D.evaluate: give offset or fov_lon/fov_lat")
            lon = u.Quantity(0 if lon is None else lon, u.deg)
            lat = u.Quantity(0 if lat is None else lat, u.deg)
            kwargs["offset"] = np.hypot(lon, lat)
        return super().evaluate(method=method, **kwargs)

    def _offset_max(self) -> u.Quantity:
        return self.axes["offset"].edges[-1].to(u.deg)

    def _evaluate_offset(self, energy, offset):
        return self.evaluate(energy=energy, offset=offset)

    def to_2d(self) -> Background2D:
        """Return self."""
        return self

    def to_3d(self) -> Background3D:
        """`Background3D` on a square FoV grid (``-offset_max .. offset_max`` with twice
        the number of offset bins), evaluated at ``offset = hypot(fov_lon, fov_lat)``."""
        from gammapipe.maps import MapAxis

        offset_max = self._offset_max().value
        n = 2 * self.axes["offset"].nbin
        lon_axis = MapAxis.from_bounds(-offset_max, offset_max, nbin=n, unit="deg", name="fov_lon")
        lat_axis = MapAxis.from_bounds(-offset_max, offset_max, nbin=n, unit="deg", name="fov_lat")
        data = self.evaluate(
            energy=self.axes["energy"].center[:, None, None],
            fov_lon=lon_axis.center[None, :, None],
            fov_lat=lat_axis.center[None, None, :],
        )
        return Background3D(
            axes=[self.axes["energy"], lon_axis, lat_axis],
            data=data.value,
            unit=data.unit,
            meta=dict(self.meta),
        )

    @classmethod
    def from_parametrization(
        cls,
        energy_axis=None,
        offset_axis=None,
        amplitude="1e-4 s-1 MeV-1 sr-1",
        index=2.7,
        sigma="1.5 deg",
        reference="1 TeV",
    ) -> Background2D:
        """Analytic background ``amplitude (E/reference)**-index exp(-offset**2 /
        2 sigma**2)`` (defaults: 0.1-100 TeV in 12 bins, 0-3 deg in 0.1 deg bins)."""
        from gammapipe.maps import MapAxis

        if energy_axis is None:
            energy_axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=12, name="energy")
        if offset_axis is None:
            offset_axis = MapAxis.from_bounds(0, 3, nbin=30, unit="deg", name="offset")
        data = _power_law_gauss(
            energy_axis.center[:, None],
            offset_axis.center[None, :],
            amplitude,
            index,
            sigma,
            reference,
        ).to(_BKG_UNIT)
        return cls(axes=[energy_axis, offset_axis], data=data.value, unit=data.unit)

    def plot(self, ax=None, add_cbar: bool = True, **kwargs):
        """Image of the rate versus energy and offset; returns the axes."""
        from .plotting import plot_image

        kwargs.setdefault("norm", _log_norm(self.data))
        return plot_image(
            ax,
            self.axes["energy"],
            self.axes["offset"],
            self.quantity,
            label=f"Rate [{self.unit}]",
            add_cbar=add_cbar,
            **kwargs,
        )

    def peek(self, figsize=(15, 5)):
        """Quick-look figure; returns the array of axes."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows=1, ncols=3, figsize=figsize)
        self.plot(ax=axes[0])
        self.plot_energy_dependence(ax=axes[1])
        self.plot_offset_dependence(ax=axes[2])
        fig.tight_layout()
        return axes


def _log_norm(data):
    from matplotlib.colors import LogNorm

    positive = data[data > 0]
    if positive.size == 0:
        return None
    return LogNorm(vmin=positive.min(), vmax=positive.max())
