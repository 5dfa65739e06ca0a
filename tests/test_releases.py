"""What is deployed, what is pending: two teams, one deploy (DESIGN.md "Releases"), on real repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, rollout_cli
from pytest_rollout.baselines.fingerprints import layer_fingerprints
from pytest_rollout.baselines.store import Store
from pytest_rollout.errors import SettingsError
from pytest_rollout.settings import load_settings

RELEASE = 'release:\n  deployed: "refs/tags/deploy/prod/*"\n'


def _team_commit(repo: GitRepo, files: dict[str, str | bytes | None], msg: str, author: str) -> str:
    repo.write(files)
    repo.repo.git.add("-A")
    repo.repo.git.commit("-q", "-m", msg, author=author)
    return repo.sha()


def _edit(repo: GitRepo, path: str, old: str, new: str) -> dict[str, str | bytes | None]:
    text = (repo.path / path).read_text()
    assert old in text
    return {path: text.replace(old, new, 1)}


INFRA = ("deploy/serving.yaml", "batch_size: 8", "batch_size: 32")
MODEL = ("config/app.yaml", "model: gpt-4-turbo-preview", "model: gpt-4o")
MODEL_AGAIN = ("config/app.yaml", "provider: openai", "provider: azure")
CONTEXT = ("config/app.yaml", "context_window: 8192", "context_window: 32768")


def _deployed_main(repo: GitRepo, release: str = RELEASE, date: str | None = None) -> str:
    """Release 1 committed on main and marked deployed; origin/main points at main."""
    base = repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "rollout.yaml": release},
        "release 1",
    )
    args = ["release", "mark", base, "--date", date or _ago(hours=2)]
    proc = rollout_cli(*args, cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("deploy/prod/")
    return base


def _sync_origin(repo: GitRepo) -> None:
    repo.repo.git.update_ref("refs/remotes/origin/main", "main")


def _two_teams(repo: GitRepo, pr_change: tuple[str, str, str]) -> tuple[str, str]:
    """Team infra merges into main (not deployed); team ML opens a PR from main."""
    _deployed_main(repo)
    infra = _team_commit(repo, _edit(repo, *INFRA), "serving: batch 8 -> 32", "Infra Team <infra@example.com>")
    _sync_origin(repo)
    repo.repo.git.checkout("-q", "-b", "ml-pr")
    pr = _team_commit(repo, _edit(repo, *pr_change), "ml: the change", "ML Team <ml@example.com>")
    return infra, pr


def test_two_teams_a_pending_layer_blocks_the_pr_and_names_the_commit(git_repo: GitRepo) -> None:
    infra, _ = _two_teams(git_repo, MODEL)
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "decision: BLOCKED" in out
    assert f'{infra[:10]} "serving: batch 8 -> 32" by Infra Team <infra@example.com>' in out
    assert "Wait until the pending commits are deployed and measured" in out
    assert "the next deploy would ship infra, model together" in out
    assert "plan: 2 steps, pending ones first" in out
    doc = json.loads(rollout_cli("check", "--base", "origin/main", "--json", cwd=git_repo.path).stdout)
    assert doc["decision"]["pending"] == [{"layer": "infra", "commits": [infra]}]
    assert doc["deployed"]["ref"].startswith("refs/tags/deploy/prod/")
    assert doc["deployed"]["at"].endswith("Z")
    assert [s["layer"] for s in doc["decision"]["plan"]] == ["infra", "model"]
    assert doc["decision"]["plan"][0]["commits"] == [infra]


def test_without_release_settings_the_same_pr_passes(git_repo: GitRepo) -> None:
    """The issue's starting point: each team's PR passes alone; nothing knows what is deployed."""
    _two_teams(git_repo, MODEL)
    git_repo.repo.git.checkout("-q", "main")
    git_repo.commit({"rollout.yaml": None}, "drop the release settings")
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "ml-pr")
    git_repo.repo.git.rebase("-q", "main")
    assert rollout_cli("check", "--base", "origin/main", cwd=git_repo.path).returncode == 0


def test_same_layer_pending_does_not_block(git_repo: GitRepo) -> None:
    _deployed_main(git_repo)
    first = _team_commit(git_repo, _edit(git_repo, *MODEL), "model: gpt-4o", "ML Team <ml@example.com>")
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "ml-pr-2")
    _team_commit(git_repo, _edit(git_repo, *MODEL_AGAIN), "model: azure", "ML Team <ml@example.com>")
    proc = rollout_cli("check", "--base", "origin/main", "--json", cwd=git_repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["decision"]["pending"] == [{"layer": "model", "commits": [first]}]


def test_a_pr_that_moves_no_layer_is_not_blocked_by_pending(git_repo: GitRepo) -> None:
    _two_teams(git_repo, ("config/app.yaml", "# LLM support assistant", "# LLM support assistant (v2)"))
    assert rollout_cli("check", "--base", "origin/main", cwd=git_repo.path).returncode == 0


def test_the_bundle_trailer_lets_a_pending_block_through(git_repo: GitRepo) -> None:
    _two_teams(git_repo, MODEL)
    git_repo.repo.git.commit("--allow-empty", "-q", "-m", "approve\n\nRollout-Bundle-Approved: one canary for both")
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 0, proc.stdout
    assert "bundle approved: one canary for both" in proc.stdout


def _merged_two_teams(repo: GitRepo) -> tuple[str, str, str]:
    """Main after both teams merged: infra, a code-only commit, then model; release 1 deployed."""
    base = _deployed_main(repo)
    infra = _team_commit(repo, _edit(repo, *INFRA), "serving: batch 8 -> 32", "Infra Team <infra@example.com>")
    _team_commit(repo, {"README.md": "docs\n"}, "docs", "Docs <docs@example.com>")
    model = _team_commit(repo, _edit(repo, *MODEL), "model: gpt-4o", "ML Team <ml@example.com>")
    return base, infra, model


def test_deploy_gate_blocks_with_a_plan_of_commits(git_repo: GitRepo) -> None:
    base, infra, model = _merged_two_teams(git_repo)
    proc = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "plan: deploy in 2 steps, one commit at a time" in proc.stdout
    assert f"step 1: infra at {git_repo.sha('HEAD~1')[:10]}" in proc.stdout
    assert f"step 2: model at {model[:10]}" in proc.stdout
    doc = json.loads(rollout_cli("check", "--deploy", "--json", cwd=git_repo.path).stdout)
    assert doc["base"] == base and doc["deployed"]["commit"] == base
    plan = doc["decision"]["plan"]
    assert [(s["layer"], s["commit"]) for s in plan] == [("infra", git_repo.sha("HEAD~1")), ("model", model)]
    assert plan[0]["commits"] == [infra, git_repo.sha("HEAD~1")]
    assert [c["key"] for c in plan[1]["changes"]] == ["llm.model"]


def test_release_mark_then_the_next_layer_passes(git_repo: GitRepo) -> None:
    _, infra, model = _merged_two_teams(git_repo)
    step1 = git_repo.sha("HEAD~1")
    assert rollout_cli("check", "--deploy", "--head", step1, cwd=git_repo.path).returncode == 0
    proc = rollout_cli("release", "mark", step1, cwd=git_repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "git push origin refs/tags/deploy/prod/" in proc.stderr
    deploy = rollout_cli("check", "--deploy", "--json", cwd=git_repo.path)
    assert deploy.returncode == 0, deploy.stdout
    doc = json.loads(deploy.stdout)
    assert doc["deployed"]["commit"] == step1 and doc["layers_changed"] == ["model"]
    # a PR on top of main now sees only model pending: a further model change passes, a context change does not
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "pr")
    git_repo.commit(_edit(git_repo, *MODEL_AGAIN), "model: azure")
    assert rollout_cli("check", "--base", "origin/main", cwd=git_repo.path).returncode == 0
    git_repo.commit(_edit(git_repo, *CONTEXT), "context: 32k")
    assert rollout_cli("check", "--base", "origin/main", cwd=git_repo.path).returncode == 1


def test_a_single_commit_bundle_is_its_own_step_and_says_so(git_repo: GitRepo) -> None:
    _deployed_main(git_repo)
    both = {**_edit(git_repo, *INFRA)}
    git_repo.write(both)
    git_repo.commit(_edit(git_repo, *MODEL), "infra and model at once")
    proc = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert proc.returncode == 1
    assert "step 1: infra, model" in proc.stdout and "this commit alone moves infra, model" in proc.stdout


def _ago(**delta: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


MEASURED = RELEASE + "  require_measured: true\n"


def test_require_measured_blocks_until_the_deployed_commit_has_a_complete_run(git_repo: GitRepo) -> None:
    base = _deployed_main(git_repo, MEASURED)
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    store = git_repo.path / ".rollout" / "store.sqlite"
    blocked = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert blocked.returncode == 1
    assert f"{base[:10]} has no complete recorded eval run in {store}" in blocked.stdout
    assert "pytest --rollout-record" in blocked.stdout
    settings = load_settings(git_repo.path).settings
    with Store(store) as db:  # an incomplete run (a killed session) does not count
        db.begin_run(base, layer_fingerprints(git_repo.path, base, settings), 1, "test")
    assert rollout_cli("check", "--deploy", cwd=git_repo.path).returncode == 1
    with Store(store) as db:
        db.finish_run(db.begin_run(base, layer_fingerprints(git_repo.path, base, settings), 2, "test"))
    passed = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert passed.returncode == 0, passed.stdout


def test_require_measured_warns_on_the_pr_gate(git_repo: GitRepo) -> None:
    _deployed_main(git_repo, MEASURED)
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "pr")
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 0
    assert "has no complete recorded eval run" in proc.stderr and "the deploy gate will block" in proc.stderr


SOAK = RELEASE + '  min_soak: "24h"\n'


@pytest.mark.parametrize(("hours", "status"), [(3, 1), (30, 0)], ids=["before", "after"])
def test_min_soak_from_the_deploy_tag_date(git_repo: GitRepo, hours: int, status: int) -> None:
    _deployed_main(git_repo, SOAK, date=_ago(hours=hours))
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    proc = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert proc.returncode == status, proc.stdout + proc.stderr
    if status:
        assert "release.min_soak is 24h: the next layer ships in 20h 59m" in proc.stdout or (
            "the next layer ships in 21h 0m" in proc.stdout
        )


def test_min_soak_warns_on_the_pr_gate_with_the_time_left(git_repo: GitRepo) -> None:
    _deployed_main(git_repo, SOAK, date=_ago(hours=20))
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "pr")
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 0
    assert "the next layer ships in 3h 59m" in proc.stderr or "the next layer ships in 4h 0m" in proc.stderr


def test_min_soak_needs_a_tag(git_repo: GitRepo) -> None:
    base = _deployed_main(git_repo, SOAK)
    git_repo.repo.git.branch("production", base)
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    proc = rollout_cli("check", "--deploy", "--deployed", "production", cwd=git_repo.path)
    assert proc.returncode == 2 and "production is not a tag" in proc.stderr and "Traceback" not in proc.stderr


def test_a_deployed_branch_with_a_hotfix_is_not_an_ancestor(git_repo: GitRepo) -> None:
    base = _deployed_main(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "production", base)
    hotfix = git_repo.commit({"deploy/serving.yaml": SEED_SERVING_BASE.replace("timeout_s: 30", "timeout_s: 60")})
    git_repo.repo.git.checkout("-q", "main")
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    proc = rollout_cli("check", "--deploy", "--deployed", "production", cwd=git_repo.path)
    assert proc.returncode == 2, proc.stdout
    assert f"deployed ref 'production' (--deployed) at {hotfix[:10]} is not an ancestor" in proc.stderr
    assert "a hotfix deployed from another branch?" in proc.stderr and "git merge" in proc.stderr
    # a deployed branch that is an ancestor works, and has no date
    git_repo.repo.git.branch("-f", "production", base)
    doc = json.loads(rollout_cli("check", "--deploy", "--deployed", "production", "--json", cwd=git_repo.path).stdout)
    assert doc["deployed"] == {"ref": "refs/heads/production", "commit": base, "at": None}


def test_a_hotfix_tag_off_the_branch_is_skipped_for_an_older_ancestor(git_repo: GitRepo) -> None:
    base = _deployed_main(git_repo, date=_ago(hours=5))
    git_repo.repo.git.checkout("-q", "-b", "hotfix", base)
    git_repo.commit({"deploy/serving.yaml": SEED_SERVING_BASE.replace("timeout_s: 30", "timeout_s: 60")})
    assert rollout_cli("release", "mark", cwd=git_repo.path).returncode == 0  # newest tag, not on main
    git_repo.repo.git.checkout("-q", "main")
    git_repo.commit(_edit(git_repo, *INFRA), "serving: batch 8 -> 32")
    doc = json.loads(rollout_cli("check", "--deploy", "--json", cwd=git_repo.path).stdout)
    assert doc["deployed"]["commit"] == base


def test_an_unresolvable_deployed_ref_is_an_error_with_the_fix(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "rollout.yaml": RELEASE}, "release 1")
    git_repo.commit(_edit(git_repo, *MODEL), "model")
    for args in (["check", "--deploy"], ["check", "--base", "HEAD~1"], ["check", "--deploy", "--deployed", "nope"]):
        proc = rollout_cli(*args, cwd=git_repo.path)
        assert proc.returncode == 2, (args, proc.stdout)
        assert "git fetch --tags" in proc.stderr and "Traceback" not in proc.stderr


def test_a_shallow_clone_without_tags_fails_closed_with_the_fix(git_repo: GitRepo, tmp_path: Path) -> None:
    _merged_two_teams(git_repo)
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--no-tags", f"file://{git_repo.path}", str(clone)], check=True
    )
    proc = rollout_cli("check", "--deploy", cwd=clone)
    assert proc.returncode == 2, proc.stdout
    assert "this clone is shallow and has no tags" in proc.stderr and "git fetch --tags" in proc.stderr
    assert "fetch-depth: 0" in proc.stderr


def test_check_deploy_without_a_deployed_release_says_what_to_set(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE}, "release 1")
    proc = rollout_cli("check", "--deploy", cwd=git_repo.path)
    assert proc.returncode == 2 and "set `release: {deployed:" in proc.stderr


def test_the_plain_check_does_not_import_gitpython(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE}, "base")
    git_repo.commit(_edit(git_repo, *MODEL), "model")
    code = (
        "import sys; from pytest_rollout.cli import main; rc = main(['check', '--base', 'HEAD~1']); "
        "print('GIT', 'git' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=git_repo.path, capture_output=True, text=True)
    assert "GIT False" in proc.stdout, proc.stdout + proc.stderr


def test_min_soak_is_validated(git_repo: GitRepo) -> None:
    git_repo.write({"rollout.yaml": RELEASE + "  min_soak: soon\n"})
    with pytest.raises(SettingsError, match=r"rollout.yaml:3: release.min_soak: .*expected a duration"):
        load_settings(git_repo.path)


def test_release_mark_refuses_a_bad_env_and_an_unknown_commit(git_repo: GitRepo) -> None:
    git_repo.commit({"a.txt": "x"})
    bad_env = rollout_cli("release", "mark", "--env", "../x", cwd=git_repo.path)
    assert bad_env.returncode == 2 and "--env '../x'" in bad_env.stderr
    unknown = rollout_cli("release", "mark", "nope", cwd=git_repo.path)
    assert unknown.returncode == 2 and "unknown commit 'nope'" in unknown.stderr


def _record(repo: GitRepo, commit: str, estimates: dict[str, float]) -> None:
    settings = load_settings(repo.path).settings
    with Store(repo.path / ".rollout" / "store.sqlite") as db:
        run = db.begin_run(commit, layer_fingerprints(repo.path, commit, settings), 1, "test")
        for nodeid, est in estimates.items():
            result = {"nodeid": nodeid, "criterion": "pass_rate", "verdict": "PASS", "estimate": est, "n": 10}
            result.update(budget=10, margin=0.05, confidence=0.95, seed=1)
            db.record_eval(run, result, [])
        db.finish_run(run)


def test_history_one_row_per_deploy_with_layers_and_evals(git_repo: GitRepo) -> None:
    base = _deployed_main(git_repo, date=_ago(hours=50))
    _record(git_repo, base, {"evals/test_a.py::test_answer": 0.90})
    infra = git_repo.commit(_edit(git_repo, *INFRA), "infra")
    assert rollout_cli("release", "mark", infra, "--date", _ago(hours=20), cwd=git_repo.path).returncode == 0
    _record(git_repo, infra, {"evals/test_a.py::test_answer": 0.88})
    ctx = git_repo.commit(_edit(git_repo, *CONTEXT), "context")
    assert rollout_cli("release", "mark", ctx, "--date", _ago(hours=1), cwd=git_repo.path).returncode == 0
    _record(git_repo, ctx, {"evals/test_a.py::test_answer": 0.71})
    proc = rollout_cli("history", "--json", cwd=git_repo.path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["deploys"]
    assert [(r["commit"], r["layers_changed"]) for r in rows] == [(ctx, ["context"]), (infra, ["infra"]), (base, None)]
    assert rows[0]["evals"][0]["verdict"] == "PASS"
    assert rows[0]["evals"][0]["change"] == pytest.approx(-0.17)
    assert rows[2]["evals"][0]["change"] is None
    text = rollout_cli("history", "--limit", "2", cwd=git_repo.path).stdout
    assert len([line for line in text.splitlines() if line.startswith("deploy/prod/")]) == 2
    assert "context" in text and "-0.170 vs the previous deploy" in text


def test_history_without_deploys_says_how_to_record_one(git_repo: GitRepo) -> None:
    git_repo.commit({"a.txt": "x"})
    proc = rollout_cli("history", cwd=git_repo.path)
    assert proc.returncode == 2 and "release mark" in proc.stderr


def test_a_pending_merge_names_who_wrote_what_it_merges(git_repo: GitRepo) -> None:
    _deployed_main(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "infra")
    _team_commit(git_repo, _edit(git_repo, *INFRA), "serving: batch 8 -> 32", "Infra Team <infra@example.com>")
    git_repo.repo.git.checkout("-q", "main")
    git_repo.repo.git.merge("-q", "--no-ff", "-m", "Merge infra", "infra")
    merge = git_repo.sha()
    _sync_origin(git_repo)
    git_repo.repo.git.checkout("-q", "-b", "ml")
    git_repo.commit(_edit(git_repo, *MODEL), "model")
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 1
    assert (
        f'{merge[:10]} "Merge infra" by Test Author <test@example.com> (merging 1 commit(s) by Infra Team'
        in proc.stdout
    )


def test_a_pr_cannot_drop_the_release_settings_that_judge_it(git_repo: GitRepo) -> None:
    _two_teams(git_repo, MODEL)
    git_repo.commit({"rollout.yaml": "{}\n"}, "no more release settings")
    proc = rollout_cli("check", "--base", "origin/main", cwd=git_repo.path)
    assert proc.returncode == 1 and "pending on the base branch" in proc.stdout


def test_release_recipes_fetch_the_tags_and_their_settings_validate() -> None:
    """A deploy-tag job without the tags fails closed; the recipes must not teach that."""
    import re

    import yaml

    from pytest_rollout.settings import Settings

    text = (Path(__file__).resolve().parents[1] / "docs" / "recipes.md").read_text()
    section = text[text.index("## Releases:") : text.index("## pre-commit, at pre-push")]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    settings = Settings.model_validate(yaml.safe_load(blocks[0]))
    assert settings.release.deployed and settings.release.min_soak_seconds == 86400
    jobs = [job for body in blocks[1:] for job in (yaml.safe_load(body).get("jobs") or {}).values()]
    checkouts = [s for job in jobs for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout")]
    assert len(checkouts) == 2 and all(s["with"]["fetch-tags"] is True for s in checkouts)
    gitlab = yaml.safe_load(blocks[-1])["deploy"]
    assert "--tags" in gitlab["variables"]["GIT_FETCH_EXTRA_FLAGS"]
