"""The baseline store: every recorded run, eval result and trial outcome, in SQLite or PostgreSQL.

This module is the ``Store`` API (opening, transactions, the calls the plugin and the CLI make);
the schema and its migrations are in ``schema.py``, the writes in ``writes.py``, the reads (which
eval is a baseline, runs, pruning) in ``queries.py``. The SQL is written once; ``backends.py``
runs it on an SQLite file (the default) or on a PostgreSQL server (a ``postgresql://`` location:
one store for a team's runners), with the same schema, migrations and semantics.

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

No pytest, no scipy: the CLI (``pytest-rollout baseline``) uses this module.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from pytest_rollout.baselines import queries, writes
from pytest_rollout.baselines.backends import Backend, Connection, is_postgres, open_backend
from pytest_rollout.baselines.schema import MIGRATIONS, SCHEMA_VERSION
from pytest_rollout.errors import StoreError

T = TypeVar("T")

#: Where the store lives unless ``--rollout-store`` / ``rollout_store`` says otherwise.
DEFAULT_STORE = Path(".rollout") / "store.sqlite"
#: The environment variable that names the store when no option does (keeps a password off command lines).
STORE_ENV = "ROLLOUT_STORE"
#: How long we keep retrying lock errors SQLite's busy handler does not wait on.
RETRY_SECONDS = 60.0


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
    started: float = 0.0  # when its run started (epoch seconds)

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

    def _next_migration(self, db: Backend) -> bool:
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
            db.conn.execute(db.ddl(statement))
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

    def _write(self, work: Callable[[Backend], T]) -> T:
        """``work`` in one write transaction (holding the store's write lock), retried whole on lock errors."""
        return self._retry(lambda: self._transaction(True, work))

    def _read(self, work: Callable[[Backend], T]) -> T:
        """``work`` in one read transaction: all its SELECTs see one snapshot."""
        return self._retry(lambda: self._transaction(False, work))

    def _transaction(self, write: bool, work: Callable[[Backend], T]) -> T:
        self._db.begin(write)
        try:
            result = work(self._db)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        return result

    # ------------------------------------------------------------------ writing

    def begin_run(self, commit: str, fingerprints: dict[str, str], seed: int, tool_version: str) -> int:
        """Start a run (incomplete until ``finish_run``); returns its id for ``record_eval``."""
        uid = uuid.uuid4().hex
        return self._write(lambda db: writes.insert_run(db, uid, commit, fingerprints, seed, tool_version, time.time()))

    def record_eval(self, run_id: int, result: dict[str, Any], trials: Sequence[dict[str, Any]]) -> None:
        """One eval's result and every trial, in one transaction: all of it lands, or none."""
        rows = [writes.trial_row(t) for t in trials]
        self._write(lambda db: writes.insert_eval(db, run_id, result, rows, self.where))

    def finish_run(self, run_id: int) -> None:
        """Mark the run complete: from now on it can serve as a baseline."""

        def work(db: Backend) -> None:
            cur = db.conn.execute("UPDATE runs SET finished = ?, complete = 1 WHERE id = ?", (time.time(), run_id))
            if cur.rowcount != 1:
                raise StoreError(f"{self.where}: run {run_id} is not in the store (pruned while running?)")

        self._write(work)

    # ------------------------------------------------------------------ reading

    def find_baseline(
        self,
        nodeid: str,
        fingerprints: dict[str, str],
        layers: Sequence[str] | None,
        *,
        accept: Callable[[str], bool] | None = None,
        run_id: int | None = None,
    ) -> Baseline | None:
        """The baseline of ``nodeid``: the oldest eval recorded in a complete run under the same
        fingerprints on ``layers`` whose verdict makes it one (``schema.ELIGIBLE``) and whose
        commit ``accept`` takes (the caller checks it is an ancestor of the base); with
        ``run_id``, that run's eval or nothing.

        ``layers`` empty or None compares every layer in ``fingerprints``. Evals with no usable
        trial are skipped. When a run holds the eval twice (a rerun plugin), the first attempt
        counts: reruns happen because of a failure, so they are biased. The oldest, not the
        newest: a chain of recordings under one config, each a little worse than the last,
        cannot move the reference, and a replay finds the same baseline after newer runs.
        """
        wanted = list(layers) if layers else list(fingerprints)
        missing = [layer for layer in wanted if layer not in fingerprints]
        if missing:
            raise ValueError(f"no fingerprint for layer(s) {', '.join(missing)}; have {', '.join(fingerprints)}")
        take = accept or (lambda commit: True)
        return self._read(lambda db: queries.find_baseline(db, nodeid, fingerprints, wanted, take, run_id))

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        return self._read(queries.all_runs)

    def evals_of(self, run_id: int) -> list[dict[str, Any]]:
        """The stored ``EvalResult`` JSON of each eval in the run, in recording order."""
        rows = self._read(
            lambda db: db.conn.execute("SELECT result FROM evals WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def nodeids(self) -> list[str]:
        """Every eval nodeid with a row in a complete run (for "did you mean")."""
        rows = self._read(
            lambda db: db.conn.execute(
                "SELECT DISTINCT e.nodeid FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.complete = 1 "
                "ORDER BY e.nodeid"
            ).fetchall()
        )
        return [r[0] for r in rows]

    def run(self, run_id: int) -> RunInfo | None:
        """One run by id, or None."""
        return self._read(lambda db: queries.run_info(db, run_id))

    def latest_eval(self, nodeid: str) -> tuple[RunInfo, Baseline] | None:
        """The newest eval of ``nodeid`` that could serve as a baseline, whatever its fingerprints."""
        found = self._read(lambda db: queries.newest_eval(db, nodeid))
        run = self.run(found.run_id) if found is not None else None
        return (run, found) if run is not None and found is not None else None

    # ----------------------------------------------------- export, import, prune

    def export_jsonl(self, fh: IO[str]) -> int:
        """Write each complete run (fingerprints, evals, trials) as one JSON line; returns the count."""
        count = 0
        for run in reversed(self.runs()):
            if run.complete:
                doc = self._read(functools.partial(writes.export_run, run=run))
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
        for lineno, line in writes.lines(fh, name):
            if not line.strip():
                continue
            where = f"{name}:{lineno}"
            doc = writes.parse_line(line, where)
            try:
                added += self._write(functools.partial(writes.import_run, doc=doc, path=self.where))
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise StoreError(f"{where}: {detail}: {writes.EXPORT_HINT}") from None
        return added

    def prune(self, keep: int) -> int:
        """Keep the newest ``keep`` recordings of each eval under each set of fingerprints, and the
        oldest (the anchor a baseline lookup finds); delete other complete runs and dead sessions
        (``queries.prune``). Returns how many runs were deleted."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}; to start over, delete {self.where}")
        return self._write(lambda db: queries.prune(db, keep))
