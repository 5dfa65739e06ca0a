"""gate/defaults: the built-in layer map, as a table and end to end through the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.baselines.fingerprints import layer_fingerprints
from pytest_rollout.gate.chain import GateResult, Request, run_gate
from pytest_rollout.gate.defaults import default_key_layer, default_layer, default_watches, words
from pytest_rollout.settings import Settings


def test_words_split_case_and_separators() -> None:
    assert words("maxModelLen") == ("max", "model", "len")
    assert words("OPENAI_MODEL") == ("openai", "model")
    assert words("request-timeout.s") == ("request", "timeout", "s")
    assert words("HTTPTimeout") == ("http", "timeout")


@pytest.mark.parametrize(
    ("key", "layer"),
    [
        # issue 11 item 9: a known name as a word of the key
        ("OPENAI_MODEL", "model"),
        ("OPENAI_TEMPERATURE", "params"),
        ("LLM_MAX_TOKENS", "params"),
        ("llm.chat_model", "model"),
        ("default_model", "model"),
        ("llm_temperature", "params"),
        # issue 14: suffixes, prefixes, camelCase, plurals
        ("client.request_timeout_s", "infra"),
        ("timeout_seconds", "infra"),
        ("client.max_retries", "infra"),
        ("generation.max_new_tokens", "params"),
        ("options.num_ctx", "context"),
        ("max_input_tokens", "context"),
        ("reasoning_effort", "params"),
        ("seed", "params"),
        ("stop", "params"),
        ("embedding_dim", "tools"),
        ("reranker.top_n", "tools"),
        ("vector_store.collection", "tools"),
        ("deployment.replicas", "infra"),
        ("spec.resources.limits.memory", "infra"),
        ("vllm.image.tag", "infra"),
        ("servingEngineSpec.modelSpec[name=llama].maxModelLen", "context"),
        ("servingEngineSpec.modelSpec[name=llama].replicaCount", "infra"),
        ("servingEngineSpec.modelSpec[name=llama].modelURL", "model"),
        ("models", "model"),
        ("containers[name=vllm].args", "infra"),
        ("containers[name=api].env[name=OPENAI_MODEL].value", "model"),
        # the entry with most words wins; then the one nearer the end of the segment
        ("max_model_len", "context"),
        ("embedding_model", "tools"),
        ("weak_model_name", "model"),
        ("model_timeout", "infra"),
        ("model.temperature", "params"),
        ("tools[name=search].description", "tools"),
        ("messages[0].content", "prompt"),
        ("agent.history_processors[0].last_n_messages", "context"),
        # an entry with "=" takes the plural too (an ``images:`` map of tags is infra, not "model" of modelServers)
        ("modelServers.VLLM.images.gh200", "infra"),
        ("stops", "params"),
        # an operational word inside a tools / context / prompt section tunes that component
        ("agent.tools.execution_timeout", "tools"),
        ("mcp.servers[name=fs].timeout", "tools"),
        ("retriever.timeout", "context"),
        ("agent.model.retry.retries", "infra"),  # the client's retries: infra
        ("llm.timeout", "infra"),
        # below a model id (a model catalogue's entry), a key no word names is model
        ('catalog."llama-3.1-8b-instruct".url', "model"),
        ('catalog."llama-3.1-8b-instruct".features', "model"),
        ('catalog."llama-3.1-8b-instruct".args', "infra"),
        ('catalog."llama-3.1-8b-instruct-cpu".url', "model"),  # a model's name is not words ("cpu")
        ('catalog."qwen2.5-7b-instruct".url', "model"),
        ('catalog."llama-3.1-8b-instruct".env.VLLM_ATTENTION_BACKEND', None),  # an env name decides
        ("resourceProfiles.nvidia-gpu-l4.imageName", "infra"),  # gpu: a profile, not a model id
        # history condensers, and the agent tools frameworks ship under these names
        ("condenser.type", "context"),
        ("agent.enable_condensation_request", "context"),
        ("agent.enable_browsing", "tools"),
        ("agent.codeact_enable_jupyter", "tools"),
        ("assistant.code_interpreter", "tools"),
        # not AI config
        ("name", None),
        ("services.web.stop_signal", None),
        ("messages[0].content[1].image_url.url", "prompt"),
    ],
)
def test_key_names(key: str, layer: str | None) -> None:
    from pytest_rollout.gate.layers import split_keypath

    assert default_key_layer(split_keypath(key)) == layer


@pytest.mark.parametrize(
    ("path", "key", "layer"),
    [
        ("prompts/support.yaml", ("template",), "prompt"),  # issue 11 item 1
        ("app/prompts/chat.json", ("messages", "[0]", "role"), "prompt"),
        ("prompts/support.yaml", ("model",), "model"),  # a key name beats the folder
        ("tools/tools.json", ("[name=get_weather]", "parameters", "type"), "tools"),
        ("deploy/serving.yaml", ("spec", "minReadySeconds"), "infra"),
        ("helm/values.yaml", ("ingress", "enabled"), "infra"),
        ("docker-compose.yml", ("services", "api", "environment", "FOO"), None),  # a variable's name decides
        ("docker-compose.yml", ("services", "api", "environment", "OPENAI_MODEL"), "model"),
        ("docker-compose.yml", ("services", "api", "image"), "infra"),
        ("helm/tests/values_test.yaml", ("set", "replicaCount"), None),  # tests are not the release's config
        ("aider/resources/model-metadata.json", ("deepseek/deepseek-chat", "max_tokens"), "model"),
        ("model-metadata.json", ("openrouter/moonshotai/kimi-k2", "max_tokens"), "model"),
        ("models.yaml", ("[name=gpt-4o]", "name"), "model"),
        ("models.yaml", ("[name=gpt-4o]", "edit_format"), "prompt"),
        ("Dockerfile", None, "infra"),
        ("prompts/system.md", None, "prompt"),
        ("config/app.yaml", ("logging", "level"), None),
        (".github/workflows/ci.yml", ("jobs", "test", "timeout-minutes"), None),
        ("pyproject.toml", ("tool", "pytest", "ini_options", "timeout"), None),
        ("pyproject.toml", ("project", "dependencies"), None),
        ("pyproject.toml", ("tool", "myagent", "model"), "model"),
    ],
)
def test_folders_are_signals(path: str, key: tuple[str, ...] | None, layer: str | None) -> None:
    assert default_layer(path, key) == layer


def test_a_tool_schema_parameter_is_not_a_setting() -> None:
    schema = ("parameters", "properties", "top_k", "default")
    assert default_layer("tools/search.json", schema) == "tools"  # not context: top_k is the tool's parameter
    key = ("tools", "[name=search]", "function", "parameters", "properties", "max_tokens", "type")
    assert default_layer("config/agent.yaml", key) == "tools"


def test_a_chart_at_the_root_and_crewai_prompts() -> None:
    assert default_layer("Chart.yaml", ("appVersion",)) == "infra"  # no charts/ folder to say so
    assert default_layer("values.yaml", ("terminationGracePeriodSeconds",)) == "infra"
    assert default_layer("values.yaml", ("ollama", "models", "pull")) == "model"
    agents = "crew/config/agents.yaml"
    assert [default_layer(agents, ("writer", k)) for k in ("goal", "backstory")] == ["prompt", "prompt"]
    assert default_layer("crew/config/tasks.yaml", ("write", "expected_output")) == "prompt"


def test_pyproject_tool_table_is_a_namespace_not_a_word() -> None:
    assert default_layer("pyproject.toml", ("tool", "crewai", "type")) is None
    assert default_layer("pyproject.toml", ("tool", "bot", "tools", "timeout")) == "tools"
    assert default_layer("pyproject.toml", ("tool", "bot", "llm", "model")) == "model"


def test_config_under_a_benchmarks_folder_is_read() -> None:
    # SWE-agent's config/benchmarks/*.yaml are the agent's run configs: only benchmark *code* is not app
    assert default_watches("config/benchmarks/anthropic.yaml")
    assert default_layer("config/benchmarks/anthropic.yaml", ("agent", "model", "name")) == "model"
    assert not default_watches("benchmarks/bench_x.py")


def test_tooling_files_are_not_read() -> None:
    assert default_watches("config/app.yaml") and default_watches("deploy/Dockerfile")
    assert not default_watches(".github/workflows/ci.yml") and not default_watches(".pre-commit-config.yaml")
    assert not default_watches("tests/test_app.py") and not default_watches("conftest.py")


@pytest.mark.parametrize(
    ("path", "layer"),
    [
        ("src/pkg/client.py", "app"),
        ("main.py", "app"),
        ("web/src/App.tsx", "app"),
        ("cmd/server/main.go", "app"),
        ("prompts/render.py", "prompt"),  # a folder that names a layer wins
        ("tests/test_client.py", None),
        ("evals/test_refund.py", None),
        ("pkg/client_test.go", None),
        ("web/src/App.test.tsx", None),
        ("docs/conf.py", None),
        ("benchmarks/bench_x.py", None),
        ("evals/graders/judge.py", None),
        ("vendor/lib/x.go", None),
        ("web/dist/bundle.min.js", None),
        ("web/types.d.ts", None),
        ("web/vite.config.mts", None),
        ("web/tailwind.config.cjs", None),
        ("setup.py", None),
        ("README.md", None),
    ],
)
def test_application_source_is_the_app_layer(path: str, layer: str | None) -> None:
    assert default_layer(path, None) == layer


def _code_and_prompt_release(repo: GitRepo, settings: dict[str, str | bytes | None]) -> GateResult:
    """One release that edits src/bot.py and the prompt it renders, judged at HEAD~1..HEAD."""
    repo.commit({**settings, "src/bot.py": "TONE = 'plain'\n", "prompts/system.md": "You help.\n"})
    repo.commit({"src/bot.py": "TONE = 'warm'\n", "prompts/system.md": "You help warmly.\n"})
    res = run_gate(Request(repo=repo.path, base="HEAD~1", head="HEAD", env={}))
    assert res.diff.layers_changed == ["app", "prompt"]
    return res


def test_a_code_change_beside_a_prompt_change_blocks_under_the_defaults(git_repo: GitRepo) -> None:
    """Issue 14 item 1: code is never invisible, and app is coupled by default (it shares the window)."""
    res = _code_and_prompt_release(git_repo, {})
    assert res.decision is not None and res.decision.status == "blocked"
    assert [step.layer for step in res.decision.plan] == ["prompt", "app"]


def test_app_in_a_group_of_its_own_ships_beside_one_config_layer(git_repo: GitRepo) -> None:
    groups = "coupling:\n  groups: [[infra, model, params, context, prompt, tools], [app]]\n"
    res = _code_and_prompt_release(git_repo, {"rollout.yaml": groups})
    assert res.decision is not None and res.decision.status == "pass"


def test_a_test_or_docs_change_beside_a_prompt_change_passes(git_repo: GitRepo) -> None:
    git_repo.commit({"tests/test_bot.py": "def test(): pass\n", "prompts/system.md": "You help.\n"})
    git_repo.commit({"tests/test_bot.py": "def test(): assert 1\n", "prompts/system.md": "Be kind.\n"})
    assert _moved(git_repo) == ["prompt"]


def _moved(repo: GitRepo) -> list[str]:
    res = run_gate(Request(repo=repo.path, base="HEAD~1", head="HEAD", env={}))
    return res.diff.layers_changed


def test_structured_prompt_file_with_a_model_change_blocks(git_repo: GitRepo) -> None:
    """Issue 11 item 1: a prompts/*.yaml edited together with llm.model is two layers, not one."""
    git_repo.commit({"config/app.yaml": "llm:\n  model: a\n", "prompts/support.yaml": "template: Hi\n"})
    git_repo.commit({"config/app.yaml": "llm:\n  model: b\n", "prompts/support.yaml": "template: Hello\n"})
    res = run_gate(Request(repo=git_repo.path, base="HEAD~1", head="HEAD", env={}))
    assert res.diff.layers_changed == ["model", "prompt"]
    assert res.decision is not None and res.decision.status == "blocked"


def test_prefixed_env_names_are_classified(git_repo: GitRepo) -> None:
    """Issue 11 item 9: .env names with a provider prefix move their layers."""
    git_repo.commit({".env.example": "OPENAI_MODEL=gpt-4o\nLLM_MAX_TOKENS=256\n"})
    git_repo.commit({".env.example": "OPENAI_MODEL=gpt-4.1\nLLM_MAX_TOKENS=512\n"})
    assert _moved(git_repo) == ["model", "params"]


def test_fingerprints_see_structured_prompt_files(git_repo: GitRepo) -> None:
    git_repo.commit({"prompts/chat.json": '{"messages": [{"role": "system", "content": "A"}]}'})
    before = layer_fingerprints(git_repo.path, git_repo.sha(), Settings())
    git_repo.commit({"prompts/chat.json": '{"messages": [{"role": "system", "content": "B"}]}'})
    after = layer_fingerprints(git_repo.path, git_repo.sha(), Settings())
    assert before["prompt"] != after["prompt"] and before["model"] == after["model"]


def test_docs_table_is_the_code() -> None:
    """The defaults table in the docs is generated from DEFAULT_KEYS/DEFAULT_FILES; regenerate it if this fails."""
    import re
    from pathlib import Path

    from pytest_rollout.gate.defaults import defaults_table

    root = Path(__file__).resolve().parents[1]
    docs = [p for p in (root / "docs" / "reference.md", root / "README.md") if p.is_file()]
    tables = [
        m.group(1).strip()
        for p in docs
        for m in re.finditer(r"<!-- defaults-table[^>]*-->\n(.*?)<!-- /defaults-table -->", p.read_text(), re.S)
    ]
    assert tables, "no <!-- defaults-table --> block in docs/reference.md or README.md"
    assert all(t == defaults_table() for t in tables), "run: python scripts/defaults_table.py"


def test_helm_template_yaml_is_compared_whole_not_an_error(git_repo: GitRepo) -> None:
    tpl = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicas }}\n{{- if .Values.x }}\n"
    git_repo.commit({"helm/templates/deployment.yaml": tpl})
    git_repo.commit({"helm/templates/deployment.yaml": tpl.replace("replicas }}", "replicaCount }}")})
    res = run_gate(Request(repo=git_repo.path, base="HEAD~1", head="HEAD", env={}))
    assert res.diff.layers_changed == ["infra"]
    assert layer_fingerprints(git_repo.path, git_repo.sha(), Settings())["infra"]


def test_corpus_replays(tmp_path: Path) -> None:
    """benchmarks/bench_defaults.py: every corpus commit has its blobs; one replays under each map."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_defaults

    cases = list(bench_defaults.cases())
    assert len(cases) >= 20 and all(c.base or c.head for c in cases)
    case = next(c for c in cases if c.commit.startswith("a1193dd8"))  # SWE-agent: leftover reasoning config
    assert [bench_defaults.replay(case, mode, tmp_path)[0] for mode in bench_defaults.MODES] == [["params"]] * 3


def test_a_kubernetes_pod_template_is_not_a_prompt() -> None:
    doc = ("[name=Deployment/ai/api]", "spec", "template")
    assert default_layer("k8s/api.yaml", (*doc, "spec", "containers", "[name=api]", "image")) == "infra"
    assert default_layer("k8s/api.yaml", (*doc, "spec", "containers", "[name=api]", "args", "[2]")) == "infra"
    assert default_layer("k8s/api.yaml", (*doc, "metadata", "labels", "tier")) == "infra"  # its folder's
    assert default_layer("config/app.yaml", ("llm", "template")) == "prompt"
    assert default_layer("config/app.yaml", ("agent", "prompt_template", "text")) == "prompt"
