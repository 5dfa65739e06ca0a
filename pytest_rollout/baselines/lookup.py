"""Where a ``max_regression`` eval finds its baseline, and where a run records itself.

The reference point is the base commit of the release (the window's merge-base,
or HEAD under ``--rollout-drift``): a stored run is a valid baseline for an eval
when the fingerprints of the layers the eval measures equal the base's
(``fingerprints.py``). Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_rollout.baselines.store import Baseline, Store
    from pytest_rollout.evals.trials import TrialRecord
    from pytest_rollout.models import EvalResult
    from pytest_rollout.settings import Settings

RECORD_HINT = "record one on that commit with `pytest --rollout-record` (CI on the main branch after merge)"


@dataclass
class BaselineContext:
    """Lazily computed per process: git reads are cheap, and workers need them too."""

    root: Path
    settings: Settings
    store_file: Path | str
    reference: str | None  # the commit whose fingerprints a baseline must match
    reference_label: str
    problem: str | None = None  # why there is no reference commit
    _fingerprints: dict[str, str] | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def fingerprints(self) -> dict[str, str]:
        if self._fingerprints is None:
            from pytest_rollout.baselines.fingerprints import layer_fingerprints

            assert self.reference is not None
            self._fingerprints = layer_fingerprints(self.root, self.reference, self.settings)
        return self._fingerprints

    @property
    def store(self) -> Store:
        if self._store is None:
            from pytest_rollout.baselines.store import Store

            self._store = Store(self.store_file)
        return self._store

    def lookup(self, nodeid: str, layers: tuple[str, ...]) -> Baseline | None:
        from pytest_rollout.baselines.store import store_exists

        if self.reference is None or not store_exists(self.store_file):
            return None
        known = [layer for layer in layers if layer in self.fingerprints]
        return self.store.latest_baseline(nodeid, self.fingerprints, known or None)

    def missing(self, nodeid: str, layers: tuple[str, ...]) -> str:
        """Why there is no baseline, and the command that records one."""
        if self.reference is None:
            return f"no baseline for {nodeid}: {self.problem}"
        scope = f"layers {', '.join(layers)}" if layers else "all layers"
        from pytest_rollout.baselines.store import shown, store_exists

        where = shown(self.store_file) if store_exists(self.store_file) else f"{self.store_file} (no store yet)"
        return (
            f"no baseline for {nodeid} in {where} with the config of {self.reference_label} "
            f"{self.reference[:10]} ({scope}): {RECORD_HINT}"
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def baseline_context(
    root: Path,
    config: str | None,
    store: str | None,
    *,
    drift: bool,
    release_base: str | None,
    base_flag: str | None,
    fallback_base: str | None,
    env: Mapping[str, str],
) -> BaselineContext:
    """The reference commit: HEAD for drift, else the release's base (the gate's merge-base,
    or the window the gate would judge: the release cannot pick its own baseline either)."""
    from pytest_rollout.baselines.store import store_path
    from pytest_rollout.diff.refs import resolve_window
    from pytest_rollout.errors import GitError
    from pytest_rollout.gate.chain import Request
    from pytest_rollout.gate.judging import config_path, release_window
    from pytest_rollout.settings import load_settings

    loaded = load_settings(root, config)
    settings, path = loaded.settings, store_path(root, store)
    if drift:
        return BaselineContext(root, settings, path, resolve_window(root, "HEAD", "HEAD").head, "HEAD (drift check)")
    if release_base:
        return BaselineContext(root, settings, path, release_base, "the release's base")
    req = Request(repo=root, base=base_flag, fallback_base=fallback_base, config=config, env=dict(env))
    try:
        window = release_window(root, req, loaded, config_path(root, config))
    except GitError as exc:
        problem = f"{exc}; max_regression compares against the base commit's baseline"
        return BaselineContext(root, settings, path, None, "", problem)
    return BaselineContext(root, settings, path, window.merge_base, "the release's base")


def begin_recording(rootpath: Path, config: str | None, store: str | None, seed: int) -> tuple[str, int]:
    """Open a run under HEAD, incomplete until the session ends normally; refuse a work tree
    whose watched config is not HEAD's (the run would carry the wrong fingerprints)."""
    from pytest_rollout import __version__
    from pytest_rollout.baselines.fingerprints import dirty_config, layer_fingerprints
    from pytest_rollout.baselines.store import Store, store_path
    from pytest_rollout.diff.refs import repo_root, resolve_window
    from pytest_rollout.errors import StoreError
    from pytest_rollout.settings import load_settings

    root = repo_root(rootpath)
    settings = load_settings(root, config).settings
    dirty = dirty_config(root, settings)
    if dirty:
        raise StoreError(
            f"--rollout-record: uncommitted changes to watched config ({', '.join(dirty[:5])}): commit or "
            "stash them first; a recorded run is labelled with HEAD's config"
        )
    head = resolve_window(root, "HEAD", "HEAD").head
    path = store_path(root, store)
    with Store(path) as db:
        run_id = db.begin_run(head, layer_fingerprints(root, head, settings), seed, __version__)
    return str(path), run_id


def record_eval(record_run: tuple[str, int], result: EvalResult, records: Sequence[TrialRecord]) -> None:
    """One eval's result and every trial, in one transaction of the run being recorded."""
    from pytest_rollout.baselines.store import Store

    trials = [
        {
            "index": r.index,
            "case_id": r.case_id,
            "epoch": r.epoch,
            "seed": r.seed,
            "outcome": r.outcome,
            "score": r.score,
            "error_kind": r.error_kind,
            "used": r.used,
        }
        for r in records
    ]
    with Store(record_run[0]) as db:
        db.record_eval(record_run[1], result.model_dump(mode="json"), trials)
