"""The course library as a grading kernel sees it: every graded exercise's reference stripped, the rest
importable and working."""

import subprocess
import sys

import pytest

from autograder import library_view, solutions
from conftest import ASSIGNMENTS

# each graded exercise of a notebook -> the course function that is its reference
REFERENCES = {
    "step_sizes": {"stochastic_gradient": "problems.sanity_check_sample_grad", "constant": "schedules.constant",
                   "geometric": "schedules.geometric", "inverse_power": "schedules.inverse_power",
                   "sgd_iterates": "sgd.sgd_iterates", "loglog_slope": "sgd.loglog_slope"},
    "gd_vs_sgd": {name: f"minibatch.{name}" for name in ("full_gradient", "minibatch_gradient", "descent",
                                                          "bias_variance", "minibatch_variance", "descent_fraction")},
    "adagrad": {"adagrad_norm_run": "adaptive.adagrad_norm_run", "adagrad_diag_run": "adaptive.adagrad_diag_run",
                "tau_limit": "adaptive.tau_limit", "working_decades": "adaptive.working_decades"},
    "mlp": {"linear_forward": "nn.linear_forward", "linear_backward": "nn.linear_backward",
            "relu_forward": "nn.relu_forward", "relu_backward": "nn.relu_backward",
            "softmax_cross_entropy": "nn.softmax_cross_entropy", "numerical_gradient": "gradcheck.numerical_gradient",
            "epoch_minibatches": "data.epoch_minibatches", "train": "train.train"},
    "nonsmooth": {"clarke_interval": "clarke.clarke_interval", "convex_hull": "clarke.convex_hull",
                  "maxpool_backward": "nn.maxpool_backward", "local_derivatives": "autodiff.local_derivatives",
                  "backward": "autodiff.backward"},
}


def _run(view, code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(view.parent), "MPLBACKEND": "agg", "PATH": "/usr/bin:/bin"},
                          cwd=str(view.parent), timeout=120)


def test_every_assignment_has_its_references_listed():
    assert sorted(REFERENCES) == sorted(ASSIGNMENTS) == sorted(solutions.SOLUTIONS)


@pytest.mark.parametrize("assignment", sorted(REFERENCES))
def test_each_exercises_reference_raises_in_the_view_and_the_rest_imports(assignment):
    view = library_view.view(assignment)
    checks = []
    for exercise, ref in REFERENCES[assignment].items():
        module, name = ref.split(".")
        checks.append(f"import course.{module} as m\n"
                      f"src = inspect.getsource(m.{name})\n"
                      f"assert 'not available while grading' in src and src.count('\\n') < 40, {ref!r}\n")
    code = ("import inspect, importlib, pkgutil, course\n"
            "assert course.__file__.startswith(%r), course.__file__\n"
            "for info in pkgutil.iter_modules(course.__path__):\n"
            "    importlib.import_module('course.' + info.name)\n" % str(view)) + "".join(checks)
    done = _run(view, code)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_stripped_function_keeps_its_signature_and_docstring():
    source = "def f(a, b=2):\n    '''f = a + b'''\n    c = a + b\n    return c\n\ndef g():\n    return 1\n"
    out = library_view.strip_solutions(source, ["f"])
    namespace = {}
    exec(out, namespace)
    assert namespace["f"].__doc__ == "f = a + b" and namespace["g"]() == 1
    with pytest.raises(NotImplementedError, match="not available while grading"):
        namespace["f"](1)
    assert "a + b\n" not in out.split("'''")[-1]


def test_a_name_that_does_not_exist_is_an_error():
    with pytest.raises(KeyError, match="nosuch"):
        library_view.strip_solutions("def f():\n    pass\n", ["nosuch"])


def test_tools_a_notebook_uses_still_work_in_the_view():
    view = library_view.view("mlp")
    done = _run(view, "import numpy as np\nfrom course.nn import init_mlp\nfrom course.data import load_digits\n"
                      "p = init_mlp([64, 8, 10], np.random.default_rng(0))\nprint(p['W1'].shape)")
    assert done.returncode == 0 and "(64, 8)" in done.stdout, done.stderr[-2000:]
