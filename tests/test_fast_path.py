"""course.fast (the opt-in fast path for the MLP) against the readable loop of course.train, and its
in-place optimizer steps against course.optim's update + apply_updates.

fit(..., loop=fast.train_mlp, loss=fast.mlp_loss) runs on preallocated buffers with in-place updates;
fit(...) runs train(), the loop as written. Both must give the same numbers, history and behaviour.
"""

import numpy as np
import pytest

from course import fast, optim
from course.data import epoch_minibatches_with_replacement
from course.nn import init_mlp, mlp_loss, mlp_loss_and_grad
from course.train import fit, train


def _optimizers(module):
    """The same optimizer settings, made by ``module`` (``course.fast`` or the readable ``course.optim``)."""
    return {
        "sgd": lambda: module.sgd(lambda k: 0.1),
        "sgd-decaying": lambda: module.sgd(lambda k: 0.3 / k ** 0.5),
        "adagrad": lambda: module.adagrad(eta=0.1),
        "adagrad-c0": lambda: module.adagrad(eta=0.1, c0=0.5),
        "adagrad_norm": lambda: module.adagrad_norm(eta=1.0),
        "momentum": lambda: module.momentum(lambda k: 0.05, beta=0.8),
        "adam": lambda: module.adam(eta=1e-2),
    }


OPTIMIZERS, PURE = _optimizers(fast), _optimizers(optim)


def fast_fit(*args, **kwargs):
    return fit(*args, loop=fast.train_mlp, loss=fast.mlp_loss, **kwargs)

# the same numbers up to rounding: so far bitwise identical on every platform tried, but the fast path
# computes dW as (dh^T h)^T, which a BLAS may round differently
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-5, atol=1e-6)}


def problem(rng, n=61, sizes=(6, 9, 7, 4), dtype=np.float64):
    X = rng.standard_normal((n, sizes[0]))
    X[:, 0] = 0.0                              # a dead input: its weights get zero gradients (AdaGrad c = 0)
    y = rng.integers(0, sizes[-1], size=n)
    params = init_mlp(list(sizes), rng, dtype=dtype)
    params["b1"] += dtype(0.1)
    return X, y, params


def both(params, X, y, make_optimizer, **kwargs):
    """The fast path with the optimizer of course.fast, the readable loop with the same optimizer as
    course.optim makes it (an InPlaceOptimizer's init and update are course.optim's)."""
    quick = fast_fit(mlp_loss_and_grad, params, X, y, make_optimizer(), rng=np.random.default_rng(7), **kwargs)
    opt = make_optimizer()
    slow = fit(mlp_loss_and_grad, params, X, y, optim.Optimizer(opt.init, opt.update),
               rng=np.random.default_rng(7), **kwargs)
    return quick, slow


def assert_same_run(quick, slow, tol):
    (p_fast, h_fast), (p_slow, h_slow) = quick, slow
    assert list(p_fast) == list(p_slow)
    for key in p_slow:
        assert p_fast[key].dtype == p_slow[key].dtype and p_fast[key].shape == p_slow[key].shape
        np.testing.assert_allclose(p_fast[key], p_slow[key], **tol, err_msg=key)
    assert h_fast.keys() == h_slow.keys()
    for key in ("step_loss", "epoch_loss", "train_loss", "val_metric"):
        assert len(h_fast[key]) == len(h_slow[key]), key
        np.testing.assert_allclose(h_fast[key], h_slow[key], **tol, err_msg=key)
    assert h_fast["epoch"] == h_slow["epoch"] and h_fast["diverged_at_step"] == h_slow["diverged_at_step"]


# ---------------------------------------------------------------------------------------- train()

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fast_path_matches_the_readable_loop(name, dtype):
    rng = np.random.default_rng(0)
    X, y, params = problem(rng, dtype=dtype)
    X_val, y_val = X[:9] + 0.5, y[:9]
    given = {k: v.copy() for k, v in params.items()}
    quick, slow = both(params, X, y, OPTIMIZERS[name], epochs=3, batch_size=8, X_val=X_val, y_val=y_val)
    assert_same_run(quick, slow, TOL[dtype])
    for key in params:                                            # the input is not modified
        np.testing.assert_array_equal(params[key], given[key])
    assert not np.allclose(quick[0]["W2"], params["W2"])          # it trained


@pytest.mark.parametrize("sampler, batch_size", [("shuffle", 64), ("shuffle", 1), ("replacement", 5),
                                                 ("replacement", 100)])
def test_fast_path_batch_sizes_and_samplers(sampler, batch_size):
    # 64 > n: one batch per epoch; 1: a single row; with replacement, 100 > n rows per batch
    rng = np.random.default_rng(1)
    X, y, params = problem(rng, n=37)
    quick, slow = both(params, X, y, OPTIMIZERS["adagrad"], epochs=2, batch_size=batch_size, sampler=sampler)
    assert_same_run(quick, slow, TOL[np.float64])


@pytest.mark.parametrize("cached_bytes", [0, 1 << 30], ids=["gather per step", "epoch copy"])
@pytest.mark.parametrize("sampler, batch_size", [("shuffle", 8), ("replacement", 100)])
def test_fast_path_with_and_without_the_epochs_copy(monkeypatch, cached_bytes, sampler, batch_size):
    # a training set larger than Workspace.CACHED_BYTES is gathered minibatch by minibatch, a smaller one
    # once per epoch into a contiguous copy: both give the readable loop's numbers, also when a float64
    # step size moves the run to a new float64 Workspace in the middle of an epoch
    monkeypatch.setattr(fast.Workspace, "CACHED_BYTES", cached_bytes)
    rng = np.random.default_rng(13)
    X, y, params = problem(rng, n=37)
    quick, slow = both(params, X, y, OPTIMIZERS["adagrad"], epochs=2, batch_size=batch_size, sampler=sampler)
    assert_same_run(quick, slow, TOL[np.float64])
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    quick, slow = both(p32, X, y, lambda: fast.sgd(lambda k: np.float64(0.2) if k > 1 else 0.2), epochs=2,
                       batch_size=batch_size, sampler=sampler)
    assert all(p.dtype == np.float64 for p in quick[0].values())
    assert_same_run(quick, slow, TOL[np.float64])


def test_fast_path_with_eval_fn_gets_snapshots_that_stay_put():
    # an eval_fn that keeps the params it is given (as the grader's reference run does) must find them
    # unchanged later: the fast path updates its buffers in place, so it hands out copies
    rng = np.random.default_rng(2)
    X, y, params = problem(rng)
    kept = {"fast": [], "slow": []}
    runs = {}
    for which, run in (("fast", fast_fit), ("slow", fit)):
        runs[which] = run(mlp_loss_and_grad, params, X, y, fast.adagrad_norm(eta=1.0), epochs=3, batch_size=10,
                          rng=np.random.default_rng(3), X_val=X[:5], y_val=y[:5],
                          eval_fn=lambda p, Xv, yv, which=which: kept[which].append(p) or 0.5)
    assert_same_run(runs["fast"], runs["slow"], TOL[np.float64])
    assert kept["fast"][0] is params                               # before the first step: the input itself
    assert len(kept["fast"]) == len(kept["slow"]) == 4
    for a, b in zip(kept["fast"], kept["slow"]):
        for key in params:
            np.testing.assert_allclose(a[key], b[key], **TOL[np.float64])
    assert not np.allclose(kept["fast"][1]["W1"], kept["fast"][3]["W1"])


def test_float32_params_with_float64_data_and_integer_data():
    rng = np.random.default_rng(3)
    X, y, params = problem(rng, dtype=np.float32)
    for data in (X, np.round(4 * X).astype(np.int64)):
        quick, slow = both(params, data, y, OPTIMIZERS["sgd"], epochs=2, batch_size=7)
        assert_same_run(quick, slow, TOL[np.float32])
        assert all(p.dtype == np.float32 for p in quick[0].values())


def test_a_float64_step_size_makes_float32_params_float64_as_in_the_loop():
    # -tau * g with tau a np.float64 is float64, so params + updates becomes float64 after the first
    # step in the readable loop; the fast path must follow (it leaves its in-place float32 buffers)
    rng = np.random.default_rng(4)
    X, y, params = problem(rng, dtype=np.float32)
    make = lambda: fast.sgd(lambda k: np.float64(0.2) / np.sqrt(k))            # noqa: E731
    quick, slow = both(params, X, y, make, epochs=2, batch_size=10)
    assert all(p.dtype == np.float64 for p in slow[0].values())
    assert_same_run(quick, slow, TOL[np.float64])
    quick, slow = both(params, X, y, lambda: fast.momentum(lambda k: 0.05, beta=np.float64(0.5)),
                       epochs=2, batch_size=10)
    assert_same_run(quick, slow, TOL[np.float64])


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_zero_epochs_and_divergence_behave_as_in_the_loop():
    rng = np.random.default_rng(5)
    X, y, params = problem(rng)
    p, h = fast_fit(mlp_loss_and_grad, params, X, y, fast.sgd(lambda k: 0.1), epochs=0, batch_size=4,
                    rng=np.random.default_rng(0))
    assert p is params and h["step_loss"] == [] and h["epoch"] == [0] and len(h["train_loss"]) == 1
    p32 = {k: v.astype(np.float32) for k, v in params.items()}      # float32 overflows to inf, then nan
    runs = []
    for run in (fast_fit, fit):
        with pytest.warns(RuntimeWarning, match="step size is probably too large") as w:
            runs.append(run(mlp_loss_and_grad, p32, X * 1e3, y, fast.sgd(lambda k: 1e8), epochs=20, batch_size=4,
                            rng=np.random.default_rng(0)))
        assert [r.filename for r in w if "too large" in str(r.message)] == [__file__]   # the caller's line
    (p_fast, h_fast), (p_slow, h_slow) = runs
    assert h_fast["diverged_at_step"] == h_slow["diverged_at_step"] == len(h_slow["step_loss"]) - 1
    np.testing.assert_allclose(h_fast["step_loss"][:-1], h_slow["step_loss"][:-1], rtol=2e-5)
    assert np.isnan(h_fast["step_loss"][-1]) and np.isnan(h_slow["step_loss"][-1])
    for key in p_slow:                                            # the params before the failed step
        np.testing.assert_allclose(p_fast[key], p_slow[key], rtol=2e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_whole_set_loss_in_chunks(monkeypatch, dtype):
    # the fast path evaluates the whole-set loss on chunks of fast.Workspace.CHUNK rows (here 16: chunks of
    # 16, 16, 16 and 13 rows); a BLAS may round a row of a product differently depending on where the row
    # falls in the product (OpenBLAS does), so train_loss is compared with the float64 loss at the same
    # params, within float32 rounding of a few short sums (rtol 1e-5; float64: 1e-12). The training does
    # not use train_loss: params and step losses match the loop as in the other tests.
    monkeypatch.setattr(fast.Workspace, "CHUNK", 16)
    rng = np.random.default_rng(10)
    X, y, params = problem(rng, dtype=dtype)
    assert len(X) % 16 and len(X) > 3 * 16
    quick, slow = both(params, X, y, OPTIMIZERS["adagrad"], epochs=1, batch_size=8)
    assert_same_run(quick, slow, TOL[dtype])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for history_index, at in ((0, params), (1, quick[0])):
        exact = mlp_loss({k: v.astype(np.float64) for k, v in at.items()}, X, y)
        np.testing.assert_allclose(quick[1]["train_loss"][history_index], exact, rtol=rtol)


def test_fast_path_raises_the_loops_errors():
    rng = np.random.default_rng(6)
    X, y, params = problem(rng)
    cases = [(X[:, :4], y, ValueError), (X, np.where(y == 0, 9, y), IndexError), (X, y.astype(float), TypeError)]
    for data, labels, error in cases:
        messages = []
        for run in (fast.train_mlp, train, fast_fit, fit):
            with pytest.raises(error) as info:
                run(mlp_loss_and_grad, params, data, labels, fast.sgd(lambda k: 0.1), epochs=1, batch_size=4,
                    rng=np.random.default_rng(0))
            messages.append(str(info.value))
        assert messages[2] == messages[3] == messages[0]    # the whole training set is checked first
        assert messages[1].split(", got")[0] == messages[0].split(", got")[0]  # train: on the first minibatch


def test_the_fast_path_is_for_the_mlp_and_an_in_place_optimizer():
    params = init_mlp([3, 4, 2], np.random.default_rng(0))
    X, y = np.zeros((5, 3)), np.zeros(5, int)
    kw = dict(epochs=1, batch_size=2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="mlp_loss_and_grad only"):
        fast.train_mlp(lambda p, X, y: mlp_loss_and_grad(p, X, y), params, X, y, fast.adagrad(), **kw)
    with pytest.raises(TypeError, match="an optimizer of course.fast"):
        fast.train_mlp(mlp_loss_and_grad, params, X, y, optim.adagrad(), **kw)
    with pytest.raises(TypeError, match="float32 and float64"):
        fast.train_mlp(mlp_loss_and_grad, {k: v.astype(np.float16) for k, v in params.items()}, X, y,
                       fast.adagrad(), **kw)
    with pytest.raises(KeyError):
        fast.train_mlp(mlp_loss_and_grad, {"W1": params["W1"]}, X, y, fast.adagrad(), **kw)


def test_train_mlp_has_trains_signature_and_calls_on_epoch_with_copies():
    rng = np.random.default_rng(11)
    X, y, params = problem(rng)
    seen = {"fast": [], "slow": []}
    results = {}
    for which, loop in (("fast", fast.train_mlp), ("slow", train)):
        results[which] = loop(mlp_loss_and_grad, params, X, y, fast.adagrad(eta=0.1),
                              epoch_minibatches_with_replacement, epochs=2, batch_size=9,
                              rng=np.random.default_rng(1),
                              on_epoch=lambda e, p, which=which: seen[which].append((e, p)))
    assert results["fast"][1] == results["slow"][1]
    assert [e for e, _ in seen["fast"]] == [e for e, _ in seen["slow"]] == [1, 2]
    for (_, a), (_, b) in zip(seen["fast"], seen["slow"]):
        for key in params:
            np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(seen["fast"][0][1]["W1"], seen["fast"][1][1]["W1"])    # copies, not buffers


# ---------------------------------------------------------------------------------------- in-place twins

def flat_problem(rng, n=1000, dtype=np.float64):
    theta = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    for g in grads:
        g[:50] = 0.0                                    # never any gradient: AdaGrad's c stays 0
        g[50:60] = 1e-30 if dtype == np.float32 else 1e-170   # g^2 underflows to 0: c stays 0 too
    return theta, grads


def steps_of_both(pure, twin, theta, grads):
    """The readable update + apply_updates and the in-place step, side by side from theta: both params
    agree to the last bit after every step. Returns the in-place params and state."""
    p, s = theta.copy(), pure.init(theta)
    q, t = theta.copy(), twin.init(theta)
    work = fast.work_like(theta)
    for g in grads:
        updates, s = pure.update(g, s, p)
        p = optim.apply_updates(p, updates)
        t = twin.step(g, t, q, work)
        np.testing.assert_array_equal(q, p)
        assert type(t) is type(s) and t.k == s.k
    return q, t


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "adagrad_norm"])
def test_in_place_step_is_update_then_apply_updates(name, dtype):
    rng = np.random.default_rng(8)
    theta, grads = flat_problem(rng, dtype=dtype)
    pure, twin = PURE[name](), OPTIMIZERS[name]()
    assert twin.flat
    q, _ = steps_of_both(pure, twin, theta, grads)
    assert np.all(np.isfinite(q))
    if name.startswith("adagrad"):
        np.testing.assert_array_equal(q[:60], theta[:60])          # c = 0: these entries do not move


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_in_place_adagrad_with_every_c_positive_and_with_a_nan_gradient(dtype):
    # every c_i > 0 (no entry to hold still), then one nan gradient entry: the readable update gives
    # that entry no step (nan > 0 is false) and every other entry its step, bit for bit
    rng = np.random.default_rng(12)
    theta = rng.standard_normal(500).astype(dtype)
    grads = [rng.standard_normal(500).astype(dtype) + dtype(0.5) for _ in range(3)]
    grads[2][7] = np.nan
    for c0 in (0.0, 0.5):
        q, t = steps_of_both(optim.adagrad(eta=0.1, c0=c0), fast.adagrad(eta=0.1, c0=c0), theta, grads)
        assert np.isnan(t.c[7]) and np.all(np.isfinite(q))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_in_place_adagrad_carries_where_c_is_zero_from_step_to_step(dtype):
    # the in-place step zeroes the entries where the last step found c_i = 0 (work[HELD]) and finds any
    # other c_i = 0 or nan through the non-finite quotients x / 0: entries whose c turns positive later
    # must move from then on, an entry that turns nan later must stop, and any hint gives the same bits
    rng = np.random.default_rng(14)
    n = 400
    theta = rng.standard_normal(n).astype(dtype)
    tiny = dtype(1e-30 if dtype == np.float32 else 1e-170)       # g^2 underflows to 0
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(6)]
    for k, g in enumerate(grads):
        g[:40] = 0.0                                   # c = 0 for good
        g[40:80] = 0.0 if k < 2 else g[40:80]          # c = 0 for two steps, then positive
        g[80:90] = tiny if k < 3 else g[80:90]         # c = 0 (underflow) for three steps
    grads[3][200] = np.nan                             # c > 0, then nan: no step from then on
    grads[4][90] = 0.0
    expected = None
    for hint in (np.empty(0, np.intp), np.arange(n), np.array([5, 399, 150, 5])):
        pure, twin = optim.adagrad(eta=0.1), fast.adagrad(eta=0.1)
        p, s = theta.copy(), pure.init(theta)
        q, t = theta.copy(), twin.init(theta)
        work = fast.work_like(theta)
        work[fast.HELD] = hint
        for g in grads:
            updates, s = pure.update(g, s, p)
            p = optim.apply_updates(p, updates)
            t = twin.step(g, t, q, work)
            np.testing.assert_array_equal(q, p)
            np.testing.assert_array_equal(t.c, s.c)
            assert sorted(work[fast.HELD]) == list(np.flatnonzero(~(s.c > 0)))
        assert np.isnan(t.c[200]) and np.all(np.isfinite(q)) and not np.array_equal(q[40:90], theta[40:90])
        np.testing.assert_array_equal(q[:40], theta[:40])
        expected = q if expected is None else expected
        np.testing.assert_array_equal(q, expected)


def test_in_place_step_of_adagrad_norm_on_a_dict():
    rng = np.random.default_rng(9)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4)}
    pure, twin = optim.adagrad_norm(eta=0.7, c0=0.1), fast.adagrad_norm(eta=0.7, c0=0.1)
    assert not twin.flat
    p, s = params, pure.init(params)
    q, t = {k: v.copy() for k, v in params.items()}, twin.init(params)
    work = [{k: np.empty_like(v) for k, v in params.items()} for _ in range(3)]
    for _ in range(3):
        g = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        updates, s = pure.update(g, s, p)
        p = optim.apply_updates(p, updates)
        t = twin.step(g, t, q, work)
        assert t == s
        for key in params:
            np.testing.assert_array_equal(q[key], p[key])


def test_in_place_step_declines_a_step_that_changes_the_dtype():
    theta = np.ones(5, np.float32)
    g = np.ones(5, np.float32)
    work = fast.work_like(theta)
    for opt in (fast.sgd(lambda k: np.float64(0.1)), fast.momentum(lambda k: 0.1, beta=np.float64(0.9)),
                fast.adam(eta=np.float64(0.1))):
        state = opt.init(theta)
        assert opt.step(g, state, theta, work) is None
        np.testing.assert_array_equal(theta, 1.0)                    # nothing changed
    opt = fast.sgd(lambda k: 0.1)                                    # a Python float keeps float32
    assert opt.step(g, opt.init(theta), theta, work) is not None
    assert theta.dtype == np.float32 and np.allclose(theta, 0.9)
