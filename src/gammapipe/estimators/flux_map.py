"""`FluxMaps`: container of likelihood-based flux estimates on a map geometry.

The estimates are stored in the "likelihood" SED type: dimensionless ``norm`` values (and
their errors / upper limits / profiles) relative to a reference spectral model, plus ``ts``,
``npred``, ``counts``, ``stat``... Any other SED type is derived on the fly::

    dnde = norm * ref_dnde(e_ref)      e2dnde = norm * ref_dnde(e_ref) * e_ref**2
    flux = norm * ref_flux(e_min, e_max)     eflux = norm * ref_eflux(e_min, e_max)

and the same for the ``_err``, ``_errn``, ``_errp``, ``_ul`` and ``_scan`` variants.
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import GammapipeError
from .core import DEFAULT_UNIT, SED_TYPES

__all__ = ["FluxMaps"]

NORM_SUFFIXES = ("", "_err", "_errn", "_errp", "_ul", "_scan", "_sensitivity")
#: quantities that are not rescaled with the reference model
OPTIONAL_QUANTITIES = (
    "ts", "sqrt_ts", "npred", "npred_excess", "npred_background", "counts", "stat",
    "stat_null", "stat_scan", "success", "is_ul", "niter", "alpha", "acceptance_on",
    "acceptance_off",
)


def _spectral_model(model: Any) -> Any:
    if model is None:
        return None
    return getattr(model, "spectral_model", None) or model


def _default_reference_model() -> Any:
    from ..modeling.models import PowerLawSpectralModel

    return PowerLawSpectralModel(index=2, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV")


class FluxMaps:
    """Flux estimates (norm, errors, TS, ...) on a common geometry with an energy axis.

    Parameters
    ----------
    data : dict of `~gammapipe.maps.Map`
        Maps of the "likelihood" quantities; at least ``norm``. Per-dataset quantities
        (``npred``, ``npred_excess``, ``counts``) may carry an extra "dataset" axis.
    reference_model : `~gammapipe.modeling.models.SkyModel` or `SpectralModel`
        Reference model defining the SED conversions.
    meta : dict, optional
        Metadata (``sed_type_init``, ``n_sigma``, ``n_sigma_ul``, ``sqrt_ts_threshold_ul``).
    gti : `~gammapipe.data.GTI`, optional
        Good time intervals of the data.
    filter_success_nan : bool
        Set the norm-type values to NaN where the fit did not succeed.
    """

    def __init__(self, data: dict, reference_model: Any, meta: dict | None = None,
                 gti: Any = None, filter_success_nan: bool = True) -> None:
        if "norm" not in data:
            raise GammapipeError(f"FluxMaps: 'norm' is required; got {sorted(data)}")
        self._data = dict(data)
        self._reference_model = reference_model
        self.meta = dict(meta or {})
        self.meta.setdefault("sed_type_init", "likelihood")
        self.meta.setdefault("sqrt_ts_threshold_ul", 2)
        self.gti = gti
        self.filter_success_nan = filter_success_nan

    # -- basic attributes ---------------------------------------------------------------------
    @property
    def reference_model(self) -> Any:
        """Reference model (as given)."""
        return self._reference_model

    @property
    def reference_spectral_model(self) -> Any:
        """Spectral part of the reference model."""
        return _spectral_model(self._reference_model)

    @property
    def geom(self) -> Any:
        """Geometry of the norm map."""
        return self._data["norm"].geom

    @property
    def energy_axis(self) -> Any:
        """Reco energy axis of the estimates."""
        return self.geom.axes["energy"]

    @property
    def available_quantities(self) -> list[str]:
        """Stored quantities (likelihood SED type)."""
        return list(self._data)

    @property
    def sed_type_init(self) -> str:
        """SED type the estimates were created from."""
        return self.meta["sed_type_init"]

    @property
    def n_sigma(self) -> float:
        return float(self.meta.get("n_sigma", 1))

    @property
    def n_sigma_ul(self) -> float:
        return float(self.meta.get("n_sigma_ul", 2))

    @property
    def sqrt_ts_threshold_ul(self) -> float:
        """sqrt(TS) below which a point is shown as an upper limit."""
        return float(self.meta["sqrt_ts_threshold_ul"])

    @sqrt_ts_threshold_ul.setter
    def sqrt_ts_threshold_ul(self, value: float) -> None:
        self.meta["sqrt_ts_threshold_ul"] = float(value)
        if "is_ul" in self._data and "ts" in self._data:
            # upper-limit flags follow the new threshold
            del self._data["is_ul"]
            if "norm_ul" not in self._data:
                return
            self.is_ul = self._is_ul()

    # -- reference fluxes ---------------------------------------------------------------------
    def _expand(self, values: np.ndarray) -> np.ndarray:
        """Broadcast a per-energy array to the data shape of the norm map."""
        ndim = len(self.geom.data_shape)
        idx_np = ndim - 1 - self.geom.axes.names.index("energy") - 2
        shape = [1] * ndim
        shape[idx_np] = values.size
        return np.asarray(values).reshape(shape)

    def _reference_fluxes(self) -> dict[str, u.Quantity]:
        cached = self.__dict__.get("_ref_cache")
        if cached is None:
            cached = dict(self.reference_spectral_model.reference_fluxes(self.energy_axis))
            # exact reference values read from a table take precedence over the model
            override = self.meta.get("_ref_values")
            if override:
                cached.update({k: u.Quantity(v) for k, v in override.items()})
            self._ref_cache = cached
        return cached

    def _ref(self, name: str) -> u.Quantity:
        ref = self._reference_fluxes()
        key = {"dnde": "ref_dnde", "e2dnde": "ref_e2dnde", "flux": "ref_flux",
               "eflux": "ref_eflux"}.get(name, name)
        value = ref[key]
        unit = DEFAULT_UNIT.get(name.replace("ref_", ""), value.unit)
        if name in ("e_ref", "e_min", "e_max"):
            unit = self.energy_axis.unit
        return value.to(unit)

    @property
    def energy_ref(self) -> u.Quantity:
        return self._ref("e_ref")

    @property
    def energy_min(self) -> u.Quantity:
        return self._ref("e_min")

    @property
    def energy_max(self) -> u.Quantity:
        return self._ref("e_max")

    def _ref_map(self, name: str) -> Any:
        from ..maps import Map

        q = self._ref(name)
        data = np.broadcast_to(self._expand(q.value), self.geom.data_shape).copy()
        return Map.from_geom(self.geom, data=data, unit=q.unit, dtype=float)

    @property
    def ref_dnde(self) -> Any:
        return self._ref_map("dnde")

    @property
    def ref_e2dnde(self) -> Any:
        return self._ref_map("e2dnde")

    @property
    def ref_flux(self) -> Any:
        return self._ref_map("flux")

    @property
    def ref_eflux(self) -> Any:
        return self._ref_map("eflux")

    # -- quantities ---------------------------------------------------------------------------
    def _success_mask(self) -> np.ndarray | None:
        if not self.filter_success_nan or "success" not in self._data:
            return None
        return ~np.asarray(self._data["success"].data, dtype=bool)

    def _norm_quantity(self, name: str) -> Any:
        if name not in self._data:
            raise AttributeError(f"No quantity {name!r}; available: {self.available_quantities}")
        m = self._data[name]
        bad = self._success_mask()
        if bad is None or name == "norm_scan":
            return m
        data = np.array(m.data, dtype=float)
        data[np.broadcast_to(bad, data.shape)] = np.nan
        return m.copy(data=data)

    def get(self, name: str) -> Any:
        """Quantity ``name`` as a `~gammapipe.maps.Map` (any SED type, see module docs)."""
        if name in ("ref_dnde", "ref_e2dnde", "ref_flux", "ref_eflux"):
            return self._ref_map(name[4:])
        if name == "sqrt_ts":
            return self._sqrt_ts()
        if name == "is_ul":
            return self._is_ul()
        if name.startswith("norm"):
            return self._norm_quantity(name)
        for sed in ("e2dnde", "dnde", "eflux", "flux"):
            if name.startswith(sed) and name[len(sed):] in NORM_SUFFIXES:
                norm = self._norm_quantity("norm" + name[len(sed):])
                ref = self._ref(sed)
                data = norm.data * self._expand(ref.value)
                return norm.copy(data=np.asarray(data, dtype=float), unit=ref.unit)
        if name in self._data:
            return self._data[name]
        raise AttributeError(
            f"{type(self).__name__} has no quantity {name!r}; available: "
            f"{self.available_quantities}"
        )

    def _sqrt_ts(self) -> Any:
        if "sqrt_ts" in self._data:
            return self._data["sqrt_ts"]
        if "ts" not in self._data:
            raise AttributeError("No 'ts' to compute 'sqrt_ts' from")
        ts = np.asarray(self._data["ts"].data, dtype=float)
        norm = np.asarray(self._data["norm"].data, dtype=float)
        with np.errstate(invalid="ignore"):
            data = np.where(norm > 0, np.sqrt(np.clip(ts, 0, None)),
                            -np.sqrt(np.clip(ts, 0, None)))
        return self._data["ts"].copy(data=data)

    def _is_ul(self) -> Any:
        if "is_ul" in self._data:
            return self._data["is_ul"]
        if "ts" in self._data and "norm_ul" in self._data:
            data = self._sqrt_ts().data < self.sqrt_ts_threshold_ul
            return self._data["norm"].copy(data=data, unit="")
        raise AttributeError("No upper limits ('norm_ul') available for 'is_ul'")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.get(name)
        except AttributeError as exc:
            raise AttributeError(str(exc)) from None

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    @property
    def is_ul(self) -> Any:
        """Boolean map: upper limit flag (stored, or ``sqrt_ts < sqrt_ts_threshold_ul``)."""
        return self._is_ul()

    @is_ul.setter
    def is_ul(self, value: Any) -> None:
        data = np.broadcast_to(np.asarray(getattr(value, "data", value), dtype=bool),
                               self.geom.data_shape).copy()
        self._data["is_ul"] = self._data["norm"].copy(data=data, unit="")

    @property
    def sqrt_ts(self) -> Any:
        """Signed sqrt(TS) (sign of the norm)."""
        return self._sqrt_ts()

    def all_quantities(self, sed_type: str) -> list[str]:
        """Names of the quantities available in ``sed_type``."""
        if sed_type not in SED_TYPES:
            raise ValueError(f"sed_type must be one of {SED_TYPES}, got {sed_type!r}")
        prefix = "norm" if sed_type == "likelihood" else sed_type
        names = []
        for key in self._data:
            if key.startswith("norm"):
                names.append(prefix + key[4:])
            elif key != "is_ul":
                names.append(key)
        return names

    # -- conversions --------------------------------------------------------------------------
    @classmethod
    def from_maps(cls, maps: dict, sed_type: str | None = None, reference_model: Any = None,
                  gti: Any = None, meta: dict | None = None) -> FluxMaps:
        """Create from maps in any SED type (converted to norms with the reference model)."""
        maps = dict(maps)
        if sed_type is None:
            sed_type = next((s for s in ("likelihood", "dnde", "e2dnde", "flux", "eflux")
                             if (s if s != "likelihood" else "norm") in maps), None)
            if sed_type is None:
                raise GammapipeError(
                    f"FluxMaps.from_maps: cannot infer the SED type from {sorted(maps)}"
                )
        if reference_model is None:
            reference_model = _default_reference_model()
        if sed_type == "likelihood":
            return cls(data=maps, reference_model=reference_model, gti=gti, meta=meta)
        first = maps[sed_type]
        tmp = cls(data={"norm": first}, reference_model=reference_model)
        ref = tmp._ref(sed_type)
        ref_values = tmp._expand(ref.value)
        data = {}
        for key, m in maps.items():
            if key.startswith(sed_type) and key[len(sed_type):] in NORM_SUFFIXES:
                values = m.quantity.to_value(ref.unit) / ref_values
                data["norm" + key[len(sed_type):]] = m.copy(data=values, unit="")
            else:
                data[key] = m
        meta = dict(meta or {})
        meta["sed_type_init"] = sed_type
        return cls(data=data, reference_model=reference_model, gti=gti, meta=meta)

    def to_maps(self, sed_type: str | None = None) -> dict:
        """All quantities as maps in ``sed_type`` (default: the initial SED type)."""
        sed_type = sed_type or self.sed_type_init
        return {name: self.get(name) for name in self.all_quantities(sed_type)}

    def slice_by_idx(self, slices: dict) -> FluxMaps:
        """Slice all maps (e.g. ``{"energy": slice(0, 2)}``)."""
        data = {}
        for key, m in self._data.items():
            own = {k: v for k, v in slices.items() if k in m.geom.axes.names}
            data[key] = m.slice_by_idx(own) if own else m
        meta = dict(self.meta)
        if "energy" in slices and meta.get("_ref_values"):
            meta["_ref_values"] = {k: v[slices["energy"]]
                                   for k, v in meta["_ref_values"].items()}
        return self.__class__(data=data, reference_model=self._reference_model,
                              meta=meta, gti=self.gti,
                              filter_success_nan=self.filter_success_nan)

    def iter_by_axis(self, axis_name: str):
        """Yield one sliced object per bin of ``axis_name``."""
        axis = self.geom.axes[axis_name]
        for idx in range(axis.nbin):
            yield self.slice_by_idx({axis_name: slice(idx, idx + 1)})

    def to_table(self, sed_type: str | None = None) -> Any:
        """Flat table: one row per pixel and energy bin (``lon``, ``lat``, energy bounds and
        every quantity of ``sed_type``; per-dataset quantities summed over datasets)."""
        from astropy.table import Table

        sed_type = sed_type or self.sed_type_init
        geom = self.geom
        shape = geom.data_shape
        table = Table()
        if hasattr(geom, "pixel_scales"):
            coords = geom.get_coord()
            table["lon"] = np.ravel(np.broadcast_to(coords["lon"], shape)) * u.deg
            table["lat"] = np.ravel(np.broadcast_to(coords["lat"], shape)) * u.deg
        for name, q in (("e_ref", self.energy_ref), ("e_min", self.energy_min),
                        ("e_max", self.energy_max)):
            table[name] = np.ravel(np.broadcast_to(self._expand(q.value), shape)) * q.unit
        for name in self.all_quantities(sed_type):
            m = self.get(name)
            data = np.asarray(m.data)
            if data.shape != shape:
                if name.endswith("_scan"):
                    continue
                data = data.sum(axis=0)
            col = np.ravel(data)
            table[name] = col * m.unit if m.unit != u.Unit("") else col
        table.meta["SED_TYPE"] = sed_type
        return table

    # -- I/O ----------------------------------------------------------------------------------
    def to_hdulist(self, sed_type: str | None = None) -> Any:
        """HDU list: one map HDU (+ bands HDU) per quantity and the reference model."""
        from astropy.io import fits

        sed_type = sed_type or self.sed_type_init
        primary = fits.PrimaryHDU()
        primary.header["SED_TYPE"] = sed_type
        hdus = [primary]
        for name, m in self.to_maps(sed_type).items():
            hdul = m.copy(data=np.asarray(m.data, dtype=float)).to_hdulist(
                hdu=name.upper(), hdu_bands=f"{name.upper()}_BANDS")
            hdus.extend(hdul[1:] if isinstance(hdul[0], fits.PrimaryHDU) else hdul)
        model = self.reference_spectral_model
        table = fits.BinTableHDU.from_columns(
            [fits.Column(name="MODEL", format="A", array=np.array([""]))], name="REFMODEL")
        table.header["MODEL"] = json.dumps(model.to_dict(full_output=False))
        for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
            if key in self.meta:
                primary.header[key.upper()[:8]] = self.meta[key]
        hdus.append(table)
        return fits.HDUList(hdus)

    def write(self, filename: Any, filename_model: Any = None, overwrite: bool = False,
              sed_type: str | None = None) -> None:
        """Write the maps to a FITS file (written atomically)."""
        from ..utils.fits import make_path, write_hdulist

        write_hdulist(self.to_hdulist(sed_type), make_path(filename), overwrite=overwrite)

    @classmethod
    def from_hdulist(cls, hdulist: Any, sed_type: str | None = None) -> FluxMaps:
        """Create from an HDU list written by `to_hdulist`."""
        from ..maps import Map
        from ..modeling.models import SpectralModel

        sed_type = sed_type or hdulist[0].header.get("SED_TYPE")
        maps = {}
        for hdu in hdulist[1:]:
            name = hdu.name
            if name.endswith("_BANDS") or name == "REFMODEL":
                continue
            maps[name.lower()] = Map.from_hdulist(hdulist, hdu=name,
                                                   hdu_bands=f"{name}_BANDS")
        reference_model = None
        if "REFMODEL" in hdulist:
            reference_model = SpectralModel.from_dict(
                json.loads(hdulist["REFMODEL"].header["MODEL"]))
        meta = {}
        for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
            if key.upper()[:8] in hdulist[0].header:
                meta[key] = hdulist[0].header[key.upper()[:8]]
        if "success" in maps:
            maps["success"] = maps["success"].copy(data=maps["success"].data.astype(bool))
        return cls.from_maps(maps, sed_type=sed_type, reference_model=reference_model,
                             meta=meta)

    @classmethod
    def read(cls, filename: Any, sed_type: str | None = None) -> FluxMaps:
        """Read maps written by `write`."""
        from ..utils.fits import open_fits

        with open_fits(filename) as hdulist:
            return cls.from_hdulist(hdulist, sed_type=sed_type)

    def __str__(self) -> str:
        lines = [type(self).__name__, "-" * len(type(self).__name__), ""]
        lines.append(f"  geom                   : {type(self.geom).__name__}")
        lines.append(f"  axes                   : {self.geom.axes.names}")
        lines.append(f"  shape                  : {self.geom.data_shape[::-1]}")
        lines.append(f"  quantities             : {self.available_quantities}")
        lines.append(f"  ref. model             : {type(self.reference_spectral_model).__name__}")
        lines.append(f"  n_sigma                : {self.n_sigma}")
        lines.append(f"  n_sigma_ul             : {self.n_sigma_ul}")
        lines.append(f"  sqrt_ts_threshold_ul   : {self.sqrt_ts_threshold_ul}")
        lines.append(f"  sed type init          : {self.sed_type_init}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(quantities={self.available_quantities})"
