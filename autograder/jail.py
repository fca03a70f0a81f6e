"""Start a grading kernel inside limits: ``python -m autograder.jail [options] -- <kernel argv>``.

Applied to the kernel process (and so to everything the student's code starts) before it execs the
real kernel:

- resource limits: address space (a memory bomb gets a MemoryError or dies, not the machine), file size,
  no core dumps;
- a pids cgroup (Linux, where writable): at most ``--max-tasks`` processes and threads, so a fork bomb
  stays small, and the grader can kill everything the submission started;
- a private mount namespace (Linux, as root or with user namespaces) in which each ``--hide`` folder
  (the course directory with the gradebook, source notebooks and other students' files; the shipped
  source notebooks) is covered by an empty tmpfs, so student code can neither read nor write them;
- the working directory is an empty scratch folder, so no file of the submission can shadow a module.

What could not be applied is written to ``--report`` (a JSON list) so that the grader can say so.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import signal
import sys
import time
import uuid

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PIDS_ROOT = "/sys/fs/cgroup/pids"
FILE_MB = 64


def new_cgroup_name() -> str | None:
    """A fresh pids-cgroup name, or None where this process may not create cgroups."""
    if os.access(PIDS_ROOT, os.W_OK):
        return f"sgd-course/{uuid.uuid4().hex}"
    return None


def kill_cgroup(name: str) -> None:
    """SIGKILL every process in the cgroup (until none is left) and remove it."""
    path = os.path.join(PIDS_ROOT, name)
    for _ in range(50):
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:
                pids = [int(p) for p in fh.read().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def set_limits(memory_mb: int, file_mb: int) -> None:
    memory = memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2 ** 20, file_mb * 2 ** 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def join_pids_cgroup(cgroup: str, max_tasks: int) -> str:
    """Create the cgroup ``cgroup`` under the pids hierarchy, cap it, and move this process into it."""
    path = os.path.join(PIDS_ROOT, cgroup)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "pids.max"), "w") as fh:
        fh.write(str(max_tasks))
    with open(os.path.join(path, "cgroup.procs"), "w") as fh:
        fh.write(str(os.getpid()))
    return path


def hide_folders(folders: list[str]) -> None:
    """Cover each folder with an empty read-only tmpfs in a private mount namespace."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWNS) != 0:
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare failed: no mount namespace")
        with open("/proc/self/setgroups", "w") as fh:
            fh.write("deny")
        with open("/proc/self/uid_map", "w") as fh:
            fh.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as fh:
            fh.write(f"{gid} {gid} 1")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "could not make mounts private")
    for folder in folders:
        if os.path.isdir(folder) and libc.mount(b"tmpfs", folder.encode(), b"tmpfs", 1, b"size=4k") != 0:
            raise OSError(ctypes.get_errno(), f"could not hide {folder}")  # flag 1 = MS_RDONLY


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.jail")
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--file-mb", type=int, default=FILE_MB)
    parser.add_argument("--max-tasks", type=int, default=128)
    parser.add_argument("--cgroup", help="name of the pids cgroup to create and join")
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    missing = []
    if args.cgroup:
        try:
            join_pids_cgroup(args.cgroup, args.max_tasks)
        except OSError as error:
            missing.append(f"no process limit ({error.strerror or error})")
    try:
        hide_folders([os.path.realpath(f) for f in args.hide])
    except OSError as error:
        missing.append(f"course files not hidden ({error.strerror or error})")
    with open(args.report, "w") as fh:
        json.dump(missing, fh)
    set_limits(args.memory_mb, args.file_mb)
    os.chdir(args.workdir)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
