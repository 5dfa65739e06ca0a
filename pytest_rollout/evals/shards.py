"""Evals sharded across CI jobs (``--rollout-shard I/N``) and the shards' reports merged into one verdict.

Assignment is deterministic and the same on every job: the selected tests, weighted by their
budget in trials (an ordinary test weighs 1), go largest first to the lightest shard (ties by
node id), so shards finish at about the same time. The family-wise correction is computed over
every selected eval of every shard, before the split, so a shard's verdicts are the ones the
whole run would give. ``merge_reports`` joins the shards' JSON reports into one document and
refuses a missing, duplicated or foreign shard: a shard that never reported must fail the run.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from typing import Any

from pytest_rollout.errors import RolloutError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); shards count from 1."""
    m = _SHARD.match(text)
    if not m:
        raise RolloutError(f"--rollout-shard {text!r}: expected I/N, e.g. 1/4")
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= index <= count:
        raise RolloutError(f"--rollout-shard {text!r}: I must be between 1 and N (shards count from 1)")
    return index, count


def assign(items: Sequence[tuple[str, int]], count: int) -> dict[str, int]:
    """``items`` are (nodeid, weight); returns {nodeid: shard} with shards 1..count (greedy, largest first)."""
    loads = [(0, shard) for shard in range(1, count + 1)]
    heapq.heapify(loads)
    out: dict[str, int] = {}
    for nodeid, weight in sorted(items, key=lambda it: (-it[1], it[0])):
        load, shard = heapq.heappop(loads)
        out[nodeid] = shard
        heapq.heappush(loads, (load + max(weight, 1), shard))
    return out


def other_shards(items: Sequence[tuple[str, int]], index: int, count: int) -> dict[str, str]:
    """{nodeid: reason} of the tests that run on the other shards."""
    placed = assign(items, count)
    return {nodeid: f"runs on shard {shard}/{count}" for nodeid, shard in placed.items() if shard != index}


def merge_reports(docs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Join the shards' ``--rollout-report`` documents (name, parsed JSON) into one report document."""
    if not docs:
        raise RolloutError("merge: no shard reports given")
    shards: dict[int, tuple[str, dict[str, Any]]] = {}
    for name, doc in docs:
        shard = doc.get("shard")
        if (
            not isinstance(shard, dict)
            or not isinstance(shard.get("index"), int)
            or not isinstance(shard.get("count"), int)
        ):
            raise RolloutError(f'{name}: not a shard report (no "shard" field): run pytest with --rollout-shard I/N')
        if shard["index"] in shards:
            raise RolloutError(
                f"{name}: shard {shard['index']}/{shard['count']} is given twice ({shards[shard['index']][0]})"
            )
        shards[shard["index"]] = (name, doc)
    count = {doc["shard"]["count"] for _, doc in docs}
    if len(count) != 1:
        raise RolloutError(
            f"merge: the reports disagree on the number of shards ({', '.join(map(str, sorted(count)))})"
        )
    (n,) = count
    missing = [i for i in range(1, n + 1) if i not in shards]
    if missing:
        raise RolloutError(
            f"merge: shard(s) {', '.join(f'{i}/{n}' for i in missing)} did not report: that job failed or was "
            "cancelled, so the run cannot be judged; rerun it"
        )
    ordered = [shards[i] for i in range(1, n + 1)]
    first_name, first = ordered[0]
    for name, doc in ordered[1:]:
        for key in ("base", "head", "layers_changed", "decision"):
            if doc.get(key) != first.get(key):
                raise RolloutError(
                    f"{name}: its {key} differs from {first_name}'s: the shards judged different releases"
                )
    family = {doc["shard"].get("family") for _, doc in ordered}
    evals: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for name, doc in ordered:
        for ev in doc.get("evals") or []:
            if ev["nodeid"] in seen:
                raise RolloutError(f"{name}: eval {ev['nodeid']} also ran on {seen[ev['nodeid']]}")
            seen[ev["nodeid"]] = name
            evals.append(ev)
    if len(family) != 1 or (family != {None} and len(evals) > next(iter(family))):
        raise RolloutError("merge: the shards disagree on the eval family: were they run with the same selection?")
    merged = {k: v for k, v in first.items() if k not in ("shard", "evals", "deselected", "usage")}
    ran = set(seen)
    deselected = {}
    for _, doc in ordered:
        for d in doc.get("deselected") or []:
            if d["nodeid"] not in ran and not d["reason"].startswith("runs on shard "):
                deselected[d["nodeid"]] = d["reason"]
    merged["evals"] = evals
    merged["deselected"] = [{"nodeid": k, "reason": v} for k, v in sorted(deselected.items())]
    merged["shards"] = n
    return merged
