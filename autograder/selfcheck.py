"""A student's self-check: run a notebook as grading runs it and say which tests fail.

    sgd-course check NOTEBOOK [NOTEBOOK ...]
    python -m autograder.selfcheck NOTEBOOK [NOTEBOOK ...]

When the assignment's source is at hand (a clone of the course, or ``--course``), or, in the student
edition, the hidden checks' recorded calls (``autograder.replay``: the same calls and comparisons with
inputs drawn at build time), the notebook is graded exactly as a submission is, in a throw-away course
directory: the same kernel, the same locked
test cells (an edited or deleted one is put back), the same checks of every returned value's type,
shape and dtype, the same messages ("expected a number, got ndarray(shape=(2,))"). Without the source,
it runs top to bottom in a fresh kernel the way nbgrader's Validate does (visible tests only). Unlike
``nbgrader validate``, which always exits 0, the exit status says the outcome:

    0  every test cell passes (written answers are graded by hand and only reminded of)
    1  a test cell fails, or a test cell was edited or deleted (grading uses the original test cells)
    2  the file cannot be checked (missing, not a notebook, no test cells, or the kernel died)

As in grading (and unlike stock nbgrader), a warning that numpy prints to stderr does not fail a test.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    Execute,
    IgnorePattern,
)

from .cells import RAISE_STUB, graded_ids, is_test_cell, nbgrader_meta
from .config import CELL_TIMEOUT, nbgrader_config
from .sandbox import UNSAFE_NOTE

OK, FAILED, UNCHECKABLE = 0, 1, 2


@dataclass
class Failure:
    cell: str  # grade_id of the test cell
    points: float
    message: str  # the error, in one line


@dataclass
class Report:
    """The outcome of checking one notebook."""

    path: Path
    problem: str = ""  # non-empty: the notebook could not be checked, and why
    tests: list[str] = field(default_factory=list)  # grade_ids of all test cells
    failed: list[Failure] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # test cells whose content differs from the original
    deleted: list[str] = field(default_factory=list)  # test cells of the assignment missing from the notebook
    unanswered: list[str] = field(default_factory=list)  # functions (or cells) still holding the stub
    graded: bool = False  # checked as grading checks (hidden tests included), not only the visible tests
    notes: list[str] = field(default_factory=list)  # what grading repaired
    unanswered_written: list[str] = field(default_factory=list)  # written answers not yet written

    @property
    def status(self) -> int:
        if self.problem:
            return UNCHECKABLE
        return FAILED if self.failed or self.changed or self.deleted else OK

    def text(self) -> str:
        name = str(self.path)
        if self.problem:
            return f"{name}: cannot be checked: {self.problem}"
        lines = []
        if self.changed:
            lines.append(f"{name}: CHANGED test cell(s) {', '.join(self.changed)}: grading runs the original "
                         "tests" + (" (the results below are theirs)" if self.graded else ", so these results "
                         "say nothing") + ". Copy your answers into a fresh copy of the notebook and check again.")
        if self.deleted:
            lines.append(f"{name}: DELETED test cell(s) {', '.join(self.deleted)}: grading puts them back and "
                         "runs them. Copy your answers into a fresh copy of the notebook (sgd-course fetch).")
        if self.failed:
            lines.append(f"{name}: {len(self.failed)} of {len(self.tests)} test cell(s) FAIL:")
            for failure in self.failed:
                points = f"{failure.points:g} point{'s' if failure.points != 1 else ''}"
                lines.append(f"  FAILED {failure.cell} ({points}): {failure.message}")
        elif not self.changed and self.graded:
            lines.append(f"{name}: all {len(self.tests)} test cell(s) pass, checked as grading checks them "
                         "(grading draws other random inputs).")
        elif not self.changed:
            lines.append(f"{name}: all {len(self.tests)} test cell(s) pass the visible tests "
                         "(hidden tests with other inputs run when it is graded).")
        if self.unanswered:
            lines.append(f"  not answered yet ({RAISE_STUB} still there): {', '.join(self.unanswered)}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.unanswered_written:
            lines.append(f"  written answers still to write (graded by hand): {', '.join(self.unanswered_written)}")
        return "\n".join(lines)


def _error_message(cell) -> str:
    """One line saying why a test cell lost points."""
    for output in cell.outputs:
        if output.output_type == "error":
            name, value = output.get("ename", "Error"), " ".join(str(output.get("evalue", "")).split())
            if name == "NotImplementedError" and not value:
                return "NotImplementedError (an exercise it tests is not answered yet)"
            return f"{name}: {value}" if value else name
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stderr":
            text = output.text.strip().splitlines()
            return f"printed to stderr: {text[-1] if text else ''}"
    return "partial credit: passed some but not all of the tests"


def check(path, *, timeout: int = CELL_TIMEOUT, course=None, seed: int | None = None, recorded=None) -> Report:
    """Check the notebook at ``path``: graded as grading grades it when the assignment's source is at
    hand (``course``: a course directory; default: this clone's), else with the hidden checks' recorded
    calls (``recorded``: a folder made by ``replay.bundle``; default: the installed one, if any), else its
    visible tests run in a fresh kernel as nbgrader's Validate runs them. ``seed``: the random inputs of
    the grading checks (with recorded calls: which of the recorded seeds)."""
    report = Report(Path(path))
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as error:
        report.problem = f"cannot read it ({error.strerror or error})"
        return report
    if not raw.strip():
        report.problem = "the file is empty"
        return report
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # JSON, encoding and schema errors come in several kinds
        report.problem = f"not a valid Jupyter notebook ({str(error).splitlines()[0] if str(error) else error!r})"
        return report
    report.tests = _test_ids(nb)
    if not report.tests:
        report.problem = "it has no test cells: is it a notebook of this course (from release/ or source/)?"
        return report
    report.unanswered = _unanswered(nb)
    report.unanswered_written = [nbgrader_meta(c)["grade_id"] for c in nb.cells
                                 if c.cell_type == "markdown" and utils.is_grade(c) and utils.is_solution(c)
                                 and nbgrader_meta(c).get("checksum") == utils.compute_checksum(c)]
    report.changed = [nbgrader_meta(c)["grade_id"] for c in nb.cells
                      if c.cell_type == "code" and utils.is_grade(c) and not utils.is_solution(c)
                      and utils.is_locked(c) and "checksum" in nbgrader_meta(c)
                      and nbgrader_meta(c)["checksum"] != utils.compute_checksum(c)]
    from . import replay
    source, assignment, notebook = (None, None, None) if recorded else \
        _find_source(nb, Path(course) / "source" if course else None)
    recorded = Path(recorded) if recorded else replay.data_root() if source is None and course is None else None
    if recorded is not None:  # the student edition: no source, the hidden checks' recorded calls
        source, assignment, notebook = _find_source(nb, recorded / "checks")
    if source is not None:
        source_tests = _test_ids(nbformat.read(source, as_version=4))
        report.deleted = [t for t in source_tests if t not in report.tests]
        report.tests = source_tests
        if recorded is None:
            return _check_as_graded(report, raw, Path(source).parent.parent, assignment, notebook, timeout, seed)
        with replay.environment(replay.DATA_VARIABLE, str(recorded)):
            _check_as_graded(report, raw, recorded / "checks", assignment, notebook, timeout, seed)
        cells = replay.index(recorded)["assignments"][assignment]["cells"]
        report.notes += [f"{cell}: {replay.NOT_REPLAYABLE}" for cell in source_tests
                         if cell in cells and not cells[cell]["replayable"]]
        return report
    config = nbgrader_config(path.parent, timeout=timeout)
    resources = {"metadata": {"path": str(path.parent)}}
    try:
        with utils.setenv(NBGRADER_VALIDATING="1", NBGRADER_EXECUTION="validate"), utils.chdir(str(path.parent)):
            for preprocessor in (CheckCellMetadata, ClearOutput, Execute, IgnorePattern):
                nb, resources = preprocessor(config=config).preprocess(nb, resources)
    except Exception as error:  # a kernel that died or could not start, corrupt nbgrader metadata
        message = " ".join(str(error).split())[:500] or type(error).__name__
        report.problem = f"running it failed: {type(error).__name__}: {message}"
        return report
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not utils.is_grade(cell) or cell.cell_type != "code" or utils.is_solution(cell):
            continue
        score, max_score = utils.determine_grade(cell)
        if score is not None and score < max_score:
            report.failed.append(Failure(meta["grade_id"], max_score, _error_message(cell)))
    return report


def _test_ids(nb) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test_cell(c)]


def _unanswered(nb) -> list[str]:
    """The functions whose body is still the stub (``name()``), or the cell's id when it defines none."""
    names = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution") or RAISE_STUB not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            names.append(nbgrader_meta(cell).get("grade_id", "?"))
            continue
        found = [f"{node.name}()" for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and any(isinstance(n, ast.Raise) and RAISE_STUB.startswith(ast.unparse(n)) for n in ast.walk(node))]
        names += found or [nbgrader_meta(cell).get("grade_id", "?")]
    return names


def _find_source(nb, root=None):
    """(source notebook, assignment, notebook name) of the course notebook ``nb`` is a copy of: the one
    in ``root/<assignment>/`` (default: this clone's source/) that shares the most graded cells with it;
    (None, None, None) when no source is at hand."""
    from .grading import REPO_SOURCE
    root = Path(root) if root else REPO_SOURCE
    if not root.is_dir():
        return None, None, None
    ids = graded_ids(nb)
    best, overlap = (None, None, None), 0
    for source in sorted(root.glob("*/*.ipynb")):
        try:
            theirs = graded_ids(nbformat.read(source, as_version=4))
        except Exception:  # a broken source notebook is not this one
            continue
        if len(ids & theirs) > overlap:
            best, overlap = (source, source.parent.name, source.stem), len(ids & theirs)
    return best


def _check_as_graded(report: Report, raw: bytes, source_root: Path, assignment: str, notebook: str,
                     timeout: int, seed) -> Report:
    """Grade the notebook as a submission, in a throw-away course directory."""
    from . import jail
    from .grading import Course
    with tempfile.TemporaryDirectory(prefix="sgd-course-check-") as tmp:
        # the student's own code on the student's own machine: without bubblewrap it runs unsandboxed,
        # still against the library without the assignment's solutions (calling them earns nothing)
        course = Course.from_sources(Path(tmp) / "course", source=source_root / "source" if
                                     (source_root / "source").is_dir() else source_root, timeout=timeout,
                                     unsafe_no_sandbox=bool(jail.available()))
        course.build([assignment])
        course.submit("self-check", assignment, {notebook: raw})
        result = course.grade(assignment, ["self-check"], seed=seed, feedback=False, workers=1)[0]
        if not result.graded:
            report.problem = result.reason
            return report
        report.graded = True
        report.notes = [n for n in result.notes if n != UNSAFE_NOTE]
        graded = course.root / "autograded" / "self-check" / assignment / f"{notebook}.ipynb"
        messages = {}
        if graded.exists():
            for cell in nbformat.read(graded, as_version=4).cells:
                if cell.cell_type == "code" and nbgrader_meta(cell).get("grade_id"):
                    messages[nbgrader_meta(cell)["grade_id"]] = _graded_message(cell)
        for cell in result.cells:
            if cell.notebook == notebook and not cell.manual and cell.score is not None and cell.score < cell.max_score:
                report.failed.append(Failure(cell.cell, cell.max_score, messages.get(cell.cell) or
                                             "partial credit: passed some but not all of the tests"))
    return report


def _graded_message(cell) -> str:
    """Grading's own words for a failed cell: its check's message (CheckFailed) before anything raw."""
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    for output in reversed(errors):
        if output.get("ename") == "CheckFailed":
            return " ".join(str(output.get("evalue", "")).split())
    return _error_message(cell)


def positive_int(text: str) -> int:
    """An argparse type: a whole number, 1 or more (seconds, workers)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the notebook(s) to check")
    parser.add_argument("--timeout", type=positive_int, default=CELL_TIMEOUT,
                        help="seconds a cell may run (default: %(default)s, as in grading)")
    parser.add_argument("--course", help="course directory holding the assignment's source (default: this "
                        "clone's notebooks/, when there is one)")
    parser.add_argument("--seed", type=int, help="seed of the grading checks' random inputs (default: fresh; in the "
                        "student edition it picks one of the input sets recorded when the edition was built)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    """Check each notebook, print what fails; the exit status is the worst outcome."""
    status = OK
    for notebook in args.notebooks:
        print(f"checking {notebook} ...", file=sys.stderr, flush=True)
        report = check(notebook, timeout=args.timeout, course=args.course, seed=args.seed)
        print(report.text(), flush=True)
        status = max(status, report.status)
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.selfcheck", description=__doc__.split("\n\n")[0])
    args = add_arguments(parser).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
