"""Deploy tags: reading them (with their dates) and writing one (``pytest-rollout release mark``).

A deploy is recorded as the annotated tag ``deploy/<env>/<UTC YYYYMMDDTHHMMSSZ>``; its tagger
date is the deploy time (``release.min_soak``). The tags are read with one ``git for-each-ref``:
``check`` reads them when release settings are set, and the pre-push path does not import
GitPython, which is also slower here once imported (refs parsed in Python, one object read per
tag: ``benchmarks/bench_git.py``).
Writing one goes through GitPython (``diff/repo.py``), imported inside ``mark`` only.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pytest_rollout.errors import GitError, SettingsError
from pytest_rollout.models import Deployed

TAG_PREFIX = "deploy"
_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class DeployTag:
    ref: str  # refs/tags/...
    commit: str
    at: datetime  # UTC: the tagger date of an annotated tag, else the commit date

    @property
    def name(self) -> str:
        return self.ref.removeprefix("refs/tags/")


@dataclass(frozen=True)
class DeployedRelease:
    ref: str
    commit: str
    at: datetime | None
    source: str  # where the deployed ref was configured, for messages

    @property
    def name(self) -> str:
        return self.ref.removeprefix("refs/tags/").removeprefix("refs/heads/")

    def model(self) -> Deployed:
        return Deployed(ref=self.ref, commit=self.commit, at=iso(self.at) if self.at else None)


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_glob(spec: str) -> bool:
    return any(ch in spec for ch in "*?[")


def tag_pattern(spec: str) -> str:
    """``deploy/prod/*`` and ``refs/tags/deploy/prod/*`` name the same tags."""
    return spec if spec.startswith("refs/") else f"refs/tags/{spec}"


#: Per tag: its ref, the object it names and, for an annotated tag, the object that names;
#: the tagger date of an annotated tag, else the commit date.
_TAG_FORMAT = "%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)%00%(creatordate:unix)"


def deploy_tags(root: Path, pattern: str) -> list[DeployTag]:
    """Tags whose full ref matches ``pattern`` (fnmatch), newest first (date, then name). A tag of
    a tree or a blob deploys nothing and is skipped; a tag whose object is missing is an error."""
    from pytest_rollout.diff.git import run_git

    try:
        out = run_git(root, "for-each-ref", f"--format={_TAG_FORMAT}", _folder(pattern))
    except GitError as exc:
        problem = str(exc).rsplit(": ", 1)[-1]
        raise GitError(
            f"the deploy tags cannot be read ({problem}): fetch them again (`git fetch --tags --force`) "
            "or delete the broken tag (`git tag -d NAME`)"
        ) from None
    found = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        ref, typ, obj, peeled_type, peeled, stamp = line.split("\0")
        if not fnmatch.fnmatchcase(ref, pattern):
            continue
        commit = _tagged_commit(root, ref, typ, obj, peeled_type, peeled)
        if commit is not None and stamp:
            found.append(DeployTag(ref, commit, datetime.fromtimestamp(int(stamp), timezone.utc)))
    found.sort(key=lambda t: (t.at, t.ref), reverse=True)
    return found


def _folder(pattern: str) -> str:
    """The tag folder ``pattern``'s matches lie in (``refs/tags/deploy/prod``): git reads only
    those tags, so thousands of release tags, or a broken one elsewhere, do not matter."""
    literal = pattern[: min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))]
    folder = literal.rsplit("/", 1)[0]
    return folder if folder.startswith("refs/tags/") else "refs/tags/"


def _tagged_commit(root: Path, ref: str, typ: str, obj: str, peeled_type: str, peeled: str) -> str | None:
    if typ == "commit":
        return obj
    if typ != "tag" or peeled_type not in ("commit", "tag"):
        return None  # a tag of a tree or a blob
    if peeled_type == "commit":
        return peeled
    from pytest_rollout.diff.git import run_git  # a tag of a tag: git < 2.44 peels `*` once

    out = run_git(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).decode().strip()
    return out or None


def mark(root: Path, commit: str, env: str, at: datetime | None = None, message: str | None = None) -> DeployTag:
    """Write the annotated deploy tag of ``commit`` (pushing it is the caller's)."""
    from pytest_rollout.diff import repo as gitrepo

    if not _ENV.match(env):
        raise SettingsError(f"--env {env!r}: use letters, digits, '.', '_' or '-' (e.g. prod, staging)")
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    name = f"{TAG_PREFIX}/{env}/{when.strftime('%Y%m%dT%H%M%SZ')}"
    with gitrepo.opened(root, "release mark") as repo:
        sha = gitrepo.resolve_commit(repo, commit, "release mark")
        text = message or f"deploy of {sha[:10]} to {env}"
        gitrepo.tag_commit(repo, name, sha, text, f"{int(when.timestamp())} +0000")
    return DeployTag(f"refs/tags/{name}", sha, when)
