"""Hidden tests of the step-size assignment (notebooks/source/step_sizes)."""

from __future__ import annotations

import numpy as np

import course.problems
import course.schedules
import course.sgd
from course.problems import SANITY_CHECK_A, sanity_check_sample_grad
from course.schedules import constant as ref_constant
from course.schedules import geometric as ref_geometric
from course.schedules import inverse_power as ref_inverse_power

from ..bugs import Bug
from ..checks import CheckFailed, assert_matches, fmt, grading_rng, student_call
from ..remote import Fixture
from . import fixtures

GRAD = Fixture(fixtures.sample_gradient, SANITY_CHECK_A.tolist())
SIGN_ERROR = "the sign looks flipped: the gradient of 1/2 (theta - a_j)^2 is theta - a_j."


def check_stochastic_gradient(stochastic_gradient):
    """theta - a_j for three scalar theta (normal, scale 3, either sign) with j in {0, 1}, and an array
    theta of 3-7 entries with an array j of the same shape."""
    rng = grading_rng("stochastic_gradient")
    for _ in range(3):
        theta, j = float(rng.normal(scale=3.0)), int(rng.integers(2))
        _check_sg(stochastic_gradient, theta, j)
    theta = rng.normal(scale=3.0, size=int(rng.integers(3, 8)))
    j = rng.integers(2, size=theta.shape)
    _check_sg(stochastic_gradient, theta, j)


def _check_sg(fn, theta, j):
    call = f"stochastic_gradient(theta={fmt(theta)}, j={fmt(j)})"
    got = student_call(fn, theta, j, call=call, forbidden=[course.problems])
    expected = sanity_check_sample_grad(theta, j)
    a = SANITY_CHECK_A[j]
    assert_matches(got, expected, call, hints=[
        (a - np.asarray(theta), SIGN_ERROR),
        (np.asarray(theta) - SANITY_CHECK_A[1 - np.asarray(j)], "a_0 = +1 and a_1 = -1: the indices are swapped."),
        (2 * np.asarray(theta), "that is the full gradient 2 theta; return the gradient of the single summand j."),
    ])


def check_constant(constant):
    """tau from 1e-3 to 1, at k = 1, a k from 2 to 59, a vector 1..K and an integer (2, 3) matrix of k."""
    rng = grading_rng("constant")
    tau = float(10 ** rng.uniform(-3, 0))
    _check_schedule(constant, (tau,), f"constant(tau={tau:.6g})", ref_constant(tau), None, rng)


def check_geometric(geometric):
    """tau0 from 0.01 to 3, q from 0.1 to 0.9 (so tau0 and q^k show), at the k of ``check_constant``."""
    rng = grading_rng("geometric")
    tau0, q = float(10 ** rng.uniform(-2, 0.5)), float(rng.uniform(0.1, 0.9))
    _check_schedule(geometric, (tau0, q), f"geometric(tau0={tau0:.6g}, q={q:.6g})",
                    ref_geometric(tau0, q), lambda k: tau0 * q ** k, rng)


def check_inverse_power(inverse_power):
    """tau0 from 0.01 to 3, alpha from 0.3 to 1, at the k of ``check_constant``."""
    rng = grading_rng("inverse_power")
    tau0, alpha = float(10 ** rng.uniform(-2, 0.5)), float(rng.uniform(0.3, 1.0))
    _check_schedule(inverse_power, (tau0, alpha), f"inverse_power(tau0={tau0:.6g}, alpha={alpha:.6g})",
                    ref_inverse_power(tau0, alpha), lambda k: tau0 / k ** alpha, rng)


def _check_schedule(factory, args, made, reference, formula, rng):
    """``formula`` is the schedule's expression without the k >= 1 check, to recognise tau(k -/+ 1)."""
    schedule = student_call(factory, *args, call=made, forbidden=[course.schedules])
    if not callable(schedule):
        raise CheckFailed(f"{made} should return a function k -> tau(k), got {type(schedule).__name__}.")
    k_scalar = int(rng.integers(2, 60))
    k_vector = np.arange(1, int(rng.integers(5, 40)) + 1)
    k_matrix = rng.integers(1, 100, size=(2, 3))
    for k in (1, k_scalar, k_vector, k_matrix):
        call = f"{made}(k={fmt(k)})"
        got = student_call(schedule, k, call=call, forbidden=[course.schedules])
        expected = reference(k)
        hints = []
        if formula is not None:
            with np.errstate(divide="ignore"):
                kf = np.asarray(k, dtype=np.float64)
                hints = [(formula(kf + 1), "this is tau(k+1): the schedule's formula uses k itself, and "
                          "steps are counted from k = 1 (off by one)."),
                         (formula(kf - 1), "this is tau(k-1): use k itself in the formula (off by one).")]
        if np.ndim(k) > 0:
            expected = np.asarray(expected, dtype=np.float64)
            if np.ndim(got) == 0 and not isinstance(got, np.ndarray):
                raise CheckFailed(f"For {call}: k is an array of shape {np.shape(k)}, so tau(k) must be an "
                                  f"array of that shape (one step size per k), got {type(got).__name__} "
                                  f"{got!r}. Hint: np.full(np.shape(k), tau) or arithmetic on k itself.")
        assert_matches(got, expected, call, hints=hints)


def check_sgd_iterates(sgd_iterates):
    """The iterates theta(1..K+1) for the reference gradient and a constant, inverse-power and geometric
    schedule, 5-29 steps, one run (scalar theta) and 2-5 runs (an array of indices per step)."""
    rng = grading_rng("sgd_iterates")
    cases = [
        (Fixture(fixtures.schedule, "constant", float(rng.uniform(0.05, 0.9))), "constant"),
        (Fixture(fixtures.schedule, "inverse_power", float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.5, 1.0))),
         "inverse_power"),
        (Fixture(fixtures.schedule, "geometric", 1.0, float(rng.uniform(0.3, 0.8))), "geometric"),
    ]
    for schedule, name in cases:
        num_steps = int(rng.integers(5, 30))
        for runs in (None, int(rng.integers(2, 6))):
            theta1 = float(rng.normal(scale=3.0)) if runs is None else rng.normal(scale=3.0, size=runs)
            indices = course.sgd.sample_indices(2, num_steps, rng, runs=runs)
            _check_sgd_iterates_case(sgd_iterates, theta1, schedule, name, indices)


def _check_sgd_iterates_case(sgd_iterates, theta1, schedule, name, indices):
    call = (f"sgd_iterates(stochastic_gradient, theta1={fmt(theta1)}, schedule=<{name}>, "
            f"indices=<int array of shape {indices.shape}>)")
    got = student_call(sgd_iterates, GRAD, theta1, schedule, indices, call=call,
                       forbidden=[course.sgd])
    expected = course.sgd.sgd_iterates(GRAD, theta1, schedule, indices)
    hints = [
        (expected[1:], "K steps give K+1 iterates: return the start theta(1) as the first entry too."),
        (course.sgd.sgd_iterates(GRAD, theta1, lambda k: schedule(k + 1), indices),
         "the first step must use tau(1), then tau(2), ... (off by one in k)."),
        (course.sgd.sgd_iterates(GRAD, theta1, lambda k: -schedule(k), indices),
         "the iterates climb: SGD steps against the gradient, theta - tau(k) * grad."),
    ]
    assert_matches(got, expected, call, rtol=1e-8, atol=1e-10, hints=hints)


def check_loglog_slope(loglog_slope):
    """Power laws c k^p with noise: two falling (p in [-1.5, -0.2]), one rising (p in [0.2, 2]), so that a
    sign taken for granted shows; c from 0.1 to 10, k from 1 to 100-10^4, unevenly spaced."""
    rng = grading_rng("loglog_slope")
    for low, high in ((-1.5, -0.2), (0.2, 2.0), (-1.5, -0.2)):
        k = np.unique(np.round(np.logspace(0, rng.uniform(2, 4), int(rng.integers(10, 40))))).astype(np.int64)
        p, c = float(rng.uniform(low, high)), float(10 ** rng.uniform(-1, 1))
        values = c * k ** p * np.exp(rng.normal(scale=0.05, size=k.shape))
        call = f"loglog_slope(k=<{k.size} steps from 1 to {k[-1]}>, values=<about {c:.3g} * k^{p:.3g}>)"
        got = student_call(loglog_slope, k, values, call=call, forbidden=[course.sgd])
        expected = course.sgd.loglog_slope(k, values)
        hints = [(np.polyfit(k, values, 1)[0], "fit a line to log(values) against log(k), not to the raw values."),
                 (np.polyfit(np.log(k), np.log(values), 1)[1], "that is the intercept; return the slope.")]
        assert_matches(got, expected, call, rtol=1e-6, atol=1e-9, hints=hints)


# Realistic buggy submissions for the demo class and the pipeline tests (see autograder/demo.py).
DEMO_BUGS = [
    Bug("carol", "sign error in the stochastic gradient", "stochastic_gradient",
        "return theta - a[j]", "return a[j] - theta", ("test_stochastic_gradient",)),
    Bug("dave", "off by one in the geometric schedule", "schedules",
        "tau0 * q ** np.asarray(k, dtype=float) if np.ndim(k) else tau0 * q ** k",
        "tau0 * q ** (np.asarray(k, dtype=float) - 1) if np.ndim(k) else tau0 * q ** (k - 1)",
        ("test_geometric",)),
    Bug("erin", "SGD loop that forgets the starting point", "sgd_iterates",
        "thetas = [theta]", "thetas = []", ("test_sgd_iterates",)),
    Bug("frank", "calls the course library's constant schedule", "schedules",
        "return lambda k: tau * np.ones_like(k, dtype=float) if np.ndim(k) else float(tau)",
        "from course.schedules import constant as _reference\n    return _reference(tau)",
        ("test_constant",)),
    Bug("grace", "correct, but a numpy RuntimeWarning is printed while testing", "loglog_slope",
        "slope, _ = np.polyfit(np.log(k), np.log(values), 1)",
        "logs = np.log(np.append(values, 0.0))[:-1]  # log(0) warns, the result is unaffected\n"
        "    slope, _ = np.polyfit(np.log(k), logs, 1)", ()),
]
