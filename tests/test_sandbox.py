"""The grading kernel's sandbox (bubblewrap), seen from inside by a probing submission, and the
refusal to grade without it.

One step-size submission (the reference answers, a first cell that writes a ``course`` package and
module into its working folder, and a probe cell) is graded once; the probe prints what student code
can see and do, and each test reads that from the graded notebook.
"""

import contextlib
import json
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid

import nbformat
import pytest

import autograder
from autograder import jail, library_view
from autograder.grading import REPO_SOURCE, Course, SandboxUnavailable
from autograder.sandbox import UNSAFE_NOTE
from test_hardening import A, FULL, build
from conftest import copy_course
from week_files import step_sizes_course

SHADOW = """
import os
os.makedirs("course", exist_ok=True)
for name in ("course.py", "course/__init__.py"):
    with open(name, "w") as fh:
        fh.write("raise ImportError('the course a cell wrote')\\n")
print("SHADOW written in", os.getcwd())
"""
PROBE = r'''
import ctypes, errno, json, os, shutil, socket, sys
shadow = sorted(f for f in os.listdir(".") if f.startswith("course"))   # what the first cell (SHADOW) wrote
shutil.rmtree("course")
os.remove("course.py")
seen = {"shadow": shadow, "course_file": sys.modules["course"].__file__,
        "uid": os.getuid(), "cwd": os.getcwd(), "home_files": os.listdir("."), "root": sorted(os.listdir("/")),
        "env": sorted(os.environ), "pids": sorted(p for p in os.listdir("/proc") if p.isdigit())}
seen["cap_eff"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
seen["course_root_visible"] = os.path.exists(@course@)
seen["repo_sources_visible"] = os.path.exists(@sources@)
seen["seed_in_environ"] = any(@seed@ in v for v in os.environ.values())
try:
    import autograder.hidden_tests
    seen["autograder"] = "imported"
except ImportError:
    seen["autograder"] = "not importable"
try:
    socket.create_connection(("127.0.0.1", @port@), timeout=2)
    seen["network"] = "connected"
except OSError as error:
    seen["network"] = type(error).__name__
def can_write(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return True
    except OSError:
        return False
seen["write_python"] = can_write(os.path.join(os.path.dirname(os.__file__), "probe.txt"))
seen["write_tmp"] = can_write("/tmp/probe.txt")
try:
    with open("/tmp/big", "wb") as fh:
        fh.write(b"x" * 70 * 10 ** 6)
    seen["file_70MB"] = "written"
except OSError as error:
    seen["file_70MB"] = errno.errorcode.get(error.errno, str(error.errno))
try:
    for i in range(8):                      # 8 files of 50 MB: more than the tmpfs holds
        with open(f"/tmp/big{i}", "wb") as fh:
            fh.write(b"x" * 50 * 10 ** 6)
    seen["tmp_400MB"] = "written"
except OSError as error:
    seen["tmp_400MB"] = errno.errorcode.get(error.errno, str(error.errno))
for name in os.listdir("/tmp"):
    if name.startswith("big"):
        os.remove("/tmp/" + name)
libc = ctypes.CDLL(None, use_errno=True)
seen["unshare_user"] = libc.unshare(0x10000000)
seen["mount_tmpfs"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
import ipykernel
sockets = os.path.dirname(ipykernel.get_connection_file())
seen["socket_folder"] = sockets
try:
    for i in range(8):                      # 8 files of 1 MB into the kernel's socket folder
        with open(os.path.join(sockets, f"big{i}"), "wb") as fh:
            fh.write(b"x" * 2 ** 20)
    seen["sockets_8MB"] = "written"
except OSError as error:
    seen["sockets_8MB"] = errno.errorcode.get(error.errno, str(error.errno))
import course.schedules, inspect
try:
    course.schedules.constant(0.1)
    seen["reference"] = "callable"
except NotImplementedError as error:
    seen["reference"] = str(error)
seen["reference_source"] = inspect.getsource(course.schedules.constant)
print("PROBE " + json.dumps(seen))
'''


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The assignment's student version, built once for the module; each test grades in a copy."""
    return step_sizes_course(tmp_path_factory)


@pytest.fixture(scope="module")
def probed(built, tmp_path_factory):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    course = copy_course(built, tmp_path_factory.mktemp("sandboxed") / "course", timeout=30)
    seed = 987654321
    probe = PROBE
    for key, value in (("course", str(course.root)), ("sources", str(REPO_SOURCE)), ("seed", str(seed)),
                       ("port", listener.getsockname()[1])):
        probe = probe.replace(f"@{key}@", repr(value))
    nb = nbformat.reads(build(course, after=("stochastic_gradient", probe)), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SHADOW))   # before the notebook imports course
    course.submit("probe", A, {A: nbformat.writes(nb)})
    submitted = course.submission_dir("probe", A)
    (submitted / "course").mkdir()
    for name in ("course.py", "course/__init__.py"):
        (submitted / name).write_text("raise ImportError('the course in the submission')\n")
    result, = course.grade(A, seed=seed, workers=1)
    listener.close()
    nb = nbformat.read(course.root / "autograded" / "probe" / A / f"{A}.ipynb", 4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    line = next(line for line in printed.splitlines() if line.startswith("PROBE "))
    return result, json.loads(line[len("PROBE "):])


def test_the_probing_submission_is_graded_normally(probed):
    result, _ = probed
    assert result.graded and result.auto_score == FULL, (result.notes, result.cells)


def test_a_course_the_student_writes_or_submits_hides_not_the_library(probed):
    """The student's first cell writes a ``course/`` and a ``course.py`` into the kernel's working folder
    before the notebook imports ``course``, and the submission's folder holds both too: the kernel
    imports the library view all the same (and the answers earn full marks, above)."""
    _, seen = probed
    assert seen["shadow"] == ["course", "course.py"], "the first cell wrote both"
    assert seen["course_file"] == str(library_view.view(A) / "__init__.py")


def test_an_unprivileged_uid_without_capabilities(probed):
    _, seen = probed
    if os.getuid() == 0:
        assert seen["uid"] == jail.NOBODY
    assert int(seen["cap_eff"], 16) == 0
    assert seen["unshare_user"] == -1, "no further user namespaces"
    assert seen["mount_tmpfs"] == -1, "no mounts"


def test_nothing_of_the_host_but_python_and_an_empty_home(probed):
    _, seen = probed
    assert seen["cwd"] == "/home/student"
    assert [f for f in seen["home_files"] if f != ".cache"] == [], "nothing of the submission's folder"
    assert not seen["course_root_visible"] and not seen["repo_sources_visible"]
    assert seen["autograder"] == "not importable"
    assert len(seen["pids"]) <= 4, f"the sandbox has its own processes only: {seen['pids']}"
    # the system's folders, plus the first folder of each path the Python environment lives under (a CI
    # machine may keep its venv in /check/..., say): those show only the way down to the environment
    python_tops = {Path(tree).parts[1] for tree in jail.python_trees()}
    assert set(seen["root"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev",
                                 "tmp", "home"} | python_tops, seen["root"]


def test_no_grading_seed_or_grader_environment(probed):
    _, seen = probed
    assert not seen["seed_in_environ"]
    assert not any(k.startswith(("SGD_COURSE", "JPY_", "PYTEST", "NBGRADER")) for k in seen["env"]), seen["env"]


def test_the_socket_folder_is_the_sandboxs_own_and_capped(probed):
    """What a kernel writes into its socket folder fills a small tmpfs of the sandbox's own, never the
    grader's disk (issue 21, 3)."""
    _, seen = probed
    assert seen["sockets_8MB"] == "ENOSPC", seen["sockets_8MB"]


def test_no_network(probed):
    _, seen = probed
    assert seen["network"] != "connected"


def test_python_is_read_only_and_tmp_is_small(probed):
    _, seen = probed
    assert seen["write_python"] is False and seen["write_tmp"] is True
    assert seen["file_70MB"] == "EFBIG", f"a file may hold {jail.FILE_MB} MB at most"
    assert seen["tmp_400MB"] == "ENOSPC", f"/tmp is capped at {jail.TMPFS_MB} MB"


def test_the_assignments_reference_is_stripped(probed):
    _, seen = probed
    assert "not available while grading" in seen["reference"]
    assert "np.full" not in seen["reference_source"] and "NotImplementedError" in seen["reference_source"]


def test_grading_is_refused_without_a_sandbox_unless_asked(built, tmp_path, monkeypatch):
    monkeypatch.setattr(jail, "available", lambda: "bubblewrap is not installed")
    course = copy_course(built, tmp_path / "c")
    course.submit("s", A, {A: build(course)})
    with pytest.raises(SandboxUnavailable, match="bubblewrap is not installed.*--unsafe-no-sandbox"):
        course.grade(A, seed=1)
    unsafe = Course(tmp_path / "c", unsafe_no_sandbox=True)
    result, = unsafe.grade(A, seed=1, workers=1)
    assert result.graded and result.auto_score == FULL
    assert UNSAFE_NOTE in result.notes


def test_bubblewrap_missing_is_said_in_words(monkeypatch):
    jail.available.cache_clear()
    monkeypatch.setattr(jail.shutil, "which", lambda name: None)
    try:
        assert "apt-get install bubblewrap" in jail.available()
    finally:
        jail.available.cache_clear()


def test_library_view_keeps_tools_and_strips_only_that_assignments_solutions():
    view = library_view.view("adagrad")
    adaptive = (view / "adaptive.py").read_text()
    assert "not available while grading" in adaptive
    assert "def sgd_iterates" in (view / "sgd.py").read_text()
    assert "not available while grading" not in (view / "sgd.py").read_text()
    assert "not available while grading" in (library_view.view("step_sizes") / "sgd.py").read_text()


def test_a_view_folder_another_user_could_change_is_not_used(tmp_path, monkeypatch):
    """The views live in the shared temp folder under names anyone can compute: a folder of that name
    that other users may write (or that another uid made) is passed over for a view of this process's
    own, with the stripped library in it; a view this uid made is used again."""
    monkeypatch.setattr(library_view.tempfile, "gettempdir", lambda: str(tmp_path))
    first = library_view.view("a course of one's own")   # not in the course order: every solution stripped
    assert first.parent.parent == tmp_path and library_view.view("another course of one's own") == first
    made = {path.name: path.read_text() for path in first.iterdir()}
    assert "not available while grading" in made["schedules.py"]
    (first / "schedules.py").write_text("def constant(tau):\n    return lambda k: tau\n")
    for path in [first.parent, first, *first.iterdir(), first.parent / f"{library_view.LAUNCHER}.py"]:
        path.chmod(0o777 if path.is_dir() else 0o666)
        if os.getuid() == 0:   # as CI runs the tests: the folder is another user's too
            os.chown(path, jail.NOBODY, jail.NOBODY)
    again = library_view.view("a third course of one's own")
    assert again.parent.parent == tmp_path
    assert {path.name: path.read_text() for path in again.iterdir()} == made


def test_the_view_is_made_from_the_installed_course_whatever_the_graders_folder_holds(tmp_path):
    """A grader started (``python -c``) in the folder that holds a course folder named ``course`` (no
    ``__init__.py``: a namespace package to Python, first on that grader's ``sys.path``) makes the
    kernel's view from the installed library: the files of this process's view."""
    Course.from_sources(tmp_path / "course")
    done = subprocess.run([sys.executable, "-c", "import sys; from autograder import library_view; "
                           "print(library_view.view(sys.argv[1]))", A], capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    theirs, mine = Path(done.stdout.strip()), library_view.view(A)
    assert {p.name: p.read_text() for p in theirs.glob("*.py")} == {p.name: p.read_text() for p in mine.glob("*.py")}


def test_the_sandbox_shows_no_way_down_to_a_source_folder(monkeypatch, tmp_path):
    """Installed from a source folder (``pip install -e``, a CI clone in /check/...), ``course`` and
    ``autograder`` lie outside what the sandbox shows: covering them would make the folders above them
    (a CI failure: /check at the sandbox's root). Installed into the environment, they are covered."""
    venv, clone = tmp_path / "venv", tmp_path / "check" / "clone"
    monkeypatch.setattr(jail, "python_trees", lambda: [str(venv)])
    for home in (clone, venv / "lib" / "site-packages"):
        monkeypatch.setattr(library_view, "package_dir", lambda name, home=home: home / name)
        shown = library_view.mounts(A)
        view = str(library_view.view(A).parent)
        if home == clone:
            assert shown == {view: view}, "nothing of the source folder"
        else:
            assert shown == {view: view, str(home / "course"): str(library_view.view(A)),
                             str(home / "autograder"): None}


def test_the_command_refuses_without_a_sandbox_and_says_how(built, tmp_path, monkeypatch, capsys):
    from autograder import cli
    monkeypatch.setattr(jail, "available", lambda: "bubblewrap is not installed")
    course = copy_course(built, tmp_path / "c")
    course.submit("s", A, {A: build(course)})
    assert cli.main(["grade", A, "--course", str(course.root), "--csv", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "refusing to grade: bubblewrap is not installed" in err and "--unsafe-no-sandbox" in err
    assert "Traceback" not in err and not (tmp_path / "g.csv").exists()


def test_the_next_run_kills_what_a_killed_grader_left_running(tmp_path):
    """A grader killed with SIGKILL cannot stop its kernels (one that started as it died outlives it):
    the next run kills every process in the dead grader's pids cgroup and removes its scratch folder."""
    import subprocess
    import tempfile

    from autograder.sandbox import remove_stale_scratch

    gone = subprocess.Popen(["true"])
    gone.wait()                                      # a pid that no process has any more
    assert os.access(jail.PIDS_ROOT, os.W_OK), "the tests run as root (CI does): pids cgroups writable"
    name = f"sgd-course/{gone.pid}-leftover"
    survivor = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: jail.join_pids_cgroup(name, 16))
    scratch = Path(tempfile.mkdtemp(prefix=f"sgd-grading-{gone.pid}-"))
    mine = jail.new_cgroup_name()                    # a live grader's cgroup (this process) is left alone
    os.makedirs(os.path.join(jail.PIDS_ROOT, mine))
    try:
        assert name in jail.stale_cgroups(lambda pid: pid != gone.pid)
        remove_stale_scratch()
        assert survivor.wait(timeout=10) == -9, "the leftover process was killed"
        assert not os.path.exists(os.path.join(jail.PIDS_ROOT, name)) and not scratch.exists()
        assert os.path.isdir(os.path.join(jail.PIDS_ROOT, mine))
    finally:
        survivor.kill()
        jail.kill_cgroup(name)
        jail.kill_cgroup(mine)


FORK_BOMB = """
import os
started = 0
try:
    for _ in range(600):
        pid = os.fork()
        if pid == 0:
            os.execv('/bin/sleep', ['sleep', '{marker}'])
        started += 1
except OSError as error:
    print('fork refused after', started, type(error).__name__)
else:
    print('fork never refused:', started)
"""
AS_GRADER = """
import sys
from autograder.grading import Course
result = Course(sys.argv[1], timeout=30).grade(sys.argv[2], seed=3, workers=1, feedback=False)[0]
print('RESULT', result.status, result.auto_score)
"""
AS_NOBODY = ["setpriv", f"--reuid={jail.NOBODY}", f"--regid={jail.NOBODY}", "--clear-groups", "--inh-caps=-all", "--"]


def _tagged(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def _grade_from(folder, course, as_user=()):
    """Grade ``course`` (a folder in ``folder``) with a fresh ``python -c`` started in ``folder``, which
    Python puts first on its ``sys.path``, as ``as_user`` (a command prefix); its (status, score) and
    what the graded notebook of the one student printed."""
    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": str(folder / "home"),
           "LANG": "C.UTF-8"}
    done = subprocess.run([*as_user, sys.executable, "-c", AS_GRADER, str(course.root), A], capture_output=True,
                          text=True, timeout=900, env=env, cwd=str(folder))
    line = [l for l in done.stdout.splitlines() if l.startswith("RESULT")]
    assert line, done.stderr[-3000:]
    student, = course.students(A)
    graded = nbformat.read(course.root / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return line[0].split()[1:], printed


@contextlib.contextmanager
def _reachable_by_others(*paths):
    """Let "others" pass through (x, not r) every folder above ``paths`` that does not let them (a Python
    installed under root's home, mode 700, as on CI's machines), and put the modes back afterwards."""
    opened = []
    try:
        for path in paths:
            for folder in Path(os.path.realpath(path)).parents:
                mode = folder.stat().st_mode & 0o7777
                if not mode & 0o001:
                    folder.chmod(mode | 0o001)
                    opened.append((folder, mode))
        yield
    finally:
        for folder, mode in reversed(opened):
            folder.chmod(mode)


def test_a_fork_bomb_is_capped_without_root(built):
    """Graded by a normal user (uid 65534, no writable pids cgroup) from the folder that holds the course
    folder, named ``course``, a fork bomb gets at most the sandbox's 256 processes and threads, the class
    finishes with full marks for the honest answers, and nothing the bomb started outlives the run."""
    if os.getuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to become a normal user (setpriv), as CI runs the tests")
    marker = f"3000.{uuid.uuid4().int % 10 ** 9}"
    root = Path(tempfile.mkdtemp(prefix="sgd-course-nobody-"))
    try:
        with _reachable_by_others(sys.executable, sys.prefix, sys.base_prefix, Path(autograder.__file__).parent):
            course = copy_course(built, root / "course")
            nb = nbformat.reads(build(course), as_version=4)
            nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(FORK_BOMB.replace("{marker}", marker)))
            course.submit("bomber", A, {A: nbformat.writes(nb)})
            (root / "home").mkdir()
            for path in [root, *root.rglob("*")]:
                os.chown(path, jail.NOBODY, jail.NOBODY)
            root.chmod(0o755)
            result, printed = _grade_from(root, course, AS_NOBODY)
        assert result == ["graded", str(float(FULL))], (result, printed[-2000:])
        assert "fork refused after" in printed, printed[-2000:]
        started = int(printed.split("fork refused after")[1].split()[0])
        assert started < jail.Limits().max_tasks, started
        assert not _tagged(marker), "a process of the fork bomb outlived the run"
    finally:
        for pid in _tagged(marker):
            os.kill(pid, 9)
        shutil.rmtree(root, ignore_errors=True)


def test_the_task_cap_holds_for_a_normal_user(tmp_path):
    """``jail.task_cap`` as a normal user (uid 65534) in bubblewrap's user and pid namespaces: a fork bomb
    gets fewer than the cap, other processes of that uid do not count, and nothing outlives the sandbox."""
    import shutil
    import subprocess
    import uuid

    python = "/usr/bin/python3"
    if os.getuid() != 0 or not shutil.which("setpriv") or not os.path.exists(python):
        pytest.skip("needs root to become a normal user (setpriv), and the system's Python")
    marker = f"3000.{uuid.uuid4().int % 10 ** 9}"
    bomb = FORK_BOMB.replace("{marker}", marker)
    nobody = ["setpriv", f"--reuid={jail.NOBODY}", f"--regid={jail.NOBODY}", "--clear-groups", "--inh-caps=-all", "--"]
    sandbox = [shutil.which("bwrap"), "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
               "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr",
               *jail._system_links(), "--"]
    bystanders = [subprocess.Popen([*nobody, "sleep", "60"]) for _ in range(40)]  # the same uid, outside
    try:
        runs = [subprocess.Popen([*nobody, *sandbox, *jail.task_cap([python, "-c", bomb], 64)],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]   # two sandboxes at once
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        for out in outputs:
            assert "fork refused after" in out, out
            assert 40 <= int(out.split("fork refused after")[1].split()[0]) < 64, out
        assert not _tagged(marker), "a process of the fork bomb outlived its sandbox"
    finally:
        for process in bystanders:
            process.kill()
        for pid in _tagged(marker):
            os.kill(pid, 9)
