"""Which commits a release spans and which settings judge it: one rule, one result (a release picks neither).

Which base names the window, first that applies:
1. ``--rollout-base`` / ``--base`` on the command line;
2. ``base:`` in the settings *as committed at the provisional base* (the one CI variables,
   the upstream or ``origin/HEAD`` name): the base branch's rule, never the release's own;
3. that provisional base (``GITHUB_BASE_REF``, ``CI_MERGE_REQUEST_TARGET_BRANCH_NAME``, upstream, ``origin/HEAD``);
4. only where nothing above names a base: the ini ``rollout_base``, else the work tree's ``base:``.

Which settings judge it: the settings at the merge-base. Where they do not exist (an explicit
settings file new in this release) or cannot be read, the built-in defaults judge, and the
release is counted as changing its settings (so changing them together with a layer blocks).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.errors import SettingsError
from pytest_rollout.frozen import dataclass
from pytest_rollout.settings import LoadedSettings, Settings, load_settings, settings_at, settings_folders

if TYPE_CHECKING:
    from pytest_rollout.diff.refs import Window
    from pytest_rollout.gate.chain import Request


@dataclass(frozen=True)
class Judging:
    """The window and the settings that judge it, with the reasons a user should read."""

    window: Window
    settings: LoadedSettings  # the merge-base's, or the built-in defaults
    changed: str | None = None  # the settings file, when this release changes it
    notes: tuple[str, ...] = ()


def judge(root: Path, req: Request, config: Path | None) -> Judging:
    """``config`` is the explicit settings path, already made absolute (``config_path``)."""
    from pytest_rollout.diff.git import prefetch_trees

    current = load_settings(root, config)  # a broken file in the work tree fails closed
    window = release_window(root, req, current, config)
    prefetch_trees(root, (window.head, window.merge_base), settings_folders(root, config))  # one git call
    notes = rollback_notes(window)
    head = _at(root, window.head, config) or current
    try:
        base = _at(root, window.merge_base, config)
    except SettingsError as exc:
        # A base whose settings no longer load must stay fixable, but not by the release's own
        # rules: judge by the built-in defaults, and count the settings as changed.
        note = f"settings at the base cannot be read ({exc}): judged by the built-in defaults"
        return Judging(window, _defaults(window), shown(root, head.source), (*notes, note))
    if base is None:  # an explicit settings file that is new in this release
        return Judging(window, _defaults(window), shown(root, head.source), notes)
    changed = head.settings != base.settings or head.source != base.source
    return Judging(window, base, shown(root, head.source or base.source) if changed else None, notes)


def rollback_notes(window: Window) -> tuple[str, ...]:
    if not window.rollback:
        return ()
    return (
        f"head {window.head[:10]} is older than base {window.base_label} ({window.base[:10]}): this is a rollback; "
        "judged as what deploying head would change from base",
    )


def release_window(root: Path, req: Request, current: LoadedSettings, config: Path | None) -> Window:
    """The window, by the rule in this module's docstring."""
    from pytest_rollout.diff.refs import resolve_window
    from pytest_rollout.errors import NoBaseError

    if req.base:
        return resolve_window(root, req.base, req.head, None, req.env)
    try:
        provisional = resolve_window(root, None, req.head, None, req.env)
    except NoBaseError:  # only when nothing names a base: a base that fails to resolve stays an error
        return resolve_window(root, None, req.head, req.fallback_base or current.settings.base, req.env)
    try:
        at_base = _at(root, provisional.merge_base, config)
    except SettingsError:
        return provisional  # the base's settings are broken: judge() says so
    base = at_base.settings.base if at_base is not None else None
    return resolve_window(root, base, req.head, None, req.env) if base else provisional


def config_path(root: Path, config: Path | str | None) -> Path | None:
    """An explicit settings path, absolute: relative to the current folder when it exists there,
    else to the repo root (as ``load_settings`` reads it)."""
    if config is None:
        return None
    p = Path(config)
    if p.is_absolute():
        return p
    return p.resolve() if p.exists() else (root / p).resolve()


def shown(root: Path, source: Path | None) -> str:
    """A settings path as the user should read it: relative to the repo when inside it."""
    if source is None:
        return "the settings"
    try:
        return source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)


def judged_by(root: Path, loaded: LoadedSettings) -> str:
    where = f" at {loaded.commit[:10]}" if loaded.commit else ""
    return f"{shown(root, loaded.source)}{where}" if loaded.source else f"the built-in defaults{where}"


def _at(root: Path, commit: str, config: Path | None) -> LoadedSettings | None:
    """The settings at ``commit``; None where the explicit file does not exist there; a
    SettingsError naming the commit where they exist but do not load."""
    try:
        return settings_at(root, commit, config)
    except SettingsError as exc:
        raise SettingsError(f"{exc} (as committed at {commit[:10]})") from None


def _defaults(window: Window) -> LoadedSettings:
    return LoadedSettings(Settings(), None, window.merge_base)
