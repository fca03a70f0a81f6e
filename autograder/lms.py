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

Class lists (``read_roster``): nbgrader's student list (``id,first_name,last_name,email``, as
``nbgrader db student import`` takes it), a Canvas gradebook export, or a Moodle grading worksheet.

Grade imports (``write_moodle``, ``write_canvas``): the CSV each platform's grade import accepts with its
documented column names (Moodle's grading worksheet: ``Identifier`` = ``Participant <id>``, ``Grade``;
Canvas's gradebook: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per assignment,
headed ``<name> (<canvas assignment id>)`` or by a new assignment's name).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
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


def _split_name(full: str) -> tuple[str | None, str | None]:
    parts = full.strip().rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] or None)


def _candidate(path: Path, notebooks: list[str]) -> Candidate:
    stem = path.stem
    m = None if stem in notebooks else RESUBMISSION.match(stem)
    if m:
        return Candidate(path, m["file"], int(m["n"] or m["copy"]))
    return Candidate(path, stem, 0)


def scan(folder: Path, assignment: str, notebooks: list[str], *, id_from: str = "id",
         logins: dict[str, str] | None = None) -> tuple[list[Entry], dict[str, str]]:
    """(entries, refused): each student's files to grade, and ``{name: why}`` of what was refused.
    ``logins``: Canvas user id -> login, for ``id_from="login"``."""
    entries: dict[str, Entry] = {}
    refused: dict[str, str] = {}
    logins = logins or {}

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
                    e.candidates.append(Candidate(path, m["file"], int(m["n"] or 0)))
                    if m["late"]:
                        note = "handed in late (Canvas)"
                        if note not in e.notes:
                            e.notes.append(note)
            else:
                e = entry(path.stem)
                if e:
                    e.candidates.append(Candidate(path, notebooks[0] if len(notebooks) == 1 else path.stem))
        elif path.is_dir():
            m = MOODLE_FOLDER.match(path.name)
            if m:
                first, last = _split_name(m["name"])
                e = entry(m["id"], first, last)
            else:
                e = entry(path.name)
            if e:
                inner = path / assignment if (path / assignment).is_dir() else path
                files = [p for p in sorted(inner.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
                e.candidates += [_candidate(p, notebooks) for p in files]
    for e in entries.values():
        _choose(e, notebooks)
    return sorted(entries.values(), key=lambda e: e.student), refused


def _newest(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.order, c.path.stat().st_mtime_ns, c.path.name), reverse=True)


def _choose(e: Entry, notebooks: list[str]) -> None:
    by_name: dict[str, list[Candidate]] = {}
    for c in e.candidates:
        by_name.setdefault(c.notebook, []).append(c)
    if len(notebooks) == 1 and notebooks[0] not in by_name and e.candidates:
        only = _newest(e.candidates)
        e.notes.append(f"graded {only[0].path.name} as {notebooks[0]}.ipynb (the notebook was renamed)")
        by_name = {notebooks[0]: only}
    ignored = []
    for name, candidates in by_name.items():
        if name not in notebooks and len(notebooks) == 1:
            ignored += [c.path.name for c in candidates]
            continue
        newest = _newest(candidates)
        e.files[name] = newest[0].path
        if len(newest) > 1:
            e.notes.append(f"graded the newest of {len(newest)} files handed in for {name}.ipynb "
                           f"({newest[0].path.name}); not graded: {', '.join(c.path.name for c in newest[1:])}")
    if ignored:
        e.notes.append(f"also handed in, not graded: {', '.join(sorted(ignored))}")


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


def read_roster(path, *, id_from: str = "id") -> list[Student]:
    """The students of a class list: nbgrader's, a Canvas gradebook export or a Moodle worksheet."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no students in it")
    columns = set(rows[0])
    students = []
    if {"Student", "ID"} <= columns:  # Canvas gradebook export
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
    elif "Identifier" in columns:  # Moodle grading worksheet
        for row in rows:
            number = re.sub(r"\D", "", row["Identifier"] or "")
            if number:
                first, last = _split_name(row.get("Full name") or "")
                students.append(Student(number, first, last, (row.get("Email address") or "").strip() or None))
    elif "id" in columns:  # nbgrader's student list
        for row in rows:
            if (row["id"] or "").strip():
                students.append(Student(row["id"].strip(), (row.get("first_name") or "").strip() or None,
                                        (row.get("last_name") or "").strip() or None,
                                        (row.get("email") or "").strip() or None))
    else:
        raise ValueError(f"{path}: not a class list this command knows: expected nbgrader's columns "
                         "(id, first_name, last_name, email), a Canvas gradebook export (Student, ID, ...) "
                         f"or a Moodle grading worksheet (Identifier, Full name, ...); found {', '.join(sorted(columns))}")
    return students


# -- what the importer noted, kept with the course -------------------------------------------------------

def notes_file(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / ".grading" / "imports" / f"{assignment}.json"


def save_notes(course_root: Path, assignment: str, notes: dict[str, list[str]]) -> None:
    path = notes_file(course_root, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = load_notes(course_root, assignment)
    data.update(notes)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def load_notes(course_root: Path, assignment: str) -> dict[str, list[str]]:
    try:
        return json.loads(notes_file(course_root, assignment).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def refused_file(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / ".grading" / "imports" / "refused" / f"{assignment}.json"


def save_refused(course_root: Path, assignment: str, refused: dict[str, str], imported=()) -> None:
    """Keep what an import refused (name -> why), so that every later CSV (``export`` too) has its
    row; a name imported since is dropped from it."""
    data = load_refused(course_root, assignment)
    data.update(refused)
    for name in imported:
        data.pop(name, None)
    path = refused_file(course_root, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def load_refused(course_root: Path, assignment: str) -> dict[str, str]:
    try:
        return json.loads(refused_file(course_root, assignment).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# -- grade imports ---------------------------------------------------------------------------------------

def _points(x) -> str:
    return "" if x is None else f"{x:g}"


def write_moodle(rows, path) -> Path:
    """Moodle's grading worksheet ("Upload grading worksheet"): rows of
    (student, full name, email, grade or None, maximum, comment)."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"])
        for student, name, email, grade, maximum, comment in rows:
            ident = f"Participant {student}" if student.isdigit() else student
            writer.writerow([ident, name, email or "", _points(grade), _points(maximum), comment])
    return path


def write_canvas(rows, path, column: str, maximum: float) -> Path:
    """Canvas's gradebook import: rows of (student, "Last, First", login, sis id, section, grade or None).
    ``column`` heads the grades: "<assignment name> (<canvas assignment id>)" updates that assignment,
    a plain name makes a new one."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["    Points Possible", "", "", "", "", _points(maximum)])
        for student, name, login, sis_id, section, grade in rows:
            writer.writerow([name, student, sis_id or "", login or "", section or "", _points(grade)])
    return path


def roster_file(course_root: Path) -> Path:
    return Path(course_root) / ".grading" / "roster.json"


def save_roster(course_root: Path, students: list[Student]) -> None:
    """What nbgrader's student list has no column for (a Canvas login, SIS id, section), by student id."""
    import dataclasses
    data = {s.id: dataclasses.asdict(s) for s in load_roster(course_root)}
    data.update({s.id: dataclasses.asdict(s) for s in students})
    path = roster_file(course_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def load_roster(course_root: Path) -> list[Student]:
    try:
        data = json.loads(roster_file(course_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Student(**row) for row in data.values()]
