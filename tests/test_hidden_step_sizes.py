"""Hidden tests of the step-size assignment: the reference passes, every mutant fails.

Mutants are wrong student functions (the mistakes students make); each must raise ``CheckFailed``.
They run against the check functions directly, so the whole mutation table takes well under a second.
"""

import numpy as np
import pytest

import course.schedules as ref_schedules
import mutation
import course.sgd as ref_sgd
from autograder.checks import CheckFailed
from autograder.hidden_tests import step_sizes as hidden
from course.problems import sanity_check_sample_grad

A = np.array([1.0, -1.0])


def _sgd(update):
    """An SGD loop whose step is ``update(theta, k, schedule, sample_grad, idx)``; returns all iterates."""
    def sgd_iterates(sample_grad, theta1, schedule, indices):
        theta = np.asarray(theta1, dtype=float)
        thetas = [theta]
        for k in range(1, len(indices) + 1):
            theta = update(theta, k, schedule, sample_grad, indices[k - 1])
            thetas.append(theta)
        return np.stack(thetas)
    return sgd_iterates


def _loglog(fit):
    return lambda k, v: fit(np.asarray(k, float), np.asarray(v, float))


def _vectorized(f):
    """A schedule factory whose returned function works on ints and arrays like the reference."""
    return lambda *params: (lambda k: f(np.asarray(k, dtype=float), *params) * 1.0
                            if np.ndim(k) else float(f(np.asarray(k, dtype=float), *params)))


REFERENCE = {
    "check_stochastic_gradient": lambda theta, j: theta - A[j],
    "check_constant": _vectorized(lambda k, tau: np.full(np.shape(k), tau) if np.ndim(k) else tau + 0 * k),
    "check_geometric": _vectorized(lambda k, tau0, q: tau0 * q ** k),
    "check_inverse_power": _vectorized(lambda k, tau0, alpha: tau0 / k ** alpha),
    "check_sgd_iterates": _sgd(lambda theta, k, s, g, i: theta - s(k) * g(theta, i)),
    "check_loglog_slope": _loglog(lambda k, v: float(np.polyfit(np.log(k), np.log(v), 1)[0])),
}

MUTANTS = {
    "check_stochastic_gradient": {
        "sign flipped": lambda theta, j: A[j] - theta,
        "indices swapped": lambda theta, j: theta - A[1 - np.asarray(j)],
        "full gradient": lambda theta, j: 2 * theta + 0 * np.asarray(j),
        "missing a_j": lambda theta, j: theta + 0 * np.asarray(j),
        "returns a list": lambda theta, j: list(np.atleast_1d(theta - A[j])),
        "float32": lambda theta, j: np.asarray(theta - A[j], dtype=np.float32),
        "calls the reference": lambda theta, j: sanity_check_sample_grad(theta, j),
    },
    "check_constant": {
        "scalar for arrays": lambda tau: (lambda k: tau),
        "ignores tau": lambda tau: (lambda k: np.ones(np.shape(k)) if np.ndim(k) else 1.0),
        "decays": _vectorized(lambda k, tau: tau / k),
        "calls the reference": lambda tau: ref_schedules.constant(tau),
        "not a factory": lambda tau: tau,
    },
    "check_geometric": {
        "off by one (k-1)": _vectorized(lambda k, tau0, q: tau0 * q ** (k - 1)),
        "off by one (k+1)": _vectorized(lambda k, tau0, q: tau0 * q ** (k + 1)),
        "q and tau0 swapped": _vectorized(lambda k, tau0, q: q * tau0 ** k),
        "missing tau0": _vectorized(lambda k, tau0, q: q ** k),
        "integer dtype": lambda tau0, q: (lambda k: (tau0 * q ** np.asarray(k)).astype(int)
                                          if np.ndim(k) else tau0 * q ** k),
        "calls the reference": lambda tau0, q: ref_schedules.geometric(tau0, q),
    },
    "check_inverse_power": {
        "off by one (k+1)": _vectorized(lambda k, tau0, alpha: tau0 / (k + 1) ** alpha),
        "off by one (k-1)": _vectorized(lambda k, tau0, alpha: tau0 / np.maximum(k - 1, 1) ** alpha),
        "missing alpha": _vectorized(lambda k, tau0, alpha: tau0 / k),
        "multiplies": _vectorized(lambda k, tau0, alpha: tau0 * k ** alpha),
        "sqrt always": _vectorized(lambda k, tau0, alpha: tau0 / np.sqrt(k)),
        "calls the reference": lambda tau0, alpha: ref_schedules.inverse_power(tau0, alpha),
    },
    "check_sgd_iterates": {
        "sign flipped": _sgd(lambda theta, k, s, g, i: theta + s(k) * g(theta, i)),
        "off by one: tau(k+1)": _sgd(lambda theta, k, s, g, i: theta - s(k + 1) * g(theta, i)),
        "constant first step size": _sgd(lambda theta, k, s, g, i: theta - s(1) * g(theta, i)),
        "ignores the index": _sgd(lambda theta, k, s, g, i: theta - s(k) * g(theta, np.zeros_like(i))),
        "gradient at the start": lambda sample_grad, theta1, schedule, indices: _sgd(
            lambda theta, k, s, g, i: theta - s(k) * g(np.asarray(theta1, float), i))(
                sample_grad, theta1, schedule, indices),
        "forgets theta(1)": lambda sample_grad, theta1, schedule, indices: _sgd(
            lambda theta, k, s, g, i: theta - s(k) * g(theta, i))(sample_grad, theta1, schedule, indices)[1:],
        "returns only the last iterate": lambda sample_grad, theta1, schedule, indices: _sgd(
            lambda theta, k, s, g, i: theta - s(k) * g(theta, i))(sample_grad, theta1, schedule, indices)[-1],
        "runs on the wrong axis": lambda sample_grad, theta1, schedule, indices: _sgd(
            lambda theta, k, s, g, i: theta - s(k) * g(theta, i))(sample_grad, theta1, schedule, indices).T,
        "calls the reference": lambda sample_grad, theta1, schedule, indices: ref_sgd.sgd_iterates(
            sample_grad, theta1, schedule, indices),
    },
    "check_loglog_slope": {
        "no logarithms": _loglog(lambda k, v: float(np.polyfit(k, v, 1)[0])),
        "intercept": _loglog(lambda k, v: float(np.polyfit(np.log(k), np.log(v), 1)[1])),
        "axes swapped": _loglog(lambda k, v: float(np.polyfit(np.log(v), np.log(k), 1)[0])),
        "two-point slope": _loglog(lambda k, v: float((np.log(v[-1]) - np.log(v[0])) / (np.log(k[-1]) - np.log(k[0])))),
        "sign flipped": _loglog(lambda k, v: -float(np.polyfit(np.log(k), np.log(v), 1)[0])),
        "assumes a falling curve": _loglog(lambda k, v: -abs(float(np.polyfit(np.log(k), np.log(v), 1)[0]))),
        "calls the reference": lambda k, v: ref_sgd.loglog_slope(k, v),
    },
}


seeded = mutation.seeds(1, 2, 3)


@pytest.mark.parametrize("check", sorted(REFERENCE))
def test_reference_passes(check, seeded):
    getattr(hidden, check)(REFERENCE[check])


def test_every_mutant_is_caught(seeded, capsys):
    mutation.assert_all_caught("step_sizes", capsys, (
        (f"{check}: {name}", lambda check=check, mutant=mutant: getattr(hidden, check)(mutant))
        for check, mutants in MUTANTS.items() for name, mutant in mutants.items()))


def test_every_graded_function_has_mutants():
    checks = {name for name in dir(hidden) if name.startswith("check_")}
    assert checks == set(MUTANTS) == set(REFERENCE)


@pytest.mark.parametrize("mutant, words", [
    (MUTANTS["check_stochastic_gradient"]["sign flipped"], "sign looks flipped"),
    (MUTANTS["check_stochastic_gradient"]["calls the reference"], "calls the reference implementation"),
])
def test_failures_explain_themselves(mutant, words, seeded):
    with pytest.raises(CheckFailed, match=words):
        hidden.check_stochastic_gradient(mutant)


@pytest.mark.parametrize("check, mutant, words", [
    ("check_geometric", "off by one (k-1)", "off by one"),
    ("check_sgd_iterates", "forgets theta(1)", "K\\+1 iterates"),
    ("check_sgd_iterates", "off by one: tau(k+1)", "off by one"),
    ("check_sgd_iterates", "sign flipped", "against the gradient"),
    ("check_constant", "scalar for arrays", "must be an\\s+array of that shape"),
    ("check_loglog_slope", "no logarithms", "log\\(values\\)"),
])
def test_known_mistakes_get_hints(check, mutant, words, seeded):
    with pytest.raises(CheckFailed, match=words):
        getattr(hidden, check)(MUTANTS[check][mutant])


def test_unimplemented_function_says_so():
    def stub(theta, j):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="replace `raise NotImplementedError\\(\\)`"):
        hidden.check_stochastic_gradient(stub)
