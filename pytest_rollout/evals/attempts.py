"""Running one trial of the test body, sync or async, into a ``TrialRecord``.

Every ``Exception`` of the body becomes a record (``records.record``); a ``BaseException`` that is
not an ``Exception`` (``KeyboardInterrupt``, pytest's outcomes) propagates and stops the run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from time import perf_counter
from typing import Any

from pytest_rollout.evals.records import Trial, TrialRecord, passed, record, timed_out


def run_sync_trial(call: Callable[[Trial], Any], trial: Trial) -> TrialRecord:
    start = perf_counter()
    try:
        result = call(trial)
        if result is not None:  # a sync body returns None: only then is the awaitable check needed
            refuse_awaitable(result)
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return record(trial, exc, perf_counter() - start)
    return passed(trial, perf_counter() - start)


def refuse_awaitable(result: object) -> None:
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


def awaitable(result: Any) -> Any:
    """What an async eval's body returned, refused with a ``TypeError`` unless it can be awaited.

    Without a timeout the driver awaits it itself (``drivers._work``: no coroutine or task per
    trial beyond the body's own) and records what it raises with ``record``."""
    if not inspect.isawaitable(result):
        raise TypeError(f"an async eval's body must return an awaitable, got {type(result).__name__}")
    return result


async def _await_body(call: Callable[[Trial], Any], trial: Trial) -> None:
    try:
        await awaitable(call(trial))
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise _BodyTimeout(exc) from exc


async def run_timed_trial(call: Callable[[Trial], Any], trial: Trial, timeout: float) -> TrialRecord:
    """An async trial under ``asyncio.wait_for``, which keeps the body's own ``TimeoutError``
    (an error trial of its kind) apart from the trial's (``timed_out``)."""
    start = perf_counter()
    try:
        await asyncio.wait_for(asyncio.ensure_future(_await_body(call, trial)), timeout)  # its own task (drivers._work)
    except _BodyTimeout as wrapped:
        return record(trial, wrapped.original, perf_counter() - start)
    except asyncio.TimeoutError:
        return timed_out(trial, timeout, perf_counter() - start)
    except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
        return record(trial, exc, perf_counter() - start)
    return passed(trial, perf_counter() - start)
