"""One eval's path as an inline SVG: the running estimate and its anytime-valid confidence
sequence over the trials, the threshold, the indifference zone below it and the stopping point.

The path is recomputed from the per-trial values of the report (``EvalResult.trials``): units in
index order (with cases, a case's unit is the mean of its epochs, in the order its first trial
ran), the running mean, and at up to ``POINTS`` evenly spaced n the two-sided confidence
sequence at the eval's ``confidence`` (``verdicts.beta_binomial_cs`` for 0/1 units, the hedged
betting CS otherwise). A confidence sequence holds at every n at once, so drawing it over the
whole run is honest: the verdict's one-sided bounds are in the report line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pytest_rollout.models import EvalResult, TrialValue

#: Points of the confidence sequence drawn (each one is an interval computation).
POINTS = 60
WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 16, 36

VERDICT_COLOURS = {
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "INCONCLUSIVE": "#9a6700",
    "ERROR": "#8250df",
    "NO_BASELINE": "#57606a",
    "COST_LIMIT": "#bc4c00",
}


@dataclass(frozen=True)
class PathPoint:
    n: int
    estimate: float
    low: float
    high: float


def units(trials: Sequence[TrialValue]) -> list[float]:
    """The values the statistics saw, in order: per trial, or per case (mean of its epochs)."""
    ordered = sorted(trials, key=lambda t: t.index)
    if not any(t.case is not None for t in ordered):
        return [t.value for t in ordered if t.value is not None]
    by_case: dict[str, list[float]] = {}
    for t in ordered:
        values = by_case.setdefault(str(t.case), [])
        if t.value is not None:
            values.append(t.value)
    return [sum(v) / len(v) for v in by_case.values() if v]


def confidence_path(values: Sequence[float], confidence: float, points: int = POINTS) -> list[PathPoint]:
    """Running mean and two-sided anytime-valid interval at evenly spaced n (the last n always)."""
    from pytest_rollout.evals.verdicts import beta_binomial_cs, betting_cs

    if not values:
        return []
    binary = all(v in (0.0, 1.0) for v in values)
    total = len(values)
    ns = sorted({max(1, round(total * k / points)) for k in range(1, points + 1)} | {total})
    path = []
    for n in ns:
        head = values[:n]
        mean = sum(head) / n
        low, high = beta_binomial_cs(round(sum(head)), n, confidence) if binary else betting_cs(head, confidence)
        path.append(PathPoint(n, mean, low, high))
    return path


def eval_svg(e: EvalResult) -> str:
    """The plot of one eval, or an empty string when it has no per-trial values."""
    values = units(e.trials)
    path = confidence_path(values, e.confidence)
    if not path:
        return ""
    horizon = max(path[-1].n, _unit_budget(e))
    plot = _Frame(horizon)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(_caption(e, path[-1]))}">',
        *plot.axes(_unit_name(e)),
        plot.band(path),
        plot.polyline([(p.n, p.estimate) for p in path], "estimate"),
    ]
    if e.threshold is not None:
        parts.append(plot.hline(e.threshold, "threshold", f"threshold {e.threshold:g}"))
        if e.threshold - e.margin > 0:
            parts.append(plot.hline(e.threshold - e.margin, "margin", f"threshold - margin {e.threshold - e.margin:g}"))
    parts.append(plot.stop(path[-1].n, e.verdict))
    parts.append("</svg>")
    return "\n".join(parts)


def _unit_budget(e: EvalResult) -> int:
    if e.epochs and e.cases is not None:
        return max(1, e.budget // max(e.epochs, 1))
    return e.budget


def _unit_name(e: EvalResult) -> str:
    return "cases" if any(t.case is not None for t in e.trials) else "trials"


def _caption(e: EvalResult, last: PathPoint) -> str:
    return (
        f"{e.nodeid}: estimate {last.estimate:.3f}, {e.confidence:.0%} confidence sequence "
        f"[{last.low:.3f}, {last.high:.3f}] at n={last.n}, {e.verdict}"
    )


class _Frame:
    """Maps (n, value in [0, 1]) to SVG coordinates and draws the pieces."""

    def __init__(self, horizon: int) -> None:
        self.horizon = max(horizon, 1)

    def x(self, n: float) -> float:
        return _LEFT + (WIDTH - _LEFT - _RIGHT) * n / self.horizon

    def y(self, v: float) -> float:
        return _TOP + (HEIGHT - _TOP - _BOTTOM) * (1 - min(max(v, 0.0), 1.0))

    def axes(self, unit: str) -> list[str]:
        out = [
            f'<rect x="{_LEFT}" y="{_TOP}" width="{WIDTH - _LEFT - _RIGHT}" height="{HEIGHT - _TOP - _BOTTOM}" class="frame"/>'
        ]
        for v in (0.0, 0.25, 0.5, 0.75, 1.0):
            out.append(f'<text x="{_LEFT - 6}" y="{self.y(v) + 4:.1f}" class="tick" text-anchor="end">{v:g}</text>')
        for k in range(5):
            n = round(self.horizon * k / 4)
            out.append(
                f'<text x="{self.x(n):.1f}" y="{HEIGHT - _BOTTOM + 16}" class="tick" text-anchor="middle">{n}</text>'
            )
        out.append(
            f'<text x="{(WIDTH + _LEFT) / 2:.1f}" y="{HEIGHT - 4}" class="tick" text-anchor="middle">{unit}</text>'
        )
        return out

    def band(self, path: Sequence[PathPoint]) -> str:
        upper = [f"{self.x(p.n):.1f},{self.y(p.high):.1f}" for p in path]
        lower = [f"{self.x(p.n):.1f},{self.y(p.low):.1f}" for p in reversed(path)]
        return f'<polygon class="band" points="{" ".join(upper + lower)}"><title>confidence sequence</title></polygon>'

    def polyline(self, pts: Sequence[tuple[int, float]], css: str) -> str:
        coords = " ".join(f"{self.x(n):.1f},{self.y(v):.1f}" for n, v in pts)
        return f'<polyline class="{css}" points="{coords}"><title>running {css}</title></polyline>'

    def hline(self, v: float, css: str, label: str) -> str:
        y = self.y(v)
        return (
            f'<line class="{css}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="label" x="{WIDTH - _RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )

    def stop(self, n: int, verdict: str) -> str:
        x = self.x(n)
        colour = VERDICT_COLOURS.get(verdict, "#57606a")
        anchor = "end" if x > WIDTH / 2 else "start"
        dx = -4 if anchor == "end" else 4
        return (
            f'<line class="stop" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{HEIGHT - _BOTTOM}" stroke="{colour}"/>'
            f'<text class="label" x="{x + dx:.1f}" y="{_TOP + 14}" text-anchor="{anchor}" fill="{colour}">'
            f"{escape(verdict)} at n={n}</text>"
        )
