"""What a pytest session imports: nothing heavy unless it runs an eval (issue 19, item 2).

Each run is a fresh interpreter (``runpytest_subprocess``); a conftest writes the heavy
top-level packages found in ``sys.modules`` at ``pytest_unconfigure``, after every hook of the
session (collection, selection, budget warnings, the terminal summary) has run.
scipy and numpy cost ~0.3-0.8 s of imports: a session that runs no eval, a collection
(``--co``) and a session whose every eval is deselected do not pay them; a session that runs
evals does not pay scipy (its hot path has stdlib shortcuts, ``evals/verdicts/numeric.py``,
cross-checked against scipy in tests/test_numeric.py). pydantic is the settings' and models'
matter (the pre-push path's work), so it is only checked for a plain session here.
"""

from __future__ import annotations

import json

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo

HEAVY = ("scipy", "numpy", "pydantic")

RECORDER = f"""
import json, sys

def pytest_unconfigure(config):
    heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
    with open("heavy.json", "w") as f:
        json.dump(heavy, f)
"""

EVALS = """
import pytest

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=400, pass_rate=0.5, margin=0.2)
def test_rate(trial):
    assert trial.seed % 4 != 0

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=200, min_score=0.5, margin=0.3)
def test_score(trial):
    trial.score(0.9)

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=200, max_regression=0.1)
def test_regression(trial):
    assert True

def test_plain():
    assert True
"""


def _heavy(pytester: pytest.Pytester, *args: str, ret: int | None = None) -> list[str]:
    pytester.makeconftest(RECORDER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", *args)
    if ret is not None:
        assert result.ret == ret, result.stdout.str() + result.stderr.str()
    loaded: list[str] = json.loads((pytester.path / "heavy.json").read_text())
    return loaded


def test_a_plain_session_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    assert _heavy(pytester, ret=0) == []


RATE_EVALS = """
import pytest

@pytest.mark.eval(trials=400, pass_rate=0.5, margin=0.2)
def test_rate(trial):
    assert True

@pytest.mark.eval(trials=2000, pass_rate=0.9, margin=0.05, concurrency=4)
def test_rate_wide(trial):
    assert True
"""


def test_collecting_pass_rate_evals_imports_no_numerics(pytester: pytest.Pytester) -> None:
    """Markers parsed, budgets checked against the calibrated minimum (stdlib: verdicts.design)."""
    pytester.makepyfile(test_evals=RATE_EVALS)
    assert not set(_heavy(pytester, "--co", ret=0)) & {"scipy", "numpy"}


def test_collecting_any_eval_imports_no_scipy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    assert "scipy" not in _heavy(pytester, "--co", ret=0)


def test_evals_deselected_by_m_import_no_numerics(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    assert not set(_heavy(pytester, "-m", "not eval", ret=0)) & {"scipy", "numpy"}


def test_evals_deselected_by_the_gate_import_no_numerics(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    """The gate ran (an infra-only change), so every prompt eval is deselected: no scipy, no numpy."""
    base = pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_evals.py": EVALS}
    )
    pytester_repo.commit(
        {"deploy/serving.yaml": SEED_SERVING_BASE.replace("batch_size: 8", "batch_size: 16")}, "infra only"
    )
    loaded = _heavy(pytester, "--rollout-gate", f"--rollout-base={base}", "-rA", ret=0)
    assert not set(loaded) & {"scipy", "numpy"}


def test_running_evals_does_not_import_scipy(pytester: pytest.Pytester) -> None:
    """pass_rate (SPRT, exact stagewise p, beta-binomial interval) and min_score (betting) evals run
    and report, with the family's Holm and BH p-values, on numpy and the stdlib alone."""
    pytester.makepyfile(test_evals=EVALS)
    loaded = _heavy(pytester, "--rollout-seed=3", "-k", "not regression", "--rollout-report=r.json", ret=0)
    assert "scipy" not in loaded
    assert "numpy" in loaded  # the monitors did run
