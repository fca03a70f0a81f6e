"""course.autodiff against finite differences, hand-derived gradients and the chain rule's failure at E2(0)."""

import numpy as np
import pytest
from finite_differences import fd_grad

from course import autodiff
from course.autodiff import Value

R_VALUES = (0.0, 0.25, 0.5, 1.0)


# ====================================================================== the autodiff

def _random_program(rng, num_leaves=3, num_ops=15):
    ops = ("+", "-", "*", "neg", "relu", "abs", "max")
    return [(ops[rng.integers(len(ops))], int(rng.integers(num_leaves + i)), int(rng.integers(num_leaves + i)))
            for i in range(num_ops)]


def _run(program, leaves):
    """Evaluate a program on Values (a graph) or floats; also return the values at the kinks."""
    nodes, kinks = list(leaves), []
    value = lambda n: n.data if isinstance(n, Value) else n
    for op, i, j in program:
        a, b = nodes[i], nodes[j]
        if op in ("relu", "abs"):
            kinks.append(value(a))
        if op == "max":
            kinks.append(value(a) - value(b))
        nodes.append({"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "neg": lambda: -a,
                      "relu": lambda: a.relu() if isinstance(a, Value) else max(a, 0.0),
                      "abs": lambda: abs(a),
                      "max": lambda: a.max(b) if isinstance(a, Value) else max(a, b)}[op]())
    out = nodes[-1] + nodes[-2]
    return out, kinks


@pytest.mark.parametrize("seed", range(20))
def test_backward_matches_finite_differences_away_from_kinks(seed):
    rng = np.random.default_rng(seed)
    for attempt in range(1000):                    # a program and a point with no kink within 1e-3
        if attempt % 10 == 0:                      # (x - x or max(x, x) sit on a kink everywhere)
            program = _random_program(rng)
        x0 = rng.normal(size=3)
        if min(np.abs(_run(program, x0)[1]), default=1.0) > 1e-3:
            break
    else:
        pytest.fail("no program without a permanent kink found")
    leaves = [Value(v) for v in x0]
    out, _ = _run(program, leaves)
    for r in (0.0, 1.0):
        autodiff.backward(out, r)
        got = np.array([leaf.grad for leaf in leaves])
        expected = fd_grad(lambda x: _run(program, x)[0], x0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert out.grad == 1.0


@pytest.mark.parametrize("r", R_VALUES)
def test_autodiff_of_E1_and_E2_at_zero(r):
    x = Value(0.0)
    autodiff.backward(autodiff.E2(x), r)
    assert x.grad == 2 * r
    y = Value(0.0)
    (autodiff.E1(y) + 0.0).backward(r)
    assert y.grad == 1.0
    grad = autodiff.autodiff_gradient(autodiff.E2, r)
    assert grad(0.3) == 1.0 and grad(-0.3) == 1.0


def test_shared_nodes_reset_and_the_tie_rule():
    x = Value(3.0)
    autodiff.backward(x * x + x)
    assert x.grad == 7.0
    autodiff.backward(x * x + x)
    assert x.grad == 7.0                                  # differentiating twice does not accumulate
    autodiff.backward(x - x)
    assert x.grad == 0.0
    a, b = Value(2.0), Value(2.0)
    autodiff.backward(a.max(b))
    assert (a.grad, b.grad) == (1.0, 0.0)                 # a tie goes to the first argument
    autodiff.backward(x.max(x))
    assert x.grad == 1.0
    c = Value(0.0)
    autodiff.backward(abs(c) + 3 * c - 1 + (2 - c))
    assert c.grad == 2.0                                  # abs'(0) = 0, reversed operators work


def test_local_derivatives_of_every_operation():
    x, y = Value(2.0), Value(-3.0)
    assert autodiff.local_derivatives(x + y) == (1.0, 1.0)
    assert autodiff.local_derivatives(x - y) == (1.0, -1.0)
    assert autodiff.local_derivatives(x * y) == (-3.0, 2.0)
    assert autodiff.local_derivatives(-x) == (-1.0,)
    assert autodiff.local_derivatives(y.relu()) == (0.0,) and autodiff.local_derivatives(x.relu()) == (1.0,)
    assert autodiff.local_derivatives(Value(0.0).relu(), 0.7) == (0.7,)
    assert autodiff.local_derivatives(abs(y)) == (-1.0,) and autodiff.local_derivatives(abs(Value(0.0))) == (0.0,)
    assert autodiff.local_derivatives(x.max(y)) == (1.0, 0.0) and autodiff.local_derivatives(y.max(x)) == (0.0, 1.0)
    assert autodiff.local_derivatives(x) == ()
    bad = Value(1.0, (x,), "sin")
    with pytest.raises(ValueError, match="unknown operation"):
        autodiff.local_derivatives(bad)


def test_topological_order_and_long_chains():
    rng = np.random.default_rng(0)
    leaves = [Value(v) for v in rng.normal(size=3)]
    out, _ = _run(_random_program(rng, num_ops=40), leaves)
    order = autodiff.topological_order(out)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order) and order[-1] is out
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    x = Value(1.0)
    y = x
    for _ in range(5000):                                 # deeper than Python's recursion limit
        y = y * 1.0 + 0.0
    autodiff.backward(y)
    assert x.grad == 1.0


def test_input_checks_and_table():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        autodiff.backward(Value(1.0).relu(), 1.5)
    with pytest.raises(TypeError):
        Value(1.0) + "2"
    x = Value(0.0)
    out = autodiff.E2(x)
    out.backward(1.0)
    table = autodiff.graph_table(out)
    assert "relu" in table and "neg" in table and len(table.splitlines()) == 6
    assert "grad=2" in repr(x)
    grad2 = autodiff.autodiff_gradient(lambda th: th[0] * th[1] + th[0].relu())
    np.testing.assert_array_equal(grad2(np.array([2.0, 3.0])), [4.0, 2.0])


def test_gradient_descent_stops_at_the_artificial_critical_point():
    def E(theta):
        e = autodiff.E2(theta) + 1.0
        return 0.5 * e * e
    stuck = autodiff.gradient_descent(autodiff.autodiff_gradient(E, 0.0), 1.0, 0.5, 6)
    np.testing.assert_array_equal(stuck, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    moving = autodiff.gradient_descent(autodiff.autodiff_gradient(E, 0.5), 1.0, 0.5, 6)   # ReLU'(0) = 1/2: E2'(0) = 1
    np.testing.assert_allclose(moving, [1.0, 0.0, -0.5, -0.75, -0.875, -0.9375, -0.96875])
