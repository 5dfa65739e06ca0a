"""The trial runner against the loop it cannot avoid, sync and async, and I/O-bound wall time.

Run: ``.venv/bin/python benchmarks/bench_runner.py [--trials 4000] [--repeats 7]``

Floor: a loop that does only the unavoidable work of a trial: derive its seed
(``trials.trial_seed``), build the ``Trial`` the body receives, call the body in a ``try``
(awaited, for the async floor). The runner (``trials.run_trials``, a feed that never settles so
every trial of the budget runs) must cost at most 2x the floor per trial, inline (sync,
``concurrency=1``) and async (``concurrency=1``), measured in the same run (best of
``repeats``, alternating runner and floor so both see the same machine load).

I/O-bound: ``concurrency=64`` async trials that each sleep ``latency``; the floor is
``budget x latency / concurrency``; goal: within 10% of it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from pytest_rollout.evals.trials import Trial, run_trials, trial_seed

NODEID = "bench_runner.py::test_eval"


def sync_body(trial: Trial) -> None:
    assert trial.seed >= 0


async def async_body(trial: Trial) -> None:
    assert trial.seed >= 0


def floor_sync(n: int) -> None:
    for i in range(n):
        trial = Trial(index=i, seed=trial_seed(1, NODEID, i))
        try:
            sync_body(trial)
        except Exception:
            pass


def floor_async(n: int) -> None:
    async def loop() -> None:
        for i in range(n):
            trial = Trial(index=i, seed=trial_seed(1, NODEID, i))
            try:
                await async_body(trial)
            except Exception:
                pass

    asyncio.run(loop())


def runner(body: Callable[[Trial], Any], is_async: bool, n: int, concurrency: int = 1) -> None:
    run_trials(
        body, is_async=is_async, budget_trials=n, session_seed=1, nodeid=NODEID, cases=None, epochs=1,
        concurrency=concurrency, timeout=None, max_error_rate=0.1, feed=lambda x: None, error_alpha=0.05,
    )  # fmt: skip


def _once(fn: Callable[..., None], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def per_trial_rows(trials: int, repeats: int) -> list[str]:
    lines = [f"per-trial cost, body that only asserts ({trials} trials, best of {repeats}; goal: runner <= 2.0x floor)"]
    for label, body, is_async, floor in (
        ("sync, inline (concurrency=1)", sync_body, False, floor_sync),
        ("async (concurrency=1)", async_body, True, floor_async),
    ):
        floor_best = runner_best = float("inf")
        for _ in range(repeats):  # alternate, so both see the same load
            floor_best = min(floor_best, _once(floor, trials))
            runner_best = min(runner_best, _once(runner, body, is_async, trials))
        f_us, r_us = floor_best / trials * 1e6, runner_best / trials * 1e6
        ratio = r_us / f_us
        lines.append(
            f"  {label:30s} floor {f_us:6.2f} us  runner {r_us:6.2f} us  {ratio:5.2f}x  "
            f"goal <= 2.0: {'PASS' if ratio <= 2.0 else 'FAIL'}"
        )
    return lines


def io_bound_rows(budget: int, latency: float, concurrency: int, repeats: int) -> list[str]:
    async def call(trial: Trial) -> None:
        await asyncio.sleep(latency)

    floor = budget * latency / concurrency
    wall = min(_once(runner, call, True, budget, concurrency) for _ in range(repeats))
    over = wall / floor - 1
    return [
        f"I/O-bound async trials ({budget} trials sleeping {latency * 1000:g} ms, concurrency={concurrency}, "
        f"best of {repeats})",
        f"  floor budget x latency / concurrency  {floor * 1000:8.1f} ms",
        f"  runner wall time                      {wall * 1000:8.1f} ms  {over:+.1%}  "
        f"goal within 10%: {'PASS' if over <= 0.10 else 'FAIL'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("\n".join(per_trial_rows(args.trials, args.repeats)))
    print("\n".join(io_bound_rows(1280, 0.02, 64, max(1, args.repeats // 2))))


if __name__ == "__main__":
    main()
