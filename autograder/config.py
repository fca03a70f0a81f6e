"""The nbgrader configuration these notebooks need, as a traitlets ``Config``.

Used by the instructor's command and by ``notebooks/nbgrader_config.py`` (so that nbgrader's own CLI
and the formgrader in JupyterLab grade exactly the same way).
"""

from __future__ import annotations

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades
from traitlets.config import Config

from .feedback import HideHiddenTests

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
    c.CourseDirectory.root = course_root
    c.CourseDirectory.course_id = COURSE_ID
    # set explicitly: the default /srv/nbgrader/exchange is shared machine-wide
    c.Exchange.root = os.path.abspath(exchange_root or os.path.join(course_root, "exchange"))
    c.Execute.timeout = timeout
    c.Execute.interrupt_on_timeout = True
    # the kernel's TCP notice on every start is noise in a class run of hundreds of kernels
    c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = WARNING_PATTERN
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
    return c
