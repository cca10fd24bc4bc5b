"""Analytic spectral models.

All formulas are differential fluxes ``dN/dE``; ``x = E / E_ref``. Power-law integrals use the
numerically stable form ``int_{x1}^{x2} x^-g dx = x1^(1-g) L expm1((1-g) L) / ((1-g) L)`` with
``L = ln(x2/x1)`` (no special case at ``g = 1``). Norm models (``*NormSpectralModel``) are
dimensionless factors applied to other spectra or to background maps.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np

from ..parameter import Parameter
from ._spectral_base import DEFAULT_SED_UNITS, SpectralModel, integrate_log_space

__all__ = [
    "SpectralModel",
    "integrate_log_space",
    "DEFAULT_SED_UNITS",
    "PowerLawSpectralModel",
    "PowerLaw2SpectralModel",
    "BrokenPowerLawSpectralModel",
    "SmoothBrokenPowerLawSpectralModel",
    "ExpCutoffPowerLawSpectralModel",
    "ExpCutoffPowerLaw3FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
    "LogParabolaSpectralModel",
    "ConstantSpectralModel",
    "GaussianSpectralModel",
    "PowerLawNormSpectralModel",
    "ExpCutoffPowerLawNormSpectralModel",
    "LogParabolaNormSpectralModel",
    "pl_integral",
    "pl_integral_dindex",
]


def _v(value) -> np.ndarray:
    """Dimensionless value of a Quantity (or plain number) as float array."""
    if isinstance(value, u.Quantity):
        return value.to_value(u.one)
    return np.asarray(value, dtype=float)


def _ratio(a, b) -> np.ndarray:
    return _v(a / b)


def _expm1_over_x(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-8
    zs = np.where(small, 1.0, z)
    return np.where(small, 1.0 + 0.5 * z, np.expm1(zs) / zs)


def _d_expm1_over_x(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-3
    zs = np.where(small, 1.0, z)
    exact = (zs * np.exp(zs) - np.expm1(zs)) / zs**2
    series = 0.5 + z / 3.0 + z**2 / 8.0 + z**3 / 30.0
    return np.where(small, series, exact)


def pl_integral(x1, x2, index) -> np.ndarray:
    """``int_{x1}^{x2} x^-index dx`` for dimensionless ``x1, x2 > 0`` (stable at index 1)."""
    x1, x2, index = np.asarray(x1, float), np.asarray(x2, float), np.asarray(index, float)
    g = 1.0 - index
    log_ratio = np.log(x2 / x1)
    return x1**g * log_ratio * _expm1_over_x(g * log_ratio)


def pl_integral_dindex(x1, x2, index) -> np.ndarray:
    """Derivative of `pl_integral` with respect to ``index``."""
    x1, x2, index = np.asarray(x1, float), np.asarray(x2, float), np.asarray(index, float)
    g = 1.0 - index
    log_ratio = np.log(x2 / x1)
    base = x1**g * log_ratio
    z = g * log_ratio
    d_dg = np.log(x1) * base * _expm1_over_x(z) + base * log_ratio * _d_expm1_over_x(z)
    return -d_dg


# ----------------------------------------------------------------------------- power laws
class PowerLawSpectralModel(SpectralModel):
    r"""Power law ``dN/dE = amplitude (E / reference)^-index``."""

    tag = ("PowerLawSpectralModel", "pl")
    index = Parameter("index", 2.0)
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "1 TeV", frozen=True)

    @staticmethod
    def evaluate(energy, index, amplitude, reference):
        """Differential flux."""
        return amplitude * _ratio(energy, reference) ** (-_v(index))

    @staticmethod
    def evaluate_integral(energy_min, energy_max, index, amplitude, reference):
        """Analytic integral flux."""
        x1, x2 = _ratio(energy_min, reference), _ratio(energy_max, reference)
        return amplitude * reference * pl_integral(x1, x2, _v(index))

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, index, amplitude, reference):
        """Analytic energy flux."""
        x1, x2 = _ratio(energy_min, reference), _ratio(energy_max, reference)
        return amplitude * reference**2 * pl_integral(x1, x2, _v(index) - 1)

    @staticmethod
    def _evaluate_gradient(energy, index, amplitude, reference):
        x = _ratio(energy, reference)
        idx = _v(index)
        shape = x ** (-idx)
        f = amplitude * shape
        return {
            "index": -np.log(x) * f,
            "amplitude": u.Quantity(shape),
            "reference": f * idx / reference,
        }

    @staticmethod
    def _evaluate_integral_gradient(energy_min, energy_max, index, amplitude, reference):
        x1, x2 = _ratio(energy_min, reference), _ratio(energy_max, reference)
        idx = _v(index)
        integral = pl_integral(x1, x2, idx)
        return {
            "index": amplitude * reference * pl_integral_dindex(x1, x2, idx),
            "amplitude": reference * integral,
            "reference": amplitude * integral * idx,
        }

    def inverse(self, value, *args, **kwargs) -> u.Quantity:
        """Energy where ``dN/dE`` equals ``value`` (analytic)."""
        value = u.Quantity(value)
        ratio = _v(value / self.amplitude.quantity)
        return self.reference.quantity * ratio ** (-1.0 / self.index.value)


class PowerLaw2SpectralModel(SpectralModel):
    r"""Power law normalised by its integral flux ``amplitude`` between ``emin`` and ``emax``.

    ``dN/dE = amplitude (1 - index) E^-index / (emax^(1-index) - emin^(1-index))``.
    """

    tag = ("PowerLaw2SpectralModel", "pl-2")
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1", scale_method="scale10", interp="log", is_norm=True
    )
    index = Parameter("index", 2.0)
    emin = Parameter("emin", "0.1 TeV", frozen=True)
    emax = Parameter("emax", "100 TeV", frozen=True)

    @staticmethod
    def evaluate(energy, amplitude, index, emin, emax):
        """Differential flux."""
        idx = _v(index)
        norm = pl_integral(1.0, _ratio(emax, emin), idx)
        return amplitude / emin * _ratio(energy, emin) ** (-idx) / norm

    @staticmethod
    def evaluate_integral(energy_min, energy_max, amplitude, index, emin, emax):
        """Analytic integral flux."""
        idx = _v(index)
        norm = pl_integral(1.0, _ratio(emax, emin), idx)
        part = pl_integral(_ratio(energy_min, emin), _ratio(energy_max, emin), idx)
        return amplitude * (part / norm)

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, amplitude, index, emin, emax):
        """Analytic energy flux."""
        idx = _v(index)
        norm = pl_integral(1.0, _ratio(emax, emin), idx)
        part = pl_integral(_ratio(energy_min, emin), _ratio(energy_max, emin), idx - 1)
        return amplitude * emin * (part / norm)

    @staticmethod
    def _evaluate_gradient(energy, amplitude, index, emin, emax):
        idx = _v(index)
        xmax = _ratio(emax, emin)
        norm = pl_integral(1.0, xmax, idx)
        dnorm = pl_integral_dindex(1.0, xmax, idx)
        x = _ratio(energy, emin)
        f = amplitude / emin * x ** (-idx) / norm
        return {"amplitude": f / amplitude, "index": f * (-np.log(x) - dnorm / norm)}

    @staticmethod
    def _evaluate_integral_gradient(energy_min, energy_max, amplitude, index, emin, emax):
        idx = _v(index)
        xmax = _ratio(emax, emin)
        norm = pl_integral(1.0, xmax, idx)
        dnorm = pl_integral_dindex(1.0, xmax, idx)
        x1, x2 = _ratio(energy_min, emin), _ratio(energy_max, emin)
        part = pl_integral(x1, x2, idx)
        dpart = pl_integral_dindex(x1, x2, idx)
        return {
            "amplitude": u.Quantity(part / norm),
            "index": amplitude * (dpart * norm - part * dnorm) / norm**2,
        }

    def inverse(self, value, *args, **kwargs) -> u.Quantity:
        """Energy where ``dN/dE`` equals ``value`` (analytic)."""
        emin = self.emin.quantity
        f_at_emin = self(emin)
        ratio = _v(u.Quantity(value) / f_at_emin)
        return emin * ratio ** (-1.0 / self.index.value)


class BrokenPowerLawSpectralModel(SpectralModel):
    r"""Broken power law: ``amplitude (E/ebreak)^-index1`` below ``ebreak``, ``-index2`` above."""

    tag = ("BrokenPowerLawSpectralModel", "bpl")
    index1 = Parameter("index1", 2.0)
    index2 = Parameter("index2", 2.0)
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    ebreak = Parameter("ebreak", "1 TeV")

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak):
        """Differential flux."""
        x = _ratio(energy, ebreak)
        return amplitude * np.where(x < 1, x ** (-_v(index1)), x ** (-_v(index2)))

    def _breakpoints(self) -> u.Quantity | None:
        return self.ebreak.quantity

    @staticmethod
    def _broken_integral(energy_min, energy_max, index1, index2, ebreak, shift):
        x1, x2 = _ratio(energy_min, ebreak), _ratio(energy_max, ebreak)
        i1, i2 = _v(index1) - shift, _v(index2) - shift
        lo_hi = np.minimum(x2, 1.0)
        hi_lo = np.maximum(x1, 1.0)
        below = np.where(x1 < lo_hi, pl_integral(x1, np.maximum(lo_hi, x1), i1), 0.0)
        above = np.where(hi_lo < x2, pl_integral(hi_lo, np.maximum(x2, hi_lo), i2), 0.0)
        return below + above

    @classmethod
    def evaluate_integral(cls, energy_min, energy_max, index1, index2, amplitude, ebreak):
        """Analytic integral flux (split at the break)."""
        res = cls._broken_integral(energy_min, energy_max, index1, index2, ebreak, 0)
        return amplitude * ebreak * res

    @classmethod
    def evaluate_energy_flux(cls, energy_min, energy_max, index1, index2, amplitude, ebreak):
        """Analytic energy flux (split at the break)."""
        res = cls._broken_integral(energy_min, energy_max, index1, index2, ebreak, 1)
        return amplitude * ebreak**2 * res


class SmoothBrokenPowerLawSpectralModel(SpectralModel):
    r"""Smoothly broken power law.

    ``dN/dE = amplitude (E/reference)^-index1 [1 + (E/ebreak)^((index2-index1)/beta)]^-beta``.
    """

    tag = ("SmoothBrokenPowerLawSpectralModel", "sbpl")
    index1 = Parameter("index1", 2.0)
    index2 = Parameter("index2", 2.0)
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    ebreak = Parameter("ebreak", "1 TeV")
    reference = Parameter("reference", "1 TeV", frozen=True)
    beta = Parameter("beta", 1, frozen=True)

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak, reference, beta):
        """Differential flux."""
        i1, i2, b = _v(index1), _v(index2), _v(beta)
        pwl = _ratio(energy, reference) ** (-i1)
        brk = (1 + _ratio(energy, ebreak) ** ((i2 - i1) / b)) ** (-b)
        return amplitude * pwl * brk


class ExpCutoffPowerLawSpectralModel(SpectralModel):
    r"""Power law with exponential cut-off.

    ``dN/dE = amplitude (E/reference)^-index exp(-(lambda_ E)^alpha)``.
    """

    tag = ("ExpCutoffPowerLawSpectralModel", "ecpl")
    index = Parameter("index", 1.5)
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "1 TeV", frozen=True)
    lambda_ = Parameter("lambda_", "0.1 TeV-1")
    alpha = Parameter("alpha", "1.0", frozen=True)

    @staticmethod
    def evaluate(energy, index, amplitude, reference, lambda_, alpha):
        """Differential flux."""
        pwl = _ratio(energy, reference) ** (-_v(index))
        cutoff = np.exp(-(_v(energy * lambda_) ** _v(alpha)))
        return amplitude * pwl * cutoff

    @staticmethod
    def _evaluate_gradient(energy, index, amplitude, reference, lambda_, alpha):
        x = _ratio(energy, reference)
        idx, a = _v(index), _v(alpha)
        le = _v(energy * lambda_)
        shape = x ** (-idx) * np.exp(-(le**a))
        f = amplitude * shape
        at_zero = np.where(a == 1, 1.0, np.where(a > 1, 0.0, np.inf))
        with np.errstate(divide="ignore", invalid="ignore"):
            le_safe = np.where(le > 0, le, 1.0)
            # d/d lambda of -(lambda E)^a is -a E (lambda E)^(a-1)
            dlam = -a * energy * np.where(le > 0, le_safe ** (a - 1), at_zero)
            dalpha = -np.where(le > 0, le_safe**a * np.log(le_safe), 0.0)
        return {
            "index": -np.log(x) * f,
            "amplitude": u.Quantity(shape),
            "reference": f * idx / reference,
            "lambda_": f * dlam,
            "alpha": f * dalpha,
        }


class ExpCutoffPowerLaw3FGLSpectralModel(SpectralModel):
    r"""3FGL cut-off power law ``amplitude (E/reference)^-index exp((reference - E)/ecut)``."""

    tag = ("ExpCutoffPowerLaw3FGLSpectralModel", "ecpl-3fgl")
    index = Parameter("index", 1.5)
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "1 TeV", frozen=True)
    ecut = Parameter("ecut", "10 TeV")

    @staticmethod
    def evaluate(energy, index, amplitude, reference, ecut):
        """Differential flux."""
        pwl = _ratio(energy, reference) ** (-_v(index))
        return amplitude * pwl * np.exp(_ratio(reference - energy, ecut))


class SuperExpCutoffPowerLaw4FGLSpectralModel(SpectralModel):
    r"""4FGL (DR1/DR2) super-exponential cut-off power law.

    ``dN/dE = amplitude (E/reference)^-index_1 exp(expfactor (reference^index_2 -
    E^index_2))`` with energies in the unit of ``reference`` (so ``expfactor`` is in
    ``reference.unit^-index_2``).
    """

    tag = ("SuperExpCutoffPowerLaw4FGLSpectralModel", "secpl-4fgl")
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "1 TeV", frozen=True)
    expfactor = Parameter("expfactor", "1e-2")
    index_1 = Parameter("index_1", 1.5)
    index_2 = Parameter("index_2", 2)

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """Differential flux."""
        reference = u.Quantity(reference)
        e_val = u.Quantity(energy).to_value(reference.unit)
        i2 = _v(index_2)
        pwl = _ratio(energy, reference) ** (-_v(index_1))
        cutoff = np.exp(_v(expfactor) * (reference.value**i2 - e_val**i2))
        return amplitude * pwl * cutoff


class SuperExpCutoffPowerLaw4FGLDR3SpectralModel(SpectralModel):
    r"""4FGL-DR3 super-exponential cut-off power law (``PLSuperExpCutoff4``).

    ``dN/dE = amplitude x^(expfactor/index_2 - index_1) exp(expfactor/index_2^2
    (1 - x^index_2))`` with ``x = E/reference``; for ``|index_2 ln x| < 1e-2`` the series
    ``x^(-index_1 - d/2 ln x - d b/6 ln^2 x - d b^2/24 ln^3 x)`` (``d = expfactor``,
    ``b = index_2``) is used, as in the 4FGL-DR3 definition.
    """

    tag = ("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", "secpl-4fgl-dr3")
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "1 TeV", frozen=True)
    expfactor = Parameter("expfactor", "1e-2")
    index_1 = Parameter("index_1", 1.5)
    index_2 = Parameter("index_2", 2)

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """Differential flux."""
        x = _ratio(energy, reference)
        d, i1, b = _v(expfactor), _v(index_1), _v(index_2)
        lnx = np.log(x)
        small = np.abs(b * lnx) < 1e-2
        b_safe = np.where(b == 0, 1.0, b)
        regular = (d / b_safe - i1) * lnx + d / b_safe**2 * (1 - np.exp(b * lnx))
        series = lnx * (-i1 - d / 2 * lnx - d * b / 6 * lnx**2 - d * b**2 / 24 * lnx**3)
        return amplitude * np.exp(np.where(small, series, regular))


class LogParabolaSpectralModel(SpectralModel):
    r"""Log parabola ``dN/dE = amplitude x^(-alpha - beta ln x)``, ``x = E/reference``.

    ``beta`` multiplies the natural logarithm; use `from_log10` for the ``log10`` convention.
    """

    tag = ("LogParabolaSpectralModel", "lp")
    amplitude = Parameter(
        "amplitude", "1e-12 cm-2 s-1 TeV-1", scale_method="scale10", interp="log", is_norm=True
    )
    reference = Parameter("reference", "10 TeV", frozen=True)
    alpha = Parameter("alpha", 2)
    beta = Parameter("beta", 1)

    @classmethod
    def from_log10(cls, amplitude, reference, alpha, beta, **kwargs):
        """Create from ``beta`` defined with ``log10`` (``beta_ln = beta_log10 / ln 10``)."""
        beta_ln = u.Quantity(beta).to_value(u.one) / math.log(10)
        return cls(amplitude=amplitude, reference=reference, alpha=alpha, beta=beta_ln, **kwargs)

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        """Differential flux."""
        lnx = np.log(_ratio(energy, reference))
        return amplitude * np.exp(-(_v(alpha) + _v(beta) * lnx) * lnx)

    @staticmethod
    def _evaluate_gradient(energy, amplitude, reference, alpha, beta):
        lnx = np.log(_ratio(energy, reference))
        a, b = _v(alpha), _v(beta)
        shape = np.exp(-(a + b * lnx) * lnx)
        f = amplitude * shape
        return {
            "amplitude": u.Quantity(shape),
            "reference": f * (a + 2 * b * lnx) / reference,
            "alpha": -lnx * f,
            "beta": -(lnx**2) * f,
        }


# ----------------------------------------------------------------------------- others
class ConstantSpectralModel(SpectralModel):
    r"""Constant ``dN/dE = const``."""

    tag = ("ConstantSpectralModel", "const")
    const = Parameter("const", "1e-12 cm-2 s-1 TeV-1", is_norm=True)

    @staticmethod
    def evaluate(energy, const):
        """Differential flux."""
        return np.ones(np.shape(energy)) * const

    @staticmethod
    def evaluate_integral(energy_min, energy_max, const):
        """Analytic integral flux."""
        return const * (energy_max - energy_min)

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, const):
        """Analytic energy flux."""
        return const * (energy_max**2 - energy_min**2) / 2

    @staticmethod
    def _evaluate_gradient(energy, const):
        return {"const": u.Quantity(np.ones(np.shape(energy)))}

    @staticmethod
    def _evaluate_integral_gradient(energy_min, energy_max, const):
        return {"const": energy_max - energy_min}


class GaussianSpectralModel(SpectralModel):
    r"""Gaussian line ``dN/dE = amplitude / (sigma sqrt(2 pi)) exp(-(E-mean)^2 / (2 sigma^2))``.

    ``amplitude`` is the integral flux over all energies.
    """

    tag = ("GaussianSpectralModel", "gauss")
    amplitude = Parameter("amplitude", "1e-12 cm-2 s-1", is_norm=True)
    mean = Parameter("mean", "1 TeV")
    sigma = Parameter("sigma", "2 TeV")

    @staticmethod
    def evaluate(energy, amplitude, mean, sigma):
        """Differential flux."""
        z = _ratio(energy - mean, sigma)
        return amplitude / (sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * z**2)

    @staticmethod
    def evaluate_integral(energy_min, energy_max, amplitude, mean, sigma):
        """Analytic integral flux."""
        from scipy.special import erf

        u_min = _ratio(energy_min - mean, sigma) / np.sqrt(2)
        u_max = _ratio(energy_max - mean, sigma) / np.sqrt(2)
        return amplitude / 2 * (erf(u_max) - erf(u_min))

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, amplitude, mean, sigma):
        """Analytic energy flux."""
        from scipy.special import erf

        u_min = _ratio(energy_min - mean, sigma) / np.sqrt(2)
        u_max = _ratio(energy_max - mean, sigma) / np.sqrt(2)
        a = amplitude * mean / 2 * (erf(u_max) - erf(u_min))
        b = amplitude * sigma / np.sqrt(2 * np.pi) * (np.exp(-(u_min**2)) - np.exp(-(u_max**2)))
        return a + b


# ----------------------------------------------------------------------------- norm models
class PowerLawNormSpectralModel(SpectralModel):
    r"""Power-law norm ``norm (E/reference)^-tilt`` (dimensionless).

    Parameter order (tilt, norm, reference) follows the reference YAML layout.
    """

    tag = ("PowerLawNormSpectralModel", "pl-norm")
    tilt = Parameter("tilt", 0, frozen=True)
    norm = Parameter("norm", 1, unit="", interp="log", is_norm=True)
    reference = Parameter("reference", "1 TeV", frozen=True)

    # the same power law as PowerLawSpectralModel with (amplitude, index) -> (norm, tilt)
    @staticmethod
    def evaluate(energy, norm, tilt, reference):
        """Norm at ``energy``."""
        return PowerLawSpectralModel.evaluate(energy, tilt, norm, reference)

    @staticmethod
    def evaluate_integral(energy_min, energy_max, norm, tilt, reference):
        """Analytic integral (unit of energy)."""
        return PowerLawSpectralModel.evaluate_integral(energy_min, energy_max, tilt, norm,
                                                       reference)

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, norm, tilt, reference):
        """Analytic ``int E norm(E) dE``."""
        return PowerLawSpectralModel.evaluate_energy_flux(energy_min, energy_max, tilt, norm,
                                                          reference)

    @staticmethod
    def _rename(gradient: dict) -> dict:
        return {"norm": gradient["amplitude"], "tilt": gradient["index"],
                "reference": gradient["reference"]}

    @staticmethod
    def _evaluate_gradient(energy, norm, tilt, reference):
        return PowerLawNormSpectralModel._rename(
            PowerLawSpectralModel._evaluate_gradient(energy, tilt, norm, reference))

    @staticmethod
    def _evaluate_integral_gradient(energy_min, energy_max, norm, tilt, reference):
        return PowerLawNormSpectralModel._rename(
            PowerLawSpectralModel._evaluate_integral_gradient(energy_min, energy_max, tilt,
                                                              norm, reference))


class ExpCutoffPowerLawNormSpectralModel(SpectralModel):
    r"""Norm ``norm (E/reference)^-index exp(-(lambda_ E)^alpha)`` (dimensionless)."""

    tag = ("ExpCutoffPowerLawNormSpectralModel", "ecpl-norm")
    index = Parameter("index", 0.0)
    norm = Parameter("norm", 1, unit="", interp="log", is_norm=True)
    reference = Parameter("reference", "1 TeV", frozen=True)
    lambda_ = Parameter("lambda_", "0.1 TeV-1")
    alpha = Parameter("alpha", "1.0", frozen=True)

    @staticmethod
    def evaluate(energy, index, norm, reference, lambda_, alpha):
        """Norm at ``energy``."""
        return ExpCutoffPowerLawSpectralModel.evaluate(
            energy, index, norm, reference, lambda_, alpha
        )

    @staticmethod
    def _evaluate_gradient(energy, index, norm, reference, lambda_, alpha):
        grads = ExpCutoffPowerLawSpectralModel._evaluate_gradient(
            energy, index, norm, reference, lambda_, alpha
        )
        grads["norm"] = grads.pop("amplitude")
        return grads


class LogParabolaNormSpectralModel(SpectralModel):
    r"""Norm ``norm x^(-alpha - beta ln x)``, ``x = E/reference`` (dimensionless)."""

    tag = ("LogParabolaNormSpectralModel", "lp-norm")
    norm = Parameter("norm", 1, unit="", interp="log", is_norm=True)
    reference = Parameter("reference", "10 TeV", frozen=True)
    alpha = Parameter("alpha", 0)
    beta = Parameter("beta", 0)

    @staticmethod
    def evaluate(energy, norm, reference, alpha, beta):
        """Norm at ``energy``."""
        return LogParabolaSpectralModel.evaluate(energy, norm, reference, alpha, beta)

    @staticmethod
    def _evaluate_gradient(energy, norm, reference, alpha, beta):
        grads = LogParabolaSpectralModel._evaluate_gradient(energy, norm, reference, alpha, beta)
        grads["norm"] = grads.pop("amplitude")
        return grads
