from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.diff.refs import repo_root, resolve_window, window_commits
from pytest_rollout.errors import GitError


def test_window_is_merge_base_to_head(git_repo: GitRepo) -> None:
    root = git_repo.commit({"a.yaml": "x: 1\n"}, "root")
    git_repo.repo.git.checkout("-q", "-b", "feature")
    f1 = git_repo.commit({"a.yaml": "x: 2\n"}, "f1")
    git_repo.repo.git.checkout("-q", "main")
    git_repo.commit({"b.yaml": "y: 1\n"}, "main moves on")
    w = resolve_window(git_repo.path, "main", "feature")
    assert w.merge_base == root and w.head == f1 and w.base == git_repo.sha("main")
    assert [c.subject for c in window_commits(git_repo.path, w)] == ["f1"]


def test_base_from_settings_then_github_then_upstream(git_repo: GitRepo) -> None:
    git_repo.commit({"a": "1"}, "one")
    git_repo.repo.git.branch("release")
    git_repo.commit({"a": "2"}, "two")
    assert resolve_window(git_repo.path, settings_base="release").base_label.startswith("release (settings")
    git_repo.repo.git.update_ref("refs/remotes/origin/trunk", "release")
    w = resolve_window(git_repo.path, env={"GITHUB_BASE_REF": "trunk"})
    assert w.base_label == "origin/trunk (GITHUB_BASE_REF)" and w.base == git_repo.sha("release")
    git_repo.repo.git.branch("--set-upstream-to=release")
    assert resolve_window(git_repo.path).base_label == "release (upstream)"


def test_no_base_anywhere(git_repo: GitRepo) -> None:
    git_repo.commit({"a": "1"})
    with pytest.raises(GitError, match="no base ref to compare against: pass --base REF"):
        resolve_window(git_repo.path)


def test_unknown_ref(git_repo: GitRepo) -> None:
    git_repo.commit({"a": "1"})
    with pytest.raises(GitError, match="unknown base ref 'nope'"):
        resolve_window(git_repo.path, "nope")
    with pytest.raises(GitError, match="looks like an option"):
        resolve_window(git_repo.path, "--all")


def test_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        repo_root(tmp_path)


def test_shallow_clone_says_fetch_depth_0(git_repo: GitRepo, tmp_path: Path) -> None:
    first = git_repo.commit({"a": "1"}, "one")
    git_repo.commit({"a": "2"}, "two")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{git_repo.path}", str(clone)], check=True)
    with pytest.raises(GitError, match="shallow clone: fetch the full history .*fetch-depth: 0"):
        resolve_window(clone, first)
