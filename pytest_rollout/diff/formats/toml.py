"""TOML: the one tomllib shim (``settings`` reads ``pyproject.toml`` with it too) and a line scanner."""

from __future__ import annotations

import re
import sys
from typing import Any

from pytest_rollout.diff.formats.common import (
    LONG_INT,
    ConfigSyntaxError,
    KeyPath,
    Parsed,
    line_at,
    nearest_line,
    plain,
    short,
)
from pytest_rollout.diff.formats.flat import flatten_plain, index_form


def toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def parse_toml(path: str, text: str) -> Parsed:
    tomllib = toml_module()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigSyntaxError(path, *_toml_error(exc, text)) from exc
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise ConfigSyntaxError(
            path, line_at(text, LONG_INT.search(text)), f"cannot read a number ({short(exc)})"
        ) from None
    tree = plain(doc)
    values = flatten_plain(tree)
    found = _toml_scan(text)
    return Parsed(values, {p: nearest_line(found, index_form(tree, p)) for p in values})


def _toml_error(exc: Exception, text: str) -> tuple[int, str]:
    lineno = getattr(exc, "lineno", None)
    if lineno is not None:  # Python >= 3.14 keeps the position as attributes
        return int(lineno), f"{getattr(exc, 'msg', exc)} (column {getattr(exc, 'colno', '?')})"
    message = str(exc)
    m = _TOML_POSITION.search(message)
    what = message[: m.start()] if m else message
    if m and m.group(1):
        return int(m.group(1)), f"{what} (column {m.group(2)})"
    return text.count("\n") + 1, f"{what} (at end of document)"


_TOML_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\')'
_TOML_DOTTED = rf"{_TOML_PART}(?:\s*\.\s*{_TOML_PART})*"
_TOML_HEADER = re.compile(rf"\s*(\[\[?)\s*({_TOML_DOTTED})\s*\]")
_TOML_ASSIGN = re.compile(rf"\s*({_TOML_DOTTED})\s*=\s*(.*)")


def _toml_scan(text: str) -> dict[KeyPath, int]:
    """Best-effort ``{index-form path: line}`` for tables, array-of-table elements and keys.

    tomllib keeps no positions; a line scanner that follows headers is enough
    to point a reviewer at the right line.
    """
    found: dict[KeyPath, int] = {}
    counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    closing: str | None = None  # the delimiter of an open multi-line string
    for lineno, line in enumerate(text.splitlines(), 1):
        if closing is not None:
            closing = None if closing in line else closing
            continue
        header = _TOML_HEADER.match(line)
        assign = None if header else _TOML_ASSIGN.match(line)
        if header:
            table = _toml_table(header.group(1) == "[[", _toml_split(header.group(2)), counts)
            found.setdefault(table, lineno)
        elif assign:
            found[table + _toml_split(assign.group(1))] = lineno
            closing = _open_multiline(assign.group(2))
    return found


def _toml_table(is_array: bool, parts: KeyPath, counts: dict[KeyPath, int]) -> KeyPath:
    resolved: list[str] = []
    for part in parts[:-1] if is_array else parts:
        resolved.append(part)
        if tuple(resolved) in counts:
            resolved.append(f"[{counts[tuple(resolved)] - 1}]")
    if not is_array:
        return tuple(resolved)
    key = (*resolved, parts[-1])
    counts[key] = counts.get(key, 0) + 1
    return (*key, f"[{counts[key] - 1}]")


def _toml_split(dotted: str) -> KeyPath:
    parts = re.findall(_TOML_PART, dotted)
    return tuple(_toml_unquote(p) for p in parts)


def _toml_unquote(part: str) -> str:
    if part.startswith("'"):
        return part[1:-1]
    if part.startswith('"'):
        return re.sub(r"\\(.)", r"\1", part[1:-1])
    return part


def _open_multiline(rest: str) -> str | None:
    for delim in ('"""', "'''"):
        if rest.startswith(delim) and rest.count(delim) == 1:
            return delim
    return None
