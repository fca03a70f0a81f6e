"""course.problems, course.schedules, course.optim and course.sgd against independent truths."""

import numpy as np
import pytest

from course import optim, problems, schedules, sgd
from course.gradcheck import numerical_gradient


# -- problems ---------------------------------------------------------------------------------------

def test_sanity_check_is_theta_squared_plus_one():
    theta = np.linspace(-3, 3, 13)
    assert np.allclose(problems.sanity_check_loss(theta), theta ** 2 + 1)
    assert np.allclose(problems.sanity_check_grad(theta), 2 * theta)


@pytest.mark.parametrize("j", [0, 1])
def test_sample_gradient_matches_finite_differences(j):
    a = problems.SANITY_CHECK_A[j]
    for theta in (-2.3, 0.0, 0.4, 5.0):
        fd = numerical_gradient(lambda t: 0.5 * (t[0] - a) ** 2, np.array([theta]))[0]
        assert np.isclose(problems.sanity_check_sample_grad(theta, j), fd, atol=1e-7)


def test_sample_gradients_sum_to_the_full_gradient_and_disagree_near_the_minimiser():
    theta = np.linspace(-0.99, 0.99, 50)
    g0 = problems.sanity_check_sample_grad(theta, np.zeros(50, dtype=int))
    g1 = problems.sanity_check_sample_grad(theta, np.ones(50, dtype=int))
    assert np.allclose(g0 + g1, problems.sanity_check_grad(theta))
    assert np.all(g0 < 0) and np.all(g1 > 0)


def test_minibatch_gradient_is_the_sum_over_the_index_set():
    assert problems.sanity_check_minibatch_grad(0.5, [0, 0, 1]) == pytest.approx(2 * (0.5 - 1) + (0.5 + 1))
    with pytest.raises(IndexError, match="must lie in 0..1"):
        problems.sanity_check_minibatch_grad(0.5, [2])


def test_least_squares_gradient_matches_finite_differences_and_vanishes_at_the_solution():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    theta = rng.normal(size=3)
    fd = numerical_gradient(lambda t: problems.least_squares_loss(t, X, y), theta.copy())
    assert np.allclose(problems.least_squares_grad(theta, X, y), fd, atol=1e-6)
    idx = np.array([1, 4, 4])
    expected = sum((X[j] @ theta - y[j]) * X[j] for j in idx)
    assert np.allclose(problems.least_squares_grad(theta, X, y, idx), expected)
    star = problems.least_squares_solution(X, y)
    assert np.allclose(problems.least_squares_grad(star, X, y), 0, atol=1e-10)


def test_wrong_shapes_say_what_was_expected():
    with pytest.raises(ValueError, match=r"theta must have shape \(3\), got \(2,\)"):
        problems.least_squares_grad(np.zeros(2), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(TypeError, match="j must be an integer"):
        problems.sanity_check_sample_grad(0.5, 0.5)


# -- schedules --------------------------------------------------------------------------------------

def test_schedules_closed_forms():
    k = np.arange(1, 6)
    assert np.allclose(schedules.constant(0.3)(k), 0.3)
    assert np.allclose(schedules.geometric(1.0, 0.5)(k), [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32])
    assert np.allclose(schedules.inverse_power(2.0, 0.5)(k), 2 / np.sqrt(k))
    assert isinstance(schedules.inverse_power(1.0, 1.0)(3), float)


def test_steps_count_from_one():
    with pytest.raises(ValueError, match="from k = 1"):
        schedules.inverse_power(1.0, 1.0)(0)
    with pytest.raises(TypeError, match="integer"):
        schedules.constant(0.1)(1.5)


def test_partial_sums_against_closed_forms():
    s1, s2 = schedules.partial_sums(schedules.geometric(1.0, 0.5), 30)
    assert np.isclose(s1[-1], 1 - 0.5 ** 30) and np.isclose(s2[-1], (1 - 0.25 ** 30) / 3)
    s1, s2 = schedules.partial_sums(schedules.inverse_power(1.0, 1.0), 10 ** 5)
    assert np.isclose(s1[-1], np.log(1e5) + np.euler_gamma, atol=1e-4)   # harmonic numbers diverge
    assert np.isclose(s2[-1], np.pi ** 2 / 6, atol=2e-5)                 # Basel: converges


# -- optimizers -------------------------------------------------------------------------------------

def test_adagrad_norm_matches_a_hand_computed_sequence():
    opt = optim.adagrad_norm(eta=2.0, c0=1.0)
    theta = np.array([3.0, 4.0])
    state = opt.init(theta)
    grads = [np.array([3.0, 4.0]), np.array([0.0, 0.0]), np.array([1.0, -2.0])]
    # c: 1 -> 1 + 25 = 26 -> 26 -> 26 + 5 = 31;  tau = 2 / sqrt(c)
    expected_c = [26.0, 26.0, 31.0]
    for g, c in zip(grads, expected_c):
        updates, state = opt.update(g, state, theta)
        assert state.c == pytest.approx(c)
        assert np.allclose(updates, -2.0 / np.sqrt(c) * g)
        theta = optim.apply_updates(theta, updates)
    assert np.allclose(theta, [3, 4] - 2 / np.sqrt(26) * np.array([3, 4]) - 2 / np.sqrt(31) * np.array([1, -2]))
    assert state.k == 4


def test_adagrad_norm_with_zero_start_and_zero_gradient_does_not_move():
    opt = optim.adagrad_norm()
    updates, state = opt.update(np.zeros(3), opt.init(np.zeros(3)))
    assert np.all(updates == 0) and state.c == 0


def test_adagrad_norm_first_step_has_length_eta():
    """With c(1) = 0 the first step is eta * g / ||g||: its length is eta whatever the gradient scale."""
    for scale in (1e-3, 1.0, 1e4):
        g = scale * np.array([1.0, 2.0, 2.0])
        opt = optim.adagrad_norm(eta=0.7)
        updates, _ = opt.update(g, opt.init(g))
        assert np.linalg.norm(updates) == pytest.approx(0.7)


def test_diagonal_adagrad_is_per_coordinate_adagrad_norm():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(5, 3))
    opt = optim.adagrad(eta=0.5, c0=0.1)
    state = opt.init(np.zeros(3))
    singles = [optim.adagrad_norm(eta=0.5, c0=0.1) for _ in range(3)]
    single_states = [s.init(0.0) for s in singles]
    for g in grads:
        updates, state = opt.update(g, state)
        for i in range(3):
            u, single_states[i] = singles[i].update(g[i], single_states[i])
            assert updates[i] == pytest.approx(u)


def test_optimizers_work_on_dicts_and_keep_float32():
    params = {"W": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}
    grads = {"W": np.full((2, 2), 0.5, np.float32), "b": np.ones(2, np.float32)}
    for opt in (optim.sgd(schedules.constant(0.1)), optim.adagrad_norm(), optim.adagrad(),
                optim.momentum(schedules.constant(0.1)), optim.adam()):
        updates, _ = opt.update(grads, opt.init(params), params)
        new = optim.apply_updates(params, updates)
        assert set(new) == {"W", "b"} and all(v.dtype == np.float32 for v in new.values())
    with pytest.raises(ValueError, match="keys"):
        optim.apply_updates(params, {"W": grads["W"]})


def test_sgd_optimizer_uses_tau_1_then_tau_2():
    opt = optim.sgd(schedules.inverse_power(1.0, 1.0))
    state = opt.init(0.0)
    u1, state = opt.update(1.0, state)
    u2, state = opt.update(1.0, state)
    assert (u1, u2) == (-1.0, -0.5)


def test_adam_first_step_is_eta_times_sign():
    g = np.array([3.0, -0.02])
    updates, _ = optim.adam(eta=0.1).update(g, optim.adam(eta=0.1).init(g))
    assert np.allclose(updates, -0.1 * np.sign(g), rtol=1e-6)


def test_momentum_accumulates_velocity():
    opt = optim.momentum(schedules.constant(1.0), beta=0.5)
    updates, state = opt.update(1.0, opt.init(0.0))
    updates, state = opt.update(1.0, state)
    assert updates == pytest.approx(-1.5)   # v = 0.5 * 1 + 1


# -- sgd on the sanity-check problem ----------------------------------------------------------------

def test_sgd_iterates_are_the_lectures_recursion():
    """Second implementation: theta(k+1) = theta(k) - tau(k) (theta(k) - a_j), written out, gives the same
    trajectory to the last bit (sgd_iterates takes course.optim.sgd's steps)."""
    rng = np.random.default_rng(2)
    idx = sgd.sample_indices(2, 50, rng)
    schedule = schedules.inverse_power(0.8, 0.7)
    path = sgd.sgd_iterates(problems.sanity_check_sample_grad, 2.5, schedule, idx)
    theta = 2.5
    for k, j in enumerate(idx, start=1):
        theta = theta - schedule(k) * (theta - (1.0 if j == 0 else -1.0))
        assert path[k] == theta


@pytest.mark.parametrize("schedule", [schedules.constant(0.3), schedules.inverse_power(1.0, 1.0),
                                      schedules.geometric(1.0, 0.5), schedules.inverse_power(0.5, 0.6)])
def test_sgd_mean_and_variance_follow_the_exact_recursion(schedule):
    """theta(k+1) = (1 - tau_k) theta(k) + tau_k s_k with s_k = a_j = +-1 equally likely, independent
    of theta(k). Hence m(k+1) = (1 - tau_k) m(k) and v(k+1) = (1 - tau_k)^2 v(k) + tau_k^2."""
    runs, steps, theta1 = 20000, 60, 3.0
    idx = sgd.sample_indices(2, steps, np.random.default_rng(3), runs=runs)
    path = sgd.sgd_iterates(problems.sanity_check_sample_grad, np.full(runs, theta1), schedule, idx)
    m, v = theta1, 0.0
    for k in range(1, steps + 1):
        tau = schedule(k)
        m, v = (1 - tau) * m, (1 - tau) ** 2 * v + tau ** 2
        if k % 10 == 0:
            # Monte-Carlo error of a mean: sqrt(v / runs); of a variance: about v * sqrt(2 / runs)
            assert abs(path[k].mean() - m) < 5 * np.sqrt(v / runs) + 1e-12
            assert abs(path[k].var() - v) < 5 * v * np.sqrt(2 / runs) + 1e-12


def test_constant_step_variance_settles_at_tau_over_two_minus_tau():
    tau = 0.2
    idx = sgd.sample_indices(2, 400, np.random.default_rng(4), runs=20000)
    path = sgd.sgd_iterates(problems.sanity_check_sample_grad, np.zeros(20000), schedules.constant(tau), idx)
    assert path[-1].var() == pytest.approx(tau / (2 - tau), rel=0.05)


def test_sample_indices_is_uniform_and_seeded():
    a = sgd.sample_indices(2, 1000, np.random.default_rng(5), runs=10)
    b = sgd.sample_indices(2, 1000, np.random.default_rng(5), runs=10)
    assert a.shape == (1000, 10) and np.array_equal(a, b)
    assert abs(a.mean() - 0.5) < 0.02
    with pytest.raises(TypeError, match="Generator"):
        sgd.sample_indices(2, 10, 42)


def test_loglog_slope_recovers_exact_power_laws():
    k = np.arange(1, 200)
    for p in (-1.0, -0.5, 0.3):
        assert sgd.loglog_slope(k, 7.0 * k ** p) == pytest.approx(p)
