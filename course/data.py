"""Minibatches and small offline data sets.

The lecture's practical algorithm draws minibatches like this::

    for epoch in range(epochs):
        perm = shuffle(range(n))                  # shuffle your training data!
        for i in range(0, n, batch_size):
            I_k = perm[i:i + batch_size]          # the chunk i:i+batch_size
            theta = theta - tau(k) * grad E_k(theta)

``epoch_minibatches`` yields the index sets I(k) of one epoch: every example is used exactly once.
``minibatches_with_replacement`` draws each I(k) uniformly with replacement instead (the textbook
SGD model, in which every grad E_k is an unbiased estimate independent of the previous ones), for
comparison.

Every random function takes a ``numpy.random.Generator`` ``rng``; nothing uses numpy's global state.
"""

from __future__ import annotations

import functools

import numpy as np

from course.validate import check_rng, positive_float, positive_int

__all__ = [
    "epoch_minibatches",
    "minibatches_with_replacement",
    "epoch_minibatches_with_replacement",
    "load_digits",
    "two_moons",
    "spirals",
]


# ---------------------------------------------------------------------------------------- minibatches

def epoch_minibatches(n, batch_size, rng):
    """Index sets I(k) of one epoch: shuffle once, then take contiguous chunks.

    perm = rng.permutation(n);   I(k) = perm[i : i + batch_size]  for i = 0, batch_size, 2 batch_size, ...

    There are ceil(n / batch_size) chunks; the last one is shorter when batch_size does not divide n.
    Every index 0..n-1 appears exactly once per epoch. Returns a generator of 1-D int arrays.
    """
    n = positive_int(n, "n")
    batch_size = positive_int(batch_size, "batch_size")
    check_rng(rng)
    perm = rng.permutation(n)               # drawn now, so that the epoch is fixed by the call
    return (perm[i:i + batch_size] for i in range(0, n, batch_size))


def minibatches_with_replacement(n, batch_size, num_batches, rng):
    """``num_batches`` index sets I(k), each of ``batch_size`` indices drawn uniformly from 0..n-1.

    I(k) = (j_1, ..., j_B),  j_b ~ Uniform{0, ..., n-1} independently (with replacement).

    Then E[grad E_k] = (B / n) grad E, and the batches are independent: the textbook model of SGD.
    An index may repeat inside a batch and some indices may never appear. Returns a generator.
    """
    n = positive_int(n, "n")
    batch_size = positive_int(batch_size, "batch_size")
    num_batches = positive_int(num_batches, "num_batches", minimum=0)
    check_rng(rng)
    return (rng.integers(0, n, size=batch_size) for _ in range(num_batches))


def epoch_minibatches_with_replacement(n, batch_size, rng):
    """As many index sets as an epoch of ``epoch_minibatches`` has, ceil(n / batch_size), each drawn
    with replacement (``minibatches_with_replacement``): the same number of steps per epoch."""
    n, batch_size = positive_int(n, "n"), positive_int(batch_size, "batch_size")
    return minibatches_with_replacement(n, batch_size, -(-n // batch_size), rng)


# ---------------------------------------------------------------------------------------- data sets

def _stratified_split(y, test_fraction, rng):
    """Indices (train, test): in every class round(test_fraction * n_c) examples go to the test set."""
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * idx.size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_fraction=0.25, rng=None, dtype=np.float64):
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes, offline).

    x_j in [0, 1]^64 (pixel value / 16),  y_j in {0, ..., 9}.

    The split is stratified: each class sends round(test_fraction * n_c) images to the test set,
    chosen with ``rng`` (default ``np.random.default_rng(0)``, so the default split never changes).
    Returns ``(X_train, y_train, X_test, y_test)`` with X of ``dtype`` and shape (m, 64), y int64.
    """
    test_fraction = positive_float(test_fraction, "test_fraction")
    if test_fraction >= 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating-point type such as np.float32, got {dtype}")

    pixels, labels = _digits()
    X = (pixels / 16.0).astype(dtype)
    y = labels.astype(np.int64)
    train, test = _stratified_split(y, test_fraction, rng)
    return X[train], y[train], X[test], y[test]


@functools.lru_cache(maxsize=1)
def _digits():
    """scikit-learn's bundled digits (pixels 0..16, labels), read once per process."""
    from sklearn.datasets import load_digits as _sk_load_digits

    digits = _sk_load_digits()
    pixels, labels = digits.data, digits.target
    pixels.flags.writeable = labels.flags.writeable = False  # shared by every caller
    return pixels, labels


def _shuffled(X, y, rng):
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


def two_moons(n, noise, rng):
    """Two interleaving half circles in the plane (numpy only), labels 0 and 1.

    class 0:  (cos t, sin t),              t ~ Uniform[0, pi]
    class 1:  (1 - cos t, 1/2 - sin t),    t ~ Uniform[0, pi]
    x = point + noise * N(0, I_2)

    Class 0 gets ceil(n/2) points and class 1 floor(n/2). Returns (X, y), X float64 (n, 2),
    y int64 (n,), in random order.
    """
    n = positive_int(n, "n")
    noise = positive_float(noise, "noise", allow_zero=True)
    check_rng(rng)
    n0 = n - n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    outer = np.stack([np.cos(t[:n0]), np.sin(t[:n0])], axis=1)
    inner = np.stack([1.0 - np.cos(t[n0:]), 0.5 - np.sin(t[n0:])], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n // 2, np.int64)])
    return _shuffled(X, y, rng)


def spirals(n_per_class, num_classes, noise, rng):
    """``num_classes`` interleaved spiral arms in the plane (the CS231n toy problem), numpy only.

    class c, point i:  r = i / (m - 1),  angle = 4 (c + r) + noise * N(0, 1),
                       x = r (sin angle, cos angle),   m = n_per_class

    Returns (X, y), X float64 (m * num_classes, 2), y int64, in random order.
    """
    m = positive_int(n_per_class, "n_per_class", minimum=2)
    num_classes = positive_int(num_classes, "num_classes", minimum=2)
    noise = positive_float(noise, "noise", allow_zero=True)
    check_rng(rng)
    r = np.tile(np.linspace(0.0, 1.0, m), num_classes)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), m)
    angle = 4.0 * (y + r) + noise * rng.standard_normal(r.size)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    return _shuffled(X, y, rng)
