"""Every source notebook: committed clean, nbgrader metadata intact, runs top to bottom with its
tests passing and its widget explorer rendered. (Grading mode is covered by test_pipeline.py.)"""

import json
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

from autograder.grading import REPO_SOURCE
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


def _run(path, retries=1):
    """Run the notebook in a fresh kernel. nbclient now and then waits out a whole cell timeout on a
    widget cell although the kernel is idle (about 1 run in 20); such a run is repeated once, with a
    note, rather than waiting minutes: every cell here takes a few seconds at most."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    try:
        NotebookClient(nb, timeout=40, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellTimeoutError:
        if not retries:
            raise
        print(f"\n{path.name}: a cell timed out; running the notebook again")
        return _run(path, retries - 1)
    return nb, time.perf_counter() - started


def _errors(nb):
    return [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_source_runs_top_to_bottom_with_all_tests_passing(path, capsys):
    nb, seconds = _run(path)
    assert not _errors(nb), _errors(nb)
    stderr = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr" and "Warning" not in o.text]
    assert not stderr, stderr
    widgets = [o for c in nb.cells if c.cell_type == "code" and "widgets." in c.source for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "the widget explorer did not render"
    with capsys.disabled():
        print(f"\n{path.name}: ran in {seconds:.1f} s")


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_test_cell_says_that_its_visible_tests_passed(path):
    """The same last visible line in every test cell, so that a student sees each cell's verdict."""
    nb = nbformat.read(path, as_version=4)
    tests = [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade")]
    for cell in tests:
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
        assert visible.endswith('print("visible tests passed")'), \
            f"{_nbgrader(cell)['grade_id']}: end the visible tests with print(\"visible tests passed\")"
