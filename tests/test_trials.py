"""``trials``: ordering, budgets, early stops, errors, timeouts, threads and asyncio (no pytester)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from pytest_rollout.evals.markers import Case
from pytest_rollout.evals.trials import RunResult, Trial, case_order, run_trials, trial_seed

NODEID = "evals/test_x.py::test_a"


class Recorder:
    """A ``feed`` that remembers what it was fed and settles on a rule of the caller's."""

    def __init__(self, settle: Callable[[list[float]], str | bool | None] = lambda values: None) -> None:
        self.values: list[float] = []
        self._settle = settle

    def __call__(self, value: float) -> str | bool | None:
        self.values.append(value)
        return self._settle(self.values)


def run(
    call: Callable[[Trial], Any],
    feed: Callable[[float], str | bool | None] | None = None,
    *,
    is_async: bool = False,
    budget_trials: int = 10,
    session_seed: int = 42,
    cases: Sequence[Case] | None = None,
    epochs: int = 1,
    concurrency: int = 1,
    timeout: float | None = None,
    max_error_rate: float = 0.5,
) -> RunResult:
    return run_trials(
        call,
        is_async=is_async,
        budget_trials=budget_trials,
        session_seed=session_seed,
        nodeid=NODEID,
        cases=cases,
        epochs=epochs,
        concurrency=concurrency,
        timeout=timeout,
        max_error_rate=max_error_rate,
        feed=feed or Recorder(),
    )


def passes(trial: Trial) -> None:
    pass


def after(n: int, verdict: str | bool = "PASS") -> Callable[[list[float]], str | bool | None]:
    return lambda values: verdict if len(values) >= n else None


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets abandoned (timed-out) worker threads finish when the test ends."""
    event = threading.Event()
    yield event
    event.set()


# ---------------------------------------------------------------- seeds and order


def test_trial_seed_is_pinned() -> None:
    """A changed derivation would silently change every replayed trial: pin one value."""
    assert trial_seed(42, NODEID, 0) == 705013871
    assert trial_seed(42, NODEID, 1) == 2839148977
    assert trial_seed(0, "a", 0) == 1245673653


def test_trial_seed_ignores_pythonhashseed() -> None:
    code = f"from pytest_rollout.evals.trials import trial_seed; print(trial_seed(42, {NODEID!r}, 0))"
    for hashseed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "705013871"


def test_trial_seeds_are_32_bit_and_differ() -> None:
    seeds = {trial_seed(s, n, i) for s in (0, 1, -5) for n in ("a", "b::c") for i in range(50)}
    assert len(seeds) == 300
    assert all(0 <= seed < 2**32 for seed in seeds)


def test_case_order_is_seeded_and_pinned() -> None:
    cases = [Case(str(i), i) for i in range(8)]
    order = case_order(cases, 42, NODEID)
    assert [c.id for c in order] == ["6", "3", "2", "1", "5", "4", "7", "0"]
    assert case_order(cases, 42, NODEID) == order
    assert case_order(list(reversed(cases)), 42, NODEID) == order  # input order does not matter
    assert case_order(cases, 43, NODEID) != order
    assert case_order(cases, 42, NODEID + "x") != order
    assert cases == [Case(str(i), i) for i in range(8)]  # not shuffled in place


def test_trials_carry_their_seed() -> None:
    seen: list[tuple[int, int]] = []
    run(lambda t: seen.append((t.index, t.seed)), budget_trials=3)
    assert seen == [(i, trial_seed(42, NODEID, i)) for i in range(3)]


# ---------------------------------------------------------------- budget, stop, ordering


def test_budget_is_respected_when_never_settled() -> None:
    feed = Recorder()
    result = run(passes, feed, budget_trials=7)
    assert [r.index for r in result.records] == list(range(7))
    assert feed.values == [1.0] * 7
    assert (result.units_used, result.settled, result.stopped_early, result.errors) == (7, None, False, 0)
    assert all(r.used for r in result.records)
    assert result.completed == 7


def test_budget_is_respected_with_concurrency() -> None:
    started: list[int] = []
    result = run(lambda t: started.append(t.index), budget_trials=13, concurrency=4)
    assert sorted(started) == list(range(13))
    assert result.units_used == 13


def test_early_stop_when_feed_settles() -> None:
    feed = Recorder(after(5, "PASS"))
    result = run(passes, feed, budget_trials=100)
    assert len(result.records) == 5
    assert (result.units_used, result.settled, result.stopped_early) == (5, "PASS", True)


def test_feed_returning_true_also_stops() -> None:
    result = run(passes, Recorder(after(2, True)), budget_trials=10)
    assert (result.units_used, result.settled, result.stopped_early) == (2, "SETTLED", True)


def test_settling_on_the_last_unit_is_not_an_early_stop() -> None:
    result = run(passes, Recorder(after(4, "FAIL")), budget_trials=4)
    assert (result.settled, result.stopped_early) == ("FAIL", False)


def test_outcomes_and_scores() -> None:
    def body(trial: Trial) -> None:
        if trial.index == 1:
            raise AssertionError("wrong answer\nmore detail")
        if trial.index == 2:
            trial.score(0.25)
        if trial.index == 3:
            trial.score(0.75)
            assert trial.index == 0, "graded but failed"

    feed = Recorder()
    records = run(body, feed, budget_trials=4).records
    assert [(r.outcome, r.score) for r in records] == [("pass", 1.0), ("fail", 0.0), ("pass", 0.25), ("fail", 0.75)]
    assert records[1].message == "wrong answer"
    assert records[3].message == "graded but failed"
    assert records[0].message is None
    assert records[0].error_kind is None
    assert feed.values == [1.0, 0.0, 0.25, 0.75]


@pytest.mark.parametrize(
    ("value", "kind"), [(1.5, "ValueError"), (-0.1, "ValueError"), (float("nan"), "ValueError"), ("high", "TypeError")]
)
def test_bad_scores_make_error_trials(value: Any, kind: str) -> None:
    feed = Recorder()
    result = run(lambda t: t.score(value), feed, budget_trials=2, max_error_rate=0.9)
    assert [(r.outcome, r.score, r.error_kind) for r in result.records] == [("error", None, kind)] * 2
    assert feed.values == []


def test_messages_are_redacted_before_truncation() -> None:
    key = "AIzaSyA1234567890abcdefghijklmnopqrstuv"

    def body(trial: Trial) -> None:
        raise RuntimeError(f"GET https://x/v1?key={key} failed, token=supersecretvalue")

    message = run(body, budget_trials=1, max_error_rate=1.0).records[0].message
    assert message is not None
    assert key not in message and "AIza" not in message and "supersecretvalue" not in message
    assert message == "GET https://x/v1?key=*** failed, token=***"
    # A secret cut in half by the 300-character limit would no longer look like one.
    long_message = run(lambda t: _raise(AssertionError("x" * 280 + " " + key)), budget_trials=1).records[0].message
    assert long_message is not None and "AIza" not in long_message


def _raise(exc: Exception) -> None:
    raise exc


def test_messages_are_one_line_and_truncated() -> None:
    def body(trial: Trial) -> None:
        raise AssertionError("x" * 1000 + "\nsecond line")

    message = run(body, budget_trials=1).records[0].message
    assert message is not None
    assert len(message) == 300
    assert message.endswith("…")


def test_inflight_trials_are_recorded_but_not_used() -> None:
    def body(trial: Trial) -> None:
        time.sleep(0 if trial.index == 0 else 0.05)

    feed = Recorder(after(1))
    result = run(body, feed, budget_trials=50, concurrency=4)
    assert [r.index for r in result.records] == [0, 1, 2, 3]  # nothing new started after the stop
    assert [r.used for r in result.records] == [True, False, False, False]
    assert all(r.outcome == "pass" and r.duration >= 0.04 for r in result.records[1:])  # awaited, not dropped
    assert (result.units_used, feed.values, result.stopped_early) == (1, [1.0], True)


def test_completions_beyond_a_gap_wait_for_the_gap() -> None:
    """Trial 0 is slow and the rest are fast: nothing may be fed before trial 0."""

    def body(trial: Trial) -> None:
        time.sleep(0.05 if trial.index == 0 else 0)
        assert trial.index != 0

    feed = Recorder(after(1, "FAIL"))
    result = run(body, feed, budget_trials=30, concurrency=4)
    assert feed.values == [0.0]
    assert (result.units_used, result.settled) == (1, "FAIL")
    assert [r.index for r in result.records if r.used] == [0]


# ---------------------------------------------------------------- determinism


def seeded_body(jitter: random.Random) -> Callable[[Trial], None]:
    """Outcome from the seed, sleep from an unseeded clock: only ordering can make runs agree."""

    def body(trial: Trial) -> None:
        time.sleep(jitter.uniform(0, 0.004))
        assert trial.seed % 3 != 0

    return body


def seeded_async_body(jitter: random.Random) -> Callable[[Trial], Any]:
    async def body(trial: Trial) -> None:
        await asyncio.sleep(jitter.uniform(0, 0.004))
        assert trial.seed % 3 != 0

    return body


def fails_seen(n: int) -> Callable[[list[float]], str | None]:
    return lambda values: "FAIL" if values.count(0.0) >= n else None


def fed_and_used(result: RunResult, feed: Recorder) -> tuple[list[float], int, str | None, list[int]]:
    return feed.values, result.units_used, result.settled, [r.index for r in result.records if r.used]


@pytest.mark.parametrize("is_async", [False, True])
def test_serial_and_concurrent_runs_feed_the_same_sequence(is_async: bool) -> None:
    make = seeded_async_body if is_async else seeded_body
    outcomes = []
    for concurrency in (1, 8, 8, 3):
        feed = Recorder(fails_seen(6))
        result = run(make(random.Random()), feed, is_async=is_async, budget_trials=60, concurrency=concurrency)
        outcomes.append(fed_and_used(result, feed))
    assert outcomes[0][2] == "FAIL"  # the rule did settle, so the stop point was compared too
    assert all(o == outcomes[0] for o in outcomes)


@pytest.mark.parametrize("is_async", [False, True])
def test_cases_with_epochs_are_deterministic_under_concurrency(is_async: bool) -> None:
    cases = [Case(f"c{i}", i) for i in range(12)]
    make = seeded_async_body if is_async else seeded_body
    outcomes = []
    for concurrency in (1, 8):
        feed = Recorder(lambda values: "PASS" if len(values) >= 7 else None)
        result = run(
            make(random.Random()),
            feed,
            is_async=is_async,
            budget_trials=36,
            cases=cases,
            epochs=3,
            concurrency=concurrency,
        )
        outcomes.append(fed_and_used(result, feed))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0][0]) == 7


def test_timeouts_do_not_change_the_fed_sequence(release: threading.Event) -> None:
    def body(trial: Trial) -> None:
        if trial.seed % 5 == 0:
            release.wait(2)
        assert trial.seed % 3 != 0

    results = []
    for concurrency in (1, 6):
        feed = Recorder()
        result = run(body, feed, budget_trials=20, concurrency=concurrency, timeout=0.05, max_error_rate=0.9)
        results.append((fed_and_used(result, feed), [r.outcome for r in result.records]))
    assert results[0] == results[1]


# ---------------------------------------------------------------- concurrency


def test_async_trials_run_concurrently() -> None:
    in_flight = peak = 0

    async def body(trial: Trial) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(500):  # wait (at most 5 s) until all eight are in flight together
            if peak >= 8:
                break
            await asyncio.sleep(0.01)
        in_flight -= 1

    result = run(body, is_async=True, budget_trials=8, concurrency=8)
    assert peak == 8 and result.units_used == 8


def test_sync_trials_run_concurrently_on_threads() -> None:
    together = threading.Barrier(8, timeout=5)  # passes only if eight trials run at once
    result = run(lambda t: together.wait(), budget_trials=8, concurrency=8)
    assert [r.outcome for r in result.records] == ["pass"] * 8 and result.units_used == 8


@pytest.mark.parametrize("is_async", [False, True])
def test_never_more_than_concurrency_in_flight(is_async: bool) -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def enter() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])

    def leave() -> None:
        with lock:
            state["now"] -= 1

    def body(trial: Trial) -> None:
        enter()
        time.sleep(0.005)
        leave()

    async def async_body(trial: Trial) -> None:
        enter()
        await asyncio.sleep(0.005)
        leave()

    run(async_body if is_async else body, is_async=is_async, budget_trials=24, concurrency=3)
    assert state["peak"] == 3


def test_serial_sync_trials_run_in_the_calling_thread() -> None:
    threads: set[int] = set()
    run(lambda t: threads.add(threading.get_ident()), budget_trials=3)
    assert threads == {threading.get_ident()}


def test_worker_threads_see_the_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from caller")
    seen: list[str] = []
    run(lambda t: seen.append(var.get()), budget_trials=4, concurrency=2)
    assert seen == ["from caller"] * 4


def test_async_evals_run_when_a_loop_is_already_running() -> None:
    async def body(trial: Trial) -> None:
        await asyncio.sleep(0)

    async def outer() -> RunResult:
        return run(body, is_async=True, budget_trials=3)

    assert asyncio.run(outer()).units_used == 3


# ---------------------------------------------------------------- errors


def test_error_trials_are_kept_apart() -> None:
    def body(trial: Trial) -> None:
        if trial.index == 2:
            raise RuntimeError("rate limited\nretry later")

    feed = Recorder()
    result = run(body, feed, budget_trials=5)
    error = result.records[2]
    assert (error.outcome, error.score, error.error_kind, error.message, error.used) == (
        "error",
        None,
        "RuntimeError",
        "rate limited",
        True,
    )
    assert feed.values == [1.0] * 4
    assert (result.errors, result.units_used, result.aborted_for_errors) == (1, 4, False)


def test_abort_once_errors_exceed_the_rate_times_the_budget() -> None:
    def body(trial: Trial) -> None:
        raise ConnectionError("down")

    result = run(body, budget_trials=20, max_error_rate=0.1)  # 2 errors allowed, the third aborts
    assert len(result.records) == 3
    assert (result.errors, result.aborted_for_errors, result.stopped_early, result.settled) == (3, True, True, None)


def test_zero_error_rate_aborts_on_the_first_error() -> None:
    result = run(lambda t: 1 / 0, budget_trials=20, max_error_rate=0.0)
    assert (len(result.records), result.errors, result.aborted_for_errors) == (1, 1, True)


def test_error_allowance_is_not_lost_to_float_rounding() -> None:
    result = run(lambda t: 1 / 0, budget_trials=100, max_error_rate=0.29)  # 0.29 * 100 == 28.999999999999996
    assert result.errors == 30


def test_abort_point_is_deterministic_under_concurrency() -> None:
    def body(trial: Trial) -> None:
        time.sleep(random.uniform(0, 0.003))
        if trial.seed % 2:
            raise RuntimeError("flaky")

    used = set()
    for concurrency in (1, 8):
        result = run(body, budget_trials=40, concurrency=concurrency, max_error_rate=0.2)
        assert result.aborted_for_errors
        used.add((result.errors, tuple(r.index for r in result.records if r.used)))
    assert len(used) == 1


def test_sync_body_returning_a_coroutine_is_an_error_not_a_pass(recwarn: pytest.WarningsRecorder) -> None:
    async def body(trial: Trial) -> None:
        raise AssertionError("never runs")

    result = run(body, budget_trials=1)
    assert (result.records[0].outcome, result.records[0].error_kind) == ("error", "TypeError")
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_async_eval_with_a_sync_body_is_an_error() -> None:
    result = run(passes, is_async=True, budget_trials=1)
    assert (result.records[0].outcome, result.records[0].error_kind) == ("error", "TypeError")


# ---------------------------------------------------------------- timeouts


@pytest.mark.parametrize("concurrency", [1, 3])
def test_sync_timeout_is_an_error_trial(concurrency: int, release: threading.Event) -> None:
    def body(trial: Trial) -> None:
        if trial.index == 1:
            release.wait(2)

    start = time.perf_counter()
    result = run(body, budget_trials=4, concurrency=concurrency, timeout=0.05)
    assert time.perf_counter() - start < 1.9  # the stuck thread (2 s) was not waited for
    late = result.records[1]
    assert (late.outcome, late.error_kind, late.score) == ("error", "Timeout", None)
    assert late.message == "no result within timeout=0.05s"
    assert late.duration >= 0.05
    assert [r.outcome for r in result.records] == ["pass", "error", "pass", "pass"]


def test_a_stuck_thread_does_not_shrink_concurrency(release: threading.Event) -> None:
    def body(trial: Trial) -> None:
        if trial.index == 0:
            release.wait(2)
        else:
            time.sleep(0.04)

    result = run(body, budget_trials=3, concurrency=1, timeout=0.1)
    assert [r.outcome for r in result.records] == ["error", "pass", "pass"]  # trials 1, 2 ran, in fresh workers


def test_async_timeout_is_an_error_trial_and_is_cancelled() -> None:
    cancelled: list[int] = []

    async def body(trial: Trial) -> None:
        if trial.index == 1:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(trial.index)
                raise

    start = time.perf_counter()
    result = run(body, is_async=True, budget_trials=4, concurrency=2, timeout=0.05)
    assert time.perf_counter() - start < 5.0  # the timed-out trial (10 s) was cancelled, not awaited
    assert [(r.outcome, r.error_kind) for r in result.records] == [
        ("pass", None),
        ("error", "Timeout"),
        ("pass", None),
        ("pass", None),
    ]
    assert cancelled == [1]


@pytest.mark.parametrize("is_async", [False, True])
def test_the_bodys_own_timeout_error_is_not_the_trial_timeout(is_async: bool) -> None:
    def body(trial: Trial) -> None:
        raise TimeoutError("upstream took too long")

    async def async_body(trial: Trial) -> None:
        raise TimeoutError("upstream took too long")

    result = run(async_body if is_async else body, is_async=is_async, budget_trials=1, timeout=5, max_error_rate=0.9)
    record = result.records[0]
    assert (record.error_kind, record.message) == ("TimeoutError", "upstream took too long")


# ---------------------------------------------------------------- cases and epochs


def test_cases_run_case_major_in_seeded_order() -> None:
    cases = [Case(f"c{i}", {"n": i}) for i in range(4)]
    seen: list[tuple[int, str | None, int, Any]] = []
    result = run(lambda t: seen.append((t.index, t.case_id, t.epoch, t.case)), budget_trials=12, cases=cases, epochs=3)
    order = case_order(cases, 42, NODEID)
    assert seen == [(i, order[i // 3].id, i % 3, order[i // 3].value) for i in range(12)]
    assert [(r.case_id, r.epoch) for r in result.records] == [(c.id, e) for c in order for e in range(3)]


def test_a_case_feeds_the_mean_of_its_epochs() -> None:
    cases = [Case("a", 0.2), Case("b", 0.6)]

    def body(trial: Trial) -> None:
        trial.score(trial.case + 0.1 * trial.epoch)

    feed = Recorder()
    result = run(body, feed, budget_trials=6, cases=cases, epochs=3)
    means = {c.id: pytest.approx(c.value + 0.1) for c in cases}
    assert feed.values == [means[c.id] for c in case_order(cases, 42, NODEID)]
    assert result.units_used == 2


def test_error_epochs_are_left_out_of_the_case_mean() -> None:
    def body(trial: Trial) -> None:
        if trial.epoch == 1:
            raise RuntimeError("flaky judge")
        assert trial.epoch == 0

    feed = Recorder()
    result = run(body, feed, budget_trials=3, cases=[Case("a", None)], epochs=3, max_error_rate=0.5)
    assert feed.values == [0.5]  # mean of pass (epoch 0) and fail (epoch 2)
    assert result.errors == 1


def test_a_case_whose_epochs_all_errored_feeds_nothing() -> None:
    cases = [Case(f"c{i}", i) for i in range(5)]

    def body(trial: Trial) -> None:
        if trial.case == 3:
            raise RuntimeError("broken case")

    feed = Recorder()
    result = run(body, feed, budget_trials=10, cases=cases, epochs=2, max_error_rate=0.5)
    assert (len(feed.values), result.units_used, result.errors) == (4, 4, 2)
    assert all(r.used for r in result.records)


def test_a_case_feeds_only_when_all_its_epochs_are_done() -> None:
    def body(trial: Trial) -> None:
        time.sleep(0.05 if trial.epoch == 2 else 0)

    feed = Recorder(after(1))
    result = run(body, feed, budget_trials=30, cases=[Case(str(i), i) for i in range(10)], epochs=3, concurrency=6)
    assert result.units_used == 1
    first_case = [r for r in result.records if r.used]
    assert [r.epoch for r in first_case] == [0, 1, 2]
    assert len({r.case_id for r in first_case}) == 1


def test_cases_budget_counts_whole_cases() -> None:
    cases = [Case(str(i), i) for i in range(10)]
    assert len(run(passes, budget_trials=7, cases=cases, epochs=3).records) == 6  # a 7th trial could not finish a case
    assert len(run(passes, budget_trials=100, cases=cases[:2], epochs=3).records) == 6  # no more cases than exist


# ---------------------------------------------------------------- what must propagate


class Interrupting:
    """A body that raises ``exc`` on trial 2 and records which trials started."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.started: list[int] = []

    def __call__(self, trial: Trial) -> None:
        self.started.append(trial.index)
        time.sleep(0.002)
        if trial.index == 2:
            raise self.exc


@pytest.mark.parametrize("concurrency", [1, 4])
def test_keyboard_interrupt_propagates_from_sync_trials(concurrency: int) -> None:
    body = Interrupting(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(body, budget_trials=100, concurrency=concurrency)
    assert len(body.started) < 100


def test_keyboard_interrupt_propagates_from_async_trials() -> None:
    """In a subprocess: on CPython 3.11 a KeyboardInterrupt escaping an asyncio task leaves the
    interpreter's AST recursion bookkeeping off, and a later ``ast.parse`` (pytest rewriting a
    module imported afterwards) raises "AST constructor recursion depth mismatch"
    (python/cpython#106905)."""
    code = (
        "from pytest_rollout.evals.trials import run_trials\n"
        "async def body(trial):\n"
        "    if trial.index == 2:\n"
        "        raise KeyboardInterrupt\n"
        "try:\n"
        f"    run_trials(body, is_async=True, budget_trials=100, session_seed=42, nodeid={NODEID!r}, cases=None,\n"
        "               epochs=1, concurrency=4, timeout=None, max_error_rate=0.5, feed=lambda x: None)\n"
        "except KeyboardInterrupt:\n"
        "    print('propagated')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "propagated", out.stdout + out.stderr


@pytest.mark.parametrize(("is_async", "concurrency"), [(False, 1), (False, 4), (True, 1), (True, 4)])
def test_pytest_outcomes_propagate_and_are_not_counted(is_async: bool, concurrency: int) -> None:
    """``pytest.skip()`` in a body derives from BaseException: the item is skipped, not an error trial."""

    def body(trial: Trial) -> None:
        if trial.index == 1:
            pytest.skip("no API key")

    async def async_body(trial: Trial) -> None:
        body(trial)

    with pytest.raises(pytest.skip.Exception, match="no API key"):
        run(async_body if is_async else body, is_async=is_async, budget_trials=50, concurrency=concurrency)


def test_an_exception_from_feed_is_not_swallowed() -> None:
    def feed(value: float) -> None:
        raise ZeroDivisionError("bug in the rule")

    with pytest.raises(ZeroDivisionError, match="bug in the rule"):
        run(passes, feed, budget_trials=3, concurrency=2)


# ---------------------------------------------------------------- caller errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency >= 1"),
        ({"epochs": 0, "cases": [Case("a", 1)]}, "epochs >= 1"),
        ({"epochs": 2}, "epochs > 1 needs cases"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"budget_trials": -1}, "budget_trials >= 0"),
    ],
)
def test_invalid_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run(passes, **kwargs)


def test_zero_budget_runs_nothing() -> None:
    result = run(passes, budget_trials=0)
    assert (result.records, result.units_used, result.settled, result.stopped_early) == ([], 0, None, False)


# ---------------------------------------------------------------- feed_unit and on_skip


def run_units(
    call: Callable[[Trial], Any], log: list[tuple[Any, ...]], settle_after: int | None = None, **kwargs: Any
) -> RunResult:
    """Runs with ``feed_unit`` and ``on_skip`` both writing to ``log``, in the order they are called."""

    def feed_unit(index: int, value: float) -> str | None:
        log.append(("feed", index, value))
        fed = sum(entry[0] == "feed" for entry in log)
        return "PASS" if settle_after is not None and fed >= settle_after else None

    args: dict[str, Any] = {
        "is_async": False,
        "budget_trials": 10,
        "session_seed": 42,
        "nodeid": NODEID,
        "cases": None,
        "epochs": 1,
        "concurrency": 1,
        "timeout": None,
        "max_error_rate": 0.5,
        **kwargs,
    }
    return run_trials(call, feed_unit=feed_unit, on_skip=lambda index: log.append(("skip", index)), **args)


@pytest.mark.parametrize(("is_async", "concurrency"), [(False, 1), (False, 4), (True, 4)])
def test_one_call_per_consumed_unit_in_unit_order(is_async: bool, concurrency: int) -> None:
    """A case whose epochs all errored is reported by index, so later cases keep their index (pairing)."""
    cases = [Case(f"c{i}", i) for i in range(6)]
    order = [c.value for c in case_order(cases, 42, NODEID)]
    broken = {order[1], order[4]}

    def body(trial: Trial) -> None:
        time.sleep(0.01 * (trial.index % 3))
        if trial.case in broken:
            raise RuntimeError("broken case")
        assert trial.case % 2 == 0

    async def async_body(trial: Trial) -> None:
        body(trial)

    log: list[tuple[Any, ...]] = []
    result = run_units(
        async_body if is_async else body,
        log,
        is_async=is_async,
        concurrency=concurrency,
        budget_trials=12,
        cases=cases,
        epochs=2,
        max_error_rate=0.5,
    )
    expected: list[tuple[Any, ...]] = [
        ("skip", i) if case in broken else ("feed", i, 1.0 if case % 2 == 0 else 0.0) for i, case in enumerate(order)
    ]
    assert log == expected
    assert (result.units_used, result.errors) == (4, 4)


def test_on_skip_without_cases_reports_error_trials() -> None:
    def body(trial: Trial) -> None:
        if trial.index in (0, 3):
            raise RuntimeError("flaky")

    log: list[tuple[Any, ...]] = []
    run_units(body, log, budget_trials=5)
    assert log == [("skip", 0), ("feed", 1, 1.0), ("feed", 2, 1.0), ("skip", 3), ("feed", 4, 1.0)]


def test_on_skip_reports_the_unit_that_aborts_the_run() -> None:
    """That unit is consumed (its trials are used) but not fed: the run stops after it."""

    def body(trial: Trial) -> None:
        if trial.index >= 2 and trial.epoch == 0:
            raise RuntimeError("down")

    log: list[tuple[Any, ...]] = []
    result = run_units(
        body, log, budget_trials=10, cases=[Case(str(i), i) for i in range(5)], epochs=2, max_error_rate=0.1
    )
    assert result.aborted_for_errors
    assert log == [("feed", 0, 1.0), ("feed", 1, 1.0), ("skip", 2)]  # unit 2's second error is one too many
    assert [r.index for r in result.records if r.used] == [0, 1, 2, 3, 4, 5]


def test_no_calls_after_the_rule_settles() -> None:
    log: list[tuple[Any, ...]] = []
    result = run_units(
        lambda t: _raise(RuntimeError("x")) if t.index == 1 else None,
        log,
        settle_after=2,
        budget_trials=10,
        concurrency=3,
    )
    assert log == [("feed", 0, 1.0), ("skip", 1), ("feed", 2, 1.0)]
    assert (result.settled, result.units_used) == ("PASS", 2)


def test_feed_with_on_skip() -> None:
    skipped: list[int] = []
    feed = Recorder()
    run_trials(
        lambda t: _raise(RuntimeError("x")) if t.index == 2 else None,
        is_async=False,
        budget_trials=4,
        session_seed=42,
        nodeid=NODEID,
        cases=None,
        epochs=1,
        concurrency=1,
        timeout=None,
        max_error_rate=0.5,
        feed=feed,
        on_skip=skipped.append,
    )
    assert (feed.values, skipped) == ([1.0, 1.0, 1.0], [2])


@pytest.mark.parametrize("feeds", [{}, {"feed": Recorder(), "feed_unit": lambda i, x: None}])
def test_exactly_one_of_feed_and_feed_unit(feeds: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="exactly one of feed= and feed_unit="):
        run_trials(
            passes,
            is_async=False,
            budget_trials=1,
            session_seed=42,
            nodeid=NODEID,
            cases=None,
            epochs=1,
            concurrency=1,
            timeout=None,
            max_error_rate=0.5,
            **feeds,
        )


def test_case_order_puts_the_pairable_cases_first_and_stays_seeded() -> None:
    from pytest_rollout.evals.markers import Case
    from pytest_rollout.evals.trials import case_order

    cases = [Case(f"c{i}", i) for i in range(20)]
    plain = [c.id for c in case_order(cases, 7, "t")]
    first = {"c3", "c11", "c17"}
    ordered = [c.id for c in case_order(cases, 7, "t", first)]
    assert set(ordered[:3]) == first and sorted(ordered) == sorted(plain)
    assert [c for c in ordered[3:]] == [c for c in plain if c not in first]  # the seeded order is kept
    assert ordered == [c.id for c in case_order(cases, 7, "t", first)]


# ---------------------------------------------------------------- loops, cancellation, exit


class Loop:
    """An ``on_loop`` runner on a loop of the test's own, recording unretrieved task errors."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda loop, context: self.errors.append(context))
        self.leftover: set[asyncio.Task[Any]] = set()

    def __call__(self, make: Callable[[], Any]) -> None:
        async def main() -> None:
            try:
                await make()
            finally:
                self.leftover = asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

        self.loop.run_until_complete(main())

    def close(self) -> None:
        import gc

        gc.collect()  # "Task exception was never retrieved" is reported when the task is collected
        self.loop.close()


def test_async_trials_run_on_the_callers_loop() -> None:
    on_loop = Loop()
    seen: set[asyncio.AbstractEventLoop] = set()

    async def body(trial: Trial) -> None:
        seen.add(asyncio.get_running_loop())

    result = run_trials(
        body, is_async=True, budget_trials=20, session_seed=1, nodeid=NODEID, cases=None, epochs=1,
        concurrency=8, timeout=None, max_error_rate=0.5, feed=Recorder(), on_loop=on_loop,
    )  # fmt: skip
    on_loop.close()
    assert seen == {on_loop.loop} and result.units_used == 20


def test_async_inflight_trials_are_cancelled_awaited_and_not_used() -> None:
    on_loop, cancelled, never = Loop(), [], asyncio.Event()

    async def body(trial: Trial) -> None:
        if trial.index:
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(trial.index)
                raise

    result = run_trials(
        body, is_async=True, budget_trials=50, session_seed=1, nodeid=NODEID, cases=None, epochs=1,
        concurrency=4, timeout=None, max_error_rate=0.5, feed=Recorder(after(1)), on_loop=on_loop,
    )  # fmt: skip
    on_loop.close()
    assert sorted(cancelled) == [1, 2, 3] and not on_loop.leftover and not on_loop.errors
    assert [(r.index, r.used, r.error_kind) for r in result.records] == [
        (0, True, None),
        (1, False, "Cancelled"),
        (2, False, "Cancelled"),
        (3, False, "Cancelled"),
    ]
    assert (result.units_used, result.errors, result.settled) == (1, 0, "PASS")


@pytest.mark.parametrize("stop", ["feed bug", "skip"])
def test_no_async_trial_outlives_its_eval(stop: str) -> None:
    """A bug in the feed or a pytest outcome in one trial: the others are cancelled, their errors retrieved."""
    on_loop, never = Loop(), asyncio.Event()

    async def body(trial: Trial) -> None:
        if trial.index == 2 and stop == "skip":
            pytest.skip("no API key")
        if trial.index >= 1:
            try:
                await never.wait()
            finally:
                raise ValueError("an exception nobody would retrieve")

    def feed(value: float) -> None:
        if stop == "feed bug":
            raise ZeroDivisionError("bug in the rule")

    with pytest.raises(ZeroDivisionError if stop == "feed bug" else pytest.skip.Exception):
        run_trials(
            body, is_async=True, budget_trials=50, session_seed=1, nodeid=NODEID, cases=None, epochs=1,
            concurrency=4, timeout=None, max_error_rate=0.5, feed=feed, on_loop=on_loop,
        )  # fmt: skip
    on_loop.close()
    assert not on_loop.leftover and not on_loop.errors


def test_a_hung_sync_trial_does_not_keep_the_process_alive() -> None:
    """The abandoned call blocks forever; the process still exits once the run is over.

    ``concurrent.futures`` workers are joined at exit, so before daemon workers this
    subprocess never ended (the 120 s guard catches a hang, it does not time anything)."""
    code = (
        "import threading\n"
        "from pytest_rollout.evals.trials import run_trials\n"
        "def body(trial):\n"
        "    if trial.index == 0:\n"
        "        threading.Event().wait()\n"
        f"r = run_trials(body, is_async=False, budget_trials=3, session_seed=1, nodeid={NODEID!r}, cases=None,\n"
        "               epochs=1, concurrency=1, timeout=0.2, max_error_rate=0.5, feed=lambda x: None)\n"
        "print([rec.outcome for rec in r.records])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "['error', 'pass', 'pass']"), out.stderr
