"""A submission as the grader's unit of work: what is needed to grade it (``Job``), whether its files
can be graded at all (``read_submission``), and what came of grading it (``Outcome``).

Plain data, picklable: a ``Job`` goes to any ``concurrent.futures`` executor (``sandbox.grade_job``
runs it), an ``Outcome`` comes back and is journaled (``journal``) before it is saved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import nbformat

from . import jail
from .cells import graded_ids, nbgrader_meta


@dataclass
class Job:
    """Everything needed to grade one student's submission of one assignment."""

    assignment: str
    student: str
    submitted: dict  # notebook name -> bytes, or None when the file is missing
    sources: dict  # notebook name -> instructor version (JSON text)
    releases: dict  # notebook name -> student version (JSON text)
    seed: int
    timeout: int = 60
    limits: jail.Limits = jail.Limits()
    max_output_bytes: int = 2_000_000
    max_seconds: int = 900
    unsafe_no_sandbox: bool = False  # the instructor's --unsafe-no-sandbox: no bubblewrap
    extra_files: tuple = ()  # names of other files in the submission (never copied to the kernel)


@dataclass
class Outcome:
    """What came of grading one submission: the executed notebooks and notes, or why it could not be graded."""

    student: str
    assignment: str
    reason: str = ""  # non-empty: could not be graded
    notes: list = field(default_factory=list)
    notebooks: dict = field(default_factory=dict)  # name -> executed notebook JSON
    seconds: float = 0.0
    digest: str = ""  # of the submission's files, set by the coordinator
    sandbox: list = field(default_factory=list)  # limits the jail could not apply on this machine
    retry: bool = False  # could not be graded for the grader's reasons, not the submission's: the next run retries it


def read_submission(raw, name, release_json, others=()):
    """(problem, notebook): ``problem`` says in words why the file cannot be graded, or is ""."""
    if raw is None:
        found = ", ".join(f"{n}.ipynb" for n in others)
        return (f"{name}.ipynb is missing from the submission"
                + (f" (found {found}; was it renamed?)" if found else "")), None
    if not raw.strip():
        return "the file is empty; save the notebook in JupyterLab and submit it again", None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return (f"the file is not valid notebook JSON ({error}); it was probably edited outside "
                "Jupyter or truncated. Open a fresh copy, paste your answers, save and submit again"), None
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds
        return f"the file is not a valid Jupyter notebook ({str(error).splitlines()[0]})", None
    release = nbformat.reads(release_json, as_version=4)
    expected = graded_ids(release)
    found = {gid for c in nb.cells if isinstance(gid := nbgrader_meta(c).get("grade_id"), str)}  # any shape
    if expected and not expected & found:
        return ("none of this assignment's cells are in it: is it the notebook of another assignment? "
                "Submit the notebook you were given for this assignment"), None
    return "", nb
