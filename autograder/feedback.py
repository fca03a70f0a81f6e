"""Feedback that tells a student what failed without handing out the hidden tests, and that a student
can read offline and trust.

nbgrader's ``GenerateFeedback`` with its own exporter (``HTMLExporter``) and a template of this course
(``templates/sgd_feedback``, nbgrader's feedback template with these changes):

- everything that comes from a submission is escaped or sanitized: cell ids, and (through nbconvert's
  ``SanitizeHTML``) the HTML of written answers and outputs, so no tag of a student's runs in the page;
- the header shows the autograded points and the written answers separately, and a written answer not
  graded yet says "pending" instead of counting as 0;
- long hints wrap instead of hiding in a horizontally scrolling box;
- maths is rendered as MathML when the page is written (``latex2mathml``): browsers show it without
  MathJax, so the page needs no network.

A submission that could not be graded gets a short page saying why (``write_not_graded``).
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import jinja2
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

HIDDEN_NOTE = "# Hidden tests ran here with fresh random inputs; their verdict is shown below."
TEMPLATES = Path(__file__).resolve().parent / "templates"


class HideHiddenTests(ClearHiddenTests):
    """A ``GenerateFeedback`` preprocessor: removes each hidden-test region from the feedback and
    shortens the error output of those cells to its last line (the check's message), so that neither
    the test code nor the traceback through it reaches the student.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip() + "\n" + HIDDEN_NOTE
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class GetGradesAndPending(GetGrades):
    """nbgrader's ``GetGrades``, which also marks each answer still waiting for a grader (``pending``)
    and adds up the autograded and the manually graded parts separately (``resources["parts"]``)."""

    def preprocess(self, nb, resources):
        self._parts = {"auto": 0.0, "auto_max": 0.0, "manual": 0.0, "manual_max": 0.0, "pending": 0,
                       "pending_points": 0.0}
        nb, resources = super().preprocess(nb, resources)
        resources["parts"] = dict(self._parts)
        return nb, resources

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        manual = cell.cell_type == "markdown" or grade.auto_score is None
        pending = bool(grade.needs_manual_grade and grade.manual_score is None)
        cell.metadata.nbgrader["pending"] = pending
        parts, points = self._parts, float(grade.max_score or 0)
        if manual:
            parts["manual_max"] += points
            if pending:
                parts["pending"] += 1
                parts["pending_points"] += points
            else:
                parts["manual"] += float(grade.score or 0)
        else:
            parts["auto_max"] += points
            parts["auto"] += float(grade.score or 0)


# -- the page -----------------------------------------------------------------------------------------

class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for the whole process: Jinja still reads each
    template's source and compiles it again when the source changed (its checksum is in the key)."""

    def __init__(self):
        self._code, self._lock = {}, threading.Lock()

    def load_bytecode(self, bucket):
        with self._lock:
            code = self._code.get((bucket.key, bucket.checksum))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        with self._lock:
            self._code[bucket.key, bucket.checksum] = bucket.bytecode_to_string()


COMPILED = CompiledTemplates()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter, the same pages, but the templates are compiled once per process
    (``COMPILED``): nbgrader makes a new exporter for every student's page, and compiling the nine
    templates of one page took about 0.3 s, a third of writing it."""

    @property
    def environment(self):
        env = super().environment
        env.bytecode_cache = COMPILED
        return env


# -- maths without a network ----------------------------------------------------------------------------

_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)", re.S)


def mathml(text: str) -> str:
    """A Jinja filter: each ``$…$`` and ``$$…$$`` of rendered markdown as MathML (left as it is when it
    cannot be converted)."""
    try:
        from latex2mathml.converter import convert
    except ImportError:  # pragma: no cover - a dependency of the package
        return text

    def one(match):
        display = match.group(1) is not None
        latex = html.unescape(match.group(1) if display else match.group(2))
        try:
            return convert(latex, display="block" if display else "inline")
        except Exception:  # latex2mathml does not know every macro: the TeX stays readable
            return match.group(0)

    return _MATH.sub(one, text)


# -- a submission that could not be graded ----------------------------------------------------------------

def write_not_graded(path, notebook: str, reason: str, notes=()) -> Path:
    """The feedback page of a submission that could not be graded: why, and what to do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    path.write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(notebook)}: not graded</title>
<style>body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.5; }}
p.reason {{ white-space: pre-wrap; overflow-wrap: anywhere; border-left: 4px solid #d2413a; padding-left: 1em; }}</style>
</head><body>
<h1>{html.escape(notebook)}.ipynb: could not be graded</h1>
<p>Your submission was not graded, so it has no score yet (this is not a zero). The reason:</p>
<p class="reason">{html.escape(reason)}</p>
{f"<ul>{items}</ul>" if items else ""}
<p>Fix it and hand the notebook in again, or ask your instructor.</p>
</body></html>
""", encoding="utf-8")
    return path
