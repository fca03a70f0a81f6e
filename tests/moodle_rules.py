"""Moodle's own rules for the files this course hands it, transcribed from Moodle's source into Python so
that tests can run an export through them (issue 22):

- the grading worksheet importer: ``mod/assign/feedback/offline/importgradeslib.php`` (``init()`` finds
  the columns by their names in the importing user's language, ``next()`` strips the participant prefix
  from the identifier) and ``locallib.php`` (``process_import_grades``: which rows it skips);
- the feedback zip importer: ``mod/assign/feedback/file/importziplib.php``
  (``is_valid_filename_for_import``).

The lang strings are Moodle's English and German language packs: ``assign/recordid``,
``assign/hiddenuser``, ``moodle/grade``, ``assign/lastmodifiedgrade`` and the decimal separator of
``langconfig`` (``unformat_float`` reads grades with it). Note that German's ``hiddenuser`` has no
trailing space where English's has one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime

STRINGS = {
    "en": {"grade": "Grade", "recordid": "Identifier", "lastmodifiedgrade": "Last modified (grade)",
           "hiddenuser": "Participant ", "decsep": "."},
    "de": {"grade": "Bewertung", "recordid": "ID", "lastmodifiedgrade": "Zuletzt geändert (Bewertung)",
           "hiddenuser": "Teilnehmer/in", "decsep": ","},
}

PLUGINS = {("assignsubmission", "file"), ("assignsubmission", "onlinetext"), ("assignsubmission", "comments"),
           ("assignfeedback", "file"), ("assignfeedback", "comments"), ("assignfeedback", "offline")}


class InvalidGradeImport(Exception):
    """init() returned false: Moodle prints ``invalidgradeimport`` and imports nothing."""


def strtotime(text: str) -> int | None:
    """What PHP's strtotime makes of the worksheet's times Moodle writes or this course writes (None:
    false)."""
    text = (text or "").strip()
    for form in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%A, %d %B %Y, %I:%M %p"):
        try:
            return int(datetime.strptime(text, form).timestamp())
        except ValueError:
            pass
    return None


def unformat_float(text: str, decsep: str) -> float | None:
    text = (text or "").strip()
    if text == "":
        return None
    try:
        return float(text.replace(decsep, "."))
    except ValueError:
        return None


def import_grades(data: str, lang: str, participants: dict[int, str], maximum: float,
                  current: dict[str, tuple[float, int]] | None = None) -> dict[str, float]:
    """The grades Moodle's "Upload grading worksheet" sets: user -> grade. ``participants``: the
    assignment's unique participant id -> user; ``maximum``: the assignment's maximum grade;
    ``current``: user -> (grade, time modified) already in Moodle."""
    words, current = STRINGS[lang], current or {}
    rows = list(csv.reader(io.StringIO(data)))
    columns = rows[0]
    index = {key: columns.index(words[key]) if words[key] in columns else -1
             for key in ("grade", "recordid", "lastmodifiedgrade")}
    if min(index.values()) < 0:
        raise InvalidGradeImport(f"missing {[words[k] for k, i in index.items() if i < 0]} in {columns}")
    grades = {}
    for record in rows[1:]:
        unique = record[index["recordid"]][len(words["hiddenuser"]):]   # substr($idstr, strlen(hiddenuser))
        if not re.fullmatch(r"\s*\d+", unique) or int(unique) not in participants:
            continue
        user = participants[int(unique)]
        modified = strtotime(record[index["lastmodifiedgrade"]]) or 0
        grade = unformat_float(record[index["grade"]], words["decsep"])
        old = current.get(user)
        stale = old is not None and old[1] > modified + 60
        if old is not None and old[0] == grade:
            continue   # not modified
        if grade is None or grade < 0 or stale or grade > maximum:
            continue   # no value, changed in Moodle since, out of range
        grades[user] = grade
    return grades


def feedback_zip_files(path, participants: dict[int, str]) -> dict[str, list[str]]:
    """The feedback files Moodle's "Upload multiple feedback files in a zip" gives each user."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or name.startswith((".", "~")):
                continue
            parts = info.filename.split("/")
            while parts:
                info_parts = parts.pop(0).split("_", 4)
                if len(info_parts) < 4 or not info_parts[1].isdigit():
                    continue
                if int(info_parts[1]) not in participants or tuple(info_parts[2:4]) not in PLUGINS:
                    continue
                rest = [info_parts[4] if len(info_parts) == 5 else "", *parts]
                found.setdefault(participants[int(info_parts[1])], []).append("/".join(rest).strip("/"))
                break
    return found
