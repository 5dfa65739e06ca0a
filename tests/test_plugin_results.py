"""What an eval leaves to look at, through real pytest runs: notes, usage and cost, max_cost, per-case
results against the baseline, more failing trials, junit properties and skipped evals, retries."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head

NOTES = """
import random
import pytest

@pytest.mark.eval(trials=40, pass_rate=0.5, margin=0.2, cases=[(f"q{i}", i) for i in range(40)])
def test_answers(trial):
    trial.usage(input_tokens=100, output_tokens=20, cost=0.001)
    trial.usage(input_tokens=1)
    trial.note("answer for " + trial.case_id + " with key sk-proj-" + "A1b2" * 10)
    trial.note("x" * 10_000)
    assert random.Random(trial.seed).random() < 0.9, "wrong answer"
"""


def _evals(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, dict]:
    doc = json.loads((pytester.path / name).read_text())
    return {e["nodeid"].split("::")[1]: e for e in doc["evals"]}


def test_notes_and_usage_reach_the_report_the_line_and_the_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_notes=NOTES)
    res = pytester.runpytest("--rollout-seed=3", "--rollout-report=r.json")
    doc = json.loads((pytester.path / "r.json").read_text())
    e = doc["evals"][0]
    ran = e["usage"]["trials"]
    assert ran >= e["n"] and e["usage"] == {
        "input_tokens": 101 * ran,
        "output_tokens": 20 * ran,
        "cost": pytest.approx(0.001 * ran),
        "trials": ran,
    }
    assert doc["usage"] == e["usage"]  # the run's total
    note = e["trials"][0]["note"]
    assert note.startswith(f"answer for {e['trials'][0]['case']} with key ***") and "A1b2" not in note
    assert len(note) == 2000 and note.endswith("…")  # NOTE_LIMIT, masked before the cut
    res.stdout.fnmatch_lines([f"*usage: {101 * ran:,} input + {20 * ran:,} output tokens, cost *"])
    res.stdout.fnmatch_lines([f"usage: * over {ran} trials"])
    assert "A1b2A1b2" not in res.stdout.str()


def test_a_bad_usage_value_is_not_counted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.eval(trials=20, pass_rate=0.5, margin=0.2)
        def test_x(trial):
            trial.usage(cost=-1.0)
    """)
    res = pytester.runpytest("--rollout-seed=1", "--rollout-report=r.json", "-W", "ignore::pytest.PytestWarning")
    res.assert_outcomes(failed=1)
    e = _evals(pytester)["test_x"]
    assert e["verdict"] == "FAIL" and e["usage"] is None
    res.stdout.fnmatch_lines(["*trial.usage(cost=-1.0): a cost is a finite number >= 0*"])


COSTLY = """
import random
import pytest

@pytest.mark.eval(trials=300, pass_rate=0.8, margin=0.05, max_cost=0.10)
def test_undecided(trial):
    trial.usage(cost=0.01)
    assert random.Random(trial.seed).random() < 0.8

@pytest.mark.eval(trials=300, pass_rate=0.5, margin=0.2, max_cost=10.0)
def test_cheap_enough(trial):
    trial.usage(cost=0.01)
"""


def test_max_cost_stops_an_eval_with_a_verdict_of_its_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_costly=COSTLY)
    res = pytester.runpytest("--rollout-seed=5", "--rollout-report=r.json", "-W", "ignore::pytest.PytestWarning")
    res.assert_outcomes(passed=1, failed=1)
    by = _evals(pytester)
    e = by["test_undecided"]
    assert e["verdict"] == "COST_LIMIT" and e["max_cost"] == 0.10
    assert e["usage"]["cost"] <= 0.10 + 1e-9 and e["n"] == 10  # serial: stops before the 11th trial
    assert by["test_cheap_enough"]["verdict"] == "PASS"
    res.stdout.fnmatch_lines(["COST_LIMIT: *stopped at max_cost=0.1: the next trial would pass it*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("retries=-1", "*test_x: eval(): retries= must be an int >= 0*got -1"),
        ("retries=True", "*retries= must be an int >= 0*got True"),
        ("retry_on=TimeoutError", "*retry_on= has no effect without retries=: add retries=3*"),
        ("retries=2, retry_on=AssertionError", "*retry_on= takes exception classes (never AssertionError*"),
        ("retries=2, retry_on='RateLimitError'", "*retry_on= takes exception classes*"),
        ("retries=2, backoff=-1", "*backoff=-1.0 is out of range; allowed: finite seconds >= 0*"),
        ("max_cost=0", "*max_cost=0.0 is out of range; allowed: a finite number > 0*"),
        ("max_cost=float('inf')", "*max_cost=inf is out of range*"),
        ("max_cots=1.0", "*unknown argument 'max_cots'*(did you mean 'max_cost'?)*"),
    ],
)
def test_bad_spending_arguments_are_one_line_collection_errors(
    pytester: pytest.Pytester, args: str, message: str
) -> None:
    pytester.makepyfile(
        f"import pytest\n@pytest.mark.eval(trials=10, pass_rate=0.8, {args})\ndef test_x(trial):\n    pass\n"
    )
    res = pytester.runpytest()
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines([message])
    assert "Traceback" not in res.stdout.str()


FAILING = """
import pytest

@pytest.mark.eval(trials=60, pass_rate=0.8, margin=0.1)
def test_bad(trial):
    trial.note(f"the model said {trial.index}")
    assert trial.index % 2, "wrong"
"""


def test_rollout_failures_shows_more_failing_trials(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_failing=FAILING)
    res = pytester.runpytest("--rollout-seed=1", "--rollout-failures=6", "--rollout-report=r.json")
    assert len(_evals(pytester)["test_bad"]["failing_trials"]) == 6
    res.stdout.fnmatch_lines(["  trial 10 seed=*: fail: wrong | note: the model said 10"])
    pytester.makeini("[pytest]\nrollout_failures = 1\n")
    pytester.runpytest("--rollout-seed=1", "--rollout-report=r.json")
    assert len(_evals(pytester)["test_bad"]["failing_trials"]) == 1
    bad = pytester.runpytest("--rollout-failures=-2")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--rollout-failures: '-2': the number of failing trials shown must be >= 0"])


GATED = """
import pytest

@pytest.mark.layer("infra")
@pytest.mark.eval(trials=100, pass_rate=0.5, margin=0.2)
def test_infra(trial):
    trial.usage(cost=0.5)

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=100, pass_rate=0.5, margin=0.2)
def test_prompt(trial):
    pass
"""


def test_junit_has_json_properties_and_the_evals_not_run(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "b")
    pytester_repo.commit({"deploy/serving.yaml": seed_head()[1]}, "infra only")
    pytester.makepyfile(test_gated=GATED)
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-seed=2", "--junitxml=j.xml")
    res.assert_outcomes(passed=2, deselected=1)
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "j.xml").getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_infra"].iter("property")}
    lo, hi = json.loads(props["rollout_interval"])  # JSON, not "(0.9, 1.0)"
    assert lo <= float(props["rollout_estimate"]) <= hi and props["rollout_verdict"] == "PASS"
    assert json.loads(props["rollout_usage"])["cost"] > 0
    skipped = cases["test_prompt"].find("skipped")
    assert skipped is not None and skipped.get("message") == "not run: layer prompt did not move"
    assert cases["test_prompt"].get("classname") == "test_gated"


CASES = """
import pathlib, random
import pytest, yaml

CASES = [{"id": f"c{i}"} for i in range(30)]

@pytest.mark.layer("model")
@pytest.mark.eval(trials=90, max_regression=0.2, cases=CASES, epochs=3)
def test_quality(trial):
    model = yaml.safe_load(pathlib.Path("config/app.yaml").read_text())["llm"]["model"]
    broken = model == "m-worse" and int(trial.case_id[1:]) < 10
    assert not broken and random.Random(trial.seed).random() < 0.95
"""


def test_per_case_results_list_the_cases_that_got_worse_first(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    app = "llm:\n  model: {}\n"
    base = pytester_repo.commit({"config/app.yaml": app.format("m-good"), "test_quality.py": CASES}, "base")
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    pytester_repo.commit({"config/app.yaml": app.format("m-worse")}, "swap model")
    pytester.runpytest(f"--rollout-base={base}", "--rollout-seed=1", "--rollout-report=r.json")
    rows = _evals(pytester)["test_quality"]["per_case"]
    worse = [r for r in rows if r["worse"]]
    assert worse and rows[: len(worse)] == worse  # the cases that got worse come first, largest drop first
    assert [r["change"] for r in worse] == sorted(r["change"] for r in worse)
    broken = {f"c{i}" for i in range(10)}
    assert {r["case"] for r in worse} == {r["case"] for r in rows if r["case"] in broken}
    for r in rows:  # one seed: the unbroken cases ran the very same trials
        assert r["n"] == 3 and r["baseline"] is not None
        assert r["change"] == pytest.approx(r["mean"] - r["baseline"])
        assert (r["mean"] == 0.0) if r["case"] in broken else (r["change"] == 0.0)


def test_recording_stores_each_trials_note_usage_and_retries(
    pytester: pytest.Pytester, pytester_repo: GitRepo, tmp_path: Path
) -> None:
    body = (
        "import pytest\nSEEN = set()\nclass RateLimitError(Exception):\n    pass\n"
        "@pytest.mark.eval(trials=20, pass_rate=0.5, margin=0.2, retries=1, backoff=0)\n"
        "def test_x(trial):\n"
        "    trial.usage(input_tokens=7, output_tokens=3, cost=0.25)\n"
        "    if trial.index == 0 and trial.index not in SEEN:\n"
        "        SEEN.add(trial.index)\n"
        "        raise RateLimitError('429')\n"
        "    trial.note('token=hunter2hunter2 said yes')\n"
    )
    pytester_repo.commit({"config/app.yaml": "llm:\n  model: m\n", "test_x.py": body}, "base")
    pytester.runpytest("--rollout-record", "--rollout-seed=1").assert_outcomes(passed=1)
    db = sqlite3.connect(pytester.path / ".rollout" / "store.sqlite")
    rows = db.execute(
        "SELECT idx, note, input_tokens, output_tokens, cost, retries FROM trials ORDER BY idx"
    ).fetchall()
    assert rows[0] == (0, "token=*** said yes", 14, 6, 0.5, 1)  # the retried attempt's usage adds up
    assert all(r[1:] == ("token=*** said yes", 7, 3, 0.25, 0) for r in rows[1:])
    out = tmp_path / "runs.jsonl"
    assert pytester.run("pytest-rollout", "baseline", "export", str(out)).ret == 0
    trial = json.loads(out.read_text().splitlines()[0])["evals"][0]["trials"][0]
    assert (trial["note"], trial["cost"], trial["retries"]) == ("token=*** said yes", 0.5, 1)
