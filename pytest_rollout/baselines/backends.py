"""Where the store's SQL runs: an SQLite file (the embedded default) or a PostgreSQL server (teams).

``store.py`` writes one dialect: SQLite's, with ``?`` parameters and the DDL of ``schema.MIGRATIONS``.
Each backend opens a connection, runs transactions (a write transaction holds the store's one
write lock: ``BEGIN IMMEDIATE`` in SQLite, a transaction-scoped advisory lock in PostgreSQL, so
concurrent writers serialise and lose nothing), keeps the schema version (``PRAGMA user_version``;
a one-row table in PostgreSQL), says which errors are worth a retry, and turns the DDL and the
parameters into its own dialect (``pg_placeholders``: a ``?`` outside string literals becomes ``%s``
and every ``%`` is escaped, so a literal ``?`` or ``%`` in SQL means itself). Bulk rows go through
``insert_rows``: ``executemany`` in SQLite, one ``COPY`` in PostgreSQL. A location is a PostgreSQL store when it is a ``postgresql://``
or ``postgres://`` URL; its password is never printed (``redact_url``).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from pytest_rollout.errors import StoreError

#: How long SQLite itself waits for another writer's lock, in seconds.
BUSY_TIMEOUT = 30.0
_PG_SCHEMES = ("postgresql://", "postgres://")
#: The advisory lock every PostgreSQL write transaction takes: one writer at a time, as in SQLite.
_PG_WRITE_LOCK = 0x726F6C6C  # "roll"


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(_PG_SCHEMES)


def redact_url(location: str | Path) -> str:
    """The location as it may be printed: a URL's password (and ``password=`` parameter) masked."""
    text = str(location)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """What store.py uses of a connection (sqlite3's shape)."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


class Backend(Protocol):
    where: str  # the location as printed
    conn: Connection

    def setup(self) -> None: ...
    def begin(self, write: bool) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def schema_version(self) -> int: ...
    def set_schema_version(self, version: int) -> None: ...
    def has_foreign_tables(self) -> bool: ...
    def ddl(self, statement: str) -> str: ...
    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...
    def retryable(self, exc: BaseException) -> bool: ...
    def is_error(self, exc: BaseException) -> bool: ...
    def close(self) -> None: ...


def open_backend(location: str | Path) -> Backend:
    if is_postgres(location):
        return PostgresBackend(str(location))
    return SqliteBackend(Path(location))


class SqliteBackend:
    """A store file in WAL mode: readers proceed during a write; writers take BEGIN IMMEDIATE."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (Python's implicit
            # transactions start deferred, which is what loses writes under contention).
            self.conn: Any = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"{path}: cannot open the store ({exc}): check the folder's permissions, "
                "or point --rollout-store elsewhere"
            ) from None

    def setup(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL").fetchone()
        # NORMAL is crash-safe in WAL mode for a killed process; only a power loss can
        # roll back the last commits, and it never corrupts the file.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def begin(self, write: bool) -> None:
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def schema_version(self) -> int:
        try:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.where}: not a pytest-rollout store ({exc}): move the file away, "
                "or point --rollout-store elsewhere"
            ) from None

    def set_schema_version(self, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(version)}")

    def has_foreign_tables(self) -> bool:
        return bool(self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    def ddl(self, statement: str) -> str:
        return statement

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def retryable(self, exc: BaseException) -> bool:
        text = str(exc).lower()
        return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def close(self) -> None:
        self.conn.close()


class _PgConnection:
    """psycopg's connection with sqlite3's parameter style (``?``) and call shape."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(pg_placeholders(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        with self.raw.cursor() as cur:
            cur.executemany(pg_placeholders(sql), list(rows))
        return None


@functools.lru_cache(maxsize=256)
def pg_placeholders(sql: str) -> str:
    """SQLite's ``?`` parameters as psycopg's ``%s``, outside string literals, quoted identifiers and
    comments; every ``%`` doubled (psycopg reads ``%`` anywhere in a query with parameters)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        end = _quoted_end(sql, i)
        if end > i:
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        out.append("%s" if ch == "?" else "%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _quoted_end(sql: str, i: int) -> int:
    """Where the literal, quoted identifier or comment starting at ``i`` ends (``i``: none starts there)."""
    two = sql[i : i + 2]
    if two == "--":
        newline = sql.find("\n", i)
        return len(sql) if newline < 0 else newline
    if two == "/*":
        close = sql.find("*/", i + 2)
        return len(sql) if close < 0 else close + 2
    quote = sql[i]
    if quote not in "'\"":
        return i
    j = i + 1
    while j < len(sql):
        if sql[j] == quote:
            if sql[j + 1 : j + 2] == quote:  # '' inside a literal is one quote
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


class PostgresBackend:
    """A store in a PostgreSQL database: one server shared by every runner of a team."""

    def __init__(self, url: str) -> None:
        self.where = redact_url(url)
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                f"{self.where}: a PostgreSQL store needs psycopg 3: pip install 'pytest-rollout[postgres]'"
            ) from None
        self._psycopg = psycopg
        try:
            raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.where}: cannot connect to the store ({_first_line(exc)}): check the URL, the server "
                "and its credentials (set ROLLOUT_STORE to keep a password off the command line)"
            ) from None
        self.conn: Any = _PgConnection(raw)

    def setup(self) -> None:
        self.begin(write=True)  # under the write lock: concurrent first opens must not race on CREATE
        try:
            self.conn.execute("CREATE TABLE IF NOT EXISTS rollout_schema (version INTEGER NOT NULL)")
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def begin(self, write: bool) -> None:
        self.conn.execute("BEGIN")
        if write:
            self.conn.execute("SELECT pg_advisory_xact_lock(?)", (_PG_WRITE_LOCK,))

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.raw.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")

    def schema_version(self) -> int:
        if self.conn.execute("SELECT to_regclass('rollout_schema')").fetchone()[0] is None:
            return 0
        row = self.conn.execute("SELECT max(version) FROM rollout_schema").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, version: int) -> None:
        self.conn.execute("DELETE FROM rollout_schema")
        self.conn.execute("INSERT INTO rollout_schema (version) VALUES (?)", (int(version),))

    def has_foreign_tables(self) -> bool:
        row = self.conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name IN ('runs', 'evals', 'trials', 'layer_fingerprints')"
        ).fetchone()
        return bool(row[0])

    def ddl(self, statement: str) -> str:
        """SQLite's DDL in PostgreSQL's types: 64-bit integers, double-precision reals, identity keys."""
        s = statement.replace(" WITHOUT ROWID", "")
        s = s.replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        s = re.sub(r"\bINTEGER\b", "BIGINT", s)
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", s)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """One ``COPY`` for all the rows: a round trip per row is what made writes slow."""
        if not rows:
            return
        with self.conn.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def retryable(self, exc: BaseException) -> bool:
        errors = self._psycopg.errors
        return isinstance(exc, (errors.SerializationFailure, errors.DeadlockDetected))

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.Error)

    def close(self) -> None:
        self.conn.raw.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
