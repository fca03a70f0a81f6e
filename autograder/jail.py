"""The sandbox of a grading kernel: bubblewrap (``bwrap``), with resource limits and a pids cgroup.

Every grading kernel runs as ``python -m autograder.jail [options] -- <kernel argv>``, which (on the
grader's side, trusted) joins a fresh pids cgroup, sets resource limits and then execs ``bwrap``,
which starts the kernel in a sandbox:

- a user namespace of its own in which the kernel is an unprivileged uid (65534, "nobody", when the
  grader runs as root; else the grader's uid) with no capabilities (``--cap-drop ALL``) and no way to
  make further user namespaces (``--disable-userns``);
- new namespaces for everything (``--unshare-all``): no network (the grader talks to the kernel over
  ``ipc`` sockets in a folder of its own, reached through ``/proc/<pid>/root``), its own pids (``/proc`` shows the sandbox only), its own IPC and
  hostname; ``--die-with-parent`` and ``--new-session`` (no terminal);
- a file system made of: ``/usr`` and the Python environment read-only, the student-facing view of
  the ``course`` library read-only (its solutions stripped: ``library_view``), an empty writable home
  (a size-capped tmpfs) as working directory, a size-capped ``/tmp``, a size-capped folder for the kernel's
  sockets, with its connection file bound read-only. Nothing else: no course folder, no ``autograder``, no other student's files;
- a cleared environment (no grading seed, no grader's variables);
- limits: address space (a memory bomb gets a MemoryError), file size, no core dumps, and at most
  ``max_tasks`` processes and threads: ``RLIMIT_NPROC`` set inside the sandbox's user namespace
  (``task_cap``; works without root), and, when the grader runs as root, a pids cgroup too (a fork bomb
  stays small; everything the submission started is killed with the cgroup, and with the sandbox's pid
  namespace, when the kernel is done).

``available()`` says whether bubblewrap works on this machine; the grader refuses to grade without it
unless the instructor asks for ``--unsafe-no-sandbox`` (the kernel then runs as a plain process with
the limits only, and every submission's notes say so).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

PIDS_ROOT = "/sys/fs/cgroup/pids"
NOBODY = 65534
FILE_MB = 64
TMPFS_MB = 256
SOCKETS_KB = 1024
"""The size of the kernel's socket folder (sockets take no room: this caps what a kernel writes there)."""


@dataclass(frozen=True)
class Limits:
    """The one set of limits every grading kernel gets."""

    memory_mb: int = 2048
    max_tasks: int = 256
    file_mb: int = FILE_MB
    tmpfs_mb: int = TMPFS_MB


@functools.lru_cache(maxsize=1)
def available() -> str:
    """"" if bubblewrap can make a sandbox here, else why not (in words for the instructor)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")
    probe = [sys.executable, "-m", "autograder.jail", "--", bwrap, *_namespace_flags(),
             "--ro-bind", "/usr", "/usr", *_system_links(), "--remount-ro", "/", "--", "/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not run ({error})"
    if done.returncode != 0:
        return ("bubblewrap cannot make a sandbox on this machine (are user namespaces disabled? "
                f"{done.stderr.strip()[:300]})")
    return ""


def _namespace_flags() -> list[str]:
    flags = ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
             "--die-with-parent", "--new-session"]
    if os.getuid() == 0:
        flags += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
    return flags


def _system_links() -> list[str]:
    """/bin, /lib, ... as the host has them (symlinks into /usr on a merged-/usr system)."""
    argv = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    return argv


def python_trees() -> list[str]:
    """The folders the kernel's Python needs: the environment and its real base installation."""
    trees = []
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        real = os.path.realpath(path)
        for p in (path, real):
            if p not in trees and not p.startswith("/usr/"):
                trees.append(p)
    return trees


def bwrap_argv(command: list[str], *, home: str, sockets: str, connection: str, library: dict[str, str | None],
               env: dict[str, str], limits: Limits = Limits()) -> list[str]:
    """The ``bwrap`` command line that runs ``command`` in the sandbox described in the module's docstring.

    ``home``: the path of the empty working directory inside the sandbox (a tmpfs);
    ``sockets``: the folder of the kernel's ipc sockets, a size-capped tmpfs of the sandbox's own at that
    path (``SOCKETS_KB``; the grader reaches the sockets through ``/proc/<pid>/root``: ``sandbox_root``),
    with the file ``connection`` in it bound read-only from the host;
    ``library``: path inside the sandbox -> host folder to show there read-only, or None to show an
    empty folder there (hides a package that lies inside the Python environment);
    ``env``: the kernel's whole environment."""
    size = str(limits.tmpfs_mb * 2 ** 20)
    # the tmpfs mounts first: a bound folder that lies below /tmp (a venv in /tmp, say) shows on top
    argv = [shutil.which("bwrap") or "bwrap", *_namespace_flags(), "--proc", "/proc", "--dev", "/dev",
            "--size", size, "--tmpfs", "/tmp", "--size", size, "--perms", "0700", "--tmpfs", home,
            "--ro-bind", "/usr", "/usr", *_system_links()]
    for path in ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types"):
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    for tree in python_trees():
        argv += ["--ro-bind", tree, tree]
    for target, source in sorted(library.items()):
        argv += ["--ro-bind", source, target] if source else ["--tmpfs", target, "--remount-ro", target]
    argv += ["--size", str(SOCKETS_KB * 1024), "--tmpfs", sockets, "--ro-bind", connection, connection,
             "--remount-ro", "/", "--chdir", home, "--clearenv"]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    return argv + ["--", *task_cap(command, limits.max_tasks)]


TASK_CAP = ("import os, resource, sys; n = int(sys.argv[1]); "
            "resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")


def task_cap(command: list[str], max_tasks: int) -> list[str]:
    """``command`` run with at most ``max_tasks`` processes and threads of its uid, counted inside the
    sandbox's own user namespace (``RLIMIT_NPROC``, set there before the command starts): the cap a
    grader without root gets, where no pids cgroup is writable. (The kernel counts RLIMIT_NPROC per
    user namespace, so the grader's own processes and other kernels do not count.)"""
    python = command[0] if os.path.basename(command[0]).startswith("python") else sys.executable
    return [python, "-I", "-S", "-c", TASK_CAP, str(max_tasks), *command]


def sandbox_root(pid: int, timeout: float = 20.0) -> str | None:
    """``/proc/<pid>/root`` of the first process under ``pid`` (bubblewrap) that lives in a mount
    namespace other than this process's: the sandbox's file system as the grader reaches it (its socket
    folder is a tmpfs of the sandbox's own). None if none appears within ``timeout`` seconds, and as soon
    as ``pid`` has exited (a sandbox that failed to start is reported at once, not after ``timeout``)."""
    mine = os.readlink("/proc/self/ns/mnt")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _has_exited(pid):  # bubblewrap (or what the kernel spec ran) is gone: nothing will appear
                return None
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                children = [int(c) for c in fh.read().split()]
            for child in children:
                if os.readlink(f"/proc/{child}/ns/mnt") != mine:
                    return f"/proc/{child}/root"
        except OSError:
            return None
        time.sleep(0.01)
    return None


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` has exited and waits to be reaped (a zombie): its state in ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0] in ("Z", "X")


# -- the pids cgroup ---------------------------------------------------------------------------------

def new_cgroup_name() -> str | None:
    """A fresh pids-cgroup name, ``sgd-course/<this grader's pid>-<random>``, or None where this process
    may not create cgroups. The pid tells a later run whose cgroups are left over (``stale_cgroups``)."""
    if os.access(PIDS_ROOT, os.W_OK):
        return f"sgd-course/{os.getpid()}-{uuid.uuid4().hex}"
    return None


def stale_cgroups(alive) -> list[str]:
    """The cgroups of graders that are gone (``alive(pid)`` is false): a grader killed with SIGKILL
    cannot kill its kernels' cgroups, and a kernel that started as it died can outlive it."""
    try:
        names = os.listdir(os.path.join(PIDS_ROOT, "sgd-course"))
    except OSError:
        return []
    stale = []
    for name in names:
        owner = name.split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not alive(int(owner)):
            stale.append(f"sgd-course/{name}")
    return stale


def join_pids_cgroup(cgroup: str, max_tasks: int) -> None:
    """Create the cgroup ``cgroup`` under the pids hierarchy, cap it, and move this process into it."""
    path = os.path.join(PIDS_ROOT, cgroup)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "pids.max"), "w") as fh:
        fh.write(str(max_tasks))
    with open(os.path.join(path, "cgroup.procs"), "w") as fh:
        fh.write(str(os.getpid()))


def kill_cgroup(name: str) -> None:
    """SIGKILL every process in the cgroup (until none is left) and remove it."""
    path = os.path.join(PIDS_ROOT, name)
    for _ in range(100):
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
        time.sleep(0.02)
    try:
        os.rmdir(path)
    except OSError:
        pass


def set_limits(limits: Limits) -> None:
    memory = limits.memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 2 ** 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv=None) -> None:
    """Join the cgroup, set the limits, silence the kernel's own chatter, exec the command."""
    parser = argparse.ArgumentParser(prog="python -m autograder.jail")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    parser.add_argument("--max-tasks", type=int, default=Limits.max_tasks)
    parser.add_argument("--cgroup", help="name of the pids cgroup to create and join")
    parser.add_argument("--log", default=None, help="file for the kernel's stdout and stderr (default: none)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.cgroup:
        join_pids_cgroup(args.cgroup, args.max_tasks)  # failing here fails the kernel: never unlimited
    set_limits(Limits(memory_mb=args.memory_mb, max_tasks=args.max_tasks))
    log = os.open(args.log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGD_COURSE")}  # bwrap clears the rest
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
