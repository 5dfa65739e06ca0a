"""Resolve the release window: base and head commits, their merge-base, its commits.

The base comes from, in order: the flag, the settings' ``base``,
``GITHUB_BASE_REF`` (as ``origin/<ref>``), the branch's upstream, then
``origin/HEAD``. The window is ``merge-base(base, head)..head``: deploying head
deploys every commit in it. Anything that stops us deciding is a ``GitError``
whose message says the fix; nothing here ever guesses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pytest_rollout.diff.git import git_ok, run_git
from pytest_rollout.errors import GitError, NoBaseError
from pytest_rollout.frozen import dataclass

SHALLOW_FIX = (
    "fetch the full history (actions/checkout: `fetch-depth: 0`; GitLab: `GIT_DEPTH: 0`; "
    "locally: `git fetch --unshallow`)"
)


@dataclass(frozen=True)
class Window:
    base: str  # the base commit the user named (resolved)
    head: str
    merge_base: str  # where the judged diff starts: the base itself for a rollback
    base_label: str  # how the base was chosen, for messages ("origin/main from GITHUB_BASE_REF")
    rollback: bool = False  # head is an older commit than base: deploying it undoes base's changes


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    message: str
    parents: tuple[str, ...] = ()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


def repo_root(path: Path | str, fix: str = "run inside a clone, or pass --repo DIR") -> Path:
    """The top of the work tree that contains ``path``; ``fix`` ends the error (the CLI's or pytest's terms)."""
    p = Path(path)
    if not p.exists():
        raise GitError(f"{p}: no such folder: {fix}")
    top = run_git(p, "rev-parse", "--show-toplevel", check=False).decode("utf-8", "surrogateescape").strip()
    if top:  # one git call on the way that works
        return Path(top)
    if not git_ok(p, "rev-parse", "--git-dir"):
        raise GitError(f"{p.resolve()}: not a git repository: {fix}")
    if run_git(p, "rev-parse", "--is-bare-repository", check=False).strip() == b"true":
        raise GitError(f"{p.resolve()}: a bare repository has no work tree to judge: run it in a clone ({fix})")
    top = run_git(p, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape").strip()  # git says why
    return Path(top)


def resolve_window(
    repo: Path,
    base: str | None = None,
    head: str | None = None,
    settings_base: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Window:
    env = env if env is not None else {}
    head_ref = head or "HEAD"
    try:
        base_ref, label = _pick_base(repo, base, settings_base, env)
    except NoBaseError:
        _resolve(repo, head_ref, "head")  # a bad head is the first thing to fix
        raise
    head_sha, base_sha = _resolve_both(repo, head_ref, base_ref)
    mb = run_git(repo, "merge-base", base_sha, head_sha, check=False).decode().strip()
    if not mb:
        hint = SHALLOW_FIX if is_shallow(repo) else "check that both refs share history"
        raise GitError(f"no merge-base between base {base_ref} and head {head_ref}: {hint}")
    if mb == head_sha and base_sha != head_sha:
        # head is behind base (a revert by force-push, `--head <older commit>`): deploying it undoes
        # every change of head..base, so that is what is judged, from base's side.
        return Window(base_sha, head_sha, base_sha, label, rollback=True)
    return Window(base_sha, head_sha, mb, label)


def _pick_base(repo: Path, flag: str | None, settings_base: str | None, env: Mapping[str, str]) -> tuple[str, str]:
    if flag:
        return flag, flag
    if settings_base:
        return settings_base, f"{settings_base} (settings `base:`)"
    if env.get("GITHUB_BASE_REF"):
        ref = f"origin/{env['GITHUB_BASE_REF']}"
        return ref, f"{ref} (GITHUB_BASE_REF)"
    up = run_git(repo, "rev-parse", "--abbrev-ref", "@{upstream}", check=False).decode().strip()
    if up:  # empty (exit 128) when the branch has no upstream
        return up, f"{up} (upstream)"
    if git_ok(repo, "rev-parse", "--verify", "-q", "refs/remotes/origin/HEAD"):
        return "origin/HEAD", "origin/HEAD"
    raise NoBaseError(
        "no base ref to compare against: pass --base REF (pytest: --rollout-base), "
        "set `base:` in rollout.yaml, or give the branch an upstream"
    )


_FULL_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _resolve_both(repo: Path, head: str, base: str) -> tuple[str, str]:
    """Head and base commits in one ``rev-parse``; anything unusual goes through ``_resolve`` (its messages)."""
    if not head.startswith("-") and not base.startswith("-"):
        specs = (f"{head}^{{commit}}", f"{base}^{{commit}}")
        out = run_git(repo, "rev-parse", "--revs-only", "--end-of-options", *specs, check=False).decode().split()
        if len(out) == 2 and all(_FULL_ID.match(sha) for sha in out):  # a range or a missing ref: not 2 ids
            return out[0], out[1]
    return _resolve(repo, head, "head"), _resolve(repo, base, "base")


def _resolve(repo: Path, ref: str, what: str) -> str:
    if ref.startswith("-"):
        raise GitError(f"{what} ref {ref!r} looks like an option: name a branch, tag or commit")
    out = run_git(repo, "rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}", check=False)
    sha = out.decode().strip()
    if sha:
        return sha
    if is_shallow(repo):
        raise GitError(f"{what} ref {ref!r} is not in this shallow clone: {SHALLOW_FIX}")
    if not run_git(repo, "rev-list", "-n", "1", "--all", check=False).strip():
        raise GitError(f"{what} ref {ref!r}: the repository {repo} has no commits yet: commit the config first")
    raise GitError(
        f"unknown {what} ref {ref!r}: check the name, or fetch it (`git fetch origin {ref.removeprefix('origin/')}`)"
    )


def is_shallow(repo: Path) -> bool:
    return run_git(repo, "rev-parse", "--is-shallow-repository", check=False).decode().strip() == "true"


def window_commits(repo: Path, window: Window) -> list[Commit]:
    """Commits of ``merge_base..head``, oldest first, with author and full message."""
    fmt = "%H%x1f%P%x1f%an <%ae>%x1f%B%x1e"
    out = run_git(repo, "log", "--reverse", f"--format={fmt}", f"{window.merge_base}..{window.head}")
    commits = []
    for rec in out.decode("utf-8", "replace").split("\x1e"):
        rec = rec.lstrip("\n")
        if rec:
            sha, parents, author, message = rec.split("\x1f", 3)
            commits.append(Commit(sha, author, message.strip("\n"), tuple(parents.split())))
    return commits
