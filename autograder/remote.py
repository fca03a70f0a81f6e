"""Hidden tests that run outside the student's kernel, talking to it in plain data only.

While grading, a hidden test runs in the grader's own process; the student's functions stay in the
student's sandboxed kernel. The test sees them as proxies (``RemoteFunction``): a call sends copies of
the arguments to the kernel (``kernel_side`` is the kernel's end) and gets the result back as plain
data, which ``decode_reply`` validates strictly: numbers, strings, lists, tuples, dicts and numeric
numpy arrays, or a numbered handle for an object that stays in the kernel. The grader never imports,
resolves or calls anything the kernel names, never hands the kernel a live object, and never lets the
kernel change its inputs (they are copies). Nothing the student's code does can change how the grader
compares: a patched numpy, a fake ``__eq__``, printed "passed" text or a hook only changes (or
removes) the data that comes back.

What the student's function needs besides data (a gradient to call, a schedule, a recorder of calls,
a driver that builds a graph from the student's classes) is a ``Fixture``: a small function of the
hidden test's module, numpy only, whose *source text* the kernel runs to build its own copy. Here the
same fixture is an ordinary callable, for computing the expected result.

This module is the grader's whole end of that protocol: a hidden test cell runs here (``run_hidden``),
its names resolve to the student's globals (``StudentNames``), a call goes ``checks.student_call`` ->
``RemoteFunction.invoke`` -> ``KernelCalls.call`` -> ``request`` / ``parse_reply``. ``KernelCalls`` talks
to the kernel the sandbox started (``sandbox`` starts, limits and stops kernels and runs the cells).
"""

from __future__ import annotations

import ast
import base64
import builtins
import importlib.resources
import inspect
import io
import json
import queue
import textwrap
import time

import numpy as np
from jupyter_client import BlockingKernelClient

from course.validate import CheckFailed

MAX_RESULT_BYTES = 64 * 2 ** 20
MAX_DEPTH = 20


class RemoteError(Exception):
    """The call could not be made or its result could not be read; the message is for the student."""


class CourseCalled(RemoteError):
    """The student's code called a function of the ``course`` library while the grader called it (the
    call rule, ``kernel_side.watch``): no credit for it."""

    def __init__(self, label, names):
        self.names = names
        super().__init__(
            f"{label.split('(')[0]} calls {', '.join(names)}: a graded function earns no credit when it "
            "computes through the course library (only course.validate may be called) or stops the "
            "grader's watch on its calls; write the computation yourself")


class StudentError(Exception):
    """An exception raised by the student's code inside the kernel (name and message only)."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name, self.message = name, message


class Fixture:
    """Test code the student's function is given: ``Fixture(factory, *args)`` is ``factory(*args)``.

    ``factory`` is a module-level function of a hidden-test module that uses only numpy (as ``np``)
    and its arguments (plain data); it returns the object to pass (usually a closure). Locally the
    fixture behaves as that object; sent to the kernel, it is rebuilt there from ``factory``'s source.
    After a call, ``kernel_report`` holds what the kernel's copy's ``report()`` returned (data), if any.
    """

    def __init__(self, factory, *args):
        self.factory, self.args = factory, args
        self.value = factory(*args)
        self.kernel_report = None

    def __call__(self, *args, **kwargs):
        return self.value(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.__dict__["value"], name)

    def __repr__(self):
        return f"<test fixture {self.factory.__name__}>"

    def tree(self, encode):
        return {"t": "fixture", "source": textwrap.dedent(inspect.getsource(self.factory)),
                "factory": self.factory.__name__, "args": encode(list(self.args))}


class RemoteFunction:
    """A student's function (a global of the notebook, or a callable an earlier call returned)."""

    def __init__(self, kernel, target, label):
        self.kernel, self._target, self._label = kernel, target, label

    def invoke(self, args, kwargs, label=None):
        return self.kernel.call(self._target, args, kwargs, label or self._label)

    def __call__(self, *args, **kwargs):
        return self.invoke(args, kwargs)

    def __repr__(self):
        return f"<student's {self._label}>"


class RemoteValue:
    """A non-callable, non-data object that a student's function returned (it stays in the kernel)."""

    def __init__(self, kernel, target, type_name, label):
        self.kernel, self._target = kernel, target
        self.type_name, self._label = type_name, label

    def __repr__(self):
        return f"<{self.type_name} object returned by {self._label}>"


class Handles:
    """The proxies of the objects a kernel keeps for the grader, one per number: a ``RemoteFunction``
    for a callable, else a ``RemoteValue``, named after the call that returned it."""

    def __init__(self, kernel):
        self.kernel, self.proxies = kernel, {}

    def for_label(self, label):
        """The ``handle`` argument of ``parse_reply`` for a call described by ``label``."""
        def handle(tree):
            number = tree["id"]
            if number not in self.proxies:
                kind = str(tree.get("type", "object"))[:40]
                name = f"the {kind} returned by {label}"
                self.proxies[number] = (RemoteFunction(self.kernel, number, name) if tree.get("callable") is True
                                        else RemoteValue(self.kernel, number, kind, name))
            return self.proxies[number]
        return handle


def handle_tree(x) -> dict:
    """The wire form of a student's object or global, passed back to the kernel."""
    target = x._target
    return {"t": "student", "id": target} if isinstance(target, int) else {"t": "global", "name": target}


# -- grader -> kernel ---------------------------------------------------------------------------------

def encode(x, fixtures=None, rngs=None, depth=0):
    """An argument -> the kernel's JSON tree. Arrays go as copies; fixtures as source; generators as
    their state (``rngs`` collects them, to take the kernel's final state back)."""
    if depth > MAX_DEPTH:
        raise ValueError("argument nested too deeply")
    rec = lambda v: encode(v, fixtures, rngs, depth + 1)
    if x is None or type(x) in (bool, str, int):
        return {"t": "py", "v": x}
    if type(x) is float:
        return {"t": "float", "v": repr(x)}
    if isinstance(x, (np.ndarray, np.generic)):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"cannot send an array of dtype {arr.dtype} to the kernel")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return {"t": "nd", "scalar": not isinstance(x, np.ndarray), "b64": base64.b64encode(buf.getvalue()).decode()}
    if type(x) in (list, tuple):
        return {"t": type(x).__name__, "v": [rec(i) for i in x]}
    if type(x) is dict and all(type(k) is str for k in x):
        return {"t": "dict", "v": {k: rec(v) for k, v in x.items()}}
    if isinstance(x, Fixture):
        if fixtures is not None:
            fixtures.append(x)
        return x.tree(rec)
    if isinstance(x, np.random.Generator):
        if rngs is not None:
            rngs.append(x)
        return {"t": "rng", "state": x.bit_generator.state}
    if isinstance(x, (RemoteFunction, RemoteValue)):
        return handle_tree(x)
    raise TypeError(f"the grader cannot send a {type(x).__name__} to the kernel")


def request(target, args, kwargs):
    """(JSON request, fixtures sent, generators sent) for calling ``target`` with these arguments."""
    fixtures, rngs = [], []
    if isinstance(target, Fixture):
        fn = encode(target, fixtures, rngs)
    elif isinstance(target, int):
        fn = {"t": "student", "id": target}
    else:
        fn = {"t": "global", "name": str(target)}
    text = json.dumps({"fn": fn, "args": encode(list(args), fixtures, rngs),
                       "kwargs": encode(dict(kwargs), fixtures, rngs)})
    return text, fixtures, rngs


# -- kernel -> grader: strict ---------------------------------------------------------------------------

def decode_value(tree, handle, depth=0):
    """A JSON tree from the kernel -> plain data, or raise RemoteError. ``handle(tree)`` makes the proxy
    of a student's object. Only data kinds and student handles are accepted."""
    if depth > MAX_DEPTH or not isinstance(tree, dict):
        raise RemoteError("the kernel's reply is malformed")
    t = tree.get("t")
    if t == "py" and (tree.get("v") is None or type(tree.get("v")) in (bool, str, int)):
        return tree["v"]
    if t == "float" and isinstance(tree.get("v"), str):
        try:
            return float(tree["v"])
        except ValueError:
            raise RemoteError("the kernel's reply is malformed") from None
    if t == "nd" and isinstance(tree.get("b64"), str):
        try:
            arr = np.load(io.BytesIO(base64.b64decode(tree["b64"])), allow_pickle=False)
        except Exception:
            raise RemoteError("an array in the kernel's reply could not be read") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc" or arr.dtype.names:
            raise RemoteError("unsupported array dtype in the reply")
        return arr[()] if tree.get("scalar") else arr
    if t in ("list", "tuple") and isinstance(tree.get("v"), list):
        items = [decode_value(i, handle, depth + 1) for i in tree["v"]]
        return items if t == "list" else tuple(items)
    if t == "dict" and isinstance(tree.get("v"), dict):
        return {str(k): decode_value(v, handle, depth + 1) for k, v in tree["v"].items()}
    if t == "student" and type(tree.get("id")) is int and tree["id"] >= 0:
        return handle(tree)
    raise RemoteError(f"the kernel's reply holds a value of unknown kind {str(t)[:40]!r}")


def parse_reply(text, label, handle, fixtures=(), rngs=()):
    """The kernel's JSON reply -> the call's result (validated), or raise StudentError/RemoteError.
    Sets each fixture's ``kernel_report`` and each generator's state to the kernel's final one."""
    if text is None:
        raise RemoteError(f"{label} could not be called: the kernel sent no result (is a cell "
                          "transformer or hook rewriting the code the grader sends?)")
    if len(text) > MAX_RESULT_BYTES:
        raise RemoteError(f"{label} returned more than {MAX_RESULT_BYTES // 2 ** 20} MB")
    try:
        reply = json.loads(text)
    except ValueError:
        raise RemoteError(f"{label}: the kernel's reply could not be read") from None
    if not isinstance(reply, dict):
        raise RemoteError(f"{label}: the kernel's reply could not be read")
    called = reply.get("course")
    if called:
        names = [str(n)[:200] for n in called] if isinstance(called, list) else ["the course library"]
        raise CourseCalled(label, names[:5])
    if reply.get("ok") is True:
        result = decode_value(reply.get("result"), handle)
        reports = reply.get("reports") or []
        for fixture, report in zip(fixtures, reports if isinstance(reports, list) else []):
            fixture.kernel_report = None if report is None else decode_value(report, handle)
        states = reply.get("rngs") or []
        for rng, state in zip(rngs, states if isinstance(states, list) else []):
            try:
                rng.bit_generator.state = state
            except (TypeError, ValueError, KeyError):
                raise RemoteError(f"{label}: the random generator came back in a state that is not "
                                  "one") from None
        return result
    if reply.get("missing"):
        raise RemoteError(f"{label.split('(')[0]} is not defined: did you delete or rename it, or "
                          "does its cell fail to run?")
    raise StudentError(str(reply.get("error", "Error"))[:100], str(reply.get("message", ""))[:2000])


# -- the grader's end: hidden tests run here, the student's functions are called over the kernel's client --

def run_hidden(code: str, calls) -> str:
    """Run a test cell's hidden part here, with the student's names as proxies of ``calls``' kernel.
    Its checks draw their inputs from the grading run's seed (``checks.run_seed``), which the caller sets.

    Returns "" when it passes, else the message for the student."""
    namespace = StudentNames(calls)
    try:
        exec(compile(code, "<hidden tests>", "exec"), {"__builtins__": builtins}, namespace)
    except CheckFailed as failure:
        return str(failure)
    except RemoteError as failure:
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
        return RemoteFunction(self.calls, name, name)


RESULT_NAME = "__sgd_course_grader_out"
"""The kernel global a call's JSON reply is put in (read back as a user expression)."""
KERNEL_SETUP = """\
def __sgd_course_setup(source, namespace):
    scope = {"__name__": "sgd_course_grader"}
    exec(compile(source, "<the grader's protocol>", "exec"), scope)
    return scope["install"](namespace)
__sgd_course_grader_call = __sgd_course_setup(%r, globals())
del __sgd_course_setup
"""


class KernelCalls:
    """Calls into the student's kernel over a second (blocking) client on the same kernel: plain data
    in and out (``request``, ``parse_reply``; ``kernel_side`` is the kernel's end). ``context``: the ZMQ
    context of its sockets (the sandbox's, which caps what a kernel's messages can fill). A call that
    does not return in time is interrupted; a kernel that then does not answer is ``dead`` (the run
    stops there)."""

    def __init__(self, km, timeout, context):
        self.timeout = timeout
        self.km = km
        self.kc = BlockingKernelClient(context=context)
        self.kc.load_connection_file(km.connection_file)
        self.kc.ip = km.ip  # where the grader reaches the sockets (the sandbox's own folder)
        # only the channels it reads: an output channel nobody reads would queue all the kernel prints
        self.kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=True)
        self.handles = Handles(self)
        self.dead = ""

    def close(self):
        try:
            self.kc.stop_channels()
            self.kc.context.destroy(linger=0)
        except Exception:
            pass

    def _execute(self, code, timeout, expression=None):
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                 user_expressions={"r": expression} if expression else {})
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                msg = self.kc.get_shell_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.alive():
                    self.dead = ("the kernel died while the grader called your code (os._exit, exit(), a crash "
                                 "or the memory limit)")
                    return None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    def alive(self) -> bool:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return process is None or process.poll() is None

    def _interrupt(self) -> bool:
        """Interrupt a call that ran too long; True if the kernel answers again."""
        try:
            self.kc.control_channel.send(self.kc.session.msg("interrupt_request", {}))
        except Exception:
            return False
        return self.responsive(10)

    def setup(self) -> bool:
        source = importlib.resources.files("autograder").joinpath("kernel_side.py").read_text()
        reply = self._execute(KERNEL_SETUP % source, self.timeout)
        return bool(reply) and reply.get("status") == "ok"

    def responsive(self, timeout=10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.dead:  # answers left over from an interrupted
            reply = self._execute("pass", max(deadline - time.monotonic(), 0.1))  # call come first
            if reply is not None:
                return True
        return False

    def call(self, target, args, kwargs, label):
        if self.dead:
            raise RemoteError(f"{label} was not called: {self.dead}")
        text, fixtures, rngs = request(target, args, kwargs)
        code = f"{RESULT_NAME} = __sgd_course_grader_call({text!r})"
        reply = self._execute(code, self.timeout, RESULT_NAME)
        if reply is None and self.dead:
            raise RemoteError(f"{label} was not answered: {self.dead}")
        if reply is None:
            if not self._interrupt():
                self.dead = f"{label} ran past the {self.timeout} s limit and the kernel stopped answering"
            raise RemoteError(f"{label} did not return within {self.timeout} s")
        text = None
        expression = reply.get("user_expressions", {}).get("r", {})
        if expression.get("status") == "ok":
            try:
                text = ast.literal_eval(expression["data"]["text/plain"])
            except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
                text = None
            if not isinstance(text, str):
                text = None
        return parse_reply(text, label, self.handles.for_label(label), fixtures, rngs)

