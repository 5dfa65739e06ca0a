"""``pytest-rollout merge shard-*.json --report OUT.json``: the shards of a run joined into one verdict.

One document, one step summary, one exit status: 0 when the gate passed and every eval passed,
1 when the gate blocked or an eval did not pass, 2 when a shard is missing, duplicated, or
judged another release (``evals.shards.merge_reports`` says which).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = sub.add_parser("merge", help="Join the --rollout-report files of a sharded run into one verdict")
    merge.add_argument("reports", nargs="+", metavar="SHARD.json", help="Every shard's --rollout-report file")
    merge.add_argument("--report", metavar="PATH", help="Write the merged JSON document to PATH")
    merge.add_argument(
        "--inconclusive", choices=("fail", "pass"), default="fail", help="How an undecided eval counts (default: fail)"
    )


def run_merge(args: argparse.Namespace) -> int:
    from pytest_rollout.evals.runner import finalize_family, verdict_passes
    from pytest_rollout.evals.shards import merge_reports
    from pytest_rollout.models import DiffResult, Report, Usage
    from pytest_rollout.report import report_json

    docs = [(name, _read(Path(name))) for name in args.reports]
    merged = Report.model_validate(merge_reports(docs))
    evals = finalize_family(merged.evals or [])
    merged = merged.model_copy(update={"evals": evals, "usage": Usage.added(e.usage for e in evals)})
    if args.report:
        Path(args.report).write_text(report_json(merged), encoding="utf-8")
    blocked = merged.decision is not None and merged.decision.status == "blocked"
    failing = [e for e in merged.evals or [] if not verdict_passes(e.verdict, args.inconclusive, False)]
    if merged.head is not None and merged.base is not None:
        from pytest_rollout.github import write_github_outputs

        diff = DiffResult(
            base=merged.base,
            head=merged.head,
            layers_changed=merged.layers_changed or [],
            changes=merged.changes or [],
            unclassified=merged.unclassified or [],
        )
        for line in write_github_outputs(diff, merged.decision, merged.evals or [], os.environ):
            print(line)
    for e in merged.evals or []:
        print(f"{e.verdict:<12} {e.nodeid}")
    status = "BLOCKED" if blocked else ("FAIL" if failing else "PASS")
    print(f"merged {merged.shards} shard(s), {len(merged.evals or [])} eval(s): {status}")
    return 1 if blocked or failing else 0


def _read(path: Path) -> dict[str, object]:
    from pytest_rollout.cli.report import read_json_object

    return read_json_object(
        path, "no such shard report: did that shard's job run and upload it?", "pass --rollout-report files"
    )
