"""The statistical guarantees as users run evals (issue 13): case order, unpaired baselines,
error trials, exceptions as failures, and numbers that agree with the verdict.

Seeded simulations through ``runner.run_eval`` (the plugin's own path, real trials and real
statistics); tolerances are binomial bounds that hold for the fixed seeds and far beyond.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from pytest_rollout.baselines.store import Baseline
from pytest_rollout.errors import MarkerError
from pytest_rollout.evals import trials, verdicts
from pytest_rollout.evals.error_budget import ErrorRateTest
from pytest_rollout.evals.markers import DEFAULT_ERRORS, parse_eval_marker
from pytest_rollout.evals.runner import EvalOptions, run_eval

NODEID = "test_x.py::test_eval"


def spec(**kwargs: Any) -> Any:
    return parse_eval_marker((), kwargs, where=NODEID)


def baseline(case_means: dict[str, float] | None = None, values: list[float] | None = None) -> Baseline:
    cm = case_means or {}
    vals = values if values is not None else list(cm.values())
    return Baseline(1, "a" * 40, NODEID, "pass_rate", None, None, len(vals), cm, vals, 1, len(vals), 0.05, 0.05)


def run(body: Any, s: Any, seed: int, base: Baseline | None = None) -> Any:
    return run_eval(body, s, nodeid=NODEID, layers=(), opts=EvalOptions(seed=seed, baseline=base), is_async=False)


def test_cases_run_in_one_seeded_order_whatever_the_baseline_knows() -> None:
    """Before: the baseline's cases ran first, so an absolute criterion sampled them first."""
    cases = [{"id": f"c{i:03d}"} for i in range(60)]
    s = spec(trials=60, pass_rate=0.5, margin=0.2, cases=cases, max_regression=0.2)
    known = baseline({f"c{i:03d}": 1.0 for i in range(40, 60)})
    seen: list[str] = []

    def body(trial: trials.Trial) -> None:
        seen.append(trial.case_id or "")

    run(body, s, 5, known)
    expected = [c.id for c in trials.case_order(s.cases, 5, NODEID)]
    assert seen == expected[: len(seen)] and len(seen) >= 10


def test_grown_case_set_keeps_the_absolute_criterion_calibrated() -> None:
    """700 old cases at 0.77 (in the baseline), 300 new at 0.87: the true mean is 0.80, the
    threshold. Before the fix the pass_rate criterion FAILed 7 of these 40 runs."""
    rng = random.Random(11)
    rates = {f"c{i:04d}": (0.77 if i < 700 else 0.87) for i in range(1000)}
    cases = [{"id": cid} for cid in rates]
    known = baseline({cid: r for cid, r in rates.items() if r < 0.8})
    s = spec(trials=1000, pass_rate=0.80, margin=0.05, cases=cases, max_regression=0.05)
    fails = 0
    for seed in range(40):
        outcome = {cid: rng.random() < r for cid, r in rates.items()}

        def body(trial: trials.Trial, outcome: dict[str, bool] = outcome) -> None:
            assert outcome[trial.case_id or ""]

        result = run(body, s, seed, known).result
        fails += (result.criteria or {}).get("pass_rate") == "FAIL"
    assert fails <= 3  # alpha = 0.025 per criterion; these seeds give 0 (before the fix: 7 of 40)


def test_unpaired_comparison_with_a_cases_baseline_is_not_in_blocks() -> None:
    """A baseline recorded with cases= stores its values per case, all 1s first: index pairing
    compared the candidate's first trials with them and FAILed a model that did not change."""
    stored = [1.0] * 700 + [0.0] * 300
    s = spec(trials=1000, max_regression=0.1)
    fails = 0
    for seed in range(20):

        def body(trial: trials.Trial) -> None:
            assert random.Random(trial.seed).random() < 0.7

        fails += run(body, s, seed, baseline({f"k{i}": 0.7 for i in range(3)}, stored)).result.verdict == "FAIL"
    assert fails <= 4
    draws = verdicts.baseline_draws(stored, 3)
    assert draws != stored and abs(np.mean(draws) - 0.7) < 0.05


def test_error_trials_do_not_eat_the_budget() -> None:
    """5% timeouts under a calibrated design: the budget counts outcomes, so never INCONCLUSIVE."""
    s = spec(trials=260, pass_rate=0.80, margin=0.10)
    assert s.units_budget >= verdicts.minimum_budget("pass_rate", 0.8, 0.1, 0.05, 0.05)  # type: ignore[operator]

    def body(trial: trials.Trial) -> None:
        r = random.Random(trial.seed)
        if r.random() < 0.05:
            raise TimeoutError("slow provider")
        assert r.random() < 0.78

    verdict_set = {run(body, s, seed).result.verdict for seed in range(25)}
    assert verdict_set <= {"PASS", "FAIL"}


def test_error_verdict_needs_evidence_above_the_rate() -> None:
    """8% errors under max_error_rate=0.1: an observed share above 0.1 is not ERROR (before: ~10%)."""
    s = spec(trials=400, pass_rate=0.80, margin=0.10, max_error_rate=0.1)

    def body(trial: trials.Trial) -> None:
        r = random.Random(trial.seed)
        if r.random() < 0.08:
            raise ConnectionError("reset")
        assert r.random() < 0.85

    assert sum(run(body, s, seed).result.verdict == "ERROR" for seed in range(30)) <= 2

    def broken(trial: trials.Trial) -> None:
        raise ConnectionError("down")

    result = run(broken, s, 1).result
    assert result.verdict == "ERROR" and result.n < 40


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3])
def test_error_rate_test_is_valid_at_the_limit(rate: float) -> None:
    rng = np.random.default_rng(7)
    reps, n, alpha = 400, 1500, 0.05
    hits = 0
    for _ in range(reps):
        t = ErrorRateTest(rate, alpha)
        hits += any(t.update(bool(e)) for e in rng.random(n) < rate)
    assert hits / reps <= alpha + 3 * (alpha * (1 - alpha) / reps) ** 0.5
    t = ErrorRateTest(rate, alpha)
    assert any(t.update(bool(e)) for e in rng.random(n) < rate + 0.2)


def test_exceptions_are_failures_unless_named() -> None:
    """A JSON parse error of the model's output is a failed trial, not an error trial."""

    def body(trial: trials.Trial) -> None:
        if random.Random(trial.seed).random() < 0.25:
            raise ValueError("Expecting value: line 1 column 1 (char 0)")

    result = run(body, spec(trials=939, pass_rate=0.80, margin=0.05), 3).result
    assert result.verdict == "FAIL" and result.errors == 0 and result.failures > 0
    assert "ValueError: Expecting value" in result.failing_trials[0]
    named = run(body, spec(trials=300, pass_rate=0.80, margin=0.05, errors=(ValueError,)), 3).result
    assert named.failures == 0 and named.errors > 0
    assert TimeoutError in DEFAULT_ERRORS and ConnectionRefusedError.__mro__[1] in DEFAULT_ERRORS
    with pytest.raises(MarkerError, match="errors= takes exception classes"):
        spec(trials=10, pass_rate=0.8, errors=("TimeoutError",))


def _agree(design: verdicts.Design, draw: Any, reps: int, seed: int) -> tuple[int, int]:
    """(checked decisions, disagreements): FAIL needs p <= alpha and U <= threshold, PASS L >= bad."""
    rng = np.random.default_rng(seed)
    decided = bad = 0
    for _ in range(reps):
        m = verdicts.Monitor(design)
        while not m.closed and m.update(float(draw(rng))) is None:
            pass
        lo, hi = m.bounds()
        if m.finish() == "FAIL":
            decided += 1
            bad += not (m.p_value() <= design.alpha and hi <= design.threshold)
        elif m.finish() == "PASS":
            decided += 1
            bad += not (m.p_value() > design.alpha and lo >= design.bad and hi >= design.threshold)
        else:
            bad += not (m.p_value() > design.alpha and lo <= design.bad and hi >= design.threshold)
    return decided, bad


@pytest.mark.parametrize(
    ("criterion", "budget", "mean"),
    [("pass_rate", 939, 0.78), ("pass_rate", 200, 0.76), ("min_score", 2000, 0.77), ("max_regression", 1500, 0.48)],
)
def test_printed_numbers_agree_with_the_verdict(criterion: str, budget: int, mean: float) -> None:
    threshold = 0.05 if criterion == "max_regression" else 0.80
    design = verdicts.design_for(criterion, threshold, 0.05, 0.05, 0.05, budget)
    if criterion == "min_score":
        draw = lambda rng: rng.beta(4 * mean, 4 * (1 - mean))  # noqa: E731
    elif criterion == "max_regression":
        probs = [0.1 + (0.5 - mean), 0.8, 0.1 - (0.5 - mean)]  # Y in {0, 1/2, 1} with E[Y] = mean
        draw = lambda rng: rng.choice([0.0, 0.5, 1.0], p=probs)  # noqa: E731
    else:
        draw = lambda rng: float(rng.random() < mean)  # noqa: E731
    decided, bad = _agree(design, draw, 40, 1)
    assert decided >= 10 and bad == 0
