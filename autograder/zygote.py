"""Fresh kernels in milliseconds: fork them from a process that has already imported everything.

Starting a kernel costs about a second of CPU, mostly imports (IPython, ipykernel, numpy, matplotlib,
the course library). A zygote imports all that once, runs no student code, and forks one child per
kernel: every submission still gets a brand-new process, never one that another student's code ran in.

    python -m autograder.zygote serve --socket PATH      # the zygote (one per grading process)
    python -m autograder.zygote launch --socket PATH --request FILE -- CONNECTION_FILE

``launch`` is the kernel command that jupyter_client starts: it asks the zygote for a kernel, forwards
interrupts to it and exits when it exits. If the launcher is killed, the zygote kills the kernel and
everything it started. The child applies the same limits as ``autograder.jail`` before the kernel runs.
The zygote never starts threads, so forking it is safe.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading

PRELOAD = ["numpy", "matplotlib", "matplotlib.pyplot", "ipykernel.kernelapp", "ipykernel.ipkernel",
           "ipykernel.debugger",  # debugpy: a tenth of a second of every kernel's start
           "IPython", "ipywidgets", "course", "course.plots", "course.widgets", "course.nn",
           "course.train", "course.data", "course.sgd", "course.optim", "autograder.remote"]
QUIET_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "MPLBACKEND": "agg"}


def _die_with_parent() -> None:
    """Linux: be killed when the parent goes (a SIGKILLed grading run leaves no zygote or kernel)."""
    try:
        import ctypes
        import ctypes.util
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(path: str) -> None:
    _die_with_parent()
    os.environ.update(QUIET_THREADS)
    import importlib
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # an optional module missing only costs its import later
            pass
    _warm_up()
    _skip_figure_layout()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    print("ready", flush=True)
    children: dict[socket.socket, tuple[int, dict]] = {}
    while True:
        readable, _, _ = select.select([server, *children], [], [], 0.1)
        for conn in readable:
            if conn is server:
                client, _ = server.accept()
                request = json.loads(_read_line(client))
                pid = os.fork()
                if pid == 0:
                    server.close()
                    for other in children:
                        other.close()
                    _run_kernel(request, client)  # never returns
                client.sendall(f"{pid}\n".encode())
                children[client] = (pid, request)
            elif not conn.recv(1):  # the launcher went away: the kernel goes too
                pid, request = children.pop(conn)
                _kill(pid, request)
                conn.close()
        for conn, (pid, request) in list(children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.pop(conn)
                _kill(pid, request)  # whatever it started
                try:
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass
                conn.close()


def _warm_up() -> None:
    """Pay once for what every kernel would pay at its first use: matplotlib's fonts and first figure,
    the digits data set. Only library state; no student code ever runs in the zygote."""
    try:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="warm-up")
        ax.set(xlabel="k", ylabel=r"$\theta$", title="warm-up")
        ax.legend()
        fig.canvas.draw()
        plt.close(fig)
    except Exception:
        pass
    try:
        from course.data import load_digits
        load_digits()
    except Exception:
        pass


def _skip_figure_layout() -> None:
    """Grading kernels never draw a figure (the Agg backend; nothing is shown or kept), so laying one
    out is wasted work: there, ``Figure.tight_layout`` does nothing. A tenth of a second per figure."""
    try:
        from matplotlib.figure import Figure
        Figure.tight_layout = lambda self, *args, **kwargs: None
    except Exception:
        pass


def _read_line(conn) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _kill(pid: int, request: dict) -> None:
    from autograder.jail import kill_cgroup
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    if request.get("cgroup"):
        kill_cgroup(request["cgroup"])


def _run_kernel(request: dict, conn) -> None:
    """In the forked child: jail, then become the kernel."""
    from autograder import jail
    try:
        os.setsid()
        _die_with_parent()
        missing = []
        if request.get("cgroup"):
            try:
                jail.join_pids_cgroup(request["cgroup"], request["max_tasks"])
            except OSError as error:
                missing.append(f"no process limit ({error.strerror or error})")
        try:
            jail.hide_folders([os.path.realpath(f) for f in request.get("hide", [])])
        except OSError as error:
            missing.append(f"course files not hidden ({error.strerror or error})")
        with open(request["report"], "w") as fh:
            json.dump(missing, fh)
        jail.set_limits(request["memory_mb"], request["file_mb"])
        os.environ.update(request["env"])
        os.chdir(request["workdir"])
        import random

        import numpy as np
        random.seed(request["seed"])  # a fork shares the zygote's random state: make it the run's
        np.random.seed(request["seed"] % 2 ** 32)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        conn.close()
        from ipykernel.kernelapp import IPKernelApp
        IPKernelApp.launch_instance(argv=["-f", request["connection_file"], "--IPKernelApp.log_level=ERROR",
                                          "--HistoryManager.enabled=False"])
    finally:
        os._exit(0)


def launch(path: str, request_file: str, connection_file: str) -> int:
    """The kernel command: get a kernel from the zygote, forward signals, exit with it."""
    with open(request_file) as fh:
        request = json.load(fh)
    request["connection_file"] = connection_file
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    conn.sendall((json.dumps(request) + "\n").encode())
    pid = int(_read_line(conn))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, lambda s, f: _forward(pid, s))
    line = _read_line(conn)
    return int(line.split()[1]) if line.startswith("exit") else 1


def _forward(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Zygote:
    """The zygote of this process: started on first use (or early, with ``start``), stopped at exit."""

    _instance = None
    _lock = threading.Lock()

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="sgd-zygote-")
        self.path = os.path.join(self.folder, "zygote.sock")
        self.process = subprocess.Popen([sys.executable, "-m", "autograder.zygote", "serve", "--socket", self.path],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.ready = False

    def wait_ready(self) -> bool:
        """Wait until the zygote has imported everything; False (and the zygote stopped) if it failed."""
        if not self.ready:
            started = select.select([self.process.stdout], [], [], 120)[0]
            self.ready = bool(started) and self.process.stdout.readline().strip() == b"ready"
            if not self.ready:
                self.stop()
        return self.ready

    @classmethod
    def start(cls) -> "Zygote | None":
        """Start the zygote unless it runs; do not wait for its imports (a second or so of its own CPU,
        which a command can overlap with its own start). Call it from a thread that outlives the
        grading: the zygote is killed when the thread that started it ends (PR_SET_PDEATHSIG)."""
        with cls._lock:
            if cls._instance is None or cls._instance.process.poll() is not None:
                try:
                    cls._instance = cls()
                except OSError:
                    cls._instance = None
                    return None
                atexit.register(cls._instance.stop)
            return cls._instance

    @classmethod
    def socket_path(cls) -> str | None:
        """The running zygote's socket, starting it and waiting for it if needed; None where it cannot
        run. One zygote serves every grading thread of this process."""
        zygote = cls.start()
        with cls._lock:
            return zygote.path if zygote is not None and zygote.wait_ready() else None

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        import shutil
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.zygote")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--socket", required=True)
    p = sub.add_parser("launch")
    p.add_argument("--socket", required=True)
    p.add_argument("--request", required=True)
    p.add_argument("connection_file", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.socket)
        return 0
    rest = args.connection_file[1:] if args.connection_file[:1] == ["--"] else args.connection_file
    return launch(args.socket, args.request, rest[0])


if __name__ == "__main__":
    sys.exit(main())
