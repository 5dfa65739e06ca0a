"""The Quickstart's demo runs as a test, and tells the story it claims to tell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def test_demo_replays_the_incident(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,  # ~2 min alone; a loaded 2-core machine has taken over 10
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outcome = json.loads(out.read_text())
    assert outcome["bundle"] == {"status": "blocked", "plan": ["infra", "model", "context"]}
    steps = {s["layer"]: s for s in outcome["steps"]}
    assert [s["layer"] for s in outcome["steps"]] == ["infra", "model", "context"]
    assert all(s["gate"] == "PASS" for s in outcome["steps"])
    assert set(steps["infra"]["evals"].values()) == {"PASS"}
    assert set(steps["model"]["evals"].values()) == {"PASS"}
    assert steps["context"]["evals"] == {"evals/test_answers.py::test_answer_accuracy": "FAIL"}
    assert outcome["culprits"] == ["context"]
    assert outcome["trials_spent"] < outcome["trials_fixed"]
    assert "\x1b[" not in proc.stdout  # colour only on a terminal
    assert "the regression comes from the context layer" in proc.stdout
    assert_attribution_names_context(outcome["attribution"])
    assert "the regression comes from: context (" in proc.stdout
    teams = outcome["two_teams"]  # act 6: two teams merge separately; the deploy ships them in order
    assert teams["prs"] == ["PASS", "PASS"]
    assert teams["pr_after_merge"] == "BLOCKED" and teams["pending_named"]
    assert teams["deploy"] == "blocked"
    assert teams["plan"] == [["infra", teams["merges"][0]], ["params", teams["merges"][1]]]
    assert teams["unmeasured"] == "BLOCKED"  # require_measured: step 2 waits for step 1's measurement
    assert teams["shipped"] == ["PASS", "PASS"]
    assert teams["history"] == [["params"], ["infra"], None]
    assert "== 6. Two teams, one deploy" in proc.stdout


def true_context_effect() -> float:
    """The context layer's main effect on answer accuracy, exact, over the other layers' four settings."""
    sys.path.insert(0, str(ROOT / "example_repo"))
    import true_rates  # type: ignore[import-not-found]
    from assistant import load_config  # type: ignore[import-not-found]

    base = load_config(true_rates.ROOT)
    rate = true_rates.exact_rates
    others = [{}, true_rates.INFRA, true_rates.MODEL, {**true_rates.INFRA, **true_rates.MODEL}]
    drops = [
        rate(base.with_values(**o, **true_rates.CONTEXT)).answers - rate(base.with_values(**o)).answers for o in others
    ]
    return sum(drops) / len(drops)


def assert_attribution_names_context(doc: dict[str, Any]) -> None:
    """Done-when of attribution: context alone is the culprit; its interval covers the true effect."""
    assert doc["layers"] == ["infra", "model", "context"] and doc["culprits"] == ["context"]
    assert {h["status"] for h in doc["hybrids"]} == {"ran"} and len(doc["hybrids"]) == 8
    answers = next(e for e in doc["evals"] if e["nodeid"].endswith("test_answer_accuracy"))
    effects = {e["term"]: e for e in answers["effects"]}
    assert effects["context"]["verdict"] == "culprit"
    assert effects["model"]["verdict"] == effects["infra"]["verdict"] == "cleared"
    lo, hi = effects["context"]["interval"]
    assert lo <= true_context_effect() <= hi
