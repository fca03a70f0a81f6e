"""course.minibatch against independent truths: finite differences, exact enumeration of every
minibatch, a second implementation, and Monte Carlo."""

import itertools

import numpy as np
import pytest

from course import minibatch as mb
from course.problems import least_squares_data, least_squares_loss, least_squares_solution
from course.sgd import sgd_iterates


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    return rng.normal(size=3), X, y


def central_differences(f, theta, eps=1e-6):
    return np.array([(f(theta + eps * e) - f(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)])


def test_full_gradient_is_the_derivative_of_the_sum(problem):
    theta, X, y = problem
    g = mb.full_gradient(theta, X, y)
    assert g.shape == (3,) and g.dtype == np.float64
    np.testing.assert_allclose(g, central_differences(lambda t: least_squares_loss(t, X, y), theta), rtol=1e-7)


def test_per_sample_gradients_are_the_summands_derivatives(problem):
    theta, X, y = problem
    G = mb.per_sample_gradients(theta, X, y)
    assert G.shape == (6, 3)
    for j in range(6):
        f_j = lambda t: 0.5 * (X[j] @ t - y[j]) ** 2
        np.testing.assert_allclose(G[j], central_differences(f_j, theta), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(G.sum(axis=0), mb.full_gradient(theta, X, y))


def test_minibatch_gradient_is_the_sum_over_the_index_set_with_repeats(problem):
    theta, X, y = problem
    G = mb.per_sample_gradients(theta, X, y)
    idx = np.array([4, 1, 4])
    np.testing.assert_allclose(mb.minibatch_gradient(theta, X, y, idx), G[4] + G[1] + G[4])
    np.testing.assert_allclose(mb.minibatch_gradient(theta, X, y, idx, unbiased=True), 6 / 3 * (G[4] + G[1] + G[4]))
    np.testing.assert_allclose(mb.minibatch_gradient(theta, X, y, np.arange(6), unbiased=True),
                               mb.full_gradient(theta, X, y))


@pytest.mark.parametrize("B", [1, 2, 3])
def test_unbiased_over_every_batch_with_replacement(problem, B):
    theta, X, y = problem
    batches = list(itertools.product(range(6), repeat=B))            # all N^B equally likely batches
    mean = np.mean([mb.minibatch_gradient(theta, X, y, np.array(b), unbiased=True) for b in batches], axis=0)
    np.testing.assert_allclose(mean, mb.full_gradient(theta, X, y), rtol=1e-10)
    plain = np.mean([mb.minibatch_gradient(theta, X, y, np.array(b)) for b in batches], axis=0)
    np.testing.assert_allclose(plain, B / 6 * mb.full_gradient(theta, X, y), rtol=1e-10)   # the lecture's sum


@pytest.mark.parametrize("B, replace", [(1, True), (2, True), (3, True), (1, False), (2, False), (4, False), (6, False)])
def test_closed_form_variance_equals_exact_enumeration(problem, B, replace):
    theta, X, y = problem
    batches = (itertools.product(range(6), repeat=B) if replace else itertools.combinations(range(6), B))
    full = mb.full_gradient(theta, X, y)
    exact = np.mean([np.sum((mb.minibatch_gradient(theta, X, y, np.array(b), unbiased=True) - full) ** 2)
                     for b in batches])
    np.testing.assert_allclose(mb.minibatch_variance(theta, X, y, B, replace=replace), exact, rtol=1e-10, atol=1e-12)


def test_variance_falls_like_one_over_b_and_vanishes_at_b_equals_n(problem):
    theta, X, y = problem
    v1 = mb.minibatch_variance(theta, X, y, 1)
    assert mb.minibatch_variance(theta, X, y, 4) == pytest.approx(v1 / 4)
    assert mb.minibatch_variance(theta, X, y, 6, replace=False) == 0.0
    with pytest.raises(ValueError, match="at most N"):
        mb.minibatch_variance(theta, X, y, 7, replace=False)


@pytest.mark.parametrize("replace", [True, False])
def test_sampled_gradients_match_mean_and_variance(problem, replace):
    theta, X, y = problem
    samples = mb.sample_minibatch_gradients(theta, X, y, 2, 40000, np.random.default_rng(1), replace=replace)
    assert samples.shape == (40000, 3)
    bias, var = mb.bias_variance(samples, mb.full_gradient(theta, X, y))
    expected = mb.minibatch_variance(theta, X, y, 2, replace=replace)
    assert np.linalg.norm(bias) < 4 * np.sqrt(expected / 40000)       # unbiased, within Monte-Carlo error
    assert var == pytest.approx(expected, rel=0.03)


def test_bias_variance_against_numpy():
    rng = np.random.default_rng(2)
    est, true = rng.normal(size=(9, 4)), rng.normal(size=4)
    bias, var = mb.bias_variance(est, true)
    np.testing.assert_allclose(bias, est.mean(axis=0) - true)
    assert var == pytest.approx(np.trace(np.cov(est, rowvar=False)))     # ddof = 1
    with pytest.raises(ValueError, match="at least two"):
        mb.bias_variance(est[:1], true)


def test_descent_is_sgd_with_a_work_counter():
    rng = np.random.default_rng(3)
    X, y = least_squares_data(20, 2, rng)
    grad = lambda theta, idx: mb.minibatch_gradient(theta, X, y, idx, unbiased=True)
    schedule = lambda k: 0.01 / k ** 0.6
    batches = rng.integers(0, 20, size=(15, 3))
    thetas, work = mb.descent(grad, np.zeros(2), schedule, batches)
    np.testing.assert_allclose(thetas, sgd_iterates(grad, np.zeros(2), schedule, batches))   # a second implementation
    np.testing.assert_array_equal(work, 3 * np.arange(16))
    assert work.dtype == np.int64
    ragged = [np.arange(7), np.arange(7, 14), np.arange(14, 20)]
    _, work = mb.descent(grad, np.zeros(2), schedule, ragged)
    np.testing.assert_array_equal(work, [0, 7, 14, 20])


def test_gradient_descent_reaches_the_least_squares_solution():
    X, y = least_squares_data(50, 3, np.random.default_rng(4), noise=0.3)
    lip = np.linalg.eigvalsh(X.T @ X).max()
    thetas, work = mb.descent(lambda t, idx: mb.minibatch_gradient(t, X, y, idx), np.zeros(3),
                              lambda k: 1 / lip, [np.arange(50)] * 400)
    np.testing.assert_allclose(thetas[-1], least_squares_solution(X, y), atol=1e-8)
    assert work[-1] == 400 * 50


def test_descent_fraction_against_a_loop():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    for theta in rng.normal(scale=3, size=(5, 2)):
        full = sum((X[j] @ theta - y[j]) * X[j] for j in range(30))
        count = sum(((X[j] @ theta - y[j]) * X[j]) @ full > 0 for j in range(30))
        assert mb.descent_fraction(theta, X, y) == count / 30


def test_far_away_single_examples_point_downhill_close_by_they_do_not():
    X, y = least_squares_data(200, 2, np.random.default_rng(6), noise=1.0)
    star = least_squares_solution(X, y)
    assert mb.descent_fraction(star + 100.0, X, y) > 0.85
    assert mb.descent_fraction(star + 1e-3, X, y) < 0.7


def test_least_squares_data():
    X, y = least_squares_data(10, 3, np.random.default_rng(7), noise=0.0, scales=[1.0, 0.1, 0.01])
    assert X.shape == (10, 3) and y.shape == (10,)
    theta = least_squares_solution(X, y)
    np.testing.assert_allclose(X @ theta, y, atol=1e-10)            # noise 0: every example fitted
    assert np.abs(X[:, 2]).max() < 0.1                                # the columns are scaled
    X2, y2 = least_squares_data(10, 3, np.random.default_rng(7), noise=0.0, scales=[1.0, 0.1, 0.01])
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(TypeError, match="Generator"):
        least_squares_data(10, 3, 7)


def test_inputs_are_validated(problem):
    theta, X, y = problem
    with pytest.raises(ValueError, match="theta must have shape"):
        mb.full_gradient(theta[:2], X, y)
    with pytest.raises(IndexError, match="idx must lie in"):
        mb.minibatch_gradient(theta, X, y, np.array([6]))
    with pytest.raises(TypeError, match="integers"):
        mb.minibatch_gradient(theta, X, y, np.array([0.5]))
