"""``sgd-course check`` without the reference (``autograder.replay``): the hidden checks' calls, recorded
as data at build time, replayed against a student's functions through the grading pipeline.

The truth every replay is held to is grading itself: the same demo class graded with the real hidden
tests at the same seed, cell by cell (scores and messages): the session's ``demo_class``, graded at the
bundle's first seed. The bundle, and a course built from its check notebooks, are made once per module.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap

import nbformat
import numpy as np
import pytest

import course.adaptive
import course.autodiff
import course.clarke
import course.gradcheck
import course.minibatch
import course.nn
import course.relu_prime
import course.schedules
import course.sgd
import course.train
from autograder import checks, demo, jail, replay, selfcheck, solutions
from autograder.grading import REPO_SOURCE, Course
from autograder.hidden_tests import step_sizes as hidden_step_sizes
from conftest import SEED, copy_course

REFERENCE_MODULES = (course.adaptive, course.autodiff, course.clarke, course.gradcheck, course.minibatch, course.nn,
                     course.relu_prime, course.schedules, course.sgd, course.train)
NOT_REPLAYABLE = {  # checks whose verdict rests on more than recorded calls and comparisons (see replay)
    ("mlp", "test_epoch_minibatches"), ("mlp", "test_train"),
}
OWN_WORDS = {  # mutants (tests/test_hidden_*.py) that the check fails in its own words, the replay in its
    ("test_constant", "scalar for arrays"), ("test_constant", "not a factory"),
    ("test_adagrad_diag_run", "one c per run, taus per run"), ("test_bias_variance", "per-coordinate variances"),
    ("test_linear_forward", "cache (x, W, b)"), ("test_linear_forward", "cache (out, W)"),
    ("test_linear_backward", "dx missing"), ("test_relu", "cache is the output"), ("test_relu", "returns only out"),
    ("test_softmax_cross_entropy", "no max subtracted (overflows)"),
    ("test_softmax_cross_entropy", "log of rounded probabilities"),
    ("test_softmax_cross_entropy", "global max subtracted"), ("test_numerical_gradient", "theta not restored"),
    ("test_local_derivatives", "an input gets a derivative"), ("test_local_derivatives", "Values instead of numbers"),
}


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "replay_data"
    replay.bundle(REPO_SOURCE, out, released=solutions.ORDER)   # every cell, to test the replay itself
    return out


@pytest.fixture(scope="module")
def checking_course(bundled, tmp_path_factory):
    """A course built from the bundle's check notebooks, as ``sgd-course check`` grades with them."""
    course = Course.from_sources(tmp_path_factory.mktemp("check") / "course", source=bundled / "checks",
                                 unsafe_no_sandbox=bool(jail.available()))
    course.build()
    return course


def test_a_cell_whose_fixture_is_an_open_answer_is_not_shipped(tmp_path):
    """While an assignment is open, a check that hands the student's functions test code computing one of
    its answers (``solutions.FIXTURES``) is not replayable, and the fixture's code is not in the data."""
    out = tmp_path / "replay_data"
    replay.bundle(REPO_SOURCE, out, released=("step_sizes",))
    cells = _cells(out)
    assert not cells[("gd_vs_sgd", "test_descent")]["replayable"]
    assert "gd_vs_sgd" in cells[("gd_vs_sgd", "test_descent")]["reason"]
    assert cells[("step_sizes", "test_sgd_iterates")]["replayable"]          # its fixtures' answers are released
    assert not cells[("nonsmooth", "test_backward")]["replayable"]
    text = "\n".join(p.read_text() for p in out.rglob("*.json"))
    for name in ("least_squares_gradient", "local_rules"):
        assert f'"factory": "{name}"' not in text


def _cells(out):
    return {(a, c): info for a, v in replay.index(out)["assignments"].items() for c, info in v["cells"].items()}


def test_every_test_cell_is_bundled_and_only_the_known_ones_are_not_replayable(bundled):
    cells = _cells(bundled)
    hidden = {(p.parent.name, c.metadata["nbgrader"]["grade_id"]) for p in REPO_SOURCE.glob("*/*.ipynb")
              for c in nbformat.read(p, as_version=4).cells if replay.BEGIN_HIDDEN in c.source}
    assert set(cells) == hidden
    assert {k for k, v in cells.items() if not v["replayable"]} == NOT_REPLAYABLE
    assert all(v["reason"] for k, v in cells.items() if k in NOT_REPLAYABLE)
    assert replay.index(bundled)["seeds"] == list(replay.SEEDS)
    assert all(s >= 2 ** 32 for s in replay.SEEDS)  # grading's seeds are 32-bit


def _strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)


def _shipped_lines(out) -> set[str]:
    """Every line of every text in the bundle (cell sources, recorded strings, file names), stripped."""
    texts = [str(p.relative_to(out)) for p in out.rglob("*")]
    for path in out.rglob("*.ipynb"):
        texts += [cell.source for cell in nbformat.read(path, as_version=4).cells]
    for path in out.rglob("*.json"):
        texts += list(_strings(json.loads(path.read_text())))
    return {line.strip() for text in texts for line in text.splitlines()}


def _shipped_fixture_lines(out) -> set[str]:
    """The lines of the test fixtures' source, which grading sends to the student's kernel too."""
    lines = set()

    def walk(x):
        if isinstance(x, dict):
            if x.get("t") == "fixture":
                lines.update(line.strip() for line in x["source"].splitlines())
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for path in (out / "records").rglob("*.json"):
        walk(json.loads(path.read_text()))
    return lines


def _released_lines() -> set[str]:
    """The lines every student has anyway: the notebooks without solutions and hidden tests."""
    lines = set()
    for path in REPO_SOURCE.glob("*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            lines |= {line.strip() for line in replay.split(replay._empty_solutions(cell.source))[0].splitlines()}
    return lines


def _code_lines(text: str) -> set[str]:
    """Lines of code long enough to be telling (no string literals, comments or docstrings)."""
    return {line.strip() for line in text.splitlines()
            if len(line.strip()) >= 25 and line.strip()[0] not in "\"'#"}


def test_the_bundle_holds_no_hidden_test_code_no_reference_and_no_solution(bundled):
    shipped = _shipped_lines(bundled)
    raw = "\n".join(p.read_text() for p in bundled.rglob("*") if p.suffix in (".json", ".ipynb"))
    fixtures = _shipped_fixture_lines(bundled) | _released_lines()
    hidden = set()
    for path in (REPO_SOURCE.parent.parent / "autograder" / "hidden_tests").glob("*.py"):
        hidden |= _code_lines(path.read_text()) - fixtures
    assert hidden and not [line for line in hidden if line in shipped]
    bodies = set()
    for module in REFERENCE_MODULES:
        for _, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                bodies |= _code_lines(inspect.getsource(fn).split(":", 1)[1]) - fixtures
    assert bodies and not [line for line in bodies if line in shipped]
    solutions = set()
    for path in REPO_SOURCE.glob("*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            solutions |= _code_lines(cell.source) - _code_lines(replay._empty_solutions(cell.source))
    assert solutions and not [line for line in solutions if line in shipped]
    assert "BEGIN MARK SCHEME" not in raw and "autograder.hidden_tests" not in raw


def test_the_check_notebooks_build_the_same_student_versions(built_course, checking_course):
    real, checking = built_course, checking_course
    assert checking.assignments == real.assignments
    for assignment in real.assignments:
        for notebook in real.notebooks(assignment):
            ours = nbformat.read(checking.release_path(assignment, notebook), as_version=4)
            theirs = nbformat.read(real.release_path(assignment, notebook), as_version=4)
            assert [(c.source, c.metadata) for c in ours.cells] == [(c.source, c.metadata) for c in theirs.cells]


def _messages(course, student, assignment) -> dict:
    """grade_id -> grading's message of every failed test cell (the error output it wrote)."""
    found = {}
    for path in (course.root / "autograded" / student / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                found[cell.metadata["nbgrader"]["grade_id"]] = errors[-1].evalue
    return found


def test_check_with_recorded_calls_gives_full_marks_and_gradings_message(bundled, built_course, tmp_path):
    """``sgd-course check`` in the student edition's mode: the reference answers pass every cell, a
    demo bug fails its cell with grading's own words."""
    course = built_course
    source = course.root / "source" / "step_sizes" / "step_sizes.ipynb"
    answers = demo.reference_answers(source)
    release = course.release_path("step_sizes", "step_sizes")
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    good.write_text(demo.fill_in(release, answers))
    bug = next(b for b in demo.demo_bugs("step_sizes") if b.student == "carol")
    bad.write_text(demo.fill_in(release, demo.with_bug(answers, bug)))
    report = selfcheck.check(good, recorded=bundled, seed=SEED)
    assert report.graded and report.status == selfcheck.OK and not report.failed, report.text()
    report = selfcheck.check(bad, recorded=bundled, seed=SEED)
    assert [f.cell for f in report.failed] == ["test_stochastic_gradient"]
    assert "Hint: the sign looks flipped" in report.failed[0].message
    truth = checks.CheckFailed
    with replay.seeded(SEED), pytest.raises(truth) as raised:
        hidden_step_sizes.check_stochastic_gradient(replay.namespace(
            nbformat.read(source, as_version=4), demo.with_bug(answers, bug))["stochastic_gradient"])
    assert report.failed[0].message == " ".join(str(raised.value).split())


def test_a_cell_that_is_not_replayable_is_named_by_check(bundled, built_course, tmp_path):
    course = built_course
    source = course.root / "source" / "mlp" / "mlp.ipynb"
    path = tmp_path / "mlp.ipynb"
    path.write_text(demo.fill_in(course.release_path("mlp", "mlp"), demo.reference_answers(source)))
    report = selfcheck.check(path, recorded=bundled, seed=SEED)
    assert report.status == selfcheck.OK, report.text()
    assert f"test_train: {replay.NOT_REPLAYABLE}" in report.text()
    assert f"test_relu: {replay.NOT_REPLAYABLE}" not in report.text()


def test_hard_coding_the_recorded_answers_passes_check_but_fails_grading(bundled):
    """A stochastic_gradient that looks up the recorded answers (every seed of the bundle) passes the
    replayed check, and fails the hidden check grading runs with a fresh seed."""
    events = {}
    table = {}
    for seed in replay.SEEDS:
        events[seed], arrays = replay.load(bundled, "step_sizes", "test_stochastic_gradient", seed)
        calls = [e for e in events[seed] if e["op"] == "call"]
        matches = [e for e in events[seed] if e["op"] == "match"]
        for call, match in zip(calls, matches):
            theta, j = replay.decode(call["args"], arrays, None)
            table[np.asarray(theta).tobytes(), np.asarray(j).tobytes()] = replay.decode(match["expected"], arrays, None)

    def stochastic_gradient(theta, j):
        return table.get((np.asarray(theta).tobytes(), np.asarray(j).tobytes()), 0.0)

    for seed in replay.SEEDS:
        with replay.seeded(seed):
            replay.replay_events(events[seed], replay.load(bundled, "step_sizes", "test_stochastic_gradient", seed)[1],
                                 {"stochastic_gradient": stochastic_gradient})
    with replay.seeded(20261128), pytest.raises(checks.CheckFailed):
        hidden_step_sizes.check_stochastic_gradient(stochastic_gradient)


BLOCKER = textwrap.dedent("""
    import importlib.abc, sys

    class NoHiddenTests(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.startswith("autograder.hidden_tests"):
                raise ImportError("no hidden tests in the student edition")

    sys.meta_path.insert(0, NoHiddenTests())
    import importlib
    from autograder import solutions
    for module, names in solutions.stripped().items():
        mod = importlib.import_module("course." + module)
        for name in names:
            owner, _, attr = name.rpartition(".")
            target = getattr(mod, owner) if owner else mod
            if hasattr(target, attr):
                def stub(*args, **kwargs):
                    raise NotImplementedError("the course library's solution is not available")
                setattr(target, attr, stub)
""")


def test_replaying_needs_no_hidden_tests_and_no_reference(bundled, tmp_path):
    """The replay of every replayable cell of step_sizes, in a process where ``autograder.hidden_tests``
    cannot be imported and every solution of ``course`` raises: the reference answers pass, a bug fails."""
    source = REPO_SOURCE / "step_sizes" / "step_sizes.ipynb"
    script = BLOCKER + textwrap.dedent(f"""
        import nbformat
        from pathlib import Path
        from autograder import replay
        from autograder.checks import CheckFailed
        root, source = Path({str(bundled)!r}), Path({str(source)!r})
        nb = nbformat.read(source, as_version=4)
        answers = {json.dumps(demo.reference_answers(source))}
        names = replay.namespace(nb, answers)
        cells = replay.index(root)["assignments"]["step_sizes"]["cells"]
        for cell in cells:
            for seed in replay.SEEDS:
                events, arrays = replay.load(root, "step_sizes", cell, seed)
                with replay.seeded(seed):
                    replay.replay_events(events, arrays, names)
        wrong = dict(names, stochastic_gradient=lambda theta, j: -names["stochastic_gradient"](theta, j))
        events, arrays = replay.load(root, "step_sizes", "test_stochastic_gradient", replay.SEEDS[0])
        try:
            replay.replay_events(events, arrays, wrong)
        except CheckFailed as failure:
            print("FAILED:", failure)
        assert not [m for m in sys.modules if m.startswith("autograder.hidden_tests")]
        print("replayed", len(cells))
    """)
    env = {k: v for k, v in os.environ.items() if k != replay.DATA_VARIABLE}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "replayed 6" in done.stdout and "FAILED: For stochastic_gradient(" in done.stdout


def _mutants():
    """(assignment, test cell, check, mutant, the mutant's functions) of the hidden tests' mutation tables."""
    import test_hidden_adagrad
    import test_hidden_gd_vs_sgd
    import test_hidden_mlp
    import test_hidden_nonsmooth
    import test_hidden_step_sizes
    for check, mutants in test_hidden_step_sizes.MUTANTS.items():
        name = check[len("check_"):]
        for label, fn in mutants.items():
            yield "step_sizes", f"test_{name}", getattr(hidden_step_sizes, check), label, {name: fn}
    for assignment, table in (("adagrad", test_hidden_adagrad), ("gd_vs_sgd", test_hidden_gd_vs_sgd)):
        yield from _suite_mutants(assignment, table.SUITE, table.MUTANTS)
    t = test_hidden_nonsmooth  # through the loopback kernel, as while grading
    answers = demo.reference_answers(t.SOURCE)
    for name, mutants in t.MUTANTS.items():
        for label, mutant in mutants.items():
            scope = t.namespace(answers)
            exec(t.mutant_source(answers, name, mutant), scope)
            yield "nonsmooth", f"test_{name}", getattr(t.hidden, f"check_{name}"), label, \
                {name: t.graded(scope, name, "kernel")}
    t = test_hidden_mlp
    yield from _suite_mutants("mlp", t.SUITE, t.MUTANTS)
    yield from _suite_mutants("mlp", t.SUITE, {check: {f"correct: {k}": v for k, v in variants.items()}  # these pass
                                               for check, variants in t.CORRECT_VARIANTS.items()})


def _suite_mutants(assignment, suite, table):
    """(assignment, test cell, check, mutant, the mutant's functions) of a ``mutation.Suite``'s ``table``."""
    for key, mutants in table.items():
        graded = suite.graded[key]
        for label, edits in mutants.items():
            functions = suite.functions(key, suite.mutant(key, edits))
            yield assignment, graded.test, graded.check, label, dict(zip(graded.functions, functions))


def test_every_mutant_gets_gradings_verdict_from_the_replay(bundled):
    """Every mutant of the hidden tests' mutation tables (wrong answers of every kind, and mlp's other
    correct solutions), at every recorded seed: the replay of a replayable cell fails it exactly when the hidden check does, with the check's
    message, except where the check words a wrong kind of result itself (``OWN_WORDS``)."""
    cells, own, tried = _cells(bundled), set(), 0
    for assignment, cell, check, label, names in _mutants():
        if not cells[assignment, cell]["replayable"]:
            continue
        for seed in replay.SEEDS:
            events, arrays = replay.load(bundled, assignment, cell, seed)
            with replay.seeded(seed):
                want = replay.verdict(lambda: check(*names.values()))
                got = replay.verdict(lambda: replay.replay_events(events, arrays, names))
            tried += 1
            assert bool(got) == bool(want), (cell, label, seed, want, got)
            if got != want:
                own.add((cell, label))
    assert own == OWN_WORDS and tried > 400


def _by_student(course, assignment, results) -> dict:
    """student -> ({cell: score}, {cell: grading's message}, why it could not be graded) of ``results``."""
    return {r.student: ({c.cell: c.score for c in r.cells}, _messages(course, r.student, assignment), r.reason)
            for r in results}


def _graded_as(checking, real, assignment):
    """Grade in ``checking`` the same files as ``real``'s submissions of ``assignment``, at ``SEED``."""
    for student in real.students(assignment):
        folder = real.submission_dir(student, assignment)
        checking.submit(student, assignment, {p.stem: p.read_bytes() for p in folder.glob("*.ipynb")})
    results = checking.grade(assignment, seed=SEED, feedback=False, workers=2)
    return _by_student(checking, assignment, results)


@pytest.mark.parametrize("assignment", ["step_sizes", "nonsmooth", "mlp"])
def test_replay_grades_the_demo_class_as_grading_does(bundled, checking_course, demo_class, tmp_path, assignment,
                                                      monkeypatch):
    """The demo class (reference, unchanged, every demo bug, a truncated file) graded with the real hidden
    tests (the session's demo class, at SEED) and with the replayed calls at the same seed: the same score
    and message in every replayable cell; a cell that is not replayable is graded on its visible tests only."""
    real, rosters, results = demo_class
    roster = rosters[assignment]
    truth = _by_student(real, assignment, [r for (a, _), r in results.items() if a == assignment])
    checking = copy_course(checking_course, tmp_path / "check", unsafe_no_sandbox=checking_course.unsafe_no_sandbox)
    monkeypatch.setenv(replay.DATA_VARIABLE, str(bundled))
    replayed = _graded_as(checking, real, assignment)
    cells = _cells(bundled)
    assert set(replayed) == set(truth) == set(roster)
    for student, (scores, messages, reason) in truth.items():
        got_scores, got_messages, got_reason = replayed[student]
        assert got_reason == reason
        for cell, score in scores.items():
            if (assignment, cell) in cells and not cells[assignment, cell]["replayable"]:
                continue
            assert got_scores[cell] == score, (student, cell, got_messages.get(cell), messages.get(cell))
            assert got_messages.get(cell) == messages.get(cell), (student, cell)
    full = truth[demo.REFERENCE][0]
    assert all(score is None or score > 0 for score in full.values()) and replayed[demo.REFERENCE][0] == full
