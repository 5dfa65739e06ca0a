"""Whole list entries that came or went: one row for a new tool, not one per key (pure).

Why: inserting an OpenAI tool schema into ``tools`` adds a dozen leaves
(``tools[name=get_weather].function.parameters.properties.city.type``, ...); the
table should say ``tools[name=get_weather]  added``. An identity-matched entry is
new (or gone) when its identity leaf is among the added (deleted) keys: an entry
that existed keeps its identity, so its identity leaf cannot be added. Only the
table folds entries; the JSON keeps every key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field

from pytest_rollout.diff.formats import format_key
from pytest_rollout.frozen import dataclass
from pytest_rollout.models import Change

#: Where an entry keeps its identity, below the entry (formats._format_identity's shapes too).
_IDENTITY_LEAVES: tuple[tuple[str, ...], ...] = (("function", "name"), ("kind",), ("metadata", "name"))


@dataclass(frozen=True)
class Row:
    change: Change
    folded: int = 1  # how many key changes this row stands for


@dataclass
class _Entry:
    n: int = 0
    kinds: set[str] = field(default_factory=set)
    layers: set[str | None] = field(default_factory=set)
    leaves: set[tuple[str, ...]] = field(default_factory=set)

    def whole(self, identity: str) -> bool:
        """Every change below is one kind and one layer, and the entry's identity is among them."""
        one = len(self.kinds) == 1 and len(self.layers) == 1 and self.n > 1
        return one and any(leaf in self.leaves for leaf in ((identity,), *_IDENTITY_LEAVES))


def fold_entries(changes: Sequence[Change]) -> list[Row]:
    """Rows for the table: whole new or deleted entries folded into one row each (linear time)."""
    from pytest_rollout.gate.layers import split_keypath

    keys = [split_keypath(c.key) if c.key and c.kind in ("added", "deleted") else None for c in changes]
    entries: dict[tuple[str, tuple[str, ...]], _Entry] = {}
    for c, key in zip(changes, keys, strict=True):
        for i in _identity_positions(key):
            e = entries.setdefault((c.path, key[: i + 1]), _Entry())  # type: ignore[index]
            e.n += 1
            e.kinds.add(c.kind)
            e.layers.add(c.layer)
            e.leaves.add(key[i + 1 :])  # type: ignore[index]
    rows: list[Row] = []
    shown: set[tuple[str, tuple[str, ...]]] = set()
    for c, key in zip(changes, keys, strict=True):
        group = next(
            (g for i in _identity_positions(key) if entries[g := (c.path, key[: i + 1])].whole(_field(key[i]))),  # type: ignore[index]
            None,
        )
        if group is None:
            rows.append(Row(c))
        elif group not in shown:
            shown.add(group)
            folded = Change(path=c.path, key=format_key(group[1]), layer=c.layer, kind=c.kind, line=c.line)
            rows.append(Row(folded, entries[group].n))
    return rows


def _identity_positions(key: tuple[str, ...] | None) -> list[int]:
    return [i for i, seg in enumerate(key or ()) if seg.startswith("[") and "=" in seg]


def _field(seg: str) -> str:
    return seg[1:-1].partition("=")[0]
