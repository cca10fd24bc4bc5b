"""Instrument response functions (GADF DL3 IRF formats): effective area, energy
dispersion, PSF, background and RAD_MAX, and the IRF maps (`PSFMap`, `PSFKernel`,
`EDispKernelMap`, `EDispMap`, base `IRFMap`): responses tabulated on a sky grid.

``IRF_REGISTRY`` maps the GADF HDU classes to the classes; `load_irf_hdu` reads an IRF
HDU detecting its class from the ``HDUCLAS`` keywords. Names are loaded lazily so that
``import gammapipe.irf`` stays cheap.
"""

from __future__ import annotations

from gammapipe.utils.lazy import lazy_exports

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
    "IRFMap": "irf_map",
    "PSFMap": "psf_map",
    "PSFKernel": "psf_map",
    "EDispKernelMap": "edisp_map",
    "EDispMap": "edisp_map",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
