"""Adversarial submissions and the instruments that watch a class run (for tests/test_adversarial.py).

A submission is built the way a student makes one: the student version (release/, from
``Course.build``) with code typed into it. The honest submission has the instructor's answers in its
answer cells; the plain wrong one is the untouched handout (``raise NotImplementedError()`` stubs); an
attack is the handout with a cell at the top that runs ``attack_kernel.py`` (configured by a JSON
blob: which attack, the paths, ports and secrets a worst-case attacker knows, a marker) and a line
``_adv_after_cell("<grade_id>")`` at the end of every answer cell, where leaked answers or the
attack's own versions of the graded functions take the stubs' place.

Only public things are used: ``Course`` and the ``sgd-course grade`` command, the CSV, nbgrader's
gradebook and feedback files, /proc.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import html.parser
import json
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

KERNEL_CODE = Path(__file__).with_name("attack_kernel.py").read_text()
LINGER = 1200  # seconds a lingering process of an attack sleeps (the test kills it when it finds it)

# The graded functions and the course-library function each one mirrors (module, name, adapter).
REFS = {
    "gd_vs_sgd": {name: ("course.minibatch", name, None) for name in (
        "full_gradient", "minibatch_gradient", "descent", "bias_variance", "minibatch_variance",
        "descent_fraction")},
    "step_sizes": {"stochastic_gradient": ("course.problems", "sanity_check_sample_grad", None),
                   "constant": ("course.schedules", "constant", None),
                   "geometric": ("course.schedules", "geometric", None),
                   "inverse_power": ("course.schedules", "inverse_power", None),
                   "sgd_iterates": ("course.sgd", "sgd_iterates", None),
                   "loglog_slope": ("course.sgd", "loglog_slope", None)},
    "adagrad": {"adagrad_norm_run": ("course.adaptive", "adagrad_norm_run", None),
                "adagrad_diag_run": ("course.adaptive", "adagrad_diag_run", None),
                "tau_limit": ("course.adaptive", "tau_limit", None),
                "working_decades": ("course.adaptive", "working_decades", None)},
    "mlp": {**{name: ("course.nn", name, None) for name in (
                "linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_cross_entropy")},
            "numerical_gradient": ("course.gradcheck", "numerical_gradient", None),
            "epoch_minibatches": ("course.data", "epoch_minibatches", None)},
    "nonsmooth": {**{name: ("course.clarke", name, None) for name in ("clarke_interval", "convex_hull")},
                  **{name: ("course.autodiff", name, None) for name in ("local_derivatives", "backward")},
                  "maxpool_backward": ("course.nn", "maxpool_backward", None)},
}


@dataclass
class Attack:
    name: str       # also the student's id
    kind: str       # the class of attack (as the issue lists them)
    config: dict = field(default_factory=dict)   # attack / wrap / forge / retry for attack_kernel.py
    transform: str = ""                          # a change to the notebook's cells or metadata
    extra_file: str = ""                         # a file placed next to the notebook (a name template)


def _a(name, kind, transform="", extra_file="", **config):
    return Attack(name, kind, config, transform, extra_file)


ESCAPES = [
    _a("esc_read_sources", "sandbox escape", attack="esc_course_source"),
    _a("esc_proc_root", "sandbox escape", attack="esc_proc_root"),
    _a("esc_proc1_root", "sandbox escape", attack="esc_proc1_root"),
    _a("esc_umount", "sandbox escape", attack="esc_umount"),
    _a("esc_unshare_mount", "sandbox escape", attack="esc_unshare_mount"),
    _a("esc_other_student", "sandbox escape", attack="esc_other_student", retry=True),
    _a("esc_hidden_tests", "sandbox escape", attack="esc_hidden_tests"),
    _a("esc_library_source", "sandbox escape", attack="none", wrap="ref:getsource"),
    _a("esc_write_files", "sandbox escape", attack="esc_write"),
    _a("esc_network_tcp", "sandbox escape", attack="esc_network_tcp"),
    _a("esc_network_unix", "sandbox escape", attack="esc_network_unix"),
    _a("esc_daemon", "sandbox escape", attack="esc_daemon"),
    _a("esc_cgroup", "sandbox escape", attack="esc_cgroup"),
    _a("esc_fork_bomb", "sandbox escape", attack="esc_fork_bomb"),
    _a("esc_memory_bomb", "sandbox escape", attack="esc_memory_bomb"),
    _a("esc_proxy_globals", "sandbox escape", attack="none", wrap="proxy_globals"),
]
FORGERIES = [
    _a("forge_pre_run_result", "forged verdict", attack="none", forge="pre_result"),
    _a("forge_post_run_result", "forged verdict", attack="none", forge="post_result"),
    _a("forge_display_data", "forged verdict", attack="none", forge="display"),
    _a("forge_raw_iopub", "forged verdict", attack="none", forge="raw_iopub"),
    _a("forge_custom_exc", "forged verdict", attack="none", forge="custom_exc"),
    _a("forge_patched_numpy", "forged verdict", attack="none", forge="patch_numpy", wrap="zeros"),
    _a("forge_prints_passed", "forged verdict", attack="none", forge="print_passed", wrap="print_passed"),
    _a("forge_blank_cells", "forged verdict", attack="none", forge="blank_cells"),
    _a("forge_strip_asserts", "forged verdict", attack="none", forge="strip_asserts"),
    _a("forge_eq_always_true", "forged verdict", attack="none", wrap="any"),
    _a("forge_ndarray_subclass", "forged verdict", attack="none", wrap="liar"),
    _a("forge_execute_handler", "forged verdict", attack="none", forge="handler"),
    _a("forge_bonus_test_cell", "forged verdict", "bonus_cell", attack="none"),
    _a("forge_edited_tests", "forged verdict", "edit_tests", attack="none"),
]
DEATHS = [
    _a("die_os_exit", "dying inside a test cell", attack="none", wrap="die_exit"),
    _a("die_sys_exit", "dying inside a test cell", attack="none", wrap="die_sysexit"),
    _a("die_segfault", "dying inside a test cell", attack="none", wrap="die_segfault"),
    _a("die_sigkill", "dying inside a test cell", attack="none", wrap="die_sigkill"),
    _a("die_abort", "dying inside a test cell", attack="none", wrap="die_abort"),
    _a("die_exit_builtin", "dying inside a test cell", attack="none", wrap="die_exit_builtin"),
    _a("die_hang_ignoring_interrupts", "dying inside a test cell", attack="none", wrap="die_hang"),
    _a("die_only_for_the_grader", "dying inside a test cell", attack="none", wrap="grader_dies"),
]
REFERENCE = [
    _a("ref_direct", "reaching the reference", attack="none", wrap="ref:direct"),
    _a("ref_thread", "reaching the reference", attack="none", wrap="ref:thread"),
    _a("ref_setprofile_none", "reaching the reference", attack="none", wrap="ref:noprofile"),
    _a("ref_setprofile_replaced", "reaching the reference", attack="none", forge="fake_setprofile",
       wrap="ref:direct"),
    _a("ref_file_copy", "reaching the reference", attack="none", wrap="ref:file"),
    _a("ref_code_replace", "reaching the reference", attack="none", wrap="ref:code_replace"),
    _a("ref_hidden_tests_module", "reaching the reference", attack="none", wrap="ref:hidden_module"),
    _a("ref_replay_with_seed", "reaching the reference", attack="none", wrap="ref:replay"),
    _a("ref_recipe", "reaching the reference", attack="none", wrap="ref:recipe"),
    _a("ref_rebind_reply", "reaching the reference", attack="none", forge="rebind", wrap="ref:direct"),
]
LIBRARY = [  # issue 21, 2: only the student's own code earns credit
    _a("lib_table", "calling the course library", attack="none", wrap="lib:table"),
    _a("lib_tool_on_the_side", "calling the course library", attack="none", wrap="lib:tool"),
    _a("lib_earlier_solution", "calling the course library", attack="none", wrap="lib:earlier"),
    _a("lib_in_a_thread", "calling the course library", attack="none", wrap="lib:thread"),
    _a("lib_profiler_off", "calling the course library", attack="none", wrap="lib:noprofile"),
]
# issue 21, 1: nbgrader metadata on a cell the release does not have (each once per assignment)
METADATA_VARIANTS = {
    "meta_empty_grade_id": {"grade": True, "solution": False, "locked": False, "grade_id": "", "points": 5,
                            "schema_version": 3},
    "meta_grade_without_id": {"grade": True, "solution": False, "locked": False, "points": 5, "schema_version": 3},
    "meta_manual_empty_id": {"grade": True, "solution": True, "locked": False, "grade_id": "", "points": 5,
                             "schema_version": 3, "task": False},
    "meta_empty": {},
    "meta_junk": "junk",
}
METADATA = [_a(name, "malformed nbgrader metadata", "metadata", attack="none") for name in METADATA_VARIANTS]
INPUTS = [
    _a("inputs_zeroed", "changing the grader's inputs", attack="none", wrap="zero"),
    _a("inputs_shuffled", "changing the grader's inputs", attack="none", wrap="shuffle"),
]
STALE = [
    _a("stale_previous_output", "stale results", attack="none", wrap="stale"),
    _a("stale_one_call_behind", "stale results", attack="none", wrap="stale_lag"),
]
SEEDS = [
    _a("seed_in_environment", "grading seed", attack="seed_env"),
    _a("seed_in_proc", "grading seed", attack="seed_proc"),
    _a("seed_in_files", "grading seed", attack="seed_files"),
    _a("seed_in_random_state", "grading seed", attack="seed_rng"),
]
# an honest answer only where the submission can tell that it is being graded
MARKERS = [
    _a("marker_in_environment", "grading marker", attack="marker_env"),
    _a("marker_in_course_library", "grading marker", attack="marker_library"),
]
HTML_PAYLOADS = {
    "html_img_grade_id": "<img src=x onerror=alert('{marker}')>",
    "html_script_grade_id": "<script>alert('{marker}')</script>",
    "html_svg_grade_id": "\"><svg onload=alert('{marker}')>",
}
HTML = [_a(name, "feedback HTML injection", "html_grade_id", attack="none") for name in HTML_PAYLOADS] + [
    _a("html_file_name", "feedback HTML injection", extra_file="<img src=x onerror=alert('{marker}')>.py",
       attack="none")]
CRASHES = [
    _a("crash_kill_parent", "crashing the whole run", attack="crash_parent"),
    _a("crash_kill_ancestors", "crashing the whole run", attack="crash_ancestors"),
    _a("crash_kill_everything", "crashing the whole run", attack="crash_everything"),
    _a("crash_kill_process_groups", "crashing the whole run", attack="crash_group"),
    _a("crash_kill_grader_by_name", "crashing the whole run", attack="crash_by_name"),
    _a("crash_kill_other_kernels", "crashing the whole run", attack="crash_siblings"),
    _a("crash_segfault_at_the_top", "crashing the whole run", attack="crash_segfault"),
    _a("crash_abuse_grader_objects", "crashing the whole run", attack="none", wrap="proxy_crash"),
    _a("crash_deeply_nested_result", "crashing the whole run", attack="none", wrap="deep"),
    _a("crash_broadcast_bomb_result", "crashing the whole run", attack="none", wrap="broadcast"),
    _a("crash_points_above_the_maximum", "crashing the whole run", attack="none", forge="big_result"),
]
# students with ids that have broken graders before; they hand in honest work
ODD_IDS = [_a("ünïcødé 学生", "odd student id"), _a("<img src=x onerror=alert('sgdadvoddid')>", "odd student id"),
           _a("..", "odd student id"), _a(".hidden", "odd student id"), _a("run", "odd student id")]

HOSTILE = ESCAPES + FORGERIES + DEATHS + REFERENCE + LIBRARY + INPUTS + STALE + SEEDS + MARKERS + HTML
RUN_CRASHING = CRASHES + METADATA + ODD_IDS


def roster(attacks, assignment, assignments, per_kind):
    """The attacks of each kind for one assignment: ``per_kind[kind]`` of them (all if missing),
    rotated so that every attack runs on some assignment and each assignment gets a different mix."""
    chosen = []
    index = assignments.index(assignment)
    for kind in dict.fromkeys(a.kind for a in attacks):
        of_kind = [a for a in attacks if a.kind == kind]
        n = per_kind.get(kind, len(of_kind))
        start = (index * n) % len(of_kind)
        chosen += [of_kind[(start + i) % len(of_kind)] for i in range(min(n, len(of_kind)))]
    return chosen


# ------------------------------------------------------------------------------------ notebooks

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def read_nb(path):
    return nbformat.read(path, as_version=4)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def honest_answers(source_nb) -> dict[str, str]:
    """grade_id -> the instructor's answer of each code answer cell (the markers left out)."""
    answers = {}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and _meta(cell).get("solution"):
            lines = [line for line in cell.source.splitlines() if line.strip() not in (BEGIN, END)]
            answers[_meta(cell)["grade_id"]] = "\n".join(lines)
    return answers


def defined_functions(answers) -> dict[str, list[str]]:
    return {gid: [n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]
            for gid, code in answers.items()}


def visible_lines(release_nb) -> list[str]:
    """One distinctive line of each visible test (how an attack tells a visible test from the grader)."""
    lines = []
    for cell in release_nb.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            candidates = [line.strip() for line in cell.source.splitlines()
                          if len(line.strip()) > 20 and not line.strip().startswith("#")]
            if candidates:
                lines.append(max(candidates, key=len))
    return lines


def honest_notebook(release_nb, answers) -> str:
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and _meta(cell).get("grade_id") in answers and _meta(cell).get("solution"):
            cell.source = answers[_meta(cell)["grade_id"]]
    return nbformat.writes(nb)


def attack_notebook(release_nb, attack: Attack, config: dict) -> str:
    """The handout with the attack: its code in a cell at the top, a hook at the end of each answer
    cell, and the attack's change to the cells or their metadata."""
    nb = copy.deepcopy(release_nb)
    blob = base64.b64encode(json.dumps(config).encode()).decode()
    for cell in nb.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            cell.source += f"\n_adv_after_cell({meta['grade_id']!r})"
    marker = config["marker"]
    if attack.transform == "html_grade_id":
        payload = HTML_PAYLOADS[attack.name].format(marker=marker)
        extra = nbformat.v4.new_code_cell("x = 1")
        extra.metadata["nbgrader"] = {"grade_id": payload, "grade": False, "solution": False, "locked": False,
                                      "schema_version": 3}
        nb.cells.insert(len(nb.cells) // 2, extra)
    elif attack.transform == "metadata":
        for position, variant in enumerate(METADATA_VARIANTS.values()):   # every variant, spread out
            odd = nbformat.v4.new_code_cell("x = 1") if position % 2 else nbformat.v4.new_markdown_cell("x")
            odd.metadata["nbgrader"] = copy.deepcopy(variant)
            nb.cells.insert(1 + position * len(nb.cells) // len(METADATA_VARIANTS), odd)
        if attack.name == "meta_junk":   # and a fuzz of junk shapes on cells of both types
            import random
            rng = random.Random(marker)
            values = [None, "", "x", 0, -1, 2.5, True, [], {}, ["a"], {"a": 1}, "test_constant"]
            for _ in range(12):
                odd = nbformat.v4.new_code_cell("y = 2") if rng.random() < 0.5 else nbformat.v4.new_markdown_cell("y")
                odd.metadata["nbgrader"] = {k: rng.choice(values) for k in
                                            ("grade", "solution", "locked", "grade_id", "points", "schema_version")
                                            if rng.random() < 0.7}
                nb.cells.insert(rng.randrange(len(nb.cells) + 1), odd)
    elif attack.transform == "bonus_cell":
        bonus = nbformat.v4.new_code_cell("print('visible tests passed')")
        bonus.metadata["nbgrader"] = {"grade_id": "test_bonus_points", "grade": True, "solution": False,
                                      "locked": True, "points": 100, "schema_version": 3}
        nb.cells.insert(len(nb.cells) // 2, bonus)
    elif attack.transform == "edit_tests":
        for cell in nb.cells:
            meta = _meta(cell)
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                cell.source = "print('visible tests passed')"
                meta["points"] = 10 * meta.get("points", 1)
    nb.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CODE.replace("__CONFIG__", blob)))
    return nbformat.writes(nb)


def new_marker() -> str:
    """A tag unique to one submission, short enough to be a process name (15 bytes)."""
    return "sgdadv" + uuid.uuid4().hex[:8]


# ------------------------------------------------------------------------------------ instruments

def host_pid_namespace() -> str:
    return os.readlink("/proc/self/ns/pid")


def tree_digest(root, skip=()) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root`` (but those under a ``skip`` folder)."""
    root = Path(root)
    digest = {}
    if not root.exists():
        return digest
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        if path.is_file():
            digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def file_digest(path) -> str | None:
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def processes_tagged(markers) -> dict[str, list[int]]:
    """marker -> pids of the live (not zombie) processes whose name, command line or environment
    carries it."""
    wanted = {m: m.encode() for m in markers}
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            blob = b"\0".join(_read(f"/proc/{entry}/{what}") for what in ("comm", "cmdline", "environ"))
        except OSError:
            continue
        for marker, data in wanted.items():
            if data in blob:
                found.setdefault(marker, []).append(int(entry))
    return found


def _read(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class LiveHTML(html.parser.HTMLParser):
    """Finds ``needle`` in a live part of a page: a tag's name or attribute, or a script's text."""

    def __init__(self, needle):
        super().__init__(convert_charrefs=True)
        self.needle, self.live, self._script = needle, [], False

    def handle_starttag(self, tag, attrs):
        self._script = tag in ("script", "style")
        for name, value in attrs:
            if self.needle in (name or "") or self.needle in (value or ""):
                self.live.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, data):
        if self._script and self.needle in data:
            self.live.append(f"script text: {data[:80]!r}")


def live_html(text: str, needle: str) -> list[str]:
    parser = LiveHTML(needle)
    parser.feed(text)
    return parser.live


class AnswerServer:
    """A TCP port on 127.0.0.1 and an abstract unix socket, opened by the test: whoever connects and
    sends its marker gets the answers of its assignment. Records who connected."""

    def __init__(self):
        self.answers: dict[str, dict] = {}     # marker -> answers to send
        self.connected: list[str] = []
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_name = "sgdadv-" + uuid.uuid4().hex
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.unix_name)
        self._stop = False

    def start(self):
        for sock in (self.tcp, self.unix):
            sock.listen(64)
            sock.settimeout(0.5)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        return self

    def _serve(self, sock):
        while not self._stop:
            try:
                conn, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                conn.settimeout(3)
                marker = conn.makefile().readline().strip()
                self.connected.append(marker)
                conn.sendall(json.dumps(self.answers.get(marker, {})).encode())
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self._stop = True
        self.tcp.close()
        self.unix.close()
