"""King-profile PSF with energy- and offset-dependent parameters (GADF ``psf_king``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .psf_parametric import ParametricPSF

__all__ = ["PSFKing"]


class PSFKing(ParametricPSF):
    """King profile (GADF ``psf_king``):

    ``dP/dOmega(r) = 1 / (2 pi sigma^2) (1 - 1/gamma) (1 + r^2 / (2 gamma sigma^2))^-gamma``

    normalised to 1 in the small-angle approximation for ``gamma > 1``; its containment
    is ``1 - (1 + r^2 / (2 gamma sigma^2))^(1 - gamma)``. Zero where ``sigma <= 0`` or
    ``gamma <= 1`` (e.g. outside the table).
    """

    tag = "psf_king"
    required_parameters = ["gamma", "sigma"]
    parameter_units = {"sigma": u.deg}

    @staticmethod
    def evaluate_direct(rad, gamma, sigma):
        r = u.Quantity(rad, u.deg).value
        g = np.asarray(u.Quantity(gamma).value, dtype=float)
        s = np.asarray(u.Quantity(sigma, u.deg).value, dtype=float)
        valid = (s > 0) & (g > 1)
        s_ = np.where(valid, s, 1.0)
        g_ = np.where(valid, g, 2.0)
        pdf = (1 - 1 / g_) / (2 * np.pi * s_**2) * (1 + r**2 / (2 * g_ * s_**2)) ** (-g_)
        return u.Quantity(np.where(valid, pdf, 0.0), u.deg**-2).to(u.sr**-1)

    @staticmethod
    def containment_direct(rad, gamma, sigma):
        r = u.Quantity(rad, u.deg).value
        g = np.asarray(u.Quantity(gamma).value, dtype=float)
        s = np.asarray(u.Quantity(sigma, u.deg).value, dtype=float)
        valid = (s > 0) & (g > 1)
        s_ = np.where(valid, s, 1.0)
        g_ = np.where(valid, g, 2.0)
        out = 1 - (1 + r**2 / (2 * g_ * s_**2)) ** (1 - g_)
        return u.Quantity(np.where(valid, out, 0.0), u.dimensionless_unscaled)

    def _rad_max(self) -> u.Quantity:
        sig = float(np.max(self.data["sigma"]))
        return u.Quantity(max(50 * sig, 0.1), u.deg)
