"""Whether each eval's budget can decide, per criterion: the collection-time warning and the
rows of ``pytest-rollout budget``.

An eval cannot decide in its budget when a run at a design point (the threshold, or a margin
below it) ends INCONCLUSIVE (a red build by default) more often than 1 - confidence. The numbers
come from ``verdicts.needs`` (exact DP for 0/1 units, a seeded simulation of the betting test
otherwise), at the eval's corrected alpha, so the family size counts. The betting criteria need
the unit variance: the stored baseline's when there is one, else the largest a [0, 1] unit can
have at the design point (0/1 outcomes), and the message says which.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_rollout.baselines.store import Baseline
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.verdicts.needs import Need


@dataclass(frozen=True)
class BudgetRow:
    """One criterion of one eval: what it has, what it needs (both in trials), and why."""

    criterion: str
    design: str  # "pass_rate 0.80 (margin 0.05, a=0.05, b=0.05)"
    trials: int  # the eval's runnable trials
    needed_trials: int | None  # trials that decide (None: not computed, see ``note``)
    inconclusive: float | None  # P(INCONCLUSIVE) at the worse design point with the eval's budget
    expected_trials: float | None
    variance: str  # where the unit variance comes from
    rule: str = ""  # what "decides" means for this test
    note: str = ""  # e.g. too few cases, or too large to compute at collection

    @property
    def decides(self) -> bool:
        return self.needed_trials is not None and self.trials >= self.needed_trials and not self.note


def budget_rows(spec: EvalSpec, family_size: int, correction: str, baseline: Baseline | None = None) -> list[BudgetRow]:
    """One row per criterion of the eval (the absolute one, then max_regression)."""
    from pytest_rollout.evals.runner import eval_alpha

    alpha = eval_alpha(spec, family_size, correction, both=bool(spec.criterion) and spec.max_regression is not None)
    beta = 1 - spec.resolved_power
    rows = []
    if spec.criterion and spec.threshold is not None:
        rows.append(_absolute_row(spec, alpha, beta, baseline))
    if spec.max_regression is not None:
        rows.append(_regression_row(spec, alpha, beta, baseline))
    return rows


def budget_warnings(spec: EvalSpec, family_size: int, correction: str, baseline: Baseline | None = None) -> list[str]:
    """The warning text of each criterion that cannot decide in the eval's budget."""
    return [warning_text(row) for row in budget_rows(spec, family_size, correction, baseline) if not row.decides]


def warning_text(row: BudgetRow) -> str:
    head = f"eval budget: {row.design} with trials={row.trials}"
    if row.needed_trials is None:
        return f"{head}: {row.note}"
    open_ = (
        ""
        if row.inconclusive is None
        else f": a run at a design point ends INCONCLUSIVE {row.inconclusive:.0%} of the time"
    )
    spend = "" if row.expected_trials is None else f", spending ~{row.expected_trials:.0f} trials on average"
    note = f"; {row.note}" if row.note else ""
    return (
        f"{head} cannot decide{open_} (a red build). trials={row.needed_trials} decides ({row.rule}){spend}. "
        f"Unit variance: {row.variance}{note}"
    )


def _label(name: str, threshold: float, margin: float, alpha: float, beta: float) -> str:
    return f"{name} {threshold:g} (margin {margin:g}, a={alpha:.2g}, b={beta:.2g})"


def _absolute_row(spec: EvalSpec, alpha: float, beta: float, baseline: Baseline | None) -> BudgetRow:
    from pytest_rollout.evals.verdicts import needs

    assert spec.criterion is not None and spec.threshold is not None
    label = _label(spec.criterion, spec.threshold, spec.margin, alpha, beta)
    tolerance = 1 - spec.confidence
    if spec.criterion == "pass_rate" and spec.epochs == 1:  # 0/1 units: the count SPRT, exact
        need = needs.count_need(spec.threshold, spec.margin, alpha, beta, spec.units_budget)
        source = "0/1 trials (exact DP)" if spec.cases is None else "0/1 cases, one epoch (exact DP)"
        return _row(spec, "pass_rate", label, need, source, "never INCONCLUSIVE")
    variance, source = _unit_variance(spec, baseline, spec.threshold)
    need = needs.betting_need(spec.threshold, spec.margin, alpha, beta, spec.units_budget, variance, tolerance)
    return _row(spec, spec.criterion, label, need, source)


def _regression_row(spec: EvalSpec, alpha: float, beta: float, baseline: Baseline | None) -> BudgetRow:
    from pytest_rollout.evals.verdicts import design_for, needs

    assert spec.max_regression is not None
    delta = spec.max_regression
    label = _label("max_regression", delta, spec.margin, alpha, beta)
    design = design_for("max_regression", delta, spec.margin, alpha, beta, spec.units_budget)
    var_d, source = _difference_variance(spec, baseline)
    need = needs.betting_need(
        design.threshold, design.margin, alpha, beta, spec.units_budget, var_d / 4, 1 - spec.confidence
    )
    return _row(spec, "max_regression", label, need, source)


def _row(spec: EvalSpec, criterion: str, label: str, need: Need, source: str, rule: str = "") -> BudgetRow:
    per_unit = spec.epochs if spec.cases is not None else 1
    if not need.cheap:
        size = (need.approximate_needed or 0) * per_unit
        if rule:  # the count SPRT: the closed-form calibrated minimum
            note = f"needs about trials={size} (1.25 x the fixed n): too large to calibrate cheaply at collection"
        else:
            note = f"a fixed-n test needs about trials={size} and the betting test up to ~1.5x that: too large to simulate cheaply at collection"
        return BudgetRow(criterion, label, spec.trials_budget, None, None, None, source, rule, note)
    rule = rule or f"INCONCLUSIVE at most {1 - spec.confidence:.0%} of the time"
    needed = None if need.needed is None else need.needed * per_unit
    note = ""
    if need.needed is None:
        note = "needs more units than a collection-time simulation runs"
    elif spec.cases is not None and need.needed > len(spec.cases):
        note = f"needs {need.needed} cases, the eval has {len(spec.cases)}: add cases or epochs"
    expected = None if need.expected is None else need.expected * per_unit
    inconclusive = need.inconclusive
    return BudgetRow(criterion, label, spec.trials_budget, needed, inconclusive, expected, source, rule, note)


def _unit_variance(spec: EvalSpec, baseline: Baseline | None, threshold: float) -> tuple[float, str]:
    """Variance of one unit (a score, or a case mean) for the betting criteria."""
    if baseline is not None:
        means = list(baseline.case_means.values()) if spec.cases is not None else []
        values = means if len(means) >= 2 else baseline.values
        if len(values) >= 2:
            kind = "case means" if values is means else "trials"
            return statistics.variance(values), f"measured on the stored baseline ({len(values)} {kind})"
    return threshold * (1 - threshold), "assumed 0/1-like units, the largest (no stored baseline measures it)"


def _difference_variance(spec: EvalSpec, baseline: Baseline | None) -> tuple[float, str]:
    """Variance of d = candidate - baseline per unit, if nothing changed.

    Paired by case: the case spread cancels and d carries the within-case noise of both sides,
    2 sigma_w^2 / epochs, sigma_w^2 bounded by the mean of m (1 - m) over the baseline's case means
    (bias-corrected); unpaired: twice the variance of the stored values. Without a baseline:
    unpaired 0/1 outcomes at the eval's threshold (0.5 without one), the largest."""
    if baseline is not None and len(baseline.values) >= 2:
        epochs = max(baseline.epochs or 1, 1)
        if spec.cases is not None and baseline.case_means and epochs >= 2:
            spread = statistics.fmean(m * (1 - m) for m in baseline.case_means.values()) * epochs / (epochs - 1)
            return 2 * spread / spec.epochs, f"measured on the stored baseline ({baseline.cases} cases, paired)"
        return 2 * statistics.variance(baseline.values), f"measured on the stored baseline ({baseline.n} trials)"
    p = spec.threshold if spec.threshold is not None else 0.5
    return 2 * p * (1 - p), "assumed unpaired 0/1 outcomes, the largest (no stored baseline measures it)"
