"""Structured config files -> flat key paths: the unit every later step reasons about.

Comments, key order, quoting and formatting are no change at all, and an insert into a
list of named entries is one change, not a shift of every entry after it (docs/reference.md,
"Layer-map rules"). So each file is parsed and flattened to
``{key path: leaf value}``; two flattenings compare key by key.

Key path segments:

* a mapping key, as ``str`` (YAML/TOML ints, bools and dates are ``str()``-ed);
* ``"[3]"``: a list element by index;
* ``"[name=search]"``: an element of a list of mappings matched by its identity
  field (``name``, ``id``, ``model_name``, ``key``, in that order). A list is
  identity-matched only when every element is a mapping carrying the same field
  with a scalar, unique value; otherwise by index.

Lists of scalars are one leaf (order matters: a fallback list reordered is a
change). Empty mappings and lists are leaves. A YAML file with several
(non-empty) documents is a list of documents. A mapping key that itself looks
like a list segment (``"[0]"``) cannot be told apart from one: such keys do not
occur in real configs and the price of an escape scheme would be paid by every
key rule users write.

This module never runs git and never touches the file system.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from pytest_rollout.errors import ConfigParseError

KeyPath = tuple[str, ...]

STRUCTURED_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".jsonc", ".toml")
IDENTITY_FIELDS: tuple[str, ...] = ("name", "id", "model_name", "key")

#: Past this many nodes added by alias expansion, a YAML file is refused even
#: when it has few aliases: flattening would otherwise allocate per expanded node.
MAX_EXPANDED_NODES = 100_000

_SUFFIX_FORMATS: tuple[tuple[str, str], ...] = (
    (".yaml", "yaml"),
    (".yml", "yaml"),
    (".json", "json"),
    (".jsonc", "json"),
    (".toml", "toml"),
)
_LIST_SEGMENT = re.compile(r"\[(?:\d+|(?:name|id|model_name|key)=.*)\]", re.DOTALL)
_NEEDS_QUOTES = re.compile(r"[.\s\"'\[\]]")


class ConfigSyntaxError(ConfigParseError):
    """A ``ConfigParseError`` that keeps its parts, so callers can re-word it.

    ``changes`` turns a base-side failure into a warning ("cannot parse at base
    (line 3: ...)") and a head-side one into "...; fix the file or revert it";
    parsing the message back would be brittle.
    """

    def __init__(self, path: str, line: int, what: str, message: str | None = None) -> None:
        super().__init__(message or f"{path}:{line}: {what}")
        self.path = path
        self.line = line
        self.what = what


@dataclass(frozen=True)
class Parsed:
    """A parsed file: flattened leaves and the (best-effort) 1-based line of each."""

    values: dict[KeyPath, Any]
    lines: dict[KeyPath, int]
    documents: bool = False  # a YAML stream of several documents: the root list's order is not semantic


# --------------------------------------------------------------------------- formats


def _format_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    for suffix, fmt in _SUFFIX_FORMATS:
        if name.endswith(suffix):
            return fmt
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    return None


def is_structured(path: str) -> bool:
    """True for YAML, JSON, TOML and dotenv files (``.env``, ``.env.*``, ``*.env``)."""
    return _format_of(path) is not None


def parse(path: str, data: bytes, *, max_aliases: int = 1000) -> Parsed:
    """Parse one structured file's bytes; raise ``ConfigSyntaxError`` naming ``path:line``.

    Empty, whitespace-only and comment-only files have no values (not an error):
    a freshly created config is not malformed.
    """
    fmt = _format_of(path)
    if fmt is None:
        raise ValueError(f"{path}: not a structured config file (see is_structured)")
    text = _decode(path, data)
    if not text.strip():
        return Parsed({}, {})
    try:
        if fmt == "yaml":
            return _parse_yaml(path, text, max_aliases)
        if fmt == "json":
            return _parse_json(path, text)
        if fmt == "toml":
            return _parse_toml(path, text)
        return _parse_env(path, text)
    except RecursionError as exc:
        raise ConfigSyntaxError(path, 1, "nested too deeply to parse") from exc
    except _TooBig:
        raise ConfigSyntaxError(path, _line_at(text, _LONG_DIGITS.search(text)), _BIG_INT) from None


def _decode(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        what = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise ConfigSyntaxError(path, line, what, f"{path}: {what}") from exc
    return text.removeprefix("\ufeff")  # a BOM is an encoding mark, not content


# --------------------------------------------------------------------------- flatten


def flatten(doc: Any) -> dict[KeyPath, Any]:
    """Flatten a parsed document to ``{key path: leaf}`` (see the module docstring)."""
    return _flatten_plain(_plain(doc))


class _TooBig(ValueError):
    """An integer no output could print (hex and TOML literals escape the 4,300-digit parse limit)."""


def _plain(value: Any) -> Any:
    """JSON-able copy: str keys, dates as isoformat, sets as sorted lists, bytes as base64."""
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise _TooBig(_BIG_INT)
    if isinstance(value, dict):
        return {_key_str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _key_str(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def _flatten_plain(doc: Any) -> dict[KeyPath, Any]:
    if doc is None or (isinstance(doc, (dict, list)) and not doc):
        return {}
    out: dict[KeyPath, Any] = {}
    stack: list[tuple[KeyPath, Any]] = [((), doc)]
    while stack:
        prefix, value = stack.pop()
        children = _children(value)
        if children is None:
            out[prefix] = value
        else:
            stack.extend(((*prefix, seg), child) for seg, child in reversed(children))
    return out


def _children(value: Any) -> list[tuple[str, Any]] | None:
    """The (segment, child) pairs of a branch, or None for a leaf."""
    if isinstance(value, dict) and value:
        return list(value.items())
    if isinstance(value, list) and _is_branch_list(value):
        return list(zip(_list_segments(value), value, strict=True))
    return None


def _is_branch_list(items: list[Any]) -> bool:
    return any(isinstance(item, (dict, list)) for item in items)


def _list_segments(items: list[Any]) -> list[str]:
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


# --------------------------------------------------------------------------- unflatten


_LEAF = object()  # marks a leaf slot in the tree unflatten builds


def unflatten(values: dict[KeyPath, Any]) -> Any:
    """Inverse of ``flatten``: ``flatten(unflatten(v)) == v`` for any ``v`` it produced.

    Lets tests apply a diff to a flattened document and rebuild a real one.
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

    if tree and all(_LIST_SEGMENT.fullmatch(seg) for seg in tree):
        segs = list(tree)
        if all(seg[1:-1].isdigit() for seg in segs):
            segs.sort(key=lambda s: int(s[1:-1]))
        return [value(tree[seg]) for seg in segs]
    return {seg: value(slot) for seg, slot in tree.items()}


#: Characters no output may carry raw: C0/C1 controls (newline, ESC of ANSI sequences), line and
#: paragraph separators, bidirectional overrides, lone surrogates (undecodable file names).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``, ``\\u202e``), so a key or a
    path from a config can never start a line of its own in a log (``::stop-commands::``, a fake
    ``decision: PASS``) nor move the terminal's cursor."""
    return _UNSAFE.sub(_escape_char, text) if _UNSAFE.search(text) else text


def printable_line(line: str) -> str:
    """``printable``, and a line that would read as a GitHub workflow command (``::x::``) is defused."""
    line = printable(line)
    body = line.lstrip()
    if body.startswith("::"):
        line = line[: len(line) - len(body)] + "\\x3a" + body[1:]
    return line


def format_key(path: KeyPath) -> str:
    """``('tools', '[name=search]', 'description')`` -> ``tools[name=search].description``.

    Mapping keys with dots, whitespace, quotes or brackets are double-quoted so
    the text splits back unambiguously; list segments are kept verbatim so a
    key shown in a report can be pasted into a key rule as is.
    """
    out = ""
    for seg in path:
        if _LIST_SEGMENT.fullmatch(seg):
            out += printable(seg)
            continue
        text = _quote(seg) if (not seg or _NEEDS_QUOTES.search(seg) or _UNSAFE.search(seg)) else seg
        out += f".{text}" if out else text
    return out


def _quote(seg: str) -> str:
    return '"' + printable(seg.replace("\\", "\\\\").replace('"', '\\"')) + '"'


# --------------------------------------------------------------------------- lines


def _complete_lines(values: dict[KeyPath, Any], found: dict[KeyPath, int]) -> dict[KeyPath, int]:
    """Every leaf gets a line: its own, else its nearest ancestor's, else 1."""
    return {path: _nearest_line(found, path) for path in values}


def _nearest_line(found: dict[KeyPath, int], path: KeyPath) -> int:
    for n in range(len(path), 0, -1):
        line = found.get(path[:n])
        if line is not None:
            return line
    return 1


def _index_form(doc: Any, path: KeyPath) -> KeyPath:
    """The same path with identity segments replaced by ``[i]`` (for text scanners)."""
    out: list[str] = []
    for seg in path:
        if isinstance(doc, list):
            i = _list_segments(doc).index(seg)
            out.append(f"[{i}]")
            doc = doc[i]
        else:
            out.append(seg)
            doc = doc[seg]
    return tuple(out)


# --------------------------------------------------------------------------- YAML


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class _ConfigLoader(_BaseLoader):  # type: ignore[misc]
    """The safe loader (C-accelerated when available), plus local tags kept as data.

    By default every YAML file is watched, CloudFormation's ``!Ref`` or Ansible's
    ``!vault`` included; failing on them would block every release that touches
    such a file. A tagged scalar reads as ``"!Tag value"``, so a tag change is a
    change; tagged collections read as the plain collection.
    """


def _construct_local_tag(loader: Any, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        return f"!{suffix} {value}" if suffix else value
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_ConfigLoader.add_multi_constructor("!", _construct_local_tag)

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Integers past Python's 4,300-digit str() limit cannot be printed or compared as text: refused.
_MAX_INT_BITS = 14_000
_BIG_INT = "an integer of more than 4,200 digits: no config needs one"


def _construct_object(self: Any, node: yaml.Node, deep: bool = False) -> Any:
    """PyYAML's constructors raise plain ``ValueError``s (``2024-13-45``, a 5,000-digit int,
    ``!!int x``): turn each into a ``ConstructorError`` at the node, so it reports its line."""
    try:
        value = _BaseLoader.construct_object(self, node, deep)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read the {_tag_name(node)} value ({_short(exc)})", node.start_mark
        ) from None
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise yaml.constructor.ConstructorError(None, None, _BIG_INT, node.start_mark)
    return value


def _construct_mapping(self: Any, node: yaml.Node, deep: bool = False) -> Any:
    """A key given twice is an error: readers disagree on which value wins (YAML 1.2 forbids it)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for knode, _ in node.value:
            if knode.tag == _MERGE_TAG or not isinstance(knode, yaml.ScalarNode):
                continue
            key = str(knode.value) if knode.tag == _STR_TAG else _key_str(_plain(self.construct_object(knode)))
            line = knode.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key]}): keep one", knode.start_mark
                )
            seen[key] = line
    return _BaseLoader.construct_mapping(self, node, deep)


def _tag_name(node: yaml.Node) -> str:
    return str(node.tag).rsplit(":", 1)[-1] or "scalar"


def _short(exc: BaseException) -> str:
    text = str(exc).split(";", 1)[0].strip()
    return text[:120] or type(exc).__name__


_ConfigLoader.construct_object = _construct_object
_ConfigLoader.construct_mapping = _construct_mapping
#: The loader every YAML file (configs and the settings) is read with.
ConfigLoader: Any = _ConfigLoader


def _parse_yaml(path: str, text: str, max_aliases: int) -> Parsed:
    loader = _ConfigLoader(text)
    try:
        nodes = _compose_all(loader)
        if "&" in text and "*" in text:  # no anchor or no alias: nothing to expand
            _check_aliases(path, nodes, max_aliases)
        docs = [(node, _plain(loader.construct_document(node))) for node in nodes]
        docs = [(node, doc) for node, doc in docs if doc is not None]
        if not docs:
            return Parsed({}, {})
        root_node, root = _yaml_root(docs)
        values = _flatten_plain(root)

        def key_of(knode: yaml.ScalarNode) -> str:
            if knode.tag == _STR_TAG:  # nearly every key: skip the constructor
                return str(knode.value)
            return _key_str(_plain(loader.construct_object(knode)))

        return Parsed(values, _complete_lines(values, _node_lines(root_node, root, key_of)), len(docs) > 1)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, exc) from exc
    except yaml.reader.ReaderError as exc:
        line = text.encode("utf-8")[: exc.position].count(b"\n") + 1
        raise ConfigSyntaxError(path, line, f"invalid character {exc.character!r}: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(path, 1, str(exc)) from exc
    finally:
        loader.dispose()


def _compose_all(loader: Any) -> list[yaml.Node]:
    nodes: list[yaml.Node] = []
    while loader.check_node():
        nodes.append(loader.get_node())
    return nodes


def _yaml_root(docs: list[tuple[yaml.Node, Any]]) -> tuple[yaml.Node, Any]:
    """One document is the root; several are a list of documents."""
    if len(docs) == 1:
        return docs[0]
    nodes = [node for node, _ in docs]
    seq = yaml.SequenceNode("tag:yaml.org,2002:seq", nodes, nodes[0].start_mark, nodes[-1].end_mark)
    return seq, [doc for _, doc in docs]


def _yaml_error(path: str, exc: yaml.MarkedYAMLError) -> ConfigSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    # problem/context only: str(exc) appends a snippet of the line, and a
    # malformed line of a config can hold a secret that CI logs would keep.
    what = ", ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    return ConfigSyntaxError(path, line, what)


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(path: str, roots: list[yaml.Node], max_aliases: int) -> None:
    """Refuse alias bombs before anything is expanded, in time linear in the node graph.

    The composed graph shares aliased nodes, so it stays small even for "billion
    laughs"; counting what the expansion *would* produce (aliases reached and
    nodes added, per node, bottom-up) never walks the expansion itself.
    """
    edges, unique = _alias_edges(roots)
    sizes, aliases = _expansion_counts(path, roots, edges)
    total = sum(aliases[id(r)] for r in roots)
    if total > max_aliases:
        line = _culprit_line(roots, edges, aliases, max_aliases)
        raise ConfigSyntaxError(
            path, line, f"too many YAML aliases ({total} > {max_aliases}); refusing to expand (alias bomb?)"
        )
    extra = sum(sizes[id(r)] for r in roots) - unique
    if extra > MAX_EXPANDED_NODES:
        line = _culprit_line(roots, edges, sizes, MAX_EXPANDED_NODES)
        raise ConfigSyntaxError(
            path,
            line,
            f"YAML aliases expand to {extra} extra nodes (> {MAX_EXPANDED_NODES}); refusing to expand (alias bomb?)",
        )


_Edges = dict[int, list[tuple[yaml.Node, bool]]]


def _alias_edges(roots: list[yaml.Node]) -> tuple[_Edges, int]:
    """Each node's children, flagged True where the child is reached through an alias.

    A pre-order walk in document order meets an anchored node first where it is
    defined (YAML requires the anchor before its aliases); every later edge to
    it is an alias.
    """
    seen: set[int] = set()
    edges: _Edges = {}
    for root in roots:
        seen.add(id(root))
        stack = [root]
        while stack:
            node = stack.pop()
            flagged: list[tuple[yaml.Node, bool]] = []
            fresh: list[yaml.Node] = []
            for child in _node_children(node):
                is_alias = id(child) in seen
                flagged.append((child, is_alias))
                if not is_alias:
                    seen.add(id(child))
                    fresh.append(child)
            edges[id(node)] = flagged
            stack.extend(reversed(fresh))
    return edges, len(seen)


def _expansion_counts(path: str, roots: list[yaml.Node], edges: _Edges) -> tuple[dict[int, int], dict[int, int]]:
    """Post-order: expanded size and aliases reached below each node; refuses cycles."""
    sizes: dict[int, int] = {}
    aliases: dict[int, int] = {}
    for root in roots:
        if id(root) in sizes:
            continue
        on_path = {id(root)}
        stack = [(root, iter(edges[id(root)]))]
        while stack:
            node, pending = stack[-1]
            child = next((c for c, _ in pending if id(c) not in sizes), None)
            if child is None:
                stack.pop()
                on_path.discard(id(node))
                kids = edges[id(node)]
                sizes[id(node)] = 1 + sum(sizes[id(c)] for c, _ in kids)
                aliases[id(node)] = sum(aliases[id(c)] + flag for c, flag in kids)
            elif id(child) in on_path:
                line = child.start_mark.line + 1
                raise ConfigSyntaxError(path, line, "recursive YAML alias (a node contains itself); refusing to expand")
            else:
                on_path.add(id(child))
                stack.append((child, iter(edges[id(child)])))
    return sizes, aliases


def _culprit_line(roots: list[yaml.Node], edges: _Edges, counts: dict[int, int], limit: int) -> int:
    """Line of the deepest node, reached without following aliases, still over the limit."""
    node = max(roots, key=lambda r: counts[id(r)])
    while True:
        over = [c for c, flag in edges[id(node)] if not flag and counts[id(c)] > limit]
        if not over:
            return int(node.start_mark.line) + 1
        node = over[0]


def _node_lines(root_node: yaml.Node, root: Any, key_of: Callable[[yaml.ScalarNode], str]) -> dict[KeyPath, int]:
    """Walk the node graph beside the data it built, recording where each leaf's key is."""
    found: dict[KeyPath, int] = {}
    stack: list[tuple[yaml.Node, Any, KeyPath, int]] = [(root_node, root, (), root_node.start_mark.line + 1)]
    while stack:
        node, value, prefix, line = stack.pop()
        if _children(value) is None:
            found[prefix] = line  # duplicate keys: later entries pop later, so the last wins
        elif isinstance(node, yaml.MappingNode) and isinstance(value, dict):
            pairs = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
            for knode, vnode in reversed(pairs):
                key = key_of(knode)
                if key in value:
                    stack.append((vnode, value[key], (*prefix, key), knode.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode) and isinstance(value, list) and len(node.value) == len(value):
            kids = list(zip(_list_segments(value), node.value, value, strict=True))
            for seg, child, item in reversed(kids):
                stack.append((child, item, (*prefix, seg), child.start_mark.line + 1))
    return found


# --------------------------------------------------------------------------- JSON


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_LONG_INT = re.compile(r"\d{4300}")
_LONG_DIGITS = re.compile(r"[0-9a-fA-F_]{1000}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_json(path: str, text: str) -> Parsed:
    if "//" in text or "/*" in text or path.lower().endswith(".jsonc"):
        # JSON with comments (VS Code-style .json, .jsonc): blanked out, so lines and columns hold.
        text = _strip_jsonc(text, commas=path.lower().endswith(".jsonc"))
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigSyntaxError(path, exc.lineno, f"{exc.msg} (column {exc.colno})") from exc
    except _DuplicateKey as exc:
        line = _json_key_line(text, exc.key, 2)
        raise ConfigSyntaxError(path, line, f"duplicate key {exc.key!r}: keep one") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise ConfigSyntaxError(
            path, _line_at(text, _LONG_INT.search(text)), f"cannot read a number ({_short(exc)})"
        ) from None
    plain = _plain(doc)
    _refuse_surrogates(path, text, plain)
    values = _flatten_plain(plain)
    return Parsed(values, _json_lines(text, plain, values))


def _json_lines(text: str, plain: Any, values: dict[KeyPath, Any]) -> dict[KeyPath, int]:
    """Lines from the YAML composer's marks (JSON is nearly YAML), else a key-name scan."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        # json.loads accepted the text, so only the line lookup degrades here.
        return _json_scan_lines(text, values)
    finally:
        loader.dispose()
    if node is None:
        return _complete_lines(values, {})
    return _complete_lines(values, _node_lines(node, plain, lambda k: str(k.value)))


_JSONC_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[\]}])', re.DOTALL)


def _strip_jsonc(text: str, *, commas: bool) -> str:
    """Comments (and, for ``.jsonc``, trailing commas) blanked out; strings and line numbers kept.

    A trailing comma in a ``.json`` file stays an error: the application's own JSON reader
    would refuse it too.
    """

    def blank(m: re.Match[str]) -> str:
        token = m.group(0)
        if token.startswith('"') or (token == "," and not commas):
            return token
        return re.sub(r"[^\n]", " ", token)

    return _JSONC_TOKEN.sub(blank, text)


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def _json_key_line(text: str, key: str, nth: int) -> int:
    """The line of the ``nth`` ``"key":`` in the text (1 when not found: escapes differ)."""
    count = 0
    for m in _JSON_KEY.finditer(text):
        try:
            name = json.loads(f'"{m.group(1)}"')
        except ValueError:
            continue
        if name == key:
            count += 1
            if count == nth:
                return _line_at(text, m)
    return 1


def _line_at(text: str, m: re.Match[str] | None) -> int:
    return text.count("\n", 0, m.start()) + 1 if m else 1


def _refuse_surrogates(path: str, text: str, plain: Any) -> None:
    """``"\\ud800"`` is valid JSON but not Unicode: no output could print or encode it."""
    if "\\u" not in text and not _SURROGATE.search(text):
        return
    try:
        json.dumps(plain, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        line = _line_at(text, _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text))
        raise ConfigSyntaxError(
            path, line, "a lone surrogate (\\ud800-\\udfff) is not Unicode text: remove it"
        ) from None


def _json_scan_lines(text: str, values: dict[KeyPath, Any]) -> dict[KeyPath, int]:
    first: dict[str, int] = {}
    for m in _JSON_KEY.finditer(text):
        first.setdefault(m.group(1), text.count("\n", 0, m.start()) + 1)
    lines: dict[KeyPath, int] = {}
    for path in values:
        names = [seg for seg in path if not _LIST_SEGMENT.fullmatch(seg)]
        lines[path] = first.get(names[-1], 1) if names else 1
    return lines


# --------------------------------------------------------------------------- TOML


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _parse_toml(path: str, text: str) -> Parsed:
    tomllib = _toml_module()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigSyntaxError(path, *_toml_error(exc, text)) from exc
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise ConfigSyntaxError(
            path, _line_at(text, _LONG_INT.search(text)), f"cannot read a number ({_short(exc)})"
        ) from None
    plain = _plain(doc)
    values = _flatten_plain(plain)
    found = _toml_scan(text)
    return Parsed(values, {p: _nearest_line(found, _index_form(plain, p)) for p in values})


def _toml_error(exc: Exception, text: str) -> tuple[int, str]:
    lineno = getattr(exc, "lineno", None)
    if lineno is not None:  # Python >= 3.14 keeps the position as attributes
        return int(lineno), f"{getattr(exc, 'msg', exc)} (column {getattr(exc, 'colno', '?')})"
    message = str(exc)
    m = _TOML_POSITION.search(message)
    what = message[: m.start()] if m else message
    if m and m.group(1):
        return int(m.group(1)), f"{what} (column {m.group(2)})"
    return text.count("\n") + 1, f"{what} (at end of document)"


_TOML_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\')'
_TOML_DOTTED = rf"{_TOML_PART}(?:\s*\.\s*{_TOML_PART})*"
_TOML_HEADER = re.compile(rf"\s*(\[\[?)\s*({_TOML_DOTTED})\s*\]")
_TOML_ASSIGN = re.compile(rf"\s*({_TOML_DOTTED})\s*=\s*(.*)")


def _toml_scan(text: str) -> dict[KeyPath, int]:
    """Best-effort ``{index-form path: line}`` for tables, array-of-table elements and keys.

    tomllib keeps no positions; a line scanner that follows headers is enough
    to point a reviewer at the right line.
    """
    found: dict[KeyPath, int] = {}
    counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    closing: str | None = None  # the delimiter of an open multi-line string
    for lineno, line in enumerate(text.splitlines(), 1):
        if closing is not None:
            closing = None if closing in line else closing
            continue
        header = _TOML_HEADER.match(line)
        assign = None if header else _TOML_ASSIGN.match(line)
        if header:
            table = _toml_table(header.group(1) == "[[", _toml_split(header.group(2)), counts)
            found.setdefault(table, lineno)
        elif assign:
            found[table + _toml_split(assign.group(1))] = lineno
            closing = _open_multiline(assign.group(2))
    return found


def _toml_table(is_array: bool, parts: KeyPath, counts: dict[KeyPath, int]) -> KeyPath:
    resolved: list[str] = []
    for part in parts[:-1] if is_array else parts:
        resolved.append(part)
        if tuple(resolved) in counts:
            resolved.append(f"[{counts[tuple(resolved)] - 1}]")
    if not is_array:
        return tuple(resolved)
    key = (*resolved, parts[-1])
    counts[key] = counts.get(key, 0) + 1
    return (*key, f"[{counts[key] - 1}]")


def _toml_split(dotted: str) -> KeyPath:
    parts = re.findall(_TOML_PART, dotted)
    return tuple(_toml_unquote(p) for p in parts)


def _toml_unquote(part: str) -> str:
    if part.startswith("'"):
        return part[1:-1]
    if part.startswith('"'):
        return re.sub(r"\\(.)", r"\1", part[1:-1])
    return part


def _open_multiline(rest: str) -> str | None:
    for delim in ('"""', "'''"):
        if rest.startswith(delim) and rest.count(delim) == 1:
            return delim
    return None


# --------------------------------------------------------------------------- .env


_ENV_ASSIGN = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=(.*)", re.DOTALL)
_ENV_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _parse_env(path: str, text: str) -> Parsed:
    """``KEY=VALUE`` lines (optional ``export``); quoted values may span lines."""
    values: dict[KeyPath, Any] = {}
    lines: dict[KeyPath, int] = {}
    rows = text.splitlines()
    i = 0
    while i < len(rows):
        lineno, row = i + 1, rows[i]
        i += 1
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        m = _ENV_ASSIGN.fullmatch(row)
        if m is None:
            # Never echo the line: it is likely KEY=secret with a typo.
            raise ConfigSyntaxError(path, lineno, "expected KEY=VALUE (optionally prefixed by 'export ')")
        value, used = _env_value(path, lineno, m.group(2), rows[i:])
        i += used
        if (m.group(1),) in values:
            first = lines[(m.group(1),)]
            raise ConfigSyntaxError(path, lineno, f"duplicate key {m.group(1)} (first at line {first}): keep one")
        values[(m.group(1),)] = value
        lines[(m.group(1),)] = lineno
    return Parsed(values, lines)


def _env_value(path: str, lineno: int, raw: str, following: list[str]) -> tuple[str, int]:
    """The value after ``=`` and how many following lines a quoted value consumed."""
    body = raw.lstrip()
    if body[:1] in ("'", '"'):
        return _env_quoted(path, lineno, body, following)
    if body.startswith("#") and body is not raw:
        return "", 0  # ``KEY= # comment``
    return re.split(r"\s#", body, maxsplit=1)[0].rstrip(), 0


def _env_quoted(path: str, lineno: int, body: str, following: list[str]) -> tuple[str, int]:
    quote, text, used = body[0], body[1:], 0
    while True:
        end = _closing_quote(text, quote)
        if end is not None:
            break
        if used == len(following):
            raise ConfigSyntaxError(path, lineno, f"unterminated {quote}-quoted value")
        text += "\n" + following[used]
        used += 1
    rest = text[end + 1 :].strip()
    if rest and not rest.startswith("#"):
        raise ConfigSyntaxError(path, lineno + used, "unexpected text after a quoted value")
    inner = text[:end]
    if quote == '"':
        inner = re.sub(r"\\(.)", lambda m: _ENV_ESCAPES.get(m.group(1), m.group(0)), inner)
    return inner, used


def _closing_quote(text: str, quote: str) -> int | None:
    i = 0
    while i < len(text):
        if text[i] == "\\" and quote == '"':
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return None
