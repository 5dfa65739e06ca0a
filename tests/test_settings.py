from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rollout.errors import SettingsError
from pytest_rollout.settings import load_settings

FULL = """\
base: origin/main
layers:
  infra:
    files: ["deploy/**/*.yaml"]
    keys:  ["config/app.yaml:serving.**", "**/*.yaml:**.batch_size"]
  model:
    keys:  ["config/app.yaml:llm.model", "config/app.yaml:llm.provider"]
  params:
    keys:  ["config/app.yaml:llm.temperature", "config/app.yaml:llm.top_p"]
  context:
    keys:  ["config/app.yaml:llm.context_window", "config/app.yaml:retrieval.top_k"]
  prompt:
    files: ["prompts/**"]
  tools:
    files: ["tools/*.json"]
    keys:  ["config/app.yaml:retrieval.embedding_model"]
coupling:
  groups: [[infra, model, params, context, prompt, tools]]
  max_layers_per_release: 1
order: [infra, model, params, context, prompt, tools]
override:
  trailer: Rollout-Bundle-Approved
  allowed: true
strict: false
"""


def test_design_example_validates(tmp_path: Path) -> None:
    (tmp_path / "rollout.yaml").write_text(FULL)
    loaded = load_settings(tmp_path)
    s = loaded.settings
    assert loaded.source == tmp_path / "rollout.yaml"
    assert s.base == "origin/main"
    assert s.layer_names == ("infra", "model", "params", "context", "prompt", "tools")
    assert s.layers is not None and s.layers["model"].keys[0] == "config/app.yaml:llm.model"
    assert not s.uses_defaults


def test_no_file_means_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path)
    assert loaded.source is None and loaded.label == "built-in defaults"
    assert loaded.settings.uses_defaults
    assert loaded.settings.coupling_groups == (loaded.settings.layer_names,)


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest-rollout]\nstrict = true\nbase = "main"\n')
    loaded = load_settings(tmp_path)
    assert loaded.settings.strict and loaded.settings.base == "main"


def test_rollout_yaml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest-rollout]\nstrict = true\n")
    (tmp_path / "rollout.yaml").write_text("strict: false\n")
    assert load_settings(tmp_path).settings.strict is False


def test_explicit_path_relative_to_repo(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "gate.yaml").write_text("base: release\n")
    assert load_settings(tmp_path, "ci/gate.yaml").settings.base == "release"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'layers:\n  model:\n    keys: ["llm.model"]\n',
            'rollout.yaml:3: layers.model.keys: expected "FILEGLOB:KEYPATH"',
        ),
        ("strik: true\n", "rollout.yaml:1: strik: unknown setting; allowed here: base, coupling,"),
        (
            "layers:\n  model:\n    file: [x]\n",
            "rollout.yaml:3: layers.model.file: unknown setting; allowed here: files, keys",
        ),
        (
            "coupling:\n  max_layers_per_release: 0\n",
            "rollout.yaml:2: coupling.max_layers_per_release: Input should be greater than or equal to 1",
        ),
        (
            "layers:\n  model:\n    files: [x]\norder: [model, infra]\n",
            "rollout.yaml:4: order: unknown layer 'infra'; known layers: model",
        ),
        ("layers:\n  Model X:\n    files: [x]\n", "layers: layer name 'Model X'"),
        ("layers: [1, 2\n", "rollout.yaml:2: not valid YAML"),
        ("- just\n- a list\n", "rollout.yaml:1: expected a mapping of settings"),
        ("strict: maybe\n", "rollout.yaml:1: strict: Input should be a valid boolean"),
    ],
)
def test_invalid_settings_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "rollout.yaml").write_text(text)
    with pytest.raises(SettingsError) as exc:
        load_settings(tmp_path)
    assert expected in str(exc.value)
    assert str(tmp_path / "rollout.yaml") in str(exc.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nope.yaml: settings file not found"):
        load_settings(tmp_path, "nope.yaml")


def test_order_is_completed_and_custom_layers_allowed(tmp_path: Path) -> None:
    (tmp_path / "rollout.yaml").write_text(
        "layers:\n  prompt: {files: ['p/**']}\n  safety: {files: ['s/**']}\n  model: {keys: ['a.yaml:m']}\norder: [prompt]\n"
    )
    s = load_settings(tmp_path).settings
    assert s.ship_order == ("prompt", "model", "safety")


def test_extend_defaults_keeps_default_layers(tmp_path: Path) -> None:
    (tmp_path / "rollout.yaml").write_text("extend_defaults: true\nlayers:\n  safety: {files: ['guard/**']}\n")
    s = load_settings(tmp_path).settings
    assert s.uses_defaults and s.layer_names[0] == "safety" and "infra" in s.layer_names
