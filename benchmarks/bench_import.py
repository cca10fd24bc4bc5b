"""Import time of gammapipe's subpackages vs the reference tool (cold interpreter each time).

    python benchmarks/bench_import.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import peer_python, report

OURS = "import gammapipe.data, gammapipe.irf, gammapipe.maps, gammapipe.modeling, gammapipe.stats"
PEER = "import gammapy.data, gammapy.irf, gammapy.maps, gammapy.modeling, gammapy.stats"


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
    ours = {"import (minus bare python)": best_of(sys.executable, OURS, args.repeat) - baseline}
    peer = {}
    python = peer_python()
    if python:
        peer_base = best_of(python, "pass", args.repeat)
        peer = {"import (minus bare python)": best_of(python, PEER, args.repeat) - peer_base}
    report("subpackage import time (best of %d)" % args.repeat, ours, peer)


if __name__ == "__main__":
    main()
