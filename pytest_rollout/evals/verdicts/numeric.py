"""Stdlib stand-ins for the five scipy functions an eval's hot path needs (issue 19).

Importing scipy (``optimize``, ``special``, ``stats``) costs ~0.7 s, more than a small eval
takes to run; these are the only scipy calls a session makes while it collects and runs evals:

- :func:`norm_ppf`: ``scipy.stats.norm.ppf`` (``statistics.NormalDist.inv_cdf``, Wichura's
  AS241, accurate to about 1e-16 relative);
- :func:`betaln`: ``scipy.special.betaln`` for the positive arguments of the beta-binomial
  mixture, from ``math.lgamma``;
- :func:`brentq`: ``scipy.optimize.brentq``, the same algorithm step for step (Brent 1973 as
  in scipy's ``brentq.c``: inverse quadratic or secant steps, bisection when they are poor);
- :func:`bh`: ``scipy.stats.false_discovery_control(method="bh")``; :func:`holm`: Holm (1979).

tests/test_numeric.py checks each against scipy over a grid (to ~1e-12); scipy stays the
numerical library where it earns its import (calibration benchmarks, attribution, budgets).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from statistics import NormalDist

_STANDARD = NormalDist()
#: scipy.optimize.brentq's default relative tolerance, 4 x machine epsilon.
BRENTQ_RTOL = 4 * sys.float_info.epsilon


def norm_ppf(p: float) -> float:
    """The standard normal quantile: -inf at 0, +inf at 1, as scipy's."""
    if p <= 0.0 or p >= 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        return math.nan
    return _STANDARD.inv_cdf(p)


_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _stirling_correction(x: float) -> float:
    """ln Gamma(x) - ((x - 1/2) ln x - x + ln sqrt(2 pi)) for x >= 10 (the Stirling series to x^-13)."""
    r = 1.0 / (x * x)
    return (
        1 / 12 - r * (1 / 360 - r * (1 / 1260 - r * (1 / 1680 - r * (1 / 1188 - r * (691 / 360360 - r / 156)))))
    ) / x


def betaln(a: float, b: float) -> float:
    """ln B(a, b) for a, b > 0, without the cancellation of lgamma(a) + lgamma(b) - lgamma(a + b).

    When an argument is large its log-gamma is written as Stirling's approximation plus a small
    correction, and the large terms cancel analytically (as R's ``lbeta``).
    """
    p, q = min(a, b), max(a, b)
    if q < 10:
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)
    c = _stirling_correction
    share = p / (p + q)
    if p >= 10:
        corr = c(p) + c(q) - c(p + q)
        return -0.5 * math.log(q) + _LN_SQRT_2PI + corr + (p - 0.5) * math.log(share) + q * math.log1p(-share)
    corr = c(q) - c(p + q)
    return math.lgamma(p) + corr + p - p * math.log(p + q) + (q - 0.5) * math.log1p(-share)


def brentq(
    f: Callable[[float], float],
    a: float,
    b: float,
    *,
    xtol: float = 2e-12,
    rtol: float = BRENTQ_RTOL,
    maxiter: int = 100,
) -> float:
    """A root of ``f`` in [a, b] (f(a), f(b) of opposite signs), as ``scipy.optimize.brentq``.

    At the top of the loop the root lies between ``cur`` and ``blk``, |f(cur)| <= |f(blk)|, and
    ``pre`` is the previous estimate. Raises ValueError without a sign change, RuntimeError
    when it does not converge in ``maxiter`` steps (scipy's errors).
    """
    if xtol <= 0 or rtol < BRENTQ_RTOL:
        raise ValueError(f"brentq: need xtol > 0 and rtol >= {BRENTQ_RTOL:g}, got {xtol:g}, {rtol:g}")
    xpre, xcur = float(a), float(b)
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if math.copysign(1.0, fpre) == math.copysign(1.0, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    xblk = fblk = spre = scur = 0.0
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and math.copysign(1.0, fpre) != math.copysign(1.0, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):  # keep the better end in cur
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        spre, scur = _brent_step(xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, sbis, delta)
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    raise RuntimeError(f"brentq: no convergence in {maxiter} iterations")


def _brent_step(
    xpre: float,
    xcur: float,
    xblk: float,
    fpre: float,
    fcur: float,
    fblk: float,
    spre: float,
    scur: float,
    sbis: float,
    delta: float,
) -> tuple[float, float]:
    """The next (previous step, step): interpolation when it is short and shrinking, else bisection."""
    if abs(spre) > delta and abs(fcur) < abs(fpre):
        if xpre == xblk:  # secant
            stry = -fcur * (xcur - xpre) / (fcur - fpre)
        else:  # inverse quadratic extrapolation
            dpre = (fpre - fcur) / (xpre - xcur)
            dblk = (fblk - fcur) / (xblk - xcur)
            stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
        if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):
            return scur, stry
    return sbis, sbis


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p: p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), in input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])  # stable, as numpy's argsort(kind="stable")
    out = [0.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * float(pvalues[i])))
        out[i] = running
    return out


def bh(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg (1995) adjusted p (q-values): q_(i) = min_{j >= i} m p_(j) / j, clipped to [0, 1]."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = math.inf
    for k in range(m - 1, -1, -1):
        i = order[k]
        running = min(running, float(pvalues[i]) * (m / (k + 1)))
        out[i] = min(max(running, 0.0), 1.0)
    return out
