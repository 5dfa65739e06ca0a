"""``pytest --rollout-gate`` with what is deployed: --rollout-deployed, ini rollout_deployed, --rollout-deploy."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo

EVALS = """\
import pytest

@pytest.mark.layer("infra")
def test_infra_eval():
    assert True

@pytest.mark.layer("model")
def test_model_eval():
    assert True

@pytest.mark.layer("context")
def test_context_eval():
    assert True
"""


def _two_teams(repo: GitRepo) -> tuple[str, str, str]:
    """release 1 deployed (a branch), infra merged on main, then an ML pull request moving the model."""
    base = repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_evals.py": EVALS},
        "release 1",
    )
    repo.repo.git.branch("production", base)
    infra = repo.commit(
        {"deploy/serving.yaml": SEED_SERVING_BASE.replace("batch_size: 8", "batch_size: 32")}, "serving: batch 32"
    )
    repo.repo.git.update_ref("refs/remotes/origin/main", "main")
    repo.repo.git.checkout("-q", "-b", "ml")
    pr = repo.commit({"config/app.yaml": SEED_APP_BASE.replace("gpt-4-turbo-preview", "gpt-4o")}, "model: gpt-4o")
    return base, infra, pr


def test_rollout_deployed_blocks_a_pr_on_a_pending_layer(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, infra, _ = _two_teams(pytester_repo)
    result = pytester.runpytest(
        "--rollout-gate", "--rollout-base=origin/main", "--rollout-deployed=production", "--rollout-report=r.json"
    )
    result.assert_outcomes(failed=1, deselected=3)  # a blocked release spends no eval trial
    result.stdout.fnmatch_lines(["decision: BLOCKED", f'*layer(s) infra pending*{infra[:10]} "serving: batch 32"*'])
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["deployed"] == {"ref": "refs/heads/production", "commit": base, "at": None}
    assert doc["decision"]["pending"] == [{"layer": "infra", "commits": [infra]}]


def test_ini_rollout_deployed_and_the_pr_passes_once_deployed(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    _, infra, _ = _two_teams(pytester_repo)
    pytester.makeini("[pytest]\nrollout_deployed = production\n")
    pytester.runpytest("--rollout-gate", "--rollout-base=origin/main").assert_outcomes(failed=1, deselected=3)
    pytester_repo.repo.git.branch("-f", "production", infra)  # infra deployed
    pytester.runpytest("--rollout-gate", "--rollout-base=origin/main").assert_outcomes(passed=2, deselected=2)


def test_rollout_deploy_judges_deployed_to_head_and_runs_its_layers(
    pytester: pytest.Pytester, pytester_repo: GitRepo
) -> None:
    _, infra, pr = _two_teams(pytester_repo)
    pytester_repo.repo.git.checkout("-q", "main")
    pytester_repo.repo.git.merge("-q", "--ff-only", "ml")
    result = pytester.runpytest("--rollout-gate", "--rollout-deploy", "--rollout-deployed=production", "-rA")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "plan: deploy in 2 steps, one commit at a time, in this order:",
            f"  step 1: infra at {infra[:10]}",
            "*",
            "*",
            f"  step 2: model at {pr[:10]}",
        ]
    )
    pytester_repo.repo.git.branch("-f", "production", infra)  # step 1 deployed: the model evals run for step 2
    result = pytester.runpytest("--rollout-gate", "--rollout-deploy", "--rollout-deployed=production")
    result.assert_outcomes(passed=2, deselected=2)


def test_rollout_deploy_needs_the_gate(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _two_teams(pytester_repo)
    result = pytester.runpytest("--rollout-deploy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: rollout: --rollout-deploy judges a deploy with the gate: add --rollout-gate"])


def test_a_prs_ini_cannot_choose_what_counts_as_deployed(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    """The ini file comes with the release: with release.deployed in the base's settings, the PR's
    own ``rollout_deployed`` (pointing past the pending infra commit) changes nothing."""
    base, infra, _ = _two_teams(pytester_repo)
    pytester_repo.repo.git.checkout("-q", "main")
    pytester_repo.commit({"rollout.yaml": 'release:\n  deployed: "production"\n'}, "ops: release.deployed")
    pytester_repo.repo.git.update_ref("refs/remotes/origin/main", "main")
    pytester_repo.repo.git.branch("-f", "production", base)
    pytester_repo.repo.git.checkout("-q", "ml")
    pytester_repo.repo.git.rebase("-q", "main")
    pytester_repo.repo.git.branch("shipped", infra)  # the PR's ini says infra is deployed: it is not
    pytester.makeini("[pytest]\nrollout_deployed = shipped\n")
    result = pytester.runpytest("--rollout-gate", "--rollout-base=origin/main")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["decision: BLOCKED", "*layer(s) infra pending*"])


def test_rollout_deployed_in_addopts_is_refused(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    _two_teams(pytester_repo)
    pytester.makeini("[pytest]\naddopts = --rollout-deployed=ml\n")
    result = pytester.runpytest("--rollout-gate", "--rollout-base=origin/main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rollout-deployed comes from addopts*"])
