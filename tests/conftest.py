from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml  # noqa: F401

import pytest_rollout

# pytester's in-process runs snapshot sys.modules and drop what a run imported.
# A module re-imported by the next run no longer matches objects made by the
# old one (PyYAML's C loader: "no constructor for the tag None"; pydantic:
# "Input should be an instance of Change"), so import everything up front.
# psycopg too: its C core keeps the error classes of the first import, so a re-imported psycopg's
# `except psycopg.Error` would miss them.
try:
    import psycopg  # noqa: F401
except ImportError:  # the postgres extra is optional; its tests skip (or fail under CI)
    pass
for _mod in pkgutil.walk_packages(pytest_rollout.__path__, "pytest_rollout."):
    importlib.import_module(_mod.name)

pytest_plugins = ["pytester"]

Commit = Callable[..., str]


def rollout_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pytest-rollout ARGS`` in a fresh interpreter, as a user or CI runs it: exit code, stdout, stderr."""
    cmd = [sys.executable, "-m", "pytest_rollout", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's git sees a pinned identity and no user/system config (pre-commit's tox.ini)."""
    home = tmp_path_factory.mktemp("githome")
    cfg = home / "gitconfig"
    cfg.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test Author")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    for var in ("GITHUB_ACTIONS", "GITHUB_BASE_REF", "GITHUB_STEP_SUMMARY", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF"):
        monkeypatch.delenv(var, raising=False)


class GitRepo:
    """A real repository in tmp_path, driven through GitPython (never mocked)."""

    def __init__(self, path: Path) -> None:
        import git

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.repo = git.Repo.init(path, initial_branch="main")

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for rel, content in files.items():
            p = self.path / rel
            if content is None:
                if p.is_symlink() or p.is_file():
                    p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content, encoding="utf-8")

    def commit(self, files: dict[str, str | bytes | None] | None = None, msg: str = "change") -> str:
        """Write (None deletes), stage everything, commit; return the 40-hex sha."""
        if files:
            self.write(files)
        self.repo.git.add("-A")
        self.repo.git.commit("--allow-empty", "-q", "-m", msg)
        return self.repo.head.commit.hexsha

    def sha(self, ref: str = "HEAD") -> str:
        return self.repo.commit(ref).hexsha


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[GitRepo]:
    yield GitRepo(tmp_path / "repo")


@pytest.fixture
def pytester_repo(pytester: pytest.Pytester) -> GitRepo:
    """A git repository at pytester.path, so plugin runs see it as their repo."""
    return GitRepo(pytester.path)


# The seed incident: one deploy moves context, model and infra together.
SEED_APP_BASE = """\
# LLM support assistant
llm:
  provider: openai
  model: gpt-4-turbo-preview
  temperature: 0.2
  top_p: 1.0
  max_tokens: 512
  context_window: 8192
retrieval:
  chunk_size: 512
  top_k: 4
  embedding_model: text-embedding-3-small
"""
SEED_SERVING_BASE = """\
serving:
  batch_size: 8
  timeout_s: 30
  max_concurrency: 16
"""


def seed_head(app: str = SEED_APP_BASE, serving: str = SEED_SERVING_BASE) -> tuple[str, str]:
    return (
        app.replace("gpt-4-turbo-preview", "gpt-4o").replace("8192", "32768"),
        serving.replace("batch_size: 8", "batch_size: 32"),
    )


os.environ.setdefault("PYTHONHASHSEED", "0")


def _service(variable: str, what: str) -> str:
    """A real server or browser that scripts/services.sh provides: skip locally without it, fail under CI."""
    value = os.environ.get(variable)
    if value:
        return value
    message = f"{what} is not available: run the tests with `bash scripts/test.sh` (it installs and starts it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; under CI=true this is a failure, not a skip")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The libpq URL of the throwaway PostgreSQL cluster started by scripts/services.sh."""
    return _service("ROLLOUT_TEST_POSTGRES", "PostgreSQL")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless Chromium binary (Debian's package) that scripts/services.sh checks for."""
    return _service("ROLLOUT_TEST_CHROMIUM", "Chromium")
