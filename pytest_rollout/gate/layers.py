"""The layer map: which layer each changed file or key belongs to (pure).

Rules come from ``layers:`` in the settings (``files:`` globs and
``FILEGLOB:KEYPATH`` key rules) or from the built-in defaults below. The most
specific rule wins: a key rule beats a file rule, a longer literal pattern beats
a shorter one, and ties go to the rule declared first.

Globs: ``**`` crosses folders, ``*`` and ``?`` stay inside one; a pattern without
``/`` matches the file name at any depth (as in ``.gitignore``). Key paths are
dotted: ``*`` matches one key, ``**`` any number of keys (zero included),
``[*]`` any list element, and a segment with dots in it is quoted (``"a.b"``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_rollout.diff.formats import KeyPath, format_key, is_structured
from pytest_rollout.diff.redact import redact
from pytest_rollout.models import Change

if TYPE_CHECKING:
    from pytest_rollout.diff.changes import RawChange
    from pytest_rollout.settings import Settings


#: Built-in defaults: a key NAME (any depth; trailing ``*`` is a prefix) -> layer.
#: The segment nearest the leaf that names a known key decides, so
#: ``model.temperature`` is params and ``tools[name=search].description`` is tools.
DEFAULT_KEYS: dict[str, str] = {
    "batch_size": "infra",
    "max_batch_size": "infra",
    "timeout*": "infra",
    "max_concurrency": "infra",
    "concurrency": "infra",
    "replicas": "infra",
    "workers": "infra",
    "instance_type": "infra",
    "model": "model",
    "model_name": "model",
    "model_id": "model",
    "model_version": "model",
    "provider": "model",
    "quantization": "model",
    "temperature": "params",
    "top_p": "params",
    "max_tokens": "params",
    "max_output_tokens": "params",
    "frequency_penalty": "params",
    "presence_penalty": "params",
    "repetition_penalty": "params",
    "context_window": "context",
    "max_model_len": "context",
    "max_context_tokens": "context",
    "chunk_size": "context",
    "chunk_overlap": "context",
    "top_k": "context",
    "system_prompt": "prompt",
    "prompt*": "prompt",
    "few_shot*": "prompt",
    "tools": "tools",
    "functions": "tools",
    "tool_choice": "tools",
    "embedding_model": "tools",
}
#: Built-in defaults: whole files -> layer.
DEFAULT_FILES: dict[str, str] = {
    "**/prompts/**": "prompt",
    "*.prompt": "prompt",
    "*.j2": "prompt",
    "*.jinja": "prompt",
    "*.jinja2": "prompt",
}


@functools.lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob the way ``.gitignore`` reads one.

    ``**`` crosses folders, ``*``/``?`` stay in one; a pattern without ``/`` matches
    the name at any depth; a match on a folder covers everything in it (``prompts``,
    ``prompts/`` and ``./prompts/**`` all watch every file under ``prompts/``).
    """
    pat = pattern.strip()
    while pat.startswith("./"):
        pat = pat[2:]
    pat = pat.lstrip("/")
    folder_only = pat.endswith("/")
    pat = pat.rstrip("/")
    if "/" not in pat:
        pat = "**/" + pat
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pat.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pat[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pat[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pat[i]), i + 1
    return re.compile(out + (r"/.+" if folder_only else r"(?:/.+)?") + r"\Z")


def split_keypath(text: str) -> KeyPath:
    """``'a."b.c"[*].d'`` -> ``('a', 'b.c', '[*]', 'd')``; ``ValueError`` when malformed."""
    segs: list[str] = []
    buf, i, quoted = "", 0, False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif quoted:
            buf += ch
        elif ch == ".":
            if buf:
                segs.append(buf)
            buf = ""
        elif ch == "[":
            if buf:
                segs.append(buf)
            end = text.find("]", i)
            if end < 0:
                raise ValueError(f"key path {text!r}: '[' at position {i} is never closed")
            segs.append(text[i : end + 1])
            buf, i = "", end
        else:
            buf += ch
        i += 1
    if quoted:
        raise ValueError(f"key path {text!r}: a '\"' is never closed")
    if buf:
        segs.append(buf)
    if not segs:
        raise ValueError(f"key path {text!r} is empty")
    return tuple(segs)


def match_keypath(pattern: KeyPath, key: KeyPath) -> bool:
    return _match(pattern, 0, key, 0, {})


def _match(p: KeyPath, i: int, k: KeyPath, j: int, memo: dict[tuple[int, int], bool]) -> bool:
    if (i, j) in memo:
        return memo[(i, j)]
    if i == len(p):
        res = j == len(k)
    elif p[i] == "**":
        res = _match(p, i + 1, k, j, memo) or (j < len(k) and _match(p, i, k, j + 1, memo))
    else:
        res = j < len(k) and _segment(p[i], k[j]) and _match(p, i + 1, k, j + 1, memo)
    memo[(i, j)] = res
    return res


def _segment(pat: str, seg: str) -> bool:
    if pat == "[*]":
        return seg.startswith("[")
    if pat.startswith("[") or seg.startswith("["):
        return pat == seg
    return fnmatch.fnmatchcase(seg, pat)


def _literal_len(*parts: str) -> int:
    return sum(len(p) - p.count("*") - p.count("?") for p in parts)


@dataclass(frozen=True)
class Rule:
    layer: str
    file_glob: str
    key: KeyPath | None  # None: a file rule
    position: int  # declaration order, for ties

    @property
    def rank(self) -> tuple[int, int, int]:
        """Sort key: key rules first, then longer literal patterns, then declared first."""
        literal = _literal_len(self.file_glob, *(self.key or ()))
        return (0 if self.key is not None else 1, -literal, self.position)


class LayerMap:
    """Compiled rules; answers "is this file watched?" and "which layer is this change?"."""

    def __init__(self, rules: Sequence[Rule], use_defaults: bool) -> None:
        self.rules = sorted(rules, key=lambda r: r.rank)
        self.use_defaults = use_defaults
        self._user_watch = [glob_regex(r.file_glob) for r in rules]

    @classmethod
    def from_settings(cls, settings: Settings) -> LayerMap:
        rules: list[Rule] = []
        for name, rule in (settings.layers or {}).items():
            for glob in rule.files:
                rules.append(Rule(name, glob, None, len(rules)))
            for spec in rule.keys:
                glob, _, path = spec.partition(":")
                rules.append(Rule(name, glob.strip(), split_keypath(path.strip()), len(rules)))
        return cls(rules, settings.uses_defaults)

    def watches(self, path: str) -> bool:
        """Is this path AI config (read and diffed) at all?"""
        if self.user_watches(path):
            return True
        return self.use_defaults and (is_structured(path) or _default_file_layer(path) is not None)

    def user_watches(self, path: str) -> bool:
        """Does a rule of the settings' layer map name this path (defaults aside)?"""
        return any(rx.match(path) for rx in self._user_watch)

    def layer_of(self, path: str, key: KeyPath | None) -> str | None:
        for rule in self.rules:
            if not glob_regex(rule.file_glob).match(path):
                continue
            if rule.key is None or (key is not None and match_keypath(rule.key, key)):
                return rule.layer
        if self.use_defaults:
            return _default_file_layer(path) if key is None else default_key_layer(key)
        return None


def default_key_layer(key: KeyPath) -> str | None:
    for seg in reversed(key):
        if seg.startswith("["):
            continue
        for name, layer in DEFAULT_KEYS.items():
            if fnmatch.fnmatchcase(seg.lower(), name):
                return layer
    return None


def _default_file_layer(path: str) -> str | None:
    for glob, layer in DEFAULT_FILES.items():
        if glob_regex(glob).match(path):
            return layer
    return None


def classify(raw: Sequence[RawChange], lmap: LayerMap) -> tuple[list[Change], list[Change]]:
    """Name each raw change's layer; redact values. Returns (classified, unclassified)."""
    classified: list[Change] = []
    unclassified: list[Change] = []
    for rc in raw:
        layer = lmap.layer_of(rc.path, rc.key)
        if layer is None and rc.old_path:
            # A config renamed away from its rules still carries their keys: judge it where it was.
            layer = lmap.layer_of(rc.old_path, rc.key)
        change = to_change(rc, layer)
        (classified if layer else unclassified).append(change)
    # Under the built-in defaults every structured file is read; only files that
    # carry AI config (some change was classified) report their other keys.
    ai_files = {c.path for c in classified}
    opaque = {rc.path for rc in raw if rc.opaque}
    mapped = {rc.path for rc in raw if lmap.user_watches(rc.path) or (rc.old_path and lmap.user_watches(rc.old_path))}
    unclassified = [c for c in unclassified if c.path in ai_files or c.path in opaque or c.path in mapped]
    return classified, unclassified


def to_change(rc: RawChange, layer: str | None) -> Change:
    segs = rc.key or ()
    return Change(
        path=rc.path,
        key=format_key(rc.key) if rc.key is not None else None,
        layer=layer,
        kind=rc.kind,
        old=redact(rc.old, segs),
        new=redact(rc.new, segs),
        old_path=rc.old_path,
        line=rc.line,
    )


def layers_changed(changes: Iterable[Change]) -> list[str]:
    return sorted({c.layer for c in changes if c.layer})
