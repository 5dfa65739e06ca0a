from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rollout.gate.layers import (
    LayerMap,
    compile_glob,
    default_key_layer,
    format_key,
    match_keypath,
    split_keypath,
)
from pytest_rollout.settings import load_settings


@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("deploy/**/*.yaml", "deploy/serving.yaml", True),
        ("deploy/**/*.yaml", "deploy/a/b/serving.yaml", True),
        ("deploy/*.yaml", "deploy/a/serving.yaml", False),
        ("prompts/**", "prompts/system.md", True),
        ("**/prompts/**", "app/prompts/x/system.md", True),
        ("*.prompt", "a/b/c.prompt", True),
        ("tools/*.json", "tools/search.json", True),
        ("tools/*.json", "xtools/search.json", False),
        ("config/app.yaml", "config/app.yaml", True),
        ("config/app.yaml", "other/config/app.yaml", False),
    ],
)
def test_globs(glob: str, path: str, hit: bool) -> None:
    assert bool(compile_glob(glob).match(path)) is hit


@pytest.mark.parametrize(
    ("pattern", "key", "hit"),
    [
        ("llm.model", ("llm", "model"), True),
        ("llm.*", ("llm", "model"), True),
        ("llm.*", ("llm", "a", "b"), False),
        ("serving.**", ("serving", "a", "b"), True),
        ("**.batch_size", ("batch_size",), True),
        ("**.batch_size", ("x", "[0]", "batch_size"), True),
        ("tools[*].name", ("tools", "[name=search]", "name"), True),
        ("tools[*].name", ("tools", "x", "name"), False),
        ('a."b.c"', ("a", "b.c"), True),
        ("prompt*", ("prompt_template",), True),
    ],
)
def test_keypaths(pattern: str, key: tuple[str, ...], hit: bool) -> None:
    assert match_keypath(split_keypath(pattern), key) is hit


def test_format_key_quotes_dots() -> None:
    assert format_key(("a", "b.c", "[0]", "d")) == 'a."b.c"[0].d'
    assert format_key(("tools", "[name=search]", "description")) == "tools[name=search].description"


def _map(tmp_path: Path, text: str) -> LayerMap:
    (tmp_path / "rollout.yaml").write_text(text)
    return LayerMap.from_settings(load_settings(tmp_path).settings)


def test_key_rule_beats_file_rule_and_longer_literal_wins(tmp_path: Path) -> None:
    lm = _map(
        tmp_path,
        """
layers:
  infra: {files: ["config/**"], keys: ["config/app.yaml:llm.**"]}
  model: {keys: ["config/app.yaml:llm.model"]}
""",
    )
    assert lm.layer_of("config/app.yaml", ("llm", "model")) == "model"
    assert lm.layer_of("config/app.yaml", ("llm", "temperature")) == "infra"
    assert lm.layer_of("config/other.yaml", ("x",)) == "infra"  # file rule covers every key
    assert lm.layer_of("config/app.yaml", None) == "infra"


def test_ties_go_to_the_first_declared(tmp_path: Path) -> None:
    lm = _map(
        tmp_path,
        """
layers:
  params: {keys: ["config/app.yaml:llm.*"]}
  model: {keys: ["config/app.yaml:*.mod*"]}
""",
    )
    assert lm.layer_of("config/app.yaml", ("llm", "model")) == "params"


def test_unmatched_key_of_watched_file_is_unclassified(tmp_path: Path) -> None:
    lm = _map(tmp_path, 'layers:\n  model: {keys: ["config/app.yaml:llm.model"]}\n')
    assert lm.watches("config/app.yaml") and not lm.watches("src/app.py")
    assert lm.layer_of("config/app.yaml", ("llm", "seed")) is None


def test_defaults_table() -> None:
    assert default_key_layer(("llm", "model")) == "model"
    assert default_key_layer(("serving", "batch_size")) == "infra"
    assert default_key_layer(("serving", "timeout_s")) == "infra"
    assert default_key_layer(("llm", "context_window")) == "context"
    assert default_key_layer(("model", "temperature")) == "params"
    assert default_key_layer(("tools", "[name=search]", "description")) == "tools"
    assert default_key_layer(("retrieval", "embedding_model")) == "tools"
    assert default_key_layer(("prompt_template",)) == "prompt"
    assert default_key_layer(("llm", "max_tokens")) == "params"
    assert default_key_layer(("MODEL",)) == "model"  # .env keys are upper case
    assert default_key_layer(("name",)) is None


def test_defaults_watch_structured_and_prompt_files(tmp_path: Path) -> None:
    lm = LayerMap.from_settings(load_settings(tmp_path).settings)
    assert lm.watches("config/app.yaml") and lm.watches(".env") and lm.watches("app/prompts/system.md")
    assert lm.watches("src/app.py") and lm.layer_of("src/app.py", None) == "app"
    assert not lm.watches("tests/test_app.py")
    assert lm.layer_of("app/prompts/system.md", None) == "prompt"
    assert lm.layer_of("templates/answer.j2", None) == "prompt"


@pytest.mark.parametrize("glob", ["prompts", "prompts/", "./prompts/**", "/prompts/**", "prompts/**"])
def test_folder_spellings_all_watch_the_folder(glob: str) -> None:
    assert compile_glob(glob).match("prompts/system.md") and compile_glob(glob).match("prompts/a/b.md")
    assert not compile_glob(glob).match("src/app.py")


def test_malformed_key_rule_is_a_settings_error(tmp_path: Path) -> None:
    from pytest_rollout.errors import SettingsError

    (tmp_path / "rollout.yaml").write_text('layers:\n  infra:\n    keys: ["deploy/app.yaml:env[0"]\n')
    with pytest.raises(
        SettingsError, match=r"rollout.yaml:3: layers.infra.keys: key path 'env\[0': '\[' at position 3 is never closed"
    ):
        load_settings(tmp_path)


def test_glob_shortcuts_agree_with_the_nfa() -> None:
    """``Glob`` answers most paths before its NFA runs (literal names, ``**/NAME``, ``*.ext``): same answers."""
    import random

    from pytest_rollout.gate.defaults import DEFAULT_FILES, DEFAULT_IGNORED
    from pytest_rollout.gate.layers import Glob, _name_scan, name_match

    rng = random.Random(19)
    names = [
        "a",
        "b.py",
        "x.yaml",
        "prompts",
        "tools",
        "deploy",
        "tests",
        "*",
        "conftest.py",
        ".github",
        "c.test.js",
        "",
    ]
    patterns = [*DEFAULT_IGNORED, *(g for globs in DEFAULT_FILES.values() for g in globs)]
    for _ in range(300):
        segs = [rng.choice([*names, "**", "*.py", "?.yaml", "b*", "*a*"]) for _ in range(rng.randrange(1, 4))]
        patterns.append("/".join(segs) + rng.choice(["", "/"]))
    for pattern in patterns:
        glob = Glob(pattern)
        for _ in range(40):
            path = "/".join(rng.choice(names) for _ in range(rng.randrange(1, 5)))
            assert glob._match(path) == glob._run(path.split("/")), (pattern, path)
    for pat in ["*.py", "a", "*", "", "b*", "*a*", "?.yaml", "*.test.*"]:
        for name in names:
            assert name_match(pat, name) == _name_scan(pat, name), (pat, name)
