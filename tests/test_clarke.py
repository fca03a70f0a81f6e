"""course.clarke against exact sets: Clarke subdifferentials known in closed form, convex hulls against
scipy, the sum rule as an inclusion.

ReLU at 0 is [0, 1], |t| at 0 is [-1, 1], leaky ReLU with slope a at 0 is [a, 1], the max of two equal
entries is the segment between the unit vectors, and E2(t) = ReLU(t) - ReLU(-t) = t has {1} at 0,
whatever autodiff says. The gradients come from formulas, from course.autodiff and from course.nn's layers.
"""

import numpy as np
import pytest

from course import autodiff, clarke
from course.nn import leaky_relu_backward, leaky_relu_forward

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
