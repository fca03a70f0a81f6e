"""course/'s MLP against PyTorch on the CPU: the same training, side by side, in one run.

    python benchmarks/torch_mlp.py [--rounds 7] [--threads N] [--only digits,784-128,784-512] [--clock cpu]

PyTorch is an optional benchmark dependency: ``pip install -e ".[bench]"`` (torch 2.13.0, the CPU build).

Both sides train the same network from the same weights (course.nn.init_mlp, copied into torch.nn.Linear),
on the same float32 data in the same order (the epochs' permutations of one seeded numpy Generator), with
the same optimizer: SGD with a constant step (torch.optim.SGD) and diagonal AdaGrad (course.optim.adagrad,
torch.optim.Adagrad). Both do the same work per epoch as course.train.fit does: one step per minibatch,
each minibatch loss read back as a Python float, and the mean loss on the whole training set before
training and after every epoch. course/ runs its opt-in fast path, chosen explicitly:
``fit(mlp_loss_and_grad, ..., fast.adagrad(eta), loop=fast.train_mlp, loss=fast.mlp_loss)`` (the same
numbers as the readable ``course.train.train``, see tests/test_fast_path.py).
The run fails unless both reach the same loss (like for like).

Configurations: the 8x8 digits (1347 training images) with 64-64-10 at batch 32; 60,000 synthetic
784-pixel images (nothing is downloaded) with 784-256-128-10 at batch 128 and at batch 512.

Reported, medians (on a loaded machine the two sides run back to back, in alternating order, so that
the load hits both alike; a ratio is taken within a round or block, then the median):
- per epoch of fit(): the time of the whole call divided by its epochs, so with (epochs + 1) / epochs
  whole-training-set losses per epoch (one forward pass over all the data each, as much work on both sides);
- per training step alone: blocks of 10 steps (40 on the digits) of each side in turn on the same
  minibatches; course/'s step is the one the fast path takes (course.fast.Workspace.loss_and_grad and the
  optimizer's in-place step);
- achieved GFLOP/s, and their fraction of numpy's float32 GEMM peak, measured right before and right after
  every run of course/ as the sustained rate of 1024x1024 products over half a second (the mean of the two:
  on a loaded machine, the peak on offer while course/ ran; the best single product is printed too).
  FLOPs counted: 2 d_in d_out per sample and layer for the forward pass, as much for the weight gradients,
  as much again for the input gradients of every layer but the first, and per epoch the forward passes of
  the whole-set losses; elementwise work is not counted.
Both libraries use the same number of threads: numpy's BLAS thread count, or ``--threads``. On a machine
busy with other work, ``--threads 1 --clock cpu`` times everything (both sides, the peak) by the process's
CPU time: what each would take alone on one core, for the shares of peak of one thread. Between the
two sides the run pauses for a quarter second, so that one library's idle spinning threads do not slow
the other down.

BLAS kernels: numpy's OpenBLAS picks its kernels by the CPU's model (here an AMD EPYC with AVX-512: its
SkylakeX kernels), unless the environment variables OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE choose for it.
Some machines set them for every program because older OpenBLAS builds fail on their CPU; this one sets
OPENBLAS_CORETYPE=Haswell, which halves numpy's float32 GEMM peak (AVX2 instead of AVX-512), while PyTorch
picks its own AVX-512 code. The benchmark leaves the environment alone, prints the kernels numpy runs,
and, when the environment chose them, the kernels OpenBLAS would pick and the command that measures numpy
as installed:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/torch_mlp.py

The targets are meant for numpy as installed (the kernels a student's laptop runs).

Targets (issue 24), per epoch of fit() (what a student waits for), each the median over the rounds:
course/ at least 4x faster than PyTorch on digits 64-64-10 at batch 32; on 784-256-128-10 at least 75% of
the same run's float32 GEMM peak at batch 128 and at least 80% at batch 512, with SGD and with AdaGrad.
The batch-128 ratio to PyTorch is printed for information: it depends on the CPU (PyTorch's own kernels).
The table of steps alone shows where the time goes; the last line says whether every target was met.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import threadpoolctl

from course.data import load_digits
from course import fast
from course.nn import init_mlp, mlp_loss_and_grad
from course.train import fit

SEED = 0
SETTLE = 0.25   # seconds between the two sides: idle worker threads spin for a while after their last
                # job (OpenBLAS's about 0.1 s, libgomp's a few ms) and would take a core from the other side


class Config:
    def __init__(self, name, sizes, batch_size, epochs, lr, target):
        self.name, self.sizes, self.batch_size, self.epochs, self.lr, self.target = \
            name, sizes, batch_size, epochs, lr, target

    def label(self):
        return f"{self.name} {'-'.join(map(str, self.sizes))} B={self.batch_size}"


CONFIGS = [
    # lr: constant SGD step and AdaGrad's eta; target: ("speed-up", x) or ("peak", fraction per optimizer)
    Config("digits", [64, 64, 10], 32, epochs=20, lr={"sgd": 0.05, "adagrad": 0.05}, target=("speed-up", 4.0)),
    Config("784-128", [784, 256, 128, 10], 128, epochs=1, lr={"sgd": 0.05, "adagrad": 0.01},
           target=("peak", {"sgd": 0.75, "adagrad": 0.75})),
    Config("784-512", [784, 256, 128, 10], 512, epochs=1, lr={"sgd": 0.1, "adagrad": 0.01},
           target=("peak", {"sgd": 0.80, "adagrad": 0.80})),
]


# ---------------------------------------------------------------------------------------- data, FLOPs

def synthetic_images(n=60_000, d=784, classes=10, seed=SEED):
    """n float32 "images" in [0, 1]^d: noisy copies of ``classes`` prototypes, 20% of them mislabeled (so
    that the loss stays well above 0, as on real data); MNIST's size, nothing downloaded."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((classes, d)) ** 3                    # mostly dark pixels, a few bright
    y = rng.integers(0, classes, size=n)
    X = np.clip(prototypes[y] + 0.5 * rng.standard_normal((n, d)), 0.0, 1.0)
    flip = rng.random(n) < 0.2
    y[flip] = rng.integers(0, classes, size=int(flip.sum()))
    return X.astype(np.float32), y.astype(np.int64)


def data_for(config, cache={}):
    if config.sizes[0] == 64:
        key = "digits"
        if key not in cache:
            X, y, _, _ = load_digits(dtype=np.float32)
            cache[key] = (np.ascontiguousarray(X), y)
    else:
        key = "synthetic"
        if key not in cache:
            cache[key] = synthetic_images()
    return cache[key]


def flops_per_epoch(config, n):
    """Model FLOPs of one epoch of fit(): the steps, and (epochs + 1) / epochs whole-set forward passes."""
    layers = [a * b for a, b in zip(config.sizes[:-1], config.sizes[1:])]
    forward = 2 * sum(layers)
    step = forward + 2 * sum(layers) + 2 * sum(layers[1:])     # forward, dW, dx (not for the input)
    return n * step + n * forward * (config.epochs + 1) / config.epochs


def gemm_peak(threads, n=1024, seconds=0.5, clock=time.perf_counter):
    """numpy float32 GEMM in GFLOP/s, n x n products into a preallocated out, back to back for about
    ``seconds``: (the sustained rate over that time, the best single product).

    The sustained rate is the peak that the machine offered during that time: on a loaded machine a
    single product may find both cores free, a training run of a second does not.
    """
    rng = np.random.default_rng(1)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    times = []
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=out)                                   # warm up
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            tick = clock()
            np.matmul(a, b, out=out)
            times.append(clock() - tick)
    flops = 2 * n ** 3
    return flops * len(times) / sum(times) / 1e9, flops / min(times) / 1e9


# ---------------------------------------------------------------------------------------- the two sides

def course_optimizer(config, kind):
    return fast.sgd(lambda k: config.lr["sgd"]) if kind == "sgd" else fast.adagrad(eta=config.lr["adagrad"])


def run_course(config, kind, params, X, y, threads, clock=time.perf_counter):
    optimizer = course_optimizer(config, kind)
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        start = clock()
        _, history = fit(mlp_loss_and_grad, params, X, y, optimizer, epochs=config.epochs,
                         batch_size=config.batch_size, rng=np.random.default_rng(SEED),
                         loop=fast.train_mlp, loss=fast.mlp_loss)
        seconds = clock() - start
    return seconds / config.epochs, history["step_loss"], history["train_loss"]


def torch_model(config, kind, params, torch):
    """torch.nn.Sequential of Linear/ReLU with course's weights (torch stores W_i transposed), its optimizer."""
    layers, L = [], len(config.sizes) - 1
    for i in range(1, L + 1):
        linear = torch.nn.Linear(config.sizes[i - 1], config.sizes[i])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))
        layers += [linear, torch.nn.ReLU()] if i < L else [linear]
    model = torch.nn.Sequential(*layers)
    optimizer = (torch.optim.SGD(model.parameters(), lr=config.lr["sgd"]) if kind == "sgd" else
                 torch.optim.Adagrad(model.parameters(), lr=config.lr["adagrad"]))
    return model, optimizer


def torch_step(model, optimizer, x, y, F):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def run_torch(config, kind, params, X, y, torch, clock=time.perf_counter):
    F = torch.nn.functional
    model, optimizer = torch_model(config, kind, params, torch)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    rng, n, B = np.random.default_rng(SEED), len(X), config.batch_size
    step_loss, train_loss = [], []

    def record():
        with torch.no_grad():
            train_loss.append(F.cross_entropy(model(Xt), yt).item())

    start = clock()
    record()
    for _ in range(config.epochs):
        perm = torch.from_numpy(rng.permutation(n))              # as course.data.epoch_minibatches
        for i in range(0, n, B):
            idx = perm[i:i + B]
            step_loss.append(torch_step(model, optimizer, Xt[idx], yt[idx], F))
        record()
    seconds = clock() - start
    return seconds / config.epochs, step_loss, train_loss


def step_times(config, kind, params, X, y, torch, threads, blocks=8, steps=None, clock=time.perf_counter):
    """The training steps alone, without fit()'s whole-set losses: blocks of ``steps`` steps of each
    side in turn, on the same minibatches. course/'s step is the one its fast path takes
    (course.fast.Workspace.loss_and_grad and the optimizer's in-place step). Returns a list of
    (course seconds per step, torch seconds per step), one per block."""
    steps = steps or (40 if config.batch_size < 128 else 10)
    optimizer = course_optimizer(config, kind)
    ws = fast.Workspace(params, X, y, config.batch_size, flat=optimizer.flat)
    state = optimizer.init(ws.opt_params)
    model, torch_optimizer = torch_model(config, kind, params, torch)
    Xt, yt, F = torch.from_numpy(X), torch.from_numpy(y), torch.nn.functional
    perm, B = np.random.default_rng(SEED).permutation(len(X)), config.batch_size
    batches = [perm[i:i + B] for i in range(0, len(X) - B + 1, B)]
    out = []
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        for block in range(blocks + 1):                            # block 0 warms up
            chosen = [batches[(block * steps + j) % len(batches)] for j in range(steps)]
            time.sleep(SETTLE)
            start = clock()
            for idx in chosen:
                float(ws.loss_and_grad(idx))
                state = optimizer.step(ws.opt_grads, state, ws.opt_params, ws.work)
            middle = clock()
            time.sleep(SETTLE)
            resumed = clock()
            for idx in chosen:
                idx = torch.from_numpy(idx)
                torch_step(model, torch_optimizer, Xt[idx], yt[idx], F)
            end = clock()
            if block:
                out.append(((middle - start) / steps, (end - resumed) / steps))
    return out


def check_like_for_like(config, kind, ours, theirs):
    """The same computation: the same start (whole-set loss) and first steps, the same final loss.

    SGD's step losses agree to float32 rounding for hundreds of steps; AdaGrad's first steps are
    -eta sign(g) for every entry, so a gradient entry near 0 that rounds differently in the two libraries
    moves by a full step in another direction: the runs drift apart by a few 1e-3 of the loss per epoch.
    A different step size, data order or update rule differs far more, already in the first steps.
    """
    (_, steps_a, losses_a), (_, steps_b, losses_b) = ours, theirs
    what = f"{config.label()} {kind}"
    assert len(steps_a) == len(steps_b), f"{what}: {len(steps_a)} vs {len(steps_b)} steps"
    assert np.isclose(losses_a[0], losses_b[0], rtol=1e-5), f"{what}: start {losses_a[0]} vs {losses_b[0]}"
    assert np.allclose(steps_a[:3], steps_b[:3], rtol=2e-5), f"{what}: first steps {steps_a[:3]} vs {steps_b[:3]}"
    assert losses_a[-1] < 0.8 * losses_a[0], f"{what}: the loss did not go down ({losses_a})"
    assert np.isclose(losses_a[-1], losses_b[-1], rtol=1e-2), \
        f"{what}: final loss {losses_a[-1]} (course) vs {losses_b[-1]} (torch)"


# ---------------------------------------------------------------------------------------- main

def flops_per_step(config):
    layers = [a * b for a, b in zip(config.sizes[:-1], config.sizes[1:])]
    return config.batch_size * (4 * sum(layers) + 2 * sum(layers[1:]))


KERNEL_CHOICE = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")   # environment variables that override OpenBLAS's
                                                           # own choice of kernels and cache blocking


def _openblas_kernels(env) -> str:
    """The kernels ("architecture") numpy's OpenBLAS picks in a fresh Python with the environment ``env``."""
    probe = ("import numpy, threadpoolctl; print(next((p.get('architecture', '?') for p in "
             "threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas'), 'no OpenBLAS'))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    return done.stdout.strip() or f"unknown ({done.stderr.strip()[-200:]})"


def _kernel_choice_note(kernels: str) -> str | None:
    """A note when the environment chooses numpy's BLAS kernels instead of OpenBLAS itself.

    Some machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for every program, because older OpenBLAS
    builds crash or compute wrong results on their CPU. A current numpy then runs slower kernels than it
    would pick on its own (here Haswell's AVX2 instead of the CPU's AVX-512, at half the GEMM peak). The
    benchmark does not override that setting; it says which kernels numpy would run without it.
    """
    forced = {name: os.environ[name] for name in KERNEL_CHOICE if name in os.environ}
    if not forced:
        return None
    own = _openblas_kernels({k: v for k, v in os.environ.items() if k not in KERNEL_CHOICE})
    if own == kernels:
        return None
    settings = " ".join(f"{k}={v}" for k, v in forced.items())
    return (f"note: {settings} in the environment makes numpy's OpenBLAS run its {kernels} kernels; on its own "
            f"it picks {own} here. numpy as installed:\n    env -u {' -u '.join(KERNEL_CHOICE)} python "
            f"benchmarks/torch_mlp.py")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="default: numpy's BLAS thread count")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time instead of the wall clock, with --threads 1 only (on a "
                        "machine busy with other work, a one-thread run's CPU time is what it would take alone)")
    parser.add_argument("--only", default=None, help="comma-separated config names: "
                        + ",".join(c.name for c in CONFIGS))
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu needs --threads 1: the CPU time of several threads is not the time waited")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is needed for this benchmark: pip install torch==2.13.0 (the CPU build)")

    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    threads = args.threads or (blas[0]["num_threads"] if blas else 1)
    torch.set_num_threads(threads)
    configs = [c for c in CONFIGS if args.only is None or c.name in args.only.split(",")]
    print(f"numpy {np.__version__} ({blas[0]['internal_api'] if blas else '?'} "
          f"{blas[0].get('version', '') if blas else ''}, {blas[0].get('architecture', '?') if blas else '?'} "
          f"kernels), torch {torch.__version__}, {threads} thread(s), {args.rounds} rounds, {args.clock} clock",
          flush=True)
    note = _kernel_choice_note(blas[0].get("architecture", "?")) if blas else None
    if note:
        print(note, flush=True)

    epochs, steps = {}, {}     # (config name, kind) -> per round: (course s, torch s, peak, best, losses)
    for r in range(args.rounds):
        for config in configs:
            X, y = data_for(config)
            for kind in ("sgd", "adagrad"):
                params = init_mlp(config.sizes, np.random.default_rng(SEED), dtype=np.float32)
                sides = [lambda: run_course(config, kind, params, X, y, threads, clock),
                         lambda: run_torch(config, kind, params, X, y, torch, clock)]
                order = [0, 1] if (r + (kind == "adagrad")) % 2 == 0 else [1, 0]
                out, peaks = {}, []
                for side in order:
                    time.sleep(SETTLE)
                    if side == 0:            # the peak right before and right after course's run: the
                        peaks.append(gemm_peak(threads, clock=clock))           # machine's offer while it ran
                    out[side] = sides[side]()
                    if side == 0:
                        peaks.append(gemm_peak(threads, clock=clock))
                peak, best = statistics.mean(p for p, _ in peaks), max(b for _, b in peaks)
                check_like_for_like(config, kind, out[0], out[1])
                epochs.setdefault((config.name, kind), []).append(
                    (out[0][0], out[1][0], peak, best, (out[0][2][-1], out[1][2][-1])))
                per_step = step_times(config, kind, params, X, y, torch, threads, clock=clock)
                steps.setdefault((config.name, kind), []).extend(
                    (a, b, peak) for a, b in per_step)
                print(f"  round {r + 1} {config.label():<32} {kind:<8} epoch: course {1e3 * out[0][0]:8.1f} ms "
                      f"torch {1e3 * out[1][0]:8.1f} ms ({out[1][0] / out[0][0]:4.2f}x); step: course "
                      f"{1e6 * statistics.median(a for a, _ in per_step):7.0f} us torch "
                      f"{1e6 * statistics.median(b for _, b in per_step):7.0f} us "
                      f"({statistics.median(b / a for a, b in per_step):4.2f}x); GEMM peak {peak:5.1f} GFLOP/s",
                      flush=True)

    failed = []

    def verdict(config, kind, what, value):
        goal_kind, goal = config.target
        if goal_kind != what or table != "epoch":     # the targets are per epoch; steps alone show why
            return ""
        goal = goal[kind] if isinstance(goal, dict) else goal
        met = value >= goal
        if not met:
            failed.append(f"{config.label()} {kind}")
        return (f">= {goal:g}x" if what == "speed-up" else f">= {goal:.0%}") + (" yes" if met else " NO")

    for table, results in (("epoch", epochs), ("step", steps)):
        print()
        if table == "epoch":
            print("Per epoch of fit(): its steps and the whole-set loss after it, (epochs + 1) / epochs "
                  "whole-set losses per epoch; medians over rounds")
        else:
            print("Per training step alone (blocks of steps of each side in turn, after a pause: a little slower "
                  "than inside an epoch); medians over blocks. For information: the targets are per epoch")
        unit, scale = ("ms", 1e3) if table == "epoch" else ("us", 1e6)
        header = (f"{'configuration':<32}{'optimizer':<9}{'course ' + unit:>11}{'torch ' + unit:>11}"
                  f"{'speed-up':>9}{'target':>11}{'course GFLOP/s':>17}{'torch GFLOP/s':>16}{'target':>12}")
        print(header)
        print("-" * len(header))
        for config in configs:
            n = len(data_for(config)[0])
            flops = flops_per_epoch(config, n) if table == "epoch" else flops_per_step(config)
            for kind in ("sgd", "adagrad"):
                rows = results[(config.name, kind)]
                t_course = statistics.median(row[0] for row in rows)
                t_torch = statistics.median(row[1] for row in rows)
                ratio = statistics.median(row[1] / row[0] for row in rows)
                frac_course = statistics.median(flops / row[0] / 1e9 / row[2] for row in rows)
                frac_torch = statistics.median(flops / row[1] / 1e9 / row[2] for row in rows)
                print(f"{config.label():<32}{kind:<9}{scale * t_course:>11.1f}{scale * t_torch:>11.1f}"
                      f"{ratio:>8.2f}x{verdict(config, kind, 'speed-up', ratio):>11}"
                      f"{flops / t_course / 1e9:>9.1f} ({frac_course:>4.0%}){flops / t_torch / 1e9:>9.1f} "
                      f"({frac_torch:>4.0%}){verdict(config, kind, 'peak', frac_course):>12}")
    print()
    for config in configs:
        for kind in ("sgd", "adagrad"):
            losses = epochs[(config.name, kind)][-1][4]
            print(f"final whole-set loss, {config.label()} {kind}: course {losses[0]:.5f}, torch {losses[1]:.5f}")
    peaks = [row[2] for rows in epochs.values() for row in rows]
    bests = [row[3] for rows in epochs.values() for row in rows]
    print(f"numpy float32 GEMM peak (1024^3 products for 0.5 s before and after every run of course/, each "
          f"fraction uses their mean): sustained median {statistics.median(peaks):.1f} (min {min(peaks):.1f}, max "
          f"{max(peaks):.1f}) GFLOP/s; best single product {max(bests):.1f} GFLOP/s")
    print("PASS: every target met" if not failed else "FAIL: targets missed: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
