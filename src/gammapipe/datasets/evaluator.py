"""Forward folding of sky models into predicted counts: `MapEvaluator`.

Interface used by `~gammapipe.datasets.MapDataset` (one evaluator per sky model, kept in
``dataset._evaluators`` by model name):

* ``MapEvaluator(model, exposure=None, psf=None, edisp=None, gti=None, mask=None,
  evaluation_mode="local", use_cache=True, irf_update="margin")``;
  `make_evaluator` ``(dataset, model)`` creates one and calls
  ``update(exposure, psf, edisp, geom, mask)`` with the dataset's exposure map, `PSFMap`,
  `EDispKernelMap` / `EDispMap`, counts geometry and fit mask.
* `MapEvaluator.compute_npred` -> `Map` of predicted counts on the reco-energy cutout of the
  counts geometry around the model (or the full geometry in ``"global"`` mode); the dataset
  pastes it with ``Map.stack``. It refreshes the IRFs itself when `needs_update`.
* `compute_flux`, `apply_exposure`, `apply_psf`, `apply_edisp`, `parameters_changed`,
  `npred_gradient` (d npred / d parameter value, as Maps).
* Module functions: `stat_sum_and_gradient` (dataset, list of datasets or `Datasets`) ->
  ``(cash statistic, d stat / d value of each given parameter)`` for
  `~gammapipe.modeling.Fit`'s ``grad=`` support; `stat_sum` and `npred_total` (the same
  fast path without gradient); `npred_background_gradient` (d npred_background / d norm,
  tilt, ... of the FoV background model, as Maps).

Forward folding (per sky model; ``l`` true-energy bin, ``k`` reco bin, ``p`` pixel)::

    npred[k, p] = sum_l F_l D[l, k] X[l, p] (K_l * T)[p]

with ``F_l`` the analytic integral of the spectrum over true-energy bin ``l`` (times the
temporal factor), ``T`` the spatial model integrated over the pixels of the cutout
(oversampled for small sources), ``K_l`` the PSF kernel (normalised, FFT-convolved, all
planes in one transform with a cached kernel FFT), ``X`` the exposure (cm2 s) and ``D`` the
edisp kernel at the model position. The PSF-convolved, exposure-weighted planes
``P[l, p] = X[l, p] (K_l * T)[p]`` are cached keyed by the spatial parameter values, so a
change of spectral parameters only costs ``(F D)^T P``, and the gradient with respect to a
spectral parameter is the same product with ``dF/dp``. The gradient of the Cash statistic
with respect to the spatial parameters uses the transpose of the chain (edisp, exposure,
PSF correlation with the same kernel FFT) to get ``d stat / d T`` per pixel, times ``dT/dp``
from central differences of the spatial integration (the only numerical step).

PSF kernel (`~gammapipe.datasets._folding.PSFKernelBuilder`, the reference convention):
profile bilinearly interpolated between PSF-map pixels at the model position; sampled at
``f x f`` sub-pixels per kernel pixel with ``f = ceil(12 x half pixel / R68(E))`` per true
energy (1 for PSFs much wider than the pixels); each energy plane extends over its own
99.9 % containment radius (odd size, centred) inside an image of the largest one.

IRF refresh policy (``irf_update``): the PSF kernel, edisp kernel and exposure cutout are
taken at the model position at the last `update`.

* ``"margin"`` (default, the reference tool's behaviour): refresh only when the model has
  moved by more than ``evaluation_radius + 0.1 deg`` since. The statistic then depends on
  the path: in the reference Crab fit MIGRAD's first steps (+-0.6 deg) refresh the IRFs
  nine times and the last refresh, at (83.633, 21.952), stays in use up to the best fit.
  This reproduces the reference fit: total stat 16240.8194 (reference 16240.8194),
  parameters within 0.002 sigma, errors within 0.4 %.
* ``"always"``: refresh whenever a position parameter changes; the statistic is a
  function of the parameters alone. At the reference best fit it is 16240.8591 (the
  reference's ``stat_sum_fresh_evaluators``: 16240.8590). Fitting with it ends at lat_0
  = 22.0246 (+0.3 sigma) with stat 16240.832: the point-source pixel weights are bilinear,
  so the statistic has a kink at the pixel centre lat 22.024, and with exact kernels the
  lower minimum is on the other side of it. The reference position is thus partly set
  by kernels taken 0.07 deg away. This policy costs a kernel per call (slower fits).
"""

from __future__ import annotations

import functools
import math

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GammapipeError, GeometryError

from ._fit_cache import (
    FastSpectrum,
    _fd_step,
    _Shift,
    get_evaluators,
    npred_background_gradient,
    npred_total,
    stat_sum,
    stat_sum_and_gradient,
)
from ._folding import (
    SPARSE_MAX,
    IRFLookupMixin,
    KernelFFT,
    PSFKernelBuilder,  # noqa: F401 - re-exported (tests, users of this module)
    TemplateNPredEvaluator,
    fold_edisp,
    fold_edisp_adjoint,
    overlap_slices,
    shared_kernel_builder,
)

__all__ = [
    "MapEvaluator",
    "TemplateNPredEvaluator",
    "make_evaluator",
    "get_evaluators",
    "stat_sum_and_gradient",
    "stat_sum",
    "npred_total",
    "npred_background_gradient",
    "PSF_CONTAINMENT",
    "PSF_MAX_RADIUS",
    "PSF_PRECISION_FACTOR",
    "CUTOUT_MARGIN",
    "IRF_UPDATE_POLICIES",
    "IRF_UPDATE_DEFAULT",
]

PSF_CONTAINMENT = 0.999
PSF_MAX_RADIUS = None
PSF_PRECISION_FACTOR = 12
CUTOUT_MARGIN = 0.1 * u.deg
IRF_UPDATE_POLICIES = ("margin", "always")
#: IRF refresh policy of evaluators created by `make_evaluator` (see the module docstring).
IRF_UPDATE_DEFAULT = "margin"
EVALUATION_MODES = ("local", "global")


def _haversine_deg(lon1, lat1, lon2, lat2) -> float:
    s = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(s))))


class MapEvaluator(IRFLookupMixin):
    """Predicted counts of one sky model on a map dataset (see the module docstring).

    Parameters
    ----------
    model : `~gammapipe.modeling.models.SkyModel`
        Sky model.
    exposure : `~gammapipe.maps.Map`, optional
        Exposure (``energy_true`` axis) on the evaluation geometry.
    psf : `~gammapipe.datasets.PSFKernel`, optional
        PSF kernel (same pixel size as the exposure).
    edisp : `~gammapipe.irf.EDispKernel`, optional
        Energy dispersion kernel (true x reco).
    gti : `~gammapipe.data.GTI`, optional
        Good time intervals (for the temporal model).
    mask : `~gammapipe.maps.Map`, optional
        Fit mask (decides whether a local model contributes).
    evaluation_mode : {"local", "global"}
        Evaluate on a cutout around the model or on the full geometry.
    use_cache : bool
        Cache the PSF-convolved template and the last npred.
    irf_update : {"margin", "always"}
        IRF refresh policy (module docstring).
    """

    def __init__(self, model, exposure=None, psf=None, edisp=None, gti=None, mask=None,
                 evaluation_mode: str = "local", use_cache: bool = True,
                 irf_update: str = "margin") -> None:
        if evaluation_mode not in EVALUATION_MODES:
            raise GammapipeError(
                f"MapEvaluator: evaluation_mode must be one of {EVALUATION_MODES}, "
                f"got {evaluation_mode!r}"
            )
        if irf_update not in IRF_UPDATE_POLICIES:
            raise GammapipeError(
                f"MapEvaluator: irf_update must be one of {IRF_UPDATE_POLICIES}, "
                f"got {irf_update!r}"
            )
        self.model = model
        self.exposure = exposure
        self.psf = psf
        self.edisp = edisp
        self.gti = gti
        self.mask = mask
        self.evaluation_mode = evaluation_mode
        self.use_cache = use_cache
        self.irf_update = irf_update
        self.contributes = True
        self.parent_slices = None
        self.cutout_slices = None
        self._reco_axis = None
        self._update_args = None
        self._init_lonlat = None
        self._limit_deg = None
        self._kernel_builder = None
        self.update_count = 0
        self._reset()

    # -- state --------------------------------------------------------------------------
    def _reset(self) -> None:
        self._prepared = False
        self._planes_key = None
        self._planes = None
        self._template = None
        self._npred_key = None
        self._npred = None
        self._flux_spec = None
        self._spatial_previous = None
        self._previous = None
        self._npred_geom = None

    @property
    def geom(self):
        """Evaluation geometry (true energy): the exposure (cutout) geometry."""
        return None if self.exposure is None else self.exposure.geom

    @property
    def _spatial(self):
        return getattr(self.model, "spatial_model", None)

    @property
    def _is_region(self) -> bool:
        geom = self.geom
        return bool(getattr(geom, "is_region", False)) if geom is not None else False

    @property
    def psf_width(self) -> u.Quantity:
        """Largest width of the PSF kernel map (0 deg without PSF)."""
        if self.psf is None:
            return 0 * u.deg
        cached = self.__dict__.get("_psf_width_cache")
        if cached is None or cached[0] is not self.psf:
            width = u.Quantity(np.max(u.Quantity(self.psf.psf_kernel_map.geom.width, "deg")))
            cached = (self.psf, width)
            self.__dict__["_psf_width_cache"] = cached
        return cached[1]

    @property
    def cutout_width(self) -> u.Quantity:
        """PSF width + 2 (evaluation_radius + `CUTOUT_MARGIN`)."""
        radius = u.Quantity(self.model.evaluation_radius, "deg")
        return self.psf_width + 2 * (radius + CUTOUT_MARGIN)

    def _position_parameters(self):
        """(lon_0, lat_0, factor to rad) of the spatial model, or None (cached per model)."""
        spatial = self._spatial
        cached = self.__dict__.get("_pos_cache")
        if cached is not None and cached[0] is spatial:
            return cached[1]
        value = None
        if spatial is not None and hasattr(spatial, "lon_0") and hasattr(spatial, "lat_0"):
            value = (spatial.lon_0, spatial.lat_0, float(spatial.lon_0.unit.to(u.rad)),
                     float(spatial.lat_0.unit.to(u.rad)))
        self.__dict__["_pos_cache"] = (spatial, value)
        return value

    def _lonlat(self) -> tuple[float, float] | None:
        """Model position (lon, lat) in radians in the model frame, or None."""
        pos = self._position_parameters()
        if pos is None:
            return None
        return (pos[0].value * pos[2], pos[1].value * pos[3])

    @property
    def _is_local(self) -> bool:
        if self.evaluation_mode != "local" or self._position_parameters() is None:
            return False
        cached = self.__dict__.get("_local_cache")
        if cached is None or cached[0] is not self._spatial:
            cached = (self._spatial, self.model.evaluation_radius is not None)
            self.__dict__["_local_cache"] = cached
        return cached[1]

    def _spatial_values(self) -> tuple:
        if self._prepared:
            return tuple(p.value for p in self._spatial_pars)
        spatial = self._spatial
        return () if spatial is None else tuple(p.value for p in spatial.parameters)

    def parameters_spatial_changed(self, reset: bool = True) -> bool:
        """Whether the spatial parameter values changed since the last call with reset."""
        values = self._spatial_values()
        changed = values != self._spatial_previous
        if reset:
            self._spatial_previous = values
        return changed

    @property
    def parameters_changed(self) -> bool:
        """Whether any model parameter value changed since the last call (then reset)."""
        values = tuple(p.value for p in self.model.parameters)
        changed = values != self._previous
        self._previous = values
        return changed

    @property
    def irf_position_changed(self) -> bool:
        """Whether the model moved enough (policy ``irf_update``) to refresh the IRFs."""
        lonlat = self._lonlat()
        if lonlat is None or self._init_lonlat is None:
            return False
        if self.irf_update == "always":
            return lonlat != self._init_lonlat
        if lonlat == self._init_lonlat:
            return False
        sep = _haversine_deg(*self._init_lonlat, *lonlat)
        if self._limit_deg is None:
            self._limit_deg = (u.Quantity(self.model.evaluation_radius, "deg")
                               + CUTOUT_MARGIN).to_value("deg")
        return sep > self._limit_deg

    def __getstate__(self) -> dict:
        # the prepared projection (a closure) is derived state: rebuilt lazily after
        # unpickling, so fitted datasets can be sent to worker processes
        state = self.__dict__.copy()
        state.pop("_world_to_pix", None)
        return state

    @property
    def needs_update(self) -> bool:
        """Whether `update` must be called before evaluating."""
        if self.exposure is None:
            return True
        if self._is_region or not self._is_local:
            return False
        return self.irf_position_changed

    # -- update -------------------------------------------------------------------------
    def update(self, exposure, psf, edisp, geom, mask) -> None:
        """Take the IRFs at the model position and cut the exposure around the model.

        Parameters
        ----------
        exposure : `~gammapipe.maps.Map`
            Dataset exposure (``energy_true``).
        psf : `~gammapipe.datasets.PSFMap` or None
        edisp : `~gammapipe.datasets.EDispKernelMap`, `~gammapipe.datasets.EDispMap` or None
        geom : `~gammapipe.maps.Geom`
            Counts geometry (reco ``energy`` axis).
        mask : `~gammapipe.maps.Map` or None
            Fit mask of the dataset.
        """
        if exposure is None:
            raise GammapipeError(
                f"MapEvaluator {self.model.name!r}: the dataset has no exposure to fold with"
            )
        self._update_args = (exposure, psf, edisp, geom, mask)
        self.mask = mask
        apply = getattr(self.model, "apply_irf", {"exposure": True, "psf": True, "edisp": True})
        # the SkyCoord is built only if an IRF lookup needs it (not on the cached paths)
        position = (lambda: self.model.position) if self._lonlat() is not None else None
        self._reco_axis = geom.axes["energy"] if "energy" in geom.axes.names else None
        self.edisp = None
        if edisp is not None and apply.get("edisp", True):
            self.edisp = self._edisp_kernel(edisp, position)
        self.psf = None
        is_region = bool(getattr(exposure.geom, "is_region", False))
        if psf is not None and self._spatial is not None and apply.get("psf", True) \
                and not is_region:
            builder = self._kernel_builder
            if builder is None or builder.psf is not psf or builder.geom is not exposure.geom:
                builder = shared_kernel_builder(psf, exposure.geom)
                self._kernel_builder = builder
            lonlat = self._lonlat_in(builder.frame) if self._lonlat() is not None else None
            self.psf = builder.kernel(position, containment=PSF_CONTAINMENT,
                                      max_radius=PSF_MAX_RADIUS,
                                      precision_factor=PSF_PRECISION_FACTOR, lonlat=lonlat)
        self.exposure = exposure
        self.contributes = True
        self.parent_slices = self.cutout_slices = None
        parent_image = geom.to_image()
        if self._is_local and not is_region:
            self.contributes = self._contributes(mask)
            if self.contributes:
                self.exposure = self._exposure_cutout(exposure)
                self.parent_slices, self.cutout_slices = overlap_slices(
                    parent_image, self.exposure.geom.to_image())
        elif not is_region and tuple(exposure.geom.data_shape[-2:]) != tuple(
                geom.data_shape[-2:]):
            raise GeometryError(
                f"MapEvaluator {self.model.name!r}: exposure image shape "
                f"{exposure.geom.data_shape[-2:]} differs from the counts image shape "
                f"{geom.data_shape[-2:]}"
            )
        self._init_lonlat = self._lonlat()
        self._limit_deg = None
        self.update_count += 1
        self._cutout_key = ("window", self.contributes, self.parent_slices, self.cutout_slices,
                            tuple(np.shape(self.exposure.data)))
        self._reset()

    def refresh(self) -> None:
        """Call `update` again (with the last arguments) if `needs_update`."""
        if self._update_args is not None and self.needs_update:
            self.update(*self._update_args)

    @property
    def cutout_key(self) -> tuple:
        """Changes whenever the evaluation cutout (its pixel window in the dataset
        geometry) changes; an update that keeps the window keeps the key, so the
        bin mappings of the fit cache are reused."""
        key = self.__dict__.get("_cutout_key")
        return (self.update_count, self.contributes) if key is None else key

    # -- prepared arrays ----------------------------------------------------------------
    def _prepare(self) -> None:
        if self._prepared:
            return
        if self.exposure is None:
            raise GammapipeError(f"MapEvaluator {self.model.name!r}: call update() first")
        geom = self.exposure.geom
        apply = getattr(self.model, "apply_irf", {})
        e_axis = geom.axes["energy_true"]
        shape = tuple(self.exposure.data.shape)
        if apply.get("exposure", True):
            self._exposure_data = np.asarray(self.exposure.data, dtype=np.float64) * (
                _to_cm2_s(self.exposure.unit))
        else:
            self._exposure_data = np.ones(shape)
        self.cutout_shape = shape[-2:]
        self._n_true = shape[0]
        self._kernel_fft = None
        if self.psf is not None:
            kernel = np.asarray(self.psf.psf_kernel_map.data, dtype=np.float64)
            kernel = kernel.reshape((-1,) + kernel.shape[-2:])
            self._kernel_fft = KernelFFT(kernel, self.cutout_shape)
        if self.edisp is not None:
            self._edisp_matrix = np.asarray(self.edisp.pdf_matrix, dtype=np.float64)
            self._n_reco = self._edisp_matrix.shape[1]
        else:
            self._edisp_matrix = None
            self._n_reco = self._n_true
        edges = e_axis.edges
        spec_key = (id(self.model.spectral_model), tuple(edges.value), str(edges.unit))
        cached = self.__dict__.get("_flux_spec_cache")
        if cached is None or cached[0] != spec_key:
            cached = (spec_key, FastSpectrum(self.model.spectral_model, edges[:-1], edges[1:],
                                             unit="cm-2 s-1"))
            self.__dict__["_flux_spec_cache"] = cached
        self._flux_spec = cached[1]
        self._model_pars = list(self.model.parameters)
        spatial = self._spatial
        self._spatial_pars = [] if spatial is None else list(spatial.parameters)
        image = self._image_geom()
        self._pix_deg = float(np.min(u.Quantity(image.pixel_scales, "deg").to_value("deg")))
        self._point = None
        if (type(spatial).__name__ == "PointSpatialModel" and not self._is_region
                and self._position_parameters() is not None):
            wcs = image.wcs.celestial if image.wcs.naxis > 2 else image.wcs
            pos = self._position_parameters()
            self._point = (wcs, spatial.frame, image.frame, np.degrees(pos[2]),
                           np.degrees(pos[3]))
            self.__dict__.pop("_world_to_pix", None)
        self._prepared = True

    @property
    def npred_size(self) -> int:
        """Number of values of the npred array (reco bins x cutout pixels)."""
        self._prepare()
        return self._n_reco * int(np.prod(self.cutout_shape))

    def _temporal_factor(self) -> float:
        if getattr(self.model, "temporal_model", None) is None or self.gti is None:
            return 1.0
        return float(u.Quantity(self.model._temporal_factor(self.gti)).to_value(u.one))

    def _flux(self) -> np.ndarray:
        return self._flux_spec.values() * self._temporal_factor()

    def _integrate_template(self) -> np.ndarray:
        """Spatial model integrated over the cutout pixels: (1 or n_true, ny, nx)."""
        geom = self.exposure.geom
        spatial = self._spatial
        if spatial is None:
            return np.ones((1,) + tuple(self.cutout_shape))
        if self._point is not None:
            return self._point_template()[None]
        image = self._image_geom()
        if spatial.is_energy_dependent:
            image = image.to_cube([geom.axes["energy_true"]])
        data = np.asarray(spatial.integrate_geom(image).data, dtype=np.float64)
        return data.reshape((-1,) + tuple(self.cutout_shape))

    def _point_template(self) -> np.ndarray:
        """Bilinear point-source weights on the cutout (the `PointSpatialModel`
        integration, without building geometry objects)."""
        from gammapipe.modeling.models._spatial_geometry import bilinear_point_weights
        from gammapipe.utils.coordinates import transform_lonlat

        wcs, frame, image_frame, f_lon, f_lat = self._point
        world_to_pix = self.__dict__.get("_world_to_pix")
        if world_to_pix is None or world_to_pix[0] is not wcs:
            from gammapipe.maps._fast_wcs import make_world_to_pix

            # the projection set-up is done once per cutout, not once per fit call
            world_to_pix = self._world_to_pix = (wcs, make_world_to_pix(wcs))
        world_to_pix = world_to_pix[1]
        pos = self._position_parameters()
        lon, lat = pos[0].value * f_lon, pos[1].value * f_lat
        if frame is not None and frame != image_frame:
            lon, lat = transform_lonlat(lon, lat, frame, image_frame)
        x0, y0 = world_to_pix(np.atleast_1d(lon), np.atleast_1d(lat))
        return bilinear_point_weights(float(x0[0]), float(y0[0]), tuple(self.cutout_shape))

    def _image_geom(self):
        if getattr(self, "_image_geom_cache", (None,))[0] is not self.exposure:
            self._image_geom_cache = (self.exposure, self.exposure.geom.to_image())
        return self._image_geom_cache[1]

    def _planes_from(self, template: np.ndarray) -> np.ndarray:
        if self._kernel_fft is not None:
            conv = self._kernel_fft.convolve(template)  # a new array: scaled in place
            conv *= self._exposure_data
            return conv.reshape(self._n_true, -1)
        conv = np.broadcast_to(template, (self._n_true,) + template.shape[-2:])
        return (self._exposure_data * conv).reshape(self._n_true, -1)

    def planes(self) -> np.ndarray:
        """Exposure x PSF-convolved template per true-energy bin, ``(n_true, n_pix)``;
        cached keyed by the spatial parameter values."""
        self._prepare()
        key = (self._spatial_values(), self.update_count)
        if self._planes is None or key != self._planes_key or not self.use_cache:
            self._template = self._integrate_template()
            self._planes = self._planes_from(self._template)
            self._planes_key = key
        return self._planes

    def npred_array(self) -> np.ndarray:
        """Predicted counts ``(n_reco, ny, nx)`` on the cutout (plain float64 array)."""
        self._prepare()
        key = (tuple(p.value for p in self._model_pars), self.update_count)
        if self._npred is None or key != self._npred_key or not self.use_cache:
            planes = self.planes()
            npred = fold_edisp(planes, self._flux(), self._edisp_matrix)
            self._npred = npred.reshape((self._n_reco,) + tuple(self.cutout_shape))
            self._npred_key = key
        return self._npred

    # -- Map API ------------------------------------------------------------------------
    def _reco_geom(self):
        if self._npred_geom is None:
            image = self.exposure.geom.to_image()
            axis = self._reco_axis
            if axis is None and self.edisp is not None:
                axis = self.edisp.axes["energy"]
            if axis is None:
                axis = self.exposure.geom.axes["energy_true"].copy(name="energy")
            self._npred_geom = image.to_cube([axis])
        return self._npred_geom

    def compute_npred(self):
        """Predicted counts Map (reco energy) on the evaluation (cutout) geometry."""
        from gammapipe.maps import Map

        self.refresh()
        if not self.contributes:
            return Map.from_geom(self._reco_geom(), dtype=float)
        return Map.from_geom(self._reco_geom(), data=self.npred_array().copy(), unit="")

    def compute_flux(self):
        """Flux per pixel and true-energy bin (cm-2 s-1) on the evaluation geometry."""
        self.refresh()
        flux = self.model.integrate_geom(self.exposure.geom, self.gti)
        return flux.to_unit("cm-2 s-1") if hasattr(flux, "to_unit") else flux

    def compute_flux_spatial(self) -> np.ndarray:
        """PSF-convolved spatial template ``(n_true, ny, nx)`` (cached)."""
        self._prepare()
        self.planes()
        if self._kernel_fft is not None:
            return self._kernel_fft.convolve(self._template)
        return np.broadcast_to(self._template, (self._n_true,) + tuple(self.cutout_shape))

    def apply_exposure(self, flux):
        """Flux Map (cm-2 s-1, true energy) times the exposure: counts Map."""
        self._prepare()
        data = u.Quantity(flux.quantity).to_value("cm-2 s-1") * self._exposure_data
        return flux.copy(data=data, unit="")

    def apply_psf(self, npred):
        """Convolve every true-energy plane with the PSF kernel (negative values -> 0)."""
        self._prepare()
        if self._kernel_fft is None:
            return npred.copy()
        data = np.asarray(npred.data, dtype=np.float64)
        return npred.copy(data=self._kernel_fft.convolve(data).reshape(data.shape))

    def apply_edisp(self, npred):
        """Fold a true-energy counts Map through the edisp kernel into reco energy."""
        from gammapipe.maps import Map

        self._prepare()
        data = np.asarray(npred.data, dtype=np.float64)
        flat = data.reshape(data.shape[0], -1)
        out = fold_edisp(flat, np.ones(data.shape[0]), self._edisp_matrix)
        geom = npred.geom.to_image().to_cube([self._reco_geom().axes["energy"]])
        return Map.from_geom(geom, data=out.reshape((-1,) + data.shape[1:]), unit=npred.unit)

    # -- gradients ----------------------------------------------------------------------
    def _spatial_step(self, par) -> float:
        if par.unit.physical_type == "angle":
            return 1e-3 * self._pix_deg * float(u.deg.to(par.unit))
        return 1e-5 * max(abs(par.value), 1.0)

    def _template_derivative(self, par) -> np.ndarray:
        h = self._spatial_step(par)
        value = par.value
        with _Shift(par, value + h):
            up = self._integrate_template()
        with _Shift(par, value - h):
            down = self._integrate_template()
        return (up - down) / (2 * h)

    def stat_gradient(self, grad_npred: np.ndarray, parameters) -> dict[int, float]:
        """``sum(grad_npred * d npred / d p)`` for the model's parameters among
        ``parameters``, keyed by ``id(parameter)``.

        ``grad_npred`` is ``d stat / d npred`` on the npred array (flat).
        """
        self._prepare()
        own = {id(p) for p in self._model_pars}
        pars = [p for p in parameters if id(p) in own]
        if not pars:
            return {}
        out: dict[int, float] = {}
        g = np.asarray(grad_npred, dtype=np.float64).reshape(self._n_reco, -1)
        planes = self.planes()
        spectral = self._flux_spec.gradient(pars)
        if spectral:
            a = planes @ g.T  # (n_true, n_reco)
            h = (a * self._edisp_matrix).sum(axis=1) if self._edisp_matrix is not None \
                else np.diag(a)
            tf = self._temporal_factor()
            for key, dflux in spectral.items():
                out[key] = out.get(key, 0.0) + float(np.dot(dflux, h)) * tf
        spatial_ids = {id(p) for p in self._spatial_pars}
        sp_pars = [p for p in pars if id(p) in spatial_ids and id(p) not in out]
        if sp_pars:
            self._spatial_gradient(g, sp_pars, out)
        rest = [p for p in pars if id(p) not in out and id(p) not in spatial_ids
                and id(p) not in spectral]
        for p in rest:  # e.g. temporal parameters: finite differences of npred
            value, hstep = p.value, _fd_step(p.value, p.scale)
            with _Shift(p, value + hstep):
                up = self._npred_uncached()
            with _Shift(p, value - hstep):
                down = self._npred_uncached()
            out[id(p)] = float(np.dot(g.ravel(), (up - down).ravel())) / (2 * hstep)
        return out

    def _spatial_gradient(self, g: np.ndarray, pars, out: dict) -> None:
        """d stat / d p for spatial parameters: the transposed chain (edisp, exposure,
        PSF correlation) gives d stat / d template, times central differences of the
        template (direct sums over the kernel support when only a few pixels change)."""
        q = fold_edisp_adjoint(g, self._flux(), self._edisp_matrix)
        q = (q * self._exposure_data.reshape(self._n_true, -1)).reshape(
            (self._n_true,) + tuple(self.cutout_shape))
        single = self._template.shape[0] == 1
        derivs = [self._template_derivative(p) for p in pars]
        union = None
        if single and self._kernel_fft is not None:
            union = np.flatnonzero(np.any([d[0] != 0 for d in derivs], axis=0))
            if union.size > 4 * SPARSE_MAX:
                union = None
        if union is not None:  # few pixels: direct correlation at those pixels only
            at = self._kernel_fft.adjoint_at(q, union)
        d_template = None
        for p, dt in zip(pars, derivs, strict=True):
            if union is not None:
                value = float(np.dot(at, dt[0].ravel()[union]))
            else:
                if d_template is None:
                    if self._kernel_fft is not None:
                        d_template = self._kernel_fft.adjoint(q, sum_planes=single)
                    else:
                        d_template = q.sum(axis=0) if single else q
                value = float(np.sum(d_template * (dt[0] if single else dt)))
            out[id(p)] = out.get(id(p), 0.0) + value

    def _npred_uncached(self) -> np.ndarray:
        planes = self._planes_from(self._integrate_template())
        return fold_edisp(planes, self._flux(), self._edisp_matrix)

    def npred_gradient(self, parameters) -> list:
        """d npred / d value for each of ``parameters`` (Maps on the cutout reco geometry;
        zero for parameters of other models).

        Spectral parameters: ``(dF/dp D)^T P`` (analytic); spatial parameters: central
        differences of the spatial integration pushed through PSF, exposure and edisp.
        """
        from gammapipe.maps import Map

        self.refresh()
        self._prepare()
        planes = self.planes()
        shape = (self._n_reco,) + tuple(self.cutout_shape)
        spectral = self._flux_spec.gradient(parameters)
        tf = self._temporal_factor()
        own = {id(p) for p in self.model.parameters}
        spatial_ids = set() if self._spatial is None else {
            id(p) for p in self._spatial.parameters}
        maps = []
        for p in parameters:
            if id(p) in spectral:
                data = fold_edisp(planes, spectral[id(p)] * tf, self._edisp_matrix)
            elif id(p) in spatial_ids:
                dt = self._template_derivative(p)
                data = fold_edisp(self._planes_from(dt), self._flux(), self._edisp_matrix)
            elif id(p) in own:
                value, hstep = p.value, _fd_step(p.value, p.scale)
                with _Shift(p, value + hstep):
                    up = self._npred_uncached()
                with _Shift(p, value - hstep):
                    down = self._npred_uncached()
                data = (up - down) / (2 * hstep)
            else:
                data = np.zeros(shape)
            maps.append(Map.from_geom(self._reco_geom(), data=data.reshape(shape), unit=""))
        return maps


@functools.lru_cache(maxsize=64)
def _to_cm2_s(unit) -> float:
    """Conversion factor of an exposure unit to cm2 s (cached: one per unit)."""
    return float(u.Unit(unit).to("cm2 s"))


# ----------------------------------------------------------------------------- dataset glue
def make_evaluator(dataset, model, irf_update: str | None = None):
    """Evaluator of ``model`` on ``dataset``, updated with the dataset's IRFs.

    ``irf_update`` defaults to the module setting `IRF_UPDATE_DEFAULT` (``"margin"``).
    """
    if irf_update is None:
        irf_update = IRF_UPDATE_DEFAULT
    if type(model).__name__ == "TemplateNPredModel":
        return TemplateNPredEvaluator(model, dataset.counts.geom if dataset.counts is not None
                                      else dataset._geom)
    spatial = getattr(model, "spatial_model", None)
    mode = "global" if spatial is None or model.evaluation_radius is None else "local"
    evaluator = MapEvaluator(model, gti=getattr(dataset, "gti", None), evaluation_mode=mode,
                             irf_update=irf_update)
    geom = dataset.counts.geom if dataset.counts is not None else dataset._geom
    evaluator.update(dataset.exposure, dataset.psf, dataset.edisp, geom, dataset.mask)
    return evaluator
