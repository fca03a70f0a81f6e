"""What a grading kernel sees of this package: the ``course`` library without its solutions, and no
``autograder`` at all.

The notebooks import ``course`` for data sets, figures and widgets, so the kernel needs it; but
``course`` is also the reference solution of every graded function. In ``course``'s source, the body
of each such solution is marked as in an nbgrader notebook::

    def full_gradient(theta, X, y):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        r = X @ theta - y
        return X.T @ r
        ### END SOLUTION

``view()`` writes a copy of ``course`` in which every marked body is replaced by
``raise NotImplementedError(...)`` (and whole modules listed in ``HIDDEN_MODULES`` are left out), and
``mounts()`` tells the sandbox (``jail.bwrap_argv``) to show that copy where Python finds ``course``,
and an empty folder where it would find ``autograder``. So a graded function cannot call the reference,
read its source, or import the hidden tests: they are not there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_MODULES: frozenset[str] = frozenset()
"""Modules of ``course`` left out of the kernel's view entirely (file names)."""

STUB = 'raise NotImplementedError("the course library\'s solution is not available while grading")'


def strip_solutions(source: str) -> str:
    """``source`` with every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region replaced by a
    ``raise NotImplementedError`` at the region's indentation. Raises ValueError on unbalanced marks."""
    out, inside = [], False
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        mark = line.strip()
        if mark == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside a solution")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{STUB}\n")
        elif mark == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "".join(out)


def _package_dir(name: str) -> Path:
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} cannot be found")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


@functools.lru_cache(maxsize=1)
def view() -> Path:
    """The stripped copy of ``course`` (made once per library version, readable by the sandbox's uid)."""
    source = _package_dir("course")
    files = sorted(p for p in source.glob("*.py") if p.name not in HIDDEN_MODULES)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(STUB.encode())
    target = Path(tempfile.gettempdir()) / f"sgd-course-library-{digest.hexdigest()[:16]}" / "course"
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="sgd-course-library-staging-")) / "course"
        staging.mkdir()
        for path in files:
            (staging / path.name).write_text(strip_solutions(path.read_text()))
        for folder in (staging.parent, staging):
            folder.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        target.parent.mkdir(mode=0o755, exist_ok=True)
        target.parent.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another grader made it meanwhile
            pass
        shutil.rmtree(staging.parent, ignore_errors=True)
    return target


def mounts() -> dict[str, str | None]:
    """Sandbox path -> host folder to show there (None: an empty folder) for ``jail.bwrap_argv``."""
    return {str(_package_dir("course")): str(view()), str(_package_dir("autograder")): None}


def solution_regions(source: str) -> list[str]:
    """The names of the functions whose bodies ``source`` marks as solutions (for tests and docs)."""
    names, current = [], None
    for line in source.splitlines():
        match = re.match(r"\s*def (\w+)\(", line)
        if match:
            current = match.group(1)
        if line.strip() == BEGIN and current:
            names.append(current)
    return names


if __name__ == "__main__":
    print(view())
    sys.exit(0)
