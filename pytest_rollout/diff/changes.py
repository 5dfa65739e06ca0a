"""What moved between two commits, key by key: the answer every later step rests on.

Two git processes, whatever the size of the repository or the length of its
history: one ``git diff-tree -r -z -M`` (modes, blob shas and statuses of the
changed paths) and one ``git cat-file --batch`` for the watched blobs of both
sides. Structured files are parsed and compared as flattened key paths
(``parsers``), so formatting is never a change; anything else is compared
whole. Nothing is read from the work tree: a symlink is its target text, a
submodule its commit sha.

``diff-tree`` rather than ``git diff``: it is the plumbing form of the same
comparison and ignores porcelain configuration (``diff.external``,
``diff.ignoreSubmodules``, ...) that would change what a user's machine sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_rollout.diff import git as gitio
from pytest_rollout.diff.formats import ConfigSyntaxError, KeyPath, Parsed, format_key, is_structured, parse
from pytest_rollout.diff.gcpause import paused_gc
from pytest_rollout.errors import GitError
from pytest_rollout.frozen import dataclass

if TYPE_CHECKING:  # models loads pydantic: the pre-push path reads the kind as a name only
    from pytest_rollout.models import Kind

_REGULAR = ("100644", "100755")
_SYMLINK = "120000"
_GITLINK = "160000"
_BINARY_PROBE = 8000  # git's own heuristic: a NUL byte in the first 8000 bytes


@dataclass(frozen=True)
class RawChange:
    """One change before classification and redaction (values are raw)."""

    path: str  # head path (base path for deletions), POSIX
    key: KeyPath | None  # None = whole-file change
    kind: Kind
    old: Any  # raw value; for whole-file changes a short descriptor
    new: Any
    old_path: str | None = None  # for renames
    line: int | None = None  # 1-based, head file (base file for deletions); 1 for whole files
    opaque: bool = False  # a structured file that could not be compared key by key (binary, too big, a link)
    seen_keys: tuple[KeyPath, ...] = ()  # for an opaque change: the keys of the side that could be read
    submodule: bool = False  # a gitlink (submodule commit) changed: its files are not in this repository
    members: tuple[KeyPath, ...] = ()  # for a reorder of a list (``key`` is the list): its elements' keys
    diff: str | None = None  # a whole-file text change: its unified diff (raw: redacted in to_change)


@dataclass(frozen=True)
class DiffOutput:
    changes: list[RawChange]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Side:
    """One side of a diff entry: where the object is, its mode and its sha."""

    path: str
    mode: str
    sha: str


@dataclass(frozen=True)
class _Entry:
    status: str  # A, C, D, M, R, T
    old: _Side | None
    new: _Side | None


# --------------------------------------------------------------------------- values


def diff_values(old: dict[KeyPath, Any], new: dict[KeyPath, Any]) -> list[tuple[KeyPath, Kind, Any, Any]]:
    """Key-level changes from one flattening to another.

    A changed type is a change (``"8"`` -> ``8``, ``1`` -> ``True``, ``1`` ->
    ``1.0``), though one float written two ways (``1.0``, ``1.00``) is not.
    Deletions and modifications come in ``old``'s order, additions in ``new``'s.
    """
    out: list[tuple[KeyPath, Kind, Any, Any]] = []
    for key, value in old.items():
        if key not in new:
            out.append((key, "deleted", value, None))
        elif not same_value(value, new[key]):
            out.append((key, "modified", value, new[key]))
    out.extend((key, "added", None, value) for key, value in new.items() if key not in old)
    return out


def same_value(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (Python's ``1 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


# --------------------------------------------------------------------------- commits


def diff_commits(
    repo: Path,
    base: str,
    head: str,
    watched: Callable[[str], bool],
    *,
    max_bytes: int = 1_048_576,
) -> DiffOutput:
    """Semantic changes of the watched files between two resolved commits (or trees).

    Raises ``ConfigParseError`` when a watched structured file cannot be parsed
    at head (the gate must not guess); a base that cannot be parsed is a
    warning and a whole-file change.
    """
    entries = [e for e in _diff_tree(repo, base, head) if _is_watched(e, watched)]
    blobs = gitio.read_blobs(repo, _blob_shas(entries), max_bytes)
    differ = _Differ(blobs, max_bytes)
    with paused_gc():  # parse time linear in file size (diff/gcpause.py)
        changes = [change for entry in entries for change in differ.entry(entry)]
    return DiffOutput(sorted(changes, key=_order), differ.warnings)


def _order(change: RawChange) -> tuple[str, str, str]:
    return (change.path, "" if change.key is None else format_key(change.key), change.kind)


def _diff_tree(repo: Path, base: str, head: str) -> list[_Entry]:
    out = gitio.run_git(repo, "diff-tree", "-r", "-z", "-M", "--no-commit-id", "--raw", base, head)
    return _parse_raw_diff(out)


def _parse_raw_diff(out: bytes) -> list[_Entry]:
    """Parse ``--raw -z`` output: ``:<mode> <mode> <sha> <sha> <status>\\0<path>\\0[<path>\\0]``."""
    tokens = out.split(b"\0")
    entries: list[_Entry] = []
    i = 0
    while i < len(tokens) and tokens[i]:
        old_mode, new_mode, old_sha, new_sha, status = tokens[i].decode("ascii").lstrip(":").split(" ")
        letter = status[:1]
        n_paths = 2 if letter in ("R", "C") else 1
        paths = [t.decode("utf-8", "surrogateescape") for t in tokens[i + 1 : i + 1 + n_paths]]
        i += 1 + n_paths
        if letter not in ("A", "C", "D", "M", "R", "T") or len(paths) != n_paths:
            raise GitError(f"unexpected git diff-tree entry {status!r} for {paths}: cannot decide what changed")
        old = _Side(paths[0], old_mode, old_sha) if letter not in ("A", "C") else None
        new = _Side(paths[-1], new_mode, new_sha) if letter != "D" else None
        entries.append(_Entry(letter, old, new))
    return entries


def _is_watched(entry: _Entry, watched: Callable[[str], bool]) -> bool:
    sides = (entry.old, entry.new) if entry.status == "R" else (entry.new or entry.old,)
    return any(side is not None and watched(_watch_path(side)) for side in sides)


def _watch_path(side: _Side) -> str:
    """A submodule is asked about as a folder (``prompts/``): the files a rule watches are inside it."""
    return side.path + "/" if side.mode == _GITLINK else side.path


def _blob_shas(entries: Iterable[_Entry]) -> list[str]:
    """Both sides' objects, except submodule commits (not in this repository's odb)."""
    return [
        side.sha for entry in entries for side in (entry.old, entry.new) if side is not None and side.mode != _GITLINK
    ]


class _Differ:
    """Turns diff entries into ``RawChange``s, given the blobs already read."""

    def __init__(self, blobs: dict[str, gitio.Blob], max_bytes: int) -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.warnings: list[str] = []

    def entry(self, entry: _Entry) -> list[RawChange]:
        return [replace(c, submodule=True) if _is_gitlink(entry) and c.key is None else c for c in self._entry(entry)]

    def _entry(self, entry: _Entry) -> list[RawChange]:
        old, new = entry.old, entry.new
        if entry.status in ("A", "C") and new is not None:
            return self.added(new)
        if entry.status == "D" and old is not None:
            return self.deleted(old)
        if old is None or new is None:  # pragma: no cover - _parse_raw_diff guarantees both
            raise GitError(f"diff entry {entry} is missing a side")
        if entry.status == "R":
            return self.renamed(old, new)
        if entry.status == "T":
            return self.type_changed(old, new)
        return self.modified(old, new)

    # -- one method per kind of entry

    def added(self, new: _Side) -> list[RawChange]:
        parsed = self.load(new, at_head=True)
        if isinstance(parsed, Parsed) and parsed.values:
            return [
                RawChange(new.path, key, "added", None, value, line=parsed.lines.get(key))
                for key, value in parsed.values.items()
            ]
        change = _whole(new.path, "added", None, self.describe(new), opaque=parsed is None and is_structured(new.path))
        return [replace(change, diff=self.text_diff(None, new))]

    def deleted(self, old: _Side) -> list[RawChange]:
        parsed = self.load(old, at_head=False)
        if isinstance(parsed, Parsed) and parsed.values:
            return [
                RawChange(old.path, key, "deleted", value, None, line=parsed.lines.get(key))
                for key, value in parsed.values.items()
            ]
        change = _whole(
            old.path, "deleted", self.describe(old), None, opaque=parsed is None and is_structured(old.path)
        )
        return [replace(change, diff=self.text_diff(old, None))]

    def modified(self, old: _Side, new: _Side) -> list[RawChange]:
        if old.sha == new.sha and not is_structured(new.path):
            return []  # a mode change (chmod +x): no content moved
        return self.content(old, new)

    def renamed(self, old: _Side, new: _Side) -> list[RawChange]:
        if not (is_structured(old.path) and is_structured(new.path)):
            change = _whole(new.path, "renamed", self.describe(old), self.describe(new), old.path)
            return [replace(change, diff=self.text_diff(old, new))]
        moved = _whole(new.path, "renamed", old.path, new.path, old.path)
        return [moved, *self.content(old, new)]

    def type_changed(self, old: _Side, new: _Side) -> list[RawChange]:
        after = self.load(new, at_head=True)  # a malformed config at head fails closed, whatever it was before
        before = self.load(old, at_head=False)
        opaque = is_structured(old.path) or is_structured(new.path)
        seen = tuple(side.values) if isinstance(side := before or after, Parsed) else ()
        return [
            replace(_whole(new.path, "modified", self.describe(old), self.describe(new), opaque=opaque), seen_keys=seen)
        ]

    def content(self, old: _Side, new: _Side) -> list[RawChange]:
        """Key-level changes when both sides parse; one whole-file change otherwise."""
        old_path = old.path if old.path != new.path else None
        after = self.load(new, at_head=True)  # head first: its error wins over a base warning
        before = self.load(old, at_head=False)
        if isinstance(before, Parsed) and isinstance(after, Parsed):
            return _key_changes(new.path, old_path, before, after)
        if old.sha == new.sha and old.mode == new.mode:
            return []
        if before is None and isinstance(after, Parsed) and after.values:
            # The base cannot be read (malformed, binary, over the cap): every key at head
            # counts as changed, so each lands in its own layer and the gate still decides.
            return [
                RawChange(new.path, key, "modified", UNREADABLE_AT_BASE, value, old_path, after.lines.get(key))
                for key, value in after.values.items()
            ]
        opaque = is_structured(new.path)
        seen = tuple(side.values) if isinstance(side := before or after, Parsed) else ()
        change = _whole(new.path, "modified", self.describe(old), self.describe(new), old_path, opaque=opaque)
        return [replace(change, seen_keys=seen, diff=self.text_diff(old, new))]

    # -- reading one side

    def load(self, side: _Side, *, at_head: bool) -> Parsed | None:
        """The parsed side, or None when it is compared whole (not structured, binary, too big, a link).

        At head a parse error raises; at base it becomes a warning and None.
        """
        if side.mode not in _REGULAR or not is_structured(side.path):
            return None
        blob = self.blob(side)
        if blob.data is None or _is_binary(blob.data):
            return None
        try:
            parsed = parse(side.path, blob.data)
        except ConfigSyntaxError as exc:
            if _is_template(blob.data):
                return None  # a Helm/Jinja template of YAML is text until rendered: compared whole
            if at_head:
                raise ConfigSyntaxError(exc.path, exc.line, exc.what, _head_message(exc)) from exc
            self.warnings.append(
                f"{side.path}: cannot parse at base (line {exc.line}: {exc.what}); its keys at base are unknown"
            )
            return None
        # A scalar (or a list of scalars) at the root, e.g. a Git LFS pointer: nothing to read key by key.
        return None if () in parsed.values else parsed

    def blob(self, side: _Side) -> gitio.Blob:
        blob = self.blobs.get(side.sha)
        if blob is None or blob.sha is None:
            raise GitError(
                f"{side.path}: object {side.sha} is missing from the repository "
                "(partial or shallow clone?): fetch it (e.g. fetch-depth: 0) and retry"
            )
        return blob

    def text_diff(self, old: _Side | None, new: _Side | None) -> str | None:
        """The unified diff of two regular text files (a missing side is empty), else None."""
        sides = [s for s in (old, new) if s is not None]
        if any(s.mode not in _REGULAR for s in sides):
            return None
        a = self.blob(old).data if old is not None else b""
        b = self.blob(new).data if new is not None else b""
        from pytest_rollout.diff import textdiff  # difflib: only when a whole text file changed

        return textdiff.unified(sides[0].path, sides[-1].path, a, b)

    def describe(self, side: _Side) -> str:
        """What a whole-file change shows for one side: never the content itself."""
        if side.mode == _GITLINK:
            return side.sha
        blob = self.blob(side)
        if side.mode == _SYMLINK:
            return "-> " + (blob.data or b"").decode("utf-8", "replace")
        return _describe_blob(blob, self.max_bytes)


#: The ``old`` value of a key whose base file could not be read.
UNREADABLE_AT_BASE = "(unreadable at base)"


def _describe_blob(blob: gitio.Blob, max_bytes: int) -> str:
    """``"<sha7> (N lines)"``, ``"<sha7> (binary, N bytes)"`` or the over-cap form."""
    sha7 = (blob.sha or "")[:7]
    if blob.data is None:
        return f"{sha7} ({blob.size} bytes, over {max_bytes}-byte cap, not parsed)"
    if _is_binary(blob.data):
        return f"{sha7} (binary, {blob.size} bytes)"
    n = blob.data.count(b"\n") + (0 if not blob.data or blob.data.endswith(b"\n") else 1)
    return f"{sha7} ({n} line{'' if n == 1 else 's'})"


def _key_changes(path: str, old_path: str | None, before: Parsed, after: Parsed) -> list[RawChange]:
    out = []
    for key, kind, old, new in diff_values(before.values, after.values):
        line = (before if kind == "deleted" else after).lines.get(key)
        out.append(RawChange(path, key, kind, old, new, old_path, line))
    return out + _reorders(path, old_path, before, after)


def _reorders(path: str, old_path: str | None, before: Parsed, after: Parsed) -> list[RawChange]:
    """Identity-matched lists (``[name=a]``) whose common elements changed order: order is
    semantic (a fallback chain, few-shot examples), so a swap is a change of the list."""
    old_order, new_order = _identity_orders(before.values), _identity_orders(after.values)
    out = []
    for prefix, segs in new_order.items():
        was = old_order.get(prefix)
        if was is None or (not prefix and (before.documents or after.documents)):
            continue
        common = set(was) & set(segs)
        old_seq, new_seq = [s for s in was if s in common], [s for s in segs if s in common]
        if old_seq != new_seq:
            members = tuple(k for k in after.values if k[: len(prefix) + 1] in {(*prefix, s) for s in common})
            line = after.lines.get(members[0]) if members else None
            out.append(RawChange(path, prefix, "modified", old_seq, new_seq, old_path, line, members=members))
    return out


def _identity_orders(values: dict[KeyPath, Any]) -> dict[KeyPath, list[str]]:
    """``{list path: its identity segments in document order}`` from a flattening."""
    orders: dict[KeyPath, dict[str, None]] = {}
    for key in values:
        for i, seg in enumerate(key):
            if seg.startswith("[") and "=" in seg:
                orders.setdefault(key[:i], {})[seg] = None
    return {prefix: list(segs) for prefix, segs in orders.items()}


def _is_gitlink(entry: _Entry) -> bool:
    return any(side is not None and side.mode == _GITLINK for side in (entry.old, entry.new))


def _is_template(data: bytes) -> bool:
    """Go/Helm or Jinja directives: ``{{ ... }}`` or ``{% ... %}``."""
    return (b"{{" in data and b"}}" in data) or (b"{%" in data and b"%}" in data)


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_PROBE]


def _whole(
    path: str, kind: Kind, old: Any, new: Any, old_path: str | None = None, *, opaque: bool = False
) -> RawChange:
    return RawChange(path, None, kind, old, new, old_path, 1, opaque)


def _head_message(exc: ConfigSyntaxError) -> str:
    return f"{exc.path}:{exc.line}: {exc.what}; fix the file or revert it"


# --------------------------------------------------------------------------- one commit


def read_tree_configs(
    repo: Path, commit: str, watched: Callable[[str], bool], *, max_bytes: int = 1_048_576
) -> dict[str, Parsed | str]:
    """Every watched file at ``commit``: ``Parsed`` for structured files, else the blob sha.

    Feeds per-layer fingerprints. A structured file that is binary or over the
    cap is fingerprinted by its blob sha (its bytes are all that can be known);
    one that does not parse raises ``ConfigParseError``, as at head in
    ``diff_commits``: a fingerprint must not silently stand for unreadable config.
    """
    sides = [s for s in _ls_tree(repo, commit) if watched(s.path)]
    to_parse = [s for s in sides if s.mode in _REGULAR and is_structured(s.path)]
    blobs = gitio.read_blobs(repo, (s.sha for s in to_parse), max_bytes)
    result: dict[str, Parsed | str] = {s.path: s.sha for s in sides}
    for side in to_parse:
        data = blobs[side.sha].data
        if data is not None and not _is_binary(data):
            try:
                result[side.path] = _parse_at(side, data, commit)
            except ConfigSyntaxError:
                if not _is_template(data):
                    raise  # a template stays fingerprinted by its blob sha
    return result


def _ls_tree(repo: Path, commit: str) -> list[_Side]:
    out = gitio.run_git(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    sides: list[_Side] = []
    for record in out.split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            mode, _type, sha = meta.decode("ascii").split(" ")
            sides.append(_Side(name.decode("utf-8", "surrogateescape"), mode, sha))
    return sides


def _parse_at(side: _Side, data: bytes, commit: str) -> Parsed:
    try:
        return parse(side.path, data)
    except ConfigSyntaxError as exc:
        message = f"{exc.path}:{exc.line}: {exc.what} (at {commit[:12]}); fix the file or revert it"
        raise ConfigSyntaxError(exc.path, exc.line, exc.what, message) from exc
