"""Hidden tests of the GD-vs-SGD assignment: the notebook's solution passes, every mutant fails.

The reference is the solution code of the source notebook itself (so notebook and hidden tests cannot
drift apart). A mutant is that code with one realistic mistake typed in (a text edit, as in the demo
class); each must raise ``CheckFailed``. Mutants run against the check functions directly.
"""

from pathlib import Path

import pytest

import mutation
from autograder.checks import CheckFailed
from autograder.demo import reference_answers, with_bug
from autograder.hidden_tests import gd_vs_sgd as hidden

SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "source" / "gd_vs_sgd" / "gd_vs_sgd.ipynb"
ANSWERS = reference_answers(SOURCE)

# graded cell -> the hidden check of the function of the same name that it defines
CHECKS = {
    "full_gradient": hidden.check_full_gradient,
    "minibatch_gradient": hidden.check_minibatch_gradient,
    "descent": hidden.check_descent,
    "bias_variance": hidden.check_bias_variance,
    "minibatch_variance": hidden.check_minibatch_variance,
    "descent_fraction": hidden.check_descent_fraction,
}

# cell -> {mutant: [(old, new), ...] edits of the reference answer, each `old` occurring exactly once}
MUTANTS = {
    "full_gradient": {
        "sign flipped": [("X @ theta - y", "y - X @ theta")],
        "mean instead of sum": [("(X @ theta - y)", "(X @ theta - y) / len(y)")],
        "missing the y term": [("X @ theta - y", "X @ theta")],
        "factor 2 (forgot the 1/2)": [("return X.T", "return 2 * X.T")],
        "per-example rows, not summed": [("return X.T @ (X @ theta - y)", "return (X @ theta - y)[:, None] * X")],
        "summed over the wrong axis": [("return X.T @ (X @ theta - y)",
                                        "return np.sum((X @ theta - y)[:, None] * X, axis=1)")],
        "float32": [("return X.T @ (X @ theta - y)", "return (X.T @ (X @ theta - y)).astype(np.float32)")],
        "calls the reference": [("return X.T @ (X @ theta - y)",
                                 "from course.problems import least_squares_grad\n    return least_squares_grad(theta, X, y)")],
    },
    "minibatch_gradient": {
        "sign flipped": [("Xb @ theta - yb", "yb - Xb @ theta")],
        "factor |I|/N": [("len(y) / len(idx)", "len(idx) / len(y)")],
        "always rescaled": [("g * (len(y) / len(idx)) if unbiased else g", "g * (len(y) / len(idx))")],
        "never rescaled": [("g * (len(y) / len(idx)) if unbiased else g", "g")],
        "mean instead of sum": [("if unbiased else g", "if unbiased else g / len(idx)")],
        "unbiased: N // |I|": [("len(y) / len(idx)", "len(y) // len(idx)")],
        "unbiased: N times the sum": [("g * (len(y) / len(idx))", "g * len(y)")],
        "duplicates dropped": [("X[idx], y[idx]", "X[np.unique(idx)], y[np.unique(idx)]")],
        "duplicates dropped, also in N/|I|": [("Xb, yb = X[idx], y[idx]", "idx = np.unique(idx)\n    Xb, yb = X[idx], y[idx]")],
        "ignores the minibatch": [("Xb, yb = X[idx], y[idx]", "Xb, yb = X, y")],
        "off by one: 1-based indices": [("X[idx], y[idx]", "X[idx - 1], y[idx - 1]")],
        "N taken from the wrong axis": [("len(y) / len(idx)", "X.shape[1] / len(idx)")],
        "calls the reference": [("Xb, yb = X[idx], y[idx]",
                                 "from course.minibatch import minibatch_gradient as _ref\n"
                                 "    return _ref(theta, X, y, idx, unbiased)\n    Xb, yb = X[idx], y[idx]")],
    },
    "descent": {
        "sign flipped": [("theta - schedule(k)", "theta + schedule(k)")],
        "off by one: tau(k+1)": [("schedule(k)", "schedule(k + 1)")],
        "off by one: next batch": [("batches[k - 1]", "batches[k % len(batches)]")],
        "constant first step size": [("schedule(k)", "schedule(1)")],
        "gradient at the start": [("grad(theta, idx)", "grad(np.asarray(theta1, dtype=float), idx)")],
        "forgets theta(1)": [("thetas, work = [theta], [0]", "thetas, work = [], [0]")],
        "counts steps": [("work[-1] + len(idx)", "work[-1] + 1")],
        "not cumulative": [("work.append(work[-1] + len(idx))", "work.append(len(idx))")],
        "work without the start": [("np.array(work)", "np.array(work[1:])")],
        "every batch as large as the first": [("work[-1] + len(idx)", "work[-1] + len(batches[0])")],
        "calls the reference": [("theta = np.asarray(theta1, dtype=float)",
                                 "from course.minibatch import descent as _ref\n"
                                 "    return _ref(grad, theta1, schedule, batches)")],
    },
    "bias_variance": {
        "bias sign flipped": [("mean - true_grad", "true_grad - mean")],
        "1/R instead of 1/(R-1)": [("/ (len(estimates) - 1)", "/ len(estimates)")],
        "mean over the wrong axis": [("estimates.mean(axis=0)", "estimates.mean(axis=1, keepdims=True)")],
        "per-coordinate variances": [("np.sum((estimates - mean) ** 2)", "np.sum((estimates - mean) ** 2, axis=0)"),
                                     ("float(variance)", "variance")],
        "spread around the true gradient": [("(estimates - mean) ** 2", "(estimates - true_grad) ** 2")],
        "standard deviation": [("float(variance)", "float(np.sqrt(variance))")],
        "averaged over coordinates": [("/ (len(estimates) - 1)", "/ (len(estimates) - 1) / estimates.shape[1]")],
        "bias without the true gradient": [("mean - true_grad", "mean")],
    },
    "minibatch_variance": {
        "variance of the mean (no N^2)": [("var = N ** 2 / batch_size * s2", "var = s2 / batch_size")],
        "no 1/B": [("var = N ** 2 / batch_size * s2", "var = N ** 2 * s2")],
        "no finite-population factor": [("var = var * (N - batch_size) / (N - 1)", "var = var")],
        "factor (N-B)/N": [("(N - batch_size) / (N - 1)", "(N - batch_size) / N")],
        "factor on the wrong sampler": [("if not replace:", "if replace:")],
        "not centred": [("(G - G.mean(axis=0))", "G")],
        "centred at the full gradient": [("G.mean(axis=0)", "G.sum(axis=0)")],
        "standard deviation": [("return float(var)", "return float(np.sqrt(var))")],
        "sums over the wrong axis": [("np.sum((G - G.mean(axis=0)) ** 2, axis=1)",
                                      "np.sum((G - G.mean(axis=0)) ** 2, axis=0)")],
        "off by one: (N-1)^2": [("N ** 2 / batch_size", "(N - 1) ** 2 / batch_size")],
    },
    "descent_fraction": {
        "uphill fraction (sign)": [("> 0))", "< 0))")],
        "counts zero inner products": [("> 0))", ">= 0))")],
        "count, not fraction": [("np.mean(G @ G.sum(axis=0) > 0)", "np.sum(G @ G.sum(axis=0) > 0)")],
        "residual sign only": [("G @ G.sum(axis=0) > 0", "(X @ theta - y) > 0")],
        "missing the y term": [("(X @ theta - y)", "(X @ theta)")],
        "wrong axis": [("G @ G.sum(axis=0)", "G.T @ G.sum(axis=1)")],
    },
}


SUITE = mutation.Suite.one_function_per_cell(ANSWERS, CHECKS, MUTANTS)
seeded = mutation.seeds(1, 2, 3, 4)  # a mutant must be caught whatever the inputs


@pytest.mark.parametrize("cell", sorted(CHECKS))
def test_reference_passes(cell, seeded):
    SUITE.check(cell)


def test_every_mutant_is_caught(seeded, capsys):
    SUITE.assert_every_mutant_caught("gd_vs_sgd", capsys)


def test_every_graded_function_has_checks_and_mutants():
    SUITE.assert_complete(hidden)
    assert set(CHECKS) == {cell for cell in ANSWERS if not cell.startswith("answer_")}


@pytest.mark.parametrize("cell, mutant, words", [
    ("full_gradient", "sign flipped", "sign looks flipped"),
    ("full_gradient", "mean instead of sum", "plain sum"),
    ("full_gradient", "missing the y term", "a term is missing"),
    ("full_gradient", "per-example rows, not summed", "their sum"),
    ("full_gradient", "calls the reference", "calls the reference implementation"),
    ("minibatch_gradient", "factor |I|/N", "not \\|I\\(k\\)\\| / N"),
    ("minibatch_gradient", "always rescaled", "only when unbiased=True"),
    ("minibatch_gradient", "ignores the minibatch", "take only the rows"),
    ("minibatch_gradient", "duplicates dropped", "counts twice"),
    ("minibatch_gradient", "duplicates dropped, also in N/|I|", "counts twice"),
    ("descent", "off by one: tau(k+1)", "off by one"),
    ("descent", "forgets theta(1)", "K\\+1 iterates"),
    ("descent", "counts steps", "not steps"),
    ("descent", "not cumulative", "cumulative"),
    ("descent", "every batch as large as the first", "work counter"),
    ("bias_variance", "1/R instead of 1/(R-1)", "R - 1"),
    ("bias_variance", "per-coordinate variances", "one number"),
    ("bias_variance", "spread around the true gradient", "around the mean"),
    ("minibatch_variance", "no finite-population factor", "finite-population factor"),
    ("minibatch_variance", "variance of the mean (no N^2)", "N\\^2"),
    ("minibatch_variance", "not centred", "subtract the mean"),
    ("descent_fraction", "counts zero inner products", "strictly positive"),
    ("descent_fraction", "count, not fraction", "fraction"),
])
def test_known_mistakes_get_hints(cell, mutant, words, seeded):
    with pytest.raises(CheckFailed, match=words):
        SUITE.check(cell, SUITE.mutant(cell, MUTANTS[cell][mutant]))


def test_unimplemented_function_says_so():
    def full_gradient(theta, X, y):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="replace `raise NotImplementedError\\(\\)`"):
        hidden.check_full_gradient(full_gradient)


def test_inputs_are_drawn_per_run_and_fixed_within_a_run(monkeypatch):
    """The same seed asks the same questions (grading twice gives the same score); another seed others."""
    (mutant,) = SUITE.functions("minibatch_variance",
                                SUITE.mutant("minibatch_variance", MUTANTS["minibatch_variance"]["not centred"]))

    def message(seed):
        monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
        with pytest.raises(CheckFailed) as failure:
            hidden.check_minibatch_variance(mutant)
        return str(failure.value)

    assert message(7) == message(7)
    assert message(7) != message(8)


@pytest.mark.parametrize("bug", hidden.DEMO_BUGS, ids=lambda b: b.student)
def test_demo_bugs_cost_exactly_their_cells(bug, seeded):
    """Each demo bug applies to the reference answer and fails exactly the checks it says it costs."""
    assert SUITE.failed_tests(with_bug(ANSWERS, bug)) == set(bug.costs)
