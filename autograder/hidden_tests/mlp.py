"""Hidden tests of the fully connected network assignment (notebooks/source/mlp).

Each check calls ONE student function with inputs drawn at grading time and compares it with the
reference in ``course``: the layers with ``course.nn``, the finite differences with
``course.gradcheck``, the minibatches with ``course.data`` and the training loop with
``course.train.fit``, step for step. The training loop is given the reference loss, optimizer and
minibatches, so a wrong layer never costs the loop's points (and the other way round).
"""

from __future__ import annotations

import numpy as np

import course.data
import course.gradcheck
import course.nn
import course.train
from course.nn import init_mlp, mlp_loss_and_grad
from course.optim import adagrad_norm, momentum

from ..bugs import Bug
from ..checks import CheckFailed, assert_matches, grading_rng, student_call
from ..remote import RemoteValue

SIGN = "the sign looks flipped."
TOL = {np.dtype(np.float64): dict(rtol=1e-9, atol=1e-12), np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6)}


def _tuple(result, call, names):
    """The student's result as a tuple of len(names) items, or a CheckFailed that says what to return."""
    want = "(" + ", ".join(names) + ")"
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) \
            else _kind(result)
        raise CheckFailed(f"For {call}: expected the tuple {want}, got {got}.")
    return tuple(result)


def _desc(arr) -> str:
    return f"<{'x'.join(map(str, arr.shape))} {arr.dtype}>"


def _kind(x) -> str:
    """The type of a result; a student's object that stayed in the kernel says what it is."""
    return x.type_name if isinstance(x, RemoteValue) else type(x).__name__


def _cache_desc(cache):
    if isinstance(cache, tuple):
        return "a tuple (" + ", ".join(_desc(c) if isinstance(c, np.ndarray) else _kind(c) for c in cache) + ")"
    return _desc(cache) if isinstance(cache, np.ndarray) else _kind(cache)


def _maybe(alternative, message):
    """[(alternative(), message)] if the alternative can be computed (e.g. shapes fit), else []."""
    try:
        return [(alternative(), message)]
    except ValueError:
        return []


def _finite(got, call, hint):
    if isinstance(got, (np.ndarray, float, np.floating)) and not np.all(np.isfinite(got)):
        raise CheckFailed(f"For {call}: the result contains nan or inf. Hint: {hint}")


# ---------------------------------------------------------------------------------------- linear layer

def _linear_cases(rng):
    """(x, W, b): a float64 case, a square one (d_in = d_out: transposes keep their shape), float32."""
    cases = []
    for dtype, square in ((np.float64, False), (np.float64, True), (np.float32, False)):
        B, d_in = int(rng.integers(3, 8)), int(rng.integers(2, 7))
        d_out = d_in if square else int(rng.choice([d for d in range(2, 8) if d not in (d_in, B)]))
        x, W, b = (rng.normal(size=s).astype(dtype) for s in ((B, d_in), (d_in, d_out), (d_out,)))
        cases.append((x, W, b))
    return cases


def check_linear_forward(linear_forward):
    """out = x W + b and cache = (x, W)."""
    rng = grading_rng("linear_forward")
    for x, W, b in _linear_cases(rng):
        call = f"linear_forward(x={_desc(x)}, W={_desc(W)}, b={_desc(b)})"
        expected, _ = course.nn.linear_forward(x, W, b)
        result = student_call(linear_forward, x.copy(), W.copy(), b.copy(), call=call, forbidden=[course.nn])
        out, cache = _tuple(result, call, ("out", "cache"))
        assert_matches(out, expected, call + ", the output out", **TOL[x.dtype], hints=[
            (x @ W, "add the bias b."),
            (x @ W - b, "the bias is added: x @ W + b."),
        ])
        if not (isinstance(cache, tuple) and len(cache) == 2
                and all(isinstance(c, np.ndarray) and c.shape == r.shape and np.array_equal(c, r)
                        for c, r in zip(cache, (x, W)))):
            raise CheckFailed(f"For {call}: the cache must be the tuple (x, W) (linear_backward receives "
                              f"exactly that), got {_cache_desc(cache)}.")


def check_linear_backward(linear_backward):
    """(dx, dW, db) = (dout W^T, x^T dout, sum_j dout_j) for the cache (x, W)."""
    rng = grading_rng("linear_backward")
    for x, W, _ in _linear_cases(rng):
        dout = rng.normal(size=(x.shape[0], W.shape[1])).astype(x.dtype)
        call = f"linear_backward(dout={_desc(dout)}, cache=(x={_desc(x)}, W={_desc(W)}))"
        dx, dW, db = course.nn.linear_backward(dout, (x, W))
        result = student_call(linear_backward, dout.copy(), (x.copy(), W.copy()), call=call,
                              forbidden=[course.nn])
        got = _tuple(result, call, ("dx", "dW", "db"))
        B = x.shape[0]
        assert_matches(got[0], dx, call + ", the first result dx", **TOL[x.dtype], hints=[
            (-dx, SIGN), *_maybe(lambda: dout @ W, "dx = dout @ W.T: transpose W."),
        ])
        assert_matches(got[1], dW, call + ", the second result dW", **TOL[x.dtype], hints=[
            (-dW, SIGN),
            (dW.T, "dW must have W's shape (d_in, d_out): dW = x.T @ dout (this is its transpose)."),
            (dW / B, "do not divide by the batch size here: the 1/B of the mean loss is already in dout."),
        ])
        assert_matches(got[2], db, call + ", the third result db", **TOL[x.dtype], hints=[
            (-db, SIGN),
            (dout.sum(axis=1), "sum over the batch, axis 0 (one entry per output unit), not axis 1."),
            (dout.mean(axis=0), "sum over the batch, do not average: the 1/B is already in dout."),
            (dout[0], "every example of the batch contributes: db = dout.sum(axis=0)."),
        ])


# ---------------------------------------------------------------------------------------- ReLU

def check_relu(relu_forward, relu_backward):
    """ReLU(x) = max(x, 0) with cache x; dx = dout * [x > 0], i.e. ReLU'(0) = 0."""
    rng = grading_rng("relu")
    for dtype, shape in ((np.float64, (int(rng.integers(3, 8)), int(rng.integers(2, 7)))),
                         (np.float32, (int(rng.integers(2, 6)), int(rng.integers(2, 6))))):
        x = rng.normal(size=shape).astype(dtype)
        x[rng.random(shape) < 0.25] = 0.0           # exact zeros: the kink, where ReLU'(0) matters
        x.flat[0], x.flat[-1] = 0.0, abs(x.flat[-1]) + 0.5
        dout = rng.normal(size=shape).astype(dtype)
        described = f"{_desc(x)} with {int(np.sum(x == 0))} exact zeros"
        call = f"relu_forward(x={described})"
        expected, _ = course.nn.relu_forward(x)
        out, cache = _tuple(student_call(relu_forward, x.copy(), call=call, forbidden=[course.nn]),
                            call, ("out", "cache"))
        assert_matches(out, expected, call + ", the output out", **TOL[x.dtype], hints=[
            (np.minimum(x, 0), "ReLU(x) = max(x, 0), not min."), (np.abs(x), "ReLU(x) = max(x, 0), not |x|."),
        ])
        if not (isinstance(cache, np.ndarray) and cache.shape == x.shape and np.array_equal(cache, x)):
            raise CheckFailed(f"For {call}: the cache must be the input x itself (relu_backward receives "
                              f"exactly that), got {_cache_desc(cache)}.")
        call = f"relu_backward(dout={_desc(dout)}, cache=x={described})"
        expected = course.nn.relu_backward(dout, x)
        got = student_call(relu_backward, dout.copy(), x.copy(), call=call, forbidden=[course.nn])
        assert_matches(got, expected, call, **TOL[x.dtype], hints=[
            (dout * (x >= 0), "at x = 0 exactly, use ReLU'(0) = 0 (as PyTorch and TensorFlow do): "
                              "the mask is x > 0, not x >= 0."),
            (dout * (dout > 0), "the mask comes from the layer's input x (the cache), not from dout."),
            ((x > 0).astype(dtype), "chain rule: multiply the mask by dout."),
            (-expected, SIGN),
        ])


# ---------------------------------------------------------------------------------------- loss

def _softmax_rows(s, axis=1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def check_softmax_cross_entropy(softmax_cross_entropy):
    """Mean cross-entropy over the batch and dscores = (softmax - one_hot) / B, stable for huge scores."""
    rng = grading_rng("softmax_cross_entropy")
    cases = []
    for dtype, B, scale, offset in ((np.float64, int(rng.integers(3, 9)), 3.0, 0.0),
                                    (np.float64, 1, 2.0, 0.0),
                                    (np.float32, int(rng.integers(3, 9)), 3.0, 0.0),
                                    (np.float64, int(rng.integers(3, 9)), 60.0, 1000.0)):
        C = int(rng.choice([c for c in range(3, 11) if c != B]))
        scores = (offset + scale * rng.normal(size=(B, C))).astype(dtype)
        y = rng.integers(0, C, size=B)
        if offset:   # huge scores (exp overflows), and one true class so far below its row's maximum
            others = np.delete(scores[0], y[0])   # that its probability rounds to 0
            scores[0, y[0]] = others.max() - rng.uniform(800, 1000)
        cases.append((scores, y))
    for scores, y in cases:
        B, C = scores.shape
        big = f", scores up to {np.abs(scores).max():.0f}" if np.abs(scores).max() > 100 else ""
        call = f"softmax_cross_entropy(scores={_desc(scores)}{big}, y={np.array2string(y, separator=', ')})"
        loss, dscores = course.nn.softmax_cross_entropy(scores, y)
        result = student_call(softmax_cross_entropy, scores.copy(), y.copy(), call=call, forbidden=[course.nn])
        got_loss, got_d = _tuple(result, call, ("loss", "dscores"))
        stable = ("exp overflows for large scores, and the log of a probability that rounds to 0 is -inf: "
                  "subtract each row's maximum before exp, and take log p = shifted - log(sum(exp(shifted))) "
                  "(log-sum-exp) instead of the log of p.")
        _finite(got_loss, call + ", the loss", stable)
        _finite(got_d, call + ", dscores", stable)
        rows, onehot = np.arange(B), np.eye(C, dtype=scores.dtype)[y]
        p64 = _softmax_rows(scores.astype(np.float64))
        p0 = _softmax_rows(scores.astype(np.float64), axis=0)
        with np.errstate(all="ignore"):             # log(0) of a wrong alternative is no one's business
            per_example, per_example0 = -np.log(p64[rows, y]), -np.log(p0[rows, y])
        mean = "the loss is the MEAN over the batch, not the sum: divide by B (the batch size)."
        assert_matches(got_loss, loss, call + ", the loss", **TOL[scores.dtype], hints=[
            (B * loss, mean), (-loss, SIGN),
            (per_example0.mean(), "softmax normalises each row (one example) over the classes: axis=1."),
            (per_example.sum() / C, "divide by the batch size B, not by the number of classes."),
        ])
        assert_matches(got_d, dscores, call + ", dscores", **TOL[scores.dtype], hints=[
            (B * dscores, "dscores must be divided by B: the loss is the mean over the batch."),
            (p64 / B, "subtract 1 at the true class: dscores = (softmax - one_hot(y)) / B."),
            (-dscores, SIGN),
            ((p0 - onehot) / B, "softmax normalises each row (one example) over the classes: axis=1."),
            ((p64 - np.roll(onehot, 1, axis=1)) / B, "the one-hot of y is shifted by one class: labels are 0..C-1."),
        ])


# ---------------------------------------------------------------------------------------- gradient check

class _Probe:
    """f(theta) = sum sin(a theta) + 1/2 (c . theta)^2: curved enough that a forward difference, a
    missing factor or a fixed eps shows."""

    def __init__(self, theta, rng):
        self.a, self.c = rng.uniform(0.5, 2.0, theta.shape), rng.normal(size=theta.shape)

    def value(self, t):
        return float(np.sum(np.sin(self.a * t)) + 0.5 * np.sum(self.c * t) ** 2)

    def __call__(self, t):
        return self.value(np.asarray(t, dtype=np.float64))


def check_numerical_gradient(numerical_gradient):
    """Central differences (f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps), theta restored."""
    rng = grading_rng("numerical_gradient")
    shapes = [(int(rng.integers(2, 5)), int(rng.integers(2, 5))), (int(rng.integers(3, 8)),)]
    for shape, eps in zip(shapes, (float(10 ** rng.uniform(-3, -2)), float(10 ** rng.uniform(-4, -3)))):
        theta = rng.normal(size=shape)
        f = _Probe(theta, rng)
        call = f"numerical_gradient(f, theta={_desc(theta)}, eps={eps:.3g})"
        expected = course.gradcheck.numerical_gradient(f, theta.copy(), eps)
        before = theta.copy()
        got = student_call(numerical_gradient, f, theta, eps, call=call, forbidden=[course.gradcheck])
        _restored(theta, before, call)
        forward = np.empty(shape)
        for i in np.ndindex(shape):
            t = before.copy()
            t[i] += eps
            forward[i] = (f(t) - f(before)) / eps
        assert_matches(got, expected, call, rtol=1e-7, atol=1e-9, hints=[
            (forward, "this is the forward difference (f(theta + eps e_i) - f(theta)) / eps; use the "
                      "central difference (f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps)."),
            (2 * expected, "divide by 2 eps: the two points theta +- eps e_i are 2 eps apart."),
            (expected / 2, "divide by 2 eps, not by 4 eps."),
            (-expected, SIGN + " It is f(theta + eps e_i) - f(theta - eps e_i)."),
            (course.gradcheck.numerical_gradient(f, before.copy(), 1e-6),
             f"use the eps that is passed in (here {eps:.3g}), not a fixed value."),
        ])
    # the default eps, and an f that reads theta through a closure (as the network's loss does)
    params = {"W": rng.normal(size=(int(rng.integers(2, 4)), int(rng.integers(2, 4))))}
    f = _Probe(params["W"], rng)
    call = f"numerical_gradient(lambda _: loss(params), params['W']={_desc(params['W'])})  (f ignores its argument)"
    before = params["W"].copy()
    expected = course.gradcheck.numerical_gradient(lambda _: f(params["W"]), params["W"])
    got = student_call(numerical_gradient, lambda _: f(params["W"]), params["W"], call=call,
                       forbidden=[course.gradcheck])
    _restored(params["W"], before, call)
    assert_matches(got, expected, call, rtol=1e-5, atol=1e-7, hints=[
        (np.zeros(before.shape), "f reads theta through a closure: perturb theta itself, in place "
                                 "(theta[i] = old + eps), not a copy of it, and restore it afterwards."),
    ])


def _restored(theta, before, call):
    if not np.allclose(theta, before, rtol=1e-12, atol=1e-14):
        i = tuple(int(j) for j in np.argwhere(~np.isclose(theta, before, rtol=1e-12, atol=1e-14))[0])
        raise CheckFailed(f"For {call}: theta was changed by the call (entry {i} was {float(before[i])!r}, is "
                          f"now {float(theta[i])!r}). Restore every entry after perturbing it: theta[i] = old.")


# ---------------------------------------------------------------------------------------- minibatches

def check_epoch_minibatches(epoch_minibatches):
    """perm = rng.permutation(n), then the chunks perm[i:i + batch_size] for i = 0, B, 2B, ..."""
    rng = grading_rng("epoch_minibatches")
    B = int(rng.integers(3, 9))
    cases = [(B * int(rng.integers(3, 6)) + int(rng.integers(1, B)), B),     # a shorter last chunk
             (B * int(rng.integers(2, 5)), B),                                  # B divides n
             (int(rng.integers(2, 6)), int(rng.integers(6, 10)))]               # one chunk, B > n
    for n, batch_size in cases:
        seed = int(rng.integers(2**32))
        call = f"epoch_minibatches(n={n}, batch_size={batch_size}, rng=np.random.default_rng({seed}))"
        ref_rng, student_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected = list(course.data.epoch_minibatches(n, batch_size, ref_rng))
        got = student_call(epoch_minibatches, n, batch_size, student_rng, call=call, forbidden=[course.data])
        if not isinstance(got, (list, tuple)):
            raise CheckFailed(f"For {call}: return the minibatches as a list of index arrays, got "
                              f"{_cache_desc(got)}.")
        _check_chunks(list(got), expected, n, batch_size, call)
        if student_rng.bit_generator.state != ref_rng.bit_generator.state:
            raise CheckFailed(f"For {call}: the minibatches are right, but the call drew more from rng than "
                              "one rng.permutation(n). Draw exactly one permutation per epoch, so that the "
                              "training loop can be replayed from the seed.")


def _check_chunks(got, expected, n, batch_size, call):
    for chunk in got:
        if not (isinstance(chunk, np.ndarray) and chunk.ndim == 1 and np.issubdtype(chunk.dtype, np.integer)):
            raise CheckFailed(f"For {call}: each minibatch must be a 1-D integer array of indices (a "
                              f"slice of the permutation), got {_cache_desc(chunk)}.")
    sizes = [len(c) for c in got]
    want = [len(c) for c in expected]
    if len(got) == len(expected) - 1 and sizes == want[:-1]:
        raise CheckFailed(f"For {call}: expected {len(expected)} minibatches, got {len(got)}: the last, "
                          f"shorter chunk (size {want[-1]}) is missing. range(0, n, batch_size) includes it.")
    everything = np.concatenate(got) if got else np.array([], dtype=int)
    if np.array_equal(np.sort(everything), np.arange(n)) and sizes == want:
        if np.array_equal(everything, np.arange(n)) and not np.array_equal(np.concatenate(expected), np.arange(n)):
            raise CheckFailed(f"For {call}: the indices come in the order 0, 1, 2, ...: shuffle first "
                              "(perm = rng.permutation(n)), then cut perm into chunks.")
        for g, e in zip(got, expected):
            if not np.array_equal(g, e):
                raise CheckFailed(f"For {call}: a valid shuffle, but not the chunks of rng.permutation(n): "
                                  f"expected the first minibatch {e.tolist()}, got {got[0].tolist()}. Draw "
                                  "perm = rng.permutation(n) once and take perm[i:i + batch_size].")
        return
    counts = np.bincount(everything[(everything >= 0) & (everything < n)], minlength=n) if everything.size \
        else np.zeros(n, int)
    problems = []
    if everything.size and (everything.min() < 0 or everything.max() >= n):
        problems.append(f"indices outside 0..{n - 1}")
    if np.any(counts == 0):
        problems.append(f"{int(np.sum(counts == 0))} index(es) never used, e.g. {int(np.argmax(counts == 0))}")
    if np.any(counts > 1):
        problems.append(f"{int(np.sum(counts > 1))} index(es) used more than once, e.g. {int(np.argmax(counts > 1))}")
    if sizes != want:
        problems.append(f"minibatch sizes {sizes} instead of {want}")
    raise CheckFailed(f"For {call}: every index 0..n-1 must appear exactly once per epoch, in contiguous "
                      f"chunks perm[i:i + batch_size] for i in range(0, n, batch_size); found "
                      + "; ".join(problems) + ".")


# ---------------------------------------------------------------------------------------- training loop

class _Batches:
    """A minibatch function (n, batch_size, rng) -> list of index arrays that records its calls.

    ``replacement=False``: the chunks of rng.permutation(n), exactly as course.data.epoch_minibatches;
    ``replacement=True``: ceil(n / B) batches drawn with replacement, as course.train's "replacement".
    """

    def __init__(self, replacement):
        self.replacement, self.calls, self.yielded = replacement, [], []

    def __call__(self, n, batch_size, rng):
        self.calls.append((n, batch_size, rng))
        if self.replacement:
            chunks = [rng.integers(0, n, size=batch_size) for _ in range(-(-n // batch_size))]
        else:
            perm = rng.permutation(n)
            chunks = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
        self.yielded += [c.copy() for c in chunks]
        return chunks


class _Loss:
    """course.nn.mlp_loss_and_grad that records which rows of X (as indices) each call received."""

    def __init__(self, X, y):
        self.X, self.y, self.rows = X, y, {X[i].tobytes(): i for i in range(len(X))}
        self.calls = []

    def __call__(self, params, X_batch, y_batch):
        X_batch, y_batch = np.asarray(X_batch), np.asarray(y_batch)
        idx = np.array([self.rows.get(np.asarray(row, dtype=self.X.dtype).tobytes(), -1) for row in X_batch])
        self.calls.append((idx, y_batch.copy()))
        return mlp_loss_and_grad(params, X_batch, y_batch)


def check_train(train):
    """The practical loop: per epoch one call of batches, per minibatch one step of the optimizer."""
    rng = grading_rng("train")
    B = int(rng.integers(4, 8))
    n = B * int(rng.integers(3, 6)) + int(rng.integers(1, B))
    d, C = int(rng.integers(3, 6)), 3
    X, y = rng.normal(size=(n, d)), rng.integers(0, C, size=n)
    cases = [("shuffled chunks", False, lambda: adagrad_norm(eta=float(rng.uniform(0.3, 1.5))), 3, True),
             ("sampling with replacement", True, lambda: momentum(lambda k: 0.1, beta=0.8), 2, False)]
    for label, replacement, make_optimizer, epochs, with_callback in cases:
        params = init_mlp([d, 5, C], rng)
        seed, optimizer = int(rng.integers(2**32)), make_optimizer()
        _check_train_case(train, label, X, y, params, optimizer, replacement, epochs, B, seed, with_callback)


def _check_train_case(train, label, X, y, params, optimizer, replacement, epochs, B, seed, with_callback):
    n = len(X)
    snapshots = []
    ref_params, history = course.train.fit(
        mlp_loss_and_grad, params, X, y, optimizer, epochs=epochs, batch_size=B, rng=np.random.default_rng(seed),
        sampler="replacement" if replacement else "shuffle", X_val=X[:1], y_val=y[:1],
        eval_fn=lambda p, *_: snapshots.append(p) or 0.0)
    loss, batches, epochs_seen = _Loss(X, y), _Batches(replacement), []
    student_rng = np.random.default_rng(seed)
    on_epoch = (lambda epoch, p: epochs_seen.append((epoch, {k: np.array(v) for k, v in p.items()}))) \
        if with_callback else None
    given = {k: v.copy() for k, v in params.items()}
    call = (f"train(loss_and_grad, params, X=<{n}x{X.shape[1]}>, y, optimizer, batches=<{label}>, "
            f"epochs={epochs}, batch_size={B}, rng=np.random.default_rng({seed}), "
            f"on_epoch={'<records its calls>' if with_callback else 'None'})")
    result = student_call(train, loss, given, X, y, optimizer, batches, epochs=epochs, batch_size=B,
                          rng=student_rng, on_epoch=on_epoch, call=call, forbidden=[course.train, course.data])
    got_params, got_losses = _tuple(result, call, ("params", "step_losses"))

    if any(not np.array_equal(given[k], params[k]) for k in params):
        raise CheckFailed(f"For {call}: train changed the arrays of the params dict it was given. Make new "
                          "arrays, e.g. params = {key: params[key] + updates[key] for key in params}.")
    if len(batches.calls) != epochs:
        raise CheckFailed(f"For {call}: batches was called {len(batches.calls)} time(s), expected {epochs}: "
                          "once per epoch (a fresh shuffle each epoch), for exactly `epochs` epochs.")
    for args in batches.calls:
        if args[0] != n or args[1] != B or args[2] is not student_rng:
            raise CheckFailed(f"For {call}: call batches(len(X), batch_size, rng) with the rng passed to "
                              f"train; got batches({args[0]!r}, {args[1]!r}, <{type(args[2]).__name__}>).")
    steps = batches.yielded
    if len(loss.calls) != len(steps):
        raise CheckFailed(f"For {call}: batches yielded {len(steps)} minibatches over {epochs} epochs, but "
                          f"loss_and_grad was called {len(loss.calls)} times: one call per minibatch.")
    for k, ((idx, y_batch), chunk) in enumerate(zip(loss.calls, steps)):
        if not np.array_equal(idx, chunk):
            raise CheckFailed(f"For {call}: step {k + 1} must use the rows X[idx] of the minibatch idx = "
                              f"{chunk.tolist()} that batches yielded, got rows {idx.tolist()} (-1: not a "
                              "row of X).")
        if not np.array_equal(y_batch, y[chunk]):
            raise CheckFailed(f"For {call}: step {k + 1}: the labels must be y[idx] for the same idx as X[idx].")

    try:
        got_array = np.asarray(got_losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"For {call}: step_losses must be a list of numbers, got {_kind(got_losses)}.")
    if not isinstance(got_params, dict) or set(got_params) != set(params):
        raise CheckFailed(f"For {call}: expected the params as a dict with keys {sorted(params)}, got "
                          f"{sorted(got_params) if isinstance(got_params, dict) else _kind(got_params)}.")
    expected = {"losses": np.asarray(history["step_loss"]), **ref_params}
    got = {"losses": got_array, **got_params}
    try:
        _compare_run(got, expected, call, [])
    except CheckFailed:       # replay known wrong loops only now, to say which one this is
        _compare_run(got, expected, call, _train_alternatives(params, X, y, optimizer, epochs, B, seed, replacement))
        raise
    if with_callback:
        if [e for e, _ in epochs_seen] != list(range(1, epochs + 1)):
            raise CheckFailed(f"For {call}: on_epoch must be called after every epoch as on_epoch(epoch, params) "
                              f"with epoch = 1, ..., {epochs}; it was called with epoch = "
                              f"{[e for e, _ in epochs_seen]}.")
        for (epoch, p), ref in zip(epochs_seen, snapshots[1:]):
            _check_params(p, ref, f"{call}, the params passed to on_epoch after epoch {epoch}")


def _compare_run(got, expected, call, alternatives):
    """Step losses, then each parameter array, against the reference run; ``alternatives`` are the
    results of known wrong loops, as (run, message) with run like ``expected``."""
    assert_matches(got["losses"], expected["losses"], call + ", step_losses (E_k(theta(k)) of every step, in order)",
                   rtol=1e-9, atol=1e-12, hints=[(alt["losses"], msg) for alt, msg in alternatives])
    for key in sorted(k for k in expected if k != "losses"):
        assert_matches(got[key], expected[key], f"{call}, the returned params['{key}']", rtol=1e-9, atol=1e-12,
                       hints=[(alt[key], msg) for alt, msg in alternatives])


def _check_params(got, expected, call):
    if not isinstance(got, dict) or set(got) != set(expected):
        raise CheckFailed(f"For {call}: expected a dict with keys {sorted(expected)}, got "
                          f"{sorted(got) if isinstance(got, dict) else _kind(got)}.")
    for key in sorted(expected):
        assert_matches(got[key], expected[key], f"{call}['{key}']", rtol=1e-9, atol=1e-12)


def _train_alternatives(params, X, y, optimizer, epochs, B, seed, replacement):
    """Known wrong loops, replayed with the reference: their step losses and final params."""
    sampler = "replacement" if replacement else "shuffle"

    def run(opt, epochs_per_restart):
        rng, p, losses = np.random.default_rng(seed), params, []
        for _ in range(epochs // epochs_per_restart):
            p, h = course.train.fit(mlp_loss_and_grad, p, X, y, opt, epochs=epochs_per_restart, batch_size=B,
                                    rng=rng, sampler=sampler)
            losses += h["step_loss"]
        return {"losses": np.asarray(losses), **p}

    ascent = type(optimizer)(optimizer.init, lambda g, s, p=None: _negated(optimizer.update(g, s, p)))
    return [
        (run(optimizer, 1), "call optimizer.init(params) once before the first epoch, not once per epoch: "
                            "the optimizer's state (AdaGrad's sum c(k) of squared gradient norms) carries over."),
        (run(ascent, epochs), "apply the updates with +: params + updates (the updates already carry the "
                              "minus sign)."),
    ]


def _negated(result):
    updates, state = result
    return {k: -v for k, v in updates.items()}, state


# Realistic buggy submissions for the demo class and the pipeline tests (see autograder/demo.py).
DEMO_BUGS = [
    Bug("ivan", "bias gradient summed over the wrong axis", "linear_layer",
        "db = dout.sum(axis=0)", "db = dout.sum(axis=1)", ("test_linear_backward",)),
    Bug("judy", "ReLU'(0) = 1 in the backward pass", "relu",
        "return dout * (x > 0)", "return dout * (x >= 0)", ("test_relu",)),
    Bug("ken", "loss summed over the batch instead of averaged", "softmax_cross_entropy",
        "loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()",
        ("test_softmax_cross_entropy",)),
    Bug("lena", "forward differences in the gradient check", "numerical_gradient",
        "grad[i] = (f_plus - f_minus) / (2 * eps)", "grad[i] = (f_plus - f(theta)) / eps",
        ("test_numerical_gradient",)),
    Bug("milo", "drops the last, shorter minibatch", "epoch_minibatches",
        "range(0, n, batch_size)", "range(0, n - batch_size + 1, batch_size)", ("test_epoch_minibatches",)),
    Bug("nick", "restarts the optimizer every epoch", "train",
        "    state = optimizer.init(params)\n    step_losses = []\n    for epoch in range(1, epochs + 1):\n",
        "    step_losses = []\n    for epoch in range(1, epochs + 1):\n        state = optimizer.init(params)\n",
        ("test_train",)),
    Bug("olga", "calls the course library's softmax cross-entropy", "softmax_cross_entropy",
        "    B = scores.shape[0]\n",
        "    from course.nn import softmax_cross_entropy as reference\n    return reference(scores, y)\n",
        ("test_softmax_cross_entropy",)),
]
