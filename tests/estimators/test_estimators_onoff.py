"""Flux points of an ON/OFF (WStat) spectrum: the 4 stacked Crab runs of the reference
workflow ``datasets_stack_vs_joint`` (HESS DL3 DR1, H.E.S.S. collaboration)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest

from gammapipe.estimators import FluxPointsEstimator
from gammapipe.stats import WStatCountsStatistic


@pytest.fixture(scope="module")
def onoff(reference_dir):
    from gammapipe.datasets.spectrum import SpectrumDatasetOnOff
    from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel

    ds = SpectrumDatasetOnOff.read(reference_dir / "datasets_stack_vs_joint-stacked.fits.gz",
                                   format="ogip", name="stacked")
    ref = json.loads((reference_dir / "datasets_stack_vs_joint.json").read_text())
    pars = {p["name"]: p["value"] for p in ref["stacked_fit"]["parameters"]}
    pl = PowerLawSpectralModel(index=pars["index"],
                               amplitude=pars["amplitude"] * u.Unit("cm-2 s-1 TeV-1"),
                               reference=pars["reference"] * u.TeV)
    ds.models = [SkyModel(spectral_model=pl, name="crab")]
    return ds


EDGES = [0.5, 1, 2, 5, 10, 40] * u.TeV


def test_onoff_flux_points(onoff):
    fp = FluxPointsEstimator(energy_edges=EDGES, source="crab",
                             selection_optional="all").run(onoff)
    t = fp.to_table("likelihood")
    assert np.all(t["success"])
    # best-fit spectrum of the stacked fit: flux points agree within 2.5 sigma
    assert np.all(np.abs(t["norm"] - 1) < 2.5 * t["norm_err"])
    assert np.all(t["ts"] > 9)
    # WStat TS of the whole bin == Li & Ma of the summed ON/OFF counts when the bin has a
    # single energy group: check the summed version of the first point
    fp_sum = FluxPointsEstimator(energy_edges=EDGES[:2], source="crab",
                                 sum_over_energy_groups=True).run(onoff)
    e = onoff.counts.geom.axes["energy"].edges.to_value("TeV")
    mask = np.asarray(onoff.mask.data, bool).ravel()
    sel = (e[:-1] >= 0.5 * (1 - 1e-6)) & (e[1:] <= fp_sum.energy_axis.edges[-1].to_value("TeV")
                                            * (1 + 1e-6)) & mask
    n_on = onoff.counts.data.ravel()[sel].sum()
    n_off = onoff.counts_off.data.ravel()[sel].sum()
    alpha = np.asarray(onoff.alpha.data).ravel()[sel]
    alpha_eff = np.sum(alpha * onoff.counts_off.data.ravel()[sel]) / n_off
    np.testing.assert_allclose(fp_sum.ts.data.ravel()[0],
                               WStatCountsStatistic(n_on, n_off, alpha_eff).ts, rtol=1e-6)


def test_onoff_fast_equals_fit(onoff):
    fast = FluxPointsEstimator(energy_edges=EDGES, source="crab",
                               selection_optional=["errn-errp", "ul"]).run(onoff)
    # reoptimize with no other free parameter: Fit on the sliced datasets
    generic = FluxPointsEstimator(energy_edges=EDGES, source="crab", reoptimize=True,
                                  selection_optional=["errn-errp", "ul"]).run(onoff)
    a, b = fast.to_table("likelihood"), generic.to_table("likelihood")
    np.testing.assert_allclose(a["norm"], b["norm"], rtol=1e-3)
    np.testing.assert_allclose(a["ts"], b["ts"], rtol=1e-6)
    for name in ("norm_err", "norm_errn", "norm_errp", "norm_ul"):
        np.testing.assert_allclose(a[name], b[name], rtol=5e-3, err_msg=name)
    np.testing.assert_allclose(np.ravel(a["counts"]), np.ravel(b["counts"]))
