"""The fast path: ``course.train.train`` for the MLP, on preallocated buffers with in-place updates.

Nothing here is new mathematics: it is the loop of ``course.train`` with the loss of ``course.nn`` and
the optimizers of ``course.optim``, rewritten so that numpy spends its time on arithmetic. It is opt-in:

    from course import fast
    params, step_losses = fast.train_mlp(mlp_loss_and_grad, params, X, y, fast.adagrad(eta=0.1),
                                         epochs=10, batch_size=128, rng=rng)

takes the same arguments as ``course.train.train`` and gives the same results (tests/test_fast_path.py
compares both to the last bit). The optimizers of this module (``sgd``, ``adagrad_norm``, ``adagrad``,
``momentum``, ``adam``) are those of ``course.optim`` (same ``init`` and ``update``) with one more
function, ``step``, that takes the same step in place. ``course.train.fit(..., loop=fast.train_mlp,
loss=fast.mlp_loss)`` records the learning curves of a fast run.

How it saves time:
  - all parameters live in ONE flat vector theta, and params["W1"], params["b1"], ... are views of it;
    the gradient likewise in one flat vector grad. An optimizer that acts entry by entry (SGD, AdaGrad,
    momentum, Adam) then takes its step with a few numpy calls on theta instead of a few per array,
    written into theta: no new arrays.
  - the training data is converted to the params' dtype once; each minibatch is gathered into one
    contiguous buffer (a training set that fits the cache: once per epoch, into one contiguous copy of
    the epoch's rows, whose slices are the minibatches), and every activation and gradient has a buffer
    of its own, allocated once per run and written with out=. (New arrays of a megabyte every step are not free: the allocator hands
    such memory back to the system and takes it again, page by page, which cost 3x in AdaGrad's step.)
  - the loss on the whole training set needs the forward pass only, and it runs on chunks of rows
    (CHUNK) in small buffers: no activations of the size of the training set (100 MB for 60,000 MNIST
    images), and a chunk's activations are still in the cache for the bias, the ReLU and the next layer.
The formulas and their order are those of course.nn and course.optim, so the training (params, step
losses) is the same to the last bit. Changes of form, with the same values:
  - products are np.dot(a, b, out=...): the same BLAS call as a @ b, with a third less overhead per call,
    which is what a product of a 32-row minibatch costs (1 to 2 us);
  - ReLU is np.maximum(z, zeros) against a row of zeros: numpy (2.4) runs max against the scalar 0
    2.5x slower; and each row's max of the scores is taken from a column-major copy of them, 10x
    faster than over 10 neighbouring entries at a time (a max is exact, in any order);
  - the label's log-probability and the one-hot subtraction go through one flat index j C + y_j into
    the scores (one gather, 2x faster than indexing with the pair (rows, y));
  - AdaGrad divides everywhere and then zeroes the step where c = 0 (a masked divide is 4x slower;
    data with pixels that are always 0, or ReLUs that never fire, keep some c_i = 0 for good). It does
    not look for them every step: a c_i only grows, so the step zeroes the entries where the last step
    found c_i = 0 and still finds it, and since x / 0 is inf or nan, one dot product of the steps (15 us,
    finite or not) tells whether any other c_i is 0 (or nan), and only then looks at every c_i (a pass
    over c and a masked copy: 100 us or more at 784-256-128-10);
  - the whole-set loss in chunks can differ from course.nn's single pass in the last bits: a GEMM
    does not round every row of its product alike (OpenBLAS computes the last rows of a block with
    other kernels, so a row's bits depend on where it falls in the product), and a row falls
    elsewhere in a chunk than in the whole set. It is only recorded, never fed back into the training.
No threads of its own: numpy's BLAS decides.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from course import optim
from course.data import epoch_minibatches
from course.nn import as_batch, check_labels, mlp_loss_and_grad, num_layers
from course.train import check_train_inputs, stop_if_diverged

__all__ = ["InPlaceOptimizer", "sgd", "adagrad_norm", "adagrad", "momentum", "adam", "work_like", "HELD",
           "train_mlp", "mlp_loss", "Workspace"]


# ---------------------------------------------------------------------------------------- optimizers

class InPlaceOptimizer(NamedTuple):
    """An optimizer of ``course.optim`` (``init``, ``update``) and its step in place.

    ``step(grads, state, params, work) -> state`` takes the step of ``update`` and
    ``optim.apply_updates`` with the same formulas, but writes it into ``params`` and the state's arrays;
    ``work`` holds scratch arrays like params (three float, one bool; ``work_like``) and, as work[HELD], what
    one step tells the next (AdaGrad: where c_i was 0, a hint that it checks). It returns None, having changed
    nothing, if the step would change params' dtype (a np.float64 step size for float32 params): then
    the caller uses ``update``. With ``flat`` the optimizer treats every entry on its own, so params and
    grads may be all parameters stacked into one flat vector; else they are dicts of arrays.
    """

    init: Callable[[Any], Any]
    update: Callable[..., tuple]
    step: Callable[..., Any]
    flat: bool


HELD = 4    # work[HELD]: the indices i where AdaGrad's c_i was 0 (or nan) after its last step


def work_like(theta):
    """The ``work`` of a step on the flat vector theta: three arrays like it, one bool, and work[HELD]."""
    return [np.empty_like(theta) for _ in range(3)] + [np.empty(theta.shape, bool), np.empty(0, np.intp)]


def _keeps_dtype(params, *scalars):
    """Whether a step computed from ``scalars`` and arrays of params' dtype stays in that dtype."""
    return np.result_type(params, *scalars) == params.dtype


def sgd(schedule) -> InPlaceOptimizer:
    """``course.optim.sgd``: theta(k+1) = theta(k) - tau(k) g, in place."""
    pure = optim.sgd(schedule)

    def step(g, state, theta, work):
        tau = schedule(state.k)
        if not _keeps_dtype(theta, tau):
            return None
        theta += np.multiply(g, -tau, out=work[0])
        return optim.SGDState(k=state.k + 1)

    return InPlaceOptimizer(pure.init, pure.update, step, flat=True)


def adagrad_norm(eta=1.0, c0=0.0) -> InPlaceOptimizer:
    """``course.optim.adagrad_norm``: c(k+1) = c(k) + ||g||^2, theta -= eta c(k+1)^(-1/2) g, in place
    (on the dict of arrays: its one step size needs the norm over all of them)."""
    pure = optim.adagrad_norm(eta, c0)

    def step(grads, state, params, work):
        c = state.c + optim.tree_sq_norm(grads)
        tau = optim.adagrad_step_size(eta, c)
        for key, g in grads.items():
            params[key] += np.multiply(g, -tau, out=work[0][key])
        return optim.AdaGradNormState(k=state.k + 1, c=c)

    return InPlaceOptimizer(pure.init, pure.update, step, flat=False)


def adagrad(eta=1.0, c0=0.0) -> InPlaceOptimizer:
    """``course.optim.adagrad``: c_i += g_i^2, theta_i -= eta g_i / sqrt(c_i) (0 where c_i = 0), in place."""
    pure = optim.adagrad(eta, c0)
    eta = float(eta)

    def step(g, state, theta, work):
        c, (s, root, _, not_positive, held) = state.c, work
        c += np.square(g, out=s)                                # c(k+1) = c(k) + g^2
        np.multiply(g, -eta, out=s)
        np.sqrt(c, out=root)
        with np.errstate(all="ignore"):                         # divide all, then set the step to 0
            np.divide(s, root, out=s)                           # where c > 0 fails: there it is inf or nan
            held = held[np.logical_not(c[held] > 0)]            # the last step's c_i = 0 still 0 (c grows)
            s[held] = 0
            if not np.isfinite(np.dot(s, s)):                   # some other c_i = 0 or nan: find them all
                held = _zero_where_not_positive(s, c, not_positive)
        work[HELD] = held
        theta += s
        return optim.AdaGradState(k=state.k + 1, c=c)

    return InPlaceOptimizer(pure.init, pure.update, step, flat=True)


def _zero_where_not_positive(s, c, not_positive):
    """s_i = 0 where c_i > 0 fails (c_i = 0 or nan), as course.optim.adagrad's divide with where=c > 0;
    returns those i. ``not_positive``: a bool array like c (overwritten)."""
    np.logical_not(np.greater(c, 0, out=not_positive), out=not_positive)
    np.copyto(s, 0, where=not_positive)
    return np.flatnonzero(not_positive)


def momentum(schedule, beta=0.9) -> InPlaceOptimizer:
    """``course.optim.momentum``: v = beta v + g, theta -= tau(k) v, in place."""
    pure = optim.momentum(schedule, beta)

    def step(g, state, theta, work):
        tau, v = schedule(state.k), state.v
        if not _keeps_dtype(theta, tau, beta):
            return None
        np.multiply(v, beta, out=v)
        v += g
        theta += np.multiply(v, -tau, out=work[0])
        return optim.MomentumState(k=state.k + 1, v=v)

    return InPlaceOptimizer(pure.init, pure.update, step, flat=True)


def adam(eta=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> InPlaceOptimizer:
    """``course.optim.adam``, in place."""
    pure = optim.adam(eta, beta1, beta2, eps)

    def step(g, state, theta, work):
        k, m, v, (a, b) = state.k, state.m, state.v, work[:2]
        if not _keeps_dtype(theta, eta, beta1, beta2, eps):
            return None
        np.multiply(m, beta1, out=m)
        m += np.multiply(g, 1 - beta1, out=a)                   # m = b1 m + (1-b1) g
        np.multiply(v, beta2, out=v)
        v += np.multiply(np.square(g, out=a), 1 - beta2, out=a)  # v = b2 v + (1-b2) g^2
        np.divide(m, 1 - beta1 ** k, out=a)
        np.multiply(a, -eta, out=a)                             # -eta m / (1 - b1^k)
        np.divide(v, 1 - beta2 ** k, out=b)
        np.sqrt(b, out=b)
        np.add(b, eps, out=b)                                   # sqrt(v / (1 - b2^k)) + eps
        theta += np.divide(a, b, out=a)
        return optim.AdamState(k=k + 1, m=m, v=v)

    return InPlaceOptimizer(pure.init, pure.update, step, flat=True)


# ---------------------------------------------------------------------------------------- buffers

class Workspace:
    """course.nn.mlp_loss_and_grad on minibatches X[idx], y[idx], in buffers allocated once.

    ``params`` are views of the flat vector ``theta`` (keys W1, b1, ..., WL, bL, in this order), ``grads``
    views of the flat vector ``grad``, which ``loss_and_grad(idx)`` overwrites. The optimizer sees the
    flat vectors if ``flat`` (see InPlaceOptimizer), else the dicts. Buffers for B rows:
    h[0] = x (B, d_0); h[i] (B, d_i) = z_i = h_{i-1} W_i + b_i, then ReLU(z_i) in place (h[L] holds the
    scores, then the log-probabilities, then dE/dscores); dh[i] (B, d_i) = dE/dh_i for 0 < i < L.
    """

    # rows per chunk of the whole-set loss: 2048 x (256 + 128 + 10) floats of activations (3 MB for
    # 784-256-128-10) stay in the cache between the layers, and the GEMMs run as fast as on all rows
    # (measured: 512 to 8192 rows alike, 8% faster than all 60,000 rows at once)
    CHUNK = 2048
    # a training set of at most this many bytes (the 8x8 digits: 0.35 MB) stays in the cache: its epoch is
    # gathered into one contiguous copy, and each minibatch is a slice of it (no gather per step)
    CACHED_BYTES = 4 << 20

    def __init__(self, params, X, y, max_batch, flat, training=True):
        L = num_layers(params)
        dtype = params["W1"].dtype
        self.L, self.dtype = L, dtype
        # the checks and conversions of mlp_loss_and_grad, once for the whole training set
        self.X = as_batch(X, "x", params["W1"].shape[0], dtype=dtype)
        self.y = check_labels(y, self.X.shape[0], params[f"W{L}"].shape[1])
        if training:                   # params and grads: views of one flat vector each, and buffers
            self._flat_vectors(params, max_batch, flat)
        else:                          # the loss only (train_loss): the given arrays, no copies
            self.params = params
        self.W = [None] + [self.params[f"W{i}"] for i in range(1, L + 1)]
        self.b = [None] + [self.params[f"b{i}"] for i in range(1, L + 1)]
        self.widths = [self.W[1].shape[0]] + [self.W[i].shape[1] for i in range(1, L + 1)]
        self.zeros = [np.zeros(d, dtype) for d in self.widths]    # zeros[i]: ReLU's row of zeros for layer i
        self._batch = self._allocate(max_batch, backward=True) if training else None
        self._views = {}               # batch size -> the first rows of self._batch
        self._whole = None             # buffers for the loss on the whole training set, made when needed
        self._epoch = None             # (X, y) of the epoch's rows in order, for a cached training set

    def _flat_vectors(self, params, max_batch, flat):
        L, dtype = self.L, self.dtype
        size = sum(params[f"{p}{i}"].size for i in range(1, L + 1) for p in "Wb")
        self.theta, self.grad = np.empty(size, dtype), np.empty(size, dtype)
        self.params, self.grads = self.as_tree(self.theta, params), self.as_tree(self.grad, params)
        for key, view in self.params.items():
            view[...] = params[key]
        self.flat = flat
        self.opt_params, self.opt_grads = (self.theta, self.grad) if flat else (self.params, self.grads)
        work = work_like(self.theta)                              # the optimizer's scratch
        self.work = work if flat else [self.as_tree(w, params) for w in work[:HELD]] + work[HELD:]
        self.dW = [None] + [self.grads[f"W{i}"] for i in range(1, L + 1)]
        self.db = [None] + [self.grads[f"b{i}"] for i in range(1, L + 1)]

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
        h, y = [new(rows, d) for d in self.widths], np.empty(rows, np.intp)
        return {"h": h, "x_rows": h[0], "y_rows": y,       # h[0] and y: these buffers (a gathered minibatch)
                                                           # or views of the epoch's copy
                "dh": [new(rows, d) for d in self.widths[:-1]] if backward else None,
                "y": y, "log_p": new(rows),
                # row j's label y_j as an index into the flattened scores: j C + y_j (C classes); one
                # gather with it is 2x faster than indexing with (rows, y)
                "row_starts": np.arange(rows) * self.widths[-1], "label_at": np.empty(rows, np.intp),
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
        """The first B rows of every minibatch buffer, made once per batch size (and buffers for more
        rows, should a minibatch be larger than any before)."""
        if B > len(self._batch["y_rows"]):
            self._batch, self._views = self._allocate(B, backward=True), {}
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
        for every row j (in the buffer log_p). The loss E_k is minus their mean."""
        s, row = buf["h"][-1], buf["row"]
        np.copyto(buf["scores_by_column"], s)                   # the max of each row, column by column
        np.maximum.reduce(buf["scores_by_column"], axis=1, out=row[:, 0])      # (a max is exact in any order)
        np.subtract(s, row, out=s)                              # shifted scores
        np.exp(s, out=buf["exp"])
        np.add.reduce(buf["exp"], axis=1, keepdims=True, out=row)
        np.log(row, out=row)
        np.subtract(s, row, out=s)                              # log-probabilities
        np.add(buf["row_starts"], buf["y"], out=buf["label_at"])
        return np.take(s.reshape(-1), buf["label_at"], out=buf["log_p"])

    def minibatches(self, chunks):
        """The epoch's minibatches (index arrays) as ``loss_and_grad`` takes them: for a training set of at
        most CACHED_BYTES, their rows are gathered once, in order, into one contiguous copy, and the
        minibatches are slices of it; else the index arrays themselves (a gather per step)."""
        if self.X.nbytes + self.y.nbytes > self.CACHED_BYTES:
            return chunks
        order = np.concatenate(chunks)
        if self._epoch is None or len(self._epoch[1]) < len(order):
            self._epoch = np.empty((len(order), self.X.shape[1]), self.dtype), np.empty(len(order), np.intp)
        np.take(self.X, order, axis=0, out=self._epoch[0][:len(order)], mode="clip")
        np.take(self.y, order, out=self._epoch[1][:len(order)], mode="clip")
        stops = np.cumsum([len(idx) for idx in chunks]).tolist()
        return [slice(start, stop) for start, stop in zip([0] + stops[:-1], stops)]

    def loss_and_grad(self, idx):
        """E_k on the minibatch I(k) = idx, and its gradient written into ``grad``; returns E_k. ``idx`` is
        an index array, or a slice of the epoch's copy (``minibatches``)."""
        rows = idx.stop - idx.start if isinstance(idx, slice) else len(idx)
        buf = self._rows(rows)
        h, dh = buf["h"], buf["dh"]
        if isinstance(idx, slice):                              # views of the epoch's copy
            h[0], buf["y"] = self._epoch[0][idx], self._epoch[1][idx]
        else:                                                   # "clip" skips a bounds check and a copy
            h[0], buf["y"] = buf["x_rows"], buf["y_rows"]
            np.take(self.X, idx, axis=0, out=h[0], mode="clip")
            np.take(self.y, idx, out=buf["y"], mode="clip")
        self._forward(h)
        log_p = self._log_probs_of_labels(buf)
        loss = -(np.add.reduce(log_p) / rows)                   # = -log_p.mean(), the same bits, without
                                                                # mean's Python-level overhead (2 us a step)
        d = h[-1]                                               # dE/dscores = (softmax - one-hot) / B
        np.exp(d, out=d)
        d.reshape(-1)[buf["label_at"]] -= 1
        np.divide(d, rows, out=d)
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

    def train_loss(self):
        """The loss on the whole training set (the forward pass only): course.nn.mlp_loss(params, X, y)
        up to rounding (see the module's notes). The forward pass runs on chunks of CHUNK rows, in buffers
        allocated once; each row's log-probability of its label goes into one vector, whose mean is taken
        at once, as in course.nn."""
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


# ---------------------------------------------------------------------------------------- the loop

def _check_mlp(loss_and_grad, params, optimizer):
    if loss_and_grad is not mlp_loss_and_grad:
        raise ValueError("the fast path trains course.nn.mlp_loss_and_grad only; use course.train.train "
                         f"for {getattr(loss_and_grad, '__name__', type(loss_and_grad).__name__)}")
    if not isinstance(optimizer, InPlaceOptimizer):
        raise TypeError("the fast path needs an optimizer of course.fast (e.g. fast.adagrad(eta=0.1)), got "
                        f"{type(optimizer).__name__}")
    num_layers(params)                                   # raises, with the message of course.nn
    if params["W1"].dtype not in (np.float32, np.float64):
        raise TypeError(f"the fast path trains float32 and float64 networks, got {params['W1'].dtype}")


def train_mlp(loss_and_grad, params, X, y, optimizer, batches=epoch_minibatches, *, epochs, batch_size, rng,
              on_epoch=None):
    """``course.train.train(mlp_loss_and_grad, ...)`` on a Workspace: the same arguments (``loss_and_grad``
    must be ``course.nn.mlp_loss_and_grad``, ``optimizer`` one of this module's), the same result
    (params, step_losses), the same warning and stop when a loss is not finite. ``on_epoch`` and the
    result get new arrays, never the buffers."""
    X, y, epochs, batch_size = check_train_inputs(loss_and_grad, X, y, optimizer, epochs, batch_size, rng)
    _check_mlp(loss_and_grad, params, optimizer)
    max_batch = min(batch_size, len(X))           # the chunks of an epoch; more rows get buffers when needed
    ws = Workspace(params, X, y, max_batch, optimizer.flat)
    step = optimizer.step
    state = optimizer.init(ws.opt_params)
    step_losses, stepped = [], False

    def current():                 # what the readable loop would hold: the input dict, or fresh arrays
        return ws.copy_params(order=params) if stepped else params

    for epoch in range(1, epochs + 1):
        chunks = list(batches(len(ws.X), batch_size, rng))
        for idx in ws.minibatches(chunks):
            loss = float(ws.loss_and_grad(idx))
            if stop_if_diverged(step_losses, loss, epoch):
                return current(), step_losses
            new_state = None if step is None else step(ws.opt_grads, state, ws.opt_params, ws.work)
            if new_state is not None:      # theta(k+1) = theta(k) + updates, written into theta
                state = new_state
            else:                          # the step changes params' dtype: as the readable loop does, go
                step = None                # on with the optimizer's own update, in the new dtype
                updates, state = optimizer.update(ws.opt_grads, state, ws.opt_params)
                if not ws.add(updates):
                    tree = ws.as_tree(updates, ws.params) if ws.flat else updates
                    ws = Workspace(optim.apply_updates(current(), tree), X, y, max_batch, ws.flat)
                    ws.minibatches(chunks)         # the same epoch's copy in the new dtype
            stepped = True
        if on_epoch is not None:
            on_epoch(epoch, current())
    return current(), step_losses


def mlp_loss(params, x, y):
    """``course.nn.mlp_loss(params, x, y)`` on chunks of Workspace.CHUNK rows (the forward pass only),
    up to rounding in the last bits: the whole-set loss that ``course.train.fit`` records after every
    epoch, without activations of the size of the training set."""
    return Workspace(params, x, y, 0, flat=True, training=False).train_loss()
