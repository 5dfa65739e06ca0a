"""The layer map: which layer each changed file or key belongs to (pure).

Rules come from ``layers:`` in the settings (``files:`` globs and
``FILEGLOB:KEYPATH`` key rules) or from the built-in defaults (``gate.defaults``). The most
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
from typing import TYPE_CHECKING

from pytest_rollout.diff.formats import KeyPath, format_key, printable
from pytest_rollout.diff.redact import redact, scrub_diff, scrub_name
from pytest_rollout.frozen import dataclass
from pytest_rollout.gate.defaults import default_file_layer, default_layer, default_watches
from pytest_rollout.gate.defaults import default_key_layer as default_key_layer  # re-exported
from pytest_rollout.models import Change

if TYPE_CHECKING:
    from pytest_rollout.diff.changes import RawChange
    from pytest_rollout.settings import Settings


_ANY_ONE = "\0one"  # a pattern element that matches exactly one path segment


class Glob:
    """A path glob read the way ``.gitignore`` reads one, matched in linear time.

    ``**`` crosses folders, ``*``/``?`` stay in one; a pattern without ``/`` matches
    the name at any depth; a match on a folder covers everything in it (``prompts``,
    ``prompts/`` and ``./prompts/**`` all watch every file under ``prompts/``). A ``**``
    inside a name (``a**b``) is a ``*``, as in ``.gitignore``.

    Matching runs segment by segment over the set of live pattern positions (an NFA),
    never by backtracking: a pattern with several ``**`` against a long path costs
    (pattern segments) x (path segments) name matches, each linear in the name.
    """

    def __init__(self, pattern: str) -> None:
        pat = pattern.strip()
        while pat.startswith("./"):
            pat = pat[2:]
        pat = pat.lstrip("/")
        self.folder_only = pat.endswith("/")
        pat = pat.rstrip("/")
        if "/" not in pat:
            pat = "**/" + pat
        segs: list[str] = []
        for seg in pat.split("/"):
            if seg != "**" and "**" in seg:
                seg = re.sub(r"\*{2,}", "*", seg)
            if not (seg == "**" and segs and segs[-1] == "**"):
                segs.append(seg)
        if segs[-1] == "**" and len(segs) > 1:  # a trailing ``/**``: one or more segments below
            segs[-1:] = [_ANY_ONE, "**"]
        self.segs = tuple(segs)
        self._cache: dict[str, bool] = {}
        # Cheap answers before the NFA (issue 19: the defaults' ~90 globs ran it for every changed path).
        # Every literal segment must be some name of the path; ``**/NAME`` is "some name matches NAME".
        self._literals = frozenset(s for s in segs if s not in ("**", _ANY_ONE) and "*" not in s and "?" not in s)
        self._anywhere = segs[1] if len(segs) == 2 and segs[0] == "**" and segs[1] != _ANY_ONE else None

    def _closure(self, states: set[int]) -> set[int]:
        out = set(states)
        for i in sorted(states):
            while i < len(self.segs) and self.segs[i] == "**":
                i += 1
                out.add(i)
        return out

    def _step(self, states: set[int], name: str) -> set[int]:
        nxt: set[int] = set()
        for i in states:
            if i == len(self.segs):
                continue
            seg = self.segs[i]
            if seg == "**":
                nxt.add(i)
            elif seg == _ANY_ONE or name_match(seg, name):
                nxt.add(i + 1)
        return self._closure(nxt)

    def match(self, path: str) -> bool:
        hit = self._cache.get(path)
        if hit is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            hit = self._cache[path] = self._match(path)
        return hit

    def _match(self, path: str) -> bool:
        parts = path.split("/")
        if not self._literals.issubset(parts):
            return False
        if self._anywhere is not None:  # a folder matched covers what is in it; the last name only a file
            return any(name_match(self._anywhere, name) for name in parts[:-1]) or (
                not self.folder_only and name_match(self._anywhere, parts[-1])
            )
        return self._run(parts)

    def _run(self, parts: list[str]) -> bool:
        """The NFA itself (tests check the shortcuts above against it)."""
        end = len(self.segs)
        states = self._closure({0})
        for k, name in enumerate(parts):
            if k and end in states:
                return True  # a folder matched: everything in it is covered
            states = self._step(states, name)
            if not states:
                return False
        return end in states and not self.folder_only

    def could_contain(self, folder: str) -> bool:
        """Could some path inside ``folder/`` match (a submodule's files, unseen)?"""
        states = self._closure({0})
        for name in folder.split("/"):
            if len(self.segs) in states:
                return True
            states = self._step(states, name)
        return bool(states)


@functools.lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Glob:
    return Glob(pattern)


def name_match(pat: str, name: str) -> bool:
    """``*`` and ``?`` within one path segment; everything else literal. Greedy with one
    backtrack point (the last ``*``), so at most len(pat) x len(name) steps."""
    if "*" not in pat and "?" not in pat:
        return pat == name
    if pat[0] == "*" and "*" not in pat[1:] and "?" not in pat:
        return name.endswith(pat[1:])  # ``*.py``, the common shape
    return _name_scan(pat, name)


def _name_scan(pat: str, name: str) -> bool:
    i = j = 0
    star, mark = -1, 0
    while j < len(name):
        if i < len(pat) and pat[i] == "*":
            star, mark, i = i, j, i + 1
        elif i < len(pat) and (pat[i] == "?" or pat[i] == name[j]):
            i, j = i + 1, j + 1
        elif star >= 0:
            mark += 1
            i, j = star + 1, mark
        else:
            return False
    while i < len(pat) and pat[i] == "*":
        i += 1
    return i == len(pat)


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
        self._user_watch = [compile_glob(r.file_glob) for r in rules]

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
        """Is this path AI config (read and diffed) at all? A path ending in ``/`` is a folder (a submodule)."""
        if path.endswith("/"):
            return self.watches_inside(path.rstrip("/"))
        if self.user_watches(path):
            return True
        return self.use_defaults and default_watches(path)

    def user_watches(self, path: str) -> bool:
        """Does a rule of the settings' layer map name this path (defaults aside)?"""
        return any(glob.match(path) for glob in self._user_watch)

    def watches_inside(self, folder: str) -> bool:
        """Could a watched file be inside ``folder`` (a submodule, whose files are not in this repo)?"""
        return bool(self.layers_inside(folder))

    def layers_inside(self, folder: str) -> list[str]:
        """Every layer a rule could give a file inside ``folder``: a submodule bump moves them all."""
        found = [r.layer for r in self.rules if compile_glob(r.file_glob).could_contain(folder)]
        if self.use_defaults:
            # The defaults' folder signals name the folder itself (prompts/, deploy/, ...): probe files in it.
            probes = (default_file_layer(f"{folder}/{name}") for name in ("x", "x.json", "x.yaml"))
            found += [layer for layer in probes if layer is not None]
        return list(dict.fromkeys(found))

    def layer_of(self, path: str, key: KeyPath | None) -> str | None:
        for rule in self.rules:
            if not compile_glob(rule.file_glob).match(path):
                continue
            if rule.key is None or (key is not None and match_keypath(rule.key, key)):
                return rule.layer
        if self.use_defaults:
            return default_layer(path, key)
        return None


def classify(raw: Sequence[RawChange], lmap: LayerMap) -> tuple[list[Change], list[Change]]:
    """Name each raw change's layer; redact values. Returns (classified, unclassified)."""
    classified: list[Change] = []
    unclassified: list[Change] = []
    for rc in raw:
        if rc.submodule:
            # Its files are not in this repository: the bump is a change of every layer a rule
            # could give a file inside it.
            inside = lmap.layers_inside(rc.path)
            classified += [to_change(rc, name) for name in inside]
            unclassified += [] if inside else [to_change(rc, None)]
            continue
        layer = lmap.layer_of(rc.path, rc.key)
        if layer is None and rc.members:
            # A reorder of a list: the layer of its elements.
            layer = next((found for m in rc.members if (found := lmap.layer_of(rc.path, m))), None)
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
        path=printable(rc.path),
        key=scrub_name(format_key(rc.key)) if rc.key is not None else None,  # {ghp_...: true}
        layer=layer,
        kind=rc.kind,
        old=redact(rc.old, segs),
        new=redact(rc.new, segs),
        old_path=printable(rc.old_path) if rc.old_path is not None else None,
        line=rc.line,
        diff=_safe_diff(rc),
    )


def _safe_diff(rc: RawChange) -> str | None:
    """The whole-file diff, redacted (``scrub_diff``) and with each line escaped (``printable``)."""
    diff = scrub_diff(rc.path, rc.diff) if rc.diff is not None else None
    return "\n".join(printable(line) for line in diff.split("\n")) if diff is not None else None


def layers_changed(changes: Iterable[Change]) -> list[str]:
    return sorted({c.layer for c in changes if c.layer})
