"""The criteria's report labels and the closed-form detectable drop, for every command.

Light on purpose (stdlib only: no numpy, scipy or pydantic), so ``pytest-rollout baseline``
answers at once and the runner and the CLI read one copy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

#: How a report line names each criterion's estimate.
CRITERION_LABEL = {"pass_rate": "pass rate", "min_score": "mean score", "max_regression": "change vs baseline"}


def min_detectable_drop(n: int, sd: float, alpha: float, beta: float, *, paired: bool) -> float:
    """Smallest mean drop a fixed-n one-sided z test on ``n`` units detects at alpha/beta.

    Unpaired (``sd`` = per-unit sd in each arm, n per arm): d = (z_{1-a} + z_{1-b}) sd sqrt(2/n).
    Paired (``sd`` = sd of per-case differences): d = (z_{1-a} + z_{1-b}) sd sqrt(1/n).
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(1 - beta)
    return z * sd * math.sqrt((1.0 if paired else 2.0) / n)
