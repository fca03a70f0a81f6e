"""Hidden tests of the assignment "gradient descent vs SGD on a finite sum" (notebooks/source/gd_vs_sgd).

Every check draws its problem at grading time (``grading_rng``) and compares the student's function
with the reference in ``course.minibatch``; known mistakes are recognised and named in a hint.
"""

from __future__ import annotations

import numpy as np

import course.minibatch
import course.problems
import course.sgd
from course import minibatch as ref

from ..bugs import Bug
from ..checks import CheckFailed, assert_matches, fmt, grading_rng, student_call
from ..remote import Fixture
from . import fixtures

FORBIDDEN = [course.minibatch, course.problems, course.sgd]
SIGN = "the sign looks flipped: grad f_j(theta) = (x_j . theta - y_j) x_j, residual first."


def _problem(rng, n=None, d=None):
    n = int(rng.integers(5, 40)) if n is None else n
    d = int(rng.integers(2, 5)) if d is None else d
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
    y = rng.normal(size=n)
    theta = rng.normal(size=d)
    return theta, X, y


def _problem_text(theta, X):
    return f"theta=<{theta.size} numbers>, X=<{X.shape[0]}x{X.shape[1]} array>, y=<{X.shape[0]} numbers>"


# -------------------------------------------------------------------------------- full gradient

def check_full_gradient(full_gradient):
    """X^T (X theta - y) on random problems of several sizes, d = 1 included."""
    rng = grading_rng("full_gradient")
    for d in (int(rng.integers(2, 6)), 1, int(rng.integers(2, 6))):
        theta, X, y = _problem(rng, d=d)
        call = f"full_gradient({_problem_text(theta, X)})"
        got = student_call(full_gradient, theta, X, y, call=call, forbidden=FORBIDDEN)
        expected = ref.full_gradient(theta, X, y)
        n = X.shape[0]
        assert_matches(got, expected, call, hints=[
            (-expected, SIGN),
            (expected / n, "that is the gradient of the mean; the lecture's E is the plain sum over all N "
                           "examples, so do not divide by N."),
            (X.T @ (X @ theta), "a term is missing: the residual is x_j . theta - y_j (you left out y)."),
            (X @ theta - y, "those are the N residuals; multiply each by its x_j and add them up: X.T @ r."),
            (ref.per_sample_gradients(theta, X, y), "those are the N per-example gradients (one per row); "
                                                    "grad E is their sum over the examples (axis 0)."),
        ])


# -------------------------------------------------------------------------------- minibatch gradient

def check_minibatch_gradient(minibatch_gradient):
    """The lecture's sum over I(k) and the unbiased N/|I| rescaling, on N = 12-39 examples: distinct
    indices (default and unbiased=False), a batch with an index drawn twice (unbiased), a single example
    (unbiased), and a batch whose size does not divide N (unbiased), so that N // |I| and N * sum show."""
    rng = grading_rng("minibatch_gradient")
    theta, X, y = _problem(rng, n=int(rng.integers(12, 40)))
    n = X.shape[0]
    batch = int(rng.integers(3, 6))
    repeated = rng.integers(0, n, size=batch)
    repeated[-1] = repeated[0]                              # one index drawn twice
    cases = [
        (rng.permutation(n)[:batch], None),                # distinct indices, default: the lecture's sum
        (repeated, True),                                  # with replacement, unbiased
        (rng.permutation(n)[:batch + 2], False),
        (np.array([int(rng.integers(n))]), True),          # a single example
        (rng.permutation(n)[:_non_divisor(rng, n)], True),  # N / |I| not an integer: N // |I| shows
    ]
    for idx, unbiased in cases:
        kwargs = {} if unbiased is None else {"unbiased": unbiased}
        flag = "" if unbiased is None else f", unbiased={unbiased}"
        call = f"minibatch_gradient({_problem_text(theta, X)}, idx={fmt(idx)}{flag})"
        got = student_call(minibatch_gradient, theta, X, y, idx, call=call, forbidden=FORBIDDEN, **kwargs)
        expected = ref.minibatch_gradient(theta, X, y, idx, unbiased=bool(unbiased))
        plain = ref.minibatch_gradient(theta, X, y, idx)
        b = idx.size
        hints = [(-expected, SIGN)]
        if unbiased:
            hints += [(plain, "unbiased=True must rescale the sum by N / |I(k)| (N examples, |I(k)| indices)."),
                      (plain * b / n, "the factor is N / |I(k)|, not |I(k)| / N."),
                      (plain / b, "that is the mean over the batch; the unbiased estimate is N / |I(k)| times the sum.")]
        else:
            hints += [(plain * n / b, "rescale by N / |I(k)| only when unbiased=True; by default return the "
                                      "lecture's plain sum over I(k)."),
                      (plain / b, "that is the mean over the batch; the lecture's E_k is the plain sum over I(k).")]
        hints += [(ref.full_gradient(theta, X, y) * (n / b if unbiased else 1.0),
                   "that uses every example: take only the rows X[idx], y[idx] of the minibatch.")]
        if len(np.unique(idx)) < b:
            hints.append((ref.minibatch_gradient(theta, X, y, np.unique(idx)) * (n / b if unbiased else 1.0),
                          "an index that occurs twice in I(k) (sampling with replacement) counts twice."))
            if unbiased:                                   # np.unique(idx) before the sum and the factor
                hints.append((ref.minibatch_gradient(theta, X, y, np.unique(idx), unbiased=True),
                              "an index that occurs twice in I(k) (sampling with replacement) counts twice, "
                              "in the sum and in |I(k)|: do not drop repeated indices (np.unique)."))
        assert_matches(got, expected, call, hints=hints)


def _non_divisor(rng, n):
    """A batch size from 2 to n - 1 that does not divide n (n >= 5)."""
    return int(rng.choice([b for b in range(2, n) if n % b]))


# -------------------------------------------------------------------------------- descent loop

def check_descent(descent):
    """GD (every index every step), SGD batches as a (K, B) array and as a ragged list of chunks."""
    rng = grading_rng("descent")
    chunk = int(rng.integers(3, 6))
    n = chunk * int(rng.integers(2, 5)) + int(rng.integers(1, chunk))    # the last chunk is shorter
    theta1, X, y = _problem(rng, n=n, d=2)
    grad = Fixture(fixtures.least_squares_gradient, X, y)       # the lecture's sum over I(k)
    tau0 = 0.3 / float(np.sum(X ** 2, axis=1).max() * n)
    alpha = float(rng.uniform(0.5, 1.0))
    schedule = Fixture(fixtures.schedule, "inverse_power", tau0, alpha)
    K, B = int(rng.integers(4, 9)), int(rng.integers(1, 4))
    perm = rng.permutation(n)
    cases = [
        ("GD: batches = [np.arange(N)] * K", [np.arange(n)] * K),
        (f"SGD: batches = <int array of shape ({K}, {B})>", rng.integers(0, n, size=(K, B))),
        (f"SGD on one epoch: batches = <{-(-n // chunk)} chunks of a shuffled range(N), the last shorter>",
         [perm[i:i + chunk] for i in range(0, n, chunk)]),
    ]
    for text, batches in cases:
        call = f"descent(grad, theta1={fmt(theta1)}, schedule=<tau0/k^{alpha:.3g}>, {text})"
        got = student_call(descent, grad, theta1, schedule, batches, call=call,
                           forbidden=[course.minibatch, course.sgd])
        thetas, work = ref.descent(grad, theta1, schedule, batches)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"For {call}: expected a pair (thetas, work), got {_describe(got)}.")
        got_thetas, got_work = got
        assert_matches(got_thetas, thetas, call + " [the iterates thetas]", rtol=1e-8, atol=1e-10, hints=[
            (thetas[1:], "K steps give K+1 iterates: put theta(1) = theta1 first."),
            (ref.descent(grad, theta1, lambda k: schedule(k + 1), batches)[0],
             "the first step must use tau(1), then tau(2), ... (off by one in k)."),
            (ref.descent(grad, theta1, lambda k: -schedule(k), batches)[0],
             "the iterates climb: step against the gradient, theta - tau(k) * grad."),
        ])
        sizes = np.array([np.size(b) for b in batches])
        assert_matches(got_work, work, call + " [the work counter]", hints=[
            (work[1:], "work has K+1 entries: work[0] = 0 summands for the start theta(1)."),
            (np.arange(len(batches) + 1), "count summand gradients (|I(k)| per step), not steps."),
            (np.arange(len(batches) + 1) * n, "a step on I(k) costs |I(k)| summands, not N."),
            (np.concatenate([[0], sizes]), "work is cumulative: |I(1)| + ... + |I(k)|."),
        ])


# -------------------------------------------------------------------------------- descent fraction

def check_descent_fraction(descent_fraction):
    """Far from and close to the minimiser, and a case where some summand's gradient is exactly zero."""
    rng = grading_rng("descent_fraction")
    _, X, y = _problem(rng, n=int(rng.integers(20, 60)), d=2)
    star = course.problems.least_squares_solution(X, y)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    cases = [("far from the minimiser", star + 20 * direction, X, y),
             ("close to the minimiser", star + 0.05 * direction, X, y)]
    # integer data: the residual of some examples is exactly 0, so their gradient is the zero vector
    Xi = rng.integers(-3, 4, size=(12, 2)).astype(float)
    Xi[:3] = [[1, 0], [0, 1], [1, 1]]
    thetai = rng.integers(1, 4, size=2).astype(float)
    yi = Xi @ thetai
    yi[3:] += rng.integers(1, 4, size=9) * rng.choice([-1.0, 1.0], size=9)
    cases.append(("with 3 examples fitted exactly (their gradients are 0)", thetai, Xi, yi))
    for text, theta, Xc, yc in cases:
        call = f"descent_fraction({_problem_text(theta, Xc)})  [{text}]"
        got = student_call(descent_fraction, theta, Xc, yc, call=call, forbidden=FORBIDDEN)
        expected = ref.descent_fraction(theta, Xc, yc)
        G = ref.per_sample_gradients(theta, Xc, yc)
        dots = G @ G.sum(axis=0)
        assert_matches(got, expected, call, hints=[
            (np.mean(dots >= 0), "a zero gradient is no descent direction: count strictly positive inner products."),
            (np.mean(dots < 0), "that is the fraction pointing uphill; count <grad f_j, grad E> > 0."),
            (np.mean(dots <= 0), "that is the fraction that is not a descent direction; count <grad f_j, grad E> > 0."),
            (np.sum(dots > 0), "return the fraction (divide the count by N), not the count."),
        ])


# -------------------------------------------------------------------------------- bias and variance

def check_bias_variance(bias_variance):
    """Biased and unbiased clouds of estimates; small R, so that 1/(R-1) and 1/R differ."""
    rng = grading_rng("bias_variance")
    for _ in range(3):
        R, d = int(rng.integers(4, 12)), int(rng.integers(2, 5))
        true = rng.normal(size=d)
        estimates = true + rng.normal(scale=0.5, size=d) + rng.normal(scale=rng.uniform(0.5, 3), size=(R, d))
        call = f"bias_variance(estimates=<{R}x{d} array>, true_grad={fmt(true)})"
        got = student_call(bias_variance, estimates, true, call=call, forbidden=FORBIDDEN)
        bias, var = ref.bias_variance(estimates, true)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"For {call}: expected a pair (bias, variance), got {_describe(got)}.")
        got_bias, got_var = got
        assert_matches(got_bias, bias, call + " [bias]", hints=[
            (-bias, "bias = mean of the estimates minus the true gradient (the sign is flipped)."),
            (estimates.mean(axis=0), "subtract the true gradient: bias = mean_r g_r - grad E."),
        ])
        if isinstance(got_var, np.ndarray) and got_var.shape == (d,):
            raise CheckFailed(f"For {call} [variance]: expected one number, got an array of shape {got_var.shape}. "
                              "Hint: the variance of a vector estimate is the sum of the per-coordinate "
                              "variances, mean_r ||g_r - mean||^2 with 1/(R-1) (the trace of the covariance).")
        sq = np.sum((estimates - estimates.mean(axis=0)) ** 2)
        mse = np.sum((estimates - true) ** 2)
        assert_matches(got_var, var, call + " [variance]", hints=[
            (sq / R, "divide by R - 1 (the unbiased sample variance), not by R."),
            (np.sqrt(var), "that is the standard deviation; return the variance (no square root)."),
            (mse / (R - 1), "measure the spread around the mean of the estimates, not around the true gradient "
                            "(that adds the squared bias)."),
            (mse / R, "measure the spread around the mean of the estimates, with 1/(R-1)."),
            (sq / (R - 1) / d, "sum over the d coordinates; do not average them."),
        ])


# -------------------------------------------------------------------------------- variance, closed form

def check_minibatch_variance(minibatch_variance):
    """With and without replacement, B = 1, a middle B and B = N."""
    rng = grading_rng("minibatch_variance")
    theta, X, y = _problem(rng, n=int(rng.integers(10, 40)))
    n = X.shape[0]
    G = ref.per_sample_gradients(theta, X, y)
    s2 = float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))
    m2 = float(np.mean(np.sum(G ** 2, axis=1)))
    s2_wrong_centre = float(np.mean(np.sum((G - G.sum(axis=0)) ** 2, axis=1)))
    middle = int(rng.integers(2, n - 1))
    for B, replace in [(middle, True), (middle, False), (1, True), (n, False), (n, True),
                       (int(rng.integers(2, n - 1)), False)]:
        kwargs = {} if replace else {"replace": False}
        call = f"minibatch_variance({_problem_text(theta, X)}, batch_size={B}" + ("" if replace else ", replace=False") + ")"
        got = student_call(minibatch_variance, theta, X, y, B, call=call, forbidden=FORBIDDEN, **kwargs)
        expected = ref.minibatch_variance(theta, X, y, B, replace=replace)
        fpc = (n - B) / (n - 1)
        base = n ** 2 / B * s2
        hints = [
            (s2 / B, "that is the variance of the batch *mean*; the unbiased estimate N/B * sum has N^2 times it."),
            (n ** 2 * s2 * (fpc if not replace else 1.0), "the variance falls like 1/B: divide by the batch size."),
            (n ** 2 / B * m2 * (1.0 if replace else fpc), "subtract the mean before squaring: s^2 = 1/N sum_j "
                                                          "||grad f_j - grad E / N||^2."),
            (n ** 2 / B * s2_wrong_centre * (1.0 if replace else fpc),
             "centre the per-sample gradients at their mean grad E / N, not at grad E."),
            (np.sqrt(expected), "that is a standard deviation; return the variance."),
        ]
        hints.append((base, "without replacement the finite-population factor (N - B)/(N - 1) multiplies "
                            "the variance (0 at B = N).")
                     if not replace else
                     (base * fpc, "with replacement there is no finite-population factor (N - B)/(N - 1)."))
        if not replace:
            hints.append((base * (n - B) / n, "the finite-population factor is (N - B)/(N - 1), not (N - B)/N."))
        assert_matches(got, expected, call, rtol=1e-8, atol=1e-10 * max(base, 1.0), hints=hints)


# -------------------------------------------------------------------------------- helpers

def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray(shape={x.shape}, dtype={x.dtype})"
    return f"{type(x).__name__}"


# Realistic buggy submissions for the demo class and the pipeline tests (see autograder/demo.py).
# ``old`` must occur exactly once in the reference answer of the cell.
DEMO_BUGS = [
    Bug("quentin", "full gradient of the mean instead of the sum", "full_gradient",
        "return X.T @ (X @ theta - y)", "return X.T @ (X @ theta - y) / len(y)", ("test_full_gradient",)),
    Bug("ruth", "minibatch gradient rescaled by |I|/N instead of N/|I|", "minibatch_gradient",
        "g * (len(y) / len(idx))", "g * (len(idx) / len(y))", ("test_minibatch_gradient",)),
    Bug("simon", "descent loop that counts steps instead of summands", "descent",
        "work.append(work[-1] + len(idx))", "work.append(work[-1] + 1)", ("test_descent",)),
    Bug("tara", "variance with 1/R instead of 1/(R-1)", "bias_variance",
        "/ (len(estimates) - 1)", "/ len(estimates)", ("test_bias_variance",)),
    Bug("uwe", "closed-form variance without the finite-population factor", "minibatch_variance",
        "var = var * (N - batch_size) / (N - 1)", "var = var", ("test_minibatch_variance",)),
]
