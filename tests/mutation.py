"""Mutation testing of hidden tests.

The reference is the source notebook's own solution code (so notebook and hidden tests cannot drift
apart); a mutant is that code with one realistic mistake typed in, as a student would. A hidden test
is good when the reference passes and every mutant raises ``CheckFailed``. Mutants run against the
check functions directly: a whole mutation table takes seconds, not a notebook run per mutant.
"""

from __future__ import annotations

import numpy as np

from autograder.checks import CheckFailed


def run_cell(source: str, label: str = "answer", namespace: dict | None = None) -> dict:
    """Run an answer cell as the student's kernel would (numpy imported as np), in ``namespace`` (the
    cells run before it) or a fresh one; return the namespace."""
    namespace = {"np": np} if namespace is None else namespace
    exec(compile(source, f"<student cell {label}>", "exec"), namespace)
    return namespace


def define(source: str, name: str, label: str = "answer"):
    """Run an answer cell; return the function ``name`` it defines."""
    return run_cell(source, label)[name]


def mutate(answer: str, edits, label: str = "answer") -> str:
    """Apply text edits [(old, new), ...]; each ``old`` must occur exactly once."""
    for old, new in edits:
        assert answer.count(old) == 1, f"{label}: {old!r} must occur exactly once in the reference answer"
        answer = answer.replace(old, new)
    return answer


def survivors(trials) -> tuple[int, int, list[str]]:
    """Run (name, thunk) trials; a thunk that raises CheckFailed is a caught mutant.

    Returns (caught, total, names of the mutants that survived)."""
    caught, alive = 0, []
    trials = list(trials)
    for name, thunk in trials:
        try:
            with np.errstate(all="ignore"):
                thunk()
        except CheckFailed:
            caught += 1
        else:
            alive.append(name)
    return caught, len(trials), alive
