"""Shared helpers of the benchmark suite: locate the peer python, time stages, print ratios.

Benchmarks run on demand (never in CI). The peer is the reference tool installed in its own
virtualenv by ``../shared/bench/peer-setup.sh``; set ``GAMMAPIPE_PEER`` to its python, or leave
it unset to use ``~/.cache/gammapipe-peer/bin/python`` when that exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GAMMAPIPE_DATA", REPO.parent / "shared" / "data"))


def peer_python() -> str | None:
    """Path of the peer (reference tool) python, or None when not available."""
    env = os.environ.get("GAMMAPIPE_PEER")
    if env:
        return env if Path(env).exists() else None
    default = Path.home() / ".cache" / "gammapipe-peer" / "bin" / "python"
    return str(default) if default.exists() else None


def run_peer(code: str, timeout: float = 3600) -> dict:
    """Run ``code`` with the peer python; it must print one JSON dict on its last line."""
    python = peer_python()
    if python is None:
        return {}
    env = dict(os.environ, GAMMAPY_DATA=str(DATA), DATA=str(DATA))
    out = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        raise RuntimeError("peer benchmark failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_peer_script(code: str, timeout: float = 3600) -> dict:
    """Like `run_peer`, but run ``code`` as a script file (needed for multiprocessing)."""
    import tempfile

    if peer_python() is None:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        return run_peer(f"import runpy; runpy.run_path({f.name!r}, run_name='__main__')",
                        timeout=timeout)
    finally:
        os.unlink(f.name)


class StageTimer(dict):
    """Accumulate wall-clock seconds per named stage."""

    @contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self[stage] = self.get(stage, 0.0) + time.perf_counter() - t0


def report(title: str, ours: dict, peer: dict) -> None:
    """Print a table of seconds per stage for both tools and the speed-up ratio."""
    print(f"\n{title}")
    print(f"{'stage':<28}{'gammapipe [s]':>15}{'reference [s]':>15}{'ratio':>9}")
    for stage, t in ours.items():
        p = peer.get(stage)
        ratio = f"{p / t:8.1f}x" if p and t > 0 else "      n/a"
        ptxt = f"{p:15.3f}" if p is not None else f"{'-':>15}"
        print(f"{stage:<28}{t:15.3f}{ptxt}{ratio}")
