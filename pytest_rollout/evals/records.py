"""One trial: what the test body gets (``Trial``) and what it leaves behind (``TrialRecord``).

An ``AssertionError`` fails a trial; any other ``Exception`` (and a timeout) is an error trial.
A record's message (the first line of the exception) goes through ``redact.scrub_text`` before
it is cut to ``MESSAGE_LIMIT``: it ends up in failure texts, JSON reports and junitxml.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.evals.values import trial_value

Outcome = Literal["pass", "fail", "error"]

TIMEOUT_KIND = "Timeout"
CANCELLED_KIND = "Cancelled"
MESSAGE_LIMIT = 300


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


def _checked_score(x: object) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"trial.score() takes a number in [0, 1], got {x!r}")
    value = float(x)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"trial.score({x!r}) is out of range: scores are in [0, 1]")
    return value


def record(trial: Trial, exc: Exception | None, duration: float) -> TrialRecord:
    """pass = 1.0 and fail = 0.0 unless the body recorded a score; errors carry no value."""
    if exc is None or isinstance(exc, AssertionError):
        outcome: Outcome = "pass" if exc is None else "fail"
        score = trial_value(outcome, trial.recorded_score)
        return _make(trial, outcome, score, None, None if exc is None else _first_line(exc), duration)
    return _make(trial, "error", None, type(exc).__name__, _first_line(exc), duration)


def timed_out(trial: Trial, timeout: float, duration: float) -> TrialRecord:
    return _make(trial, "error", None, TIMEOUT_KIND, f"no result within timeout={timeout:g}s", duration)


def cancelled(trial: Trial, duration: float) -> TrialRecord:
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
