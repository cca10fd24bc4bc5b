"""Timing of the estimators, gammapipe vs the reference tool (run on demand).

    python benchmarks/bench_estimators.py [--repeat 3] [--npix 200]

Stages: flux points of the low-level Crab workflow (reference DL4 file and models, energy
edges [1, 2, 4, 10] TeV) without and with errn-errp + ul (model predictions cached by the
evaluators, and recomputed from fresh model copies); an excess map and a TS map
(default point-source kernel, 0.5 deg wide) on a simulated ``npix x npix`` 0.02 deg map.
The same code runs with both packages (only the imports differ). Prints best-of-``repeat``
seconds per stage and the ratios; no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from _common import REPO, report, run_peer

STAGES = """
import json, time
import numpy as np
import astropy.units as u
from {pkg}.datasets import MapDataset
try:  # the reference tool keeps the IRF maps in .irf
    from {pkg}.irf import EDispKernelMap, PSFMap
except ImportError:
    from {pkg}.datasets import EDispKernelMap, PSFMap
from {pkg}.estimators import ExcessMapEstimator, FluxPointsEstimator, TSMapEstimator
from {pkg}.maps import MapAxis, WcsGeom
from {pkg}.modeling.models import Models

def best(func, repeat):
    out = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        out = min(out, time.perf_counter() - t0)
    return out

repeat, npix = {repeat}, {npix}
ref = "{ref}/"
times = {{}}
crab = MapDataset.read(ref + "lowlevel_crab3d-stacked.fits.gz", name="crab-stacked")
crab.models = Models.read(ref + "lowlevel_crab3d-models.yaml")
edges = [1, 2, 4, 10] * u.TeV
fpe = FluxPointsEstimator(energy_edges=edges, source="crab")
fpe_ul = FluxPointsEstimator(energy_edges=edges, source="crab",
                             selection_optional=["errn-errp", "ul"])
fpe.run(datasets=[crab])  # warm-up (imports)
times["flux points (crab 3D)"] = best(lambda: fpe.run(datasets=[crab]), repeat)
times["flux points errn-errp ul"] = best(lambda: fpe_ul.run(datasets=[crab]), repeat)
models = crab.models


def fresh_run():
    crab.models = models.copy()  # new evaluators: the model prediction is recomputed
    fpe_ul.run(datasets=[crab])


times["flux points ul, fresh models"] = best(fresh_run, repeat)

e = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
et = MapAxis.from_energy_bounds(0.5, 20, 6, unit="TeV", name="energy_true")
geom = WcsGeom.create(skydir=(83.63, 22.01), binsz=0.02, npix=(npix, npix), frame="icrs",
                      proj="CAR", axes=[e])
ds = MapDataset.create(geom, energy_axis_true=et, name="sim")
ds.exposure.data[...] = 1e11
ds.background.data[...] = 0.5
ds.mask_safe.data[...] = True
ds.psf = PSFMap.from_gauss(et, sigma=0.05 * u.deg)
ds.edisp = EDispKernelMap.from_diagonal_response(e, et)
rng = np.random.default_rng(1)
ds.counts.data[...] = rng.poisson(0.5, size=ds.counts.data.shape)
ds.counts.data[:, npix // 2, npix // 2] += 60
ExcessMapEstimator("0.1 deg").run(ds)  # warm-up
times[f"excess map {{npix}}x{{npix}}"] = best(
    lambda: ExcessMapEstimator("0.1 deg").run(ds), repeat)
tse = TSMapEstimator(kernel_width="0.5 deg")
small = ds.cutout(geom.center_skydir, width=0.6 * u.deg)
tse.run(small)  # warm-up (imports, kernel code paths)
times[f"ts map {{npix}}x{{npix}}"] = best(lambda: tse.run(ds), repeat)
print(json.dumps(times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--npix", type=int, default=200)
    args = parser.parse_args()
    params = {"repeat": args.repeat, "npix": args.npix,
              "ref": str(REPO.parent / "shared" / "reference" / "public")}
    namespace: dict = {}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(STAGES.format(pkg="gammapipe", **params), namespace)  # noqa: S102 - own code
    ours = json.loads(buffer.getvalue().strip().splitlines()[-1])
    peer = run_peer(STAGES.format(pkg="gammapy", **params))
    report(f"estimators (best of {args.repeat})", ours, peer)


if __name__ == "__main__":
    main()
