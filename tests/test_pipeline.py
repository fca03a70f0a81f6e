"""The whole way an assignment travels: source -> student version -> submissions -> nbgrader grades,
feedback and the grades CSV, in a temporary course directory (graded once per session: ``demo_class``;
the tests that submit or grade more work on a copy)."""

import csv
import re

import nbformat
import pytest

from autograder import cli, demo, export
from autograder.sanitize import EXPERIMENT, NOT_RUN
from autograder.demo import MALFORMED, REFERENCE, UNCHANGED, demo_bugs
from conftest import ASSIGNMENTS, SEED, copy_course

BUGS = [(a, bug) for a in ASSIGNMENTS for bug in demo_bugs(a)]


def _lost(result):
    return {c.cell for c in result.cells if not c.manual and c.score is not None and c.score < c.max_score}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_autograded_marks(demo_class, assignment):
    course, _, results = demo_class
    result = results[assignment, REFERENCE]
    assert result.graded, result.reason
    assert result.auto_max > 0 and result.auto_score == result.auto_max, _lost(result)
    assert result.manual_pending >= 2, "each assignment has at least two written answers"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grading_leaves_out_the_unchanged_experiments_and_nothing_graded_needs_them(demo_class, assignment):
    """Each notebook tags its experiments; grading skips them, and the reference's run has no error
    anywhere, so no graded (or kept) cell needed an experiment's names."""
    course, _, _ = demo_class
    nb = nbformat.read(course.root / "autograded" / REFERENCE / assignment / f"{assignment}.ipynb", 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    skipped = [c for c in code if [o.get("text") for o in c.outputs] == [NOT_RUN]]
    ran = [c for c in code if c not in skipped]
    tagged = [c for c in code if EXPERIMENT in c.metadata.get("tags", [])]
    assert len(skipped) == len(tagged) >= 5, (len(skipped), len(tagged))
    assert not [o for c in ran for o in c.outputs if o.output_type == "error"]
    assert any("widgets." in c.source for c in skipped), "the explorers are experiments"
    assert all(c.metadata.get("nbgrader") for c in ran[1:]), "only the imports and graded cells run"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unchanged_student_version_gets_zero(demo_class, assignment):
    _, _, results = demo_class
    result = results[assignment, UNCHANGED]
    assert result.graded and result.auto_score == 0
    assert all(c.score in (0, None) for c in result.cells)


@pytest.mark.parametrize("assignment, bug", BUGS, ids=[f"{a}-{b.student}" for a, b in BUGS])
def test_a_one_function_bug_loses_exactly_that_functions_points(demo_class, assignment, bug):
    course, _, results = demo_class
    result = results[assignment, bug.student]
    assert result.graded, result.reason
    assert _lost(result) == set(bug.costs), f"{bug.description}: lost {_lost(result)}"
    html = "".join(p.read_text() for p in (course.root / "feedback" / bug.student / assignment).glob("*.html"))
    for cell in bug.costs:
        assert cell in html, f"the feedback does not name the failing check {cell}"
    if bug.costs:
        assert re.search(r"(AssertionError|CheckFailed)", html), "the feedback shows no failure message"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_malformed_notebook_is_reported_and_the_class_goes_on(demo_class, assignment):
    _, rosters, results = demo_class
    bad = results[assignment, MALFORMED]
    assert not bad.graded and "not valid notebook JSON" in bad.status
    others = [results[assignment, s] for s in rosters[assignment] if s != MALFORMED]
    assert others and all(r.graded for r in others)


def test_feedback_never_shows_hidden_tests(demo_class):
    course, _, _ = demo_class
    pages = list((course.root / "feedback").rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "hidden_tests" not in text, page
        assert "autograder/checks.py" not in text and "Hidden tests ran here" in text, page


def test_student_version_has_no_solutions_or_hidden_tests(demo_class):
    course, _, _ = demo_class
    for assignment in course.assignments:
        for notebook in course.notebooks(assignment):
            text = course.release_path(assignment, notebook).read_text()
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
            assert "MARK SCHEME" not in text
            assert "raise NotImplementedError()" in text
            nb = nbformat.reads(text, as_version=4)
            written = [c for c in nb.cells if c.cell_type == "markdown"
                       and c.metadata.get("nbgrader", {}).get("grade")]
            assert len(written) >= 2
            for cell in written:  # the question stays, only the answer is blanked
                assert "YOUR ANSWER HERE" in cell.source
                assert len(cell.source.replace("YOUR ANSWER HERE", "").strip()) > 30, cell.source


def test_grades_csv_tells_not_gradable_from_zero(demo_class, tmp_path):
    course, _, results = demo_class
    rows = list(csv.DictReader(open(export.write_csv(list(results.values()), tmp_path / "g.csv", seed=SEED))))
    maxima, rows = rows[0], rows[1:]
    assert maxima["student"] == export.MAXIMUM
    by_student = {(r["assignment"], r["student"]): r for r in rows}
    for assignment in ASSIGNMENTS:
        bad, zero = by_student[assignment, MALFORMED], by_student[assignment, UNCHANGED]
        assert bad["status"].startswith("could not be graded: ") and bad["auto_score"] == ""
        assert zero["status"] == "graded" and zero["auto_score"] == "0"
        full = by_student[assignment, REFERENCE]
        cells = [c for c in rows[0] if c.startswith(f"{course.notebooks(assignment)[0]}/")]
        assert cells and all(full[c] != "" or "answer" in c for c in cells)
        assert all(bad[c] == "" for c in cells)
    assert {r["grading_seed"] for r in rows} == {str(SEED)}


def test_regrading_with_other_random_inputs_gives_the_same_scores(demo_class, tmp_path):
    course, _, results = demo_class
    course = copy_course(course, tmp_path / "course")
    for assignment in ASSIGNMENTS:
        students = [REFERENCE, UNCHANGED] + [b.student for b in demo_bugs(assignment)][:1]
        again = course.grade(assignment, students, seed=SEED + 1, feedback=False, workers=2)
        for result in again:
            first = results[assignment, result.student]
            assert [(c.cell, c.score) for c in result.cells] == [(c.cell, c.score) for c in first.cells]


def test_submission_checks_name_the_problem(built_course, tmp_path):
    course = copy_course(built_course, tmp_path / "course")
    assignment = ASSIGNMENTS[0]
    notebook = course.notebooks(assignment)[0]
    cases = {
        "empty": ({notebook: b""}, "the file is empty"),
        "renamed": ({"my_copy": course.release_path(assignment, notebook)}, "missing from the submission"),
        "not a notebook": ({notebook: b'{"cells": 3}'}, "not a valid Jupyter notebook"),
    }
    if len(ASSIGNMENTS) > 1:
        other = ASSIGNMENTS[1]
        cases["other assignment"] = ({notebook: course.release_path(other, course.notebooks(other)[0])},
                                     "another assignment")
    for student, (files, words) in cases.items():
        student_id = "check-" + student.replace(" ", "-")
        course.submit(student_id, assignment, files)
        assert words in course.check_submission(assignment, student_id), student


def test_instructor_command_grades_a_folder_and_exports(built_course, tmp_path, capsys):
    course = copy_course(built_course, tmp_path / "course")
    assignment = "step_sizes"
    source = course.root / "source" / assignment / f"{assignment}.ipynb"
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "zoe.ipynb").write_text(demo.fill_in(course.release_path(assignment, assignment),
                                                   demo.reference_answers(source)))
    (folder / "yann.ipynb").write_text("")
    csv_path = tmp_path / "grades.csv"
    assert cli.main(["grade", assignment, "--course", str(course.root), "--submissions", str(folder),
                     "--csv", str(csv_path), "--seed", "5"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(csv_path))}
    assert rows["zoe"]["status"] == "graded" and rows["zoe"]["auto_score"] == rows["zoe"]["auto_max"]
    assert rows["yann"]["status"].startswith("could not be graded: step_sizes.ipynb: the file is empty")
    assert (course.root / "feedback" / "zoe" / assignment / f"{assignment}.html").exists()
    exported = tmp_path / "again.csv"
    assert cli.main(["export", assignment, "--course", str(course.root), "--csv", str(exported)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(exported))}
    assert rows["zoe"]["auto_score"] == rows["zoe"]["auto_max"] and rows["yann"]["auto_score"] == ""
