"""Budgets an eval needs: collection-time warnings for every criterion, ``pytest-rollout budget``,
and a family size that does not move with the layers a change selects."""

from __future__ import annotations

import fnmatch
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_rollout.evals.budgets import budget_rows, budget_warnings
from pytest_rollout.evals.markers import EvalSpec, parse_eval_marker
from pytest_rollout.evals.verdicts import needs
from test_baseline_cli import _baseline  # a stored Baseline of these values

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


def _spec(**kwargs: Any) -> EvalSpec:
    return parse_eval_marker((), kwargs, where="test_x.py::test_x")


CASES = [{"id": f"c{i:03d}"} for i in range(300)]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"trials": 200, "pass_rate": 0.8}, "*pass_rate 0.8 *trials=200 cannot decide*74%*trials=939 decides (never*"),
        (
            {"trials": 300, "min_score": 0.8},
            "*min_score 0.8 *trials=300 cannot decide*trials=1* decides (INCONCLUSIVE at*",
        ),
        ({"trials": 900, "cases": CASES, "epochs": 3, "pass_rate": 0.8}, "*needs 1* cases, the eval has 300*"),
        ({"trials": 300, "cases": CASES, "max_regression": 0.05}, "*max_regression 0.05 *a fixed-n test needs about*"),
    ],
)
def test_every_criterion_warns_when_its_budget_cannot_decide(kwargs: dict[str, Any], expected: str) -> None:
    (message,) = budget_warnings(_spec(**kwargs), 1, "bonferroni")
    assert fnmatch.fnmatch(message, expected), message


def test_a_budget_that_decides_does_not_warn() -> None:
    assert budget_warnings(_spec(trials=300, pass_rate=0.8, margin=0.1), 1, "bonferroni") == []
    assert budget_warnings(_spec(trials=600, min_score=0.8, margin=0.1), 1, "bonferroni") == []


def test_the_stored_baseline_s_variance_sizes_a_betting_budget() -> None:
    """Scores with a small spread decide in a fraction of what 0/1-like scores need."""
    spec = _spec(trials=400, min_score=0.8)
    rng = random.Random(5)
    calm = _baseline([min(1.0, max(0.0, rng.gauss(0.85, 0.1))) for _ in range(300)])
    (assumed,) = budget_rows(spec, 1, "bonferroni")
    (measured,) = budget_rows(spec, 1, "bonferroni", calm)
    assert "assumed" in assumed.variance and not assumed.decides
    assert "measured on the stored baseline (300 trials)" in measured.variance and measured.decides
    assert measured.needed_trials is not None and assumed.needed_trials is not None
    assert measured.needed_trials < assumed.needed_trials / 3


def test_a_paired_baseline_sizes_max_regression_by_its_within_case_noise() -> None:
    case_means = {c["id"]: (1.0 if i % 10 else 2 / 3) for i, c in enumerate(CASES)}
    base = _baseline(list(case_means.values()) * 3, case_means, epochs=3)
    (row,) = budget_rows(_spec(trials=900, cases=CASES, epochs=3, max_regression=0.05), 1, "bonferroni", base)
    assert "300 cases, paired" in row.variance and row.decides, row


def test_an_extreme_design_says_it_cannot_be_calibrated_cheaply() -> None:
    """pass_rate=0.9999, margin=0.0001 took 24-33 s to collect: now a closed form, no DP."""
    (message,) = budget_warnings(_spec(trials=300, pass_rate=0.9999, margin=0.0001), 1, "bonferroni")
    assert "needs about trials=197083" in message and "too large to calibrate cheaply" in message
    (message,) = budget_warnings(_spec(trials=300, min_score=0.9999, margin=0.0001), 1, "bonferroni")
    assert "too large to simulate cheaply" in message


def test_the_answer_is_cached_per_design() -> None:
    needs._betting_need.cache_clear()
    first = budget_rows(_spec(trials=300, min_score=0.7), 1, "bonferroni")
    second = budget_rows(_spec(trials=300, min_score=0.7), 1, "bonferroni")
    assert first == second and needs._betting_need.cache_info().hits == 1


def test_collection_warns_with_the_budget_that_decides(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.eval(trials=200, pass_rate=0.8)
        def test_small(trial):
            pass
    """)
    res = pytester.runpytest("--co", "-q")
    res.stdout.fnmatch_lines(["*trials=200 cannot decide*INCONCLUSIVE 74% of the time*trials=939 decides*"])


BUDGETS = """
import pytest

@pytest.mark.eval(trials=200, pass_rate=0.80)
def test_small(trial):
    pass

@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_enough(trial):
    pass
"""


def test_budget_command_prints_each_eval_and_exits_1_when_one_cannot_decide(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=BUDGETS)
    proc = _cli(pytester.path, "budget", "--", "test_b.py")
    assert proc.returncode == 1, proc.stderr
    assert "test_b.py::test_small" in proc.stdout and "cannot decide" in proc.stdout
    assert "family: 2 evals (bonferroni); 1 of 2 criteria cannot decide in their budget" in proc.stdout
    proc = _cli(pytester.path, "budget", "--json", "--", "test_b.py::test_enough")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["rows"]  # only this eval is collected: K = 1
    assert row["decides"] and row["needed_trials"] == 250 and row["inconclusive"] == 0.0


def test_budget_command_exits_2_when_pytest_cannot_collect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b="import pytest\n@pytest.mark.eval(trials=10, pass_rat=0.8)\ndef test_t(trial): pass\n")
    proc = _cli(pytester.path, "budget", "--", "test_b.py")
    assert proc.returncode == 2 and "pytest could not collect the evals" in proc.stderr


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_rollout", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
