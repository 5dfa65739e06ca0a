"""The ordered ledger of one eval's run: hands out trials and consumes finished ones in index order.

The drivers (``drivers.py``) only decide *when* trials run; everything that reaches the statistic
goes through ``Ledger.complete``, which is why timing cannot change a verdict (see ``trials.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pytest_rollout.evals.error_budget import ErrorRateTest, error_headroom
from pytest_rollout.evals.markers import Case
from pytest_rollout.evals.records import Trial, TrialRecord
from pytest_rollout.evals.seeds import trial_seeder

#: Called with a unit's index and value in unit-index order; a verdict name (or True) stops.
FeedUnit = Callable[[int, float], "str | bool | None"]
#: Called with the index of a consumed unit that is not fed (see "One call per consumed unit").
OnSkip = Callable[[int], None]


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
    cost_limited: bool = False  # stopped undecided because the next trial would pass max_cost

    @property
    def completed(self) -> int:
        """Trials in the consumed prefix (errors included): the denominator of the error rate."""
        return sum(record.used for record in self.records)


def error_allowance(max_error_rate: float, n_trials: int) -> int:
    """Errors beyond ``max_error_rate * budget`` end the run: it can no longer finish under the limit.

    The product is floored with a 1e-9 slack so that 0.29 x 100 allows 29 errors, as meant
    (in binary floating point 0.29 * 100 is 28.999999999999996).
    """
    return math.floor(max_error_rate * n_trials + 1e-9)


class Ledger:
    """Hands out trials and consumes finished ones strictly in index order.

    The drivers below only decide *when* trials run; everything that reaches the
    statistic goes through ``complete``, which is why timing cannot change a verdict.

    O(1) work per trial: records sit in a list by trial index, a finished trial at the
    frontier is consumed at once (with few checks while no error rule can end the run), a
    consumed record is marked ``used`` in place, the error-rate test only counts a trial with
    an outcome (``ErrorRateTest.pending``), and handing out a trial is one comparison with
    ``_limit`` (0 once stopped or halted; with the error test it grows when a unit without an
    outcome lets the budget hand out one unit more).
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
        max_cost: float | None = None,
    ) -> None:
        self.n_trials = n_trials
        self._order, self._epochs, self._seed = order, epochs, trial_seeder(*seeding)
        self._feed, self._on_skip = feed, on_skip
        self._allowed_errors = error_allowance(max_error_rate, n_trials)
        # error_alpha given: the budget counts outcomes, errors extend it up to a cap (error_budget.py)
        self._error_test = None if error_alpha is None else ErrorRateTest(max_error_rate, error_alpha)
        self._unit_budget = n_trials // epochs
        self._skipped = 0
        self._cap = n_trials
        if self._error_test is not None:
            self._cap = -(-(n_trials + error_headroom(max_error_rate, n_trials)) // epochs) * epochs
            self.n_trials = self._cap if order is None else min(self._cap, len(order) * epochs)
        self.stopped = False  # settled, aborted for errors, or stopped by max_cost
        self._halt: BaseException | None = None
        self._next = 0  # next trial index to hand out
        self._limit = self._hand_out_limit()
        self._frontier = 0  # first trial index not yet consumed
        # Below this trial index a finished trial at the frontier may skip _advance (see complete)
        self._direct = 0 if epochs > 1 else min(self._unit_budget, self._cap - 1)
        self._records: list[TrialRecord | None] = [None] * self.n_trials  # by index; None: not finished
        self._finished = 0
        self._units_used = self._errors = 0
        self._settled: str | None = None
        self._aborted = False
        self._max_cost, self._spent, self._cost_stop = max_cost, 0.0, False

    @property
    def halted(self) -> bool:
        return self._halt is not None

    def _hand_out_limit(self) -> int:
        """Trials handed out at most; with the error test, only as many units as the outcome
        budget and the units that had no outcome (errors may ask for more later)."""
        if self.stopped or self._halt is not None:
            return 0
        if self._error_test is None:
            return self.n_trials
        return min(self.n_trials, (self._unit_budget + self._skipped) * self._epochs)

    def _stop(self) -> None:
        self.stopped = True
        self._limit = self._direct = 0

    def next_trial(self) -> Trial | None:
        """The next trial to start, or None once settled, aborted, halted or out of budget."""
        index = self._next
        if index >= self._limit:
            return None
        if self._max_cost is not None and self._would_overspend():
            self._cost_stop = True
            self._stop()
            return None
        self._next = index + 1
        if self._order is None:
            return Trial(index=index, seed=self._seed(index))
        case = self._order[index // self._epochs]
        return Trial(index=index, seed=self._seed(index), case=case.value, case_id=case.id, epoch=index % self._epochs)

    def _would_overspend(self) -> bool:
        """Whether starting one more trial would take the spend past ``max_cost``, each trial in flight
        and the new one counted at the mean cost of the trials finished so far."""
        finished = self._finished
        if not finished or not self._spent:
            return False  # nothing is known about the cost yet
        assert self._max_cost is not None
        in_flight = self._next - finished
        return self._spent + self._spent / finished * (in_flight + 1) > self._max_cost

    def complete(self, record: TrialRecord) -> None:
        index = record.index
        if self._max_cost is not None:
            self._count_cost(record)
        self._records[index] = record
        value = record.score
        if index != self._frontier or index >= self._direct or value is None or record.outcome == "error":
            self._advance()
            return
        # The record at the frontier, an outcome, room left, not stopped: neither error rule can
        # end the run here (both are undecided, or the run would have stopped), so it goes
        # straight to the feed; what _advance does with it, without its checks.
        self._frontier = index + 1
        record.used = True
        if self._error_test is not None:
            self._error_test.pending += 1  # update(False), without the call
        self._units_used += 1
        if verdict := self._feed(index, value + 0.0):  # + 0.0: math.fsum([value]) / 1, -0.0 included
            self._settle(verdict)
        if index + 1 < self.n_trials and self._records[index + 1] is not None:  # finished out of order
            self._advance()

    def _advance(self) -> None:
        """Consume every unit at the frontier whose trials have all finished."""
        if self._epochs > 1:
            self._complete_units()
            return
        records = self._records
        index, size = self._frontier, len(records)
        while index < size and (one := records[index]) is not None:
            if self.stopped or self._units_used >= self._unit_budget:
                return
            self._frontier = index + 1
            one.used = True
            self._use(index, [one.outcome == "error"], one.score)
            index += 1

    def _count_cost(self, record: TrialRecord) -> None:
        """The spend and the finished trials ``max_cost`` reads (a record not yet held)."""
        if self._records[record.index] is None:
            self._finished += 1
            self._spent += record.cost

    def _complete_units(self) -> None:
        """Cases with epochs: a unit is consumed once all its epochs have finished."""
        epochs = self._epochs
        while not self.stopped and self._frontier < self.n_trials and self._units_used < self._unit_budget:
            start = self._frontier
            unit = self._records[start : start + epochs]
            if len(unit) < epochs or any(r is None for r in unit):
                return
            self._frontier = start + epochs
            scores = []
            for r in unit:
                assert r is not None
                r.used = True
                if r.score is not None:
                    scores.append(r.score)
            errors = [r is not None and r.outcome == "error" for r in unit]
            self._use(start // epochs, errors, math.fsum(scores) / len(scores) if scores else None)

    def _use(self, index: int, errors: list[bool], value: float | None) -> None:
        """Exactly one call per consumed unit: ``feed`` with its value, else ``on_skip`` with its index.
        ``errors``: which of its trials are error trials; ``value``: the mean of its other trials
        (None: it has none)."""
        self._errors += sum(errors)
        if self._error_test is not None:
            decided = [self._error_test.update(error) for error in errors][-1]
            if value is None:
                self._skipped += 1
                self._limit = self._hand_out_limit()
            out_of_room = self._frontier >= self._cap and self._units_used + (value is not None) < self._unit_budget
            self._aborted = decided or out_of_room
        elif self._errors > self._allowed_errors:
            self._aborted = True
        if self._aborted or value is None:  # the run ends here, or every epoch of this case errored
            if self._aborted:
                self._stop()
            if self._on_skip is not None:
                self._on_skip(index)
            return
        self._units_used += 1
        if verdict := self._feed(index, value + 0.0):
            self._settle(verdict)

    def _settle(self, verdict: str | bool) -> None:
        self._settled = verdict if isinstance(verdict, str) else "SETTLED"
        self._stop()

    def keep(self, record: TrialRecord) -> None:
        """A trial that finished (or was cancelled) after the stop: recorded, never consumed."""
        if self._records[record.index] is None:
            if self._max_cost is not None:
                self._count_cost(record)
            self._records[record.index] = record

    def halt(self, exc: BaseException) -> None:
        """A trial raised a non-``Exception``: start nothing more, re-raise it once in-flight trials end."""
        if self._halt is None:
            self._halt = exc
            self._limit = 0

    def result(self) -> RunResult:
        if self._halt is not None:
            raise self._halt
        return RunResult(
            records=[r for r in self._records if r is not None],
            units_used=self._units_used,
            settled=self._settled,
            stopped_early=self.stopped and self._frontier < self.n_trials and self._units_used < self._unit_budget,
            errors=self._errors,
            aborted_for_errors=self._aborted,
            cost_limited=self._cost_stop and self._settled is None and not self._aborted,
        )
