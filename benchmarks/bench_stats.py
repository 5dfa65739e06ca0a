"""Operating characteristics of the eval verdicts, by seeded simulation next to exact DP.

Run: ``.venv/bin/python benchmarks/bench_stats.py [--reps 10000] [--seed 20261125] [--quick]``

What it drives (printed again in the output):
- pass_rate and case-level designs: ``verdicts.count_boundaries(design)``, the integer
  boundaries the ``Monitor`` reads, vectorised over replications; the first ``--check``
  replications of every point also go through ``verdicts.Monitor`` itself and must agree
  verdict for verdict and n for n.
- betting designs (min_score, case means, max_regression): ``verdicts.bet_step``, the very
  function ``Monitor.update`` calls, vectorised over replications; ``--check`` replications
  also go through ``Monitor``.
- exact values: ``verdicts.exact_oc`` (lattice DP) where the units are 0/1.

Goals (from the issue): false-FAIL at threshold <= 0.05 and false-PASS at threshold - margin
<= 0.05 (within simulation error: the rate minus 2 SE), and mean units at most 0.6 of the
fixed-n design with the same nominal error rates, at both design points.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from pytest_rollout.evals import verdicts as v  # noqa: E402

Rng = np.random.Generator
Draw = Callable[[Rng, int], np.ndarray]  # (rng, reps) -> one unit per replication
Step = Callable[[v.Design, v.BetState, np.ndarray], v.BetState]
ALPHA = BETA = 0.05
EFFICIENCY_GOAL = 0.6
GOALS: list[tuple[str, bool]] = []


@dataclass
class Sim:
    """Verdicts (-1 FAIL, 0 INCONCLUSIVE, +1 PASS) and units used, per replication."""

    verdict: np.ndarray
    n: np.ndarray
    checked: int = 0
    mismatches: int = 0

    def rate(self, code: int) -> float:
        return float((self.verdict == code).mean())

    def se(self, code: int) -> float:
        r = self.rate(code)
        return math.sqrt(max(r * (1 - r), 1e-12) / self.verdict.size)


# ----------------------------------------------------------------- simulation engines


def sim_counts(design: v.Design, draw: Draw, reps: int, rng: Rng, check: int) -> Sim:
    """pass_rate designs: running sums against count_boundaries(design), whole paths at once."""
    b = v.count_boundaries(design)
    verdicts, used, mismatches, chunk = [], [], 0, 2000
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        units = np.stack([draw(rng, size) for _ in range(design.budget)], axis=1)
        verdict, n = _first_crossing(np.cumsum(units, axis=1), b, design.budget)
        if start == 0:
            mismatches += _check_monitor(design, units[:check], verdict[:check], n[:check])
        verdicts.append(verdict)
        used.append(n)
    return Sim(np.concatenate(verdicts), np.concatenate(used), min(check, reps), mismatches)


def _first_crossing(s: np.ndarray, b: v.CountBoundaries, budget: int) -> tuple[np.ndarray, np.ndarray]:
    hit_f, hit_p = s <= b.fail_max[1:], s >= b.pass_min[1:]
    hit = hit_f | hit_p
    stopped = hit.any(axis=1)
    first = np.where(stopped, hit.argmax(axis=1), budget - 1)
    verdict = np.where(stopped, np.where(hit_f[np.arange(len(s)), first], -1, 1), 0)
    if b.terminal_fail_max is not None:
        verdict = np.where(stopped, verdict, np.where(s[:, -1] <= b.terminal_fail_max, -1, 1))
    return verdict, first + 1


def sim_bets(design: v.Design, draw: Draw, reps: int, rng: Rng, check: int, step: Step | None = None) -> Sim:
    """Betting designs: verdicts.bet_step (or the old ``step``) over all replications, one unit at a time."""
    step = step or v.bet_step
    state = v.bet_start((reps,))
    verdict, n = np.zeros(reps, dtype=int), np.full(reps, design.budget)
    kept = np.zeros((min(check, reps), design.budget))
    for t in range(design.budget):
        x = draw(rng, reps)
        kept[:, t] = x[: kept.shape[0]]
        state = step(design, state, x)
        open_ = verdict == 0
        fail = open_ & (state.log_kf >= design.fail_bound)
        win = open_ & ~fail & (state.log_kp >= design.pass_bound)
        verdict[fail], verdict[win], n[fail | win] = -1, 1, t + 1
        if not (verdict == 0).any():
            kept = kept[:, : t + 1]
            break
    if step is not v.bet_step:
        return Sim(verdict, n)
    mismatches = _check_monitor(design, kept, verdict[: kept.shape[0]], n[: kept.shape[0]])
    return Sim(verdict, n, kept.shape[0], mismatches)


def old_bet_step(design: v.Design, state: v.BetState, x: np.ndarray) -> v.BetState:
    """The betting rule before issue 13 (aGRAPA: bet toward the estimated gap), for comparison."""
    mu, bad = design.threshold, design.bad
    mean = (0.5 + state.total) / (state.n + 1)
    var = (0.25 + state.sq) / (state.n + 1)
    gap_f, gap_p = mu - mean, mean - bad
    lam_f = np.clip(gap_f / (var + gap_f**2), 0.0, 0.5 / (1.0 - mu))
    lam_p = np.clip(gap_p / (var + gap_p**2), 0.0, 0.5 / bad)
    total = state.total + x
    new_mean = (0.5 + total) / (state.n + 2)
    return v.BetState(
        state.n + 1,
        total,
        state.sq + (x - new_mean) ** 2,
        state.log_kf + np.log1p(lam_f * (mu - x)),
        state.log_kp + np.log1p(lam_p * (x - bad)),
    )


def matrix_draw(units: np.ndarray) -> Draw:
    """Feed the columns of a (reps, n) matrix one at a time (a scenario built whole beforehand)."""
    column = iter(units.T)
    return lambda rng, k: next(column)


def sim_matrix(design: v.Design, units: np.ndarray, step: Step | None = None) -> Sim:
    """Any design on prebuilt unit streams (reps, n); a stream shorter than the budget is padded
    with NaN = "no more units", which leaves the replication INCONCLUSIVE where it stands."""
    reps, n = units.shape
    if design.method == "sprt":
        b = v.count_boundaries(design)
        avail = (~np.isnan(units)).sum(axis=1)
        s = np.cumsum(np.nan_to_num(units), axis=1)
        if n < design.budget:
            s = np.hstack([s, np.repeat(s[:, -1:], design.budget - n, axis=1)])
        verdict, used = _first_crossing(s[:, : design.budget], b, design.budget)
        short = used > avail
        return Sim(np.where(short, 0, verdict), np.minimum(used, avail))
    state = v.bet_start((reps,))
    verdict, used = np.zeros(reps, dtype=int), np.zeros(reps, dtype=int)
    for t in range(min(n, design.budget)):
        x = units[:, t]
        live = (verdict == 0) & ~np.isnan(x)
        state = (step or v.bet_step)(design, state, np.nan_to_num(x, nan=design.threshold))
        used[live] = t + 1
        fail = live & (state.log_kf >= design.fail_bound)
        win = live & ~fail & (state.log_kp >= design.pass_bound)
        verdict[fail], verdict[win] = -1, 1
    return Sim(verdict, used)


def _check_monitor(design: v.Design, units: np.ndarray, verdict: np.ndarray, n: np.ndarray) -> int:
    """Replay replications through verdicts.Monitor; count disagreements with the vectorised run."""
    code = {"FAIL": -1, "PASS": 1, "INCONCLUSIVE": 0}
    bad = 0
    for row, want_v, want_n in zip(units, verdict, n, strict=True):
        m = v.Monitor(design)
        for x in row:
            if m.update(float(x)) is not None or m.closed:
                break
        bad += int(code[m.finish()] != want_v or m.n != want_n)
    return bad


# ------------------------------------------------------------------ samplers


def bernoulli(p: float) -> Draw:
    return lambda rng, k: (rng.random(k) < p).astype(float)


def beta_scores(mean: float, kappa: float) -> Draw:
    return lambda rng, k: rng.beta(kappa * mean, kappa * (1 - mean), k)


def case_means(mean: float, sd: float, epochs: int) -> Draw:
    """A fresh case from a Beta population of case pass rates (mean, sd); its mean over epochs."""
    a, b = _beta_ab(mean, sd)
    return lambda rng, k: rng.binomial(epochs, rng.beta(a, b, k)) / epochs


def paired_units(psi: float, drop: float) -> Draw:
    """0/1 cases, discordance psi, mean drop: d in {-1, 0, 1}, unit Y = (1 + d)/2."""
    probs = np.array([(psi + drop) / 2, 1 - psi, (psi - drop) / 2])
    return lambda rng, k: rng.choice(np.array([0.0, 0.5, 1.0]), size=k, p=probs)


# ------------------------------------------------------------------ printing


def header(title: str, design: v.Design, reps: int, engine: str) -> None:
    rule = v.Monitor(design).basis()
    print(f"\n== {title}   [{rule}; budget {design.budget}; {reps} reps per point]")
    print(f"   engine: {engine}")
    print(f"   {'':40} {'simulated':>18} {'exact DP':>10}   {'goal':<10}")


def line(label: str, sim: str, exact: str = "", goal: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"   {label:40} {sim:>18} {exact:>10}   {goal:<10} {mark}".rstrip())


def rate_line(label: str, sim: Sim, code: int, exact: float | None, goal: float | None, tag: str) -> None:
    ok = None if goal is None else sim.rate(code) - 2 * sim.se(code) <= goal and (exact is None or exact <= goal)
    ex = "" if exact is None else f"{exact:.4f}"
    line(label, f"{sim.rate(code):.4f} ±{sim.se(code):.4f}", ex, "" if goal is None else f"<= {goal:g}", ok)
    if ok is not None:
        GOALS.append((f"{tag}: {label.strip()}", ok))


def efficiency_lines(
    tag: str,
    good: Sim,
    bad: Sim,
    fixed: float,
    exact: tuple[float, float] | None,
    goal: float = EFFICIENCY_GOAL,
    old: tuple[Sim, Sim] | None = None,
) -> None:
    for name, sim, ex in (
        ("at threshold", good, exact and exact[0]),
        ("at threshold - margin", bad, exact and exact[1]),
    ):
        line(f"mean units {name}", f"{sim.n.mean():.1f}", "" if ex is None else f"{ex:.1f}")
    if old is not None:
        line("old method: mean units (threshold / bad)", f"{old[0].n.mean():.0f} / {old[1].n.mean():.0f}")
        line("old method: false-FAIL / false-PASS", f"{old[0].rate(-1):.4f} / {old[1].rate(1):.4f}")
        ratio = max(old[0].n.mean(), old[1].n.mean()) / fixed
        line("old method: worse mean / fixed n", f"{ratio:.3f}")
    worst = max(good.n.mean(), bad.n.mean()) / fixed
    ok = worst <= goal
    line(f"worse mean / fixed n ({fixed:.0f})", f"{worst:.3f}", "", f"<= {goal}", ok)
    GOALS.append((f"{tag}: mean units <= {goal} x fixed n", ok))


def check_line(*sims: Sim) -> None:
    checked, bad = sum(s.checked for s in sims), sum(s.mismatches for s in sims)
    line("Monitor replay (verdict and n)", f"{checked - bad}/{checked} agree")
    GOALS.append(("decision code: Monitor agrees with the vectorised engine", bad == 0))


# ------------------------------------------------------------------ criteria


def bench_pass_rate(
    threshold: float, margin: float, budget: int, reps: int, rng: Rng, check: int, wald: bool = False
) -> None:
    design = (
        v.wald_design(threshold, margin, ALPHA, BETA, budget)
        if wald
        else v.design_for("pass_rate", threshold, margin, ALPHA, BETA, budget)
    )
    tag = f"pass_rate {threshold:.2f}/{margin:.2f} budget {budget}"
    header(tag, design, reps, "count_boundaries(design) vectorised + Monitor replay; exact_oc DP")
    good = sim_counts(design, bernoulli(threshold), reps, rng, check)
    bad = sim_counts(design, bernoulli(threshold - margin), reps, rng, check)
    ex_good, ex_bad = v.exact_oc(design, threshold), v.exact_oc(design, threshold - margin)
    rate_line(f"false-FAIL at p = {threshold:.2f}", good, -1, ex_good[0], ALPHA, tag)
    rate_line(f"false-PASS at p = {threshold - margin:.2f}", bad, 1, ex_bad[1], BETA, tag)
    rate_line("INCONCLUSIVE at threshold", good, 0, ex_good[2], None, tag)
    rate_line("INCONCLUSIVE at threshold - margin", bad, 0, ex_bad[2], None, tag)
    efficiency_lines(tag, good, bad, v.fixed_n(threshold, margin, ALPHA, BETA), (ex_good[3], ex_bad[3]))
    naive_pass_rate(threshold, reps, rng)
    check_line(good, bad)


def naive_pass_rate(threshold: float, reps: int, rng: Rng) -> None:
    """The naive rule: 10 trials, FAIL when the observed rate is below the threshold."""
    k = math.ceil(10 * threshold - 1e-9) - 1
    sim = float((rng.binomial(10, threshold, reps) <= k).mean())
    line("naive rule (10 trials) false-FAIL", f"{sim:.4f}", f"{stats.binom.cdf(k, 10, threshold):.4f}")


def beta_fixed_n(mu: float, margin: float, var0: float, var1: float) -> float:
    """Fixed-n one-sided z test on a mean: ((z_{1-a} sd0 + z_{1-b} sd1) / m)^2."""
    z_a, z_b = stats.norm.ppf(1 - ALPHA), stats.norm.ppf(1 - BETA)
    return float(((z_a * math.sqrt(var0) + z_b * math.sqrt(var1)) / margin) ** 2)


def bench_min_score(mu: float, margin: float, kappa: float, budget: int, reps: int, rng: Rng, check: int) -> None:
    design = v.design_for("min_score", mu, margin, ALPHA, BETA, budget)
    tag = f"min_score {mu:.2f}/{margin:.2f} Beta(kappa={kappa:g})"
    header(tag, design, reps, "bet_step vectorised + Monitor replay; no exact DP for scores")
    good = sim_bets(design, beta_scores(mu, kappa), reps, rng, check)
    bad = sim_bets(design, beta_scores(mu - margin, kappa), reps, rng, check)
    rate_line(f"false-FAIL at mean = {mu:.2f}", good, -1, None, ALPHA, tag)
    rate_line(f"false-PASS at mean = {mu - margin:.2f}", bad, 1, None, BETA, tag)
    rate_line("INCONCLUSIVE at threshold", good, 0, None, None, tag)
    var0, var1 = mu * (1 - mu) / (kappa + 1), (mu - margin) * (1 - mu + margin) / (kappa + 1)
    old = (
        sim_bets(design, beta_scores(mu, kappa), reps, rng, 0, old_bet_step),
        sim_bets(design, beta_scores(mu - margin, kappa), reps, rng, 0, old_bet_step),
    )
    efficiency_lines(tag, good, bad, beta_fixed_n(mu, margin, var0, var1), None, old=old)
    naive = beta_scores(mu, kappa)(rng, reps * 10).reshape(reps, 10).mean(axis=1) < mu
    line("naive rule (10 scores) false-FAIL", f"{naive.mean():.4f}")
    check_line(good, bad)


def bench_cases(mu: float, margin: float, sd: float, epochs: int, reps: int, rng: Rng, check: int) -> None:
    """Cases as the unit: heterogeneous case rates (sd), `epochs` trials per case, the case mean fed in.

    The default for ``cases=`` is the betting test (``design_for(..., cases=True)``); the SPRT on
    case means is shown for comparison (valid, but it bets as if the units were 0/1).
    """
    var = [sd**2 + (m * (1 - m) - sd**2) / epochs for m in (mu, mu - margin)]
    fixed = beta_fixed_n(mu, margin, *var)
    good_draw, bad_draw = case_means(mu, sd, epochs), case_means(mu - margin, sd, epochs)
    budget = v.minimum_budget("pass_rate", mu, margin, ALPHA, BETA) or 0
    bet = v.design_for("pass_rate", mu, margin, ALPHA, BETA, budget, cases=True)
    tag = f"cases pass_rate {mu:.2f}/{margin:.2f}, case sd {sd}, {epochs} epochs (cases=True: betting)"
    header(tag, bet, reps, "bet_step vectorised + Monitor replay")
    good, bad = sim_bets(bet, good_draw, reps, rng, check), sim_bets(bet, bad_draw, reps, rng, check)
    rate_line(f"false-FAIL at {mu:.2f}", good, -1, None, ALPHA, tag)
    rate_line(f"false-PASS at {mu - margin:.2f}", bad, 1, None, BETA, tag)
    rate_line("INCONCLUSIVE at threshold", good, 0, None, None, tag)
    old = sim_bets(bet, good_draw, reps, rng, 0, old_bet_step), sim_bets(bet, bad_draw, reps, rng, 0, old_bet_step)
    efficiency_lines(tag, good, bad, fixed, None, old=old)
    trials = rng.random((reps, 10)) < rng.beta(*_beta_ab(mu, sd), (reps, 10))
    line("naive rule (10 trials) false-FAIL", f"{(trials.mean(axis=1) < mu).mean():.4f}")
    check_line(good, bad)
    print(
        f"   note: fixed n counts cases (unit variance {var[0]:.3f}); Miller's formula gives "
        f"{beta_fixed_n(mu, margin, var[0], var[0]):.0f} with the threshold's variance at both points"
    )
    sprt = v.design_for("pass_rate", mu, margin, ALPHA, BETA, budget)
    tag = f"cases pass_rate {mu:.2f}/{margin:.2f}, same cases, SPRT on case means (for comparison)"
    header(tag, sprt, reps, "count_boundaries(design) on fractional sums + Monitor replay")
    good, bad = sim_counts(sprt, good_draw, reps, rng, check), sim_counts(sprt, bad_draw, reps, rng, check)
    rate_line(f"false-FAIL at {mu:.2f}", good, -1, None, ALPHA, tag)
    rate_line(f"false-PASS at {mu - margin:.2f}", bad, 1, None, BETA, tag)
    line(f"mean units / fixed n ({fixed:.0f})", f"{good.n.mean() / fixed:.3f} / {bad.n.mean() / fixed:.3f}")
    check_line(good, bad)


def _beta_ab(mean: float, sd: float) -> tuple[float, float]:
    a_plus_b = mean * (1 - mean) / sd**2 - 1
    return mean * a_plus_b, (1 - mean) * a_plus_b


def bench_regression(delta: float, reps: int, rng: Rng, check: int, base: float = 0.85) -> None:
    """max_regression=delta on paired 0/1 cases (epochs=1) with discordance 10% and 20%."""
    z_a, z_b = stats.norm.ppf(1 - ALPHA), stats.norm.ppf(1 - BETA)
    p0, p1 = base, base - delta
    pbar = (p0 + p1) / 2
    unpaired = ((z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) / delta) ** 2
    for psi in (0.10, 0.20):
        design = v.design_for("max_regression", delta, delta, ALPHA, BETA, 3000)
        tag = f"max_regression {delta:.2f}, paired 0/1 cases, discordance {psi:.0%}"
        header(tag, design, reps, "bet_step on Y = (1 + d)/2 vectorised + Monitor replay")
        same = sim_bets(design, paired_units(psi, 0.0), reps, rng, check)
        drop = sim_bets(design, paired_units(psi, delta), reps, rng, check)
        rate_line("false-FAIL with no drop", same, -1, None, ALPHA, tag)
        rate_line(f"false-PASS at a {delta:.0%} drop", drop, 1, None, BETA, tag)
        connor = ((z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) / delta) ** 2
        old = (
            sim_bets(design, paired_units(psi, 0.0), reps, rng, 0, old_bet_step),
            sim_bets(design, paired_units(psi, delta), reps, rng, 0, old_bet_step),
        )
        efficiency_lines(tag, same, drop, connor, None, goal=EFFICIENCY_GOAL, old=old)
        worst = max(same.n.mean(), drop.n.mean()) / unpaired
        line(f"worse mean / unpaired fixed n ({unpaired:.0f} per arm)", f"{worst:.3f}", "", "<= 0.5", worst <= 0.5)
        GOALS.append((f"{tag}: mean cases <= 0.5 x unpaired fixed n", worst <= 0.5))
        naive = paired_units(psi, 0.0)(rng, reps * 10).reshape(reps, 10).mean(axis=1) < 0.5
        line("naive rule (10 cases, any drop) false-FAIL", f"{naive.mean():.4f}")
        check_line(same, drop)


def bench_cases_one_epoch(mu: float, margin: float, sd: float, reps: int, rng: Rng, check: int) -> None:
    """cases= with one epoch: 0/1 units, so the count SPRT (new) against the betting test (old)."""
    budget = v.minimum_budget("pass_rate", mu, margin, ALPHA, BETA) or 0
    sprt = v.design_for("pass_rate", mu, margin, ALPHA, BETA, budget)
    bet = v.design_for("pass_rate", mu, margin, ALPHA, BETA, budget, cases=True)
    tag = f"cases pass_rate {mu:.2f}/{margin:.2f}, case sd {sd}, 1 epoch (count SPRT)"
    header(tag, sprt, reps, "count_boundaries(design) vectorised + Monitor replay; old: aGRAPA bets")
    good_draw, bad_draw = case_means(mu, sd, 1), case_means(mu - margin, sd, 1)
    good, bad = sim_counts(sprt, good_draw, reps, rng, check), sim_counts(sprt, bad_draw, reps, rng, check)
    rate_line(f"false-FAIL at {mu:.2f}", good, -1, None, ALPHA, tag)
    rate_line(f"false-PASS at {mu - margin:.2f}", bad, 1, None, BETA, tag)
    old = sim_bets(bet, good_draw, reps, rng, 0, old_bet_step), sim_bets(bet, bad_draw, reps, rng, 0, old_bet_step)
    efficiency_lines(tag, good, bad, v.fixed_n(mu, margin, ALPHA, BETA), None, old=old)
    check_line(good, bad)


# ------------------------------------------------------------------ scenarios (issue 13)


def scenario_header(title: str, claim: str) -> None:
    print(f"\n== scenario: {title}")
    print(f"   claim: {claim}")


def claim_line(label: str, new: Sim, code: int, goal: float, old: Sim | None, tag: str) -> None:
    ok = new.rate(code) - 2 * new.se(code) <= goal
    was = "" if old is None else f"   old {old.rate(code):.4f} ±{old.se(code):.4f}"
    print(f"   {label:44} {new.rate(code):.4f} ±{new.se(code):.4f}  <= {goal:g}  {'PASS' if ok else 'FAIL'}{was}")
    GOALS.append((f"{tag}: {label}", ok))


def units_line(new: Sim, fixed: float, old: Sim | None, what: str = "fixed n") -> None:
    was = "" if old is None else f"; old method {old.n.mean():.0f}"
    print(f"   mean units {new.n.mean():.0f} = {new.n.mean() / fixed:.2f}x {what} ({fixed:.0f}){was}")


def scenario_grown_cases(reps: int, rng: Rng) -> None:
    """1000 cases, 700 known to the baseline, 300 new and easier; the case-set mean is the point."""
    tag = "grown case set"
    scenario_header(
        "grown case set: 700 baseline cases, 300 new ones 0.10 easier, pass_rate 0.80/0.05, 1 epoch",
        "false-FAIL <= alpha at a case-set mean of 0.80, false-PASS <= beta at 0.75",
    )
    design = v.design_for("pass_rate", 0.80, 0.05, ALPHA, BETA, 1000)
    old_design = v.design_for("pass_rate", 0.80, 0.05, ALPHA, BETA, 1000, cases=True)
    for mean, code, label in ((0.80, -1, "false-FAIL at mean 0.80"), (0.75, 1, "false-PASS at mean 0.75")):
        rates = np.r_[np.full(700, mean - 0.03), np.full(300, mean + 0.07)]
        outcome = (rng.random((reps, 1000)) < rates).astype(float)
        new_order = rng.permuted(np.tile(np.arange(1000), (reps, 1)), axis=1)
        old_order = np.hstack(
            [
                rng.permuted(np.tile(np.arange(700), (reps, 1)), axis=1),
                700 + rng.permuted(np.tile(np.arange(300), (reps, 1)), axis=1),
            ]
        )
        rows = np.arange(reps)[:, None]
        new, old = (
            sim_matrix(design, outcome[rows, new_order]),
            sim_matrix(old_design, outcome[rows, old_order], old_bet_step),
        )
        claim_line(label, new, code, ALPHA if code == -1 else BETA, old, tag)
        units_line(new, v.fixed_n(0.80, 0.05, ALPHA, BETA), old)


def scenario_error_trials(reps: int, rng: Rng) -> None:
    """5% error trials on a calibrated design, and 8% under max_error_rate = 0.1."""
    tag = "error trials"
    budget = v.minimum_budget("pass_rate", 0.80, 0.05, ALPHA, BETA) or 0
    design = v.design_for("pass_rate", 0.80, 0.05, ALPHA, BETA, budget)
    scenario_header(
        f"error trials: 5% errors, pass_rate 0.80/0.05 calibrated at {budget}",
        "no INCONCLUSIVE (the budget counts outcomes), false-FAIL <= alpha, false-PASS <= beta",
    )
    for p, code, label in ((0.80, -1, "false-FAIL at 0.80"), (0.75, 1, "false-PASS at 0.75")):
        outcome = (rng.random((reps, budget)) < p).astype(float)
        err = rng.random((reps, budget)) < 0.05
        kept = np.where(err, np.nan, outcome)  # the old rule: errors eat the trial budget
        old_units = np.array([np.r_[row[~np.isnan(row)], np.full(int(np.isnan(row).sum()), np.nan)] for row in kept])
        new, old = sim_matrix(design, outcome), sim_matrix(design, old_units)
        claim_line(label, new, code, ALPHA if code == -1 else BETA, old, tag)
        claim_line(f"INCONCLUSIVE at {p:.2f}", new, 0, 0.0, old, tag)
        units_line(new, v.fixed_n(0.80, 0.05, ALPHA, BETA), old)
    n_err = max(reps // 5, 200)
    scenario_header(
        "error trials: 8% errors under max_error_rate=0.1 (ERROR decided with a one-sided bound)",
        f"ERROR <= alpha while the error rate is below the limit ({n_err} runs of {budget} trials)",
    )
    from pytest_rollout.evals.error_budget import ErrorRateTest

    flags = rng.random((n_err, budget)) < 0.08
    new_error = np.zeros(n_err, dtype=int)
    for i, row in enumerate(flags):
        test = ErrorRateTest(0.1, ALPHA)
        new_error[i] = -1 if any(test.update(bool(e)) for e in row) else 0
    share = np.cumsum(flags, axis=1) / np.arange(1, budget + 1)
    old_error = np.where(
        (np.cumsum(flags, axis=1) > math.floor(0.1 * budget)).any(axis=1) | (share[:, -1] > 0.1), -1, 0
    )
    claim_line(
        "ERROR at an 8% error rate",
        Sim(new_error, np.full(n_err, budget)),
        -1,
        ALPHA,
        Sim(old_error, np.full(n_err, budget)),
        tag,
    )


def scenario_exceptions(reps: int, rng: Rng) -> None:
    """A model at 0.75 whose failures are 6% exceptions (a JSON parse error) and 19% asserts."""
    tag = "exceptions as failures"
    budget = v.minimum_budget("pass_rate", 0.80, 0.05, ALPHA, BETA) or 0
    design = v.design_for("pass_rate", 0.80, 0.05, ALPHA, BETA, budget)
    scenario_header(
        "exceptions as failures: true pass rate 0.75 (6% raise ValueError, 19% fail an assert), bar 0.80/0.05",
        "false-PASS <= beta (exceptions other than errors= are failures)",
    )
    u = rng.random((reps, budget))
    outcome = (u < 0.75).astype(float)
    old_units = np.where((u >= 0.75) & (u < 0.81), np.nan, outcome)  # the old rule dropped the exceptions
    old_units = np.array([np.r_[row[~np.isnan(row)], np.full(int(np.isnan(row).sum()), np.nan)] for row in old_units])
    new, old = sim_matrix(design, outcome), sim_matrix(design, old_units)
    claim_line("false-PASS at 0.75", new, 1, BETA, old, tag)
    units_line(new, v.fixed_n(0.80, 0.05, ALPHA, BETA), old)


def scenario_unpaired_cases(reps: int, rng: Rng, delta: float = 0.05) -> None:
    """Baseline recorded with cases= and stored per case id, where ids group by difficulty
    (easy-*, mid-*, hard-*: 100 cases x 3 epochs each at 0.95 / 0.85 / 0.60); the candidate runs
    without cases. The claim is relative to the baseline as recorded (its own mean), as for
    paired comparisons; the baseline's sampling noise comes on top (record enough epochs)."""
    tag = "unpaired with cases"
    scenario_header(
        f"unpaired max_regression={delta} against a baseline recorded with cases= (300 cases x 3 epochs, by id)",
        "false-FAIL <= alpha with no change, false-PASS <= beta at a drop of delta (vs the recorded mean)",
    )
    n = 900
    rates = np.repeat([0.95, 0.85, 0.60], 300)
    design = v.design_for("max_regression", delta, delta, ALPHA, BETA, n)
    for drop, code, label in ((0.0, -1, "false-FAIL, no change"), (delta, 1, f"false-PASS at a {delta:.0%} drop")):
        stored = (rng.random((reps, n)) < rates).astype(float)
        cand = (rng.random((reps, n)) < stored.mean(axis=1, keepdims=True) - drop).astype(float)
        draws = stored[np.arange(reps)[:, None], rng.integers(0, n, (reps, n))]
        new = sim_matrix(design, (1 + cand - draws) / 2)
        old = sim_matrix(design, (1 + cand - stored) / 2, old_bet_step)
        claim_line(label, new, code, ALPHA if code == -1 else BETA, old, tag)
        units_line(new, n, old, "the budget")


def bench_budget_warnings(reps: int, rng: Rng) -> None:
    """The collection-time budget answer (verdicts.needs: Beta units of the measured variance)
    against a simulation on the real unit distributions, at the eval's own budget."""
    from pytest_rollout.evals.verdicts import needs

    print("\n== budget warnings: predicted (verdicts.needs, at collection) vs simulated INCONCLUSIVE")
    cases = [
        ("min_score 0.80/0.05, Beta(kappa=4) scores, trials=120", "min_score", 0.80, 0.05, 120, beta_scores, 0.032),
        ("max_regression 0.05, 10% discordant 0/1 cases, 200 cases", "max_regression", 0.05, 0.05, 200, None, 0.1),
    ]
    for label, criterion, thr, margin, budget, scores, var in cases:
        design = v.design_for(criterion, thr, margin, ALPHA, BETA, budget)
        unit_var = var if scores is not None else var / 4  # Y = (1 + d)/2
        need = needs.betting_need(design.threshold, design.margin, ALPHA, BETA, budget, unit_var, ALPHA)
        if scores is not None:
            good, bad = beta_scores(thr, 4.0), beta_scores(thr - margin, 4.0)
        else:
            good, bad = paired_units(var, 0.0), paired_units(var, thr)
        sims = sim_bets(design, good, reps, rng, 0), sim_bets(design, bad, reps, rng, 0)
        worst = max(sims, key=lambda s: s.rate(0))
        predicted = need.inconclusive or 0.0
        ok = abs(worst.rate(0) - predicted) <= 3 * worst.se(0) + 0.03
        GOALS.append((f"budget warning: {label}: predicted INCONCLUSIVE within 3 SE + 0.03", ok))
        print(
            f"   {label:58} predicted {predicted:.3f}, simulated {worst.rate(0):.3f} ±{worst.se(0):.3f}; "
            f"decides at {need.needed} units  {'PASS' if ok else 'FAIL'}"
        )


def bench_regression_margin(reps: int, rng: Rng, check: int) -> None:
    """max_regression=0.10 with margin 0.05: the margin is the indifference zone (issue 13)."""
    design = v.design_for("max_regression", 0.10, 0.05, ALPHA, BETA, 3000)
    tag = "max_regression 0.10, margin 0.05, paired 0/1 cases, discordance 20%"
    header(tag, design, reps, "bet_step on Y = (1 + d)/2 vectorised + Monitor replay")
    tolerated = sim_bets(design, paired_units(0.20, 0.05), reps, rng, check)
    dropped = sim_bets(design, paired_units(0.20, 0.10), reps, rng, check)
    rate_line("false-FAIL at a 5% drop (tolerated)", tolerated, -1, None, ALPHA, tag)
    rate_line("false-PASS at a 10% drop", dropped, 1, None, BETA, tag)
    z_a, z_b = stats.norm.ppf(1 - ALPHA), stats.norm.ppf(1 - BETA)
    var_good, var_bad = 0.20 - 0.05**2, 0.20 - 0.10**2
    fixed = ((z_a * math.sqrt(var_good) + z_b * math.sqrt(var_bad)) / 0.05) ** 2
    efficiency_lines(tag, tolerated, dropped, fixed, None)
    check_line(tolerated, dropped)


def bench_plugin_end_to_end(evals: int = 200, budget: int = 2000) -> None:
    """200 evals through the real plugin (pytest subprocess, xdist -n 2), STATISTICS.md §5.4.

    Each eval is a Bernoulli "model" at exactly the threshold (and, in a second
    session, at threshold - margin), ``rollout_correction=none``: the share of FAIL
    (and PASS) verdicts must match the exact DP of the design the plugin builds.
    """
    import json
    import os
    import subprocess
    import tempfile

    print(f"\n== plugin end to end: {evals} evals per session through pytest, budget {budget}, correction none")
    design = v.design_for("pass_rate", 0.80, 0.05, ALPHA, ALPHA, budget)
    for p, wanted in ((0.80, "FAIL"), (0.75, "PASS")):
        with tempfile.TemporaryDirectory() as tmp:
            body = "import random, pytest\n" + "".join(
                f"@pytest.mark.eval(trials={budget}, pass_rate=0.80, margin=0.05)\n"
                f"def test_e{i}(trial):\n    assert random.Random(trial.seed).random() < {p}\n"
                for i in range(evals)
            )
            Path(tmp, "test_e2e.py").write_text(body)
            report = Path(tmp, "r.json")
            cmd = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                "2",
                "--rollout-seed=7",
                "-o",
                "rollout_correction=none",
                f"--rollout-report={report}",
                "test_e2e.py",
            ]
            subprocess.run(cmd, cwd=tmp, capture_output=True, env=dict(os.environ, PYTHONHASHSEED="0"))
            results = json.loads(report.read_text())["evals"]
        share = sum(e["verdict"] == wanted for e in results) / len(results)
        mean_n = sum(e["n"] for e in results) / len(results)
        fail, pass_, _, en = v.exact_oc(design, p)
        exact = fail if wanted == "FAIL" else pass_
        se = (exact * (1 - exact) / len(results)) ** 0.5
        ok = abs(share - exact) <= 3 * se
        GOALS.append((f"plugin e2e P({wanted}) at p={p} within 3 SE of exact", ok))
        print(
            f"   p = {p:.2f}: {wanted} in {share:.3f} of {len(results)} evals (exact DP {exact:.4f} +-{se:.3f})  "
            f"mean trials {mean_n:.0f} (exact {en:.0f})  {'PASS' if ok else 'FAIL'}"
        )


# ------------------------------------------------------------------ the trial runner


def runner_rows() -> int:
    """bench_runner.py's rows (issue 19 item 3): the runner per trial against the loop of the
    unavoidable work, sync and async, and I/O-bound wall time against its floor, with the goals."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_runner import rows

    goals: list[tuple[str, bool]] = []
    print("\n".join(rows(goals=goals)))
    print(f"   {sum(ok for _, ok in goals)}/{len(goals)} runner goals met")
    return 0


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="Replications per point (default 2000)")
    parser.add_argument("--e2e", action="store_true", help="Also run 200 evals through pytest (minutes)")
    parser.add_argument("--seed", type=int, default=20261125, help="Seed of numpy's default_rng")
    parser.add_argument("--check", type=int, default=100, help="Replications per point replayed through Monitor")
    parser.add_argument("--quick", action="store_true", help="300 reps, 10 replayed: a smoke run (about a minute)")
    parser.add_argument(
        "--runner", action="store_true", help="Only the trial runner's rows (bench_runner.py: per trial and I/O-bound)"
    )
    args = parser.parse_args(argv)
    if args.runner:
        return runner_rows()
    if args.quick:
        args.reps, args.check = 300, 10
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"bench_stats: seed {args.seed}, {args.reps} reps per point, alpha = beta = {ALPHA}; numpy {np.__version__}")
    bench_pass_rate(0.80, 0.05, 939, args.reps, rng, args.check)
    bench_pass_rate(0.80, 0.10, 250, args.reps, rng, args.check)
    bench_pass_rate(0.80, 0.05, 2000, args.reps, rng, args.check, wald=True)
    bench_min_score(0.80, 0.05, 4.0, 2000, args.reps, rng, args.check)
    bench_cases(0.80, 0.05, 0.2, 3, args.reps, rng, args.check)
    bench_cases_one_epoch(0.80, 0.05, 0.2, args.reps, rng, args.check)
    bench_regression(0.05, args.reps, rng, args.check)
    bench_regression_margin(args.reps, rng, args.check)
    scenario_grown_cases(args.reps, rng)
    scenario_error_trials(args.reps, rng)
    scenario_exceptions(args.reps, rng)
    scenario_unpaired_cases(args.reps, rng)
    bench_budget_warnings(args.reps, rng)
    if args.e2e:
        bench_plugin_end_to_end()
    print(f"\n== goals ({time.perf_counter() - started:.0f} s)")
    for name, ok in GOALS:
        print(f"   {'PASS' if ok else 'FAIL'}  {name}")
    print(f"   {sum(ok for _, ok in GOALS)}/{len(GOALS)} goals met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
