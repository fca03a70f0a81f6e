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
