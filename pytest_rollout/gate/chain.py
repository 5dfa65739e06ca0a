"""The chain of docs/architecture.md, up to the gate: settings -> refs -> changes -> layers -> gate.

The CLI and the pytest plugin both call ``run_gate``/``run_diff``; neither
re-implements a step. Nothing here imports pytest or scipy.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.frozen import dataclass
from pytest_rollout.models import CommitCheck, Decision, DiffResult
from pytest_rollout.settings import LoadedSettings

if TYPE_CHECKING:
    from pytest_rollout.diff.refs import Commit, Window
    from pytest_rollout.gate.layers import LayerMap


@dataclass(frozen=True)
class Request:
    """What the user asked for, from flags, ini keys or the CLI."""

    repo: Path = Path(".")
    base: str | None = None
    head: str | None = None
    config: Path | str | None = None
    allow_bundle: str | None = None
    per_commit: bool = False
    fallback_base: str | None = None  # an ini rollout_base: used only where nothing else names a base
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    deployed: str | None = None  # --deployed / --rollout-deployed: overrides release.deployed
    fallback_deployed: str | None = None  # an ini rollout_deployed: only where the settings name none
    deploy: bool = False  # judge the deploy of head: deployed..head (gate/releases.py)
    store: str | None = None  # the baseline store, for release.require_measured
    now: datetime | None = None  # the clock of release.min_soak (tests pass one)


@dataclass(frozen=True)
class GateResult:
    loaded: LoadedSettings
    root: Path
    window: Window
    diff: DiffResult
    decision: Decision | None
    settings_paths: Collection[str] = ()  # the settings files, which are not AI config


def run_diff(req: Request) -> GateResult:
    """Everything but the decision: which layers moved, and how."""
    from pytest_rollout.diff.refs import repo_root
    from pytest_rollout.gate.judging import config_path, judge, judged_by
    from pytest_rollout.gate.layers import LayerMap

    root = repo_root(req.repo)
    config = config_path(root, req.config)  # one resolution for every use of it
    judging = judge(root, req, config)
    loaded, window = judging.settings, judging.window
    paths = _settings_paths(root, config)
    diff = _diff(
        root,
        window.merge_base,
        window.head,
        LayerMap.from_settings(loaded.settings),
        loaded,
        paths,
        base_label=window.base,
        settings_changed=judging.changed,
        judged_by=judged_by(root, loaded),
        notes=judging.notes,
    )
    return GateResult(loaded, root, window, diff, None, paths)


def _settings_paths(root: Path, config: Path | None) -> Collection[str]:
    """Repo-relative paths of the settings files: the gate judges their changes itself.

    A ``pyproject.toml`` is never excluded whole: only its ``[tool.pytest-rollout]`` keys are
    settings (``_is_settings_key``); the rest of it may well be AI config.
    """
    from pytest_rollout.settings import SETTINGS_FILES

    paths = set(SETTINGS_FILES)
    if config is not None and config.name != "pyproject.toml":
        try:
            paths.add(config.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            pass
    return paths


def run_gate(req: Request) -> GateResult:
    """The full decision for the window ``merge-base(base, head)..head``."""
    from pytest_rollout.diff.refs import window_commits
    from pytest_rollout.gate.policy import OverrideRequest, coupling_reasons, decide, find_overrides

    deployed = None
    if req.deploy:
        from pytest_rollout.gate.releases import deploy_request

        req, deployed = deploy_request(req)
    res = run_diff(req)
    settings = res.loaded.settings
    releasing = bool(deployed is not None or req.deployed or settings.release.deployed or req.fallback_deployed)
    # The window's commits serve override trailers (read by decide only for a coupled release),
    # per-commit checks and release judging: a release that needs none of them skips `git log`.
    coupled = bool(coupling_reasons(res.diff.layers_changed, settings)) or bool(
        res.diff.settings_changed and res.diff.layers_changed
    )  # decide's "coupled"
    commits = window_commits(res.root, res.window) if coupled or req.per_commit or releasing else []
    requests = find_overrides([(c.sha, c.author, c.message) for c in commits], settings.override.trailer)
    if req.allow_bundle is not None:
        requests.insert(0, OverrideRequest(req.allow_bundle, "option"))
    checks = _per_commit(res.root, commits, res.loaded, res.settings_paths) if req.per_commit else None
    decision = decide(
        res.diff.changes,
        res.diff.unclassified,
        settings,
        requests,
        checks,
        res.diff.unreadable,
        res.diff.settings_changed,
    )
    res = GateResult(res.loaded, res.root, res.window, res.diff, decision, res.settings_paths)
    if releasing:
        from pytest_rollout.gate.releases import judge_release

        res = judge_release(req, res, requests, deployed)  # what is deployed, what is pending
    return res


def _diff(
    root: Path,
    base: str,
    head: str,
    lmap: LayerMap,
    loaded: LoadedSettings,
    settings_paths: Collection[str] = (),
    *,
    base_label: str | None = None,
    settings_changed: str | None = None,
    judged_by: str | None = None,
    notes: Sequence[str] = (),
) -> DiffResult:
    """The classified changes of ``base..head``; ``base_label`` etc. describe the window when it is the release's."""
    from pytest_rollout.diff.changes import diff_commits
    from pytest_rollout.diff.formats import printable
    from pytest_rollout.gate.layers import classify, layers_changed

    def watched(path: str) -> bool:
        return path not in settings_paths and lmap.watches(path)

    out = diff_commits(root, base, head, watched, max_bytes=loaded.settings.max_file_size)
    raw = [rc for rc in out.changes if not _is_settings_key(rc.path, rc.key)]
    changes, unclassified = classify(raw, lmap)
    warnings = [printable(w) for w in (*notes, *out.warnings)]
    unreadable = []
    for rc in raw:
        if rc.opaque and printable(rc.path) not in unreadable:
            carries_ai_config = any(lmap.layer_of(rc.path, key) for key in rc.seen_keys)
            mapped = lmap.user_watches(rc.path) or (rc.old_path and lmap.user_watches(rc.old_path))
            if loaded.settings.strict or mapped or carries_ai_config:
                unreadable.append(printable(rc.path))  # mapped config we cannot read: fail closed
            else:
                warnings.append(
                    f"{printable(rc.path)} changed but cannot be read key by key (unparseable, binary, over "
                    "max_file_size, or a link); no rule maps it, so it is not judged"
                )
    return DiffResult(
        base=base_label or base,
        merge_base=base if base_label is not None else None,
        settings_changed=settings_changed,
        judged_by=judged_by,
        head=head,
        layers_changed=layers_changed(changes),
        changes=changes,
        unclassified=unclassified,
        unreadable=sorted(unreadable),
        warnings=warnings,
    )


def _is_settings_key(path: str, key: tuple[str, ...] | None) -> bool:
    """``[tool.pytest-rollout]`` in a pyproject.toml is settings, not AI config."""
    return path.rsplit("/", 1)[-1] == "pyproject.toml" and key is not None and key[:2] == ("tool", "pytest-rollout")


def _per_commit(
    root: Path, commits: list[Commit], loaded: LoadedSettings, settings_paths: Collection[str]
) -> list[CommitCheck]:
    from pytest_rollout.diff.redact import scrub_text
    from pytest_rollout.gate.layers import LayerMap
    from pytest_rollout.gate.policy import coupling_reasons

    lmap = LayerMap.from_settings(loaded.settings)
    checks = []
    for commit in commits:
        if commit.is_merge:
            continue  # a merge (e.g. a pull request's merge ref) brings in other commits' changes, judged there
        parent = commit.parents[0] if commit.parents else _EMPTY_TREE
        diff = _diff(root, parent, commit.sha, lmap, loaded, settings_paths)
        reasons = coupling_reasons(diff.layers_changed, loaded.settings)
        checks.append(
            CommitCheck(
                commit=commit.sha,
                subject=scrub_text(commit.subject),
                layers_changed=diff.layers_changed,
                status="blocked" if reasons else "pass",
                reasons=reasons,
            )
        )
    return checks


# git's well-known empty tree: the "parent" of a root commit.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
