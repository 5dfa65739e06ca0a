"""``pytest-rollout history``: one row per deploy, newest first, for the post-mortem.

Which release moved which layer (the layer diff between consecutive deploy tags), and where
an eval's estimate fell (the complete recorded run at each deployed commit, compared with the
previous deploy's). Nothing here imports pytest or scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_rollout.gate.deploys import DeployTag, deploy_tags, iso, tag_pattern
from pytest_rollout.settings import LoadedSettings


@dataclass(frozen=True)
class DeployEval:
    nodeid: str
    verdict: str
    estimate: float | None
    change: float | None  # estimate minus the previous deploy's, same eval


@dataclass(frozen=True)
class DeployRow:
    tag: str
    commit: str
    at: str
    layers_changed: list[str] | None  # None: the first deploy on record
    evals: list[DeployEval] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "commit": self.commit,
            "at": self.at,
            "layers_changed": self.layers_changed,
            "evals": [vars(e) for e in self.evals],
        }


def deploy_history(
    root: Path, spec: str, loaded: LoadedSettings, store_file: Path | str, limit: int | None = None
) -> list[DeployRow]:
    """Deploy tags matching ``spec``, newest first, each with the layers moved since the previous one."""
    tags = deploy_tags(root, tag_pattern(spec))
    shown = tags if limit is None else tags[:limit]
    estimates = _recorded(root, loaded, store_file, [t.commit for t in tags[: len(shown) + 1]])
    rows = []
    for i, tag in enumerate(shown):
        prev = tags[i + 1] if i + 1 < len(tags) else None
        rows.append(_row(root, loaded, tag, prev, estimates))
    return rows


def _row(
    root: Path,
    loaded: LoadedSettings,
    tag: DeployTag,
    prev: DeployTag | None,
    recorded: dict[str, list[dict[str, Any]]],
) -> DeployRow:
    layers = _layers(root, loaded, prev.commit, tag.commit) if prev is not None else None
    before = {e["nodeid"]: e.get("estimate") for e in recorded.get(prev.commit, [])} if prev else {}
    evals = []
    for e in recorded.get(tag.commit, []):
        est, old = e.get("estimate"), before.get(e["nodeid"])
        change = est - old if est is not None and old is not None else None
        evals.append(DeployEval(e["nodeid"], e["verdict"], est, change))
    return DeployRow(tag.name, tag.commit, iso(tag.at), layers, evals)


def _layers(root: Path, loaded: LoadedSettings, base: str, head: str) -> list[str]:
    from pytest_rollout.gate.chain import _diff, _settings_paths
    from pytest_rollout.gate.layers import LayerMap

    lmap = LayerMap.from_settings(loaded.settings)
    return _diff(root, base, head, lmap, loaded, _settings_paths(root, None)).layers_changed


def _recorded(
    root: Path, loaded: LoadedSettings, store_file: Path | str, commits: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The evals of the newest complete run at each commit; else of the newest complete run with
    that commit's layer fingerprints (a code-only commit deploys the config a run measured)."""
    from pytest_rollout.baselines.store import Store, store_exists

    if not store_exists(store_file):
        return {}
    from pytest_rollout.baselines.fingerprints import layer_fingerprints

    out: dict[str, list[dict[str, Any]]] = {}
    with Store(store_file) as db:
        runs = [r for r in db.runs() if r.complete]  # newest first
        for commit in dict.fromkeys(commits):
            run = next((r for r in runs if r.commit == commit), None)
            if run is None:
                prints = layer_fingerprints(root, commit, loaded.settings)
                run = next((r for r in runs if all(r.fingerprints.get(k) == v for k, v in prints.items())), None)
            if run is not None:
                out[commit] = db.evals_of(run.id)
    return out
