"""The runner's fast paths (issue 19, item 3) against what they replace.

Each shortcut of the trial loop is checked against the computation it stands for: the seeder
against ``trial_seed``, the error-rate test's counted passing trials against feeding them one
by one, a consumed record's ``used`` against "its index lies before the frontier", and the
async driver's fixed workers (no task per trial) against the order-independent verdict.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import sys
from typing import Any

import pytest

from pytest_rollout.evals.error_budget import ErrorRateTest
from pytest_rollout.evals.markers import Case
from pytest_rollout.evals.seeds import trial_seed, trial_seeder
from pytest_rollout.evals.trials import RunResult, Trial, run_trials

NODEID = "evals/test_x.py::test_é"  # a non-ASCII node id: the seeder hashes the same UTF-8 bytes


@pytest.mark.parametrize("session_seed", [0, 7, 2**63 - 1])
def test_the_seeder_gives_trial_seed_for_every_index(session_seed: int) -> None:
    seed = trial_seeder(session_seed, NODEID)
    indexes = [*range(200), 10**6, 2**40]
    assert [seed(i) for i in indexes] == [trial_seed(session_seed, NODEID, i) for i in indexes]


@pytest.mark.parametrize("max_rate", [0.0, 0.05, 0.2])
def test_counting_passes_in_pending_decides_as_updating_each(max_rate: float) -> None:
    """The ledger adds a passing trial with ``pending += 1``; the log terms and decisions match
    ``update(False)`` trial by trial, float for float."""
    rng = random.Random(3)
    for _ in range(100):
        errors = [rng.random() < 2 * max_rate + 0.01 for _ in range(rng.randint(1, 300))]
        one_by_one, counted = ErrorRateTest(max_rate, 0.01), ErrorRateTest(max_rate, 0.01)
        for error in errors:
            expected = one_by_one.update(error)
            if error or counted.decided:
                assert counted.update(error) == expected
            else:
                counted.pending += 1
                assert not expected
        one_by_one.update(True), counted.update(True)  # folds the pending trials in
        assert counted._log == one_by_one._log and counted.decided == one_by_one.decided


def _run(call: Any, is_async: bool, concurrency: int, cases: bool = False, **kwargs: Any) -> RunResult:
    return run_trials(
        call, is_async=is_async, budget_trials=90 if cases else 150, session_seed=5, nodeid=NODEID,
        cases=[Case(f"c{i}", i) for i in range(30)] if cases else None, epochs=3 if cases else 1,
        concurrency=concurrency, timeout=kwargs.pop("timeout", None), max_error_rate=0.2,
        feed_unit=kwargs.pop("feed_unit", lambda i, x: None), error_alpha=0.01, **kwargs,
    )  # fmt: skip


def _flaky(trial: Trial) -> None:
    if trial.seed % 7 == 0:
        raise ConnectionError("dropped")
    assert trial.seed % 3


async def _flaky_async(trial: Trial) -> None:
    await asyncio.sleep((trial.seed % 4) / 10000)
    _flaky(trial)


@pytest.mark.parametrize(("is_async", "concurrency", "cases"), [(False, 1, False), (True, 1, False), (True, 8, True)])
def test_used_is_exactly_the_consumed_prefix(is_async: bool, concurrency: int, cases: bool) -> None:
    seen: list[int] = []

    def feed_unit(index: int, value: float) -> str | None:
        seen.append(index)
        return "PASS" if len(seen) == 20 else None

    result = _run(_flaky_async if is_async else _flaky, is_async, concurrency, cases, feed_unit=feed_unit)
    frontier = max(r.index for r in result.records if r.used) + 1
    assert [r.index for r in result.records] == sorted({r.index for r in result.records})
    assert all(r.used == (r.index < frontier) for r in result.records)
    assert result.settled == "PASS" and result.completed == frontier and result.errors > 0


@pytest.mark.parametrize("concurrency", [2, 8, 32])
def test_async_workers_give_the_serial_verdict_n_and_records(concurrency: int) -> None:
    """Errors extend the budget (the error test), so workers that ran out of trials must be
    replaced when an all-error unit frees one more: the consumed prefix is the serial one."""

    def used(result: RunResult) -> list[tuple[Any, ...]]:
        return [(r.index, r.seed, r.outcome, r.score) for r in result.records if r.used]

    serial, wide = _run(_flaky_async, True, 1), _run(_flaky_async, True, concurrency)
    assert used(wide) == used(serial) and wide.errors == serial.errors > 0
    assert (wide.units_used, wide.settled, wide.completed) == (serial.units_used, serial.settled, serial.completed)


_VAR: contextvars.ContextVar[int] = contextvars.ContextVar("_VAR", default=0)


@pytest.mark.parametrize(("concurrency", "timeout"), [(1, None), (4, None), (1, 30.0), (4, 30.0)])
def test_each_async_trial_runs_in_a_context_of_its_own(concurrency: int, timeout: float | None) -> None:
    """A trial's ContextVars (tracing spans, log bindings) never reach the next trial, nor the test
    after the eval, with or without a timeout (a task per trial, as pytest-asyncio gives a test)."""

    async def body(trial: Trial) -> None:
        seen = _VAR.get()
        _VAR.set(seen + 1)
        await asyncio.sleep(0)
        assert seen == 0, f"trial {trial.index} saw {seen}"

    after: list[int] = []

    def on_loop(make: Any) -> None:
        async def main() -> None:
            await make()
            after.append(_VAR.get())

        asyncio.run(main())

    result = _run(body, True, concurrency, timeout=timeout, on_loop=on_loop)
    assert len(result.records) == 150 and all(r.outcome == "pass" for r in result.records)
    assert after == [0]


NEEDS_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling and asyncio.timeout: Python 3.11+")


@NEEDS_311
@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_body_that_swallows_its_cancellation_stops_the_eval(concurrency: int) -> None:
    """A library that swallows a cancellation without ``uncancel()`` leaves the request standing:
    the eval stops there (fail closed) rather than running on as if never cancelled."""

    async def body(trial: Trial) -> None:
        if trial.index == 0:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass

    with pytest.raises(asyncio.CancelledError):
        _run(body, True, concurrency)


@NEEDS_311
@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_timeout_inside_a_body_is_that_trial_s_error(concurrency: int) -> None:
    """``asyncio.timeout`` cancels the running task and uncancels it: it works inside a trial."""

    async def body(trial: Trial) -> None:
        if trial.index % 10 == 0:
            async with asyncio.timeout(0.001):
                await asyncio.sleep(1)

    result = _run(body, True, concurrency)
    assert result.errors > 0 and {r.error_kind for r in result.records if r.outcome == "error"} == {"TimeoutError"}


def test_a_cancelled_serial_eval_records_its_trial_and_raises() -> None:
    """concurrency=1: cancelling the eval cancels the trial it awaits."""
    started = asyncio.Event()

    async def body(trial: Trial) -> None:
        started.set()
        await asyncio.Event().wait()

    seen: list[RunResult] = []

    async def main() -> None:
        from pytest_rollout.evals import drivers, ledger

        run = ledger.Ledger(None, 1, 10, (1, NODEID), lambda i, x: None, None, 0.5)
        task = asyncio.ensure_future(drivers.drive_async(run, body, 1, None))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen.append(run.result())

    asyncio.run(main())
    assert [(r.index, r.error_kind, r.used) for r in seen[0].records] == [(0, "Cancelled", False)]


@pytest.mark.parametrize("criterion", ["pass_rate", "min_score"])
def test_the_absolute_feed_answers_as_the_rule_over_every_criterion(criterion: str) -> None:
    """The absolute criterion alone: the feed returns the monitor's own decision, which is what
    the general rule (FAIL if any FAIL, PASS if all PASS) gives for one monitor."""
    from pytest_rollout.evals import verdicts
    from pytest_rollout.evals.criteria import feeder

    rng = random.Random(11)
    design = verdicts.design_for(criterion, 0.8, 0.1, 0.05, 0.1, 400)  # type: ignore[arg-type]
    for _ in range(20):
        fast, reference = verdicts.Monitor(design), verdicts.Monitor(design)
        feed, mean = feeder(fast, None), rng.choice([0.65, 0.75, 0.85])
        for i in range(400):
            x = float(rng.random() < mean) if criterion == "pass_rate" else min(1.0, max(0.0, rng.gauss(mean, 0.2)))
            reference.update(x)
            state = reference.decided
            assert feed(i, x) == ("FAIL" if state == "FAIL" else "PASS" if state == "PASS" else None)
            if state is not None:
                break
        assert (fast.n, fast.decided) == (reference.n, reference.decided)
