"""nbgrader's cells as the grader reads them: what a cell is (its ``nbgrader`` metadata), and the stub an
unanswered solution holds.

``CODE_STUB`` is what nbgrader's ``ClearSolutions`` writes in place of a code solution (``config``) and
what ``sanitize`` restores for a deleted answer cell; ``RAISE_STUB`` is its line that ``selfcheck`` looks
for in an unanswered cell and the check notebooks (``replay``) put in each solution region.
"""

from __future__ import annotations

RAISE_STUB = "raise NotImplementedError()"
CODE_STUB = "# YOUR CODE HERE\n" + RAISE_STUB
TEXT_STUB = "YOUR ANSWER HERE"


def nbgrader_meta(cell) -> dict:
    """The cell's ``nbgrader`` metadata ({} for a cell nbgrader does not know, and for metadata that is
    not a mapping: a submission's ``"nbgrader": "junk"`` is the student's own cell)."""
    meta = cell.metadata.get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def graded_ids(nb) -> set:
    """The grade_ids of the notebook's graded cells and answer cells (the cells nbgrader tracks by id)."""
    return {nbgrader_meta(c).get("grade_id") for c in nb.cells
            if nbgrader_meta(c).get("grade") or nbgrader_meta(c).get("solution")}


def is_test_cell(cell) -> bool:
    """A graded code cell that is not an answer: the instructor's tests (autograder tests, in nbgrader's
    words)."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
