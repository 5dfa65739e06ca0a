"""Anytime-valid two-sided confidence sequences for a mean: beta-binomial mixture (0/1) and hedged betting ([0, 1])."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from pytest_rollout.evals.verdicts.arrays import FloatArray
from pytest_rollout.evals.verdicts.design import _BET_CAP
from pytest_rollout.evals.verdicts.numeric import betaln, brentq


def beta_binomial_log_mixture(successes: FloatArray, n: FloatArray, theta: float | FloatArray) -> FloatArray:
    """log M_n(theta) = ln B(S + 1, n - S + 1) - ln B(1, 1) - S ln theta - (n - S) ln(1 - theta).

    The uniform-prior mixture likelihood ratio against Bernoulli(theta), a test martingale
    under theta; CS_n = {theta : log M_n(theta) < ln(1/alpha)} (docs/statistics.md, intervals; Howard et al. 2021).
    """
    s, nn = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    log_beta = np.vectorize(betaln, otypes=[float])(s + 1, nn - s + 1)
    return np.asarray(log_beta - s * np.log(theta) - (nn - s) * np.log1p(-np.asarray(theta)), dtype=float)


def _log_mixture(s: float, n: float, theta: float) -> float:
    """:func:`beta_binomial_log_mixture` for one theta, in floats (the root finder calls it ~40 times)."""
    return betaln(s + 1, n - s + 1) - s * math.log(theta) - (n - s) * math.log1p(-theta)


def beta_binomial_cs(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided anytime-valid interval for a Bernoulli rate; ends solved with Brent's method on log M."""
    if n == 0:
        return 0.0, 1.0
    level = math.log(1 / (1 - confidence))
    s, nn = float(successes), float(n)

    def excess(theta: float) -> float:
        return _log_mixture(s, nn, theta) - level

    mid = min(max(s / nn, 1e-12), 1 - 1e-12)
    lo = 0.0 if excess(1e-15) < 0 else brentq(excess, 1e-15, mid, xtol=1e-10)
    hi = 1.0 if excess(1 - 1e-15) < 0 else brentq(excess, mid, 1 - 1e-15, xtol=1e-10)
    return float(lo), float(hi)


def _plugin_lambdas(x: FloatArray, alpha: float) -> FloatArray:
    """Predictable plug-in bets lam_i = sqrt(2 ln(2/alpha) / (sigma2_{i-1} i ln(1 + i)))
    (Waudby-Smith & Ramdas 2023, PrPl), along the last axis of ``x``."""
    i = np.arange(1, x.shape[-1] + 1)
    mean = (0.5 + np.cumsum(x, axis=-1)) / (i + 1)
    var = (0.25 + np.cumsum((x - mean) ** 2, axis=-1)) / (i + 1)
    var_prev = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), var[..., :-1]], axis=-1)
    return np.asarray(np.sqrt(2 * math.log(2 / alpha) / (var_prev * i * np.log1p(i))), dtype=float)


def hedged_log_capital(x: FloatArray, m: FloatArray, alpha: float, path: bool = False) -> FloatArray:
    """log of the hedged capital K_n(m) = (K+_n(m) + K-_n(m)) / 2 (Waudby-Smith & Ramdas 2023).

    K+-_n(m) = prod_i (1 +- lam+-_i (X_i - m)), lam+_i = min(lam_i, c/m), lam-_i = min(lam_i, c/(1 - m)),
    c = 1/2. A test martingale when E[X] = m; CS_n = {m : K_n(m) < 1/alpha}. ``x`` has the units on
    its last axis; ``m`` broadcasts against x[..., :1]. Returns the value at n, or the whole path.
    """
    lam = _plugin_lambdas(x, alpha)
    d = x - m
    up = np.log1p(np.minimum(lam, _BET_CAP / m) * d)
    down = np.log1p(-np.minimum(lam, _BET_CAP / (1 - m)) * d)
    if path:
        up, down = np.cumsum(up, axis=-1), np.cumsum(down, axis=-1)
    else:
        up, down = up.sum(axis=-1), down.sum(axis=-1)
    return np.asarray(np.logaddexp(up, down) - math.log(2), dtype=float)


def betting_cs(x: Sequence[float] | FloatArray, confidence: float) -> tuple[float, float]:
    """Two-sided anytime-valid interval for the mean of [0, 1] data: {m : K_n(m) < 1/alpha}.

    Scans a grid of 255 points, then bisects each end (the set is an interval in practice;
    its hull is returned). If the set is empty (probability <= alpha), returns the point of
    least evidence.
    """
    xs = np.asarray(x, dtype=float)
    if xs.size == 0:
        return 0.0, 1.0
    alpha, level = 1 - confidence, math.log(1 / (1 - confidence))
    grid = np.linspace(0.0, 1.0, 257)[1:-1]
    inside = hedged_log_capital(xs, grid[:, None], alpha) < level
    if not inside.any():
        best = float(grid[np.argmin(hedged_log_capital(xs, grid[:, None], alpha))])
        return best, best
    idx = np.flatnonzero(inside)

    def is_in(m: float) -> bool:
        return bool(hedged_log_capital(xs, np.array(m), alpha) < level)

    lo = _bisect_edge(is_in, float(grid[idx[0] - 1]) if idx[0] > 0 else 0.0, float(grid[idx[0]]))
    hi = _bisect_edge(is_in, float(grid[idx[-1] + 1]) if idx[-1] < grid.size - 1 else 1.0, float(grid[idx[-1]]))
    return lo, hi


def _bisect_edge(is_in: Callable[[float], bool], outside: float, inside: float, steps: int = 30) -> float:
    """Boundary between an excluded and an included point; returned on the outer side (conservative)."""
    if outside in (0.0, 1.0) and is_in(min(max(outside, 1e-12), 1 - 1e-12)):
        return outside
    for _ in range(steps):
        mid = (outside + inside) / 2
        if is_in(mid):
            inside = mid
        else:
            outside = mid
    return outside


def normal_mixture_radius(n: int, confidence: float, rho: float) -> float:
    """Howard et al. (2021) two-sided normal-mixture boundary for 1/2-sub-Gaussian data, on the mean:
    |S_n - n mu| < sqrt(2 (n/4 + rho) ln(sqrt((n/4 + rho)/rho) / alpha)), divided by n.

    Not used for verdicts (the betting CS is tighter for low-variance scores); kept as a
    distribution-free cross-check for tests and the benchmark.
    """
    v = n / 4 + rho
    return math.sqrt(2 * v * math.log(math.sqrt(v / rho) / (1 - confidence))) / n
