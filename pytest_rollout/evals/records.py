"""One trial: what the test body gets (``Trial``) and what it leaves behind (``TrialRecord``).

An ``AssertionError`` fails a trial; any other ``Exception`` (and a timeout) is an error trial.
A record's message (the first line of the exception) goes through ``redact.scrub_text`` before
it is cut to ``MESSAGE_LIMIT``: it ends up in failure texts, JSON reports and junitxml.

Trial data. ``trial.note(text)`` keeps a model output or a message with the trial: the notes of
a trial are joined, redacted (``scrub_text``) and cut to ``NOTE_LIMIT`` characters when its
record is made, masked before the cut as messages are; text past ``NOTE_SCAN`` characters is
dropped before masking (a bound on the scrubber's work per trial). ``trial.usage(...)`` adds
tokens and cost. A trial that calls neither pays nothing for them: no list, no scrub.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.evals.values import trial_value

Outcome = Literal["pass", "fail", "error"]

TIMEOUT_KIND = "Timeout"
CANCELLED_KIND = "Cancelled"
MESSAGE_LIMIT = 300
#: Characters of a trial's notes kept (after masking), and read before masking.
NOTE_LIMIT = 2000
NOTE_SCAN = 64 * 1024


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
    _notes: list[str] | None = field(default=None, init=False, repr=False)
    _usage: list[float] | None = field(default=None, init=False, repr=False)  # [input, output, cost]
    retries: int = field(default=0, init=False)

    def score(self, x: float) -> None:
        """Record a score in [0, 1] (the last call wins).

        A bad value raises, which makes this an error trial rather than a silently
        clipped score that would bias the statistic.
        """
        self._score = _checked_score(x)

    def note(self, text: object) -> None:
        """Keep ``text`` (a model output, a message) with this trial; several calls are joined by newlines."""
        if self._notes is None:
            self._notes = []
        self._notes.append(text if isinstance(text, str) else str(text))

    def usage(self, *, input_tokens: int = 0, output_tokens: int = 0, cost: float = 0.0) -> None:
        """Add tokens and cost (in your currency) to this trial; several calls add up.

        A bad value (negative, not a number, a bool) raises, like a bad ``score``.
        """
        added = (_count(input_tokens, "input_tokens"), _count(output_tokens, "output_tokens"), _cost(cost))
        if self._usage is None:
            self._usage = [0.0, 0.0, 0.0]
        for i, value in enumerate(added):
            self._usage[i] += value

    @property
    def recorded_score(self) -> float | None:
        return self._score

    def retry(self) -> None:
        """Another attempt of this trial (same seed): its score and notes start over, its usage stays (it was spent)."""
        self.retries += 1
        self._score = None
        self._notes = None


@dataclass(slots=True)
class TrialRecord:
    """One finished trial. ``used``: it lies in the consumed prefix, so a pass/fail fed the
    statistic and an error counted against ``max_error_rate``.

    Not frozen: the ledger sets ``used`` in place when it consumes the record (a frozen record
    cost a copy per trial, and its ``__init__`` four times a plain one's); nothing else writes it.
    """

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
    note: str | None = None
    usage: tuple[int, int, float] | None = None  # (input_tokens, output_tokens, cost) when the body reported any
    retries: int = 0

    @property
    def cost(self) -> float:
        return 0.0 if self.usage is None else self.usage[2]


def _checked_score(x: object) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"trial.score() takes a number in [0, 1], got {x!r}")
    value = float(x)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"trial.score({x!r}) is out of range: scores are in [0, 1]")
    return value


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise ValueError(f"trial.usage({name}={value!r}): token counts are ints >= 0")
    return int(value)


def _cost(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 <= float(value) < math.inf):
        raise ValueError(f"trial.usage(cost={value!r}): a cost is a finite number >= 0")
    return float(value)


def passed(trial: Trial, duration: float) -> TrialRecord:
    """``record(trial, None, duration)``; the common case (no notes, usage or retries) made directly."""
    if trial._notes is None and trial._usage is None and not trial.retries:
        score = trial._score
        return TrialRecord(
            trial.index, trial.case_id, trial.epoch, trial.seed, "pass", 1.0 if score is None else score, None, None,
            duration,
        )  # fmt: skip
    return _make(trial, "pass", trial_value("pass", trial.recorded_score), None, None, duration)


def record(trial: Trial, exc: Exception | None, duration: float) -> TrialRecord:
    """pass = 1.0 and fail = 0.0 unless the body recorded a score; errors carry no value."""
    if exc is None:
        return passed(trial, duration)
    if isinstance(exc, AssertionError):
        score = trial_value("fail", trial.recorded_score)
        return _make(trial, "fail", score, None, _first_line(exc), duration)
    return _make(trial, "error", None, type(exc).__name__, _first_line(exc), duration)


def timed_out(trial: Trial, timeout: float, duration: float) -> TrialRecord:
    return _make(trial, "error", None, TIMEOUT_KIND, f"no result within timeout={timeout:g}s", duration)


def cancelled(trial: Trial, duration: float) -> TrialRecord:
    return _make(trial, "error", None, CANCELLED_KIND, "cancelled: the eval had stopped", duration)


def _make(
    trial: Trial, outcome: Outcome, score: float | None, kind: str | None, message: str | None, duration: float
) -> TrialRecord:
    rec = TrialRecord(trial.index, trial.case_id, trial.epoch, trial.seed, outcome, score, kind, message, duration)
    if trial._notes is None and trial._usage is None and not trial.retries:
        return rec  # the common case: nothing more to carry
    usage = None if trial._usage is None else (int(trial._usage[0]), int(trial._usage[1]), trial._usage[2])
    return replace(rec, note=_note_text(trial._notes), usage=usage, retries=trial.retries)


def _note_text(notes: list[str] | None) -> str | None:
    """The trial's notes, masked, then cut to ``NOTE_LIMIT`` (masked first: half a key no longer looks like one)."""
    if not notes:
        return None
    text = scrub_text("\n".join(notes)[:NOTE_SCAN])
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


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
