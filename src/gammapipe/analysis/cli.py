"""The ``gammapipe`` command-line tool.

Commands::

    gammapipe run [CONFIG.yaml] [--out DIR] [--workers N] [--scheduler ADDRESS]
    gammapipe config [--out FILE]
    gammapipe info PATH
    gammapipe simulate [--out DIR] [--n-obs N] [--livetime T] ...

``run`` without a config simulates a small data set and analyses it end to end, printing
the recovered parameters next to the simulated truth. On bad input every command prints
one line ``gammapipe: error: ...`` and exits with a non-zero code (no traceback unless
``--debug``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]

log = logging.getLogger("gammapipe")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPT = 130


# ----------------------------------------------------------------------------- setup
def _setup_logging(quiet: bool, debug: bool, level: str = "info",
                   filename: Path | None = None) -> None:
    if debug:
        numeric = logging.DEBUG
    elif quiet:
        numeric = logging.WARNING
    else:
        numeric = getattr(logging, level.upper(), logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if filename is not None:
        handlers.append(logging.FileHandler(filename))
    fmt = "%(asctime)s %(levelname)-7s %(name)s: %(message)s" if debug else \
        "%(asctime)s %(levelname)-7s %(message)s"
    logging.basicConfig(level=numeric, format=fmt, datefmt="%H:%M:%S", handlers=handlers,
                        force=True)
    logging.captureWarnings(True)
    if not debug:
        # numerical warnings of the optimiser probing extreme parameter values are noise
        # for a command-line user; --debug shows them
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        for name in ("distributed", "asyncio", "matplotlib", "PIL"):
            logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``gammapipe`` tool."""
    parser = _Parser(prog="gammapipe",
                     description="Gamma-ray astronomy analysis: DL3 -> datasets -> fit -> "
                     "flux points, from a YAML config.")
    from gammapipe import __version__

    parser.add_argument("--version", action="version", version=f"gammapipe {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("--debug", action="store_true",
                        help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", parents=[common], help="run an analysis",
                         description="Reduce, fit, flux points, excess map, plots and report."
                         " Without CONFIG: simulate a small data set and analyse it.")
    run.add_argument("config", nargs="?", help="YAML config (see `gammapipe config`)")
    run.add_argument("--out", help="output folder (overrides general.outdir)")
    run.add_argument("--workers", type=int, help="parallel reduction workers")
    run.add_argument("--scheduler", help="Dask scheduler address (e.g. tcp://host:8786)")
    run.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key (YAML value), e.g. --set datasets.stack=false"
                     " --set 'observations.obs_ids=[23523, 23526]'")

    cfg = sub.add_parser("config", parents=[common], help="print the documented default config")
    cfg.add_argument("--example", choices=("crab3d", "spectrum1d"),
                     help="print an example config instead (H.E.S.S. DL3 DR1 Crab runs)")
    cfg.add_argument("--out", help="write it to this file instead")
    cfg.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    info = sub.add_parser("info", parents=[common],
                          help="summarise a data store, dataset, models or config file")
    info.add_argument("path", help="data store folder, dataset FITS file or YAML file")

    sim = sub.add_parser("simulate", parents=[common], help="simulate a DL3 data set",
                         description="Simulate runs of point sources on the IRF background "
                         "and write them as GADF DL3 with index files.")
    sim.add_argument("--out", default="gammapipe-simulated", help="output folder")
    sim.add_argument("--n-obs", type=int, default=3, help="number of runs")
    sim.add_argument("--livetime", default="0.5 h", help="live time per run")
    sim.add_argument("--offset", default="0.5 deg", help="wobble offset")
    sim.add_argument("--offset-max", default="2.5 deg", help="simulated field-of-view radius")
    sim.add_argument("--seed", type=int, default=0, help="random seed")
    sim.add_argument("--irf", help="GADF IRF file (default: analytic CTA-like IRFs)")
    sim.add_argument("--ra", type=float, default=83.633, help="source RA (deg)")
    sim.add_argument("--dec", type=float, default=22.014, help="source Dec (deg)")
    sim.add_argument("--index", type=float, default=2.6, help="power-law index")
    sim.add_argument("--amplitude", default="4.5e-11 cm-2 s-1 TeV-1",
                     help="power-law amplitude at 1 TeV")
    sim.add_argument("--models", help="models YAML file to simulate instead of the power law")
    sim.add_argument("--overwrite", action="store_true", help="replace existing files")
    return parser


# ----------------------------------------------------------------------------- commands
def _cmd_config(args) -> int:
    from .config import AnalysisConfig
    from .examples import EXAMPLES

    text = EXAMPLES[args.example] if args.example else AnalysisConfig.default_yaml()
    if args.out:
        from gammapipe.utils.fits import atomic_write, make_path

        atomic_write(lambda tmp: Path(tmp).write_text(text), make_path(args.out),
                     overwrite=args.overwrite)
        log.info("default config written to %s", args.out)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_run(args) -> int:
    from .analysis import Analysis
    from .config import AnalysisConfig

    config = AnalysisConfig.read(args.config) if args.config else AnalysisConfig()
    changes: dict = {"general": {}}
    if args.out:
        changes["general"]["outdir"] = args.out
    if args.workers is not None:
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        changes["general"]["n_jobs"] = args.workers
    if args.scheduler:
        changes["general"]["scheduler"] = args.scheduler
    if args.no_plots:
        changes["general"]["plots"] = False
    if args.quiet:
        changes["general"]["progress"] = False
    config = config.update(changes)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        import yaml

        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise ValueError(f"--set {key}: invalid YAML value {value!r}") from None
        config = config.set(key.strip(), parsed)
    _setup_logging(args.quiet, args.debug, config.general.log.level,
                   config.general.log.filename)
    if config.general.scheduler is not None:
        from .parallel import check_scheduler

        n_workers = check_scheduler(config.general.scheduler)
        log.info("Dask scheduler %s: %d worker(s)", config.general.scheduler, n_workers)
    import matplotlib

    matplotlib.use("Agg")
    analysis = Analysis(config)
    files = analysis.run(write=True)
    _print_summary(analysis, files)
    return 0


def _print_summary(analysis, files) -> None:
    out = sys.stdout
    result = analysis.fit_result
    if result is not None:
        out.write(f"\nFit: success={result.success}, total stat={result.total_stat:.3f}, "
                  f"nfev={result.nfev}\n")
    truth = analysis.truth_comparison()
    if truth is not None and len(truth):
        out.write("\nRecovered parameters vs simulated truth:\n")
        out.write(f"  {'parameter':<22} {'truth':>12} {'fitted':>12} {'error':>11} "
                  f"{'pull':>6}  unit\n")
        for row in truth:
            out.write(f"  {row['model'] + '.' + row['parameter']:<22} {row['truth']:>12.5g} "
                      f"{row['fitted']:>12.5g} {row['error']:>11.3g} {row['pull']:>6.2f}  "
                      f"{row['unit']}\n")
    elif analysis.models is not None:
        out.write("\nFitted parameters:\n")
        for model in analysis.models:
            for par in model.parameters.free_parameters:
                out.write(f"  {model.name + '.' + par.name:<30} {par.value:>12.5g} +- "
                          f"{par.error:.3g} {par.unit}\n")
    out.write(f"\nResults in {analysis.outdir} (report: {analysis.outdir / 'report.md'})\n")


def _cmd_info(args) -> int:
    from gammapipe.utils.errors import MissingFileError
    from gammapipe.utils.fits import make_path

    path = make_path(args.path)
    if not path.exists():
        raise MissingFileError(f"not found: {path}")
    if path.is_dir():
        from gammapipe.data import DataStore

        store = DataStore.from_dir(path)
        sys.stdout.write(store.info(show=False) + "\n")
        return 0
    name = path.name.lower()
    if name.endswith((".yaml", ".yml")):
        return _info_yaml(path)
    if ".fits" in name:
        return _info_fits(path)
    raise ValueError(f"{path}: unknown file type (expected a folder, .fits[.gz] or .yaml)")


def _info_yaml(path: Path) -> int:
    import yaml

    data = yaml.safe_load(path.read_text())
    if isinstance(data, dict) and "components" in data:
        from gammapipe.modeling.models import Models

        models = Models.read(path)
        sys.stdout.write(f"{path}: {len(models)} model(s)\n\n{models}\n")
        return 0
    from .config import AnalysisConfig

    config = AnalysisConfig.read(path)
    sys.stdout.write(f"{path}: valid analysis config\n\n{config.to_yaml()}")
    return 0


def _info_fits(path: Path) -> int:
    from gammapipe.utils.fits import open_fits

    with open_fits(path) as hdulist:
        hdus = [(h.name, type(h).__name__, h.header.get("HDUCLAS1", ""),
                 h.header.get("HDUCLAS2", "")) for h in hdulist]
    names = {h[0] for h in hdus}
    if "COUNTS" in names:
        from gammapipe.datasets import MapDataset

        cls = MapDataset
        if "COUNTS_OFF" in names:
            from gammapipe.datasets import MapDatasetOnOff as cls  # noqa: N813
        sys.stdout.write(f"{cls.read(path)}\n")
        return 0
    if "EVENTS" in {h[2] for h in hdus}:
        from gammapipe.data import Observation

        sys.stdout.write(f"{Observation.read(path)}\n")
        return 0
    sys.stdout.write(f"{path}: {len(hdus)} HDU(s)\n")
    for idx, (hdu_name, kind, c1, c2) in enumerate(hdus):
        sys.stdout.write(f"  {idx:3d} {hdu_name:<24} {kind:<14} {c1} {c2}\n")
    return 0


def _cmd_simulate(args) -> int:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from .simulate import load_irfs, make_source_model, simulate_dl3, wobble_pointings

    if args.n_obs < 1:
        raise ValueError(f"--n-obs must be >= 1, got {args.n_obs}")
    position = SkyCoord(args.ra, args.dec, unit="deg", frame="icrs")
    if args.models:
        from gammapipe.modeling.models import Models

        models = [m for m in Models.read(args.models)
                  if type(m).__name__ == "SkyModel"]
    else:
        models = [make_source_model(position, index=args.index,
                                    amplitude=u.Quantity(args.amplitude))]
    irfs = load_irfs(args.irf) if args.irf else None
    pointings = wobble_pointings(position, u.Quantity(args.offset), args.n_obs)
    store = simulate_dl3(args.out, models, pointings, livetime=u.Quantity(args.livetime),
                         irfs=irfs, random_state=args.seed,
                         offset_max=u.Quantity(args.offset_max), overwrite=args.overwrite,
                         progress=not args.quiet)
    sys.stdout.write(f"simulated {len(store.obs_ids)} run(s) in {args.out}\n")
    return 0


_COMMANDS = {"run": _cmd_run, "config": _cmd_config, "info": _cmd_info,
             "simulate": _cmd_simulate}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gammapipe`` tool; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    _setup_logging(getattr(args, "quiet", False), debug)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        sys.stderr.write("gammapipe: interrupted\n")
        return EXIT_INTERRUPT
    except Exception as exc:
        if debug:
            raise
        from gammapipe.utils.errors import GammapipeError

        message = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, (GammapipeError, OSError, ValueError, KeyError)):
            sys.stderr.write(f"gammapipe: error: {message}\n")
        else:
            sys.stderr.write(f"gammapipe: error: {type(exc).__name__}: {message} "
                             f"(run with --debug for the traceback)\n")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
