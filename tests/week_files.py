"""What the course-week tests hand in and read back: a solved or unchanged step_sizes notebook, the rows
of a grades CSV, ``sgd-course grade`` run in-process, and a fresh course made by copying one that is
built already (building the student version takes seconds; a copy is the same files)."""

import csv
import shutil

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


def built_course(tmp_path_factory) -> Course:
    """A course directory with the step_sizes student version built (a module's fixture: copy it with
    ``copy_of`` rather than change it)."""
    course = Course.from_sources(tmp_path_factory.mktemp("built"))
    course.build([A])
    return course


def copy_of(built: Course, root, **kwargs) -> Course:
    """A new course directory at ``root`` with the files of ``built`` (its student versions and gradebook
    as ``build`` wrote them); ``kwargs`` as for ``Course``."""
    shutil.copytree(built.root, root, symlinks=True)
    return Course(root, **kwargs)
