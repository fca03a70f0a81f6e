"""Interactive explorers (ipywidgets). None of them runs while nbgrader grades a notebook.

Each explorer answers a slider move within about a tenth of a second. How:

- its figure is drawn once (``LiveFigure``); a move only gives the lines already there new data
  (``Line2D.set_data`` and friends) and new limits and labels: no new axes, no new layout;
- the figure is shown as PNG bytes in an ``ipywidgets.Image``, at a modest resolution and with a fast
  PNG compression (clearing the axes, ``tight_layout`` and the inline backend's tight bounding box
  each cost a whole extra rendering per move);
- every setting is computed once (``functools.lru_cache``): going back to a setting only redraws,
  and what does not depend on a control is not recomputed when it moves.

Each explorer returns its widget box with three extra attributes, for the curious and for the tests:
``controls`` (name -> widget), ``figure`` (the matplotlib figure it updates) and ``compute`` (the cached
function behind the figure).
"""

from __future__ import annotations

import functools
import io
import os
import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine

from . import plots, problems, schedules, sgd

DPI = 80                  # pixels per inch of the PNG an explorer shows (an 11-inch figure: 880 pixels)
PNG_OPTIONS = {"pil_kwargs": {"compress_level": 1}}   # fast zlib level: the PNG only goes to the browser
CACHE_SIZE = 256          # settings remembered per explorer


def grading() -> bool:
    """True while nbgrader executes the notebook (it sets NBGRADER_EXECUTION): skip widgets then."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _skipped(name):
    print(f"{name}: interactive explorer skipped while the notebook is being graded.")


class LiveFigure:
    """A matplotlib figure drawn once and then updated in place, shown as a PNG in an ipywidgets.Image.

    ``axes`` are the figure's subplots (one row of ``ncols``). After changing the artists' data, call
    ``show()``: the first call lays the figure out (``tight_layout``), every call renders the PNG.
    """

    def __init__(self, ncols=2, figsize=(11, 3.8), dpi=DPI):
        import ipywidgets as w

        self.figure = Figure(figsize=figsize, dpi=dpi)   # not pyplot's: the inline backend leaves it alone
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(1, ncols)
        self.image = w.Image(format="png")
        self._laid_out = False

    def png(self) -> bytes:
        """The figure as PNG bytes, as it looks now."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.figure.dpi, **PNG_OPTIONS)
        return buffer.getvalue()

    def show(self):
        """Render the figure into the image widget (laying it out the first time only)."""
        for ax in self.axes:
            plots.thin_log_ticks(ax)
        if not self._laid_out:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # "tight_layout not applied": keep the defaults
                try:                                     # like tight_layout(), but with no layout engine
                    TightLayoutEngine().execute(self.figure)     # left behind: it would draw twice per PNG
                except ValueError:                       # e.g. a log axis with nothing on it yet
                    pass
            self._laid_out = True
        self.image.value = self.png()


def _explorer_box(rows, live, out, controls, compute):
    """The explorer's widget: ``rows`` of controls, the message area ``out`` and the figure."""
    import ipywidgets as w

    ui = w.VBox([*rows, out, live.image])
    ui.controls, ui.figure, ui.compute = controls, live.figure, compute
    return ui


def _observe(controls, redraw):
    for control in controls.values():
        control.observe(redraw, names="value")


def _clear(out):
    """Remove an error shown earlier in the Output widget ``out`` (costs nothing when there is none)."""
    if out.outputs:
        out.clear_output()


def _cached(function):
    return functools.lru_cache(maxsize=CACHE_SIZE)(function)


# -- step sizes (notebooks/source/step_sizes) --------------------------------------------------------

SCHEDULES = {
    "constant: tau0": lambda tau0, p: schedules.constant(tau0),
    "geometric: tau0 * q^k": lambda tau0, p: schedules.geometric(tau0, min(p, 0.99)),
    "inverse power: tau0 / k^alpha": lambda tau0, p: schedules.inverse_power(tau0, p),
}


def step_size_runs(kind, tau0, p, runs=200, steps=300, theta1=3.0, seed=0, sgd_fn=None):
    """Iterates (steps+1, runs) of SGD on the sanity-check problem for one schedule of ``SCHEDULES``.

    ``sgd_fn(grad, theta1, schedule, indices)`` defaults to the reference ``course.sgd.sgd_iterates``.
    """
    run = sgd_fn or sgd.sgd_iterates
    indices = sgd.sample_indices(2, steps, np.random.default_rng(seed), runs=runs)
    schedule = SCHEDULES[kind](tau0, p)
    return run(problems.sanity_check_sample_grad, np.full(runs, theta1), schedule, indices)


def step_size_summary(kind, tau0, p, runs=200, sgd_fn=None):
    """What the step-size explorer draws for one setting: k, the 10%, 50% and 90% quantiles of theta(k)
    over the runs, the mean gap E(theta(k)) - min E = mean theta(k)^2, and the final mean and std."""
    iterates = step_size_runs(kind, tau0, p, runs=runs, sgd_fn=sgd_fn)
    k, lo, mid, hi = plots.band_stats(iterates)
    final = iterates[-1]
    return {"k": k, "lo": lo, "median": mid, "hi": hi, "gap": np.mean(iterates ** 2, axis=1),
            "mean": float(final.mean()), "std": float(final.std())}


def _step_size_figure():
    """The figure of ``plots.regimes`` for one schedule, with empty artists; returns (live, update)."""
    live = LiveFigure(2, (11, 3.8))
    ax_theta, ax_gap = live.axes
    (median,) = ax_theta.plot([], [], label=" ")
    band = ax_theta.fill_between([1, 2], [0, 0], [0, 0], color=median.get_color(), alpha=0.25, linewidth=0)
    ax_theta.axhline(0.0, color="k", lw=0.8)
    (gap,) = ax_gap.plot([], [])
    ax_gap.set(xscale="log", yscale="log")
    ax_theta.set(xlabel="step k", ylabel=r"$\theta(k)$", title="iterates: median and 10-90% of runs")
    ax_gap.set(xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$", title="optimality gap")
    legend = ax_theta.legend(fontsize=8)
    title = live.figure.suptitle(" ", fontsize=10)

    def update(s, label):
        median.set_data(s["k"], s["median"])
        plots.set_fill_between(band, s["k"], s["lo"], s["hi"])
        gap.set_data(s["k"], np.where(s["gap"] < 1e100, s["gap"], np.nan))
        ax_theta.set_xlim(0, len(s["k"]) + 1)
        plots.fit_ylim(ax_theta, s["lo"], s["hi"], 0.0)
        plots.autoscale(ax_gap)
        legend.get_texts()[0].set_text(label)
        title.set_text(f"after {len(s['k']) - 1} steps: mean theta = {s['mean']:+.3f}, "
                       f"spread (std) = {s['std']:.3f}")
        live.show()

    return live, update


def step_size_explorer(sgd_fn=None):
    """Sliders for the schedule, tau0 and q/alpha; shows many SGD runs on the sanity check as a band."""
    if grading():
        return _skipped("step_size_explorer")
    import ipywidgets as w

    controls = {
        "kind": w.Dropdown(options=list(SCHEDULES), value="inverse power: tau0 / k^alpha", description="schedule"),
        "tau0": w.FloatLogSlider(value=0.5, base=10, min=-2, max=0.3, step=0.05, description="tau0"),
        "p": w.FloatSlider(value=1.0, min=0.1, max=1.0, step=0.05, description="q or alpha"),
        "runs": w.IntSlider(value=200, min=10, max=1000, step=10, description="runs"),
    }
    c = controls
    compute = _cached(functools.partial(step_size_summary, sgd_fn=sgd_fn))
    live, update = _step_size_figure()
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            summary = compute(c["kind"].value, c["tau0"].value, c["p"].value, c["runs"].value)
            update(summary, f"{c['kind'].value.split(':')[0]}, tau0={c['tau0'].value:.3g}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["kind"], c["runs"]]), w.HBox([c["tau0"], c["p"]])], live, out,
                         controls, compute)


# -- gradient descent vs SGD (notebooks/source/gd_vs_sgd) -------------------------------------------

def gd_vs_sgd_runs(X, y, descent_fn, grad_fn, batch_size, tau, theta1, *, epochs=20, runs=5, seed=0):
    """GD and ``runs`` SGD runs with the same step size ``tau`` and the same work (``epochs`` * N summand
    gradients each). ``descent_fn(grad_fn, theta1, schedule, batches) -> (thetas, work)``.
    Returns {"GD": (thetas, work), "SGD": [(thetas, work), ...]}."""
    n = len(y)
    rng = np.random.default_rng(seed)
    steps = max(1, epochs * n // batch_size)
    with np.errstate(all="ignore"):
        out = {"GD": descent_fn(grad_fn, theta1, lambda k: tau, [np.arange(n)] * epochs)}
        out["SGD"] = [descent_fn(grad_fn, theta1, lambda k: tau, rng.integers(0, n, size=(steps, batch_size)))
                      for _ in range(runs)]
    return out


GD_VS_SGD_RADIUS = {"far": 6.0, "close": 0.6}   # half-width of the view around the minimiser


def gd_vs_sgd_start(star, start):
    """theta(1) of the explorer: ``start`` "far" from or "close" to the minimiser ``star``."""
    return np.asarray(star) + GD_VS_SGD_RADIUS[start] * 0.8 * np.array([0.8, 0.6])


def _gd_vs_sgd_figure(loss, star, runs=5):
    """Left: level sets (both views, drawn once), paths of GD and ``runs`` SGD runs. Right: the gap
    against the work. Returns (live, update)."""
    live = LiveFigure(2, (11, 4.3))
    ax_p, ax_w = live.axes
    levels = {start: plots.level_sets(ax_p, loss, star, radius) for start, radius in GD_VS_SGD_RADIUS.items()}
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

    def update(s, start, title, sgd_label):
        for name, contours in levels.items():
            contours.set_visible(name == start)
        radius = GD_VS_SGD_RADIUS[start]
        ax_p.set(xlim=(star[0] - radius, star[0] + radius), ylim=(star[1] - radius, star[1] + radius), title=title)
        for line, gap_line, (path, epochs, gap) in zip(sgd_paths, sgd_gaps, s["SGD"]):
            line.set_data(path[:, 0], path[:, 1])
            gap_line.set_data(epochs, gap)
        path, epochs, gap = s["GD"]
        gd_path.set_data(path[:, 0], path[:, 1])
        gd_gap.set_data(epochs, gap)
        for legend in (legend_p, legend_w):
            legend.get_texts()[0].set_text(sgd_label)
        plots.autoscale(ax_w)
        live.show()

    return live, update


def gd_vs_sgd_explorer(X, y, descent_fn, grad_fn):
    """Sliders for the batch size B and the step size; a 2-D least-squares problem (X has 2 columns)
    started far from or close to its minimiser. Left: GD and SGD paths on the level sets of E. Right:
    E(theta) - min E against the number of summand gradients evaluated."""
    if grading():
        return _skipped("gd_vs_sgd_explorer")
    import ipywidgets as w

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n = len(y)
    star = problems.least_squares_solution(X, y)
    e_star = problems.least_squares_loss(star, X, y)
    lip = float(np.linalg.eigvalsh(X.T @ X).max())

    def loss(thetas):
        return 0.5 * np.sum((np.atleast_2d(thetas) @ X.T - y) ** 2, axis=-1)

    def gap(thetas):  # E - min E, left out where a run diverged
        with np.errstate(all="ignore"):
            g = loss(thetas) - e_star
        return np.where(np.abs(g) < 1e100, g, np.nan)

    def curve(thetas, work):
        return thetas, np.maximum(work, 1) / n, gap(thetas)

    def summary(batch_size, step, start):
        """(path, epochs of work, gap) of GD and of each SGD run, for tau = step / L."""
        res = gd_vs_sgd_runs(X, y, descent_fn, grad_fn, batch_size, step / lip, gd_vs_sgd_start(star, start))
        return {"GD": curve(*res["GD"]), "SGD": [curve(*r) for r in res["SGD"]]}

    controls = {
        "batch": w.SelectionSlider(options=sorted({1, 2, 5, 10, 20, n // 2, n}), value=1, description="batch B"),
        "step": w.FloatLogSlider(value=0.1, base=10, min=-3, max=0.3, step=0.05, description="tau * L"),
        "start": w.ToggleButtons(options=["far", "close"], value="far", description="start"),
    }
    c = controls
    compute = _cached(summary)
    live, update = _gd_vs_sgd_figure(loss, star)
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            batch, step, start = c["batch"].value, c["step"].value, c["start"].value
            update(compute(batch, step, start), start,
                   f"tau = {step / lip:.3g} (= {step:.3g} / L), start {start}", f"SGD, B = {batch}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["batch"], c["step"]]), c["start"]], live, out, controls, compute)


# -- AdaGrad (notebooks/source/adagrad) ---------------------------------------------------------------

def _adagrad_problem(problem, runs, steps, batch_size, seed, X=None, y=None):
    """(grad, theta1, indices, gap, G) of one of the explorer's problems; G are the per-sample gradients at
    the minimiser (for the limit of tau(k) sqrt(k))."""
    rng = np.random.default_rng(seed)
    if problem == "sanity check":
        def gap(thetas):
            return np.mean(thetas[..., 0] ** 2, axis=-1)

        return (problems.sanity_check_runs_grad, np.full((runs, 1), 3.0), rng.integers(0, 2, size=(steps, runs)),
                gap, np.array([[-1.0], [1.0]]))
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    star = problems.least_squares_solution(X, y)
    hessian = X.T @ X

    def gap(thetas):
        # E(theta) - E(theta*) = 1/2 (theta - theta*)^T X^T X (theta - theta*), as grad E(theta*) = 0: the
        # same as 1/2 ||X theta - y||^2 - E(theta*) without an (N, d) product per iterate and run
        d = thetas - star
        return np.mean(0.5 * np.sum((d @ hessian) * d, axis=-1), axis=-1)

    return (problems.least_squares_runs_grad(X, y), np.zeros((runs, X.shape[1])),
            rng.integers(0, len(y), size=(steps, runs, batch_size)), gap, (X @ star - y)[:, None] * X)


def adagrad_runs(problem, adagrad_fn, eta, c0, *, X=None, y=None, runs=100, steps=2000, batch_size=1,
                 seed=0):
    """AdaGrad-Norm (``adagrad_fn(grad, theta1, indices, eta, c0) -> (thetas, taus)``) and constant-step
    SGD with tau = eta, on the same draws of the index sets.

    ``problem`` is "sanity check" (theta(1) = 3, R runs of shape (R, 1)) or "least squares" (on X, y,
    from theta(1) = 0, minibatches of ``batch_size``). Returns (gap_adagrad, gap_sgd, taus, limit):
    the mean optimality gaps over the runs (steps+1,), AdaGrad's taus (steps, runs) and the predicted
    limit of tau(k) sqrt(k)."""
    gap_a, taus, limit = adagrad_only_runs(problem, adagrad_fn, eta, c0, X=X, y=y, runs=runs, steps=steps,
                                           batch_size=batch_size, seed=seed)
    gap_s = constant_step_runs(problem, eta, X=X, y=y, runs=runs, steps=steps, batch_size=batch_size, seed=seed)
    return gap_a, gap_s, taus, limit


def adagrad_only_runs(problem, adagrad_fn, eta, c0, *, X=None, y=None, runs=100, steps=2000, batch_size=1,
                      seed=0):
    """The AdaGrad-Norm half of ``adagrad_runs``: (gap_adagrad, taus, limit)."""
    from . import adaptive

    grad, theta1, indices, gap, G = _adagrad_problem(problem, runs, steps, batch_size, seed, X, y)
    with np.errstate(all="ignore"):
        thetas, taus = adagrad_fn(grad, theta1, indices, eta, c0)
        return gap(thetas), np.asarray(taus), adaptive.tau_limit(eta, G, batch_size)


def constant_step_runs(problem, tau, *, X=None, y=None, runs=100, steps=2000, batch_size=1, seed=0):
    """The SGD half of ``adagrad_runs``: the mean gap of constant-step SGD with step ``tau`` (steps+1,)."""
    grad, theta1, indices, gap, _ = _adagrad_problem(problem, runs, steps, batch_size, seed, X, y)
    with np.errstate(all="ignore"):
        return gap(sgd.sgd_iterates(grad, theta1, schedules.constant(tau), indices))


ADAGRAD_RUNS = {"sanity check": 100, "least squares": 10}   # runs the explorer averages over


def _adagrad_figure():
    """Left: mean gaps of AdaGrad-Norm and SGD. Right: tau(k) sqrt(k) and its limit. Returns (live, update)."""
    live = LiveFigure(2, (11, 4))
    ax_g, ax_t = live.axes
    (adagrad,) = ax_g.plot([], [])
    (constant,) = ax_g.plot([], [])
    ax_g.set(xscale="log", yscale="log", xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$")
    legend_g = ax_g.legend([adagrad, constant], ["AdaGrad-Norm", "SGD"], fontsize=8)
    (tau_k,) = ax_t.plot([], [], label="AdaGrad-Norm (mean over runs)")
    limit_line = ax_t.axhline(0.0, color=tau_k.get_color(), ls="--", lw=0.9)
    ax_t.set(xscale="log", xlabel="step k", ylabel=r"$\tau(k)\,\sqrt{k}$",
             title=r"$\tau(k)\sqrt{k}$ and its predicted limit (dashed)")
    ax_t.legend(fontsize=8)
    title = live.figure.suptitle(" ", fontsize=10)

    def update(s, problem, eta, c0):
        k = np.arange(1, len(s["gap_adagrad"]) + 1)
        adagrad.set_data(k, s["gap_adagrad"])
        diverged = ~(np.abs(s["gap_sgd"]) < 1e100)        # inf, nan or on its way there
        constant.set_data(k, np.where(diverged, np.nan, s["gap_sgd"]))
        legend_g.get_texts()[0].set_text(f"AdaGrad-Norm, eta = {eta:.3g}")
        legend_g.get_texts()[1].set_text(f"SGD, constant tau = {eta:.3g}" + (" (diverged)" if diverged[-1] else ""))
        ax_g.set_title(problem)
        tau_k.set_data(k[:-1], s["tau_sqrt_k"])
        limit_line.set_ydata([s["limit"], s["limit"]])
        title.set_text(f"c(0) = {c0:.3g}: first step tau(1) = eta / sqrt(c(0) + ||g_1||^2)")
        plots.autoscale(ax_g)
        plots.autoscale(ax_t)
        live.show()

    return live, update


def adagrad_explorer(adagrad_fn, X, y):
    """Sliders over eta and c(0) (and the problem): AdaGrad-Norm against constant-step SGD with tau = eta.
    Left: the mean optimality gap over the runs. Right: tau(k) sqrt(k) and its predicted limit."""
    if grading():
        return _skipped("adagrad_explorer")
    import ipywidgets as w

    @_cached
    def sgd_gap(problem, eta):           # does not depend on c(0): moving c(0) reuses it
        return constant_step_runs(problem, eta, X=X, y=y, runs=ADAGRAD_RUNS[problem])

    def summary(problem, eta, c0):
        gap_a, taus, limit = adagrad_only_runs(problem, adagrad_fn, eta, c0, X=X, y=y, runs=ADAGRAD_RUNS[problem])
        k = np.arange(1, len(taus) + 1)
        return {"gap_adagrad": gap_a, "gap_sgd": sgd_gap(problem, eta), "limit": limit,
                "tau_sqrt_k": np.mean(taus.reshape(len(k), -1), axis=1) * np.sqrt(k)}

    controls = {
        "problem": w.ToggleButtons(options=list(ADAGRAD_RUNS), value="sanity check", description="problem"),
        "eta": w.FloatLogSlider(value=1.0, base=10, min=-3, max=3, step=0.1, description="eta"),
        "c0": w.FloatLogSlider(value=1e-6, base=10, min=-6, max=6, step=0.25, description="c(0)"),
    }
    c = controls
    compute = _cached(summary)
    live, update = _adagrad_figure()
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            update(compute(c["problem"].value, c["eta"].value, c["c0"].value), c["problem"].value, c["eta"].value,
                   c["c0"].value)

    _observe(controls, redraw)
    redraw()
    return _explorer_box([c["problem"], w.HBox([c["eta"], c["c0"]])], live, out, controls, compute)


# -- a fully connected network (notebooks/source/mlp) ------------------------------------------------

def _learning_curve_figure():
    """``plots.learning_curves`` for two runs (now: solid, previous: dashed). Returns (live, update)."""
    live = LiveFigure(2, (11, 3.8))
    ax_loss, ax_acc = live.axes
    curves = []
    for color, style in (("C0", "-"), ("C1", "--")):
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
    title = live.figure.suptitle(" ")

    def draw(lines, history):
        steps, step_loss, train_loss = plots.learning_curve_data(history)
        lines["train_loss"].set_data(history["epoch"], train_loss)
        lines["step_loss"].set_data(steps, step_loss)
        lines["test_acc"].set_data(history["epoch"], history["test_acc"])
        lines["train_acc"].set_data(history["epoch"], history.get("train_acc", np.full(len(history["epoch"]), np.nan)))

    def update(histories, text):
        """``histories``: [(label, history)] for now and, if any, the previous setting."""
        for lines, entry in zip(curves, histories + [None]):
            for line in lines.values():
                line.set_visible(entry is not None)
            if entry is not None:
                draw(lines, entry[1])
        ax_loss.legend([c["train_loss"] for c in curves[:len(histories)]], [label for label, _ in histories],
                       fontsize=8)
        ax_loss.relim(visible_only=True)
        ax_loss.autoscale_view()
        ax_acc.set_xlim(ax_loss.get_xlim())
        title.set_text(text)
        live.show()

    return live, update


def learning_curve_explorer(fit):
    """Sliders for the batch size, AdaGrad's scale eta, the sampler and the number of epochs; each
    change trains a fresh network with ``fit(batch_size=, eta=, sampler=, epochs=) -> (params, history)``
    (once per setting: going back to a setting redraws its remembered curves) and draws its learning
    curves next to those of the previous setting (dashed)."""
    if grading():
        return _skipped("learning_curve_explorer")
    import ipywidgets as w

    style = {"description_width": "initial"}
    controls = {
        "batch": w.SelectionSlider(options=[4, 8, 16, 25, 32, 64, 128, 256], value=25, description="batch size",
                                   continuous_update=False, style=style),
        "eta": w.FloatLogSlider(value=2.0, base=10, min=-2, max=1.5, step=0.1, description="AdaGrad eta",
                                continuous_update=False, style=style),
        "sampler": w.ToggleButtons(options=["shuffle", "replacement"], value="shuffle", description="minibatches"),
        "epochs": w.IntSlider(value=8, min=1, max=30, description="epochs", continuous_update=False, style=style),
    }
    c = controls

    @_cached
    def compute(batch_size, eta, sampler, epochs):
        return fit(batch_size=batch_size, eta=eta, sampler=sampler, epochs=epochs)[1]

    live, update = _learning_curve_figure()
    status = w.Label()
    out = w.Output()
    previous = {}

    def redraw(*_):
        setting = f"B={c['batch'].value}, eta={c['eta'].value:.3g}, {c['sampler'].value}"
        _clear(out)
        with out:
            status.value = f"training with {setting} ..."
            try:
                history = compute(c["batch"].value, c["eta"].value, c["sampler"].value, c["epochs"].value)
            finally:
                status.value = ""
            histories = [(setting, history)] + [(f"previous: {k}", v) for k, v in previous.items() if k != setting]
            update(histories, f"{setting}: test accuracy {history['test_acc'][-1]:.3f}")
            # inside the block: the Output widget shows and swallows an error of fit (an unanswered
            # exercise), and then there is no history to remember
            previous.clear()
            previous[setting] = history

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["batch"], c["eta"]]), w.HBox([c["sampler"], c["epochs"]]), status], live, out,
                         controls, compute)


# -- nonsmooth training (notebooks/source/nonsmooth) -------------------------------------------------

RELU_PRIME_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)
RELU_PRIME_DTYPES = ("float16", "float32", "float64")


def same_as_run_a(res):
    """The result ``course.nonsmooth.relu_prime_runs`` gives with ReLU'(0) = 0 for run B, from its result
    for any other ReLU'(0) in the same precision: then B is A (same start, same minibatches, same
    backprop), so backprop never differs, the drift is 0 and B's losses and accuracy are A's."""
    acc_a = res["test_accuracy"][0]
    return {"differs": np.zeros_like(res["differs"]), "zeros": res["zeros"], "drift": np.zeros_like(res["drift"]),
            "loss_a": res["loss_a"], "loss_b": res["loss_a"], "test_accuracy": (acc_a, acc_a)}


def relu_prime_table(runs_fn=None, steps=300, computed=None, dtypes=RELU_PRIME_DTYPES,
                     choices=RELU_PRIME_CHOICES):
    """Results of ``course.nonsmooth.relu_prime_runs`` (or ``runs_fn``) for every precision in ``dtypes``
    and ReLU'(0) of run B in ``choices``, as {(dtype name, ReLU'(0)): result}; ``computed`` holds some
    already. With the reference, two shortcuts give exactly what a run would:

    - ReLU'(0) = 0 for B makes B = A (``same_as_run_a``);
    - when no hidden pre-activation of run A was ever exactly 0 (``zeros`` all 0), ReLU'(0) never entered
      backprop, so B = A for every ReLU'(0): all choices give that same result.

    With a ``runs_fn`` of your own, every setting is computed by it."""
    from . import nonsmooth

    table = {(str(d), float(r)): res for (d, r), res in (computed or {}).items()}
    run = runs_fn or nonsmooth.relu_prime_runs
    for dtype in dtypes:
        for r in sorted(choices, key=lambda r: r != 1.0):      # ReLU'(0) = 1 first: it decides the shortcuts
            if (dtype, r) in table:
                continue
            known = [res for (d, _), res in table.items() if d == dtype]
            if runs_fn is None and known and r == 0.0:
                table[dtype, r] = same_as_run_a(known[0])
            elif runs_fn is None and known and not np.any(known[0]["zeros"]):
                table[dtype, r] = known[0]
            else:
                table[dtype, r] = run(np.dtype(dtype), r, steps=steps)
    return table


def _relu_prime_figure():
    """``plots.relu_prime_drift`` for one run pair. Returns (live, update)."""
    live = LiveFigure(2, (11, 3.6))
    ax_drift, ax_count = live.axes
    (drift_line,) = ax_drift.plot([], [], color="C0")
    (marks,) = ax_drift.plot([], [], "|", color="C0", ms=12)
    ax_drift.set_yscale("log")
    (count,) = ax_count.step([], [], where="post", color="C0")
    ax_drift.set(xlabel="step k", ylabel=r"$\|\theta_A - \theta_B\| / \|\theta_A\|$",
                 title="how far the two runs drift apart (| = backprop differed)")
    ax_count.set(xlabel="step k", ylabel="steps so far", title="steps at which backprop's output differed")
    legend_drift = ax_drift.legend([drift_line], [" "], fontsize=8)
    legend_count = ax_count.legend([count], [" "], fontsize=8)
    title = live.figure.suptitle(" ", fontsize=10)

    def update(res, name):
        k, drift, (mark_k, mark_y), counts = plots.relu_prime_drift_data(res)
        drift_line.set_data(k, drift)
        marks.set_data(mark_k, mark_y)
        count.set_data(k, counts)
        identical = np.all(np.isnan(drift))
        legend_drift.get_texts()[0].set_text(f"{name}: identical runs (drift 0)" if identical
                                             else f"{name}: final drift {res['drift'][-1]:.1e}")
        legend_count.get_texts()[0].set_text(f"{name}: {counts[-1]} steps")
        ax_drift.set_xlim(0, len(k) + 1)
        ax_count.set_xlim(0, len(k) + 1)
        ax_count.set_ylim(-0.05 * max(counts[-1], 1), 1.05 * max(counts[-1], 1))
        plots.fit_ylim(ax_drift, drift, log=True)
        title.set_text(f"backprop differed at {int(res['differs'].sum())} of {len(res['differs'])} steps "
                       f"({int(res['zeros'].sum())} exact zeros); test accuracy A {res['test_accuracy'][0]:.3f}, "
                       f"B {res['test_accuracy'][1]:.3f}")
        live.show()

    return live, update


def relu_prime_explorer(runs_fn=None, steps=300, computed=None):
    """Choose the precision and ReLU'(0) of run B; see how far it drifts from run A (ReLU'(0) = 0).

    Both runs train the same network on the same minibatches (``course.nonsmooth.relu_prime_runs``,
    or ``runs_fn(dtype, relu_prime_at_zero, steps=...)``). ``computed`` maps (dtype name, ReLU'(0) of B)
    to results already computed with the same ``steps``. With the reference, every setting is computed
    when the explorer starts (``relu_prime_table``: a few seconds, for the float16 runs), so that a move
    only redraws; with a ``runs_fn`` of your own, each setting is computed when first chosen.
    """
    if grading():
        return _skipped("relu_prime_explorer")
    import ipywidgets as w

    table = relu_prime_table(steps=steps, computed=computed) if runs_fn is None else dict(computed or {})

    @_cached
    def compute(dtype, r):
        if (dtype, r) not in table:
            table[dtype, r] = runs_fn(np.dtype(dtype), r, steps=steps)
        return table[dtype, r]

    controls = {
        "precision": w.ToggleButtons(options=list(RELU_PRIME_DTYPES), value="float16", description="precision"),
        "prime": w.SelectionSlider(options=list(RELU_PRIME_CHOICES), value=1.0, description="ReLU'(0) of B",
                                   style={"description_width": "initial"}),
    }
    c = controls
    live, update = _relu_prime_figure()
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            update(compute(c["precision"].value, float(c["prime"].value)),
                   f"{c['precision'].value}, ReLU'(0) = 0 vs {c['prime'].value:g}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["precision"], c["prime"]])], live, out, controls, compute)
