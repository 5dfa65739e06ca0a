"""Many evals at once: per-eval alpha (Bonferroni, Sidak) and end-of-session Holm and Benjamini-Hochberg."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from pytest_rollout.evals.verdicts.design import Correction


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


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p: p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), in input order."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (p.size - np.arange(p.size)) * p[order])
    out = np.empty_like(p)
    out[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in out]


def bh(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg (1995) adjusted p (q-values): ``scipy.stats.false_discovery_control``."""
    if len(pvalues) == 0:
        return []
    return [float(v) for v in stats.false_discovery_control(np.asarray(pvalues, dtype=float), method="bh")]
