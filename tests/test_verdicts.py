"""The verdicts package against STATISTICS.md §3: exact DP where it exists, seeded simulation otherwise.

Simulated rates are checked at about 3.5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from pytest_rollout.evals import verdicts as v
from pytest_rollout.evals.verdicts import budget, sprt

DEFAULT = (0.80, 0.05, 0.05, 0.05)


def sd_tol(rate: float, reps: int, k: float = 3.5) -> float:
    return k * math.sqrt(rate * (1 - rate) / reps)


def simulate_counts(design: v.Design, p: float, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised pass_rate runs through the design's count boundaries: (verdict -1/0/+1, N)."""
    rng = np.random.default_rng(seed)
    b = v.count_boundaries(design)
    s = np.cumsum(rng.random((reps, design.budget)) < p, axis=1)
    hit_f, hit_p = s <= b.fail_max[1:], s >= b.pass_min[1:]
    hit = hit_f | hit_p
    stopped = hit.any(axis=1)
    first = np.where(stopped, hit.argmax(axis=1), design.budget - 1)
    rows = np.arange(reps)
    verdict = np.where(stopped, np.where(hit_f[rows, first], -1, 1), 0)
    if b.terminal_fail_max is not None:
        verdict = np.where(stopped, verdict, np.where(s[:, -1] <= b.terminal_fail_max, -1, 1))
    return verdict, first + 1


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("threshold", "margin", "n"),
    [(0.70, 0.10, 244), (0.80, 0.10, 200), (0.80, 0.05, 751), (0.90, 0.05, 468), (0.95, 0.03, 720), (0.99, 0.02, 494)],
)
def test_fixed_n_matches_table_1(threshold: float, margin: float, n: int) -> None:
    assert v.fixed_n(threshold, margin, 0.05, 0.05) == n


def test_minimum_budget() -> None:
    assert v.minimum_budget("pass_rate", *DEFAULT) == 939
    assert v.minimum_budget("pass_rate", 0.80, 0.10, 0.05, 0.05) == 250
    assert v.minimum_budget("pass_rate", 0.90, 0.05, 0.05, 0.05) == 585
    assert v.minimum_budget("min_score", *DEFAULT) is None
    assert v.minimum_budget("max_regression", *DEFAULT) is None


# ------------------------------------------------------------------ Wald SPRT, exact


def test_count_form_of_the_default_design() -> None:
    """STATISTICS.md §1: PASS once S_n >= 0.7757 n + 10.24, FAIL once S_n <= 0.7757 n - 10.24."""
    b = v.count_boundaries(v.wald_design(*DEFAULT, budget=2000))
    n = np.arange(100, 2001, 97)
    assert np.all(np.abs(b.fail_max[n] - (0.77566 * n - 10.235)) <= 1)
    assert np.all(np.abs(b.pass_min[n] - (0.77566 * n + 10.235)) <= 1)
    assert b.terminal_fail_max is None


def test_wald_design_reproduces_tables_1_and_3() -> None:
    d = v.wald_design(*DEFAULT, budget=2000)  # Table 3 uses Wald's bounds; design_for would calibrate here
    f0, p0, i0, n0 = v.exact_oc(d, 0.80)
    f1, p1, i1, n1 = v.exact_oc(d, 0.75)
    assert f0 == pytest.approx(0.046, abs=0.005) and p1 == pytest.approx(0.049, abs=0.005)
    assert n0 == pytest.approx(385, rel=0.03) and n1 == pytest.approx(371, rel=0.03)
    assert i0 == pytest.approx(0.001, abs=0.001)
    assert f0 + p0 + i0 == pytest.approx(1.0, abs=1e-12)
    table3 = {0.90: (0.0, 83), 0.82: (0.003, 232), 0.78: (0.360, 603), 0.72: (0.998, 189)}
    for p, (fail, mean_n) in table3.items():
        f, _, _, n = v.exact_oc(d, p)
        assert f == pytest.approx(fail, abs=0.005) and n == pytest.approx(mean_n, rel=0.03)


@pytest.mark.parametrize(
    ("budget", "at_80", "at_75"),
    [(200, (0.014, 0.246, 0.740), (0.287, 0.013, 0.701)), (751, (0.042, 0.864, 0.094), (0.866, 0.044, 0.090))],
)
def test_truncated_wald_matches_table_4(budget: int, at_80: tuple[float, ...], at_75: tuple[float, ...]) -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=budget)
    assert not d.calibrated
    assert v.exact_oc(d, 0.80)[:3] == pytest.approx(at_80, abs=0.003)
    assert v.exact_oc(d, 0.75)[:3] == pytest.approx(at_75, abs=0.003)


def test_default_design_above_minimum_is_calibrated() -> None:
    """design_for picks the calibrated design for budget >= 939; it still holds both error rates."""
    d = v.design_for("pass_rate", *DEFAULT, budget=2000)
    assert d.calibrated and v.exact_oc(d, 0.80)[2] == 0.0
    assert v.exact_oc(d, 0.80)[0] <= 0.05 and v.exact_oc(d, 0.75)[1] <= 0.05


def test_calibrated_terminal_design_matches_table_4() -> None:
    sprt._calibrate.cache_clear()
    budget._design_cached.cache_clear()
    d = v.design_for("pass_rate", *DEFAULT, budget=939)  # its speed is benchmarked, not asserted
    assert d.calibrated and d.terminal_cut == 0.0
    assert d.fail_bound == pytest.approx(3.197, abs=0.01) and d.pass_bound == d.fail_bound
    f0, p0, i0, n0 = v.exact_oc(d, 0.80)
    f1, p1, i1, n1 = v.exact_oc(d, 0.75)
    assert f0 <= 0.05 and p1 <= 0.05 and i0 == i1 == 0.0
    assert f0 == pytest.approx(0.049, abs=0.002) and p1 == pytest.approx(0.050, abs=0.002)
    assert n0 == pytest.approx(409, rel=0.02) and n1 == pytest.approx(393, rel=0.02)


def test_calibration_other_budgets() -> None:
    """Table 4 notes: 1.10x fixed n -> h = 3.704, 1.50x -> 3.027; 0.80/0.10 at 250 holds both rates."""
    assert sprt._calibrate(0.80, 0.75, 0.05, 0.05, round(1.10 * 751))[0] == pytest.approx(3.704, abs=0.01)
    assert sprt._calibrate(0.80, 0.75, 0.05, 0.05, round(1.50 * 751))[0] == pytest.approx(3.027, abs=0.01)
    d = v.design_for("pass_rate", 0.80, 0.10, 0.05, 0.05, 250)
    assert d.calibrated and v.exact_oc(d, 0.80)[0] <= 0.05 and v.exact_oc(d, 0.70)[1] <= 0.05


def test_calibration_with_unequal_alpha_beta_searches_the_cut() -> None:
    """Bonferroni K=12: alpha = 0.05/12, fixed n 1250, 1.25x budget -> errors 0.0041 / 0.050, no INCONCLUSIVE."""
    alpha = v.family_alpha(0.05, 12, "bonferroni")
    assert v.fixed_n(0.80, 0.05, alpha, 0.05) == 1250
    budget = v.minimum_budget("pass_rate", 0.80, 0.05, alpha, 0.05)
    assert budget is not None
    d = v.design_for("pass_rate", 0.80, 0.05, alpha, 0.05, budget)
    assert d.calibrated and d.terminal_cut != 0.0
    f0, _, i0, n0 = v.exact_oc(d, 0.80)
    _, p1, i1, n1 = v.exact_oc(d, 0.75)
    assert f0 <= alpha and p1 <= 0.05 and i0 == i1 == 0.0
    assert (n0 + n1) / 2 < 0.5 * 1250


def test_exact_oc_is_monotone_in_p() -> None:
    """Composite hypotheses: P(FAIL | p) falls as p rises (STATISTICS.md §1)."""
    d = v.design_for("pass_rate", *DEFAULT, budget=939)
    fails = [v.exact_oc(d, p)[0] for p in (0.70, 0.74, 0.76, 0.78, 0.80, 0.82, 0.86)]
    assert fails == sorted(fails, reverse=True)


def test_expected_trials() -> None:
    assert v.expected_trials(*DEFAULT, p=0.80) == pytest.approx(385, rel=0.03)
    assert v.expected_trials(*DEFAULT, p=0.90) == pytest.approx(83, rel=0.03)
    assert v.expected_trials(*DEFAULT, p=0.80, budget=939) == pytest.approx(409, rel=0.02)


def test_simulated_counts_agree_with_the_dp() -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=939)
    reps = 4000
    for p in (0.80, 0.75):
        verdict, n = simulate_counts(d, p, reps, seed=11)
        f, ps, _, mean_n = v.exact_oc(d, p)
        assert (verdict == -1).mean() == pytest.approx(f, abs=sd_tol(f, reps))
        assert (verdict == 0).sum() == 0
        assert n.mean() == pytest.approx(mean_n, rel=0.04)


# ------------------------------------------------------------------ Monitor


def test_monitor_agrees_with_the_count_boundaries_stream_by_stream() -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=939)
    rng = np.random.default_rng(5)
    b = v.count_boundaries(d)
    for _ in range(40):
        xs = (rng.random(d.budget) < 0.78).astype(float)
        m = v.Monitor(d)
        for x in xs:
            if m.update(x) is not None:
                break
        s = np.cumsum(xs)
        n = np.arange(1, d.budget + 1)
        hit = (s <= b.fail_max[n]) | (s >= b.pass_min[n])
        expected_n = int(hit.argmax()) + 1 if hit.any() else d.budget
        assert m.n == expected_n and m.decided is not None and m.finish() == m.decided


def test_monitor_stops_at_the_first_crossing_and_then_ignores_updates() -> None:
    d = v.wald_design(*DEFAULT, budget=2000)
    m = v.Monitor(d)
    # each failure adds ln(0.25/0.20) = 0.2231 to the LLR; A = ln(19) = 2.944 -> FAIL at the 14th
    results = [m.update(0.0) for _ in range(14)]
    assert results[:13] == [None] * 13 and results[13] == "FAIL"
    assert m.n == 14 and m.decided == "FAIL" and m.stopped_early and m.closed
    assert m.update(1.0) == "FAIL" and m.n == 14  # ignored
    assert m.p_value() == pytest.approx(0.20**14)  # exact: 14 failures in a row at p = 0.80
    assert m.basis() == "SPRT a=0.05, b=0.05"


def test_monitor_pass_path_and_report_numbers() -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=2000)
    m = v.Monitor(d)
    assert m.update(1.0) is None and m.p_value() == 1.0
    verdict = None
    while verdict is None:
        verdict = m.update(1.0)
    assert verdict == "PASS" and m.estimate == 1.0
    lo, hi = m.interval(0.95)
    assert 0.8 < lo < 1.0 and hi == 1.0
    assert "calibrated" in m.basis()


def test_terminal_rule_never_inconclusive_and_wald_budget_is() -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=939)
    b = v.count_boundaries(d)
    # S_n = round(s n) stays within 0.5 count of the LLR = 0 line, well inside +-h, until the budget
    slope = b.terminal_fail_max / d.budget
    m = v.Monitor(d)
    for n in range(1, d.budget + 1):
        verdict = m.update(float(round(slope * n) - round(slope * (n - 1))))
        assert verdict is None or n == d.budget
    assert m.n == d.budget and m.finish() in ("PASS", "FAIL") and not m.stopped_early
    assert m.finish() == ("FAIL" if m.total <= b.terminal_fail_max else "PASS")
    short = v.Monitor(d)
    for x in (1.0, 0.0, 1.0):
        short.update(x)
    assert short.finish() == "INCONCLUSIVE"  # the stream ended before the budget
    w = v.Monitor(v.design_for("pass_rate", *DEFAULT, budget=20))
    for x in [1.0, 1.0, 1.0, 1.0, 0.0] * 4:
        assert w.update(x) is None
    assert w.closed and w.finish() == "INCONCLUSIVE" and w.update(1.0) is None and w.n == 20


def test_monitor_rejects_out_of_range_units() -> None:
    m = v.Monitor(v.design_for("min_score", *DEFAULT, budget=10))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.update(1.5)
    with pytest.raises(ValueError):
        m.update(float("nan"))


def test_p_value_is_valid_under_h_good() -> None:
    """P(max_t LLR_t >= ln(1/a)) <= a at p = threshold (Ville), by simulation."""
    rng = np.random.default_rng(3)
    reps, n = 4000, 1000
    x = rng.random((reps, n)) < 0.80
    l0, g = sprt._llr_slopes(0.80, 0.75)
    llr = np.arange(1, n + 1) * l0 - np.cumsum(x, axis=1) * g
    rate = (llr.max(axis=1) >= math.log(20)).mean()
    assert rate <= 0.05 + sd_tol(0.05, reps)


# ------------------------------------------------------------------ betting test


def simulate_betting(design: v.Design, mean: float, reps: int, seed: int, kappa: float = 4.0) -> np.ndarray:
    """Vectorised bet_step (the monitor's code) on Beta(kappa mean, kappa (1 - mean)) scores; -1/0/+1."""
    rng = np.random.default_rng(seed)
    state, verdict = v.bet_start((reps,)), np.zeros(reps, dtype=int)
    for _ in range(design.budget):
        state = v.bet_step(design, state, rng.beta(kappa * mean, kappa * (1 - mean), reps))
        fail = (verdict == 0) & (state.log_kf >= design.fail_bound)
        verdict[fail] = -1
        verdict[(verdict == 0) & (state.log_kp >= design.pass_bound)] = 1
        if (verdict != 0).all():
            break
    return verdict


def test_betting_min_score_error_rates() -> None:
    d = v.design_for("min_score", *DEFAULT, budget=1500)
    assert not d.calibrated and d.fail_bound == pytest.approx(math.log(20))
    reps = 2000
    at_threshold = simulate_betting(d, 0.80, reps, seed=21)
    at_bad = simulate_betting(d, 0.75, reps, seed=22)
    assert (at_threshold == -1).mean() <= 0.05 + sd_tol(0.05, reps)
    assert (at_bad == 1).mean() <= 0.05 + sd_tol(0.05, reps)
    assert (at_threshold == 1).mean() > 0.9 and (at_bad == -1).mean() > 0.9


def test_monitor_runs_the_same_betting_code() -> None:
    d = v.design_for("min_score", 0.8, 0.05, 0.05, 0.05, 400)
    rng = np.random.default_rng(8)
    xs = rng.beta(3.4, 0.6, (5, d.budget))
    state = v.bet_start((5,))
    monitors = [v.Monitor(d) for _ in range(5)]
    for t in range(30):
        state = v.bet_step(d, state, xs[:, t])
        for i, m in enumerate(monitors):
            if not m.closed:
                m.update(xs[i, t])
    for i, m in enumerate(monitors):
        if m.decided is None:
            assert m.log_evidence() == pytest.approx((state.log_kf[i], state.log_kp[i]))
    assert monitors[0].basis() == "betting test a=0.05, b=0.05"


def test_betting_monitor_can_end_inconclusive() -> None:
    m = v.Monitor(v.design_for("min_score", 0.8, 0.05, 0.05, 0.05, 10))
    for _ in range(10):
        assert m.update(0.78) is None
    assert m.finish() == "INCONCLUSIVE"


# ------------------------------------------------------------------ confidence sequences


def test_beta_binomial_cs_report_example() -> None:
    """STATISTICS.md §4: at 121/142 the CS is [0.736, 0.933]."""
    lo, hi = v.beta_binomial_cs(121, 142, 0.95)
    assert lo == pytest.approx(0.736, abs=0.001) and hi == pytest.approx(0.933, abs=0.001)


def test_beta_binomial_cs_ends_sit_on_the_boundary() -> None:
    for s, n in [(0, 5), (5, 5), (30, 50), (700, 1000)]:
        lo, hi = v.beta_binomial_cs(s, n, 0.9)
        for end in (lo, hi):
            if 0.0 < end < 1.0:
                assert float(v.beta_binomial_log_mixture(np.array(s), np.array(n), end)) == pytest.approx(
                    math.log(10), abs=1e-6
                )
        assert lo <= s / n <= hi
    assert v.beta_binomial_cs(0, 0, 0.95) == (0.0, 1.0)


def test_beta_binomial_cs_covers_uniformly_over_time() -> None:
    """P(the CS excludes 0.8 at some n <= 500) <= 0.05 for Bernoulli(0.8) streams."""
    rng = np.random.default_rng(13)
    reps, n = 2000, 500
    s = np.cumsum(rng.random((reps, n)) < 0.8, axis=1).astype(float)
    log_m = v.beta_binomial_log_mixture(s, np.arange(1, n + 1, dtype=float), 0.8)
    assert (log_m >= math.log(20)).any(axis=1).mean() <= 0.05 + sd_tol(0.05, reps)


def test_betting_cs_covers_uniformly_over_time_and_adapts() -> None:
    rng = np.random.default_rng(17)
    reps, n, mean = 1000, 400, 0.8
    x = rng.beta(4 * mean, 4 * (1 - mean), (reps, n))
    log_k = v.hedged_log_capital(x, np.array([[mean]]), 0.05, path=True)
    assert (log_k >= math.log(20)).any(axis=1).mean() <= 0.05 + sd_tol(0.05, reps)
    lo, hi = v.betting_cs(x[0], 0.95)
    assert lo < mean < hi
    assert hi - lo < 2 * v.normal_mixture_radius(n, 0.95, rho=n / 16)  # tighter than Hoeffding-type
    inner = v.hedged_log_capital(x[0], np.array([[lo + 1e-4], [hi - 1e-4]]), 0.05)
    assert np.all(inner < math.log(20))


def test_interval_picks_the_cs_by_data() -> None:
    m = v.Monitor(v.design_for("pass_rate", *DEFAULT, budget=1600))
    for x in [1.0, 0.0, 1.0, 1.0]:
        m.update(x)
    assert m.interval(0.95) == v.beta_binomial_cs(3, 4, 0.95)
    m.update(2 / 3)  # a case mean: no longer 0/1
    assert m.interval(0.95) == v.betting_cs([1.0, 0.0, 1.0, 1.0, 2 / 3], 0.95)
    with pytest.raises(ValueError):
        m.interval(1.0)


def test_fractional_units_keep_the_sprt_valid() -> None:
    """Case means through a pass_rate design: false-FAIL at the threshold stays <= alpha."""
    d = v.design_for("pass_rate", *DEFAULT, budget=939)
    rng = np.random.default_rng(29)
    reps = 1000
    rates = rng.beta(2.4, 0.6, (reps, d.budget))  # case pass rates: mean 0.8, sd 0.2
    units = rng.binomial(3, rates) / 3  # 3 epochs per case
    s = np.cumsum(units, axis=1)
    b = v.count_boundaries(d)
    hit_f, hit_p = s <= b.fail_max[1:], s >= b.pass_min[1:]
    first_f = np.where(hit_f.any(axis=1), hit_f.argmax(axis=1), d.budget)
    first_p = np.where(hit_p.any(axis=1), hit_p.argmax(axis=1), d.budget)
    assert (first_f < first_p).mean() <= 0.05 + sd_tol(0.05, reps)


# ------------------------------------------------------------------ max_regression


def test_regression_units_and_design() -> None:
    assert v.regression_unit(0.80, 0.85) == pytest.approx(0.475)
    assert v.to_difference(0.475) == pytest.approx(-0.05)
    assert v.unpaired_units([1.0, 0.0, 1.0], [1.0, 1.0]) == [0.5, 0.0]
    d = v.design_for("max_regression", 0.05, 0.05, 0.05, 0.05, 2000)
    assert (d.threshold, d.margin, d.bad, d.max_drop) == pytest.approx((0.5, 0.025, 0.475, 0.05))


@pytest.mark.parametrize(
    ("delta", "margin", "good_drop"), [(0.10, 0.05, 0.05), (0.05, 0.10, 0.0), (0.02, 0.05, 0.0), (0.20, 0.05, 0.15)]
)
def test_max_regression_uses_the_margin_as_its_indifference_zone(delta: float, margin: float, good_drop: float) -> None:
    """H_bad is a drop of delta, H_good a drop of delta - min(margin, delta): the zone is the margin."""
    d = v.design_for("max_regression", delta, margin, 0.05, 0.05, 2000)
    assert v.to_difference(d.bad) == pytest.approx(-delta) and d.max_drop == pytest.approx(delta)
    assert v.to_difference(d.threshold) == pytest.approx(-good_drop)


def test_max_regression_with_a_margin_holds_both_error_rates() -> None:
    """max_regression=0.10, margin 0.05: a 5pp drop FAILs at most alpha, a 10pp drop PASSes at most beta."""
    d = v.design_for("max_regression", 0.10, 0.05, 0.05, 0.05, 1500)
    reps = 600
    tolerated, _ = simulate_paired(d, 0.15, 0.05, reps, seed=41)
    dropped, _ = simulate_paired(d, 0.15, 0.10, reps, seed=42)
    assert (tolerated == -1).mean() <= 0.05 + sd_tol(0.05, reps)
    assert (dropped == 1).mean() <= 0.05 + sd_tol(0.05, reps)


def simulate_paired(design: v.Design, psi: float, drop: float, reps: int, seed: int) -> tuple[np.ndarray, float]:
    """Paired 0/1 cases with discordance psi and mean drop: d in {-1, 0, 1}, Y = (1 + d)/2."""
    rng = np.random.default_rng(seed)
    probs = [(psi + drop) / 2, 1 - psi, (psi - drop) / 2]  # d = -1, 0, +1
    state, verdict, used = v.bet_start((reps,)), np.zeros(reps, dtype=int), np.full(reps, design.budget)
    for t in range(design.budget):
        d = rng.choice(np.array([-1.0, 0.0, 1.0]), size=reps, p=probs)
        state = v.bet_step(design, state, (1 + d) / 2)
        newly = (verdict == 0) & ((state.log_kf >= design.fail_bound) | (state.log_kp >= design.pass_bound))
        verdict[newly & (state.log_kf >= design.fail_bound)] = -1
        verdict[newly & (state.log_kf < design.fail_bound)] = 1
        used[newly] = t + 1
        if (verdict != 0).all():
            break
    return verdict, float(used.mean())


def test_max_regression_error_rates() -> None:
    """Table 10: psi = 0.10, plug-in bet: false-FAIL ~0.018 with no drop, false-PASS ~0.025 at a 5pp drop."""
    d = v.design_for("max_regression", 0.05, 0.05, 0.05, 0.05, 1500)
    reps = 1000
    same, n_same = simulate_paired(d, 0.10, 0.0, reps, seed=31)
    dropped, _ = simulate_paired(d, 0.10, 0.05, reps, seed=32)
    assert (same == -1).mean() <= 0.05 + sd_tol(0.05, reps)
    assert (dropped == 1).mean() <= 0.05 + sd_tol(0.05, reps)
    assert n_same < 428  # fixed-n paired (Connor) size for psi = 0.10


def test_min_detectable_drop() -> None:
    z = 1.6448536269514722 * 2
    assert v.min_detectable_drop(100, 0.5, 0.05, 0.05, paired=False) == pytest.approx(z * 0.5 * math.sqrt(0.02))
    assert v.min_detectable_drop(100, 0.3, 0.05, 0.05, paired=True) == pytest.approx(z * 0.03)
    with pytest.raises(ValueError):
        v.min_detectable_drop(0, 0.3, 0.05, 0.05, paired=True)


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize(("n", "sd", "alpha", "beta"), [(300, 0.36, 0.05, 0.05), (40, 0.1, 0.0025, 0.2)])
def test_the_stdlib_detectable_drop_matches_scipy_quantiles(
    n: int, sd: float, alpha: float, beta: float, paired: bool
) -> None:
    """One copy (evals.criteria, stdlib only) serves the baseline CLI and the runner."""
    z = float(stats.norm.ppf(1 - alpha) + stats.norm.ppf(1 - beta))
    expected = z * sd * math.sqrt((1.0 if paired else 2.0) / n)
    assert math.isclose(v.min_detectable_drop(n, sd, alpha, beta, paired=paired), expected, rel_tol=1e-9)


# ------------------------------------------------------------------ families


def test_family_alpha() -> None:
    assert v.family_alpha(0.05, 20, "bonferroni") == pytest.approx(0.0025)
    assert v.family_alpha(0.05, 20, "sidak") == pytest.approx(0.002561, abs=1e-6)
    assert v.family_alpha(0.05, 20, "none") == 0.05
    assert v.family_alpha(0.05, 1, "sidak") == pytest.approx(0.05)
    with pytest.raises(ValueError):
        v.family_alpha(0.05, 0, "bonferroni")
    with pytest.raises(ValueError):
        v.family_alpha(0.05, 3, "holm")  # type: ignore[arg-type]


def test_holm_and_bh_hand_computed() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted .005 .01 .03 .04 -> x4 x3 x2 x1 = .02 .03 .06 .04 -> running max .02 .03 .06 .06
    assert v.holm(ps) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p m / i = .02 .02 .04 .04 -> running min from the top: .02 .02 .04 .04
    assert v.bh(ps) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert v.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert v.holm([]) == [] and v.bh([]) == []


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("pass_rate", 0.8, 0.9, 0.05, 0.05, 100), "margin"),
        (("pass_rate", 0.8, 0.05, 0.0, 0.05, 100), "alpha"),
        (("pass_rate", 0.8, 0.05, 0.05, 0.05, 0), "budget"),
        (("accuracy", 0.8, 0.05, 0.05, 0.05, 100), "criterion"),
        (("max_regression", 1.5, 0.05, 0.05, 0.05, 100), "max_regression"),
    ],
)
def test_design_for_rejects_bad_arguments(args: tuple, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=match):
        v.design_for(*args)


def test_threshold_one_is_kept_inside_the_unit_interval() -> None:
    m = v.Monitor(v.design_for("pass_rate", 1.0, 0.05, 0.05, 0.05, 500))
    assert m.update(0.0) == "FAIL"  # one failure refutes p = 1
    m = v.Monitor(v.design_for("pass_rate", 1.0, 0.05, 0.05, 0.05, 500))
    verdict = None
    while verdict is None:
        verdict = m.update(1.0)
    assert verdict == "PASS" and m.n < 100  # ln(19)/ln(1/0.95) = 57 successes for Wald's bound


def test_designs_are_cached_and_hashable() -> None:
    a = v.design_for("pass_rate", *DEFAULT, budget=939)
    assert v.design_for("pass_rate", 0.8000000000001, 0.05, 0.05, 0.05, 939) is a
    assert hash(a) == hash(v.Design(**{f: getattr(a, f) for f in a.__dataclass_fields__}))


def test_betaln_is_the_scipy_one() -> None:
    assert float(v.beta_binomial_log_mixture(np.array(0.0), np.array(0.0), 0.3)) == pytest.approx(special.betaln(1, 1))


def test_pass_rate_on_cases_uses_the_betting_test() -> None:
    d = v.design_for("pass_rate", *DEFAULT, budget=500, cases=True)
    assert (d.criterion, d.method, d.calibrated) == ("pass_rate", "betting", False)
    m = v.Monitor(d)
    assert m.basis().startswith("betting test")
    with pytest.raises(ValueError, match="SPRT"):
        v.exact_oc(d, 0.8)
    assert v.design_for("min_score", *DEFAULT, budget=500, cases=True).method == "betting"
    assert v.design_for("pass_rate", *DEFAULT, budget=500).method == "sprt"
