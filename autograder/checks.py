"""Building blocks of hidden tests.

A hidden test draws its inputs when it runs (``grading_rng``), computes the expected output with the
reference implementation in ``course``, calls the student's function while making sure that it does
not call that reference (``student_call``), and compares type, shape, dtype and values exactly
(``assert_matches``). Every failure is a ``CheckFailed`` whose message says which input was used, what
was expected, what came back, and (where the mistake is a known one) a hint.
"""

from __future__ import annotations

import os
import secrets
import sys
import zlib
from contextlib import contextmanager

import numpy as np

from course.validate import check_returned
from course.validate import describe as _describe

from .remote import CourseCalled, Fixture, RemoteError, RemoteFunction, RemoteValue, StudentError

REFERENCE_STUB = "the course library's solution is not available while grading"
"""What a stripped reference function says in the grading kernel (``library_view.STUB`` starts so)."""

SEED_VARIABLE = "SGD_COURSE_GRADING_SEED"
"""Environment variable with the seed of the current grading run (set by ``autograder.grading``)."""


class CheckFailed(AssertionError):
    """A hidden or visible check failed; the message is written for the student."""


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


def _short(x, limit=6) -> str:
    arr = np.asarray(x)
    if arr.ndim == 0:
        return repr(arr.item()) if arr.dtype != object else repr(x)
    flat = arr.ravel()
    text = np.array2string(flat[:limit], precision=6, separator=", ")
    return text[:-1] + ", ...]" if flat.size > limit else text


def assert_matches(got, expected, call: str, *, rtol=1e-9, atol=1e-12, hints=()):
    """Compare a student's result with the reference result exactly in kind and closely in value.

    - a Python/numpy scalar is expected as a real number (float or numpy floating), not an array;
    - an ndarray must be an ndarray with the same shape and dtype
      (both checks are ``course.validate.check_returned``, which the notebooks' visible tests call too);
    - values must agree to ``rtol``/``atol``.
    ``hints`` is a sequence of (alternative_expected, message): if the result matches an
    alternative (a known mistake), that message is added to the failure.
    """
    where = f"For {call}:"
    check_returned(got, expected, call, error=CheckFailed, hint=lambda: _hint(got, hints, rtol, atol))
    got_arr = np.asarray(got, dtype=np.float64)
    exp_arr = np.asarray(expected, dtype=np.float64)
    if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=False):
        bad = np.argwhere(~np.isclose(got_arr, exp_arr, rtol=rtol, atol=atol)).tolist()
        first = f" (first difference at index {tuple(bad[0])})" if bad and bad[0] else ""
        raise CheckFailed(f"{where} expected {_short(exp_arr)}, got {_short(got_arr)}{first}."
                          + _hint(got, hints, rtol, atol))


def _hint(got, hints, rtol, atol) -> str:
    for alternative, message in hints:
        try:
            alt = np.asarray(alternative, dtype=np.float64)
            if np.shape(got) == alt.shape and np.allclose(np.asarray(got, dtype=np.float64), alt,
                                                          rtol=rtol, atol=atol):
                return f" Hint: {message}"
        except (TypeError, ValueError):
            continue
    return ""


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
    if not callable(fn):
        raise CheckFailed(f"{call.split('(')[0]} should be a function, got {_describe(fn)}.")
    if isinstance(fn, Fixture):  # a driver: it runs where the student's objects it is given live
        proxy = _proxy_in([fn.args, args, kwargs])
        if proxy is not None:
            fn = RemoteFunction(proxy._kernel, fn, call)
    if isinstance(fn, RemoteFunction):  # grading: the function lives in the student's sandboxed
        try:                             # kernel, where the reference is not available at all
            return fn.invoke(args, kwargs, label=call)
        except StudentError as error:
            if error.name == "NotImplementedError" and REFERENCE_STUB in error.message:
                raise CheckFailed(
                    f"{call} calls the reference implementation (the course library's solution), which is "
                    "not available while grading; no credit is given for calling it. Write the "
                    "computation yourself.") from None
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
        return RemoteFunction(like._kernel, name, name)
    return local


def _no_reference(call, calls):
    if calls:
        raise CheckFailed(
            f"{call} calls the reference implementation ({calls[0]}); no credit is given for "
            "calling the course library's solution. Write the computation yourself.")
