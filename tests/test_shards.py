"""Sharded eval runs: a deterministic, balanced split, one family across shards, and a merge that refuses gaps."""

from __future__ import annotations

import json

import pytest

from conftest import rollout_cli
from pytest_rollout.errors import RolloutError
from pytest_rollout.evals.shards import assign, merge_reports, other_shards, parse_shard


def test_parse_shard() -> None:
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(RolloutError, match="--rollout-shard"):
            parse_shard(bad)


def test_assign_balances_by_budget_and_is_the_same_on_every_job() -> None:
    items = [("big", 900), ("mid1", 400), ("mid2", 400), ("t1", 1), ("t2", 1)]
    placed = assign(items, 2)
    assert placed == assign(list(reversed(items)), 2)  # input order does not matter
    loads = {1: 0, 2: 0}
    for nodeid, weight in items:
        loads[placed[nodeid]] += weight
    assert sorted(loads.values()) == [802, 900]  # largest first to the lightest shard
    assert set(other_shards(items, 1, 2)) == {n for n, s in placed.items() if s == 2}


def _doc(index: int, count: int, evals: list[str], family: int = 3) -> dict[str, object]:
    return {
        "base": "a",
        "head": "b",
        "layers_changed": ["prompt"],
        "shard": {"index": index, "count": count, "family": family},
        "evals": [{"nodeid": n, "verdict": "PASS"} for n in evals],
        "deselected": [{"nodeid": "x", "reason": f"runs on shard {3 - index}/2"}],
    }


def test_merge_joins_and_refuses_gaps_duplicates_and_other_releases() -> None:
    merged = merge_reports([("s2.json", _doc(2, 2, ["c"])), ("s1.json", _doc(1, 2, ["a", "b"]))])
    assert [e["nodeid"] for e in merged["evals"]] == ["a", "b", "c"] and merged["shards"] == 2
    assert merged["deselected"] == []
    with pytest.raises(RolloutError, match=r"shard\(s\) 2/2 did not report"):
        merge_reports([("s1.json", _doc(1, 2, ["a"]))])
    with pytest.raises(RolloutError, match="given twice"):
        merge_reports([("s1.json", _doc(1, 2, ["a"])), ("again.json", _doc(1, 2, ["a"]))])
    other = _doc(2, 2, ["c"]) | {"head": "zzz"}
    with pytest.raises(RolloutError, match="head differs"):
        merge_reports([("s1.json", _doc(1, 2, ["a"])), ("s2.json", other)])
    with pytest.raises(RolloutError, match="also ran on"):
        merge_reports([("s1.json", _doc(1, 2, ["a"])), ("s2.json", _doc(2, 2, ["a"]))])
    with pytest.raises(RolloutError, match="not a shard report"):
        merge_reports([("plain.json", {"evals": []})])


EVALS = """
import random
import pytest

@pytest.mark.eval(trials=300, pass_rate=0.7)
def test_good(trial):
    assert random.Random(trial.seed).random() < 0.9

@pytest.mark.eval(trials=300, pass_rate=0.7)
def test_also_good(trial):
    assert random.Random(trial.seed).random() < 0.9

@pytest.mark.eval(trials=300, pass_rate=0.7)
def test_bad(trial):
    assert random.Random(trial.seed).random() < 0.5

def test_plain():
    pass
"""


def test_shards_run_apart_and_merge_into_the_unsharded_verdicts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    whole = pytester.runpytest("--rollout-seed=5", "--rollout-report=whole.json")
    whole.assert_outcomes(passed=3, failed=1)
    outcomes = []
    for i in (1, 2):
        res = pytester.runpytest("--rollout-seed=5", f"--rollout-shard={i}/2", f"--rollout-report=shard-{i}.json")
        outcomes.append(res.parseoutcomes())
    assert sum(o.get("passed", 0) for o in outcomes) == 3 and sum(o.get("failed", 0) for o in outcomes) == 1
    shard_docs = [json.loads((pytester.path / f"shard-{i}.json").read_text()) for i in (1, 2)]
    assert all(doc["shard"]["family"] == 3 for doc in shard_docs)
    assert all(doc["evals"] for doc in shard_docs)  # both shards got an eval

    merged = rollout_cli("merge", "shard-1.json", "shard-2.json", "--report", "merged.json", cwd=pytester.path)
    assert merged.returncode == 1, merged.stderr  # test_bad FAILs
    assert "merged 2 shard(s), 3 eval(s): FAIL" in merged.stdout
    by_node = {e["nodeid"]: e for e in json.loads((pytester.path / "merged.json").read_text())["evals"]}
    for e in json.loads((pytester.path / "whole.json").read_text())["evals"]:
        mine = by_node[e["nodeid"]]
        # one family across shards: the same corrected alpha, verdict and n as the unsharded run
        assert (mine["alpha"], mine["verdict"], mine["n"], mine["holm_p"]) == (
            e["alpha"],
            e["verdict"],
            e["n"],
            e["holm_p"],
        )

    missing = rollout_cli("merge", "shard-1.json", cwd=pytester.path)
    assert missing.returncode == 2 and "shard(s) 2/2 did not report" in missing.stderr
    absent = rollout_cli("merge", "shard-1.json", "nope.json", cwd=pytester.path)
    assert absent.returncode == 2 and "nope.json: no such shard report" in absent.stderr


def test_a_shard_under_xdist_reports_the_whole_family(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    pytester.runpytest("-n", "2", "--rollout-seed=5", "--rollout-shard=2/2", "--rollout-report=s.json")
    doc = json.loads((pytester.path / "s.json").read_text())
    assert doc["shard"] == {"index": 2, "count": 2, "family": 3}
