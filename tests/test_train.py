"""The practical SGD loop of course.train: train (the exercise's signature) and fit (with learning curves)."""


import numpy as np
import pytest

from course.data import load_digits
from course.nn import accuracy, init_mlp, mlp_loss_and_grad
from course.optim import adagrad, adagrad_norm, sgd
from course.data import epoch_minibatches
from course.train import fit, train


def mean_square(theta, X, y=None):
    """E_k(theta) = 1/B sum_j 1/2 (theta - x_j)^2, grad = theta - mean_j x_j (x_j the rows of X)."""
    diff = theta - X
    return 0.5 * float(np.mean(np.sum(diff ** 2, axis=1))), diff.mean(axis=0)


class Recorder:
    """A loss_and_grad that remembers the minibatches it was called with (full-data calls apart)."""

    def __init__(self, n):
        self.n, self.batches = n, []

    def __call__(self, theta, X, y):
        if len(X) < self.n:
            self.batches.append(np.asarray(y).copy())
        return mean_square(theta, X)


# ---------------------------------------------------------------------------------------- the loop

def test_each_epoch_is_one_shuffle_cut_into_contiguous_chunks():
    n, B, epochs = 23, 5, 3
    X, y = np.arange(n, dtype=float)[:, None], np.arange(n)
    rec = Recorder(n)
    _, step_losses = train(rec, np.zeros(1), X, y, sgd(lambda k: 0.1), epochs=epochs, batch_size=B,
                           rng=np.random.default_rng(4))
    twin = np.random.default_rng(4)
    per_epoch = -(-n // B)
    assert len(rec.batches) == len(step_losses) == epochs * per_epoch
    for e in range(epochs):
        perm = twin.permutation(n)
        chunks = rec.batches[e * per_epoch:(e + 1) * per_epoch]
        for chunk, i in zip(chunks, range(0, n, B)):
            np.testing.assert_array_equal(chunk, perm[i:i + B])
        np.testing.assert_array_equal(np.sort(np.concatenate(chunks)), np.arange(n))


def test_sgd_iterates_follow_the_update_rule():
    # theta(k+1) = theta(k) - tau (theta(k) - mean of the chunk), replayed by hand
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    tau, B = 0.3, 4
    theta, step_losses = train(mean_square, np.zeros(2), X, None, sgd(lambda k: tau), epochs=2, batch_size=B,
                               rng=np.random.default_rng(9))
    twin, expected = np.random.default_rng(9), np.zeros(2)
    losses = []
    for _ in range(2):
        perm = twin.permutation(10)
        for i in range(0, 10, B):
            loss, g = mean_square(expected, X[perm[i:i + B]])
            losses.append(loss)
            expected = expected - tau * g
    np.testing.assert_allclose(theta, expected, rtol=1e-12)
    np.testing.assert_allclose(step_losses, losses, rtol=1e-12)


def test_history_layout_and_input_not_modified():
    rng = np.random.default_rng(0)
    X, X_val = rng.standard_normal((12, 3)), rng.standard_normal((5, 3))
    theta0 = np.ones(3)
    theta, h = fit(mean_square, theta0, X, None, sgd(lambda k: 0.5), epochs=4, batch_size=5,
                   rng=np.random.default_rng(1), X_val=X_val)
    np.testing.assert_array_equal(theta0, np.ones(3))
    assert len(h["step_loss"]) == 4 * 3 and len(h["epoch_loss"]) == 4
    assert h["epoch"] == [0, 1, 2, 3, 4] and len(h["train_loss"]) == len(h["val_metric"]) == 5
    assert h["train_loss"][0] == pytest.approx(mean_square(theta0, X)[0])
    assert h["train_loss"][-1] == pytest.approx(mean_square(theta, X)[0])
    assert h["val_metric"][-1] == pytest.approx(mean_square(theta, X_val)[0])   # default: validation loss
    sizes = [5, 5, 2]
    assert h["epoch_loss"][0] == pytest.approx(np.dot(h["step_loss"][:3], sizes) / 12)
    assert h["diverged_at_step"] is None


def test_same_seed_same_run_and_zero_epochs():
    X = np.random.default_rng(0).standard_normal((20, 2))

    def run(seed, epochs=3):
        return fit(mean_square, np.zeros(2), X, None, adagrad_norm(1.0), epochs=epochs, batch_size=3,
                   rng=np.random.default_rng(seed))

    (a, ha), (b, hb), (c, _) = run(1), run(1), run(2)
    np.testing.assert_array_equal(a, b)
    assert ha["step_loss"] == hb["step_loss"]
    assert not np.array_equal(a, c)
    theta, h = run(1, epochs=0)
    np.testing.assert_array_equal(theta, np.zeros(2))
    assert h["step_loss"] == [] and h["epoch"] == [0]


def test_replacement_sampler_takes_as_many_steps_and_repeats_indices():
    n, B = 30, 4
    X, y = np.arange(n, dtype=float)[:, None], np.arange(n)
    rec = Recorder(n)
    fit(rec, np.zeros(1), X, y, sgd(lambda k: 0.1), epochs=20, batch_size=B, rng=np.random.default_rng(0),
        sampler="replacement")
    assert len(rec.batches) == 20 * 8
    assert all(len(b) == B for b in rec.batches)
    per_epoch = [np.concatenate(rec.batches[e * 8:(e + 1) * 8]) for e in range(20)]
    assert any(len(np.unique(idx)) < len(idx) for idx in per_epoch)      # repeats happen
    counts = np.bincount(np.concatenate(per_epoch), minlength=n)
    assert counts.min() > 0 and abs(counts.mean() - 20 * 8 * B / n) < 1e-9


def test_divergence_stops_with_a_warning():
    calls = {"k": 0}

    def blows_up(theta, X, y):
        if len(X) < 10:
            calls["k"] += 1
            if calls["k"] == 4:
                return np.nan, np.zeros(1)
        return 1.0, np.ones(1)

    with pytest.warns(RuntimeWarning, match="loss became nan at step k=3.*step size is probably too large") as w:
        _, h = fit(blows_up, np.zeros(1), np.zeros((10, 1)), None, sgd(lambda k: 0.1), epochs=5,
                   batch_size=3, rng=np.random.default_rng(0))
    assert h["diverged_at_step"] == 3 and len(h["step_loss"]) == 4
    assert w[0].filename == __file__, "the warning points at the line that called fit()"
    calls["k"] = 0
    with pytest.warns(RuntimeWarning, match="loss became nan at step k=3") as w:
        _, step_losses = train(blows_up, np.zeros(1), np.zeros((10, 1)), None, sgd(lambda k: 0.1), epochs=5,
                               batch_size=3, rng=np.random.default_rng(0))
    assert len(step_losses) == 4 and np.isnan(step_losses[-1])
    assert w[0].filename == __file__, "the warning points at the line that called train()"


def test_fit_warns_once_at_its_callers_line_whatever_the_loop():
    # fit says it itself (the loop's own warning would point into fit), once, with the loop's message;
    # also for a loop of the user's own that stops without a warning
    def blows_up(theta, X, y):
        return (np.inf if theta[0] < -0.25 else 1.0), np.ones(1)

    def quiet_loop(loss_and_grad, params, X, y, optimizer, batches, *, epochs, batch_size, rng, on_epoch):
        on_epoch(1, params)
        return params, [1.0, 1.0, np.nan]

    kw = dict(epochs=5, batch_size=3, rng=np.random.default_rng(0))
    with pytest.warns(RuntimeWarning) as w:
        _, steps = train(blows_up, np.zeros(1), np.zeros((10, 1)), None, sgd(lambda k: 0.1), **kw)
    train_says = [str(r.message) for r in w]
    with pytest.warns(RuntimeWarning) as w:
        _, h = fit(blows_up, np.zeros(1), np.zeros((10, 1)), None, sgd(lambda k: 0.1), **kw)
    assert [str(r.message) for r in w] == train_says and len(train_says) == 1 and w[0].filename == __file__
    assert "at step k=3 (epoch 1)" in train_says[0] and h["step_loss"] == steps
    with pytest.warns(RuntimeWarning, match=r"loss became nan at step k=2 \(epoch 2\)") as w:
        _, h = fit(blows_up, np.zeros(1), np.zeros((10, 1)), None, sgd(lambda k: 0.1), loop=quiet_loop, **kw)
    assert len(w) == 1 and w[0].filename == __file__ and h["diverged_at_step"] == 2


def test_train_errors():
    X, y, rng = np.zeros((6, 2)), np.zeros(6, int), np.random.default_rng(0)
    opt = sgd(lambda k: 0.1)
    kw = dict(epochs=1, batch_size=2, rng=rng)
    with pytest.raises(ValueError, match="sampler must be one of"):
        fit(mean_square, np.zeros(2), X, y, opt, sampler="cyclic", **kw)
    with pytest.raises(ValueError, match="y must have one entry per row of X: X has 6 rows, y has shape"):
        train(mean_square, np.zeros(2), X, y[:5], opt, **kw)
    with pytest.raises(TypeError, match=r"optimizer must have init\(params\) and update"):
        train(mean_square, np.zeros(2), X, y, lambda g: g, **kw)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        train(mean_square, np.zeros(2), X, y, opt, epochs=1, batch_size=2, rng=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        train(mean_square, np.zeros(2), X, y, opt, epochs=1, batch_size=0, rng=rng)
    with pytest.raises(ValueError, match="X_val must hold at least one example"):
        fit(mean_square, np.zeros(2), X, y, opt, X_val=np.zeros((0, 2)), **kw)


def test_train_has_the_exercises_signature_and_calls_on_epoch():
    # the mlp notebook's visible test of its train(), against the reference
    class Optimizer:
        def __init__(self):
            self.ks = []

        def init(self, params):
            return 1

        def update(self, grads, k, params=None):
            self.ks.append(k)
            return {"w": -0.5 * grads["w"]}, k + 1

    opt, seen = Optimizer(), []
    X, y = np.array([[1.0], [2.0], [3.0]]), np.zeros(3, dtype=int)
    w0 = {"w": np.array([0.0])}
    params, losses = train(lambda p, X, y: (np.mean(0.5 * (p["w"] - X[:, 0]) ** 2),
                                            {"w": np.mean(p["w"] - X[:, 0], keepdims=True)}),
                           w0, X, y, opt, lambda n, B, rng: [np.array([2, 0]), np.array([1])],
                           epochs=2, batch_size=2, rng=np.random.default_rng(0),
                           on_epoch=lambda epoch, p: seen.append((epoch, float(p["w"][0]))))
    np.testing.assert_allclose(losses, [2.5, 0.5, 0.625, 0.03125])
    np.testing.assert_allclose(params["w"], [1.875])
    assert opt.ks == [1, 2, 3, 4] and seen == [(1, 1.5), (2, 1.875)] and w0["w"][0] == 0.0


def test_fit_records_what_train_does():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((17, 2))
    theta, losses = train(mean_square, np.zeros(2), X, None, adagrad(0.5), epoch_minibatches, epochs=3,
                          batch_size=4, rng=np.random.default_rng(5))
    theta_fit, h = fit(mean_square, np.zeros(2), X, None, adagrad(0.5), epochs=3, batch_size=4,
                       rng=np.random.default_rng(5))
    np.testing.assert_array_equal(theta, theta_fit)
    assert h["step_loss"] == losses


# ---------------------------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("make_opt, sizes, epochs", [
    (lambda: adagrad(eta=0.1), [64, 64, 10], 30),
    (lambda: adagrad_norm(eta=2.0), [64, 32, 10], 30),
], ids=["adagrad-64-64-10", "adagrad_norm-64-32-10"])
def test_mlp_learns_digits_with_adagrad(digits, make_opt, sizes, epochs):
    X_train, y_train, X_test, y_test = digits
    params = init_mlp(sizes, np.random.default_rng(0))
    params, h = fit(mlp_loss_and_grad, params, X_train, y_train, make_opt(), epochs=epochs, batch_size=32,
                    rng=np.random.default_rng(1), X_val=X_test, y_val=y_test, eval_fn=accuracy)
    assert accuracy(params, X_test, y_test) >= 0.95            # held-out images
    assert h["val_metric"][-1] == accuracy(params, X_test, y_test)
    assert h["val_metric"][0] < 0.3                            # it was the training that did it
    assert h["train_loss"][-1] < 0.1 * h["train_loss"][0]
    assert len(h["step_loss"]) == epochs * -(-len(X_train) // 32)


def test_float32_training_keeps_float32(digits):
    X_train, y_train, X_test, y_test = digits
    params = init_mlp([64, 32, 10], np.random.default_rng(0), dtype=np.float32)
    params, _ = train(mlp_loss_and_grad, params, X_train.astype(np.float32), y_train, adagrad(eta=0.1),
                      epochs=5, batch_size=32, rng=np.random.default_rng(1))
    assert all(p.dtype == np.float32 for p in params.values())
    assert accuracy(params, X_test, y_test) >= 0.9


def test_float32_training_keeps_float32_with_adagrad_norm(digits):
    X_train, y_train, _, _ = digits
    params = init_mlp([64, 32, 10], np.random.default_rng(0), dtype=np.float32)
    params, _ = train(mlp_loss_and_grad, params, X_train.astype(np.float32), y_train, adagrad_norm(eta=1.0),
                      epochs=1, batch_size=32, rng=np.random.default_rng(1))
    assert all(p.dtype == np.float32 for p in params.values())
