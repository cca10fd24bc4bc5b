"""`RegionNDMap`: values of a sky region along non-spatial axes (spectra, light curves).

Data shape is ``geom.data_shape = (..., n_axis0, 1, 1)``. Tables: gadf region-map
format, OGIP PHA (``SPECTRUM``: ``CHANNEL``, ``COUNTS``) with an ``EBOUNDS`` energy axis,
OGIP ARF (``ENERG_LO``, ``ENERG_HI``, ``SPECRESP``) and the ``gadf-sed`` flux-point
layout (``e_ref``, ``e_min``, ``e_max`` + data column).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from gammapipe.utils.errors import FITSFormatError, GammapipeError, GeometryError, UnitError

from ._interp import interp_pix
from .core import Map

__all__ = ["RegionNDMap"]

_OGIP_META = {
    "EXTNAME": "SPECTRUM",
    "TELESCOP": "unknown",
    "INSTRUME": "unknown",
    "FILTER": "None",
    "EXPOSURE": 0,
    "CORRFILE": "",
    "CORRSCAL": "",
    "ANCRFILE": "",
    "HDUCLASS": "OGIP",
    "HDUCLAS1": "SPECTRUM",
    "HDUVERS": "1.2.1",
    "POISSERR": True,
    "CHANTYPE": "PHA",
    "GROUPING": 0,
    "AREASCAL": 1,
}


def _parse_region(region):
    if isinstance(region, str):
        from regions import Regions

        try:
            regions = Regions.parse(region, format="ds9")
        except Exception as exc:
            raise GammapipeError(f"argument 'region': cannot parse {region!r} ({exc})") from exc
        if len(regions) == 0:
            raise GammapipeError(f"argument 'region': no region in {region!r}")
        out = regions[0]
        for other in regions[1:]:
            out = out | other
        return out
    return region


class RegionNDMap(Map):
    """Map on a `RegionGeom`: one value per bin of the non-spatial axes.

    Parameters
    ----------
    geom : `RegionGeom`
        Region geometry.
    data : ndarray, optional
        Data of shape ``geom.data_shape`` (zeros when not given).
    dtype : str
        Data type of zero-initialised data.
    meta : dict, optional
        Metadata.
    unit : str or `~astropy.units.Unit`
        Data unit.
    """

    tag = "map"

    def __init__(self, geom, data=None, dtype="float32", meta=None, unit=""):
        if type(geom).__name__ != "RegionGeom":
            raise GeometryError(
                f"RegionNDMap: argument 'geom' must be a RegionGeom, got {type(geom).__name__}"
            )
        super().__init__(geom=geom, data=data, dtype=dtype, meta=meta, unit=unit)

    @classmethod
    def create(cls, region, axes=None, dtype="float32", meta=None, unit="", wcs=None,
               binsz_wcs="0.1 deg", data=None, **kwargs) -> RegionNDMap:
        """Empty region map.

        Parameters
        ----------
        region : `~regions.SkyRegion`, str (DS9) or None
            Region.
        axes : list of `MapAxis`
            Non-spatial axes.
        wcs : `~astropy.wcs.WCS`, optional
            WCS used for pixel-based operations; default centred on the region with
            pixel size ``binsz_wcs``.
        """
        from .region_geom import RegionGeom

        kwargs.pop("map_type", None)
        geom = RegionGeom.create(region=_parse_region(region), axes=axes, wcs=wcs,
                                 binsz_wcs=binsz_wcs)
        return cls(geom=geom, data=data, dtype=dtype, meta=meta, unit=unit)

    # ------------------------------------------------------------------ coordinates
    def _region_pix(self, coords, as_idx: bool = False) -> tuple[np.ndarray, ...]:
        """Pixel coordinates (or bin indices): 0 / NaN (-1) for inside / outside the region."""
        from .coord import MapCoord

        if not isinstance(coords, MapCoord):
            if isinstance(coords, dict):
                coords = dict(coords)
            coords = _coords_dict(coords, self.geom.axes.names)
        values = []
        shapes = []
        for axis in self.geom.axes:
            if axis.name not in coords:
                raise GeometryError(f"RegionNDMap: missing coordinate {axis.name!r}")
            if as_idx:
                pix = np.asarray(axis.coord_to_idx(coords[axis.name], clip=False), dtype=float)
                pix[pix < 0] = np.nan
            else:
                pix = np.asarray(axis.coord_to_pix(coords[axis.name]), dtype=float)
            values.append(pix)
            shapes.append(pix.shape)
        shape = np.broadcast_shapes(*shapes) if shapes else ()
        spatial = np.zeros(shape)
        sky = _skycoord_of(coords)
        if sky is not None and self.geom.region is not None:
            inside = np.asarray(self.geom.contains(sky) if hasattr(self.geom, "contains")
                                else self.geom.region.contains(sky, self.geom.wcs))
            shape = np.broadcast_shapes(shape, inside.shape)
            spatial = np.where(inside, 0.0, np.nan) * np.ones(shape)
        values = [np.broadcast_to(v, shape) for v in values]
        return (np.broadcast_to(spatial, shape), np.broadcast_to(spatial, shape), *values)

    def get_by_coord(self, coords, fill_value=np.nan):
        """Values at coordinates (non-spatial axes; a position outside the region -> fill)."""
        return self.get_by_pix(self._region_pix(coords), fill_value=fill_value)

    def interp_by_coord(self, coords, method="linear", fill_value=None, values_scale="lin"):
        """Interpolate along the non-spatial axes (linear in each axis' interp space)."""
        pix = self._region_pix(coords)
        data = self.data.astype(float) if self.is_mask else self.data
        return interp_pix(data, list(pix)[::-1], method, fill_value, values_scale)

    def fill_by_coord(self, coords, weights=None):
        """Fill at coordinates (positions outside the region are ignored; bin edges decide)."""
        self.fill_by_idx(self._region_pix(coords, as_idx=True), weights=weights)

    def set_by_coord(self, coords, vals):
        """Set values at coordinates."""
        self.set_by_pix(self._region_pix(coords), vals)

    def fill_events(self, events, weights=None) -> None:
        """Histogram the events inside the region along the non-spatial axes."""
        from ._events import event_coords

        coords = event_coords(events, self.geom.axes.names)
        if self.geom.region is None:
            coords.pop("skycoord")
        self.fill_by_coord(coords, weights=weights)

    # ------------------------------------------------------------------ stacking
    def stack(self, other, weights=None, nan_to_num=True) -> None:
        """Add the data of ``other`` (same axes), optionally times ``weights``."""
        if other.data.shape != self.data.shape:
            raise GeometryError(
                f"stack: region maps of shape {self.data.shape} and {other.data.shape}"
            )
        if self.is_mask:
            data = other.data
            if weights is not None:
                data = data & np.asarray(getattr(weights, "data", weights), dtype=bool)
            self.data |= data
            return
        try:
            data = other.quantity.to_value(self.unit)
        except u.UnitConversionError as exc:
            raise UnitError(f"stack: unit {other.unit} not convertible to {self.unit}") from exc
        if weights is not None:
            data = data * np.asarray(getattr(weights, "data", weights))
        if nan_to_num:
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        np.add(self.data, data, out=self.data, casting="unsafe")

    def cutout(self, *args, **kwargs):
        """A region map is its own cutout (returns a copy)."""
        return self.copy()

    # ------------------------------------------------------------------ I/O
    def to_hdulist(self, hdu="SKYMAP", hdu_bands=None, hdu_region=None, format="gadf"):
        """HDU list in the gadf region-map format or as an OGIP PHA spectrum."""
        from astropy.io import fits

        from .io import region_map_to_hdulist, region_to_hdu

        if format in (None, "gadf"):
            return region_map_to_hdulist(self, hdu=hdu, hdu_bands=hdu_bands,
                                         hdu_region=hdu_region)
        if format in ("ogip", "ogip-sherpa"):
            table = self.to_table(format=format)
            spectrum = fits.table_to_hdu(table)
            spectrum.name = "SPECTRUM"
            ebounds = self._ogip_ebounds_hdu(format)
            hdus = [fits.PrimaryHDU(), spectrum, ebounds]
            if self.geom.region is not None:
                hdus.append(region_to_hdu(self.geom.region, self.geom.wcs, name="REGION"))
            return fits.HDUList(hdus)
        raise GammapipeError(f"argument 'format': {format!r} is not supported")

    def _ogip_ebounds_hdu(self, format):
        from astropy.io import fits

        axis = self._energy_axis()
        unit = "keV" if format == "ogip-sherpa" else axis.unit
        edges = axis.edges.to(unit)
        table = Table()
        table["CHANNEL"] = np.arange(axis.nbin, dtype=np.int16)
        table["E_MIN"] = edges[:-1].astype(float)
        table["E_MAX"] = edges[1:].astype(float)
        hdu = fits.table_to_hdu(table)
        hdu.name = "EBOUNDS"
        for key, value in {"TELESCOP": "DUMMY", "INSTRUME": "DUMMY", "FILTER": "None",
                           "CHANTYPE": "PHA", "DETCHANS": axis.nbin, "HDUCLASS": "OGIP",
                           "HDUCLAS1": "RESPONSE", "HDUCLAS2": "EBOUNDS",
                           "HDUVERS": "1.2.0"}.items():
            hdu.header[key] = value
        return hdu

    def _energy_axis(self):
        axes = self.geom.axes
        if len(axes) != 1 or axes[0].name not in ("energy", "energy_true"):
            raise GammapipeError(
                f"OGIP formats need a single energy axis, the map has axes {axes.names}"
            )
        return axes[0]

    def to_table(self, format="gadf") -> Table:
        """Table of the map values.

        Parameters
        ----------
        format : {"gadf", "ogip", "ogip-sherpa", "gadf-sed"}
            ``ogip``: ``CHANNEL``, ``COUNTS`` (int32) with OGIP PHA keywords;
            ``gadf``: ``CHANNEL``, axis columns, ``DATA``; ``gadf-sed``: ``e_ref``,
            ``e_min``, ``e_max`` (+ other axes) and a ``data`` column.
        """
        data = self.data.reshape(self.data.shape[:-2])
        if format in ("ogip", "ogip-sherpa"):
            axis = self._energy_axis()
            values = np.asarray(data, dtype=float)
            table = Table()
            table["CHANNEL"] = np.arange(axis.nbin, dtype=np.int16)
            if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
                table["COUNTS"] = values.astype(np.int32)
            else:
                table["COUNTS"] = values
            table.meta = dict(_OGIP_META, DETCHANS=axis.nbin)
            return table
        if format == "gadf":
            from .io import axes_to_bands_hdu

            bands = Table.read(axes_to_bands_hdu(list(self.geom.axes)))
            bands["DATA"] = u.Quantity(data.ravel(), self.unit) if not self.is_mask else (
                data.ravel()
            )
            return bands
        if format == "gadf-sed":
            table = Table()
            grids = np.unravel_index(np.arange(data.size), data.shape[::-1], order="F")
            for axis, grid in zip(self.geom.axes, grids, strict=True):
                if axis.name == "energy":
                    table["e_ref"] = axis.center[grid]
                    table["e_min"] = axis.edges[:-1][grid]
                    table["e_max"] = axis.edges[1:][grid]
                else:
                    table[axis.name] = axis.center[grid]
            table["data"] = u.Quantity(data.ravel(), self.unit)
            return table
        raise GammapipeError(f"argument 'format': {format!r} is not supported")

    @classmethod
    def from_table(cls, table, format="", colname=None, ebounds=None, region=None, wcs=None):
        """Region map from a table.

        Parameters
        ----------
        table : `~astropy.table.Table`
            Input table.
        format : {"ogip", "ogip-sherpa", "ogip-arf", "gadf-sed", "gadf"}
            Table layout.
        colname : str, optional
            Data column (default ``COUNTS`` for OGIP, ``SPECRESP`` for ARF, ``DATA`` /
            ``data`` otherwise).
        ebounds : `~astropy.table.Table`, optional
            OGIP ``EBOUNDS`` table (``E_MIN``, ``E_MAX``) giving the energy axis.
        region, wcs : optional
            Region and WCS of the geometry.
        """
        from .axes import MapAxis
        from .region_geom import RegionGeom

        if format in ("ogip", "ogip-sherpa"):
            colname = colname or "COUNTS"
            if ebounds is None:
                raise FITSFormatError("from_table(format='ogip'): the EBOUNDS table is required")
            for col in ("E_MIN", "E_MAX"):
                if col not in ebounds.colnames:
                    raise FITSFormatError(f"EBOUNDS table: missing column {col!r}")
            unit = ebounds["E_MIN"].unit or (u.keV if format == "ogip-sherpa" else u.TeV)
            edges = np.append(np.asarray(ebounds["E_MIN"]), np.asarray(ebounds["E_MAX"])[-1])
            axis = MapAxis.from_edges(edges, unit=unit, name="energy", interp="log")
        elif format == "ogip-arf":
            colname = colname or "SPECRESP"
            unit = table["ENERG_LO"].unit or u.keV
            edges = np.append(np.asarray(table["ENERG_LO"]), np.asarray(table["ENERG_HI"])[-1])
            axis = MapAxis.from_edges(edges, unit=unit, name="energy_true", interp="log")
        elif format == "gadf-sed":
            colname = colname or "data"
            unit = table["e_min"].unit or u.TeV
            lo = np.unique(np.asarray(table["e_min"]))
            hi = np.unique(np.asarray(table["e_max"]))
            axis = MapAxis.from_edges(np.append(lo, hi[-1]), unit=unit, name="energy",
                                      interp="log")
        elif format == "gadf":
            from astropy.io import fits

            from .io import axes_from_bands_hdu

            colname = colname or "DATA"
            axes = axes_from_bands_hdu(fits.table_to_hdu(table))
            geom = RegionGeom(region=region, axes=axes, wcs=wcs)
            col = table[colname]
            return cls(geom=geom, data=np.asarray(col).reshape(geom.data_shape),
                       unit=col.unit or "")
        else:
            raise GammapipeError(f"argument 'format': {format!r} is not supported")
        if colname not in table.colnames:
            raise FITSFormatError(f"table: missing column {colname!r} (have {table.colnames})")
        col = table[colname]
        values = np.asarray(col)
        if values.size != axis.nbin:
            raise FITSFormatError(
                f"table column {colname!r} has {values.size} rows, the energy axis "
                f"{axis.nbin} bins"
            )
        geom = RegionGeom(region=region, axes=[axis], wcs=wcs)
        data = values.reshape(geom.data_shape)
        if data.dtype.byteorder not in ("=", "|"):
            data = data.astype(data.dtype.newbyteorder("="))
        meta = {k: v for k, v in getattr(table, "meta", {}).items() if k in ("EXPOSURE",)}
        return cls(geom=geom, data=data, unit=col.unit or "", meta=meta)

    # ------------------------------------------------------------------ plotting
    def plot(self, ax=None, axis_name=None, **kwargs):
        """Plot along a non-spatial axis (step-like errorbars); returns the axes."""
        from .plotting import plot_region_map

        return plot_region_map(self, ax=ax, axis_name=axis_name, **kwargs)

    def plot_hist(self, ax=None, **kwargs):
        """Histogram-style step plot along the (first) axis; returns the axes."""
        from .plotting import plot_region_hist

        return plot_region_hist(self, ax=ax, **kwargs)

    def plot_mask(self, ax=None, **kwargs):
        """Shade the axis bins where a boolean region map is True; returns the axes."""
        from .plotting import plot_region_mask

        return plot_region_mask(self, ax=ax, **kwargs)

    def plot_region(self, ax=None, **kwargs):
        """Draw the region on WCS axes; returns the axes."""
        from .plotting import plot_region_outline

        return plot_region_outline(self.geom, ax=ax, **kwargs)


def _skycoord_of(coords):
    from astropy.coordinates import SkyCoord

    try:
        sky = coords["skycoord"]
        if isinstance(sky, SkyCoord):
            return sky
    except (KeyError, TypeError, AttributeError):
        pass
    try:
        return coords.skycoord
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    try:
        lon, lat = coords["lon"], coords["lat"]
    except (KeyError, TypeError):
        return None
    return SkyCoord(lon, lat, unit="deg")


def _coords_dict(coords, names):
    if isinstance(coords, tuple | list):
        keys = ["lon", "lat", *names] if len(coords) == len(names) + 2 else list(names)
        return dict(zip(keys, coords, strict=True))
    return coords
