"""`MapDatasetMaker`: bin events and evaluate the IRFs of one observation on a dataset's
geometries."""

from __future__ import annotations

import logging
import warnings

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, MissingHDUError

from . import _reduction as red
from .core import Maker
from .utils import (
    make_counts_map,
    make_edisp_kernel_map,
    make_edisp_map,
    make_map_background_irf,
    make_map_exposure_true_energy,
    make_psf_map,
    pointing_radec_deg,
)

__all__ = ["MapDatasetMaker"]

log = logging.getLogger(__name__)

_SELECTION = ("counts", "exposure", "background", "psf", "edisp")
_IRF_FOR = {"exposure": "aeff", "background": "bkg", "psf": "psf", "edisp": "edisp",
            "counts": "events"}
_HDU_FOR = {"aeff": "AEFF (aeff_2d)", "bkg": "BKG (bkg_3d / bkg_2d)", "psf": "PSF",
            "edisp": "EDISP (edisp_2d)", "events": "EVENTS"}


class MapDatasetMaker(Maker):
    """Make the maps of a `~gammapipe.datasets.MapDataset` for one observation.

    Counts are binned from the event list; exposure (effective area x live time),
    background (rate integrated over the reco-energy bins x solid angle x observation
    time), PSF and energy-dispersion maps are evaluated from the observation's IRFs on the
    dataset's geometries.

    Parameters
    ----------
    selection : list of str
        Maps to make, among "counts", "exposure", "background", "psf" and "edisp".
    background_oversampling : int, optional
        Number of log-spaced sub-bins per reco-energy bin used to integrate the
        background rate (default: the bin edges only).
    background_interp_missing_data : bool
        Fill missing (zero) background-table entries lying between valid ones along the
        energy axis by log-log interpolation before evaluating the background (as the
        reference does by default).
    fov_rotation_error_limit : `~astropy.units.Quantity` or str
        For ALTAZ-aligned backgrounds: maximal rotation of the field of view on the sky
        within one background evaluation; longer observations are split in time.
    """

    tag = "MapDatasetMaker"

    def __init__(self, selection=None, background_oversampling=None,
                 background_interp_missing_data=True, fov_rotation_error_limit="0.5 deg"):
        if selection is None:
            selection = list(_SELECTION)
        if isinstance(selection, str):
            selection = [selection]
        unknown = set(selection) - set(_SELECTION)
        if unknown:
            raise ValueError(f"MapDatasetMaker: unknown selection {sorted(unknown)}; "
                             f"allowed: {list(_SELECTION)}")
        self.selection = list(selection)
        if background_oversampling is not None:
            background_oversampling = int(background_oversampling)
            if background_oversampling < 1:
                raise ValueError("MapDatasetMaker: background_oversampling must be >= 1")
        self.background_oversampling = background_oversampling
        self.background_interp_missing_data = bool(background_interp_missing_data)
        self.fov_rotation_error_limit = u.Quantity(fov_rotation_error_limit, "deg")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _require(observation, name: str):
        """IRF / events of the observation, or an error naming the obs and the HDU."""
        try:
            value = getattr(observation, name)
        except (FileNotFoundError, KeyError) as exc:
            raise MissingHDUError(
                f"observation {observation.obs_id}: cannot load the {_HDU_FOR[name]} HDU "
                f"needed by MapDatasetMaker: {exc}"
            ) from exc
        if value is None:
            raise MissingHDUError(
                f"observation {observation.obs_id}: no {_HDU_FOR[name]} HDU, required by "
                f"MapDatasetMaker (selection item needing {name!r})"
            )
        return value

    @staticmethod
    def _pointing(observation):
        """ICRS pointing at the middle of the observation (the fixed position for
        POINTING-mode observations, without time arithmetic)."""
        info = observation.pointing
        fixed = getattr(info, "fixed_icrs", None)
        if fixed is not None and getattr(getattr(info, "mode", None), "name", "") == "POINTING":
            return fixed
        return observation.get_pointing_icrs(observation.tmid)

    # ------------------------------------------------------------------ makers
    def make_counts(self, geom, observation):
        """Counts map of the observation's events on ``geom``."""
        events = self._require(observation, "events")
        return make_counts_map(events, geom)

    def make_exposure(self, geom, observation, use_region_center=True):
        """Exposure map (m2 s) on ``geom`` (with an ``energy_true`` axis)."""
        aeff = self._require(observation, "aeff")
        return make_map_exposure_true_energy(
            pointing=self._pointing(observation),
            livetime=observation.observation_live_time_duration,
            aeff=aeff,
            geom=geom,
            use_region_center=use_region_center,
        )

    def make_exposure_irf(self, geom, observation, use_region_center=True):
        """Exposure map on an IRF-map geometry: every axis but ``energy_true`` is squashed
        to one bin (the exposure-map layout of `PSFMap` / `EDispKernelMap`)."""
        for axis in geom.axes:
            if axis.name != "energy_true" and axis.nbin > 1:
                geom = geom.squash(axis.name)
        return self.make_exposure(geom, observation, use_region_center)

    def _background_irf(self, observation):
        bkg = self._require(observation, "bkg")
        if self.background_interp_missing_data and "energy" in bkg.axes.names:
            axis = bkg.axes["energy"]
            coords = axis.center.to_value(axis.unit)
            if axis.interp == "log":
                coords = np.log(coords)
            scale = bkg.interp_kwargs.get("values_scale", "lin")
            data = red.interp_missing_along_axis(
                bkg.data, coords, axis=bkg.axes.names.index("energy"),
                log_values=(scale == "log"),
            )
            bkg = bkg._replace(data=data)
        return bkg

    def make_background(self, geom, observation):
        """Predicted background counts map on ``geom`` (reco ``energy`` axis)."""
        bkg = self._background_irf(observation)
        alignment = str(getattr(getattr(bkg, "fov_alignment", "RADEC"), "value",
                                getattr(bkg, "fov_alignment", "RADEC")))
        kwargs = {}
        if alignment == "ALTAZ":
            gti = observation.gti
            kwargs = {
                "obstime": observation.tmid,
                "location": observation.location,
                "time_start": gti.time_start[0],
                "time_stop": gti.time_stop[-1],
                "fov_rotation_error_limit": self.fov_rotation_error_limit,
            }
            pointing = observation.pointing
        else:
            pointing = self._pointing(observation)
        return make_map_background_irf(
            pointing=pointing,
            ontime=observation.observation_time_duration,
            bkg=bkg,
            geom=geom,
            oversampling=self.background_oversampling,
            **kwargs,
        )

    def make_psf(self, geom, observation):
        """`~gammapipe.datasets.PSFMap` on ``geom`` (axes ``rad`` and ``energy_true``)."""
        psf = self._require(observation, "psf")
        exposure = self.make_exposure_irf(geom, observation)
        return make_psf_map(psf=psf, pointing=self._pointing(observation), geom=geom,
                            exposure_map=exposure)

    def make_edisp(self, geom, observation):
        """`~gammapipe.datasets.EDispMap` on ``geom`` (axes ``migra`` and ``energy_true``)."""
        edisp = self._require(observation, "edisp")
        exposure = self.make_exposure_irf(geom, observation)
        return make_edisp_map(edisp=edisp, pointing=self._pointing(observation), geom=geom,
                              exposure_map=exposure)

    def make_edisp_kernel(self, geom, observation):
        """`~gammapipe.datasets.EDispKernelMap` on ``geom`` (axes ``energy``,
        ``energy_true``)."""
        edisp = self._require(observation, "edisp")
        exposure = self.make_exposure_irf(geom, observation)
        return make_edisp_kernel_map(edisp=edisp, pointing=self._pointing(observation),
                                     geom=geom, exposure_map=exposure)

    @staticmethod
    def make_meta_table(observation):
        """One-row table: TELESCOP, OBS_ID, OBS_MODE, RA_PNT, DEC_PNT (deg)."""
        from astropy.table import Table

        meta = observation.meta
        ra, dec = pointing_radec_deg(MapDatasetMaker._pointing(observation))
        mode = getattr(observation.pointing.mode, "name", None) or meta.get("obs_mode") or ""
        table = Table()
        table["TELESCOP"] = [str(meta.get("telescope") or "")]
        table["OBS_ID"] = [int(observation.obs_id) if observation.obs_id is not None else -1]
        table["OBS_MODE"] = [str(mode)]
        table["RA_PNT"] = [ra] * u.deg
        table["DEC_PNT"] = [dec] * u.deg
        return table

    # ------------------------------------------------------------------ run
    def _overlaps(self, geom, observation) -> bool:
        """Whether any pixel of ``geom`` is within the IRFs' field of view."""
        try:
            aeff = observation.aeff
        except GammapipeError:
            aeff = None
        if aeff is None:
            return True
        offset_max = aeff.axes["offset"].edges[-1].to_value("deg")
        ra, dec = pointing_radec_deg(self._pointing(observation))
        offset = red.geom_offsets(geom, ra, dec)
        # pixel half-diagonal as margin
        margin = float(np.max(np.abs(geom.pixel_scales.deg))) if hasattr(geom, "pixel_scales") \
            else 0.0
        return bool(np.min(offset) <= offset_max + margin)

    def run(self, dataset, observation):
        """Make a new `~gammapipe.datasets.MapDataset` for ``observation``.

        Parameters
        ----------
        dataset : `~gammapipe.datasets.MapDataset`
            Reference dataset whose geometries (and name) are used; it is not modified.
        observation : `~gammapipe.data.Observation`
            Observation.

        Returns
        -------
        dataset : `~gammapipe.datasets.MapDataset`
            New dataset with the selected maps, ``mask_safe`` all True, the observation's
            GTI and a meta table (OBS_ID, pointing); the exposure meta holds the livetime.
            An observation that does not overlap the geometry gives empty (zero) maps and
            a warning.
        """
        from gammapipe.datasets.map_dataset import MapDataset
        from gammapipe.maps import Map

        geom = dataset.counts.geom
        kwargs = {"gti": observation.gti, "meta_table": self.make_meta_table(observation)}
        mask_safe = Map.from_geom(geom, data=np.ones(geom.data_shape, dtype=bool), dtype=bool)
        kwargs["mask_safe"] = mask_safe
        if not self._overlaps(geom, observation):
            warnings.warn(
                f"MapDatasetMaker: observation {observation.obs_id} does not overlap the "
                f"dataset geometry {dataset.name!r}; returning an empty dataset",
                stacklevel=2,
            )
            return self._empty_like(dataset, kwargs, observation)

        if "counts" in self.selection:
            kwargs["counts"] = self.make_counts(geom, observation)
        else:
            kwargs["counts"] = Map.from_geom(geom, dtype="float32")
        if "exposure" in self.selection:
            kwargs["exposure"] = self.make_exposure(dataset.exposure.geom, observation)
        if "background" in self.selection:
            kwargs["background"] = self.make_background(geom, observation)
        if "psf" in self.selection and dataset.psf is not None:
            kwargs["psf"] = self.make_psf(dataset.psf.psf_map.geom, observation)
        if "edisp" in self.selection and dataset.edisp is not None:
            edisp_geom = dataset.edisp.edisp_map.geom
            if "migra" in edisp_geom.axes.names:
                kwargs["edisp"] = self.make_edisp(edisp_geom, observation)
            else:
                kwargs["edisp"] = self.make_edisp_kernel(edisp_geom, observation)
        return MapDataset(name=dataset.name, **kwargs)

    def _empty_like(self, dataset, kwargs, observation):
        from gammapipe.datasets.map_dataset import MapDataset
        from gammapipe.maps import Map

        geom = dataset.counts.geom
        livetime = observation.observation_live_time_duration
        kwargs["counts"] = Map.from_geom(geom, dtype="float32")
        if "exposure" in self.selection and dataset.exposure is not None:
            kwargs["exposure"] = Map.from_geom(dataset.exposure.geom, unit="m2 s",
                                               dtype="float64", meta={"livetime": livetime})
        if "background" in self.selection:
            kwargs["background"] = Map.from_geom(geom, dtype="float64")
        if "psf" in self.selection and dataset.psf is not None:
            kwargs["psf"] = dataset.psf.copy() if hasattr(dataset.psf, "copy") else dataset.psf
        if "edisp" in self.selection and dataset.edisp is not None:
            kwargs["edisp"] = dataset.edisp.copy() if hasattr(dataset.edisp, "copy") \
                else dataset.edisp
        return MapDataset(name=dataset.name, **kwargs)
