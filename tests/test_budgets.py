"""Budgets an eval needs: collection-time warnings for every criterion, ``pytest-rollout budget``,
and a family size that does not move with the layers a change selects."""

from __future__ import annotations

import json

import pytest

FAMILY = """
import random, pytest

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_prompt(trial):
    assert random.Random(trial.seed).random() < 0.97

@pytest.mark.layer("model")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_model(trial):
    assert random.Random(trial.seed).random() < 0.97

@pytest.mark.layer("infra")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_infra(trial):
    assert random.Random(trial.seed).random() < 0.97
"""


def test_the_family_counts_every_collected_eval_not_only_the_selected_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_family=FAMILY)
    res = pytester.runpytest("--rollout-layers=prompt", "--rollout-seed=3", "--rollout-report=r.json")
    res.assert_outcomes(passed=1, deselected=2)
    (only,) = json.loads((pytester.path / "r.json").read_text())["evals"]
    assert only["nodeid"].endswith("test_prompt") and only["alpha"] == pytest.approx(0.05 / 3)
