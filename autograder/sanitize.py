"""Rebuild a submission around the trusted cells of the assignment before it runs.

nbgrader identifies cells by their ``grade_id``. A submission may have locked cells edited, deleted,
duplicated or moved, their points or ids changed. ``assemble`` takes the student's notebook as the base
(their answers and their own extra cells) and

- puts every locked cell (tests, read-only text) back exactly as the instructor's source has it,
  hidden tests included;
- keeps each answer cell's code but restores its trusted metadata (points, ids);
- restores deleted cells, drops duplicates, and puts the graded cells back into the source's order,
  each followed by the student's own cells that came after it;
and reports each repair in words, for the feedback.

``experiments`` picks the cells a graded run leaves out: the notebook's experiments (code cells the
source tags ``experiment``: figures, long runs, widgets), as long as the student left them unchanged.
No graded cell depends on them (the tests check this), so grading needs no marker that tells student
code it is being graded, and an experiment can run at full size for the student.
"""

from __future__ import annotations

import copy
import uuid

import nbformat

from .cells import CODE_STUB

EXPERIMENT = "experiment"
"""The tag of a cell that grading does not run when the student left it unchanged."""
NOT_RUN = ("[not run while grading: an experiment of the notebook, unchanged; no graded cell depends "
           "on it. Run the notebook to see it.]\n")


def _gid(cell):
    """The cell's nbgrader grade id: a non-empty string, else None (whatever shape its metadata has)."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    gid = meta.get("grade_id") if isinstance(meta, dict) else None
    return gid if isinstance(gid, str) and gid else None


def _plain_cell(cell):
    """A copy of the student's own cell without nbgrader metadata (whatever its shape)."""
    cell = copy.deepcopy(cell)
    if isinstance(cell.get("metadata"), dict):
        cell["metadata"].pop("nbgrader", None)
    return cell


def assemble(source, release, submitted):
    """The notebook to run for a submission, and notes on what was repaired.

    ``source``: instructor version (trusted, with hidden tests); ``release``: student version (for the
    stubs of missing answers); ``submitted``: the student's notebook. All are ``NotebookNode``.
    """
    trusted = {_gid(c): c for c in source.cells if _gid(c)}
    stubs = {_gid(c): c for c in release.cells if _gid(c)}
    notes: list[str] = []

    def managed(cell):  # nbgrader metadata counts only where the release has the same cell
        gid = _gid(cell)
        same = gid in trusted and gid in stubs and cell.get("cell_type") == stubs[gid].cell_type
        return gid if same else None

    # segments: a managed cell followed by the student's free cells up to the next managed cell
    lead, segments, current = [], {}, None
    for cell in submitted.cells:
        gid = managed(cell)
        if gid and gid not in segments:
            current = gid
            segments[gid] = [cell]
        elif gid:  # a duplicate of a managed cell: dropped; its free followers stay with the current cell
            notes.append(f"cell '{gid}' appears more than once; only its first copy was graded")
        else:  # the student's own cell: its nbgrader metadata is dropped, whatever its shape
            if _gid(cell) in stubs:
                notes.append(f"a {cell.get('cell_type')} cell has the id of the assignment's "
                             f"{stubs[_gid(cell)].cell_type} cell '{_gid(cell)}' (was its type changed?); it "
                             "ran as an ordinary cell and was not graded")
            elif _gid(cell):
                notes.append(f"a cell has the unknown id '{_gid(cell)}' (was an id changed?); it ran as an "
                             "ordinary cell and was not graded")
            (segments[current] if current else lead).append(_plain_cell(cell))

    order = [managed(c) for c in submitted.cells if managed(c)]
    expected = [g for g in trusted if g in segments]
    if _dedupe(order) != expected:
        notes.append("graded cells were moved; they were put back into the assignment's order")

    cells = list(lead)
    for gid, original in trusted.items():
        meta = original.metadata["nbgrader"]
        if gid not in segments:
            restored = copy.deepcopy(original if meta.get("locked") and not meta.get("solution")
                                     else stubs.get(gid, original))
            if meta.get("solution"):
                restored.source = stubs[gid].source if gid in stubs else CODE_STUB
            notes.append(f"cell '{gid}' was deleted; it was put back"
                         + (" without an answer" if meta.get("solution") else ""))
            cells.append(restored)
            continue
        student_cell, *followers = segments[gid]
        cell = copy.deepcopy(student_cell)
        if meta.get("locked") and not meta.get("solution"):
            if cell.source != stubs.get(gid, original).source:
                notes.append(f"locked cell '{gid}' was edited; the original was restored")
            cell = copy.deepcopy(original)
        elif cell.get("cell_type") != original.cell_type:  # the release's type differs from the source's
            cell = nbformat.from_dict({**copy.deepcopy(original), "source": cell.source})
        old = cell.get("metadata", {}).get("nbgrader", {})
        if old.get("points") != meta.get("points") and old:
            notes.append(f"the points of '{gid}' were changed; the assignment's points were used")
        cell.metadata["nbgrader"] = copy.deepcopy(meta)
        cells.append(cell)
        cells.extend(followers)

    nb = copy.deepcopy(source)
    nb.cells = [_fresh(c) for c in cells]
    _unique_ids(nb)
    return nb, notes


def _dedupe(items):
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _fresh(cell):
    cell = copy.deepcopy(cell)
    if cell.get("cell_type") == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return nbformat.from_dict(cell)


def _unique_ids(nb):
    seen = set()
    for cell in nb.cells:
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])


def experiments(source, nb) -> set[int]:
    """Indices of ``nb``'s cells that grading leaves out: code cells whose text is exactly that of a
    cell the instructor's ``source`` tags ``experiment``. The tag is read from the source, never from
    the submission; a cell the student changed (or wrote) runs."""
    tagged = {c.source.strip() for c in source.cells
              if c.cell_type == "code" and EXPERIMENT in c.get("metadata", {}).get("tags", [])
              and not c.get("metadata", {}).get("nbgrader")}
    return {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not _gid(c)
            and c.source.strip() in tagged}
