"""How long each widget explorer takes to redraw after a slider move (target: median <= 100 ms).

    python benchmarks/slider_latency.py [--moves 5] [NOTEBOOK ...]

Runs each source notebook (default: every notebooks/source/*/*.ipynb) in a fresh kernel, as a student
does, and for every explorer it shows (a cell whose output is a widget) moves each control in the
kernel, one step at a time to values not visited before, and times the control's observer callbacks:
computing, drawing the figure and encoding the PNG that JupyterLab shows (``plt.show()`` of the inline
backend). What the browser adds on top (sending the PNG, painting it) is small next to that; the
browser tests print it per move (``pytest tests/test_browser.py -k explorer -s``).

Controls: sliders (int, float, log, selection) move one step, dropdowns / toggle or radio buttons to
the next option, checkboxes flip. The table has, per control, the median and the slowest move and
the part of it spent in ``plt.show()`` (rendering); a last line per explorer gives the median over all
its moves. Not part of the test suite: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "source"
TARGET_MS = 100.0
MARK = "@@slider-latency@@"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Runs in the notebook's kernel after an explorer cell: moves every control of the widget tree
# rooted at MODEL_ID and prints one JSON line with the timings.
BENCH = r'''
def __slider_latency(model_id, moves, mark):
    import json, math, time
    import matplotlib.pyplot as plt
    import ipywidgets as W
    from ipywidgets.widgets import widget as _widget
    instances = getattr(_widget, "_instances", None) or W.Widget.widgets
    root = instances[model_id]
    controls = []

    def walk(w):
        if isinstance(w, W.Box):
            for child in w.children:
                walk(child)
        elif isinstance(w, (W.widget_int._BoundedInt, W.widget_float._BoundedFloat,
                            W.widget_float._BoundedLogFloat, W.widget_selection._Selection, W.widget_bool._Bool)):
            controls.append(w)
    walk(root)

    shown = [0.0]
    original_show = plt.show
    def timed_show(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_show(*args, **kwargs)
        finally:
            shown[0] += time.perf_counter() - started
    plt.show = timed_show

    def plan(w):
        """The values of up to `moves` successive steps to values not visited before."""
        if isinstance(w, W.widget_bool._Bool):
            return [not w.value]
        if isinstance(w, W.widget_selection._Selection):
            n, i = len(w.options), w.index
            order = [j for j in range(i + 1, n)] + [j for j in range(i - 1, -1, -1)]
            return [("index", j) for j in order[:moves]]
        if isinstance(w, W.widget_float._BoundedLogFloat):
            e, lo, hi = math.log(w.value, w.base), w.min, w.max
            up = [e + k * w.step for k in range(1, moves + 1) if e + k * w.step <= hi + 1e-12]
            down = [e - k * w.step for k in range(1, moves + 1) if e - k * w.step >= lo - 1e-12]
            return [w.base ** x for x in (up if len(up) >= len(down) else down)]
        step = w.step or 1
        up = [w.value + k * step for k in range(1, moves + 1) if w.value + k * step <= w.max]
        down = [w.value - k * step for k in range(1, moves + 1) if w.value - k * step >= w.min]
        return up if len(up) >= len(down) else down

    results = []
    try:
        for w in controls:
            initial = w.index if isinstance(w, W.widget_selection._Selection) else w.value
            label = w.description or type(w).__name__
            times, renders = [], []
            for value in plan(w):
                shown[0] = 0.0
                started = time.perf_counter()
                if isinstance(value, tuple):
                    w.index = value[1]
                else:
                    w.value = value
                times.append(time.perf_counter() - started)
                renders.append(shown[0])
            if isinstance(w, W.widget_selection._Selection):
                w.index = initial
            else:
                w.value = initial
            results.append({"control": label, "kind": type(w).__name__, "times": times, "renders": renders})
    finally:
        plt.show = original_show
    print(mark + json.dumps(results))

__slider_latency(%r, %d, %r)
del __slider_latency
'''


# --what-if: how fast the explorers would be with the two render costs removed that dominate them:
# tight_layout() on every redraw (it draws the figure once more to measure the labels) and the inline
# backend's bbox_inches="tight" (again one more draw per PNG). The figures look a little different
# (fixed margins), so this only tells what a fixed layout would gain.
WHAT_IF = r"""
import matplotlib.figure as _mf
_mf.Figure.tight_layout = lambda self, *args, **kwargs: None
get_ipython().run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': None}")
get_ipython().run_line_magic("matplotlib", "inline")
"""


def explorers_of(path: Path, moves: int, timeout: int = 600, what_if: bool = False):
    """[(cell number, first source line, [control timings])] for each explorer of a notebook."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    found = []
    with client.setup_kernel():
        for index, cell in enumerate(list(nb.cells)):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)
            model_ids = [o["data"][WIDGET_MIME]["model_id"] for o in cell.outputs
                         if o.get("output_type") in ("display_data", "execute_result") and WIDGET_MIME in o.get("data", {})]
            for model_id in model_ids:
                bench = nbformat.v4.new_code_cell((WHAT_IF if what_if else "") + BENCH % (model_id, moves, MARK))
                nb.cells.append(bench)
                client.execute_cell(bench, len(nb.cells) - 1, store_history=False)
                errors = [o for o in bench.outputs if o.output_type == "error"]
                if errors:
                    raise RuntimeError(f"{path.name}, cell {index + 1}: {errors[0].ename}: {errors[0].evalue}")
                text = "".join(o.get("text", "") for o in bench.outputs if o.output_type == "stream")
                line = next(l for l in text.splitlines() if l.startswith(MARK))
                first = (cell.source.strip().splitlines() or [""])[0]
                found.append((index + 1, first, json.loads(line[len(MARK):])))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="source notebooks (default: all)")
    parser.add_argument("--moves", type=int, default=5, help="moves per control (default: %(default)s)")
    parser.add_argument("--what-if", action="store_true",
                        help="time the explorers as if they used a fixed layout: no tight_layout() and no "
                             "tight bounding box for the PNG (see WHAT_IF)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(SOURCE.glob("*/*.ipynb"))
    rows, slow = [], []
    for path in paths:
        started = time.perf_counter()
        print(f"running {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ...", file=sys.stderr, flush=True)
        for number, first, controls in explorers_of(path.resolve(), args.moves, what_if=args.what_if):
            name = f"{path.stem} [{number}] {first[:38]}"
            everything = []
            for c in controls:
                ms = [1000 * t for t in c["times"]]
                render = [1000 * t for t in c["renders"]]
                everything += ms
                if ms:
                    rows.append((name, f"{c['control']} ({c['kind']})", len(ms), statistics.median(ms), max(ms),
                                 statistics.median(render)))
            if everything:
                median = statistics.median(everything)
                rows.append((name, "== all moves", len(everything), median, max(everything), None))
                if median > TARGET_MS:
                    slow.append((name, median))
        print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    header = ("explorer", "control", "moves", "median ms", "max ms", "plt.show ms")
    widths = [max(len(str(r[i])) if not isinstance(r[i], float) else 9 for r in rows + [header]) for i in range(3)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>5}  {header[3]:>9}  {header[4]:>8}  {header[5]:>11}")
    for name, control, n, median, worst, render in rows:
        ok = "" if control != "== all moves" else ("  ok" if median <= TARGET_MS else f"  SLOW (> {TARGET_MS:.0f} ms)")
        render_text = f"{render:11.0f}" if render is not None else " " * 11
        print(f"{name:<{widths[0]}}  {control:<{widths[1]}}  {n:>5}  {median:9.0f}  {worst:8.0f}  {render_text}{ok}")
    if slow:
        print(f"\n{len(slow)} explorer(s) above the {TARGET_MS:.0f} ms median target: "
              + ", ".join(f"{n} ({m:.0f} ms)" for n, m in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
