"""``pytest-rollout report REPORT.json --html PATH``: the HTML page of a ``--rollout-report`` file.

Reads the JSON report (of a run, or of ``merge``), checks it against the report's schema and
writes one self-contained page (``pytest_rollout.html``). Bad input fails closed with one line
(exit 2): a missing file, a file that is not JSON, a document that is not a report. Only
``argparse`` is imported when the parser is built: the pre-push path builds it too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_rollout.errors import RolloutError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="Render a --rollout-report JSON file as one static HTML page")
    report.add_argument("report", metavar="REPORT.json", help="A --rollout-report (or merge --report) file")
    report.add_argument("--html", metavar="PATH", required=True, help="Write the HTML page to PATH")
    report.add_argument(
        "--inconclusive", choices=("fail", "pass"), default="fail", help="How an undecided eval counts (default: fail)"
    )


def run_report(args: argparse.Namespace) -> int:
    from pytest_rollout.html import write_html

    report = read_report(Path(args.report))
    out = Path(args.html)
    try:
        write_html(report, out, inconclusive_passes=args.inconclusive == "pass")
    except OSError as exc:
        raise RolloutError(f"--html {out}: cannot write it ({exc.strerror or exc})") from None
    print(f"wrote {out}")
    return 0


def read_report(path: Path) -> Any:
    """The ``Report`` in ``path``; a ``RolloutError`` naming the file and the problem otherwise."""
    from pydantic import ValidationError

    from pytest_rollout.models import Report

    doc = read_json_object(path, "no such file: pass the file --rollout-report wrote", "pass a --rollout-report file")
    try:
        return Report.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise RolloutError(
            f"{path}: not a --rollout-report document: {where}: {first['msg']} ({exc.error_count()} problem(s))"
        ) from None


def read_json_object(path: Path, missing: str, fix: str) -> dict[str, Any]:
    """The JSON object in ``path``; a one-line ``RolloutError`` saying ``missing``, or what is wrong and ``fix``."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RolloutError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RolloutError(f"{path}: not a JSON report ({type(exc).__name__}): {fix}") from None
    if not isinstance(doc, dict):
        raise RolloutError(f"{path}: not a JSON report (expected an object): {fix}")
    return doc
