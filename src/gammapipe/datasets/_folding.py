"""Pure numerical kernels of the forward folding (plain float64 numpy arrays, no units).

* `KernelFFT`: linear ("same"-size) convolution of a stack of images, one kernel per
  true-energy plane, by real FFT with the kernel transform computed once and cached.
  All planes are transformed in one call. `KernelFFT.adjoint` is the exact transpose of
  `KernelFFT.convolve` (a correlation with the same cached transform): it maps the
  derivative of a statistic with respect to the convolved images onto the derivative with
  respect to the input images, which gives the gradient with respect to the spatial
  template in one transform.
* `fold_edisp`: energy dispersion of (flux-weighted) true-energy planes into reco-energy
  planes in one matrix product.
* `PSFKernelBuilder`: PSF kernels of a `PSFMap` at any position, with everything that does
  not depend on the position computed once.
* `TemplateNPredEvaluator`: the evaluator interface for a predicted-counts template
  (`TemplateNPredModel`): template x norm spectral model.
* `overlap_slices`: slices relating a cutout image to its parent image on the same pixel
  grid, and `cutout_flat_indices` to map masked bins of the parent onto the cutout.

Convolution convention: ``out[y, x] = sum_{j, i} k[j, i] img[y - j + cy, x - i + cx]`` with
``(cy, cx)`` the kernel centre (odd kernel sizes), zero outside the image; i.e.
``scipy.signal.fftconvolve(img, k, mode="same")`` for odd kernels.
"""

from __future__ import annotations

import weakref

import astropy.units as u
import numpy as np

from gammapipe.utils.errors import GeometryError

from ._fit_cache import FastSpectrum, _fd_step, _Shift

__all__ = [
    "FFT_WORKERS",
    "SPARSE_MAX",
    "KernelFFT",
    "fold_edisp",
    "fold_edisp_adjoint",
    "overlap_slices",
    "cutout_flat_indices",
    "PSFKernelBuilder",
    "IRFLookupMixin",
    "TemplateNPredEvaluator",
]

#: Threads used by `scipy.fft` (the arrays are small: more threads rarely pay off).
FFT_WORKERS = 1
#: Largest number of non-zero template pixels convolved directly instead of by FFT.
SPARSE_MAX = 16


class KernelFFT:
    """Cached FFT of a stack of convolution kernels for a fixed image shape.

    Parameters
    ----------
    kernel : `~numpy.ndarray`
        Kernels ``(n_planes, ky, kx)`` (or one 2D kernel), odd ``ky`` and ``kx``.
    image_shape : tuple of int
        ``(ny, nx)`` of the images to convolve.
    workers : int, optional
        Threads for `scipy.fft` (default `FFT_WORKERS`).
    """

    def __init__(self, kernel: np.ndarray, image_shape: tuple[int, int],
                 workers: int | None = None) -> None:
        import scipy.fft

        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.ndim == 2:
            kernel = kernel[None]
        if kernel.ndim != 3:
            raise GeometryError(f"KernelFFT: kernel must be 2D or 3D, got shape {kernel.shape}")
        ky, kx = kernel.shape[-2:]
        if ky % 2 == 0 or kx % 2 == 0:
            raise GeometryError(f"KernelFFT: kernel image shape {(ky, kx)} must be odd")
        ny, nx = (int(v) for v in image_shape)
        self.kernel_shape = (ky, kx)
        self.image_shape = (ny, nx)
        self.n_planes = kernel.shape[0]
        self.workers = FFT_WORKERS if workers is None else int(workers)
        self.fft_shape = (scipy.fft.next_fast_len(ny + ky - 1, real=True),
                          scipy.fft.next_fast_len(nx + kx - 1, real=True))
        self.center = (ky // 2, kx // 2)
        self.kernel = kernel
        self._kernel_fft_cache = None

    @property
    def _fft(self):
        """The scipy.fft module (looked up, not stored: instances stay picklable/copyable)."""
        import scipy.fft

        return scipy.fft

    @property
    def _kernel_fft(self) -> np.ndarray:
        """Real FFT of the zero-padded kernels (computed on first use, then cached)."""
        if self._kernel_fft_cache is None:
            self._kernel_fft_cache = self._fft.rfft2(self.kernel, s=self.fft_shape,
                                                     workers=self.workers)
        return self._kernel_fft_cache

    def _check(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float64)
        if images.shape[-2:] != self.image_shape:
            raise GeometryError(
                f"KernelFFT: image shape {images.shape[-2:]} differs from the shape "
                f"{self.image_shape} the kernel transform was prepared for"
            )
        if images.ndim == 2:
            images = images[None]
        if images.shape[0] not in (1, self.n_planes):
            raise GeometryError(
                f"KernelFFT: {images.shape[0]} image planes for {self.n_planes} kernel planes"
            )
        return images

    def convolve(self, images: np.ndarray, clip_negative: bool = True) -> np.ndarray:
        """Convolve images ``(n_planes or 1, ny, nx)`` with the kernels ("same" size).

        A single image plane is convolved with every kernel plane (one forward transform).
        A single plane with at most `SPARSE_MAX` non-zero pixels (a point source) is
        convolved directly as a sum of shifted kernels (exact, no round-off).
        Values below zero (FFT round-off) are set to 0 when ``clip_negative``.
        Returns ``(n_planes, ny, nx)``.
        """
        images = self._check(images)
        if images.shape[0] == 1:
            nonzero = np.flatnonzero(images[0])
            if nonzero.size <= SPARSE_MAX:
                return self._convolve_sparse(images[0], nonzero)
        ny, nx = self.image_shape
        cy, cx = self.center
        spec = self._fft.rfft2(images, s=self.fft_shape, workers=self.workers)
        full = self._fft.irfft2(spec * self._kernel_fft, s=self.fft_shape, workers=self.workers)
        out = full[:, cy:cy + ny, cx:cx + nx]
        if clip_negative:
            out = np.maximum(out, 0.0)
        return np.ascontiguousarray(out)

    def _window(self, y: int, x: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """Image and kernel slices of a kernel centred on pixel (y, x), clipped."""
        ny, nx = self.image_shape
        ky, kx = self.kernel_shape
        cy, cx = self.center
        y0, x0 = y - cy, x - cx
        iy = slice(max(y0, 0), min(y0 + ky, ny))
        ix = slice(max(x0, 0), min(x0 + kx, nx))
        kys = slice(iy.start - y0, iy.stop - y0)
        kxs = slice(ix.start - x0, ix.stop - x0)
        return (iy, ix), (kys, kxs)

    def _convolve_sparse(self, image: np.ndarray, nonzero: np.ndarray) -> np.ndarray:
        # the same sums as ``out[window] += weight * kernel`` in the same order, with the
        # products written in place (the first one straight into the zeroed output)
        out = np.zeros((self.n_planes,) + self.image_shape)
        kernel = self.kernel
        buffer = None
        nx = self.image_shape[1]
        for flat in nonzero.tolist():
            y, x = divmod(flat, nx)
            (iy, ix), (kys, kxs) = self._window(y, x)
            if iy.stop > iy.start and ix.stop > ix.start:
                part = kernel[:, kys, kxs]
                target = out[:, iy, ix]
                if buffer is None:
                    np.multiply(part, image[y, x], out=target)
                    buffer = np.empty(kernel.shape)
                    continue
                product = buffer[:, :part.shape[1], :part.shape[2]]
                np.multiply(part, image[y, x], out=product)
                np.add(target, product, out=target)
        return out

    def adjoint_at(self, images: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """`adjoint` of ``images`` summed over planes, at the flat pixel indices ``pixels``
        only (direct sums over the kernel support; cheap for a few pixels)."""
        images = self._check(images)
        out = np.zeros(len(pixels))
        for i, flat in enumerate(pixels):
            y, x = divmod(int(flat), self.image_shape[1])
            (iy, ix), (kys, kxs) = self._window(y, x)
            if iy.stop > iy.start and ix.stop > ix.start:
                out[i] = np.einsum("lyx,lyx->", images[:, iy, ix], self.kernel[:, kys, kxs])
        return out

    def adjoint(self, images: np.ndarray, sum_planes: bool = False) -> np.ndarray:
        """Transpose of `convolve` (without the clipping): correlation with the kernels.

        ``sum(adjoint(g) * t) == sum(g * convolve(t))`` for all ``g``, ``t``. With
        ``sum_planes`` the result is summed over the planes (the adjoint of convolving one
        image with every kernel plane). Returns ``(n_planes, ny, nx)`` or ``(ny, nx)``.
        """
        images = self._check(images)
        ny, nx = self.image_shape
        cy, cx = self.center
        padded = np.zeros(images.shape[:-2] + self.fft_shape)
        padded[:, cy:cy + ny, cx:cx + nx] = images
        spec = self._fft.rfft2(padded, workers=self.workers) * np.conj(self._kernel_fft)
        if sum_planes:
            spec = spec.sum(axis=0, keepdims=True)
        full = self._fft.irfft2(spec, s=self.fft_shape, workers=self.workers)
        out = full[:, :ny, :nx]
        return out[0] if sum_planes else np.ascontiguousarray(out)


def fold_edisp(planes: np.ndarray, flux: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """Predicted counts per reco bin from true-energy planes.

    ``out[k, p] = sum_l flux[l] matrix[l, k] planes[l, p]``.

    Parameters
    ----------
    planes : `~numpy.ndarray`
        ``(n_true, n_pix)`` counts per unit flux (exposure x PSF-convolved template).
    flux : `~numpy.ndarray`
        ``(n_true,)`` integral flux per true-energy bin.
    matrix : `~numpy.ndarray` or None
        Energy dispersion ``(n_true, n_reco)`` (probability of reco bin k for true bin l);
        None means the identity (reco axis == true axis).
    """
    weights = flux[:, None] * matrix if matrix is not None else np.diag(flux)
    return weights.T @ planes


def fold_edisp_adjoint(grad: np.ndarray, flux: np.ndarray,
                       matrix: np.ndarray | None) -> np.ndarray:
    """Transpose of `fold_edisp` with respect to ``planes``: ``(n_reco, n_pix)`` ->
    ``(n_true, n_pix)``."""
    weights = flux[:, None] * matrix if matrix is not None else np.diag(flux)
    return weights @ grad


def overlap_slices(parent_geom, cutout_geom) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """``(parent_slices, cutout_slices)`` of the overlapping pixels of two aligned images.

    Raises `~gammapipe.utils.errors.GeometryError` if the pixel grids are not aligned.
    """
    slices = cutout_geom.cutout_slices(parent_geom, mode="partial")
    return slices["parent-slices"], slices["cutout-slices"]


def cutout_flat_indices(mask_flat_idx: np.ndarray, parent_shape: tuple[int, ...],
                        parent_slices: tuple[slice, slice],
                        cutout_slices: tuple[slice, slice],
                        cutout_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Map flat indices of masked parent bins onto flat indices of a cutout.

    Parameters
    ----------
    mask_flat_idx : `~numpy.ndarray` or tuple
        Flat indices (C order) into an array of ``parent_shape`` ``(n_reco, ny, nx)``, or
        their ``(k, y, x)`` index arrays.
    parent_slices, cutout_slices : tuple of slice
        Overlap of the spatial pixels (see `overlap_slices`).
    cutout_shape : tuple of int
        ``(n_reco, my, mx)``.

    Returns
    -------
    positions : `~numpy.ndarray`
        Positions in ``mask_flat_idx`` of the bins inside the cutout.
    cutout_idx : `~numpy.ndarray`
        Their flat indices in the cutout array.
    """
    if isinstance(mask_flat_idx, tuple):  # precomputed (k, y, x)
        k, y, x = mask_flat_idx
    else:
        k, y, x = np.unravel_index(np.asarray(mask_flat_idx, dtype=np.intp), parent_shape)
    py, px = parent_slices
    cy, cx = cutout_slices
    inside = (y >= py.start) & (y < py.stop) & (x >= px.start) & (x < px.stop)
    positions = np.flatnonzero(inside)
    yy = y[positions] - py.start + cy.start
    xx = x[positions] - px.start + cx.start
    cutout_idx = np.ravel_multi_index((k[positions], yy, xx), cutout_shape)
    return positions, cutout_idx


def _resolve(position):
    """``position``, or its value when given as a function (lazy `SkyCoord`)."""
    return position() if callable(position) else position


_BUILDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shared_kernel_builder(psf, geom) -> PSFKernelBuilder:
    """The `PSFKernelBuilder` of ``psf`` for ``geom``, shared by every evaluator (its
    position-independent tables are built once, not once per model set); rebuilt when the
    PSF data array is replaced or edited in place."""
    data = psf.psf_map.data
    fingerprint = (id(data), float(np.sum(data)))
    entry = _BUILDERS.get(psf)
    if entry is None or entry[0] is not geom or entry[1] != fingerprint:
        entry = (geom, fingerprint, PSFKernelBuilder(psf, geom))
        _BUILDERS[psf] = entry
    return entry[2]


class PSFKernelBuilder:
    """PSF kernels of one `PSFMap` for one map geometry, rebuilt cheaply at any position.

    Gives the same kernels as ``PSFMap.get_psf_kernel(geom, position, max_radius, factor)``
    (profile bilinearly interpolated between PSF-map pixels, log-energy interpolation,
    profile sampled at ``factor x factor`` sub-pixels, clipped at 0, summed and
    normalised), with the per-energy oversampling factors of
    ``ceil(precision_factor x pixel half-width / R68(E))``. Everything that does not
    depend on the position is computed once: the PSF table as float64, the energy
    interpolation weights and, per (kernel size, factor), the rad-axis pixel coordinate of
    every sub-pixel of the kernel.

    Parameters
    ----------
    psf : `~gammapipe.datasets.PSFMap`
        The PSF map.
    geom : `~gammapipe.maps.WcsGeom`
        Geometry of the maps to convolve (with ``energy_true``; pixel size and centre are
        used).
    """

    def __init__(self, psf, geom) -> None:
        self.psf = psf
        if "energy_true" not in geom.axes.names:
            geom = geom.to_image().to_cube([psf.geom.axes["energy_true"]])
        self.geom = geom
        data = np.asarray(psf.psf_map.data, dtype=np.float64)
        self.data = data  # (n_e, n_rad, ny, nx)
        image = psf.geom.to_image()
        self.wcs = image.wcs.celestial if image.wcs.naxis > 2 else image.wcs
        self.frame = image.frame
        self.valid = psf._valid_image()
        self.e_axis_psf = psf.geom.axes["energy_true"]
        self.rad_axis = psf.geom.axes["rad"]
        self.rad_edges = self.rad_axis.edges.to_value("rad")
        fine = self.rad_axis.upsample(20)
        self.grid_deg = fine.center.to_value("deg")
        # energies: kernel planes (geom) and containment energies (PSF-map centres)
        self._e_weights = {
            "planes": self._energy_weights(geom.axes["energy_true"].center),
            "psf": self._energy_weights(self.e_axis_psf.center),
        }
        self._rad_pix: dict[tuple, tuple] = {}
        e_planes = geom.axes["energy_true"].center
        self._same_energies = e_planes.shape == self.e_axis_psf.center.shape and bool(
            np.allclose(e_planes.to_value(self.e_axis_psf.unit),
                        self.e_axis_psf.center.value, rtol=1e-12, atol=0))
        self.half_bin = 0.5 * float(np.max(u.Quantity(geom.pixel_scales, "deg").to_value("deg")))
        self._width_deg = np.asarray(u.Quantity(geom.width, "deg").to_value("deg"),
                                     float).ravel()
        self._binsz_deg = np.asarray(u.Quantity(geom.pixel_scales, "deg").to_value("deg"),
                                     float).ravel()

    def _energy_weights(self, energy) -> tuple[np.ndarray, np.ndarray] | None:
        axis = self.e_axis_psf
        if axis.nbin == 1:
            return None
        pix = np.atleast_1d(axis.coord_to_pix(u.Quantity(energy, axis.unit)))
        i0 = np.clip(np.floor(pix).astype(int), 0, axis.nbin - 2)
        return i0, (pix - i0)[:, None]

    def _profiles(self, table: np.ndarray, which: str) -> np.ndarray:
        weights = self._e_weights[which]
        if weights is None:
            n = len(self.geom.axes["energy_true"].center) if which == "planes" else 1
            return np.broadcast_to(table[0], (n,) + table.shape[1:]).copy()
        i0, w = weights
        return table[i0] * (1 - w) + table[i0 + 1] * w

    def _spatial_table(self, position, lonlat=None) -> np.ndarray:
        """(n_e, n_rad) PSF table at ``position`` (bilinear between pixels); ``lonlat``
        (deg, in the PSF-map frame) may be given instead of converting ``position``
        (which may be a function returning the position, called only when needed)."""
        from gammapipe.maps._wcs_utils import skydir_to_lonlat

        lon, lat = (skydir_to_lonlat(_resolve(position), self.frame) if lonlat is None
                    else lonlat)
        x, y = self.wcs.wcs_world2pix(np.atleast_1d(lon), np.atleast_1d(lat), 0)
        x, y = float(x[0]), float(y[0])
        ny, nx = self.data.shape[-2:]
        ix, iy = int(np.round(x)), int(np.round(y))
        if not (0 <= ix < nx and 0 <= iy < ny and self.valid[iy, ix]):
            return self.psf._spatial_profiles(_resolve(position))
        d = self.data
        x = min(max(x, 0.0), nx - 1.0)
        y = min(max(y, 0.0), ny - 1.0)
        x0, y0 = min(int(np.floor(x)), max(nx - 2, 0)), min(int(np.floor(y)), max(ny - 2, 0))
        x1, y1 = min(x0 + 1, nx - 1), min(y0 + 1, ny - 1)
        wx, wy = x - x0, y - y0
        return ((1 - wy) * ((1 - wx) * d[..., y0, x0] + wx * d[..., y0, x1])
                + wy * ((1 - wx) * d[..., y1, x0] + wx * d[..., y1, x1]))

    def _containment(self, profiles: np.ndarray) -> np.ndarray:
        """Containment of ``profiles`` on the fine rad grid (``grid_deg``)."""
        from gammapipe.irf.psf_map import psf_containment_from_profile

        return psf_containment_from_profile(profiles, self.rad_edges,
                                            np.deg2rad(self.grid_deg)[None, :])

    def _containment_radius(self, profiles: np.ndarray, fraction: float,
                            cont: np.ndarray | None = None) -> np.ndarray:
        """Fine-grid radius (deg) closest to the ``fraction`` containment; ``cont`` (the
        `_containment` of ``profiles``) may be given to reuse it."""
        if cont is None:
            cont = self._containment(profiles)
        return self.grid_deg[np.argmin(np.abs(cont - fraction), axis=-1)]

    def _rad_pixels(self, max_radius_deg: float, factor: int):
        half = self._plane_windows(np.array([max_radius_deg]))[0]
        key = (int(half[0]), int(half[1]), factor)  # the kernel geometry depends on its size
        if key not in self._rad_pix:
            from gammapipe.utils.coordinates import angular_separation_deg

            kgeom = self.geom.to_odd_npix(max_radius=max_radius_deg * u.deg)
            fine = kgeom.to_image().upsample(int(factor))
            coord = fine.get_coord()
            lon = np.asarray(coord["lon"], float)
            lat = np.asarray(coord["lat"], float)
            center = kgeom.center_skydir
            rad = angular_separation_deg(center.spherical.lon.deg, center.spherical.lat.deg,
                                         lon, lat)
            pix = self.rad_axis.coord_to_pix(u.Quantity(rad, "deg"))
            n = self.rad_axis.nbin
            i0 = np.clip(np.floor(pix).astype(int), 0, max(n - 2, 0))
            w = pix - i0
            self._rad_pix[key] = (kgeom, i0, w, self._block_operator(kgeom, i0, w, factor))
        return self._rad_pix[key]

    def _block_operator(self, kgeom, i0, w, factor: int):
        """Linear operator ``profile -> kernel pixel sums`` for the sub-pixels where the
        rad interpolation is a convex combination (no clipping needed), plus the sorted
        remaining (extrapolated) sub-pixels, handled with clipping."""
        n = self.rad_axis.nbin
        if n < 2:
            return None
        ny, nx = kgeom.data_shape[-2:]
        f = int(factor)
        kpix = (np.arange(ny)[:, None, None, None] * nx
                + np.arange(nx)[None, None, :, None]) * np.ones((1, f, 1, f), dtype=int)
        kpix = kpix.reshape(w.shape)
        interior = (w >= 0) & (w <= 1)
        matrix = np.zeros((n, ny * nx))
        np.add.at(matrix, (i0[interior], kpix[interior]), 1 - w[interior])
        np.add.at(matrix, (i0[interior] + 1, kpix[interior]), w[interior])
        # band form: each kernel pixel uses a few consecutive rad nodes
        nonzero = matrix != 0
        any_nz = nonzero.any(axis=0)
        first = np.where(any_nz, np.argmax(nonzero, axis=0), 0)
        last = np.where(any_nz, n - 1 - np.argmax(nonzero[::-1], axis=0), 0)
        width = int(np.max(last - first + 1)) if any_nz.any() else 1
        first = np.minimum(first, n - width)
        rows = first[:, None] + np.arange(width)[None, :]  # (n_kpix, width)
        band = matrix[rows, np.arange(ny * nx)[:, None]]
        ext = np.flatnonzero(~interior.ravel())
        order = ext[np.argsort(kpix.ravel()[ext], kind="stable")]
        k_sorted = kpix.ravel()[order]
        starts = np.flatnonzero(np.r_[True, np.diff(k_sorted) != 0]) if order.size else order
        ii, ww = i0.ravel()[order], w.ravel()[order]  # gathered once, not per kernel
        return (rows, band, order, k_sorted[starts] if order.size else order, starts,
                (ii, ii + 1, 1 - ww, ww))

    def _block_values(self, prof: np.ndarray, i0, w, operator, shape) -> np.ndarray:
        """Kernel pixel sums of the clipped interpolated profile ``prof`` (n, n_rad)."""
        rows, band, order, kidx, starts, (ii, ii1, w0, w1) = operator
        out = np.einsum("nkr,kr->nk", prof[:, rows], band)
        if order.size:
            values = np.clip(prof[:, ii] * w0 + prof[:, ii1] * w1, 0, None)
            out[:, kidx] += np.add.reduceat(values, starts, axis=1)
        return out.reshape((prof.shape[0],) + shape)

    def factors(self, position, precision_factor: float) -> np.ndarray:
        """Oversampling factor per PSF-map energy bin at ``position``."""
        profiles = self._profiles(self._spatial_table(position), "psf")
        return self._factors(profiles, precision_factor)

    def _factors(self, profiles, precision_factor, cont=None) -> np.ndarray:
        r68 = self._containment_radius(profiles, 0.68, cont)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.ceil(precision_factor * self.half_bin / r68 - 1e-9)
        factor = np.where(np.isfinite(factor) & (r68 > 0), factor, 1)
        return np.clip(factor, 1, 50).astype(int)

    def _plane_windows(self, radius_deg: np.ndarray) -> np.ndarray:
        """Half sizes (pixels) of the per-plane kernel images for radii ``radius_deg``:
        ``npix = odd(min(map width, 2 radius) / pixel size)`` per spatial axis."""
        from gammapipe.maps._wcs_utils import round_up_to_odd

        r = np.asarray(radius_deg, float)[:, None]
        npix = round_up_to_odd(np.minimum(self._width_deg[None, :], 2 * r)
                               / self._binsz_deg[None, :])
        return (npix - 1) // 2  # (n_planes, 2): (lon, lat)

    def kernel(self, position, containment: float = 0.999, max_radius=None,
               precision_factor: float = 12, per_plane_radius: bool = True, lonlat=None):
        """`PSFKernel` at ``position``.

        Without ``max_radius`` every true-energy plane has its own kernel size, the
        ``containment`` radius at that energy (odd number of pixels, centred), inside an
        image of the largest size; pixels outside a plane's size are 0. With
        ``per_plane_radius=False`` all planes extend to the largest radius.
        """
        from gammapipe.irf.psf_map import PSFKernel
        from gammapipe.maps import Map

        table = self._spatial_table(position, lonlat)
        prof_psf = self._profiles(table, "psf")
        profiles = self._profiles(table, "planes")  # (n_planes, n_rad)
        plane_radius = None
        cont_psf = self._containment(prof_psf)  # shared by the radius and the factors
        if max_radius is None:
            radius_psf = self._containment_radius(prof_psf, containment, cont_psf)
            max_radius_deg = float(np.max(radius_psf))
            if per_plane_radius:
                plane_radius = (radius_psf if self._same_energies
                                else self._containment_radius(profiles, containment))
        else:
            max_radius_deg = float(u.Quantity(max_radius, "deg").to_value("deg"))
        factors = self._factors(prof_psf, precision_factor, cont_psf)
        n_planes = profiles.shape[0]
        if factors.size != n_planes:
            factors = np.full(n_planes, int(np.max(factors)))
        data = None
        for f in np.unique(factors):
            kgeom, i0, w, operator = self._rad_pixels(max_radius_deg, int(f))
            sel = np.flatnonzero(factors == f)
            prof = profiles[sel]
            ny, nx = kgeom.data_shape[-2:]
            if operator is not None and np.all(prof >= 0):
                block = self._block_values(prof, i0, w, operator, (ny, nx))
            else:
                if self.rad_axis.nbin == 1:
                    values = np.broadcast_to(prof[:, :1, None], (sel.size,) + w.shape)
                else:
                    values = prof[:, i0] * (1 - w) + prof[:, i0 + 1] * w
                values = np.clip(values, 0, None)
                block = values.reshape(sel.size, ny, int(f), nx, int(f)).sum(axis=(2, 4))
            if data is None:
                data = np.zeros((n_planes, ny, nx))
            data[sel] = block
        if plane_radius is not None:
            half = self._plane_windows(plane_radius)
            ny, nx = data.shape[-2:]
            dy = np.abs(np.arange(ny) - ny // 2)
            dx = np.abs(np.arange(nx) - nx // 2)
            inside = ((dy[None, :, None] <= half[:, 1, None, None])
                      & (dx[None, None, :] <= half[:, 0, None, None]))
            data = np.where(inside, data, 0.0)
        total = data.sum(axis=(-2, -1), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.where(total > 0, data / total, 0.0)
        kmap = Map.from_geom(kgeom.to_image().to_cube([self.geom.axes["energy_true"]]),
                             data=data, unit="")
        return PSFKernel(kmap, normalize=False)


class IRFLookupMixin:
    """Cached lookups of `MapEvaluator.update` at the model position (same results as
    the generic calls): IRF-map pixel, nearest-pixel edisp kernel, `contributes` rule on
    cached mask coordinates, and reuse of the exposure cutout when its pixel window is
    unchanged. Needs ``model``, ``_spatial``, ``_lonlat()``, ``_reco_axis``,
    ``psf_width`` and ``cutout_width`` of the evaluator.
    """

    def _lonlat_in(self, frame: str) -> tuple[float, float]:
        """Model position (deg) in ``frame``."""
        from gammapipe.utils.coordinates import transform_lonlat

        lon, lat = np.degrees(self._lonlat())
        model_frame = getattr(self._spatial, "frame", None) or frame
        lon, lat = transform_lonlat(lon, lat, model_frame, frame)
        return float(lon), float(lat)

    def _irf_pixel(self, irf) -> tuple[int, int] | None:
        """(iy, ix) of the IRF-map pixel of the model position if it has exposure."""
        cache = self.__dict__.setdefault("_irf_geo", {})
        geo = cache.get(id(irf))
        if geo is None or geo[0] is not irf:
            image = irf.geom.to_image()
            wcs = image.wcs.celestial if image.wcs.naxis > 2 else image.wcs
            geo = (irf, wcs, image.frame, irf._valid_image())
            cache[id(irf)] = geo
        _, wcs, frame, valid = geo
        lon, lat = self._lonlat_in(frame)
        x, y = wcs.wcs_world2pix(np.array([lon]), np.array([lat]), 0)
        ix, iy = int(np.round(x[0])), int(np.round(y[0]))
        ny, nx = valid.shape
        if 0 <= ix < nx and 0 <= iy < ny and valid[iy, ix]:
            return iy, ix
        return None

    def _edisp_kernel(self, edisp, position):
        """Edisp kernel at the position: the nearest-pixel kernel of an `EDispKernelMap`,
        cached per pixel; other cases through ``edisp.get_edisp_kernel``. ``position``
        may be a function returning it (only called when the position is needed)."""
        pixel = None
        if type(edisp).__name__ == "EDispKernelMap" and self._lonlat() is not None:
            pixel = self._irf_pixel(edisp)
        if pixel is None:
            return edisp.get_edisp_kernel(position=_resolve(position),
                                          energy_axis=self._reco_axis)
        cache = self.__dict__.setdefault("_edisp_cache", {})
        key = (id(edisp), pixel, id(self._reco_axis))
        entry = cache.get(key)
        if entry is None or entry[0] is not edisp:
            entry = (edisp, edisp.get_edisp_kernel(position=_resolve(position),
                                                   energy_axis=self._reco_axis))
            cache[key] = entry
        return entry[1]

    def _contributes(self, mask) -> bool:
        """Whether a fitted pixel lies within evaluation_radius + PSF width + one pixel of
        the model (the `SkyModel.contributes` rule, on cached mask coordinates)."""
        if mask is None:
            return True
        cached = self.__dict__.get("_mask_geo")
        if cached is None or cached[0] is not mask:
            data = np.asarray(mask.data, dtype=bool)
            if data.ndim > 2:
                data = data.reshape((-1,) + data.shape[-2:]).any(axis=0)
            image = mask.geom.to_image()
            coords = image.get_coord()
            lon = np.asarray(getattr(coords.lon, "value", coords.lon), float).reshape(data.shape)
            lat = np.asarray(getattr(coords.lat, "value", coords.lat), float).reshape(data.shape)
            pix = float(np.max(u.Quantity(image.pixel_scales, "deg").to_value("deg")))
            wcs = image.wcs.celestial if image.wcs.naxis > 2 else image.wcs
            cached = (mask, np.deg2rad(lon[data]), np.deg2rad(lat[data]), image.frame, pix,
                      wcs, data)
            self.__dict__["_mask_geo"] = cached
        _, lon, lat, frame, pix, wcs, data = cached
        if lon.size == 0:
            return False
        position = self._lonlat_in(frame)
        x, y = wcs.wcs_world2pix(np.array([position[0]]), np.array([position[1]]), 0)
        ix, iy = int(np.round(x[0])), int(np.round(y[0]))
        if 0 <= iy < data.shape[0] and 0 <= ix < data.shape[1] and data[iy, ix]:
            return True  # on a fitted pixel
        plon, plat = np.deg2rad(position)
        s = (np.sin((lat - plat) / 2) ** 2
             + np.cos(lat) * np.cos(plat) * np.sin((lon - plon) / 2) ** 2)
        sep = np.degrees(2 * np.arcsin(np.sqrt(np.clip(s, 0, 1))))
        limit = (u.Quantity(self.model.evaluation_radius, "deg").to_value("deg")
                 + self.psf_width.to_value("deg") + pix)
        return bool(np.any(sep <= limit))

    def _exposure_cutout(self, exposure):
        """Exposure cut out around the model (odd size, trimmed); the previous cutout is
        reused when the pixel window is the same."""
        from astropy.nddata.utils import overlap_slices as astropy_overlap_slices

        from gammapipe.maps._wcs_utils import round_up_to_odd

        geom = exposure.geom
        image = self.__dict__.get("_exp_image")
        if image is None or image[0] is not geom:
            img = geom.to_image()
            wcs = img.wcs.celestial if img.wcs.naxis > 2 else img.wcs
            scales = np.asarray(u.Quantity(img.pixel_scales, "deg").to_value("deg"), float)
            image = (geom, wcs, img.frame, scales, tuple(img.data_shape)[-2:])
            self.__dict__["_exp_image"] = image
        _, wcs, frame, scales, shape = image
        width_q = self.cutout_width  # Quantity arithmetic: computed once per update
        width = width_q.to_value("deg")
        npix = round_up_to_odd(np.clip(width / scales.ravel(), 1, None))
        cut_shape = (int(np.round(npix[-1])), int(np.round(npix[0])))
        lon, lat = self._lonlat_in(frame)
        x, y = wcs.wcs_world2pix(np.array([lon]), np.array([lat]), 0)
        key = None
        if np.isfinite(x[0]) and np.isfinite(y[0]):
            try:
                key = (id(exposure), cut_shape, astropy_overlap_slices(
                    shape, cut_shape, (float(y[0]), float(x[0])), mode="trim"))
            except Exception:  # noqa: BLE001 - no overlap: let Map.cutout raise
                key = None
        previous = self.__dict__.get("_exp_cutout")
        if key is not None and previous is not None and previous[0] == key:
            return previous[1]
        cutout = exposure.cutout(position=(lon, lat), width=width_q, odd_npix=True)
        self.__dict__["_exp_cutout"] = (key, cutout)
        return cutout


class TemplateNPredEvaluator:
    """Evaluator of a `TemplateNPredModel` (a predicted-counts template times a norm
    spectral model at the reco bin centres) with the `MapEvaluator` fit interface."""

    def __init__(self, model, geom) -> None:
        self.model = model
        self.contributes = True
        self.parent_slices = None
        self.cutout_slices = None
        self.cutout_key = (0, True)
        self.update_count = 0
        self._geom = geom
        self._data = np.asarray(model.map.data, dtype=np.float64)
        if self._data.shape != tuple(geom.data_shape):
            raise GeometryError(
                f"TemplateNPredModel {model.name!r}: map shape {self._data.shape} differs "
                f"from the dataset shape {tuple(geom.data_shape)}"
            )
        self.cutout_shape = self._data.shape[-2:]
        self.npred_size = self._data.size
        self._spec = FastSpectrum(model.spectral_model,
                                  energy=model.map.geom.axes["energy"].center, unit="")
        self._generic = model.spatial_model is not None

    def refresh(self) -> None:
        """Nothing to refresh (no IRFs)."""

    def npred_array(self) -> np.ndarray:
        """Scaled template."""
        if self._generic:
            return np.asarray(self.model.evaluate().data, dtype=np.float64)
        return self._data * self._spec.values()[:, None, None]

    def compute_npred(self):
        """Scaled template as a Map."""
        return self.model.evaluate()

    def stat_gradient(self, grad_npred, parameters) -> dict[int, float]:
        """Gradient of the statistic for the template's norm parameters."""
        own = {id(p) for p in self.model.parameters}
        pars = [p for p in parameters if id(p) in own]
        g = np.asarray(grad_npred, dtype=np.float64).reshape(self._data.shape)
        out = {}
        if not self._generic:
            per_bin = (g * self._data).reshape(self._data.shape[0], -1).sum(axis=1)
            for key, d in self._spec.gradient(pars).items():
                out[key] = float(np.dot(per_bin, d))
            return out
        for p in pars:
            value, h = p.value, _fd_step(p.value, p.scale)
            with _Shift(p, value + h):
                up = self.npred_array()
            with _Shift(p, value - h):
                down = self.npred_array()
            out[id(p)] = float(np.sum(g * (up - down))) / (2 * h)
        return out
