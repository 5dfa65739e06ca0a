"""Which repository ``pytest --rollout-gate`` judges, and which options a release may give itself (issue 11)."""

from __future__ import annotations

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head
from pytest_rollout.gate.invocation import from_ini

PLAIN_TEST = "def test_plain():\n    assert True\n"


def _bundle(repo: GitRepo) -> str:
    base = repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST}
    )
    app, serving = seed_head()
    repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    return base


@pytest.mark.parametrize("option", ["--rollout-report", "--rollout-store"])
def test_an_existing_option_path_does_not_move_the_judged_repository(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    """Item 2: an existing file passed to an option moves pytest's rootdir to the outer work tree;
    the gate must still judge the repository pytest was started in (and block its bundle)."""
    outer = GitRepo(pytester.path)
    (pytester.path / "cache").mkdir()
    (pytester.path / "cache" / "file").write_text("")
    outer.commit({"README": "workspace\n"})
    inner = GitRepo(pytester.path / "svc")
    base = _bundle(inner)
    monkeypatch.chdir(inner.path)
    result = pytester.runpytest_subprocess(
        "--rollout-gate", f"--rollout-base={base}", option, "../cache/file", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(["*moved: context, infra, model*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_outside_a_work_tree_the_error_names_pytest_terms(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN_TEST)
    result = pytester.runpytest("--rollout-gate", "--rollout-base=main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not a git repository*run pytest from inside the clone*"])
    assert "--repo" not in result.stderr.str().replace("has no --repo", "")


@pytest.mark.parametrize("flag", ["--rollout-head=HEAD~1", "--rollout-base=HEAD", "--rollout-allow-bundle=ok"])
def test_the_releases_own_ini_cannot_choose_its_window(
    pytester: pytest.Pytester, pytester_repo: GitRepo, flag: str
) -> None:
    """Item 4: ``addopts = --rollout-head=HEAD~1`` in the PR's pytest.ini passed a two-layer PR."""
    base = _bundle(pytester_repo)
    pytester.makeini(f"[pytest]\naddopts = {flag}\n")
    result = pytester.runpytest("--rollout-gate", f"--rollout-base={base}" if "base" not in flag else "")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{flag.split('=')[0]}*addopts*must not choose*"])


def test_the_same_flags_on_the_command_line_or_pytest_addopts_count(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _bundle(pytester_repo)
    monkeypatch.setenv("PYTEST_ADDOPTS", "--rollout-allow-bundle='deliberate, measured together'")
    result = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    assert result.ret == pytest.ExitCode.OK


def test_from_ini_and_repo_start(tmp_path: object) -> None:
    assert from_ini(["--rollout-head"], ["--rollout-head", "x"], "") == []
    assert from_ini(["--rollout-head"], [], "--rollout-head=x") == []
    assert from_ini(["--rollout-head"], ["-o", "addopts=--rollout-head=x"], "") == []
    assert from_ini(["--rollout-head", "--rollout-base"], ["--rollout-base=x"], "") == ["--rollout-head"]
