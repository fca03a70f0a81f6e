"""The grader's rooms: each concept in the module that bears its name, and no module reaching into
another's private names (issue 24, section 4). Checked from the source and from a fresh interpreter's
imports, not from what the modules say of themselves."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

AUTOGRADER = Path(__file__).resolve().parent.parent / "autograder"


def _loaded_after_import(module: str) -> set:
    """The autograder modules a fresh interpreter has loaded after importing ``module``."""
    code = (f"import sys, {module}\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('autograder'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["autograder.journal", "autograder.job", "autograder.lms"])
def test_the_records_of_a_class_run_do_not_load_the_sandbox(module):
    """The journal, the unit of work and the platforms' imports are plain data and files: importing
    them starts nothing of the kernel machinery."""
    loaded = _loaded_after_import(module)
    assert "autograder.sandbox" not in loaded, loaded


def test_the_grader_end_of_the_kernel_protocol_is_one_module():
    """Every class and function that speaks the protocol from the grader's side is defined in
    ``remote`` (the kernel's side is ``kernel_side``); ``sandbox`` defines none of them."""
    defined = {}
    for path in AUTOGRADER.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                defined.setdefault(node.name, []).append(path.stem)
    for name in ("KernelCalls", "StudentNames", "run_hidden", "RemoteFunction", "request", "parse_reply"):
        assert defined.get(name) == ["remote"], (name, defined.get(name))
    for name in ("Job", "Outcome", "read_submission"):
        assert defined.get(name) == ["job"], (name, defined.get(name))


def _private_imports(path: Path) -> list:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found += [f"{path.name}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {a.name}"
                      for a in node.names if a.name.startswith("_") and a.name != "__future__"]
    return found


def test_no_module_imports_a_private_name_of_another():
    paths = sorted(AUTOGRADER.rglob("*.py"))
    assert paths
    found = [line for path in paths for line in _private_imports(path)]
    assert not found, found


def test_the_private_import_check_sees_one(tmp_path):
    """The check above finds the kind of import it forbids (so its silence means something)."""
    sample = tmp_path / "sample.py"
    sample.write_text("from .jail import _python_trees\nfrom . import remote\n")
    assert _private_imports(sample) == ["sample.py:1: from .jail import _python_trees"]
