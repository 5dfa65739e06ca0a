"""Statistical verdicts for evals: sequential tests, anytime-valid intervals, family corrections.

Pure: no pytest, no I/O. The runner feeds units (trials, or case means) in index
order to a :class:`Monitor` built from a :class:`Design`; the monitor says PASS or
FAIL as soon as the evidence is settled, and INCONCLUSIVE only when the budget is
too small for a calibrated design (docs/statistics.md, "Budget warnings").

Hypotheses, for every criterion: H_good = {theta >= threshold} and
H_bad = {theta <= threshold - margin}. FAIL errs with probability <= alpha under
H_good; PASS errs with probability <= beta under H_bad.

- ``pass_rate``: Wald's SPRT (Wald 1945; optimal at both design points, Wald &
  Wolfowitz 1948, Ann. Math. Statist. 19:326) written in counts, checked after
  every unit. With ``budget >= 1.25 x fixed n`` the bounds are calibrated by exact
  dynamic programming together with a terminal rule, so there is no INCONCLUSIVE.
- ``min_score`` and ``max_regression``: a betting SPRT (Waudby-Smith & Ramdas,
  "Estimating means of bounded random variables by betting", JRSS-B 2023) that bets toward
  the design gap, lam = margin / (sigma_hat^2 + margin^2); valid for any distribution on
  [0, 1] by Ville's inequality.
- Reported numbers come from the test that decides: the p-value of H_good (exact stagewise
  for the SPRT, 1 / max K_F for bets) and one-sided bounds (:meth:`Monitor.bounds`), so a FAIL
  has p <= alpha and an upper bound below the threshold, a PASS a lower bound above
  threshold - margin.
- Intervals are confidence sequences (Howard, Ramdas, McAuliffe & Sekhon, Ann.
  Stat. 2021): valid at every n at once, hence after an early stop.
- Families: Bonferroni / Sidak for per-item verdicts; Holm (1979) and
  Benjamini-Hochberg (1995, ``scipy.stats.false_discovery_control``) for the
  end-of-session report.

Outcomes at exact ties of a bound go to the crossing side (``>=``), and a unit
that crosses both sides at once (possible only for the betting test) FAILs:
the gate fails closed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

Criterion = Literal["pass_rate", "min_score", "max_regression"]
Method = Literal["sprt", "betting"]
Outcome = Literal["PASS", "FAIL"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
Correction = Literal["bonferroni", "sidak", "none"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CRITERIA: tuple[str, ...] = ("pass_rate", "min_score", "max_regression")
#: A pass_rate budget at least this multiple of the fixed n gets calibrated bounds (docs/statistics.md, pass_rate).
CALIBRATION_FACTOR = 1.25
#: Probabilities 0 and 1 make the likelihood ratio degenerate; thresholds are kept this far inside (0, 1).
_EDGE = 1e-9
#: Tolerance when turning a real boundary into an integer count, so that exact ties count as crossings.
_TIE = 1e-9
#: Cap on the betting fraction, as a share of the largest bet that keeps the capital positive (WSR 2023).
_BET_CAP = 0.5


# --------------------------------------------------------------------------- design


@dataclass(frozen=True)
class Design:
    """Everything fixed before the first trial.

    ``threshold``/``margin`` are on the scale of the monitored unit. For
    ``max_regression`` that is Y = (1 + d) / 2 (see :func:`regression_unit`):
    threshold 0.5 (no drop), margin delta / 2 (a drop of delta).

    ``method`` is ``"sprt"`` (Wald's SPRT in counts; pass_rate on trials) or ``"betting"``.
    The test statistic is a pair of log e-processes, log K_F (evidence for H_bad,
    i.e. for FAIL) and log K_P (evidence for H_good, for PASS). The monitor FAILs
    when log K_F >= ``fail_bound`` and PASSes when log K_P >= ``pass_bound``.
    For ``pass_rate`` log K_F = -log K_P is Wald's log-likelihood ratio.
    ``terminal_cut`` (calibrated pass_rate designs only): at the budget, FAIL iff
    LLR >= terminal_cut, else PASS; ``None`` means INCONCLUSIVE at the budget.
    """

    criterion: Criterion
    threshold: float
    margin: float
    alpha: float
    beta: float
    budget: int
    fail_bound: float
    pass_bound: float
    terminal_cut: float | None = None
    method: Method = "sprt"

    @property
    def bad(self) -> float:
        """The H_bad design point, threshold - margin."""
        return self.threshold - self.margin

    @property
    def calibrated(self) -> bool:
        """True when the bounds come from the exact DP and the budget ends in a terminal rule."""
        return self.terminal_cut is not None

    @property
    def max_drop(self) -> float:
        """For ``max_regression``: the tolerated drop delta on the score scale (2 x margin)."""
        return 2.0 * self.margin


def design_for(
    criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int, *, cases: bool = False
) -> Design:
    """Build (and cache) the design for one eval.

    - ``pass_rate``: Wald's SPRT, p0 = threshold vs p1 = threshold - margin. If
      ``budget >= minimum_budget(...)`` (1.25 x :func:`fixed_n`, rounded up) the
      bounds +-h are calibrated by exact DP with a terminal rule (no INCONCLUSIVE);
      otherwise Wald's A = ln((1 - beta)/alpha), B = ln(beta/(1 - alpha)).
    - ``min_score``: betting SPRT with Ville bounds ln(1/alpha), ln(1/beta).
    - ``max_regression``: ``threshold`` is the tolerated drop delta (the marker's
      ``max_regression=`` value). H_good E[d] >= 0, H_bad E[d] <= -delta, monitored as
      E[Y] >= 1/2 vs E[Y] <= 1/2 - delta/2 (docs/statistics.md, max_regression); ``margin`` is not used,
      because delta itself is the indifference zone.
    - ``cases=True`` (units are case means over several epochs): ``pass_rate`` uses the betting
      test too. The SPRT stays valid on case means but bets as if they were 0/1 trials; the
      bet adapts to their smaller variance. With one epoch the units are 0/1 and the caller
      passes ``cases=False``: the count SPRT is then the better test (bench_stats).
    """
    _check_common(criterion, threshold, margin, alpha, beta, budget)
    key = (round(threshold, 12), round(margin, 12), round(alpha, 15), round(beta, 15), budget)
    if cases and criterion == "pass_rate":
        return replace(_design_cached("min_score", *key), criterion="pass_rate")
    return _design_cached(criterion, *key)


def _check_common(criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    if not (0.0 < alpha < 1.0 and 0.0 < beta < 1.0):
        raise ValueError(f"alpha and beta must be in (0, 1), got alpha={alpha}, beta={beta}")
    if budget < 1:
        raise ValueError(f"budget must be a positive number of units, got {budget}")
    if criterion == "max_regression":
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"max_regression must be in (0, 1), got {threshold}")
        return
    if not 0.0 < margin < threshold <= 1.0:
        raise ValueError(f"{criterion}: need 0 < margin < threshold <= 1, got threshold={threshold}, margin={margin}")


@functools.lru_cache(maxsize=256)
def _design_cached(criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    if criterion == "max_regression":
        return _betting_design("max_regression", 0.5, threshold / 2.0, alpha, beta, budget)
    threshold = min(threshold, 1.0 - _EDGE)
    if criterion == "min_score":
        return _betting_design("min_score", threshold, margin, alpha, beta, budget)
    floor = minimum_budget("pass_rate", threshold, margin, alpha, beta)
    if floor is not None and budget >= floor:
        found = _calibrate(threshold, threshold - margin, alpha, beta, budget)
        if found is not None:
            a, b, cut = found
            return Design("pass_rate", threshold, margin, alpha, beta, budget, a, b, cut)
    return wald_design(threshold, margin, alpha, beta, budget)


def wald_design(threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    """Uncalibrated pass_rate SPRT with Wald's (1945) approximate bounds:
    FAIL at LLR >= A = ln((1 - beta)/alpha), PASS at LLR <= B = ln(beta/(1 - alpha))."""
    a, b = math.log((1 - beta) / alpha), math.log((1 - alpha) / beta)
    return Design("pass_rate", min(threshold, 1.0 - _EDGE), margin, alpha, beta, budget, a, b)


def _betting_design(criterion: Criterion, mu: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    """Ville's inequality: P(sup_t K_t >= 1/a) <= a for a test supermartingale K_0 = 1."""
    return Design(criterion, mu, margin, alpha, beta, budget, math.log(1 / alpha), math.log(1 / beta), None, "betting")


def fixed_n(threshold: float, margin: float, alpha: float, beta: float) -> int:
    """One-sided fixed-n size: n = ((z_{1-a} sqrt(p0 q0) + z_{1-b} sqrt(p1 q1)) / m)^2, rounded up (Table 1)."""
    return math.ceil(_fixed_n_real(threshold, margin, alpha, beta) - 1e-9)


def _fixed_n_real(threshold: float, margin: float, alpha: float, beta: float) -> float:
    p0, p1 = threshold, threshold - margin
    z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(1 - beta)
    return float(((z_a * math.sqrt(p0 * (1 - p0)) + z_b * math.sqrt(p1 * (1 - p1))) / margin) ** 2)


def minimum_budget(criterion: str, threshold: float, margin: float, alpha: float, beta: float) -> int | None:
    """Smallest pass_rate budget with calibrated bounds: ceil(1.25 x fixed n) (939 at 0.80/0.05/0.05/0.05).

    ``None`` for the betting criteria: their cost depends on the unknown score variance.
    """
    if criterion != "pass_rate":
        return None
    return math.ceil(CALIBRATION_FACTOR * fixed_n(threshold, margin, alpha, beta) - 1e-9)


# ------------------------------------------------------------- SPRT in counts + exact DP


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


def expected_trials(
    threshold: float, margin: float, alpha: float, beta: float, p: float, budget: int | None = None
) -> float:
    """E[N] at true pass rate ``p`` by exact DP.

    Without ``budget``: Wald's bounds truncated at 5 x fixed n (Table 1/3: 385 at p = 0.80 for
    0.80/0.05). With ``budget``: the design :func:`design_for` would build for it.
    """
    if budget is None:
        horizon = 5 * fixed_n(threshold, margin, alpha, beta)
        return exact_oc(wald_design(threshold, margin, alpha, beta, horizon), p)[3]
    return exact_oc(design_for("pass_rate", threshold, margin, alpha, beta, budget), p)[3]


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


# ------------------------------------------------------------------ betting test


class BetState(NamedTuple):
    """Betting-SPRT state after n units; fields are floats or arrays (one entry per stream).

    ``total`` = sum X_i; ``sq`` = sum (X_i - mu_hat_i)^2, the plug-in variance numerator.
    """

    n: int
    total: FloatArray
    sq: FloatArray
    log_kf: FloatArray
    log_kp: FloatArray


def bet_start(shape: tuple[int, ...] = ()) -> BetState:
    """K_F = K_P = 1 before the first unit."""
    z = np.zeros(shape)
    return BetState(0, z, z.copy(), z.copy(), z.copy())


def bet_step(design: Design, state: BetState, x: FloatArray) -> BetState:
    """One unit of the betting SPRT (docs/statistics.md, min_score).

    K_F <- K_F (1 + lam_F (mu - X)), K_P <- K_P (1 + lam_P (X - mu + m)), betting toward the
    design gap m (the alternative each side is built to detect): lam = m / (sigma2 + m^2), with
    the predictable variance estimate sigma2 = (1/4 + sum (X_i - mu_hat_i)^2)/(n + 1),
    mu_hat = (1/2 + sum X)/(n + 1), capped at 1/2 / (1 - mu) and 1/2 / (mu - m) so every factor
    is >= 1/2. lam >= 0 and predictable, so K_F is a test supermartingale whenever E[X] >= mu
    and K_P whenever E[X] <= mu - m, whatever the distribution on [0, 1] (Ville). This is the
    Kelly bet for a mean shift of m at variance sigma2; the older plug-in toward the estimated
    gap (aGRAPA) spent 0.73-0.91x the fixed n, this one 0.5-0.6x (bench_stats).
    """
    mu, bad = design.threshold, design.bad
    var = (0.25 + state.sq) / (state.n + 1)
    lam_f = np.minimum(design_bet(design.margin, var), _BET_CAP / (1.0 - mu))
    lam_p = np.minimum(design_bet(design.margin, var), _BET_CAP / bad)
    total = state.total + x
    new_mean = (0.5 + total) / (state.n + 2)
    return BetState(
        state.n + 1,
        total,
        state.sq + (x - new_mean) ** 2,
        state.log_kf + np.log1p(lam_f * (mu - x)),
        state.log_kp + np.log1p(lam_p * (x - bad)),
    )


def design_bet(margin: float, var: FloatArray | float) -> FloatArray:
    """lam = m / (sigma2 + m^2): the growth-optimal bet against a shift of m at variance sigma2."""
    return np.asarray(margin / (np.asarray(var) + margin * margin), dtype=float)


def predictable_variance(xs: FloatArray) -> FloatArray:
    """sigma2 before each unit, exactly as :func:`bet_step` computes it (1/4 before the first)."""
    n = xs.size
    i = np.arange(n)
    new_mean = (0.5 + np.cumsum(xs)) / (i + 2)
    sq = np.concatenate([[0.0], np.cumsum((xs - new_mean) ** 2)[:-1]]) if n else np.zeros(0)
    return np.asarray((0.25 + sq) / (i + 1), dtype=float)


def betting_rejects(
    xs: FloatArray, margin: float, points: FloatArray, side: Literal["fail", "pass"], level: float
) -> npt.NDArray[np.bool_]:
    """Which ``points`` the design's own betting test rejects along the path ``xs``.

    ``side="fail"``: H: mean >= c, capital prod (1 + lam (c - X)), lam capped at 1/2 / (1 - c);
    ``side="pass"``: H: mean <= c, capital prod (1 + lam (X - c)), capped at 1/2 / c. A point is
    rejected once the running capital reaches ``level`` (= 1/alpha); at c = the design's threshold
    (or threshold - margin) this is the monitor's own K_F (K_P), so the verdict and the bound agree.
    """
    c = np.asarray(points, dtype=float)[:, None]
    lam = design_bet(margin, predictable_variance(xs))[None, :]
    if side == "fail":
        steps = np.log1p(np.minimum(lam, _BET_CAP / (1.0 - c)) * (c - xs[None, :]))
    else:
        steps = np.log1p(np.minimum(lam, _BET_CAP / c) * (xs[None, :] - c))
    return np.asarray(np.cumsum(steps, axis=1).max(axis=1, initial=0.0) >= math.log(level), dtype=bool)


# ----------------------------------------------------------------- confidence sequences


def beta_binomial_log_mixture(successes: FloatArray, n: FloatArray, theta: float | FloatArray) -> FloatArray:
    """log M_n(theta) = ln B(S + 1, n - S + 1) - ln B(1, 1) - S ln theta - (n - S) ln(1 - theta).

    The uniform-prior mixture likelihood ratio against Bernoulli(theta), a test martingale
    under theta; CS_n = {theta : log M_n(theta) < ln(1/alpha)} (docs/statistics.md, intervals; Howard et al. 2021).
    """
    return np.asarray(
        special.betaln(successes + 1, n - successes + 1)
        - successes * np.log(theta)
        - (n - successes) * np.log1p(-np.asarray(theta)),
        dtype=float,
    )


def beta_binomial_cs(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided anytime-valid interval for a Bernoulli rate; ends solved with brentq on log M."""
    if n == 0:
        return 0.0, 1.0
    level = math.log(1 / (1 - confidence))
    s, nn = float(successes), float(n)

    def excess(theta: float) -> float:
        return float(beta_binomial_log_mixture(np.array(s), np.array(nn), theta)) - level

    mid = min(max(s / nn, 1e-12), 1 - 1e-12)
    lo = 0.0 if excess(1e-15) < 0 else optimize.brentq(excess, 1e-15, mid, xtol=1e-10)
    hi = 1.0 if excess(1 - 1e-15) < 0 else optimize.brentq(excess, mid, 1 - 1e-15, xtol=1e-10)
    return float(lo), float(hi)


def _plugin_lambdas(x: FloatArray, alpha: float) -> FloatArray:
    """Predictable plug-in bets lam_i = sqrt(2 ln(2/alpha) / (sigma2_{i-1} i ln(1 + i)))
    (Waudby-Smith & Ramdas 2023, PrPl), along the last axis of ``x``."""
    i = np.arange(1, x.shape[-1] + 1)
    mean = (0.5 + np.cumsum(x, axis=-1)) / (i + 1)
    var = (0.25 + np.cumsum((x - mean) ** 2, axis=-1)) / (i + 1)
    var_prev = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), var[..., :-1]], axis=-1)
    return np.asarray(np.sqrt(2 * math.log(2 / alpha) / (var_prev * i * np.log1p(i))), dtype=float)


def hedged_log_capital(x: FloatArray, m: FloatArray, alpha: float, path: bool = False) -> FloatArray:
    """log of the hedged capital K_n(m) = (K+_n(m) + K-_n(m)) / 2 (Waudby-Smith & Ramdas 2023).

    K+-_n(m) = prod_i (1 +- lam+-_i (X_i - m)), lam+_i = min(lam_i, c/m), lam-_i = min(lam_i, c/(1 - m)),
    c = 1/2. A test martingale when E[X] = m; CS_n = {m : K_n(m) < 1/alpha}. ``x`` has the units on
    its last axis; ``m`` broadcasts against x[..., :1]. Returns the value at n, or the whole path.
    """
    lam = _plugin_lambdas(x, alpha)
    d = x - m
    up = np.log1p(np.minimum(lam, _BET_CAP / m) * d)
    down = np.log1p(-np.minimum(lam, _BET_CAP / (1 - m)) * d)
    if path:
        up, down = np.cumsum(up, axis=-1), np.cumsum(down, axis=-1)
    else:
        up, down = up.sum(axis=-1), down.sum(axis=-1)
    return np.asarray(np.logaddexp(up, down) - math.log(2), dtype=float)


def betting_cs(x: Sequence[float] | FloatArray, confidence: float) -> tuple[float, float]:
    """Two-sided anytime-valid interval for the mean of [0, 1] data: {m : K_n(m) < 1/alpha}.

    Scans a grid of 255 points, then bisects each end (the set is an interval in practice;
    its hull is returned). If the set is empty (probability <= alpha), returns the point of
    least evidence.
    """
    xs = np.asarray(x, dtype=float)
    if xs.size == 0:
        return 0.0, 1.0
    alpha, level = 1 - confidence, math.log(1 / (1 - confidence))
    grid = np.linspace(0.0, 1.0, 257)[1:-1]
    inside = hedged_log_capital(xs, grid[:, None], alpha) < level
    if not inside.any():
        best = float(grid[np.argmin(hedged_log_capital(xs, grid[:, None], alpha))])
        return best, best
    idx = np.flatnonzero(inside)

    def is_in(m: float) -> bool:
        return bool(hedged_log_capital(xs, np.array(m), alpha) < level)

    lo = _bisect_edge(is_in, float(grid[idx[0] - 1]) if idx[0] > 0 else 0.0, float(grid[idx[0]]))
    hi = _bisect_edge(is_in, float(grid[idx[-1] + 1]) if idx[-1] < grid.size - 1 else 1.0, float(grid[idx[-1]]))
    return lo, hi


def _bisect_edge(is_in: Callable[[float], bool], outside: float, inside: float, steps: int = 30) -> float:
    """Boundary between an excluded and an included point; returned on the outer side (conservative)."""
    if outside in (0.0, 1.0) and is_in(min(max(outside, 1e-12), 1 - 1e-12)):
        return outside
    for _ in range(steps):
        mid = (outside + inside) / 2
        if is_in(mid):
            inside = mid
        else:
            outside = mid
    return outside


def normal_mixture_radius(n: int, confidence: float, rho: float) -> float:
    """Howard et al. (2021) two-sided normal-mixture boundary for 1/2-sub-Gaussian data, on the mean:
    |S_n - n mu| < sqrt(2 (n/4 + rho) ln(sqrt((n/4 + rho)/rho) / alpha)), divided by n.

    Not used for verdicts (the betting CS is tighter for low-variance scores); kept as a
    distribution-free cross-check for tests and the benchmark.
    """
    v = n / 4 + rho
    return math.sqrt(2 * v * math.log(math.sqrt(v / rho) / (1 - confidence))) / n


# ------------------------------------------------------------------------ monitor


class Monitor:
    """Sequential state of one eval; feed units in index order.

    After a verdict (or once the budget is spent) further :meth:`update` calls are
    ignored: they change nothing and return :attr:`decided`. Trials still in flight at
    the stop are therefore harmless (docs/statistics.md, determinism: record them, do not use them).
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self._xs: list[float] = []
        self._total = 0.0
        self._binary = True
        self._decided: Outcome | None = None
        self._max_log_kf = 0.0
        self._bet = bet_start()
        self._bounds = count_boundaries(design) if design.method == "sprt" else None

    @property
    def n(self) -> int:
        """Units used so far."""
        return len(self._xs)

    @property
    def total(self) -> float:
        """Sum of the units (successes for 0/1 trials)."""
        return self._total

    @property
    def estimate(self) -> float:
        """Running mean (NaN before the first unit)."""
        return self._total / self.n if self.n else math.nan

    @property
    def decided(self) -> Outcome | None:
        return self._decided

    @property
    def closed(self) -> bool:
        """True once decided or once the budget is spent."""
        return self._decided is not None or self.n >= self.design.budget

    @property
    def stopped_early(self) -> bool:
        return self._decided is not None and self.n < self.design.budget

    def update(self, x: float) -> Outcome | None:
        """Use one unit x in [0, 1]; return PASS/FAIL as soon as a bound is crossed.

        For a calibrated pass_rate design the unit that spends the budget applies the
        terminal rule, so it always returns a verdict.
        """
        x = float(x)
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"a unit must be in [0, 1], got {x!r}")
        if self.closed:
            return self._decided
        self._xs.append(x)
        self._total += x
        self._binary = self._binary and x in (0.0, 1.0)
        self._decided = self._step_sprt() if self._bounds is not None else self._step_bet(x)
        return self._decided

    def _step_sprt(self) -> Outcome | None:
        assert self._bounds is not None
        n, s = self.n, self._total
        self._max_log_kf = max(self._max_log_kf, self._llr())
        if s <= self._bounds.fail_max[n]:
            return "FAIL"
        if s >= self._bounds.pass_min[n]:
            return "PASS"
        if n == self.design.budget and self._bounds.terminal_fail_max is not None:
            return "FAIL" if s <= self._bounds.terminal_fail_max else "PASS"
        return None

    def _step_bet(self, x: float) -> Outcome | None:
        self._bet = bet_step(self.design, self._bet, np.float64(x))  # type: ignore[arg-type]
        log_kf, log_kp = float(self._bet.log_kf), float(self._bet.log_kp)
        self._max_log_kf = max(self._max_log_kf, log_kf)
        if log_kf >= self.design.fail_bound:
            return "FAIL"
        if log_kp >= self.design.pass_bound:
            return "PASS"
        return None

    def _llr(self) -> float:
        """Wald's LLR for the pass_rate design; for fractional units still a test supermartingale
        under H_good (exp of it lies below the chord 1 + lam (p0 - x) on [0, 1])."""
        l0, g = _llr_slopes(self.design.threshold, self.design.bad)
        return self.n * l0 - self._total * g

    def finish(self) -> Verdict:
        """The verdict when the stream ends: the decision if any, else INCONCLUSIVE.

        A calibrated design reaches its terminal rule inside :meth:`update` at the budget;
        a stream that ends before the budget (errors, too few cases) is INCONCLUSIVE,
        because the terminal rule holds its error rates only at the budget.
        """
        return self._decided if self._decided is not None else "INCONCLUSIVE"

    def log_evidence(self) -> tuple[float, float]:
        """Current (log K_F, log K_P): FAIL-side and PASS-side evidence, e.g. for "favoured 228:1"."""
        if self._bounds is not None:
            llr = self._llr() if self.n else 0.0
            return llr, -llr
        return float(self._bet.log_kf), float(self._bet.log_kp)

    def p_value(self) -> float:
        """The p-value of H_good from the test that decides: FAIL implies p <= alpha.

        SPRT: exact, stagewise ordering (:func:`stagewise_tails` at the threshold), <= P(FAIL)
        for every FAIL outcome. Betting: 1 / max_t K_F (Ville), <= alpha exactly when K_F
        crossed 1/alpha.
        """
        if self.n == 0:
            return 1.0
        if self._bounds is None:
            return min(1.0, math.exp(-self._max_log_kf))
        tails = stagewise_tails(self.design, np.array([self.design.threshold]), self.n, self._count())
        p = float(min(1.0, tails[0][0]))
        # An outcome that did not FAIL (an SPRT can stop on PASS, or run out, near the FAIL side) is
        # reported at no less than alpha: raising a p-value keeps it valid, and the number agrees.
        return p if self._decided == "FAIL" else max(p, math.nextafter(self.design.alpha, 1.0))

    def _count(self) -> int:
        return math.floor(self._total + _TIE)

    def bounds(self) -> tuple[float, float]:
        """One-sided bounds that match the verdict: (L, U) on the unit's scale.

        U is the upper (1 - alpha) bound of the FAIL test (the set of means it rejects is
        [U, 1]), L the lower (1 - beta) bound of the PASS test. FAIL implies U <= threshold
        (strictly below, unless the edge is exactly there), PASS implies L >= threshold - margin,
        and only then: otherwise the bound is widened to the decision point, which keeps it valid. SPRT designs: exact
        stagewise bounds; betting designs: the design's own bets at every candidate mean.
        """
        if self.n == 0:
            return 0.0, 1.0
        d = self.design
        fail_pin = d.threshold if self._decided == "FAIL" else None
        pass_pin = d.bad if self._decided == "PASS" else None
        upper = _edge(lambda c: self._rejects(c, "fail"), fail_pin, upper=True, passes=self._passes())
        lower = _edge(lambda c: self._rejects(c, "pass"), pass_pin, upper=False, passes=self._passes())
        # Widening a one-sided bound keeps it valid: without a FAIL the upper bound stays >= the
        # threshold, without a PASS the lower bound stays <= threshold - margin.
        if fail_pin is None:
            upper = max(upper, d.threshold)
        if pass_pin is None:
            lower = min(lower, d.bad)
        return lower, upper

    def _passes(self) -> int:
        return 2 if self._bounds is not None else 4

    def _rejects(self, points: FloatArray, side: Literal["fail", "pass"]) -> npt.NDArray[np.bool_]:
        d = self.design
        if self._bounds is not None:
            fail, pass_ = stagewise_tails(d, points, self.n, self._count())
            return np.asarray(fail <= d.alpha if side == "fail" else pass_ <= d.beta, dtype=bool)
        level = 1 / d.alpha if side == "fail" else 1 / d.beta
        return betting_rejects(np.asarray(self._xs, dtype=float), d.margin, points, side, level)

    def bounds_label(self) -> str:
        """What :meth:`bounds` prints: which test each end comes from and at which level."""
        d = self.design
        kind = "exact stagewise" if self._bounds is not None else "betting"
        return f"[lower {_pct(1 - d.beta)} of the PASS test, upper {_pct(1 - d.alpha)} of the FAIL test; {kind}]"

    def interval(self, confidence: float) -> tuple[float, float]:
        """Anytime-valid two-sided confidence sequence for the mean at ``confidence``.

        0/1 data: the beta-binomial mixture CS; other [0, 1] data: the hedged betting CS.
        For max_regression the scale is Y; use :func:`to_difference` for d.
        """
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        if self._binary:
            return beta_binomial_cs(round(self._total), self.n, confidence)
        return betting_cs(self._xs, confidence)

    def basis(self) -> str:
        """Short description of the decision rule for the report line."""
        d = self.design
        ab = f"a={d.alpha:.2g}, b={d.beta:.2g}"
        if d.method == "betting":
            return f"betting test {ab}"
        if d.calibrated and d.fail_bound == d.pass_bound:
            return f"SPRT {ab}, calibrated +-{d.fail_bound:.3f}, terminal rule at {d.budget}"
        if d.calibrated:
            bounds = f"A={d.fail_bound:.2f}, B=-{d.pass_bound:.2f}"
            return f"SPRT {ab}, calibrated {bounds}, terminal rule at {d.budget}"
        return f"SPRT {ab}"


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _edge(
    rejects: Callable[[FloatArray], npt.NDArray[np.bool_]], pin: float | None, *, upper: bool, passes: int
) -> float:
    """The edge of a rejected tail [U, 1] (``upper``) or [0, L], found on a grid and refined.

    ``pin``: a point the monitor has already rejected (its decision point); the edge is then
    searched below it (above it for L), so the bound agrees with the verdict. The rejected end
    of the last bracket is returned (conservative).
    """
    points = np.linspace(0.0, 1.0, 41)[1:-1]
    flags = rejects(points)
    if not upper:
        points, flags = points[::-1], flags[::-1]
    far = 1.0 if upper else 0.0
    if pin is not None:
        out = pin
    else:
        tail = np.flatnonzero(~flags)
        start = int(tail[-1]) + 1 if tail.size else 0
        if start >= points.size:
            return far
        out = float(points[start])
    inner = [float(p) for p, f in zip(points, flags, strict=True) if not f and (p < out if upper else p > out)]
    inside = inner[-1] if inner else 1.0 - far
    for _ in range(passes):
        grid = np.linspace(inside, out, 12)[1:-1]
        if grid.size == 0:
            break
        hit = rejects(grid)
        miss = np.flatnonzero(~hit)
        last_in = int(miss[-1]) if miss.size else -1
        if last_in >= 0:
            inside = float(grid[last_in])
        if last_in + 1 < grid.size:
            out = float(grid[last_in + 1])
    return out


# ----------------------------------------------------------------- paired regression


def regression_unit(candidate_case_mean: float, baseline_case_mean: float) -> float:
    """Y = (1 + d)/2 in [0, 1] with d = candidate - baseline (case means in [0, 1])."""
    return (1.0 + candidate_case_mean - baseline_case_mean) / 2.0


def to_difference(y: float) -> float:
    """Back from the Y scale to d = 2Y - 1 (for estimates and interval ends)."""
    return 2.0 * y - 1.0


def unpaired_units(candidate: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Units for a comparison without shared case ids: the i-th candidate trial is paired with
    the i-th baseline trial (extra trials on either side are dropped).

    Trials are independent and their order is seeded, so index pairing is a random pairing:
    d_i are i.i.d. with E[d] = the difference of means, and the betting test stays valid
    (about 2x costlier than pairing by case, docs/statistics.md, max_regression).
    """
    return [
        regression_unit(c, b) for c, b in zip(candidate, baseline, strict=False)
    ]  # extra trials on either side are dropped


def baseline_draws(values: Sequence[float], seed: int) -> list[float]:
    """len(values) seeded draws with replacement from a baseline's stored values (unpaired use).

    Conditionally on the baseline they are i.i.d. with the baseline's mean, whatever order the
    store keeps them in (per-case blocks for a ``cases=`` recording).
    """
    if not values:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=len(values))
    return [float(values[i]) for i in picks]


def min_detectable_drop(n: int, sd: float, alpha: float, beta: float, *, paired: bool) -> float:
    """Smallest mean drop a fixed-n one-sided z test on ``n`` units detects at alpha/beta.

    Unpaired (``sd`` = per-unit sd in each arm, n per arm): d = (z_{1-a} + z_{1-b}) sd sqrt(2/n).
    Paired (``sd`` = sd of per-case differences): d = (z_{1-a} + z_{1-b}) sd sqrt(1/n).
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    z = float(stats.norm.ppf(1 - alpha) + stats.norm.ppf(1 - beta))
    return z * sd * math.sqrt((1.0 if paired else 2.0) / n)


# ---------------------------------------------------------------------- families


def family_alpha(alpha: float, k: int, method: Correction) -> float:
    """Per-eval alpha for K evals: Bonferroni alpha/K, Sidak 1 - (1 - alpha)^(1/K), or alpha."""
    if k < 1:
        raise ValueError(f"family size must be >= 1, got {k}")
    if method == "bonferroni":
        return alpha / k
    if method == "sidak":
        return -math.expm1(math.log1p(-alpha) / k)
    if method == "none":
        return alpha
    raise ValueError(f"unknown correction {method!r}; expected bonferroni, sidak or none")


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p: p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), in input order."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (p.size - np.arange(p.size)) * p[order])
    out = np.empty_like(p)
    out[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in out]


def bh(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg (1995) adjusted p (q-values): ``scipy.stats.false_discovery_control``."""
    if len(pvalues) == 0:
        return []
    return [float(v) for v in stats.false_discovery_control(np.asarray(pvalues, dtype=float), method="bh")]
