"""IRF base-class operations on small analytic tables (exact expectations)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose

from gammapipe.irf import PSF3D, Background2D, EffectiveAreaTable2D, EnergyDispersion2D
from gammapipe.irf.core import integrate_loglog_segments
from gammapipe.maps import MapAxis


@pytest.fixture
def aeff():
    e_axis = MapAxis.from_energy_bounds("1 TeV", "100 TeV", nbin=4, name="energy_true")
    o_axis = MapAxis.from_edges([0, 1, 2, 3] * u.deg, name="offset")
    e = e_axis.center.to_value(u.TeV)
    o = o_axis.center.to_value(u.deg)
    data = 1e4 * e[:, None] ** 0.5 * (1 - 0.2 * o[None, :])
    return EffectiveAreaTable2D(axes=[e_axis, o_axis], data=data * u.m**2, meta={"LO_THRES": 1.0})


def test_evaluate_linear_nearest_defaults(aeff):
    e = aeff.axes["energy_true"].center
    o = aeff.axes["offset"].center
    # defaults: all axis centres, broadcast along their own dimension
    assert_allclose(aeff.evaluate().value, aeff.data)
    # linear in log(energy) (values linear): mean of the nodes at the log midpoint
    energy = np.sqrt(e[1] * e[2])
    value = aeff.evaluate(energy_true=energy, offset=o[0]).value
    assert value == pytest.approx(0.5 * (aeff.data[1, 0] + aeff.data[2, 0]), rel=1e-12)
    # linear in offset
    value = aeff.evaluate(energy_true=e[1], offset=1.0 * u.deg).value
    assert value == pytest.approx(0.5 * (aeff.data[1, 0] + aeff.data[1, 1]), rel=1e-12)
    near = aeff.evaluate(energy_true=e[1] * 1.05, offset=1.2 * u.deg, method="nearest").value
    assert near == aeff.data[1, 1]
    # numbers without units are taken in the axis unit
    assert aeff.evaluate(energy_true=e[1].value, offset=0.5).value == pytest.approx(aeff.data[1, 0])


def test_integrate_loglog_power_law():
    x = np.array([1.0, 2.0, 5.0, 10.0])
    for index in (-2.7, -1.0, 0.0, 1.5):
        y = 3.0 * x**index
        out = integrate_loglog_segments(x, y)
        if index == -1.0:
            expected = 3.0 * np.log(x[1:] / x[:-1])
        else:
            expected = 3.0 * (x[1:] ** (index + 1) - x[:-1] ** (index + 1)) / (index + 1)
        assert_allclose(out, expected, rtol=1e-12)
    assert_allclose(integrate_loglog_segments(x, [1.0, 0.0, 2.0, 2.0])[:2], [0, 0])


def test_integrate_log_log_method():
    e_axis = MapAxis.from_energy_bounds("1 TeV", "100 TeV", nbin=4, name="energy")
    o_axis = MapAxis.from_edges([0, 1, 2, 3] * u.deg, name="offset")
    e = e_axis.center.to_value(u.TeV)
    bkg = Background2D(
        axes=[e_axis, o_axis], data=np.repeat(e[:, None] ** -2.5, 3, axis=1), unit="s-1 TeV-1 sr-1"
    )
    edges = e_axis.edges.value
    integral = bkg.integrate_log_log("energy", offset=0.5 * u.deg)
    assert integral.shape == (4, 1)  # default edges broadcast along the energy dimension
    integral = integral[:, 0]
    # log-log interpolation (extrapolated to the outer edges) is exact for a power law
    expected = (edges[:-1] ** -1.5 - edges[1:] ** -1.5) / 1.5
    assert_allclose(integral.to_value("s-1 sr-1"), expected, rtol=1e-10)


def test_cumsum_normalize_integral():
    e_axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=2, name="energy_true")
    migra = MapAxis.from_edges(np.linspace(0, 2, 5), name="migra")
    o_axis = MapAxis.from_edges([0, 1] * u.deg, name="offset")
    data = np.zeros((2, 4, 1))
    data[0, :, 0] = [1, 2, 3, 4]
    edisp = EnergyDispersion2D(axes=[e_axis, migra, o_axis], data=data)
    cum = edisp.cumsum("migra")
    assert_allclose(cum.data[0, :, 0], [0.5, 1.5, 3.0, 5.0])
    assert_allclose(cum.axes["migra"].center.value, [0.5, 1.0, 1.5, 2.0])
    edisp.normalize()
    assert_allclose((edisp.data[0, :, 0] * 0.5).sum(), 1)
    assert np.all(edisp.data[1] == 0)  # empty row stays 0
    # radial cumsum: 2 pi r dr Jacobian -> histogram normalisation of a PSF table
    rad = MapAxis.from_edges(np.linspace(0, 0.5, 51), unit="deg", name="rad")
    psf = PSF3D(axes=[e_axis, o_axis, rad], data=1.0, unit="sr-1")
    total = psf.cumsum("rad").data[0, 0, -1]
    assert total == pytest.approx(np.pi * np.deg2rad(0.5) ** 2, rel=1e-12)
    psf.normalize()
    assert psf.containment(rad=0.5 * u.deg, energy_true=2 * u.TeV).value == pytest.approx(1)
    assert psf.containment(rad=0.25 * u.deg, energy_true=2 * u.TeV).value == pytest.approx(
        0.25, rel=1e-12
    )


def test_pad_slice_copy_units(aeff):
    padded = aeff.pad(1, "offset")
    assert padded.data.shape == (4, 5)
    assert_allclose(padded.axes["offset"].edges.value, [-1, 0, 1, 2, 3, 4])
    assert np.all(padded.data[:, [0, -1]] == 0)
    padded = aeff.pad((0, 2), "energy_true", mode="edge")
    assert padded.data.shape == (6, 3)
    assert_allclose(padded.axes["energy_true"].edges[-1].to_value(u.TeV), 1000, rtol=1e-10)
    assert_allclose(padded.data[-1], aeff.data[-1])
    sliced = aeff.slice_by_idx({"energy_true": slice(1, 3)})
    assert sliced.data.shape == (2, 3)
    assert_allclose(sliced.data, aeff.data[1:3])
    edges = aeff.axes["energy_true"].edges.value
    assert_allclose(sliced.axes["energy_true"].edges.value, edges[1:4])
    assert sliced.meta["LO_THRES"] == 1.0
    copy = aeff.copy()
    copy.data[0, 0] = -5
    assert aeff.data[0, 0] != -5
    cm2 = aeff.to_unit("cm2")
    assert cm2.unit == u.cm**2 and cm2.is_allclose(aeff)
    aeff.quantity = aeff.quantity.to("km2")
    assert aeff.unit == u.km**2
    assert not aeff.is_allclose(aeff.slice_by_idx({"offset": slice(0, 2)}))


def test_background2d_zero_handling():
    e_axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3, name="energy")
    o_axis = MapAxis.from_edges([0, 1, 2] * u.deg, name="offset")
    data = np.array([[1e-3, 0], [1e-4, 0], [0, 0]])
    bkg = Background2D(axes=[e_axis, o_axis], data=data, unit="s-1 MeV-1 sr-1")
    with np.errstate(all="raise"):
        values = bkg.evaluate(energy=e_axis.center[:, None], offset=[0.5, 1.0, 1.5] * u.deg)
    assert np.all(np.isfinite(values.value))
    assert values[0, 0].value == pytest.approx(1e-3)
    assert values[0, 2].value == 0 and values[2, 0].value == 0
    assert 0 < values[0, 1].value < 1e-20  # log-interpolated towards the zero node
