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

import warnings

import numpy as np

from course.data import check_rng, epoch_minibatches, minibatches_with_replacement
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
            history["step_loss"].append(loss)
            if not np.isfinite(loss):
                k = len(history["step_loss"]) - 1
                history["diverged_at_step"] = k
                warnings.warn(f"the minibatch loss became {loss} at step k={k} (epoch {epoch}): training "
                              f"stopped; the step size is probably too large", RuntimeWarning, stacklevel=2)
                return params, history
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
            total, count = total + loss * len(idx), count + len(idx)
        history["epoch_loss"].append(total / count)
        record(epoch)
    return params, history
