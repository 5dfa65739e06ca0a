"""Every README block that is meant to work, works: settings validate, YAML parses, the CLI
examples exit as stated, and the Quickstart's test command is the one CI runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head
from pytest_rollout.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```\w*\n(.*?)```", re.S)


def _blocks(tag: str) -> list[str]:
    found = [body for t, body in BLOCK.findall((ROOT / "README.md").read_text()) if t == tag]
    assert found, f"README has no block marked readme-test: {tag}"
    return found


def test_settings_example_validates() -> None:
    for body in _blocks("settings"):
        settings = Settings.model_validate(yaml.safe_load(body))
        assert settings.layers is not None and settings.layer_names[0] == "infra"


def test_yaml_recipes_parse() -> None:
    for body in _blocks("yaml"):
        assert isinstance(yaml.safe_load(body), dict)


def test_pre_commit_snippet_names_our_hook() -> None:
    (body,) = _blocks("pre-commit")
    hooks = yaml.safe_load(body)["repos"][0]["hooks"]
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} <= {h["id"] for h in manifest}


def test_python_examples_compile() -> None:
    for body in _blocks("python"):
        compile(body, "README.md", "exec")


def test_quickstart_is_what_ci_runs() -> None:
    (body,) = _blocks("quickstart")
    commands = [line.split("#")[0].strip() for line in body.splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci


def test_cli_examples_exit_as_stated(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "base")
    app, serving = seed_head()
    git_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (body,) = _blocks("cli-in-seed-repo")
    for line in body.strip().splitlines():
        command, _, comment = line.partition("#")
        expected = int(re.match(r"\s*exit (\d+)", comment).group(1))  # type: ignore[union-attr]
        proc = subprocess.run(shlex.split(command), cwd=git_repo.path, capture_output=True, text=True, env=env)
        assert proc.returncode == expected, f"{command}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        if "--json" in command:
            assert '"layers_changed": [\n    "context",\n    "infra",\n    "model"\n  ]' in proc.stdout
