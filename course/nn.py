"""Layers as forward/backward pairs, softmax cross-entropy, and the fully connected network.

Each layer l has a pair (CS231n style)::

    out, cache = layer_forward(x, ...)     # keeps what the backward pass needs in `cache`
    dx, ...    = layer_backward(dout, cache)   # dout = dE/d(out), returns dE/dx and parameter grads

The network is N(x; theta) = l^L(ReLU(l^{L-1}(... ReLU(l^1(x; theta^1)) ...)); theta^L) with affine
layers l^i(x) = x W_i + b_i and no ReLU after the last layer; theta = {W1, b1, ..., WL, bL}.

Shapes: a minibatch x has shape (B, d_in), one example per row. dtypes: the network computes in the
dtype of its parameters (float32 or float64), and gradients come back in that dtype.

ReLU is not differentiable at 0. ``relu_backward`` uses ReLU'(0) = ``relu_prime_at_zero`` (any value in
[0, 1], the Clarke subdifferential of ReLU at 0), 0 by default as in PyTorch and TensorFlow.
"""

from __future__ import annotations

import numbers

import numpy as np

from course.validate import as_float_array, as_index_array, check_rng, positive_int

__all__ = [
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "softmax_cross_entropy",
    "init_mlp", "mlp_forward", "mlp_backward", "mlp_loss", "mlp_loss_and_grad",
    "predict", "accuracy",
    # the input checks, for modules that build on these layers (course.fast, course.autodiff, course.relu_prime)
    "as_batch", "check_labels", "num_layers", "check_relu_prime",
]


# ---------------------------------------------------------------------------------------- checks

def as_batch(x, name, d=None, dtype=None):
    """x as a float array of shape (B, d); a single example of shape (d,) gets a hint."""
    arr = as_float_array(x, name, dtype=dtype)
    if arr.ndim != 2:
        hint = f" (for a single example use {name}[None, :])" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must have shape (batch size, features), got shape {arr.shape}{hint}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have shape (any, {d}) to match the weights, got {arr.shape}")
    return arr


def check_relu_prime(value, name="relu_prime_at_zero"):
    """A value of the derivative at the kink: a real number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1] (a subgradient of ReLU at 0), got {value!r}")
    return float(value)


def num_layers(params):
    """L for params {W1, b1, ..., WL, bL}; raise if keys, shapes or dtypes do not fit together."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict {{'W1': ..., 'b1': ..., ...}}, got {type(params).__name__}")
    L = len(params) // 2
    expected = [f"{p}{i}" for i in range(1, L + 1) for p in "Wb"]
    if L == 0 or sorted(params) != sorted(expected):
        raise KeyError(f"params must have keys W1, b1, ..., WL, bL, got {sorted(params)}")
    dtype = None
    for i in range(1, L + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        for key, arr, ndim in ((f"W{i}", W, 2), (f"b{i}", b, 1)):
            if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
                raise TypeError(f"params['{key}'] must be a floating-point ndarray, got "
                                f"{getattr(arr, 'dtype', type(arr).__name__)}")
            if arr.ndim != ndim:
                raise ValueError(f"params['{key}'] must have {ndim} dimension(s), got shape {arr.shape}")
            dtype = arr.dtype if dtype is None else dtype
            if arr.dtype != dtype:
                raise TypeError(f"all params must share one dtype: W1 is {dtype}, {key} is {arr.dtype}")
        if b.shape != (W.shape[1],):
            raise ValueError(f"params['b{i}'] must have shape ({W.shape[1]},) to match W{i} {W.shape}, "
                             f"got {b.shape}")
        if i > 1 and W.shape[0] != params[f"W{i - 1}"].shape[1]:
            raise ValueError(f"params['W{i}'] has {W.shape[0]} rows but W{i - 1} has "
                             f"{params[f'W{i - 1}'].shape[1]} columns: consecutive layers must fit")
    return L


# ---------------------------------------------------------------------------------------- linear

def _linear_forward(x, W, b):
    return x @ W + b, (x, W)


def _linear_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def linear_forward(x, W, b):
    """Affine layer l(x) = x W + b for a minibatch.

    out[j, :] = x[j, :] @ W + b,   x (B, d_in), W (d_in, d_out), b (d_out,), out (B, d_out).

    Computes in W's dtype. Returns (out, cache).
    """
    W = as_float_array(W, "W", ndim=2)
    b = as_float_array(b, "b", shape=(W.shape[1],), dtype=W.dtype)
    x = as_batch(x, "x", W.shape[0], dtype=W.dtype)
    return _linear_forward(x, W, b)


def linear_backward(dout, cache):
    """Backward pass of out = x W + b, given dout = dE/d(out) of shape (B, d_out).

    dx = dout W^T,   dW = x^T dout,   db = sum_j dout[j, :]   (sum over the batch).

    Returns (dx, dW, db) with the shapes and dtype of (x, W, b).
    """
    x, W = cache
    dout = as_float_array(dout, "dout", shape=(x.shape[0], W.shape[1]), dtype=W.dtype)
    return _linear_backward(dout, cache)


# ---------------------------------------------------------------------------------------- ReLU

def _relu_backward(dout, x, relu_prime_at_zero):
    slope = (x > 0).astype(dout.dtype)
    if relu_prime_at_zero != 0.0:
        slope[x == 0] = relu_prime_at_zero
    return dout * slope


def relu_forward(x):
    """ReLU(x) = max(x, 0), elementwise. Returns (out, cache)."""
    x = as_float_array(x, "x")
    return np.maximum(x, 0), x


def relu_backward(dout, cache, relu_prime_at_zero=0.0):
    """dx = dout * ReLU'(x), with ReLU'(x) = 1 for x > 0, 0 for x < 0, and ``relu_prime_at_zero`` at x = 0.

    Any value in [0, 1] is a Clarke subgradient of ReLU at 0; frameworks use 0.
    """
    x = cache
    dout = as_float_array(dout, "dout", shape=x.shape, dtype=x.dtype)
    return _relu_backward(dout, x, check_relu_prime(relu_prime_at_zero))


def leaky_relu_forward(x, alpha=0.01):
    """LeakyReLU(x) = x for x > 0 and alpha x for x <= 0, elementwise. Returns (out, cache)."""
    x = as_float_array(x, "x")
    return np.where(x > 0, x, x * x.dtype.type(alpha)), (x, float(alpha))


def leaky_relu_backward(dout, cache, prime_at_zero=None):
    """dx = dout * LeakyReLU'(x): 1 for x > 0, alpha for x < 0, ``prime_at_zero`` at x = 0.

    Any value between alpha and 1 is a Clarke subgradient at 0; the default is alpha (as in PyTorch).
    """
    x, alpha = cache
    dout = as_float_array(dout, "dout", shape=x.shape, dtype=x.dtype)
    lo, hi = min(alpha, 1.0), max(alpha, 1.0)
    at_zero = alpha if prime_at_zero is None else float(prime_at_zero)
    if not lo <= at_zero <= hi:
        raise ValueError(f"prime_at_zero must lie between alpha={alpha} and 1, got {prime_at_zero!r}")
    slope = np.where(x > 0, 1.0, alpha).astype(dout.dtype)
    slope[x == 0] = at_zero
    return dout * slope


# ---------------------------------------------------------------------------------------- loss

def check_labels(y, batch, num_classes):
    y = as_index_array(y, "y", num_classes)
    if y.shape != (batch,):
        raise ValueError(f"y must hold one label per row of scores: expected shape ({batch},), got {y.shape}")
    return y


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy over the minibatch and its gradient.

    E_k = (1/B) sum_j [ log sum_c exp(s_jc) - s_{j, y_j} ],
    dE_k/ds_jc = (softmax(s_j)_c - [c == y_j]) / B.

    The loss is the MEAN over the batch (the lecture writes the sum): the sum is B times larger, so
    with the mean the step size tau does not have to change when the batch size B changes.
    Numerically stable for huge scores: log-sum-exp is taken after subtracting max_c s_jc.

    scores (B, C) float, y (B,) int labels in 0..C-1. Returns (loss, dscores): loss a numpy scalar
    and dscores (B, C), both in the dtype of scores.
    """
    scores = as_batch(scores, "scores")
    y = check_labels(y, *scores.shape)
    return _softmax_cross_entropy(scores, y)


def _softmax_cross_entropy(scores, y):
    B = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(B)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= B
    return scores.dtype.type(loss), dscores


# ---------------------------------------------------------------------------------------- the MLP

def init_mlp(sizes, rng, dtype=np.float64):
    """Parameters of the network with layer widths ``sizes`` = [d_0, d_1, ..., d_L].

    W_i ~ N(0, 2 / d_{i-1}) entrywise (He initialization, for layers fed by ReLUs), b_i = 0.

    Returns {"W1": (d_0, d_1), "b1": (d_1,), ..., "WL": (d_{L-1}, d_L), "bL": (d_L,)} in ``dtype``.
    The random numbers are drawn in float64 and rounded, so one seed gives the same network in every dtype.
    """
    sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else [sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least the input and output widths, e.g. [64, 32, 10], got {sizes}")
    sizes = [positive_int(d, f"sizes[{i}]") for i, d in enumerate(sizes)]
    check_rng(rng)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating-point type such as np.float32, got {dtype}")
    params = {}
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(dtype)
        params[f"b{i}"] = np.zeros(d_out, dtype=dtype)
    return params


def _mlp_forward(params, x, L):
    caches = []
    h = x
    for i in range(1, L + 1):
        h, lin_cache = _linear_forward(h, params[f"W{i}"], params[f"b{i}"])
        relu_cache = None
        if i < L:
            relu_cache = h
            h = np.maximum(h, 0)
        caches.append((lin_cache, relu_cache))
    return h, caches


def mlp_forward(params, x):
    """Scores N(x; theta) = l^L(ReLU(... ReLU(l^1(x)) ...)), l^i(h) = h W_i + b_i, for a minibatch.

    x (B, d_0) is converted to the params' dtype. Returns (scores (B, d_L), cache).
    """
    L = num_layers(params)
    x = as_batch(x, "x", params["W1"].shape[0], dtype=params["W1"].dtype)
    return _mlp_forward(params, x, L)


def _mlp_backward(dscores, caches, relu_prime_at_zero):
    grads = {}
    dh = dscores
    for i in range(len(caches), 0, -1):
        lin_cache, relu_cache = caches[i - 1]
        if relu_cache is not None:
            dh = _relu_backward(dh, relu_cache, relu_prime_at_zero)
        dh, grads[f"W{i}"], grads[f"b{i}"] = _linear_backward(dh, lin_cache)
    return {key: grads[key] for key in sorted(grads, key=lambda k: (int(k[1:]), k[0] == "b"))}


def mlp_backward(dscores, cache, relu_prime_at_zero=0.0):
    """Backpropagation through the network: the chain rule, layer by layer from L down to 1.

    dh_L = dscores;  for i = L..1:  [dh_i <- dh_i * ReLU'(z_i) if i < L];
                                     dW_i = h_{i-1}^T dh_i,  db_i = sum_j dh_i[j],  dh_{i-1} = dh_i W_i^T

    ReLU'(0) = ``relu_prime_at_zero``. Returns grads {"W1": ..., "b1": ..., ...} with the keys,
    shapes and dtype of params.
    """
    caches = cache
    (x, W1), _ = caches[0]
    _, WL = caches[-1][0]
    dscores = as_float_array(dscores, "dscores", shape=(x.shape[0], WL.shape[1]), dtype=WL.dtype)
    return _mlp_backward(dscores, caches, check_relu_prime(relu_prime_at_zero))


def mlp_loss_and_grad(params, x, y, relu_prime_at_zero=0.0):
    """E_k(theta) = mean softmax cross-entropy of N(x_j; theta) against y_j over the minibatch, and its gradient.

    Returns (loss, grads): loss a numpy scalar, grads a dict like params (same keys, shapes, dtype).
    """
    L = num_layers(params)
    x = as_batch(x, "x", params["W1"].shape[0], dtype=params["W1"].dtype)
    y = check_labels(y, x.shape[0], params[f"W{L}"].shape[1])
    relu_prime_at_zero = check_relu_prime(relu_prime_at_zero)
    scores, caches = _mlp_forward(params, x, L)
    loss, dscores = _softmax_cross_entropy(scores, y)
    return loss, _mlp_backward(dscores, caches, relu_prime_at_zero)


def mlp_loss(params, x, y):
    """E(theta) = mean softmax cross-entropy of N(x_j; theta) against y_j: the loss of
    ``mlp_loss_and_grad`` (the same checks, the same number) without the backward pass."""
    L = num_layers(params)
    x = as_batch(x, "x", params["W1"].shape[0], dtype=params["W1"].dtype)
    y = check_labels(y, x.shape[0], params[f"W{L}"].shape[1])
    scores, _ = _mlp_forward(params, x, L)
    return _softmax_cross_entropy(scores, y)[0]


def predict(params, x):
    """Predicted labels argmax_c N(x_j; theta)_c, an int64 array of shape (B,)."""
    scores, _ = mlp_forward(params, x)
    return scores.argmax(axis=1).astype(np.int64)


def accuracy(params, x, y):
    """Fraction of examples classified correctly: (1/B) sum_j [predict(x_j) == y_j], a float in [0, 1]."""
    labels = predict(params, x)
    y = check_labels(y, labels.shape[0], params[f"W{num_layers(params)}"].shape[1])
    return float(np.mean(labels == y))


# ---------------------------------------------------------------------------------------- PReLU

def _prelu_slope(a, x):
    """The PReLU slope as an array that broadcasts against x: a number, or one slope per feature."""
    a = as_float_array(a, "a", dtype=x.dtype)
    if a.ndim != 0 and a.shape != x.shape[-1:]:
        raise ValueError(f"a must be a number or have shape ({x.shape[-1]},) (one slope per feature of x "
                         f"{x.shape}), got {a.shape}")
    return a


def prelu_forward(x, a):
    """PReLU(x) = x for x > 0 and a x for x <= 0, elementwise, with a learnable slope a.

    ``a`` is a number (one slope for all) or an array of shape (d,) for x of shape (..., d) (one slope per
    feature, broadcast over the other axes). Leaky ReLU is PReLU with a fixed a. Returns (out, cache).
    """
    x = as_float_array(x, "x")
    a = _prelu_slope(a, x)
    return np.where(x > 0, x, a * x), (x, a)


def prelu_backward(dout, cache, prime_at_zero=None):
    """Backward pass of PReLU: (dx, da).

    dx = dout * PReLU'(x) with PReLU'(x) = 1 for x > 0, a for x < 0 and ``prime_at_zero`` at x = 0
    (default a, as in PyTorch; any value between a and 1 is a Clarke subgradient there);
    da = sum of dout * x over the entries with x < 0, summed over every axis that a was broadcast over
    (x = 0 adds nothing: there d PReLU / da = x = 0). da has the shape and dtype of a.
    """
    x, a = cache
    dout = as_float_array(dout, "dout", shape=x.shape, dtype=x.dtype)
    slope = np.where(x > 0, 1.0, a).astype(x.dtype)
    if prime_at_zero is not None:
        at_zero = np.broadcast_to(np.asarray(prime_at_zero, dtype=np.float64), x.shape)
        lo, hi = np.minimum(a, 1.0), np.maximum(a, 1.0)
        if not np.all((np.broadcast_to(lo, x.shape) <= at_zero) & (at_zero <= np.broadcast_to(hi, x.shape))):
            raise ValueError(f"prime_at_zero must lie between a and 1, got {prime_at_zero!r}")
        slope = np.where(x == 0, at_zero, slope).astype(x.dtype)
    dx = dout * slope
    da_full = np.where(x < 0, dout * x, 0).astype(x.dtype)
    da = da_full.sum() if a.ndim == 0 else da_full.reshape(-1, x.shape[-1]).sum(axis=0)
    return dx, x.dtype.type(da) if a.ndim == 0 else da


# ---------------------------------------------------------------------------------------- max-pooling

def pool_windows(x, size):
    """x (..., H, W) -> its non-overlapping size x size windows as (..., H/size, W/size, size*size),
    the entries of each window in row-major order (row a, then column b)."""
    *lead, H, W = x.shape
    h, w = H // size, W // size
    return np.moveaxis(x.reshape(*lead, h, size, w, size), -3, -2).reshape(*lead, h, w, size * size)


def maxpool_forward(x, size=2):
    """Max-pooling over non-overlapping size x size windows of the last two axes.

    out[..., i, j] = max_{0 <= a, b < size} x[..., size i + a, size j + b]

    x has shape (..., H, W) (e.g. (B, H, W) or (B, C, H, W)) with H and W multiples of ``size``;
    out has shape (..., H/size, W/size) and x's dtype. Returns (out, cache) with cache = (x, size).
    """
    x = as_float_array(x, "x")
    size = positive_int(size, "size")
    if x.ndim < 2 or x.shape[-2] % size or x.shape[-1] % size:
        raise ValueError(f"x must have shape (..., H, W) with H and W multiples of size={size}, got {x.shape}")
    return pool_windows(x, size).max(axis=-1), (x, size)


def maxpool_backward(dout, cache):
    """Backward pass of max-pooling: each window's dout goes to its maximal entry, the others get 0.

    Tie rule: when several entries of a window share the maximum, the FIRST of them in row-major order
    (smallest row a, then smallest column b) gets all of dout, as np.argmax and PyTorch's max_pool2d do.
    The max is not differentiable at a tie: its Clarke subdifferential there is the convex hull of the
    unit vectors of the maximal entries (for two of them, the segment between e_1 and e_2), and the tie
    rule picks one vertex of it. Returns dx with the shape and dtype of x.
    """
    x, size = cache
    h, w = x.shape[-2] // size, x.shape[-1] // size
    dout = as_float_array(dout, "dout", shape=x.shape[:-2] + (h, w), dtype=x.dtype)
    windows = pool_windows(x, size)
    first = windows.argmax(axis=-1)                                    # first maximal entry
    dwindows = np.zeros_like(windows)
    np.put_along_axis(dwindows, first[..., None], dout[..., None], axis=-1)
    dx = np.moveaxis(dwindows.reshape(*x.shape[:-2], h, w, size, size), -2, -3)
    return dx.reshape(x.shape)


__all__ += ["prelu_forward", "prelu_backward", "maxpool_forward", "maxpool_backward"]
