"""The nbgrader configuration these notebooks need, as a traitlets ``Config``.

Used by the instructor's command and by ``notebooks/nbgrader_config.py`` (so that nbgrader's own CLI
and the formgrader in JupyterLab grade exactly the same way).
"""

from __future__ import annotations

import os

from pathlib import Path

import nbgrader
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets.config import Config

from .cells import CODE_STUB
from .feedback import TEMPLATES, FeedbackExporter, GetGradesAndPending, HideHiddenTests
from .sanitize import EXPERIMENT

COURSE_ID = "sgd-course"
CELL_TIMEOUT = 60
"""Seconds a single cell may run while grading; a slower cell fails with a timeout message."""

WARNING_PATTERN = r"\w*Warning\b"
"""stderr output matching this (numpy's RuntimeWarning, DeprecationWarning, ...) does not cost points:
stock nbgrader scores a correct cell that prints a warning as 0."""


def nbgrader_config(course_root, *, timeout: int = CELL_TIMEOUT, exchange_root=None) -> Config:
    """Configuration for a course directory ``course_root`` (holding ``source/``, ``submitted/``...)."""
    course_root = os.path.abspath(course_root)
    c = Config()
    c.merge(student_config())
    c.CourseDirectory.root = course_root
    c.CourseDirectory.course_id = COURSE_ID
    # set explicitly: the default /srv/nbgrader/exchange is shared machine-wide
    c.Exchange.root = os.path.abspath(exchange_root or os.path.join(course_root, "exchange"))
    c.Execute.timeout = timeout
    c.Execute.interrupt_on_timeout = True
    # the kernel's TCP notice on every start is noise in a class run of hundreds of kernels; warnings on
    # stdout (see student_config)
    c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR", WARNINGS_TO_STDOUT]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    # feedback (see autograder/feedback.py): the course's template, scores with "pending", and everything
    # from a submission sanitized (nbconvert's SanitizeHTML); only for nbgrader's feedback exporter
    c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGradesAndPending, SanitizeHTML,
                                        CSSHTMLHeaderPreprocessor]
    c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off unless enabled
    c.GenerateFeedback.exporter_class = FeedbackExporter   # an HTMLExporter: the settings below apply
    c.GenerateFeedback.HTMLExporter.template_name = "sgd_feedback"
    c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    c.GenerateFeedback.HTMLExporter.filters = {"mathml": "autograder.feedback.mathml"}
    return c


NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"


def student_config() -> Config:
    """What a student's tools need (JupyterLab's Validate button, ``sgd-course check``): numpy warnings
    on stderr do not fail a test, as in grading. No course directory: a student has none."""
    c = Config()
    c.Execute.timeout = CELL_TIMEOUT
    c.Execute.interrupt_on_timeout = True
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = WARNING_PATTERN
    # nbgrader's Validator (the Validate button, `nbgrader validate`) runs a fixed list of preprocessors,
    # without IgnorePattern, and fails a cell for any stderr output: its kernel prints Python's warnings
    # (numpy's RuntimeWarning, ...) to stdout instead, where they are still seen and cost nothing
    c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR", WARNINGS_TO_STDOUT]
    # the notebooks' experiments (figures, long runs, explorers) are not run by Validate or nbgrader's
    # own autograde either (nbclient's skip_cells_with_tag): no graded cell depends on them. Unlike
    # `sgd-course grade`, nbgrader reads the tag from the student's notebook
    c.Execute.skip_cells_with_tag = EXPERIMENT
    return c


WARNINGS_TO_STDOUT = (
    "--IPKernelApp.exec_lines=__import__('warnings').showwarning = lambda message, category, filename, lineno, "
    "file=None, line=None: __import__('sys').stdout.write(__import__('warnings').formatwarning("
    "message, category, filename, lineno, line))")
"""A kernel argument for nbgrader's own execution (Validate, ``nbgrader autograde``): warnings go to stdout.
Grading runs its kernels itself (``sandbox``) and keeps them on stderr, where ``IgnorePattern`` drops them."""


JUPYTER = Path(__file__).resolve().parent / "jupyter"
"""Jupyter configuration folders: ``student`` hides nbgrader's instructor tools (the formgrader and the
Create Assignment panel), ``instructor`` shows them."""


def jupyter_env(*, instructor: bool = False, env=None) -> dict:
    """The environment for ``jupyter lab``: the set-up's configuration folder first on JUPYTER_CONFIG_PATH."""
    env = dict(os.environ if env is None else env)
    folder = JUPYTER / ("instructor" if instructor else "student")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(folder)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    return env
