"""Energy dispersion on a sky grid: `EDispKernelMap` (reco-energy kernel) and `EDispMap`
(migration pdf)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError

from .irf_map import IRFMap
from .psf_map import _rng

__all__ = ["EDispKernelMap", "EDispMap", "migra_pdf_to_kernel"]


def _default_geom(axes):
    """Whole-sky region geometry (one spatial bin) used when no geometry is given."""
    from gammapipe.maps import RegionGeom

    return RegionGeom.create(region=None, axes=axes)


class EDispKernelMap(IRFMap):
    """Energy dispersion kernel ``P(E_reco bin | E_true bin)`` on a sky grid.

    Parameters
    ----------
    edisp_kernel_map : `~gammapipe.maps.WcsNDMap`
        Kernel, data shape ``(energy_true, energy, lat, lon)``, dimensionless.
    exposure_map : `~gammapipe.maps.WcsNDMap`, optional
        Exposure, data shape ``(energy_true, 1, lat, lon)``.
    """

    tag = "edisp_kernel_map"
    _hdu_name = "EDISP"
    _irf_axis = "energy"
    _irf_unit = ""
    required_axes = ("energy", "energy_true")

    def __init__(self, edisp_kernel_map, exposure_map=None):
        super().__init__(edisp_kernel_map, exposure_map)

    @property
    def edisp_map(self):
        """Kernel map."""
        return self._irf_map

    @edisp_map.setter
    def edisp_map(self, value):
        self._irf_map = value

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edisp_kernel(cls, edisp, geom=None):
        """Same kernel (`~gammapipe.irf.EDispKernel`) in every pixel of ``geom``."""
        from gammapipe.maps import Map

        axes = [edisp.axes["energy"], edisp.axes["energy_true"]]
        geom = _default_geom(axes) if geom is None else geom.to_image().to_cube(axes)
        data = np.broadcast_to(np.asarray(edisp.data, float)[:, :, None, None],
                               geom.data_shape).astype("float32")
        edisp_map = Map.from_geom(geom, data=data.copy(), unit="")
        exposure_map = Map.from_geom(geom.squash("energy"), unit="m2 s")
        exposure_map.data[...] = 1.0
        return cls(edisp_map, exposure_map)

    @classmethod
    def from_diagonal_response(cls, energy_axis, energy_axis_true=None, geom=None):
        """Perfect energy resolution (each true bin falls in the overlapping reco bins)."""
        from gammapipe.irf import EDispKernel

        if energy_axis_true is None:
            energy_axis_true = energy_axis.copy(name="energy_true")
        kernel = EDispKernel.from_diagonal_response(energy_axis_true, energy_axis)
        return cls.from_edisp_kernel(kernel, geom=geom)

    # ------------------------------------------------------------------ access
    def get_edisp_kernel(self, position=None, energy_axis=None):
        """`~gammapipe.irf.EDispKernel` at ``position`` (nearest pixel with exposure;
        default the map centre), optionally regrouped onto a coarser reco ``energy_axis``
        (whose edges must be a subset of the map's)."""
        from gammapipe.irf import EDispKernel

        iy, ix = self._nearest_valid_pixel(position)
        data = np.asarray(self.edisp_map.data[..., iy, ix], dtype=float)
        e_axis = self.geom.axes["energy"]
        if energy_axis is not None:
            data = _regroup_reco(data, e_axis, energy_axis)
            e_axis = energy_axis
        return EDispKernel(axes=[self.geom.axes["energy_true"], e_axis], data=data)

    def to_image(self, weights=None):
        """Kernel summed over reco energy (one reco bin), optionally weighted per reco bin
        (e.g. by the safe mask)."""
        m = self.edisp_map
        if weights is not None:
            w = np.asarray(getattr(weights, "data", weights), dtype=float)
            m = m.copy(data=m.data * np.broadcast_to(w, m.data.shape))
        summed = m.sum_over_axes(axes_names=["energy"], keepdims=True)
        return self.__class__(summed, self.exposure_map)

    def resample_energy_axis(self, energy_axis, weights=None):
        """Kernel regrouped onto a coarser reco ``energy_axis`` (bins summed, optionally
        weighted)."""
        m = self.edisp_map.resample_axis(energy_axis, weights=weights)
        exposure_map = None
        if self.exposure_map is not None:
            exposure_map = self.exposure_map.copy(
                geom=m.geom.squash("energy"), data=self.exposure_map.data.copy())
        return self.__class__(m, exposure_map)

    def sample_coord(self, map_coord, random_state=0):
        """Draw reco energies for events with true energies ``map_coord["energy_true"]``.

        Returns a `~gammapipe.maps.MapCoord` with ``lon``, ``lat`` (unchanged) and
        ``energy`` (reco, drawn uniformly in log energy inside the sampled reco bin).
        Events falling outside the reco axis (row sum < 1) get NaN.
        """
        from gammapipe.maps import MapCoord

        rng = _rng(random_state)
        lon, lat, energy_true, frame = self._event_coords(map_coord, "energy_true")
        iy, ix = self._event_pixels(lon, lat)
        t_axis = self.geom.axes["energy_true"]
        it = np.clip(np.asarray(t_axis.coord_to_idx(energy_true, clip=True), int), 0,
                     t_axis.nbin - 1)
        rows = np.asarray(self.edisp_map.data[it, :, iy, ix], dtype=float)
        cdf = np.cumsum(np.clip(rows, 0, None), axis=-1)
        draw = rng.uniform(size=len(lon))
        ibin = (cdf < draw[:, None]).sum(axis=-1)
        e_axis = self.geom.axes["energy"]
        edges = np.log(e_axis.edges.to_value(e_axis.unit))
        inside = ibin < e_axis.nbin
        ib = np.minimum(ibin, e_axis.nbin - 1)
        loge = edges[ib] + rng.uniform(size=len(lon)) * np.diff(edges)[ib]
        energy = np.where(inside, np.exp(loge), np.nan)
        return MapCoord.create({"lon": lon, "lat": lat,
                                "energy": u.Quantity(energy, e_axis.unit)}, frame=frame)

    def peek(self, figsize=(15, 5)):
        """Kernel at the map centre (matrix, bias) and exposure; returns the axes."""
        from .map_plotting import peek_edisp_map

        return peek_edisp_map(self, figsize=figsize)


def _regroup_reco(data: np.ndarray, old_axis, new_axis) -> np.ndarray:
    """Sum the reco columns of ``data`` (true x reco) into the bins of ``new_axis``."""
    old = old_axis.edges.to_value(old_axis.unit)
    new = u.Quantity(new_axis.edges).to_value(old_axis.unit)
    pos = np.searchsorted(old, new * (1 - 1e-6))
    if not np.allclose(old[np.clip(pos, 0, old.size - 1)], new, rtol=1e-5):
        raise GeometryError(
            "get_edisp_kernel: the edges of energy_axis are not a subset of the map's reco "
            "energy edges"
        )
    return np.add.reduceat(data[:, pos[0]:pos[-1]], pos[:-1] - pos[0], axis=1)


def migra_pdf_to_kernel(pdf: np.ndarray, migra_edges: np.ndarray, energy_true: np.ndarray,
                        energy_edges: np.ndarray) -> np.ndarray:
    """Integrate migration pdfs over reco-energy bins.

    Parameters
    ----------
    pdf : array, shape ``(n_true, n_migra, ...)``
        ``dP/dmigra`` (constant within migra bins), any trailing (pixel) axes.
    migra_edges : array
        Migra bin edges.
    energy_true : array
        True energies of the rows (same unit as ``energy_edges``).
    energy_edges : array
        Reco-energy edges.

    Returns
    -------
    kernel : array, shape ``(n_true, n_reco, ...)``
        ``P(E_lo <= E_reco < E_hi)`` per true energy: the exact integral of the pdf over
        ``[E_lo / E_true, E_hi / E_true]``.
    """
    from gammapipe.irf.edisp_2d import interp_cdf, migra_cdf_on_edges

    n_true, n_migra = pdf.shape[:2]
    trailing = pdf.shape[2:]
    npix = int(np.prod(trailing)) if trailing else 1
    rows = np.moveaxis(pdf.reshape(n_true, n_migra, npix), 1, -1)  # (n_true, npix, n_migra)
    rows = rows.reshape(n_true * npix, n_migra)
    cdf = migra_cdf_on_edges(rows, migra_edges, normalize=False)
    ratio = energy_edges[None, :] / energy_true[:, None]  # (n_true, n_edges)
    ratio = np.repeat(ratio, npix, axis=0)
    values = interp_cdf(cdf, migra_edges, ratio)
    kernel = np.clip(np.diff(values, axis=1), 0, None)  # (n_true*npix, n_reco)
    kernel = kernel.reshape(n_true, npix, -1)
    return np.moveaxis(kernel, 1, -1).reshape((n_true, kernel.shape[-1]) + trailing)


class EDispMap(IRFMap):
    """Energy dispersion as a migration pdf ``dP/dmigra`` on a sky grid.

    Parameters
    ----------
    edisp_map : `~gammapipe.maps.WcsNDMap`
        Pdf, data shape ``(energy_true, migra, lat, lon)``.
    exposure_map : `~gammapipe.maps.WcsNDMap`, optional
        Exposure, data shape ``(energy_true, 1, lat, lon)``.
    """

    tag = "edisp_map"
    _hdu_name = "EDISP"
    _irf_axis = "migra"
    _irf_unit = ""
    required_axes = ("migra", "energy_true")

    def __init__(self, edisp_map, exposure_map=None):
        super().__init__(edisp_map, exposure_map)

    @property
    def edisp_map(self):
        """Migration pdf map."""
        return self._irf_map

    @edisp_map.setter
    def edisp_map(self, value):
        self._irf_map = value

    @classmethod
    def from_diagonal_response(cls, energy_axis_true, migra_axis=None, geom=None):
        """Perfect resolution: all probability in the migra bin containing 1."""
        from gammapipe.maps import Map, MapAxis

        if migra_axis is None:
            migra_axis = MapAxis.from_bounds(0.2, 5, nbin=48, name="migra", node_type="edges")
        axes = [migra_axis, energy_axis_true]
        geom = _default_geom(axes) if geom is None else geom.to_image().to_cube(axes)
        edges = migra_axis.edges.to_value("")
        idx = int(np.clip(np.searchsorted(edges, 1.0, side="right") - 1, 0, migra_axis.nbin - 1))
        pdf = np.zeros(migra_axis.nbin)
        pdf[idx] = 1.0 / (edges[idx + 1] - edges[idx])
        data = np.broadcast_to(pdf[None, :, None, None], geom.data_shape).astype("float32")
        edisp_map = Map.from_geom(geom, data=data.copy(), unit="")
        exposure_map = Map.from_geom(geom.squash("migra"), unit="m2 s")
        exposure_map.data[...] = 1.0
        return cls(edisp_map, exposure_map)

    def _kernel(self, data: np.ndarray, energy_axis) -> np.ndarray:
        t_axis = self.geom.axes["energy_true"]
        unit = t_axis.unit
        return migra_pdf_to_kernel(
            np.asarray(data, dtype=float),
            self.geom.axes["migra"].edges.to_value(""),
            t_axis.center.to_value(unit),
            u.Quantity(energy_axis.edges).to_value(unit),
        )

    def get_edisp_kernel(self, position=None, energy_axis=None):
        """`~gammapipe.irf.EDispKernel` at ``position`` (nearest pixel with exposure):
        the migration pdf of each true-energy bin centre integrated over the reco bins of
        ``energy_axis`` (default: the true-energy edges)."""
        from gammapipe.irf import EDispKernel
        from gammapipe.maps import MapAxis

        t_axis = self.geom.axes["energy_true"]
        if energy_axis is None:
            energy_axis = MapAxis.from_edges(t_axis.edges, name="energy", interp=t_axis.interp)
        iy, ix = self._nearest_valid_pixel(position)
        data = self._kernel(self.edisp_map.data[..., iy, ix], energy_axis)
        return EDispKernel(axes=[t_axis, energy_axis], data=data)

    def to_edisp_kernel_map(self, energy_axis):
        """`EDispKernelMap` on the same grid for the reco ``energy_axis`` (vectorised over
        pixels)."""
        from gammapipe.maps import Map

        data = self._kernel(self.edisp_map.data, energy_axis)
        geom = self.geom.to_image().to_cube([energy_axis, self.geom.axes["energy_true"]])
        kernel_map = Map.from_geom(geom, data=data.astype("float32"), unit="")
        exposure_map = None
        if self.exposure_map is not None:
            exposure_map = Map.from_geom(geom.squash("energy"),
                                         data=self.exposure_map.data.copy(),
                                         unit=self.exposure_map.unit)
        return EDispKernelMap(kernel_map, exposure_map)

    def sample_coord(self, map_coord, random_state=0):
        """Draw reco energies ``E_true * migra`` with migra from the pdf (see
        `EDispKernelMap.sample_coord`)."""
        from gammapipe.maps import MapCoord

        rng = _rng(random_state)
        lon, lat, energy_true, frame = self._event_coords(map_coord, "energy_true")
        iy, ix = self._event_pixels(lon, lat)
        t_axis = self.geom.axes["energy_true"]
        it = np.clip(np.asarray(t_axis.coord_to_idx(energy_true, clip=True), int), 0,
                     t_axis.nbin - 1)
        edges = self.geom.axes["migra"].edges.to_value("")
        rows = np.clip(np.asarray(self.edisp_map.data[it, :, iy, ix], float), 0, None)
        cdf = np.cumsum(rows * np.diff(edges)[None, :], axis=-1)
        total = cdf[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            cdf = np.where(total > 0, cdf / total, 1.0)
        ibin = np.minimum((cdf < rng.uniform(size=len(lon))[:, None]).sum(axis=-1),
                          len(edges) - 2)
        migra = edges[ibin] + rng.uniform(size=len(lon)) * np.diff(edges)[ibin]
        return MapCoord.create({"lon": lon, "lat": lat, "energy": energy_true * migra},
                               frame=frame)

    def peek(self, figsize=(15, 5)):
        """Kernel at the map centre and exposure; returns the axes."""
        from .map_plotting import peek_edisp_map

        return peek_edisp_map(self, figsize=figsize)
