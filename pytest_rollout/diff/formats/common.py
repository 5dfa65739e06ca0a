"""What every format shares: key paths, the parse result and its error, plain values, lines."""

from __future__ import annotations

import base64
import datetime as _dt
import re
from typing import Any

from pytest_rollout.errors import ConfigParseError
from pytest_rollout.frozen import dataclass

KeyPath = tuple[str, ...]

#: The fields a list of mappings is matched by, in this order (``[name=search]``).
IDENTITY_FIELDS: tuple[str, ...] = ("name", "id", "model_name", "key")

#: Integers past Python's 4,300-digit str() limit cannot be printed or compared as text: refused.
MAX_INT_BITS = 14_000
BIG_INT = "an integer of more than 4,200 digits: no config needs one"
LONG_INT = re.compile(r"\d{4300}")
LONG_DIGITS = re.compile(r"[0-9a-fA-F_]{1000}")


class ConfigSyntaxError(ConfigParseError):
    """A ``ConfigParseError`` that keeps its parts, so callers can re-word it.

    ``changes`` turns a base-side failure into a warning ("cannot parse at base
    (line 3: ...)") and a head-side one into "...; fix the file or revert it";
    parsing the message back would be brittle.
    """

    def __init__(self, path: str, line: int, what: str, message: str | None = None) -> None:
        super().__init__(message or f"{path}:{line}: {what}")
        self.path = path
        self.line = line
        self.what = what


@dataclass(frozen=True)
class Parsed:
    """A parsed file: flattened leaves and the (best-effort) 1-based line of each."""

    values: dict[KeyPath, Any]
    lines: dict[KeyPath, int]
    documents: bool = False  # a YAML stream of several documents: the root list's order is not semantic


class TooBig(ValueError):
    """An integer no output could print (hex and TOML literals escape the 4,300-digit parse limit)."""


_AS_IS = frozenset({str, float, bool, type(None)})


def plain(value: Any) -> Any:
    """JSON-able copy: str keys, dates as isoformat, sets as sorted lists, bytes as base64."""
    kind = type(value)  # the exact built-in types first: nearly every value, one lookup each
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k if type(k) is str else key_str(plain(k)): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TooBig(BIG_INT)
    if isinstance(value, dict):
        return {key_str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def key_str(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def short(exc: BaseException) -> str:
    text = str(exc).split(";", 1)[0].strip()
    return text[:120] or type(exc).__name__


def line_at(text: str, m: re.Match[str] | None) -> int:
    return text.count("\n", 0, m.start()) + 1 if m else 1


def complete_lines(values: dict[KeyPath, Any], found: dict[KeyPath, int]) -> dict[KeyPath, int]:
    """Every leaf gets a line: its own, else its nearest ancestor's, else 1."""
    return {path: nearest_line(found, path) for path in values}


def nearest_line(found: dict[KeyPath, int], path: KeyPath) -> int:
    for n in range(len(path), 0, -1):
        line = found.get(path[:n])
        if line is not None:
            return line
    return 1
