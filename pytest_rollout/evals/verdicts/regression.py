"""Units for max_regression: paired case differences on the [0, 1] scale, and unpaired draws from a baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def regression_unit(candidate_case_mean: float, baseline_case_mean: float) -> float:
    """Y = (1 + d)/2 in [0, 1] with d = candidate - baseline (case means in [0, 1])."""
    return (1.0 + candidate_case_mean - baseline_case_mean) / 2.0


def to_difference(y: float) -> float:
    """Back from the Y scale to d = 2Y - 1 (for estimates and interval ends)."""
    return 2.0 * y - 1.0


def unpaired_units(candidate: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Units for a comparison without shared case ids: the i-th candidate trial is paired with
    the i-th baseline trial (extra trials on either side are dropped).

    Trials are independent and their order is seeded, so index pairing is a random pairing:
    d_i are i.i.d. with E[d] = the difference of means, and the betting test stays valid
    (about 2x costlier than pairing by case, docs/statistics.md, max_regression).
    """
    return [
        regression_unit(c, b) for c, b in zip(candidate, baseline, strict=False)
    ]  # extra trials on either side are dropped


def baseline_draws(values: Sequence[float], seed: int) -> list[float]:
    """len(values) seeded draws with replacement from a baseline's stored values (unpaired use).

    Conditionally on the baseline they are i.i.d. with the baseline's mean, whatever order the
    store keeps them in (per-case blocks for a ``cases=`` recording).
    """
    if not values:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=len(values))
    return [float(values[i]) for i in picks]
