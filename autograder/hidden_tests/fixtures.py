"""Test fixtures: what hidden tests hand a student's function besides plain data.

Each factory here is self-contained (numpy as ``np`` and its own arguments only): wrapped in
``remote.Fixture``, its source text is what the student's kernel runs to build its own copy, while the
grader calls the same code locally to compute the expected result. They are the lecture's test
problems written plainly; none is the solution of a graded exercise in the form the exercise asks.
"""

from __future__ import annotations

import numpy as np


def sample_gradient(a):
    """grad f_j(theta) = theta - a[j] (the sanity check: a = (+1, -1)); theta and j broadcast."""
    a = np.asarray(a, dtype=float)

    def grad(theta, j):
        j = np.asarray(j)
        if not np.issubdtype(j.dtype, np.integer):
            raise TypeError(f"j must be an integer index, got dtype {j.dtype}")
        return np.asarray(theta, dtype=float) - a[j] if np.ndim(theta) or np.ndim(j) else float(theta) - a[j]

    return grad


def runs_gradient(a):
    """grad f_j(theta) = theta - a[j] for parameter vectors of length 1: theta (1,) with an int j, or
    theta (R, 1) with j (R,) (one index per run)."""
    a = np.asarray(a, dtype=float)

    def grad(theta, j):
        theta, j = np.asarray(theta, dtype=float), np.asarray(j)
        if theta.ndim == 0 or theta.shape[-1] != 1 or j.shape != theta.shape[:-1]:
            raise ValueError(f"theta must have shape (1,) or (R, 1) and j shape () or (R,), got "
                             f"{theta.shape} and {j.shape}")
        return theta - a[j][..., None]

    return grad


def least_squares_gradient(X, y):
    """sum_{j in I} (x_j . theta - y_j) x_j as grad(theta, idx): one run (theta (d,), idx (B,)) or R
    runs (theta (R, d), idx (R, B))."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)

    def grad(theta, idx):
        Xb = X[idx]
        r = np.einsum("...bd,...d->...b", Xb, np.asarray(theta, dtype=float)) - y[idx]
        return np.einsum("...b,...bd->...d", r, Xb)

    return grad


def schedule(formula_name, tau0, p=0.0):
    """tau(k) for k >= 1: "constant" (tau0), "geometric" (tau0 * p^k) or "inverse_power" (tau0 / k^p)."""
    def tau(k):
        kf = np.asarray(k, dtype=np.float64)
        if np.any(kf < 1):
            raise ValueError(f"steps are counted from k = 1, got k = {k}")
        if formula_name == "constant":
            out = np.full(kf.shape, float(tau0))
        elif formula_name == "geometric":
            out = tau0 * p ** kf
        else:
            out = tau0 / kf ** p
        return float(out) if out.ndim == 0 else out

    return tau
