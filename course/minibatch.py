"""Gradient descent vs SGD on a finite sum: full and minibatch gradients, their cost, bias and variance.

The lecture trains by minimising a sum over the N training examples,

    E(theta) = sum_{j=1}^N f_j(theta),      f_j(theta) = L(N(x_j; theta), y_j),

here for least squares, f_j(theta) = 1/2 (x_j . theta - y_j)^2, so that grad f_j(theta) = (x_j . theta - y_j) x_j.

Scaling. The lecture's minibatch gradient is the plain sum over the index set I(k),

    grad E_k(theta) = sum_{j in I(k)} grad f_j(theta),

whose expectation over a uniformly drawn I(k) is (|I(k)| / N) grad E(theta): it points the right way
on average but is |I(k)| / N times too short. Multiplying by N / |I(k)| gives the *unbiased* estimate

    g_I(theta) = N / |I(k)| * sum_{j in I(k)} grad f_j(theta),      E[g_I(theta)] = grad E(theta).

The two differ only by a factor, so SGD with the lecture's sum and step tau is SGD with the unbiased
estimate and step tau |I(k)| / N. Cost: grad E touches all N summands, g_I only |I(k)| of them.

Variance. For B indices drawn uniformly *with* replacement,

    E ||g_I - grad E||^2 = N^2 / B * s^2,     s^2 = 1/N sum_j ||grad f_j - grad E / N||^2,

and for B distinct indices (a chunk of a shuffled epoch) the finite-population factor (N - B)/(N - 1)
multiplies it (zero at B = N: then g_I is the full gradient).

Everything random takes a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from .problems import least_squares_grad, least_squares_inputs
from .sgd import sgd_iterates
from .validate import as_float_array, check_rng, positive_int

__all__ = [
    "per_sample_gradients",
    "full_gradient",
    "minibatch_gradient",
    "descent",
    "descent_fraction",
    "bias_variance",
    "minibatch_variance",
    "sample_minibatch_gradients",
    "gd_vs_sgd_runs",
]


def per_sample_gradients(theta, X, y):
    """The N gradients of the summands as the rows of an (N, d) array:

        G[j] = grad f_j(theta) = (x_j . theta - y_j) x_j.
    """
    theta, X, y = least_squares_inputs(theta, X, y)
    return (X @ theta - y)[:, None] * X


def full_gradient(theta, X, y):
    """grad E(theta) = sum_{j=1}^N (x_j . theta - y_j) x_j = X^T (X theta - y), shape (d,).

    The lecture's E is the plain sum over all N examples (not the mean), so this costs N summands.
    """
    return least_squares_grad(theta, X, y)


def minibatch_gradient(theta, X, y, idx, unbiased=False):
    """The gradient of the summands in the index set I(k) = ``idx``, shape (d,):

        grad E_k(theta) = sum_{j in I(k)} (x_j . theta - y_j) x_j                 (unbiased=False, the lecture's E_k)
        g_I(theta)      = N / |I(k)| * sum_{j in I(k)} (x_j . theta - y_j) x_j    (unbiased=True)

    A repeated index (sampling with replacement) counts every time it occurs. Only the |I(k)| rows
    of X in the batch are touched.
    """
    g = least_squares_grad(theta, X, y, idx)
    return g * (np.shape(X)[0] / np.size(idx)) if unbiased else g


def descent(grad, theta1, schedule, batches):
    """Gradient steps on index sets, counting the summands they cost:

        theta(k+1) = theta(k) - tau(k) * grad(theta(k), I(k)),     I(k) = batches[k-1],  k = 1, ..., K.

    GD is the case I(k) = {0, ..., N-1} for every k; SGD draws small random I(k).
    Returns ``(thetas, work)``: thetas has shape (K+1,) + theta1's shape (theta(1) = theta1 first);
    work[i] = |I(1)| + ... + |I(i)| is the number of summand gradients used to reach theta(i+1)
    (int64, shape (K+1,), work[0] = 0). The steps are those of ``course.sgd.sgd_iterates``.
    """
    thetas = sgd_iterates(grad, theta1, schedule, batches)
    work = np.cumsum([0] + [np.size(batches[k]) for k in range(len(batches))], dtype=np.int64)
    return thetas, work


def descent_fraction(theta, X, y):
    """The fraction of summands whose gradient is a descent direction for E at theta:

        p(theta) = #{ j : <grad f_j(theta), grad E(theta)> > 0 } / N      (strictly positive).

    Far from the minimiser nearly every single-example step goes downhill (p close to 1); close to
    it many point uphill. Returns a float in [0, 1].
    """
    G = per_sample_gradients(theta, X, y)
    return float(np.mean(G @ G.sum(axis=0) > 0))


def bias_variance(estimates, true_grad):
    """Measured bias and variance of R gradient estimates (the rows of ``estimates``, shape (R, d)):

        bias     = mean_r g_r - grad E                                 (shape (d,))
        variance = 1/(R-1) sum_r || g_r - mean_r g_r ||^2               (a float: the trace of the
                                                                         sample covariance)
    """
    estimates = as_float_array(estimates, "estimates", ndim=2)
    true_grad = as_float_array(true_grad, "true_grad", shape=(estimates.shape[1],))
    if estimates.shape[0] < 2:
        raise ValueError("a variance needs at least two estimates (rows)")
    mean = estimates.mean(axis=0)
    variance = float(np.sum((estimates - mean) ** 2) / (estimates.shape[0] - 1))
    return mean - true_grad, variance


def minibatch_variance(theta, X, y, batch_size, replace=True):
    """E || g_I(theta) - grad E(theta) ||^2 for the unbiased minibatch gradient g_I of ``batch_size`` B:

        with replacement:      N^2 / B * s^2
        without replacement:   N^2 / B * s^2 * (N - B) / (N - 1)
        s^2 = 1/N sum_j || grad f_j(theta) - grad E(theta) / N ||^2

    It falls like 1/B; without replacement it is 0 at B = N (the full gradient).
    """
    theta, X, y = least_squares_inputs(theta, X, y)
    n = X.shape[0]
    batch_size = positive_int(batch_size, "batch_size")
    if not replace and batch_size > n:
        raise ValueError(f"without replacement a batch holds at most N = {n} indices, got {batch_size}")
    G = per_sample_gradients(theta, X, y)
    s2 = float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))
    var = n ** 2 / batch_size * s2
    if not replace:
        var *= (n - batch_size) / (n - 1) if n > 1 else 0.0
    return var


def sample_minibatch_gradients(theta, X, y, batch_size, num, rng, replace=True):
    """``num`` independent unbiased minibatch gradients g_I(theta) as the rows of a (num, d) array.

    Each I is ``batch_size`` indices drawn uniformly with replacement, or a uniformly random subset
    (``replace=False``, as a chunk of a shuffled epoch is).
    """
    theta, X, y = least_squares_inputs(theta, X, y)
    n = X.shape[0]
    batch_size, num = positive_int(batch_size, "batch_size"), positive_int(num, "num")
    check_rng(rng)
    if replace:
        idx = rng.integers(0, n, size=(num, batch_size))
    else:
        idx = np.argsort(rng.random((num, n)), axis=1)[:, :batch_size]
    G = per_sample_gradients(theta, X, y)
    return G[idx].sum(axis=1) * (n / batch_size)


def gd_vs_sgd_runs(X, y, descent_fn, grad_fn, batch_size, tau, theta1, *, epochs=20, runs=5, seed=0):
    """GD and ``runs`` SGD runs with the same step size ``tau`` and the same work (``epochs`` * N summand
    gradients each). ``descent_fn(grad_fn, theta1, schedule, batches) -> (thetas, work)``.
    Returns {"GD": (thetas, work), "SGD": [(thetas, work), ...]}."""
    n = len(y)
    rng = np.random.default_rng(seed)
    steps = max(1, epochs * n // batch_size)
    with np.errstate(all="ignore"):
        out = {"GD": descent_fn(grad_fn, theta1, lambda k: tau, [np.arange(n)] * epochs)}
        out["SGD"] = [descent_fn(grad_fn, theta1, lambda k: tau, rng.integers(0, n, size=(steps, batch_size)))
                      for _ in range(runs)]
    return out
