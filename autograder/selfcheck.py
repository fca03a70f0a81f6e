"""A student's self-check: run a notebook the way nbgrader's Validate does and say which tests fail.

    sgd-course check NOTEBOOK [NOTEBOOK ...]
    python -m autograder.selfcheck NOTEBOOK [NOTEBOOK ...]

The notebook runs top to bottom in a fresh kernel, as in grading (widgets are skipped, 60 s per cell),
and every test cell is scored as nbgrader scores it. Unlike ``nbgrader validate``, which always exits
0, the exit status says the outcome:

    0  every test cell passes (written answers are graded by hand and only reminded of)
    1  a test cell fails, or a test cell was edited (grading uses the original test cells)
    2  the file cannot be checked (missing, not a notebook, no test cells, or the kernel died)

Only the visible tests run on a student version: the hidden tests, with fresh random inputs, run when
the submission is graded. As in grading (and unlike JupyterLab's Validate button), a warning that numpy
prints to stderr does not fail a test.
"""

from __future__ import annotations

import argparse
import sys
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

from .config import CELL_TIMEOUT, nbgrader_config

OK, FAILED, UNCHECKABLE = 0, 1, 2
STUB = "raise NotImplementedError()"


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
    unanswered: list[str] = field(default_factory=list)  # solution cells still holding the stub
    unanswered_written: list[str] = field(default_factory=list)  # written answers not yet written

    @property
    def status(self) -> int:
        if self.problem:
            return UNCHECKABLE
        return FAILED if self.failed or self.changed else OK

    def text(self) -> str:
        name = str(self.path)
        if self.problem:
            return f"{name}: cannot be checked: {self.problem}"
        lines = []
        if self.changed:
            lines.append(f"{name}: CHANGED test cell(s) {', '.join(self.changed)}: grading runs the original "
                         "tests, so these results say nothing. Copy your answers into a fresh copy of the "
                         "notebook and check again.")
        if self.failed:
            lines.append(f"{name}: {len(self.failed)} of {len(self.tests)} test cell(s) FAIL:")
            for failure in self.failed:
                points = f"{failure.points:g} point{'s' if failure.points != 1 else ''}"
                lines.append(f"  FAILED {failure.cell} ({points}): {failure.message}")
        elif not self.changed:
            lines.append(f"{name}: all {len(self.tests)} test cell(s) pass the visible tests "
                         "(hidden tests with other inputs run when it is graded).")
        if self.unanswered:
            lines.append(f"  not answered yet ({STUB} still there): {', '.join(self.unanswered)}")
        if self.unanswered_written:
            lines.append(f"  written answers still to write (graded by hand): {', '.join(self.unanswered_written)}")
        return "\n".join(lines)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


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


def check(path, *, timeout: int = CELL_TIMEOUT) -> Report:
    """Run the notebook at ``path`` in a fresh kernel and score its test cells as nbgrader does."""
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
    report.tests = [_meta(c)["grade_id"] for c in nb.cells
                    if _meta(c).get("grade") and not _meta(c).get("solution") and c.cell_type == "code"]
    if not report.tests:
        report.problem = "it has no test cells: is it a notebook of this course (from release/ or source/)?"
        return report
    report.unanswered = [_meta(c).get("grade_id", "?") for c in nb.cells
                         if c.cell_type == "code" and _meta(c).get("solution") and STUB in c.source]
    report.unanswered_written = [_meta(c)["grade_id"] for c in nb.cells
                                 if c.cell_type == "markdown" and utils.is_grade(c) and utils.is_solution(c)
                                 and "checksum" in _meta(c) and _meta(c)["checksum"] == utils.compute_checksum(c)]
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
        meta = _meta(cell)
        if not utils.is_grade(cell) or cell.cell_type != "code" or utils.is_solution(cell):
            continue
        if utils.is_locked(cell) and "checksum" in meta and meta["checksum"] != utils.compute_checksum(cell):
            report.changed.append(meta["grade_id"])
        score, max_score = utils.determine_grade(cell)
        if score is not None and score < max_score:
            report.failed.append(Failure(meta["grade_id"], max_score, _error_message(cell)))
    return report


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the notebook(s) to check")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help="seconds a cell may run (default: %(default)s, as in grading)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    """Check each notebook, print what fails; the exit status is the worst outcome."""
    status = OK
    for notebook in args.notebooks:
        print(f"checking {notebook} ...", file=sys.stderr, flush=True)
        report = check(notebook, timeout=args.timeout)
        print(report.text(), flush=True)
        status = max(status, report.status)
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.selfcheck", description=__doc__.split("\n\n")[0])
    args = add_arguments(parser).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
