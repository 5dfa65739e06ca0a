"""``pytest-rollout attribute``: which moved layer caused a regression, measured on hybrids.

window (the gate's diff, raw) -> hybrids (``hybrids``: which subsets, their files)
-> runs (``run``: pytest in a worktree per hybrid, one seed) -> effects (``effects``:
paired contrasts, simultaneous intervals, verdicts) -> the document (``attribute``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_rollout.attribution.effects import EvalEffects, analyse, culprits, unit_means
from pytest_rollout.attribution.run import HybridRun

#: The confidence of the simultaneous intervals, by default.
DEFAULT_CONFIDENCE = 0.95


def attribute(
    req: Any,
    pytest_args: Sequence[str],
    *,
    seed: int,
    jobs: int,
    confidence: float = DEFAULT_CONFIDENCE,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The attribution document for the window ``req`` names (a ``gate.chain.Request``)."""
    from pytest_rollout.attribution import hybrids as hy
    from pytest_rollout.attribution.run import run_all
    from pytest_rollout.errors import RolloutError
    from pytest_rollout.gate.chain import run_diff

    window = hy.read_window(run_diff(req))
    if len(window.layers) < 1:
        raise RolloutError(f"no layer moved in {window.base[:10]}..{window.head[:10]}: there is nothing to attribute")
    planned = hy.plan(window)
    progress(
        f"attribute: {window.base[:7]}..{window.head[:7]} moved {', '.join(window.layers)}: "
        f"{len(planned)} hybrids, seed {seed}"
    )
    runs = run_all(window, planned, pytest_args, seed=seed, cwd=Path(req.repo), jobs=jobs, progress=progress)
    if not any(r.status == "ran" for r in runs):
        reasons = "; ".join(f"{r.hybrid.name(window.layers)}: {r.reason}" for r in runs[:2])
        raise RolloutError(f"no hybrid could be measured ({reasons})")
    results = analyse(window.layers, *_collect(runs), confidence)
    return document(window, runs, results, seed, confidence)


def _collect(runs: Sequence[HybridRun]) -> tuple[dict[str, dict[frozenset[str], dict[str, float]]], dict[str, float]]:
    values: dict[str, dict[frozenset[str], dict[str, float]]] = {}
    deltas: dict[str, float] = {}
    for run in runs:
        for e in run.evals:
            trials = [(t.get("case"), int(t["index"]), t.get("value")) for t in e.get("trials", [])]
            values.setdefault(e["nodeid"], {})[frozenset(run.hybrid.applied)] = unit_means(trials)
            deltas[e["nodeid"]] = e["max_regression"] if e.get("max_regression") is not None else e["margin"]
    return values, deltas


def document(
    window: Any, runs: Sequence[HybridRun], results: Sequence[EvalEffects], seed: int, confidence: float
) -> dict[str, Any]:
    named = culprits(results)
    return {
        "base": window.base,
        "head": window.head,
        "layers": list(window.layers),
        "seed": seed,
        "confidence": confidence,
        "trials": sum(r.trials for r in runs),
        "hybrids": [
            {
                "applied": list(r.hybrid.applied),
                "status": r.status,
                "reason": r.reason,
                "trials": r.trials,
                "seconds": round(r.seconds, 2),
            }
            for r in runs
        ],
        "evals": [
            {
                "nodeid": ev.nodeid,
                "units": ev.units,
                "tolerance": ev.delta,
                "at_base": ev.at_base,
                "at_head": ev.at_head,
                "effects": [
                    {
                        "term": eff.term,
                        "estimate": eff.estimate,
                        "interval": list(eff.interval) if eff.interval else None,
                        "verdict": eff.verdict,
                    }
                    for eff in ev.effects
                ],
            }
            for ev in results
        ],
        "culprits": [term for term, _, _ in named],
        "conclusion": conclusion(named, results),
        "warnings": list(window.warnings),
    }


def conclusion(named: Sequence[tuple[str, EvalEffects, Any]], results: Sequence[EvalEffects]) -> str:
    """The last line: "the regression comes from: context (-8.2pp [-11.0, -5.4])"."""
    if not results:
        return (
            "the regression comes from: unknown (no eval of the moved layers ran: check the pytest arguments after --)"
        )
    if named:
        parts = []
        for term, _ev, eff in named:
            lo, hi = eff.interval
            parts.append(f"{term} ({pp(eff.estimate)}pp [{pp(lo)}, {pp(hi)}])")
        return "the regression comes from: " + ", ".join(parts)
    unclear = sorted({e.term for ev in results for e in ev.effects if e.verdict == "unclear" and "*" not in e.term})
    if unclear:
        return f"the regression comes from: no layer named at this confidence (unclear: {', '.join(unclear)})"
    return "the regression comes from: none of the moved layers (every layer cleared)"


def pp(x: float) -> str:
    """A difference in percentage points: -8.2, +1.0."""
    return f"{x * 100:+.1f}"
