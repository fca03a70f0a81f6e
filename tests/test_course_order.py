"""Course order (issue 20, point 3): each assignment's notebook runs top to bottom, experiments, figures
and explorers included, with the student edition of the course library in which only the assignments
before it (``autograder.solutions.ORDER``) are released, and with the model answers in its own exercises.

For each assignment X: a copy of ``course`` with the solutions ``stripped(released_before(X))`` replaced
by stubs that raise (``autograder.library_view.strip_solutions``, as the grading kernel's view and the
student edition strip them); the source notebook without its hidden tests; a kernel whose PYTHONPATH puts
the copy first (its first cell checks that ``course`` is the copy). Every cell must run without an error,
and so must every explorer: an explorer shows the error of a move in its own Output widget, not as the
cell's, so the widgets' state is searched too. A mutant notebook whose explorer uses its own assignment's
reference must fail.

The notebooks run once per session, two kernels at a time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import course
from autograder.grading import REPO_SOURCE
from autograder.library_view import strip_solutions
from autograder.solutions import REFERENCE_STUB as STUB
from autograder.solutions import ORDER, released_before, stripped

HIDDEN_TESTS = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
KERNELS = 2                # notebooks run at once (a 2-core machine)
CELL_TIMEOUT = 300         # seconds; the slowest experiment takes a few on a quiet machine

# A notebook that uses its own assignment's reference as a tool (here in its explorer, where a move's
# error goes to the explorer's Output widget, not to the cell): it must not run.
MUTANT = ("gd_vs_sgd", "cf57395a", "from course.minibatch import descent as reference_descent\n"
          "widgets.gd_vs_sgd_explorer(X2, y2, descent_fn=reference_descent,\n"
          "                           grad_fn=lambda theta, idx: minibatch_gradient(theta, X2, y2, idx, unbiased=True))")


def stripped_course(assignment: str, root: Path) -> Path:
    """A copy of ``course`` under ``root`` as the student edition of ``assignment`` has it: the solutions
    of ``assignment`` and of every later one are stubs. Returns the folder to put on PYTHONPATH."""
    package = Path(course.__file__).parent
    target = root / "course"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__"))
    for module, names in stripped(released_before(assignment)).items():
        path = target / f"{module}.py"
        path.write_text(strip_solutions(path.read_text(), names))
    return root


def student_notebook(assignment: str, library: Path, replace: dict[str, str] | None = None):
    """The source notebook with the model answers and without hidden tests, a first cell that checks that
    ``course`` comes from ``library``, and the cells of ``replace`` (cell id -> source) replaced."""
    nb = nbformat.read(REPO_SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = HIDDEN_TESTS.sub("", (replace or {}).get(cell.get("id"), cell.source))
    check = (f"import course\nassert course.__file__.startswith({str(library) + os.sep!r}), "
             "f'course comes from {course.__file__}, not from the stripped copy'")
    nb.cells.insert(0, nbformat.v4.new_code_cell(check))
    return nb


def errors(nb) -> list[str]:
    """Every error the run shows: in a cell's outputs, or in a widget's (an explorer's Output widget)."""
    found = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for o in cell.outputs if o.output_type == "error"]
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    found += [f"an explorer (Output widget {model}): {o['ename']}: {o['evalue']}" for model, widget in state.items()
              for o in widget.get("state", {}).get("outputs", None) or () if o.get("output_type") == "error"]
    return found


async def run(nb, library: Path, folder: Path, slots: asyncio.Semaphore) -> list[str]:
    """Run ``nb`` top to bottom in a fresh kernel that imports ``course`` from ``library``; its errors."""
    env = {key: value for key, value in os.environ.items() if key != "NBGRADER_EXECUTION"}
    env["PYTHONPATH"] = os.pathsep.join([str(library), *filter(None, [os.environ.get("PYTHONPATH")])])
    async with slots:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(folder)}})
        await client.async_execute(env=env)
    return errors(nb)


def _selected(request, name):
    """The ``name`` parameters of this module's tests that this session runs."""
    return {item.callspec.params[name] for item in request.session.items
            if item.path == Path(__file__) and name in getattr(getattr(item, "callspec", None), "params", {})}


@pytest.fixture(scope="session")
def order_runs(request, tmp_path_factory):
    """{assignment or "mutant": the errors of its run}, for the assignments this session tests."""
    jobs = {}
    for name in sorted(_selected(request, "assignment")) + sorted(_selected(request, "mutant")):
        assignment, replace = (MUTANT[0], {MUTANT[1]: MUTANT[2]}) if name == "mutant" else (name, None)
        folder = tmp_path_factory.mktemp(f"order-{name}")
        library = stripped_course(assignment, folder / "library")
        jobs[name] = (student_notebook(assignment, library, replace), library, folder)

    async def run_all():
        slots = asyncio.Semaphore(KERNELS)
        results = await asyncio.gather(*(run(*job, slots) for job in jobs.values()))
        return dict(zip(jobs, results))

    # in a thread of its own: the browser tests' Playwright keeps an event loop running in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run_all()).result()


def test_the_stripped_copy_has_stubs_of_the_assignment_and_the_later_ones_only(tmp_path):
    """The copy the notebooks run with: mlp's has gd_vs_sgd's solutions, not mlp's or nonsmooth's."""
    import subprocess
    import sys

    library = stripped_course("mlp", tmp_path)
    probe = ("import numpy as np, course.minibatch as m, course.nn as nn, course.clarke as clarke\n"
             "print(m.full_gradient(np.ones(1), np.ones((2, 1)), np.zeros(2)))\n"
             "for f, args in ((nn.softmax_cross_entropy, (np.zeros((1, 2)), np.zeros(1, int))),"
             " (clarke.convex_hull, (np.zeros((3, 2)),))):\n"
             "    try:\n        f(*args)\n    except NotImplementedError as e:\n        print('stub:', e)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(library)}, cwd=tmp_path).stdout.splitlines()
    assert out == ["[2.]", f"stub: {STUB}", f"stub: {STUB}"]


@pytest.mark.parametrize("assignment", ORDER)
def test_notebook_runs_with_only_the_earlier_assignments_released(order_runs, assignment):
    assert order_runs[assignment] == [], (
        f"{assignment}.ipynb needs a solution that its students do not have yet "
        f"(released: {', '.join(released_before(assignment)) or 'none'}); pass the notebook's own function "
        f"instead:\n" + "\n".join(order_runs[assignment]))


@pytest.mark.parametrize("mutant", ["mutant"])
def test_a_notebook_that_uses_its_own_reference_fails(order_runs, mutant):
    """The converse: the check sees a solution used inside an explorer (a move's error is the widget's)."""
    found = order_runs[mutant]
    assert found and all(f"NotImplementedError: {STUB}" in e for e in found), found
    assert any(e.startswith("an explorer ") for e in found), found
