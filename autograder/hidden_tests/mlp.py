"""Hidden tests of the fully connected network assignment (notebooks/source/mlp).

Each check calls ONE student function with inputs drawn at grading time and compares it with the
reference in ``course``: the layers with ``course.nn``, the finite differences with
``course.gradcheck``, the minibatches with ``course.data`` and the training loop with
``course.train.train`` (the exercise's own signature), step for step.

While grading, the student's functions run in their sandboxed kernel and get plain data only (copies
of arrays, generators as their state), or *test fixtures*: the module-level functions below whose
docstrings start "A test fixture". Each is self-contained (numpy as ``np`` and its own arguments, no
other name of this module, nothing of ``course``): the kernel runs its source to build its own copy,
and the checks call the same function here to compute what to expect. The gradient check gets a
probe function (inside a fixture that calls numerical_gradient and sends theta back, to see that it
is restored); the training loop gets a generic loss, optimizer, batches and on_epoch callback (not
the network's, so a wrong layer never costs the loop's points, and the other way round), called by a
fixture that says which of train's arguments it changed in place.
"""

from __future__ import annotations

import numpy as np

import course.data
import course.gradcheck
import course.nn
import course.train

from ..bugs import Bug
from ..checks import CheckFailed, assert_matches, grading_rng, student_call
from ..remote import Fixture, RemoteFunction, RemoteValue

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
    """(x, W, b): a float64 case, a square one (d_in = d_out: transposes keep their shape), float32, and a
    batch of one example (B = 1: a squeeze or a sum over the wrong axis shows)."""
    cases = []
    for dtype, square, single in ((np.float64, False, False), (np.float64, True, False), (np.float32, False, False),
                                  (np.float64, False, True)):
        B, d_in = 1 if single else int(rng.integers(3, 8)), int(rng.integers(2, 7))
        d_out = d_in if square else int(rng.choice([d for d in range(2, 8) if d not in (d_in, B)]))
        x, W, b = (rng.normal(size=s).astype(dtype) for s in ((B, d_in), (d_in, d_out), (d_out,)))
        cases.append((x, W, b))
    return cases


def check_linear_forward(linear_forward):
    """out = x W + b and cache = (x, W), on the inputs of ``_linear_cases``."""
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
    """Mean cross-entropy over the batch and dscores = (softmax - one_hot) / B, stable for huge scores.

    Inputs: float64 and float32 scores of 3-8 rows (and one of a single row) of 3-10 classes (never as
    many classes as rows, so a transposed softmax shows); scores around 1000 whose exp overflows, with a
    true class so far below its row's maximum that its probability rounds to 0; and, in float64 and
    float32, rows whose maxima lie far apart (row offsets spread over 2000 resp. 400), so that a shift by
    the global maximum instead of each row's underflows a whole row to exp = 0 (a -inf loss).
    """
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
    for dtype, spread in ((np.float64, 2000.0), (np.float32, 400.0)):
        cases.append(_far_apart_rows(rng, dtype, spread))
    for scores, y in cases:
        B, C = scores.shape
        big = f", scores up to {np.abs(scores).max():.0f}" if np.abs(scores).max() > 100 else ""
        call = f"softmax_cross_entropy(scores={_desc(scores)}{big}, y={np.array2string(y, separator=', ')})"
        loss, dscores = course.nn.softmax_cross_entropy(scores, y)
        result = student_call(softmax_cross_entropy, scores.copy(), y.copy(), call=call, forbidden=[course.nn])
        got_loss, got_d = _tuple(result, call, ("loss", "dscores"))
        stable = ("exp overflows for large scores, exp of a row far below the global maximum underflows to 0, "
                  "and the log of a probability that rounds to 0 is -inf: subtract each row's maximum "
                  "(max(axis=1, keepdims=True), not the global one) before exp, and take log p = shifted - log(sum(exp(shifted))) "
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


def _far_apart_rows(rng, dtype, spread):
    """Scores whose rows' maxima lie ``spread`` apart (lowest and highest row, the others between), and
    labels: each row alone is tame, but exp(row - global max) underflows to 0 in a whole row."""
    B = int(rng.integers(3, 9))
    C = int(rng.choice([c for c in range(3, 11) if c != B]))
    offsets = rng.permutation(np.linspace(-spread / 2, spread / 2, B) + rng.uniform(-5, 5, size=B))
    scores = (offsets[:, None] + 3.0 * rng.normal(size=(B, C))).astype(dtype)
    return scores, rng.integers(0, C, size=B)


# ---------------------------------------------------------------------------------------- gradient check

def probe_case(a, c, closure):
    """A test fixture (its source runs in the student's kernel): the gradient check of
    f(theta) = sum sin(a theta) + 1/2 (c . theta)^2, curved enough that a forward difference, a missing
    factor or a fixed eps shows.

    ``run(numerical_gradient, theta, *eps)`` calls ``numerical_gradient(f, theta, *eps)`` and returns
    (its result, theta after the call). With ``closure``, f ignores its argument and reads theta from
    a dict, as the network's loss does: ``numerical_gradient(lambda _: f(params["W"]), params["W"],
    *eps)``, so only perturbing theta itself, in place, moves f."""
    a, c = np.asarray(a, dtype=np.float64), np.asarray(c, dtype=np.float64)

    def f(t):
        t = np.asarray(t, dtype=np.float64)
        return float(np.sum(np.sin(a * t)) + 0.5 * np.sum(c * t) ** 2)

    def run(numerical_gradient, theta, *eps):
        if closure:
            params = {"W": theta}
            result = numerical_gradient(lambda _: f(params["W"]), params["W"], *eps)
        else:
            result = numerical_gradient(f, theta, *eps)
        return result, theta

    return run


def _forward_difference(f, theta, eps=1e-6):
    """The known mistake (f(theta + eps e_i) - f(theta)) / eps, for the hint (runs here, in the grader)."""
    f0, grad = f(theta), np.empty(theta.shape)
    for i in np.ndindex(theta.shape):
        old = theta[i]
        theta[i] = old + eps
        grad[i] = (f(theta) - f0) / eps
        theta[i] = old
    return grad


def check_numerical_gradient(numerical_gradient):
    """Central differences (f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps), theta restored."""
    rng = grading_rng("numerical_gradient")
    reference = course.gradcheck.numerical_gradient
    shapes = [(int(rng.integers(2, 5)), int(rng.integers(2, 5))), (int(rng.integers(3, 8)),)]
    for shape, eps in zip(shapes, (float(10 ** rng.uniform(-3, -2)), float(10 ** rng.uniform(-4, -3)))):
        theta = rng.normal(size=shape)
        case = Fixture(probe_case, rng.uniform(0.5, 2.0, shape), rng.normal(size=shape), False)
        call = f"numerical_gradient(f, theta={_desc(theta)}, eps={eps:.3g})"
        expected, _ = case(reference, theta.copy(), eps)
        got, after = _driven(numerical_gradient, case, call, ("the result", "theta after the call"),
                             theta.copy(), eps, forbidden=[course.gradcheck])
        _restored(after, theta, call)
        assert_matches(got, expected, call, rtol=1e-7, atol=1e-9, hints=[
            (case(_forward_difference, theta.copy(), eps)[0],
             "this is the forward difference (f(theta + eps e_i) - f(theta)) / eps; use the "
             "central difference (f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps)."),
            (2 * expected, "divide by 2 eps: the two points theta +- eps e_i are 2 eps apart."),
            (expected / 2, "divide by 2 eps, not by 4 eps."),
            (-expected, SIGN + " It is f(theta + eps e_i) - f(theta - eps e_i)."),
            (case(reference, theta.copy(), 1e-6)[0], f"use the eps that is passed in (here {eps:.3g}), not a fixed value."),
        ])
    # the default eps, and an f that reads theta through a closure (as the network's loss does)
    W = rng.normal(size=(int(rng.integers(2, 4)), int(rng.integers(2, 4))))
    case = Fixture(probe_case, rng.uniform(0.5, 2.0, W.shape), rng.normal(size=W.shape), True)
    call = f"numerical_gradient(lambda _: loss(params), params['W']={_desc(W)})  (f ignores its argument)"
    expected, _ = case(reference, W.copy())
    got, after = _driven(numerical_gradient, case, call, ("the result", "theta after the call"), W.copy(),
                         forbidden=[course.gradcheck])
    _restored(after, W, call)
    assert_matches(got, expected, call, rtol=1e-5, atol=1e-7, hints=[
        (np.zeros(W.shape), "f reads theta through a closure: perturb theta itself, in place "
                            "(theta[i] = old + eps), not a copy of it, and restore it afterwards."),
    ])


def _restored(theta, before, call):
    """``theta``: the student's theta after the call (sent back by the fixture), ``before``: as given."""
    if not (isinstance(theta, np.ndarray) and theta.shape == before.shape):
        raise CheckFailed(f"For {call}: theta must keep its shape {before.shape}; it was replaced or "
                          "reshaped. Perturb one entry at a time and restore it: theta[i] = old.")
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
#
# The student's train gets test fixtures (their source runs in the kernel; here the same functions
# compute what to expect): a loss of a linear model whose gradient depends on the minibatch, an
# optimizer whose state matters at every step, a batches function and an on_epoch callback that record
# their calls. A fixture that watches the arguments calls train and says which arrays it changed in
# place. The expected run is course.train.train's on the same loss, optimizer and minibatches.

def least_squares_loss(X, y, targets):
    """A test fixture (its source runs in the student's kernel): ``loss_and_grad(params, X_batch,
    y_batch)`` of a linear model with one target vector per label, E = mean over the batch of
    1/2 ||x_j W + b - targets[y_j]||^2, and its gradient (a dict like params). It records, per call,
    which rows of X it received (as indices; -1 for a row that is not one of X) and the labels."""
    X, targets = np.asarray(X, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    rows = {X[i].tobytes(): i for i in range(len(X))}

    class LossAndGrad:
        def __init__(self):
            self.calls = []

        def __call__(self, params, X_batch, y_batch):
            Xb, yb = np.asarray(X_batch, dtype=np.float64), np.asarray(y_batch)
            found = [rows.get(row.tobytes(), -1) for row in Xb.reshape(len(Xb), -1)] if Xb.ndim else []
            self.calls.append({"rows": np.array(found, dtype=np.int64), "labels": yb.copy()})
            residual = Xb @ params["W"] + params["b"] - targets[yb]
            B = len(Xb)
            return 0.5 * float(np.sum(residual * residual)) / B, {"W": Xb.T @ residual / B,
                                                                   "b": residual.sum(axis=0) / B}

        def report(self):
            return self.calls

    return LossAndGrad()


def stateful_optimizer(kind, eta, beta):
    """A test fixture (its source runs in the student's kernel): an SGD-like optimizer with optax's
    interface, ``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``,
    whose state matters at every step:
      "adagrad_norm": c = c + ||g||^2 (from c = 0), updates = -eta / sqrt(c) g;
      "momentum":     v = beta v + g (from v = 0), updates = -eta / sqrt(k) v, k = 1, 2, ..."""

    class Optimizer:
        def init(self, params):
            if kind == "adagrad_norm":
                return {"c": 0.0}
            return {"k": 1, "v": {key: np.zeros(np.shape(value)) for key, value in params.items()}}

        def update(self, grads, state, params=None):
            if kind == "adagrad_norm":
                c = state["c"] + sum(float(np.sum(np.square(g))) for g in grads.values())
                tau = eta / np.sqrt(c) if c > 0 else 0.0
                return {key: -tau * g for key, g in grads.items()}, {"c": c}
            v = {key: beta * state["v"][key] + g for key, g in grads.items()}
            tau = eta / np.sqrt(state["k"])
            return {key: -tau * value for key, value in v.items()}, {"k": state["k"] + 1, "v": v}

    return Optimizer()


def minibatch_recorder(replacement):
    """A test fixture (its source runs in the student's kernel): ``batches(n, batch_size, rng)``, the
    index arrays of one epoch: the chunks perm[i:i + batch_size] of perm = rng.permutation(n), or (with
    ``replacement``) ceil(n / batch_size) batches rng.integers(0, n, size=batch_size), as
    course.train.SAMPLERS draw them. It records every call (n, batch_size, the type of rng
    and its state when called) and every batch it returned."""

    class Batches:
        def __init__(self):
            self.calls, self.returned = [], []

        def __call__(self, n, batch_size, rng):
            state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
            self.calls.append({"n": n, "batch_size": batch_size, "rng": type(rng).__name__, "state": state})
            if replacement:
                chunks = [rng.integers(0, n, size=batch_size) for _ in range(-(-n // batch_size))]
            else:
                perm = rng.permutation(n)
                chunks = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
            self.returned.extend(chunk.copy() for chunk in chunks)
            return chunks

        def report(self):
            return {"calls": self.calls, "returned": self.returned}

    return Batches()


def epoch_recorder():
    """A test fixture (its source runs in the student's kernel): ``on_epoch(epoch, params)`` that
    records each call, with a copy of the params' arrays."""

    class OnEpoch:
        def __init__(self):
            self.seen = []

        def __call__(self, epoch, params):
            copied = {key: np.array(value) for key, value in params.items()} if isinstance(params, dict) \
                else type(params).__name__
            self.seen.append((epoch, copied))

        def report(self):
            return self.seen

    return OnEpoch()


def argument_watcher():
    """A test fixture (its source runs in the student's kernel): ``run(fn, *args, **kwargs)`` calls fn
    and returns (its result, the arrays among the positional arguments, or in dicts among them, that fn
    changed in place, as [position, key or None])."""

    def run(fn, *args, **kwargs):
        watched = []
        for position, arg in enumerate(args):
            if isinstance(arg, np.ndarray):
                watched.append((position, None, arg, arg.copy()))
            elif isinstance(arg, dict):
                watched += [(position, key, value, value.copy()) for key, value in arg.items()
                            if isinstance(value, np.ndarray)]
        result = fn(*args, **kwargs)
        changed = [[position, key] for position, key, array, before in watched
                   if array.shape != before.shape or not np.array_equal(array, before, equal_nan=True)]
        return result, changed

    return run


TRAIN_ARGS = ("loss_and_grad", "params", "X", "y", "optimizer", "batches")


def check_train(train):
    """The practical loop: per epoch one call of batches, per minibatch one step of the optimizer."""
    rng = grading_rng("train")
    B = int(rng.integers(4, 8))
    n = B * int(rng.integers(3, 6)) + int(rng.integers(1, B))
    d, C = int(rng.integers(3, 6)), 3
    X, y = rng.normal(size=(n, d)), rng.integers(0, C, size=n)
    targets = rng.normal(size=(C, C))
    cases = [("shuffled chunks", False, ("adagrad_norm", float(rng.uniform(0.3, 1.5)), 0.0), 3, True),
             ("sampling with replacement", True, ("momentum", 0.1, 0.8), 2, False)]
    for label, replacement, optimizer, epochs, with_callback in cases:
        params = {"W": rng.normal(scale=0.5, size=(d, C)), "b": rng.normal(scale=0.1, size=C)}
        seed = int(rng.integers(2**32))
        _check_train_case(train, label, (X, y, targets), params, optimizer, replacement, epochs, B, seed,
                          with_callback)


def _check_train_case(train, label, data, params, optimizer_args, replacement, epochs, B, seed, with_callback):
    X, y, targets = data
    n = len(X)
    ref_on_epoch = epoch_recorder()
    ref_params, ref_losses = course.train.train(        # the reference, with the exercise's signature
        least_squares_loss(X, y, targets), {k: v.copy() for k, v in params.items()}, X, y,
        stateful_optimizer(*optimizer_args), course.train.SAMPLERS["replacement" if replacement else "shuffle"],
        epochs=epochs, batch_size=B, rng=np.random.default_rng(seed), on_epoch=ref_on_epoch)
    snapshots = [p for _, p in ref_on_epoch.report()]

    loss, optimizer = Fixture(least_squares_loss, X, y, targets), Fixture(stateful_optimizer, *optimizer_args)
    batches, on_epoch = Fixture(minibatch_recorder, replacement), Fixture(epoch_recorder) if with_callback else None
    student_rng = np.random.default_rng(seed)
    call = (f"train(loss_and_grad, params, X=<{n}x{X.shape[1]}>, y, optimizer, batches=<{label}>, "
            f"epochs={epochs}, batch_size={B}, rng=np.random.default_rng({seed}), "
            f"on_epoch={'<records its calls>' if with_callback else 'None'})")
    result, changed = _driven(train, Fixture(argument_watcher), call, ("the result", "the arrays changed"),
                              loss, {k: v.copy() for k, v in params.items()}, X.copy(), y.copy(), optimizer,
                              batches, epochs=epochs, batch_size=B, rng=student_rng, on_epoch=on_epoch,
                              forbidden=[course.train, course.data])
    got_params, got_losses = _tuple(result, call, ("params", "step_losses"))
    remote = isinstance(train, RemoteFunction)

    for position, key in changed if isinstance(changed, list) else []:
        name = TRAIN_ARGS[position] if isinstance(position, int) and 0 <= position < len(TRAIN_ARGS) else "an argument"
        if name == "params":
            raise CheckFailed(f"For {call}: train changed the arrays of the params dict it was given. Make new "
                              "arrays, e.g. params = {key: params[key] + updates[key] for key in params}.")
        raise CheckFailed(f"For {call}: train changed {name} in place; leave the data as it is (X[idx] and "
                          "y[idx] are copies of the minibatch).")
    record = _reported(batches, remote)
    calls, returned = record["calls"], record["returned"]
    if len(calls) != epochs:
        raise CheckFailed(f"For {call}: batches was called {len(calls)} time(s), expected {epochs}: "
                          "once per epoch (a fresh shuffle each epoch), for exactly `epochs` epochs.")
    replay, replay_rng = minibatch_recorder(replacement), np.random.default_rng(seed)
    for epoch, args in enumerate(calls, start=1):
        if args["n"] != n or args["batch_size"] != B or args["rng"] != "Generator":
            raise CheckFailed(f"For {call}: call batches(len(X), batch_size, rng) with the rng passed to "
                              f"train; got batches({args['n']!r}, {args['batch_size']!r}, <{args['rng']}>).")
        if args["state"] != replay_rng.bit_generator.state:
            raise CheckFailed(f"For {call}: in epoch {epoch}, batches did not get the rng passed to train in "
                              "the state it should be in: call batches(len(X), batch_size, rng) with train's "
                              "own rng, and draw nothing else from it (so that training replays from the seed).")
        replay(n, B, replay_rng)
    steps = _reported(loss, remote)
    if len(steps) != len(returned):
        raise CheckFailed(f"For {call}: batches yielded {len(returned)} minibatches over {epochs} epochs, but "
                          f"loss_and_grad was called {len(steps)} times: one call per minibatch.")
    for k, (seen, chunk) in enumerate(zip(steps, returned)):
        rows, labels = seen["rows"], seen["labels"]
        if not (isinstance(rows, np.ndarray) and np.array_equal(rows, chunk)):
            raise CheckFailed(f"For {call}: step {k + 1} must use the rows X[idx] of the minibatch idx = "
                              f"{np.asarray(chunk).tolist()} that batches yielded, got rows "
                              f"{np.asarray(rows).tolist()} (-1: not a row of X).")
        if not (isinstance(labels, np.ndarray) and np.array_equal(labels, y[chunk])):
            raise CheckFailed(f"For {call}: step {k + 1}: the labels must be y[idx] for the same idx as X[idx].")

    try:
        got_array = np.asarray(got_losses, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"For {call}: step_losses must be a list of numbers, got {_kind(got_losses)}.") from None
    if not isinstance(got_params, dict) or set(got_params) != set(params):
        raise CheckFailed(f"For {call}: expected the params as a dict with keys {sorted(params)}, got "
                          f"{sorted(got_params) if isinstance(got_params, dict) else _kind(got_params)}.")
    expected = {"losses": np.asarray(ref_losses), **ref_params}
    got = {"losses": got_array, **got_params}
    try:
        _compare_run(got, expected, call, [])
    except CheckFailed:       # replay known wrong loops only now, to say which one this is
        _compare_run(got, expected, call, _train_alternatives(params, data, optimizer_args, epochs, B, seed,
                                                              replacement))
        raise
    if with_callback:
        seen = _reported(on_epoch, remote)
        epochs_seen = [e for e, _ in seen]
        if epochs_seen != list(range(1, epochs + 1)):
            raise CheckFailed(f"For {call}: on_epoch must be called after every epoch as on_epoch(epoch, params) "
                              f"with epoch = 1, ..., {epochs}; it was called with epoch = {epochs_seen}.")
        for (epoch, p), ref in zip(seen, snapshots):
            _check_params(p, ref, f"{call}, the params passed to on_epoch after epoch {epoch}")


def _driven(fn, fixture, call, parts, *args, forbidden, **kwargs):
    """Call the student's ``fn`` through a driver fixture, ``fixture(fn, *args, **kwargs)``, where ``fn``
    runs: in the student's kernel while grading (the kernel builds the fixture from its source), here
    in tests. The driver returns a pair (``parts`` names its items, for a message if it is not one)."""
    if not callable(fn):
        raise CheckFailed(f"{call.split('(')[0]} should be a function, got {_kind(fn)}.")
    runner = RemoteFunction(fn.kernel, fixture, call) if isinstance(fn, RemoteFunction) else fixture
    result = student_call(runner, fn, *args, call=call, forbidden=forbidden, **kwargs)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"For {call}: the grader's test could not read {' and '.join(parts)} back from the "
                          f"kernel (got {_kind(result)}). Is something in the notebook changing how "
                          "functions return?")
    return result


def _reported(fixture, remote):
    """What a recording fixture saw during the student's call: its kernel copy's report while grading,
    its own here in tests."""
    report = fixture.kernel_report if remote else fixture.report()
    if report is None:
        raise CheckFailed("the grader's test could not read what your function did back from the kernel.")
    return report


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
                          f"{sorted(got) if isinstance(got, dict) else got}.")
    for key in sorted(expected):
        assert_matches(got[key], expected[key], f"{call}['{key}']", rtol=1e-9, atol=1e-12)


class _Ascent:
    """The optimizer with its updates negated: what a loop that subtracts the updates computes."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def init(self, params):
        return self.optimizer.init(params)

    def update(self, grads, state, params=None):
        updates, state = self.optimizer.update(grads, state, params)
        return {k: -v for k, v in updates.items()}, state


def _train_alternatives(params, data, optimizer_args, epochs, B, seed, replacement):
    """Known wrong loops, replayed here with course's loop on the same fixtures: their step losses and
    final params."""
    X, y, targets = data
    sampler = "replacement" if replacement else "shuffle"

    def run(optimizer, epochs_per_restart):
        rng, p, losses = np.random.default_rng(seed), {k: v.copy() for k, v in params.items()}, []
        for _ in range(epochs // epochs_per_restart):
            p, step_losses = course.train.train(least_squares_loss(X, y, targets), p, X, y, optimizer,
                                                course.train.SAMPLERS[sampler], epochs=epochs_per_restart,
                                                batch_size=B, rng=rng)
            losses += list(step_losses)
        return {"losses": np.asarray(losses), **p}

    return [
        (run(stateful_optimizer(*optimizer_args), 1),
         "call optimizer.init(params) once before the first epoch, not once per epoch: the optimizer's "
         "state (AdaGrad's sum c(k) of squared gradient norms, say) carries over."),
        (run(_Ascent(stateful_optimizer(*optimizer_args)), epochs),
         "apply the updates with +: params + updates (the updates already carry the minus sign)."),
    ]


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
