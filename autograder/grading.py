"""Build the student versions and grade a class, through nbgrader's Python API.

A course directory follows nbgrader's layout::

    <root>/source/<assignment>/<notebook>.ipynb              instructor's version (solutions, hidden tests)
    <root>/release/<assignment>/...                          student version (generated)
    <root>/submitted/<student>/<assignment>/<notebook>.ipynb  submissions
    <root>/autograded/..., <root>/feedback/..., <root>/gradebook.db

Grading a class (``Course.grade``) hands each submission to ``sandbox.grade_job`` on a
``concurrent.futures`` executor (local threads by default, each driving its own kernel process, or a
Dask cluster): files checked, locked cells restored, a fresh kernel in bubblewrap's sandbox, hidden tests run in the
grader. The results come back here, are
journaled (``journal``) and saved through nbgrader's own autograde preprocessors (minus execution),
so the gradebook, the formgrader, feedback and exports are nbgrader's as usual. A submission that
cannot be graded is recorded as such, with the reason, and the rest of the class goes on.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import sys
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    OverwriteKernelspec, SaveAutoGrades)

from .config import CELL_TIMEOUT, nbgrader_config
from . import jail, library_view
from .journal import Journal
from .job import Job, Outcome, read_submission
from .sandbox import grade_job, remove_stale_scratch

JOURNAL = ".grading/journal"
STAGING = ".grading/staged"
NO_SUBMISSION = "no submission"
BUILD_STAGING = ".grading/build"


class UnknownAssignment(LookupError):
    def __init__(self, assignment: str, known: list[str]):
        self.assignment, self.known = assignment, known
        super().__init__(f"no assignment {assignment!r} in this course; the assignments are: "
                         f"{', '.join(known) or '(none)'}")


class BuildRefused(RuntimeError):
    """``build`` refused to write a student version (the command exits 1, saying why)."""


class ReleaseChanged(BuildRefused):
    """``build`` would overwrite student versions that differ from what it would write."""

    def __init__(self, paths):
        self.paths = list(paths)
        super().__init__("not overwriting " + ", ".join(map(str, self.paths)) + ": it differs from the "
                         "student version that would be written (someone worked in it?). Students work "
                         "on a copy (sgd-course fetch); use --force to overwrite it anyway")

class ReleaseBlocked(BuildRefused):
    """``build`` would write a file where a folder stands, or into a path where a file stands."""

    def __init__(self, paths):
        self.paths = list(paths)
        super().__init__("cannot write the student version: " + ", ".join(
            f"{path} is {'a folder' if path.is_dir() else 'a file'} where build writes "
            f"{'a file' if path.is_dir() else 'a folder'}" for path in self.paths) +
            "; move it away and build again (--force does not remove it)")


def _blocking(root: Path, relative: Path) -> list[Path]:
    """What stands in the way of writing the file ``root / relative``: a file where a folder of its
    path goes (release/ or below), or a folder where the file goes."""
    path = root / relative
    folders = [root.parent, root, *(root / parent for parent in reversed(relative.parents) if str(parent) != ".")]
    return ([f for f in folders if f.exists() and not f.is_dir()][:1] or
            ([path] if path.is_dir() else []))


REPO_SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / "source"
"""The assignments shipped with the course (present in a clone / editable install)."""


@dataclass
class CellScore:
    notebook: str
    cell: str
    score: float | None  # None: waits for manual grading
    max_score: float
    manual: bool


class Graded(list):
    """What ``Course.grade`` returns: the results (a list, in the order of the students) and ``seed``, the
    seed the hidden tests drew their inputs with."""

    def __init__(self, results, seed: int):
        super().__init__(results)
        self.seed = seed


@dataclass
class Result:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    assignment: str
    reason: str = ""  # non-empty: could not be graded, and why
    cells: list[CellScore] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # repairs and early stops, as told in the feedback

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


class SandboxUnavailable(RuntimeError):
    """Bubblewrap cannot run here and the instructor did not ask to grade without a sandbox."""


def default_workers() -> int:
    """Submissions graded at once by default: one per core."""
    return os.cpu_count() or 1


@contextlib.contextmanager
def _local_executor(workers: int | None, jobs: int):
    """(executor, slots) for grading on this machine: ``workers`` notebooks run at once (default: one
    per core), and as many more kernels may start or stop meanwhile, which hides their latency.

    Threads are enough: a job's work runs in its kernel, a fresh process of its own, and the thread
    mostly waits on it, so no worker process has to start and import anything."""
    n = min(workers or default_workers(), jobs)
    pool = ThreadPoolExecutor(max_workers=min(2 * n, jobs), thread_name_prefix="grading")
    try:
        yield pool, threading.BoundedSemaphore(n)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ensure_tools_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` executable: put this Python's bin/ on PATH."""
    bindir = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


class Course:
    """One nbgrader course directory and the API to work on it."""

    def __init__(self, root, *, timeout: int | None = None, unsafe_no_sandbox: bool = False):
        """``unsafe_no_sandbox``: grade even where bubblewrap cannot run (student code then runs as a
        plain process with the grader's rights; every submission's notes say so)."""
        ensure_tools_on_path()
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout or CELL_TIMEOUT
        self.config = nbgrader_config(self.root, timeout=self.timeout)
        self._saver = None
        self.sandbox_warnings: set[str] = set()
        coursedir = CourseDirectory(config=self.config)
        self.api = NbGraderAPI(coursedir=coursedir, config=self.config)

    def make_exchange(self) -> None:
        """nbgrader's exchange (release / fetch / submit / collect), so that the formgrader does not warn
        that it is missing: made by the commands that write the course (build, grade, the instructor's
        lab), never by one that fails on a mistake; only in a course (a folder with source/), and
        writable by the instructor alone (this course takes submissions from a learning platform's
        export, not from students writing into a shared folder)."""
        exchange = Path(self.config.Exchange.root)
        if (self.root / "source").is_dir() and not exchange.is_dir():
            exchange.mkdir(parents=True, mode=0o755)

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
    def build(self, assignments=None, *, force: bool = False) -> None:
        """Generate the student version (release/) of each assignment; raises with nbgrader's log.

        nbgrader writes each student version to a staging folder first; a release file that differs
        from what would be written (someone worked in it) is not overwritten unless ``force``:
        ``ReleaseChanged`` names them, and nothing of that assignment is replaced. Files in release/
        that build does not write (someone's notes, ``.ipynb_checkpoints/``) are kept, even with
        ``force``."""
        for assignment in assignments or self.assignments:
            if assignment not in self.assignments:
                raise UnknownAssignment(assignment, self.assignments)
        self.make_exchange()
        for assignment in assignments or self.assignments:
            staged = self.root / BUILD_STAGING / assignment
            _remove(staged)
            result = self.builder.generate_assignment(assignment)
            if not result["success"]:
                _remove(staged)
                raise RuntimeError(f"could not build the student version of {assignment}:\n"
                                   f"{result.get('log', '')}\n{result.get('error', '')}")
            target = self.root / "release" / assignment
            written = sorted(p.relative_to(staged) for p in staged.rglob("*") if p.is_file())
            blocked = sorted({b for r in written for b in _blocking(target, r)})
            if blocked:
                _remove(staged)
                raise ReleaseBlocked(blocked)
            changed = [] if force else [target / r for r in written
                                        if (target / r).exists() and not _same_file(target / r, staged / r)]
            if changed:
                _remove(staged)
                raise ReleaseChanged(changed)
            for r in written:  # files build does not write (notes, .ipynb_checkpoints/) stay
                (target / r).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / r, target / r)
            _remove(staged)

    @property
    def builder(self) -> NbGraderAPI:
        """nbgrader's generate_assignment writing to a staging folder (see ``build``)."""
        config = copy.deepcopy(self.config)
        config.CourseDirectory.release_directory = BUILD_STAGING
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def submit(self, student: str, assignment: str, files: dict[str, Path | bytes | str]) -> None:
        """Place a submission: ``files`` maps a notebook name to a path or to the file's content.
        Raises ValueError for a student id that nbgrader cannot keep as a folder name."""
        from .lms import id_problem
        problem = id_problem(student)
        if problem:
            raise ValueError(f"the student id {student!r} cannot be used: {problem}")
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

    def add_student(self, student: str, first_name: str | None = None, last_name: str | None = None,
                    email: str | None = None) -> None:
        """Put a student (with the names the formgrader shows) in the gradebook, or update one."""
        with Gradebook(self.api.coursedir.db_url, self.api.course_id) as gb:
            gb.update_or_create_student(student, first_name=first_name, last_name=last_name, email=email)

    def students(self, assignment: str) -> list[str]:
        """The students who submitted ``assignment`` (a folder submitted/<student>/<assignment>/)."""
        submitted = self.root / "submitted"
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir() and not p.name.startswith("."))

    def roster(self) -> dict[str, tuple]:
        """nbgrader's student list: id -> (first name, last name, email)."""
        if not Path(self.api.coursedir.db_url.replace("sqlite:///", "", 1)).exists():
            return {}
        with Gradebook(self.api.coursedir.db_url, self.api.course_id) as gb:
            return {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}

    def grade(self, assignment: str, students=None, *, seed: int | None = None, feedback: bool = True,
              progress=None, executor=None, workers: int | None = None, regrade=False) -> Graded:
        """Grade each student's submission of ``assignment``, in parallel, and write the gradebook.

        Each submission is graded by ``sandbox.grade_job`` in a fresh kernel, on ``executor`` (any
        ``concurrent.futures.Executor``; default: ``workers`` notebooks at once on this machine, one
        per core, see ``_local_executor``). Only
        this process writes the gradebook. Every finished submission is journaled before it is
        saved, so a run that is killed (even with SIGKILL) and started again resumes with the same
        seed and loses or double-counts nothing.

        A submission already graded with this seed and unchanged since is not graded again (a late
        student is graded alone), nor one that could not be graded because of its content (not JSON,
        empty, another assignment's), unless it changed; one that could not be graded for the
        grader's reasons (its kernel never started, the grader failed) is graded again. ``regrade``
        grades again everyone in ``students`` (true) or a collection of student ids. ``seed`` fixes the hidden tests' random inputs (default: the
        seed the class was graded with, a fresh one for a new class).
        Returns the results of ``students`` (default: everyone who submitted) and the seed used.
        """
        students = self.students(assignment) if students is None else list(dict.fromkeys(students))
        why = jail.available()
        if why and not self.unsafe_no_sandbox:
            raise SandboxUnavailable(
                f"refusing to grade: {why}. Student code would run with your rights. Install "
                "bubblewrap, or pass --unsafe-no-sandbox (Course(..., unsafe_no_sandbox=True)) to grade "
                "without a sandbox anyway.")
        remove_stale_scratch()
        self.make_exchange()
        library_view.view(assignment)  # before the grading threads: they all use it
        journal = Journal(self.root / JOURNAL / assignment)
        seed = journal.start(seed, students)
        again = set(students) if regrade is True else set(regrade or ())
        for student in again:
            journal.forget(student)
        for name in self.notebooks(assignment):
            if not self.release_path(assignment, name).exists():
                self.build([assignment])
        pending = []
        for student in students:
            outcome = journal.outcome(student, self._digest(assignment, student), seed)
            if outcome is None or outcome.retry:  # new, changed, or not graded for the grader's reasons
                pending.append(student)
            elif not journal.saved(student):
                self._keep(journal, outcome, feedback)
        report = progress or (lambda *a: None)
        done = len(students) - len(pending)
        with contextlib.ExitStack() as stack:
            slots = None
            if executor is None and pending:
                executor, slots = stack.enter_context(_local_executor(workers, len(pending)))
            futures = {self._submit(executor, assignment, s, seed, slots): s for s in pending}
            for future in as_completed(futures):
                student = futures[future]
                try:
                    outcome = future.result()
                except Exception as error:  # the worker itself died (not the kernel: that is handled)
                    outcome = _failed(student, assignment, "the grading worker failed", error)
                outcome.digest = self._digest(assignment, student)
                for missing in set(outcome.sandbox) - self.sandbox_warnings:
                    self.sandbox_warnings.add(missing)
                    print(f"warning: grading sandbox on this machine: {missing}", file=sys.stderr)
                journal.record(outcome)
                self._keep(journal, outcome, feedback)
                done += 1
                report(done, len(students), self.result(assignment, student, journal))
        journal.finish()
        return Graded([self.result(assignment, s, journal) for s in students], seed)

    def _submit(self, executor, assignment: str, student: str, seed: int, slots):
        """The future of grading one student; reading the submission's files failing is that student's
        "could not be graded", never the class's."""
        try:
            job = self._job(assignment, student, seed)
        except Exception as error:
            future = Future()
            future.set_result(_failed(student, assignment, "the grader could not read the submission", error))
            return future
        return executor.submit(grade_job, job, *([slots] if slots else []))

    def _keep(self, journal: Journal, outcome: Outcome, feedback: bool) -> None:
        """Save a journaled outcome in the gradebook; any exception while saving it (nbgrader's
        validator on a notebook it rejects, say) makes that submission "could not be graded: <reason>"
        (journaled, retried by the next run), and the class goes on."""
        try:
            self._save(outcome, feedback)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            failed = _failed(outcome.student, outcome.assignment, "the grader could not save the result", error)
            failed.digest, failed.notes = outcome.digest, outcome.notes
            journal.record(failed)
            self._save(failed, feedback)  # removes what the failed save left
        journal.mark_saved(outcome.student)

    def result(self, assignment: str, student: str, journal=None) -> Result:
        """The grading result of one student from the journal and the gradebook."""
        journal = journal or Journal(self.root / JOURNAL / assignment)
        outcome = journal.outcome(student)
        if outcome is None:
            if not self.submission_dir(student, assignment).is_dir():
                return Result(student, assignment, reason=NO_SUBMISSION)
            return Result(student, assignment, reason="not graded yet")
        if outcome.reason:
            return Result(student, assignment, reason=outcome.reason, notes=outcome.notes)
        return Result(student, assignment, cells=self.cell_scores(assignment, student), notes=outcome.notes)

    def _job(self, assignment: str, student: str, seed: int) -> Job:
        folder = self.submission_dir(student, assignment)
        names = self.notebooks(assignment)
        submitted = {p.stem: p.read_bytes() for p in folder.glob("*.ipynb")}
        extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                       if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt")
        return Job(assignment, student,
                   submitted={n: submitted.get(n) for n in names} | {n: b for n, b in submitted.items()
                                                                     if n not in names},
                   sources={n: (self.root / "source" / assignment / f"{n}.ipynb").read_text() for n in names},
                   releases={n: self.release_path(assignment, n).read_text() for n in names},
                   seed=seed, timeout=self.timeout, unsafe_no_sandbox=self.unsafe_no_sandbox,
                   extra_files=tuple(extra))

    def _digest(self, assignment: str, student: str) -> str:
        h = hashlib.sha256()
        for path in sorted(self.submission_dir(student, assignment).rglob("*")):
            if path.is_file():
                h.update(str(path.name).encode() + b"\0" + path.read_bytes())
        return h.hexdigest()

    def _save(self, outcome: Outcome, feedback: bool) -> None:
        """Record an outcome in nbgrader's gradebook (and write feedback): nbgrader's own autograde
        pipeline, minus execution, on the notebook the worker ran."""
        student, assignment = outcome.student, outcome.assignment
        staged = self.root / STAGING / student / assignment
        _remove(staged)
        if outcome.reason:
            _remove(self.root / "autograded" / student / assignment)
            _remove(self.root / "feedback" / student / assignment)
            return
        staged.mkdir(parents=True)
        for name, text in outcome.notebooks.items():
            (staged / f"{name}.ipynb").write_text(text)
        stamp = self.submission_dir(student, assignment) / "timestamp.txt"
        if stamp.exists():
            shutil.copyfile(stamp, staged / "timestamp.txt")
        try:
            with warnings.catch_warnings():  # nbgrader 0.9.6 + SQLAlchemy 2: harmless autoflush notices
                warnings.filterwarnings("ignore", message="Object of type .* not in session")
                result = self.saver.autograde(assignment, student)
            _pass_on_interrupt(result)
            if not result["success"]:
                raise RuntimeError(_last_error_line(result))
            if feedback:
                result = self.api.generate_feedback(assignment, student)
                _pass_on_interrupt(result)
                if not result["success"]:
                    outcome.notes.append("writing the feedback failed: " + _last_error_line(result))
        finally:
            _remove(staged)

    @property
    def saver(self) -> NbGraderAPI:
        """nbgrader's autograde that reads the already-run notebook from the staging folder."""
        if self._saver is None:
            config = copy.deepcopy(self.config)
            config.CourseDirectory.submitted_directory = STAGING
            config.Autograde.sanitize_preprocessors = [OverwriteKernelspec, CheckCellMetadata]
            config.Autograde.autograde_preprocessors = [
                IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                AssignLatePenalties, CheckCellMetadata]
            self._saver = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        return self._saver

    def check_submission(self, assignment: str, student: str) -> str:
        """Why this submission cannot be graded, in words a student can act on; "" if it can."""
        job = self._job(assignment, student, 0)
        for name in sorted(job.sources):
            problem, _ = read_submission(job.submitted.get(name), name, job.releases[name],
                                         [n for n in job.submitted if n != name])
            if problem:
                return f"{name}.ipynb: {problem}"
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


def _failed(student: str, assignment: str, what: str, error: BaseException) -> Outcome:
    """The outcome of a submission the grader failed on: "could not be graded", retried by the next run."""
    detail = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    return Outcome(student, assignment, retry=True, reason=f"{what} ({detail}); run sgd-course grade "
                   f"{assignment} again: it retries this submission")


def _pass_on_interrupt(result: dict) -> None:
    """nbgrader's API catches every exception, Ctrl-C included, and reports it in ``result``: raise a
    Ctrl-C again (the submission is journaled but not marked saved, so the next run saves it again)."""
    if not result["success"] and _last_error_line(result).startswith("KeyboardInterrupt"):
        raise KeyboardInterrupt


def _last_error_line(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "unknown error").strip().splitlines()
    return text[-1] if text else "unknown error"


def _same_file(a: Path, b: Path) -> bool:
    """Whether the file ``a`` holds what ``b`` does (a notebook: the same notebook, whatever its JSON
    layout)."""
    if not a.is_file():
        return False
    if a.suffix != ".ipynb":
        return a.read_bytes() == b.read_bytes()
    try:
        return nbformat.reads(a.read_text(), as_version=4) == nbformat.reads(b.read_text(), as_version=4)
    except Exception:  # unreadable or not a notebook any more: it differs
        return False


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
