"""Hidden tests of the AdaGrad assignment: the notebook's solution passes, every mutant fails.

As in tests/test_hidden_gd_vs_sgd.py: the reference is the source notebook's solution code, a mutant is
that code with one realistic mistake typed in, and each mutant must raise ``CheckFailed``.
"""

from pathlib import Path

import numpy as np
import pytest

import mutation
from autograder.checks import CheckFailed
from autograder.demo import reference_answers, with_bug
from autograder.hidden_tests import adagrad as hidden

SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "source" / "adagrad" / "adagrad.ipynb"
ANSWERS = reference_answers(SOURCE)

# graded cell -> the hidden check of the function of the same name that it defines
CHECKS = {
    "adagrad_norm_run": hidden.check_adagrad_norm_run,
    "adagrad_diag_run": hidden.check_adagrad_diag_run,
    "tau_limit": hidden.check_tau_limit,
    "working_decades": hidden.check_working_decades,
}

# mistakes both AdaGrad loops can have, as edits that apply to both answers
LOOP_MUTANTS = {
    "sign flipped": [("theta = theta - tau", "theta = theta + tau")],
    "off by one: next index set": [("indices[k - 1]", "indices[k % len(indices)]")],
    "missing eta": [("tau = eta / np.sqrt(c)", "tau = 1.0 / np.sqrt(c)")],
    "missing the square root": [("tau = eta / np.sqrt(c)", "tau = eta / c")],
    "forgets theta(1)": [("thetas, taus = [theta], []", "thetas, taus = [], []")],
    "taus records c": [("taus.append(tau)", "taus.append(c)")],
    "ignores c0": [("float(c0)", "0.0 * c0")],
}


def calls_the_reference(run):
    return [("theta = np.asarray(theta1, dtype=float)",
             f"from course import adaptive as _ref\n    return _ref.{run}(grad, theta1, indices, eta, c0)")]


MUTANTS = {
    "adagrad_norm_run": {
        **LOOP_MUTANTS,
        "calls the reference": calls_the_reference("adagrad_norm_run"),
        "off by one: tau from c(k)": [("c = c + np.sum(g ** 2, axis=-1)\n        tau = eta / np.sqrt(c)",
                                       "tau = eta / np.sqrt(c + 1e-12)\n        c = c + np.sum(g ** 2, axis=-1)")],
        "norm not squared": [("np.sum(g ** 2, axis=-1)", "np.sqrt(np.sum(g ** 2, axis=-1))")],
        "not accumulated": [("c = c + np.sum", "c = c0 + np.sum")],
        "sums over all runs (wrong axis)": [("np.sum(g ** 2, axis=-1)", "np.sum(g ** 2)")],
        "sums over runs (axis 0)": [("np.sum(g ** 2, axis=-1)", "np.sum(g ** 2, axis=0)")],
        "mean instead of sum": [("np.sum(g ** 2, axis=-1)", "np.mean(g ** 2, axis=-1)")],
        "diagonal instead of norm": [("np.sum(g ** 2, axis=-1)", "g ** 2"), ("tau[..., None] * g", "tau * g")],
    },
    "adagrad_diag_run": {
        **LOOP_MUTANTS,
        "calls the reference": calls_the_reference("adagrad_diag_run"),
        "off by one: tau from c(k)": [("c = c + g ** 2\n        tau = eta / np.sqrt(c)",
                                       "tau = eta / np.sqrt(c + 1e-12)\n        c = c + g ** 2")],
        "abs instead of square": [("c = c + g ** 2", "c = c + np.abs(g)")],
        "not accumulated": [("c = c + g ** 2", "c = c0 + g ** 2")],
        "norm instead of per coordinate": [("c = c + g ** 2", "c = c + np.sum(g ** 2, axis=-1, keepdims=True)")],
        "one c per run, taus per run": [("np.full(theta.shape, float(c0))", "np.full(theta.shape[:-1], float(c0))"),
                                        ("c = c + g ** 2", "c = c + np.sum(g ** 2, axis=-1)"),
                                        ("theta - tau * g", "theta - tau[..., None] * g")],
    },
    "tau_limit": {
        "missing the batch size": [("batch_size * np.mean", "np.mean")],
        "sum over examples, not mean": [("np.mean(np.sum(G ** 2, axis=1))", "np.sum(G ** 2)")],
        "missing the square root": [("eta / np.sqrt(sigma2)", "eta / sigma2")],
        "norms not squared": [("np.sum(G ** 2, axis=1)", "np.sqrt(np.sum(G ** 2, axis=1))")],
        "batch size outside the root": [("batch_size * np.mean", "np.mean"),
                                        ("eta / np.sqrt(sigma2)", "eta / (batch_size * np.sqrt(sigma2))")],
        "eta times sigma": [("eta / np.sqrt(sigma2)", "eta * np.sqrt(sigma2)")],
        "wrong axis": [("np.sum(G ** 2, axis=1)", "np.sum(G ** 2, axis=0)")],
        "calls the reference": [("sigma2 = ", "from course.adaptive import tau_limit as _ref\n"
                                              "    return _ref(eta, G, batch_size)\n    sigma2 = ")],
    },
    "working_decades": {
        "natural log": [("np.log10(", "np.log(")],
        "min over max": [("works.max() / works.min()", "works.min() / works.max()")],
        "strict <": [("gaps <= tol", "gaps < tol")],
        "assumes sorted etas": [("works.max() / works.min()", "works[-1] / works[0]")],
        "a nan gap works": [("etas[gaps <= tol]", "etas[~(gaps > tol)]")],
        "ignores the gaps": [("etas[gaps <= tol]", "etas")],
        "counts scales": [("float(np.log10(works.max() / works.min()))", "float(len(works))")],
        "no case for nothing working": [("if len(works) == 0:\n        return 0.0\n    ", "")],
        "nan when nothing works": [("return 0.0", "return float('nan')")],
        "calls the reference": [("works = ", "from course.adaptive import working_decades as _ref\n"
                                             "    return _ref(etas, gaps, tol)\n    works = ")],
    },
}
SUITE = mutation.Suite.one_function_per_cell(ANSWERS, CHECKS, MUTANTS)
seeded = mutation.seeds(1, 2, 3, 4)


@pytest.mark.parametrize("cell", sorted(CHECKS))
def test_reference_passes(cell, seeded):
    SUITE.check(cell)


def test_every_mutant_is_caught(seeded, capsys):
    SUITE.assert_every_mutant_caught("adagrad", capsys)


def test_every_graded_function_has_checks_and_mutants():
    SUITE.assert_complete(hidden)
    assert set(CHECKS) == {cell for cell in ANSWERS if not cell.startswith("answer_")}


@pytest.mark.parametrize("cell, mutant, words", [
    ("adagrad_norm_run", "off by one: tau from c(k)", "off by one"),
    ("adagrad_norm_run", "sign flipped", "against the gradient"),
    ("adagrad_norm_run", "missing eta", "scale eta"),
    ("adagrad_norm_run", "norm not squared", "squared norm"),
    ("adagrad_norm_run", "not accumulated", "accumulates"),
    ("adagrad_norm_run", "sums over all runs (wrong axis)", "its own c"),
    ("adagrad_norm_run", "forgets theta(1)", "K\\+1 iterates"),
    ("adagrad_norm_run", "calls the reference", "calls the reference implementation"),
    ("adagrad_diag_run", "missing the square root", "square root"),
    ("adagrad_diag_run", "one c per run, taus per run", "one step size per coordinate"),
    ("tau_limit", "missing the batch size", "B \\* mean"),
    ("tau_limit", "sum over examples, not mean", "average"),
    ("working_decades", "natural log", "log10"),
    ("working_decades", "strict <", "<="),
])
def test_known_mistakes_get_hints(cell, mutant, words, seeded):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match=words):
        SUITE.check(cell, SUITE.mutant(cell, MUTANTS[cell][mutant]))


def test_inputs_are_drawn_per_run_and_fixed_within_a_run(monkeypatch):
    (mutant,) = SUITE.functions("tau_limit", SUITE.mutant("tau_limit", MUTANTS["tau_limit"]["missing the batch size"]))

    def message(seed):
        monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
        with pytest.raises(CheckFailed) as failure:
            hidden.check_tau_limit(mutant)
        return str(failure.value)

    assert message(7) == message(7)
    assert message(7) != message(8)


@pytest.mark.parametrize("bug", hidden.DEMO_BUGS, ids=lambda b: b.student)
def test_demo_bugs_cost_exactly_their_cells(bug, seeded):
    assert SUITE.failed_tests(with_bug(ANSWERS, bug)) == set(bug.costs)
