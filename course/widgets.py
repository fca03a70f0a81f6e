"""Interactive explorers (ipywidgets). None of them runs while nbgrader grades a notebook."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from . import plots, problems, schedules, sgd


def grading() -> bool:
    """True while nbgrader executes the notebook (it sets NBGRADER_EXECUTION): skip widgets then."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _skipped(name):
    print(f"{name}: interactive explorer skipped while the notebook is being graded.")


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


def step_size_explorer(sgd_fn=None):
    """Sliders for the schedule, tau0 and q/alpha; shows many SGD runs on the sanity check as a band."""
    if grading():
        return _skipped("step_size_explorer")
    import ipywidgets as w

    kind = w.Dropdown(options=list(SCHEDULES), value="inverse power: tau0 / k^alpha", description="schedule")
    tau0 = w.FloatLogSlider(value=0.5, base=10, min=-2, max=0.3, step=0.05, description="tau0")
    p = w.FloatSlider(value=1.0, min=0.1, max=1.0, step=0.05, description="q or alpha")
    runs = w.IntSlider(value=200, min=10, max=1000, step=10, description="runs")
    out = w.Output()

    def redraw(*_):
        iterates = step_size_runs(kind.value, tau0.value, p.value, runs=runs.value, sgd_fn=sgd_fn)
        with out:
            out.clear_output(wait=True)
            fig = plots.regimes({f"{kind.value.split(':')[0]}, tau0={tau0.value:.3g}": iterates})
            final = iterates[-1]
            fig.suptitle(f"after {len(iterates) - 1} steps: mean theta = {final.mean():+.3f}, "
                         f"spread (std) = {final.std():.3f}", fontsize=10)
            plt.show()

    for control in (kind, tau0, p, runs):
        control.observe(redraw, names="value")
    ui = w.VBox([w.HBox([kind, runs]), w.HBox([tau0, p]), out])
    redraw()
    return ui


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

    batch = w.SelectionSlider(options=sorted({1, 2, 5, 10, 20, n // 2, n}), value=1, description="batch B")
    step = w.FloatLogSlider(value=0.1, base=10, min=-3, max=0.3, step=0.05, description="tau * L")
    start = w.ToggleButtons(options=["far", "close"], value="far", description="start")
    out = w.Output()

    def redraw(*_):
        radius = 6.0 if start.value == "far" else 0.6
        theta1 = star + radius * 0.8 * np.array([0.8, 0.6])
        tau = step.value / lip
        res = gd_vs_sgd_runs(X, y, descent_fn, grad_fn, batch.value, tau, theta1)
        with out:
            out.clear_output(wait=True)
            fig, (ax_p, ax_w) = plt.subplots(1, 2, figsize=(11, 4.3))
            plots.paths_on_contours(ax_p, loss, {f"SGD, B = {batch.value}": [t for t, _ in res["SGD"]],
                                                 "GD": res["GD"][0]}, star, radius,
                                    title=f"tau = {tau:.3g} (= {step.value:.3g} / L), start {start.value}")
            for i, (thetas, work) in enumerate(res["SGD"]):
                ax_w.loglog(np.maximum(work, 1) / n, gap(thetas), color="C0", alpha=0.5,
                            label=f"SGD, B = {batch.value}" if i == 0 else None)
            thetas, work = res["GD"]
            ax_w.loglog(np.maximum(work, 1) / n, gap(thetas), "o-", color="C1", ms=3, label="GD")
            ax_w.set(xlabel="summand gradients evaluated / N  (epochs)", ylabel=r"$E(\theta) - \min E$",
                     title="progress per unit of work")
            ax_w.legend(fontsize=8)
            fig.tight_layout()
            plt.show()

    for control in (batch, step, start):
        control.observe(redraw, names="value")
    ui = w.VBox([w.HBox([batch, step]), start, out])
    redraw()
    return ui


# -- AdaGrad (notebooks/source/adagrad) ---------------------------------------------------------------

def adagrad_runs(problem, adagrad_fn, eta, c0, *, X=None, y=None, runs=100, steps=2000, batch_size=1,
                 seed=0):
    """AdaGrad-Norm (``adagrad_fn(grad, theta1, indices, eta, c0) -> (thetas, taus)``) and constant-step
    SGD with tau = eta, on the same draws of the index sets.

    ``problem`` is "sanity check" (theta(1) = 3, R runs of shape (R, 1)) or "least squares" (on X, y,
    from theta(1) = 0, minibatches of ``batch_size``). Returns (gap_adagrad, gap_sgd, taus, limit):
    the mean optimality gaps over the runs (steps+1,), AdaGrad's taus (steps, runs) and the predicted
    limit of tau(k) sqrt(k)."""
    from . import adaptive

    rng = np.random.default_rng(seed)
    if problem == "sanity check":
        grad = problems.sanity_check_runs_grad
        theta1, indices = np.full((runs, 1), 3.0), rng.integers(0, 2, size=(steps, runs))

        def gap(thetas):
            return np.mean(thetas[..., 0] ** 2, axis=-1)

        limit = adaptive.tau_limit(eta, np.array([[-1.0], [1.0]]), 1)
    else:
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        grad = problems.least_squares_runs_grad(X, y)
        theta1 = np.zeros((runs, X.shape[1]))
        indices = rng.integers(0, len(y), size=(steps, runs, batch_size))
        star = problems.least_squares_solution(X, y)
        e_star = problems.least_squares_loss(star, X, y)

        def gap(thetas):
            return np.mean(0.5 * np.sum((thetas @ X.T - y) ** 2, axis=-1), axis=-1) - e_star

        limit = adaptive.tau_limit(eta, (X @ star - y)[:, None] * X, batch_size)
    with np.errstate(all="ignore"):
        thetas, taus = adagrad_fn(grad, theta1, indices, eta, c0)
        sgd_thetas = sgd.sgd_iterates(grad, theta1, schedules.constant(eta), indices)
        return gap(thetas), gap(sgd_thetas), np.asarray(taus), limit


def adagrad_explorer(adagrad_fn, X, y):
    """Sliders over eta and c(0) (and the problem): AdaGrad-Norm against constant-step SGD with tau = eta.
    Left: the mean optimality gap over the runs. Right: tau(k) sqrt(k) and its predicted limit."""
    if grading():
        return _skipped("adagrad_explorer")
    import ipywidgets as w

    problem = w.ToggleButtons(options=["sanity check", "least squares"], value="sanity check",
                              description="problem")
    eta = w.FloatLogSlider(value=1.0, base=10, min=-3, max=3, step=0.1, description="eta")
    c0 = w.FloatLogSlider(value=1e-6, base=10, min=-6, max=6, step=0.25, description="c(0)")
    out = w.Output()

    def redraw(*_):
        runs = 100 if problem.value == "sanity check" else 10
        gap_a, gap_s, taus, limit = adagrad_runs(problem.value, adagrad_fn, eta.value, c0.value, X=X, y=y,
                                                 runs=runs)
        k = np.arange(1, len(taus) + 1)
        with out:
            out.clear_output(wait=True)
            fig, (ax_g, ax_t) = plt.subplots(1, 2, figsize=(11, 4))
            ax_g.loglog(np.arange(1, len(gap_a) + 1), gap_a, label=f"AdaGrad-Norm, eta = {eta.value:.3g}")
            diverged = ~(np.abs(gap_s) < 1e100)        # inf, nan or on its way there
            ax_g.loglog(np.arange(1, len(gap_s) + 1), np.where(diverged, np.nan, gap_s),
                        label=f"SGD, constant tau = {eta.value:.3g}" + (" (diverged)" if diverged[-1] else ""))
            ax_g.set(xlabel="step k", ylabel=r"mean of $E(\theta(k)) - \min E$", title=problem.value)
            ax_g.legend(fontsize=8)
            plots.tau_sqrt_k(k, {"AdaGrad-Norm (mean over runs)": np.mean(taus.reshape(len(k), -1), axis=1)
                                 * np.sqrt(k)}, {"AdaGrad-Norm (mean over runs)": limit}, ax=ax_t)
            fig.suptitle(f"c(0) = {c0.value:.3g}: first step tau(1) = eta / sqrt(c(0) + ||g_1||^2)",
                         fontsize=10)
            fig.tight_layout()
            plt.show()

    for control in (problem, eta, c0):
        control.observe(redraw, names="value")
    ui = w.VBox([problem, w.HBox([eta, c0]), out])
    redraw()
    return ui


# -- a fully connected network (notebooks/source/mlp) ------------------------------------------------

def learning_curve_explorer(fit):
    """Sliders for the batch size, AdaGrad's scale eta, the sampler and the number of epochs; each
    change trains a fresh network with ``fit(batch_size=, eta=, sampler=, epochs=) -> (params, history)``
    and draws its learning curves next to those of the previous setting (dashed)."""
    if grading():
        return _skipped("learning_curve_explorer")
    import ipywidgets as w

    style = {"description_width": "initial"}
    batch = w.SelectionSlider(options=[4, 8, 16, 25, 32, 64, 128, 256], value=25, description="batch size",
                              continuous_update=False, style=style)
    eta = w.FloatLogSlider(value=2.0, base=10, min=-2, max=1.5, step=0.1, description="AdaGrad eta",
                           continuous_update=False, style=style)
    sampler = w.ToggleButtons(options=["shuffle", "replacement"], value="shuffle", description="minibatches")
    epochs = w.IntSlider(value=10, min=1, max=30, description="epochs", continuous_update=False, style=style)
    out = w.Output()
    previous = {}

    def redraw(*_):
        setting = f"B={batch.value}, eta={eta.value:.3g}, {sampler.value}"
        with out:
            out.clear_output(wait=True)
            print(f"training with {setting} ...")
            _, history = fit(batch_size=batch.value, eta=eta.value, sampler=sampler.value, epochs=epochs.value)
            out.clear_output(wait=True)
            runs = {setting: history}
            runs.update({f"previous: {k}": v for k, v in previous.items() if k != setting})
            plots.learning_curves(runs, title=f"{setting}: test accuracy {history['test_acc'][-1]:.3f}",
                                  styles={k: "--" for k in runs if k.startswith("previous")})
            plt.show()
            # inside the block: the Output widget shows and swallows an error of fit (an unanswered
            # exercise), and then there is no history to remember
            previous.clear()
            previous[setting] = history

    for control in (batch, eta, sampler, epochs):
        control.observe(redraw, names="value")
    ui = w.VBox([w.HBox([batch, eta]), w.HBox([sampler, epochs]), out])
    redraw()
    return ui


RELU_PRIME_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)


def relu_prime_explorer(runs_fn=None, steps=300, computed=None):
    """Choose the precision and ReLU'(0) of run B; see how far it drifts from run A (ReLU'(0) = 0).

    Both runs train the same network on the same minibatches (``course.nonsmooth.relu_prime_runs``,
    or ``runs_fn(dtype, relu_prime_at_zero, steps=...)``); each setting is computed once and remembered.
    ``computed`` maps (dtype name, ReLU'(0) of B) to results already computed with the same ``steps``.
    """
    if grading():
        return _skipped("relu_prime_explorer")
    import ipywidgets as w

    from . import nonsmooth

    cache = dict(computed or {})

    def run(dtype, r):
        if (dtype, r) not in cache:
            cache[dtype, r] = (runs_fn or nonsmooth.relu_prime_runs)(np.dtype(dtype), r, steps=steps)
        return cache[dtype, r]

    precision = w.ToggleButtons(options=["float16", "float32", "float64"], value="float16",
                                description="precision")
    prime = w.SelectionSlider(options=list(RELU_PRIME_CHOICES), value=1.0, description="ReLU'(0) of B",
                              style={"description_width": "initial"})
    out = w.Output()

    def redraw(*_):
        res = run(precision.value, float(prime.value))
        with out:
            out.clear_output(wait=True)
            fig = plots.relu_prime_drift({f"{precision.value}, ReLU'(0) = 0 vs {prime.value:g}": res})
            fig.suptitle(f"backprop differed at {int(res['differs'].sum())} of {len(res['differs'])} steps "
                         f"({int(res['zeros'].sum())} exact zeros); test accuracy A {res['test_accuracy'][0]:.3f}, "
                         f"B {res['test_accuracy'][1]:.3f}", fontsize=10)
            fig.tight_layout()
            plt.show()

    precision.observe(redraw, names="value")
    prime.observe(redraw, names="value")
    ui = w.VBox([w.HBox([precision, prime]), out])
    redraw()
    return ui
