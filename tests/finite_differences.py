"""An independent finite-difference gradient for the tests (not course.gradcheck, which is under test)."""

import numpy as np


def fd_grad(f, x, eps=1e-6):
    """Central differences of the scalar function f at a float64 array x (perturbed on a copy)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g
