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

CELLS = {
    "adagrad_norm": ("adagrad_norm", hidden.check_adagrad_norm),
    "adagrad_diag": ("adagrad_diag", hidden.check_adagrad_diag),
    "tau_limit": ("tau_limit", hidden.check_tau_limit),
    "working_decades": ("working_decades", hidden.check_working_decades),
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
    "calls the reference": [("theta = np.asarray(theta1, dtype=float)",
                             "from course import adaptive as _ref\n"
                             "    return _ref.{run}(grad, theta1, indices, eta, c0)")],
}

MUTANTS = {
    "adagrad_norm": {
        **LOOP_MUTANTS,
        "off by one: tau from c(k)": [("c = c + np.sum(g ** 2, axis=-1)\n        tau = eta / np.sqrt(c)",
                                       "tau = eta / np.sqrt(c + 1e-12)\n        c = c + np.sum(g ** 2, axis=-1)")],
        "norm not squared": [("np.sum(g ** 2, axis=-1)", "np.sqrt(np.sum(g ** 2, axis=-1))")],
        "not accumulated": [("c = c + np.sum", "c = c0 + np.sum")],
        "sums over all runs (wrong axis)": [("np.sum(g ** 2, axis=-1)", "np.sum(g ** 2)")],
        "sums over runs (axis 0)": [("np.sum(g ** 2, axis=-1)", "np.sum(g ** 2, axis=0)")],
        "mean instead of sum": [("np.sum(g ** 2, axis=-1)", "np.mean(g ** 2, axis=-1)")],
        "diagonal instead of norm": [("np.sum(g ** 2, axis=-1)", "g ** 2"), ("tau[..., None] * g", "tau * g")],
    },
    "adagrad_diag": {
        **LOOP_MUTANTS,
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
RUN = {"adagrad_norm": "adagrad_norm_run", "adagrad_diag": "adagrad_diag_run"}


def define(cell, source):
    """Run a cell's answer as the student's kernel would; return the function it defines."""
    return mutation.define(source, CELLS[cell][0], cell)


def mutate(cell, edits):
    return mutation.mutate(ANSWERS[cell], [(old, new.replace("{run}", RUN.get(cell, ""))) for old, new in edits], cell)


@pytest.fixture(params=[1, 2, 3, 4])
def seeded(request, monkeypatch):
    monkeypatch.setenv("SGD_COURSE_GRADING_SEED", str(request.param))


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_reference_passes(cell, seeded):
    CELLS[cell][1](define(cell, ANSWERS[cell]))


def test_every_mutant_is_caught(seeded, capsys):
    caught, total, alive = mutation.survivors(
        (f"{cell}: {name}", lambda cell=cell, edits=edits: CELLS[cell][1](define(cell, mutate(cell, edits))))
        for cell, mutants in MUTANTS.items() for name, edits in mutants.items())
    with capsys.disabled():
        print(f"\nadagrad mutation score: {caught}/{total}")
    assert not alive, f"mutants not caught: {alive}"


def test_every_graded_function_has_checks_and_mutants():
    checks = {name for name in dir(hidden) if name.startswith("check_")}
    assert checks == {check.__name__ for _, check in CELLS.values()}
    assert set(MUTANTS) == set(CELLS) == {cell for cell in ANSWERS if not cell.startswith("answer_")}
    assert all(len(m) >= 5 for m in MUTANTS.values())


@pytest.mark.parametrize("cell, mutant, words", [
    ("adagrad_norm", "off by one: tau from c(k)", "off by one"),
    ("adagrad_norm", "sign flipped", "against the gradient"),
    ("adagrad_norm", "missing eta", "scale eta"),
    ("adagrad_norm", "norm not squared", "squared norm"),
    ("adagrad_norm", "not accumulated", "accumulates"),
    ("adagrad_norm", "sums over all runs (wrong axis)", "its own c"),
    ("adagrad_norm", "forgets theta(1)", "K\\+1 iterates"),
    ("adagrad_norm", "calls the reference", "calls the reference implementation"),
    ("adagrad_diag", "missing the square root", "square root"),
    ("adagrad_diag", "one c per run, taus per run", "one step size per coordinate"),
    ("tau_limit", "missing the batch size", "B \\* mean"),
    ("tau_limit", "sum over examples, not mean", "average"),
    ("working_decades", "natural log", "log10"),
    ("working_decades", "strict <", "<="),
])
def test_known_mistakes_get_hints(cell, mutant, words, seeded):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match=words):
        CELLS[cell][1](define(cell, mutate(cell, MUTANTS[cell][mutant])))


def test_inputs_are_drawn_per_run_and_fixed_within_a_run(monkeypatch):
    mutant = define("tau_limit", mutate("tau_limit", MUTANTS["tau_limit"]["missing the batch size"]))

    def message(seed):
        monkeypatch.setenv("SGD_COURSE_GRADING_SEED", str(seed))
        with pytest.raises(CheckFailed) as failure:
            hidden.check_tau_limit(mutant)
        return str(failure.value)

    assert message(7) == message(7)
    assert message(7) != message(8)


@pytest.mark.parametrize("bug", hidden.DEMO_BUGS, ids=lambda b: b.student)
def test_demo_bugs_cost_exactly_their_cells(bug, seeded):
    buggy = with_bug(ANSWERS, bug)
    failed = set()
    for cell, (_, check) in CELLS.items():
        try:
            with np.errstate(all="ignore"):
                check(define(cell, buggy[cell]))
        except CheckFailed:
            failed.add("test_" + cell)
    assert failed == set(bug.costs)
