"""Layers, loss and MLP of course.nn, checked against direct formulas and finite differences.

The finite differences here (tests/finite_differences.py) are independent of course.gradcheck.
"""

import numpy as np
import pytest
from finite_differences import fd_grad

from course.nn import (accuracy, init_mlp, leaky_relu_backward, leaky_relu_forward, linear_backward,
                       linear_forward, mlp_backward, mlp_forward, mlp_loss_and_grad, predict,
                       relu_backward, relu_forward, softmax_cross_entropy)


def assert_grad_close(analytic, numerical, tol=1e-7):
    scale = max(np.abs(numerical).max(), 1e-12)
    assert np.abs(analytic - numerical).max() / scale < tol


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------------------------------- linear

def test_linear_forward_matches_the_formula(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    out, _ = linear_forward(x, W, b)
    expected = [[sum(x[j, i] * W[i, o] for i in range(3)) + b[o] for o in range(2)] for j in range(4)]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_linear_backward_matches_finite_differences(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    R = rng.standard_normal((4, 2))           # E = sum(out * R), so dE/dout = R
    _, cache = linear_forward(x, W, b)
    dx, dW, db = linear_backward(R, cache)
    assert dx.shape == x.shape and dW.shape == W.shape and db.shape == b.shape
    assert_grad_close(dx, fd_grad(lambda v: np.sum(linear_forward(v, W, b)[0] * R), x))
    assert_grad_close(dW, fd_grad(lambda v: np.sum(linear_forward(x, v, b)[0] * R), W))
    assert_grad_close(db, fd_grad(lambda v: np.sum(linear_forward(x, W, v)[0] * R), b))


def test_linear_float32_keeps_dtype(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W = rng.standard_normal((3, 2)).astype(np.float32)
    b = np.zeros(2, np.float32)
    out, cache = linear_forward(x, W, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in linear_backward(np.ones((4, 2)), cache))


def test_linear_errors(rng):
    W, b = np.ones((3, 2)), np.zeros(2)
    with pytest.raises(ValueError, match=r"for a single example use x\[None, :\]"):
        linear_forward(np.ones(3), W, b)
    with pytest.raises(ValueError, match=r"x must have shape \(any, 3\) to match the weights, got \(4, 5\)"):
        linear_forward(np.ones((4, 5)), W, b)
    with pytest.raises(ValueError, match=r"b must have shape \(2\), got \(3,\)"):
        linear_forward(np.ones((4, 3)), W, np.zeros(3))
    _, cache = linear_forward(np.ones((4, 3)), W, b)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 2\), got \(4, 3\)"):
        linear_backward(np.ones((4, 3)), cache)
    with pytest.raises(TypeError, match="x must be an array of numbers"):
        linear_forward("abc", W, b)


# ---------------------------------------------------------------------------------------- ReLU

def test_relu_forward_and_backward_away_from_zero(rng):
    x = rng.standard_normal((5, 4))
    x[np.abs(x) < 0.1] = 0.5                  # finite differences need |x| > eps
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.0))
    R = rng.standard_normal(x.shape)
    assert_grad_close(relu_backward(R, cache), fd_grad(lambda v: np.sum(relu_forward(v)[0] * R), x))


@pytest.mark.parametrize("r", [0.0, 0.25, 1.0])
def test_relu_backward_at_exactly_zero_uses_relu_prime_at_zero(r):
    x = np.array([[-1.0, 0.0, 2.0], [0.0, -0.0, 3.0]])
    dout = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache, relu_prime_at_zero=r)
    np.testing.assert_array_equal(dx, [[0.0, 20.0 * r, 30.0], [40.0 * r, 50.0 * r, 60.0]])
    if r == 0.0:
        np.testing.assert_array_equal(relu_backward(dout, cache), dx)   # the default is 0


def test_relu_float32_and_errors():
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    out, cache = relu_forward(x)
    assert out.dtype == np.float32
    assert relu_backward(np.ones((1, 3)), cache, 0.5).dtype == np.float32
    with pytest.raises(ValueError, match=r"relu_prime_at_zero must be a number in \[0, 1\]"):
        relu_backward(np.ones((1, 3)), cache, relu_prime_at_zero=2.0)
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 3\)"):
        relu_backward(np.ones((3,)), cache)


def test_leaky_relu(rng):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 0.1] = -0.5
    out, cache = leaky_relu_forward(x, alpha=0.1)
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.1 * x))
    R = rng.standard_normal(x.shape)
    assert_grad_close(leaky_relu_backward(R, cache),
                      fd_grad(lambda v: np.sum(leaky_relu_forward(v, 0.1)[0] * R), x))
    _, cache0 = leaky_relu_forward(np.array([0.0]), alpha=0.1)
    assert leaky_relu_backward(np.array([1.0]), cache0)[0] == 0.1
    assert leaky_relu_backward(np.array([1.0]), cache0, prime_at_zero=0.6)[0] == 0.6
    with pytest.raises(ValueError, match="prime_at_zero must lie between alpha=0.1 and 1"):
        leaky_relu_backward(np.array([1.0]), cache0, prime_at_zero=0.0)


# ---------------------------------------------------------------------------------------- softmax CE

def direct_cross_entropy(scores, y):
    """-1/B sum_j log( exp(s_{j,y_j}) / sum_c exp(s_jc) ), written out with Python floats."""
    total = 0.0
    for s, label in zip(scores.tolist(), y.tolist()):
        total -= np.log(np.exp(s[label]) / sum(np.exp(v) for v in s))
    return total / len(y)


def test_softmax_ce_matches_direct_formula_and_finite_differences(rng):
    scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    loss, dscores = softmax_cross_entropy(scores, y)
    assert np.isclose(loss, direct_cross_entropy(scores, y), rtol=1e-12)
    assert_grad_close(dscores, fd_grad(lambda s: direct_cross_entropy(s, y), scores))
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)   # softmax - one-hot, row sums 0


def test_softmax_ce_known_values():
    loss, dscores = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    assert np.isclose(loss, np.log(4))                   # uniform prediction over 4 classes
    np.testing.assert_allclose(dscores, (np.full((2, 4), 0.25) - np.eye(4)[[0, 3]]) / 2)


def test_softmax_ce_is_the_mean_over_the_batch(rng):
    scores, y = rng.standard_normal((5, 3)), rng.integers(0, 3, size=5)
    loss, dscores = softmax_cross_entropy(scores, y)
    loss2, dscores2 = softmax_cross_entropy(np.vstack([scores, scores]), np.concatenate([y, y]))
    assert np.isclose(loss2, loss)                       # duplicating the batch keeps the mean
    np.testing.assert_allclose(dscores2[:5], dscores / 2)


def test_softmax_ce_is_stable_for_huge_logits(rng):
    scores, y = rng.standard_normal((4, 3)), rng.integers(0, 3, size=4)
    loss, dscores = softmax_cross_entropy(scores, y)
    with np.errstate(over="raise", invalid="raise"):
        loss_big, dscores_big = softmax_cross_entropy(scores + 1e4, y)   # shift invariance
        assert np.isclose(loss_big, loss, rtol=1e-9)
        np.testing.assert_allclose(dscores_big, dscores, atol=1e-12)
        big, _ = softmax_cross_entropy(np.array([[1000.0, 0.0], [1000.0, 0.0]]), np.array([0, 1]))
        assert np.isclose(big, 500.0)                    # (0 + 1000) / 2
        big32, d32 = softmax_cross_entropy(np.array([[1e30, -1e30]], np.float32), np.array([1]))
        assert np.isfinite(big32) and np.all(np.isfinite(d32))


def test_softmax_ce_float32(rng):
    scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    loss, dscores = softmax_cross_entropy(scores.astype(np.float32), y)
    assert loss.dtype == np.float32 and dscores.dtype == np.float32
    assert np.isclose(loss, direct_cross_entropy(scores, y), rtol=1e-5)


def test_softmax_ce_errors():
    with pytest.raises(ValueError, match=r"y must hold one label per row of scores: expected shape \(3,\)"):
        softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(TypeError, match="y must hold integers"):
        softmax_cross_entropy(np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(IndexError, match=r"y must lie in 0..3, got values from 0 to 4"):
        softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"scores must have shape \(batch size, features\)"):
        softmax_cross_entropy(np.zeros(4), np.array([0]))


# ---------------------------------------------------------------------------------------- the MLP

def test_init_mlp_shapes_dtypes_and_he_scale():
    params = init_mlp([400, 300, 10], np.random.default_rng(0))
    assert list(params) == ["W1", "b1", "W2", "b2"]
    assert params["W1"].shape == (400, 300) and params["b1"].shape == (300,)
    assert params["W2"].shape == (300, 10) and params["b2"].shape == (10,)
    assert all(p.dtype == np.float64 for p in params.values())
    assert np.all(params["b1"] == 0) and np.all(params["b2"] == 0)
    assert abs(params["W1"].std() / np.sqrt(2 / 400) - 1) < 0.02      # He: Var W = 2 / fan_in
    assert abs(params["W1"].mean()) < 0.01 * np.sqrt(2 / 400) * 20
    p32 = init_mlp([400, 300, 10], np.random.default_rng(0), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in p32.values())
    np.testing.assert_allclose(p32["W2"], params["W2"], rtol=1e-6)      # same seed, same network
    assert not np.array_equal(init_mlp([4, 3], np.random.default_rng(1))["W1"],
                              init_mlp([4, 3], np.random.default_rng(2))["W1"])


def manual_mlp(params, x):
    h = x
    L = len(params) // 2
    for i in range(1, L + 1):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < L:
            h = np.maximum(h, 0)
    return h


def small_problem(rng, sizes=(4, 5, 6, 3), B=7):
    params = init_mlp(list(sizes), rng)
    for key in params:
        if key.startswith("b"):
            params[key] = 0.1 * rng.standard_normal(params[key].shape)
    x = rng.standard_normal((B, sizes[0]))
    y = rng.integers(0, sizes[-1], size=B)
    return params, x, y


def test_mlp_forward_is_the_composition_of_layers(rng):
    params, x, _ = small_problem(rng)
    scores, _ = mlp_forward(params, x)
    np.testing.assert_allclose(scores, manual_mlp(params, x), rtol=1e-12)
    np.testing.assert_array_equal(predict(params, x), manual_mlp(params, x).argmax(axis=1))
    assert predict(params, x).dtype == np.int64
    assert accuracy(params, x, manual_mlp(params, x).argmax(axis=1)) == 1.0
    one_off = (manual_mlp(params, x).argmax(axis=1) + np.eye(len(x), dtype=int)[0]) % 3
    assert accuracy(params, x, one_off) == pytest.approx(1 - 1 / len(x))


@pytest.mark.parametrize("sizes", [(4, 3), (4, 5, 3), (4, 5, 6, 3)])
def test_mlp_gradient_matches_finite_differences(rng, sizes):
    params, x, y = small_problem(rng, sizes)
    loss, grads = mlp_loss_and_grad(params, x, y)
    assert np.isclose(loss, direct_cross_entropy(manual_mlp(params, x), y), rtol=1e-12)
    assert list(grads) == list(params)
    for key, theta in params.items():
        assert grads[key].shape == theta.shape and grads[key].dtype == np.float64

        def E(v, key=key):
            return direct_cross_entropy(manual_mlp({**params, key: v}, x), y)

        assert_grad_close(grads[key], fd_grad(E, theta), tol=1e-6)


def test_mlp_backward_from_forward_cache(rng):
    params, x, y = small_problem(rng)
    scores, cache = mlp_forward(params, x)
    _, dscores = softmax_cross_entropy(scores, y)
    grads = mlp_backward(dscores, cache)
    _, expected = mlp_loss_and_grad(params, x, y)
    for key in params:
        np.testing.assert_array_equal(grads[key], expected[key])
    with pytest.raises(ValueError, match=r"dscores must have shape \(7, 3\), got \(7, 4\)"):
        mlp_backward(np.ones((7, 4)), cache)


def test_mlp_float32_end_to_end(rng):
    params, x, y = small_problem(rng)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    loss32, g32 = mlp_loss_and_grad(p32, x, y)           # float64 x is converted to the params' dtype
    assert loss32.dtype == np.float32
    assert all(g32[k].dtype == np.float32 and g32[k].shape == params[k].shape for k in params)
    assert mlp_forward(p32, x)[0].dtype == np.float32
    loss64, g64 = mlp_loss_and_grad(params, x, y)
    assert np.isclose(loss32, loss64, rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)


def test_mlp_relu_prime_at_zero_reaches_the_first_layer(rng):
    # x = 0 and b1 = 0 put every first-layer pre-activation exactly at the kink of ReLU
    params = init_mlp([3, 4, 2], rng)
    x, y = np.zeros((5, 3)), np.array([0, 1, 1, 0, 1])
    scores = np.zeros((5, 2)) + params["b2"]            # the hidden layer outputs ReLU(0) = 0
    dscores = (np.exp(scores) / np.exp(scores).sum(1, keepdims=True) - np.eye(2)[y]) / 5
    for r in (0.0, 0.3, 1.0):
        _, grads = mlp_loss_and_grad(params, x, y, relu_prime_at_zero=r)
        np.testing.assert_allclose(grads["b1"], r * (dscores @ params["W2"].T).sum(axis=0), atol=1e-15)
        np.testing.assert_array_equal(grads["W2"], 0.0)
    _, cache = mlp_forward(params, x)
    np.testing.assert_allclose(mlp_backward(dscores, cache, relu_prime_at_zero=1.0)["b1"],
                               (dscores @ params["W2"].T).sum(axis=0), atol=1e-15)


def test_mlp_errors(rng):
    params = init_mlp([4, 5, 3], rng)
    x, y = np.ones((2, 4)), np.array([0, 2])
    with pytest.raises(ValueError, match=r"x must have shape \(any, 4\) to match the weights, got \(2, 5\)"):
        mlp_loss_and_grad(params, np.ones((2, 5)), y)
    with pytest.raises(ValueError, match=r"use x\[None, :\]"):
        mlp_forward(params, np.ones(4))
    with pytest.raises(IndexError, match=r"y must lie in 0..2"):
        mlp_loss_and_grad(params, x, np.array([0, 3]))
    with pytest.raises(KeyError, match="params must have keys W1, b1, ..., WL, bL"):
        mlp_forward({"W1": params["W1"]}, x)
    with pytest.raises(TypeError, match="all params must share one dtype: W1 is float64, b2 is float32"):
        mlp_forward({**params, "b2": params["b2"].astype(np.float32)}, x)
    with pytest.raises(ValueError, match=r"params\['b1'\] must have shape \(5,\) to match W1"):
        mlp_forward({**params, "b1": np.zeros(4)}, x)
    with pytest.raises(ValueError, match="params\\['W2'\\] has 6 rows but W1 has 5 columns"):
        mlp_forward({**params, "W2": np.zeros((6, 3))}, x)
    with pytest.raises(TypeError, match="params must be a dict"):
        mlp_forward([params["W1"], params["b1"]], x)
    with pytest.raises(ValueError, match=r"relu_prime_at_zero must be a number in \[0, 1\]"):
        mlp_loss_and_grad(params, x, y, relu_prime_at_zero=-1)
    with pytest.raises(ValueError, match="sizes must list at least the input and output widths"):
        init_mlp([64], rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init_mlp([4, 3], 0)
    with pytest.raises(TypeError, match="dtype must be a floating-point type"):
        init_mlp([4, 3], rng, dtype=int)
