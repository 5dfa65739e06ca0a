"""Seeds, verdicts and n pinned across every trial driver (issue 19, item 3).

The runner may get faster, never different: for fixed seeds each run below (sync inline,
threads, a timeout, async at several concurrencies, cases with epochs, error trials, scores)
must settle the same way after the same units, with the same seeds and outcomes in its
consumed prefix, as ``trials.run_trials`` did when these figures were recorded (main at
9d91481). The feed is a fixed stopping rule of this test (not ``verdicts``, so a change in
the statistics does not move these pins); the body's outcome is a function of
``trial.seed`` (and the case), so a change in the seeds, in the order units are fed or in
which trials count changes the digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from typing import Any

import pytest

from pytest_rollout.evals.error_budget import ErrorRateTest
from pytest_rollout.evals.markers import Case
from pytest_rollout.evals.trials import RunResult, Trial, run_trials

CASES = [Case(id=f"q{i}", value={"k": i}) for i in range(40)]


def _good(trial: Trial, rate: float) -> bool:
    k = trial.case["k"] if trial.case is not None else 0
    return ((trial.seed + 7 * k) % 1000) / 1000 < rate


def sync_body(trial: Trial) -> None:
    assert _good(trial, 0.8)


def flaky_body(trial: Trial) -> None:
    if trial.seed % 11 == 0:
        raise TimeoutError("slow backend")
    assert _good(trial, 0.8)


def scored_body(trial: Trial) -> None:
    trial.score((trial.seed % 100) / 100)


async def async_body(trial: Trial) -> None:
    await asyncio.sleep((trial.seed % 5) / 20000)
    assert _good(trial, 0.8)


def _stopping_rule(passes: int, fails: int) -> Any:
    """Settle PASS after ``passes`` units >= 0.5, FAIL after ``fails`` below (a stand-in for a verdict)."""
    seen = {"hi": 0, "lo": 0}

    def feed_unit(index: int, value: float) -> str | None:
        seen["hi" if value >= 0.5 else "lo"] += 1
        if seen["lo"] >= fails:
            return "FAIL"
        return "PASS" if seen["hi"] >= passes else None

    return feed_unit


RUNS: dict[str, dict[str, Any]] = {
    "inline": {"call": sync_body, "is_async": False, "concurrency": 1, "timeout": None},
    "inline, settles FAIL": {"call": sync_body, "is_async": False, "concurrency": 1, "timeout": None, "fails": 8},
    "threads": {"call": sync_body, "is_async": False, "concurrency": 8, "timeout": None},
    "thread, timeout": {"call": sync_body, "is_async": False, "concurrency": 1, "timeout": 30.0},
    "async serial": {"call": async_body, "is_async": True, "concurrency": 1, "timeout": None},
    "async wide": {"call": async_body, "is_async": True, "concurrency": 16, "timeout": None},
    "async, timeout": {"call": async_body, "is_async": True, "concurrency": 4, "timeout": 30.0},
    "cases x 3 epochs": {
        "call": scored_body,
        "is_async": False,
        "concurrency": 1,
        "timeout": None,
        "cases": True,
        "passes": 15,
    },
    "cases, threads": {
        "call": scored_body,
        "is_async": False,
        "concurrency": 6,
        "timeout": None,
        "cases": True,
        "passes": 15,
    },
    "error trials": {"call": flaky_body, "is_async": False, "concurrency": 4, "timeout": None, "errors": True},
    "never settles": {
        "call": sync_body,
        "is_async": False,
        "concurrency": 1,
        "timeout": None,
        "passes": 10**6,
        "fails": 10**6,
    },
}

#: run -> (settled, units_used, completed, errors, stopped_early, aborted, digest of the consumed prefix)
PINNED: dict[str, tuple[Any, ...]] = {
    "async serial": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
    "async wide": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
    "async, timeout": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
    "cases x 3 epochs": ("PASS", 25, 75, 0, True, False, "bcfdd29982bc4ae2"),
    "cases, threads": ("PASS", 25, 75, 0, True, False, "bcfdd29982bc4ae2"),
    "error trials": ("PASS", 70, 78, 8, True, False, "d3daf92d1ef16dce"),
    "inline": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
    "inline, settles FAIL": ("FAIL", 50, 50, 0, True, False, "f26b76226ef6eb54"),
    "never settles": (None, 200, 200, 0, False, False, "17a73ef1f893be15"),
    "thread, timeout": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
    "threads": ("PASS", 72, 72, 0, True, False, "2187c05a34d285cd"),
}


def _run(spec: dict[str, Any]) -> RunResult:
    cases = spec.get("cases", False)
    return run_trials(
        spec["call"],
        is_async=spec["is_async"],
        budget_trials=120 if cases else 200,
        session_seed=19,
        nodeid="test_pins.py::test_eval",
        cases=CASES if cases else None,
        epochs=3 if cases else 1,
        concurrency=spec["concurrency"],
        timeout=spec["timeout"],
        max_error_rate=0.2 if spec.get("errors") else 0.1,
        feed_unit=_stopping_rule(spec.get("passes", 60), spec.get("fails", 30)),
        error_alpha=0.01,
    )


def _pin(result: RunResult) -> tuple[Any, ...]:
    used = [(r.index, r.case_id, r.epoch, r.seed, r.outcome, r.score) for r in result.records if r.used]
    digest = hashlib.sha256(json.dumps(used).encode()).hexdigest()[:16]
    return (
        result.settled,
        result.units_used,
        result.completed,
        result.errors,
        result.stopped_early,
        result.aborted_for_errors,
        digest,
    )


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_driver_gives_the_pinned_verdict_n_and_seeds(name: str) -> None:
    got = _pin(_run(RUNS[name]))
    assert got == PINNED[name], f"{name!r}: {got!r}"


def _reference_error_test(max_rate: float, alpha: float, errors: list[bool]) -> list[bool]:
    """ErrorRateTest as first written: the mixture recomputed after every trial."""
    thetas = [max_rate + (1.0 - max_rate) * 2.0**-j for j in range(1, 13)]
    up = [math.log(t / max_rate) if max_rate > 0 else math.inf for t in thetas]
    down = [math.log1p(-t) - math.log1p(-max_rate) for t in thetas]
    logs, decided, out = [0.0] * 12, False, []
    for error in errors:
        if not decided:
            logs = [a + b for a, b in zip(logs, up if error else down, strict=True)]
            top = max(logs)
            decided = top == math.inf or top + math.log(sum(math.exp(v - top) for v in logs) / 12) >= math.log(
                1 / alpha
            )
        out.append(decided)
    return out


@pytest.mark.parametrize("max_rate", [0.0, 0.02, 0.1, 0.3])
def test_the_error_rate_test_decides_as_it_did_when_it_skips_passing_trials(max_rate: float) -> None:
    rng = random.Random(int(max_rate * 1000))
    for _ in range(200):
        share = rng.choice([max_rate / 2, max_rate, 1.5 * max_rate + 0.01, 3 * max_rate + 0.02])
        errors = [rng.random() < share for _ in range(rng.randint(1, 400))]
        alpha = rng.choice([0.001, 0.01, 0.05])
        test = ErrorRateTest(max_rate, alpha)
        assert [test.update(e) for e in errors] == _reference_error_test(max_rate, alpha, errors)
