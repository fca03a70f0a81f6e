"""Grading a class: in parallel, one at a time and on a Dask cluster give the same grades, and a
run killed with SIGKILL and started again completes with the same grades, nothing lost or doubled.

The class is step_sizes' demo class; its grading in parallel is the session's ``demo_class`` (graded two
at a time at ``conftest.SEED``), and this module works on a copy of it (``small_class``)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from autograder.grading import JOURNAL
from conftest import SEED, copy_course

A = "step_sizes"
EXPECTED = {"alice": 10, "bob": 0, "carol": 8, "dave": 9, "erin": 7, "frank": 9, "grace": 10}


def _scores(results):
    return {r.student: (r.status, [(c.cell, c.score) for c in r.cells]) for r in results}


@pytest.fixture(scope="module")
def small_class(demo_class, tmp_path_factory):
    """A copy of the session's demo class (every assignment), step_sizes' graded in parallel at SEED."""
    course, _, _ = demo_class
    return copy_course(course, tmp_path_factory.mktemp("class") / "course")


def test_parallel_one_at_a_time_and_dask_agree_and_a_rerun_grades_only_new_or_changed_submissions(
        demo_class, small_class):
    """The class graded in parallel (the session's demo class), one at a time and on Dask: the same
    grades. Graded once with a seed, the class is not graded again: a rerun keeps every result and the
    seed; a changed submission is graded again, alone, with the class's seed."""
    from distributed import Client, LocalCluster

    course = small_class
    parallel = [r for (assignment, _), r in demo_class[2].items() if assignment == A]
    assert sorted(r.student for r in parallel) == course.students(A)
    assert {r.student: r.auto_score for r in parallel if r.graded} == EXPECTED
    graded = []
    again = course.grade(A, workers=2, feedback=False, progress=lambda done, total, r: graded.append(r.student))
    assert graded == [] and again.seed == SEED and _scores(again) == _scores(parallel)
    serial = course.grade(A, seed=SEED, workers=1, feedback=False, regrade=True)
    assert _scores(serial) == _scores(parallel)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        on_dask = course.grade(A, seed=SEED, executor=client.get_executor(), feedback=False, regrade=True)
    assert _scores(on_dask) == _scores(parallel)
    course.submit("bob", A, {A: course.release_path(A, A).read_text() + "\n"})
    late = course.grade(A, workers=2, feedback=False, progress=lambda done, total, r: graded.append(r.student))
    assert graded == ["bob"] and late.seed == SEED


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_killed_run_resumes_with_the_same_grades(small_class, tmp_path, sig):
    course = small_class
    journal = course.root / JOURNAL / A
    shutil.rmtree(journal, ignore_errors=True)
    command = [sys.executable, "-m", "autograder", "grade", A, "--course", str(course.root),
               "--csv", str(tmp_path / "g.csv"), "--workers", "2", "--no-feedback"]
    first = subprocess.Popen(command + ["--seed", "99"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True,  # Ctrl-C as in a terminal, also when the tests run as a job started
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # with & (ignored)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(journal.glob("*.saved"))) < 2:
        time.sleep(0.05)
    first.send_signal(sig)
    _, stderr = first.communicate(timeout=120)
    if sig == signal.SIGINT:  # Ctrl-C: the running submissions finish, a word, exit 130, no traceback
        assert first.returncode == 130 and "run the same command again" in stderr, stderr
        assert "Traceback" not in stderr, stderr
    done_before = len(list(journal.glob("*.saved")))
    assert 2 <= done_before < len(EXPECTED) + 1, "the kill should land in the middle of the run"
    assert json.loads((journal / "run.json").read_text()) == {
        "seed": 99, "students": sorted(course.students(A)), "finished": False}
    # started again without a seed, it resumes the interrupted run with its seed
    assert subprocess.run(command, capture_output=True).returncode == 0
    run = json.loads((journal / "run.json").read_text())
    assert run["seed"] == 99 and run["finished"]
    results = {s: course.result(A, s) for s in course.students(A)}
    assert {s: r.auto_score for s, r in results.items() if r.graded} == EXPECTED
    assert not results["heidi"].graded
    with Gradebook(course.api.coursedir.db_url) as gb:
        assert sorted(s.student.id for s in gb.find_assignment(A).submissions) == sorted(EXPECTED)


def test_a_ctrl_c_that_nbgrader_catches_while_saving_is_passed_on(small_class, monkeypatch):
    """nbgrader's API turns every exception into {"success": False}, Ctrl-C included; the run must stop
    (and say so), not record an error or go on."""
    from autograder.job import Outcome

    class Interrupted:
        def autograde(self, assignment, student):
            return {"success": False, "error": "Traceback (most recent call last):\n  ...\nKeyboardInterrupt\n"}

    monkeypatch.setattr(small_class, "_saver", Interrupted())
    with pytest.raises(KeyboardInterrupt):
        small_class._save(Outcome("alice", A, notebooks={A: "{}"}), feedback=False)
    assert not (small_class.root / ".grading" / "staged" / "alice").exists() or \
        not any((small_class.root / ".grading" / "staged" / "alice").rglob("*.ipynb"))


def test_slots_bound_the_notebooks_that_run_at_once_while_kernels_start_meanwhile():
    """With one slot and three grading threads, the three notebooks run one after the other: their
    cells never overlap in time (the kernels start meanwhile, outside the slot)."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import nbformat

    from autograder import sandbox
    from autograder.grading import ensure_tools_on_path
    from autograder.job import Job

    ensure_tools_on_path()
    code = "import time\nprint(time.time())\ntime.sleep(0.3)\nprint(time.time())"
    job = Job("synthetic", "student", {}, {}, {}, seed=1)
    slots = threading.BoundedSemaphore(1)

    def run(_):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        ran, notes = asyncio.run(sandbox._run(nb, job, slots=slots))
        assert not notes
        start, end = map(float, "".join(o["text"] for o in ran.cells[0].outputs).split())
        return start, end

    with ThreadPoolExecutor(3) as pool:
        spans = sorted(pool.map(run, range(3)))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, f"two notebooks ran at once with one slot: {spans}"


def test_a_ctrl_c_dropped_by_python_stops_the_run_after_the_next_saved_submission(capsys):
    """Python drops a KeyboardInterrupt raised inside a garbage-collection callback (SQLAlchemy has
    some): the CLI remembers the Ctrl-C, raises it after the next saved submission, and does not
    print the dropped one as an error."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a terminal (a job started
    try:                                                                 # with & by a script ignores SIGINT)
        _drop_a_ctrl_c_in_a_gc_callback(capsys)
    finally:
        signal.signal(signal.SIGINT, before)


def _drop_a_ctrl_c_in_a_gc_callback(capsys):
    import gc
    import weakref

    from autograder.cli import Progress, ctrl_c
    from autograder.grading import Result

    class Node:
        pass

    with ctrl_c() as stop:
        progress = Progress(stop=stop)
        progress(1, 3, Result("alice", A))                  # nothing requested: goes on
        node = Node()
        ref = weakref.ref(node, lambda _: os.kill(os.getpid(), signal.SIGINT))  # Ctrl-C inside a callback
        del node
        gc.collect()
        assert ref() is None and stop.is_set()              # the interrupt was dropped, but remembered
        with pytest.raises(KeyboardInterrupt):
            progress(2, 3, Result("bob", A))
    assert "KeyboardInterrupt" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # the handler is put back


def test_a_run_started_to_ignore_ctrl_c_still_ignores_it():
    from autograder.cli import ctrl_c

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ctrl_c() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)                # ignored: no KeyboardInterrupt
            assert not stop.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
