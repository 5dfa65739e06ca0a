"""What ``--rollout-record`` tells the user when the session ends: the run it finished (id,
commit, evals, store, a URL's password masked), and a warning when git does not ignore the store
file (a store committed by accident travels with every clone and every release's diff)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recorded:
    line: str  # "recorded run 3: commit 1a2b3c4d5e, 4 eval(s), in .rollout/store.sqlite"
    warnings: list[str]


def finish_recording(location: str, run_id: int) -> Recorded:
    """Mark the run complete and say what it holds; raises ``StoreError`` when the store fails."""
    from pytest_rollout.baselines.store import Store, shown

    with Store(location) as store:
        store.finish_run(run_id)
        info = next((r for r in store.runs() if r.id == run_id), None)
    commit = info.commit[:10] if info is not None else "?"
    evals = info.evals if info is not None else 0
    line = f"recorded run {run_id}: commit {commit}, {evals} eval(s), in {shown(location)}"
    return Recorded(line, unignored_store(location))


def unignored_store(location: str) -> list[str]:
    """A warning when the store is a file inside a git work tree that git does not ignore."""
    from pytest_rollout.baselines.backends import is_postgres
    from pytest_rollout.diff.git import git_ok

    if is_postgres(location):
        return []
    path = Path(location)
    folder = path.parent
    if not folder.is_dir() or not git_ok(folder, "rev-parse", "--is-inside-work-tree"):
        return []
    if git_ok(folder, "check-ignore", "-q", path.name):
        return []
    return [
        f"the baseline store {path.name} in {folder.name}/ is not ignored by git: add `{folder.name}/` to "
        ".gitignore (or keep the store elsewhere with --rollout-store) so it is never committed"
    ]
