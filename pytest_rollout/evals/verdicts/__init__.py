"""Statistical verdicts for evals: sequential tests, anytime-valid intervals, family corrections.

Pure: no pytest, no I/O. The runner feeds units (trials, or case means) in index
order to a :class:`Monitor` built from a :class:`Design`; the monitor says PASS or
FAIL as soon as the evidence is settled, and INCONCLUSIVE only when the budget is
too small for a calibrated design (docs/statistics.md, "Budget warnings").

Hypotheses, for every criterion: H_good = {theta >= threshold} and
H_bad = {theta <= threshold - margin}. FAIL errs with probability <= alpha under
H_good; PASS errs with probability <= beta under H_bad.

- ``pass_rate``: Wald's SPRT (Wald 1945; optimal at both design points, Wald &
  Wolfowitz 1948, Ann. Math. Statist. 19:326) written in counts, checked after
  every unit. With ``budget >= 1.25 x fixed n`` the bounds are calibrated by exact
  dynamic programming together with a terminal rule, so there is no INCONCLUSIVE.
- ``min_score`` and ``max_regression``: a betting SPRT (Waudby-Smith & Ramdas,
  "Estimating means of bounded random variables by betting", JRSS-B 2023) that bets toward
  the design gap, lam = margin / (sigma_hat^2 + margin^2); valid for any distribution on
  [0, 1] by Ville's inequality.
- Reported numbers come from the test that decides: the p-value of H_good (exact stagewise
  for the SPRT, 1 / max K_F for bets) and one-sided bounds (:meth:`Monitor.bounds`), so a FAIL
  has p <= alpha and an upper bound below the threshold, a PASS a lower bound above
  threshold - margin.
- Intervals are confidence sequences (Howard, Ramdas, McAuliffe & Sekhon, Ann.
  Stat. 2021): valid at every n at once, hence after an early stop.
- Families: Bonferroni / Sidak for per-item verdicts; Holm (1979) and
  Benjamini-Hochberg (1995, ``scipy.stats.false_discovery_control``) for the
  end-of-session report.

Outcomes at exact ties of a bound go to the crossing side (``>=``), and a unit
that crosses both sides at once (possible only for the betting test) FAILs:
the gate fails closed.

Names load on first use (PEP 562): collection reads ``design`` and ``families`` (stdlib only) to check
budgets, and numpy loads with the first monitor, never at collection.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_rollout.evals.basics import min_detectable_drop
    from pytest_rollout.evals.verdicts.arrays import FloatArray, IntArray
    from pytest_rollout.evals.verdicts.betting import (
        BetState,
        bet_start,
        bet_step,
        betting_rejects,
        design_bet,
        predictable_variance,
    )
    from pytest_rollout.evals.verdicts.budget import design_for, expected_trials
    from pytest_rollout.evals.verdicts.design import (
        CALIBRATION_FACTOR,
        CRITERIA,
        Correction,
        Criterion,
        Design,
        Method,
        Outcome,
        Verdict,
        fixed_n,
        minimum_budget,
        regression_zone,
        wald_design,
    )
    from pytest_rollout.evals.verdicts.families import bh, family_alpha, holm
    from pytest_rollout.evals.verdicts.intervals import (
        beta_binomial_cs,
        beta_binomial_log_mixture,
        betting_cs,
        hedged_log_capital,
        normal_mixture_radius,
    )
    from pytest_rollout.evals.verdicts.monitor import Monitor
    from pytest_rollout.evals.verdicts.regression import baseline_draws, regression_unit, to_difference, unpaired_units
    from pytest_rollout.evals.verdicts.sprt import CountBoundaries, count_boundaries, exact_oc, stagewise_tails

#: name -> the submodule (of this package, or a full module path) that defines it
_WHERE = {
    "BetState": "betting",
    "CALIBRATION_FACTOR": "design",
    "CRITERIA": "design",
    "regression_zone": "design",
    "Correction": "design",
    "CountBoundaries": "sprt",
    "Criterion": "design",
    "Design": "design",
    "FloatArray": "arrays",
    "IntArray": "arrays",
    "Method": "design",
    "Monitor": "monitor",
    "Outcome": "design",
    "Verdict": "design",
    "baseline_draws": "regression",
    "bet_start": "betting",
    "bet_step": "betting",
    "beta_binomial_cs": "intervals",
    "beta_binomial_log_mixture": "intervals",
    "betting_cs": "intervals",
    "betting_rejects": "betting",
    "bh": "families",
    "count_boundaries": "sprt",
    "design_bet": "betting",
    "design_for": "budget",
    "exact_oc": "sprt",
    "expected_trials": "budget",
    "family_alpha": "families",
    "fixed_n": "design",
    "hedged_log_capital": "intervals",
    "holm": "families",
    "min_detectable_drop": "pytest_rollout.evals.basics",
    "minimum_budget": "design",
    "normal_mixture_radius": "intervals",
    "predictable_variance": "betting",
    "regression_unit": "regression",
    "stagewise_tails": "sprt",
    "to_difference": "regression",
    "unpaired_units": "regression",
    "wald_design": "design",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where if "." in where else f"{__name__}.{where}")
    value = getattr(module, name)
    globals()[name] = value  # once: the next look-up is a plain attribute
    return value


__all__ = [
    "BetState",
    "CALIBRATION_FACTOR",
    "CRITERIA",
    "Correction",
    "CountBoundaries",
    "Criterion",
    "Design",
    "FloatArray",
    "IntArray",
    "Method",
    "Monitor",
    "Outcome",
    "Verdict",
    "baseline_draws",
    "bet_start",
    "bet_step",
    "beta_binomial_cs",
    "beta_binomial_log_mixture",
    "betting_cs",
    "betting_rejects",
    "bh",
    "count_boundaries",
    "design_bet",
    "design_for",
    "exact_oc",
    "expected_trials",
    "family_alpha",
    "fixed_n",
    "hedged_log_capital",
    "holm",
    "min_detectable_drop",
    "minimum_budget",
    "normal_mixture_radius",
    "predictable_variance",
    "regression_unit",
    "regression_zone",
    "stagewise_tails",
    "to_difference",
    "unpaired_units",
    "wald_design",
]
