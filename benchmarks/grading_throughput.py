"""Class-grading throughput: ``sgd-course``'s grader against stock ``nbgrader autograde``, same run.

    python benchmarks/grading_throughput.py [--per-assignment 8] [--workers N]

Builds every assignment twice (two course directories), places the same demo submissions (reference,
unchanged, realistic bugs, a truncated file; repeated to ``--per-assignment`` per assignment) in both,
then grades one copy with stock nbgrader's CLI (``nbgrader autograde <assignment>``, one call per
assignment, one submission at a time) and the other with ``Course.grade`` (a fresh kernel in bubblewrap's sandbox per
submission, ``--workers`` at once, hidden tests in the grader), assignment by assignment in turn so
that both meet the same background load. Feedback is off in both. Prints the time, submissions per
minute and the ratio; the target is at least 3x on a 2-core machine.

Stock nbgrader runs every cell, the notebooks' experiments (figures, long runs, explorers) included;
``sgd-course grade`` leaves out the experiments a student left unchanged (``autograder.sanitize``).
So that the engines can also be compared on the very same cells, stock nbgrader grades its copy a
second time told to skip those cells too (nbclient's ``skip_cells_with_tag``: "graded cells only"):
the second ratio is what the sandboxed, parallel grader gains when both run identical code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.demo import submit_demo_class
from autograder.grading import Course, ensure_tools_on_path
from autograder.sanitize import EXPERIMENT


def prepare(root: Path, per_assignment: int) -> Course:
    course = Course.from_sources(root)
    course.build()
    for assignment in course.assignments:
        roster = submit_demo_class(course, assignment)
        students = sorted(roster)
        i = 0
        while len(course.students(assignment)) < per_assignment:  # copies of the demo submissions
            original = students[i % len(students)]
            shutil.copytree(course.submission_dir(original, assignment),
                            course.submission_dir(f"{original}-copy{i}", assignment))
            i += 1
        for extra in course.students(assignment)[per_assignment:]:
            shutil.rmtree(course.root / "submitted" / extra / assignment)
    return course


def stock(root: Path, assignment: str, skip_experiments: bool = False) -> float:
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n"
        + (f"c.Execute.skip_cells_with_tag = {EXPERIMENT!r}\n" if skip_experiments else ""))
    started = time.perf_counter()
    # exits non-zero when a submission fails (the truncated file): that is part of the workload
    subprocess.run(["nbgrader", "autograde", assignment, "--force"], cwd=root,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def ours(course: Course, assignment: str, workers) -> float:
    started = time.perf_counter()
    course.grade(assignment, workers=workers, feedback=False)
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-assignment", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    ensure_tools_on_path()
    with tempfile.TemporaryDirectory(prefix="sgd-bench-") as tmp:
        mine = prepare(Path(tmp) / "ours", args.per_assignment)
        theirs = prepare(Path(tmp) / "stock", args.per_assignment)
        assignments = mine.assignments
        n = sum(len(mine.students(a)) for a in assignments)
        t_stock = t_same = t_ours = 0.0
        for assignment in assignments:  # alternate, so that all meet the same background load
            t_stock += stock(theirs.root, assignment)
            t_ours += ours(mine, assignment, args.workers)
            t_same += stock(theirs.root, assignment, skip_experiments=True)
    print(f"{n} submissions of {len(assignments)} assignments ({', '.join(assignments)}), "
          f"{os.cpu_count()} cores, {args.workers} workers")
    print(f"{'grader':<44}{'seconds':>10}{'per minute':>12}")
    print(f"{'stock nbgrader autograde (every cell)':<44}{t_stock:>10.1f}{60 * n / t_stock:>12.1f}")
    print(f"{'stock nbgrader autograde (graded cells only)':<44}{t_same:>10.1f}{60 * n / t_same:>12.1f}")
    print(f"{'sgd-course grade (sandboxed)':<44}{t_ours:>10.1f}{60 * n / t_ours:>12.1f}")
    print(f"throughput ratio: {t_stock / t_ours:.2f}x against stock nbgrader (target: 3x); "
          f"{t_same / t_ours:.2f}x against stock on the same cells")


if __name__ == "__main__":
    sys.exit(main())
