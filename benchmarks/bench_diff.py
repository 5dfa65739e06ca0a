"""How fast is ``pytest-rollout diff``, next to the git work it cannot avoid?

Run: ``.venv/bin/python benchmarks/bench_diff.py`` (stdlib and the package only;
well under 2 minutes on 2 cores). It builds synthetic repositories with
``git fast-import`` (5,000 commits through porcelain would take many minutes):
20,000 files, of which 200 YAML configs under ``config/``; the window (the last
5 commits) edits 50 of them. Then, median of 5 runs each, in the same run:

* ``cli``: ``pytest-rollout diff --base B --head H --json`` (built-in layer defaults);
* ``reference``: what any implementation must pay: ``git diff --name-status -z -M B H``,
  one ``git cat-file --batch`` of both sides of the 50 changed configs, and a bare
  ``python -c pass`` (interpreter start-up);
* ``engine``: ``changes.diff_commits`` alone, in process;
* ``imports``: ``python -c "import <the package modules the diff imports>"``,
  the CLI's start-up floor before any git or parsing;

and the ratio cli / reference (goal <= 3). The same window is timed over 500
and 5,000 commits of history: the diff must not walk history, so the two must
stay within 20%. Finally the modules the diff command imports are counted
(``python -X importtime``): scipy and pytest must not be among them.
Exit status 1 when a goal is missed, so the script can guard CI.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
N_FILES = 20_000
N_CONFIGS = 200
N_CHANGED = 50
WINDOW = 5
RUNS = 5
GOAL_RATIO = 3.0
HISTORY_TOLERANCE = 0.20
FORBIDDEN = {"scipy", "pytest", "_pytest", "numpy", "git"}


# --------------------------------------------------------------------------- synthetic repository


def config_yaml(i: int, model: str = "gpt-4-turbo-preview", batch: int = 8) -> str:
    tools = "".join(f"  - name: tool_{t}\n    description: tool {t} of service {i}\n" for t in range(4))
    return (
        f"# service {i}\nllm:\n  provider: openai\n  model: {model}\n  temperature: 0.2\n"
        f"  max_tokens: 512\n  context_window: 8192\nserving:\n  batch_size: {batch}\n"
        f"  timeout_s: 30\n  replicas: {1 + i % 3}\nretrieval:\n  top_k: 4\n  chunk_size: 512\n"
        f"tools:\n{tools}"
    )


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _commit(n: int, message: str, files: dict[str, str]) -> Iterator[bytes]:
    yield b"commit refs/heads/main\nmark :%d\n" % n
    yield b"committer Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + n * 60)
    yield _data(message)
    if n > 1:
        yield b"from :%d\n" % (n - 1)
    for path, text in files.items():
        yield b"M 100644 inline %s\n" % path.encode()
        yield _data(text)


def fast_import_stream(n_commits: int, seed: int = 1) -> Iterator[bytes]:
    """The initial tree, history commits (3 source files, now and then a config), then the window."""
    rng = random.Random(seed)
    src = [f"src/pkg{i // 100:03d}/mod{i % 100:02d}.py" for i in range(N_FILES - N_CONFIGS)]
    configs = [f"config/service_{i:03d}.yaml" for i in range(N_CONFIGS)]
    initial = {p: f"VALUE = {i}\n" for i, p in enumerate(src)} | {p: config_yaml(i) for i, p in enumerate(configs)}
    yield from _commit(1, "initial", initial)
    for n in range(2, n_commits - WINDOW + 1):
        files = {p: f"VALUE = {rng.random()}\n" for p in rng.sample(src, 3)}
        if n % 10 == 0:
            i = rng.randrange(N_CONFIGS)
            files[configs[i]] = config_yaml(i, batch=rng.choice([8, 16]))
        yield from _commit(n, f"history {n}", files)
    changed = rng.sample(range(N_CONFIGS), N_CHANGED)
    per = N_CHANGED // WINDOW
    for w in range(WINDOW):
        picked = changed[w * per : (w + 1) * per]
        files = {configs[i]: config_yaml(i, model="gpt-4o", batch=32) for i in picked}
        yield from _commit(n_commits - WINDOW + 1 + w, f"window {w}", files)
    yield b"done\n"


def build_repo(root: Path, n_commits: int) -> tuple[str, str]:
    """A repository with ``n_commits`` commits; returns (base, head) around the window.

    No checkout: the diff reads objects only, and 20,000 files on disk would
    only slow the build down.
    """
    git(root.parent, "init", "-q", "-b", "main", str(root))
    proc = subprocess.Popen(["git", "-C", str(root), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in fast_import_stream(n_commits):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    return git(root, "rev-parse", f"main~{WINDOW}").strip(), git(root, "rev-parse", "main").strip()


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


# --------------------------------------------------------------------------- measurements


def python_env(tmp: Path) -> dict[str, str]:
    """Subprocess environment with a warm bytecode cache, kept out of the checkout.

    Users run with ``.pyc`` files; a ``PYTHONDONTWRITEBYTECODE`` environment
    would make every run recompile the package and measure the compiler.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def median_time(fn: Callable[[], object], runs: int = RUNS) -> float:
    fn()  # warm the page cache and the .pyc files once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_cli(repo: Path, base: str, head: str, env: dict[str, str]) -> dict[str, list[dict[str, object]]]:
    cmd = [str(VENV_BIN / "pytest-rollout"), "diff", "--base", base, "--head", head, "--repo", str(repo), "--json"]
    out = subprocess.run(cmd, capture_output=True, check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"pytest-rollout diff failed ({out.returncode}): {out.stderr.decode()[-800:]}")
    doc: dict[str, list[dict[str, object]]] = json.loads(out.stdout)
    return doc


def run_reference(repo: Path, base: str, head: str, env: dict[str, str]) -> None:
    names = subprocess.run(
        ["git", "-C", str(repo), "diff", "--name-status", "-z", "-M", base, head], capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [p.decode() for p in names[1::2] if p.startswith(b"config/")]
    specs = "".join(f"{rev}:{p}\n" for p in paths for rev in (base, head)).encode()
    subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"], input=specs, capture_output=True, check=True)
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)


def run_engine(repo: Path, base: str, head: str) -> int:
    from pytest_rollout.diff.changes import diff_commits
    from pytest_rollout.diff.formats import is_structured

    return len(diff_commits(repo, base, head, is_structured).changes)


def run_imports(modules: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", "import " + ", ".join(modules)], check=True, env=env)


def import_profile(repo: Path, base: str, head: str, env: dict[str, str]) -> list[tuple[str, int, int]]:
    """(module, nesting depth, cumulative microseconds) for every module the diff imports."""
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "pytest_rollout",
        "diff",
        "--base",
        base,
        "--head",
        head,
        "--repo",
        str(repo),
        "--json",
    ]
    err = subprocess.run(cmd, capture_output=True, check=True, env=env).stderr.decode()
    found = []
    for line in err.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            found.append((name.strip(), depth, int(parts[1])))
    return found


# --------------------------------------------------------------------------- report


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        t0 = time.perf_counter()
        long_repo, short_repo = Path(tmp, "h5000"), Path(tmp, "h500")
        long_b, long_h = build_repo(long_repo, 5_000)
        short_b, short_h = build_repo(short_repo, 500)
        build = time.perf_counter() - t0
        env = python_env(Path(tmp))

        doc = run_cli(long_repo, long_b, long_h, env)
        changes = [*doc.get("changes", []), *doc.get("unclassified", [])]
        files = {str(c["path"]) for c in changes}

        cli = median_time(lambda: run_cli(long_repo, long_b, long_h, env))
        ref = median_time(lambda: run_reference(long_repo, long_b, long_h, env))
        engine = median_time(lambda: run_engine(long_repo, long_b, long_h))
        cli_short = median_time(lambda: run_cli(short_repo, short_b, short_h, env))
        profile = import_profile(long_repo, long_b, long_h, env)
        ours = [name for name, _, _ in profile if name.startswith("pytest_rollout.")]
        imports = median_time(lambda: run_imports(ours, env))

    heavy = sorted({name.split(".")[0] for name, _, _ in profile} & FORBIDDEN)
    top = sorted(((us, name) for name, depth, us in profile if depth <= 1), reverse=True)[:4]
    ratio, history = cli / ref, cli / cli_short
    ok_ratio, ok_history = ratio <= GOAL_RATIO, abs(history - 1) <= HISTORY_TOLERANCE
    rows = [
        ("repository", f"{N_FILES} files, {N_CONFIGS} YAML configs; window {WINDOW} commits, {N_CHANGED} configs"),
        ("built (fast-import, 2 repos)", f"{build:.1f} s"),
        ("bytecode cache", "warm (.pyc under a temp PYTHONPYCACHEPREFIX)"),
        ("changes found", f"{len(changes)} in {len(files)} files"),
        ("cli: pytest-rollout diff --json", f"{cli * 1000:.0f} ms"),
        ("reference: git diff + cat-file + python", f"{ref * 1000:.0f} ms"),
        ("ratio cli / reference (goal <= 3)", f"{ratio:.2f}  {'OK' if ok_ratio else 'MISSED'}"),
        ("  of which imports alone", f"{imports * 1000:.0f} ms"),
        ("  of which engine (diff_commits, in process)", f"{engine * 1000:.0f} ms"),
        ("cli at 500 commits of history", f"{cli_short * 1000:.0f} ms"),
        ("ratio 5,000 / 500 commits (within 20%)", f"{history:.2f}  {'OK' if ok_history else 'MISSED'}"),
        ("modules imported by diff", str(len(profile))),
        ("largest imports (cumulative)", ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in top)),
        ("scipy / pytest imported", ", ".join(heavy) if heavy else "neither  OK"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"bench_diff (median of {RUNS} runs each)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0 if ok_ratio and ok_history and not heavy and len(files) == N_CHANGED else 1


if __name__ == "__main__":
    sys.exit(main())
