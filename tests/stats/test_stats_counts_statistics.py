"""Tests of CashCountsStatistic / WStatCountsStatistic (Li & Ma 1983, hand values)."""

from __future__ import annotations

import numpy as np
import pytest

from gammapipe.stats import CashCountsStatistic, WStatCountsStatistic
from gammapipe.stats.fit_statistics import cash, wstat


def li_ma(n_on, n_off, alpha):
    """Li & Ma (1983) eq. 17 with the sign of the excess."""
    n_on, n_off = np.asarray(n_on, float), np.asarray(n_off, float)
    tot = n_on + n_off
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(n_on > 0, n_on * np.log((1 + alpha) / alpha * n_on / tot), 0)
        t2 = np.where(n_off > 0, n_off * np.log((1 + alpha) * n_off / tot), 0)
    return np.sign(n_on - alpha * n_off) * np.sqrt(2 * (t1 + t2))


def test_wstat_sqrt_ts_is_li_ma():
    n_on = np.array([13, 2, 0, 5, 150, 1000])
    n_off = np.array([11, 9, 10, 0, 400, 2900])
    alpha = np.array([0.5, 0.5, 0.5, 0.5, 0.25, 0.3])
    stat = WStatCountsStatistic(n_on, n_off, alpha)
    np.testing.assert_allclose(stat.sqrt_ts, li_ma(n_on, n_off, alpha), rtol=1e-10)
    # hand value: 13 ON, 11 OFF, alpha 0.5
    expected = np.sqrt(2 * (13 * np.log(3 * 13 / 24) + 11 * np.log(1.5 * 11 / 24)))
    assert stat.sqrt_ts[0] == pytest.approx(expected, rel=1e-12)
    assert stat.sqrt_ts[0] == pytest.approx(2.0928, abs=1e-4)
    np.testing.assert_allclose(stat.n_sig, n_on - alpha * n_off)
    np.testing.assert_allclose(stat.error, np.sqrt(n_on + alpha**2 * n_off))
    np.testing.assert_allclose(stat.p_value[0], 0.0363641, rtol=1e-5)


def test_wstat_zero_counts_limits():
    stat = WStatCountsStatistic([0, 5], [10, 0], 0.5)
    # n_on = 0: TS = 2 n_off ln(1 + alpha); n_off = 0: TS = 2 n_on ln((1 + alpha) / alpha)
    np.testing.assert_allclose(stat.ts, [20 * np.log(1.5), 10 * np.log(3)], rtol=1e-12)
    assert stat.sqrt_ts[0] < 0 < stat.sqrt_ts[1]
    assert np.all(np.isfinite(stat.compute_errp()))


def test_wstat_with_mu_sig():
    stat = WStatCountsStatistic(20, 10, 0.5, mu_sig=5)
    assert stat.n_sig == pytest.approx(10)
    assert stat.stat_null == pytest.approx(wstat(20, 10, 0.5, 5.0))
    assert stat.stat_max == pytest.approx(0, abs=1e-10)


def test_cash_counts_statistic():
    stat = CashCountsStatistic([13, 0, 5], [5.5, 1.0, 5.0])
    ts_expected = cash(13, 5.5) - cash(13, 13)
    assert stat.ts[0] == pytest.approx(ts_expected)
    # known analytic TS: 2 (n ln(n / b) - (n - b))
    assert stat.ts[0] == pytest.approx(2 * (13 * np.log(13 / 5.5) - 7.5))
    assert stat.sqrt_ts[1] == pytest.approx(-np.sqrt(2.0))
    assert stat.sqrt_ts[2] == 0
    np.testing.assert_allclose(stat.error, np.sqrt([13, 0, 5]))


def test_errors_and_upper_limits_are_profile_roots():
    stat = CashCountsStatistic([13.0, 40.0], [5.5, 30.0])
    errn, errp = stat.compute_errn(1), stat.compute_errp(1)
    assert np.all(errn < 0) and np.all(errp > 0)
    for sign_err in (errn, errp):
        delta = cash(stat.n_on, stat.mu_bkg + stat.n_sig + sign_err) - stat.stat_max
        np.testing.assert_allclose(delta, 1.0, rtol=1e-9)
    # asymmetric errors bracket the symmetric curvature error
    assert -errn[0] < stat.error[0] < errp[0]
    ul = stat.compute_upper_limit(n_sigma=2)
    np.testing.assert_allclose(cash(stat.n_on, stat.mu_bkg + ul) - stat.stat_max, 4.0, rtol=1e-9)
    wstat_stat = WStatCountsStatistic(13, 11, 0.5)
    errp = wstat_stat.compute_errp(2)
    delta = wstat(13, 11, 0.5, wstat_stat.n_sig + errp) - wstat_stat.stat_max
    assert delta == pytest.approx(4.0, rel=1e-9)
    # no excess: ul above 0
    neg = CashCountsStatistic(2, 6)
    ul = neg.compute_upper_limit(3)
    assert ul > 0
    assert cash(2, 6 + ul) - neg.stat_max == pytest.approx(9.0, rel=1e-9)
    # n_on = 0: no lower root -> -n_on
    assert CashCountsStatistic(0, 3).compute_errn() == 0


def test_n_sig_matching_significance():
    stat = CashCountsStatistic([0, 0], [5.0, 100.0])
    n_sig = stat.n_sig_matching_significance(5)
    check = CashCountsStatistic(stat.mu_bkg + n_sig, stat.mu_bkg).sqrt_ts
    np.testing.assert_allclose(check, 5.0, rtol=1e-9)
    wst = WStatCountsStatistic([0, 0], [10, 300], [0.2, 0.1])
    n_sig = wst.n_sig_matching_significance(3)
    np.testing.assert_allclose(
        WStatCountsStatistic(wst.n_bkg + n_sig, wst.n_off, wst.alpha).sqrt_ts, 3.0, rtol=1e-9
    )
    with pytest.raises(ValueError, match="significance"):
        stat.n_sig_matching_significance(-1)
    info = stat.info_dict()
    assert set(info) == {"n_on", "background", "excess", "significance", "p_value"}
