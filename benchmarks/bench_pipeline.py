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
from _common import DATA, report, run_peer

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
from gammapy.makers import DatasetsMaker, MapDatasetMaker, SafeMaskMaker
from gammapy.maps import MapAxis, WcsGeom
store = DataStore.from_dir("{data}/hess-dl3-dr1")
obs = store.get_observations(required_irf="full-enclosure", skip_missing=True)[:{n}]
geom = WcsGeom.create(skydir=(0, 0), binsz=0.02, width=(4, 4), frame="icrs", proj="CAR",
                      axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")])
eat = MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true")
ref = MapDataset.create(geom, energy_axis_true=eat)
makers = [MapDatasetMaker(), SafeMaskMaker(methods=["offset-max", "aeff-default"],
                                           offset_max=2 * u.deg)]
out = {{}}
for n_jobs in (1, 2):
    t0 = time.perf_counter()
    DatasetsMaker(makers, stack_datasets=False, n_jobs=n_jobs, cutout_mode="partial",
                  cutout_width=4 * u.deg).run(ref, obs)
    out[f"reference n_jobs={{n_jobs}}"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def main() -> None:
    store = DataStore.from_dir(DATA / "hess-dl3-dr1")
    observations = list(store.get_observations(skip_missing=True))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else len(observations)
    observations = observations[:n]
    ours, sums = {}, {}

    def go(label, **kwargs):
        out = []
        t0 = time.perf_counter()
        run_parallel(reduce_one, observations, on_result=lambda i, v: out.append((i, v)),
                     **kwargs)
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
    peer = run_peer(PEER.format(data=DATA, n=n))
    serial = ours["serial"]
    report("105-run reduction, seconds (ratios vs reference on the reference rows)", ours, {})
    for label, t in peer.items():
        print(f"{label:<28}{t:15.3f}   gammapipe serial is {t / serial:.1f}x faster")


if __name__ == "__main__":
    main()
