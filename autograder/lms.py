"""Learning platforms: their submission downloads, their class lists, their grade-import files.

Reading a folder of submissions (``scan``), one entry per student:

- ``<student>.ipynb`` files (one-notebook assignments) or ``<student>/[<assignment>/]*.ipynb`` folders;
- Moodle's "Download all submissions": ``<Full Name>_<id>_assignsubmission_file_/`` folders; the student
  id is Moodle's participant id, the full name is recorded for the formgrader;
- Canvas's "Download submissions": flat ``<name>_[LATE_]<user id>_<submission id>_<file>.ipynb`` files, a
  resubmission of the same file named ``<file>-1.ipynb``, ``<file>-2.ipynb``...; the student id is the
  Canvas user id. ``<name>`` is Canvas's slug of the sortable name (``lovelaceada``), not the login:
  with ``id_from="login"`` the user id is looked up in ``logins`` (Canvas user id -> login, from the
  class's gradebook export), and a file of a user missing from it is refused.

When a student handed in several files for one notebook, the newest is graded (the platform's
resubmission number, then the file's time) and the others are named in a note; a one-notebook assignment
takes the student's only notebook even if it was renamed (with a note). Student ids are data: an id that
nbgrader cannot keep as a folder name is refused, by name, and the rest of the class is graded.

Importing into the course: ``open_download`` (a folder, or a zip unpacked with its entries' times),
``import_folder`` (each student's files to ``submitted/``, the refused and the notes kept with the
course), ``import_roster`` (the class list into the gradebook).

Class lists (``read_roster``): nbgrader's student list (``id,first_name,last_name,email``, as
``nbgrader db student import`` takes it), a Canvas gradebook export, or a Moodle grading worksheet.

Grade imports (``write_moodle``, ``write_canvas``): the CSV each platform's grade import accepts with its
column names (Moodle's grading worksheet in the language of the worksheet the instructor downloaded:
``Identifier`` = ``Participant <id>``, ``Grade``, ``Last modified (grade)``, or German ``ID`` =
``Teilnehmer/in <id>``, ``Bewertung``, ``Zuletzt geändert (Bewertung)``; Canvas's gradebook: ``Student,
ID, SIS User ID, SIS Login ID, Section`` and one column per assignment, headed ``<name> (<canvas
assignment id>)`` or by a new assignment's name). Every cell written is ``spreadsheet_safe``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import stat
import sys
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .job import read_submission

MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<file>.+)$")
CANVAS_FILE = re.compile(r"^(?P<login>[^_]+)_(?P<late>LATE_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+?)"
                         r"(?:-(?P<n>\d+))?\.ipynb$")
RESUBMISSION = re.compile(r"^(?P<file>.+?)(?:-(?P<n>\d+)| \((?P<copy>\d+)\))$")
ID_CHOICES = ("id", "login")
JUNK = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db"}


def id_problem(student: str) -> str:
    """Why nbgrader cannot keep ``student`` as a folder name (submitted/<student>/...), or ""."""
    if not student or not student.strip():
        return "it is empty"
    if student != student.strip():
        return "it starts or ends with a space (nbgrader strips it)"
    if student in (".", "..") or student.startswith("."):
        return "it starts with a dot (a hidden or parent folder)"
    bad = sorted({c for c in student if c in "/\\*?[]" or unicodedata.category(c) == "Cc"})
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)} (a path separator, a wildcard or a control character)"
    if len(student.encode("utf-8", "surrogatepass")) > 200:
        return "it is longer than 200 bytes"
    return ""


@dataclass
class Candidate:
    path: Path
    notebook: str  # the notebook name it stands for (resubmission suffix removed)
    order: int = 0  # the platform's resubmission number: higher is newer
    time: float | None = None  # when it was handed in (the zip entry's time, the file's), None: unknown


@dataclass
class Entry:
    """One student's submission in a downloaded folder."""

    student: str
    files: dict[str, Path] = field(default_factory=dict)  # notebook name -> file to grade
    first_name: str | None = None
    last_name: str | None = None
    notes: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    lms_id: str | None = None  # Canvas's user id, when the id is the login
    problem: str = ""  # why none of the files is graded ("2 notebooks, choose one: ...")
    choices: list[str] = field(default_factory=list)  # every choice among several files, in words
    others: list[str] = field(default_factory=list)  # files handed in that are not notebooks


def _split_name(full: str) -> tuple[str | None, str | None]:
    parts = full.strip().rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] or None)


def _candidate(path: Path, notebooks: list[str], when, stem: str | None = None) -> Candidate:
    """``stem``: the name the student gave the file (default: the file's own)."""
    stem = stem or path.stem
    m = None if stem in notebooks else RESUBMISSION.match(stem)
    if m:
        return Candidate(path, m["file"], int(m["n"] or m["copy"]), when(path))
    return Candidate(path, stem, 0, when(path))


def scan(folder: Path, assignment: str, notebooks: list[str], *, id_from: str = "id",
         logins: dict[str, str] | None = None, times: dict[Path, float | None] | None = None
         ) -> tuple[list[Entry], dict[str, str]]:
    """(entries, refused): each student's files to grade, and ``{name: why}`` of what was refused.
    ``logins``: Canvas user id -> login, for ``id_from="login"``. ``times``: when each file was handed
    in (a zip's entry times, None where the zip does not know); default: the files' own times."""
    entries: dict[str, Entry] = {}
    refused: dict[str, str] = {}
    logins = logins or {}

    def when(path: Path) -> float | None:
        return times.get(path) if times is not None else path.stat().st_mtime

    def entry(student, first=None, last=None) -> Entry | None:
        problem = id_problem(student)
        if problem:
            refused[student] = f"the student id {student!r} cannot be used: {problem}"
            return None
        e = entries.setdefault(student, Entry(student))
        e.first_name, e.last_name = e.first_name or first, e.last_name or last
        return e

    for path in sorted(folder.iterdir()):
        if path.name in JUNK or path.is_dir() and path.name.startswith("."):
            continue
        if path.is_file():
            flat = MOODLE_FILE.match(path.name)
            if flat:  # Moodle's download with "in folders" off: <Full Name>_<id>_assignsubmission_file_<file>
                first, last = _split_name(flat["name"])
                e = entry(flat["id"], first, last)
                if e and path.suffix == ".ipynb":
                    e.candidates.append(_candidate(path, notebooks, when, stem=Path(flat["file"]).stem))
                elif e:
                    e.others.append(flat["file"])
                continue
            if path.suffix != ".ipynb":
                continue
            m = CANVAS_FILE.match(path.name)
            if m and id_from == "login" and m["id"] not in logins:
                refused[m["id"]] = (f"the Canvas user {m['id']} ({path.name}) is not in the class list, which "
                                    "gives the logins: give Canvas's current gradebook export as --roster")
                continue
            if m:
                e = entry(logins[m["id"]] if id_from == "login" else m["id"])
                if e:
                    e.lms_id = m["id"]
                    e.candidates.append(Candidate(path, m["file"], int(m["n"] or 0), when(path)))
                    if m["late"]:
                        note = "handed in late (Canvas)"
                        if note not in e.notes:
                            e.notes.append(note)
            else:
                e = entry(path.stem)
                if e:
                    e.candidates.append(Candidate(path, notebooks[0] if len(notebooks) == 1 else path.stem,
                                                  0, when(path)))
        elif path.is_dir():
            m = MOODLE_FOLDER.match(path.name)
            if m:
                first, last = _split_name(m["name"])
                e = entry(m["id"], first, last)
            else:
                e = entry(path.name)
            if e:
                inner = path / assignment if (path / assignment).is_dir() else path
                found = [p for p in sorted(inner.rglob("*")) if p.is_file() and ".ipynb_checkpoints" not in p.parts
                         and p.name not in JUNK]
                e.candidates += [_candidate(p, notebooks, when) for p in found if p.suffix == ".ipynb"]
                e.others += [p.name for p in found if p.suffix != ".ipynb"]
    for e in entries.values():
        _choose(e, notebooks)
    return sorted(entries.values(), key=lambda e: e.student), refused


def _newest(candidates: list[Candidate]) -> list[Candidate]:
    """Newest first: the platform's resubmission number, then the time it was handed in."""
    return sorted(candidates, key=lambda c: (c.order, c.time or 0.0), reverse=True)


def _undecided(newest: list[Candidate]) -> list[Candidate]:
    """The files that are equally new as the newest (the same number, the same or an unknown time)."""
    first = newest[0]
    return [c for c in newest if c.order == first.order and (c.time is None or first.time is None
                                                               or c.time == first.time)]


def _choose(e: Entry, notebooks: list[str]) -> None:
    by_name: dict[str, list[Candidate]] = {}
    for c in e.candidates:
        by_name.setdefault(c.notebook, []).append(c)
    renamed = len(notebooks) == 1 and notebooks[0] not in by_name and e.candidates
    if renamed:
        by_name = {notebooks[0]: e.candidates}
    ignored = []
    for name, candidates in by_name.items():
        if name not in notebooks and len(notebooks) == 1:
            ignored += [c.path.name for c in candidates]
            continue
        newest = _newest(candidates)
        tied = _undecided(newest) if len(newest) > 1 else []
        if len(tied) > 1:
            e.problem = (f"{len(tied)} notebooks, choose one: {', '.join(c.path.name for c in tied)} "
                         "(equally new, or handed in at unknown times)")
            e.files.clear()
            return
        e.files[name] = newest[0].path
        if renamed:
            e.notes.append(f"graded {newest[0].path.name} as {notebooks[0]}.ipynb (the notebook was renamed)")
        if len(newest) > 1:
            choice = (f"graded the newest of {len(newest)} files handed in for {name}.ipynb "
                      f"({newest[0].path.name}{_at(newest[0])}); not graded: "
                      + ", ".join(c.path.name + _at(c) for c in newest[1:]))
            e.notes.append(choice)
            e.choices.append(f"{e.student}: {choice}")
    if ignored:
        e.notes.append(f"also handed in, not graded: {', '.join(sorted(ignored))}")


def _at(c: Candidate) -> str:
    if c.order:
        return f", resubmission {c.order}"
    return f", {time.strftime('%Y-%m-%d %H:%M', time.localtime(c.time))}" if c.time is not None else ""


# -- class lists -----------------------------------------------------------------------------------------

@dataclass
class Student:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    login: str | None = None
    sis_id: str | None = None
    section: str | None = None
    lms_id: str | None = None  # Canvas's numeric user id (its downloads name files by it)


def canvas_logins(students: list[Student]) -> dict[str, str]:
    """Canvas user id -> login, from a Canvas gradebook export (a student without a login keeps the
    user id, as ``read_roster`` does); {} when no student has a login."""
    if not any(s.lms_id and s.login for s in students):
        return {}
    return {s.lms_id: s.login or s.lms_id for s in students if s.lms_id}


@dataclass(frozen=True)
class MoodleWords:
    """The column names and the identifier prefix of a Moodle grading worksheet in one language (Moodle's
    lang strings ``assign/recordid``, ``assign/hiddenuser``, ``moodle/grade``, ``assign/lastmodifiedgrade``,
    ``assign/maxgrade``, ...); ``decimal`` is the language's decimal separator (Moodle reads grades
    with ``unformat_float``)."""

    identifier: str
    participant: str
    grade: str
    modified: str
    maximum: str
    full_name: str
    email: str
    feedback: str
    decimal: str


MOODLE_LANGUAGES = {
    "en": MoodleWords("Identifier", "Participant ", "Grade", "Last modified (grade)", "Maximum Grade",
                      "Full name", "Email address", "Feedback comments", "."),
    "de": MoodleWords("ID", "Teilnehmer/in", "Bewertung", "Zuletzt geändert (Bewertung)", "Bestwertung",
                      "Vollständiger Name", "E-Mail-Adresse", "Feedback als Kommentar", ","),
}


def moodle_words(columns) -> MoodleWords | None:
    """The language of a Moodle grading worksheet with these columns (its importer needs the identifier,
    the grade and the last-modified column), or None."""
    for words in MOODLE_LANGUAGES.values():
        if {words.identifier, words.grade, words.modified} <= set(columns):
            return words
    return None


def moodle_participant(identifier: str, words: MoodleWords) -> str:
    """The participant id in an identifier, as Moodle's importer reads it: the text after the prefix."""
    identifier = identifier or ""
    prefix = words.participant.strip()
    rest = identifier[len(prefix):] if identifier.startswith(prefix) else ""
    return rest.strip() if rest.strip().isdigit() else ""


@dataclass
class Sheet:
    """A CSV class list as the platform wrote it: the header, the rows, and (Moodle) its language."""

    path: Path
    columns: list[str]
    rows: list[dict]
    moodle: MoodleWords | None = None
    written: float = 0.0  # when the file was written (downloaded): the time its grades are from


def read_sheet(path) -> Sheet:
    path = Path(path)
    if not path.exists():
        raise ValueError("no such file")
    if path.is_dir():
        raise ValueError("is a folder; give the class list's CSV file")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    if not rows:
        raise ValueError("no students in it")
    return Sheet(path, columns, rows, moodle_words(columns), path.stat().st_mtime)


def read_roster(path, *, id_from: str = "id") -> list[Student]:
    """The students of a class list: nbgrader's, a Canvas gradebook export or a Moodle worksheet."""
    sheet = read_sheet(path)
    rows, columns = sheet.rows, set(sheet.columns)
    students = []
    if sheet.moodle:  # Moodle grading worksheet, English or German
        words = sheet.moodle
        for row in rows:
            number = moodle_participant(row[words.identifier], words)
            if number:
                first, last = _split_name(row.get(words.full_name) or "")
                students.append(Student(number, first, last, (row.get(words.email) or "").strip() or None))
    elif {"Student", "ID"} <= columns:  # Canvas gradebook export
        for row in rows:
            if not (row.get("ID") or "").strip().isdigit():  # "Points Possible", the test student...
                continue
            last, _, first = (row["Student"] or "").partition(",")
            login = (row.get("SIS Login ID") or "").strip() or None
            students.append(Student(login if id_from == "login" and login else row["ID"].strip(),
                                    first.strip() or None, last.strip() or None, login=login,
                                    sis_id=(row.get("SIS User ID") or "").strip() or None,
                                    section=(row.get("Section") or "").strip() or None,
                                    lms_id=row["ID"].strip()))
    elif "id" in columns:  # nbgrader's student list
        for row in rows:
            if (row["id"] or "").strip():
                students.append(Student(row["id"].strip(), (row.get("first_name") or "").strip() or None,
                                        (row.get("last_name") or "").strip() or None,
                                        (row.get("email") or "").strip() or None))
    else:
        raise ValueError("not a class list this command knows: expected nbgrader's columns "
                         "(id, first_name, last_name, email), a Canvas gradebook export (Student, ID, ...) "
                         "or a Moodle grading worksheet (Identifier, Grade, Last modified (grade), ... or "
                         f"German ID, Bewertung, ...); found {', '.join(sorted(columns))}")
    return students


def save_sheet(course_root: Path, path: Path) -> None:
    """Keep the class list ``grade --roster`` read, as the platform wrote it and under its own name
    (with its time: the download's), for ``export`` to fill in."""
    folder = Path(course_root) / ".grading" / "roster-sheet"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy2(path, folder / Path(path).name)


def saved_sheet(course_root: Path) -> Path | None:
    """The class list ``save_sheet`` kept, or None."""
    found = sorted((Path(course_root) / ".grading" / "roster-sheet").glob("*"))
    return found[0] if found else None


# -- what the importer noted, kept with the course -------------------------------------------------------

def _save_json(path: Path, data: dict) -> None:
    """Keep ``data`` in ``path`` (folders made), readably: sorted keys, one item a line, UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def _load_json(path: Path) -> dict:
    """What ``_save_json`` kept in ``path``; {} when there is none or it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def notes_file(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / ".grading" / "imports" / f"{assignment}.json"


def save_notes(course_root: Path, assignment: str, notes: dict[str, list[str]]) -> None:
    data = load_notes(course_root, assignment)
    data.update(notes)
    _save_json(notes_file(course_root, assignment), data)


def load_notes(course_root: Path, assignment: str) -> dict[str, list[str]]:
    return _load_json(notes_file(course_root, assignment))


def refused_file(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / ".grading" / "imports" / "refused" / f"{assignment}.json"


def save_refused(course_root: Path, assignment: str, refused: dict[str, str], imported=()) -> None:
    """Keep what an import refused (name -> why), so that every later CSV (``export`` too) has its
    row; a name imported since is dropped from it."""
    data = load_refused(course_root, assignment)
    data.update(refused)
    for name in imported:
        data.pop(name, None)
    _save_json(refused_file(course_root, assignment), data)


def load_refused(course_root: Path, assignment: str) -> dict[str, str]:
    return _load_json(refused_file(course_root, assignment))


# -- grade imports ---------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell) -> str:
    """A CSV cell a spreadsheet shows as text (OWASP's advice on CSV injection): one that starts with
    ``= + - @``, a tab or a carriage return gets a leading ``'``. Numbers this package writes and
    identifiers such as ``Participant 100001`` start otherwise and stay as they are."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_START) else text


class SafeWriter:
    """``csv.writer`` whose every cell is ``spreadsheet_safe``: the one way this package writes CSV."""

    def __init__(self, fh):
        self.writer = csv.writer(fh)

    def writerow(self, row) -> None:
        self.writer.writerow([spreadsheet_safe(cell) for cell in row])


def format_points(x, decimal: str = ".") -> str:
    """A score as the grade sheets write it: no trailing zeros, ``decimal`` as the decimal mark, "" for
    none."""
    return "" if x is None else f"{x:g}".replace(".", decimal)


def _now() -> str:
    """A time Moodle's importer reads (``strtotime``) as "the grade was changed now"."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def write_moodle(rows, path) -> Path:
    """Moodle's grading worksheet ("Upload grading worksheet"), in English: rows of
    (student, full name, email, grade or None, maximum, comment). ``Last modified (grade)`` is now, so
    that Moodle takes the grades (it skips a row whose grade changed in Moodle after that time)."""
    words = MOODLE_LANGUAGES["en"]
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)
        writer.writerow([words.identifier, words.full_name, words.email, words.grade, words.maximum,
                         words.modified, words.feedback])
        for student, name, email, grade, maximum, comment in rows:
            ident = f"{words.participant}{student}" if student.isdigit() else student
            writer.writerow([ident, name, email or "", format_points(grade), format_points(maximum),
                             _now() if grade is not None else "-", comment])
    return path


class CannotScale(ValueError):
    """The worksheet's maximum grade is not a number the points can be scaled to."""


def _number(text: str, decimal: str) -> float | None:
    try:
        return float((text or "").strip().replace(decimal, "."))
    except ValueError:
        return None


def fill_moodle(sheet: Sheet, grades: dict[str, tuple], path) -> tuple[Path, int]:
    """The worksheet the instructor downloaded (``sheet``), filled in: same columns, language and
    identifiers; ``grades``: participant id -> (points, maximum, comment), points None for no grade
    (the worksheet's own grade stays). ``Last modified (grade)`` of a filled row is when the worksheet
    was downloaded (its file's time; Moodle cannot read the German dates it writes), so that Moodle
    takes the grade unless someone changed it in Moodle since. Each grade is scaled to the row's maximum grade (14/14 into 100
    is 100); raises CannotScale when that maximum is not a positive number. Returns (path, rows filled)."""
    words = sheet.moodle
    path = Path(path)
    out, filled = [], 0
    for row in sheet.rows:
        row = dict(row)
        student = moodle_participant(row[words.identifier], words)
        points, maximum, comment = grades.get(student, (None, None, None))
        if points is not None:
            top = _number(row.get(words.maximum, ""), words.decimal)
            if top is None or top <= 0 or not maximum:
                raise CannotScale(f"{sheet.path}: the maximum grade of {row[words.identifier]} is "
                                  f"{row.get(words.maximum)!r}, not a number of points the grade can be "
                                  "scaled to (an assignment graded on a scale?); set the assignment's "
                                  "maximum grade to points in Moodle and download the worksheet again")
            row[words.grade] = format_points(round(points / maximum * top, 2), words.decimal)
            # Moodle skips a grade changed in Moodle after this time: the worksheet's download
            row[words.modified] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sheet.written))
            filled += 1
        if comment is not None and words.feedback in row:
            row[words.feedback] = comment
        out.append(row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)
        writer.writerow(sheet.columns)
        for row in out:
            writer.writerow([row.get(c, "") for c in sheet.columns])
    return path, filled


def canvas_column(sheet: Sheet | None, assignment: str) -> str | None:
    """The column of a Canvas gradebook export that is this assignment's (``Step sizes (98765)`` for
    step_sizes: the same letters and digits, any case or spacing), or None."""
    def key(text):
        return re.sub(r"[\W_]+", "", text).casefold()

    if sheet is None or {"Student", "ID"} - set(sheet.columns):
        return None
    matches = [c for c in sheet.columns if (m := re.match(r"^(.*)\s\(\d+\)$", c)) and key(m[1]) == key(assignment)]
    return matches[0] if len(matches) == 1 else None


def write_canvas(rows, path, column: str, maximum: float) -> Path:
    """Canvas's gradebook import: rows of (student, "Last, First", login, sis id, section, grade or None).
    ``column`` heads the grades: "<assignment name> (<canvas assignment id>)" updates that assignment,
    a plain name makes a new one."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = SafeWriter(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["    Points Possible", "", "", "", "", format_points(maximum)])
        for student, name, login, sis_id, section, grade in rows:
            writer.writerow([name, student, sis_id or "", login or "", section or "", format_points(grade)])
    return path


def moodle_feedback_zip(pages: dict[str, tuple[str, list[Path]]], path) -> tuple[Path, int]:
    """A zip for Moodle's "Upload multiple feedback files in a zip": ``pages``: participant id ->
    (full name, feedback pages); each page goes into the student's folder as Moodle's download names
    it, ``<Full Name>_<id>_assignsubmission_file_/`` (Moodle reads the id after the first ``_``, so a
    ``_`` in a name becomes a space). Returns (path, students in it)."""
    path = Path(path)
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for student, (name, files) in sorted(pages.items()):
            if not student.isdigit() or not files:
                continue
            folder = re.sub(r"[_/\\]+", " ", name or "").strip() or "Participant"
            for page in files:
                zf.write(page, f"{folder}_{student}_assignsubmission_file_/{page.name}")
            count += 1
    return path, count


def look_alike(ids) -> list[list[str]]:
    """Groups of student ids that differ only in Unicode normalisation (NFC/NFD) or case: a
    spreadsheet or a person shows them as one."""
    groups: dict[str, list[str]] = {}
    for student in sorted(set(ids)):
        groups.setdefault(unicodedata.normalize("NFKC", student).casefold(), []).append(student)
    return [group for group in groups.values() if len(group) > 1]


def roster_file(course_root: Path) -> Path:
    return Path(course_root) / ".grading" / "roster.json"


def save_roster(course_root: Path, students: list[Student]) -> None:
    """What nbgrader's student list has no column for (a Canvas login, SIS id, section), by student id."""
    import dataclasses
    data = {s.id: dataclasses.asdict(s) for s in load_roster(course_root)}
    data.update({s.id: dataclasses.asdict(s) for s in students})
    _save_json(roster_file(course_root), data)


def load_roster(course_root: Path) -> list[Student]:
    return [Student(**row) for row in _load_json(roster_file(course_root)).values()]


# -- importing a download into the course -------------------------------------------------------------------

class BadDownload(ValueError):
    """A download that cannot be read at all (no such file or folder, a file that is not a zip, a zip
    that cannot be unpacked): nothing is imported."""


class ImportRefused(Exception):
    """An import that would change nothing but lose work (no notebook of the assignment in it): the
    course is left untouched."""


def open_download(path: Path, stack: contextlib.ExitStack) -> tuple[Path, dict | None]:
    """(folder, times): the folder of submissions, a zip unpacked first; ``times``: when each file was
    handed in by the zip's own entry times (None: the files' times). The zip is unpacked into a
    temporary folder that ``stack`` removes. Raises BadDownload when ``path`` cannot be read."""
    if not path.exists():
        raise BadDownload(f"{path}: no such {'file' if path.suffix.lower() == '.zip' else 'folder'}")
    if path.is_file():
        if path.suffix.lower() == ".zip":  # a learning platform's download, not unpacked yet
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sgd-course-import-")))
            try:
                times = unzip(path, tmp)
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise BadDownload(f"{path} is not a zip file that can be read ({error}); "
                                  "download it again from your learning platform, or unpack it and give "
                                  "the folder") from None
            entries = [p for p in tmp.iterdir() if not p.name.startswith((".", "__MACOSX"))]
            folder = entries[0] if len(entries) == 1 and entries[0].is_dir() and not \
                MOODLE_FOLDER.match(entries[0].name) else tmp
            return folder, times
        raise BadDownload(f"{path} is a file; give the folder of submissions (or the .zip "
                          "your learning platform downloads)")
    return path, None


UNKNOWN_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip entry can have: what zip tools write when they do not know it."""


def unzip(path: Path, target: Path) -> dict[Path, float | None]:
    """Unpack a zip into ``target``, keeping each entry's time (returned: file -> time, None where
    unknown). Entries that would land outside ``target`` (``../``, absolute paths) and symbolic links
    are refused by name and not unpacked."""
    times = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            parts = Path(info.filename.replace("\\", "/")).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                print(f"warning: not imported: the zip entry {info.filename!r} points outside the download",
                      file=sys.stderr)
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                print(f"warning: not imported: the zip entry {info.filename!r} is a symbolic link",
                      file=sys.stderr)
                continue
            dest = target.joinpath(*parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            times[dest] = None if info.date_time <= UNKNOWN_ZIP_TIME else time.mktime((*info.date_time, 0, 0, -1))
    return times


def import_folder(course, assignment: str, folder: Path, *, id_from: str = "id",
                  logins: dict | None = None, times: dict | None = None, replace=()) -> tuple[list[str], list[str]]:
    """Copy the submissions in ``folder`` into ``course`` (a ``grading.Course``; see ``scan``): returns
    (the students imported, every choice among several files, in words). Refused ids are printed, by name, skipped,
    and kept with the course (``save_refused``: every later CSV has their row). Raises
    ImportRefused, before anything changes, when no submission holds a notebook of the assignment.
    A graded submission is replaced by one that cannot be graded only for students in ``replace``
    (True: everyone)."""
    notebooks = course.notebooks(assignment)
    entries, why_not = scan(folder, assignment, notebooks, id_from=id_from, logins=logins, times=times)
    if not any(e.candidates for e in entries) and (entries or not why_not):
        found = sorted({name for e in entries for name in e.others} or
                       {p.name for p in folder.rglob("*") if p.is_file() and p.name not in JUNK})
        where = f"{len(entries)} submissions" if entries else f"the {len(found)} file(s) of {folder.name}"
        raise ImportRefused(f"no {assignment} notebook in {where}"
                            + (f" (found {', '.join(found[:5])}{', ...' if len(found) > 5 else ''})" if found else "")
                            + f"; nothing imported, nothing changed. Is it the download of {assignment}?")
    kept = [e for e in entries if _keeps_graded(course, assignment, e, replace)]
    entries = [e for e in entries if e not in kept]
    why_not |= {e.student: e.problem for e in entries if e.problem}
    save_refused(course.root, assignment, why_not,
                 imported=[e.student for e in entries if not e.problem] + [e.lms_id for e in entries if e.lms_id]
                 + [e.student for e in kept])
    for name, why in why_not.items():
        hint = "; rename it" if why.startswith("the student id") else ""
        print(f"warning: not imported: {name}: {why}{hint} (the rest of the class is graded)", file=sys.stderr)
    roster = course.roster()
    notes = {}
    for entry in entries:
        if entry.problem:
            continue
        course.submit(entry.student, assignment, dict(entry.files))
        notes[entry.student] = entry.notes
        if entry.first_name or entry.last_name or entry.student not in roster:
            known = roster.get(entry.student, (None, None, None))
            course.add_student(entry.student, first_name=entry.first_name or known[0],
                               last_name=entry.last_name or known[1], email=known[2])
    save_notes(course.root, assignment, notes)
    choices = [c for e in entries for c in e.choices]
    choices += [f"{e.student}: kept the graded submission: the new one cannot be graded "
                f"({_new_problem(course, assignment, e) or e.problem}); --student {e.student} to grade it anyway"
                for e in kept]
    return [e.student for e in entries if not e.problem], choices


def _new_problem(course, assignment: str, entry: Entry) -> str:
    """Why the files of ``entry`` could not be graded (grading's own check), or ""."""
    if entry.problem:
        return entry.problem
    names = course.notebooks(assignment)
    for name in names:
        path = entry.files.get(name)
        problem, _ = read_submission(path.read_bytes() if path else None, name,
                                     course.release_path(assignment, name).read_text(),
                                     [p.stem for p in entry.files.values()])
        if problem:
            return f"{name}.ipynb: {problem}"
    return ""


def _keeps_graded(course, assignment: str, entry: Entry, replace) -> bool:
    """Whether the import keeps this student's graded submission: the new one cannot be graded and
    nobody asked to replace it (``replace``: True or the students named)."""
    if replace is True or entry.student in replace:
        return False
    if not course.submission_dir(entry.student, assignment).is_dir():
        return False
    return course.result(assignment, entry.student).graded and bool(_new_problem(course, assignment, entry))


def import_roster(course, students: list[Student], path: Path) -> list[Student]:
    """Put the class list's ``students`` (read from ``path``: ``read_roster``) in ``course``'s gradebook
    and return those whose id can be used; the file is kept with the course (``save_sheet``), so that
    ``export`` fills in the platform's own worksheet."""
    bad = [(s.id, id_problem(s.id)) for s in students if id_problem(s.id)]
    for student, why in bad:
        print(f"warning: roster: the student id {student!r} cannot be used: {why}", file=sys.stderr)
    good = [s for s in students if not id_problem(s.id)]
    for s in good:
        course.add_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
    save_roster(course.root, good)
    save_sheet(course.root, path)
    return good
