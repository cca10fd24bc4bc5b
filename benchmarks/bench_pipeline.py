"""Reduce all 105 HESS DL3 DR1 runs (one 4x4 deg geometry per run, joint) with gammapipe's
serial, process-pool and Dask LocalCluster back ends (1 and 2 workers), and the reference tool
with its own parallel option (``DatasetsMaker(n_jobs=...)``) in the same run.

    python benchmarks/bench_pipeline.py [N_RUNS]

Data: HESS DL3 DR1, H.E.S.S. collaboration.
"""

from __future__ import annotations

import sys
import time

import astropy.units as u
import numpy as np
from _common import DATA, report, run_peer_script

from gammapipe.analysis.parallel import run_parallel
from gammapipe.data import DataStore


def reduce_one(obs, ctx):
    from gammapipe.datasets import MapDataset
    from gammapipe.makers import MapDatasetMaker, SafeMaskMaker
    from gammapipe.maps import MapAxis, WcsGeom

    pointing = obs.get_pointing_icrs(obs.tmid)
    geom = WcsGeom.create(skydir=pointing, binsz=0.02, width=(4, 4), frame="icrs", proj="CAR",
                          axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")])
    energy_true = MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true")
    ds = MapDataset.create(geom, energy_axis_true=energy_true, name=f"obs-{obs.obs_id}")
    ds = MapDatasetMaker().run(ds, obs)
    ds = SafeMaskMaker(methods=["offset-max", "aeff-default"], offset_max=2 * u.deg).run(ds, obs)
    return float(ds.counts.data.sum()), float(ds.background.data.sum())


PEER = """
import json, time
import astropy.units as u
from gammapy.data import DataStore
from gammapy.datasets import MapDataset
from gammapy.makers import MapDatasetMaker, SafeMaskMaker
from gammapy.maps import MapAxis, WcsGeom


def reduce_one(obs):
    pointing = obs.get_pointing_icrs(obs.tmid)
    geom = WcsGeom.create(skydir=pointing, binsz=0.02, width=(4, 4), frame="icrs", proj="CAR",
                          axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")])
    eat = MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true")
    ds = MapDataset.create(geom, energy_axis_true=eat, name=f"obs-{{obs.obs_id}}")
    ds = MapDatasetMaker().run(ds, obs)
    ds = SafeMaskMaker(methods=["offset-max", "aeff-default"], offset_max=2 * u.deg).run(ds, obs)
    return float(ds.counts.data.sum()), float(ds.background.data.sum())


if __name__ == "__main__":
    store = DataStore.from_dir("{data}/hess-dl3-dr1")
    obs = list(store.get_observations(required_irf="full-enclosure", skip_missing=True))[:{n}]
    out = {{}}
    t0 = time.perf_counter()
    sums = [reduce_one(o) for o in obs]
    out["reference serial"] = time.perf_counter() - t0
    from gammapy.utils.parallel import run_multiprocessing

    t0 = time.perf_counter()
    sums2 = run_multiprocessing(reduce_one, [(o,) for o in obs], method="starmap",
                                pool_kwargs=dict(processes=2), backend="multiprocessing")
    out["reference multiprocessing n=2"] = time.perf_counter() - t0
    out["_sums"] = [sum(x[0] for x in sums), sum(x[1] for x in sums)]
    print(json.dumps(out))
"""


def main() -> None:
    store = DataStore.from_dir(DATA / "hess-dl3-dr1")
    observations = list(store.get_observations(skip_missing=True))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else len(observations)
    observations = observations[:n]
    ours, sums = {}, {}

    def go(label, **kwargs):
        # fresh, not yet loaded observations for every back end (lazy HDUs travel light)
        fresh = list(store.get_observations(skip_missing=True))[:n]
        out = []
        t0 = time.perf_counter()
        run_parallel(reduce_one, fresh, on_result=lambda i, v: out.append((i, v)), **kwargs)
        ours[label] = time.perf_counter() - t0
        sums[label] = np.sum([v for _, v in sorted(out)], axis=0)

    go("serial", backend="serial")
    go("processes n_jobs=1", backend="processes", n_jobs=1)
    go("processes n_jobs=2", backend="processes", n_jobs=2)
    from dask.distributed import LocalCluster

    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            go(f"dask workers={workers}", backend="dask", scheduler=cluster.scheduler_address)
    first = next(iter(sums.values()))
    assert all(np.array_equal(v, first) for v in sums.values()), "back ends disagree"
    print(f"{n} runs; counts, background summed: {first}")
    peer = run_peer_script(PEER.format(data=DATA, n=n))
    report(f"{n}-run reduction, seconds", ours, {})
    if peer:
        sums_ref = peer.pop("_sums")
        print(f"reference counts, background summed: {sums_ref}")
        print(f"{'reference serial':<28}{peer['reference serial']:15.3f}   "
              f"gammapipe serial {peer['reference serial'] / ours['serial']:.1f}x faster")
        key = "reference multiprocessing n=2"
        print(f"{key:<28}{peer[key]:15.3f}   gammapipe processes n_jobs=2 "
              f"{peer[key] / ours['processes n_jobs=2']:.1f}x faster")


if __name__ == "__main__":
    main()
