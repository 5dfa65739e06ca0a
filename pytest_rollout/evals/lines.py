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


#: Failing trials an eval shows unless ``--rollout-failures N`` says otherwise.
DEFAULT_FAILURES = 3
#: Characters of a trial's note shown on its failing-trial line (the whole note is in the JSON report).
NOTE_SHOWN = 120


def failing(records: Sequence[Any], limit: int = DEFAULT_FAILURES) -> list[str]:
    """The first ``limit`` failing or error trials, each with its seed and the start of its note."""
    out: list[str] = []
    for r in records:
        if len(out) >= limit:
            break
        if r.outcome in ("fail", "error"):
            case = f" case={r.case_id}" if r.case_id is not None else ""
            kind = "error " + (r.error_kind or "") if r.outcome == "error" else "fail"
            line = f"trial {r.index}{case} seed={r.seed}: {kind}: {r.message or ''}".rstrip()
            if r.note:
                first = r.note.strip().splitlines()[0] if r.note.strip() else ""
                line += f" | note: {first[:NOTE_SHOWN]}{'…' if len(first) > NOTE_SHOWN else ''}"
            out.append(scrub_text(line))
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
    if result.retries:
        size += f", {result.retries} retr{'ies' if result.retries != 1 else 'y'}"
    if result.verdict == "COST_LIMIT":
        parts.append(f"stopped at max_cost={result.max_cost:g}: the next trial would pass it")
    line = f"{'; '.join(parts)}  {size}  ({basis})"
    if result.usage is not None:
        from pytest_rollout.report import usage_text

        line += f"  usage: {usage_text(result.usage)}"
    return line


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
