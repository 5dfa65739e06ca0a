"""Key paths as text: ``format_key``, and the escaping that keeps a config's key on one printed line."""

from __future__ import annotations

import re

from pytest_rollout.diff.formats.common import IDENTITY_FIELDS, KeyPath

#: A list segment: ``[3]`` or ``[name=search]``.
LIST_SEGMENT = re.compile(rf"\[(?:\d+|(?:{'|'.join(IDENTITY_FIELDS)})=.*)\]", re.DOTALL)
_NEEDS_QUOTES = re.compile(r"[.\s\"'\[\]]")

#: Characters no output may carry raw: C0/C1 controls (newline, ESC of ANSI sequences), line and
#: paragraph separators, bidirectional overrides, lone surrogates (undecodable file names).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``, ``\\u202e``), so a key or a
    path from a config can never start a line of its own in a log (``::stop-commands::``, a fake
    ``decision: PASS``) nor move the terminal's cursor."""
    return _UNSAFE.sub(_escape_char, text) if _UNSAFE.search(text) else text


def printable_line(line: str) -> str:
    """``printable``, and a line that would read as a GitHub workflow command (``::x::``) is defused."""
    line = printable(line)
    body = line.lstrip()
    if body.startswith("::"):
        line = line[: len(line) - len(body)] + "\\x3a" + body[1:]
    return line


def format_key(path: KeyPath) -> str:
    """``('tools', '[name=search]', 'description')`` -> ``tools[name=search].description``.

    Mapping keys with dots, whitespace, quotes or brackets are double-quoted so
    the text splits back unambiguously; list segments are kept verbatim so a
    key shown in a report can be pasted into a key rule as is.
    """
    out = ""
    for seg in path:
        if LIST_SEGMENT.fullmatch(seg):
            out += printable(seg)
            continue
        text = _quote(seg) if (not seg or _NEEDS_QUOTES.search(seg) or _UNSAFE.search(seg)) else seg
        out += f".{text}" if out else text
    return out


def _quote(seg: str) -> str:
    return '"' + printable(seg.replace("\\", "\\\\").replace('"', '\\"')) + '"'
