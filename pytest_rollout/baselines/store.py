"""The baseline store: every recorded run, eval result and trial outcome, in SQLite or PostgreSQL.

The SQL below is written once; ``backends.py`` runs it on an SQLite file (the default) or on a
PostgreSQL server (a ``postgresql://`` location: one store for a team's runners), with the
same schema, migrations and semantics.

Why SQLite (standard library, WAL mode): a store is written by several pytest
processes at once (parallel CI jobs, xdist workers) and read while it is written.
WAL lets readers proceed during a write; ``busy_timeout`` plus ``BEGIN IMMEDIATE``
(take the write lock before reading anything, so a transaction never has to
upgrade a stale snapshot) serialises writers without losing any; a retry loop
covers the few lock errors the busy handler does not wait on.

Why a ``complete`` flag: a run row is written when the session starts and marked
complete only by ``finish_run``. A session killed mid-way (SIGKILL, OOM, a
cancelled CI job) leaves its committed evals readable, but its run stays
incomplete and is never used as a baseline: a half-run is a biased sample.

The schema is versioned (``PRAGMA user_version``; a table in PostgreSQL). ``MIGRATIONS`` are applied
in order, each in one transaction, so a store written by an older version opens
(and is upgraded); a store written by a newer version is refused rather than
misread.

No pytest, no scipy: the CLI (``pytest-rollout baseline``) uses this module.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from pytest_rollout.baselines.backends import Backend, Connection, is_postgres, open_backend
from pytest_rollout.baselines.importing import EXPORT_FORMAT, EXPORT_KIND  # the JSON Lines export format
from pytest_rollout.errors import StoreError

T = TypeVar("T")

#: Where the store lives unless ``--rollout-store`` / ``rollout_store`` says otherwise.
DEFAULT_STORE = Path(".rollout") / "store.sqlite"
#: The environment variable that names the store when no option does (keeps a password off command lines).
STORE_ENV = "ROLLOUT_STORE"
#: How long we keep retrying lock errors SQLite's busy handler does not wait on.
RETRY_SECONDS = 60.0

_V1 = [
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        commit_sha TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        seed INTEGER NOT NULL,
        started REAL NOT NULL,
        finished REAL,
        complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1))
    )""",
    """CREATE TABLE layer_fingerprints (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        layer TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (run_id, layer)
    ) WITHOUT ROWID""",
    """CREATE TABLE evals (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        nodeid TEXT NOT NULL,
        criterion TEXT NOT NULL,
        verdict TEXT NOT NULL,
        estimate REAL,
        interval_lo REAL,
        interval_hi REAL,
        n INTEGER NOT NULL,
        budget INTEGER NOT NULL,
        cases INTEGER,
        epochs INTEGER,
        alpha REAL,
        beta REAL,
        result TEXT NOT NULL
    )""",
    "CREATE INDEX evals_run ON evals(run_id)",
    """CREATE TABLE trials (
        eval_id INTEGER NOT NULL REFERENCES evals(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        case_id TEXT,
        epoch INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'error')),
        score REAL,
        error_kind TEXT,
        used INTEGER NOT NULL CHECK (used IN (0, 1)),
        PRIMARY KEY (eval_id, idx)
    ) WITHOUT ROWID""",
    "CREATE INDEX runs_newest ON runs(complete, started, id)",
]

# v2: a stable identity per run, so exporting a run and importing it twice (or into
# the store it came from) does not duplicate it; and an index for the baseline
# lookup by nodeid. Runs from v1 get a uid derived from what identified them then,
# so two copies of one v1 store agree on it after upgrading.
_V2 = [
    "ALTER TABLE runs ADD COLUMN uid TEXT",
    "UPDATE runs SET uid = 'v1:' || commit_sha || ':' || seed || ':' || CAST(started AS TEXT) WHERE uid IS NULL",
    "CREATE UNIQUE INDEX runs_uid ON runs(uid)",
    "CREATE INDEX evals_nodeid ON evals(nodeid, run_id)",
]

#: (schema version, DDL) in order; a store at version v gets every later entry.
MIGRATIONS: list[tuple[int, list[str]]] = [(1, _V1), (2, _V2)]
SCHEMA_VERSION: int = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class Baseline:
    """One eval's outcomes in a recorded run, as a ``max_regression`` eval compares against.

    ``case_means`` pairs by case id (the paired design); ``values`` is the unpaired
    stream in trial-index order. Both hold only used, non-error trials: error
    trials are not outcomes, and trials in flight when the run stopped did not
    feed its statistic either.
    """

    run_id: int
    commit: str
    nodeid: str
    criterion: str
    estimate: float | None
    interval: tuple[float, float] | None
    n: int
    case_means: dict[str, float]
    values: list[float]
    epochs: int | None
    budget: int
    alpha: float | None
    beta: float | None

    @property
    def cases(self) -> int:
        return len(self.case_means)


@dataclass(frozen=True)
class RunInfo:
    """A recorded run, for listing and pruning."""

    id: int
    uid: str
    commit: str
    fingerprints: dict[str, str]
    tool_version: str
    seed: int
    started: float
    finished: float | None
    complete: bool
    evals: int


def store_path(repo_root: Path, configured: str | Path | None = None) -> Path | str:
    """The store: ``configured`` (a PostgreSQL URL, or a file relative to the repo root), else
    ``$ROLLOUT_STORE``, else ``.rollout/store.sqlite`` at the repo root."""
    configured = configured or os.environ.get(STORE_ENV) or None
    if not configured:
        return repo_root / DEFAULT_STORE
    if is_postgres(configured):
        return str(configured)
    path = Path(configured).expanduser()
    return path if path.is_absolute() else repo_root / path


def store_exists(location: Path | str) -> bool:
    """Whether a store is there to read: a file that exists, or any PostgreSQL URL (the server says)."""
    return is_postgres(location) or Path(location).is_file()


def shown(location: Path | str) -> str:
    """The store location as it may be printed (a URL's password masked)."""
    from pytest_rollout.baselines.backends import redact_url

    return redact_url(location)


def trial_value(outcome: str, score: float | None) -> float:
    """A trial's value on [0, 1]: its score when it recorded one, else 1 for pass and 0 for fail."""
    if score is not None:
        return float(score)
    return 1.0 if outcome == "pass" else 0.0


class Store:
    """One connection to one store (a file or a PostgreSQL URL). Use as a context manager, or call ``close``."""

    def __init__(self, path: Path | str) -> None:
        self._db: Backend = open_backend(path)
        self.where = self._db.where  # as printed: a URL's password masked
        self.path = Path(path) if not is_postgres(path) else None
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ opening

    @property
    def _conn(self) -> Connection:
        return self._db.conn

    def _setup(self) -> None:
        self._check_version(self._retry(self._db.schema_version))
        self._retry(self._db.setup)
        self._migrate()

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.where}: written by a newer pytest-rollout (schema {version} > {SCHEMA_VERSION}): "
                "upgrade pytest-rollout, or point --rollout-store elsewhere"
            )

    def _migrate(self) -> None:
        """Apply the missing migrations, one transaction each; safe when several processes race.

        An up-to-date store (the common case) takes no write lock: opening one per
        eval must not queue behind other writers.
        """
        if self._retry(self._db.schema_version) == SCHEMA_VERSION:
            return
        while self._write(self._next_migration):
            pass

    def _next_migration(self, conn: Connection) -> bool:
        version = self._db.schema_version()
        self._check_version(version)
        if version == 0 and self._db.has_foreign_tables():
            raise StoreError(
                f"{self.where}: a database that is not a pytest-rollout store (it has tables but no "
                "schema version): point --rollout-store elsewhere"
            )
        pending = [(v, ddl) for v, ddl in MIGRATIONS if v > version]
        if not pending:
            return False
        target, ddl = pending[0]
        for statement in ddl:
            conn.execute(self._db.ddl(statement))
        self._db.set_schema_version(target)
        return True

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- transactions

    def _retry(self, action: Callable[[], T]) -> T:
        """Run ``action``, retrying lock and serialisation errors with jittered backoff.

        SQLite's busy handler covers most waits, but not all (a WAL recovery, a
        journal-mode switch): those surface at once, and retrying is the fix.
        """
        deadline = time.monotonic() + RETRY_SECONDS
        delay = 0.005
        while True:
            try:
                return action()
            except StoreError:
                raise
            except Exception as exc:
                if not self._db.is_error(exc):
                    raise
                if not self._db.retryable(exc) or time.monotonic() > deadline:
                    raise self._error(exc) from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)

    def _error(self, exc: BaseException) -> StoreError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(
            f"{self.where}: {detail}: check the disk, the server and the permissions, or point --rollout-store elsewhere"
        )

    def _write(self, work: Callable[[Connection], T]) -> T:
        """``work`` in one write transaction (holding the store's write lock), retried whole on lock errors."""
        return self._retry(lambda: self._transaction(True, work))

    def _read(self, work: Callable[[Connection], T]) -> T:
        """``work`` in one read transaction: all its SELECTs see one snapshot."""
        return self._retry(lambda: self._transaction(False, work))

    def _transaction(self, write: bool, work: Callable[[Connection], T]) -> T:
        self._db.begin(write)
        try:
            result = work(self._conn)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        return result

    # ------------------------------------------------------------------ writing

    def begin_run(self, commit: str, fingerprints: dict[str, str], seed: int, tool_version: str) -> int:
        """Start a run (incomplete until ``finish_run``); returns its id for ``record_eval``."""
        uid = uuid.uuid4().hex
        return self._write(lambda c: _insert_run(c, uid, commit, fingerprints, seed, tool_version, time.time()))

    def record_eval(self, run_id: int, result: dict[str, Any], trials: Sequence[dict[str, Any]]) -> None:
        """One eval's result and every trial, in one transaction: all of it lands, or none."""
        rows = [_trial_row(t) for t in trials]
        self._write(lambda c: _insert_eval(c, run_id, result, rows, self.where))

    def finish_run(self, run_id: int) -> None:
        """Mark the run complete: from now on it can serve as a baseline."""

        def work(conn: Connection) -> None:
            cur = conn.execute("UPDATE runs SET finished = ?, complete = 1 WHERE id = ?", (time.time(), run_id))
            if cur.rowcount != 1:
                raise StoreError(f"{self.where}: run {run_id} is not in the store (pruned while running?)")

        self._write(work)

    # ------------------------------------------------------------------ reading

    def latest_baseline(
        self,
        nodeid: str,
        fingerprints: dict[str, str],
        layers: Sequence[str] | None,
        *,
        exclude_commit: str | None = None,
    ) -> Baseline | None:
        """The newest complete run's outcomes for ``nodeid`` whose fingerprints match on ``layers``.

        ``layers`` empty or None compares every layer in ``fingerprints``. Evals whose
        verdict was ERROR, or with no usable trial, are skipped: they measured an
        outage, not the system. When a run holds the eval twice (a rerun plugin), the
        first attempt counts: reruns happen because of a failure, so they are biased.
        """
        wanted = list(layers) if layers else list(fingerprints)
        missing = [layer for layer in wanted if layer not in fingerprints]
        if missing:
            raise ValueError(f"no fingerprint for layer(s) {', '.join(missing)}; have {', '.join(fingerprints)}")
        pairs = [(layer, fingerprints[layer]) for layer in wanted]
        return self._read(lambda c: _find_baseline(c, nodeid, pairs, exclude_commit))

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        return self._read(_all_runs)

    def evals_of(self, run_id: int) -> list[dict[str, Any]]:
        """The stored ``EvalResult`` JSON of each eval in the run, in recording order."""
        rows = self._read(
            lambda c: c.execute("SELECT result FROM evals WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def nodeids(self) -> list[str]:
        """Every eval nodeid with a row in a complete run (for "did you mean")."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT DISTINCT e.nodeid FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.complete = 1 "
                "ORDER BY e.nodeid"
            ).fetchall()
        )
        return [r[0] for r in rows]

    def latest_eval(self, nodeid: str) -> tuple[RunInfo, Baseline] | None:
        """The newest complete run's outcomes for ``nodeid``, whatever its fingerprints."""
        found = self.latest_baseline(nodeid, {}, None)
        if found is None:
            return None
        run = next(r for r in self.runs() if r.id == found.run_id)
        return run, found

    # ----------------------------------------------------- export, import, prune

    def export_jsonl(self, fh: IO[str]) -> int:
        """Write each complete run (fingerprints, evals, trials) as one JSON line; returns the count."""
        count = 0
        for run in reversed(self.runs()):
            if run.complete:
                doc = self._read(functools.partial(_export_run, run=run))
                fh.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")
                count += 1
        return count

    def import_jsonl(self, fh: IO[str]) -> int:
        """Read runs written by ``export_jsonl``; a run already present (same uid) is skipped.

        Each run is its own transaction, so a bad line stops the import with the
        runs before it imported and nothing of it. Returns the number of new runs.
        """
        name = getattr(fh, "name", "<input>")
        added = 0
        for lineno, line in _lines(fh, name):
            if not line.strip():
                continue
            where = f"{name}:{lineno}"
            doc = _parse_line(line, where)
            try:
                added += self._write(functools.partial(_import_run, doc=doc, path=self.where))
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise StoreError(f"{where}: {detail}: {_EXPORT_HINT}") from None
        return added

    def prune(self, keep: int) -> int:
        """Keep the newest ``keep`` complete runs; delete older complete runs and any
        incomplete run that started before the newest kept one (a dead session: a live
        one started after it). Returns how many runs were deleted."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}; to start over, delete {self.where}")
        return self._write(lambda c: _prune(c, keep))


# ---------------------------------------------------------------------- helpers


def _insert_run(
    conn: Connection,
    uid: str,
    commit: str,
    fingerprints: dict[str, str],
    seed: int,
    tool_version: str,
    started: float,
    finished: float | None = None,
    complete: bool = False,
) -> int:
    cur = conn.execute(
        "INSERT INTO runs (uid, commit_sha, tool_version, seed, started, finished, complete) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (uid, commit, tool_version, int(seed), started, finished, int(complete)),
    )
    run_id = int(cur.fetchone()[0])
    conn.executemany(
        "INSERT INTO layer_fingerprints (run_id, layer, digest) VALUES (?, ?, ?)",
        [(run_id, layer, digest) for layer, digest in sorted(fingerprints.items())],
    )
    return run_id


_TRIAL_KEYS = ("index", "case_id", "epoch", "seed", "outcome", "score", "error_kind", "used")


def _trial_row(trial: dict[str, Any]) -> tuple[Any, ...]:
    """A trial dict as a row; fails early (before any lock is taken) on a malformed one."""
    missing = [k for k in _TRIAL_KEYS if k not in trial]
    if missing:
        raise ValueError(f"trial record is missing {', '.join(missing)}: got keys {sorted(trial)}")
    if trial["outcome"] not in ("pass", "fail", "error"):
        raise ValueError(f"trial {trial['index']}: outcome must be pass, fail or error, got {trial['outcome']!r}")
    case_id = trial["case_id"]
    score = trial["score"]
    return (
        int(trial["index"]),
        None if case_id is None else str(case_id),
        int(trial["epoch"]),
        int(trial["seed"]),
        str(trial["outcome"]),
        None if score is None else float(score),
        trial["error_kind"],
        int(bool(trial["used"])),
    )


def _insert_eval(
    conn: Connection, run_id: int, result: dict[str, Any], rows: Iterable[tuple[Any, ...]], path: str
) -> None:
    interval = result.get("interval") or (None, None)
    try:
        cur = conn.execute(
            "INSERT INTO evals (run_id, nodeid, criterion, verdict, estimate, interval_lo, interval_hi, n, budget, "
            "cases, epochs, alpha, beta, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                run_id,
                result["nodeid"],
                result["criterion"],
                result["verdict"],
                result.get("estimate"),
                interval[0],
                interval[1],
                int(result["n"]),
                int(result["budget"]),
                result.get("cases"),
                result.get("epochs"),
                result.get("alpha"),
                result.get("beta"),
                json.dumps(result),
            ),
        )
        eval_id = int(cur.fetchone()[0])
    except Exception as exc:  # sqlite3.IntegrityError, psycopg's ForeignKeyViolation
        if "foreign key" in str(exc).lower():
            raise StoreError(f"{path}: run {run_id} is not in the store (pruned while running?)") from None
        raise
    conn.executemany(
        "INSERT INTO trials (eval_id, idx, case_id, epoch, seed, outcome, score, error_kind, used) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((eval_id, *row) for row in rows),
    )


def _find_baseline(
    conn: Connection, nodeid: str, pairs: list[tuple[str, str]], exclude_commit: str | None
) -> Baseline | None:
    match = "".join(
        " AND EXISTS (SELECT 1 FROM layer_fingerprints f WHERE f.run_id = r.id AND f.layer = ? AND f.digest = ?)"
        for _ in pairs
    )
    sql = (
        "SELECT e.id, r.id, r.commit_sha, e.criterion, e.estimate, e.interval_lo, e.interval_hi, e.n, e.epochs, "
        "e.budget, e.alpha, e.beta FROM evals e JOIN runs r ON r.id = e.run_id "
        "WHERE e.nodeid = ? AND r.complete = 1 AND e.verdict != 'ERROR' "
        "AND (CAST(? AS TEXT) IS NULL OR r.commit_sha != CAST(? AS TEXT)) "
        "AND EXISTS (SELECT 1 FROM trials t WHERE t.eval_id = e.id AND t.used = 1 AND t.outcome != 'error')"
        + match
        + " ORDER BY r.started DESC, r.id DESC, e.id ASC LIMIT 1"
    )
    params: list[Any] = [nodeid, exclude_commit, exclude_commit]
    for layer, digest in pairs:
        params += [layer, digest]
    row = conn.execute(sql, params).fetchone()
    if row is None:
        return None
    eval_id, run_id, commit, criterion, estimate, lo, hi, n, epochs, budget, alpha, beta = row
    case_means, values = _outcomes(conn, eval_id)
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
    )


def _outcomes(conn: Connection, eval_id: int) -> tuple[dict[str, float], list[float]]:
    rows = conn.execute(
        "SELECT case_id, outcome, score FROM trials WHERE eval_id = ? AND used = 1 AND outcome != 'error' ORDER BY idx",
        (eval_id,),
    ).fetchall()
    values: list[float] = []
    sums: dict[str, list[float]] = {}
    for case_id, outcome, score in rows:
        value = trial_value(outcome, score)
        values.append(value)
        if case_id is not None:
            acc = sums.setdefault(case_id, [0.0, 0.0])
            acc[0] += value
            acc[1] += 1
    return {case: s / k for case, (s, k) in sums.items()}, values


def _all_runs(conn: Connection) -> list[RunInfo]:
    prints: dict[int, dict[str, str]] = {}
    for run_id, layer, digest in conn.execute("SELECT run_id, layer, digest FROM layer_fingerprints"):
        prints.setdefault(run_id, {})[layer] = digest
    rows = conn.execute(
        "SELECT r.id, r.uid, r.commit_sha, r.tool_version, r.seed, r.started, r.finished, r.complete, "
        "(SELECT count(*) FROM evals e WHERE e.run_id = r.id) FROM runs r ORDER BY r.started DESC, r.id DESC"
    ).fetchall()
    return [
        RunInfo(
            id=i,
            uid=uid,
            commit=commit,
            fingerprints=prints.get(i, {}),
            tool_version=version,
            seed=seed,
            started=started,
            finished=finished,
            complete=bool(complete),
            evals=evals,
        )
        for i, uid, commit, version, seed, started, finished, complete, evals in rows
    ]


def _export_run(conn: Connection, run: RunInfo) -> dict[str, Any]:
    evals = []
    for eval_id, result in conn.execute("SELECT id, result FROM evals WHERE run_id = ? ORDER BY id", (run.id,)):
        trials = [
            dict(zip(_TRIAL_KEYS, (idx, case_id, epoch, seed, outcome, score, kind, bool(used)), strict=True))
            for idx, case_id, epoch, seed, outcome, score, kind, used in conn.execute(
                "SELECT idx, case_id, epoch, seed, outcome, score, error_kind, used FROM trials "
                "WHERE eval_id = ? ORDER BY idx",
                (eval_id,),
            )
        ]
        evals.append({"result": json.loads(result), "trials": trials})
    return {
        "kind": EXPORT_KIND,
        "format": EXPORT_FORMAT,
        "uid": run.uid,
        "commit": run.commit,
        "fingerprints": run.fingerprints,
        "tool_version": run.tool_version,
        "seed": run.seed,
        "started": run.started,
        "finished": run.finished,
        "evals": evals,
    }


def _lines(fh: IO[str], name: str) -> Iterator[tuple[int, str]]:
    """Numbered lines; text that is not UTF-8 is a one-line error naming the line."""
    lineno = 0
    try:
        for lineno, line in enumerate(fh, 1):  # noqa: B007 - read by the except clause
            yield lineno, line
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        raise StoreError(f"{name}:{lineno + 1}: not UTF-8 text (byte {bad!r}): {_EXPORT_HINT}") from None


_EXPORT_HINT = "import a file written by `pytest-rollout baseline export`"


def _parse_line(line: str, where: str) -> dict[str, Any]:
    """One exported run, every field checked (``importing.parse_run``)."""
    from pytest_rollout.baselines.importing import parse_run

    return parse_run(line, where)


def _import_run(conn: Connection, doc: dict[str, Any], path: str) -> int:
    if conn.execute("SELECT 1 FROM runs WHERE uid = ?", (doc["uid"],)).fetchone():
        return 0
    run_id = _insert_run(
        conn,
        doc["uid"],
        doc["commit"],
        doc["fingerprints"],
        doc["seed"],
        doc["tool_version"],
        float(doc["started"]),
        doc.get("finished"),
        complete=True,
    )
    for ev in doc["evals"]:
        _insert_eval(conn, run_id, ev["result"], [_trial_row(t) for t in ev["trials"]], path)
    return 1


def _prune(conn: Connection, keep: int) -> int:
    kept = conn.execute(
        "SELECT id, started FROM runs WHERE complete = 1 ORDER BY started DESC, id DESC LIMIT ?", (keep,)
    ).fetchall()
    if not kept:
        return 0
    newest_started = kept[0][1]
    kept_ids = [row[0] for row in kept]
    marks = ",".join("?" * len(kept_ids))
    cur = conn.execute(
        f"DELETE FROM runs WHERE (complete = 1 AND id NOT IN ({marks})) OR (complete = 0 AND started < ?)",
        (*kept_ids, newest_started),
    )
    return int(cur.rowcount)
