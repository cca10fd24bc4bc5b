"""Parallel execution of per-observation tasks: serial, local process pool or Dask.

`run_parallel` applies ``func(item, context)`` to every item and hands each result to
``on_result(index, result)`` **in input order**, as soon as it and all earlier results are
available. Results are collected as they complete (``as_completed`` semantics) but at most
``max_pending`` tasks are in flight or waiting to be folded, so memory stays bounded for
thousands of observations; folding in input order makes floating-point reductions (e.g.
dataset stacking) bit-identical between the serial, process-pool and Dask backends.

- ``"serial"``: a plain loop in this process.
- ``"processes"``: `concurrent.futures.ProcessPoolExecutor` with the *spawn* start method
  (safe with threads and on every OS). ``context`` is sent once per worker (initializer),
  ``func`` must be a module-level (picklable) function.
- ``"dask"``: a `dask.distributed.Client` connected to ``scheduler`` (an address or a
  ``Client``); ``context`` is scattered once (broadcast) to the workers.

Note: numpy's BLAS is multi-threaded by default, so a serial reduction already uses
several cores in its matrix products; Dask workers run with one BLAS thread. For a fair
comparison of the backends (and to avoid oversubscribing cores with a process pool) set
``OMP_NUM_THREADS=1`` in the environment. Dask's nanny starts workers with
``MALLOC_TRIM_THRESHOLD_=65536``, which makes the large temporary arrays of the reduction
noticeably slower to allocate; raise it in the cluster config
(``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_``) for numpy-heavy work.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gammapipe.utils.errors import GammapipeError

__all__ = [
    "ParallelError",
    "BACKENDS",
    "resolve_backend",
    "run_parallel",
    "progress_bar",
    "check_scheduler",
]

log = logging.getLogger(__name__)

BACKENDS = ("serial", "processes", "dask")


class ParallelError(GammapipeError, RuntimeError):
    """The parallel backend cannot be used (dask missing, scheduler unreachable, ...)."""


# ----------------------------------------------------------------------------- progress
class _LogProgress:
    """Plain logging progress: one line per ~10 % (used when tqdm is not installed)."""

    def __init__(self, total: int, desc: str):
        self.total = max(int(total), 1)
        self.desc = desc
        self.n = 0
        self._next = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        frac = self.n / self.total
        if frac >= self._next or self.n == self.total:
            log.info("%s: %d/%d (%.0f%%)", self.desc, self.n, self.total, 100 * frac)
            self._next = min(frac + 0.1, 1.0)

    def close(self) -> None:
        pass


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True):
    """Progress reporter with ``update(n)`` and ``close()``.

    A tqdm bar (on stderr) when ``enabled``, stderr is a terminal and tqdm is installed
    (the ``progress`` extra), else a logging line every 10 %; nothing when ``enabled`` is
    False.
    """
    if not enabled:
        return _NoProgress()
    import sys

    if not getattr(sys.stderr, "isatty", lambda: False)():
        return _LogProgress(total, desc)  # no bar redraws in log files and pipes
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _LogProgress(total, desc)
    return tqdm(total=total, desc=desc, unit="obs" if "obs" in desc else "it", leave=False)


# ----------------------------------------------------------------------------- backend choice
def resolve_backend(backend: str = "auto", n_jobs: int = 1, scheduler: Any = None) -> str:
    """Backend name from the config values (``auto``: dask if a scheduler is given, else
    processes when ``n_jobs > 1``, else serial)."""
    if backend not in ("auto", *BACKENDS):
        raise ParallelError(f"unknown parallel backend {backend!r}; "
                            f"allowed: auto, {', '.join(BACKENDS)}")
    if n_jobs is None or int(n_jobs) < 1:
        raise ParallelError(f"n_jobs must be >= 1, got {n_jobs!r}")
    if backend != "auto":
        if backend == "dask" and scheduler is None:
            raise ParallelError("the dask backend needs a scheduler address "
                                "(general.scheduler or --scheduler)")
        return backend
    if scheduler is not None:
        return "dask"
    return "processes" if int(n_jobs) > 1 else "serial"


# ----------------------------------------------------------------------------- workers
_WORKER_CONTEXT: Any = None


def _init_worker(context: Any) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _call_in_worker(func: Callable, item: Any) -> Any:
    return func(item, _WORKER_CONTEXT)


def _call_with_context(func: Callable, item: Any, context: Any) -> Any:
    return func(item, context)


class _OrderedFolder:
    """Hand results to ``on_result`` in input order, buffering early arrivals."""

    def __init__(self, on_result: Callable[[int, Any], None], progress):
        self.on_result = on_result
        self.progress = progress
        self.buffer: dict[int, Any] = {}
        self.next_index = 0

    def add(self, index: int, result: Any) -> None:
        self.buffer[index] = result
        self.progress.update(1)
        while self.next_index in self.buffer:
            value = self.buffer.pop(self.next_index)
            self.on_result(self.next_index, value)
            self.next_index += 1

    @property
    def pending(self) -> int:
        return len(self.buffer)


def _run_serial(func, items, context, folder) -> None:
    for index, item in enumerate(items):
        folder.add(index, func(item, context))


def _run_futures(submit, wait_first, items, folder, max_pending: int) -> None:
    """Sliding window: keep at most ``max_pending`` tasks submitted or buffered."""
    running: dict = {}
    iterator = iter(enumerate(items))
    exhausted = False
    while True:
        while not exhausted and len(running) + folder.pending < max_pending:
            try:
                index, item = next(iterator)
            except StopIteration:
                exhausted = True
                break
            running[submit(item)] = index
        if not running:
            if exhausted:
                return
            # window full of buffered results waiting for an earlier one: cannot happen
            # because the earliest index is always running or folded
            raise RuntimeError("parallel scheduler stalled")  # pragma: no cover
        for future in wait_first(list(running)):
            index = running.pop(future)
            folder.add(index, future.result())


def _run_processes(func, items, context, folder, n_jobs: int, max_pending: int) -> None:
    import concurrent.futures as cf

    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker,
                                initargs=(context,)) as pool:
        def submit(item):
            return pool.submit(_call_in_worker, func, item)

        def wait_first(futures):
            done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
            return done

        try:
            _run_futures(submit, wait_first, items, folder, max_pending)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _dask_client(scheduler: Any, timeout: float):
    try:
        from dask.distributed import Client
    except ImportError:
        raise ParallelError("the dask backend needs dask.distributed: "
                            "pip install 'gammapipe[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ParallelError(f"cannot reach the Dask scheduler at {scheduler!r}: "
                            f"{reason[:200]}") from None
    return client, True


def _run_dask(func, items, context, folder, scheduler, max_pending: int | None,
              timeout: float) -> None:
    from dask.distributed import wait

    client, owned = _dask_client(scheduler, timeout)
    try:
        if max_pending is None:
            n_workers = len(client.scheduler_info().get("workers", {}))
            max_pending = 2 * max(n_workers, 1) + 2
        context_future = client.scatter(context, broadcast=True) if context is not None \
            else None

        def submit(item):
            return client.submit(_call_with_context, func, item, context_future, pure=False)

        def wait_first(futures):
            return wait(futures, return_when="FIRST_COMPLETED").done

        with client.as_current():
            _run_futures(submit, wait_first, items, folder, max_pending)
    finally:
        if owned:
            client.close()


def run_parallel(func: Callable[[Any, Any], Any], items: Sequence | Iterable, *,
                 on_result: Callable[[int, Any], None], context: Any = None,
                 backend: str = "auto", n_jobs: int = 1, scheduler: Any = None,
                 max_pending: int | None = None, progress: bool = False,
                 desc: str = "tasks", timeout: float = 10.0) -> int:
    """Run ``func(item, context)`` for every item; fold results in input order.

    Parameters
    ----------
    func : callable
        Module-level function ``func(item, context) -> result`` (picklable for the
        process and Dask backends).
    items : iterable
        Work items (e.g. observations); consumed lazily.
    on_result : callable
        ``on_result(index, result)``, called in this process in input order.
    context : object, optional
        Data shared by all tasks (sent once per worker).
    backend : {"auto", "serial", "processes", "dask"}
        Execution backend (see `resolve_backend`).
    n_jobs : int
        Number of worker processes for ``"processes"``.
    scheduler : str or `dask.distributed.Client`, optional
        Dask scheduler address or client.
    max_pending : int, optional
        Maximum number of tasks submitted or waiting to be folded (default
        ``2 * n_jobs + 2``; with Dask ``2 * n_workers + 2``).
    progress : bool
        Show a progress bar.
    desc : str
        Progress bar label.
    timeout : float
        Seconds to wait for the Dask scheduler.

    Returns
    -------
    n : int
        Number of results folded.

    Raises
    ------
    ParallelError
        Unknown backend, dask missing or the scheduler cannot be reached.
    """
    backend = resolve_backend(backend, n_jobs, scheduler)
    try:
        total = len(items)  # type: ignore[arg-type]
    except TypeError:
        total = 0
    bar = progress_bar(total, desc, enabled=progress)
    folder = _OrderedFolder(on_result, bar)
    try:
        if backend == "serial":
            _run_serial(func, items, context, folder)
        elif backend == "processes":
            window = max_pending or 2 * int(n_jobs) + 2
            _run_processes(func, items, context, folder, int(n_jobs), window)
        else:
            _run_dask(func, items, context, folder, scheduler, max_pending, timeout)
    finally:
        bar.close()
    return folder.next_index


def check_scheduler(scheduler: Any, timeout: float = 5.0) -> int:
    """Connect to a Dask scheduler and return its number of workers.

    Raises
    ------
    ParallelError
        dask.distributed is not installed or the scheduler cannot be reached.
    """
    client, owned = _dask_client(scheduler, timeout)
    try:
        return len(client.scheduler_info().get("workers", {}))
    finally:
        if owned:
            client.close()
