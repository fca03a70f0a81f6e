"""The finite sums beyond strong convexity (course.problems, end of the module) against independent
truths: brute-force minimisation on a grid, the convexity inequality, central finite differences,
closed forms."""

import numpy as np
import pytest

from course.problems import (ABS_SUM_A, SANITY_CHECK_A, abs_sum_loss, abs_sum_sample_subgradient,
                             cosine_sum_loss, cosine_sum_sample_grad, huber, huber_sum_loss,
                             huber_sum_sample_grad)
from finite_differences import fd_grad


def central_difference(f, theta):
    return float(fd_grad(lambda t: f(float(t)), np.array(theta)))

GRID = np.linspace(-4, 4, 8001)                      # step 1e-3, contains every a_j and 0 exactly


def test_abs_sum_is_the_sum_of_distances_and_its_minimum_is_the_median():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5)
    values = abs_sum_loss(GRID, a)
    assert np.allclose(values, [sum(abs(t - aj) for aj in a) for t in GRID])
    i = np.argmin(values)
    assert abs(GRID[i] - np.median(a)) <= 1e-3                          # the median minimises
    assert np.isclose(abs_sum_loss(0.0), 2.0)                           # a = (-1, 0, 1): min E = 2 at 0
    inner = np.abs(GRID) <= 1
    assert np.allclose(abs_sum_loss(GRID[inner]) - 2.0, np.abs(GRID[inner]))   # gap = |theta| on [-1, 1]


def test_abs_sum_is_convex_but_not_strongly_convex():
    f = abs_sum_loss(GRID)
    midpoints = abs_sum_loss(0.5 * (GRID[:-2] + GRID[2:]))
    assert np.all(midpoints <= 0.5 * (f[:-2] + f[2:]) + 1e-12)          # convex
    # strongly convex with modulus mu would need f(0 + t) - f(0) >= mu t^2 / 2 + (subgradient) t; the gap
    # |t| is linear, and E is affine between the a_j: the second differences vanish there
    between = (GRID > 0.01) & (GRID < 0.99)
    assert np.allclose(np.diff(abs_sum_loss(GRID[between]), 2), 0.0, atol=1e-9)


@pytest.mark.parametrize("theta", [-3.2, -1.0, -0.4, 0.0, 0.7, 1.0, 2.5])
def test_abs_sample_subgradients_satisfy_the_subgradient_inequality(theta):
    for j, aj in enumerate(ABS_SUM_A):
        g = abs_sum_sample_subgradient(theta, j)
        # f_j(y) >= f_j(theta) + g (y - theta) for all y: g is in the subdifferential of |. - a_j|
        assert np.all(np.abs(GRID - aj) >= abs(theta - aj) + g * (GRID - theta) - 1e-12)
    # the mean of the sample subgradients is a subgradient of E / N
    mean = np.mean([abs_sum_sample_subgradient(theta, j) for j in range(3)])
    assert np.all(abs_sum_loss(GRID) / 3 >= abs_sum_loss(theta) / 3 + mean * (GRID - theta) - 1e-12)


def test_sample_gradients_broadcast_over_runs_and_reject_bad_indices():
    theta = np.array([[0.5, -2.0], [3.0, 0.0]])
    j = np.array([[0, 1], [2, 0]])
    assert np.array_equal(abs_sum_sample_subgradient(theta, j), np.sign(theta - ABS_SUM_A[j]))
    assert np.allclose(cosine_sum_sample_grad(theta, j % 2), np.sin(theta - SANITY_CHECK_A[j % 2]))
    with pytest.raises(IndexError):
        abs_sum_sample_subgradient(0.0, 3)
    with pytest.raises(TypeError):
        huber_sum_sample_grad(0.0, 1.0)


def test_huber_closed_form_and_continuity():
    delta = 0.5
    t = np.array([-2.0, -0.5, -0.2, 0.0, 0.3, 0.5, 1.5])
    assert np.allclose(huber(t, delta), [1.75, 0.25, 0.04, 0.0, 0.09, 0.25, 1.25])
    eps = 1e-9                                            # value and slope agree at the seams |t| = delta
    assert np.isclose(huber(delta - eps, delta), huber(delta + eps, delta))
    with pytest.raises(ValueError):
        huber(1.0, 0.0)


@pytest.mark.parametrize("theta", [-2.3, -1.2, -0.6, -0.1, 0.2, 0.45, 1.3, 3.0])
def test_huber_and_cosine_gradients_match_finite_differences(theta):
    for j, aj in enumerate(ABS_SUM_A):
        fd = central_difference(lambda t: float(huber(t - aj, 0.5)), theta)
        assert np.isclose(huber_sum_sample_grad(theta, j), fd, atol=1e-6)
    fd = central_difference(lambda t: float(huber_sum_loss(t)), theta)
    assert np.isclose(sum(huber_sum_sample_grad(theta, j) for j in range(3)), fd, atol=1e-6)
    fd = central_difference(lambda t: float(cosine_sum_loss(t)), theta)
    assert np.isclose(sum(cosine_sum_sample_grad(theta, j) for j in range(2)), fd, atol=1e-6)


def test_huber_gradient_is_lipschitz():
    g = np.sum([huber_sum_sample_grad(GRID, np.full(GRID.shape, j), delta=0.5) for j in range(3)], axis=0)
    slopes = np.abs(np.diff(g)) / np.diff(GRID)
    assert slopes.max() <= 3 / 0.5 + 1e-9                       # at most N / delta
    # for a = (-1, 0, 1) and delta = 1/2 the rounded pieces |theta - a_j| <= 1/2 do not overlap: 1 / delta
    assert np.isclose(slopes.max(), 1 / 0.5)


def test_cosine_sum_closed_form_and_critical_points():
    assert np.allclose(cosine_sum_loss(GRID), 2 - 2 * np.cos(1.0) * np.cos(GRID))
    for n in range(-2, 3):
        assert np.isclose(sum(cosine_sum_sample_grad(2 * np.pi * n, j) for j in range(2)), 0.0, atol=1e-12)
        assert np.isclose(sum(cosine_sum_sample_grad((2 * n + 1) * np.pi, j) for j in range(2)), 0.0, atol=1e-12)
    assert cosine_sum_loss(np.pi) > cosine_sum_loss(0.0)                # a maximiser and a minimiser
