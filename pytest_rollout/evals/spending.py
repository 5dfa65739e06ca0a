"""The ``eval`` marker's arguments about spending: ``retries=``, ``retry_on=``, ``backoff=``, ``max_cost=``.

Checked at collection like the rest of the marker (``markers.parse_eval_marker``): a bad value is
a ``MarkerError`` that names the test and the fix, before a single paid call.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from pytest_rollout.evals.markers import _fail, _number


def parse_spending(kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``EvalSpec`` fields of these arguments (only those given)."""
    fields: dict[str, Any] = {}
    retries = _retries(kwargs, where)
    if retries is not None:
        fields["retries"] = retries
    for name in ("retry_on", "backoff"):
        if kwargs.get(name) is not None and not retries:
            raise _fail(where, f"{name}= has no effect without retries=: add retries=3 (further attempts per trial)")
    if kwargs.get("retry_on") is not None:
        fields["retry_on"] = _retry_on(kwargs["retry_on"], where)
    backoff = _number(kwargs, "backoff", where)
    if backoff is not None:
        if not (backoff >= 0 and math.isfinite(backoff)):
            raise _fail(where, f"backoff={backoff!r} is out of range; allowed: finite seconds >= 0 (the first wait)")
        fields["backoff"] = backoff
    max_cost = _number(kwargs, "max_cost", where)
    if max_cost is not None:
        if not (max_cost > 0 and math.isfinite(max_cost)):
            raise _fail(
                where,
                f"max_cost={max_cost!r} is out of range; allowed: a finite number > 0 (what trial.usage(cost=) adds up)",
            )
        fields["max_cost"] = max_cost
    return fields


def _retries(kwargs: Mapping[str, Any], where: str) -> int | None:
    value = kwargs.get("retries")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise _fail(
            where, f"retries= must be an int >= 0 (further attempts of a trial after a transient error), got {value!r}"
        )
    return int(value)


def _retry_on(raw: object, where: str) -> tuple[type[BaseException], ...]:
    items = (raw,) if isinstance(raw, type) else raw
    if (
        not isinstance(items, (tuple, list))
        or not items
        or not all(
            isinstance(c, type) and issubclass(c, Exception) and not issubclass(c, AssertionError) for c in items
        )
    ):
        raise _fail(
            where,
            f"retry_on= takes exception classes (never AssertionError: a failed trial is not retried), "
            f"e.g. retry_on=(RateLimitError, TimeoutError), got {raw!r}; leave it out for the default "
            "(rate limits, connection errors, timeouts)",
        )
    return tuple(items)
