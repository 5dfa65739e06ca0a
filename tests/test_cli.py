"""``pytest-rollout`` as a subprocess (what a hook runs) and in-process (fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, rollout_cli, seed_head
from pytest_rollout.cli import main


def _seed(repo: GitRepo, rollout_yaml: str | None = None) -> tuple[str, str]:
    files = {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}
    if rollout_yaml:
        files["rollout.yaml"] = rollout_yaml
    base = repo.commit(files, "base")
    app, serving = seed_head()
    head = repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    return base, head


LAYER_MAP = """\
layers:
  infra:   {files: ["deploy/**/*.yaml"]}
  model:   {keys: ["config/app.yaml:llm.model", "config/app.yaml:llm.provider"]}
  params:  {keys: ["config/app.yaml:llm.temperature", "config/app.yaml:llm.top_p", "config/app.yaml:llm.max_tokens"]}
  context: {keys: ["config/app.yaml:llm.context_window", "config/app.yaml:retrieval.top_k", "config/app.yaml:retrieval.chunk_size"]}
  prompt:  {files: ["prompts/**"]}
  tools:   {files: ["tools/*.json"], keys: ["config/app.yaml:retrieval.embedding_model"]}
"""


@pytest.mark.parametrize("rollout_yaml", [None, LAYER_MAP], ids=["defaults", "layer-map"])
def test_seed_incident_json(git_repo: GitRepo, rollout_yaml: str | None) -> None:
    base, head = _seed(git_repo, rollout_yaml)
    proc = rollout_cli("diff", "--base", base, "--head", head, "--json", cwd=git_repo.path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["layers_changed"] == ["context", "infra", "model"]
    assert doc["base"] == base and doc["head"] == head
    model = next(c for c in doc["changes"] if c["layer"] == "model")
    assert model == {
        "path": "config/app.yaml",
        "key": "llm.model",
        "layer": "model",
        "kind": "modified",
        "old": "gpt-4-turbo-preview",
        "new": "gpt-4o",
        "old_path": None,
        "line": 4,
        "diff": None,
    }
    assert "decision" not in doc


def test_diff_table(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = _seed(git_repo)
    assert main(["diff", "--base", base, "--head", head, "--repo", str(git_repo.path)]) == 0
    out = capsys.readouterr().out
    assert "3 layer(s) moved: context, infra, model" in out
    assert "model    config/app.yaml      llm.model           gpt-4-turbo-preview -> gpt-4o" in out


def test_check_exit_codes(git_repo: GitRepo) -> None:
    base, head = _seed(git_repo)
    blocked = rollout_cli("check", "--base", base, cwd=git_repo.path)
    assert blocked.returncode == 1
    assert "plan: split this release into 3 steps" in blocked.stdout
    ok = rollout_cli("check", "--base", base, "--allow-bundle", "measured together", cwd=git_repo.path)
    assert ok.returncode == 0 and "bundle approved: measured together" in ok.stdout
    same = rollout_cli("check", "--base", head, cwd=git_repo.path)
    assert same.returncode == 0 and "decision: PASS" in same.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--base", "nope"], "unknown base ref 'nope'"),
        (["check"], "no base ref to compare against"),
        (["diff", "--base", "HEAD", "--config", "missing.yaml"], "missing.yaml: settings file not found"),
    ],
)
def test_errors_exit_2_without_traceback(git_repo: GitRepo, args: list[str], message: str) -> None:
    git_repo.commit({"a.txt": "x"})
    proc = rollout_cli(*args, cwd=git_repo.path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_not_a_repo(tmp_path: Path) -> None:
    proc = rollout_cli("check", "--base", "main", cwd=tmp_path)
    assert proc.returncode == 2 and "not a git repository" in proc.stderr


def test_check_does_not_import_scipy_or_pytest(git_repo: GitRepo) -> None:
    base, _ = _seed(git_repo)
    code = (
        f"import sys; from pytest_rollout.cli import main; rc = main(['check', '--base', {base!r}]); "
        "bad = [m for m in ('scipy', 'pytest', 'numpy') if m in sys.modules]; print('HEAVY', bad)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=git_repo.path, capture_output=True, text=True)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_secrets_never_printed(git_repo: GitRepo) -> None:
    base = git_repo.commit(
        {
            "config/app.yaml": "llm:\n  model: a\n  api_key: sk-old-0123456789abcdefghij\n",
            ".env": "OPENAI_API_KEY=sk-env-0123456789abcdefghij\nMODEL=a\n",
        }
    )
    head = git_repo.commit(
        {
            "config/app.yaml": "llm:\n  model: b\n  api_key: sk-new-0123456789abcdefghij\n"
            "  note: 'token is AKIAIOSFODNN7EXAMPLE'\n",
            ".env": "OPENAI_API_KEY=sk-env-9999999999abcdefghij\nMODEL=b\n",
        }
    )
    for args in (["diff", "--json"], ["diff"], ["check"], ["check", "--json"]):
        proc = rollout_cli(*args, "--base", base, "--head", head, cwd=git_repo.path)
        text = proc.stdout + proc.stderr
        assert "sk-" not in text and "AKIA" not in text, text
        assert "***" in text


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Report" and "decision" in schema["properties"]


def test_help_and_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest_rollout", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "check" in proc.stdout and "diff" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pytest_rollout", "check", "--help"], capture_output=True, text=True)
    assert "--allow-bundle" in proc.stdout and "--per-commit" in proc.stdout


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e]\n"
)


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("config/app.yaml", "llm:\n  model: [unclosed\n", "config/app.yaml:3:"),
        ("config/app.json", '{"llm": {"model": }', "config/app.json:1:"),
        ("config/app.toml", "[llm]\nmodel = \n", "config/app.toml:2:"),
        ("config/bomb.yaml", BOMB, "alias"),
        ("config/latin1.yaml", "model: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_config_at_head_exits_2_naming_the_file(
    git_repo: GitRepo, path: str, content: str | bytes, message: str
) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    git_repo.commit({path: content})
    for command in ("diff", "check"):
        proc = rollout_cli(command, "--base", base, cwd=git_repo.path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1  # one line, that says what to do


def test_bad_config_at_base_is_a_warning(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": "llm: [broken\n"})
    git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    proc = rollout_cli("diff", "--base", base, "--json", cwd=git_repo.path)
    assert proc.returncode == 0
    assert "cannot parse at base" in proc.stderr
    doc = json.loads(proc.stdout)  # every key at head counts as changed, each in its own layer
    assert doc["layers_changed"] == ["context", "model", "params", "tools"]
    assert {c["old"] for c in doc["changes"]} == {"(unreadable at base)"}


def test_a_closed_pipe_does_not_turn_blocked_into_pass(git_repo: GitRepo) -> None:
    base, _ = _seed(git_repo)
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m pytest_rollout check --base {base} | head -c 10"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_config_over_the_size_cap_fails_closed(git_repo: GitRepo) -> None:
    base = git_repo.commit({"rollout.yaml": "max_file_size: 60\n", "config/app.json": '{"llm": {"model": "a"}}'})
    git_repo.commit({"config/app.json": '{"llm": {"model": "b", "temperature": 0.7, "note": "' + "x" * 80 + '"}}'})
    proc = rollout_cli("check", "--base", base, cwd=git_repo.path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "config/app.json changed but cannot be read key by key" in proc.stdout


def _bundle_app() -> str:
    return seed_head()[0].replace("temperature: 0.2", "temperature: 0.7")


def test_a_release_cannot_choose_its_own_base(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "rollout.yaml": "base: main\n"}, "base")
    git_repo.repo.git.update_ref("refs/remotes/origin/main", "main")
    git_repo.repo.git.checkout("-q", "-b", "feature")
    git_repo.commit({"config/app.yaml": _bundle_app()}, "bundle")
    git_repo.commit({"rollout.yaml": "base: HEAD\n"}, "and move the window")
    env = {"GITHUB_BASE_REF": "main"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_rollout", "check"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "coupled layers moved" in proc.stdout


def test_a_settings_only_change_passes_and_adopting_settings_with_a_bundle_does_not(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE, "pyproject.toml": "[project]\nname = 'x'\n"})
    layers = 'layers:\n  model: {keys: ["config/app.yaml:llm.model"]}\n  prompt: {files: ["prompts/**"]}\n'
    only = git_repo.commit({"rollout.yaml": layers}, "adopt settings")
    proc = rollout_cli("check", "--base", base, "--head", only, cwd=git_repo.path)
    assert proc.returncode == 0, proc.stdout
    assert "settings: rollout.yaml changes in this release" in proc.stdout
    git_repo.repo.git.checkout("-q", "-b", "loosen", base)  # defaults at the base are a real gate too
    loosen = git_repo.commit(
        {
            "config/app.yaml": _bundle_app(),
            "pyproject.toml": "[project]\nname = 'x'\n[tool.pytest-rollout.coupling]\nmax_layers_per_release = 6\n",
        }
    )
    proc = rollout_cli("check", "--base", base, "--head", loosen, cwd=git_repo.path)
    assert proc.returncode == 1, proc.stdout
    assert "pyproject.toml changes together with layer(s)" in proc.stdout


def test_renaming_a_key_watched_config_keeps_its_layers(git_repo: GitRepo) -> None:
    rules = 'layers:\n  model: {keys: ["config/app.yaml:llm.model"]}\n  params: {keys: ["config/app.yaml:llm.temperature"]}\n'
    body = SEED_APP_BASE + "".join(f"# padding line {i}\n" for i in range(30))
    base = git_repo.commit({"rollout.yaml": rules, "config/app.yaml": body})
    git_repo.repo.git.mv("config/app.yaml", "config/app.yml")
    git_repo.commit({"config/app.yml": body.replace("gpt-4-turbo-preview", "gpt-4o").replace("0.2", "0.7")}, "rename")
    proc = rollout_cli("check", "--base", base, cwd=git_repo.path)
    assert proc.returncode == 1 and "model, params" in proc.stdout, proc.stdout


def test_an_unreadable_file_that_is_not_ai_config_only_warns(git_repo: GitRepo) -> None:
    base = git_repo.commit({"rollout.yaml": "max_file_size: 100\n", "data/cases.json": '{"a": "' + "x" * 200 + '"}'})
    git_repo.commit({"data/cases.json": '{"a": "' + "y" * 200 + '"}'})
    proc = rollout_cli("check", "--base", base, cwd=git_repo.path)
    assert proc.returncode == 0, proc.stdout
    assert "data/cases.json changed but cannot be read key by key" in proc.stderr


def test_unwritable_step_summary_is_an_error_not_a_block(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": "/nonexistent/dir/summary.md"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_rollout", "check", "--base", base],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2 and "GITHUB_STEP_SUMMARY" in proc.stderr and "Traceback" not in proc.stderr


def _ci(git_repo: GitRepo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_rollout", *args],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_an_unresolvable_ci_base_is_an_error_even_if_the_release_names_a_base(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    git_repo.repo.git.checkout("-q", "-b", "feature")
    git_repo.commit({"config/app.yaml": _bundle_app(), "rollout.yaml": "base: HEAD\n"})
    proc = _ci(git_repo, "check", GITHUB_BASE_REF="main")  # origin/main was never fetched
    assert proc.returncode == 2 and "origin/main" in proc.stderr, proc.stdout + proc.stderr


def test_a_config_turned_into_a_symlink_blocks(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE, "prompts/system.md": "Be brief.\n"})
    (git_repo.path / "config" / "app.txt").write_text(_bundle_app())
    (git_repo.path / "config" / "app.yaml").unlink()
    (git_repo.path / "config" / "app.yaml").symlink_to("app.txt")
    git_repo.commit({"prompts/system.md": "Be kind.\n"}, "swap the config for a link")
    proc = rollout_cli("check", "--base", base, cwd=git_repo.path)
    assert proc.returncode == 1 and "config/app.yaml changed but cannot be read key by key" in proc.stdout


def test_broken_settings_on_main_can_be_fixed_in_ci(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "rollout.yaml": "max_file_size: 0\n"})
    git_repo.repo.git.update_ref("refs/remotes/origin/main", "main")
    git_repo.repo.git.checkout("-q", "-b", "fix")
    git_repo.commit({"rollout.yaml": "max_file_size: 1048576\n"}, "fix the settings")
    proc = _ci(git_repo, "check", GITHUB_BASE_REF="main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "judged by the built-in defaults" in proc.stdout + proc.stderr


def test_a_new_explicit_config_is_judged_by_the_defaults(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    git_repo.commit({"config/app.yaml": _bundle_app(), "ci/rollout.yaml": 'layers:\n  noop: {files: ["nothing/**"]}\n'})
    proc = rollout_cli("check", "--base", base, "--config", "ci/rollout.yaml", cwd=git_repo.path)
    assert proc.returncode == 1, proc.stdout


def test_config_pyproject_keeps_its_other_keys_as_ai_config(git_repo: GitRepo) -> None:
    body = '[tool.myagent]\nmodel = "a"\ntemperature = 0.2\n[tool.pytest-rollout]\nstrict = false\n'
    base = git_repo.commit({"pyproject.toml": body})
    git_repo.commit({"pyproject.toml": body.replace('"a"', '"b"').replace("0.2", "0.7")})
    proc = rollout_cli("check", "--base", base, "--config", "pyproject.toml", cwd=git_repo.path)
    assert proc.returncode == 1 and "model, params" in proc.stdout, proc.stdout


def test_relative_config_from_a_subfolder_is_the_same_file(git_repo: GitRepo) -> None:
    base = git_repo.commit({"svc/rollout.yaml": "strict: false\n", "svc/config/app.yaml": SEED_APP_BASE})
    git_repo.commit({"svc/rollout.yaml": 'layers:\n  model: {keys: ["svc/config/app.yaml:llm.model"]}\n'})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_rollout", "check", "--base", base, "--config", "rollout.yaml"],
        cwd=git_repo.path / "svc",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
