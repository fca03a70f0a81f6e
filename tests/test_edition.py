"""The student edition (issue 20), installed from its wheel into a fresh virtual environment with no clone
on ``sys.path``: no line of an open assignment's solution in any installed file, the stubs raise, the
released tools work, ``fetch``/``check``/``--version`` work and the instructor's commands say no; the
full package's own wheel (``pip install .``) holds no hidden tests and no notebooks; every release
notebook, with its model answers filled in, runs top to bottom against the edition that releases the
assignments before it.

One venv for the module: a fresh ``python -m venv`` holding the test environment's installed packages
(hard links: the same files, no download and no copy) but not sgd-course itself, into which ``pip install``
puts the first edition (its requirements must be met already, no index is asked); then editions are
swapped with ``pip install --no-deps --force-reinstall`` (seconds). Editions are built once, and the parts
of a build that do not depend on what is released (the release notebooks, the replay records) are made
once for them all (``shared_build_steps``); the byte-identity test builds without that."""

from __future__ import annotations

import ast
import contextlib
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import cli, demo, edition, replay
from autograder.grading import REPO_SOURCE
from autograder.solutions import ORDER, SOLUTIONS, released_before, stripped

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
EDITIONS = [released_before(a) for a in ORDER] + [tuple(ORDER)]
"""Each assignment's course-order edition (what is released before it), and the last week's (all)."""
SOLUTION_MARKS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
SHORTEST = 12
"""Lines shorter than this (without spaces) say nothing of a solution: ``return x``, ``else:``, ``)``."""


# -- fixtures: the editions, one venv ---------------------------------------------------------------------


class SharedBuildSteps:
    """The steps of ``edition.build`` that do not depend on what is released, made once for several builds:
    the release notebooks (nbgrader's build of the sources) and each test cell's replay record (a function
    of the cell, the notebook's variants and the seeds). The first build within ``shared()`` makes them as
    a build does; the later ones reuse them, and ``replay.bundle`` still decides per edition which records
    an edition may hold."""

    def __init__(self, folder: Path):
        self.folder, self.release, self.spaces, self.records = folder, {}, {}, {}

    def release_notebooks(self, source, tmp):
        if source not in self.release:
            tmp = self.folder / f"{len(self.release)}"
            tmp.mkdir()
            self.release[source] = self.real["release_notebooks"](source, tmp)
        return self.release[source]

    def variants(self, source_path, assignment):
        key = (Path(source_path).resolve(), assignment)
        if key not in self.spaces:
            self.spaces[key] = self.real["variants"](source_path, assignment)
        return self.spaces[key]

    def record_cell(self, found, spaces, seeds):
        key = (repr(found), id(spaces), tuple(int(s) for s in seeds))
        if key not in self.records:
            self.records[key] = self.real["record_cell"](found, spaces, seeds)
        return self.records[key]

    @contextlib.contextmanager
    def shared(self):
        self.real = {"release_notebooks": edition.release_notebooks, "variants": replay.variants,
                     "record_cell": replay.record_cell}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(edition, "release_notebooks", self.release_notebooks)
            patch.setattr(replay, "variants", self.variants)
            patch.setattr(replay, "record_cell", self.record_cell)
            yield


@pytest.fixture(scope="module")
def build_steps(tmp_path_factory):
    return SharedBuildSteps(tmp_path_factory.mktemp("build-steps"))


@pytest.fixture(scope="module")
def editions(tmp_path_factory, build_steps):
    """released -> (wheel, zip), each in a folder of its own; the first (releasing nothing) is built from
    scratch, the others share its release notebooks and replay records."""
    built = {}
    with build_steps.shared():
        for released in EDITIONS:
            out = tmp_path_factory.mktemp("edition")
            built[released] = edition.build(out, released, source=REPO_SOURCE.parent)
    return built


class Venv:
    """A fresh virtual environment; ``install`` swaps the edition in it."""

    def __init__(self, path: Path, cwd: Path):
        self.path, self.cwd, self.current = path, cwd, None
        self.python = path / "bin" / "python"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["MPLBACKEND"] = "Agg"
        return env

    def run(self, *args, check=False, timeout=600, cwd=None):
        return subprocess.run(list(map(str, args)), cwd=cwd or self.cwd, env=self.env(), capture_output=True,
                              text=True, timeout=timeout, check=check)

    def py(self, code: str, *args, **kwargs):
        return self.run(self.python, "-c", code, *args, **kwargs)

    def install(self, wheel: Path, *, deps=False):
        """``wheel`` in place of the installed edition; ``deps``: as a student's first ``pip install`` (the
        requirements must be installed already: ``--no-index``)."""
        if self.current == wheel:
            return
        extra = ["--no-index"] if deps else ["--no-deps", "--force-reinstall"]
        self.run(self.python, "-m", "pip", "install", "-q", *extra, wheel, check=True, timeout=1200)
        self.current = wheel

    def site(self) -> Path:
        return Path(self.py("import sysconfig; print(sysconfig.get_paths()['purelib'])", check=True).stdout.strip())


OWN = ("sgd_course", "__editable__", "course", "autograder")
"""Installed entries of the package itself (an editable install points at the clone): never linked."""


def link_tree(source: Path, target: Path) -> None:
    """``source`` (a file or folder) at ``target`` with hard links to its files (copies across file systems)."""
    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=link, dirs_exist_ok=True)
    else:
        link(source, target)


def link_dependencies(venv: Path) -> None:
    """The test environment's installed packages in the fresh ``venv`` (without pip, with no packages):
    its site-packages but sgd-course, its Jupyter data and configuration (JupyterLab's assets, nbgrader's
    extensions), and its console scripts written for the venv's Python, as pip writes them. Real files
    inside the venv: the grading sandbox mounts the environment's own folders only."""
    import sysconfig
    paths = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(OWN):
            link_tree(entry, Path(paths["purelib"]) / entry.name)
    for folder in ("share/jupyter", "etc/jupyter"):
        if (Path(sys.prefix) / folder).is_dir():
            link_tree(Path(sys.prefix) / folder, venv / folder)
    shebang = f"#!{Path(sys.prefix) / 'bin'}/"
    for script in (Path(sys.prefix) / "bin").iterdir():
        if script.is_file() and not script.is_symlink() and script.read_bytes().startswith(shebang.encode()):
            rest = script.read_text().split("\n", 1)[1]
            if not (venv / "bin" / script.name).exists():
                (venv / "bin" / script.name).write_text(f"#!{venv / 'bin' / 'python'}\n{rest}")
                (venv / "bin" / script.name).chmod(0o755)


@pytest.fixture(scope="module")
def venv(tmp_path_factory, editions):
    root = tmp_path_factory.mktemp("venv")
    cwd = root / "cwd"
    cwd.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], check=True)
    link_dependencies(root / "venv")
    env = Venv(root / "venv", cwd)
    env.install(editions[()][0], deps=True)
    seen = env.py("import importlib.util; print(importlib.util.find_spec('autograder.hidden_tests'))", check=True)
    assert seen.stdout.strip() == "None", "the venv must not see the clone"
    return env


# -- independent truths: what a solution's lines are ------------------------------------------------------


def normal(line: str) -> str:
    """A line as compared: no whitespace, one kind of quote (the edition's modules are unparsed)."""
    return re.sub(r"\s+", "", line).replace("'", '"')


def blocks(text: str, marks) -> list[str]:
    """The lines between the ``marks`` pairs of ``text``."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith(marks[0]):
            inside = True
        elif line.strip().startswith(marks[1]):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def outside(text: str) -> list[str]:
    """The lines of a source cell outside its solution and hidden-test blocks: what students get anyway."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith((SOLUTION_MARKS[0], HIDDEN_MARKS[0])):
            inside = True
        elif line.strip().startswith((SOLUTION_MARKS[1], HIDDEN_MARKS[1])):
            inside = False
        elif not inside:
            lines.append(line)
    return lines


def source_cells(assignment: str):
    return [c for p in sorted((REPO_SOURCE / assignment).glob("*.ipynb")) for c in nbformat.read(p, 4).cells]


def functions(module: str) -> dict[str, ast.AST]:
    """Qualified name -> def node of ``course/<module>.py`` (the full package's source)."""
    tree = ast.parse((ROOT / "course" / f"{module}.py").read_text())
    out = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[prefix + node.name] = node
    visit(tree.body, "")
    return out


def body_lines(module: str, name: str) -> list[str]:
    """The lines of the full package's ``course.<module>.<name>`` from its first body line (docstring
    included) to its end."""
    node = functions(module)[name]
    lines = (ROOT / "course" / f"{module}.py").read_text().splitlines()
    return lines[node.body[0].lineno - 1:node.end_lineno]


def public_lines(released) -> set[str]:
    """Lines every edition may hold: the source notebooks outside their solution and hidden-test blocks,
    the full package's course/ outside the functions of open assignments, the autograder modules a
    student gets, and the released assignments' solutions."""
    lines = []
    for assignment in ORDER:
        for cell in source_cells(assignment):
            lines += outside(cell.source)
            if assignment in released and cell.cell_type == "code":
                lines += blocks(cell.source, SOLUTION_MARKS)
    secret = {(module, name) for assignment in ORDER if assignment not in released
              for module, names in SOLUTIONS[assignment].items() for name in names}
    for path in sorted((ROOT / "course").glob("*.py")):
        text = path.read_text().splitlines()
        hidden = set()
        for name, node in functions(path.stem).items():
            if (path.stem, name) in secret:
                hidden.update(range(node.body[0].lineno - 1, node.end_lineno))
        lines += [line for i, line in enumerate(text) if i not in hidden]
    for path in sorted((ROOT / "autograder").glob("*.py")):
        if path.name not in ("bugs.py", "demo.py"):
            lines += path.read_text().splitlines()
    return {normal(line) for line in lines}


def secret_lines(released) -> dict[str, str]:
    """normal form -> where it comes from: the non-trivial lines of every open assignment's solutions
    (the source notebooks' solution blocks, the reference functions' bodies and docstrings) and of every
    model answer, mark scheme and hidden-test block (released or not)."""
    public = public_lines(released)
    found = {}

    def add(line, where):
        key = normal(line)
        if len(key) >= SHORTEST and key not in public and not key.startswith("#"):
            found.setdefault(key, where)

    for assignment in ORDER:
        for cell in source_cells(assignment):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
            for line in blocks(cell.source, HIDDEN_MARKS):
                add(line, f"{assignment}:{grade_id} (hidden tests)")
            if cell.cell_type == "markdown" or assignment not in released:
                for line in blocks(cell.source, SOLUTION_MARKS):
                    add(line, f"{assignment}:{grade_id}")
        if assignment not in released:
            for module, names in SOLUTIONS[assignment].items():
                for name in names:
                    for line in body_lines(module, name):
                        add(line, f"course.{module}.{name}")
    return found


def constants(code) -> list[str]:
    """Every string constant of a code object and the code objects within it."""
    out = []
    for const in code.co_consts:
        if isinstance(const, str):
            out.append(const)
        elif hasattr(const, "co_consts"):
            out += constants(const)
    return out


def strings(data) -> list[str]:
    """Every string in JSON data (keys too)."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in strings(k) + strings(v)]
    if isinstance(data, list):
        return [s for item in data for s in strings(item)]
    return []


def installed_files(venv: Venv) -> list[Path]:
    site = venv.site()
    files = [p for name in ("course", "autograder") for p in (site / name).rglob("*") if p.is_file()]
    files += [p for info in site.glob("sgd_course-*.dist-info") for p in info.rglob("*") if p.is_file()]
    return files


def leaks(files, secrets_: dict[str, str]) -> list[str]:
    """'file: line (source)' for each secret line found in ``files`` (text, notebooks, bytecode)."""
    found = []
    for path in files:
        if path.suffix == ".pyc":
            texts = [line for const in constants(marshal.loads(path.read_bytes()[16:]))
                     for line in const.splitlines()]
        elif path.suffix == ".ipynb":
            texts = [line for cell in nbformat.read(path, 4).cells for line in cell.source.splitlines()]
        elif path.suffix == ".json":
            texts = [line for text in strings(json.loads(path.read_text())) for line in text.splitlines()]
        else:
            texts = path.read_bytes().decode("utf-8", "replace").splitlines()
        for line in texts:
            if normal(line) in secrets_:
                found.append(f"{path.name}: {line.strip()} ({secrets_[normal(line)]})")
    return found


# -- the edition's files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("released", EDITIONS, ids=lambda r: "+".join(r) or "none")
def test_no_line_of_an_open_solution_in_any_installed_file(editions, venv, released):
    wheel, archive = editions[released]
    venv.install(wheel)
    venv.run(venv.python, "-m", "compileall", "-q", venv.site() / "course", venv.site() / "autograder", check=True)
    files = installed_files(venv)
    names = {p.relative_to(venv.site()).as_posix() for p in files}
    assert not [n for n in names if "hidden_tests" in n or n.endswith(("bugs.py", "demo.py"))], names
    assert not [n for n in names if "/source/" in n or "instructor" in n]
    secrets_ = secret_lines(released)
    assert len(secrets_) > 20, "the truth must not be empty"
    assert leaks(files, secrets_) == []
    # the zip: the release notebooks and the README
    with zipfile.ZipFile(archive) as z:
        unpacked = archive.parent / "unpacked"
        z.extractall(unpacked)
    assert leaks([p for p in unpacked.rglob("*") if p.is_file() and p.suffix != ".whl"], secrets_) == []
    shutil.rmtree(unpacked)


def test_the_search_finds_every_open_solution_in_the_full_package():
    """The truth bites: searched the same way, the full package's course/ and source notebooks hold a
    line of every stripped function and of every assignment's notebook solutions."""
    secrets_ = secret_lines(())
    found = leaks(sorted((ROOT / "course").glob("*.py")) + sorted(REPO_SOURCE.glob("*/*.ipynb")), secrets_)
    where = {line.rsplit("(", 1)[1].rstrip(")") for line in found}
    for assignment in ORDER:
        assert any(w.startswith(f"{assignment}:") for w in where), assignment
        for module, names in SOLUTIONS[assignment].items():
            missing = [n for n in names if f"course.{module}.{n}" not in where]
            assert not missing, f"no line of course.{module}.{missing} is searched for"


def test_every_function_the_list_strips_keeps_its_signature_and_only_raises(monkeypatch):
    """In process, on the edition's sources: each function of ``solutions.stripped`` (one named by no
    assignment too) keeps its signature and decorators; its body is a note and a raise, nothing else."""
    strip = {module: set(names) for module, names in stripped(()).items()}
    strip["schedules"].add("partial_sums")   # as an allow-list might strip a tool: stripped all the same
    monkeypatch.setattr(edition, "stripped", lambda released=(): strip)
    files = edition.course_files(ROOT / "course", ())
    for module, names in strip.items():
        edited = {}
        tree = ast.parse(files[f"course/{module}.py"])
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                edited.update({f"{node.name}.{n.name}": n for n in node.body if isinstance(n, ast.FunctionDef)})
        edited.update({n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)})
        for name in names:
            full, stub = functions(module)[name], edited[name]
            assert ast.dump(stub.args) == ast.dump(full.args), f"course.{module}.{name}: signature changed"
            assert [ast.dump(d) for d in stub.decorator_list] == [ast.dump(d) for d in full.decorator_list]
            assert len(stub.body) == 2 and isinstance(stub.body[1], ast.Raise), f"course.{module}.{name}"
            assert "not in this edition" in stub.body[0].value.value


def test_bytecode_is_compiled_from_the_installed_sources_only(editions, venv):
    venv.install(editions[()][0])
    site = venv.site()
    venv.run(venv.python, "-m", "compileall", "-q", site / "course", site / "autograder", check=True)
    for pyc in [p for name in ("course", "autograder") for p in (site / name).rglob("*.pyc")]:
        source = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        assert pyc.parent.name == "__pycache__" and source.is_file(), f"bytecode without its source: {pyc}"
        compiled = compile(source.read_bytes(), str(source), "exec", dont_inherit=True,
                           optimize=int(".opt-" in pyc.name and pyc.name.split(".opt-")[1][0]))
        assert marshal.loads(pyc.read_bytes()[16:]) == compiled, f"{pyc} is not {source} compiled"


INSPECT = """
import importlib, inspect, json, sys, textwrap
import course
out = {"file": course.__file__, "functions": {}}
for module, names in json.loads(sys.argv[1]).items():
    mod = importlib.import_module("course." + module)
    for name in names:
        owner, attr = (getattr(mod, name.split(".")[0]), name.split(".")[1]) if "." in name else (mod, name)
        fn = getattr(owner, attr)
        required = [p for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
        args = [None for p in required if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        kwargs = {p.name: None for p in required if p.kind == p.KEYWORD_ONLY}
        try:
            fn(*args, **kwargs)
            called = "returned"
        except NotImplementedError as error:
            called = "NotImplementedError: " + str(error)
        except Exception as error:
            called = "raised " + type(error).__name__
        out["functions"][module + "." + name] = {"called": called,
                                                 "source": textwrap.dedent(inspect.getsource(fn))}
print(json.dumps(out))
"""
"""Run in the venv: each named course function's source and what calling it with None arguments does."""


def inspected(venv: Venv, names: dict) -> dict:
    """``INSPECT`` on ``names`` (module -> function names)."""
    names = {module: sorted(fns) for module, fns in names.items()}
    result = json.loads(venv.py(INSPECT, json.dumps(names), check=True).stdout)
    assert Path(result["file"]).is_relative_to(venv.path), "course must come from the venv, not a clone"
    return result["functions"]


def test_each_open_solution_raises_naming_its_assignment(editions, venv):
    released = ("step_sizes",)
    venv.install(editions[released][0])
    open_ = [a for a in ORDER if a not in released]
    functions_ = inspected(venv, stripped(released))
    assert set(functions_) == {f"{m}.{n}" for m, names in stripped(released).items() for n in names}
    for assignment in open_:
        for module, fns in SOLUTIONS[assignment].items():
            for name in fns:
                called = functions_[f"{module}.{name}"]["called"]
                assert called.startswith("NotImplementedError") and assignment in called \
                    and "write your own" in called, (module, name, called)


def test_released_solutions_are_the_full_packages_and_work(editions, venv):
    released = ("step_sizes", "gd_vs_sgd")
    venv.install(editions[released][0])
    names = {}
    for assignment in released:
        for module, fns in SOLUTIONS[assignment].items():
            names.setdefault(module, []).extend(fns)
    for key, seen in inspected(venv, names).items():
        module, name = key.split(".", 1)
        assert ast.dump(ast.parse(seen["source"]).body[0]) == ast.dump(functions(module)[name]), \
            f"course.{key} differs from the full package's"
        assert not seen["called"].startswith("NotImplementedError"), key
    # and they compute: the step sizes of the lecture's schedules, checked against their formulas
    taus = venv.py("from course import schedules as s; print(s.constant(0.3)(5), s.geometric(1.0, 0.5)(3), "
                   "s.inverse_power(2.0, 0.5)(16))", check=True).stdout.split()
    assert [float(t) for t in taus] == pytest.approx([0.3, 0.125, 0.5])


# -- the edition's commands ------------------------------------------------------------------------------------


def test_version_names_the_released_assignments(editions, venv):
    from packaging.version import Version
    for released, label in (((), "released.none"), (("step_sizes", "gd_vs_sgd"), "released.stepsizes.gdvssgd")):
        wheel, archive = editions[released]
        assert wheel.name == f"sgd_course-{VERSION}+{label}-py3-none-any.whl"
        assert archive.name == f"sgd-course-student-edition-{label}.zip"
        venv.install(wheel)
        out = venv.run(venv.path / "bin" / "sgd-course", "--version", check=True).stdout.strip()
        assert out == f"sgd-course {VERSION}+{label}"
        assert Version(out.split()[1]).local == label and str(Version(out.split()[1])) == out.split()[1]


def test_zip_holds_the_wheel_the_release_notebooks_and_a_readme(editions):
    wheel, archive = editions[()]
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        readme = z.read("README.txt").decode()
    expected = {f"release/{p.parent.name}/{p.name}" for p in REPO_SOURCE.glob("*/*.ipynb")}
    assert names == {wheel.name, "README.txt"} | expected
    for word in (f"pip install {wheel.name}", "sgd-course fetch", "sgd-course lab", "sgd-course check"):
        assert word in readme


def test_fetch_and_check_work_from_the_edition(editions, venv, tmp_path):
    venv.install(editions[()][0])
    sgd = venv.path / "bin" / "sgd-course"
    fetched = venv.run(sgd, "fetch", "step_sizes", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    nb = nbformat.read(tmp_path / "work" / "step_sizes" / "step_sizes.ipynb", 4)
    source = nbformat.read(REPO_SOURCE / "step_sizes" / "step_sizes.ipynb", 4)
    ids = lambda book: [c.metadata.get("nbgrader", {}).get("grade_id") for c in book.cells]  # noqa: E731
    assert ids(nb) == ids(source)
    assert not any("BEGIN SOLUTION" in c.source or "HIDDEN TESTS" in c.source for c in nb.cells)
    unknown = venv.run(sgd, "fetch", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    checked = venv.run(sgd, "check", "work/step_sizes/step_sizes.ipynb", cwd=tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr and "not answered yet" in checked.stdout


@pytest.mark.parametrize("command", [["build"], ["grade", "step_sizes", "--csv", "g.csv"], ["demo"],
                                     ["export", "step_sizes", "--csv", "g.csv"], ["lab", "--instructor"]],
                         ids=lambda c: " ".join(c[:2]))
def test_the_instructors_commands_say_this_is_the_student_edition(editions, venv, tmp_path, command):
    venv.install(editions[()][0])
    result = venv.run(venv.path / "bin" / "sgd-course", *command, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "student edition" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


# -- building -------------------------------------------------------------------------------------------------------


def test_an_unknown_released_assignment_is_one_line(tmp_path, capsys):
    status = cli.main(["build", "--student-edition", str(tmp_path / "out"), "--released", "step_sizes,nope"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "nope" in err
    assert not (tmp_path / "out").exists()


def test_out_holding_other_files_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    status = cli.main(["build", "--student-edition", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "notes.txt" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_only_files_of_out_that_the_manifest_names_are_replaced(tmp_path):
    """The manifest is a file in a folder someone else may write into: it never reaches outside it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / edition.MANIFEST).write_text(f"../victim.txt\n{victim}\nold.whl\n")
    assert edition.check_out(out) == []
    (out / "old.whl").write_bytes(b"an earlier edition")
    assert edition.check_out(out) == ["old.whl"]
    (out / "old.whl").unlink()
    (out / "old.whl").mkdir()   # a folder where the manifest names a file: not ours
    with pytest.raises(edition.EditionRefused, match="old.whl"):
        edition.check_out(out)
    assert victim.read_text() == "mine"


def test_a_second_build_replaces_only_what_the_first_wrote_and_gives_the_same_bytes(editions, build_steps,
                                                                                     tmp_path):
    wheel, archive = editions[()]   # built from scratch
    out = tmp_path / "out"
    shutil.copytree(wheel.parent, out)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == sorted([edition.MANIFEST, wheel.name, archive.name])
    again = edition.build(out, (), source=REPO_SOURCE.parent)   # from scratch again
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first, "the same sources give the same bytes"
    assert again == (out / wheel.name, out / archive.name)
    with build_steps.shared():   # what is replaced is the point here, not how the files are made
        other = edition.build(out, ("step_sizes",), source=REPO_SOURCE.parent)
    assert sorted(p.name for p in out.iterdir()) == sorted([edition.MANIFEST, other[0].name, other[1].name])


def test_the_replay_data_ships_in_the_wheel(editions):
    """``autograder.replay.bundle`` (issue 20, point 4) writes what ``check`` replays: it is in the wheel."""
    with zipfile.ZipFile(editions[()][0]) as z:
        assert any(n.startswith(f"autograder/{edition.REPLAY_DATA}/") for n in z.namelist())


# -- the full package's own wheel (point 6) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_wheel(tmp_path_factory):
    """``pip wheel`` of the full package, from a copy of the clone's tracked files (as ``pip install .``)."""
    tmp = tmp_path_factory.mktemp("full")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if (ROOT / name).is_file():
            (tmp / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", tmp / "src"],
                   check=True, capture_output=True)
    return next((tmp / "dist").glob("sgd_course-*.whl"))


def test_the_full_wheel_holds_course_and_autograder_only(full_wheel):
    names = zipfile.ZipFile(full_wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"course", "autograder", f"sgd_course-{VERSION}.dist-info"}, tops
    assert not [n for n in names if "hidden_tests" in n or n.endswith(".ipynb") or "notebooks/" in n]
    assert "autograder/cli.py" in names and "course/nn.py" in names


def test_the_full_wheel_installed_says_what_it_lacks(full_wheel, venv, tmp_path):
    venv.install(full_wheel)
    sgd = venv.path / "bin" / "sgd-course"
    fetched = venv.run(sgd, "fetch", "adagrad", cwd=tmp_path)
    assert fetched.returncode != 0 and fetched.stderr.strip().count("\n") == 0, fetched.stderr
    assert "give the folder holding source/<assignment>/ with --course" in fetched.stderr
    graded = venv.run(sgd, "grade", "adagrad", "--csv", "g.csv", cwd=tmp_path)
    assert graded.returncode == 2 and "no hidden tests" in graded.stderr, graded.stderr
    assert graded.stderr.strip().count("\n") == 0
    assert venv.run(sgd, "--version", check=True).stdout.strip() == f"sgd-course {VERSION}"


# -- the release notebooks in course order --------------------------------------------------------------------------


RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], 4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
# an explorer draws inside an Output widget: an error there is in the widget's state, not the cell's outputs
state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
errors = [o for model in state.values() for o in model.get("state", {}).get("outputs", [])
          if o.get("output_type") == "error"]
if errors:
    sys.exit("Error in an explorer's output: " + "; ".join(f"{e['ename']}: {e['evalue']}" for e in errors))
print("ran", len(nb.cells), "cells")
"""


@pytest.mark.parametrize("assignment", ORDER)
def test_each_release_notebook_with_its_answers_runs_against_the_edition_before_it(editions, venv, tmp_path,
                                                                                   assignment):
    venv.install(editions[released_before(assignment)][0])
    with zipfile.ZipFile(editions[released_before(assignment)][1]) as z:
        z.extractall(tmp_path)
    for release in sorted((tmp_path / "release" / assignment).glob("*.ipynb")):
        path = tmp_path / f"answered-{release.name}"
        path.write_text(demo.fill_in(release, demo.reference_answers(REPO_SOURCE / assignment / release.name)))
        result = venv.py(RUN_NOTEBOOK, path, tmp_path, timeout=1800)
        errors = [line for line in result.stderr.splitlines() if "Error" in line][-3:]
        assert result.returncode == 0, f"{assignment}: " + " | ".join(errors or result.stderr.splitlines()[-3:])


def test_a_release_notebook_runs_in_jupyterlab_from_the_edition_and_a_slider_moves(editions, venv, tmp_path,
                                                                                     browser):
    """As a student of the first week: the edition releasing nothing, the first notebook fetched and
    answered, run in JupyterLab (the venv's) in Chromium, and a slider of its explorer moved."""
    import browser_helpers as bh
    venv.install(editions[()][0])
    assert venv.run(venv.path / "bin" / "sgd-course", "fetch", "step_sizes", cwd=tmp_path).returncode == 0
    path = tmp_path / "work" / "step_sizes" / "step_sizes.ipynb"
    path.write_text(demo.fill_in(path, demo.reference_answers(REPO_SOURCE / "step_sizes" / "step_sizes.ipynb")))
    server = bh.LabServer(tmp_path / "work", tmp_path / "lab-state", python=str(venv.python))
    try:
        page = browser.new_page()
        try:
            page.set_default_timeout(60_000)
            nb = bh.Notebook(page, server, "step_sizes/step_sizes.ipynb")
            cells = nb.run_all()
            errors = [f"cell {c['index'] + 1}: {t.strip().splitlines()[-1]}" for c in cells
                      for t in c["stderr"] if bh.is_error(t)]
            assert not errors, errors
            explorer = next(c["index"] for c in cells if c["controls"])
            slider = next(n for n, c in enumerate(nb.controls(explorer)) if c["kind"] == "slider")
            before = nb.snapshot(explorer)
            old, new = nb.move(explorer, slider)
            assert old != new, "the slider did not move"
            nb.wait_changed(explorer, before, what=f"slider moved from {old} to {new}")
            errors = [f"cell {c['index'] + 1}: {t.strip().splitlines()[-1]}" for c in nb.cells()
                      for t in c["stderr"] if bh.is_error(t)]
            assert not errors, errors
        finally:
            page.close()
    finally:
        server.stop()
