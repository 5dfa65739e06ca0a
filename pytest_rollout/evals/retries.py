"""Retrying a trial whose body hit a transient error (a rate limit, a dropped connection).

``eval(retries=N)`` retries such an exception up to N times before the trial is recorded, with
exponential backoff and jitter: before retry k (k = 0, 1, ...) it waits
``d/2 + uniform(0, d/2)`` seconds with ``d = min(backoff * 2**k, MAX_DELAY)``. The retried
attempt is the same trial: the same index, case and **seed** (``trial.seed`` does not change,
so a seeded model call is repeated, not resampled). Its score and notes start over; its usage
adds up (the failed call may have been billed). The jitter is drawn from the trial's seed and
the attempt, so a replay waits as long as the run it replays.

What is retried (``retry_on=``, default ``is_transient``): exceptions whose class (or a base
class) is named ``RateLimitError``, ``APIConnectionError``, ``APITimeoutError`` or
``ServiceUnavailableError`` (the OpenAI, Anthropic, Mistral, LiteLLM client names); an exception
with an HTTP status 408, 429, 502, 503, 504 or 529 (``status_code``, ``status``, or
``response.status_code``); ``ConnectionError`` and ``TimeoutError``. An ``AssertionError``
is never retried: retrying failures until one passes would inflate the pass rate.

What an exception that is still raised after the last retry counts as is decided as without
retries, by ``errors=`` (``bodies.failures_from_exceptions``): an error trial (no outcome)
or a failed trial. ``timeout=`` bounds a whole trial, its retries and waits included.

Nothing here runs when ``retries=0`` (the default): the body is called as it is.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.records import Trial

#: Class names (anywhere in the exception's MRO) of the common LLM clients' transient errors.
TRANSIENT_NAMES = frozenset({"RateLimitError", "APIConnectionError", "APITimeoutError", "ServiceUnavailableError"})
#: HTTP statuses worth another attempt: request timeout, rate limit, bad gateway, unavailable, gateway
#: timeout, overloaded (Anthropic's 529).
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504, 529})
#: The longest single wait, in seconds, whatever ``backoff`` and the attempt.
MAX_DELAY = 60.0

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries: ``status_code``, ``status`` or ``response.status_code``."""
    for holder in (exc, getattr(exc, "response", None)):
        for name in ("status_code", "status"):
            value = getattr(holder, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def is_rate_limit(exc: BaseException) -> bool:
    """A rate-limit or overload error of an LLM client: by class name or HTTP status."""
    if any(cls.__name__ in TRANSIENT_NAMES for cls in type(exc).__mro__):
        return True
    return http_status(exc) in TRANSIENT_STATUSES


def is_transient(exc: BaseException) -> bool:
    """The default ``retry_on``: rate limits, overloads, dropped connections, timeouts."""
    if isinstance(exc, AssertionError):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError)) or is_rate_limit(exc)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts of an exception ``retry_on`` accepts; ``sleep``s are injectable for tests."""

    retries: int
    retry_on: Callable[[BaseException], bool] = is_transient
    backoff: float = 1.0
    sleep: Sleep = time.sleep
    async_sleep: AsyncSleep = asyncio.sleep

    def delay(self, trial: Trial, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based): exponential, capped, half of it jittered."""
        full = min(self.backoff * 2.0**attempt, MAX_DELAY)
        jitter = random.Random(f"retry\0{trial.seed}\0{trial.index}\0{attempt}").random()
        return full / 2 + jitter * full / 2

    def should_retry(self, exc: Exception, trial: Trial) -> bool:
        return trial.retries < self.retries and not isinstance(exc, AssertionError) and self.retry_on(exc)


def classes_matcher(classes: tuple[type[BaseException], ...]) -> Callable[[BaseException], bool]:
    """``retry_on=(A, B)`` as a predicate."""

    def matches(exc: BaseException) -> bool:
        return isinstance(exc, classes)

    return matches


def spec_policy(spec: EvalSpec) -> RetryPolicy | None:
    """The eval's ``retries=``/``retry_on=``/``backoff=`` as a policy; None without retries."""
    if spec.retries < 1:
        return None
    retry_on = is_transient if spec.retry_on is None else classes_matcher(spec.retry_on)
    return RetryPolicy(retries=spec.retries, retry_on=retry_on, backoff=spec.backoff)


def retrying(call: Callable[[Trial], Any], policy: RetryPolicy | None, is_async: bool) -> Callable[[Trial], Any]:
    """``call`` with transient errors retried under ``policy``; ``call`` itself when there is none."""
    if policy is None or policy.retries < 1:
        return call
    if is_async:

        async def retried_async(trial: Trial) -> Any:
            while True:
                try:
                    result = call(trial)
                    return await result if inspect.isawaitable(result) else result
                except Exception as exc:
                    if not policy.should_retry(exc, trial):
                        raise
                    wait = policy.delay(trial, trial.retries)
                trial.retry()
                await policy.async_sleep(wait)

        return retried_async

    def retried(trial: Trial) -> Any:
        while True:
            try:
                return call(trial)
            except Exception as exc:
                if not policy.should_retry(exc, trial):
                    raise
                wait = policy.delay(trial, trial.retries)
            trial.retry()
            policy.sleep(wait)

    return retried
