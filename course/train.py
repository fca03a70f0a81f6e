"""The lecture's practical SGD loop.

    for epoch in range(epochs):
        shuffle the training data
        for i in range(0, n, batch_size):
            take the chunk i:i+batch_size of the shuffled data (the minibatch I(k))
            theta(k+1) = theta(k) + update(grad E_k(theta(k)))     # e.g. AdaGrad; k counts all steps

The optimizer is anything with the optax-style interface of ``course.optim``:
``state = optimizer.init(params)`` and ``updates, state = optimizer.update(grads, state, params)``,
applied with ``course.optim.apply_updates(params, updates)`` (= params + updates).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from course.data import check_rng, epoch_minibatches, minibatches_with_replacement
from course.nn import (_as_batch, _check_labels, _mlp_forward, _num_layers, _softmax_cross_entropy,
                       mlp_loss_and_grad)
from course.optim import apply_updates
from course.validate import positive_int

__all__ = ["train"]

SAMPLERS = ("shuffle", "replacement")


def _check_data(X, y, name_x="X", name_y="y"):
    X = np.asarray(X)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"{name_x} must hold at least one example (one per row), got shape {X.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(f"{name_y} must have one entry per row of {name_x}: {name_x} has {len(X)} "
                             f"rows, {name_y} has shape {y.shape}")
    return X, y


def _batches(sampler, n, batch_size, rng):
    """One epoch of index sets: contiguous chunks of a fresh permutation, or as many batches drawn
    with replacement (so both samplers take ceil(n / batch_size) steps per epoch)."""
    if sampler == "shuffle":
        return epoch_minibatches(n, batch_size, rng)
    return minibatches_with_replacement(n, batch_size, -(-n // batch_size), rng)


def _diverged(history, loss, epoch, stacklevel):
    """Record the minibatch loss E_k; if it is not finite, note the step in history["diverged_at_step"],
    warn (at the caller of train, ``stacklevel`` frames up) and return True: training stops there."""
    history["step_loss"].append(loss)
    if math.isfinite(loss):
        return False
    k = len(history["step_loss"]) - 1
    history["diverged_at_step"] = k
    warnings.warn(f"the minibatch loss became {loss} at step k={k} (epoch {epoch}): training stopped; "
                  "the step size is probably too large", RuntimeWarning, stacklevel=stacklevel)
    return True


def _take(y, idx):
    return None if y is None else y[idx]


def _evaluate(loss_and_grad, eval_fn, params, X, y):
    if eval_fn is not None:
        return float(eval_fn(params, X, y))
    return float(loss_and_grad(params, X, y)[0])


def train(loss_and_grad, params, X, y, optimizer, *, epochs, batch_size, rng, sampler="shuffle",
          X_val=None, y_val=None, eval_fn=None):
    """Train with minibatch SGD: per epoch, shuffle once and take one optimizer step per chunk.

    Step k on the minibatch I(k):
        loss_k, grads = loss_and_grad(params, X[I(k)], y[I(k)])      # E_k(theta(k)), grad E_k(theta(k))
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)                       # theta(k+1) = theta(k) + updates

    ``loss_and_grad(params, X_batch, y_batch) -> (loss, grads)`` with grads shaped like params (an
    array or a dict of arrays), e.g. ``course.nn.mlp_loss_and_grad``. ``y`` may be None for problems
    without labels. ``sampler="replacement"`` draws each minibatch with replacement instead, with the
    same number ceil(n / batch_size) of steps per epoch.

    Returns (params, history), where history is a dict of lists:
      "step_loss":   E_k(theta(k)) of every step k (the noisy minibatch losses),
      "epoch_loss":  per epoch, the batch-size weighted mean of its minibatch losses,
      "train_loss":  loss_and_grad on the whole training set, before training (index 0) and after
                     every epoch (epochs + 1 entries),
      "val_metric":  eval_fn(params, X_val, y_val) at the same times (the validation loss when
                     eval_fn is None), empty without X_val,
      "epoch":       0, 1, ..., epochs (the times of train_loss and val_metric).
    A non-finite minibatch loss stops training with a RuntimeWarning; history["diverged_at_step"]
    then holds k (it is None otherwise). The input params are not modified.

    With ``course.nn.mlp_loss_and_grad`` and an optimizer of ``course.optim``, the same loop runs on a
    faster layout (``_MLPWorkspace`` below: preallocated buffers, in-place updates), with the same results.
    """
    if not callable(loss_and_grad):
        raise TypeError(f"loss_and_grad must be a function (params, X, y) -> (loss, grads), "
                        f"got {type(loss_and_grad).__name__}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must have init(params) and update(grads, state, params), e.g. "
                        f"course.optim.adagrad_norm(); got {type(optimizer).__name__}")
    X, y = _check_data(X, y)
    epochs = positive_int(epochs, "epochs", minimum=0)
    batch_size = positive_int(batch_size, "batch_size")
    check_rng(rng)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if X_val is not None:
        X_val, y_val = _check_data(X_val, y_val, "X_val", "y_val")

    history = {"step_loss": [], "epoch_loss": [], "train_loss": [], "val_metric": [], "epoch": [],
               "diverged_at_step": None}
    if _fast_path_applies(loss_and_grad, params, optimizer):
        return _train_mlp_fast(params, X, y, optimizer, epochs, batch_size, rng, sampler, X_val, y_val,
                               eval_fn, history)

    def record(epoch):
        history["epoch"].append(epoch)
        history["train_loss"].append(float(loss_and_grad(params, X, y)[0]))
        if X_val is not None:
            history["val_metric"].append(_evaluate(loss_and_grad, eval_fn, params, X_val, y_val))

    state = optimizer.init(params)
    record(0)
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for idx in _batches(sampler, len(X), batch_size, rng):
            loss, grads = loss_and_grad(params, X[idx], _take(y, idx))
            loss = float(loss)
            if _diverged(history, loss, epoch, stacklevel=3):
                return params, history
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
            total, count = total + loss * len(idx), count + len(idx)
        history["epoch_loss"].append(total / count)
        record(epoch)
    return params, history


# ---------------------------------------------------------------------------------------- fast path
#
# The loop above, for the common case of an MLP (course.nn.mlp_loss_and_grad) trained with one of
# course.optim's optimizers, on a layout that spares the memory allocator and the interpreter:
#   - all parameters live in ONE flat vector theta, and params["W1"], params["b1"], ... are views of it;
#     the gradient likewise in one flat vector grad. An optimizer that acts entry by entry (SGD,
#     AdaGrad, momentum, Adam) then takes its step with a few numpy calls on theta instead of a few per
#     array, with its in-place twin (course.optim): the step is written into theta, no new arrays.
#   - the training data is converted to the params' dtype once; each minibatch is gathered into one
#     contiguous buffer, and every activation and gradient has a buffer of its own, allocated once per
#     run and written with out=. (New arrays of a megabyte every step are not free: the allocator hands
#     such memory back to the system and takes it again, page by page, which cost 3x in AdaGrad's step.)
#   - the loss on the whole training set after each epoch needs the forward pass only, and it runs on
#     chunks of rows (_MLPWorkspace.CHUNK) in small buffers: no activations of the size of the training
#     set (100 MB for 60,000 MNIST images), and a chunk's activations are still in the cache for the
#     bias, the ReLU and the next layer.
# The formulas and their order are those of course.nn, so the training (params, step losses) is the
# same to the last bit (tests/test_fast_path.py compares both loops). Changes of form, with the same values:
#   - products are np.dot(a, b, out=...): the same BLAS call as a @ b, with a third less overhead per call,
#     which is what a product of a 32-row minibatch costs (1 to 2 us);
#   - ReLU is np.maximum(z, zeros) against a row of zeros: numpy (2.4) runs max against the scalar 0
#     2.5x slower; and each row's max of the scores is taken from a column-major copy of them, 10x
#     faster than over 10 neighbouring entries at a time (a max is exact, in any order);
#   - the whole-set loss in chunks can differ from course.nn's single pass in the last bits: a GEMM
#     does not round every row of its product alike (OpenBLAS computes the last rows of a block with
#     other kernels, so a row's bits depend on where it falls in the product), and a row falls
#     elsewhere in a chunk than in the whole set. It is only recorded (history["train_loss"]), never
#     fed back into the training; the test compares it with a float64 evaluation.

def _fast_path_applies(loss_and_grad, params, optimizer):
    """The MLP's own loss, an optimizer of course.optim (with its in-place twin), a float32/float64 MLP."""
    if loss_and_grad is not mlp_loss_and_grad or not hasattr(getattr(optimizer, "update", None), "_in_place"):
        return False
    try:
        _num_layers(params)
    except (TypeError, KeyError, ValueError):
        return False                       # the loop above raises the error, with its message
    return (all(type(p) is np.ndarray for p in params.values())
            and params["W1"].dtype in (np.float32, np.float64))


class _MLPWorkspace:
    """course.nn.mlp_loss_and_grad on minibatches X[idx], y[idx], in buffers allocated once.

    ``params`` are views of the flat vector ``theta`` (keys W1, b1, ..., WL, bL, in this order), ``grads``
    views of the flat vector ``grad``, which ``loss_and_grad(idx)`` overwrites. The optimizer sees the
    flat vectors if ``flat`` (see course.optim._with_in_place), else the dicts. Buffers for B rows:
    h[0] = x (B, d_0); h[i] (B, d_i) = z_i = h_{i-1} W_i + b_i, then ReLU(z_i) in place (h[L] holds the
    scores, then the log-probabilities, then dE/dscores); dh[i] (B, d_i) = dE/dh_i for 0 < i < L.
    """

    def __init__(self, params, X, y, max_batch, flat):
        L = _num_layers(params)
        dtype = params["W1"].dtype
        self.L, self.dtype = L, dtype
        # the checks and conversions of mlp_loss_and_grad, once for the whole training set
        self.X = _as_batch(X, "x", params["W1"].shape[0], dtype=dtype)
        self.y = _check_labels(y, self.X.shape[0], params[f"W{L}"].shape[1])

        size = sum(params[f"{p}{i}"].size for i in range(1, L + 1) for p in "Wb")
        self.theta, self.grad = np.empty(size, dtype), np.empty(size, dtype)
        self.params, self.grads = self.as_tree(self.theta, params), self.as_tree(self.grad, params)
        for key, view in self.params.items():
            view[...] = params[key]
        self.flat = flat
        self.opt_params, self.opt_grads = (self.theta, self.grad) if flat else (self.params, self.grads)
        work = [np.empty(size, dtype) for _ in range(3)] + [np.empty(size, bool)]   # the optimizer's scratch
        self.work = work if flat else [self.as_tree(w, params) for w in work]
        self.W = [None] + [self.params[f"W{i}"] for i in range(1, L + 1)]
        self.b = [None] + [self.params[f"b{i}"] for i in range(1, L + 1)]
        self.dW = [None] + [self.grads[f"W{i}"] for i in range(1, L + 1)]
        self.db = [None] + [self.grads[f"b{i}"] for i in range(1, L + 1)]

        self.widths = [self.W[1].shape[0]] + [self.W[i].shape[1] for i in range(1, L + 1)]
        self.zeros = [np.zeros(d, dtype) for d in self.widths]    # zeros[i]: ReLU's row of zeros for layer i
        self._batch = self._allocate(max_batch, backward=True)
        self._views = {}               # batch size -> the first rows of self._batch
        self._whole = None             # buffers for the loss on the whole training set, made when needed

    def as_tree(self, flat, like):
        """{W1: ..., b1: ..., ...}: views of the flat vector, shaped like the arrays of ``like``."""
        tree, start = {}, 0
        for key in (f"{p}{i}" for i in range(1, self.L + 1) for p in "Wb"):
            size = like[key].size
            tree[key] = flat[start:start + size].reshape(like[key].shape)
            start += size
        return tree

    def _allocate(self, rows, backward):
        new = lambda *shape: np.empty(shape, self.dtype)     # noqa: E731
        return {"h": [new(rows, d) for d in self.widths],
                "dh": [new(rows, d) for d in self.widths[:-1]] if backward else None,
                "y": np.empty(rows, np.intp), "rows": np.arange(rows),
                "row": new(rows, 1), "exp": new(rows, self.widths[-1]),
                # the scores again, stored column by column (Fortran order): a max over each row then
                # runs down whole columns, 10x faster than over 10 neighbouring entries at a time
                "scores_by_column": np.empty((rows, self.widths[-1]), self.dtype, order="F")}

    @staticmethod
    def _first_rows(buf, B):
        """The first B rows of every buffer in ``buf`` (views)."""
        return {key: None if value is None else [a[:B] for a in value] if isinstance(value, list) else value[:B]
                for key, value in buf.items()}

    def _rows(self, B):
        """The first B rows of every minibatch buffer, made once per batch size."""
        if B not in self._views:
            self._views[B] = self._first_rows(self._batch, B)
        return self._views[B]

    def _forward(self, h):
        """z_i = h_{i-1} W_i + b_i,  h_i = ReLU(z_i) for i < L; h[L] = z_L, the scores."""
        for i in range(1, self.L + 1):
            np.dot(h[i - 1], self.W[i], out=h[i])
            np.add(h[i], self.b[i], out=h[i])
            if i < self.L:                      # max(z, 0) against a row of zeros: numpy (2.4) runs it 2.5x
                np.maximum(h[i], self.zeros[i], out=h[i])   # faster than against the scalar 0, same values

    def _log_probs_of_labels(self, buf):
        """course.nn's log-softmax: the scores h[L] become the log-probabilities; returns log p(y_j | x_j)
        for every row j (a new array). The loss E_k is minus their mean."""
        s, row = buf["h"][-1], buf["row"]
        np.copyto(buf["scores_by_column"], s)                   # the max of each row, column by column
        np.maximum.reduce(buf["scores_by_column"], axis=1, out=row[:, 0])      # (a max is exact in any order)
        np.subtract(s, row, out=s)                              # shifted scores
        np.exp(s, out=buf["exp"])
        np.add.reduce(buf["exp"], axis=1, keepdims=True, out=row)
        np.log(row, out=row)
        np.subtract(s, row, out=s)                              # log-probabilities
        return s[buf["rows"], buf["y"]]

    def loss_and_grad(self, idx):
        """E_k on the minibatch I(k) = idx, and its gradient written into ``grad``; returns E_k."""
        buf = self._rows(len(idx))
        h, dh = buf["h"], buf["dh"]
        np.take(self.X, idx, axis=0, out=h[0], mode="clip")    # "clip" skips a bounds check and a copy
        np.take(self.y, idx, out=buf["y"], mode="clip")
        self._forward(h)
        log_p = self._log_probs_of_labels(buf)
        loss = -(np.add.reduce(log_p) / len(idx))               # = -log_p.mean(), the same bits, without
                                                                # mean's Python-level overhead (2 us a step)

        d = h[-1]                                               # dE/dscores = (softmax - one-hot) / B
        np.exp(d, out=d)
        d[buf["rows"], buf["y"]] -= 1
        np.divide(d, len(idx), out=d)
        for i in range(self.L, 0, -1):                          # the chain rule, from layer L down to 1
            if i < self.L:
                np.greater(h[i], 0, out=h[i])          # h_i is used up: it becomes ReLU'(z_i),
                np.multiply(d, h[i], out=d)            # 1 where z_i > 0 (ReLU'(0) = 0)
            np.dot(h[i - 1].T, d, out=self.dW[i])       # dW_i = h_{i-1}^T d
            np.add.reduce(d, axis=0, out=self.db[i])    # db_i = sum over the minibatch
            if i > 1:
                np.dot(d, self.W[i].T, out=dh[i - 1])   # dE/dh_{i-1} = d W_i^T (not needed for the input)
                d = dh[i - 1]
        return loss

    # rows per chunk of the whole-set loss: 2048 x (256 + 128 + 10) floats of activations (3 MB for
    # 784-256-128-10) stay in the cache between the layers, and the GEMMs run as fast as on all rows
    # (measured: 512 to 8192 rows alike, 8% faster than all 60,000 rows at once)
    CHUNK = 2048

    def train_loss(self):
        """The loss on the whole training set (the forward pass only): mlp_loss_and_grad(params, X, y)[0]
        up to rounding.

        The forward pass runs on chunks of CHUNK rows, in buffers allocated once; each row's log-probability
        of its label goes into one vector, whose mean is taken at once, as in course.nn. A row's scores can
        differ in the last bits from those of a single pass over all rows (see the note above
        _fast_path_applies).
        """
        n = len(self.X)
        if self._whole is None:
            self._whole = self._allocate(min(self.CHUNK, n), backward=False), np.empty(n, self.dtype)
        buf, log_p = self._whole
        for start in range(0, n, self.CHUNK):
            stop = min(start + self.CHUNK, n)
            chunk = self._first_rows(buf, stop - start)
            chunk["h"][0], chunk["y"] = self.X[start:stop], self.y[start:stop]
            self._forward(chunk["h"])
            log_p[start:stop] = self._log_probs_of_labels(chunk)
        return -log_p.mean()

    def add(self, updates):
        """theta += updates, in place; False (and nothing changed) if params + updates would need a
        wider dtype than theta's, as a np.float64 step size does to float32 params."""
        leaves = updates.values() if isinstance(updates, dict) else (updates,)
        if any(np.promote_types(self.dtype, u.dtype) != self.dtype for u in leaves):
            return False
        if isinstance(updates, dict):
            for key, u in updates.items():
                self.params[key] += u
        else:
            self.theta += updates
        return True

    def copy_params(self, order):
        """A new dict of new arrays with the current parameters, its keys in the order of ``order``."""
        return {key: self.params[key].copy() for key in order}


def _mlp_loss(params, X, y):
    """mlp_loss_and_grad(params, X, y)[0]: the same checks and the same number, without the backward pass."""
    L = _num_layers(params)
    x = _as_batch(X, "x", params["W1"].shape[0], dtype=params["W1"].dtype)
    y = _check_labels(y, x.shape[0], params[f"W{L}"].shape[1])
    scores, _ = _mlp_forward(params, x, L)
    return _softmax_cross_entropy(scores, y)[0]


def _train_mlp_fast(params, X, y, optimizer, epochs, batch_size, rng, sampler, X_val, y_val, eval_fn,
                    history):
    """train()'s loop for mlp_loss_and_grad and an optimizer of course.optim, on an _MLPWorkspace."""
    max_batch = batch_size if sampler == "replacement" else min(batch_size, len(X))
    ws = _MLPWorkspace(params, X, y, max_batch, flat=optimizer.update._flat)
    in_place = optimizer.update._in_place
    state = optimizer.init(ws.opt_params)
    stepped = False

    def current():                 # what the loop above would hold: the input dict, or fresh arrays
        return ws.copy_params(order=params) if stepped else params

    def record(epoch):
        history["epoch"].append(epoch)
        history["train_loss"].append(float(ws.train_loss()))
        if X_val is not None:
            if eval_fn is not None:
                history["val_metric"].append(float(eval_fn(current(), X_val, y_val)))
            else:
                history["val_metric"].append(float(_mlp_loss(ws.params, X_val, y_val)))

    record(0)
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for idx in _batches(sampler, len(ws.X), batch_size, rng):
            loss = float(ws.loss_and_grad(idx))
            if _diverged(history, loss, epoch, stacklevel=4):
                return current(), history
            new_state = None if in_place is None else in_place(ws.opt_grads, state, ws.opt_params, ws.work)
            if new_state is not None:      # theta(k+1) = theta(k) + updates, written into theta
                state = new_state
            else:                          # the step changes params' dtype: as in the loop above, go on
                in_place = None            # with the optimizer's own update, in the new dtype
                updates, state = optimizer.update(ws.opt_grads, state, ws.opt_params)
                if not ws.add(updates):
                    tree = ws.as_tree(updates, ws.params) if ws.flat else updates
                    ws = _MLPWorkspace(apply_updates(current(), tree), X, y, max_batch, ws.flat)
            stepped = True
            total, count = total + loss * len(idx), count + len(idx)
        history["epoch_loss"].append(total / count)
        record(epoch)
    return current(), history
