"""``sgd-course check`` without the reference: the hidden checks' calls, recorded as data, replayed.

The student edition of the course has neither the reference solutions nor the hidden tests' code (a
test may state the answer). What it ships instead is made here, in the instructor's full package, by
``bundle``: for every test cell and each of a few build-time seeds (``SEEDS``), the calls that grading
makes to the student's functions (their inputs; a function the student's function returned is named
by the call that returned it), and every comparison grading makes (the reference's output, its kind,
shape and dtype, rtol/atol and the hints: known mistakes' results with their messages). Recording
runs each hidden check on the reference answers with the building blocks of ``checks`` reporting to a
``Recorder`` (``checks.recording``).

``replay`` runs in the grader's process as a test cell's hidden part, exactly where the hidden check
runs while grading: it makes the same calls with ``checks.student_call`` (same kernel protocol, same
forbidden-call rule, same validation of what comes back) and compares with ``checks.assert_matches``
(same messages). ``sgd-course check`` grades the student's notebook with the "check notebooks" (the
assignment with its solutions emptied and each hidden block replaced by a call of ``replay``) through
the grading pipeline itself (``selfcheck``).

What a check reads of a result without a comparison (a cache that must be the input, an input that must
be left as it was) is compared with the reference's up to rounding; a tuple of numbers that a check reads
as an array is read so again. A check whose verdict depends on more than that (a property it tests
itself, a message it writes itself) may not replay faithfully: ``bundle`` runs every check and its
replay on the reference answers and on every demo bug of the assignment, for every seed, and marks a
cell whose replay does not give the same verdict and message "not replayable". ``check`` says so for
such a cell (only its visible tests ran) instead of guessing.

Grading draws fresh inputs (its seeds are 32-bit; ``SEEDS`` are not), so a notebook that hard-codes a
recorded answer earns nothing when graded.

Layout of ``bundle``'s folder (the student edition ships it as ``autograder/replay_data/``)::

    index.json                           seeds, and per assignment its cells: replayable or why not
    checks/<assignment>/<notebook>.ipynb the check notebooks (no solution, no hidden test)
    records/<assignment>/<cell>.json     the recorded calls and comparisons, per seed
    records/<assignment>/<cell>.npz      their arrays (read with allow_pickle=False)
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.resources
import inspect
import json
import os
import shutil
import textwrap
import warnings
from contextlib import contextmanager
from pathlib import Path

import nbformat
import numpy as np

from .cells import RAISE_STUB, TEXT_STUB, is_test_cell
from .checks import SEED_VARIABLE, CheckFailed, assert_all_match, assert_matches, recording, run_seed, \
    student_call, student_global
from .remote import Fixture
from .sandbox import BEGIN_HIDDEN, END_HIDDEN
from .sanitize import EXPERIMENT
from .solutions import open_fixtures

SEEDS = (2 ** 32 + 11, 2 ** 32 + 23, 2 ** 32 + 37)
"""The build-time seeds. Grading's seeds are 32-bit numbers (drawn fresh, or given with ``--seed``), so
none of these is ever a grading seed by default."""

DATA_VARIABLE = "SGD_COURSE_REPLAY_DATA"
"""Environment variable naming a folder made by ``bundle``; default: the installed ``replay_data``."""

NOT_REPLAYABLE = ("this test cell cannot be checked without the course's hidden tests: only its visible "
                  "tests ran")
SCALARS = (type(None), bool, int, str)
UNREAD_RTOL, UNREAD_ATOL = 1e-12, 1e-14
"""How closely a part of a result that the check reads itself (a cache, an input it must leave as it was)
must equal the reference's: equal up to rounding."""
DATA = (*SCALARS, float, list, tuple, dict, np.ndarray, np.generic)


class NotRecordable(Exception):
    """A check did something that cannot be written down as data (the cell is not replayable)."""


# -- values as data -----------------------------------------------------------------------------------

class Encoder:
    """Values -> JSON trees; arrays go to ``arrays`` (for the ``.npz``) under keys ``<prefix><n>``.
    ``refs`` maps id() of the student's objects (their functions, what their calls returned) to a
    reference, so that such an object (not data: a function, a class, an object of the student's) is
    written as "that object"; data is written as its value."""

    def __init__(self, prefix: str, arrays: dict, refs: dict):
        self.prefix, self.arrays, self.refs = prefix, arrays, refs

    def __call__(self, x, depth=0):
        if depth > 20:
            raise NotRecordable("a value nested too deeply")
        if not isinstance(x, DATA) and id(x) in self.refs:
            return {"t": "ref", "ref": self.refs[id(x)]}
        if isinstance(x, SCALARS):
            return {"t": "py", "v": x}
        if type(x) is float:
            return {"t": "float", "v": repr(x)}
        if isinstance(x, (np.ndarray, np.generic)) and np.asarray(x).dtype.kind in "biufc":
            key = f"{self.prefix}{len(self.arrays)}"
            self.arrays[key] = np.asarray(x)
            return {"t": "nd", "k": key, "scalar": not isinstance(x, np.ndarray)}
        if type(x) in (list, tuple):
            return {"t": type(x).__name__, "v": [self(i, depth + 1) for i in x]}
        if type(x) is dict and all(type(k) is str for k in x):
            return {"t": "dict", "v": {k: self(v, depth + 1) for k, v in x.items()}}
        if isinstance(x, RecordedFixture):
            return x.tree(lambda v: self(v, depth + 1))
        if isinstance(x, Fixture):
            return {"t": "fixture", "source": textwrap.dedent(inspect.getsource(x.factory)),
                    "factory": x.factory.__name__, "args": self(list(x.args), depth + 1)}
        if isinstance(x, np.random.Generator):
            return {"t": "rng", "state": x.bit_generator.state}
        raise NotRecordable(f"cannot record a {type(x).__name__}")


def decode(tree, arrays, resolve):
    """A JSON tree -> the value; ``resolve(ref)`` gives the student's object a reference names."""
    kind, again = tree["t"], (lambda item: decode(item, arrays, resolve))
    if kind == "ref":
        return resolve(tree["ref"])
    if kind == "list":
        return [again(item) for item in tree["v"]]
    if kind == "tuple":
        return tuple(again(item) for item in tree["v"])
    if kind == "dict":
        return {key: again(item) for key, item in tree["v"].items()}
    if kind == "fixture":
        return RecordedFixture(tree["source"], tree["factory"], *again(tree["args"]))
    if kind == "nd":
        return np.array(arrays[tree["k"]])[()] if tree["scalar"] else np.array(arrays[tree["k"]])
    if kind == "rng":
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = tree["state"]
        return rng
    if kind in ("py", "float"):
        return float(tree["v"]) if kind == "float" else tree["v"]
    raise ValueError(f"unknown kind {kind!r} in the replay data")


class RecordedFixture(Fixture):
    """A test fixture rebuilt from its recorded source text (the kernel gets the same text)."""

    def __init__(self, source: str, factory: str, *args):
        scope = {"np": np, "__name__": "grader_fixture"}
        exec(compile(source, "<recorded test fixture>", "exec"), scope)
        self.source = source
        super().__init__(scope[factory], *args)

    def tree(self, encode):
        return {"t": "fixture", "source": self.source, "factory": self.factory.__name__,
                "args": encode(list(self.args))}


def form(x) -> str:
    """What kind of value ``x`` is, as a failure message names it."""
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} values"
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)}"
    if isinstance(x, np.ndarray):
        return f"an ndarray of shape {x.shape}"
    return f"a {type(x).__name__}"


# -- recording ---------------------------------------------------------------------------------------

def walk(x, path=(), depth=0):
    """(path, part) of ``x`` and of every item of its lists, tuples and dicts, ``x`` first."""
    yield list(path), x
    if depth < 20 and isinstance(x, (list, tuple)):
        for i, item in enumerate(x):
            yield from walk(item, (*path, i), depth + 1)
    elif depth < 20 and isinstance(x, dict):
        for key, item in x.items():
            yield from walk(item, (*path, key), depth + 1)


def _result_refs_in(tree):
    """Every reference to a call's result in recorded events."""
    if isinstance(tree, dict):
        if tree.get("r") == "result":
            yield tree
        for value in tree.values():
            yield from _result_refs_in(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _result_refs_in(value)


def as_array(x, shape):
    """``x`` as a float64 array of ``shape``, one number per entry (as a check reads a tuple of numbers),
    or None."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size != int(np.prod(shape)) or np.size(np.asarray(x, dtype=object)) != arr.size:
        return None
    return arr.reshape(shape)


class Recorder:
    """What one hidden check did, as data: the building blocks of ``checks`` report to it."""

    def __init__(self, names: dict, prefix: str, arrays: dict):
        self.events, self.refs, self.kept, self.locals, self.results = [], {}, [], {}, []
        self.encode = Encoder(prefix, arrays, self.refs)
        for name, fn in names.items():
            self._remember(fn, {"r": "name", "name": name})

    def _remember(self, x, ref):
        self.kept.append(x)  # keeps its id() from being reused while recording
        self.refs[id(x)] = ref

    def _result_refs(self, x, ref):
        for path, item in walk(x):
            if not isinstance(item, (type(None), bool, str)):
                self._remember(item, {**ref, "path": path})

    def _ref(self, got, call):
        """Where ``got`` comes from: a call's result (or a part of it), preferring the calls that the
        comparison's description names, then the latest; or that as a float64 array (a check that reads
        a tuple of numbers as an array)."""
        order = sorted(self.results, key=lambda r: (not call.startswith(r[1]), -r[0]))
        for number, _, result in order:
            for path, item in walk(result):
                if item is got:
                    return {"r": "result", "call": number, "path": path}
        if isinstance(got, np.ndarray) and got.dtype == np.float64:
            for number, _, result in order:
                for path, item in walk(result):
                    arr = as_array(item, got.shape)
                    if arr is not None and np.array_equal(arr, got):
                        return {"r": "result", "call": number, "path": path, "as": list(got.shape)}
        raise NotRecordable("a comparison of a value that is not what a call returned")

    def calling(self, fn, args, kwargs, call, forbidden):
        """A call of a student's function, with its arguments as they are before the call."""
        if isinstance(fn, Fixture) or not callable(fn):
            target = self.encode(fn)
        elif id(fn) in self.refs:
            target = {"t": "ref", "ref": self.refs[id(fn)]}
        else:
            raise NotRecordable(f"a call of {fn!r}, which is neither the student's nor a fixture")
        self.events.append({"op": "call", "fn": target, "args": self.encode(list(args)),
                            "kwargs": self.encode(dict(kwargs)), "call": call,
                            "forbidden": [m.__name__ for m in forbidden], "number": len(self.results)})

    def returned(self, result):
        """What the call last recorded returned: its form, and every list's and tuple's length."""
        event = self.events[-1]
        event["lengths"] = [[path, len(item), form(item)] for path, item in walk(result)
                            if isinstance(item, (list, tuple))]
        self._result_refs(result, {"r": "result", "call": len(self.results)})
        self.results.append((len(self.results), event["call"], result))

    def _comparison(self, got, expected, call, hints):
        usable = []
        for alternative, message in hints:
            try:
                usable.append([self.encode(np.asarray(alternative, dtype=np.float64)), message])
            except (TypeError, ValueError):  # never a hint: assert_matches skips it the same way
                continue
        return {"got": self._ref(got, call), "expected": self.encode(expected), "call": call, "hints": usable}

    def compared(self, got, expected, call, rtol, atol, hints):
        self.events.append({"op": "match", "rtol": rtol, "atol": atol,
                            **self._comparison(got, expected, call, hints)})

    def compared_all(self, results, rtol, atol):
        self.events.append({"op": "match_all", "rtol": rtol, "atol": atol,
                            "items": [self._comparison(*r) for r in results]})

    def compare_unread(self):
        """Compare every part of a result that no comparison or call used (the check read it itself: the
        reference's value is the one it accepts) to rounding (``UNREAD_RTOL``), right after the last event that used
        that result. A part that is not a number or a numeric array is not recordable."""
        used = {(ref["call"], tuple(ref["path"])) for ref in _result_refs_in(self.events)}
        for number, call, result in reversed(self.results):
            unread = [(path, item) for path, item in walk(result) if not isinstance(item, (list, tuple, dict))
                      and not any((number, tuple(path[:n])) in used for n in range(len(path) + 1))]
            if not unread:
                continue
            uses = [i for i, event in enumerate(self.events) if any(
                r["call"] == number for r in _result_refs_in(event)) or event.get("number") == number]
            at = max(uses) + 1
            for path, item in reversed(unread):
                if not isinstance(item, (float, int, np.ndarray, np.generic)) or isinstance(item, bool) \
                        or np.asarray(item).dtype.kind not in "iuf":
                    raise NotRecordable(f"the check reads part {path} of what {call} returned itself")
                self.events.insert(at, {"op": "match", "got": {"r": "result", "call": number, "path": path},
                                        "expected": self.encode(item), "call": f"{call}, part {path} of the result",
                                        "rtol": UNREAD_RTOL, "atol": UNREAD_ATOL, "hints": []})

    def named(self, local, name):
        self.locals[name] = local
        self._remember(local, {"r": "name", "name": name})


def split(source: str) -> tuple[str, str]:
    """(the lines before a test cell's hidden block, the block's code)."""
    lines = source.split("\n")
    start = next((i for i, line in enumerate(lines) if BEGIN_HIDDEN in line), len(lines))
    end = next((i for i, line in enumerate(lines) if END_HIDDEN in line), len(lines))
    return "\n".join(lines[:start]), "\n".join(lines[start + 1:end])


def hidden_call(source: str):
    """(module, check function, argument names) of a test cell's hidden block, or None."""
    try:
        tree = ast.parse(split(source)[1])
    except SyntaxError:
        return None
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    calls = [n.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    if len(imports) != 1 or len(calls) != 1 or not isinstance(calls[0].func, ast.Name) \
            or calls[0].keywords or not all(isinstance(a, ast.Name) for a in calls[0].args):
        return None
    return imports[0].module, calls[0].func.id, [a.id for a in calls[0].args]


@contextmanager
def environment(name: str, value: str):
    """The environment variable ``name`` set to ``value`` while the block runs."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def seeded(seed: int):
    """The grading seed ``seed`` while the block runs (as ``sandbox`` sets it for ``remote.run_hidden``)."""
    return environment(SEED_VARIABLE, str(seed))


def verdict(run) -> str:
    """"" when ``run()`` passes, else its message, as ``remote.run_hidden`` words it."""
    try:
        run()
    except CheckFailed as failure:
        return str(failure)
    except NotRecordable:
        raise
    except Exception as error:
        return f"the hidden tests could not run ({type(error).__name__}: {error})"
    return ""


def record(check, names: dict, seed: int, prefix: str, arrays: dict):
    """Run ``check`` on the functions ``names`` (argument name -> function, in order) with ``seed``;
    returns (events, the local stand-ins the check named, its verdict)."""
    recorder = Recorder(names, prefix, arrays)
    with seeded(seed), recording(recorder):
        message = verdict(lambda: check(*names.values()))
    if not message:
        recorder.compare_unread()
    return recorder.events, recorder.locals, message


# -- replaying ---------------------------------------------------------------------------------------

def replay_events(events, arrays, names: dict) -> None:
    """Make the recorded calls on the student's functions ``names`` and the recorded comparisons;
    raises CheckFailed as the hidden check does."""
    Replay(arrays, names).run(events)


class Replay:
    """The state of one replay: the student's functions, and what each call returned."""

    def __init__(self, arrays, names: dict):
        self.arrays, self.names = arrays, names
        self.results, self.calls = [], []  # what each call returned, and its event

    def run(self, events):
        for event in events:
            if event["op"] == "call":
                self.call(event)
            elif event["op"] == "match":
                got, expected, call, hints = self.comparison(event)
                assert_matches(got, expected, call, rtol=event["rtol"], atol=event["atol"], hints=hints)
            else:
                assert_all_match([self.comparison(i) for i in event["items"]], rtol=event["rtol"],
                                 atol=event["atol"])

    def decode(self, tree):
        return decode(tree, self.arrays, self.resolve)

    def call(self, event):
        fn = self.decode(event["fn"])
        forbidden = [importlib.import_module(m) for m in event["forbidden"]]
        self.calls.append(event)
        self.results.append(student_call(fn, *self.decode(event["args"]), call=event["call"],
                                         forbidden=forbidden, **self.decode(event["kwargs"])))

    def comparison(self, item):
        return (self.resolve(item["got"]), self.decode(item["expected"]), item["call"],
                [(self.decode(a), m) for a, m in item["hints"]])

    def resolve(self, ref):
        """The student's object that ``ref`` names: a function of theirs, or (part of) a call's result,
        which must have the form the reference's had (else a CheckFailed says so)."""
        if ref["r"] == "name":
            found = self.names.get(ref["name"])
            return found if found is not None else \
                student_global(next(iter(self.names.values()), None), ref["name"], None)
        value, event = self.results[ref["call"]], self.calls[ref["call"]]
        for depth in range(len(ref["path"]) + 1):
            value = self._step(value, event, ref, depth)
        if "as" in ref and as_array(value, ref["as"]) is None:
            raise CheckFailed(f"For {event['call']}: expected {int(np.prod(ref['as']))} number(s), got "
                              f"{form(value)}.")
        return as_array(value, ref["as"]) if "as" in ref else value

    @staticmethod
    def _step(value, event, ref, depth):
        """``value`` (the part at ``ref``'s path up to ``depth``) checked for its length, then its next part."""
        lengths = {tuple(path): (n, text) for path, n, text in event["lengths"]}
        n, text = lengths.get(tuple(ref["path"][:depth]), (None, ""))
        if n is not None and "as" not in ref and (not isinstance(value, (list, tuple)) or len(value) != n):
            where = f" as part {ref['path'][:depth]} of the result" if depth else ""
            raise CheckFailed(f"For {event['call']}: expected {text}{where}, got {form(value)}.")
        if depth == len(ref["path"]):
            return value
        try:
            return value[ref["path"][depth]]
        except (TypeError, KeyError, IndexError):
            raise CheckFailed(f"For {event['call']}: expected {text or 'another result'}, got {form(value)}.") \
                from None


def data_root() -> Path | None:
    """The folder of replay data in use: ``$SGD_COURSE_REPLAY_DATA``, else the installed one, if any."""
    if os.environ.get(DATA_VARIABLE):
        return Path(os.environ[DATA_VARIABLE])
    installed = importlib.resources.files("autograder").joinpath("replay_data")
    return Path(str(installed)) if installed.is_dir() else None


def index(root: Path) -> dict:
    return json.loads((root / "index.json").read_text())


def load(root: Path, assignment: str, cell: str, seed: int):
    """(events, arrays) recorded for ``cell`` with the recorded seed that ``seed`` picks: itself if it
    is one, else one of them."""
    data = json.loads((root / "records" / assignment / f"{cell}.json").read_text())
    seeds = [int(s) for s in data["seeds"]]
    chosen = seed if seed in seeds else seeds[seed % len(seeds)]
    with np.load(root / "records" / assignment / f"{cell}.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return data["seeds"][str(chosen)], arrays


def replay(assignment: str, cell: str, **names) -> None:
    """A test cell's hidden part in the student edition: replay what grading checks for ``cell``
    with the student's functions ``names``. A cell that is not replayable passes here (``check``
    reports that only its visible tests ran)."""
    root = data_root()
    if root is None:
        raise RuntimeError(f"no replay data: set {DATA_VARIABLE}")
    if not index(root)["assignments"][assignment]["cells"][cell]["replayable"]:
        return
    events, arrays = load(root, assignment, cell, run_seed())
    replay_events(events, arrays, names)


# -- the check notebooks -----------------------------------------------------------------------------

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


def check_notebook(source_nb, assignment: str):
    """The source notebook with every solution emptied (markers kept, so that building it gives the
    same student version), no mark scheme, and each hidden block a call of ``replay``."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        stub = RAISE_STUB if cell.cell_type == "code" else TEXT_STUB
        if BEGIN_SOLUTION in cell.source or "BEGIN MARK SCHEME" in cell.source:
            cell.source = _empty_solutions(cell.source, stub)
        elif meta.get("solution"):
            cell.source = stub
        if BEGIN_HIDDEN in cell.source:
            found = hidden_call(cell.source)
            visible = split(cell.source)[0].rstrip("\n")
            names = "".join(f", {n}={n}" for n in (found[2] if found else ()))
            cell.source = (f"{visible}\n### {BEGIN_HIDDEN}\nfrom autograder.replay import replay\n"
                           f"replay({assignment!r}, {meta['grade_id']!r}{names})\n### {END_HIDDEN}")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _empty_solutions(source: str, stub: str = RAISE_STUB) -> str:
    """A cell's source with each solution region holding only the stub, and no mark scheme (a mark
    scheme inside a solution region ends the scheme, not the region)."""
    lines, in_solution, in_scheme = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            lines += [line, line[:len(line) - len(line.lstrip())] + stub]
            in_solution = True
        elif "BEGIN MARK SCHEME" in line:
            in_scheme = True
        elif END_SOLUTION in line:
            lines.append(line)
            in_solution = in_scheme = False
        elif "END MARK SCHEME" in line:
            in_scheme = False
        elif not (in_solution or in_scheme):
            lines.append(line)
    return "\n".join(lines)


# -- bundle: record, verify, write ---------------------------------------------------------------------

def namespace(source_nb, answers: dict) -> dict:
    """The notebook's globals as a student's notebook with ``answers`` (grade_id -> code) defines them:
    its code cells run here, except test cells and experiments."""
    scope = {"__name__": "__main__"}
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or EXPERIMENT in cell.metadata.get("tags", []) or is_test_cell(cell):
            continue
        code = answers.get(meta.get("grade_id"), cell.source) if meta.get("solution") else cell.source
        code = "\n".join(line for line in code.split("\n") if not line.lstrip().startswith("%"))
        exec(compile(code, f"<{meta.get('grade_id', 'cell')}>", "exec"), scope)
    return scope


def variants(source_path: Path, assignment: str) -> dict:
    """What ``bundle`` verifies replays on: the reference answers, the unchanged student version and
    every demo bug, each as the notebook's globals."""
    from .demo import demo_bugs, reference_answers, with_bug
    source_nb = nbformat.read(source_path, as_version=4)
    answers = reference_answers(source_path)
    stubs = {gid: _empty_solutions(c.source) for c in source_nb.cells
             if (gid := c.metadata.get("nbgrader", {}).get("grade_id")) in answers and c.cell_type == "code"}
    out = {"reference": answers, "unchanged": stubs}
    out.update({bug.student: with_bug(answers, bug) for bug in demo_bugs(assignment)})
    return {name: namespace(source_nb, a) for name, a in out.items()}


def record_cell(found, spaces: dict, seeds) -> tuple[dict, dict, str]:
    """(recorded events per seed, arrays, why not replayable or "") of one test cell."""
    module, check_name, args = found
    check = getattr(importlib.import_module(module), check_name)
    with warnings.catch_warnings():  # what the demo bugs make numpy print is not the bundle's business
        warnings.simplefilter("ignore", RuntimeWarning)
        return _record_cell(check, args, spaces, seeds)


def _record_cell(check, args, spaces, seeds):
    by_seed, arrays = {}, {}
    for n, seed in enumerate(seeds):
        try:
            events, stand_ins, message = record(check, {a: spaces["reference"][a] for a in args}, seed,
                                                f"s{n}_", arrays)
        except NotRecordable as why:
            return {}, {}, str(why)
        if message:
            return {}, {}, f"the reference answers fail it with seed {seed}: {message}"
        by_seed[str(seed)] = events
        for variant, scope in spaces.items():
            fns = {a: scope[a] for a in args}
            with seeded(seed):
                want = verdict(lambda: check(*fns.values()))
                got = verdict(lambda: replay_events(events, arrays, {**scope, **stand_ins, **fns}))
            if got != want:
                return {}, {}, (f"its replay differs from grading for {variant} with seed {seed}: grading "
                                f"says {want or 'passed'!r}, the replay {got or 'passed'!r}")
    return by_seed, arrays, ""


def _fixtures_in(tree) -> set[str]:
    """The factory names of every recorded fixture in ``tree`` (recorded events, as JSON data)."""
    if isinstance(tree, dict):
        found = {tree["factory"]} if tree.get("t") == "fixture" else set()
        return found.union(*(_fixtures_in(v) for v in tree.values()))
    if isinstance(tree, list):
        return set().union(*(_fixtures_in(v) for v in tree))
    return set()


def bundle(source_root: Path, out: Path, *, seeds=SEEDS, released=()) -> None:
    """Write into ``out`` what the student edition's ``check`` needs (see the module's docstring):
    ``source_root`` is a course folder holding ``source/<assignment>/`` (or that ``source`` folder).

    A cell whose check hands the student's function a fixture that computes an answer of an assignment
    not in ``released`` (``solutions.open_fixtures``: the sanity check's gradient for ``sgd_iterates``,
    say) is not written: its code would give that answer away. It is marked not replayable."""
    given_away = open_fixtures(released)
    source_root = Path(source_root)
    source = source_root / "source" if (source_root / "source").is_dir() else source_root
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    summary = {"format": 1, "seeds": [int(s) for s in seeds], "assignments": {}}
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))):
        assignment, cells = folder.name, {}
        for path in sorted(folder.glob("*.ipynb")):
            source_nb = nbformat.read(path, as_version=4)
            spaces = variants(path, assignment)
            for cell in source_nb.cells:
                if BEGIN_HIDDEN not in cell.source:
                    continue
                found = hidden_call(cell.source)
                by_seed, arrays, why = record_cell(found, spaces, seeds) if found else \
                    ({}, {}, "its hidden block is not one call of a check on the notebook's functions")
                secret = sorted({given_away[name] for name in _fixtures_in(by_seed) if name in given_away})
                if secret:
                    by_seed, arrays, why = {}, {}, (
                        f"its check hands your functions test code that computes an answer of "
                        f"{', '.join(secret)}, which this edition does not hold before it is released")
                gid = cell.metadata["nbgrader"]["grade_id"]
                cells[gid] = {"notebook": path.stem, "replayable": not why, "reason": why}
                target = out / "records" / assignment
                target.mkdir(parents=True, exist_ok=True)
                (target / f"{gid}.json").write_text(json.dumps({"seeds": by_seed}))
                np.savez_compressed(target / f"{gid}.npz", **arrays)
            (out / "checks" / assignment).mkdir(parents=True, exist_ok=True)
            nbformat.write(check_notebook(source_nb, assignment), out / "checks" / assignment / path.name)
        summary["assignments"][assignment] = {"cells": cells}
    (out / "index.json").write_text(json.dumps(summary, indent=1))
