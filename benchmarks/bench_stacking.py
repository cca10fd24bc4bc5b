"""`MapDataset.cutout` / `MapDataset.stack` and geometry caches, gammapipe vs the reference.

    python benchmarks/bench_stacking.py [--repeat 5]

Set-up (not timed): the 4 H.E.S.S. DR1 Crab runs reduced on the geometry of
../shared/reference/timing_crab_all.py (4x4 deg, 0.02 deg CAR, 10 reco and 10 true energy
bins; MapDatasetMaker + SafeMaskMaker offset-max 2.5 deg / aeff-max + FoV background fit,
5 deg cutouts). Timed, best of ``repeat`` (seconds for the whole loop):

* ``cutout_x4``: the 4 5-deg cutouts of the empty stacked dataset;
* ``create_stacked``: `MapDataset.create` of the stacked dataset;
* ``stack_x4``: stacking the 4 reduced datasets into a fresh stacked dataset;
* ``image_solid_angle_x10``: ``geom.to_image().solid_angle()`` ten times (geometry caches);
* ``image_coord_x10``: ``geom.to_image().get_coord()`` ten times.

Prints the numbers of the stacked dataset of both tools (they must agree).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from _common import DATA, report, run_peer

CODE = """
import json, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion
from {pkg}.data import DataStore
from {pkg}.datasets import MapDataset
from {pkg}.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
from {pkg}.maps import MapAxis, WcsGeom

store = DataStore.from_dir({data!r} + "/hess-dl3-dr1")
observations = store.get_observations([23523, 23526, 23559, 23592])
energy_axis = MapAxis.from_energy_bounds(1.0, 10.0, 10, unit="TeV")
geom = WcsGeom.create(skydir=(83.633, 22.014), binsz=0.02, width=(4, 4), frame="icrs",
                      proj="CAR", axes=[energy_axis])
energy_axis_true = MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true")
maker = MapDatasetMaker()
safe = SafeMaskMaker(methods=["offset-max", "aeff-max"], offset_max=2.5 * u.deg)
circle = CircleSkyRegion(center=SkyCoord("83.63 deg", "22.14 deg"), radius=0.2 * u.deg)
fov = FoVBackgroundMaker(method="fit", exclusion_mask=~geom.region_mask([circle]))


def create():
    return MapDataset.create(geom=geom, energy_axis_true=energy_axis_true, name="stacked")


empty = create()
positions = [obs.get_pointing_icrs(obs.tmid) for obs in observations]
datasets = []
for obs, pos in zip(observations, positions):
    cut = empty.cutout(pos, width=5 * u.deg, name="obs-" + str(obs.obs_id))
    datasets.append(fov.run(safe.run(maker.run(cut, obs), obs)))


def cutouts():
    for pos in positions:
        empty.cutout(pos, width=5 * u.deg, name="c")


def stack():
    stacked = create()
    for ds in datasets:
        stacked.stack(ds)
    return stacked


def solid_angles():
    for _ in range(10):
        geom.to_image().solid_angle()


def coords():
    for _ in range(10):
        geom.to_image().get_coord()


def best(func, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


timing = {{}}
timing["cutout_x4"] = best(cutouts, {repeat})
timing["create_stacked"] = best(create, {repeat})
timing["stack_x4"] = best(stack, {repeat})
timing["image_solid_angle_x10"] = best(solid_angles, {repeat})
timing["image_coord_x10"] = best(coords, {repeat})
stacked = stack()
numbers = {{
    "counts": float(stacked.counts.data.sum()),
    "background": float(np.sum(stacked.background.data, dtype=float)),
    "exposure_sum": float(np.sum(stacked.exposure.data, dtype=float)),
    "psf_sum": float(np.nansum(stacked.psf.psf_map.data, dtype=float)),
    "edisp_sum": float(np.nansum(stacked.edisp.edisp_map.data, dtype=float)),
    "mask_safe": int(stacked.mask_safe.data.sum()),
}}
print(json.dumps({{"timing": timing, "numbers": numbers}}))
"""


def run_ours(code: str) -> dict:
    namespace: dict = {"__name__": "bench"}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(code, namespace)  # noqa: S102 - own benchmark code
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    params = {"data": str(DATA), "repeat": args.repeat}
    ours = run_ours(CODE.format(pkg="gammapipe", **params))
    peer = run_peer(CODE.format(pkg="gammapy", **params))
    report(f"cutout / stack of the 4 Crab runs (best of {args.repeat})", ours["timing"],
           peer.get("timing", {}))
    print("numbers gammapipe:", ours["numbers"])
    if peer:
        print("numbers reference:", peer["numbers"])


if __name__ == "__main__":
    main()
