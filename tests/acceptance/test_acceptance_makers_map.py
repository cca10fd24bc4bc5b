"""Acceptance: the reference workflow ``makers_map.py`` run with gammapipe.

The script ("Makers - Data reduction" tutorial: empty datasets, MapDatasetMaker on obs
23592, SafeMaskMaker methods, FoV background scale / fit, the 4-run reduction loop with 6 deg
cutouts and stacking, the 1D reflected-regions ON/OFF per run and one OGIP file) is run as
written (``gammapy`` replaced by ``gammapipe`` in its imports). Every section of its JSON is
compared with the reference tool's: counts and bin numbers exactly, every other number
within a relative tolerance of 1e-3. Run metadata (timings, versions, file sizes) is not
compared (see ``_workflow.VOLATILE``).

Data: HESS DL3 DR1, H.E.S.S. collaboration (runs 23523, 23526, 23559, 23592). Reference
numbers: gammapy 2.1 (``../shared/reference/public/makers_map.json``).
"""

from __future__ import annotations

import json

import pytest
from _workflow import Comparison, exact, run_workflow_script

NAME = "makers_map"

# counts and bin numbers: exact (counts are stored as floats by the script)
COUNTS = (
    r"(^|\.)(counts[a-z_]*|info_counts|n_[a-z_]*bins[a-z_]*|n_nonzero|n_reflected_regions"
    r"|[a-z_]*shape[a-z_]*|mask_safe_per_bin|bins_any_true|obs_id)(\[\d+\])*$"
)
RULES = [(COUNTS, exact)]


@pytest.fixture(scope="module")
def result(tmp_path_factory, data_dir, reference_dir):
    if not (data_dir / "hess-dl3-dr1").exists():
        pytest.skip("HESS DL3 DR1 not found")
    workdir = tmp_path_factory.mktemp(NAME)
    ours = run_workflow_script(reference_dir / f"{NAME}.py", workdir, data_dir)
    ref = json.loads((reference_dir / f"{NAME}.json").read_text())
    return ours, ref, workdir


SECTIONS = ["empty", "single_run", "safe_mask_aeff_default_offset_max_3deg",
            "safe_mask_methods", "exclusion_mask_n_excluded_pixels", "fov", "loop", "spectrum",
            "doc_checks"]


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_makers_map_section(result, section):
    ours, ref, _ = result
    assert section in ref
    comparison = Comparison(rtol=1e-3, rules=RULES)
    comparison.compare(ours.get(section), ref[section], section)
    comparison.assert_ok()


@pytest.mark.slow
def test_makers_map_every_section_checked(result):
    ours, ref, _ = result
    physics = {k for k in ref if k not in ("workflow", "versions", "data_root", "timing",
                                            "timing_run2", "rerun_max_rel_diff",
                                            "peak_rss_mb")}
    assert physics == set(SECTIONS)


@pytest.mark.slow
def test_makers_map_key_numbers(result):
    """The numbers of issue 4 and of the 1D part of issue 6."""
    ours, _, workdir = result
    single = ours["single_run"]
    assert single["counts_total"] == 2016
    assert single["background_total"] == pytest.approx(1866.7218, rel=1e-4)
    assert ours["empty"]["n_bins"] == 110000
    assert ours["safe_mask_aeff_default_offset_max_3deg"]["n_true_bins"] == 74327
    methods = ours["safe_mask_methods"]
    assert [methods[k]["n_true_bins"] for k in ("aeff-default", "aeff-max_10pc",
                                                "edisp-bias_10pc", "offset-max_2.5deg",
                                                "bkg-peak")] == [77055, 77055, 63045, 64625,
                                                                 77055]
    assert ours["fov"]["scale"]["norm"] == pytest.approx(0.989065, rel=1e-5)
    assert ours["fov"]["fit"]["norm"] == pytest.approx(0.988945, rel=1e-4)
    loop = ours["loop"]["stacked"]
    assert loop["counts_total"] == 7972
    assert loop["background_total"] == pytest.approx(7668.77, rel=1e-5)
    per_run = {r["obs_id"]: r for r in ours["spectrum"]["per_run"]}
    expected = {23523: (137, 131, 1 / 6, 6), 23592: (111, 287, 1 / 21, 21),
                23526: (136, 105, 1 / 6, 6), 23559: (99, 218, 1 / 22, 22)}
    for obs_id, (n_on, n_off, alpha, n_regions) in expected.items():
        row = per_run[obs_id]
        assert row["counts_total"] == n_on
        assert row["counts_off_total"] == n_off
        assert row["alpha_per_bin"][0] == pytest.approx(alpha, rel=1e-6)
        assert row["n_reflected_regions"] == n_regions
    assert ours["spectrum"]["ogip_files"] == [
        "makers_map-obs-23523.fits.gz", "makers_map-obs-23523_arf.fits.gz",
        "makers_map-obs-23523_bkg.fits.gz", "makers_map-obs-23523_rmf.fits.gz"]
    for name in ours["spectrum"]["ogip_files"]:
        assert (workdir / name).stat().st_size > 0
