"""Figures for the notebooks (matplotlib). Each function draws into given or new axes and returns them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def band(ax, iterates, label=None, color=None, quantiles=(0.1, 0.9)):
    """Median and a quantile band over runs of ``iterates`` with shape (K+1, R), against k = 1..K+1."""
    iterates = np.asarray(iterates)
    if iterates.ndim == 1:
        iterates = iterates[:, None]
    k = np.arange(1, iterates.shape[0] + 1)
    lo, mid, hi = np.quantile(iterates, [quantiles[0], 0.5, quantiles[1]], axis=1)
    (line,) = ax.plot(k, mid, label=label, color=color)
    ax.fill_between(k, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
    return ax


def regimes(iterates_by_name, loss_gap=lambda theta: theta ** 2, title=None):
    """Left: theta(k) over many runs (median, 10-90% band). Right: mean of E(theta(k)) - min E, log scale.

    ``iterates_by_name`` maps a label (e.g. "constant tau = 0.1") to an array (K+1, R).
    ``loss_gap`` turns theta into E(theta) - min E (theta^2 for the sanity-check problem).
    """
    fig, (ax_theta, ax_gap) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, iterates in iterates_by_name.items():
        band(ax_theta, iterates, label=name)
        k = np.arange(1, len(iterates) + 1)
        ax_gap.loglog(k, np.mean(loss_gap(np.asarray(iterates)), axis=-1) if np.ndim(iterates) > 1
                      else loss_gap(np.asarray(iterates)), label=name)
    ax_theta.axhline(0.0, color="k", lw=0.8)
    ax_theta.set(xlabel="step k", ylabel=r"$\theta(k)$", title="iterates: median and 10-90% of runs")
    ax_gap.set(xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$", title="optimality gap")
    ax_theta.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def partial_sums(sums_by_name):
    """Robbins-Monro, seen numerically: S1(K) = sum tau(k) and S2(K) = sum tau(k)^2 against K.

    ``sums_by_name`` maps a label to the pair (S1, S2) returned by ``course.schedules.partial_sums``.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, (s1, s2) in sums_by_name.items():
        K = np.arange(1, len(s1) + 1)
        ax1.loglog(K, s1, label=name)
        ax2.loglog(K, s2, label=name)
    ax1.set(xlabel="K", ylabel=r"$\sum_{k\leq K} \tau(k)$", title="must grow without bound")
    ax2.set(xlabel="K", ylabel=r"$\sum_{k\leq K} \tau(k)^2$", title="must stay bounded")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def loglog_fit(k, values_by_name, slopes_by_name):
    """Measured curves on log-log axes with their fitted slopes in the legend."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in values_by_name.items():
        ax.loglog(k, values, label=f"{name}: slope {slopes_by_name[name]:.2f}")
    ax.loglog(k, values_by_name[next(iter(values_by_name))][0] / np.sqrt(k / k[0]), "k--", lw=0.8,
              label=r"$O(1/\sqrt{k})$ for comparison")
    ax.set(xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
