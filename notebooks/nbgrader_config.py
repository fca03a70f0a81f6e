# nbgrader configuration for this course directory (notebooks/): `nbgrader` commands and the formgrader
# in JupyterLab use the same settings as the `sgd-course` command. See autograder/config.py.
import os

from autograder.config import nbgrader_config

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(nbgrader_config(os.path.dirname(os.path.abspath(__file__))))
