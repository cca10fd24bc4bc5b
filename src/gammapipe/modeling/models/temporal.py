"""Temporal models: a dimensionless norm as a function of time.

Times are `~astropy.time.Time` at the API and MJD floats (days, in the model's time
``scale``, default "utc") inside. ``integral(t_min, t_max)`` follows the GTI convention used
for predicted counts: for intervals ``i`` it returns ``int_{t_min_i}^{t_max_i} f dt /
sum_j (t_max_j - t_min_j)``, so that the sum over the intervals of an observation is the
time-averaged norm (for a single interval: the mean of the model over it).
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time

from ...utils.fits import make_path, read_table_hdu
from ..parameter import Parameter
from .core import ModelBase

__all__ = [
    "TemporalModel",
    "ConstantTemporalModel",
    "LinearTemporalModel",
    "ExpDecayTemporalModel",
    "GaussianTemporalModel",
    "PowerLawTemporalModel",
    "SineTemporalModel",
    "LightCurveTemplateTemporalModel",
]

# J2000 epoch as MJD (TT) used as default reference time
_T_REF_DEFAULT = "51544.00074287037 d"
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def _random_state(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state == "random-seed" or random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, int | np.integer):
        return np.random.default_rng(int(random_state))
    raise ValueError(
        f"random_state must be an int, a Generator or 'random-seed', got {random_state!r}"
    )


class TemporalModel(ModelBase):
    """Base class of temporal models.

    Parameters
    ----------
    scale : str
        Time scale of the MJD values (``t_ref`` and evaluation), default "utc".
    **kwargs
        Parameter values.
    """

    type = "temporal"

    def __init__(self, scale: str = "utc", **kwargs: Any) -> None:
        if scale not in Time.SCALES:
            raise ValueError(f"scale must be one of {Time.SCALES}, got {scale!r}")
        super().__init__(**kwargs)
        self.scale = scale

    @property
    def is_energy_dependent(self) -> bool:
        """Temporal models here do not depend on energy."""
        return False

    @property
    def reference_time(self) -> Time:
        """Reference time ``t_ref`` as `~astropy.time.Time`."""
        return Time(self.t_ref.quantity.to_value("d"), format="mjd", scale=self.scale)

    @reference_time.setter
    def reference_time(self, time: Time) -> None:
        self.t_ref.value = self._mjd(time)

    def _mjd(self, time) -> np.ndarray:
        if not isinstance(time, Time):
            time = Time(time)
        if time.scale != self.scale:
            time = getattr(time, self.scale)
        return np.asarray(time.mjd, dtype=float)

    def _kwargs(self) -> dict[str, u.Quantity]:
        pars = self.parameters._parameters
        return {a: pars[i].quantity for a, i in self.__dict__.get("_parameter_attrs", {}).items()}

    def __call__(self, time: Time, energy: u.Quantity | None = None) -> np.ndarray:
        """Norm at ``time`` (dimensionless array)."""
        mjd = u.Quantity(self._mjd(time), "d")
        return np.asarray(u.Quantity(self.evaluate(mjd, **self._kwargs())).to_value(u.one))

    @staticmethod
    def time_sum(t_min: Time, t_max: Time) -> u.Quantity:
        """Total duration of the intervals."""
        return u.Quantity(np.sum((Time(t_max) - Time(t_min)).to_value("d")), "d")

    def _integral_days(self, t_min: np.ndarray, t_max: np.ndarray) -> np.ndarray:
        """``int f dt`` in days over each interval (Gauss-Legendre, 16 nodes x 32 pieces)."""
        pieces = 32
        edges = t_min[..., None] + (t_max - t_min)[..., None] * np.linspace(0, 1, pieces + 1)
        lo, hi = edges[..., :-1], edges[..., 1:]
        nodes = 0.5 * (lo + hi)[..., None] + 0.5 * (hi - lo)[..., None] * _GL_X
        vals = np.asarray(
            u.Quantity(self.evaluate(u.Quantity(nodes, "d"), **self._kwargs())).to_value(u.one)
        )
        return np.sum(vals * _GL_W * 0.5 * (hi - lo)[..., None], axis=(-1, -2))

    def integral(self, t_min: Time, t_max: Time) -> np.ndarray:
        """Integral over each interval divided by the total duration of all intervals."""
        lo, hi = self._mjd(t_min), self._mjd(t_max)
        total = np.sum(hi - lo)
        if total <= 0:
            raise ValueError("integral: the intervals have zero total duration")
        return self._integral_days(lo, hi) / total

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout, with the time ``scale``."""
        data = super().to_dict(full_output)
        data["temporal"]["scale"] = self.scale
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any):
        """Create from a dictionary (``scale`` read if present)."""
        inner = cls._unwrap_dict(dict(data))
        if "scale" in inner and "scale" not in kwargs and cls.tag:
            kwargs["scale"] = inner["scale"]
        return super().from_dict(inner, **kwargs)

    def plot(self, time_range, ax=None, n_points: int = 100, **kwargs):
        """Plot the norm over ``time_range`` (MJD on the x axis; matplotlib).

        Parameters
        ----------
        time_range : tuple of `~astropy.time.Time`
            Start and stop.
        ax : `~matplotlib.axes.Axes`, optional
            Axes (default: current).
        n_points : int
            Number of points.
        **kwargs
            Passed to ``ax.plot``.
        """
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        t0, t1 = self._mjd(time_range[0]), self._mjd(time_range[1])
        mjd = np.linspace(float(t0), float(t1), int(n_points))
        times = Time(mjd, format="mjd", scale=self.scale)
        ax.plot(mjd, self(times), **kwargs)
        ax.set_xlabel(f"Time [MJD, {self.scale}]")
        ax.set_ylabel("Norm")
        return ax

    def sample_time(
        self,
        n_events: int,
        t_min: Time,
        t_max: Time,
        t_delta: u.Quantity | str = "1 s",
        random_state: Any = 0,
    ) -> Time:
        """Draw event times following the model between ``t_min`` and ``t_max``.

        Inverse-CDF sampling on a grid of step ``t_delta`` (at most 10^6 steps), with the
        CDF linear between grid points.
        """
        rng = _random_state(random_state)
        lo, hi = float(self._mjd(t_min)), float(self._mjd(t_max))
        if hi <= lo:
            raise ValueError("sample_time: t_max must be after t_min")
        step = u.Quantity(t_delta).to_value("d")
        n_step = int(min(max(np.ceil((hi - lo) / step), 1), 1_000_000))
        grid = np.linspace(lo, hi, n_step + 1)
        pdf = np.clip(self(Time(grid, format="mjd", scale=self.scale)), 0, None)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        if cdf[-1] <= 0:
            raise ValueError("sample_time: the model is zero over the interval")
        draws = rng.uniform(0, cdf[-1], int(n_events))
        idx = np.clip(np.searchsorted(cdf, draws, side="right") - 1, 0, n_step - 1)
        # invert the trapezoid CDF inside each step (pdf linear between grid points)
        a, b = pdf[idx], pdf[idx + 1]
        h = grid[idx + 1] - grid[idx]
        rest = draws - cdf[idx]
        slope = (b - a) / h
        with np.errstate(divide="ignore", invalid="ignore"):
            quad = (-a + np.sqrt(np.maximum(a**2 + 2 * slope * rest, 0))) / slope
            lin = rest / a
        dt = np.where(np.abs(slope) > 1e-12 * np.maximum(a, 1e-300) / h, quad, lin)
        dt = np.clip(np.nan_to_num(dt, nan=0.0), 0, h)
        return Time(grid[idx] + dt, format="mjd", scale=self.scale)


class ConstantTemporalModel(TemporalModel):
    """Constant norm 1."""

    tag = ("ConstantTemporalModel", "const")

    @staticmethod
    def evaluate(time):
        """Norm (ones)."""
        return np.ones(np.shape(time))

    def _integral_days(self, t_min, t_max):
        return t_max - t_min


class LinearTemporalModel(TemporalModel):
    """Linear norm ``alpha + beta (t - t_ref)``."""

    tag = ("LinearTemporalModel", "linear")
    alpha = Parameter("alpha", 1.0, frozen=False)
    beta = Parameter("beta", 0.0, unit="d-1", frozen=False)
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=True)

    @staticmethod
    def evaluate(time, alpha, beta, t_ref):
        """Norm at ``time`` (MJD days)."""
        return alpha + beta * (time - t_ref)

    def _integral_days(self, t_min, t_max):
        a = self.alpha.value
        b = self.beta.quantity.to_value("d-1")
        t0 = self.t_ref.quantity.to_value("d")
        return a * (t_max - t_min) + 0.5 * b * ((t_max - t0) ** 2 - (t_min - t0) ** 2)


class ExpDecayTemporalModel(TemporalModel):
    """Exponential decay ``exp(-(t - t_ref) / t0)``."""

    tag = ("ExpDecayTemporalModel", "exp-decay")
    t0 = Parameter("t0", "1 d", frozen=False)
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=True)

    @staticmethod
    def evaluate(time, t0, t_ref):
        """Norm at ``time`` (MJD days)."""
        return np.exp(-((time - t_ref) / t0).to_value(u.one))

    def _integral_days(self, t_min, t_max):
        t0 = self.t0.quantity.to_value("d")
        tr = self.t_ref.quantity.to_value("d")
        return -t0 * (np.exp(-(t_max - tr) / t0) - np.exp(-(t_min - tr) / t0))


class GaussianTemporalModel(TemporalModel):
    """Gaussian ``exp(-(t - t_ref)^2 / (2 sigma^2))`` (peak norm 1)."""

    tag = ("GaussianTemporalModel", "gauss")
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=False)
    sigma = Parameter("sigma", "1 d", frozen=False)

    @staticmethod
    def evaluate(time, t_ref, sigma):
        """Norm at ``time`` (MJD days)."""
        return np.exp(-0.5 * (((time - t_ref) / sigma).to_value(u.one)) ** 2)

    def _integral_days(self, t_min, t_max):
        from scipy.special import erf

        sig = self.sigma.quantity.to_value("d")
        tr = self.t_ref.quantity.to_value("d")
        width = np.sqrt(2) * sig
        return sig * np.sqrt(np.pi / 2) * (erf((t_max - tr) / width) - erf((t_min - tr) / width))


class PowerLawTemporalModel(TemporalModel):
    """Power law ``((t - t_ref) / t0)^alpha``."""

    tag = ("PowerLawTemporalModel", "powerlaw")
    alpha = Parameter("alpha", 1.0, frozen=False)
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=True)
    t0 = Parameter("t0", "1 d", frozen=True)

    @staticmethod
    def evaluate(time, alpha, t_ref, t0):
        """Norm at ``time`` (MJD days)."""
        return np.power(((time - t_ref) / t0).to_value(u.one), u.Quantity(alpha).to_value(u.one))

    def _integral_days(self, t_min, t_max):
        a = self.alpha.value
        t0 = self.t0.quantity.to_value("d")
        tr = self.t_ref.quantity.to_value("d")
        x1, x2 = (t_min - tr) / t0, (t_max - tr) / t0
        if a == -1:
            return t0 * np.log(x2 / x1)
        return t0 / (a + 1) * (x2 ** (a + 1) - x1 ** (a + 1))


class SineTemporalModel(TemporalModel):
    """Sinusoid ``1 + amp sin(omega (t - t_ref))``."""

    tag = ("SineTemporalModel", "sinus")
    amp = Parameter("amp", 1.0, frozen=False)
    omega = Parameter("omega", "1 rad/day", frozen=False)
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=True)

    @staticmethod
    def evaluate(time, amp, omega, t_ref):
        """Norm at ``time`` (MJD days)."""
        phase = (omega * (time - t_ref)).to_value(u.rad)
        return 1 + amp * np.sin(phase)

    def _integral_days(self, t_min, t_max):
        amp = self.amp.value
        om = self.omega.quantity.to_value("rad/d")
        tr = self.t_ref.quantity.to_value("d")
        cos = np.cos(om * (t_max - tr)) - np.cos(om * (t_min - tr))
        return (t_max - t_min) - amp / om * cos


class LightCurveTemplateTemporalModel(TemporalModel):
    """Tabulated light curve, linearly interpolated in time (0 outside the table).

    Parameters
    ----------
    time : `~astropy.time.Time`
        Increasing node times.
    norm : array-like
        Norm at the nodes.
    filename : str, optional
        Source file (kept for serialisation).
    scale : str
        Time scale of the MJD values.
    """

    tag = ("LightCurveTemplateTemporalModel", "template")
    t_ref = Parameter("t_ref", _T_REF_DEFAULT, frozen=True)

    def __init__(self, time: Time, norm, filename: str | None = None, scale: str = "utc",
                 t_ref: Any = None) -> None:
        super().__init__(scale=scale, **({} if t_ref is None else {"t_ref": t_ref}))
        mjd = self._mjd(time)
        norm = np.asarray(norm, dtype=float)
        if mjd.ndim != 1 or mjd.shape != norm.shape or mjd.size < 2:
            raise ValueError("LightCurveTemplateTemporalModel: time and norm must be 1D, same size")
        if np.any(np.diff(mjd) <= 0):
            raise ValueError("LightCurveTemplateTemporalModel: times must be increasing")
        self.mjd = mjd
        self.norm = norm
        self.filename = filename
        if t_ref is None:
            self.t_ref.value = float(mjd[0])

    def __call__(self, time: Time, energy: u.Quantity | None = None) -> np.ndarray:
        return np.interp(self._mjd(time), self.mjd, self.norm, left=0.0, right=0.0)

    def evaluate(self, time, t_ref=None):
        """Norm at ``time`` (MJD days Quantity)."""
        return np.interp(u.Quantity(time, "d").value, self.mjd, self.norm, left=0.0, right=0.0)

    def _cumulative(self, t: np.ndarray) -> np.ndarray:
        seg = 0.5 * (self.norm[1:] + self.norm[:-1]) * np.diff(self.mjd)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        tc = np.clip(t, self.mjd[0], self.mjd[-1])
        idx = np.clip(np.searchsorted(self.mjd, tc, side="right") - 1, 0, self.mjd.size - 2)
        dt = tc - self.mjd[idx]
        slope = (self.norm[idx + 1] - self.norm[idx]) / (self.mjd[idx + 1] - self.mjd[idx])
        return cum[idx] + self.norm[idx] * dt + 0.5 * slope * dt**2

    def _integral_days(self, t_min, t_max):
        return self._cumulative(t_max) - self._cumulative(t_min)

    @classmethod
    def from_table(cls, table: Table, filename: str | None = None):
        """Create from a table with ``TIME`` and ``NORM`` columns.

        ``TIME`` is relative to ``MJDREFI + MJDREFF`` (header, default 0) in ``TIMEUNIT``
        (column unit or header, default s); the scale is ``TIMESYS`` (default "utc").
        """
        for col in ("TIME", "NORM"):
            if col not in table.colnames:
                raise KeyError(f"light-curve table needs column {col!r} (have {table.colnames})")
        meta = {k.upper(): v for k, v in table.meta.items()}
        unit = table["TIME"].unit or u.Unit(meta.get("TIMEUNIT", "s"))
        mjdref = float(meta.get("MJDREFI", 0)) + float(meta.get("MJDREFF", 0))
        if "MJDREF" in meta:
            mjdref = float(meta["MJDREF"])
        scale = str(meta.get("TIMESYS", "utc")).lower()
        mjd = mjdref + u.Quantity(np.asarray(table["TIME"], dtype=float), unit).to_value("d")
        time = Time(mjd, format="mjd", scale=scale)
        return cls(time=time, norm=np.asarray(table["NORM"], dtype=float), filename=filename,
                   scale=scale)

    @classmethod
    def read(cls, filename: str, hdu: str | int | None = None):
        """Read a light curve from a FITS table (see `from_table`)."""
        path = make_path(filename)
        table = read_table_hdu(path, hdu if hdu is not None else 1)
        return cls.from_table(table, filename=str(filename))

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """YAML layout: type, parameters, scale and the nodes (or the filename)."""
        data = super().to_dict(full_output)
        if self.filename is not None:
            data["temporal"]["filename"] = str(self.filename)
        else:
            data["temporal"]["time"] = {"data": self.mjd.tolist(), "unit": "d", "format": "mjd"}
            data["temporal"]["norm"] = self.norm.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any):
        """Create from `to_dict` output (reads ``filename`` when the nodes are not inline)."""
        inner = cls._unwrap_dict(dict(data))
        scale = inner.get("scale", "utc")
        if "time" in inner:
            time = Time(inner["time"]["data"], format="mjd", scale=scale)
            model = cls(time=time, norm=inner["norm"], scale=scale)
        elif "filename" in inner:
            model = cls.read(inner["filename"])
        else:
            raise ValueError("LightCurveTemplateTemporalModel.from_dict: need 'time' or 'filename'")
        for item in inner.get("parameters", []):
            if item.get("name") == "t_ref":
                model.t_ref.update_from_dict(item)
        return model
