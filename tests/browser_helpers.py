"""Drive JupyterLab in a real browser: a JupyterLab server on localhost with a random token, Debian's
Chromium through Playwright, and the few things a student or an instructor does in a notebook (open it,
run it, move a slider, press Validate, open the formgrader), read back from the page itself.

Used by tests/test_browser.py and benchmarks/slider_latency.py. Nothing here downloads a browser:
Playwright is pointed at the system Chromium (``CHROMIUM``, default /usr/bin/chromium), or at its own
Chromium where that is installed (``python -m playwright install chromium``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

CHROMIUM = os.environ.get("SGD_COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab settings for a quiet, deterministic page: no news toast, every cell attached to the DOM
# (so outputs of cells out of view can be read), and no autosave (only Validate saves a notebook).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

# The page's build check (it asks the server to compare every extension's package.json with the
# built app, on every load) is off: these servers never build.
LAB_PAGE_CONFIG = {"buildCheck": False, "buildAvailable": False}
# Server extensions that no test or benchmark uses, each slowing every start: the language-server
# scan, terminals and Notebook 7's pages (JupyterLab and nbgrader's stay on).
SERVER_EXTENSIONS_OFF = {"jupyter_lsp": False, "jupyter_server_terminals": False, "notebook": False}

TRACEBACK = "Traceback (most recent call last)"
ERROR_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b")
PROMPT_DONE = re.compile(r"^\[\d+\]:?$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root`` (also its working directory, so that nbgrader's
    Validate button and formgrader read ``root/nbgrader_config.py``), with a fresh random token and
    its own config, settings, workspace and runtime folders under ``state``. ``python``: the Python
    whose JupyterLab (and kernel) to run, by default this one (the student edition's tests give a venv's).
    ``wait``: return once the server answers; with False, call ``wait_ready`` before using it (the
    files it serves can be written meanwhile)."""

    def __init__(self, root, state, *, timeout: float = 60, python: str = sys.executable, wait: bool = True):
        self.root, self.state = Path(root), Path(state)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        settings = self.state / "settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for name in ("config/labconfig", "runtime", "workspaces", "ipython"):
            (self.state / name).mkdir(parents=True, exist_ok=True)
        (self.state / "config" / "labconfig" / "page_config.json").write_text(json.dumps(LAB_PAGE_CONFIG))
        (self.state / "config" / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": SERVER_EXTENSIONS_OFF}}))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NBGRADER_", "SGD_COURSE_GRADING", "JUPYTER_", "JPY_"))}
        env.update(JUPYTER_CONFIG_DIR=str(self.state / "config"), JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
                   IPYTHONDIR=str(self.state / "ipython"), PYTHONUNBUFFERED="1")
        # this Python's bin/ first: the kernel, nbgrader and alembic come from the same environment
        env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
        if python != sys.executable:  # another environment: nothing of this one's module path
            env.pop("PYTHONPATH", None)
        self.log_path = self.state / "jupyter-lab.log"
        self._log = open(self.log_path, "w")
        command = [
            python, "-m", "jupyterlab", "--no-browser", "--allow-root",
            f"--port={self.port}", "--ip=127.0.0.1", "--port-retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
        ]
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-tail:]

    def api(self, method: str, path: str, body=None, timeout: float = 10, tries: int = 5):
        """A call of the server's REST API. A GET is tried again after a 500: jupyter_server
        answers one when it lists a kernel that is just starting (KeyError: 'last_activity')."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        for attempt in range(tries):
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    text = response.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as error:
                if method != "GET" or error.code != 500 or attempt == tries - 1:
                    raise
                time.sleep(0.2)

    def lab_url(self, path: str = "") -> str:
        """A fresh workspace (nothing restored from an earlier test), optionally opening ``path``."""
        tree = f"/tree/{path}" if path else ""
        return f"{self.url}/lab/workspaces/t{uuid.uuid4().hex[:10]}{tree}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        """End every session and kernel (one already ending on its own is no error)."""
        for kind in ("sessions", "kernels"):
            for item in self.api("GET", f"/api/{kind}"):
                try:
                    self.api("DELETE", f"/api/{kind}/{item['id']}")
                except urllib.error.HTTPError as error:
                    if error.code not in (404, 500):
                        raise

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown")
                self.process.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)  # our own process group only
                    self.process.wait(10)
        self._log.close()


def chromium_path(playwright) -> str:
    """The browser to drive: ``SGD_COURSE_CHROMIUM``, else Debian's Chromium (``apt-get install chromium``),
    else Playwright's own Chromium where it is installed (``python -m playwright install chromium``).
    Raises with both ways to get one when there is none."""
    if os.environ.get("SGD_COURSE_CHROMIUM") or shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    try:
        bundled = playwright.chromium.executable_path
    except Exception:  # Playwright without its browsers
        bundled = ""
    if bundled and os.path.exists(bundled):
        return bundled
    raise RuntimeError(f"no Chromium for the browser tests: install Debian's (`apt-get install -y chromium`, "
                       f"found at {CHROMIUM}) or Playwright's own (`python -m playwright install chromium`), "
                       "or set SGD_COURSE_CHROMIUM to the browser to use")


def launch_browser(playwright, user_data_dir):
    """Chromium (see ``chromium_path``), headless, with a fresh profile; raises with the fix if it is missing."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=chromium_path(playwright), args=CHROMIUM_ARGS, headless=True,
        viewport=VIEWPORT, device_scale_factor=1)


# -- reading the page ---------------------------------------------------------------------------------

_CELLS_JS = """
([notebook, controls, only]) => Array.from(notebook.querySelectorAll(':scope .jp-Cell')).map((cell, index) => (
  only !== null && index !== only ? null : {
  index,
  code: cell.classList.contains('jp-CodeCell'),
  source: (cell.querySelector('.jp-InputArea-editor') || {innerText: ''}).innerText,
  prompt: ((cell.querySelector('.jp-InputArea-prompt') || {innerText: ''}).innerText || '').trim(),
  stderr: Array.from(cell.querySelectorAll(
      ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).map(e => e.innerText),
  controls: cell.querySelectorAll(controls).length,
})).filter(info => info !== null)
"""

_SNAPSHOT_JS = """
cell => {
  const area = cell.querySelector('.jp-Cell-outputArea');
  if (!area) return '';
  const images = Array.from(area.querySelectorAll('img, canvas')).map(
      e => e.tagName === 'IMG' ? e.src : e.toDataURL());
  const texts = Array.from(area.querySelectorAll('.widget-output, .widget-html-content')).map(e => e.innerText);
  return JSON.stringify([images, texts]);
}
"""


def is_error(text: str) -> bool:
    """An error output (a traceback), as opposed to a warning printed to stderr."""
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return TRACEBACK in text or bool(lines and ERROR_LINE.match(lines[-1].strip()))


def error_name(text: str) -> str:
    """The exception's name from the last line of a traceback ("NotImplementedError")."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return lines[-1].split(":")[0].strip() if lines else ""


class Notebook:
    """One notebook open in JupyterLab in ``page``. ``kernel``: wait until its kernel is connected and
    idle (what running cells needs; pressing Validate does not, nbgrader runs its own kernel)."""

    def __init__(self, page, server: LabServer, path: str, *, timeout: float = 120, kernel: bool = True):
        self.page, self.server, self.path = page, server, path
        self.timeout_ms = timeout * 1000
        page.goto(server.lab_url(path))
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
        self.notebook = self.panel.locator(".jp-Notebook")
        self.notebook.locator(".jp-Cell").first.wait_for(timeout=self.timeout_ms)
        if kernel:
            self.wait_kernel_connected()
            self.wait_kernel_idle()

    # kernel and cells
    def wait_kernel_connected(self):
        """Wait until this notebook's kernel has its websocket connected: the page shows the kernel
        as idle a little earlier, and a Run All sent in that gap is silently dropped."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while time.monotonic() < deadline:
            sessions = self.server.api("GET", "/api/sessions")
            if any(s.get("path") == self.path and s.get("kernel")
                   and s["kernel"].get("connections", 0) >= 1 and s["kernel"].get("execution_state") == "idle"
                   for s in sessions):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{self.path}: the kernel did not start and connect within "
                             f"{self.timeout_ms / 1000:.0f} s\n{self.server.log()}")

    def wait_kernel_idle(self):
        self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
            timeout=self.timeout_ms)

    def cells(self, only: int | None = None) -> list[dict]:
        """Every cell's source, prompt, stderr outputs and number of controls; ``only``: of that cell alone."""
        return self.page.evaluate(_CELLS_JS, [self.notebook.element_handle(), self.CONTROLS, only])

    def cell(self, index: int):
        return self.notebook.locator(".jp-Cell").nth(index)

    def menu(self, menu: str, command: str) -> None:
        """Click a command of the main menu bar, e.g. ("Run", "runmenu:run-all")."""
        self.page.locator("li.lm-MenuBar-item", has_text=re.compile(rf"^{menu}$")).click()
        self.page.locator(f".lm-Menu li.lm-Menu-item[data-command='{command}']").click()

    def hide_left_sidebar(self) -> None:
        if self.page.locator("#jp-left-stack:not(.lm-mod-hidden)").count():
            self.menu("View", "filebrowser:toggle-main")

    def run_all(self) -> list[dict]:
        """Run > Run All Cells, then wait until every code cell ran (or one failed and the rest were
        skipped, as JupyterLab does after an error)."""
        self.menu("Run", "runmenu:run-all")
        self.page.wait_for_function(
            """notebook => {
                 const prompts = Array.from(notebook.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
                                      .map(p => p.innerText.trim());
                 if (prompts.some(p => p.startsWith('[*]'))) return false;
                 return prompts.every(p => /^\\[\\d+\\]/.test(p)) ||
                        notebook.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
               }""", arg=self.notebook.element_handle(), timeout=self.timeout_ms, polling=50)
        self.wait_kernel_idle()
        return self.cells()

    def run_each(self) -> list[dict]:
        """Run every code cell on its own, top to bottom, so that one error does not stop the rest
        (what a student does with Shift+Enter through a notebook with unanswered exercises)."""
        for info in self.cells():
            if not info["code"]:
                continue
            prompt = self.cell(info["index"]).locator(".jp-InputArea-prompt")
            prompt.click()
            self.page.keyboard.press("Control+Enter")
            self.page.wait_for_function(  # polled every 20 ms: most cells take less than a locator's retry
                "p => /^\\[\\d+\\]/.test(p.innerText.trim())", arg=prompt.element_handle(),
                timeout=self.timeout_ms, polling=20)
        self.wait_kernel_idle()
        return self.cells()

    def snapshot(self, index: int) -> str:
        """What a cell's outputs show: its images (PNG data) and printed text."""
        return self.cell(index).evaluate(_SNAPSHOT_JS)

    def wait_changed(self, index: int, before: str, timeout: float = 30, what: str = "") -> tuple[str, float]:
        """Wait until the outputs of cell ``index`` differ from ``before`` and settle; returns the new
        snapshot and the seconds until the first change."""
        started = time.perf_counter()
        deadline = started + timeout
        now = before
        while now == before:
            if time.perf_counter() > deadline:
                log = self.log_console()
                raise AssertionError(f"{what or f'cell {index + 1}'}: neither the figure nor the printed "
                                     f"values changed within {timeout} s"
                                     + (f"; the log console shows:\n{log}" if log else ""))
            self.page.wait_for_timeout(20)
            now = self.snapshot(index)
        changed = time.perf_counter() - started
        # settle: the kernel is idle again and two reads 150 ms apart agree
        while True:
            self.wait_kernel_idle()
            self.page.wait_for_timeout(150)
            again = self.snapshot(index)
            if again == now:
                return now, changed
            now = again

    def log_console(self) -> str:
        """The text of JupyterLab's log console (where an exception in a widget callback lands)."""
        self.menu("View", "logconsole:open")
        console = self.page.locator(".jp-LogConsolePanel")
        console.wait_for()
        self.page.wait_for_timeout(500)
        text = console.inner_text().strip()
        return "" if text == "No log messages." else text

    # controls of a widget explorer
    CONTROLS = (".jp-OutputArea .noUi-handle, .jp-OutputArea .widget-dropdown select, "
                ".jp-OutputArea .widget-toggle-buttons, .jp-OutputArea .widget-radio-box, "
                ".jp-OutputArea .widget-checkbox input[type=checkbox]")

    def controls(self, index: int) -> list[dict]:
        """The controls in the outputs of cell ``index``, in page order: sliders (every handle),
        dropdowns, toggle buttons, radio buttons and checkboxes. Each is tagged in the page
        (``data-sgd-control``) so that ``move`` finds it again."""
        return self.cell(index).evaluate("""
            (cell, selector) => Array.from(cell.querySelectorAll(selector)).map((e, i) => {
                e.setAttribute('data-sgd-control', String(i));
                const box = (e.classList.contains('noUi-handle') ? e.closest('.widget-slider')
                             : e.classList.contains('widget-radio-box') ? e.closest('.widget-radio')
                             : e.closest('.widget-inline-hbox')) || e;
                const own = box.querySelector(':scope > .widget-label') || box.querySelector('.widget-label');
                const label = ((own || {innerText: ''}).innerText || '').trim();
                if (e.classList.contains('noUi-handle')) {
                  return {kind: 'slider', label, text: e.getAttribute('aria-valuetext'),
                          readout: (box.querySelector('.widget-readout') || {innerText: ''}).innerText.trim(),
                          value: parseFloat(e.getAttribute('aria-valuetext')),
                          max: parseFloat(e.getAttribute('aria-valuemax'))};
                }
                if (e.tagName === 'SELECT') {
                  return {kind: 'dropdown', label, readout: e.value,
                          options: Array.from(e.options).map(o => o.value)};
                }
                if (e.tagName === 'INPUT') {
                  const text = ((e.closest('.widget-checkbox') || e).innerText || '').trim();
                  return {kind: 'checkbox', label: label || text, readout: String(e.checked), options: []};
                }
                const items = Array.from(e.querySelectorAll(e.classList.contains('widget-radio-box')
                                                             ? 'label' : 'button'));
                const active = items.find(b => b.classList.contains('mod-active') ||
                                                (b.querySelector('input') || {}).checked);
                return {kind: e.classList.contains('widget-radio-box') ? 'radio buttons' : 'toggle buttons',
                        label, readout: active ? active.innerText.trim() : '',
                        options: items.map(b => b.innerText.trim())};
            })""", self.CONTROLS)

    def control(self, index: int, n: int):
        return self.cell(index).locator(f"[data-sgd-control='{n}']")

    def move(self, index: int, n: int) -> tuple[str, str]:
        """Move control ``n`` of cell ``index`` by one step: a slider one notch right (left at its
        maximum), a dropdown, toggle or radio buttons to the next option, a checkbox to the other
        state. Returns (old, new) as the page shows them."""
        info = self.controls(index)[n]
        element = self.control(index, n)
        if info["kind"] == "slider":
            element.focus()
            self.page.keyboard.press("ArrowRight" if info["value"] < info["max"] else "ArrowLeft")
            self.page.wait_for_function(  # aria-valuenow is rounded to one decimal; aria-valuetext is not
                "([e, v]) => e.getAttribute('aria-valuetext') !== v",
                arg=[element.element_handle(), info["text"]], timeout=10_000)
        elif info["kind"] == "checkbox":
            element.click()
        else:
            options = info["options"]
            new = options[(options.index(info["readout"]) + 1) % len(options)] if info["readout"] in options \
                else options[0]
            if info["kind"] == "dropdown":
                element.select_option(new)
            else:
                items = element.locator("label" if info["kind"] == "radio buttons" else "button")
                items.nth(options.index(new)).click()
        self.page.wait_for_timeout(50)
        return info["readout"], self.controls(index)[n]["readout"]

    # nbgrader
    def validate(self, timeout: float = 300) -> dict:
        """Press nbgrader's Validate button; returns the dialog's verdict class and text."""
        self.panel.locator(".jp-Toolbar-item.jp-ToolbarButton", has_text="Validate").click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-body").wait_for(timeout=timeout * 1000)
        body = dialog.locator(".jp-Dialog-body")
        verdict = {"title": dialog.locator(".jp-Dialog-header").inner_text().strip(),
                   "classes": body.get_attribute("class") or "", "text": body.inner_text()}
        return verdict

    def close_dialog(self):
        self.page.locator(".jp-Dialog button.jp-mod-accept").click()
