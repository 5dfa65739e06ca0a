"""The :class:`Design` of one eval (hypotheses, error rates, bounds) and the fixed-n sizes it is judged against.

Stdlib only: collection checks budgets against :func:`minimum_budget` without numpy or scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pytest_rollout.evals.verdicts.numeric import norm_ppf

Criterion = Literal["pass_rate", "min_score", "max_regression"]
Method = Literal["sprt", "betting"]
Outcome = Literal["PASS", "FAIL"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
Correction = Literal["bonferroni", "sidak", "none"]

CRITERIA: tuple[str, ...] = ("pass_rate", "min_score", "max_regression")
#: A pass_rate budget at least this multiple of the fixed n gets calibrated bounds (docs/statistics.md, pass_rate).
CALIBRATION_FACTOR = 1.25
#: Probabilities 0 and 1 make the likelihood ratio degenerate; thresholds are kept this far inside (0, 1).
_EDGE = 1e-9
#: Tolerance when turning a real boundary into an integer count, so that exact ties count as crossings.
_TIE = 1e-9
#: Cap on the betting fraction, as a share of the largest bet that keeps the capital positive (WSR 2023).
_BET_CAP = 0.5


@dataclass(frozen=True)
class Design:
    """Everything fixed before the first trial.

    ``threshold``/``margin`` are on the scale of the monitored unit. For
    ``max_regression`` that is Y = (1 + d) / 2 (see :func:`regression_unit`): H_bad is a
    drop of delta (Y = 1/2 - delta/2), H_good a drop of delta - zone at most, zone =
    min(margin, delta) (``regression_zone``), so the margin is the indifference zone here too.

    ``method`` is ``"sprt"`` (Wald's SPRT in counts; pass_rate on trials) or ``"betting"``.
    The test statistic is a pair of log e-processes, log K_F (evidence for H_bad,
    i.e. for FAIL) and log K_P (evidence for H_good, for PASS). The monitor FAILs
    when log K_F >= ``fail_bound`` and PASSes when log K_P >= ``pass_bound``.
    For ``pass_rate`` log K_F = -log K_P is Wald's log-likelihood ratio.
    ``terminal_cut`` (calibrated pass_rate designs only): at the budget, FAIL iff
    LLR >= terminal_cut, else PASS; ``None`` means INCONCLUSIVE at the budget.
    """

    criterion: Criterion
    threshold: float
    margin: float
    alpha: float
    beta: float
    budget: int
    fail_bound: float
    pass_bound: float
    terminal_cut: float | None = None
    method: Method = "sprt"

    @property
    def bad(self) -> float:
        """The H_bad design point, threshold - margin."""
        return self.threshold - self.margin

    @property
    def calibrated(self) -> bool:
        """True when the bounds come from the exact DP and the budget ends in a terminal rule."""
        return self.terminal_cut is not None

    @property
    def max_drop(self) -> float:
        """For ``max_regression``: the drop delta a PASS rules out, on the score scale (1 - 2 x bad)."""
        return 1.0 - 2.0 * self.bad


def regression_zone(delta: float, margin: float) -> float:
    """The indifference zone of ``max_regression=delta``: the eval's margin, at most delta.

    H_bad E[d] <= -delta (PASS errs <= beta), H_good E[d] >= -(delta - zone) (FAIL errs <= alpha).
    With margin >= delta the zone is delta and H_good is "no drop" (the design before margins
    applied here); a smaller margin protects drops below delta - margin from a FAIL.
    """
    return min(margin, delta)


def _check_common(criterion: str, threshold: float, margin: float, alpha: float, beta: float, budget: int) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    if not (0.0 < alpha < 1.0 and 0.0 < beta < 1.0):
        raise ValueError(f"alpha and beta must be in (0, 1), got alpha={alpha}, beta={beta}")
    if budget < 1:
        raise ValueError(f"budget must be a positive number of units, got {budget}")
    if criterion == "max_regression":
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"max_regression must be in (0, 1), got {threshold}")
        return
    if not 0.0 < margin < threshold <= 1.0:
        raise ValueError(f"{criterion}: need 0 < margin < threshold <= 1, got threshold={threshold}, margin={margin}")


def wald_design(threshold: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    """Uncalibrated pass_rate SPRT with Wald's (1945) approximate bounds:
    FAIL at LLR >= A = ln((1 - beta)/alpha), PASS at LLR <= B = ln(beta/(1 - alpha))."""
    a, b = math.log((1 - beta) / alpha), math.log((1 - alpha) / beta)
    return Design("pass_rate", min(threshold, 1.0 - _EDGE), margin, alpha, beta, budget, a, b)


def _betting_design(criterion: Criterion, mu: float, margin: float, alpha: float, beta: float, budget: int) -> Design:
    """Ville's inequality: P(sup_t K_t >= 1/a) <= a for a test supermartingale K_0 = 1."""
    return Design(criterion, mu, margin, alpha, beta, budget, math.log(1 / alpha), math.log(1 / beta), None, "betting")


def fixed_n(threshold: float, margin: float, alpha: float, beta: float) -> int:
    """One-sided fixed-n size: n = ((z_{1-a} sqrt(p0 q0) + z_{1-b} sqrt(p1 q1)) / m)^2, rounded up (Table 1)."""
    return math.ceil(_fixed_n_real(threshold, margin, alpha, beta) - 1e-9)


def _fixed_n_real(threshold: float, margin: float, alpha: float, beta: float) -> float:
    p0, p1 = threshold, threshold - margin
    z_a, z_b = norm_ppf(1 - alpha), norm_ppf(1 - beta)
    return float(((z_a * math.sqrt(p0 * (1 - p0)) + z_b * math.sqrt(p1 * (1 - p1))) / margin) ** 2)


def minimum_budget(criterion: str, threshold: float, margin: float, alpha: float, beta: float) -> int | None:
    """Smallest pass_rate budget with calibrated bounds: ceil(1.25 x fixed n) (939 at 0.80/0.05/0.05/0.05).

    ``None`` for the betting criteria: their cost depends on the unknown score variance.
    """
    if criterion != "pass_rate":
        return None
    return math.ceil(CALIBRATION_FACTOR * fixed_n(threshold, margin, alpha, beta) - 1e-9)
