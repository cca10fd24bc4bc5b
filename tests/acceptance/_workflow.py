"""Run a reference workflow script with gammapipe and compare its JSON with the reference.

The scripts in ``../shared/reference/public`` were written against the reference tool. The
acceptance criterion of gammapipe is that they run *as written* with ``gammapy`` replaced by
``gammapipe`` in their imports and give the same numbers: counts exactly, other quantities
within a relative tolerance, fitted parameters within a fraction of their errors.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# JSON keys that describe the run, not the physics (timings, versions, file sizes, paths)
VOLATILE = re.compile(
    r"(^|\.)(timing|timing_run2|rerun_max_rel_diff|peak_rss_mb|versions|data_root|workflow"
    r"|[a-z_]*file_size_MB|message|backend|method|nfev|date)$"
)


def run_workflow_script(script: Path, workdir: Path, data: Path, timeout: float = 1500) -> dict:
    """Copy ``script`` into ``workdir`` with gammapipe imports, run it once, return its JSON."""
    text = script.read_text()
    text = text.replace("gammapy", "gammapipe")
    text = text.replace("run_workflow(main)", "run_workflow(main, repeat_if_faster_than=0)")
    target = workdir / script.name
    target.write_text(text)
    env = dict(os.environ, DATA=str(data), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(target)], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{script.name} failed with gammapipe (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
        )
    return json.loads((workdir / f"{script.stem}.json").read_text())


@dataclass
class Comparison:
    """Collects differences between the gammapipe and the reference JSON."""

    rtol: float = 1e-3
    rules: list = field(default_factory=list)  # (regex, callable(path, ours, ref) -> str|None)
    problems: list = field(default_factory=list)
    compared: int = 0

    def rule_for(self, path: str):
        for pattern, rule in self.rules:
            if re.search(pattern, path):
                return rule
        return None

    def compare(self, ours, ref, path: str = "") -> None:
        if path and VOLATILE.search(path):
            return
        rule = self.rule_for(path)
        if rule is not None:
            self.compared += 1
            msg = rule(path, ours, ref)
            if msg:
                self.problems.append(f"{path}: {msg}")
            return
        if isinstance(ref, dict):
            if not isinstance(ours, dict):
                self.problems.append(f"{path}: expected a dict, got {type(ours).__name__}")
                return
            for key, value in ref.items():
                child = f"{path}.{key}" if path else key
                if VOLATILE.search(child):
                    continue
                if key not in ours:
                    self.problems.append(f"{child}: missing")
                    continue
                self.compare(ours[key], value, child)
            return
        if isinstance(ref, list):
            if not isinstance(ours, list) or len(ours) != len(ref):
                n = len(ours) if isinstance(ours, list) else type(ours).__name__
                self.problems.append(f"{path}: length {n} != {len(ref)}")
                return
            for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
                self.compare(a, b, f"{path}[{i}]")
            return
        self.compared += 1
        if isinstance(ref, bool) or isinstance(ref, str) or ref is None:
            if ours != ref:
                self.problems.append(f"{path}: {ours!r} != {ref!r}")
            return
        if isinstance(ref, int) and isinstance(ours, int):
            if ours != ref:
                self.problems.append(f"{path}: {ours} != {ref} (exact)")
            return
        if not isinstance(ours, int | float) or isinstance(ours, bool):
            self.problems.append(f"{path}: {ours!r} is not a number (ref {ref!r})")
            return
        if not math.isclose(ours, ref, rel_tol=self.rtol, abs_tol=1e-12):
            rel = abs(ours - ref) / max(abs(ref), 1e-300)
            self.problems.append(f"{path}: {ours!r} vs {ref!r} (rel {rel:.2e})")

    def assert_ok(self, max_report: int = 40) -> None:
        assert self.compared > 0, "nothing was compared"
        if self.problems:
            shown = "\n".join(self.problems[:max_report])
            raise AssertionError(f"{len(self.problems)} differences from the reference:\n{shown}")


def exact(path, ours, ref):
    """Rule: exact equality (counts, bin numbers, shapes)."""
    return None if ours == ref else f"{ours!r} != {ref!r} (must be exact)"


def within(rtol):
    """Rule factory: relative tolerance (element-wise for lists)."""

    def rule(path, ours, ref):
        a, b = _flat(ours), _flat(ref)
        if len(a) != len(b):
            return f"length {len(a)} != {len(b)}"
        for x, y in zip(a, b, strict=True):
            if x is None or y is None:
                if x is not y:
                    return f"{ours!r} vs {ref!r}"
                continue
            if not math.isclose(x, y, rel_tol=rtol, abs_tol=1e-12):
                return f"{x!r} vs {y!r} (rtol {rtol})"
        return None

    return rule


def _flat(x):
    if isinstance(x, list):
        return [v for item in x for v in _flat(item)]
    return [x]
