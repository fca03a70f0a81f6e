"""course.adaptive (AdaGrad runs) against hand-computed sequences, a second implementation, exact
enumeration and long simulations; and the run-wise gradients of course.problems."""

import itertools

import numpy as np
import pytest

from course import adaptive
from course.problems import (least_squares_data, least_squares_grad, least_squares_runs_grad,
                             least_squares_solution, sanity_check_runs_grad, sanity_check_sample_grad)


def identity_grad(theta, j):
    return theta                                   # E = 1/2 ||theta||^2


def second_implementation(grad, theta1, indices, eta, c0, diagonal):
    """AdaGrad written out once more, vectorised over runs (one c per run, or per coordinate)."""
    theta = np.array(theta1, dtype=float)
    c = np.full(theta.shape if diagonal else theta.shape[:-1], float(c0))
    thetas, taus = [theta.copy()], []
    for idx in indices:
        g = grad(theta, idx)
        c = c + (g ** 2 if diagonal else np.einsum("...i,...i->...", g, g))
        tau = eta / np.sqrt(c)
        theta = theta - (tau if diagonal else tau[..., None]) * g
        thetas.append(theta.copy())
        taus.append(tau)
    return np.stack(thetas), np.stack(taus)


def test_adagrad_norm_by_hand():
    # c(2) = 25, tau(1) = 1/5, theta(2) = (2.4, 3.2); c(3) = 41, tau(2) = 1/sqrt(41)
    thetas, taus = adaptive.adagrad_norm_run(identity_grad, np.array([3.0, 4.0]), [0, 0])
    np.testing.assert_allclose(taus, [0.2, 1 / np.sqrt(41)])
    np.testing.assert_allclose(thetas, [[3, 4], [2.4, 3.2], np.array([2.4, 3.2]) * (1 - 1 / np.sqrt(41))])
    _, taus = adaptive.adagrad_norm_run(identity_grad, np.array([3.0, 4.0]), [0], eta=2.0, c0=11.0)
    np.testing.assert_allclose(taus, [2 / 6])


def test_adagrad_diag_by_hand():
    thetas, taus = adaptive.adagrad_diag_run(identity_grad, np.array([3.0, 4.0]), [0, 0])
    np.testing.assert_allclose(taus, [[1 / 3, 1 / 4], [1 / np.sqrt(13), 1 / 5]])
    np.testing.assert_allclose(thetas[1:], [[2, 3], [2 - 2 / np.sqrt(13), 3 - 3 / 5]])


@pytest.mark.parametrize("diagonal", [False, True])
def test_runs_are_independent_and_match_a_second_implementation(diagonal):
    rng = np.random.default_rng(0)
    X, y = least_squares_data(15, 3, rng)
    grad = least_squares_runs_grad(X, y)
    theta1, indices = rng.normal(size=(4, 3)), rng.integers(0, 15, size=(12, 4, 2))
    run = adaptive.adagrad_diag_run if diagonal else adaptive.adagrad_norm_run
    thetas, taus = run(grad, theta1, indices, eta=0.7, c0=0.3)
    assert thetas.shape == (13, 4, 3) and taus.shape == ((12, 4, 3) if diagonal else (12, 4))
    want = second_implementation(grad, theta1, indices, 0.7, 0.3, diagonal)
    np.testing.assert_allclose(thetas, want[0], rtol=1e-12)
    np.testing.assert_allclose(taus, want[1], rtol=1e-12)
    single = run(grad, theta1[2], indices[:, 2], eta=0.7, c0=0.3)     # run 2 alone gives the same
    np.testing.assert_allclose(thetas[:, 2], single[0], rtol=1e-12)


def test_zero_gradient_with_c0_zero_takes_no_step():
    thetas, taus = adaptive.adagrad_norm_run(identity_grad, np.zeros(2), [0, 0])
    np.testing.assert_array_equal(thetas, 0.0)
    np.testing.assert_array_equal(taus, 0.0)


def test_tau_limit_sigma_is_the_exact_second_moment_of_a_batch_at_the_minimiser():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(5, 2))
    G -= G.mean(axis=0)                            # per-sample gradients at a minimiser sum to zero
    for B in (1, 2, 3):
        second_moment = np.mean([np.sum(G[list(b)].sum(axis=0) ** 2)
                                 for b in itertools.product(range(5), repeat=B)])   # all 5^B batches
        assert adaptive.tau_limit(0.7, G, B) == pytest.approx(0.7 / np.sqrt(second_moment), rel=1e-12)


def test_tau_sqrt_k_tends_to_the_predicted_limit_on_the_sanity_check():
    steps, runs = 20000, 4
    indices = np.random.default_rng(2).integers(0, 2, size=(steps, runs))
    _, taus = adaptive.adagrad_norm_run(sanity_check_runs_grad, np.full((runs, 1), 3.0), indices, eta=0.5)
    limit = adaptive.tau_limit(0.5, np.array([[-1.0], [1.0]]), 1)
    assert limit == 0.5
    assert np.mean(taus[-1]) * np.sqrt(steps) == pytest.approx(limit, rel=0.02)


def test_adagrad_norm_converges_where_constant_steps_diverge():
    X, y = least_squares_data(200, 4, np.random.default_rng(3), noise=0.0)
    grad = least_squares_runs_grad(X, y)
    indices = np.random.default_rng(4).integers(0, 200, size=(3000, 5))
    star = least_squares_solution(X, y)
    for eta in (0.3, 30.0, 3000.0):                 # no noise at the minimiser: linear convergence
        thetas, taus = adaptive.adagrad_norm_run(grad, np.zeros(4), indices, eta=eta)
        assert np.linalg.norm(thetas[-1] - star) < 1e-6 * np.linalg.norm(star)
        assert np.all(np.diff(taus) <= 0)            # c never decreases, so neither does 1/tau


def test_constant_step_runs_are_the_recursion_written_out():
    # the explorer's SGD half: R runs from theta(1) = 3 on the sanity check, indices drawn as the problem
    # draws them (one Generator from the seed); theta(k+1) = theta(k) - tau (theta(k) - a_j), gap theta^2
    runs, steps, tau = 7, 30, 0.3
    j = np.random.default_rng(4).integers(0, 2, size=(steps, runs))
    theta, gaps = np.full(runs, 3.0), [9.0]
    for k in range(steps):
        theta = theta - tau * (theta - np.where(j[k] == 0, 1.0, -1.0))
        gaps.append(np.mean(theta ** 2))
    got = adaptive.constant_step_runs("sanity check", tau, runs=runs, steps=steps, seed=4)
    np.testing.assert_allclose(got, gaps, rtol=1e-12)


def test_working_decades():
    etas = 10.0 ** np.arange(-3, 4)
    gaps = np.array([1.0, 0.01, 0.001, np.inf, 0.005, np.nan, 0.5])
    assert adaptive.working_decades(etas, gaps, 0.01) == pytest.approx(3.0)    # 1e-2 .. 1e1, tie included
    assert adaptive.working_decades(etas, np.full(7, np.nan), 0.01) == 0.0
    assert adaptive.working_decades(etas, np.where(etas == 1.0, 0.0, 1.0), 0.01) == 0.0


def test_run_wise_gradients_agree_with_the_single_run_ones():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    grad = least_squares_runs_grad(X, y)
    theta, idx = rng.normal(size=(4, 3)), rng.integers(0, 10, size=(4, 2))
    for r in range(4):
        np.testing.assert_allclose(grad(theta, idx)[r], least_squares_grad(theta[r], X, y, idx[r]))
        np.testing.assert_allclose(grad(theta[r], idx[r]), least_squares_grad(theta[r], X, y, idx[r]))
    j = np.array([0, 1, 1, 0])
    np.testing.assert_allclose(sanity_check_runs_grad(theta[:, :1], j)[:, 0], sanity_check_sample_grad(theta[:, 0], j))
    with pytest.raises(ValueError, match="shape"):
        sanity_check_runs_grad(theta[:, :1], np.array([0, 1]))
