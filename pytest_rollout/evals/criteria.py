"""Feeding an eval's criteria: the absolute monitor and the baseline comparison, unit by unit.

``feeder`` is the one callback the trial runner sees; it stops at the first FAIL or when every
criterion is settled. ``Comparison`` pairs each unit with the stored baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_rollout.baselines.store import Baseline
    from pytest_rollout.evals.verdicts import Monitor


class Comparison:
    """``max_regression``: pairs each unit with the baseline by case id, else with a seeded draw.

    Paired: the candidate's units come in the one seeded random order of its current case set;
    a case the baseline does not know is skipped by this criterion (the absolute one still uses
    it). Unpaired (no case ids on one side): the i-th unit is compared with an independent,
    seeded draw (with replacement) from the baseline's stored values. Stored values come in
    per-case blocks when the baseline was recorded with ``cases=``, so index pairing would not
    be random; a draw is i.i.d. whatever the order, and the test stays valid for the baseline's
    mean (``verdicts.baseline_draws``).
    """

    def __init__(
        self, baseline: Baseline, unit_ids: list[str] | None, monitor_for: Callable[[int], Any], draw_seed: int
    ) -> None:
        self.baseline = baseline
        self.paired = unit_ids is not None and bool(baseline.case_means)
        if self.paired:
            assert unit_ids is not None
            self.refs = [baseline.case_means.get(cid) for cid in unit_ids]
            self.added = sum(1 for r in self.refs if r is None)
            self.removed = len(set(baseline.case_means) - set(unit_ids))
        else:
            from pytest_rollout.evals.verdicts import baseline_draws

            self.refs = list(baseline_draws(baseline.values, draw_seed))
            self.added = self.removed = 0
        self.pairable = sum(1 for r in self.refs if r is not None)
        self.monitor = monitor_for(max(self.pairable, 1))
        self.fed = 0

    def update(self, index: int, x: float) -> None:
        from pytest_rollout.evals.verdicts import regression_unit

        ref = self.refs[index] if index < len(self.refs) else None
        if ref is not None:
            self.monitor.update(regression_unit(x, ref))
            self.fed += 1

    @property
    def exhausted(self) -> bool:
        return self.fed >= self.pairable


def feeder(absolute: Any, comparison: Comparison | None) -> Callable[[int, float], str | None]:
    """Feed each unit to every criterion; stop at the first FAIL or when all are settled.

    The runner names each unit's index (its case's position in the case order), so a
    case whose every epoch errored is skipped without shifting the baseline pairing.
    With the absolute criterion alone its monitor's decision is the answer (``Monitor.update``
    returns it), so that feed builds no list per unit.
    """
    if comparison is None and absolute is not None:
        update = absolute.update

        def feed_absolute(index: int, x: float) -> str | None:
            return update(x)  # type: ignore[no-any-return]

        return feed_absolute

    def feed(index: int, x: float) -> str | None:
        if absolute is not None:
            absolute.update(x)
        if comparison is not None:
            comparison.update(index, x)
        states = [m.decided for m in monitors(absolute, comparison)]
        if "FAIL" in states:
            return "FAIL"
        if comparison is not None and comparison.exhausted and comparison.monitor.decided is None:
            return None if absolute is not None and absolute.decided is None else "EXHAUSTED"
        return "PASS" if states and all(s == "PASS" for s in states) else None

    return feed


def monitors(absolute: Monitor | None, comparison: Comparison | None) -> list[Monitor]:
    """The criteria's monitors that exist for this eval."""
    found = [absolute] if absolute is not None else []
    return found + ([comparison.monitor] if comparison is not None else [])


def record_all(feed: Callable[[int, float], str | None]) -> Callable[[int, float], None]:
    def record_all(index: int, x: float) -> None:
        feed(index, x)  # the criteria still decide; the run goes on to the budget

    return record_all


def basis(absolute: Any, comparison: Comparison | None) -> str:
    """The decision rule of each criterion and what its printed interval is."""
    if comparison is None:
        return f"{absolute.basis()}, {absolute.bounds_label()}" if absolute is not None else "no criterion"
    parts = [f"{absolute.design.criterion}: {absolute.basis()}"] if absolute is not None else []
    monitor = comparison.monitor
    return "; ".join([*parts, f"max_regression: {monitor.basis()}"]) + f", intervals {monitor.bounds_label()}"
