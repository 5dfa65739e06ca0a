"""The leak campaign: every credential of ``secret_corpus`` placed in configs, prompt files,
trial messages and commit metadata of a real repository, then every output read for it.

Outputs: pytest's terminal with ``-rA``, ``--junitxml``, ``--rollout-report``, the GitHub step
summary and ``::error`` annotations (blocked and approved runs, ``--rollout-per-commit``),
``pytest-rollout check`` (text, ``--json``, ``--report``), ``diff --json`` and
``baseline export`` of the recorded run. Goal: zero leaks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import GitRepo, rollout_cli
from secret_corpus import CORPUS, SECRET_NAMES, leaks

ROLLOUT_YAML = """\
layers:
  model: {keys: ["config/app.yaml:llm.model"]}
  params: {keys: ["config/*.yaml:**", "config/*.json:**", ".env:**"]}
  prompt: {keys: ["prompts/*.yaml:**"], files: ["prompts/*.txt"]}
"""

EVALS = """\
import json
import pytest

TEXTS = json.loads({texts!r})


# A failure text shows the first 3 failing trials: 3 trials per eval, each with its own message.
@pytest.mark.parametrize("k", range((len(TEXTS) + 2) // 3))
@pytest.mark.eval(trials=3, pass_rate=0.5, max_error_rate=0.9)
def test_leaky(trial, k):
    text = TEXTS[min(3 * k + trial.index, len(TEXTS) - 1)]
    if "\\n" in text:  # only a message's first line is kept: a repr keeps it on one line
        raise RuntimeError(repr(text))
    raise AssertionError(text)
"""


def _one_line(text: str) -> str:
    return text.replace("\n", " ")


def _configs() -> dict[str, str]:
    single = [s for s in CORPUS if "\n" not in s.value]
    app = {
        "llm": {"model": "gpt-4o"},
        "services": {f"svc{i}": {SECRET_NAMES[i % len(SECRET_NAMES)]: s.value} for i, s in enumerate(CORPUS)},
        "api_keys": [s.value for s in CORPUS if not s.alone],
        "tokens": {f"t{i}": s.value for i, s in enumerate(CORPUS)},
        "passwords": [s.value for s in CORPUS[::2]],
        "notes": {f"n{i}": s.text for i, s in enumerate(CORPUS)},
        "allowlist": {s.value: True for s in single if s.alone},
    }
    tools = {
        "env": [
            {"name": SECRET_NAMES[i % len(SECRET_NAMES)] + f"_{i}", "value": s.value} for i, s in enumerate(CORPUS)
        ],
        "notes": [s.text for s in CORPUS],
        "bare": [s.value for s in CORPUS if s.alone],
    }
    env = "".join(f"SVC{i}_API_KEY={s.value}\nSVC{i}_DB_PASS={s.value}\n" for i, s in enumerate(single))
    env += "".join(f"NOTE_{i}={s.value}\n" for i, s in enumerate(single) if s.alone)
    prompts = {"templates": {f"t{i}": f"Answer politely. {s.text}" for i, s in enumerate(CORPUS)}}
    return {
        "config/app.yaml": yaml.safe_dump(app, width=10_000),
        "config/tools.json": json.dumps(tools, indent=1),
        ".env": env,
        "prompts/support.yaml": yaml.safe_dump(prompts, width=10_000),
        "prompts/system.txt": "\n".join(s.text for s in CORPUS) + "\n",
    }


def _build(repo: GitRepo) -> tuple[str, str, str]:
    texts = json.dumps([s.text for s in CORPUS])
    base = repo.commit(
        {
            "rollout.yaml": ROLLOUT_YAML,
            "config/app.yaml": "llm: {model: gpt-4}\n",
            "config/tools.json": "{}\n",
            ".env": "MODEL=x\n",
            "prompts/support.yaml": "templates: {}\n",
            "prompts/system.txt": "Be nice.\n",
            "test_leaky_evals.py": EVALS.format(texts=texts),
        },
        "base",
    )
    repo.commit(_configs(), "configs carry every credential")
    for s in CORPUS:  # commit subjects (--rollout-per-commit prints them)
        repo.commit(msg=f"fix: {_one_line(s.text)}")
    blocked_head = repo.sha()
    reason = " | ".join(_one_line(s.text) for s in CORPUS)
    author = " ; ".join(_one_line(s.text) for s in CORPUS if "\n" not in s.text)
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "ops@example.com"}
    subprocess.run(
        ["git", "commit", "--allow-empty", "-q", "-m", f"bundle\n\nRollout-Bundle-Approved: {reason}"],
        cwd=repo.path,
        env=env,
        check=True,
    )
    return base, blocked_head, repo.sha()


def _cli(repo: Path, *args: str, env: dict[str, str]) -> str:
    proc = rollout_cli(*args, cwd=repo, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout + proc.stderr


def test_no_secret_reaches_any_output(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(CORPUS) >= 40
    base, blocked, approved = _build(pytester_repo)
    outputs: dict[str, str] = {}
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for name, head, extra in (
        # A blocked release runs no evals; per-commit checks (which print subjects) would block the approved one.
        ("blocked", blocked, ["--rollout-per-commit"]),
        ("approved", approved, ["--rollout-record", "--rollout-store=store.sqlite"]),
    ):
        summary = pytester.path / f"summary-{name}.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        res = pytester.runpytest_subprocess(
            "--rollout-gate",
            f"--rollout-base={base}",
            f"--rollout-head={head}",
            "-rA",
            f"--junitxml=junit-{name}.xml",
            f"--rollout-report=report-{name}.json",
            *extra,
        )
        outputs[f"pytest {name} terminal"] = res.stdout.str() + res.stderr.str()
        for kind in ("junit-{}.xml", "report-{}.json", "summary-{}.md"):
            path = pytester.path / kind.format(name)
            outputs[f"{kind.format(name)}"] = path.read_text(encoding="utf-8")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(pytester.path / "cli-summary.md")}
    window = ["--base", base, "--head", blocked]
    outputs["check"] = _cli(pytester.path, "check", *window, "--per-commit", env=env)
    outputs["check --json"] = _cli(pytester.path, "check", *window, "--json", "--report=cli.json", env=env)
    outputs["diff --json"] = _cli(pytester.path, "diff", *window, "--json", env=env)
    outputs["check approved"] = _cli(pytester.path, "check", "--base", base, "--head", approved, env=env)
    outputs["cli.json"] = (pytester.path / "cli.json").read_text(encoding="utf-8")
    outputs["cli-summary.md"] = (pytester.path / "cli-summary.md").read_text(encoding="utf-8")
    _cli(pytester.path, "baseline", "--store", "store.sqlite", "export", "export.jsonl", env=env)
    outputs["baseline export"] = (pytester.path / "export.jsonl").read_text(encoding="utf-8")

    # The placements were printed (masked): a run that printed nothing would pass trivially.
    terminal = outputs["pytest blocked terminal"]
    for shown in ("services.svc0.api_key", "notes.n0", "allowlist.***", "templates.t0", "SVC0_DB_PASS", "::error"):
        assert shown in terminal, shown
    approved_terminal = outputs["pytest approved terminal"]
    assert "bundle approved: " in approved_terminal
    assert "trial 0 seed=" in approved_terminal and "leaked *** here" in approved_terminal
    assert "fix: leaked ***" in outputs["check"]
    assert "bundle approved: " in outputs["check approved"]
    assert '"failing_trials"' in outputs["baseline export"]
    if os.environ.get("LEAK_DUMP"):
        for name, text in outputs.items():
            (Path(os.environ["LEAK_DUMP"]) / name.replace(" ", "_")).write_text(text, encoding="utf-8")
    found = leaks(outputs)
    tried = len(CORPUS) * len(outputs)
    assert not found, f"{len(found)} leaks of {tried} (secret, output) pairs: {found}"
