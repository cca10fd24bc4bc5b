"""Spatial models: surface brightness on the sky, normalised to a unit integral (sr-1).

Each model has a pure numpy ``evaluate(lon, lat, **parameters)`` working on angles in
radians (astropy Quantities are accepted and converted; the result is then a Quantity in
``sr-1``), ``__call__(lon, lat)`` with Quantities (plain numbers in deg), and
``evaluate_geom`` / ``integrate_geom`` on map geometries. ``integrate_geom`` gives the
probability content of each pixel; pixels close to a source that is small compared to
the pixel size are oversampled (see `SpatialModel.integrate_geom`), and a point source
puts its flux into the pixels around it with bilinear weights (see
`PointSpatialModel.integrate_geom`).

Normalisations: the symmetric Gaussian and the disk (hard-edge part) are normalised
exactly on the sphere; the elongated Gaussian, the generalized Gaussian and the shells
use the small-angle (flat sky) normalisation, as their usual definitions do.
"""

from __future__ import annotations

import functools

import astropy.units as u
import numpy as np

from ...utils.coordinates import angular_separation, haversine
from ..parameter import Parameter
from ._spatial_base import SpatialModel
from ._spatial_geometry import EDGE_WIDTH_95, ellipse_solid_angle, sigma_eff

__all__ = [
    "SpatialModel",
    "PointSpatialModel",
    "GaussianSpatialModel",
    "GeneralizedGaussianSpatialModel",
    "DiskSpatialModel",
    "ShellSpatialModel",
    "Shell2SpatialModel",
    "ConstantSpatialModel",
    "ConstantFluxSpatialModel",
]


def _to_plain(x):
    """Quantity -> float array (angles in rad, others dimensionless); numbers unchanged."""
    if isinstance(x, u.Quantity):
        if x.unit.physical_type == "angle":
            return x.to_value(u.rad), True
        return x.to_value(u.one), True
    return x, False


def radian_evaluate(func):
    """Make ``func(lon, lat, **pars)`` (radians in, sr-1 out) accept Quantities.

    If any argument is a Quantity, angles are converted to radians and the result is
    returned as a Quantity in ``sr-1``; with plain numbers the function runs unchanged.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        any_q = False
        plain_args = []
        for arg in args:
            val, is_q = _to_plain(arg)
            any_q |= is_q
            plain_args.append(val)
        plain_kwargs = {}
        for key, arg in kwargs.items():
            val, is_q = _to_plain(arg)
            any_q |= is_q
            plain_kwargs[key] = val
        out = func(*plain_args, **plain_kwargs)
        return u.Quantity(np.asarray(out, dtype=float), "sr-1", copy=False) if any_q else out

    return staticmethod(wrapper)


def _lon_par() -> Parameter:
    return Parameter("lon_0", "0 deg")


def _lat_par() -> Parameter:
    return Parameter("lat_0", "0 deg", min=-90, max=90)


def _ellipse_region(center, major: u.Quantity, e: float, phi: u.Quantity, **kwargs):
    from regions import CircleSkyRegion, EllipseSkyRegion

    if e == 0:
        return CircleSkyRegion(center=center, radius=major, **kwargs)
    minor = major * np.sqrt(1 - e**2)
    return EllipseSkyRegion(
        center=center, height=2 * major, width=2 * minor, angle=phi, **kwargs
    )


class PointSpatialModel(SpatialModel):
    """Point source at (lon_0, lat_0).

    Parameters
    ----------
    lon_0, lat_0 : `~astropy.coordinates.Angle`
        Position.
    frame : {"icrs", "galactic"}
        Frame of the position.
    """

    tag = ("PointSpatialModel", "point")
    lon_0 = _lon_par()
    lat_0 = _lat_par()

    @property
    def evaluation_radius(self) -> u.Quantity:
        """Evaluation radius: 0 deg."""
        return 0 * u.deg

    @property
    def evaluation_bin_size_min(self) -> None:
        """None: the point source is handled by `integrate_geom` without oversampling."""
        return None

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0):
        """1 at the exact source position, 0 elsewhere (use `integrate_geom` on maps)."""
        return np.logical_and(
            np.isclose(np.mod(lon - lon_0, 2 * np.pi), 0.0, atol=1e-15),
            np.isclose(lat, lat_0, atol=1e-15),
        ).astype(float)

    def integrate_geom(self, geom, oversampling_factor=None):
        """Fraction of the point-source flux in each pixel.

        The flux is shared among the (up to) four pixels whose centres surround the
        source with bilinear weights ``(1 - |x - x0|) (1 - |y - y0|)`` in pixel
        coordinates: the overlap of a pixel-sized box centred on the source with each
        pixel. This keeps the centroid at the true position (smooth dependence of the
        predicted counts on lon_0/lat_0) and sums to 1 when the source is at least one
        pixel inside the map. For a region geometry the fraction inside the region is
        computed on its WCS grid (1 for a point-like region). ``oversampling_factor`` is
        ignored.
        """
        return self._integrate_point(geom)

    def evaluate_geom(self, geom) -> u.Quantity:
        """Per-pixel flux fraction divided by the pixel solid angle (sr-1)."""
        from ._spatial_base import _is_region

        if _is_region(geom):
            values = self.integrate_geom(geom).data
            return u.Quantity(values / geom.solid_angle().to_value("sr"), "sr-1")
        image = geom.to_image()
        values = self._point_weights(image)
        sa = image.solid_angle().to_value("sr")
        return u.Quantity(self._broadcast_image(values / sa, geom), "sr-1")

    def to_region(self, **kwargs):
        """`~regions.PointSkyRegion` at the position."""
        from regions import PointSkyRegion

        return PointSkyRegion(center=self.position, **kwargs)


class GaussianSpatialModel(SpatialModel):
    r"""Gaussian on the sphere, optionally elongated.

    For ``e = 0``: ``phi(theta) = N exp(-(1 - cos theta) / (2 a))`` with
    ``a = 1 - cos(sigma)`` and ``N = 1 / (4 pi a (1 - exp(-1 / a)))`` (exact unit integral
    on the sphere; ``exp(-theta^2 / 2 sigma^2) / (2 pi sigma^2)`` for small angles).
    For ``e > 0`` the width in each direction is the effective radius of the ellipse with
    semi-major axis ``sigma`` along the position angle ``phi`` (east of north) and
    semi-minor axis ``sigma sqrt(1 - e^2)``, normalised by ``1 / (2 pi sigma^2
    sqrt(1 - e^2))``.
    """

    tag = ("GaussianSpatialModel", "gauss")
    lon_0 = _lon_par()
    lat_0 = _lat_par()
    sigma = Parameter("sigma", "1 deg", min=0)
    e = Parameter("e", 0, min=0, max=1, frozen=True)
    phi = Parameter("phi", "0 deg", frozen=True)

    @property
    def evaluation_radius(self) -> u.Quantity:
        """5 sigma (semi-major axis)."""
        return 5 * self.sigma.quantity

    @property
    def evaluation_bin_size_min(self) -> u.Quantity:
        """A third of the semi-minor sigma."""
        return self.sigma.quantity * np.sqrt(1 - self.e.value**2) / 3

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0, sigma, e, phi):
        """Surface brightness (sr-1) at (lon, lat) in radians."""
        one_minus_cos = 2.0 * haversine(lon, lat, lon_0, lat_0)
        if np.all(e == 0):
            a = 2.0 * np.sin(0.5 * sigma) ** 2  # 1 - cos(sigma)
            norm = 1.0 / (4 * np.pi * a * -np.expm1(-1.0 / a))
        else:
            minor, eff = sigma_eff(lon_0, lat_0, lon, lat, phi, sigma, e)
            a = 2.0 * np.sin(0.5 * eff) ** 2
            norm = 1.0 / (2 * np.pi * sigma * minor)
        with np.errstate(divide="ignore", invalid="ignore"):
            exponent = -0.5 * one_minus_cos / a
        return norm * np.exp(exponent)

    def to_region(self, x_sigma: float = 1.5, **kwargs):
        """Ellipse (circle for ``e = 0``) at ``x_sigma`` times the width."""
        return _ellipse_region(
            self.position, x_sigma * self.sigma.quantity, self.e.value, self.phi.quantity,
            **kwargs,
        )


class GeneralizedGaussianSpatialModel(SpatialModel):
    r"""Generalized Gaussian ``exp(-(theta / r_eff)^(1 / eta))`` (flat-sky normalised).

    ``eta = 0.5`` is a Gaussian with ``sigma = r_0 / sqrt(2)``, ``eta = 1`` a Laplace
    profile, ``eta -> 0`` a disk. Norm: ``1 / (2 pi r_0^2 sqrt(1 - e^2) eta Gamma(2 eta))``.
    """

    tag = ("GeneralizedGaussianSpatialModel", "gauss-general")
    lon_0 = _lon_par()
    lat_0 = _lat_par()
    r_0 = Parameter("r_0", "1 deg", min=0)
    eta = Parameter("eta", 0.5, min=0.01, max=1)
    e = Parameter("e", 0, min=0, max=1, frozen=True)
    phi = Parameter("phi", "0 deg", frozen=True)

    @property
    def evaluation_radius(self) -> u.Quantity:
        """``r_0 (1 + 8 eta)`` (about 5 sigma for the Gaussian case)."""
        return self.r_0.quantity * (1 + 8 * self.eta.value)

    @property
    def evaluation_bin_size_min(self) -> u.Quantity:
        """``r_0 sqrt(1 - e^2) / (3 + 8 eta)``."""
        minor = self.r_0.quantity * np.sqrt(1 - self.e.value**2)
        return minor / (3 + 8 * self.eta.value)

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta, e, phi):
        """Surface brightness (sr-1) at (lon, lat) in radians."""
        from scipy.special import gamma

        sep = angular_separation(lon, lat, lon_0, lat_0)
        minor, r_eff = sigma_eff(lon_0, lat_0, lon, lat, phi, r_0, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(r_eff > 0, sep / np.where(r_eff > 0, r_eff, 1.0), np.inf)
        norm = 1.0 / (2 * np.pi * minor * r_0 * eta * gamma(2 * eta))
        return norm * np.exp(-(z ** (1.0 / eta)))

    def to_region(self, x_r_0: float = 1, **kwargs):
        """Ellipse (circle for ``e = 0``) at ``x_r_0`` times ``r_0``."""
        return _ellipse_region(
            self.position, x_r_0 * self.r_0.quantity, self.e.value, self.phi.quantity,
            **kwargs,
        )


class DiskSpatialModel(SpatialModel):
    r"""Uniform (elliptical) disk with a smooth edge.

    ``phi = N * 0.5 * (1 - erf(k (theta - r_eff) / (edge_width * r_eff)))`` with
    ``k = 2 erfinv(0.9)``: the edge drops from 95 % to 5 % of the plateau over
    ``edge_width * r_eff`` (``edge_width`` is a fraction of the radius). ``N`` is the
    inverse of the exact solid angle of the hard-edged (elliptical) disk on the sphere.
    ``edge_width = 0`` gives a hard edge.
    """

    tag = ("DiskSpatialModel", "disk")
    lon_0 = _lon_par()
    lat_0 = _lat_par()
    r_0 = Parameter("r_0", "1 deg", min=0)
    e = Parameter("e", 0, min=0, max=1, frozen=True)
    phi = Parameter("phi", "0 deg", frozen=True)
    edge_width = Parameter("edge_width", 0.01, min=0, max=1, frozen=True)

    @property
    def evaluation_radius(self) -> u.Quantity:
        """``r_0 (1 + edge_width)``."""
        return self.r_0.quantity * (1 + self.edge_width.value)

    @property
    def evaluation_bin_size_min(self) -> u.Quantity:
        """``r_0 sqrt(1 - e^2) (1 - edge_width) / 10``."""
        minor = self.r_0.quantity * np.sqrt(1 - self.e.value**2)
        return minor * (1 - self.edge_width.value) / 10

    @staticmethod
    def _norm(r_0: float, e: float) -> float:
        return 1.0 / ellipse_solid_angle(float(r_0), float(e))

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0, r_0, e, phi, edge_width):
        """Surface brightness (sr-1) at (lon, lat) in radians."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        if np.all(e == 0):
            r_eff = r_0
        else:
            r_eff = sigma_eff(lon_0, lat_0, lon, lat, phi, r_0, e)[1]
        norm = DiskSpatialModel._norm(r_0, e)
        width = edge_width * r_eff
        if np.all(np.asarray(width) > 0):
            from scipy.special import erf

            profile = 0.5 * (1 - erf(EDGE_WIDTH_95 * (sep - r_eff) / width))
        else:
            profile = (sep <= r_eff).astype(float)
        return norm * profile

    def to_region(self, **kwargs):
        """Ellipse (circle for ``e = 0``) with the disk radius."""
        return _ellipse_region(
            self.position, self.r_0.quantity, self.e.value, self.phi.quantity, **kwargs
        )


def _shell_profile(sep, r_in, r_out):
    """Projected uniform spherical shell between r_in and r_out (flat sky, sr-1)."""
    norm = 3.0 / (2 * np.pi * (r_out**3 - r_in**3))
    with np.errstate(invalid="ignore"):
        outer = np.sqrt(np.clip(r_out**2 - sep**2, 0, None))
        inner = np.sqrt(np.clip(r_in**2 - sep**2, 0, None))
    value = np.where(sep < r_out, outer - inner, 0.0)
    return norm * value


class ShellSpatialModel(SpatialModel):
    r"""Projection of a uniformly emitting spherical shell.

    ``phi(theta) = 3 / (2 pi (r_out^3 - r_in^3)) * (sqrt(r_out^2 - theta^2) -
    sqrt(r_in^2 - theta^2))`` (second term only for ``theta < r_in``), with
    ``r_in = radius`` and ``r_out = radius + width`` (flat-sky normalisation).
    """

    tag = ("ShellSpatialModel", "shell")
    lon_0 = _lon_par()
    lat_0 = _lat_par()
    radius = Parameter("radius", "1 deg")
    width = Parameter("width", "0.2 deg")

    @property
    def evaluation_radius(self) -> u.Quantity:
        """Outer radius ``radius + width``."""
        return self.radius.quantity + self.width.quantity

    @property
    def evaluation_bin_size_min(self) -> u.Quantity:
        """Half the shell width."""
        return self.width.quantity / 2

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0, radius, width):
        """Surface brightness (sr-1) at (lon, lat) in radians."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        return _shell_profile(sep, radius, radius + width)

    def to_region(self, **kwargs):
        """`~regions.CircleAnnulusSkyRegion` between the inner and outer radius."""
        from regions import CircleAnnulusSkyRegion

        return CircleAnnulusSkyRegion(
            center=self.position,
            inner_radius=self.radius.quantity,
            outer_radius=self.radius.quantity + self.width.quantity,
            **kwargs,
        )


class Shell2SpatialModel(SpatialModel):
    r"""Shell parametrised by the outer radius ``r_0`` and relative width ``eta``.

    ``r_out = r_0``, ``r_in = (1 - eta) r_0``; profile as `ShellSpatialModel`.
    """

    tag = ("Shell2SpatialModel", "shell2")
    lon_0 = _lon_par()
    lat_0 = _lat_par()
    r_0 = Parameter("r_0", "1 deg")
    eta = Parameter("eta", 0.2, min=0.02, max=1)

    @property
    def evaluation_radius(self) -> u.Quantity:
        """Outer radius ``r_0``."""
        return self.r_0.quantity

    @property
    def evaluation_bin_size_min(self) -> u.Quantity:
        """Half the shell width ``eta r_0 / 2``."""
        return self.r_0.quantity * self.eta.value / 2

    @radian_evaluate
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta):
        """Surface brightness (sr-1) at (lon, lat) in radians."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        return _shell_profile(sep, (1 - eta) * r_0, r_0)

    def to_region(self, **kwargs):
        """`~regions.CircleAnnulusSkyRegion` between ``(1 - eta) r_0`` and ``r_0``."""
        from regions import CircleAnnulusSkyRegion

        return CircleAnnulusSkyRegion(
            center=self.position,
            inner_radius=self.r_0.quantity * (1 - self.eta.value),
            outer_radius=self.r_0.quantity,
            **kwargs,
        )


class ConstantSpatialModel(SpatialModel):
    """Uniform surface brightness ``value`` (sr-1) everywhere (no position, no frame).

    Parameters
    ----------
    value : `~astropy.units.Quantity`
        Surface brightness (default 1 sr-1, frozen).
    """

    tag = ("ConstantSpatialModel", "const")
    value = Parameter("value", "1 sr-1", frozen=True)
    _has_position = False

    @property
    def evaluation_radius(self) -> None:
        """None: the model has no finite extension."""
        return None

    @property
    def position(self) -> None:
        """None: the model has no position."""
        return None

    @radian_evaluate
    def evaluate(lon, lat, value):
        """``value`` broadcast to the shape of lon/lat."""
        return value * np.ones(np.broadcast(lon, lat).shape)

    def __call__(self, lon, lat, energy=None) -> u.Quantity:
        shape = np.broadcast(np.asarray(lon), np.asarray(lat)).shape
        return self.value.quantity * np.ones(shape)

    def to_region(self, **kwargs) -> None:
        """None: the model covers the whole sky."""
        return None


class ConstantFluxSpatialModel(SpatialModel):
    """Spatially constant flux spread over a geometry: ``integrate_geom`` gives each pixel
    its share of the total solid angle (the integral over the geometry is 1).

    ``evaluate_geom(geom)`` is ``1 / total solid angle`` of ``geom`` (sr-1); the plain
    ``evaluate`` at sky positions is not defined without a geometry and returns 1 sr-1.
    """

    tag = ("ConstantFluxSpatialModel", "const-flux")
    _has_position = False

    @property
    def evaluation_radius(self) -> None:
        """None: no finite extension."""
        return None

    @property
    def position(self) -> None:
        """None: the model has no position."""
        return None

    @radian_evaluate
    def evaluate(lon, lat):
        """1 sr-1 broadcast to the shape of lon/lat (see the class docstring)."""
        return np.ones(np.broadcast(lon, lat).shape)

    def __call__(self, lon, lat, energy=None) -> u.Quantity:
        shape = np.broadcast(np.asarray(lon), np.asarray(lat)).shape
        return u.Quantity(np.ones(shape), "sr-1")

    def evaluate_geom(self, geom) -> u.Quantity:
        """``1 / (total solid angle of the image)`` in every pixel (sr-1)."""
        image = geom.to_image()
        sa = np.asarray(image.solid_angle().to_value("sr"), dtype=float)
        values = np.where(np.isfinite(sa), 1.0 / np.nansum(sa), 0.0)
        return u.Quantity(self._broadcast_image(values, geom), "sr-1")

    def integrate_geom(self, geom, oversampling_factor=None):
        """Pixel solid angle over the total solid angle of the image."""
        from ...maps import Map

        image = geom.to_image()
        sa = np.nan_to_num(np.asarray(image.solid_angle().to_value("sr"), dtype=float))
        data = sa / sa.sum()
        return Map.from_geom(geom=image, data=data, unit="")

    def to_region(self, **kwargs) -> None:
        """None: the model has no region."""
        return None


# registered here too, so that loading this module makes every spatial tag known
from .spatial_template import TemplateSpatialModel  # noqa: E402

__all__ += ["TemplateSpatialModel"]
