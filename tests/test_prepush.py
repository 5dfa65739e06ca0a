"""The pre-push path for real: a ``git push`` to a bare repository in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head

ROOT = Path(__file__).resolve().parents[1]


def _push(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["git", "push", *args], cwd=repo.path, capture_output=True, text=True, env=env)


@pytest.fixture
def pushed(git_repo: GitRepo, tmp_path: Path) -> GitRepo:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "base")
    git_repo.repo.git.remote("add", "origin", str(bare))
    git_repo.repo.git.push("-q", "-u", "origin", "main")
    return git_repo


def _bundle(repo: GitRepo) -> None:
    app, serving = seed_head()
    repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")


def _one_layer(repo: GitRepo) -> None:
    _, serving = seed_head()
    repo.commit({"deploy/serving.yaml": serving}, "infra: batch 32")


def test_pre_commit_hook_blocks_a_bundled_push(pushed: GitRepo) -> None:
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in manifest if h["id"] == "rollout-gate")
    assert hook["stages"] == ["pre-push"] and hook["entry"] == "pytest-rollout check"
    # The published hook is `language: python` (pre-commit would pip-install this repo);
    # the test runs the same entry against the installed package to stay offline.
    local = {**hook, "language": "system"}
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (pushed.path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    pushed.commit({}, "add pre-commit config")
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert pre_commit, "pre-commit is a test dependency"
    subprocess.run([pre_commit, "install", "--hook-type", "pre-push"], cwd=pushed.path, check=True, capture_output=True)

    _bundle(pushed)
    res = _push(pushed, "origin", "main")
    assert res.returncode != 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "3 coupled layers moved in one release: infra, model, context" in out
    assert "step 1: infra" in out

    pushed.repo.git.reset("-q", "--hard", "HEAD~1")
    _one_layer(pushed)
    res = _push(pushed, "origin", "main")
    assert res.returncode == 0, res.stdout + res.stderr


def test_plain_git_hook(pushed: GitRepo) -> None:
    hook = pushed.path / ".git" / "hooks" / "pre-push"
    shutil.copy(ROOT / "scripts" / "pre-push", hook)
    hook.chmod(0o755)
    _bundle(pushed)
    res = _push(pushed, "origin", "main")
    assert res.returncode != 0 and "decision: BLOCKED" in res.stdout + res.stderr
    pushed.repo.git.reset("-q", "--hard", "HEAD~1")
    _one_layer(pushed)
    assert _push(pushed, "origin", "main").returncode == 0
