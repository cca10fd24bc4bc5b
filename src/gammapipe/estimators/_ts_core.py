"""Vectorised per-pixel amplitude fits for TS maps (pure numpy on float64 arrays).

For a trial source at pixel ``i`` with amplitude ``a`` the predicted counts in pixel ``j`` of
the kernel footprint are ``mu_ij = b_j + a * x_j * K(j - i)`` (``b`` background, ``x`` counts
per unit amplitude, ``K`` the source kernel with unit sum). All pixels are fitted together:
the footprint patches are gathered with a strided window view (chunks of pixels), and the
Cash statistic, gradient and curvature are reduced along the footprint axis. The starting
amplitude is the linear least-squares estimate computed with two FFT correlations.
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from ..stats.fit_statistics import TRUNCATION_VALUE

__all__ = ["initial_amplitude", "fit_amplitudes"]

_CHUNK_ELEMENTS = 150_000  # footprint elements per chunk (cache friendly)


def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out_i = sum_j image_j K(j - i)`` (same shape as ``image``) by FFT."""
    from ..maps._convolve import convolve_images

    return convolve_images(image, kernel[::-1, ::-1])


def initial_amplitude(counts, background, x, kernel) -> np.ndarray:
    """Least-squares amplitude ``sum (c - b) s / sum s^2`` with ``s_ij = x_j K(j - i)``."""
    num = _correlate((counts - background) * x, kernel)
    den = _correlate(x**2, kernel**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


def newton_from_zero(counts, background, x, kernel) -> np.ndarray:
    """First Newton step of the Cash fit from ``a = 0``, for all pixels by FFT.

    ``grad(0) = 2 (sum s - sum c s / b)`` and ``hess(0) = 2 sum c s^2 / b^2`` with
    ``s_ij = x_j K(j - i)`` are correlations of images with ``K`` and ``K^2``.
    """
    b = np.where(background > 0, background, np.inf)
    grad = 2.0 * (_correlate(x, kernel) - _correlate(counts * x / b, kernel))
    hess = 2.0 * _correlate(counts * (x / b) ** 2, kernel**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hess > 0, -grad / hess, np.nan)


def _patch_index(width: int, image_shape, flat_idx: np.ndarray,
                 offsets: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Indices (n, len(offsets)) of the footprints around the pixels ``flat_idx`` in the
    flattened zero-padded image (row length ``width``); ``offsets`` are the flat offsets of
    the kept kernel pixels in it."""
    iy, ix = np.unravel_index(flat_idx, image_shape)
    base = iy * width + ix
    return np.add(base[:, None], offsets[None, :], out=out)


def _pad_flat(image: np.ndarray, half: tuple[int, int]) -> np.ndarray:
    hy, hx = half
    return np.pad(image, ((hy, hy), (hx, hx))).ravel()


def _footprint(kernel: np.ndarray, image_shape: tuple[int, int],
               dropped_mass: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Kept kernel pixels: the largest weights holding all but ``dropped_mass`` of the
    kernel sum (the faint outskirts change the amplitudes by less than that fraction).
    Returns flat offsets in the padded image and the weights."""
    ky, kx = kernel.shape
    flat = kernel.ravel()
    order = np.argsort(flat)  # ascending
    cum = np.cumsum(flat[order])
    n_drop = int(np.searchsorted(cum, dropped_mass * flat.sum(), side="right"))
    keep = np.zeros(flat.size, bool)
    keep[order[n_drop:]] = True
    keep &= flat > 0
    jy, jx = np.unravel_index(np.flatnonzero(keep), kernel.shape)
    width = image_shape[1] + 2 * (kx // 2)
    return jy * width + jx, kernel[jy, jx]


def _offsets_to_kernel_index(offsets: np.ndarray, image_shape: tuple[int, int],
                             kernel_shape: tuple[int, int]) -> np.ndarray:
    """Flat kernel indices of padded-image offsets made by `_footprint`."""
    width = image_shape[1] + 2 * (kernel_shape[1] // 2)
    jy, jx = np.divmod(offsets, width)
    return jy * kernel_shape[1] + jx


class _Workspace:
    """Arrays reused from chunk to chunk (one workspace per thread): fresh arrays of this
    size would be new memory pages to fault in every time."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        """Uninitialised array ``name`` of ``shape`` (contents of the last use)."""
        size = math.prod(shape)
        buf = self._arrays.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self._arrays[name] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)


class _Chunk:
    """Footprints of one chunk of pixels and the Cash statistic along them.

    Uses ``sum(mu) = B + a S`` (with ``B``, ``S`` the footprint sums of background and signal)
    so that only the counts-weighted terms need the full footprint arrays.
    """

    def __init__(self, c, b, s, workspace: _Workspace | None = None) -> None:
        self.ws = _Workspace() if workspace is None else workspace
        self.generation = 0
        self.B = b.sum(axis=1)
        self.S = s.sum(axis=1)
        # amplitude where the prediction of some footprint pixel reaches zero
        with np.errstate(divide="ignore", invalid="ignore"):
            # +inf (ignored) where s = 0, NaN (ignored) where b = s = 0
            ratio = np.divide(b, s, out=self.ws.get("mu", s.shape))
        self.a_min = (-np.fmin.reduce(ratio, axis=1) if ratio.shape[1]
                      else np.full(b.shape[0], -np.inf))
        self.a_min = np.where(np.isnan(self.a_min), -np.inf, self.a_min)
        self.c, self.b, self.s = c, b, s

    def take(self, rows: np.ndarray) -> _Chunk:
        """Chunk restricted to some of its pixels."""
        new = object.__new__(_Chunk)
        new.ws, new.generation = self.ws, self.generation + 1
        # sub-chunks alternate between two sets of buffers (never their parent's)
        tag = f"sub{new.generation % 2}"
        shape = (rows.size, self.c.shape[1])
        new.c, new.b, new.s = (np.take(arr, rows, axis=0, out=self.ws.get(name + tag, shape),
                                       mode="wrap")
                               for name, arr in (("c", self.c), ("b", self.b), ("s", self.s)))
        new.B, new.S, new.a_min = self.B[rows], self.S[rows], self.a_min[rows]
        return new

    def _mu(self, a: np.ndarray) -> np.ndarray:
        mu = np.multiply(self.s, a[:, None], out=self.ws.get("mu", self.s.shape))
        mu += self.b
        return np.maximum(mu, TRUNCATION_VALUE, out=mu)

    def stat(self, a: np.ndarray) -> np.ndarray:
        # mu >= TRUNCATION_VALUE: the log is finite, so zero counts add exact zeros
        log_mu = np.log(self._mu(a), out=self.ws.get("mu", self.s.shape))
        return 2.0 * (self.B + a * self.S - np.einsum("ij,ij->i", self.c, log_mu))

    def grad_hess(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = self._mu(a)
        t = np.divide(self.s, mu, out=mu)  # s / mu, in place
        ct = np.multiply(self.c, t, out=self.ws.get("ct", t.shape))
        grad = 2.0 * (self.S - ct.sum(axis=1))
        hess = 2.0 * np.einsum("ij,ij->i", ct, t)
        return grad, hess

    def crossing(self, a0: np.ndarray, target: np.ndarray, side: float, step: np.ndarray,
                 n_iter: int = 30, xtol: float = 1e-6) -> np.ndarray:
        """Amplitude where stat = target on one side of the minimum ``a0``.

        Newton iterations on the convex profile, started at the parabolic guess
        ``a0 + side * step``: after at most one overshoot they approach the root
        monotonically from outside. NaN where the profile stays below the target (e.g.
        down to the amplitude bound).
        """
        floor = self.a_min + 1e-9 * np.maximum(np.abs(self.a_min), 1e-9)
        x = a0 + side * step
        if side < 0:
            x = np.maximum(x, floor)
        out = np.full(a0.shape, np.nan)
        rows = np.arange(a0.size)
        sub = self
        tol = xtol * np.maximum(step, 1e-12)
        for _ in range(n_iter):
            f = sub.stat(x) - target[rows]
            g, _h = sub.grad_hess(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                dx = np.where(g * side > 0, -f / g, side * np.abs(x - a0[rows]) + side * tol[rows])
            new = x + dx
            if side < 0:
                stuck = (new <= sub.a_min) & (x <= floor[rows] * 1.0 + 0.0) & (f < 0)
                new = np.maximum(new, 0.5 * (x + sub.a_min))
            else:
                stuck = np.zeros(x.size, bool)
            # never cross back over the minimum
            new = np.where((new - a0[rows]) * side <= 0, 0.5 * (x + a0[rows]), new)
            done = (np.abs(new - x) <= tol[rows]) | stuck
            out[rows[done & ~stuck]] = new[done & ~stuck]
            keep = ~done
            rows, x = rows[keep], new[keep]
            if rows.size == 0:
                break
            sub = self.take(rows)
        return out


def fit_amplitudes(counts, background, x, kernel, a_init, rtol: float = 0.01,
                   max_iter: int = 30, threshold: float | None = None,
                   n_sigma: float = 1, n_sigma_ul: float = 2,
                   errn_errp: bool = False, ul: bool = False,
                   pixel_mask: np.ndarray | None = None,
                   n_threads: int | None = None) -> dict[str, np.ndarray]:
    """Best-fit amplitude, errors, TS and iterations for every pixel of the image.

    Parameters
    ----------
    counts, background, x : ndarray (ny, nx)
        Counts, predicted background counts and counts per unit amplitude.
    kernel : ndarray (ky, kx)
        Source kernel (unit sum), odd shape.
    a_init : ndarray (ny, nx)
        Starting amplitudes.
    rtol : float
        Stop when the Newton step is below ``rtol`` times the amplitude error.
    threshold : float, optional
        Pixels whose TS at the starting amplitude is below are not optimised.
    pixel_mask : ndarray of bool, optional
        Pixels to compute (others NaN).
    n_threads : int, optional
        Threads running the chunks of pixels (default: `default_threads`); the results do
        not depend on it.
    """
    ny, nx = counts.shape
    ky, kx = kernel.shape
    half = (ky // 2, kx // 2)
    offsets, kflat = _footprint(kernel, counts.shape)
    n_pix = ny * nx
    keys = ["norm", "norm_err", "ts", "stat", "stat_null", "niter", "success"]
    if errn_errp:
        keys += ["norm_errn", "norm_errp"]
    if ul:
        keys += ["norm_ul"]
    out = {k: np.full(n_pix, np.nan) for k in keys}
    todo = np.arange(n_pix) if pixel_mask is None else np.flatnonzero(pixel_mask)
    # statistic without source: correlation of the per-pixel Cash terms with the footprint
    footprint = np.zeros((ky, kx))
    footprint.ravel()[_offsets_to_kernel_index(offsets, counts.shape, kernel.shape)] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_b = np.log(np.maximum(background, TRUNCATION_VALUE))
    cash0 = 2.0 * (background - np.where(counts > 0, counts * log_b, 0.0))
    stat_null_all = _correlate(cash0, footprint).ravel()
    chunk = max(1, _CHUNK_ELEMENTS // kflat.size)
    kernel_fp = np.zeros_like(kernel)
    kernel_fp.ravel()[_offsets_to_kernel_index(offsets, counts.shape, kernel.shape)] = kflat
    a_newton = newton_from_zero(counts, background, x, kernel_fp)
    a_flat = np.where(np.isfinite(a_newton), a_newton, a_init).ravel()
    width = nx + 2 * half[1]
    c_pad, b_pad, x_pad = (_pad_flat(np.asarray(arr, dtype=np.float64), half)
                           for arr in (counts, background, x))
    workspaces = _ThreadWorkspaces()

    def fit_chunk(start: int) -> None:
        idx = todo[start : start + chunk]
        ws = workspaces.get()
        shape = (idx.size, offsets.size)
        flat = _patch_index(width, counts.shape, idx, offsets,
                            out=ws.get("index", shape, np.intp))
        # indices are in range by construction: "wrap" skips the (slow) bounds checks
        c, b, s = (arr.take(flat, out=ws.get(name, shape), mode="wrap")
                   for name, arr in (("c", c_pad), ("b", b_pad), ("s", x_pad)))
        s *= kflat
        ch = _Chunk(c, b, s, ws)
        has_signal = ch.S > 0
        a = np.where(np.isfinite(a_flat[idx]), a_flat[idx], 0.0)
        inside = ch.a_min + 0.1 * np.maximum(np.abs(ch.a_min), 1e-3)
        a = np.where((a > ch.a_min) | ~np.isfinite(ch.a_min), a, inside)
        stat_null = stat_null_all[idx]
        active = has_signal.copy()
        if threshold is not None:
            ts0 = stat_null - ch.stat(a)
            active &= ts0 >= threshold
        niter = np.zeros(idx.size)
        h_all = np.full(idx.size, np.nan)
        rows = np.flatnonzero(active)
        sub = ch.take(rows) if rows.size < idx.size else ch
        live = np.ones(rows.size, bool)  # rows of `sub` still iterating
        g, h = sub.grad_hess(a[rows])
        for _ in range(max_iter):
            if not live.any():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(live & (h > 0), -g / np.where(h > 0, h, 1.0), 0.0)
            old = a[rows]
            new = old + step
            # keep the prediction positive: go half-way towards the bound instead
            new = np.where(live & (new <= sub.a_min), 0.5 * (old + sub.a_min), new)
            a[rows] = new
            niter[rows] += live
            g, h = sub.grad_hess(new)
            with np.errstate(divide="ignore", invalid="ignore"):
                err = np.sqrt(2.0 / h)
            tol = rtol * np.where(np.isfinite(err), err, np.inf)
            at_bound = (new - sub.a_min) <= 1e-6 * np.maximum(np.abs(sub.a_min), 1e-6)
            done = live & ((np.abs(new - old) <= tol) | at_bound)
            h_all[rows[done]] = h[done]
            live &= ~done
            if live.sum() < 0.5 * live.size:  # drop finished rows from the arrays
                keep = np.flatnonzero(live)
                rows, g, h, live = rows[keep], g[keep], h[keep], live[keep]
                sub = sub.take(keep)
        active[:] = False
        active[rows[live]] = True
        h_all[rows[live]] = h[live]
        # pixels never iterated (no signal or below threshold): curvature at their amplitude
        missing = np.flatnonzero(np.isnan(h_all) & has_signal)
        if missing.size:
            h_all[missing] = ch.take(missing).grad_hess(a[missing])[1]
        h = h_all
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.where(h > 0, np.sqrt(2.0 / np.where(h > 0, h, 1.0)), np.nan)
        stat = ch.stat(a)
        ts = np.clip(stat_null - stat, 0, None)
        out["norm"][idx] = np.where(has_signal, a, np.nan)
        out["norm_err"][idx] = np.where(has_signal, err, np.nan)
        out["ts"][idx] = np.where(has_signal, ts, np.nan)
        out["stat"][idx] = stat
        out["stat_null"][idx] = stat_null
        out["niter"][idx] = niter
        out["success"][idx] = has_signal & ~active
        err_step = np.where(np.isfinite(err), err, 1.0)
        if errn_errp:
            target = stat + n_sigma**2
            up = ch.crossing(a, target, +1.0, n_sigma * err_step)
            down = ch.crossing(a, target, -1.0, n_sigma * err_step)
            out["norm_errp"][idx] = np.where(has_signal, up - a, np.nan)
            out["norm_errn"][idx] = np.where(has_signal, a - down, np.nan)
        if ul:
            target = stat + n_sigma_ul**2
            up = ch.crossing(a, target, +1.0, n_sigma_ul * err_step)
            out["norm_ul"][idx] = np.where(has_signal, up, np.nan)
    _run_chunks(fit_chunk, range(0, todo.size, chunk), n_threads)
    return {k: v.reshape(ny, nx) for k, v in out.items()}


class _ThreadWorkspaces(threading.local):
    """One `_Workspace` per thread."""

    def get(self) -> _Workspace:
        if not hasattr(self, "workspace"):
            self.workspace = _Workspace()
        return self.workspace


def default_threads() -> int:
    """Threads for the chunked fits: the idle CPUs of this process (1-minute load average),
    at least 1 and at most 4. On a busy machine extra threads only add contention."""
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpu = os.cpu_count() or 1
    try:
        idle = n_cpu - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        idle = n_cpu
    return max(1, min(4, n_cpu, int(idle + 1.0)))


def _run_chunks(func, starts: range, n_threads: int | None) -> None:
    """Call ``func(start)`` for every chunk, on threads (numpy releases the GIL in the
    array operations; the chunks write disjoint pixels of the outputs)."""
    n_threads = default_threads() if n_threads is None else max(1, int(n_threads))
    n_threads = min(n_threads, len(starts))
    if n_threads <= 1:
        for start in starts:
            func(start)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for future in [pool.submit(func, start) for start in starts]:
            future.result()  # re-raise errors of the workers
