"""JupyterLab as the README starts it (issue 14, item 11): the Validate button and the formgrader find
the course's nbgrader settings; the students' set-up (``sgd-course lab``) has no formgrader and no
Create Assignment panel, the instructor's (``sgd-course lab --instructor``) has both.

Talks to the server's own endpoints (what JupyterLab's buttons call); no browser."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autograder import demo
from autograder.grading import Course

A = "step_sizes"
ROOT = Path(__file__).resolve().parent.parent
WARNING = "import warnings as _w\n_w.warn('overflow encountered in exp', RuntimeWarning)\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, command, cwd, state: Path):
        self.port, self.token = _port(), secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "JPY_", "NBGRADER_"))}
        for name in ("config", "runtime", "data"):
            (state / name).mkdir(parents=True, exist_ok=True)
        env.update(JUPYTER_CONFIG_DIR=str(state / "config"), JUPYTER_RUNTIME_DIR=str(state / "runtime"),
                   PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        self.log = open(state / "server.log", "w")
        self.process = subprocess.Popen(
            command + ["--no-browser", "--allow-root", f"--port={self.port}", "--ip=127.0.0.1",
                       "--port-retries=0", f"--IdentityProvider.token={self.token}", "--LabApp.news_url=None"],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (state / "server.log").read_text()
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError("jupyter lab did not start:\n" + (state / "server.log").read_text())

    def request(self, method, path, data=None):
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()

    def get(self, path):
        return self.request("GET", path)

    def status(self, path) -> int:
        try:
            return self.get(path)[0]
        except urllib.error.HTTPError as error:
            return error.code

    def validate(self, path) -> dict:
        _, text = self.request("POST", "/assignments/validate", json.dumps({"path": path}).encode())
        return json.loads(text)

    def page_config(self) -> dict:
        _, page = self.get("/lab")
        start = page.index('id="jupyter-config-data"')
        start = page.index(">", start) + 1
        return json.loads(page[start:page.index("</script>", start)])

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)   # its own process group (start_new_session)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)   # our own process group only
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone's layout: nbgrader_config.py at the top, the course in notebooks/, built."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    course = Course.from_sources(root / "notebooks")
    course.build([A])
    return root, course


def _solved_with_a_warning(course, folder: Path) -> Path:
    """The reference solution whose first graded function prints a numpy-style RuntimeWarning when a test
    calls it: correct, and stock nbgrader's Validate fails it."""
    answers = demo.reference_answers(course.root / "source" / A / f"{A}.ipynb")
    answers["stochastic_gradient"] += ("\n\n_exact = stochastic_gradient\n\ndef stochastic_gradient(theta, j):\n"
                                       "    " + WARNING.replace("\n", "\n    ") + "return _exact(theta, j)\n")
    path = folder / A / "warned.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(demo.fill_in(course.release_path(A, A), answers))
    return path


def test_jupyter_lab_started_as_the_readme_says_finds_the_course_settings(clone, tmp_path):
    root, course = clone
    _solved_with_a_warning(course, course.root / "release")
    server = Server([sys.executable, "-m", "jupyterlab", "notebooks/release"], cwd=root, state=tmp_path)
    try:
        result = server.validate(f"{A}/warned.ipynb")
        assert result["success"], result
        assert "failed" not in result["value"] and "changed" not in result["value"], result["value"]
        _, assignments = server.get("/formgrader/api/assignments")
        assert A in [a["name"] for a in json.loads(assignments)], assignments
    finally:
        server.stop()
    assert "No nbgrader_config.py file found" not in (tmp_path / "server.log").read_text()


def test_the_student_setup_has_no_instructor_tools_and_the_instructor_setup_has_them(clone, tmp_path):
    root, course = clone
    work = root / "work"
    subprocess.run([sys.executable, "-m", "autograder", "fetch", A, "--course", str(course.root), "--to",
                    str(work)], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _solved_with_a_warning(course, work)
    student = Server([sys.executable, "-m", "autograder", "lab", str(work), "--"], cwd=root, state=tmp_path / "s")
    try:
        disabled = student.page_config()["disabledExtensions"]
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled), disabled
        assert student.status("/formgrader") == 404
        result = student.validate(f"{A}/warned.ipynb")
        assert result["success"] and "failed" not in result["value"], result
    finally:
        student.stop()
    instructor = Server([sys.executable, "-m", "autograder", "lab", "--instructor", "--course", str(course.root), "--"],
                        cwd=root, state=tmp_path / "i")
    try:
        disabled = instructor.page_config()["disabledExtensions"]
        assert "@jupyter/nbgrader:formgrader" not in disabled and "@jupyter/nbgrader:create-assignment" not in disabled
        assert instructor.status("/formgrader") == 200
    finally:
        instructor.stop()
