"""The public adversarial suite: hostile submissions of all five assignments, graded as an instructor
grades them (``sgd-course grade``), each checked against the promises of DESIGN.md ("Grading
contract", "Trust boundary") and the README ("How a class is graded").

For every assignment, one class is graded: the honest answers, the untouched handout, one student per
hostile attack and one per attack on the run itself (kills, crashes, malformed metadata, an odd student
id), by one ``sgd-course grade`` command in a child process, two classes at a time (an attack that kills
the grader kills that command, never pytest; a killed run is resumed by the same command, at most
twice). Each assignment gets several attacks of every kind, rotated so that every attack runs on some
assignment (``PER_KIND``, ``attacks.roster``; every metadata student's notebook holds every malformed
variant): about 30 students a class keeps the whole file at a few minutes. The attacks (tests/attacks.py, tests/attack_kernel.py) get worst-case
knowledge: the absolute paths of the course folders, of a second course's gradebook, of the CSV, the
test's open ports, the grading seed to look for. An attack that gets something it should not turns
it into grade, so a leak shows up as a score above the plain wrong answer's.

Checked for each: honest work gets full marks; nothing dishonest scores above the plain wrong answer
(autograded totals, in the gradebook and in the CSV); no file outside the submission's own folders
changes (the course's source/ and release/, other students' files, the gradebook, a second course,
the CSV after the run); no process an attack started survives the run (found by the marker it
carries in its name, command line or environment); the run completes in one go and every student has
a result; no grade_id or file name becomes a live tag in the feedback; the grading seed and any
grading marker stay out of the kernel's reach. One class is also graded with one worker and with two: same grades.

Many of these fail until the sandbox and the grader/kernel protocol are rebuilt (issue 12); they are
not marked as expected failures on purpose.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import attacks as adv
from autograder.grading import REPO_SOURCE, Course, Result
from autograder.journal import key as journal_key

ASSIGNMENTS = sorted(p.name for p in REPO_SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
REPO = REPO_SOURCE.parent.parent
SEED = 2718281828            # the grading seed of every run here (the seed attacks look for it)
TIMEOUT = 5                  # seconds per cell and per call: hanging attacks cost little. The honest work's
                             # slowest cell took 0.77 s and its slowest call 0.18 s on this 2-core machine
                             # at a load average of 66 (6x margin)
WORKERS = 2
CLASSES_AT_ONCE = 2           # class commands graded at the same time
COMMAND_LIMIT = 900          # seconds a class command may take before it is killed (and resumed): a class
                             # took 75-100 s on a quiet machine, up to 463 s at a load average of 40-70
HONEST, HANDOUT = "honest", "handout"
# attacks of each kind per assignment (the others of that kind run on the other assignments)
PER_KIND = {"sandbox escape": 4, "forged verdict": 3, "dying inside a test cell": 2, "reaching the reference": 2,
            "changing the grader's inputs": 1, "stale results": 1, "grading seed": 1, "grading marker": 1,
            "feedback HTML injection": 1,
            "crashing the whole run": 3, "odd student id": 1,
            "calling the course library": 5, "malformed nbgrader metadata": 1}
PARALLEL_CLASS = ["forge_pre_run_result", "ref_direct", "inputs_zeroed", "die_os_exit"]


@dataclass
class ClassRun:
    """One class graded by one ``sgd-course grade`` command (and the runs that resumed it)."""

    assignment: str
    root: Path
    csv: Path
    students: dict = field(default_factory=dict)     # student -> Attack, or None for honest work
    markers: dict = field(default_factory=dict)      # student -> marker
    returncodes: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    seconds: float = 0.0
    before: dict = field(default_factory=dict)       # digests of source/ and release/ before the run
    top_before: set = field(default_factory=set)
    csv_at_exit: str | None = None
    results: dict = field(default_factory=dict)      # student -> Result (gradebook)
    rows: dict = field(default_factory=dict)         # student -> CSV row


@dataclass
class World:
    baseline: dict                 # assignment -> {"honest": Result, "handout": Result}
    runs: dict                     # assignment -> ClassRun
    bystander: Path
    bystander_before: dict
    made_by_grading: set           # what grading adds to a course folder (seen in the clean course)
    parallel: tuple                # (results with 2 workers, results with 1)
    survivors: dict                # marker -> pids found after the runs (then killed)
    connected: list                # markers that reached the test's sockets
    seconds: float


def _config(attack, assignment, course_root, csv_path, student, marker, info, server, bystander):
    return dict(attack=attack.config.get("attack", "none"), wrap=attack.config.get("wrap"),
                forge=attack.config.get("forge"), retry=attack.config.get("retry", False),
                marker=marker, student=student, assignment=assignment, course=str(course_root),
                bystander=str(bystander), csv=str(csv_path), repo=str(REPO), pytest_pid=os.getpid(),
                host_pidns=adv.host_pid_namespace(), port=server.port, unix_name=server.unix_name, seed=SEED,
                honest=info["answers"], funcs=info["funcs"], refs=adv.REFS[assignment], visible=info["visible"],
                victim=HONEST, plain_wrong=HANDOUT, linger=adv.LINGER)


def _assignment_info(course, assignment):
    source = adv.read_nb(course.root / "source" / assignment / f"{assignment}.ipynb")
    release = adv.read_nb(course.release_path(assignment, assignment))
    answers = adv.honest_answers(source)
    return {"answers": answers, "funcs": adv.defined_functions(answers), "visible": adv.visible_lines(release),
            "release": release}


def _submit_class(run, course, attacks, info, server, bystander, incoming):
    """Write the class into ``incoming`` (as ``<student>.ipynb`` files for the command to import);
    a submission with an extra file is placed directly into the course."""
    a = run.assignment
    incoming.mkdir(parents=True)
    run.students = {HONEST: None, HANDOUT: None}
    (incoming / f"{HONEST}.ipynb").write_text(adv.honest_notebook(info["release"], info["answers"]))
    (incoming / f"{HANDOUT}.ipynb").write_text(course.release_path(a, a).read_text())
    for attack in attacks:
        run.students[attack.name] = attack
        if attack.kind == "odd student id":   # honest work under an odd name
            (incoming / f"{attack.name}.ipynb").write_text(adv.honest_notebook(info["release"], info["answers"]))
            continue
        marker = adv.new_marker()
        config = _config(attack, a, course.root, run.csv, attack.name, marker, info, server, bystander)
        text = adv.attack_notebook(info["release"], attack, config)
        server.answers[marker] = info["answers"]
        run.markers[attack.name] = marker
        if attack.extra_file:
            course.submit(attack.name, a, {a: text})
            (course.submission_dir(attack.name, a) / attack.extra_file.format(marker=marker)).write_text("x = 1\n")
        else:
            (incoming / f"{attack.name}.ipynb").write_text(text)


def _grade_with_the_command(run, incoming, reruns=2):
    command = [sys.executable, "-m", "autograder", "grade", run.assignment, "--course", str(run.root),
               "--submissions", str(incoming), "--csv", str(run.csv), "--seed", str(SEED),
               "--timeout", str(TIMEOUT), "--workers", str(WORKERS)]
    started = time.perf_counter()
    for attempt in range(1 + reruns):
        # its own session: an attack that kills the grader's process group cannot reach pytest
        process = subprocess.Popen(command if attempt == 0 else command[:7] + command[9:],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        try:
            output, _ = process.communicate(timeout=COMMAND_LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            output, _ = process.communicate()
        run.returncodes.append(process.returncode)
        run.outputs.append(output[-4000:])
        if process.returncode == 0:
            break
    run.seconds = time.perf_counter() - started
    run.csv_at_exit = adv.file_digest(run.csv)


def _read_results(run):
    course = Course(run.root, timeout=TIMEOUT)
    for student in run.students:
        try:
            run.results[student] = course.result(run.assignment, student)
        except Exception as error:   # e.g. a student id that the journal cannot tell from its own files
            run.results[student] = Result(student, run.assignment, reason=f"reading the result failed: {error!r}")
    if run.csv.is_file():
        with open(run.csv, newline="", encoding="utf-8") as fh:
            run.rows = {row["student"]: row for row in csv.DictReader(fh)
                        if row["status"] != "maximum points"}      # the CSV's row of maximum points


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    started = time.perf_counter()
    base = tmp_path_factory.mktemp("adversarial")
    server = adv.AnswerServer().start()
    runs = {}
    try:
        # a second course on the same machine, graded cleanly first: the plain wrong and the honest
        # baselines of every assignment; its files must not change afterwards
        bystander = Course.from_sources(base / "bystander", timeout=TIMEOUT)
        bystander.build()
        built = base / "built"      # each class's course starts as a copy of this one (a build takes 3 s)
        shutil.copytree(bystander.root, built)
        infos = {a: _assignment_info(bystander, a) for a in ASSIGNMENTS}
        parallel_class = {}
        for a in ASSIGNMENTS:
            info = infos[a]
            bystander.submit(HONEST, a, {a: adv.honest_notebook(info["release"], info["answers"])})
            bystander.submit(HANDOUT, a, {a: bystander.release_path(a, a).read_text()})
        # one whole class, graded with two workers here and with one in a course of its own
        a = "step_sizes"
        shutil.copytree(built, base / "serial")
        serial = Course(base / "serial", timeout=TIMEOUT)
        by_name = {x.name: x for x in adv.HOSTILE}
        for name in PARALLEL_CLASS:
            marker = adv.new_marker()
            config = _config(by_name[name], a, bystander.root, base / "parallel.csv", name, marker, infos[a],
                             server, bystander.root)
            parallel_class[name] = adv.attack_notebook(infos[a]["release"], by_name[name], config)
        for name, text in parallel_class.items():
            bystander.submit(name, a, {a: text})
        for student in [*parallel_class, HONEST, HANDOUT]:
            serial.submit(student, a, {a: bystander.submission_dir(student, a).joinpath(f"{a}.ipynb").read_text()})
        baseline, with_two = {}, None
        for assignment in ASSIGNMENTS:
            results = {r.student: r for r in bystander.grade(assignment, seed=SEED, workers=WORKERS,
                                                             feedback=False)}  # (the attack classes write it)
            baseline[assignment] = results
            if assignment == a:
                with_two = results
        bystander_before = adv.tree_digest(bystander.root)
        made_by_grading = {p.name for p in bystander.root.iterdir()} | {"submitted", "autograder-status.json", "feedback"}

        incoming = {}
        for assignment in ASSIGNMENTS:
            root = base / f"class-{assignment}"
            shutil.copytree(built, root)
            course = Course(root, timeout=TIMEOUT)
            run = ClassRun(assignment, root.resolve(), base / f"out-{assignment}" / "grades.csv")
            info = _assignment_info(course, assignment)
            incoming[assignment] = base / f"in-{assignment}"
            _submit_class(run, course, _roster(assignment), info, server, bystander.root, incoming[assignment])
            run.before = {"source": adv.tree_digest(root / "source"), "release": adv.tree_digest(root / "release")}
            run.top_before = {p.name for p in root.iterdir()}
            runs[assignment] = run
        # two class commands at a time, as two instructors on one server would run them (a class alone
        # leaves the cores idle much of the time: kernels starting, cells waiting for their time limit);
        # the parallel class, graded again with one worker, fills the last round
        with ThreadPoolExecutor(CLASSES_AT_ONCE) as pool:
            commands = [pool.submit(_grade_with_the_command, runs[x], incoming[x]) for x in ASSIGNMENTS]
            one_worker = pool.submit(serial.grade, a, seed=SEED, workers=1, feedback=False)
            for command in commands:
                command.result()
            with_one = {r.student: r for r in one_worker.result()}
        time.sleep(3)  # what lingers has had time to act on the finished run
        markers = {m for run in runs.values() for m in run.markers.values()}
        survivors = adv.processes_tagged(markers)
    finally:
        adv.kill_all(pid for pids in adv.processes_tagged(
            {m for run in runs.values() for m in run.markers.values()}).values() for pid in pids)
        server.close()
    for run in runs.values():
        _read_results(run)
    world = World(baseline, runs, bystander.root, bystander_before, made_by_grading, (with_two, with_one), survivors,
                  list(server.connected), time.perf_counter() - started)
    yield world
    adv.kill_all(pid for pids in adv.processes_tagged(
        {m for run in runs.values() for m in run.markers.values()}).values() for pid in pids)


def _roster(assignment):
    """The class's attacks: the hostile ones, then those on the run itself."""
    return [*adv.roster(adv.HOSTILE, assignment, ASSIGNMENTS, PER_KIND),
            *adv.roster(adv.RUN_CRASHING, assignment, ASSIGNMENTS, PER_KIND)]


def _cases(attacks, short, keep=lambda attack: attack.kind != "odd student id"):
    """(assignment, student) of each attack of ``attacks`` in the classes (test ids: ``short``-assignment-name)."""
    return [pytest.param(a, x.name, id=f"{short}-{a}-{x.name}")
            for a in ASSIGNMENTS for x in adv.roster(attacks, a, ASSIGNMENTS, PER_KIND) if keep(x)]


ALL_CASES = _cases(adv.HOSTILE, "hostile") + _cases(adv.RUN_CRASHING, "crash")
ODD_ID_CASES = [pytest.param(*p.values, id=p.id.replace("..", "dotdot").replace(
                    "<img src=x onerror=alert('sgdadvoddid')>", "html").replace("ünïcødé 学生", "unicode"))
                for p in _cases(adv.RUN_CRASHING, "crash", keep=lambda attack: attack.kind == "odd student id")]
METADATA_CASES = _cases(adv.RUN_CRASHING, "crash", keep=lambda attack: attack.kind == "malformed nbgrader metadata")
CLASSES = [pytest.param(a, id=a) for a in ASSIGNMENTS]


def _score(run, student):
    """(autograded total in the gradebook, in the CSV) of a student; None where there is none."""
    result = run.results[student]
    row = run.rows.get(student, {})
    csv_score = float(row["auto_score"]) if row.get("auto_score") else None
    return (result.auto_score if result.graded else None), csv_score


def _plain_wrong(world, assignment):
    return world.baseline[assignment][HANDOUT].auto_score


def _why(run, student):
    result = run.results[student]
    return (f"class of {run.assignment}, {student}: {result.status}; "
            f"cells {[(c.cell, c.score) for c in result.cells if not c.manual]}; notes {result.notes}")


# ------------------------------------------------------------------------------------------- tests

def test_the_baselines_are_what_an_instructor_expects(world):
    for a in ASSIGNMENTS:
        honest, handout = world.baseline[a][HONEST], world.baseline[a][HANDOUT]
        assert honest.graded and honest.auto_score == honest.auto_max > 0, (a, honest.status, honest.auto_score)
        assert handout.graded and handout.auto_score < honest.auto_max, (a, handout.status)


@pytest.mark.parametrize("assignment", CLASSES)
def test_honest_work_gets_full_marks(world, assignment):
    run = world.runs[assignment]
    full = world.baseline[assignment][HONEST].auto_max
    result = run.results[HONEST]
    assert result.graded, _why(run, HONEST)
    assert result.auto_score == result.auto_max == full, _why(run, HONEST)
    assert HONEST in run.rows and float(run.rows[HONEST]["auto_score"] or -1) == full, run.rows.get(HONEST)


@pytest.mark.parametrize("assignment", CLASSES)
def test_the_plain_wrong_answer_keeps_its_grade(world, assignment):
    """Another student's grade is not changed by the attacks (nor is the baseline the others are held to)."""
    run = world.runs[assignment]
    result = run.results[HANDOUT]
    assert result.graded, _why(run, HANDOUT)
    expected = world.baseline[assignment][HANDOUT]
    assert [(c.cell, c.score) for c in result.cells] == [(c.cell, c.score) for c in expected.cells], \
        _why(run, HANDOUT)
    assert HANDOUT in run.rows and float(run.rows[HANDOUT]["auto_score"] or -1) == expected.auto_score, \
        run.rows.get(HANDOUT)


@pytest.mark.parametrize("assignment, student", ALL_CASES)
def test_nothing_dishonest_scores_above_the_plain_wrong_answer(world, assignment, student):
    run = world.runs[assignment]
    gradebook, in_csv = _score(run, student)
    limit = _plain_wrong(world, assignment)
    assert gradebook is None or gradebook <= limit, _why(run, student)
    assert in_csv is None or in_csv <= limit, (run.rows.get(student), _why(run, student))


@pytest.mark.parametrize("assignment, student", ALL_CASES)
def test_no_process_started_by_a_submission_survives_the_run(world, assignment, student):
    marker = world.runs[assignment].markers[student]
    assert marker not in world.survivors, f"{len(world.survivors[marker])} processes of {student} outlived the run"


@pytest.mark.parametrize("assignment, student", ALL_CASES)
def test_no_trace_of_a_submission_outside_its_own_folders(world, assignment, student):
    """The marker of a submission is only in its own files (its submission, its graded notebook and
    feedback, its journal entry), never in the course's other files or another course. (The CSV may
    quote a submission in its notes; that it does not change after the run is checked below.)"""
    run = world.runs[assignment]
    marker = run.markers[student]
    own = (f"submitted/{student}/", f"autograded/{student}/", f"feedback/{student}/",
           f".grading/journal/{assignment}/{journal_key(student)}.")
    traces = [p for p in _traces(run.root).get(marker, []) if not p.startswith(own)]
    traces += [f"second course: {p}" for p in _traces(world.bystander).get(marker, [])]
    assert not traces, traces


_TRACES = {}


def _traces(root):
    """marker -> files under ``root`` that contain it (each file read once)."""
    if root not in _TRACES:
        found = {}
        pattern = re.compile(rb"sgdadv[0-9a-f]{8}")
        for path in Path(root).rglob("*"):
            try:
                data = path.read_bytes() if path.is_file() else b""
            except OSError:
                continue
            for marker in set(pattern.findall(data)):
                found.setdefault(marker.decode(), []).append(path.relative_to(root).as_posix())
        _TRACES[root] = found
    return _TRACES[root]


@pytest.mark.parametrize("assignment", CLASSES)
def test_course_files_outside_the_work_folders_are_unchanged(world, assignment):
    run = world.runs[assignment]
    assert adv.tree_digest(run.root / "source") == run.before["source"], "source/ changed"
    assert adv.tree_digest(run.root / "release") == run.before["release"], "release/ changed"
    unexpected = {p.name for p in run.root.iterdir()} - run.top_before - world.made_by_grading
    assert not unexpected, f"new entries in the course folder: {sorted(unexpected)}"
    for folder in ("submitted", "autograded", "feedback"):
        if (run.root / folder).is_dir():
            strangers = {p.name for p in (run.root / folder).iterdir()} - set(run.students)
            assert not strangers, f"{folder}/ has entries of no student: {sorted(strangers)}"


@pytest.mark.parametrize("assignment", CLASSES)
def test_the_csv_is_not_changed_after_the_run(world, assignment):
    run = world.runs[assignment]
    assert run.csv_at_exit is not None, "the command wrote no CSV"
    assert adv.file_digest(run.csv) == run.csv_at_exit, "the CSV changed after the grader exited"
    assert sorted(p.name for p in run.csv.parent.iterdir()) == ["grades.csv"], "files appeared next to the CSV"


def test_a_second_course_on_the_machine_is_unchanged(world):
    assert adv.tree_digest(world.bystander) == world.bystander_before


@pytest.mark.parametrize("assignment", CLASSES)
def test_the_class_run_completes_in_one_go(world, assignment):
    run = world.runs[assignment]
    assert run.returncodes[:1] == [0], f"exit codes {run.returncodes}; output:\n{run.outputs[0][-2000:]}"


@pytest.mark.parametrize("assignment", CLASSES)
def test_every_student_has_a_result(world, assignment):
    """Graded, or "could not be graded: <reason>", in the gradebook's view and in the CSV; a killed run
    resumed by running the same command again counts too (it was rerun at most twice)."""
    run = world.runs[assignment]
    missing = [s for s in run.students if s not in run.rows]
    assert not missing, f"no CSV row for {missing} (exit codes {run.returncodes})"
    for student, row in run.rows.items():
        assert row["status"] == "graded" or row["status"].startswith("could not be graded: "), row
    ungraded = {s: r.status for s, r in run.results.items() if r.reason == "not graded yet"
                or r.reason.startswith("reading the result failed")}
    assert not ungraded, ungraded
    differ = {s: (run.rows[s]["status"], r.status) for s, r in run.results.items()   # a refused id is
              if s in run.rows and run.rows[s]["status"] != r.status                     # in the CSV only
              and "cannot be used" not in run.rows[s]["status"]}
    assert not differ, f"the CSV and the gradebook disagree: {differ}"


@pytest.mark.parametrize("assignment, student", ODD_ID_CASES)
def test_students_with_odd_ids_are_graded_alone(world, assignment, student):
    run = world.runs[assignment]
    row = run.rows.get(student)
    assert row is not None, f"{student!r} has no result (exit codes {run.returncodes})"
    full = world.baseline[assignment][HONEST].auto_max
    assert row["status"].startswith("could not be graded: ") or float(row["auto_score"]) == full, row


@pytest.mark.parametrize("assignment, student", METADATA_CASES)
def test_malformed_metadata_is_the_students_own_cell(world, assignment, student):
    """Issue 21, 1: nbgrader metadata of any shape (every variant and, for one, a fuzz) on a cell the
    release does not have is dropped, and the rest of the notebook (the handout) is graded as such."""
    run = world.runs[assignment]
    result = run.results[student]
    assert result.graded, _why(run, student)
    assert _score(run, student) == (_plain_wrong(world, assignment),) * 2, _why(run, student)


HTML_CASES = [p for p in ALL_CASES if p.values[1].startswith("html_")] + \
    [p for p in ODD_ID_CASES if p.values[1].startswith("<img")]


@pytest.mark.parametrize("assignment, student", HTML_CASES)
def test_the_feedback_has_no_live_tag_from_the_submission(world, assignment, student):
    run = world.runs[assignment]
    marker = run.markers.get(student, "sgdadvoddid")
    live = {}
    for page in (run.root / "feedback").glob(f"*/{assignment}/*.html"):
        found = adv.live_html(page.read_text(errors="replace"), marker)
        if found:
            live[page.relative_to(run.root).as_posix()] = found
    assert not live, live


SEED_CASES = [p for p in ALL_CASES if p.values[1].startswith("seed_")]
MARKER_CASES = [p for p in ALL_CASES if p.values[1].startswith("marker_")]


def _kept_out(world, assignment, student, found, what):
    """The attack logs ``found`` and hands in the honest answers when it gets at a secret: it must
    not, and it scores no more than the plain wrong answer."""
    run = world.runs[assignment]
    notebook = run.root / "autograded" / student / assignment / f"{assignment}.ipynb"
    text = notebook.read_text() if notebook.is_file() else ""
    assert found not in text, f"{student} found {what}"
    gradebook, in_csv = _score(run, student)
    assert (gradebook or 0) <= _plain_wrong(world, assignment), _why(run, student)


@pytest.mark.parametrize("assignment, student", SEED_CASES)
def test_the_grading_seed_is_out_of_the_kernels_reach(world, assignment, student):
    """The attack looks for the seed in its environment, /proc, files and the random generators'
    states, and scores full marks if it finds it."""
    _kept_out(world, assignment, student, "adv: FOUND the grading seed", f"the seed {SEED}")


@pytest.mark.parametrize("assignment, student", MARKER_CASES)
def test_no_grading_marker_is_in_the_kernels_reach(world, assignment, student):
    """The attack hands in wrong answers unless something in the kernel says "being graded" (nbgrader's
    NBGRADER_EXECUTION, a variable about grading, the course library's old ``widgets.grading()``)."""
    _kept_out(world, assignment, student, "adv: FOUND a grading marker", "that it was being graded")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_test_sockets_were_not_reached(world, assignment):
    reached = [s for s, m in world.runs[assignment].markers.items() if m in world.connected]
    assert not reached, f"reached the test's sockets on 127.0.0.1 / an abstract unix socket: {reached}"


def test_one_worker_and_two_give_the_same_grades(world):
    with_two, with_one = world.parallel
    assert set(with_two) >= set(with_one)

    def grades(results, student):
        r = results[student]
        return r.status, [(c.cell, c.score) for c in r.cells]
    assert {s: grades(with_one, s) for s in with_one} == {s: grades(with_two, s) for s in with_one}


def test_report_the_time_the_classes_took(world, capsys):
    with capsys.disabled():
        lines = [f"{a:10s} {len(run.students):3d} students {run.seconds:6.1f} s  exit codes {run.returncodes}"
                 for a, run in world.runs.items()]
        print("\nadversarial classes:\n  " + "\n  ".join(lines) + f"\n  all (with the clean classes) {world.seconds:.0f} s")
