"""How long each widget explorer takes to redraw after a slider move (target: median <= 100 ms).

    python benchmarks/slider_latency.py [--moves 5] [--rounds 5] [NOTEBOOK ...]

Runs each source notebook (default: every notebooks/source/*/*.ipynb) in a fresh kernel, as a student
does, and for every explorer it shows (a cell whose output is a widget) moves each control in the
kernel, one step at a time to values not visited before, and times the control's observer callbacks:
computing, drawing the figure and encoding the PNG that JupyterLab shows (whether an explorer shows it
with ``plt.show()`` of the inline backend or puts ``savefig`` bytes into an ``ipywidgets.Image``), and
sending it to the front end. What the browser adds on top (painting it) is small next to that; the
browser tests print it per move (``pytest tests/test_browser.py -k explorer -s``).

Controls: sliders (int, float, log, selection) move one step, dropdowns / toggle or radio buttons to
the next option, checkboxes flip. The table has, per control, the median and the slowest move (wall
clock: what the student waits), the median of the kernel's CPU time per move (the same unless other
processes compete for the cores; then it tells what the explorer itself costs) and the median time
spent rendering figures (drawing and PNG encoding: every ``FigureCanvasBase.print_figure``, which both
``plt.show()`` and ``savefig`` call, and ``course.widgets.LiveFigure.png``, the explorers' own); a last line per explorer gives the medians over all its moves,
and the target applies to its wall-clock median. With ``--rounds N`` every notebook runs N times, each
in a fresh kernel, and a last table gives each explorer's median over the rounds of its per-round
medians (wall clock and CPU): on a machine shared with other work, the CPU column tells what the
explorer costs. Not part of the test suite: timings depend on the machine and on what else runs on it.
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
    from matplotlib.backend_bases import FigureCanvasBase
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
    original_print = FigureCanvasBase.print_figure
    def timed_print(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_print(*args, **kwargs)
        finally:
            shown[0] += time.perf_counter() - started
    FigureCanvasBase.print_figure = timed_print
    from course.widgets import LiveFigure            # the explorers' own rendering (it blits: no print_figure)
    original_png = LiveFigure.png
    def timed_png(self):
        started = time.perf_counter()
        try:
            return original_png(self)
        finally:
            shown[0] += time.perf_counter() - started
    LiveFigure.png = timed_png

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
            times, renders, cpus = [], [], []
            for value in plan(w):
                shown[0] = 0.0
                started, cpu = time.perf_counter(), time.process_time()
                if isinstance(value, tuple):
                    w.index = value[1]
                else:
                    w.value = value
                times.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
                renders.append(shown[0])
            if isinstance(w, W.widget_selection._Selection):
                w.index = initial
            else:
                w.value = initial
            results.append({"control": label, "kind": type(w).__name__, "times": times, "renders": renders,
                            "cpus": cpus})
    finally:
        FigureCanvasBase.print_figure = original_print
        LiveFigure.png = original_png
    print(mark + json.dumps(results))

__slider_latency(%r, %d, %r)
del __slider_latency
'''


def explorers_of(path: Path, moves: int, timeout: int = 600):
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
                bench = nbformat.v4.new_code_cell(BENCH % (model_id, moves, MARK))
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


def _row(name, control, wall_ms, cpu_s, render_s):
    """One line of the table: (explorer, control, moves, median, max, median CPU, median render) in ms."""
    return (name, control, len(wall_ms), statistics.median(wall_ms), max(wall_ms),
            1000 * statistics.median(cpu_s), 1000 * statistics.median(render_s))


def _print_table(rows):
    header = ("explorer", "control", "moves", "median ms", "max ms", "cpu ms", "render ms")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(2)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>5}  {header[3]:>9}  {header[4]:>8}"
          f"  {header[5]:>6}  {header[6]:>9}")
    for name, control, n, median, worst, cpu, render in rows:
        ok = "" if control != "== all moves" else ("  ok" if median <= TARGET_MS else f"  SLOW (> {TARGET_MS:.0f} ms)")
        print(f"{name:<{widths[0]}}  {control:<{widths[1]}}  {n:>5}  {median:9.0f}  {worst:8.0f}  {cpu:6.0f}"
              f"  {render:9.0f}{ok}")


def _print_rounds(rounds):
    """Per explorer, the medians of its rounds' medians (wall clock, CPU) and each round's wall median."""
    width = max(len(name) for name in rounds)
    print(f"\n{'explorer':<{width}}  rounds  median ms  cpu ms  per round (wall ms)")
    for name, medians in rounds.items():
        wall, cpu = statistics.median(m[0] for m in medians), statistics.median(m[1] for m in medians)
        ok = "  ok" if wall <= TARGET_MS else f"  SLOW (> {TARGET_MS:.0f} ms)"
        print(f"{name:<{width}}  {len(medians):>6}  {wall:9.0f}  {cpu:6.0f}  "
              + " ".join(f"{m[0]:.0f}" for m in medians) + ok)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="source notebooks (default: all)")
    parser.add_argument("--moves", type=int, default=5, help="moves per control (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs of each notebook, each in a fresh kernel (default: %(default)s)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(SOURCE.glob("*/*.ipynb"))
    rows, slow, rounds = [], [], {}
    for round_ in range(1, args.rounds + 1):
        for path in paths:
            started = time.perf_counter()
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"running {shown} (round {round_} of {args.rounds}) ...", file=sys.stderr, flush=True)
            for number, first, controls in explorers_of(path.resolve(), args.moves):
                name = f"{path.stem} [{number}] {first[:38]}"
                wall, cpu, render = [], [], []
                for c in controls:
                    ms = [1000 * t for t in c["times"]]
                    if ms and round_ == args.rounds:
                        rows.append(_row(name, f"{c['control']} ({c['kind']})", ms, c["cpus"], c["renders"]))
                    wall += ms
                    cpu += c["cpus"]
                    render += c["renders"]
                if wall:
                    rounds.setdefault(name, []).append((statistics.median(wall), 1000 * statistics.median(cpu)))
                    if round_ == args.rounds:
                        rows.append(_row(name, "== all moves", wall, cpu, render))
                        if statistics.median(wall) > TARGET_MS:
                            slow.append((name, statistics.median(wall)))
            print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    if args.rounds > 1:
        print(f"the last of {args.rounds} rounds:")
    _print_table(rows)
    if slow:
        print(f"\n{len(slow)} explorer(s) above the {TARGET_MS:.0f} ms median target: "
              + ", ".join(f"{n} ({m:.0f} ms)" for n, m in slow))
    if args.rounds > 1:
        _print_rounds(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
