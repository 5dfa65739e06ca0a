"""The one place that runs git: checked subprocess calls and batched blob reads.

Plain ``subprocess`` rather than GitPython on this path: the pre-push check must
answer well under a second, GitPython's import alone costs ~90 ms, and what we
need is exactly two plumbing commands (``diff-tree -r -z -M`` and
``cat-file --batch``). Every call is checked: a failing git is a ``GitError``,
never an empty answer (pytest-picked runs git unchecked, so its failed diff reads as
"nothing changed": a silent pass).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pytest_rollout.frozen import dataclass

_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


def _env() -> dict[str, str]:
    # A pre-push hook runs with GIT_DIR set to the pushing repo; we always name
    # the repo with -C, so inherited repo-selecting variables must not win.
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    env.setdefault("LC_ALL", "C")
    env["GIT_TERMINAL_PROMPT"] = "0"
    # `git replace` (refs/replace/*) and grafts would make git show other objects than the
    # commits named: judge what is committed, never a local substitute.
    env["GIT_NO_REPLACE_OBJECTS"] = "1"
    env["GIT_GRAFT_FILE"] = os.path.join(os.devnull, "none")  # no such file: no grafts, no deprecation hint
    env.pop("GIT_REPLACE_REF_BASE", None)
    return env


def run_git(repo: Path | str, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """Run ``git -C repo args...`` and return stdout; raise ``GitError`` on failure."""
    from pytest_rollout.errors import GitError

    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", *args]
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, env=_env(), check=False)
    except FileNotFoundError as exc:  # pragma: no cover - git is a hard requirement
        raise GitError("git is not installed or not on PATH: install git and retry") from exc
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:3])} failed in {repo}: {msg[-1] if msg else proc.returncode}")
    return proc.stdout


def git_ok(repo: Path | str, *args: str) -> bool:
    """True when the git command exits 0 (for existence probes like ``rev-parse --verify``)."""
    cmd = ["git", "-C", str(repo), *args]
    return subprocess.run(cmd, capture_output=True, env=_env(), check=False).returncode == 0


@dataclass(frozen=True)
class Blob:
    """An object read through ``cat-file --batch``: ``data`` is None when missing."""

    spec: str
    sha: str | None
    type: str | None
    size: int
    data: bytes | None


def read_blobs(repo: Path | str, specs: Iterable[str], max_bytes: int | None = None) -> dict[str, Blob]:
    """Read many objects (``<commit>:<path>`` or shas) in one ``git cat-file --batch`` process.

    The answer is streamed: an object over ``max_bytes`` is drained in chunks and dropped
    (its ``data`` is None and ``size`` tells why), so one committed multi-gigabyte file in a
    watched folder is never held in memory just to be refused; memory stays bounded by
    ``max_bytes`` per kept object. Missing objects come back with ``sha`` None.
    """
    from pytest_rollout.errors import GitError

    specs = list(dict.fromkeys(specs))
    if not specs:
        return {}
    payload = "".join(s + "\n" for s in specs).encode("utf-8", "surrogateescape")
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", "cat-file", "--batch"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    stderr: list[bytes] = []
    # A second thread feeds stdin and drains stderr, so no pipe can fill up
    # while this one is blocked reading stdout.
    feeder = threading.Thread(target=_feed, args=(proc, payload, stderr), daemon=True)
    feeder.start()
    assert proc.stdout is not None
    cap = max_bytes if max_bytes is not None else -1
    with proc.stdout:
        result = {}
        for spec in specs:
            blob = _read_batch_entry(proc.stdout, spec, cap)
            if blob is None:
                break
            result[spec] = blob
    feeder.join()
    if proc.wait() != 0 or len(result) != len(specs):
        msg = b"".join(stderr).decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git cat-file --batch failed in {repo}: {msg[-1] if msg else proc.returncode}")
    return result


def tree_entries(repo: Path | str, trees: Iterable[str]) -> dict[str, dict[str, tuple[str, str]] | None]:
    """``{tree spec: {name: (mode, sha)}}`` for many trees (``<commit>:<folder>``, ``<commit>:`` for the
    root) in one ``cat-file --batch``; None where the spec is missing or not a tree. Modes are
    zero-padded as ``ls-tree`` prints them (``040000``, ``100644``, ``120000``)."""
    return {spec: _parse_tree(blob) for spec, blob in read_blobs(repo, trees).items()}


_TREES: dict[tuple[str, str, str], dict[str, tuple[str, str]] | None] = {}
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def tree_at(root: Path | str, commit: str, folder: str) -> dict[str, tuple[str, str]] | None:
    """The entries of ``folder`` ("" for the top) at ``commit``; memoized for full commit ids (immutable)."""
    key = (str(root), commit, folder)
    if key in _TREES:
        return _TREES[key]
    spec = f"{commit}:{folder}"
    found = tree_entries(root, [spec])[spec]
    if _SHA.match(commit):  # a ref name moves: never remembered
        _remember({key: found})
    return found


def prefetch_trees(root: Path | str, commits: Iterable[str], folders: Iterable[str]) -> None:
    """Read every (commit, folder) tree not known yet in one ``git cat-file --batch`` (full ids only)."""
    wanted = {(str(root), c, f) for c in commits if _SHA.match(c) for f in folders} - _TREES.keys()
    if wanted:
        found = tree_entries(root, [f"{c}:{f}" for _, c, f in wanted])
        _remember({k: found[f"{k[1]}:{k[2]}"] for k in wanted})


def _remember(trees: dict[tuple[str, str, str], dict[str, tuple[str, str]] | None]) -> None:
    if len(_TREES) > 4096:  # a long session (attribution, per-commit checks) stays bounded
        _TREES.clear()
    _TREES.update(trees)


def _parse_tree(blob: Blob) -> dict[str, tuple[str, str]] | None:
    if blob.type != "tree" or blob.data is None or blob.sha is None:
        return None
    data, width, pos = blob.data, len(blob.sha) // 2, 0  # sha-1 ids are 20 bytes, sha-256 ones 32
    entries = {}
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries[name] = (data[pos:space].decode("ascii").zfill(6), data[nul + 1 : nul + 1 + width].hex())
        pos = nul + 1 + width
    return entries


def _feed(proc: subprocess.Popen[bytes], payload: bytes, stderr: list[bytes]) -> None:
    assert proc.stdin is not None and proc.stderr is not None
    try:
        with proc.stdin:
            proc.stdin.write(payload)
    except BrokenPipeError:
        pass  # git exited early; its exit status and stderr (read below) say why
    stderr.append(proc.stderr.read())
    proc.stderr.close()


def _read_batch_entry(stream: IO[bytes], spec: str, max_bytes: int) -> Blob | None:
    """One ``cat-file --batch`` answer from the stream (``max_bytes`` -1: no cap); None if it ended early."""
    header = stream.readline()
    if not header.endswith(b"\n"):
        return None
    text = header[:-1].decode("utf-8", "surrogateescape")
    if text.endswith(" missing") or text.endswith(" ambiguous"):
        return Blob(spec, None, None, 0, None)
    sha, typ, size_s = text.rsplit(" ", 2)
    size = int(size_s)
    keep = max_bytes < 0 or size <= max_bytes
    if keep:
        data: bytes | None = stream.read(size)
        if data is None or len(data) != size:
            return None
    elif not _skip(stream, size):
        return None
    if stream.read(1) != b"\n":  # content is followed by a newline
        return None
    return Blob(spec, sha, typ, size, data if keep else None)


def _skip(stream: IO[bytes], size: int) -> bool:
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            return False
        remaining -= len(chunk)
    return True
