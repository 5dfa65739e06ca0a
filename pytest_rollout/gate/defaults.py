"""The built-in layer map: what a careful user would map, without a ``rollout.yaml`` (pure).

Why words and not whole keys: real configs name the same knob many ways
(``OPENAI_MODEL``, ``chat_model``, ``request_timeout_s``, ``maxModelLen``). A key
segment is split into lower-case words (at ``_``, ``-``, ``.``, spaces and
camelCase humps) and a table entry matches when its words occur in the segment
in a row. A word of an entry also matches its plural (``model`` -> ``models``);
a trailing ``*`` makes the last word a prefix (``rerank*`` -> ``reranker``);
a leading ``=`` matches the whole segment only (``=stop`` is not ``stop_signal``; ``=image``
is ``images`` too).

Which entry decides: the segment nearest the leaf that matches any entry; in
it, the entry with the most words (``max_model_len`` is context, not model);
then the match that ends last, the English head noun (``model_timeout`` is
infra, ``timeout_model`` model). A JSON Schema's property names (below
``properties``: a tool's parameters, ``top_k``, ``max_tokens``) are not settings and
name nothing. An operational word (an infra entry: a timeout,
retries, a port) inside a section that names tools, context or prompt tunes that
component and takes its layer (``agent.tools.execution_timeout`` is tools,
``retriever.timeout`` context); inside ``model:`` or ``llm:`` it stays infra (the
client's timeout). A key no entry names below a model id (``catalog.llama-3-8b.url``:
an entry of a model catalogue) is model. A key no entry matches falls back to the
file's folder (``prompts/``, ``tools/``, ``deploy/``, ...); a file no rule
watches is not read at all. Tooling files (CI, editors, linters, lock files,
``pyproject.toml``) are never read by the defaults: their timeouts and versions
are not the AI system's.

``DEFAULT_KEYS`` and ``DEFAULT_FILES`` are the documented table
(docs/reference.md is tested against them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

from pytest_rollout.diff.formats import KeyPath, is_structured

#: layer -> key entries (see the module docstring for the matching rules).
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "infra": (
        "batch_size",
        "timeout*",
        "concurrency",
        "replica*",
        "workers",
        "instance_type",
        "=image",
        "resources",
        "limits",
        "gpu*",
        "cpu*",
        "memory",
        "max_retries",
        "retries",
        "retry*",
        "rate_limit*",
        "rpm",
        "tpm",
        "port*",
        "args",
        "extra_args",
        "command",
        "tensor_parallel*",
        "pipeline_parallel*",
        "max_num_seqs",
        "max_num_batched_tokens",
        "swap_space",
        "autoscaling",
        "node_selector",
        "tolerations",
        "affinity",
        "healthcheck",
    ),
    "model": (
        "model",
        "model_name",
        "model_id",
        "model_version",
        "provider",
        "quantization",
        "dtype",
        "base_url",
        "api_base",
        "deployment_name",
        "checkpoint",
    ),
    "params": (
        "temperature",
        "top_p",
        "min_p",
        "typical_p",
        "max_tokens",
        "max_new_tokens",
        "max_output_tokens",
        "max_completion_tokens",
        "num_predict",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "logit_bias",
        "seed",
        "=stop",
        "stop_sequences",
        "reasoning_effort",
        "reasoning",
        "thinking",
        "response_format",
    ),
    "context": (
        "context_window",
        "context_length",
        "max_model_len",
        "max_context_tokens",
        "max_input_tokens",
        "num_ctx",
        "chunk_size",
        "chunk_overlap",
        "top_k",
        "retrieval",
        "retriever",
        "similarity_threshold",
        "history*",
        "cache_control",
        "repo_map",  # Aider model settings
        "condenser*",  # history condensers (OpenHands), summarisation and truncation of the history
        "condensation*",
        "truncat*",
        "summariz*",
    ),
    "prompt": (
        "prompt*",
        "system_prompt",
        "system_message",
        "template*",
        "instruction*",
        "few_shot*",
        "=messages",
        "examples",
        "reminder",
        "preamble",
        "persona",
        "backstory",  # CrewAI agents (role, goal, backstory) and tasks (description, expected_output)
        "=goal",
        "expected_output",
        "edit_format",  # Aider model settings: the edit format picks the prompt set
        "=overeager",
        "=lazy",
    ),
    "tools": (
        "tool*",
        "functions",
        "function_call",
        "tool_choice",
        "parallel_tool_calls",
        "embedding*",
        "embedding_model",
        "rerank*",
        "vector_store",
        "mcp*",
        # the agent tools that frameworks ship under these names (OpenAI, Anthropic, OpenHands)
        "browser*",
        "browsing",
        "web_search",
        "file_search",
        "code_interpreter",
        "computer_use",
        "text_editor",
        "jupyter*",
    ),
}

#: layer -> file globs: whole non-structured files, and the fallback for the keys of
#: a structured file that no key entry names.
DEFAULT_FILES: dict[str, tuple[str, ...]] = {
    "infra": (
        "**/deploy/**",
        "**/deployment/**",
        "**/deployments/**",
        "**/helm/**",
        "**/chart/**",
        "**/charts/**",
        "**/k8s/**",
        "**/kubernetes/**",
        "**/manifests/**",
        "Chart.yaml",  # a Helm chart wherever it sits (the chart's repository root too)
        "values.yaml",
        "values-*.yaml",
        "docker-compose*.yml",
        "docker-compose*.yaml",
        "compose.yml",
        "compose.yaml",
        "Dockerfile",
        "*.Dockerfile",
        "Dockerfile.*",
    ),
    "prompt": ("**/prompts/**", "**/prompt/**", "*.prompt", "*.prompty", "*.j2", "*.jinja", "*.jinja2"),
    "tools": ("**/tools/**/*.json", "**/tools/**/*.yaml", "**/tools/**/*.yml", "**/tools/**/*.jsonc"),
    # The application code around the model: what the evals exercise (tests are in DEFAULT_IGNORED).
    "app": tuple(f"*.{ext}" for ext in ("py", "ts", "tsx", "js", "jsx", "mjs", "go", "rs", "java", "kt", "rb", "cs")),
}

#: Never read by the defaults: configuration of the tooling around the project, and the
#: tests, examples and docs beside it (their files are not the release's config).
DEFAULT_IGNORED: tuple[str, ...] = (
    "**/tests/**",
    "**/test/**",
    "*_test.yaml",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "*_test.go",
    "*.test.*",
    "*.spec.*",
    "**/__tests__/**",
    "setup.py",
    "noxfile.py",
    "**/examples/**",
    "**/tutorials/**",
    "**/docs/**",
    "**/website/**",
    ".github/**",
    ".gitlab-ci.yml",
    ".circleci/**",
    ".vscode/**",
    ".idea/**",
    ".devcontainer/**",
    ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml",
    ".readthedocs.yaml",
    ".readthedocs.yml",
    ".markdownlint*",
    ".hadolint.yaml",
    ".yamllint*",
    ".eslintrc*",
    ".prettierrc*",
    "codecov.yml",
    ".codecov.yml",
    "dependabot.yml",
    "renovate.json",
    "mkdocs.yml",
    "package.json",
    "package-lock.json",
    "pnpm-lock.yaml",
    "tsconfig*.json",
    "jsconfig*.json",
    "Chart.lock",
    "**/locales/**",
    "**/i18n/**",
    "**/node_modules/**",
)

#: ``pyproject.toml`` is read only below ``[tool.X]`` for an X that is not a development tool.
PYPROJECT_TOOLING: tuple[str, ...] = (
    "pytest",
    "ruff",
    "mypy",
    "black",
    "isort",
    "coverage",
    "pyright",
    "pylint",
    "setuptools",
    "setuptools_scm",
    "hatch",
    "poetry",
    "uv",
    "pdm",
    "tox",
    "codespell",
    "bandit",
    "cibuildwheel",
    "towncrier",
    "commitizen",
    "bumpversion",
    "pytest-rollout",
)

#: Segments that hold environment variables: below them the variable's name decides, not the folder.
ENV_SECTIONS: tuple[str, ...] = ("env", "envvars", "environment", "extraenv", "env_variables", "envfrom")

#: A model identifier: ``vendor/name`` or a known model family (``gpt-4o``, ``claude-3-5-sonnet``, ``qwen2.5-7b``, ...).
MODEL_ID = re.compile(
    r"[\w.-]+(?:/[\w.:-]+)+|(?:gpt|o[134]|chatgpt|claude|gemini|gemma|llama|mistral|mixtral|codestral|qwen|deepseek|phi|"
    r"command|kimi|glm|grok|minimax|nemotron|yi|falcon|olmo|granite)(?:[-.:_]|\d)[\w.:-]*",
    re.IGNORECASE,
)

#: A model family's name as a key (``llama-3.1-8b-instruct``, ``gpt-4o``): a catalogue entry below the top level.
MODEL_FAMILY = re.compile(MODEL_ID.pattern.partition("|")[2], re.IGNORECASE)

_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATOR = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=4096)
def words(segment: str) -> tuple[str, ...]:
    """``'maxModelLen'`` -> ``('max', 'model', 'len')``; ``'OPENAI_MODEL'`` -> ``('openai', 'model')``."""
    return tuple(w.lower() for part in _SEPARATOR.split(segment) for w in _HUMP.split(part) if w)


def _word_matches(entry_word: str, word: str) -> bool:
    if entry_word.endswith("*"):
        return word.startswith(entry_word[:-1])
    return word in (entry_word, entry_word + "s")


def _entry_match(entry: str, segment: str) -> int | None:
    """Index just past the last matched word, or None."""
    if entry.startswith("="):
        want, have = words(entry[1:]), words(segment)
        same = len(want) == len(have) and all(_word_matches(w, h) for w, h in zip(want, have, strict=True))
        return len(have) if same else None
    want, have = words(entry.rstrip("*")), words(segment)
    if entry.endswith("*"):
        want = (*want[:-1], want[-1] + "*")
    best = None
    for start in range(len(have) - len(want) + 1):
        if all(_word_matches(w, have[start + i]) for i, w in enumerate(want)):
            best = start + len(want)
    return best


@functools.lru_cache(maxsize=4096)
def segment_layer(segment: str) -> str | None:
    """The layer one key segment names, or None (see the module docstring)."""
    best: tuple[int, int] | None = None
    layer_of_best = None
    for layer, entries in DEFAULT_KEYS.items():
        for entry in entries:
            end = _entry_match(entry, segment)
            if end is None:
                continue
            score = (len(words(entry.lstrip("="))), end)
            if best is None or score > best:
                best, layer_of_best = score, layer
    return layer_of_best


def default_key_layer(key: KeyPath) -> str | None:
    """The layer of a key by its names, nearest the leaf first; None when no segment names one."""
    found = key_decision(key)
    return found[0] if found else None


def key_decision(key: KeyPath, ids: Collection[int] = ()) -> tuple[str, int] | None:
    """The layer and the index of the segment that named it.

    List segments are skipped, except the identity of an ``env`` entry
    (``env[name=OPENAI_MODEL].value`` is model): there the name is the key.
    Two model-catalogue shapes are model whatever their leaves say: a file whose
    top-level keys are model ids (``{"deepseek/deepseek-chat": {"max_tokens": ...}}``),
    and the identity field of a list entry named by a model id
    (``[name=gpt-4o].name``: the entry for that model came or went). ``ids``: the
    positions known to be model ids whatever their names (``init`` sees a whole
    catalogue, where the defaults see one key).
    """
    if key and not key[0].startswith("[") and MODEL_ID.fullmatch(key[0]):
        return "model", 0
    if len(key) >= 2 and key[-2].startswith("[") and "=" in key[-2]:
        field, _, value = key[-2][1:-1].partition("=")
        if field == key[-1] and MODEL_ID.fullmatch(value):
            return "model", len(key) - 1
    for i in range(len(key) - 1, -1, -1):
        layer = None if i in ids else _named(key, i)
        if layer:
            return _section(key, i) if layer == "infra" else (layer, i)
    if any(seg.lower() in ENV_SECTIONS for seg in key):
        return None  # an environment variable's name decides, and no entry names it
    for i, seg in enumerate(key):
        if i in ids or (not seg.startswith("[") and MODEL_FAMILY.fullmatch(seg)):
            return "model", i  # an entry of a model catalogue: what that model is
    return None


def _named(key: KeyPath, i: int) -> str | None:
    seg = key[i]
    if i and key[i - 1] == "properties":
        return None  # a JSON Schema's property: a tool's parameter name (``top_k``), not a setting
    if seg.startswith("["):
        return segment_layer(seg[1:-1].partition("=")[2]) if i and key[i - 1].lower() == "env" else None
    if MODEL_FAMILY.fullmatch(seg):
        return None  # a model's name, not words: ``llama-3-8b-cpu`` is that model, not "cpu"
    if seg == "template" and key[i + 1 : i + 2] in (("spec",), ("metadata",)):
        return None  # a Kubernetes pod template (``spec.template.spec.containers``), not a prompt
    return segment_layer(seg)


#: Sections an operational (infra) word below them belongs to: it tunes that component.
SECTION_LAYERS: tuple[str, ...] = ("tools", "context", "prompt")


def _section(key: KeyPath, i: int) -> tuple[str, int]:
    """``agent.tools.execution_timeout`` is tools: the nearest enclosing section that names a layer decides."""
    for j in range(i - 1, -1, -1):
        layer = _named(key, j)
        if layer:
            return (layer, j) if layer in SECTION_LAYERS else ("infra", i)
    return "infra", i


#: Source files that are not the application's code: benchmark and eval code (graders measure
#: the release, they are not in it), vendored and built code, tool configs (``vite.config.ts``).
#: Configuration there is still read (SWE-agent's ``config/benchmarks/*.yaml`` are agent configs).
APP_IGNORED: tuple[str, ...] = (
    "**/benchmarks/**",
    "**/evals/**",
    "**/vendor/**",
    "**/third_party/**",
    "**/dist/**",
    "**/build/**",
    "*.min.js",
    "*.d.ts",
    "*.config.*",
)


@functools.lru_cache(maxsize=4096)  # as is_ignored
def default_file_layer(path: str) -> str | None:
    from pytest_rollout.gate.layers import compile_glob

    if is_ignored(path):
        return None
    for layer, globs in DEFAULT_FILES.items():
        if any(compile_glob(g).match(path) for g in globs):
            if layer == "app" and any(compile_glob(g).match(path) for g in APP_IGNORED):
                return None
            return layer
    return None


@functools.lru_cache(maxsize=4096)  # asked 3 times per changed path (issue 19)
def is_ignored(path: str) -> bool:
    from pytest_rollout.gate.layers import compile_glob

    return any(compile_glob(g).match(path) for g in DEFAULT_IGNORED)


def default_watches(path: str) -> bool:
    """Is this file read under the defaults? Structured files and the files of ``DEFAULT_FILES``."""
    return not is_ignored(path) and (is_structured(path) or default_file_layer(path) is not None)


def default_layer(path: str, key: KeyPath | None) -> str | None:
    """A whole file: its folder's layer. A key: its names' layer, else its file's."""
    if key is None:
        return default_file_layer(path)
    if not reads_key(path, key):
        return None
    found = file_key_decision(path, key)
    if found is not None or any(seg.lower() in ENV_SECTIONS for seg in key):
        return found[0] if found else None  # an environment variable is the application's setting: its name decides
    return default_file_layer(path)


def reads_key(path: str, key: KeyPath) -> bool:
    """Does the defaults' table judge this key of this file? Not in ignored files, nor pyproject's tooling."""
    return not is_ignored(path) and not _is_tooling_key(path, key)


def file_key_decision(path: str, key: KeyPath, ids: Collection[int] = ()) -> tuple[str, int] | None:
    """``key_decision`` for a key of the file at ``path``: pyproject's ``[tool]`` is a namespace, not a word
    (``[tool.crewai] type = "crew"`` is not the tools layer)."""
    if _is_pyproject(path) and key[:1] == ("tool",):
        found = key_decision(key[1:], [i - 1 for i in ids if i])
        return (found[0], found[1] + 1) if found else None
    return key_decision(key, ids)


def _is_pyproject(path: str) -> bool:
    return path.rsplit("/", 1)[-1] == "pyproject.toml"


def _is_tooling_key(path: str, key: KeyPath) -> bool:
    if not _is_pyproject(path):
        return False
    return len(key) < 2 or key[0] != "tool" or key[1] in PYPROJECT_TOOLING


def defaults_table() -> str:
    """The documented table (docs are tested against it: ``python scripts/defaults_table.py`` prints it)."""

    def cell(items: tuple[str, ...]) -> str:
        return ", ".join(f"`{i}`" for i in items)

    rows = ["| layer | key words (anywhere in a key) | files and folders |", "|---|---|---|"]
    for layer in dict.fromkeys((*DEFAULT_KEYS, *DEFAULT_FILES)):
        files = cell(DEFAULT_FILES.get(layer, ())) + (f" (not in {cell(APP_IGNORED)})" if layer == "app" else "")
        rows.append(f"| {layer} | {cell(DEFAULT_KEYS.get(layer, ()))} | {files} |")
    rows.append(
        f"| (never read) | | {cell(DEFAULT_IGNORED)}; in `pyproject.toml` all but `[tool.X]` tables of non-tooling X |"
    )
    return "\n".join(rows)
