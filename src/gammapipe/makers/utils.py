"""Public helpers of the data reduction: IRFs evaluated on map geometries.

Each function takes an IRF, a pointing and a geometry and returns a map (or an IRF map) in
the reference tool's conventions; the numerical work is done by the vectorised kernels of
`gammapipe.makers._reduction`.
"""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError

from . import _reduction as red

__all__ = [
    "make_map_exposure_true_energy",
    "make_map_background_irf",
    "make_psf_map",
    "make_edisp_map",
    "make_edisp_kernel_map",
    "make_counts_map",
    "pointing_radec_deg",
]

log = logging.getLogger(__name__)


def pointing_radec_deg(pointing, obstime=None, location=None) -> tuple[float, float]:
    """ICRS (ra, dec) in deg of a pointing given as SkyCoord or `FixedPointingInfo`."""
    if hasattr(pointing, "get_icrs"):
        sky = pointing.get_icrs(obstime, location=location) if location is not None \
            else pointing.get_icrs(obstime)
    else:
        sky = pointing
    sky = sky.icrs
    return float(np.ravel(sky.ra.deg)[0]), float(np.ravel(sky.dec.deg)[0])


def _spatial_offsets(geom, ra_pnt: float, dec_pnt: float, use_region_center: bool = True):
    """Offsets (deg) of the pixel centres, and averaging weights.

    For a region geometry with ``use_region_center=False`` the offsets are those of the
    fine WCS pixels overlapping the region (1D) with their covered fractions as weights;
    otherwise the weights are None and the offsets have the image shape.
    """
    if getattr(geom, "region", None) is not None and not use_region_center:
        coords, weights = geom.get_wcs_coord_and_weights()
        frame = getattr(coords, "frame", None) or geom.frame
        lon, lat = np.asarray(coords.lon, float), np.asarray(coords.lat, float)
        if frame != "icrs":
            from astropy.coordinates import SkyCoord

            sky = SkyCoord(lon, lat, unit="deg", frame=frame).icrs
            lon, lat = sky.ra.deg, sky.dec.deg
        return red.pixel_offsets(lon, lat, ra_pnt, dec_pnt), np.asarray(weights, float)
    return red.geom_offsets(geom, ra_pnt, dec_pnt), None


def _region_average(values: np.ndarray, weights, geom) -> np.ndarray:
    """Weighted mean over the fine pixels (last axis) shaped as the region's image."""
    if weights is None:
        return values
    mean = np.sum(values * weights, axis=-1) / np.sum(weights)
    return mean.reshape(mean.shape + tuple(geom.data_shape_image))


def _geom_energy_true(geom):
    if "energy_true" not in geom.axes.names:
        raise GeometryError(
            f"geometry needs an 'energy_true' axis, has {list(geom.axes.names)}"
        )
    return geom.axes["energy_true"]


def make_map_exposure_true_energy(pointing, livetime, aeff, geom, use_region_center=True):
    """Exposure map ``A_eff(E_true, offset) x livetime`` (unit m2 s).

    Parameters
    ----------
    pointing : `~astropy.coordinates.SkyCoord` or `FixedPointingInfo`
        Pointing position.
    livetime : `~astropy.units.Quantity`
        Live time.
    aeff : `~gammapipe.irf.EffectiveAreaTable2D`
        Effective area.
    geom : `~gammapipe.maps.WcsGeom`
        Geometry with an ``energy_true`` axis (other non-spatial axes of length 1 are
        allowed, e.g. the squashed rad axis of a PSF exposure map).
    use_region_center : bool
        For region geometries: evaluate at the region centre.
    """
    from gammapipe.maps import Map

    ra, dec = pointing_radec_deg(pointing)
    axis = _geom_energy_true(geom)
    offset, weights = _spatial_offsets(geom, ra, dec, use_region_center)
    livetime_s = u.Quantity(livetime, "s").to_value("s")
    values = red.exposure_values(aeff, axis.center.to_value("TeV"), offset, livetime_s)
    data = _region_average(values, weights, geom).reshape(geom.data_shape)
    return Map.from_geom(geom, data=data, unit="m2 s", meta={"livetime": u.Quantity(livetime)})


def _altaz_basis(pointing, obstime, location):
    """Pointing and AltAz tangent unit vectors at ``obstime`` (one astropy call)."""
    from astropy.coordinates import AltAz, SkyCoord

    altaz = pointing.get_altaz(obstime, location=location) if hasattr(pointing, "get_altaz") \
        else pointing.transform_to(AltAz(obstime=obstime, location=location))
    frame = AltAz(obstime=obstime, location=location)

    def to_icrs(az, alt):
        sky = SkyCoord(az=az * u.deg, alt=alt * u.deg, frame=frame).icrs
        return sky.ra.deg, sky.dec.deg

    return red.altaz_tangent_basis(to_icrs, float(np.ravel(altaz.az.deg)[0]),
                                   float(np.ravel(altaz.alt.deg)[0]))


def make_map_background_irf(pointing, ontime, bkg, geom, oversampling=None,
                            use_region_center=True, obstime=None, location=None,
                            time_start=None, time_stop=None,
                            fov_rotation_error_limit="0.5 deg", fov_rotation_step=None):
    """Predicted background counts map from a background IRF.

    The rate is evaluated at FoV coordinates of the pixel centres (following the IRF's
    ``fov_alignment``), integrated over each reco-energy bin (power law between the bin
    edges, or between ``oversampling`` log-spaced sub-edges) and multiplied by the pixel
    solid angle and ``ontime``.

    Parameters
    ----------
    pointing : `FixedPointingInfo` or `~astropy.coordinates.SkyCoord`
        Pointing.
    ontime : `~astropy.units.Quantity`
        Observation time the rate is multiplied with.
    bkg : `~gammapipe.irf.Background3D` or `~gammapipe.irf.Background2D`
        Background rate.
    geom : `~gammapipe.maps.WcsGeom`
        Geometry with a reco ``energy`` axis.
    oversampling : int, optional
        Number of log-spaced sub-bins per energy bin for the integration.
    obstime : `~astropy.time.Time`, optional
        Time of the pointing (required for ALTAZ-aligned backgrounds, default the middle
        of ``time_start`` / ``time_stop``).
    location : `~astropy.coordinates.EarthLocation`, optional
        Observatory location (ALTAZ alignment).
    time_start, time_stop : `~astropy.time.Time`, optional
        Observation span. For an ALTAZ-aligned background, when the field of view rotates
        by more than ``fov_rotation_error_limit`` on the sky between them, the span is
        split into equal sub-intervals whose backgrounds are averaged.
        With only ``time_start`` the span is ``time_start + ontime``.
    fov_rotation_error_limit : `~astropy.units.Quantity` or str
        Maximal FoV rotation within one evaluation (ALTAZ only).
    fov_rotation_step : `~astropy.units.Quantity` or str, optional
        Alias of ``fov_rotation_error_limit`` (the reference tool's name).
    """
    from gammapipe.maps import Map

    if "energy" not in geom.axes.names:
        raise GeometryError(f"background geometry needs an 'energy' axis, has "
                            f"{list(geom.axes.names)}")
    edges = geom.axes["energy"].edges.to_value("TeV")
    lon, lat = red.pixel_lonlat(geom, "icrs")
    solid_angle = red.pixel_solid_angle(geom)
    ontime_s = u.Quantity(ontime, "s").to_value("s")
    if fov_rotation_step is not None:
        fov_rotation_error_limit = fov_rotation_step
    if time_start is not None and time_stop is None:
        time_stop = time_start + u.Quantity(ontime, "s")
    alignment = getattr(bkg, "fov_alignment", "RADEC")
    alignment = str(getattr(alignment, "value", alignment)).upper()
    is_2d = list(bkg.axes.names) == ["energy", "offset"]
    if alignment == "ALTAZ" and not is_2d:
        if location is None and hasattr(pointing, "location"):
            location = pointing.location
        if obstime is None and time_start is not None and time_stop is not None:
            obstime = time_start + 0.5 * (time_stop - time_start)
        if obstime is None or location is None:
            raise ValueError("make_map_background_irf: an ALTAZ-aligned background needs "
                             "obstime (or time_start/time_stop) and the observatory location")
        times = [obstime]
        if time_start is not None and time_stop is not None:
            limit = u.Quantity(fov_rotation_error_limit, "deg").to_value("rad")
            b0 = _altaz_basis(pointing, time_start, location)
            b1 = _altaz_basis(pointing, time_stop, location)
            rotation = np.arccos(np.clip(np.dot(b0[2], b1[2]), -1.0, 1.0))
            n_steps = int(np.ceil(rotation / limit)) if limit > 0 else 1
            if n_steps > 1:
                frac = (np.arange(n_steps) + 0.5) / n_steps
                times = [time_start + f * (time_stop - time_start) for f in frac]
        total = None
        for time in times:
            ra, dec = pointing_radec_deg(pointing, time)
            basis = _altaz_basis(pointing, time, location)
            fov_lon, fov_lat = red.fov_coordinates(lon, lat, ra, dec, "ALTAZ", basis)
            values = red.background_values(bkg, edges, fov_lon, fov_lat, solid_angle, ontime_s,
                                           oversampling)
            total = values if total is None else total + values
        data = total / len(times)
    else:
        ra, dec = pointing_radec_deg(pointing, obstime)
        fov_lon, fov_lat = red.fov_coordinates(lon, lat, ra, dec,
                                               "RADEC" if is_2d else alignment)
        data = red.background_values(bkg, edges, fov_lon, fov_lat, solid_angle, ontime_s,
                                     oversampling)
    return Map.from_geom(geom, data=data.reshape(geom.data_shape), unit="")


def make_psf_map(psf, pointing, geom, exposure_map=None):
    """`~gammapipe.datasets.PSFMap` of a PSF IRF on a coarse geometry.

    The PSF is evaluated at the rad bin centres of ``geom`` (axes ``rad`` and
    ``energy_true``) for the offset of each pixel and renormalised per true energy and
    pixel to unit integral ``sum(2 pi r dr dP/dOmega) = 1`` over the rad axis (r in rad,
    so the map stays in sr-1).
    """
    from gammapipe.irf.psf_map import PSFMap
    from gammapipe.maps import Map

    names = list(geom.axes.names)
    if "rad" not in names or "energy_true" not in names:
        raise GeometryError(f"PSF map geometry needs 'rad' and 'energy_true' axes, has {names}")
    ra, dec = pointing_radec_deg(pointing)
    offset, _ = _spatial_offsets(geom, ra, dec)
    rad_axis = geom.axes["rad"]
    e_axis = geom.axes["energy_true"]
    values = red.psf_values(psf, e_axis.center.to_value("TeV"), rad_axis.center.to_value("deg"),
                            offset)
    r = rad_axis.center.to_value("rad")
    dr = rad_axis.bin_width.to_value("rad")
    norm = np.sum(values * (2 * np.pi * r * dr)[None, :, None, None], axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(norm > 0, values / norm, 0.0)
    if names.index("rad") > names.index("energy_true"):
        values = np.swapaxes(values, 0, 1)
    psf_map = Map.from_geom(geom, data=values, unit="sr-1")
    return PSFMap(psf_map=psf_map, exposure_map=exposure_map)


def make_edisp_map(edisp, pointing, geom, exposure_map=None, use_region_center=True):
    """`~gammapipe.datasets.EDispMap`: migration pdf per true energy on a coarse geometry.

    The pdf is evaluated at the migra bin centres of ``geom`` and normalised per true
    energy and pixel to unit integral over the migra axis.
    """
    from gammapipe.irf.edisp_map import EDispMap
    from gammapipe.maps import Map

    names = list(geom.axes.names)
    if "migra" not in names or "energy_true" not in names:
        raise GeometryError(f"EDisp map geometry needs 'migra' and 'energy_true' axes, "
                            f"has {names}")
    ra, dec = pointing_radec_deg(pointing)
    offset, weights = _spatial_offsets(geom, ra, dec, use_region_center)
    migra = geom.axes["migra"]
    values = red.edisp_migra_values(
        edisp, geom.axes["energy_true"].center.to_value("TeV"), migra.center.to_value(""),
        migra.edges.to_value(""), offset,
    )
    values = _region_average(values, weights, geom)
    if names.index("migra") > names.index("energy_true"):
        values = np.swapaxes(values, 0, 1)
    edisp_map = Map.from_geom(geom, data=values, unit="")
    return EDispMap(edisp_map=edisp_map, exposure_map=exposure_map)


def make_edisp_kernel_map(edisp, pointing, geom, exposure_map=None, use_region_center=True):
    """`~gammapipe.datasets.EDispKernelMap`: reco-energy kernel per true energy and pixel.

    See `gammapipe.makers._reduction.edisp_kernel_values` for the integration of the
    migration pdf over the reco bins of ``geom``'s ``energy`` axis.
    """
    from gammapipe.irf.edisp_map import EDispKernelMap
    from gammapipe.maps import Map

    names = list(geom.axes.names)
    if "energy" not in names or "energy_true" not in names:
        raise GeometryError(f"EDisp kernel map geometry needs 'energy' and 'energy_true' "
                            f"axes, has {names}")
    ra, dec = pointing_radec_deg(pointing)
    offset, weights = _spatial_offsets(geom, ra, dec, use_region_center)
    values = red.edisp_kernel_values(
        edisp, geom.axes["energy_true"].center.to_value("TeV"),
        geom.axes["energy"].edges.to_value("TeV"), offset,
    )
    values = _region_average(values, weights, geom)
    if names.index("energy") > names.index("energy_true"):
        values = np.swapaxes(values, 0, 1)
    kernel_map = Map.from_geom(geom, data=values, unit="")
    return EDispKernelMap(edisp_kernel_map=kernel_map, exposure_map=exposure_map)


def make_counts_map(events, geom):
    """Counts map: events binned in sky position and reco energy (one histogram call)."""
    from gammapipe.maps import Map

    counts = Map.from_geom(geom, dtype="float32")
    counts.fill_events(events)
    return counts
