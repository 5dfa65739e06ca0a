"""``pytest-rollout``: the gate without pytest (pre-push, scripts) and the store tools.

Exit codes: 0 pass, 1 blocked (``check``), 2 usage/configuration error or the
gate could not decide. This module must not import pytest or scipy: the
pre-push hook runs it and must answer well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.errors import RolloutError

if TYPE_CHECKING:
    from pytest_rollout.gate.chain import GateResult
    from pytest_rollout.models import Report

EXIT_PASS, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked (it is not free on the pre-push path)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from pytest_rollout import __version__

        parser.exit(message=f"{parser.prog} {__version__}\n")


def _window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", help="Base ref (default: settings `base`, GITHUB_BASE_REF, upstream, origin/HEAD)")
    p.add_argument("--head", help="Head ref (default: HEAD)")
    p.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")
    p.add_argument("--config", help="Settings file (default: rollout.yaml, then pyproject.toml)")
    p.add_argument("--json", action="store_true", help="Print the JSON document instead of the table")


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``verb``, only that verb's subparser (and its module) is built.

    Building all eleven costs the pre-push check ~40 ms of imports and argparse work (issue 19),
    so ``main`` names the verb when the first argument is one. ``--help``, no verb or an
    unknown one build them all, in the same order: the same help and the same errors.
    """
    parser = argparse.ArgumentParser(
        prog="pytest-rollout",
        description="Layer-aware release gate for AI systems: which layers moved, and may they ship together?",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="Print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for names, register in _REGISTER:
        if verb is None or verb in names:
            register(sub)
    return parser


_Sub = argparse._SubParsersAction


def _diff_parser(sub: _Sub[argparse.ArgumentParser]) -> None:
    _window_args(sub.add_parser("diff", help="Show which layers moved between two commits, and how"))


def _check_parser(sub: _Sub[argparse.ArgumentParser]) -> None:
    from pytest_rollout.cli import release

    check = sub.add_parser("check", help="Decide pass/blocked (exit 0/1; 2 when it cannot decide)")
    _window_args(check)
    check.add_argument("--allow-bundle", metavar="REASON", help="Let a deliberate bundle through, with a reason")
    check.add_argument("--per-commit", action="store_true", help="Also judge each commit of the window alone")
    check.add_argument("--report", metavar="PATH", help="Also write the JSON document to PATH")
    release.add_check_args(check)


def _schema_parser(sub: _Sub[argparse.ArgumentParser]) -> None:
    sub.add_parser("schema", help="Print the JSON Schema of the report")


def _release_parsers(sub: _Sub[argparse.ArgumentParser]) -> None:
    from pytest_rollout.cli import release

    release.add_parsers(sub)


def _module_parser(name: str) -> Callable[[_Sub[argparse.ArgumentParser]], None]:
    """The ``add_parser`` of ``cli/<name>.py``, its module imported only when that verb is built."""

    def register(sub: _Sub[argparse.ArgumentParser]) -> None:
        import importlib

        importlib.import_module(f"pytest_rollout.cli.{name}").add_parser(sub)

    return register


def _baseline_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    base = sub.add_parser("baseline", help="Inspect and move the stored eval baselines")
    base.add_argument(
        "--store",
        help="Store file or postgresql:// URL (default: $ROLLOUT_STORE, else .rollout/store.sqlite at the repo root)",
    )
    base.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")
    verbs = base.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="Recorded runs and their evals")
    show = verbs.add_parser("show", help="One eval's latest baseline, its interval and detectable drop")
    show.add_argument("nodeid")
    exp = verbs.add_parser("export", help="Write complete runs as JSON Lines")
    exp.add_argument("file")
    imp = verbs.add_parser("import", help="Read runs from JSON Lines")
    imp.add_argument("file")
    prune = verbs.add_parser(
        "prune", help="Keep the newest N recordings of each eval per fingerprints (and the oldest)"
    )
    prune.add_argument("--keep", type=int, required=True)


#: Every verb (``release`` also registers ``history``) and its parser, in ``--help`` order.
_REGISTER: tuple[tuple[tuple[str, ...], Callable[[_Sub[argparse.ArgumentParser]], None]], ...] = (
    (("diff",), _diff_parser),
    (("check",), _check_parser),
    (("schema",), _schema_parser),
    (("baseline",), _baseline_parser),
    (("release", "history"), _release_parsers),
    (("merge",), _module_parser("merge")),
    (("init",), _module_parser("init")),
    (("attribute",), _module_parser("attribute")),
    (("budget",), _module_parser("budget")),
    (("report",), _module_parser("report")),
)


def _verb(argv: Sequence[str]) -> str | None:
    """The verb when it comes first (every other case builds every parser: help, errors)."""
    known = {name for names, _ in _REGISTER for name in names}
    return argv[0] if argv and argv[0] in known else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)  # attribute: pytest's arguments follow "--"
    args = build_parser(_verb(argv[:cut])).parse_args(argv[:cut])
    args.pytest_args = argv[cut + 1 :]
    try:
        if args.command in ("diff", "check"):
            from pytest_rollout.diff.gcpause import paused_gc

            # A short run whose objects reference counting frees: the collector's passes over the
            # imports and the parse are pure cost there (issue 19); in-process callers get it back.
            with paused_gc():
                return int(_dispatch(args))
        return int(_dispatch(args))
    except RolloutError as exc:
        from pytest_rollout.diff.formats import printable
        from pytest_rollout.diff.redact import scrub_text

        message = printable(scrub_text(str(exc)))
        if args.command in ("diff", "check"):
            from pytest_rollout.github import write_github_error

            for line in write_github_error(message, os.environ):
                print(line)
        print(f"pytest-rollout: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `schema | head`: the reader had enough (check settles its status itself)
        _silence_stdout()
        return EXIT_PASS


def _silence_stdout() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from pytest_rollout.report import report_schema

        sys.stdout.write(report_schema())
        return EXIT_PASS
    if args.command == "baseline":
        from pytest_rollout.cli.baseline import run_baseline

        return run_baseline(args)
    if args.command == "report":
        from pytest_rollout.cli.report import run_report

        return run_report(args)
    if args.command == "merge":
        from pytest_rollout.cli.merge import run_merge

        return run_merge(args)
    if args.command == "budget":
        from pytest_rollout.cli.budget import run_budget

        return run_budget(args, args.pytest_args)
    if args.pytest_args and args.command != "attribute":
        raise RolloutError(
            f"arguments after -- are pytest's, for `attribute` only (and `budget`; not `{args.command}`)"
        )
    if args.command == "attribute":
        from pytest_rollout.cli.attribute import run_attribute

        return run_attribute(args, args.pytest_args)
    if args.command in ("release", "history"):
        from pytest_rollout.cli import release

        return release.run_release(args) if args.command == "release" else release.run_history(args)
    if args.command == "init":
        from pytest_rollout.cli.init import run_init

        return run_init(args)
    return _diff_or_check(args)


def _diff_or_check(args: argparse.Namespace) -> int:
    from pytest_rollout import report
    from pytest_rollout.gate import chain as pipeline

    env = dict(os.environ)
    base, head = args.base, args.head
    from_ref = env.get("PRE_COMMIT_FROM_REF", "").strip("0")  # all zeros: a new branch, no remote side
    if args.command == "check" and not base and from_ref and not args.deploy:
        # pre-commit's pre-push stage names the pushed range.
        base, head = env["PRE_COMMIT_FROM_REF"], head or env.get("PRE_COMMIT_TO_REF")
    req = pipeline.Request(
        repo=args.repo,
        base=base,
        head=head,
        config=args.config,
        env=env,
        allow_bundle=getattr(args, "allow_bundle", None),
        per_commit=getattr(args, "per_commit", False),
        deployed=getattr(args, "deployed", None),
        deploy=getattr(args, "deploy", False),
        store=str(Path(args.store).expanduser().resolve()) if getattr(args, "store", None) else None,
    )
    res = pipeline.run_gate(req) if args.command == "check" else pipeline.run_diff(req)
    # The exit status is settled before anything is printed: a reader that closes the
    # pipe early (`| head`) must not turn a blocked release into a pass.
    status = EXIT_BLOCKED if res.decision is not None and res.decision.status == "blocked" else EXIT_PASS
    doc = report.build_report(res.diff, res.decision)
    if getattr(args, "report", None):
        try:
            Path(args.report).write_text(report.report_json(doc), encoding="utf-8")
        except OSError as exc:
            raise RolloutError(f"--report {args.report}: cannot write it ({exc.strerror})") from None
    annotations = _github(res, env)
    try:
        _emit(args, res, doc, annotations)
    except BrokenPipeError:
        _silence_stdout()
    return status


def _github(res: GateResult, env: dict[str, str]) -> list[str]:
    """The GitHub job summary (written first: a closed pipe must not skip it) and annotations."""
    if res.decision is None or env.get("GITHUB_ACTIONS") != "true":  # as write_github_outputs: not imported
        return []
    from pytest_rollout.github import write_github_outputs

    try:
        return write_github_outputs(res.diff, res.decision, (), env)
    except OSError as exc:
        raise RolloutError(
            f"GITHUB_STEP_SUMMARY {env.get('GITHUB_STEP_SUMMARY')}: cannot write it ({exc.strerror})"
        ) from None


def _emit(args: argparse.Namespace, res: GateResult, doc: Report, annotations: list[str]) -> None:
    from pytest_rollout import report
    from pytest_rollout.diff.redact import scrub_text

    if args.json:
        sys.stdout.write(report.report_json(doc))
    else:
        print("\n".join(report.gate_text(res.diff, res.decision)))
    from pytest_rollout.diff.formats import printable_line

    for warning in res.diff.warnings:
        print(printable_line(f"pytest-rollout: warning: {scrub_text(warning)}"), file=sys.stderr)
    for line in annotations:
        print(line)
    sys.stdout.flush()
