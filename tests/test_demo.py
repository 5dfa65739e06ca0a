"""The Quickstart's demo runs as a test, and tells the story it claims to tell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_replays_the_incident(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
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
