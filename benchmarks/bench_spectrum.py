"""1D spectral analysis of the 4 Crab runs, gammapipe vs the reference tool (run on demand).

    python benchmarks/bench_spectrum.py [--repeat 3] [--profile]

Workflow: the 1D part of ../shared/reference/public/datasets_stack_vs_joint.py on HESS DL3
DR1 (H.E.S.S. collaboration), same code for both tools, only the package name differs:
ON region r=0.11 deg at (83.63, 22.01), exclusion mask r=0.5 deg around RGB J0521+212 on a
150x150, 0.05 deg TAN grid, reco energy 0.5-40 TeV (20 bins), true energy 0.3-100 TeV
(40 bins), ``SpectrumDatasetMaker(containment_correction=True)``,
``ReflectedRegionsBackgroundMaker``, ``SafeMaskMaker(aeff-max 10%)``, joint WStat power-law
fit of the 4 `SpectrumDatasetOnOff`, then ``Datasets.stack_reduce()`` and the same fit.

Stages (seconds, best of ``repeat`` passes in one process; every pass builds new
observations, so each pass reads the files again, from the OS file cache after the first):

* ``read_observations``: DataStore + get_observations + loading events/IRFs/GTI;
* ``setup``: exclusion mask, axes, region geometry, empty dataset, makers;
* ``data_reduction``: ``SpectrumDatasetMaker.run`` (counts, exposure, edisp) for 4 runs;
* ``reflected_regions``: ``ReflectedRegionsBackgroundMaker.run`` alone for 4 runs;
* ``safe_mask``: ``SafeMaskMaker.run`` for 4 runs;
* ``joint_fit``: models set + ``Fit().run`` (MIGRAD + HESSE) on the 4 datasets;
* ``stack_reduce``: ``Datasets.stack_reduce()``;
* ``stacked_fit``: models set + ``Fit().run`` on the stacked dataset.

Prints both timings (wall clock and process CPU time: the machine is shared, CPU time is
less sensitive to other load; ``total`` is the sum of the per-stage bests), the ratio per
stage and the fitted index / amplitude / total stat of both tools (speed is only meaningful
at equal numbers). ``--profile`` prints a pyinstrument profile of one gammapipe pass (after
a warm-up pass) instead of the comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from _common import DATA, report, run_peer

STAGES = """
import json, time, resource, warnings
warnings.filterwarnings("ignore")
from contextlib import contextmanager
import numpy as np
import astropy.units as u
from astropy.coordinates import Angle, SkyCoord
from regions import CircleSkyRegion
from {pkg}.data import DataStore
from {pkg}.datasets import Datasets, SpectrumDataset
from {pkg}.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumDatasetMaker
from {pkg}.maps import MapAxis, RegionGeom, WcsGeom
from {pkg}.modeling import Fit
from {pkg}.modeling.models import PowerLawSpectralModel, SkyModel

DATA = {data!r}
OBS_IDS = [23523, 23526, 23559, 23592]


class Timer(dict):
    cpu = None

    @contextmanager
    def __call__(self, name):
        if self.cpu is None:
            self.cpu = {{}}
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - t0
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0


def make_model():
    spectral = PowerLawSpectralModel(
        index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    return SkyModel(spectral_model=spectral, name="crab")


def fit_numbers(result, models):
    pl = models["crab"].spectral_model
    return {{
        "success": bool(result.success),
        "index": float(pl.index.value),
        "index_err": float(pl.index.error),
        "amplitude": float(pl.amplitude.quantity.to_value("cm-2 s-1 TeV-1")),
        "amplitude_err": float(pl.amplitude.error),
        "total_stat": float(result.total_stat),
        "nfev": int(result.nfev),
    }}


def one_pass():
    timer = Timer()
    with timer("read_observations"):
        store = DataStore.from_dir(DATA + "/hess-dl3-dr1")
        observations = store.get_observations(OBS_IDS)
        for obs in observations:
            obs.events, obs.aeff, obs.edisp, obs.psf, obs.gti
    with timer("setup"):
        target = SkyCoord(ra=83.63, dec=22.01, unit="deg", frame="icrs")
        on_region = CircleSkyRegion(center=target, radius=Angle("0.11 deg"))
        exclusion_region = CircleSkyRegion(
            center=SkyCoord(183.604, -8.708, unit="deg", frame="galactic"), radius=0.5 * u.deg)
        exclusion_geom = WcsGeom.create(npix=(150, 150), binsz=0.05, skydir=target.galactic,
                                        proj="TAN", frame="icrs")
        exclusion_mask = ~exclusion_geom.region_mask([exclusion_region])
        energy_axis = MapAxis.from_energy_bounds(0.5, 40, nbin=20, unit="TeV", name="energy")
        energy_axis_true = MapAxis.from_energy_bounds(0.3, 100, nbin=40, unit="TeV",
                                                      name="energy_true")
        geom = RegionGeom.create(region=on_region, axes=[energy_axis])
        empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_axis_true)
        dataset_maker = SpectrumDatasetMaker(containment_correction=True,
                                             selection=["counts", "exposure", "edisp"])
        bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
        safe_mask_maker = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = Datasets()
    n_off_regions = []
    for obs in observations:
        with timer("data_reduction"):
            ds = dataset_maker.run(empty.copy(name=str(obs.obs_id)), obs)
        with timer("reflected_regions"):
            ds = bkg_maker.run(ds, obs)
        with timer("safe_mask"):
            ds = safe_mask_maker.run(ds, obs)
        n_off_regions.append(int(round(1.0 / float(np.mean(ds.alpha.data)))))
        datasets.append(ds)
    with timer("joint_fit"):
        datasets.models = [make_model()]
        result_joint = Fit().run(datasets=datasets)
    joint = fit_numbers(result_joint, datasets.models)
    with timer("stack_reduce"):
        stacked = datasets.stack_reduce(name="stacked")
    with timer("stacked_fit"):
        stacked.models = [make_model()]
        result_stacked = Fit().run(datasets=[stacked])
    stack = fit_numbers(result_stacked, stacked.models)
    numbers = {{
        "counts": [float(ds.counts.data.sum()) for ds in datasets],
        "counts_off": [float(ds.counts_off.data.sum()) for ds in datasets],
        "n_off_regions": n_off_regions,
        "joint": joint,
        "stacked": stack,
    }}
    return timer, numbers


best, best_cpu = {{}}, {{}}
for _ in range({repeat}):
    timer, numbers = one_pass()
    for key, value in timer.items():
        best[key] = min(best.get(key, np.inf), value)
        best_cpu[key] = min(best_cpu.get(key, np.inf), timer.cpu[key])
best["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({{"timing": best, "cpu": best_cpu, "numbers": numbers}}))
"""


def run_ours(code: str) -> dict:
    namespace: dict = {"__name__": "bench"}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(code, namespace)  # noqa: S102 - own benchmark code
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


def profile(code: str) -> None:
    """pyinstrument profile of one gammapipe pass (after a warm-up pass)."""
    from pyinstrument import Profiler

    namespace: dict = {"__name__": "bench"}
    head = code.split("best, best_cpu = {}")[0]
    with contextlib.redirect_stdout(io.StringIO()):
        exec(head, namespace)  # noqa: S102 - own benchmark code
        namespace["one_pass"]()
    profiler = Profiler()
    profiler.start()
    namespace["one_pass"]()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def print_numbers(label: str, numbers: dict) -> None:
    print(f"{label}: counts {numbers['counts']}, counts_off {numbers['counts_off']}, "
          f"n_off_regions {numbers['n_off_regions']}")
    for fit in ("joint", "stacked"):
        r = numbers[fit]
        print(f"  {fit:<8} index {r['index']:.9f} +- {r['index_err']:.6f}  amplitude "
              f"{r['amplitude']:.9e} +- {r['amplitude_err']:.3e}  stat {r['total_stat']:.9f}  "
              f"nfev {r['nfev']}  success {r['success']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    params = dict(data=str(DATA), repeat=args.repeat)
    if args.profile:
        profile(STAGES.format(pkg="gammapipe", **params))
        return
    ours = run_ours(STAGES.format(pkg="gammapipe", **params))
    peer = run_peer(STAGES.format(pkg="gammapy", **params))
    t_ours = dict(ours["timing"])
    t_peer = dict(peer.get("timing", {}))
    rss_ours, rss_peer = t_ours.pop("peak_rss_mb"), t_peer.pop("peak_rss_mb", None)
    for tim in (t_ours, t_peer):
        if tim:
            tim["total"] = sum(tim.values())
    report(f"1D spectrum, 4 Crab runs, wall clock (best of {args.repeat} passes)", t_ours,
           t_peer)
    c_ours, c_peer = dict(ours["cpu"]), dict(peer.get("cpu", {}))
    for tim in (c_ours, c_peer):
        if tim:
            tim["total"] = sum(tim.values())
    report(f"1D spectrum, 4 Crab runs, process CPU time (best of {args.repeat} passes)", c_ours,
           c_peer)
    print(f"peak RSS [MB]: gammapipe {rss_ours:.0f}, reference "
          f"{rss_peer if rss_peer is None else round(rss_peer)}")
    print_numbers("numbers gammapipe", ours["numbers"])
    if peer:
        print_numbers("numbers reference", peer["numbers"])
        for fit in ("joint", "stacked"):
            a, b = ours["numbers"][fit], peer["numbers"][fit]
            rel = {k: abs(a[k] - b[k]) / abs(b[k]) for k in ("index", "amplitude", "total_stat")}
            print(f"  {fit} rel. diff: " + ", ".join(f"{k} {v:.2e}" for k, v in rel.items()))


if __name__ == "__main__":
    main()
