"""Write the products of an `Analysis` and a Markdown report linking them.

Everything is first written into a hidden staging folder inside the output folder and
moved into place only when all products were written, so a failure never leaves a
half-written set of results (the staging folder is removed on error).

Products (those available)::

    config.yaml                 the config used
    datasets/                   DL4 datasets (FITS) + datasets.yaml index
    models.yaml                 fitted models (+ models_covariance.dat)
    fit_summary.ecsv            parameters table (value, error, bounds, frozen)
    fit_result.txt              optimiser / covariance summary
    truth_comparison.ecsv       simulated truth next to the fitted values (simulated data)
    flux_points.fits / .ecsv    flux points (gadf-sed, likelihood SED type)
    excess_maps.fits            counts / excess / significance maps
    *.png                       counts, excess, significance, residuals, spectrum
    report.md                   this report
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["write_outputs", "make_report", "write_datasets_index", "read_datasets"]

log = logging.getLogger(__name__)


def write_datasets_index(datasets, index_path: Path, overwrite: bool = True) -> Path:
    """Write each dataset to ``<name>.fits.gz`` next to ``index_path`` and the YAML index
    (``datasets: [{name, type, filename}]``) to ``index_path``."""
    import yaml

    from gammapipe.utils.fits import atomic_write

    folder = index_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for dataset in datasets:
        filename = f"{dataset.name}.fits.gz"
        dataset.write(folder / filename, overwrite=overwrite)
        entries.append({"name": dataset.name, "type": type(dataset).__name__,
                        "filename": filename})
    text = yaml.safe_dump({"datasets": entries}, sort_keys=False)
    atomic_write(lambda tmp: Path(tmp).write_text(text), index_path, overwrite=overwrite)
    return index_path


def read_datasets(path: str | os.PathLike, kind: str = "3d"):
    """Datasets from a dataset FITS file or a ``datasets.yaml`` index written by
    `Analysis.write` / `Analysis.write_datasets`."""
    import yaml

    from gammapipe.datasets import Datasets
    from gammapipe.utils.errors import MissingFileError
    from gammapipe.utils.fits import make_path

    from ._config_types import ConfigError

    path = make_path(path)
    if not path.is_file():
        raise MissingFileError(f"general.datasets_file: file not found: {path}")
    if path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(path.read_text()) or {}
        entries = data.get("datasets") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{path}: expected a 'datasets' list of {{name, type, "
                              f"filename}} entries")
        datasets = []
        for entry in entries:
            filename = make_path(entry["filename"])
            if not filename.is_absolute():
                filename = path.parent / filename
            cls = _dataset_class(entry.get("type", "MapDataset"), path)
            datasets.append(cls.read(filename, name=entry.get("name")))
        return Datasets(datasets)
    cls = _dataset_class("MapDataset" if kind == "3d" else "SpectrumDatasetOnOff", path)
    return Datasets([cls.read(path)])


def _dataset_class(name: str, where):
    import importlib

    from ._config_types import ConfigError

    modules = {"MapDataset": "map_dataset", "MapDatasetOnOff": "map_onoff",
               "SpectrumDataset": "spectrum", "SpectrumDatasetOnOff": "spectrum"}
    if name not in modules:
        raise ConfigError(f"{where}: unknown dataset type {name!r}; known: "
                          f"{', '.join(modules)}")
    return getattr(importlib.import_module(f"gammapipe.datasets.{modules[name]}"), name)


def _write_datasets(analysis, stage: Path) -> list[str]:
    write_datasets_index(analysis.datasets, stage / "datasets" / "datasets.yaml")
    names = [f"datasets/{d.name}.fits.gz" for d in analysis.datasets]
    return [*names, "datasets/datasets.yaml"]


def _write_maps(maps, path: Path) -> None:
    """Write a dict-like of maps (or an object with ``write``) to one FITS file."""
    if hasattr(maps, "write") and not isinstance(maps, dict):
        maps.write(path, overwrite=True)
        return
    from astropy.io import fits

    hdus = [fits.PrimaryHDU()]
    for name, m in maps.items():
        if not hasattr(m, "to_hdulist"):
            continue
        sub = m.to_hdulist(hdu=name.upper()) if _accepts_hdu(m) else m.to_hdulist()
        for hdu in sub[1:] if isinstance(sub[0], fits.PrimaryHDU) else sub:
            if hdu.name in ("", "PRIMARY"):
                hdu.name = name.upper()
            hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)


def _accepts_hdu(m) -> bool:
    import inspect

    try:
        return "hdu" in inspect.signature(m.to_hdulist).parameters
    except (TypeError, ValueError):
        return False


def _excess_items(excess) -> dict:
    if excess is None:
        return {}
    if isinstance(excess, dict):
        return excess
    out = {}
    for name in ("counts", "npred", "npred_excess", "sqrt_ts", "ts", "flux"):
        try:
            out[name] = excess[name]
        except (KeyError, TypeError, AttributeError, IndexError):
            value = getattr(excess, name, None)
            if value is not None:
                out[name] = value
    return out


def _write_plots(analysis, stage: Path) -> list[str]:
    from . import plotting

    written = []
    datasets = analysis.datasets
    kind = analysis.config.datasets.type

    def attempt(name, func, *args, **kwargs):
        try:
            func(*args, **kwargs)
            written.append(name)
        except Exception as exc:  # a plot must never abort writing the results
            log.warning("plot %s failed: %s: %s", name, type(exc).__name__, exc)

    if kind == "3d" and datasets is not None:
        dataset = datasets[0]
        attempt("counts.png", plotting.plot_sky_image, dataset.counts, stage / "counts.png",
                "Counts", stretch="sqrt", label="counts")
        excess = _excess_items(analysis.excess_map)
        if "npred_excess" in excess:
            attempt("excess.png", plotting.plot_sky_image, excess["npred_excess"],
                    stage / "excess.png", "Excess counts (correlated)", stretch="sqrt",
                    label="excess counts")
        if "sqrt_ts" in excess:
            attempt("significance.png", plotting.plot_sky_image, excess["sqrt_ts"],
                    stage / "significance.png", "Significance (sqrt TS)", cmap="coolwarm",
                    symmetric=True, label="sigma")
        if analysis.models is not None:
            attempt("residuals.png", plotting.plot_residual_image, dataset,
                    stage / "residuals.png")
    if kind == "1d" and datasets is not None and analysis.models is not None:
        for dataset in datasets:
            attempt(f"spectrum_fit_{dataset.name}.png", plotting.plot_spectrum_fit, dataset,
                    stage / f"spectrum_fit_{dataset.name}.png")
    source = analysis.config.flux_points.source
    if analysis.models is not None and source in analysis.models.names:
        model = analysis.models[source]
        edges = None
        if datasets is not None:
            axis = datasets[0].counts.geom.axes["energy"]
            edges = axis.edges[[0, -1]]
        truth = None
        if analysis.truth is not None and source in analysis.truth.names:
            truth = analysis.truth[source]
        attempt("spectrum.png", plotting.plot_spectrum, model, stage / "spectrum.png",
                flux_points=analysis.flux_points, energy_bounds=edges, truth=truth)
    return written


def _write_products(analysis, stage: Path, plots: bool) -> dict:
    files: dict[str, list[str]] = {}
    analysis.config.write(stage / "config.yaml", overwrite=True)
    files["config"] = ["config.yaml"]
    if analysis.datasets is not None:
        files["datasets"] = _write_datasets(analysis, stage)
    if analysis.models is not None:
        analysis.models.write(stage / "models.yaml", overwrite=True, write_covariance=True)
        files["models"] = ["models.yaml", "models_covariance.dat"]
        table = analysis.models.to_parameters_table()
        table.write(stage / "fit_summary.ecsv", format="ascii.ecsv", overwrite=True)
        files["fit_summary"] = ["fit_summary.ecsv"]
    if analysis.fit_result is not None:
        (stage / "fit_result.txt").write_text(str(analysis.fit_result))
        files["fit_result"] = ["fit_result.txt"]
    truth = analysis.truth_comparison()
    if truth is not None and len(truth):
        truth.write(stage / "truth_comparison.ecsv", format="ascii.ecsv", overwrite=True)
        files["truth"] = ["truth_comparison.ecsv"]
    if analysis.flux_points is not None:
        fp = analysis.flux_points
        fp.write(stage / "flux_points.fits", sed_type="likelihood", overwrite=True)
        fp.write(stage / "flux_points.ecsv", sed_type="dnde", overwrite=True)
        files["flux_points"] = ["flux_points.fits", "flux_points.ecsv"]
    if analysis.excess_map is not None:
        _write_maps(analysis.excess_map, stage / "excess_maps.fits")
        files["excess_map"] = ["excess_maps.fits"]
    if plots:
        files["plots"] = _write_plots(analysis, stage)
    (stage / "report.md").write_text(make_report(analysis, files))
    files["report"] = ["report.md"]
    return files


def write_outputs(analysis, outdir: Path, overwrite: bool = True, plots: bool = True) -> dict:
    """Write all products of ``analysis`` into ``outdir``; returns ``{kind: [relative
    paths]}``. Existing products are replaced only with ``overwrite``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".gammapipe-staging-", dir=outdir))
    try:
        files = _write_products(analysis, stage, plots)
        top_level = sorted({name.split("/")[0] for names in files.values() for name in names})
        clashes = [n for n in top_level if (outdir / n).exists()]
        if clashes and not overwrite:
            raise FileExistsError(f"{outdir}: {', '.join(clashes)} exist; use overwrite")
        for name in top_level:
            target = outdir / name
            if target.is_dir():
                shutil.rmtree(target)
            (stage / name).replace(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("results written to %s", outdir)
    return files


def _fmt(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "nan"
    return f"{value:.4g}"


def make_report(analysis, files: dict) -> str:
    """Markdown summary: data, datasets, fit, truth comparison, links to all products."""
    cfg = analysis.config
    lines = ["# gammapipe analysis report", ""]
    source = "simulated data set" if cfg.observations.datastore is None else \
        f"`{cfg.observations.datastore}`"
    n_obs = len(analysis.observations) if analysis.observations is not None else 0
    lines += [f"- Data: {source}, {n_obs} observation(s)",
              f"- Datasets: {cfg.datasets.type}, {'stacked' if cfg.datasets.stack else 'joint'}"
              f" ({', '.join(analysis.datasets.names) if analysis.datasets else 'none'})",
              f"- Background: {cfg.datasets.background.method}", ""]
    if analysis.reduction_info:
        lines += ["## Reduction", "", "| dataset | FoV background norm |", "|---|---|"]
        lines += [f"| {r['name']} | {_fmt(r.get('bkg_norm', np.nan))} |"
                  for r in analysis.reduction_info]
        lines.append("")
    result = analysis.fit_result
    if result is not None:
        lines += ["## Fit", "", f"- success: {result.success} ({result.message})",
                  f"- total stat: {result.total_stat:.3f}, nfev: {result.nfev}", "",
                  "| model | parameter | value | error | unit | frozen |",
                  "|---|---|---|---|---|---|"]
        for model in analysis.models:
            for par in model.parameters:
                lines.append(f"| {model.name} | {par.name} | {_fmt(par.value)} | "
                             f"{_fmt(par.error)} | {par.unit.to_string()} | {par.frozen} |")
        lines.append("")
    truth = analysis.truth_comparison()
    if truth is not None and len(truth):
        lines += ["## Simulated truth vs fit", "",
                  "| parameter | truth | fitted | error | pull |", "|---|---|---|---|---|"]
        for row in truth:
            lines.append(f"| {row['model']}.{row['parameter']} | {_fmt(row['truth'])} | "
                         f"{_fmt(row['fitted'])} | {_fmt(row['error'])} | "
                         f"{_fmt(row['pull'])} |")
        lines.append("")
    lines += ["## Products", ""]
    for kind, names in files.items():
        for name in names:
            lines.append(f"- {kind}: [{name}]({name})")
    images = files.get("plots", [])
    if images:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}]({name})" for name in images]
    lines.append("")
    return "\n".join(lines)
