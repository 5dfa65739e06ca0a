"""The store's reads: which recorded eval is a baseline, its outcomes, the runs, pruning.

The baseline lookup walks an index from one end and stops at the first row that qualifies, so its
cost does not grow with the number of stored runs (``schema._V3``; tests/test_store.py checks the
plan with ``EXPLAIN QUERY PLAN`` on SQLite and ``EXPLAIN`` on PostgreSQL). A candidate qualifies
when its run is complete, its verdict is eligible (``schema.ELIGIBLE``), it has a usable trial,
its fingerprints equal the wanted ones on the eval's layers, and ``accept`` (the caller's
ancestry check) takes its commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pytest_rollout.baselines.schema import eligible, scope_key, scope_layers
from pytest_rollout.evals.values import trial_value

if TYPE_CHECKING:
    from pytest_rollout.baselines.backends import Backend, Connection
    from pytest_rollout.baselines.store import Baseline, RunInfo

_COLUMNS = (
    "e.id, r.id, r.commit_sha, r.started, e.criterion, e.estimate, e.interval_lo, e.interval_hi, e.n, "
    "e.epochs, e.budget, e.alpha, e.beta"
)
_ELIGIBLE = eligible("e")
_USABLE = "EXISTS (SELECT 1 FROM trials t WHERE t.eval_id = e.id AND t.used = 1 AND t.outcome != 'error')"

#: The oldest eligible eval of a node under one scope key: a walk of ``evals_baseline``.
KEYED_SQL = (
    f"SELECT {_COLUMNS} FROM evals e JOIN runs r ON r.id = e.run_id "
    f"WHERE e.nodeid = ? AND e.scope_key = ? AND {_ELIGIBLE} "
    f"AND r.complete = 1 AND {_USABLE} ORDER BY e.run_started ASC, e.id ASC"
)
#: The same walk over rows written before schema v3 (no scope key): their fingerprints decide.
LEGACY_SQL = KEYED_SQL.replace("e.scope_key = ?", "e.scope_key IS NULL")
#: The node's eval in one run (``--rollout-baseline run:N``).
PINNED_SQL = (
    f"SELECT {_COLUMNS} FROM evals e JOIN runs r ON r.id = e.run_id "
    f"WHERE e.nodeid = ? AND e.run_id = ? AND {_ELIGIBLE} AND r.complete = 1 AND {_USABLE} ORDER BY e.id ASC"
)
#: The newest eligible eval of a node, whatever its fingerprints: a walk of ``evals_recent``.
RECENT_SQL = (
    f"SELECT {_COLUMNS} FROM evals e JOIN runs r ON r.id = e.run_id "
    f"WHERE e.nodeid = ? AND {_ELIGIBLE} "
    f"AND r.complete = 1 AND {_USABLE} ORDER BY e.run_started DESC, e.id ASC"
)
_BATCH = 16


def find_baseline(
    db: Backend,
    nodeid: str,
    fingerprints: dict[str, str],
    layers: Sequence[str] | None,
    accept: Callable[[str], bool],
    run_id: int | None = None,
) -> Baseline | None:
    """The oldest qualifying eval of ``nodeid`` (first attempt in its run), or in run ``run_id`` only."""
    pairs = [(layer, fingerprints[layer]) for layer in scope_layers(fingerprints, layers)]
    if run_id is not None:
        rows: Iterator[tuple[Any, ...]] = _rows(db.conn, PINNED_SQL, [nodeid, run_id])
    else:
        key = scope_key(fingerprints, layers)
        # then the rows written before schema v3 (no key), in the same index
        rows = _chain(_rows(db.conn, KEYED_SQL, [nodeid, key]), lambda: _rows(db.conn, LEGACY_SQL, [nodeid]))
    for row in rows:
        if _matches(db.conn, row[1], pairs) and accept(row[2]):
            return _baseline(db.conn, nodeid, row)
    return None


def newest_eval(db: Backend, nodeid: str) -> Baseline | None:
    """The newest eligible eval of ``nodeid`` in a complete run, whatever its fingerprints."""
    for row in _rows(db.conn, RECENT_SQL, [nodeid]):
        return _baseline(db.conn, nodeid, row)
    return None


def _rows(conn: Connection, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows in order, a page at a time (``LIMIT``: PostgreSQL's client cursor would fetch them
    all): the walk stops at the first that qualifies, which is almost always on the first page."""
    offset = 0
    while True:
        batch = conn.execute(f"{sql} LIMIT ? OFFSET ?", [*params, _BATCH, offset]).fetchall()
        yield from batch
        if len(batch) < _BATCH:
            return
        offset += _BATCH


def _chain(first: Iterator[tuple[Any, ...]], then: Callable[[], Iterator[tuple[Any, ...]]]) -> Iterator[Any]:
    yield from first
    yield from then()


def _matches(conn: Connection, run_id: int, pairs: list[tuple[str, str]]) -> bool:
    """The run's fingerprints equal ``pairs`` (the scope key is a hash: this is the check itself)."""
    prints = dict(conn.execute("SELECT layer, digest FROM layer_fingerprints WHERE run_id = ?", (run_id,)).fetchall())
    return all(prints.get(layer) == digest for layer, digest in pairs)


def _baseline(conn: Connection, nodeid: str, row: tuple[Any, ...]) -> Baseline:
    from pytest_rollout.baselines.store import Baseline

    eval_id, run_id, commit, started, criterion, estimate, lo, hi, n, epochs, budget, alpha, beta = row
    case_means, values = outcomes(conn, eval_id)
    return Baseline(
        run_id=run_id,
        commit=commit,
        nodeid=nodeid,
        criterion=criterion,
        estimate=estimate,
        interval=(lo, hi) if lo is not None and hi is not None else None,
        n=n,
        case_means=case_means,
        values=values,
        epochs=epochs,
        budget=budget,
        alpha=alpha,
        beta=beta,
        started=started,
    )


def outcomes(conn: Connection, eval_id: int) -> tuple[dict[str, float], list[float]]:
    rows = conn.execute(
        "SELECT case_id, outcome, score FROM trials WHERE eval_id = ? AND used = 1 AND outcome != 'error' ORDER BY idx",
        (eval_id,),
    ).fetchall()
    values: list[float] = []
    sums: dict[str, list[float]] = {}
    for case_id, outcome, score in rows:
        value = trial_value(outcome, score)
        assert value is not None  # error trials are filtered above
        values.append(value)
        if case_id is not None:
            acc = sums.setdefault(case_id, [0.0, 0.0])
            acc[0] += value
            acc[1] += 1
    return {case: s / k for case, (s, k) in sums.items()}, values


_RUN_COLUMNS = (
    "r.id, r.uid, r.commit_sha, r.tool_version, r.seed, r.started, r.finished, r.complete, "
    "(SELECT count(*) FROM evals e WHERE e.run_id = r.id)"
)


def all_runs(db: Backend) -> list[RunInfo]:
    prints: dict[int, dict[str, str]] = {}
    for run_id, layer, digest in db.conn.execute("SELECT run_id, layer, digest FROM layer_fingerprints"):
        prints.setdefault(run_id, {})[layer] = digest
    rows = db.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs r ORDER BY r.started DESC, r.id DESC").fetchall()
    return [_run_info(row, prints.get(row[0], {})) for row in rows]


def run_info(db: Backend, run_id: int) -> RunInfo | None:
    """One run by id (primary-key lookups only)."""
    row = db.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    prints = db.conn.execute("SELECT layer, digest FROM layer_fingerprints WHERE run_id = ?", (run_id,)).fetchall()
    return _run_info(row, dict(prints))


def _run_info(row: tuple[Any, ...], prints: dict[str, str]) -> RunInfo:
    from pytest_rollout.baselines.store import RunInfo

    i, uid, commit, version, seed, started, finished, complete, evals = row
    return RunInfo(
        id=i,
        uid=uid,
        commit=commit,
        fingerprints=prints,
        tool_version=version,
        seed=seed,
        started=started,
        finished=finished,
        complete=bool(complete),
        evals=evals,
    )


def prune(db: Backend, keep: int) -> int:
    """Keep the newest ``keep`` complete runs, and for each eval and set of run fingerprints the
    newest ``keep`` eligible recordings and the oldest one (the anchor a lookup finds); delete
    every other complete run, and any incomplete run that started before the newest complete one
    (a dead session: a live one started after it). Returns how many runs were deleted."""
    conn = db.conn
    prints: dict[int, list[tuple[str, str]]] = {}
    for run_id, layer, digest in conn.execute("SELECT run_id, layer, digest FROM layer_fingerprints"):
        prints.setdefault(run_id, []).append((layer, digest))
    rows = conn.execute(
        f"SELECT r.id, e.nodeid FROM runs r JOIN evals e ON e.run_id = r.id WHERE r.complete = 1 AND {_ELIGIBLE} "
        "ORDER BY r.started DESC, r.id DESC"
    ).fetchall()
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = {}
    for run_id, nodeid in rows:
        runs = groups.setdefault((nodeid, tuple(sorted(prints.get(run_id, [])))), [])
        if run_id not in runs:
            runs.append(run_id)
    complete = conn.execute("SELECT id, started FROM runs WHERE complete = 1 ORDER BY started DESC, id DESC").fetchall()
    kept = {run for runs in groups.values() for run in (*runs[:keep], runs[-1])}
    kept.update(run_id for run_id, _ in complete[:keep])  # and the newest runs, whatever their verdicts
    doomed = [run_id for run_id, _ in complete if run_id not in kept]
    if complete:
        doomed += [
            r[0] for r in conn.execute("SELECT id FROM runs WHERE complete = 0 AND started < ?", (complete[0][1],))
        ]
    for start in range(0, len(doomed), 500):
        chunk = doomed[start : start + 500]
        conn.execute(f"DELETE FROM runs WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    return len(doomed)
