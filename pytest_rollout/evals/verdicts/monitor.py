"""The sequential state of one eval: units in, PASS/FAIL out, with the p-value and bounds of the test that decided."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

from pytest_rollout.evals.verdicts.arrays import FloatArray
from pytest_rollout.evals.verdicts.betting import bet_start, bet_step, betting_rejects
from pytest_rollout.evals.verdicts.design import _TIE, Design, Outcome, Verdict
from pytest_rollout.evals.verdicts.intervals import beta_binomial_cs, betting_cs
from pytest_rollout.evals.verdicts.sprt import _llr_slopes, count_boundaries, stagewise_tails


class Monitor:
    """Sequential state of one eval; feed units in index order.

    After a verdict (or once the budget is spent) further :meth:`update` calls are
    ignored: they change nothing and return :attr:`decided`. Trials still in flight at
    the stop are therefore harmless (docs/statistics.md, determinism: record them, do not use them).
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self._xs: list[float] = []
        self._total = 0.0
        self._binary = True
        self._decided: Outcome | None = None
        self._max_log_kf = 0.0
        self._bet = bet_start()
        self._bounds = count_boundaries(design) if design.method == "sprt" else None

    @property
    def n(self) -> int:
        """Units used so far."""
        return len(self._xs)

    @property
    def total(self) -> float:
        """Sum of the units (successes for 0/1 trials)."""
        return self._total

    @property
    def estimate(self) -> float:
        """Running mean (NaN before the first unit)."""
        return self._total / self.n if self.n else math.nan

    @property
    def decided(self) -> Outcome | None:
        return self._decided

    @property
    def closed(self) -> bool:
        """True once decided or once the budget is spent."""
        return self._decided is not None or self.n >= self.design.budget

    @property
    def stopped_early(self) -> bool:
        return self._decided is not None and self.n < self.design.budget

    def update(self, x: float) -> Outcome | None:
        """Use one unit x in [0, 1]; return PASS/FAIL as soon as a bound is crossed.

        For a calibrated pass_rate design the unit that spends the budget applies the
        terminal rule, so it always returns a verdict.
        """
        x = float(x)
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"a unit must be in [0, 1], got {x!r}")
        if self.closed:
            return self._decided
        self._xs.append(x)
        self._total += x
        self._binary = self._binary and x in (0.0, 1.0)
        self._decided = self._step_sprt() if self._bounds is not None else self._step_bet(x)
        return self._decided

    def _step_sprt(self) -> Outcome | None:
        assert self._bounds is not None
        n, s = self.n, self._total
        self._max_log_kf = max(self._max_log_kf, self._llr())
        if s <= self._bounds.fail_max[n]:
            return "FAIL"
        if s >= self._bounds.pass_min[n]:
            return "PASS"
        if n == self.design.budget and self._bounds.terminal_fail_max is not None:
            return "FAIL" if s <= self._bounds.terminal_fail_max else "PASS"
        return None

    def _step_bet(self, x: float) -> Outcome | None:
        self._bet = bet_step(self.design, self._bet, np.float64(x))  # type: ignore[arg-type]
        log_kf, log_kp = float(self._bet.log_kf), float(self._bet.log_kp)
        self._max_log_kf = max(self._max_log_kf, log_kf)
        if log_kf >= self.design.fail_bound:
            return "FAIL"
        if log_kp >= self.design.pass_bound:
            return "PASS"
        return None

    def _llr(self) -> float:
        """Wald's LLR for the pass_rate design; for fractional units still a test supermartingale
        under H_good (exp of it lies below the chord 1 + lam (p0 - x) on [0, 1])."""
        l0, g = _llr_slopes(self.design.threshold, self.design.bad)
        return self.n * l0 - self._total * g

    def finish(self) -> Verdict:
        """The verdict when the stream ends: the decision if any, else INCONCLUSIVE.

        A calibrated design reaches its terminal rule inside :meth:`update` at the budget;
        a stream that ends before the budget (errors, too few cases) is INCONCLUSIVE,
        because the terminal rule holds its error rates only at the budget.
        """
        return self._decided if self._decided is not None else "INCONCLUSIVE"

    def log_evidence(self) -> tuple[float, float]:
        """Current (log K_F, log K_P): FAIL-side and PASS-side evidence, e.g. for "favoured 228:1"."""
        if self._bounds is not None:
            llr = self._llr() if self.n else 0.0
            return llr, -llr
        return float(self._bet.log_kf), float(self._bet.log_kp)

    def p_value(self) -> float:
        """The p-value of H_good from the test that decides: FAIL implies p <= alpha.

        SPRT: exact, stagewise ordering (:func:`stagewise_tails` at the threshold), <= P(FAIL)
        for every FAIL outcome. Betting: 1 / max_t K_F (Ville), <= alpha exactly when K_F
        crossed 1/alpha.
        """
        if self.n == 0:
            return 1.0
        if self._bounds is None:
            return min(1.0, math.exp(-self._max_log_kf))
        tails = stagewise_tails(self.design, np.array([self.design.threshold]), self.n, self._count())
        p = float(min(1.0, tails[0][0]))
        # An outcome that did not FAIL (an SPRT can stop on PASS, or run out, near the FAIL side) is
        # reported at no less than alpha: raising a p-value keeps it valid, and the number agrees.
        return p if self._decided == "FAIL" else max(p, math.nextafter(self.design.alpha, 1.0))

    def _count(self) -> int:
        return math.floor(self._total + _TIE)

    def bounds(self) -> tuple[float, float]:
        """One-sided bounds that match the verdict: (L, U) on the unit's scale.

        U is the upper (1 - alpha) bound of the FAIL test (the set of means it rejects is
        [U, 1]), L the lower (1 - beta) bound of the PASS test. FAIL implies U <= threshold
        (strictly below, unless the edge is exactly there), PASS implies L >= threshold - margin,
        and only then: otherwise the bound is widened to the decision point, which keeps it valid. SPRT designs: exact
        stagewise bounds; betting designs: the design's own bets at every candidate mean.
        """
        if self.n == 0:
            return 0.0, 1.0
        d = self.design
        fail_pin = d.threshold if self._decided == "FAIL" else None
        pass_pin = d.bad if self._decided == "PASS" else None
        upper = _edge(lambda c: self._rejects(c, "fail"), fail_pin, upper=True, passes=self._passes())
        lower = _edge(lambda c: self._rejects(c, "pass"), pass_pin, upper=False, passes=self._passes())
        # Widening a one-sided bound keeps it valid: without a FAIL the upper bound stays >= the
        # threshold, without a PASS the lower bound stays <= threshold - margin.
        if fail_pin is None:
            upper = max(upper, d.threshold)
        if pass_pin is None:
            lower = min(lower, d.bad)
        return lower, upper

    def _passes(self) -> int:
        return 2 if self._bounds is not None else 4

    def _rejects(self, points: FloatArray, side: Literal["fail", "pass"]) -> npt.NDArray[np.bool_]:
        d = self.design
        if self._bounds is not None:
            fail, pass_ = stagewise_tails(d, points, self.n, self._count())
            return np.asarray(fail <= d.alpha if side == "fail" else pass_ <= d.beta, dtype=bool)
        level = 1 / d.alpha if side == "fail" else 1 / d.beta
        return betting_rejects(np.asarray(self._xs, dtype=float), d.margin, points, side, level)

    def bounds_label(self) -> str:
        """What :meth:`bounds` prints: which test each end comes from and at which level."""
        d = self.design
        kind = "exact stagewise" if self._bounds is not None else "betting"
        return f"[lower {_pct(1 - d.beta)} of the PASS test, upper {_pct(1 - d.alpha)} of the FAIL test; {kind}]"

    def interval(self, confidence: float) -> tuple[float, float]:
        """Anytime-valid two-sided confidence sequence for the mean at ``confidence``.

        0/1 data: the beta-binomial mixture CS; other [0, 1] data: the hedged betting CS.
        For max_regression the scale is Y; use :func:`to_difference` for d.
        """
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        if self._binary:
            return beta_binomial_cs(round(self._total), self.n, confidence)
        return betting_cs(self._xs, confidence)

    def basis(self) -> str:
        """Short description of the decision rule for the report line."""
        d = self.design
        ab = f"a={d.alpha:.2g}, b={d.beta:.2g}"
        if d.method == "betting":
            return f"betting test {ab}"
        if d.calibrated and d.fail_bound == d.pass_bound:
            return f"SPRT {ab}, calibrated +-{d.fail_bound:.3f}, terminal rule at {d.budget}"
        if d.calibrated:
            bounds = f"A={d.fail_bound:.2f}, B=-{d.pass_bound:.2f}"
            return f"SPRT {ab}, calibrated {bounds}, terminal rule at {d.budget}"
        return f"SPRT {ab}"


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _edge(
    rejects: Callable[[FloatArray], npt.NDArray[np.bool_]], pin: float | None, *, upper: bool, passes: int
) -> float:
    """The edge of a rejected tail [U, 1] (``upper``) or [0, L], found on a grid and refined.

    ``pin``: a point the monitor has already rejected (its decision point); the edge is then
    searched below it (above it for L), so the bound agrees with the verdict. The rejected end
    of the last bracket is returned (conservative).
    """
    points = np.linspace(0.0, 1.0, 41)[1:-1]
    flags = rejects(points)
    if not upper:
        points, flags = points[::-1], flags[::-1]
    far = 1.0 if upper else 0.0
    if pin is not None:
        out = pin
    else:
        tail = np.flatnonzero(~flags)
        start = int(tail[-1]) + 1 if tail.size else 0
        if start >= points.size:
            return far
        out = float(points[start])
    inner = [float(p) for p, f in zip(points, flags, strict=True) if not f and (p < out if upper else p > out)]
    inside = inner[-1] if inner else 1.0 - far
    for _ in range(passes):
        grid = np.linspace(inside, out, 12)[1:-1]
        if grid.size == 0:
            break
        hit = rejects(grid)
        miss = np.flatnonzero(~hit)
        last_in = int(miss[-1]) if miss.size else -1
        if last_in >= 0:
            inside = float(grid[last_in])
        if last_in + 1 < grid.size:
            out = float(grid[last_in + 1])
    return out
