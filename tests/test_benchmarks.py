"""The benchmarks still run against today's code (a schema change once broke bench_store's raw insert).

Smoke runs only, with the smallest sizes: the figures belong to the scripts, never to a test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks"


def test_bench_store_runs_at_a_tiny_size() -> None:
    args = ["--trials", "200", "--batch", "100", "--repeats", "1", "--history", "30", "--postgres", ""]
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_store.py"), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "row by row" in done.stdout and "find_baseline  floor" in done.stdout
