"""Mutation testing of hidden tests.

The reference is the source notebook's own solution code (so notebook and hidden tests cannot drift
apart); a mutant is that code with one realistic mistake typed in, as a student would. A hidden test
is good when the reference passes and every mutant raises ``CheckFailed``. Mutants run against the
check functions directly: a whole mutation table takes seconds, not a notebook run per mutant.

Each ``tests/test_hidden_<assignment>.py`` holds its data (the checks, the mutants, the hints they must
give) and this harness: ``Suite`` runs a table, ``seeds`` repeats a test under several grading seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

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


def assert_all_caught(label: str, capsys, trials) -> None:
    """Run (name, thunk) trials (``survivors``); print the mutation score; fail naming the survivors."""
    caught, total, alive = survivors(trials)
    with capsys.disabled():
        print(f"\n{label} mutation score: {caught}/{total}")
    assert not alive, f"mutants not caught: {alive}"


SEED_VARIABLE = "SGD_COURSE_GRADING_SEED"


def seeds(*values):
    """A fixture ``seeded`` that runs a test once per grading seed in ``values``: a mutant must be caught,
    and the reference pass, whatever the inputs the checks draw. Assign it in the test module:
    ``seeded = mutation.seeds(1, 2, 3)``."""
    @pytest.fixture(params=values)
    def seeded(request, monkeypatch):
        monkeypatch.setenv(SEED_VARIABLE, str(request.param))
    return seeded


@dataclass(frozen=True)
class Graded:
    """A hidden check, the test cell that runs it, and what it takes: functions of one answer cell."""

    test: str
    check: Callable
    cell: str
    functions: tuple[str, ...]


class Suite:
    """An assignment's hidden checks against its notebook's answers and their mutants.

    ``answers`` maps an answer cell to its reference (``autograder.demo.reference_answers``); ``graded``
    maps a key (a cell, or a check, as the test module names its table) to ``Graded``; ``mutants`` maps
    that key to {mutant name: [(old, new), ...] edits of the key's answer cell}.
    """

    def __init__(self, answers: dict, graded: dict, mutants: dict):
        self.answers, self.graded, self.mutants = answers, graded, mutants

    @classmethod
    def one_function_per_cell(cls, answers: dict, checks: dict, mutants: dict) -> "Suite":
        """The usual notebook: answer cell ``f`` defines the function ``f``, checked by ``checks[f]`` in the
        test cell ``test_f``; ``mutants`` are keyed by the cell."""
        return cls(answers, {cell: Graded("test_" + cell, check, cell, (cell,)) for cell, check in checks.items()},
                   mutants)

    def assert_complete(self, hidden, minimum: int = 5) -> None:
        """Every check of the module ``hidden`` is in the table, with ``minimum`` mutants or more."""
        checks = {name for name in dir(hidden) if name.startswith("check_")}
        assert checks == {graded.check.__name__ for graded in self.graded.values()}
        assert set(self.mutants) == set(self.graded)
        assert all(len(mutants) >= minimum for mutants in self.mutants.values())

    def functions(self, key, source: str | None = None) -> list:
        """The functions ``key``'s check takes, as the cell ``source`` (default: the reference) defines them."""
        graded = self.graded[key]
        namespace = run_cell(self.answers[graded.cell] if source is None else source, graded.cell)
        return [namespace[name] for name in graded.functions]

    def mutant(self, key, edits) -> str:
        """``key``'s answer cell with ``edits`` typed in."""
        return mutate(self.answers[self.graded[key].cell], edits, key)

    def check(self, key, source: str | None = None) -> None:
        """Run ``key``'s hidden check on the functions ``source`` defines; CheckFailed if they fail."""
        self.graded[key].check(*self.functions(key, source))

    def trials(self, run=None, skip=()):
        """(name, thunk) per mutant for ``survivors``; ``run(key, source)`` checks a mutant's source
        (default: ``check``), mutants named in ``skip`` are left out."""
        run = run or self.check
        return [(f"{key}: {name}", lambda key=key, edits=edits: run(key, self.mutant(key, edits)))
                for key, mutants in self.mutants.items() for name, edits in mutants.items() if name not in skip]

    def assert_every_mutant_caught(self, label: str, capsys, run=None, skip=()) -> None:
        """Run every mutant (``trials``); print the mutation score; fail naming the mutants that passed."""
        assert_all_caught(label, capsys, self.trials(run, skip))

    def failed_tests(self, answers: dict) -> set:
        """The test cells whose checks fail on ``answers`` (a whole submission: each graded answer cell
        run once, in one namespace, as the notebook runs them)."""
        namespace, cells = {"np": np}, {graded.cell for graded in self.graded.values()}
        for cell in [cell for cell in answers if cell in cells]:
            run_cell(answers[cell], cell, namespace)
        failed = set()
        for graded in self.graded.values():
            try:
                with np.errstate(all="ignore"):
                    graded.check(*[namespace[name] for name in graded.functions])
            except CheckFailed:
                failed.add(graded.test)
        return failed
