"""Tests of the fit statistics (cash, cstat, wstat, chi2) against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest

from gammapipe.stats import fit_statistics as fs


def test_cash_values_and_edge_cases():
    n = np.array([0.0, 1.0, 5.0, 3.0, 2.0])
    mu = np.array([2.0, 1.0, 4.0, 0.0, -1.0])
    stat = fs.cash(n, mu)
    assert stat[0] == 4.0  # n = 0: 2 mu
    assert stat[1] == 2.0
    assert stat[2] == pytest.approx(2 * (4 - 5 * np.log(4)))
    # npred <= 0 where counts > 0: finite, large
    assert np.all(np.isfinite(stat))
    assert stat[3] == pytest.approx(-2 * 3 * np.log(1e-25))
    assert stat[4] == pytest.approx(2 * (-1 - 2 * np.log(1e-25)))
    assert fs.cash_sum(n, mu) == pytest.approx(stat.sum())
    assert fs.cash(0, 0) == 0
    with pytest.raises(ValueError, match="truncation"):
        fs.cash(n, mu, truncation_value=0)


def test_cash_gradient_factor():
    n = np.array([0.0, 4.0, 7.0])
    mu = np.array([1.5, 3.0, 9.0])
    h = 1e-6
    numeric = (fs.cash(n, mu + h) - fs.cash(n, mu - h)) / (2 * h)
    np.testing.assert_allclose(fs.cash_grad_factor(n, mu), numeric, rtol=1e-7)
    assert fs.cash_grad_factor(3.0, 0.0) == 2.0


def test_cstat_is_cash_plus_saturated_terms():
    n = np.array([0.0, 1.0, 5.0, 12.0])
    mu = np.array([2.0, 1.5, 4.0, 12.0])
    sat = 2 * np.where(n > 0, n * np.log(np.where(n > 0, n, 1)) - n, 0)
    np.testing.assert_allclose(fs.cstat(n, mu), fs.cash(n, mu) + sat, rtol=1e-12, atol=1e-12)
    assert fs.cstat(12.0, 12.0) == pytest.approx(0, abs=1e-12)


def _wstat_brute(n_on, n_off, alpha, mu_sig):
    """-2 ln L of the ON/OFF likelihood, profiled over b on a fine grid + refinement."""
    from scipy.optimize import minimize_scalar

    def neg2logl(b):
        mu_on = mu_sig + alpha * b
        val = 2 * (mu_on + b)
        if n_on > 0:
            val -= 2 * n_on * np.log(mu_on)
        if n_off > 0:
            val -= 2 * n_off * np.log(b)
        return val

    res = minimize_scalar(neg2logl, bounds=(1e-12, 10 * (n_on + n_off + 10)), method="bounded",
                          options={"xatol": 1e-12})
    gof = 0.0
    for n in (n_on, n_off):
        if n > 0:
            gof += 2 * (n * np.log(n) - n)
    return min(res.fun, neg2logl(1e-12)) + gof, res.x


@pytest.mark.parametrize(
    "n_on, n_off, alpha, mu_sig",
    [(13, 11, 0.5, 2.0), (0, 10, 0.2, 1.0), (5, 0, 0.3, 1.5), (5, 0, 0.3, 4.0), (20, 50, 0.1, 12)],
)
def test_wstat_matches_profiled_likelihood(n_on, n_off, alpha, mu_sig):
    expected, b_hat = _wstat_brute(n_on, n_off, alpha, mu_sig)
    assert fs.wstat(n_on, n_off, alpha, mu_sig) == pytest.approx(expected, rel=1e-7, abs=1e-7)
    assert fs.get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig) == pytest.approx(b_hat, abs=1e-5)


def test_wstat_limits():
    # n_on = 0: profiled b = n_off / (1 + alpha), independent of mu_sig
    assert fs.get_wstat_mu_bkg(0, 10, 0.25, 3.0) == pytest.approx(8.0)
    # n_off = 0: b = max(n_on / (1 + alpha) - mu_sig / alpha, 0)
    assert fs.get_wstat_mu_bkg(6, 0, 0.5, 1.0) == pytest.approx(6 / 1.5 - 1 / 0.5)
    assert fs.get_wstat_mu_bkg(6, 0, 0.5, 5.0) == 0
    # n_on = n_off = 0: stat = 2 mu_sig
    assert fs.wstat(0, 0, 0.3, 2.5) == pytest.approx(5.0)
    # best fit mu_sig = n_on - alpha n_off gives 0 with the saturated terms
    assert fs.wstat(13, 11, 0.5, 13 - 5.5) == pytest.approx(0, abs=1e-10)
    assert np.all(np.isfinite(fs.wstat([3, 3], [0, 4], [0.5, 0.5], [-10, -10])))
    no_extra = fs.wstat(13, 11, 0.5, 3.0, extra_terms=False)
    gof = fs.get_wstat_gof_terms(13, 11)
    assert fs.wstat(13, 11, 0.5, 3.0) == pytest.approx(no_extra + gof)


def test_wstat_gradient_factor():
    n_on, n_off, alpha = np.array([13.0, 0.0, 5.0]), np.array([11.0, 10.0, 0.0]), 0.5
    mu = np.array([3.0, 1.0, 1.0])
    h = 1e-6
    numeric = (fs.wstat(n_on, n_off, alpha, mu + h) - fs.wstat(n_on, n_off, alpha, mu - h)) / (
        2 * h
    )
    np.testing.assert_allclose(fs.wstat_grad_factor(n_on, n_off, alpha, mu), numeric, rtol=1e-6)


def test_chi2_and_chi2asym():
    assert fs.chi2(10, 2, 5, 1.5) == pytest.approx((3 / 1.5) ** 2)
    vals = fs.chi2asym([5.0, 5.0], [7.0, 3.0], errn=[1.0, 1.0], errp=[2.0, 2.0])
    np.testing.assert_allclose(vals, [(2 / 2.0) ** 2, (2 / 1.0) ** 2])
