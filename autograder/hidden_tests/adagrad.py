"""Hidden tests of the AdaGrad assignment (notebooks/source/adagrad).

Every check draws its problem at grading time (``grading_rng``) and compares the student's function
with the reference in ``course.adaptive`` (which runs ``course.optim``'s optimizers); known mistakes are
recognised and named in a hint. The gradients handed to the student's loops come from
``fixtures`` (test problems whose source the student's kernel runs to build its own copy).
"""

from __future__ import annotations

import numpy as np

import course.adaptive
import course.optim
import course.sgd
from course import adaptive as ref

from ..bugs import Bug
from ..checks import CheckFailed, assert_matches, grading_rng, student_call
from ..remote import Fixture
from . import fixtures

FORBIDDEN = [course.adaptive, course.optim, course.sgd]


def _variant(grad, theta1, indices, eta, c0, *, diagonal=False, old_c=False, square=True, sign=1.0,
             accumulate=True, all_axes=False, use_eta=True, sqrt=True):
    """AdaGrad(-Norm) with one known mistake switched on, to recognise it in a student's result."""
    theta = np.asarray(theta1, dtype=float)
    c = np.full(theta.shape if diagonal else theta.shape[:-1], float(c0))
    thetas, taus = [theta], []
    with np.errstate(all="ignore"):
        for k in range(1, len(indices) + 1):
            g = grad(theta, indices[k - 1])
            if diagonal:
                inc = g ** 2 if square else np.abs(g)
            elif all_axes:
                inc = np.sum(g ** 2)
            else:
                inc = np.sum(g ** 2, axis=-1) if square else np.sqrt(np.sum(g ** 2, axis=-1))
            c_new = c + inc if accumulate else c0 + inc
            c_used = c if old_c else c_new
            tau = (eta if use_eta else 1.0) / (np.sqrt(c_used) if sqrt else c_used)
            c = c_new
            theta = theta - sign * (tau if diagonal else tau[..., None]) * g
            thetas.append(theta)
            taus.append(tau)
    return np.stack(thetas), np.stack(taus)


def _cases(rng):
    """(description, grad, theta1, indices, eta, c0): one run and R runs, least squares and sanity check."""
    n, d = int(rng.integers(8, 20)), int(rng.integers(2, 4))
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    ls = Fixture(fixtures.least_squares_gradient, X, y)
    sanity = Fixture(fixtures.runs_gradient, [1.0, -1.0])
    K, R, B = int(rng.integers(4, 9)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
    eta = lambda: float(10 ** rng.uniform(-1.5, 1.5))
    one_run = f"one run of least squares: theta1 of shape ({d},), indices of shape ({K}, {B})"
    return [
        (one_run, ls, rng.normal(size=d), rng.integers(0, n, size=(K, B)), eta(), float(rng.uniform(0.1, 2.0))),
        (f"{R} runs of least squares: theta1 of shape ({R}, {d}), indices of shape ({K}, {R}, {B})", ls,
         rng.normal(size=(R, d)), rng.integers(0, n, size=(K, R, B)), eta(), float(rng.uniform(0.1, 2.0))),
        (f"{R} runs of the sanity check: theta1 of shape ({R}, 1), indices of shape ({K}, {R})",
         sanity, rng.normal(scale=3.0, size=(R, 1)), rng.integers(0, 2, size=(K, R)), eta(),
         float(rng.uniform(0.1, 2.0))),
        # last, c0 = 0: an off-by-one in c divides by zero here, so its hint comes from the cases above
        (one_run, ls, rng.normal(size=d), rng.integers(0, n, size=(K, B)), eta(), 0.0),
    ]


def _check_run(student_fn, reference, name, diagonal):
    rng = grading_rng(name)
    for text, grad, theta1, indices, eta, c0 in _cases(rng):
        call = f"{name}(grad, theta1, indices, eta={eta:.4g}, c0={c0:.4g})  [{text}]"
        got = student_call(student_fn, grad, theta1, indices, eta, c0, call=call, forbidden=FORBIDDEN)
        thetas, taus = reference(grad, theta1, indices, eta, c0)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"For {call}: expected a pair (thetas, taus), got {type(got).__name__}.")
        got_thetas, got_taus = got

        def alt(**mistake):
            return _variant(grad, theta1, indices, eta, c0, diagonal=diagonal, **mistake)

        common = [
            (alt(old_c=True), "tau(k) must use c(k+1) = c(k) + ||g_k||^2, the sum *including* the current "
                              "gradient (you used c(k): off by one)."),
            (alt(sign=-1.0), "the iterates climb: step against the gradient, theta - tau(k) g_k."),
            (alt(use_eta=False), "the step size is eta * c(k+1)^(-1/2): multiply by the scale eta."),
            (alt(accumulate=False), "c accumulates: c(k+1) = c(k) + ||g_k||^2 adds to all earlier gradients."),
            (alt(sqrt=False), "tau(k) = eta / sqrt(c(k+1)): take the square root of c."),
        ]
        if diagonal:
            common += [(alt(square=False), "add the squared gradient entries g_i^2 to c_i.")]
        else:
            common += [(alt(square=False), "add the squared norm ||g_k||^2 to c, not the norm."),
                       (alt(all_axes=True), "each run has its own c: sum the squares over the last axis "
                                            "(axis=-1) only, not over all runs.")]
        thetas_hints = [(h[0], msg) for h, msg in common]
        taus_hints = [(h[1], msg) for h, msg in common]
        if diagonal and np.shape(got_taus) == taus.shape[:-1]:
            raise CheckFailed(f"For {call} [taus]: expected one step size per coordinate, shape {taus.shape}, "
                              f"got shape {np.shape(got_taus)}. Hint: diagonal AdaGrad keeps a c_i for every "
                              "coordinate i; do not sum over the coordinates.")
        assert_matches(got_thetas, thetas, call + " [thetas]", rtol=1e-8, atol=1e-10,
                       hints=[(thetas[1:], "K steps give K+1 iterates: put theta(1) = theta1 first.")] + thetas_hints)
        assert_matches(got_taus, taus, call + " [taus]", rtol=1e-8, atol=1e-12, hints=taus_hints)


def check_adagrad_norm_run(adagrad_norm_run):
    """One run and 2-4 runs (each with its own c), least squares (N = 8-19, d = 2-3, batches of 1-3) and the
    sanity check, 4-8 steps, eta from 0.03 to 30 (scale-free mistakes such as a missing eta show), c0 from
    0.1 to 2 and c0 = 0 (the first step's length is then exactly eta)."""
    _check_run(adagrad_norm_run, ref.adagrad_norm_run, "adagrad_norm_run", diagonal=False)


def check_adagrad_diag_run(adagrad_diag_run):
    """As for AdaGrad-Norm (the same inputs), with one c_i per coordinate."""
    _check_run(adagrad_diag_run, ref.adagrad_diag_run, "adagrad_diag_run", diagonal=True)


def check_tau_limit(tau_limit):
    """Per-sample gradients at a minimiser (rows summing to zero) of N = 5-29 examples in d = 1-3, of scale
    0.2-3, eta from 0.1 to 10, batch sizes 2-8 (never 1, where sqrt(B) and B agree)."""
    rng = grading_rng("tau_limit")
    for _ in range(3):
        n, d = int(rng.integers(5, 30)), int(rng.integers(1, 4))
        G = rng.normal(scale=rng.uniform(0.2, 3.0), size=(n, d))
        G -= G.mean(axis=0)                                   # a minimiser: the gradients sum to zero
        eta, B = float(10 ** rng.uniform(-1, 1)), int(rng.integers(2, 9))
        call = f"tau_limit(eta={eta:.4g}, G=<{n}x{d} per-sample gradients>, batch_size={B})"
        got = student_call(tau_limit, eta, G, B, call=call, forbidden=FORBIDDEN)
        expected = ref.tau_limit(eta, G, B)
        m2 = float(np.mean(np.sum(G ** 2, axis=1)))
        assert_matches(got, expected, call, rtol=1e-9, hints=[
            (eta / np.sqrt(m2), "a batch sums B independent gradients: sigma^2 = B * mean_j ||G_j||^2."),
            (eta / np.sqrt(B * n * m2), "average ||G_j||^2 over the N examples (mean), do not sum."),
            (eta / (B * m2), "the limit is eta / sigma: take the square root of sigma^2."),
            (eta / np.sqrt(B * np.mean(np.linalg.norm(G, axis=1))), "square the norms: ||G_j||^2."),
            (eta / (B * np.sqrt(m2)), "sigma^2 grows like B, so sigma like sqrt(B)."),
            (eta * np.sqrt(B * m2), "the limit is eta / sigma, not eta * sigma."),
        ])


def check_working_decades(working_decades):
    """A grid of 12-24 etas over 4-7 decades, tol from 1e-4 to 0.1: gaps with diverged runs (inf, nan), the
    smallest working eta's gap exactly at tol (so the boundary decides the answer), none or one that works,
    and the first scan shuffled (the etas need not be sorted)."""
    rng = grading_rng("working_decades")
    lo = float(rng.uniform(-4, -1))
    etas = 10 ** np.linspace(lo, lo + float(rng.uniform(4, 7)), int(rng.integers(12, 25)))
    tol = float(10 ** rng.uniform(-4, -1))
    gaps = tol * 10 ** rng.uniform(-2, 2, size=etas.size)
    gaps[-2:] = [np.inf, np.nan]                                  # diverged runs never work
    first = int(rng.integers(1, etas.size // 3))
    gaps[:first] = tol * 10                                       # the smallest scales crawl
    gaps[first] = tol                                             # exactly at the tolerance: works
    few = np.full(etas.size, 10 * tol)
    one = few.copy()
    one[int(rng.integers(etas.size))] = tol / 2
    order = rng.permutation(etas.size)
    for label, e, g in [("a scan with diverged runs", etas, gaps), ("nothing works", etas, few),
                        ("one scale works", etas, one), ("the first scan, shuffled", etas[order], gaps[order])]:
        call = (f"working_decades(etas=<{e.size} scales from {e.min():.3g} to {e.max():.3g}"
                f"{', unsorted' if e is not etas else ''}>, gaps=<{label}>, tol={tol:.3g})")
        got = student_call(working_decades, e, g, tol, call=call, forbidden=FORBIDDEN)
        expected = ref.working_decades(e, g, tol)
        ok = np.isfinite(g) & (g <= tol)
        strict = e[np.isfinite(g) & (g < tol)]
        hints = [(expected * np.log(10), "count decades: use log10, not the natural log."),
                 (-expected, "eta_max / eta_min, not the other way round."),
                 (float(np.log10(etas[-1] / etas[0])), "count only the step scales whose gap is <= tol.")]
        if ok.any():
            works = e[ok]
            hints.append((float(np.log10(works[-1] / works[0])), "the etas need not be sorted: divide the "
                                                                 "largest working eta by the smallest."))
        if strict.size:
            hints.append((float(np.log10(strict.max() / strict.min())), "a gap equal to tol works (<=, not <)."))
        if ok.any():
            hints.append((float(ok.sum()), "return the decades log10(eta_max / eta_min), not the number of scales."))
        assert_matches(got, expected, call, rtol=1e-9, hints=hints)


# Realistic buggy submissions for the demo class and the pipeline tests (see autograder/demo.py).
# ``old`` must occur exactly once in the reference answer of the cell.
DEMO_BUGS = [
    Bug("peggy", "AdaGrad-Norm step size from c(k) instead of c(k+1)", "adagrad_norm_run",
        "c = c + np.sum(g ** 2, axis=-1)\n        tau = eta / np.sqrt(c)",
        "tau = eta / np.sqrt(c + 1e-12)\n        c = c + np.sum(g ** 2, axis=-1)", ("test_adagrad_norm_run",)),
    Bug("rupert", "AdaGrad-Norm that sums the squared gradients over all runs", "adagrad_norm_run",
        "np.sum(g ** 2, axis=-1)", "np.sum(g ** 2)", ("test_adagrad_norm_run",)),
    Bug("sybil", "diagonal AdaGrad without the square root", "adagrad_diag_run",
        "tau = eta / np.sqrt(c)", "tau = eta / c", ("test_adagrad_diag_run",)),
    Bug("trent", "tau limit without the batch size", "tau_limit",
        "batch_size * np.mean", "np.mean", ("test_tau_limit",)),
    Bug("victor", "decades counted with the natural logarithm", "working_decades",
        "np.log10(", "np.log(", ("test_working_decades",)),
]
