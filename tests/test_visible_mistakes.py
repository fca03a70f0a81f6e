"""Typical mistakes fail the visible tests, not only grading (issue 23, point 5).

``MISTAKES`` is the written list of typical mistakes per exercise: for every graded answer cell, the
mistakes students make, each as a source edit of the model solution (``mutation.mutate``), the test cell
whose visible tests must catch it, and, where the visible test names the mistake, words of its message
(the hint ``course.validate.check_close`` adds, or the assertion's text). Each mistake runs in-process:
the notebook's reference answers, then the mistaken answer cell, then the visible part of the test cell
(the hidden block is left out); the visible tests must raise. ``tests/test_hidden_*.py`` hold the other
half: the hidden tests fail mutants on every seed tried.
"""

import nbformat
import numpy as np
import pytest
from mutation import mutate, run_cell

from autograder.demo import reference_answers
from autograder.grading import REPO_SOURCE
from course.nn import maxpool_forward
from course.autodiff import Value
from course.validate import check_returned

# answer cell -> [(mistake, edits of the model solution, test cell that must fail it, words of its message)]
MISTAKES = {
    "step_sizes": {
        "stochastic_gradient": [
            ("sign flipped", [("return theta - a[j]", "return a[j] - theta")], "test_stochastic_gradient", "not a_j - theta"),
            ("a_0 and a_1 swapped", [("np.array([1.0, -1.0])", "np.array([-1.0, 1.0])")], "test_stochastic_gradient", "index j = 0"),
            ("a factor 2", [("return theta - a[j]", "return 2 * (theta - a[j])")], "test_stochastic_gradient", "no factor 2"),
            ("not vectorised over j", [("return theta - a[j]", "return theta - (1.0 if j == 0 else -1.0)")],
             "test_stochastic_gradient", None),
        ],
        "schedules": [
            ("constant: an integer array for integer k",
             [("tau * np.ones_like(k, dtype=float)", "np.full_like(k, tau)")], "test_constant", "expected dtype float64"),
            ("constant: a fixed 0.3", [("tau * np.ones_like", "0.3 * np.ones_like"), ("float(tau)", "0.3")], "test_constant", "2.5"),
            ("constant: one number for an array of k", [("tau * np.ones_like(k, dtype=float) if np.ndim(k) else float(tau)",
                                                         "float(tau)")], "test_constant", "expected an ndarray"),
            ("geometric: exponent k - 1",
             [("tau0 * q ** np.asarray(k, dtype=float) if np.ndim(k) else tau0 * q ** k",
               "tau0 * q ** (np.asarray(k, dtype=float) - 1) if np.ndim(k) else tau0 * q ** (k - 1)")],
             "test_geometric", "not k - 1"),
            ("geometric: tau0 forgotten", [("tau0 * q ** np.asarray(k, dtype=float) if np.ndim(k) else tau0 * q ** k",
                                            "q ** np.asarray(k, dtype=float) if np.ndim(k) else q ** k")],
             "test_geometric", "multiply by tau0"),
            ("inverse_power: alpha forgotten",
             [("tau0 / np.asarray(k, dtype=float) ** alpha if np.ndim(k) else tau0 / k ** alpha",
               "tau0 / np.asarray(k, dtype=float) if np.ndim(k) else tau0 / k")], "test_inverse_power", "power alpha"),
            ("inverse_power: (tau0 / k)^alpha",
             [("tau0 / np.asarray(k, dtype=float) ** alpha if np.ndim(k) else tau0 / k ** alpha",
               "(tau0 / np.asarray(k, dtype=float)) ** alpha if np.ndim(k) else (tau0 / k) ** alpha")],
             "test_inverse_power", "not (tau0 / k)**alpha"),
            ("inverse_power: k + 1",
             [("tau0 / np.asarray(k, dtype=float) ** alpha if np.ndim(k) else tau0 / k ** alpha",
               "tau0 / (np.asarray(k, dtype=float) + 1) ** alpha if np.ndim(k) else tau0 / (k + 1) ** alpha")],
             "test_inverse_power", "not k + 1"),
        ],
        "sgd_iterates": [
            ("steps uphill", [("theta = theta - schedule(k)", "theta = theta + schedule(k)")], "test_sgd_iterates", "against the gradient"),
            ("tau(k - 1)", [("schedule(k)", "schedule(k - 1)")], "test_sgd_iterates", "tau(1), tau(2), tau(3)"),
            ("indices in reverse", [("indices[k - 1]", "indices[-k]")], "test_sgd_iterates", "indices[0] first"),
            ("theta(1) left out", [("thetas = [theta]", "thetas = []")], "test_sgd_iterates", "expected shape (3,)"),
            ("a list of iterates", [("return np.stack(thetas)", "return thetas")], "test_sgd_iterates", "expected an ndarray"),
        ],
        "loglog_slope": [
            ("the intercept", [("slope, _ = np.polyfit", "_, slope = np.polyfit")], "test_loglog_slope", "the slope is the first"),
            ("axes swapped", [("np.polyfit(np.log(k), np.log(values), 1)", "np.polyfit(np.log(values), np.log(k), 1)")],
             "test_loglog_slope", "not log(k) against log(values)"),
            ("no logarithms", [("np.polyfit(np.log(k), np.log(values), 1)", "np.polyfit(k, values, 1)")], "test_loglog_slope", None),
            ("log of k only", [("np.log(values), 1)", "values, 1)")], "test_loglog_slope", None),
        ],
    },
    "gd_vs_sgd": {
        "full_gradient": [
            ("the mean", [("return X.T @ (X @ theta - y)", "return X.T @ (X @ theta - y) / len(y)")], "test_full_gradient", "do not divide by N"),
            ("sign flipped", [("X @ theta - y", "y - X @ theta")], "test_full_gradient", "not y_j - x_j . theta"),
            ("no transpose", [("return X.T @ (X @ theta - y)", "return (X @ theta - y) @ X.T")], "test_full_gradient", None),
            ("a factor 1/2", [("return X.T @ (X @ theta - y)", "return 0.5 * X.T @ (X @ theta - y)")], "test_full_gradient", "expected"),
        ],
        "minibatch_gradient": [
            ("unbiased: N times the sum", [("g * (len(y) / len(idx))", "g * len(y)")], "test_minibatch_gradient", "not by N"),
            ("unbiased: N // B", [("len(y) / len(idx)", "len(y) // len(idx)")], "test_minibatch_gradient", "N // |I| rounds it down"),
            ("unbiased: B / N", [("len(y) / len(idx)", "len(idx) / len(y)")], "test_minibatch_gradient", "expected"),
            ("repeated indices dropped", [("    Xb, yb = X[idx], y[idx]", "    idx = np.unique(idx)\n    Xb, yb = X[idx], y[idx]")],
             "test_minibatch_gradient", "counts twice"),
            ("the mean over the batch", [("g = Xb.T @ (Xb @ theta - yb)", "g = Xb.T @ (Xb @ theta - yb) / len(idx)")],
             "test_minibatch_gradient", "do not average"),
        ],
        "descent": [
            ("work counts steps", [("work.append(work[-1] + len(idx))", "work.append(work[-1] + 1)")], "test_descent", "not steps"),
            ("steps uphill", [("theta = theta - schedule(k)", "theta = theta + schedule(k)")], "test_descent", "against the gradient"),
            ("tau(k - 1)", [("schedule(k)", "schedule(k - 1)")], "test_descent", None),
            ("theta(1) left out", [("thetas, work = [theta], [0]", "thetas, work = [], [0]")], "test_descent", "expected shape"),
        ],
        "bias_variance": [
            ("variance over R", [("/ (len(estimates) - 1)", "/ len(estimates)")], "test_bias_variance", "not by R"),
            ("variance around the true gradient", [("np.sum((estimates - mean) ** 2)", "np.sum((estimates - true_grad) ** 2)")],
             "test_bias_variance", "not around the true gradient"),
            ("bias sign flipped", [("return mean - true_grad", "return true_grad - mean")], "test_bias_variance",
             "mean estimate minus the true gradient"),
            ("variance per coordinate", [("float(variance)", "np.sum((estimates - mean) ** 2, axis=0) / (len(estimates) - 1)")],
             "test_bias_variance", "expected a number"),
        ],
        "minibatch_variance": [
            ("factor (N - B) / N", [("(N - batch_size) / (N - 1)", "(N - batch_size) / N")], "test_minibatch_variance", "(N - B) / N"),
            ("1/B forgotten", [("N ** 2 / batch_size * s2", "N ** 2 * s2")], "test_minibatch_variance", "halves it"),
            ("N instead of N^2", [("N ** 2 / batch_size", "N / batch_size")], "test_minibatch_variance", None),
            ("spread around 0", [("G - G.mean(axis=0)", "G")], "test_minibatch_variance", None),
        ],
        "descent_fraction": [
            (">= 0", [("> 0))", ">= 0))")], "test_descent_fraction", "count > 0, not >= 0"),
            ("uphill counted", [("> 0))", "< 0))")], "test_descent_fraction", "points downhill"),
            ("the count, not the fraction", [("np.mean(G @ G.sum(axis=0) > 0)", "np.sum(G @ G.sum(axis=0) > 0)")],
             "test_descent_fraction", None),
        ],
    },
    "adagrad": {
        "adagrad_norm_run": [
            ("tau before c is updated", [("c = c + np.sum(g ** 2, axis=-1)\n        tau = eta / np.sqrt(c)",
                                          "tau = eta / np.sqrt(c + 1e-300)\n        c = c + np.sum(g ** 2, axis=-1)")],
             "test_adagrad_norm_run", None),
            ("no square root", [("tau = eta / np.sqrt(c)", "tau = eta / c")], "test_adagrad_norm_run", None),
            ("one accumulator for all runs", [("np.sum(g ** 2, axis=-1)", "np.sum(g ** 2)")], "test_adagrad_norm_run", None),
            ("c0 ignored", [("np.full(theta.shape[:-1], float(c0))", "np.zeros(theta.shape[:-1])")], "test_adagrad_norm_run", "start the accumulator at c0"),
            ("|g|_1 instead of |g|^2", [("np.sum(g ** 2, axis=-1)", "np.sum(np.abs(g), axis=-1)")], "test_adagrad_norm_run", None),
        ],
        "working_decades": [
            ("gaps < tol", [("gaps <= tol", "gaps < tol")], "test_working_decades", "not gaps < tol"),
            ("natural logarithm", [("np.log10(", "np.log(")], "test_working_decades", "np.log10"),
            ("assumes sorted etas", [("works.max() / works.min()", "works[-1] / works[0]")], "test_working_decades", "need not be sorted"),
            ("a diverged run works", [("etas[gaps <= tol]", "etas[~(gaps > tol)]")], "test_working_decades", "nan gap"),
            ("all etas", [("works.max() / works.min()", "etas.max() / etas.min()")], "test_working_decades", None),
        ],
        "tau_limit": [
            ("no square root", [("eta / np.sqrt(sigma2)", "eta / sigma2")], "test_tau_limit", "take the square root"),
            ("B divides", [("sigma2 = batch_size * np.mean(np.sum(G ** 2, axis=1))",
                            "sigma2 = np.mean(np.sum(G ** 2, axis=1)) / batch_size")], "test_tau_limit", "not divided by B"),
            ("mean over entries", [("np.mean(np.sum(G ** 2, axis=1))", "np.mean(G ** 2)")], "test_tau_limit", "square the norm of each row"),
            ("sum over examples", [("np.mean(np.sum(G ** 2, axis=1))", "np.sum(G ** 2)")], "test_tau_limit", None),
        ],
        "adagrad_diag_run": [
            ("one accumulator (AdaGrad-Norm)", [("c = c + g ** 2", "c = c + np.sum(g ** 2, axis=-1, keepdims=True)")],
             "test_adagrad_diag_run", None),
            ("c0 ignored", [("np.full(theta.shape, float(c0))", "np.zeros(theta.shape)")], "test_adagrad_diag_run", "start every accumulator at c0"),
            ("no square root", [("tau = eta / np.sqrt(c)", "tau = eta / c")], "test_adagrad_diag_run", None),
            ("eta ignored", [("tau = eta / np.sqrt(c)", "tau = 1 / np.sqrt(c)")], "test_adagrad_diag_run", "multiply by eta"),
        ],
    },
    "mlp": {
        "linear_layer": [
            ("missing bias", [("    out = x @ W + b\n", "    out = x @ W\n")], "test_linear_forward", "add the bias b"),
            ("bias subtracted", [("    out = x @ W + b\n", "    out = x @ W - b\n")], "test_linear_forward", "do not subtract"),
            ("output transposed", [("    out = x @ W + b\n", "    out = (x @ W + b).T\n")], "test_linear_forward", None),
            ("cache (x, W, b)", [("    cache = (x, W)\n", "    cache = (x, W, b)\n")], "test_linear_forward", "tuple (x, W)"),
            ("db averaged", [("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")], "test_linear_backward", "do not average"),
            ("db of the first example", [("db = dout.sum(axis=0)", "db = dout[0]")], "test_linear_backward", "WHOLE batch"),
            ("db over axis 1", [("dout.sum(axis=0)", "dout.sum(axis=1)")], "test_linear_backward", "expected shape"),
            ("dW transposed", [("dW = x.T @ dout", "dW = dout.T @ x")], "test_linear_backward", "expected shape"),
            ("dW averaged", [("dW = x.T @ dout", "dW = x.T @ dout / len(x)")], "test_linear_backward", "do not divide"),
            ("dx sign flipped", [("dx = dout @ W.T", "dx = -dout @ W.T")], "test_linear_backward", "sign"),
        ],
        "relu": [
            ("ReLU'(0) = 1", [("return dout * (x > 0)", "return dout * (x >= 0)")], "test_relu", "not x >= 0"),
            ("mask without dout", [("return dout * (x > 0)", "return (x > 0).astype(x.dtype)")], "test_relu", "by dout"),
            ("min instead of max", [("return np.maximum(x, 0), x", "return np.minimum(x, 0), x")], "test_relu", "not min"),
            ("absolute value", [("return np.maximum(x, 0), x", "return np.abs(x), x")], "test_relu", "not |x|"),
            ("cache is the output", [("return np.maximum(x, 0), x", "return np.maximum(x, 0), np.maximum(x, 0)")],
             "test_relu", "the input x"),
        ],
        "softmax_cross_entropy": [
            ("global max subtracted", [("scores.max(axis=1, keepdims=True)", "scores.max()")],
             "test_softmax_cross_entropy", "not the global one"),
            ("no max subtracted", [("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")],
             "test_softmax_cross_entropy", "huge scores"),
            ("log of rounded probabilities",
             [("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
               "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))")],
             "test_softmax_cross_entropy", "log-sum-exp"),
            ("sum instead of mean", [("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()")],
             "test_softmax_cross_entropy", "MEAN"),
            ("no one-hot subtracted", [("dscores[rows, y] -= 1", "dscores[rows, y] -= 0")], "test_softmax_cross_entropy", "subtract 1"),
            ("dscores not divided by B", [("    dscores /= B\n", "")], "test_softmax_cross_entropy", "divide dscores by B"),
            ("softmax over axis 0", [("scores.max(axis=1, keepdims=True)", "scores.max(axis=0, keepdims=True)"),
                                     ("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)")],
             "test_softmax_cross_entropy", None),
        ],
        "numerical_gradient": [
            ("forward difference", [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f(theta)) / eps")],
             "test_numerical_gradient", "forward difference"),
            ("missing factor 2", [("grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f_minus) / eps")],
             "test_numerical_gradient", "2 eps"),
            ("ignores eps", [("    grad = np.zeros(theta.shape)\n", "    eps = 1e-6\n    grad = np.zeros(theta.shape)\n")],
             "test_numerical_gradient", None),
            ("theta not restored", [("        theta[i] = old\n", "")], "test_numerical_gradient", None),
            ("perturbs a copy", [("theta[i] = old + eps\n        f_plus = f(theta)\n        theta[i] = old - eps\n"
                                  "        f_minus = f(theta)",
                                  "t = theta.copy()\n        t[i] = old + eps\n        f_plus = f(t)\n"
                                  "        t[i] = old - eps\n        f_minus = f(t)")], "test_numerical_gradient", "in place"),
        ],
        "epoch_minibatches": [
            ("no shuffle", [("perm = rng.permutation(n)", "perm = np.arange(n)")], "test_epoch_minibatches", "rng.permutation(n)"),
            ("drops the last chunk", [("range(0, n, batch_size)", "range(0, n - batch_size + 1, batch_size)")],
             "test_epoch_minibatches", "sizes 4, 4, 2"),
            ("sampling with replacement", [("perm = rng.permutation(n)", "perm = rng.integers(0, n, size=n)")],
             "test_epoch_minibatches", "exactly once"),
            ("another shuffle", [("perm = rng.permutation(n)", "perm = rng.choice(n, size=n, replace=False)")],
             "test_epoch_minibatches", "rng.permutation(n)"),
            ("chunks as lists", [("perm[i:i + batch_size]", "perm[i:i + batch_size].tolist()")],
             "test_epoch_minibatches", "1-D integer array"),
        ],
        "train": [
            ("optimizer restarted every epoch",
             [("    state = optimizer.init(params)\n    step_losses = []\n    for epoch in range(1, epochs + 1):\n",
               "    step_losses = []\n    for epoch in range(1, epochs + 1):\n        state = optimizer.init(params)\n")],
             "test_train", None),
            ("optimizer state not carried", [("updates, state = optimizer.update(grads, state, params)",
                                              "updates, _ = optimizer.update(grads, state, params)")], "test_train", "init the optimizer once"),
            ("gradient ascent", [("params[key] + updates[key]", "params[key] - updates[key]")], "test_train", "params + updates"),
            ("loss recorded after the step", [("            step_losses.append(float(loss))\n", ""),
                                              ("            params = {key: params[key] + updates[key] for key in params}\n",
                                               "            params = {key: params[key] + updates[key] for key in params}\n"
                                               "            step_losses.append(float(loss_and_grad(params, X[idx], y[idx])[0]))\n")],
             "test_train", "BEFORE the step"),
            ("on_epoch counts from 0", [("on_epoch(epoch, params)", "on_epoch(epoch - 1, params)")], "test_train", "epochs from 1"),
            ("params changed in place", [("            params = {key: params[key] + updates[key] for key in params}\n",
                                          "            for key in params:\n                params[key] += updates[key]\n")],
             "test_train", "must not change"),
            ("one epoch too few", [("range(1, epochs + 1)", "range(1, epochs)")], "test_train", None),
        ],
    },
    "nonsmooth": {
        "clarke_interval": [
            ("one-sided samples", [(" + [grad(theta - d) for d in deltas]", "")], "test_clarke_interval", "sample on both sides"),
            ("(hi, lo)", [("np.min(samples), np.max(samples)", "np.max(samples), np.min(samples)")], "test_clarke_interval", None),
            ("the mean twice", [("np.min(samples), np.max(samples)", "np.mean(samples), np.mean(samples)")],
             "test_clarke_interval", None),
        ],
        "convex_hull": [
            ("clockwise", [("return np.array(lower[:-1] + upper[:-1])", "return np.array(lower[:-1] + upper[:-1])[::-1]")],
             "test_convex_hull", "counter-clockwise"),
            ("collinear points kept", [("cross(chain[-2], chain[-1], p) <= 0", "cross(chain[-2], chain[-1], p) < 0")],
             "test_convex_hull", "expected shape (4, 2)"),
            ("first corner repeated", [("lower[:-1] + upper[:-1]", "lower + upper[:-1]")], "test_convex_hull", "expected shape (4, 2)"),
        ],
        "maxpool_backward": [
            ("the last maximum", [("first = windows.argmax(axis=-1)",
                                   "first = size * size - 1 - windows[..., ::-1].argmax(axis=-1)")],
             "test_maxpool_backward", "first maximal entry"),
            ("every maximum", [("mask = np.arange(size * size) == first[..., None]",
                                "mask = windows == windows.max(axis=-1, keepdims=True)")], "test_maxpool_backward", None),
            ("dout spread evenly", [("dwindows = mask * dout[..., None]", "dwindows = np.ones(mask.shape) * dout[..., None] / (size * size)")],
             "test_maxpool_backward", None),
            ("the mask without dout", [("dwindows = mask * dout[..., None]", "dwindows = mask * 1.0")], "test_maxpool_backward", None),
        ],
        "local_derivatives": [
            ("neg is +1", [("return (-1.0,)", "return (1.0,)")], "test_local_derivatives", "d(-x)/dx = -1"),
            ("abs sign flipped", [("return (float(np.sign(x)),)", "return (float(-np.sign(x)),)")], "test_local_derivatives", "|x|'"),
            ("abs'(0) = 1", [("return (float(np.sign(x)),)", "return (1.0 if x >= 0 else -1.0,)")], "test_local_derivatives",
             "sign(0) = 0"),
            ("max always (1, 0)", [("return (1.0, 0.0) if x >= parents[1].data else (0.0, 1.0)", "return (1.0, 0.0)")],
             "test_local_derivatives", "x < y"),
            ("max: a tie goes to the second", [(">= parents[1].data", "> parents[1].data")], "test_local_derivatives", "a tie"),
            ("+ returns one value", [('if op == "+":\n        return (1.0, 1.0)', 'if op == "+":\n        return (1.0,)')],
             "test_local_derivatives", "d(x+y)/dx"),
            ("- is (1, 1)", [("return (1.0, -1.0)", "return (1.0, 1.0)")], "test_local_derivatives", "d(x-y)/dy = -1"),
            ("* not swapped", [("return (parents[1].data, parents[0].data)", "return (parents[0].data, parents[1].data)")],
             "test_local_derivatives", None),
            ("relu_prime_at_zero ignored", [("else relu_prime_at_zero", "else 0.0")], "test_local_derivatives", "ReLU'(0)"),
        ],
        "backward": [
            ("grads not reset", [("    for node in order:\n        node.grad = 0.0\n", "")], "test_backward", "reset every grad"),
            ("grads overwritten", [("parent.grad += d * node.grad", "parent.grad = d * node.grad")], "test_backward", None),
            ("relu_prime_at_zero not passed on", [("local(node, relu_prime_at_zero)", "local(node, 0.0)")], "test_backward",
             "pass relu_prime_at_zero on"),
            ("forward order", [("for node in reversed(order):", "for node in order:")], "test_backward", None),
            ("local ignored", [("local(node, relu_prime_at_zero)", "local_derivatives(node, relu_prime_at_zero)")],
             "test_backward", "from local(node, relu_prime_at_zero)"),
        ],
    },
}

CASES = [(a, cell, m) for a, cells in MISTAKES.items() for cell, ms in cells.items() for m in ms]


def _notebook(assignment):
    return nbformat.read(REPO_SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def _graded(assignment):
    """(the answer cells' grade_ids, visible part of each test cell by grade_id)."""
    nb = _notebook(assignment)
    meta = [(c.metadata.get("nbgrader", {}), c) for c in nb.cells if c.cell_type == "code"]
    answers = [m["grade_id"] for m, c in meta if m.get("solution")]
    tests = {m["grade_id"]: c.source.split("### BEGIN HIDDEN TESTS")[0] for m, c in meta if m.get("grade")}
    return answers, tests


def _answers(assignment):
    answers, _ = _graded(assignment)
    code = reference_answers(REPO_SOURCE / assignment / f"{assignment}.ipynb")
    return {gid: code[gid] for gid in answers}


def _visible_tests(assignment, answers, only=None):
    """Run the reference answers, in the notebook's order, with ``answers`` replacing some; then the
    visible part of every test cell (or of ``only``). Returns {test cell: the exception it raised, or None}."""
    namespace = {"np": np, "check_returned": check_returned, "Value": Value, "maxpool_forward": maxpool_forward}
    for gid, source in {**_answers(assignment), **answers}.items():
        run_cell(source, gid, namespace)
    failures = {}
    for test_cell, source in _graded(assignment)[1].items():
        if only is not None and test_cell != only:
            continue
        try:
            with np.errstate(all="ignore"):
                run_cell(source, test_cell, dict(namespace))
        except Exception as error:  # noqa: BLE001  (any error a student would see fails the cell)
            failures[test_cell] = error
        else:
            failures[test_cell] = None
    return failures


@pytest.mark.parametrize("assignment", sorted(MISTAKES))
def test_every_graded_answer_has_several_typical_mistakes_and_the_reference_passes(assignment):
    answers, tests = _graded(assignment)
    assert set(MISTAKES[assignment]) == set(answers), "a written list of typical mistakes for every graded answer"
    assert all(len(ms) >= 3 for ms in MISTAKES[assignment].values())
    assert {t for ms in MISTAKES[assignment].values() for *_, t, _ in ms} == set(tests), "every test cell catches some"
    failures = _visible_tests(assignment, {})
    assert not {t: e for t, e in failures.items() if e is not None}


@pytest.mark.parametrize("assignment, cell, mistake", CASES, ids=[f"{a}-{m[0]}" for a, _, m in CASES])
def test_a_typical_mistake_fails_the_visible_tests(assignment, cell, mistake):
    name, edits, test_cell, words = mistake
    wrong = mutate(_answers(assignment)[cell], edits, f"{assignment}/{cell}: {name}")
    error = _visible_tests(assignment, {cell: wrong}, test_cell)[test_cell]
    assert error is not None, f"{assignment}: {name} passes the visible tests of {test_cell}"
    if words is not None:
        assert words in str(error), f"{name}: {type(error).__name__}: {error}"
