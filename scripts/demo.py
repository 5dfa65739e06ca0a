"""The seed incident, replayed for real on example_repo/, and pytest-rollout untangling it.

Run: ``bash scripts/demo.sh`` (it installs what is needed first), or
``python scripts/demo.py [--keep DIR] [--seed N] [--json PATH]``.

1. ``example_repo/`` is copied into a throwaway git repository; release 1 is
   committed and its evals record the first baselines.
2. The incident: one commit moves the context window (8k -> 32k), the model
   (gpt-4-turbo-preview -> gpt-4o) and the batch size (8 -> 32). The gate blocks it
   and prints the plan.
3. The same three changes as three sequenced releases. Each passes the gate,
   runs only its layer's evals (against the previous release's baseline) and
   records its own baseline; the one that carries the regression fails, with its
   statistics.
4. A recap: which layer caused the drop, and what it cost in trials.
5. The other ending: the bundle was approved and shipped. One
   ``pytest-rollout attribute`` measures hybrids of the three changes and names
   the culprit layer, with the trials it spent next to the sequenced releases'.
6. Two teams, one deploy: the gate knows what is deployed. Each team's single-layer PR
   passes and merges; the deploy of main is stopped with a plan of commits, then shipped
   in order (each step marked as a deploy and measured), and ``pytest-rollout history``
   shows which deploy moved which layer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example_repo"
BIN = Path(sys.executable).parent

STEPS = [
    ("infra", "deploy/serving.yaml", "batch_size: 8 ", "batch_size: 32", "serving: batch size 8 -> 32"),
    ("model", "config/app.yaml", "model: gpt-4-turbo-preview", "model: gpt-4o", "model: gpt-4-turbo-preview -> gpt-4o"),
    ("context", "config/app.yaml", "context_window: 8192 ", "context_window: 32768", "context window 8k -> 32k"),
]


class Style:
    """ANSI colour only on a terminal (and never with NO_COLOR)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def verdict(self, v: str) -> str:
        return self(v, {"PASS": "32;1", "FAIL": "31;1", "BLOCKED": "31;1"}.get(v, "33;1"))


@dataclass
class Step:
    name: str
    commit: str = ""
    gate: str = ""
    evals: list[dict[str, Any]] = field(default_factory=list)
    deselected: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    recorded: int = 0


class Demo:
    def __init__(self, repo: Path, seed: int, style: Style) -> None:
        self.repo, self.seed, self.s = repo, seed, style
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_ADDOPTS"))}
        self.env.update(
            GIT_AUTHOR_NAME="Demo",
            GIT_AUTHOR_EMAIL="demo@example.com",
            GIT_COMMITTER_NAME="Demo",
            GIT_COMMITTER_EMAIL="demo@example.com",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            PYTHONDONTWRITEBYTECODE="1",
        )

    # -- plumbing ---------------------------------------------------------------
    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(cmd, cwd=self.repo, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise SystemExit(f"demo: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc

    def git(self, *args: str) -> str:
        return self.run("git", *args).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def edit(self, path: str, old: str, new: str) -> None:
        p = self.repo / path
        text = p.read_text()
        if old not in text:
            raise SystemExit(f"demo: {path} has no {old!r}: example_repo changed?")
        p.write_text(text.replace(old, new, 1))

    def pytest(self, report: str, *args: str) -> tuple[int, dict[str, Any]]:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "evals",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--rollout-seed={self.seed}",
            f"--rollout-report={report}",
            *args,
        ]
        proc = self.run(*cmd, check=False)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"demo: pytest failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc.returncode, json.loads((self.repo / report).read_text())

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    # -- the story ---------------------------------------------------------------
    def setup(self) -> str:
        shutil.copytree(EXAMPLE, self.repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".rollout"))
        self.git("init", "-q", "-b", "main")
        base = self.commit("release 1: support assistant (gpt-4-turbo-preview, 8k context, batch 8)")
        self.say(self.s("== 1. Release 1 and its baselines", "1"))
        t0 = time.perf_counter()
        _, doc = self.pytest("rollout-base.json", "--rollout-record")
        self.say(
            f"   recorded {len(doc['evals'])} evals at {base[:7]} in {time.perf_counter() - t0:.1f} s "
            "(pytest evals --rollout-record)"
        )
        for e in doc["evals"]:
            self.say(f"   {e['nodeid'].split('::')[1]:<32} {e['verdict']:<12} {e['line'].split('  ')[0]}")
        return base

    def bundle(self, base: str) -> dict[str, Any]:
        self.say()
        self.say(self.s("== 2. The incident: three layers in one deploy", "1"))
        self.git("checkout", "-q", "-b", "bundle")
        for _, path, old, new, _ in STEPS:
            self.edit(path, old, new)
        self.commit("deploy: gpt-4o, 32k context, batch 32")
        proc = self.run(str(BIN / "pytest-rollout"), "check", "--base", "main", "--json", check=False)
        doc = json.loads(proc.stdout)
        human = self.run(str(BIN / "pytest-rollout"), "check", "--base", "main", check=False).stdout
        self.say("   $ pytest-rollout check --base main")
        for line in human.splitlines():
            self.say("   " + (self.s(line, "31;1") if line.startswith("decision: BLOCKED") else line))
        self.say(f"   exit status {proc.returncode}: the build fails before a single eval trial is spent")
        self.git("checkout", "-q", "main")
        return doc

    def sequenced(self, base: str) -> list[Step]:
        self.say()
        self.say(self.s("== 3. The same changes as three sequenced releases", "1"))
        self.say(
            "   each release: `pytest evals --rollout-gate` on the PR, then, once merged, "
            "`pytest evals --rollout-record` on main"
        )
        steps, prev = [], base
        for i, (layer, path, old, new, what) in enumerate(STEPS, 1):
            self.edit(path, old, new)
            step = Step(layer, commit=self.commit(f"release {i + 1}: {what}"))
            t0 = time.perf_counter()
            _, doc = self.pytest(f"rollout-step{i}.json", "--rollout-gate", f"--rollout-base={prev}")
            step.seconds = time.perf_counter() - t0
            step.gate = doc["decision"]["status"].upper()
            step.evals, step.deselected = doc.get("evals", []), doc.get("deselected", [])
            self.say(f"   step {i}: {what}  ({step.commit[:7]}, {step.seconds:.1f} s)")
            self.say(
                f"     gate {self.s.verdict(step.gate)}: moved {', '.join(doc['layers_changed'])}; "
                f"{len(step.evals)} eval(s) run, {len(step.deselected)} not run (their layers did not move)"
            )
            for e in step.evals:
                self.say(f"     {e['nodeid'].split('::')[1]:<30} {self.s.verdict(e['verdict']):<12} {e['line']}")
            if all(e["verdict"] == "PASS" for e in step.evals):
                _, rec = self.pytest(f"rollout-record{i}.json", "--rollout-record")
                step.recorded = sum(e["n"] for e in rec["evals"])
                self.say(f"     merged; main recorded its baselines ({step.recorded:,} trials)")
                prev = step.commit
            else:
                self.git("revert", "--no-edit", "HEAD")
                prev = self.git("rev-parse", "HEAD")
                self.say(f"     {self.s('not merged', '31;1')}: only this change is reverted; the other releases stand")
            steps.append(step)
        return steps

    def recap(self, steps: list[Step]) -> dict[str, Any]:
        self.say()
        self.say(self.s("== 4. Recap", "1"))
        culprits = [s for s in steps if any(e["verdict"] != "PASS" for e in s.evals)]
        spent = sum(e["n"] for s in steps for e in s.evals)
        fixed = _fixed_cost(steps)
        for s in culprits:
            for e in s.evals:
                if e["verdict"] != "PASS" and e.get("change") is not None:
                    lo, hi = e["change_interval"]
                    self.say(
                        f"   the regression comes from the {self.s(s.name, '31;1')} layer: "
                        f"{e['nodeid'].split('::')[1]} changed {e['change']:+.2f} [{lo:+.2f}, {hi:+.2f}] "
                        f"against the previous release's baseline"
                    )
                    held = [c for c, v in (e.get("criteria") or {}).items() if v == "PASS"]
                    if held:
                        self.say(
                            f"   its absolute bar ({', '.join(held)}) still passed: only the paired comparison "
                            "with the previous release's recorded baseline caught the drop"
                        )
        if culprits:
            self.say(f"   the other {len(steps) - len(culprits)} releases passed and stay shipped")
        else:
            self.say("   no release regressed")
        self.say(
            f"   trials spent judging the three releases: {spent:,} (only moved layers' evals, "
            "each stopped as soon as its verdict was settled)"
        )
        self.say(
            f"   every eval at its full fixed budget in every release: {fixed:,} trials ({spent / fixed:.0%} of it)"
        )
        return {"culprits": [s.name for s in culprits], "trials_spent": spent, "trials_fixed": fixed}

    # -- act 5: two teams, one deploy ----------------------------------------------
    def rollout(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(BIN / "pytest-rollout"), *args, check=False)

    def mark(self, commit: str) -> str:
        """``release mark``; deploy tags are named by the second, so two marks never share one."""
        at = datetime.now(timezone.utc).replace(microsecond=0)
        self.last_mark = max(at, getattr(self, "last_mark", at - timedelta(seconds=1)) + timedelta(seconds=1))
        proc = self.rollout("release", "mark", commit, "--date", self.last_mark.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if proc.returncode != 0:
            raise SystemExit(f"demo: release mark failed:\n{proc.stderr}")
        return proc.stdout.split()[0]

    def team_pr(self, branch: str, author: str, change: tuple[str, str, str], message: str) -> str:
        self.git("checkout", "-q", "-b", branch, "main")
        self.edit(*change)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, f"--author={author}")
        self.git("checkout", "-q", "main")
        return self.git("rev-parse", branch)

    def two_teams(self) -> dict[str, Any]:
        self.say()
        self.say(self.s("== 6. Two teams, one deploy: the gate knows what is deployed", "1"))
        self.edit(
            "rollout.yaml",
            "order: [",
            'release:\n  deployed: "refs/tags/deploy/prod/*"\n  require_measured: true\norder: [',
        )
        self.commit("ops: the gate knows what is deployed (release.deployed, require_measured)")
        tag0 = self.mark("HEAD")
        self.say(f"   main is deployed: $ pytest-rollout release mark  ->  {tag0}")
        self.team_pr(
            "infra/concurrency", "Infra Team <infra@example.com>", INFRA_PR, "serving: max concurrency 16 -> 32"
        )
        ml = self.team_pr("ml/temperature", "ML Team <ml@example.com>", ML_PR, "llm: temperature 0.2 -> 0.1")
        prs = []
        for branch in ("infra/concurrency", "ml/temperature"):
            gate = self.rollout("check", "--base", "main", "--head", branch)
            prs.append("PASS" if gate.returncode == 0 else "BLOCKED")
            self.say(f"   PR {branch}: $ pytest-rollout check --base main  ->  {self.s.verdict(prs[-1])} (one layer)")
        self.git("merge", "-q", "--no-ff", "-m", "Merge infra/concurrency", "infra/concurrency")
        merged = self.git("rev-parse", "HEAD")
        late = self.rollout("check", "--base", "main", "--head", "ml/temperature")
        reason = next(line for line in late.stdout.splitlines() if line.startswith("  - "))
        self.say("   infra merges first; had the ML PR's gate run again now, it would say:")
        self.say(f"     {self.s.verdict('BLOCKED')}{reason[3:]}")
        self.say("   its green check was older, so ML merges too")
        self.git("merge", "-q", "--no-ff", "-m", "Merge ml/temperature", "ml/temperature")
        self.say("   $ pytest-rollout check --deploy")
        deploy = self.rollout("check", "--deploy", "--json")
        for line in self.rollout("check", "--deploy").stdout.splitlines():
            self.say("   " + (self.s(line, "31;1") if line.startswith("decision: BLOCKED") else line))
        plan = json.loads(deploy.stdout)["decision"]["plan"]
        shipped, early = self.ship(plan, tag0)
        self.say("   $ pytest-rollout history")
        history = self.rollout("history")
        for line in history.stdout.splitlines():
            self.say("   " + line)
        rows = json.loads(self.rollout("history", "--json").stdout)["deploys"]
        return {
            "prs": prs,
            "pr_after_merge": "BLOCKED" if late.returncode == 1 else "PASS",
            "pending_named": merged[:10] in reason and "Infra Team" in reason,
            "deploy": json.loads(deploy.stdout)["decision"]["status"],
            "plan": [[step["layer"], step["commit"]] for step in plan],
            "merges": [self.git("rev-parse", "HEAD~1"), self.git("rev-parse", "HEAD")],
            "ml_commit": ml,
            "unmeasured": early,
            "shipped": shipped,
            "history": [r["layers_changed"] for r in rows],
        }

    def ship(self, plan: list[dict[str, Any]], previous: str) -> tuple[list[str], str]:
        """Follow the plan: check each step's deploy, mark it, measure it on the deployed commit."""
        shipped, early = [], ""
        for i, step in enumerate(plan):
            commit = step["commit"]
            gate = self.rollout("check", "--deploy", "--head", commit)
            shipped.append("PASS" if gate.returncode == 0 else "BLOCKED")
            tag = self.mark(commit)
            self.say(
                f"   step {step['step']} ({step['layer']}): $ pytest-rollout check --deploy --head {commit[:7]}  ->  "
                f"{self.s.verdict(shipped[-1])}; deployed; $ pytest-rollout release mark {commit[:7]}  ->  {tag}"
            )
            if i + 1 < len(plan) and not early:
                nxt = self.rollout("check", "--deploy", "--head", plan[i + 1]["commit"])
                early = "BLOCKED" if nxt.returncode == 1 else "PASS"
                why = next((line for line in nxt.stdout.splitlines() if line.startswith("  - ")), "  - ")
                self.say(f"     step {step['step'] + 1} right away: {self.s.verdict(early)}{why[3:]}")
            self.git("checkout", "-q", "--detach", commit)
            report = f"rollout-deploy{step['step']}.json"
            _, doc = self.pytest(report, "--rollout-gate", f"--rollout-base={previous}", "--rollout-record")
            self.git("checkout", "-q", "main")
            evals = ", ".join(f"{e['nodeid'].split('::')[1]} {e['verdict']}" for e in doc.get("evals", [])) or "none"
            self.say(f"     measured on the deployed commit (pytest evals --rollout-gate --rollout-record): {evals}")
            previous = commit
        return shipped, early


INFRA_PR = ("deploy/serving.yaml", "max_concurrency: 16", "max_concurrency: 32")
ML_PR = ("config/app.yaml", "temperature: 0.2", "temperature: 0.1")


def attribution(demo: Demo, base: str, sequenced_trials: int) -> dict[str, Any]:
    """Act 5: the bundle shipped with an approval; attribute names the layer that regressed."""
    demo.say()
    demo.say(demo.s("== 5. The other ending: the bundle was approved and shipped", "1"))
    demo.git("checkout", "-q", "-b", "shipped", base)
    for _, path, old, new, _ in STEPS:
        demo.edit(path, old, new)
    head = demo.commit("deploy: gpt-4o, 32k context, batch 32\n\nRollout-Bundle-Approved: launch deadline")
    demo.git("checkout", "-q", "main")
    demo.say("   answers dropped in production; which of the three changes did it?")
    demo.say(f"   $ pytest-rollout attribute --base {base[:7]} --head shipped -- evals")
    t0 = time.perf_counter()
    cmd = [str(BIN / "pytest-rollout"), "attribute", "--base", base, "--head", head, f"--seed={demo.seed}"]
    proc = demo.run(*cmd, "--report", "attribute.json", "--", "evals")
    doc: dict[str, Any] = json.loads((demo.repo / "attribute.json").read_text())
    lines = proc.stdout.strip().splitlines()
    for line in lines[lines.index("") + 1 :] if "" in lines else lines:
        demo.say("   " + (demo.s(line, "31;1") if line.startswith("the regression comes from") else line))
    demo.say(
        f"   {doc['trials']:,} trials in {len(doc['hybrids'])} hybrids ({time.perf_counter() - t0:.0f} s), against "
        f"{sequenced_trials:,} for the three sequenced releases: sequencing is cheaper, attribution is the "
        "way back when a bundle has shipped"
    )
    return doc


def _fixed_cost(steps: list[Step]) -> int:
    """Every eval (run or not) at its full budget, in each of the releases."""
    budgets: dict[str, int] = {}
    for s in steps:
        for e in s.evals:
            budgets[e["nodeid"]] = e["budget"]
    per_release = sum(budgets.values())
    return per_release * len(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2024, help="--rollout-seed for every run (default 2024)")
    parser.add_argument("--keep", type=Path, help="Build the throwaway repository here and keep it")
    parser.add_argument("--json", type=Path, help="Also write the outcomes as JSON (for the tests)")
    args = parser.parse_args(argv)
    style = Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rollout-demo-") as tmp:
        repo = args.keep or Path(tmp) / "support-assistant"
        if repo.exists():
            raise SystemExit(f"demo: {repo} exists: pick an empty path for --keep")
        demo = Demo(repo, args.seed, style)
        print(f"pytest-rollout demo: replaying the incident in {repo}")
        base = demo.setup()
        bundle = demo.bundle(base)
        steps = demo.sequenced(base)
        recap = demo.recap(steps)
        attributed = attribution(demo, base, recap["trials_spent"])
        teams = demo.two_teams()
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    if args.json:
        outcome = {
            "bundle": {
                "status": bundle["decision"]["status"],
                "plan": [p["layer"] for p in bundle["decision"]["plan"]],
            },
            "steps": [
                {
                    "layer": s.name,
                    "gate": s.gate,
                    "evals": {e["nodeid"]: e["verdict"] for e in s.evals},
                    "deselected": len(s.deselected),
                }
                for s in steps
            ],
            **recap,
            "attribution": attributed,
            "two_teams": teams,
        }
        args.json.write_text(json.dumps(outcome, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
