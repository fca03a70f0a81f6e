"""Grade one submission, start to finish, in a fresh kernel: the unit of work of a class run.

``grade_job(job)`` is a plain function of plain data (picklable, no shared files needed), so that any
``concurrent.futures`` executor can run it: local processes, or the workers of a Dask cluster. It

1. checks the files (``job.read_submission``: missing, empty, not JSON, not a notebook, another
   assignment's notebook);
2. rebuilds the notebook around the trusted cells (``sanitize.assemble``);
3. starts a fresh kernel in bubblewrap's sandbox (``jail``: no course files, no network, no
   ``autograder``, the assignment's solutions stripped from ``course`` (``library_view``), limits on
   memory, processes, files and time); a kernel that never starts is started once more (then the
   outcome says so and is marked ``retry``: the next class run grades it again);
4. runs the cells with a time limit per cell and a cap on output, leaving out the notebook's unchanged
   experiments (``sanitize.experiments``); a test cell's visible part runs in
   the kernel, its hidden part runs here in the grader (``remote.run_hidden``), calling the student's
   functions with plain data over ``remote.KernelCalls``. ``score_test_cells`` then writes every test
   cell's outputs from the grader's verdict alone (an error output when it failed, which is how
   nbgrader scores it);
5. stops early when the kernel dies (``os._exit``, a crash, the memory limit), hangs or ignores an
   interrupt: that cell and every later test cell score 0, and the notes say why.
It returns the executed notebook(s) and notes; it never writes the gradebook. This module starts,
limits and stops the kernel and runs the cells; the protocol of calls into the kernel is ``remote``'s,
the unit of work (``Job``, ``Outcome``) is ``job``'s.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import glob
import html
import json
import os
import shutil
import sys
import tempfile
import time

import nbformat
import zmq
import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets import Integer, default

from . import jail, library_view, remote
from .cells import is_test_cell
from .checks import CALLS_REFERENCE, SEED_VARIABLE
from .job import Job, Outcome, read_submission
from .sanitize import NOT_RUN, assemble, experiments
from .solutions import REFERENCE_STUB

BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
UNSAFE_NOTE = ("graded WITHOUT a sandbox (--unsafe-no-sandbox): the submission's code ran with the "
               "grader's rights, and nothing kept it from reading or changing files")


def grade_job(job: Job, slots=None) -> Outcome:
    """Grade one submission (see the module's docstring). ``slots``: a semaphore that grading threads
    of one process share, so that at most that many notebooks run cells at once while the next
    kernels start and the finished ones stop outside the limit (hiding kernel start-up latency)."""
    started = time.perf_counter()
    outcome = Outcome(job.student, job.assignment)
    if job.unsafe_no_sandbox:
        outcome.notes.append(UNSAFE_NOTE)
    try:
        notebooks = {}
        for name in sorted(job.sources):
            problem, nb = read_submission(job.submitted.get(name), name, job.releases[name],
                                          [n for n in job.submitted if n != name])
            if problem:
                outcome.reason = f"{name}.ipynb: {problem}"
                return outcome
            notebooks[name] = nb
        for name, submitted in notebooks.items():
            source = nbformat.reads(job.sources[name], as_version=4)
            release = nbformat.reads(job.releases[name], as_version=4)
            nb, repairs = assemble(source, release, submitted)
            skip = experiments(source, nb)
            for attempt in (1, 2):  # a kernel that never started is started once more
                try:
                    ran, stops = asyncio.run(_run(copy.deepcopy(nb), job, outcome.sandbox, slots, skip))
                    break
                except KernelStartFailed as error:
                    if attempt == 2:
                        outcome.reason = (f"the kernel could not start ({error}); run sgd-course grade "
                                          f"{job.assignment} again: it retries this submission")
                        outcome.retry = True
                        return outcome
            notes = ([f"extra files in the submission were ignored: {', '.join(job.extra_files)}"]
                     if job.extra_files else []) + repairs + stops
            if notes:  # the student reads them at the top of the feedback
                ran.cells.insert(0, nbformat.v4.new_markdown_cell(
                    "**Notes from the grader**\n\n" + "\n".join(f"- {_plain(n)}" for n in notes)))
            outcome.notes += notes
            outcome.notebooks[name] = nbformat.writes(ran)
    except Exception as error:  # a bug of ours must not take the class run down
        outcome.reason = (f"the grader failed on this submission ({type(error).__name__}: {error}); run "
                          f"sgd-course grade {job.assignment} again: it retries this submission")
        outcome.retry = True
    finally:
        outcome.seconds = time.perf_counter() - started
    return outcome


def _plain(text: str) -> str:
    """A note as plain text in markdown: what came from the submission (ids, file names) can be
    neither HTML nor markdown markup in the feedback page."""
    return html.escape(text).replace("\\", "\\\\").replace("`", "\\`").replace("*", "\\*") \
        .replace("_", "\\_").replace("[", "\\[").replace("]", "\\]")


# -- running the notebook ---------------------------------------------------------------------------

class GradingClient(NotebookClient):
    """nbclient with a cap on the output a cell may produce (a runaway print loop cannot fill memory)."""

    max_output_bytes = Integer(2_000_000).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._output_sizes: dict[int, int] = {}  # cell index -> bytes of output so far

    def output(self, outs, msg, display_id, cell_index):
        added = len(json.dumps(msg.get("content", {})))
        size = self._output_sizes.get(cell_index, 0) + added
        self._output_sizes[cell_index] = size
        if size > self.max_output_bytes:
            if size - added <= self.max_output_bytes:
                outs.append(nbformat.v4.new_output("display_data", data={"text/plain": (
                    f"[output truncated by the grader: more than {self.max_output_bytes // 1000} kB]")}))
            return None
        return super().output(outs, msg, display_id, cell_index)


# -- what the grader holds of a kernel's messages ---------------------------------------------------------

RECEIVE_QUEUE = 4
"""Messages a grader's socket to a kernel holds unread (ZMQ's receive high-water mark); past it the
kernel's side waits or, for its output channel, drops them."""
MAX_MESSAGE_BYTES = {zmq.SUB: 16 * 2 ** 20, zmq.REQ: 2 ** 16}
"""The largest message a grader's socket takes from the kernel, by socket kind (a larger one drops the
connection): output (iopub, read by nbclient, whose cap per cell is 2 MB) and heartbeat; replies
(shell, control, stdin) may carry a call's result, up to ``remote.MAX_RESULT_BYTES`` quoted twice."""
MAX_REPLY_BYTES = 5 * remote.MAX_RESULT_BYTES


def _capped(sock):
    sock.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES.get(sock.type, MAX_REPLY_BYTES))
    return sock


class CappedContext(zmq.Context):
    """A ZMQ context whose sockets buffer at most ``RECEIVE_QUEUE`` messages of bounded size: whatever a
    kernel prints or sends, the grader holds a bounded amount of it per kernel."""

    def socket(self, *args, **kwargs):
        return _capped(super().socket(*args, **kwargs))


class AsyncCappedContext(zmq.asyncio.Context):
    """``CappedContext`` for nbclient's asyncio client."""

    def socket(self, *args, **kwargs):
        return _capped(super().socket(*args, **kwargs))


class CappedAsyncKernelClient(AsyncKernelClient):
    """nbclient's kernel client, on an ``AsyncCappedContext``."""

    @default("context")
    def _context_default(self):
        self._created_context = True
        return AsyncCappedContext()


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager for a kernel in bubblewrap's sandbox, whose ipc sockets lie in a size-capped
    folder of the sandbox's own (``jail.bwrap_argv``): once the sandbox runs, the grader's clients reach
    them through ``/proc/<pid>/root`` (``jail.sandbox_root``)."""

    async def _async_post_start_kernel(self, **kw):
        root = await asyncio.to_thread(jail.sandbox_root, self.provisioner.process.pid)
        if root is None:
            raise RuntimeError("the sandbox did not start")
        self.ip = root + self.ip
        await super()._async_post_start_kernel(**kw)


HOME = "/home/student"
"""The kernel's working directory inside the sandbox: an empty, size-capped tmpfs."""


def _kernel_env() -> dict:
    """The kernel's whole environment (bwrap clears the grader's): no seed, no grading marker (not even
    nbgrader's ``NBGRADER_EXECUTION``), nothing of the grader's."""
    env = {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
           "HOME": HOME, "LANG": "C.UTF-8", "MPLBACKEND": "agg",
           "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "PYTHONDONTWRITEBYTECODE": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machines that need them to run numpy at all
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _kernel_spec(folder, job, scratch, sockets, cgroup, unsafe):
    """Write the kernelspec of this submission's kernel: ``autograder.jail`` (cgroup, limits, drop
    root) exec'ing bubblewrap, which runs ipykernel in the sandbox (``jail``'s docstring).
    ``unsafe``: no bubblewrap (the instructor's explicit ``--unsafe-no-sandbox``)."""
    # -P: the kernel's working folder does not go first on sys.path, so a course/ or course.py a cell
    # writes there cannot hide the library view (IPython adds it later, after the view and the stdlib)
    kernel = [sys.executable, "-P", "-m", library_view.LAUNCHER, "-f", "{connection_file}",
              "--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]
    env = _kernel_env()
    env["PYTHONPATH"] = library_view.python_path(job.assignment)
    if unsafe:  # no sandbox, but still the library without the assignment's solutions
        env.update(HOME=scratch, MPLCONFIGDIR=os.path.join(scratch, "matplotlib"),
                   IPYTHONDIR=os.path.join(scratch, "ipython"))
        command = kernel
    else:
        command = jail.bwrap_argv(kernel, home=HOME, sockets=sockets, connection=os.path.join(sockets, "kernel.json"),
                                  library=library_view.mounts(job.assignment),
                                  env=env, limits=job.limits)
    argv = [sys.executable, "-m", "autograder.jail", "--memory-mb", str(job.limits.memory_mb),
            "--max-tasks", str(job.limits.max_tasks), "--log", os.path.join(scratch, "kernel.log")]
    argv += ["--cgroup", cgroup] if cgroup else []
    argv += ["--", *command]
    os.makedirs(os.path.join(folder, "sgd-grading"))
    with open(os.path.join(folder, "sgd-grading", "kernel.json"), "w") as fh:
        json.dump({"argv": argv, "display_name": "sgd-course grading", "language": "python",
                   "interrupt_mode": "message", "env": env if unsafe else {}}, fh)


def _split_hidden(source):
    """(visible code, hidden code) of a test cell."""
    visible, hidden, inside = [], [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def _error(ename, text):
    return nbformat.v4.new_output("error", ename=ename, evalue=text, traceback=[f"{ename}: {text}"])


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            lines = [line.strip() for line in fh.read()[-4000:].splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def remove_stale_scratch() -> None:
    """Clear what grading processes that are gone left behind (a run killed with SIGKILL cannot clear
    it; the next run does): their ``sgd-grading-<pid>-*`` scratch folders, and their pids cgroups with
    every process still in them (``jail.stale_cgroups``)."""
    for cgroup in jail.stale_cgroups(_alive):
        jail.kill_cgroup(cgroup)
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "sgd-grading-*-*")):
        try:
            pid = int(os.path.basename(path).split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class KernelStartFailed(Exception):
    """The kernel never answered: nothing of the submission ran (retried once, then "could not be
    graded")."""


def _text_outputs(outputs, limit=20_000) -> list:
    """What a test cell printed, as plain stdout text (nothing the kernel sent can carry a score)."""
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if len(text) > limit:
        text = text[:limit] + "\n[output truncated by the grader]\n"
    return [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []


def _visible_failure(outputs, reply) -> tuple:
    """() when the visible part ran to its end, else (error name, message) from the kernel's report."""
    if reply.get("status") == "ok":
        return ()
    errors = [o for o in outputs if o.get("output_type") == "error"]
    source = errors[-1] if errors else reply
    name, message = str(source.get("ename", "Error"))[:100], str(source.get("evalue", ""))[:4000]
    if REFERENCE_STUB in message:
        return ("CheckFailed", f"this test {CALLS_REFERENCE}")
    return (name, message)


def score_test_cells(nb, verdicts: dict, stopped: str) -> None:
    """Write every test cell's outputs from the grader's verdict alone: its printed text, then one
    error output when it failed. nbgrader scores a code cell from its outputs (an error: 0, else full
    points), so the score is the grader's, whatever the kernel sent. A test cell without a verdict
    (the kernel died, hung or was killed at or before it) gets 0."""
    for index, cell in enumerate(nb.cells):
        if not is_test_cell(cell):
            continue
        outputs = _text_outputs(cell.get("outputs", []))
        if index not in verdicts:
            outputs.append(_error("NotRun", f"not graded because {stopped or 'it did not run'}"))
        elif verdicts[index]:
            outputs.append(_error(*verdicts[index]))
        cell.outputs = outputs


async def _run(nb, job, job_limits_missing=None, slots=None, skip=frozenset()):
    """Execute ``nb`` in place in a fresh sandboxed kernel, except the cells in ``skip`` (unchanged
    experiments: ``sanitize.experiments``); returns (nb, notes). What the sandbox could
    not apply on this machine is appended to ``job_limits_missing`` (for the instructor, not the
    student). With ``slots`` (a semaphore shared by grading threads) the cells run only while holding
    a slot. Raises KernelStartFailed when the kernel never answered."""
    notes = []
    job_limits_missing = [] if job_limits_missing is None else job_limits_missing
    scratch = tempfile.mkdtemp(prefix=f"sgd-grading-{os.getpid()}-")
    sockets = os.path.join(scratch, "sockets")  # the connection file; the sandbox's own folder at that path
    os.makedirs(sockets, mode=0o700)
    cgroup = jail.new_cgroup_name()
    if cgroup is None and job.unsafe_no_sandbox:  # in the sandbox, RLIMIT_NPROC caps them (jail.task_cap)
        job_limits_missing.append("no process limit (no sandbox, and the pids cgroup is not writable: "
                                  "grade as root for a cap on processes)")
    _kernel_spec(os.path.join(scratch, "kernels"), job, scratch, sockets, cgroup, job.unsafe_no_sandbox)
    manager = AsyncKernelManager if job.unsafe_no_sandbox else SandboxKernelManager
    km = manager(kernel_name="sgd-grading", transport="ipc", ip=os.path.join(sockets, "kernel"),
                 connection_file=os.path.join(sockets, "kernel.json"),
                 kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.join(scratch, "kernels")]),
                 client_factory=CappedAsyncKernelClient)
    client = GradingClient(nb, km=km, timeout=job.timeout, interrupt_on_timeout=True, allow_errors=True,
                           error_on_timeout={"ename": "TimeoutError", "evalue": "", "traceback": []},
                           max_output_bytes=job.max_output_bytes, iopub_timeout=5,
                           resources={"metadata": {"path": scratch}})
    replies = {}
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.__setitem__(cell_index, execute_reply)
    verdicts = {}
    stopped = ""
    calls = None
    started = False
    try:
        async with client.async_setup_kernel():
            started = True
            calls = remote.KernelCalls(km, job.timeout, CappedContext())
            if not calls.setup():
                stopped = "the grader could not prepare the kernel"
            with slots or contextlib.nullcontext():  # the kernel is ready: wait for a free slot
                stopped = stopped or await _run_cells(client, nb, job, replies, calls, verdicts, skip)
    except DeadKernelError:
        stopped = stopped or "the kernel died"
    except Exception as error:
        if not started:
            said = _last_line(os.path.join(scratch, "kernel.log"))
            raise KernelStartFailed((f"{type(error).__name__}: {error}"[:300]
                                     + (f"; the kernel said: {said}" if said else ""))) from None
        stopped = stopped or f"the kernel could not be run ({type(error).__name__}: {error})"
    finally:
        if calls:
            calls.close()
        try:
            await km.shutdown_kernel(now=True)
        except Exception:
            pass
        atexit.unregister(client._cleanup_kernel)  # nbclient leaves it registered when a start fails
        if cgroup:
            jail.kill_cgroup(cgroup)
        shutil.rmtree(scratch, ignore_errors=True)
    if stopped:
        notes.append(f"grading stopped early: {stopped}; that cell and every later test cell score 0")
    score_test_cells(nb, verdicts, stopped)
    return nb, notes


async def _run_cells(client, nb, job, replies, calls, verdicts, skip=frozenset()) -> str:
    """Run the notebook's code cells in order, a test cell's hidden part in the grader; returns "" or
    why the run had to stop. ``verdicts[index]`` is set for every test cell that ran to its end:
    () when it passed, else (error name, message)."""
    deadline = time.monotonic() + job.max_seconds
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if index in skip:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN)]
            continue
        if time.monotonic() > deadline:
            return f"the notebook ran longer than {job.max_seconds} s in total"
        if is_test_cell(cell):
            visible, hidden = _split_hidden(cell.source)
            runner = copy.deepcopy(cell)
            runner.source = visible
            stopped = await _execute(client, runner, index, replies, job.timeout, calls)
            nb.cells[index] = cell  # nbclient put the runner (visible part only) there
            cell.outputs = runner.outputs
            cell.execution_count = runner.get("execution_count")
            if stopped:
                return stopped
            failure = _visible_failure(runner.outputs, replies.get(index, {}).get("content", {}))
            os.environ[SEED_VARIABLE] = str(job.seed)  # the hidden checks' inputs (checks.run_seed)
            message = remote.run_hidden(hidden, calls) if hidden.strip() else ""
            if calls.dead:
                return calls.dead
            # the hidden checks' message names the input, what was expected and what came back: it
            # comes first; a cell passes only if both its visible tests and its hidden checks pass
            verdicts[index] = ("CheckFailed", message) if message else failure
        else:
            stopped = await _execute(client, cell, index, replies, job.timeout, calls)
            if stopped:
                return stopped
    return ""


async def _execute(client, cell, index, replies, timeout, calls):
    """Run one cell; returns "" or why the run had to stop (kernel dead or unresponsive)."""
    try:
        await client.async_execute_cell(cell, index)
    except DeadKernelError:
        return (f"the kernel died while running cell {index + 1} (os._exit, exit(), a crash or the "
                "memory limit)")
    reply = replies.get(index, {}).get("content", {})
    if reply.get("ename") == "TimeoutError":
        cell.outputs.append(_error("TimeoutError", f"this cell ran longer than {timeout} s and was interrupted"))
        if not calls.responsive():
            return f"cell {index + 1} ran past the {timeout} s limit and did not stop when interrupted"
    if not calls.responsive(5):
        if not await client.km.is_alive():
            return (f"the kernel died while running cell {index + 1} (os._exit, exit(), a crash or the "
                    "memory limit)")
        return f"the kernel stopped answering after cell {index + 1}"
    return ""
