"""Locked cells edited, deleted, duplicated, moved, with changed points or ids: the notebook that runs
is always the assignment's, with the student's answers (no kernel needed)."""

import copy

import nbformat
import pytest

from autograder.sanitize import EXPERIMENT, assemble, experiments


@pytest.fixture(scope="module")
def versions(built_course):
    course = built_course
    assignment = "step_sizes"
    source = nbformat.read(course.root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(course.release_path(assignment, assignment), as_version=4)
    return source, release


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _managed(nb):
    return [(_gid(c), c.source) for c in nb.cells if _gid(c)]


def _trusted(source, nb):
    """Every locked cell of ``nb`` equals the source's, in the source's order."""
    src = {_gid(c): c for c in source.cells if _gid(c)}
    order = [_gid(c) for c in nb.cells if _gid(c)]
    assert order == [g for g in src], order
    for cell in nb.cells:
        gid = _gid(cell)
        if gid and src[gid].metadata["nbgrader"].get("locked"):
            assert cell.source == src[gid].source and cell.metadata["nbgrader"] == src[gid].metadata["nbgrader"]


def test_an_unchanged_student_version_is_rebuilt_as_is(versions):
    source, release = versions
    nb, notes = assemble(source, release, copy.deepcopy(release))
    assert notes == []
    _trusted(source, nb)


def test_edited_tests_and_points_are_restored(versions):
    source, release = versions
    sub = copy.deepcopy(release)
    for cell in sub.cells:
        if _gid(cell) == "test_sgd_iterates":
            cell.source = "pass  # tests removed"
            cell.metadata["nbgrader"]["points"] = 100
        if _gid(cell) == "sgd_iterates":
            cell.metadata["nbgrader"]["points"] = 50
            cell.source = "def sgd_iterates(*a):\n    return 1"
    nb, notes = assemble(source, release, sub)
    _trusted(source, nb)
    assert any("locked cell 'test_sgd_iterates' was edited" in n for n in notes)
    assert any("points of 'sgd_iterates' were changed" in n for n in notes)
    assert [c.source for c in nb.cells if _gid(c) == "sgd_iterates"] == ["def sgd_iterates(*a):\n    return 1"]


def test_deleted_duplicated_and_moved_cells(versions):
    source, release = versions
    sub = copy.deepcopy(release)
    cells = [c for c in sub.cells if _gid(c) != "test_constant"]          # deleted
    dup = copy.deepcopy(next(c for c in cells if _gid(c) == "test_sgd_iterates"))
    dup.source = "print('all tests passed')"
    cells.append(dup)                                                       # duplicated at the end
    i = next(i for i, c in enumerate(cells) if _gid(c) == "test_loglog_slope")
    cells.insert(0, cells.pop(i))                                           # moved to the top
    scratch = nbformat.v4.new_code_cell("helper = 42")
    j = next(i for i, c in enumerate(cells) if _gid(c) == "sgd_iterates")
    cells.insert(j + 1, scratch)                                            # the student's own cell
    sub.cells = cells
    nb, notes = assemble(source, release, sub)
    _trusted(source, nb)
    text = " ".join(notes)
    assert "'test_constant' was deleted" in text and "more than once" in text and "moved" in text
    k = [c.source for c in nb.cells].index("helper = 42")
    assert _gid(nb.cells[k - 1]) == "sgd_iterates", "a student's own cell stays after the answer it followed"


def test_changed_ids_are_not_graded(versions):
    source, release = versions
    sub = copy.deepcopy(release)
    for cell in sub.cells:
        if _gid(cell) == "test_geometric":
            cell.metadata["nbgrader"]["grade_id"] = "my_test"
    nb, notes = assemble(source, release, sub)
    _trusted(source, nb)
    assert any("unknown id 'my_test'" in n for n in notes)
    assert all(c.metadata.get("nbgrader", {}).get("grade_id") != "my_test" for c in nb.cells)


def _tagged(nb):
    return [i for i, c in enumerate(nb.cells) if EXPERIMENT in c.metadata.get("tags", [])]


def test_unchanged_experiments_are_left_out_and_changed_or_untagged_ones_run(versions):
    """The tag comes from the instructor's source: a student cannot make a cell skipped by tagging it,
    nor have an experiment run in full by removing its tag; a changed experiment runs."""
    source, release = versions
    nb, _ = assemble(source, release, copy.deepcopy(release))
    tagged = _tagged(nb)
    assert len(tagged) >= 5 and experiments(source, nb) == set(tagged)

    sub = copy.deepcopy(release)
    first, second = (sub.cells[i] for i in _tagged(sub)[:2])
    first.source += "\nprint('my own extra line')"            # changed: runs
    second.metadata["tags"] = []                                  # untagged but unchanged: still left out
    own = nbformat.v4.new_code_cell("helper = 42", metadata={"tags": [EXPERIMENT]})
    sub.cells.insert(_tagged(release)[-1], own)                   # the student's own cell, tagged: runs
    for cell in sub.cells:
        if _gid(cell) == "sgd_iterates":
            cell.metadata["tags"] = [EXPERIMENT]                  # an answer cell, tagged: runs
    nb, _ = assemble(source, release, sub)
    skipped = experiments(source, nb)
    sources = [nb.cells[i].source for i in skipped]
    assert first.source not in sources and second.source in sources
    assert "helper = 42" not in sources and not any(_gid(nb.cells[i]) for i in skipped)
    assert len(skipped) == len(tagged) - 1


# -- nbgrader metadata of the student's own cells (issue 21, 1) --------------------------------------------

MALFORMED = {
    "empty grade_id": {"grade": True, "solution": False, "locked": False, "grade_id": "", "points": 5,
                       "schema_version": 3},
    "grade without a grade_id": {"grade": True, "solution": False, "locked": False, "points": 5,
                                 "schema_version": 3},
    "manual cell with an empty id": {"grade": True, "solution": True, "locked": False, "grade_id": "",
                                     "points": 5, "schema_version": 3, "task": False},
    "empty nbgrader metadata": {},
}


def _junk(rng):
    """nbgrader metadata of random shape: wrong types, missing keys, old and future schema versions."""
    values = [None, "", "x", 0, 1, -1, 2.5, True, False, [], {}, ["a"], {"a": 1}, "test_constant", "sgd_iterates"]
    keys = ["grade", "solution", "locked", "grade_id", "points", "schema_version", "task", "cell_type"]
    if rng.random() < 0.15:
        return values[rng.integers(len(values))]
    return {k: values[rng.integers(len(values))] for k in keys if rng.random() < 0.7}


def _with_cell(release, meta, cell_type="code", where=None):
    sub = copy.deepcopy(release)
    cell = (nbformat.v4.new_code_cell("x = 1") if cell_type == "code" else nbformat.v4.new_markdown_cell("x"))
    cell.metadata["nbgrader"] = meta
    sub.cells.insert(len(sub.cells) // 2 if where is None else where, cell)
    return sub


def _nbgrader_accepts(nb):
    """nbgrader's own metadata validator (what its autograde runs when the result is saved) accepts nb."""
    from nbgrader.nbgraderformat import MetadataValidator
    MetadataValidator().validate_nb(nb)


@pytest.mark.parametrize("variant", sorted(MALFORMED))
def test_a_cell_with_malformed_nbgrader_metadata_is_the_students_own(versions, variant):
    source, release = versions
    nb, _ = assemble(source, release, _with_cell(release, copy.deepcopy(MALFORMED[variant])))
    _trusted(source, nb)
    _nbgrader_accepts(nb)
    assert sum("x = 1" == c.source for c in nb.cells) == 1, "the cell still runs, as the student's own"


def test_junk_nbgrader_metadata_never_reaches_nbgrader(versions):
    import numpy as np
    source, release = versions
    rng = np.random.default_rng(21)
    for _ in range(200):
        sub = _with_cell(release, _junk(rng), ["code", "markdown"][rng.integers(2)],
                         where=int(rng.integers(len(release.cells) + 1)))
        nb, _ = assemble(source, release, sub)
        _trusted(source, nb)
        _nbgrader_accepts(nb)


def test_a_cell_of_another_type_under_a_graded_id_is_not_that_cell(versions):
    """A markdown cell that carries the id of a test cell (and its points) is the student's own text."""
    source, release = versions
    test = next(c for c in release.cells if _gid(c) == "test_constant")
    sub = copy.deepcopy(release)
    sub.cells.remove(next(c for c in sub.cells if _gid(c) == "test_constant"))
    sub.cells.append(nbformat.from_dict({**nbformat.v4.new_markdown_cell("forged"),
                                         "metadata": copy.deepcopy(test.metadata)}))
    nb, notes = assemble(source, release, sub)
    _trusted(source, nb)
    _nbgrader_accepts(nb)
    assert any("was its type changed" in n for n in notes)
