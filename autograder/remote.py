"""Hidden tests that run outside the student's kernel.

While grading, a hidden test runs in the grader's own process; the student's functions stay in the
student's kernel. The test sees them as proxies (``RemoteFunction``): a call sends the arguments to
the kernel and brings the result back as plain data (numbers, strings, lists, tuples, dicts and numpy
arrays as ``.npy`` bytes loaded with ``allow_pickle=False``). Nothing the student's code does can
change how the grader compares: a patched numpy, a fake ``__eq__``, printed "passed" text or a hook
that blanks cells in the kernel only changes (or removes) the data that comes back.

Objects that are not plain data travel as handles in both directions:
- a student's object (a function returned by a schedule factory, say) stays in the kernel and is a
  ``RemoteFunction``/``RemoteValue`` here;
- a grader's object (a gradient function, a random generator, an autodiff node) stays here and is a
  ``TrustedObject`` in the kernel: calls, attribute reads and writes, indexing, iteration and
  arithmetic on it are answered by the grader through the kernel's input channel.
A ``Recipe`` names a course-library object by how to make it, so that the kernel can build its own
copy when many fast calls are expected (a schedule called once per step).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import operator

import numpy as np

MAX_RESULT_BYTES = 64 * 2 ** 20


class RemoteError(Exception):
    """The call could not be made or its result could not be read; the message is for the student."""


class StudentError(Exception):
    """An exception raised by the student's code inside the kernel (name and message only)."""

    def __init__(self, name, message, reference_calls=()):
        super().__init__(f"{name}: {message}")
        self.name, self.message, self.reference_calls = name, message, list(reference_calls)


class Recipe:
    """A course-library object named by how to make it: ``Recipe("course.schedules.constant", 0.3)``.

    Locally it behaves like the object (calls and attributes are forwarded); sent to the kernel it is
    rebuilt there from the same recipe. ``Recipe("course.problems.sanity_check_sample_grad")`` with no
    arguments names the function itself.
    """

    def __init__(self, qualname: str, *args, call: bool | None = None, **kwargs):
        self.qualname, self.args, self.kwargs = qualname, args, kwargs
        target = resolve(qualname)
        self.call = bool(args or kwargs) if call is None else call
        self.value = target(*args, **kwargs) if self.call else target

    def __call__(self, *args, **kwargs):
        return self.value(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.__dict__["value"], name)

    def __repr__(self):
        inner = ", ".join([repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()])
        return f"{self.qualname}({inner})" if self.call else self.qualname


def resolve(qualname: str):
    module, _, name = qualname.rpartition(".")
    if not module.startswith("course"):
        raise ValueError(f"recipes may only name course-library objects, not {qualname}")
    return getattr(importlib.import_module(module), name)


# -- the wire format: the same code on both sides ---------------------------------------------------

def encode(x, keep, sync=None):
    """Value -> JSON-able tree. ``keep(x)`` stores a non-data object on this side, returns its tree.

    With ``sync`` (grader side), every array is also numbered by ``sync(array)``: the kernel's copy
    and the grader's array are then kept equal at every crossing, so that a student's function that
    perturbs an array in place while calling the grader's ``f`` (a numerical gradient) behaves as if
    both shared it."""
    if x is None or type(x) in (bool, str, int):
        return {"t": "py", "v": x}
    if type(x) is float:
        return {"t": "float", "v": repr(x)}
    if type(x) is np.ndarray or isinstance(x, np.generic):
        arr = np.asarray(x)
        if arr.dtype.hasobject:
            return keep(x)
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        tree = {"t": "nd", "scalar": not isinstance(x, np.ndarray),
                "b64": base64.b64encode(buf.getvalue()).decode()}
        if sync is not None and isinstance(x, np.ndarray):
            tree["sync"] = sync(x)
        return tree
    if type(x) in (list, tuple):
        return {"t": type(x).__name__, "v": [encode(i, keep, sync) for i in x]}
    if type(x) is dict and all(type(k) is str for k in x):
        return {"t": "dict", "v": {k: encode(v, keep, sync) for k, v in x.items()}}
    if isinstance(x, TrustedObject):  # kernel side: a grader's object goes back as itself
        return {"t": "trusted", "id": object.__getattribute__(x, "_sgd_id")}
    if isinstance(x, RemoteFunction):  # grader side: a student's function goes back as itself
        if isinstance(x._target, int):
            return {"t": "student", "id": x._target}
        return {"t": "global", "name": x._target}
    if isinstance(x, Recipe):
        return {"t": "recipe", "name": x.qualname, "call": x.call,
                "args": encode(list(x.args), keep), "kwargs": encode(dict(x.kwargs), keep)}
    return keep(x)


def decode(tree, resolve_handle, synced=None):
    """JSON-able tree -> value. ``resolve_handle(tree)`` turns a handle into an object or a proxy;
    arrays marked for syncing are entered into ``synced`` (kernel side)."""
    t = tree["t"]
    if t == "py":
        return tree["v"]
    if t == "float":
        return float(tree["v"])
    if t == "nd":
        arr = np.load(io.BytesIO(base64.b64decode(tree["b64"])), allow_pickle=False)
        if synced is not None and "sync" in tree:
            synced[tree["sync"]] = arr
        return arr[()] if tree.get("scalar") else arr
    if t in ("list", "tuple"):
        items = [decode(i, resolve_handle, synced) for i in tree["v"]]
        return items if t == "list" else tuple(items)
    if t == "dict":
        return {k: decode(v, resolve_handle, synced) for k, v in tree["v"].items()}
    if t == "recipe":
        target = resolve(tree["name"])
        if not tree["call"]:
            return target
        return target(*decode(tree["args"], resolve_handle), **decode(tree["kwargs"], resolve_handle))
    if t in ("student", "trusted", "global"):
        return resolve_handle(tree)
    raise RemoteError(f"unknown value kind {t!r}")


class Registry:
    """Objects one side keeps for the other, by number; the same object always gets the same number."""

    def __init__(self, kind):
        self.kind, self.objects, self.ids = kind, [], {}

    def keep(self, x):
        key = id(x)
        if key not in self.ids:
            self.ids[key] = len(self.objects)
            self.objects.append(x)
        return {"t": self.kind, "id": self.ids[key], "callable": callable(x), "type": type(x).__name__}

    def __getitem__(self, number):
        return self.objects[number]


def sync_out(arrays: dict) -> dict:
    """The current contents of the synced arrays, to send across."""
    return {str(k): encode(a, None) for k, a in arrays.items()}


def sync_in(arrays: dict, trees: dict) -> None:
    """Copy the other side's contents into our synced arrays, in place."""
    for key, tree in (trees or {}).items():
        target = arrays.get(int(key))
        if target is None:
            continue
        try:
            value = decode(tree, None)
            if value.shape == target.shape:
                target[...] = value
        except (ValueError, TypeError, AttributeError):
            pass


# -- the grader's side: answering the kernel's questions about trusted objects ----------------------

BINARY = {name: getattr(operator, name) for name in
          ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod", "lt", "le", "gt", "ge")}


def answer(request: dict, trusted: Registry, student_handle, synced=None):
    """Perform one operation the kernel asked for on a trusted object; returns the reply dict."""
    synced = {} if synced is None else synced
    sync_in(synced, request.get("sync"))
    reply = _answer(request, trusted, student_handle)
    reply["sync"] = sync_out(synced)
    return reply


def _answer(request, trusted, student_handle):
    def dec(tree):
        return decode(tree, lambda h: trusted[h["id"]] if h["t"] == "trusted" else student_handle(h))
    try:
        obj = trusted[request["id"]]
        op = request["op"]
        if op == "call":
            result = obj(*dec(request["args"]), **dec(request["kwargs"]))
        elif op == "getattr":
            if request["name"].startswith("_"):
                raise AttributeError(f"the grader's object has no public attribute {request['name']!r}")
            result = getattr(obj, request["name"])
        elif op == "setattr":
            if request["name"].startswith("_"):
                raise AttributeError(f"cannot set {request['name']!r} on the grader's object")
            setattr(obj, request["name"], dec(request["value"]))
            result = None
        elif op == "getitem":
            result = obj[dec(request["key"])]
        elif op == "setitem":
            obj[dec(request["key"])] = dec(request["value"])
            result = None
        elif op == "len":
            result = len(obj)
        elif op == "iter":
            result = iter(obj)
        elif op == "next":
            result = next(obj)
        elif op == "repr":
            result = repr(obj)
        elif op == "bool":
            result = bool(obj)
        elif op == "array":
            result = np.asarray(obj)
        elif op == "neg":
            result = -obj
        elif op in BINARY:
            other = dec(request["other"])
            result = BINARY[op](other, obj) if request.get("reflected") else BINARY[op](obj, other)
        else:
            raise ValueError(f"unknown operation {op!r}")
        return {"ok": True, "result": encode(result, trusted.keep)}
    except StopIteration:
        return {"ok": False, "error": "StopIteration", "message": ""}
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "message": str(error)[:2000]}


class RemoteFunction:
    """A student's function (or a callable it returned), living in the kernel."""

    def __init__(self, kernel, target, label, forbidden=()):
        self._kernel, self._target, self._label = kernel, target, label
        self._forbidden = tuple(forbidden)

    def invoke(self, args, kwargs, forbidden=(), label=None):
        """Call it in the kernel: (result, names of forbidden reference code it ran)."""
        return self._kernel.call(self._target, args, kwargs, tuple(forbidden) or self._forbidden,
                                 label or self._label)

    def __call__(self, *args, **kwargs):
        return self.invoke(args, kwargs)[0]

    def __repr__(self):
        return f"<student's {self._label}>"


class RemoteValue:
    """A non-callable, non-data object that a student's function returned (kept in the kernel)."""

    def __init__(self, type_name, label):
        self.type_name, self._label = type_name, label

    def __repr__(self):
        return f"<{self.type_name} object returned by {self._label}>"


def parse_reply(text, label, resolve_handle, synced=None):
    """Turn the kernel's JSON reply into (result, reference calls), or raise."""
    if text is None:
        raise RemoteError(f"{label} could not be called: the kernel sent no result (is a cell "
                          "transformer or hook rewriting the code the grader sends?)")
    if len(text) > MAX_RESULT_BYTES:
        raise RemoteError(f"{label} returned more than {MAX_RESULT_BYTES // 2 ** 20} MB")
    try:
        reply = json.loads(text)
        sync_in(synced or {}, reply.get("sync"))
        if reply.get("ok"):
            return decode(reply["result"], resolve_handle), reply.get("reference_calls", [])
    except (ValueError, KeyError, TypeError) as error:
        raise RemoteError(f"{label}: the kernel's reply could not be read ({error})") from None
    if reply.get("missing"):
        raise RemoteError(f"{label.split('(')[0]} is not defined: did you delete or rename it, or "
                          "does its cell fail to run?")
    raise StudentError(reply.get("error", "Error"), reply.get("message", ""), reply.get("reference_calls", []))


# -- the kernel's side ------------------------------------------------------------------------------

KERNEL_SETUP = ("from autograder.remote import kernel_side as _sgd_setup\n"
                "__sgd_course_grader_call = _sgd_setup(globals())\n"
                "del _sgd_setup\n")


def kernel_side(namespace):
    """Install the kernel's end of the protocol; returns the function the grader calls."""
    import builtins
    import os
    import sys

    handles = Registry("student")
    proxies = {}
    synced = {}

    def ask(request):
        request["sync"] = sync_out(synced)
        reply = json.loads(builtins.input(json.dumps(request)))
        sync_in(synced, reply.get("sync"))
        if reply.get("ok"):
            return decode(reply["result"], resolve)
        name = reply.get("error", "RuntimeError")
        kind = getattr(builtins, name, None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = RuntimeError
        raise kind(reply.get("message", ""))

    def resolve(tree):
        if tree["t"] == "student":
            return handles[tree["id"]]
        if tree["t"] == "global":
            return namespace[tree["name"]]
        if tree["id"] not in proxies:
            proxies[tree["id"]] = TrustedObject(tree["id"], tree.get("type", "object"), ask, handles)
        return proxies[tree["id"]]

    def call(target, request_json, forbidden_modules):
        import importlib
        if not isinstance(target, int) and target not in namespace:
            return json.dumps({"ok": False, "missing": True, "error": "NameError",
                               "message": f"{target!r} is not defined"})
        calls = []
        try:
            files = {os.path.abspath(importlib.import_module(m).__file__) for m in forbidden_modules}
            fn = handles[target] if isinstance(target, int) else namespace[target]
            request = json.loads(request_json)
            synced.clear()
            args, kwargs = decode(request["args"], resolve, synced), decode(request["kwargs"], resolve, synced)

            def profiler(frame, event, arg):
                if event == "call" and os.path.abspath(frame.f_code.co_filename) in files:
                    calls.append(f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}")

            previous = sys.getprofile()
            sys.setprofile(profiler)
            try:
                result = fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
            return json.dumps({"ok": True, "result": encode(result, handles.keep),
                               "reference_calls": calls[:3], "sync": sync_out(synced)})
        except BaseException as error:
            return json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)[:2000],
                               "reference_calls": calls[:3]})

    return call


def _forward(op):
    def method(self, *args):
        request = {"op": op, "id": self._sgd_id}
        if op in BINARY:
            request["other"] = encode(args[0], self._sgd_handles.keep)
        return self._sgd_ask(request)
    return method


def _reflected(op):
    def method(self, other):
        return self._sgd_ask({"op": op, "id": self._sgd_id, "reflected": True,
                              "other": encode(other, self._sgd_handles.keep)})
    return method


class TrustedObject:
    """In the kernel: an object of the grader's, every use of which is answered by the grader."""

    __slots__ = ("_sgd_id", "_sgd_type", "_sgd_ask", "_sgd_handles")

    def __init__(self, number, type_name, ask, handles):
        object.__setattr__(self, "_sgd_id", number)
        object.__setattr__(self, "_sgd_type", type_name)
        object.__setattr__(self, "_sgd_ask", ask)
        object.__setattr__(self, "_sgd_handles", handles)

    def _request(self, op, **payload):
        keep = self._sgd_handles.keep
        return self._sgd_ask({"op": op, "id": self._sgd_id,
                              **{k: encode(v, keep) if k in ("value", "key") else v for k, v in payload.items()}})

    def __call__(self, *args, **kwargs):
        keep = self._sgd_handles.keep
        return self._sgd_ask({"op": "call", "id": self._sgd_id, "args": encode(list(args), keep),
                              "kwargs": encode(dict(kwargs), keep)})

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._request("getattr", name=name)

    def __setattr__(self, name, value):
        self._request("setattr", name=name, value=value)

    def __getitem__(self, key):
        return self._request("getitem", key=key)

    def __setitem__(self, key, value):
        self._request("setitem", key=key, value=value)

    def __len__(self):
        return self._request("len")

    def __iter__(self):
        iterator = self._request("iter")
        return iterator if isinstance(iterator, TrustedObject) else iter(iterator)

    def __next__(self):
        return self._request("next")

    def __repr__(self):
        return self._request("repr")

    def __bool__(self):
        return self._request("bool")

    def __array__(self, dtype=None, copy=None):
        arr = self._request("array")
        return arr if dtype is None else arr.astype(dtype)

    __neg__ = _forward("neg")


for _name in BINARY:
    setattr(TrustedObject, f"__{_name}__", _forward(_name))
    if _name not in ("lt", "le", "gt", "ge"):
        setattr(TrustedObject, f"__r{_name}__", _reflected(_name))
