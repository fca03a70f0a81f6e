"""What the course-week tests hand in and read back: a solved or unchanged step_sizes notebook, the rows
of a grades CSV, ``sgd-course grade`` run in-process, and a course with the step_sizes student version
built, once per module (building takes seconds; tests copy it)."""

import csv

from autograder import cli, demo
from autograder.grading import Course

A = "step_sizes"


def solved(course) -> str:
    """The student version with the reference answers typed in."""
    return demo.fill_in(course.release_path(A, A), demo.reference_answers(course.root / "source" / A / f"{A}.ipynb"))


def unchanged(course) -> str:
    return course.release_path(A, A).read_text()


def read_rows(path) -> dict:
    """The rows of a grades CSV by student."""
    return {r["student"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}


def grade(course, *args, csv_path, capsys=None):
    """(exit code, captured output) of ``sgd-course grade step_sizes`` on ``course``, two workers."""
    code = cli.main(["grade", A, "--course", str(course.root), "--csv", str(csv_path), "--workers", "2", *args])
    return code, (capsys.readouterr() if capsys else None)


def step_sizes_course(tmp_path_factory) -> Course:
    """A course directory with the step_sizes student version built (for a module's fixture: tests change
    copies of it, conftest's ``copy_course``)."""
    course = Course.from_sources(tmp_path_factory.mktemp("built"))
    course.build([A])
    return course

