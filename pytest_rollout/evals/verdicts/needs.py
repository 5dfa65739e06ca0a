"""The budget a design needs to decide, computed at collection: cached per design and bounded in time.

"Decides" means: at both design points (threshold and threshold - margin) a run ends
INCONCLUSIVE at most ``tolerance`` of the time (the eval's 1 - confidence, before the family
correction). For the count SPRT (pass_rate on 0/1 units) the budget that decides is the
calibrated minimum, where INCONCLUSIVE never happens; the INCONCLUSIVE rate of a smaller budget
and the mean units come from the exact DP. The betting test (min_score, case means,
max_regression) has no exact DP: its stopping times are simulated with the design's own
:func:`bet_paths` (:func:`bet_step` over whole paths) on Beta units of the given mean and variance (seeded, so every process prints
the same numbers). Its bounds do not depend on the budget, so one simulation gives the
INCONCLUSIVE rate of every budget. Designs whose size exceeds :data:`EXACT_LIMIT` (DP) or
:data:`SIMULATION_LIMIT` (bets) units are not computed at all (an exact DP over 200,000 trials takes seconds): the answer says so.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from pytest_rollout.evals.verdicts.design import minimum_budget

if TYPE_CHECKING:  # numpy loads only when a DP or a simulation runs (a budget that decides needs neither)
    import numpy as np

    from pytest_rollout.evals.verdicts.design import Design

#: Largest budget the collection-time answer computes over: DP steps (count SPRT) or simulated units per run (bets).
EXACT_LIMIT = 3_000
SIMULATION_LIMIT = 3_000
#: Simulated runs per design point for the betting test (SE of a 5% rate: 0.011).
BETTING_REPS = 400
_SEED = 20261202
_CHUNK = 250  # runs simulated at once: a (250, horizon) array


@dataclass(frozen=True)
class Need:
    """What a design needs, in units (trials, or cases with ``cases=``).

    ``needed``: the smallest budget that decides (None: more than :data:`EXACT_LIMIT`, or not
    computed); ``inconclusive``: P(INCONCLUSIVE) at the worse design point with ``budget``
    (None when not computed); ``expected``: mean units at the worse design point when the budget
    decides; ``cheap``: False when the design was too large to compute at collection.
    """

    budget: int
    needed: int | None
    inconclusive: float | None
    expected: float | None
    cheap: bool = True
    approximate_needed: int | None = None  # a closed-form figure when the exact one was skipped

    @property
    def decides(self) -> bool:
        return self.cheap and self.needed is not None and self.budget >= self.needed


def _r(x: float) -> float:
    return round(x, 10)


def count_need(threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Need:
    """pass_rate on 0/1 units (count SPRT): decides at the calibrated minimum budget."""
    return _count_need(_r(threshold), _r(margin), _r(alpha), _r(beta), budget)


@functools.lru_cache(maxsize=256)
def _count_need(threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Need:
    minimum = minimum_budget("pass_rate", threshold, margin, alpha, beta)
    assert minimum is not None
    if minimum > EXACT_LIMIT:
        return Need(budget, None, None, None, cheap=False, approximate_needed=minimum)
    mean_n = wald_mean_units(threshold, margin, alpha, beta)
    if budget >= minimum:
        return Need(budget, minimum, 0.0, mean_n)
    from pytest_rollout.evals.verdicts.budget import design_for
    from pytest_rollout.evals.verdicts.sprt import exact_oc

    design = design_for("pass_rate", threshold, margin, alpha, beta, budget)
    open_ = max(exact_oc(design, p)[2] for p in (threshold, threshold - margin))
    return Need(budget, minimum, open_, mean_n)


def wald_mean_units(threshold: float, margin: float, alpha: float, beta: float) -> float:
    """Wald's approximation of E[N], the larger of the two design points (closed form, no DP):
    E_p[N] = (P_p(FAIL) A - P_p(PASS) |B|) / E_p[Z], Z the LLR of one unit (Wald's A, B).
    At 0.80/0.05 it gives 360 (exact DP of Wald's design: 385; the calibrated design: 409)."""
    a, b = math.log((1 - beta) / alpha), math.log((1 - alpha) / beta)
    p0, p1 = threshold, threshold - margin
    l0 = math.log((1 - p1) / (1 - p0))  # LLR_n = n l0 - S g, as verdicts.sprt
    g = math.log(p0 / p1) + l0
    at_good = (alpha * a - (1 - alpha) * b) / (l0 - threshold * g)
    at_bad = ((1 - beta) * a - beta * b) / (l0 - (threshold - margin) * g)
    return max(at_good, at_bad)


def mean_fixed_n(margin: float, alpha: float, beta: float, var_good: float, var_bad: float) -> float:
    """Fixed-n one-sided z test on a mean: ((z_{1-a} sd_good + z_{1-b} sd_bad) / margin)^2."""
    z = NormalDist()
    return ((z.inv_cdf(1 - alpha) * math.sqrt(var_good) + z.inv_cdf(1 - beta) * math.sqrt(var_bad)) / margin) ** 2


def betting_need(
    threshold: float, margin: float, alpha: float, beta: float, budget: int, variance: float, tolerance: float
) -> Need:
    """The betting test on [0, 1] units of the given variance (capped at the Bernoulli variance
    at each design point): the budget at which INCONCLUSIVE is at most ``tolerance``."""
    return _betting_need(_r(threshold), _r(margin), _r(alpha), _r(beta), budget, _r(variance), _r(tolerance))


@functools.lru_cache(maxsize=256)
def _betting_need(
    mu: float, margin: float, alpha: float, beta: float, budget: int, variance: float, tolerance: float
) -> Need:
    var_good, var_bad = (min(variance, m * (1 - m)) for m in (mu, mu - margin))
    fixed = mean_fixed_n(margin, alpha, beta, var_good, var_bad)
    if fixed > SIMULATION_LIMIT / 2:
        return Need(budget, None, None, None, cheap=False, approximate_needed=math.ceil(fixed))
    import numpy as np

    from pytest_rollout.evals.verdicts.budget import design_for

    for factor in (
        (2, 4) if 2 * fixed < SIMULATION_LIMIT else (2,)
    ):  # the 95th percentile of the stopping time is usually 1.2-1.6 x the fixed n
        horizon = int(min(SIMULATION_LIMIT, max(factor * fixed, min(budget + 1, SIMULATION_LIMIT), 50)))
        design = design_for("min_score", mu, margin, alpha, beta, horizon)
        rng = np.random.default_rng(_SEED)
        stops = [_stopping_times(design, m, v, horizon, rng) for m, v in ((mu, var_good), (mu - margin, var_bad))]
        quantiles = [float(np.quantile(s, 1 - tolerance, method="higher")) for s in stops]
        if max(quantiles) <= horizon or horizon == SIMULATION_LIMIT:
            break
    open_ = max(float((s > budget).mean()) for s in stops)
    needed = None if max(quantiles) > horizon else math.ceil(max(quantiles))
    expected = max(float(np.minimum(s, needed or horizon).mean()) for s in stops)
    return Need(budget, needed, open_, expected if needed else None)


def _stopping_times(design: Design, mean: float, var: float, horizon: int, rng: np.random.Generator) -> Any:
    """Units until either bound is crossed, per simulated run; horizon + 1 for runs still open."""
    import numpy as np

    from pytest_rollout.evals.verdicts.betting import bet_paths

    reps = BETTING_REPS
    stop = np.full(reps, horizon + 1)
    for start in range(0, reps, _CHUNK):
        xs = _units(rng, mean, var, (min(_CHUNK, reps - start), horizon))
        log_kf, log_kp = bet_paths(design, xs)
        crossed = (log_kf >= design.fail_bound) | (log_kp >= design.pass_bound)
        stop[start : start + xs.shape[0]] = np.where(crossed.any(axis=1), crossed.argmax(axis=1) + 1, horizon + 1)
    return stop


def _units(rng: np.random.Generator, mean: float, var: float, shape: tuple[int, int]) -> Any:
    """Beta units of this mean and variance; 0/1 units when the variance is the largest possible."""
    import numpy as np

    spread = mean * (1 - mean)
    var = max(var, 1e-6 * spread)  # a baseline without spread: nearly deterministic units
    if var >= spread * (1 - 1e-9):
        return np.asarray(rng.random(shape) < mean, dtype=float)
    ab = spread / var - 1
    return np.asarray(rng.beta(mean * ab, (1 - mean) * ab, shape), dtype=float)
