"""Deploy tags: reading them (with their dates) and writing one (``pytest-rollout release mark``).

A deploy is recorded as the annotated tag ``deploy/<env>/<UTC YYYYMMDDTHHMMSSZ>``; its tagger
date is the deploy time (``release.min_soak``). GitPython reads the tags and their objects;
it is imported only here, inside the functions, so importing this module stays cheap.
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


def deploy_tags(root: Path, pattern: str) -> list[DeployTag]:
    """Tags whose full ref matches ``pattern`` (fnmatch), newest first (date, then name)."""
    import git

    found = []
    with git.Repo(root) as repo:
        for tag in repo.tags:
            if not fnmatch.fnmatchcase(tag.path, pattern):
                continue
            try:
                commit = tag.commit
            except ValueError:
                continue  # a tag of a tree or a blob deploys nothing
            obj = tag.tag
            stamp = obj.tagged_date if obj is not None else commit.committed_date
            found.append(DeployTag(tag.path, commit.hexsha, datetime.fromtimestamp(stamp, timezone.utc)))
    found.sort(key=lambda t: (t.at, t.ref), reverse=True)
    return found


def mark(root: Path, commit: str, env: str, at: datetime | None = None, message: str | None = None) -> DeployTag:
    """Write the annotated deploy tag of ``commit`` (pushing it is the caller's)."""
    import git

    if not _ENV.match(env):
        raise SettingsError(f"--env {env!r}: use letters, digits, '.', '_' or '-' (e.g. prod, staging)")
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    name = f"{TAG_PREFIX}/{env}/{when.strftime('%Y%m%dT%H%M%SZ')}"
    with git.Repo(root) as repo:
        try:
            target = repo.commit(commit)
        except (git.BadName, ValueError):
            raise GitError(f"release mark: unknown commit {commit!r}: name a commit, branch or tag") from None
        if f"refs/tags/{name}" in {t.path for t in repo.tags}:
            raise GitError(f"release mark: tag {name} exists already: wait a second, or pass --date")
        text = message or f"deploy of {target.hexsha[:10]} to {env}"
        stamp = f"{int(when.timestamp())} +0000"
        try:
            with repo.git.custom_environment(GIT_COMMITTER_DATE=stamp):  # the tagger date is the deploy time
                repo.create_tag(name, ref=target, message=text)
        except git.GitCommandError as exc:
            raise GitError(f"release mark: git tag failed: {str(exc.stderr).strip() or exc}") from None
    return DeployTag(f"refs/tags/{name}", target.hexsha, when)
