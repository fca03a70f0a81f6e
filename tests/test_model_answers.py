"""The course material agrees with itself: every number that a model answer, a mark scheme or a notebook's
own explanation states is the number the notebook computes, and every cell and section that the lecture
map (notebooks/README.md) names exists.

The notebooks' ungraded code cells run once per session, in this process: the solution cells (the
students' functions), the experiments and figures; not the test cells (they call the grader) and not the
widget explorers. Each check parses a number from a markdown cell and compares it with what the cells
computed, or with a closed form or a second computation, within the tolerance written next to it.
"""

import contextlib
import io
import math
import re

import matplotlib
import nbformat
import numpy as np
import pytest

from autograder.grading import REPO_SOURCE
from conftest import ASSIGNMENTS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

README_MAP = REPO_SOURCE.parent / "README.md"
ORDER = ["step_sizes", "gd_vs_sgd", "adagrad", "mlp", "nonsmooth"]      # easiest first


def _notebook(assignment):
    return nbformat.read(REPO_SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def _run(assignment, only=None):
    """Run the notebook's ungraded code cells (all, or the solution cells and those in ``only``) in a
    fresh namespace; return (namespace, stdout per cell id)."""
    from threadpoolctl import threadpool_limits

    namespace, printed = {"__name__": f"notebook_{assignment}"}, {}
    with threadpool_limits(limits=None):                        # undo a notebook's BLAS thread limit after
        for cell in _notebook(assignment).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or meta.get("grade") or "explorer(" in cell.source:
                continue
            if only is not None and not (meta.get("solution") or cell.id in only):
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            with contextlib.redirect_stdout(io.StringIO()) as out:
                exec(compile(source, f"<{assignment}: cell {cell.id}>", "exec"), namespace)
            printed[cell.id] = out.getvalue()
            plt.close("all")
    return namespace, printed


def _raw(assignment, cell_id):
    cells = [c for c in _notebook(assignment).cells if c.id == cell_id]
    assert len(cells) == 1, f"{assignment} has no cell {cell_id!r}"
    return cells[0].source


def _text(assignment, cell_id):
    return " ".join(_raw(assignment, cell_id).split())        # line breaks inside a sentence do not matter


def _stated(assignment, cell_id, pattern, at_least=1):
    """Every match of ``pattern`` in the cell's text, as tuples of floats; fails if the claim is gone."""
    found = [tuple(float(g) for g in m.groups()) for m in re.finditer(pattern, _text(assignment, cell_id))]
    assert len(found) >= at_least, f"{assignment}/{cell_id}: expected the claim {pattern!r} at least {at_least}x"
    return found


@pytest.fixture(scope="session")
def gd_vs_sgd():
    return _run("gd_vs_sgd")


@pytest.fixture(scope="session")
def step_sizes():
    return _run("step_sizes")


@pytest.fixture(scope="session")
def adagrad():
    return _run("adagrad", only={"7d0f036e", "cb7394af", "large-eta-price", "3aee2b69", "4a25701c"})


@pytest.fixture(scope="session")
def mlp():
    return _run("mlp", only={"f8804e99", "a1d3d596", "3de9aedf", "da728218"})


@pytest.fixture(scope="session")
def nonsmooth():
    return _run("nonsmooth", only={"2d10f954", "c20a40c7", "05032b40", "8aec729f"})


# ------------------------------------------------------------------------------------------ gd_vs_sgd

def test_gd_vs_sgd_signal_to_noise_far_and_close(gd_vs_sgd):
    ns, _ = gd_vs_sgd
    snr_ray = ns["snr"][-1]                                         # r = 20 on the plotted ray
    lo, hi = min(ns["snr_far"]), max(ns["snr_far"])                 # 360 directions, r = 1000
    for (value,) in _stated("gd_vs_sgd", "answer-far-close", r"near (\d\.\d+) on the (?:plotted )?ray", 2):
        assert abs(value - snr_ray) <= 0.02, f"the key says SNR levels off near {value}, the ray gives {snr_ray:.3f}"
    for a, b in (_stated("gd_vs_sgd", "answer-far-close", r"(\d\.\d+) (?:to|and) (\d\.\d+) over directions", 2)
                 + _stated("gd_vs_sgd", "far-close-why", r"between about (\d\.\d+) and (\d\.\d+)")):
        assert abs(a - lo) <= 0.01 and abs(b - hi) <= 0.01, f"stated {a}-{b}, computed {lo:.3f}-{hi:.3f}"
    assert "never above 1" in _text("gd_vs_sgd", "answer-far-close")
    assert hi < 1 and max(ns["snr"]) < 1
    # levelling off: over the last factor 5 in distance (r = 4 to 20) the ratio changes by less than 5 %
    r, snr = np.asarray(ns["r"]), np.asarray(ns["snr"])
    assert np.ptp(snr[r >= 4]) / snr_ray < 0.05


def test_gd_vs_sgd_descent_fractions(gd_vs_sgd):
    ns, _ = gd_vs_sgd
    near_ray, near_mean, far_ray = ns["fraction"][0], np.mean(ns["fraction_near"]), ns["far_on_ray"]
    for (value,) in (_stated("gd_vs_sgd", "answer-far-close", r"(?<!near )(\d\.\d+) on the plotted ray", 2)
                     + _stated("gd_vs_sgd", "far-close-why", r"\((\d\.\d+) on ours\)")):
        assert abs(value - near_ray) <= 0.02, f"stated {value}, the ray gives {near_ray}"
    assert "one half averaged over directions" in _text("gd_vs_sgd", "answer-far-close")
    assert abs(near_mean - 0.5) <= 0.02, near_mean
    for (percent,) in _stated("gd_vs_sgd", "answer-far-close", r"about (\d+) %", 2):
        assert abs(percent / 100 - far_ray) <= 0.03, f"stated {percent} %, the ray gives {far_ray:.2f}"


def test_gd_vs_sgd_descent_fraction_symmetry_and_expected_descent(gd_vs_sgd):
    """Two statements of the explanation, checked by a second computation: p(u) + p(-u) -> 1 close to
    theta*, and E E(theta - tau g) <= E(theta) - tau ||grad E||^2 (1 - tau L (1 + 1/SNR) / 2), with the
    expectation over the N single-example steps taken exactly."""
    ns, _ = gd_vs_sgd
    X, y, star = ns["X2"], ns["y2"], ns["star2"]
    N = len(y)

    def per_example(theta):
        return (X @ theta - y)[:, None] * X

    def fraction(theta):
        G = per_example(theta)
        return np.mean(G @ G.sum(axis=0) > 0)

    rng = np.random.default_rng(0)
    for _ in range(20):
        u = rng.normal(size=2)
        u /= np.linalg.norm(u)
        assert fraction(star + 1e-7 * u) + fraction(star - 1e-7 * u) == pytest.approx(1.0)
    E = lambda th: 0.5 * np.sum((X @ th - y) ** 2)
    L = np.linalg.eigvalsh(X.T @ X).max()
    for distance in (0.1, 1.0, 10.0, 1000.0):
        theta = star + distance * np.array([0.6, -0.8])
        G = per_example(theta)
        grad = G.sum(axis=0)
        snr = grad @ grad / (N * np.sum(G ** 2) - grad @ grad)
        tau = 0.9 * 2 * snr / (L * (1 + snr))
        expected = np.mean([E(theta - tau * N * g) for g in G])      # g_I = N grad f_j, j uniform
        bound = E(theta) - tau * (grad @ grad) * (1 - tau * L * (1 + 1 / snr) / 2)
        assert expected <= bound + 1e-9 * abs(E(theta)) and expected < E(theta)


# ----------------------------------------------------------------------------------------- step_sizes

def test_step_sizes_constant_step_spread(step_sizes):
    ns, _ = step_sizes
    assert r"\sqrt{\tau/(2-\tau)}" in _text("step_sizes", "452d399b")
    spread = ns["regimes"]["constant tau = 0.1"][-1].std()
    assert spread == pytest.approx(math.sqrt(0.1 / 1.9), rel=0.05)


def test_step_sizes_slope_follows_the_schedule(step_sizes):
    ns, printed = step_sizes
    assert r"The slope is $-\alpha$ for every $\tau(k) = 1/k^\alpha$" in _text("step_sizes", "d4d0f6a6")
    k = ns["k"]
    for alpha, (name, gap) in zip(ns["alphas"], ns["gaps"].items()):
        if alpha < 1:
            assert ns["slopes"][name] == pytest.approx(-alpha, abs=0.05), name
            assert gap[-1] / (0.5 / k[-1] ** alpha) == pytest.approx(1.0, abs=0.1), "gap ~ tau(k) / 2"
    # tau = 1/k: theta(k+1) is the running mean of the sampled centres, so E theta(k+1)^2 = 1/k exactly
    text = _text("step_sizes", "d4d0f6a6")
    assert r"exactly $1/k$, twice $\tau(k)/2$ (ratio 2)" in text and "does even better" not in text
    gap = ns["gaps"]["tau = 1/k^1"]
    assert gap[-1] / (0.5 / k[-1]) == pytest.approx(2.0, abs=0.2), "the gap of 1/k is twice tau(k)/2, not below it"
    steps = np.arange(1, len(gap))
    # (2000 runs: k theta(k+1)^2 has mean 1 and variance 2, so the mean over runs is within 3 sigma = 0.1)
    assert np.mean(gap[1:][steps >= 100] * steps[steps >= 100]) == pytest.approx(1.0, abs=0.1)
    indices = np.random.default_rng(0).integers(0, 2, size=(50, 30))  # the running-mean identity, run by run
    centres = np.array([1.0, -1.0])[indices]
    path = ns["sgd_iterates"](ns["stochastic_gradient"], np.full(30, 3.0), ns["inverse_power"](1.0, 1.0), indices)
    assert np.allclose(path[1:], np.cumsum(centres, axis=0) / np.arange(1, 51)[:, None])


def test_step_sizes_partial_sums(step_sizes):
    ns, _ = step_sizes
    K = len(ns["sums"]["1/k"][0])
    assert K == 10**5 and "it passes 12 at $K = 10^5$" in _text("step_sizes", "partial-sums-read")
    harmonic = ns["sums"]["1/k"][0][-1]
    assert 12 < harmonic < 12.2 and harmonic == pytest.approx(math.log(K) + 0.5772156649, abs=1e-4)
    assert ns["sums"]["1/2^k"][0][-1] == pytest.approx(1.0)


def test_step_sizes_convex_rate(step_sizes):
    ns, _ = step_sizes
    text = _text("step_sizes", "convex-rate-read")
    k, steps = ns["k"], len(ns["k"]) - 1
    assert steps == 5000 and r"about 9 after 5000 steps" in text
    harmonic = np.sum(1.0 / np.arange(1, steps + 1))
    assert round(harmonic) == 9
    # with tau = 1/k every step moves down by exactly 1/k (all subgradients are +1 above theta = 1):
    # theta(K+1) = 20 - H_K and E - min E = 3 theta - 2
    assert ns["convex_gaps"]["|.|, tau = 1/k^1"][-1] == pytest.approx(3 * (20 - harmonic) - 2)
    # tau = 1/sqrt(k) arrives after about (20/2)^2 = 100 steps: the gap falls below 1 (theta < 1) then
    assert r"(20/2)^2 = 100" in text
    arrival = k[np.argmax(ns["convex_gaps"]["|.|, tau = 1/k^0.5"] < 1.0)]
    assert 70 <= arrival <= 140, arrival
    assert ns["convex_slopes"]["|.|, tau = 1/k^0.5"] == pytest.approx(-0.5, abs=0.05)
    assert ns["convex_slopes"]["Huber, tau = 1/k^0.5"] == pytest.approx(-0.5, abs=0.1)   # "those of |.|"
    # the guarantee N (D^2 + G^2 sum tau^2) / (2 sum tau), recomputed: slope -1/2 for alpha = 1/2, the best
    K = np.arange(1, 10**6 + 1)
    slopes = {}
    for alpha in (0.5, 0.75, 1.0):
        tau = K ** -alpha
        bound = 3 * (400 + np.cumsum(tau ** 2)) / (2 * np.cumsum(tau))
        slopes[alpha] = np.polyfit(np.log(K[10**4:]), np.log(bound[10**4:]), 1)[0]
    assert slopes[0.5] == pytest.approx(-0.5, abs=0.02) and slopes[0.5] < slopes[0.75] < slopes[1.0]


def test_step_sizes_huber_and_abs_both_follow_the_step_size(step_sizes):
    """Issue 23.7: the Huber and |.| curves share a slope because both follow tau(k); started close by
    with tau = 1/k both fall like 1/k, so the experiment says nothing about rates."""
    ns, _ = step_sizes
    text = _text("step_sizes", "convex-rate-read")
    assert "at $\\theta(1) = 0.5$ with $\\tau = 1/k$, both fall like $1/k$ (fitted slopes about $-1$)" in text
    assert "cannot show a statement about rates" in text and "is the theory's statement" in text
    rng = np.random.default_rng(6)
    indices = ns["sample_indices"](3, 5000, rng, runs=400)
    k = np.arange(1, 5002)
    tail = k >= 1000
    for loss, grad in ((ns["abs_sum_loss"], ns["abs_sum_sample_subgradient"]),
                       (ns["huber_sum_loss"], ns["huber_sum_sample_grad"])):
        path = ns["sgd_iterates"](grad, np.full(400, 0.5), ns["inverse_power"](1.0, 1.0), indices)
        gap = np.mean(loss(path) - loss(0.0), axis=1)
        assert np.polyfit(np.log(k[tail]), np.log(gap[tail]), 1)[0] == pytest.approx(-1.0, abs=0.1)


def test_the_slope_of_tau0_over_k_needs_a_large_enough_tau0():
    """Issue 23.8: on the sanity check (mu = 1, noise variance 1) the expected gap e(k) = E theta(k)^2 obeys
    e(k+1) = (1 - tau(k))^2 e(k) + tau(k)^2 exactly; with tau0/k^alpha its slope is -alpha for alpha < 1,
    and for alpha = 1 only when 2 mu tau0 > 1 (else -2 mu tau0). The lecture map says so."""
    row = next(line for line in README_MAP.read_text().splitlines() if line.startswith("| Convex E:"))
    assert "2μτ0 > 1" in row and "τ0 = 0.25 gives −0.5" in row

    def slope(tau0, alpha, K=10**5):
        e, gaps = 9.0, [9.0]
        for k in range(1, K + 1):
            tau = tau0 / k ** alpha
            e = (1 - tau) ** 2 * e + tau ** 2
            gaps.append(e)
        k = np.arange(1, K + 2)
        return np.polyfit(np.log(k[k >= 1000]), np.log(np.array(gaps)[k >= 1000]), 1)[0]

    assert slope(1.0, 1.0) == pytest.approx(-1.0, abs=0.02) and slope(0.75, 1.0) == pytest.approx(-1.0, abs=0.02)
    assert slope(0.25, 1.0) == pytest.approx(-0.5, abs=0.02)
    assert slope(0.25, 0.5) == pytest.approx(-0.5, abs=0.02)


def test_step_sizes_nonconvex_gradient_goes_to_zero(step_sizes):
    ns, _ = step_sizes
    grad_sq, path = ns["grad_sq"], ns["path"]
    assert grad_sq[-1] < 0.05 * grad_sq[0]
    assert "some still on their way down from near a maximiser" in _text("step_sizes", "nonconvex-read")
    late = np.cos(path[-1]) <= 0.99
    assert 0 < late.mean() < 0.1 and np.all(np.cos(path[0][late]) < -0.5)


# -------------------------------------------------------------------------------------------- adagrad

def test_adagrad_price_of_a_large_eta_on_the_sanity_check(adagrad):
    ns, _ = adagrad
    text = _text("adagrad", "00441711")
    gaps, taus = ns["ada_gaps"]["eta = 100"], ns["ada_taus"]["eta = 100"]
    assert "overshoots to about $-97$" in text and gaps[1] == pytest.approx(97.0 ** 2)
    assert r"$c \approx 10^4$" in text and 0.9e4 < (100 / taus[1]) ** 2 < 1.1e4
    assert "about 1 for thousands of steps" in text
    assert np.all((taus[1:2000] > 0.85) & (taus[1:2000] < 1.05)), "tau(k) ~ 1 for the first 2000 steps"
    assert np.all((gaps[10:2001] > 0.7) & (gaps[10:2001] < 1.1)), "the gap stays near 1"
    # issue 23.10: while tau ~ 1 the iterates sit at +-1, so E g^2 = 2, not 1: eta^2 / 2 = 5000 steps stuck
    assert r"\mathbb{E}\|g\|^2 \approx 2" in text and r"\eta^2/2 = 5000" in text and "half the stability limit" in text
    indices = np.random.default_rng(0).integers(0, 2, size=(5000, 200))             # the cell's runs, per run
    _, run_taus = ns["adagrad_norm_run"](ns["sanity_check_runs_grad"], np.full((200, 1), 3.0), indices, eta=100.0)
    increments = np.diff((100.0 / run_taus) ** 2, axis=0)                           # ||g_k||^2 = c(k+1) - c(k)
    assert increments[10:2000].mean() == pytest.approx(2.0, abs=0.15)
    assert taus[-1] == pytest.approx(1 / math.sqrt(2), abs=0.05), "after eta^2 / 2 steps c doubled: tau ~ 1/sqrt(2)"
    for cell in ("answer-robustness",):
        assert r"\sigma^2" not in _text("adagrad", cell) and "half the" in _text("adagrad", cell)


def test_adagrad_diagonal_gets_close_noisily(adagrad):
    """Issue 23.11: diagonal AdaGrad does not reach theta*; it gets close, noisily."""
    ns, _ = adagrad
    text = _text("adagrad", "41bd9a25")
    assert "reaches all of" not in text
    (median,), = _stated("adagrad", "41bd9a25", r"median of \$\\\|\\theta\(k\) - \\theta\^\*\\\|\$ is about (\d\.\d+)")
    (last, star), = _stated("adagrad", "41bd9a25", r"off by about (\d\.\d+) against \$\|\\theta\^\*_5\| \\approx (\d\.\d+)\$")
    errors = ns["diag_thetas"][-500:] - ns["star_s"]
    assert np.median(np.linalg.norm(errors, axis=1)) == pytest.approx(median, abs=0.01)
    assert np.median(np.abs(errors[:, 4])) == pytest.approx(last, abs=0.01)
    assert abs(ns["star_s"][4]) == pytest.approx(star, abs=0.01)


def test_adagrad_theorem_and_decades_as_stated():
    """Issue 23.12: Ward-Wu-Bottou's theorem with its assumptions; 0.1 ... 100 is three decades."""
    intro = _text("adagrad", "intro")
    assert "converges for any" not in intro and r"O(\log K / \sqrt{K})" in intro and "c_0 > 0" in intro
    assert "default $c_0 = 0$ lies just outside the theorem" in intro
    assert "over three orders of magnitude (0.1 to 100)" in _text("adagrad", "fb2a6708")
    assert math.log10(100 / 0.1) == 3


def test_adagrad_decades_depend_on_the_tolerance_and_large_eta_levels_off(adagrad):
    ns, _ = adagrad
    scales = ns["scales"]
    sgd, ada = np.array(ns["final"]["SGD, constant tau"]), np.array(ns["final"]["AdaGrad-Norm, eta"])

    def decades(gaps, tol):                                         # a second implementation
        ok = scales[np.nan_to_num(gaps, nan=np.inf) <= tol]
        return math.log10(ok.max() / ok.min()) if len(ok) else 0.0

    text = _text("adagrad", "046eaa70")
    assert "5 with `tol = 1e-2`, one with `tol = 1e-3`, where SGD manages as many" in text
    assert decades(ada, 1e-2) == pytest.approx(5.0) and decades(ada, 1e-3) == pytest.approx(1.0)
    assert decades(sgd, 1e-3) == pytest.approx(decades(ada, 1e-3))
    large = ada[scales >= 30]
    for cell in ("046eaa70", "answer-robustness"):
        for (mantissa,) in _stated("adagrad", cell, r"(\d\.\d)\s*\\cdot\s*10\^\{-3\}"):
            assert np.all(np.abs(large / (mantissa * 1e-3) - 1) < 0.1), (cell, mantissa, large)
    ratio = large.mean() / ada[scales == 1.0][0]
    assert 7 <= ratio <= 15, f"'about ten times worse than eta = 1': the ratio is {ratio:.1f}"


def test_adagrad_is_invariant_to_the_scale_of_the_loss_with_c0_zero(adagrad):
    ns, _ = adagrad
    adagrad_norm_run, grad, B = ns["adagrad_norm_run"], ns["grad"], ns["B"]
    indices, theta1 = ns["indices"][:100], ns["theta1"]
    for s in (1.0 / B, 7.0):
        scaled = lambda theta, idx, s=s: s * grad(theta, idx)
        assert np.allclose(adagrad_norm_run(grad, theta1, indices)[0], adagrad_norm_run(scaled, theta1, indices)[0],
                           rtol=1e-12, atol=1e-12)
        assert np.allclose(adagrad_norm_run(grad, theta1, indices, c0=1.0)[0],               # c0 rescaled by s^2
                           adagrad_norm_run(scaled, theta1, indices, c0=s ** 2)[0], rtol=1e-12, atol=1e-12)
    assert not np.allclose(adagrad_norm_run(grad, theta1, indices, c0=1.0)[0],
                           adagrad_norm_run(lambda t, i: grad(t, i) / B, theta1, indices, c0=1.0)[0])


# ------------------------------------------------------------------------------------------------ mlp

def test_mlp_shares_of_an_epoch_with_replacement(mlp):
    ns, _ = mlp
    counts = ns["uses"]["with replacement"]
    unused, more = np.mean(counts == 0), np.mean(counts > 1)
    measured = _stated("mlp", "answer-shuffling", r"(\d+\.\d) % measured above", 2)
    assert [m[0] for m in measured] == pytest.approx([100 * unused, 100 * more], abs=0.05)
    (stated,) = _stated("mlp", "answer-shuffling", r"\(measured above: (\d+\.\d) %\)")
    assert stated[0] == pytest.approx(100 * more, abs=0.05)
    for (value,) in _stated("mlp", "answer-shuffling", r"1 - 2/e \\approx (\d+\.\d)\\%", 2):
        assert value == pytest.approx(100 * (1 - 2 / math.e), abs=0.05)
    (once,) = _stated("mlp", "answer-shuffling", r"1/e \\approx (\d+\.\d)\\%\$ are used exactly")
    assert once[0] == pytest.approx(100 / math.e, abs=0.05)
    # the measured shares agree with the theory for ceil(n / 25) * 25 draws from n examples
    n, draws = len(counts), -(-len(counts) // 25) * 25
    assert unused == pytest.approx((1 - 1 / n) ** draws, abs=0.03)
    assert more == pytest.approx(1 - (1 - 1 / n) ** draws - draws / n * (1 - 1 / n) ** (draws - 1), abs=0.03)


# ------------------------------------------------------------------------------------------ nonsmooth

def test_nonsmooth_stuck_starts(nonsmooth):
    ns, _ = nonsmooth
    gd, E = ns["gradient_descent_autodiff"], ns["E"]
    assert ns["stuck_grid"] == 3 and len(ns["grid_starts"]) == 49 and ns["stuck"] == 0
    stuck = [float(s) for s in ns["grid_starts"] if gd(E, s, 0.5, 30)[-1] == 0.0]
    assert stuck == [0.0, 1.0, 3.0]
    for cell in ("answer-critical",):
        text = _text("nonsmooth", cell)
        assert "3 of 49" in text and "0, 1 and 3" in text and r"$\theta(1) = 0$" in text
    for start in (0.0, 1.0, 3.0, 7.0, 15.0):                      # the countable set the answer names
        assert gd(E, start, 0.5, 30)[-1] == 0.0
    assert gd(E, 5.0, 0.5, 30)[-1] != 0.0


def test_nonsmooth_conservative_field_of_e2(nonsmooth):
    ns, _ = nonsmooth
    assert "D(0) = [0, 2]" in _text("nonsmooth", "answer-conservative")
    for r in np.linspace(0, 1, 5):
        assert ns["autodiff_derivative"](ns["E2"], 0.0, r) == pytest.approx(2 * r)


def test_nonsmooth_bolte_pauwels_as_proved():
    """Issue 23.13: the conservative-field result needs path-differentiable (e.g. definable) primitives, and
    its SGD statement is about limit points of bounded iterates and avoiding artificial critical points."""
    text = _text("nonsmooth", "answer-conservative")
    assert text.count("path-differentiable") == 2 and text.count("stay bounded") == 2
    assert "is always such a field" not in text and "converges (to points" not in text
    assert "converges for almost every" not in text


def test_gd_vs_sgd_timing_explained_by_what_the_student_sees(gd_vs_sgd):
    """Issue 23.9: no cache-effect number read off a multi-threaded run; the sizes stated are X's."""
    ns, _ = gd_vs_sgd
    text = _text("gd_vs_sgd", "86f0b2c2")
    assert "230x" not in text and "one run on several threads printed 9x, 170x" in text and "times one thread" in text
    assert "threadpool_limits(limits=1)" in _raw("gd_vs_sgd", "2394d1fe")
    X = ns["X_big"]
    assert "80 bytes per example" in text and X.itemsize * X.shape[1] == 80
    assert "80 MB at $N = 10^6$" in text and X[:10**6].nbytes == 80e6


def test_nonsmooth_unit_roundoffs():
    text = _text("nonsmooth", "answer-measure-zero")
    for dtype, exponent in ((np.float16, 11), (np.float32, 24), (np.float64, 53)):
        assert f"2^{{-{exponent}}}" in text
        assert np.finfo(dtype).eps / 2 == 2.0 ** -exponent


# ----------------------------------------------------------------------- the lecture map and the order

def _headings(assignment):
    return {int(m.group(1)) for c in _notebook(assignment).cells if c.cell_type == "markdown"
            for m in re.finditer(r"^## (\d+)\.", c.source, re.M)}


def _names(assignment):
    nb = _notebook(assignment)
    return {c.id for c in nb.cells} | {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                                       if "grade_id" in c.metadata.get("nbgrader", {})}


def _table_rows(text):
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            yield [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_every_cell_and_section_the_map_names_exists():
    text = README_MAP.read_text()
    names = {a: _names(a) for a in ASSIGNMENTS}
    headings = {a: _headings(a) for a in ASSIGNMENTS}
    pattern = r"\b(" + "|".join(ASSIGNMENTS) + r")\b"
    checked = 0
    for row in _table_rows(text):
        assignments = set(re.findall(pattern, " ".join(row)))
        if not assignments:
            continue
        for column in row:                                        # sections: after their assignment's name
            parts = re.split(pattern, column)
            for name, segment in zip(parts[1::2], parts[2::2]):
                segment = re.split(r"`", segment)[0] if segment.lstrip().startswith("`") else segment
                for a, b in re.findall(r"§(\d+)(?:–§(\d+))?", segment.split(";")[0]):
                    for section in range(int(a), int(b or a) + 1):
                        assert section in headings[name], f"{name} has no section §{section} (row: {row[0]})"
                        checked += 1
        for token in re.findall(r"`([^`]+)`", " ".join(row[1:])):
            if token in ASSIGNMENTS:
                continue
            assert any(token in names[a] for a in assignments), \
                f"the map names `{token}`, which no cell of {sorted(assignments)} has (row: {row[0]})"
            checked += 1
    assert checked > 100


def test_the_lecture_statements_of_the_issue_are_mapped():
    text = README_MAP.read_text()
    for statement in ("lim E[‖∇E(θ(k))‖²] = 0", "Lipschitz continuity of ∇E does not improve",
                      "strong convexity still does not give a linear rate"):
        assert statement in text
    for reference in ("Nemirovski", "Cor. 4.12", "Nguyen et al. (2018)", "Lei, T. Hu", "Ward, X. Wu, L. Bottou"):
        assert reference in text


def test_order_and_core_marks():
    readme = (REPO_SOURCE.parent.parent / "README.md").read_text()
    listed = re.findall(r"^\| (\d) \| `(\w+)` \|", readme, re.M)
    assert [(int(n), a) for n, a in listed] == list(enumerate(ORDER, 1))
    mapped = re.findall(r"^\| (\d) \| `(\w+)` \|", README_MAP.read_text(), re.M)
    assert [(int(n), a) for n, a in mapped] == list(enumerate(ORDER, 1))
    assert sorted(ORDER) == sorted(ASSIGNMENTS)
    for number, assignment in enumerate(ORDER, 1):
        cells = _notebook(assignment).cells
        assert f"**Assignment {number} of 5**" in cells[0].source
        for cell in cells:
            for heading in re.findall(r"\*\*(?:Exercise|Written answer) \d+ \([^)]*\)", cell.source):
                assert heading.endswith(", core)") or heading.endswith(", optional)"), (assignment, heading)
