"""Registry of the GADF IRF HDU classes and a loader that detects the class of an HDU."""

from __future__ import annotations

import os

from .background import Background2D, Background3D
from .core import IRF
from .edisp_2d import EnergyDispersion2D
from .effective_area import EffectiveAreaTable2D
from .psf_gauss import EnergyDependentMultiGaussPSF
from .psf_king import PSFKing
from .psf_table import PSF3D
from .rad_max import RadMax2D

__all__ = ["IRF_REGISTRY", "load_irf_hdu"]

IRF_REGISTRY: dict[str, type] = {
    "aeff_2d": EffectiveAreaTable2D,
    "edisp_2d": EnergyDispersion2D,
    "psf_table": PSF3D,
    "psf_3gauss": EnergyDependentMultiGaussPSF,
    "psf_king": PSFKing,
    "bkg_3d": Background3D,
    "bkg_2d": Background2D,
    "rad_max_2d": RadMax2D,
}


def load_irf_hdu(filename: str | os.PathLike, hdu: str | int, hdu_class: str | None = None):
    """Read one IRF HDU of a FITS file.

    Parameters
    ----------
    filename : path-like
        FITS file.
    hdu : str or int
        HDU name or index.
    hdu_class : str, optional
        One of the keys of `IRF_REGISTRY`; detected from the HDUCLAS keywords (or the
        column names) when None.
    """
    from gammapipe.utils.fits import make_path, open_fits

    from .core import _select_hdu
    from .io import detect_hdu_class

    path = make_path(filename)
    if hdu_class is None:
        with open_fits(path) as hdulist:
            selected = _select_hdu(hdulist, hdu, IRF, str(path))
            hdu_class = detect_hdu_class(selected.header, f"{path} [HDU {selected.name}]")
    try:
        cls = IRF_REGISTRY[hdu_class]
    except KeyError:
        raise ValueError(
            f"load_irf_hdu: unknown hdu_class {hdu_class!r}; known: {sorted(IRF_REGISTRY)}"
        ) from None
    return cls.read(path, hdu=hdu)
