"""Tools: valid schemas, and the right tool for the question. (layer: tools)"""

from __future__ import annotations

import json

import pytest

from assistant.tools import schema_problems
from evals.casebook import ROOT, load_tool_cases


@pytest.mark.layer("tools")
@pytest.mark.parametrize("path", sorted((ROOT / "tools").glob("*.json")), ids=lambda p: p.name)
def test_tool_schema_is_valid(path):
    assert schema_problems(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.layer("tools")
@pytest.mark.eval(trials=200, cases=load_tool_cases, pass_rate=0.90, margin=0.10)
def test_tool_choice(trial, assistant):
    case = trial.case
    chosen = assistant.choose_tool(case["question"], seed=trial.seed)
    assert chosen == case["tool"], f"chose {chosen!r} for {case['question']!r}, expected {case['tool']!r}"
