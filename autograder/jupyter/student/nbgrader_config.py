# A student's nbgrader settings (JupyterLab's Validate button): numpy warnings do not fail a test, as in
# grading. Used by `sgd-course lab` (this folder is first on JUPYTER_CONFIG_PATH). See autograder/config.py.
from autograder.config import student_config

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(student_config())
