"""Optimizers as pairs of pure functions, in the style of optax.

    opt = adagrad_norm(eta=1.0)
    state = opt.init(theta)
    updates, state = opt.update(grad, state, theta)
    theta = apply_updates(theta, updates)          # theta + updates

``params`` (and grads, updates) are an ndarray, a float, or a dict of ndarrays (an MLP's
{"W1": ..., "b1": ...}). ``update`` never changes its inputs: it returns new updates and a new state.
The step counter in the state starts at k = 1, as in the lecture's sums.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .validate import positive_float


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple]


# -- tiny tree helpers: params are an array or a dict of arrays -------------------------------------

def tree_map(f, tree, *rest):
    """Apply ``f`` leafwise to an array or to the values of dicts with the same keys."""
    if isinstance(tree, dict):
        for other in rest:
            if not isinstance(other, dict) or other.keys() != tree.keys():
                raise ValueError(f"expected a dict with keys {sorted(tree)}, got "
                                 f"{sorted(other) if isinstance(other, dict) else type(other).__name__}")
        return {key: f(tree[key], *(other[key] for other in rest)) for key in tree}
    return f(tree, *rest)


def tree_leaves(tree):
    """The arrays of a tree, in key order."""
    return list(tree.values()) if isinstance(tree, dict) else [tree]


def tree_sq_norm(tree) -> float:
    """||g||^2: the squared Euclidean norm of all entries of all leaves together."""
    return float(sum(np.vdot(leaf, leaf).real for leaf in map(np.asarray, tree_leaves(tree))))


def apply_updates(params, updates):
    """theta(k+1) = theta(k) + updates (updates already carry the minus sign and the step size)."""
    return tree_map(lambda p, u: p + u, params, updates)


def _zeros_like(tree):
    return tree_map(lambda p: np.zeros_like(np.asarray(p, dtype=np.result_type(p, np.float32))), tree)


# -- SGD with a schedule ----------------------------------------------------------------------------

class SGDState(NamedTuple):
    k: int


def sgd(schedule) -> Optimizer:
    """theta(k+1) = theta(k) - tau(k) grad E_k(theta(k)), with tau a schedule k -> tau(k)."""

    def init(params):
        return SGDState(k=1)

    def update(grads, state, params=None):
        tau = schedule(state.k)
        return tree_map(lambda g: -tau * g, grads), SGDState(k=state.k + 1)


    return Optimizer(init, update)


# -- AdaGrad ----------------------------------------------------------------------------------------

def adagrad_step_size(eta, c):
    """AdaGrad's step size tau = eta * c^(-1/2), entry by entry, and 0 where c = 0 (no gradient seen yet,
    so no step). A float for a number c, an array for an array c (diagonal AdaGrad's c_i)."""
    c = np.asarray(c, dtype=np.float64)
    tau = np.zeros_like(c)
    np.divide(eta, np.sqrt(c), out=tau, where=c > 0)
    return float(tau) if tau.ndim == 0 else tau


class AdaGradNormState(NamedTuple):
    k: int
    c: float


def adagrad_norm(eta=1.0, c0=0.0) -> Optimizer:
    """AdaGrad-Norm exactly as in the lecture, with an optional scale eta and start value c(1) = c0:

        c(k+1)     = c(k) + ||grad E_k(theta(k))||^2
        tau(k)     = eta * c(k+1)^(-1/2)
        theta(k+1) = theta(k) - tau(k) grad E_k(theta(k))

    One step size for all parameters. While c(k+1) = 0 the gradient is zero and the step is zero.
    """
    eta = positive_float(eta, "eta")
    c0 = positive_float(c0, "c0", allow_zero=True)

    def init(params):
        return AdaGradNormState(k=1, c=c0)

    def update(grads, state, params=None):
        c = state.c + tree_sq_norm(grads)
        tau = adagrad_step_size(eta, c)
        return tree_map(lambda g: -tau * g, grads), AdaGradNormState(k=state.k + 1, c=c)


    return Optimizer(init, update)


class AdaGradState(NamedTuple):
    k: int
    c: Any  # same tree structure as params


def adagrad(eta=1.0, c0=0.0) -> Optimizer:
    """Diagonal AdaGrad: a step size per coordinate i,

        c_i(k+1) = c_i(k) + (grad_i E_k(theta(k)))^2,    theta_i(k+1) = theta_i(k) - eta g_i / sqrt(c_i(k+1)).

    Coordinates whose accumulated c_i is still 0 have had zero gradient and do not move.
    """
    eta = positive_float(eta, "eta")
    c0 = positive_float(c0, "c0", allow_zero=True)

    def init(params):
        return AdaGradState(k=1, c=tree_map(lambda z: z + c0, _zeros_like(params)))

    def step(g, c):
        out = np.zeros_like(c)
        np.divide(-eta * g, np.sqrt(c), out=out, where=c > 0)
        return out

    def update(grads, state, params=None):
        c = tree_map(lambda c_old, g: c_old + np.square(g), state.c, grads)
        return tree_map(step, grads, c), AdaGradState(k=state.k + 1, c=c)


    return Optimizer(init, update)


# -- the next lecture, as a preview -----------------------------------------------------------------

class MomentumState(NamedTuple):
    k: int
    v: Any


def momentum(schedule, beta=0.9) -> Optimizer:
    """Heavy-ball momentum: v(k+1) = beta v(k) + g_k,  theta(k+1) = theta(k) - tau(k) v(k+1)."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must lie in [0, 1), got {beta}")

    def init(params):
        return MomentumState(k=1, v=_zeros_like(params))

    def update(grads, state, params=None):
        tau = schedule(state.k)
        v = tree_map(lambda v_old, g: beta * v_old + g, state.v, grads)
        return tree_map(lambda vi: -tau * vi, v), MomentumState(k=state.k + 1, v=v)


    return Optimizer(init, update)


class AdamState(NamedTuple):
    k: int
    m: Any
    v: Any


def adam(eta=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> Optimizer:
    """Adam (Kingma & Ba): moving averages of g and g^2 with bias correction,

        m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
        theta -= eta * (m / (1-b1^k)) / (sqrt(v / (1-b2^k)) + eps).
    """

    def init(params):
        return AdamState(k=1, m=_zeros_like(params), v=_zeros_like(params))

    def update(grads, state, params=None):
        k = state.k
        m = tree_map(lambda m_old, g: beta1 * m_old + (1 - beta1) * g, state.m, grads)
        v = tree_map(lambda v_old, g: beta2 * v_old + (1 - beta2) * np.square(g), state.v, grads)
        updates = tree_map(lambda mi, vi: -eta * (mi / (1 - beta1 ** k))
                           / (np.sqrt(vi / (1 - beta2 ** k)) + eps), m, v)
        return updates, AdamState(k=k + 1, m=m, v=v)


    return Optimizer(init, update)
