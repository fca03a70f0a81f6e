"""Every source notebook: committed clean, nbgrader metadata intact, each test cell ending in the same
verdict line, the experiments tagged; every student version runs with no error but its stubs'. That each runs top to bottom with its tests passing, no error,
no stderr and its explorers drawing is tested once, in the browser (test_browser.py, as a student
runs it); its experiments' numbers in test_model_answers.py; grading mode in test_pipeline.py."""

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.grading import REPO_SOURCE
from autograder.sanitize import EXPERIMENT
from conftest import ASSIGNMENTS

SOURCES = [p for a in ASSIGNMENTS for p in sorted((REPO_SOURCE / a).glob("*.ipynb"))]
IDS = [p.parent.name for p in SOURCES]


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_committed_without_outputs_and_with_nbgrader_metadata(path):
    raw = json.loads(path.read_text())
    nb = nbformat.reads(json.dumps(raw), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    tests = [c for c in nb.cells if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")]
    written = [c for c in nb.cells if _nbgrader(c).get("grade") and c.cell_type == "markdown"]
    solutions = [c for c in code if _nbgrader(c).get("solution")]
    assert tests and all(_nbgrader(c)["locked"] and _nbgrader(c)["points"] > 0 for c in tests)
    assert all("BEGIN HIDDEN TESTS" in c.source for c in tests), "every test cell has hidden tests"
    assert all("BEGIN SOLUTION" in c.source for c in solutions)
    assert len(written) >= 2 and all("BEGIN MARK SCHEME" in c.source for c in written)
    assert any("widgets." in c.source for c in code), "each assignment has a widget explorer"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_test_cell_says_that_its_visible_tests_passed(path):
    """The same last visible line in every test cell, so that a student sees each cell's verdict."""
    nb = nbformat.read(path, as_version=4)
    tests = [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade")]
    for cell in tests:
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
        assert visible.endswith('print("visible tests passed")'), \
            f"{_nbgrader(cell)['grade_id']}: end the visible tests with print(\"visible tests passed\")"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_cell_but_the_imports_and_the_graded_ones_is_a_tagged_experiment(path):
    """Grading runs the first code cell (imports), the answer and test cells and what a student
    changed; every other code cell is an experiment, and says so (test_pipeline.py checks that the
    graded run needs none of them)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    untagged = [c.source.splitlines()[0] for c in code[1:]
                if not _nbgrader(c) and EXPERIMENT not in c.metadata.get("tags", [])]
    assert not untagged, f"tag these cells {EXPERIMENT!r} (or make them part of an exercise): {untagged}"
    assert not [c for c in code if _nbgrader(c) and EXPERIMENT in c.metadata.get("tags", [])]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_version_runs_with_only_not_implemented_errors(built_course, assignment):
    """The built student version, run top to bottom (errors allowed, as a student clicking through it):
    the only errors are the stubs' NotImplementedError, and nothing else goes to stderr."""
    path = built_course.release_path(assignment, assignment)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = {o.ename for o in outputs if o.output_type == "error"}
    assert errors == {"NotImplementedError"}, errors
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"
              and not re.search(r"\w*Warning\b", o.text)]
    assert not stderr, stderr


def test_the_hidden_inputs_of_every_check_are_written_down():
    """Issue 23.1: for every exercise, what its hidden inputs cover: in the check's docstring and in the
    table of notebooks/README.md."""
    import importlib
    import inspect

    table = (REPO_SOURCE.parent / "README.md").read_text().split("## What the hidden tests draw")[1]
    for assignment in ASSIGNMENTS:
        module = importlib.import_module(f"autograder.hidden_tests.{assignment}")
        for name, check in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and check.__module__ == module.__name__:
                assert check.__doc__ and len(check.__doc__) > 30, f"{assignment}.{name}: say what its inputs cover"
                assert f"`{name}`" in table, f"{assignment}.{name} is missing from the table of hidden inputs"
