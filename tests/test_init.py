"""cli/init: ``pytest-rollout init`` writes the map the defaults see, and never overwrites by accident."""

from __future__ import annotations

import pytest

from conftest import GitRepo
from pytest_rollout.cli import main
from pytest_rollout.gate.chain import Request, run_diff
from pytest_rollout.settings import load_settings

FILES = {
    "config/app.yaml": "llm:\n  model: a\n  temperature: 0.2\n  request_timeout_s: 30\nlogging:\n  level: info\n",
    "prompts/system.md": "You help.\n",
    "prompts/support.yaml": "template: Hi\n",
    ".env.example": "OPENAI_MODEL=a\nDEBUG=1\n",
    "deploy/vllm.yaml": "kind: Deployment\nmetadata: {name: vllm}\nspec: {replicas: 1}\n",
    "src/app.py": "print('hi')\n",
    "models.yaml": "- {name: gpt-4o, model: openai/gpt-4o}\n",
    "Dockerfile": "FROM python:3.12\n",
}


def test_init_writes_rules_with_reasons_and_lists_unclassified(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit(FILES)
    assert main(["init", "--repo", str(git_repo.path)]) == 0
    text = (git_repo.path / "rollout.yaml").read_text()
    assert "- \"config/app.yaml:llm.model\"  # 'model' names model" in text
    assert '- "prompts/**"  # files under prompts: prompt' in text
    assert '- "deploy/**"' in text and '".env.example:OPENAI_MODEL"' in text
    assert '- "Dockerfile"  # files named Dockerfile: infra' in text
    assert '- "models.yaml"  # every key of it names model' in text
    assert "strict: true" in text and "extend_defaults: true" in text
    assert "# app: 1 source file(s) outside tests, docs and examples, by the defaults (coupled)" in text
    assert "#   config/app.yaml: logging.level" in text and "#   .env.example: DEBUG" in text
    settings = load_settings(git_repo.path).settings  # what it writes is valid settings
    assert (
        settings.strict
        and settings.layers is not None
        and set(settings.layers)
        == {
            "infra",
            "model",
            "params",
            "prompt",
        }
    )
    assert "wrote" in capsys.readouterr().out


def test_init_map_judges_like_the_defaults(git_repo: GitRepo) -> None:
    git_repo.commit(FILES)
    assert main(["init", "--repo", str(git_repo.path)]) == 0
    git_repo.commit({"rollout.yaml": (git_repo.path / "rollout.yaml").read_text()})
    git_repo.commit({"config/app.yaml": FILES["config/app.yaml"].replace("30", "60"), "prompts/x.md": "new\n"})
    res = run_diff(Request(repo=git_repo.path, base="HEAD~1", head="HEAD", env={}))
    assert res.loaded.source is not None and res.diff.layers_changed == ["infra", "prompt"]


def test_init_never_overwrites_without_force(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_repo.commit(FILES)
    (git_repo.path / "rollout.yaml").write_text("strict: false\n")
    assert main(["init", "--repo", str(git_repo.path)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (git_repo.path / "rollout.yaml").read_text() == "strict: false\n"
    assert main(["init", "--repo", str(git_repo.path), "--force"]) == 0
    assert "layers:" in (git_repo.path / "rollout.yaml").read_text()


def test_init_reads_named_entries_like_a_list(git_repo: GitRepo) -> None:
    entry = "    url: hf://org/{0}\n    engine: VLLM\n    args: [--max-num-seqs=8]\n    tolerations: [{{key: gpu}}]\n"
    catalog = "".join(
        f"  {name}:\n" + entry.format(name) for name in ("llama-3-8b-l4", "qwen2.5-7b", "e5-mistral-7b-cpu")
    )
    agent = "agent:\n  model: {name: gpt-4o, temperature: 0}\n  tools: {bundles: [a]}\n  templates: {system: hi}\n"
    git_repo.commit({"charts/models/values.yaml": "catalog:\n" + catalog, "config/agent.yaml": agent})
    assert main(["init", "--repo", str(git_repo.path)]) == 0
    text = (git_repo.path / "rollout.yaml").read_text()
    # one rule per field of the catalogue, not one per model; e5-mistral-7b-cpu is a model like its siblings
    assert '- "charts/models/values.yaml:catalog.*.url"  # below a model id: an entry of a model catalogue' in text
    assert '"charts/models/values.yaml:catalog.*.args"' in text and "e5-mistral" not in text
    assert '"charts/models/values.yaml:catalog.*.tolerations[*].key"' in text  # [*] is rule syntax, never quoted
    # sections that are not entries of one kind keep their names
    assert '"config/agent.yaml:agent.model.name"' in text and "agent.*" not in text


def test_init_reads_pyproject_as_the_defaults_do(git_repo: GitRepo) -> None:
    # [tool.crewai] is pyproject's namespace, not the tools layer; [project] and tooling are never read
    pyproject = '[project]\nname = "crew"\ndependencies = ["crewai"]\n[tool.crewai]\ntype = "crew"\n'
    git_repo.commit({"pyproject.toml": pyproject + '[tool.ruff]\nline-length = 100\n[tool.bot.llm]\nmodel = "x"\n'})
    assert main(["init", "--repo", str(git_repo.path)]) == 0
    text = (git_repo.path / "rollout.yaml").read_text()
    assert "\"pyproject.toml:tool.bot.llm.model\"  # 'model' names model" in text
    assert "tools:" not in text and '- "pyproject.toml"' not in text
    assert "#   pyproject.toml: tool.crewai.type" in text  # left for the user to place, nothing else


def test_init_force_does_not_map_the_settings_it_replaces(git_repo: GitRepo) -> None:
    git_repo.commit({**FILES, "rollout.yaml": "layers:\n  model:\n    keys: ['config/app.yaml:llm.model']\n"})
    assert main(["init", "--repo", str(git_repo.path), "--force"]) == 0
    text = (git_repo.path / "rollout.yaml").read_text()
    assert '"rollout.yaml' not in text and "#   rollout.yaml" not in text


def test_init_never_copies_a_secret_shaped_key(git_repo: GitRepo) -> None:
    secret = "sk-proj-ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxw"
    git_repo.commit(
        {"config/app.yaml": f"llm:\n  model: a\nusers:\n  {secret}: admin\n  {secret[:-1]}Q: {{model: b}}\n"}
    )
    assert main(["init", "--repo", str(git_repo.path)]) == 0
    text = (git_repo.path / "rollout.yaml").read_text()
    assert secret[8:20] not in text
    assert '"config/app.yaml:users.*.model"' in text and "#   config/app.yaml: users.*" in text
