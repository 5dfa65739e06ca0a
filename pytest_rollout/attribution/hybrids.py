"""Which hybrids to measure, and building each one in a temporary git worktree of head.

A hybrid is named by the set of moved layers whose changes it keeps ("applied"):
the empty set is A's configuration, the full set is B's. For k <= 4 moved layers
every subset is built (a full factorial: main effects and every pairwise
interaction are estimable); above, the base, the head, each layer alone on the
base and each layer reverted from the head (main effects only). Files come from
``diff.apply``; a hybrid it refuses is kept with the reason and left out of the runs.
The files and the worktrees go through GitPython (``diff/repo.py``): one repository held open,
one persistent ``cat-file`` for every read.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pytest_rollout.diff import repo as gitrepo
from pytest_rollout.diff.apply import ApplyError, FileEdit, hybrid_edits

if TYPE_CHECKING:
    import git

    from pytest_rollout.diff.changes import RawChange
    from pytest_rollout.gate.chain import GateResult

#: Up to this many moved layers, every subset is measured (2^k hybrids).
FULL_FACTORIAL_MAX = 4


@dataclass(frozen=True)
class Hybrid:
    applied: tuple[str, ...]  # moved layers whose changes it keeps, in ship order
    edits: tuple[FileEdit, ...] = ()
    error: str | None = None  # why it cannot be built

    def name(self, layers: Sequence[str]) -> str:
        if not self.applied:
            return "base"
        if len(self.applied) == len(layers):
            return "head"
        return "+".join(self.applied)


@dataclass(frozen=True)
class Window:
    """What attribution works on: the window's ends, its moved layers and their raw changes."""

    root: Path
    base: str
    head: str
    layers: tuple[str, ...]
    changes: tuple[tuple[RawChange, str | None], ...]
    warnings: tuple[str, ...] = field(default=())


def design(layers: Sequence[str]) -> list[tuple[str, ...]]:
    """The applied sets to measure, each in ``layers``' order."""
    k = len(layers)
    if k <= FULL_FACTORIAL_MAX:
        return [s for n in range(k + 1) for s in itertools.combinations(layers, n)]
    alone = [(layer,) for layer in layers]
    reverted = [tuple(x for x in layers if x != layer) for layer in layers]
    return [(), *alone, *reverted, tuple(layers)]


def read_window(res: GateResult) -> Window:
    """The moved layers and the raw (unredacted) changes with their layers, as the gate classified them."""
    from pytest_rollout.diff.changes import diff_commits
    from pytest_rollout.gate.chain import _is_settings_key
    from pytest_rollout.gate.layers import LayerMap
    from pytest_rollout.models import DEFAULT_ORDER

    lmap = LayerMap.from_settings(res.loaded.settings)
    base = res.window.merge_base
    paths = res.settings_paths

    def watched(path: str) -> bool:
        return path not in paths and lmap.watches(path)

    out = diff_commits(res.root, base, res.window.head, watched, max_bytes=res.loaded.settings.max_file_size)
    raw = [rc for rc in out.changes if not _is_settings_key(rc.path, rc.key)]
    order = list(res.loaded.settings.order or DEFAULT_ORDER)
    moved = sorted(res.diff.layers_changed, key=lambda n: (order.index(n) if n in order else len(order), n))
    changes = tuple((rc, lmap.layer_of(rc.path, rc.key)) for rc in raw)
    return Window(res.root, base, res.window.head, tuple(moved), changes, tuple(res.diff.warnings))


def plan(window: Window) -> list[Hybrid]:
    """Every hybrid of the design, with its file edits or the reason it cannot be built."""
    hybrids = []
    read: dict[tuple[str, str], bytes | None] = {}  # the design reads each file many times
    with gitrepo.opened(window.root, "attribute") as repo:

        def reader(side: str, path: str) -> bytes | None:
            if (side, path) not in read:
                read[side, path] = gitrepo.read_at(repo, window.base if side == "base" else window.head, path)
            return read[side, path]

        for applied in design(window.layers):
            try:
                edits = hybrid_edits(window.changes, applied, reader)
            except ApplyError as exc:
                hybrids.append(Hybrid(applied, error=str(exc)))
            else:
                hybrids.append(Hybrid(applied, tuple(edits)))
    return hybrids


class Worktrees:
    """Temporary worktrees of head, one per hybrid; removed (and pruned) on exit."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.made: list[Path] = []
        self._stack = contextlib.ExitStack()
        self._repo: git.Repo | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="rollout-attribute-"))

    def build(self, hybrid: Hybrid, index: int) -> Path:
        assert self._repo is not None, "build inside `with Worktrees(...)`"
        where = self.folder / f"h{index}"
        gitrepo.add_worktree(self._repo, where, self.window.head)
        self.made.append(where)
        for edit in hybrid.edits:
            target = where / edit.path
            if edit.data is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(edit.data)
        return where

    def __enter__(self) -> Worktrees:
        try:
            self._repo = self._stack.enter_context(gitrepo.opened(self.window.root, "attribute"))
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self._repo is not None:
                gitrepo.remove_worktrees(self._repo, self.made)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._stack.__exit__(typ, exc, tb)  # a GitPython error from the block leaves as a GitError
