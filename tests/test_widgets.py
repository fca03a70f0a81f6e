"""The widget explorers of ``course.widgets`` in a plain Python process (Agg backend, no kernel).

Each explorer is built, its controls are moved, and what its figure then shows is compared with an
independent computation of the same runs; the figure and its lines are the same objects after a move
(updated in place, not redrawn from scratch), the shown PNG changes, and a setting seen before comes
from the cache. No timings here: ``benchmarks/slider_latency.py`` measures those.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course import adaptive, minibatch, plots, problems, relu_prime, schedules, widgets
from course.sgd import sgd_iterates


def png(ui):
    """The PNG bytes the explorer shows (its last child is the image widget)."""
    return bytes(ui.children[-1].value)


def lines(ui):
    """Every Line2D of the explorer's figure, in order."""
    return [line for ax in ui.figure.axes for line in ax.lines]


def assert_moved_in_place(ui, control, value):
    """Move ``control`` to ``value``: same figure, same lines, a new picture. Returns the lines."""
    figure, before, picture = ui.figure, lines(ui), png(ui)
    ui.controls[control].value = value
    assert ui.figure is figure and lines(ui) == before and all(a is b for a, b in zip(lines(ui), before))
    assert png(ui) != picture and png(ui).startswith(b"\x89PNG")
    return before


def adagrad_norm_run(grad, theta1, indices, eta=1.0, c0=0.0):
    """AdaGrad-Norm for R runs at once, as the adagrad notebook's solution writes it."""
    theta = np.asarray(theta1, dtype=float)
    c = np.full(theta.shape[:-1], float(c0))
    thetas, taus = [theta], []
    for k in range(1, len(indices) + 1):
        g = grad(theta, indices[k - 1])
        c = c + np.sum(g ** 2, axis=-1)
        tau = eta / np.sqrt(c)
        theta = theta - tau[..., None] * g
        thetas.append(theta)
        taus.append(tau)
    return np.stack(thetas), np.stack(taus)


# -- step sizes ----------------------------------------------------------------------------------

STEP_SIZES = {"sgd_iterates": sgd_iterates, "sample_grad": problems.sanity_check_sample_grad,
              "constant": schedules.constant, "geometric": schedules.geometric,
              "inverse_power": schedules.inverse_power}   # the step_sizes notebook's answers, by the reference


def sanity_check_runs(tau, runs=200, steps=300):
    """theta(k) of ``runs`` SGD runs on the sanity check from theta(1) = 3, step sizes ``tau(k)``, written
    out: theta(k+1) = theta(k) - tau(k) (theta(k) - a_j) with a_0 = 1, a_1 = -1 and the explorer's draws."""
    indices = np.random.default_rng(0).integers(0, 2, size=(steps, runs))
    thetas = [np.full(runs, 3.0)]
    for k in range(1, steps + 1):
        thetas.append(thetas[-1] - tau(k) * (thetas[-1] - np.array([1.0, -1.0])[indices[k - 1]]))
    return np.stack(thetas)


def test_step_size_explorer_shows_the_runs_of_the_chosen_schedule():
    ui = widgets.step_size_explorer(**STEP_SIZES)
    median, *_ = assert_moved_in_place(ui, "tau0", 0.1)
    assert_moved_in_place(ui, "kind", "constant: tau0")
    iterates = sanity_check_runs(lambda k: 0.1)
    np.testing.assert_allclose(median.get_ydata(), np.median(iterates, axis=1), rtol=1e-12)
    band = ui.figure.axes[0].collections[0]
    lo = np.quantile(iterates, 0.1, axis=1)
    assert np.isclose(band.get_paths()[0].vertices[:, 1].min(), lo.min())
    gap_line = ui.figure.axes[1].lines[0]
    np.testing.assert_allclose(gap_line.get_ydata(), np.mean(iterates ** 2, axis=1))
    assert "constant, tau0=0.1" in [t.get_text() for t in ui.figure.axes[0].get_legend().get_texts()]
    assert f"{iterates[-1].mean():+.3f}" in ui.figure.texts[0].get_text()


def test_step_size_explorer_caches_each_setting():
    ui = widgets.step_size_explorer(**STEP_SIZES)
    first = ui.figure.axes[0].lines[0].get_ydata().copy()
    ui.controls["runs"].value = 50
    assert len(ui.figure.axes[0].lines[0].get_ydata()) == len(first)
    assert not np.array_equal(ui.figure.axes[0].lines[0].get_ydata(), first)
    misses = ui.compute.cache_info().misses
    ui.controls["runs"].value = 200
    assert ui.compute.cache_info().misses == misses           # came from the cache ...
    np.testing.assert_array_equal(ui.figure.axes[0].lines[0].get_ydata(), first)   # ... identical


def test_step_size_explorer_runs_only_the_given_functions():
    """The notebook's own sgd_iterates, gradient and schedules: the explorer calls no solution of the course."""
    calls = []

    def counted(name, f):
        def wrapper(*args):
            calls.append(name)
            return f(*args)
        return wrapper

    ui = widgets.step_size_explorer(**{name: counted(name, f) for name, f in STEP_SIZES.items()})
    ui.controls["p"].value = 0.5                          # 1/k^0.5
    ui.controls["kind"].value = "geometric: tau0 * q^k"
    made = [name for name in calls if name in ("constant", "geometric", "inverse_power")]
    assert made == ["inverse_power", "inverse_power", "geometric"]
    assert calls.count("sgd_iterates") == 3
    s = ui.compute("geometric: tau0 * q^k", 0.5, 0.5, 200)
    np.testing.assert_allclose(s["median"], np.median(sanity_check_runs(lambda k: 0.5 * 0.5 ** k), axis=1),
                               rtol=1e-12)


# -- gradient descent vs SGD -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def least_squares_2d():
    return problems.least_squares_data(40, 2, np.random.default_rng(3))


def test_gd_vs_sgd_explorer_draws_the_runs_of_descent(least_squares_2d):
    X, y = least_squares_2d

    def grad(theta, idx):
        return minibatch.minibatch_gradient(theta, X, y, idx, unbiased=True)

    ui = widgets.gd_vs_sgd_explorer(X, y, minibatch.descent, grad)
    assert_moved_in_place(ui, "batch", 5)
    assert_moved_in_place(ui, "start", "close")
    ax_paths, ax_work = ui.figure.axes
    star = problems.least_squares_solution(X, y)
    lip = float(np.linalg.eigvalsh(X.T @ X).max())
    theta1 = star + 0.6 * 0.8 * np.array([0.8, 0.6])
    res = minibatch.gd_vs_sgd_runs(X, y, minibatch.descent, grad, 5, 0.1 / lip, theta1)
    sgd_paths, gd_path = ax_paths.lines[:5], ax_paths.lines[5]
    for line, (thetas, _) in zip(sgd_paths, res["SGD"]):
        np.testing.assert_array_equal(line.get_xdata(), thetas[:, 0])
        np.testing.assert_array_equal(line.get_ydata(), thetas[:, 1])
    np.testing.assert_array_equal(gd_path.get_ydata(), res["GD"][0][:, 1])
    thetas, work = res["GD"]
    gap = problems.least_squares_loss(thetas[-1], X, y) - problems.least_squares_loss(star, X, y)
    np.testing.assert_allclose(ax_work.lines[5].get_xdata(), np.maximum(work, 1) / len(y))
    assert np.isclose(ax_work.lines[5].get_ydata()[-1], gap, rtol=1e-9, atol=1e-12)
    assert ax_paths.get_xlim() == pytest.approx((star[0] - 0.6, star[0] + 0.6))
    visible = [c.get_visible() for c in ax_paths.collections]
    assert visible.count(True) == 1, "only the level sets of the chosen view are shown"
    assert ax_paths.get_legend().get_texts()[0].get_text() == "SGD, B = 5"


# -- AdaGrad ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def least_squares_3d():
    return problems.least_squares_data(30, 3, np.random.default_rng(4))


def test_adagrad_explorer_compares_adagrad_with_sgd(least_squares_3d):
    X, y = least_squares_3d
    calls = []

    def counted(*args):
        calls.append(args[3:])
        return adagrad_norm_run(*args)

    ui = widgets.adagrad_explorer(counted, X, y, tau_limit=adaptive.tau_limit)
    assert_moved_in_place(ui, "eta", 10.0)               # constant tau = 10 diverges on the sanity check
    ax_gap, ax_tau = ui.figure.axes
    gap_a, gap_s, taus, limit = adaptive.adagrad_runs("sanity check", adagrad_norm_run, 10.0, 1e-6)
    np.testing.assert_array_equal(ax_gap.lines[0].get_ydata(), gap_a)
    assert np.isnan(ax_gap.lines[1].get_ydata()[-1]) and not np.all(np.isnan(ax_gap.lines[1].get_ydata()))
    np.testing.assert_array_equal(ax_gap.lines[1].get_ydata(), np.where(np.abs(gap_s) < 1e100, gap_s, np.nan))
    assert ax_gap.get_legend().get_texts()[1].get_text().endswith("(diverged)")
    k = np.arange(1, len(taus) + 1)
    np.testing.assert_allclose(ax_tau.lines[0].get_ydata(), taus.mean(axis=1) * np.sqrt(k))
    assert ax_tau.lines[1].get_ydata()[0] == pytest.approx(limit)

    assert_moved_in_place(ui, "problem", "least squares")
    gap_a, _, _, _ = adaptive.adagrad_runs("least squares", adagrad_norm_run, 10.0, 1e-6, X=X, y=y, runs=10)
    np.testing.assert_array_equal(ax_gap.lines[0].get_ydata(), gap_a)
    assert ax_gap.get_title() == "least squares"

    ui.controls["c0"].value = 1.0
    ui.controls["c0"].value = 1e-6                        # seen before: no new run
    assert calls == [(1.0, 1e-6), (10.0, 1e-6), (10.0, 1e-6), (10.0, 1.0)]


def test_adagrad_explorer_draws_the_limit_of_the_given_tau_limit(least_squares_3d):
    """The notebook's own tau_limit(eta, G, batch_size) gives the dashed limit, with the problem's G."""
    X, y = least_squares_3d
    seen = []

    def my_limit(eta, G, batch_size):
        seen.append((eta, G.copy(), batch_size))
        return 0.125 * eta

    ui = widgets.adagrad_explorer(adagrad_norm_run, X, y, tau_limit=my_limit)
    assert ui.figure.axes[1].lines[1].get_ydata()[0] == pytest.approx(0.125)
    ui.controls["problem"].value = "least squares"
    star = np.linalg.lstsq(X, y, rcond=None)[0]
    eta, G, batch_size = seen[-1]
    np.testing.assert_allclose(G, (X @ star - y)[:, None] * X, atol=1e-12)   # per-sample gradients at theta*
    assert (eta, batch_size) == (1.0, 1)
    np.testing.assert_array_equal(seen[0][1], [[-1.0], [1.0]])


def test_adagrad_runs_gaps_are_the_mean_optimality_gaps(least_squares_3d):
    """Against 1/2 ||X theta - y||^2 - min E, computed directly for each run and step."""
    X, y = least_squares_3d
    gap_a, gap_s, _, _ = adaptive.adagrad_runs("least squares", adagrad_norm_run, 0.01, 1.0, X=X, y=y, runs=3, steps=50)
    np.testing.assert_array_equal(adaptive.constant_step_runs("least squares", 0.01, X=X, y=y, runs=3, steps=50),
                                  gap_s)
    indices = np.random.default_rng(0).integers(0, len(y), size=(50, 3, 1))
    grad = problems.least_squares_runs_grad(X, y)
    e_star = problems.least_squares_loss(problems.least_squares_solution(X, y), X, y)
    thetas, _ = adagrad_norm_run(grad, np.zeros((3, 3)), indices, 0.01, 1.0)
    direct = [np.mean([problems.least_squares_loss(t, X, y) - e_star for t in step]) for step in thetas]
    np.testing.assert_allclose(gap_a, direct, rtol=1e-9)
    thetas = sgd_iterates(grad, np.zeros((3, 3)), schedules.constant(0.01), indices)
    direct = [np.mean([problems.least_squares_loss(t, X, y) - e_star for t in step]) for step in thetas]
    np.testing.assert_allclose(gap_s, direct, rtol=1e-9)


# -- a fully connected network ---------------------------------------------------------------------

def fake_fit(calls):
    """A stand-in for the notebook's fit: histories that depend on every argument, counted in ``calls``;
    like fit's, the first epochs of a longer run are the shorter run (7 steps per epoch)."""
    def fit(batch_size, eta, sampler, epochs):
        calls.append((batch_size, eta, sampler, epochs))
        e = np.arange(epochs + 1)
        scale = eta / batch_size * (2.0 if sampler == "replacement" else 1.0)
        history = {"epoch": list(e), "train_loss": list(1.0 / (1 + scale * e)),
                   "train_acc": list(1 - 0.2 / (1 + e)), "test_acc": list(0.99 - 0.2 / (1 + scale * e)),
                   "step_loss": list(2.0 / (1 + scale * np.arange(1, 7 * epochs + 1) / 7))}
        return None, history
    return fit


def test_learning_curve_explorer_draws_now_and_the_previous_setting():
    calls = []
    ui = widgets.learning_curve_explorer(fake_fit(calls))
    E = ui.controls["epochs"].value                       # the explorer's default
    assert_moved_in_place(ui, "batch", 64)
    ax_loss, ax_acc = ui.figure.axes
    _, now = fake_fit([])(64, 2.0, "shuffle", E)
    _, before = fake_fit([])(25, 2.0, "shuffle", E)
    steps, step_loss, train_loss = plots.learning_curve_data(now)
    solid, thin, dashed, _ = ax_loss.lines
    np.testing.assert_array_equal(solid.get_ydata(), train_loss)
    np.testing.assert_array_equal(thin.get_xdata(), steps)
    np.testing.assert_array_equal(thin.get_ydata(), step_loss)
    np.testing.assert_array_equal(dashed.get_ydata(), plots.learning_curve_data(before)[2])
    np.testing.assert_array_equal(ax_acc.lines[0].get_ydata(), now["test_acc"])
    np.testing.assert_array_equal(ax_acc.lines[1].get_ydata(), now["train_acc"])
    assert [t.get_text() for t in ax_loss.get_legend().get_texts()] == \
        ["B=64, eta=2, shuffle", "previous: B=25, eta=2, shuffle"]
    assert f"{now['test_acc'][-1]:.3f}" in ui.figure.texts[0].get_text()

    assert_moved_in_place(ui, "epochs", 12)   # the same setting, longer: no "previous" curves
    _, longer = fake_fit([])(64, 2.0, "shuffle", 12)
    np.testing.assert_array_equal(solid.get_ydata(), plots.learning_curve_data(longer)[2])
    np.testing.assert_array_equal(thin.get_ydata(), plots.learning_curve_data(longer)[1])
    assert not dashed.get_visible() and len(ax_loss.get_legend().get_texts()) == 1

    ui.controls["epochs"].value = E                       # trained before: comes from the cache
    assert calls == [(25, 2.0, "shuffle", E), (64, 2.0, "shuffle", E), (64, 2.0, "shuffle", max(12, 2 * E))]


def test_learning_curve_explorer_trains_a_setting_again_only_for_more_epochs_than_trained():
    """Fewer epochs are the first epochs of the run trained; more train at least twice as many."""
    calls = []
    ui = widgets.learning_curve_explorer(fake_fit(calls))
    assert ui.controls["epochs"].value == 5
    for epochs in (3, 5, 8, 9, 14, 16, 17, 2, 30, 1):
        ui.controls["epochs"].value = epochs
        _, direct = fake_fit([])(25, 2.0, "shuffle", epochs)
        assert ui.compute(25, 2.0, "shuffle", epochs) == direct, epochs
    assert [c[3] for c in calls] == [5, 10, 20, 30]
    ui.controls["batch"].value = 64                        # a new setting: the epochs asked for
    assert calls[-1] == (64, 2.0, "shuffle", 1)


def test_first_epochs_of_the_notebooks_fit_are_its_shorter_run():
    """What the explorer relies on, for the mlp notebook's own fit (run here with its model answers)."""
    import nbformat
    from threadpoolctl import threadpool_limits

    from autograder.grading import REPO_SOURCE

    nb = nbformat.read(REPO_SOURCE / "mlp" / "mlp.ipynb", as_version=4)
    namespace = {}
    with threadpool_limits(limits=None):                  # the notebook limits BLAS to one thread: undone
        for cell in nb.cells:
            if cell.cell_type == "code" and ("def train_digits(" in cell.source or "import" in cell.source.split("\n")[0]
                                             or cell.metadata.get("nbgrader", {}).get("solution")
                                             or cell.source.startswith("def network_forward")):
                exec(cell.source, namespace)
    data = namespace["load_digits"]()
    namespace.update(zip(("X_train", "y_train", "X_test", "y_test"), (d[:300] for d in data)))
    for sampler in ("shuffle", "replacement"):
        _, longer = namespace["train_digits"](epochs=5, batch_size=32, sampler=sampler)
        _, shorter = namespace["train_digits"](epochs=2, batch_size=32, sampler=sampler)
        assert widgets.first_epochs(longer, 5, 2) == shorter


def test_learning_curve_explorer_hides_the_previous_curves_at_first():
    ui = widgets.learning_curve_explorer(fake_fit([]))
    ax_loss, _ = ui.figure.axes
    assert [line.get_visible() for line in ax_loss.lines] == [True, True, False, False]
    assert len(ax_loss.get_legend().get_texts()) == 1


# -- nonsmooth: does ReLU'(0) matter? -------------------------------------------------------------

STEPS = 40   # float16 meets its first exact zero within these steps


@pytest.fixture(scope="module")
def relu_table():
    return relu_prime.relu_prime_table(steps=STEPS)


def assert_same_result(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


def test_relu_prime_table_holds_every_setting(relu_table):
    assert set(relu_table) == {(d, r) for d in relu_prime.RELU_PRIME_DTYPES for r in relu_prime.RELU_PRIME_CHOICES}
    assert relu_table["float16", 1.0]["zeros"].sum() > 0, "float16 should meet an exact zero in these steps"


@pytest.mark.parametrize("dtype, r", [("float16", 0.0), ("float16", 0.5), ("float32", 0.0), ("float32", 0.25),
                                      ("float64", 0.75)])
def test_relu_prime_table_gives_what_a_run_gives(relu_table, dtype, r):
    """Including the settings the shortcuts fill in (ReLU'(0) = 0; no exact zero in float32/64)."""
    assert_same_result(relu_table[dtype, r], relu_prime.relu_prime_runs(np.dtype(dtype), r, steps=STEPS))


def test_relu_prime_explorer_shows_the_chosen_setting(relu_table):
    ui = widgets.relu_prime_explorer(steps=STEPS, computed=relu_table)
    assert_moved_in_place(ui, "prime", 0.5)
    res = relu_table["float16", 0.5]
    drift_line, marks = ui.figure.axes[0].lines
    _, drift, (mark_k, _), counts = plots.relu_prime_drift_data(res)
    np.testing.assert_array_equal(drift_line.get_ydata(), drift)
    np.testing.assert_array_equal(marks.get_xdata(), mark_k)
    np.testing.assert_array_equal(ui.figure.axes[1].lines[0].get_ydata(), counts)
    assert_moved_in_place(ui, "precision", "float32")
    assert "identical runs" in ui.figure.axes[0].get_legend().get_texts()[0].get_text()


def test_relu_prime_explorer_computes_each_setting_of_its_own_runs_fn_once():
    calls = []

    def runs_fn(dtype, r, steps):
        calls.append((dtype.name, r))
        differs = np.arange(steps) % 7 == int(4 * r)
        return {"differs": differs, "zeros": differs.astype(int), "drift": np.cumsum(differs) * r * 1e-3,
                "loss_a": np.ones(steps), "loss_b": np.ones(steps), "test_accuracy": (0.9, 0.9 - r / 10)}

    ui = widgets.relu_prime_explorer(runs_fn=runs_fn, steps=20)
    assert_moved_in_place(ui, "prime", 0.25)
    ui.controls["prime"].value = 1.0
    assert calls == [("float16", 1.0), ("float16", 0.25)]
    np.testing.assert_array_equal(ui.figure.axes[1].lines[0].get_ydata(), np.cumsum(np.arange(20) % 7 == 4))


def test_plots_functions_still_draw_new_figures():
    """The notebooks' own figures (``course.plots``) keep their behaviour next to the helpers added."""
    iterates = sanity_check_runs(lambda k: 0.1, runs=20, steps=30)
    fig = plots.regimes({"constant": iterates})
    _, _, mid, _ = plots.band_stats(iterates)
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), mid)
    res = relu_prime.relu_prime_runs(np.float32, 1.0, steps=5)
    fig = plots.relu_prime_drift({"float32": res})
    assert "identical runs" in fig.axes[0].get_legend().get_texts()[0].get_text()
    matplotlib.pyplot.close("all")


# -- what a move shows -----------------------------------------------------------------------------

def _pixels(data):
    import io

    import PIL.Image
    return np.asarray(PIL.Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def _gd_vs_sgd_ui():
    X, y = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30.0) % 5
    return widgets.gd_vs_sgd_explorer(X, y, descent_fn=minibatch.descent,
                                      grad_fn=lambda th, idx: minibatch.minibatch_gradient(th, X, y, idx, unbiased=True))


@pytest.mark.parametrize("make, moves", [
    (_gd_vs_sgd_ui, (("step", 0.05), ("start", "close"), ("batch", 5), ("start", "far"), ("step", 0.02))),
    (lambda: widgets.learning_curve_explorer(fake_fit([])),
     (("epochs", 9), ("epochs", 12), ("batch", 4), ("epochs", 5), ("sampler", "replacement"))),
    (lambda: widgets.step_size_explorer(**STEP_SIZES), (("tau0", 0.05), ("kind", "constant: tau0"), ("runs", 30))),
], ids=["gd_vs_sgd", "learning_curves", "step_sizes"])
def test_a_move_shows_what_a_full_drawing_of_the_figure_shows(make, moves):
    """The explorer draws only the curves, texts and legends on top of a kept background; the picture
    must be the one a full drawing of the figure gives, also after the view (and background) changed."""
    import io
    ui = make()
    for control, value in moves:
        ui.controls[control].value = value
        shown = _pixels(png(ui))
        animated = [a for a in ui.figure.findobj() if a.get_animated()]
        for a in animated:
            a.set_animated(False)
        buffer = io.BytesIO()
        ui.figure.savefig(buffer, format="png", dpi=ui.figure.dpi)
        for a in animated:
            a.set_animated(True)
        full = _pixels(buffer.getvalue())
        assert shown.shape == full.shape
        assert np.mean(np.abs(shown - full).max(axis=-1) > 32) < 0.002, (control, value)


def test_round_limits_end_log_axes_at_decades_and_keep_fixed_limits():
    from matplotlib.figure import Figure
    ax_log, ax_fixed = Figure().subplots(1, 2)
    ax_log.loglog([0.03, 40.0], [2e-5, 0.7])
    ax_fixed.plot([0.0, 1.0], [0.0, 1.0])
    ax_fixed.set_xlim(-0.37, 1.21)
    widgets.round_limits(ax_log)
    widgets.round_limits(ax_fixed)
    for (lo, hi), (data_lo, data_hi) in ((ax_log.get_xlim(), (0.03, 40.0)), (ax_log.get_ylim(), (2e-5, 0.7))):
        assert lo <= data_lo and hi >= data_hi and hi / lo <= 1000 * data_hi / data_lo
        assert np.log10([lo, hi]) == pytest.approx(np.round(np.log10([lo, hi])))    # whole decades
    assert ax_fixed.get_xlim() == pytest.approx((-0.37, 1.21))     # set by the explorer: kept


def test_keep_limits_keeps_the_shown_limits_while_the_new_ones_fill_at_least_half_of_them():
    from matplotlib.figure import Figure
    ax = Figure().subplots()
    ax.set_yscale("log")
    shown = ((0.0, 10.0), (1e-4, 1e2))                       # x: 10 wide; y: 6 decades
    for (xlim, ylim), kept in [
            (((1.0, 9.0), (1e-3, 1e1)), (True, True)),       # inside: 8 of 10, 4 of 6 decades
            (((2.0, 6.0), (1e-1, 1e0)), (False, False)),     # inside, but 4 of 10, 1 of 6 decades
            (((-1.0, 9.0), (1e-5, 1e1)), (False, False)),    # not inside
            (((0.0, 5.0), (1e-4, 1e-1)), (True, True))]:     # exactly half
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        widgets.keep_limits(ax, *shown)
        assert (ax.get_xlim() == pytest.approx(shown[0]), ax.get_ylim() == pytest.approx(shown[1])) == kept
        for got, new, keep in ((ax.get_xlim(), xlim, kept[0]), (ax.get_ylim(), ylim, kept[1])):
            assert keep or got == pytest.approx(new)


# -- drawing texts from kept glyphs ----------------------------------------------------------------

def _text_figure(canvas_class, moved=False):
    """A figure full of texts (ticks, a rotated mathtext label, a legend, a root: a mathtext rule) drawn
    by ``canvas_class``; ``moved``: the title elsewhere and in another colour, one legend entry renamed."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 3), dpi=80)
    canvas = canvas_class(fig)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [3, 1, 2], label="first run")
    ax.plot([1, 2, 3], [1, 2, 2.5], label=r"minimiser $\theta^*$")
    ax.set(xlabel="step k", ylabel=r"$\tau(k)\,\sqrt{k}$")
    ax.legend(["renamed" if moved else "first run", r"minimiser $\theta^*$"], fontsize=8)
    fig.suptitle("backprop differed at 12 of 300 steps", x=0.45 if moved else 0.5, color="red" if moved else "k")
    return canvas


def test_text_stamps_draw_the_pixels_matplotlib_draws_and_lay_out_only_new_texts(monkeypatch):
    """A TextStampCanvas draws a text it has drawn before (same string, font and place) from its kept
    glyphs: the pixels are plain Agg's, also with a text moved, renamed or in another colour, and a second
    drawing asks matplotlib's renderer only for the new texts and those with rules (the root)."""
    from matplotlib.backends import backend_agg
    stamped = _text_figure(widgets.TextStampCanvas)
    stamped.draw()
    drawn = []
    original = backend_agg.RendererAgg.draw_text
    monkeypatch.setattr(backend_agg.RendererAgg, "draw_text",
                        lambda self, gc, x, y, s, *args, **kwargs: drawn.append(s) or
                        original(self, gc, x, y, s, *args, **kwargs))
    stamped.draw()
    assert drawn == [r"$\tau(k)\,\sqrt{k}$"]                 # every other text came from its stamps
    for moved in (False, True):
        again = _text_figure(widgets.TextStampCanvas, moved)
        again.renderer = stamped.get_renderer()               # the stamps of the first drawings
        again._lastKey = stamped._lastKey
        plain = _text_figure(backend_agg.FigureCanvasAgg, moved)
        plain.draw()
        drawn.clear()
        again.draw()
        np.testing.assert_array_equal(np.asarray(again.buffer_rgba()), np.asarray(plain.buffer_rgba()))
        assert ("backprop differed at 12 of 300 steps" in drawn) == moved   # moved: drawn anew
        assert ("renamed" in drawn) == moved and "first run" not in drawn and "step k" not in drawn
