"""Grade one submission, start to finish, in a fresh kernel: the unit of work of a class run.

``grade_job(job)`` is a plain function of plain data (picklable, no shared files needed), so that any
``concurrent.futures`` executor can run it: local processes, or the workers of a Dask cluster. It

1. checks the files (missing, empty, not JSON, not a notebook, another assignment's notebook);
2. rebuilds the notebook around the trusted cells (``sanitize.assemble``);
3. starts a fresh kernel inside limits (``jail``): memory, processes, hidden course files, an empty
   working directory, ``NBGRADER_EXECUTION=autograde``, no figures rendered;
4. runs the cells with a time limit per cell and a cap on output; a test cell's visible part runs in
   the kernel, its hidden part runs here in the grader (``remote``), calling the student's functions
   through proxies. A test cell passes only if both pass; a failure is written into the cell as an
   error output, which is how nbgrader scores it;
5. stops early, grading what ran, when the kernel dies (``os._exit``, a crash, the memory limit) or
   ignores an interrupt, and says so in the unrun test cells.
It returns the executed notebook(s) and notes; it never writes the gradebook.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

import nbformat
import zmq
from jupyter_client import AsyncKernelManager, BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets import Integer

from . import jail, remote
from .zygote import Zygote
from .checks import SEED_VARIABLE, CheckFailed
from .sanitize import assemble

BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
RESULT_NAME = "__sgd_course_grader_out"


@dataclass
class Job:
    """Everything needed to grade one student's submission of one assignment."""

    assignment: str
    student: str
    submitted: dict  # notebook name -> bytes, or None when the file is missing
    sources: dict  # notebook name -> instructor version (JSON text)
    releases: dict  # notebook name -> student version (JSON text)
    seed: int
    timeout: int = 60
    memory_mb: int = 2048
    max_tasks: int = 256
    max_output_bytes: int = 2_000_000
    max_seconds: int = 900
    hide: tuple = ()
    extra_files: tuple = ()  # names of other files in the submission (never copied to the kernel)


@dataclass
class Outcome:
    student: str
    assignment: str
    reason: str = ""  # non-empty: could not be graded
    notes: list = field(default_factory=list)
    notebooks: dict = field(default_factory=dict)  # name -> executed notebook JSON
    seconds: float = 0.0
    digest: str = ""  # of the submission's files, set by the coordinator
    sandbox: list = field(default_factory=list)  # limits the jail could not apply on this machine


def grade_job(job: Job, slots=None) -> Outcome:
    """Grade one submission (see the module's docstring). ``slots``: a semaphore that grading threads
    of one process share, so that at most that many notebooks run cells at once while the next
    kernels start and the finished ones stop outside the limit (hiding kernel start-up latency)."""
    started = time.perf_counter()
    outcome = Outcome(job.student, job.assignment)
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
            ran, stops = asyncio.run(_run(nb, job, outcome.sandbox, slots))
            notes = ([f"extra files in the submission were ignored: {', '.join(job.extra_files)}"]
                     if job.extra_files else []) + repairs + stops
            if notes:  # the student reads them at the top of the feedback
                ran.cells.insert(0, nbformat.v4.new_markdown_cell(
                    "**Notes from the grader**\n\n" + "\n".join(f"- {n}" for n in notes)))
            outcome.notes += notes
            outcome.notebooks[name] = nbformat.writes(ran)
    except Exception as error:  # a bug of ours must not take the class run down
        outcome.reason = f"the grader failed on this submission ({type(error).__name__}: {error})"
    finally:
        outcome.seconds = time.perf_counter() - started
    return outcome


def read_submission(raw, name, release_json, others=()):
    """(problem, notebook): ``problem`` says in words why the file cannot be graded, or is ""."""
    if raw is None:
        found = ", ".join(f"{n}.ipynb" for n in others)
        return (f"{name}.ipynb is missing from the submission"
                + (f" (found {found}; was it renamed?)" if found else "")), None
    if not raw.strip():
        return "the file is empty; save the notebook in JupyterLab and submit it again", None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return (f"the file is not valid notebook JSON ({error}); it was probably edited outside "
                "Jupyter or truncated. Open a fresh copy, paste your answers, save and submit again"), None
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds
        return f"the file is not a valid Jupyter notebook ({str(error).splitlines()[0]})", None
    release = nbformat.reads(release_json, as_version=4)
    expected = {c.metadata["nbgrader"]["grade_id"] for c in release.cells  # answer and test cells
                if c.metadata.get("nbgrader", {}).get("grade") or c.metadata.get("nbgrader", {}).get("solution")}
    found = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if expected and not expected & found:
        return ("none of this assignment's cells are in it: is it the notebook of another assignment? "
                "Submit the notebook you were given for this assignment"), None
    return "", nb


# -- running the notebook ---------------------------------------------------------------------------

class GradingClient(NotebookClient):
    """nbclient with a cap on the output a cell may produce (a runaway print loop cannot fill memory)."""

    max_output_bytes = Integer(2_000_000).tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        sizes = self.__dict__.setdefault("_output_sizes", {})
        size = sizes.get(cell_index, 0) + len(json.dumps(msg.get("content", {})))
        sizes[cell_index] = size
        if size > self.max_output_bytes:
            if size - len(json.dumps(msg.get("content", {}))) <= self.max_output_bytes:
                outs.append(nbformat.v4.new_output("display_data", data={"text/plain": (
                    f"[output truncated by the grader: more than {self.max_output_bytes // 1000} kB]")}))
            return None
        return super().output(outs, msg, display_id, cell_index)


def _kernel_spec(folder, job, scratch, workdir, cgroup):
    """A kernelspec for this submission's kernel: forked from the worker's zygote when it runs,
    else a plain kernel started through ``autograder.jail``. Returns the jail's report file."""
    report = os.path.join(scratch, "jail.json")
    env = {"NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "agg", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "IPYTHONDIR": os.path.join(scratch, "ipython"), "MPLCONFIGDIR": os.path.join(scratch, "mpl"),
           "HOME": workdir, SEED_VARIABLE: str(job.seed)}
    zygote = Zygote.socket_path()
    if zygote:
        request = os.path.join(scratch, "request.json")
        with open(request, "w") as fh:
            json.dump({"env": env, "workdir": workdir, "memory_mb": job.memory_mb, "file_mb": jail.FILE_MB,
                       "max_tasks": job.max_tasks, "cgroup": cgroup, "hide": list(job.hide),
                       "report": report, "seed": job.seed}, fh)
        argv = [sys.executable, "-m", "autograder.zygote", "launch", "--socket", zygote,
                "--request", request, "--", "{connection_file}"]
    else:
        argv = [sys.executable, "-m", "autograder.jail", "--memory-mb", str(job.memory_mb),
                "--max-tasks", str(job.max_tasks), "--workdir", workdir, "--report", report]
        argv += ["--cgroup", cgroup] if cgroup else []
        for path in job.hide:
            argv += ["--hide", path]
        argv += ["--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]
    os.makedirs(os.path.join(folder, "sgd-grading"))
    with open(os.path.join(folder, "sgd-grading", "kernel.json"), "w") as fh:
        json.dump({"argv": argv, "display_name": "sgd-course grading", "language": "python", "env": env}, fh)
    return report


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


def _failed(cell) -> bool:
    return any(o.output_type == "error" for o in cell.outputs)


async def _run(nb, job, job_limits_missing=None, slots=None):
    """Execute ``nb`` in place in a fresh jailed kernel; returns (nb, notes). What the jail could not
    apply on this machine is appended to ``job_limits_missing`` (for the instructor, not the student).
    With ``slots`` (a semaphore shared by grading threads) the cells run only while holding a slot."""
    notes = []
    job_limits_missing = [] if job_limits_missing is None else job_limits_missing
    scratch = tempfile.mkdtemp(prefix="sgd-grading-")
    workdir = os.path.join(scratch, "work")
    os.makedirs(workdir)
    cgroup = jail.new_cgroup_name()
    report = _kernel_spec(os.path.join(scratch, "kernels"), job, scratch, workdir, cgroup)
    km = AsyncKernelManager(kernel_name="sgd-grading",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.join(scratch, "kernels")]))
    client = GradingClient(nb, km=km, timeout=job.timeout, interrupt_on_timeout=True, allow_errors=True,
                           error_on_timeout={"ename": "TimeoutError", "evalue": "", "traceback": []},
                           max_output_bytes=job.max_output_bytes, iopub_timeout=5,
                           resources={"metadata": {"path": workdir}})
    replies = {}
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.__setitem__(cell_index, execute_reply)
    stopped = ""
    calls = None
    try:
        async with client.async_setup_kernel():
            calls = KernelCalls(km, job.timeout)
            if not calls.setup():
                stopped = "the grader could not prepare the kernel"
            with open(report) as fh:
                job_limits_missing.extend(json.load(fh))
            with slots or contextlib.nullcontext():  # the kernel is ready: wait for a free slot
                stopped = stopped or await _run_cells(client, nb, job, replies, calls)
    except DeadKernelError:
        stopped = stopped or "the kernel died"
    except Exception as error:
        stopped = stopped or f"the kernel could not be run ({type(error).__name__}: {error})"
    finally:
        if calls:
            calls.close()
        try:
            await km.shutdown_kernel(now=True)
        except Exception:
            pass
        if cgroup:
            jail.kill_cgroup(cgroup)
        shutil.rmtree(scratch, ignore_errors=True)
    if stopped:
        notes.append(f"grading stopped early: {stopped}; cells after that point were not run")
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") \
                    and not cell.get("outputs") and cell.get("execution_count") is None:
                cell.outputs = [_error("NotRun", f"not run because {stopped}")]
    return nb, notes


async def _run_cells(client, nb, job, replies, calls) -> str:
    """Run the notebook's code cells in order, a test cell's hidden part in the grader; returns "" or
    why the run had to stop."""
    deadline = time.monotonic() + job.max_seconds
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if time.monotonic() > deadline:
            return f"the notebook ran longer than {job.max_seconds} s in total"
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            visible, hidden = _split_hidden(cell.source)
            runner = copy.deepcopy(cell)
            runner.source = visible
            stopped = await _execute(client, runner, index, replies, job.timeout, calls)
            nb.cells[index] = cell  # nbclient put the runner (visible part only) there
            cell.outputs = runner.outputs
            cell.execution_count = runner.get("execution_count")
            if not stopped and hidden.strip():
                message = run_hidden(hidden, calls, job.seed)
                if message:
                    cell.outputs.append(_error("CheckFailed", message))
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
    return ""


def run_hidden(code: str, calls, seed: int) -> str:
    """Run a test cell's hidden part here, with the student's names as kernel proxies.

    Returns "" when it passes, else the message for the student."""
    os.environ[SEED_VARIABLE] = str(seed)
    namespace = StudentNames(calls)
    try:
        exec(compile(code, "<hidden tests>", "exec"), {"__builtins__": builtins}, namespace)
    except CheckFailed as failure:
        return str(failure)
    except remote.RemoteError as failure:
        return str(failure)
    except Exception as error:
        return f"the hidden tests could not run ({type(error).__name__}: {error})"
    return ""


class StudentNames(dict):
    """The hidden tests' namespace: names they import are theirs, every other name is a student's
    global in the kernel, seen through a proxy."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def __missing__(self, name):
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return remote.RemoteFunction(self.calls, name, name)


class KernelCalls:
    """Calls into the student's kernel over a second (blocking) client on the same kernel; answers
    the kernel's questions about the grader's objects (``remote.answer``) while a call runs."""

    def __init__(self, km, timeout):
        self.timeout = timeout
        self.kc = BlockingKernelClient()
        self.kc.load_connection_file(km.connection_file)
        self.kc.start_channels()
        self.trusted = remote.Registry("trusted")
        self.student = {}
        self.synced = {}

    def close(self):
        try:
            self.kc.stop_channels()
        except Exception:
            pass

    def _execute(self, code, timeout, expression=None):
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=True,
                                 user_expressions={"r": expression} if expression else {})
        deadline = time.monotonic() + timeout
        poller = zmq.Poller()
        poller.register(self.kc.shell_channel.socket, zmq.POLLIN)
        poller.register(self.kc.stdin_channel.socket, zmq.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready = dict(poller.poll(remaining * 1000))
            if self.kc.stdin_channel.socket in ready:
                msg = self.kc.stdin_channel.get_msg(timeout=0)
                if msg["msg_type"] == "input_request" and msg["parent_header"].get("msg_id") == msg_id:
                    try:
                        request = json.loads(msg["content"]["prompt"])
                        reply = remote.answer(request, self.trusted, self._student_handle, self.synced)
                    except ValueError:
                        reply = {"ok": False, "error": "RuntimeError",
                                 "message": "input() is not available while the grader calls your function"}
                    self.kc.input(json.dumps(reply))
            if self.kc.shell_channel.socket in ready:
                msg = self.kc.shell_channel.get_msg(timeout=0)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg["content"]

    def setup(self) -> bool:
        reply = self._execute(remote.KERNEL_SETUP, self.timeout)
        return bool(reply) and reply.get("status") == "ok"

    def responsive(self) -> bool:
        return self._execute("pass", 10) is not None

    def call(self, target, args, kwargs, forbidden, label):
        keep = self.trusted.keep
        self.synced = {}

        def sync(array):
            for number, known in self.synced.items():
                if known is array:
                    return number
            self.synced[len(self.synced)] = array
            return len(self.synced) - 1

        request = json.dumps({"args": remote.encode(list(args), keep, sync),
                              "kwargs": remote.encode(dict(kwargs), keep, sync)})
        code = f"{RESULT_NAME} = __sgd_course_grader_call({target!r}, {request!r}, {list(forbidden)!r})"
        reply = self._execute(code, self.timeout, RESULT_NAME)
        if reply is None:
            raise remote.RemoteError(f"{label} did not return within {self.timeout} s")
        text = None
        expression = reply.get("user_expressions", {}).get("r", {})
        if expression.get("status") == "ok":
            try:
                text = ast.literal_eval(expression["data"]["text/plain"])
            except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
                text = None
            if not isinstance(text, str):
                text = None
        self._label, self._forbidden = label, forbidden
        return remote.parse_reply(text, label, self._student_handle, self.synced)

    def _student_handle(self, tree):
        if tree["t"] == "trusted":
            return self.trusted[tree["id"]]
        if tree["t"] == "global":
            return remote.RemoteFunction(self, tree["name"], tree["name"])
        number = tree["id"]
        if number not in self.student:
            label = f"the {tree.get('type', 'object')} returned by {getattr(self, '_label', 'your code')}"
            self.student[number] = (remote.RemoteFunction(self, number, label, getattr(self, "_forbidden", ()))
                                    if tree.get("callable") else remote.RemoteValue(tree.get("type", "object"), label))
        return self.student[number]
