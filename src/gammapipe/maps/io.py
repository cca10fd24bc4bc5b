"""GADF sky-map serialisation: map <-> FITS HDUs.

Formats (Gamma Astro Data Formats, "Sky maps"):

* **WCS maps**: one IMAGE HDU holding the data (FITS axis order ``lon, lat, axis0,
  axis1, ...``, i.e. numpy shape ``(..., n_axis0, ny, nx)``), with the celestial WCS
  keywords, ``WCSSHAPE``, ``BUNIT``, ``META`` (JSON) and, for maps with non-spatial
  dimensions, ``BANDSHDU`` naming the BANDS table.
* **BANDS table**: one row per image plane (``CHANNEL``), first non-spatial axis varying
  fastest. An axis with bin edges has the columns ``NAME`` (node), ``NAME_MIN`` and
  ``NAME_MAX`` (``ENERGY``, ``E_MIN``, ``E_MAX`` for the reconstructed-energy axis); a node
  axis has one column ``NAME``; a label axis one string column. The keywords ``AXCOLSn``
  (comma-separated column names) and ``INTERPn`` (``lin``/``log``/``sqrt``) describe axis
  ``n``. Legacy Fermi ``EBOUNDS`` / ``ENERGIES`` tables without ``AXCOLS`` are read too.
* **Region maps** (gadf): a BINTABLE HDU with columns ``CHANNEL`` and ``DATA`` (one row
  per band, same order as the BANDS table), the BANDS table ``<HDU>_BANDS`` and the region
  table ``<HDU>_REGION`` (FITS region format: ``SHAPE``, ``X``, ``Y``, ``R``... in pixels
  of the WCS written in its header; several rows are a union).

A boolean mask map is written as 8-bit integers with ``BOOLMASK = T`` and read back as
``bool``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, GammapipeError, MissingHDUError
from gammapipe.utils.fits import open_fits, parse_unit, table_from_hdu

__all__ = [
    "axis_columns",
    "axes_to_bands_hdu",
    "axes_from_bands_hdu",
    "axes_header_cards",
    "wcs_map_to_hdulist",
    "wcs_map_from_hdulist",
    "region_to_hdu",
    "region_from_hdu",
    "region_map_to_hdulist",
    "region_map_from_hdulist",
    "find_map_hdu",
    "read_map",
]

_INTERPS = ("lin", "log", "sqrt")


# ----------------------------------------------------------------------------- axes


def axis_columns(axis) -> list[str]:
    """BANDS column names of an axis: ``[node]`` or ``[node, min, max]``."""
    name = axis.name.upper()
    if _is_label_axis(axis) or getattr(axis, "node_type", "edges") == "center":
        return [name]
    if name == "ENERGY":
        return ["ENERGY", "E_MIN", "E_MAX"]
    return [name, f"{name}_MIN", f"{name}_MAX"]


def _is_label_axis(axis) -> bool:
    return type(axis).__name__ == "LabelMapAxis"


def _is_time_axis(axis) -> bool:
    return type(axis).__name__ == "TimeMapAxis"


def axes_header_cards(axes) -> list[tuple[str, str]]:
    """``AXCOLSn`` / ``INTERPn`` cards describing the non-spatial axes."""
    cards = []
    for idx, axis in enumerate(axes, start=1):
        cols = axis_columns(axis)
        axcols = cols[1:] if len(cols) == 3 else cols
        if _is_time_axis(axis):
            axcols = ["TIME_MIN", "TIME_MAX"]
        cards.append((f"AXCOLS{idx}", ",".join(axcols)))
        interp = getattr(axis, "interp", "lin")
        cards.append((f"INTERP{idx}", interp if interp in _INTERPS else "lin"))
    return cards


def _axis_values(axis) -> tuple[np.ndarray, ...]:
    """(node, min, max) values of an axis in its unit, or (labels,) / (node,)."""
    if _is_label_axis(axis):
        return (np.asarray(axis.center).astype(str),)
    if _is_time_axis(axis):
        unit = axis.unit
        lo = u.Quantity(axis.edges_min).to_value(unit)
        hi = u.Quantity(axis.edges_max).to_value(unit)
        return (lo, hi)
    unit = axis.unit
    center = u.Quantity(axis.center, unit).to_value(unit)
    if getattr(axis, "node_type", "edges") == "center":
        return (center,)
    edges = u.Quantity(axis.edges, unit).to_value(unit)
    return (center, edges[:-1], edges[1:])


def axes_to_bands_hdu(axes, name: str = "BANDS") -> fits.BinTableHDU:
    """BANDS table HDU for the non-spatial ``axes`` (first axis varies fastest)."""
    axes = list(axes)
    shape = [axis.nbin for axis in axes]
    nrow = int(np.prod(shape)) if shape else 1
    # index of every row along each axis: axis 0 fastest (Fortran order)
    grids = np.unravel_index(np.arange(nrow), shape, order="F") if shape else []
    table = Table()
    table["CHANNEL"] = np.arange(nrow, dtype=np.int64)
    header = fits.Header()
    for axis, grid in zip(axes, grids, strict=True):
        values = _axis_values(axis)
        if _is_time_axis(axis):
            names = ["TIME_MIN", "TIME_MAX"]
            for col, val in zip(names, values, strict=True):
                table[col] = u.Quantity(val[grid], axis.unit)
            ref = axis.reference_time
            header["MJDREFI"] = int(np.floor(ref.tt.mjd))
            header["MJDREFF"] = float(ref.tt.mjd - np.floor(ref.tt.mjd))
            header["TIMESYS"] = "tt"
            header["TIMEUNIT"] = str(axis.unit)
            continue
        for col, val in zip(axis_columns(axis), values, strict=True):
            if _is_label_axis(axis):
                table[col] = val[grid]
            else:
                unit = axis.unit
                table[col] = u.Quantity(val[grid], unit) if str(unit) else val[grid]
    hdu = fits.table_to_hdu(table)
    hdu.name = name.upper()
    for key, value in axes_header_cards(axes):
        hdu.header[key] = value
    for key, value in header.items():
        hdu.header[key] = value
    return hdu


def _axis_name_from_columns(cols: list[str]) -> str:
    first = cols[0].upper()
    if first in ("E_MIN", "ENERGY"):
        return "energy"
    if first.endswith("_MIN"):
        return first[: -len("_MIN")].lower()
    return first.lower()


def _take_axis_values(column: np.ndarray, stride: int, nbin: int) -> np.ndarray:
    return np.asarray(column)[np.arange(nbin) * stride]


def _infer_nbin(columns: list[np.ndarray], stride: int, nrow: int) -> int:
    """Number of bins of an axis: length of the first repeating cycle of its values."""
    key = np.asarray(columns[0])
    if nrow == 0:
        return 0
    vals = key[::stride]
    first = vals[0]
    repeats = np.nonzero(vals[1:] == first)[0]
    return int(repeats[0] + 1) if repeats.size else len(vals)


def axes_from_bands_hdu(hdu, shape: tuple[int, ...] | None = None, where: str = "") -> list:
    """Rebuild the non-spatial axes from a BANDS table HDU.

    Parameters
    ----------
    hdu : `~astropy.io.fits.BinTableHDU`
        BANDS (or legacy ``EBOUNDS`` / ``ENERGIES``) table.
    shape : tuple of int, optional
        Number of bins of each axis (from the image ``WCSSHAPE`` / ``NAXISn``); inferred
        from the table when not given.
    where : str
        Context for error messages.
    """
    from .axes import LabelMapAxis, MapAxis

    where = where or f"[HDU {hdu.name}]"
    table = table_from_hdu(hdu, where=where)
    header = hdu.header
    nrow = len(table)
    axcols = []
    idx = 1
    while f"AXCOLS{idx}" in header:
        axcols.append([c.strip() for c in str(header[f"AXCOLS{idx}"]).split(",")])
        idx += 1
    if not axcols:  # legacy Fermi conventions
        if "E_MIN" in table.colnames and "E_MAX" in table.colnames:
            axcols = [["E_MIN", "E_MAX"]]
        elif "ENERGY" in table.colnames:
            axcols = [["ENERGY"]]
        else:
            raise FITSFormatError(
                f"{where}: BANDS table has no AXCOLSn keywords and no E_MIN/E_MAX or "
                f"ENERGY columns (columns: {table.colnames})"
            )
    axes = []
    stride = 1
    for n, cols in enumerate(axcols, start=1):
        missing = [c for c in cols if c not in table.colnames]
        if missing:
            raise FITSFormatError(f"{where}: AXCOLS{n} names missing column(s) {missing}")
        columns = [np.asarray(table[c]) for c in cols]
        if shape is not None and len(shape) >= n:
            nbin = int(shape[n - 1])
        else:
            nbin = _infer_nbin(columns, stride, nrow)
        interp = str(header.get(f"INTERP{n}", "lin")).strip() or "lin"
        name = _axis_name_from_columns(cols)
        if cols[0].upper() == "TIME_MIN":
            axes.append(_time_axis_from_table(table, header, cols, stride, nbin, interp))
        elif len(cols) == 2:
            unit = table[cols[0]].unit or u.dimensionless_unscaled
            lo = _take_axis_values(columns[0], stride, nbin)
            hi = _take_axis_values(columns[1], stride, nbin)
            edges = np.append(lo, hi[-1]).astype(float)
            axes.append(MapAxis.from_edges(edges, name=name, unit=unit, interp=interp))
        elif columns[0].dtype.kind in "US":
            labels = [str(s).strip() for s in _take_axis_values(columns[0], stride, nbin)]
            axes.append(LabelMapAxis(labels=labels, name=name))
        else:
            unit = table[cols[0]].unit or u.dimensionless_unscaled
            nodes = _take_axis_values(columns[0], stride, nbin).astype(float)
            axes.append(MapAxis.from_nodes(nodes, name=name, unit=unit, interp=interp))
        stride *= nbin
    if stride != max(nrow, 1) and nrow:
        raise FITSFormatError(
            f"{where}: BANDS table has {nrow} rows but its axes have {stride} bins in total"
        )
    return axes


def _time_axis_from_table(table, header, cols, stride, nbin, interp):
    from astropy.time import Time

    from .axes import TimeMapAxis

    unit = table[cols[0]].unit or u.s
    lo = _take_axis_values(np.asarray(table[cols[0]]), stride, nbin) * unit
    hi = _take_axis_values(np.asarray(table[cols[1]]), stride, nbin) * unit
    mjd = float(header.get("MJDREFI", 0)) + float(header.get("MJDREFF", 0.0))
    scale = str(header.get("TIMESYS", "tt")).lower()
    ref = Time(mjd, format="mjd", scale=scale if scale in ("tt", "utc", "tai") else "tt")
    return TimeMapAxis(edges_min=lo, edges_max=hi, reference_time=ref, name="time", interp=interp)


# ----------------------------------------------------------------------------- WCS maps


def _meta_card(meta) -> str:
    try:
        return json.dumps(meta or {}, default=str)
    except (TypeError, ValueError):
        return "{}"


def _creator() -> str:
    from gammapipe import __version__

    return f"gammapipe {__version__}"


def _data_for_fits(data: np.ndarray) -> tuple[np.ndarray, bool]:
    if data.dtype == bool:
        return data.astype(np.uint8), True
    return data, False


def wcs_map_to_hdulist(m, hdu: str = "SKYMAP", hdu_bands: str | None = None) -> fits.HDUList:
    """HDU list (primary, image, [bands]) of a `WcsNDMap` in GADF format."""
    geom = m.geom
    hdu = (hdu or "SKYMAP").upper()
    axes = list(geom.axes)
    header = geom.wcs.to_header()
    for key, value in axes_header_cards(axes):
        header[key] = value
    npix = (int(geom.data_shape[-1]), int(geom.data_shape[-2]))
    header["WCSSHAPE"] = "(" + ",".join(str(n) for n in npix + tuple(a.nbin for a in axes)) + ")"
    if axes:
        hdu_bands = (hdu_bands or f"{hdu}_BANDS").upper()
        header["BANDSHDU"] = hdu_bands
    data, is_bool = _data_for_fits(m.data)
    image = fits.ImageHDU(data=data, header=header, name=hdu)
    image.header["META"] = _meta_card(m.meta)
    image.header["BUNIT"] = m.unit.to_string("fits") if str(m.unit) else ""
    if is_bool:
        image.header["BOOLMASK"] = (True, "boolean mask stored as 0/1")
    image.header["CREATOR"] = _creator()
    hdus = [fits.PrimaryHDU(), image]
    if axes:
        hdus.append(axes_to_bands_hdu(axes, name=hdu_bands))
    return fits.HDUList(hdus)


def _wcs_shape(header) -> tuple[int, ...] | None:
    text = header.get("WCSSHAPE")
    if not text:
        return None
    try:
        return tuple(int(v) for v in str(text).strip("()").split(",") if v.strip())
    except ValueError:
        return None


def _read_meta(header) -> dict:
    text = header.get("META")
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _bunit(header, where: str) -> u.UnitBase:
    return parse_unit(header.get("BUNIT", ""), where=f"{where} BUNIT")


def _native(data: np.ndarray) -> np.ndarray:
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    return np.ascontiguousarray(data)


def wcs_map_from_hdulist(
    hdulist: fits.HDUList, hdu: str | int | None = None, hdu_bands: str | None = None,
    where: str = "",
):
    """Read a `WcsNDMap` from an image HDU (and its BANDS table) of ``hdulist``."""
    from astropy.wcs import WCS

    from .wcs_geom import WcsGeom
    from .wcs_map import WcsNDMap

    image = hdulist[hdu] if hdu is not None else _first_image(hdulist, where)
    hwhere = f"{where} [HDU {image.name}]"
    if image.data is None or image.data.ndim < 2 or not image.is_image:
        raise FITSFormatError(f"{hwhere}: not a WCS map HDU (needs an image with >= 2 axes)")
    header = image.header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(header, naxis=[1, 2]) if header.get("WCSAXES", 2) != 2 else WCS(header)
    if not wcs.has_celestial:
        raise FITSFormatError(f"{hwhere}: no celestial WCS keywords (CTYPE1/CTYPE2)")
    wcs = wcs.celestial
    data = _native(image.data)
    nx, ny = data.shape[-1], data.shape[-2]
    axes = []
    if data.ndim > 2:
        bands_name = hdu_bands or header.get("BANDSHDU")
        candidates = [bands_name] if bands_name else ["EBOUNDS", "ENERGIES"]
        bands = None
        for cand in candidates:
            if cand is not None and cand in hdulist:
                bands = hdulist[cand]
                break
        if bands is None:
            raise MissingHDUError(
                f"{hwhere}: map has {data.ndim - 2} non-spatial axes but its BANDS table "
                f"{candidates} is not in the file"
            )
        shape = data.shape[:-2][::-1]
        axes = axes_from_bands_hdu(bands, shape=shape, where=f"{where} [HDU {bands.name}]")
    geom = WcsGeom(wcs=wcs, npix=(nx, ny), axes=axes)
    if geom.data_shape != data.shape:
        raise FITSFormatError(
            f"{hwhere}: data shape {data.shape} does not match the geometry {geom.data_shape}"
        )
    if header.get("BOOLMASK", False):
        data = data.astype(bool)
    return WcsNDMap(geom=geom, data=data, unit=_bunit(header, hwhere), meta=_read_meta(header))


def _first_image(hdulist: fits.HDUList, where: str):
    for h in hdulist:
        if h.is_image and h.data is not None and h.data.ndim >= 2:
            return h
    raise MissingHDUError(f"{where}: no image HDU with a map (HDUs: {[h.name for h in hdulist]})")


# ----------------------------------------------------------------------------- regions


def region_to_hdu(region, wcs, name: str = "REGION") -> fits.BinTableHDU:
    """FITS region table (pixel shapes, WCS in the header) of a sky region."""
    from regions import CompoundSkyRegion, Regions

    parts = _split_union(region) if isinstance(region, CompoundSkyRegion) else [region]
    pixel = [p.to_pixel(wcs) if hasattr(p, "to_pixel") else p for p in parts]
    try:
        table = Regions(pixel).serialize(format="fits")
    except Exception as exc:  # regions raises several types for unsupported shapes
        raise GammapipeError(
            f"region {type(region).__name__} cannot be written in the FITS region format "
            f"({exc})"
        ) from exc
    hdu = fits.table_to_hdu(Table(table))
    hdu.header.update(wcs.to_header())
    hdu.name = name.upper()
    return hdu


def _split_union(region) -> list:
    import operator

    from regions import CompoundSkyRegion

    if isinstance(region, CompoundSkyRegion):
        if region.operator is not operator.or_:
            raise GammapipeError(
                "only unions of regions can be written in the FITS region format"
            )
        return _split_union(region.region1) + _split_union(region.region2)
    return [region]


def region_from_hdu(hdu) -> tuple[object, object]:
    """(sky region, wcs) from a FITS region table; several rows give their union."""
    from astropy.wcs import WCS
    from regions import Regions

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(hdu.header, naxis=2)
        table = Table.read(hdu)
    try:
        pixel = Regions.parse(table, format="fits")
    except Exception as exc:
        raise FITSFormatError(f"[HDU {hdu.name}]: not a FITS region table ({exc})") from exc
    sky = [p.to_sky(wcs) for p in pixel]
    if not sky:
        return None, wcs
    region = sky[0]
    for other in sky[1:]:
        region = region | other
    return region, wcs


# ----------------------------------------------------------------------------- region maps


def region_map_to_hdulist(
    m, hdu: str = "SKYMAP", hdu_bands: str | None = None, hdu_region: str | None = None
) -> fits.HDUList:
    """HDU list of a `RegionNDMap` in the gadf region-map format."""
    hdu = (hdu or "SKYMAP").upper()
    hdu_bands = (hdu_bands or f"{hdu}_BANDS").upper()
    hdu_region = (hdu_region or f"{hdu}_REGION").upper()
    geom = m.geom
    axes = list(geom.axes)
    flat = np.ravel(m.data)  # shape (..., n_axis0, 1, 1): first map axis fastest
    data, is_bool = _data_for_fits(flat)
    table = Table()
    table["CHANNEL"] = np.arange(flat.size, dtype=np.int64)
    table["DATA"] = u.Quantity(data, m.unit) if str(m.unit) and not is_bool else data
    table_hdu = fits.table_to_hdu(table)
    table_hdu.name = hdu
    table_hdu.header["BANDSHDU"] = hdu_bands
    table_hdu.header["META"] = _meta_card(m.meta)
    if is_bool:
        table_hdu.header["BOOLMASK"] = (True, "boolean mask stored as 0/1")
    table_hdu.header["CREATOR"] = _creator()
    hdus = [fits.PrimaryHDU(), table_hdu, axes_to_bands_hdu(axes, name=hdu_bands)]
    if geom.region is not None:
        table_hdu.header["REGHDU"] = hdu_region
        hdus.append(region_to_hdu(geom.region, geom.wcs, name=hdu_region))
    return fits.HDUList(hdus)


def region_map_from_hdulist(
    hdulist: fits.HDUList, hdu: str | int | None = None, hdu_bands: str | None = None,
    where: str = "",
):
    """Read a `RegionNDMap` from a gadf region-map table or an OGIP PHA spectrum."""
    if hdu is None:
        hdu = "SKYMAP" if "SKYMAP" in hdulist else ("SPECTRUM" if "SPECTRUM" in hdulist else 1)
    table_hdu = hdulist[hdu]
    hwhere = f"{where} [HDU {table_hdu.name}]"
    if not isinstance(table_hdu, fits.BinTableHDU):
        raise FITSFormatError(f"{hwhere}: a region map needs a BINTABLE HDU")
    header = table_hdu.header
    if str(header.get("HDUCLAS1", "")).strip().upper() == "SPECTRUM":
        return _ogip_from_hdulist(hdulist, table_hdu, where=hwhere)
    names = [c.upper() for c in table_hdu.columns.names]
    if "DATA" not in names:
        raise FITSFormatError(
            f"{hwhere}: not a region map table (no DATA column; columns {names})"
        )
    bands_name = hdu_bands or header.get("BANDSHDU", f"{table_hdu.name}_BANDS")
    if bands_name not in hdulist:
        raise MissingHDUError(f"{hwhere}: BANDS table {bands_name!r} not in the file")
    axes = axes_from_bands_hdu(hdulist[bands_name], where=f"{where} [HDU {bands_name}]")
    region, wcs = None, None
    region_name = header.get("REGHDU", f"{table_hdu.name}_REGION")
    if region_name in hdulist:
        region, wcs = region_from_hdu(hdulist[region_name])
    from .region_geom import RegionGeom
    from .region_map import RegionNDMap

    table = table_from_hdu(table_hdu, where=hwhere)
    geom = RegionGeom(region=region, axes=axes, wcs=wcs)
    data = _native(np.asarray(table["DATA"]))
    if header.get("BOOLMASK", False):
        data = data.astype(bool)
    unit = table["DATA"].unit or u.dimensionless_unscaled
    data = data.reshape(geom.data_shape)
    return RegionNDMap(geom=geom, data=data, unit=unit, meta=_read_meta(header))


def _ogip_from_hdulist(hdulist: fits.HDUList, table_hdu, where: str):
    from .region_map import RegionNDMap

    table = table_from_hdu(table_hdu, where=where)
    ebounds = None
    if "EBOUNDS" in hdulist:
        ebounds = table_from_hdu(hdulist["EBOUNDS"], where=f"{where} EBOUNDS")
    region, wcs = None, None
    if "REGION" in hdulist:
        region, wcs = region_from_hdu(hdulist["REGION"])
    return RegionNDMap.from_table(
        table, format="ogip", ebounds=ebounds, region=region, wcs=wcs
    )


# ----------------------------------------------------------------------------- reading


def find_map_hdu(hdulist: fits.HDUList, hdu, where: str):
    """Return the HDU named ``hdu`` (or the first map-like HDU) with clear errors."""
    if hdu is None:
        for h in hdulist:
            if h.is_image and h.data is not None and h.data.ndim >= 2:
                return h
            if isinstance(h, fits.BinTableHDU) and (
                "DATA" in [c.upper() for c in h.columns.names]
                or str(h.header.get("HDUCLAS1", "")).strip().upper() == "SPECTRUM"
            ):
                return h
        raise MissingHDUError(
            f"{where}: no map HDU found (HDUs: {[h.name for h in hdulist]})"
        )
    key = hdu.upper() if isinstance(hdu, str) else hdu
    try:
        return hdulist[key]
    except (KeyError, IndexError):
        raise MissingHDUError(
            f"{where}: no HDU {hdu!r} (available: {[h.name for h in hdulist]})"
        ) from None


def read_map(
    filename, hdu=None, hdu_bands=None, map_type: str = "auto", format: str | None = None
):
    """Read a map (WCS or region) from a FITS file; see `Map.read`."""
    path = Path(filename)
    where = str(path)
    with open_fits(path) as hdulist:
        selected = find_map_hdu(hdulist, hdu, where)
        if map_type == "auto":
            map_type = "wcs" if selected.is_image else "region"
        name = selected.name if selected.name else hdulist.index_of(selected)
        if map_type == "wcs":
            if not selected.is_image or selected.data is None or selected.data.ndim < 2:
                raise FITSFormatError(
                    f"{where} [HDU {selected.name}]: not a map HDU "
                    f"({type(selected).__name__} without a 2D+ image); map HDUs are images "
                    "(WCS maps) or DATA/SPECTRUM tables (region maps)"
                )
            return wcs_map_from_hdulist(hdulist, hdu=name, hdu_bands=hdu_bands, where=where)
        if map_type == "region":
            return region_map_from_hdulist(hdulist, hdu=name, hdu_bands=hdu_bands, where=where)
        raise GammapipeError(
            f"argument 'map_type': {map_type!r} is not supported (use 'auto', 'wcs', 'region')"
        )
