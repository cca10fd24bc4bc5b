"""3D data reduction of the 4 Crab runs, gammapipe vs the reference tool (run on demand).

    python benchmarks/bench_reduction.py [--workflow lowlevel|crab_all|both] [--repeat 2]
                                         [--profile]

Workflows (both from the reference suite, same code for both tools, only the package name
differs):

* ``lowlevel``: the "Low level API" reduction of lowlevel_crab3d (2x2 deg, 0.02 deg, 4 reco
  bins, 5 deg cutouts, safe mask offset-max 2.5 deg + aeff-max, FoV background fit);
* ``crab_all``: the reduction of ../shared/reference/timing_crab_all.py (4x4 deg, 0.02 deg,
  10 reco bins, otherwise the same chain).

Prints seconds per stage (best of ``repeat`` passes in one process: the first pass also
pays the file reading, later passes hit the file cache of each tool), the ratio, the
peak RSS and the key numbers of both tools (stacked counts / background) so that speed is
compared at equal numbers. ``--profile`` prints a pyinstrument profile of one gammapipe
pass (after a warm-up pass) instead of the comparison.
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
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion
from {pkg}.data import DataStore
from {pkg}.datasets import MapDataset
from {pkg}.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
from {pkg}.maps import MapAxis, WcsGeom

DATA = {data!r}
WIDTH, NBIN = {width}, {nbin}


class Timer(dict):
    @contextmanager
    def __call__(self, name):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - t0


def timed(timer, name, func):
    def wrapper(*args, **kwargs):
        with timer(name):
            return func(*args, **kwargs)
    return wrapper


def one_pass():
    timer = Timer()
    with timer("select_observations"):
        store = DataStore.from_dir(DATA + "/hess-dl3-dr1")
        sel = dict(type="sky_circle", frame="icrs", lon="83.633 deg", lat="22.014 deg",
                   radius="5 deg")
        table = store.obs_table.select_observations(sel)
        observations = store.get_observations(table["OBS_ID"])
    with timer("io_load_events_irfs"):
        for obs in observations:
            obs.events, obs.aeff, obs.edisp, obs.psf, obs.bkg, obs.gti
    with timer("geometry"):
        energy_axis = MapAxis.from_energy_bounds(1.0, 10.0, NBIN, unit="TeV")
        geom = WcsGeom.create(skydir=(83.633, 22.014), binsz=0.02, width=(WIDTH, WIDTH),
                              frame="icrs", proj="CAR", axes=[energy_axis])
        energy_axis_true = MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV",
                                                      name="energy_true")
        stacked = MapDataset.create(geom=geom, energy_axis_true=energy_axis_true,
                                    name="crab-stacked")
        offset_max = 2.5 * u.deg
        maker = MapDatasetMaker()
        for comp in ["counts", "exposure", "background", "psf", "edisp_kernel"]:
            setattr(maker, "make_" + comp,
                    timed(timer, "reduce.maker." + comp, getattr(maker, "make_" + comp)))
        safe = SafeMaskMaker(methods=["offset-max", "aeff-max"], offset_max=offset_max)
        circle = CircleSkyRegion(center=SkyCoord("83.63 deg", "22.14 deg"),
                                 radius=0.2 * u.deg)
        fov = FoVBackgroundMaker(method="fit", exclusion_mask=~geom.region_mask([circle]))
    norms = []
    with timer("reduce"):
        for obs in observations:
            with timer("reduce.cutout"):
                cutout = stacked.cutout(obs.get_pointing_icrs(obs.tmid), width=2 * offset_max,
                                        name="obs-" + str(obs.obs_id))
            with timer("reduce.map_dataset_maker"):
                ds = maker.run(cutout, obs)
            with timer("reduce.safe_mask"):
                ds = safe.run(ds, obs)
            with timer("reduce.fov_background_fit"):
                ds = fov.run(ds)
            norms.append(float(ds.background_model.spectral_model.norm.value))
            with timer("reduce.stack"):
                stacked.stack(ds)
    numbers = {{
        "counts": float(stacked.counts.data.sum()),
        "background": float(stacked.background.data.sum()),
        "exposure_max": float(stacked.exposure.data.max()),
        "norms": norms,
    }}
    return timer, numbers


best = {{}}
for _ in range({repeat}):
    timer, numbers = one_pass()
    for key, value in timer.items():
        best[key] = min(best.get(key, np.inf), value)
best["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({{"timing": best, "numbers": numbers}}))
"""

WORKFLOWS = {
    "lowlevel": {"width": 2, "nbin": 4},
    "crab_all": {"width": 4, "nbin": 10},
}


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
    head = code.split("best = {}")[0]
    with contextlib.redirect_stdout(io.StringIO()):
        exec(head, namespace)  # noqa: S102 - own benchmark code
        namespace["one_pass"]()
    profiler = Profiler()
    profiler.start()
    namespace["one_pass"]()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflow", choices=[*WORKFLOWS, "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    names = list(WORKFLOWS) if args.workflow == "both" else [args.workflow]
    for name in names:
        params = dict(WORKFLOWS[name], data=str(DATA), repeat=args.repeat)
        if args.profile:
            profile(STAGES.format(pkg="gammapipe", **params))
            continue
        ours = run_ours(STAGES.format(pkg="gammapipe", **params))
        peer = run_peer(STAGES.format(pkg="gammapy", **params))
        t_ours = dict(ours["timing"])
        t_peer = dict(peer.get("timing", {}))
        rss_ours, rss_peer = t_ours.pop("peak_rss_mb"), t_peer.pop("peak_rss_mb", None)
        report(f"reduction '{name}' (best of {args.repeat} passes)", t_ours, t_peer)
        print(f"peak RSS [MB]: gammapipe {rss_ours:.0f}, reference "
              f"{rss_peer if rss_peer is None else round(rss_peer)} (gammapipe process also "
              f"holds the benchmark harness)")
        print("numbers gammapipe:", ours["numbers"])
        if peer:
            print("numbers reference:", peer["numbers"])


if __name__ == "__main__":
    main()
