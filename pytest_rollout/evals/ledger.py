"""The ordered ledger of one eval's run: hands out trials and consumes finished ones in index order.

The drivers (``drivers.py``) only decide *when* trials run; everything that reaches the statistic
goes through ``Ledger.complete``, which is why timing cannot change a verdict (see ``trials.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from pytest_rollout.evals.error_budget import ErrorRateTest, error_headroom
from pytest_rollout.evals.markers import Case
from pytest_rollout.evals.records import Trial, TrialRecord
from pytest_rollout.evals.seeds import trial_seed

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
        self._order, self._epochs, self._seeding = order, epochs, seeding
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
        self._next = 0  # next trial index to hand out
        self._frontier = 0  # first trial index not yet consumed
        self._done: dict[int, TrialRecord] = {}
        self._units_used = self._errors = 0
        self._settled: str | None = None
        self._aborted = False
        self._halt: BaseException | None = None
        self._max_cost, self._spent, self._cost_stop = max_cost, 0.0, False

    @property
    def stopped(self) -> bool:
        return self._settled is not None or self._aborted or self._cost_stop

    @property
    def halted(self) -> bool:
        return self._halt is not None

    def next_trial(self) -> Trial | None:
        """The next trial to start, or None once settled, aborted, halted or out of budget."""
        if self.stopped or self._halt is not None or self._next >= self.n_trials:
            return None
        if self._error_test is not None and self._next // self._epochs >= self._unit_budget + self._skipped:
            return None  # enough units handed out for the outcome budget (errors may ask for more later)
        if self._max_cost is not None and self._would_overspend():
            self._cost_stop = True
            return None
        trial = self._make_trial(self._next)
        self._next += 1
        return trial

    def _make_trial(self, index: int) -> Trial:
        seed = trial_seed(self._seeding[0], self._seeding[1], index)
        if self._order is None:
            return Trial(index=index, seed=seed)
        case = self._order[index // self._epochs]
        return Trial(index=index, seed=seed, case=case.value, case_id=case.id, epoch=index % self._epochs)

    def _would_overspend(self) -> bool:
        """Whether starting one more trial would take the spend past ``max_cost``, each trial in flight
        and the new one counted at the mean cost of the trials finished so far."""
        finished = len(self._done)
        if not finished or not self._spent:
            return False  # nothing is known about the cost yet
        assert self._max_cost is not None
        in_flight = self._next - finished
        return self._spent + self._spent / finished * (in_flight + 1) > self._max_cost

    def complete(self, record: TrialRecord) -> None:
        self._spent += record.cost
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
        if record.index not in self._done:
            self._spent += record.cost
            self._done[record.index] = record

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
            cost_limited=self._cost_stop and self._settled is None and not self._aborted,
        )
