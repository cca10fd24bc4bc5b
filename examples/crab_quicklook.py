"""Quick look at the H.E.S.S. Crab runs with gammapipe (the main job until the pipeline lands).

Selects the runs within 5 deg of the Crab from HESS DL3 DR1 (HESS DL3 DR1, H.E.S.S.
collaboration), prints a summary of each observation and of its instrument responses at the
Crab position, fills a counts cube, and writes a FITS cube and a PNG image into ``out/``.

    python examples/crab_quicklook.py [--data DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from gammapipe.data import DataStore
from gammapipe.maps import Map, MapAxis, WcsGeom

CRAB = SkyCoord(83.633, 22.014, unit="deg", frame="icrs")


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    default_data = Path(os.environ.get("GAMMAPIPE_DATA", repo.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data / "hess-dl3-dr1")
    parser.add_argument("--out", type=Path, default=repo / "out")
    args = parser.parse_args(argv)
    if not (args.data / "obs-index.fits.gz").exists():
        print(f"error: no HESS DL3 DR1 data store in {args.data} (set GAMMAPIPE_DATA)",
              file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    data_store = DataStore.from_dir(args.data)
    selection = dict(type="sky_circle", frame="icrs", lon="83.633 deg", lat="22.014 deg",
                     radius="5 deg")
    obs_table = data_store.obs_table.select_observations(selection)
    observations = data_store.get_observations(obs_table["OBS_ID"])
    print(f"{len(data_store.obs_ids)} runs in the data store, {len(observations)} near the Crab")

    energy_axis = MapAxis.from_energy_bounds(1, 10, 4, unit="TeV")
    geom = WcsGeom.create(skydir=CRAB, binsz=0.02, width=(3, 3), frame="icrs", axes=[energy_axis])
    counts = Map.from_geom(geom, unit="")

    print(f"{'obs_id':>7} {'events':>7} {'livetime':>10} {'deadtime':>8} {'offset':>7} "
          f"{'aeff(1 TeV)':>12} {'psf r68(1 TeV)':>15}")
    for obs in observations:
        offset = CRAB.separation(obs.get_pointing_icrs(obs.tmid))
        aeff = obs.aeff.evaluate(energy_true=1 * u.TeV, offset=offset).to("m2")
        r68 = obs.psf.containment_radius(0.68, energy_true=1 * u.TeV, offset=offset).to("deg")
        print(f"{obs.obs_id:>7} {len(obs.events.table):>7} "
              f"{obs.observation_live_time_duration.to_value('s'):>9.1f}s "
              f"{obs.observation_dead_time_fraction:>8.4f} {offset.deg:>6.3f}d "
              f"{np.squeeze(aeff.value):>10.1f}m2 {np.squeeze(r68.value):>14.4f}d")
        counts.fill_events(obs.events)

    args.out.mkdir(parents=True, exist_ok=True)
    counts.write(args.out / "crab_counts.fits.gz", overwrite=True)
    image = counts.sum_over_axes(keepdims=False)
    ax = image.smooth(0.04 * u.deg).plot(add_cbar=True, stretch="sqrt")
    ax.set_title("Crab counts 1-10 TeV (HESS DL3 DR1, H.E.S.S. collaboration)")
    ax.figure.savefig(args.out / "crab_counts.png", dpi=120)
    print(f"counts in the cube: {int(counts.data.sum())}; per energy bin: "
          f"{counts.data.sum(axis=(1, 2)).astype(int).tolist()}")
    print(f"wrote {args.out / 'crab_counts.fits.gz'} and {args.out / 'crab_counts.png'} "
          f"in {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
