"""parsers: structured files -> flat key paths, lines, and refusals (pure, no git)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import SEED_APP_BASE
from pytest_rollout.diff.formats import Parsed, flatten, format_key, is_structured, parse, unflatten
from pytest_rollout.errors import ConfigParseError

BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def keyed(parsed: Parsed) -> dict[str, Any]:
    return {format_key(k): v for k, v in parsed.values.items()}


def lines(parsed: Parsed) -> dict[str, int]:
    return {format_key(k): v for k, v in parsed.lines.items()}


def parse_error(path: str, data: bytes) -> str:
    with pytest.raises(ConfigParseError) as info:
        parse(path, data)
    return str(info.value)


# --------------------------------------------------------------------------- suffixes


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("config/app.yaml", True),
        ("a.yml", True),
        ("tools/search.json", True),
        ("pyproject.toml", True),
        ("CONFIG.YAML", True),
        (".env", True),
        ("deploy/.env.production", True),
        ("prod.env", True),
        ("prompts/system.txt", False),
        ("template.j2", False),
        ("environment.py", False),
        ("yaml", False),
    ],
)
def test_is_structured(path: str, expected: bool) -> None:
    assert is_structured(path) is expected


def test_parse_refuses_unstructured_paths() -> None:
    with pytest.raises(ValueError, match="not a structured config file"):
        parse("prompts/system.txt", b"hello")


# --------------------------------------------------------------------------- YAML


def test_yaml_seed_values_and_lines() -> None:
    parsed = parse("config/app.yaml", SEED_APP_BASE.encode())
    assert keyed(parsed)["llm.model"] == "gpt-4-turbo-preview"
    assert keyed(parsed)["retrieval.top_k"] == 4
    assert lines(parsed)["llm.model"] == 4  # line 1 is a comment
    assert lines(parsed)["retrieval.embedding_model"] == 12


def test_yaml_lists_identity_index_and_scalar_leaves() -> None:
    doc = b"""\
tools:
  - name: search
    description: web
  - name: calc
    description: math
stops: ["\\n", "END"]
mixed:
  - {a: 1}
  - 2
dupes:
  - {name: x, v: 1}
  - {name: x, v: 2}
empty_map: {}
empty_list: []
"""
    parsed = parse("a.yaml", doc)
    assert keyed(parsed) == {
        "tools[name=search].name": "search",
        "tools[name=search].description": "web",
        "tools[name=calc].name": "calc",
        "tools[name=calc].description": "math",
        "stops": ["\n", "END"],
        "mixed[0].a": 1,
        "mixed[1]": 2,
        "dupes[0].name": "x",
        "dupes[0].v": 1,
        "dupes[1].name": "x",
        "dupes[1].v": 2,
        "empty_map": {},
        "empty_list": [],
    }
    assert lines(parsed)["tools[name=calc].description"] == 5


@pytest.mark.parametrize(
    ("items", "segment"),
    [
        ([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "[name=a]"),  # name beats id
        ([{"id": 1}, {"id": 2}], "[id=1]"),
        ([{"model_name": "m"}], "[model_name=m]"),
        ([{"key": "k"}], "[key=k]"),
        ([{"name": "a", "id": 1}, {"name": "a", "id": 2}], "[id=1]"),  # name not unique: next field
        ([{"name": "a"}, {"other": 1}], "[0]"),  # not every element has it
        ([{"name": ["x"]}, {"name": ["y"]}], "[0]"),  # not a scalar
        ([{"name": 1}, {"name": "1"}], "[0]"),  # unique as values, not as segments
    ],
)
def test_identity_field_rules(items: list[dict[str, Any]], segment: str) -> None:
    assert next(iter(flatten({"xs": items})))[1] == segment


def test_yaml_scalar_types_are_kept_and_keys_stringified() -> None:
    doc = b"1: int key\ntrue: bool key\nn: 8\ns: '8'\nf: 1.0\ng: 1.00\nd: 2024-01-02\nb: yes\nz: ~\n"
    parsed = parse("a.yaml", doc)
    values = keyed(parsed)
    assert values["n"] == 8 and type(values["n"]) is int
    assert values["s"] == "8"
    assert values["f"] == values["g"] == 1.0
    assert values["d"] == "2024-01-02"
    assert values["b"] is True
    assert values["z"] is None
    assert "1" in values


def test_yaml_formatting_comments_and_order_do_not_matter() -> None:
    a = parse("a.yaml", b"llm:\n  model: gpt-4o\n  temperature: 0.2\nstops: [a, b]\n")
    b = parse(
        "a.yaml",
        b'# a comment\nstops:\n    - \'a\'\n    - "b"   # trailing\nllm: {temperature: 0.20, model: "gpt-4o"}\n',
    )
    assert a.values == b.values


def test_yaml_merge_keys_and_anchors_in_normal_use() -> None:
    doc = b"""\
defaults: &defaults
  temperature: 0.2
  max_tokens: 512
models:
  - name: fast
    <<: *defaults
    temperature: 0.7
  - name: slow
    <<: *defaults
"""
    values = keyed(parse("a.yaml", doc))
    assert values["models[name=fast].temperature"] == 0.7
    assert values["models[name=fast].max_tokens"] == 512
    assert values["models[name=slow].temperature"] == 0.2


def test_yaml_multi_document_is_a_list_of_documents() -> None:
    values = keyed(parse("k8s.yaml", b"---\nkind: A\nname: x\n---\nkind: B\nname: y\n---\n"))
    assert values == {"[name=x].kind": "A", "[name=x].name": "x", "[name=y].kind": "B", "[name=y].name": "y"}
    one = keyed(parse("k8s.yaml", b"---\nkind: A\n...\n"))
    assert one == {"kind": "A"}


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"# only a comment\n# and another\n", b"---\n", b"~\n"])
def test_yaml_empty_files_have_no_values(data: bytes) -> None:
    assert parse("a.yaml", data) == Parsed({}, {})


def test_yaml_local_tags_are_data_not_errors() -> None:
    values = keyed(parse("cfn.yaml", b"Bucket: !Ref MyBucket\nName: !Sub [a, {b: c}]\nKey: !vault |\n  abc\n"))
    assert values["Bucket"] == "!Ref MyBucket"
    assert values["Name[0]"] == "a"
    assert values["Key"].startswith("!vault abc")


@pytest.mark.parametrize(
    ("data", "line", "what"),
    [
        (b"llm:\n  model: gpt\n   temperature: 0.2\n", 3, "mapping values are not allowed"),
        (b"a: [1, 2\nb: 3\n", 2, "flow sequence"),
        (b'a: 1\nb: "unterminated\n', 3, "quoted scalar"),
        (b"a: 1\nb: !!python/object:os.system x\n", 2, "constructor"),
        (b"a: 1\nb: \x07\n", 2, "control characters"),
    ],
)
def test_yaml_errors_name_file_and_line(data: bytes, line: int, what: str) -> None:
    message = parse_error("config/app.yaml", data)
    assert message.startswith(f"config/app.yaml:{line}: ")
    assert what in message


def test_yaml_error_does_not_echo_the_offending_line() -> None:
    message = parse_error("a.yaml", b"api_key: sk-live-SECRET\n  bad: indent\n")
    assert "SECRET" not in message


def test_billion_laughs_is_refused_quickly() -> None:
    start = time.perf_counter()
    message = parse_error("bomb.yaml", BILLION_LAUGHS)
    assert time.perf_counter() - start < 5.0  # a guard against a hang: expanding it would take hours
    assert message.startswith("bomb.yaml:")
    assert "too many YAML aliases" in message and "> 1000); refusing to expand (alias bomb?)" in message


def test_alias_limit_is_configurable_and_counts_expanded_references() -> None:
    doc = b"a: &a [1, 2]\nb: &b [*a, *a, *a]\nc: [*b, *b]\n"  # b: 3 aliases; c: 2 + 2*3 = 8; total 11
    assert keyed(parse("a.yaml", doc, max_aliases=11))["c[1][2]"] == [1, 2]
    with pytest.raises(ConfigParseError, match=r"too many YAML aliases \(11 > 10\)"):
        parse("a.yaml", doc, max_aliases=10)


def test_wide_alias_expansion_is_refused_even_with_few_aliases() -> None:
    big = b"big: &big [" + b", ".join(b"{v: %d}" % i for i in range(30_000)) + b"]\n"
    doc = big + b"copies: [" + b", ".join([b"*big"] * 5) + b"]\n"
    assert "extra nodes" in parse_error("wide.yaml", doc)


def test_recursive_alias_is_refused() -> None:
    assert "recursive YAML alias" in parse_error("a.yaml", b"a: &a\n  - *a\n")


def test_non_utf8_names_byte_and_offset() -> None:
    assert parse_error("config/app.yaml", b"a: caf\xe9\n") == "config/app.yaml: not UTF-8 text (byte 0xe9 at offset 6)"


def test_utf8_bom_is_not_content() -> None:
    assert keyed(parse("a.json", b'\xef\xbb\xbf{"a": 1}')) == {"a": 1}
    assert keyed(parse("a.yaml", b"\xef\xbb\xbfa: 1\n")) == {"a": 1}


# --------------------------------------------------------------------------- JSON


def test_json_values_and_lines() -> None:
    doc = b'{\n  "tools": [\n    {"name": "search",\n     "description": "web"}\n  ],\n  "a.b": {"c": null}\n}\n'
    parsed = parse("tools/search.json", doc)
    assert keyed(parsed) == {
        "tools[name=search].name": "search",
        "tools[name=search].description": "web",
        '"a.b".c': None,
    }
    assert lines(parsed) == {"tools[name=search].name": 3, "tools[name=search].description": 4, '"a.b".c': 6}


def test_json_lines_fall_back_to_a_key_scan_when_yaml_cannot_compose() -> None:
    doc = b'{\n\t"a": 1,\n\t"b": {\n\t\t"c": 2\n\t}\n}\n'  # tabs: valid JSON, rejected by the YAML scanner
    parsed = parse("a.json", doc)
    assert keyed(parsed) == {"a": 1, "b.c": 2}
    assert lines(parsed) == {"a": 2, "b.c": 4}


@pytest.mark.parametrize(
    ("data", "line"),
    [(b'{\n  "a": 1,\n  "b": 2\n  "c": 3,\n}\n', 4), (b'{\n  "a" 1\n}', 2), (b"[1, 2", 1)],
)
def test_json_errors_name_file_and_line(data: bytes, line: int) -> None:
    assert parse_error("x/a.json", data).startswith(f"x/a.json:{line}: ")


def test_json_root_shapes() -> None:
    assert parse("a.json", b"{}").values == {}
    assert parse("a.json", b"[1, 2]").values == {(): [1, 2]}
    assert keyed(parse("a.json", b'[{"id": "x", "v": 1}]')) == {"[id=x].id": "x", "[id=x].v": 1}


# --------------------------------------------------------------------------- TOML

TOML = b"""\
title = "app"   # comment

[llm]
model = "gpt-4o"
"a.b" = 1
sub.key = true

[[tools]]
name = "search"
doc = \"\"\"
not = a key
\"\"\"

[[tools]]
name = "calc"
since = 2024-01-02T03:04:05Z

[tools.extra]
z = 1
"""


def test_toml_values_and_lines() -> None:
    parsed = parse("pyproject.toml", TOML)
    assert keyed(parsed) == {
        "title": "app",
        "llm.model": "gpt-4o",
        'llm."a.b"': 1,
        "llm.sub.key": True,
        "tools[name=search].name": "search",
        "tools[name=search].doc": "not = a key\n",
        "tools[name=calc].name": "calc",
        "tools[name=calc].since": "2024-01-02T03:04:05+00:00",
        "tools[name=calc].extra.z": 1,
    }
    assert lines(parsed) == {
        "title": 1,
        "llm.model": 4,
        'llm."a.b"': 5,
        "llm.sub.key": 6,
        "tools[name=search].name": 9,
        "tools[name=search].doc": 10,
        "tools[name=calc].name": 15,
        "tools[name=calc].since": 16,
        "tools[name=calc].extra.z": 19,
    }


@pytest.mark.parametrize(
    ("data", "line"),
    [(b"a = 1\nb = \n", 2), (b"a = 1\na = 2\n", 2), (b"[x\n", 1), (b'a = "open', 1)],
)
def test_toml_errors_name_file_and_line(data: bytes, line: int) -> None:
    assert parse_error("pyproject.toml", data).startswith(f"pyproject.toml:{line}: ")


def test_toml_inline_tables_point_at_their_key_line() -> None:
    parsed = parse("a.toml", b"x = 1\nllm = { model = 'm', params = { t = 0.5 } }\n")
    assert lines(parsed) == {"x": 1, "llm.model": 2, "llm.params.t": 2}


# --------------------------------------------------------------------------- .env

ENV = b"""\
# secrets live elsewhere
export MODEL=gpt-4o
TEMPERATURE = 0.2   # inline comment
SYSTEM_PROMPT="You are\\nhelpful \\"always\\""
LITERAL='no \\n escapes # here'
EMPTY=
COMMENT_ONLY= # nothing
HASH=a#b

MULTI="line one
line two"
AFTER=1
"""


def test_env_values_and_exact_lines() -> None:
    parsed = parse(".env", ENV)
    assert keyed(parsed) == {
        "MODEL": "gpt-4o",
        "TEMPERATURE": "0.2",
        "SYSTEM_PROMPT": 'You are\nhelpful "always"',
        "LITERAL": "no \\n escapes # here",
        "EMPTY": "",
        "COMMENT_ONLY": "",
        "HASH": "a#b",
        "MULTI": "line one\nline two",
        "AFTER": "1",
    }
    assert lines(parsed)["MODEL"] == 2 and lines(parsed)["MULTI"] == 10 and lines(parsed)["AFTER"] == 12


@pytest.mark.parametrize(
    ("data", "line", "what"),
    [
        (b"A=1\nthis is not an assignment\n", 2, "expected KEY=VALUE"),
        (b"A=1\n1BAD=x\n", 2, "expected KEY=VALUE"),
        (b'A="never closed\nB=2\n', 1, "unterminated"),
        (b"A='x' trailing\n", 1, "unexpected text"),
    ],
)
def test_env_errors_name_file_and_line(data: bytes, line: int, what: str) -> None:
    message = parse_error("deploy/.env.prod", data)
    assert message.startswith(f"deploy/.env.prod:{line}: ") and what in message


def test_env_error_does_not_echo_the_line() -> None:
    assert "hunter2" not in parse_error(".env", b"PASSWORD hunter2\n")


def test_env_comment_only_file_is_empty() -> None:
    assert parse("x.env", b"# nothing yet\n\n").values == {}


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("llm", "model"), "llm.model"),
        (("tools", "[name=search]", "description"), "tools[name=search].description"),
        (("a", "b.c", "d"), 'a."b.c".d'),
        (("[0]", "x"), "[0].x"),
        (("with space", 'q"uote', "br[x]", ""), '"with space"."q\\"uote"."br[x]".""'),
        (("xs", "[1]", "[0]"), "xs[1][0]"),
        (("models", "[name=gpt-4.1]", "t"), "models[name=gpt-4.1].t"),
    ],
)
def test_format_key(path: tuple[str, ...], text: str) -> None:
    assert format_key(path) == text


def test_unflatten_inverts_flatten() -> None:
    doc = {
        "llm": {"model": "m", "stops": ["a"], "empty": {}},
        "tools": [{"name": "b", "args": [{"x": 1}, 2]}, {"name": "a"}],
        "matrix": [[1, 2], [3]],
    }
    flat = flatten(doc)
    assert unflatten(flat) == doc
    assert flatten(unflatten(flat)) == flat
    assert unflatten({(): 5}) == 5
    assert unflatten({}) == {}


def test_unflatten_rejects_conflicting_paths() -> None:
    with pytest.raises(ValueError, match="conflicting"):
        unflatten({("a",): 1, ("a", "b"): 2})
    with pytest.raises(ValueError, match="conflicting"):
        unflatten({("a", "b"): 2, ("a",): 1})
