"""What counts as a solution: the one list that both the grading kernel's view of ``course``
(``library_view``) and the student edition (``edition``) strip.

``SOLUTIONS`` names, assignment by assignment and module by module, the ``course`` functions that are
(or compute in one call) the answer of a graded exercise. ``ORDER`` is the course order (the README's):
an assignment's notebook may use the solutions of the assignments before it as tools, never its own or
a later one's. ``stripped(released)`` is what must not be readable where only ``released`` are
released (their deadline has passed).
"""

from __future__ import annotations

from collections.abc import Iterable

ORDER: tuple[str, ...] = ("step_sizes", "gd_vs_sgd", "adagrad", "mlp", "nonsmooth")
"""The assignments in the order they are set (README, "Assignments")."""

SOLUTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # assignment -> course module -> the functions (qualified: ``Class.method``) that solve, or compute
    # in one call, its graded exercises.
    "step_sizes": {
        "problems": ("sanity_check_sample_grad", "sanity_check_minibatch_grad", "sanity_check_runs_grad"),
        "schedules": ("constant", "geometric", "inverse_power"),
        "sgd": ("sgd_iterates", "loglog_slope"),
    },
    "gd_vs_sgd": {
        "minibatch": ("per_sample_gradients", "full_gradient", "minibatch_gradient", "descent",
                      "descent_fraction", "bias_variance", "minibatch_variance"),
        "problems": ("least_squares_runs_grad",),
    },
    "adagrad": {
        "adaptive": ("_run", "adagrad_norm_run", "adagrad_diag_run", "tau_limit", "working_decades"),
        "optim": ("adagrad_step_size", "adagrad_norm", "adagrad"),
        "fast": ("adagrad_norm", "adagrad"),
    },
    "mlp": {
        "nn": ("_linear_forward", "_linear_backward", "linear_forward", "linear_backward", "_relu_backward",
               "relu_forward", "relu_backward", "softmax_cross_entropy", "_softmax_cross_entropy",
               "_mlp_backward", "mlp_backward", "mlp_loss_and_grad", "mlp_loss"),
        "gradcheck": ("_differences", "numerical_gradient"),
        "data": ("epoch_minibatches",),
        "train": ("train", "fit"),
        "fast": ("Workspace._forward", "Workspace._log_probs_of_labels", "Workspace.loss_and_grad",
                 "Workspace.train_loss", "train_mlp", "mlp_loss"),
    },
    "nonsmooth": {
        # topological_order stays: the notebook's graph_table demo uses it as a tool
        "nonsmooth": ("gradients_near", "clarke_interval", "_cross", "convex_hull", "local_derivatives",
                      "backward", "Value.backward"),
        "nn": ("maxpool_backward",),
    },
}


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
    """Module -> the functions whose bodies must not be readable while only ``released`` are released."""
    released = set(check_assignments(released))
    out: dict[str, set[str]] = {}
    for assignment, modules in SOLUTIONS.items():
        if assignment not in released:
            for module, names in modules.items():
                out.setdefault(module, set()).update(names)
    return out
