"""Where a ``max_regression`` eval finds its baseline, and where a run records itself.

The reference point is the base commit of the release (the window's merge-base,
or HEAD under ``--rollout-drift``). A stored eval is the baseline when it is the
oldest one that is a complete, measured recording (its eval PASSed, or it was the
first measurement: ``schema.ELIGIBLE``) made at an ancestor of the reference with
the reference's fingerprints on the layers the eval measures (``fingerprints.py``).
``--rollout-baseline RUN|COMMIT`` pins one instead, so a replay compares with exactly
the run it compared with before. Nothing here imports pytest, nor GitPython: the ancestry checks
run inside a pytest session (and in each xdist worker), where its import would cost more than the
``merge-base --is-ancestor`` calls it wraps (``benchmarks/bench_git.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_rollout.baselines.store import Baseline, Store
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.trials import TrialRecord
    from pytest_rollout.models import EvalResult
    from pytest_rollout.settings import Settings

RECORD_HINT = "record one on that commit with `pytest --rollout-record` (CI on the main branch after merge)"
#: A pin that names a run: ``run:N``, or a number too short to be a commit abbreviation.
_RUN_PIN = re.compile(r"(?:run:)?(\d{1,6})|run:(\d+)")


@dataclass(frozen=True)
class Pin:
    """``--rollout-baseline``: a run id, or a commit (resolved to its full sha)."""

    given: str
    run_id: int | None = None
    commit: str | None = None

    @property
    def label(self) -> str:
        return f"run {self.run_id}" if self.run_id is not None else f"commit {str(self.commit)[:10]}"


def parse_pin(root: Path, value: str) -> Pin:
    """``run:N`` or a short number is a run id (as `pytest-rollout baseline list` prints it); anything
    else must name a commit of this clone."""
    from pytest_rollout.diff.git import run_git
    from pytest_rollout.errors import StoreError

    match = _RUN_PIN.fullmatch(value.strip())
    if match:
        return Pin(value, run_id=int(match.group(1) or match.group(2)))
    out = run_git(root, "rev-parse", "--verify", "-q", "--end-of-options", f"{value}^{{commit}}", check=False)
    sha = out.decode().strip()
    if not sha or value.startswith("-"):
        raise StoreError(
            f"--rollout-baseline {value!r}: neither a run id (`run:N`, see `pytest-rollout baseline list`) "
            "nor a commit of this clone: name a recorded run or its commit"
        )
    return Pin(value, commit=sha)


@dataclass
class BaselineContext:
    """Lazily computed per process: git reads are cheap, and workers need them too."""

    root: Path
    settings: Settings
    store_file: Path | str
    reference: str | None  # the commit whose fingerprints a baseline must match
    reference_label: str
    problem: str | None = None  # why there is no reference commit
    pin: Pin | None = None
    _fingerprints: dict[str, str] | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _ancestors: dict[str, bool] = field(default_factory=dict, repr=False)

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
        pin = self.pin
        if pin is not None and pin.commit is not None:
            if not self.is_ancestor(pin.commit):
                return None
            return self.store.find_baseline(nodeid, self.fingerprints, known or None, accept=pin.commit.__eq__)
        run_id = pin.run_id if pin is not None else None
        return self.store.find_baseline(
            nodeid, self.fingerprints, known or None, accept=self.is_ancestor, run_id=run_id
        )

    def is_ancestor(self, commit: str) -> bool:
        """Whether ``commit`` is the reference or one of its ancestors (a commit missing from the clone is not)."""
        if commit not in self._ancestors:
            from pytest_rollout.diff.git import git_ok

            assert self.reference is not None
            self._ancestors[commit] = git_ok(self.root, "merge-base", "--is-ancestor", commit, self.reference)
        return self._ancestors[commit]

    def missing(self, nodeid: str, layers: tuple[str, ...]) -> str:
        """Why there is no baseline, and the command that records one."""
        if self.reference is None:
            return f"no baseline for {nodeid}: {self.problem}"
        scope = f"layers {', '.join(layers)}" if layers else "all layers"
        from pytest_rollout.baselines.store import shown, store_exists

        where = shown(self.store_file) if store_exists(self.store_file) else f"{self.store_file} (no store yet)"
        if self.pin is not None:
            return (
                f"no baseline for {nodeid} in {where}: --rollout-baseline {self.pin.given} ({self.pin.label}) "
                f"{self._pin_problem(nodeid)}, with the config of {self.reference_label} {self.reference[:10]} "
                f"({scope}): pin another run, or drop --rollout-baseline"
            )
        return (
            f"no baseline for {nodeid} in {where} with the config of {self.reference_label} "
            f"{self.reference[:10]} ({scope}): {RECORD_HINT}"
        )

    def _pin_problem(self, nodeid: str) -> str:
        """Why the pinned run or commit is not a baseline of ``nodeid``, in a few words."""
        from pytest_rollout.baselines.store import store_exists

        pin = self.pin
        assert pin is not None
        if pin.commit is not None:
            if not self.is_ancestor(pin.commit):
                return "is not an ancestor of the base"
            return "has no complete, passed recording of it"
        run = self.store.run(pin.run_id) if store_exists(self.store_file) and pin.run_id is not None else None
        if run is None:
            return "is not in the store"
        if not run.complete:
            return "is incomplete (its session did not finish)"
        verdicts = [e.get("verdict") for e in self.store.evals_of(run.id) if e.get("nodeid") == nodeid]
        if not verdicts:
            return "has no recording of it"
        if not self.is_ancestor(run.commit):
            return f"was recorded at {run.commit[:10]}, not an ancestor of the base"
        if verdicts[0] not in ("PASS", "NO_BASELINE"):
            return f"recorded it with verdict {verdicts[0]}: only a passed, measured run is a baseline"
        return "recorded it under other fingerprints"

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
    pin: str | None = None,
) -> BaselineContext:
    """The reference commit: HEAD for drift, else the release's base (the gate's merge-base,
    or the window the gate would judge: the release cannot pick its own baseline either);
    ``pin``: ``--rollout-baseline``, checked now (an unknown ref is an error before any trial)."""
    from pytest_rollout.baselines.store import store_path
    from pytest_rollout.diff.refs import resolve_window
    from pytest_rollout.errors import GitError
    from pytest_rollout.gate.chain import Request
    from pytest_rollout.gate.judging import config_path, release_window
    from pytest_rollout.settings import load_settings

    loaded = load_settings(root, config)
    settings, path = loaded.settings, store_path(root, store)
    pinned = parse_pin(root, pin) if pin else None
    if drift:
        head = resolve_window(root, "HEAD", "HEAD").head
        return BaselineContext(root, settings, path, head, "HEAD (drift check)", pin=pinned)
    if release_base:
        return BaselineContext(root, settings, path, release_base, "the release's base", pin=pinned)
    req = Request(repo=root, base=base_flag, fallback_base=fallback_base, config=config, env=dict(env))
    try:
        window = release_window(root, req, loaded, config_path(root, config))
    except GitError as exc:
        problem = f"{exc}; max_regression compares against the base commit's baseline"
        return BaselineContext(root, settings, path, None, "", problem, pin=pinned)
    return BaselineContext(root, settings, path, window.merge_base, "the release's base", pin=pinned)


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
            "note": r.note,
            "input_tokens": None if r.usage is None else r.usage[0],
            "output_tokens": None if r.usage is None else r.usage[1],
            "cost": None if r.usage is None else r.usage[2],
            "retries": r.retries,
        }
        for r in records
    ]
    with Store(record_run[0]) as db:
        db.record_eval(record_run[1], result.model_dump(mode="json"), trials)


def epochs_warning(baseline: Baseline, spec: EvalSpec) -> str | None:
    """A warning when the baseline's case means rest on fewer epochs than the candidate's.

    A case mean over one epoch is a 0/1 draw: pairing a 3-epoch candidate against it adds the
    baseline's larger noise to every difference, and with it false FAILs (above 0.05 on 9% of
    recorded baselines in the issue-13 audit). The fix is a baseline recorded with as many epochs.
    """
    recorded = baseline.epochs or 1
    if not (spec.cases and baseline.case_means) or recorded >= spec.epochs:
        return None
    return (
        f"rollout: the baseline of {baseline.nodeid} (run {baseline.run_id} at {baseline.commit[:10]}) was recorded "
        f"with {recorded} epoch(s) per case, fewer than this eval's {spec.epochs}: its case means are noisier, "
        f"so an unchanged system FAILs more often than the eval's alpha; record a baseline with epochs={spec.epochs} "
        "and pin it with --rollout-baseline run:N"
    )
