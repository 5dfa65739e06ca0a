"""CI outputs: the GitHub Actions job summary and ``::error`` annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_rollout.models import Decision, DiffResult, EvalResult


def write_github_outputs(
    diff: DiffResult | None,
    decision: Decision | None,
    evals: Sequence[EvalResult],
    env: Mapping[str, str],
    inconclusive_passes: bool = False,
) -> list[str]:
    """Append the summary to ``$GITHUB_STEP_SUMMARY``; return annotation lines to print
    (the blocked release's changes, then every eval that fails the run).

    Does nothing unless ``GITHUB_ACTIONS=true``.
    """
    from pytest_rollout.report import eval_annotations, github_annotations, github_summary

    if env.get("GITHUB_ACTIONS") != "true":
        return []
    _append(env, github_summary(diff, decision, evals, inconclusive_passes))
    gate = github_annotations(decision) if decision is not None else []
    return [*gate, *eval_annotations(evals, inconclusive_passes)]


def write_github_error(message: str, env: Mapping[str, str]) -> list[str]:
    """A run the gate could not judge: the summary says so; returns the annotation to print."""
    from pytest_rollout.diff.redact import scrub_text
    from pytest_rollout.report import github_error_summary

    if env.get("GITHUB_ACTIONS") != "true":
        return []
    try:
        _append(env, github_error_summary(message))
    except OSError:
        pass  # the error itself is what the user must see
    text = scrub_text(message).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return [f"::error title=pytest-rollout::{text}"]


def _append(env: Mapping[str, str], text: str) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as fh:
            fh.write(text)
