"""The stdlib shortcuts of the eval hot path against scipy, the project's numerical library.

``evals/verdicts/numeric.py`` stands in for five scipy functions so that a session running an
eval never imports scipy (~0.7 s); each must agree with scipy over a grid that covers what the
verdicts feed it (budgets up to 10^4-10^5 trials, confidences 0.5-0.9999).
"""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy import optimize, special, stats

from pytest_rollout.evals.verdicts import numeric


def test_norm_ppf_matches_scipy_across_the_unit_interval() -> None:
    ps = [10.0**-k for k in range(1, 16)] + [1 - 10.0**-k for k in range(1, 16)]
    ps += [i / 1000 for i in range(1, 1000)]
    for p in ps:
        want = float(stats.norm.ppf(p))
        assert numeric.norm_ppf(p) == pytest.approx(want, rel=1e-13, abs=1e-13), p
    assert numeric.norm_ppf(0.0) == -math.inf and numeric.norm_ppf(1.0) == math.inf
    assert math.isnan(numeric.norm_ppf(1.5))


def _exact_betaln(a: int, b: int) -> float:
    """ln B(a, b) = -ln(a + b - 1) - ln C(a + b - 2, a - 1) for positive integers (exact integers)."""
    return -math.log(a + b - 1) - math.log(math.comb(a + b - 2, a - 1))


INTS = [1, 2, 3, 5, 9, 10, 11, 20, 31, 100, 317, 1000, 3162, 10_000, 20_001, 100_000]
REALS = [0.01, 0.1, 0.5, 1, 1.5, 2, 3, 5, 9.5, 10, 10.5, 31, 100, 317.3, 1000, 3162, 10_000, 20_001]


def test_betaln_is_exact_to_1e_14_on_integers() -> None:
    for a, b in itertools.product(INTS, INTS):
        assert numeric.betaln(a, b) == pytest.approx(_exact_betaln(a, b), rel=1e-14, abs=1e-14), (a, b)


def test_betaln_matches_scipy_over_a_grid() -> None:
    """To 1e-10 relative: scipy's own error reaches 7e-12 at B(1e5, 1) and 2.4e-11 at B(0.1, 20001)
    (differences of lgamma); the tests above and below hold this module to ~1e-14 of exact values."""
    for a, b in itertools.product(REALS, REALS):
        want = float(special.betaln(a, b))
        assert numeric.betaln(a, b) == pytest.approx(want, rel=1e-10, abs=1e-12), (a, b)


def _decimal_lgamma_large(x: str) -> Decimal:
    """ln Gamma(x) for x >= 1000 from Stirling's series in 50-digit decimals (the next term is < 1e-25)."""
    d = Decimal(x)
    return (d - Decimal("0.5")) * d.ln() - d + Decimal(2 * math.pi).ln() / 2 + 1 / (12 * d) - 1 / (360 * d**3)


@pytest.mark.parametrize(("small", "large"), [("0.1", "20001"), ("0.5", "1000.5"), ("3.5", "31622.5"), ("9.5", "5000")])
def test_betaln_is_exact_to_1e_14_with_one_small_real_argument(small: str, large: str) -> None:
    getcontext().prec = 50
    total = str(float(large) + float(small))
    exact = Decimal(repr(math.lgamma(float(small)))) + _decimal_lgamma_large(large) - _decimal_lgamma_large(total)
    assert numeric.betaln(float(small), float(large)) == pytest.approx(float(exact), rel=1e-14, abs=1e-14)


def _beta_binomial_excess(s: float, n: float, level: float) -> object:
    def excess(theta: float) -> float:
        return numeric.betaln(s + 1, n - s + 1) - s * math.log(theta) - (n - s) * math.log1p(-theta) - level

    return excess


def test_brentq_matches_scipy_on_the_interval_ends_the_verdicts_solve() -> None:
    """The beta-binomial confidence sequence's ends, as ``verdicts.intervals`` solves them."""
    solved = 0
    for n in (1, 2, 5, 10, 30, 100, 300, 1000, 3000, 10_000):
        for s in sorted({0, 1, n // 10, n // 3, n // 2, 9 * n // 10, n - 1, n}):
            for confidence in (0.5, 0.9, 0.95, 0.99, 0.9999):
                f = _beta_binomial_excess(s, n, math.log(1 / (1 - confidence)))
                mid = min(max(s / n, 1e-12), 1 - 1e-12)
                for lo, hi in ((1e-15, mid), (mid, 1 - 1e-15)):
                    if (f(lo) < 0) == (f(hi) < 0):  # type: ignore[operator]
                        continue
                    want = optimize.brentq(f, lo, hi, xtol=1e-10)
                    assert numeric.brentq(f, lo, hi, xtol=1e-10) == pytest.approx(want, abs=1e-12)  # type: ignore[arg-type]
                    solved += 1
    assert solved > 400


@pytest.mark.parametrize(
    ("f", "a", "b"),
    [
        (lambda x: x**3 - 2 * x - 5, 2.0, 3.0),
        (lambda x: math.cos(x) - x, 0.0, 1.0),
        (lambda x: math.exp(x) - 1e6, 0.0, 20.0),
        (lambda x: (x - 0.3) ** 3, 0.0, 1.0),
        (lambda x: math.atan(x - 1e-3), -1e3, 1e4),
        (lambda x: x, -1.0, 1.0),
    ],
)
def test_brentq_matches_scipy_on_textbook_roots(f: object, a: float, b: float) -> None:
    for xtol in (2e-12, 1e-10, 1e-6):
        want = optimize.brentq(f, a, b, xtol=xtol)  # type: ignore[arg-type]
        assert numeric.brentq(f, a, b, xtol=xtol) == pytest.approx(want, abs=1e-12)  # type: ignore[arg-type]


def test_brentq_refuses_a_bracket_without_a_sign_change_and_returns_an_exact_end() -> None:
    with pytest.raises(ValueError, match="different signs"):
        numeric.brentq(lambda x: x * x + 1, -1.0, 1.0)
    assert numeric.brentq(lambda x: x - 2.0, 2.0, 5.0) == 2.0
    with pytest.raises(RuntimeError, match="no convergence"):
        numeric.brentq(lambda x: math.cos(x) - x, 0.0, 1.0, maxiter=2)
    with pytest.raises(ValueError, match="rtol"):
        numeric.brentq(lambda x: x, -1.0, 1.0, rtol=1e-17)


def _pvalue_sets() -> list[list[float]]:
    rng = random.Random(19)
    sets = [[0.5], [0.0, 1.0], [0.01, 0.01, 0.01], [0.04, 0.03, 0.02, 0.01, 0.2]]
    for _ in range(300):
        m = rng.randint(1, 40)
        sets.append([rng.choice([rng.random(), rng.random() ** 6, 0.05, 1.0, 0.0]) for _ in range(m)])
    return sets


def test_bh_is_scipy_false_discovery_control_exactly() -> None:
    for ps in _pvalue_sets():
        want = stats.false_discovery_control(np.asarray(ps), method="bh").tolist()
        assert numeric.bh(ps) == want, ps
    assert numeric.bh([]) == []


def _holm_numpy(ps: list[float]) -> list[float]:
    p = np.asarray(ps, dtype=float)
    order = np.argsort(p, kind="stable")
    out = np.empty_like(p)
    out[order] = np.maximum.accumulate(np.minimum(1.0, (p.size - np.arange(p.size)) * p[order]))
    return out.tolist()


def test_holm_matches_the_vectorized_step_down_exactly() -> None:
    for ps in _pvalue_sets():
        assert numeric.holm(ps) == _holm_numpy(ps), ps
    assert numeric.holm([]) == []
