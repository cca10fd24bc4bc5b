"""Timing of the low-level Crab 3D fit, gammapipe vs the reference tool (run on demand).

    python benchmarks/bench_fit.py [--repeat 3]

Both tools read the reference DL4 dataset ``lowlevel_crab3d-stacked.fits.gz`` (made from
HESS DL3 DR1, H.E.S.S. collaboration), set the tutorial's point source + power law + FoV
background model at the tutorial's start values and run ``Fit().run`` (MIGRAD + HESSE).
Stages (best of ``repeat``, after one warm-up fit that also imports the optimiser):

* ``stat_sum (new evaluators)``: models set, evaluators built, one statistic;
* ``stat_sum (cached)``: one statistic after a spectral parameter change;
* ``fit ...``: the whole fit. gammapipe is timed three ways: as the script is written
  (``Fit().run([dataset])`` on the `MapDataset`), through the evaluator's fast statistic
  with numerical gradients, and with analytic gradients
  (`gammapipe.datasets.evaluator.stat_sum_and_gradient`).

Prints seconds per stage (wall clock and process CPU time: the machine is shared, CPU
time is less sensitive to other load), the ratio to the reference tool, and the fitted
values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

from _common import REPO, report, run_peer

REFERENCE = Path(REPO.parent / "shared" / "reference" / "public")

STAGES = """
import json, time
import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord
{imports}

repeat = {repeat}
dataset = MapDataset.read("{reference}/lowlevel_crab3d-stacked.fits.gz", name="crab-stacked")

def set_models():
    position = SkyCoord(ra=83.63308, dec=22.01450, unit="deg")
    spatial = PointSpatialModel(lon_0=position.ra, lat_0=position.dec, frame="icrs")
    spectral = PowerLawSpectralModel(
        index=2.702, amplitude=4.712e-11 * u.Unit("1 / (cm2 s TeV)"), reference=1 * u.TeV)
    sky = SkyModel(spatial_model=spatial, spectral_model=spectral, name="crab")
    dataset.models = [sky, FoVBackgroundModel(dataset_name="crab-stacked")]
    return sky

cpu = {{}}

def best(func, setup=None, label=None):
    out, out_cpu, value = np.inf, np.inf, None
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0, c0 = time.perf_counter(), time.process_time()
        value = func()
        out = min(out, time.perf_counter() - t0)
        out_cpu = min(out_cpu, time.process_time() - c0)
    if label is not None:
        cpu[label] = out_cpu
    return out, value

times, values = {{}}, {{}}
def first_stat():
    set_models()
    return dataset.stat_sum()
times["stat_sum (new evaluators)"], values["stat_initial"] = best(
    first_stat, label="stat_sum (new evaluators)")
sky = set_models()
dataset.stat_sum()
def cached_stat():
    sky.spectral_model.index.value += 1e-6
    return dataset.stat_sum()
times["stat_sum (cached)"], _ = best(cached_stat, label="stat_sum (cached)")
{fit_def}
for label, target in fits.items():
    set_models()
    Fit().run(target())  # warm-up (imports the optimiser)
    def run():
        result = Fit().run(target())
        return result
    t, result = best(run, setup=set_models, label=label)
    times[label] = t
    pars = {{p.name: [p.value, p.error] for p in dataset.models.parameters.free_parameters}}
    values[label] = {{"nfev": result.nfev, "total_stat": result.total_stat, "pars": pars}}
print(json.dumps({{"times": times, "cpu": cpu, "values": values}}))
"""

COMMON_IMPORTS = (
    "from {pkg}.datasets import MapDataset\n"
    "from {pkg}.modeling import Fit\n"
    "from {pkg}.modeling.models import (FoVBackgroundModel, PointSpatialModel,\n"
    "    PowerLawSpectralModel, SkyModel)\n"
)

OURS = {
    "imports": COMMON_IMPORTS.format(pkg="gammapipe")
    + "from gammapipe.datasets import evaluator as ev\n",
    "fit_def": '''
class FastDataset:
    def __init__(self, ds, gradient):
        self.ds = ds
        if gradient:
            self.stat_sum_and_gradient = lambda pars: ev.stat_sum_and_gradient(ds, pars)
    @property
    def models(self):
        return self.ds.models
    def stat_sum(self):
        return ev.stat_sum(self.ds)

fits = {
    "fit (MapDataset as written)": lambda: [dataset],
    "fit (fast stat, numerical grad)": lambda: FastDataset(dataset, False),
    "fit (fast stat, analytic grad)": lambda: FastDataset(dataset, True),
}
''',
}
PEER = {
    "imports": COMMON_IMPORTS.format(pkg="gammapy"),
    "fit_def": 'fits = {"fit": lambda: [dataset]}\n',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    params = {"repeat": args.repeat, "reference": str(REFERENCE)}
    namespace: dict = {}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(STAGES.format(**OURS, **params), namespace)  # noqa: S102 - own benchmark code
    ours = json.loads(buffer.getvalue().strip().splitlines()[-1])
    peer = run_peer(STAGES.format(**PEER, **params))
    for kind, title in (("times", "wall clock"), ("cpu", "process CPU time")):
        peer_times = dict(peer.get(kind, {}))
        fit_peer = peer_times.get("fit")
        for label in ours[kind]:
            if label.startswith("fit") and fit_peer is not None:
                peer_times[label] = fit_peer
        report(f"low-level Crab 3D fit, {title} (best of {args.repeat})", ours[kind],
               peer_times)
    print("\nfitted values (value, error), nfev, total stat:")
    for label, rec in list(ours["values"].items()) + [
        (f"reference {k}", v) for k, v in peer.get("values", {}).items()
    ]:
        if isinstance(rec, dict):
            pars = ", ".join(f"{n}={v[0]:.6g}+-{v[1]:.3g}" for n, v in rec["pars"].items())
            print(f"  {label}: nfev={rec['nfev']} stat={rec['total_stat']:.4f} {pars}")
        else:
            print(f"  {label}: {rec:.4f}")


if __name__ == "__main__":
    main()
