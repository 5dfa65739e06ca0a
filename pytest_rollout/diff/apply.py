"""Apply or revert the changes of chosen layers: the diff read backwards, to build hybrids.

``changes.diff_commits`` says what moved from A to B, key by key; this module takes
that answer and a set of layers and produces the files of a configuration in
between: B's tree with only the chosen layers' changes kept. Structured files
whose changes all sit on one side are taken whole from that side (their bytes,
comments and all); a file whose keys split across the two sides is rewritten
in its own format (YAML, JSON, TOML, .env) from its flattened values, and the
rewrite is parsed back and must give exactly the intended values. Whole-file
changes (prompts, renames, binaries) are taken from their layer's side.

What cannot be built raises ``ApplyError`` naming the file and why: a file
whose whole-file change and key changes fall in different layers, key changes
that only make sense together (a leaf of one layer under a branch of another),
a base side that could not be read, a rewrite that does not give its values back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from pytest_rollout.diff.formats import ConfigSyntaxError, KeyPath, format_key, parse, unflatten
from pytest_rollout.errors import RolloutError
from pytest_rollout.frozen import dataclass

if TYPE_CHECKING:
    from pytest_rollout.diff.changes import RawChange

#: (key, kind, old, new), as ``changes.diff_values`` returns them.
KeyChange = tuple[KeyPath, str, Any, Any]
#: Reads one side of the window: ("base" | "head", path) -> the file's bytes, None when absent.
Reader = Callable[[str, str], "bytes | None"]


class ApplyError(RolloutError):
    """A configuration that cannot be built from the diff (the message names the file)."""


@dataclass(frozen=True)
class FileEdit:
    """One path of head's tree in a hybrid: its new bytes, or None to remove it."""

    path: str
    data: bytes | None


# --------------------------------------------------------------------------- values


def apply_values(values: dict[KeyPath, Any], changes: Iterable[KeyChange]) -> dict[KeyPath, Any]:
    """``values`` with ``changes`` applied forward (A's values + all of A..B's changes = B's values)."""
    out = dict(values)
    for key, kind, _old, new in changes:
        if kind == "deleted":
            out.pop(key, None)
        else:
            out[key] = new
    return out


def revert_values(values: dict[KeyPath, Any], changes: Iterable[KeyChange]) -> dict[KeyPath, Any]:
    """``values`` with ``changes`` undone (B's values - all of A..B's changes = A's values)."""
    out = dict(values)
    for key, kind, old, _new in changes:
        if kind == "added":
            out.pop(key, None)
        else:
            out[key] = old
    return out


def check_tree(path: str, values: dict[KeyPath, Any]) -> None:
    """Refuse values where one key is both a leaf and a branch (changes of two layers that only fit together)."""
    keys = set(values)
    for key in values:
        for n in range(len(key)):
            if key[:n] in keys:
                raise ApplyError(
                    f"{path}: {format_key(key[:n]) or '(root)'} and {format_key(key)} cannot both be set: "
                    "their changes belong to different layers but only make sense together"
                )


# --------------------------------------------------------------------------- rendering


def render(path: str, values: dict[KeyPath, Any]) -> bytes:
    """The file's bytes for ``values``, in its own format; parsed back, it must give ``values``."""
    check_tree(path, values)
    doc = unflatten(values) if values else {}
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".yaml", ".yml")):
        data = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False).encode()
    elif name.endswith(".json"):
        data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    elif name.endswith(".toml"):
        data = _toml(path, doc).encode()
    else:
        data = _dotenv(path, doc).encode()
    _check_round_trip(path, data, values)
    return data


def _check_round_trip(path: str, data: bytes, values: dict[KeyPath, Any]) -> None:
    from pytest_rollout.diff.changes import diff_values

    try:
        back = parse(path, data).values
    except ConfigSyntaxError as exc:
        raise ApplyError(f"{path}: the rewritten file does not parse ({exc.what})") from None
    moved = diff_values(values, back)
    if moved:
        raise ApplyError(f"{path}: the rewritten file does not keep {format_key(moved[0][0])} as it was")


def _toml(path: str, doc: Any) -> str:
    if not isinstance(doc, dict):
        raise ApplyError(f"{path}: a TOML document must be a table")
    return "\n".join(_toml_table(path, doc, ())) + "\n"


def _toml_table(path: str, doc: dict[str, Any], where: tuple[str, ...], header: str = "[{}]") -> list[str]:
    out = [header.format(".".join(_toml_key(p) for p in where))] if where else []
    tables = {k: v for k, v in doc.items() if isinstance(v, dict) and v}
    arrays = {k: v for k, v in doc.items() if _is_table_list(v)}
    out += [f"{_toml_key(k)} = {_toml_value(path, v)}" for k, v in doc.items() if k not in tables and k not in arrays]
    for k, v in tables.items():
        out += _toml_table(path, v, (*where, k))
    for k, items in arrays.items():
        for item in items:
            out += _toml_table(path, item, (*where, k), "[[{}]]")
    return out


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(path: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(path, v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(path, v)}" for k, v in value.items()) + "}"
    raise ApplyError(f"{path}: TOML cannot hold the value {value!r}")


def _dotenv(path: str, doc: Any) -> str:
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise ApplyError(f"{path}: a .env file holds KEY=text lines only")
    lines = []
    for key, value in doc.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- hybrids


def hybrid_edits(
    changes: Sequence[tuple[RawChange, str | None]], applied: Collection[str], read: Reader
) -> list[FileEdit]:
    """The edits that turn head's tree into the hybrid with only ``applied`` layers' changes.

    ``changes`` are A..B's raw changes with their layers (None: unclassified, kept at head).
    """
    by_file: dict[str, list[tuple[RawChange, str | None]]] = {}
    for change, layer in changes:
        by_file.setdefault(change.path, []).append((change, layer))
    edits: list[FileEdit] = []
    for path, entries in by_file.items():
        edits += _file_edits(path, entries, applied, read)
    return edits


def _file_edits(
    path: str, entries: list[tuple[RawChange, str | None]], applied: Collection[str], read: Reader
) -> list[FileEdit]:
    kept = [layer is None or layer in applied for _, layer in entries]
    if all(kept):
        return []  # head's side, as it is in the tree
    old_path = next((c.old_path for c, _ in entries if c.old_path), None)
    if not any(kept):
        return _base_side(path, old_path, read)
    if any(c.key is None for c, _ in entries) or old_path is not None:
        layers = sorted({layer or "unclassified" for _, layer in entries})
        raise ApplyError(
            f"{path}: its whole-file change and key changes belong to different layers ({', '.join(layers)})"
        )
    undo = [(c.key, c.kind, c.old, c.new) for (c, _), keep in zip(entries, kept, strict=True) if not keep]
    if any(c.old is not None and _unreadable(c.old) for c, _ in entries):
        raise ApplyError(f"{path}: it cannot be read at the base, so its keys cannot be split by layer")
    head = read("head", path)
    values = parse(path, head).values if head is not None else {}
    return [FileEdit(path, render(path, revert_values(values, undo)))]  # type: ignore[arg-type]


def _base_side(path: str, old_path: str | None, read: Reader) -> list[FileEdit]:
    """Every change of the file is reverted: the base's bytes (at the base's path), or no file."""
    source = old_path or path
    edits = [FileEdit(path, None)] if old_path else []
    return [*edits, FileEdit(source, read("base", source))]


def _unreadable(value: Any) -> bool:
    from pytest_rollout.diff.changes import UNREADABLE_AT_BASE

    return isinstance(value, str) and value == UNREADABLE_AT_BASE
