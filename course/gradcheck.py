"""Gradient checking with central finite differences, and a warning when a kink lies within eps.

    dE/dtheta_i  ~  ( E(theta + eps e_i) - E(theta - eps e_i) ) / (2 eps)

For a smooth E the error is O(eps^2) plus rounding, about u |E| / eps, where u is the unit roundoff of
the dtype (half its machine epsilon np.finfo(dtype).eps): u = 1.1e-16 in float64, so eps = 1e-6 in
float64 gives about 10 correct digits. Next to a kink (ReLU at 0, |x| at 0, a max with a tie) the
difference quotient averages two different slopes and is simply not the derivative:
a failed check there does not mean that the backward pass is wrong. ``check_gradient`` notices this
by comparing the one-sided quotients

    d+_i = ( E(theta + eps e_i) - E(theta) ) / eps,    d-_i = ( E(theta) - E(theta - eps e_i) ) / eps:

for a smooth E, d+_i - d-_i = eps E''_ii + O(eps^2) is tiny; when a kink lies within eps they differ
by up to the jump of the slope, whatever eps is.

Do gradient checks in float64: in float32 (u = 6.0e-8) the rounding error swamps the difference quotient.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from course.validate import positive_float

__all__ = ["numerical_gradient", "relative_error", "check_gradient", "check_gradient_dict",
           "GradCheckResult", "DictGradCheckResult"]


def _check_theta(theta, name="theta"):
    if not isinstance(theta, np.ndarray) or not np.issubdtype(theta.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point numpy array (it is perturbed in place), got "
                        f"{getattr(theta, 'dtype', type(theta).__name__)}")
    if not theta.flags.writeable:
        raise ValueError(f"{name} must be writeable: it is perturbed in place and then restored")
    if theta.dtype != np.float64:
        warnings.warn(f"gradient check in {theta.dtype}: rounding errors swamp finite differences, "
                      f"use float64", RuntimeWarning, stacklevel=3)
    return theta


def _scalar(value):
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"f must return a scalar (the loss), got an array of shape {value.shape}")
    return float(value.reshape(()))


def _differences(f, theta, eps):
    """f(theta) and, per coordinate, f(theta + eps e_i) and f(theta - eps e_i), restoring theta."""
    f0 = _scalar(f(theta))
    f_plus = np.empty(theta.shape)
    f_minus = np.empty(theta.shape)
    for i in np.ndindex(theta.shape):
        old = theta[i].copy()
        theta[i] = old + eps
        f_plus[i] = _scalar(f(theta))
        theta[i] = old - eps
        f_minus[i] = _scalar(f(theta))
        theta[i] = old
    return f0, f_plus, f_minus


def numerical_gradient(f, theta, eps=1e-6):
    """Central differences  g_i = ( f(theta + eps e_i) - f(theta - eps e_i) ) / (2 eps).

    ``f(theta)`` returns a scalar; ``theta`` is a float ndarray of any shape, perturbed in place one
    entry at a time and restored exactly (so ``f`` may also be a closure that reads theta). Costs
    2 * theta.size calls of f. Returns a float64 array of theta's shape.
    """
    theta = _check_theta(theta)
    eps = positive_float(eps, "eps")
    _, f_plus, f_minus = _differences(f, theta, eps)
    return (f_plus - f_minus) / (2 * eps)


def relative_error(a, b):
    """Relative error between two gradients, in the max norm:

    ||a - b||_inf / max(||a||_inf, ||b||_inf)     (0 when both are 0).

    Entries are compared on the scale of the whole gradient, so roundoff in an entry that should be 0
    does not count as a large relative error. Below 1e-6 is a pass for float64 checks with eps = 1e-6.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


@dataclass
class GradCheckResult:
    """Outcome of ``check_gradient``.

    max_rel_error: relative_error(analytic, numerical);  passed: max_rel_error <= tol;
    kinks: list of index tuples where the one-sided differences jump (a kink within eps);
    analytic, numerical: the two gradients.
    """

    max_rel_error: float
    passed: bool
    kinks: list = field(default_factory=list)
    analytic: np.ndarray | None = field(default=None, repr=False)
    numerical: np.ndarray | None = field(default=None, repr=False)
    tol: float = 1e-6

    @property
    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        text = f"gradient check {verdict}: max relative error {self.max_rel_error:.2e} (tol {self.tol:.0e})"
        if self.kinks:
            shown = ", ".join(str(k) for k in self.kinks[:5]) + (", ..." if len(self.kinks) > 5 else "")
            text += (f"; {len(self.kinks)} coordinate(s) with a kink within eps ({shown}): the finite "
                     f"difference is unreliable there")
            if not self.passed and self.passed_away_from_kinks:
                text += ", and away from them the gradients agree"
        return text

    @property
    def passed_away_from_kinks(self) -> bool:
        """True if the gradients agree (within tol) at every coordinate that is not a kink
        (False when every coordinate is a kink: then nothing was checked)."""
        if self.analytic is None or self.numerical is None:
            return self.passed
        smooth = np.ones(self.analytic.shape, dtype=bool)
        for k in self.kinks:
            smooth[k] = False
        if not smooth.any():
            return False
        return relative_error(self.analytic[smooth], self.numerical[smooth]) <= self.tol

    def __str__(self) -> str:
        return self.message


def check_gradient(f, grad, theta, eps=1e-6, tol=1e-6, kink_tol=None):
    """Compare an analytic gradient with central differences of f at theta, and look for kinks.

    passed  <=>  relative_error(grad, numerical_gradient(f, theta, eps)) <= tol.
    Coordinate i is reported as a kink when |d+_i - d-_i| > kink_tol, with the one-sided quotients
    d+_i = (f(theta + eps e_i) - f(theta)) / eps and d-_i = (f(theta) - f(theta - eps e_i)) / eps
    (default kink_tol = sqrt(eps) * max(1, ||numerical gradient||_inf): a smooth f would need a
    curvature above about 1/sqrt(eps) = 1000 to be mistaken for a kink).

    ``grad`` is the analytic gradient (an array of theta's shape) or a function theta -> gradient.
    Returns a ``GradCheckResult``; print it for a one-line verdict.
    """
    theta = _check_theta(theta)
    eps = positive_float(eps, "eps")
    tol = positive_float(tol, "tol")
    analytic = grad(theta) if callable(grad) else grad
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != theta.shape:
        raise ValueError(f"grad must have the shape of theta {theta.shape}, got {analytic.shape}")
    f0, f_plus, f_minus = _differences(f, theta, eps)
    numerical = (f_plus - f_minus) / (2 * eps)
    jump = np.abs((f_plus - f0) / eps - (f0 - f_minus) / eps)
    if kink_tol is None:
        kink_tol = np.sqrt(eps) * max(1.0, np.max(np.abs(numerical), initial=0.0))
    kinks = [tuple(int(j) for j in i) for i in np.argwhere(jump > kink_tol)]
    err = relative_error(analytic, numerical)
    return GradCheckResult(err, err <= tol, kinks, analytic, numerical, tol)


@dataclass
class DictGradCheckResult:
    """Outcome of ``check_gradient_dict``: one ``GradCheckResult`` per parameter name."""

    results: dict

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results.values())

    @property
    def max_rel_error(self) -> float:
        return max(r.max_rel_error for r in self.results.values())

    @property
    def kinks(self) -> dict:
        """{name: [index, ...]} for the parameters with a kink within eps."""
        return {name: r.kinks for name, r in self.results.items() if r.kinks}

    def __getitem__(self, name):
        return self.results[name]

    def __str__(self) -> str:
        return "\n".join(f"{name}: {r.message}" for name, r in self.results.items())


def check_gradient_dict(loss, grads, params, eps=1e-6, tol=1e-6, kink_tol=None):
    """Gradient check of every array in a dict of parameters, e.g. the MLP's {W1, b1, ...}.

    ``loss(params)`` returns E(theta) as a scalar and reads the arrays of ``params``, which are
    perturbed in place one entry at a time and restored; ``grads`` holds the analytic gradients under
    the same keys. Each array is checked on its own scale (see ``check_gradient``).
    Returns a ``DictGradCheckResult``: ``.passed``, ``.kinks``, ``[name]``, and ``print`` for a report.
    """
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError("params and grads must both be dicts of arrays, e.g. {'W1': ..., 'b1': ...}")
    if set(grads) != set(params):
        raise KeyError(f"grads must have the keys of params {sorted(params)}, got {sorted(grads)}")
    results = {}
    for name, theta in params.items():
        results[name] = check_gradient(lambda _: loss(params), grads[name], theta, eps, tol, kink_tol)
    return DictGradCheckResult(results)
