"""How long each assignment takes: its source notebook run top to bottom, and one submission graded.

    python benchmarks/notebook_times.py [--repeats 3] [--only mlp,nonsmooth]

For every source notebook in notebooks/source/:
- **run**: executed top to bottom with nbclient in a fresh kernel, as a student or self-learner runs it
  (widgets and experiments included), from the kernel's start to the last cell's reply;
- **grade**: the reference submission (the student version with the reference answers typed in,
  autograder.demo.reference_answers / fill_in) graded by autograder.grading.Course.grade(assignment,
  [student], workers=1), as ``sgd-course grade`` does it: a fresh kernel in bubblewrap's sandbox,
  the hidden tests, the gradebook and the feedback. The reference must get full marks.
Each is repeated ``--repeats`` times; the table gives the median (and the range). Targets: a run in at most
20 s, a grade in at most 5 s. For each notebook the slowest cells of its median run are listed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.demo import fill_in, reference_answers
from autograder.grading import JOURNAL, REPO_SOURCE, Course
from autograder.journal import Journal

RUN_TARGET, GRADE_TARGET = 20.0, 5.0


def _stamp(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def cell_times(nb):
    """[(seconds, cell index, first line)] of the code cells that nbclient timed."""
    cells = []
    for index, cell in enumerate(nb.cells):
        timing = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "shell.execute_reply" in timing and "iopub.execute_input" in timing:
            took = _stamp(timing["shell.execute_reply"]) - _stamp(timing["iopub.execute_input"])
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            cells.append((took, index, first[:60]))
    return cells


def run_notebook(path: Path, cell_timeout=120):
    """(seconds from the kernel's start to the end, seconds of kernel start, cell_times)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        kernel_ready = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    seconds = time.perf_counter() - started
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"{path.name}: cells failed: {errors}")
    return seconds, kernel_ready - started, cell_times(nb)


def run_notebook_retrying(path: Path):
    """run_notebook; once seen here, nbclient waited forever for a reply that an idle kernel never sent:
    such a run times out and is run again (and said so)."""
    try:
        return run_notebook(path) + ("",)
    except TimeoutError as error:                 # nbclient's CellTimeoutError is a TimeoutError
        return run_notebook(path) + (f"a first run hung ({type(error).__name__}) and was repeated",)


def grade_reference(course: Course, assignment: str, student: str):
    """(seconds of Course.grade, seconds of the grading job, the graded cells' times)."""
    files = {}
    for notebook in course.notebooks(assignment):
        source = course.root / "source" / assignment / f"{notebook}.ipynb"
        files[notebook] = fill_in(course.release_path(assignment, notebook), reference_answers(source))
    course.submit(student, assignment, files)
    started = time.perf_counter()
    [result] = course.grade(assignment, [student], workers=1)
    seconds = time.perf_counter() - started
    if not result.graded or result.auto_score != result.auto_max:
        raise RuntimeError(f"{assignment}: the reference submission got {result.auto_score}/{result.auto_max} "
                           f"({result.status}; {result.notes})")
    outcome = Journal(course.root / JOURNAL / assignment).outcome(student)
    cells = [c for text in outcome.notebooks.values() for c in cell_times(nbformat.reads(text, as_version=4))]
    return seconds, outcome.seconds, cells


def _spread(values):
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def _median_row(rows):
    return sorted(rows, key=lambda row: row[0])[len(rows) // 2]


def _slowest(cells, count):
    return "; ".join(f"cell {i} {t:.1f} s `{first}`" for t, i, first in sorted(cells, reverse=True)[:count])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated assignments")
    parser.add_argument("--slowest", type=int, default=3, help="slowest cells listed per notebook")
    args = parser.parse_args(argv)

    sources = sorted(p for p in REPO_SOURCE.glob("*/*.ipynb")
                     if args.only is None or p.parent.name in args.only.split(","))
    runs, grades, remarks = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="sgd-nbtimes-") as tmp:
        course = Course.from_sources(Path(tmp) / "course")
        course.build()
        for r in range(args.repeats):           # rounds, so that the machine's load hits all alike
            for path in sources:
                assignment = path.parent.name
                seconds, kernel, per_cell, remark = run_notebook_retrying(path)
                if remark:
                    remarks.append(f"{assignment}, round {r + 1}: {remark}")
                runs.setdefault(path, []).append((seconds, kernel, per_cell))
                graded = grade_reference(course, assignment, f"reference-{r}")
                grades.setdefault(assignment, []).append(graded)
                print(f"  round {r + 1} {assignment}/{path.name}: run {seconds:.1f} s (kernel start "
                      f"{kernel:.1f} s), grade {graded[0]:.1f} s (the job {graded[1]:.1f} s)", flush=True)

    print()
    header = (f"{'notebook':<30}{'run s, median (range)':>23}{'target':>8}{'met':>5}"
              f"{'grade s, median (range)':>25}{'target':>8}{'met':>5}{'of it: the job':>22}")
    print(header)
    print("-" * len(header))
    missed = []
    for path in sources:
        assignment = path.parent.name
        run_times = [row[0] for row in runs[path]]
        grade_times = [row[0] for row in grades[assignment]]
        job_times = [row[1] for row in grades[assignment]]
        run_ok = statistics.median(run_times) <= RUN_TARGET
        grade_ok = statistics.median(grade_times) <= GRADE_TARGET
        missed += [f"{assignment} run"] * (not run_ok) + [f"{assignment} grade"] * (not grade_ok)
        print(f"{assignment + '/' + path.name:<30}{_spread(run_times):>23}{'<= 20':>8}{'yes' if run_ok else 'NO':>5}"
              f"{_spread(grade_times):>25}{'<= 5':>8}{'yes' if grade_ok else 'NO':>5}"
              f"{statistics.median(job_times):>22.1f}")
    print()
    for path in sources:
        assignment = path.parent.name
        _, kernel, per_cell = _median_row(runs[path])
        print(f"{assignment} run: kernel start {kernel:.1f} s; slowest cells: {_slowest(per_cell, args.slowest)}")
        total, job, graded_cells = _median_row(grades[assignment])
        kernel_side = sum(t for t, _, _ in graded_cells)
        print(f"{assignment} grade: {total:.1f} s = {total - job:.1f} s outside the job (gradebook, "
              f"feedback) + {job:.1f} s job, of which {kernel_side:.1f} s in student-kernel cells "
              f"(visible parts) and the rest kernel start, hidden tests, checks; slowest cells: "
              f"{_slowest(graded_cells, args.slowest)}")
    for remark in remarks:
        print("note:", remark)
    print()
    print("targets met" if not missed else "targets missed: " + ", ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
