"""Ring background: OFF counts and OFF acceptance summed over a ring around every pixel
(outside the exclusion regions), giving a `~gammapipe.datasets.MapDatasetOnOff`.

For each pixel ``p`` with background model ``b`` and counts ``n``::

    counts_off(p)     = sum_{q in ring(p)} n(q) e(q)
    acceptance_off(p) = sum_{q in ring(p)} b(q) e(q)
    acceptance(p)     = b(p)

where ``e`` is the exclusion mask (1 = usable), so ``alpha = acceptance / acceptance_off``
and the background estimate is ``alpha x counts_off``. Ring sums are FFT convolutions of
all energy planes at once.
"""

from __future__ import annotations

import itertools

import numpy as np
from astropy.coordinates import Angle

from gammapipe.utils.errors import GeometryError

from ..core import Maker

__all__ = ["RingBackgroundMaker", "AdaptiveRingBackgroundMaker", "ring_kernel",
           "tophat_kernel"]


def _odd_size(radius: float) -> int:
    n = int(np.ceil(2 * radius))
    return n + 1 if n % 2 == 0 else n


def ring_kernel(r_in: float, width: float) -> np.ndarray:
    """Ring of ones (pixel centres with ``r_in <= r <= r_in + width``, in pixels)."""
    r_out = float(r_in) + float(width)
    if width <= 0 or r_in < 0:
        raise ValueError(f"ring_kernel: need r_in >= 0 and width > 0 pixels, got {r_in}, "
                         f"{width}")
    size = _odd_size(r_out)
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    rr = x * x + y * y
    return ((rr >= r_in ** 2) & (rr <= r_out ** 2)).astype(float)


def tophat_kernel(radius: float) -> np.ndarray:
    """Disk of ones (pixel centres with ``r <= radius``, in pixels)."""
    radius = float(radius)
    size = _odd_size(radius)
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    return ((x * x + y * y) <= radius ** 2).astype(float)


def _pixel_scale_deg(geom) -> float:
    if not hasattr(geom, "pixel_scales"):
        raise GeometryError("ring background needs a WCS geometry")
    return float(np.abs(geom.pixel_scales.deg[0]))


def _exclusion_on(geom, exclusion_mask) -> np.ndarray:
    """Exclusion mask (True = usable) on the image grid of ``geom``."""
    if exclusion_mask is None:
        return np.ones(tuple(geom.data_shape_image), dtype=bool)
    from gammapipe.datasets.map_dataset_ops import mask_on_grid

    data = np.asarray(exclusion_mask.data, bool)
    data = data.reshape((-1,) + data.shape[-2:]).all(axis=0)
    return np.asarray(mask_on_grid(data, exclusion_mask.geom.to_image(), geom.to_image()),
                      bool)


def _convolve(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    from gammapipe.maps._convolve import convolve_images

    out = convolve_images(np.asarray(data, float), kernel)
    # the sums are of non-negative values: remove FFT round-off
    return np.where(np.abs(out) < 1e-9 * max(float(np.max(np.abs(out))), 1.0), 0.0, out)


class RingBackgroundMaker(Maker):
    """Ring background method for images or cubes.

    Parameters
    ----------
    r_in : str or `~astropy.coordinates.Angle`
        Inner ring radius.
    width : str or `~astropy.coordinates.Angle`
        Ring width.
    exclusion_mask : `~gammapipe.maps.WcsNDMap`, optional
        Boolean mask, True where counts may be used as OFF counts.
    """

    tag = "RingBackgroundMaker"

    def __init__(self, r_in, width, exclusion_mask=None):
        self.r_in = Angle(r_in)
        self.width = Angle(width)
        if self.width.deg <= 0 or self.r_in.deg < 0:
            raise ValueError("RingBackgroundMaker: need r_in >= 0 and width > 0")
        self.exclusion_mask = exclusion_mask

    def kernel(self, geom) -> np.ndarray:
        """Ring kernel in pixels of ``geom``."""
        scale = _pixel_scale_deg(geom)
        return ring_kernel(self.r_in.deg / scale, self.width.deg / scale)

    def make_maps_off(self, dataset) -> dict:
        """``counts_off`` and ``acceptance_off`` maps of ``dataset``."""
        counts = dataset.counts
        background = dataset.npred_background()
        exclusion = _exclusion_on(counts.geom, self.exclusion_mask)
        ring = self.kernel(counts.geom)
        counts_off = _convolve(np.asarray(counts.data, float) * exclusion, ring)
        acceptance_off = _convolve(np.asarray(background.data, float) * exclusion, ring)
        return {"counts_off": counts.copy(data=counts_off.astype("float32"), unit=""),
                "acceptance_off": counts.copy(data=acceptance_off, unit="")}

    def run(self, dataset, observation=None):
        """`~gammapipe.datasets.MapDatasetOnOff` with ring OFF counts.

        Pixels without OFF acceptance are removed from the safe mask.
        """
        from gammapipe.datasets.map_onoff import MapDatasetOnOff

        if dataset.background is None:
            raise GeometryError(f"RingBackgroundMaker: dataset {dataset.name!r} has no "
                                "background model map (acceptance)")
        maps = self.make_maps_off(dataset)
        acceptance = dataset.npred_background()
        return _on_off(MapDatasetOnOff, dataset, acceptance, maps["acceptance_off"],
                       maps["counts_off"])


def _on_off(cls, dataset, acceptance, acceptance_off, counts_off):
    mask = np.ones(dataset.counts.data.shape, bool) if dataset.mask_safe is None else \
        np.asarray(dataset.mask_safe.data, bool).copy()
    mask &= np.asarray(acceptance_off.data) > 0
    on_off = cls.from_map_dataset(dataset, acceptance=acceptance.copy(
        data=np.asarray(acceptance.data, float), unit=""), acceptance_off=acceptance_off,
        counts_off=counts_off, name=dataset.name)
    on_off.mask_safe = dataset.counts.copy(data=mask, unit="")
    return on_off


class AdaptiveRingBackgroundMaker(Maker):
    """Adaptive ring background: per pixel the smallest ring with enough OFF acceptance.

    Rings are enlarged (``method="fixed_width"``: the inner radius grows by ``stepsize``
    up to ``r_out_max - width``; ``"fixed_r_in"``: the width grows) until the
    approximate alpha ``acceptance_theta / acceptance_off`` drops below
    ``threshold_alpha``. ``acceptance_theta`` is the background summed in a top-hat whose
    radius in pixels is ``theta[deg] x pixel size[deg]``, the reference tool's
    convention: for sub-degree pixels it is the pixel's own background, i.e. the
    approximate alpha is the per-pixel alpha of the ring. The returned acceptance is the
    per-pixel background. Pixels reaching no ring get no OFF counts and are removed from
    the safe mask. Only images (one reco energy bin) are
    supported; use ``dataset.to_image()`` first.

    Parameters
    ----------
    r_in, r_out_max, width, stepsize, theta : str or `~astropy.coordinates.Angle`
        Ring geometry (see above).
    threshold_alpha : float
        Maximal approximate alpha.
    method : {"fixed_width", "fixed_r_in"}
        Which ring dimension grows.
    exclusion_mask : `~gammapipe.maps.WcsNDMap`, optional
        Boolean mask, True where counts may be used as OFF counts.
    """

    tag = "AdaptiveRingBackgroundMaker"

    def __init__(self, r_in="0.22 deg", r_out_max="0.8 deg", width="0.1 deg",
                 stepsize="0.02 deg", threshold_alpha=0.1, theta="0.22 deg",
                 method="fixed_width", exclusion_mask=None):
        if method not in ("fixed_width", "fixed_r_in"):
            raise ValueError(f"argument 'method': must be 'fixed_width' or 'fixed_r_in', "
                             f"got {method!r}")
        self.r_in = Angle(r_in)
        self.r_out_max = Angle(r_out_max)
        self.width = Angle(width)
        self.stepsize = Angle(stepsize)
        if self.stepsize.deg <= 0:
            raise ValueError("argument 'stepsize' must be positive")
        self.threshold_alpha = float(threshold_alpha)
        self.theta = Angle(theta)
        self.method = method
        self.exclusion_mask = exclusion_mask

    def kernels(self, geom) -> list[np.ndarray]:
        """Ring kernels (pixels of ``geom``) in order of increasing size."""
        scale = _pixel_scale_deg(geom)
        r_in = self.r_in.deg / scale
        r_out_max = self.r_out_max.deg / scale
        width = self.width.deg / scale
        step = self.stepsize.deg / scale
        if self.method == "fixed_width":
            r_ins, widths = np.arange(r_in, r_out_max - width, step), [width]
        else:
            r_ins, widths = [r_in], np.arange(width, r_out_max - r_in, step)
        kernels = [ring_kernel(a, b) for a, b in itertools.product(r_ins, widths)]
        if not kernels:
            raise ValueError("AdaptiveRingBackgroundMaker: no ring fits below r_out_max")
        return kernels

    def make_cubes(self, dataset) -> dict:
        """Per ring size: ``counts_off``, ``acceptance_off`` and ``acceptance`` (theta)
        images, stacked along a leading axis."""
        counts = dataset.counts
        if counts.data.ndim != 3 or counts.data.shape[0] != 1:
            raise GeometryError("AdaptiveRingBackgroundMaker: only images (one reco energy "
                                "bin) are supported; use dataset.to_image()")
        background = np.asarray(dataset.npred_background().data, float)[0]
        exclusion = _exclusion_on(counts.geom, self.exclusion_mask)
        kernels = self.kernels(counts.geom)
        size = max(k.shape[0] for k in kernels)
        stack = np.zeros((len(kernels), size, size))
        for i, k in enumerate(kernels):
            pad = (size - k.shape[0]) // 2
            stack[i, pad:pad + k.shape[0], pad:pad + k.shape[1]] = k
        n_img = np.asarray(counts.data, float)[0] * exclusion
        b_img = background * exclusion
        scale = _pixel_scale_deg(counts.geom)
        # reference convention: top-hat radius theta[deg] x pixel size[deg] in pixels
        # (for sub-degree pixels this is the pixel itself)
        tophat = tophat_kernel(self.theta.deg * scale)
        return {
            "counts_off": _convolve(np.broadcast_to(n_img, stack.shape[:1] + n_img.shape),
                                    stack),
            "acceptance_off": _convolve(np.broadcast_to(b_img, stack.shape[:1] + b_img.shape),
                                        stack),
            "acceptance_theta": _convolve(background, tophat),
        }

    def run(self, dataset, observation=None):
        """`~gammapipe.datasets.MapDatasetOnOff` with adaptive-ring OFF counts."""
        from gammapipe.datasets.map_onoff import MapDatasetOnOff

        if dataset.background is None:
            raise GeometryError(f"AdaptiveRingBackgroundMaker: dataset {dataset.name!r} has "
                                "no background model map")
        cubes = self.make_cubes(dataset)
        acc_off_cube = cubes["acceptance_off"]
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha_approx = np.where(acc_off_cube > 0,
                                    cubes["acceptance_theta"][None] / acc_off_cube, np.inf)
        ok = alpha_approx <= self.threshold_alpha
        first = np.argmax(ok, axis=0)
        found = ok.any(axis=0)
        iy, ix = np.indices(first.shape)
        counts_off = np.where(found, cubes["counts_off"][first, iy, ix], np.nan)
        acceptance_off = np.where(found, acc_off_cube[first, iy, ix], np.nan)
        counts = dataset.counts
        acceptance = dataset.npred_background()
        counts_off_map = counts.copy(data=counts_off[None].astype("float32"), unit="")
        acceptance_off_map = counts.copy(data=np.nan_to_num(acceptance_off[None]), unit="")
        on_off = _on_off(MapDatasetOnOff, dataset, acceptance, acceptance_off_map,
                         counts_off_map)
        on_off.counts_off.data = np.nan_to_num(on_off.counts_off.data)
        return on_off


