"""Check one line of ``baseline export`` output before it enters a store.

An imported run becomes a baseline other releases are judged against, so every field is
checked, not just its type: a score of -0.5 would let an eval that fails every trial pass its
regression check, a ``started`` of 1e300 breaks ``baseline list``, and an integer past 2**63
cannot be stored. A bad line is a ``StoreError`` naming the line and the field (exit 2).

No pytest, no pydantic: ``pytest-rollout baseline import`` must answer at once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pytest_rollout.errors import StoreError

EXPORT_FORMAT = 1
EXPORT_KIND = "pytest-rollout.run"
HINT = "import a file written by `pytest-rollout baseline export`"

#: A count (trials, budget, indices): far beyond any real eval, far inside SQLite's INTEGER.
MAX_COUNT = 10**9
#: Seeds are stored as signed 64-bit integers.
MAX_SEED = 2**63 - 1
#: Timestamps between 2000-01-01 and 9999-12-31 (what ``datetime`` can print).
MIN_TIME, MAX_TIME = 946_684_800.0, 253_402_300_799.0
MAX_TEXT = 10_000
MAX_DEPTH = 64
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "NO_BASELINE")
CRITERIA = ("pass_rate", "min_score", "max_regression")
OUTCOMES = ("pass", "fail", "error")
_COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


class _Bad(Exception):
    """A field that fails its check: the message names it."""


def parse_run(line: str, where: str) -> dict[str, Any]:
    """The exported run on ``line``, every field checked; ``StoreError`` naming ``where`` otherwise."""
    doc = _load(line, where)
    try:
        _check_run(doc)
    except _Bad as exc:
        raise StoreError(f"{where}: {exc}: {HINT}") from None
    return doc


def _load(line: str, where: str) -> dict[str, Any]:
    depth = _max_depth(line)
    if depth > MAX_DEPTH:
        raise StoreError(f"{where}: JSON nested {depth} levels deep (an export has at most 5): {HINT}")
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{where}: not JSON ({exc.msg}): {HINT}") from None
    except (ValueError, RecursionError) as exc:  # an integer of more than 4,300 digits
        raise StoreError(f"{where}: not JSON this tool reads ({str(exc).splitlines()[0][:80]}): {HINT}") from None
    if not isinstance(doc, dict) or doc.get("kind") != EXPORT_KIND:
        raise StoreError(f'{where}: not an exported run (expected "kind": "{EXPORT_KIND}"): {HINT}')
    fmt = doc.get("format")
    if type(fmt) is int and fmt > EXPORT_FORMAT:
        raise StoreError(
            f"{where}: export format {_shown(fmt)} is newer than this pytest-rollout reads ({EXPORT_FORMAT}): "
            "upgrade pytest-rollout"
        )
    if type(fmt) is not int or fmt < 1:
        raise StoreError(f"{where}: export format {_shown(fmt)} is not valid: {HINT}")
    return dict(doc)


def _max_depth(text: str) -> int:
    """The deepest bracket nesting outside strings, counted without parsing (a parser recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_run(doc: Mapping[str, Any]) -> None:
    _text(doc, "uid")
    commit = _text(doc, "commit")
    if not _COMMIT.fullmatch(commit):
        raise _Bad(f"commit {_shown(commit)} is not a full commit id (40 hex digits)")
    prints = _field(doc, "fingerprints", dict)
    for layer, digest in prints.items():
        if not isinstance(digest, str) or not layer or len(layer) > 200 or len(digest) > 200:
            raise _Bad(f"fingerprints[{_shown(layer)}] must be a short text")
    _text(doc, "tool_version")
    _int(doc, "seed", 0, MAX_SEED)
    started = _time(doc, "started")
    if doc.get("finished") is not None and _time(doc, "finished") < started:
        raise _Bad("finished is before started")
    evals = _field(doc, "evals", list)
    for i, ev in enumerate(evals):
        if not isinstance(ev, dict) or not isinstance(ev.get("result"), dict) or not isinstance(ev.get("trials"), list):
            raise _Bad(f'evals[{i}]: expected {{"result": {{...}}, "trials": [...]}}')
        _prefixed(f"evals[{i}].result", _check_result, ev["result"])
        for j, trial in enumerate(ev["trials"]):
            _prefixed(f"evals[{i}].trials[{j}]", _check_trial, trial)


def _prefixed(prefix: str, check: Any, value: Any) -> None:
    if not isinstance(value, dict):
        raise _Bad(f"{prefix}: expected an object")
    try:
        check(value)
    except _Bad as exc:
        raise _Bad(f"{prefix}.{exc}") from None


def _check_result(r: Mapping[str, Any]) -> None:
    _text(r, "nodeid")
    _choice(r, "criterion", CRITERIA)
    _choice(r, "verdict", VERDICTS)
    n, budget = _int(r, "n", 0, MAX_COUNT), _int(r, "budget", 0, MAX_COUNT)
    if n > budget:
        raise _Bad(f"n={n} is more than budget={budget}")
    for name in ("passes", "failures", "errors"):
        _int(r, name, 0, n, optional=True)
    for name in ("cases", "epochs"):
        _int(r, name, 1, MAX_COUNT, optional=True)
    _unit(r, "estimate", optional=True)
    for name in ("alpha", "beta"):
        if r.get(name) is not None and not 0 < _unit(r, name) < 1:
            raise _Bad(f"{name} must be strictly between 0 and 1")
    interval = r.get("interval")
    if interval is not None:
        if not isinstance(interval, list) or len(interval) != 2:
            raise _Bad(f"interval must be [low, high] or null, got {_shown(interval)}")
        lo, hi = (_unit({"interval": x}, "interval") for x in interval)
        if lo > hi:
            raise _Bad(f"interval [{lo}, {hi}] has low above high")


def _check_trial(t: Mapping[str, Any]) -> None:
    _int(t, "index", 0, MAX_COUNT)
    _int(t, "epoch", 0, MAX_COUNT)
    _int(t, "seed", 0, MAX_SEED)
    outcome = _choice(t, "outcome", OUTCOMES)
    score = _unit(t, "score", optional=True)
    if outcome == "error" and score is not None:
        raise _Bad("score must be null for an error trial")
    for name in ("case_id", "error_kind"):
        if t.get(name) is not None:
            _text(t, name)
    if type(t.get("used")) is not bool:
        raise _Bad(f"used must be true or false, got {_shown(t.get('used'))}")
    if t.get("note") is not None:  # schema v4 fields, all optional
        _text(t, "note")
    for name in ("input_tokens", "output_tokens", "retries"):
        _int(t, name, 0, MAX_COUNT, optional=True)
    if t.get("cost") is not None and _number(t, "cost") < 0:
        raise _Bad(f"cost must be >= 0, got {_shown(t.get('cost'))}")


# ---------------------------------------------------------------- field checks


def _field(doc: Mapping[str, Any], name: str, typ: type) -> Any:
    if name not in doc:
        raise _Bad(f"{name} is missing")
    value = doc[name]
    if not isinstance(value, typ):
        raise _Bad(f"{name} must be a {typ.__name__}, got {_shown(value)}")
    return value


def _text(doc: Mapping[str, Any], name: str) -> str:
    value: str = _field(doc, name, str)
    if not value or len(value) > MAX_TEXT:
        raise _Bad(f"{name} must be a non-empty text of at most {MAX_TEXT} characters")
    return value


def _choice(doc: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    _present(doc, name)
    value = doc.get(name)
    if value not in allowed:
        raise _Bad(f"{name} must be one of {', '.join(allowed)}, got {_shown(value)}")
    return str(value)


def _int(doc: Mapping[str, Any], name: str, low: int, high: int, *, optional: bool = False) -> int:
    value = doc.get(name)
    if value is None and optional:
        return low
    _present(doc, name)
    if type(value) is not int:
        raise _Bad(f"{name} must be an integer, got {_shown(value)}")
    if not low <= value <= high:
        raise _Bad(f"{name}={_shown(value)} is out of range [{low}, {high}]")
    return value


def _present(doc: Mapping[str, Any], name: str) -> None:
    if name not in doc:
        raise _Bad(f"{name} is missing")


def _number(doc: Mapping[str, Any], name: str) -> float:
    _present(doc, name)
    value: Any = doc.get(name)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _Bad(f"{name} must be a finite number, got {_shown(value)}")
    return float(value)


def _unit(doc: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    if doc.get(name) is None and optional:
        return None
    value = _number(doc, name)
    if not 0.0 <= value <= 1.0:
        raise _Bad(f"{name}={value:g} is outside [0, 1]")
    return value


def _time(doc: Mapping[str, Any], name: str) -> float:
    value = _number(doc, name)
    if not MIN_TIME <= value <= MAX_TIME:
        raise _Bad(f"{name}={value:g} is not a timestamp between the years 2000 and 9999")
    return value


def _shown(value: Any) -> str:
    text = (
        repr(value) if not isinstance(value, int) or abs(value) < 10**12 else f"an integer of {len(str(value))} digits"
    )
    return text if len(text) <= 60 else text[:57] + "..."
