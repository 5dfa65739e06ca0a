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

Event loops. Async trials run on one event loop, ``concurrency`` at a time (in the eval's own
task when ``concurrency=1``, else on that many worker tasks; no task per trial): the
loop the caller names with ``on_loop`` (the plugin passes the loop the test would have run
on: pytest-asyncio's for its ``loop_scope``, anyio's), else a fresh one (``asyncio.run``; on
a worker thread if this thread already runs a loop). A trial past its timeout is cancelled.
When the eval stops (settled, aborted for errors, a ``BaseException``, or the eval itself
cancelled), the trials still in flight are cancelled and awaited, and recorded with
``used=False``: no task is left pending and no exception goes unretrieved.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any

from pytest_rollout.evals.drivers import PoolDriver, drive_async, drive_inline, run_loop
from pytest_rollout.evals.ledger import FeedUnit, Ledger, OnSkip, RunResult
from pytest_rollout.evals.markers import Case, budget_units
from pytest_rollout.evals.records import Trial, TrialRecord
from pytest_rollout.evals.seeds import case_order, trial_seed

__all__ = [
    "Feed",
    "FeedUnit",
    "OnLoop",
    "OnSkip",
    "RunResult",
    "Trial",
    "TrialRecord",
    "case_order",
    "run_trials",
    "trial_seed",
]

#: Called with each unit's value in unit-index order. Returns the settled verdict name
#: ("PASS"/"FAIL") to stop, or None to go on. ``True`` also stops (settled = "SETTLED").
Feed = Callable[[float], "str | bool | None"]
#: Runs ``make()`` to completion on an event loop: ``on_loop(make)``. ``make`` returns a new
#: coroutine each call, so a runner that refuses (wrong thread, wrong library) leaks nothing.
OnLoop = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]


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
    max_cost: float | None = None,
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

    ``max_cost``: no trial starts once the cost reported so far (``trial.usage(cost=)``), with the
    trials in flight and the new one counted at the mean cost per finished trial, would pass it;
    a run stopped that way before settling has ``cost_limited``. Serial runs stop at the same
    trial every time; with ``concurrency > 1`` where it stops depends on which trials finished.
    """
    unit_feed = _unit_feed(feed, feed_unit)
    _check_arguments(budget_trials, cases, epochs, concurrency, timeout)
    order = None if cases is None else case_order(cases, session_seed, nodeid, first_cases)
    n_trials = budget_units(budget_trials, epochs, None if order is None else len(order)) * epochs
    run = Ledger(
        order, epochs, n_trials, (session_seed, nodeid), unit_feed, on_skip, max_error_rate, error_alpha, max_cost
    )
    if is_async:
        (on_loop or run_loop)(lambda: drive_async(run, call, concurrency, timeout))
    elif concurrency == 1 and timeout is None:
        drive_inline(run, call)
    else:
        PoolDriver(run, call, concurrency, timeout).drive()
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
