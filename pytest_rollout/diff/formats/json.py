"""JSON, JSON with comments (JSONC) and trailing commas: parsed with the standard library, lines from the YAML composer."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from pytest_rollout.diff.formats.common import (
    LONG_INT,
    ConfigSyntaxError,
    KeyPath,
    Parsed,
    complete_lines,
    line_at,
    plain,
    short,
)
from pytest_rollout.diff.formats.flat import flatten_plain
from pytest_rollout.diff.formats.keys import LIST_SEGMENT
from pytest_rollout.diff.formats.yaml import ConfigLoader, node_lines


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json(path: str, text: str) -> Parsed:
    if "//" in text or "/*" in text or path.lower().endswith(".jsonc"):
        # JSON with comments (VS Code-style .json, .jsonc): blanked out, so lines and columns hold.
        text = _strip_jsonc(text)
    try:
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError:
            if not _TRAILING_COMMA.search(text):
                raise
            # A trailing comma (``[1, 2,]``) has one meaning, and the JSON5/JSONC readers that
            # projects use (Aider's model metadata, VS Code settings) take it: read, not refused.
            text = _strip_jsonc(text)
            doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigSyntaxError(path, exc.lineno, f"{exc.msg} (column {exc.colno})") from exc
    except _DuplicateKey as exc:
        line = _json_key_line(text, exc.key, 2)
        raise ConfigSyntaxError(path, line, f"duplicate key {exc.key!r}: keep one") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise ConfigSyntaxError(
            path, line_at(text, LONG_INT.search(text)), f"cannot read a number ({short(exc)})"
        ) from None
    tree = plain(doc)
    _refuse_surrogates(path, text, tree)
    values = flatten_plain(tree)
    return Parsed(values, _json_lines(text, tree, values))


def _json_lines(text: str, plain: Any, values: dict[KeyPath, Any]) -> dict[KeyPath, int]:
    """Lines from the YAML composer's marks (JSON is nearly YAML), else a key-name scan."""
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        # json.loads accepted the text, so only the line lookup degrades here.
        return _json_scan_lines(text, values)
    finally:
        loader.dispose()
    if node is None:
        return complete_lines(values, {})
    return complete_lines(values, node_lines(node, plain, lambda k: str(k.value)))


_JSONC_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[\]}])', re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*[\]}]")


def _strip_jsonc(text: str) -> str:
    """Comments and trailing commas blanked out; strings and line numbers kept."""

    def blank(m: re.Match[str]) -> str:
        token = m.group(0)
        if token.startswith('"'):
            return token
        return re.sub(r"[^\n]", " ", token)

    return _JSONC_TOKEN.sub(blank, text)


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def _json_key_line(text: str, key: str, nth: int) -> int:
    """The line of the ``nth`` ``"key":`` in the text (1 when not found: escapes differ)."""
    count = 0
    for m in _JSON_KEY.finditer(text):
        try:
            name = json.loads(f'"{m.group(1)}"')
        except ValueError:
            continue
        if name == key:
            count += 1
            if count == nth:
                return line_at(text, m)
    return 1


def _refuse_surrogates(path: str, text: str, plain: Any) -> None:
    """``"\\ud800"`` is valid JSON but not Unicode: no output could print or encode it."""
    if "\\u" not in text and not _SURROGATE.search(text):
        return
    try:
        json.dumps(plain, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        line = line_at(text, _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text))
        raise ConfigSyntaxError(
            path, line, "a lone surrogate (\\ud800-\\udfff) is not Unicode text: remove it"
        ) from None


def _json_scan_lines(text: str, values: dict[KeyPath, Any]) -> dict[KeyPath, int]:
    first: dict[str, int] = {}
    for m in _JSON_KEY.finditer(text):
        first.setdefault(m.group(1), text.count("\n", 0, m.start()) + 1)
    lines: dict[KeyPath, int] = {}
    for path in values:
        names = [seg for seg in path if not LIST_SEGMENT.fullmatch(seg)]
        lines[path] = first.get(names[-1], 1) if names else 1
    return lines
