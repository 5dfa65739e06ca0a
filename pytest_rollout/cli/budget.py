"""``pytest-rollout budget [--json] [-- PYTEST_ARGS]``: the trials each eval needs to decide.

pytest collects the evals (``--collect-only``, with the arguments after ``--``: paths, ``-k``,
``--rollout-gate`` ...), so the family size and the stored baselines are those a real run would
use; ``plugin/budget.py`` writes one row per criterion and this command prints them. Exit 0 when
every criterion decides in its budget, 1 when one cannot, 2 when pytest could not collect.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_rollout.errors import RolloutError

EXIT_DECIDES, EXIT_SHORT = 0, 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "budget", help="The trials each eval needs to decide in its budget (collects with pytest; its args after --)"
    )
    p.add_argument("--json", action="store_true", help="Print the rows as JSON instead of the table")


def run_budget(args: argparse.Namespace, pytest_args: list[str]) -> int:
    doc = _collect(pytest_args)
    rows: list[dict[str, Any]] = doc["rows"]
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_table(doc, rows)
    return EXIT_DECIDES if all(r["decides"] for r in rows) else EXIT_SHORT


def _collect(pytest_args: list[str]) -> dict[str, Any]:
    from pytest_rollout.plugin.budget import OUT_ENV

    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "pytest_rollout.plugin.budget"]
    if _has_xdist():
        cmd += ["-n", "0"]  # collect in this process, whatever addopts asks
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "budget.json")
        proc = subprocess.run(
            [*cmd, *pytest_args], capture_output=True, text=True, env={**os.environ, OUT_ENV: str(out)}
        )
        if proc.returncode not in (0, 5) or not out.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise RolloutError(f"pytest could not collect the evals (exit {proc.returncode}): " + " | ".join(tail))
        doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def _has_xdist() -> bool:
    import importlib.util

    return importlib.util.find_spec("xdist") is not None


def _print_table(doc: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no evals collected")
        return
    width = max(len(r["nodeid"]) for r in rows)
    print(f"{'eval':<{width}}  {'criterion':<48} {'trials':>7} {'needs':>7} {'INCONCL.':>8} {'mean':>6}  variance")
    for r in rows:
        needs = "?" if r["needed_trials"] is None else str(r["needed_trials"])
        open_ = "" if r["inconclusive"] is None else f"{r['inconclusive']:.0%}"
        mean = "" if r["expected_trials"] is None else f"~{r['expected_trials']:.0f}"
        mark = "" if r["decides"] else "  <- cannot decide" + (f": {r['note']}" if r["note"] else "")
        print(
            f"{r['nodeid']:<{width}}  {r['design']:<48} {r['trials']:>7} {needs:>7} {open_:>8} {mean:>6}  "
            f"{r['variance']}{mark}"
        )
    short = sum(not r["decides"] for r in rows)
    print(
        f"family: {doc['family']} evals ({doc['correction']}); "
        + (f"{short} of {len(rows)} criteria cannot decide in their budget" if short else "every criterion decides")
    )
