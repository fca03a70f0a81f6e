"""The Clarke subdifferential, estimated from gradients sampled near a point.

ReLU, leaky ReLU, PReLU and max-pooling are not differentiable everywhere, so "the gradient" of a
network's loss E(theta) does not exist at every theta. The lecture's weaker derivative is the Clarke
subdifferential of a locally Lipschitz E,

    d^c E(theta) = conv{ p : there are phi_k -> theta, phi_k in R, with grad E(phi_k) -> p },

where R is the set of points at which E is differentiable (almost all of them, by Rademacher's theorem).
This module

- estimates d^c E(theta) for functions of one and two variables from gradients sampled near theta:
  their convex hull (``clarke_interval``, ``convex_hull``, ``clarke_subdifferential``);
- compares such sets (``distance_to_set``, ``hausdorff``, ``minkowski_sum``);
- shows that the sum rule holds only as an inclusion, d^c(f + g) <= d^c f + d^c g (``sum_rule``,
  ``SUM_RULE_EXAMPLES``).

What autodiff computes at a kink is another matter (``course.autodiff``). Everything random takes a
``numpy.random.Generator``. Nothing here imports autograder code.
"""

from __future__ import annotations

import numpy as np

from course.validate import as_float_array, check_rng, positive_float, positive_int

__all__ = [
    "sample_offsets", "gradients_near", "clarke_interval", "cross", "convex_hull", "clarke_subdifferential",
    "distance_to_set", "hausdorff", "minkowski_sum", "sum_rule", "SUM_RULE_EXAMPLES",
]


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
