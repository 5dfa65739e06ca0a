"""When error trials end an eval: a one-sided, anytime-valid test of the error rate.

Pure Python (no numpy, no scipy): it runs once per trial. Error trials (infrastructure
failures: timeouts, connection errors, the exceptions named in ``errors=``) carry no outcome,
so the verdict comes from the other trials, and the budget counts outcomes (see
``trials.run_trials``). ERROR is decided only when the data show, at level alpha, that the
error rate is above ``max_error_rate`` = r:

    M_n = (1/J) sum_j prod_i (theta_j / r)^{e_i} ((1 - theta_j) / (1 - r))^{1 - e_i},

a mixture of likelihood ratios of theta_j > r against r. Each factor has mean
p theta/r + (1 - p)(1 - theta)/(1 - r) <= 1 when the true rate p <= r, so M is a test
supermartingale under H: p <= r and, by Ville's inequality, P(sup_n M_n >= 1/alpha) <= alpha.
The grid theta_j = r + (1 - r) 2^-j (j = 1..12) covers excesses from a few percent of r to
half the room above it. With r = 0 the first error is conclusive.
"""

from __future__ import annotations

import math
from functools import reduce
from itertools import repeat
from operator import add

_GRID = 12


class ErrorRateTest:
    """Feed one indicator per trial (True = error) in trial-index order."""

    def __init__(self, max_rate: float, alpha: float) -> None:
        if not 0.0 <= max_rate < 1.0 or not 0.0 < alpha < 1.0:
            raise ValueError(f"need 0 <= max_rate < 1 and 0 < alpha < 1, got {max_rate}, {alpha}")
        self.max_rate, self.alpha = max_rate, alpha
        thetas = [max_rate + (1.0 - max_rate) * 2.0**-j for j in range(1, _GRID + 1)]
        if max_rate > 0.0:
            self._up = [math.log(t / max_rate) for t in thetas]
        else:
            self._up = [math.inf] * _GRID
        self._down = [math.log1p(-t) - math.log1p(-max_rate) for t in thetas]
        self._log = [0.0] * _GRID
        self.pending = 0  # trials without an error not yet added to _log (a hot loop may count them here)
        self._bound = math.log(1.0 / alpha)
        self.decided = False

    def update(self, error: bool) -> bool:
        """Use one trial; True once the error rate is shown to exceed ``max_rate`` (then it stays True).

        A passing trial only counts: every log term falls (theta_j > r, so each down step is
        < -2e-4), so M falls and cannot cross. The next error adds the pending down steps one by
        one, in order (``reduce`` over ``repeat``), so ``_log`` holds the very floats that adding
        them trial by trial gives: O(1) per passing trial, the same decisions.
        """
        if self.decided:
            return True
        if not error:
            self.pending += 1
            return False
        if self.pending:
            k, self.pending = self.pending, 0
            self._log = [reduce(add, repeat(d, k), a) for a, d in zip(self._log, self._down, strict=True)]
        self._log = [a + b for a, b in zip(self._log, self._up, strict=True)]
        top = max(self._log)
        if top == math.inf:
            self.decided = True
        else:
            mixture = top + math.log(sum(math.exp(v - top) for v in self._log) / _GRID)
            self.decided = mixture >= self._bound
        return self.decided


def error_headroom(max_rate: float, outcome_trials: int) -> int:
    """Extra trials beyond the outcome budget: twice the errors expected at ``max_rate``, plus 3.

    A run that needs more than that has an error share near 2r / (1 + r), well above r, and ends
    in ERROR even if the test has not crossed yet (a hard cap on cost); at a rate <= r the cap is
    rarely reached (below 1% for 10 trials at r = 0.1, far less for larger budgets).
    """
    if max_rate == 0.0:
        return 0
    return math.ceil(2.0 * max_rate / (1.0 - max_rate) * outcome_trials - 1e-9) + 3
