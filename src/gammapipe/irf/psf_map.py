"""`PSFMap` (PSF profile vs true energy and rad on a sky grid) and `PSFKernel`."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammapipe.utils.coordinates import angular_separation_deg, offset_by_deg
from gammapipe.utils.errors import GeometryError

from .irf_map import IRFMap

__all__ = ["PSFMap", "PSFKernel", "psf_containment_from_profile"]


def psf_containment_from_profile(profile: np.ndarray, rad_edges_rad: np.ndarray,
                                 rad_rad: np.ndarray) -> np.ndarray:
    """Containment ``P(< rad)`` from a PSF profile tabulated at rad bin centres.

    The profile ``dP/dOmega`` (sr-1; rad axis last, shape ``S + (n,)``) is integrated
    bin by bin, ``2 pi r_c dP/dOmega(r_c) dr``, giving the cumulative probability at the
    upper bin edges (0 at the first edge); it is interpolated linearly in rad at
    ``rad_rad`` (shape ``S + (m,)`` or ``(m,)``). Radii in radians.
    """
    centers = 0.5 * (rad_edges_rad[1:] + rad_edges_rad[:-1])
    widths = np.diff(rad_edges_rad)
    cum = np.cumsum(2 * np.pi * centers * widths * profile, axis=-1)
    cum = np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum], axis=-1)
    rad = np.asarray(rad_rad, dtype=float)
    idx = np.clip(np.searchsorted(rad_edges_rad, rad, side="right") - 1, 0,
                  rad_edges_rad.size - 2)
    lo, hi = rad_edges_rad[idx], rad_edges_rad[idx + 1]
    w = (rad - lo) / (hi - lo)
    shape = np.broadcast_shapes(cum.shape[:-1] + (1,), rad.shape)
    cum_b = np.broadcast_to(cum, shape[:-1] + cum.shape[-1:])
    idx_b = np.broadcast_to(idx, shape)
    w_b = np.broadcast_to(w, shape)
    c0 = np.take_along_axis(cum_b, idx_b, axis=-1)
    c1 = np.take_along_axis(cum_b, idx_b + 1, axis=-1)
    out = c0 + w_b * (c1 - c0)
    return np.where(np.broadcast_to(rad, shape) >= rad_edges_rad[-1], cum_b[..., -1:], out)


class PSFMap(IRFMap):
    """PSF ``dP/dOmega`` on a sky grid: axes ``rad`` and ``energy_true``, unit sr-1.

    Parameters
    ----------
    psf_map : `~gammapipe.maps.WcsNDMap`
        PSF values, data shape ``(energy_true, rad, lat, lon)``.
    exposure_map : `~gammapipe.maps.WcsNDMap`, optional
        Exposure, data shape ``(energy_true, 1, lat, lon)``.
    """

    tag = "psf_map"
    _hdu_name = "PSF"
    _irf_axis = "rad"
    _irf_unit = "sr-1"
    required_axes = ("rad", "energy_true")

    def __init__(self, psf_map, exposure_map=None):
        super().__init__(psf_map, exposure_map)

    @property
    def psf_map(self):
        """PSF map (sr-1)."""
        return self._irf_map

    @psf_map.setter
    def psf_map(self, value):
        self._irf_map = value

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_gauss(cls, energy_axis_true, rad_axis=None, sigma=0.1 * u.deg, geom=None):
        """Gaussian PSF ``exp(-r^2 / 2 sigma^2) / (2 pi sigma^2)`` (sigma per true energy
        or scalar), on ``geom`` (default a whole-sky region geometry); exposure 1 m2 s.
        """
        from gammapipe.maps import Map, MapAxis

        if rad_axis is None:
            rad_axis = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")
        sigma = u.Quantity(sigma, "deg")
        sig = np.broadcast_to(sigma.to_value("rad"), (energy_axis_true.nbin,))
        if np.any(sig <= 0):
            raise ValueError("PSFMap.from_gauss: sigma must be positive")
        if geom is None:
            from gammapipe.maps import RegionGeom

            geom = RegionGeom.create(region=None)
        geom = geom.to_image().to_cube([rad_axis, energy_axis_true])
        r = rad_axis.center.to_value("rad")
        values = np.exp(-0.5 * (r[None, :] / sig[:, None]) ** 2) / (2 * np.pi * sig[:, None] ** 2)
        data = np.broadcast_to(values[:, :, None, None], geom.data_shape).astype("float32")
        psf_map = Map.from_geom(geom, data=data.copy(), unit="sr-1")
        exposure_map = Map.from_geom(geom.squash("rad"), unit="m2 s")
        exposure_map.data[...] = 1.0
        return cls(psf_map, exposure_map)

    # ------------------------------------------------------------------ evaluation
    def _profiles(self, position, energy_true) -> np.ndarray:
        """PSF profiles (rad axis last) at ``position`` (nearest valid pixel, no spatial
        interpolation) and ``energy_true`` (interpolated in log energy)."""
        data = self._spatial_profiles(position)  # (n_e, n_rad)
        e_axis = self.geom.axes["energy_true"]
        energy = np.atleast_1d(u.Quantity(energy_true, e_axis.unit).value)
        pix = e_axis.coord_to_pix(u.Quantity(energy, e_axis.unit))
        if e_axis.nbin == 1:
            return np.broadcast_to(data[0], energy.shape + data.shape[1:]).copy()
        i0 = np.clip(np.floor(pix).astype(int), 0, e_axis.nbin - 2)
        w = (pix - i0)[..., None]
        return data[i0] * (1 - w) + data[i0 + 1] * w

    def _spatial_profiles(self, position) -> np.ndarray:
        """PSF table (energy_true, rad) at ``position``: bilinear interpolation between
        the four surrounding pixels, or the nearest pixel with exposure if the pixel of
        ``position`` has none."""
        iy, ix = self._nearest_valid_pixel(position)
        if not self._is_wcs:
            return np.asarray(self.psf_map.data[..., iy, ix], dtype=float)
        lon, lat = self._position_lonlat(position)
        x, y = self.geom.to_image().coord_to_pix({"lon": np.atleast_1d(lon),
                                                  "lat": np.atleast_1d(lat)})
        x, y = float(x[0]), float(y[0])
        data = self.psf_map.data
        ny, nx = data.shape[-2:]
        if int(np.round(x)) != ix or int(np.round(y)) != iy:
            return np.asarray(data[..., iy, ix], dtype=float)
        x = min(max(x, 0.0), nx - 1.0)
        y = min(max(y, 0.0), ny - 1.0)
        x0, y0 = min(int(np.floor(x)), max(nx - 2, 0)), min(int(np.floor(y)), max(ny - 2, 0))
        x1, y1 = min(x0 + 1, nx - 1), min(y0 + 1, ny - 1)
        wx, wy = x - x0, y - y0
        d = np.asarray(data, dtype=float)
        return ((1 - wy) * ((1 - wx) * d[..., y0, x0] + wx * d[..., y0, x1])
                + wy * ((1 - wx) * d[..., y1, x0] + wx * d[..., y1, x1]))

    def containment(self, rad, energy_true, position=None) -> u.Quantity:
        """Fraction of the PSF within ``rad`` at ``energy_true`` (arrays broadcast).

        The profile at the nearest valid pixel of ``position`` (default: map centre) is
        interpolated in log true energy and integrated over the rad bins (cumulative sum
        at the bin edges, linear in between).
        """
        rad = u.Quantity(rad, "deg")
        energy_true = u.Quantity(energy_true)
        shape = np.broadcast_shapes(rad.shape, energy_true.shape)
        e = np.broadcast_to(energy_true, shape).ravel()
        r = np.broadcast_to(rad.to_value("rad"), shape).ravel()
        profiles = self._profiles(position, e)
        edges = self.geom.axes["rad"].edges.to_value("rad")
        values = psf_containment_from_profile(profiles, edges, r[:, None])[:, 0]
        return u.Quantity(values.reshape(shape), u.one)

    def containment_radius(self, fraction, energy_true, position=None, factor=20) -> u.Quantity:
        """Radius containing ``fraction`` of the PSF at ``energy_true``.

        The containment is evaluated at the centres of the rad axis upsampled ``factor``
        times and the radius of the value closest to ``fraction`` is returned (the
        precision is the fine bin width, 0.0005 deg for the default 0.01 deg rad bins).
        """
        energy_true = u.Quantity(energy_true)
        fraction = np.asarray(fraction, dtype=float)
        shape = np.broadcast_shapes(energy_true.shape, fraction.shape)
        e = np.broadcast_to(energy_true, shape).ravel()
        f = np.broadcast_to(fraction, shape).ravel()
        rad_axis = self.geom.axes["rad"].upsample(factor)
        grid = rad_axis.center.to_value("deg")
        profiles = self._profiles(position, e)
        edges = self.geom.axes["rad"].edges.to_value("rad")
        cont = psf_containment_from_profile(profiles, edges, np.deg2rad(grid)[None, :])
        idx = np.argmin(np.abs(cont - f[:, None]), axis=-1)
        return u.Quantity(grid[idx].reshape(shape), "deg")

    def get_psf_kernel(self, geom, position=None, max_radius=None, containment=0.999,
                       factor=4):
        """PSF kernel for a map geometry.

        Parameters
        ----------
        geom : `~gammapipe.maps.WcsGeom`
            Geometry of the map to convolve (with an ``energy_true`` axis; its pixel size
            is used).
        position : `~astropy.coordinates.SkyCoord`, optional
            Where to take the PSF (default: centre of the PSF map; nearest pixel with
            exposure).
        max_radius : `~astropy.units.Quantity`, optional
            Kernel radius; default the largest ``containment`` radius over true energy.
        containment : float
            Containment fraction defining the default radius.
        factor : int
            Oversampling factor: the profile is evaluated at the centres of
            ``factor x factor`` sub-pixels and summed into each kernel pixel.

        Returns
        -------
        kernel : `PSFKernel`
            Odd-sized kernel centred on the middle pixel, normalised to 1 per energy.
        """
        from gammapipe.maps import Map

        if "energy_true" not in geom.axes.names:
            geom = geom.to_image().to_cube([self.geom.axes["energy_true"]])
        e_axis = geom.axes["energy_true"]
        if max_radius is None:
            radii = self.containment_radius(containment, self.geom.axes["energy_true"].center,
                                            position=position)
            max_radius = np.max(radii)
        max_radius = u.Quantity(max_radius, "deg")
        kgeom = geom.to_odd_npix(max_radius=max_radius)
        fine = kgeom.to_image().upsample(int(factor))
        coord = fine.get_coord()
        lon = np.asarray(coord["lon"], float)
        lat = np.asarray(coord["lat"], float)
        center = kgeom.center_skydir
        c_lon, c_lat = center.spherical.lon.deg, center.spherical.lat.deg
        rad = angular_separation_deg(c_lon, c_lat, lon, lat)
        profiles = self._profiles(position, e_axis.center)  # (n_e, n_rad)
        rad_axis = self.geom.axes["rad"]
        pix = rad_axis.coord_to_pix(u.Quantity(rad, "deg"))
        values = _interp_profile(profiles, pix)  # (n_e, ny_f, nx_f)
        values = np.clip(values, 0, None)
        ny, nx = kgeom.data_shape[-2:]
        f = int(factor)
        data = values.reshape(values.shape[0], ny, f, nx, f).sum(axis=(2, 4))
        kernel_map = Map.from_geom(kgeom.to_image().to_cube([e_axis]), data=data)
        return PSFKernel(kernel_map, normalize=True)

    def sample_coord(self, map_coord, random_state=0):
        """Displace event positions by offsets drawn from the PSF.

        Parameters
        ----------
        map_coord : `~gammapipe.maps.MapCoord` or dict
            Event coordinates: ``lon``, ``lat`` (deg) or ``skycoord``, and
            ``energy_true``.
        random_state : int, `numpy.random.Generator` or "random-seed"

        Returns
        -------
        coords : `~gammapipe.maps.MapCoord`
            ``lon``, ``lat`` (deg, frame of the map) of the displaced positions and
            ``energy_true``. The offset is drawn from the radial profile of the nearest
            PSF-map pixel and true-energy bin (uniform within the rad bin), the position
            angle uniformly.
        """
        from gammapipe.maps import MapCoord

        rng = _rng(random_state)
        lon, lat, energy, frame = self._event_coords(map_coord, "energy_true")
        iy, ix = self._event_pixels(lon, lat)
        e_axis = self.geom.axes["energy_true"]
        ie = np.clip(np.asarray(e_axis.coord_to_idx(energy, clip=True), int), 0, e_axis.nbin - 1)
        rad_axis = self.geom.axes["rad"]
        edges = rad_axis.edges.to_value("deg")
        centers = rad_axis.center.to_value("deg")
        prof = np.asarray(self.psf_map.data[ie, :, iy, ix], dtype=float)  # (n, n_rad)
        prob = np.clip(prof, 0, None) * centers[None, :] * np.diff(edges)[None, :]
        cdf = np.cumsum(prob, axis=-1)
        total = cdf[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            cdf = np.where(total > 0, cdf / total, 1.0)
        u_draw = rng.uniform(size=len(lon))
        ibin = np.minimum((cdf < u_draw[:, None]).sum(axis=-1), rad_axis.nbin - 1)
        offset = edges[ibin] + rng.uniform(size=len(lon)) * np.diff(edges)[ibin]
        pa = rng.uniform(0, 2 * np.pi, size=len(lon))
        new_lon, new_lat = offset_by_deg(lon, lat, np.degrees(pa), offset)
        return MapCoord.create({"lon": new_lon, "lat": new_lat, "energy_true": energy},
                               frame=frame)

    # ------------------------------------------------------------------ plots
    def plot_containment_radius_vs_energy(self, ax=None, fraction=(0.68, 0.95),
                                          position=None, **kwargs):
        """Containment radii vs true energy at ``position``; returns the axes."""
        from .map_plotting import plot_psf_containment_vs_energy

        return plot_psf_containment_vs_energy(self, ax=ax, fraction=fraction,
                                              position=position, **kwargs)

    def plot_psf_vs_rad(self, ax=None, energy_true=(0.1, 1, 10) * u.TeV, position=None,
                        **kwargs):
        """PSF profile vs rad for several true energies; returns the axes."""
        from .map_plotting import plot_psf_vs_rad

        return plot_psf_vs_rad(self, ax=ax, energy_true=energy_true, position=position,
                               **kwargs)

    def peek(self, figsize=(12, 10)):
        """Containment radius, PSF profiles and exposure image; returns the axes."""
        from .map_plotting import peek_psf_map

        return peek_psf_map(self, figsize=figsize)


def _interp_profile(profiles: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``profiles`` (n_e, n_rad) at rad pixel coordinates ``pix``
    (any shape), extrapolating linearly outside."""
    n = profiles.shape[-1]
    if n == 1:
        return np.broadcast_to(profiles[:, :1, None], (profiles.shape[0],) + pix.shape).copy()
    i0 = np.clip(np.floor(pix).astype(int), 0, n - 2)
    w = pix - i0
    return profiles[:, i0] * (1 - w) + profiles[:, i0 + 1] * w


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state == "random-seed":
        return np.random.default_rng()
    return np.random.default_rng(random_state)


class PSFKernel:
    """PSF convolution kernel: one normalised kernel image per true energy bin.

    Parameters
    ----------
    psf_kernel_map : `~gammapipe.maps.WcsNDMap`
        Kernel images (odd number of pixels, centred), axis ``energy_true``.
    normalize : bool
        Normalise every image to unit sum.
    """

    def __init__(self, psf_kernel_map, normalize=True):
        data = np.asarray(psf_kernel_map.data, dtype=float)
        ny, nx = data.shape[-2:]
        if ny % 2 == 0 or nx % 2 == 0:
            raise GeometryError(f"PSFKernel: kernel image shape {(ny, nx)} must be odd")
        if normalize:
            total = data.sum(axis=(-2, -1), keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                data = np.where(total > 0, data / total, 0.0)
        self._psf_kernel_map = psf_kernel_map.copy(data=data, unit="")

    @property
    def psf_kernel_map(self):
        """Kernel map."""
        return self._psf_kernel_map

    @property
    def data(self) -> np.ndarray:
        """Kernel array (energy_true, ny, nx)."""
        return self._psf_kernel_map.data

    def __repr__(self) -> str:
        return f"PSFKernel(shape={self.data.shape})"

    @classmethod
    def from_gauss(cls, geom, sigma, max_radius=None, containment_fraction=0.99):
        """Gaussian kernel of width ``sigma`` (radius default: ``containment_fraction``)."""
        from gammapipe.maps import MapAxis

        sigma = u.Quantity(sigma, "deg")
        if max_radius is None:
            max_radius = sigma * np.sqrt(-2 * np.log(1 - containment_fraction))
        if "energy_true" in geom.axes.names:
            e_axis = geom.axes["energy_true"]
        else:
            e_axis = MapAxis.from_energy_bounds(1, 10, 1, unit="TeV", name="energy_true")
        psf = PSFMap.from_gauss(e_axis, sigma=sigma)
        return psf.get_psf_kernel(geom.to_image().to_cube([e_axis]), max_radius=max_radius)

    def slice_by_idx(self, slices):
        """Kernel restricted to a slice of true-energy bins."""
        return PSFKernel(self._psf_kernel_map.slice_by_idx(slices), normalize=False)

    def to_image(self, spectrum=None, exposure=None, keepdims=True):
        """Kernel summed over true energy, weighted by ``spectrum`` x ``exposure``
        (flat weights if neither is given), normalised to 1."""
        n = self.data.shape[0] if self.data.ndim == 3 else 1
        w = np.ones(n)
        if spectrum is not None:
            w = w * np.asarray(u.Quantity(spectrum).value, float).reshape(-1)[:n]
        if exposure is not None:
            w = w * np.asarray(u.Quantity(exposure).value, float).reshape(-1)[:n]
        data = (self.data.reshape((n,) + self.data.shape[-2:]) * w[:, None, None]).sum(axis=0)
        m = self._psf_kernel_map.sum_over_axes(keepdims=keepdims)
        return PSFKernel(m.copy(data=data.reshape(m.data.shape)), normalize=True)

    def write(self, filename, overwrite=False):
        """Write the kernel map (atomically)."""
        self._psf_kernel_map.write(filename, overwrite=overwrite)

    @classmethod
    def read(cls, filename):
        """Read a kernel map."""
        from gammapipe.maps import Map

        return cls(Map.read(filename), normalize=False)

    def plot_kernel(self, ax=None, energy=None, add_cbar=False, **kwargs):
        """Image of the kernel (summed over energy or at ``energy``); returns the axes."""
        from .map_plotting import plot_psf_kernel

        return plot_psf_kernel(self, ax=ax, energy=energy, add_cbar=add_cbar, **kwargs)

    def peek(self, figsize=(15, 5)):
        """Kernel images of the first, middle and last energy; returns the axes."""
        from .map_plotting import peek_psf_kernel

        return peek_psf_kernel(self, figsize=figsize)
