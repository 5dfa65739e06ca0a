"""Store write and read time for 100,000 trial rows (median of several repeats).

Run: ``.venv/bin/python benchmarks/bench_store.py [--trials 100000] [--batch 1000] [--repeats 3]``

What it measures, each in a fresh store file in a temporary folder:
- write: ``begin_run``, then ``record_eval`` for ``trials / batch`` evals of ``batch`` trials
  each (one transaction per eval, as the plugin records them), then ``finish_run``;
  printed as rows/s and ms per eval.
- read: ``latest_baseline`` for one eval of ``batch`` trials among them (the lookup a
  ``max_regression`` eval makes), and for one eval holding all ``trials`` rows.
- export: ``export_jsonl`` of the whole run, and ``import_jsonl`` into an empty store.

Why: a session records every trial of every eval, and the baseline lookup runs on the
critical path of each ``max_regression`` eval; both must stay cheap as the store grows.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_rollout.baselines.store import Store

FINGERPRINTS = {name: f"{name}-digest" for name in ("infra", "model", "params", "context", "prompt", "tools")}


def trial_rows(count: int, cases: int = 50) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "case_id": f"case-{i % cases}",
            "epoch": i // cases,
            "seed": i,
            "outcome": "pass" if i % 5 else "fail",
            "score": None,
            "error_kind": None,
            "used": True,
        }
        for i in range(count)
    ]


def result(nodeid: str, n: int) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "criterion": "pass_rate",
        "verdict": "PASS",
        "estimate": 0.8,
        "interval": [0.79, 0.81],
        "n": n,
        "budget": n,
        "alpha": 0.05,
        "beta": 0.05,
        "seed": 1,
    }


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def one_repeat(folder: Path, total: int, batch: int) -> dict[str, float]:
    rows = trial_rows(batch)
    with Store(folder / "store.sqlite") as store:

        def write() -> None:
            run = store.begin_run("a" * 40, FINGERPRINTS, seed=1, tool_version="bench")
            for e in range(total // batch):
                store.record_eval(run, result(f"evals/test_{e}.py::test", batch), rows)
            store.finish_run(run)

        write_s = timed(write)
        read_s = timed(lambda: store.latest_baseline("evals/test_7.py::test", FINGERPRINTS, ["prompt"]))
        run = store.begin_run("b" * 40, FINGERPRINTS, seed=2, tool_version="bench")
        big_write_s = timed(lambda: store.record_eval(run, result("evals/test_big.py::test", total), trial_rows(total)))
        store.finish_run(run)
        big_read_s = timed(lambda: store.latest_baseline("evals/test_big.py::test", FINGERPRINTS, None))
        buf = io.StringIO()
        export_s = timed(lambda: store.export_jsonl(buf))
    with Store(folder / "imported.sqlite") as other:
        import_s = timed(lambda: other.import_jsonl(io.StringIO(buf.getvalue())))
    return {
        "write": write_s,
        "read": read_s,
        "big_write": big_write_s,
        "big_read": big_read_s,
        "export": export_s,
        "import": import_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000, help="Trials per eval (one transaction each)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    samples: list[dict[str, float]] = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            samples.append(one_repeat(Path(tmp), args.trials, args.batch))
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    evals = args.trials // args.batch
    rows = evals * args.batch
    print(f"store benchmark: {rows:,} trial rows, median of {args.repeats} (sqlite {sqlite3.sqlite_version})")
    print(
        f"  record_eval, {evals} evals x {args.batch} trials: {med['write']:.3f} s = "
        f"{rows / med['write']:,.0f} rows/s ({1000 * med['write'] / evals:.1f} ms per eval)"
    )
    print(f"  latest_baseline, one {args.batch}-trial eval among {evals}: {1000 * med['read']:.1f} ms")
    print(
        f"  record_eval, one eval of {args.trials:,} trials: {med['big_write']:.3f} s = "
        f"{args.trials / med['big_write']:,.0f} rows/s"
    )
    print(f"  latest_baseline, that {args.trials:,}-trial eval: {1000 * med['big_read']:.1f} ms")
    print(f"  export_jsonl, {2 * args.trials:,} rows: {med['export']:.3f} s; import_jsonl: {med['import']:.3f} s")


if __name__ == "__main__":
    main()
