"""What one eval's trial records add up to besides the verdict: per-case results and usage.

Per case (evals with ``cases=``), over the consumed prefix (the trials that fed the verdict):
its n, error trials, mean value, the baseline's mean for that case and the change. Cases that
got worse than the baseline come first (largest drop first), then the others from the lowest
mean up: the top of the list is where to look. Usage counts every trial that ran, used or not,
because every call was paid for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pytest_rollout.evals import values
from pytest_rollout.models import CaseResult, TrialValue, Usage

if TYPE_CHECKING:
    from pytest_rollout.evals.records import TrialRecord


def case_results(used: Sequence[TrialRecord], baseline: Mapping[str, float] | None) -> list[CaseResult] | None:
    """Per case of the consumed prefix, worse-than-baseline first; None without case ids."""
    groups: dict[str, list[TrialRecord]] = {}
    for r in used:
        if r.case_id is not None:
            groups.setdefault(r.case_id, []).append(r)
    if not groups:
        return None
    rows = [_case(case, records, (baseline or {}).get(case)) for case, records in groups.items()]
    return sorted(rows, key=_worst_first)


def _case(case: str, records: list[TrialRecord], reference: float | None) -> CaseResult:
    values = [r.score for r in records if r.outcome != "error" and r.score is not None]
    mean = math.fsum(values) / len(values) if values else None
    change = None if mean is None or reference is None else mean - reference
    return CaseResult(
        case=case,
        n=len(records),
        errors=sum(r.outcome == "error" for r in records),
        mean=mean,
        baseline=reference,
        change=change,
        worse=change is not None and change < 0,
    )


def _worst_first(row: CaseResult) -> tuple[int, float, float, str]:
    if row.worse:
        assert row.change is not None
        return (0, row.change, 0.0, row.case)
    return (1, 0.0, math.inf if row.mean is None else row.mean, row.case)


def eval_usage(records: Sequence[TrialRecord]) -> Usage | None:
    """Tokens and cost over every trial that ran; None when no trial reported usage."""
    reported = [r.usage for r in records if r.usage is not None]
    if not reported:
        return None
    return Usage(
        input_tokens=sum(u[0] for u in reported),
        output_tokens=sum(u[1] for u in reported),
        cost=math.fsum(u[2] for u in reported),
        trials=len(reported),
    )


def trial_value(r: TrialRecord) -> TrialValue:
    """A record of the consumed prefix as the JSON report shows it."""
    value = values.trial_value(r.outcome, r.score)
    if r.note is None and not r.retries:
        return TrialValue(index=r.index, case=r.case_id, epoch=r.epoch, value=value)
    return TrialValue(index=r.index, case=r.case_id, epoch=r.epoch, value=value, note=r.note, retries=r.retries)
