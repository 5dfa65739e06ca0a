"""GitPython behind diff/repo.py: reads, worktrees and tags for `attribute` and `release mark`; every
GitPython failure a one-line GitError naming the fix; the deploy tags and the paths that must stay
fast (check, baseline ancestry) on plumbing, without importing `git`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEED_APP_BASE, GitRepo, rollout_cli
from pytest_rollout.attribution.hybrids import Hybrid, Window, Worktrees, plan, read_window
from pytest_rollout.diff import repo as gitrepo
from pytest_rollout.errors import GitError
from pytest_rollout.gate.chain import Request, run_diff
from pytest_rollout.gate.deploys import deploy_tags

RELEASE = 'release:\n  deployed: "refs/tags/deploy/prod/*"\n'


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_read_at_gives_files_and_none_for_what_is_not_a_file(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"config/app.yaml": "a: 1\n", "prompts/p.md": "hi"})
    (git_repo.path / "link.md").symlink_to("prompts/p.md")
    head = git_repo.commit()
    with gitrepo.opened(git_repo.path, "attribute") as repo:
        assert gitrepo.read_at(repo, sha, "config/app.yaml") == b"a: 1\n"
        assert gitrepo.read_at(repo, head, "link.md") == b"prompts/p.md"  # as `git cat-file blob` gives it
        assert gitrepo.read_at(repo, sha, "link.md") is None  # absent at that commit
        assert gitrepo.read_at(repo, sha, "prompts") is None  # a folder
        assert gitrepo.read_at(repo, sha, "nope/deeper.yaml") is None


@pytest.mark.parametrize(
    ("rev", "expected"),
    [("nope", r"^attribute: .*nope.* is not a commit, branch or tag of this clone: name one"), ("f" * 40, "f" * 40)],
)
def test_an_unknown_revision_is_a_one_line_git_error(git_repo: GitRepo, rev: str, expected: str) -> None:
    git_repo.commit({"a.txt": "x"})
    with pytest.raises(GitError, match=expected) as info, gitrepo.opened(git_repo.path, "attribute") as repo:
        gitrepo.read_at(repo, rev, "a.txt")
    assert "\n" not in str(info.value)


def test_a_commit_missing_from_a_shallow_clone_names_fetch_depth(git_repo: GitRepo, tmp_path: Path) -> None:
    old = git_repo.commit({"a.txt": "1"})
    git_repo.commit({"a.txt": "2"})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{git_repo.path}", str(clone)], check=True)
    with (
        pytest.raises(GitError, match="is not in this shallow clone: .*fetch-depth: 0"),
        gitrepo.opened(clone, "attribute") as repo,
    ):
        gitrepo.read_at(repo, old, "a.txt")


def test_a_corrupt_object_or_ref_is_a_git_error_with_the_repair(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"a.txt": "x"})
    blob = _git(git_repo.path, "rev-parse", f"{sha}:a.txt")
    (git_repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # the file's object is gone
    with (
        pytest.raises(GitError, match=r"^attribute: .*(git fsck|git fetch)") as info,
        gitrepo.opened(git_repo.path, "attribute") as repo,
    ):
        gitrepo.read_at(repo, sha, "a.txt")
    assert "\n" not in str(info.value)
    (git_repo.path / ".git" / "refs" / "heads" / "broken").write_text("not a sha\n")
    with (
        pytest.raises(GitError, match=r"^attribute: .*(git fsck|name one)"),
        gitrepo.opened(git_repo.path, "attribute") as repo,
    ):
        gitrepo.read_at(repo, "broken", "a.txt")


def test_not_a_repository_and_a_failing_command_are_git_errors(git_repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="is not inside a git repository: run it in a clone"):
        with gitrepo.opened(tmp_path / "nowhere", "attribute"):
            pass
    sha = git_repo.commit({"a.txt": "x"})
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    with pytest.raises(GitError, match=r"^attribute: git worktree add failed: .*already exists") as info:
        with gitrepo.opened(git_repo.path, "attribute") as repo:
            gitrepo.add_worktree(repo, taken, sha)
    assert "\n" not in str(info.value)


def test_an_inherited_git_dir_does_not_pick_another_repository(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = git_repo.commit({"a.txt": "ours"})
    other = GitRepo(tmp_path / "other")
    other.commit({"a.txt": "theirs"})
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))  # as in a hook of the other repository
    monkeypatch.setenv("GIT_WORK_TREE", str(other.path))
    with gitrepo.opened(git_repo.path, "attribute") as repo:
        assert gitrepo.read_at(repo, sha, "a.txt") == b"ours"
        gitrepo.add_worktree(repo, tmp_path / "wt", sha)
        assert (tmp_path / "wt" / "a.txt").read_text() == "ours"
        gitrepo.remove_worktrees(repo, [tmp_path / "wt"])
    assert not (tmp_path / "wt").exists()


def test_replace_refs_do_not_substitute_what_attribute_reads(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"config/app.yaml": "model: real\n"})
    real = _git(git_repo.path, "rev-parse", f"{sha}:config/app.yaml")
    fake = subprocess.run(
        ["git", "-C", str(git_repo.path), "hash-object", "-w", "--stdin"], input="model: fake\n", text=True,
        capture_output=True, check=True,
    ).stdout.strip()  # fmt: skip
    _git(git_repo.path, "replace", real, fake)
    assert _git(git_repo.path, "cat-file", "blob", f"{sha}:config/app.yaml") == "model: fake"  # git itself is fooled
    with gitrepo.opened(git_repo.path, "attribute") as repo:
        assert gitrepo.read_at(repo, sha, "config/app.yaml") == b"model: real\n"


def _window(repo: GitRepo) -> Window:
    base = repo.commit({"config/app.yaml": SEED_APP_BASE, "prompts/a.md": "one", "prompts/b.md": "two"}, "base")
    app = SEED_APP_BASE.replace("gpt-4-turbo-preview", "gpt-4o").replace("top_k: 4", "top_k: 8")
    repo.commit({"config/app.yaml": app, "prompts/a.md": "ONE", "prompts/b.md": "TWO"}, "bundle")
    return read_window(run_diff(Request(repo=repo.path, base=base)))


def test_planning_reads_through_one_cat_file(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = _window(git_repo)
    assert window.layers == ("model", "context", "prompt")
    trace = tmp_path / "trace.txt"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    hybrids = plan(window)  # 8 hybrids, 3 files read at both ends
    calls = [line for line in trace.read_text().splitlines() if "trace: built-in: git" in line]
    assert len(hybrids) == 8 and all(h.error is None for h in hybrids)
    assert len(calls) <= 2, "\n".join(calls)  # the plumbing reader ran two processes per file and hybrid: 40+
    model = next(h for h in hybrids if h.applied == ("model",))
    edit = {e.path: e.data for e in model.edits}
    assert edit["prompts/a.md"] == b"one" and b"gpt-4o" in (edit["config/app.yaml"] or b"")


def test_worktrees_are_removed_when_a_build_fails(git_repo: GitRepo, tmp_path: Path) -> None:
    window = _window(git_repo)
    with pytest.raises(GitError, match=r"^attribute: git worktree add failed"):
        with Worktrees(window) as trees:
            trees.build(Hybrid(()), 0)
            (trees.folder / "h1").mkdir()
            (trees.folder / "h1" / "in-the-way").write_text("x")
            trees.build(Hybrid(()), 1)
    assert not trees.folder.exists()
    assert _git(git_repo.path, "worktree", "list").count("\n") == 0  # the main worktree alone


def test_attribute_and_release_in_a_bare_repository_fail_in_one_line(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(bare)], check=True)
    for args in (["release", "mark"], ["history"], ["attribute", "--base", "HEAD"], ["check"]):
        proc = rollout_cli(*args, cwd=bare)
        assert proc.returncode == 2, (args, proc.stdout)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "bare repository has no work tree" in proc.stderr and "run it in a clone" in proc.stderr


# --- the deploy tags: plumbing, as check reads them ------------------------------------------


def test_deploy_tags_peel_annotated_and_nested_tags_and_skip_trees(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"a.txt": "x"})
    _git(git_repo.path, "tag", "deploy/prod/light", sha)
    _git(git_repo.path, "tag", "-a", "-m", "d", "deploy/prod/annotated", sha)
    _git(
        git_repo.path,
        "-c",
        "advice.nestedTag=false",
        "tag",
        "-a",
        "-m",
        "n",
        "deploy/prod/nested",
        "deploy/prod/annotated",
    )
    _git(git_repo.path, "tag", "-a", "-m", "t", "deploy/prod/tree", f"{sha}^{{tree}}")
    _git(git_repo.path, "tag", "deploy/staging/x", sha)
    tags = deploy_tags(git_repo.path, "refs/tags/deploy/prod/*")
    assert sorted(t.name for t in tags) == ["deploy/prod/annotated", "deploy/prod/light", "deploy/prod/nested"]
    assert {t.commit for t in tags} == {sha}


def test_a_deploy_tag_of_a_missing_object_fails_closed(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "rollout.yaml": RELEASE}, "release 1")
    assert rollout_cli("release", "mark", cwd=git_repo.path).returncode == 0
    (git_repo.path / ".git" / "refs" / "tags" / "deploy" / "prod" / "zz").write_text("1" * 40 + "\n")
    with pytest.raises(GitError, match=r"missing object 1{40}.*git fetch --tags --force"):
        deploy_tags(git_repo.path, "refs/tags/deploy/prod/*")
    proc = rollout_cli("check", "--deploy", cwd=git_repo.path)  # never a silent fall back to an older deploy
    assert proc.returncode == 2 and "git fetch --tags --force" in proc.stderr and "Traceback" not in proc.stderr


def test_a_broken_tag_outside_the_deploy_folder_is_not_read(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"a.txt": "x"})
    _git(git_repo.path, "tag", "deploy/prod/1", sha)
    _git(git_repo.path, "tag", "deploy/prodx", sha)  # same letters, another folder: not a match
    (git_repo.path / ".git" / "refs" / "tags" / "v0.1").write_text("1" * 40 + "\n")  # an old release tag, broken
    assert [t.name for t in deploy_tags(git_repo.path, "refs/tags/deploy/prod/*")] == ["deploy/prod/1"]
    assert [t.name for t in deploy_tags(git_repo.path, "refs/tags/deploy/prod*")] == ["deploy/prodx", "deploy/prod/1"]
    with pytest.raises(GitError, match="missing object"):
        deploy_tags(git_repo.path, "refs/tags/*")


_IMPORTS = """\
import sys
from pytest_rollout.cli import main
rc = main(sys.argv[1:])
print("GIT", sorted(m for m in ("git", "gitdb") if m in sys.modules), rc)
"""


def test_check_with_release_settings_does_not_import_gitpython(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "rollout.yaml": RELEASE}, "release 1")
    assert rollout_cli("release", "mark", cwd=git_repo.path).returncode == 0
    git_repo.commit({"config/app.yaml": SEED_APP_BASE.replace("top_k: 4", "top_k: 8")}, "context")
    for args in (["check", "--base", "HEAD~1"], ["check", "--deploy"]):
        proc = subprocess.run(
            [sys.executable, "-c", _IMPORTS, *args], cwd=git_repo.path, capture_output=True, text=True
        )
        assert "GIT [] 0" in proc.stdout, (args, proc.stdout, proc.stderr)


_BASELINE = """\
import sys
from pathlib import Path
from pytest_rollout.baselines.lookup import baseline_context
ctx = baseline_context(Path(sys.argv[1]), None, None, drift=True, release_base=None, base_flag=None,
                       fallback_base=None, env={})
print("ANCESTOR", ctx.is_ancestor(sys.argv[2]), ctx.is_ancestor("f" * 40), "git" in sys.modules)
"""


def test_baseline_ancestry_stays_on_plumbing(git_repo: GitRepo) -> None:
    """Inside a pytest session (and each xdist worker) GitPython's import would cost more than the
    calls it replaces (benchmarks/bench_git.py)."""
    first = git_repo.commit({"a.txt": "1"})
    git_repo.commit({"a.txt": "2"})
    proc = subprocess.run([sys.executable, "-c", _BASELINE, str(git_repo.path), first], capture_output=True, text=True)
    assert "ANCESTOR True False False" in proc.stdout, proc.stdout + proc.stderr


def test_a_failing_git_tag_is_one_line_without_the_tag_message(git_repo: GitRepo) -> None:
    git_repo.commit({"a.txt": "x"})
    lock = git_repo.path / ".git" / "refs" / "tags" / "deploy" / "prod" / "20260101T000000Z.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")  # another git holds the ref
    proc = rollout_cli(
        "release", "mark", "--date", "2026-01-01T00:00:00Z", "--message", "secret-ish note", cwd=git_repo.path
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "release mark: git tag failed: " in proc.stderr and "lock" in proc.stderr
    assert "secret-ish note" not in proc.stderr
