"""Which design an eval runs for its budget (calibrated or Wald's), and the trials it expects to spend."""

from __future__ import annotations

import functools
from dataclasses import replace

from pytest_rollout.evals.verdicts.design import (
    _EDGE,
    Design,
    _betting_design,
    _check_common,
    fixed_n,
    minimum_budget,
    regression_zone,
    wald_design,
)
from pytest_rollout.evals.verdicts.sprt import _calibrate, exact_oc


def design_for(
    criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int, *, cases: bool = False
) -> Design:
    """Build (and cache) the design for one eval.

    - ``pass_rate``: Wald's SPRT, p0 = threshold vs p1 = threshold - margin. If
      ``budget >= minimum_budget(...)`` (1.25 x :func:`fixed_n`, rounded up) the
      bounds +-h are calibrated by exact DP with a terminal rule (no INCONCLUSIVE);
      otherwise Wald's A = ln((1 - beta)/alpha), B = ln(beta/(1 - alpha)).
    - ``min_score``: betting SPRT with Ville bounds ln(1/alpha), ln(1/beta).
    - ``max_regression``: ``threshold`` is the tolerated drop delta (the marker's
      ``max_regression=`` value). H_bad E[d] <= -delta, H_good E[d] >= -(delta - zone) with
      zone = min(margin, delta) (:func:`regression_zone`), monitored on Y = (1 + d)/2 with
      margin zone/2 (docs/statistics.md, max_regression).
    - ``cases=True`` (units are case means over several epochs): ``pass_rate`` uses the betting
      test too. The SPRT stays valid on case means but bets as if they were 0/1 trials; the
      bet adapts to their smaller variance. With one epoch the units are 0/1 and the caller
      passes ``cases=False``: the count SPRT is then the better test (bench_stats).
    """
    _check_common(criterion, threshold, margin, alpha, beta, budget)
    key = (round(threshold, 12), round(margin, 12), round(alpha, 15), round(beta, 15), budget)
    if cases and criterion == "pass_rate":
        return replace(_design_cached("min_score", *key), criterion="pass_rate")
    return _design_cached(criterion, *key)


@functools.lru_cache(maxsize=256)
def _design_cached(criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    if criterion == "max_regression":
        zone = regression_zone(threshold, margin)
        return _betting_design("max_regression", 0.5 - (threshold - zone) / 2.0, zone / 2.0, alpha, beta, budget)
    threshold = min(threshold, 1.0 - _EDGE)
    if criterion == "min_score":
        return _betting_design("min_score", threshold, margin, alpha, beta, budget)
    floor = minimum_budget("pass_rate", threshold, margin, alpha, beta)
    if floor is not None and budget >= floor:
        found = _calibrate(threshold, threshold - margin, alpha, beta, budget)
        if found is not None:
            a, b, cut = found
            return Design("pass_rate", threshold, margin, alpha, beta, budget, a, b, cut)
    return wald_design(threshold, margin, alpha, beta, budget)


def expected_trials(
    threshold: float, margin: float, alpha: float, beta: float, p: float, budget: int | None = None
) -> float:
    """E[N] at true pass rate ``p`` by exact DP.

    Without ``budget``: Wald's bounds truncated at 5 x fixed n (Table 1/3: 385 at p = 0.80 for
    0.80/0.05). With ``budget``: the design :func:`design_for` would build for it.
    """
    if budget is None:
        horizon = 5 * fixed_n(threshold, margin, alpha, beta)
        return exact_oc(wald_design(threshold, margin, alpha, beta, horizon), p)[3]
    return exact_oc(design_for("pass_rate", threshold, margin, alpha, beta, budget), p)[3]
