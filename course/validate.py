"""Checks that fail with a message a student can act on.

Every public function of ``course`` that a student calls runs its inputs through these helpers, so a
wrong shape or dtype is reported as "what was expected, what came back" instead of a numpy broadcast
error three calls deeper. ``check_returned`` checks what a student's function returned: the
notebooks' visible tests call it, and grading's ``autograder.checks.assert_matches`` calls it before it
compares the values, so both say the same about a list, a wrong shape or a wrong dtype.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_float_array(x, name: str, *, ndim: int | None = None, shape: tuple | None = None,
                   dtype=None) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray, or raise a ``TypeError``/``ValueError`` that says why.

    ``shape`` may contain ``None`` for "any size along this axis". Integer input is converted to
    ``dtype`` (default float64); floating input keeps its precision unless ``dtype`` is given.
    """
    if type(x) is np.ndarray and x.dtype.kind == "f" and dtype is None and ndim is None and shape is None:
        return x                         # the common case, checked in a tenth of the time (hot loops)
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr


def as_index_array(idx, name: str, n: int) -> np.ndarray:
    """Return ``idx`` as a 1-D int array of indices into ``range(n)``, or raise saying what is wrong."""
    arr = np.asarray(idx)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (indices into the data), got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a minibatch needs at least one index")
    if arr.min() < 0 or arr.max() >= n:
        raise IndexError(f"{name} must lie in 0..{n - 1}, got values from {arr.min()} to {arr.max()}")
    return arr.astype(np.intp, copy=False)


def positive_int(k, name: str, *, minimum: int = 1) -> int:
    """Return ``k`` as an int >= ``minimum`` or raise; bools and floats such as 2.5 are rejected."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(k).__name__} {k!r}")
    if k < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {k}")
    return int(k)


def positive_float(x, name: str, *, allow_zero: bool = False) -> float:
    """Return ``x`` as a finite float > 0 (or >= 0 with ``allow_zero``) or raise."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    x = float(x)
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {x}")
    return x


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise a ``TypeError`` saying how to make one."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
                        f"got {type(rng).__name__}")
    return rng


class ReturnedValueError(AssertionError):
    """A function returned the wrong kind of value (a list for a number or an array, a wrong shape or
    dtype); the message is the one grading gives."""


def describe(x) -> str:
    """A returned value as a failure message shows it: an array by shape and dtype, else type and repr."""
    if isinstance(x, np.ndarray):
        return f"ndarray(shape={x.shape}, dtype={x.dtype})"
    return f"{type(x).__name__} {x!r}"


def check_returned(got, expected, call: str, *, error: type[Exception] = ReturnedValueError, hint=None):
    """Check that ``got`` is the same kind of value as ``expected``, exactly as grading checks it; return
    ``got``.

    - ``expected`` an ndarray with at least one axis: ``got`` must be an ndarray of the same shape and
      dtype;
    - otherwise (a number, or a 0-d array) ``got`` must be a real number: int, float, a numpy integer or
      floating scalar, or a 0-d array; not a bool, a list or an array with axes.

    Only the kind, shape and dtype are checked, not the values (``expected`` is shown in the message
    for a number). A failure raises ``error`` (grading passes its own ``CheckFailed``) with a message
    that starts "For {call}:"; ``hint()``, if given, is added to a wrong shape's message.
    """
    where = f"For {call}:"
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        if not isinstance(got, np.ndarray):
            raise error(f"{where} expected an ndarray of shape {expected.shape}, got {describe(got)}.")
        if got.shape != expected.shape:
            raise error(f"{where} expected shape {expected.shape}, got shape {got.shape}."
                        + (hint() if hint is not None else ""))
        if got.dtype != expected.dtype:
            raise error(f"{where} expected dtype {expected.dtype}, got dtype {got.dtype}.")
    elif isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)) \
            and not (isinstance(got, np.ndarray) and got.ndim == 0):
        raise error(f"{where} expected a number ({float(expected)!r}), got {describe(got)}.")
    return got


class CheckFailed(AssertionError):
    """A hidden or visible check failed; the message is written for the student (the call, what was
    expected, what came back, a hint for a known mistake). Grading's hidden tests raise it too
    (``autograder.checks`` uses this class), so a failing visible test reads as grading's."""


def short(x, limit: int = 6) -> str:
    """A value as a failure message shows it: a number as its repr, an array's first ``limit`` entries."""
    arr = np.asarray(x)
    if arr.ndim == 0:
        return repr(arr.item()) if arr.dtype != object else repr(x)
    flat = arr.ravel()
    text = np.array2string(flat[:limit], precision=6, separator=", ")
    return text[:-1] + ", ...]" if flat.size > limit else text


def known_mistake(got, hints, rtol: float, atol: float) -> str:
    """" Hint: ..." for the first (alternative, message) of ``hints`` whose alternative ``got`` matches
    (the result of a known mistake), else ""."""
    for alternative, message in hints:
        try:
            alt = np.asarray(alternative, dtype=np.float64)
            if np.shape(got) == alt.shape and np.allclose(np.asarray(got, dtype=np.float64), alt,
                                                          rtol=rtol, atol=atol):
                return f" Hint: {message}"
        except (TypeError, ValueError):
            continue
    return ""


def check_close(got, expected, call: str, *, rtol: float = 1e-9, atol: float = 1e-12, hints=(),
                error: type[Exception] | None = None):
    """Check ``got`` as grading does: the kind, shape and dtype of ``expected`` (``check_returned``), then
    the values within ``rtol``/``atol``; return ``got``.

    ``hints`` is a sequence of (alternative, message): when ``got`` matches an alternative (what a known
    mistake returns), the message is added to the failure. A failure raises ``error`` (grading passes
    ``CheckFailed`` for both; by default ``ReturnedValueError`` for a wrong kind, ``CheckFailed`` for
    wrong values) with a message "For {call}: expected ..., got ... . Hint: ...".
    """
    hint = lambda: known_mistake(got, hints, rtol, atol)   # noqa: E731  (only built when a check fails)
    check_returned(got, expected, call, error=error or ReturnedValueError, hint=hint)
    got_arr = np.asarray(got, dtype=np.float64)
    exp_arr = np.asarray(expected, dtype=np.float64)
    if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=False):
        bad = np.argwhere(~np.isclose(got_arr, exp_arr, rtol=rtol, atol=atol)).tolist()
        first = f" (first difference at index {tuple(bad[0])})" if bad and bad[0] else ""
        raise (error or CheckFailed)(f"For {call}: expected {short(exp_arr)}, got {short(got_arr)}{first}."
                                     + hint())
    return got
