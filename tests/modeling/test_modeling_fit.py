"""Tests of Fit on simulated Poisson spectra (test-only dataset class, cash statistic)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy.optimize import brentq

from gammapipe.modeling import Fit, FitResult
from gammapipe.modeling.models.spectral import PowerLawSpectralModel
from gammapipe.stats import cash, cash_grad_factor

EDGES = np.geomspace(1, 100, 16) * u.TeV
EXPOSURE = 1e13 * u.Unit("cm2 s")


class ToySpectrumDataset:
    """counts ~ Poisson(background + exposure x integral of the model over energy bins)."""

    def __init__(self, model, counts, background=0.0, edges=EDGES, exposure=EXPOSURE):
        self.models = [model]
        self.model = model
        self.counts = np.asarray(counts, dtype=float)
        self.background = background
        self.edges = edges
        self.exposure = exposure
        self.n_stat = 0

    def npred(self):
        flux = self.model.integral(self.edges[:-1], self.edges[1:])
        return self.background + (self.exposure * flux).to_value("")

    def stat_sum(self):
        self.n_stat += 1
        return cash(self.counts, self.npred()).sum()


class ToyGradientDataset(ToySpectrumDataset):
    """Same with the analytic gradient (chain rule through the spectral integral)."""

    n_grad = 0

    def stat_sum_and_gradient(self, parameters):
        self.n_grad += 1
        mu = self.npred()
        factor = cash_grad_factor(self.counts, mu)
        grads = self.model.integral_gradient(self.edges[:-1], self.edges[1:])
        out = np.zeros(len(parameters))
        for par, grad in zip(self.model.free_parameters_unique, grads, strict=True):
            if par in parameters:
                dmu = (self.exposure * grad).to_value(1 / par.unit)
                out[parameters.index(par)] += np.sum(factor * dmu)
        return cash(self.counts, mu).sum(), out


def _truth():
    return PowerLawSpectralModel(index=2.5, amplitude="1e-11 cm-2 s-1 TeV-1")


def _simulate(model, rng, background=1.0):
    mu = background + (EXPOSURE * model.integral(EDGES[:-1], EDGES[1:])).to_value("")
    return rng.poisson(mu)


def test_fit_recovers_truth_without_bias_pulls():
    truth = _truth()
    rng = np.random.default_rng(42)
    n_draws = 200
    pulls = {"index": [], "amplitude": []}
    for _ in range(n_draws):
        counts = _simulate(truth, rng)
        model = _truth()
        dataset = ToyGradientDataset(model, counts, background=1.0)
        result = Fit().run(dataset)
        assert result.success
        for name in pulls:
            par = model.parameters[name]
            pulls[name].append((par.value - truth.parameters[name].value) / par.error)
    for name, values in pulls.items():
        values = np.array(values)
        assert abs(values.mean()) < 3 / np.sqrt(n_draws), name
        assert abs(values.std(ddof=1) - 1) < 0.15, name


def test_fit_error_matches_analytic_fisher_single_parameter():
    truth = _truth()
    counts = _simulate(truth, np.random.default_rng(1), background=0.0)
    model = _truth()
    model.index.frozen = True
    dataset = ToySpectrumDataset(model, counts, background=0.0)
    result = Fit().run(dataset)
    n_total = counts.sum()
    shape = (EXPOSURE * truth.integral(EDGES[:-1], EDGES[1:])).to_value("") / 1e-11
    a_hat = n_total / shape.sum()  # analytic MLE for a pure amplitude fit
    assert model.amplitude.value == pytest.approx(a_hat, rel=1e-4)
    # Fisher information sum(s^2 / mu) at the MLE gives sigma = A / sqrt(N)
    fisher = np.sum(shape**2 / (a_hat * shape))
    assert model.amplitude.error == pytest.approx(1 / np.sqrt(fisher), rel=1e-3)
    assert model.amplitude.error == pytest.approx(a_hat / np.sqrt(n_total), rel=1e-3)
    assert result.covariance_result.matrix[1, 1] == pytest.approx(model.amplitude.error**2)
    # profile-likelihood errors: 2 N (x - 1 - ln x) = 1 with x = A / A_hat
    conf = Fit().confidence(dataset, "amplitude", sigma=1)
    assert conf["success"]

    def delta(x):
        return 2 * n_total * (x - 1 - np.log(x)) - 1

    x_hi = brentq(delta, 1, 2)
    x_lo = brentq(delta, 0.5, 1)
    assert conf["errp"] == pytest.approx((x_hi - 1) * a_hat, rel=1e-4)
    assert conf["errn"] == pytest.approx((1 - x_lo) * a_hat, rel=1e-4)
    assert model.amplitude.value == pytest.approx(a_hat, rel=1e-4)  # restored


def test_fit_result_content_and_str():
    counts = _simulate(_truth(), np.random.default_rng(3))
    model = PowerLawSpectralModel(index=2.2, amplitude="1.5e-11 cm-2 s-1 TeV-1")
    dataset = ToySpectrumDataset(model, counts, background=1.0)
    result = Fit(store_trace=True).run(dataset)
    assert isinstance(result, FitResult)
    assert result.success and result.backend == "minuit" and result.method == "migrad"
    assert result.message == "Optimization terminated successfully."
    assert result.nfev > 0
    assert result.total_stat == pytest.approx(dataset.stat_sum())
    text = str(result)
    for item in ("OptimizeResult", "backend    : minuit", "method     : migrad",
                 "success    : True", "nfev       :", "total stat :", "CovarianceResult",
                 "method     : hesse", "Hesse terminated successfully."):
        assert item in text
    # errors and model covariance written back; frozen reference has zero error
    cov = model.covariance.data
    assert cov[0, 0] == pytest.approx(model.index.error**2)
    assert cov[0, 1] != 0 and model.reference.error == 0
    np.testing.assert_allclose(result.covariance_result.matrix, cov)
    # the result holds an independent copy of the models at the optimum
    copied = result.models[0]
    assert copied is not model
    assert copied.index.value == model.index.value
    assert copied.index.error == pytest.approx(model.index.error)
    assert result.parameters["index"].value == model.index.value
    assert len(result.trace) == len(result.trace["total_stat"]) > 0
    assert result.trace.colnames == ["total_stat", "index", "amplitude"]


def test_fit_with_gradient_uses_it_and_agrees():
    counts = _simulate(_truth(), np.random.default_rng(5))
    plain = ToySpectrumDataset(_truth(), counts, background=1.0)
    grad = ToyGradientDataset(_truth(), counts, background=1.0)
    Fit().run(plain)
    Fit(gradient=True).run(grad)
    assert grad.n_grad > 0
    for name in ("index", "amplitude"):
        p1, p2 = plain.model.parameters[name], grad.model.parameters[name]
        assert p2.value == pytest.approx(p1.value, abs=0.02 * p1.error)
        assert p2.error == pytest.approx(p1.error, rel=1e-2)


def test_minuit_default_does_not_use_the_gradient():
    counts = _simulate(_truth(), np.random.default_rng(5))
    grad = ToyGradientDataset(_truth(), counts, background=1.0)
    Fit().run(grad)
    assert grad.n_grad == 0


def test_scipy_backend_uses_gradient_by_default():
    counts = _simulate(_truth(), np.random.default_rng(5))
    plain = ToySpectrumDataset(_truth(), counts, background=1.0)
    grad = ToyGradientDataset(_truth(), counts, background=1.0)
    Fit().run(plain)
    result = Fit(backend="scipy", optimize_opts={"method": "L-BFGS-B"}).optimize(grad)
    assert result.success and grad.n_grad > 0
    for name in ("index", "amplitude"):
        p1, p2 = plain.model.parameters[name], grad.model.parameters[name]
        assert p2.value == pytest.approx(p1.value, abs=0.05 * p1.error)


def test_scipy_backend_agrees_with_minuit():
    counts = _simulate(_truth(), np.random.default_rng(7))
    ds1 = ToySpectrumDataset(_truth(), counts, background=1.0)
    ds2 = ToySpectrumDataset(_truth(), counts, background=1.0)
    r1 = Fit().run(ds1)
    r2 = Fit(backend="scipy", optimize_opts={"method": "Nelder-Mead",
                                             "options": {"xatol": 1e-8, "fatol": 1e-8}}).run(ds2)
    assert r2.success and r2.backend == "scipy"
    assert r2.total_stat == pytest.approx(r1.total_stat, abs=1e-3)
    for name in ("index", "amplitude"):
        p1, p2 = ds1.model.parameters[name], ds2.model.parameters[name]
        assert p2.value == pytest.approx(p1.value, abs=0.02 * p1.error)
        assert p2.error == pytest.approx(p1.error, rel=1e-2)


def test_joint_fit_of_two_datasets_sharing_a_model():
    rng = np.random.default_rng(11)
    counts1, counts2 = _simulate(_truth(), rng), _simulate(_truth(), rng)
    model = _truth()
    ds1 = ToySpectrumDataset(model, counts1, background=1.0)
    ds2 = ToySpectrumDataset(model, counts2, background=1.0)
    result = Fit().run([ds1, ds2])
    assert result.total_stat == pytest.approx(ds1.stat_sum() + ds2.stat_sum())
    assert len(result.parameters) == 3  # unique parameters
    # joint fit equals a fit of the summed counts with doubled exposure
    summed = ToySpectrumDataset(_truth(), counts1 + counts2, background=2.0,
                                exposure=2 * EXPOSURE)
    Fit().run(summed)
    expected = pytest.approx(model.index.value, abs=1e-3 * model.index.error)
    assert summed.model.index.value == expected


def test_stat_profile_surface_contour():
    counts = _simulate(_truth(), np.random.default_rng(13))
    dataset = ToySpectrumDataset(_truth(), counts, background=1.0)
    Fit().run(dataset)
    index = dataset.model.index
    best, err = index.value, index.error
    stat_min = dataset.stat_sum()
    index.scan_n_sigma = 1
    index.scan_n_values = 5
    profile = Fit().stat_profile(dataset, "index", reoptimize=True)
    values = profile["index_scan"]
    np.testing.assert_allclose(values, np.linspace(best - err, best + err, 5))
    delta = profile["stat_scan"] - stat_min
    assert delta[2] == pytest.approx(0, abs=1e-4)
    # profile rises by ~1 at +-1 sigma (hesse error = profile curvature at the minimum;
    # the index profile is skewed, its mean rise over both sides is ~1)
    np.testing.assert_allclose(delta[[0, 4]], 1.0, rtol=0.25)
    assert delta[[0, 4]].mean() == pytest.approx(1.0, rel=0.05)
    assert len(profile["fit_results"]) == 5
    assert index.value == best and not index.frozen  # restored
    fixed = Fit().stat_profile(dataset, index, reoptimize=False)
    assert np.all(fixed["stat_scan"] >= profile["stat_scan"] - 1e-6)
    amplitude = dataset.model.amplitude
    amplitude.scan_n_values = 3
    amplitude.interp = "lin"  # default "log" scans geometrically
    surface = Fit().stat_surface(dataset, "index", "amplitude")
    assert surface["stat_scan"].shape == (5, 3)
    assert surface["stat_scan"][2, 1] == pytest.approx(stat_min)
    contour = Fit().stat_contour(dataset, "index", "amplitude", numpoints=8, sigma=1)
    assert contour["success"]
    assert len(contour["index"]) == len(contour["amplitude"]) >= 8
    assert np.all(np.abs(contour["index"] - best) < 2 * err)


def test_fit_errors():
    counts = _simulate(_truth(), np.random.default_rng(17))
    model = _truth()
    model.freeze()
    with pytest.raises(ValueError, match="No free parameters"):
        Fit().run(ToySpectrumDataset(model, counts))
    model = _truth()
    model.index.min = 3
    with pytest.raises(ValueError, match="'index'.*outside"):
        Fit().run(ToySpectrumDataset(model, counts))
    with pytest.raises(ValueError, match="Unknown backend"):
        Fit(backend="nope")
    with pytest.raises(ValueError, match="unknown minuit option"):
        Fit(optimize_opts={"colour": 1}).run(ToySpectrumDataset(_truth(), counts))
    with pytest.raises(TypeError, match="stat_sum"):
        Fit().run(42)
    with pytest.raises(KeyError, match="available"):
        Fit().confidence(ToySpectrumDataset(_truth(), counts), "nope")


def test_fit_bounds_and_prior():
    counts = _simulate(_truth(), np.random.default_rng(19))
    model = _truth()
    model.index.value = 2.4
    model.index.max = 2.45
    Fit().run(ToySpectrumDataset(model, counts, background=1.0))
    assert model.index.value <= 2.45
    model = _truth()
    model.index.prior = lambda value: ((value - 2.0) / 1e-3) ** 2
    Fit().run(ToySpectrumDataset(model, counts, background=1.0))
    assert model.index.value == pytest.approx(2.0, abs=5e-3)


def test_standalone_covariance_and_single_model_container():
    counts = _simulate(_truth(), np.random.default_rng(23))
    model = _truth()
    dataset = ToySpectrumDataset(model, counts, background=1.0)
    dataset.models = model  # a single model instead of a list
    result = Fit().run(dataset)
    errors = model.parameters.errors.copy()
    values = model.parameters.values.copy()
    for backend in ("minuit", "scipy"):
        model.parameters.errors = [0, 0, 0]
        cov = Fit(backend=backend).covariance(dataset)
        assert cov.success
        np.testing.assert_allclose(model.parameters.errors, errors, rtol=2e-2)
        np.testing.assert_array_equal(model.parameters.values, values)  # unchanged
    assert result.models.index.value == model.index.value
