"""The student's and the instructor's experience in a real browser: JupyterLab (started here on
localhost with a random token) in Debian's headless Chromium, driven by Playwright.

- the first student version opens and runs cell by cell, with no error but the NotImplementedError of
  its unanswered exercises (every student version: headless, in test_notebooks.py);
- every source notebook runs, and each control of its widget explorers (every slider, every dropdown)
  changes the figure or the printed values, without an error;
- nbgrader's Validate button passes a solved notebook and names the failing tests of an unanswered one;
- the formgrader lists the graded demo class with its scores.

The served course directory is a copy of a graded demo class (see ``graded_class``), so nothing here
changes what other tests see. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import browser_helpers as bh
import pytest
from conftest import ASSIGNMENTS

from autograder import demo
from autograder.grading import REPO_SOURCE

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "screenshots"
NOTEBOOKS = [(a, p.stem) for a in ASSIGNMENTS for p in sorted((REPO_SOURCE / a).glob("*.ipynb"))]
IDS = [f"{a}/{n}" for a, n in NOTEBOOKS]
SOLVED = "solved"  # folder (in the served course directory) with the reference answers typed in


@pytest.fixture(scope="session")
def graded_class(demo_class):
    """The session's graded demo class (conftest's ``demo_class``, made once for all workers); the browser
    tests read a copy of it (``lab``)."""
    return demo_class


@pytest.fixture(scope="session")
def lab(request, tmp_path_factory):
    """A JupyterLab server on a copy of the graded class, with a solved copy of every notebook. It
    starts while the class is graded: it reads the course's files only when a page asks for them."""
    root = tmp_path_factory.mktemp("lab") / "course"
    root.mkdir()
    config = ROOT / "notebooks" / "nbgrader_config.py"
    shutil.copyfile(config, root / "nbgrader_config.py")  # read by nbgrader's extensions as they load
    server = bh.LabServer(root, tmp_path_factory.mktemp("lab-state"), wait=False)
    try:
        course, _, _ = request.getfixturevalue("graded_class")
        shutil.copytree(course.root, root, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        shutil.copyfile(config, root / "nbgrader_config.py")
        for assignment, notebook in NOTEBOOKS:
            target = root / SOLVED / assignment / f"{notebook}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            answers = demo.reference_answers(root / "source" / assignment / f"{notebook}.ipynb")
            target.write_text(demo.fill_in(root / "release" / assignment / f"{notebook}.ipynb", answers))
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _new_tab(browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab = browser.new_page()
    tab.set_default_timeout(60_000)
    return tab


def _screenshot(tab, request) -> None:
    """A screenshot of ``tab`` named after the test."""
    name = re.sub(r"[^\w.-]+", "_", request.node.name.removeprefix("test_"))
    try:
        tab.screenshot(path=SHOTS / f"{name}.png")
    except Exception as error:  # a crashed tab: the test's own failure says more
        print(f"no screenshot of {name}: {error}")


@pytest.fixture
def page(browser, lab, request):
    """A new tab; on teardown a screenshot of it (named after the test) and all kernels shut down."""
    tab = _new_tab(browser)
    yield tab
    try:
        _screenshot(tab, request)
    finally:
        tab.close()
        lab.shutdown_kernels()


def _unexpected_output(cells, allowed_errors=()) -> str:
    """Each error (but ``allowed_errors``) and each stderr output that is not a warning, one a line:
    the cell's number (as JupyterLab counts, from 1), its first source line, and the message."""
    found = []
    for cell in cells:
        for text in cell["stderr"]:
            if bh.is_error(text) and bh.error_name(text) in allowed_errors:
                continue
            if bh.is_error(text) or not re.search(r"\w*Warning\b", text):
                first = (cell["source"].strip().splitlines() or [""])[0][:80]
                found.append(f"cell {cell['index'] + 1} ({first!r}): {text.strip().splitlines()[-1][:300]}")
    return "\n".join(found)


FIRST = [(a, n) for a, n in NOTEBOOKS if a == "step_sizes"]  # the first notebook students open


@pytest.fixture(scope="class")
def student_version(browser, lab, request):
    """The first student version open in a tab of its own, shared by the tests of ``TestStudentVersion``
    (running it and pressing Validate need one page and one kernel, not two); closed after them."""
    assignment, notebook = request.param
    tab = _new_tab(browser)
    yield bh.Notebook(tab, lab, f"release/{assignment}/{notebook}.ipynb")
    tab.close()
    lab.shutdown_kernels()


@pytest.mark.parametrize("student_version", FIRST, ids=[f"{a}/{n}" for a, n in FIRST], indirect=True)
class TestStudentVersion:
    def test_student_version_runs_with_only_not_implemented_errors(self, student_version, request):
        """Cell by cell, as a student first runs it (every student version: headless, test_notebooks.py)."""
        cells = student_version.run_each()
        _screenshot(student_version.page, request)
        code = [c for c in cells if c["code"]]
        assert code and all(bh.PROMPT_DONE.match(c["prompt"]) for c in code), \
            [(c["index"], c["prompt"]) for c in code if not bh.PROMPT_DONE.match(c["prompt"])]
        unexpected = _unexpected_output(cells, allowed_errors={"NotImplementedError"})
        assert not unexpected, f"errors other than the unanswered exercises' NotImplementedError:\n{unexpected}"
        unanswered = [c for c in cells if any(bh.is_error(t) for t in c["stderr"])]
        assert unanswered, "an unanswered student version should stop at its NotImplementedError stubs"

    def test_validate_button_names_the_failing_tests_of_the_student_version(self, student_version, request):
        """One notebook is enough to see that the verdict is read, not always "success"."""
        verdict = student_version.validate()
        _screenshot(student_version.page, request)
        assert "validation-failed" in verdict["classes"], verdict["text"]
        assert "The following cell failed:" in verdict["text"] and "NotImplementedError" in verdict["text"]
        student_version.close_dialog()


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS, ids=IDS)
def test_source_runs_and_every_explorer_control_redraws(lab, page, assignment, notebook):
    nb = bh.Notebook(page, lab, f"source/{assignment}/{notebook}.ipynb")
    nb.hide_left_sidebar()
    cells = nb.run_all()
    not_run = [(c["index"], c["prompt"]) for c in cells if c["code"] and not bh.PROMPT_DONE.match(c["prompt"])]
    unexpected = _unexpected_output(cells)
    assert not unexpected, f"error output:\n{unexpected}"
    assert not not_run, f"cells that did not run: {not_run}"
    explorers = [c["index"] for c in cells if c["controls"]]
    assert explorers, "the notebook shows no widget explorer (no slider or other control rendered)"
    report = []
    for index in explorers:
        where = f"explorer in cell {index + 1}"
        controls = nb.controls(index)
        assert any(c["kind"] == "slider" for c in controls), f"{where}: no slider"
        before = nb.snapshot(index)
        assert before, f"{where} shows nothing"
        nb.cell(index).screenshot(path=SHOTS / f"{assignment}-{notebook}-explorer-{index + 1}.png")
        # sliders first, in the explorer's initial mode; then each dropdown (which may change the mode)
        order = sorted(range(len(controls)), key=lambda n: controls[n]["kind"] != "slider")
        for n in order:
            control = controls[n]
            old, new = nb.move(index, n)
            what = f"{where}, {control['kind']} {control['label']!r} moved from {old} to {new}"
            assert old != new, f"{where}: the {control['kind']} {control['label']!r} did not move"
            after, seconds = nb.wait_changed(index, before, what=what)
            report.append(f"{control['label']}: {old} -> {new}, redrawn after {1000 * seconds:.0f} ms")
            errors = _unexpected_output(nb.cells(only=index))
            assert not errors, f"{what}: {errors}"
            before = after
        nb.cell(index).screenshot(path=SHOTS / f"{assignment}-{notebook}-explorer-{index + 1}-moved.png")
    print(f"\n{assignment}/{notebook}: " + "; ".join(report))


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS, ids=IDS)
def test_validate_button_passes_a_solved_notebook(lab, page, assignment, notebook):
    nb = bh.Notebook(page, lab, f"{SOLVED}/{assignment}/{notebook}.ipynb", kernel=False)
    verdict = nb.validate()
    assert verdict["title"] == "Validation Results", verdict
    assert "validation-success" in verdict["classes"], verdict["text"]
    assert "Success! Your notebook passes all the tests." in verdict["text"]
    nb.page.screenshot(path=SHOTS / f"validate-solved-{assignment}-{notebook}.png")
    nb.close_dialog()


def test_formgrader_lists_the_graded_demo_class(lab, page, graded_class):
    _, rosters, results = graded_class
    page.goto(lab.lab_url())
    page.locator("li.lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu li.lm-Menu-item[data-command='nbgrader:open-formgrader']").click()
    frame = page.frame_locator("iframe")
    for assignment in ASSIGNMENTS:
        row = frame.locator("tr", has=frame.locator("td.name", has_text=re.compile(rf"^{assignment}$")))
        row.wait_for()
        count = row.locator("td.num-submissions").inner_text().strip()
        submitted = sum((d / assignment).is_dir() for d in (lab.root / "submitted").iterdir())
        assert submitted >= len(rosters[assignment]) and count == str(submitted), \
            f"{assignment}: {count} submissions listed, {submitted} in submitted/"
    assert frame.locator("#warning-exchange").count() == 0, "the formgrader warns about the exchange"
    page.screenshot(path=SHOTS / "formgrader-assignments.png")
    for assignment in ASSIGNMENTS:
        frame.locator("a", has_text="Manage Assignments").first.click()
        frame.locator("td.num-submissions a").first.wait_for()
        frame.locator("tr", has=frame.locator("td.name", has_text=re.compile(rf"^{assignment}$"))) \
             .locator("td.num-submissions a").click()
        frame.locator("h1, .page-header", has_text="Manage Submissions").first.wait_for()
        for student in rosters[assignment]:
            result = results[assignment, student]
            row = frame.locator("tr", has=frame.locator("td", has_text=re.compile(rf"^{student}$")))
            row.wait_for()
            text = row.inner_text()
            assert student.capitalize() in text and "(demo)" in text, f"{student}'s name is not shown: {text!r}"
            if result.graded:
                assert f"{result.auto_score:g} / " in text, f"{assignment}/{student}: {text!r}"
            else:
                assert "needs autograding" in text, f"{assignment}/{student} was not graded: {text!r}"
        page.screenshot(path=SHOTS / f"formgrader-{assignment}.png")
