"""The chain of DESIGN.md, up to the gate: settings -> refs -> changes -> layers -> gate.

The CLI and the pytest plugin both call ``run_gate``/``run_diff``; neither
re-implements a step. Nothing here imports pytest or scipy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from pytest_rollout.models import CommitCheck, Decision, DiffResult
from pytest_rollout.settings import LoadedSettings, load_settings

if TYPE_CHECKING:
    from pytest_rollout.layers import LayerMap
    from pytest_rollout.refs import Commit, Window


@dataclass(frozen=True)
class Request:
    """What the user asked for, from flags, ini keys or the CLI."""

    repo: Path = Path(".")
    base: str | None = None
    head: str | None = None
    config: Path | str | None = None
    allow_bundle: str | None = None
    per_commit: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class GateResult:
    loaded: LoadedSettings
    root: Path
    window: Window
    diff: DiffResult
    decision: Decision | None


def run_diff(req: Request) -> GateResult:
    """Everything but the decision: which layers moved, and how."""
    from pytest_rollout.layers import LayerMap
    from pytest_rollout.refs import repo_root, resolve_window

    root = repo_root(req.repo)
    current = load_settings(root, req.config)  # names the base; and a broken file fails closed
    window = resolve_window(root, req.base, req.head, current.settings.base, req.env)
    loaded, changed = _judging_settings(root, window, req.config, current)
    lmap = LayerMap.from_settings(loaded.settings)
    diff = _diff(root, window.merge_base, window.head, lmap, loaded)
    diff = diff.model_copy(update={"base": window.base, "merge_base": window.merge_base, "settings_changed": changed})
    return GateResult(loaded, root, window, diff, None)


def _judging_settings(
    root: Path, window: Window, config: Path | str | None, current: LoadedSettings
) -> tuple[LoadedSettings, str | None]:
    """The base's settings judge the release (a PR cannot loosen its own gate), and whether
    the release changes them. A release that adds the settings file is judged by it."""
    base = _settings_at(root, window.merge_base, config)
    head = _settings_at(root, window.head, config) or current
    if base is None or (base.source is None and head.source is not None):
        return head, None
    return base, (str(head.source or base.source) if head.settings != base.settings else None)


def _settings_at(root: Path, commit: str, config: Path | str | None) -> LoadedSettings | None:
    from pytest_rollout.errors import SettingsError
    from pytest_rollout.settings import load_settings_at

    try:
        return load_settings_at(root, commit, config)
    except SettingsError as exc:
        if config is not None and "settings file not found" in str(exc):
            return None  # the explicit file is new (or not committed): judged by the work tree's
        raise


def run_gate(req: Request) -> GateResult:
    """The full decision for the window ``merge-base(base, head)..head``."""
    from pytest_rollout.gate import OverrideRequest, decide, find_overrides
    from pytest_rollout.refs import window_commits

    res = run_diff(req)
    settings = res.loaded.settings
    commits = window_commits(res.root, res.window)
    requests = find_overrides([(c.sha, c.author, c.message) for c in commits], settings.override.trailer)
    if req.allow_bundle is not None:
        requests.insert(0, OverrideRequest(req.allow_bundle, "option"))
    checks = _per_commit(res.root, commits, res.loaded) if req.per_commit else None
    decision = decide(res.diff.changes, res.diff.unclassified, settings, requests, checks, res.diff.unreadable,
                      res.diff.settings_changed)
    return GateResult(res.loaded, res.root, res.window, res.diff, decision)


def _diff(root: Path, base: str, head: str, lmap: LayerMap, loaded: LoadedSettings) -> DiffResult:
    from pytest_rollout.changes import diff_commits
    from pytest_rollout.layers import classify, layers_changed

    out = diff_commits(root, base, head, lmap.watches, max_bytes=loaded.settings.max_file_size)
    changes, unclassified = classify(out.changes, lmap)
    opaque = {rc.path for rc in out.changes if rc.opaque}
    unreadable = sorted({c.path for c in unclassified if c.key is None and c.path in opaque})
    return DiffResult(
        base=base, head=head, layers_changed=layers_changed(changes), changes=changes,
        unclassified=unclassified, unreadable=unreadable, warnings=list(out.warnings),
    )


def _per_commit(root: Path, commits: list[Commit], loaded: LoadedSettings) -> list[CommitCheck]:
    from pytest_rollout.gate import coupling_reasons
    from pytest_rollout.layers import LayerMap

    lmap = LayerMap.from_settings(loaded.settings)
    checks = []
    for commit in commits:
        if commit.is_merge:
            continue  # a merge (e.g. a pull request's merge ref) brings in other commits' changes, judged there
        parent = commit.parents[0] if commit.parents else _EMPTY_TREE
        diff = _diff(root, parent, commit.sha, lmap, loaded)
        reasons = coupling_reasons(diff.layers_changed, loaded.settings)
        checks.append(
            CommitCheck(commit=commit.sha, subject=commit.subject, layers_changed=diff.layers_changed,
                        status="blocked" if reasons else "pass", reasons=reasons)
        )
    return checks


# git's well-known empty tree: the "parent" of a root commit.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
