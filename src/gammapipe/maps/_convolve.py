"""Smoothing kernels (Gaussian, disk, box), FFT convolution and smoothing of image stacks.

Kernels are 2D float64 arrays of odd size, centred on the middle pixel and normalised
to unit sum, so that convolution preserves the total of a map whose signal does not
reach the borders. Widths are in pixels.

`smooth_images` follows the conventional definitions of the three smoothing kernels:
the Gaussian and the box are separable filters applied with reflecting borders
(`scipy.ndimage.gaussian_filter` truncated at 4 sigma, `scipy.ndimage.uniform_filter`),
the disk is a centre-sampled top-hat applied by FFT convolution with zero borders. All
image planes are processed in one call (``axes=(-2, -1)``).
"""

from __future__ import annotations

import numpy as np

from gammapipe.utils.errors import GammapipeError

__all__ = [
    "smooth_images",
    "gauss_kernel",
    "disk_kernel",
    "box_kernel",
    "make_kernel",
    "convolve_images",
]


def _odd(size: float) -> int:
    n = int(np.ceil(size))
    return n + 1 if n % 2 == 0 else n


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    half = size // 2
    x = np.arange(-half, half + 1, dtype=float)
    return np.meshgrid(x, x, indexing="xy")


def _check_width(width: float, name: str) -> float:
    width = float(width)
    if not np.isfinite(width) or width <= 0:
        raise GammapipeError(f"argument {name!r}: kernel width must be > 0 pixels, got {width}")
    return width


def gauss_kernel(sigma: float, size: int | None = None) -> np.ndarray:
    """Symmetric 2D Gaussian sampled at pixel centres, normalised to unit sum.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels.
    size : int, optional
        Side length (odd); default covers +-4 sigma (``8 sigma`` wide).
    """
    sigma = _check_width(sigma, "width")
    size = _odd(8 * sigma) if size is None else _odd(size)
    x, y = _grid(max(size, 3))
    kernel = np.exp(-0.5 * (x**2 + y**2) / sigma**2)
    return kernel / kernel.sum()


def disk_kernel(radius: float, size: int | None = None, oversample: int = 1) -> np.ndarray:
    """Top-hat disk of ``radius`` pixels, normalised to unit sum.

    Pixels are included when their centre lies within the radius (``oversample=1``); with
    ``oversample > 1`` each pixel is weighted by the fraction of ``oversample**2``
    sub-pixel centres inside the disk.
    """
    radius = _check_width(radius, "width")
    size = 2 * int(np.floor(radius)) + 1 if size is None else _odd(size)
    half = size // 2
    n = size * oversample
    sub = (np.arange(n) + 0.5) / oversample - 0.5 - half
    x, y = np.meshgrid(sub, sub, indexing="xy")
    inside = (x**2 + y**2 <= radius**2).astype(float)
    kernel = inside.reshape(size, oversample, size, oversample).sum(axis=(1, 3))
    if kernel.sum() == 0:
        kernel[half, half] = 1.0
    return kernel / kernel.sum()


def _box_1d(width: float, size: int) -> np.ndarray:
    half = size // 2
    x = np.arange(-half, half + 1, dtype=float)
    lo = np.maximum(x - 0.5, -width / 2)
    hi = np.minimum(x + 0.5, width / 2)
    return np.clip(hi - lo, 0, None)


def box_kernel(width: float, size: int | None = None) -> np.ndarray:
    """Square box of full side ``width`` pixels (exact pixel overlap), unit sum."""
    width = _check_width(width, "width")
    size = _odd(width) if size is None else _odd(size)
    k1 = _box_1d(width, size)
    kernel = np.outer(k1, k1)
    return kernel / kernel.sum()


_KERNELS = {"gauss": gauss_kernel, "disk": disk_kernel, "box": box_kernel}


def make_kernel(kernel: str, width: float, **kwargs) -> np.ndarray:
    """Kernel by name: ``"gauss"`` (width = sigma), ``"disk"`` (radius), ``"box"`` (side)."""
    try:
        func = _KERNELS[kernel]
    except KeyError:
        raise GammapipeError(
            f"argument 'kernel': {kernel!r} is not one of {sorted(_KERNELS)}"
        ) from None
    return func(width, **kwargs)


def convolve_images(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every image (last two axes) of ``data`` with ``kernel``, output same shape.

    Parameters
    ----------
    data : ndarray, shape (..., ny, nx)
        Image stack. Values beyond the borders are taken as zero.
    kernel : ndarray, shape (ky, kx) or (..., ky, kx)
        One kernel for all images, or one kernel per image (leading shape equal to or
        broadcastable against ``data.shape[:-2]``).

    Notes
    -----
    All planes are convolved in one FFT call (``scipy.signal.fftconvolve`` with
    ``axes=(-2, -1)``). Round-off noise of order 1e-16 times the maximum is removed for
    non-negative input so that empty regions stay exactly zero-ish but non-negative.
    """
    from scipy.signal import fftconvolve

    data = np.asarray(data, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if data.ndim < 2 or kernel.ndim < 2:
        raise GammapipeError("convolve: data and kernel need at least two (image) dimensions")
    lead = np.broadcast_shapes(data.shape[:-2], kernel.shape[:-2])
    data_b = np.broadcast_to(data, lead + data.shape[-2:])
    kernel_b = np.broadcast_to(kernel, lead + kernel.shape[-2:])
    finite = np.isfinite(data_b)
    clean = np.where(finite, data_b, 0.0)
    out = fftconvolve(clean, kernel_b, mode="full", axes=(-2, -1))
    ky, kx = kernel.shape[-2:]
    ny, nx = data.shape[-2:]
    y0, x0 = (ky - 1) // 2, (kx - 1) // 2
    out = out[..., y0 : y0 + ny, x0 : x0 + nx]
    if np.all(clean >= 0) and np.all(kernel_b >= 0):
        out = np.clip(out, 0, None)
    return np.ascontiguousarray(out)


def smooth_images(data: np.ndarray, kernel: str, width: float, **kwargs) -> np.ndarray:
    """Smooth every image (last two axes) of ``data``.

    Parameters
    ----------
    data : ndarray, shape (..., ny, nx)
        Image stack.
    kernel : {"gauss", "disk", "box"}
        ``gauss``: Gaussian of standard deviation ``width`` (reflecting borders);
        ``disk``: top-hat of radius ``width`` (zero borders, FFT);
        ``box``: square of side ``round(width)`` pixels (reflecting borders).
    width : float
        Kernel width in pixels.
    **kwargs
        Passed to `scipy.ndimage.gaussian_filter` / `scipy.ndimage.uniform_filter`
        (e.g. ``mode``, ``truncate``) or to `disk_kernel`.
    """
    from scipy import ndimage

    data = np.asarray(data, dtype=np.float64)
    width = _check_width(width, "width")
    if kernel == "gauss":
        return ndimage.gaussian_filter(data, width, axes=(-2, -1), **kwargs)
    if kernel == "box":
        size = max(int(round(width)), 1)
        return ndimage.uniform_filter(data, size, axes=(-2, -1), **kwargs)
    if kernel == "disk":
        return convolve_images(data, disk_kernel(width, **kwargs))
    raise GammapipeError(f"argument 'kernel': {kernel!r} is not one of {sorted(_KERNELS)}")
