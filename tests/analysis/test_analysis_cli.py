"""The ``gammapipe`` command-line tool: config, info, simulate, run (embedded default),
and one-line errors with non-zero exit codes (HESS DL3 DR1, H.E.S.S. collaboration, for
`info` on a real data store)."""

from __future__ import annotations

import pytest
import yaml

from gammapipe.analysis.cli import main
from gammapipe.analysis.config import AnalysisConfig


def _one_line_error(capsys, code, expected_code=1):
    out, err = capsys.readouterr()
    assert code == expected_code
    lines = [line for line in err.splitlines() if line.startswith("gammapipe")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_config_prints_documented_default(capsys, tmp_path):
    assert main(["config"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("# gammapipe analysis config")
    assert AnalysisConfig.from_yaml(out).to_dict() == AnalysisConfig().to_dict()
    path = tmp_path / "c.yaml"
    assert main(["config", "--out", str(path)]) == 0
    assert path.read_text() == out
    code = main(["config", "--out", str(path)])
    assert "exists" in _one_line_error(capsys, code)
    assert main(["config", "--example", "crab3d"]) == 0
    out, _ = capsys.readouterr()
    example = AnalysisConfig.from_yaml(out)
    assert example.datasets.type == "3d"
    assert example.models[0]["name"] == "crab"


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["run", "--workers", "two"])
    assert excinfo.value.code == 2
    _, err = capsys.readouterr()
    assert "invalid int value: 'two'" in err
    assert main([]) == 2
    out, _ = capsys.readouterr()
    assert "run       run an analysis" in out
    with pytest.raises(SystemExit) as excinfo:
        main(["--version"])
    assert excinfo.value.code == 0
    out, _ = capsys.readouterr()
    assert out.strip() == "gammapipe 0.1.0"


def test_bad_inputs_one_line_nonzero(capsys, tmp_path):
    out = tmp_path / "out"
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {geom: {wcs: {binsze: 0.02 deg}}}\n")
    line = _one_line_error(capsys, main(["run", str(bad), "--out", str(out)]))
    assert "datasets.geom.wcs.binsze: unknown key" in line
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("general: {n_jobs: many}\n")
    line = _one_line_error(capsys, main(["run", str(wrong), "--out", str(out)]))
    assert "general.n_jobs: expected an integer, got 'many'" in line
    missing = tmp_path / "missing.yaml"
    missing.write_text(f"observations: {{datastore: {tmp_path / 'nowhere'}}}\n")
    line = _one_line_error(capsys, main(["run", str(missing), "--out", str(out)]))
    assert "data store not found" in line
    line = _one_line_error(capsys, main(["run", str(tmp_path / "absent.yaml")]))
    assert "config file not found" in line
    line = _one_line_error(capsys, main(["run", "--out", str(out), "--set",
                                         "datasets.type=2d"]))
    assert "datasets.type: '2d' is not allowed; allowed values: '3d', '1d'" in line
    line = _one_line_error(capsys, main(["run", "--out", str(out), "--set", "general.n_jobs"]))
    assert "--set expects KEY=VALUE" in line
    line = _one_line_error(capsys, main(["run", "--out", str(out), "--set",
                                         f"observations.datastore={tmp_path / 'none'}"]))
    assert "data store not found" in line
    line = _one_line_error(capsys, main(["run", "--out", str(out), "--workers", "0"]))
    assert "--workers must be >= 1" in line
    pytest.importorskip("dask.distributed")
    line = _one_line_error(capsys, main(["run", "--out", str(out), "--scheduler",
                                         "tcp://127.0.0.1:9", "--quiet"]))
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in line
    # nothing was written for any of these failures
    assert not out.exists()


def test_info(capsys, tmp_path, hess_dir):
    assert main(["info", str(hess_dir)]) == 0
    out, _ = capsys.readouterr()
    assert "105" in out
    config = tmp_path / "config.yaml"
    AnalysisConfig().write(config)
    assert main(["info", str(config)]) == 0
    out, _ = capsys.readouterr()
    assert "valid analysis config" in out
    line = _one_line_error(capsys, main(["info", str(tmp_path / "nope.fits")]))
    assert "not found" in line
    other = tmp_path / "x.txt"
    other.write_text("hello")
    line = _one_line_error(capsys, main(["info", str(other)]))
    assert "unknown file type" in line


def test_simulate_then_info(capsys, tmp_path):
    out = tmp_path / "sim"
    code = main(["simulate", "--out", str(out), "--n-obs", "2", "--livetime", "0.02 h",
                 "--offset-max", "1 deg", "--seed", "4", "--quiet"])
    assert code == 0
    text, _ = capsys.readouterr()
    assert f"simulated 2 run(s) in {out}" in text
    assert main(["info", str(out)]) == 0
    text, _ = capsys.readouterr()
    assert "2" in text
    assert main(["info", str(out / "obs_000001.fits.gz")]) == 0
    text, _ = capsys.readouterr()
    assert "obs id            : 1" in text


def test_run_default_simulates_and_recovers_truth(capsys, tmp_path):
    """`gammapipe run` without config or data: simulate, analyse, report the truth."""
    out = tmp_path / "run"
    code = main(["run", "--out", str(out), "--quiet"])
    stdout, _ = capsys.readouterr()
    assert code == 0
    assert "Recovered parameters vs simulated truth" in stdout
    rows = {line.split()[0]: line.split() for line in stdout.splitlines()
            if line.strip().startswith("source.")}
    assert set(rows) == {"source.index", "source.amplitude", "source.lon_0", "source.lat_0"}
    from astropy.table import Table

    table = Table.read(out / "truth_comparison.ecsv")
    assert list(table["truth"]) == pytest.approx([2.6, 4.5e-11, 83.633, 22.014])
    for row in table:
        assert abs(row["pull"]) < 4, row["parameter"]
        assert (row["fitted"] - row["truth"]) / row["error"] == pytest.approx(row["pull"])
        printed = rows[f"source.{row['parameter']}"]
        assert float(printed[4]) == pytest.approx(row["pull"], abs=0.006)
    names = sorted(p.name for p in out.iterdir())
    for name in ["config.yaml", "datasets", "dl3-simulated", "models.yaml", "fit_summary.ecsv",
                 "flux_points.fits", "flux_points.ecsv", "excess_maps.fits", "counts.png",
                 "excess.png", "significance.png", "residuals.png", "spectrum.png",
                 "truth_comparison.ecsv", "report.md"]:
        assert name in names
    assert not [n for n in names if n.startswith(".gammapipe-staging")]
    models = yaml.safe_load((out / "models.yaml").read_text())
    assert models["covariance"] == "models_covariance.dat"
    report = (out / "report.md").read_text()
    assert "## Simulated truth vs fit" in report
    assert "![spectrum.png](spectrum.png)" in report
    # info understands the written products
    assert main(["info", str(out / "models.yaml")]) == 0
    text, _ = capsys.readouterr()
    assert "model(s)" in text and "source" in text
    assert main(["info", str(out / "datasets" / "stacked.fits.gz")]) == 0
    text, _ = capsys.readouterr()
    assert "Total counts" in text
