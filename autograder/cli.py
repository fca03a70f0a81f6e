"""The instructor's command: ``sgd-course``.

    sgd-course demo                      build every assignment, grade the demo class, print the grades
    sgd-course build [ASSIGNMENT ...]    generate the student versions (release/)
    sgd-course grade ASSIGNMENT --submissions FOLDER --csv grades.csv [--workers N] [--dask ADDRESS]
    sgd-course export ASSIGNMENT --csv grades.csv     (again, after grading written answers by hand)

``--course DIR`` is an nbgrader course directory (default: this clone's notebooks/ folder).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from . import demo, export, selfcheck
from .grading import REPO_SOURCE, Course, Result

STATUS_FILE = "autograder-status.json"


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    # nbgrader 0.9.6 with SQLAlchemy 2 prints harmless autoflush notices while recording grades
    warnings.filterwarnings("ignore", message="Object of type .* not in session")
    try:
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C: the submissions that were running are graded again next time
        if args.run is _grade:
            print("\ninterrupted: every submission finished so far is saved; run the same command again "
                  "to grade the rest (with the same seed)", file=sys.stderr)
        else:
            print("\ninterrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgd-course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="build all assignments and grade a small demo class")
    p.add_argument("--out", default="sgd-course-demo", help="where to put feedback and grades.csv")
    p.add_argument("--seed", type=int, help="seed of the hidden tests' random inputs (default: fresh)")
    p.add_argument("--workers", type=int, help="submissions graded at once (default: one per core)")
    p.set_defaults(run=_demo)

    course_arg = dict(default=str(REPO_SOURCE.parent), help="nbgrader course directory (default: %(default)s)")
    p = sub.add_parser("build", help="generate the student versions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--course", **course_arg)
    p.set_defaults(run=_build)

    p = sub.add_parser("grade", help="autograde the submissions of one assignment")
    p.add_argument("assignment")
    p.add_argument("--course", **course_arg)
    p.add_argument("--submissions", help="folder of submissions to import first: <student>.ipynb files, "
                   "or <student>/ folders holding the notebook(s)")
    p.add_argument("--csv", default="grades.csv")
    p.add_argument("--seed", type=int, help="seed of the hidden tests' inputs (default: fresh, or the "
                   "interrupted run's when resuming)")
    p.add_argument("--timeout", type=int, help="seconds per cell")
    p.add_argument("--workers", type=int, help="submissions graded at once (default: one per core)")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster (tcp://scheduler:8786)")
    p.add_argument("--no-feedback", action="store_true")
    p.set_defaults(run=_grade)

    selfcheck.add_arguments(sub.add_parser(
        "check", help="a student's self-check: run a notebook's tests, exit 1 if one fails"))

    p = sub.add_parser("export", help="write the grades CSV from the gradebook (manual grades included)")
    p.add_argument("assignment")
    p.add_argument("--course", **course_arg)
    p.add_argument("--csv", default="grades.csv")
    p.set_defaults(run=_export)
    return parser


class Progress:
    """A one-line progress bar on stderr with the estimated time left. With ``stop`` (an Event), it
    raises KeyboardInterrupt after a submission is saved once ``stop`` is set (see ``ctrl_c``)."""

    def __init__(self, stream=sys.stderr, width=30, stop=None):
        self.stream, self.width, self.stop = stream, width, stop
        self.started, self.first = time.perf_counter(), None

    def __call__(self, done, total, result: Result):
        if self.first is None:  # submissions finished by an earlier (interrupted) run do not count
            self.first = done - 1
        elapsed = time.perf_counter() - self.started
        rate = elapsed / max(done - self.first, 1)
        left = (total - done) * rate
        bar = "#" * round(self.width * done / max(total, 1))
        mark = "graded" if result.graded else "NOT GRADED"
        print(f"\r[{bar:<{self.width}}] {done}/{total}  ~{left:4.0f} s left  "
              f"{result.student[:20]}: {mark:<10}", end="\n" if done == total else "",
              file=self.stream, flush=True)
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c():
    """Ctrl-C raises KeyboardInterrupt, and is also remembered in the Event this yields: Python drops
    an exception raised inside a garbage-collection callback (SQLAlchemy has some), so a Ctrl-C can
    be lost; ``Progress(stop=...)`` then raises it again after the next saved submission."""
    requested = threading.Event()

    def on_sigint(signum, frame):
        requested.set()
        raise KeyboardInterrupt

    def unraisable(info):  # the dropped Ctrl-C is not printed as an error: it is remembered
        if not (isinstance(info.exc_type, type) and issubclass(info.exc_type, KeyboardInterrupt)):
            previous_hook(info)

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started to ignore Ctrl-C (nohup, a job run
        yield requested                                     # with & from a script): it still does
        return
    previous, previous_hook = signal.signal(signal.SIGINT, on_sigint), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


def summary(results: list[Result]) -> str:
    """How many were graded (and of those, how many scored zero), and why the others could not be."""
    graded = [r for r in results if r.graded]
    zero = [r for r in graded if r.auto_score == 0]
    lines = [f"{len(graded)} graded ({len(zero)} with zero autograded points), "
             f"{len(results) - len(graded)} could not be graded"]
    lines += [f"  {r.assignment}/{r.student}: {r.reason}" for r in results if not r.graded]
    return "\n".join(lines)


def _executor(args):
    """A Dask cluster's executor when --dask is given; None means this machine's grading threads."""
    if not getattr(args, "dask", None):
        return None
    try:
        from distributed import Client
    except ImportError:
        raise SystemExit("--dask needs dask.distributed: pip install 'sgd-course[cluster]'") from None
    return Client(args.dask).get_executor()


def _demo(args) -> int:
    out = Path(args.out).resolve()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sgd-course-demo-") as tmp:
        course = Course.from_sources(tmp)
        print(f"building the student versions of {', '.join(course.assignments)} ...", flush=True)
        course.build()
        results, roster = [], {}
        for assignment in course.assignments:
            roster.update({(assignment, student): what for student, what
                           in demo.submit_demo_class(course, assignment).items()})
            print(f"grading the demo class of {assignment} ...", flush=True)
            with ctrl_c() as stop:
                results += course.grade(assignment, seed=args.seed, progress=Progress(stop=stop),
                                        workers=args.workers)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        shutil.copytree(course.root / "release", out / "release")
        if (course.root / "feedback").exists():
            shutil.copytree(course.root / "feedback", out / "feedback")
        csv_path = export.write_csv(results, out / "grades.csv", seed=course.last_seed)
    print()
    print(export.table(results, roster))
    print(summary(results))
    print(f"\nstudent versions: {out / 'release'}\nfeedback:         {out / 'feedback'}\n"
          f"grades:           {csv_path}\n(hidden tests seeded with {course.last_seed}; "
          f"{time.perf_counter() - started:.1f} s)")
    return 0


def _build(args) -> int:
    course = Course(args.course)
    course.build(args.assignments or None)
    for assignment in args.assignments or course.assignments:
        print(f"{assignment}: {course.root / 'release' / assignment}")
    return 0


def _grade(args) -> int:
    course = Course(args.course, timeout=args.timeout)
    if not course.release_path(args.assignment, course.notebooks(args.assignment)[0]).exists():
        course.build([args.assignment])
    if args.submissions:
        imported = import_folder(course, args.assignment, Path(args.submissions))
        print(f"imported {len(imported)} submission(s) from {args.submissions}")
    executor = _executor(args)
    try:
        with ctrl_c() as stop:
            results = course.grade(args.assignment, seed=args.seed, feedback=not args.no_feedback,
                                   progress=Progress(stop=stop), executor=executor, workers=args.workers)
    finally:
        if executor is not None:
            executor.shutdown()
    _save_status(course, args.assignment, results)
    export.write_csv(results, args.csv, seed=course.last_seed)
    print(export.table(results))
    print(f"\n{summary(results)}\ngrades in {args.csv}, feedback in {course.root / 'feedback'} "
          f"(hidden tests seeded with {course.last_seed})")
    return 0


def _export(args) -> int:
    course = Course(args.course)
    statuses = _load_status(course, args.assignment)
    results = []
    for student in course.students(args.assignment):
        reason = statuses.get(student, "")
        cells = [] if reason else course.cell_scores(args.assignment, student)
        results.append(Result(student, args.assignment, reason=reason, cells=cells))
    export.write_csv(results, args.csv)
    print(export.table(results))
    return 0


def import_folder(course: Course, assignment: str, folder: Path) -> list[str]:
    """Copy submissions into the course: ``folder/<student>.ipynb`` (one-notebook assignments) or
    ``folder/<student>/[<assignment>/]<notebook>.ipynb``."""
    if not folder.is_dir():
        raise SystemExit(f"no such folder: {folder}")
    notebooks = course.notebooks(assignment)
    students = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".ipynb" and len(notebooks) == 1:
            course.submit(entry.stem, assignment, {notebooks[0]: entry})
        elif entry.is_dir():
            inner = entry / assignment if (entry / assignment).is_dir() else entry
            course.submit(entry.name, assignment,
                          {p.stem: p for p in inner.glob("*.ipynb")})
        else:
            continue
        students.append(entry.stem if entry.is_file() else entry.name)
    return students


def _save_status(course: Course, assignment: str, results: list[Result]) -> None:
    path = course.root / STATUS_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(assignment, {}).update({r.student: r.reason for r in results})
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _load_status(course: Course, assignment: str) -> dict[str, str]:
    path = course.root / STATUS_FILE
    return json.loads(path.read_text()).get(assignment, {}) if path.exists() else {}


if __name__ == "__main__":
    sys.exit(main())
