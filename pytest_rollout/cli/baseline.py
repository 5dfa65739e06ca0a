"""``pytest-rollout baseline list|show|export|import|prune``: look into and move the store.

Why a CLI: a ``max_regression`` eval is only as good as its baseline, so the
on-call engineer needs to see what a baseline holds (its estimate, its noise and
what that noise lets the eval's budget detect) without running pytest, and teams
need to carry baselines between machines (JSON Lines).

No pytest, no scipy, no pydantic: this runs in a terminal and must answer at
once: the detectable drop and the labels come from the stdlib-only ``evals.basics``.
Errors are ``RolloutError``s; ``cli.main`` prints them and exits 2.
"""

from __future__ import annotations

import argparse
import difflib
import math
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from pytest_rollout.baselines.backends import is_postgres
from pytest_rollout.baselines.store import Baseline, RunInfo, Store, shown, store_exists, store_path
from pytest_rollout.errors import RolloutError, StoreError
from pytest_rollout.evals.basics import CRITERION_LABEL, min_detectable_drop

DEFAULT_ERROR_RATE = 0.05


def run_baseline(args: argparse.Namespace) -> int:
    """Dispatch one verb; 0 on success (``RolloutError`` for everything else)."""
    path = _resolve_store(args)
    if args.verb != "import" and not store_exists(path):
        raise StoreError(
            f"{shown(path)}: no store here yet: record baselines with `pytest --rollout-record`, or pass --store FILE"
        )
    with Store(path) as store:
        verbs = {"list": _list, "show": _show, "export": _export, "import": _import, "prune": _prune}
        verbs[args.verb](store, args)
    return 0


def _resolve_store(args: argparse.Namespace) -> Path | str:
    """``--store`` as given (a PostgreSQL URL, or a file relative to the current folder), else
    ``$ROLLOUT_STORE``, else the repo's default store."""
    if args.store:
        return args.store if is_postgres(args.store) else Path(args.store).expanduser()
    from pytest_rollout.diff.refs import repo_root

    return store_path(repo_root(args.repo))


# ----------------------------------------------------------------------- list


def _list(store: Store, args: argparse.Namespace) -> None:
    runs = store.runs()
    if not runs:
        print(f"no runs in {store.where}")
        return
    print(f"{'id':>5}  {'commit':<10}  {'started (UTC)':<20}  {'status':<10}  {'evals':>5}")
    for run in runs:
        status = "complete" if run.complete else "incomplete"
        print(f"{run.id:>5}  {run.commit[:10]:<10}  {iso(run.started):<20}  {status:<10}  {run.evals:>5}")


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------- show


def _show(store: Store, args: argparse.Namespace) -> None:
    found = store.latest_eval(args.nodeid)
    if found is None:
        raise RolloutError(_unknown(args.nodeid, store.nodeids(), store.where))
    run, base = found
    result = next(r for r in store.evals_of(run.id) if r["nodeid"] == args.nodeid)
    print("\n".join(show_lines(run, base, result)))


def show_lines(run: RunInfo, base: Baseline, result: dict[str, Any]) -> list[str]:
    """The ``show`` text: where the baseline comes from, its estimate, its size and its power."""
    lines = [
        base.nodeid,
        f"  run {run.id} at {run.commit[:10]}, recorded {iso(run.started)} (pytest-rollout {run.tool_version})",
        f"  {_estimate(base, result)}",
        f"  {_size(base, result)}",
    ]
    drop = detectable_drop(base)
    lines.append(f"  {drop_sentence(base, drop)}")
    return lines


def _estimate(base: Baseline, result: dict[str, Any]) -> str:
    label = CRITERION_LABEL.get(base.criterion, base.criterion)
    if base.estimate is None:
        return f"{label} n/a, verdict {result.get('verdict')}"
    interval = f" [{base.interval[0]:.2f}, {base.interval[1]:.2f}]" if base.interval else ""
    return f"{label} {base.estimate:.2f}{interval}, verdict {result.get('verdict')}"


def _size(base: Baseline, result: dict[str, Any]) -> str:
    errors = int(result.get("errors") or 0)
    text = f"n={base.n}/{base.budget} trials ({len(base.values)} outcomes used, {errors} errors)"
    if base.cases:
        text += f", {base.cases} cases x {base.epochs or 1} epochs"
    return text


def detectable_drop(base: Baseline) -> tuple[float, int]:
    """(smallest detectable drop, units) for the eval's budget at its stored error rates.

    The fixed-n one-sided z approximation, d = (z_{1-a} + z_{1-b}) sd sqrt(k/n):

    - with cases, the paired design (k=1, n = the cases the budget reaches): under a
      uniform shift the between-case spread cancels and a case difference has variance
      2 sigma_w^2 / epochs. sigma_w^2 is bounded by the mean of m_c (1 - m_c) (exact for
      pass/fail, Bhatia-Davis for scores), bias-corrected by K/(K-1); with one epoch it
      cannot be separated from the case spread, so the total variance bounds it.
    - without cases, two independent arms of ``budget`` trials (k=2), sd of the trials.

    A variance of exactly zero (every trial passed) is replaced by the Bernoulli
    variance of the smoothed mean (s + 0.5) / (n + 1): zero noise in a finite sample
    is not evidence that the eval can see a 0pp drop.
    """
    alpha = base.alpha or DEFAULT_ERROR_RATE
    beta = base.beta or DEFAULT_ERROR_RATE
    if base.case_means:
        epochs = max(base.epochs or 1, 1)
        units = max(min(base.budget // epochs, base.cases), 1)
        sd = math.sqrt(2 * _within_case_variance(base, epochs) / epochs)
        return min_detectable_drop(units, sd, alpha, beta, paired=True), units
    units = max(base.budget, 1)
    sd = math.sqrt(_variance(base.values))
    return min_detectable_drop(units, sd, alpha, beta, paired=False), units


def _within_case_variance(base: Baseline, epochs: int) -> float:
    if epochs < 2:
        return _variance(base.values)
    spread = statistics.fmean(m * (1 - m) for m in base.case_means.values()) * epochs / (epochs - 1)
    return spread if spread > 0 else _smoothed(base.values)


def _variance(values: list[float]) -> float:
    var = statistics.variance(values) if len(values) >= 2 else 0.0
    return var if var > 0 else _smoothed(values)


def _smoothed(values: list[float]) -> float:
    mean = (sum(values) + 0.5) / (len(values) + 1)
    return mean * (1 - mean)


def drop_sentence(base: Baseline, drop: tuple[float, int]) -> str:
    size, units = drop
    alpha, beta = base.alpha or DEFAULT_ERROR_RATE, base.beta or DEFAULT_ERROR_RATE
    epochs = base.epochs or 1
    budget = f"{base.budget} trials"
    if base.case_means:
        budget = f"{units * epochs} trials ({units} cases x {epochs} epochs)"
    basis = "paired by case" if base.case_means else "unpaired"
    rates = f"(alpha {alpha:.3g}, beta {beta:.3g}; {basis}, fixed-n normal approximation)"
    points = math.ceil(size * 100 - 1e-9)
    if points >= 100:
        return f"cannot detect any drop with {budget}: the stored noise is too large for this budget {rates}"
    return f"can detect drops of {max(points, 1)}pp or more with {budget} {rates}"


def _unknown(nodeid: str, stored: list[str], path: str) -> str:
    if not stored:
        return f"no baseline for {nodeid!r}: {path} has no complete run; record one with `pytest --rollout-record`"
    if nodeid in stored:
        return (
            f"no usable baseline for {nodeid!r} in {path}: its recordings ended in ERROR or have no "
            "non-error trial; record a clean run with `pytest --rollout-record`"
        )
    near = [n for n in stored if nodeid in n] + difflib.get_close_matches(nodeid, stored, n=5, cutoff=0.4)
    near = list(dict.fromkeys(near))[:5]
    hint = f"; closest stored: {', '.join(near)}" if near else f"; {len(stored)} evals stored (see `baseline list`)"
    return f"no baseline for {nodeid!r} in {path}{hint}"


# ----------------------------------------------------- export, import, prune


@contextmanager
def _open(name: str, mode: str) -> Iterator[IO[str]]:
    """A file, or stdin/stdout for ``-``."""
    if name == "-":
        yield sys.stdout if "w" in mode else sys.stdin
        return
    try:
        fh = open(name, mode, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RolloutError(f"{name}: cannot open ({exc.strerror}): check the path") from None
    with fh:
        yield fh


def _export(store: Store, args: argparse.Namespace) -> None:
    with _open(args.file, "w") as fh:
        count = store.export_jsonl(fh)
    _note(f"exported {count} complete run(s) from {store.where} to {args.file}", args.file)


def _import(store: Store, args: argparse.Namespace) -> None:
    with _open(args.file, "r") as fh:
        count = store.import_jsonl(fh)
    _note(f"imported {count} new run(s) from {args.file} into {store.where}", None)


def _prune(store: Store, args: argparse.Namespace) -> None:
    if args.keep < 1:
        raise RolloutError(f"--keep must be at least 1, got {args.keep}; to start over, delete {store.where}")
    count = store.prune(args.keep)
    print(
        f"pruned {count} run(s) from {store.where}; kept the newest {args.keep} recording(s) of each eval "
        "under each set of fingerprints, and the oldest (the baseline lookups find)"
    )


def _note(text: str, target: str | None) -> None:
    # With `export -`, stdout is the data: the count goes to stderr.
    print(text, file=sys.stderr if target == "-" else sys.stdout)
