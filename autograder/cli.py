"""The instructor's and the student's command: ``sgd-course``.

    sgd-course demo                      build every assignment, grade the demo class, print the grades
    sgd-course build [ASSIGNMENT ...]    generate the student versions (release/); --force to overwrite
    sgd-course build --student-edition OUT [--released A,B]   the student edition: a wheel and a zip to hand out
    sgd-course fetch ASSIGNMENT          a student's own copy to work in (work/<assignment>/)
    sgd-course lab [--instructor]        JupyterLab for students (or with the formgrader, for instructors)
    sgd-course check NOTEBOOK            a student's self-check
    sgd-course grade ASSIGNMENT --submissions FOLDER --csv grades.csv [--roster FILE] [--workers N]
    sgd-course export ASSIGNMENT --csv grades.csv [--format moodle|canvas]

``--course DIR`` is an nbgrader course directory (default: this clone's notebooks/ folder). This module
parses the arguments, checks them and calls: importing a learning platform's download is ``lms``'s,
grading ``grading``'s, the class's rows and CSVs ``export``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import shutil
import os
import secrets
import shlex
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from . import edition, export, jail, lms, selfcheck
from .selfcheck import positive_int
from .feedback import write_not_graded
from .grading import (JOURNAL, NO_SUBMISSION, REPO_SOURCE, BuildRefused, Course, Result, SandboxUnavailable,
                      UnknownAssignment)
from .journal import Journal

DESCRIPTION = """Build the student versions of the sgd-course assignments, check a notebook, grade a
class's submissions with nbgrader and export the grades. Run "sgd-course COMMAND --help" for the
options of a command."""
DEMO_MARK = ".sgd-course-demo"
"""A file in a folder that ``sgd-course demo`` made: only such a folder is replaced by the next demo."""


class UserError(Exception):
    """A mistake of the user's: printed as one line, exit status 2, no traceback."""


def main(argv=None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "lab":  # the rest goes to jupyter lab
        args.lab_args = [a for a in extra if a != "--"]
        if args.folder.startswith("-"):  # an option of jupyter lab's after "--", not a folder
            args.lab_args.insert(0, args.folder)
            args.folder = "work"
    # nbgrader 0.9.6 with SQLAlchemy 2 prints harmless autoflush notices while recording grades
    warnings.filterwarnings("ignore", message="Object of type .* not in session")
    try:
        refused = edition.refusal(args.command, instructor=getattr(args, "instructor", False))
        if refused:
            raise UserError(refused)
        return args.run(args)
    except (UserError, UnknownAssignment, BuildRefused, SandboxUnavailable, lms.ImportRefused) as error:
        print(f"sgd-course {args.command}: error: {error}", file=sys.stderr)  # one line; the course untouched
        return 1 if isinstance(error, (BuildRefused, lms.ImportRefused)) else 2
    except KeyboardInterrupt:  # Ctrl-C: the submissions that were running are graded again next time
        if args.run is _grade and args.regrade:
            print("\ninterrupted: every submission finished so far is saved; to grade the rest without "
                  f"regrading what is finished, run: {_resume_command(args)}", file=sys.stderr)
        elif args.run is _grade:
            print("\ninterrupted: every submission finished so far is saved; run the same command again "
                  "to grade the rest (with the same seed)", file=sys.stderr)
        else:
            print("\ninterrupted", file=sys.stderr)
        return 130


def _resume_command(args) -> str:
    """The ``grade`` command that goes on with an interrupted ``--regrade`` run: the same one without
    ``--regrade`` (the run forgot every earlier grade when it started, and keeps its seed)."""
    words = ["sgd-course", "grade", args.assignment, "--course", args.course, "--csv", args.csv]
    for option in ("roster", "timeout", "workers", "dask"):
        if getattr(args, option, None) is not None:
            words += [f"--{option}", str(getattr(args, option))]
    words += ["--no-feedback"] * bool(args.no_feedback) + ["--unsafe-no-sandbox"] * bool(args.unsafe_no_sandbox)
    return shlex.join(words)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgd-course", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {edition.version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    course_arg = dict(default=str(REPO_SOURCE.parent), help="nbgrader course directory, the folder holding "
                      "source/<assignment>/ (default: %(default)s)")
    seed_help = ("seed of the hidden tests' random inputs (default: the seed the class was graded with, "
                 "a fresh one for a new class)")
    workers_help = "submissions graded at once (default: one per core)"

    p = sub.add_parser("demo", help="build all assignments and grade a small demo class")
    p.add_argument("--out", default="sgd-course-demo", help="folder for the student versions, feedback and "
                   "grades.csv; must be new, empty or made by an earlier demo (default: %(default)s)")
    p.add_argument("--seed", type=int, help="seed of the hidden tests' random inputs, for every assignment "
                   "(default: a fresh one, the same for every assignment)")
    p.add_argument("--workers", type=positive_int, help=workers_help)
    p.add_argument("--unsafe-no-sandbox", action="store_true", help="grade even where bubblewrap cannot run: "
                   "student code then runs with your rights, unsandboxed (every submission's notes say so)")
    p.set_defaults(run=_demo)

    p = sub.add_parser("build", help="generate the student versions (release/), or the student edition")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignments to build (default: all)")
    p.add_argument("--course", **course_arg)
    p.add_argument("--force", action="store_true", help="overwrite student versions that differ from what "
                   "would be written (someone worked in them)")
    p.add_argument("--student-edition", metavar="OUT", help="write the student edition into the folder OUT "
                   "(new, or made by an earlier edition build): a wheel without the solutions of the "
                   "assignments not released, and a zip with it, the student versions and a README")
    p.add_argument("--released", default="", metavar="A,B,...", help="with --student-edition: the assignments "
                   "whose solutions the edition holds (their deadline has passed; default: none)")
    p.set_defaults(run=_build)

    p = sub.add_parser("fetch", help="copy an assignment's student version into your own work folder "
                       "(never overwrites a file)")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to fetch")
    p.add_argument("--course", **course_arg)
    p.add_argument("--to", default="work", help="your work folder (default: %(default)s); the notebooks go "
                   "to <folder>/<assignment>/")
    p.set_defaults(run=_fetch)

    p = sub.add_parser("lab", help="start JupyterLab in a work folder with this course's nbgrader settings",
                       description="Start JupyterLab with this course's nbgrader settings. Options this command "
                       "does not know go to jupyter lab (sgd-course lab --no-browser --port=8890).")
    p.add_argument("folder", nargs="?", default="work", help="folder to open (default: %(default)s; "
                   "with --instructor: the course directory)")
    p.add_argument("--instructor", action="store_true", help="the instructor's set-up: the course "
                   "directory with the formgrader and the Create Assignment panel")
    p.add_argument("--course", **course_arg)
    p.set_defaults(run=_lab)

    p = sub.add_parser("grade", help="autograde the submissions of one assignment")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to grade")
    p.add_argument("--course", **course_arg)
    p.add_argument("--submissions", metavar="FOLDER", help="submissions to import first: a folder (or .zip) "
                   "of <student>.ipynb files, <student>/ folders, a Moodle download (<Full Name>_<id>_"
                   "assignsubmission_file_/ folders, or <Full Name>_<id>_assignsubmission_file_<file> files) "
                   "or a Canvas download (<sortable name slug>_[LATE_]<user id>_<attachment id>_<file>.ipynb)")
    p.add_argument("--student-id", choices=lms.ID_CHOICES, default="id", help="which id of a learning "
                   "platform's download names a student: its numeric id or (Canvas) the login (default: %(default)s)")
    p.add_argument("--roster", metavar="CSV", help="the class list: nbgrader's (id,first_name,last_name,email), "
                   "a Canvas gradebook export or a Moodle grading worksheet (English or German); students "
                   "without a submission appear as 'no submission'; export fills in this file")
    p.add_argument("--csv", default="grades.csv", help="where to write the grades (default: %(default)s)")
    p.add_argument("--seed", type=int, help=seed_help)
    p.add_argument("--timeout", type=positive_int, help="seconds a cell may run (default: 60)")
    p.add_argument("--workers", type=positive_int, help=workers_help)
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster (tcp://scheduler:8786)")
    p.add_argument("--regrade", action="store_true", help="grade every submission again (default: only new "
                   "or changed submissions, those graded with another seed, and those the grader itself could "
                   "not grade, such as a kernel that did not start); also lets an import replace a graded "
                   "submission with one that cannot be graded")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student again "
                   "(repeatable), with the class's seed")
    p.add_argument("--no-feedback", action="store_true", help="do not write feedback pages")
    p.add_argument("--unsafe-no-sandbox", action="store_true", help="grade even where bubblewrap cannot run: "
                   "student code then runs with your rights, unsandboxed (every submission's notes say so)")
    p.set_defaults(run=_grade)

    selfcheck.add_arguments(sub.add_parser(
        "check", help="a student's self-check: run a notebook's tests, exit 1 if one fails"))

    p = sub.add_parser("export", help="write the grades CSV from the gradebook (manual grades included), "
                       "and a learning platform's grade import")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to export")
    p.add_argument("--course", **course_arg)
    p.add_argument("--csv", default="grades.csv", help="the per-cell grades CSV (default: %(default)s)")
    p.add_argument("--format", choices=("csv", "moodle", "canvas"), default="csv", help="also write the grade "
                   "import of this learning platform, beside --csv as <name>-<format>.csv (default: %(default)s: "
                   "only the per-cell CSV)")
    p.add_argument("--canvas-column", metavar="NAME", help="Canvas: the gradebook column to fill, as Canvas "
                   "names it, 'Step sizes (12345)' (default: the class list's column of the assignment, else "
                   "the assignment's name, which makes a new column)")
    p.add_argument("--roster", metavar="CSV", help="Moodle: the grading worksheet you downloaded, filled in "
                   "with its own columns, language and maximum grade; Canvas: the gradebook export whose "
                   "assignment column is filled (default: the class list the last grade --roster read)")
    p.set_defaults(run=_export)
    return parser


class Progress:
    """A progress bar on stderr with the estimated time left: one line redrawn on a terminal, one line per
    finished submission otherwise (a log file, CI). With ``stop`` (an Event), it raises
    KeyboardInterrupt after a submission is saved once ``stop`` is set (see ``ctrl_c``)."""

    def __init__(self, stream=None, width=30, stop=None):
        self.stream, self.width, self.stop = stream or sys.stderr, width, stop
        self.started = time.perf_counter()
        self.count = self.ran = 0  # submissions finished in this run; of those, run in a kernel
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty and isatty())

    def left(self, done, total) -> str:
        """The time left, from the submissions that ran in a kernel (one that could not be read
        finishes at once and says nothing about the rest): "?" until one did."""
        if not self.ran:
            return "   ?"
        return f"{(total - done) * (time.perf_counter() - self.started) / self.ran:4.0f}"

    def __call__(self, done, total, result: Result):
        self.count += 1
        self.ran += bool(result.graded)
        left = self.left(done, total)
        mark = "graded" if result.graded else "NOT GRADED"
        if self.terminal:
            bar = "#" * round(self.width * done / max(total, 1))
            print(f"\r[{bar:<{self.width}}] {done}/{total}  ~{left} s left  "
                  f"{result.student[:20]}: {mark:<10}", end="\n" if done == total else "",
                  file=self.stream, flush=True)
        else:
            print(f"{done}/{total} ~{left.strip()} s left  {result.student}: {mark}", file=self.stream, flush=True)
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


def summary(results: list[Result], choices=()) -> str:
    """How many were graded (and of those, how many scored zero), why the others could not be (advice
    to a student once, however many of their submissions it concerns), which file was chosen where a
    student handed in several (``choices``), and ids that look alike."""
    missing = [r for r in results if r.reason == NO_SUBMISSION]
    results = [r for r in results if r.reason != NO_SUBMISSION]
    graded = [r for r in results if r.graded]
    zero = [r for r in graded if r.auto_score == 0]
    lines = [f"{len(graded)} graded ({len(zero)} with zero autograded points), "
             f"{len(results) - len(graded)} could not be graded"
             + (f", {len(missing)} on the roster handed nothing in" if missing else "")]
    several = len({r.assignment for r in results}) > 1
    told = set()
    for r in (r for r in results if not r.graded):
        reason, _, advice = r.reason.partition("; ")
        if advice and (r.student, advice) not in told:
            told.add((r.student, advice))
            reason = r.reason
        lines.append(f"  {r.assignment + '/' if several else ''}{r.student}: could not be graded: {reason}")
    lines += [f"  {choice}" for choice in choices]
    for group in lms.look_alike(r.student for r in results + missing):
        lines.append(f"  warning: the ids {', '.join(map(ascii, group))} look alike (they differ only in "
                     "Unicode normalisation or case): one student or several? Their rows look the same "
                     "in a spreadsheet")
    return "\n".join(lines)


# -- the course, the assignment, the gradebook: checked before anything is written -------------------------

def _course(args, *, timeout=None) -> Course:
    """The course directory of ``--course``, checked; raises UserError in words."""
    root = Path(args.course).expanduser()
    if root.is_file():
        raise UserError(f"--course {root} is a file; give the course directory (the folder holding source/)")
    if not root.is_dir():
        where = (f"this clone's is {REPO_SOURCE.parent}" if REPO_SOURCE.is_dir() else
                 "this installation has none: the notebooks are not in the package's wheel")
        raise UserError(f"no course directory at {root}; give the folder holding source/<assignment>/ "
                        f"with --course ({where})")
    source = root / "source"
    if not source.is_dir() or not any(source.glob("*/*.ipynb")):
        raise UserError(f"{root} is not a course directory: it has no source/<assignment>/*.ipynb "
                        f"(this clone's course is {REPO_SOURCE.parent})")
    return Course(root, timeout=timeout, unsafe_no_sandbox=getattr(args, "unsafe_no_sandbox", False))


def _assignment(course: Course, assignment: str) -> str:
    if assignment not in course.assignments:
        close = difflib.get_close_matches(assignment, course.assignments, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise UserError(f"no assignment {assignment!r} in {course.root}; the assignments are: "
                        f"{', '.join(course.assignments)}.{hint}")
    return assignment


def _gradebook(course: Course) -> Path:
    return Path(course.api.coursedir.db_url.replace("sqlite:///", "", 1))


def _need_gradebook(course: Course) -> None:
    if _gradebook(course).exists():
        return
    if any((course.root / folder).exists() for folder in (JOURNAL, "submitted", "autograded")):
        raise UserError(f"no gradebook at {_gradebook(course)} (deleted?): run `sgd-course build --course "
                        f"{course.root}` to make it again, then grade")
    raise UserError(f"no gradebook at {_gradebook(course)} yet: nothing was built or graded in this course; "
                    f"run `sgd-course build --course {course.root}`, then grade")


def _executor(args):
    """A Dask cluster's executor when --dask is given; None means this machine's grading threads."""
    if not getattr(args, "dask", None):
        return None
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--dask needs dask.distributed: pip install 'sgd-course[cluster]'") from None
    try:
        return Client(args.dask, timeout="5s").get_executor()
    except (OSError, TimeoutError, ValueError) as error:
        raise UserError(f"no Dask scheduler answers at {args.dask} ({type(error).__name__}: {error}); "
                        "start one (dask scheduler) or grade on this machine without --dask") from None


# -- commands ---------------------------------------------------------------------------------------------

def _demo(args) -> int:
    from . import demo  # the demo bugs: not in the student edition, which refuses this command
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARK).exists():
        raise UserError(f"--out {out} is not empty and was not made by sgd-course demo: not touching it; "
                        "give a new or empty folder")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sgd-course-demo-") as tmp:
        # the demo grades the course's own demo class, not strangers' work: without bubblewrap it says
        # so and grades it unsandboxed (sgd-course grade refuses that without --unsafe-no-sandbox)
        missing = jail.available()
        if missing and not args.unsafe_no_sandbox:
            print(f"note: {missing}; the demo's own submissions are graded without a sandbox "
                  "(sgd-course grade refuses to grade students' work that way)", flush=True)
        course = Course.from_sources(tmp, unsafe_no_sandbox=args.unsafe_no_sandbox or bool(missing))
        print(f"building the student versions of {', '.join(course.assignments)} ...", flush=True)
        course.build()
        results, roster, seeds = [], {}, {}
        # one seed for the whole demo (each assignment's journal would draw its own)
        seed = args.seed if args.seed is not None else secrets.randbits(32)
        for assignment in course.assignments:
            roster.update({(assignment, student): what for student, what
                           in demo.submit_demo_class(course, assignment).items()})
            print(f"grading the demo class of {assignment} ...", flush=True)
            with ctrl_c() as stop:
                graded = course.grade(assignment, seed=seed, progress=Progress(stop=stop), workers=args.workers)
            results += graded
            seeds.update(_seeds(course, assignment, graded))
        _feedback_for_the_ungraded(course, results)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / DEMO_MARK).write_text("made by sgd-course demo: the next demo replaces this folder\n")
        shutil.copytree(course.root / "release", out / "release")
        if (course.root / "feedback").exists():
            shutil.copytree(course.root / "feedback", out / "feedback")
        csv_path = export.write_csv(results, out / "grades.csv", seeds=seeds)
    used = sorted({s for s in seeds.values() if s is not None})
    print()
    print(export.table(results, roster))
    print(summary(results))
    print(f"\nstudent versions: {out / 'release'}\nfeedback:         {out / 'feedback'}\n"
          f"grades:           {csv_path}\n(hidden tests seeded with {', '.join(map(str, used)) or seed}; "
          f"{time.perf_counter() - started:.1f} s)")
    return 0


def _build(args) -> int:
    if args.student_edition is not None:
        return _build_edition(args)
    if args.released:
        raise UserError("--released goes with --student-edition OUT")
    course = _course(args)
    for assignment in args.assignments:
        _assignment(course, assignment)
    course.build(args.assignments or None, force=args.force)
    for assignment in args.assignments or course.assignments:
        print(f"{assignment}: {course.root / 'release' / assignment}")
    return 0


def _build_edition(args) -> int:
    if args.assignments or args.force:
        raise UserError("--student-edition builds every assignment: give no ASSIGNMENT and no --force")
    course = _course(args)
    released = [name.strip() for name in args.released.split(",") if name.strip()]
    try:
        wheel, archive = edition.build(args.student_edition, released, source=course.root)
    except ValueError as error:
        raise UserError(f"--released: {error}") from None
    except edition.EditionRefused as error:
        raise BuildRefused(str(error)) from None
    print(f"student edition {edition.edition_version(edition.released_names(released))}:\n"
          f"  wheel: {wheel}\n  zip:   {archive} (the wheel, the student versions and a README for students)")
    return 0


STUDENT_CONFIG = '''\
# nbgrader settings for JupyterLab's Validate button in this folder (written by sgd-course fetch)
from autograder.config import student_config

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(student_config())
'''


def _release(args) -> Path:
    """The student version of ``args.assignment`` to fetch: the student edition's own, or the course's
    (built when missing)."""
    if edition.installed() is not None and args.course == str(REPO_SOURCE.parent):
        shipped = edition.release_folder()
        names = sorted(p.name for p in shipped.iterdir() if p.is_dir())
        if args.assignment not in names:
            raise UnknownAssignment(args.assignment, names)
        return shipped / args.assignment
    course = _course(args)
    assignment = _assignment(course, args.assignment)
    if not all(course.release_path(assignment, n).exists() for n in course.notebooks(assignment)):
        course.build([assignment])
    return course.root / "release" / assignment


def _fetch(args) -> int:
    """Copy release/<assignment>/ to <to>/<assignment>/: files that are there already are kept."""
    assignment = args.assignment
    release = _release(args)
    target = Path(args.to) / assignment
    kept, copied = [], []
    for path in sorted(release.rglob("*")):
        if path.is_dir():
            continue
        dest = target / path.relative_to(release)
        if dest.exists():
            kept.append(dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        copied.append(dest)
    config = Path(args.to) / "nbgrader_config.py"
    if not config.exists():
        config.write_text(STUDENT_CONFIG)
    for dest in copied:
        print(f"fetched {dest}")
    for dest in kept:
        print(f"kept your {dest} (already there; delete it to fetch a fresh copy)")
    print(f"work in {target}: sgd-course lab {args.to}   (or: jupyter lab {args.to})")
    return 0


def _lab(args) -> int:
    """jupyter lab with this course's settings: students get neither the formgrader nor the Create
    Assignment panel; ``--instructor`` opens the course directory with both."""
    from .config import jupyter_env
    extra = args.lab_args
    if args.instructor:
        course = _course(args)
        course.make_exchange()
        folder, cwd = course.root, course.root
    else:
        folder = Path(args.folder)
        if not folder.is_dir():
            raise UserError(f"no folder {folder}: fetch an assignment first (sgd-course fetch ASSIGNMENT)")
        cwd = folder
    env = jupyter_env(instructor=args.instructor)
    if os.geteuid() == 0 and not any(a.startswith(("--allow-root", "--ServerApp.allow_root")) for a in extra):
        print("note: running as root (a container or a JupyterHub image?): JupyterLab starts with --allow-root",
              file=sys.stderr)
        extra = ["--allow-root", *extra]
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(folder).resolve()}", *extra]
    os.chdir(cwd)  # nbgrader reads nbgrader_config.py from the folder JupyterLab runs in
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)  # becomes jupyter lab: Ctrl-C and signals reach it directly


def _download(path: Path, stack: contextlib.ExitStack) -> tuple[Path, dict | None]:
    """``lms.open_download`` of ``--submissions``; raises UserError in words."""
    try:
        return lms.open_download(path, stack)
    except lms.BadDownload as error:
        raise UserError(f"--submissions {error}") from None


def _read_roster(path: Path, *, id_from: str = "id") -> list[lms.Student]:
    try:
        return lms.read_roster(path, id_from=id_from)
    except (ValueError, KeyError) as error:
        raise UserError(f"--roster {path}: {error}") from None
    except OSError as error:
        raise UserError(f"--roster {path}: cannot be read ({error.strerror or error})") from None


def _seeds(course: Course, assignment: str, results: list[Result]) -> dict[tuple[str, str], int | None]:
    """(assignment, student) -> the seed the journal says the student was graded with."""
    journal = Journal(course.root / JOURNAL / assignment)
    return {(assignment, r.student): journal.graded_seed(r.student) for r in results}


def _canvas_logins(course: Course, args) -> dict[str, str]:
    """Canvas user id -> login, for ``--student-id login``: from --roster (a Canvas gradebook export)
    or the class list an earlier run imported. A Canvas download names its files by a slug of the
    student's sortable name (``lovelaceada``) and the user id, never by the login."""
    if args.roster:
        students = _read_roster(Path(args.roster), id_from="login")
    else:
        students = lms.load_roster(course.root)
    logins = lms.canvas_logins(students)
    if not logins:
        raise UserError("--student-id login needs Canvas's gradebook export as --roster (its SIS Login ID "
                        "column): a Canvas download names files by the student's sortable name and Canvas "
                        "user id, not by the login; or grade with the user id (--student-id id)")
    return logins


def _grade(args) -> int:
    course = _course(args, timeout=args.timeout)
    assignment = _assignment(course, args.assignment)
    choices = []
    with contextlib.ExitStack() as stack:
        folder, times = _download(Path(args.submissions), stack) if args.submissions else (None, None)
        logins = _canvas_logins(course, args) if folder is not None and args.student_id == "login" else None
        if not all(course.release_path(assignment, n).exists() for n in course.notebooks(assignment)):
            course.build([assignment])
        _need_gradebook(course)
        roster = None
        if args.roster:
            path = Path(args.roster)
            roster = lms.import_roster(course, _read_roster(path, id_from=args.student_id), path)
            print(f"roster: {len(roster)} student(s) from {args.roster}")
        if folder is not None:
            imported, choices = lms.import_folder(course, assignment, folder, id_from=args.student_id, logins=logins,
                                                  times=times, replace=True if args.regrade else set(args.student or ()))
            print(f"imported {len(imported)} submission(s) from {args.submissions}")
            strangers = sorted(set(imported) - {s.id for s in roster}) if roster else []
            if strangers:
                print(f"warning: submitted but not on the roster {args.roster}: {', '.join(strangers)} "
                      "(graded all the same; a typo in an id, or --student-id?)", file=sys.stderr)
    if not course.students(assignment):
        print(f"no submissions of {assignment} in {course.root / 'submitted'} yet: import them with "
              "--submissions FOLDER", file=sys.stderr)
    students = None
    if args.student:
        unknown = [s for s in args.student if s not in course.students(assignment)]
        if unknown:
            raise UserError(f"no submission of {assignment} from {', '.join(map(repr, unknown))}; "
                            f"the students who submitted are: {', '.join(course.students(assignment)) or '(none)'}")
        students = args.student
    executor = _executor(args)
    try:
        with ctrl_c() as stop:
            progress = Progress(stop=stop)
            seed = course.grade(assignment, students, seed=args.seed, feedback=not args.no_feedback,
                                progress=progress, executor=executor, workers=args.workers,
                                regrade=bool(args.regrade or args.student)).seed
    finally:
        if executor is not None:
            executor.shutdown()
    results = export.class_results(course, assignment)
    if not args.no_feedback:
        _feedback_for_the_ungraded(course, results)
    results = export.all_results(course, assignment)
    export.write_csv(results, args.csv, seeds=_seeds(course, assignment, results))
    if not progress.count and course.students(assignment):
        print(f"nothing new: {len(course.students(assignment))} unchanged (use --regrade to grade everyone "
              "again, --student ID for one student, --seed N for other inputs)")
        print("\n".join(f"  {choice}" for choice in choices) + "\n" * bool(choices), end="")
        print(f"grades in {args.csv} (as before), feedback in {course.root / 'feedback'}")
        return 0
    print(export.table(results))
    print(f"\n{summary(results, choices)}\ngrades in {args.csv}, feedback in {course.root / 'feedback'} "
          f"(hidden tests seeded with {seed})")
    return 0


def _feedback_for_the_ungraded(course: Course, results: list[Result]) -> None:
    """A submission that could not be graded still gets a feedback page that says why."""
    for r in results:
        if not r.graded and r.reason != NO_SUBMISSION:
            for notebook in course.notebooks(r.assignment):
                write_not_graded(course.feedback_path(r.student, r.assignment, notebook), notebook, r.reason, r.notes)


def _export(args) -> int:
    course = _course(args)
    assignment = _assignment(course, args.assignment)
    _need_gradebook(course)
    journal = Journal(course.root / JOURNAL / assignment)
    if journal.run() is None:
        raise UserError(f"{assignment} has not been graded yet in {course.root}: nothing to export. Grade it "
                        f"first: sgd-course grade {assignment} --submissions DOWNLOAD")
    sheet = _export_sheet(course, args)
    results = export.all_results(course, assignment)
    csv_path = Path(args.csv)
    if args.format != "csv":
        target = csv_path.with_name(f"{csv_path.stem}-{args.format}.csv")
        column = args.canvas_column or lms.canvas_column(sheet, assignment) or assignment
        try:
            pending = export.write_lms(args.format, results, target, names=course.roster(),
                                       extra={s.id: s for s in lms.load_roster(course.root)}, column=column,
                                       sheet=sheet)
        except lms.CannotScale as error:
            raise UserError(str(error)) from None
    export.write_csv(results, csv_path, seeds=_seeds(course, assignment, results))
    print(export.table(results))
    print(f"\ngrades in {csv_path}")
    if args.format == "moodle":
        filled = f"the worksheet {sheet.path.name} filled in" if sheet and sheet.moodle else "a new worksheet"
        print(f"moodle grade import in {target} ({filled}): Moodle, the assignment, \"Upload grading worksheet\"")
        _moodle_feedback(course, assignment, results, csv_path.with_name(f"{csv_path.stem}-moodle-feedback.zip"))
    elif args.format == "canvas":
        print(f"canvas grade import in {target}, column {column!r}"
              + (" (the assignment's column in the gradebook export)" if column != (args.canvas_column or assignment)
                 else " (a new column)" if not args.canvas_column else ""))
    if args.format != "csv" and pending:
        print(f"note: {pending} student(s) have written answers not graded yet: their grade leaves them "
              "out (grade them in the formgrader, then export again)")
    return 0


def _export_sheet(course: Course, args) -> lms.Sheet | None:
    """The platform's class list to fill in: ``--roster``, else the one the last ``grade --roster`` read."""
    path = Path(args.roster) if args.roster else lms.saved_sheet(course.root)
    if path is None:
        return None
    try:
        return lms.read_sheet(path)
    except ValueError as error:
        raise UserError(f"--roster {path}: {error}") from None
    except OSError as error:
        raise UserError(f"--roster {path}: cannot be read ({error.strerror or error})") from None


def _moodle_feedback(course: Course, assignment: str, results: list[Result], target: Path) -> None:
    """The feedback pages as a zip for Moodle's "Upload multiple feedback files in a zip"."""
    roster = course.roster()
    pages = {}
    for r in results:
        files = sorted((course.root / "feedback" / r.student / assignment).glob("*.html"))
        first, last, _ = roster.get(r.student, (None, None, None))
        pages[r.student] = (" ".join(x for x in (first, last) if x), files)
    path, count = lms.moodle_feedback_zip(pages, target)
    print(f"feedback pages of {count} student(s) in {path}: Moodle, the assignment, \"Upload multiple "
          "feedback files in a zip\"")


if __name__ == "__main__":
    sys.exit(main())
