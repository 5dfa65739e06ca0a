"""Issue 11: hostile baseline imports, a damaged store, evals that cannot be judged, and a
GitHub summary that says the run's status (real files, real pytest runs, the real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import GitRepo, rollout_cli

COMMIT = "a" * 40


def _run_doc(**over: Any) -> dict[str, Any]:
    result = {
        "nodeid": "evals/test_a.py::test_a",
        "criterion": "pass_rate",
        "verdict": "PASS",
        "estimate": 0.9,
        "interval": [0.8, 0.95],
        "n": 2,
        "budget": 10,
        "alpha": 0.05,
        "beta": 0.05,
    }
    trial = {
        "index": 0,
        "case_id": None,
        "epoch": 0,
        "seed": 7,
        "outcome": "pass",
        "score": 1.0,
        "error_kind": None,
        "used": True,
    }
    doc: dict[str, Any] = {
        "kind": "pytest-rollout.run",
        "format": 1,
        "uid": "u1",
        "commit": COMMIT,
        "fingerprints": {"prompt": "d1"},
        "tool_version": "0.1.0",
        "seed": 1,
        "started": 1.7e9,
        "finished": 1.7e9 + 5,
        "evals": [{"result": result, "trials": [trial, {**trial, "index": 1}]}],
    }
    for path, value in over.items():
        target: Any = doc
        keys = path.split(".")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        target[keys[-1]] = value
    return doc


def _import(tmp_path: Path, content: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(content)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_rollout",
            "baseline",
            "--store",
            str(tmp_path / "s.sqlite"),
            "import",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


def test_a_valid_export_line_imports(tmp_path: Path) -> None:
    proc = _import(tmp_path, json.dumps(_run_doc()).encode() + b"\n")
    assert proc.returncode == 0, proc.stderr
    assert "imported 1 new run(s)" in proc.stdout


HOSTILE: list[tuple[str, bytes, str]] = [
    ("not utf-8", b'{"kind": "pytest-rollout.run", "x": "\xff\xfe"}\n', "not UTF-8 text"),
    ("100,000-deep JSON", b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested 100000 levels deep"),
    (
        "interval [1]",
        json.dumps(_run_doc(**{"evals.0.result.interval": [1]})).encode(),
        r"interval must be \[low, high\]",
    ),
    ("2^70 seed", json.dumps(_run_doc(seed=2**70)).encode(), "seed=an integer of 22 digits is out of range"),
    ("2^70 trial index", json.dumps(_run_doc(**{"evals.0.trials.0.index": 2**70})).encode(), "index=an integer"),
    (
        "5,000-digit integer",
        b'{"kind": "pytest-rollout.run", "seed": 1' + b"0" * 5000 + b"}",
        "not JSON this tool reads",
    ),
    (
        "score -0.5",
        json.dumps(_run_doc(**{"evals.0.trials.0.score": -0.5})).encode(),
        r"score=-0.5 is outside \[0, 1\]",
    ),
    ("score 1.5", json.dumps(_run_doc(**{"evals.0.trials.0.score": 1.5})).encode(), "outside"),
    ("estimate -0.5", json.dumps(_run_doc(**{"evals.0.result.estimate": -0.5})).encode(), "estimate=-0.5"),
    ("started 1e300", json.dumps(_run_doc(started=1e300)).encode(), "not a timestamp"),
    ("started NaN", json.dumps(_run_doc(started=float("nan"))).encode(), "finite number"),
    ("finished before started", json.dumps(_run_doc(finished=1.0e9)).encode(), "finished is before started"),
    (
        "interval upside down",
        json.dumps(_run_doc(**{"evals.0.result.interval": [0.9, 0.1]})).encode(),
        "low above high",
    ),
    ("n is true", json.dumps(_run_doc(**{"evals.0.result.n": True})).encode(), "n must be an integer"),
    ("n over budget", json.dumps(_run_doc(**{"evals.0.result.n": 11})).encode(), "more than budget"),
    ("negative budget", json.dumps(_run_doc(**{"evals.0.result.budget": -1})).encode(), "budget=-1 is out of range"),
    ("alpha 1", json.dumps(_run_doc(**{"evals.0.result.alpha": 1})).encode(), "alpha must be strictly between"),
    ("unknown verdict", json.dumps(_run_doc(**{"evals.0.result.verdict": "GREAT"})).encode(), "verdict must be one of"),
    (
        "unknown outcome",
        json.dumps(_run_doc(**{"evals.0.trials.0.outcome": "maybe"})).encode(),
        "outcome must be one of",
    ),
    ("short commit", json.dumps(_run_doc(commit="abc")).encode(), "not a full commit id"),
    ("used is 1", json.dumps(_run_doc(**{"evals.0.trials.0.used": 1})).encode(), "used must be true or false"),
    ("a list", b"[1, 2, 3]\n", "not an exported run"),
    ("lone surrogate", json.dumps(_run_doc(uid="\ud800")).encode(), "runs.jsonl:1"),
]


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_import_files_are_one_line_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    proc = _import(tmp_path, content)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("pytest-rollout: error: ")
    assert "runs.jsonl:1" in lines[0]
    import re

    assert re.search(message, lines[0]), lines[0]


def test_baseline_list_still_works_after_a_refused_import(tmp_path: Path) -> None:
    assert _import(tmp_path, json.dumps(_run_doc(started=1e300)).encode()).returncode == 2
    proc = rollout_cli("baseline", "--store", str(tmp_path / "s.sqlite"), "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- a damaged store


REGRESSION_EVALS = """\
import pytest

@pytest.mark.eval(trials=5, max_regression=0.1)
def test_a(trial):
    pass

@pytest.mark.eval(trials=5, max_regression=0.1)
def test_b(trial):
    pass
"""


def test_a_damaged_store_is_one_line_per_eval(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"test_evals.py": REGRESSION_EVALS}, "base")
    pytester_repo.commit({"notes.txt": "x"}, "head")
    store = pytester.path / "damaged.sqlite"
    store.write_bytes(b"\x00garbage" * 500)
    res = pytester.runpytest(f"--rollout-base={base}", f"--rollout-store={store}")
    res.assert_outcomes(failed=2)
    out = res.stdout.str()
    assert "Traceback" not in out and "StoreError" not in out and "During handling" not in out
    assert out.count("not a pytest-rollout store") >= 2


# ---------------------------------------------------------------- evals that cannot be judged


def test_a_min_score_eval_that_never_scores_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.eval(trials=20, min_score=0.5)
        def test_unscored(trial):
            assert True

        @pytest.mark.eval(trials=20, min_score=0.5)
        async def test_unscored_async(trial):
            assert True

        @pytest.mark.eval(trials=20, min_score=0.5, margin=0.2)
        def test_scored(trial):
            trial.score(0.95)
        """
    )
    res = pytester.runpytest("-p", "no:randomly")
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    # never PASS at 1.00: each unscored trial is an error (or a failure, by the marker's errors=)
    assert "MissingScore: the body returned without calling trial.score(x)" in out
    assert (
        "::test_unscored  " in out and "::test_unscored  PASS" not in out and "::test_unscored_async  PASS" not in out
    )


def test_a_budget_that_drops_a_case_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.eval(trials=10, epochs=5, pass_rate=0.5, cases=[{"id": "a"}, {"id": "b"}, {"id": "c"}])
        def test_cases(trial):
            pass
        """
    )
    res = pytester.runpytest()
    assert res.ret == pytest.ExitCode.INTERRUPTED
    res.stdout.fnmatch_lines(["*trials=10 runs only 2 of the 3 cases x 5 epochs*give trials=15*"])


# ---------------------------------------------------------------- the GitHub step summary


EVALS_FAILING = """\
import pytest

@pytest.mark.eval(trials=10, pass_rate=0.9)
def test_always_fails(trial):
    assert False, "wrong answer"

@pytest.mark.eval(trials=4, pass_rate=0.5)
def test_undecided(trial):
    assert trial.index % 2
"""


def test_summary_headline_is_the_runs_status_and_failing_evals_are_annotated(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pytester_repo.commit({"test_evals.py": EVALS_FAILING}, "base")
    pytester_repo.commit({"notes.txt": "x"}, "unrelated change: the gate passes")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "-p", "no:randomly")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    text = summary.read_text()
    headline = text.splitlines()[2]
    assert headline.startswith("**Run: ❌ FAIL**"), text
    assert "2 eval(s) not passing (FAIL 1, INCONCLUSIVE 1)" in headline
    assert text.index("**Run:") < text.index("Gate decision: ✅ PASS")
    out = res.stdout.str()
    assert "::error file=test_evals.py,line=3::test_evals.py::test_always_fails FAIL: " in out
    assert "::error file=test_evals.py,line=7::test_evals.py::test_undecided INCONCLUSIVE: " in out


def test_summary_of_a_passing_run_says_pass(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pytester_repo.commit({"test_plain.py": "def test_ok():\n    pass\n"}, "base")
    pytester_repo.commit({"notes.txt": "x"}, "head")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    assert res.ret == pytest.ExitCode.OK
    assert summary.read_text().splitlines()[2] == "**Run: ✅ PASS**"


def test_a_gate_error_reaches_the_summary(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pytester_repo.commit({"config/app.yaml": "llm: {model: a}\n"}, "base")
    pytester_repo.commit({"config/app.yaml": "llm: {model: [unclosed\n"}, "broken config")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    text = summary.read_text()
    assert "**Run: ❌ ERROR**: the gate could not decide: " in text and "config/app.yaml" in text, text
    assert "::error title=pytest-rollout::" in res.stderr.str()
    # the CLI too
    summary.unlink()
    proc = rollout_cli("check", "--base", base, cwd=pytester.path)
    assert proc.returncode == 2
    assert "**Run: ❌ ERROR**" in summary.read_text()
    assert proc.stdout.startswith("::error title=pytest-rollout::")
