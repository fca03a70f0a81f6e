"""Nonsmooth analysis for training networks: Clarke subgradients, a tiny autodiff, and where they disagree.

ReLU, leaky ReLU, PReLU and max-pooling are not differentiable everywhere, so "the gradient" of a
network's loss E(theta) does not exist at every theta. The lecture's weaker derivative is the Clarke
subdifferential of a locally Lipschitz E,

    d^c E(theta) = conv{ p : there are phi_k -> theta, phi_k in R, with grad E(phi_k) -> p },

where R is the set of points at which E is differentiable (almost all of them, by Rademacher's theorem).
This module

- estimates d^c E(theta) for functions of one and two variables from gradients sampled near theta:
  their convex hull (``clarke_interval``, ``convex_hull``, ``clarke_subdifferential``);
- shows that the sum rule holds only as an inclusion, d^c(f + g) <= d^c f + d^c g (``sum_rule``,
  ``SUM_RULE_EXAMPLES``);
- is a scalar reverse-mode autodiff, small enough to read in one sitting (``Value`` with +, -, *,
  relu, abs, max; ``local_derivatives``, ``backward``), whose backward pass uses a settable ReLU'(0);
- has the lecture's example E1(theta) = theta and E2(theta) = ReLU(theta) - ReLU(-theta): the same
  function, yet autodiff's chain rule gives "E2'(0)" = ReLU'(0) + ReLU'(0), which is 0 for the
  frameworks' choice ReLU'(0) = 0 and lies outside d^c E2(0) = {1} (``E1``, ``E2``);
- runs the experiment "does ReLU'(0) matter?" in float16, float32 and float64 (``relu_prime_runs``,
  after Bertoin, Bolte, Gerchinovitz and Pauwels, NeurIPS 2021).

Why training works anyway (Bolte and Pauwels, "Conservative set valued fields, automatic
differentiation, stochastic gradient methods and deep learning", 2019): what autodiff computes is an
element of a *conservative field* D(theta) of E. A conservative field obeys the chain rule along
curves, equals {grad E(theta)} for almost every theta, and may be larger than d^c E at a few points
(for E2, D(0) = [0, 2] with ReLU'(0) in [0, 1], while d^c E2(0) = {1}). Its spurious "critical points"
form a small set that SGD with random sampling avoids almost surely.

Everything random takes a ``numpy.random.Generator``. Nothing here imports autograder code.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from course.data import epoch_minibatches, load_digits
from course.nn import (check_relu_prime, init_mlp, mlp_backward, mlp_forward, mlp_loss_and_grad,
                       softmax_cross_entropy)
from course.validate import as_float_array, check_rng, positive_float, positive_int

__all__ = [
    # Clarke subdifferential estimates
    "sample_offsets", "gradients_near", "clarke_interval", "convex_hull", "clarke_subdifferential",
    "distance_to_set", "hausdorff", "minkowski_sum", "sum_rule", "SUM_RULE_EXAMPLES",
    # the autodiff
    "Value", "relu", "maximum", "local_derivatives", "topological_order", "backward",
    "autodiff_gradient", "graph_table", "E1", "E2", "gradient_descent",
    # does ReLU'(0) matter?
    "zero_preactivations", "backprop_differs", "relative_drift", "relu_prime_runs",
    "RELU_PRIME_CHOICES", "RELU_PRIME_DTYPES", "same_as_run_a", "relu_prime_table",
]


# =============================================================================== Clarke estimates

def sample_offsets(dim, radius, num_pairs, rng):
    """Offsets delta_1..delta_n drawn uniformly from the ball {|delta| <= radius} of R^dim.

    Returns an array of shape (n,) for dim = 1 and (n, dim) otherwise. ``gradients_near`` uses each
    offset twice, at theta + delta and theta - delta, so both sides of a kink at theta are always seen.
    """
    dim = positive_int(dim, "dim")
    radius = positive_float(radius, "radius")
    num_pairs = positive_int(num_pairs, "num_pairs")
    check_rng(rng)
    direction = rng.standard_normal((num_pairs, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    length = radius * rng.uniform(size=(num_pairs, 1)) ** (1.0 / dim)   # uniform in the ball
    deltas = direction * length
    return deltas[:, 0] if dim == 1 else deltas


def gradients_near(grad, theta, deltas):
    """The gradients grad(theta + delta_i) and grad(theta - delta_i) for every offset delta_i.

    One variable: theta a number, deltas shape (n,), returns shape (2n,).
    Two (or more) variables: theta shape (d,), deltas shape (n, d), returns shape (2n, d).
    ``grad`` is called once per point. Points at which E is not differentiable are hit with
    probability 0 when the offsets are random; any gradient formula that is right where E is
    differentiable (autodiff's output, for example) therefore gives the right samples.
    """
    theta = np.asarray(theta, dtype=np.float64)
    deltas = np.asarray(deltas, dtype=np.float64)
    if theta.ndim == 0:
        points = np.concatenate([theta + deltas, theta - deltas])
        return np.array([float(grad(float(p))) for p in points])
    deltas = deltas.reshape(-1, theta.size)
    points = np.concatenate([theta + deltas, theta - deltas])
    return np.array([np.asarray(grad(p), dtype=np.float64).reshape(theta.size) for p in points])


def clarke_interval(grad, theta, deltas):
    """Clarke subdifferential of a function of one variable, estimated from gradients nearby:

        d^c E(theta)  ~  conv{ E'(theta + delta_i), E'(theta - delta_i) }  =  [min, max] of these.

    The convex hull of a set of numbers is the interval from its smallest to its largest element.
    (Gradients from a ball of radius r give Goldstein's r-subdifferential, which shrinks to d^c E(theta)
    as r -> 0.) Returns the float64 array [lo, hi].

    ReLU at 0 gives [0, 1], |theta| at 0 gives [-1, 1], leaky ReLU with slope a gives [a, 1].
    """
    g = gradients_near(grad, theta, deltas)
    return np.array([g.min(), g.max()])


def cross(o, a, b):
    """z-component of (a - o) x (b - o): > 0 if o -> a -> b turns left (counter-clockwise)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points):
    """Vertices of the convex hull of points in the plane (Andrew's monotone chain).

    points: array (n, 2). Returns a float64 array (m, 2): the corners of conv(points) in
    counter-clockwise order, starting at the lexicographically smallest point (smallest first
    coordinate, then smallest second). Duplicates and points on an edge (collinear) are left out, so
    one distinct point gives shape (1, 2) and points on one line give the segment's two ends.

    Sort the points; walk left to right keeping only left turns (lower hull), then right to left
    (upper hull); a point where the walk does not turn left (cross product <= 0) is dropped.
    """
    pts = as_float_array(points, "points")
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError(f"points must have shape (n, 2) with n >= 1, got {pts.shape}")
    pts = np.unique(pts.astype(np.float64), axis=0)          # sorted lexicographically, no duplicates
    if len(pts) <= 2:
        return pts
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def clarke_subdifferential(grad, theta, *, radius=1e-8, num_pairs=64, rng=None, decimals=6):
    """Estimate d^c E(theta) for E of one or two variables from gradients at random nearby points.

    theta a number: returns the interval [lo, hi] (``clarke_interval``).
    theta of shape (2,): returns the vertices (m, 2) of the convex hull of the gradients
    (``convex_hull``); gradients are rounded to ``decimals`` places first, so that values which differ
    only by rounding errors count as one.
    ``rng`` defaults to ``np.random.default_rng(0)``.
    """
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    theta_arr = np.asarray(theta, dtype=np.float64)
    if theta_arr.ndim == 0:
        return clarke_interval(grad, float(theta_arr), sample_offsets(1, radius, num_pairs, rng))
    if theta_arr.shape != (2,):
        raise ValueError(f"theta must be a number or have shape (2,), got shape {theta_arr.shape}")
    g = gradients_near(grad, theta_arr, sample_offsets(2, radius, num_pairs, rng))
    return convex_hull(np.round(g, decimals) + 0.0)           # + 0.0 turns -0.0 into 0.0


def _as_set(s):
    """An interval [lo, hi] as the 1-D segment (2, 1); hull vertices (m, 2) as they are."""
    s = np.asarray(s, dtype=np.float64)
    return s.reshape(-1, 1) if s.ndim == 1 else s


def distance_to_set(p, vertices):
    """Euclidean distance from a point p to the convex set conv(vertices) (a point, segment or polygon
    given by ``convex_hull``'s counter-clockwise vertices; or an interval [lo, hi] for 1-D)."""
    v = _as_set(vertices)
    p = np.asarray(p, dtype=np.float64).reshape(v.shape[1])
    if v.shape[1] == 1:
        return float(max(v[0, 0] - p[0], p[0] - v[-1, 0], 0.0))
    a, b = v, np.roll(v, -1, axis=0)                          # the edges a_i -> b_i
    if len(v) >= 3 and np.all(cross(a.T, b.T, p) >= 0):
        return 0.0                                            # inside (left of every edge)
    ab = b - a
    length2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return float(np.min(np.linalg.norm(p - (a + t[:, None] * ab), axis=1)))  # nearest point of an edge


def hausdorff(A, B):
    """Hausdorff distance between two convex sets given by their vertices (or two intervals):

        d_H(A, B) = max( max_{a in A} dist(a, B), max_{b in B} dist(b, A) ).

    For convex polytopes the maxima are attained at vertices, so checking vertices is enough.
    """
    A, B = _as_set(A), _as_set(B)
    return max(max(distance_to_set(a, B) for a in A), max(distance_to_set(b, A) for b in B))


def minkowski_sum(A, B):
    """A + B = {a + b : a in A, b in B} for two intervals [lo, hi] or two convex polygons (vertices)."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim == 1:
        return np.array([A[0] + B[0], A[-1] + B[-1]])
    return convex_hull((A[:, None, :] + B[None, :, :]).reshape(-1, 2))


def sum_rule(grad_f, grad_g, theta, deltas):
    """Both sides of the Clarke sum rule d^c(f + g)(theta) <= d^c f(theta) + d^c g(theta), for one variable.

    Returns (left, right): the estimate of d^c(f + g)(theta) (from the gradients f' + g' at the
    nearby points theta +- delta_i) and the sum of the estimates of d^c f(theta) and d^c g(theta).
    For convex f and g the two are equal; in general left can be much smaller (see SUM_RULE_EXAMPLES).
    """
    left = clarke_interval(lambda t: grad_f(t) + grad_g(t), theta, deltas)
    right = minkowski_sum(clarke_interval(grad_f, theta, deltas), clarke_interval(grad_g, theta, deltas))
    return left, right


def _step(t):
    return 1.0 if t > 0 else 0.0


SUM_RULE_EXAMPLES = {
    # name: (f', g', theta, exact d^c(f+g)(theta), exact d^c f(theta) + d^c g(theta))
    "ReLU(t) - ReLU(-t) = t": (_step, lambda t: _step(-t), 0.0, (1.0, 1.0), (0.0, 2.0)),
    "|t| - |t| = 0": (np.sign, lambda t: -np.sign(t), 0.0, (0.0, 0.0), (-2.0, 2.0)),
    "|t| + |t| = 2|t| (convex: equality)": (np.sign, np.sign, 0.0, (-2.0, 2.0), (-2.0, 2.0)),
}
"""The sum rule at theta = 0: strict inclusion for the first two (nonconvex differences), equality
for the convex sum. Values: (f', g', theta, exact left side, exact right side) as intervals."""


# =============================================================================== the autodiff

class Value:
    """A scalar node of a compute graph (micrograd-sized reverse-mode autodiff).

    data     the number computed by the forward pass
    grad     d output / d this node, filled in by ``backward(output)``
    op       how the node was made: "" (an input or a constant), "+", "-", "*", "neg", "relu", "abs", "max"
    parents  the nodes it was computed from, in order (a node may appear twice: x * x)

    Build graphs with ordinary Python: ``y = (x * w + b).relu()``; numbers are wrapped automatically.
    """

    __slots__ = ("data", "grad", "op", "parents")

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.op = op

    def __repr__(self):
        made = f", op={self.op!r}" if self.op else ""
        return f"Value(data={self.data:g}, grad={self.grad:g}{made})"

    def __add__(self, other):
        other = _lift(other)
        return Value(self.data + other.data, (self, other), "+")

    def __sub__(self, other):
        other = _lift(other)
        return Value(self.data - other.data, (self, other), "-")

    def __mul__(self, other):
        other = _lift(other)
        return Value(self.data * other.data, (self, other), "*")

    def __radd__(self, other):
        return _lift(other) + self

    def __rsub__(self, other):
        return _lift(other) - self

    def __rmul__(self, other):
        return _lift(other) * self

    def __neg__(self):
        return Value(-self.data, (self,), "neg")

    def __abs__(self):
        return Value(abs(self.data), (self,), "abs")

    def relu(self):
        return Value(self.data if self.data > 0 else 0.0, (self,), "relu")

    def max(self, other):
        other = _lift(other)
        return Value(self.data if self.data >= other.data else other.data, (self, other), "max")

    def backward(self, relu_prime_at_zero=0.0):
        """Fill in .grad of every node of this node's graph: d self / d node (see ``backward``)."""
        backward(self, relu_prime_at_zero)


def _lift(x):
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"a Value can be combined with Values and real numbers, got {type(x).__name__}")
    return Value(x)


def relu(x):
    """ReLU(x) = max(x, 0) for a Value (a graph node), a number or an array."""
    return x.relu() if isinstance(x, Value) else np.maximum(x, 0.0)


def maximum(a, b):
    """max(a, b) for Values (a graph node), numbers or arrays."""
    if isinstance(a, Value) or isinstance(b, Value):
        return _lift(a).max(b)
    return np.maximum(a, b)


def local_derivatives(node, relu_prime_at_zero=0.0):
    """The partial derivatives d node / d parent_i of one operation, at the parents' values.

    With x, y the parents' data:
        "+": (1, 1)      "-": (1, -1)      "*": (y, x)      "neg": (-1,)
        "relu": (1,) if x > 0,  (0,) if x < 0,  (relu_prime_at_zero,) if x == 0
        "abs":  (1,) if x > 0,  (-1,) if x < 0, (0,) if x == 0          (sign(0) = 0, as in PyTorch)
        "max":  (1, 0) if x >= y, (0, 1) if x < y    tie rule: a tie sends everything to the FIRST
                argument (as max-pooling sends it to the first maximal entry)
        "" (an input or a constant): ()   (no parents)
    At a kink each choice is a Clarke subgradient of that one operation, e.g. any value in [0, 1] for
    ReLU at 0. Returns a tuple of floats, one per parent.
    """
    op, p = node.op, node.parents
    if op == "":
        return ()
    if op == "+":
        return (1.0, 1.0)
    if op == "-":
        return (1.0, -1.0)
    if op == "*":
        return (p[1].data, p[0].data)
    if op == "neg":
        return (-1.0,)
    if op == "relu":
        x = p[0].data
        return (1.0 if x > 0 else 0.0 if x < 0 else float(relu_prime_at_zero),)
    if op == "abs":
        x = p[0].data
        return (1.0 if x > 0 else -1.0 if x < 0 else 0.0,)
    if op == "max":
        return (1.0, 0.0) if p[0].data >= p[1].data else (0.0, 1.0)
    raise ValueError(f"unknown operation {op!r}")


def topological_order(output):
    """Every node of output's graph exactly once, each after all of its parents (output last).

    A depth-first search that appends a node when all of its parents are done (iterative, so that
    long chains do not hit Python's recursion limit).
    """
    order, seen = [], set()
    stack = [(output, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents)
    return order


def backward(output, relu_prime_at_zero=0.0, local=local_derivatives):
    """Reverse-mode autodiff: set node.grad = d output / d node for every node of output's graph.

    The chain rule, node by node from the output back to the inputs:

        output.grad = 1,     parent.grad += (d node / d parent) * node.grad   for every node, parent,

    visiting the nodes in reverse topological order, so that a node's grad is complete (it has
    collected the contributions of all the nodes that use it) before it is passed on. All grads are
    set to 0 first, so a graph can be differentiated again (with another ReLU'(0), say). The local
    derivatives come from ``local(node, relu_prime_at_zero)`` (default ``local_derivatives``).

    This is what PyTorch and TensorFlow do: one subgradient per node, and the chain rule as if every
    operation were differentiable. Returns None.
    """
    relu_prime_at_zero = check_relu_prime(relu_prime_at_zero)
    order = topological_order(output)
    for node in order:
        node.grad = 0.0
    output.grad = 1.0
    for node in reversed(order):
        for parent, d in zip(node.parents, local(node, relu_prime_at_zero)):
            parent.grad += d * node.grad


def autodiff_gradient(f, relu_prime_at_zero=0.0):
    """The function theta -> "grad f(theta)" as autodiff computes it.

    ``f`` takes one Value (theta a number; returns a float) or a list of Values (theta an array;
    returns a float64 array of theta's shape) and builds its graph with Value operations.
    """
    def grad(theta):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim == 0:
            x = Value(theta)
            backward(_lift(f(x)), relu_prime_at_zero)
            return x.grad
        xs = [Value(t) for t in theta.ravel()]
        backward(_lift(f(xs)), relu_prime_at_zero)
        return np.array([x.grad for x in xs]).reshape(theta.shape)

    return grad


def graph_table(output):
    """A printable table of output's graph in topological order: node, op, parents, data, grad."""
    order = topological_order(output)
    index = {id(node): i for i, node in enumerate(order)}
    lines = [f"{'node':>4}  {'op':<5} {'parents':<9} {'data':>10} {'grad':>10}"]
    for i, node in enumerate(order):
        parents = ",".join(str(index[id(p)]) for p in node.parents) or "-"
        lines.append(f"{i:>4}  {node.op or 'input':<5} {parents:<9} {node.data:>10.4g} {node.grad:>10.4g}")
    return "\n".join(lines)


def E1(theta):
    """The lecture's E1(theta) = theta."""
    return theta


def E2(theta):
    """The lecture's E2(theta) = ReLU(theta) - ReLU(-theta), equal to E1 for every theta.

    As a graph: relu(theta) and relu(neg(theta)), then "-". Autodiff's chain rule gives
    E2'(theta) = ReLU'(theta) + ReLU'(-theta) = 1 for theta != 0, but 2 ReLU'(0) at theta = 0:
    0 with the frameworks' ReLU'(0) = 0, although d^c E2(0) = {E1'(0)} = {1}.
    """
    return relu(theta) - relu(-theta)


def gradient_descent(grad, theta1, tau, steps):
    """theta(k+1) = theta(k) - tau grad(theta(k)), k = 1..steps; returns the float64 iterates (steps + 1,)."""
    thetas = [float(theta1)]
    for _ in range(positive_int(steps, "steps", minimum=0)):
        thetas.append(thetas[-1] - tau * float(grad(thetas[-1])))
    return np.array(thetas)


# =============================================================================== does ReLU'(0) matter?

def zero_preactivations(params, x):
    """How many hidden pre-activations z = h W + b of the network N(x; theta) are exactly 0.

    Only there does ReLU'(0) enter backpropagation: with no exact zero in the batch, the gradient is
    the same for every choice of ReLU'(0) in [0, 1]. Computed in the params' dtype, as training does.
    """
    _, caches = mlp_forward(params, x)
    return int(sum(np.count_nonzero(z == 0) for _, z in caches if z is not None))


def backprop_differs(params, x, y, relu_prime_a=0.0, relu_prime_b=1.0):
    """True if backpropagation gives different gradients (in any entry) for the two values of ReLU'(0)."""
    _, ga = mlp_loss_and_grad(params, x, y, relu_prime_a)
    _, gb = mlp_loss_and_grad(params, x, y, relu_prime_b)
    return any(not np.array_equal(ga[key], gb[key]) for key in ga)


def relative_drift(params_a, params_b):
    """||theta_A - theta_B|| / ||theta_A||, over all entries of all layers, computed in float64."""
    diff = sum(np.sum((params_a[k].astype(np.float64) - params_b[k].astype(np.float64)) ** 2) for k in params_a)
    norm = sum(np.sum(params_a[k].astype(np.float64) ** 2) for k in params_a)
    return float(np.sqrt(diff / norm)) if norm > 0 else float(np.sqrt(diff))


@functools.lru_cache(maxsize=4)
def _digits(dtype_name):
    X, y, X_test, y_test = load_digits(dtype=np.dtype(dtype_name))
    return X, y, X_test, y_test


def relu_prime_runs(dtype, relu_prime_at_zero=1.0, *, steps=300, batch_size=32, sizes=(64, 32, 32, 10),
                    tau=0.1, seed=0):
    """Two SGD trainings on the digits that differ only in ReLU'(0), in precision ``dtype``.

    Run A uses ReLU'(0) = 0 (PyTorch's and TensorFlow's choice), run B uses ReLU'(0) =
    ``relu_prime_at_zero``. Both start from the same network (He initialization with ``seed``,
    rounded to ``dtype``) and see the same minibatches (shuffled once per epoch with ``seed`` + 1);
    both take plain SGD steps theta(k+1) = theta(k) - tau grad E_k(theta(k)) in ``dtype``.

    In exact arithmetic both runs would be identical with probability 1: backprop depends on ReLU'(0)
    only where a pre-activation is exactly 0, a set of measure zero. In floating point such zeros
    do occur, more often the fewer bits there are; at the first one the runs part, and then they drift.

    Returns a dict of arrays over the steps k = 1..steps:
      "differs"  bool:   backprop at theta_A(k) on minibatch k differs between ReLU'(0) = 0 and the other value
      "zeros"    int:    hidden pre-activations exactly 0 at theta_A(k) on minibatch k
      "drift"    float:  ||theta_A(k+1) - theta_B(k+1)|| / ||theta_A(k+1)|| after step k
      "loss_a", "loss_b" float: the minibatch losses E_k of both runs
    and "test_accuracy": (accuracy of A, accuracy of B) on the held-out digits after training.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32, np.float64):
        raise ValueError(f"dtype must be float16, float32 or float64, got {dtype}")
    r = check_relu_prime(relu_prime_at_zero)
    steps = positive_int(steps, "steps")
    X, y, X_test, y_test = _digits(dtype.name)
    params_a = init_mlp(list(sizes), np.random.default_rng(seed), dtype=dtype)
    params_b = dict(params_a)
    rng = np.random.default_rng(seed + 1)
    tau = dtype.type(tau)
    out = {"differs": np.zeros(steps, bool), "zeros": np.zeros(steps, np.int64),
           "drift": np.zeros(steps), "loss_a": np.zeros(steps), "loss_b": np.zeros(steps)}
    k = 0
    while k < steps:
        for idx in epoch_minibatches(len(X), batch_size, rng):
            if k == steps:
                break
            xb, yb = X[idx], y[idx]
            # run A: one forward pass, backpropagated with ReLU'(0) = 0 (its step) and = r (for comparison)
            scores, caches = mlp_forward(params_a, xb)
            loss_a, dscores = softmax_cross_entropy(scores, yb)
            grads_a = mlp_backward(dscores, caches, 0.0)
            grads_r = mlp_backward(dscores, caches, r)
            # run B
            scores, caches_b = mlp_forward(params_b, xb)
            loss_b, dscores = softmax_cross_entropy(scores, yb)
            grads_b = mlp_backward(dscores, caches_b, r)
            out["differs"][k] = any(not np.array_equal(grads_a[key], grads_r[key]) for key in grads_a)
            out["zeros"][k] = sum(np.count_nonzero(z == 0) for _, z in caches if z is not None)
            params_a = {key: params_a[key] - tau * grads_a[key] for key in params_a}
            params_b = {key: params_b[key] - tau * grads_b[key] for key in params_b}
            out["drift"][k] = relative_drift(params_a, params_b)
            out["loss_a"][k], out["loss_b"][k] = loss_a, loss_b
            k += 1
    accuracy = [float(np.mean(mlp_forward(p, X_test)[0].argmax(axis=1) == y_test)) for p in (params_a, params_b)]
    out["test_accuracy"] = tuple(accuracy)
    return out


RELU_PRIME_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)
RELU_PRIME_DTYPES = ("float16", "float32", "float64")


def same_as_run_a(res):
    """The result ``relu_prime_runs`` gives with ReLU'(0) = 0 for run B, from its result
    for any other ReLU'(0) in the same precision: then B is A (same start, same minibatches, same
    backprop), so backprop never differs, the drift is 0 and B's losses and accuracy are A's."""
    acc_a = res["test_accuracy"][0]
    return {"differs": np.zeros_like(res["differs"]), "zeros": res["zeros"], "drift": np.zeros_like(res["drift"]),
            "loss_a": res["loss_a"], "loss_b": res["loss_a"], "test_accuracy": (acc_a, acc_a)}


def relu_prime_table(runs_fn=None, steps=300, computed=None, dtypes=RELU_PRIME_DTYPES,
                     choices=RELU_PRIME_CHOICES):
    """Results of ``relu_prime_runs`` (or ``runs_fn``) for every precision in ``dtypes``
    and ReLU'(0) of run B in ``choices``, as {(dtype name, ReLU'(0)): result}; ``computed`` holds some
    already. With the reference, two shortcuts give exactly what a run would:

    - ReLU'(0) = 0 for B makes B = A (``same_as_run_a``);
    - when no hidden pre-activation of run A was ever exactly 0 (``zeros`` all 0), ReLU'(0) never entered
      backprop, so B = A for every ReLU'(0): all choices give that same result.

    With a ``runs_fn`` of your own, every setting is computed by it."""
    table = {(str(d), float(r)): res for (d, r), res in (computed or {}).items()}
    run = runs_fn or relu_prime_runs
    for dtype in dtypes:
        for r in sorted(choices, key=lambda r: r != 1.0):      # ReLU'(0) = 1 first: it decides the shortcuts
            if (dtype, r) in table:
                continue
            known = [res for (d, _), res in table.items() if d == dtype]
            if runs_fn is None and known and r == 0.0:
                table[dtype, r] = same_as_run_a(known[0])
            elif runs_fn is None and known and not np.any(known[0]["zeros"]):
                table[dtype, r] = known[0]
            else:
                table[dtype, r] = run(np.dtype(dtype), r, steps=steps)
    return table
