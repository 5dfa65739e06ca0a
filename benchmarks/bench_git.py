"""GitPython or plumbing: what each of the non-pre-push git uses would cost through GitPython.

Run: ``.venv/bin/python benchmarks/bench_git.py`` (well under a minute). It builds a small
repository (200 commits, 20 deploy tags, half of them annotated) and times, median of 5 fresh
interpreters each, the same answer both ways:

* ``start``: ``python -c pass`` (the floor of every row);
* ``import``: ``import git`` alone (what any command using GitPython pays first);
* ``tags+dates``: every ``refs/tags/deploy/*`` with its commit and date (releases, ``history``):
  GitPython's ``repo.tags`` / ``tag.commit`` / ``tagged_date`` against one ``git for-each-ref``;
* ``ancestry``: is the deployed commit an ancestor of head (baselines, releases): ``repo.is_ancestor``
  against ``git merge-base --is-ancestor``;
* ``worktree``: add and remove a detached worktree (``attribute``): ``repo.git.worktree`` against
  the same two commands through ``diff.git.run_git``.

Both sides must agree (the script checks the answers). It prints each row's milliseconds, the
GitPython / plumbing ratio, and the share of GitPython's cost that is its import.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
N_COMMITS = 200
N_TAGS = 20

GITPYTHON = {
    "tags+dates": """
import git, json, sys
repo = git.Repo(sys.argv[1])
out = []
for t in repo.tags:
    if t.path.startswith("refs/tags/deploy/"):
        when = t.tag.tagged_date if t.tag is not None else t.commit.committed_date
        out.append([t.path, t.commit.hexsha, when])
print(json.dumps(sorted(out)))
""",
    "ancestry": """
import git, json, sys
repo = git.Repo(sys.argv[1])
print(json.dumps(repo.is_ancestor(sys.argv[2], sys.argv[3])))
""",
    "worktree": """
import git, json, sys
repo = git.Repo(sys.argv[1])
repo.git.worktree("add", "--detach", "--quiet", sys.argv[4], sys.argv[3])
repo.git.worktree("remove", "--force", sys.argv[4])
print(json.dumps(True))
""",
}

PLUMBING = {
    "tags+dates": """
import json, sys
from pytest_rollout.diff.git import run_git
fmt = "%(refname)%00%(objectname)%00%(*objectname)%00%(creatordate:unix)"
out = []
for line in run_git(sys.argv[1], "for-each-ref", f"--format={fmt}", "refs/tags/deploy/").decode().splitlines():
    ref, obj, peeled, when = line.split("\\0")
    out.append([ref, peeled or obj, int(when)])
print(json.dumps(sorted(out)))
""",
    "ancestry": """
import json, sys
from pytest_rollout.diff.git import git_ok
print(json.dumps(git_ok(sys.argv[1], "merge-base", "--is-ancestor", sys.argv[2], sys.argv[3])))
""",
    "worktree": """
import json, sys
from pytest_rollout.diff.git import run_git
run_git(sys.argv[1], "worktree", "add", "--detach", "--quiet", sys.argv[4], sys.argv[3])
run_git(sys.argv[1], "worktree", "remove", "--force", sys.argv[4])
print(json.dumps(True))
""",
}


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
        body = f"value: {n}\n"
        lines += ["M 100644 inline config/app.yaml", f"data {len(body)}", body]
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
    return git(root, "rev-parse", "deploy/prod/05^{commit}").strip(), git(root, "rev-parse", "main").strip()


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    return time.perf_counter() - start, out


def median(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    timed(args, env)  # warm the .pyc files and the page cache
    runs = [timed(args, env) for _ in range(RUNS)]
    return statistics.median(t for t, _ in runs), runs[0][1]


def main() -> int:
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        repo = Path(tmp, "repo")
        old, head = build(repo)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pycache"))
        start, _ = median([py, "-c", "pass"], env)
        imp, _ = median([py, "-c", "import git"], env)
        rows, agree = [], True
        for name in GITPYTHON:
            args = [str(repo), old, head, str(Path(tmp, "wt"))]
            gp, gp_out = median([py, "-c", GITPYTHON[name], *args], env)
            pl, pl_out = median([py, "-c", PLUMBING[name], *args], env)
            agree &= json.loads(gp_out) == json.loads(pl_out)
            rows.append((name, gp, pl))
    print(f"bench_git (median of {RUNS} fresh interpreters each; {N_COMMITS} commits, {N_TAGS} deploy tags)")
    print(f"  python -c pass                    {start * 1000:6.0f} ms")
    print(f"  import git (GitPython)            {imp * 1000:6.0f} ms  (+{(imp - start) * 1000:.0f} ms over start)")
    print(f"  {'use':<12} {'GitPython':>10} {'plumbing':>10} {'ratio':>6}  import share of GitPython's extra")
    for name, gp, pl in rows:
        extra = gp - pl
        share = (imp - start) / extra if extra > 0 else float("nan")
        print(f"  {name:<12} {gp * 1000:8.0f} ms {pl * 1000:8.0f} ms {gp / pl:6.2f}  {share:.0%}")
    print(f"  answers agree: {'yes  OK' if agree else 'NO'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
