"""`SafeMaskMaker`: the data range in which the IRFs and the background are trusted."""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError

from . import _reduction as red
from .core import Maker

__all__ = ["SafeMaskMaker"]

log = logging.getLogger(__name__)

_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")


class SafeMaskMaker(Maker):
    """Make the safe data mask (``mask_safe``) of a dataset.

    Methods (the mask is the AND of the selected ones):

    * ``"aeff-default"``: reco energies within the ``LO_THRES`` / ``HI_THRES`` range of the
      effective area's header;
    * ``"aeff-max"``: reco energies above the true energy where the effective area at
      ``position`` (or ``fixed_offset``) reaches ``aeff_percent`` % of its maximum;
    * ``"edisp-bias"``: reco energies above the energy where the relative energy bias at
      ``position`` falls below ``bias_percent`` %;
    * ``"offset-max"``: pixels closer than ``offset_max`` to the pointing;
    * ``"bkg-peak"``: reco energies above the peak of the background spectrum.

    An energy threshold ``E`` keeps the reco-energy bins lying fully above it (lower edge
    ``>= E``). When the dataset has a background, bins whose predicted background is not
    finite or not positive are always excluded (as the reference does).

    Parameters
    ----------
    methods : list of str
        Methods to apply.
    aeff_percent : float
        Percentage of the maximal effective area (``aeff-max``).
    bias_percent : float
        Percentage of energy bias (``edisp-bias``).
    position : `~astropy.coordinates.SkyCoord`, optional
        Where the IRFs are evaluated (default: the geometry centre).
    fixed_offset : `~astropy.units.Quantity`, optional
        Offset from the pointing at which the IRFs are evaluated instead of ``position``.
    offset_max : `~astropy.units.Quantity` or str
        Maximal offset (``offset-max``).
    irfs : {"DL4", "DL3"}
        Take the effective area and energy dispersion from the dataset's maps ("DL4") or
        from the observation's IRFs ("DL3").
    """

    tag = "SafeMaskMaker"

    def __init__(self, methods=("aeff-default",), aeff_percent=10, bias_percent=10,
                 position=None, fixed_offset=None, offset_max="3 deg", irfs="DL4"):
        if isinstance(methods, str):
            methods = [methods]
        methods = list(methods)
        unknown = set(methods) - set(_METHODS)
        if unknown:
            raise ValueError(f"SafeMaskMaker: unknown methods {sorted(unknown)}; "
                             f"allowed: {list(_METHODS)}")
        if irfs not in ("DL3", "DL4"):
            raise ValueError(f"SafeMaskMaker: irfs must be 'DL3' or 'DL4', got {irfs!r}")
        if position is not None and fixed_offset is not None:
            raise ValueError("SafeMaskMaker: give either position or fixed_offset, not both")
        self.methods = methods
        self.aeff_percent = float(aeff_percent)
        self.bias_percent = float(bias_percent)
        self.position = position
        self.fixed_offset = None if fixed_offset is None else u.Quantity(fixed_offset, "deg")
        self.offset_max = u.Quantity(offset_max, "deg")
        self.irfs = irfs

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _geom(dataset):
        return dataset.counts.geom

    @staticmethod
    def _need_observation(observation, method: str):
        if observation is None:
            raise GammapipeError(f"SafeMaskMaker: method {method!r} needs the observation")

    def _position(self, dataset):
        return self.position if self.position is not None else self._geom(dataset).center_skydir

    def _eval_position(self, dataset, observation):
        """Sky position where DL4 IRF maps are read: ``position`` (default: geometry
        centre), or the point at ``fixed_offset`` north of the pointing."""
        if self.fixed_offset is not None:
            self._need_observation(observation, "fixed_offset")
            pnt = observation.get_pointing_icrs(observation.tmid)
            return pnt.directional_offset_by(0 * u.deg, self.fixed_offset)
        return self._position(dataset)

    def _offset_at_position(self, dataset, observation) -> u.Quantity:
        if self.fixed_offset is not None:
            return self.fixed_offset
        pnt = observation.get_pointing_icrs(observation.tmid)
        return pnt.separation(self._position(dataset).icrs).to("deg")

    # ------------------------------------------------------------------ masks
    def make_mask_offset_max(self, dataset, observation):
        """Boolean array (dataset shape): pixels closer than ``offset_max`` to the pointing."""
        self._need_observation(observation, "offset-max")
        geom = self._geom(dataset)
        pnt = observation.get_pointing_icrs(observation.tmid)
        offset = red.geom_offsets(geom, float(pnt.ra.deg), float(pnt.dec.deg))
        mask = offset < self.offset_max.to_value("deg")
        return np.broadcast_to(mask, geom.data_shape).copy()

    def make_mask_energy_aeff_default(self, dataset, observation):
        """Boolean array: reco energies within the effective area's LO_THRES/HI_THRES."""
        self._need_observation(observation, "aeff-default")
        aeff = observation.aeff
        geom = self._geom(dataset)
        e_min = aeff.low_threshold if aeff is not None else None
        e_max = aeff.high_threshold if aeff is not None else None
        if e_min is None and e_max is None:
            log.warning("SafeMaskMaker: obs %s has no LO_THRES/HI_THRES; aeff-default keeps "
                        "all energies", observation.obs_id)
        return geom.energy_mask(energy_min=e_min, energy_max=e_max).data

    def _aeff_curve(self, dataset, observation):
        """(true energy centres [TeV], effective area [m2]) at the evaluation position."""
        if self.irfs == "DL3" or dataset.exposure is None:
            self._need_observation(observation, "aeff-max")
            aeff = observation.aeff
            offset = self._offset_at_position(dataset, observation)
            energy = aeff.axes["energy_true"].center
            values = aeff.evaluate(energy_true=energy, offset=offset).to_value("m2")
            return energy.to_value("TeV"), values
        exposure = dataset.exposure
        geom = exposure.geom
        position = self._eval_position(dataset, observation)
        x, y = _pix_of(geom, position)
        ix = int(np.clip(np.floor(x + 0.5), 0, geom.data_shape[-1] - 1))
        iy = int(np.clip(np.floor(y + 0.5), 0, geom.data_shape[-2] - 1))
        values = np.asarray(exposure.quantity.to_value("m2 s"))[..., iy, ix].ravel()
        livetime = exposure.meta.get("livetime")
        if livetime is not None:
            values = values / u.Quantity(livetime, "s").value
        energy = geom.axes["energy_true"].center.to_value("TeV")
        return energy, values

    def make_mask_energy_aeff_max(self, dataset, observation=None):
        """Boolean array: reco energies above the ``aeff_percent`` % threshold."""
        energy, values = self._aeff_curve(dataset, observation)
        geom = self._geom(dataset)
        if not np.any(values > 0):
            return np.zeros(geom.data_shape, dtype=bool)
        threshold = self.aeff_percent / 100.0 * np.max(values)
        e_min = _first_crossing_energy(energy, values, threshold)
        return geom.energy_mask(energy_min=e_min * u.TeV).data

    def make_mask_energy_edisp_bias(self, dataset, observation=None):
        """Boolean array: reco energies above the ``bias_percent`` % bias threshold."""
        geom = self._geom(dataset)
        if self.irfs == "DL3" or dataset.edisp is None:
            self._need_observation(observation, "edisp-bias")
            offset = self._offset_at_position(dataset, observation)
            kernel = observation.edisp.to_edisp_kernel(offset)
        else:
            kernel = dataset.edisp.get_edisp_kernel(
                position=self._eval_position(dataset, observation),
                energy_axis=geom.axes["energy"])
        e_min = kernel.get_bias_energy(self.bias_percent / 100.0)[0]
        return geom.energy_mask(energy_min=e_min).data

    def make_mask_bkg_peak(self, dataset, observation=None):
        """Boolean array: reco energies from the peak of the background spectrum on."""
        geom = self._geom(dataset)
        if dataset.background is None:
            raise GammapipeError("SafeMaskMaker: bkg-peak needs a dataset background")
        spectrum = np.nansum(np.asarray(dataset.background.data, float), axis=(-2, -1))
        idx = int(np.argmax(spectrum))
        e_min = geom.axes["energy"].edges[idx]
        return geom.energy_mask(energy_min=e_min).data

    make_mask_energy_bkg_peak = make_mask_bkg_peak

    def run(self, dataset, observation=None):
        """Set ``dataset.mask_safe`` from the selected methods and return the dataset.

        Parameters
        ----------
        dataset : `~gammapipe.datasets.MapDataset`
            Dataset (modified in place: only ``mask_safe`` changes).
        observation : `~gammapipe.data.Observation`, optional
            Observation (needed by offset-max, aeff-default and the DL3 options).
        """
        from gammapipe.maps import Map

        geom = self._geom(dataset)
        mask = np.ones(geom.data_shape, dtype=bool)
        if "offset-max" in self.methods:
            mask &= self.make_mask_offset_max(dataset, observation)
        if "aeff-default" in self.methods:
            mask &= self.make_mask_energy_aeff_default(dataset, observation)
        if "aeff-max" in self.methods:
            mask &= self.make_mask_energy_aeff_max(dataset, observation)
        if "edisp-bias" in self.methods:
            mask &= self.make_mask_energy_edisp_bias(dataset, observation)
        if "bkg-peak" in self.methods:
            mask &= self.make_mask_bkg_peak(dataset, observation)
        # a valid (finite, positive) background model is required for a cash dataset; an
        # on-off dataset's background comes from OFF counts and may be zero in a bin
        if dataset.background is not None and getattr(dataset, "stat_type", "cash") == "cash":
            bkg = np.asarray(dataset.background.data)
            mask &= np.isfinite(bkg) & (bkg > 0)
        dataset.mask_safe = Map.from_geom(geom, data=mask, dtype=bool)
        return dataset


def _pix_of(geom, position):
    """Float pixel coordinates (x, y) of a sky position in ``geom``."""
    from gammapipe.maps._fast_wcs import world_to_pix

    sky = position.transform_to(geom.frame) if geom.frame != "icrs" else position.icrs
    lon = np.atleast_1d(sky.spherical.lon.deg)
    lat = np.atleast_1d(sky.spherical.lat.deg)
    x, y = world_to_pix(geom.wcs, lon, lat)
    return float(x[0]), float(y[0])


def _first_crossing_energy(energy: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """Lowest energy (log-linear interpolation) where ``values`` reaches ``threshold``."""
    above = values >= threshold
    idx = int(np.argmax(above))
    if idx == 0:
        return float(energy[0])
    e0, e1 = np.log(energy[idx - 1]), np.log(energy[idx])
    v0, v1 = values[idx - 1], values[idx]
    w = (threshold - v0) / (v1 - v0) if v1 != v0 else 1.0
    return float(np.exp(e0 + np.clip(w, 0.0, 1.0) * (e1 - e0)))
