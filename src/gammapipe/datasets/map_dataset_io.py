"""GADF read / write of `MapDataset`.

File layout (one FITS file): primary HDU with the dataset ``NAME``, then (when present)
``COUNTS``, ``EXPOSURE``, ``BACKGROUND``, ``EDISP``, ``EDISP_EXPOSURE``, ``PSF``,
``PSF_EXPOSURE``, ``MASK_SAFE``, ``MASK_FIT`` (each image followed by its ``*_BANDS``
table), ``GTI`` and ``META_TABLE``. Writing goes through a temporary file renamed at the
end, so a failed write never leaves a partial file.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError
from gammapipe.utils.fits import make_path, open_fits, write_hdulist

__all__ = ["to_hdulist", "from_hdulist", "read", "write"]

_MAP_HDUS = ("counts", "exposure", "background")
_MASK_HDUS = ("mask_safe", "mask_fit")


def _map_hdus(m, name: str) -> list:
    return list(m.to_hdulist(hdu=name, hdu_bands=f"{name}_BANDS")[1:])


def to_hdulist(ds) -> fits.HDUList:
    """HDU list of a dataset in the GADF layout (see module docstring)."""
    primary = fits.PrimaryHDU()
    primary.header["NAME"] = ds.name
    primary.header["CREATOR"] = "gammapipe"
    hdus = [primary]
    for key in _MAP_HDUS:
        m = getattr(ds, key)
        if m is not None:
            if key == "exposure" and "livetime" in m.meta:
                m = m.copy()
                m.meta["livetime"] = str(u.Quantity(m.meta["livetime"]))
            hdus.extend(_map_hdus(m, key.upper()))
    if ds.edisp is not None:
        hdus.extend(ds.edisp.to_hdulist()[1:])
    if ds.psf is not None:
        hdus.extend(ds.psf.to_hdulist()[1:])
    for key in _MASK_HDUS:
        m = getattr(ds, key)
        if m is not None:
            hdus.extend(_map_hdus(m, key.upper()))
    if ds.gti is not None and len(ds.gti) > 0:
        hdus.append(ds.gti.to_table_hdu())
    if ds.meta_table is not None:
        hdu = fits.table_to_hdu(Table(ds.meta_table))
        hdu.name = "META_TABLE"
        hdus.append(hdu)
    return fits.HDUList(hdus)


def _livetime(meta: dict) -> None:
    value = meta.get("livetime")
    if value is None or isinstance(value, u.Quantity):
        return
    try:
        meta["livetime"] = u.Quantity(value) if isinstance(value, str) else u.Quantity(value, "s")
    except (TypeError, ValueError):
        pass


def from_hdulist(cls, hdulist, name=None, format="gadf"):
    """Dataset of class ``cls`` from an HDU list in the GADF layout."""
    from gammapipe.data.gti import GTI
    from gammapipe.irf.edisp_map import EDispKernelMap, EDispMap
    from gammapipe.irf.psf_map import PSFMap
    from gammapipe.maps import Map

    if format != "gadf":
        raise FITSFormatError(f"MapDataset.read: unsupported format {format!r} (use 'gadf')")
    names = [h.name for h in hdulist]
    if name is None:
        name = hdulist[0].header.get("NAME")
    kwargs = {"name": name}
    for key in _MAP_HDUS + _MASK_HDUS:
        if key.upper() in names:
            m = Map.from_hdulist(hdulist, hdu=key.upper())
            if key in _MASK_HDUS:
                m = m.copy(data=np.asarray(m.data).astype(bool), unit="")
            if key == "exposure":
                _livetime(m.meta)
            kwargs[key] = m
    if "PSF" in names:
        kwargs["psf"] = PSFMap.from_hdulist(hdulist, hdu="PSF")
    if "EDISP" in names:
        bands = hdulist["EDISP"].header.get("BANDSHDU", "EDISP_BANDS")
        cols = [c.upper() for c in hdulist[bands].columns.names] if bands in names else []
        klass = EDispMap if any(c.startswith("MIGRA") for c in cols) else EDispKernelMap
        kwargs["edisp"] = klass.from_hdulist(hdulist, hdu="EDISP")
    if "GTI" in names:
        kwargs["gti"] = GTI.from_hdu(hdulist["GTI"], where="dataset [HDU GTI]")
    if "META_TABLE" in names:
        kwargs["meta_table"] = Table.read(hdulist["META_TABLE"])
    if "counts" not in kwargs and "background" not in kwargs:
        raise FITSFormatError(
            f"MapDataset.read: no COUNTS or BACKGROUND HDU (HDUs: {names})"
        )
    return cls(**kwargs)


def read(cls, filename, name=None, format="gadf"):
    """Read a dataset file."""
    path = make_path(filename)
    with open_fits(path) as hdulist:
        return from_hdulist(cls, hdulist, name=name, format=format)


def write(ds, filename, overwrite=False, checksum=False) -> None:
    """Write a dataset file atomically (gzip if the name ends in ``.gz``)."""
    hdulist = to_hdulist(ds)
    if checksum:
        for hdu in hdulist:
            hdu.add_checksum()
    write_hdulist(hdulist, filename, overwrite=overwrite)
