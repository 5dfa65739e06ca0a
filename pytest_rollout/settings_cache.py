"""Validated settings, cached by the settings blob's hash, so the pre-push check skips pydantic.

Validating a settings file means importing pydantic and building its validators (~100 ms
of the ~200 ms a ``pytest-rollout check`` costs). A settings file changes rarely, and its
validated form is a function of its bytes and of this package's settings rules. So an
entry is keyed by the git blob id of the file (the work tree's bytes hashed as git would,
or the id in a commit's tree: no need to read the blob on a hit), by how the file is read
(``yaml``, ``toml``, ``pyproject``), and by a hash of ``settings.py`` itself (new rules,
new keys). Only files that validated are stored; a file that fails is validated again
each time, so its error message is always pydantic's.

The cache lives in the git dir (``.git/pytest-rollout/settings/``): per clone, never
committed, gone with the clone. Concurrent writers are safe (each writes a temporary file
beside the entry and renames it over, atomically); a corrupt, truncated or foreign entry
(its checksum or key does not match, it does not rebuild) is a miss, and is rewritten.
Whoever can write the git dir can already replace the repository's hooks, so an entry is
no new way to loosen the gate; CI starts from a fresh clone, with a cold cache.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any, Protocol, get_args, get_origin, get_type_hints


class _Digest(Protocol):
    def hexdigest(self) -> str: ...


def _hasher(name: str, *modules: str) -> Callable[[bytes], _Digest]:
    """CPython's built-in ``name`` from the first of ``modules`` that has it, else hashlib's: the same
    digests, but ``import hashlib`` loads OpenSSL, ~3 ms of a warm pre-push check (issue 19)."""
    for module in modules:
        try:
            found: Callable[[bytes], _Digest] = getattr(importlib.import_module(module), name)
            return found
        except (ImportError, AttributeError):
            continue
    import hashlib

    fallback: Callable[[bytes], _Digest] = getattr(hashlib, name)
    return fallback


_sha1 = _hasher("sha1", "_sha1")
_sha256 = _hasher("sha256", "_sha256", "_sha2")  # _sha2 since Python 3.12

_FORMAT = "1"
_FINGERPRINT: list[str] = []
NO_TABLE = "no-table"  # a pyproject.toml without [tool.pytest-rollout]: a valid answer, cached too


def blob_id(data: bytes) -> str:
    """The id git gives a blob with these bytes (sha-1 object format)."""
    return _sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _fingerprint() -> str:
    if not _FINGERPRINT:
        rules = Path(__file__).with_name("settings.py").read_bytes()
        _FINGERPRINT.append(_sha256(_FORMAT.encode() + b"\0" + rules).hexdigest())
    return _FINGERPRINT[0]


def _key(kind: str, blob: str) -> str:
    return _sha256(f"{_fingerprint()}\0{kind}\0{blob}".encode()).hexdigest()


def cache_dir(root: Path) -> Path | None:
    """``<git dir>/pytest-rollout/settings`` for the work tree at ``root``, found without running git."""
    dot = root / ".git"
    try:
        if dot.is_dir():
            return dot / "pytest-rollout" / "settings"
        line = dot.read_text(encoding="utf-8").strip()  # a linked worktree or submodule: "gitdir: PATH"
    except (OSError, UnicodeDecodeError):
        return None
    if not line.startswith("gitdir: "):
        return None
    return (root / line.removeprefix("gitdir: ")).resolve() / "pytest-rollout" / "settings"


def get(root: Path, kind: str, blob: str) -> Any:
    """The stored plain document (or ``NO_TABLE``), None on a miss or an entry that does not check out."""
    where = cache_dir(root)
    if where is None:
        return None
    key = _key(kind, blob)
    try:
        entry = json.loads((where / f"{key}.json").read_bytes())
        body = json.dumps(entry["value"], sort_keys=True)
        if entry["key"] != key or entry["check"] != _sha256(body.encode()).hexdigest():
            return None
        return entry["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put(root: Path, kind: str, blob: str, value: Any) -> None:
    """Store a validated plain document; any failure (read-only git dir, full disk) only loses the entry."""
    where = cache_dir(root)
    if where is None:
        return
    key = _key(kind, blob)
    body = json.dumps(value, sort_keys=True)
    text = json.dumps({"key": key, "check": _sha256(body.encode()).hexdigest(), "value": value})
    try:
        where.mkdir(parents=True, exist_ok=True)
        import tempfile  # a miss only: a warm check never writes

        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{key[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, where / f"{key}.json")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return


_HINTS: dict[type, dict[str, Any]] = {}


def rebuild(hint: Any, value: Any) -> Any:
    """Rebuild a cached plain document (``dataclasses.asdict``, through JSON) into the settings dataclasses."""
    if value is None:
        return None
    if isinstance(hint, type) and is_dataclass(hint):
        hints = _HINTS.get(hint) or _HINTS.setdefault(hint, get_type_hints(hint))
        return hint(**{k: rebuild(hints[k], v) for k, v in value.items()})
    origin, args = get_origin(hint), [a for a in get_args(hint) if a is not type(None)]
    if origin is tuple:
        return tuple(rebuild(args[0], v) for v in value)
    if origin is dict:
        return {str(k): rebuild(args[1], v) for k, v in value.items()}
    return rebuild(args[0], value) if args else value  # X | None: X
