"""Does ReLU'(0) matter? Two trainings that differ only in ReLU'(0), in float16, float32 and float64.

Backpropagation depends on the value chosen for ReLU'(0) only where a hidden pre-activation is exactly
0, a set of measure zero: in exact arithmetic two trainings with different ReLU'(0) would be identical
with probability 1. In floating point such zeros do occur, more often the fewer bits there are; at the
first one the runs part, and then they drift (after Bertoin, Bolte, Gerchinovitz and Pauwels, "Numerical
influence of ReLU'(0) on backpropagation", NeurIPS 2021). The experiment trains the lecture's small MLP
(``course.nn``) on the digits (``course.data.load_digits``):

- ``zero_preactivations``, ``backprop_differs``: where ReLU'(0) enters backprop, and whether it changes it;
- ``relu_prime_runs``: the two runs, step by step, in one precision; ``relative_drift`` measures how far apart;
- ``relu_prime_table``: every precision and ReLU'(0) of ``RELU_PRIME_DTYPES`` and ``RELU_PRIME_CHOICES``
  (what the notebook's explorer shows), with ``same_as_run_a`` for the runs that need no training.

Everything random takes a seed. Nothing here imports autograder code.
"""

from __future__ import annotations

import numpy as np

from course.data import epoch_minibatches, load_digits
from course.nn import (accuracy, check_relu_prime, init_mlp, mlp_backward, mlp_forward, mlp_loss_and_grad,
                       softmax_cross_entropy)
from course.validate import positive_int

__all__ = [
    "zero_preactivations", "backprop_differs", "relative_drift", "relu_prime_runs",
    "RELU_PRIME_CHOICES", "RELU_PRIME_DTYPES", "same_as_run_a", "relu_prime_table",
]


def zero_preactivations(params, x):
    """How many hidden pre-activations z = h W + b of the network N(x; theta) are exactly 0.

    Only there does ReLU'(0) enter backpropagation: with no exact zero in the batch, the gradient is
    the same for every choice of ReLU'(0) in [0, 1]. Computed in the params' dtype, as training does.
    """
    _, caches = mlp_forward(params, x)
    return int(sum(np.count_nonzero(z == 0) for _, z in caches if z is not None))


def backprop_differs(params, x, y, relu_prime_a=0.0, relu_prime_b=1.0):
    """True if backpropagation gives different gradients (in any entry) for the two values of ReLU'(0)."""
    _, ga = mlp_loss_and_grad(params, x, y, relu_prime_a)
    _, gb = mlp_loss_and_grad(params, x, y, relu_prime_b)
    return _differ(ga, gb)


def _differ(grads_a, grads_b):
    """True if two gradients (dicts of arrays with the same keys) differ in any entry."""
    return any(not np.array_equal(grads_a[key], grads_b[key]) for key in grads_a)


def relative_drift(params_a, params_b):
    """||theta_A - theta_B|| / ||theta_A||, over all entries of all layers, computed in float64."""
    diff = sum(np.sum((params_a[k].astype(np.float64) - params_b[k].astype(np.float64)) ** 2) for k in params_a)
    norm = sum(np.sum(params_a[k].astype(np.float64) ** 2) for k in params_a)
    return float(np.sqrt(diff / norm)) if norm > 0 else float(np.sqrt(diff))


def relu_prime_runs(dtype, relu_prime_at_zero=1.0, *, steps=300, batch_size=32, sizes=(64, 32, 32, 10),
                    tau=0.1, seed=0):
    """Two SGD trainings on the digits that differ only in ReLU'(0), in precision ``dtype``.

    Run A uses ReLU'(0) = 0 (PyTorch's and TensorFlow's choice), run B uses ReLU'(0) =
    ``relu_prime_at_zero``. Both start from the same network (He initialization with ``seed``,
    rounded to ``dtype``) and see the same minibatches (shuffled once per epoch with ``seed`` + 1);
    both take plain SGD steps theta(k+1) = theta(k) - tau grad E_k(theta(k)) in ``dtype``.

    In exact arithmetic both runs would be identical with probability 1: backprop depends on ReLU'(0)
    only where a pre-activation is exactly 0, a set of measure zero. In floating point such zeros
    do occur, more often the fewer bits there are; at the first one the runs part, and then they drift.

    Returns a dict of arrays over the steps k = 1..steps:
      "differs"  bool:   backprop at theta_A(k) on minibatch k differs between ReLU'(0) = 0 and the other value
      "zeros"    int:    hidden pre-activations exactly 0 at theta_A(k) on minibatch k
      "drift"    float:  ||theta_A(k+1) - theta_B(k+1)|| / ||theta_A(k+1)|| after step k
      "loss_a", "loss_b" float: the minibatch losses E_k of both runs
    and "test_accuracy": (accuracy of A, accuracy of B) on the held-out digits after training.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise ValueError(f"dtype must be float16, float32 or float64, got {dtype}")
    r = check_relu_prime(relu_prime_at_zero)
    steps = positive_int(steps, "steps")
    X, y, X_test, y_test = load_digits(dtype=dtype)
    params_a = init_mlp(list(sizes), np.random.default_rng(seed), dtype=dtype)
    params_b = dict(params_a)
    rng = np.random.default_rng(seed + 1)
    tau = dtype.type(tau)
    out = {"differs": np.zeros(steps, bool), "zeros": np.zeros(steps, np.int64),
           "drift": np.zeros(steps), "loss_a": np.zeros(steps), "loss_b": np.zeros(steps)}
    k = 0
    while k < steps:
        for idx in epoch_minibatches(len(X), batch_size, rng):
            if k == steps:
                break
            xb, yb = X[idx], y[idx]
            # run A: one forward pass, backpropagated with ReLU'(0) = 0 (its step) and = r (for comparison)
            scores, caches = mlp_forward(params_a, xb)
            loss_a, dscores = softmax_cross_entropy(scores, yb)
            grads_a = mlp_backward(dscores, caches, 0.0)
            out["differs"][k] = _differ(grads_a, mlp_backward(dscores, caches, r))
            out["zeros"][k] = zero_preactivations(params_a, xb)
            loss_b, grads_b = mlp_loss_and_grad(params_b, xb, yb, r)
            params_a = {key: params_a[key] - tau * grads_a[key] for key in params_a}
            params_b = {key: params_b[key] - tau * grads_b[key] for key in params_b}
            out["drift"][k] = relative_drift(params_a, params_b)
            out["loss_a"][k], out["loss_b"][k] = loss_a, loss_b
            k += 1
    out["test_accuracy"] = (accuracy(params_a, X_test, y_test), accuracy(params_b, X_test, y_test))
    return out


RELU_PRIME_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)
RELU_PRIME_DTYPES = ("float16", "float32", "float64")


def same_as_run_a(res):
    """The result ``relu_prime_runs`` gives with ReLU'(0) = 0 for run B, from its result
    for any other ReLU'(0) in the same precision: then B is A (same start, same minibatches, same
    backprop), so backprop never differs, the drift is 0 and B's losses and accuracy are A's."""
    acc_a = res["test_accuracy"][0]
    return {"differs": np.zeros_like(res["differs"]), "zeros": res["zeros"], "drift": np.zeros_like(res["drift"]),
            "loss_a": res["loss_a"], "loss_b": res["loss_a"], "test_accuracy": (acc_a, acc_a)}


def relu_prime_table(runs_fn=None, steps=300, computed=None, dtypes=RELU_PRIME_DTYPES,
                     choices=RELU_PRIME_CHOICES):
    """Results of ``relu_prime_runs`` (or ``runs_fn``) for every precision in ``dtypes``
    and ReLU'(0) of run B in ``choices``, as {(dtype name, ReLU'(0)): result}; ``computed`` holds some
    already. With the reference, two shortcuts give exactly what a run would:

    - ReLU'(0) = 0 for B makes B = A (``same_as_run_a``);
    - when no hidden pre-activation of run A was ever exactly 0 (``zeros`` all 0), ReLU'(0) never entered
      backprop, so B = A for every ReLU'(0): all choices give that same result.

    With a ``runs_fn`` of your own, every setting is computed by it."""
    table = {(str(d), float(r)): res for (d, r), res in (computed or {}).items()}
    run = runs_fn or relu_prime_runs
    for dtype in dtypes:
        for r in sorted(choices, key=lambda r: r != 1.0):      # ReLU'(0) = 1 first: it decides the shortcuts
            if (dtype, r) in table:
                continue
            known = [res for (d, _), res in table.items() if d == dtype]
            if runs_fn is None and known and r == 0.0:
                table[dtype, r] = same_as_run_a(known[0])
            elif runs_fn is None and known and not np.any(known[0]["zeros"]):
                table[dtype, r] = known[0]
            else:
                table[dtype, r] = run(np.dtype(dtype), r, steps=steps)
    return table
