"""Finite differences, relative errors and kink detection of course.gradcheck."""

import numpy as np
import pytest

from course.gradcheck import check_gradient, check_gradient_dict, numerical_gradient, relative_error
from course.nn import init_mlp, mlp_loss_and_grad


# ---------------------------------------------------------------------------------------- numerical gradient

def test_numerical_gradient_any_shape_and_theta_restored():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((2, 3, 2))
    before = theta.copy()
    g = numerical_gradient(lambda t: np.sum(np.sin(t)) + 0.5 * np.sum(t ** 2), theta)
    assert g.shape == theta.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(before) + before, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(theta, before)            # restored bit for bit


def test_numerical_gradient_perturbs_in_place_so_closures_see_it():
    theta = np.array([1.0, 2.0, 3.0])
    g = numerical_gradient(lambda _: float(theta @ theta), theta)   # f ignores its argument
    np.testing.assert_allclose(g, 2 * theta, rtol=1e-8)


def test_numerical_gradient_on_a_non_contiguous_view():
    big = np.arange(12.0).reshape(3, 4)
    view = big[:, ::2]
    g = numerical_gradient(lambda t: np.sum(t ** 3), view)
    np.testing.assert_allclose(g, 3 * view ** 2, rtol=1e-7, atol=1e-6)
    np.testing.assert_array_equal(big, np.arange(12.0).reshape(3, 4))


def test_numerical_gradient_errors():
    with pytest.raises(TypeError, match="theta must be a floating-point numpy array"):
        numerical_gradient(lambda t: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda t: t, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        numerical_gradient(lambda t: 0.0, np.array([1.0]), eps=0)
    with pytest.warns(RuntimeWarning, match="use float64"):
        numerical_gradient(lambda t: float(np.sum(t)), np.array([1.0], np.float32), eps=1e-2)


# ---------------------------------------------------------------------------------------- relative error

def test_relative_error_values():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert relative_error([1.0, 0.0], [1.1, 1e-12]) == pytest.approx(0.1 / 1.1)
    assert relative_error([2.0], [-2.0]) == pytest.approx(2.0)       # a sign error
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------------------------------- check_gradient

def test_correct_gradient_passes_without_kinks():
    rng = np.random.default_rng(1)
    theta = rng.uniform(-3, 3, size=(4, 3))
    res = check_gradient(lambda t: np.sum(t ** 4) / 4 + np.sum(np.exp(t)),
                         lambda t: t ** 3 + np.exp(t), theta)
    assert res.passed and res.kinks == [] and res.max_rel_error < 1e-8
    assert "passed" in str(res)


def test_sanity_problem_at_its_minimizer_is_smooth():
    # E = 1/2 (theta - 1)^2 + 1/2 (theta + 1)^2, grad = 2 theta, zero at the minimizer 0
    res = check_gradient(lambda t: 0.5 * (t[0] - 1) ** 2 + 0.5 * (t[0] + 1) ** 2, np.zeros(1), np.zeros(1))
    assert res.passed and res.kinks == []


@pytest.mark.parametrize("wrong", [lambda g: -g, lambda g: 2 * g, lambda g: g * (1 + 1e-4),
                                   lambda g: g + np.eye(1, g.size, 3).ravel()])
def test_wrong_gradient_is_caught(wrong):
    theta = np.linspace(-1, 2, 6)
    true_grad = np.cos(theta) * 3
    res = check_gradient(lambda t: 3 * np.sum(np.sin(t)), wrong(true_grad), theta)
    assert not res.passed and res.max_rel_error > 1e-6
    assert res.kinks == []
    assert "FAILED" in str(res) and "kink" not in str(res)


def test_abs_at_zero_reports_a_kink():
    theta = np.array([0.0, 1.5, -2.0])
    res = check_gradient(lambda t: np.sum(np.abs(t)), np.sign(theta), theta)
    assert res.kinks == [(0,)]
    assert "kink within eps" in str(res) and "unreliable" in str(res)


def test_kink_inside_eps_but_not_at_theta_is_reported():
    theta = np.array([3e-7, 0.5])                # |x| has its kink at 0, 3e-7 < eps away
    res = check_gradient(lambda t: np.sum(np.abs(t)), np.sign(theta), theta)
    assert res.kinks == [(0,)]
    assert not res.passed                        # the central difference is wrong there...
    assert res.passed_away_from_kinks            # ...but not elsewhere
    assert "away from them the gradients agree" in str(res)
    far = check_gradient(lambda t: np.sum(np.abs(t)), np.sign(theta), theta + 1e-3)
    assert far.passed and far.kinks == []


def test_relu_at_zero_reports_a_kink_and_the_failure_is_explained():
    theta = np.array([[0.0, 1.0], [-1.0, 0.0]])
    relu_grad_framework = (theta > 0).astype(float)           # ReLU'(0) = 0
    res = check_gradient(lambda t: np.sum(np.maximum(t, 0)), relu_grad_framework, theta)
    assert not res.passed                                     # central difference gives 1/2 at 0
    assert sorted(res.kinks) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(res.numerical[0, 0], 0.5)
    assert res.passed_away_from_kinks


def test_check_gradient_errors():
    with pytest.raises(ValueError, match=r"grad must have the shape of theta \(3,\), got \(2,\)"):
        check_gradient(lambda t: 0.0, np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------------------------------- dict of params

def mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = init_mlp([5, 6, 4], rng)
    params["b1"] = 0.1 * rng.standard_normal(6)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 4, size=8)
    return params, x, y


def test_mlp_passes_the_gradient_check():
    params, x, y = mlp_problem()
    _, grads = mlp_loss_and_grad(params, x, y)
    res = check_gradient_dict(lambda p: mlp_loss_and_grad(p, x, y)[0], grads, params)
    assert res.passed, str(res)
    assert set(res.results) == set(params) and res.kinks == {} and res.max_rel_error < 1e-6


def test_mlp_wrong_gradient_is_caught_in_the_right_parameter():
    params, x, y = mlp_problem()
    _, grads = mlp_loss_and_grad(params, x, y)
    grads["b1"] = grads["b1"] * 1.01
    res = check_gradient_dict(lambda p: mlp_loss_and_grad(p, x, y)[0], grads, params)
    assert not res.passed
    assert [name for name, r in res.results.items() if not r.passed] == ["b1"]
    assert "b1: gradient check FAILED" in str(res)


def test_mlp_hidden_unit_at_its_kink_is_reported():
    params, x, y = mlp_problem()
    j = 2
    params["b1"][j] = -(x[0] @ params["W1"][:, j])      # example 0 puts hidden unit j at ReLU's kink
    _, grads = mlp_loss_and_grad(params, x, y)
    res = check_gradient_dict(lambda p: mlp_loss_and_grad(p, x, y)[0], grads, params)
    assert res["b1"].kinks == [(j,)]
    assert res["W1"].kinks == [(i, j) for i in range(5)]   # column j of W1 moves unit j
    assert res["W1"].passed_away_from_kinks and res["b1"].passed_away_from_kinks
    assert "W2" not in res.kinks and "b2" not in res.kinks
    assert "unreliable" in str(res["b1"])


def test_check_gradient_dict_errors():
    params, x, y = mlp_problem()
    with pytest.raises(KeyError, match="grads must have the keys of params"):
        check_gradient_dict(lambda p: 0.0, {"W1": params["W1"]}, params)


def test_module_docstring_states_the_unit_roundoff_of_both_dtypes():
    """One convention: u = np.finfo(dtype).eps / 2 (unit roundoff), for float64 and float32 alike."""
    import course.gradcheck

    import re

    stated = [float(u) for u in re.findall(r"u = ([0-9.]+e-[0-9]+)", course.gradcheck.__doc__)]
    expected = [np.finfo(np.float64).eps / 2, np.finfo(np.float32).eps / 2]
    np.testing.assert_allclose(stated, expected, rtol=0.05)
