"""Tests of the temporal models: values, integrals, serialisation, sampling, plots."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from scipy.integrate import quad
from scipy.stats import kstest

from gammapipe.modeling.models.temporal import (
    ConstantTemporalModel,
    ExpDecayTemporalModel,
    GaussianTemporalModel,
    LightCurveTemplateTemporalModel,
    LinearTemporalModel,
    PowerLawTemporalModel,
    SineTemporalModel,
    TemporalModel,
)

T_REF = 55555.0
T0 = Time(T_REF, format="mjd", scale="utc")


def _models():
    nodes = Time(T_REF + np.array([0.0, 0.5, 1.5, 3.0, 4.0]), format="mjd")
    return {
        "const": ConstantTemporalModel(),
        "linear": LinearTemporalModel(alpha=1, beta=0.5 / u.d, t_ref=T_REF * u.d),
        "expdecay": ExpDecayTemporalModel(t0="2 d", t_ref=T_REF * u.d),
        "gauss": GaussianTemporalModel(t_ref=(T_REF + 1) * u.d, sigma="0.5 d"),
        "powerlaw": PowerLawTemporalModel(alpha=-1.5, t_ref=(T_REF - 1) * u.d),
        "sine": SineTemporalModel(amp=0.5, omega="3 rad/d", t_ref=T_REF * u.d),
        "template": LightCurveTemplateTemporalModel(nodes, [1.0, 3.0, 2.0, 0.5, 0.0]),
    }


MODELS = _models()


@pytest.mark.parametrize("name", list(MODELS))
def test_integral_vs_quadrature(name):
    model = MODELS[name]
    t_min = T0 + [0.0, 1.0, 2.0] * u.d
    t_max = T0 + [1.0, 2.0, 3.5] * u.d
    total = 3.5

    def func(mjd):
        return float(model(Time(mjd, format="mjd")))

    expected = [
        quad(func, a, b, epsabs=1e-13, epsrel=1e-11, limit=200,
             points=[T_REF + p for p in (0.5, 1.5, 3.0)] if name == "template" else None)[0]
        / total
        for a, b in zip(t_min.mjd, t_max.mjd, strict=True)
    ]
    np.testing.assert_allclose(model.integral(t_min, t_max), expected, rtol=1e-8, atol=1e-14)


def test_integral_normalisation_over_gtis():
    t_min = T0 + [0.0, 2.0] * u.d
    t_max = T0 + [1.0, 5.0] * u.d
    np.testing.assert_allclose(ConstantTemporalModel().integral(t_min, t_max), [0.25, 0.75])
    assert TemporalModel.time_sum(t_min, t_max) == 4 * u.d
    with pytest.raises(ValueError, match="zero total duration"):
        ConstantTemporalModel().integral(T0, T0)


def test_values():
    m = MODELS
    assert m["expdecay"](T0 + 2 * u.d) == pytest.approx(np.exp(-1))
    assert m["gauss"](T0 + 1.5 * u.d) == pytest.approx(np.exp(-0.5))
    assert m["linear"](T0 + 2 * u.d) == pytest.approx(2.0)
    assert m["powerlaw"](T0 + 3 * u.d) == pytest.approx(4**-1.5)
    assert m["sine"](T0 + (np.pi / 6) * u.d) == pytest.approx(1.5)
    template = m["template"]
    np.testing.assert_allclose(template(T0 + [0.25, 1.0, 10.0] * u.d), [2.0, 2.5, 0.0])
    times = T0 + np.array([0.1, 0.2]) * u.d
    assert m["const"](times).shape == (2,)
    ref = m["expdecay"].reference_time
    assert ref.mjd == pytest.approx(T_REF) and ref.scale == "utc"


def test_time_scale_conversion():
    model = ExpDecayTemporalModel(t0="1 d", t_ref=T_REF * u.d)
    t_tt = (T0 + 1 * u.d).tt
    # the same instant given in TT or UTC gives the same value
    assert model(t_tt) == pytest.approx(model(T0 + 1 * u.d), rel=1e-12)
    with pytest.raises(ValueError, match="scale"):
        ExpDecayTemporalModel(scale="martian")


@pytest.mark.parametrize("name", list(MODELS))
def test_dict_round_trip(name):
    model = _models()[name]
    data = model.to_dict()
    assert data["temporal"]["scale"] == "utc"
    new = TemporalModel.from_dict(data)
    assert type(new) is type(model)
    assert new.to_dict() == data
    times = T0 + [0.3, 1.7, 2.9] * u.d
    np.testing.assert_allclose(new(times), model(times), rtol=1e-14)


def test_light_curve_read_fits(tmp_path):
    table = Table({"TIME": [0.0, 3600.0, 7200.0] * u.s, "NORM": [0.0, 2.0, 1.0]})
    hdu = fits.BinTableHDU(table, name="LIGHTCURVE")
    hdu.header["MJDREFI"] = 55555
    hdu.header["MJDREFF"] = 0.5
    hdu.header["TIMESYS"] = "TT"
    path = tmp_path / "lc.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    model = LightCurveTemplateTemporalModel.read(path)
    assert model.scale == "tt"
    start = Time(55555.5, format="mjd", scale="tt")
    assert model(start + 1800 * u.s) == pytest.approx(1.0)
    # exact trapezoid integral 1 h x (0+2)/2 + 1 h x (2+1)/2 = 2.5 h over 2 h: mean 1.25
    value = model.integral(start, start + 7200 * u.s)
    assert value == pytest.approx(1.25, rel=1e-9)
    data = model.to_dict()
    assert data["temporal"]["filename"] == str(path)
    assert LightCurveTemplateTemporalModel.from_dict(data)(start + 1800 * u.s) == pytest.approx(1)
    with pytest.raises(KeyError, match="NORM"):
        LightCurveTemplateTemporalModel.from_table(Table({"TIME": [1.0, 2.0]}))


def test_sample_time_follows_model():
    model = ExpDecayTemporalModel(t0="0.5 d", t_ref=T_REF * u.d)
    t_max = T0 + 2 * u.d
    times = model.sample_time(20000, T0, t_max, t_delta="10 min", random_state=1)
    assert isinstance(times, Time) and times.shape == (20000,)
    dt = times.mjd - T_REF
    assert dt.min() >= 0 and dt.max() <= 2

    def cdf(x):
        return (1 - np.exp(-x / 0.5)) / (1 - np.exp(-2 / 0.5))

    assert kstest(dt, cdf).pvalue > 0.01
    again = model.sample_time(5, T0, t_max, random_state=1)
    np.testing.assert_array_equal(again.mjd, model.sample_time(5, T0, t_max, random_state=1).mjd)
    flat = ConstantTemporalModel().sample_time(5000, T0, t_max, random_state=2)
    assert kstest(flat.mjd - T_REF, lambda x: x / 2).pvalue > 0.01
    with pytest.raises(ValueError, match="after"):
        model.sample_time(5, t_max, T0)


def test_plot(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    MODELS["gauss"].plot((T0, T0 + 3 * u.d), ax=ax, n_points=50)
    x, y = ax.lines[0].get_data()
    assert len(x) == 50
    assert y.max() == pytest.approx(1.0, abs=2e-3)
    assert "MJD" in ax.get_xlabel()
    fig.savefig(tmp_path / "lc.png")
    plt.close(fig)
    assert (tmp_path / "lc.png").stat().st_size > 0
