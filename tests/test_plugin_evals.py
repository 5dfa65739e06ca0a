"""Evals through pytester: seeded Bernoulli "models", real verdicts, real selection."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head

EVALS = """
import asyncio, random
import pytest

def model(seed, p):
    return random.Random(seed).random() < p

@pytest.mark.layer("prompt")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_good(trial):
    assert model(trial.seed, 0.97)

@pytest.mark.layer("model")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10)
def test_bad(trial):
    assert model(trial.seed, 0.40), "wrong answer"

@pytest.mark.layer("infra")
@pytest.mark.eval(trials=400, pass_rate=0.80, margin=0.10, concurrency=8)
async def test_async(trial):
    await asyncio.sleep(random.Random(trial.seed).random() / 500)
    assert model(trial.seed, 0.97)

@pytest.mark.layer("context")
@pytest.mark.eval(trials=300, min_score=0.70, margin=0.10, cases=[{"id": f"q{i}", "k": i} for i in range(60)], epochs=3)
def test_cases(trial):
    trial.score(0.95 if trial.case["k"] % 4 else 0.75)

def test_ordinary():
    pass
"""


def test_good_passes_early_bad_fails_early(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    res = pytester.runpytest("--rollout-seed=11", "--rollout-report=r.json", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=4, failed=1)
    doc = json.loads((pytester.path / "r.json").read_text())
    by = {e["nodeid"].split("::")[1]: e for e in doc["evals"]}
    assert by["test_good"]["verdict"] == "PASS" and by["test_good"]["stopped_early"] and by["test_good"]["n"] < 100
    assert by["test_bad"]["verdict"] == "FAIL" and by["test_bad"]["n"] < 60
    assert by["test_async"]["verdict"] == "PASS"
    assert by["test_cases"]["verdict"] == "PASS" and by["test_cases"]["epochs"] == 3
    assert by["test_cases"]["n"] == 3 * by["test_cases"]["cases"]  # whole cases only
    lo, hi = by["test_good"]["interval"]
    assert lo < by["test_good"]["estimate"] <= hi
    assert {"holm_p", "bh_q", "p_value"} <= set(by["test_bad"])
    assert "decision" not in doc and "layers_changed" not in doc  # no gate fields without the gate
    res.stdout.fnmatch_lines(
        [
            "*test_bad*",
            "FAIL: pass rate 0.* vs 0.80 (margin 0.10)  n=*/400, stopped early*",
            "first failing trials (replay with --rollout-seed 11):",
            "  trial * seed=*: fail: wrong answer",
        ]
    )
    res.stdout.fnmatch_lines(["*= rollout =*", "evals:", "  test_evals.py::test_async *PASS*"])


def test_same_seed_same_verdicts_serial_and_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    serial = pytester.runpytest_subprocess("--rollout-seed=5", "-p", "no:cacheprovider", "--rollout-report=s.json")
    dist = pytester.runpytest_subprocess(
        "--rollout-seed=5", "-p", "no:cacheprovider", "-n", "2", "--rollout-report=d.json"
    )
    dist.assert_outcomes(passed=4, failed=1)
    key = lambda e: (e["verdict"], e["n"], e["estimate"], e["passes"], e["failures"])  # noqa: E731
    s = {e["nodeid"]: key(e) for e in json.loads((pytester.path / "s.json").read_text())["evals"]}
    d = {e["nodeid"]: key(e) for e in json.loads((pytester.path / "d.json").read_text())["evals"]}
    assert s == d and len(s) == 4
    assert serial.ret == dist.ret == pytest.ExitCode.TESTS_FAILED


def test_error_trials_count_apart(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import random, pytest

        @pytest.mark.eval(trials=300, pass_rate=0.8, margin=0.1, max_error_rate=0.2)
        def test_flaky_provider(trial):
            r = random.Random(trial.seed)
            if r.random() < 0.05:
                raise TimeoutError("provider timed out")
            assert r.random() < 0.97

        @pytest.mark.eval(trials=300, pass_rate=0.8, margin=0.1)
        def test_down(trial):
            raise ConnectionError("rate limited")
    """)
    res = pytester.runpytest("--rollout-seed=3", "--rollout-report=r.json")
    res.assert_outcomes(passed=1, failed=1)
    by = {e["nodeid"].split("::")[1]: e for e in json.loads((pytester.path / "r.json").read_text())["evals"]}
    assert (
        by["test_flaky_provider"]["verdict"] == "PASS"
        and by["test_flaky_provider"]["failures"] < by["test_flaky_provider"]["n"]
    )
    assert by["test_down"]["verdict"] == "ERROR" and by["test_down"]["errors"] > 0
    res.stdout.fnmatch_lines(["*error ConnectionError: rate limited*"])


def test_inconclusive_fails_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.eval(trials=20, pass_rate=0.8, margin=0.05)
        def test_tiny(trial):
            assert trial.index % 5 != 0
    """)
    res = pytester.runpytest("--rollout-seed=1", "-W", "ignore::pytest.PytestWarning")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["INCONCLUSIVE: *n=20/20*"])
    pytester.runpytest(
        "--rollout-seed=1", "--rollout-inconclusive=pass", "-W", "ignore::pytest.PytestWarning"
    ).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        (
            "@pytest.mark.eval(trials=100, pass_rat=0.8)",
            "*eval(): unknown argument 'pass_rat'; allowed: backoff, cases, *",
        ),
        ("@pytest.mark.eval(pass_rate=0.8)", "*trials*"),
        (
            "@pytest.mark.layer('promt')\n@pytest.mark.eval(trials=100, pass_rate=0.8)",
            "*unknown layer 'promt'; known layers: app, context, infra, model, params, prompt, tools (did you mean 'prompt'?)*",
        ),
    ],
)
def test_bad_markers_are_collection_errors(pytester: pytest.Pytester, marks: str, message: str) -> None:
    pytester.makepyfile(f"import pytest\n{marks}\ndef test_x(trial):\n    pass\n")
    res = pytester.runpytest()
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines([message])
    assert "Traceback" not in res.stdout.str()


def test_trial_fixture_without_eval(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(trial):\n    pass\n")
    res = pytester.runpytest()
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*the `trial` fixture needs @pytest.mark.eval*"])


def test_junitxml_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    pytester.runpytest("--rollout-seed=2", "--junitxml=j.xml", "-k", "good")
    xml = (pytester.path / "j.xml").read_text()
    assert '<property name="rollout_verdict" value="PASS"' in xml


def _gate_repo(repo: GitRepo) -> str:
    base = repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "base")
    return base


def test_gate_selects_evals_of_moved_layers(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makepyfile(test_evals=EVALS)
    base = _gate_repo(pytester_repo)
    _, serving = seed_head()
    pytester_repo.commit({"deploy/serving.yaml": serving}, "infra only")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-seed=4", "--rollout-report=r.json")
    res.assert_outcomes(passed=3, deselected=3)  # gate + async (infra) + ordinary
    doc = json.loads((pytester.path / "r.json").read_text())
    assert [e["nodeid"] for e in doc["evals"]] == ["test_evals.py::test_async"]
    reasons = {d["nodeid"]: d["reason"] for d in doc["deselected"]}
    assert reasons["test_evals.py::test_good"] == "layer prompt did not move"
    res.stdout.fnmatch_lines(["not run (3):", "  test_evals.py::test_bad: layer model did not move"])


def test_blocked_gate_runs_no_eval(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makepyfile(test_evals=EVALS)
    base = _gate_repo(pytester_repo)
    app, serving = seed_head()
    pytester_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundle")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    res.assert_outcomes(passed=1, failed=1, deselected=4)
    res.stdout.fnmatch_lines(["*test_bad: the gate blocked this release: split it first*"])


def test_forced_layers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    res = pytester.runpytest("--rollout-layers=prompt,context", "--rollout-seed=4")
    res.assert_outcomes(passed=3, deselected=2)


def test_xdist_deselection_reasons_reach_the_controller(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makepyfile(test_evals=EVALS)
    base = _gate_repo(pytester_repo)
    _, serving = seed_head()
    pytester_repo.commit({"deploy/serving.yaml": serving}, "infra only")
    res = pytester.runpytest_subprocess(
        "--rollout-gate", f"--rollout-base={base}", "-n", "2", "--rollout-report=r.json"
    )
    res.assert_outcomes(passed=3)
    doc = json.loads((pytester.path / "r.json").read_text())
    assert len(doc["deselected"]) == 3 and [e["verdict"] for e in doc["evals"]] == ["PASS"]


def test_forced_layers_are_validated_and_added_to_the_moved_ones(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    pytester.makepyfile(test_evals=EVALS)
    res = pytester.runpytest_subprocess("--rollout-layers=promt")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: --rollout-layers: unknown layer 'promt'; known layers: *"])
    base = _gate_repo(pytester_repo)
    _, serving = seed_head()
    pytester_repo.commit({"deploy/serving.yaml": serving}, "infra only")
    res = pytester.runpytest(
        "--rollout-gate",
        f"--rollout-base={base}",
        "--rollout-layers=prompt",
        "--rollout-seed=4",
        "--rollout-report=r.json",
    )
    res.assert_outcomes(passed=4, deselected=2)  # gate, infra (moved), prompt (forced), ordinary
    reasons = {d["nodeid"]: d["reason"] for d in json.loads((pytester.path / "r.json").read_text())["deselected"]}
    assert reasons["test_evals.py::test_bad"] == "layer model did not move and is not in --rollout-layers"


def test_a_fixture_cannot_read_the_trial(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import random, pytest

        @pytest.fixture
        def coin(trial):
            return random.Random(trial.seed).random() < 0.5

        @pytest.mark.eval(trials=100, pass_rate=0.5, margin=0.3)
        def test_coin(trial, coin):
            assert coin
    """)
    res = pytester.runpytest()
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*`trial` is only valid inside the eval's test body*"])


def test_blocked_release_fails_even_if_the_gate_is_deselected(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    base = _gate_repo(pytester_repo)
    pytester.makepyfile(test_a="def test_a():\n    assert False\n")
    pytester_repo.commit({}, "a failing test")
    first = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}")
    first.assert_outcomes(passed=1, failed=1)  # the gate passes, test_a fails: --lf will pick test_a only
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    app, serving = seed_head()
    pytester_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundle")
    res = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}", "--lf")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["rollout: the release is blocked but rollout::gate did not run*"])


def test_empty_window_is_said(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _gate_repo(pytester_repo)
    res = pytester.runpytest("--rollout-gate", "--rollout-base=HEAD")
    res.stdout.fnmatch_lines(["rollout: warning: the release window is empty*"])
    res = pytester.runpytest_subprocess("--rollout-gate", "--rollout-base=")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


def test_unwritable_report_fails_before_the_evals(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_evals=EVALS)
    (pytester.path / "afile").write_text("x")
    res = pytester.runpytest_subprocess("--rollout-report=afile/r.json")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: --rollout-report afile/r.json: cannot create its folder*"])


def test_full_budget_runs_every_trial_and_reports_each_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_evals=EVALS
        + """
@pytest.mark.layer("context")
@pytest.mark.eval(trials=40, max_regression=0.05, cases=[{"id": f"c{i}"} for i in range(20)], epochs=2)
def test_regression_only(trial):
    assert model(trial.seed, 0.9)
"""
    )
    res = pytester.runpytest("--rollout-seed=11", "--rollout-report=r.json", "--rollout-full-budget")
    doc = json.loads((pytester.path / "r.json").read_text())
    by = {e["nodeid"].split("::")[1]: e for e in doc["evals"]}
    assert by["test_good"]["n"] == by["test_good"]["budget"] == 400 and not by["test_good"]["stopped_early"]
    values = by["test_bad"]["trials"]
    assert [t["index"] for t in values] == list(range(400))
    assert sum(t["value"] for t in values) == by["test_bad"]["passes"]
    regression = by["test_regression_only"]  # no baseline is looked up: every trial runs all the same
    assert regression["n"] == 40 and regression["max_regression"] == 0.05
    assert {t["case"] for t in regression["trials"]} == {f"c{i}" for i in range(20)}
    assert {t["epoch"] for t in regression["trials"]} == {0, 1}
    res.assert_outcomes(passed=4, failed=2)  # test_bad fails; the regression-only eval has no verdict
