"""Run one eval's trials: sync or async, concurrent, time-limited, errors counted apart.

Pure Python (threads and asyncio; no pytest, no scipy): the plugin binds the test body to
its fixtures and passes a ``feed`` (or ``feed_unit``) callback that wraps the sequential rule
of ``verdicts``.

What decides correctness (docs/statistics.md, "Error trials and determinism"):

* **Index order.** Completions arrive out of order when ``concurrency > 1``. Outcomes are
  buffered and ``feed`` sees only the contiguous completed prefix, one unit at a time, in
  unit-index order. Trials still running when the rule settles are waited for and recorded
  with ``used=False``, never fed. So the verdict and ``units_used`` are a function of the
  seeds alone: serial, threaded, async and xdist runs agree.
* **Units.** Without cases a unit is a trial. With cases, trial ``i`` runs case
  ``order[i // epochs]`` (seeded order), epoch ``i % epochs``; the case is the unit, and its
  value (the mean of its non-error epochs) is fed once all its epochs have finished.
* **One call per consumed unit.** Each unit of the consumed prefix gets exactly one call, in
  unit-index order: ``feed``/``feed_unit`` with its value, or ``on_skip`` with its index when
  it has no value (all its epochs errored) or when its errors end the run. A consumer that
  counts calls, or reads the index, therefore always knows which case it is looking at.
* **Errors are not outcomes.** An ``AssertionError`` fails a trial; any other ``Exception``
  (and a timeout) is an error trial, counted against ``max_error_rate``. Errors are counted in
  the same ordered prefix, so an abort for errors happens at the same trial in every run.
  ``BaseException``s that are not ``Exception``s (``KeyboardInterrupt``, pytest's
  skip/fail/exit outcomes) are never counted: they stop the run and propagate.
* **Messages are redacted.** A record's message (the first line of the exception) goes
  through ``redact.scrub_text`` before it is cut to ``MESSAGE_LIMIT``: it ends up in failure
  texts, JSON reports and junitxml.

Threads and timeouts. ``concurrency=1`` without a timeout runs the body inline in the calling
thread, so fixtures and thread-locals behave as in any test. Otherwise sync bodies run on a
small pool of daemon threads (each trial in a copy of the caller's ``contextvars`` context).
A thread cannot be killed: a sync trial past its timeout is recorded as an error and
abandoned (new trials get fresh workers, so the stuck one does not eat into ``concurrency``).
The abandoned call goes on in the background until it returns or the process exits; its
result is thrown away, and because its worker is a daemon thread nobody waits for it at exit
(the run ends with its report, not when the hung call does). Give the client inside the
body its own timeout as well, so the call ends and frees its connection.

Event loops. Async trials run as tasks on one event loop, ``concurrency`` at a time: the
loop the caller names with ``on_loop`` (the plugin passes the loop the test would have run
on: pytest-asyncio's for its ``loop_scope``, anyio's), else a fresh one (``asyncio.run``; on
a worker thread if this thread already runs a loop). A trial past its timeout is cancelled.
When the eval stops (settled, aborted for errors, a ``BaseException``, or the eval itself
cancelled), the trials still in flight are cancelled and awaited, and recorded with
``used=False``: no task is left pending and no exception goes unretrieved.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import math
import numbers
import queue
import random
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.evals.error_budget import ErrorRateTest, error_headroom
from pytest_rollout.evals.markers import Case, budget_units

Outcome = Literal["pass", "fail", "error"]

#: Called with each unit's value in unit-index order. Returns the settled verdict name
#: ("PASS"/"FAIL") to stop, or None to go on. ``True`` also stops (settled = "SETTLED").
Feed = Callable[[float], "str | bool | None"]
#: ``Feed`` that also receives the unit index: ``feed_unit(index, value)``.
FeedUnit = Callable[[int, float], "str | bool | None"]
#: Called with the index of a consumed unit that is not fed (see "One call per consumed unit").
OnSkip = Callable[[int], None]
#: Runs ``make()`` to completion on an event loop: ``on_loop(make)``. ``make`` returns a new
#: coroutine each call, so a runner that refuses (wrong thread, wrong library) leaks nothing.
OnLoop = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]

TIMEOUT_KIND = "Timeout"
CANCELLED_KIND = "Cancelled"
MESSAGE_LIMIT = 300

# ---------------------------------------------------------------- seeds


def _derive(*parts: object) -> int:
    """32 bits of sha256 over the parts: unlike ``hash()``, the same in every process and version."""
    text = "\0".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def trial_seed(session_seed: int, nodeid: str, index: int) -> int:
    """The seed of trial ``index`` of ``nodeid``; ``0 <= seed < 2**32``."""
    return _derive("trial", session_seed, nodeid, index)


def case_order(cases: Sequence[Case], session_seed: int, nodeid: str, first: Collection[str] = ()) -> list[Case]:
    """Cases in a seeded random order, so a budget that stops early still samples fairly.

    Cases are sorted by id before the shuffle: the order then depends on the seed and the
    set of cases only, not on how a loader happened to list them (a directory walk, a set).
    Cases whose id is in ``first`` (those a stored baseline can pair with) come first, each
    group shuffled: the order still depends on nothing the trials produce.
    """
    rng = random.Random(_derive("case-order", session_seed, nodeid))
    ordered = sorted(cases, key=lambda case: case.id)
    rng.shuffle(ordered)
    if first:
        ordered = [c for c in ordered if c.id in first] + [c for c in ordered if c.id not in first]
    return ordered


# ---------------------------------------------------------------- value objects


@dataclass
class Trial:
    """What the ``trial`` fixture hands to the test body.

    ``case`` is the case's value (None without ``cases=``); typed ``Any`` rather than
    ``Any | None`` so that ``trial.case["question"]`` type-checks in users' evals.
    """

    index: int
    seed: int
    case: Any = None
    case_id: str | None = None
    epoch: int = 0
    _score: float | None = field(default=None, init=False, repr=False)

    def score(self, x: float) -> None:
        """Record a score in [0, 1] (the last call wins).

        A bad value raises, which makes this an error trial rather than a silently
        clipped score that would bias the statistic.
        """
        self._score = _checked_score(x)

    @property
    def recorded_score(self) -> float | None:
        return self._score


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial. ``used``: it lies in the consumed prefix, so a pass/fail fed the
    statistic and an error counted against ``max_error_rate``."""

    index: int
    case_id: str | None
    epoch: int
    seed: int
    outcome: Outcome
    score: float | None
    error_kind: str | None
    message: str | None
    duration: float
    used: bool = False


@dataclass
class RunResult:
    """What one eval's run produced. ``units_used``/``errors`` count the consumed prefix only
    (the records with ``used=True``), so they, like ``settled``, never depend on timing; the
    caller decides ERROR from ``errors / completed``. ``settled`` is None if the rule never
    settled (budget spent, aborted for errors)."""

    records: list[TrialRecord]
    units_used: int
    settled: str | None
    stopped_early: bool
    errors: int
    aborted_for_errors: bool

    @property
    def completed(self) -> int:
        """Trials in the consumed prefix (errors included): the denominator of the error rate."""
        return sum(record.used for record in self.records)


def _checked_score(x: object) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"trial.score() takes a number in [0, 1], got {x!r}")
    value = float(x)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"trial.score({x!r}) is out of range: scores are in [0, 1]")
    return value


# ---------------------------------------------------------------- one trial


def _record(trial: Trial, exc: Exception | None, duration: float) -> TrialRecord:
    """pass = 1.0 and fail = 0.0 unless the body recorded a score; errors carry no value."""
    if exc is None or isinstance(exc, AssertionError):
        outcome: Outcome = "pass" if exc is None else "fail"
        default = 1.0 if exc is None else 0.0
        score = default if trial.recorded_score is None else trial.recorded_score
        return _make(trial, outcome, score, None, None if exc is None else _first_line(exc), duration)
    return _make(trial, "error", None, type(exc).__name__, _first_line(exc), duration)


def _timed_out(trial: Trial, timeout: float, duration: float) -> TrialRecord:
    return _make(trial, "error", None, TIMEOUT_KIND, f"no result within timeout={timeout:g}s", duration)


def _cancelled(trial: Trial, duration: float) -> TrialRecord:
    return _make(trial, "error", None, CANCELLED_KIND, "cancelled: the eval had stopped", duration)


def _make(
    trial: Trial, outcome: Outcome, score: float | None, kind: str | None, message: str | None, duration: float
) -> TrialRecord:
    return TrialRecord(trial.index, trial.case_id, trial.epoch, trial.seed, outcome, score, kind, message, duration)


def _first_line(exc: BaseException) -> str | None:
    """First line of the message, secrets masked, at most ``MESSAGE_LIMIT`` characters (a report
    line, not a log). Masked before the cut: half a key no longer looks like a key."""
    try:
        text = str(exc)
    except Exception as err:  # a broken __str__ must not turn one trial record into a crash
        text = f"<unprintable {type(exc).__name__}: {type(err).__name__} in __str__>"
    lines = text.strip().splitlines()
    if not lines:
        return None
    line = scrub_text(lines[0])
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


def _run_sync_trial(call: Callable[[Trial], Any], trial: Trial) -> TrialRecord:
    start = time.perf_counter()
    try:
        _refuse_awaitable(call(trial))
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return _record(trial, exc, time.perf_counter() - start)
    return _record(trial, None, time.perf_counter() - start)


def _refuse_awaitable(result: object) -> None:
    """An un-awaited coroutine would 'pass' without running a line of the body."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("the test body returned an awaitable but runs as a sync eval; use is_async=True")


class _BodyTimeout(Exception):
    """The body's own ``TimeoutError``, kept apart from the per-trial timeout."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


async def _await_body(call: Callable[[Trial], Any], trial: Trial) -> None:
    try:
        result = call(trial)
        if not inspect.isawaitable(result):
            raise TypeError(f"an async eval's body must return an awaitable, got {type(result).__name__}")
        await result
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise _BodyTimeout(exc) from exc


async def _run_async_trial(call: Callable[[Trial], Any], trial: Trial, timeout: float | None) -> TrialRecord:
    start = time.perf_counter()
    try:
        if timeout is None:
            await _await_body(call, trial)
        else:
            await asyncio.wait_for(_await_body(call, trial), timeout)
    except _BodyTimeout as wrapped:
        return _record(trial, wrapped.original, time.perf_counter() - start)
    except asyncio.TimeoutError:
        return _timed_out(trial, timeout or 0.0, time.perf_counter() - start)
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return _record(trial, exc, time.perf_counter() - start)
    return _record(trial, None, time.perf_counter() - start)


# ---------------------------------------------------------------- the ordered ledger


def _error_allowance(max_error_rate: float, n_trials: int) -> int:
    """Errors beyond ``max_error_rate * budget`` end the run: it can no longer finish under the limit.

    The product is floored with a 1e-9 slack so that 0.29 x 100 allows 29 errors, as meant
    (in binary floating point 0.29 * 100 is 28.999999999999996).
    """
    return math.floor(max_error_rate * n_trials + 1e-9)


class _Run:
    """Hands out trials and consumes finished ones strictly in index order.

    The drivers below only decide *when* trials run; everything that reaches the
    statistic goes through ``complete``, which is why timing cannot change a verdict.
    """

    def __init__(
        self,
        order: list[Case] | None,
        epochs: int,
        n_trials: int,
        seeding: tuple[int, str],
        feed: FeedUnit,
        on_skip: OnSkip | None,
        max_error_rate: float,
        error_alpha: float | None = None,
    ) -> None:
        self.n_trials = n_trials
        self._order, self._epochs, self._seeding = order, epochs, seeding
        self._feed, self._on_skip = feed, on_skip
        self._allowed_errors = _error_allowance(max_error_rate, n_trials)
        # error_alpha given: the budget counts outcomes, errors extend it up to a cap (error_budget.py)
        self._error_test = None if error_alpha is None else ErrorRateTest(max_error_rate, error_alpha)
        self._unit_budget = n_trials // epochs
        self._skipped = 0
        self._cap = n_trials
        if self._error_test is not None:
            self._cap = -(-(n_trials + error_headroom(max_error_rate, n_trials)) // epochs) * epochs
            self.n_trials = self._cap if order is None else min(self._cap, len(order) * epochs)
        self._next = 0  # next trial index to hand out
        self._frontier = 0  # first trial index not yet consumed
        self._done: dict[int, TrialRecord] = {}
        self._units_used = self._errors = 0
        self._settled: str | None = None
        self._aborted = False
        self._halt: BaseException | None = None

    @property
    def stopped(self) -> bool:
        return self._settled is not None or self._aborted

    @property
    def halted(self) -> bool:
        return self._halt is not None

    def next_trial(self) -> Trial | None:
        """The next trial to start, or None once settled, aborted, halted or out of budget."""
        if self.stopped or self._halt is not None or self._next >= self.n_trials:
            return None
        if self._error_test is not None and self._next // self._epochs >= self._unit_budget + self._skipped:
            return None  # enough units handed out for the outcome budget (errors may ask for more later)
        trial = self._make_trial(self._next)
        self._next += 1
        return trial

    def _make_trial(self, index: int) -> Trial:
        seed = trial_seed(self._seeding[0], self._seeding[1], index)
        if self._order is None:
            return Trial(index=index, seed=seed)
        case = self._order[index // self._epochs]
        return Trial(index=index, seed=seed, case=case.value, case_id=case.id, epoch=index % self._epochs)

    def complete(self, record: TrialRecord) -> None:
        self._done[record.index] = record
        while not self.stopped and self._frontier < self.n_trials and self._units_used < self._unit_budget:
            unit = [self._done.get(i) for i in range(self._frontier, self._frontier + self._epochs)]
            if any(r is None for r in unit):
                return
            self._frontier += self._epochs
            self._consume(self._frontier // self._epochs - 1, [r for r in unit if r is not None])

    def _consume(self, index: int, unit: list[TrialRecord]) -> None:
        """Exactly one call per unit: ``feed`` with its value, else ``on_skip`` with its index."""
        self._errors += sum(r.outcome == "error" for r in unit)
        values = [r.score for r in unit if r.score is not None]
        if self._error_test is not None:
            decided = [self._error_test.update(r.outcome == "error") for r in unit][-1]
            self._skipped += not values
            out_of_room = self._frontier >= self._cap and self._units_used + bool(values) < self._unit_budget
            self._aborted = decided or out_of_room
        elif self._errors > self._allowed_errors:
            self._aborted = True
        if self._aborted or not values:  # the run ends here, or every epoch of this case errored
            if self._on_skip is not None:
                self._on_skip(index)
            return
        self._units_used += 1
        verdict = self._feed(index, math.fsum(values) / len(values))
        if verdict:
            self._settled = verdict if isinstance(verdict, str) else "SETTLED"

    def keep(self, record: TrialRecord) -> None:
        """A trial that finished (or was cancelled) after the stop: recorded, never consumed."""
        self._done.setdefault(record.index, record)

    def halt(self, exc: BaseException) -> None:
        """A trial raised a non-``Exception``: start nothing more, re-raise it once in-flight trials end."""
        if self._halt is None:
            self._halt = exc

    def result(self) -> RunResult:
        if self._halt is not None:
            raise self._halt
        records = [replace(r, used=r.index < self._frontier) for _, r in sorted(self._done.items())]
        return RunResult(
            records=records,
            units_used=self._units_used,
            settled=self._settled,
            stopped_early=self.stopped and self._frontier < self.n_trials and self._units_used < self._unit_budget,
            errors=self._errors,
            aborted_for_errors=self._aborted,
        )


# ---------------------------------------------------------------- drivers


def _drive_inline(run: _Run, call: Callable[[Trial], Any]) -> None:
    """Serial, in the calling thread: fixtures and thread-locals work as in a plain test."""
    while (trial := run.next_trial()) is not None:
        run.complete(_run_sync_trial(call, trial))


class _DaemonPool:
    """``ThreadPoolExecutor``'s ``submit`` on daemon threads.

    ``concurrent.futures`` joins its workers at interpreter exit, so one hung call abandoned
    at its timeout kept the whole process alive after the report. Daemon workers are not
    joined: the process ends when pytest does. Workers start on demand, up to ``size``.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._workers = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, lambda: fn(*args)))
        if self._workers < self._size:
            self._workers += 1
            threading.Thread(target=self._work, name="rollout-trial", daemon=True).start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, thunk = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(thunk())
            except BaseException as exc:  # pytest outcomes and the like: the driver re-raises them
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel what has not started; idle workers exit, busy ones once their call returns."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in range(self._workers):
            self._jobs.put(None)


class _PoolDriver:
    """Sync trials on worker threads, each with a deadline counted from its start."""

    def __init__(self, run: _Run, call: Callable[[Trial], Any], concurrency: int, timeout: float | None) -> None:
        self._run, self._call, self._concurrency, self._timeout = run, call, concurrency, timeout
        self._pool = self._new_pool()
        self._inflight: dict[Future[TrialRecord], tuple[Trial, float]] = {}

    def _new_pool(self) -> _DaemonPool:
        return _DaemonPool(self._concurrency)

    def drive(self) -> None:
        try:
            self._start_more()
            while self._inflight:
                done, _ = wait(self._inflight, timeout=self._until_deadline(), return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
                self._expire()
                self._start_more()
        finally:  # normally nothing is left but abandoned timed-out threads; on Ctrl-C, don't wait
            self._pool.shutdown()

    def _start_more(self) -> None:
        while len(self._inflight) < self._concurrency and (trial := self._run.next_trial()) is not None:
            context = contextvars.copy_context()
            future = self._pool.submit(context.run, _run_sync_trial, self._call, trial)
            self._inflight[future] = (trial, time.monotonic())

    def _collect(self, future: Future[TrialRecord]) -> None:
        del self._inflight[future]
        exc = future.exception()
        if exc is not None:  # trial errors are records, so this is a BaseException (or a bug): propagate it
            self._run.halt(exc)
        else:
            self._run.complete(future.result())

    def _until_deadline(self) -> float | None:
        if self._timeout is None:
            return None
        first_start = min(started for _, started in self._inflight.values())
        return max(0.0, first_start + self._timeout - time.monotonic())

    def _expire(self) -> None:
        if self._timeout is None:
            return
        now = time.monotonic()
        late = [f for f, (_, t0) in self._inflight.items() if not f.done() and now - t0 >= self._timeout]
        for future in late:
            trial, started = self._inflight.pop(future)
            self._run.complete(_timed_out(trial, self._timeout, now - started))
        if late:
            self._replace_pool()

    def _replace_pool(self) -> None:
        """A timed-out thread keeps its worker: new trials get fresh workers, nobody waits for it."""
        self._pool.shutdown()
        self._pool = self._new_pool()


async def _drive_async(run: _Run, call: Callable[[Trial], Any], concurrency: int, timeout: float | None) -> None:
    """A bounded task set on the running loop. At the stop (or on any way out: a
    ``BaseException``, a bug in the feed, this coroutine cancelled) the tasks still in flight
    are cancelled and awaited, then recorded as not used."""
    tasks: dict[asyncio.Task[TrialRecord], tuple[Trial, float]] = {}
    try:
        _start_tasks(run, call, timeout, tasks, concurrency)
        while tasks:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                del tasks[task]
                exc = task.exception()
                if exc is not None:  # trial errors are records, so this is a BaseException (or a bug)
                    run.halt(exc)
                else:
                    run.complete(task.result())
            if run.stopped or run.halted:
                break
            _start_tasks(run, call, timeout, tasks, concurrency)
    finally:
        if tasks:
            await _cancel_inflight(run, tasks)


async def _cancel_inflight(run: _Run, tasks: dict[asyncio.Task[TrialRecord], tuple[Trial, float]]) -> None:
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)  # retrieves every exception
    now = time.perf_counter()
    for (trial, started), outcome in zip(tasks.values(), outcomes, strict=True):
        run.keep(outcome if isinstance(outcome, TrialRecord) else _cancelled(trial, now - started))


def _start_tasks(
    run: _Run,
    call: Callable[[Trial], Any],
    timeout: float | None,
    tasks: dict[asyncio.Task[TrialRecord], tuple[Trial, float]],
    limit: int,
) -> None:
    while len(tasks) < limit and (trial := run.next_trial()) is not None:
        tasks[asyncio.ensure_future(_run_async_trial(call, trial, timeout))] = (trial, time.perf_counter())


def _run_loop(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A fresh event loop: here, or on a worker thread when this thread already runs one
    (``asyncio.run`` refuses to nest, e.g. under an async test runner)."""
    if not _loop_running():
        asyncio.run(make())
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout-loop")
    try:
        pool.submit(contextvars.copy_context().run, lambda: asyncio.run(make())).result()
    finally:
        pool.shutdown(wait=False)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the documented "no running loop" signal
        return False
    return True


# ---------------------------------------------------------------- entry point


def run_trials(
    call: Callable[[Trial], Any],
    *,
    is_async: bool,
    budget_trials: int,
    session_seed: int,
    nodeid: str,
    cases: Sequence[Case] | None,
    epochs: int,
    concurrency: int,
    timeout: float | None,
    max_error_rate: float,
    feed: Feed | None = None,
    feed_unit: FeedUnit | None = None,
    on_skip: OnSkip | None = None,
    first_cases: Collection[str] = (),
    error_alpha: float | None = None,
    on_loop: OnLoop | None = None,
) -> RunResult:
    """Run up to ``budget_trials`` trials of ``call``, feeding units in order until the feed settles.

    With cases, only whole cases run: ``budget_units(budget_trials, epochs, len(cases))``
    cases x ``epochs`` trials at most (see ``evalspec``).

    Give exactly one of ``feed(value)`` and ``feed_unit(index, value)``; both return the
    settled verdict name, or None to go on. ``index`` is the unit's index: the trial index
    without cases, else the case's position in ``case_order(cases, session_seed, nodeid, first_cases)``.
    ``on_skip(index)``, if given, is called for each consumed unit that is not fed, so that
    with both, every unit ``0, 1, 2, ...`` of the consumed prefix gets exactly one call, in
    index order, never two at once. Calls stop once the feed settles.

    ``error_alpha`` (the plugin always gives it): the budget counts outcomes, so error trials
    add trials (up to ``error_budget.error_headroom``) instead of eating the budget, and the run
    aborts for errors only when ``ErrorRateTest`` shows at that level that the error rate is above
    ``max_error_rate`` (or the headroom is spent). Without it, the older rule: abort once errors
    exceed ``max_error_rate * budget_trials``.

    Async trials run through ``on_loop`` (see "Event loops"), by default on a fresh loop.
    """
    unit_feed = _unit_feed(feed, feed_unit)
    _check_arguments(budget_trials, cases, epochs, concurrency, timeout)
    order = None if cases is None else case_order(cases, session_seed, nodeid, first_cases)
    n_trials = budget_units(budget_trials, epochs, None if order is None else len(order)) * epochs
    run = _Run(order, epochs, n_trials, (session_seed, nodeid), unit_feed, on_skip, max_error_rate, error_alpha)
    if is_async:
        (on_loop or _run_loop)(lambda: _drive_async(run, call, concurrency, timeout))
    elif concurrency == 1 and timeout is None:
        _drive_inline(run, call)
    else:
        _PoolDriver(run, call, concurrency, timeout).drive()
    return run.result()


def _unit_feed(feed: Feed | None, feed_unit: FeedUnit | None) -> FeedUnit:
    if feed_unit is not None and feed is None:
        return feed_unit
    if feed is None or feed_unit is not None:
        raise TypeError("run_trials() takes exactly one of feed= and feed_unit=")

    def feed_value(index: int, value: float) -> str | bool | None:
        return feed(value)

    return feed_value


def _check_arguments(
    budget_trials: int, cases: Sequence[Case] | None, epochs: int, concurrency: int, timeout: float | None
) -> None:
    """Programming errors of the caller (``evalspec`` has already checked user input)."""
    if budget_trials < 0 or epochs < 1 or concurrency < 1:
        raise ValueError(
            f"need budget_trials >= 0, epochs >= 1, concurrency >= 1; got {budget_trials}, {epochs}, {concurrency}"
        )
    if cases is None and epochs != 1:
        raise ValueError("epochs > 1 needs cases")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
