"""diff/formats: identities that well-known formats keep below the top level, and JSONC."""

from __future__ import annotations

import json

import pytest

from conftest import GitRepo
from pytest_rollout.diff.changes import diff_commits
from pytest_rollout.diff.formats import format_key, parse
from pytest_rollout.errors import ConfigParseError


def _keys(path: str, text: str) -> list[str]:
    return [format_key(k) for k in parse(path, text.encode()).values]


def _tool(name: str) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


def _changed(repo: GitRepo, path: str, before: str, after: str) -> list[tuple[str, str]]:
    repo.commit({path: before})
    repo.commit({path: after})
    out = diff_commits(repo.path, "HEAD~1", "HEAD", lambda p: True)
    return [(format_key(c.key) if c.key else "", c.kind) for c in out.changes]


def test_openai_tools_are_matched_by_function_name(git_repo: GitRepo) -> None:
    before = json.dumps({"tools": [_tool("search"), _tool("lookup")]})
    after = json.dumps({"tools": [_tool("get_weather"), _tool("search"), _tool("lookup")]})
    changed = _changed(git_repo, "tools/tools.json", before, after)
    assert {k.split(".")[0] for k, _ in changed} == {"tools[name=get_weather]"}
    assert {kind for _, kind in changed} == {"added"}


def test_kubernetes_documents_are_matched_by_kind_namespace_and_name(git_repo: GitRepo) -> None:
    svc = "kind: Service\nmetadata: {name: vllm}\nspec: {port: 80}\n"
    dep = "kind: Deployment\nmetadata: {name: vllm, namespace: ai}\nspec: {replicas: 2}\n"
    changed = _changed(git_repo, "k8s/vllm.yaml", f"{svc}---\n{dep}", f"{dep.replace('2', '3')}---\n{svc}")
    assert changed == [("[name=Deployment/ai/vllm].spec.replicas", "modified")]


def test_litellm_model_list_entries_pair_one_to_one(git_repo: GitRepo) -> None:
    def entry(model: str, rpm: int) -> str:
        return f"- model_name: gpt-4o\n  litellm_params: {{model: {model}, rpm: {rpm}}}\n"

    before = "model_list:\n" + entry("azure/gpt-4o", 10) + entry("openai/gpt-4o", 20)
    after = "model_list:\n" + entry("openai/gpt-4o", 20) + entry("azure/gpt-4o", 15)  # reordered + one edit
    changed = _changed(git_repo, "litellm.yaml", before, after)
    # one to one: the edited deployment's key, plus the reorder (order is semantic: issue 11)
    assert changed == [
        ("model_list", "modified"),
        ("model_list[model_name=gpt-4o azure/gpt-4o].litellm_params.rpm", "modified"),
    ]


def test_litellm_repeats_are_numbered_not_positional() -> None:
    entry = "- model_name: g\n  litellm_params: {model: openai/g}\n"
    assert _keys("c.yaml", "model_list:\n" + entry * 2)[::2] == [
        "model_list[model_name=g openai/g].model_name",
        "model_list[model_name=g openai/g#2].model_name",
    ]
    assert _keys("x.yaml", "- {name: a}\n- {name: a}\n") == ["[0].name", "[1].name"]  # others: by index


def test_jsonc_comments_and_trailing_commas_parse_with_lines() -> None:
    text = '{\n  // the model\n  "model": "a", /* inline */\n  "url": "http://x//y",\n  "stop": ["a",],\n}\n'
    parsed = parse("settings.jsonc", text.encode())
    assert parsed.values == {("model",): "a", ("url",): "http://x//y", ("stop",): ["a"]}
    assert parsed.lines[("model",)] == 3
    commented = '{\n  // the model\n  "model": "a" /* inline */\n}\n'
    assert parse("settings.json", commented.encode()).values == {("model",): "a"}


def test_trailing_commas_in_json_are_read_and_real_errors_still_refused() -> None:
    # Aider's model-metadata.json has them (its reader is json5): one meaning, so read, not refused.
    text = '{\n  "a/m": {\n    "max_tokens": 8,\n    "mode": "chat",\n  },\n  "stop": ["x",],\n}\n'
    parsed = parse("model-metadata.json", text.encode())
    assert parsed.values == {("a/m", "max_tokens"): 8, ("a/m", "mode"): "chat", ("stop",): ["x"]}
    assert parsed.lines[("a/m", "mode")] == 4
    with pytest.raises(ConfigParseError, match=r"x\.json:3: Expecting"):  # still an error, at its own line
        parse("x.json", b'{\n  "a": [1,],\n  "b": x\n}')
    with pytest.raises(ConfigParseError, match="duplicate key 'a'"):
        parse("x.json", b'{"a": 1, "a": 2,}')


def test_inserting_one_tool_prints_one_row(git_repo: GitRepo) -> None:
    from pytest_rollout.gate.chain import Request, run_diff
    from pytest_rollout.report import layers_table

    git_repo.commit({"tools/tools.json": json.dumps({"tools": [_tool("search")]})})
    weather = _tool("get_weather")
    weather["function"]["parameters"] = {"type": "object", "properties": {"city": {"type": "string"}}}  # type: ignore[index]
    git_repo.commit({"tools/tools.json": json.dumps({"tools": [weather, _tool("search")]})})
    res = run_diff(Request(repo=git_repo.path, base="HEAD~1", head="HEAD", env={}))
    assert len(res.diff.changes) > 3  # the JSON keeps every key
    rows = layers_table(res.diff)[1:]
    assert len(rows) == 1 and "tools[name=get_weather]" in rows[0] and "added (4 keys)" in rows[0], rows


def test_an_edited_entry_is_not_folded() -> None:
    from pytest_rollout.diff.entries import fold_entries
    from pytest_rollout.models import Change

    added = [Change(path="a.yaml", key=f"tools[name=x].{k}", layer="tools", kind="added") for k in ("d", "e")]
    assert [r.folded for r in fold_entries(added)] == [1, 1]  # no identity leaf added: the entry existed
    new = [*added, Change(path="a.yaml", key="tools[name=x].name", layer="tools", kind="added")]
    assert [(r.change.key, r.folded) for r in fold_entries(new)] == [("tools[name=x]", 3)]
