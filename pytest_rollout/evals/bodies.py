"""The test body as the trial runner calls it: fixtures bound, exceptions sorted into failures and errors.

Function-scoped fixtures are set up once per eval, not once per trial: a trial is a call of the
test body, so fixtures that must be fresh per trial should be factories.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_rollout.evals.records import Trial


def bind_test_body(func: Callable[..., Any], funcargs: dict[str, Any]) -> Callable[[Trial], Any]:
    """The test function with its fixtures bound; ``trial`` is filled per call."""
    names = [n for n in inspect.signature(func).parameters if n in funcargs]

    def call(trial: Trial) -> Any:
        kwargs = {n: funcargs[n] for n in names}
        if "trial" in kwargs:
            kwargs["trial"] = trial
        return func(**kwargs)

    return call


class MissingScore(Exception):
    """A ``min_score`` trial that passed without ``trial.score(x)``: an error trial, never a 1.0."""


_NO_SCORE = (
    "the body returned without calling trial.score(x): a min_score eval judges scores, "
    "so every trial that does not fail must record one in [0, 1]"
)


def requiring_score(call: Callable[[Trial], Any], is_async: bool) -> Callable[[Trial], Any]:
    def check(trial: Trial) -> None:
        if trial.recorded_score is None:
            raise MissingScore(_NO_SCORE)

    if is_async:

        async def scored_async(trial: Trial) -> Any:
            result = await call(trial)
            check(trial)
            return result

        return scored_async

    def scored(trial: Trial) -> Any:
        result = call(trial)
        if not inspect.isawaitable(result):
            check(trial)
        return result

    return scored


def failures_from_exceptions(
    call: Callable[[Trial], Any],
    errors: tuple[type[BaseException], ...],
    *,
    is_async: bool,
    rate_limits: bool = False,
) -> Callable[[Trial], Any]:
    """The test body with every exception but the named infrastructure ones turned into a failure.

    A JSON parse error of the model's output is the model failing, not the harness: it must count
    as a failed trial, or a bad model would PASS by crashing. Only ``errors`` (the marker's
    ``errors=``, by default timeouts and connection errors) and, with ``rate_limits`` (the default
    when ``errors=`` is not given), rate-limit errors (``retries.is_rate_limit``) stay error
    trials, which carry no outcome and count against ``max_error_rate``.
    """
    from pytest_rollout.evals.retries import is_rate_limit

    def convert(exc: Exception) -> BaseException:
        if isinstance(exc, AssertionError) or isinstance(exc, errors) or (rate_limits and is_rate_limit(exc)):
            return exc
        return TrialFailure(f"{type(exc).__name__}: {exc}")

    async def guarded(awaitable: Any) -> Any:
        try:
            return await awaitable
        except Exception as exc:
            raise convert(exc) from exc

    def wrapped(trial: Trial) -> Any:
        try:
            result = call(trial)
        except Exception as exc:
            raise convert(exc) from exc
        return guarded(result) if is_async and inspect.isawaitable(result) else result

    return wrapped


class TrialFailure(AssertionError):
    """An exception of the body that is not an infrastructure error: the trial failed."""
