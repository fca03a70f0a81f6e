"""The student edition: what a student of a graded class installs, with no solution of an open assignment.

    sgd-course build --student-edition OUT [--released A,B,...]

writes into the folder OUT (new, empty, or holding only what an earlier edition build wrote there):

- ``sgd_course-<version>+released.<names>-py3-none-any.whl``: the package as a student uses it. ``course``
  with the functions of ``solutions.stripped(released)`` as stubs (signature kept; docstring and body
  replaced by a note and ``raise NotImplementedError``), ``autograder`` without the hidden tests, the demo
  bugs and the instructor's Jupyter set-up, the release notebooks as package data (``sgd-course fetch``
  needs no clone) and the data ``sgd-course check`` replays (``autograder.replay.bundle``);
- ``sgd-course-student-edition-<label>.zip``: that wheel, the release notebooks
  (``release/<assignment>/*.ipynb``, built by nbgrader as ``sgd-course build`` builds them) and a
  README.txt for students, to upload to Moodle or Canvas.

The wheel is written here with the standard library (``zipfile``, the wheel format's METADATA, WHEEL,
entry_points.txt and RECORD), not by setuptools: the file list is exactly the staged, stripped files (a
setuptools build reuses its ``build/lib`` folder, where a full source file or its bytecode from an
earlier build could slip in), no build tool has to be installed, and the same sources give the same
bytes (fixed file times and order). The wheel holds no bytecode: pip compiles the stripped sources when
it installs them.

The local version label names the released assignments (``0.1.0+released.stepsizes.gdvssgd``,
``0.1.0+released.none``), so ``sgd-course --version`` says what an installed edition holds. An installed
edition is recognised by ``autograder/student_edition.json``; there, the instructor's commands
(``refusal``) are one line, not a traceback.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from .solutions import ORDER, SOLUTIONS, check_assignments, package_dir, stripped

DISTRIBUTION = "sgd-course"
MARK = "student_edition.json"
"""In an edition's ``autograder/``: the released assignments (its presence makes the package an edition)."""
RELEASE = "release"
"""In an edition's ``autograder/``: the release notebooks, ``release/<assignment>/<notebook>.ipynb``."""
REPLAY_DATA = "replay_data"
"""In an edition's ``autograder/``: what ``autograder.replay.bundle`` wrote for ``sgd-course check``."""
MANIFEST = ".sgd-course-edition"
"""In OUT: the files an edition build wrote there (the next build may replace them, nothing else)."""
LEFT_OUT = ("hidden_tests", "bugs.py", "demo.py", "jupyter/instructor")
"""Parts of ``autograder`` a student never uses, and that state answers or mark schemes."""
PACKAGE_DATA = ("templates", "jupyter")
"""Folders of ``autograder`` shipped as package data (pyproject.toml's package-data)."""
INSTRUCTOR_COMMANDS = ("build", "grade", "demo", "export")
NEEDS_HIDDEN_TESTS = ("grade", "demo")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class EditionRefused(Exception):
    """The edition cannot be written into OUT (it holds files the build did not write)."""


# -- the edition as installed ---------------------------------------------------------------------------


def installed() -> tuple[str, ...] | None:
    """The released assignments of the installed edition; None for the full package."""
    mark = Path(__file__).resolve().parent / MARK
    if not mark.is_file():
        return None
    return tuple(json.loads(mark.read_text())["released"])


def release_folder() -> Path:
    """The release notebooks shipped with an installed edition."""
    return Path(__file__).resolve().parent / RELEASE


def refusal(command: str, instructor: bool = False) -> str | None:
    """Why ``command`` cannot run in this installation (one line), or None. ``instructor``: ``lab
    --instructor``."""
    if installed() is not None and (command in INSTRUCTOR_COMMANDS or instructor):
        what = "lab --instructor" if instructor else command
        return (f"this is the student edition of sgd-course ({version()}): `sgd-course {what}` is the "
                "instructor's command and needs the full package (a clone of the course: pip install -e .)")
    if command in NEEDS_HIDDEN_TESTS and importlib.util.find_spec("autograder.hidden_tests") is None:
        return (f"this installation of sgd-course ({version()}) has no hidden tests (a wheel holds none), so "
                f"`sgd-course {command}` cannot grade: grade from a clone of the course (pip install -e .)")
    return None


def version() -> str:
    """The installed distribution's version (an edition's names its released assignments)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


# -- names ------------------------------------------------------------------------------------------------


def released_names(released: Iterable[str]) -> tuple[str, ...]:
    """``released`` checked (ValueError names an unknown one), without repeats, in the course order."""
    given = set(check_assignments(released))
    return tuple(name for name in ORDER if name in given)


def local_label(released: Sequence[str]) -> str:
    """The PEP 440 local label (letters and digits between dots): ``released.stepsizes.gdvssgd``."""
    parts = ["".join(ch for ch in name.lower() if ch.isalnum()) for name in released]
    return "released." + (".".join(parts) if parts else "none")


def edition_version(released: Sequence[str]) -> str:
    base = version().split("+")[0]
    return f"{base}+{local_label(released)}"


# -- stripping the solutions --------------------------------------------------------------------------------


def solution_of(released: Iterable[str]) -> dict[str, dict[str, str]]:
    """Module -> {qualified function name -> the (first open) assignment it is the solution of}, for the
    functions ``solutions.stripped(released)`` names (each of them: one named by no assignment of
    ``SOLUTIONS`` is given the first open one)."""
    released = tuple(released)
    first_open = next((a for a in ORDER if a not in set(released)), ORDER[-1])
    owner = {}
    for assignment in reversed(ORDER):   # the first assignment naming a function wins
        if assignment not in released:
            owner.update({(module, name): assignment for module, names in SOLUTIONS.get(assignment, {}).items()
                          for name in names})
    return {module: {name: owner.get((module, name), first_open) for name in sorted(names)}
            for module, names in stripped(released).items()}


def stub_message(module: str, name: str, assignment: str) -> str:
    return (f"course.{module}.{name} is the solution of the assignment {assignment}: it is not in this "
            f"edition of the course until {assignment} is released; write your own in the notebook")


def strip_for_edition(source: str, module: str, names: dict[str, str]) -> str:
    """``source`` with each function of ``names`` (qualified name -> assignment) keeping its signature and
    decorators, its docstring and body replaced by a note and ``raise NotImplementedError``. Comments go
    too (the module is unparsed). Raises KeyError for a name not defined."""
    tree = ast.parse(source)
    found: set[str] = set()

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and prefix + node.name in names:
                name = prefix + node.name
                found.add(name)
                assignment = names[name]
                note = f"Solution of the assignment {assignment}: not in this edition until {assignment} is released."
                stub = f"raise NotImplementedError({stub_message(module, name, assignment)!r})"
                node.body = [ast.Expr(ast.Constant(note)), *ast.parse(stub).body]

    visit(tree.body, "")
    missing = set(names) - found
    if missing:
        raise KeyError(f"course/{module}.py does not define {', '.join(sorted(missing))}")
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def course_files(package: Path, released: Iterable[str]) -> dict[str, bytes]:
    """``course/<module>.py`` -> its text in the edition."""
    strip = solution_of(released)
    files = {}
    for path in sorted(package.glob("*.py")):
        text = path.read_text()
        if path.stem in strip:
            text = strip_for_edition(text, path.stem, strip[path.stem])
        files[f"course/{path.name}"] = text.encode()
    unknown = set(strip) - {path.stem for path in package.glob("*.py")}
    if unknown:
        raise KeyError(f"solutions.SOLUTIONS names modules course does not have: {', '.join(sorted(unknown))}")
    return files


def autograder_files(package: Path) -> dict[str, bytes]:
    """``autograder/...`` -> content: the modules and package data a student uses (not ``LEFT_OUT``)."""
    paths = [p for p in sorted(package.glob("*.py")) if p.name not in LEFT_OUT]
    for folder in PACKAGE_DATA:
        paths += [p for p in sorted((package / folder).rglob("*")) if p.is_file()
                  and "__pycache__" not in p.parts and p.suffix != ".pyc"
                  and not any(p.relative_to(package).as_posix().startswith(left) for left in LEFT_OUT)]
    return {f"autograder/{p.relative_to(package).as_posix()}": p.read_bytes() for p in paths}


def folder_files(folder: Path, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}/{p.relative_to(folder).as_posix()}": p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- building ------------------------------------------------------------------------------------------------


def release_notebooks(source: Path, tmp: Path) -> Path:
    """The release/ folder nbgrader builds from the course directory ``source`` (holding source/)."""
    from .grading import Course
    course = Course.from_sources(tmp / "course", source=source / "source")
    course.build()
    return course.root / "release"


def replay_files(source: Path, tmp: Path, released: Sequence[str]) -> dict[str, bytes]:
    """What ``autograder.replay.bundle`` writes for ``check`` (with its own build-time seeds; no cell
    whose data would give an open assignment's answer away)."""
    from . import replay
    out = tmp / REPLAY_DATA
    replay.bundle(source, out, released=released)
    return folder_files(out, f"autograder/{REPLAY_DATA}")


def metadata_text(version_: str) -> str:
    """The wheel's METADATA: the installed distribution's name, summary and (non-extra) requirements."""
    meta = metadata.metadata(DISTRIBUTION)
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version_}",
             f"Summary: {meta['Summary']} (student edition)"]
    if meta.get("Requires-Python"):
        lines.append(f"Requires-Python: {meta['Requires-Python']}")
    lines += [f"Requires-Dist: {req}" for req in metadata.requires(DISTRIBUTION) or [] if "extra ==" not in req]
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A zip of ``files`` with fixed times and order (the same files give the same bytes)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def write_wheel(folder: Path, files: dict[str, bytes], version_: str) -> Path:
    """A pure-Python wheel of ``files`` (path in the wheel -> content) into ``folder``."""
    stem = f"{DISTRIBUTION.replace('-', '_')}-{version_}"
    info = f"{stem}.dist-info"
    files = dict(sorted(files.items()))
    files[f"{info}/METADATA"] = metadata_text(version_).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: sgd-course (autograder.edition)\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nsgd-course = autograder.__main__:main\n"
    files[f"{info}/top_level.txt"] = b"autograder\ncourse\n"
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    path = folder / f"{stem}-py3-none-any.whl"
    _write_zip(path, files)
    return path


STUDENT_README = """\
sgd-course, student edition {version}
{released}

1. Install it (Python 3.11 or newer; a virtual environment is best):
       python -m venv sgd && . sgd/bin/activate        (Windows: sgd\\Scripts\\activate)
       pip install {wheel}
2. Get your own copy of an assignment (never overwrites your work):
       sgd-course fetch step_sizes          -> work/step_sizes/step_sizes.ipynb
3. Work on it in JupyterLab:
       sgd-course lab
4. Check it as grading will, before you hand it in:
       sgd-course check work/step_sizes/step_sizes.ipynb

The folder release/ holds the same notebooks as `sgd-course fetch` gives you. Each week your instructor
hands out a new edition: pip install --force-reinstall --no-deps <its wheel>; your work/ stays.
"""


def student_readme(version_: str, released: Sequence[str], wheel: str) -> str:
    what = (f"The solutions of {', '.join(released)} are in it (their deadlines have passed)." if released
            else "It holds no solution of any assignment.")
    return STUDENT_README.format(version=version_, released=what, wheel=wheel)


def edition_files(source: Path, release: Path, released: Sequence[str], tmp: Path) -> dict[str, bytes]:
    """Every file of the edition's wheel (path in the wheel -> content); ``release``: the release notebooks."""
    files = course_files(package_dir("course"), released)
    files.update(autograder_files(Path(__file__).resolve().parent))
    files.update(folder_files(release, f"autograder/{RELEASE}"))
    files.update(replay_files(source, tmp, released))
    files[f"autograder/{MARK}"] = (json.dumps({"released": list(released)}) + "\n").encode()
    return files


def check_out(out: Path) -> list[str]:
    """The files an earlier edition build wrote into ``out`` (to be replaced); EditionRefused when ``out``
    is a file or holds anything else."""
    if out.exists() and not out.is_dir():
        raise EditionRefused(f"{out} is a file; give a new or empty folder for the student edition")
    if not out.is_dir():
        return []
    manifest = out / MANIFEST
    listed = set(manifest.read_text().splitlines()) if manifest.is_file() else set()
    entries = [p for p in out.iterdir() if p.name != MANIFEST]
    others = sorted(p.name for p in entries if p.name not in listed or not p.is_file())
    if others:
        raise EditionRefused(f"{out} holds files an edition build did not write ({', '.join(others)}); "
                             "give a new or empty folder (nothing was written)")
    return sorted(p.name for p in entries)


def build(out, released: Iterable[str] = (), *, source) -> tuple[Path, Path]:
    """Write the edition releasing ``released`` into ``out`` from the course directory ``source`` (the folder
    holding source/<assignment>/): returns (wheel, zip). ValueError names an unknown assignment;
    EditionRefused leaves ``out`` as it was."""
    out, source = Path(out), Path(source)
    released = released_names(released)
    previous = check_out(out)
    version_ = edition_version(released)
    with tempfile.TemporaryDirectory(prefix="sgd-course-edition-") as tmp:
        tmp = Path(tmp)
        staged = tmp / "out"
        staged.mkdir()
        release = release_notebooks(source, tmp)
        files = edition_files(source, release, released, tmp)
        wheel = write_wheel(staged, files, version_)
        bundle = {wheel.name: wheel.read_bytes(),
                  "README.txt": student_readme(version_, released, wheel.name).encode()}
        bundle.update(folder_files(release, RELEASE))
        archive = staged / f"sgd-course-student-edition-{local_label(released)}.zip"
        _write_zip(archive, bundle)
        out.mkdir(parents=True, exist_ok=True)
        for name in previous:   # files of this folder the manifest names, nothing else
            (out / name).unlink()
        for path in (wheel, archive):
            shutil.move(path, out / path.name)
        (out / MANIFEST).write_text(f"{wheel.name}\n{archive.name}\n")
    return out / wheel.name, out / archive.name
