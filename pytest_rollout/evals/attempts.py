"""Running one trial of the test body, sync or async, into a ``TrialRecord``.

Every ``Exception`` of the body becomes a record (``records.record``); a ``BaseException`` that is
not an ``Exception`` (``KeyboardInterrupt``, pytest's outcomes) propagates and stops the run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from pytest_rollout.evals.records import Trial, TrialRecord, record, timed_out


def run_sync_trial(call: Callable[[Trial], Any], trial: Trial) -> TrialRecord:
    start = time.perf_counter()
    try:
        _refuse_awaitable(call(trial))
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return record(trial, exc, time.perf_counter() - start)
    return record(trial, None, time.perf_counter() - start)


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


async def run_async_trial(call: Callable[[Trial], Any], trial: Trial, timeout: float | None) -> TrialRecord:
    start = time.perf_counter()
    try:
        if timeout is None:
            await _await_body(call, trial)
        else:
            await asyncio.wait_for(_await_body(call, trial), timeout)
    except _BodyTimeout as wrapped:
        return record(trial, wrapped.original, time.perf_counter() - start)
    except asyncio.TimeoutError:
        return timed_out(trial, timeout or 0.0, time.perf_counter() - start)
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return record(trial, exc, time.perf_counter() - start)
    return record(trial, None, time.perf_counter() - start)
