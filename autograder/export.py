"""Grades as CSV, and as a table for the terminal.

One row per student and assignment: ``status`` is "graded" or "could not be graded: <reason>", so a
submission that could not be graded is never mistaken for a real zero (its scores are left empty).
Each graded cell has a column "<notebook>/<cell>" with its score; manually graded answers stay empty
until an instructor grades them (``manual_pending`` counts them). ``notes`` lists what the grader
repaired or why it stopped early (a deleted test cell put back, a kernel that died, ...).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .grading import Result


def cell_columns(results: list[Result]) -> list[str]:
    columns = []
    for result in results:
        for cell in result.cells:
            name = f"{cell.notebook}/{cell.cell}"
            if name not in columns:
                columns.append(name)
    return columns


def write_csv(results: list[Result], path, *, seed: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = cell_columns(results)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "status", "auto_score", "auto_max",
                         "manual_pending", "grading_seed", "notes", *columns])
        for r in results:
            by_cell = {f"{c.notebook}/{c.cell}": c.score for c in r.cells}
            row = [r.student, r.assignment, r.status]
            if r.graded:
                row += [_num(r.auto_score), _num(r.auto_max), r.manual_pending]
            else:
                row += ["", "", ""]
            row.append("" if seed is None else seed)
            row.append("; ".join(r.notes))
            row += [_num(by_cell.get(col)) if r.graded else "" for col in columns]
            writer.writerow(row)
    return path


def _num(x) -> str:
    return "" if x is None else f"{x:g}"


def table(results: list[Result], roster: dict[tuple[str, str], str] | None = None) -> str:
    """A plain-text grade table: student, autograded score, status (and what the submission was,
    from ``roster[assignment, student]``)."""
    rows = [("student", "auto score", "status" + (" / submission" if roster else ""))]
    for r in results:
        score = f"{r.auto_score:g}/{r.auto_max:g}" if r.graded else "-"
        lost = [c.cell for c in r.cells if not c.manual and c.score is not None and c.score < c.max_score]
        status = r.status + (f" (lost: {', '.join(lost)})" if r.graded and lost else "")
        if r.graded and r.manual_pending:
            status += f"; {r.manual_pending} written answer(s) to grade by hand"
        if roster:
            status += f"  [{roster.get((r.assignment, r.student), '')}]"
        rows.append((f"{r.assignment}/{r.student}", score, status))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}" for a, b, c in rows)
