""".env files: ``KEY=VALUE`` lines, optionally exported, quoted values that may span lines."""

from __future__ import annotations

import re
from typing import Any

from pytest_rollout.diff.formats.common import ConfigSyntaxError, KeyPath, Parsed

_ENV_ASSIGN = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=(.*)", re.DOTALL)
_ENV_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_env(path: str, text: str) -> Parsed:
    """``KEY=VALUE`` lines (optional ``export``); quoted values may span lines."""
    values: dict[KeyPath, Any] = {}
    lines: dict[KeyPath, int] = {}
    rows = text.splitlines()
    i = 0
    while i < len(rows):
        lineno, row = i + 1, rows[i]
        i += 1
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        m = _ENV_ASSIGN.fullmatch(row)
        if m is None:
            # Never echo the line: it is likely KEY=secret with a typo.
            raise ConfigSyntaxError(path, lineno, "expected KEY=VALUE (optionally prefixed by 'export ')")
        value, used = _env_value(path, lineno, m.group(2), rows[i:])
        i += used
        if (m.group(1),) in values:
            first = lines[(m.group(1),)]
            raise ConfigSyntaxError(path, lineno, f"duplicate key {m.group(1)} (first at line {first}): keep one")
        values[(m.group(1),)] = value
        lines[(m.group(1),)] = lineno
    return Parsed(values, lines)


def _env_value(path: str, lineno: int, raw: str, following: list[str]) -> tuple[str, int]:
    """The value after ``=`` and how many following lines a quoted value consumed."""
    body = raw.lstrip()
    if body[:1] in ("'", '"'):
        return _env_quoted(path, lineno, body, following)
    if body.startswith("#") and body is not raw:
        return "", 0  # ``KEY= # comment``
    return re.split(r"\s#", body, maxsplit=1)[0].rstrip(), 0


def _env_quoted(path: str, lineno: int, body: str, following: list[str]) -> tuple[str, int]:
    quote, text, used = body[0], body[1:], 0
    while True:
        end = _closing_quote(text, quote)
        if end is not None:
            break
        if used == len(following):
            raise ConfigSyntaxError(path, lineno, f"unterminated {quote}-quoted value")
        text += "\n" + following[used]
        used += 1
    rest = text[end + 1 :].strip()
    if rest and not rest.startswith("#"):
        raise ConfigSyntaxError(path, lineno + used, "unexpected text after a quoted value")
    inner = text[:end]
    if quote == '"':
        inner = re.sub(r"\\(.)", lambda m: _ENV_ESCAPES.get(m.group(1), m.group(0)), inner)
    return inner, used


def _closing_quote(text: str, quote: str) -> int | None:
    i = 0
    while i < len(text):
        if text[i] == "\\" and quote == '"':
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return None
