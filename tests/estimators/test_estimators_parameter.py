"""Norm fits: 1D likelihood core, ParameterEstimator (Fit path) and FluxPointsEstimator on a
synthetic spectrum dataset, against analytic results."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from _estimators_synth import SynthOtherStat, make_dataset

from gammapipe.estimators import FluxEstimator, FluxPointsEstimator, ParameterEstimator
from gammapipe.estimators._norm_profile import CashTerm, NormLikelihood, WStatTerm
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel
from gammapipe.stats import WStatCountsStatistic
from gammapipe.utils.errors import GammapipeError


def _pl(amplitude=2e-11):
    return PowerLawSpectralModel(index=2.5, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"),
                                 reference=1 * u.TeV)


def test_single_bin_cash_analytic():
    """One bin, n counts, background b, signal s: norm = (n - b) / s and
    TS = 2 [n ln(n / b) - (n - b)], curvature error sqrt(n) / s."""
    n, b, s = 130.0, 100.0, 20.0
    like = NormLikelihood([CashTerm([n], [b], [s])])
    fit = like.fit()
    assert fit.success
    np.testing.assert_allclose(fit.norm, (n - b) / s, rtol=1e-10)
    np.testing.assert_allclose(fit.norm_err, np.sqrt(n) / s, rtol=1e-8)
    ts = like.stat([0.0])[0] - fit.stat
    np.testing.assert_allclose(ts, 2 * (n * np.log(n / b) - (n - b)), rtol=1e-10)
    errn, errp = like.errn_errp(fit, 1)
    # profile crossings: stat(norm) - stat_min = 1
    for x in (fit.norm - errn, fit.norm + errp):
        np.testing.assert_allclose(like.stat([x])[0] - fit.stat, 1.0, atol=1e-8)
    assert errp > errn > 0
    ul = like.upper_limit(fit, 2)
    np.testing.assert_allclose(like.stat([ul])[0] - fit.stat, 4.0, atol=1e-8)


def test_wstat_term_matches_counts_statistic():
    n_on, n_off, alpha = 50.0, 60.0, 0.25
    like = NormLikelihood([WStatTerm([n_on], [n_off], [alpha], [0.0], [10.0])])
    fit = like.fit()
    np.testing.assert_allclose(fit.norm * 10, n_on - alpha * n_off, rtol=1e-8)
    ts = like.stat([0.0])[0] - fit.stat
    np.testing.assert_allclose(ts, WStatCountsStatistic(n_on, n_off, alpha).ts, rtol=1e-8)


def test_parameter_estimator_generic():
    ds = make_dataset(_pl(), seed=3, cls=SynthOtherStat)
    model = SkyModel(spectral_model=_pl(), name="src")
    ds.models = [model]
    amp = model.spectral_model.amplitude
    est = ParameterEstimator(selection_optional="all", null_value=0)
    amp.scan_values = np.linspace(1.5e-11, 2.5e-11, 5)
    res = est.run(ds, amp)
    assert res["success"]
    np.testing.assert_allclose(res["amplitude"], 2e-11, rtol=0.05)
    assert res["ts"] > 100
    assert res["amplitude_errn"] > 0 and res["amplitude_errp"] > 0
    np.testing.assert_allclose(res["amplitude_errp"], res["amplitude_err"], rtol=0.1)
    assert res["amplitude_ul"] > res["amplitude"] + res["amplitude_errp"]
    assert res["stat_scan"].shape == (5,)
    # index stays frozen state and value unchanged
    assert model.spectral_model.index.value == 2.5
    with pytest.raises(ValueError, match="selection_optional"):
        ParameterEstimator(selection_optional=["bogus"])


@pytest.mark.parametrize("selection", [None, "all"])
def test_fast_path_equals_fit_path(selection):
    pl = _pl()
    ds_fast = make_dataset(pl, seed=1)
    ds_fit = make_dataset(pl, seed=1, cls=SynthOtherStat)
    out = []
    for ds in (ds_fast, ds_fit):
        ds.models = [SkyModel(spectral_model=_pl(), name="src")]
        fpe = FluxPointsEstimator(energy_edges=[0.5, 2, 8, 50] * u.TeV, source="src",
                                  selection_optional=selection)
        out.append(fpe.run(ds).to_table("likelihood"))
    fast, fit = out
    assert fast.colnames == fit.colnames
    np.testing.assert_allclose(fast["norm"], fit["norm"], rtol=2e-3)
    np.testing.assert_allclose(fast["ts"], fit["ts"], rtol=1e-5)
    np.testing.assert_allclose(fast["norm_err"], fit["norm_err"], rtol=0.01)
    if selection:
        for name in ("norm_errn", "norm_errp", "norm_ul"):
            np.testing.assert_allclose(fast[name], fit[name], rtol=0.01)
        np.testing.assert_allclose(fast["stat_scan"], fit["stat_scan"], rtol=1e-9)


def test_flux_points_asimov_recover_model():
    """Counts equal to the expectation: every flux point has norm 1 exactly."""
    pl = _pl()
    ds = make_dataset(pl, expected=True)
    ds.models = [SkyModel(spectral_model=_pl(), name="src")]
    fp = FluxPointsEstimator(energy_edges=[0.5, 1, 3, 10, 50] * u.TeV, source=0).run(ds)
    table = fp.to_table("dnde")
    np.testing.assert_allclose(fp.norm.data.ravel(), 1.0, rtol=1e-7)
    np.testing.assert_allclose(table["dnde"].quantity, pl(table["e_ref"].quantity), rtol=1e-7)
    # sum_over_energy_groups: same answer for the Asimov data set
    fp2 = FluxPointsEstimator(energy_edges=[0.5, 3, 50] * u.TeV, source=0,
                              sum_over_energy_groups=True).run(ds)
    np.testing.assert_allclose(fp2.norm.data.ravel(), 1.0, rtol=1e-7)


def test_flux_estimator_single_bin_and_errors():
    ds = make_dataset(_pl(), seed=2)
    ds.models = [SkyModel(spectral_model=_pl(), name="src")]
    res = FluxEstimator(source="src", energy_min=1 * u.TeV, energy_max=10 * u.TeV,
                        selection_optional=["ul"]).run(ds)
    assert res["success"]
    np.testing.assert_allclose(res["dnde"], res["norm"] * res["ref_dnde"])
    assert res["norm_ul"] > res["norm"]
    with pytest.raises(GammapipeError, match="available models: \\['src'\\]"):
        FluxEstimator(source="nope").run(ds)


def test_empty_bin_gives_nan_row():
    mask = np.ones(12, bool)
    mask[-6:] = False  # reco bins above 5 TeV not safe
    ds = make_dataset(_pl(), seed=4, mask=mask)
    ds.models = [SkyModel(spectral_model=_pl(), name="src")]
    for cls_ds in (ds,):
        fp = FluxPointsEstimator(energy_edges=[0.5, 5, 50] * u.TeV, source="src",
                                 selection_optional="all").run(cls_ds)
        t = fp.to_table("dnde")
        assert list(t["success"]) == [True, False]
        assert np.isnan(t["dnde"][1]) and np.isnan(t["dnde_ul"][1]) and np.isnan(t["ts"][1])
        assert np.isfinite(t["dnde"][0])
    ds_fit = make_dataset(_pl(), seed=4, mask=mask, cls=SynthOtherStat)
    ds_fit.models = [SkyModel(spectral_model=_pl(), name="src")]
    t = FluxPointsEstimator(energy_edges=[0.5, 5, 50] * u.TeV, source="src").run(
        ds_fit).to_table("dnde")
    assert list(t["success"]) == [True, False]


def test_joint_datasets_per_dataset_columns():
    """Two Asimov datasets fitted jointly: norm 1, counts/npred per dataset."""
    from gammapipe.datasets import Datasets

    pl = _pl()
    d1 = make_dataset(pl, expected=True, name="a")
    d2 = make_dataset(pl, expected=True, name="b", livetime_exposure=1e13)
    datasets = Datasets([d1, d2])
    datasets.models = [SkyModel(spectral_model=_pl(), name="src")]
    fpe = FluxPointsEstimator(energy_edges=[0.5, 5, 50] * u.TeV, source="src")
    fp = fpe.run(datasets)
    t = fp.to_table("likelihood")
    np.testing.assert_allclose(t["norm"], 1.0, rtol=1e-7)
    assert t["counts"].shape == (2, 2)
    np.testing.assert_allclose(t["npred"], t["counts"], rtol=1e-7)
    # the second dataset has a third of the exposure: a third of the excess
    np.testing.assert_allclose(t["npred_excess"][:, 1] / t["npred_excess"][:, 0], 1 / 3,
                               rtol=1e-7)
    text = str(fpe)
    assert "FluxPointsEstimator" in text and "n_sigma_ul" in text
