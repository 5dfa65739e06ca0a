"""Layer effects from paired hybrids: main effects, pairwise interactions, simultaneous intervals.

The unit is the case (an eval without cases: the trial index), as everywhere in
pytest-rollout. One seed makes trial (case, epoch) the same draw in every
hybrid, so each unit has a value (its mean over epochs, error trials left out)
in each hybrid, and every effect is a contrast of those values within the unit:

* main effect of layer j: the mean, over the measured pairs of hybrids (S, S + j),
  of value(S + j) - value(S) (in a full factorial, the average over the other
  layers' settings);
* interaction i*j: the mean over measured quadruples of
  value(S+i+j) - value(S+i) - value(S+j) + value(S).

Each contrast's per-unit values d_u are averaged over the units that every hybrid
of the eval measured; the interval is the t interval of their mean at level
1 - alpha/m, with m the number of effects in the whole run (Bonferroni), so all
intervals hold together with probability >= 1 - alpha (cases drawn independently,
normal approximation of the mean of d_u). Verdicts read the interval against the
eval's tolerance delta (its ``max_regression``, else its ``margin``):
``culprit`` when the whole interval is a drop beyond delta, ``cleared`` when none
of it is, ``unclear`` otherwise. Under the simultaneous coverage, no layer whose
true effect is within delta is named a culprit, and none whose effect is a drop
beyond delta is cleared, except with probability alpha for the whole run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Applied = frozenset[str]
#: unit id -> the unit's value, per hybrid
UnitValues = Mapping[Applied, Mapping[str, float]]


@dataclass(frozen=True)
class Effect:
    term: str  # "context" or "model*context"
    estimate: float | None
    interval: tuple[float, float] | None
    verdict: str  # culprit | cleared | unclear
    units: int = 0


@dataclass(frozen=True)
class EvalEffects:
    nodeid: str
    delta: float
    units: int
    at_base: float | None
    at_head: float | None
    effects: list[Effect]


def contrasts(layers: Sequence[str], measured: set[Applied]) -> dict[str, list[dict[Applied, int]]]:
    """Each term's measurable contrasts, as {hybrid: coefficient} (main effects, then interactions)."""
    out: dict[str, list[dict[Applied, int]]] = {}
    for j in layers:
        pairs = [{s | {j}: 1, s: -1} for s in measured if j not in s and s | {j} in measured]
        out[j] = pairs
    for i, j in itertools.combinations(layers, 2):
        quads = [
            {s | {i, j}: 1, s | {i}: -1, s | {j}: -1, s: 1}
            for s in measured
            if i not in s and j not in s and {s | {i}, s | {j}, s | {i, j}} <= measured
        ]
        if quads:
            out[f"{i}*{j}"] = quads
    return out


def unit_means(trials: Sequence[tuple[str | None, int, float | None]]) -> dict[str, float]:
    """(case, index, value) trials -> each unit's mean value (units whose every trial errored are absent)."""
    sums: dict[str, list[float]] = {}
    for case, index, value in trials:
        if value is not None:
            sums.setdefault(case if case is not None else str(index), []).append(value)
    return {unit: sum(v) / len(v) for unit, v in sums.items()}


def term_count(layers: Sequence[str], measured: set[Applied]) -> int:
    return sum(1 for c in contrasts(layers, measured).values() if c)


def estimate_eval(nodeid: str, layers: Sequence[str], values: UnitValues, delta: float, level: float) -> EvalEffects:
    """All effects of one eval; ``level`` is each interval's (already corrected) confidence."""
    measured = set(values)
    units = sorted(set.intersection(*(set(v) for v in values.values()))) if values else []
    base: Applied = frozenset()
    head: Applied = frozenset(layers)
    effects = []
    for term, cs in contrasts(layers, measured).items():
        d = [sum(sum(c[h] * values[h][u] for h in c) for c in cs) / len(cs) for u in units] if cs else []
        effects.append(_effect(term, d, delta, level))
    return EvalEffects(
        nodeid,
        delta,
        len(units),
        _mean([values[base][u] for u in units]) if base in values and units else None,
        _mean([values[head][u] for u in units]) if head in values and units else None,
        effects,
    )


def _effect(term: str, d: list[float], delta: float, level: float) -> Effect:
    if len(d) < 2:
        return Effect(term, _mean(d) if d else None, None, "unclear", len(d))
    mean = _mean(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    half = t_quantile(1 - (1 - level) / 2, len(d) - 1) * sd / math.sqrt(len(d))
    lo, hi = mean - half, mean + half
    return Effect(term, mean, (lo, hi), verdict(lo, hi, delta), len(d))


def verdict(lo: float, hi: float, delta: float) -> str:
    if hi < -delta:
        return "culprit"
    if lo >= -delta:
        return "cleared"
    return "unclear"


def t_quantile(p: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(p, df))


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def analyse(
    layers: Sequence[str],
    evals: Mapping[str, UnitValues],
    deltas: Mapping[str, float],
    confidence: float,
) -> list[EvalEffects]:
    """Every eval's effects, with intervals simultaneous over all effects of the run (Bonferroni)."""
    m = sum(term_count(layers, set(v)) for v in evals.values())
    level = 1 - (1 - confidence) / max(m, 1)
    return [estimate_eval(nodeid, layers, v, deltas[nodeid], level) for nodeid, v in evals.items()]


def culprits(results: Sequence[EvalEffects]) -> list[tuple[str, EvalEffects, Effect]]:
    """Culprit terms, each with its strongest drop across the evals, strongest first."""
    best: dict[str, tuple[EvalEffects, Effect]] = {}
    for ev in results:
        for eff in ev.effects:
            if eff.verdict == "culprit" and eff.estimate is not None:
                held = best.get(eff.term)
                if held is None or eff.estimate < (held[1].estimate or 0.0):
                    best[eff.term] = (ev, eff)
    ranked = sorted(best.items(), key=lambda kv: kv[1][1].estimate or 0.0)
    return [(term, ev, eff) for term, (ev, eff) in ranked]
