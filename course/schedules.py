"""Step-size schedules: a schedule is just a function k -> tau(k).

SGD takes the steps theta(k+1) = theta(k) - tau(k) grad E_k(theta(k)) for k = 1, 2, 3, ...
(the lecture's sums run from k = 1, and tau0 / k would divide by zero at k = 0). Every schedule
accepts an int or an integer array of step counters k >= 1.

To have a chance to converge, the lecture asks for tau(k) -> 0, but not too fast; the
Robbins-Monro conditions

    sum_k tau(k) = infinity,      sum_k tau(k)^2 < infinity

hold for tau0 / k^alpha with 1/2 < alpha <= 1, fail for a constant (sum tau^2 = infinity) and fail
for 1 / 2^k (sum tau < infinity: the iterates can only travel a finite distance and stop short).
"""

from __future__ import annotations

import numpy as np

from .validate import positive_float


def _steps(k):
    """Validate the step counter: integers k >= 1, as an int or an integer ndarray."""
    arr = np.asarray(k)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"the step counter k must be an integer (k = 1, 2, ...), got {k!r}")
    if arr.size and arr.min() < 1:
        raise ValueError(f"steps are counted from k = 1 as in the lecture, got k = {arr.min()}")
    return arr


def constant(tau):
    """tau(k) = tau for every k: fast at first, then the iterates keep bouncing around theta*."""
    tau = positive_float(tau, "tau")

    def schedule(k):
        k = _steps(k)
        return tau if k.ndim == 0 else np.full(k.shape, tau)

    return schedule


def geometric(tau0=1.0, q=0.5):
    """tau(k) = tau0 * q^k (q = 1/2, tau0 = 1 gives the lecture's 1/2^k): sum tau(k) < infinity."""
    tau0 = positive_float(tau0, "tau0")
    q = positive_float(q, "q")
    if q >= 1:
        raise ValueError(f"a geometric schedule needs 0 < q < 1 to decay, got q = {q}")

    def schedule(k):
        k = _steps(k)
        out = tau0 * q ** k.astype(np.float64)
        return float(out) if k.ndim == 0 else out

    return schedule


def inverse_power(tau0=1.0, alpha=1.0):
    """tau(k) = tau0 / k^alpha; Robbins-Monro holds for 1/2 < alpha <= 1."""
    tau0 = positive_float(tau0, "tau0")
    alpha = positive_float(alpha, "alpha", allow_zero=True)

    def schedule(k):
        k = _steps(k)
        out = tau0 / k.astype(np.float64) ** alpha
        return float(out) if k.ndim == 0 else out

    return schedule


def partial_sums(schedule, K):
    """Partial sums S1(K) = sum_{k=1}^K tau(k) and S2(K) = sum_{k=1}^K tau(k)^2, for K = 1..K.

    Returns two arrays of length K. Robbins-Monro, seen numerically: S1 keeps growing while S2
    levels off.
    """
    taus = np.asarray(schedule(np.arange(1, int(K) + 1)), dtype=np.float64)
    return np.cumsum(taus), np.cumsum(taus ** 2)
