"""Hidden tests of the fully connected network assignment: the reference passes, every mutant fails.

The reference is the solution code of the source notebook itself (its solution cells, run here as
plain Python). A mutant is that code with one edit, a mistake students make; each must raise
``CheckFailed``. The checks are called directly, so the whole table takes a few seconds, not a
notebook run per mutant.
"""

import builtins
import contextlib
import dis
import inspect
import re
import sys
import textwrap
import types

import nbformat
import numpy as np
import pytest

import course.train
from course.validate import check_returned
from autograder import remote
from autograder.checks import CheckFailed, _forbid_calls_into
from loopback import LoopbackKernel
import mutation
from mutation import mutate, run_cell
from autograder.demo import reference_answers, with_bug
from autograder.grading import REPO_SOURCE
from autograder.hidden_tests import mlp as hidden

SOURCE = REPO_SOURCE / "mlp" / "mlp.ipynb"
ANSWERS = reference_answers(SOURCE)

# graded test cell -> (its check, the student functions it takes, in order)
TESTS = {
    "test_linear_forward": ("check_linear_forward", ["linear_forward"]),
    "test_linear_backward": ("check_linear_backward", ["linear_backward"]),
    "test_relu": ("check_relu", ["relu_forward", "relu_backward"]),
    "test_softmax_cross_entropy": ("check_softmax_cross_entropy", ["softmax_cross_entropy"]),
    "test_numerical_gradient": ("check_numerical_gradient", ["numerical_gradient"]),
    "test_epoch_minibatches": ("check_epoch_minibatches", ["epoch_minibatches"]),
    "test_train": ("check_train", ["train"]),
}
CELL = {"check_linear_forward": "linear_layer", "check_linear_backward": "linear_layer", "check_relu": "relu",
        "check_softmax_cross_entropy": "softmax_cross_entropy", "check_numerical_gradient": "numerical_gradient",
        "check_epoch_minibatches": "epoch_minibatches", "check_train": "train"}
FUNCTIONS = {check: names for check, names in TESTS.values()}


REFERENCE_CALL = {  # a solution that hands the work to the course library
    "check_linear_forward": [("out = x @ W + b\n    cache = (x, W)",
                              "from course.nn import linear_forward as ref\n    out, cache = ref(x, W, b)")],
    "check_linear_backward": [("    x, W = cache\n", "    from course.nn import linear_backward as ref\n"
                               "    return ref(dout, cache)\n")],
    "check_relu": [("    x = cache\n", "    from course.nn import relu_backward as ref\n    return ref(dout, cache)\n")],
    "check_softmax_cross_entropy": [("    B = scores.shape[0]\n", "    from course.nn import softmax_cross_entropy as r"
                                     "\n    return r(scores, y)\n")],
    "check_numerical_gradient": [("    grad = np.zeros(theta.shape)\n", "    from course.gradcheck import "
                                  "numerical_gradient as ref\n    return ref(f, theta, eps)\n")],
    "check_epoch_minibatches": [("    perm = rng.permutation(n)\n", "    from course.data import epoch_minibatches"
                                 " as ref\n    return list(ref(n, batch_size, rng))\n")],
    "check_train": [("    state = optimizer.init(params)\n",
                     "    import course.train\n    return course.train.train(loss_and_grad, params, X, y, "
                     "optimizer, batches, epochs=epochs, batch_size=batch_size, rng=rng, on_epoch=on_epoch)\n")],
}

LOOP_STEP = ("            step_losses.append(float(loss))\n"
             "            updates, state = optimizer.update(grads, state, params)\n"
             "            params = {key: params[key] + updates[key] for key in params}\n")

MUTANTS = {
    "check_linear_forward": {
        "missing bias": [("out = x @ W + b\n", "out = x @ W\n")],
        "bias subtracted": [("out = x @ W + b\n", "out = x @ W - b\n")],
        "output transposed": [("out = x @ W + b\n", "out = (x @ W + b).T\n")],
        "divided by the batch size": [("out = x @ W + b\n", "out = (x @ W + b) / len(x)\n")],
        "off by one: last example dropped": [("out = x @ W + b\n", "out = x[:-1] @ W + b\n")],
        "always float64": [("out = x @ W + b\n", "out = (x @ W + b).astype(np.float64)\n")],
        "cache (x, W, b)": [("    cache = (x, W)\n", "    cache = (x, W, b)\n")],
        "cache (out, W)": [("    cache = (x, W)\n", "    cache = (out, W)\n")],
    },
    "check_linear_backward": {
        "db over axis 1": [("db = dout.sum(axis=0)", "db = dout.sum(axis=1)")],
        "db averaged": [("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")],
        "db of the first example": [("db = dout.sum(axis=0)", "db = dout[0]")],
        "squeezed dx": [("return dx, dW, db", "return np.squeeze(dx), dW, db")],
        "db off by one: last example skipped": [("db = dout.sum(axis=0)", "db = dout[:-1].sum(axis=0)")],
        "db missing": [("db = dout.sum(axis=0)", "db = np.zeros(W.shape[1])")],
        "dW transposed": [("dW = x.T @ dout", "dW = dout.T @ x")],
        "dW averaged": [("dW = x.T @ dout", "dW = x.T @ dout / len(x)")],
        "dW sign flipped": [("dW = x.T @ dout", "dW = -(x.T @ dout)")],
        "dx without transpose": [("dx = dout @ W.T", "dx = dout @ W")],
        "dx sign flipped": [("dx = dout @ W.T", "dx = -dout @ W.T")],
        "results in the wrong order": [("return dx, dW, db", "return dW, dx, db")],
        "dx missing": [("return dx, dW, db", "return dW, db")],
    },
    "check_relu": {
        "ReLU'(0) = 1": [("return dout * (x > 0)", "return dout * (x >= 0)")],
        "mask from dout": [("return dout * (x > 0)", "return dout * (dout > 0)")],
        "mask without dout": [("return dout * (x > 0)", "return (x > 0).astype(x.dtype)")],
        "backward sign flipped": [("return dout * (x > 0)", "return -dout * (x > 0)")],
        "leaky backward": [("return dout * (x > 0)", "return dout * np.where(x > 0, 1.0, 0.01).astype(x.dtype)")],
        "always float64": [("return dout * (x > 0)", "return dout * (x > 0).astype(np.float64)")],
        "min instead of max": [("return np.maximum(x, 0), x", "return np.minimum(x, 0), x")],
        "absolute value": [("return np.maximum(x, 0), x", "return np.abs(x), x")],
        "cache is the output": [("return np.maximum(x, 0), x", "return np.maximum(x, 0), np.maximum(x, 0)")],
        "returns only out": [("return np.maximum(x, 0), x", "return np.maximum(x, 0)")],
    },
    "check_softmax_cross_entropy": {
        "sum instead of mean": [("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()")],
        "loss sign flipped": [("loss = -log_probs[rows, y].mean()", "loss = log_probs[rows, y].mean()")],
        "loss as an array": [("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].mean(keepdims=True)")],
        "dscores not divided by B": [("    dscores /= B\n", "")],
        "dscores divided by C": [("dscores /= B", "dscores /= scores.shape[1]")],
        "no one-hot subtracted": [("dscores[rows, y] -= 1", "dscores[rows, y] -= 0")],
        "off by one: one-hot of y + 1": [("dscores[rows, y] -= 1", "dscores[rows, (y + 1) % scores.shape[1]] -= 1")],
        "dscores sign flipped": [("return loss, dscores", "return loss, -dscores")],
        "softmax over axis 0": [("scores.max(axis=1, keepdims=True)", "scores.max(axis=0, keepdims=True)"),
                                ("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)")],
        "no max subtracted (overflows)": [("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")],
        "global max subtracted": [("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores - scores.max()")],
        "max over axis 0 subtracted": [("scores.max(axis=1, keepdims=True)", "scores.max(axis=0, keepdims=True)")],
        "log of rounded probabilities": [("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                                          "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))")],
        "dscores always float64": [("return loss, dscores", "return loss, dscores.astype(np.float64)")],
    },
    "check_numerical_gradient": {
        "forward difference": [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f(theta)) / eps")],
        "missing factor 2": [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f_minus) / eps")],
        "sign flipped": [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_minus - f_plus) / (2 * eps)")],
        "theta not restored": [("        theta[i] = old\n", "")],
        "perturbs a copy": [("theta[i] = old + eps\n        f_plus = f(theta)\n        theta[i] = old - eps\n"
                             "        f_minus = f(theta)",
                             "t = theta.copy()\n        t[i] = old + eps\n        f_plus = f(t)\n"
                             "        t[i] = old - eps\n        f_minus = f(t)")],
        "ignores eps": [("    grad = np.zeros(theta.shape)\n", "    eps = 1e-6\n    grad = np.zeros(theta.shape)\n")],
        "flattened result": [("return grad", "return grad.ravel()")],
        "loops over the first axis only": [("for i in np.ndindex(theta.shape):", "for i in range(theta.shape[0]):")],
        "float32 result": [("grad = np.zeros(theta.shape)", "grad = np.zeros(theta.shape, dtype=np.float32)")],
    },
    "check_epoch_minibatches": {
        "no shuffle": [("perm = rng.permutation(n)", "perm = np.arange(n)")],
        "drops the last chunk": [("range(0, n, batch_size)", "range(0, n - batch_size + 1, batch_size)")],
        "off by one: chunks one short": [("perm[i:i + batch_size]", "perm[i:i + batch_size - 1]")],
        "off by one: overlapping chunks": [("perm[i:i + batch_size]", "perm[i:i + batch_size + 1]")],
        "off by one: starts at 1": [("range(0, n, batch_size)", "range(1, n, batch_size)")],
        "wrong stride": [("range(0, n, batch_size)", "range(0, n, max(batch_size - 1, 1))")],
        "sampling with replacement": [("perm = rng.permutation(n)", "perm = rng.integers(0, n, size=n)")],
        "another shuffle": [("perm = rng.permutation(n)", "perm = rng.choice(n, size=n, replace=False)")],
        "an extra draw from rng": [("perm = rng.permutation(n)", "perm = rng.permutation(n)\n    rng.random()")],
        "chunks as lists": [("perm[i:i + batch_size]", "perm[i:i + batch_size].tolist()")],
        "a generator instead of a list": [("    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]",
                                           "    for i in range(0, n, batch_size):\n        yield perm[i:i + batch_size]")],
    },
    "check_train": {
        "optimizer restarted every epoch": [
            ("    state = optimizer.init(params)\n    step_losses = []\n    for epoch in range(1, epochs + 1):\n",
             "    step_losses = []\n    for epoch in range(1, epochs + 1):\n        state = optimizer.init(params)\n")],
        "optimizer state not carried": [("updates, state = optimizer.update(grads, state, params)",
                                         "updates, _ = optimizer.update(grads, state, params)")],
        "gradient ascent": [("params[key] + updates[key]", "params[key] - updates[key]")],
        "loss recorded after the step": [(LOOP_STEP, LOOP_STEP.replace("            step_losses.append(float(loss))\n", "")
                                          + "            step_losses.append(float(loss_and_grad(params, X[idx], y[idx])[0]))\n")],
        "one shuffle for all epochs": [("    state = optimizer.init(params)\n",
                                        "    state = optimizer.init(params)\n    chunks = list(batches(len(X), batch_size, rng))\n"),
                                       ("for idx in batches(len(X), batch_size, rng):", "for idx in chunks:")],
        "off by one: one epoch too few": [("range(1, epochs + 1)", "range(1, epochs)")],
        "on_epoch counts from 0": [("on_epoch(epoch, params)", "on_epoch(epoch - 1, params)")],
        "params changed in place": [("            params = {key: params[key] + updates[key] for key in params}\n",
                                     "            for key in params:\n                params[key] += updates[key]\n")],
        "labels not indexed": [("loss_and_grad(params, X[idx], y[idx])", "loss_and_grad(params, X[idx], y[:len(idx)])")],
        "the whole data set every step": [("loss_and_grad(params, X[idx], y[idx])", "loss_and_grad(params, X, y)")],
        "on_epoch=None not handled": [("        if on_epoch is not None:\n            on_epoch(epoch, params)\n",
                                       "        on_epoch(epoch, params)\n")],
        "one loss too few": [("    return params, step_losses", "    return params, step_losses[:-1]")],
    },
}
for _check, _edits in REFERENCE_CALL.items():
    MUTANTS[_check]["calls the reference"] = _edits


# other correct ways to write each function: the checks must accept them (no false failures)
CORRECT_VARIANTS = {
    "check_linear_forward": {
        "np.dot and an explicit broadcast": [("out = x @ W + b\n", "out = np.dot(x, W) + b[None, :]\n")],
        "einsum": [("out = x @ W + b\n", "out = np.einsum('bi,io->bo', x, W) + b\n")],
    },
    "check_linear_backward": {
        "np.sum and dot": [("db = dout.sum(axis=0)", "db = np.sum(dout, axis=0)"),
                           ("dW = x.T @ dout", "dW = np.dot(x.T, dout)")],
        "a loop over the batch": [("dW = x.T @ dout", "dW = sum(np.outer(x[j], dout[j]) for j in range(len(x)))")],
    },
    "check_relu": {
        "x times its mask": [("return np.maximum(x, 0), x", "return x * (x > 0), x")],
        "np.where": [("return np.maximum(x, 0), x", "return np.where(x > 0, x, 0), x"),
                     ("return dout * (x > 0)", "return np.where(x > 0, dout, 0)")],
        "a masked copy": [("return dout * (x > 0)", "dx = dout.copy()\n    dx[x <= 0] = 0\n    return dx")],
    },
    "check_softmax_cross_entropy": {
        "probabilities first": [
            ("    dscores = np.exp(log_probs)\n", "    dscores = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n")],
        "one-hot matrix in the dtype of scores": [
            ("    dscores[rows, y] -= 1\n    dscores /= B\n",
             "    dscores = (dscores - np.eye(scores.shape[1], dtype=scores.dtype)[y]) / B\n")],
        "loss as a python float": [("return loss, dscores", "return float(loss), dscores")],
    },
    "check_numerical_gradient": {
        "a flat view": [("    grad = np.zeros(theta.shape)\n", "    grad = np.zeros(theta.shape)\n"
                         "    flat, grad_view = theta.reshape(-1), grad.reshape(-1)  # views of the same data\n"),
                        ("for i in np.ndindex(theta.shape):", "for i in range(theta.size):"),
                        ("old = theta[i]", "old = flat[i]"), ("theta[i] = old + eps", "flat[i] = old + eps"),
                        ("theta[i] = old - eps", "flat[i] = old - eps"), ("        theta[i] = old\n", "        flat[i] = old\n"),
                        ("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad_view[i] = (f_plus - f_minus) / (2 * eps)")],
        "perturb and undo": [("        theta[i] = old - eps\n", "        theta[i] -= 2 * eps\n"),
                             ("        theta[i] = old\n", "        theta[i] += eps\n")],
    },
    "check_epoch_minibatches": {
        "shuffle an arange in place": [("perm = rng.permutation(n)", "perm = np.arange(n)\n    rng.shuffle(perm)")],
    },
    "check_train": {
        "apply_updates from course.optim": [("params = {key: params[key] + updates[key] for key in params}",
                                             "params = __import__('course.optim').optim.apply_updates(params, updates)")],
        "copies, then in-place additions": [("            params = {key: params[key] + updates[key] for key in params}\n",
                                             "            params = {key: value.copy() for key, value in params.items()}\n"
                                             "            for key in params:\n                params[key] += updates[key]\n")],
        "update without params, losses as numpy scalars": [
            ("optimizer.update(grads, state, params)", "optimizer.update(grads, state)"),
            ("step_losses.append(float(loss))", "step_losses.append(loss)")],
    },
}


SUITE = mutation.Suite(ANSWERS, {check: mutation.Graded(test, getattr(hidden, check), CELL[check], tuple(names))
                                  for test, (check, names) in TESTS.items()}, MUTANTS)
seeded = mutation.seeds(1, 2, 3)


@pytest.mark.parametrize("check", sorted(FUNCTIONS))
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_reference_passes(check, seed, monkeypatch):
    monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
    SUITE.check(check)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # some mutants overflow, as they would for a student
def test_every_mutant_is_caught(seeded, capsys):
    SUITE.assert_every_mutant_caught("mlp", capsys)


@pytest.mark.parametrize("mutant", ["global max subtracted", "max over axis 0 subtracted"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_shift_by_another_maximum_than_the_rows_is_caught_on_every_seed(mutant, monkeypatch):
    """Issue 23.1: a softmax shifted by the global maximum passed the hidden tests on 200 seeds, since
    no drawn batch had rows whose maxima lie far apart; it returns -inf for [[1000, 0], [0, 1]]."""
    check = "check_softmax_cross_entropy"
    (wrong,) = SUITE.functions(check, SUITE.mutant(check, MUTANTS[check][mutant]))
    if mutant == "global max subtracted":
        with np.errstate(all="ignore"):
            assert not np.isfinite(wrong(np.array([[1000.0, 0.0], [0.0, 1.0]]), np.array([0, 1]))[0])
    for seed in range(200):
        monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
        with pytest.raises(CheckFailed):
            hidden.check_softmax_cross_entropy(wrong)


@pytest.mark.parametrize("check, variant", [(c, v) for c, vs in CORRECT_VARIANTS.items() for v in vs])
def test_other_correct_solutions_pass(check, variant, seeded):
    SUITE.check(check, SUITE.mutant(check, CORRECT_VARIANTS[check][variant]))


def test_every_graded_function_has_several_mutants():
    SUITE.assert_complete(hidden)


@pytest.mark.parametrize("check, mutant, words", [
    ("check_linear_backward", "db over axis 1", "not axis 1"),
    ("check_linear_backward", "db averaged", "do not average"),
    ("check_linear_backward", "dW averaged", "do not divide by the batch size"),
    ("check_linear_backward", "dW transposed", "W's shape"),
    ("check_linear_backward", "dx sign flipped", "sign looks flipped"),
    ("check_linear_forward", "missing bias", "add the bias"),
    ("check_linear_forward", "cache (x, W, b)", "the cache must be the tuple \\(x, W\\)"),
    ("check_relu", "ReLU'(0) = 1", "ReLU'\\(0\\) = 0"),
    ("check_relu", "mask from dout", "not from dout"),
    ("check_softmax_cross_entropy", "sum instead of mean", "MEAN over the batch"),
    ("check_softmax_cross_entropy", "no one-hot subtracted", "subtract 1 at the true class"),
    ("check_softmax_cross_entropy", "off by one: one-hot of y + 1", "shifted by one class"),
    ("check_softmax_cross_entropy", "no max subtracted (overflows)", "subtract each row's maximum"),
    ("check_softmax_cross_entropy", "global max subtracted", "not the global one"),
    ("check_softmax_cross_entropy", "softmax over axis 0", "axis=1"),
    ("check_softmax_cross_entropy", "calls the reference", "calls the reference implementation"),
    ("check_numerical_gradient", "forward difference", "forward difference"),
    ("check_numerical_gradient", "missing factor 2", "2 eps"),
    ("check_numerical_gradient", "theta not restored", "Restore every entry"),
    ("check_numerical_gradient", "perturbs a copy", "in place"),
    ("check_numerical_gradient", "ignores eps", "use the eps that is passed in"),
    ("check_epoch_minibatches", "no shuffle", "shuffle first"),
    ("check_epoch_minibatches", "drops the last chunk", "last, shorter chunk"),
    ("check_epoch_minibatches", "another shuffle", "rng.permutation\\(n\\)"),
    ("check_epoch_minibatches", "an extra draw from rng", "exactly one permutation"),
    ("check_epoch_minibatches", "off by one: overlapping chunks", "exactly once per epoch"),
    ("check_epoch_minibatches", "a generator instead of a list", "as a list of index arrays"),
    ("check_train", "optimizer restarted every epoch", "optimizer.init\\(params\\) once"),
    ("check_train", "gradient ascent", "params \\+ updates"),
    ("check_train", "one shuffle for all epochs", "once per epoch"),
    ("check_train", "params changed in place", "changed the arrays"),
    ("check_train", "on_epoch counts from 0", "epoch = 1, ..., "),
    ("check_train", "calls the reference", "calls the reference implementation"),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_known_mistakes_get_hints(check, mutant, words, seeded):
    with pytest.raises(CheckFailed, match=words):
        SUITE.check(check, SUITE.mutant(check, MUTANTS[check][mutant]))


def test_unimplemented_function_says_so():
    def stub(*args, **kwargs):
        raise NotImplementedError()
    for check, names in FUNCTIONS.items():
        with pytest.raises(CheckFailed, match="replace `raise NotImplementedError\\(\\)`"):
            getattr(hidden, check)(*[stub] * len(names))


# ---------------------------------------------------------------------------------------- the notebook's side

def _cells():
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(SOURCE, as_version=4).cells
            if "nbgrader" in c.metadata}


def test_each_test_cell_runs_its_own_check_on_its_own_functions():
    cells = _cells()
    graded = {gid for gid, c in cells.items() if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"}
    assert graded == set(TESTS)
    for gid, (check, names) in TESTS.items():
        hidden_part = cells[gid].source.split("### BEGIN HIDDEN TESTS")[1]
        assert f"from autograder.hidden_tests.mlp import {check}\n{check}({', '.join(names)})" in hidden_part


@pytest.mark.parametrize("test_cell", sorted(TESTS))
def test_visible_tests_need_only_their_own_functions(test_cell):
    """Every other student function raises NotImplementedError, and the visible tests still pass."""
    check, names = TESTS[test_cell]
    namespace = {"np": np, "check_returned": check_returned}   # what the notebook's import cell gives them
    for code in ANSWERS.values():
        if code.lstrip().startswith("def "):
            for name in re.findall(r"^def (\w+)\(", code, flags=re.M):
                namespace[name] = _not_implemented
    namespace.update(run_cell(ANSWERS[CELL[check]]))
    visible = _cells()[test_cell].source.split("### BEGIN HIDDEN TESTS")[0]
    exec(compile(visible, test_cell, "exec"), namespace)


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("bug", hidden.DEMO_BUGS, ids=[b.student for b in hidden.DEMO_BUGS])
def test_each_demo_bug_fails_exactly_its_cells(bug, seeded):
    """The checks a buggy submission fails are exactly bug.costs (the pipeline test grades them too)."""
    failed = SUITE.failed_tests(with_bug(ANSWERS, bug))
    assert failed == set(bug.costs), f"{bug.description}: fails {failed}"


def test_grading_draws_new_inputs_per_run_and_the_same_for_a_seed(monkeypatch):
    """The same seed gives the same inputs (so regrading is stable); another seed gives others."""
    seen = []

    def spy(x, W, b):
        seen.append(x.copy())
        return x @ W + b, (x, W)

    for seed in (7, 7, 8):
        monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
        hidden.check_linear_forward(spy)
    n = len(seen) // 3                                   # calls per run
    first, again, other = seen[:n], seen[n:2 * n], seen[2 * n:]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not any(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))


# ---------------------------------------------------------------------------------------- through the protocol

COURSE_MODULES = [m for name, m in sorted(sys.modules.items())
                  if (name == "course" or name.startswith("course.")) and getattr(m, "__file__", None)]


def WireKernel(namespace):
    """A loopback kernel (``tests/loopback.py``) that records every call into ``course`` while the
    kernel's side runs: the sandbox's course has no reference solutions, so nothing the kernel runs for
    a check may need it (``course_calls``)."""
    calls = []

    @contextlib.contextmanager
    def recording():
        with _forbid_calls_into(COURSE_MODULES) as seen:
            yield
        calls.extend(seen)

    kernel = LoopbackKernel(namespace, around=recording)
    kernel.course_calls = calls
    return kernel


def _over_the_wire(check, code=None):
    """(the check's student functions as proxies of a WireKernel running ``code``, the kernel)."""
    kernel = WireKernel(run_cell(code if code is not None else ANSWERS[CELL[check]], CELL[check]))
    return [remote.RemoteFunction(kernel, name, name) for name in FUNCTIONS[check]], kernel


@pytest.mark.parametrize("check", sorted(FUNCTIONS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reference_passes_through_the_protocol(check, seed, monkeypatch):
    monkeypatch.setenv(mutation.SEED_VARIABLE, str(seed))
    functions, kernel = _over_the_wire(check)
    getattr(hidden, check)(*functions)
    assert kernel.course_calls == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_every_mutant_is_caught_through_the_protocol(seeded, capsys):
    """The same table, the student's code behind the protocol (as in the sandbox). "calls the
    reference" is left out: there, course's reference raises NotImplementedError in the kernel."""
    def over_the_wire(check, code):
        functions, kernel = _over_the_wire(check, code)
        try:
            getattr(hidden, check)(*functions)
        finally:
            assert kernel.course_calls == [], f"{check}: the kernel called {kernel.course_calls[:3]}"

    SUITE.assert_every_mutant_caught("mlp (through the protocol)", capsys, run=over_the_wire,
                                     skip=("calls the reference",))


@pytest.mark.parametrize("check, variant", [(c, v) for c, vs in CORRECT_VARIANTS.items() for v in vs
                                            if "course" not in v])
def test_other_correct_solutions_pass_through_the_protocol(check, variant, seeded):
    functions, _ = _over_the_wire(check, SUITE.mutant(check, CORRECT_VARIANTS[check][variant]))
    getattr(hidden, check)(*functions)


@pytest.mark.parametrize("check, mutant, words", [
    ("check_numerical_gradient", "theta not restored", "Restore every entry"),
    ("check_numerical_gradient", "perturbs a copy", "in place"),
    ("check_numerical_gradient", "forward difference", "forward difference"),
    ("check_epoch_minibatches", "an extra draw from rng", "exactly one permutation"),
    ("check_epoch_minibatches", "a generator instead of a list", "as a list of index arrays, got generator"),
    ("check_train", "params changed in place", "changed the arrays"),
    ("check_train", "optimizer restarted every epoch", "optimizer.init\\(params\\) once"),
    ("check_train", "one shuffle for all epochs", "once per epoch"),
    ("check_train", "on_epoch counts from 0", "epoch = 1, ..., "),
    ("check_train", "labels not indexed", "the labels must be y\\[idx\\]"),
    ("check_train", "on_epoch=None not handled", "raised TypeError"),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_known_mistakes_get_hints_through_the_protocol(check, mutant, words, seeded):
    functions, _ = _over_the_wire(check, SUITE.mutant(check, MUTANTS[check][mutant]))
    with pytest.raises(CheckFailed, match=words):
        getattr(hidden, check)(*functions)


def test_unimplemented_function_says_so_through_the_protocol():
    for check, names in FUNCTIONS.items():
        stubs = "".join(f"def {name}(*args, **kwargs):\n    raise NotImplementedError()\n" for name in names)
        functions, _ = _over_the_wire(check, stubs)
        with pytest.raises(CheckFailed, match="replace `raise NotImplementedError\\(\\)`"):
            getattr(hidden, check)(*functions)


def test_train_passes_another_rng_to_batches():
    """batches must get train's own rng (the recorder sends its state back, the grader replays it)."""
    code = mutate(ANSWERS["train"], [("batches(len(X), batch_size, rng)",
                                      "batches(len(X), batch_size, np.random.default_rng(0))")])
    functions, _ = _over_the_wire("check_train", code)
    with pytest.raises(CheckFailed, match="batches did not get the rng passed to train"):
        hidden.check_train(*functions)


FIXTURES = [obj for name, obj in vars(hidden).items() if inspect.isfunction(obj)
            and obj.__module__ == hidden.__name__ and (obj.__doc__ or "").startswith("A test fixture")]


def _names_read(code):
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names_read(const)


def test_fixtures_need_numpy_only():
    """The kernel runs a fixture's source with numpy as np and nothing else: no other name of the
    module (it would fail there, NameError), no import (course is stripped of its solutions there)."""
    assert {f.__name__ for f in FIXTURES} == {"probe_case", "least_squares_loss", "stateful_optimizer",
                                              "minibatch_recorder", "epoch_recorder", "argument_watcher"}
    for factory in FIXTURES:
        source = textwrap.dedent(inspect.getsource(factory))
        assert "import" not in source, factory.__name__
        code = compile(source, factory.__name__, "exec")
        foreign = set(_names_read(code)) - {"np", "__name__", factory.__name__} - set(dir(builtins))
        assert not foreign, f"{factory.__name__} reads {foreign}"


def test_batches_fixture_draws_as_course_samplers():
    """The expected run is course.train.train's: its samplers must draw what the batches fixture draws."""
    for replacement, sampler in ((False, "shuffle"), (True, "replacement")):
        for n, B in ((17, 5), (12, 4), (3, 8)):
            ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
            batches = hidden.minibatch_recorder(replacement)
            for _ in range(3):
                mine = batches(n, B, ours)
                ref = list(course.train.SAMPLERS[sampler](n, B, theirs))
                assert len(mine) == len(ref) and all(np.array_equal(a, b) for a, b in zip(mine, ref))
            assert ours.bit_generator.state == theirs.bit_generator.state
