"""The hidden tests of the nonsmooth assignment: the reference passes them, every mutant fails them.

The graded functions are taken from the source notebook (the reference answers of its solution cells),
so these tests follow the notebook. A mutant is one realistic mistake in one graded function: a textual
edit of the reference answer, or a rewrite. Each must raise ``CheckFailed`` for every grading seed
tried; the mutation score (caught/total) is printed.
"""

from pathlib import Path

import numpy as np
import pytest

import autograder.hidden_tests.nonsmooth as hidden
from autograder.checks import SEED_VARIABLE, CheckFailed
from autograder.demo import reference_answers, with_bug

SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "source" / "nonsmooth" / "nonsmooth.ipynb"
GRADED = ("clarke_interval", "convex_hull", "maxpool_backward", "local_derivatives", "backward")
SEEDS = (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def answers():
    return reference_answers(SOURCE)


@pytest.fixture(scope="module")
def cells():
    import nbformat
    nb = nbformat.read(SOURCE, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def namespace(answers, only=None):
    """What the notebook's import cell defines, plus the graded functions of ``answers``
    (only the one named ``only``; the others are unanswered stubs, as in a fresh student version)."""
    from course.nonsmooth import Value
    ns = {"np": np, "Value": Value}
    for name in GRADED:
        exec(f"def {name}(*args, **kwargs):\n    raise NotImplementedError()", ns)
    for name in GRADED if only is None else (only,):
        exec(answers[name], ns)
    return ns


def run_check(name, fn, seed, monkeypatch):
    monkeypatch.setenv(SEED_VARIABLE, str(seed))
    getattr(hidden, f"check_{name}")(fn)


# ============================================================================ the reference passes

@pytest.mark.parametrize("seed", range(12))
def test_reference_answers_pass_every_hidden_check(answers, seed, monkeypatch):
    ns = namespace(answers)
    for name in GRADED:
        run_check(name, ns[name], seed, monkeypatch)


def test_each_test_cell_passes_with_only_its_own_function_answered(answers, cells, monkeypatch):
    """The design rule: a graded function is tested alone, its visible tests included."""
    monkeypatch.setenv(SEED_VARIABLE, "7")
    for name in GRADED:
        ns = namespace(answers, only=name)
        exec(cells[f"test_{name}"].source, ns)              # visible tests and the hidden-test region


def test_test_cells_call_their_hidden_check_like_step_sizes(cells):
    for name in GRADED:
        source = cells[f"test_{name}"].source
        hidden_part = source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert f"from autograder.hidden_tests.nonsmooth import check_{name}" in hidden_part
        assert f"check_{name}({name})" in hidden_part
        assert cells[f"test_{name}"].metadata["nbgrader"]["points"] > 0


def test_calling_the_reference_gets_no_credit(monkeypatch):
    import course.nonsmooth
    monkeypatch.setenv(SEED_VARIABLE, "0")
    with pytest.raises(CheckFailed, match="calls the reference implementation"):
        hidden.check_convex_hull(lambda points: course.nonsmooth.convex_hull(points))
    with pytest.raises(CheckFailed, match="calls the reference implementation"):
        hidden.check_backward(lambda out, r=0.0, local=None: course.nonsmooth.backward(out, r, local))


def test_unanswered_functions_fail_with_a_clear_message(monkeypatch):
    monkeypatch.setenv(SEED_VARIABLE, "0")
    for name in GRADED:
        def stub(*args, **kwargs):
            raise NotImplementedError()
        with pytest.raises(CheckFailed, match="NotImplementedError"):
            getattr(hidden, f"check_{name}")(stub)


# ============================================================================ mutants

def edit(old, new):
    return ("edit", old, new)


def rewrite(source):
    return ("rewrite", source)


MUTANTS = {
    "clarke_interval": {
        "only theta + delta": edit("samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
                                   "samples = [grad(theta + d) for d in deltas]"),
        "only theta - delta": edit("samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
                                   "samples = [grad(theta - d) for d in deltas]"),
        "[hi, lo]": edit("[np.min(samples), np.max(samples)]", "[np.max(samples), np.min(samples)]"),
        "gradient at theta itself": edit(
            "samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
            "samples = [grad(theta)]"),
        "mean, no convex hull": edit("return np.array([np.min(samples), np.max(samples)], dtype=float)",
                                     "return np.array([np.mean(samples)] * 2)"),
        "all samples, no convex hull": edit("return np.array([np.min(samples), np.max(samples)], dtype=float)",
                                            "return np.array(samples, dtype=float)"),
        "a tuple, not an array": edit("return np.array([np.min(samples), np.max(samples)], dtype=float)",
                                      "return (np.min(samples), np.max(samples))"),
        "first offset only": edit(
            "samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
            "samples = [grad(theta + deltas[0]), grad(theta - deltas[0])]"),
        "flipped sign": edit("samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
                             "samples = [-grad(theta + d) for d in deltas] + [-grad(theta - d) for d in deltas]"),
        "float32": edit("dtype=float)", "dtype=np.float32)"),
    },
    "convex_hull": {
        "keeps collinear points (< 0)": edit("cross(chain[-2], chain[-1], p) <= 0",
                                             "cross(chain[-2], chain[-1], p) < 0"),
        "keeps right turns (>= 0)": edit("cross(chain[-2], chain[-1], p) <= 0", "cross(chain[-2], chain[-1], p) >= 0"),
        "clockwise": edit("return np.array(lower[:-1] + upper[:-1])", "return np.array(lower[:-1] + upper[:-1])[::-1]"),
        "lower hull only": edit("return np.array(lower[:-1] + upper[:-1])", "return np.array(lower)"),
        "no hull at all": edit("    if len(pts) <= 2:\n        return pts", "    return pts"),
        "duplicates kept": edit("pts = np.unique(np.asarray(points, dtype=float), axis=0)",
                                "pts = np.asarray(points, dtype=float)[np.lexsort((points[:, 1], points[:, 0]))]"),
        "first corner repeated at the end": edit("return np.array(lower[:-1] + upper[:-1])",
                                                 "return np.array(lower[:-1] + upper)"),
        "wrong first corner": edit("return np.array(lower[:-1] + upper[:-1])",
                                   "return np.roll(np.array(lower[:-1] + upper[:-1]), 1, axis=0)"),
        "sorted by the second coordinate": edit(
            "    if len(pts) <= 2:", "    pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]\n    if len(pts) <= 2:"),
        "degenerate input returned raw": edit("    if len(pts) <= 2:\n        return pts",
                                              "    if len(pts) <= 2:\n        return np.asarray(points, dtype=float)"),
    },
    "maxpool_backward": {
        "dout to every tied maximum": edit("mask = np.arange(size * size) == first[..., None]",
                                           "mask = windows == windows.max(axis=-1, keepdims=True)"),
        "the last maximum": edit("first = windows.argmax(axis=-1)",
                                 "first = size * size - 1 - windows[..., ::-1].argmax(axis=-1)"),
        "ties split evenly": edit(
            "mask = np.arange(size * size) == first[..., None]",
            "mask = windows == windows.max(axis=-1, keepdims=True)\n"
            "    mask = mask / mask.sum(axis=-1, keepdims=True)"),
        "dout ignored": edit("dwindows = mask * dout[..., None]", "dwindows = mask * np.ones_like(dout)[..., None]"),
        "windows along the wrong axes": edit(
            "windows = np.moveaxis(x.reshape(*lead, h, size, w, size), -3, -2).reshape(*lead, h, w, size * size)",
            "windows = x.reshape(*lead, h, w, size * size)"),
        "column-major windows": edit(
            "windows = np.moveaxis(x.reshape(*lead, h, size, w, size), -3, -2).reshape(*lead, h, w, size * size)",
            "windows = np.moveaxis(x.reshape(*lead, h, size, w, size), -3, -1).reshape(*lead, h, w, size * size)"),
        "float64 always": edit("return dx.astype(x.dtype)", "return dx.astype(np.float64)"),
        "flipped sign": edit("dwindows = mask * dout[..., None]", "dwindows = mask * -dout[..., None]"),
        "returns dout (no scatter)": edit("return dx.astype(x.dtype)", "return dout"),
    },
    "local_derivatives": {
        "ReLU'(0) ignored (0)": edit("1.0 if x > 0 else 0.0 if x < 0 else relu_prime_at_zero",
                                     "1.0 if x > 0 else 0.0"),
        "ReLU'(0) = 1 always": edit("1.0 if x > 0 else 0.0 if x < 0 else relu_prime_at_zero", "1.0 if x >= 0 else 0.0"),
        "ReLU'(0) with flipped sign": edit("else relu_prime_at_zero,)", "else -relu_prime_at_zero,)"),
        "kinks decided by the output node": edit("    x = parents[0].data\n", "    x = node.data\n"),
        "product partials swapped": edit("return (parents[1].data, parents[0].data)",
                                         "return (parents[0].data, parents[1].data)"),
        "subtraction sign": edit('if op == "-":\n        return (1.0, -1.0)',
                                 'if op == "-":\n        return (1.0, 1.0)'),
        "negation sign": edit("return (-1.0,)", "return (1.0,)"),
        "max tie to the second argument": edit("if x >= parents[1].data", "if x > parents[1].data"),
        "max tie split": edit("return (1.0, 0.0) if x >= parents[1].data else (0.0, 1.0)",
                              "return (0.5, 0.5) if x == parents[1].data else "
                              "((1.0, 0.0) if x > parents[1].data else (0.0, 1.0))"),
        "abs'(0) = 1": edit("return (float(np.sign(x)),)", "return (1.0 if x >= 0 else -1.0,)"),
        "an input gets a derivative": edit('if op == "":\n        return ()', 'if op == "":\n        return (0.0,)'),
        "Values instead of numbers": edit("return (parents[1].data, parents[0].data)",
                                          "return (parents[1], parents[0])"),
    },
    "backward": {
        "overwrites instead of summing": edit("parent.grad += d * node.grad", "parent.grad = d * node.grad"),
        "flipped sign": edit("parent.grad += d * node.grad", "parent.grad -= d * node.grad"),
        "chain factor missing": edit("parent.grad += d * node.grad", "parent.grad += d"),
        "grads not reset": edit("        node.grad = 0.0", "        pass"),
        "output.grad not seeded": edit("output.grad = 1.0", "output.grad = 0.0"),
        "reset after seeding": edit("    for node in order:\n        node.grad = 0.0\n    output.grad = 1.0",
                                    "    output.grad = 1.0\n    for node in order:\n        node.grad = 0.0"),
        "forward instead of reverse order": edit("for node in reversed(order):", "for node in order:"),
        "ReLU'(0) not passed on": edit("local(node, relu_prime_at_zero)", "local(node, 0.0)"),
        "shared nodes visited twice": edit("if id(node) not in seen:", "if True:"),
        "breadth-first order": rewrite('''
def backward(output, relu_prime_at_zero=0.0, local=local_derivatives):
    order, seen, queue = [], set(), [output]
    while queue:                       # breadth first from the output: not a topological order
        node = queue.pop(0)
        if id(node) not in seen:
            seen.add(id(node))
            order.append(node)
            queue.extend(node.parents)
    for node in order:
        node.grad = 0.0
    output.grad = 1.0
    for node in order:
        for parent, d in zip(node.parents, local(node, relu_prime_at_zero)):
            parent.grad += d * node.grad
'''),
    },
}


def mutant_source(answers, name, mutant):
    if mutant[0] == "rewrite":
        return mutant[1]
    _, old, new = mutant
    assert answers[name].count(old) == 1, f"mutant edit {old!r} does not apply to the answer of {name}"
    return answers[name].replace(old, new)


def test_every_mutant_of_every_graded_function_is_caught(answers, monkeypatch, capsys):
    caught, survivors = 0, []
    total = sum(len(m) for m in MUTANTS.values())
    for name, mutants in MUTANTS.items():
        for description, mutant in mutants.items():
            ns = namespace(answers)
            exec(mutant_source(answers, name, mutant), ns)
            escaped = []
            for seed in SEEDS:
                try:
                    run_check(name, ns[name], seed, monkeypatch)
                except CheckFailed:
                    continue
                escaped.append(seed)
            if escaped:
                survivors.append(f"{name}: {description} (passed with seeds {escaped})")
            else:
                caught += 1
    with capsys.disabled():
        print(f"\nnonsmooth mutation score: {caught}/{total} mutants caught (each with {len(SEEDS)} grading seeds)")
    assert not survivors, "mutants not caught:\n" + "\n".join(survivors)
    assert set(MUTANTS) == set(GRADED) and all(len(m) >= 5 for m in MUTANTS.values())


# ============================================================================ demo bugs

def test_demo_bugs_cost_exactly_their_cells(answers, monkeypatch):
    assert len({bug.student for bug in hidden.DEMO_BUGS}) == len(hidden.DEMO_BUGS)
    for bug in hidden.DEMO_BUGS:
        buggy = with_bug(answers, bug)                  # raises unless the edit applies exactly once
        ns = namespace(buggy)
        for name in GRADED:
            failed = []
            for seed in SEEDS[:3]:
                try:
                    run_check(name, ns[name], seed, monkeypatch)
                except CheckFailed as error:
                    failed.append(str(error))
            costs = f"test_{name}" in bug.costs
            assert (len(failed) == 3) if costs else not failed, (bug.student, name, failed)
