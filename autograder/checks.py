"""Building blocks of hidden tests.

A hidden test draws its inputs when it runs (``grading_rng``), computes the expected output with the
reference implementation in ``course``, calls the student's function while making sure that it does
not call that reference (``student_call``), and compares type, shape, dtype and values exactly
(``assert_matches``). Every failure is a ``CheckFailed`` whose message says which input was used, what
was expected, what came back, and (where the mistake is a known one) a hint.
"""

from __future__ import annotations

import contextvars
import os
import secrets
import sys
import zlib
from contextlib import contextmanager

import numpy as np

from course.validate import CheckFailed, check_close, known_mistake
from course.validate import describe as _describe

from .remote import CourseCalled, Fixture, RemoteError, RemoteFunction, RemoteValue, StudentError
from .solutions import REFERENCE_STUB

CALLS_REFERENCE = ("calls the reference implementation (the course library's solution), which is not "
                   "available while grading; no credit is given for calling it. Write the computation yourself.")
"""Why a check fails when the student's code calls a stripped solution (``solutions.REFERENCE_STUB``)."""

SEED_VARIABLE = "SGD_COURSE_GRADING_SEED"
"""Environment variable with the seed of the current grading run (set by ``autograder.grading``)."""


RECORDER: contextvars.ContextVar = contextvars.ContextVar("sgd_course_recorder", default=None)
"""The recorder the building blocks below report to while a check is recorded (``autograder.replay``);
None while grading. A recorder has ``calling``, ``returned``, ``compared``, ``compared_all`` and ``named``."""


@contextmanager
def recording(recorder):
    """Let the building blocks report every call, comparison and named global to ``recorder``."""
    token = RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        RECORDER.reset(token)


def run_seed() -> int:
    """The seed of this grading run: from ``SGD_COURSE_GRADING_SEED``, else fresh randomness.

    Outside a grading run (a student running the tests at home) every run draws new inputs.
    """
    value = os.environ.get(SEED_VARIABLE)
    if value is None:
        value = os.environ[SEED_VARIABLE] = str(secrets.randbits(32))
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"{SEED_VARIABLE} must be an integer, got {value!r}") from None


def grading_rng(label: str) -> np.random.Generator:
    """A generator for one check: seeded by the run's seed and the check's label.

    Each check gets its own stream, so the inputs one check draws do not depend on which other checks
    ran before it, and never on numpy's global random state.
    """
    return np.random.default_rng([run_seed(), zlib.crc32(label.encode())])


def fmt(x) -> str:
    """An input as a student should read it in a failure message: 6 significant digits, short arrays."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        return f"{arr.item():.6g}" if arr.dtype.kind == "f" else str(arr.item())
    return np.array2string(arr, precision=4, separator=", ", threshold=8).replace("\n", "")


def assert_matches(got, expected, call: str, *, rtol=1e-9, atol=1e-12, hints=()):
    """Compare a student's result with the reference result exactly in kind and closely in value.

    - a Python/numpy scalar is expected as a real number (float or numpy floating), not an array;
    - an ndarray must be an ndarray with the same shape and dtype;
    - values must agree to ``rtol``/``atol``.
    ``hints`` is a sequence of (alternative_expected, message): if the result matches an
    alternative (a known mistake), that message is added to the failure. This is
    ``course.validate.check_close``, which the notebooks' visible tests call too (one wording), raising
    ``CheckFailed``.
    """
    recorder = RECORDER.get()
    if recorder is not None:
        recorder.compared(got, expected, call, rtol, atol, hints)
    check_close(got, expected, call, rtol=rtol, atol=atol, hints=hints, error=CheckFailed)


def assert_all_match(results, *, rtol, atol):
    """Compare several results, and report the first failing one with only the hints that explain
    EVERY failing result in which they are offered: a hint that fits one input by coincidence would send
    the student the wrong way.

    ``results`` is a list of (got, expected, call, hints) with hints a list of (alternative, message).
    """
    recorder = RECORDER.get()
    if recorder is not None:
        recorder.compared_all(results, rtol, atol)
    token = RECORDER.set(None)  # one comparison, recorded as such
    try:
        _assert_all_match(results, rtol, atol)
    finally:
        RECORDER.reset(token)


def _assert_all_match(results, rtol, atol):
    failing = []
    for got, expected, call, hints in results:
        try:
            assert_matches(got, expected, call, rtol=rtol, atol=atol)
        except CheckFailed:
            failing.append((got, expected, call, hints))
    if not failing:
        return
    got, expected, call, hints = failing[0]
    keep = []
    for alternative, message in hints:
        offered = [(g, dict((m, a) for a, m in h)[message]) for g, _, _, h in failing
                   if message in (m for _, m in h)]
        if all(known_mistake(g, [(a, message)], rtol, atol) for g, a in offered):
            keep.append((alternative, message))
    assert_matches(got, expected, call, rtol=rtol, atol=atol, hints=keep)


@contextmanager
def _forbid_calls_into(modules):
    """Record every Python-level call into code defined in ``modules`` while the block runs."""
    files = {os.path.abspath(m.__file__) for m in modules}
    calls: list[str] = []
    previous = sys.getprofile()

    def profiler(frame, event, arg):
        if event == "call" and os.path.abspath(frame.f_code.co_filename) in files:
            calls.append(f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}")

    sys.setprofile(profiler)
    try:
        yield calls
    finally:
        sys.setprofile(previous)


def student_call(fn, *args, call: str, forbidden=(), **kwargs):
    """Call the student's ``fn(*args, **kwargs)`` and return its result.

    An exception becomes a ``CheckFailed`` that names the call and the error. If the call runs any
    code of the ``forbidden`` reference modules (directly, through an alias, or via a wrapper), it
    fails: a solution that calls the reference implementation gets no credit for that function.

    ``fn`` may be a driver ``Fixture`` given proxies of the student's objects (in its own arguments or
    in ``args``): while grading it runs in the student's kernel, with those objects; else here.
    """
    recorder = RECORDER.get()
    if recorder is not None:
        recorder.calling(fn, args, kwargs, call, forbidden)
    result = _call(fn, args, kwargs, call, forbidden)
    if recorder is not None:
        recorder.returned(result)
    return result


def _call(fn, args, kwargs, call, forbidden):
    if not callable(fn):
        raise CheckFailed(f"{call.split('(')[0]} should be a function, got {_describe(fn)}.")
    if isinstance(fn, Fixture):  # a driver: it runs where the student's objects it is given live
        proxy = _proxy_in([fn.args, args, kwargs])
        if proxy is not None:
            fn = RemoteFunction(proxy.kernel, fn, call)
    if isinstance(fn, RemoteFunction):  # grading: the function lives in the student's sandboxed
        try:                             # kernel, where the reference is not available at all
            return fn.invoke(args, kwargs, label=call)
        except StudentError as error:
            if error.name == "NotImplementedError" and REFERENCE_STUB in error.message:
                raise CheckFailed(f"{call} {CALLS_REFERENCE}") from None
            if error.name == "NotImplementedError":
                raise CheckFailed(f"{call} raised NotImplementedError: replace `raise NotImplementedError()` "
                                  "with your implementation.") from None
            raise CheckFailed(f"{call} raised {error.name}: {error.message}") from None
        except CourseCalled as error:  # the call rule (kernel_side.watch)
            raise CheckFailed(str(error)) from None
        except RemoteError as error:
            raise CheckFailed(f"For {call}: {error}") from None
    with _forbid_calls_into(forbidden) as calls:
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(f"{call} raised NotImplementedError: replace `raise NotImplementedError()` "
                              "with your implementation.") from None
        except CheckFailed:
            raise
        except Exception as error:  # the student's bug, reported in words
            raise CheckFailed(f"{call} raised {type(error).__name__}: {error}") from None
    _no_reference(call, calls)
    return result


def _proxy_in(x, depth=0):
    """The first proxy of a student's kernel object in x (nested lists, tuples, dicts), or None."""
    if isinstance(x, (RemoteFunction, RemoteValue)):
        return x
    if depth < 20 and isinstance(x, (list, tuple, dict)):
        for item in (x.values() if isinstance(x, dict) else x):
            found = _proxy_in(item, depth + 1)
            if found is not None:
                return found
    return None


def student_global(like, name: str, local):
    """Another global of the student's notebook, next to the student's function ``like``: while grading
    (``like`` is a proxy of the kernel) a proxy of the global ``name`` there, which can be passed back
    to the kernel (to a driver ``Fixture``, say); outside grading (tests calling a check with a local
    function), ``local``."""
    if isinstance(like, RemoteFunction):
        return RemoteFunction(like.kernel, name, name)
    recorder = RECORDER.get()
    if recorder is not None:
        recorder.named(local, name)
    return local


def _no_reference(call, calls):
    if calls:
        raise CheckFailed(
            f"{call} calls the reference implementation ({calls[0]}); no credit is given for "
            "calling the course library's solution. Write the computation yourself.")
