"""The judging rule as a table: which base names the window and which settings judge, in real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.gate.chain import Request
from pytest_rollout.gate.judging import config_path, judge


@pytest.fixture
def history(git_repo: GitRepo) -> dict[str, str]:
    """first <- second (main, with `base: first-tag` committed) <- head (the release)."""
    first = git_repo.commit({"config/app.yaml": "llm: {model: a}\n"}, "first")
    git_repo.repo.git.tag("first-tag", first)
    second = git_repo.commit({"rollout.yaml": "base: first-tag\n"}, "second")
    git_repo.repo.git.branch("main-line", second)
    head = git_repo.commit({"config/app.yaml": "llm: {model: b}\n"}, "head")
    return {"first": first, "second": second, "head": head}


@pytest.mark.parametrize(
    ("flag", "env", "fallback", "expected_base"),
    [
        ("main-line", {}, None, "second"),  # 1. the command line wins outright
        (None, {"GITHUB_BASE_REF": "x"}, None, "first"),  # 2. base: as committed at the provisional base
        (None, {}, "main-line", "second"),  # 4. nothing names a base: the ini fallback,
        (None, {}, None, "first"),  # else the work tree's base:
    ],
)
def test_which_base_names_the_window(
    git_repo: GitRepo,
    history: dict[str, str],
    flag: str | None,
    env: dict[str, str],
    fallback: str | None,
    expected_base: str,
) -> None:
    git_repo.repo.git.update_ref("refs/remotes/origin/x", history["second"])
    req = Request(repo=git_repo.path, base=flag, fallback_base=fallback, env=env)
    judging = judge(git_repo.path, req, None)
    assert judging.window.merge_base == history[expected_base]


def test_the_release_cannot_choose_its_own_base(git_repo: GitRepo, history: dict[str, str]) -> None:
    """A `base:` the release itself adds is not read while the base branch names one."""
    git_repo.commit({"rollout.yaml": "base: HEAD\n"}, "narrow my own window")
    git_repo.repo.git.update_ref("refs/remotes/origin/x", history["second"])
    judging = judge(git_repo.path, Request(repo=git_repo.path, env={"GITHUB_BASE_REF": "x"}), None)
    assert judging.window.merge_base == history["first"]
    assert judging.changed == "rollout.yaml"


def test_an_explicit_settings_file_new_in_the_release_is_judged_by_the_defaults(
    git_repo: GitRepo, history: dict[str, str]
) -> None:
    git_repo.commit({"narrow.yaml": "layers: {model: {keys: ['x.yaml:y']}}\n"}, "my own map")
    config = config_path(git_repo.path, "narrow.yaml")
    judging = judge(git_repo.path, Request(repo=git_repo.path, base="main-line"), config)
    assert judging.settings.source is None and judging.settings.commit == history["second"]
    assert judging.changed == "narrow.yaml" and judging.notes == ()


def test_unreadable_settings_at_the_base_are_judged_by_the_defaults_with_a_note(git_repo: GitRepo) -> None:
    base = git_repo.commit({"rollout.yaml": "layers: [not, a, mapping]\n"}, "broken settings on main")
    git_repo.commit({"rollout.yaml": "strict: true\n"}, "the fix")
    judging = judge(git_repo.path, Request(repo=git_repo.path, base=base), None)
    assert judging.settings.source is None
    assert judging.changed == "rollout.yaml"
    (note,) = judging.notes
    assert note.startswith("settings at the base cannot be read (") and f"as committed at {base[:10]}" in note


def test_settings_unchanged_are_the_bases(git_repo: GitRepo, history: dict[str, str]) -> None:
    judging = judge(git_repo.path, Request(repo=git_repo.path, base="main-line"), None)
    assert judging.settings.source == Path(git_repo.path) / "rollout.yaml"
    assert judging.settings.commit == history["second"] and judging.changed is None
