"""YAML: the safe loader every YAML file is read with (settings too), the alias-bomb guard, node lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from pytest_rollout.diff.formats.common import (
    BIG_INT,
    MAX_INT_BITS,
    ConfigSyntaxError,
    KeyPath,
    Parsed,
    complete_lines,
    key_str,
    plain,
    short,
)
from pytest_rollout.diff.formats.flat import flatten_plain, is_branch_list, list_segments

#: Past this many nodes added by alias expansion, a YAML file is refused even
#: when it has few aliases: flattening would otherwise allocate per expanded node.
MAX_EXPANDED_NODES = 100_000


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


def _construct_object(self: Any, node: yaml.Node, deep: bool = False) -> Any:
    """PyYAML's constructors raise plain ``ValueError``s (``2024-13-45``, a 5,000-digit int,
    ``!!int x``): turn each into a ``ConstructorError`` at the node, so it reports its line."""
    try:
        value = _BaseLoader.construct_object(self, node, deep)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read the {_tag_name(node)} value ({short(exc)})", node.start_mark
        ) from None
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise yaml.constructor.ConstructorError(None, None, BIG_INT, node.start_mark)
    return value


def _construct_mapping(self: Any, node: yaml.Node, deep: bool = False) -> Any:
    """A key given twice is an error: readers disagree on which value wins (YAML 1.2 forbids it)."""
    if isinstance(node, yaml.MappingNode) and not _plain_unique_keys(node):
        seen: dict[str, int] = {}
        for knode, _ in node.value:
            if knode.tag == _MERGE_TAG or not isinstance(knode, yaml.ScalarNode):
                continue
            key = str(knode.value) if knode.tag == _STR_TAG else key_str(plain(self.construct_object(knode)))
            line = knode.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key]}): keep one", knode.start_mark
                )
            seen[key] = line
    return _BaseLoader.construct_mapping(self, node, deep)


def _plain_unique_keys(node: yaml.MappingNode) -> bool:
    """Every key a plain string scalar, none twice: nearly every mapping, checked in one pass."""
    keys = [k.value for k, _ in node.value if k.tag == _STR_TAG and isinstance(k, yaml.ScalarNode)]
    return len(keys) == len(node.value) and len(set(keys)) == len(keys)


def _tag_name(node: yaml.Node) -> str:
    return str(node.tag).rsplit(":", 1)[-1] or "scalar"


_ConfigLoader.construct_object = _construct_object
_ConfigLoader.construct_mapping = _construct_mapping
#: The loader every YAML file (configs and the settings) is read with.
ConfigLoader: Any = _ConfigLoader


def parse_yaml(path: str, text: str, max_aliases: int) -> Parsed:
    loader = _ConfigLoader(text)
    try:
        nodes = _compose_all(loader)
        if "&" in text and "*" in text:  # no anchor or no alias: nothing to expand
            _check_aliases(path, nodes, max_aliases)
        docs = [(node, plain(loader.construct_document(node))) for node in nodes]
        docs = [(node, doc) for node, doc in docs if doc is not None]
        if not docs:
            return Parsed({}, {})
        root_node, root = _yaml_root(docs)
        values = flatten_plain(root)

        def key_of(knode: yaml.ScalarNode) -> str:
            if knode.tag == _STR_TAG:  # nearly every key: skip the constructor
                return str(knode.value)
            return key_str(plain(loader.construct_object(knode)))

        return Parsed(values, complete_lines(values, node_lines(root_node, root, key_of)), len(docs) > 1)
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


def node_lines(root_node: yaml.Node, root: Any, key_of: Callable[[yaml.ScalarNode], str]) -> dict[KeyPath, int]:
    """Walk the node graph beside the data it built, recording where each leaf's key is."""
    found: dict[KeyPath, int] = {}
    stack: list[tuple[yaml.Node, Any, KeyPath, int]] = [(root_node, root, (), root_node.start_mark.line + 1)]
    while stack:
        node, value, prefix, line = stack.pop()
        if isinstance(value, dict) and value:  # a branch, as flat.children has it
            if isinstance(node, yaml.MappingNode):
                for knode, vnode in reversed(node.value):
                    if isinstance(knode, yaml.ScalarNode):
                        key = key_of(knode)
                        if key in value:
                            stack.append((vnode, value[key], (*prefix, key), knode.start_mark.line + 1))
        elif isinstance(value, list) and is_branch_list(value):
            if isinstance(node, yaml.SequenceNode) and len(node.value) == len(value):
                kids = list(zip(list_segments(value), node.value, value, strict=True))
                for seg, child, item in reversed(kids):
                    stack.append((child, item, (*prefix, seg), child.start_mark.line + 1))
        else:
            found[prefix] = line  # duplicate keys: later entries pop later, so the last wins
    return found
