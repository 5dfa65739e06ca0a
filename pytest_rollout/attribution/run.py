"""Run pytest in each hybrid (one seed, every trial of the budget) and read the trials back.

Each hybrid runs ``python -m pytest <user args> --rollout-layers=<moved> --rollout-seed=S
--rollout-full-budget --rollout-report=...`` in its worktree, from the same folder
relative to the repository root as the caller. ``--rollout-layers`` keeps the moved
layers' evals and the evals without a ``layer`` marker; the seed pairs trial
(case, epoch) across hybrids; the full budget makes every hybrid measure the same
units. Hybrids run ``jobs`` at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_rollout.attribution.hybrids import Hybrid, Window, Worktrees

#: Variables a hybrid's pytest must not see: its outputs are ours to write, once.
_HIDDEN_ENV = ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "PYTEST_XDIST_WORKER")


@dataclass
class HybridRun:
    hybrid: Hybrid
    status: str  # "ran", "not built", "failed"
    reason: str | None = None
    evals: list[dict[str, Any]] = field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0


def run_all(
    window: Window,
    hybrids: Sequence[Hybrid],
    pytest_args: Sequence[str],
    *,
    seed: int,
    cwd: Path,
    jobs: int,
    progress: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> list[HybridRun]:
    """One ``HybridRun`` per hybrid, in the order given (unbuildable ones reported, not run)."""
    rel = _relative(cwd, window.root)
    lock = threading.Lock()
    done = [0]
    total = sum(1 for h in hybrids if h.error is None)
    environ = {k: v for k, v in (env if env is not None else os.environ).items() if k not in _HIDDEN_ENV}

    def say(text: str) -> None:
        with lock:
            progress(text)

    with Worktrees(window) as trees:
        paths = {i: trees.build(h, i) for i, h in enumerate(hybrids) if h.error is None}

        def one(i: int) -> HybridRun:
            h = hybrids[i]
            if h.error is not None:
                say(f"hybrid {h.name(window.layers)}: not built: {h.error}")
                return HybridRun(h, "not built", h.error)
            say(f"hybrid {h.name(window.layers)}: running")
            run = _run_one(h, paths[i] / rel, pytest_args, window.layers, seed, environ)
            with lock:
                done[0] += 1
                n = done[0]
            detail = f"{run.trials:,} trials in {run.seconds:.1f} s" if run.status == "ran" else run.reason
            say(f"hybrid {h.name(window.layers)}: {run.status} [{n}/{total}] {detail}")
            return run

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, range(len(hybrids))))


def _relative(cwd: Path, root: Path) -> Path:
    try:
        return cwd.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(".")


def _run_one(
    hybrid: Hybrid, where: Path, pytest_args: Sequence[str], layers: Sequence[str], seed: int, env: dict[str, str]
) -> HybridRun:
    report = where / ".rollout-attribute-report.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *pytest_args,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rollout-layers={','.join(layers)}",
        f"--rollout-seed={seed}",
        "--rollout-full-budget",
        f"--rollout-report={report}",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not report.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return HybridRun(hybrid, "failed", f"pytest exited {proc.returncode}: {' | '.join(tail)}", seconds=seconds)
    evals = json.loads(report.read_text(encoding="utf-8")).get("evals", [])
    return HybridRun(hybrid, "ran", None, evals, sum(int(e.get("n", 0)) for e in evals), seconds)
