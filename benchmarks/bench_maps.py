"""Timing of map hot paths, gammapipe vs the reference tool (run on demand).

    python benchmarks/bench_maps.py [--events 10000000] [--repeat 3]

Stages: filling 1e7 events into a 500x500x20 CAR map (target < 1 s), interp_by_coord
(linear / nearest) at 1e6 points, solid_angle of the 500x500 geometry and a Gaussian
smoothing of the cube. Prints best-of-``repeat`` seconds per stage; no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from _common import report, run_peer

STAGES = """
import json, time
import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord
{imports}

def best(func, repeat):
    out = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        out = min(out, time.perf_counter() - t0)
    return out

n_events, repeat = {n_events}, {repeat}
energy = MapAxis.from_energy_bounds(0.1, 100, 20, unit="TeV")
m = Map.create(npix=(500, 500), binsz=0.02, skydir=(83.633, 22.014), frame="icrs",
               proj="CAR", axes=[energy], dtype="float32")
rng = np.random.default_rng(0)
radec = SkyCoord(83.633 + rng.normal(0, 2.5, n_events), 22.014 + rng.normal(0, 2.5, n_events),
                 unit="deg", frame="icrs")
evt_energy = u.Quantity(10 ** rng.uniform(-1, 2, n_events), "TeV")
{fill_def}
times = {{}}
times["fill 1e7 events 500x500x20"] = best(fill, repeat)
n_points = 1_000_000
coords = {{
    "lon": 83.633 + rng.uniform(-4, 4, n_points),
    "lat": 22.014 + rng.uniform(-4, 4, n_points),
    "energy": u.Quantity(10 ** rng.uniform(-1, 2, n_points), "TeV"),
}}
times["interp linear 1e6 points"] = best(lambda: m.interp_by_coord(coords), repeat)
times["interp nearest 1e6 points"] = best(
    lambda: m.interp_by_coord(coords, method="nearest"), repeat)
times["solid_angle 500x500"] = best(lambda: m.geom.solid_angle(), repeat)
m.smooth("0.1 deg")  # warm-up: first call imports scipy.ndimage
times["smooth gauss 0.1 deg cube"] = best(lambda: m.smooth("0.1 deg"), repeat)
print(json.dumps(times))
"""

OURS = {
    "imports": "from types import SimpleNamespace\nfrom gammapipe.maps import Map, MapAxis",
    "fill_def": (
        "events = SimpleNamespace(radec=radec, energy=evt_energy)\n"
        "def fill():\n    m.data[...] = 0\n    m.fill_events(events)\n"
    ),
}
PEER = {
    "imports": "from gammapy.maps import Map, MapAxis",
    "fill_def": (
        "def fill():\n    m.data[...] = 0\n"
        "    m.fill_by_coord({'skycoord': radec, 'energy': evt_energy})\n"
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    params = {"n_events": args.events, "repeat": args.repeat}
    namespace: dict = {}
    # run our stages in-process (same code as the peer snippet)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(STAGES.format(**OURS, **params), namespace)  # noqa: S102 - own benchmark code
    ours = json.loads(buffer.getvalue().strip().splitlines()[-1])
    peer = run_peer(STAGES.format(**PEER, **params))
    report(f"maps ({args.events:.0e} events, best of {args.repeat})", ours, peer)


if __name__ == "__main__":
    main()
