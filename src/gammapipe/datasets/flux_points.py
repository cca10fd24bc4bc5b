"""`FluxPointsDataset`: spectral models fitted to flux points.

The data are `~gammapipe.estimators.FluxPoints`; the model prediction is the sum of the
spectral models of the dataset's sky models evaluated at the reference energies ``e_ref``.
Three statistics (``stat_type``) are available, all on the ``-2 log L`` scale so that a
flux-points dataset can be fitted jointly with counts datasets:

``"chi2"`` (default)
    ``((dnde - model) / sigma) ** 2`` with ``sigma = dnde_err``, or the mean of
    ``dnde_errn`` and ``dnde_errp`` when the points carry no symmetric error. Upper-limit
    points (``is_ul``) and points without a finite value / error are left out (`mask`).
    This is the reference tool's default statistic.
``"profile"``
    The likelihood profile of each point (``stat_scan`` on ``norm_scan``, e.g. from
    ``FluxPointsEstimator(selection_optional=["scan"])``) evaluated at the model norm
    ``model / ref_dnde``. The profile enters as ``stat_scan - stat`` (zero at the best-fit
    norm). It is interpolated in signed-square-root space, ``s = sign(norm - norm_best) *
    sqrt(stat_scan - stat)`` with the best-fit point ``(norm_best, 0)`` added as a node,
    by a monotone cubic (PCHIP) interpolation and linear extrapolation: exact for a parabolic
    profile, smooth (C1) for the minimiser. Upper-limit points enter with their profile.
``"distrib"``
    Points as asymmetric Gaussians: ``((dnde - model) / sigma) ** 2`` with
    ``sigma = dnde_errp`` when the model lies above the point and ``dnde_errn`` below (the
    symmetric ``dnde_err`` where the asymmetric ones are missing). Upper limits ``U`` (at
    ``n_sigma_ul``) enter as a one-sided Gaussian constraint:
    ``-2 log[Phi((U - model) / s) / Phi(U / s)]`` with ``s = U / n_sigma_ul``, which is zero
    for a vanishing model and grows like ``((model - U) / s) ** 2`` above the limit.
"""

from __future__ import annotations

import copy as _copy
from typing import Any

import astropy.units as u
import numpy as np

from .core import Dataset, make_name

__all__ = ["FluxPointsDataset"]

STAT_TYPES = ("chi2", "profile", "distrib")
_DNDE_UNIT = u.Unit("cm-2 s-1 TeV-1")
_MASK_COLUMNS = ("mask_safe", "mask_fit")


def _is_flux_points(data: Any) -> bool:
    from gammapipe.estimators.points import FluxPoints

    return isinstance(data, FluxPoints)


def _optional(data: Any, name: str) -> np.ndarray | None:
    """Values of a flux-points quantity in ``_DNDE_UNIT`` (dnde types) or None if absent."""
    try:
        m = data.get(name)
    except AttributeError:
        return None
    q = m.quantity if hasattr(m, "quantity") else u.Quantity(m.data, m.unit)
    if name.startswith("dnde"):
        return np.asarray(q.to_value(_DNDE_UNIT), dtype=float)
    return np.asarray(q.value)


def chi2_stat(data: np.ndarray, model: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``((data - model) / sigma) ** 2`` element-wise (NaN where sigma is not positive)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = ((data - model) / sigma) ** 2
    return np.where(sigma > 0, stat, np.nan)


def asymmetric_sigma(data: np.ndarray, model: np.ndarray, errn: np.ndarray,
                     errp: np.ndarray, err: np.ndarray | None = None) -> np.ndarray:
    """Error on the side of the model: ``errp`` where ``model >= data``, else ``errn``;
    ``err`` (if given) where the chosen asymmetric error is not finite."""
    sigma = np.where(model >= data, errp, errn).astype(float)
    if err is not None:
        sigma = np.where(np.isfinite(sigma), sigma, err)
    return sigma


def upper_limit_stat(ul: np.ndarray, model: np.ndarray, n_sigma_ul: float) -> np.ndarray:
    """One-sided Gaussian statistic of upper limits: ``-2 log[Phi((ul - model) / s) /
    Phi(ul / s)]`` with ``s = ul / n_sigma_ul`` (0 for a zero model)."""
    from scipy.special import log_ndtr

    with np.errstate(invalid="ignore", divide="ignore"):
        scale = ul / n_sigma_ul
        return -2 * (log_ndtr((ul - model) / scale) - log_ndtr(ul / scale))


class _ProfileInterpolator:
    """Signed-sqrt PCHIP interpolation of the likelihood profiles of all points.

    Parameters
    ----------
    norm_scan, stat_scan : `~numpy.ndarray`
        Scan values and statistic, shape ``(n_scan, n_points)``.
    norm, stat : `~numpy.ndarray`
        Best-fit norm and statistic per point, shape ``(n_points,)``.
    """

    def __init__(self, norm_scan: np.ndarray, stat_scan: np.ndarray, norm: np.ndarray,
                 stat: np.ndarray) -> None:
        from scipy.interpolate import PchipInterpolator

        n_points = norm.size
        self.valid = np.zeros(n_points, dtype=bool)
        self._interps: list = [None] * n_points
        self._ends: list = [None] * n_points
        for i in range(n_points):
            x = np.append(norm_scan[:, i], norm[i])
            y = np.append(stat_scan[:, i] - stat[i], 0.0)
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or x.size < 3:
                continue
            x, idx = np.unique(x, return_index=True)
            s = np.sign(x - norm[i]) * np.sqrt(np.abs(y[idx]))
            interp = PchipInterpolator(x, s, extrapolate=False)
            deriv = interp.derivative()
            self._interps[i] = interp
            self._ends[i] = (x[0], s[0], float(deriv(x[0])), x[-1], s[-1],
                             float(deriv(x[-1])))
            self.valid[i] = True

    def __call__(self, norm: np.ndarray) -> np.ndarray:
        """Profile ``stat_scan - stat`` at ``norm`` (one value per point; NaN if invalid)."""
        out = np.full(norm.shape, np.nan)
        for i, interp in enumerate(self._interps):
            if interp is None:
                continue
            x0, s0, d0, x1, s1, d1 = self._ends[i]
            n = norm[i]
            if n < x0:
                s = s0 + d0 * (n - x0)
            elif n > x1:
                s = s1 + d1 * (n - x1)
            else:
                s = float(interp(n))
            out[i] = s * s
        return out


class FluxPointsDataset(Dataset):
    """Flux points and spectral models, for fits of models to flux points.

    Parameters
    ----------
    models : `~gammapipe.modeling.models.SkyModel` or list, optional
        Models; the dataset keeps those whose ``datasets_names`` include its name (or are
        None). Their spectral parts are summed.
    data : `~gammapipe.estimators.FluxPoints`
        Flux points.
    mask_fit, mask_safe : `~gammapipe.maps.Map` or `~numpy.ndarray` of bool, optional
        Points entering the fit / in the safe range (shape of ``data.dnde``).
    name : str, optional
        Dataset name (random if None).
    meta_table : `~astropy.table.Table`, optional
        Meta data.
    stat_type : {"chi2", "profile", "distrib"}
        Fit statistic (see the module documentation).
    """

    tag = "FluxPointsDataset"

    def __init__(self, models=None, data=None, mask_fit=None, mask_safe=None,
                 name: str | None = None, meta_table=None, stat_type: str = "chi2") -> None:
        if data is None or not _is_flux_points(data):
            raise TypeError(
                "FluxPointsDataset: argument 'data' must be a FluxPoints object, got "
                f"{type(data).__name__}"
            )
        self._data = data
        self._profile = None
        self._name = make_name(name)
        self.meta_table = meta_table
        self.stat_type = stat_type
        self.mask_fit = mask_fit
        self.mask_safe = mask_safe
        self._models = None
        self.models = models

    # ------------------------------------------------------------------ attributes
    @property
    def data(self):
        """Flux points (`~gammapipe.estimators.FluxPoints`)."""
        return self._data

    @property
    def stat_type(self) -> str:
        """Fit statistic: "chi2", "profile" or "distrib"."""
        return self._stat_type

    @stat_type.setter
    def stat_type(self, value: str) -> None:
        if value not in STAT_TYPES:
            raise ValueError(
                f"FluxPointsDataset: unknown stat_type {value!r}; choose one of {STAT_TYPES}"
            )
        if value == "profile" and "stat_scan" not in self._data.available_quantities:
            raise ValueError(
                "FluxPointsDataset: stat_type 'profile' needs likelihood profiles "
                "('stat_scan'/'norm_scan', e.g. FluxPointsEstimator(selection_optional="
                "['scan'])); the flux points have "
                f"{self._data.available_quantities}"
            )
        self._stat_type = value

    @property
    def data_shape(self) -> tuple:
        """Shape of the flux-point arrays (``data.dnde.data.shape``)."""
        return tuple(self._data.geom.data_shape)

    def _as_mask(self, mask, what: str):
        if mask is None:
            return None
        values = np.asarray(getattr(mask, "data", mask))
        if values.size == int(np.prod(self.data_shape)):
            values = values.reshape(self.data_shape)
        try:
            values = np.broadcast_to(values.astype(bool), self.data_shape).copy()
        except ValueError:
            raise ValueError(
                f"FluxPointsDataset: {what} of shape {values.shape} does not match the flux "
                f"points shape {self.data_shape}"
            ) from None
        return self._data.get("norm").copy(data=values, unit="")

    @property
    def mask_fit(self):
        """Boolean map of the points entering the fit (None = all)."""
        return self._mask_fit

    @mask_fit.setter
    def mask_fit(self, mask) -> None:
        self._mask_fit = self._as_mask(mask, "mask_fit")

    @property
    def mask_safe(self):
        """Boolean map of the points in the safe range (None = all)."""
        return self._mask_safe

    @mask_safe.setter
    def mask_safe(self, mask) -> None:
        self._mask_safe = self._as_mask(mask, "mask_safe")

    @property
    def is_masked(self) -> bool:
        """Whether a safe or fit mask is set."""
        return self._mask_safe is not None or self._mask_fit is not None

    @property
    def _is_ul(self) -> np.ndarray:
        values = _optional(self._data, "is_ul")
        if values is None:
            return np.zeros(self.data_shape, dtype=bool)
        return np.broadcast_to(values.astype(bool), self.data_shape)

    @property
    def mask_valid(self) -> np.ndarray:
        """Points usable by the statistic: finite value and error, not an upper limit
        ("chi2"); a finite profile ("profile"); finite value and error or a finite upper
        limit ("distrib")."""
        dnde = _optional(self._data, "dnde")
        if self._stat_type == "profile":
            return self._profile_interpolator().valid.reshape(self.data_shape)
        finite = np.isfinite(dnde) & np.isfinite(self._sigma_symmetric())
        if self._stat_type == "chi2":
            return finite & ~self._is_ul
        ul = _optional(self._data, "dnde_ul")
        is_ul = self._is_ul
        ok_ul = is_ul & (np.isfinite(ul) & (ul > 0) if ul is not None else False)
        return (finite & ~is_ul) | ok_ul

    @property
    def mask(self) -> np.ndarray:
        """Points entering the statistic: `mask_valid` & `mask_safe` & `mask_fit`."""
        mask = self.mask_valid.copy()
        for m in (self._mask_safe, self._mask_fit):
            if m is not None:
                mask &= np.asarray(m.data, dtype=bool)
        return mask

    # ------------------------------------------------------------------ models
    @property
    def models(self):
        """Models of this dataset (`~gammapipe.modeling.models.DatasetModels`) or None."""
        return self._models

    @models.setter
    def models(self, models) -> None:
        if models is not None:
            from gammapipe.modeling.models import DatasetModels

            models = DatasetModels(models).select(datasets_names=self.name)
        self._models = models

    def _spectral_models(self) -> list:
        if self._models is None:
            return []
        return [m.spectral_model for m in self._models
                if type(m).__name__ != "FoVBackgroundModel"
                and getattr(m, "spectral_model", None) is not None]

    # ------------------------------------------------------------------ statistic
    def flux_pred(self) -> u.Quantity:
        """Predicted ``dnde`` at the reference energies: the sum of the spectral models
        (shape of ``data.dnde``; zero without models)."""
        energy = self._data.energy_ref
        total = np.zeros(energy.shape)
        for model in self._spectral_models():
            total = total + model(energy).to_value(_DNDE_UNIT)
        values = np.broadcast_to(self._data._expand(total), self.data_shape)
        return u.Quantity(values, _DNDE_UNIT, copy=True)

    def _sigma_symmetric(self) -> np.ndarray:
        err = _optional(self._data, "dnde_err")
        if err is not None:
            return err
        errn = _optional(self._data, "dnde_errn")
        errp = _optional(self._data, "dnde_errp")
        if errn is None or errp is None:
            from gammapipe.utils.errors import GammapipeError

            raise GammapipeError(
                "FluxPointsDataset: the flux points have no errors (need 'norm_err' or "
                f"'norm_errn' and 'norm_errp'); available: {self._data.available_quantities}"
            )
        return 0.5 * (errn + errp)

    def _profile_interpolator(self) -> _ProfileInterpolator:
        if self._profile is None:
            d = self._data
            n = int(np.prod(self.data_shape))
            scan = np.asarray(d.get("norm_scan").data, float).reshape(-1, n)
            stat_scan = np.asarray(d.get("stat_scan").data, float).reshape(-1, n)
            norm = np.asarray(d.get("norm").data, float).reshape(n)
            if "stat" in d.available_quantities:
                stat = np.asarray(d.get("stat").data, float).reshape(n)
            else:
                stat = np.nanmin(stat_scan, axis=0)
            self._profile = _ProfileInterpolator(scan, stat_scan, norm, stat)
        return self._profile

    def _stat_array_chi2(self, model: np.ndarray) -> np.ndarray:
        return chi2_stat(_optional(self._data, "dnde"), model, self._sigma_symmetric())

    def _stat_array_profile(self, model: np.ndarray) -> np.ndarray:
        ref = np.asarray(self._data.ref_dnde.quantity.to_value(_DNDE_UNIT), float)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = (model / ref).ravel()
        return self._profile_interpolator()(norm).reshape(self.data_shape)

    def _stat_array_distrib(self, model: np.ndarray) -> np.ndarray:
        d = self._data
        dnde = _optional(d, "dnde")
        err = _optional(d, "dnde_err")
        errn, errp = _optional(d, "dnde_errn"), _optional(d, "dnde_errp")
        if errn is not None and errp is not None:
            sigma = asymmetric_sigma(dnde, model, errn, errp, err)
        else:
            sigma = self._sigma_symmetric()
        stat = chi2_stat(dnde, model, sigma)
        ul = _optional(d, "dnde_ul")
        is_ul = self._is_ul
        if ul is not None and np.any(is_ul):
            stat_ul = upper_limit_stat(ul, model, d.n_sigma_ul)
            stat = np.where(is_ul, stat_ul, stat)
        return stat

    def stat_array(self) -> np.ndarray:
        """Statistic per flux point (``stat_type``; NaN where a point cannot be used)."""
        model = self.flux_pred().value
        func = {"chi2": self._stat_array_chi2, "profile": self._stat_array_profile,
                "distrib": self._stat_array_distrib}[self._stat_type]
        return func(model)

    def stat_sum(self) -> float:
        """Total statistic over the points of `mask`."""
        stat = self.stat_array()
        return float(np.sum(stat[self.mask], dtype=np.float64))

    def residuals(self, method: str = "diff") -> u.Quantity:
        """Residuals ``data - model`` ("diff", in dnde units) or ``(data - model) / model``
        ("diff/model", dimensionless); shape of ``data.dnde``."""
        data = _optional(self._data, "dnde")
        model = self.flux_pred().value
        if method == "diff":
            return u.Quantity(data - model, _DNDE_UNIT)
        if method == "diff/model":
            with np.errstate(invalid="ignore", divide="ignore"):
                return u.Quantity((data - model) / model, "")
        raise ValueError(
            f"FluxPointsDataset.residuals: unknown method {method!r}; use 'diff' or "
            "'diff/model'"
        )

    # ------------------------------------------------------------------ info
    def info_dict(self) -> dict:
        """Summary: name, type, stat type, number of points (all / fitted / upper
        limits), stat sum and model names."""
        mask = self.mask
        return {
            "name": self.name,
            "type": self.tag,
            "stat_type": self._stat_type,
            "n_points": int(np.prod(self.data_shape)),
            "n_fit_points": int(mask.sum()),
            "n_upper_limits": int(np.sum(self._is_ul)),
            "stat_sum": self.stat_sum() if self._spectral_models() else np.nan,
            "models": [] if self._models is None else list(self._models.names),
        }

    def __str__(self) -> str:
        info = self.info_dict()
        lines = [type(self).__name__, "-" * len(type(self).__name__), ""]
        lines.append(f"  Name                            : {info['name']}")
        lines.append("")
        lines.append(f"  Number of total flux points     : {info['n_points']}")
        lines.append(f"  Number of fit bins              : {info['n_fit_points']}")
        lines.append(f"  Number of upper limits          : {info['n_upper_limits']}")
        lines.append("")
        lines.append(f"  Fit statistic type              : {info['stat_type']}")
        lines.append(f"  Fit statistic value (-2 log(L)) : {info['stat_sum']:.2f}")
        lines.append("")
        n_models = len(info["models"])
        lines.append(f"  Number of models                : {n_models}")
        if self._models is not None:
            pars = self._models.parameters
            lines.append(f"  Number of parameters            : {len(pars)}")
            lines.append(f"  Number of free parameters       : "
                         f"{sum(not p.frozen for p in pars)}")
            lines.append("")
            lines.append(str(self._models))
        return "\n".join(lines) + "\n"

    def copy(self, name: str | None = None) -> FluxPointsDataset:
        """Deep copy with a new name (random if None); models are not copied."""
        models, self._models = self._models, None
        try:
            new = _copy.deepcopy(self)
        finally:
            self._models = models
        new._name = make_name(name)
        return new

    # ------------------------------------------------------------------ I/O
    def to_table(self):
        """Flux-point table (initial SED type; "gadf-sed" format, or "lightcurve" with several
        time bins) with ``mask_safe`` / ``mask_fit`` columns and the stat type in the
        ``STAT_TYP`` keyword."""
        axes = self._data.geom.axes
        fmt = "lightcurve" if "time" in axes.names and axes["time"].nbin > 1 else "gadf-sed"
        table = self._data.to_table(sed_type=self._data.sed_type_init, format=fmt)
        for col, mask in zip(_MASK_COLUMNS, (self._mask_safe, self._mask_fit), strict=True):
            values = (np.ones(self.data_shape, bool) if mask is None
                      else np.asarray(mask.data, bool))
            values = values.reshape(len(table), -1)
            table[col] = values[:, 0] if fmt == "gadf-sed" else values
        table.meta["STAT_TYP"] = self._stat_type
        table.meta["FORMAT"] = fmt
        return table

    def write(self, filename, overwrite: bool = False, checksum: bool = False) -> None:
        """Write the flux points and masks as a FITS (``FLUX_POINTS`` HDU) or ECSV table,
        atomically (never a half-written file)."""
        from gammapipe.utils.fits import atomic_write, make_path

        path = make_path(filename)
        table = self.to_table()
        suffixes = "".join(path.suffixes).lower()
        if ".ecsv" in suffixes:
            def write_func(tmp):
                table.write(tmp, format="ascii.ecsv", overwrite=True)
        elif ".fit" in suffixes:
            def write_func(tmp):
                from astropy.io import fits
                from astropy.io.fits.convenience import table_to_hdu

                hdu = table_to_hdu(table)
                hdu.name = "FLUX_POINTS"
                fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True,
                                                               checksum=checksum)
        else:
            raise ValueError(f"FluxPointsDataset.write: unsupported file type {path.name!r} "
                             "(use .fits, .fits.gz or .ecsv)")
        atomic_write(write_func, path, overwrite=overwrite)

    @classmethod
    def read(cls, filename, name: str | None = None, stat_type: str | None = None,
             reference_model=None, **kwargs) -> FluxPointsDataset:
        """Read a dataset written by `write` (or any GADF SED table, all points safe).

        Parameters
        ----------
        filename : str or `~pathlib.Path`
            FITS or ECSV file.
        name : str, optional
            Dataset name (random if None).
        stat_type : str, optional
            Statistic (default: the file's ``STAT_TYP`` keyword, else "chi2").
        reference_model : `SpectralModel`, optional
            Reference model of the flux points.
        **kwargs
            ``lazy`` / ``cache`` (accepted for API compatibility, unused) and ``hdu``.
        """
        from astropy.table import Table

        from gammapipe.estimators.points import FluxPoints
        from gammapipe.utils.errors import MissingFileError
        from gammapipe.utils.fits import make_path, read_table_hdu

        path = make_path(filename)
        if not path.exists():
            raise MissingFileError(f"FluxPointsDataset.read: file not found: {path}")
        if ".ecsv" in "".join(path.suffixes).lower():
            table = Table.read(path, format="ascii.ecsv")
        else:
            table = read_table_hdu(path, kwargs.get("hdu", 1))
        masks = {}
        for col in _MASK_COLUMNS:
            if col in table.colnames:
                masks[col] = np.asarray(table[col], dtype=bool)
                table.remove_column(col)
        stat_type = stat_type or str(table.meta.get("STAT_TYP", "chi2")).strip()
        fmt = str(table.meta.get("FORMAT", "gadf-sed")).strip() or "gadf-sed"
        data = FluxPoints.from_table(table, format=fmt, reference_model=reference_model)
        shape = tuple(data.geom.data_shape)
        masks = {k: v.reshape(shape) for k, v in masks.items()}
        return cls(data=data, name=name, stat_type=stat_type,
                   mask_safe=masks.get("mask_safe"), mask_fit=masks.get("mask_fit"))

    def to_dict(self) -> dict:
        """Entry of a datasets YAML index (name, type, filename, stat_type)."""
        entry = super().to_dict()
        entry["stat_type"] = self._stat_type
        return entry

    @classmethod
    def from_dict(cls, data: dict, path=None, **kwargs) -> FluxPointsDataset:
        """Dataset of a datasets YAML index entry (file relative to ``path``)."""
        from pathlib import Path

        filename = Path(data["filename"])
        if path is not None and not filename.is_absolute():
            filename = Path(path) / filename
        return cls.read(filename, name=data.get("name"), stat_type=data.get("stat_type"))

    # ------------------------------------------------------------------ plots
    def plot_spectrum(self, ax=None, kwargs_fp=None, kwargs_model=None, **kwargs):
        """Flux points and the model (``e2dnde`` by default), see `plot_fit`."""
        return _plot_spectrum(self, ax=ax, kwargs_fp=kwargs_fp, kwargs_model=kwargs_model,
                             **kwargs)

    def plot_residuals(self, ax=None, method: str = "diff", **kwargs):
        """Residuals (`residuals`) per point with the scaled errors."""
        return _plot_residuals(self, ax=ax, method=method, **kwargs)

    def plot_fit(self, ax_spectrum=None, ax_residuals=None, kwargs_spectrum=None,
                 kwargs_residuals=None):
        """Spectrum (flux points + model) on top, residuals below.

        Parameters
        ----------
        ax_spectrum, ax_residuals : `~matplotlib.axes.Axes`, optional
            Axes (a new figure with two stacked panels if not given).
        kwargs_spectrum : dict, optional
            Passed to `plot_spectrum` (``kwargs_fp``, ``kwargs_model``, ``sed_type``,
            ``energy_power``...).
        kwargs_residuals : dict, optional
            Passed to `plot_residuals` (``method``, errorbar options).

        Returns
        -------
        ax_spectrum, ax_residuals : `~matplotlib.axes.Axes`
        """
        return _plot_fit(self, ax_spectrum, ax_residuals, kwargs_spectrum, kwargs_residuals)


# ---------------------------------------------------------------------- plotting helpers
def _new_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def _plot_spectrum(ds: FluxPointsDataset, ax=None, kwargs_fp=None, kwargs_model=None,
                   sed_type: str = "e2dnde", energy_power: float = 0):
    ax = _new_ax(ax)
    kwargs_fp = {"sed_type": sed_type, "energy_power": energy_power, "label": "Flux points",
                 "color": "k", **(kwargs_fp or {})}
    ds.data.plot(ax=ax, **kwargs_fp)
    e_min, e_max = ds.data.energy_min, ds.data.energy_max
    bounds = u.Quantity([np.nanmin(e_min.value), np.nanmax(e_max.value)], e_min.unit)
    models = ds._spectral_models()
    if models:
        total = models[0]
        for model in models[1:]:
            total = total + model
        kw = {"sed_type": kwargs_fp["sed_type"], "energy_power": kwargs_fp["energy_power"],
              "label": "Best fit model", "color": "tab:red", **(kwargs_model or {})}
        total.plot(bounds, ax=ax, **kw)
        kw_err = {k: v for k, v in kw.items() if k in ("sed_type", "energy_power", "color")}
        try:
            total.plot_error(bounds, ax=ax, facecolor=kw_err.pop("color"), alpha=0.2, **kw_err)
        except Exception:  # noqa: BLE001 - no covariance: the band is optional
            pass
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    return ax


def _plot_residuals(ds: FluxPointsDataset, ax=None, method: str = "diff", **kwargs):
    ax = _new_ax(ax)
    residuals = ds.residuals(method=method)
    values = np.array(residuals.value, float).ravel()
    d = ds.data
    model = ds.flux_pred().value.ravel()
    errn = _optional(d, "dnde_errn")
    errp = _optional(d, "dnde_errp")
    if errn is not None and errp is not None:
        yerr = np.vstack([errn.ravel(), errp.ravel()])
    else:
        err = ds._sigma_symmetric().ravel()
        yerr = np.vstack([err, err])
    if method == "diff/model":
        with np.errstate(invalid="ignore", divide="ignore"):
            yerr = yerr / np.abs(model)
    is_ul = np.asarray(ds._is_ul, bool).ravel()
    values[is_ul] = np.nan
    energy = np.broadcast_to(d._expand(d.energy_ref.value), ds.data_shape).ravel()
    e_unit = d.energy_ref.unit
    xerr = np.vstack([
        energy - np.broadcast_to(d._expand(d.energy_min.to_value(e_unit)), ds.data_shape).ravel(),
        np.broadcast_to(d._expand(d.energy_max.to_value(e_unit)), ds.data_shape).ravel() - energy,
    ])
    kw = {"color": "k", "marker": "o", "linestyle": "none", **kwargs}
    ax.errorbar(energy, values, xerr=xerr, yerr=yerr, **kw)
    ax.axhline(0, color=kw["color"], lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel(f"Energy [{e_unit}]")
    unit = residuals.unit
    label = "data - model" if method == "diff" else "(data - model) / model"
    ax.set_ylabel(label + (f" [{unit}]" if unit != u.Unit("") else ""))
    finite = np.isfinite(values)
    if finite.any():
        ymax = 1.2 * np.nanmax(np.abs(values[finite]) + np.nanmax(yerr[:, finite], axis=0))
        if np.isfinite(ymax) and ymax > 0:
            ax.set_ylim(-ymax, ymax)
    return ax


def _plot_fit(ds: FluxPointsDataset, ax_spectrum=None, ax_residuals=None,
              kwargs_spectrum=None, kwargs_residuals=None):
    if ax_spectrum is None or ax_residuals is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(8, 7))
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0, left=0.16, right=0.96,
                                bottom=0.09, top=0.96)
        ax_spectrum = fig.add_subplot(grid[0])
        ax_residuals = fig.add_subplot(grid[1], sharex=ax_spectrum)
    _plot_spectrum(ds, ax=ax_spectrum, **(kwargs_spectrum or {}))
    kwargs_residuals = dict(kwargs_residuals or {})
    method = kwargs_residuals.pop("method", "diff")
    _plot_residuals(ds, ax=ax_residuals, method=method, **kwargs_residuals)
    ax_spectrum.set_xlabel("")
    ax_spectrum.tick_params(labelbottom=False)
    return ax_spectrum, ax_residuals
