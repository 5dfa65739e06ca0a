"""GitPython, for the verbs off the hot paths: ``release mark`` and ``attribute``.

GitPython's object model serves where a verb holds one repository open for a while: ``release
mark`` resolves the commit and writes the annotated deploy tag; ``attribute`` reads each changed
file at the window's two ends through GitPython's one persistent ``cat-file`` (the plumbing
reader it replaces ran two processes per file and hybrid) and adds and removes a worktree per
hybrid. Its import costs 50-80 ms (``benchmarks/bench_git.py`` prints it), so the paths that
answer in a fraction of a second stay on ``diff/git.py``'s plumbing: ``check`` (also with
release settings: the deploy tags, ancestry, first-parent logs), the gate in a pytest session,
and the baseline ancestry checks made inside one (each pytest-xdist worker would pay it again).

``git`` is imported inside the functions, and only the two verbs import this module
(``tests/test_check_path.py`` keeps it off the pre-push path). Every GitPython exception raised
inside ``opened`` leaves it as a one-line ``GitError`` naming the fix, never a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_rollout.errors import GitError

if TYPE_CHECKING:
    import git

_REPAIR = "repair the clone (`git fsck`; `git fetch` brings missing objects back) or clone it again"


@contextmanager
def opened(root: Path | str, what: str) -> Iterator[git.Repo]:
    """The repository at ``root``, its git processes isolated as ``diff/git.py``'s are; GitPython's
    exceptions raised inside become ``GitError("<what>: ... : <fix>")``."""
    import git

    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{what}: {root} is not inside a git repository: run it in a clone, or pass --repo") from None
    _isolate(repo)
    try:
        with repo:
            yield repo
    except git.GitCommandError as exc:
        raise GitError(f"{what}: {_command_problem(exc)}") from None
    except (git.BadName, git.exc.AmbiguousObjectName) as exc:
        quoted = re.search(r"'([^']*)'", _first_line(exc))  # "Ref 'NAME' did not resolve to an object"
        raise GitError(f"{what}: {_unknown(repo, repr(quoted.group(1)) if quoted else _first_line(exc))}") from None
    except (git.BadObject, git.exc.ODBError, git.GitError, ValueError) as exc:  # ValueError: unreadable refs, objects
        raise GitError(f"{what}: {_unreadable(repo, exc)}") from None


def _isolate(repo: git.Repo) -> None:
    # As diff/git.py's _env: replace refs or grafts must not substitute other objects for the
    # commits named, and no prompt may wait for a terminal. (An inherited GIT_DIR, as in a hook,
    # GitPython overrides with the repository opened.)
    env = {
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_GRAFT_FILE": os.path.join(os.devnull, "none"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    repo.git.update_environment(**env)


def _command_problem(exc: git.GitCommandError) -> str:
    argv = [str(a) for a in exc.command] if isinstance(exc.command, list) else str(exc.command).split()
    verb = argv[1:2] + [a for a in argv[2:3] if argv[1:2] == ["worktree"]]  # `worktree add`; never a tag message
    text = str(exc.stderr).strip().removeprefix("stderr:").strip().strip("'")  # GitPython: "stderr: '...'"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines  # git's reason, not its advice
    return f"git {' '.join(verb) or 'command'} failed: {said[-1] if said else f'exit status {exc.status}'}"


def _unknown(repo: git.Repo, name: str) -> str:
    from pytest_rollout.diff.refs import SHALLOW_FIX, is_shallow

    if is_shallow(Path(repo.git_dir)):
        return f"{name} is not in this shallow clone: {SHALLOW_FIX}"
    return f"{name} is not a commit, branch or tag of this clone: name one (`git fetch` if it is on a remote)"


_OBJECT = re.compile(r"\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b")


def _unreadable(repo: git.Repo, exc: Exception) -> str:
    """A missing object (a shallow clone's edge, a damaged one) or a ref GitPython cannot parse."""
    from pytest_rollout.diff.refs import SHALLOW_FIX, is_shallow

    text = _first_line(exc)
    missing = _OBJECT.search(text) if "missing" in text or "could not be resolved" in text else None
    if missing is not None and is_shallow(Path(repo.git_dir)):
        return f"object {missing.group()} is not in this shallow clone: {SHALLOW_FIX}"
    if missing is not None:
        return f"object {missing.group()} is missing from this clone: {_REPAIR}"
    return f"the repository cannot be read ({text}): {_REPAIR}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_at(repo: git.Repo, commit: str, path: str) -> bytes | None:
    """The bytes of the file ``path`` at ``commit``; None where it is absent or not a file
    (a folder, a submodule). A symlink reads as its target, as ``git cat-file blob`` gives it."""
    import git

    try:
        item = repo.commit(commit).tree / path
    except KeyError:
        return None
    if not isinstance(item, git.Blob):
        return None
    data: bytes = item.data_stream.read()
    return data


def add_worktree(repo: git.Repo, where: Path, commit: str) -> None:
    """A detached worktree of ``commit`` at ``where`` (which must not exist)."""
    repo.git.worktree("add", "--detach", "--quiet", str(where), commit)


def remove_worktrees(repo: git.Repo, made: list[Path]) -> None:
    """Remove the worktrees made (their folders may be gone already), then prune what is left."""
    import git

    for where in made:
        try:
            repo.git.worktree("remove", "--force", str(where))
        except git.GitCommandError:
            pass  # pruned below once the folder is gone
    try:
        repo.git.worktree("prune")
    except git.GitCommandError:
        pass  # a stale entry is harmless; `git worktree prune` later removes it


def resolve_commit(repo: git.Repo, rev: str, what: str) -> str:
    """The full sha of the commit ``rev`` names (a tag is peeled)."""
    import git

    try:
        return str(repo.commit(rev).hexsha)
    except (git.BadName, ValueError):
        raise GitError(f"{what}: unknown commit {rev!r}: name a commit, branch or tag") from None


def tag_commit(repo: git.Repo, name: str, sha: str, message: str, stamp: str) -> None:
    """Write the annotated tag ``name`` of ``sha`` with the tagger date ``stamp`` (``<unix> +0000``);
    a tag of that name must not exist."""
    if f"refs/tags/{name}" in {t.path for t in repo.tags}:
        raise GitError(f"release mark: tag {name} exists already: wait a second, or pass --date")
    with repo.git.custom_environment(GIT_COMMITTER_DATE=stamp):  # the tagger date is the deploy time
        repo.create_tag(name, ref=sha, message=message)
