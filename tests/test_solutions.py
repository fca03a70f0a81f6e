"""The one list of what counts as a solution (``autograder.solutions``), guarded against forgetting one.

- Every function and method of ``course`` is classified: a tool (kept in every edition and view) or the
  solution of exactly one assignment.
- The guard of issue 20: every ``course`` function (and the simple adaptations a student would try:
  keyword defaults, a bound optimizer, a rescaled gradient) is put in the student's place in every
  hidden check of every assignment; one that passes a check must be a solution of that assignment or of
  an earlier one (so it is stripped where the assignment is open, and the call rule catches it where it
  is not). The truth is the hidden checks' own verdict, not a list of expectations.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import signal

import numpy as np
import pytest

import autograder.checks
from autograder import solutions

CHECKS = {a: importlib.import_module(f"autograder.hidden_tests.{a}") for a in solutions.ORDER}


def test_every_course_function_is_a_tool_or_the_solution_of_one_assignment():
    listed = {(m, n) for m, names in solutions.TOOLS.items() for n in names}
    owners = {}
    for assignment, modules in solutions.SOLUTIONS.items():
        for module, names in modules.items():
            for name in names:
                owners.setdefault((module, name), []).append(assignment)
    defined = solutions.course_functions()
    unclassified = sorted(f"{m}.{n}" for m, names in defined.items() for n in names
                          if (m, n) not in listed and (m, n) not in owners)
    assert not unclassified, (
        f"not classified: {', '.join(unclassified)}: add each to autograder/solutions.py, to TOOLS (the "
        "notebooks may use it) or to SOLUTIONS[<assignment>] (it computes a graded answer); until then "
        "it is stripped everywhere")
    both = sorted(f"{m}.{n}" for (m, n) in owners if (m, n) in listed)
    twice = sorted(f"{m}.{n}: {', '.join(a)}" for (m, n), a in owners.items() if len(a) > 1)
    gone = sorted(f"{m}.{n}" for (m, n) in listed | set(owners) if n not in defined.get(m, set()))
    assert not both and not twice and not gone, (both, twice, gone)


def test_stripped_is_everything_but_the_tools_and_the_released_solutions():
    everything = solutions.course_functions()
    assert solutions.stripped(solutions.ORDER) == {}
    none = solutions.stripped(())
    assert sum(map(len, none.values())) == sum(map(len, everything.values())) - sum(map(len, solutions.TOOLS.values()))
    assert "least_squares_grad" in solutions.stripped(["step_sizes"])["problems"]
    assert "least_squares_grad" not in solutions.stripped(["step_sizes", "gd_vs_sgd"]).get("problems", set())


def _candidates():
    """(label, function): every top-level course function, and the adaptations a student would try."""
    import course.adaptive, course.nn, course.optim, course.problems, course.sgd  # noqa: E401
    found = []
    for module, names in solutions.course_functions().items():
        mod = importlib.import_module(f"course.{module}")
        for name in sorted(names):
            if "." not in name and callable(getattr(mod, name, None)):
                found.append((f"course.{module}.{name}", getattr(mod, name)))
    found += [
        ("leaky_relu_forward(alpha=0)", functools.partial(course.nn.leaky_relu_forward, alpha=0.0)),
        ("leaky_relu_forward(alpha=0) with leaky_relu_backward",
         {"relu_forward": functools.partial(course.nn.leaky_relu_forward, alpha=0.0),
          "relu_backward": course.nn.leaky_relu_backward}),
        ("leaky_relu_forward(alpha=0), caching x, with leaky_relu_backward",
         {"relu_forward": lambda x: (course.nn.leaky_relu_forward(x, alpha=0.0)[0], x),
          "relu_backward": lambda dout, cache: course.nn.leaky_relu_backward(dout, (cache, 0.0))}),
        ("least_squares_grad(theta, X, y, idx), rescaled when unbiased",
         lambda theta, X, y, idx, unbiased=False: course.problems.least_squares_grad(theta, X, y, idx) * (
             X.shape[0] / np.asarray(idx).size if unbiased else 1.0)),
        ("sgd_iterates with the work counted",
         lambda grad, theta1, schedule, batches: (course.sgd.sgd_iterates(grad, theta1, schedule, batches),
                                                  np.cumsum([0] + [np.size(b) for b in batches], dtype=np.int64))),
        ("least_squares_grad per sample",
         lambda theta, X, y: float(np.mean(_per_sample(theta, X, y) @ _per_sample(theta, X, y).sum(axis=0) > 0))),
        ("huber_sum_sample_grad(delta=2**60) * 2**60",
         lambda theta, j: course.problems.huber_sum_sample_grad(
             theta, j, course.problems.SANITY_CHECK_A, delta=2.0 ** 60) * 2.0 ** 60),
        ("adaptive._run with optim.sgd(schedule)", _sgd_through_run),
    ]
    return found


def _sgd_through_run(grad, theta1, schedule, indices):
    """SGD's iterates through adagrad's ``_run`` and ``optim.sgd`` (a scalar start as a 1-vector)."""
    import course.adaptive, course.optim  # noqa: E401
    theta1 = np.asarray(theta1, dtype=float)
    if theta1.ndim == 0:
        thetas, _ = course.adaptive._run(course.optim.sgd(schedule), lambda state: 0.0,
                                         lambda theta, j: np.atleast_1d(grad(theta[0], j)), theta1.reshape(1), indices)
        return thetas[:, 0]
    if theta1.ndim == 1 and np.ndim(indices) == 2:  # R runs of a scalar problem: the runs as rows
        thetas, _ = course.adaptive._run(course.optim.sgd(schedule), lambda state: 0.0,
                                         lambda theta, j: np.atleast_1d(grad(theta[0], j)), theta1.reshape(-1, 1),
                                         [np.asarray(i) for i in np.asarray(indices)])
        return thetas[..., 0]
    return course.adaptive._run(course.optim.sgd(schedule), lambda state: 0.0, grad, theta1, indices)[0]


def _per_sample(theta, X, y):
    import course.problems
    return np.stack([course.problems.least_squares_grad(theta, X, y, [i]) for i in range(X.shape[0])])


def _alarm(signum, frame):
    raise TimeoutError


def _passes(check, arguments) -> bool:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(3)
    try:
        with np.errstate(all="ignore"):
            check(*arguments)
        return True
    except (Exception, TimeoutError):
        return False
    finally:
        signal.alarm(0)


@pytest.mark.parametrize("assignment", solutions.ORDER)
def test_every_course_function_that_passes_a_hidden_check_is_a_solution_by_then(assignment, monkeypatch):
    monkeypatch.setattr(autograder.checks, "_no_reference", lambda call, calls: None)  # the call rule's job
    monkeypatch.setenv(autograder.checks.SEED_VARIABLE, "12345")
    allowed = {
        (m, n) for a in (*solutions.released_before(assignment), assignment)
        for m, names in solutions.SOLUTIONS[a].items() for n in names}
    module = CHECKS[assignment]
    references = _references(module)
    wrong = []
    for check_name, check in sorted(vars(module).items()):
        if not check_name.startswith("check_") or not callable(check):
            continue
        slots = list(inspect.signature(check).parameters)
        for label, candidate in _candidates():
            tries = ([[candidate.get(p) for p in slots]] if isinstance(candidate, dict) else
                     [[candidate if i == slot else references.get(p) for i, p in enumerate(slots)]
                      for slot in range(len(slots))])
            for slot, arguments in enumerate(tries):
                if None in arguments or not _passes(check, arguments):
                    continue
                module_name, _, name = label.removeprefix("course.").partition(".")
                if (module_name, name) not in allowed and _named(label) not in allowed:
                    wrong.append(f"{label} passes {assignment}'s {check_name} (as {slots[slot]})")
    assert not wrong, ("add each to SOLUTIONS of this or an earlier assignment in autograder/solutions.py: "
                       + "; ".join(wrong))


def _named(label):
    """The course function an adaptation calls (module, name)."""
    return {"leaky_relu_forward(alpha=0)": ("nn", "leaky_relu_forward"),
            "leaky_relu_forward(alpha=0) with leaky_relu_backward": ("nn", "leaky_relu_forward"),
            "leaky_relu_forward(alpha=0), caching x, with leaky_relu_backward": ("nn", "leaky_relu_forward"),
            "least_squares_grad(theta, X, y, idx), rescaled when unbiased": ("problems", "least_squares_grad"),
            "sgd_iterates with the work counted": ("sgd", "sgd_iterates"),
            "least_squares_grad per sample": ("problems", "least_squares_grad"),
            "huber_sum_sample_grad(delta=2**60) * 2**60": ("problems", "huber_sum_sample_grad"),
            "adaptive._run with optim.sgd(schedule)": ("adaptive", "_run")}.get(label)


def _references(module):
    """The reference of each graded function a check takes (for the checks that take several)."""
    import attacks
    refs = {}
    for assignment, table in attacks.REFS.items():
        for graded, (mod, name, _) in table.items():
            refs[graded] = getattr(importlib.import_module(mod), name)
    return refs
