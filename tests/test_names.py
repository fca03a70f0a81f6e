"""One name per concept (issue 24): an exercise and a library function that share a name share a
signature and a meaning, and no two ``course`` modules define the same public name.

The truths are the source notebooks' solution cells (read with ``ast``, never run), ``inspect`` on the
``course`` modules, and ``autograder.solutions.SOLUTIONS`` (which library function solves which
assignment's exercises).
"""

import ast
import importlib
import inspect
import pkgutil

import pytest

import course
from autograder.demo import reference_answers
from autograder.grading import REPO_SOURCE
from autograder.solutions import ORDER, SOLUTIONS

# the allowed twins, under the same names and parameters: course.fast's in-place optimizers are
# course.optim's, and its chunked mlp_loss is course.nn's, to the last bits (tests/test_fast_path.py)
TWINS = {("fast", "optim"): {"sgd", "adagrad_norm", "adagrad", "momentum", "adam"},
         ("fast", "nn"): {"mlp_loss"}}


def course_modules():
    return {info.name: importlib.import_module(f"course.{info.name}")
            for info in pkgutil.iter_modules(course.__path__)}


def public_definitions(module):
    """The public functions and classes ``module`` defines itself (not the names it imports)."""
    return {name: obj for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__}


def exercise_functions(assignment):
    """name -> parameter names of each top-level function the source notebook's solution cells define."""
    found = {}
    for answer in reference_answers(REPO_SOURCE / assignment / f"{assignment}.ipynb").values():
        found.update(defined_functions(answer))      # a markdown (written) answer defines none
    return found


def defined_functions(source):
    """name -> parameter names of each top-level function ``source`` defines ({} if it is not Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {node.name: [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def parameter_names(function, required=False):
    """The names of ``function``'s parameters in order (only those without a default: ``required``)."""
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not (required and p.default is not p.empty)]


def same_parameters(exercise, function):
    """The exercise's parameters are the function's, by name and in order; the library function may add
    parameters with defaults after them (``course.nn.relu_backward``'s ``relu_prime_at_zero``), so a
    call of the exercise is a call of the library function."""
    names = parameter_names(function)
    return names[:len(exercise)] == exercise and set(parameter_names(function, required=True)) <= set(exercise)


@pytest.mark.parametrize("assignment", ORDER)
def test_an_exercise_named_like_a_library_function_is_that_function(assignment):
    """Where an exercise defines a function that a ``course`` module also defines, the module's is the
    exercise's reference (``SOLUTIONS``) and takes the same parameters, by the same names."""
    library = {module: public_definitions(m) for module, m in course_modules().items()}
    clashes = []
    for name, params in exercise_functions(assignment).items():
        for module, defined in library.items():
            if name not in defined:
                continue
            if name not in SOLUTIONS[assignment].get(module, ()):
                clashes.append(f"{assignment}'s {name} is named like course.{module}.{name}, which is not its "
                               f"reference (autograder.solutions.SOLUTIONS)")
            elif not same_parameters(params, defined[name]):
                clashes.append(f"{assignment}'s {name}({', '.join(params)}) differs from course.{module}."
                               f"{name}({', '.join(parameter_names(defined[name]))})")
    assert not clashes, "\n".join(clashes)


def test_no_two_course_modules_define_the_same_public_name():
    owners = {}
    for module, m in course_modules().items():
        for name in public_definitions(m):
            owners.setdefault(name, []).append(module)
    shared = {name: sorted(modules) for name, modules in owners.items() if len(modules) > 1}
    allowed = {name: list(pair) for pair, names in TWINS.items() for name in names}
    assert shared == allowed


def test_the_twins_take_the_same_parameters():
    modules = course_modules()
    for (a, b), names in TWINS.items():
        for name in names:
            assert parameter_names(getattr(modules[a], name)) == parameter_names(getattr(modules[b], name))


def notebook_functions(assignment):
    """name -> parameter names of each top-level function any code cell of the source notebook defines
    (experiments and helpers too, not only answers)."""
    import nbformat
    nb = nbformat.read(REPO_SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            found.update(defined_functions(cell.source))
    return found


@pytest.mark.parametrize("assignment", ORDER)
def test_a_notebook_helper_named_like_a_library_function_takes_its_parameters(assignment):
    """A function a notebook writes for itself (an experiment's gradient, say) under a ``course`` name takes
    that function's parameters: a reader who knows one knows the other."""
    library = {module: public_definitions(m) for module, m in course_modules().items()}
    clashes = [f"{assignment}'s {name}({', '.join(params)}) differs from course.{module}.{name}"
               f"({', '.join(parameter_names(defined[name]))})"
               for name, params in notebook_functions(assignment).items()
               for module, defined in library.items()
               if name in defined and not same_parameters(params, defined[name])]
    assert not clashes, "\n".join(clashes)
