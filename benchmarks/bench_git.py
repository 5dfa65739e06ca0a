"""GitPython or plumbing: what each non-pre-push git use costs both ways, in one run.

Run: ``.venv/bin/python benchmarks/bench_git.py`` (about a minute). It builds a small repository
(200 commits, 20 deploy tags, half of them annotated, 6 config files) and times the same answer
both ways, the GitPython side as ``diff/repo.py`` does it, the plumbing side with ``diff/git.py``
or the project function that uses it:

* ``tags+dates``: every ``refs/tags/deploy/*`` with its commit and date (releases, ``history``):
  GitPython's ``repo.tags`` / ``tag.commit`` / ``tagged_date`` against ``gate.deploys.deploy_tags``
  (one ``git for-each-ref``);
* ``ancestry``: is a deployed commit an ancestor of head (baselines, releases): ``repo.is_ancestor``
  against ``git merge-base --is-ancestor``;
* ``worktree``: add and remove a detached worktree (``attribute``);
* ``reads``: 6 files at 2 commits, what ``attribute`` reads to plan its hybrids: ``diff.repo.read_at``
  (one persistent ``cat-file``) against the per-file ``cat-file -e`` + ``cat-file blob`` it replaced.

Part 1, fresh interpreters (what a one-shot CLI verb pays, import included): ``python -c pass``
(the floor), ``import git`` alone, then each use both ways. Part 2, one interpreter per side, the
repository opened once (import excluded): the cost per call once GitPython is loaded, and the
number of calls after which GitPython's import is paid back (never when it is not faster per
call). The two sides run interleaved and each figure is the fastest of 7 runs (of 15 calls in
part 2): on a shared, loaded machine the minimum is the stable estimate of what the work costs,
a median mostly measures the neighbours. Both sides must agree (the script checks the answers);
it exits 1 if they do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
CALLS = 15
N_COMMITS = 200
N_TAGS = 20
FILES = [f"config/f{i}.yaml" for i in range(6)]

_OPS_GITPYTHON = """
import git
from pytest_rollout.diff import repo as gitrepo
TAGS = None
def tags(repo, a):
    out = []
    for t in repo.tags:
        if t.path.startswith("refs/tags/deploy/"):
            when = t.tag.tagged_date if t.tag is not None else t.commit.committed_date
            out.append([t.path, t.commit.hexsha, when])
    return sorted(out)
def ancestry(repo, a):
    return repo.is_ancestor(a["old"], a["head"])
def worktree(repo, a):
    gitrepo.add_worktree(repo, a["wt"], a["head"])
    gitrepo.remove_worktrees(repo, [a["wt"]])
    return True
def reads(repo, a):
    return [gitrepo.read_at(repo, c, p).decode() for c in (a["old"], a["head"]) for p in a["files"]]
OPEN = lambda root: git.Repo(root)
"""

_OPS_PLUMBING = """
from pytest_rollout.diff.git import git_ok, run_git
from pytest_rollout.gate.deploys import deploy_tags
def tags(root, a):
    return sorted([t.ref, t.commit, int(t.at.timestamp())] for t in deploy_tags(root, "refs/tags/deploy/*"))
def ancestry(root, a):
    return git_ok(root, "merge-base", "--is-ancestor", a["old"], a["head"])
def worktree(root, a):
    run_git(root, "worktree", "add", "--detach", "--quiet", str(a["wt"]), a["head"])
    run_git(root, "worktree", "remove", "--force", str(a["wt"]))
    return True
def reads(root, a):
    out = []
    for c in (a["old"], a["head"]):
        for p in a["files"]:
            assert git_ok(root, "cat-file", "-e", f"{c}:{p}")
            out.append(run_git(root, "cat-file", "blob", f"{c}:{p}").decode())
    return out
OPEN = lambda root: root
"""

_MAIN = """
import json, sys, time
from pathlib import Path
exec(sys.argv[1])
a = json.loads(sys.argv[3]); a["wt"] = Path(a["wt"])
op, calls = sys.argv[2], int(sys.argv[4])
repo = OPEN(Path(a["root"]))
if calls == 1:
    print(json.dumps({"answer": globals()[op](repo, a)}))
else:
    answer, times = None, []
    for _ in range(calls + 1):  # the first call warms GitPython's persistent cat-file and the page cache
        start = time.perf_counter(); answer = globals()[op](repo, a); times.append(time.perf_counter() - start)
    print(json.dumps({"answer": answer, "per_call": min(times[1:])}))
"""

OPS = ("tags", "ancestry", "worktree", "reads")
LABEL = {"tags": "tags+dates", "ancestry": "ancestry", "worktree": "worktree", "reads": "reads (12)"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, text=True).stdout


def build(root: Path) -> tuple[str, str]:
    git(root.parent, "init", "-q", "-b", "main", str(root))
    lines = []
    for n in range(1, N_COMMITS + 1):
        lines += [
            "commit refs/heads/main",
            f"mark :{n}",
            f"committer Bench <bench@example.com> {1_700_000_000 + n * 60} +0000",
            "data 4",
            f"c{n:03d}",
        ]
        if n > 1:
            lines.append(f"from :{n - 1}")
        for path in FILES if n in (1, 10, N_COMMITS) else FILES[:1]:
            body = f"value: {n}\nfile: {path}\n"
            lines += [f"M 100644 inline {path}", f"data {len(body)}", body]
    for t in range(N_TAGS):
        mark = 10 * (t + 1)
        if t % 2:
            lines += [f"tag deploy/prod/{t:02d}", f"from :{mark}"]
            lines += [f"tagger Bench <bench@example.com> {1_700_000_000 + mark * 60 + 5} +0000", "data 6", "deploy"]
        else:
            lines += [f"reset refs/tags/deploy/prod/{t:02d}", f"from :{mark}", ""]
    lines.append("done")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet", "--done"],
        input=("\n".join(lines) + "\n").encode(),
        check=True,
    )
    git(root, "checkout", "-q", "main")
    return git(root, "rev-parse", "deploy/prod/00^{commit}").strip(), git(root, "rev-parse", "main").strip()


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    return time.perf_counter() - start, out


def interleaved(commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, list[tuple[float, str]]]:
    """RUNS runs of each command, the commands taking turns (after one warm-up run each)."""
    for args in commands.values():
        timed(args, env)  # warm the .pyc files and the page cache
    runs: dict[str, list[tuple[float, str]]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, args in commands.items():
            runs[name].append(timed(args, env))
    return runs


def main() -> int:
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        repo = Path(tmp, "repo")
        old, head = build(repo)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pycache"))
        params = json.dumps({"root": str(repo), "old": old, "head": head, "wt": str(Path(tmp, "wt")), "files": FILES})
        floor = interleaved({"start": [py, "-c", "pass"], "import": [py, "-c", "import git"]}, env)
        start, imp = (min(t for t, _ in floor[name]) for name in ("start", "import"))
        fresh, warm, agree = {}, {}, True
        for op in OPS:
            answers = []
            sides = {"gitpython": _OPS_GITPYTHON, "plumbing": _OPS_PLUMBING}
            once = interleaved({side: [py, "-c", _MAIN, ops, op, params, "1"] for side, ops in sides.items()}, env)
            hot = interleaved(
                {side: [py, "-c", _MAIN, ops, op, params, str(CALLS)] for side, ops in sides.items()}, env
            )
            for side in sides:
                fresh[op, side] = min(t for t, _ in once[side])
                warm[op, side] = min(json.loads(out)["per_call"] for _, out in hot[side])
                answers += [json.loads(out)["answer"] for _, out in once[side] + hot[side]]
            agree &= all(x == answers[0] for x in answers)
    report(start, imp, fresh, warm, agree)
    return 0 if agree else 1


def report(
    start: float, imp: float, fresh: dict[tuple[str, str], float], warm: dict[tuple[str, str], float], agree: bool
) -> None:
    ms = 1000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_git ({N_COMMITS} commits, {N_TAGS} deploy tags, {len(FILES)} files; load {load:.2f})")
    print(f"  python -c pass                   {start * ms:7.1f} ms")
    print(f"  import git (GitPython)           {imp * ms:7.1f} ms  (+{(imp - start) * ms:.1f} ms over start)")
    print(f"  1. a fresh interpreter per answer (fastest of {RUNS}, interleaved): what a one-shot verb pays")
    print(f"  {'use':<12} {'GitPython':>10} {'plumbing':>10} {'ratio':>6}  GitPython's extra")
    for op in OPS:
        gp, pl = fresh[op, "gitpython"], fresh[op, "plumbing"]
        print(f"  {LABEL[op]:<12} {gp * ms:7.1f} ms {pl * ms:7.1f} ms {gp / pl:6.2f}  {(gp - pl) * ms:+7.1f} ms")
    print(f"  2. per call in one interpreter, the repository open (fastest of {CALLS} calls; import excluded)")
    print(f"  {'use':<12} {'GitPython':>10} {'plumbing':>10} {'ratio':>6}  calls to pay back the import")
    for op in OPS:
        gp, pl = warm[op, "gitpython"], warm[op, "plumbing"]
        back = f"{(imp - start) / (pl - gp):.0f}" if pl > gp else "never"
        print(f"  {LABEL[op]:<12} {gp * ms:7.2f} ms {pl * ms:7.2f} ms {gp / pl:6.2f}  {back}")
    print(f"  answers agree: {'yes  OK' if agree else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
