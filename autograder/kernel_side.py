"""The kernel's end of the grading protocol. Its SOURCE TEXT is sent to the student's kernel (the
kernel cannot import ``autograder``) and run there in a namespace of its own; it needs only the
standard library and numpy.

The grader asks for one call at a time: a JSON request naming the function (a global of the
student's notebook, an object an earlier call returned, or a *fixture*) and its arguments. The
arguments are plain data (numbers, strings, tuples, lists, dicts, numpy arrays as ``.npy`` bytes
read with ``allow_pickle=False``), plus:

- ``{"t": "global", "name": N}``: the student's global N;
- ``{"t": "student", "id": n}``: an object an earlier call returned (kept here, by number);
- ``{"t": "fixture", "source": S, "factory": F, "args": A}``: test code of the grader's: the source
  text S of a function F (numpy only), called here with the arguments A to make the object passed (a
  gradient, a schedule, a recorder, a driver that exercises the student's objects). It is built
  afresh for every call;
- ``{"t": "rng", "state": D}``: a fresh ``numpy.random.Generator`` in the bit-generator state D.

The reply is a JSON string: the result as plain data (an object that is not plain data stays here
and goes back as a numbered handle), the final states of the generators passed, what each
fixture's ``report()`` says after the call, and ``course``: the functions of the ``course`` library
the student's code called during the call (``watch``). Nothing in the reply can name code for the
grader to run; the grader validates every value before it compares.

The call rule: while the grader calls a student's function, a call made from the student's code into
any function of ``course`` but ``course.validate`` is recorded (by a profile function on this thread and
on threads started meanwhile), and so is an attempt to remove that watch or to start a process; the
grader gives no credit for such a call. Calls made by the grader's fixtures, or by ``course``'s own code
to itself, are not the student's.
"""

import base64
import io
import json
import os
import sys
import threading

import numpy as np

ALLOWED = ("validate.py",)
"""The files of ``course`` whose functions a graded function may call."""
FIXTURE_FILE = "<grader's test fixture>"

MAX_DEPTH = 20


def encode(x, keep, depth=0):
    """Value -> JSON-able tree; ``keep(x)`` stores a non-data object here and returns its handle."""
    if depth > MAX_DEPTH:
        raise ValueError("the value is nested too deeply")
    if x is None or type(x) in (bool, str, int):
        return {"t": "py", "v": x}
    if type(x) is float:
        return {"t": "float", "v": repr(x)}
    if type(x) is np.ndarray or isinstance(x, np.generic):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biufc":
            return keep(x)
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return {"t": "nd", "scalar": not isinstance(x, np.ndarray), "b64": base64.b64encode(buf.getvalue()).decode()}
    if type(x) in (list, tuple):
        return {"t": type(x).__name__, "v": [encode(i, keep, depth + 1) for i in x]}
    if type(x) is dict and all(type(k) is str for k in x):
        return {"t": "dict", "v": {k: encode(v, keep, depth + 1) for k, v in x.items()}}
    return keep(x)


def decode_array(tree):
    arr = np.load(io.BytesIO(base64.b64decode(tree["b64"])), allow_pickle=False)
    return arr[()] if tree.get("scalar") else arr


def _codes(code, into):
    """``code`` and every code object nested in it, into the set ``into``."""
    into.add(code)
    for const in code.co_consts:
        if type(const) is type(code):
            _codes(const, into)
    return into


def course_codes(folder):
    """The code objects of the ``course`` library in ``folder``, compiled from its files (code objects
    compare by content: a function of the library as loaded is in this set; code a student compiled
    under a library file's name is not, unless it is the library's own)."""
    codes = set()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                _codes(compile(fh.read(), path, "exec", dont_inherit=True), codes)
    return codes


def watch(folder, grader_codes):
    """(start, stop) of the call rule's watch; ``stop()`` returns what the student's code called."""
    folder = os.path.join(os.path.realpath(folder), "")
    library = course_codes(folder)
    allowed = {os.path.join(folder, name) for name in ALLOWED}
    guarded = {sys.setprofile, sys.settrace, threading.setprofile, threading.settrace}
    state = {"on": False, "found": []}
    of_file = {}  # by file name (code objects compare by content, whatever file they came from)

    def in_course(code):
        name = code.co_filename
        known = of_file.get(name)
        if known is None:
            real = os.path.realpath(name) if name.startswith("/") else ""
            known = of_file[name] = (real.startswith(folder), real in allowed)
        return known

    def profiler(frame, event, arg):
        if event == "call":
            inside, ok = in_course(frame.f_code)
            if inside and not ok:
                caller = frame.f_back
                code = caller.f_code if caller is not None else None
                if code not in library and code not in grader_codes:
                    found = state["found"]
                    if len(found) < 20:
                        found.append("course.%s.%s" % (os.path.basename(frame.f_code.co_filename)[:-3],
                                                       frame.f_code.co_qualname))
        elif event == "c_call" and arg in guarded and state["on"]:
            module = "threading" if arg in (threading.setprofile, threading.settrace) else "sys"
            state["found"].append("%s.%s (which would stop the grader's watch on calls)" % (module, arg.__name__))

    def forked():
        if state["on"]:
            state["found"].append("os.fork (a process of its own, which the grader's watch cannot follow)")

    os.register_at_fork(before=forked)

    def start():
        state["on"], state["found"] = True, []
        threading.setprofile(profiler)
        sys.setprofile(profiler)

    def stop():
        state["on"] = False
        sys.setprofile(None)
        threading.setprofile(None)
        found, state["found"] = state["found"], []
        return list(dict.fromkeys(found))

    return start, stop


def install(namespace, course_folder=None):
    """Install the kernel's end; returns the function the grader's requests call. ``course_folder``:
    the folder of the ``course`` library the kernel imports (found when not given)."""
    kept, ids = [], {}
    grader_codes = set()
    if course_folder is None:
        import importlib.util
        spec = importlib.util.find_spec("course")
        course_folder = list(spec.submodule_search_locations)[0] if spec else None
    start, stop = watch(course_folder, grader_codes) if course_folder else (lambda: None, lambda: [])

    def keep(x):
        if id(x) not in ids:
            ids[id(x)] = len(kept)
            kept.append(x)
        return {"t": "student", "id": ids[id(x)], "callable": callable(x), "type": type(x).__name__}

    def call(request_json):
        rngs, fixtures = [], []

        def decode(tree):
            t = tree["t"]
            if t == "py":
                return tree["v"]
            if t == "float":
                return float(tree["v"])
            if t == "nd":
                return decode_array(tree)
            if t in ("list", "tuple"):
                items = [decode(i) for i in tree["v"]]
                return items if t == "list" else tuple(items)
            if t == "dict":
                return {k: decode(v) for k, v in tree["v"].items()}
            if t == "student":
                return kept[tree["id"]]
            if t == "global":
                if tree["name"] not in namespace:
                    raise LookupError(tree["name"])
                return namespace[tree["name"]]
            if t == "rng":
                rng = np.random.Generator(np.random.PCG64())
                rng.bit_generator.state = tree["state"]
                rngs.append(rng)
                return rng
            if t == "fixture":
                scope = {"np": np, "__name__": "grader_fixture"}
                code = compile(tree["source"], FIXTURE_FILE, "exec")
                _codes(code, grader_codes)
                exec(code, scope)
                made = scope[tree["factory"]](*decode(tree["args"]))
                fixtures.append(made)
                return made
            raise ValueError("unknown value kind %r" % (t,))

        called = []
        try:
            request = json.loads(request_json)
            try:
                fn = decode(request["fn"])
            except LookupError as missing:
                return json.dumps({"ok": False, "missing": True, "error": "NameError",
                                   "message": "%r is not defined" % (str(missing),)})
            args, kwargs = decode(request["args"]), decode(request["kwargs"])
            start()
            try:
                result = fn(*args, **kwargs)
            finally:
                called = stop()
            if called:
                return json.dumps({"ok": False, "course": called, "error": "", "message": ""})
            reports = [encode(f.report(), keep) if callable(getattr(f, "report", None)) else None
                       for f in fixtures]
            return json.dumps({"ok": True, "result": encode(result, keep), "reports": reports,
                               "rngs": [r.bit_generator.state for r in rngs]})
        except BaseException as error:  # the student's error, reported by name and message
            return json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)[:2000],
                               "course": called})

    return call
