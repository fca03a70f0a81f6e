"""What counts as a solution: the one list that both the grading kernel's view of ``course``
(``library_view``) and the student edition (``edition``) strip.

It is an allow-list. Every function and method of ``course`` is either a tool (``TOOLS``: data sets,
figures, widgets, ``validate``, the problems the notebooks draw, ...), kept everywhere, or the solution
of exactly one assignment (``SOLUTIONS``: the functions that are, or compute in one call, the answer of
one of its graded exercises). ``ORDER`` is the course order (the README's): an assignment's notebook
may use the solutions of the assignments before it as tools, never its own or a later one's.
``stripped(released)`` is what must not be readable where only ``released`` are released: every
function that is neither a tool nor a released assignment's solution, so a function nobody classified
is stripped. ``tests/test_solutions.py`` fails for a function nobody classified, and for any ``course``
function that passes a hidden check of an assignment without being a solution of it or of an earlier
one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

REFERENCE_STUB = "the course library's solution is not available while grading: write your own code"
"""What a stripped solution raises in the grading kernel (``library_view``); ``checks`` and ``sandbox`` turn
it into a failed check."""

ORDER: tuple[str, ...] = ("step_sizes", "gd_vs_sgd", "adagrad", "mlp", "nonsmooth")
"""The assignments in the order they are set (README, "Assignments")."""

SOLUTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # assignment -> course module -> the functions (qualified: ``Class.method``) that solve, or compute
    # in one call, its graded exercises.
    "step_sizes": {
        "problems": ("sanity_check_sample_grad", "sanity_check_minibatch_grad", "sanity_check_runs_grad",
                     "huber_sum_sample_grad"),  # * delta, for a delta above every residual: theta - a_j
        "schedules": ("constant", "geometric", "inverse_power"),
        "sgd": ("sgd_iterates", "loglog_slope"),
        "adaptive": ("_run",),  # with optim.sgd(schedule): the SGD iterates
    },
    "gd_vs_sgd": {
        "minibatch": ("per_sample_gradients", "full_gradient", "minibatch_gradient", "descent",
                      "descent_fraction", "bias_variance", "minibatch_variance"),
        "problems": ("least_squares_runs_grad", "least_squares_grad"),  # with or without idx
    },
    "adagrad": {
        "adaptive": ("adagrad_norm_run", "adagrad_diag_run", "tau_limit", "working_decades"),
        "optim": ("adagrad_step_size", "adagrad_norm", "adagrad"),
        "fast": ("adagrad_norm", "adagrad", "_zero_where_not_positive"),
    },
    "mlp": {
        "nn": ("_linear_forward", "_linear_backward", "linear_forward", "linear_backward", "_relu_backward",
               "relu_forward", "relu_backward", "softmax_cross_entropy", "_softmax_cross_entropy",
               "_mlp_backward", "mlp_backward", "mlp_loss_and_grad", "mlp_loss",
               "leaky_relu_forward", "leaky_relu_backward"),  # with alpha 0: ReLU
        "gradcheck": ("_differences", "numerical_gradient"),
        "data": ("epoch_minibatches",),
        "train": ("train", "fit"),
        "fast": ("Workspace._forward", "Workspace._log_probs_of_labels", "Workspace.loss_and_grad",
                 "Workspace.train_loss", "Workspace.minibatches", "train_mlp", "mlp_loss"),
    },
    "nonsmooth": {
        "clarke": ("gradients_near", "clarke_interval", "cross", "convex_hull"),
        # topological_order stays: the notebook's graph_table demo uses it as a tool
        "autodiff": ("local_derivatives", "backward", "Value.backward"),
        "nn": ("maxpool_backward",),
    },
}


FIXTURES: dict[str, tuple[str, ...]] = {
    # assignment -> the hidden tests' fixtures (``Fixture`` factories, by name) whose code computes one of
    # its graded answers: a test gradient that is the exercise's gradient, a test schedule that is the
    # exercise's schedule, the local derivatives that ``backward`` is handed. Grading sends their code to
    # the kernel; the student edition does not ship it while the assignment is open (``replay.bundle``).
    "step_sizes": ("sample_gradient", "runs_gradient", "schedule"),
    "gd_vs_sgd": ("least_squares_gradient",),
    "nonsmooth": ("local_rules",),
}


def open_fixtures(released: Iterable[str] = ()) -> dict[str, str]:
    """Fixture name -> the open assignment whose answer it computes, while only ``released`` are released."""
    released = set(check_assignments(released))
    return {name: assignment for assignment, names in FIXTURES.items() if assignment not in released
            for name in names}


TOOLS: dict[str, tuple[str, ...]] = {
    # course module -> the functions (qualified: ``Class.method``) every edition and grading view keeps
    "adaptive": ("_adagrad_problem", "adagrad_runs", "adagrad_only_runs", "constant_step_runs"),
    "data": ("minibatches_with_replacement", "epoch_minibatches_with_replacement", "_stratified_split",
             "load_digits", "_digits", "_shuffled", "two_moons", "spirals"),
    "fast": ("_keeps_dtype", "work_like", "sgd", "momentum", "adam", "Workspace.__init__", "Workspace._flat_vectors",
             "Workspace.as_tree", "Workspace._allocate", "Workspace._first_rows", "Workspace._rows",
             "Workspace.add", "Workspace.copy_params", "_check_mlp"),
    "gradcheck": ("_check_theta", "_scalar", "relative_error", "GradCheckResult.message",
                  "GradCheckResult.passed_away_from_kinks", "GradCheckResult.__str__", "check_gradient",
                  "DictGradCheckResult.passed", "DictGradCheckResult.max_rel_error", "DictGradCheckResult.kinks",
                  "DictGradCheckResult.__getitem__", "DictGradCheckResult.__str__", "check_gradient_dict"),
    "minibatch": ("sample_minibatch_gradients", "gd_vs_sgd_runs"),
    "nn": ("as_batch", "check_relu_prime", "num_layers", "check_labels", "init_mlp", "_mlp_forward",
           "mlp_forward", "predict", "accuracy", "_prelu_slope", "prelu_forward", "prelu_backward", "pool_windows",
           "maxpool_forward"),
    "clarke": ("sample_offsets", "clarke_subdifferential", "_as_set", "distance_to_set", "hausdorff",
               "minkowski_sum", "sum_rule", "_step"),
    "autodiff": ("Value.__init__", "Value.__repr__", "Value.__add__", "Value.__sub__", "Value.__mul__",
                 "Value.__radd__", "Value.__rsub__", "Value.__rmul__", "Value.__neg__", "Value.__abs__",
                 "Value.relu", "Value.max", "_lift", "relu", "maximum", "topological_order",
                 "autodiff_gradient", "graph_table", "E1", "E2", "gradient_descent"),
    "relu_prime": ("zero_preactivations", "backprop_differs", "_differ", "relative_drift", "relu_prime_runs",
                   "same_as_run_a", "relu_prime_table"),
    "optim": ("tree_map", "tree_leaves", "tree_sq_norm", "apply_updates", "_zeros_like", "sgd", "momentum", "adam"),
    "plots": ("band_stats", "band", "set_fill_between", "fit_ylim", "round_numbers", "autoscale", "thin_log_ticks", "regime_stats",
              "regimes_figure", "regimes", "partial_sum_curves", "loglog_fit", "paths_on_contours", "level_sets",
              "loglog_curves", "gd_vs_sgd_figure", "variance_vs_batch", "scale_scan", "tau_sqrt_k",
              "adagrad_figure", "digits", "learning_curves_figure", "learning_curves", "learning_curve_data",
              "_positive", "clarke_fans", "_draw_convex_set", "clarke_sets", "relu_prime_drift_figure",
              "relu_prime_drift", "relu_prime_drift_data", "gd_paths"),
    "problems": ("_theta_scalar_or_array", "sanity_check_loss", "sanity_check_grad", "least_squares_loss",
                 "least_squares_solution", "least_squares_inputs",
                 "least_squares_data", "_centres", "_sample_index", "abs_sum_loss", "abs_sum_sample_subgradient",
                 "huber", "huber_sum_loss", "cosine_sum_loss", "cosine_sum_sample_grad"),
    "schedules": ("_steps", "partial_sums"),
    "sgd": ("sample_indices",),
    "train": ("_check_data", "check_train_inputs", "stop_if_diverged", "_diverged"),
    "validate": ("as_float_array", "as_index_array", "positive_int", "positive_float", "check_rng", "describe",
                 "check_returned", "short", "known_mistake", "check_close"),
    "widgets": ("TextStampRenderer.__init__", "TextStampRenderer.draw_text", "_shaping", "GlyphRecorder.__init__",
                "GlyphRecorder.draw_text_image", "GlyphRecorder.__getattr__", "TextStampCanvas.get_renderer",
                "LiveFigure.__init__", "LiveFigure.moving", "LiveFigure._background_key", "LiveFigure.png",
                "LiveFigure.show", "LiveFigure.update", "LiveFigure._fix_legends", "round_limits", "keep_limits",
                "_explorer_box", "_observe", "_clear", "_cached", "first_epochs", "step_size_runs",
                "step_size_summary", "step_size_schedules", "step_size_explorer", "gd_vs_sgd_start",
                "gd_vs_sgd_explorer", "adagrad_explorer", "learning_curve_explorer", "relu_prime_explorer"),
}


def package_dir(name: str) -> Path:
    """The folder of the installed package ``name`` (``course``, ``autograder``), whatever the current
    folder holds. A folder of that name without ``__init__.py`` on ``sys.path`` (an nbgrader course
    folder called ``course`` in the folder the grader was started from, which ``python -c`` or
    ``python -m`` puts first) is a namespace package to Python, and the path finder returns it before an
    editable install's finder is asked: the first finder that knows ``name`` as a regular package
    answers. Raises RuntimeError where none does."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(name, None) if find_spec else None
        if spec is not None and spec.has_location and spec.submodule_search_locations is not None:
            return Path(spec.origin).resolve().parent
    raise RuntimeError(f"the package {name!r} cannot be found (a folder of that name without __init__.py is none)")


def course_functions(folder: Path | None = None) -> dict[str, set[str]]:
    """Module -> the functions and methods (qualified: ``Class.method``) that ``course`` defines at the
    top of its modules (read from the source in ``folder``, default: the installed package)."""
    if folder is None:
        folder = package_dir("course")
    found: dict[str, set[str]] = {}
    for path in sorted(Path(folder).glob("*.py")):
        names = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.ClassDef):
                names.update(f"{node.name}.{sub.name}" for sub in node.body
                             if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)))
        if names:
            found[path.stem] = names
    return found


def check_assignments(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, each an assignment of ``ORDER``; a ValueError names any other."""
    names = tuple(names)
    unknown = [name for name in names if name not in ORDER]
    if unknown:
        raise ValueError(f"unknown assignment(s) {', '.join(unknown)}: the assignments are {', '.join(ORDER)}")
    return names


def released_before(assignment: str) -> tuple[str, ...]:
    """The assignments set before ``assignment`` (all of them for an assignment not in ``ORDER``: a
    course of the instructor's own)."""
    return ORDER[:ORDER.index(assignment)] if assignment in ORDER else ()


def stripped(released: Iterable[str] = ()) -> dict[str, set[str]]:
    """Module -> the functions whose bodies must not be readable while only ``released`` are released:
    every function of ``course`` that is neither a tool nor the solution of a released assignment."""
    released = set(check_assignments(released))
    kept = {(module, name) for module, names in TOOLS.items() for name in names}
    kept |= {(module, name) for assignment in released
             for module, names in SOLUTIONS[assignment].items() for name in names}
    out: dict[str, set[str]] = {}
    for module, names in course_functions().items():
        strip = {name for name in names if (module, name) not in kept}
        if strip:
            out[module] = strip
    return out
