"""pytest-rollout attribute: the design of hybrids, the effects, and a real run on a small repository."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from conftest import GitRepo, rollout_cli
from pytest_rollout.attribution import conclusion
from pytest_rollout.attribution.effects import analyse, contrasts, culprits, verdict
from pytest_rollout.attribution.hybrids import design, plan, read_window
from pytest_rollout.cli.attribute import summary_markdown, table
from pytest_rollout.gate.chain import Request, run_diff


def test_every_subset_up_to_four_layers_then_one_at_a_time() -> None:
    assert len(design(["infra", "model", "context"])) == 8
    assert len(design(list("abcd"))) == 16
    five = design(list("abcde"))
    assert len(five) == 12 and () in five and tuple("abcde") in five and ("c",) in five and tuple("abde") in five


def test_full_factorial_estimates_interactions_one_at_a_time_only_main_effects() -> None:
    full = {frozenset(s) for s in design(["a", "b", "c"])}
    terms = contrasts(["a", "b", "c"], full)
    assert list(terms) == ["a", "b", "c", "a*b", "a*c", "b*c"] and len(terms["a"]) == 4 and len(terms["a*b"]) == 2
    sparse = {frozenset(s) for s in design(list("abcde"))}
    assert list(contrasts(list("abcde"), sparse)) == list("abcde")  # no interaction is measurable
    assert len(contrasts(list("abcde"), sparse)["a"]) == 2  # alone on the base, reverted from the head


@pytest.mark.parametrize(
    ("lo", "hi", "expected"), [(-0.12, -0.06, "culprit"), (-0.04, 0.02, "cleared"), (-0.07, -0.01, "unclear")]
)
def test_verdicts_read_the_interval_against_the_tolerance(lo: float, hi: float, expected: str) -> None:
    assert verdict(lo, hi, 0.05) == expected


def test_a_known_drop_is_named_and_a_null_layer_cleared() -> None:
    rng = random.Random(3)
    cases = {f"c{i}": 0.5 + 0.4 * rng.random() for i in range(200)}
    values = {
        frozenset(s): {c: v - 0.1 * ("b" in s) + rng.gauss(0, 0.02) for c, v in cases.items()}
        for s in design(["a", "b"])
    }
    [ev] = analyse(["a", "b"], {"e": values}, {"e": 0.05}, 0.95)
    by = {e.term: e for e in ev.effects}
    assert by["b"].verdict == "culprit" and by["b"].interval is not None
    assert by["b"].interval[0] < -0.1 < by["b"].interval[1]
    assert by["a"].verdict == "cleared" and by["a*b"].verdict == "cleared"
    assert conclusion(culprits([ev]), [ev]).startswith("the regression comes from: b (-")


EVAL = """
import random, pytest, yaml
CFG = yaml.safe_load(open("config/app.yaml"))["llm"]
P = 0.9 - (0.3 if CFG["context_window"] > 8192 else 0.0) + (0.02 if CFG["model"] == "new" else 0.0)

@pytest.mark.layer("context", "model")
@pytest.mark.eval(trials=160, pass_rate=0.5, margin=0.1, cases=[{"id": f"c{i}"} for i in range(80)], epochs=2)
def test_answer(trial):
    assert random.Random(trial.seed).random() < P

@pytest.mark.layer("tools")
@pytest.mark.eval(trials=50, pass_rate=0.5)
def test_not_moved(trial):
    pass
"""
APP = "llm:\n  model: old  # the model\n  context_window: 8192\n  temperature: 0.2\n"


def bundle(repo: GitRepo) -> tuple[str, str]:
    base = repo.commit({"config/app.yaml": APP, "evals/test_answer.py": EVAL}, "base")
    app = APP.replace("old", "new").replace("8192", "32768")
    return base, repo.commit({"config/app.yaml": app}, "bundle")


def test_attribute_names_the_culprit_layer(git_repo: GitRepo) -> None:
    base, head = bundle(git_repo)
    summary = git_repo.path / "summary.md"
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    cmd = ["attribute", "--base", base, "--seed", "5", "-j", "2", "--report", "a.json", "--", "evals"]
    proc = rollout_cli(*cmd, cwd=git_repo.path, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((git_repo.path / "a.json").read_text())
    assert doc["layers"] == ["model", "context"] and doc["culprits"] == ["context"]
    assert [h["applied"] for h in doc["hybrids"]] == [[], ["model"], ["context"], ["model", "context"]]
    assert {h["status"] for h in doc["hybrids"]} == {"ran"} and doc["trials"] == 4 * 160
    [ev] = doc["evals"]  # the tools eval did not move: not run
    effects = {e["term"]: e for e in ev["effects"]}
    assert effects["model"]["verdict"] == "cleared" and effects["context"]["verdict"] == "culprit"
    lo, hi = effects["context"]["interval"]
    assert lo < -0.3 < hi
    assert ev["at_base"] == pytest.approx(0.9, abs=0.06) and ev["units"] == 80
    assert "hybrid head: ran" in proc.stderr  # progress per hybrid
    assert git_repo.repo.git.worktree("list").count("\n") == 0  # temporary worktrees are gone
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("the regression comes from: context (-") and last.endswith("])"), proc.stdout
    assert "**the regression comes from: context" in summary.read_text()


def test_a_hybrid_that_cannot_be_built_is_reported_and_left_out(git_repo: GitRepo) -> None:
    rest = "".join(f"  k{i}: v{i}\n" for i in range(20))  # enough unchanged lines for git to see a rename
    base = git_repo.commit({"config/old.yaml": f"llm:\n  temperature: 0.2\n{rest}", "prompts/p.md": "a"}, "base")
    git_repo.repo.git.mv("config/old.yaml", "config/llm.yaml")
    git_repo.commit({"config/llm.yaml": f"llm:\n  temperature: 0.7\n{rest}", "prompts/p.md": "b"}, "rename")
    window = read_window(run_diff(Request(repo=git_repo.path, base=base)))
    hybrids = {h.applied: h for h in plan(window)}
    assert window.layers == ("params", "prompt")
    assert hybrids[("params",)].error is None and hybrids[("params", "prompt")].error is None
    assert "config/llm.yaml: its whole-file change and key changes belong to different layers" in str(
        hybrids[("prompt",)].error
    )
    doc = {
        "base": base, "head": "f" * 40, "layers": ["params", "prompt"], "seed": 1, "confidence": 0.95, "trials": 0,
        "hybrids": [{"applied": ["prompt"], "status": "not built", "reason": hybrids[("prompt",)].error, "trials": 0, "seconds": 0}],
        "evals": [], "culprits": [], "conclusion": "the regression comes from: none of the moved layers (every layer cleared)",
    }  # fmt: skip
    assert any("prompt" in line and "not built" in line and "whole-file" in line for line in table(doc))
    assert summary_markdown(doc).startswith("## pytest-rollout attribute")
    assert "no eval of the moved layers ran" in conclusion([], [])


def test_nothing_moved_is_exit_2(git_repo: GitRepo, tmp_path: Path) -> None:
    base = git_repo.commit({"config/app.yaml": APP}, "base")
    proc = rollout_cli("attribute", "--base", base, cwd=git_repo.path)
    assert proc.returncode == 2 and "nothing to attribute" in proc.stderr and "Traceback" not in proc.stderr


def test_arguments_after_double_dash_belong_to_attribute_only(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": APP}, "base")
    proc = rollout_cli("diff", "--base", base, "--", "evals", cwd=git_repo.path)
    assert proc.returncode == 2 and "for `attribute` only" in proc.stderr
