"""course.relu_prime: the ReLU'(0) experiment, on exact zeros and against the experiment written out again."""

import numpy as np
import pytest

from course import relu_prime


# ====================================================================== does ReLU'(0) matter?

def test_zero_preactivations_and_backprop_differs_on_an_exact_zero():
    from course.nn import init_mlp
    params = init_mlp([3, 4, 2], np.random.default_rng(0))
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])        # the first example has z = b = 0 exactly
    y = np.array([0, 1])
    assert relu_prime.zero_preactivations(params, x) == 4
    assert relu_prime.backprop_differs(params, x, y)
    assert not relu_prime.backprop_differs(params, x[1:], y[1:])
    assert relu_prime.relative_drift(params, params) == 0.0


def test_relu_prime_runs_in_float64_never_differ():
    res = relu_prime.relu_prime_runs(np.float64, 1.0, steps=60)
    assert not res["differs"].any() and not res["zeros"].any()
    assert np.all(res["drift"] == 0.0)
    np.testing.assert_array_equal(res["loss_a"], res["loss_b"])


def test_relu_prime_runs_in_float16_differ_and_then_drift():
    res = relu_prime.relu_prime_runs(np.float16, 1.0, steps=150)
    again = relu_prime.relu_prime_runs(np.float16, 1.0, steps=150)
    np.testing.assert_array_equal(res["drift"], again["drift"])          # seeded: reproducible
    assert res["differs"].any(), "float16 should hit an exact zero pre-activation within 150 steps"
    first = int(np.argmax(res["differs"]))
    assert np.all(res["zeros"][res["differs"]] > 0)                       # a difference needs an exact zero
    assert np.all(res["drift"][:first] == 0.0) and res["drift"][first] > 0
    assert set(res) >= {"differs", "zeros", "drift", "loss_a", "loss_b", "test_accuracy"}
    with pytest.raises(ValueError):
        relu_prime.relu_prime_runs(np.int32, 1.0, steps=5)


def _two_runs_written_out(dtype, r, steps, sizes=(64, 32, 32, 10), tau=0.1, seed=0, batch_size=32):
    """relu_prime_runs' experiment, a second time: both runs stepped with nn.mlp_loss_and_grad, the
    exact zeros counted on pre-activations computed here, the accuracy as argmax against the labels."""
    from course.data import epoch_minibatches, load_digits
    from course.nn import init_mlp, mlp_loss_and_grad
    X, y, X_test, y_test = load_digits(dtype=dtype)
    params = {"a": init_mlp(list(sizes), np.random.default_rng(seed), dtype=dtype)}
    params["b"] = dict(params["a"])
    rng, tau, rows = np.random.default_rng(seed + 1), np.dtype(dtype).type(tau), []
    while len(rows) < steps:
        for idx in epoch_minibatches(len(X), batch_size, rng):
            if len(rows) == steps:
                break
            h, zeros = X[idx], 0
            for i in range(1, len(sizes) - 1):
                z = h @ params["a"][f"W{i}"] + params["a"][f"b{i}"]
                zeros, h = zeros + int(np.sum(z == 0)), np.maximum(z, 0)
            loss_a, grads_a = mlp_loss_and_grad(params["a"], X[idx], y[idx], 0.0)
            _, grads_r = mlp_loss_and_grad(params["a"], X[idx], y[idx], r)
            loss_b, grads_b = mlp_loss_and_grad(params["b"], X[idx], y[idx], r)
            differs = any((grads_a[k] != grads_r[k]).any() for k in grads_a)
            for run, grads in (("a", grads_a), ("b", grads_b)):
                params[run] = {k: params[run][k] - tau * grads[k] for k in params[run]}
            a, b = (np.concatenate([p.astype(np.float64).ravel() for p in params[run].values()]) for run in "ab")
            rows.append((differs, zeros, np.linalg.norm(a - b) / np.linalg.norm(a), loss_a, loss_b))
    accuracy = []
    for run in "ab":
        h = X_test
        for i in range(1, len(sizes)):
            h = h @ params[run][f"W{i}"] + params[run][f"b{i}"]
            h = np.maximum(h, 0) if i < len(sizes) - 1 else h
        accuracy.append(float(np.mean(h.argmax(axis=1) == y_test)))
    return rows, tuple(accuracy)


@pytest.mark.parametrize("dtype,r,steps", [(np.float16, 1.0, 40), (np.float32, 0.5, 30)])
def test_relu_prime_runs_is_the_experiment_written_out(dtype, r, steps):
    res = relu_prime.relu_prime_runs(dtype, r, steps=steps)
    rows, accuracy = _two_runs_written_out(dtype, r, steps)
    differs, zeros, drift, loss_a, loss_b = (np.array(column) for column in zip(*rows))
    np.testing.assert_array_equal(res["differs"], differs)
    np.testing.assert_array_equal(res["zeros"], zeros)
    np.testing.assert_allclose(res["drift"], drift, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(res["loss_a"], loss_a)
    np.testing.assert_array_equal(res["loss_b"], loss_b)
    assert res["test_accuracy"] == accuracy
    assert dtype != np.float16 or (differs.any() and drift[-1] > 0)   # the float16 case does part
