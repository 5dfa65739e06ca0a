"""Properties of the semantic diff: formatting never matters, and a diff is a complete patch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_rollout.diff.changes import diff_values, same_value
from pytest_rollout.diff.formats import KeyPath, flatten, parse, unflatten

EXAMPLES = settings(max_examples=100, deadline=None)

# Key text includes what needs quoting in YAML/TOML and in key paths ('.', ' ',
# quotes, ':', '#'), but no '[' (a key like "[0]" would read as a list segment).
KEY_ALPHABET = st.sampled_from(list("abcxyz_-09.é :#'\""))
keys = st.text(KEY_ALPHABET, min_size=1, max_size=6)
# Printable text, line breaks and quotes included; no surrogates or exotic
# line separators (YAML 1.1 treats U+2028 and NEL as breaks).
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), whitelist_characters="\n\t"), max_size=12)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from(["yes", "null", "1.0", "0x1F", "2024-01-01", "[x]", "- a", "#x", ""]),
)
scalars = st.one_of(st.none(), toml_scalars)


def configs(scalar: st.SearchStrategy[Any], depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Nested mappings with lists of scalars and lists of mappings with unique names."""

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        mappings = st.dictionaries(keys, children, max_size=4)
        named = st.lists(
            st.tuples(keys, st.dictionaries(keys.filter(lambda k: k != "name"), children, max_size=3)),
            max_size=3,
            unique_by=lambda pair: pair[0],
        ).map(lambda pairs: [{"name": name, **body} for name, body in pairs])
        return st.one_of(mappings, named)

    leaves = st.one_of(scalar, st.lists(scalar, max_size=3))
    return st.dictionaries(keys, st.recursive(leaves, extend, max_leaves=12), max_size=5)


# --------------------------------------------------------------------------- emitters


def yaml_styles(doc: dict[str, Any]) -> list[bytes]:
    block = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, indent=2, allow_unicode=True)
    flow = yaml.safe_dump(doc, sort_keys=False, default_flow_style=True, width=40)
    mixed = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, indent=4, explicit_start=True)
    return [s.encode() for s in (block, "# leading comment\n\n" + flow, mixed + "# trailing comment\n")]


def json_styles(doc: dict[str, Any]) -> list[bytes]:
    return [
        json.dumps(doc).encode(),
        json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False).encode(),
        json.dumps(doc, indent="\t", separators=(",", ":")).encode(),
    ]


def toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """TOML's inline form: basic strings share JSON's escapes once non-ASCII stays literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_tables(doc: dict[str, Any], path: tuple[str, ...] = (), header: str = "[{}]") -> list[str]:
    """Table style: scalars first, then ``[sub.tables]``, then ``[[arrays.of.tables]]``."""
    out = [header.format(".".join(toml_key(p) for p in path))] if path else []
    simple = {k: v for k, v in doc.items() if not isinstance(v, dict) and not is_table_list(v)}
    out += [f"{toml_key(k)} = {toml_value(v)}" for k, v in simple.items()]
    for k, v in doc.items():
        if isinstance(v, dict):
            out += toml_tables(v, (*path, k))
    for k, v in doc.items():
        if is_table_list(v):
            for item in v:
                out += toml_tables(item, (*path, k), "[[{}]]")
    return out


def toml_styles(doc: dict[str, Any]) -> list[bytes]:
    inline = "\n".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items())
    tables = "# comment\n" + "\n".join(toml_tables(doc)) + "\n"
    return [inline.encode(), tables.encode()]


def all_equal(path: str, renderings: list[bytes]) -> None:
    flats = [parse(path, data).values for data in renderings]
    for other in flats[1:]:
        assert diff_values(flats[0], other) == []


# --------------------------------------------------------------------------- properties


@EXAMPLES
@given(configs(scalars))
def test_yaml_styles_parse_equal(doc: dict[str, Any]) -> None:
    all_equal("c.yaml", yaml_styles(doc))
    assert diff_values(parse("c.yaml", yaml_styles(doc)[0]).values, flatten(doc)) == []


@EXAMPLES
@given(configs(scalars))
def test_json_styles_parse_equal(doc: dict[str, Any]) -> None:
    all_equal("c.json", json_styles(doc))


@EXAMPLES
@given(configs(toml_scalars))
def test_toml_styles_parse_equal(doc: dict[str, Any]) -> None:
    all_equal("c.toml", toml_styles(doc))
    assert diff_values(parse("c.toml", toml_styles(doc)[1]).values, flatten(doc)) == []


def apply(flat: dict[KeyPath, Any], changes: Sequence[tuple[KeyPath, str, Any, Any]]) -> dict[KeyPath, Any]:
    out = dict(flat)
    for key, kind, old, new in changes:
        assert same_value(out.get(key), old)
        if kind == "deleted":
            del out[key]
        else:
            out[key] = new
    return out


def typed(flat: dict[KeyPath, Any]) -> dict[KeyPath, str]:
    """A comparable form in which ``1``, ``1.0`` and ``True`` differ."""
    return {k: json.dumps(v, sort_keys=True) for k, v in flat.items()}


@EXAMPLES
@given(configs(scalars), configs(scalars))
def test_diff_applied_to_a_gives_b(a: dict[str, Any], b: dict[str, Any]) -> None:
    fa, fb = flatten(a), flatten(b)
    assert typed(apply(fa, diff_values(fa, fb))) == typed(fb)
    assert diff_values(fa, fa) == []


@EXAMPLES
@given(configs(scalars), st.data())
def test_small_edits_give_small_diffs(a: dict[str, Any], data: st.DataObject) -> None:
    fa = flatten(a)
    fb = dict(fa)
    editable = sorted(k for k in fa if k[-1] != "name")  # a new name is a new entry, not an edit
    for key in data.draw(st.lists(st.sampled_from(editable), max_size=3, unique=True)) if editable else []:
        fb[key] = data.draw(scalars)
    b = unflatten(fb)
    changes = diff_values(fa, flatten(b))
    assert typed(apply(fa, changes)) == typed(flatten(b))
    assert all(kind == "modified" for _, kind, _, _ in changes)


@EXAMPLES
@given(configs(scalars))
def test_unflatten_inverts_flatten(doc: dict[str, Any]) -> None:
    flat = flatten(doc)
    assert typed(flatten(unflatten(flat))) == typed(flat)


@EXAMPLES
@given(st.lists(keys, min_size=1, max_size=5, unique=True), st.integers(0, 5), keys)
def test_inserting_a_named_entry_only_adds_its_keys(names: list[str], at: int, new: str) -> None:
    if new in names:
        return
    before = {"tools": [{"name": n, "doc": f"{n} tool"} for n in names]}
    after = {"tools": [*before["tools"][:at], {"name": new, "doc": "new"}, *before["tools"][at:]]}
    changes = diff_values(flatten(before), flatten(after))
    assert {(key[1], kind) for key, kind, _, _ in changes} == {(f"[name={new}]", "added")}
