"""CI outputs: the GitHub Actions job summary and ``::error`` annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_rollout.models import Decision, DiffResult, EvalResult


def write_github_outputs(
    diff: DiffResult, decision: Decision | None, evals: Sequence[EvalResult], env: Mapping[str, str]
) -> list[str]:
    """Append the summary to ``$GITHUB_STEP_SUMMARY``; return annotation lines to print.

    Does nothing unless ``GITHUB_ACTIONS=true``.
    """
    from pytest_rollout.report import github_annotations, github_summary

    if env.get("GITHUB_ACTIONS") != "true":
        return []
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as fh:
            fh.write(github_summary(diff, decision, evals))
    return github_annotations(decision) if decision is not None else []
