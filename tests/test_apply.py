"""Applying layers' changes: all layers applied to A give B's values; each subset is a consistent hybrid."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_rollout.diff.apply import ApplyError, apply_values, hybrid_edits, render, revert_values
from pytest_rollout.diff.changes import RawChange, diff_values
from pytest_rollout.diff.formats import KeyPath, flatten, parse
from test_diff_properties import configs, scalars, toml_scalars, toml_styles, typed

EXAMPLES = settings(max_examples=30, deadline=None)
LAYERS = ["infra", "model", "context"]
FORMATS = {
    "c.yaml": (scalars, lambda d: yaml.safe_dump(d, sort_keys=True).encode()),
    "c.json": (scalars, lambda d: json.dumps(d).encode()),
    "c.toml": (toml_scalars, lambda d: toml_styles(d)[1]),
}


def layered(data: st.DataObject, a: dict[KeyPath, Any], b: dict[KeyPath, Any]) -> list[tuple[Any, str]]:
    return [(c, data.draw(st.sampled_from(LAYERS))) for c in diff_values(a, b)]


@EXAMPLES
@pytest.mark.parametrize("path", FORMATS)
@given(data=st.data())
def test_applying_every_layer_to_a_gives_b(path: str, data: st.DataObject) -> None:
    scalar, dump = FORMATS[path]
    a = parse(path, dump(data.draw(configs(scalar)))).values
    b = parse(path, dump(data.draw(configs(scalar)))).values
    changes = layered(data, a, b)
    values = a
    for layer in data.draw(st.permutations(LAYERS)):  # one layer at a time, in any order
        values = apply_values(values, [c for c, lay in changes if lay == layer])
    assert typed(values) == typed(b)
    assert typed(parse(path, render(path, values)).values) == typed(b)  # rewritten in its own format
    assert typed(revert_values(b, [c for c, _ in changes])) == typed(a)


@EXAMPLES
@given(configs(scalars), configs(scalars), st.data())
def test_a_hybrid_is_a_with_its_layers_applied_or_refused(a_doc: Any, b_doc: Any, data: st.DataObject) -> None:
    a, b = flatten(a_doc), flatten(b_doc)
    changes = layered(data, a, b)
    applied = set(data.draw(st.sets(st.sampled_from(LAYERS))))
    raw = [(RawChange("c.json", k, kind, old, new), lay) for (k, kind, old, new), lay in changes]  # type: ignore[arg-type]
    files = {"base": json.dumps(a_doc).encode(), "head": json.dumps(b_doc).encode()}
    try:
        edits = hybrid_edits(raw, applied, lambda side, _path: files[side])
    except ApplyError:
        return  # e.g. a leaf of one layer under a branch of another: reported, never built wrong
    expected = apply_values(a, [c for c, lay in changes if lay in applied])
    got = parse("c.json", edits[0].data or b"").values if edits else b
    assert typed(got) == typed(expected)


def test_a_file_whose_whole_change_and_keys_split_is_refused() -> None:
    raw = [
        (RawChange("p.yaml", None, "renamed", "o.yaml", "p.yaml", old_path="o.yaml"), "prompt"),
        (RawChange("p.yaml", ("k",), "modified", 1, 2, old_path="o.yaml"), "model"),
    ]
    with pytest.raises(ApplyError, match="p.yaml: its whole-file change and key changes belong to different"):
        hybrid_edits(raw, {"model"}, lambda side, path: b"k: 1\n")


def test_whole_files_come_from_their_layers_side() -> None:
    raw = [
        (RawChange("prompts/system.md", None, "modified", "a", "b"), "prompt"),
        (RawChange("new.md", None, "added", None, "x"), "prompt"),
        (RawChange("new.j2", None, "renamed", "old.j2", "new.j2", old_path="old.j2"), "prompt"),
    ]
    edits = hybrid_edits(raw, set(), lambda side, path: f"{side}:{path}".encode() if path != "new.md" else None)
    assert {e.path: e.data for e in edits} == {
        "prompts/system.md": b"base:prompts/system.md",
        "new.md": None,
        "new.j2": None,
        "old.j2": b"base:old.j2",
    }
    assert hybrid_edits(raw, {"prompt"}, lambda side, path: None) == []


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("c.toml", {("a",): None}),
        (".env", {("A",): 1}),
        ("c.yaml", {("a",): 1, ("a", "b"): 2}),
    ],
)
def test_values_a_format_cannot_hold_are_refused(path: str, values: dict[KeyPath, Any]) -> None:
    with pytest.raises(ApplyError, match=path.replace(".", r"\.")):
        render(path, values)


def test_env_rewrite_keeps_its_values() -> None:
    values: dict[KeyPath, Any] = {("MODEL",): 'gpt-4o "mini" $HOME \\ x', ("EMPTY",): ""}
    assert parse(".env", render(".env", values)).values == values
