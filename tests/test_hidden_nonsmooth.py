"""The hidden tests of the nonsmooth assignment: the reference passes them, every mutant fails them.

The graded functions are taken from the source notebook (the reference answers of its solution cells),
so these tests follow the notebook. A mutant is one realistic mistake in one graded function: a textual
edit of the reference answer, or a rewrite. Each must raise ``CheckFailed`` for every grading seed
tried; the mutation score (caught/total) is printed.

The checks run two ways: with the functions as local callables (``local``), and as while grading
(``kernel``): the student's names are proxies of a loopback kernel, ``kernel_side``'s end of the
protocol run in this process on the notebook's namespace, where only plain data and fixture source
arrive and where course's solutions (and ``Value``'s operations and backward) raise
NotImplementedError while the kernel's side runs, as in the sandbox's view of the library.
"""

import contextlib
from pathlib import Path

import numpy as np
import pytest

import autograder.hidden_tests.nonsmooth as hidden
import course.autodiff
import course.clarke
import course.nn
from autograder import remote
from loopback import LoopbackKernel
from autograder.checks import SEED_VARIABLE, CheckFailed
from autograder.demo import reference_answers, with_bug
from autograder.solutions import REFERENCE_STUB

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
    from course.nn import maxpool_forward
    from course.autodiff import Value
    from course.validate import check_returned
    ns = {"np": np, "Value": Value, "maxpool_forward": maxpool_forward, "check_returned": check_returned}
    for name in GRADED:
        exec(f"def {name}(*args, **kwargs):\n    raise NotImplementedError()", ns)
    for name in GRADED if only is None else (only,):
        exec(answers[name], ns)
    return ns


def run_check(name, fn, seed, monkeypatch):
    monkeypatch.setenv(SEED_VARIABLE, str(seed))
    getattr(hidden, f"check_{name}")(fn)


STRIPPED = {course.clarke: ("clarke_interval", "gradients_near", "convex_hull"),
            course.autodiff: ("local_derivatives", "topological_order", "backward"),
            course.nn: ("maxpool_backward",),
            course.autodiff.Value: ("__add__", "__sub__", "__mul__", "__radd__", "__rsub__", "__rmul__",
                                    "__neg__", "__abs__", "relu", "max", "backward")}


@contextlib.contextmanager
def solutions_stripped():
    """course's reference solutions (and every Value operation but the constructor) unavailable."""
    def stub(*args, **kwargs):
        raise NotImplementedError(REFERENCE_STUB)   # what the grading kernel's stubs say

    saved = {(owner, name): owner.__dict__[name] for owner, names in STRIPPED.items() for name in names}
    try:
        for owner, name in saved:
            setattr(owner, name, stub)
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def graded(ns, name, how):
    """The function ``name`` of the notebook namespace ``ns`` as a check gets it: ``local`` or ``kernel``."""
    if how == "local":
        return ns[name]
    if "__loopback__" not in ns:
        ns["__loopback__"] = LoopbackKernel(ns, around=solutions_stripped)
    return remote.RemoteFunction(ns["__loopback__"], name, name)


# ============================================================================ the reference passes

@pytest.mark.parametrize("seed", range(12))
def test_reference_answers_pass_every_hidden_check(answers, seed, monkeypatch):
    ns = namespace(answers)
    for name in GRADED:
        run_check(name, ns[name], seed, monkeypatch)


@pytest.mark.parametrize("seed", range(4))
def test_reference_answers_pass_through_the_kernel_protocol(answers, seed, monkeypatch):
    """Plain data and fixture source only; no course solution and no Value operation in the kernel."""
    ns = namespace(answers)
    for name in GRADED:
        run_check(name, graded(ns, name, "kernel"), seed, monkeypatch)


def test_the_loopback_kernel_has_no_solutions(answers, monkeypatch):
    ns = namespace(answers)
    ns["backward"] = lambda output, relu_prime_at_zero=0.0, local=None: course.autodiff.backward(output)
    with pytest.raises(CheckFailed, match="not available while grading"):
        run_check("backward", graded(ns, "backward", "kernel"), 0, monkeypatch)
    ns["backward"] = lambda output, relu_prime_at_zero=0.0, local=None: output.backward()
    with pytest.raises(CheckFailed, match="not available while grading"):
        run_check("backward", graded(ns, "backward", "kernel"), 0, monkeypatch)


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
    monkeypatch.setenv(SEED_VARIABLE, "0")
    with pytest.raises(CheckFailed, match="calls the reference implementation"):
        hidden.check_convex_hull(lambda points: course.clarke.convex_hull(points))
    with pytest.raises(CheckFailed, match="calls the reference implementation"):
        hidden.check_backward(lambda out, r=0.0, local=None: course.autodiff.backward(out, r, local))


@pytest.mark.parametrize("how", ["local", "kernel"])
def test_unanswered_functions_fail_with_a_clear_message(answers, how, monkeypatch):
    ns = namespace(answers, only="clarke_interval")       # the others are stubs
    for name in GRADED[1:]:
        with pytest.raises(CheckFailed, match="replace `raise NotImplementedError\\(\\)`"):
            run_check(name, graded(ns, name, how), 0, monkeypatch)


def test_a_deleted_function_is_reported_as_missing(answers, monkeypatch):
    ns = namespace(answers)
    for name in ("backward", "local_derivatives", "clarke_interval"):
        del ns[name]
        with pytest.raises(CheckFailed, match=f"{name} is not defined"):
            run_check(name, graded(ns, name, "kernel"), 0, monkeypatch)


# ============================================================================ fresh graphs, data back

DOES_NOTHING = "def backward(output, relu_prime_at_zero=0.0, local=local_derivatives):\n    pass\n"


@pytest.mark.parametrize("how", ["local", "kernel"])
def test_a_backward_that_does_nothing_fails_after_a_correct_one(answers, how, monkeypatch):
    """The old protocol's hole: the grader's own graph, holding the correct grads of an earlier call, was
    handed to the student's backward, so one that did nothing passed. Now every call builds its graph
    afresh (in the kernel), and the grads come back as data."""
    ns = namespace(answers)
    for seed in SEEDS:
        run_check("backward", graded(ns, "backward", how), seed, monkeypatch)   # correct: passes
        correct = ns["backward"]
        exec(DOES_NOTHING, ns)                                                 # same kernel, same graphs
        with pytest.raises(CheckFailed, match="your backward changed nothing"):
            run_check("backward", graded(ns, "backward", how), seed, monkeypatch)
        ns["backward"] = correct


def test_a_backward_that_keeps_graphs_between_calls_gains_nothing(answers, monkeypatch):
    """A backward that returns at once on an output it has seen (by id, or by its data) never sees one:
    each call's graph is new, so it must compute every time."""
    ns = namespace(answers)
    exec(answers["backward"].replace("def backward(", "def _real_backward("), ns)
    exec("""
_seen = set()
def backward(output, relu_prime_at_zero=0.0, local=local_derivatives):
    key = (output.op, output.data, relu_prime_at_zero)
    if key in _seen:
        return                        # "already differentiated"
    _seen.add(key)
    _real_backward(output, relu_prime_at_zero, local)
""", ns)
    with pytest.raises(CheckFailed):
        for seed in SEEDS:
            run_check("backward", graded(ns, "backward", "kernel"), seed, monkeypatch)


def test_graphs_travel_as_data(answers, monkeypatch):
    """What crosses to the kernel for backward: the driver's source, proxies of the notebook's Value and
    backward, a graph description (op, parent indices, input value) and numbers; grads come back as
    floats."""
    ns = namespace(answers)
    kernel = LoopbackKernel(ns, around=solutions_stripped)
    sent = []
    call = kernel.call
    kernel.call = lambda target, args, kwargs, label: (sent.append(remote.request(target, args, kwargs)[0]),
                                                       call(target, args, kwargs, label))[1]
    ns["__loopback__"] = kernel
    run_check("backward", graded(ns, "backward", "kernel"), 0, monkeypatch)
    assert sent and all('"factory": "autodiff_driver"' in text and '"name": "Value"' in text
                        and '"name": "backward"' in text and '"factory": "local_rules"' in text for text in sent)
    graph = hidden._graph_cases(np.random.default_rng(0))[0][-1][1]
    assert all(type(op) is str and all(type(i) is int for i in parents) and (value is None or type(value) is float)
               for op, parents, value in graph)
    got = hidden.student_call(hidden._driver(remote.RemoteFunction(kernel, "backward", "backward")), "backward",
                              graph, 0.0, local=hidden.LOCAL, call="backward(...)")
    assert isinstance(got, list) and len(got) == len(graph) and all(type(g) is float for g in got)


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
        "does nothing": rewrite(DOES_NOTHING),
        "resets, then stops": edit("    output.grad = 1.0\n", "    return\n"),
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


@pytest.mark.parametrize("how", ["local", "kernel"])
def test_every_mutant_of_every_graded_function_is_caught(answers, how, monkeypatch, capsys):
    caught, survivors = 0, []
    total = sum(len(m) for m in MUTANTS.values())
    for name, mutants in MUTANTS.items():
        for description, mutant in mutants.items():
            ns = namespace(answers)
            exec(mutant_source(answers, name, mutant), ns)
            escaped = []
            for seed in SEEDS:
                try:
                    run_check(name, graded(ns, name, how), seed, monkeypatch)
                except CheckFailed:
                    continue
                escaped.append(seed)
            if escaped:
                survivors.append(f"{name}: {description} (passed with seeds {escaped})")
            else:
                caught += 1
    with capsys.disabled():
        print(f"\nnonsmooth mutation score ({how}): {caught}/{total} mutants caught (each with {len(SEEDS)} "
              "grading seeds)")
    assert not survivors, "mutants not caught:\n" + "\n".join(survivors)
    assert set(MUTANTS) == set(GRADED) and all(len(m) >= 5 for m in MUTANTS.values())


# ============================================================================ demo bugs

@pytest.mark.parametrize("how", ["local", "kernel"])
def test_demo_bugs_cost_exactly_their_cells(answers, how, monkeypatch):
    assert len({bug.student for bug in hidden.DEMO_BUGS}) == len(hidden.DEMO_BUGS)
    for bug in hidden.DEMO_BUGS:
        buggy = with_bug(answers, bug)                  # raises unless the edit applies exactly once
        ns = namespace(buggy)
        for name in GRADED:
            failed = []
            for seed in SEEDS[:3]:
                try:
                    run_check(name, graded(ns, name, how), seed, monkeypatch)
                except CheckFailed as error:
                    failed.append(str(error))
            costs = f"test_{name}" in bug.costs
            assert (len(failed) == 3) if costs else not failed, (bug.student, name, failed)


# ============================================================================ the kernel's course library

def test_the_kernels_course_has_no_nonsmooth_solutions_but_what_the_notebook_runs(tmp_path):
    """In the grading kernel's view of ``course`` (``library_view``) the exercises' reference bodies are
    stripped, while the notebook's own cells (graphs of Values, graph_table, E2) still run."""
    import importlib.util
    import inspect

    from autograder.library_view import strip_solutions
    from autograder.solutions import SOLUTIONS

    def stripped(module, name):
        path = tmp_path / f"{name}.py"
        path.write_text(strip_solutions(inspect.getsource(module), SOLUTIONS["nonsmooth"][name]))
        spec = importlib.util.spec_from_file_location(f"stripped_{name}", path)
        made = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(made)
        return made

    clarke, autodiff, nn = (stripped(module, module.__name__.split(".")[1])
                            for module in (course.clarke, course.autodiff, course.nn))
    x = autodiff.Value(0.0)
    out = autodiff.E2(x)
    assert "relu" in autodiff.graph_table(out) and len(autodiff.topological_order(out)) == 5
    assert clarke.sample_offsets(1, 1e-6, 3, np.random.default_rng(0)).shape == (3,)
    assert nn.maxpool_forward(np.zeros((1, 2, 2)), 2)[0].shape == (1, 1, 1)
    for call in (lambda: clarke.clarke_interval(np.sign, 0.0, np.array([1e-3])),
                 lambda: clarke.gradients_near(np.sign, 0.0, np.array([1e-3])),
                 lambda: clarke.convex_hull(np.zeros((3, 2))), lambda: autodiff.local_derivatives(out),
                 lambda: autodiff.backward(out), lambda: out.backward(),
                 lambda: nn.maxpool_backward(np.ones((1, 1, 1)), (np.zeros((1, 2, 2)), 2))):
        with pytest.raises(NotImplementedError, match="not available while grading"):
            call()
