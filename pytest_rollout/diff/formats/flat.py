"""Parsed documents -> flat key paths, with lists of entries matched by identity, never by position."""

from __future__ import annotations

import math
from typing import Any

from pytest_rollout.diff.formats.common import IDENTITY_FIELDS, KeyPath, plain
from pytest_rollout.diff.formats.keys import LIST_SEGMENT, format_key


def flatten(doc: Any) -> dict[KeyPath, Any]:
    """Flatten a parsed document to ``{key path: leaf}`` (see the module docstring)."""
    return flatten_plain(plain(doc))


def flatten_plain(doc: Any) -> dict[KeyPath, Any]:
    if doc is None or (isinstance(doc, (dict, list)) and not doc):
        return {}
    out: dict[KeyPath, Any] = {}
    stack: list[tuple[KeyPath, Any]] = [((), doc)]
    while stack:
        prefix, value = stack.pop()
        kids = children(value)
        if kids is None:
            out[prefix] = value
        else:
            stack.extend(((*prefix, seg), child) for seg, child in reversed(kids))
    return out


def children(value: Any) -> list[tuple[str, Any]] | None:
    """The (segment, child) pairs of a branch, or None for a leaf."""
    if isinstance(value, dict) and value:
        return list(value.items())
    if isinstance(value, list) and is_branch_list(value):
        return list(zip(list_segments(value), value, strict=True))
    return None


def is_branch_list(items: list[Any]) -> bool:
    """A list with a mapping or a list in it: its elements are branches; a list of scalars is one leaf."""
    return any(isinstance(item, (dict, list)) for item in items)


def list_segments(items: list[Any]) -> list[str]:
    """``[name=...]`` segments when an identity field qualifies, else ``[i]``."""
    for field in IDENTITY_FIELDS:
        ids = _identity_values(items, field)
        if ids is not None:
            segs = [f"[{field}={v}]" for v in ids]
            if len(set(segs)) == len(segs):
                return segs
    return _format_identity(items) or [f"[{i}]" for i in range(len(items))]


def _format_identity(items: list[Any]) -> list[str] | None:
    """Identities that well-known formats keep below the top level of each element.

    OpenAI tool schemas (``{"type": "function", "function": {"name": ...}}``) are
    ``[name=...]``; Kubernetes documents are ``[name=Kind/namespace/name]``; a
    repeated identity (LiteLLM's ``model_list`` balances one ``model_name`` over
    several deployments) is made unique by the deployment's ``litellm_params.model``
    and then by occurrence (``#2``), so its entries still pair one to one, never by
    position in the whole list. Other repeated identities stay by index.
    """
    if not all(isinstance(item, dict) for item in items):
        return None
    for ids, field in ((_nested(items, ("function", "name")), "name"), (_kube_ids(items), "name")):
        if ids is not None and len(set(ids)) == len(ids):
            return [f"[{field}={v}]" for v in ids]
    names, models = _identity_values(items, "model_name"), _nested(items, ("litellm_params", "model"))
    if names is not None and models is not None:
        ids = [f"{n} {m}" for n, m in zip(names, models, strict=True)]
        return [f"[model_name={v}]" for v in _numbered(ids)]
    return None


def _nested(items: list[Any], path: tuple[str, ...]) -> list[str] | None:
    ids: list[str] = []
    for item in items:
        value: Any = item
        for seg in path:
            value = value.get(seg) if isinstance(value, dict) else None
        if not _is_identity(value):
            return None
        ids.append(str(value))
    return ids


def _kube_ids(items: list[Any]) -> list[str] | None:
    kinds, names = _nested(items, ("kind",)), _nested(items, ("metadata", "name"))
    if kinds is None or names is None:
        return None
    spaces = [str((item.get("metadata") or {}).get("namespace") or "") for item in items]
    return [f"{k}/{ns}/{n}" if ns else f"{k}/{n}" for k, ns, n in zip(kinds, spaces, names, strict=True)]


def _numbered(ids: list[str]) -> list[str]:
    """Repeated ids get their occurrence: ``a``, ``a#2``, ``a#3``."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
        out.append(i if seen[i] == 1 else f"{i}#{seen[i]}")
    return out


def _identity_values(items: list[Any], field: str) -> list[str] | None:
    ids: list[str] = []
    for item in items:
        if not isinstance(item, dict) or not _is_identity(item.get(field)):
            return None
        ids.append(str(item[field]))
    return ids


def _is_identity(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isnan(value)
    return isinstance(value, (str, int))


_LEAF = object()  # marks a leaf slot in the tree unflatten builds


def unflatten(values: dict[KeyPath, Any]) -> Any:
    """Inverse of ``flatten``: ``flatten(unflatten(v)) == v`` for any ``v`` it produced.

    ``apply`` rebuilds a file whose keys split across two layers from its flattened values.
    """
    if () in values:
        if len(values) > 1:
            raise ValueError("a root leaf cannot have siblings")
        return values[()]
    tree: dict[str, Any] = {}
    for path, value in values.items():
        node = tree
        for seg in path[:-1]:
            node = node.setdefault(seg, {})
            if not isinstance(node, dict):
                raise ValueError(f"conflicting key paths at {format_key(path)}")
        if path[-1] in node:
            raise ValueError(f"conflicting key paths at {format_key(path)}")
        node[path[-1]] = (_LEAF, value)
    return _build(tree)


def _build(tree: dict[str, Any]) -> Any:
    def value(slot: Any) -> Any:
        return slot[1] if isinstance(slot, tuple) and slot and slot[0] is _LEAF else _build(slot)

    if tree and all(LIST_SEGMENT.fullmatch(seg) for seg in tree):
        segs = list(tree)
        if all(seg[1:-1].isdigit() for seg in segs):
            segs.sort(key=lambda s: int(s[1:-1]))
        return [value(tree[seg]) for seg in segs]
    return {seg: value(slot) for seg, slot in tree.items()}


def index_form(doc: Any, path: KeyPath) -> KeyPath:
    """The same path with identity segments replaced by ``[i]`` (for text scanners)."""
    out: list[str] = []
    for seg in path:
        if isinstance(doc, list):
            i = list_segments(doc).index(seg)
            out.append(f"[{i}]")
            doc = doc[i]
        else:
            out.append(seg)
            doc = doc[seg]
    return tuple(out)
