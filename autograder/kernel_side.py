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
and goes back as a numbered handle), the final states of the generators passed, and what each
fixture's ``report()`` says after the call. Nothing in the reply can name code for the grader to
run; the grader validates every value before it compares.
"""

import base64
import io
import json

import numpy as np

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


def install(namespace):
    """Install the kernel's end; returns the function the grader's requests call."""
    kept, ids = [], {}

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
                exec(compile(tree["source"], "<grader's test fixture>", "exec"), scope)
                made = scope[tree["factory"]](*decode(tree["args"]))
                fixtures.append(made)
                return made
            raise ValueError("unknown value kind %r" % (t,))

        try:
            request = json.loads(request_json)
            try:
                fn = decode(request["fn"])
            except LookupError as missing:
                return json.dumps({"ok": False, "missing": True, "error": "NameError",
                                   "message": "%r is not defined" % (str(missing),)})
            result = fn(*decode(request["args"]), **decode(request["kwargs"]))
            reports = [encode(f.report(), keep) if callable(getattr(f, "report", None)) else None
                       for f in fixtures]
            return json.dumps({"ok": True, "result": encode(result, keep), "reports": reports,
                               "rngs": [r.bit_generator.state for r in rngs]})
        except BaseException as error:  # the student's error, reported by name and message
            return json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)[:2000]})

    return call
