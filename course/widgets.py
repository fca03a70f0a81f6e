"""Interactive explorers (ipywidgets). Their cells are tagged ``experiment``: grading does not run them.

Each explorer answers a slider move within about a tenth of a second. How:

- its figure is drawn once (``LiveFigure``, one for every explorer, built by a figure builder of
  ``course.plots``); a move only gives the lines already there new data (``Line2D.set_data`` and
  friends) and new limits and labels: no new axes, no new layout;
- what a move does not change is not drawn again: the axes, ticks, tick labels, titles and contours are
  rendered once per set of axis limits and kept as pixels (matplotlib's blitting), and a move draws only
  the curves, legends and the figure's title on top (ticks and labels are most of a figure's drawing
  time); log axes end at whole decades and linear axes fitted to the data at round numbers, and the
  limits shown stay while the new ones fit inside and fill at least half of them (``keep_limits``), so
  the limits, and with them the kept pixels, rarely change from one move to the next;
- a text drawn before (same string, font and place: tick labels, legends, titles) is drawn from the
  glyph images kept the first time (``TextStampRenderer``): matplotlib 3.11 lays out and renders every
  glyph anew at each drawing, which was most of a move's rendering;
- the figure is shown as PNG bytes (RGB: the figure is opaque) in an ``ipywidgets.Image``, at a modest
  resolution and with a fast PNG compression (clearing the axes, ``tight_layout`` and the inline backend's tight bounding box
  each cost a whole extra rendering per move);
- every setting is computed once (``functools.lru_cache``): going back to a setting only redraws,
  and what does not depend on a control is not recomputed when it moves (the learning curves of fewer
  epochs are the first epochs of a longer run);
- every computation is the notebook's own: an explorer takes the student's functions as arguments
  and calls no solution of the course library (an assignment's notebook runs with a student edition in
  which its own solutions are stubs).

Each explorer returns its widget box with three extra attributes, for the curious and for the tests:
``controls`` (name -> widget), ``figure`` (the matplotlib figure it updates) and ``compute`` (the cached
function behind the figure).
"""

from __future__ import annotations

import functools
import io
import warnings

import matplotlib
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import Collection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.layout_engine import TightLayoutEngine

from . import adaptive, minibatch, plots, problems, relu_prime, sgd

DPI = 80                  # pixels per inch of the PNG an explorer shows (an 11-inch figure: 880 pixels)
PNG_OPTIONS = {"pil_kwargs": {"compress_level": 1}}   # fast zlib level: the PNG only goes to the browser
CACHE_SIZE = 256          # settings remembered per explorer
LEGEND_LOCATIONS = {(v, h): "center" if v == h == "center" else f"{v} {h}"    # matplotlib's names
                    for v in ("upper", "center", "lower") for h in ("left", "center", "right")}


class TextStampRenderer(RendererAgg):
    """Matplotlib's Agg renderer, but a text it has drawn before, in the same font at the same place, is
    drawn again from the glyph images it kept (its stamps): matplotlib lays a text out and renders every
    glyph anew at each drawing, and texts (tick labels, legends, titles) are most of an explorer's drawing
    time. Colour, transparency and clipping come from the drawing at hand, as before, so the pixels are
    the ones matplotlib draws. A text that is not only glyphs (mathtext's rules: a fraction bar, a root)
    is drawn as usual every time."""

    STAMPS = 4096           # texts kept (first kept, first forgotten)

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self.stamps = {}

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        key = (s, ismath, hash(prop), angle, x, y, gc.get_antialiased(), matplotlib.rcParams["text.hinting"],
               matplotlib.rcParams["text.hinting_factor"], _shaping(mtext))
        stamp = self.stamps.get(key)
        if stamp is not None:
            for image, left, top, image_angle in stamp:
                self._renderer.draw_text_image(image, left, top, image_angle, gc)
            return
        agg, recorder = self._renderer, GlyphRecorder(self._renderer)
        self._renderer = recorder               # the glyphs matplotlib draws go through the recorder
        try:
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        finally:
            self._renderer = agg
        if recorder.glyphs is not None:
            self.stamps[key] = recorder.glyphs
            if len(self.stamps) > self.STAMPS:
                self.stamps.pop(next(iter(self.stamps)))


def _shaping(mtext):
    """What else shapes the glyphs of the Text ``mtext``: its font features and language (matplotlib >= 3.10)."""
    features = getattr(mtext, "get_fontfeatures", lambda: None)()
    return (tuple(features) if features else None), getattr(mtext, "get_language", lambda: None)()


class GlyphRecorder:
    """Stands for the Agg core renderer ``agg`` while a text is drawn: draws what it is given and keeps a
    copy of each glyph image, ``glyphs`` [(image, x, y, angle)], or None once anything else is drawn."""

    def __init__(self, agg):
        self.agg, self.glyphs = agg, []

    def draw_text_image(self, image, x, y, angle, gc):
        self.agg.draw_text_image(image, x, y, angle, gc)
        if self.glyphs is not None:
            try:
                self.glyphs.append((np.array(image, dtype=np.uint8), x, y, angle))
            except (TypeError, ValueError):      # not an array of coverage values: draw it anew each time
                self.glyphs = None

    def __getattr__(self, name):                # a rule (draw_path) or anything else: not only glyphs
        self.glyphs = None
        return getattr(self.agg, name)


class TextStampCanvas(FigureCanvasAgg):
    """A FigureCanvasAgg whose renderer is a ``TextStampRenderer``."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        if getattr(self, "renderer", None) is None or self._lastKey != (w, h, self.figure.dpi):
            self.renderer = TextStampRenderer(w, h, self.figure.dpi)
            self._lastKey = w, h, self.figure.dpi
        return self.renderer


class LiveFigure:
    """A matplotlib figure drawn once and then updated in place, shown as a PNG in an ipywidgets.Image:
    the one live figure of every explorer.

    ``build(axes)`` is one of ``course.plots``' figure builders (``regimes_figure``, ...): it draws the
    empty figure on the subplots (one row of ``ncols``) and returns its ``draw(*args)``, which gives the
    artists new data. ``update(*args, title=...)`` draws, sets the figure's title (if ``title`` is given)
    and shows the result: the first time it lays the figure out (``tight_layout``), every time it renders
    the PNG. The curves, legends, bands and the figure's title (``moving``) are drawn on every update;
    everything else (axes, ticks, labels, titles, contours: the background) only when it has changed, which
    ``png`` tells by the axes' limits, scales, labels, titles and the visibility of what they hold.
    """

    BACKGROUNDS = 8       # backgrounds kept (e.g. both views of an explorer that toggles between two)

    def __init__(self, build, figsize=(11, 3.8), ncols=2, dpi=DPI):
        import ipywidgets as w

        self.figure = Figure(figsize=figsize, dpi=dpi)   # not pyplot's: the inline backend leaves it alone
        self.canvas = TextStampCanvas(self.figure)
        self.axes = self.figure.subplots(1, ncols)
        self.draw = build(self.axes)
        self.title = None
        self.image = w.Image(format="png")
        self._laid_out = False
        self._backgrounds = {}
        self._shown_limits = None     # the axes' limits shown last, for keep_limits
        self._fixed_legends = set()

    def update(self, *args, title=None):
        """``draw(*args)``, the figure's title ``title`` (None: none), and show the result."""
        self.draw(*args)
        if title is not None:
            if self.title is None:
                self.title = self.figure.suptitle(title, fontsize=10)
            self.title.set_text(title)
        self.show()

    def moving(self):
        """The artists a move may change, in drawing order: every line, legend, text (but the axes' titles)
        and collection (a band) of the axes but contours, then the figure's texts (the suptitle, which says
        what changes with every move; the axes' titles rarely change, and are part of the background)."""
        found = []
        for ax in self.figure.axes:
            children = [a for a in ax.get_children()
                        if isinstance(a, (Line2D, Legend)) or a in ax.texts or
                        (isinstance(a, Collection) and not isinstance(a, ContourSet))]
            found += sorted(children, key=lambda a: a.get_zorder())
        return found + list(self.figure.texts)

    def _background_key(self):
        """What the background's pixels depend on (besides the artists ``moving`` draws on top): the axes'
        limits, scales, labels, titles and the visibility of the axes and of their contours."""
        key = []
        for ax in self.figure.axes:
            key.append((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(), ax.get_xlabel(),
                        ax.get_ylabel(), tuple(ax.get_title(loc) for loc in ("left", "center", "right")),
                        ax.get_visible(),
                        tuple(a.get_visible() for a in ax.get_children() if isinstance(a, ContourSet))))
        return tuple(key)

    def png(self) -> bytes:
        """The figure as PNG bytes, as it looks now."""
        moving = self.moving()
        for artist in moving:
            artist.set_animated(True)            # left out of canvas.draw(): drawn on top of the background
        key = self._background_key()
        background = self._backgrounds.get(key)
        if background is None:
            self.canvas.draw()
            background = self._backgrounds[key] = self.canvas.copy_from_bbox(self.figure.bbox)
            while len(self._backgrounds) > self.BACKGROUNDS:
                self._backgrounds.pop(next(iter(self._backgrounds)))
        else:
            self.canvas.restore_region(background)
        for artist in moving:
            if artist.get_visible():
                self.figure.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        buffer = io.BytesIO()
        PIL.Image.frombytes("RGB", (width, height), self.canvas.buffer_rgba(), "raw", "RGBX") \
            .save(buffer, format="png", **PNG_OPTIONS["pil_kwargs"])
        return buffer.getvalue()

    def show(self):
        """Render the figure into the image widget (laying it out the first time only)."""
        for ax, shown in zip(self.axes, self._shown_limits or [None] * len(self.axes)):
            round_limits(ax)
            if shown is not None:
                keep_limits(ax, *shown)
            plots.thin_log_ticks(ax)
        self._shown_limits = [(ax.get_xlim(), ax.get_ylim()) for ax in self.axes]
        if not self._laid_out:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # "tight_layout not applied": keep the defaults
                try:                                     # like tight_layout(), but with no layout engine
                    TightLayoutEngine().execute(self.figure)     # left behind: it would draw twice per PNG
                except ValueError:                       # e.g. a log axis with nothing on it yet
                    pass
            self._laid_out = True
        self._fix_legends()
        self.image.value = self.png()

    def _fix_legends(self):
        """Fix each new legend at the named location nearest to where it is: a legend at the default
        location "best" searches the curves for a free place at every drawing (the most expensive part of
        a move)."""
        renderer = self.canvas.get_renderer()
        for ax in self.figure.axes:
            legend = ax.get_legend()
            if legend is None or legend in self._fixed_legends:
                continue
            box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
            x, y = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            legend.set_loc(LEGEND_LOCATIONS["upper" if y > 2 / 3 else "lower" if y < 1 / 3 else "center",
                                            "right" if x > 2 / 3 else "left" if x < 1 / 3 else "center"])
            self._fixed_legends.add(legend)


def keep_limits(ax, xlim, ylim, fill=0.5):
    """Go back to the limits ``xlim``, ``ylim`` shown before on an axis of ``ax`` whose new limits lie
    within them and span at least ``fill`` of them (in decades on a log axis): the axes, and with them
    the kept background, stay as they were while the curves move inside them."""
    for axis, get, set_, auto, (lo0, hi0) in ((ax.xaxis, ax.get_xlim, ax.set_xlim, ax.get_autoscalex_on(), xlim),
                                              (ax.yaxis, ax.get_ylim, ax.set_ylim, ax.get_autoscaley_on(), ylim)):
        lo, hi = get()
        span = np.log10 if axis.get_scale() == "log" else (lambda v: v)
        with np.errstate(all="ignore"):
            inside = min(lo0, hi0) <= min(lo, hi) and max(lo, hi) <= max(lo0, hi0)
            if inside and (lo < hi) == (lo0 < hi0) and \
                    abs(span(hi) - span(lo)) >= fill * abs(span(hi0) - span(lo0)):
                set_(lo0, hi0, auto=auto)


def round_limits(ax):
    """Widen the limits of ``ax`` to whole decades on a log axis and, on an autoscaled linear axis, to
    round numbers (its tick locator's), so that nearby settings share limits (and a background)."""
    for axis, get, set_, auto in ((ax.xaxis, ax.get_xlim, ax.set_xlim, ax.get_autoscalex_on()),
                                  (ax.yaxis, ax.get_ylim, ax.set_ylim, ax.get_autoscaley_on())):
        lo, hi = get()
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo == hi:
            continue
        flip = lo > hi
        lo, hi = min(lo, hi), max(lo, hi)
        if axis.get_scale() == "log":
            if lo <= 0:
                continue
            new = 10.0 ** np.floor(np.log10(lo) + 1e-9), 10.0 ** np.ceil(np.log10(hi) - 1e-9)
        elif auto:
            new = plots.round_numbers(axis, lo, hi)
        else:
            continue
        if new != (lo, hi):
            set_(new[::-1] if flip else new, auto=auto)


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

SCHEDULE_KINDS = ("constant: tau0", "geometric: tau0 * q^k", "inverse power: tau0 / k^alpha")


def step_size_schedules(constant, geometric, inverse_power):
    """The explorer's schedules, kind of ``SCHEDULE_KINDS`` -> (tau0, p) -> schedule, made with the given
    schedule factories (the step_sizes notebook's ``constant(tau)``, ``geometric(tau0, q)`` and
    ``inverse_power(tau0, alpha)``); p is q (at most 0.99) or alpha."""
    return dict(zip(SCHEDULE_KINDS, (lambda tau0, p: constant(tau0), lambda tau0, p: geometric(tau0, min(p, 0.99)),
                                     lambda tau0, p: inverse_power(tau0, p))))


def step_size_runs(schedule, sgd_iterates, sample_grad, runs=200, steps=300, theta1=3.0, seed=0):
    """Iterates (steps+1, runs) of SGD on the sanity-check problem: ``sgd_iterates(sample_grad, theta1,
    schedule, indices)`` with ``sample_grad(theta, j)`` the gradient of its summand j."""
    indices = sgd.sample_indices(2, steps, np.random.default_rng(seed), runs=runs)
    return sgd_iterates(sample_grad, np.full(runs, theta1), schedule, indices)


def step_size_summary(iterates):
    """What the step-size explorer draws for the runs ``iterates`` (steps+1, runs): k, the 10%, 50% and
    90% quantiles of theta(k) over the runs, the mean gap E(theta(k)) - min E = mean theta(k)^2, and the
    final mean and std."""
    final = iterates[-1]
    return {**plots.regime_stats(iterates), "mean": float(final.mean()), "std": float(final.std())}


def step_size_explorer(*, sgd_iterates, sample_grad, constant, geometric, inverse_power):
    """Sliders for the schedule, tau0 and q/alpha; shows many SGD runs on the sanity check as a band.

    Every run is the notebook's own: ``sgd_iterates(grad, theta1, schedule, indices)`` with the sanity
    check's ``sample_grad(theta, j)`` and the schedules ``constant``, ``geometric``, ``inverse_power``."""
    import ipywidgets as w

    controls = {
        "kind": w.Dropdown(options=SCHEDULE_KINDS, value="inverse power: tau0 / k^alpha", description="schedule"),
        "tau0": w.FloatLogSlider(value=0.5, base=10, min=-2, max=0.3, step=0.05, description="tau0"),
        "p": w.FloatSlider(value=1.0, min=0.1, max=1.0, step=0.05, description="q or alpha"),
        "runs": w.IntSlider(value=200, min=10, max=1000, step=10, description="runs"),
    }
    c = controls
    schedules_by_kind = step_size_schedules(constant, geometric, inverse_power)

    @_cached
    def compute(kind, tau0, p, runs):
        return step_size_summary(step_size_runs(schedules_by_kind[kind](tau0, p), sgd_iterates, sample_grad,
                                                runs=runs))

    live = LiveFigure(plots.regimes_figure, (11, 3.8))
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            s = compute(c["kind"].value, c["tau0"].value, c["p"].value, c["runs"].value)
            live.update({f"{c['kind'].value.split(':')[0]}, tau0={c['tau0'].value:.3g}": s},
                        title=f"after {len(s['k']) - 1} steps: mean theta = {s['mean']:+.3f}, "
                              f"spread (std) = {s['std']:.3f}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["kind"], c["runs"]]), w.HBox([c["tau0"], c["p"]])], live, out,
                         controls, compute)


# -- gradient descent vs SGD (notebooks/source/gd_vs_sgd) -------------------------------------------

GD_VS_SGD_RADIUS = {"far": 6.0, "close": 0.6}   # half-width of the view around the minimiser


def gd_vs_sgd_start(star, start):
    """theta(1) of the explorer: ``start`` "far" from or "close" to the minimiser ``star``."""
    return np.asarray(star) + GD_VS_SGD_RADIUS[start] * 0.8 * np.array([0.8, 0.6])


def gd_vs_sgd_explorer(X, y, descent_fn, grad_fn):
    """Sliders for the batch size B and the step size; a 2-D least-squares problem (X has 2 columns)
    started far from or close to its minimiser. Left: GD and SGD paths on the level sets of E. Right:
    E(theta) - min E against the number of summand gradients evaluated."""
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
        res = minibatch.gd_vs_sgd_runs(X, y, descent_fn, grad_fn, batch_size, step / lip, gd_vs_sgd_start(star, start))
        return {"GD": curve(*res["GD"]), "SGD": [curve(*r) for r in res["SGD"]]}

    controls = {
        "batch": w.SelectionSlider(options=sorted({1, 2, 5, 10, 20, n // 2, n}), value=1, description="batch B"),
        "step": w.FloatLogSlider(value=0.1, base=10, min=-3, max=0.3, step=0.05, description="tau * L"),
        "start": w.ToggleButtons(options=["far", "close"], value="far", description="start"),
    }
    c = controls
    compute = _cached(summary)
    live = LiveFigure(lambda axes: plots.gd_vs_sgd_figure(axes, loss, star, GD_VS_SGD_RADIUS, runs=5), (11, 4.3))
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            batch, step, start = c["batch"].value, c["step"].value, c["start"].value
            live.update(compute(batch, step, start), start, f"SGD, B = {batch}",
                        title=f"tau = {step / lip:.3g} (= {step:.3g} / L), start {start}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["batch"], c["step"]]), c["start"]], live, out, controls, compute)


# -- AdaGrad (notebooks/source/adagrad) ---------------------------------------------------------------

ADAGRAD_RUNS = {"sanity check": 100, "least squares": 10}   # runs the explorer averages over


def adagrad_explorer(adagrad_fn, X, y, tau_limit):
    """Sliders over eta and c(0) (and the problem): AdaGrad-Norm against constant-step SGD with tau = eta.
    Left: the mean optimality gap over the runs. Right: tau(k) sqrt(k) and its predicted limit.

    The notebook's own ``adagrad_fn(grad, theta1, indices, eta, c0) -> (thetas, taus)`` and
    ``tau_limit(eta, G, batch_size)`` make the AdaGrad-Norm curves and the limit."""
    import ipywidgets as w

    @_cached
    def sgd_gap(problem, eta):           # does not depend on c(0): moving c(0) reuses it
        return adaptive.constant_step_runs(problem, eta, X=X, y=y, runs=ADAGRAD_RUNS[problem])

    def summary(problem, eta, c0):
        gap_a, taus, limit = adaptive.adagrad_only_runs(problem, adagrad_fn, eta, c0, X=X, y=y,
                                                        runs=ADAGRAD_RUNS[problem], limit_fn=tau_limit)
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
    live = LiveFigure(plots.adagrad_figure, (11, 4))
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            problem, eta, c0 = c["problem"].value, c["eta"].value, c["c0"].value
            live.update(compute(problem, eta, c0), problem, eta,
                        title=f"c(0) = {c0:.3g}: first step tau(1) = eta / sqrt(c(0) + ||g_1||^2)")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([c["problem"], w.HBox([c["eta"], c["c0"]])], live, out, controls, compute)


# -- a fully connected network (notebooks/source/mlp) ------------------------------------------------

def first_epochs(history, trained, epochs):
    """The part of ``history``, of a run of ``trained`` epochs, that covers its first ``epochs``: the
    "step_loss" of their steps and the first ``epochs`` + 1 entries of every per-epoch list (epoch 0 to
    ``epochs``). For the notebook's ``train_digits`` this is the history of a run of ``epochs``: both start from the
    same network and draw the same minibatches, and the longer run just goes on."""
    steps = len(history["step_loss"]) * epochs // trained
    return {key: values[:steps] if key == "step_loss" else
            values[:epochs + 1] if isinstance(values, list) and len(values) == trained + 1 else values
            for key, values in history.items()}


def learning_curve_explorer(train_fn):
    """Sliders for the batch size, AdaGrad's scale eta, the sampler and the number of epochs; draws the
    learning curves of ``train_fn(batch_size=, eta=, sampler=, epochs=) -> (params, history)`` next to those
    of the previous setting (dashed).

    Each setting of batch size, eta and sampler is trained once, for the most epochs asked so far: fewer
    epochs are the first epochs of that run (``first_epochs``); more epochs train the setting again, for
    at least twice as many epochs as before (up to the slider's end), so that moving the epochs slider up
    step by step trains only now and then."""
    import ipywidgets as w

    style = {"description_width": "initial"}
    controls = {
        "batch": w.SelectionSlider(options=[4, 8, 16, 25, 32, 64, 128, 256], value=25, description="batch size",
                                   continuous_update=False, style=style),
        "eta": w.FloatLogSlider(value=2.0, base=10, min=-2, max=1.5, step=0.1, description="AdaGrad eta",
                                continuous_update=False, style=style),
        "sampler": w.ToggleButtons(options=["shuffle", "replacement"], value="shuffle", description="minibatches"),
        # 5 epochs at first: every new setting trains them, and a move should answer within 0.1 s
        "epochs": w.IntSlider(value=5, min=1, max=30, description="epochs", continuous_update=False, style=style),
    }
    c = controls
    runs = {}                       # (batch size, eta, sampler) -> (epochs, history) of the longest run

    @_cached
    def compute(batch_size, eta, sampler, epochs):
        trained, history = runs.get((batch_size, eta, sampler), (0, None))
        if trained < epochs:
            trained = epochs if history is None else min(max(epochs, 2 * trained), c["epochs"].max)
            history = train_fn(batch_size=batch_size, eta=eta, sampler=sampler, epochs=trained)[1]
            runs[batch_size, eta, sampler] = trained, history
        return first_epochs(history, trained, epochs)

    live = LiveFigure(functools.partial(plots.learning_curves_figure, styles=("-", "--")), (11, 3.8))
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
            live.update(histories, title=f"{setting}: test accuracy {history['test_acc'][-1]:.3f}")
            # inside the block: the Output widget shows and swallows an error of train_fn (an unanswered
            # exercise), and then there is no history to remember
            previous.clear()
            previous[setting] = history

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["batch"], c["eta"]]), w.HBox([c["sampler"], c["epochs"]]), status], live, out,
                         controls, compute)


# -- nonsmooth training (notebooks/source/nonsmooth) -------------------------------------------------

def relu_prime_explorer(runs_fn=None, steps=300, computed=None):
    """Choose the precision and ReLU'(0) of run B; see how far it drifts from run A (ReLU'(0) = 0).

    Both runs train the same network on the same minibatches (``course.relu_prime.relu_prime_runs``,
    or ``runs_fn(dtype, relu_prime_at_zero, steps=...)``). ``computed`` maps (dtype name, ReLU'(0) of B)
    to results already computed with the same ``steps``. With the reference, every setting is computed
    when the explorer starts (``course.relu_prime.relu_prime_table``: a few seconds, for the float16 runs),
    so that a move only redraws; with a ``runs_fn`` of your own, each setting is computed when first chosen.
    """
    import ipywidgets as w

    table = relu_prime.relu_prime_table(steps=steps, computed=computed) if runs_fn is None else dict(computed or {})

    @_cached
    def compute(dtype, r):
        if (dtype, r) not in table:
            table[dtype, r] = runs_fn(np.dtype(dtype), r, steps=steps)
        return table[dtype, r]

    controls = {
        "precision": w.ToggleButtons(options=list(relu_prime.RELU_PRIME_DTYPES), value="float16",
                                     description="precision"),
        "prime": w.SelectionSlider(options=list(relu_prime.RELU_PRIME_CHOICES), value=1.0,
                                   description="ReLU'(0) of B",
                                   style={"description_width": "initial"}),
    }
    c = controls
    live = LiveFigure(plots.relu_prime_drift_figure, (11, 3.6))
    out = w.Output()

    def redraw(*_):
        _clear(out)
        with out:
            res = compute(c["precision"].value, float(c["prime"].value))
            live.update({f"{c['precision'].value}, ReLU'(0) = 0 vs {c['prime'].value:g}": res},
                        title=f"backprop differed at {int(res['differs'].sum())} of {len(res['differs'])} steps "
                              f"({int(res['zeros'].sum())} exact zeros); test accuracy A "
                              f"{res['test_accuracy'][0]:.3f}, B {res['test_accuracy'][1]:.3f}")

    _observe(controls, redraw)
    redraw()
    return _explorer_box([w.HBox([c["precision"], c["prime"]])], live, out, controls, compute)
