"""Figures for the notebooks and the widget explorers (matplotlib): every figure is drawn here, once.

A figure that an explorer redraws has a builder ``<name>_figure(axes, ...)``: it draws the axes with empty
curves and returns ``update(...)``, which gives the curves their data (no new axes, no new layout: an
explorer calls it on every move, see ``course.widgets``). The notebooks' function ``<name>(...)`` makes
a new figure with the same builder and updates it once. The other functions draw into given or new axes
and return them (or the figure).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogLocator, NullLocator


def band_stats(iterates, quantiles=(0.1, 0.9)):
    """(k, lo, median, hi) of ``iterates`` with shape (K+1, R) (or (K+1,), one run): k = 1..K+1 and, per
    step, the quantiles ``quantiles`` and the median over the runs."""
    iterates = np.asarray(iterates)
    if iterates.ndim == 1:
        iterates = iterates[:, None]
    k = np.arange(1, iterates.shape[0] + 1)
    lo, mid, hi = np.quantile(iterates, [quantiles[0], 0.5, quantiles[1]], axis=1)
    return k, lo, mid, hi


def band(ax, iterates, label=None, color=None, quantiles=(0.1, 0.9)):
    """Median and a quantile band over runs of ``iterates`` with shape (K+1, R), against k = 1..K+1."""
    k, lo, mid, hi = band_stats(iterates, quantiles)
    (line,) = ax.plot(k, mid, label=label, color=color)
    ax.fill_between(k, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
    return ax


# -- updating a figure in place (the widget explorers redraw this way: no new axes, no new layout) ----

def set_fill_between(fill, x, lo, hi):
    """Give the band ``fill`` (what ``ax.fill_between`` returned) new data, as if drawn anew."""
    if hasattr(fill, "set_data"):                       # matplotlib >= 3.10
        fill.set_data(x, lo, hi)
        return
    ok = np.isfinite(lo) & np.isfinite(hi)
    x, lo, hi = np.asarray(x)[ok], np.asarray(lo)[ok], np.asarray(hi)[ok]
    fill.set_verts([np.column_stack([np.concatenate([x, x[::-1]]), np.concatenate([lo, hi[::-1]])])])


def fit_ylim(ax, *values, log=False, margin=0.05):
    """Set the y-limits of ``ax`` to cover the finite ``values`` (only the positive ones on a log axis),
    with a ``margin`` (a fraction of the range, or of the decades on a log axis), widened to round numbers
    on a linear axis. Nothing finite: the limits stay as they are. For what ``relim`` does not see, such
    as a ``fill_between`` band."""
    v = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in values])
    v = v[np.isfinite(v) & (np.abs(v) < 1e100) & ((v > 0) if log else True)]
    if not v.size:
        return
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
    pad = margin * (hi - lo) if hi > lo else (0.5 if log else max(abs(hi), 1.0) * 0.1)
    lo, hi = lo - pad, hi + pad
    ax.set_ylim((10 ** lo, 10 ** hi) if log else round_numbers(ax.yaxis, lo, hi))


def round_numbers(axis, lo, hi):
    """(lo, hi) widened to round numbers of the linear ``axis`` (its tick locator's): limits that nearby
    data share (an explorer then draws the axes again only when the data change much)."""
    with matplotlib.rc_context({"axes.autolimit_mode": "round_numbers"}):
        return tuple(float(v) for v in axis.get_major_locator().view_limits(lo, hi))


def autoscale(ax):
    """Fit the limits of ``ax`` to its lines' current data (after ``set_data``)."""
    ax.relim(visible_only=True)
    ax.autoscale_view()


def thin_log_ticks(ax, max_decades=2.0):
    """Minor ticks on the log axes of ``ax`` only where the view spans at most ``max_decades`` decades
    (there they carry the labels). On a wider view the decades say enough, and leaving out the minor
    ticks saves about a fifth of the time a figure takes to draw."""
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        wide = lo > 0 and hi > 0 and abs(np.log10(hi / lo)) > max_decades
        axis.set_minor_locator(NullLocator() if wide else LogLocator(subs="auto"))


def regime_stats(iterates, loss_gap=lambda theta: theta ** 2):
    """What ``regimes`` draws for iterates of shape (K+1, R) (or (K+1,), one run): k, the 10%, 50% and 90%
    quantiles of theta(k) over the runs, and the mean optimality gap loss_gap(theta(k)) (a dict)."""
    iterates = np.asarray(iterates)
    k, lo, mid, hi = band_stats(iterates)
    gap = loss_gap(iterates)
    return {"k": k, "lo": lo, "median": mid, "hi": hi, "gap": np.mean(gap, axis=-1) if gap.ndim > 1 else gap}


def regimes_figure(axes, count=1):
    """``regimes`` on ``axes`` (theta, gap) with ``count`` empty curves; returns update(stats_by_name), with
    each value a dict like ``regime_stats``'s."""
    ax_theta, ax_gap = axes
    slots = []
    for _ in range(count):
        (median,) = ax_theta.plot([], [], label=" ")
        band = ax_theta.fill_between([1, 2], [0, 0], [0, 0], color=median.get_color(), alpha=0.25, linewidth=0)
        (gap,) = ax_gap.plot([], [], color=median.get_color())
        slots.append((median, band, gap))
    ax_theta.axhline(0.0, color="k", lw=0.8)
    ax_gap.set(xscale="log", yscale="log")
    ax_theta.set(xlabel="step k", ylabel=r"$\theta(k)$", title="iterates: median and 10-90% of runs")
    ax_gap.set(xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$", title="optimality gap")
    legend = ax_theta.legend(fontsize=8)

    def update(stats_by_name):
        for (median, band, gap), text, (name, s) in zip(slots, legend.get_texts(), stats_by_name.items()):
            median.set_data(s["k"], s["median"])
            set_fill_between(band, s["k"], s["lo"], s["hi"])
            gap.set_data(s["k"], np.where(s["gap"] < 1e100, s["gap"], np.nan))
            text.set_text(name)
        stats = list(stats_by_name.values())
        ax_theta.set_xlim(0, max(len(s["k"]) for s in stats) + 1)
        fit_ylim(ax_theta, *(s["lo"] for s in stats), *(s["hi"] for s in stats), 0.0)
        autoscale(ax_gap)

    return update


def regimes(iterates_by_name, loss_gap=lambda theta: theta ** 2, title=None):
    """Left: theta(k) over many runs (median, 10-90% band). Right: mean of E(theta(k)) - min E, log scale.

    ``iterates_by_name`` maps a label (e.g. "constant tau = 0.1") to an array (K+1, R).
    ``loss_gap`` turns theta into E(theta) - min E (theta^2 for the sanity-check problem).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    regimes_figure(axes, len(iterates_by_name))({name: regime_stats(iterates, loss_gap)
                                                 for name, iterates in iterates_by_name.items()})
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def partial_sum_curves(sums_by_name):
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


# -- gradient descent vs SGD (notebooks/source/gd_vs_sgd) -------------------------------------------

def paths_on_contours(ax, loss, paths_by_label, center, radius, title=None, levels=12):
    """Level sets of ``loss`` around ``center`` (2-D) and iterate paths drawn on them.

    ``loss(thetas)`` maps an (M, 2) array to M values; ``paths_by_label`` maps a label to one path
    (K+1, 2) or a list of paths (drawn in one colour, the label once). The minimiser is the star.
    """
    center = np.asarray(center, dtype=float)
    level_sets(ax, loss, center, radius, levels)
    for label, paths in paths_by_label.items():
        paths = [paths] if np.ndim(paths) == 2 else list(paths)
        color = None
        for i, path in enumerate(paths):
            (line,) = ax.plot(path[:, 0], path[:, 1], ".-", ms=2.5, lw=0.8, alpha=0.8, color=color,
                              label=label if i == 0 else None)
            color = line.get_color()
    ax.plot(*center, "k*", ms=12, label=r"minimiser $\theta^*$")
    ax.set(xlim=(center[0] - radius, center[0] + radius), ylim=(center[1] - radius, center[1] + radius),
           xlabel=r"$\theta_1$", ylabel=r"$\theta_2$", title=title, aspect="equal")
    ax.legend(fontsize=7, loc="upper left")
    return ax


def level_sets(ax, loss, center, radius, levels=12):
    """Grey level sets of ``loss`` (geometrically spaced above its minimum) on the square of half-width
    ``radius`` around ``center``; returns the contour set."""
    center = np.asarray(center, dtype=float)
    t1, t2 = np.meshgrid(np.linspace(center[0] - radius, center[0] + radius, 120),
                         np.linspace(center[1] - radius, center[1] + radius, 120))
    values = np.asarray(loss(np.stack([t1.ravel(), t2.ravel()], axis=1))).reshape(t1.shape)
    values = values - values.min()
    return ax.contour(t1, t2, values, levels=np.geomspace(values.max() * 1e-3, values.max(), levels),
                      colors="0.75", linewidths=0.7)


def loglog_curves(x, ys_by_label, *, xlabel, ylabel, title=None, reference=None, ax=None, style="-"):
    """Curves y(x) on log-log axes (x shared or a dict of its own x per label); ``reference`` is an
    optional (label, y) drawn dashed. Values that are not finite or above 1e100 (a diverged run) are
    left out. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, y in ys_by_label.items():
        xs = x[label] if isinstance(x, dict) else x
        y = np.asarray(y, dtype=float)
        with np.errstate(invalid="ignore"):
            y = np.where(np.isfinite(y) & (np.abs(y) < 1e100), y, np.nan)
        ax.loglog(xs, y, style, label=label)
    if reference is not None:
        ax.loglog(x if not isinstance(x, dict) else next(iter(x.values())), reference[1], "k--", lw=0.8,
                  label=reference[0])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return ax


def gd_vs_sgd_figure(axes, loss, star, radii, runs=5):
    """The gradient-descent-vs-SGD explorer's figure on ``axes``: left, level sets of ``loss`` around the
    minimiser ``star`` for every view in ``radii`` (name -> half-width; drawn once, one shown at a time),
    the paths of GD and ``runs`` SGD runs; right, the gap against the work. Returns
    update(curves, view, sgd_label), curves {"GD": (path, epochs, gap), "SGD": [(path, epochs, gap), ...]}."""
    ax_p, ax_w = axes
    levels = {view: level_sets(ax_p, loss, star, radius) for view, radius in radii.items()}
    sgd_paths = [ax_p.plot([], [], ".-", ms=2.5, lw=0.8, alpha=0.8, color="C0")[0] for _ in range(runs)]
    (gd_path,) = ax_p.plot([], [], ".-", ms=2.5, lw=0.8, alpha=0.8, color="C1")
    (minimiser,) = ax_p.plot(*star, "k*", ms=12)
    ax_p.set(xlabel=r"$\theta_1$", ylabel=r"$\theta_2$", aspect="equal")
    legend_p = ax_p.legend([sgd_paths[0], gd_path, minimiser], ["SGD", "GD", r"minimiser $\theta^*$"],
                           fontsize=7, loc="upper left")
    sgd_gaps = [ax_w.plot([], [], color="C0", alpha=0.5)[0] for _ in range(runs)]
    (gd_gap,) = ax_w.plot([], [], "o-", color="C1", ms=3)
    ax_w.set(xscale="log", yscale="log", xlabel="summand gradients evaluated / N  (epochs)",
             ylabel=r"$E(\theta) - \min E$", title="progress per unit of work")
    legend_w = ax_w.legend([sgd_gaps[0], gd_gap], ["SGD", "GD"], fontsize=8)

    def update(curves, view, sgd_label):
        for name, contours in levels.items():
            contours.set_visible(name == view)
        radius = radii[view]
        ax_p.set(xlim=(star[0] - radius, star[0] + radius), ylim=(star[1] - radius, star[1] + radius))
        for line, gap_line, (path, epochs, gap) in zip(sgd_paths, sgd_gaps, curves["SGD"]):
            line.set_data(path[:, 0], path[:, 1])
            gap_line.set_data(epochs, gap)
        path, epochs, gap = curves["GD"]
        gd_path.set_data(path[:, 0], path[:, 1])
        gd_gap.set_data(epochs, gap)
        for legend in (legend_p, legend_w):
            legend.get_texts()[0].set_text(sgd_label)
        autoscale(ax_w)

    return update


def variance_vs_batch(batch_sizes, measured, closed_form, bias_norms, runs):
    """Left: measured variance of the unbiased minibatch gradient (dots) and its closed form (lines)
    against the batch size B, for each sampler (the dict keys). Right: the norm of the measured bias
    (dots) and sqrt(closed form / runs), the size the Monte-Carlo error of a mean of ``runs`` unbiased
    estimates typically has (lines)."""
    fig, (ax_v, ax_b) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label in measured:
        (line,) = ax_v.loglog(batch_sizes, closed_form[label], "-", label=f"closed form, {label}")
        ax_v.loglog(batch_sizes, measured[label], "o", ms=4, color=line.get_color(), label=f"measured, {label}")
        ax_b.loglog(batch_sizes, np.sqrt(np.asarray(closed_form[label]) / runs), "-", color=line.get_color(),
                    label=f"Monte-Carlo error level, {label}")
        ax_b.loglog(batch_sizes, bias_norms[label], "o", ms=4, color=line.get_color(), label=f"measured, {label}")
    ax_v.set(xlabel="batch size B", ylabel=r"$E\,\|g_I - \nabla E\|^2$", title="variance: falls like 1/B")
    ax_b.set(xlabel="batch size B", ylabel=r"$\|\mathrm{mean}(g_I) - \nabla E\|$",
             title=f"bias: only Monte-Carlo error ({runs} estimates per B)")
    ax_v.legend(fontsize=7)
    ax_b.legend(fontsize=7)
    fig.tight_layout()
    return fig


# -- AdaGrad (notebooks/source/adagrad) ---------------------------------------------------------------

def scale_scan(scales, gaps_by_label, tol, *, xlabel=r"step scale ($\tau$ for SGD, $\eta$ for AdaGrad)",
               ylabel="final optimality gap", title=None, ax=None):
    """Final optimality gap against the step scale, log-log, one curve per method; runs that diverged
    (gap inf or nan) are drawn as crosses on the top edge; a gap below ``tol`` counts as "works"."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    scales = np.asarray(scales, dtype=float)
    finite = [np.asarray(g, dtype=float) for g in gaps_by_label.values()]
    finite = np.concatenate([g[np.isfinite(g)] for g in finite])
    top = 10 * finite.max() if finite.size else 10 * tol
    for label, gaps in gaps_by_label.items():
        gaps = np.asarray(gaps, dtype=float)
        ok = np.isfinite(gaps)
        (line,) = ax.loglog(scales[ok], gaps[ok], "o-", ms=4, label=label)
        if (~ok).any():
            ax.loglog(scales[~ok], np.full((~ok).sum(), top), "x", color=line.get_color(), ms=7,
                      label=f"{label}: diverged")
    ax.axhline(tol, color="green", lw=0.8, label=f"tolerance {tol:g}: below it the scale works")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    return ax


def tau_sqrt_k(k, values_by_label, limits_by_label, ax=None):
    """tau(k) sqrt(k) against k (log k axis), each with its predicted limit as a dashed line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, values in values_by_label.items():
        (line,) = ax.semilogx(k, values, label=label)
        if label in limits_by_label:
            ax.axhline(limits_by_label[label], color=line.get_color(), ls="--", lw=0.9)
    ax.set(xlabel="step k", ylabel=r"$\tau(k)\,\sqrt{k}$", title=r"$\tau(k)\sqrt{k}$ and its predicted limit (dashed)")
    ax.legend(fontsize=8)
    return ax


def adagrad_figure(axes):
    """The AdaGrad explorer's figure on ``axes``: left, the mean gaps of AdaGrad-Norm and constant-step SGD
    (a diverged SGD run is left out); right, tau(k) sqrt(k) and its predicted limit (dashed), log-log (a
    move of eta shifts the curves, not the axes). Returns update(curves, problem, eta), curves a dict with "gap_adagrad", "gap_sgd" (K+1,), "tau_sqrt_k" (K,)
    and "limit"."""
    ax_g, ax_t = axes
    (adagrad,) = ax_g.plot([], [])
    (constant,) = ax_g.plot([], [])
    ax_g.set(xscale="log", yscale="log", xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$")
    legend_g = ax_g.legend([adagrad, constant], ["AdaGrad-Norm", "SGD"], fontsize=8)
    (tau_k,) = ax_t.plot([], [], label="AdaGrad-Norm (mean over runs)")
    limit_line = ax_t.axhline(0.0, color=tau_k.get_color(), ls="--", lw=0.9)
    ax_t.set(xscale="log", yscale="log", xlabel="step k", ylabel=r"$\tau(k)\,\sqrt{k}$",
             title=r"$\tau(k)\sqrt{k}$ and its predicted limit (dashed)")
    ax_t.legend(fontsize=8)

    def update(curves, problem, eta):
        k = np.arange(1, len(curves["gap_adagrad"]) + 1)
        adagrad.set_data(k, curves["gap_adagrad"])
        diverged = ~(np.abs(curves["gap_sgd"]) < 1e100)        # inf, nan or on its way there
        constant.set_data(k, np.where(diverged, np.nan, curves["gap_sgd"]))
        legend_g.get_texts()[0].set_text(f"AdaGrad-Norm, eta = {eta:.3g}")
        legend_g.get_texts()[1].set_text(f"SGD, constant tau = {eta:.3g}" + (" (diverged)" if diverged[-1] else ""))
        ax_g.set_title(problem)
        tau_k.set_data(k[:-1], curves["tau_sqrt_k"])
        limit_line.set_ydata([curves["limit"], curves["limit"]])
        autoscale(ax_g)
        autoscale(ax_t)

    return update


# -- a fully connected network (notebooks/source/mlp) ------------------------------------------------

def digits(images, labels, predicted=None, ncols=10, title=None):
    """8x8 digit images (the rows of ``images``, shape (m, 64)) in a grid, each under its label; with
    ``predicted``, "label -> prediction" in red marks a wrong prediction. One image, so it draws fast."""
    images, labels = np.asarray(images).reshape(-1, 8, 8), np.asarray(labels)
    m = len(images)
    nrows, ncols = -(-m // ncols), min(ncols, max(m, 1))
    grid = np.full((nrows * 11, ncols * 10), np.nan)        # 8x8 images, a gap of 2-3 pixels
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * 11 + 3:r * 11 + 11, c * 10 + 1:c * 10 + 9] = image
    fig, ax = plt.subplots(figsize=(1.0 * ncols, 1.15 * nrows + 0.3))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    for i, label in enumerate(labels):
        r, c = divmod(i, ncols)
        wrong = predicted is not None and predicted[i] != label
        ax.text(c * 10 + 4.5, r * 11 + 1.5, f"{label} -> {predicted[i]}" if wrong else str(label),
                ha="center", va="center", fontsize=9, color="red" if wrong else "black")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


EPOCH_GRID = 5     # the learning curves' epoch axis ends at a multiple of this


def learning_curves_figure(axes, styles=("-",)):
    """``learning_curves`` on ``axes`` (loss, accuracy) with one set of empty curves per line style in
    ``styles`` (colours C0, C1, ...); returns update(histories), histories a list of (label, history) for
    the first len(histories) styles (the others are hidden)."""
    ax_loss, ax_acc = axes
    curves = []
    for i, style in enumerate(styles):
        color = f"C{i}"
        curves.append({
            "train_loss": ax_loss.plot([], [], "o" + style, ms=3, color=color)[0],
            "step_loss": ax_loss.plot([], [], style, lw=0.5, alpha=0.35, color=color)[0],
            "test_acc": ax_acc.plot([], [], "o" + style, ms=3, color=color)[0],
            "train_acc": ax_acc.plot([], [], ":", color=color)[0],
        })
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="loss",
                title="minibatch losses $E_k(\\theta(k))$ (thin), training loss (dots)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.0),
               title="test accuracy (dots), training accuracy (dotted)")
    ax_acc.axhline(0.95, color="k", lw=0.6, ls="--")

    def draw(lines, history):
        steps, step_loss, train_loss = learning_curve_data(history)
        lines["train_loss"].set_data(history["epoch"], train_loss)
        lines["step_loss"].set_data(steps, step_loss)
        lines["test_acc"].set_data(history["epoch"], history["test_acc"])
        lines["train_acc"].set_data(history["epoch"], history.get("train_acc", np.full(len(history["epoch"]), np.nan)))

    def update(histories):
        for i, lines in enumerate(curves):
            for line in lines.values():
                line.set_visible(i < len(histories))
            if i < len(histories):
                draw(lines, histories[i][1])
        ax_loss.legend([c["train_loss"] for c in curves[:len(histories)]], [label for label, _ in histories],
                       fontsize=8, loc="upper right")   # not "best": it searches the curves at every drawing
        autoscale(ax_loss)
        # up to the next multiple of 5 epochs: an explorer's runs of 6 to 10 epochs share the axes
        last = max([history["epoch"][-1] for _, history in histories] + [1])
        for ax in axes:
            ax.set_xlim(-0.5, EPOCH_GRID * np.ceil(last / EPOCH_GRID) + 0.5)

    return update


def learning_curves(histories, title=None, styles=None):
    """Loss and accuracy of training runs, against epochs.

    ``histories`` maps a label to a dict with "step_loss" (the minibatch loss E_k(theta(k)) of every
    step) and, per epoch, "epoch" (0, 1, 2, ...), "train_loss" (the loss on the whole training set)
    and "test_acc" (optionally "train_acc"). ``styles`` maps a label to a line style (default "-").
    Left: the noisy minibatch losses (thin) and the training loss after each epoch (dots), log scale.
    Right: test accuracy (dots) and training accuracy (dotted); the dashed line marks 95 %.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    update = learning_curves_figure(axes, [(styles or {}).get(name, "-") for name in histories])
    update(list(histories.items()))
    if title:
        fig.suptitle(title)
    try:
        fig.tight_layout()
    except ValueError:  # a diverged run can leave the log axis with nothing to lay out
        pass
    return fig


def learning_curve_data(history):
    """(steps, step_loss, train_loss) of a history as ``learning_curves`` draws them: the minibatch
    losses against fractional epochs, and both losses ready for a log axis (see ``_positive``)."""
    epochs = max(history["epoch"][-1], 1)
    step_loss, train_loss = _positive(history["step_loss"]), _positive(history["train_loss"])
    steps = np.arange(1, len(step_loss) + 1) * epochs / max(len(step_loss), 1)
    return steps, step_loss, train_loss


def _positive(values):
    """Losses for a log axis: a diverged (inf/nan) or zero loss becomes a gap in the line."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


# ---------------------------------------------------------------------------------------- nonsmooth

def clarke_fans(examples, width=1.0):
    """One panel per example (title, f, theta, interval): the graph of f near theta and the fan of lines
    f(theta) + s (t - theta) for the slopes s in the Clarke interval [lo, hi] at theta (shaded)."""
    fig, axes = plt.subplots(1, len(examples), figsize=(3.2 * len(examples), 3.0), squeeze=False)
    for ax, (title, f, theta, interval) in zip(axes[0], examples):
        t = np.linspace(theta - width, theta + width, 401)
        f0 = float(f(theta))
        lo, hi = float(interval[0]), float(interval[-1])
        ax.fill_between(t, f0 + lo * (t - theta), f0 + hi * (t - theta), color="C1", alpha=0.25, lw=0,
                        label="slopes in the estimate")
        for s in (lo, hi):
            ax.plot(t, f0 + s * (t - theta), color="C1", lw=0.8)
        ax.plot(t, f(t), "k", lw=2)
        ax.plot([theta], [f0], "o", color="C3")
        ax.set_title(f"{title}\n[{lo:.3g}, {hi:.3g}]", fontsize=9)
        ax.set_ylim(f0 - 1.5 * width, f0 + 1.5 * width)
        ax.set_xlabel(r"$\theta$")
    fig.tight_layout()
    return fig


def _draw_convex_set(ax, vertices, **style):
    v = np.asarray(vertices, dtype=float)
    if len(v) >= 3:
        ax.fill(v[:, 0], v[:, 1], alpha=0.25, **style)
        closed = np.vstack([v, v[:1]])
        ax.plot(closed[:, 0], closed[:, 1], **style)
    else:
        ax.plot(v[:, 0], v[:, 1], "-o", lw=3, **style)


def clarke_sets(examples):
    """One panel per example (title, sampled gradients (n, 2), hull vertices (m, 2)): the gradients
    sampled near theta (dots) and their convex hull, the estimate of the Clarke subdifferential."""
    fig, axes = plt.subplots(1, len(examples), figsize=(3.2 * len(examples), 3.3), squeeze=False)
    for ax, (title, samples, hull) in zip(axes[0], examples):
        _draw_convex_set(ax, hull, color="C1")
        samples = np.asarray(samples)
        ax.plot(samples[:, 0], samples[:, 1], ".", color="k", ms=4)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-1.4, 1.4)
        ax.set_aspect("equal")
        ax.axhline(0, color="k", lw=0.4)
        ax.axvline(0, color="k", lw=0.4)
        ax.set_xlabel(r"$p_1$")
    axes[0][0].set_ylabel(r"$p_2$")
    fig.tight_layout()
    return fig


def relu_prime_drift_figure(axes, count=1):
    """``relu_prime_drift`` on ``axes`` (drift, count) with ``count`` empty run pairs; returns
    update(results_by_name)."""
    ax_drift, ax_count = axes
    slots = []
    for i in range(count):
        slots.append((ax_drift.plot([], [], color=f"C{i}")[0], ax_drift.plot([], [], "|", color=f"C{i}", ms=12)[0],
                      ax_count.step([], [], where="post", color=f"C{i}")[0]))
    ax_drift.set_yscale("log")
    ax_drift.set(xlabel="step k", ylabel=r"$\|\theta_A - \theta_B\| / \|\theta_A\|$",
                 title="how far the two runs drift apart (| = backprop differed)")
    ax_count.set(xlabel="step k", ylabel="steps so far", title="steps at which backprop's output differed")
    legend_drift = ax_drift.legend([s[0] for s in slots], [" "] * count, fontsize=8)
    legend_count = ax_count.legend([s[2] for s in slots], [" "] * count, fontsize=8)

    def update(results_by_name):
        steps, most, drifts = 1, 1, []
        for (drift_line, marks, count_line), text_drift, text_count, (name, res) in zip(
                slots, legend_drift.get_texts(), legend_count.get_texts(), results_by_name.items()):
            k, drift, (mark_k, mark_y), counts = relu_prime_drift_data(res)
            drift_line.set_data(k, drift)
            marks.set_data(mark_k, mark_y)
            count_line.set_data(k, counts)
            text_drift.set_text(f"{name}: identical runs (drift 0)" if np.all(np.isnan(drift))
                                else f"{name}: final drift {res['drift'][-1]:.1e}")
            text_count.set_text(f"{name}: {counts[-1]} steps")
            steps, most = max(steps, len(k)), max(most, counts[-1])
            drifts.append(drift)
        ax_drift.set_xlim(0, steps + 1)
        ax_count.set_xlim(0, steps + 1)
        fit_ylim(ax_count, 0, most)
        fit_ylim(ax_drift, *drifts, log=True)

    return update


def relu_prime_drift(results_by_name):
    """ReLU'(0) and precision: for each run pair of ``course.relu_prime.relu_prime_runs`` (by label),
    left the relative distance ||theta_A - theta_B|| / ||theta_A|| after each step (log scale; a pair that
    never separates is listed as identical), right the number of steps so far at which backprop differed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    relu_prime_drift_figure(axes, len(results_by_name))(results_by_name)
    fig.tight_layout()
    return fig


def relu_prime_drift_data(res):
    """What ``relu_prime_drift`` draws for one run pair: (k, drift, (k, y) of the marks at the steps where
    backprop differed, number of such steps so far). A drift of exactly 0 becomes nan (a gap on the
    log axis); the marks sit on the drift curve (at its smallest value where it is 0)."""
    k = np.arange(1, len(res["drift"]) + 1)
    drift = np.where(res["drift"] > 0, res["drift"], np.nan)
    marks = np.flatnonzero(res["differs"])
    floor = np.nanmin(drift) if not np.all(np.isnan(drift)) else np.nan
    return k, drift, (k[marks], np.nan_to_num(drift[marks], nan=floor)), np.cumsum(res["differs"])


def gd_paths(paths_by_name, title=None):
    """Gradient-descent iterates theta(k) against k, one line per label."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (name, path) in enumerate(paths_by_name.items()):
        ax.plot(np.arange(1, len(path) + 1), path, ["o-", "s--", "^:"][i % 3], ms=7 - 2 * (i % 3), label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="step k", ylabel=r"$\theta(k)$", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
