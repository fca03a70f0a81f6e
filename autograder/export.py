"""Grades as CSV, as a learning platform's grade import, and as a table for the terminal.

One row per student and assignment: ``status`` is "graded", "could not be graded: <reason>" or "no
submission" (on the roster, nothing handed in), so a submission that could not be graded is never
mistaken for a real zero (its scores are left empty). ``total`` adds the autograded points and the
written answers graded so far; ``max_total`` is what the assignment is worth. Each graded cell has a
column "<notebook>/<cell>" with its score, and the first row, ``(maximum)``, holds each cell's maximum;
manually graded answers stay empty until an instructor grades them (``manual_pending`` counts them).
``grading_seed`` is the seed the hidden tests drew their inputs from for this student, ``notes`` what
the grader or the import noted (a renamed notebook, a newer file graded, a deleted test cell put back, a
kernel that died, ...). ``all_results`` gathers those rows from the course and the imports' records.
"""

from __future__ import annotations

from pathlib import Path

from . import lms
from .lms import format_points
from .grading import NO_SUBMISSION, Result

MAXIMUM = "(maximum)"
HEADER = ["student", "assignment", "status", "auto_score", "auto_max", "manual_pending", "total", "max_total",
          "grading_seed", "notes"]


def refused_results(course, assignment: str) -> list[Result]:
    """A row for each submission an import refused (an id that cannot be a folder name, a Canvas user
    without a login, two equally new notebooks): data, not a path, so no feedback page. A student
    whose earlier submission is in the course keeps that row."""
    submitted = set(course.students(assignment))
    return [Result(name, assignment, reason=why) for name, why in sorted(lms.load_refused(course.root, assignment).items())
            if name not in submitted]


def all_results(course, assignment: str) -> list[Result]:
    """Every row of the class: ``class_results``, where an import refused a submission its reason
    instead of "no submission", and the refused submissions of students not on the roster."""
    refused = refused_results(course, assignment)
    names = {r.student for r in refused}
    return [r for r in class_results(course, assignment) if r.student not in names] + refused


def class_results(course, assignment: str) -> list[Result]:
    """Every student of ``course`` (a ``grading.Course``) for ``assignment``: those who submitted, and
    those on the roster who did not ("no submission"); notes of the import come first."""
    notes = lms.load_notes(course.root, assignment)
    students = sorted(set(course.students(assignment)) | set(course.roster()))
    results = []
    for student in students:
        result = course.result(assignment, student)
        result.notes = list(notes.get(student, [])) + list(result.notes)
        results.append(result)
    return results


def cell_columns(results: list[Result]) -> list[str]:
    columns = []
    for result in results:
        for cell in result.cells:
            name = f"{cell.notebook}/{cell.cell}"
            if name not in columns:
                columns.append(name)
    return columns


def status(r: Result) -> str:
    return NO_SUBMISSION if r.reason == NO_SUBMISSION else r.status


def total(r: Result) -> float | None:
    """Autograded points plus the written answers graded so far (None: not graded)."""
    return sum(c.score for c in r.cells if c.score is not None) if r.graded else None


def max_total(r: Result) -> float:
    return sum(c.max_score for c in r.cells)


def write_csv(results: list[Result], path, *, seed: int | None = None, seeds: dict | None = None) -> Path:
    """``seed``: the seed of every row; ``seeds``: (assignment, student) -> seed, the seed each was
    graded with (the journal's: an export after several runs, a demo of several assignments)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = cell_columns(results)
    maxima = {}
    for r in results:
        for c in r.cells:
            maxima.setdefault(f"{c.notebook}/{c.cell}", c.max_score)
    reference = next((r for r in results if r.graded and r.cells), None)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = lms.SafeWriter(fh)
        writer.writerow([*HEADER, *columns])
        if columns:
            assignments = sorted({r.assignment for r in results})
            one = reference if len(assignments) == 1 else None
            writer.writerow([MAXIMUM, assignments[0] if len(assignments) == 1 else "", "maximum points",
                             format_points(sum(c.max_score for c in one.cells if not c.manual)) if one else "",
                             "", "", "", format_points(max_total(one)) if one else "", "", "",
                             *[format_points(maxima[c]) for c in columns]])
        for r in results:
            by_cell = {f"{c.notebook}/{c.cell}": c.score for c in r.cells}
            row = [r.student, r.assignment, status(r)]
            if r.graded:
                row += [format_points(r.auto_score), format_points(r.auto_max), r.manual_pending,
                        format_points(total(r)), format_points(max_total(r))]
            else:
                row += ["", "", "", "", ""]
            student_seed = (seeds or {}).get((r.assignment, r.student), seed)
            row.append("" if student_seed is None or r.reason == NO_SUBMISSION else student_seed)
            row.append("; ".join(r.notes))
            row += [format_points(by_cell.get(col)) if r.graded else "" for col in columns]
            writer.writerow(row)
    return path


def _comment(r: Result) -> str:
    if r.reason == NO_SUBMISSION:
        return "no submission"
    if not r.graded:
        return f"could not be graded: {r.reason}"
    text = f"autograded {r.auto_score:g}/{r.auto_max:g}"
    if r.manual_pending:
        text += f"; {r.manual_pending} written answer(s) not graded yet"
    return text


def write_lms(platform: str, results: list[Result], path, *, names: dict, extra: dict, column: str,
              sheet: lms.Sheet | None = None) -> int:
    """The grade import of ``platform`` (moodle or canvas); returns how many students have written
    answers still to grade (their grade leaves those out). No grade for a submission that could not be
    graded or is missing: the platform keeps what it has. ``sheet``: Moodle's grading worksheet the
    instructor downloaded, filled in instead of a new one (raises lms.CannotScale)."""
    maximum = max((max_total(r) for r in results if r.graded), default=0.0)
    pending = sum(1 for r in results if r.graded and r.manual_pending)
    if platform == "moodle" and sheet is not None and sheet.moodle:
        lms.fill_moodle(sheet, {r.student: (total(r), max_total(r), _comment(r)) for r in results}, path)
    elif platform == "moodle":
        rows = []
        for r in results:
            first, last, email = names.get(r.student, (None, None, None))
            full = " ".join(x for x in (first, last) if x)
            rows.append((r.student, full, email, total(r), maximum, _comment(r)))
        lms.write_moodle(rows, path)
    elif platform == "canvas":
        rows = []
        for r in results:
            first, last, _ = names.get(r.student, (None, None, None))
            info = extra.get(r.student)
            name = ", ".join(x for x in (last, first) if x)
            rows.append(((info.lms_id if info else None) or r.student, name, info.login if info else None,
                         info.sis_id if info else None,
                         info.section if info else None, total(r)))
        lms.write_canvas(rows, path, column, maximum)
    else:
        raise ValueError(f"unknown platform {platform!r}")
    return pending


def table(results: list[Result], roster: dict[tuple[str, str], str] | None = None) -> str:
    """A plain-text grade table, one line per student: student, autograded score, status (and what the
    submission was, from ``roster[assignment, student]``); results of several assignments get a
    heading each. Why a submission could not be graded is the summary's to say (once)."""
    lines = []
    assignments = list(dict.fromkeys(r.assignment for r in results))
    for assignment in assignments:
        rows = [("student", "auto score", "status" + (" / submission" if roster else ""))]
        for r in (r for r in results if r.assignment == assignment):
            score = f"{r.auto_score:g}/{r.auto_max:g}" if r.graded else "-"
            lost = [c.cell for c in r.cells if not c.manual and c.score is not None and c.score < c.max_score]
            text = status(r) if r.graded or r.reason == NO_SUBMISSION else "could not be graded"
            if r.graded and lost:
                text += f" (lost: {', '.join(lost)})" if len(lost) <= 2 else f" (lost: {len(lost)} tests)"
            if r.graded and r.manual_pending:
                text += f"; {r.manual_pending} to grade by hand"
            if roster:
                text += f"  [{roster.get((r.assignment, r.student), '')}]"
            rows.append((r.student, score, text))
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        if len(assignments) > 1:
            lines += [""] * bool(lines) + [f"{assignment}:"]
        lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}" for a, b, c in rows]
    return "\n".join(lines)
