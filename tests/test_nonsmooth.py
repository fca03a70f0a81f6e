"""course.clarke, course.autodiff, course.relu_prime and the nonsmooth layers of course.nn, against exact
sets and finite differences.

The Clarke subdifferentials checked here are known in closed form: ReLU at 0 is [0, 1], |t| at 0 is
[-1, 1], leaky ReLU with slope a at 0 is [a, 1], the max of two equal entries is the segment between the
unit vectors, and E2(t) = ReLU(t) - ReLU(-t) = t has {1} at 0, whatever autodiff says.
"""

import numpy as np
import pytest
from finite_differences import fd_grad

from course import autodiff, clarke, relu_prime
from course.autodiff import Value
from course.nn import (leaky_relu_backward, leaky_relu_forward, maxpool_backward, maxpool_forward,
                       prelu_backward, prelu_forward)

TOL = 1e-6
R_VALUES = (0.0, 0.25, 0.5, 1.0)


def estimate(grad, theta, seed=0):
    return clarke.clarke_subdifferential(grad, theta, rng=np.random.default_rng(seed))


def step(t):
    return 1.0 if t > 0 else 0.0


# ====================================================================== Clarke: exact sets, one variable

@pytest.mark.parametrize("grad", [step, autodiff.autodiff_gradient(lambda t: t.relu())], ids=["formula", "autodiff"])
def test_relu_at_zero_is_the_unit_interval(grad):
    np.testing.assert_allclose(estimate(grad, 0.0), [0.0, 1.0], atol=TOL)


@pytest.mark.parametrize("grad", [np.sign, autodiff.autodiff_gradient(abs)], ids=["formula", "autodiff"])
def test_abs_at_zero_is_minus_one_to_one(grad):
    np.testing.assert_allclose(estimate(grad, 0.0), [-1.0, 1.0], atol=TOL)


@pytest.mark.parametrize("a", [0.01, 0.2, 0.5])
def test_leaky_relu_with_slope_a_gives_a_to_one(a):
    np.testing.assert_allclose(estimate(lambda t: 1.0 if t > 0 else a, 0.0), [a, 1.0], atol=TOL)
    leaky = autodiff.autodiff_gradient(lambda t: t.max(a * t))             # max(t, a t) for a < 1
    np.testing.assert_allclose(estimate(leaky, 0.0), [a, 1.0], atol=TOL)
    # and from the course's leaky ReLU layer, sampled at nearby points
    layer = lambda t: float(leaky_relu_backward(np.ones(1), leaky_relu_forward(np.array([t]), a)[1])[0])
    np.testing.assert_allclose(estimate(layer, 0.0), [a, 1.0], atol=TOL)


@pytest.mark.parametrize("r", R_VALUES)
def test_E2_at_zero_has_clarke_subdifferential_one_whatever_autodiff_says(r):
    grad = autodiff.autodiff_gradient(autodiff.E2, r)
    assert grad(0.0) == 2 * r                                      # the chain rule at the kink
    np.testing.assert_allclose(estimate(grad, 0.0), [1.0, 1.0], atol=TOL)
    np.testing.assert_allclose(estimate(autodiff.autodiff_gradient(autodiff.E1, r), 0.0), [1.0, 1.0], atol=TOL)


def test_smooth_points_give_a_single_gradient():
    np.testing.assert_allclose(estimate(step, 0.5), [1.0, 1.0], atol=TOL)
    np.testing.assert_allclose(estimate(lambda t: 2 * t, 1.0), [2.0, 2.0], atol=TOL)   # t^2 at 1


def test_clarke_interval_uses_both_sides_of_every_offset():
    seen = []
    interval = clarke.clarke_interval(lambda t: seen.append(t) or step(t), 0.0, np.array([1e-3, 2e-3]))
    assert sorted(seen) == [-2e-3, -1e-3, 1e-3, 2e-3]
    np.testing.assert_array_equal(interval, [0.0, 1.0])


def test_sample_offsets_lie_in_the_ball_and_depend_only_on_the_generator():
    d1 = clarke.sample_offsets(1, 0.5, 200, np.random.default_rng(3))
    d2 = clarke.sample_offsets(2, 0.5, 200, np.random.default_rng(3))
    assert d1.shape == (200,) and d2.shape == (200, 2)
    assert np.all(np.abs(d1) <= 0.5) and np.all(np.linalg.norm(d2, axis=1) <= 0.5)
    np.testing.assert_array_equal(d2, clarke.sample_offsets(2, 0.5, 200, np.random.default_rng(3)))
    with pytest.raises(TypeError):
        clarke.sample_offsets(1, 0.5, 10, rng=3)


# ====================================================================== Clarke: exact sets, two variables

@pytest.mark.parametrize("c", [0.0, 0.3, -2.0])
@pytest.mark.parametrize("how", ["formula", "autodiff"])
def test_max_of_two_equal_entries_is_the_segment_between_the_unit_vectors(c, how):
    grad = (autodiff.autodiff_gradient(lambda th: th[0].max(th[1])) if how == "autodiff"
            else lambda t: np.array([1.0, 0.0]) if t[0] >= t[1] else np.array([0.0, 1.0]))
    hull = estimate(grad, np.array([c, c]))
    np.testing.assert_array_equal(hull, [[0.0, 1.0], [1.0, 0.0]])
    # away from the tie, a single unit vector
    np.testing.assert_array_equal(estimate(grad, np.array([c + 1, c])), [[1.0, 0.0]])


def test_sum_of_absolute_values_gives_the_square():
    hull = estimate(autodiff.autodiff_gradient(lambda th: abs(th[0]) + abs(th[1])), np.zeros(2))
    np.testing.assert_array_equal(hull, [[-1, -1], [1, -1], [1, 1], [-1, 1]])


def test_euclidean_norm_gives_the_unit_disk():
    hull = clarke.clarke_subdifferential(lambda t: t / np.linalg.norm(t), np.zeros(2), num_pairs=400,
                                     rng=np.random.default_rng(0))
    circle = np.stack([np.cos(np.linspace(0, 2 * np.pi, 721)), np.sin(np.linspace(0, 2 * np.pi, 721))], axis=1)
    assert clarke.hausdorff(hull, clarke.convex_hull(circle)) < 0.05


def test_prelu_in_input_and_slope_gives_a_segment():
    a = 0.25
    grad = lambda t: np.array([1.0, 0.0]) if t[0] > 0 else np.array([t[1], t[0]])   # (dP/dx, dP/da)
    np.testing.assert_allclose(estimate(grad, np.array([0.0, a])), [[a, 0.0], [1.0, 0.0]], atol=TOL)


# ====================================================================== convex hull and set helpers

def _strictly_convex_ccw(v):
    n = len(v)
    return all(clarke.cross(v[i], v[(i + 1) % n], v[(i + 2) % n]) > 0 for i in range(n))


@pytest.mark.parametrize("seed", range(5))
def test_convex_hull_of_random_points_matches_scipy(seed):
    spatial = pytest.importorskip("scipy.spatial")
    points = np.random.default_rng(seed).standard_normal((40, 2))
    hull = clarke.convex_hull(points)
    expected = points[spatial.ConvexHull(points).vertices]
    assert sorted(map(tuple, hull)) == sorted(map(tuple, expected))
    assert _strictly_convex_ccw(hull)
    assert tuple(hull[0]) == min(map(tuple, points))
    assert all(clarke.distance_to_set(p, hull) < 1e-12 for p in points)


def test_convex_hull_degenerate_cases():
    np.testing.assert_array_equal(clarke.convex_hull([[2.0, 3.0]] * 4), [[2.0, 3.0]])
    np.testing.assert_array_equal(clarke.convex_hull([[3, 3], [0, 0], [1, 1], [2, 2]]), [[0, 0], [3, 3]])
    square = [[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0], [0.5, 0.5], [1, 1], [0, 0.5]]
    np.testing.assert_array_equal(clarke.convex_hull(square), [[0, 0], [1, 0], [1, 1], [0, 1]])
    assert clarke.convex_hull(np.array([[1, 2], [3, 4]], dtype=np.int64)).dtype == np.float64
    with pytest.raises(ValueError):
        clarke.convex_hull(np.zeros((3, 3)))


def test_distance_hausdorff_and_minkowski_sum():
    square = clarke.convex_hull([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert clarke.distance_to_set([0.5, 0.5], square) == 0.0
    assert clarke.distance_to_set([2.0, 0.5], square) == pytest.approx(1.0)
    assert clarke.distance_to_set([2.0, 2.0], square) == pytest.approx(np.sqrt(2))
    assert clarke.distance_to_set([0.5, 3.0], [[0.0, 0.0], [1.0, 0.0]]) == pytest.approx(3.0)
    assert clarke.distance_to_set(3.0, [0.0, 1.0]) == pytest.approx(2.0)
    assert clarke.hausdorff([0.0, 1.0], [0.0, 2.0]) == pytest.approx(1.0)
    assert clarke.hausdorff(square, [[0.5, 0.5]]) == pytest.approx(np.sqrt(0.5))
    np.testing.assert_array_equal(clarke.minkowski_sum([0.0, 1.0], [-2.0, 3.0]), [-2.0, 4.0])
    segment = clarke.convex_hull([[0, 0], [1, 0]])
    np.testing.assert_array_equal(clarke.minkowski_sum(segment, clarke.convex_hull([[0, 0], [0, 1]])), square)


# ====================================================================== the sum rule, only an inclusion

@pytest.mark.parametrize("name", list(clarke.SUM_RULE_EXAMPLES))
def test_sum_rule_examples_match_their_exact_sets(name):
    df, dg, theta, exact_left, exact_right = clarke.SUM_RULE_EXAMPLES[name]
    left, right = clarke.sum_rule(df, dg, theta, clarke.sample_offsets(1, 1e-6, 30, np.random.default_rng(0)))
    np.testing.assert_allclose(left, exact_left, atol=TOL)
    np.testing.assert_allclose(right, exact_right, atol=TOL)


@pytest.mark.parametrize("seed", range(5))
def test_sum_rule_is_always_an_inclusion(seed):
    rng = np.random.default_rng(seed)
    kinks = np.sort(rng.uniform(-1, 1, 3))
    df = lambda t, s=rng.normal(size=4): s[np.searchsorted(kinks, t)]
    dg = lambda t, s=rng.normal(size=4): s[np.searchsorted(kinks, t)]
    left, right = clarke.sum_rule(df, dg, float(kinks[1]), clarke.sample_offsets(1, 0.5, 40, rng))
    assert right[0] <= left[0] + 1e-12 and left[1] <= right[1] + 1e-12


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


# ====================================================================== max-pooling

@pytest.mark.parametrize("shape,size", [((2, 4, 6), 2), ((2, 3, 6, 3), 3), ((4, 4), 4)])
def test_maxpool_forward_matches_loops(shape, size):
    x = np.random.default_rng(0).standard_normal(shape)
    out, _ = maxpool_forward(x, size)
    *lead, H, W = shape
    expected = np.empty((*lead, H // size, W // size))
    for idx in np.ndindex(*lead, H // size, W // size):
        *rest, i, j = idx
        expected[idx] = x[(*rest, slice(size * i, size * i + size), slice(size * j, size * j + size))].max()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape,size", [((2, 4, 6), 2), ((1, 2, 6, 3), 3)])
def test_maxpool_backward_matches_finite_differences(shape, size):
    rng = np.random.default_rng(1)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01          # distinct entries, gaps of 0.01
    out, cache = maxpool_forward(x, size)
    R = rng.standard_normal(out.shape)
    dx = maxpool_backward(R, cache)
    np.testing.assert_allclose(dx, fd_grad(lambda v: np.sum(maxpool_forward(v, size)[0] * R), x), atol=1e-8)


def test_maxpool_tie_rule_is_the_first_maximum_in_row_major_order():
    x = np.array([[[0.0, 5.0, 2.0, 2.0],
                   [5.0, 1.0, 2.0, 2.0],
                   [7.0, 7.0, 0.0, 0.0],
                   [7.0, 7.0, 0.0, 1.0]]], dtype=np.float32)
    dx = maxpool_backward(np.array([[[1.0, 2.0], [3.0, 4.0]]], dtype=np.float32), maxpool_forward(x, 2)[1])
    expected = np.array([[[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 0, 0], [0, 0, 0, 4]]], dtype=np.float32)
    np.testing.assert_array_equal(dx, expected)
    assert dx.dtype == np.float32


def test_maxpool_backward_at_a_tie_is_a_vertex_of_the_clarke_segment():
    def pooled_gradient(ab):
        x = np.array([[ab[0], ab[1]], [1.0, 0.0]])
        return maxpool_backward(np.ones((1, 1)), maxpool_forward(x, 2)[1])[0, :2]
    hull = estimate(pooled_gradient, np.array([5.0, 5.0]))
    np.testing.assert_array_equal(hull, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(pooled_gradient([5.0, 5.0]), [1.0, 0.0])


def test_maxpool_input_checks():
    with pytest.raises(ValueError, match="multiples"):
        maxpool_forward(np.zeros((2, 5, 4)), 2)
    with pytest.raises(ValueError):
        maxpool_backward(np.zeros((2, 2)), maxpool_forward(np.zeros((2, 4, 4)), 2)[1])


# ====================================================================== PReLU

@pytest.mark.parametrize("a", [0.25, np.array([0.1, 0.2, 0.3])])
def test_prelu_forward_and_backward_match_finite_differences(a):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    x[np.abs(x) < 1e-3] = 0.5
    out, cache = prelu_forward(x, a)
    np.testing.assert_allclose(out, np.where(x > 0, x, np.asarray(a) * x))
    R = rng.standard_normal(x.shape)
    dx, da = prelu_backward(R, cache)
    np.testing.assert_allclose(dx, fd_grad(lambda v: np.sum(prelu_forward(v, a)[0] * R), x), atol=1e-7)
    np.testing.assert_allclose(da, fd_grad(lambda v: np.sum(prelu_forward(x, v)[0] * R), np.asarray(a, float)),
                               atol=1e-7)
    assert np.shape(da) == np.shape(a)


def test_prelu_at_zero_uses_a_subgradient_between_a_and_one():
    x = np.array([[0.0, -1.0, 2.0]])
    _, cache = prelu_forward(x, 0.2)
    np.testing.assert_allclose(prelu_backward(np.ones_like(x), cache)[0], [[0.2, 0.2, 1.0]])
    np.testing.assert_allclose(prelu_backward(np.ones_like(x), cache, prime_at_zero=0.7)[0], [[0.7, 0.2, 1.0]])
    with pytest.raises(ValueError, match="between a and 1"):
        prelu_backward(np.ones_like(x), cache, prime_at_zero=0.1)
    with pytest.raises(ValueError):
        prelu_forward(x, np.array([0.1, 0.2]))
    # the Clarke interval of PReLU in its input at 0, from the layer's gradient at nearby points
    layer = lambda t: float(prelu_backward(np.ones(1), prelu_forward(np.array([t]), 0.2)[1])[0][0])
    np.testing.assert_allclose(estimate(layer, 0.0), [0.2, 1.0], atol=TOL)


# ====================================================================== does ReLU'(0) matter?

def test_zero_preactivations_and_backprop_differs_on_an_exact_zero():
    from course.nn import init_mlp
    params = init_mlp([3, 4, 2], np.random.default_rng(0))
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])        # the first example has z = b = 0 exactly
    y = np.array([0, 1])
    assert relu_prime.zero_preactivations(params, x) == 4
    assert relu_prime.backprop_differs(params, x, y)
    assert not relu_prime.backprop_differs(params, x[1:], y[1:])
    assert relu_prime.relative_drift(params, params) == 0.0


def test_relu_prime_runs_in_float64_never_differ():
    res = relu_prime.relu_prime_runs(np.float64, 1.0, steps=60)
    assert not res["differs"].any() and not res["zeros"].any()
    assert np.all(res["drift"] == 0.0)
    np.testing.assert_array_equal(res["loss_a"], res["loss_b"])


def test_relu_prime_runs_in_float16_differ_and_then_drift():
    res = relu_prime.relu_prime_runs(np.float16, 1.0, steps=150)
    again = relu_prime.relu_prime_runs(np.float16, 1.0, steps=150)
    np.testing.assert_array_equal(res["drift"], again["drift"])          # seeded: reproducible
    assert res["differs"].any(), "float16 should hit an exact zero pre-activation within 150 steps"
    first = int(np.argmax(res["differs"]))
    assert np.all(res["zeros"][res["differs"]] > 0)                       # a difference needs an exact zero
    assert np.all(res["drift"][:first] == 0.0) and res["drift"][first] > 0
    assert set(res) >= {"differs", "zeros", "drift", "loss_a", "loss_b", "test_accuracy"}
    with pytest.raises(ValueError):
        relu_prime.relu_prime_runs(np.int32, 1.0, steps=5)


def _two_runs_written_out(dtype, r, steps, sizes=(64, 32, 32, 10), tau=0.1, seed=0, batch_size=32):
    """relu_prime_runs' experiment, a second time: both runs stepped with nn.mlp_loss_and_grad, the
    exact zeros counted on pre-activations computed here, the accuracy as argmax against the labels."""
    from course.data import epoch_minibatches, load_digits
    from course.nn import init_mlp, mlp_loss_and_grad
    X, y, X_test, y_test = load_digits(dtype=dtype)
    params = {"a": init_mlp(list(sizes), np.random.default_rng(seed), dtype=dtype)}
    params["b"] = dict(params["a"])
    rng, tau, rows = np.random.default_rng(seed + 1), np.dtype(dtype).type(tau), []
    while len(rows) < steps:
        for idx in epoch_minibatches(len(X), batch_size, rng):
            if len(rows) == steps:
                break
            h, zeros = X[idx], 0
            for i in range(1, len(sizes) - 1):
                z = h @ params["a"][f"W{i}"] + params["a"][f"b{i}"]
                zeros, h = zeros + int(np.sum(z == 0)), np.maximum(z, 0)
            loss_a, grads_a = mlp_loss_and_grad(params["a"], X[idx], y[idx], 0.0)
            _, grads_r = mlp_loss_and_grad(params["a"], X[idx], y[idx], r)
            loss_b, grads_b = mlp_loss_and_grad(params["b"], X[idx], y[idx], r)
            differs = any((grads_a[k] != grads_r[k]).any() for k in grads_a)
            for run, grads in (("a", grads_a), ("b", grads_b)):
                params[run] = {k: params[run][k] - tau * grads[k] for k in params[run]}
            a, b = (np.concatenate([p.astype(np.float64).ravel() for p in params[run].values()]) for run in "ab")
            rows.append((differs, zeros, np.linalg.norm(a - b) / np.linalg.norm(a), loss_a, loss_b))
    accuracy = []
    for run in "ab":
        h = X_test
        for i in range(1, len(sizes)):
            h = h @ params[run][f"W{i}"] + params[run][f"b{i}"]
            h = np.maximum(h, 0) if i < len(sizes) - 1 else h
        accuracy.append(float(np.mean(h.argmax(axis=1) == y_test)))
    return rows, tuple(accuracy)


@pytest.mark.parametrize("dtype,r,steps", [(np.float16, 1.0, 40), (np.float32, 0.5, 30)])
def test_relu_prime_runs_is_the_experiment_written_out(dtype, r, steps):
    res = relu_prime.relu_prime_runs(dtype, r, steps=steps)
    rows, accuracy = _two_runs_written_out(dtype, r, steps)
    differs, zeros, drift, loss_a, loss_b = (np.array(column) for column in zip(*rows))
    np.testing.assert_array_equal(res["differs"], differs)
    np.testing.assert_array_equal(res["zeros"], zeros)
    np.testing.assert_allclose(res["drift"], drift, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(res["loss_a"], loss_a)
    np.testing.assert_array_equal(res["loss_b"], loss_b)
    assert res["test_accuracy"] == accuracy
    assert dtype != np.float16 or (differs.any() and drift[-1] > 0)   # the float16 case does part
