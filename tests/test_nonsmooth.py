"""The nonsmooth layers of course.nn (max-pooling, PReLU) against loops, finite differences and their
Clarke subdifferentials at the kinks (course.clarke)."""

import numpy as np
import pytest
from finite_differences import fd_grad

from course import clarke
from course.nn import maxpool_backward, maxpool_forward, prelu_backward, prelu_forward

TOL = 1e-6


def estimate(grad, theta, seed=0):
    return clarke.clarke_subdifferential(grad, theta, rng=np.random.default_rng(seed))


# ====================================================================== max-pooling

@pytest.mark.parametrize("shape,size", [((2, 4, 6), 2), ((2, 3, 6, 3), 3), ((4, 4), 4)])
def test_maxpool_forward_matches_loops(shape, size):
    x = np.random.default_rng(0).standard_normal(shape)
    out, _ = maxpool_forward(x, size)
    *lead, H, W = shape
    expected = np.empty((*lead, H // size, W // size))
    for idx in np.ndindex(*lead, H // size, W // size):
        *rest, i, j = idx
        expected[idx] = x[(*rest, slice(size * i, size * i + size), slice(size * j, size * j + size))].max()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape,size", [((2, 4, 6), 2), ((1, 2, 6, 3), 3)])
def test_maxpool_backward_matches_finite_differences(shape, size):
    rng = np.random.default_rng(1)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01          # distinct entries, gaps of 0.01
    out, cache = maxpool_forward(x, size)
    R = rng.standard_normal(out.shape)
    dx = maxpool_backward(R, cache)
    np.testing.assert_allclose(dx, fd_grad(lambda v: np.sum(maxpool_forward(v, size)[0] * R), x), atol=1e-8)


def test_maxpool_tie_rule_is_the_first_maximum_in_row_major_order():
    x = np.array([[[0.0, 5.0, 2.0, 2.0],
                   [5.0, 1.0, 2.0, 2.0],
                   [7.0, 7.0, 0.0, 0.0],
                   [7.0, 7.0, 0.0, 1.0]]], dtype=np.float32)
    dx = maxpool_backward(np.array([[[1.0, 2.0], [3.0, 4.0]]], dtype=np.float32), maxpool_forward(x, 2)[1])
    expected = np.array([[[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 0, 0], [0, 0, 0, 4]]], dtype=np.float32)
    np.testing.assert_array_equal(dx, expected)
    assert dx.dtype == np.float32


def test_maxpool_backward_at_a_tie_is_a_vertex_of_the_clarke_segment():
    def pooled_gradient(ab):
        x = np.array([[ab[0], ab[1]], [1.0, 0.0]])
        return maxpool_backward(np.ones((1, 1)), maxpool_forward(x, 2)[1])[0, :2]
    hull = estimate(pooled_gradient, np.array([5.0, 5.0]))
    np.testing.assert_array_equal(hull, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(pooled_gradient([5.0, 5.0]), [1.0, 0.0])


def test_maxpool_input_checks():
    with pytest.raises(ValueError, match="multiples"):
        maxpool_forward(np.zeros((2, 5, 4)), 2)
    with pytest.raises(ValueError):
        maxpool_backward(np.zeros((2, 2)), maxpool_forward(np.zeros((2, 4, 4)), 2)[1])


# ====================================================================== PReLU

@pytest.mark.parametrize("a", [0.25, np.array([0.1, 0.2, 0.3])])
def test_prelu_forward_and_backward_match_finite_differences(a):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    x[np.abs(x) < 1e-3] = 0.5
    out, cache = prelu_forward(x, a)
    np.testing.assert_allclose(out, np.where(x > 0, x, np.asarray(a) * x))
    R = rng.standard_normal(x.shape)
    dx, da = prelu_backward(R, cache)
    np.testing.assert_allclose(dx, fd_grad(lambda v: np.sum(prelu_forward(v, a)[0] * R), x), atol=1e-7)
    np.testing.assert_allclose(da, fd_grad(lambda v: np.sum(prelu_forward(x, v)[0] * R), np.asarray(a, float)),
                               atol=1e-7)
    assert np.shape(da) == np.shape(a)


def test_prelu_at_zero_uses_a_subgradient_between_a_and_one():
    x = np.array([[0.0, -1.0, 2.0]])
    _, cache = prelu_forward(x, 0.2)
    np.testing.assert_allclose(prelu_backward(np.ones_like(x), cache)[0], [[0.2, 0.2, 1.0]])
    np.testing.assert_allclose(prelu_backward(np.ones_like(x), cache, prime_at_zero=0.7)[0], [[0.7, 0.2, 1.0]])
    with pytest.raises(ValueError, match="between a and 1"):
        prelu_backward(np.ones_like(x), cache, prime_at_zero=0.1)
    with pytest.raises(ValueError):
        prelu_forward(x, np.array([0.1, 0.2]))
    # the Clarke interval of PReLU in its input at 0, from the layer's gradient at nearby points
    layer = lambda t: float(prelu_backward(np.ones(1), prelu_forward(np.array([t]), 0.2)[1])[0][0])
    np.testing.assert_allclose(estimate(layer, 0.0), [0.2, 1.0], atol=TOL)
