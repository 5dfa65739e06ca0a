"""Render results as text: terminal lines, JSON, GitHub job summary and annotations.

Every function returns strings; callers decide where they go (pytest's
terminal reporter, stdout, a file). Values arrive already redacted; every public
renderer also passes its output through ``redact.scrub_text`` (paths, override
reasons, commit subjects, error messages: whatever a caller put in a text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_rollout.diff.entries import fold_entries
from pytest_rollout.diff.formats import printable_line
from pytest_rollout.diff.redact import scrub_strings, scrub_text
from pytest_rollout.models import Change, Decision, DiffResult, EvalResult, Report, Usage

_WIDTH = 48


def fmt_value(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def fmt_change(c: Change) -> str:
    """``config/app.yaml: llm.model gpt-4-turbo-preview -> gpt-4o``."""
    where = f"{c.path}: {c.key}" if c.key else c.path
    if c.kind == "renamed" and c.key is None:
        return f"{c.old_path} renamed to {c.path}"
    if c.key is None and c.diff is not None:
        return f"{where} {old_new(c)}"
    if c.kind == "added":
        return f"{where} added ({fmt_value(c.new)})" if c.key else f"{where} added"
    if c.kind == "deleted":
        return f"{where} deleted (was {fmt_value(c.old)})" if c.key else f"{where} deleted"
    return f"{where} {fmt_value(c.old)} -> {fmt_value(c.new)}"


def window_line(diff: DiffResult) -> str:
    moved = ", ".join(diff.layers_changed) or "none"
    n = len(diff.layers_changed)
    return f"rollout: {diff.merge_base or diff.base:.7}..{diff.head:.7}: {n} layer(s) moved: {moved}"


#: Lines of a whole-file diff shown under its row; the JSON report's ``diff`` has all of them.
DIFF_EXCERPT = 8
#: Whole-file diffs excerpted in one table: a pull request that moves forty source files (the
#: ``app`` layer) keeps its table readable; rows are in ship order, so config layers come first.
DIFF_EXCERPT_FILES = 5


def layers_table(diff: DiffResult) -> list[str]:
    folded = fold_entries([*diff.changes, *diff.unclassified])
    rows = [
        (r.change.layer or "unclassified", r.change.path, r.change.key or "(whole file)", row_change(r)) for r in folded
    ]
    if not rows:
        return ["no AI config changed"]
    header, *lines = _table(("layer", "file", "key", "change"), rows)
    out, shown, unshown = [header], 0, 0
    for line, row in zip(lines, folded, strict=True):
        excerpt = diff_excerpt(row.change) if shown < DIFF_EXCERPT_FILES else []
        shown += bool(excerpt)
        unshown += row.change.diff is not None and not excerpt
        out += [line, *excerpt]
    if unshown:
        out.append(f"({unshown} more file diff(s) not shown: the JSON report has them)")
    return out


def diff_excerpt(c: Change, indent: str = "    ") -> list[str]:
    """The first lines of a whole-file change's diff, indented under its row."""
    from pytest_rollout.diff.textdiff import excerpt

    if c.diff is None:
        return []
    shown, more = excerpt(c.diff, DIFF_EXCERPT)
    tail = [f"{indent}... {more} more line(s): the JSON report has the whole diff"] if more else []
    return [f"{indent}{line}" for line in shown] + tail


def row_change(row: Any) -> str:
    if row.folded > 1:  # a whole list entry that came or went (diff.entries)
        return f"{row.change.kind} ({row.folded} keys)"
    return old_new(row.change)


def old_new(c: Change) -> str:
    if c.kind == "renamed" and c.key is None:
        return f"renamed from {c.old_path}" + (f" ({_diff_counts(c.diff)})" if c.diff else "")
    if c.key is None and c.diff is not None:
        return f"{c.kind} ({_diff_counts(c.diff)})"
    if c.kind in ("added", "deleted") and c.key is None:
        return c.kind
    return f"{fmt_value(c.old)} -> {fmt_value(c.new)}"


def _diff_counts(diff: str) -> str:
    from pytest_rollout.diff.textdiff import counts

    plus, minus = counts(diff)
    return f"+{plus} -{minus} lines"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def decision_lines(decision: Decision, *, plan: bool = True) -> list[str]:
    """The decision, its reasons and plan; every line scrubbed and escaped (``printable_line``).

    ``plan=False`` names the plan's steps in one line: the ``rollout::gate`` failure, whose run
    prints the whole plan once, in the rollout summary.
    """
    return [printable_line(scrub_text(line)) for line in _decision_lines(decision, plan)]


def _decision_lines(decision: Decision, plan: bool = True) -> list[str]:
    lines = [f"decision: {decision.status.upper()}"]
    lines += [f"  - {r}" for r in decision.reasons]
    if decision.override:
        o = decision.override
        who = f" (commit {o.commit[:10]} by {o.author})" if o.commit else " (--rollout-allow-bundle)"
        lines.append(f"  bundle approved: {o.reason}{who}")
    if decision.pending:
        shown = "; ".join(f"{p.layer} ({', '.join(s[:7] for s in p.commits)})" for p in decision.pending)
        lines.append(f"  pending on the base branch (merged, not deployed): {shown}")
    if decision.status == "blocked" and decision.plan and plan:
        lines += plan_lines(decision)
    elif decision.status == "blocked" and decision.plan:
        steps = ", then ".join(step.layer for step in decision.plan)
        lines.append(f"plan: {len(decision.plan)} steps ({steps}): the rollout summary shows each one")
    for c in decision.commits or ():
        layers = ", ".join(c.layers_changed) or "none"
        lines.append(f"  commit {c.commit[:10]} {c.status.upper():7} {layers}  {c.subject[:60]}")
    return lines


def fmt_row(row: Any) -> str:
    """``fmt_change``, or one line for a whole list entry that came or went (``diff.entries``)."""
    if row.folded > 1:
        return f"{row.change.path}: {row.change.key} {row.change.kind} ({row.folded} keys)"
    return fmt_change(row.change)


def plan_lines(decision: Decision) -> list[str]:
    n = len(decision.plan)
    if any(step.commit for step in decision.plan):
        header = f"plan: deploy in {n} steps, one commit at a time, in this order:"
    elif any(step.commits for step in decision.plan):
        header = f"plan: {n} steps, pending ones first, in this order:"
    else:
        header = f"plan: split this release into {n} steps, in this order:"
    lines = [header]
    for step in decision.plan:
        at = f" at {step.commit[:10]}" if step.commit else ""
        lines.append(f"  step {step.step}: {step.layer}{at}")
        lines += [f"      {fmt_row(row)}" for row in fold_entries(step.changes)]
        lines.append(f"      -> {step.instruction}")
    return lines


def gate_text(diff: DiffResult, decision: Decision | None) -> list[str]:
    """The diff table, warnings and decision, every line escaped: no key can start a line of its own."""
    lines = [window_line(diff), *layers_table(diff)]
    if diff.deployed is not None:
        d = diff.deployed
        at = f", {d.at}" if d.at else ""
        lines.append(f"deployed: {d.ref.removeprefix('refs/tags/').removeprefix('refs/heads/')} ({d.commit[:10]}{at})")
    if diff.settings_changed:
        lines.append(f"settings: {diff.settings_changed} changes in this release; judged by {diff.judged_by}")
    lines += [f"warning: {w}" for w in diff.warnings]
    if decision is not None:
        lines += _decision_lines(decision)
    return [printable_line(scrub_text(line)) for line in lines]


def build_report(
    diff: DiffResult | None,
    decision: Decision | None,
    evals: Sequence[EvalResult] | None = None,
    deselected: Iterable[Any] | None = None,
    shard: Any = None,
) -> Report:
    fields: dict[str, Any] = {"shard": shard}
    if diff is not None:
        fields.update(
            base=diff.base,
            deployed=diff.deployed,
            head=diff.head,
            layers_changed=diff.layers_changed,
            changes=diff.changes,
            unclassified=diff.unclassified,
        )
    if decision is not None:
        fields["decision"] = decision
    if evals is not None:
        fields["evals"] = list(evals)
        fields["usage"] = Usage.added(e.usage for e in evals)
    if deselected is not None:
        fields["deselected"] = list(deselected)
    return Report(**fields)


def short_line(e: EvalResult) -> str:
    """``pass rate 0.96 [0.83, 1.00] vs 0.80  n=27``: estimate, interval, threshold and n.

    An ERROR or NO_BASELINE result keeps its whole line: what went wrong is the point of it.
    """
    from pytest_rollout.evals.basics import CRITERION_LABEL

    parts = []
    if e.estimate is not None and e.interval is not None and e.criterion != "max_regression":
        label = CRITERION_LABEL.get(e.criterion, e.criterion)
        parts.append(f"{label} {e.estimate:.2f} [{e.interval[0]:.2f}, {e.interval[1]:.2f}]")
        parts[-1] += f" vs {e.threshold:.2f}" if e.threshold is not None else ""
    if e.change is not None and e.change_interval is not None:
        lo, hi = e.change_interval
        bound = f" vs -{e.max_regression:.2f}" if e.max_regression is not None else ""
        parts.append(f"change vs baseline {e.change:+.2f} [{lo:+.2f}, {hi:+.2f}]{bound}")
    if e.verdict in ("ERROR", "NO_BASELINE") or not parts:
        return e.line
    errors = f", {e.errors} error trial{'s' if e.errors != 1 else ''}" if e.errors else ""
    return f"{'; '.join(parts)}  n={e.n}{errors}"


def report_json(report: Report) -> str:
    return json.dumps(scrub_strings(report.to_json_dict()), indent=2, sort_keys=False) + "\n"


def report_schema() -> str:
    return json.dumps(Report.model_json_schema(), indent=2) + "\n"


# --- evals ----------------------------------------------------------------


def eval_lines(evals: Sequence[EvalResult], deselected: Sequence[Any] = (), *, verbose: bool = False) -> list[str]:
    """One line per eval (sorted by node id), then the deselected ones with their reason.

    Short by default (``short_line``); ``verbose`` (pytest ``-v``) shows the whole report line:
    margin, cases and epochs, early stopping, the test and its error rates.
    """
    lines: list[str] = []
    if evals:
        width = max(len(e.nodeid) for e in evals)
        lines.append("evals:")
        for e in sorted(evals, key=lambda e: e.nodeid):
            lines.append(f"  {e.nodeid:<{width}}  {e.verdict:<12}  {e.line if verbose else short_line(e)}")
        total = Usage.added(e.usage for e in evals)
        if total is not None:
            lines.append(f"usage: {usage_text(total)} over {total.trials} trials")
    if deselected:
        lines.append(f"not run ({len(deselected)}):")
        lines += [f"  {d.nodeid}: {d.reason}" for d in deselected]
    return [scrub_text(line) for line in lines]


def usage_text(usage: Usage) -> str:
    """``1,234 input + 567 output tokens, cost 0.0421``: what trial.usage(...) added up."""
    return f"{usage.input_tokens:,} input + {usage.output_tokens:,} output tokens, cost {usage.cost:.4g}"
