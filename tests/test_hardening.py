"""Adversarial submissions: each gets the right grade and a message, and the class run goes on.

One class of hostile, broken and honest-but-noisy submissions of the step-size assignment is graded
once (in parallel, as an instructor would), then each case is checked. The hidden tests run in the
grader's process, so what the student's kernel does to numpy, IPython or the test code cannot forge
their verdict; the kernel runs in bubblewrap's sandbox, where neither the course's files nor
``autograder`` nor the assignment's reference solutions exist. (``test_adversarial.py`` attacks every
assignment; ``test_sandbox.py`` checks the sandbox itself.)
"""

import os
import subprocess
import sys
import time

import nbformat
import pytest

from conftest import copy_course
from week_files import step_sizes_course
from autograder import demo
from autograder.grading import Course

A = "step_sizes"
FULL = 10
SIGN_ERROR = demo.Bug("x", "", "stochastic_gradient", "return theta - a[j]", "return a[j] - theta", ())
BEFORE_SGD_TESTS = 5  # points of the tests before the sgd_iterates exercise (2 + 1 + 1 + 1)


def _cell(code):
    return nbformat.v4.new_code_cell(code)


def build(course, *, bug=None, prefix=None, after=None):
    """The reference answers, optionally with a bug, code prefixed to an answer cell, or a cell of the
    student's own inserted after a given graded cell."""
    answers = demo.reference_answers(course.root / "source" / A / f"{A}.ipynb")
    if bug:
        answers = demo.with_bug(answers, bug)
    if prefix:
        gid, code = prefix
        answers[gid] = code + "\n" + answers[gid]
    nb = nbformat.reads(demo.fill_in(course.release_path(A, A), answers), as_version=4)
    if after:
        gid, code = after
        i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
        nb.cells.insert(i + 1, _cell(code))
    return nbformat.writes(nb)


PATCH_EVERYTHING = """
import numpy as np, builtins
np.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
import autograder.checks as _c
_c.assert_matches = lambda *a, **k: None
_c.student_call = lambda fn, *a, **k: None
class _Pass(Exception):
    pass
builtins.AssertionError = _Pass
"""

CASES = {
    # id: (how to build it, expected autograded score, words expected in notes/reason or "")
    "patched_numpy_and_checks": (dict(bug=SIGN_ERROR, prefix=("stochastic_gradient", PATCH_EVERYTHING)), FULL - 2, ""),
    "strips_asserts": (dict(bug=SIGN_ERROR, after=("stochastic_gradient",
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: [l for l in lines if 'assert' not in l])")), (0, FULL - 2), ""),
    "blanks_later_cells": (dict(bug=SIGN_ERROR, after=("stochastic_gradient",
        "_ip = get_ipython()\n_orig = _ip.run_cell\n"
        "_ip.run_cell = lambda raw_cell, *a, **k: _orig('pass', *a, **k)")), 0, ""),
    "eq_always_true": (dict(prefix=("stochastic_gradient",
        "class _Any:\n    __eq__ = lambda self, other: True\n    __float__ = lambda self: 0.0\n"),
        after=("stochastic_gradient", "stochastic_gradient = lambda theta, j: _Any()")), FULL - 2, ""),
    "prints_passed": (dict(bug=SIGN_ERROR, after=("test_stochastic_gradient",
        "print('visible tests passed\\nAll tests passed! 10/10')")), FULL - 2, ""),
    # wrong, but right whenever it can tell that it is being graded: it cannot (no marker in the kernel)
    "right_only_when_it_sees_a_grading_marker": (dict(bug=SIGN_ERROR, after=("stochastic_gradient",
        "import os\nif any('NBGRADER' in k or 'GRAD' in k.upper() or 'SEED' in k.upper() for k in os.environ):\n"
        "    _wrong = stochastic_gradient\n    stochastic_gradient = lambda theta, j: -_wrong(theta, j)")),
        FULL - 2, ""),
    "imports_the_hidden_tests": (dict(after=("stochastic_gradient",
        "import autograder.checks\nautograder.checks.CheckFailed = Warning\n"
        "stochastic_gradient = lambda theta, j: theta")), FULL, ""),
    "reads_and_writes_course_files": (dict(after=("test_stochastic_gradient", "{probe}")), FULL, ""),
    "calls_the_reference": (dict(after=("stochastic_gradient",
        "from course.problems import sanity_check_sample_grad as stochastic_gradient")), FULL - 2, ""),
    "os_exit_at_the_end": (dict(after=("test_loglog_slope", "import os\nos._exit(0)")), FULL, ""),
    "os_exit_in_the_middle": (dict(after=("sgd_iterates", "import os\nos._exit(0)")), BEFORE_SGD_TESTS, "kernel died"),
    # IPython's exit() ends the kernel a little later than os._exit: graded as far as it got
    "exit_in_the_middle": (dict(after=("sgd_iterates", "exit()")), (BEFORE_SGD_TESTS, FULL - 2), "kernel died"),
    "sys_exit": (dict(after=("sgd_iterates", "import sys\nsys.exit()")), FULL, ""),
    "segfault": (dict(after=("sgd_iterates", "import ctypes\nctypes.string_at(0)")), BEFORE_SGD_TESTS, "kernel died"),
    "ignores_interrupts": (dict(after=("sgd_iterates",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")),
        BEFORE_SGD_TESTS, "did not stop when interrupted"),
    "interruptible_loop": (dict(after=("sgd_iterates", "while True:\n    pass")), FULL, ""),
    # the kernel gets its memory back after the MemoryError: a later answer that needs 500 MB works
    "memory_bomb": (dict(after=("sgd_iterates",
        "def bomb():\n    hoard = []\n    while True:\n        hoard.append(bytearray(10**8))\nbomb()"),
        prefix=("loglog_slope", "_room = bytearray(5 * 10**8)\ndel _room")), FULL, ""),
    "runaway_output": (dict(after=("sgd_iterates", "for i in range(300_000):\n    print('spam ' * 20)")), FULL, ""),
    "fork_bomb": (dict(after=("sgd_iterates",
        "import os, time\nchildren = 0\ntry:\n    for _ in range(600):\n        if os.fork() == 0:\n"
        "            time.sleep(300)\n            os._exit(0)\n        children += 1\n"
        "except OSError as error:\n    print('fork refused after', children, error)")), FULL, ""),
    "warns_but_correct": (dict(prefix=("loglog_slope", "import warnings"), after=("loglog_slope",
        "_orig_slope = loglog_slope\ndef loglog_slope(k, values):\n"
        "    np.log(np.zeros(1))  # RuntimeWarning: divide by zero\n    return _orig_slope(k, values)")), FULL, ""),
}

PROBE = """
import os, glob
found = []
for path in {paths!r}:
    try:
        with open(path, 'a') as fh:
            fh.write('hacked')
        found.append('WROTE ' + path)
    except OSError as error:
        found.append(type(error).__name__)
print(found)
print(glob.glob({course!r} + '/**', recursive=True)[:5])
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The assignment's student version, built once for the module; each test grades in a copy."""
    return step_sizes_course(tmp_path_factory)


@pytest.fixture(scope="module")
def hostile_class(built, tmp_path_factory):
    course = copy_course(built, tmp_path_factory.mktemp("hostile") / "course", timeout=5)  # hanging cases cost little
    honest = build(course)
    course.submit("honest", A, {A: honest})
    targets = [str(course.root / "gradebook.db"), str(course.root / "source" / A / f"{A}.ipynb"),
               str(course.submission_dir("honest", A) / f"{A}.ipynb")]
    for student, (recipe, _, _) in CASES.items():
        if "after" in recipe and recipe["after"][1] == "{probe}":
            recipe = dict(recipe, after=(recipe["after"][0], PROBE.format(paths=targets, course=str(course.root))))
        course.submit(student, A, {A: build(course, **recipe)})
    course.submit("shadows_modules", A, {A: honest})
    folder = course.submission_dir("shadows_modules", A)
    (folder / "numpy.py").write_text("raise ImportError('shadowed numpy')\n")
    (folder / "course").mkdir()
    (folder / "course" / "__init__.py").write_text("raise ImportError('shadowed course')\n")
    before = {t: open(t, "rb").read() for t in targets[1:]}
    processes = _ours()
    started = time.perf_counter()
    results = {r.student: r for r in course.grade(A, seed=11, workers=2, feedback=False)}
    elapsed = time.perf_counter() - started
    for student in [c for c, (_, _, words) in CASES.items() if words] + ["calls_the_reference"]:
        course.api.generate_feedback(A, student)   # the pages read below, as grading writes them
    return course, results, before, processes, elapsed


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_gets_the_right_grade_and_a_message(hostile_class, case):
    course, results, _, _, _ = hostile_class
    _, expected, words = CASES[case]
    result = results[case]
    assert result.graded, result.reason
    low, high = expected if isinstance(expected, tuple) else (expected, expected)
    assert low <= result.auto_score <= high, (case, result.auto_score, result.notes,
                                              [(c.cell, c.score) for c in result.cells])
    if words:
        assert any(words in n for n in result.notes), result.notes
        html = (course.root / "feedback" / case / A / f"{A}.html").read_text()
        assert words in html, "the feedback says why grading stopped"


def test_the_reference_call_is_flagged_in_the_feedback(hostile_class):
    course, _, _, _, _ = hostile_class
    html = (course.root / "feedback" / "calls_the_reference" / A / f"{A}.html").read_text()
    # the student's function is the library's own: the call rule names it (its body is stripped anyway)
    assert "calls course.problems.sanity_check_sample_grad" in html and "write the computation yourself" in html


def test_student_code_cannot_touch_course_files(hostile_class):
    course, results, before, _, _ = hostile_class
    for path, content in before.items():
        assert open(path, "rb").read() == content, f"{path} was changed by a submission"
    nb = nbformat.read(course.root / "autograded" / "reads_and_writes_course_files" / A / f"{A}.ipynb", 4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "WROTE" not in printed and "hacked" not in printed
    assert results["honest"].auto_score == FULL


def test_shadowing_files_are_ignored(hostile_class):
    _, results, _, _, _ = hostile_class
    result = results["shadows_modules"]
    assert result.auto_score == FULL
    assert any("extra files" in n and "numpy.py" in n for n in result.notes)


def test_runaway_output_is_capped(hostile_class):
    course, _, _, _, _ = hostile_class
    path = course.root / "autograded" / "runaway_output" / A / f"{A}.ipynb"
    assert path.stat().st_size < 5_000_000
    assert "output truncated by the grader" in path.read_text()


def _ours() -> set[int]:
    """The processes under this one (a kernel's, its sandbox's and whatever they started) and those handed to
    init (an escaped process would be), not another pytest-xdist worker's, which runs test files of its own."""
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parents[int(entry)] = int(fh.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError):
            continue
    found, new = {pid for pid, parent in parents.items() if parent == 1}, {os.getpid()}
    while new:
        new = {pid for pid, parent in parents.items() if parent in new} - found
        found |= new
    return found


def test_nothing_is_left_running(hostile_class, capsys):
    _, results, _, processes, elapsed = hostile_class
    time.sleep(1)
    assert len(_ours() - processes) < 30, "processes of a submission survived grading"
    with capsys.disabled():
        print(f"\nhostile class: {len(results)} submissions graded in {elapsed:.1f} s (feedback off)")


# -- what a kernel prints does not grow the grader (issue 21, 3) -------------------------------------------

NOISY_CELL = "for _ in range(150):\n    print('x' * 2 ** 21, flush=True)"  # one 2 MB message each
NOISY_ANSWER = ("_quiet = stochastic_gradient\ndef stochastic_gradient(theta, j):\n    for _ in range(5):\n"
                "        print('y' * 2 ** 21)\n    return _quiet(theta, j)\n")
GRADE_AND_REPORT = """
import sys
from autograder.grading import Course
course = Course(sys.argv[1], timeout=60)
result = course.grade(sys.argv[2], seed=5, workers=1, feedback=False)[0]
peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM')][0].split()[1]
print('RESULT', result.status, result.auto_score, peak)
"""


def _start_grading(built, root, notebook):
    """One submission (``notebook(course)``) in a copy of ``built`` at ``root``, graded by a grading process
    of its own: that process, started."""
    course = copy_course(built, root)
    course.submit("student", A, {A: notebook(course)})
    return subprocess.Popen([sys.executable, "-c", GRADE_AND_REPORT, str(course.root), A], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _peak_kb(grading):
    """(status, score, the grading process's peak resident memory in kB: VmHWM, the grader alone, not
    its kernels) of a process of ``_start_grading``."""
    out, err = grading.communicate(timeout=900)
    line = [l for l in out.splitlines() if l.startswith("RESULT")]
    assert line, err[-3000:]
    _, status, score, peak = line[0].split(" ")
    return status, float(score), int(peak)


def test_the_graders_memory_does_not_grow_with_what_the_kernel_prints(built, tmp_path):
    """A cell that prints 150 messages of 2 MB (each below what the grader's output socket takes), and a
    graded function that prints 5 x 2 MB every time it is called (the grader used to queue all of it
    unread: a grader whose call client subscribes to the output channel grows by some 350 MB here): the
    grader's peak memory stays within a fixed margin of a quiet class's. The two classes are graded at
    once, each by a process of its own. (The per-cell output cap is ``test_runaway_output_is_capped``'s.)"""
    def noisy(course):
        nb = nbformat.reads(build(course, after=("stochastic_gradient", NOISY_ANSWER)), as_version=4)
        nb.cells.insert(len(nb.cells) - 1, _cell(NOISY_CELL))
        return nbformat.writes(nb)
    quiet_grading = _start_grading(built, tmp_path / "quiet", build)
    loud_grading = _start_grading(built, tmp_path / "loud", noisy)
    status, score, quiet = _peak_kb(quiet_grading)
    assert status == "graded" and score == FULL
    status, score, loud = _peak_kb(loud_grading)
    assert status == "graded" and score == FULL, "printing costs no points"
    assert loud - quiet < 150 * 1024, f"the grader's peak grew from {quiet // 1024} MB to {loud // 1024} MB"


def test_a_submission_the_grader_cannot_save_is_not_graded_and_the_class_goes_on(built, tmp_path, monkeypatch):
    """Any exception while saving one submission (nbgrader's validator, say) makes that submission
    "could not be graded: <reason>"; everyone else is graded, and the next run grades it again."""
    course = copy_course(built, tmp_path / "course", timeout=30)
    for student in ("alice", "bob"):
        course.submit(student, A, {A: build(course)})
    save = Course._save

    def failing_for_bob(self, outcome, feedback):
        if outcome.student == "bob" and not outcome.reason:
            raise ValueError("grade_id is empty")
        return save(self, outcome, feedback)

    monkeypatch.setattr(Course, "_save", failing_for_bob)
    results = {r.student: r for r in course.grade(A, seed=1, workers=2, feedback=False)}
    assert results["alice"].graded and results["alice"].auto_score == FULL
    assert results["bob"].status.startswith("could not be graded") and "grade_id is empty" in results["bob"].reason
    monkeypatch.setattr(Course, "_save", save)
    again = {r.student: r for r in course.grade(A, feedback=False)}
    assert again["bob"].graded and again["bob"].auto_score == FULL and again["alice"].auto_score == FULL
