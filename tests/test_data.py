"""Minibatch samplers and the offline data sets of course.data."""

import numpy as np
import pytest

from course.data import (epoch_minibatches, load_digits, minibatches_with_replacement, spirals,
                         two_moons)


# ---------------------------------------------------------------------------------------- epochs

@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (7, 7), (5, 8), (1, 1), (100, 1)])
def test_epoch_uses_every_index_exactly_once(n, batch_size):
    batches = list(epoch_minibatches(n, batch_size, np.random.default_rng(0)))
    assert len(batches) == -(-n // batch_size)
    assert [len(b) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert 1 <= len(batches[-1]) <= batch_size
    assert all(b.ndim == 1 and np.issubdtype(b.dtype, np.integer) for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))


def test_epoch_chunks_are_contiguous_pieces_of_one_permutation():
    # the lecture: perm = shuffle(range(n)); chunk i:i+batch_size of the shuffled data
    n, batch_size = 23, 5
    perm = np.random.default_rng(42).permutation(n)
    batches = list(epoch_minibatches(n, batch_size, np.random.default_rng(42)))
    for chunk, i in zip(batches, range(0, n, batch_size)):
        np.testing.assert_array_equal(chunk, perm[i:i + batch_size])


def test_epoch_is_deterministic_per_seed_and_reshuffles_between_epochs():
    def epoch(rng):
        return np.concatenate(list(epoch_minibatches(50, 8, rng)))

    np.testing.assert_array_equal(epoch(np.random.default_rng(3)), epoch(np.random.default_rng(3)))
    rng = np.random.default_rng(3)
    first, second = epoch(rng), epoch(rng)
    assert not np.array_equal(first, second)          # a fresh shuffle every epoch
    assert not np.array_equal(first, np.arange(50))   # actually shuffled


def test_epoch_order_is_uniformly_random():
    # where index 0 lands in the permutation: uniform over the n positions
    n, trials = 5, 20000
    rng = np.random.default_rng(1)
    pos = [np.flatnonzero(np.concatenate(list(epoch_minibatches(n, 2, rng))) == 0)[0]
           for _ in range(trials)]
    freq = np.bincount(pos, minlength=n) / trials
    np.testing.assert_allclose(freq, 1 / n, atol=0.015)


# ---------------------------------------------------------------------------------------- replacement

def test_with_replacement_shapes_and_range():
    batches = list(minibatches_with_replacement(10, 4, 7, np.random.default_rng(0)))
    assert len(batches) == 7
    assert all(b.shape == (4,) and np.issubdtype(b.dtype, np.integer) for b in batches)
    allidx = np.concatenate(batches)
    assert allidx.min() >= 0 and allidx.max() <= 9
    assert list(minibatches_with_replacement(10, 4, 0, np.random.default_rng(0))) == []


def test_with_replacement_statistics():
    n, B, K = 6, 3, 20000
    idx = np.stack(list(minibatches_with_replacement(n, B, K, np.random.default_rng(7))))
    freq = np.bincount(idx.ravel(), minlength=n) / idx.size
    np.testing.assert_allclose(freq, 1 / n, atol=0.01)
    # draws are independent, so an index repeats within a batch: P(all distinct) = 6*5*4 / 6^3
    distinct = np.mean([len(set(row)) == B for row in idx])
    assert abs(distinct - (6 * 5 * 4) / 6 ** 3) < 0.015
    # consecutive draws are uncorrelated
    flat = idx.ravel().astype(float)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.02


def test_with_replacement_deterministic_per_seed():
    a = np.stack(list(minibatches_with_replacement(30, 5, 4, np.random.default_rng(11))))
    b = np.stack(list(minibatches_with_replacement(30, 5, 4, np.random.default_rng(11))))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------- errors

def test_sampler_errors_are_raised_at_call_time():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        epoch_minibatches(10, 2, 0)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        epoch_minibatches(10, 2, np.random.RandomState(0))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        epoch_minibatches(10, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        epoch_minibatches(10, 2.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n must be >= 1"):
        minibatches_with_replacement(0, 2, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_batches must be >= 0"):
        minibatches_with_replacement(5, 2, -1, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------- digits

def test_load_digits_shapes_ranges_and_split():
    X_train, y_train, X_test, y_test = load_digits()
    assert X_train.shape[1] == X_test.shape[1] == 64
    assert len(X_train) + len(X_test) == 1797
    assert len(X_train) == len(y_train) and len(X_test) == len(y_test)
    assert abs(len(X_test) / 1797 - 0.25) < 0.01
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.min() >= 0 and X_train.max() <= 1 and X_train.max() == 1
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))
    # stratified: every class has close to 25% of its images in the test set
    counts_test = np.bincount(y_test, minlength=10)
    counts_all = counts_test + np.bincount(y_train, minlength=10)
    assert np.all(np.abs(counts_test - 0.25 * counts_all) <= 1)


def test_load_digits_is_a_partition_of_the_bundled_data():
    from collections import Counter

    from sklearn.datasets import load_digits as sk_load

    X_train, y_train, X_test, y_test = load_digits()
    d = sk_load()
    raw = Counter((row.tobytes(), int(t)) for row, t in zip(d.data / 16.0, d.target))
    got = Counter((row.tobytes(), int(t)) for row, t in zip(np.vstack([X_train, X_test]),
                                                            np.concatenate([y_train, y_test])))
    assert got == raw    # every image used exactly once, with its own label


def test_load_digits_seed_dtype_and_fraction():
    a = load_digits(rng=np.random.default_rng(5))
    b = load_digits(rng=np.random.default_rng(5))
    c = load_digits(rng=np.random.default_rng(6))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(load_digits()[1], load_digits()[1])   # default seed is fixed
    X_train, _, X_test, y_test = load_digits(test_fraction=0.5, dtype=np.float32)
    assert X_train.dtype == X_test.dtype == np.float32
    assert abs(len(y_test) - 1797 / 2) <= 10
    with pytest.raises(ValueError, match="test_fraction must lie strictly between 0 and 1"):
        load_digits(test_fraction=1.0)
    with pytest.raises(TypeError, match="dtype must be a floating-point type"):
        load_digits(dtype=np.int32)


# ---------------------------------------------------------------------------------------- toy sets

def test_two_moons_without_noise_lies_on_the_half_circles():
    X, y = two_moons(201, 0.0, np.random.default_rng(0))
    assert X.shape == (201, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.sum(y == 0) == 101 and np.sum(y == 1) == 100
    x0, x1 = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(x0[:, 0], x0[:, 1]), 1.0)
    assert np.all(x0[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(x1[:, 0] - 1.0, x1[:, 1] - 0.5), 1.0)
    assert np.all(x1[:, 1] <= 0.5)


def test_two_moons_noise_and_determinism():
    X, y = two_moons(4000, 0.1, np.random.default_rng(1))
    x0 = X[y == 0]
    radial = np.hypot(x0[:, 0], x0[:, 1]) - 1.0
    assert 0.07 < radial.std() < 0.13
    X2, y2 = two_moons(4000, 0.1, np.random.default_rng(1))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        two_moons(10, -0.1, np.random.default_rng(0))


def test_spirals():
    X, y = spirals(50, 3, 0.0, np.random.default_rng(0))
    assert X.shape == (150, 2) and np.bincount(y).tolist() == [50, 50, 50]
    assert np.all(np.hypot(X[:, 0], X[:, 1]) <= 1 + 1e-12)
