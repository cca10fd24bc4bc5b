"""Parallel execution framework: serial, spawn process pool and Dask give identical,
in-order results; the window of pending results is bounded; clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gammapipe.analysis.parallel import (
    ParallelError,
    check_scheduler,
    resolve_backend,
    run_parallel,
)


def _task(item, context):
    """Picklable task: a float computation whose sum depends on the folding order."""
    rng = np.random.default_rng(item)
    return context["scale"] * rng.uniform(size=50) * 10.0 ** (item % 7 - 3)


def _failing(item, context):
    if item == 3:
        raise ValueError(f"item {item} is bad")
    return item


def _collect(backend, items, **kwargs):
    order, total = [], np.zeros(50)

    def on_result(index, value):
        nonlocal total
        order.append(index)
        total = total + value  # order-sensitive float accumulation

    n = run_parallel(_task, items, on_result=on_result, context={"scale": 1.5},
                     backend=backend, **kwargs)
    return n, order, total


def test_serial_folds_in_order():
    n, order, total = _collect("serial", list(range(12)))
    assert n == 12
    assert order == list(range(12))
    expected = sum(_task(i, {"scale": 1.5}) for i in range(12))
    assert np.array_equal(total, expected)


def test_process_pool_identical_to_serial():
    items = list(range(20))
    _, order_s, total_s = _collect("serial", items)
    n, order_p, total_p = _collect("processes", items, n_jobs=2)
    assert n == 20
    assert order_p == order_s
    assert np.array_equal(total_p, total_s)  # bit-identical


def test_bounded_window_and_generators():
    pending_max = 0
    seen = []

    def on_result(index, value):
        seen.append(index)

    # items from a generator: consumed lazily, never materialised as a list
    gen = (i for i in range(15))
    from gammapipe.analysis import parallel

    original = parallel._OrderedFolder.add

    def spy(self, index, result):
        nonlocal pending_max
        original(self, index, result)
        pending_max = max(pending_max, self.pending)

    parallel._OrderedFolder.add = spy
    try:
        run_parallel(_task, gen, on_result=on_result, context={"scale": 1.0},
                     backend="processes", n_jobs=2, max_pending=3)
    finally:
        parallel._OrderedFolder.add = original
    assert seen == list(range(15))
    assert pending_max <= 3


def test_worker_error_propagates():
    with pytest.raises(ValueError, match="item 3 is bad"):
        run_parallel(_failing, list(range(6)), on_result=lambda i, v: None,
                     backend="processes", n_jobs=2)


def test_resolve_backend():
    assert resolve_backend("auto", 1, None) == "serial"
    assert resolve_backend("auto", 4, None) == "processes"
    assert resolve_backend("auto", 1, "tcp://127.0.0.1:1") == "dask"
    assert resolve_backend("serial", 4, None) == "serial"
    with pytest.raises(ParallelError, match="unknown parallel backend 'threads'"):
        resolve_backend("threads")
    with pytest.raises(ParallelError, match="n_jobs must be >= 1"):
        resolve_backend("auto", 0)
    with pytest.raises(ParallelError, match="needs a scheduler address"):
        resolve_backend("dask", 1, None)


def test_unreachable_scheduler_is_one_clear_error():
    pytest.importorskip("dask.distributed")
    with pytest.raises(ParallelError) as excinfo:
        check_scheduler("tcp://127.0.0.1:9", timeout=1)
    message = str(excinfo.value)
    assert message.startswith("cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert "\n" not in message


def test_dask_local_cluster_identical_to_serial():
    distributed = pytest.importorskip("dask.distributed")
    items = list(range(16))
    _, order_s, total_s = _collect("serial", items)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert check_scheduler(cluster.scheduler_address) == 2
        n, order_d, total_d = _collect("dask", items, scheduler=cluster.scheduler_address)
    assert n == 16
    assert order_d == order_s
    assert np.array_equal(total_d, total_s)
    assert math.isfinite(float(total_d.sum()))
