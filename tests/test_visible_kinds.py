"""The visible tests check what a function returns as grading does (issue 14, point 6).

Every exercise's visible test cell runs what it returns through ``course.validate.check_returned``
(the kind/shape/dtype check) or ``check_close`` (that and the values: grading's ``assert_matches``). Here each visible test cell runs (the
cell, not the notebook) with the reference answers, and with one answer wrapped so that it returns
the right values in the wrong kind: a list for a number or an array, a wrong shape, a wrong dtype
where grading checks it. The reference passes; every wrong kind fails the visible test with grading's
message (a ``ReturnedValueError``, which only ``check_returned`` raises, so its text is grading's).
A wrong value is ``tests/test_visible_mistakes.py``'s.
"""

import ast

import nbformat
import numpy as np
import pytest
from mutation import run_cell

from autograder.demo import reference_answers
from autograder.grading import REPO_SOURCE
from course.nn import maxpool_forward
from course.autodiff import Value
from course.validate import ReturnedValueError, check_returned

IMPORTS = "from course.validate import check_returned"
NUMBER, NDARRAY, SHAPE, DTYPE = "expected a number", "expected an ndarray", "expected shape", "expected dtype"

# test cell -> [(function, mistake, the wrong result as an expression of the right one r, the words)]
# A "schedule:" function is a factory: the mistake is in the schedule it returns, r = schedule(k).
MUTANTS = {
    "step_sizes": {
        "test_stochastic_gradient": [
            ("stochastic_gradient", "a list", "np.atleast_1d(r).tolist()", NUMBER + " (-0.5), got list [-0.5]"),
            ("stochastic_gradient", "a column", "r[:, None] if np.ndim(r) else r", SHAPE + " (3,), got shape (3, 1)"),
            ("stochastic_gradient", "float32", "np.asarray(r, np.float32) if np.ndim(r) else r", DTYPE + " float64"),
        ],
        "test_constant": [
            ("schedule:constant", "a list", "np.atleast_1d(r).tolist()", NUMBER + " (0.3), got list [0.3]"),
            ("schedule:constant", "a scalar for an array of k", "0.3", NDARRAY + " of shape (4,), got float 0.3"),
            ("schedule:constant", "a column", "r[:, None] if np.ndim(r) else r", SHAPE + " (4,), got shape (4, 1)"),
            ("schedule:constant", "float32", "np.asarray(r, np.float32) if np.ndim(r) else r", DTYPE + " float64"),
        ],
        "test_geometric": [
            ("schedule:geometric", "a 1-element array", "np.atleast_1d(r)", NUMBER + " (0.5), got ndarray(shape=(1,)"),
            ("schedule:geometric", "a list", "r.tolist() if np.ndim(r) else r", NDARRAY + " of shape (3,), got list"),
        ],
        "test_inverse_power": [
            ("schedule:inverse_power", "a list", "np.atleast_1d(r).tolist()", NUMBER + " (0.25), got list [0.25]"),
            ("schedule:inverse_power", "float32", "np.asarray(r, np.float32) if np.ndim(r) else r", DTYPE + " float64"),
        ],
        "test_sgd_iterates": [
            ("sgd_iterates", "a list of iterates", "list(r)", NDARRAY + " of shape (3,), got list"),
            ("sgd_iterates", "forgets theta(1)", "r[1:]", SHAPE + " (3,), got shape (2,)"),
            ("sgd_iterates", "runs on the wrong axis", "r.T if r.ndim == 2 else r", SHAPE + " (6, 4), got shape (4, 6)"),
        ],
        "test_loglog_slope": [
            ("loglog_slope", "np.polyfit's coefficients", "np.array([r, 0.0])", NUMBER + " (-0.5), got ndarray(shape=(2,)"),
        ],
    },
    "adagrad": {
        "test_adagrad_norm_run": [
            ("adagrad_norm_run", "taus as a list", "(r[0], list(r[1]))", NDARRAY + " of shape (2,), got list"),
            ("adagrad_norm_run", "float32 iterates", "(r[0].astype(np.float32), r[1])", DTYPE + " float64, got dtype float32"),
            ("adagrad_norm_run", "taus as a column", "(r[0], r[1][..., None])", SHAPE + " (2,), got shape (2, 1)"),
        ],
        "test_working_decades": [("working_decades", "a list", "[r]", NUMBER + " (3.0), got list [")],
        "test_tau_limit": [
            ("tau_limit", "a list", "[r]", "For tau_limit(0.5, G, 1): expected a number (0.5), got list [0.5]."),
        ],
        "test_adagrad_diag_run": [
            ("adagrad_diag_run", "thetas as a list", "(list(r[0]), r[1])", NDARRAY + " of shape (3, 2), got list"),
            ("adagrad_diag_run", "one tau per step", "(r[0], r[1][..., 0])", SHAPE + " (2, 2), got shape (2,)"),
        ],
    },
    "gd_vs_sgd": {
        "test_full_gradient": [
            ("full_gradient", "a list", "r.tolist()", NDARRAY + " of shape (2,), got list [2.0, 2.0]"),
            ("full_gradient", "a row", "r[None]", SHAPE + " (2,), got shape (1, 2)"),
        ],
        "test_minibatch_gradient": [
            ("minibatch_gradient", "a list", "r.tolist()", NDARRAY + " of shape (2,), got list"),
            ("minibatch_gradient", "float32", "r.astype(np.float32)", DTYPE + " float64, got dtype float32"),
        ],
        "test_descent": [
            ("descent", "work as a list", "(r[0], list(r[1]))", NDARRAY + " of shape (3,), got list"),
            ("descent", "work as floats", "(r[0], r[1].astype(float))", DTYPE + " int64, got dtype float64"),
            ("descent", "thetas as a list", "(list(r[0]), r[1])", NDARRAY + " of shape (3, 2), got list"),
        ],
        "test_bias_variance": [
            ("bias_variance", "the variance per coordinate", "(r[0], np.full(r[0].shape, r[1] / 2))",
             "[variance]: " + NUMBER + " (4.0), got ndarray(shape=(2,)"),
            ("bias_variance", "the bias as a list", "(list(r[0]), r[1])", "[bias]: " + NDARRAY),
        ],
        "test_minibatch_variance": [("minibatch_variance", "a list", "[r]", NUMBER + " (2.0), got list [")],
        "test_descent_fraction": [("descent_fraction", "a 1-element array", "np.array([r])", NUMBER + " (0.5), got ndarray")],
    },
    "mlp": {
        "test_linear_forward": [
            ("linear_forward", "out as a list", "(r[0].tolist(), r[1])", NDARRAY + " of shape (3, 3), got list"),
            ("linear_forward", "out in float32", "(r[0].astype(np.float32), r[1])", DTYPE + " float64, got dtype float32"),
        ],
        "test_linear_backward": [
            ("linear_backward", "dW transposed", "(r[0], r[1].T, r[2])", "the second result dW: " + SHAPE + " (2, 3), got shape (3, 2)"),
            ("linear_backward", "db as a list", "(r[0], r[1], r[2].tolist())", "the third result db: " + NDARRAY),
        ],
        "test_relu": [
            ("relu_forward", "out as a list", "(r[0].tolist(), r[1])", "the output out: " + NDARRAY + " of shape (2, 3)"),
            ("relu_backward", "float32", "r.astype(np.float32)", "relu_backward(dout=<all 5>, x): " + DTYPE + " float64"),
        ],
        "test_softmax_cross_entropy": [
            ("softmax_cross_entropy", "the loss per example", "(np.full(2, r[0]), r[1])", "the loss: " + NUMBER),
            ("softmax_cross_entropy", "dscores as a list", "(r[0], r[1].tolist())", "dscores: " + NDARRAY + " of shape (2, 4)"),
        ],
        "test_numerical_gradient": [
            ("numerical_gradient", "flattened", "r.ravel()", SHAPE + " (2, 2), got shape (4,)"),
        ],
        "test_train": [
            ("train", "params as lists", "({k: v.tolist() for k, v in r[0].items()}, r[1])",
             "the returned params['w']: " + NDARRAY + " of shape (1,), got list [1.875]"),
        ],
    },
    "nonsmooth": {
        "test_clarke_interval": [
            ("clarke_interval", "a list [lo, hi]", "list(r)", NDARRAY + " of shape (2,), got list"),
            ("clarke_interval", "a column", "np.asarray(r)[:, None]", SHAPE + " (2,), got shape (2, 1)"),
        ],
        "test_convex_hull": [
            ("convex_hull", "a list of corners", "r.tolist()", NDARRAY + " of shape (4, 2), got list"),
            ("convex_hull", "the first corner repeated", "np.vstack([r, r[:1]])", SHAPE + " (4, 2), got shape (5, 2)"),
        ],
        "test_maxpool_backward": [
            ("maxpool_backward", "float32 always", "r.astype(np.float32)", DTYPE + " float64, got dtype float32"),
            ("maxpool_backward", "float64 always", "r.astype(np.float64)", DTYPE + " float32, got dtype float64"),
            ("maxpool_backward", "a list", "r.tolist()", NDARRAY + " of shape (1, 4, 4), got list"),
        ],
        "test_local_derivatives": [
            ("local_derivatives", "Values, not numbers", "tuple(Value(d) for d in r)", NUMBER + " (-3.0), got Value"),
            ("local_derivatives", "1-element arrays", "tuple(np.array([d]) for d in r)", NUMBER + " (-3.0), got ndarray(shape=(1,)"),
        ],
        "test_backward": [
            ("grads:backward", "grads as 1-element arrays", "np.array([g])", "x.grad: " + NUMBER + " (-1.0), got ndarray(shape=(1,)"),
        ],
    },
}
"""Every graded test cell of every notebook but one, whose function's result grading does not compare
with ``assert_matches``: mlp's test_epoch_minibatches (grading wants each minibatch as a 1-D ndarray of
any integer dtype; its visible test asserts that, in grading's words)."""


def _notebook(assignment):
    return nbformat.read(REPO_SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def _answers(assignment):
    """The reference answers of the code solution cells: grade_id -> source."""
    nb = _notebook(assignment)
    code = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    return {gid: src for gid, src in reference_answers(REPO_SOURCE / assignment / f"{assignment}.ipynb").items()
            if gid in code}


def _visible(assignment, test_cell):
    cell = next(c for c in _notebook(assignment).cells if c.metadata.get("nbgrader", {}).get("grade_id") == test_cell)
    return cell.source.split("### BEGIN HIDDEN TESTS")[0]


def _wrapper(function, wrong):
    """Source that wraps the answer's ``function`` so that it returns ``wrong`` (an expression of the
    right result r), as a student's function returning the right numbers in the wrong kind would."""
    kind, _, name = function.rpartition(":")
    head = f"_exact_{name} = {name}\n\ndef {name}(*args, **kwargs):\n"
    if kind == "schedule":
        return head + (f"    schedule = _exact_{name}(*args, **kwargs)\n"
                       f"    def wrong(k):\n        r = schedule(k)\n        return {wrong}\n    return wrong\n")
    if kind == "grads":         # backward returns nothing: every node's .grad becomes the wrong kind
        return head + (f"    _exact_{name}(*args, **kwargs)\n    stack, seen = [args[0]], set()\n"
                       "    while stack:\n        node = stack.pop()\n        if id(node) not in seen:\n"
                       f"            seen.add(id(node))\n            g = node.grad\n            node.grad = {wrong}\n"
                       "            stack.extend(node.parents)\n")
    return head + f"    r = _exact_{name}(*args, **kwargs)\n    return {wrong}\n"


def _run(assignment, test_cell, mutant=None):
    """Run one visible test cell after the reference answers (and ``mutant``'s wrapper)."""
    namespace = {"np": np, "check_returned": check_returned, "Value": Value, "maxpool_forward": maxpool_forward}
    for gid, answer in _answers(assignment).items():          # in the notebook's order
        run_cell(answer, gid, namespace)
    if mutant is not None:
        function, _, wrong, _ = mutant
        run_cell(_wrapper(function, wrong), f"wrong kind: {function}", namespace)
    with np.errstate(all="ignore"):
        run_cell(_visible(assignment, test_cell), test_cell, namespace)


CASES = [(a, cell) for a, cells in MUTANTS.items() for cell in cells]
MUTANT_CASES = [(a, cell, m) for a, cells in MUTANTS.items() for cell, ms in cells.items() for m in ms]


@pytest.mark.parametrize("assignment", sorted(MUTANTS))
def test_every_graded_function_is_checked_and_the_import_cell_imports_the_check(assignment):
    nb = _notebook(assignment)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert IMPORTS in first.source, f"{assignment}: import check_returned in the first code cell"
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source.split("### BEGIN HIDDEN TESTS")[0] for c in nb.cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    assert set(tests) - {"test_epoch_minibatches"} == set(MUTANTS[assignment])
    for test_cell in MUTANTS[assignment]:
        assert "check_returned(" in tests[test_cell] or "check_close(" in tests[test_cell], test_cell
        checked = {f.rpartition(":")[2] for f, *_ in MUTANTS[assignment][test_cell]}
        called = {n.func.id for n in ast.walk(ast.parse(tests[test_cell]))
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert checked <= called, f"{test_cell}: a mutant of a function its visible tests do not call"
    for test_cell, source in tests.items():
        assert "from autograder" not in source, "a grading kernel has no autograder: import from course"


@pytest.mark.parametrize("assignment, test_cell", CASES, ids=[c for _, c in CASES])
def test_the_reference_answers_pass_the_visible_tests(assignment, test_cell):
    _run(assignment, test_cell)


@pytest.mark.parametrize("assignment, test_cell, mutant", MUTANT_CASES,
                         ids=[f"{c}-{m[1]}" for _, c, m in MUTANT_CASES])
def test_a_wrong_kind_fails_the_visible_tests_with_gradings_message(assignment, test_cell, mutant):
    with pytest.raises(ReturnedValueError) as failure:
        _run(assignment, test_cell, mutant)
    message = str(failure.value)
    assert message.startswith("For ") and mutant[3] in message, message


def test_a_list_of_lists_fails_the_visible_test_of_epoch_minibatches():
    """Grading wants each minibatch as a 1-D integer ndarray (any integer dtype); so does the visible test."""
    with pytest.raises(AssertionError, match="each minibatch must be a 1-D integer array of indices"):
        _run("mlp", "test_epoch_minibatches", ("epoch_minibatches", "lists", "[c.tolist() for c in r]", ""))
    _run("mlp", "test_epoch_minibatches", ("epoch_minibatches", "int32 chunks", "[c.astype(np.int32) for c in r]", ""))
