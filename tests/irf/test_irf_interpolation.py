"""Tests of gammapipe.utils.interpolation against scipy's RegularGridInterpolator."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.interpolate import RegularGridInterpolator

from gammapipe.utils.interpolation import (
    LOG_VALUE_FLOOR,
    GridInterpolator,
    interp_regular_grid,
)


def _random_grid(rng, shape):
    nodes = [np.sort(rng.uniform(0.1, 10, n)) for n in shape]
    values = rng.normal(size=shape)
    return nodes, values


@pytest.mark.parametrize("shape", [(7,), (5, 4), (4, 6, 3), (3, 2, 4, 5)])
def test_matches_scipy_inside(shape):
    rng = np.random.default_rng(42)
    nodes, values = _random_grid(rng, shape)
    pts = [rng.uniform(n[0], n[-1], 200) for n in nodes]
    expected = RegularGridInterpolator(nodes, values)(np.stack(pts, axis=-1))
    actual = interp_regular_grid(nodes, values, pts)
    assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_matches_scipy_extrapolation():
    rng = np.random.default_rng(1)
    nodes, values = _random_grid(rng, (5, 6, 4))
    pts = [rng.uniform(n[0] - 2, n[-1] + 2, 300) for n in nodes]
    expected = RegularGridInterpolator(nodes, values, bounds_error=False, fill_value=None)(
        np.stack(pts, axis=-1)
    )
    actual = interp_regular_grid(nodes, values, pts, fill_value=None)
    assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_matches_scipy_nearest():
    rng = np.random.default_rng(3)
    nodes, values = _random_grid(rng, (5, 6))
    pts = [rng.uniform(n[0], n[-1], 300) for n in nodes]
    expected = RegularGridInterpolator(nodes, values, method="nearest")(np.stack(pts, axis=-1))
    actual = interp_regular_grid(nodes, values, pts, method="nearest")
    assert_allclose(actual, expected, rtol=0, atol=0)


def test_log_scales_match_scipy_on_transformed_grid():
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0.01, 100, 8))
    y = np.sort(rng.uniform(0, 3, 5))
    values = np.exp(rng.normal(size=(8, 5)))
    px = np.exp(rng.uniform(np.log(x[0]), np.log(x[-1]), 100))
    py = rng.uniform(y[0], y[-1], 100)
    ref = RegularGridInterpolator((np.log(x), y), np.log(values))(
        np.stack([np.log(px), py], axis=-1)
    )
    out = interp_regular_grid((x, y), values, (px, py), scales=("log", "lin"), values_scale="log")
    assert_allclose(out, np.exp(ref), rtol=1e-12)
    # sqrt axis scale
    ref = RegularGridInterpolator((np.sqrt(y),), values[0])(np.sqrt(py)[:, None])
    out = interp_regular_grid((y,), values[0], (py,), scales=("sqrt",))
    assert_allclose(out, ref, rtol=1e-12)


def test_broadcasting_outer_grid_equals_pointwise():
    rng = np.random.default_rng(11)
    nodes, values = _random_grid(rng, (6, 5, 4))
    a = rng.uniform(nodes[0][0], nodes[0][-1], 7)
    b = rng.uniform(nodes[1][0], nodes[1][-1], 3)
    c = rng.uniform(nodes[2][0], nodes[2][-1], 2)
    interp = GridInterpolator(nodes, values)
    outer = interp((a[:, None, None], b[None, :, None], c[None, None, :]))
    assert outer.shape == (7, 3, 2)
    grid = np.meshgrid(a, b, c, indexing="ij")
    expected = RegularGridInterpolator(nodes, values)(np.stack(grid, axis=-1))
    assert_allclose(outer, expected, rtol=0, atol=1e-12)


def test_bounds_fill_and_edge_extrapolation():
    x = np.array([0.25, 0.75, 1.25])
    values = np.array([4.0, 3.0, 1.0])
    interp = GridInterpolator([x], values, bounds=[(0.0, 1.5)], fill_value=0.0, clip_min=0.0)
    out = interp([np.array([0.0, 0.5, 1.5, 1.6, -0.1])])
    # 0.0: linear extrapolation of the first two nodes -> 4.5; 1.5 -> 0 (clipped from 0.0)
    assert_allclose(out, [4.5, 3.5, 0.0, 0.0, 0.0])
    no_extrap = GridInterpolator([x], values, bounds=[(0.0, 1.5)], extrapolate=False)
    assert_allclose(no_extrap([np.array([0.0, 1.5])]), [4.0, 1.0])


def test_log_values_with_zeros_no_nan(recwarn):
    x = np.array([1.0, 2.0, 3.0])
    values = np.array([1e-3, 0.0, 0.0])
    interp = GridInterpolator([x], values, values_scale="log")
    out = interp([np.array([1.0, 1.5, 2.0, 2.5, 3.0])])
    assert np.all(np.isfinite(out))
    assert out[0] == pytest.approx(1e-3)
    assert out[2] == 0.0 and out[3] == 0.0 and out[4] == 0.0
    # log-linear between 1e-3 and the floor
    assert out[1] == pytest.approx(np.sqrt(1e-3 * LOG_VALUE_FLOOR), rel=1e-6)
    assert len(recwarn) == 0


def test_single_node_axis_and_errors():
    values = np.array([[1.0, 2.0, 3.0]])
    out = interp_regular_grid(
        (np.array([0.5]), np.array([1.0, 2.0, 3.0])), values, (0.5, np.array([1.5, 2.5]))
    )
    assert_allclose(out, [1.5, 2.5])
    with pytest.raises(ValueError, match="strictly increasing"):
        GridInterpolator([np.array([1.0, 1.0])], np.zeros(2))
    with pytest.raises(ValueError, match="scale"):
        GridInterpolator([np.array([1.0, 2.0])], np.zeros(2), scales=("cubic",))
    with pytest.raises(ValueError, match="do not match"):
        GridInterpolator([np.array([1.0, 2.0])], np.zeros(3))
