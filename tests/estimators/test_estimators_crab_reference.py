"""Flux points of the low-level Crab workflow against the gammapy 2.1 reference numbers.

Data: HESS DL3 DR1, H.E.S.S. collaboration (reduced to the reference DL4 file
``lowlevel_crab3d-stacked.fits.gz`` with the best-fit models ``lowlevel_crab3d-models.yaml``).
"""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest

from gammapipe.estimators import FluxPointsEstimator
from gammapipe.utils.errors import GammapipeError


@pytest.fixture(scope="module")
def crab(reference_dir):
    from gammapipe.datasets import MapDataset
    from gammapipe.modeling.models import Models

    ds = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz", name="crab-stacked")
    ds.models = Models.read(reference_dir / "lowlevel_crab3d-models.yaml")
    ref = json.loads((reference_dir / "lowlevel_crab3d.json").read_text())
    return ds, ref


def _col(rec, sed, name):
    return np.asarray(rec[sed]["columns"][name], dtype=float).ravel()


def test_flux_points_default_selection(crab):
    ds, ref = crab
    fpe = FluxPointsEstimator(energy_edges=[1, 2, 4, 10] * u.TeV, source="crab")
    fp = fpe.run(datasets=[ds])
    rec = ref["flux_points"]
    for sed in ("dnde", "e2dnde", "likelihood"):
        table = fp.to_table(sed_type=sed)
        assert table.colnames == list(rec[sed]["columns"])
        for name, unit in rec[sed]["units"].items():
            assert u.Unit(unit) == (table[name].unit or u.Unit(""))
    table = fp.to_table("dnde")
    # edges snapped to the reco bins: [1, 1.778, 3.162, 10] TeV
    np.testing.assert_allclose(table["e_min"].quantity.to_value("TeV"), _col(rec, "dnde", "e_min"))
    np.testing.assert_allclose(table["e_max"].quantity.to_value("TeV"), _col(rec, "dnde", "e_max"))
    np.testing.assert_allclose(table["e_ref"].quantity.to_value("TeV"),
                               [1.333521, 2.371374, 5.623413], rtol=1e-6)
    np.testing.assert_allclose(table["dnde"].data, [2.07095e-11, 5.72568e-12, 4.51125e-13],
                               rtol=0.01)
    np.testing.assert_allclose(table["dnde_err"].data, _col(rec, "dnde", "dnde_err"),
                               rtol=0.05)
    np.testing.assert_allclose(table["ts"], [731.18, 536.19, 333.13], atol=0.1)
    np.testing.assert_allclose(table["sqrt_ts"], _col(rec, "dnde", "sqrt_ts"), rtol=1e-3)
    np.testing.assert_allclose(np.ravel(table["counts"]), [1183, 722, 574])
    np.testing.assert_allclose(np.ravel(table["npred"]), _col(rec, "dnde", "npred"), rtol=2e-3)
    np.testing.assert_allclose(np.ravel(table["npred_excess"]),
                               _col(rec, "dnde", "npred_excess"), rtol=0.01)
    np.testing.assert_allclose(table["stat"], _col(rec, "dnde", "stat"), atol=0.5)
    np.testing.assert_allclose(table["stat_null"], _col(rec, "dnde", "stat_null"), atol=0.5)
    assert np.all(table["success"])
    lk = fp.to_table("likelihood")
    for name in ("ref_dnde", "ref_flux", "ref_eflux"):
        np.testing.assert_allclose(lk[name].data, _col(rec, "likelihood", name), rtol=1e-4)
    np.testing.assert_allclose(lk["norm"], _col(rec, "likelihood", "norm"), rtol=0.01)
    e2 = fp.to_table("e2dnde")
    np.testing.assert_allclose(e2["e2dnde"].data, _col(rec, "e2dnde", "e2dnde"), rtol=0.01)


def test_flux_points_errn_errp_ul(crab):
    ds, ref = crab
    fpe = FluxPointsEstimator(energy_edges=[1, 2, 4, 10] * u.TeV, source="crab",
                              selection_optional=["errn-errp", "ul"])
    fp = fpe.run(datasets=[ds])
    rec = ref["flux_points_errn_errp_ul"]
    for sed in ("dnde", "e2dnde", "likelihood"):
        assert fp.to_table(sed).colnames == list(rec[sed]["columns"])
    lk = fp.to_table("likelihood")
    for name in ("norm_errn", "norm_errp"):
        np.testing.assert_allclose(lk[name], _col(rec, "likelihood", name), rtol=0.05)
    np.testing.assert_allclose(lk["norm_ul"], _col(rec, "likelihood", "norm_ul"), rtol=0.01)
    dnde = fp.to_table("dnde")
    np.testing.assert_allclose(dnde["dnde_ul"].data, _col(rec, "dnde", "dnde_ul"), rtol=0.01)
    np.testing.assert_allclose(dnde["dnde_errp"].data, _col(rec, "dnde", "dnde_errp"),
                               rtol=0.05)
    assert not np.any(dnde["is_ul"])
    # upper limit = profile crossing at n_sigma_ul = 2: above norm + 2 errp(1 sigma)
    assert np.all(lk["norm_ul"] > lk["norm"] + 2 * lk["norm_errp"])


def test_flux_points_scan_and_empty_bin(crab, reference_dir):
    from gammapipe.datasets import MapDataset

    ds, _ = crab
    # 10-20 TeV is outside the reco axis (1-10 TeV): snapped away; 0.5-1 TeV too.
    fpe = FluxPointsEstimator(energy_edges=[1, 3.162, 10] * u.TeV, source="crab",
                              selection_optional="all")
    fp = fpe.run(ds)
    table = fp.to_table("likelihood")
    assert table["stat_scan"].shape == (2, 11)
    np.testing.assert_allclose(table["norm_scan"][0], np.geomspace(0.2, 5, 11))
    # profile minimum is at most the best-fit stat
    assert np.all(table["stat_scan"].min(axis=1) >= table["stat"] - 1e-6)
    # safe mask removing the highest reco bin -> last flux point has no data
    ds2 = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz",
                          name="crab-stacked")
    ds2.models = ds.models
    ds2.mask_safe.data[-1] = False
    fp2 = FluxPointsEstimator(energy_edges=[1, 3.162, 5.62, 10] * u.TeV, source="crab",
                              selection_optional=["ul"]).run(ds2)
    t2 = fp2.to_table("dnde")
    assert list(t2["success"]) == [True, True, False]
    assert np.isnan(t2["dnde"][2]) and np.isnan(t2["ts"][2]) and np.isnan(t2["dnde_ul"][2])


def test_unknown_source_lists_models(crab):
    ds, _ = crab
    with pytest.raises(GammapipeError, match="crab-stacked-bkg"):
        FluxPointsEstimator(energy_edges=[1, 10] * u.TeV, source="vela").run(ds)


@pytest.mark.slow
def test_generic_path_matches_fast_path(reference_dir):
    """reoptimize=True uses Fit on energy-sliced datasets; with nothing else free it must
    give the numbers of the linear fast path. (Source model only: the background norm is
    not involved.)"""
    from gammapipe.datasets import MapDataset
    from gammapipe.modeling.models import Models

    ds = MapDataset.read(reference_dir / "lowlevel_crab3d-stacked.fits.gz", name="crab-stacked")
    models = Models.read(reference_dir / "lowlevel_crab3d-models.yaml")
    ds.models = [models["crab"]]
    for p in ds.models.parameters:
        p.frozen = True
    edges = [1, 3.162, 10] * u.TeV
    fast = FluxPointsEstimator(energy_edges=edges, source="crab").run(ds)
    generic = FluxPointsEstimator(energy_edges=edges, source="crab", reoptimize=True).run(ds)
    a, b = fast.to_table("likelihood"), generic.to_table("likelihood")
    np.testing.assert_allclose(a["norm"], b["norm"], rtol=2e-3)
    np.testing.assert_allclose(a["ts"], b["ts"], rtol=1e-3)
    np.testing.assert_allclose(a["stat"], b["stat"], atol=1e-3)
    np.testing.assert_allclose(a["norm_err"], b["norm_err"], rtol=0.02)
