"""Import time of gammapipe's subpackages vs the reference tool (cold interpreter each time).

    python benchmarks/bench_import.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import peer_python, report

SUBPACKAGES = "data, {0}.irf, {0}.maps, {0}.modeling, {0}.stats"
# what a user script imports: the classes of a typical 3D analysis
CLASSES = (
    "from {0}.data import DataStore; from {0}.irf import EffectiveAreaTable2D, PSF3D;"
    "from {0}.maps import Map, MapAxis, WcsGeom; from {0}.modeling import Fit;"
    "from {0}.modeling.models import PowerLawSpectralModel"
)


def best_of(python: str, code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([python, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    baseline = best_of(sys.executable, "pass", args.repeat)
    stages = {
        "import subpackages": "import {0}." + SUBPACKAGES,
        "import analysis classes": CLASSES,
    }
    ours = {k: best_of(sys.executable, v.format("gammapipe"), args.repeat) - baseline
            for k, v in stages.items()}
    peer = {}
    python = peer_python()
    if python:
        peer_base = best_of(python, "pass", args.repeat)
        peer = {k: best_of(python, v.format("gammapy"), args.repeat) - peer_base
                for k, v in stages.items()}
    report(f"import time minus bare python (best of {args.repeat})", ours, peer)


if __name__ == "__main__":
    main()
