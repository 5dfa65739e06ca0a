"""Releases: what is deployed, what is pending on the base branch, and the deploy gate.

docs/reference.md, "Releases". Two teams each merge one layer and each passes its own gate; the next
deploy ships both. The unit of sequencing is the deploy, so with ``release.deployed`` set:

- the PR gate also counts the layers **pending** on the base branch (moved in
  ``deployed..base``): a release that adds a coupled layer to them is blocked, naming the
  pending commits; same-layer pending changes do not block;
- the deploy gate (``check --deploy``) judges ``deployed..head`` and, when blocked, plans
  first-parent **commits** to deploy in order, each moving one layer;
- ``require_measured`` and ``min_soak`` make the next layer wait for the deployed one.

Everything here is git plumbing (``diff/git.py``: tags, ancestry, first-parent logs): ``check``
runs it with release settings, and the pre-push path does not import GitPython (``diff/repo.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.diff.git import git_ok, run_git
from pytest_rollout.diff.refs import SHALLOW_FIX, Commit, is_shallow
from pytest_rollout.errors import GitError, SettingsError
from pytest_rollout.gate.deploys import DeployedRelease, deploy_tags, is_glob, tag_pattern
from pytest_rollout.models import Change, Decision, Pending, PlanStep

if TYPE_CHECKING:
    from pytest_rollout.gate.chain import GateResult, Request
    from pytest_rollout.gate.policy import OverrideRequest
    from pytest_rollout.models import DiffResult
    from pytest_rollout.settings import Settings

TAGS_FIX = (
    "fetch the deploy tags (`git fetch --tags`; actions/checkout: `fetch-depth: 0` and `fetch-tags: true`), "
    "or record the first deploy with `pytest-rollout release mark <commit>`"
)


# --- what is deployed -------------------------------------------------------------------


def resolve_deployed(root: Path, spec: str, target: str, source: str) -> DeployedRelease:
    """The deployed release named by ``spec``: for a tag glob, the newest matching tag that is an
    ancestor of ``target`` (the commit the next deploy ships from); else a branch or any ref,
    which must be an ancestor of ``target``. Never a silent fallback: unresolvable is an error."""
    if is_glob(spec):
        return _newest_tag(root, spec, target, source)
    out = run_git(root, "rev-parse", "--verify", "-q", "--end-of-options", f"{spec}^{{commit}}", check=False)
    sha = out.decode().strip()
    if not sha or spec.startswith("-"):
        shallow = "this clone is shallow: " + SHALLOW_FIX + "; " if is_shallow(root) else ""
        raise GitError(f"deployed ref {spec!r} ({source}) is not in this clone: {shallow}{TAGS_FIX}")
    _must_be_ancestor(root, spec, sha, target, source)
    full = run_git(root, "rev-parse", "--symbolic-full-name", spec, check=False).decode().strip() or spec
    at = None
    if full.startswith("refs/tags/") or (not full.startswith("refs/") and "/" in spec):
        tags = [t for t in deploy_tags(root, tag_pattern(spec)) if t.ref == tag_pattern(spec)]
        at = tags[0].at if tags else None
    return DeployedRelease(full, sha, at, source)


def _newest_tag(root: Path, spec: str, target: str, source: str) -> DeployedRelease:
    pattern = tag_pattern(spec)
    tags = deploy_tags(root, pattern)
    if not tags:
        shallow = "this clone is shallow and has no tags: " if is_shallow(root) else ""
        raise GitError(f"no tag matches the deployed glob {pattern!r} ({source}): {shallow}{TAGS_FIX}")
    for tag in tags:
        if is_ancestor(root, tag.commit, target):
            return DeployedRelease(tag.ref, tag.commit, tag.at, source)
    newest = tags[0]
    hint = SHALLOW_FIX if is_shallow(root) else _HOTFIX_FIX
    raise GitError(
        f"no tag matching {pattern!r} ({source}) is an ancestor of {target[:10]}; the newest, "
        f"{newest.name} at {newest.commit[:10]}, is not: {hint}"
    )


_HOTFIX_FIX = (
    "the deployed commit is not in this branch's history (a hotfix deployed from another branch?): "
    "merge it back (`git merge <hotfix>`), or name the deployed release with --deployed REF"
)


def _must_be_ancestor(root: Path, spec: str, sha: str, target: str, source: str) -> None:
    if is_ancestor(root, sha, target):
        return
    hint = SHALLOW_FIX if is_shallow(root) else _HOTFIX_FIX
    raise GitError(
        f"deployed ref {spec!r} ({source}) at {sha[:10]} is not an ancestor of {target[:10]}, so the gate cannot "
        f"tell what the next deploy ships: {hint}"
    )


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    return git_ok(root, "merge-base", "--is-ancestor", ancestor, descendant)


def first_parent_commits(root: Path, since: str, until: str) -> list[Commit]:
    """First-parent commits of ``since..until``, oldest first: what the branch's history shows
    as its steps (a merged pull request is one commit, its merge or its squash)."""
    fmt = "%H%x1f%P%x1f%an <%ae>%x1f%B%x1e"
    out = run_git(root, "log", "--first-parent", "--reverse", f"--format={fmt}", f"{since}..{until}")
    commits = []
    for rec in out.decode("utf-8", "replace").split("\x1e"):
        rec = rec.lstrip("\n")
        if rec:
            sha, parents, author, message = rec.split("\x1f", 3)
            commits.append(Commit(sha, author, message.strip("\n"), tuple(parents.split())))
    return commits


# --- the chain's entry points --------------------------------------------------------------


def deploy_request(req: Request) -> tuple[Request, DeployedRelease]:
    """``check --deploy``: the window is ``deployed..head``. ``release.deployed`` is read from
    the checked-out settings (what the deploy job runs); the deployed commit's own settings
    then judge the window, as a base's do."""
    from pytest_rollout.diff.refs import repo_root, resolve_window
    from pytest_rollout.gate.judging import config_path
    from pytest_rollout.settings import load_settings

    if req.base:
        raise SettingsError(
            "check --deploy judges deployed..head: drop --base (name the deployed release with --deployed)"
        )
    root = repo_root(req.repo)
    current = load_settings(root, config_path(root, req.config))
    spec, source = _spec(req, current.settings, current.source)
    if spec is None:
        raise SettingsError(
            'check --deploy needs the deployed release: set `release: {deployed: "refs/tags/deploy/prod/*"}` in '
            "rollout.yaml, or pass --deployed REF"
        )
    head = resolve_window(root, "HEAD", req.head or "HEAD").head
    deployed = resolve_deployed(root, spec, head, source)
    return dataclasses.replace(req, base=deployed.commit), deployed


def _spec(req: Request, settings: Settings, where: Path | None) -> tuple[str | None, str]:
    if req.deployed:
        return req.deployed, "--deployed"
    name = where.name if where is not None else "the settings"
    if settings.release.deployed or not req.fallback_deployed:
        return settings.release.deployed, f"release.deployed in {name}"
    # Only a fallback: the ini file comes with the release, which must not choose what counts as deployed.
    return req.fallback_deployed, "ini rollout_deployed"


def judge_release(
    req: Request, res: GateResult, overrides: Sequence[OverrideRequest], deployed: DeployedRelease | None
) -> GateResult:
    """Add what is deployed to a gate result: pending layers (PR gate) or the commit plan (deploy gate),
    and the measured/soak rules. ``deployed`` is given for the deploy gate."""
    settings = res.loaded.settings
    now = req.now or datetime.now(timezone.utc)
    assert res.decision is not None
    warnings: list[str] = []
    if deployed is None:
        spec, source = _spec(req, settings, res.loaded.source)
        assert spec is not None
        deployed = resolve_deployed(res.root, spec, res.window.base, source + _at(res.loaded.commit))
        decision = _with_pending(res, deployed, overrides)
        blocking = False  # the PR gate warns; the deploy gate blocks
    else:
        decision = _with_commit_plan(res, deployed)
        blocking = True
    waits = _waits(req, res, deployed, now) if res.diff.layers_changed else []
    if blocking and waits:
        decision = decision.model_copy(update={"status": "blocked", "reasons": [*decision.reasons, *waits]})
    elif waits:
        warnings += [f"{w} (the deploy gate will block until then)" for w in waits]
    diff = res.diff.model_copy(update={"deployed": deployed.model(), "warnings": [*res.diff.warnings, *warnings]})
    return dataclasses.replace(res, diff=diff, decision=decision)


def _at(commit: str | None) -> str:
    return f" at {commit[:10]}" if commit else ""


# --- the PR gate: pending layers ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Moved:
    commit: Commit
    layers: list[str]


def _with_pending(res: GateResult, deployed: DeployedRelease, overrides: Sequence[OverrideRequest]) -> Decision:
    from pytest_rollout.gate.policy import accept_override

    assert res.decision is not None
    settings = res.loaded.settings
    pending_diff = _layer_diff(res, deployed.commit, res.window.base)
    moved = _commit_layers(res, deployed.commit, res.window.base) if pending_diff.layers_changed else []
    pending = [
        Pending(layer=layer, commits=[m.commit.sha for m in moved if layer in m.layers])
        for layer in pending_diff.layers_changed
    ]
    reasons = _pending_reasons(res.root, res.diff.layers_changed, pending, moved, settings, deployed)
    decision = res.decision.model_copy(update={"pending": pending})
    if not reasons:
        return decision
    override, refused = (decision.override, []) if decision.override else accept_override(overrides, settings)
    if override is not None:
        return decision.model_copy(update={"override": override})
    plan = decision.plan or _pending_plan(res.diff.changes, pending_diff.changes, pending, moved, settings)
    return decision.model_copy(
        update={"status": "blocked", "reasons": [*decision.reasons, *reasons, *refused], "plan": plan}
    )


def _pending_reasons(
    root: Path,
    release: Sequence[str],
    pending: Sequence[Pending],
    moved: Sequence[_Moved],
    settings: Settings,
    deployed: DeployedRelease,
) -> list[str]:
    """A release that adds a coupled layer to the layers pending on the base branch is blocked;
    a release that moves only layers already pending (or none) is not."""
    limit = settings.coupling.max_layers_per_release
    pend = {p.layer for p in pending}
    reasons = []
    for group in settings.coupling_groups:
        mine = [n for n in settings.ship_order if n in group and n in release]
        waiting = [n for n in settings.ship_order if n in group and n in pend]
        together = [n for n in settings.ship_order if n in group and (n in pend or n in release)]
        if not waiting or not set(mine) - pend or len(mine) > limit or len(together) <= limit:
            continue
        shas = {sha for p in pending if p.layer in waiting for sha in p.commits}
        named = "; ".join(_commit_label(root, m.commit) for m in moved if m.commit.sha in shas)
        reasons.append(
            f"layer(s) {', '.join(waiting)} pending on the base branch (merged since the deployed "
            f"{deployed.name} {deployed.commit[:10]}, not deployed): {named}. This release moves "
            f"{', '.join(mine)}, coupled with it: the next deploy would ship {', '.join(together)} together. "
            "Wait until the pending commits are deployed and measured, then re-run the gate"
        )
    return reasons


def _commit_label(root: Path, c: Commit) -> str:
    """sha, subject, author; a merge also names who wrote the commits it brings in."""
    label = f'{c.sha[:10]} "{c.subject[:72]}" by {c.author}'
    if not c.is_merge:
        return label
    out = run_git(root, "log", "--format=%an <%ae>", f"{c.parents[0]}..{c.sha}", "--no-merges")
    lines = out.decode("utf-8", "replace").splitlines()
    authors = [a for a in dict.fromkeys(lines) if a]
    if authors:
        label += f" (merging {len(lines)} commit(s) by {', '.join(authors)})"
    return label


def _pending_plan(
    release: Sequence[Change],
    pending_changes: Sequence[Change],
    pending: Sequence[Pending],
    moved: Sequence[_Moved],
    settings: Settings,
) -> list[PlanStep]:
    """Pending layers first (they are merged already: deploy them), then this release's layers."""
    pend = {p.layer: p.commits for p in pending}
    mine = {c.layer for c in release if c.layer}
    names = [n for n in settings.ship_order if n in pend] + [n for n in settings.ship_order if n in mine - set(pend)]
    subjects = {m.commit.sha: m.commit.subject for m in moved}
    steps = []
    for i, name in enumerate(names, 1):
        ours = [c for c in release if c.layer == name]
        if name in pend:
            shown = ", ".join(f"{s[:10]} ({subjects.get(s, '')[:40]})" for s in pend[name])
            text = f"merged, not deployed ({shown}): deploy it and measure its evals"
            text += "; this release's change to it can ship with it" if ours else ""
        else:
            text = "this release: merge it once the steps before it are deployed and measured"
        changes = [c for c in pending_changes if c.layer == name] + ours
        steps.append(PlanStep(step=i, layer=name, changes=changes, commits=pend.get(name, []), instruction=text))
    return steps


# --- the deploy gate: a plan of commits ---------------------------------------------------


def _with_commit_plan(res: GateResult, deployed: DeployedRelease) -> Decision:
    """A blocked deploy's plan names first-parent commits to deploy in order: each step deploys the
    longest run of commits whose layers may still ship together."""
    assert res.decision is not None
    if not res.decision.plan:
        return res.decision
    settings = res.loaded.settings
    runs = _steps(_commit_layers(res, deployed.commit, res.window.head), settings)
    plan = []
    prev = deployed.commit
    for i, (commits, layers) in enumerate(runs, 1):
        last = commits[-1].sha
        plan.append(
            PlanStep(
                step=i,
                layer=", ".join(layers) or "none",
                changes=_layer_diff(res, prev, last).changes,
                commit=last,
                commits=[m.sha for m in commits],
                instruction=_deploy_instruction(i, len(runs), commits[-1], layers, settings),
            )
        )
        prev = last
    return res.decision.model_copy(update={"plan": plan})


def _steps(moved: Sequence[_Moved], settings: Settings) -> list[tuple[list[Commit], list[str]]]:
    from pytest_rollout.gate.policy import coupling_reasons

    runs: list[tuple[list[Commit], list[str]]] = []
    commits: list[Commit] = []
    layers: list[str] = []
    for m in moved:
        together = [n for n in settings.ship_order if n in layers or n in m.layers]
        if commits and layers and together != layers and coupling_reasons(together, settings):
            runs.append((commits, layers))
            commits, together = [], [n for n in settings.ship_order if n in m.layers]
        commits.append(m.commit)
        layers = together
    if commits:
        runs.append((commits, layers))
    return runs


def _deploy_instruction(i: int, total: int, commit: Commit, layers: list[str], settings: Settings) -> str:
    from pytest_rollout.gate.policy import coupling_reasons

    text = f'deploy {commit.sha[:10]} ("{commit.subject[:60]}"), measure its evals, record it with '
    text += f"`pytest-rollout release mark {commit.sha[:10]}`"
    text += f", then step {i + 1}" if i < total else ", done"
    if coupling_reasons(layers, settings):
        text += f"; this commit alone moves {', '.join(layers)}: approve the bundle in it or revert and split it"
    return text


# --- shared ------------------------------------------------------------------------------


def _layer_diff(res: GateResult, base: str, head: str) -> DiffResult:
    from pytest_rollout.gate.chain import _diff
    from pytest_rollout.gate.layers import LayerMap

    lmap = LayerMap.from_settings(res.loaded.settings)
    return _diff(res.root, base, head, lmap, res.loaded, res.settings_paths)


def _commit_layers(res: GateResult, since: str, until: str) -> list[_Moved]:
    """Each first-parent commit of ``since..until`` with the layers it moves (against its first parent)."""
    out = []
    for c in first_parent_commits(res.root, since, until):
        parent = c.parents[0] if c.parents else since
        out.append(_Moved(c, _layer_diff(res, parent, c.sha).layers_changed))
    return out


# --- measured, soaked ----------------------------------------------------------------------


def _waits(req: Request, res: GateResult, deployed: DeployedRelease, now: datetime) -> list[str]:
    """Why the next layer must still wait for the deployed release (empty: it need not)."""
    rel = res.loaded.settings.release
    out = []
    if rel.require_measured:
        out += _unmeasured(req, res, deployed)
    soak = rel.min_soak_seconds
    if soak is not None:
        if deployed.at is None:
            raise GitError(
                f"release.min_soak needs the deploy time, and {deployed.ref} is not a tag: set release.deployed to "
                'a tag glob (e.g. "refs/tags/deploy/prod/*") written by `pytest-rollout release mark`'
            )
        age = (now - deployed.at).total_seconds()
        if age < soak:
            out.append(
                f"the deployed {deployed.name} is {_span(age)} old; release.min_soak is {rel.min_soak}: "
                f"the next layer ships in {_span(soak - age)}"
            )
    return out


def _unmeasured(req: Request, res: GateResult, deployed: DeployedRelease) -> list[str]:
    from pytest_rollout.baselines.fingerprints import layer_fingerprints
    from pytest_rollout.baselines.store import Store, shown, store_exists, store_path

    path = store_path(res.root, req.store)
    prints = layer_fingerprints(res.root, deployed.commit, res.loaded.settings)
    if store_exists(path):
        with Store(path) as db:
            for run in db.runs():
                if run.complete and all(run.fingerprints.get(k) == v for k, v in prints.items()):
                    return []
    return [
        f"the deployed {deployed.name} {deployed.commit[:10]} has no complete recorded eval run in {shown(path)} "
        "(release.require_measured): measure it first, `pytest --rollout-record` on that commit"
    ]


def _span(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{mins}m"])
