"""Many evals at once: per-eval alpha (Bonferroni, Sidak) and end-of-session Holm and Benjamini-Hochberg.

Stdlib only (``numeric``): the budget check at collection and every session's report use these.
"""

from __future__ import annotations

import math

from pytest_rollout.evals.verdicts.design import Correction
from pytest_rollout.evals.verdicts.numeric import bh as bh  # Benjamini-Hochberg, as scipy's false_discovery_control
from pytest_rollout.evals.verdicts.numeric import holm as holm  # Holm's step-down


def family_alpha(alpha: float, k: int, method: Correction) -> float:
    """Per-eval alpha for K evals: Bonferroni alpha/K, Sidak 1 - (1 - alpha)^(1/K), or alpha."""
    if k < 1:
        raise ValueError(f"family size must be >= 1, got {k}")
    if method == "bonferroni":
        return alpha / k
    if method == "sidak":
        return -math.expm1(math.log1p(-alpha) / k)
    if method == "none":
        return alpha
    raise ValueError(f"unknown correction {method!r}; expected bonferroni, sidak or none")
