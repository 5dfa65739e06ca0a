"""Baselines for real: record at a base commit, compare a head against it (SQLite in tmp_path)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import GitRepo

EVAL = """
import pathlib, random
import pytest, yaml

RATES = {"m-good": 0.90, "m-twin": 0.90, "m-worse": 0.78}
CASES = [{"id": f"c{i}", "difficulty": (i % 7) / 60} for i in range(300)]

@pytest.fixture(scope="module")
def model_rate():
    return RATES[yaml.safe_load(pathlib.Path("config/app.yaml").read_text())["llm"]["model"]]

@pytest.mark.layer("model")
@pytest.mark.eval(trials=900, max_regression=0.05, cases=CASES, epochs=3)
def test_quality(trial, model_rate):
    assert random.Random(trial.seed).random() < model_rate - trial.case["difficulty"]
"""

APP = "llm:\n  model: {model}\n  temperature: 0.2\n"


def _repo(repo: GitRepo, model: str = "m-good") -> str:
    return repo.commit({"config/app.yaml": APP.format(model=model), "test_quality.py": EVAL}, "base")


def _evals(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, dict]:
    doc = json.loads((pytester.path / name).read_text())
    return {e["nodeid"].split("::")[1]: e for e in doc["evals"]}


def test_record_then_compare(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = _repo(pytester_repo)
    rec = pytester.runpytest("--rollout-record", "--rollout-seed=1", f"--rollout-base={base}")
    rec.assert_outcomes(passed=1)
    store = pytester.path / ".rollout" / "store.sqlite"
    assert store.exists()

    # a code-only commit keeps the baseline valid; the same model passes
    pytester_repo.commit({"README.md": "docs\n"}, "docs only")
    same = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2", "--rollout-report=r.json", "-v")
    same.assert_outcomes(passed=1)
    e = _evals(pytester)["test_quality"]
    assert e["verdict"] == "PASS" and e["baseline_commit"] == base
    lo, hi = e["change_interval"]
    assert lo <= 0.0 <= hi  # anytime-valid: covers the true change (none) even after an early stop
    same.stdout.fnmatch_lines(["*change vs baseline * >= -0.05 (paired on * cases, baseline *)*"])  # -v: whole line


def test_real_drop_fails(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = _repo(pytester_repo)
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    pytester_repo.commit({"config/app.yaml": APP.format(model="m-worse")}, "swap model")
    res = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=3", "--rollout-report=r.json")
    res.assert_outcomes(failed=1)
    e = _evals(pytester)["test_quality"]
    assert e["verdict"] == "FAIL" and e["change"] < -0.05 and e["stopped_early"]
    res.stdout.fnmatch_lines(["FAIL: change vs baseline -0.* >= -0.05 (paired on * cases, baseline *"])


def test_prompt_edit_invalidates_baseline(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _repo(pytester_repo)
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    # the eval measures the model layer: a model edit at the BASE moves its fingerprint
    base2 = pytester_repo.commit({"config/app.yaml": APP.format(model="m-twin")}, "model twin")
    pytester_repo.commit({"README.md": "x\n"}, "docs")
    res = pytester.runpytest(f"--rollout-base={base2}", "--rollout-seed=2")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(
        [
            "NO_BASELINE: no baseline for test_quality.py::test_quality in *store.sqlite with the config of the "
            "release's base * (layers model): record one on that commit with `pytest --rollout-record`*"
        ]
    )


def test_missing_baseline_fails_or_skips(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = _repo(pytester_repo)
    res = pytester.runpytest(f"--rollout-base={base}")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["NO_BASELINE: no baseline for *(no store yet)*"])
    pytester.runpytest(f"--rollout-base={base}", "--rollout-missing-baseline=skip").assert_outcomes(skipped=1)


def test_no_base_commit_says_how(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _repo(pytester_repo)
    res = pytester.runpytest()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["NO_BASELINE: no baseline for *: no base ref to compare against: pass --base REF*"])


def test_xdist_recording_and_drift(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _repo(pytester_repo)
    pytester.makepyfile(
        test_plain="import pytest\n@pytest.mark.eval(trials=100, pass_rate=0.5, margin=0.3)\n"
        "def test_easy(trial):\n    pass\n"
    )
    pytester_repo.commit({}, "more")
    rec = pytester.runpytest_subprocess("--rollout-record", "--rollout-seed=1", "-n", "2")
    rec.assert_outcomes(passed=2)
    db = sqlite3.connect(pytester.path / ".rollout" / "store.sqlite")
    assert db.execute("select count(*), sum(complete) from runs").fetchone() == (1, 1)
    assert db.execute("select count(*) from evals").fetchone() == (2,)
    drift = pytester.runpytest("--rollout-drift", "--rollout-seed=9", "--rollout-report=r.json")
    drift.assert_outcomes(passed=1, deselected=1)
    assert _evals(pytester)["test_quality"]["verdict"] == "PASS"


def test_recording_refuses_uncommitted_config(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _repo(pytester_repo)
    (pytester.path / "config" / "app.yaml").write_text(APP.format(model="m-worse"))
    res = pytester.runpytest_subprocess("--rollout-record")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(
        ["ERROR: rollout: --rollout-record: uncommitted changes to watched config (config/app.yaml)*"]
    )


UNPAIRED = """
import pathlib, random
import pytest, yaml

RATES = {"m-good": 0.90, "m-worse": 0.75}

@pytest.fixture(scope="module")
def rate():
    return RATES[yaml.safe_load(pathlib.Path("config/app.yaml").read_text())["llm"]["model"]]

@pytest.mark.layer("model")
@pytest.mark.eval(trials=1500, max_regression=0.05)
def test_unpaired(trial, rate):
    assert random.Random(trial.seed).random() < rate
"""


def test_unpaired_regression_without_cases(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"config/app.yaml": APP.format(model="m-good"), "test_unpaired.py": UNPAIRED})
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    pytester_repo.commit({"config/app.yaml": APP.format(model="m-worse")}, "worse model")
    res = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2", "--rollout-report=r.json")
    res.assert_outcomes(failed=1)
    e = _evals(pytester)["test_unpaired"]
    assert e["verdict"] == "FAIL" and e["criterion"] == "max_regression" and e["change"] < 0
    res.stdout.fnmatch_lines(["FAIL: change vs baseline -0.* >= -0.05 (unpaired, * trial pairs, baseline *)*"])


ALIGNED = """
import os, pytest

CASES = [{"id": f"c{i}", "ok": i % 2 == 0} for i in range(60)]
FLAKY = {"c3", "c7", "c11", "c23", "c42"}

@pytest.mark.eval(trials=60, max_regression=0.05, cases=CASES, max_error_rate=0.2)
def test_aligned(trial):
    if os.environ.get("FLAKY") and trial.case_id in FLAKY:
        raise ConnectionError("rate limited")
    assert trial.case["ok"]
"""


def test_a_skipped_case_does_not_shift_the_pairing(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pytester_repo.commit({"config/app.yaml": APP.format(model="m-good"), "test_aligned.py": ALIGNED})
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    monkeypatch.setenv("FLAKY", "1")
    pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2", "--rollout-report=r.json")
    e = _evals(pytester)["test_aligned"]
    assert e["errors"] >= 1
    assert e["change"] == 0.0  # every paired case is identical: misaligned pairs would differ


def test_a_team_store_on_postgresql(
    pytester: pytest.Pytester, pytester_repo: GitRepo, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main records on one runner into the server; a PR on another runner (another folder) finds it there."""
    from test_store import fresh_database

    for url in fresh_database(postgres_url):
        base = _repo(pytester_repo)
        secret_url = url.replace("postgres@", "postgres:s3cr3t@")  # trust auth ignores it; it must never print
        rec = pytester.runpytest("--rollout-record", "--rollout-seed=1", f"--rollout-store={secret_url}")
        rec.assert_outcomes(passed=1)
        assert not (pytester.path / ".rollout").exists() and not (pytester.path / "postgresql:").exists()
        pytester_repo.commit({"config/app.yaml": APP.format(model="m-worse")}, "swap model")
        monkeypatch.setenv("ROLLOUT_STORE", secret_url)  # the PR job: the URL from a CI secret
        res = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=3", "--rollout-report=r.json")
        res.assert_outcomes(failed=1)
        assert _evals(pytester)["test_quality"]["baseline_commit"] == base
        out = rec.stdout.str() + res.stdout.str() + (pytester.path / "r.json").read_text()
        assert "s3cr3t" not in out


# ------------------------------------------------------ baselines that stay honest


def _git(repo: GitRepo, *args: str) -> str:
    return str(repo.repo.git.execute(["git", *args]))


def test_a_failed_recording_is_never_the_next_baseline(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    """The ratchet: a release that FAILed and was recorded anyway must not become the reference."""
    _repo(pytester_repo)
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    good = pytester_repo.sha()
    worse = pytester_repo.commit({"config/app.yaml": APP.format(model="m-worse")}, "swap model")
    rec = pytester.runpytest("--rollout-record", "--rollout-seed=2", f"--rollout-base={good}")
    rec.assert_outcomes(failed=1)  # recorded, with verdict FAIL
    pytester_repo.commit({"README.md": "x\n"}, "docs")
    res = pytester.runpytest(f"--rollout-base={worse}", "--rollout-seed=3")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["NO_BASELINE: no baseline for test_quality.py::test_quality*"])


def test_a_recording_off_the_base_history_is_not_a_baseline(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    """Same config, but recorded on a branch the base does not contain: not its baseline."""
    pytester_repo.write({".gitignore": ".rollout/\n"})  # the store stays out of every commit
    root = _repo(pytester_repo)
    _git(pytester_repo, "checkout", "-q", "-b", "side")
    side = pytester_repo.commit({"notes.md": "side\n"}, "side work")
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    _git(pytester_repo, "checkout", "-q", "main")
    base = pytester_repo.commit({"README.md": "main\n"}, "main work")
    pytester_repo.commit({"README.md": "main 2\n"}, "head")
    res = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["NO_BASELINE: no baseline for *"])
    # recorded at the root of both, it is
    _git(pytester_repo, "checkout", "-q", root)
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    _git(pytester_repo, "checkout", "-q", "main")
    ok = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2", "--rollout-report=r.json")
    ok.assert_outcomes(passed=1)
    assert _evals(pytester)["test_quality"]["baseline_commit"] == root != side


def test_a_replay_is_exact_after_newer_runs_and_a_pin_names_the_run(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    pytester_repo.write({".gitignore": ".rollout/\nr.json\n"})  # the report is JSON: not config to commit
    base = _repo(pytester_repo)
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    pytester_repo.commit({"README.md": "x\n"}, "code only")
    pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=5", "--rollout-report=r.json")
    first = _evals(pytester)["test_quality"]
    _git(pytester_repo, "checkout", "-q", base)
    pytester.runpytest("--rollout-record", "--rollout-seed=7").assert_outcomes(passed=1)  # a newer run at the base
    _git(pytester_repo, "checkout", "-q", "main")
    pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=5", "--rollout-report=r.json")
    again = _evals(pytester)["test_quality"]
    keys = ("verdict", "n", "change", "change_interval", "baseline_run", "baseline_commit")
    assert [again[k] for k in keys] == [first[k] for k in keys]
    # pinning the newer run compares with it; the ini key does the same
    newer = first["baseline_run"] + 1
    pinned = pytester.runpytest(
        f"--rollout-base={base}", "--rollout-seed=5", f"--rollout-baseline=run:{newer}", "--rollout-report=r.json"
    )
    pinned.assert_outcomes(passed=1)
    assert _evals(pytester)["test_quality"]["baseline_run"] == newer
    pytester.makeini(f"[pytest]\nrollout_baseline = {newer}\n")
    pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=5", "--rollout-report=r.json")
    assert _evals(pytester)["test_quality"]["baseline_run"] == newer
    # a pin that is not a baseline says why, and fails
    bad = pytester.runpytest(f"--rollout-base={base}", "--rollout-baseline=run:99")
    bad.assert_outcomes(failed=1)
    bad.stdout.fnmatch_lines(["NO_BASELINE: *--rollout-baseline run:99 (run 99) is not in the store*"])
    pytester.runpytest("--rollout-record", "--rollout-seed=8").assert_outcomes(passed=1)  # at the head
    later = pytester.runpytest(f"--rollout-base={base}", f"--rollout-baseline=run:{newer + 1}")
    later.assert_outcomes(failed=1)
    later.stdout.fnmatch_lines([f"NO_BASELINE: *(run {newer + 1}) was recorded at *, not an ancestor of the base*"])
    nowhere = pytester.runpytest(f"--rollout-base={base}", "--rollout-baseline=no-such-ref")
    nowhere.assert_outcomes(failed=1)
    nowhere.stdout.fnmatch_lines(["*--rollout-baseline 'no-such-ref': neither a run id*"])


def test_a_baseline_with_fewer_epochs_warns(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester_repo.commit(
        {"config/app.yaml": APP.format(model="m-good"), "test_quality.py": EVAL.replace("epochs=3", "epochs=1")}
    )
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    base = pytester_repo.sha()
    pytester_repo.commit({"test_quality.py": EVAL}, "three epochs")  # eval code only: the baseline stays
    res = pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=2")
    res.stdout.fnmatch_lines(
        ["*rollout: the baseline of test_quality.py::test_quality (run 1 at *) was recorded with 1 epoch(s)*"]
    )
    # the fix the warning names: record with as many epochs and pin that run
    pytester.runpytest("--rollout-record", "--rollout-seed=3").assert_outcomes(passed=1)  # run 2, 3 epochs
    three = pytester_repo.sha()
    pytester_repo.commit({"README.md": "x\n"}, "docs")
    quiet = pytester.runpytest(f"--rollout-base={three}", "--rollout-seed=2", "--rollout-baseline=run:2")
    quiet.assert_outcomes(passed=1)
    assert "epoch(s) per case" not in quiet.stdout.str()
