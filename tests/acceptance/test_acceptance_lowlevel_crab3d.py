"""Acceptance: the reference "low-level API" Crab 3D workflow runs as written with gammapipe.

`lowlevel_crab3d.py` (HESS DL3 DR1, H.E.S.S. collaboration) is run with ``gammapy`` replaced by
``gammapipe`` in its imports, and its JSON is compared with ``lowlevel_crab3d.json`` (gammapy
2.1). Tolerances are those of issues 4, 5 and 7: counts exact; reduced maps, backgrounds,
exposures and statistics 1e-3 relative; fitted parameters within 0.1 sigma and errors within
5 %; flux points dnde within 1 %, errors within 5 %, ts within 0.1.

Documented differences:
- covariance terms come from Minuit's numerical HESSE; they agree in correlation to 0.02 (the
  diagonal errors within 5 %), not to 1e-3;
- flux-point ``norm`` columns are relative to the *fitted* model, which differs from the
  reference's at the 0.002-sigma level, so they are compared at 1 % like dnde;
- ``stat_sum_fresh_evaluators`` vs ``stat_sum_recomputed``: the reference keeps PSF kernels of
  an earlier position during the fit (its README note 3); gammapipe reproduces both numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _workflow import Comparison, exact, run_workflow_script, within

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(reference_dir, data_dir, tmp_path_factory):
    import json

    script = reference_dir / "lowlevel_crab3d.py"
    ours = run_workflow_script(script, tmp_path_factory.mktemp("lowlevel"), data_dir)
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    return ours, ref


def _errors(ref):
    return {(p["model"], p["name"]): p["error"] for p in ref["fit"]["parameters"]}


def test_reduction_and_fit_numbers(results):
    ours, ref = results
    sigmas = _errors(ref)

    def parameter(path, o, r):
        sigma = sigmas[(r["model"], r["name"])]
        for key in ("model", "name", "unit", "frozen", "type"):
            if o[key] != r[key]:
                return f"{key}: {o[key]!r} != {r[key]!r}"
        if r["frozen"]:
            return None if math.isclose(o["value"], r["value"], rel_tol=1e-9) else "frozen value"
        if abs(o["value"] - r["value"]) > 0.1 * sigma:
            return f"value {o['value']} vs {r['value']}: > 0.1 sigma ({sigma})"
        if not math.isclose(o["error"], r["error"], rel_tol=0.05):
            return f"error {o['error']} vs {r['error']} (> 5 %)"
        return None

    def correlation(path, o, r):
        o, r = np.asarray(o), np.asarray(r)
        corr = [c / np.sqrt(np.outer(np.diag(c), np.diag(c)) + 1e-300) for c in (o, r)]
        diff = np.abs(corr[0] - corr[1])[np.isfinite(corr[1])].max()
        return None if diff < 0.02 else f"correlation differs by {diff:.3f}"

    def stat_within(tol):
        def rule(path, o, r):
            diff = np.max(np.abs(np.asarray(o, dtype=float) - np.asarray(r, dtype=float)))
            return None if diff <= tol else f"{o} vs {r} (tol {tol})"

        return rule

    rules = [
        (r"obs_ids$|cutout_shape|n_safe_bins|counts_in_safe|counts_total|n_bins|n_fit_bins", exact),
        (r"counts_per_energy_bin|\.counts$|psf_map_shape|edisp_map_shape|bins_any_true", exact),
        (r"^fit\.parameters\[\d+\]$", parameter),
        (r"^fit\.covariance_free", correlation),
        (r"^fit\.(total_stat|stat_sum_recomputed)$", stat_within(0.1)),
        (r"^fit\.stat_sum_fresh_evaluators$", stat_within(0.01)),
        (r"\.columns\.(ts|sqrt_ts)$", within(1e-3)),
        (r"\.columns\.(dnde|e2dnde|norm|ref_\w+)$", within(1e-2)),
        (r"\.columns\.\w+_(err|errn|errp|ul)$", within(5e-2)),
        (r"\.columns\.(stat|stat_null)$", stat_within(0.1)),
        (r"\.columns\.(npred|npred_excess)$", within(5e-3)),
        (r"^fit\.npred_signal", within(2e-3)),
        (r"^doc_checks", lambda p, o, r: None),  # the reference's own comparison with its docs
        (r"models_file|stacked_file$", lambda p, o, r: None),  # file names chosen by the script
    ]
    comparison = Comparison(rtol=1e-3, rules=rules)
    comparison.compare(ours, ref)
    comparison.assert_ok()
    assert comparison.compared > 300  # every section of the JSON was reached


def test_outputs_written(results, tmp_path):
    ours, _ = results
    assert ours["stacked_file"] == "lowlevel_crab3d-stacked.fits.gz"
    assert ours["models_file"] == "lowlevel_crab3d-models.yaml"
    assert ours["fit"]["success"] is True
