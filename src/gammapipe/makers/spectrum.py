"""`SpectrumDatasetMaker`: counts, exposure and energy dispersion of one observation in a
sky region (1D spectral analysis)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError

from . import _reduction as red
from .map import MapDatasetMaker
from .utils import pointing_radec_deg

__all__ = ["SpectrumDatasetMaker"]

_SELECTION = ("counts", "exposure", "edisp", "background")


class SpectrumDatasetMaker(MapDatasetMaker):
    """Make a `~gammapipe.datasets.SpectrumDataset` for one observation.

    Counts are the events inside the ON region (for point-like IRFs with ``RAD_MAX``:
    within RAD_MAX(E) of the region centre); the exposure is the effective area times the
    live time at the region centre, or averaged over the region (weights: fraction of
    each fine pixel inside it) with ``use_region_center=False``; the energy-dispersion
    kernel likewise. With ``containment_correction`` the exposure is multiplied by the
    fraction of the PSF inside the (circular) ON region at the region's offset.

    Parameters
    ----------
    selection : list of str
        Among "counts", "exposure", "edisp" and "background".
    containment_correction : bool
        Apply the PSF containment correction to the exposure (circular regions only).
    use_region_center : bool
        Evaluate the IRFs at the region centre (True) or average them over the region.
    background_oversampling : int, optional
        See `MapDatasetMaker`.
    """

    tag = "SpectrumDatasetMaker"

    def __init__(self, selection=None, containment_correction=False, use_region_center=True,
                 background_oversampling=None):
        if selection is None:
            selection = ["counts", "exposure", "edisp"]
        if isinstance(selection, str):
            selection = [selection]
        unknown = set(selection) - set(_SELECTION)
        if unknown:
            raise ValueError(f"SpectrumDatasetMaker: unknown selection {sorted(unknown)}; "
                             f"allowed: {list(_SELECTION)}")
        super().__init__(selection=[s for s in selection],
                         background_oversampling=background_oversampling)
        self.containment_correction = bool(containment_correction)
        self.use_region_center = bool(use_region_center)

    # ------------------------------------------------------------------ helpers
    def _offsets(self, geom, observation) -> tuple[np.ndarray, np.ndarray]:
        """Offsets (deg) where the IRFs are evaluated and their weights."""
        ra, dec = pointing_radec_deg(self._pointing(observation))
        if self.use_region_center or geom.region is None:
            center = geom.center_skydir.icrs
            offset = red.pixel_offsets(np.array([center.ra.deg]), np.array([center.dec.deg]),
                                       ra, dec)
            return offset, np.ones(1)
        coords, weights = geom.to_image().get_wcs_coord_and_weights()
        sky = coords.skycoord.icrs
        offset = red.pixel_offsets(sky.ra.deg, sky.dec.deg, ra, dec)
        return offset, weights / weights.sum()

    def make_counts(self, geom, observation):
        """Counts of the events in the ON region (RAD_MAX cut for point-like IRFs)."""
        from gammapipe.maps import RegionNDMap

        events = self._require(observation, "events")
        rad_max = getattr(observation, "rad_max", None)
        if rad_max is None or geom.region is None:
            counts = RegionNDMap.from_geom(geom, dtype="float32")
            counts.fill_events(events)
            return counts
        from .background.reflected import _counts_in_rad_max

        center = geom.center_skydir
        region = _PointLike(center)
        data = _counts_in_rad_max(events, [region], rad_max, geom.axes["energy"],
                                  self._pointing(observation))
        return RegionNDMap.from_geom(geom, data=data.reshape(geom.data_shape), dtype="float32")

    def make_exposure(self, geom, observation, use_region_center=None):
        """Exposure (m2 s) in the region, with the containment correction if asked."""
        from gammapipe.maps import Map

        if use_region_center is None:
            use_region_center = self.use_region_center
        aeff = self._require(observation, "aeff")
        axis = geom.axes["energy_true"]
        livetime = observation.observation_live_time_duration
        keep = self.use_region_center
        self.use_region_center = use_region_center
        try:
            offset, weights = self._offsets(geom, observation)
        finally:
            self.use_region_center = keep
        values = red.exposure_values(aeff, axis.center.to_value("TeV"), offset,
                                     u.Quantity(livetime, "s").to_value("s"))
        values = np.asarray(values, float).reshape(axis.nbin, -1) @ weights
        exposure = Map.from_geom(geom, data=values.reshape(geom.data_shape), unit="m2 s",
                                 meta={"livetime": u.Quantity(livetime)})
        if self.containment_correction and list(geom.axes.names) == ["energy_true"]:
            exposure.data = exposure.data * self._containment(geom, observation)
        return exposure

    def _containment(self, geom, observation) -> np.ndarray:
        from regions import CircleSkyRegion

        region = geom.region
        if not isinstance(region, CircleSkyRegion):
            raise TypeError("SpectrumDatasetMaker: containment correction is only "
                            f"supported for circular regions, got {type(region).__name__}")
        if getattr(observation, "rad_max", None) is not None:
            raise GeometryError("SpectrumDatasetMaker: no containment correction with "
                                "point-like (RAD_MAX) IRFs")
        psf = self._require(observation, "psf")
        offset = self._pointing(observation).separation(geom.center_skydir)
        energy = geom.axes["energy_true"].center
        containment = psf.containment(rad=region.radius, energy_true=energy, offset=offset)
        return np.asarray(u.Quantity(containment).to_value(""), float).reshape(
            geom.data_shape)

    def make_edisp_kernel(self, geom, observation):
        """`EDispKernelMap` in the region (at its centre, or region-averaged)."""
        from gammapipe.irf.edisp_map import EDispKernelMap
        from gammapipe.maps import Map

        edisp = self._require(observation, "edisp")
        offset, weights = self._offsets(geom, observation)
        values = red.edisp_kernel_values(
            edisp, geom.axes["energy_true"].center.to_value("TeV"),
            geom.axes["energy"].edges.to_value("TeV"), offset)
        values = np.asarray(values, float)
        n_true, n_reco = geom.axes["energy_true"].nbin, geom.axes["energy"].nbin
        values = values.reshape(n_true, n_reco, -1) @ weights
        names = list(geom.axes.names)
        if names.index("energy") > names.index("energy_true"):
            values = values.T
        kernel_map = Map.from_geom(geom, data=values.reshape(geom.data_shape), unit="")
        exposure = self.make_exposure(geom.squash("energy"), observation)
        return EDispKernelMap(edisp_kernel_map=kernel_map, exposure_map=exposure)

    def run(self, dataset, observation):
        """New `~gammapipe.datasets.SpectrumDataset` for ``observation``.

        Parameters
        ----------
        dataset : `~gammapipe.datasets.SpectrumDataset`
            Reference (empty) dataset: geometries and name.
        observation : `~gammapipe.data.Observation`
        """
        from gammapipe.datasets.spectrum import SpectrumDataset
        from gammapipe.maps import Map

        geom = dataset.counts.geom
        if not getattr(geom, "is_region", False):
            raise GeometryError(f"SpectrumDatasetMaker: dataset {dataset.name!r} needs a "
                                "RegionGeom")
        kwargs = {"gti": observation.gti, "meta_table": self.make_meta_table(observation),
                  "name": dataset.name}
        kwargs["mask_safe"] = Map.from_geom(geom, data=np.ones(geom.data_shape, bool),
                                            dtype=bool)
        if "counts" in self.selection:
            kwargs["counts"] = self.make_counts(geom, observation)
        else:
            kwargs["counts"] = Map.from_geom(geom, dtype="float32")
        if "exposure" in self.selection and dataset.exposure is not None:
            kwargs["exposure"] = self.make_exposure(dataset.exposure.geom, observation)
        if "background" in self.selection:
            kwargs["background"] = self._make_background(geom, observation)
        if "edisp" in self.selection and dataset.edisp is not None:
            edisp_geom = dataset.edisp.edisp_map.geom
            if "migra" in edisp_geom.axes.names:
                kwargs["edisp"] = self.make_edisp(edisp_geom, observation)
            else:
                kwargs["edisp"] = self.make_edisp_kernel(edisp_geom, observation)
        return SpectrumDataset(**kwargs)

    def _make_background(self, geom, observation):
        """Background IRF integrated over the region (on its fine WCS grid)."""
        from gammapipe.maps import Map

        wcs_geom = geom.to_wcs_geom()
        bkg = self.make_background(wcs_geom, observation)
        weights = wcs_geom.to_image().region_weights([geom.region]).data
        weights = np.asarray(weights, float).reshape(weights.shape[-2:])
        values = (np.asarray(bkg.data, float) * weights).sum(axis=(-2, -1))
        return Map.from_geom(geom, data=values.reshape(geom.data_shape))


class _PointLike:
    """Minimal region-like object (``center``) for the RAD_MAX counting helper."""

    def __init__(self, center):
        self.center = center
