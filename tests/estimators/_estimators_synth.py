"""Small synthetic 1D dataset for the estimator tests (analytic predictions, no IRFs).

``npred = exposure * integral(dnde) over each reco bin + background``; statistic Cash.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.datasets.core import Dataset
from gammapipe.maps import Map, MapAxis, RegionGeom
from gammapipe.stats import cash


class SynthSpectrumDataset(Dataset):
    """Counts in reco-energy bins of a region; no energy dispersion."""

    stat_type = "cash"
    tag = "SynthSpectrumDataset"

    def __init__(self, counts, exposure, background, mask_safe=None, models=None,
                 name="synth"):
        self.counts = counts
        self.exposure = exposure  # Quantity per bin, cm2 s
        self.background = np.asarray(background, dtype=float)
        self.mask_safe = mask_safe
        self.mask_fit = None
        self._name = name
        self._models = None
        self.models = models

    @property
    def models(self):
        return self._models

    @models.setter
    def models(self, models):
        from gammapipe.modeling.models import DatasetModels

        if models is not None:
            models = DatasetModels(models).select(datasets_names=self.name)
        self._models = models

    @property
    def energy_axis(self):
        return self.counts.geom.axes["energy"]

    def npred_signal(self, model_names=None, stack=True):
        ax = self.energy_axis
        total = np.zeros(ax.nbin)
        if self._models is not None:
            for m in self._models:
                if model_names is not None and m.name not in model_names:
                    continue
                flux = m.spectral_model.integral(ax.edges_min, ax.edges_max)
                total = total + (flux * self.exposure).to_value("")
        return self.counts.copy(data=total.reshape(self.counts.data.shape), unit="")

    def npred(self):
        data = self.npred_signal().data + self.background.reshape(self.counts.data.shape)
        return self.counts.copy(data=data, unit="")

    def stat_array(self):
        return cash(self.counts.data, self.npred().data)

    def slice_by_energy(self, energy_min=None, energy_max=None, name=None):
        edges = self.energy_axis.edges
        log_e = np.log(edges.to_value("TeV"))
        i0 = int(np.argmin(np.abs(log_e - np.log(u.Quantity(energy_min).to_value("TeV")))))
        i1 = int(np.argmin(np.abs(log_e - np.log(u.Quantity(energy_max).to_value("TeV")))))
        if i1 <= i0:
            raise ValueError("empty slice")
        sl = slice(i0, i1)
        counts = self.counts.slice_by_idx({"energy": sl})
        mask = None if self.mask_safe is None else self.mask_safe.slice_by_idx({"energy": sl})
        return self.__class__(counts, self.exposure[sl], self.background.ravel()[sl], mask,
                              name=name or self.name)


class SynthOtherStat(SynthSpectrumDataset):
    """Same dataset flagged with an unknown statistic: forces the generic (Fit) path."""

    stat_type = "custom-cash"


def make_dataset(model, seed=0, nbin=12, emin=0.5, emax=50, livetime_exposure=3e13,
                 bkg_level=20.0, cls=SynthSpectrumDataset, name="synth", mask=None,
                 expected=False):
    """Dataset with Poisson counts (or the expected counts) of ``model`` + flat background."""
    axis = MapAxis.from_energy_bounds(emin, emax, nbin, unit="TeV")
    geom = RegionGeom.create(None, axes=[axis])
    exposure = np.full(nbin, livetime_exposure) * u.Unit("cm2 s")
    background = bkg_level * (axis.center.to_value("TeV") ** -1.5)
    flux = model.integral(axis.edges_min, axis.edges_max)
    mu = (flux * exposure).to_value("") + background
    rng = np.random.default_rng(seed)
    counts = mu if expected else rng.poisson(mu).astype(float)
    counts_map = Map.from_geom(geom, data=counts.reshape(geom.data_shape), dtype=float)
    mask_map = None
    if mask is not None:
        mask_map = Map.from_geom(geom, data=np.asarray(mask, bool).reshape(geom.data_shape),
                                 dtype=bool)
    return cls(counts_map, exposure, background, mask_safe=mask_map, name=name)
