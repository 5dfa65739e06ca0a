"""CI outputs: the GitHub Actions job summary and ``::error`` annotations.

The summary tells the truth about the run: its first line is the run's status, gate and evals
together (never a passing gate decision above a failing eval), then the warnings (an empty
release window, uncommitted config, a store git does not ignore), the gate
(changes, decision, the approved bundle's commit and author, the plan) and every eval, the
failing ones first. Annotations point at the lines to look at: a blocked release's changes,
and each eval that fails the run on its test's line. Every text is scrubbed (``diff.redact``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.models import Decision, DiffResult, EvalResult

#: Verdicts that fail a run (INCONCLUSIVE too, unless ``--rollout-inconclusive=pass``).
FAILING_VERDICTS = ("FAIL", "ERROR", "NO_BASELINE", "COST_LIMIT")


def write_github_outputs(
    diff: DiffResult | None,
    decision: Decision | None,
    evals: Sequence[EvalResult],
    env: Mapping[str, str],
    inconclusive_passes: bool = False,
    *,
    notes: Sequence[str] = (),
    errors: Sequence[str] = (),
    recorded: str | None = None,
    test_lines: Mapping[str, int] | None = None,
) -> list[str]:
    """Append the summary to ``$GITHUB_STEP_SUMMARY``; return annotation lines to print
    (the blocked release's changes, then every eval that fails the run).

    ``notes``: warnings to show; ``errors``: what went wrong after the evals (the run is then an
    ERROR); ``recorded``: what ``--rollout-record`` stored; ``test_lines``: each eval's 1-based
    line in its file. Does nothing unless ``GITHUB_ACTIONS=true``.
    """
    if env.get("GITHUB_ACTIONS") != "true":
        return []
    summary = github_summary(diff, decision, evals, inconclusive_passes, notes=notes, errors=errors, recorded=recorded)
    _append(env, summary)
    gate = github_annotations(decision) if decision is not None else []
    return [*gate, *eval_annotations(evals, inconclusive_passes, test_lines)]


def write_github_error(message: str, env: Mapping[str, str]) -> list[str]:
    """A run the gate could not judge: the summary says so; returns the annotation to print."""
    if env.get("GITHUB_ACTIONS") != "true":
        return []
    try:
        _append(env, github_error_summary(message))
    except OSError:
        pass  # the error itself is what the user must see
    return [f"::error title=pytest-rollout::{_esc_data(scrub_text(message))}"]


def _append(env: Mapping[str, str], text: str) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as fh:
            fh.write(text)


# --- the summary -----------------------------------------------------------


def failing_evals(evals: Sequence[EvalResult], inconclusive_passes: bool = False) -> list[EvalResult]:
    bad = FAILING_VERDICTS if inconclusive_passes else (*FAILING_VERDICTS, "INCONCLUSIVE")
    return [e for e in evals if e.verdict in bad]


def run_status(
    decision: Decision | None,
    evals: Sequence[EvalResult],
    inconclusive_passes: bool = False,
    error: str | None = None,
    errors: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """The run's status (PASS, FAIL, ERROR), gate and evals together, and what makes it so.

    ``error``: why the gate could not decide; ``errors``: what failed after the evals (recording).
    """
    problems = [*errors]
    if error is not None:
        problems.insert(0, f"the gate could not decide: {error}")
    if decision is not None and decision.status == "blocked":
        problems.append("the gate blocked this release")
    bad = failing_evals(evals, inconclusive_passes)
    if bad:
        counts = {v: sum(1 for e in bad if e.verdict == v) for v in dict.fromkeys(e.verdict for e in bad)}
        problems.append(f"{len(bad)} eval(s) not passing ({', '.join(f'{v} {n}' for v, n in counts.items())})")
    if error is not None or errors:
        return "ERROR", problems
    return ("FAIL" if problems else "PASS"), problems


def run_headline(
    decision: Decision | None,
    evals: Sequence[EvalResult],
    inconclusive_passes: bool = False,
    error: str | None = None,
    warnings: int = 0,
    errors: Sequence[str] = (),
) -> str:
    """The run's status as the first line of a summary."""
    status, problems = run_status(decision, evals, inconclusive_passes, error, errors)
    if status != "PASS":
        return f"**Run: ❌ {status}**: {_md('; '.join(problems))}"
    return "**Run: ✅ PASS**" + (f" ({warnings} warning(s) below)" if warnings else "")


def github_summary(
    diff: DiffResult | None,
    decision: Decision | None,
    evals: Sequence[EvalResult] = (),
    inconclusive_passes: bool = False,
    *,
    notes: Sequence[str] = (),
    errors: Sequence[str] = (),
    recorded: str | None = None,
) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the run's status first, then warnings and errors,
    the gate, the evals (failing ones first) and what was recorded."""
    warnings = [*(diff.warnings if diff is not None else ()), *notes]
    headline = run_headline(decision, evals, inconclusive_passes, warnings=len(warnings), errors=errors)
    out = ["## pytest-rollout", "", headline, ""]
    out += [f"> ⚠️ warning: {_md(w)}" for w in warnings] + ([""] if warnings else [])
    if diff is not None:
        out += _gate_section(diff, decision)
    if evals:
        bad = {id(e) for e in failing_evals(evals, inconclusive_passes)}
        ordered = sorted(evals, key=lambda e: (id(e) not in bad, e.nodeid))
        out += ["", "| eval | verdict | result |", "|---|---|---|"]
        out += [f"| `{e.nodeid}` | {e.verdict} | {_md(e.line)} |" for e in ordered]
    if recorded:
        out += ["", f"Recorded: {_md(recorded)}"]
    return scrub_text("\n".join(out)) + "\n"


def _gate_section(diff: DiffResult, decision: Decision | None) -> list[str]:
    from pytest_rollout.diff.entries import fold_entries
    from pytest_rollout.report import fmt_row, row_change

    out = [
        f"`{diff.merge_base or diff.base:.7}..{diff.head:.7}`, layers moved: **{', '.join(diff.layers_changed) or 'none'}**",
        "",
    ]
    if diff.changes or diff.unclassified:
        out += ["| layer | file | key | change |", "|---|---|---|---|"]
        for row in fold_entries([*diff.changes, *diff.unclassified]):  # a new tool is one row
            c = row.change
            out.append(
                f"| {c.layer or 'unclassified'} | `{c.path}` | `{c.key or '(whole file)'}` | {_md(row_change(row))} |"
            )
        out.append("")
    if decision is None:
        return out
    mark = "✅" if decision.status == "pass" else "❌"
    out.append(f"**Gate decision: {mark} {decision.status.upper()}**")
    out += [f"- {_md(r)}" for r in decision.reasons]
    if decision.override:
        out.append(f"- bundle approved: {_md(approval(decision))}")
    if decision.status == "blocked" and decision.plan:
        out += ["", "**Plan**", ""]
        for step in decision.plan:
            changes = "; ".join(_md(fmt_row(row)) for row in fold_entries(step.changes))
            out.append(f"{step.step}. **{step.layer}**: {changes} ({_md(step.instruction)})")
    return out


def approval(decision: Decision) -> str:
    """The approved bundle: its reason, and the commit and author that approved it (or the option)."""
    o = decision.override
    if o is None:
        return ""
    if o.commit:
        return f"{o.reason} (commit {o.commit[:10]} by {o.author or 'unknown author'})"
    return f"{o.reason} (--rollout-allow-bundle)"


def github_error_summary(message: str) -> str:
    """The summary of a run the gate could not judge (an unparseable config, a missing base)."""
    return scrub_text("\n".join(["## pytest-rollout", "", run_headline(None, (), error=message)])) + "\n"


# --- annotations -----------------------------------------------------------


def eval_annotations(
    evals: Sequence[EvalResult], inconclusive_passes: bool = False, test_lines: Mapping[str, int] | None = None
) -> list[str]:
    """``::error file=...,line=...::`` for each eval that fails the run (on its test's line when
    known); ``::warning`` for an INCONCLUSIVE that ``--rollout-inconclusive=pass`` lets through."""
    lines = []
    failing = {id(e) for e in failing_evals(evals, inconclusive_passes)}
    for e in evals:
        if id(e) in failing:
            level = "error"
        elif e.verdict == "INCONCLUSIVE":
            level = "warning"
        else:
            continue
        where = f"file={_esc_prop(scrub_text(e.nodeid.split('::', 1)[0]))}"
        line = (test_lines or {}).get(e.nodeid)
        if line:
            where += f",line={line}"
        lines.append(f"::{level} {where}::{_esc_data(scrub_text(f'{e.nodeid} {e.verdict}: {e.line}'))}")
    return lines


def github_annotations(decision: Decision) -> list[str]:
    """``::error file=...,line=...::`` for each change of a blocked release."""
    from pytest_rollout.report import fmt_change

    if decision.status != "blocked":
        return []
    lines = []
    for step in decision.plan:
        if step.commits and not step.commit:
            continue  # a pending step's changes are merged already, not this release's lines
        for c in step.changes:
            msg = f"{c.layer} change in a release that moves several coupled layers; ship it as plan step {step.step}"
            lines.append(
                f"::error file={_esc_prop(scrub_text(c.path))},line={c.line or 1}::"
                + _esc_data(scrub_text(msg + ": " + fmt_change(c)))
            )
    if not lines:
        lines = [f"::error::{_esc_data(scrub_text(r))}" for r in decision.reasons]
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _esc_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _esc_prop(text: str) -> str:
    return _esc_data(text).replace(":", "%3A").replace(",", "%2C")
