"""`FluxPoints`: flux estimates in energy bins (and optionally time bins).

Tables follow the GADF "SED" format (``format="gadf-sed"``: one row per energy bin, columns
``e_ref``, ``e_min``, ``e_max`` and the SED-type columns, the SED type in the ``SED_TYPE``
keyword) or the light-curve format (``format="lightcurve"``: one row per time bin with
``time_min`` / ``time_max`` in MJD and the energy-dependent columns as 2D arrays).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from ..utils.errors import FITSFormatError, GammapipeError
from .core import SED_TYPES
from .flux_map import FluxMaps, _default_reference_model

__all__ = ["FluxPoints"]

_ENERGY_COLS = ("e_ref", "e_min", "e_max")
_PER_DATASET = ("npred", "npred_excess", "npred_background", "counts")
_SCAN = ("stat_scan", "norm_scan")
_FORMATS = ("gadf-sed", "lightcurve")
#: FITS-compatible (<= 8 characters) metadata keywords
_META_KEYS = {"n_sigma": "N_SIGMA", "n_sigma_ul": "N_SIG_UL", "sqrt_ts_threshold_ul": "TS_UL_TH"}


def _sed_prefix(sed_type: str) -> str:
    return "norm" if sed_type == "likelihood" else sed_type


def _detect_sed_type(colnames: list[str]) -> str:
    for sed_type in ("likelihood", "dnde", "e2dnde", "flux", "eflux"):
        if _sed_prefix(sed_type) in colnames:
            return sed_type
    raise FITSFormatError(
        f"FluxPoints: cannot determine the SED type from the columns {colnames}; need one "
        "of norm, dnde, e2dnde, flux, eflux"
    )


def _column_order(sed_type: str, keys: list[str], has_ul: bool) -> list[str]:
    p = _sed_prefix(sed_type)
    order = []
    if sed_type == "likelihood":
        order += ["ref_dnde", "ref_flux", "ref_eflux"]
        errs = ["norm_err", "norm_errn", "norm_errp", "norm_ul", "norm_sensitivity"]
    else:
        errs = [f"{p}_err", f"{p}_errp", f"{p}_errn", f"{p}_ul", f"{p}_sensitivity"]
    order += [p, *errs, "ts", "sqrt_ts", "npred", "npred_excess", "npred_background", "stat",
              "stat_null", "stat_scan", f"{p}_scan"]
    if has_ul:
        order.append("is_ul")
    order += ["counts", "success"]
    rest = [k for k in keys if k not in order and not k.startswith("norm")]
    return order + rest


class FluxPoints(FluxMaps):
    """Flux points: `FluxMaps` on a region geometry with an energy (and time) axis.

    Create them with `FluxPointsEstimator` / `LightCurveEstimator`, or from a table with
    `from_table` / `read`. Any SED type is available as attribute, e.g. ``fp.dnde``,
    ``fp.e2dnde_errn``, ``fp.flux_ul`` (`~gammapipe.maps.RegionNDMap`).
    """

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def _energy_axis_from_table(e_min, e_max, e_ref) -> Any:
        from ..maps import MapAxis

        if e_min is not None and e_max is not None:
            e_min = u.Quantity(e_min)
            e_max = u.Quantity(e_max).to(e_min.unit)
            if np.allclose(e_min.value[1:], e_max.value[:-1], rtol=1e-6):
                edges = np.append(e_min.value, e_max.value[-1])
                return MapAxis.from_edges(edges, unit=e_min.unit, name="energy", interp="log")
        if e_ref is None:
            raise FITSFormatError("FluxPoints: need e_min/e_max or e_ref columns")
        e_ref = u.Quantity(e_ref)
        return MapAxis.from_nodes(e_ref.value, unit=e_ref.unit, name="energy", interp="log")

    @classmethod
    def from_table(cls, table: Any, sed_type: str | None = None, format: str = "gadf-sed",  # noqa: A002
                   reference_model: Any = None, gti: Any = None) -> FluxPoints:
        """Create flux points from a table in the "gadf-sed" or "lightcurve" format.

        Parameters
        ----------
        table : `~astropy.table.Table`
        sed_type : str, optional
            "likelihood", "dnde", "e2dnde", "flux" or "eflux" (default: the ``SED_TYPE``
            keyword, else guessed from the columns).
        format : {"gadf-sed", "lightcurve"}
        reference_model : `SpectralModel` or `SkyModel`, optional
            Reference for the SED conversions. Required to keep the exact spectral shape of a
            "likelihood" table; otherwise a power law of index 2 is assumed.
        gti : `GTI`, optional
        """
        from ..maps import LabelMapAxis, Map, MapAxis, RegionGeom, TimeMapAxis

        if format not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}, got {format!r}")
        table = table.copy()
        names = table.colnames
        if sed_type is None:
            sed_type = table.meta.get("SED_TYPE") or _detect_sed_type(names)
        sed_type = str(sed_type).strip()
        if sed_type not in SED_TYPES:
            raise FITSFormatError(f"FluxPoints: unknown SED type {sed_type!r}")
        prefix = _sed_prefix(sed_type)
        if prefix not in names:
            raise FITSFormatError(f"FluxPoints: column {prefix!r} missing (sed_type {sed_type!r})")

        def col(name):
            if name not in names:
                return None
            c = table[name]
            unit = c.unit if c.unit is not None else ""
            return u.Quantity(np.asarray(c), unit)

        axes = []
        if format == "gadf-sed":
            e = [col(n) for n in _ENERGY_COLS]
            energy_axis = cls._energy_axis_from_table(e[1], e[2], e[0])
            axes.append(energy_axis)
        else:
            if "time_min" not in names or "time_max" not in names:
                raise FITSFormatError("FluxPoints: lightcurve format needs time_min/time_max")
            from astropy.time import Time

            e = [col(n) for n in _ENERGY_COLS]
            e = [None if x is None else (x[0] if x.ndim > 1 else x) for x in e]
            energy_axis = cls._energy_axis_from_table(e[1], e[2], e[0])
            tmin = Time(np.asarray(table["time_min"], dtype=float), format="mjd", scale="utc")
            tmax = Time(np.asarray(table["time_max"], dtype=float), format="mjd", scale="utc")
            ref = tmin[0]
            time_axis = TimeMapAxis((tmin - ref).to("d"), (tmax - ref).to("d"),
                                    reference_time=ref, name="time")
            axes += [energy_axis, time_axis]
        geom = RegionGeom.create(None, axes=axes)
        n_rows = len(table)
        maps = {}
        for name in names:
            if name in (*_ENERGY_COLS, "time_min", "time_max") or name.startswith("ref_"):
                continue
            q = col(name)
            arr = q.value
            if arr.dtype.kind in "SUO":
                continue
            if format == "gadf-sed":
                arr = arr.reshape(n_rows, -1) if arr.ndim > 1 else arr.reshape(n_rows, 1)
                # (n_e, k) -> numpy (k, n_e, 1, 1)
                data = arr.T[..., None, None]
            else:
                n_e = energy_axis.nbin
                arr = arr.reshape(n_rows, n_e, -1)  # (n_t, n_e, k)
                data = np.moveaxis(arr, -1, 0)[..., None, None]
                # numpy order for axes [energy, time, extra]: (k, n_t, n_e, 1, 1)
            k = data.shape[0]
            if name in _SCAN or name.endswith("_scan"):
                extra = MapAxis.from_nodes(np.arange(k), name="scan")
                m_geom = geom.to_cube([extra])
            elif name in _PER_DATASET and k >= 1:
                labels = table.meta.get("DATASETS") or [str(i) for i in range(k)]
                if isinstance(labels, str):
                    labels = labels.split(",")
                extra = LabelMapAxis(labels[:k] if len(labels) >= k else
                                     [str(i) for i in range(k)], name="dataset")
                m_geom = geom.to_cube([extra])
            else:
                if k != 1:
                    raise FITSFormatError(
                        f"FluxPoints: column {name!r} has shape {q.shape}, expected one value "
                        "per bin"
                    )
                m_geom = geom
                data = data[0]
            dtype = bool if arr.dtype.kind == "b" else float
            maps[name] = Map.from_geom(m_geom, data=data.astype(dtype), unit=q.unit,
                                       dtype=dtype)
        meta = {}
        if sed_type == "likelihood" and "ref_dnde" in names:
            refs = {}
            for key in ("ref_dnde", "ref_flux", "ref_eflux", "ref_e2dnde"):
                if key in names:
                    q = col(key)
                    refs[key] = q[0] if q.ndim > 1 else q
            e_ref = energy_axis.center
            if "ref_e2dnde" not in refs:
                refs["ref_e2dnde"] = refs["ref_dnde"] * e_ref**2
            meta["_ref_values"] = refs
            if reference_model is None and energy_axis.nbin >= 2 and np.all(
                    refs["ref_dnde"].value > 0):
                from ..modeling.models import TemplateSpectralModel

                reference_model = TemplateSpectralModel(energy=e_ref, values=refs["ref_dnde"])
        if reference_model is None:
            reference_model = _default_reference_model()
        for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
            for k in (key, key.upper(), _META_KEYS[key]):
                if k in table.meta:
                    meta[key] = float(table.meta[k])
        if "n_sigma_ul" not in meta and "UL_CONF" in table.meta:
            from scipy.stats import norm as normal

            meta["n_sigma_ul"] = float(normal.isf(0.5 * (1 - float(table.meta["UL_CONF"]))))
        return cls.from_maps(maps, sed_type=sed_type, reference_model=reference_model,
                             gti=gti, meta=meta)

    # -- table output ---------------------------------------------------------------------------
    @property
    def _has_time(self) -> bool:
        return "time" in self.geom.axes.names

    def _column_data(self, m: Any, format: str) -> np.ndarray:  # noqa: A002
        """Map data -> table column array."""
        data = np.asarray(m.data)
        data = data[..., 0, 0]  # drop the region's spatial dims
        extra = len(m.geom.axes) - len(self.geom.axes)
        if format == "gadf-sed":
            if self._has_time:
                data = data[..., 0, :] if extra else data[0]
            # data: (k, n_e) or (n_e,)
            return data.T if extra else data
        # lightcurve: (k, n_t, n_e) or (n_t, n_e)
        return np.moveaxis(data, 0, -1) if extra else data

    def to_table(self, sed_type: str | None = None, format: str = "gadf-sed",  # noqa: A002
                 formatted: bool = False) -> Any:
        """Table of the flux points.

        Parameters
        ----------
        sed_type : str, optional
            "likelihood", "dnde", "e2dnde", "flux" or "eflux" (default: initial SED type).
        format : {"gadf-sed", "lightcurve"}
        formatted : bool
            Set display formats on the float columns (3 significant digits).
        """
        from astropy.table import Table

        if format not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}, got {format!r}")
        sed_type = sed_type or self.sed_type_init
        if sed_type not in SED_TYPES:
            raise ValueError(f"sed_type must be one of {SED_TYPES}, got {sed_type!r}")
        if format == "gadf-sed" and self._has_time and self.geom.axes["time"].nbin > 1:
            raise GammapipeError(
                "FluxPoints.to_table: several time bins; use format='lightcurve'"
            )
        table = Table()
        e_unit = self.energy_axis.unit
        if format == "lightcurve":
            if not self._has_time:
                raise GammapipeError("FluxPoints.to_table: no time axis for format='lightcurve'")
            time_axis = self.geom.axes["time"]
            n_t = time_axis.nbin
            table["time_min"] = time_axis.time_min.mjd
            table["time_max"] = time_axis.time_max.mjd
            for name in _ENERGY_COLS:
                q = self._ref(name).to(e_unit)
                table[name] = np.tile(q.value, (n_t, 1)) * e_unit
        else:
            for name in _ENERGY_COLS:
                table[name] = self._ref(name).to(e_unit)
        has_ul = "norm_ul" in self._data or "is_ul" in self._data
        prefix = _sed_prefix(sed_type)
        for name in _column_order(sed_type, self.available_quantities, has_ul):
            if name.startswith("ref_"):
                if sed_type != "likelihood":
                    continue
                q = self._ref(name[4:])
                if format == "lightcurve":
                    table[name] = np.tile(q.value, (self.geom.axes["time"].nbin, 1)) * q.unit
                else:
                    table[name] = q
                continue
            base = "norm" + name[len(prefix):] if name.startswith(prefix) else name
            if base not in self._data and name not in ("sqrt_ts", "is_ul"):
                continue
            if name == "sqrt_ts" and "ts" not in self._data:
                continue
            m = self.get(name)
            data = self._column_data(m, format)
            if name in ("success", "is_ul"):
                data = data.astype(bool)
            elif name == "niter":
                data = data.astype(int)
            table[name] = u.Quantity(data, m.unit) if m.unit != u.Unit("") else data
        table.meta["SED_TYPE"] = sed_type
        from scipy.stats import norm as normal

        table.meta["UL_CONF"] = float(1 - 2 * normal.sf(self.n_sigma_ul))
        for key, value in (("n_sigma", self.n_sigma), ("n_sigma_ul", self.n_sigma_ul),
                           ("sqrt_ts_threshold_ul", self.sqrt_ts_threshold_ul)):
            table.meta[_META_KEYS[key]] = value
        if formatted:
            for name in table.colnames:
                if table[name].dtype.kind == "f":
                    table[name].format = ".3e" if name not in ("ts", "sqrt_ts") else ".3f"
        return table

    # -- I/O ------------------------------------------------------------------------------------
    def write(self, filename: Any, sed_type: str | None = None, format: str | None = None,  # noqa: A002
              overwrite: bool = False, checksum: bool = False) -> None:
        """Write to FITS (``.fits``, ``.fits.gz``) or ECSV (``.ecsv``), atomically.

        ``format`` is "gadf-sed" or "lightcurve" (default: "lightcurve" when there is a time
        axis with several bins, else "gadf-sed").
        """
        from ..utils.fits import atomic_write, make_path

        path = make_path(filename)
        if format is None:
            format = "lightcurve" if (self._has_time and self.geom.axes["time"].nbin > 1) \
                else "gadf-sed"
        table = self.to_table(sed_type=sed_type, format=format)
        table.meta["FORMAT"] = format
        suffixes = "".join(path.suffixes).lower()
        if ".ecsv" in suffixes:
            def write_func(tmp):
                table.write(tmp, format="ascii.ecsv", overwrite=True)
        elif ".fits" in suffixes or ".fit" in suffixes:
            def write_func(tmp):
                from astropy.io import fits
                from astropy.io.fits.convenience import table_to_hdu

                hdu = table_to_hdu(table)
                hdu.name = "FLUX_POINTS"
                fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True,
                                                               checksum=checksum)
        else:
            raise ValueError(f"FluxPoints.write: unsupported file type {path.name!r} "
                             "(use .fits, .fits.gz or .ecsv)")
        atomic_write(write_func, path, overwrite=overwrite)

    @classmethod
    def read(cls, filename: Any, sed_type: str | None = None, format: str | None = None,  # noqa: A002
             reference_model: Any = None, **kwargs: Any) -> FluxPoints:
        """Read flux points written by `write` (or any GADF SED / light-curve table)."""
        from astropy.table import Table

        from ..utils.fits import make_path, read_table_hdu

        path = make_path(filename)
        if not Path(path).exists():
            from ..utils.errors import MissingFileError

            raise MissingFileError(f"FluxPoints.read: file not found: {path}")
        if ".ecsv" in "".join(path.suffixes).lower():
            table = Table.read(path, format="ascii.ecsv")
        else:
            table = read_table_hdu(path, kwargs.pop("hdu", 1))
        if format is None:
            format = str(table.meta.get("FORMAT", "")).strip() or (
                "lightcurve" if "time_min" in table.colnames else "gadf-sed")
        return cls.from_table(table, sed_type=sed_type, format=format,
                              reference_model=reference_model)

    # -- plots ----------------------------------------------------------------------------------
    @property
    def sed_type_plot_default(self) -> str:
        return "dnde" if self.sed_type_init == "likelihood" else self.sed_type_init

    def plot(self, ax: Any = None, sed_type: str | None = None, energy_power: float = 0,
             time_format: str = "iso", axis_name: str | None = None, **kwargs: Any) -> Any:
        """Plot the flux points (upper limits as arrows); see `plotting.plot_flux_points`."""
        from .plotting import plot_flux_points

        return plot_flux_points(self, ax=ax, sed_type=sed_type, energy_power=energy_power,
                                time_format=time_format, axis_name=axis_name, **kwargs)

    def plot_ts_profiles(self, ax: Any = None, sed_type: str | None = None,
                         add_cbar: bool = True, **kwargs: Any) -> Any:
        """Plot the TS profiles (``stat_scan - stat``) of every energy bin."""
        from .plotting import plot_ts_profiles

        return plot_ts_profiles(self, ax=ax, sed_type=sed_type, add_cbar=add_cbar, **kwargs)

    def recompute_ul(self, n_sigma_ul: float = 2, **kwargs: Any) -> FluxPoints:
        """New flux points with upper limits at ``n_sigma_ul`` from the stored profiles.

        The profile ``stat_scan(norm_scan)`` is interpolated (cubic in norm) and the
        crossing of ``stat + n_sigma_ul**2`` above the best fit is found.
        """
        if "stat_scan" not in self._data:
            raise GammapipeError("recompute_ul needs the likelihood profiles (selection 'scan')")
        from scipy.interpolate import interp1d
        from scipy.optimize import brentq

        norm = np.asarray(self._data["norm"].data, dtype=float)
        stat = np.asarray(self._data["stat"].data, dtype=float)
        scan = np.asarray(self._data["norm_scan"].data, dtype=float)
        stat_scan = np.asarray(self._data["stat_scan"].data, dtype=float)
        ul = np.full(norm.shape, np.nan)
        for idx in np.ndindex(norm.shape):
            x, y = scan[(slice(None), *idx)], stat_scan[(slice(None), *idx)]
            target = stat[idx] + n_sigma_ul**2
            f = interp1d(x, y - target, kind="cubic" if x.size > 3 else "linear")
            above = np.nonzero((x > norm[idx]) & (y - target > 0))[0]
            if not np.isfinite(norm[idx]) or above.size == 0:
                continue
            lo = max(norm[idx], x[0])
            try:
                ul[idx] = brentq(f, lo, x[above[0]])
            except ValueError:
                continue
        data = dict(self._data)
        data["norm_ul"] = self._data["norm"].copy(data=ul)
        meta = dict(self.meta, n_sigma_ul=n_sigma_ul)
        return self.__class__(data=data, reference_model=self.reference_model, meta=meta,
                              gti=self.gti, filter_success_nan=self.filter_success_nan)
