"""AdaGrad as whole runs: iterates and step sizes, their sqrt(k) limit, and the step scales that work.

The lecture's AdaGrad(-Norm) chooses one step size from the gradients seen so far,

    c(k+1)     = c(k) + ||grad E_k(theta(k))||^2,        c(1) = c0 (the lecture's c(0): the start value)
    tau(k)     = eta * c(k+1)^(-1/2)
    theta(k+1) = theta(k) - tau(k) grad E_k(theta(k)),   k = 1, 2, ...

with a scale eta (the lecture has eta = 1). Diagonal AdaGrad keeps one c_i per coordinate. The
optimizers themselves are ``course.optim.adagrad_norm`` and ``course.optim.adagrad``; the functions
here run them for K steps and record every tau(k), for one run or for R independent runs at once:

- ``theta1`` of shape (d,) is one run; of shape (R, d) it is R runs, each with its own c (the norm is
  taken over the last axis only);
- ``indices[k-1]`` is handed to ``grad(theta, indices[k-1])`` as it is: the index set I(k) of the
  run (an int or a 1-D batch), or of every run (leading axis R). ``course.problems`` has such
  gradients: ``sanity_check_runs_grad`` and ``least_squares_runs_grad``.

Where the stochastic gradients do not vanish at the minimiser theta*, c(k+1) grows like k times
sigma^2 = E ||grad E_k(theta*)||^2, so tau(k) sqrt(k) -> eta / sigma: AdaGrad-Norm finds the
Robbins-Monro-like 1/sqrt(k) decay by itself.
"""

from __future__ import annotations

import numpy as np

from . import optim, problems
from .schedules import constant
from .sgd import sgd_iterates
from .validate import as_float_array, positive_float, positive_int

__all__ = [
    "adagrad_norm_run",
    "adagrad_diag_run",
    "tau_limit",
    "working_decades",
    "adagrad_runs",
    "adagrad_only_runs",
    "constant_step_runs",
]


def _run(optimizer, taus_of, grad, theta1, indices):
    theta1 = as_float_array(theta1, "theta1")
    if theta1.ndim not in (1, 2):
        raise ValueError(f"theta1 must have shape (d,) for one run or (R, d) for R runs, got {theta1.shape}")
    if theta1.ndim == 2:  # R runs: each is an independent single run with its own state
        runs = [_run(optimizer, taus_of, grad, theta1[r], [idx[r] for idx in indices])
                for r in range(theta1.shape[0])]
        return np.stack([t for t, _ in runs], axis=1), np.stack([s for _, s in runs], axis=1)
    theta, state = theta1, optimizer.init(theta1)
    thetas, taus = [theta], []
    for k in range(1, len(indices) + 1):
        updates, state = optimizer.update(grad(theta, indices[k - 1]), state, theta)
        theta = optim.apply_updates(theta, updates)
        thetas.append(theta)
        taus.append(taus_of(state))
    return np.stack(thetas), np.asarray(taus, dtype=np.float64)


def adagrad_norm_run(grad, theta1, indices, eta=1.0, c0=0.0):
    """K = len(indices) steps of AdaGrad-Norm (``course.optim.adagrad_norm``):

        c(k+1) = c(k) + ||g_k||^2,  tau(k) = eta / sqrt(c(k+1)),  theta(k+1) = theta(k) - tau(k) g_k,
        g_k = grad(theta(k), indices[k-1]),  c(1) = c0.

    Returns ``(thetas, taus)``: thetas of shape (K+1,) + theta1.shape (theta(1) first), taus of shape
    (K,) for one run and (K, R) for R runs.
    """
    opt = optim.adagrad_norm(eta, c0)
    return _run(opt, lambda state: optim.adagrad_step_size(eta, state.c), grad, theta1, indices)


def adagrad_diag_run(grad, theta1, indices, eta=1.0, c0=0.0):
    """K steps of diagonal AdaGrad (``course.optim.adagrad``): per coordinate i,

        c_i(k+1) = c_i(k) + (g_k)_i^2,  tau_i(k) = eta / sqrt(c_i(k+1)),  theta_i(k+1) = theta_i(k) - tau_i(k) (g_k)_i.

    Returns ``(thetas, taus)``, both with one entry per coordinate: shapes (K+1,) + theta1.shape and
    (K,) + theta1.shape.
    """
    opt = optim.adagrad(eta, c0)
    return _run(opt, lambda state: optim.adagrad_step_size(eta, state.c), grad, theta1, indices)


def tau_limit(eta, G, batch_size):
    """The limit of tau(k) sqrt(k) for AdaGrad-Norm with minibatches of ``batch_size`` B indices drawn
    uniformly with replacement (lecture's sum over I(k)), when theta(k) -> theta*:

        tau(k) sqrt(k) -> eta / sigma,    sigma^2 = E ||grad E_k(theta*)||^2 = B * 1/N sum_j ||G_j||^2,

    where the rows G_j = grad f_j(theta*) of G (shape (N, d)) are the per-sample gradients at the
    minimiser, which sum to zero (so the B summands of a batch are independent with mean zero).
    """
    eta = positive_float(eta, "eta")
    G = as_float_array(G, "G", ndim=2)
    batch_size = positive_int(batch_size, "batch_size")
    sigma2 = batch_size * float(np.mean(np.sum(G ** 2, axis=1)))
    return eta / np.sqrt(sigma2)


def working_decades(etas, gaps, tol):
    """How many orders of magnitude of step scales work: log10(eta_max / eta_min) over the step scales
    whose final optimality gap is at most ``tol`` (a nan or inf gap, a diverged run, never works).
    0.0 when fewer than two work.
    """
    etas = as_float_array(etas, "etas", ndim=1)
    gaps = as_float_array(gaps, "gaps", shape=etas.shape)
    tol = positive_float(tol, "tol")
    with np.errstate(invalid="ignore"):
        ok = etas[np.isfinite(gaps) & (gaps <= tol)]
    return float(np.log10(ok.max() / ok.min())) if ok.size else 0.0


# -- AdaGrad-Norm against constant-step SGD, over many runs (the adagrad notebook's explorer) -----------

def _adagrad_problem(problem, runs, steps, batch_size, seed, X=None, y=None):
    """(grad, theta1, indices, gap, G) of one of the explorer's problems; G are the per-sample gradients at
    the minimiser (for the limit of tau(k) sqrt(k))."""
    rng = np.random.default_rng(seed)
    if problem == "sanity check":
        def gap(thetas):
            return np.mean(thetas[..., 0] ** 2, axis=-1)

        return (problems.sanity_check_runs_grad, np.full((runs, 1), 3.0), rng.integers(0, 2, size=(steps, runs)),
                gap, np.array([[-1.0], [1.0]]))
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    star = problems.least_squares_solution(X, y)
    hessian = X.T @ X

    def gap(thetas):
        # E(theta) - E(theta*) = 1/2 (theta - theta*)^T X^T X (theta - theta*), as grad E(theta*) = 0: the
        # same as 1/2 ||X theta - y||^2 - E(theta*) without an (N, d) product per iterate and run
        d = thetas - star
        return np.mean(0.5 * np.sum((d @ hessian) * d, axis=-1), axis=-1)

    return (problems.least_squares_runs_grad(X, y), np.zeros((runs, X.shape[1])),
            rng.integers(0, len(y), size=(steps, runs, batch_size)), gap, (X @ star - y)[:, None] * X)


def adagrad_runs(problem, adagrad_fn, eta, c0, *, X=None, y=None, runs=100, steps=2000, batch_size=1,
                 seed=0):
    """AdaGrad-Norm (``adagrad_fn(grad, theta1, indices, eta, c0) -> (thetas, taus)``) and constant-step
    SGD with tau = eta, on the same draws of the index sets.

    ``problem`` is "sanity check" (theta(1) = 3, R runs of shape (R, 1)) or "least squares" (on X, y,
    from theta(1) = 0, minibatches of ``batch_size``). Returns (gap_adagrad, gap_sgd, taus, limit):
    the mean optimality gaps over the runs (steps+1,), AdaGrad's taus (steps, runs) and the predicted
    limit of tau(k) sqrt(k)."""
    gap_a, taus, limit = adagrad_only_runs(problem, adagrad_fn, eta, c0, X=X, y=y, runs=runs, steps=steps,
                                           batch_size=batch_size, seed=seed)
    gap_s = constant_step_runs(problem, eta, X=X, y=y, runs=runs, steps=steps, batch_size=batch_size, seed=seed)
    return gap_a, gap_s, taus, limit


def adagrad_only_runs(problem, adagrad_fn, eta, c0, *, X=None, y=None, runs=100, steps=2000, batch_size=1,
                      seed=0, limit_fn=tau_limit):
    """The AdaGrad-Norm half of ``adagrad_runs``: (gap_adagrad, taus, limit), the limit computed by
    ``limit_fn(eta, G, batch_size)`` (the adagrad notebook passes its own ``tau_limit``)."""
    grad, theta1, indices, gap, G = _adagrad_problem(problem, runs, steps, batch_size, seed, X, y)
    with np.errstate(all="ignore"):
        thetas, taus = adagrad_fn(grad, theta1, indices, eta, c0)
        return gap(thetas), np.asarray(taus), limit_fn(eta, G, batch_size)


def constant_step_runs(problem, tau, *, X=None, y=None, runs=100, steps=2000, batch_size=1, seed=0):
    """The SGD half of ``adagrad_runs``: the mean gap of constant-step SGD with step ``tau`` (steps+1,)."""
    grad, theta1, indices, gap, _ = _adagrad_problem(problem, runs, steps, batch_size, seed, X, y)
    with np.errstate(all="ignore"):
        return gap(sgd_iterates(grad, theta1, constant(tau), indices))
