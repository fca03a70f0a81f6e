"""Finite sums E(theta) = sum_j f_j(theta): the lecture's sanity check and friends.

The lecture trains by minimising a sum over training examples,

    E(theta) = sum_j L(N(x_j; theta), y_j),

and SGD replaces it by the sum over a small index set I(k) (a *minibatch*),

    E_k(theta) = sum_{j in I(k)} f_j(theta).

We keep the lecture's scaling: the minibatch gradient is the plain sum over I(k). Drawn uniformly,
its expectation is (|I(k)| / N) * grad E(theta), the full gradient scaled by the batch fraction;
multiply by N / |I(k)| for an unbiased estimate of grad E itself.

The sanity-check problem of the lecture is

    E(theta) = 1/2 (theta - 1)^2 + 1/2 (theta + 1)^2 = theta^2 + 1,

a sum of N = 2 terms f_j(theta) = 1/2 (theta - a_j)^2 with a = (1, -1). Its minimiser is theta* = 0,
but the per-sample gradients theta - 1 and theta + 1 have opposite signs for every theta in (-1, 1):
close to the minimiser a single-sample gradient may point the wrong way.
"""

from __future__ import annotations

import numpy as np

from .validate import as_float_array, as_index_array, check_rng, positive_float, positive_int

SANITY_CHECK_A = np.array([1.0, -1.0])
"""Centres a_j of the sanity-check problem E(theta) = sum_j 1/2 (theta - a_j)^2."""


def _theta_scalar_or_array(theta):
    return as_float_array(theta, "theta")


def sanity_check_loss(theta):
    """E(theta) = 1/2 (theta - 1)^2 + 1/2 (theta + 1)^2 (elementwise for an array of thetas)."""
    theta = _theta_scalar_or_array(theta)
    return 0.5 * (theta - 1.0) ** 2 + 0.5 * (theta + 1.0) ** 2


def sanity_check_grad(theta):
    """Full gradient grad E(theta) = (theta - 1) + (theta + 1) = 2 theta."""
    theta = _theta_scalar_or_array(theta)
    return 2.0 * theta


def sanity_check_sample_grad(theta, j):
    """Gradient of the single summand f_j(theta) = 1/2 (theta - a_j)^2, that is theta - a_j.

    ``j`` is 0 (a_0 = +1) or 1 (a_1 = -1); ``theta`` and ``j`` broadcast, so many runs can take a step
    at once.
    """
    theta = _theta_scalar_or_array(theta)
    j = np.asarray(j)
    if not np.issubdtype(j.dtype, np.integer):
        raise TypeError(f"j must be an integer index (0 or 1), got dtype {j.dtype}")
    if j.size and (j.min() < 0 or j.max() > 1):
        raise IndexError(f"the sanity-check problem has two summands, j must be 0 or 1, got {j}")
    return theta - SANITY_CHECK_A[j]


def sanity_check_minibatch_grad(theta, idx):
    """grad E_k(theta) = sum_{j in I(k)} (theta - a_j) for a scalar theta and an index set I(k).

    Indices may repeat (sampling with replacement); each occurrence counts once.
    """
    theta = as_float_array(theta, "theta", ndim=0)
    idx = as_index_array(idx, "idx", len(SANITY_CHECK_A))
    return np.sum(theta - SANITY_CHECK_A[idx])


def least_squares_loss(theta, X, y):
    """E(theta) = sum_j 1/2 (x_j . theta - y_j)^2 for the rows x_j of X."""
    theta, X, y = least_squares_inputs(theta, X, y)
    r = X @ theta - y
    return 0.5 * float(r @ r)


def least_squares_grad(theta, X, y, idx=None):
    """grad E_k(theta) = sum_{j in I(k)} (x_j . theta - y_j) x_j; all j when ``idx`` is None."""
    theta, X, y = least_squares_inputs(theta, X, y)
    if idx is not None:
        idx = as_index_array(idx, "idx", X.shape[0])
        X, y = X[idx], y[idx]
    return X.T @ (X @ theta - y)


def least_squares_solution(X, y):
    """The minimiser theta* of sum_j 1/2 (x_j . theta - y_j)^2 (least-squares solution)."""
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", shape=(X.shape[0],))
    return np.linalg.lstsq(X, y, rcond=None)[0]


def least_squares_inputs(theta, X, y):
    """The checked inputs of a least-squares sum: X (N, d), theta (d,), y (N,) as float arrays, or an
    error that says which one has the wrong shape."""
    X = as_float_array(X, "X", ndim=2)
    theta = as_float_array(theta, "theta", shape=(X.shape[1],))
    y = as_float_array(y, "y", shape=(X.shape[0],))
    return theta, X, y


def least_squares_data(n, d, rng, *, noise=0.1, scales=None):
    """A random least-squares finite sum: rows x_j ~ N(0, diag(scales)^2), y_j = x_j . theta_true + noise * eps_j.

    theta_true ~ N(0, I_d) and eps_j ~ N(0, 1), all drawn from ``rng`` (a numpy.random.Generator).
    ``scales`` (length d, default all ones) stretches the columns, making E(theta) ill-conditioned.
    With noise > 0 no single theta fits every example: the per-sample gradients do not all vanish at
    the minimiser. Returns (X, y) of shapes (n, d) and (n,).
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    noise = positive_float(noise, "noise", allow_zero=True)
    check_rng(rng)
    scales = np.ones(d) if scales is None else as_float_array(scales, "scales", shape=(d,))
    X = rng.standard_normal((n, d)) * scales
    theta_true = rng.standard_normal(d)
    return X, X @ theta_true + noise * rng.standard_normal(n)


def sanity_check_runs_grad(theta, j):
    """grad f_j(theta) = theta - a_j of the sanity-check problem for parameter vectors of length 1:
    theta of shape (1,) with an int j (one run), or theta of shape (R, 1) with j of shape (R,) (one
    index per run). Returns an array of theta's shape."""
    theta = as_float_array(theta, "theta")
    j = np.asarray(j)
    if theta.ndim == 0 or theta.shape[-1] != 1 or j.shape != theta.shape[:-1]:
        raise ValueError(f"theta must have shape (1,) or (R, 1) and j shape () or (R,), got {theta.shape} "
                         f"and {j.shape}")
    return theta - SANITY_CHECK_A[j][..., None]


def least_squares_runs_grad(X, y):
    """The lecture's minibatch gradient sum_{j in I} (x_j . theta - y_j) x_j as a function grad(theta, idx),
    for one run (theta (d,), idx (B,)) or R runs at once (theta (R, d), idx (R, B): a batch per run)."""
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", shape=(X.shape[0],))

    def grad(theta, idx):
        Xb = X[idx]                                    # (B, d) or (R, B, d)
        r = np.einsum("...bd,...d->...b", Xb, theta) - y[idx]
        return np.einsum("...b,...bd->...d", r, Xb)

    return grad


# ------------------------------------------------------------------ beyond strong convexity
# The lecture's rates: O(1/sqrt(k)) for convex E; Lipschitz grad E does not improve it; strong
# convexity gives no linear rate; for non-convex E only E||grad E(theta(k))||^2 -> 0. The finite sums
# below are one-dimensional, so that step_sizes can measure each statement with many runs at once.

ABS_SUM_A = np.array([-1.0, 0.0, 1.0])
"""Points a_j of the convex, not strongly convex finite sum E(theta) = sum_j |theta - a_j|."""


def _centres(a):
    a = as_float_array(a, "a", ndim=1)
    if a.size == 0:
        raise ValueError("a must hold at least one point a_j")
    return a


def _sample_index(j, n):
    j = np.asarray(j)
    if not np.issubdtype(j.dtype, np.integer):
        raise TypeError(f"j must be an integer index, got dtype {j.dtype}")
    if j.size and (j.min() < 0 or j.max() >= n):
        raise IndexError(f"the finite sum has {n} summands, j must be in 0..{n - 1}, got {j}")
    return j


def abs_sum_loss(theta, a=ABS_SUM_A):
    """E(theta) = sum_j |theta - a_j| (elementwise for an array of thetas).

    Convex and Lipschitz (constant N), but not strongly convex and not differentiable at the a_j: its
    minimisers are the medians of a, min E = sum_j |median(a) - a_j| (for a = (-1, 0, 1): theta* = 0,
    min E = 2, and E(theta) - min E = |theta| for |theta| <= 1).
    """
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.sum(np.abs(theta[..., None] - a), axis=-1)


def abs_sum_sample_subgradient(theta, j, a=ABS_SUM_A):
    """sign(theta - a_j): a subgradient of the summand f_j(theta) = |theta - a_j| (0 at its kink, as
    np.sign). ``theta`` and ``j`` broadcast, so many runs can take a step at once."""
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.sign(theta - a[_sample_index(j, a.size)])


def huber(t, delta):
    """The Huber function h(t) = t^2 / (2 delta) for |t| <= delta and |t| - delta / 2 otherwise:
    |t| with its kink rounded off, convex, with a 1/delta-Lipschitz derivative clip(t / delta, -1, 1)."""
    t = _theta_scalar_or_array(t)
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta}")
    return np.where(np.abs(t) <= delta, t ** 2 / (2 * delta), np.abs(t) - delta / 2)


def huber_sum_loss(theta, a=ABS_SUM_A, delta=0.5):
    """E(theta) = sum_j h(theta - a_j) with the Huber function h: convex and smooth (grad E is Lipschitz,
    with constant at most N / delta; 1 / delta for the default a = (-1, 0, 1) and delta = 1/2, whose
    rounded pieces do not overlap), but far from its minimiser only as steep as sum_j |theta - a_j|."""
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.sum(huber(theta[..., None] - a, delta), axis=-1)


def huber_sum_sample_grad(theta, j, a=ABS_SUM_A, delta=0.5):
    """grad f_j(theta) = clip((theta - a_j) / delta, -1, 1) for f_j(theta) = h(theta - a_j)."""
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.clip((theta - a[_sample_index(j, a.size)]) / float(delta), -1.0, 1.0)


def cosine_sum_loss(theta, a=SANITY_CHECK_A):
    """E(theta) = sum_j (1 - cos(theta - a_j)): a smooth non-convex finite sum with infinitely many
    minimisers and maximisers. For a = (1, -1), E(theta) = 2 - 2 cos(1) cos(theta) and
    grad E(theta) = 2 cos(1) sin(theta). grad E and the derivative of ||grad E||^2 are Lipschitz (every
    derivative is bounded), the assumptions of the lecture's non-convex result."""
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.sum(1.0 - np.cos(theta[..., None] - a), axis=-1)


def cosine_sum_sample_grad(theta, j, a=SANITY_CHECK_A):
    """grad f_j(theta) = sin(theta - a_j) for f_j(theta) = 1 - cos(theta - a_j)."""
    theta, a = _theta_scalar_or_array(theta), _centres(a)
    return np.sin(theta - a[_sample_index(j, a.size)])
