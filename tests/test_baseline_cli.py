"""``pytest-rollout baseline ...`` as a subprocess, against stores populated with ``Store``."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import GitRepo, rollout_cli
from pytest_rollout.baselines.schema import SCHEMA_VERSION
from pytest_rollout.baselines.store import Baseline, Store
from pytest_rollout.cli import baseline as baseline_cli

NODE = "evals/test_refund.py::test_refund_answer"
FP = {"prompt": "q1", "model": "m1"}


def _result(nodeid: str = NODE, **kw: Any) -> dict[str, Any]:
    out = {
        "nodeid": nodeid,
        "criterion": "pass_rate",
        "verdict": "PASS",
        "estimate": 0.85,
        "interval": [0.78, 0.91],
        "n": 300,
        "budget": 300,
        "alpha": 0.05,
        "beta": 0.05,
        "errors": 0,
        "seed": 1,
    }
    out.update(kw)
    return out


def _trials(passes: int, total: int, epochs: int = 0) -> list[dict[str, Any]]:
    """``passes`` passes spread over ``total`` trials; with epochs, case i//epochs."""
    return [
        {
            "index": i,
            "case_id": f"case-{i // epochs}" if epochs else None,
            "epoch": i % epochs if epochs else 0,
            "seed": i,
            "outcome": "pass" if (i * passes) // total != ((i + 1) * passes) // total else "fail",
            "score": None,
            "error_kind": None,
            "used": True,
        }
        for i in range(total)
    ]


def populate(path: Path) -> None:
    with Store(path) as store:
        run = store.begin_run("a" * 40, FP, seed=1, tool_version="0.1.0")
        store.record_eval(run, _result(), _trials(255, 300))
        store.record_eval(run, _result("evals/test_tone.py::test_tone", criterion="min_score"), _trials(8, 10))
        store.finish_run(run)
        store.begin_run("b" * 40, FP, seed=2, tool_version="0.1.0")  # killed: incomplete


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    populate(path)
    return path


def test_list_shows_every_run(store_file: Path) -> None:
    proc = rollout_cli("baseline", "--store", str(store_file), "list", cwd=store_file.parent)
    assert proc.returncode == 0, proc.stderr
    header, newest, oldest = proc.stdout.splitlines()
    assert header.split() == ["id", "commit", "started", "(UTC)", "status", "evals"]
    assert newest.split()[:2] == ["2", "b" * 10] and newest.split()[3:] == ["incomplete", "0"]
    assert oldest.split()[:2] == ["1", "a" * 10] and oldest.split()[3:] == ["complete", "2"]
    assert oldest.split()[2].endswith("Z")


def test_default_store_is_at_the_repo_root(git_repo: GitRepo) -> None:
    git_repo.commit({"README.md": "x\n"}, "init")
    populate(git_repo.path / ".rollout" / "store.sqlite")
    sub = git_repo.path / "src" / "deep"
    sub.mkdir(parents=True)
    proc = rollout_cli("baseline", "list", cwd=sub)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3


def test_show_prints_estimate_interval_size_and_detectable_drop(store_file: Path) -> None:
    proc = rollout_cli("baseline", "--store", str(store_file), "show", NODE, cwd=store_file.parent)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == NODE
    assert lines[1].startswith(f"  run 1 at {'a' * 10}, recorded ") and lines[1].endswith("(pytest-rollout 0.1.0)")
    assert lines[2] == "  pass rate 0.85 [0.78, 0.91], verdict PASS"
    assert lines[3] == "  n=300/300 trials (300 outcomes used, 0 errors)"
    # (z.95 + z.95) * sqrt(.85 * .15 * 300/299) * sqrt(2/300) = 0.0961 -> 10pp
    assert lines[4] == (
        "  can detect drops of 10pp or more with 300 trials "
        "(alpha 0.05, beta 0.05; unpaired, fixed-n normal approximation)"
    )


def test_show_pairs_by_case(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        run = store.begin_run("c" * 40, FP, seed=1, tool_version="0.1.0")
        store.record_eval(run, _result(cases=30, epochs=10, alpha=0.01), _trials(240, 300, epochs=10))
        store.finish_run(run)
    proc = rollout_cli("baseline", "--store", str(path), "show", NODE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "300 outcomes used, 0 errors), 30 cases x 10 epochs" in proc.stdout
    assert "with 300 trials (30 cases x 10 epochs) (alpha 0.01, beta 0.05; paired by case" in proc.stdout


def test_show_an_unknown_nodeid_suggests_the_closest(store_file: Path) -> None:
    proc = rollout_cli("baseline", "--store", str(store_file), "show", "test_refund_answer", cwd=store_file.parent)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        f"pytest-rollout: error: no baseline for 'test_refund_answer' in {store_file}; closest stored: {NODE}"
    )
    proc = rollout_cli(
        "baseline", "--store", str(store_file), "show", "evals/test_refund.py::test_refnd_answer", cwd=store_file.parent
    )
    assert proc.returncode == 2 and f"closest stored: {NODE}" in proc.stderr


def test_a_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    proc = rollout_cli("baseline", "--store", str(tmp_path / "nope.sqlite"), "list", cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.sqlite: no store here yet: record baselines with `pytest --rollout-record`" in proc.stderr
    assert not (tmp_path / "nope.sqlite").exists()


def test_outside_a_git_repo_without_store_says_what_to_do(tmp_path: Path) -> None:
    proc = rollout_cli("baseline", "list", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a git repository" in proc.stderr and "--repo DIR" in proc.stderr


def test_a_newer_store_is_refused(store_file: Path) -> None:
    conn = sqlite3.connect(store_file)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    proc = rollout_cli("baseline", "--store", str(store_file), "list", cwd=store_file.parent)
    assert proc.returncode == 2
    assert f"written by a newer pytest-rollout (schema 99 > {SCHEMA_VERSION}): upgrade pytest-rollout" in proc.stderr


def test_export_import_round_trip(store_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    proc = rollout_cli("baseline", "--store", str(store_file), "export", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"exported 1 complete run(s) from {store_file} to {out}"
    other = tmp_path / "other.sqlite"
    for expected in (1, 0):
        proc = rollout_cli("baseline", "--store", str(other), "import", str(out), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"imported {expected} new run(s) from {out} into {other}"
    proc = rollout_cli("baseline", "--store", str(other), "show", NODE, cwd=tmp_path)
    assert "pass rate 0.85 [0.78, 0.91]" in proc.stdout


def test_export_to_stdout_keeps_the_count_on_stderr(store_file: Path) -> None:
    proc = rollout_cli("baseline", "--store", str(store_file), "export", "-", cwd=store_file.parent)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.startswith('{"kind":"pytest-rollout.run"')
    assert "exported 1 complete run(s)" in proc.stderr


def test_import_of_a_bad_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n{}\n")
    proc = rollout_cli("baseline", "--store", str(tmp_path / "s.sqlite"), "import", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.jsonl:2: not an exported run" in proc.stderr


def test_prune(store_file: Path) -> None:
    with Store(store_file) as store:
        for commit in ("c", "d"):
            store.finish_run(store.begin_run(commit * 40, FP, seed=3, tool_version="0.1.0"))
    proc = rollout_cli("baseline", "--store", str(store_file), "prune", "--keep", "1", cwd=store_file.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"pruned 2 run(s) from {store_file}; kept the newest 1 recording(s) of each eval under each set of "
        "fingerprints, and the oldest (the baseline lookups find)"
    )
    proc = rollout_cli("baseline", "--store", str(store_file), "prune", "--keep", "0", cwd=store_file.parent)
    assert proc.returncode == 2 and "--keep must be at least 1" in proc.stderr


def test_the_command_loads_neither_pytest_scipy_nor_pydantic(store_file: Path) -> None:
    code = (
        "import sys; from pytest_rollout.cli import main; "
        f"main(['baseline', '--store', {str(store_file)!r}, 'show', {NODE!r}]); "
        "print(sorted(m for m in ('pytest', 'scipy', 'pydantic', 'numpy') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def _baseline(
    values: list[float], case_means: dict[str, float] | None = None, epochs: int | None = None, budget: int = 300
) -> Baseline:
    return Baseline(
        run_id=1,
        commit="a" * 40,
        nodeid=NODE,
        criterion="pass_rate",
        estimate=None,
        interval=None,
        n=len(values),
        case_means=case_means or {},
        values=values,
        epochs=epochs,
        budget=budget,
        alpha=0.05,
        beta=0.05,
    )


def test_an_all_pass_baseline_does_not_claim_a_zero_drop() -> None:
    drop, units = baseline_cli.detectable_drop(_baseline([1.0] * 300))
    assert units == 300 and 0.01 < drop < 0.05


def test_paired_drop_uses_within_case_noise_only() -> None:
    # Cases that always pass or always fail carry no within-case noise; mixed ones do.
    means = {f"c{i}": (1.0 if i % 3 == 0 else 0.0 if i % 3 == 1 else 0.5) for i in range(30)}
    drop, units = baseline_cli.detectable_drop(_baseline([0.5] * 300, means, epochs=10))
    sigma_w2 = (10 * 0.25 * 10 / 9) / 30
    expected = 2 * statistics_z() * math.sqrt(2 * sigma_w2 / 10) / math.sqrt(30)
    assert units == 30 and math.isclose(drop, expected)


def statistics_z() -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.95)
