"""LightCurveEstimator on synthetic runs; light-curve tables, I/O and plots; butterfly plot."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from _estimators_synth import make_dataset
from astropy.time import Time

from gammapipe.estimators import FluxPoints, FluxPointsEstimator, LightCurveEstimator
from gammapipe.modeling.models import PowerLawSpectralModel, SkyModel
from gammapipe.utils.errors import EmptySelectionError

T0 = Time("2020-01-01T00:00:00", scale="utc")


def _pl(amplitude=2e-11):
    return PowerLawSpectralModel(index=2.5, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"),
                                 reference=1 * u.TeV)


@pytest.fixture()
def runs():
    from gammapipe.data.gti import GTI
    from gammapipe.datasets import Datasets

    out = []
    for i, amp in enumerate([1e-11, 2e-11, 3e-11, 4e-11]):
        d = make_dataset(_pl(amp), expected=True, name=f"run{i}")
        d.gti = GTI.create([i * 86400.0] * u.s, [i * 86400.0 + 1800] * u.s, reference_time=T0)
        out.append(d)
    datasets = Datasets(out)
    datasets.models = [SkyModel(spectral_model=_pl(), name="src")]
    return datasets


def test_lightcurve_per_run(runs, tmp_path):
    lc = LightCurveEstimator(energy_edges=[0.5, 50] * u.TeV, source="src",
                             selection_optional=["ul"]).run(runs)
    table = lc.to_table(format="lightcurve", sed_type="flux")
    assert table.colnames[:5] == ["time_min", "time_max", "e_ref", "e_min", "e_max"]
    np.testing.assert_allclose(table["time_min"], T0.mjd + np.arange(4), atol=1e-9)
    np.testing.assert_allclose(table["time_max"] - table["time_min"], 1800 / 86400, rtol=1e-9)
    # Asimov runs: norm = amplitude / 2e-11 exactly
    np.testing.assert_allclose(lc.norm.data.ravel(), [0.5, 1, 1.5, 2], rtol=1e-7)
    flux = _pl().integral(0.5 * u.TeV, 50 * u.TeV).to_value("cm-2 s-1")
    np.testing.assert_allclose(np.ravel(table["flux"]), flux * np.array([0.5, 1, 1.5, 2]),
                               rtol=1e-7)
    assert table["flux"].shape == (4, 1)
    assert table["counts"].shape == (4, 1, 1)
    with pytest.raises(Exception, match="lightcurve"):
        lc.to_table(format="gadf-sed")
    path = tmp_path / "lc.fits"
    lc.write(path)
    back = FluxPoints.read(path)
    np.testing.assert_allclose(back.to_table(format="lightcurve", sed_type="flux")["flux"],
                               table["flux"], rtol=1e-12)
    np.testing.assert_allclose(back.geom.axes["time"].time_min.mjd, table["time_min"])


def test_lightcurve_time_intervals_and_plot(runs, tmp_path):
    import matplotlib.pyplot as plt

    intervals = [Time(["2020-01-01T00:00", "2020-01-02T12:00"]),
                 Time(["2020-01-02T12:00", "2020-01-05T00:00"]),
                 Time(["2021-01-01T00:00", "2021-01-02T00:00"])]  # empty: skipped
    lc = LightCurveEstimator(time_intervals=intervals, energy_edges=[0.5, 5, 50] * u.TeV,
                             source="src").run(runs)
    assert lc.geom.axes["time"].nbin == 2
    # interval 1 holds runs 0+1 (amplitudes 1, 2 e-11): joint norm 0.75; interval 2: 1.75
    np.testing.assert_allclose(lc.norm.data[:, :, 0, 0], [[0.75, 0.75], [1.75, 1.75]],
                               rtol=1e-6)
    fig, ax = plt.subplots()
    lc.plot(ax=ax, sed_type="flux", axis_name="time")
    assert len(ax.containers) == 2  # one series per energy bin
    fig.savefig(tmp_path / "lc.png")
    plt.close(fig)
    with pytest.raises(EmptySelectionError):
        LightCurveEstimator(time_intervals=intervals[2:], energy_edges=[0.5, 50] * u.TeV,
                            source="src").run(runs)


def test_plot_spectrum_butterfly(tmp_path):
    """Model + butterfly + flux points in one figure; the band of a power law equals the
    analytic covariance propagation."""
    from gammapipe.estimators import plot_spectrum

    pl = _pl()
    pl.amplitude.error = 2e-12
    pl.index.error = 0.1
    cov = np.zeros((3, 3))
    cov[0, 0] = 0.1**2
    cov[1, 1] = (2e-12) ** 2
    cov[0, 1] = cov[1, 0] = 0.3 * 0.1 * 2e-12
    pl.covariance = cov
    energy = [0.3, 1, 3, 30] * u.TeV
    err = pl.evaluate_error(energy)
    x = np.log(energy.to_value("TeV"))
    dnde = pl(energy).to_value("cm-2 s-1 TeV-1")
    # d dnde / d index = -ln(E/E0) dnde, d dnde / d amplitude = dnde / A
    j = np.stack([-x * dnde, dnde / 2e-11])
    sigma = np.sqrt(np.einsum("in,ij,jn->n", j, cov[:2, :2], j))
    np.testing.assert_allclose(err[1].to_value("cm-2 s-1 TeV-1"), sigma, rtol=1e-4)
    ds = make_dataset(pl, seed=5)
    ds.models = [SkyModel(spectral_model=_pl(), name="src")]
    fp = FluxPointsEstimator(energy_edges=[0.5, 2, 8, 50] * u.TeV, source="src",
                             selection_optional=["ul"]).run(ds)
    ax = plot_spectrum(pl, fp, filename=tmp_path / "spectrum.png")
    assert (tmp_path / "spectrum.png").stat().st_size > 5000
    assert ax.get_xscale() == "log"

