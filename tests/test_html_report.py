"""The HTML report: the page from a report document (escaped, redacted, self-contained), the plot's
numbers, ``--rollout-html`` / ini ``rollout_html`` in a real pytest run, and ``pytest-rollout report``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.html import CSP, render_html
from pytest_rollout.html.plot import confidence_path, units
from pytest_rollout.models import EvalResult, Report, TrialValue

INJECTED = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
SECRET = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2


def make_eval(nodeid: str = "evals/test_refund.py::test_refund", verdict: str = "FAIL", **extra: object) -> EvalResult:
    trials = [TrialValue(index=i, case=f"q{i // 2}", epoch=i % 2, value=float(i % 3 != 0)) for i in range(40)]
    fields: dict[str, object] = {
        "nodeid": nodeid,
        "layers": ["context"],
        "verdict": verdict,
        "criterion": "pass_rate",
        "threshold": 0.8,
        "margin": 0.1,
        "confidence": 0.95,
        "estimate": 0.65,
        "interval": (0.5, 0.78),
        "n": 40,
        "budget": 80,
        "passes": 26,
        "failures": 14,
        "seed": 7,
        "cases": 20,
        "epochs": 2,
        "line": "pass rate 0.65 [0.50, 0.78] vs 0.80 (margin 0.10)  n=40/80, stopped early",
        "failing_trials": ["trial 0 seed=1: fail: assert 'no refunds' in 'sure, refunds anytime'"],
        "trials": trials,
    }
    fields.update(extra)
    return EvalResult.model_validate(fields)


def _report(*evals: EvalResult) -> Report:
    return Report.model_validate(
        {
            "base": "a" * 40,
            "head": "b" * 40,
            "layers_changed": ["context"],
            "changes": [
                {
                    "path": "config/app.yaml",
                    "key": "llm.context_window",
                    "layer": "context",
                    "kind": "modified",
                    "old": 8192,
                    "new": 32768,
                }
            ],
            "decision": {"status": "pass", "reasons": []},
            "evals": [e.model_dump() for e in evals],
            "deselected": [{"nodeid": "evals/test_tools.py::test_lookup", "reason": "layer tools did not move"}],
        }
    )


class _Refs(HTMLParser):
    """Every tag and every URL-carrying attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "data", "poster", "srcset")]


def _refs(page: str) -> _Refs:
    parser = _Refs()
    parser.feed(page)
    return parser


def test_the_page_has_the_verdicts_the_gate_and_a_plot() -> None:
    page = render_html(_report(make_eval(), make_eval("evals/test_tone.py::test_tone", "PASS")))
    assert "Run: FAIL" in page and "1 eval(s) not passing (FAIL 1)" in page
    assert "evals/test_refund.py::test_refund" in page and "evals/test_tone.py::test_tone" in page
    assert "llm.context_window" in page and "8192 -&gt; 32768" in page
    assert "decision: PASS" in page and "layer tools did not move" in page
    assert page.count("<svg") == 2 and 'class="threshold"' in page and "FAIL at n=20" in page


def test_model_output_cannot_inject_markup_and_secrets_are_redacted() -> None:
    bad = make_eval(
        nodeid=f"evals/test_x.py::test_x[{INJECTED}]",
        line=f"{INJECTED} key {SECRET}",
        failing_trials=[f"trial 3 seed=9: fail: model said {INJECTED} with {SECRET}"],
        trials=[TrialValue(index=0, case=INJECTED, value=0.0)],
    )
    page = render_html(_report(bad))
    refs = _refs(page)
    assert "script" not in refs.tags and "img" not in refs.tags
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert SECRET not in page and "***" in page


def test_the_page_loads_nothing() -> None:
    page = render_html(_report(make_eval()))
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    refs = _refs(page)
    assert not refs.tags & {"script", "link", "iframe", "img", "object", "embed", "base"}
    assert all(u.startswith("#") for u in refs.urls), refs.urls
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def test_units_and_path_are_the_statistics_of_the_trials() -> None:
    trials = [TrialValue(index=i, case=f"c{i // 2}", epoch=i % 2, value=v) for i, v in enumerate([1, 0, 1, 1, None, 0])]
    assert units(trials) == [0.5, 1.0, 0.0]  # case c2: one error, one 0
    path = confidence_path([1.0] * 30 + [0.0] * 10, 0.95, points=4)
    assert [p.n for p in path] == [10, 20, 30, 40]
    assert path[-1].estimate == 0.75 and path[-1].low < 0.75 < path[-1].high
    assert path[0].high - path[0].low > path[-1].high - path[-1].low  # it narrows


def test_per_case_table_lists_the_worst_cases_first() -> None:
    trials = [TrialValue(index=i, case=c, value=v) for i, (c, v) in enumerate([("a", 1.0), ("b", 0.0), ("c", 1.0)])]
    page = render_html(_report(make_eval(trials=trials)))
    table = page[page.index("Cases (3)") :]
    assert table.index("<code>b</code>") < table.index("<code>a</code>") < table.index("<code>c</code>")


EVAL_FILE = """\
import pytest

CASES = [{"id": f"q{i}", "ok": i % 4 != 0} for i in range(8)]

@pytest.mark.eval(trials=16, cases=CASES, epochs=2, pass_rate=0.9, margin=0.3)
def test_answers(trial):
    assert trial.case["ok"], "model said: <script>alert(1)</script>"
"""


def test_rollout_html_writes_the_page_of_the_run(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makepyfile(test_evals=EVAL_FILE)
    res = pytester.runpytest("--rollout-html=out/report.html", "--rollout-seed=3", "-p", "no:randomly")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    page = (pytester.path / "out" / "report.html").read_text()
    assert "test_evals.py::test_answers" in page and "<svg" in page and "Run: FAIL" in page
    assert "<script>" not in page
    pytester.makeini("[pytest]\nrollout_html = from-ini.html\n")
    pytester.runpytest("--rollout-seed=3", "-p", "no:randomly")
    assert "test_evals.py::test_answers" in (pytester.path / "from-ini.html").read_text()


def test_an_unwritable_html_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    (pytester.path / "taken").mkdir()
    res = pytester.runpytest("--rollout-html=taken")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: --rollout-html taken: not a writable file path"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_rollout", *args], cwd=cwd, capture_output=True, text=True)


def test_report_verb_renders_a_json_report(tmp_path: Path) -> None:
    from pytest_rollout.report import report_json

    (tmp_path / "r.json").write_text(report_json(_report(make_eval())))
    proc = _cli("report", "r.json", "--html", "site/r.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "evals/test_refund.py::test_refund" in (tmp_path / "site" / "r.html").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "r.json: no such file"),
        ("{not json", "r.json: not a JSON report (JSONDecodeError)"),
        ("[1, 2]", "r.json: not a JSON report (expected an object)"),
        ('{"evals": [{"nodeid": "x"}]}', "r.json: not a --rollout-report document: evals.0.verdict: Field required"),
    ],
)
def test_report_verb_fails_closed_on_bad_input(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "r.json").write_text(content)
    proc = _cli("report", "r.json", "--html", "r.html", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"pytest-rollout: error: {message}"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_check_never_imports_the_html_report(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": "llm:\n  model: a\n"})
    git_repo.commit({"config/app.yaml": "llm:\n  model: b\n"})
    code = (
        f"import sys; from pytest_rollout.cli import main; main(['check', '--base', {base!r}]); "
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('pytest_rollout.html')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=git_repo.path, capture_output=True, text=True)
    assert "LOADED []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.skipif(
    "per_case" not in {f.name for f in dataclasses.fields(EvalResult)}, reason="the report has no per_case results yet"
)
def test_per_case_results_and_usage_of_the_report_are_shown() -> None:
    per_case = [
        {"case": "q1", "n": 2, "errors": 0, "mean": 0.5, "baseline": 1.0, "change": -0.5, "worse": True},
        {"case": "q0", "n": 2, "errors": 0, "mean": 1.0, "baseline": 1.0, "change": 0.0, "worse": False},
    ]
    trials = [TrialValue.model_validate({"index": 0, "case": "q1", "value": 0.0, "note": f"said {INJECTED}"})]
    e = make_eval(per_case=per_case, trials=trials, usage={"input_tokens": 1200, "output_tokens": 300, "cost": 0.25})
    page = render_html(_report(e))
    table = page[page.index("Cases (2)") :]
    assert table.index("<code>q1</code>") < table.index("<code>q0</code>") and "-0.500" in table
    assert "said &lt;script&gt;" in table and "<script" not in page
    assert "Usage totals" in page and "1200" in page and "0.2500" in page
