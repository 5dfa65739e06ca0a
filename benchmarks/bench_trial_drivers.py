"""The trial runner's own cost per trial, for each driver, with a body that does nothing.

Run: ``.venv/bin/python benchmarks/bench_trial_drivers.py [--trials 4000] [--repeats 3]``

Prints the best of ``repeats`` runs of ``run_trials`` as microseconds per trial: inline (serial
sync), the daemon-thread pool (``concurrency=8``, and ``concurrency=1`` with a timeout) and the
asyncio driver (``concurrency=8``, with and without a timeout). The feed never settles, so every
run spends the whole budget. Why: an eval spends hundreds of trials; the runner must stay a
small fraction of even a fast model call.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pytest_rollout.evals.trials import Trial, run_trials


async def async_body(trial: Trial) -> None:
    pass


def sync_body(trial: Trial) -> None:
    pass


DRIVERS: list[tuple[str, Any, bool, int, float | None]] = [
    ("inline (sync, concurrency=1)", sync_body, False, 1, None),
    ("threads (sync, concurrency=8)", sync_body, False, 8, None),
    ("threads (sync, concurrency=1, timeout)", sync_body, False, 1, 5.0),
    ("asyncio (concurrency=8)", async_body, True, 8, None),
    ("asyncio (concurrency=8, timeout)", async_body, True, 8, 5.0),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, body, is_async, concurrency, timeout in DRIVERS:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            run_trials(
                body, is_async=is_async, budget_trials=args.trials, session_seed=1, nodeid="bench", cases=None,
                epochs=1, concurrency=concurrency, timeout=timeout, max_error_rate=0.5, feed=lambda x: None,
            )  # fmt: skip
            best = min(best, time.perf_counter() - start)
        print(f"{name:42s} {best / args.trials * 1e6:8.1f} us/trial")


if __name__ == "__main__":
    main()
