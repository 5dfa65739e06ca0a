"""Progress of long evals: a live line on a terminal (forced here with ``--rollout-progress=live``),
one line per eval in CI logs, nothing under ``-q`` or when the output is not a terminal."""

from __future__ import annotations

import json
import re

import pytest

from pytest_rollout.progress import Progress, duration, finished_line, resolve_mode

EVALS = """\
import pytest

@pytest.mark.eval(trials=20, pass_rate=0.6, margin=0.4)
def test_good(trial):
    assert True

@pytest.mark.eval(trials=12, pass_rate=0.5, margin=0.3, concurrency=3)
def test_mixed(trial):
    assert trial.seed % 3, "wrong"

@pytest.mark.eval(trials=6, pass_rate=0.6, margin=0.4)
async def test_async(trial):
    assert True
"""


@pytest.fixture
def evals(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("CI", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_e=EVALS)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def _verdicts(pytester: pytest.Pytester) -> dict[str, tuple[str, int]]:
    doc = json.loads((pytester.path / "r.json").read_text())
    return {e["nodeid"].split("::")[1]: (e["verdict"], e["n"]) for e in doc["evals"]}


def test_live_progress_rewrites_one_line_per_eval(evals: pytest.Pytester) -> None:
    res = evals.runpytest("--rollout-progress=live", "--rollout-seed=5", "--rollout-report=r.json", "-p", "no:randomly")
    out = res.stdout.str()
    verdicts = _verdicts(evals)
    for name, budget in (("test_good", 20), ("test_mixed", 12), ("test_async", 6)):
        # pytester's output turns each carriage return into a line break: one line per rewrite
        counts = [
            int(n) for n in re.findall(rf"^rollout: test_e.py::{name}  (\d+)/{budget} trials  pass rate ", out, re.M)
        ]
        assert counts, out
        assert counts == sorted(counts) and counts[-1] >= verdicts[name][1]  # trials run >= trials the verdict used
    assert "at most" in out and "done in" in out  # what is left while it runs; the end
    # the counting wrapper changes nothing: the same seed without progress gives the same verdicts
    evals.runpytest("--rollout-progress=off", "--rollout-seed=5", "--rollout-report=r.json", "-p", "no:randomly")
    assert _verdicts(evals) == verdicts


def test_not_a_terminal_and_not_ci_is_quiet(evals: pytest.Pytester) -> None:
    res = evals.runpytest("--rollout-seed=5", "-p", "no:randomly")
    assert "rollout: test_e.py::" not in res.stdout.str()


def test_ci_logs_get_one_line_per_eval(evals: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    res = evals.runpytest("--rollout-seed=5", "-p", "no:randomly")
    res.stdout.fnmatch_lines(
        [
            "rollout: test_e.py::test_good  PASS  n=*/20  estimate 1.00  stopped early  (*s)",
            "rollout: test_e.py::test_mixed  *  n=*/12  *",
            "rollout: test_e.py::test_async  PASS  n=*/6  *",
        ]
    )
    assert "trials  pass rate" not in res.stdout.str()  # no live line in a log
    quiet = evals.runpytest("--rollout-seed=5", "-p", "no:randomly", "-q")
    assert "rollout: test_e.py::" not in quiet.stdout.str()


def test_ci_lines_come_from_the_controller_under_xdist(evals: pytest.Pytester) -> None:
    res = evals.runpytest_subprocess("--rollout-progress=lines", "--rollout-seed=5", "-n", "2", "-p", "xdist")
    assert res.stdout.str().count("rollout: test_e.py::test_") == 3


def test_an_unknown_mode_is_a_usage_error(evals: pytest.Pytester) -> None:
    evals.makeini("[pytest]\nrollout_progress = loud\n")
    res = evals.runpytest()
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: ini rollout_progress = 'loud': expected one of auto, live, lines, off"])


def test_modes_and_the_line() -> None:
    assert resolve_mode("auto", isatty=True, verbosity=0, env={}, is_worker=False) == "live"
    assert resolve_mode("auto", isatty=True, verbosity=-1, env={}, is_worker=False) == "off"
    assert resolve_mode("auto", isatty=False, verbosity=0, env={"GITHUB_ACTIONS": "true"}, is_worker=False) == "lines"
    assert resolve_mode("auto", isatty=False, verbosity=0, env={}, is_worker=False) == "off"
    assert resolve_mode("live", isatty=False, verbosity=-1, env={}, is_worker=True) == "off"
    ticks = iter([0.0, 10.0])
    p = Progress("t.py::test_x", 300, "pass_rate", clock=lambda: next(ticks))
    for value in [1.0] * 30 + [0.0] * 9 + [None]:
        p.add(value)
    assert p.line() == "rollout: t.py::test_x  40/300 trials  pass rate 0.77  1 error(s)  at most 260 left (~1m05s)"
    assert duration(3725) == "1h02m"
    done = {"nodeid": "t.py::test_x", "verdict": "FAIL", "n": 40, "budget": 300, "estimate": 0.77, "change": -0.08}
    assert finished_line(done, 12.4) == "rollout: t.py::test_x  FAIL  n=40/300  estimate 0.77  change -0.08  (12s)"
