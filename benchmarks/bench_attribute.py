"""How well ``pytest-rollout attribute`` names the culprit layer, against reverting one layer at a time.

Simulated bundles of three layers (infra, model, context) with known effects and
interactions. Each case has a base pass rate; a configuration S adds its layers'
effects and pairwise interactions. Trials are coupled across configurations as
one seed makes them in a real run: trial (case, epoch) draws one uniform u and
passes in S when u < rate(S). The statistics are the command's own
(``attribution.effects.analyse``: paired by case, Bonferroni-simultaneous t
intervals, culprit when the whole interval is a drop beyond the tolerance).

* attribute: all 8 hybrids, ``EPOCHS`` epochs of every case in each;
* naive: head and head with one layer reverted (4 configurations), at the same
  total budget (so twice the epochs), each layer's effect read as
  value(head) - value(head without it), with the same intervals and verdicts.

Truth is the layer's main effect (its change averaged over the other layers'
settings), as ``attribute`` reports it. Run: ``python benchmarks/bench_attribute.py [--reps N]``.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from pytest_rollout.attribution.effects import Effect, analyse

LAYERS = ("infra", "model", "context")
CASES, EPOCHS, TOLERANCE, CONFIDENCE = 160, 4, 0.05, 0.95
#: scenario -> (main effects per layer alone on the base, pairwise interactions)
SCENARIOS: dict[str, tuple[dict[str, float], dict[tuple[str, str], float]]] = {
    "one culprit (the seed incident)": ({"infra": 0.0, "model": 0.02, "context": -0.08}, {("model", "context"): 0.0}),
    "culprit masked by a gain": ({"infra": 0.0, "model": 0.07, "context": -0.09}, {}),
    "culprit through an interaction": ({"infra": 0.0, "model": 0.0, "context": -0.05}, {("model", "context"): -0.08}),
    "no culprit (all within tolerance)": ({"infra": -0.01, "model": 0.01, "context": -0.02}, {}),
}
SUBSETS = [frozenset(s) for n in range(4) for s in itertools.combinations(LAYERS, n)]


def rate_shift(applied: frozenset[str], alone: dict[str, float], pairs: dict[tuple[str, str], float]) -> float:
    shift = sum(alone[j] for j in applied)
    return shift + sum(v for (i, j), v in pairs.items() if i in applied and j in applied)


def true_main(layer: str, alone: dict[str, float], pairs: dict[tuple[str, str], float]) -> float:
    diffs = [rate_shift(s | {layer}, alone, pairs) - rate_shift(s, alone, pairs) for s in SUBSETS if layer not in s]
    return sum(diffs) / len(diffs)


def simulate(
    configs: list[frozenset[str]],
    epochs: int,
    alone: dict[str, float],
    pairs: dict[tuple[str, str], float],
    rng: np.random.Generator,
) -> dict[frozenset[str], dict[str, float]]:
    base = 0.15 + 0.7 * rng.beta(6, 1.2, size=CASES)  # case rates in [0.15, 0.85]: no effect is clipped
    u = rng.random((CASES, epochs))  # one draw per (case, epoch): the seed couples the configurations
    out = {}
    for s in configs:
        rate = np.clip(base + rate_shift(s, alone, pairs), 0, 1)
        means = (u < rate[:, None]).mean(axis=1)
        out[s] = {f"c{i}": float(m) for i, m in enumerate(means)}
    return out


def naive(values: dict[frozenset[str], dict[str, float]]) -> dict[str, Effect]:
    """value(head) - value(head without the layer), paired by case, with the same intervals and verdicts."""
    head = frozenset(LAYERS)
    effects = {}
    for layer in LAYERS:
        # Two hybrids per term: reuse analyse on a one-layer design (head without it, head).
        sub = {frozenset(): values[head - {layer}], frozenset({layer}): values[head]}
        [ev] = analyse([layer], {"e": sub}, {"e": TOLERANCE}, 1 - (1 - CONFIDENCE) / len(LAYERS))
        effects[layer] = ev.effects[0]
    return effects


def run(reps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    budget = len(SUBSETS) * CASES * EPOCHS
    reverted = [frozenset(LAYERS)] + [frozenset(LAYERS) - {j} for j in LAYERS]
    print(f"{reps} bundles per scenario, {CASES} cases, tolerance {TOLERANCE:.2f}, {CONFIDENCE:.0%} simultaneous")
    print(
        f"budget per bundle: {budget:,} trials for both methods ({EPOCHS} epochs x 8 hybrids; naive: 4 x {2 * EPOCHS})\n"
    )
    print("| scenario | true culprits | method | culprit named right | cleared layers wrongly blamed | covered |")
    print("|---|---|---|---|---|---|")
    for name, (alone, pairs) in SCENARIOS.items():
        truth = {j: true_main(j, alone, pairs) for j in LAYERS}
        culprits = {j for j, e in truth.items() if e < -TOLERANCE}
        innocent = [j for j, e in truth.items() if e >= -TOLERANCE]
        tallies = {"attribute": [0, 0, 0], "naive": [0, 0, 0]}
        for _ in range(reps):
            full = simulate(SUBSETS, EPOCHS, alone, pairs, rng)
            [ev] = analyse(LAYERS, {"e": full}, {"e": TOLERANCE}, CONFIDENCE)
            att = {e.term: e for e in ev.effects if "*" not in e.term}
            nai = naive(simulate(reverted, 2 * EPOCHS, alone, pairs, rng))
            for method, eff in (("attribute", att), ("naive", nai)):
                named = {j for j, e in eff.items() if e.verdict == "culprit"}
                t = tallies[method]
                t[0] += named == culprits
                t[1] += sum(1 for j in innocent if j in named)
                t[2] += all(
                    e.interval is not None and e.interval[0] <= truth[j] <= e.interval[1] for j, e in eff.items()
                )
        for method, (right, blamed, covered) in tallies.items():
            wrong = blamed / (reps * len(innocent)) if innocent else 0.0
            print(
                f"| {name} | {', '.join(sorted(culprits)) or 'none'} | {method} | {right / reps:.3f} | {wrong:.3f} "
                f"| {covered / reps:.3f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated bundles per scenario (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    run(args.reps, args.seed)
    print(
        f"\n'covered': every main-effect interval of the bundle covers its true main effect; {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
