"""An eval's texts: its report line and the failure text of a non-PASS item (every text scrubbed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.evals.basics import CRITERION_LABEL

if TYPE_CHECKING:
    from pytest_rollout.evals.criteria import Comparison
    from pytest_rollout.evals.runner import EvalOptions
    from pytest_rollout.models import EvalResult


def failure_text(result: EvalResult) -> str:
    """A non-PASS verdict as the item's failure: the report line and replayable failing trials."""
    lines = [f"{result.verdict}: {result.line}"]
    if result.failing_trials:
        lines.append(f"first failing trials (replay with --rollout-seed {result.seed}):")
        lines += [f"  {t}" for t in result.failing_trials]
    return scrub_text("\n".join(lines))


def failing(records: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for r in records:
        if r.outcome in ("fail", "error") and len(out) < 3:
            case = f" case={r.case_id}" if r.case_id is not None else ""
            kind = "error " + (r.error_kind or "") if r.outcome == "error" else "fail"
            out.append(scrub_text(f"trial {r.index}{case} seed={r.seed}: {kind}: {r.message or ''}".rstrip()))
    return out


def report_line(
    result: EvalResult, basis: str, comparison: Comparison | None = None, opts: EvalOptions | None = None
) -> str:
    """``pass rate 0.85 [0.74, 0.93] vs 0.80 (margin 0.05)  n=142/300, stopped early  (SPRT ...)``."""
    parts = []
    if result.criterion != "max_regression" or result.estimate is not None:
        label = CRITERION_LABEL.get(result.criterion, result.criterion)
        est = f"{label} n/a"
        if result.estimate is not None and result.interval is not None:
            lo, hi = result.interval
            est = f"{label} {result.estimate:.2f} [{lo:.2f}, {hi:.2f}]"
        if result.threshold is not None:
            est += f" vs {result.threshold:.2f} (margin {result.margin:.2f})"
        parts.append(est)
    if comparison is not None:
        parts.append(change_text(result, comparison))
    if result.criteria:
        parts = [f"{part} {verdict}" for part, verdict in zip(parts, result.criteria.values(), strict=True)]
    elif opts is not None and opts.missing_baseline and result.criterion != "max_regression":
        parts.append("max_regression not checked: no baseline")
    size = f"n={result.n}/{result.budget}"
    if result.cases is not None:
        epochs = f"{result.epochs} epoch{'' if result.epochs == 1 else 's'}"
        size = f"{result.cases} cases x {epochs}, n={result.n}/{result.budget}"
    if result.stopped_early:
        size += ", stopped early"
    if result.errors:
        size += f", {result.errors} error trial{'s' if result.errors != 1 else ''}"
    return f"{'; '.join(parts)}  {size}  ({basis})"


def change_text(result: EvalResult, comparison: Comparison) -> str:
    b = comparison.baseline
    if result.change is None or result.change_interval is None:
        head = "change vs baseline n/a"
    else:
        lo, hi = result.change_interval
        head = f"change vs baseline {result.change:+.2f} [{lo:+.2f}, {hi:+.2f}]"
    delta = -comparison.monitor.design.max_drop
    how = f"paired on {comparison.fed} cases" if comparison.paired else f"unpaired, {comparison.fed} trial pairs"
    extra = (
        f", {comparison.added} new and {comparison.removed} dropped cases"
        if comparison.added or comparison.removed
        else ""
    )
    return f"{head} >= {delta:+.2f} ({how}{extra}, baseline {b.commit[:7]} run {b.run_id})"
