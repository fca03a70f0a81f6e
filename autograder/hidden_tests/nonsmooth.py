"""Hidden tests of the nonsmooth-training assignment (notebooks/source/nonsmooth).

Every check draws its inputs at grading time (``grading_rng``), computes the expected result here with
the reference in ``course.clarke``, ``course.autodiff`` and ``course.nn``, and calls the student's function through
``student_call`` (which, outside grading, fails it if it calls the reference module; while grading the
reference is not in the student's kernel at all).

Only plain data and test fixtures (``remote.Fixture``: module-level factories below, numpy only, whose
source the student's kernel runs) reach the student's code:

- ``clarke_interval`` gets the gradient to sample as a fixture (``kinked_gradient``, ``cosine_gradient``);
- ``convex_hull`` and ``maxpool_backward`` get arrays;
- ``local_derivatives`` and ``backward`` work on ``Value`` graphs. A graph is sent as data: a list of
  nodes ``[op, parent indices, input value]``, each after its parents, the last one the output. The
  driver fixture ``autodiff_driver`` builds it AFRESH for every call, inside the kernel, with the
  notebook's own ``Value`` class (its constructor only: the data are computed by the driver), runs the
  student's function on it and returns the result, or every node's ``.grad``, as data. Here the same
  description is built with course's ``Value`` operations to compute the expected values. So nothing
  the student's code does to a graph can outlive the call: a backward that does nothing returns the
  grads the driver put there (0, or leftovers it chose), never a correct result from an earlier call.

Where a graded function needs another one (``backward`` needs the local derivatives), the check passes
in its own independent version (the fixture ``local_rules``), so that each function is graded alone.
"""

from __future__ import annotations

import numbers

import numpy as np

import course.autodiff
import course.clarke
import course.nn
from course.autodiff import Value

from ..bugs import Bug
from ..checks import CheckFailed, assert_all_match, assert_matches, fmt, grading_rng, student_call, student_global
from ..remote import Fixture, RemoteValue

FORBIDDEN = [course.clarke, course.autodiff]


# =============================================================================== test functions
# Gradients of piecewise linear and smooth functions of one variable; each takes a number or an array.
# Fixture factories: sent to the student's kernel as source text (numpy as np and their own arguments only).

def kinked_gradient(kinks, slopes):
    """The derivative of a continuous piecewise linear function: slopes[i] between kinks[i-1] and kinks[i]
    (at a kink, the slope on its left)."""
    kinks, slopes = np.asarray(kinks, dtype=float), np.asarray(slopes, dtype=float)

    def grad(t):
        return slopes[np.searchsorted(kinks, np.asarray(t, dtype=float), side="left")][()]

    return grad


def cosine_gradient():
    """cos, the derivative of sin (smooth)."""
    def grad(t):
        return np.cos(t)

    return grad


def _kinked(kinks, slopes):
    return Fixture(kinked_gradient, [float(k) for k in kinks], [float(s) for s in slopes])


def _one_d_cases(rng):
    """(description, grad, theta, deltas): kinks at theta, near theta and far from theta, and a smooth one."""
    c = float(np.round(rng.uniform(-2, 2), 3))
    a = float(np.round(rng.uniform(0.01, 0.5), 3))
    s = float(np.round(rng.uniform(0.5, 3.0), 3))
    c2 = c + float(np.round(rng.uniform(0.1, 0.3), 3))
    small = rng.uniform(1e-4, 1e-2, size=int(rng.integers(8, 16)))
    large = rng.uniform(0.05, 0.6, size=int(rng.integers(8, 16)))
    signs = np.where(rng.random(small.size) < 0.5, -1.0, 1.0)
    slopes3 = np.round(rng.uniform(-2, 2, size=3), 3)
    return [
        (f"ReLU' shifted to the kink c={c:g}", _kinked([c], [0.0, 1.0]), c, small),
        (f"{s:g} sign(t - c), the derivative of {s:g}|t - c|, c={c:g}", _kinked([c], [-s, s]), c, small),
        (f"leaky ReLU' with slope a={a:g}, kink at 0", _kinked([0.0], [a, 1.0]), 0.0, small),
        (f"ReLU' shifted to c={c:g}, at a smooth point", _kinked([c], [0.0, 1.0]), c + 0.5, small),
        (f"slopes {slopes3.tolist()} with kinks at {c:g} and {c2:g}", _kinked([c, c2], slopes3), c,
         large),
        (f"{s:g} sign(t - c) with offsets of both signs, c={c:g}", _kinked([c], [-s, s]), c, small * signs),
        ("cos, the derivative of sin (smooth)", Fixture(cosine_gradient), float(np.round(rng.uniform(-3, 3), 3)),
         large),
    ]


# =============================================================================== Clarke, one variable

def check_clarke_interval(clarke_interval):
    """[min, max] of the gradients at theta +- delta_i, against the reference, on kinks and smooth points."""
    rng = grading_rng("clarke_interval")
    results = []
    for description, grad, theta, deltas in _one_d_cases(rng):
        call = f"clarke_interval(grad=<{description}>, theta={theta:g}, deltas={fmt(deltas)})"
        got = student_call(clarke_interval, grad, theta, deltas.copy(), call=call, forbidden=FORBIDDEN)
        expected = course.clarke.clarke_interval(grad, theta, deltas)
        plus = np.array([grad(theta + d) for d in deltas], dtype=float)      # the fixture, run here
        minus = np.array([grad(theta - d) for d in deltas], dtype=float)
        both = np.concatenate([plus, minus])
        at = float(grad(theta))
        results.append((got, expected, call, [
            (expected[::-1], "return [lo, hi]: the smallest gradient first."),
            ([plus.min(), plus.max()], "you only used theta + delta: evaluate at theta - delta too, "
                                       "so that both sides of a kink at theta are seen."),
            ([minus.min(), minus.max()], "you only used theta - delta (or theta itself): evaluate at "
                                         "theta + delta and theta - delta."),
            ([at, at], "that is the gradient AT theta; the Clarke estimate uses gradients at points "
                       "NEAR theta (theta +- delta), where the function is differentiable."),
            ([both.mean(), both.mean()], "the estimate is the convex hull [min, max] of the sampled "
                                         "gradients, not their mean."),
        ]))
    assert_all_match(results, rtol=1e-12, atol=1e-12)


# =============================================================================== convex hull

def _hull_cases(rng):
    n = int(rng.integers(8, 30))
    gauss = rng.standard_normal((n, 2))
    grid = rng.integers(-3, 4, size=(int(rng.integers(12, 30)), 2)).astype(float)
    t = rng.integers(-4, 5, size=int(rng.integers(4, 9))).astype(float)
    direction = rng.integers(-2, 3, size=2).astype(float)
    if not direction.any():
        direction = np.array([1.0, 2.0])
    line = np.outer(t, direction) + rng.integers(-3, 4, size=2)
    p = rng.standard_normal(2)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0], [1, 0.5], [0.5, 0.5], [0, 1]], dtype=float)
    unit = np.array([[1.0, 0.0], [0.0, 1.0]])
    return [
        (f"{n} random points", gauss),
        (f"{len(grid)} points of an integer grid (duplicates, collinear points)", grid),
        (f"{len(line)} points on one line", line[rng.permutation(len(line))]),
        ("one point repeated", np.tile(p, (int(rng.integers(2, 5)), 1))),
        ("two equal points", np.tile(p, (2, 1))),
        ("a square with points on its edges and inside", square[rng.permutation(len(square))] * 2.0 - 1.0),
        ("the gradients of max(t1, t2) near a tie", np.vstack([unit, unit[rng.integers(2, size=8)]])),
    ]


def _collinear_kept(points):
    """The monotone chain that keeps collinear points (pops only on right turns): the common mistake."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    if len(pts) <= 2:
        return pts

    def half(seq):
        chain = []
        for p in seq:
            while len(chain) >= 2 and course.clarke.cross(chain[-2], chain[-1], p) < 0:
                chain.pop()
            chain.append(p)
        return chain

    return np.array(half(pts)[:-1] + half(pts[::-1])[:-1])


def check_convex_hull(convex_hull):
    """Vertices in counter-clockwise order from the lexicographically smallest, no collinear points."""
    rng = grading_rng("convex_hull")
    results = []
    for description, points in _hull_cases(rng):
        call = f"convex_hull(points=<{description}: {fmt(points)}>)"
        got = student_call(convex_hull, points.copy(), call=call, forbidden=FORBIDDEN)
        expected = course.clarke.convex_hull(points)
        hints = [
            (_collinear_kept(points), "a point on an edge between two corners is not a vertex: drop it "
                                      "when the walk goes straight on (cross product <= 0, not < 0)."),
            (np.unique(points, axis=0), "those are all the (distinct) points: keep only the corners of "
                                        "the hull."),
            (points, "those are all the input points: keep only the corners of the hull."),
        ]
        if len(expected) >= 3:
            hints += [
                (np.roll(expected[::-1], 1, axis=0), "the corners are in clockwise order: go "
                                                      "counter-clockwise (lower hull left to right first)."),
                (expected[::-1], "the corners are in clockwise order: go counter-clockwise, starting at the "
                                 "lexicographically smallest point."),
                (np.vstack([expected, expected[:1]]), "do not repeat the first corner at the end."),
            ]
            for shift in range(1, len(expected)):
                hints.append((np.roll(expected, -shift, axis=0), "right corners and order, but start at "
                              "the lexicographically smallest point (smallest first coordinate, then second)."))
        results.append((got, expected, call, hints))
    assert_all_match(results, rtol=1e-12, atol=1e-12)


# =============================================================================== max-pooling

def _maxpool_cases(rng):
    B = int(rng.integers(1, 4))
    C = int(rng.integers(1, 3))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    return [
        ("random values (no ties)", rng.standard_normal((B, 2 * h, 2 * w)), 2),
        ("small integers: many ties, float32", rng.integers(0, 3, size=(B, C, 2 * h, 2 * w)).astype(np.float32), 2),
        ("small integers, size 3 windows", rng.integers(0, 2, size=(B, 3 * h, 3 * w)).astype(float), 3),
        ("a constant image: every entry ties", np.full((B, 2 * h, 2 * w), float(rng.integers(-3, 4))), 2),
    ]


def _pool_alternatives(x, size, dout):
    """dx for the known mistakes: last maximal entry, every maximal entry, ties split evenly, dout ignored."""
    windows = course.nn.pool_windows(x, size)
    is_max = windows == windows.max(axis=-1, keepdims=True)
    last = windows.shape[-1] - 1 - is_max[..., ::-1].argmax(axis=-1)
    one_hot_last = np.arange(windows.shape[-1]) == last[..., None]
    lead, (h, w) = x.shape[:-2], dout.shape[-2:]

    def back(d):
        return np.moveaxis(d.reshape(*lead, h, w, size, size), -2, -3).reshape(x.shape)

    return {
        "last": back(one_hot_last * dout[..., None]),
        "all": back(is_max * dout[..., None]),
        "split": back(is_max * dout[..., None] / is_max.sum(axis=-1, keepdims=True)),
    }


def check_maxpool_backward(maxpool_backward):
    """dx: dout goes to the first maximal entry of each window (row-major); shapes and dtype of x."""
    rng = grading_rng("maxpool_backward")
    results = []
    for description, x, size in _maxpool_cases(rng):
        out, cache = course.nn.maxpool_forward(x, size)
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        call = (f"maxpool_backward(dout=<{dout.dtype} {dout.shape}>, cache=(x=<{description}, {x.dtype} "
                f"{x.shape}>, size={size}))")
        got = student_call(maxpool_backward, dout.copy(), (x.copy(), size), call=call,
                           forbidden=FORBIDDEN + [course.nn])
        expected = course.nn.maxpool_backward(dout, cache)
        alt = _pool_alternatives(x, size, dout)
        ones = course.nn.maxpool_backward(np.ones_like(dout), cache)
        results.append((got, expected, call, [
            (alt["last"], "at a tie the FIRST maximal entry (row-major order) gets dout, not the last."),
            (alt["all"], "at a tie only ONE entry (the first maximal one, row-major) gets dout: "
                         "sending dout to every maximal entry counts it several times."),
            (alt["split"], "ties: the tie rule of this course sends all of dout to the first maximal "
                           "entry (row-major), not an even split."),
            (ones, "multiply by dout: the maximal entry gets dout, not 1."),
        ]))
    assert_all_match(results, rtol=1e-6, atol=1e-7)


# =============================================================================== the autodiff
# A graph travels as data: a list of nodes [op, parent indices, input value] (value None unless op is
# ""), each after its parents; the last node is the output.

def autodiff_driver(Value, student_fn):
    """Test code run in the student's kernel: builds the described graph AFRESH, with the notebook's
    ``Value`` class, for every call, runs the student's ``local_derivatives`` or ``backward`` on it, and
    returns plain data. Node data are computed here (each op's forward value), with the ``Value``
    constructor only, so nothing of course's autodiff runs."""
    forward = {
        "": lambda p, value: value,
        "+": lambda p, value: p[0] + p[1],
        "-": lambda p, value: p[0] - p[1],
        "*": lambda p, value: p[0] * p[1],
        "neg": lambda p, value: -p[0],
        "relu": lambda p, value: p[0] if p[0] > 0 else 0.0,
        "abs": lambda p, value: abs(p[0]),
        "max": lambda p, value: p[0] if p[0] >= p[1] else p[1],
    }

    def build(graph):
        nodes = []
        for op, parents, value in graph:
            ps = tuple(nodes[i] for i in parents)
            nodes.append(Value(forward[op]([q.data for q in ps], value), ps, op))
        return nodes

    def drive(task, graph, relu_prime_at_zero, local=None, grads=None, before=()):
        """task "local_derivatives": the student's local_derivatives(output, relu_prime_at_zero).
        task "backward": set every node's grad to ``grads`` (leftovers; default 0), call the student's
        backward(output, r, local=local) for each r of ``before``, then with ``relu_prime_at_zero``;
        return every node's grad (in the graph's order)."""
        nodes = build(graph)
        if task == "local_derivatives":
            return student_fn(nodes[-1], relu_prime_at_zero)
        for node, grad in zip(nodes, grads or ()):
            node.grad = grad
        for r in before:
            student_fn(nodes[-1], r, local=local)
        student_fn(nodes[-1], relu_prime_at_zero, local=local)
        return [node.grad for node in nodes]

    return drive


def local_rules():
    """The check's own local derivatives for ``backward`` (an independent copy of the rules the
    notebook states), so that backward is graded on its own."""
    def local(node, relu_prime_at_zero=0.0):
        p = [q.data for q in node.parents]
        if node.op == "":
            return ()
        if node.op == "+":
            return (1.0, 1.0)
        if node.op == "-":
            return (1.0, -1.0)
        if node.op == "*":
            return (p[1], p[0])
        if node.op == "neg":
            return (-1.0,)
        if node.op == "relu":
            return ((1.0 if p[0] > 0 else 0.0) if p[0] != 0 else float(relu_prime_at_zero),)
        if node.op == "abs":
            return (float(np.sign(p[0])),)
        if node.op == "max":
            return (1.0, 0.0) if p[0] >= p[1] else (0.0, 1.0)
        raise ValueError("unknown op %r" % (node.op,))

    return local


LOCAL = Fixture(local_rules)


class _LocalValue(Value):
    """course's ``Value``, built without running course code: what the driver gets outside grading
    (tests call the checks with local functions), so that the reference-call profiler of
    ``student_call`` sees only the student's calls, not the driver building the graph."""

    __slots__ = ()

    def __init__(self, data, parents=(), op=""):
        self.data, self.grad, self.parents, self.op = float(data), 0.0, tuple(parents), op


_LocalValue.__name__ = _LocalValue.__qualname__ = "Value"


def _driver(student_fn):
    """The driver for the student's ``local_derivatives`` or ``backward``, with the notebook's Value."""
    return Fixture(autodiff_driver, student_global(student_fn, "Value", _LocalValue), student_fn)


_BUILD = {"": lambda p, value: Value(value), "+": lambda p, value: p[0] + p[1], "-": lambda p, value: p[0] - p[1],
          "*": lambda p, value: p[0] * p[1], "neg": lambda p, value: -p[0], "relu": lambda p, value: p[0].relu(),
          "abs": lambda p, value: abs(p[0]), "max": lambda p, value: p[0].max(p[1])}


def _build(graph):
    """The described graph, built here with course's Value operations: its nodes in the graph's order."""
    nodes = []
    for op, parents, value in graph:
        nodes.append(_BUILD[op]([nodes[i] for i in parents], value))
    return nodes


class _Graph:
    """A graph description under construction: ``add`` returns the new node's index."""

    def __init__(self):
        self.nodes, self.data = [], []

    def add(self, op, *parents, value=None):
        self.nodes.append([op, list(parents), None if value is None else float(value)])
        made = Value(value) if op == "" else _BUILD[op]([Value(self.data[i]) for i in parents], None)
        self.data.append(made.data)
        return len(self.nodes) - 1

    def reachable(self):
        """The description with only the nodes the output depends on (renumbered, order kept)."""
        keep, stack = set(), [len(self.nodes) - 1]
        while stack:
            i = stack.pop()
            if i not in keep:
                keep.add(i)
                stack.extend(self.nodes[i][1])
        new = {old: n for n, old in enumerate(sorted(keep))}
        return [[op, [new[i] for i in parents], value] for k, (op, parents, value) in enumerate(self.nodes)
                if k in keep]


_VALUES = (-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0)


def _leaf_value(rng):
    return float(rng.choice(_VALUES)) if rng.random() < 0.7 else float(np.round(rng.normal(), 3))


def _single(op, *inputs, same=False):
    """An operation on fresh inputs (``same``: the same input twice, x * x)."""
    g = _Graph()
    leaves = [g.add("", value=x) for x in inputs[:1 if same else None]]
    g.add(op, *(leaves * 2 if same else leaves))
    return g.nodes


def _node_cases(rng):
    """(description, graph, relu_prime_at_zero) for every operation, at kinks, ties and smooth points."""
    r_values = [0.0, 1.0, float(np.round(rng.uniform(0.05, 0.95), 3))]
    r = lambda: float(rng.choice(r_values))
    v = lambda: float(np.round(rng.uniform(0.2, 3.0), 3)) * (1 if rng.random() < 0.5 else -1)
    a, b = v(), v()
    cases = [
        ("an input", [["", [], a]], r()),
        (f"Value({a:g}) + Value({b:g})", _single("+", a, b), r()),
        (f"Value({a:g}) - Value({b:g})", _single("-", a, b), r()),
        (f"Value({a:g}) * Value({b:g})", _single("*", a, b), r()),
        (f"-Value({a:g})", _single("neg", a), r()),
    ]
    for x in (abs(a), -abs(b), 0.0):
        for rr in ([0.0, 1.0, r_values[2]] if x == 0.0 else [r()]):
            cases.append((f"Value({x:g}).relu()", _single("relu", x), rr))
    for x in (abs(a), -abs(b), 0.0):
        cases.append((f"abs(Value({x:g}))", _single("abs", x), r()))
    for x, y in ((a, b), (b, a), (a, a), (0.0, 0.0)):
        cases.append((f"Value({x:g}).max(Value({y:g}))", _single("max", x, y), r()))
    cases.append((f"x * x with x = Value({a:g})", _single("*", a, same=True), r()))
    return cases


def _type_name(x):
    return x.type_name if isinstance(x, RemoteValue) else type(x).__name__


def _show(x):
    """A value from the student's code as a failure message shows it (an object of the kernel's by type)."""
    return f"a {x.type_name} object" if isinstance(x, RemoteValue) else repr(x)


def _show_tuple(items):
    return "(" + ", ".join(map(_show, items)) + ("," if len(items) == 1 else "") + ")"


def _is_number(x):
    return (not isinstance(x, (bool, np.bool_)) and isinstance(x, (numbers.Real, np.floating, np.integer))) or \
        (isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf")


def _as_partials(got, n, call):
    """The student's tuple of partial derivatives (n parents) as a float64 array, or a CheckFailed saying
    why not."""
    if isinstance(got, np.ndarray):
        got = got.tolist() if got.ndim == 1 else got
    if not isinstance(got, (tuple, list)):
        raise CheckFailed(f"For {call}: expected a tuple of {n} number(s), one per parent, got "
                          f"{_type_name(got)} {_show(got)}.")
    if len(got) != n:
        raise CheckFailed(f"For {call}: the node has {n} parent(s), so return {n} partial derivative(s); "
                          f"got {len(got)}: {_show_tuple(got)}." + (" An input has no parents: return ()."
                                                                 if n == 0 else ""))
    for item in got:
        if not _is_number(item):
            raise CheckFailed(f"For {call}: every partial derivative must be a number, got {_show(item)} "
                              f"({_type_name(item)}). Use the parents' .data, not the Values themselves.")
    return np.asarray(got, dtype=np.float64).reshape(n)


def check_local_derivatives(local_derivatives):
    """The partial derivatives of every operation, at smooth points, kinks (with ReLU'(0)) and ties."""
    rng = grading_rng("local_derivatives")
    driver = _driver(local_derivatives)
    results = []
    for description, graph, r in _node_cases(rng):
        node = _build(graph)[-1]
        call = f"local_derivatives(node=<{description}>, relu_prime_at_zero={r:g})"
        got = student_call(driver, "local_derivatives", graph, r, call=call, forbidden=FORBIDDEN)
        got = _as_partials(got, len(node.parents), call)
        expected = np.asarray(course.autodiff.local_derivatives(node, r), dtype=np.float64)
        hints = []
        p = [q.data for q in node.parents]
        if node.op == "relu" and p[0] == 0:
            hints += [([0.0], "at x == 0 exactly, ReLU'(0) is the argument relu_prime_at_zero, not always 0 "
                              "(x > 0: 1, x < 0: 0)."),
                      ([1.0], "at x == 0 exactly, ReLU'(0) is the argument relu_prime_at_zero, not always 1 "
                              "(x > 0: 1, x < 0: 0).")]
        if node.op == "relu" and p[0] < 0 and r != 0:
            hints.append(([r], "decide by the INPUT x = node.parents[0].data, not by the output node.data "
                               "(which is 0 for every x <= 0)."))
        if node.op == "*":
            hints.append((p, "d(x*y)/dx = y and d(x*y)/dy = x: the partials are swapped."))
        if node.op == "-":
            hints.append(([1.0, 1.0], "d(x - y)/dy = -1."))
        if node.op == "neg":
            hints.append(([1.0], "d(-x)/dx = -1."))
        if node.op == "max" and p[0] == p[1]:
            hints += [([0.0, 1.0], "tie rule: at x == y the whole derivative goes to the FIRST argument."),
                      ([0.5, 0.5], "tie rule: at x == y the whole derivative goes to the FIRST argument "
                                   "(a split is a valid subgradient, but not this course's rule).")]
        if node.op == "abs" and p[0] == 0:
            hints.append(([1.0], "abs'(0) = sign(0) = 0 here, as in PyTorch."))
        results.append((got, expected, call, hints))
    assert_all_match(results, rtol=1e-12, atol=1e-12)


OPS = ("+", "-", "*", "neg", "relu", "abs", "max")


def _random_graph(rng, num_leaves, num_ops):
    """A random DAG of Value operations; nodes are reused (shared), so gradients must be summed. Only
    the nodes the output depends on are kept."""
    g = _Graph()
    for _ in range(num_leaves):
        g.add("", value=_leaf_value(rng))
    for _ in range(num_ops):
        op = OPS[int(rng.integers(len(OPS)))]
        n = len(g.nodes)
        a = n - min(n, 6) + int(rng.integers(min(n, 6)))        # one of the 6 most recent nodes
        b = int(rng.integers(n))
        if op == "*" and abs(g.data[a] * g.data[b]) > 50:
            op = "+"
        g.add(op, *((a,) if op in ("neg", "relu", "abs") else (a, b)))
    n = len(g.nodes)
    g.add("+", g.add("+", n - 1, n - 2), n - 3)
    return g.reachable()


def _graph_cases(rng):
    """(description, graph, relu_prime_at_zero)."""
    r_values = [0.0, 1.0, float(np.round(rng.uniform(0.05, 0.95), 3))]
    cases = []
    # E2 at 0: the lecture's example; the answer depends on ReLU'(0)
    for r in r_values:
        g = _Graph()
        x = g.add("", value=0.0)
        g.add("-", g.add("relu", x), g.add("relu", g.add("neg", x)))
        cases.append(("E2(x) = x.relu() - (-x).relu() at x = 0", g.nodes, r))
    # a kink at 0 on one path and a deeper smooth path: tells "ReLU'(0) not passed on" from wrong orders
    g = _Graph()
    x, w = g.add("", value=0.0), g.add("", value=float(np.round(rng.uniform(0.5, 2), 3)))
    g.add("*", g.add("+", g.add("relu", x), g.add("*", x, w)), w)
    cases.append((f"out = (x.relu() + x * w) * w with x=0, w={g.data[w]:g}", g.nodes,
                  float(np.round(rng.uniform(0.05, 1.0), 3))))
    # a node reached along paths of different lengths: breadth-first from the output visits y (depth 1)
    # before y.relu() * x (depth 1) has passed y its share, so it is not a topological order
    g = _Graph()
    x = g.add("", value=float(np.round(rng.uniform(0.5, 2), 3)))
    w = g.add("", value=float(np.round(rng.uniform(0.5, 2), 3)))
    y = g.add("*", x, w)
    g.add("+", y, g.add("*", g.add("relu", y), x))
    cases.append((f"y = x*w, out = y + y.relu() * x with x={g.data[x]:g}, w={g.data[w]:g}", g.nodes,
                  float(rng.choice(r_values))))
    # shared nodes
    g = _Graph()
    x = g.add("", value=float(np.round(rng.uniform(-2, 2), 3)))
    g.add("+", g.add("*", x, x), x)
    cases.append((f"out = x * x + x with x={g.data[x]:g}", g.nodes, 0.0))
    for _ in range(3):
        graph = _random_graph(rng, int(rng.integers(2, 5)), int(rng.integers(8, 20)))
        cases.append((f"a random graph of {len(graph)} nodes", graph, float(rng.choice(r_values))))
    return cases, r_values


def _state(graph, grads, before):
    """The graph built here, in the state the student's backward finds it in for the graded call: the
    driver's starting grads, then the earlier backward calls (done by the reference)."""
    nodes = _build(graph)
    for node, grad in zip(nodes, grads or ()):
        node.grad = grad
    for r in before:
        course.autodiff.backward(nodes[-1], r, local=LOCAL)
    return nodes


def _variant_grads(nodes, r, *, overwrite=False, forward=False, reset=True):
    """The grads that known mistakes produce (overwriting instead of summing, forward order, no reset),
    in the graph's order; ``nodes`` is the graph in the state before the call."""
    out = nodes[-1]
    order = course.autodiff.topological_order(out)     # depth first, as a student's backward would
    if reset:
        for node in order:
            node.grad = 0.0
    out.grad = 1.0
    for node in (order if forward else reversed(order)):
        for parent, d in zip(node.parents, LOCAL(node, r)):
            parent.grad = d * node.grad if overwrite else parent.grad + d * node.grad
    return np.array([node.grad for node in nodes])


def _as_grads(got, n, call):
    """The grads the driver sent back (one per node) as a float64 array, or a CheckFailed saying why not."""
    if not isinstance(got, list) or len(got) != n:
        raise CheckFailed(f"For {call}: the grads of the graph's nodes could not be read.")
    for i, grad in enumerate(got):
        if not _is_number(grad):
            raise CheckFailed(f"For {call}: node {i}'s .grad is {_show(grad)} ({_type_name(grad)}), not a number. "
                              "A grad is a float: parent.grad += d * node.grad with numbers d.")
    got = np.asarray([float(grad) for grad in got], dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise CheckFailed(f"For {call}: some .grad is not a finite number: {fmt(got)}.")
    return got


def check_backward(backward):
    """node.grad for every node, against the reference, on a graph built afresh for every call: some
    start with leftover grads, some are differentiated twice (differentiating again must not
    accumulate), and a backward that changes nothing is seen as such."""
    rng = grading_rng("backward")
    driver = _driver(backward)
    cases, r_values = _graph_cases(rng)
    results = []
    for number, (description, graph, r) in enumerate(cases):
        n = len(graph)
        grads, before, state = None, [], "on a new graph (every .grad 0)"
        if number % 3 == 1:       # differentiated before, with another ReLU'(0)
            before = [float(rng.choice([v for v in r_values if v != r]))]
            state = f"called twice on a new graph (first with relu_prime_at_zero={before[0]:g})"
        elif number % 3 == 2:     # grads left over from elsewhere
            grads = [float(v) for v in rng.integers(-3, 4, size=n)]
            grads[int(rng.integers(n))] = float(rng.choice([-2.5, 1.5, 4.0]))
            state = f"on a graph whose .grads hold leftovers {fmt(np.array(grads))}"
        call = (f"backward(output=<{description}>, relu_prime_at_zero={r:g}, local=<correct local "
                f"derivatives>) {state}")
        got = student_call(driver, "backward", graph, r, local=LOCAL, grads=grads, before=before, call=call,
                           forbidden=FORBIDDEN)
        got = _as_grads(got, n, call)
        fresh = lambda: _state(graph, grads, before)
        nodes = fresh()
        course.autodiff.backward(nodes[-1], r, local=LOCAL)
        expected = np.array([node.grad for node in nodes])
        start = np.zeros(n) if grads is None else np.asarray(grads)
        hints = [
            (start, "the grads are what the nodes held before backward was called (0 on a new graph): "
                    "your backward changed nothing. Reset every .grad to 0, set output.grad = 1, then "
                    "apply the chain rule from the output back to the inputs."),
            (_variant_grads(fresh(), r, reset=False), "the grads are too large: set every node's .grad to "
                                                       "0 before accumulating (the graph may have been "
                                                       "differentiated before)."),
            (np.zeros(n), "all grads are 0: start with output.grad = 1 (after resetting)."),
            (_variant_grads(fresh(), r, overwrite=True), "a node used by several nodes must collect all "
                                                         "their contributions: parent.grad += ..., not "
                                                         "parent.grad = ..."),
            (_variant_grads(fresh(), r, forward=True), "visit the nodes in REVERSE topological order (the "
                                                       "output first), so that a node's grad is complete "
                                                       "before it is passed on."),
        ]
        if r != 0:
            hints.append((_variant_grads(fresh(), 0.0), "pass relu_prime_at_zero on to "
                                                        "local(node, relu_prime_at_zero)."))
        results.append((got, expected, f"{call}: the grads of all {n} nodes in the order the graph was "
                                       "built (inputs first, output last)", hints))
    assert_all_match(results, rtol=1e-10, atol=1e-12)


# Realistic buggy submissions for the demo class and the pipeline tests (see autograder/demo.py).
DEMO_BUGS = [
    Bug("ivy", "Clarke estimate from one side of the kink only", "clarke_interval",
        "samples = [grad(theta + d) for d in deltas] + [grad(theta - d) for d in deltas]",
        "samples = [grad(theta + d) for d in deltas]", ("test_clarke_interval",)),
    Bug("jonas", "convex hull keeps collinear points", "convex_hull",
        "cross(chain[-2], chain[-1], p) <= 0", "cross(chain[-2], chain[-1], p) < 0", ("test_convex_hull",)),
    Bug("kira", "max-pool backward sends dout to every tied maximum", "maxpool_backward",
        "mask = np.arange(size * size) == first[..., None]",
        "mask = windows == windows.max(axis=-1, keepdims=True)", ("test_maxpool_backward",)),
    Bug("leon", "ReLU'(0) ignored: ReLU's local derivative is 0 at 0 whatever the setting", "local_derivatives",
        "1.0 if x > 0 else 0.0 if x < 0 else relu_prime_at_zero", "1.0 if x > 0 else 0.0",
        ("test_local_derivatives",)),
    Bug("mona", "backward overwrites gradients instead of summing them", "backward",
        "parent.grad += d * node.grad", "parent.grad = d * node.grad", ("test_backward",)),
    Bug("nils", "calls the course library's convex hull", "convex_hull",
        "pts = np.unique(np.asarray(points, dtype=float), axis=0)   # sorted, duplicates removed",
        "from course.clarke import convex_hull as _reference\n    return _reference(points)",
        ("test_convex_hull",)),
]
