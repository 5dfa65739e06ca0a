"""``pytest-rollout release mark`` and ``pytest-rollout history``: recording deploys, and reading them back.

``check --deployed`` / ``check --deploy`` are options of ``check`` (``cli/__init__.py``); the
judging lives in ``gate/releases.py``. Errors are ``RolloutError``s: ``cli.main`` exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from pytest_rollout.errors import RolloutError, SettingsError


def add_check_args(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "--deployed", metavar="REF", help="The deployed release: tag glob, branch or ref (default: release.deployed)"
    )
    check.add_argument("--deploy", action="store_true", help="Judge the deploy of head: the window deployed..head")
    check.add_argument("--store", help="Baseline store, for release.require_measured (default: .rollout/store.sqlite)")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    release = sub.add_parser("release", help="Record a deploy (the annotated tag deploy/<env>/<UTC time>)")
    verbs = release.add_subparsers(dest="verb", metavar="VERB", required=True)
    mark = verbs.add_parser("mark", help="Tag COMMIT (default: HEAD) as deployed; pushing the tag is yours")
    mark.add_argument("commit", nargs="?", default="HEAD")
    mark.add_argument("--env", default="prod", help="Environment, the tag's middle part (default: prod)")
    mark.add_argument("--date", help="Deploy time, ISO 8601 (default: now), to record a past deploy")
    mark.add_argument("--message", help="Tag message (default: 'deploy of <sha> to <env>')")
    mark.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")

    hist = sub.add_parser("history", help="One row per deploy: layers moved, evals recorded there")
    hist.add_argument("--deployed", metavar="GLOB", help="Deploy tags (default: release.deployed, else deploy/prod/*)")
    hist.add_argument("--limit", type=int, default=None, help="Newest N deploys only")
    hist.add_argument("--store", help="Baseline store (default: .rollout/store.sqlite at the repo root)")
    hist.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")
    hist.add_argument("--config", help="Settings file (default: rollout.yaml, then pyproject.toml)")
    hist.add_argument("--json", action="store_true", help="Print JSON instead of the table")


def run_release(args: argparse.Namespace) -> int:
    from pytest_rollout.diff.refs import repo_root
    from pytest_rollout.gate.deploys import iso, mark

    root = repo_root(args.repo)
    tag = mark(root, args.commit, args.env, _date(args.date), args.message)
    print(f"{tag.name}  {tag.commit[:10]}  {iso(tag.at)}")
    print(f"push it: git push origin {tag.ref}", file=sys.stderr)
    return 0


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(f"--date {text!r}: expected ISO 8601, e.g. 2026-12-01T10:15:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def run_history(args: argparse.Namespace) -> int:
    from pytest_rollout.baselines.store import store_path
    from pytest_rollout.diff.refs import repo_root
    from pytest_rollout.gate.deploys import is_glob
    from pytest_rollout.gate.history import deploy_history
    from pytest_rollout.gate.judging import config_path
    from pytest_rollout.settings import load_settings

    if args.limit is not None and args.limit < 1:
        raise SettingsError("--limit: expected a positive number of deploys")
    root = repo_root(args.repo)
    loaded = load_settings(root, config_path(root, args.config))
    spec = args.deployed or loaded.settings.release.deployed or "deploy/prod/*"
    if not is_glob(spec):
        raise SettingsError(f"history reads deploy tags: {spec!r} is not a tag glob; pass --deployed 'deploy/prod/*'")
    store = store_path(Path.cwd(), args.store) if args.store else store_path(root)
    rows = deploy_history(root, spec, loaded, store, args.limit)
    if args.json:
        sys.stdout.write(json.dumps({"deploys": [r.to_json() for r in rows]}, indent=2) + "\n")
        return 0
    if not rows:
        raise RolloutError(f"no deploy tag matches {spec!r}: `git fetch --tags`, or record one with `release mark`")
    width = max(len(r.tag) for r in rows)
    print(f"{'deploy':<{width}}  commit      date (UTC)            layers moved since the previous deploy")
    for r in rows:
        layers = "(first deploy on record)" if r.layers_changed is None else ", ".join(r.layers_changed) or "none"
        print(f"{r.tag:<{width}}  {r.commit[:10]}  {r.at:<20}  {layers}")
        for e in r.evals:
            est = f"{e.estimate:.3f}" if e.estimate is not None else "-"
            change = f"  ({e.change:+.3f} vs the previous deploy)" if e.change is not None else ""
            print(f"    {e.nodeid}  {e.verdict}  {est}{change}")
    return 0
