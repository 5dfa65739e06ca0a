"""The trial runner against the loop it cannot avoid, sync and async, and I/O-bound wall time.

Run: ``.venv/bin/python benchmarks/bench_runner.py [--trials 10000] [--repeats 7]``
(the same rows: ``benchmarks/bench_stats.py --runner``)

Floor: a loop that does only what any runner must do per trial: derive the trial's seed (with
``seeds.trial_seeder``, the runner's own and the cheapest way to the same sha256 seeds), build
the ``Trial`` the body receives, call the body in a ``try`` that tells a pass from a failure
(``AssertionError``) and an error (any other ``Exception``), and append the outcome with the
trial's index and seed to a list. The async floor awaits the body, on ``asyncio.run``'s loop as
the runner does. The runner (``trials.run_trials`` with the error-rate test on, as the plugin
runs it, and a ``feed_unit`` that never settles, so every trial of the budget runs) must cost at most 2x
the floor per trial, inline (sync, ``concurrency=1``) and async (``concurrency=1``), measured in
the same run (best of ``repeats``, alternating runner and floor so both see the same load). The
per-trial figures are CPU time (``time.process_time``): on a shared machine wall time also counts
the time other processes held the core, which is not the runner's cost.

I/O-bound: ``concurrency=64`` async trials that each sleep ``latency``; the floor is
``budget x latency / concurrency``; goal: within 10% of it. For reference the row also shows a
bare asyncio loop (64 tasks sleeping one after another, no runner): what the event loop itself
adds (each wake-up can be up to 1 ms late: epoll's timeout is in milliseconds).

Each section prints the 1-minute load average before it ran: other work on the machine shows
up in the ratios (best-of-N takes the quietest run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from pytest_rollout.evals.seeds import trial_seeder
from pytest_rollout.evals.trials import Trial, run_trials

NODEID = "bench_runner.py::test_eval"
PER_TRIAL_GOAL = 2.0  # runner / floor, per trial
IO_GOAL = 0.10  # wall time over budget x latency / concurrency

#: (goal, met) of the last rows printed; bench_stats adds them to its tally.
Goals = list[tuple[str, bool]]


def sync_body(trial: Trial) -> None:
    assert trial.seed >= 0


async def async_body(trial: Trial) -> None:
    assert trial.seed >= 0


def floor_sync(n: int) -> None:
    seed, records = trial_seeder(1, NODEID), []
    for i in range(n):
        trial = Trial(index=i, seed=seed(i))
        try:
            sync_body(trial)
            outcome = "pass"
        except AssertionError:
            outcome = "fail"
        except Exception:
            outcome = "error"
        records.append((i, trial.seed, outcome))


def floor_async(n: int) -> None:
    async def loop() -> None:
        seed, records = trial_seeder(1, NODEID), []
        for i in range(n):
            trial = Trial(index=i, seed=seed(i))
            try:
                await async_body(trial)
                outcome = "pass"
            except AssertionError:
                outcome = "fail"
            except Exception:
                outcome = "error"
            records.append((i, trial.seed, outcome))

    asyncio.run(loop())


def runner(body: Callable[[Trial], Any], is_async: bool, n: int, concurrency: int = 1) -> None:
    run_trials(
        body, is_async=is_async, budget_trials=n, session_seed=1, nodeid=NODEID, cases=None, epochs=1,
        concurrency=concurrency, timeout=None, max_error_rate=0.1, feed_unit=lambda i, x: None, error_alpha=0.05,
    )  # fmt: skip


def _once(fn: Callable[..., None], *args: Any, clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    fn(*args)
    return clock() - start


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def per_trial_rows(trials: int, repeats: int, goals: Goals) -> list[str]:
    lines = [
        f"per-trial CPU time, body that only asserts ({trials} trials, best of {repeats}, {_load()}; "
        f"goal: runner <= {PER_TRIAL_GOAL}x floor)"
    ]
    for label, body, is_async, floor in (
        ("sync, inline (concurrency=1)", sync_body, False, floor_sync),
        ("async (concurrency=1)", async_body, True, floor_async),
    ):
        floor_best = runner_best = float("inf")
        for _ in range(repeats):  # alternate, so both see the same load
            floor_best = min(floor_best, _once(floor, trials, clock=time.process_time))
            runner_best = min(runner_best, _once(runner, body, is_async, trials, clock=time.process_time))
        f_us, r_us = floor_best / trials * 1e6, runner_best / trials * 1e6
        ratio = r_us / f_us
        met = ratio <= PER_TRIAL_GOAL
        goals.append((f"runner {label}: <= {PER_TRIAL_GOAL}x the floor per trial", met))
        lines.append(
            f"  {label:30s} floor {f_us:6.2f} us  runner {r_us:6.2f} us  {ratio:5.2f}x  "
            f"goal <= {PER_TRIAL_GOAL}: {'PASS' if met else 'FAIL'}"
        )
    return lines


def bare_asyncio(budget: int, latency: float, concurrency: int) -> None:
    async def task() -> None:
        for _ in range(budget // concurrency):
            await asyncio.sleep(latency)

    async def main() -> None:
        await asyncio.gather(*(task() for _ in range(concurrency)))

    asyncio.run(main())


def io_bound_rows(budget: int, latency: float, concurrency: int, repeats: int, goals: Goals) -> list[str]:
    async def call(trial: Trial) -> None:
        await asyncio.sleep(latency)

    floor = budget * latency / concurrency
    load = _load()
    wall = bare = float("inf")
    for _ in range(repeats):
        wall = min(wall, _once(runner, call, True, budget, concurrency))
        bare = min(bare, _once(bare_asyncio, budget, latency, concurrency))
    over = wall / floor - 1
    met = over <= IO_GOAL
    goals.append((f"runner I/O-bound wall time at concurrency={concurrency}: within {IO_GOAL:.0%} of the floor", met))
    return [
        f"I/O-bound async trials ({budget} trials sleeping {latency * 1000:g} ms, concurrency={concurrency}, "
        f"best of {repeats}, {load})",
        f"  floor budget x latency / concurrency  {floor * 1000:8.1f} ms",
        f"  bare asyncio loop (reference)         {bare * 1000:8.1f} ms  {bare / floor - 1:+.1%}",
        f"  runner wall time                      {wall * 1000:8.1f} ms  {over:+.1%}  "
        f"goal within {IO_GOAL:.0%}: {'PASS' if met else 'FAIL'}",
    ]


def rows(trials: int = 10000, repeats: int = 7, goals: Goals | None = None) -> list[str]:
    """Every row of this benchmark; ``goals`` collects each goal and whether it was met."""
    goals = [] if goals is None else goals
    return per_trial_rows(trials, repeats, goals) + io_bound_rows(1280, 0.02, 64, max(2, repeats // 2), goals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("\n".join(rows(args.trials, args.repeats)))


if __name__ == "__main__":
    main()
