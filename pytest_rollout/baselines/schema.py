"""The store's schema: its migrations, in order, and what makes a recorded eval a baseline.

The schema is versioned (``PRAGMA user_version``; a table in PostgreSQL). ``MIGRATIONS`` are applied
in order, each in one transaction, so a store written by an older version opens (and is
upgraded); a store written by a newer version is refused rather than misread. Migrations are
additive (new tables, columns and indexes): an older pytest-rollout reading a store it cannot
open says so instead of losing data.

The DDL is SQLite's; ``backends.PostgresBackend.ddl`` turns it into PostgreSQL's types.
No pytest, no scipy: the CLI imports this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

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


#: What makes a recorded eval a baseline candidate: it PASSed, or it is the first measurement of
#: a ``max_regression`` eval (NO_BASELINE with trials: nothing to compare against yet). A FAIL,
#: an INCONCLUSIVE or an ERROR never becomes the reference the next release is held to.
def eligible(alias: str = "") -> str:
    """``ELIGIBLE`` with its columns qualified by a table alias (``e``), as a query's WHERE term."""
    col = f"{alias}." if alias else ""
    return f"({col}verdict = 'PASS' OR ({col}verdict = 'NO_BASELINE' AND {col}n > 0))"


ELIGIBLE = eligible()


# v3: baseline lookups that do not grow with the history. Each eval row carries its run's start
# time and the key of the fingerprints it was measured under (``scope_key``), and two partial
# indexes over the eligible rows answer "the oldest eligible eval of this node under these
# fingerprints" and "the newest eligible eval of this node" by walking an index from one end.
# Rows from v1/v2 stores keep a NULL key and are found by the generic (scanning) query.
_V3 = [
    "ALTER TABLE evals ADD COLUMN run_started REAL",
    "ALTER TABLE evals ADD COLUMN scope_key TEXT",
    "UPDATE evals SET run_started = (SELECT r.started FROM runs r WHERE r.id = evals.run_id)",
    f"CREATE INDEX evals_baseline ON evals(nodeid, scope_key, run_started, id) WHERE {ELIGIBLE}",
    f"CREATE INDEX evals_recent ON evals(nodeid, run_started DESC, id) WHERE {ELIGIBLE}",
]

# v4: what a trial carried besides its outcome: its trial.note text (redacted, capped), the tokens
# and cost of trial.usage (NULL when it reported none) and its retries. Additive: older rows keep NULLs.
_V4 = [
    "ALTER TABLE trials ADD COLUMN note TEXT",
    "ALTER TABLE trials ADD COLUMN input_tokens INTEGER",
    "ALTER TABLE trials ADD COLUMN output_tokens INTEGER",
    "ALTER TABLE trials ADD COLUMN cost REAL",
    "ALTER TABLE trials ADD COLUMN retries INTEGER NOT NULL DEFAULT 0",
]

#: (schema version, DDL) in order; a store at version v gets every later entry.
MIGRATIONS: list[tuple[int, list[str]]] = [(1, _V1), (2, _V2), (3, _V3), (4, _V4)]
SCHEMA_VERSION: int = MIGRATIONS[-1][0]

_KEY_SCHEME = b"pytest-rollout baseline scope v1\n"


def scope_layers(fingerprints: Mapping[str, str], layers: Sequence[str] | None) -> list[str]:
    """The layers a baseline must match on: the eval's layers that have a fingerprint, else all."""
    known = [layer for layer in layers or () if layer in fingerprints]
    return sorted(set(known)) if known else sorted(fingerprints)


def scope_key(fingerprints: Mapping[str, str], layers: Sequence[str] | None) -> str:
    """A hash of the fingerprints of ``scope_layers``: equal keys, equal config on those layers."""
    h = hashlib.sha256(_KEY_SCHEME)
    for layer in scope_layers(fingerprints, layers):
        h.update(f"{layer}\0{fingerprints[layer]}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()
