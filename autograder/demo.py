"""The demo class that the main job grades: for each assignment, the reference solution, the unchanged
student version, a few realistic buggy submissions and a malformed file.

Submissions are made the way a student makes them: the student version (release/) with answers typed
into its solution cells. A bug is a textual edit of the reference answer of one cell, and each edit is
checked to apply, so a changed notebook cannot silently turn a bug into a correct answer.
"""

from __future__ import annotations

import importlib

import nbformat

from .bugs import Bug
from .grading import Course

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def demo_bugs(assignment: str) -> list[Bug]:
    """The buggy demo submissions of an assignment: ``DEMO_BUGS`` in its hidden-tests module."""
    try:
        module = importlib.import_module(f"autograder.hidden_tests.{assignment}")
    except ModuleNotFoundError:
        return []
    return list(getattr(module, "DEMO_BUGS", []))


REFERENCE, UNCHANGED, MALFORMED = "alice", "bob", "heidi"


def reference_answers(source_path) -> dict[str, str]:
    """grade_id -> the reference answer of each code solution cell (the source minus the markers)."""
    nb = nbformat.read(source_path, as_version=4)
    answers = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines, scheme = [], False
            for line in cell.source.splitlines():
                if "BEGIN MARK SCHEME" in line or "END MARK SCHEME" in line:
                    scheme = "BEGIN" in line
                elif line.strip() not in (BEGIN, END) and not scheme:
                    lines.append(line)
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def fill_in(release_path, answers: dict[str, str]) -> str:
    """The student version with ``answers`` typed into its solution cells, as notebook JSON."""
    nb = nbformat.read(release_path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb)


def with_bug(answers: dict[str, str], bug: Bug) -> dict[str, str]:
    if answers[bug.cell].count(bug.old) != 1:
        raise ValueError(f"demo bug {bug.student!r}: {bug.old!r} does not occur exactly once in the "
                         f"reference answer of {bug.cell!r}; update autograder/demo.py")
    return {**answers, bug.cell: answers[bug.cell].replace(bug.old, bug.new)}


def submit_demo_class(course: Course, assignment: str) -> dict[str, str]:
    """Place the demo submissions of one assignment; returns student -> what the submission is
    (the same student may hand in different things for different assignments)."""
    roster = {}
    for notebook in course.notebooks(assignment):
        source = course.root / "source" / assignment / f"{notebook}.ipynb"
        release = course.release_path(assignment, notebook)
        answers = reference_answers(source)
        variants = {REFERENCE: ("the reference solution", answers),
                    UNCHANGED: ("the student version, unchanged", {})}
        for bug in demo_bugs(assignment):
            variants[bug.student] = (bug.description, with_bug(answers, bug))
        for student, (description, student_answers) in variants.items():
            course.submit(student, assignment, {notebook: fill_in(release, student_answers)})
            roster[student] = description
        text = fill_in(release, answers)
        course.submit(MALFORMED, assignment, {notebook: text[: len(text) // 2]})
        roster[MALFORMED] = "a truncated notebook file"
    for student in roster:  # the formgrader lists them by name
        course.add_student(student, first_name=student.capitalize(), last_name="(demo)")
    return roster
