"""Where a ``max_regression`` eval finds its baseline, and where a run records itself.

The reference point is the base commit of the release (the window's merge-base,
or HEAD under ``--rollout-drift``): a stored run is a valid baseline for an eval
when the fingerprints of the layers the eval measures equal the base's
(``fingerprints.py``). Nothing here imports pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_rollout.settings import Settings
    from pytest_rollout.store import Baseline, Store

RECORD_HINT = "record one on that commit with `pytest --rollout-record` (CI on the main branch after merge)"


@dataclass
class BaselineContext:
    """Lazily computed per process: git reads are cheap, and workers need them too."""

    root: Path
    settings: Settings
    store_file: Path
    reference: str | None  # the commit whose fingerprints a baseline must match
    reference_label: str
    problem: str | None = None  # why there is no reference commit
    _fingerprints: dict[str, str] | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def fingerprints(self) -> dict[str, str]:
        if self._fingerprints is None:
            from pytest_rollout.fingerprints import layer_fingerprints

            assert self.reference is not None
            self._fingerprints = layer_fingerprints(self.root, self.reference, self.settings)
        return self._fingerprints

    @property
    def store(self) -> Store:
        if self._store is None:
            from pytest_rollout.store import Store

            self._store = Store(self.store_file)
        return self._store

    def lookup(self, nodeid: str, layers: tuple[str, ...]) -> Baseline | None:
        if self.reference is None or not self.store_file.exists():
            return None
        known = [layer for layer in layers if layer in self.fingerprints]
        return self.store.latest_baseline(nodeid, self.fingerprints, known or None)

    def missing(self, nodeid: str, layers: tuple[str, ...]) -> str:
        """Why there is no baseline, and the command that records one."""
        if self.reference is None:
            return f"no baseline for {nodeid}: {self.problem}"
        scope = f"layers {', '.join(layers)}" if layers else "all layers"
        where = f"{self.store_file}" if self.store_file.exists() else f"{self.store_file} (no store yet)"
        return (
            f"no baseline for {nodeid} in {where} with the config of {self.reference_label} "
            f"{self.reference[:10]} ({scope}): {RECORD_HINT}"
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
