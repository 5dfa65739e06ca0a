"""Store write and read time for 100,000 trial rows (median of several repeats).

Run: ``.venv/bin/python benchmarks/bench_store.py [--trials 100000] [--batch 1000] [--repeats 3]``

What it measures, each in a fresh store file in a temporary folder:
- write: ``begin_run``, then ``record_eval`` for ``trials / batch`` evals of ``batch`` trials
  each (one transaction per eval, as the plugin records them), then ``finish_run``;
  printed as rows/s and ms per eval.
- read: ``find_baseline`` for one eval of ``batch`` trials among them (the lookup a
  ``max_regression`` eval makes), and for one eval holding all ``trials`` rows.
- export: ``export_jsonl`` of the whole run, and ``import_jsonl`` into an empty store.

- concurrency: 1, 4 and 8 writer processes recording at once (each its own run of evals), as
  rows/s over all of them, the figure a team's runners and xdist workers share.
- lookup vs history: ``find_baseline`` (the oldest eligible baseline), a pinned run and ``baseline
  show`` (the newest eligible eval) with 1,000 and 10,000 complete runs stored, each next to its
  floor (the same lookup with 10 runs stored) and its goal (<= 2x the floor: flat in the history),
  and the pre-v3 query as the reference it replaces.
- PostgreSQL writes: trial rows go in by ``COPY``; the row-by-row ``executemany`` path is timed
  next to it on the same rows.

Each section runs on SQLite and, with ``--postgres URL`` (default ``$ROLLOUT_TEST_POSTGRES``, which
``scripts/services.sh`` sets), on a fresh database of that PostgreSQL server.

Why: a session records every trial of every eval, and the baseline lookup runs on the
critical path of each ``max_regression`` eval; both must stay cheap as the store grows.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_rollout.baselines.store import Store
from pytest_rollout.baselines.writes import TRIAL_COLUMNS, insert_eval, insert_run, trial_row

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
        "layers": ["prompt"],  # @pytest.mark.layer("prompt"), as the lookups below ask
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


def one_repeat(location: str, other: str, total: int, batch: int) -> dict[str, float]:
    rows = trial_rows(batch)
    with Store(location) as store:

        def write() -> None:
            run = store.begin_run("a" * 40, FINGERPRINTS, seed=1, tool_version="bench")
            for e in range(total // batch):
                store.record_eval(run, result(f"evals/test_{e}.py::test", batch), rows)
            store.finish_run(run)

        write_s = timed(write)
        read_s = timed(lambda: store.find_baseline("evals/test_7.py::test", FINGERPRINTS, ["prompt"]))
        run = store.begin_run("b" * 40, FINGERPRINTS, seed=2, tool_version="bench")
        big_write_s = timed(lambda: store.record_eval(run, result("evals/test_big.py::test", total), trial_rows(total)))
        store.finish_run(run)
        big_read_s = timed(lambda: store.find_baseline("evals/test_big.py::test", FINGERPRINTS, ["prompt"]))
        buf = io.StringIO()
        export_s = timed(lambda: store.export_jsonl(buf))
    with Store(other) as into:
        import_s = timed(lambda: into.import_jsonl(io.StringIO(buf.getvalue())))
    return {
        "write": write_s,
        "read": read_s,
        "big_write": big_write_s,
        "big_read": big_read_s,
        "export": export_s,
        "import": import_s,
    }


WRITER = """
import sys, time
from pathlib import Path
from pytest_rollout.baselines.store import Store
location, me, go, evals, trials = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [{"index": i, "case_id": None, "epoch": 0, "seed": i, "outcome": "pass", "score": None,
         "error_kind": None, "used": True} for i in range(trials)]
with Store(location) as store:
    while not go.exists():
        time.sleep(0.001)
    run = store.begin_run(f"{me:040d}", {"prompt": "q"}, seed=me, tool_version="bench")
    for e in range(evals):
        store.record_eval(run, {"nodeid": f"evals/test_{e}.py::test", "criterion": "pass_rate", "verdict": "PASS",
                                "n": trials, "budget": trials, "seed": me}, rows)
    store.finish_run(run)
"""


def concurrent_writes(location: str, writers: int, evals: int, trials: int) -> float:
    """Rows per second over ``writers`` processes recording at once (after all have opened the store)."""
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        args = [location, "", str(go), str(evals), str(trials)]
        procs = [
            subprocess.Popen([sys.executable, "-c", WRITER, *args[:1], str(me), *args[2:]]) for me in range(writers)
        ]
        time.sleep(0.5 + 0.1 * writers)  # every writer connected and waiting
        start = time.perf_counter()
        go.touch()
        for proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"a writer failed on {location}")
        return writers * evals * trials / (time.perf_counter() - start)


#: The lookup before schema v3 (kept here as the reference): it joined every eval of the node, newest first.
OLD_SQL = (
    "SELECT e.id FROM evals e JOIN runs r ON r.id = e.run_id "
    "WHERE e.nodeid = ? AND r.complete = 1 AND e.verdict != 'ERROR' "
    "AND EXISTS (SELECT 1 FROM trials t WHERE t.eval_id = e.id AND t.used = 1 AND t.outcome != 'error') "
    "AND EXISTS (SELECT 1 FROM layer_fingerprints f WHERE f.run_id = r.id AND f.layer = ? AND f.digest = ?) "
    "ORDER BY r.started DESC, r.id DESC, e.id ASC LIMIT 1"
)
LOOKUPS = ("find_baseline", "pinned run", "baseline show", "old query")


def lookups_at(location: str, runs: int, nodes: int = 5, trials: int = 20) -> dict[str, float]:
    """Median ms of each lookup with ``runs`` complete runs of ``nodes`` evals stored (50 configs in turn)."""
    from pytest_rollout.cli.baseline import show_lines

    rows = [trial_row(r) for r in trial_rows(trials)]

    def fill(db: Any) -> None:
        for i in range(runs):
            fps = dict(FINGERPRINTS, prompt=f"prompt-{i % 50}")
            run = insert_run(db, uuid.uuid4().hex, f"{i:040x}", fps, i, "bench", float(i), float(i), True)
            for n in range(nodes):
                insert_eval(db, run, result(f"evals/test_{n}.py::test", trials), rows, location)

    node = "evals/test_3.py::test"
    wanted = dict(FINGERPRINTS, prompt="prompt-7")
    with Store(location) as store:
        store._write(fill)

        def show() -> None:
            found = store.latest_eval(node)
            assert found is not None
            run, base = found
            show_lines(run, base, next(r for r in store.evals_of(run.id) if r["nodeid"] == node))

        actions = {
            "find_baseline": lambda: store.find_baseline(node, wanted, ["prompt"]),
            "pinned run": lambda: store.find_baseline(node, wanted, ["prompt"], run_id=8),
            "baseline show": show,
            "old query": lambda: store._read(
                lambda db: db.conn.execute(OLD_SQL, (node, "prompt", "prompt-7")).fetchall()
            ),
        }
        assert store.find_baseline(node, wanted, ["prompt"]) is not None
        return {name: 1000 * statistics.median(timed(act) for _ in range(21)) for name, act in actions.items()}


def row_by_row(location: str, count: int) -> float:
    """Rows/s of the trial rows of one eval inserted with ``executemany`` (the reference COPY replaces)."""
    with Store(location) as store:
        run = store.begin_run("c" * 40, FINGERPRINTS, seed=3, tool_version="bench")
        store.record_eval(run, result("evals/test_rows.py::test", 0), [])
        eval_id = store._read(lambda db: db.conn.execute("SELECT max(id) FROM evals").fetchone()[0])
        rows = [(eval_id, *trial_row(r)) for r in trial_rows(count)]
        sql = f"INSERT INTO trials ({', '.join(TRIAL_COLUMNS)}) VALUES ({', '.join('?' for _ in TRIAL_COLUMNS)})"
        return count / timed(lambda: store._write(lambda db: db.conn.executemany(sql, rows)))


class Backends:
    """Fresh store locations: files in a temporary folder, databases on the PostgreSQL server."""

    def __init__(self, folder: Path, postgres: str | None) -> None:
        self.folder, self.postgres = folder, postgres
        self.made: list[str] = []

    def fresh(self, backend: str) -> str:
        if backend == "sqlite":
            return str(self.folder / f"{uuid.uuid4().hex}.sqlite")
        import psycopg

        name = f"rollout_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.postgres, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        assert self.postgres is not None
        return self.postgres.rsplit("/", 1)[0] + f"/{name}"

    def drop(self) -> None:
        if not self.made:
            return
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as admin:
            for name in self.made:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000, help="Trials per eval (one transaction each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("ROLLOUT_TEST_POSTGRES"), help="A server URL")
    parser.add_argument("--history", default="1000,10000", help="Stored runs at which to time the lookup")
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        where = Backends(Path(tmp), args.postgres)
        try:
            for backend in backends:
                report(backend, where, args)
        finally:
            where.drop()
    if not args.postgres:
        print("(no --postgres URL and no $ROLLOUT_TEST_POSTGRES: PostgreSQL not measured; see scripts/services.sh)")


def report(backend: str, where: Backends, args: argparse.Namespace) -> None:
    samples = [
        one_repeat(where.fresh(backend), where.fresh(backend), args.trials, args.batch) for _ in range(args.repeats)
    ]
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    evals = args.trials // args.batch
    rows = evals * args.batch
    version = f"sqlite {sqlite3.sqlite_version}" if backend == "sqlite" else "PostgreSQL"
    print(f"store benchmark [{backend}]: {rows:,} trial rows, median of {args.repeats} ({version})")
    print(
        f"  record_eval, {evals} evals x {args.batch} trials: {med['write']:.3f} s = "
        f"{rows / med['write']:,.0f} rows/s ({1000 * med['write'] / evals:.1f} ms per eval)"
    )
    print(f"  find_baseline, one {args.batch}-trial eval among {evals}: {1000 * med['read']:.1f} ms")
    print(
        f"  record_eval, one eval of {args.trials:,} trials: {med['big_write']:.3f} s = "
        f"{args.trials / med['big_write']:,.0f} rows/s"
    )
    print(f"  find_baseline, that {args.trials:,}-trial eval: {1000 * med['big_read']:.1f} ms")
    print(f"  export_jsonl, {2 * args.trials:,} rows: {med['export']:.3f} s; import_jsonl: {med['import']:.3f} s")
    for writers in (1, 4, 8):
        rate = concurrent_writes(where.fresh(backend), writers, evals=20, trials=200)
        print(f"  {writers} concurrent writer process(es), 20 evals x 200 trials each: {rate:,.0f} rows/s in all")
    print(
        f"  trial rows of one eval of {args.trials:,} trials, row by row (executemany, the old write path): "
        f"{row_by_row(where.fresh(backend), args.trials):,.0f} rows/s"
    )
    history = [int(x) for x in args.history.split(",")]
    floor_runs = 10
    measured = {runs: lookups_at(where.fresh(backend), runs) for runs in sorted({floor_runs, *history})}
    floor = measured[floor_runs]
    print(f"  lookups, median ms; floor = the same lookup with {floor_runs} runs stored; goal <= 2.0x the floor")
    for name in LOOKUPS:
        cells = "  ".join(
            f"{runs:,} runs {measured[runs][name]:.2f} ms ({measured[runs][name] / floor[name]:.1f}x)"
            for runs in history
        )
        goal = "(reference, no goal)" if name == "old query" else "goal <= 2.0x"
        print(f"    {name:<14} floor {floor[name]:.2f} ms  {cells}  {goal}")


if __name__ == "__main__":
    main()
