"""How fast is ``pytest-rollout check`` (the pre-push path), next to the work it cannot avoid?

Run: ``.venv/bin/python benchmarks/bench_diff.py`` (stdlib and the package only; a few
minutes on 2 loaded cores). It builds synthetic repositories with ``git fast-import``
(5,000 commits through porcelain would take many minutes): 20,000 files, of which 200
YAML configs under ``config/``; the window (the last 5 commits) edits 50 of them. And a
small real repository: ``example_repo/`` committed as it is, then one commit that moves
two of its keys. Then, interleaved, in the same run (check, the floor and the reference: 15 rounds, each
round's ratio kept, the median of them printed; the rest: median of 5 runs):

* ``check``: ``pytest-rollout check --base B --head H --json`` with a warm settings cache
  (the first run of a clone validates the settings; every later push reads the cache);
* ``full floor``: one ``python`` that does what any implementation must: ``git diff-tree
  -r -z -M``, one ``git cat-file --batch`` of both sides of the changed configs, PyYAML's
  ``CSafeLoader`` parse of both sides, the key diff, and the JSON of it;
* ``old reference`` (kept for the record): the two git commands and ``python -c pass``,
  without the YAML import and parse: a goal against it is out of reach by construction;
* ``engine``: ``changes.diff_commits`` alone, in process; ``imports``: the package modules
  ``check`` imports, in a fresh ``python``.

Goals: check / full floor <= 2.0 on both repositories; the same window over 500 and 5,000
commits of history within 20% (the check must not walk history); no scipy, pytest, numpy,
pydantic or GitPython among the modules ``check`` imports (``python -X importtime``); and
parse time linear in file size: a 1 MB YAML parses in <= 12x the time of a 100 KB one
(the cyclic collector paused, as ``diff_commits`` does; the run with it on, and PyYAML's CSafeLoader
alone on the same bytes, are printed too; best of 3 runs each).
Exit status 1 when a goal is missed, so the script can guard CI.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
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
RATIO_ROUNDS = 15  # check / floor: a paired ratio per round, their median
GOAL_RATIO = 2.0
GOAL_PARSE_GROWTH = 12.0  # 10x the bytes: linear is 10x; the collector on gives ~18-25x
HISTORY_TOLERANCE = 0.20
FORBIDDEN = {"scipy", "pytest", "_pytest", "numpy", "git", "pydantic", "pydantic_core"}
EXAMPLE = Path(__file__).resolve().parents[1] / "example_repo"


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


def build_example(root: Path) -> tuple[str, str]:
    """``example_repo/`` as a repository: its files as they are, then one commit moving two params keys."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".rollout", ".pytest_cache"))
    git(root.parent, "init", "-q", "-b", "main", str(root))
    ident = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    git(root, "add", "-A")
    git(root, *ident, "commit", "-q", "-m", "example_repo as shipped")
    app = root / "config" / "app.yaml"
    text = app.read_text()
    for key in ("temperature", "max_tokens"):
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{key}:"))
        text = text.replace(line, line.split(":")[0] + ": 7", 1)
    app.write_text(text)
    git(root, *ident, "commit", "-q", "-am", "params: temperature and max_tokens")
    return git(root, "rev-parse", "HEAD~1").strip(), git(root, "rev-parse", "HEAD").strip()


def run_check(repo: Path, base: str, head: str, env: dict[str, str]) -> dict[str, list[dict[str, object]]]:
    cmd = [str(VENV_BIN / "pytest-rollout"), "check", "--base", base, "--head", head, "--repo", str(repo), "--json"]
    out = subprocess.run(cmd, capture_output=True, check=False, env=env)
    if out.returncode not in (0, 1):
        raise SystemExit(f"pytest-rollout check failed ({out.returncode}): {out.stderr.decode()[-800:]}")
    doc: dict[str, list[dict[str, object]]] = json.loads(out.stdout)
    return doc


def run_reference(repo: Path, base: str, head: str, env: dict[str, str]) -> None:
    """The old reference: the two plumbing commands and an empty interpreter (no YAML at all)."""
    names = subprocess.run(
        ["git", "-C", str(repo), "diff", "--name-status", "-z", "-M", base, head], capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [p.decode() for p in names[1::2] if p.startswith(b"config/")]
    specs = "".join(f"{rev}:{p}\n" for p in paths for rev in (base, head)).encode()
    subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"], input=specs, capture_output=True, check=True)
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)


#: The full floor, in one interpreter: plumbing, CSafeLoader parse of both sides, key diff, JSON.
FLOOR = r"""
import json, subprocess, sys
import yaml
repo, base, head = sys.argv[1:4]
raw = subprocess.run(["git", "-C", repo, "diff-tree", "-r", "-z", "-M", "--no-commit-id", "--raw", base, head],
                     capture_output=True, check=True).stdout.split(b"\0")
shas, paths, i = [], [], 0
while i < len(raw) - 1:
    meta = raw[i].decode().split()
    n = 3 if meta[4][0] in "RC" else 2
    path = raw[i + n - 1].decode()
    if path.endswith((".yaml", ".yml")):
        shas.append((meta[2], meta[3])); paths.append(path)
    i += n
want = [s for pair in shas for s in pair if set(s) != {"0"}]
out = subprocess.run(["git", "-C", repo, "cat-file", "--batch"], input="".join(s + "\n" for s in want).encode(),
                     capture_output=True, check=True).stdout
blobs, pos = {}, 0
for sha in want:
    nl = out.index(b"\n", pos); size = int(out[pos:nl].split()[2]); blobs[sha] = out[nl + 1 : nl + 1 + size]
    pos = nl + 2 + size
def flat(v, pre=()):
    if isinstance(v, dict) and v:
        for k, x in v.items(): yield from flat(x, (*pre, str(k)))
    elif isinstance(v, list) and v:
        for k, x in enumerate(v): yield from flat(x, (*pre, str(k)))
    else:
        yield ".".join(pre), v
changes = []
for path, (old, new) in zip(paths, shas):
    a = dict(flat(yaml.load(blobs.get(old, b""), Loader=yaml.CSafeLoader)))
    b = dict(flat(yaml.load(blobs.get(new, b""), Loader=yaml.CSafeLoader)))
    changes += [{"path": path, "key": k, "old": a.get(k), "new": b.get(k)} for k in a.keys() | b.keys()
                if a.get(k) != b.get(k)]
sys.stdout.write(json.dumps({"changes": changes}, indent=2))
"""


def run_floor(repo: Path, base: str, head: str, env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", FLOOR, str(repo), base, head], capture_output=True, check=True, env=env)
    return len(json.loads(out.stdout)["changes"])


def parse_growth() -> dict[str, float]:
    """Seconds to parse ~100 KB and ~1 MB of YAML with ``formats.parse``, collector on and paused,
    and with PyYAML's ``CSafeLoader`` alone (paused): the best of 3 runs each, as ``timeit`` takes it
    (one run on a shared machine measures the neighbours)."""
    import yaml

    from pytest_rollout.diff.formats import parse
    from pytest_rollout.diff.gcpause import paused_gc

    def doc(n: int) -> bytes:
        items = ("  - " + config_yaml(i).replace("\n", "\n    ").rstrip() + "\n" for i in range(n))
        return ("services:\n" + "".join(items)).encode()

    def ours(data: bytes) -> object:
        return parse("big.yaml", data)

    def pyyaml(data: bytes) -> object:
        return yaml.load(data, Loader=yaml.CSafeLoader)

    found: dict[str, float] = {}
    for label, n in (("100KB", 200), ("1MB", 2000)):
        data = doc(n)
        for mode, fn in (("on", ours), ("paused", ours), ("pyyaml", pyyaml)):
            for _ in range(3):
                gc.collect()
                start = time.perf_counter()
                if mode == "on":
                    fn(data)
                else:
                    with paused_gc():
                        fn(data)
                took = time.perf_counter() - start
                found[f"{label} {mode}"] = min(found.get(f"{label} {mode}", took), took)
    return found


def run_engine(repo: Path, base: str, head: str) -> int:
    from pytest_rollout.diff.changes import diff_commits
    from pytest_rollout.diff.formats import is_structured

    return len(diff_commits(repo, base, head, is_structured).changes)


def run_imports(modules: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", "import " + ", ".join(modules)], check=True, env=env)


def import_profile(repo: Path, base: str, head: str, env: dict[str, str]) -> list[tuple[str, int, int]]:
    """(module, nesting depth, cumulative microseconds) for every module ``check`` imports (warm cache)."""
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "pytest_rollout",
        "check",
        "--base",
        base,
        "--head",
        head,
        "--repo",
        str(repo),
        "--json",
    ]
    err = subprocess.run(cmd, capture_output=True, check=False, env=env).stderr.decode()
    found = []
    for line in err.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            found.append((name.strip(), depth, int(parts[1])))
    return found


# --------------------------------------------------------------------------- report


def _measure(name: str, repo: Path, base: str, head: str, env: dict[str, str]) -> dict[str, float]:
    """Medians over ``RATIO_ROUNDS`` interleaved rounds, and the ratios as the median of each round's ratio.

    Each round runs check, the floor and the reference back to back, so a load spike on a shared
    machine lands on one round's pair; the median of the per-round ratios discards it.
    """
    run_check(repo, base, head, env)  # warms the settings cache, as every push after a clone's first
    check, floor, ref = [], [], []
    for _ in range(RATIO_ROUNDS):  # interleaved: a load spike hits all three alike
        for times, fn in ((check, run_check), (floor, run_floor), (ref, run_reference)):
            start = time.perf_counter()
            fn(repo, base, head, env)
            times.append(time.perf_counter() - start)
    return {
        "check": statistics.median(check),
        "floor": statistics.median(floor),
        "ref": statistics.median(ref),
        "ratio": statistics.median(c / f for c, f in zip(check, floor, strict=True)),
        "ref_ratio": statistics.median(c / r for c, r in zip(check, ref, strict=True)),
    }


def main() -> int:
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        t0 = time.perf_counter()
        long_repo, short_repo, small_repo = Path(tmp, "h5000"), Path(tmp, "h500"), Path(tmp, "example")
        long_b, long_h = build_repo(long_repo, 5_000)
        short_b, short_h = build_repo(short_repo, 500)
        small_b, small_h = build_example(small_repo)
        build = time.perf_counter() - t0
        env = python_env(Path(tmp))

        doc = run_check(long_repo, long_b, long_h, env)
        changes = [*doc.get("changes", []), *doc.get("unclassified", [])]
        files = {str(c["path"]) for c in changes}
        small_doc = run_check(small_repo, small_b, small_h, env)

        bench = _measure("bench", long_repo, long_b, long_h, env)
        small = _measure("example", small_repo, small_b, small_h, env)
        engine = median_time(lambda: run_engine(long_repo, long_b, long_h))
        cli_short = median_time(lambda: run_check(short_repo, short_b, short_h, env))
        cli_long = median_time(lambda: run_check(long_repo, long_b, long_h, env))
        profile = import_profile(long_repo, long_b, long_h, env)
        ours = [name for name, _, _ in profile if name.startswith("pytest_rollout.")]
        imports = median_time(lambda: run_imports(ours, env))
        small_profile = import_profile(small_repo, small_b, small_h, env)
    growth = parse_growth()

    heavy = sorted({name.split(".")[0] for name, _, _ in [*profile, *small_profile]} & FORBIDDEN)
    top = sorted(((us, name) for name, depth, us in profile if depth <= 1), reverse=True)[:4]
    ratio, small_ratio, history = bench["ratio"], small["ratio"], cli_long / cli_short
    paused = growth["1MB paused"] / growth["100KB paused"]
    ok_ratio, ok_small = ratio <= GOAL_RATIO, small_ratio <= GOAL_RATIO
    ok_history, ok_parse = abs(history - 1) <= HISTORY_TOLERANCE, paused <= GOAL_PARSE_GROWTH

    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    rows = [
        (
            "bench repository",
            f"{N_FILES} files, {N_CONFIGS} YAML configs; window {WINDOW} commits, {N_CHANGED} configs",
        ),
        (
            "small real repository",
            f"example_repo/, one commit moving 2 keys ({len(small_doc.get('changes', []))} changes)",
        ),
        ("built (fast-import 2 repos + example)", f"{build:.1f} s"),
        ("bytecode cache / settings cache", "warm (.pyc under a temp PYTHONPYCACHEPREFIX) / warm"),
        ("changes found (bench)", f"{len(changes)} in {len(files)} files"),
        ("bench: pytest-rollout check --json", f"{bench['check'] * 1000:.0f} ms"),
        ("bench: full floor (git + CSafeLoader + diff + JSON)", f"{bench['floor'] * 1000:.0f} ms"),
        ("bench: old reference (git + python -c pass)", f"{bench['ref'] * 1000:.0f} ms"),
        (
            "bench: ratio check / full floor (goal <= 2)",
            f"{ratio:.2f}  {verdict(ok_ratio)} (of the medians: {bench['check'] / bench['floor']:.2f})",
        ),
        ("bench: ratio check / old reference", f"{bench['ref_ratio']:.2f}"),
        ("small: pytest-rollout check --json", f"{small['check'] * 1000:.0f} ms"),
        ("small: full floor", f"{small['floor'] * 1000:.0f} ms"),
        ("small: old reference", f"{small['ref'] * 1000:.0f} ms"),
        (
            "small: ratio check / full floor (goal <= 2)",
            f"{small_ratio:.2f}  {verdict(ok_small)} (of the medians: {small['check'] / small['floor']:.2f})",
        ),
        ("small: ratio check / old reference", f"{small['ref_ratio']:.2f}"),
        ("  imports alone (bench)", f"{imports * 1000:.0f} ms"),
        ("  engine (diff_commits, in process, bench)", f"{engine * 1000:.0f} ms"),
        ("check at 500 / 5,000 commits of history", f"{cli_short * 1000:.0f} / {cli_long * 1000:.0f} ms"),
        ("ratio 5,000 / 500 commits (within 20%)", f"{history:.2f}  {verdict(ok_history)}"),
        (
            "parse 100 KB / 1 MB YAML, collector on",
            f"{growth['100KB on'] * 1000:.0f} / {growth['1MB on'] * 1000:.0f} ms",
        ),
        (
            "parse 100 KB / 1 MB YAML, collector paused",
            f"{growth['100KB paused'] * 1000:.0f} / {growth['1MB paused'] * 1000:.0f} ms",
        ),
        (
            f"parse growth for 10x bytes (paused; goal <= {GOAL_PARSE_GROWTH:.0f})",
            f"{paused:.1f}  {verdict(ok_parse)} (collector on: {growth['1MB on'] / growth['100KB on']:.1f}; "
            f"CSafeLoader alone: {growth['1MB pyyaml'] / growth['100KB pyyaml']:.1f})",
        ),
        ("modules imported by check", str(len(profile))),
        ("largest imports (cumulative)", ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in top)),
        ("scipy / pytest / pydantic / git imported", ", ".join(heavy) if heavy else "none  OK"),
    ]
    width = max(len(name) for name, _ in rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench_diff (check vs floor: {RATIO_ROUNDS} interleaved rounds, median of the per-round ratios;")
    print(f"  the rest: median of {RUNS} runs; load average before the run: {load_before}, after: {load})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    ok = ok_ratio and ok_small and ok_history and ok_parse and not heavy
    return 0 if ok and len(files) == N_CHANGED else 1


if __name__ == "__main__":
    sys.exit(main())
