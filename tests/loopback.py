"""The grading protocol without a kernel process, for the hidden tests' own tests.

``LoopbackKernel(namespace)`` is the grader's side of ``remote.KernelCalls`` with the kernel's side
run here on ``namespace``: the kernel's source (``kernel_side.py``, exec'd in a namespace of its own,
as KernelCalls sends it) answers the JSON requests ``remote`` makes, and ``remote`` decodes the replies
strictly, so the student's functions get copies, generators as their state and fixtures rebuilt from
their source, exactly as in the sandbox. ``around`` (a context manager factory) wraps the kernel's
side of every call: to record or forbid calls into ``course`` there, say.
"""

import contextlib
import importlib.resources

from autograder import remote


class LoopbackKernel:
    def __init__(self, namespace, around=contextlib.nullcontext):
        scope = {"__name__": "sgd_course_grader"}
        source = importlib.resources.files("autograder").joinpath("kernel_side.py").read_text()
        exec(compile(source, "<the grader's protocol>", "exec"), scope)
        self._call = scope["install"](namespace)
        self.around = around
        self.handles = remote.Handles(self)

    def call(self, target, args, kwargs, label):
        text, fixtures, rngs = remote.request(target, args, kwargs)
        with self.around():
            reply = self._call(text)
        return remote.parse_reply(reply, label, self.handles.for_label(label), fixtures, rngs)
