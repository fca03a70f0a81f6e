"""The student's self-check (``sgd-course check``): a solved notebook exits 0, an unanswered or broken
one exits 1 and names the failing test cells, a file that cannot be checked exits 2."""

import ast
import json

import nbformat
import pytest
from conftest import ASSIGNMENTS

from autograder import cli, demo, selfcheck

BROKEN = "# broken on purpose: every function of this cell returns None\n"


@pytest.fixture(scope="module")
def course(built_course):
    """Every assignment's student version (the session's course: these tests only read it)."""
    return built_course


def _reports(monkeypatch) -> list:
    """The reports of every ``selfcheck.check`` the command makes from now on, in order: a test reads the
    report of the run whose output it read, instead of checking the notebook a second time."""
    reports, check = [], selfcheck.check

    def keep(*args, **kwargs):
        reports.append(check(*args, **kwargs))
        return reports[-1]
    monkeypatch.setattr(selfcheck, "check", keep)
    return reports


def _notebooks(course):
    return [(a, n) for a in course.assignments for n in course.notebooks(a)]


def _write(course, tmp_path, assignment, notebook, answers) -> str:
    path = tmp_path / assignment / f"{notebook}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(demo.fill_in(course.release_path(assignment, notebook), answers))
    return str(path)


def _answers(course, assignment, notebook):
    return demo.reference_answers(course.root / "source" / assignment / f"{notebook}.ipynb")


def _break_first_function(course, assignment, notebook, answers):
    """The reference answers with the first solution cell that defines functions made to return None;
    returns (answers, grade_id of the solution cell, grade_id of the test cell right after it)."""
    nb = nbformat.read(course.release_path(assignment, notebook), as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    for i, cell in enumerate(nb.cells):
        gid = meta[i].get("grade_id")
        if cell.cell_type != "code" or not meta[i].get("solution") or gid not in answers:
            continue
        names = [n.name for n in ast.parse(answers[gid]).body if isinstance(n, ast.FunctionDef)]
        tests = [meta[j]["grade_id"] for j in range(i + 1, len(nb.cells))
                 if meta[j].get("grade") and not meta[j].get("solution") and nb.cells[j].cell_type == "code"]
        if names and tests:
            broken = answers[gid] + "\n\n" + BROKEN + "".join(
                f"{name} = lambda *args, **kwargs: None\n" for name in names)
            return {**answers, gid: broken}, gid, tests[0]
    pytest.fail(f"{assignment}/{notebook}: no solution cell defines a function followed by a test cell")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_solved_notebook_passes_and_exits_0(course, tmp_path, assignment, capsys):
    for notebook in course.notebooks(assignment):
        path = _write(course, tmp_path, assignment, notebook, _answers(course, assignment, notebook))
        report = selfcheck.check(path, seed=11)
        assert report.status == selfcheck.OK, report.text()
        assert not report.failed and not report.changed and not report.unanswered
        assert not report.unanswered_written, "the reference answers fill the written answers too"
        assert "test cell(s) pass" in report.text()


def test_the_student_version_exits_1_and_names_every_test_cell(course, capsys, monkeypatch):
    assignment, notebook = _notebooks(course)[0]
    release = course.release_path(assignment, notebook)
    reports = _reports(monkeypatch)
    assert cli.main(["check", str(release), "--seed", "11"]) == selfcheck.FAILED
    out = capsys.readouterr().out
    report, = reports
    assert report.tests and {f.cell for f in report.failed} == set(report.tests)
    for cell in report.tests:
        assert f"FAILED {cell} (" in out, out
    assert "NotImplementedError" in out and "not answered yet" in out
    assert report.unanswered and report.unanswered_written, "unanswered code and written answers are listed"


@pytest.mark.parametrize("assignment", ASSIGNMENTS[:1])
def test_a_broken_function_exits_1_and_names_its_test(course, tmp_path, assignment, capsys, monkeypatch):
    notebook = course.notebooks(assignment)[0]
    answers, _, test = _break_first_function(course, assignment, notebook,
                                                    _answers(course, assignment, notebook))
    path = _write(course, tmp_path, assignment, notebook, answers)
    reports = _reports(monkeypatch)
    assert cli.main(["check", path, "--seed", "11"]) == selfcheck.FAILED
    out = capsys.readouterr().out
    assert f"FAILED {test} (" in out, out
    report, = reports
    assert test in {f.cell for f in report.failed} and not report.unanswered, report.text()


def test_a_realistic_bug_shows_gradings_message(course, tmp_path):
    """A sign error in the stochastic gradient: check says what grading says (which input, what was
    expected, a hint), not a raw exception."""
    answers = _answers(course, "step_sizes", "step_sizes")
    bug = next(b for b in demo.demo_bugs("step_sizes") if b.cell == "stochastic_gradient")
    report = selfcheck.check(_write(course, tmp_path, "step_sizes", "step_sizes", demo.with_bug(answers, bug)),
                             course=course.root, seed=7)
    assert report.status == selfcheck.FAILED and report.graded
    failure = next(f for f in report.failed if f.cell == "test_stochastic_gradient")
    assert failure.message.startswith("For stochastic_gradient(theta="), failure.message
    assert "Hint: the sign looks flipped" in failure.message
    assert failure.points == 2


def test_check_flags_a_python_list_as_grading_does(course, tmp_path, capsys):
    """A function that returns a list where grading expects a number fails at check time with grading's
    words, as it would fail when graded."""
    answers = _answers(course, "step_sizes", "step_sizes")
    answers["stochastic_gradient"] += ("\n\n_exact = stochastic_gradient\n\ndef stochastic_gradient(theta, j):\n"
                                       "    return np.atleast_1d(_exact(theta, j)).tolist()\n")
    path = _write(course, tmp_path, "step_sizes", "step_sizes", answers)
    assert cli.main(["check", path, "--course", str(course.root), "--seed", "7"]) == selfcheck.FAILED
    out = capsys.readouterr().out
    assert "FAILED test_stochastic_gradient (2 points): For stochastic_gradient(" in out, out
    assert "got list" in out and "Traceback" not in out


def test_a_deleted_test_cell_is_reported_and_unanswered_functions_are_named(course, tmp_path, capsys):
    answers = _answers(course, "step_sizes", "step_sizes")
    del answers["schedules"]   # the stubs of constant, geometric and inverse_power stay
    nb = nbformat.reads(demo.fill_in(course.release_path("step_sizes", "step_sizes"), answers), as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_sgd_iterates"]
    path = tmp_path / "step_sizes.ipynb"
    nbformat.write(nb, path)
    assert cli.main(["check", str(path), "--course", str(course.root), "--seed", "7"]) == selfcheck.FAILED
    out = capsys.readouterr().out
    assert "DELETED test cell(s) test_sgd_iterates" in out, out
    assert "not answered yet" in out and "constant()" in out and "FAILED test_constant" in out


def test_an_edited_test_cell_exits_1(course, tmp_path):
    assignment, notebook = _notebooks(course)[0]
    path = tmp_path / f"{notebook}.ipynb"
    nb = nbformat.reads(demo.fill_in(course.release_path(assignment, notebook),
                                     _answers(course, assignment, notebook)), as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution") and c.cell_type == "code")
    test.source = "pass  # the tests were in the way"
    nbformat.write(nb, path)
    report = selfcheck.check(path, seed=11)
    assert report.status == selfcheck.FAILED and report.changed == [test.metadata["nbgrader"]["grade_id"]]
    assert "CHANGED" in report.text()


@pytest.mark.parametrize("content, words", [
    (b"", "the file is empty"),
    (b'{"cells": [', "not a valid Jupyter notebook"),
    (json.dumps(nbformat.v4.new_notebook()).encode(), "no test cells"),
])
def test_a_file_that_cannot_be_checked_exits_2(tmp_path, capsys, content, words):
    path = tmp_path / "mine.ipynb"
    path.write_bytes(content)
    assert cli.main(["check", str(path)]) == selfcheck.UNCHECKABLE
    assert words in capsys.readouterr().out


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert selfcheck.main([str(tmp_path / "nowhere.ipynb")]) == selfcheck.UNCHECKABLE
    assert "cannot read it" in capsys.readouterr().out
