"""A course's week as an instructor and students live it (issue 14): learning platforms' downloads and
class lists, grades back to the platform, late students, no lost work, clear errors, honest feedback.

Every test does what the user did: ``sgd-course`` in-process (``cli.main``) or as a subprocess."""

import concurrent.futures
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import copy_course
from week_files import grade, read_rows, solved, step_sizes_course, unchanged
from autograder import cli, demo
from autograder.grading import REPO_SOURCE, Course
from autograder.journal import Journal

A = "step_sizes"
SEED = 1414
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The assignment's student version, built once for the module; each test grades in a copy."""
    return step_sizes_course(tmp_path_factory)


@pytest.fixture(scope="module")
def course(built, tmp_path_factory):
    return copy_course(built, tmp_path_factory.mktemp("week") / "course")


# -- 7, 9, 3, 8: a Moodle class with a roster, a late student, one student regraded, exports --------------------

def test_a_moodle_week(course, tmp_path, capsys):
    downloads = tmp_path / "moodle"
    for folder, name, text in [("Ada Lovelace_1001_assignsubmission_file_", f"{A}.ipynb", solved(course)),
                               ("Bob Ross_1002_assignsubmission_file_", "my copy of the notebook.ipynb", unchanged(course))]:
        (downloads / folder).mkdir(parents=True)
        (downloads / folder / name).write_text(text)
    roster = tmp_path / "students.csv"   # nbgrader's student list: Cy handed nothing in
    roster.write_text("id,first_name,last_name,email\n1001,Ada,Lovelace,ada@example.org\n"
                      "1002,Bob,Ross,bob@example.org\n1003,Cy,Nothing,cy@example.org\n")
    grades = tmp_path / "grades.csv"
    code, out = grade(course, "--submissions", str(downloads), "--roster", str(roster), "--seed", str(SEED),
                       csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    rows = read_rows(grades)
    assert rows["1001"]["status"] == "graded" and rows["1001"]["auto_score"] == rows["1001"]["auto_max"] == "10"
    assert rows["1002"]["status"] == "graded" and rows["1002"]["auto_score"] == "0"
    assert "renamed" in rows["1002"]["notes"] and "my copy of the notebook.ipynb" in rows["1002"]["notes"]
    assert rows["1003"]["status"] == "no submission" and rows["1003"]["auto_score"] == ""
    assert rows["(maximum)"]["max_total"] == "14" and rows["(maximum)"][f"{A}/test_sgd_iterates"] == "3"
    assert rows["1001"]["total"] == "10" and rows["1001"]["max_total"] == "14"
    assert {rows[s]["grading_seed"] for s in ("1001", "1002")} == {str(SEED)}
    with Gradebook(course.api.coursedir.db_url) as gb:   # the formgrader shows names, not "None, None"
        ada = gb.find_student("1001")
        assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")

    # a late student: only the new submission is graded, with the class's seed
    late = downloads / "Cy Late_1004_assignsubmission_file_"
    late.mkdir()
    (late / f"{A}.ipynb").write_text(solved(course))
    code, out = grade(course, "--submissions", str(downloads), "--roster", str(roster), csv_path=grades,
                       capsys=capsys)
    assert code == 0, out.err
    assert "submitted but not on the roster" in out.err and ": 1004 (" in out.err
    assert "1004: graded" in out.err and "1001: graded" not in out.err and "1002: graded" not in out.err
    rows = read_rows(grades)
    assert rows["1004"]["auto_score"] == "10" and rows["1004"]["grading_seed"] == str(SEED)
    assert rows["1001"]["auto_score"] == "10" and rows["1003"]["status"] == "no submission"

    # one student graded again: only that one, with the class's seed
    code, out = grade(course, "--student", "1002", csv_path=grades, capsys=capsys)
    assert code == 0 and "1002: " in out.err and "1001: " not in out.err and "1004: " not in out.err
    assert read_rows(grades)["1002"]["grading_seed"] == str(SEED)
    assert Journal(course.root / ".grading" / "journal" / A).graded_seed("1002") == SEED

    # export after grading written answers by hand keeps every column grading wrote
    exported = tmp_path / "export.csv"
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(exported), "--format", "moodle"]) == 0
    again = read_rows(exported)
    assert again["1002"]["grading_seed"] == str(SEED) and "renamed" in again["1002"]["notes"]
    assert again["1003"]["status"] == "no submission"
    assert list(again["1001"]) == list(rows["1001"])
    moodle = list(csv.DictReader(open(tmp_path / "export-moodle.csv", encoding="utf-8")))
    assert list(moodle[0])[:2] == ["Identifier", "Full name"] and "Grade" in moodle[0]
    by_id = {r["Identifier"]: r for r in moodle}
    assert by_id["Participant 1001"]["Grade"] == "10" and by_id["Participant 1001"]["Full name"] == "Ada Lovelace"
    assert by_id["Participant 1001"]["Maximum Grade"] == "14"
    assert by_id["Participant 1003"]["Grade"] == "" and "no submission" in by_id["Participant 1003"]["Feedback comments"]

    # the feedback page: the autograded and the written parts apart, written answers pending
    page = (course.root / "feedback" / "1001" / A / f"{A}.html").read_text()
    assert "Autograded: 10.0 / 10.0" in page and "pending" in page
    assert "Total:" not in page, "a total that counts ungraded written answers as 0 misleads"
    assert "cdn.jsdelivr" not in page and "MathJax.js" not in page and "<math" in page
    assert "pre-wrap" in page


# -- 7, 8: a flat Canvas download: resubmissions, late files, Canvas's gradebook import ---------------------

def test_a_canvas_download_grades_the_newest_file_and_exports_for_canvas(course, tmp_path, capsys):
    downloads = tmp_path / "canvas"
    downloads.mkdir()
    old = downloads / f"lovelaceada_2001_9001_{A}.ipynb"
    old.write_text(unchanged(course))
    (downloads / f"lovelaceada_2001_9002_{A}-1.ipynb").write_text(solved(course))
    (downloads / f"rossbob_LATE_2002_9003_{A}.ipynb").write_text(solved(course))
    os.utime(old, (2_000_000_000, 2_000_000_000))   # the older file has the later time: Canvas's order wins
    grades = tmp_path / "grades.csv"
    code, out = grade(course, "--submissions", str(downloads), "--seed", str(SEED), csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    rows = read_rows(grades)
    assert rows["2001"]["auto_score"] == "10"
    assert f"{A}-1.ipynb" in rows["2001"]["notes"] and old.name in rows["2001"]["notes"]
    assert "late" in rows["2002"]["notes"]
    roster = tmp_path / "canvas-gradebook.csv"   # Canvas's own gradebook export as the class list
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Step sizes (777)\n"
                      "    Points Possible,,,,,14\n\"Lovelace, Ada\",2001,S1,ada,Group A,\n\"Ross, Bob\",2002,S2,bob,Group A,\n")
    code, out = grade(course, "--roster", str(roster), "--submissions", str(downloads), csv_path=grades,
                       capsys=capsys)
    assert code == 0, out.err
    assert "not on the roster" not in out.err and "2001: " not in out.err, "nothing changed: nothing regraded"
    with Gradebook(course.api.coursedir.db_url) as gb:
        ada = gb.find_student("2001")
        assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    exported = tmp_path / "e.csv"
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(exported), "--format", "canvas",
                     "--canvas-column", "Step sizes (777)"]) == 0
    lines = list(csv.reader(open(tmp_path / "e-canvas.csv", encoding="utf-8")))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Step sizes (777)"]
    assert lines[1][0].strip() == "Points Possible" and lines[1][-1] == "14"
    ada = next(line for line in lines if line[1] == "2001")
    assert ada == ["Lovelace, Ada", "2001", "S1", "ada", "Group A", "10"]


def test_a_canvas_download_by_login_takes_the_logins_from_canvas_gradebook(built, tmp_path, capsys):
    course = copy_course(built, tmp_path / "c")
    downloads = tmp_path / "canvas"
    downloads.mkdir()   # Canvas names the files by a slug of the sortable name, not by the login
    (downloads / f"lovelaceada_3001_9101_{A}.ipynb").write_text(solved(course))
    (downloads / f"rossbob_3002_9102_{A}.ipynb").write_text(unchanged(course))
    (downloads / f"hoppergrace_3009_9109_{A}.ipynb").write_text(solved(course))   # not in the gradebook
    grades = tmp_path / "grades.csv"
    code, out = grade(course, "--student-id", "login", "--submissions", str(downloads), csv_path=grades,
                       capsys=capsys)
    assert code == 2 and "--student-id login needs Canvas's gradebook export as --roster" in out.err, out.err
    assert "Traceback" not in out.err and course.students(A) == [] and not grades.exists()

    roster = tmp_path / "gradebook.csv"   # Canvas's gradebook export: Cy handed nothing in
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
                      "\"Lovelace, Ada\",3001,S1,ada,A\n\"Ross, Bob\",3002,S2,bob,A\n\"Nothing, Cy\",3003,S3,cy,A\n")
    code, out = grade(course, "--student-id", "login", "--submissions", str(downloads), "--roster", str(roster),
                       csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    assert "not on the roster" not in out.err and "Canvas user 3009" in out.err
    rows = read_rows(grades)
    assert rows["ada"]["status"] == "graded" and rows["ada"]["auto_score"] == "10"
    assert rows["bob"]["status"] == "graded" and rows["bob"]["auto_score"] == "0"
    assert rows["cy"]["status"] == "no submission"
    assert rows["3009"]["status"].startswith("could not be graded: the Canvas user 3009")
    assert not {"lovelaceada", "rossbob", "3001", "3002", "3003"} & set(rows)
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp_path / "e.csv"),
                     "--format", "canvas"]) == 0
    lines = list(csv.reader(open(tmp_path / "e-canvas.csv", encoding="utf-8")))
    assert ["Lovelace, Ada", "3001", "S1", "ada", "A", "10"] in lines   # Canvas's user id in its ID column
    assert read_rows(tmp_path / "e.csv")["3009"]["status"] == rows["3009"]["status"]


# -- sibling issue: student ids are data -----------------------------------------------------------------------

def test_student_ids_are_data_never_file_names(course, tmp_path, capsys):
    downloads = tmp_path / "plain"
    downloads.mkdir()
    for name in ("run", "Zoë", "..", "*", "[x]"):   # "...ipynb" is a file whose student id is ".."
        (downloads / f"{name}.ipynb").write_text(solved(course))
    grades = tmp_path / "grades.csv"
    for _ in range(2):   # and a rerun works the same way
        code, out = grade(course, "--submissions", str(downloads), "--seed", str(SEED), csv_path=grades,
                           capsys=capsys)
        assert code == 0, out.err
        for refused in ("'..'", "'*'", "'[x]'"):
            assert f"the student id {refused} cannot be used" in out.err, out.err
        rows = read_rows(grades)
        assert rows["run"]["auto_score"] == "10" and rows["Zoë"]["auto_score"] == "10"
        for refused in ("..", "*", "[x]"):   # in the CSV, as could not be graded, with the reason
            assert rows[refused]["status"].startswith(f"could not be graded: the student id {refused!r} cannot "
                                                      "be used"), rows[refused]
    exported = tmp_path / "exported.csv"   # export keeps every row grading wrote, the refused ids' too
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(exported)]) == 0
    again = read_rows(exported)
    for refused in ("..", "*", "[x]"):
        assert again[refused]["status"] == rows[refused]["status"]
    assert set(rows) <= set(again)
    journal = course.root / ".grading" / "journal" / A
    assert json.loads((journal / "run.json").read_text())["seed"] == SEED
    assert not (journal / "Zoë.json").exists() and not (journal / "run.saved").exists()
    assert all(p.parent == journal for p in journal.rglob("*"))
    with pytest.raises(ValueError, match="a/b"):
        course.submit("a/b", A, {A: solved(course)})
    assert not (course.root / "submitted" / "a").exists()


# -- sibling issue: feedback escapes what comes from a submission; 5: a page for what could not be graded ---------

def test_feedback_escapes_everything_from_a_submission(course, tmp_path, capsys):
    nb = nbformat.reads(solved(course), as_version=4)
    meta = {"grade": False, "solution": True, "locked": False, "schema_version": 3}
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(f"hello {EVIL}", metadata={"nbgrader": {**meta, "grade_id": EVIL}}))
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        "from IPython.display import HTML, display\ndisplay(HTML('<img src=y onerror=alert(2)>'))",
        metadata={"nbgrader": {**meta, "grade_id": EVIL + "2"}}))
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = f"My answer {EVIL} with maths $\\tau_k = 1/k$"
    downloads = tmp_path / "x"
    downloads.mkdir()
    nbformat.write(nb, downloads / "mallory.ipynb")
    (downloads / "trudy.ipynb").write_text(solved(course)[:500])
    code, out = grade(course, "--submissions", str(downloads), csv_path=tmp_path / "g.csv", capsys=capsys)
    assert code == 0, out.err
    page = (course.root / "feedback" / "mallory" / A / f"{A}.html").read_text()
    assert "<img src=x" not in page and "<img src=y" not in page and "onerror=\"" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<math" in page
    broken = (course.root / "feedback" / "trudy" / A / f"{A}.html").read_text()
    assert "could not be graded" in broken and "not valid notebook JSON" in broken


# -- 4: a kernel that never starts ----------------------------------------------------------------------------------

BROKEN_KERNEL = """
import json, os, sys
from autograder import cli, sandbox

log, argv = sys.argv[1], sys.argv[2:]
write_spec = sandbox._kernel_spec


def kernel_that_dies(folder, *args):   # the grading kernel exits before it answers kernel_info
    write_spec(folder, *args)
    path = os.path.join(folder, "sgd-grading", "kernel.json")
    spec = json.load(open(path))
    spec["argv"] = [sys.executable, "-c", f"open({log!r}, 'a').write('started '); raise SystemExit(3)"]
    json.dump(spec, open(path, "w"))


sandbox._kernel_spec = kernel_that_dies
sys.exit(cli.main(argv))
"""


def test_a_kernel_that_never_starts_is_not_a_zero_and_the_next_run_retries_it(built, tmp_path, capsys):
    course = copy_course(built, tmp_path / "c")
    downloads = tmp_path / "d"
    downloads.mkdir()
    (downloads / "kira.ipynb").write_text(solved(course))
    (downloads / "jo.ipynb").write_text("{ not json")   # could not be graded because of what it holds
    grades, log = tmp_path / "grades.csv", tmp_path / "kernel-starts.log"
    argv = ["grade", A, "--course", str(course.root), "--submissions", str(downloads), "--csv", str(grades),
            "--workers", "1"]
    done = subprocess.run([sys.executable, "-c", BROKEN_KERNEL, str(log), *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for bad in ("Traceback", "AssertionError", "Exception ignored", "Error in atexit"):
        assert bad not in done.stderr, done.stderr
    assert log.read_text() == "started " * 2, "tried twice"
    kira = read_rows(grades)["kira"]
    assert kira["status"].startswith("could not be graded: the kernel could not start"), kira
    assert f"run sgd-course grade {A} again" in kira["status"] and kira["auto_score"] == ""
    assert "0 graded (0 with zero autograded points), 2 could not be graded" in done.stdout, done.stdout
    assert "kira: could not be graded: the kernel could not start" in done.stdout
    page = (course.root / "feedback" / "kira" / A / f"{A}.html").read_text()
    assert "could not be graded" in page and "the kernel could not start" in page

    # the same command again, with a kernel that starts: kira is graded, jo (unchanged) is not tried again
    code, out = grade(course, "--submissions", str(downloads), csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    assert "kira: graded" in out.err and "jo: " not in out.err
    rows = read_rows(grades)
    assert rows["kira"]["status"] == "graded" and rows["kira"]["auto_score"] == "10"
    assert rows["jo"]["status"].startswith("could not be graded: step_sizes.ipynb: ") and "JSON" in rows["jo"]["status"]
    (downloads / "jo.ipynb").write_text(solved(course))   # jo hands in a readable file: graded
    code, out = grade(course, "--submissions", str(downloads), csv_path=grades, capsys=capsys)
    assert code == 0 and "jo: graded" in out.err and "kira: " not in out.err
    assert read_rows(grades)["jo"]["auto_score"] == "10"


def test_a_sandbox_that_exits_at_once_is_reported_at_once():
    """The grader stops waiting for the sandbox's file system when bubblewrap has exited (it used to wait
    its whole 20 s, for each of the two tries of the test above)."""
    from autograder import jail
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        while open(f"/proc/{process.pid}/stat").read().rpartition(")")[2].split()[0] != "Z":
            time.sleep(0.01)   # exited, not yet reaped: as the kernel manager finds bubblewrap
        started = time.monotonic()
        assert jail.sandbox_root(process.pid, timeout=20) is None
        assert time.monotonic() - started < 2
    finally:
        process.wait()


def test_a_journal_from_before_the_retry_flag_retries_the_graders_own_failures(tmp_path):
    """Journals written before Outcome.retry: an outcome that could not be graded for the grader's
    reasons (by the words those versions used) is graded again; one refused for its content is not."""
    from autograder.journal import Journal
    from autograder.job import Outcome
    journal = Journal(tmp_path)
    journal.start(7, ["kira", "jo", "al"])
    reasons = {"kira": "the kernel could not start (died before replying); grade it again",
               "al": "the grading worker failed (BrokenProcessPool: ...); grade it again",
               "jo": "step_sizes.ipynb: not a notebook (JSON: Expecting value)"}
    for student, reason in reasons.items():
        journal.record(Outcome(student, A, reason=reason))
        record = journal._file(student, ".json")
        old = json.loads(record.read_text())
        del old["retry"]
        record.write_text(json.dumps(old))
    assert {s: journal.outcome(s).retry for s in reasons} == {"kira": True, "al": True, "jo": False}


# -- 1: no lost work ------------------------------------------------------------------------------------------------

def test_build_never_overwrites_a_worked_in_release_and_fetch_makes_a_copy(course, tmp_path, capsys):
    release = course.release_path(A, A)
    assert cli.main(["build", A, "--course", str(course.root)]) == 0   # unchanged: rebuilt quietly
    work = tmp_path / "work"
    assert cli.main(["fetch", A, "--course", str(course.root), "--to", str(work)]) == 0
    mine = work / A / f"{A}.ipynb"
    answer = solved(course)
    mine.write_text(answer)
    assert cli.main(["fetch", A, "--course", str(course.root), "--to", str(work)]) == 0
    assert mine.read_text() == answer and "kept your" in capsys.readouterr().out
    assert (work / "nbgrader_config.py").exists()

    release.write_text(answer)   # a student worked in release/ as the old README said
    capsys.readouterr()
    assert cli.main(["build", A, "--course", str(course.root)]) == 1
    err = capsys.readouterr().err
    assert "not overwriting" in err and "--force" in err and "Traceback" not in err
    assert release.read_text() == answer
    notes = release.parent / "mynotes.txt"   # files build does not write are kept, even with --force
    notes.write_text("my notes")
    checkpoint = release.parent / ".ipynb_checkpoints" / f"{A}-checkpoint.ipynb"
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_text(answer)
    assert cli.main(["build", A, "--course", str(course.root), "--force"]) == 0
    assert "raise NotImplementedError()" in release.read_text()
    assert cli.main(["build", A, "--course", str(course.root)]) == 0
    assert notes.read_text() == "my notes" and checkpoint.read_text() == answer


def test_build_says_what_stands_where_it_writes_and_replaces_nothing(built, tmp_path, capsys):
    course = copy_course(built, tmp_path / "c")
    release = course.release_path(A, A)
    built = release.read_text()
    release.unlink()
    (release / "inside.txt").parent.mkdir()          # a folder where the student version goes
    (release / "inside.txt").write_text("kept")
    for force in ([], ["--force"]):
        assert cli.main(["build", A, "--course", str(course.root), *force]) == 1
        err = capsys.readouterr().err
        assert f"{release} is a folder where build writes a file" in err and "move it away" in err, err
        assert "Traceback" not in err and (release / "inside.txt").read_text() == "kept"
    shutil.rmtree(release)
    shutil.rmtree(release.parent)
    release.parent.write_text("not a folder")          # a file where the assignment's folder goes
    assert cli.main(["build", A, "--course", str(course.root), "--force"]) == 1
    err = capsys.readouterr().err
    assert f"{release.parent} is a file where build writes a folder" in err and "Traceback" not in err, err
    assert release.parent.read_text() == "not a folder"
    release.parent.unlink()
    assert cli.main(["build", A, "--course", str(course.root)]) == 0 and release.read_text() == built


# -- 2: the demo never deletes a user's files -----------------------------------------------------------------

def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("four years of work")
    assert cli.main(["demo", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "four years of work"


def test_demo_rows_carry_the_seed_each_assignment_was_graded_with(tmp_path, monkeypatch, capsys):
    # a smaller demo: two assignments, the reference, the unchanged version and the truncated file
    two = sorted(p.name for p in REPO_SOURCE.iterdir() if (p / f"{p.name}.ipynb").exists())[:2]
    monkeypatch.setattr(Course, "assignments", property(lambda self: two))
    monkeypatch.setattr(demo, "demo_bugs", lambda assignment: [])
    graded_with, grade = {}, Course.grade

    def spy(self, assignment, *args, **kwargs):
        results = grade(self, assignment, *args, **kwargs)
        graded_with[assignment] = results.seed
        return results

    monkeypatch.setattr(Course, "grade", spy)
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert sorted(graded_with) == two
    rows = [r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8")) if r["student"] != "(maximum)"]
    assert {r["assignment"] for r in rows} == set(two)
    for row in rows:
        assert row["grading_seed"] == str(graded_with[row["assignment"]]), row
    assert f"hidden tests seeded with {graded_with[two[0]]};" in printed


# -- 3, 10: clear errors, files untouched ----------------------------------------------------------------------

def test_user_mistakes_get_one_clear_line(course, tmp_path, capsys):
    grades = tmp_path / "grades.csv"
    grades.write_text("keep me\n")
    root = str(course.root)
    bad_zip = tmp_path / "moodle-download.zip"   # an interrupted download: not a zip
    bad_zip.write_bytes(b"PK\x03\x04 half of a download")
    before = course.students(A)
    cases = [
        (["export", "step_size", "--course", root, "--csv", str(grades)], "Did you mean step_sizes?"),
        (["grade", "nosuch", "--course", root, "--csv", str(grades)], "no assignment 'nosuch'"),
        (["build", "nosuch", "--course", root], "no assignment 'nosuch'"),
        (["grade", A, "--course", str(tmp_path / "empty"), "--csv", str(grades)], "no course directory"),
        (["grade", A, "--course", str(tmp_path), "--csv", str(grades)], "not a course directory"),
        (["grade", A, "--course", root, "--submissions", str(grades), "--csv", str(grades)], "is a file"),
        (["grade", A, "--course", root, "--student", "nobody", "--csv", str(grades)], "no submission of"),
        (["grade", A, "--course", root, "--submissions", str(bad_zip), "--csv", str(grades)], "is not a zip file"),
    ]
    for argv, words in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)
    assert grades.read_text() == "keep me\n" and course.students(A) == before
    assert bad_zip.read_bytes() == b"PK\x03\x04 half of a download"
    assert not (tmp_path / "exchange").exists() and not (tmp_path / "empty").exists()
    for argv in (["grade", A, "--workers", "-2"], ["grade", A, "--workers", "0"], ["grade", A, "--timeout", "0"]):
        with pytest.raises(SystemExit) as exit:
            cli.main(argv)
        assert exit.value.code == 2 and "must be 1 or more" in capsys.readouterr().err


def test_a_dask_address_that_does_not_answer_and_a_deleted_gradebook(built, tmp_path, capsys):
    course = copy_course(built, tmp_path / "c")
    code = cli.main(["grade", A, "--course", str(course.root), "--dask", "tcp://127.0.0.1:9",
                     "--csv", str(tmp_path / "g.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "no Dask scheduler answers at tcp://127.0.0.1:9" in err, err
    (course.root / "gradebook.db").unlink()
    for command in ("grade", "export"):
        assert cli.main([command, A, "--course", str(course.root), "--csv", str(tmp_path / "g.csv")]) == 2
        assert "sgd-course build" in capsys.readouterr().err


def test_the_command_as_a_user_runs_it(capsys):
    """``python -m autograder`` as a process for the version and an error; the help texts (the same parser)
    in this process, where asking for them costs no start-up."""
    def run(*argv):
        return subprocess.run([sys.executable, "-m", "autograder", *argv], capture_output=True, text=True)

    def help_of(*argv):
        with pytest.raises(SystemExit) as exit:
            cli.main([*argv, "--help"])
        assert exit.value.code == 0
        return capsys.readouterr().out

    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("sgd-course ")
    top = help_of()
    assert "``" not in top and "Build the student versions" in top
    assert "(default: sgd-course-demo)" in " ".join(help_of("demo").split())
    import argparse
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) >= {"demo", "build", "fetch", "lab", "grade", "check", "export"}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help, f"sgd-course {name}: {action.dest} has no help"
    error = run("build", "nosuch")
    assert error.returncode == 2 and "Traceback" not in error.stderr and "no assignment" in error.stderr


def test_help_states_each_default_once(capsys):
    import argparse
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        text = " ".join(sub.format_help().split())
        assert "(default: None)" not in text and "(default: False)" not in text, (name, text)
        for action in sub._actions:
            formatter = sub._get_formatter()
            shown = formatter._expand_help(action) if action.help else ""
            assert shown.count("(default") <= 1, f"sgd-course {name} --help: {action.dest}: {shown}"
    demo_help = " ".join(commands.choices["demo"].format_help().split())
    assert demo_help.count("(default:") == 3   # --out, --seed, --workers


def test_a_failing_command_leaves_no_exchange_folder(tmp_path, capsys):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / A).symlink_to(REPO_SOURCE / A)
    for argv in (["build", "nosuch"], ["grade", "nosuch"], ["export", "nosuch"], ["fetch", "nosuch"],
                 ["lab", "--instructor", "--course", str(tmp_path / "nothing")]):
        if "--course" not in argv:
            argv += ["--course", str(course)]
        assert cli.main(argv) == 2, argv
        assert "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in course.iterdir()) == ["source"]


# -- 12: a progress bar off a terminal ------------------------------------------------------------------------

def test_progress_off_a_terminal_prints_a_line_per_submission(tmp_path):
    from autograder.grading import Result

    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        progress = cli.Progress(stream=stream)
        for i, student in enumerate(["ann", "ben", "cat"], 1):
            progress(i, 3, Result(student, A))
    text = log.read_text()
    assert "\r" not in text and len(text.splitlines()) == 3 and "ben: graded" in text.splitlines()[1]


# -- 5: the feedback page as a student sees it: offline, at 1200 px ----------------------------------------------

def test_feedback_reads_offline_at_1200_px_with_wrapped_hints_and_maths(course, tmp_path, capsys):
    import browser_helpers as bh
    from playwright.sync_api import sync_playwright

    answers = demo.reference_answers(course.root / "source" / A / f"{A}.ipynb")
    bug = next(b for b in demo.demo_bugs(A) if b.cell == "stochastic_gradient")   # a sign error: a long hint
    downloads = tmp_path / "d"
    downloads.mkdir()
    (downloads / "signerr.ipynb").write_text(demo.fill_in(course.release_path(A, A), demo.with_bug(answers, bug)))
    code, out = grade(course, "--submissions", str(downloads), "--seed", str(SEED), csv_path=tmp_path / "g.csv",
                       capsys=capsys)
    assert code == 0, out.err
    page_path = course.root / "feedback" / "signerr" / A / f"{A}.html"

    def look():
        with sync_playwright() as playwright:
            browser = bh.launch_browser(playwright, tmp_path / "profile")
            try:
                page = browser.new_page()
                page.set_viewport_size({"width": 1200, "height": 900})
                remote = []
                page.on("request", lambda r: remote.append(r.url) if r.url.startswith(("http:", "https:")) else None)
                page.route("http*://**", lambda route: route.abort())   # no network
                page.goto(page_path.as_uri())
                page.wait_for_load_state("load")
                hint = page.locator("pre", has_text="Hint: the sign looks flipped").first
                assert hint.is_visible()
                overflow = hint.evaluate("e => e.scrollWidth - e.clientWidth")
                assert overflow <= 1, f"the hint scrolls sideways by {overflow} px"
                assert page.evaluate("document.documentElement.scrollWidth") <= 1200
                maths = page.locator("math").first
                assert maths.bounding_box()["width"] > 0
                assert "$" not in maths.evaluate("e => e.textContent")
                assert page.locator("#score-manual .pending").is_visible()
                assert remote == [], f"the page asked the network for {remote}"
            finally:
                browser.close()

    # in a thread of its own: an asyncio loop that an earlier test left in this thread would stop
    # Playwright's sync API
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(look).result()
