"""Per-layer fingerprints on real git repositories: which commits move which layer."""

from __future__ import annotations

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo
from pytest_rollout.baselines.fingerprints import digest, dirty_config, layer_fingerprints
from pytest_rollout.errors import ConfigParseError
from pytest_rollout.settings import Settings

LAYER_MAP = {
    "infra": {"files": ["deploy/**/*.yaml"]},
    "model": {"keys": ["config/app.yaml:llm.model", "config/app.yaml:llm.provider"]},
    "params": {"keys": ["config/app.yaml:llm.temperature", "config/app.yaml:llm.top_p"]},
    "context": {"keys": ["config/app.yaml:llm.context_window", "config/app.yaml:retrieval.top_k"]},
    "prompt": {"files": ["prompts/**"]},
    "tools": {"files": ["tools/*.json"], "keys": ["config/app.yaml:retrieval.embedding_model"]},
}
SETTINGS = {
    "defaults": Settings(),
    "layer-map": Settings.model_validate({"layers": LAYER_MAP}),
}
APP_REFORMATTED = """\
retrieval:   {top_k: 4, embedding_model: "text-embedding-3-small", chunk_size: 512}
# the same values, another order, flow style and quotes
llm:
  max_tokens: 512
  context_window: 8192
  top_p: 1.0
  temperature: 0.20
  model: 'gpt-4-turbo-preview'
  provider: "openai"
"""


def seed_repo(repo: GitRepo) -> str:
    return repo.commit(
        {
            "config/app.yaml": SEED_APP_BASE,
            "deploy/serving.yaml": SEED_SERVING_BASE,
            "prompts/system.txt": "You are a support assistant.\n",
            "tools/search.json": '{"name": "search", "parameters": {}}\n',
            "src/app.py": "print('hello')\n",
        },
        "base",
    )


def moved(before: dict[str, str], after: dict[str, str]) -> list[str]:
    assert before.keys() == after.keys()
    return sorted(layer for layer in before if before[layer] != after[layer])


@pytest.fixture(params=sorted(SETTINGS))
def settings(request: pytest.FixtureRequest) -> Settings:
    return SETTINGS[request.param]


def test_every_layer_gets_a_sha256(git_repo: GitRepo, settings: Settings) -> None:
    fps = layer_fingerprints(git_repo.path, seed_repo(git_repo), settings)
    assert list(fps) == list(settings.layer_names)
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in fps.values())
    assert len(set(fps.values())) == len(fps)  # each layer has its own config here


def test_a_code_only_commit_moves_nothing(git_repo: GitRepo, settings: Settings) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"src/app.py": "print('hello, world')\n", "README.md": "docs\n"}, "code")
    expected = ["app"] if settings.uses_defaults else []  # the defaults' app layer is source code
    assert (
        moved(layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings))
        == expected
    )


def test_a_prompt_edit_moves_only_prompt(git_repo: GitRepo, settings: Settings) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"prompts/system.txt": "You are a terse support assistant.\n"}, "prompt")
    assert moved(
        layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings)
    ) == ["prompt"]


def test_reformatting_a_yaml_config_moves_nothing(git_repo: GitRepo, settings: Settings) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"config/app.yaml": APP_REFORMATTED}, "reformat")
    assert (
        moved(layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings))
        == []
    )


def test_a_model_change_moves_only_model(git_repo: GitRepo, settings: Settings) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"config/app.yaml": SEED_APP_BASE.replace("gpt-4-turbo-preview", "gpt-4o")}, "model")
    assert moved(
        layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings)
    ) == ["model"]


def test_a_type_change_is_a_change(git_repo: GitRepo) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"config/app.yaml": SEED_APP_BASE.replace("top_k: 4", "top_k: 4.0")}, "float")
    settings = SETTINGS["layer-map"]
    assert moved(
        layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings)
    ) == ["context"]


def test_unclassified_keys_are_ignored(git_repo: GitRepo) -> None:
    base = seed_repo(git_repo)
    app = SEED_APP_BASE + "logging:\n  level: debug\n"
    head = git_repo.commit({"config/app.yaml": app.replace("chunk_size: 512", "chunk_size: 256")}, "unclassified")
    settings = SETTINGS["layer-map"]  # chunk_size has no rule in this map
    assert (
        moved(layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings))
        == []
    )


def test_adding_renaming_and_deleting_a_whole_file_moves_its_layer(git_repo: GitRepo, settings: Settings) -> None:
    base = seed_repo(git_repo)
    steps: list[dict[str, str | bytes | None]] = [
        {"prompts/few_shot.txt": "Q: hi\nA: hello\n"},
        {"prompts/few_shot.txt": None, "prompts/examples.txt": "Q: hi\nA: hello\n"},
        {"prompts/examples.txt": None},
    ]
    before = layer_fingerprints(git_repo.path, base, settings)
    for files in steps:
        after = layer_fingerprints(git_repo.path, git_repo.commit(files, "prompt file"), settings)
        assert moved(before, after) == ["prompt"]
        before = after


def test_an_empty_watched_file_counts_as_present(git_repo: GitRepo) -> None:
    base = seed_repo(git_repo)
    head = git_repo.commit({"deploy/extra.yaml": "# nothing yet\n"}, "empty infra file")
    settings = SETTINGS["layer-map"]
    assert moved(
        layer_fingerprints(git_repo.path, base, settings), layer_fingerprints(git_repo.path, head, settings)
    ) == ["infra"]


def test_a_layer_without_config_hashes_nothing_consistently(git_repo: GitRepo) -> None:
    commit = git_repo.commit({"README.md": "x = 1\n"}, "no config at all")
    fps = layer_fingerprints(git_repo.path, commit, Settings())
    assert set(fps.values()) == {digest([])}


def test_an_unparseable_config_fails_closed(git_repo: GitRepo, settings: Settings) -> None:
    seed_repo(git_repo)
    head = git_repo.commit({"config/app.yaml": "llm: [unclosed\n"}, "broken")
    with pytest.raises(ConfigParseError, match=r"config/app\.yaml"):
        layer_fingerprints(git_repo.path, head, settings)


def test_digest_ignores_entry_order() -> None:
    assert digest(["b", "a"]) == digest(["a", "b"]) != digest(["a"])


def test_dirty_config_lists_uncommitted_watched_files(git_repo: GitRepo) -> None:
    seed_repo(git_repo)
    settings = SETTINGS["layer-map"]
    assert dirty_config(git_repo.path, settings) == []
    git_repo.write({"src/app.py": "print('wip')\n", "notes.txt": "todo\n"})  # not config
    assert dirty_config(git_repo.path, settings) == []
    git_repo.write({"prompts/new prompt.txt": "draft\n", "deploy/serving.yaml": None})
    git_repo.repo.git.add("deploy/serving.yaml")
    git_repo.write({"config/app.yaml": SEED_APP_BASE.replace("0.2", "0.3")})
    expected = ["config/app.yaml", "deploy/serving.yaml", "prompts/new prompt.txt"]
    assert dirty_config(git_repo.path, settings) == expected
    assert dirty_config(git_repo.path / "prompts", settings) == expected  # paths stay repo-relative
