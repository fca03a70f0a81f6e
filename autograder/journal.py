"""A crash-safe record of a class run: what is graded, what is saved, with which seed.

One folder per assignment holds ``run.json`` (the class's seed and students, and whether the last run
finished) and, per student, ``<key>.json`` (the worker's outcome, with the seed it was graded with and
the student id inside) and ``<key>.saved`` (the outcome is in the gradebook). ``<key>`` is a hash of
the student id: an id is data, never a file name of the grader's own (a student called ``run``,
``..`` or ``a/b`` cannot collide with the run's record or leave the folder). Each file is written to a
temporary name, flushed and renamed, so a run killed at any moment leaves every file either whole or
absent.

The seed belongs to the class: a later run (a late student, ``--student ID``) grades with the seed the
class was graded with, unless it is given another one; an outcome graded with another seed, or of a
submission that changed since, counts as not graded. Started again, an unfinished run resumes with its
own seed: graded-but-unsaved outcomes are saved, the rest is graded; nothing is lost or counted twice
(nbgrader replaces a student's grades, it never adds to them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from pathlib import Path

from .job import Outcome


GRADER_SIDE_FAILURES = ("the kernel could not start", "the grader failed on this submission",
                        "the grading worker failed")
"""How the reasons of outcomes that a later run grades again begin (what journals written before
``Outcome.retry`` said of them)."""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def key(student: str) -> str:
    """The file name stem of a student's records: a hash of the id (never the id itself)."""
    return "s-" + hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Journal:
    def __init__(self, folder):
        self.folder = Path(folder)

    @property
    def _run_file(self) -> Path:
        return self.folder / "run.json"

    def _file(self, student: str, suffix: str) -> Path:
        return self.folder / f"{key(student)}{suffix}"

    def run(self) -> dict | None:
        try:
            return json.loads(self._run_file.read_text())
        except (OSError, ValueError):
            return None

    def start(self, seed: int | None, students: list[str]) -> int:
        """Resume the unfinished run or go on with the class's seed (a fresh one for a new class, or
        ``seed`` when given); returns the run's seed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        run = self.run()
        if run and (seed is None or int(seed) == run["seed"]):
            run["students"] = sorted(set(run["students"]) | set(students))
            run["finished"] = False
        else:
            run = {"seed": secrets.randbits(32) if seed is None else int(seed), "students": sorted(students),
                   "finished": False}
        _write(self._run_file, json.dumps(run, indent=1))
        return run["seed"]

    @property
    def seed(self) -> int | None:
        run = self.run()
        return run["seed"] if run else None

    def finish(self) -> None:
        run = self.run()
        if run:
            run["finished"] = True
            _write(self._run_file, json.dumps(run, indent=1))

    def record(self, outcome: Outcome, seed: int | None = None) -> None:
        self._file(outcome.student, ".saved").unlink(missing_ok=True)
        data = dataclasses.asdict(outcome)
        data["seed"] = self.seed if seed is None else seed
        _write(self._file(outcome.student, ".json"), json.dumps(data))

    def _data(self, student: str) -> dict | None:
        try:
            data = json.loads(self._file(student, ".json").read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("student") == student else None

    def graded_seed(self, student: str) -> int | None:
        """The seed this student's recorded outcome was graded with."""
        data = self._data(student)
        return None if data is None else data.get("seed")

    def outcome(self, student: str, digest: str | None = None, seed: int | None = None) -> Outcome | None:
        """The recorded outcome, unless the submission changed since (``digest`` differs) or it was
        graded with another seed than ``seed``."""
        data = self._data(student)
        if data is None:
            return None
        graded_with = data.pop("seed", None)
        if "retry" not in data:  # recorded before Outcome.retry: the grader's own failures, by their words
            data["retry"] = data.get("reason", "").startswith(GRADER_SIDE_FAILURES)
        outcome = Outcome(**{f.name: data[f.name] for f in dataclasses.fields(Outcome) if f.name in data})
        if digest is not None and outcome.digest != digest:
            return None
        if seed is not None and graded_with is not None and graded_with != seed:
            return None
        return outcome

    def saved(self, student: str) -> bool:
        return self._file(student, ".saved").exists()

    def mark_saved(self, student: str) -> None:
        _write(self._file(student, ".saved"), "")

    def forget(self, student: str) -> None:
        """Regrade this student next time (``--regrade``, ``--student``)."""
        for suffix in (".json", ".saved"):
            self._file(student, suffix).unlink(missing_ok=True)
