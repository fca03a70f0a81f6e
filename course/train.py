"""The lecture's practical SGD loop.

    for epoch in range(epochs):
        shuffle the training data
        for i in range(0, n, batch_size):
            take the chunk i:i+batch_size of the shuffled data (the minibatch I(k))
            theta(k+1) = theta(k) + update(grad E_k(theta(k)))     # e.g. AdaGrad; k counts all steps

``train`` is this loop, with the signature of the mlp notebook's exercise; ``fit`` runs it and records
the learning curves (the loss on the whole training set after every epoch, a validation metric).
The optimizer is anything with the optax-style interface of ``course.optim``:
``state = optimizer.init(params)`` and ``updates, state = optimizer.update(grads, state, params)``,
applied with ``course.optim.apply_updates(params, updates)`` (= params + updates).

The same loop on preallocated buffers, for the MLP, is ``course.fast.train_mlp`` (opt-in).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from course.data import epoch_minibatches, epoch_minibatches_with_replacement
from course.optim import apply_updates
from course.validate import check_rng, positive_int

__all__ = ["train", "fit", "SAMPLERS"]

SAMPLERS = {"shuffle": epoch_minibatches, "replacement": epoch_minibatches_with_replacement}
"""The minibatches of one epoch, by name: ``batches(n, batch_size, rng)`` of ``train``."""


def train(loss_and_grad, params, X, y, optimizer, batches=epoch_minibatches, *, epochs, batch_size, rng,
          on_epoch=None):
    """Minibatch SGD: per epoch, one call of ``batches`` and one optimizer step per minibatch.

    Step k on the minibatch I(k) (an index array from ``batches(len(X), batch_size, rng)``):
        loss_k, grads = loss_and_grad(params, X[I(k)], y[I(k)])      # E_k(theta(k)), grad E_k(theta(k))
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)                       # theta(k+1) = theta(k) + updates

    ``loss_and_grad(params, X_batch, y_batch) -> (loss, grads)`` with grads shaped like params (an
    array or a dict of arrays), e.g. ``course.nn.mlp_loss_and_grad``; ``y`` may be None for problems
    without labels. ``batches`` defaults to the lecture's shuffled chunks (``course.data``);
    ``on_epoch(epoch, params)`` is called after every epoch (epoch = 1, 2, ...).

    Returns (params, step_losses): the trained params (the input is not modified) and E_k(theta(k)) of
    every step, as floats. A loss that is not finite stops training with a RuntimeWarning: it is the
    last entry of step_losses, and params are those it was computed at.
    """
    X, y, epochs, batch_size = check_train_inputs(loss_and_grad, X, y, optimizer, epochs, batch_size, rng)
    state = optimizer.init(params)
    step_losses = []
    for epoch in range(1, epochs + 1):
        for idx in batches(len(X), batch_size, rng):
            loss, grads = loss_and_grad(params, X[idx], None if y is None else y[idx])
            if stop_if_diverged(step_losses, float(loss), epoch):
                return params, step_losses
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
        if on_epoch is not None:
            on_epoch(epoch, params)
    return params, step_losses


def fit(loss_and_grad, params, X, y, optimizer, *, epochs, batch_size, rng, sampler="shuffle",
        X_val=None, y_val=None, eval_fn=None, loop=train, loss=None):
    """``train``, recording the learning curves. Returns (params, history), history a dict of lists:

      "step_loss":   E_k(theta(k)) of every step k (the noisy minibatch losses),
      "epoch_loss":  per epoch, the batch-size weighted mean of its minibatch losses,
      "train_loss":  loss(params, X, y) on the whole training set, before training (index 0) and
                     after every epoch (epochs + 1 entries),
      "val_metric":  eval_fn(params, X_val, y_val) at the same times (the validation loss when
                     eval_fn is None), empty without X_val,
      "epoch":       0, 1, ..., epochs (the times of train_loss and val_metric),
      "diverged_at_step": the index k of the first loss that was not finite (training stopped there),
                     or None.

    ``sampler`` names the minibatches (``SAMPLERS``): "shuffle", the lecture's chunks of a shuffle,
    or "replacement", as many batches drawn with replacement. ``loss(params, X, y)`` defaults to the
    loss of ``loss_and_grad``. ``loop`` is ``train`` or a function with its signature, such as
    ``course.fast.train_mlp`` (with ``loss=course.fast.mlp_loss``).
    """
    X, y, epochs, batch_size = check_train_inputs(loss_and_grad, X, y, optimizer, epochs, batch_size, rng)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {tuple(SAMPLERS)}, got {sampler!r}")
    if X_val is not None:
        X_val, y_val = _check_data(X_val, y_val, "X_val", "y_val")
    if loss is None:
        def loss(p, X, y):
            return loss_and_grad(p, X, y)[0]

    history = {"step_loss": [], "epoch_loss": [], "train_loss": [], "val_metric": [], "epoch": [],
               "diverged_at_step": None}
    sizes = []                                  # the minibatch sizes of every epoch

    def batches(n, batch_size, rng):
        chunks = list(SAMPLERS[sampler](n, batch_size, rng))
        sizes.append([len(idx) for idx in chunks])
        return chunks

    def record(epoch, params):
        history["epoch"].append(epoch)
        history["train_loss"].append(float(loss(params, X, y)))
        if X_val is not None:
            history["val_metric"].append(float((eval_fn or loss)(params, X_val, y_val)))

    record(0, params)
    with warnings.catch_warnings():                 # the loop's warning would point into fit: fit says it
        warnings.simplefilter("ignore", DivergedWarning)           # below, at the line that called fit
        params, history["step_loss"] = loop(loss_and_grad, params, X, y, optimizer, batches, epochs=epochs,
                                            batch_size=batch_size, rng=rng, on_epoch=record)
    start = 0
    for epoch_sizes in sizes[:len(history["epoch"]) - 1]:       # the epochs that were completed
        losses = history["step_loss"][start:start + len(epoch_sizes)]
        history["epoch_loss"].append(float(np.dot(losses, epoch_sizes)) / sum(epoch_sizes))
        start += len(epoch_sizes)
    bad = [k for k, value in enumerate(history["step_loss"]) if not math.isfinite(value)]
    history["diverged_at_step"] = bad[0] if bad else None
    if bad:
        warnings.warn(_diverged(history["step_loss"][bad[0]], bad[0], len(history["epoch"])), DivergedWarning,
                      stacklevel=2)
    return params, history


# ---------------------------------------------------------------------------------------- checks

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


def check_train_inputs(loss_and_grad, X, y, optimizer, epochs, batch_size, rng):
    """The arguments of ``train``, checked: returns (X, y, epochs, batch_size) as arrays and ints."""
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
    return X, y, epochs, batch_size


class DivergedWarning(RuntimeWarning):
    """A minibatch loss that is not finite stopped the training."""


def _diverged(loss, k, epoch):
    return (f"the minibatch loss became {loss} at step k={k} (epoch {epoch}): training stopped; the step size "
            "is probably too large")


def stop_if_diverged(step_losses, loss, epoch):
    """Append the minibatch loss E_k to ``step_losses``; if it is not finite, warn and return True: training
    stops there. The warning points at the line that called the loop (``train``, or
    ``course.fast.train_mlp``) that calls this; ``fit`` says it again at the line that called ``fit``."""
    step_losses.append(loss)
    if math.isfinite(loss):
        return False
    warnings.warn(_diverged(loss, len(step_losses) - 1, epoch), DivergedWarning, stacklevel=3)
    return True
