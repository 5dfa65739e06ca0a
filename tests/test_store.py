"""The baseline store: transactions, the complete flag, fingerprint matching, concurrent
writers (real processes), SIGKILL mid-run, migrations, export/import and pruning."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rollout.baselines.store import MIGRATIONS, SCHEMA_VERSION, Store, store_path
from pytest_rollout.errors import StoreError
from pytest_rollout.models import EvalResult

FP = {"infra": "i1", "model": "m1", "params": "p1", "context": "c1", "prompt": "q1", "tools": "t1"}


def result(nodeid: str = "evals/test_a.py::test_a", verdict: str = "PASS", **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        nodeid=nodeid,
        layers=[],  # an eval without a layer marker: its baseline matches on every layer
        verdict=verdict,
        criterion="pass_rate",
        threshold=0.8,
        margin=0.05,
        confidence=0.95,
        alpha=0.05,
        beta=0.05,
        estimate=0.75,
        interval=(0.6, 0.9),
        n=4,
        budget=10,
        seed=1,
    )
    fields.update(kw)
    return EvalResult(**fields).model_dump(mode="json")


def trials(outcomes: str = "ppfp", cases: list[str] | None = None, used: bool = True) -> list[dict[str, Any]]:
    """One trial per character: ``p`` pass, ``f`` fail, ``e`` error."""
    kinds = {"p": "pass", "f": "fail", "e": "error"}
    return [
        {
            "index": i,
            "case_id": cases[i] if cases else None,
            "epoch": 0,
            "seed": 100 + i,
            "outcome": kinds[ch],
            "score": None,
            "error_kind": "Timeout" if ch == "e" else None,
            "used": used,
        }
        for i, ch in enumerate(outcomes)
    ]


def record_run(
    store: Store,
    commit: str = "a" * 40,
    fps: dict[str, str] | None = None,
    *,
    nodeid: str = "evals/test_a.py::test_a",
    outcomes: str = "ppfp",
    finish: bool = True,
) -> int:
    run = store.begin_run(commit, fps if fps is not None else FP, seed=1, tool_version="0.1.0")
    store.record_eval(run, result(nodeid), trials(outcomes))
    if finish:
        store.finish_run(run)
    return run


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store on each backend: a file, or a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / ".rollout" / "store.sqlite")
        return
    yield from fresh_database(request.getfixturevalue("postgres_url"))


def fresh_database(server: str) -> Iterator[str]:
    import uuid

    import psycopg

    name = f"rollout_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    with Store(location) as s:
        yield s


def run_python(code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# ----------------------------------------------------------------- basics


def test_creates_parent_folders_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_path_default_and_relative(tmp_path: Path) -> None:
    assert store_path(tmp_path) == tmp_path / ".rollout" / "store.sqlite"
    assert store_path(tmp_path, "x/s.db") == tmp_path / "x" / "s.db"
    assert store_path(tmp_path, tmp_path / "abs.db") == tmp_path / "abs.db"


def test_a_run_is_a_baseline_only_once_finished(store: Store) -> None:
    run = record_run(store, finish=False)
    assert store.find_baseline("evals/test_a.py::test_a", FP, None) is None
    store.finish_run(run)
    base = store.find_baseline("evals/test_a.py::test_a", FP, None)
    assert base is not None and base.run_id == run
    assert base.values == [1.0, 1.0, 0.0, 1.0]
    assert (base.estimate, base.interval, base.n, base.budget) == (0.75, (0.6, 0.9), 4, 10)
    assert (base.alpha, base.beta, base.criterion, base.commit) == (0.05, 0.05, "pass_rate", "a" * 40)


def test_baseline_values_skip_errors_and_unused_and_pair_by_case(store: Store) -> None:
    run = store.begin_run("c" * 40, FP, seed=1, tool_version="0.1.0")
    rows = trials("pfepfp", cases=["a", "a", "a", "b", "b", "b"])
    rows[4]["score"] = 0.5  # a scored trial counts with its score
    rows[5]["used"] = False  # in flight at the stop: recorded, not used
    store.record_eval(run, result(cases=2, epochs=3), rows)
    store.finish_run(run)
    base = store.find_baseline("evals/test_a.py::test_a", FP, None)
    assert base is not None
    assert base.values == [1.0, 0.0, 1.0, 0.5]
    assert base.case_means == {"a": 0.5, "b": 0.75}
    assert base.cases == 2 and base.epochs == 3


def test_the_oldest_eligible_run_is_the_baseline_and_newer_runs_do_not_move_it(store: Store) -> None:
    oldest = record_run(store, "1" * 40)
    record_run(store, "2" * 40)
    record_run(store, "3" * 40, finish=False)  # incomplete: never a baseline
    base = store.find_baseline("evals/test_a.py::test_a", FP, None)
    assert base is not None and base.run_id == oldest  # a chain of recordings cannot ratchet it down
    # the caller's ancestry check: a commit it refuses (another branch) is skipped
    later = store.find_baseline("evals/test_a.py::test_a", FP, None, accept=lambda c: c != "1" * 40)
    assert later is not None and later.commit == "2" * 40
    assert store.find_baseline("evals/test_a.py::test_a", FP, None, accept=lambda c: False) is None


def test_failed_and_inconclusive_recordings_are_never_baselines(store: Store) -> None:
    node = "evals/test_a.py::test_a"
    for verdict in ("FAIL", "INCONCLUSIVE", "ERROR"):
        run = store.begin_run("1" * 40, FP, seed=1, tool_version="0.1.0")
        store.record_eval(run, result(verdict=verdict), trials("ppfp"))
        store.finish_run(run)
    assert store.find_baseline(node, FP, None) is None
    assert store.latest_eval(node) is None
    # the first measurement of a max_regression eval (nothing to compare with yet) is one
    first = store.begin_run("2" * 40, FP, seed=1, tool_version="0.1.0")
    store.record_eval(first, result(verdict="NO_BASELINE", criterion="max_regression"), trials("ppfp"))
    store.finish_run(first)
    base = store.find_baseline(node, FP, None)
    assert base is not None and base.run_id == first


def test_a_pinned_run_is_that_run_or_nothing(store: Store) -> None:
    node = "evals/test_a.py::test_a"
    first = record_run(store, "1" * 40)
    second = record_run(store, "2" * 40)
    other = record_run(store, "3" * 40, {**FP, "prompt": "q9"})
    pinned = store.find_baseline(node, FP, None, run_id=second)
    assert pinned is not None and pinned.run_id == second != first
    assert store.find_baseline(node, FP, None, run_id=other) is None  # other fingerprints
    assert store.find_baseline(node, FP, None, run_id=999) is None


def test_fingerprints_match_on_the_eval_layers_only(store: Store) -> None:
    node = "evals/test_a.py::test_a"
    run = store.begin_run("a" * 40, FP, seed=1, tool_version="0.1.0")
    store.record_eval(run, result(layers=["model", "tools"]), trials())  # @pytest.mark.layer("model", "tools")
    store.finish_run(run)
    prompt_edited = {**FP, "prompt": "q2"}
    found = store.find_baseline(node, prompt_edited, ["model", "tools"])  # a prompt edit keeps it
    assert found is not None and found.run_id == run
    assert store.find_baseline(node, {**FP, "tools": "t2"}, ["model", "tools"]) is None
    # the eval now measures other layers (its marker changed): record it again
    assert store.find_baseline(node, prompt_edited, ["model"]) is None
    assert store.find_baseline(node, FP, None) is None


def test_a_layer_unknown_to_the_old_run_does_not_match(store: Store) -> None:
    record_run(store, fps={"prompt": "q1"})
    assert store.find_baseline("evals/test_a.py::test_a", {"prompt": "q1", "safety": "s"}, None) is None
    with pytest.raises(ValueError, match="no fingerprint for layer"):
        store.find_baseline("evals/test_a.py::test_a", {"prompt": "q1"}, ["safety"])


def test_error_verdicts_and_all_error_evals_are_not_baselines(store: Store) -> None:
    good = record_run(store, "1" * 40)
    run = store.begin_run("2" * 40, FP, seed=1, tool_version="0.1.0")
    store.record_eval(run, result(verdict="ERROR"), trials("pfee"))
    store.finish_run(run)
    run = store.begin_run("3" * 40, FP, seed=1, tool_version="0.1.0")
    store.record_eval(run, result(verdict="FAIL"), trials("eeee"))
    store.finish_run(run)
    base = store.find_baseline("evals/test_a.py::test_a", FP, None)
    assert base is not None and base.run_id == good


def test_other_nodeids_are_not_baselines(store: Store) -> None:
    record_run(store, nodeid="evals/test_b.py::test_b")
    assert store.find_baseline("evals/test_a.py::test_a", FP, None) is None
    assert store.nodeids() == ["evals/test_b.py::test_b"]


def test_record_eval_is_one_transaction(store: Store) -> None:
    run = store.begin_run("a" * 40, FP, seed=1, tool_version="0.1.0")
    bad = trials("pp")
    bad[1] = {**bad[1], "index": 0}  # duplicate trial index: the whole eval must not land
    with pytest.raises(StoreError):
        store.record_eval(run, result(), bad)
    assert store.evals_of(run) == []
    with pytest.raises(ValueError, match="missing"):
        store.record_eval(run, result(), [{"index": 0}])
    store.record_eval(run, result(), trials("pp"))
    assert [e["nodeid"] for e in store.evals_of(run)] == ["evals/test_a.py::test_a"]


def test_recording_into_a_pruned_run_says_so(store: Store) -> None:
    with pytest.raises(StoreError, match="run 99 is not in the store"):
        store.record_eval(99, result(), trials("p"))
    with pytest.raises(StoreError, match="run 99 is not in the store"):
        store.finish_run(99)


def test_evals_of_round_trips_the_result(store: Store) -> None:
    run = record_run(store)
    assert store.evals_of(run) == [result()]
    (info,) = store.runs()
    assert (info.id, info.complete, info.evals, info.fingerprints, info.seed) == (run, True, 1, FP, 1)
    assert info.finished is not None and info.finished >= info.started


def test_a_hundred_thousand_trials_write_and_read(store: Store) -> None:
    run = store.begin_run("a" * 40, FP, seed=1, tool_version="0.1.0")
    rows = [
        {
            "index": i,
            "case_id": f"case-{i % 500}",
            "epoch": i // 500,
            "seed": i,
            "outcome": "pass" if i % 4 else "fail",
            "score": None,
            "error_kind": None,
            "used": True,
        }
        for i in range(100_000)
    ]
    store.record_eval(run, result(n=100_000, budget=100_000), rows)
    store.finish_run(run)
    base = store.find_baseline("evals/test_a.py::test_a", FP, None)
    assert base is not None
    assert len(base.values) == 100_000 and sum(base.values) == 75_000
    assert len(base.case_means) == 500


# ------------------------------------------------------------ bad files, versions


def test_a_file_that_is_not_sqlite_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_text("not a database, just text " * 50)
    with pytest.raises(StoreError, match=r"store\.sqlite: not a pytest-rollout store"):
        Store(path)


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(StoreError, match=r"app\.db: a database that is not a pytest-rollout store"):
        Store(path)


def test_a_newer_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: written by a newer pytest-rollout (schema 99 > {SCHEMA_VERSION}): "
        "upgrade pytest-rollout, or point --rollout-store elsewhere"
    )


def test_a_v1_store_opens_migrates_and_still_serves_its_baseline(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    version, ddl = MIGRATIONS[0]
    assert version == 1
    conn = sqlite3.connect(path)
    for statement in ddl:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (id, commit_sha, tool_version, seed, started, finished, complete) "
        "VALUES (1, ?, '0.0.9', 5, 1700000000.5, 1700000100.0, 1)",
        ("b" * 40,),
    )
    conn.executemany("INSERT INTO layer_fingerprints VALUES (1, ?, ?)", sorted(FP.items()))
    conn.execute(
        "INSERT INTO evals (id, run_id, nodeid, criterion, verdict, estimate, interval_lo, interval_hi, "
        "n, budget, result) VALUES (1, 1, 'evals/test_a.py::test_a', 'pass_rate', 'PASS', 0.5, 0.1, 0.9, "
        "2, 10, ?)",
        (json.dumps(result()),),
    )
    conn.executemany(
        "INSERT INTO trials (eval_id, idx, epoch, seed, outcome, used) VALUES (1, ?, 0, ?, ?, 1)",
        [(0, 10, "pass"), (1, 11, "fail")],
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with Store(path) as store:
        base = store.find_baseline("evals/test_a.py::test_a", FP, ["prompt"])
        assert base is not None and base.commit == "b" * 40 and base.values == [1.0, 0.0]
        (info,) = store.runs()
        assert info.uid.startswith("v1:" + "b" * 40)
        record_run(store, "c" * 40)  # and the migrated store takes new runs
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_uid", "evals_nodeid"} <= names


# ------------------------------------------------------------- real processes


WRITER = """
import sys, time
from collections.abc import Iterator
from pathlib import Path
from pytest_rollout.baselines.store import Store
path, me, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
with Store(path) as store:
    run = store.begin_run(f"{me:040d}", {"prompt": "q"}, seed=me, tool_version="test")
    for e in range(50):
        result = {"nodeid": f"evals/test_{e}.py::test", "criterion": "pass_rate", "verdict": "PASS",
                  "n": 20, "budget": 20, "seed": me}
        rows = [{"index": i, "case_id": None, "epoch": 0, "seed": i, "outcome": "pass", "score": None,
                 "error_kind": None, "used": True} for i in range(20)]
        store.record_eval(run, result, rows)
    store.finish_run(run)
"""


WRITERS = 8


def test_concurrent_writer_processes_lose_nothing(location: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, location, str(me), str(go)], stderr=subprocess.PIPE, text=True)
        for me in range(WRITERS)
    ]
    time.sleep(0.3)  # let them all start (and race on creating the schema)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with Store(location) as store:
        runs = store.runs()
        assert len(runs) == WRITERS and all(r.complete and r.evals == 50 for r in runs)
        count = store._conn.execute("SELECT count(*) FROM trials").fetchone()[0]
        assert count == WRITERS * 50 * 20


KILLED = """
import os, signal, sys
from collections.abc import Iterator
from pathlib import Path
from pytest_rollout.baselines.store import Store
store = Store(sys.argv[1])
run = store.begin_run("d" * 40, {"prompt": "q"}, seed=9, tool_version="test")
for e in range(3):
    rows = [{"index": i, "case_id": None, "epoch": 0, "seed": i, "outcome": "fail", "score": None,
             "error_kind": None, "used": True} for i in range(10)]
    store.record_eval(run, {"nodeid": "evals/test_a.py::test_a", "criterion": "pass_rate", "verdict": "FAIL",
                            "n": 10, "budget": 10, "seed": 9}, rows)
# Die in the middle of a write transaction, holding the write lock.
store._db.begin(write=True)
store._conn.execute("UPDATE runs SET complete = 1")
store._conn.execute("DELETE FROM trials")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_a_run_killed_mid_way_stays_readable_and_incomplete(location: str) -> None:
    with Store(location) as store:
        good = record_run(store, "1" * 40, {"prompt": "q"})
    proc = run_python(KILLED, location, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Store(location) as store:
        if store.path is not None:
            assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        killed = next(r for r in store.runs() if r.commit == "d" * 40)
        assert not killed.complete and killed.evals == 3  # committed evals survive, the torn write does not
        base = store.find_baseline("evals/test_a.py::test_a", {"prompt": "q"}, None)
        assert base is not None and base.run_id == good
        record_run(store, "2" * 40, {"prompt": "q"})  # the lock died with the process


# --------------------------------------------------------- export, import, prune


def test_export_import_round_trip_is_idempotent(store: Store, tmp_path: Path) -> None:
    run = store.begin_run("a" * 40, FP, seed=3, tool_version="0.1.0")
    rows = trials("pfe", cases=["x", "x", "y"])
    rows[0]["score"] = 0.25
    store.record_eval(run, result(), rows)
    store.record_eval(run, result("evals/test_b.py::test_b"), trials("f"))
    store.finish_run(run)
    record_run(store, "b" * 40, finish=False)  # incomplete runs are not exported
    buf = io.StringIO()
    assert store.export_jsonl(buf) == 1
    text = buf.getvalue()
    assert len(text.splitlines()) == 1

    with Store(tmp_path / "other.sqlite") as other:
        assert other.import_jsonl(io.StringIO(text)) == 1
        assert other.import_jsonl(io.StringIO(text + text)) == 0
        (info,) = other.runs()
        assert info.complete and info.fingerprints == FP and info.seed == 3
        assert other.evals_of(info.id) == store.evals_of(run)
        again = io.StringIO()
        other.export_jsonl(again)
        assert again.getvalue() == text
        mine = store.find_baseline("evals/test_a.py::test_a", FP, None)
        theirs = other.find_baseline("evals/test_a.py::test_a", FP, None)
        assert mine is not None and theirs is not None
        assert (theirs.values, theirs.case_means) == (mine.values, mine.case_means) == ([0.25, 0.0], {"x": 0.125})
    assert store.import_jsonl(io.StringIO(text)) == 0  # into the store it came from


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ('{"kind": "something"}', "not an exported run"),
        ('{"kind": "pytest-rollout.run", "format": 7}', "export format 7 is newer"),
        ('{"kind": "pytest-rollout.run", "format": 1, "uid": "u"}', "commit is missing"),
        (
            '{"kind": "pytest-rollout.run", "format": 1, "uid": "u", "commit": "c", "fingerprints": {}, "tool_version": "v", '
            '"seed": 1, "started": 1e9, "evals": []}',
            "commit 'c' is not a full commit id",
        ),
        (
            '{"kind": "pytest-rollout.run", "format": 1, "uid": "u", "commit": "' + "a" * 40 + '", "fingerprints": {}, '
            '"tool_version": "v", "seed": 1, "started": 1e9, "evals": [{"result": {"nodeid": "n"}, "trials": []}]}',
            r"evals\[0\]\.result\.criterion is missing",
        ),
        (
            '{"kind": "pytest-rollout.run", "format": 1, "uid": "u", "commit": "' + "a" * 40 + '", "fingerprints": {}, '
            '"tool_version": "v", "seed": 1, "started": 1e9, "evals": [{"result": {"nodeid": "n", "criterion": '
            '"pass_rate", "verdict": "PASS", "n": 1, "budget": 1}, "trials": [{"index": 0}]}]}',
            r"evals\[0\]\.trials\[0\]\.epoch is missing",
        ),
    ],
)
def test_import_names_the_line_of_a_bad_record(store: Store, tmp_path: Path, line: str, message: str) -> None:
    buf = io.StringIO()
    record_run(store)
    store.export_jsonl(buf)
    path = tmp_path / "runs.jsonl"
    path.write_text(buf.getvalue().replace('"uid":"', '"uid":"x') + "\n" + line + "\n")
    with Store(tmp_path / "other.sqlite") as other, path.open() as fh:
        with pytest.raises(StoreError, match=rf"runs\.jsonl:3: {message}"):
            other.import_jsonl(fh)
        assert len(other.runs()) == 1  # the good line before it was imported


def test_prune_keeps_the_newest_per_eval_and_fingerprints_and_the_anchor(store: Store) -> None:
    dead = record_run(store, "0" * 40, finish=False)
    a = [record_run(store, f"{i}" * 40) for i in (1, 2, 3)]  # prompt q1
    b = [record_run(store, f"{i}" * 40, {**FP, "prompt": "q2"}) for i in (4, 5, 6)]
    c = record_run(store, "7" * 40, nodeid="evals/test_c.py::test_c")  # another eval: its only recording
    failed = store.begin_run("9" * 40, FP, seed=1, tool_version="0.1.0")  # the newest run: kept whatever its verdict
    store.record_eval(failed, result(verdict="FAIL"), trials())
    store.finish_run(failed)
    live = record_run(store, "8" * 40, finish=False)  # started after the newest kept run: may be running
    assert store.prune(keep=1) == 3
    assert {r.id for r in store.runs()} == {a[0], a[2], b[0], b[2], c, live, failed}
    assert dead not in {r.id for r in store.runs()}
    # the baseline lookups find what they found before
    assert store.find_baseline("evals/test_a.py::test_a", FP, None).run_id == a[0]  # type: ignore[union-attr]
    assert store.prune(keep=1) == 0
    with pytest.raises(ValueError, match="at least 1"):
        store.prune(keep=0)


def test_prune_cascades_to_evals_and_trials(store: Store) -> None:
    for i in (1, 2, 3):
        record_run(store, f"{i}" * 40)
    assert store.prune(keep=1) == 1
    conn = store._conn
    assert conn.execute("SELECT count(*) FROM evals").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM trials").fetchone()[0] == 8
    assert conn.execute("SELECT count(*) FROM layer_fingerprints").fetchone()[0] == 2 * len(FP)


def test_no_pytest_or_scipy_import() -> None:
    proc = run_python(
        "import sys, pytest_rollout.baselines.store; "
        "print(sorted(m for m in ('pytest', 'scipy', 'pydantic') if m in sys.modules))"
    )
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------- PostgreSQL specifics


def test_a_url_password_is_never_printed() -> None:
    from pytest_rollout.baselines.backends import redact_url

    assert (
        redact_url("postgresql://ci:s3cr3t@db.internal:5432/rollout") == "postgresql://ci:***@db.internal:5432/rollout"
    )
    assert (
        redact_url("postgres://ci@h/db?sslmode=require&password=s3cr3t")
        == "postgres://ci@h/db?sslmode=require&password=***"
    )
    assert redact_url("/tmp/store.sqlite") == "/tmp/store.sqlite"


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as info:
        Store("postgresql://ci:s3cr3t@127.0.0.1:1/rollout?connect_timeout=2")
    text = str(info.value)
    assert "s3cr3t" not in text and "\n" not in text
    assert text.startswith("postgresql://ci:***@127.0.0.1:1/rollout") and "cannot connect to the store" in text


def test_without_psycopg_the_error_names_the_extra() -> None:
    proc = run_python(
        """
        import sys
        sys.modules["psycopg"] = None  # as if the postgres extra were not installed
        from pytest_rollout.baselines.store import Store
        from pytest_rollout.errors import StoreError
        try:
            Store("postgresql://ci:s3cr3t@127.0.0.1:1/rollout")
        except StoreError as exc:
            print(exc)
        """
    )
    assert "pip install 'pytest-rollout[postgres]'" in proc.stdout and "s3cr3t" not in proc.stdout


def test_rollout_store_names_the_store_when_no_option_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_STORE", "postgresql://ci@db/rollout")
    assert store_path(tmp_path) == "postgresql://ci@db/rollout"
    assert store_path(tmp_path, "x.sqlite") == tmp_path / "x.sqlite"  # an option wins
    monkeypatch.delenv("ROLLOUT_STORE")
    assert store_path(tmp_path) == tmp_path / ".rollout" / "store.sqlite"


def test_a_sqlite_export_imports_into_postgresql_and_back(tmp_path: Path, postgres_url: str) -> None:
    with Store(tmp_path / "a.sqlite") as lite:
        record_run(lite, "a" * 40)
        buf = io.StringIO()
        lite.export_jsonl(buf)
    for url in fresh_database(postgres_url):
        with Store(url) as pg:
            assert pg.import_jsonl(io.StringIO(buf.getvalue())) == 1
            again = io.StringIO()
            pg.export_jsonl(again)
        assert again.getvalue() == buf.getvalue()


# ------------------------------------------------- lookups flat in the history


def _history(store: Store, runs: int) -> None:
    """``runs`` complete runs of 5 evals each, 50 configs in turn, written in one statement per table."""
    series = (
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
        if store.path is not None
        else "WITH s(i) AS (SELECT generate_series(1, ?)) "
    )
    conn = store._conn
    store._db.begin(write=True)
    conn.execute(
        series + "INSERT INTO runs (id, uid, commit_sha, tool_version, seed, started, finished, complete) "
        "SELECT i, 'u' || i, 'c' || i, 'bench', i, i, i, 1 FROM s",
        (runs,),
    )
    conn.execute(
        series + "INSERT INTO evals (id, run_id, nodeid, criterion, verdict, n, budget, result, run_started, "
        "scope_key) SELECT i, (i + 4) / 5, 'node' || (i % 5), 'pass_rate', 'PASS', 1, 1, '{}', (i + 4) / 5, "
        "'key' || (((i + 4) / 5) % 50) FROM s",
        (5 * runs,),
    )
    conn.execute(
        series + "INSERT INTO trials (eval_id, idx, epoch, seed, outcome, used) SELECT i, 0, 0, i, 'pass', 1 FROM s",
        (5 * runs,),
    )
    store._db.commit()
    conn.execute("ANALYZE")


def _plan(store: Store, sql: str, params: list[Any]) -> str:
    from pytest_rollout.baselines.backends import pg_placeholders

    paged = f"{sql} LIMIT ? OFFSET ?"
    if store.path is not None:
        rows = store._conn.execute("EXPLAIN QUERY PLAN " + paged, [*params, 16, 0]).fetchall()
        return "\n".join(row[3] for row in rows)
    rows = store._db.conn.raw.execute("EXPLAIN " + pg_placeholders(paged), (*params, 16, 0)).fetchall()  # type: ignore[attr-defined]
    return "\n".join(row[0] for row in rows)


def test_baseline_lookups_walk_an_index_not_the_history(store: Store) -> None:
    """EXPLAIN QUERY PLAN (SQLite) and EXPLAIN (PostgreSQL, with statistics) of both lookups: each
    searches its partial index by node (and scope key) in order, with no scan of evals and no sort."""
    from pytest_rollout.baselines import queries

    _history(store, 2000)
    keyed = _plan(store, queries.KEYED_SQL, ["node3", "key7"])
    recent = _plan(store, queries.RECENT_SQL, ["node3"])
    pinned = _plan(store, queries.PINNED_SQL, ["node3", 1500])
    if store.path is not None:
        assert "SEARCH e USING INDEX evals_baseline (nodeid=? AND scope_key=?)" in keyed, keyed
        assert "SEARCH e USING INDEX evals_recent (nodeid=?)" in recent, recent
        assert "SEARCH e USING INDEX evals_nodeid (nodeid=? AND run_id=?)" in pinned, pinned
        for plan in (keyed, recent, pinned):
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Index Scan using evals_baseline on evals e" in keyed, keyed
        assert "Index Scan using evals_recent on evals e" in recent, recent
        assert "Index Scan using evals_nodeid on evals e" in pinned and "Seq Scan" not in pinned, pinned
        for plan in (keyed, recent):  # (the pinned lookup may sort the node's rows of one run)
            assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_a_literal_question_mark_or_percent_in_sql_means_itself(store: Store) -> None:
    """``?`` is a parameter only outside string literals, quoted identifiers and comments; ``%`` is
    never a psycopg placeholder (the old text replacement broke both on PostgreSQL)."""
    row = store._conn.execute(
        'SELECT \'a?b%c\' || ?, 7 % 4, "run?" FROM (SELECT 1 AS "run?") AS t -- a comment? 100%\n WHERE 1 = ?',
        ("!", 1),
    ).fetchone()
    assert tuple(row) == ("a?b%c!", 3, 1)
