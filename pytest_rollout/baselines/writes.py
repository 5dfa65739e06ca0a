"""The store's writes: a run, an eval with its trials, an exported run in and out.

Each function runs inside a transaction ``store.Store`` opened (``Store._write``/``_read``), on
either backend. Trial rows go through ``Backend.insert_rows``: ``executemany`` in SQLite, one
``COPY`` in PostgreSQL (row-by-row inserts there cost a round trip each).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from pytest_rollout.baselines.importing import EXPORT_FORMAT, EXPORT_KIND  # the JSON Lines export format
from pytest_rollout.baselines.schema import scope_key
from pytest_rollout.errors import StoreError

if TYPE_CHECKING:
    from pytest_rollout.baselines.backends import Backend
    from pytest_rollout.baselines.store import RunInfo

TRIAL_KEYS = ("index", "case_id", "epoch", "seed", "outcome", "score", "error_kind", "used")
#: Optional trial keys (schema v4): absent in older exports, NULL (retries 0) when a trial had none.
TRIAL_DATA_KEYS = ("note", "input_tokens", "output_tokens", "cost", "retries")
TRIAL_COLUMNS = (
    "eval_id",
    "idx",
    "case_id",
    "epoch",
    "seed",
    "outcome",
    "score",
    "error_kind",
    "used",
    *TRIAL_DATA_KEYS,
)
EXPORT_HINT = "import a file written by `pytest-rollout baseline export`"


def insert_run(
    db: Backend,
    uid: str,
    commit: str,
    fingerprints: dict[str, str],
    seed: int,
    tool_version: str,
    started: float,
    finished: float | None = None,
    complete: bool = False,
) -> int:
    cur = db.conn.execute(
        "INSERT INTO runs (uid, commit_sha, tool_version, seed, started, finished, complete) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (uid, commit, tool_version, int(seed), started, finished, int(complete)),
    )
    run_id = int(cur.fetchone()[0])
    db.insert_rows(
        "layer_fingerprints",
        ("run_id", "layer", "digest"),
        [(run_id, layer, digest) for layer, digest in sorted(fingerprints.items())],
    )
    return run_id


def trial_row(trial: dict[str, Any]) -> tuple[Any, ...]:
    """A trial dict as a row; fails early (before any lock is taken) on a malformed one."""
    missing = [k for k in TRIAL_KEYS if k not in trial]
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
        *(trial.get(k) for k in TRIAL_DATA_KEYS[:-1]),
        int(trial.get("retries") or 0),
    )


def insert_eval(db: Backend, run_id: int, result: dict[str, Any], rows: Sequence[tuple[Any, ...]], path: str) -> None:
    """One eval row (with its run's start and the key of the fingerprints it measured under) and its trials."""
    conn = db.conn
    run = conn.execute("SELECT started FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None:
        raise StoreError(f"{path}: run {run_id} is not in the store (pruned while running?)")
    prints = dict(conn.execute("SELECT layer, digest FROM layer_fingerprints WHERE run_id = ?", (run_id,)).fetchall())
    interval = result.get("interval") or (None, None)
    try:
        cur = conn.execute(
            "INSERT INTO evals (run_id, nodeid, criterion, verdict, estimate, interval_lo, interval_hi, n, budget, "
            "cases, epochs, alpha, beta, result, run_started, scope_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
                run[0],
                scope_key(prints, result.get("layers") or None),
            ),
        )
        eval_id = int(cur.fetchone()[0])
    except Exception as exc:  # sqlite3.IntegrityError, psycopg's ForeignKeyViolation
        if "foreign key" in str(exc).lower():
            raise StoreError(f"{path}: run {run_id} is not in the store (pruned while running?)") from None
        raise
    db.insert_rows("trials", TRIAL_COLUMNS, [(eval_id, *row) for row in rows])


def export_run(db: Backend, run: RunInfo) -> dict[str, Any]:
    conn = db.conn
    evals = []
    for eval_id, result in conn.execute("SELECT id, result FROM evals WHERE run_id = ? ORDER BY id", (run.id,)):
        trials = [
            dict(
                zip(
                    (*TRIAL_KEYS, *TRIAL_DATA_KEYS),
                    (idx, case_id, epoch, seed, outcome, score, kind, bool(used), *data),
                    strict=True,
                )
            )
            for idx, case_id, epoch, seed, outcome, score, kind, used, *data in conn.execute(
                "SELECT idx, case_id, epoch, seed, outcome, score, error_kind, used, "
                + ", ".join(TRIAL_DATA_KEYS)
                + " FROM trials "
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


def lines(fh: IO[str], name: str) -> Iterator[tuple[int, str]]:
    """Numbered lines; text that is not UTF-8 is a one-line error naming the line."""
    lineno = 0
    try:
        for lineno, line in enumerate(fh, 1):  # noqa: B007 - read by the except clause
            yield lineno, line
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        raise StoreError(f"{name}:{lineno + 1}: not UTF-8 text (byte {bad!r}): {EXPORT_HINT}") from None


def parse_line(line: str, where: str) -> dict[str, Any]:
    """One exported run, every field checked (``importing.parse_run``)."""
    from pytest_rollout.baselines.importing import parse_run

    return parse_run(line, where)


def import_run(db: Backend, doc: dict[str, Any], path: str) -> int:
    if db.conn.execute("SELECT 1 FROM runs WHERE uid = ?", (doc["uid"],)).fetchone():
        return 0
    run_id = insert_run(
        db,
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
        insert_eval(db, run_id, ev["result"], [trial_row(t) for t in ev["trials"]], path)
    return 1
