"""Folders made once per test session, whatever the number of pytest-xdist workers, and then only read.

A session fixture is made once per process, and each xdist worker is a process of its own. ``made_once``
makes a folder once: the first process that asks makes it while it holds a lock, and a process that asks
meanwhile waits for the lock and then loads what was made. ``changed_files`` names what changed in such
a folder since it was made, since every process reads the same one.
"""

import fcntl
import pickle
import shutil
from pathlib import Path

MADE = "made.pickle"     # beside a made folder: what ``make`` returned and the folder's fingerprint


def fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: relative path -> (size, modification time in ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def made_once(top: Path, name: str, make):
    """``make(root) -> value``, which makes the folder ``root``, run once in ``top`` however many processes
    ask at once; returns its value (pickled beside ``root`` in ``top/<name>/``). An ``fcntl.flock`` on
    ``top/<name>.lock`` makes the first process make it and the others wait and load it."""
    folder = top / name
    with open(top / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file is closed
        made = folder / MADE
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)   # what a process that failed to make it left
            folder.mkdir()
            value = make(folder / "course")
            partial = folder / f"{MADE}.partial"
            partial.write_bytes(pickle.dumps((value, fingerprint(folder / "course"))))
            partial.replace(made)
        value, _ = pickle.loads(made.read_bytes())
    return value


def changed_files(root: Path) -> list[str]:
    """The files of a folder ``root`` made by ``made_once`` added, removed or written since it was made."""
    _, then = pickle.loads((root.parent / MADE).read_bytes())
    now = fingerprint(root)
    return sorted(path for path in then.keys() | now.keys() if then.get(path) != now.get(path))
