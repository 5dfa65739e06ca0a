"""Wald's SPRT for 0/1 units in counts: integer boundaries, exact DP of its operating characteristic, calibration, stagewise tails."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from pytest_rollout.evals.verdicts.arrays import FloatArray, IntArray
from pytest_rollout.evals.verdicts.design import _TIE, Design


def _llr_slopes(p0: float, p1: float) -> tuple[float, float]:
    """LLR_n = S ln(p1/p0) + (n - S) ln(q1/q0) = n*l0 - S*g with l0 = ln(q1/q0), g = ln(p0/p1) + l0."""
    l0 = math.log((1 - p1) / (1 - p0))
    return l0, math.log(p0 / p1) + l0


def _cuts(p0: float, p1: float, a: FloatArray, b: FloatArray, n: IntArray) -> tuple[IntArray, IntArray]:
    """Integer count boundaries: FAIL iff S_n <= (n l0 - A)/g, PASS iff S_n >= (n l0 + |B|)/g.

    ``a``/``b`` have shape (R, 1) (one row per design); ``n`` has shape (N + 1,).
    """
    l0, g = _llr_slopes(p0, p1)
    fail_max = np.floor((n * l0 - a) / g + _TIE).astype(np.int64)
    pass_min = np.ceil((n * l0 + b) / g - _TIE).astype(np.int64)
    return fail_max, pass_min


def _terminal_fail_max(p0: float, p1: float, budget: int, cut: float) -> int:
    """At the budget, FAIL iff LLR_N >= cut, i.e. S_N <= (N l0 - cut)/g."""
    l0, g = _llr_slopes(p0, p1)
    return math.floor((budget * l0 - cut) / g + _TIE)


class CountBoundaries(NamedTuple):
    """A pass_rate design in counts (docs/statistics.md, pass_rate): at unit n, FAIL iff S_n <= fail_max[n],
    PASS iff S_n >= pass_min[n]; at the budget N, if still open, FAIL iff S_N <= terminal_fail_max
    (None: INCONCLUSIVE). The monitor, the exact DP and the benchmark all read these arrays."""

    fail_max: IntArray
    pass_min: IntArray
    terminal_fail_max: int | None


@functools.lru_cache(maxsize=64)
def count_boundaries(design: Design) -> CountBoundaries:
    """The integer boundaries of a pass_rate design, n = 0..budget (read-only arrays)."""
    if design.method != "sprt":
        raise ValueError(f"count boundaries exist only for SPRT designs, not {design.criterion}/{design.method}")
    n = np.arange(design.budget + 1, dtype=np.int64)
    f, p = _cuts(design.threshold, design.bad, np.array([[design.fail_bound]]), np.array([[design.pass_bound]]), n)
    f, p = f[0], p[0]
    f.flags.writeable = p.flags.writeable = False
    term = None
    if design.terminal_cut is not None:
        term = _terminal_fail_max(design.threshold, design.bad, design.budget, design.terminal_cut)
    return CountBoundaries(f, p, term)


class _Absorbed(NamedTuple):
    fail: FloatArray  # P(FAIL before the budget), per row
    pass_: FloatArray  # P(PASS before the budget)
    mean_n: FloatArray  # E[min(N, budget)] = sum_{n < budget} P(N > n)
    open_: FloatArray  # (R, W): P(S_N = offset + j, still open at the budget)
    offset: int


def _absorb(ps: FloatArray, fail_max: IntArray, pass_min: IntArray) -> _Absorbed:
    """Exact OC of count boundaries by forward dynamic programming over S_n.

    Row r has success probability ps[r] and boundaries fail_max[r], pass_min[r]
    (shape (R, N + 1)). Only the band of states open for some row is stored; it
    moves up by at most one count per step, so each step is a few numpy ops on an
    (R, W) array (W ~ (A + |B|)/g): about 15 ms for N = 1000.
    """
    rows, width_n = fail_max.shape
    steps = np.arange(width_n)
    lo = np.clip(fail_max.min(axis=0) + 1, 0, steps)
    hi = np.clip(pass_min.max(axis=0) - 1, lo - 1, steps)
    width = int(max(1, (hi - lo + 1).max()))
    p, q = ps[:, None], 1.0 - ps[:, None]
    open_ = np.zeros((rows, width))
    open_[:, 0] = 1.0
    offset = 0
    fail, pass_, mean_n = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    cols = np.arange(width + 1)
    for n in range(1, width_n):
        mean_n += open_.sum(axis=1)
        new = np.zeros((rows, width + 1))
        new[:, :width] = q * open_
        new[:, 1:] += p * open_
        s = offset + cols
        to_fail, to_pass = s <= fail_max[:, n : n + 1], s >= pass_min[:, n : n + 1]
        fail += np.where(to_fail, new, 0.0).sum(axis=1)
        pass_ += np.where(to_pass, new, 0.0).sum(axis=1)
        new[to_fail | to_pass] = 0.0
        shift = int(lo[n]) - offset
        open_, offset = new[:, shift : shift + width], int(lo[n])
    return _Absorbed(fail, pass_, mean_n, open_, offset)


def exact_oc(design: Design, p: float) -> tuple[float, float, float, float]:
    """Exact (P_FAIL, P_PASS, P_INCONCLUSIVE, E[N]) of a pass_rate design at true pass rate ``p``."""
    bounds = count_boundaries(design)
    res = _absorb(np.array([p], dtype=float), bounds.fail_max[None, :], bounds.pass_min[None, :])
    open_ = res.open_[0]
    fail, pass_ = float(res.fail[0]), float(res.pass_[0])
    if bounds.terminal_fail_max is None:
        return fail, pass_, float(open_.sum()), float(res.mean_n[0])
    s = res.offset + np.arange(open_.size)
    tail_fail = float(open_[s <= bounds.terminal_fail_max].sum())
    return fail + tail_fail, pass_ + float(open_.sum()) - tail_fail, 0.0, float(res.mean_n[0])


@functools.lru_cache(maxsize=128)
def _calibrate(p0: float, p1: float, alpha: float, beta: float, budget: int) -> tuple[float, float, float] | None:
    """Smallest h with exact P(FAIL | p0) <= alpha and P(PASS | p1) <= beta (docs/statistics.md, pass_rate).

    Bounds A = h, |B| = rho h with rho = ln(1/beta)/ln(1/alpha) (symmetric +-h when alpha = beta).
    Terminal rule at the budget: FAIL iff LLR >= 0 when alpha = beta; otherwise the cut is
    searched too (the one minimising max(P_F/alpha, P_P/beta)). A k-section search on a grid
    of h evaluates all grid points in one vectorised DP. Returns (A, |B|, cut) or None.
    """
    rho = math.log(beta) / math.log(alpha)
    scale = math.log(1 / min(alpha, beta))
    grid = np.linspace(0.25 * scale, 4.0 * scale, 25)
    ok, cuts = _calibration_grid(p0, p1, alpha, beta, budget, grid, rho)
    if not ok[-1]:
        return None
    for _ in range(3):
        i = _first_of_feasible_tail(ok)
        if i == 0:
            break
        grid = np.linspace(grid[i - 1], grid[i], 17)
        ok, cuts = _calibration_grid(p0, p1, alpha, beta, budget, grid, rho)
    i = _first_of_feasible_tail(ok)
    h = float(grid[i])
    return h, rho * h, float(cuts[i])


def _first_of_feasible_tail(ok: npt.NDArray[np.bool_]) -> int:
    """Index of the smallest grid point above which every grid point is feasible."""
    bad = np.flatnonzero(~ok)
    return int(bad[-1]) + 1 if bad.size else 0


def _calibration_grid(
    p0: float, p1: float, alpha: float, beta: float, budget: int, hs: FloatArray, rho: float
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Feasibility and terminal cut (LLR units) of each h in ``hs``; rows alternate p0, p1."""
    a = np.repeat(hs, 2)[:, None]
    fail_max, pass_min = _cuts(p0, p1, a, rho * a, np.arange(budget + 1, dtype=np.int64))
    res = _absorb(np.tile([p0, p1], hs.size), fail_max, pass_min)
    s = res.offset + np.arange(res.open_.shape[1])
    open0, open1 = res.open_[0::2], res.open_[1::2]
    l0, g = _llr_slopes(p0, p1)
    if math.isclose(alpha, beta, rel_tol=1e-12):
        k = _terminal_fail_max(p0, p1, budget, 0.0)
        fail0 = res.fail[0::2] + open0[:, s <= k].sum(axis=1)
        pass1 = res.pass_[1::2] + open1[:, s > k].sum(axis=1)
        return (fail0 <= alpha) & (pass1 <= beta), np.zeros(hs.size)
    # candidate cuts k = offset - 1 .. offset + W - 1 (FAIL iff S_N <= k)
    zero = np.zeros((hs.size, 1))
    cum0 = np.hstack([zero, np.cumsum(open0, axis=1)])
    cum1 = np.hstack([zero, np.cumsum(open1, axis=1)])
    fail0 = res.fail[0::2, None] + cum0
    pass1 = res.pass_[1::2, None] + cum1[:, -1:] - cum1
    score = np.maximum(fail0 / alpha, pass1 / beta)
    j = score.argmin(axis=1)
    k = res.offset - 1 + j
    cut = budget * l0 - (k + 0.5) * g  # midway between lattice points: floor() in _terminal_fail_max gives k
    return score[np.arange(hs.size), j] <= 1.0, cut


def stagewise_tails(design: Design, thetas: FloatArray, n: int, s: int) -> tuple[FloatArray, FloatArray]:
    """Exact tail probabilities of a stopped SPRT outcome (n, S_n = s) under stagewise ordering.

    fail_side(theta) = P(FAIL before n) + P(open at n - 1 and S_n <= s): outcomes at least as
    unfavourable; pass_side(theta) = P(PASS before n) + P(open at n - 1 and S_n >= s).
    fail_side at the threshold is the p-value of H_good (Jennison & Turnbull 2000, §8.4): a FAIL
    has it <= P(FAIL) <= alpha. Both are monotone in theta, so inverting them gives exact
    one-sided confidence bounds for the rate after the stop. Forward DP in numpy, run once per
    eval at the end (never per trial).
    """
    ps = np.asarray(thetas, dtype=float)
    if n == 0:
        return np.ones(ps.size), np.ones(ps.size)
    bounds = count_boundaries(design)
    p, q = ps[:, None], 1.0 - ps[:, None]
    cur, offset = np.ones((ps.size, 1)), 0  # open mass at S = offset + j
    fail, pass_ = np.zeros(ps.size), np.zeros(ps.size)
    for k in range(1, n + 1):
        new = np.zeros((ps.size, cur.shape[1] + 1))
        new[:, :-1] = q * cur
        new[:, 1:] += p * cur
        if k == n:
            break
        width = new.shape[1]  # the open band is contiguous: FAIL below it, PASS above it
        cut_f = min(max(int(bounds.fail_max[k]) - offset + 1, 0), width)
        cut_p = min(max(int(bounds.pass_min[k]) - offset, cut_f), width)
        fail += new[:, :cut_f].sum(axis=1)
        pass_ += new[:, cut_p:].sum(axis=1)
        if cut_p == cut_f:  # every path has stopped before n: (n, s) cannot be an open outcome
            return fail, pass_
        cur, offset = new[:, cut_f:cut_p], offset + cut_f
    j = s - offset
    return fail + new[:, : max(j + 1, 0)].sum(axis=1), pass_ + new[:, max(j, 0) :].sum(axis=1)
