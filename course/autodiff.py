"""A scalar reverse-mode autodiff, small enough to read in one sitting, and where it meets a kink.

A ``Value`` is a node of a compute graph (+, -, *, neg, relu, abs, max), ``local_derivatives`` are the
partial derivatives of one operation, and ``backward`` applies the chain rule from the output back to the
inputs: the three together, the way micrograd's ``engine.py`` reads. At a kink each operation contributes
one subgradient, and ReLU's, ReLU'(0), is a setting.

The lecture's example E1(theta) = theta and E2(theta) = ReLU(theta) - ReLU(-theta) (``E1``, ``E2``) is
one function, yet autodiff's chain rule gives "E2'(0)" = ReLU'(0) + ReLU'(0): 0 for the frameworks'
choice ReLU'(0) = 0, outside the Clarke subdifferential d^c E2(0) = {1} (``course.clarke``). Gradient
descent driven by it stops at the artificial critical point 0 (``gradient_descent``).

Why training works anyway (Bolte and Pauwels, "Conservative set valued fields, automatic
differentiation, stochastic gradient methods and deep learning", 2019): what autodiff computes is an
element of a *conservative field* D(theta) of E. A conservative field obeys the chain rule along
curves, equals {grad E(theta)} for almost every theta, and may be larger than d^c E at a few points
(for E2, D(0) = [0, 2] with ReLU'(0) in [0, 1], while d^c E2(0) = {1}). Its spurious "critical points"
form a small set that SGD with random sampling avoids almost surely.

Nothing here imports autograder code.
"""

from __future__ import annotations

import numbers

import numpy as np

from course.nn import check_relu_prime
from course.validate import positive_int

__all__ = [
    "Value", "local_derivatives", "backward", "topological_order", "relu", "maximum",
    "autodiff_gradient", "graph_table", "E1", "E2", "gradient_descent",
]


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


def _lift(x):
    """x as a Value: a Value as it is, a real number as a new input node; anything else is a TypeError."""
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
