"""Whole-file text changes as unified diffs (pure): what a reviewer reads instead of two blob hashes.

A prompt file changed whole (``prompts/system.md``) is shown as the lines that moved. The diff is
raw text here; ``gate.layers.to_change`` passes it through ``redact`` before any output holds it,
and a file whose name is a secret (``api_key.txt``) gets no diff at all. Files that are binary,
over the size cap or longer than ``MAX_LINES`` keep their blob descriptors only: difflib is
quadratic in the worst case and such a diff would be no excerpt.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

#: Past this many lines on either side no diff is computed.
MAX_LINES = 5000
#: Lines of context around each change (``git diff`` uses 3; prompts are prose, 1 reads better).
CONTEXT = 1


def unified(old_path: str, new_path: str, old: bytes | None, new: bytes | None) -> str | None:
    """The unified diff of two text blobs (``b""`` for an absent side), None when it cannot be shown."""
    a, b = _lines(old), _lines(new)
    if a is None or b is None or a == b:
        return None
    out = difflib.unified_diff(a, b, f"a/{old_path}", f"b/{new_path}", n=CONTEXT, lineterm="")
    return "\n".join(out)


def _lines(data: bytes | None) -> list[str] | None:
    if data is None or b"\0" in data[:8000]:
        return None
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    return lines if len(lines) <= MAX_LINES else None


def _body(diff: str) -> list[str]:
    """The hunks: ``unified`` always starts with the two file header lines."""
    return diff.splitlines()[2:]


def counts(diff: str) -> tuple[int, int]:
    """Lines added and removed in a diff from ``unified``."""
    body = _body(diff)
    return sum(x.startswith("+") for x in body), sum(x.startswith("-") for x in body)


def excerpt(diff: str, limit: int) -> tuple[Sequence[str], int]:
    """The first ``limit`` lines of the hunks (file headers dropped) and how many were left out."""
    body = _body(diff)
    return body[:limit], max(0, len(body) - limit)
