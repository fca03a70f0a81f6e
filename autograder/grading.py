"""Build the student versions and grade a class, through nbgrader's Python API.

A course directory follows nbgrader's layout::

    <root>/source/<assignment>/<notebook>.ipynb              instructor's version (solutions, hidden tests)
    <root>/release/<assignment>/...                          student version (generated)
    <root>/submitted/<student>/<assignment>/<notebook>.ipynb  submissions
    <root>/autograded/..., <root>/feedback/..., <root>/gradebook.db

Each submission is checked before nbgrader sees it (missing, empty, not JSON, not a notebook, not this
assignment): such a submission is recorded as "could not be graded" with the reason, and the rest of
the class goes on. Every submission runs in a fresh kernel (nbgrader starts one per notebook).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from .checks import SEED_VARIABLE
from .config import nbgrader_config

REPO_SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "source"
"""The assignments shipped with the course (present in a clone / editable install)."""


@dataclass
class CellScore:
    notebook: str
    cell: str
    score: float | None  # None: waits for manual grading
    max_score: float
    manual: bool


@dataclass
class Result:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    assignment: str
    reason: str = ""  # non-empty: could not be graded, and why
    cells: list[CellScore] = field(default_factory=list)

    @property
    def graded(self) -> bool:
        return not self.reason

    @property
    def status(self) -> str:
        return "graded" if self.graded else f"could not be graded: {self.reason}"

    @property
    def auto_score(self) -> float:
        return sum(c.score for c in self.cells if not c.manual and c.score is not None)

    @property
    def auto_max(self) -> float:
        return sum(c.max_score for c in self.cells if not c.manual)

    @property
    def manual_pending(self) -> int:
        return sum(1 for c in self.cells if c.manual and c.score is None)


def ensure_tools_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` executable: put this Python's bin/ on PATH."""
    bindir = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


class Course:
    """One nbgrader course directory and the API to work on it."""

    def __init__(self, root, *, timeout: int | None = None):
        ensure_tools_on_path()
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        kwargs = {} if timeout is None else {"timeout": timeout}
        self.config = nbgrader_config(self.root, **kwargs)
        coursedir = CourseDirectory(config=self.config)
        self.api = NbGraderAPI(coursedir=coursedir, config=self.config)

    @classmethod
    def from_sources(cls, root, source=REPO_SOURCE, **kwargs) -> "Course":
        """A new course directory at ``root`` with a copy of the assignments in ``source``."""
        source = Path(source)
        if not source.is_dir():
            raise FileNotFoundError(f"no assignments at {source}: run from a clone of sgd-course "
                                    "or pass the folder that holds the source assignments")
        root = Path(root)
        shutil.copytree(source, root / "source", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        return cls(root, **kwargs)

    # -- paths ------------------------------------------------------------------------------------
    @property
    def assignments(self) -> list[str]:
        src = self.root / "source"
        return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.root / "source" / assignment).glob("*.ipynb"))

    def release_path(self, assignment: str, notebook: str) -> Path:
        return self.root / "release" / assignment / f"{notebook}.ipynb"

    def submission_dir(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment

    def feedback_path(self, student: str, assignment: str, notebook: str) -> Path:
        return self.root / "feedback" / student / assignment / f"{notebook}.html"

    # -- instructor's steps -------------------------------------------------------------------------
    def build(self, assignments=None) -> None:
        """Generate the student version (release/) of each assignment; raises with nbgrader's log."""
        for assignment in assignments or self.assignments:
            result = self.api.generate_assignment(assignment)
            if not result["success"]:
                raise RuntimeError(f"could not build the student version of {assignment}:\n"
                                   f"{result.get('log', '')}\n{result.get('error', '')}")

    def submit(self, student: str, assignment: str, files: dict[str, Path | bytes | str]) -> None:
        """Place a submission: ``files`` maps a notebook name to a path or to the file's content."""
        target = self.submission_dir(student, assignment)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name, content in files.items():
            dest = target / f"{name}.ipynb"
            if isinstance(content, Path):
                shutil.copyfile(content, dest)
            else:
                dest.write_bytes(content if isinstance(content, bytes) else content.encode())

    def students(self, assignment: str) -> list[str]:
        submitted = self.root / "submitted"
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())

    def grade(self, assignment: str, students=None, *, seed: int | None = None,
              feedback: bool = True, progress=None) -> list[Result]:
        """Autograde each student's submission of ``assignment`` (and write feedback).

        ``seed`` fixes the random inputs of the hidden tests for this run (default: a fresh one,
        stored in ``self.last_seed``). A submission that cannot be graded is reported, never raised.
        """
        self.last_seed = secrets.randbits(32) if seed is None else int(seed)
        os.environ[SEED_VARIABLE] = str(self.last_seed)
        results = []
        students = self.students(assignment) if students is None else list(students)
        for i, student in enumerate(students):
            results.append(self.grade_one(assignment, student, feedback=feedback))
            if progress:
                progress(i + 1, len(students), results[-1])
        return results

    def grade_one(self, assignment: str, student: str, *, feedback: bool = True) -> Result:
        reason = self.check_submission(assignment, student)
        if not reason:
            outcome = self.api.autograde(assignment, student)
            if not outcome["success"]:
                reason = "nbgrader could not run it: " + _last_error_line(outcome)
        if reason:
            _remove(self.root / "autograded" / student / assignment)
            _remove(self.root / "feedback" / student / assignment)
            return Result(student, assignment, reason=reason)
        if feedback:
            outcome = self.api.generate_feedback(assignment, student)
            if not outcome["success"]:
                reason = "graded, but writing the feedback failed: " + _last_error_line(outcome)
        return Result(student, assignment, reason=reason, cells=self.cell_scores(assignment, student))

    def check_submission(self, assignment: str, student: str) -> str:
        """Why this submission cannot be graded, in words a student can act on; "" if it can."""
        folder = self.submission_dir(student, assignment)
        for notebook in self.notebooks(assignment):
            path = folder / f"{notebook}.ipynb"
            if not path.exists():
                found = sorted(p.name for p in folder.glob("*.ipynb"))
                return (f"{notebook}.ipynb is missing from the submission"
                        + (f" (found {', '.join(found)}; was it renamed?)" if found else ""))
            problem = _notebook_problem(path, self.release_path(assignment, notebook))
            if problem:
                return f"{notebook}.ipynb: {problem}"
        return ""

    def cell_scores(self, assignment: str, student: str) -> list[CellScore]:
        with Gradebook(self.api.coursedir.db_url) as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                return []
            scores = []
            for nb in sorted(submission.notebooks, key=lambda n: n.name):
                for grade in nb.grades:
                    manual = grade.cell.cell_type == "markdown" or grade.auto_score is None
                    pending = grade.needs_manual_grade and grade.manual_score is None
                    scores.append(CellScore(nb.name, grade.name, None if pending else float(grade.score),
                                            float(grade.max_score), manual))
        order = {cell: i for i, cell in enumerate(self.graded_cells(assignment))}
        return sorted(scores, key=lambda s: order.get((s.notebook, s.cell), len(order)))

    def graded_cells(self, assignment: str) -> list[tuple[str, str]]:
        """(notebook, grade_id) of every graded cell, in notebook order."""
        cells = []
        for notebook in self.notebooks(assignment):
            nb = nbformat.read(self.root / "source" / assignment / f"{notebook}.ipynb", as_version=4)
            cells += [(notebook, c.metadata["nbgrader"]["grade_id"]) for c in nb.cells
                      if c.metadata.get("nbgrader", {}).get("grade")]
        return cells


def _notebook_problem(path: Path, release: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        return "the file is empty; save the notebook in JupyterLab and submit it again"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return (f"the file is not valid notebook JSON ({error}); it was probably edited outside "
                "Jupyter or truncated. Open a fresh copy, paste your answers, save and submit again")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds
        return f"the file is not a valid Jupyter notebook ({str(error).splitlines()[0]})"
    if release.exists():
        expected = {c.metadata["nbgrader"]["grade_id"]
                    for c in nbformat.read(release, as_version=4).cells if "nbgrader" in c.metadata}
        found = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        if expected and not expected & found:
            return ("none of this assignment's cells are in it: is it the notebook of another "
                    "assignment? Submit the notebook you were given for this assignment")
    return ""


def _last_error_line(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "unknown error").strip().splitlines()
    return text[-1] if text else "unknown error"


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
