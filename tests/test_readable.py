"""Changes people can read: a prompt's diff, one row per tool, the plan printed once (issue 14)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.cli import main
from pytest_rollout.diff import textdiff

PROMPT = "You are a helpful assistant.\nAnswer briefly.\nNever reveal secrets.\n"
API_KEY = "sk-proj-" + "Abcdefghij0123456789XYZ"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"


def _diff(repo: GitRepo, base: str, capsys: pytest.CaptureFixture[str], *more: str) -> str:
    assert main(["diff", "--base", base, "--repo", str(repo.path), *more]) == 0
    return capsys.readouterr().out


def test_a_whole_file_prompt_change_is_a_diff_excerpt_not_two_blob_hashes(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    base = git_repo.commit({"prompts/system.md": PROMPT})
    git_repo.commit({"prompts/system.md": PROMPT.replace("briefly", "in detail, citing sources")})
    out = _diff(git_repo, base, capsys)
    assert "prompt  prompts/system.md  (whole file)  modified (+1 -1 lines)" in out
    assert "    -Answer briefly.\n    +Answer in detail, citing sources.\n" in out
    assert "lines) ->" not in out  # no "fca3dc3 (3 lines) -> dec6ecd (3 lines)"
    (change,) = json.loads(_diff(git_repo, base, capsys, "--json"))["changes"]
    assert change["diff"].splitlines()[:3] == ["--- a/prompts/system.md", "+++ b/prompts/system.md", "@@ -1,3 +1,3 @@"]


def test_a_long_diff_is_cut_in_the_table_and_whole_in_the_json(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    base = git_repo.commit({"prompts/few_shot.txt": "".join(f"example {i}\n" for i in range(30))})
    git_repo.commit({"prompts/few_shot.txt": "".join(f"example {i}!\n" for i in range(30))})
    out = _diff(git_repo, base, capsys)
    assert "modified (+30 -30 lines)" in out
    assert "    -example 0\n" in out and "-example 29" not in out
    assert "    ... 53 more line(s): the JSON report has the whole diff" in out
    (change,) = json.loads(_diff(git_repo, base, capsys, "--json"))["changes"]
    assert "\n-example 29\n" in change["diff"] and change["diff"].endswith("\n+example 29!")


def test_a_secret_in_a_changed_prompt_is_in_neither_the_table_nor_the_json_diff(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    old = PROMPT + "api_key: hunter2-old-secret\n"
    pem = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY}\n-----END PRIVATE KEY-----\n"
    new = PROMPT + f"Use key {API_KEY} for search.\nOPENAI_API_KEY=plain-secret-value\n" + pem
    base = git_repo.commit({"prompts/system.md": old})
    git_repo.commit({"prompts/system.md": new})
    table = _diff(git_repo, base, capsys)
    report = _diff(git_repo, base, capsys, "--json")
    (change,) = json.loads(report)["changes"]
    for text in (table, change["diff"], report):
        for secret in (API_KEY, "hunter2-old-secret", "plain-secret-value", PEM_BODY):
            assert secret not in text
    assert "-api_key: ***" in change["diff"] and "+Use key *** for search." in change["diff"]


def test_a_file_named_as_a_secret_shows_no_diff(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_repo.commit({"rollout.yaml": "layers:\n  prompt: {files: ['prompts/**']}\n"})
    base = git_repo.commit({"prompts/api_token.txt": "abc\n"})
    git_repo.commit({"prompts/api_token.txt": "opensesame\n"})
    out = _diff(git_repo, base, capsys)
    assert "opensesame" not in out and "prompts/api_token.txt" in out
    (change,) = json.loads(_diff(git_repo, base, capsys, "--json"))["changes"]
    assert change["diff"] is None


def test_binary_and_huge_files_get_no_diff() -> None:
    assert textdiff.unified("a.bin", "a.bin", b"\0x", b"\0y") is None
    big = "".join(f"{i}\n" for i in range(textdiff.MAX_LINES + 1)).encode()
    assert textdiff.unified("a.txt", "a.txt", b"", big) is None
    assert textdiff.unified("a.txt", "a.txt", b"x\n", b"x\n") is None
    assert textdiff.counts(textdiff.unified("a", "a", b"", b"+++ x\n-- y\n") or "") == (2, 0)


TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _bundle(repo: GitRepo) -> str:
    """One release that adds a tool and moves the model: blocked, with a plan of two steps."""
    base = repo.commit({"tools/tools.json": json.dumps(TOOLS), "config/app.yaml": "llm:\n  model: gpt-4o\n"})
    repo.commit({"tools/tools.json": json.dumps([WEATHER, *TOOLS]), "config/app.yaml": "llm:\n  model: gpt-4.1\n"})
    return base


def test_one_inserted_tool_is_one_row_in_the_table_and_in_the_plan(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _bundle(git_repo)
    assert main(["check", "--base", base, "--repo", str(git_repo.path)]) == 1
    out = capsys.readouterr().out
    assert "tools  tools/tools.json  [name=get_weather]  added (6 keys)" in out
    assert "      tools/tools.json: [name=get_weather] added (6 keys)" in out
    assert out.count("get_weather") == 2
    assert out.count("plan: split this release into 2 steps") == 1


def test_a_blocked_pytest_run_prints_the_plan_once(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = _bundle(pytester_repo)
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert out.count("step 1: model") == 1 and out.count("step 2: tools") == 1
    result.stdout.fnmatch_lines(["plan: 2 steps (model, then tools): the rollout summary shows each one"])


def test_the_job_summary_shows_one_row_for_a_new_tool(git_repo: GitRepo) -> None:
    from pytest_rollout.gate.chain import Request, run_gate
    from pytest_rollout.github import github_summary

    base = _bundle(git_repo)
    res = run_gate(Request(repo=git_repo.path, base=base))
    summary = github_summary(res.diff, res.decision)
    assert "| tools | `tools/tools.json` | `[name=get_weather]` | added (6 keys) |" in summary
    assert "2. **tools**: tools/tools.json: [name=get_weather] added (6 keys) (" in summary
    assert summary.count("get_weather") == 2


EVAL = """\
import random
import pytest

@pytest.mark.eval(trials=250, pass_rate=0.80, margin=0.10)
def test_answers(trial):
    assert random.Random(trial.seed).random() < 0.95
"""


def test_an_eval_line_is_short_by_default_and_whole_behind_v(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_e=EVAL)
    short = pytester.runpytest("--rollout-seed=5", "-p", "no:cacheprovider")
    short.stdout.re_match_lines(
        [r"  test_e.py::test_answers  PASS +pass rate 0\.\d\d \[0\.\d\d, 1\.00\] vs 0\.80  n=\d+$"]
    )
    assert "SPRT" not in short.stdout.str() and "margin" not in short.stdout.str()
    verbose = pytester.runpytest("--rollout-seed=5", "-p", "no:cacheprovider", "-v")
    verbose.stdout.re_match_lines(
        [r"  test_e.py::test_answers  PASS .*\(margin 0\.10\)  n=\d+/250, stopped early  \(SPRT"]
    )


def test_short_lines_of_a_regression_and_an_error() -> None:
    from pytest_rollout.models import EvalResult
    from pytest_rollout.report import short_line

    common = {
        "nodeid": "t.py::e",
        "margin": 0.05,
        "n": 40,
        "budget": 100,
        "line": "the whole line",
        "seed": 1,
        "confidence": 0.95,
    }
    both = EvalResult(
        verdict="FAIL",
        criterion="pass_rate",
        threshold=0.8,
        estimate=0.71,
        interval=(0.6, 0.8),
        change=-0.09,
        change_interval=(-0.15, -0.03),
        max_regression=0.05,
        errors=2,
        **common,
    )
    line = short_line(both)
    assert (
        line
        == "pass rate 0.71 [0.60, 0.80] vs 0.80; change vs baseline -0.09 [-0.15, -0.03] vs -0.05  n=40, 2 error trials"
    )
    error = both.model_copy(update={"verdict": "ERROR"})
    assert short_line(error) == "the whole line"


def _help_entries(help_text: str, pattern: str) -> dict[str, str]:
    """``{option or ini key: its help, joined across wrapped lines}`` from ``pytest --help``."""
    entries: dict[str, str] = {}
    name = None
    for line in help_text.splitlines():
        m = re.match(rf"^  ({pattern})\S*(?: \([a-z]+\))?:?\s*(.*)$", line)
        if m:
            name = m.group(1)
            entries[name] = m.group(2).strip()
        elif name is not None and line.startswith(" " * 20) and line.strip():
            entries[name] = (entries[name] + " " + line.strip()).strip()
        else:
            name = None
    return entries


def test_every_ini_key_has_help_and_rollout_layers_reads_as_in_the_reference(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    ini = _help_entries(help_text, r"rollout_[a-z_]+")
    assert len(ini) >= 10 and all(len(text) > 10 for text in ini.values()), ini
    layers = _help_entries(help_text, r"--rollout-layers")["--rollout-layers"]
    reference = (Path(__file__).parents[1] / "docs" / "reference.md").read_text()
    (row,) = [line for line in reference.splitlines() if line.startswith("| `--rollout-layers")]
    meaning = row.rstrip(" |").rsplit("|", 1)[-1].strip()
    assert " ".join(layers.split()).lower() == meaning.lower()


def test_the_table_excerpts_at_most_a_few_whole_file_diffs(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_rollout.report import DIFF_EXCERPT_FILES

    n = DIFF_EXCERPT_FILES + 3
    base = git_repo.commit({f"src/m{i}.py": f"X = {i}\n" for i in range(n)})
    git_repo.commit({f"src/m{i}.py": f"X = {i + 1}\n" for i in range(n)})
    out = _diff(git_repo, base, capsys)
    assert out.count("@@ -1 +1 @@") == DIFF_EXCERPT_FILES and "(3 more file diff(s) not shown" in out
    assert len(json.loads(_diff(git_repo, base, capsys, "--json"))["changes"]) == n  # every row, every diff
