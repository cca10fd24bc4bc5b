"""Serialisation of on-off spectra: OGIP (PHA + BKG + ARF + RMF files, HEASARC
conventions, OGIP/92-007 and CAL/GEN/92-002) and the GADF dataset layout.

OGIP file set written for ``name.fits.gz``:

* ``name.fits.gz``: PHA type I ``SPECTRUM`` (``CHANNEL``, ``COUNTS``, ``QUALITY`` (0 =
  good, i.e. in the safe mask), ``BACKSCAL`` = ON acceptance, ``AREASCAL`` = 1) with the
  ``EXPOSURE`` keyword (live time, s) and ``BACKFILE`` / ``RESPFILE`` / ``ANCRFILE``
  pointing to the files below, plus ``EBOUNDS``, ``REGION`` (ON region) and ``GTI``;
* ``name_bkg.fits.gz``: the OFF counts as a PHA ``BKG`` spectrum (``BACKSCAL`` = OFF
  acceptance, ``REGION`` = OFF regions);
* ``name_arf.fits.gz``: ``SPECRESP`` = exposure / live time (m2) per true-energy bin;
* ``name_rmf.fits.gz``: ``MATRIX`` (energy-dispersion kernel) + ``EBOUNDS``.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammapipe.utils.errors import FITSFormatError, MissingFileError, MissingHDUError

__all__ = ["ogip_filenames", "write_ogip", "read_ogip", "from_ogip_hdulists",
           "onoff_to_hdulist", "onoff_from_hdulist", "fix_region_hdus", "guess_format"]

_ONOFF_HDUS = ("counts_off", "acceptance", "acceptance_off")


# ---------------------------------------------------------------------------- names
def ogip_filenames(filename) -> dict:
    """Paths of the PHA file and its ``_bkg``, ``_arf`` and ``_rmf`` companions."""
    from gammapipe.utils.fits import make_path

    path = make_path(filename)
    name = path.name
    for ext in (".fits.gz", ".fits", ".pha.gz", ".pha", ".fit"):
        if name.endswith(ext):
            stem, suffix = name[: -len(ext)], ext
            break
    else:
        stem, suffix = name, ""
    return {
        "pha": path,
        "bkg": path.with_name(f"{stem}_bkg{suffix}"),
        "arf": path.with_name(f"{stem}_arf{suffix}"),
        "rmf": path.with_name(f"{stem}_rmf{suffix}"),
    }


# ---------------------------------------------------------------------------- writing
def _livetime_s(ds) -> float:
    livetime = None if ds.exposure is None else ds.exposure.meta.get("livetime")
    if livetime is None:
        if ds.gti is not None and len(ds.gti) > 0:
            return float(ds.gti.time_sum.to_value("s"))
        raise FITSFormatError(f"OGIP: dataset {ds.name!r} has no livetime "
                              "(exposure.meta['livetime'])")
    return float(u.Quantity(livetime).to_value("s"))


def _telescope(ds) -> str:
    if ds.meta_table is not None and "TELESCOP" in ds.meta_table.colnames:
        value = str(ds.meta_table["TELESCOP"][0]).strip()
        if value:
            return value
    return "unknown"


def _spectrum_hdu(counts, backscal, quality, livetime, files, ds, kind) -> fits.BinTableHDU:
    n = counts.size
    values = np.asarray(counts, float)
    integer = np.all(np.isfinite(values)) and np.all(values == np.round(values))
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(n, dtype=np.int16)),
        fits.Column("COUNTS", "J" if integer else "E",
                    array=values.astype(np.int32 if integer else np.float32)),
        fits.Column("QUALITY", "I", array=np.asarray(quality, np.int16)),
        fits.Column("BACKSCAL", "D", array=np.asarray(backscal, float)),
        fits.Column("AREASCAL", "D", array=np.ones(n)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    header = hdu.header
    cards = [
        ("TELESCOP", _telescope(ds), "mission / telescope"),
        ("INSTRUME", "unknown", "instrument"),
        ("FILTER", "none", "filter"),
        ("EXPOSURE", livetime, "[s] live time"),
        ("BACKFILE", files["bkg"].name if kind == "TOTAL" else "none", "background file"),
        ("RESPFILE", files["rmf"].name, "redistribution matrix file"),
        ("ANCRFILE", files["arf"].name, "ancillary response file"),
        ("CORRFILE", "none", "correction file"),
        ("CORRSCAL", 1.0, "correction scaling"),
        ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
        ("HDUCLAS1", "SPECTRUM", "PHA dataset"),
        ("HDUCLAS2", kind, "TOTAL: source + background; BKG: background"),
        ("HDUCLAS3", "COUNT", "data are counts"),
        ("HDUCLAS4", "TYPE:I", "single spectrum"),
        ("HDUVERS", "1.2.1", "format version"),
        ("POISSERR", True, "Poisson errors"),
        ("CHANTYPE", "PHA", "channel type"),
        ("DETCHANS", n, "number of channels"),
        ("GROUPING", 0, "no grouping"),
        ("OBS_ID", str(ds.name), "dataset name"),
    ]
    for key, value, comment in cards:
        header[key] = (value, comment)
    return hdu


def _pha_hdulist(counts_map, backscal, quality, livetime, files, ds, kind, creator):
    from gammapipe.maps.io import region_to_hdu

    primary = fits.PrimaryHDU()
    primary.header["CREATOR"] = creator
    hdus = [primary, _spectrum_hdu(counts_map.data.ravel(), backscal, quality, livetime,
                                   files, ds, kind)]
    hdus.append(counts_map._ogip_ebounds_hdu("ogip"))
    geom = counts_map.geom
    if geom.region is not None:
        region_hdu = region_to_hdu(geom.region, geom.wcs, name="REGION")
        if "WCSSHAPE" not in region_hdu.header:
            region_hdu.header["WCSSHAPE"] = (_wcs_shape(geom), "shape of the region's WCS")
        hdus.append(region_hdu)
    if ds.gti is not None and len(ds.gti) > 0:
        hdus.append(ds.gti.to_table_hdu())
    return fits.HDUList(hdus)


def _wcs_shape(geom) -> str:
    """``(nx,ny)`` of the region geometry's WCS: its pixel shape, or the extent of the
    region's pixel bounding box (readers build a WCS geometry from it)."""
    shape = getattr(geom.wcs, "pixel_shape", None)
    if shape is None:
        from gammapipe.maps._wcs_utils import sky_region_to_pixel
        from gammapipe.maps.region_geom import _components

        nx = ny = 1
        for region in _components(geom.region):
            try:
                bbox = sky_region_to_pixel(region, geom.wcs).bounding_box
            except (AttributeError, NotImplementedError, ValueError, TypeError):
                continue
            nx = max(nx, bbox.ixmax - min(bbox.ixmin, 0))
            ny = max(ny, bbox.iymax - min(bbox.iymin, 0))
        shape = (nx, ny)
    return f"({int(shape[0])},{int(shape[1])})"


def _arf_hdulist(ds, livetime, creator) -> fits.HDUList:
    axis = ds.exposure.geom.axes["energy_true"]
    edges = axis.edges.to_value("TeV")
    with np.errstate(divide="ignore", invalid="ignore"):
        specresp = ds.exposure.quantity.to_value("m2 s").ravel() / livetime
    specresp = np.nan_to_num(specresp, nan=0.0, posinf=0.0, neginf=0.0)
    cols = [
        fits.Column("ENERG_LO", "D", unit="TeV", array=edges[:-1]),
        fits.Column("ENERG_HI", "D", unit="TeV", array=edges[1:]),
        fits.Column("SPECRESP", "D", unit="m2", array=specresp),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECRESP")
    for key, value in (("TELESCOP", _telescope(ds)), ("INSTRUME", "unknown"),
                       ("FILTER", "none"), ("HDUCLASS", "OGIP"), ("HDUCLAS1", "RESPONSE"),
                       ("HDUCLAS2", "SPECRESP"), ("HDUVERS", "1.1.0")):
        hdu.header[key] = value
    primary = fits.PrimaryHDU()
    primary.header["CREATOR"] = creator
    return fits.HDUList([primary, hdu])


def write_ogip(ds, filename, overwrite: bool = False) -> None:
    """Write a `SpectrumDatasetOnOff` as OGIP PHA, BKG, ARF and RMF files.

    Every file is written atomically; an existing file is an error unless
    ``overwrite``. See the module docstring for the layout.
    """
    from gammapipe.utils.fits import write_hdulist

    files = ogip_filenames(filename)
    if not overwrite:
        for path in files.values():
            if Path(path).exists():
                raise FileExistsError(f"OGIP: {path} exists (use overwrite=True)")
    if ds.exposure is None or ds.edisp is None:
        raise FITSFormatError(f"OGIP: dataset {ds.name!r} needs an exposure and an energy "
                              "dispersion to write ARF and RMF files")
    creator = "gammapipe"
    livetime = _livetime_s(ds)
    n = ds.counts.data.size
    mask = np.ones(n, bool) if ds.mask_safe is None else np.asarray(
        ds.mask_safe.data, bool).ravel()
    quality = np.where(mask, 0, 1)
    pha = _pha_hdulist(ds.counts, np.asarray(ds.acceptance.data, float).ravel(), quality,
                       livetime, files, ds, "TOTAL", creator)
    write_hdulist(pha, files["pha"], overwrite=overwrite)
    if ds.counts_off is not None:
        bkg = _pha_hdulist(ds.counts_off, np.asarray(ds.acceptance_off.data, float).ravel(),
                           quality, livetime, files, ds, "BKG", creator)
        write_hdulist(bkg, files["bkg"], overwrite=overwrite)
    write_hdulist(_arf_hdulist(ds, livetime, creator), files["arf"], overwrite=overwrite)
    kernel = ds.edisp.get_edisp_kernel(energy_axis=ds.counts.geom.axes["energy"])
    rmf = kernel.to_hdulist(format="ogip")
    rmf[0].header["CREATOR"] = creator
    write_hdulist(rmf, files["rmf"], overwrite=overwrite)


# ---------------------------------------------------------------------------- reading
def _open(path, what: str, pha_path=None):
    from gammapipe.utils.fits import open_fits

    path = Path(path)
    if not path.exists():
        ref = f" (referenced by {pha_path})" if pha_path is not None else ""
        raise MissingFileError(f"OGIP: {what} file {path} not found{ref}")
    return open_fits(path)


def _check_spectrum(hdulist, path, kind=None):
    names = [h.name for h in hdulist]
    if "SPECTRUM" not in names:
        raise FITSFormatError(f"OGIP: {path} is not a PHA spectrum file: no SPECTRUM HDU "
                              f"(HDUs: {names})")
    header = hdulist["SPECTRUM"].header
    hduclass = str(header.get("HDUCLASS", "OGIP")).strip().upper()
    hduclas1 = str(header.get("HDUCLAS1", "SPECTRUM")).strip().upper()
    if hduclass != "OGIP" or hduclas1 != "SPECTRUM":
        raise FITSFormatError(f"OGIP: {path} [HDU SPECTRUM] has HDUCLASS={hduclass!r}, "
                              f"HDUCLAS1={hduclas1!r}; expected 'OGIP' / 'SPECTRUM'")
    clas2 = str(header.get("HDUCLAS2", "")).strip().upper()
    if kind == "TOTAL" and clas2 == "BKG":
        raise FITSFormatError(f"OGIP: {path} is a background (HDUCLAS2='BKG') spectrum, "
                              "not a source PHA file")
    for col in ("CHANNEL", "COUNTS"):
        if col not in hdulist["SPECTRUM"].columns.names:
            raise FITSFormatError(f"OGIP: {path} [HDU SPECTRUM] has no {col} column")
    if "EBOUNDS" not in names:
        raise MissingHDUError(f"OGIP: {path} has no EBOUNDS HDU (HDUs: {names})")
    return header


def _backscal(hdu) -> np.ndarray:
    n = len(hdu.data)
    if "BACKSCAL" in hdu.columns.names:
        return np.asarray(hdu.data["BACKSCAL"], float)
    return np.full(n, float(hdu.header.get("BACKSCAL", 1.0)))


def _energy_axis(ebounds_hdu, name="energy"):
    from gammapipe.maps import MapAxis
    from gammapipe.utils.fits import table_from_hdu

    table = table_from_hdu(ebounds_hdu, where="EBOUNDS")
    unit = table["E_MIN"].unit or u.TeV
    edges = np.append(np.asarray(table["E_MIN"], float), float(table["E_MAX"][-1]))
    return MapAxis.from_edges(edges, unit=unit, name=name, interp="log")


def _region_and_wcs(hdulist):
    from gammapipe.maps.io import region_from_hdu

    if "REGION" not in [h.name for h in hdulist]:
        return None, None
    return region_from_hdu(hdulist["REGION"])


def _spectrum_map(hdulist, energy_axis, dtype="float32"):
    from gammapipe.maps import RegionGeom, RegionNDMap

    region, wcs = _region_and_wcs(hdulist)
    geom = RegionGeom(region, axes=[energy_axis], wcs=wcs)
    data = np.asarray(hdulist["SPECTRUM"].data["COUNTS"], float)
    return RegionNDMap.from_geom(geom, data=data.reshape(geom.data_shape), dtype=dtype)


def from_ogip_hdulists(cls, pha, bkg=None, arf=None, rmf=None, name=None, where="PHA"):
    """`SpectrumDatasetOnOff` from opened OGIP HDU lists (PHA required)."""
    from gammapipe.data.gti import GTI
    from gammapipe.irf import EDispKernel
    from gammapipe.irf.edisp_map import EDispKernelMap
    from gammapipe.maps import Map, RegionNDMap

    header = _check_spectrum(pha, where, kind="TOTAL")
    energy_axis = _energy_axis(pha["EBOUNDS"])
    counts = _spectrum_map(pha, energy_axis)
    geom = counts.geom
    spec = pha["SPECTRUM"]
    acceptance = RegionNDMap.from_geom(geom, data=_backscal(spec).reshape(geom.data_shape),
                                       dtype=float)
    if "QUALITY" in spec.columns.names:
        quality = np.asarray(spec.data["QUALITY"]).astype(int)
    else:
        quality = np.zeros(len(spec.data), int)
    mask_safe = RegionNDMap.from_geom(geom, data=(quality == 0).reshape(geom.data_shape),
                                      dtype=bool)
    livetime = float(header.get("EXPOSURE", np.nan)) * u.s
    kwargs = {"counts": counts, "acceptance": acceptance, "mask_safe": mask_safe,
              "name": name or str(header.get("OBS_ID", "")).strip() or None}
    if "GTI" in [h.name for h in pha]:
        kwargs["gti"] = GTI.from_hdu(pha["GTI"], where=f"{where} [HDU GTI]")
    if bkg is not None:
        _check_spectrum(bkg, f"{where} background")
        off = np.asarray(bkg["SPECTRUM"].data["COUNTS"], float)
        if off.size != counts.data.size:
            raise FITSFormatError(f"OGIP: background of {where} has {off.size} channels, the "
                                  f"PHA has {counts.data.size}")
        counts_off = _spectrum_map(bkg, energy_axis)
        kwargs["counts_off"] = counts_off.copy(data=counts_off.data) if counts_off.geom.region \
            is not None else RegionNDMap.from_geom(geom, data=off.reshape(geom.data_shape))
        kwargs["acceptance_off"] = RegionNDMap.from_geom(
            geom, data=_backscal(bkg["SPECTRUM"]).reshape(geom.data_shape), dtype=float)
    else:
        kwargs["acceptance_off"] = acceptance.copy(data=np.ones(geom.data_shape))
    if arf is not None:
        hdu = arf["SPECRESP"] if "SPECRESP" in [h.name for h in arf] else None
        if hdu is None:
            raise FITSFormatError(f"OGIP: ARF of {where} has no SPECRESP HDU")
        true_axis = _arf_axis(hdu)
        specresp = u.Quantity(np.asarray(hdu.data["SPECRESP"], float),
                              hdu.columns["SPECRESP"].unit or "m2")
        exp_geom = geom.to_image().to_cube([true_axis])
        data = (specresp * livetime).to_value("m2 s")
        kwargs["exposure"] = Map.from_geom(exp_geom, data=data.reshape(exp_geom.data_shape),
                                           unit="m2 s", meta={"livetime": livetime},
                                           dtype=float)
    if rmf is not None:
        kernel = EDispKernel.from_hdulist(rmf, where=f"RMF of {where}")
        edisp = EDispKernelMap.from_edisp_kernel(kernel, geom=geom)
        if "exposure" in kwargs:
            edisp.exposure_map.data = np.asarray(kwargs["exposure"].data, float).reshape(
                edisp.exposure_map.data.shape).astype(edisp.exposure_map.data.dtype)
        kwargs["edisp"] = edisp
    return cls(**kwargs)


def _arf_axis(hdu):
    from gammapipe.maps import MapAxis

    cols = hdu.columns
    unit = cols["ENERG_LO"].unit or "TeV"
    lo = np.asarray(hdu.data["ENERG_LO"], float)
    hi = np.asarray(hdu.data["ENERG_HI"], float)
    return MapAxis.from_edges(np.append(lo, hi[-1]), unit=unit, name="energy_true",
                              interp="log")


def _companion(header, key, pha_path) -> Path | None:
    value = str(header.get(key, "none")).strip()
    if not value or value.lower() == "none":
        return None
    path = Path(value)
    if not path.is_absolute():
        path = Path(pha_path).parent / path
    return path


def guess_format(filename) -> str:
    """``"ogip"`` if the file has a ``SPECTRUM`` HDU, else ``"gadf"``."""
    from gammapipe.utils.fits import make_path

    path = make_path(filename)
    with _open(path, "dataset") as hdulist:
        return "ogip" if "SPECTRUM" in [h.name for h in hdulist] else "gadf"


def read_ogip(cls, filename, name=None):
    """Read an OGIP PHA file and the BKG, ARF and RMF files its header points to.

    Raises `~gammapipe.utils.errors.MissingFileError` naming a missing file and
    `~gammapipe.utils.errors.FITSFormatError` for a file that is not an OGIP spectrum.
    """
    from gammapipe.utils.fits import make_path

    path = make_path(filename)
    with _open(path, "PHA") as pha:
        header = _check_spectrum(pha, path, kind="TOTAL")
        others = {}
        for key, what in (("BACKFILE", "bkg"), ("ANCRFILE", "arf"), ("RESPFILE", "rmf")):
            other = _companion(header, key, path)
            if other is not None:
                others[what] = _open(other, {"bkg": "background (BACKFILE)",
                                             "arf": "ARF (ANCRFILE)",
                                             "rmf": "RMF (RESPFILE)"}[what], path)
        try:
            return from_ogip_hdulists(cls, pha, name=name, where=str(path), **others)
        finally:
            for hdulist in others.values():
                hdulist.close()


# ---------------------------------------------------------------------------- GADF
def onoff_to_hdulist(ds) -> fits.HDUList:
    """GADF dataset HDU list of an on-off dataset: the `MapDataset` HDUs plus
    ``COUNTS_OFF``, ``ACCEPTANCE`` and ``ACCEPTANCE_OFF``."""
    from .map_dataset_io import _map_hdus, to_hdulist

    with ds._without_background():
        hdulist = to_hdulist(ds)
    for key in _ONOFF_HDUS:
        m = getattr(ds, key)
        if m is not None:
            hdulist.extend(_map_hdus(m, key.upper()))
    hdulist[0].header["DSTYPE"] = (type(ds).__name__, "dataset type")
    return fix_region_hdus(hdulist, ds.counts.geom)


def fix_region_hdus(hdulist, geom) -> fits.HDUList:
    """Make the region-map HDUs of a 1D dataset file readable by other GADF readers:
    ``WCSSHAPE`` on the ``*_REGION`` tables and logical ``DATA`` columns for the masks."""
    if not getattr(geom, "is_region", False) or geom.region is None:
        return hdulist
    shape = _wcs_shape(geom)
    for hdu in hdulist[1:]:
        if hdu.name.endswith("REGION") and "WCSSHAPE" not in hdu.header:
            hdu.header["WCSSHAPE"] = (shape, "shape of the region's WCS")
    for key in ("MASK_SAFE", "MASK_FIT"):
        if key in [h.name for h in hdulist]:
            hdulist[key] = _logical_data_column(hdulist[key])
    return hdulist


def _logical_data_column(hdu):
    """Region-map mask table with its ``DATA`` column as FITS logical (``L``), which
    table readers turn into booleans (integer 0/1 columns stay integers)."""
    if not isinstance(hdu, fits.BinTableHDU) or "DATA" not in hdu.columns.names:
        return hdu
    cols = []
    for col in hdu.columns:
        if col.name == "DATA":
            cols.append(fits.Column("DATA", "L", array=np.asarray(hdu.data["DATA"]) != 0))
        else:
            cols.append(fits.Column(col.name, col.format, unit=col.unit,
                                    array=hdu.data[col.name]))
    new = fits.BinTableHDU.from_columns(cols, header=hdu.header, name=hdu.name)
    return new


def onoff_from_hdulist(cls, hdulist, name=None):
    """On-off dataset from a GADF HDU list written by `onoff_to_hdulist`."""
    from gammapipe.maps import Map

    from .map_dataset import MapDataset
    from .map_dataset_io import from_hdulist

    names = [h.name for h in hdulist]
    kwargs = {}
    for key in _ONOFF_HDUS:
        if key.upper() in names:
            kwargs[key] = Map.from_hdulist(hdulist, hdu=key.upper())
    if "acceptance" not in kwargs or "acceptance_off" not in kwargs:
        raise MissingHDUError(f"{cls.__name__}.read: no ACCEPTANCE / ACCEPTANCE_OFF HDU "
                              f"(HDUs: {names})")
    base = from_hdulist(MapDataset, hdulist, name=name)
    if "counts_off" in kwargs and kwargs["counts_off"].data.shape != base.counts.data.shape:
        raise FITSFormatError(f"{cls.__name__}.read: COUNTS_OFF shape differs from COUNTS")
    ds = cls(counts=base.counts, exposure=base.exposure, psf=base.psf, edisp=base.edisp,
             mask_safe=base.mask_safe, mask_fit=base.mask_fit, gti=base.gti,
             meta_table=base.meta_table, name=base.name, **kwargs)
    return ds
