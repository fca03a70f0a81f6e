"""A crash-safe record of a class run: what is graded, what is saved, with which seed.

One folder per assignment holds ``run.json`` (the run's seed and students, and whether it finished)
and, per student, ``<student>.json`` (the worker's outcome) and ``<student>.saved`` (the outcome is in
the gradebook). Each file is written to a temporary name, flushed and renamed, so a run killed at any
moment leaves every file either whole or absent. Started again, an unfinished run resumes with its own
seed: graded-but-unsaved outcomes are saved, the rest is graded; nothing is lost or counted twice
(nbgrader replaces a student's grades, it never adds to them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path

from .sandbox import Outcome


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Journal:
    def __init__(self, folder):
        self.folder = Path(folder)

    @property
    def _run_file(self) -> Path:
        return self.folder / "run.json"

    def run(self) -> dict | None:
        try:
            return json.loads(self._run_file.read_text())
        except (OSError, ValueError):
            return None

    def start(self, seed: int | None, students: list[str]) -> int:
        """Resume the unfinished run (same seed) or start a new one; returns the run's seed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        run = self.run()
        if run and not run["finished"] and (seed is None or seed == run["seed"]):
            run["students"] = sorted(set(run["students"]) | set(students))
        else:
            run = {"seed": secrets.randbits(32) if seed is None else int(seed), "students": sorted(students),
                   "finished": False}
            for student in students:
                for suffix in (".json", ".saved"):
                    (self.folder / f"{student}{suffix}").unlink(missing_ok=True)
        _write(self._run_file, json.dumps(run, indent=1))
        return run["seed"]

    def finish(self) -> None:
        run = self.run()
        if run:
            run["finished"] = True
            _write(self._run_file, json.dumps(run, indent=1))

    def record(self, outcome: Outcome) -> None:
        (self.folder / f"{outcome.student}.saved").unlink(missing_ok=True)
        _write(self.folder / f"{outcome.student}.json", json.dumps(dataclasses.asdict(outcome)))

    def outcome(self, student: str, digest: str | None = None) -> Outcome | None:
        """The recorded outcome, unless the submission changed since (``digest`` differs)."""
        try:
            data = json.loads((self.folder / f"{student}.json").read_text())
        except (OSError, ValueError):
            return None
        outcome = Outcome(**data)
        if digest is not None and outcome.digest != digest:
            return None
        return outcome

    def saved(self, student: str) -> bool:
        return (self.folder / f"{student}.saved").exists()

    def mark_saved(self, student: str) -> None:
        _write(self.folder / f"{student}.saved", "")
