"""Set-up stays honest: environment.yml matches pyproject.toml, and CI runs the README's commands."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names that differ from PyPI's
CONDA_NAMES = {}


def _requirements(lines):
    reqs = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*([<>=!~].*)?$", line)
        if m:
            reqs[m.group(1).lower().replace("_", "-")] = (m.group(2) or "").replace(" ", "")
    return reqs


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return _requirements(deps), data


def _environment():
    text = (ROOT / "environment.yml").read_text()
    block = text.split("dependencies:", 1)[1]
    lines = [l.strip()[2:] for l in block.splitlines() if re.match(r"^  - [^:]+$", l)]
    return _requirements(lines)


def test_environment_yml_has_the_same_dependencies_as_pyproject():
    pip_deps, data = _pyproject()
    conda_deps = _environment()
    python = conda_deps.pop("python")
    conda_deps.pop("pip", None)
    expected = {CONDA_NAMES.get(name, name): spec for name, spec in pip_deps.items()}
    assert conda_deps == expected, "environment.yml and pyproject.toml disagree"
    assert python == data["project"]["requires-python"]
    assert "-e ." in (ROOT / "environment.yml").read_text(), "environment.yml must install the package"


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    return [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith("#")]


def test_ci_runs_the_readme_install_and_test_commands():
    commands = _readme_commands()
    assert len(commands) == 2, "the quick start is two lines: install + main job, and the tests"
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci, f".ci/run does not run the README's command: {command}"


def test_console_script_is_declared():
    _, data = _pyproject()
    assert data["project"]["scripts"]["sgd-course"] == "autograder.__main__:main"
