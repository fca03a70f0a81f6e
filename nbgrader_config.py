# nbgrader settings for JupyterLab started from this clone (`jupyter lab notebooks/release`, `jupyter lab
# work`): nbgrader's Validate button and formgrader read nbgrader_config.py from the folder JupyterLab was
# started in, so this one points them at the course directory notebooks/. See autograder/config.py.
import os

from autograder.config import nbgrader_config

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(nbgrader_config(os.path.join(os.path.dirname(os.path.abspath(__file__)), "notebooks")))
