"""Reflected-regions background: OFF regions obtained by rotating the ON region about the
pointing position, and the maker turning a `SpectrumDataset` into a `SpectrumDatasetOnOff`.
"""

from __future__ import annotations

import abc
import logging
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord

from gammapipe.utils.errors import GeometryError

from ..core import Maker
from . import _regions_geometry as rg

__all__ = ["RegionsFinder", "ReflectedRegionsFinder", "WobbleRegionsFinder",
           "ReflectedRegionsBackgroundMaker"]

log = logging.getLogger(__name__)


def _region_center(region) -> SkyCoord:
    from gammapipe.maps.region_geom import _region_center as center_of

    return center_of(region)


def _region_frame(region) -> str:
    from gammapipe.maps.region_geom import _region_frame as frame_of

    frame = frame_of(region)
    return frame if frame in ("icrs", "galactic") else "icrs"


def _rotated_sky_regions(region, rotated, wcs) -> list:
    """Sky versions of rotated pixel regions (all converted in one WCS call).

    Circles keep their pixel radius on the reference grid: the sky radius is the pixel
    radius times the local North pixel scale at the new centre, so that converting the
    sky circle back to pixels (regions' convention) gives the rotated pixel circle.
    Ellipses and rectangles keep the ON region's width and height (only their centre
    and orientation change); other shapes are converted by the `regions` package.
    """
    from regions import CircleSkyRegion, EllipseSkyRegion, RectangleSkyRegion

    if not rotated:
        return []
    frame = _frame_of_wcs(wcs)
    if isinstance(region, CircleSkyRegion):
        x = np.array([r.center.x for r in rotated], float)
        y = np.array([r.center.y for r in rotated], float)
        lon, lat = wcs.wcs_pix2world(x, y, 0)
        # North pixel scale over 1 arcsec (the frame of the WCS is the region's frame)
        step = 1.0 / 3600.0
        xn, yn = wcs.wcs_world2pix(lon, lat + step, 0)
        x0, y0 = wcs.wcs_world2pix(lon, lat, 0)
        scale = step / np.hypot(xn - x0, yn - y0)
        radii = np.array([r.radius for r in rotated], float) * scale
        centers = SkyCoord(lon, lat, unit="deg", frame=frame)
        target = region.center.frame.name
        if target != frame:
            centers = centers.transform_to(target)
        return [CircleSkyRegion(center=centers[i], radius=Angle(radii[i], "deg"))
                for i in range(len(rotated))]
    out = []
    for pix in rotated:
        sky = pix.to_sky(wcs)
        if isinstance(region, EllipseSkyRegion | RectangleSkyRegion):
            sky = type(region)(center=sky.center.transform_to(region.center.frame.name),
                               width=region.width, height=region.height, angle=sky.angle)
        out.append(sky)
    return out


def _frame_of_wcs(wcs) -> str:
    from gammapipe.maps._wcs_utils import frame_of_wcs

    return frame_of_wcs(wcs)


class RegionsFinder(abc.ABC):
    """Base class of the OFF-region finders.

    Parameters
    ----------
    binsz : str or `~astropy.coordinates.Angle`
        Pixel size of the reference grid used for the geometric tests.
    """

    def __init__(self, binsz="0.01 deg"):
        self.binsz = Angle(binsz)
        if self.binsz.deg <= 0:
            raise ValueError(f"argument 'binsz' must be positive, got {binsz!r}")

    @abc.abstractmethod
    def run(self, region, center, exclusion_mask=None):
        """Find OFF regions; returns ``(regions, wcs)``."""

    @staticmethod
    def _check_inputs(region, center):
        from regions import PointSkyRegion, SkyRegion

        if not isinstance(region, SkyRegion):
            raise TypeError(f"argument 'region': expected a sky region, got "
                            f"{type(region).__name__}")
        if not isinstance(center, SkyCoord):
            raise TypeError(f"argument 'center': expected a SkyCoord, got "
                            f"{type(center).__name__}")
        center = SkyCoord(center).reshape(()) if center.shape else center
        if isinstance(region, PointSkyRegion):
            raise GeometryError(
                "OFF-region finders need an extended ON region; for point-like IRFs pass "
                "a circle of the maximal RAD_MAX radius")
        return center

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ReflectedRegionsFinder(RegionsFinder):
    """Reflected regions: the ON region rotated about the pointing position.

    Candidate regions are the ON region rotated by increasing angles, starting one ON
    angular size plus ``min_distance_input`` away from the ON region and stopping the same
    distance before it on the other side. A candidate overlapping an excluded pixel is
    skipped (the angle advances by ``angle_increment``); an accepted one advances the
    angle by its angular size plus ``min_distance``, so the regions never overlap.

    Parameters
    ----------
    angle_increment : str or `~astropy.coordinates.Angle`
        Rotation step after a rejected candidate.
    min_distance : str or `~astropy.coordinates.Angle`
        Extra angle between two consecutive reflected regions.
    min_distance_input : str or `~astropy.coordinates.Angle`
        Extra angle between the ON region and the first / last reflected region.
    max_region_number : int
        Maximum number of regions.
    binsz : str or `~astropy.coordinates.Angle`
        Pixel size of the reference grid.
    """

    def __init__(self, angle_increment="0.1 rad", min_distance="0 rad",
                 min_distance_input="0.1 rad", max_region_number=10000, binsz="0.01 deg"):
        super().__init__(binsz=binsz)
        self.angle_increment = Angle(angle_increment)
        if self.angle_increment.rad <= 0:
            raise ValueError("argument 'angle_increment' must be positive")
        self.min_distance = Angle(min_distance)
        self.min_distance_input = Angle(min_distance_input)
        self.max_region_number = int(max_region_number)

    def run(self, region, center, exclusion_mask=None):
        """Find the reflected regions (see `_find`); returns ``(regions, wcs)``.

        Parameters
        ----------
        region : `~regions.SkyRegion`
            ON region (circle, ellipse, rectangle, polygon, ...).
        center : `~astropy.coordinates.SkyCoord`
            Rotation centre (the pointing position).
        exclusion_mask : `~gammapipe.maps.WcsNDMap`, optional
            Boolean mask, True where OFF regions are allowed.

        Returns
        -------
        regions : list of `~regions.SkyRegion`
            Reflected regions (empty if none fits).
        wcs : `~astropy.wcs.WCS`
            WCS of the reference grid.
        """
        regions, _, wcs = self._find(region, center, exclusion_mask)
        return regions, wcs

    def _find(self, region, center, exclusion_mask=None):
        """``(sky regions, pixel regions on the reference grid, wcs)``."""
        center = self._check_inputs(region, center)
        frame = _region_frame(region)
        region_center = _region_center(region)
        ref = rg.reference_geom(region_center, center, self.binsz.deg, frame)
        wcs = ref.wcs
        shape = tuple(ref.data_shape_image)
        region_pix = rg.pixel_region(region, wcs)
        cx, cy = _center_pix(center, frame, wcs)
        x_on, y_on = rg.region_pixels(region_pix, shape)
        if len(x_on) == 0:
            raise GeometryError(
                f"ReflectedRegionsFinder: the ON region contains no pixel of the "
                f"{self.binsz.deg} deg reference grid")
        if region_pix.contains(_pixcoord(cx, cy)):
            warnings.warn("ReflectedRegionsFinder: the rotation centre lies inside the ON "
                          "region; no reflected region can be found", stacklevel=3)
            return [], [], wcs
        min_ang = rg.angular_extent(x_on, y_on, cx, cy)
        lookup = rg.ExclusionLookup(exclusion_mask, ref)
        dist = np.hypot(x_on - cx, y_on - cy)
        lookup.prefetch_annulus(cx, cy, dist.min() - 2.0, dist.max() + 2.0)
        CirclePixelRegion = _circle_pixel_region_class()  # noqa: N806
        is_circle = isinstance(region_pix, CirclePixelRegion)
        regions = []
        start = min_ang + self.min_distance_input.rad
        stop = 2 * np.pi - min_ang - self.min_distance_input.rad
        angle = start
        while angle < stop:
            if is_circle:
                # circles: rotate the centre only (no region object per candidate)
                xr, yr = rg.rotate_point(region_pix.center.x, region_pix.center.y, cx, cy,
                                         angle)
                rotated = None
            else:
                rotated = region_pix.rotate(_pixcoord(cx, cy), Angle(angle, "rad"))
            ok = True
            if not lookup.is_trivial:
                if is_circle:
                    x, y = rg.circle_pixels(xr, yr, region_pix.radius, shape)
                else:
                    x, y = rg.region_pixels(rotated, shape)
                ok = bool(np.all(lookup.allowed(x, y)))
            if ok:
                if rotated is None:
                    rotated = CirclePixelRegion(_pixcoord(xr, yr), region_pix.radius)
                regions.append(rotated)
                if len(regions) >= self.max_region_number:
                    break
                angle += min_ang + self.min_distance.rad
            else:
                angle += self.angle_increment.rad
        return _rotated_sky_regions(region, regions, wcs), regions, wcs


def _circle_pixel_region_class():
    from regions import CirclePixelRegion

    return CirclePixelRegion


def _center_pix(center, frame, wcs) -> tuple[float, float]:
    sph = center.transform_to(frame).spherical
    x, y = wcs.wcs_world2pix([float(sph.lon.deg)], [float(sph.lat.deg)], 0)
    return float(x[0]), float(y[0])


def _pixcoord(x, y):
    from regions import PixCoord

    return PixCoord(x, y)


class WobbleRegionsFinder(RegionsFinder):
    """OFF regions at fixed, evenly spaced positions around the pointing (wobble mode).

    The ON region is rotated about the pointing by ``k * 360 deg / (n_off_regions + 1)``
    for ``k = 1 .. n_off_regions``; regions overlapping the exclusion mask are dropped.

    Parameters
    ----------
    n_off_regions : int
        Number of OFF regions.
    binsz : str or `~astropy.coordinates.Angle`
        Pixel size of the reference grid.
    """

    def __init__(self, n_off_regions, binsz="0.01 deg"):
        super().__init__(binsz=binsz)
        self.n_off_regions = int(n_off_regions)
        if self.n_off_regions < 1:
            raise ValueError("argument 'n_off_regions' must be at least 1")

    def run(self, region, center, exclusion_mask=None):
        """Find the OFF regions; returns ``(regions, wcs)`` (see `ReflectedRegionsFinder`)."""
        regions, _, wcs = self._find(region, center, exclusion_mask)
        return regions, wcs

    def _find(self, region, center, exclusion_mask=None):
        """``(sky regions, pixel regions on the reference grid, wcs)``."""
        center = self._check_inputs(region, center)
        frame = _region_frame(region)
        ref = rg.reference_geom(_region_center(region), center, self.binsz.deg, frame)
        wcs = ref.wcs
        shape = tuple(ref.data_shape_image)
        region_pix = rg.pixel_region(region, wcs)
        cx, cy = _center_pix(center, frame, wcs)
        lookup = rg.ExclusionLookup(exclusion_mask, ref)
        regions = []
        step = 2 * np.pi / (self.n_off_regions + 1)
        for k in range(1, self.n_off_regions + 1):
            rotated = region_pix.rotate(_pixcoord(cx, cy), Angle(k * step, "rad"))
            if not lookup.is_trivial:
                x, y = rg.region_pixels(rotated, shape)
                if not np.all(lookup.allowed(x, y)):
                    continue
            regions.append(rotated)
        return _rotated_sky_regions(region, regions, wcs), regions, wcs


class ReflectedRegionsBackgroundMaker(Maker):
    """Background from OFF counts in reflected regions: `SpectrumDatasetOnOff`.

    The OFF counts are the events inside the OFF regions (union); the ON acceptance is 1
    per bin and the OFF acceptance the number of OFF regions, so that
    ``alpha = 1 / n_regions``. With point-like IRFs (``RAD_MAX``) the ON region must be a
    point (or a circle, whose centre is used) and the ON/OFF sizes follow the
    energy-dependent RAD_MAX: the regions are searched with the largest RAD_MAX of the
    analysis energy range and events are counted within RAD_MAX(E) of each OFF centre.

    Parameters
    ----------
    region_finder : `RegionsFinder`, optional
        Default `ReflectedRegionsFinder(**kwargs)`.
    exclusion_mask : `~gammapipe.maps.WcsNDMap`, optional
        Boolean mask, True where OFF regions are allowed.
    **kwargs
        Arguments of the default `ReflectedRegionsFinder`.
    """

    tag = "ReflectedRegionsBackgroundMaker"

    def __init__(self, region_finder=None, exclusion_mask=None, **kwargs):
        if exclusion_mask is not None and exclusion_mask.data.dtype != bool:
            raise TypeError("argument 'exclusion_mask': expected a boolean map, got dtype "
                            f"{exclusion_mask.data.dtype}")
        self.exclusion_mask = exclusion_mask
        if region_finder is None:
            region_finder = ReflectedRegionsFinder(**kwargs)
        elif kwargs:
            raise ValueError("keyword arguments are only accepted without a region_finder")
        self.region_finder = region_finder

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _rad_max(observation):
        rad_max = getattr(observation, "rad_max", None)
        return rad_max

    @staticmethod
    def _pointing(observation):
        return observation.get_pointing_icrs(observation.tmid)

    def _finder_region(self, geom, observation):
        """ON region given to the finder (for RAD_MAX: circle of the largest radius)."""
        from regions import CircleSkyRegion

        region = geom.region
        rad_max = self._rad_max(observation)
        if rad_max is None:
            return region
        center = _region_center(region)
        radius = _rad_max_values(rad_max, geom.axes["energy"],
                                 center.separation(self._pointing(observation)))
        return CircleSkyRegion(center=center, radius=u.Quantity(np.max(radius), "deg"))

    def make_counts_off(self, dataset, observation):
        """OFF counts and OFF acceptance of ``dataset`` for ``observation``.

        Returns
        -------
        counts_off, acceptance_off : `~gammapipe.maps.RegionNDMap` or (None, None)
            None (with a warning naming the observation) when no OFF region is found.
        """
        from gammapipe.maps import RegionGeom, RegionNDMap

        geom = dataset.counts.geom
        if getattr(geom, "region", None) is None:
            raise GeometryError(
                f"ReflectedRegionsBackgroundMaker: dataset {dataset.name!r} needs a region "
                "geometry (SpectrumDataset)")
        energy_axis = geom.axes["energy"]
        region = self._finder_region(geom, observation)
        finder = self.region_finder
        center = self._pointing(observation)
        if hasattr(finder, "_find"):
            regions, pixel_regions, wcs = finder._find(region, center, self.exclusion_mask)
        else:
            regions, wcs = finder.run(region=region, center=center,
                                      exclusion_mask=self.exclusion_mask)
            pixel_regions = None
        if not regions:
            return None, None, []
        geom_off = RegionGeom.from_regions(regions, axes=[energy_axis], wcs=wcs)
        rad_max = self._rad_max(observation)
        events = observation.events
        if rad_max is None:
            if pixel_regions is None:
                pixel_regions = [rg.pixel_region(r, wcs) for r in regions]
            data = _counts_in_regions(events, pixel_regions, wcs, energy_axis)
            counts_off = RegionNDMap.from_geom(geom_off, data=data.reshape(geom_off.data_shape),
                                               dtype="float32")
        else:
            data = _counts_in_rad_max(events, regions, rad_max, energy_axis,
                                      self._pointing(observation))
            counts_off = RegionNDMap.from_geom(geom_off, data=data.reshape(geom_off.data_shape),
                                               dtype="float32")
        acceptance_off = RegionNDMap.from_geom(
            geom_off, data=np.full(geom_off.data_shape, float(len(regions))), dtype="float64")
        return counts_off, acceptance_off, regions

    def run(self, dataset, observation):
        """`SpectrumDatasetOnOff` with OFF counts from reflected regions.

        If no OFF region is found, a warning names the observation and the returned
        dataset has no OFF counts, zero OFF acceptance and an all-False safe mask
        (unusable, but the analysis goes on).
        """
        from gammapipe.datasets.spectrum import SpectrumDatasetOnOff
        from gammapipe.maps import RegionNDMap

        counts_off, acceptance_off, regions = self.make_counts_off(dataset, observation)
        acceptance = RegionNDMap.from_geom(dataset.counts.geom,
                                           data=np.ones(dataset.counts.geom.data_shape),
                                           dtype="float64")
        if counts_off is None:
            warnings.warn(
                f"ReflectedRegionsBackgroundMaker: no OFF region found for observation "
                f"{observation.obs_id} (dataset {dataset.name!r}); the dataset is marked "
                "unusable (empty safe mask)", stacklevel=2)
            geom = dataset.counts.geom
            counts_off = RegionNDMap.from_geom(geom, dtype="float32")
            acceptance_off = RegionNDMap.from_geom(geom, dtype="float64")
            on_off = SpectrumDatasetOnOff.from_spectrum_dataset(
                dataset=dataset, acceptance=acceptance, acceptance_off=acceptance_off,
                counts_off=counts_off)
            on_off.mask_safe = RegionNDMap.from_geom(geom, dtype=bool)
            on_off.meta["usable"] = False
            return on_off
        on_off = SpectrumDatasetOnOff.from_spectrum_dataset(
            dataset=dataset, acceptance=acceptance, acceptance_off=acceptance_off,
            counts_off=counts_off)
        on_off.meta["n_off_regions"] = len(regions)
        return on_off


def _counts_in_regions(events, pixel_regions, wcs, energy_axis) -> np.ndarray:
    """Events inside the union of the pixel regions (on ``wcs``) per reco bin.

    The containment test is done in pixel coordinates of the finder's ``wcs`` (the
    regions' convention: sky circles converted with the local North pixel scale), which
    is what the reference tool does; it differs from an exact spherical test by far less
    than an arcsecond at the region edges.
    """
    from regions import PixCoord

    from gammapipe.maps._wcs_utils import frame_of_wcs

    frame = frame_of_wcs(wcs)
    if frame == "icrs":
        lon, lat = events._radec_deg()
    else:
        sky = events.radec.transform_to(frame)
        lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
    energy = events.energy.to_value(energy_axis.unit)
    idx = np.asarray(energy_axis.coord_to_idx(energy * energy_axis.unit, clip=False))
    valid = (idx >= 0) & (idx < energy_axis.nbin)
    # cheap pre-selection: events within the largest region extent of the region centres
    with np.errstate(invalid="ignore"):
        x, y = wcs.wcs_world2pix(np.asarray(lon, float), np.asarray(lat, float), 0)
    inside = np.zeros(len(x), dtype=bool)
    for pix in pixel_regions:
        try:
            bbox = pix.bounding_box
            sel = valid & ~inside & (x >= bbox.ixmin - 1) & (x <= bbox.ixmax) \
                & (y >= bbox.iymin - 1) & (y <= bbox.iymax)
        except (AttributeError, NotImplementedError, ValueError, TypeError):
            sel = valid & ~inside
        cand = np.flatnonzero(sel)
        if cand.size:
            ok = np.asarray(pix.contains(PixCoord(x[cand], y[cand])), dtype=bool)
            inside[cand[ok]] = True
    return np.bincount(idx[inside], minlength=energy_axis.nbin)[:energy_axis.nbin].astype(
        float)


def _rad_max_values(rad_max, energy_axis, offset) -> np.ndarray:
    """RAD_MAX (deg) at the reco bin centres of ``energy_axis`` for ``offset``."""
    values = rad_max.evaluate(method="nearest", energy=energy_axis.center,
                              offset=u.Quantity(offset, "deg"))
    return np.broadcast_to(u.Quantity(values, "deg").value, (energy_axis.nbin,))


def _counts_in_rad_max(events, regions, rad_max, energy_axis, pointing) -> np.ndarray:
    """Events within RAD_MAX(E, offset) of the centres of ``regions``, per reco bin."""
    from gammapipe.utils.coordinates import angular_separation_deg

    ra, dec = events._radec_deg()
    energy = events.energy.to_value(energy_axis.unit)
    idx = energy_axis.coord_to_idx(energy * energy_axis.unit, clip=False)
    valid = (idx >= 0) & (idx < energy_axis.nbin)
    counts = np.zeros(energy_axis.nbin)
    taken = np.zeros(len(ra), dtype=bool)
    for region in regions:
        c = region.center.icrs
        offset = c.separation(pointing).deg
        radius = u.Quantity(rad_max.evaluate(method="nearest", energy=events.energy,
                                             offset=offset * u.deg), "deg").value
        sep = angular_separation_deg(c.ra.deg, c.dec.deg, ra, dec)
        inside = valid & (sep <= radius) & ~taken
        taken |= inside
        counts += np.bincount(idx[inside], minlength=energy_axis.nbin)[:energy_axis.nbin]
    return counts
