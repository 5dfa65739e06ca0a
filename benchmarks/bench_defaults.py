"""Do the built-in defaults see what a careful map sees, on real commits of public AI projects?

Run: ``.venv/bin/python benchmarks/bench_defaults.py [-v] [--rounds 1,2]`` (``--rounds``:
only the repositories that joined the corpus in those rounds, so a round kept for a last
held-out run is not seen while the defaults are worked on). The corpus is
``benchmarks/corpus/<repo>/``: ``commits.json`` (repository, commit, parent, and the
configuration files the commit changed, as git blob shas), ``blobs/`` (those files
at both sides, gzipped) and ``careful.yaml`` (the map written by hand, before the
tool was run on the corpus). Each commit is replayed in a fresh repository: the
base side committed, then the head side; ``rollout.yaml`` (when a map is used) is
in both. Three maps judge each commit:

* ``defaults``: no ``rollout.yaml``;
* ``init``: what ``pytest-rollout init`` writes at the base side, unedited;
* ``careful``: ``careful.yaml`` (the truth the other two are measured against).

Printed: the exact-match rate (the set of moved layers equals the careful map's),
recall per layer (of the commits where the careful map moves a layer, the share
where the map does too), and silent passes (the careful map moves a layer, the
map moves none). A commit the gate refuses (a duplicate key: an error, so it
blocks) counts as its error message under every map. Goals: defaults >= 0.80, init >= 0.95, no silent pass; exit 1
when one is missed.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
MODES = ("defaults", "init", "careful")
GOALS = {"defaults": 0.80, "init": 0.95}


@dataclass(frozen=True)
class Case:
    repo: str
    commit: str
    subject: str
    base: dict[str, bytes]
    head: dict[str, bytes]
    careful: str
    round: int  # 1: the repositories the defaults were first written against; 2+: added later, held out


def cases() -> Iterator[Case]:
    for folder in sorted(p for p in CORPUS.iterdir() if (p / "commits.json").is_file()):
        doc = json.loads((folder / "commits.json").read_text())
        careful = (folder / "careful.yaml").read_text()

        def blob(sha: str | None, folder: Path = folder) -> bytes | None:
            return None if sha is None else gzip.decompress((folder / "blobs" / f"{sha}.gz").read_bytes())

        for rec in doc["commits"]:
            base = {p: b for p, s in rec["files"].items() if (b := blob(s["base"])) is not None}
            head = {p: b for p, s in rec["files"].items() if (b := blob(s["head"])) is not None}
            yield Case(doc["repository"], rec["commit"], rec["subject"], base, head, careful, doc.get("round", 1))


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@x"
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _write(repo: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def replay(case: Case, mode: str, tmp: Path) -> tuple[list[str], str, bool]:
    """(layers moved, the map used, whether the gate blocks) for one commit under one map."""
    from pytest_rollout.cli.init import render, scan_repo
    from pytest_rollout.errors import RolloutError
    from pytest_rollout.gate.chain import Request, run_gate

    repo = tmp / f"{mode}-{case.commit[:12]}"
    repo.mkdir()
    _git(repo, "init", "-q")
    _write(repo, case.base)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    settings = {"defaults": "", "careful": case.careful}.get(mode)
    if settings is None:
        try:
            settings = render(scan_repo(repo))
        except RolloutError as exc:  # init refuses a malformed base; the user fixes it first
            return [f"error: {str(exc)[:60]}"], "", True
    if settings:
        (repo / "rollout.yaml").write_text(settings)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "settings")
    for path in set(case.base) - set(case.head):
        (repo / path).unlink()
    _write(repo, case.head)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "head")
    try:
        res = run_gate(Request(repo=repo, base="HEAD~1", head="HEAD", env={}))
    except RolloutError as exc:  # the gate refuses the commit (e.g. a duplicate key): it blocks, never passes
        return [f"error: {str(exc)[:60]}"], settings, True
    blocked = res.decision is not None and res.decision.status == "blocked"
    return res.diff.layers_changed, settings, blocked


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    rounds = {int(r) for r in argv[argv.index("--rounds") + 1].split(",")} if "--rounds" in argv else None
    moved: dict[str, list[list[str]]] = defaultdict(list)
    blocked: dict[str, list[bool]] = defaultdict(list)
    all_cases = [c for c in cases() if rounds is None or c.round in rounds]
    with tempfile.TemporaryDirectory() as tmp:
        for case in all_cases:
            for mode in MODES:
                layers, _, stop = replay(case, mode, Path(tmp))
                moved[mode].append(layers)
                blocked[mode].append(stop)
    truth = moved["careful"]
    refused = sum(any(layer.startswith("error") for layer in t) for t in truth)
    repos = sorted({c.repo for c in all_cases})
    print(f"corpus: {len(all_cases)} commits of {len(repos)} repositories ({', '.join(repos)})")
    print(f"refused by the gate under the careful map (malformed at head: an error, so blocked): {refused}")
    failed = _report("all", range(len(all_cases)), moved, blocked, goals=True)
    for rnd in sorted({c.round for c in all_cases}):
        idx = [i for i, c in enumerate(all_cases) if c.round == rnd]
        names = sorted({all_cases[i].repo for i in idx})
        _report(f"round {rnd} ({'first corpus' if rnd == 1 else 'held out'}: {', '.join(names)})", idx, moved, blocked)
    for repo in repos:
        _report(repo, [i for i, c in enumerate(all_cases) if c.repo == repo], moved, blocked, brief=True)
    if verbose:
        for i, case in enumerate(all_cases):
            row = {m: moved[m][i] + (["(blocked)"] if blocked[m][i] and not moved[m][i] else []) for m in MODES}
            mark = " " if moved["defaults"][i] == moved["careful"][i] == moved["init"][i] else "*"
            print(f"{mark} {case.repo} {case.commit[:10]} {case.subject[:50]!r}: {row}")
    return 1 if failed else 0


def _report(
    title: str,
    idx: Sequence[int],
    moved: dict[str, list[list[str]]],
    blocked: dict[str, list[bool]],
    *,
    goals: bool = False,
    brief: bool = False,
) -> bool:
    """Print one block of figures over the commits ``idx``; True when a goal is missed.

    A silent pass: the careful map moves a layer, the map moves none and the gate passes
    (``init``'s ``strict: true`` blocks a change no rule places: caught, not silent).
    """
    truth = [moved["careful"][i] for i in idx]
    layers = sorted({layer for t in truth for layer in t if not layer.startswith("error")})
    print(f"{title}: {len(idx)} commits")
    failed = False
    for mode in MODES[:2] if brief else MODES:
        got = [moved[mode][i] for i in idx]
        stops = [blocked[mode][i] for i in idx]
        exact = sum(g == t for g, t in zip(got, truth, strict=True)) / len(truth)
        silent = sum(bool(t) and not g and not b for g, t, b in zip(got, truth, stops, strict=True))
        caught = sum(bool(t) and not g and b for g, t, b in zip(got, truth, stops, strict=True))
        recall = {
            layer: _ratio(
                sum(layer in g for g, t in zip(got, truth, strict=True) if layer in t), [t for t in truth if layer in t]
            )
            for layer in layers
        }
        goal = GOALS.get(mode) if goals else None
        missed = goal is not None and (exact < goal or silent > 0)
        failed |= missed
        per_layer = "" if brief else "  recall: " + ", ".join(f"{layer} {r}" for layer, r in recall.items())
        print(
            f"  {mode:9s} exact match {exact:.2f}  silent passes {silent}"
            + (f" (+{caught} blocked as unclassified)" if caught else "")
            + per_layer
            + (" (MISSED)" if missed else "")
        )
    return failed


def _ratio(hits: int, of: list[list[str]]) -> str:
    return f"{hits / len(of):.2f} ({hits}/{len(of)})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
