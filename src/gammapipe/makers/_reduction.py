"""Pure vectorised kernels of the 3D data reduction (DL3 -> DL4 maps).

Kernels work on float64 arrays (deg, TeV, s) and IRF objects whose tables are interpolated
on *separable* grids (`separable_eval`, `_OffsetInterp`): the energy (and rad / migra)
interpolation is done once on the table, each pixel only combines its cell corners. No
per-pixel ``SkyCoord`` transformation, no per-pixel interpolator call. Pixel positions,
solid angles and offsets are cached per geometry (`pixel_lonlat`, `geom_offsets`).

FoV coordinates (`fov_coordinates`): RADEC alignment: longitude / latitude in the frame
centred on the pointing (longitude growing with RA; mirrored for ``REVERSE_LON_RADEC``);
ALTAZ: GADF ``sky_to_fov`` of (az, alt). The background rate is integrated over each reco
bin as a power law between evaluation points (bin edges or ``oversampling`` sub-edges),
times the exact pixel solid angle and the observation time.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gammapipe.irf.core import integrate_loglog_segments
from gammapipe.utils.coordinates import (
    angular_separation_deg,
    lonlat_to_unit_vector,
    offset_frame_lonlat,
)

__all__ = [
    "pixel_lonlat",
    "pixel_solid_angle",
    "pixel_offsets",
    "geom_offsets",
    "separable_eval",
    "fov_coordinates",
    "altaz_tangent_basis",
    "exposure_values",
    "background_values",
    "psf_values",
    "edisp_migra_values",
    "edisp_kernel_values",
    "energy_edges_oversampled",
]

_CACHE_SIZE = 16
_LONLAT_CACHE: OrderedDict = OrderedDict()
_SOLID_ANGLE_CACHE: OrderedDict = OrderedDict()
_OFFSET_CACHE: OrderedDict = OrderedDict()


def _geom_key(geom, frame: str) -> tuple:
    """Hashable key of the spatial part of a geometry (WCS parameters and shape)."""
    wcs = getattr(geom, "wcs", None)
    if wcs is None or getattr(geom, "region", None) is not None:
        # region geometries (their WCS is only a helper grid): not cached
        return ("id", id(geom), frame)
    w = wcs.wcs
    return (
        tuple(w.ctype),
        tuple(np.round(w.crval, 12)),
        tuple(np.round(w.crpix, 9)),
        tuple(np.round(w.cdelt, 12)),
        tuple(np.round(np.asarray(w.get_pc()).ravel(), 12)),
        float(w.lonpole),
        float(w.latpole),
        tuple(geom.data_shape_image),
        frame,
    )


def _lru_get(cache: OrderedDict, key, compute):
    if key[0] == "id":  # geometries without a WCS grid of their own: no caching
        return compute()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def pixel_lonlat(geom, frame: str = "icrs") -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (deg) of the pixel centres of ``geom`` in ``frame``.

    Returns two read-only arrays of the image shape ``geom.data_shape_image``. The result
    is cached by the geometry's WCS parameters (so cutouts on the same grid at the same
    place, and repeated runs, reuse it).
    """

    def compute():
        coords = geom.get_coord(frame=frame, sparse=True)
        shape = tuple(geom.data_shape_image)
        lon = np.array(coords.lon, dtype=float).reshape(shape)
        lat = np.array(coords.lat, dtype=float).reshape(shape)
        lon.setflags(write=False)
        lat.setflags(write=False)
        return lon, lat

    return _lru_get(_LONLAT_CACHE, _geom_key(geom, frame), compute)


def pixel_solid_angle(geom) -> np.ndarray:
    """Solid angle (sr) of each pixel, image shape (cached like `pixel_lonlat`)."""

    def compute():
        values = np.asarray(geom.solid_angle().to_value("sr"), dtype=float)
        values = np.broadcast_to(values, tuple(geom.data_shape_image)).copy()
        values.setflags(write=False)
        return values

    return _lru_get(_SOLID_ANGLE_CACHE, _geom_key(geom, "sr"), compute)


def pixel_offsets(lon: np.ndarray, lat: np.ndarray, lon_pnt: float, lat_pnt: float) -> np.ndarray:
    """Angular distance (deg) of positions from the pointing (same frame)."""
    return angular_separation_deg(lon_pnt, lat_pnt, lon, lat)


def geom_offsets(geom, ra_pnt: float, dec_pnt: float) -> np.ndarray:
    """Offsets (deg, image shape, read-only) of the pixel centres of ``geom`` from an ICRS
    pointing, cached by geometry and pointing (shared by exposure, masks and checks)."""

    def compute():
        lon, lat = pixel_lonlat(geom, "icrs")
        values = pixel_offsets(lon, lat, ra_pnt, dec_pnt)
        values.setflags(write=False)
        return values

    key = (_geom_key(geom, "icrs"), float(ra_pnt), float(dec_pnt))
    return _lru_get(_OFFSET_CACHE, key, compute)


def altaz_tangent_basis(alt_az_to_icrs, az_pnt: float, alt_pnt: float, eps_deg: float = 0.05):
    """Unit vectors (ICRS Cartesian) of the pointing and of the +az / +alt tangent directions.

    Parameters
    ----------
    alt_az_to_icrs : callable
        ``f(az_deg_array, alt_deg_array) -> (ra_deg_array, dec_deg_array)``: one
        vectorised frame transformation (AltAz -> ICRS at the observation time).
    az_pnt, alt_pnt : float
        Pointing position in AltAz (deg).
    eps_deg : float
        Step of the finite differences.

    Returns
    -------
    p, t_az, t_alt : ndarray
        Orthonormal vectors: the pointing and the tangent directions of increasing
        azimuth and altitude at the pointing.

    Notes
    -----
    The AltAz <-> ICRS transformation is a rotation of the sphere up to aberration
    (< 21 arcsec, varying by less than an arcsecond over a field of view), so three points
    transformed once per observation define the FoV frame for all pixels.
    """
    eps = eps_deg
    coslat = np.cos(np.radians(alt_pnt))
    az = np.array([az_pnt, az_pnt + eps / max(coslat, 1e-6), az_pnt - eps / max(coslat, 1e-6),
                   az_pnt, az_pnt])
    alt = np.array([alt_pnt, alt_pnt, alt_pnt, alt_pnt + eps, alt_pnt - eps])
    ra, dec = alt_az_to_icrs(az, alt)
    vec = lonlat_to_unit_vector(ra, dec)
    p = vec[0] / np.linalg.norm(vec[0])
    t_az = vec[1] - vec[2]
    t_az -= np.dot(t_az, p) * p
    t_az /= np.linalg.norm(t_az)
    t_alt = vec[3] - vec[4]
    t_alt -= np.dot(t_alt, p) * p + np.dot(t_alt, t_az) * t_az
    t_alt /= np.linalg.norm(t_alt)
    return p, t_az, t_alt


def fov_coordinates(
    ra: np.ndarray,
    dec: np.ndarray,
    ra_pnt: float,
    dec_pnt: float,
    alignment: str = "RADEC",
    altaz_basis=None,
) -> tuple[np.ndarray, np.ndarray]:
    """FoV coordinates (deg) of ICRS positions for a background IRF of given alignment.

    Parameters
    ----------
    ra, dec : ndarray
        ICRS positions (deg).
    ra_pnt, dec_pnt : float
        ICRS pointing (deg).
    alignment : {"RADEC", "REVERSE_LON_RADEC", "ALTAZ"}
        ``FOVALIGN`` of the background IRF.
    altaz_basis : tuple of ndarray, optional
        ``(p, t_az, t_alt)`` from `altaz_tangent_basis` (required for ALTAZ).
    """
    alignment = str(getattr(alignment, "value", alignment)).upper()
    if alignment in ("RADEC", "REVERSE_LON_RADEC"):
        lon, lat = offset_frame_lonlat(ra, dec, ra_pnt, dec_pnt)
        if alignment == "REVERSE_LON_RADEC":
            lon = -lon
        return lon, lat
    if alignment == "ALTAZ":
        if altaz_basis is None:
            raise ValueError("fov_coordinates: ALTAZ alignment needs altaz_basis")
        p, t_az, t_alt = altaz_basis
        vec = lonlat_to_unit_vector(ra, dec)
        x = vec @ p
        y = vec @ t_az
        z = vec @ t_alt
        az_off = np.degrees(np.arctan2(y, x))
        alt_off = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
        # GADF FoV frame: longitude mirrored with respect to the offset azimuth
        return -az_off, alt_off
    raise ValueError(f"fov_coordinates: unknown FoV alignment {alignment!r}")



def _axis_index_weight(interp, axis: int, x: np.ndarray):
    """Bracketing node index and weight along ``axis`` (the rule of GridInterpolator)."""
    from gammapipe.utils.interpolation import _scale_coord

    sn = interp.scaled_nodes[axis]
    xs = _scale_coord(np.asarray(x, dtype=float), interp.scales[axis])
    if sn.size == 1:
        return np.zeros(xs.shape, dtype=np.intp), np.zeros(xs.shape), True
    idx = np.clip(np.searchsorted(sn, xs, side="right") - 1, 0, sn.size - 2)
    w = (xs - sn[idx]) / (sn[idx + 1] - sn[idx])
    if not interp.extrapolate:
        w = np.clip(w, 0.0, 1.0)
    return idx, w, False


def separable_eval(interp, first: np.ndarray, rest: list[np.ndarray],
                   scaled: bool = False) -> np.ndarray:
    """Evaluate a multilinear `GridInterpolator` on ``first`` (1D, axis 0) x pixel arrays.

    ``rest`` gives, for each of the remaining axes, one array of the image shape (the
    same for all). The interpolation along axis 0 is done once on the table (all other
    nodes), then each pixel combines the ``2**(ndim-1)`` corners of its cell: the same
    arithmetic as the full multilinear interpolation in the value scale of ``interp``,
    with its extrapolation, bounds (``fill_value``) and ``clip_min`` rules. Returns shape
    ``(first.size,) + image shape``.

    With ``scaled=True`` the values are returned in the interpolation scale (e.g. log)
    without clipping, and points outside the bounds are NaN.
    """
    from gammapipe.utils.interpolation import LOG_VALUE_FLOOR

    first = np.asarray(first, dtype=float).ravel()
    img_shape = np.shape(rest[0])
    sv = interp.scaled_values
    i0, w0, single0 = _axis_index_weight(interp, 0, first)
    shape_w = (-1,) + (1,) * (sv.ndim - 1)
    table = sv[i0] if single0 else (sv[i0] * (1 - w0).reshape(shape_w)
                                     + sv[i0 + 1] * w0.reshape(shape_w))
    # (first, nodes of the other axes): rows gather the pixel corners -> (first, pixel)
    table = np.ascontiguousarray(table.reshape(first.size, -1))
    strides = np.cumprod((1,) + sv.shape[:0:-1])[::-1][1:] if sv.ndim > 1 else ()
    parts = [_axis_index_weight(interp, a + 1, np.asarray(r, float).ravel())
             for a, r in enumerate(rest)]
    n_pix = int(np.prod(img_shape)) if img_shape else 1
    choices = [(0,) if single else (0, 1) for _, _, single in parts]
    corners = []
    for corner in np.ndindex(*(len(c) for c in choices)):
        flat = np.zeros(n_pix, dtype=np.intp)
        weight = np.ones(n_pix)
        for (idx, w, single), bit, stride in zip(parts, corner, strides, strict=True):
            flat += (idx + bit) * stride
            if not single:
                weight = weight * (w if bit else 1.0 - w)
        corners.append((flat, weight))
    # one node of axis 0 at a time (rows stay in cache), corner terms summed in order
    out = np.empty((first.size, n_pix))
    term = np.empty(n_pix)
    for row, out_row in zip(table, out, strict=True):
        out_row[...] = 0.0
        for flat, weight in corners:
            np.take(row, flat, out=term)
            term *= weight
            out_row += term
    if interp.bounds is not None:
        lo, hi = interp.bounds[0]
        bad_first = (first < lo) | (first > hi)
        inside = np.ones(n_pix, dtype=bool)
        for r, (lo, hi) in zip(rest, interp.bounds[1:], strict=True):
            r = np.asarray(r, float).ravel()
            inside &= (r >= lo) & (r <= hi)
    if scaled:
        if interp.bounds is not None:
            out[bad_first] = np.nan
            out[:, ~inside] = np.nan
        return out.reshape((first.size,) + img_shape)
    if interp.values_scale == "log":
        with np.errstate(over="ignore", under="ignore"):
            out = np.exp(out)
        out[out <= 2 * LOG_VALUE_FLOOR] = 0.0
    elif interp.values_scale == "sqrt":
        out = out**2
    if interp.clip_min is not None:
        np.maximum(out, interp.clip_min, out=out)
    if interp.bounds is not None:
        out[bad_first] = interp.fill_value
        out[:, ~inside] = interp.fill_value
    return out.reshape((first.size,) + img_shape)


class _OffsetInterp:
    """Linear interpolation of a tabulated IRF along its ``offset`` axis, factored out.

    The IRF is evaluated once at its offset *nodes* (all other coordinates given); each
    pixel then combines its two bracketing nodes with the weights the full multilinear
    interpolation would use. This is exact for IRFs interpolated linearly in value
    (``values_scale="lin"``): multilinear interpolation is separable. Result clipping,
    bounds and extrapolation rules of the IRF's interpolator are reproduced.
    """

    def __init__(self, irf, offset_deg: np.ndarray):
        import astropy.units as u

        from gammapipe.utils.interpolation import GridInterpolator

        interp = irf._get_interpolator()
        self.ok = (interp.values_scale == "lin" and interp.method == "linear"
                   and "offset" in irf.axes.names)
        if not self.ok:
            return
        self.irf = irf
        self.interp = interp
        self.axis = irf.axes.names.index("offset")
        self.unbounded = GridInterpolator(
            interp.nodes, interp.values, scales=interp.scales, values_scale="lin",
            method="linear", fill_value=None, extrapolate=interp.extrapolate, clip_min=None,
        )
        nodes = interp.nodes[self.axis]
        offset = (np.asarray(offset_deg, float) * u.deg).to_value(irf.axes["offset"].unit)
        if nodes.size == 1:
            self.idx = np.zeros(offset.shape, dtype=np.intp)
            self.w = np.zeros(offset.shape)
            self.single = True
        else:
            idx = np.clip(np.searchsorted(nodes, offset, side="right") - 1, 0, nodes.size - 2)
            w = (offset - nodes[idx]) / (nodes[idx + 1] - nodes[idx])
            if not interp.extrapolate:
                w = np.clip(w, 0.0, 1.0)
            self.idx, self.w, self.single = idx, w, False
        if interp.bounds is not None:
            lo, hi = interp.bounds[self.axis]
            self.inside = (offset >= lo) & (offset <= hi)
        else:
            self.inside = np.ones(offset.shape, dtype=bool)
        self.nodes = nodes

    def node_values(self, coords: dict) -> np.ndarray:
        """Unclipped IRF values at ``coords`` (by axis name, broadcasting) x offset nodes
        (last axis)."""
        names = self.irf.axes.names
        shape = np.broadcast_shapes(*(np.shape(c) for c in coords.values()))
        args = []
        for name in names:
            if name == "offset":
                args.append(self.nodes.reshape((1,) * len(shape) + (-1,)))
            else:
                args.append(np.asarray(coords[name], float)[..., np.newaxis])
        values = self.unbounded(args)
        if self.interp.bounds is not None:
            for name, (lo, hi) in zip(names, self.interp.bounds, strict=True):
                if name == "offset":
                    continue
                c = np.asarray(coords[name], float)[..., np.newaxis]
                values = np.where((c >= lo) & (c <= hi), values, np.nan)
        return values

    def combine(self, node_values: np.ndarray) -> np.ndarray:
        """Per-pixel values: ``node_values[..., n]`` (shape ``S + (n_nodes,)``) ->
        ``S + offset.shape`` with the IRF's clipping and fill value."""
        ndim_img = self.idx.ndim
        flat_idx = self.idx.ravel()
        lo = node_values[..., flat_idx]
        if self.single:
            out = lo
        else:
            w = self.w.ravel()
            out = lo * (1.0 - w) + node_values[..., flat_idx + 1] * w
        out = out.reshape(node_values.shape[:-1] + self.idx.shape)
        return self._finish(out, ndim_img)

    def _finish(self, out: np.ndarray, ndim_img: int) -> np.ndarray:
        interp = self.interp
        if interp.clip_min is not None:
            out = np.maximum(out, interp.clip_min)
        fill = interp.fill_value
        if fill is not None:
            out = np.where(self.inside, out, fill)
            out = np.where(np.isnan(out), fill, out)
        return out

def exposure_values(aeff, energy_true_tev: np.ndarray, offset_deg: np.ndarray,
                    livetime_s: float) -> np.ndarray:
    """Exposure ``A_eff(E_true, offset) x livetime`` in m2 s.

    ``energy_true_tev`` (1D) is broadcast against the offset image: the result has shape
    ``(n_energy,) + offset.shape``.
    """
    import astropy.units as u

    interp = aeff._get_interpolator()
    e_unit = aeff.axes["energy_true"].unit
    o_unit = aeff.axes["offset"].unit
    energy = (np.asarray(energy_true_tev, float) * u.TeV).to_value(e_unit)
    offset = (np.asarray(offset_deg, float) * u.deg).to_value(o_unit)
    if interp.method == "linear" and aeff.axes.names == ["energy_true", "offset"]:
        values = separable_eval(interp, energy, [offset])
    else:
        shape = (-1,) + (1,) * np.ndim(offset)
        values = interp([energy.reshape(shape), offset[np.newaxis]])
    factor = (1 * aeff.unit).to_value(u.m**2) * livetime_s
    return values * factor


def energy_edges_oversampled(edges: np.ndarray, oversampling: int | None) -> np.ndarray:
    """Reco energy edges with each bin split in ``oversampling`` log-spaced sub-bins."""
    edges = np.asarray(edges, float)
    if not oversampling or int(oversampling) <= 1:
        return edges
    n = int(oversampling)
    log_e = np.log(edges)
    frac = np.arange(n) / n
    inner = (log_e[:-1, None] + frac[None, :] * np.diff(log_e)[:, None]).ravel()
    return np.exp(np.append(inner, log_e[-1]))


_INTEGRATION_CHUNK = 8192  # pixel columns per block: the temporaries stay in cache


def _integrate_log_rates(log_e: np.ndarray, log_rate: np.ndarray) -> np.ndarray:
    """Power-law integral between consecutive energies from log values (axis 0).

    ``log_e`` has ``n`` values (shape ``(n,) + (1,)*k``), ``log_rate`` shape ``(n,) + S``
    (NaN: outside the table, i.e. rate 0). Segment integral ``x1 y1 D expm1(d) / d`` with
    ``D = log(x2/x1)`` and ``d = log(y2/y1) + D`` (``x1 y1 D`` for ``d -> 0``); where an
    end has a zero rate the linear trapezoid is used (as
    `gammapipe.irf.core.integrate_loglog_segments`). Computed on blocks of pixel columns.
    """
    from gammapipe.utils.interpolation import LOG_VALUE_FLOOR

    log_rate = np.asarray(log_rate, dtype=float)
    n = log_rate.shape[0]
    flat = log_rate.reshape(n, -1)
    log_e = np.asarray(log_e, dtype=float).reshape(n, 1)
    e = np.exp(log_e)
    delta, de = log_e[1:] - log_e[:-1], e[1:] - e[:-1]
    threshold = np.log(2 * LOG_VALUE_FLOOR)
    out = np.empty((n - 1, flat.shape[1]))
    for start in range(0, flat.shape[1], _INTEGRATION_CHUNK):
        lr = flat[:, start:start + _INTEGRATION_CHUNK]
        power = out[:, start:start + _INTEGRATION_CHUNK]
        zero = ~(lr > threshold)  # NaN counts as zero
        with np.errstate(all="ignore"):
            rate = np.exp(lr)
            rate[zero] = 0.0
            d = lr[1:] - lr[:-1]
            d += delta
            factor = np.expm1(d)
            factor /= d
        factor[np.abs(d) < 1e-10] = 1.0
        # e1 y1 D expm1(d) / d, left to right as written
        np.multiply(e[:-1], rate[:-1], out=power)
        power *= delta
        power *= factor
        linear = zero[:-1] | zero[1:]
        if linear.any():
            power[linear] = (0.5 * (rate[:-1][linear] + rate[1:][linear])
                             * np.broadcast_to(de, power.shape)[linear])
    return out.reshape((n - 1,) + log_rate.shape[1:])


def background_values(bkg, energy_edges_tev: np.ndarray, fov_lon: np.ndarray,
                      fov_lat: np.ndarray, solid_angle_sr: np.ndarray, time_s: float,
                      oversampling: int | None = None) -> np.ndarray:
    """Predicted background counts per reco-energy bin and pixel.

    The rate of ``bkg`` (`Background3D` on FoV coordinates, or `Background2D` on offset) is
    evaluated at the (sub-)bin edges x pixel positions, integrated over energy with the
    power-law (log-log) rule, summed over the sub-bins of each bin and multiplied by the
    pixel solid angle and ``time_s``. Returns shape ``(n_bins,) + fov_lon.shape``.
    """
    import astropy.units as u

    edges = energy_edges_oversampled(energy_edges_tev, oversampling)
    e_unit = bkg.axes["energy"].unit
    energy = (edges * u.TeV).to_value(e_unit)
    shape = (-1,) + (1,) * np.ndim(fov_lon)
    interp = bkg._get_interpolator()
    names = bkg.axes.names
    if names == ["energy", "offset"]:
        rest = [_deg_to(np.hypot(fov_lon, fov_lat), bkg.axes["offset"].unit)]
    else:
        rest = [_deg_to(fov_lon, bkg.axes["fov_lon"].unit),
                _deg_to(fov_lat, bkg.axes["fov_lat"].unit)]
    log_e = np.log(energy).reshape(shape)
    if interp.method == "linear" and interp.values_scale == "log" \
            and interp.fill_value == 0 and (interp.clip_min or 0) <= 0:
        integral = _integrate_log_rates(log_e, separable_eval(interp, energy, rest,
                                                              scaled=True))
    else:
        if interp.method == "linear":
            rates = separable_eval(interp, energy, rest)
        else:
            rates = interp([energy.reshape(shape)] + [r[np.newaxis] for r in rest])
        integral = integrate_loglog_segments(energy.reshape(shape), rates, axis=0)
    n = int(oversampling) if oversampling and int(oversampling) > 1 else 1
    if n > 1:
        integral = integral.reshape((-1, n) + integral.shape[1:]).sum(axis=1)
    # rate unit x energy unit -> s-1 sr-1
    factor = (1 * bkg.unit * e_unit).to_value(u.Unit("s-1 sr-1"))
    out = np.multiply(integral, factor * time_s)
    out *= solid_angle_sr[np.newaxis]
    return out


def _deg_to(values, unit) -> np.ndarray:
    """Angles in deg converted to ``unit`` (no copy when ``unit`` is deg)."""
    import astropy.units as u

    scale = u.deg.to(unit)
    return np.asarray(values, float) * scale if scale != 1.0 else np.asarray(values, float)


def psf_values(psf, energy_true_tev: np.ndarray, rad_deg: np.ndarray,
               offset_deg: np.ndarray) -> np.ndarray:
    """PSF ``dP/dOmega`` (sr-1) on ``(energy_true, rad) + offset.shape``.

    Tabulated PSFs (`PSF3D`) are evaluated once at their offset nodes and combined per
    pixel (`_OffsetInterp`); parametric PSFs are evaluated from their interpolated
    parameters.
    """
    import astropy.units as u

    offset_deg = np.asarray(offset_deg, float)
    n_img = offset_deg.ndim
    fast = _OffsetInterp(psf, offset_deg) if hasattr(psf, "_get_interpolator") \
        and "rad" in psf.axes.names and not hasattr(psf, "evaluate_parameters") else None
    if fast is not None and fast.ok:
        coords = {
            "energy_true": (np.asarray(energy_true_tev, float) * u.TeV).to_value(
                psf.axes["energy_true"].unit)[:, None],
            "rad": (np.asarray(rad_deg, float) * u.deg).to_value(psf.axes["rad"].unit)[None, :],
        }
        values = fast.combine(fast.node_values(coords))
        return values * (1 * psf.unit).to_value(u.sr**-1)
    e = (np.asarray(energy_true_tev, float) * u.TeV).reshape((-1, 1) + (1,) * n_img)
    r = (np.asarray(rad_deg, float) * u.deg).reshape((1, -1) + (1,) * n_img)
    o = (offset_deg * u.deg)[np.newaxis, np.newaxis]
    values = psf.evaluate(energy_true=e, offset=o, rad=r)
    return np.asarray(values.to_value(u.sr**-1), dtype=float)


def edisp_migra_values(edisp, energy_true_tev: np.ndarray, migra: np.ndarray,
                       migra_edges: np.ndarray, offset_deg: np.ndarray,
                       normalize: bool = True) -> np.ndarray:
    """Migration pdf ``dP/dmigra`` on ``(energy_true, migra) + offset.shape``.

    With ``normalize`` each pdf (per true energy and pixel) is divided by its integral
    ``sum(pdf x migra bin width)`` (pdfs without probability stay 0).
    """
    import astropy.units as u

    n_img = np.ndim(offset_deg)
    energy = (np.asarray(energy_true_tev, float) * u.TeV).to_value(
        edisp.axes["energy_true"].unit)
    migra = np.asarray(migra, float)
    fast = _OffsetInterp(edisp, np.asarray(offset_deg, float))
    if fast.ok:  # evaluate at the offset nodes once, combine per pixel
        values = fast.combine(fast.node_values({"energy_true": energy[:, None],
                                                "migra": migra[None, :]}))
    else:
        coords = {
            "energy_true": energy.reshape((-1, 1) + (1,) * n_img),
            "migra": migra.reshape((1, -1) + (1,) * n_img),
            "offset": (np.asarray(offset_deg, float) * u.deg).to_value(
                edisp.axes["offset"].unit)[np.newaxis, np.newaxis],
        }
        values = edisp._get_interpolator()([coords[name] for name in edisp.axes.names])
    if normalize:
        width = np.diff(np.asarray(migra_edges, float)).reshape((1, -1) + (1,) * n_img)
        norm = np.sum(values * width, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(norm > 0, values / norm, 0.0)
    return values


def _kernel_from_pdf(pdf: np.ndarray, migra_edges: np.ndarray, energy_true: np.ndarray,
                     energy_edges: np.ndarray) -> np.ndarray:
    """Un-normalised reco-bin probabilities from migra pdfs.

    ``pdf`` has shape ``(n_true, n_migra, n_pix)`` (constant within migra bins); returns
    ``(n_true, n_reco, n_pix)``: the piecewise-linear cdf on the migra edges evaluated at
    ``E_reco_edge / E_true``, differenced over consecutive reco edges (clipped at 0).
    """
    n_e, n_m, n_pix = pdf.shape
    widths = np.diff(migra_edges)
    cdf = np.concatenate([np.zeros((n_e, 1, n_pix)),
                          np.cumsum(pdf * widths[None, :, None], axis=1)], axis=1)
    ratio = energy_edges[None, :] / energy_true[:, None]
    x = np.clip(ratio, migra_edges[0], migra_edges[-1])
    idx = np.clip(np.searchsorted(migra_edges, x, side="right") - 1, 0, migra_edges.size - 2)
    w = (x - migra_edges[idx]) / (migra_edges[idx + 1] - migra_edges[idx])
    e_idx = np.arange(n_e)[:, None]
    lo = cdf[e_idx, idx]  # (n_e, n_edges, n_pix)
    hi = cdf[e_idx, idx + 1]
    values = lo * (1.0 - w[..., None]) + hi * w[..., None]
    return np.clip(np.diff(values, axis=1), 0.0, None)


def edisp_kernel_values(edisp, energy_true_tev: np.ndarray, energy_edges_tev: np.ndarray,
                        offset_deg: np.ndarray) -> np.ndarray:
    """Energy-dispersion kernel ``P(E_reco bin | E_true)`` on ``(energy_true, energy) +
    offset.shape``.

    The migration pdf is interpolated at the table's migra bin centres (per true energy
    and pixel), normalised to unit integral, taken constant within each migra bin, and
    its cumulative distribution (piecewise linear between the migra edges) is evaluated
    at ``migra = E_reco_edge / E_true``; the kernel is the difference between consecutive
    reco edges (clipped at 0).

    The kernel is linear in the pdf and the pdf linear in offset between two offset nodes
    of the table, so for pixels between nodes it is computed from the (un-normalised)
    kernels and normalisations at the nodes; only pixels extrapolated beyond the outer
    nodes get their own pdf.
    """
    migra_axis = edisp.axes["migra"]
    migra_edges = np.asarray(migra_axis.edges.to_value(""), float)
    migra_center = np.asarray(migra_axis.center.to_value(""), float)
    offset = np.asarray(offset_deg, float)
    e_true = np.asarray(energy_true_tev, float)
    e_edges = np.asarray(energy_edges_tev, float)
    img_shape = offset.shape
    n_pix = int(np.prod(img_shape)) if img_shape else 1
    n_reco = e_edges.size - 1
    widths = np.diff(migra_edges)

    fast = _OffsetInterp(edisp, offset)
    if not fast.ok:
        pdf = edisp_migra_values(edisp, e_true, migra_center, migra_edges, offset,
                                 normalize=True)
        kernel = _kernel_from_pdf(pdf.reshape(pdf.shape[:2] + (n_pix,)), migra_edges,
                                  e_true, e_edges)
        return kernel.reshape((e_true.size, n_reco) + img_shape)

    import astropy.units as u

    coords = {
        "energy_true": (e_true * u.TeV).to_value(edisp.axes["energy_true"].unit)[:, None],
        "migra": migra_center[None, :],
    }
    nodes = fast.node_values(coords)  # (n_e, n_m, n_nodes), NaN outside energy bounds
    out = np.zeros((e_true.size, n_reco, n_pix))
    idx = fast.idx.ravel()
    w = fast.w.ravel()
    inside = fast.inside.ravel()
    clip_min = fast.interp.clip_min
    node_pdf = np.nan_to_num(nodes, nan=0.0)
    between = inside & (w >= 0.0) & (w <= 1.0)
    if clip_min is not None and np.any(node_pdf < clip_min):
        between[:] = False  # clipping would break linearity: per-pixel pdfs everywhere
    if between.any():
        k_nodes = _kernel_from_pdf(node_pdf, migra_edges, e_true, e_edges)  # (e, r, n)
        n_nodes = np.sum(node_pdf * widths[None, :, None], axis=1)  # (e, n)
        sel = np.nonzero(between)[0]
        i0, ww = idx[sel], w[sel]
        i1 = i0 + (0 if fast.single else 1)
        kern = k_nodes[:, :, i0] * (1 - ww) + k_nodes[:, :, i1] * ww
        norm = n_nodes[:, i0] * (1 - ww) + n_nodes[:, i1] * ww
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, :, sel] = np.where(norm[:, None, :] > 0, kern / norm[:, None, :], 0.0)
    rest = np.nonzero(inside & ~between)[0]
    if rest.size:
        i0, ww = idx[rest], w[rest]
        pdf = nodes[..., i0] * (1 - ww)
        if not fast.single:
            pdf = pdf + nodes[..., i0 + 1] * ww
        if clip_min is not None:
            pdf = np.maximum(pdf, clip_min)
        pdf = np.nan_to_num(pdf, nan=0.0)
        norm = np.sum(pdf * widths[None, :, None], axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            pdf = np.where(norm > 0, pdf / norm, 0.0)
        out[:, :, rest] = _kernel_from_pdf(pdf, migra_edges, e_true, e_edges)
    return out.reshape((e_true.size, n_reco) + img_shape)


def interp_missing_along_axis(values: np.ndarray, coords: np.ndarray, axis: int = 0,
                              log_values: bool = True) -> np.ndarray:
    """Fill missing (non-positive or non-finite) entries between valid ones along ``axis``.

    For every 1D column along ``axis`` the entries that are not valid (``<= 0`` or not
    finite) and lie between two valid entries are replaced by the linear interpolation
    (in ``coords``, and in log of the values when ``log_values``) of their nearest valid
    neighbours. Entries before the first or after the last valid entry are kept.
    Vectorised over all columns (no Python loop over columns).
    """
    data = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    shape = data.shape
    flat = data.reshape(-1, shape[-1])
    x = np.asarray(coords, dtype=float)
    n = x.size
    valid = np.isfinite(flat) & (flat > 0) if log_values else np.isfinite(flat)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(valid, np.log(np.where(valid, flat, 1.0)) if log_values else flat, np.nan)
    idx = np.broadcast_to(np.arange(n), flat.shape)
    prev_idx = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    next_idx = np.minimum.accumulate(np.where(valid, idx, n)[:, ::-1], axis=1)[:, ::-1]
    fill = ~valid & (prev_idx >= 0) & (next_idx < n)
    if not fill.any():
        return np.asarray(values, dtype=float).copy()
    rows = np.nonzero(fill)[0]
    cols = np.nonzero(fill)[1]
    i0 = prev_idx[rows, cols]
    i1 = next_idx[rows, cols]
    w = (x[cols] - x[i0]) / (x[i1] - x[i0])
    interp = y[rows, i0] * (1 - w) + y[rows, i1] * w
    out = flat.copy()
    out[rows, cols] = np.exp(interp) if log_values else interp
    return np.moveaxis(out.reshape(shape), -1, axis)
