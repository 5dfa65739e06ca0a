"""``pytest-rollout attribute --base A --head B [-- PYTEST_ARGS]``: the table, the JSON, the job summary.

Exit 0 when it ran (whatever it found), 2 when it could not (``cli.main`` maps errors).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_rollout.errors import RolloutError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "attribute",
        help="Which moved layer caused a regression: measure hybrids of base and head (pytest args after --)",
    )
    p.add_argument("--base", help="Base ref (default: settings `base`, GITHUB_BASE_REF, upstream, origin/HEAD)")
    p.add_argument("--head", help="Head ref (default: HEAD)")
    p.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")
    p.add_argument("--config", help="Settings file (default: rollout.yaml, then pyproject.toml)")
    p.add_argument("--json", action="store_true", help="Print the JSON document instead of the table")
    p.add_argument("--report", metavar="PATH", help="Also write the JSON document to PATH")
    p.add_argument("--seed", type=_seed, help="--rollout-seed for every hybrid (default: drawn once, printed)")
    p.add_argument("--jobs", "-j", type=_jobs, help="Hybrids run at once (default: the CPU count)")
    p.add_argument("--confidence", type=_confidence, default=0.95, help="Simultaneous confidence (default 0.95)")


def _seed(value: str) -> int:
    """``evals.seeds.parse_seed``, imported when used: every verb's parser is built, and
    ``check`` (the pre-push path) must not pay for the eval modules."""
    from pytest_rollout.evals.seeds import parse_seed

    return parse_seed(value)


def _jobs(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of hybrids, at least 1")
    return int(value)


def _confidence(value: str) -> float:
    try:
        c = float(value)
    except ValueError:
        c = -1.0
    if not 0.5 <= c < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a confidence in [0.5, 1), e.g. 0.95")
    return c


def run_attribute(args: argparse.Namespace, pytest_args: list[str]) -> int:
    from pytest_rollout.attribution import attribute
    from pytest_rollout.gate.chain import Request

    env = dict(os.environ)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    req = Request(repo=args.repo, base=args.base, head=args.head, config=args.config, env=env)
    doc = attribute(
        req,
        pytest_args,
        seed=seed,
        jobs=args.jobs or os.cpu_count() or 1,
        confidence=args.confidence,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    write_summary(doc, env)
    if args.report:
        try:
            Path(args.report).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise RolloutError(f"--report {args.report}: cannot write it ({exc.strerror})") from None
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print("\n".join(table(doc)))
    return 0


def table(doc: Mapping[str, Any]) -> list[str]:
    """The terminal form: hybrids, then per eval its effects; the conclusion last."""
    from pytest_rollout.attribution import pp

    level = f"{doc['confidence']:.0%}"
    lines = [
        f"attribution: {doc['base'][:7]}..{doc['head'][:7]}, moved: {', '.join(doc['layers'])}, seed {doc['seed']}"
    ]
    lines.append("hybrids (layers whose changes they keep):")
    for h in doc["hybrids"]:
        what = f"{h['trials']:,} trials, {h['seconds']:.1f} s" if h["status"] == "ran" else h["reason"]
        lines.append(f"  {_hybrid_name(h['applied'], doc['layers']):<28} {h['status']:<9} {what}")
    for ev in doc["evals"]:
        base = "n/a" if ev["at_base"] is None else f"{ev['at_base']:.3f}"
        head = "n/a" if ev["at_head"] is None else f"{ev['at_head']:.3f}"
        lines.append("")
        lines.append(
            f"{ev['nodeid']}: at base {base}, at head {head}, {ev['units']} paired units, "
            f"tolerance {pp(-ev['tolerance'])}pp"
        )
        lines.append(f"  {'term':<24} {'effect':>8}  {level + ' simultaneous':<22} verdict")
        for eff in ev["effects"]:
            est, ci = _effect_cells(eff)
            lines.append(f"  {eff['term']:<24} {est:>8}  {ci:<22} {eff['verdict']}")
    lines.append("")
    lines.append(f"trials spent: {doc['trials']:,} in {sum(1 for h in doc['hybrids'] if h['status'] == 'ran')} hybrids")
    lines += [f"warning: {w}" for w in doc.get("warnings", [])]
    lines.append(doc["conclusion"])
    return lines


def _effect_cells(eff: Mapping[str, Any]) -> tuple[str, str]:
    """An effect's estimate and interval in percentage points, as the table and the job summary print them."""
    from pytest_rollout.attribution import pp

    est = "n/a" if eff["estimate"] is None else f"{pp(eff['estimate'])}pp"
    ci = "n/a" if eff["interval"] is None else f"[{pp(eff['interval'][0])}, {pp(eff['interval'][1])}]"
    return est, ci


def _hybrid_name(applied: list[str], layers: list[str]) -> str:
    if not applied:
        return "base (none)"
    if len(applied) == len(layers):
        return "head (" + "+".join(applied) + ")"
    return "+".join(applied)


def summary_markdown(doc: Mapping[str, Any]) -> str:

    out = [f"## pytest-rollout attribute: {doc['base'][:7]}..{doc['head'][:7]}", "", f"**{doc['conclusion']}**", ""]
    for ev in doc["evals"]:
        out += [f"`{ev['nodeid']}`", "", "| term | effect | interval | verdict |", "|---|---|---|---|"]
        for eff in ev["effects"]:
            est, ci = _effect_cells(eff)
            out.append(f"| {eff['term']} | {est} | {ci} | {eff['verdict']} |")
        out.append("")
    out.append(f"{doc['trials']:,} trials in {len(doc['hybrids'])} hybrids, seed {doc['seed']}")
    return "\n".join(out) + "\n"


def write_summary(doc: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` under GitHub Actions."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if env.get("GITHUB_ACTIONS") != "true" or not path:
        return
    try:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(summary_markdown(doc))
    except OSError as exc:
        raise RolloutError(f"GITHUB_STEP_SUMMARY {path}: cannot write it ({exc.strerror})") from None
