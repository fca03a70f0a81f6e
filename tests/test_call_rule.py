"""The call rule (issue 21, 2): while the grader calls a student's function, a call from the student's
code into any ``course`` function but ``course.validate`` earns no credit; calls made by the grader's
fixtures, or by ``course`` itself, are not the student's. Checked on the kernel's end of the protocol
(``kernel_side``) in this process, through the grader's own request and reply code (``remote``)."""

from __future__ import annotations

import importlib.resources
import os

import numpy as np
import pytest

import course
from autograder import remote
from autograder.checks import CheckFailed, student_call

STUDENT = '''
import functools, os, sys, threading
import numpy as np
import course.problems, course.validate, course.schedules

def honest(theta):
    return np.asarray(theta, dtype=float) * 2.0

def direct(theta):
    return course.problems.sanity_check_grad(theta)

def through_map(theta):
    return list(map(course.problems.sanity_check_grad, [theta]))[0]

def through_partial(theta):
    return functools.partial(course.problems.sanity_check_grad)(theta)

def validates(theta):
    course.validate.check_returned(honest(theta), honest(theta), "honest(theta)")
    return honest(theta)

def tool_then_honest(theta):
    course.problems.sanity_check_loss(theta)
    return honest(theta)

def earlier_solution_then_honest(theta):
    course.schedules.constant(0.1)(1)
    return honest(theta)

def profile_off(theta):
    sys.setprofile(None)
    course.problems.sanity_check_grad(theta)
    return honest(theta)

def in_a_thread(theta):
    out = []
    worker = threading.Thread(target=lambda: out.append(course.problems.sanity_check_grad(theta)))
    worker.start()
    worker.join()
    return out[0]

def in_a_child(theta):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return honest(theta)

laundered = {}
exec(compile("def relay(f, *a):\\n    return f(*a)\\n", "<grader's test fixture>", "exec"), laundered)
exec(compile("def relay2(f, *a):\\n    return f(*a)\\n", course.problems.__file__, "exec"), laundered)

def through_a_fake_fixture(theta):
    return laundered["relay"](course.problems.sanity_check_grad, theta)

def through_fake_course_code(theta):
    return laundered["relay2"](course.problems.sanity_check_grad, theta)

def uses_what_it_is_given(grad, theta):
    return grad(theta)
'''


def library_gradient():
    """A grader's fixture that uses the course library itself (not the student's call)."""
    import course.problems

    def grad(theta):
        return course.problems.sanity_check_grad(theta)
    return grad


class InProcess:
    """The kernel's end installed here, called as the grader calls it."""

    def __init__(self):
        self.namespace = {"__name__": "student"}
        exec(compile(STUDENT, "/tmp/ipykernel_0/student.py", "exec"), self.namespace)
        source = importlib.resources.files("autograder").joinpath("kernel_side.py").read_text()
        scope = {"__name__": "sgd_course_grader"}
        exec(compile(source, "<the grader's protocol>", "exec"), scope)
        self.answer = scope["install"](self.namespace, os.path.dirname(course.__file__))
        self.handles = remote.Handles(self)

    def call(self, target, args, kwargs, label):
        text, fixtures, rngs = remote.request(target, args, kwargs)
        return remote.parse_reply(self.answer(text), label, self.handles.for_label(label), fixtures, rngs)


@pytest.fixture(scope="module")
def kernel():
    return InProcess()


def _grade(kernel, name, *args):
    fn = remote.RemoteFunction(kernel, name, name)
    return student_call(fn, *args, call=f"{name}(theta)")


@pytest.mark.parametrize("name", ["honest", "validates"])
def test_the_students_own_code_and_validate_earn_credit(kernel, name):
    theta = np.array([0.5, -2.0])
    np.testing.assert_array_equal(_grade(kernel, name, theta), 2 * theta)


@pytest.mark.parametrize("name, called", [
    ("direct", "course.problems.sanity_check_grad"),
    ("through_map", "course.problems.sanity_check_grad"),
    ("through_partial", "course.problems.sanity_check_grad"),
    ("tool_then_honest", "course.problems.sanity_check_loss"),
    ("earlier_solution_then_honest", "course.schedules.constant"),
    ("profile_off", "sys.setprofile"),
    ("in_a_thread", "course.problems.sanity_check_grad"),
    ("in_a_child", "os.fork"),
    ("through_a_fake_fixture", "course.problems.sanity_check_grad"),
    ("through_fake_course_code", "course.problems.sanity_check_grad"),
])
def test_a_call_into_the_course_library_earns_nothing_and_is_named(kernel, name, called):
    with pytest.raises(CheckFailed) as failure:
        _grade(kernel, name, np.array([0.5, -2.0]))
    assert called in str(failure.value) and "write the computation yourself" in str(failure.value)


def test_what_the_graders_fixture_does_with_the_library_is_not_the_students(kernel):
    theta = np.array([0.5, -2.0])
    got = _grade(kernel, "uses_what_it_is_given", remote.Fixture(library_gradient), theta)
    np.testing.assert_allclose(got, course.problems.sanity_check_grad(theta))


def test_the_watch_is_off_between_calls(kernel):
    import sys
    _grade(kernel, "honest", 1.0)
    assert sys.getprofile() is None
    kernel.namespace["direct"](1.0)   # outside a grader's call: the student's notebook may use the library
