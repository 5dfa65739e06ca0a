"""The pass_rate budget table of docs/statistics.md, by exact dynamic programming (no simulation).

Run: ``.venv/bin/python benchmarks/budget_table.py [--alpha 0.05] [--beta 0.05]``

For each (threshold, margin): the one-sided fixed-n size, the calibrated minimum ``trials``
(``verdicts.minimum_budget``: 1.25 x fixed n, rounded up), the calibrated bound and the exact
expected trials at the threshold and at threshold - margin (``verdicts.exact_oc`` on the design
``verdicts.design_for`` builds for that budget). Prints a Markdown table.
"""

from __future__ import annotations

import argparse

from pytest_rollout.evals import verdicts as v

POINTS = ((0.70, 0.10), (0.80, 0.10), (0.80, 0.05), (0.90, 0.05), (0.95, 0.05), (0.95, 0.03))


def rows(alpha: float, beta: float) -> list[str]:
    out = [
        "| threshold | margin | fixed n | calibrated minimum `trials` | bound +-h | "
        "expected trials at the threshold / at threshold - margin |",
        "|---|---|---|---|---|---|",
    ]
    for threshold, margin in POINTS:
        minimum = v.minimum_budget("pass_rate", threshold, margin, alpha, beta)
        assert minimum is not None
        design = v.design_for("pass_rate", threshold, margin, alpha, beta, minimum)
        at_good = v.exact_oc(design, threshold)[3]
        at_bad = v.exact_oc(design, threshold - margin)[3]
        out.append(
            f"| {threshold:.2f} | {margin:.2f} | {v.fixed_n(threshold, margin, alpha, beta)} | {minimum} | "
            f"{design.fail_bound:.3f} | {at_good:.0f} / {at_bad:.0f} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.05, help="False-FAIL rate (default 0.05)")
    parser.add_argument("--beta", type=float, default=0.05, help="False-PASS rate (default 0.05)")
    args = parser.parse_args(argv)
    print(f"pass_rate budgets, alpha = {args.alpha}, beta = {args.beta} (exact DP)\n")
    print("\n".join(rows(args.alpha, args.beta)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
