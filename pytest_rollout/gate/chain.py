"""The chain of DESIGN.md, up to the gate: settings -> refs -> changes -> layers -> gate.

The CLI and the pytest plugin both call ``run_gate``/``run_diff``; neither
re-implements a step. Nothing here imports pytest or scipy.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.models import CommitCheck, Decision, DiffResult
from pytest_rollout.settings import LoadedSettings, load_settings

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
    from pytest_rollout.gate.layers import LayerMap

    root = repo_root(req.repo)
    config = config_path(root, req.config)  # one resolution for every use of it
    current = load_settings(root, config)  # a broken file in the work tree fails closed
    window = release_window(root, req, current, config)
    loaded, changed, notes = _judging_settings(root, window, config, current)
    lmap = LayerMap.from_settings(loaded.settings)
    paths = _settings_paths(root, config)
    diff = _diff(root, window.merge_base, window.head, lmap, loaded, paths)
    diff = diff.model_copy(
        update={
            "base": window.base,
            "merge_base": window.merge_base,
            "settings_changed": changed,
            "judged_by": _judged_by(root, loaded),
            "warnings": [*notes, *diff.warnings],
        }
    )
    return GateResult(loaded, root, window, diff, None, paths)


def config_path(root: Path, config: Path | str | None) -> Path | None:
    """An explicit settings path, absolute: relative to the current folder when it exists there,
    else to the repo root (as ``load_settings`` reads it)."""
    if config is None:
        return None
    p = Path(config)
    if p.is_absolute():
        return p
    return p.resolve() if p.exists() else (root / p).resolve()


def release_window(root: Path, req: Request, current: LoadedSettings, config: Path | None) -> Window:
    """The release window. ``base:`` is read from the settings of the base branch, never from
    the release itself: a pull request must not choose the window it is judged on. The work
    tree's ``base:`` (and an ini ``rollout_base``) count only where nothing else names a base."""
    from pytest_rollout.diff.refs import resolve_window
    from pytest_rollout.errors import NoBaseError, SettingsError

    if req.base:
        return resolve_window(root, req.base, req.head, None, req.env)
    try:
        provisional = resolve_window(root, None, req.head, None, req.env)  # CI variables, upstream, origin/HEAD
    except NoBaseError:  # only when nothing names a base: a base that fails to resolve stays an error
        return resolve_window(root, None, req.head, req.fallback_base or current.settings.base, req.env)
    try:
        at_base = _settings_at(root, provisional.merge_base, config)
    except SettingsError:
        return provisional  # the base's settings are broken: _judging_settings says so
    base = at_base.settings.base if at_base is not None else None
    return resolve_window(root, base, req.head, None, req.env) if base else provisional


def _judging_settings(
    root: Path, window: Window, config: Path | None, current: LoadedSettings
) -> tuple[LoadedSettings, str | None, list[str]]:
    """The base's settings judge the release (a PR cannot loosen its own gate); also whether
    the release changes them, and what the user should know about it."""
    from pytest_rollout.errors import SettingsError
    from pytest_rollout.settings import Settings

    head = _settings_at(root, window.head, config) or current
    try:
        base = _settings_at(root, window.merge_base, config)
    except SettingsError as exc:
        # A base whose settings no longer load must stay fixable, but not by the release's own
        # rules: judge by the built-in defaults, and count the settings as changed.
        defaults = LoadedSettings(Settings(), None, window.merge_base)
        return (
            defaults,
            _shown(root, head.source),
            [f"settings at the base cannot be read ({exc}): judged by the built-in defaults"],
        )
    if base is None:  # an explicit --config that is new in this release: the defaults judge it
        return LoadedSettings(Settings(), None, window.merge_base), _shown(root, head.source), []
    changed = head.settings != base.settings or head.source != base.source
    return base, (_shown(root, head.source or base.source) if changed else None), []


def _judged_by(root: Path, loaded: LoadedSettings) -> str:
    where = f" at {loaded.commit[:10]}" if loaded.commit else ""
    return f"{_shown(root, loaded.source)}{where}" if loaded.source else f"the built-in defaults{where}"


def _shown(root: Path, source: Path | None) -> str:
    if source is None:
        return "the settings"
    try:
        return source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)


def _settings_at(root: Path, commit: str, config: Path | None) -> LoadedSettings | None:
    from pytest_rollout.errors import SettingsError
    from pytest_rollout.settings import load_settings_at

    try:
        return load_settings_at(root, commit, config)
    except SettingsError as exc:
        if config is not None and "settings file not found" in str(exc):
            return None  # the explicit file is new (or not committed)
        raise SettingsError(f"{exc} (as committed at {commit[:10]})") from None


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
    from pytest_rollout.gate.policy import OverrideRequest, decide, find_overrides

    res = run_diff(req)
    settings = res.loaded.settings
    commits = window_commits(res.root, res.window)
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
    return GateResult(res.loaded, res.root, res.window, res.diff, decision, res.settings_paths)


def _diff(
    root: Path, base: str, head: str, lmap: LayerMap, loaded: LoadedSettings, settings_paths: Collection[str] = ()
) -> DiffResult:
    from pytest_rollout.diff.changes import diff_commits
    from pytest_rollout.gate.layers import classify, layers_changed

    def watched(path: str) -> bool:
        return path not in settings_paths and lmap.watches(path)

    out = diff_commits(root, base, head, watched, max_bytes=loaded.settings.max_file_size)
    raw = [rc for rc in out.changes if not _is_settings_key(rc.path, rc.key)]
    changes, unclassified = classify(raw, lmap)
    warnings = list(out.warnings)
    unreadable = []
    for rc in raw:
        if rc.opaque and rc.path not in unreadable:
            carries_ai_config = any(lmap.layer_of(rc.path, key) for key in rc.seen_keys)
            mapped = lmap.user_watches(rc.path) or (rc.old_path and lmap.user_watches(rc.old_path))
            if loaded.settings.strict or mapped or carries_ai_config:
                unreadable.append(rc.path)  # mapped config we cannot read: fail closed
            else:
                warnings.append(
                    f"{rc.path} changed but cannot be read key by key (unparseable, binary, over "
                    "max_file_size, or a link); no rule maps it, so it is not judged"
                )
    return DiffResult(
        base=base,
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
                subject=commit.subject,
                layers_changed=diff.layers_changed,
                status="blocked" if reasons else "pass",
                reasons=reasons,
            )
        )
    return checks


# git's well-known empty tree: the "parent" of a root commit.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
