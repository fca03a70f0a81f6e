"""What a grading kernel sees of this package: the ``course`` library without its solutions, and no
``autograder`` at all.

The notebooks import ``course`` for data sets, figures and widgets, so the kernel needs it; but
``course`` is also the reference solution of every graded function. ``view(assignment)`` writes the
copy of ``course`` a student's edition has while the assignment is open (``solutions``: the tools and
the solutions of the assignments before it); every other function keeps its signature and docstring
but its body is replaced by ``raise NotImplementedError(...)``, and ``mounts()`` tells the sandbox (``jail.bwrap_argv``) to show
that copy where Python finds ``course``, and an empty folder where it would find ``autograder``. So a
graded function cannot call the reference, read its source, or import the hidden tests: they are not
there. (``tests/test_library_view.py`` checks that every name exists and that each graded exercise's
reference is stripped.)
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from pathlib import Path

from . import jail
from .solutions import REFERENCE_STUB, package_dir, released_before, stripped

LAUNCHER = "sgd_course_kernel"
"""The grading kernel's module (``python -m sgd_course_kernel``), next to the view's ``course``."""
LAUNCHER_SOURCE = '''"""The grading kernel: ipykernel, with figure layout skipped (a grading kernel never shows or
saves a figure, and laying one out costs a tenth of a second), and the memory of a cell that ran out of
it given back when the cell ends (IPython keeps the last traceback, and with it every local variable
of the frames it passes through: a kernel left at its memory limit dies in a later cell), and output
nobody reads yet dropped rather than queued without limit (what a graded function prints while the
grader calls it is never shown: the kernel keeps at most a few of those messages, not its memory's
worth)."""
import zmq

_socket = zmq.Context.socket


def _socket_dropping_unread_output(self, socket_type, *args, **kwargs):
    sock = _socket(self, socket_type, *args, **kwargs)
    if socket_type in (zmq.PUB, zmq.XPUB):  # the kernel's output channel
        sock.setsockopt(zmq.SNDHWM, 16)
    return sock


zmq.Context.socket = _socket_dropping_unread_output
try:
    from matplotlib.figure import Figure
    Figure.tight_layout = lambda self, *args, **kwargs: None
except Exception:
    pass
from IPython.core.interactiveshell import InteractiveShell
from ipykernel.kernelapp import launch_new_instance


def _release_after_memory_error(shell, result):
    error = getattr(result, "error_in_exec", None)
    if isinstance(error, MemoryError):
        import gc, sys, traceback
        traceback.clear_frames(error.__traceback__)
        error.__traceback__ = shell.InteractiveTB.tb = None
        for name in ("last_traceback", "last_value", "last_exc", "last_type"):
            sys.__dict__.pop(name, None)
        gc.collect()


_init_events = InteractiveShell.init_events


def _init_events_releasing_memory(shell):
    _init_events(shell)
    shell.events.register("post_run_cell", lambda result: _release_after_memory_error(shell, result))


InteractiveShell.init_events = _init_events_releasing_memory
launch_new_instance()
'''

def strip_solutions(source: str, names) -> str:
    """``source`` with the body of each function in ``names`` (qualified: ``Class.method``) replaced by
    its docstring and ``raise NotImplementedError(REFERENCE_STUB)``. Raises KeyError for a name not defined."""
    tree = ast.parse(source)
    wanted, found = set(names), set()

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + node.name
                if isinstance(node, ast.ClassDef):
                    visit(node.body, name + ".")
                elif name in wanted:
                    found.add(name)
                    doc = ast.get_docstring(node, clean=False)
                    stub = ast.parse(f"raise NotImplementedError({REFERENCE_STUB!r})").body
                    node.body = ([ast.Expr(ast.Constant(doc))] if doc is not None else []) + stub
                    node.decorator_list = [d for d in node.decorator_list]

    visit(tree.body, "")
    if wanted - found:
        raise KeyError(f"not defined: {', '.join(sorted(wanted - found))}")
    return ast.unparse(tree) + "\n"


_LOCK = threading.Lock()


def view(assignment: str) -> Path:
    """``_view`` made once per process and assignment (grading threads share it; the first makes it)."""
    with _LOCK:
        return _view(assignment)


@functools.lru_cache(maxsize=None)
def _view(assignment: str) -> Path:
    """The copy of ``course`` that a student's edition has while ``assignment`` is open (made once per
    library version and assignment, readable by the sandbox's uid): the tools and the solutions of the
    assignments before it, every other function stripped (``solutions.stripped``). An assignment not in
    the course order (a course of the instructor's own) strips every solution. A folder of the view's
    name that another user made or can change is not used (``_ours``): this process makes its own."""
    source = package_dir("course")
    files = sorted(source.glob("*.py"))
    strip = stripped(released_before(assignment))
    digest = hashlib.sha256(repr(sorted((m, sorted(n)) for m, n in strip.items())).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(REFERENCE_STUB.encode() + LAUNCHER_SOURCE.encode())
    target = Path(tempfile.gettempdir()) / f"sgd-course-library-{digest.hexdigest()[:16]}"
    if _ours(target):
        return target / "course"
    if target.is_dir() and not target.is_symlink() and target.stat().st_uid == os.getuid():
        shutil.rmtree(target, ignore_errors=True)   # left incomplete by an older version: made again
    staging = _write_view(files, strip)
    try:
        staging.rename(target)   # course/ and the launcher at once
    except OSError:  # another grader made it meanwhile, or another user holds the name: then our own
        if not _ours(target):
            return staging / "course"
        shutil.rmtree(staging, ignore_errors=True)
    return target / "course"


def _write_view(files: list[Path], strip: dict[str, set[str]]) -> Path:
    """A new folder (readable by all, writable by this uid only) holding ``course/``, the ``files``
    with the functions in ``strip`` stripped, and the launcher."""
    staging = Path(tempfile.mkdtemp(prefix="sgd-course-library-staging-"))
    (staging / "course").mkdir()
    for path in files:
        text = path.read_text()
        if path.stem in strip:
            text = strip_solutions(text, strip[path.stem])
        (staging / "course" / path.name).write_text(text)
    (staging / f"{LAUNCHER}.py").write_text(LAUNCHER_SOURCE)
    for folder in (staging, staging / "course"):
        folder.chmod(0o755)
    for path in [*(staging / "course").iterdir(), staging / f"{LAUNCHER}.py"]:
        path.chmod(0o644)
    return staging


def _ours(folder: Path) -> bool:
    """Whether ``folder`` holds a complete view that no other uid made or can change (the temp folder
    is shared: a folder of that name that another user made, say an empty one a grader running as
    nobody left, or one a student on the same machine put there, may hold anything)."""
    for path in (folder, folder / "course", folder / "course" / "__init__.py", folder / f"{LAUNCHER}.py"):
        try:
            mode = path.lstat()
        except OSError:
            return False
        if mode.st_uid != os.getuid() or stat.S_ISLNK(mode.st_mode) or mode.st_mode & 0o022:
            return False
    return True


def mounts(assignment: str) -> dict[str, str | None]:
    """Sandbox path -> host folder to show there (None: an empty folder) for ``jail.bwrap_argv``: the
    view at its own path (the kernel's PYTHONPATH, see ``python_path``) and over the installed
    ``course`` (were it inside the Python environment, its source would be readable there), and an
    empty folder over ``autograder``."""
    stripped = str(view(assignment))
    shown = {str(Path(stripped).parent): str(Path(stripped).parent)}
    # a package installed from a source folder (``pip install -e``) lies outside everything the sandbox
    # shows, so there is nothing to cover (and covering it would make the way down to it)
    trees = [Path(tree) for tree in jail.python_trees()]
    for name, cover in (("course", stripped), ("autograder", None)):
        installed = package_dir(name)
        if any(installed.is_relative_to(tree) for tree in trees):
            shown[str(installed)] = cover
    return shown


def python_path(assignment: str) -> str:
    """The kernel's PYTHONPATH: the folder that holds the view, so that ``import course`` finds it
    however the package is installed."""
    return str(view(assignment).parent)


if __name__ == "__main__":
    print(view(sys.argv[1]))
    sys.exit(0)
