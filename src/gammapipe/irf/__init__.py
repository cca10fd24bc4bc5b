"""Instrument response functions (GADF DL3 IRF formats): effective area, energy
dispersion, PSF, background and RAD_MAX.

``IRF_REGISTRY`` maps the GADF HDU classes to the classes; `load_irf_hdu` reads an IRF
HDU detecting its class from the ``HDUCLAS`` keywords. Names are loaded lazily so that
``import gammapipe.irf`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "IRF": "core",
    "FoVAlignment": "core",
    "EffectiveAreaTable2D": "effective_area",
    "EnergyDispersion2D": "edisp_2d",
    "EDispKernel": "edisp_kernel",
    "PSF": "psf_core",
    "ParametricPSF": "psf_parametric",
    "PSF3D": "psf_table",
    "EnergyDependentMultiGaussPSF": "psf_gauss",
    "PSFKing": "psf_king",
    "Background3D": "background",
    "Background2D": "background",
    "RadMax2D": "rad_max",
    "IRF_REGISTRY": "registry",
    "load_irf_hdu": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gammapipe.irf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
