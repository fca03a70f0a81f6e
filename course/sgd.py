"""Plain SGD on a finite sum, recording the whole trajectory.

    theta(k+1) = theta(k) - tau(k) grad E_k(theta(k)),    k = 1, 2, ..., K

where grad E_k is the gradient of the summands in the randomly drawn index set I(k). The draw of
I(k) is separated from the iteration: ``sample_indices`` draws them with a ``numpy.random.Generator``,
``sgd_iterates`` consumes them. So the same indices replay the same run, and many independent runs
are one array operation (a leading axis of ``indices`` is the step k, the others are runs).
"""

from __future__ import annotations

import numpy as np

from . import optim
from .validate import as_float_array, check_rng, positive_int


def sample_indices(n, num_steps, rng, runs=None):
    """Draw I(1), ..., I(K) uniformly from {0, ..., n-1}, one index per step (with replacement).

    Returns an int array of shape (K,) or, with ``runs=R``, (K, R): one column per independent run.
    """
    n = positive_int(n, "n")
    num_steps = positive_int(num_steps, "num_steps", minimum=0)
    check_rng(rng)
    shape = (num_steps,) if runs is None else (num_steps, positive_int(runs, "runs"))
    return rng.integers(0, n, size=shape)


def sgd_iterates(sample_grad, theta1, schedule, indices):
    """Run theta(k+1) = theta(k) - tau(k) * sample_grad(theta(k), indices[k-1]) for k = 1..K: the steps of
    ``course.optim.sgd(schedule)``, recorded.

    ``theta1`` is the starting point theta(1), a float or an array of R independent runs;
    ``indices[k-1]`` is the index set I(k) handed to ``sample_grad`` as it is: an array of shape (K,) or
    (K, R), or any sequence of K index sets (minibatches of different sizes, say). Returns all iterates
    theta(1), ..., theta(K+1) stacked along a new first axis: shape (K+1,) + theta1's shape.
    """
    theta = as_float_array(theta1, "theta1")
    if not hasattr(indices, "__len__") or getattr(indices, "ndim", 1) == 0:
        raise ValueError("indices must have one entry per step, shape (K,) or (K, runs)")
    sgd = optim.sgd(schedule)
    state, thetas = sgd.init(theta), [theta]
    for idx in indices:                                   # I(1), ..., I(K); the state counts k
        updates, state = sgd.update(sample_grad(theta, idx), state, theta)
        theta = optim.apply_updates(theta, updates)        # theta(k) - tau(k) grad
        thetas.append(theta)
    return np.stack(thetas)


def loglog_slope(k, values):
    """Least-squares slope p of log(values) = p log(k) + c: values ~ k^p (e.g. p = -1/2 for O(1/sqrt k))."""
    k = as_float_array(k, "k", ndim=1)
    values = as_float_array(values, "values", shape=(k.shape[0],))
    if k.shape[0] < 2:
        raise ValueError("a slope needs at least two points")
    if np.any(k <= 0) or np.any(values <= 0):
        raise ValueError("k and values must be positive to take logarithms")
    slope, _ = np.polyfit(np.log(k), np.log(values), 1)
    return float(slope)
