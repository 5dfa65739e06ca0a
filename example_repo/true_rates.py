"""The true pass rates of every eval at every configuration of the seed incident.

Exact: the simulated model exposes its reply distribution (``SimulatedModel.plan``) and its
latency distribution (closed form), so each rate below is a finite sum, not an estimate.
``--mc N`` cross-checks them by running the evals' own code path N times per eval and
configuration with seeds 0..N-1 (a Monte Carlo with its standard error).

    python true_rates.py              # the table in README.md
    python true_rates.py --mc 20000   # plus Monte Carlo estimates through Assistant.answer
    python true_rates.py --cases      # per-case answer accuracy at base and after all three changes

Rates are per the evals' definitions: answers and citations average over the 160 cases (the
case is the unit); serving is the pass rate among completed calls (timeouts are error trials,
reported apart); tools averages over the 200 tool cases.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from assistant import AppConfig, Assistant, load_config  # noqa: E402
from assistant.model import SimulatedModel, exact_pass_rate  # noqa: E402
from evals.casebook import LATENCY_SLO_S, load_questions, load_tool_cases  # noqa: E402

INFRA = {"serving.batch_size": 32}
MODEL = {"llm.model": "gpt-4o"}
CONTEXT = {"llm.context_window": 32768}
BASE, BUNDLE = "base: gpt-4-turbo-preview, 8k, batch 8", "infra + model + context = step 3 = the bundle"
CONFIGS: dict[str, dict[str, Any]] = {
    BASE: {},
    "+ infra alone (batch 32) = step 1": INFRA,
    "+ model alone (gpt-4o)": MODEL,
    "+ context alone (32k)": CONTEXT,
    "infra + model = step 2": {**INFRA, **MODEL},
    BUNDLE: {**INFRA, **MODEL, **CONTEXT},
}


@dataclass(frozen=True)
class Rates:
    answers: float
    citations: float
    serving: float
    timeouts: float
    tools: float
    median_s: float = math.nan
    p99_s: float = math.nan


def exact_rates(config: AppConfig) -> Rates:
    assistant = Assistant(config)
    model = assistant.model
    assert isinstance(model, SimulatedModel)
    questions, tool_cases = load_questions(), load_tool_cases()
    answers = citations = 0.0
    for case in questions:
        plan = model.plan(assistant.prompt_for(case["question"]))
        answers += exact_pass_rate(plan, [case["expected"]])
        known = sum(p for p, _, policy in plan.replies() if policy in assistant.policy_names)
        citations += known * plan.p_cite
    tools = sum(
        exact_pass_rate(model.plan(assistant.routing_prompt_for(c["question"])), [f"TOOL: {c['tool']}"])
        for c in tool_cases
    )
    latency = model.latency
    completed = 1.0 - latency.p_timeout
    return Rates(
        answers=answers / len(questions),
        citations=citations / len(questions),
        serving=latency.cdf(min(LATENCY_SLO_S, latency.timeout_s)) / completed,
        timeouts=latency.p_timeout,
        tools=tools / len(tool_cases),
        median_s=quantile(latency.cdf, 0.5),
        p99_s=quantile(latency.cdf, 0.99),
    )


def quantile(cdf: Callable[[float], float], q: float) -> float:
    """The q-quantile of a latency distribution, by bisection on its CDF (latency is in (0, 1000) s)."""
    lo, hi = 1e-6, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if cdf(mid) >= q else (mid, hi)
    return hi


def monte_carlo(config: AppConfig, n: int) -> Rates:
    """The evals' own checks, n trials each with seeds 0..n-1, cycling through the cases."""
    assistant = Assistant(config)
    questions, tool_cases = load_questions(), load_tool_cases()

    def rate(check: Callable[[int], bool]) -> tuple[float, int]:
        passed = done = errors = 0
        for seed in range(n):
            try:
                passed += check(seed)
                done += 1
            except TimeoutError:
                errors += 1
        return passed / max(done, 1), errors

    def answer(seed: int) -> bool:
        case = questions[seed % len(questions)]
        return case["expected"].lower() in assistant.answer(case["question"], seed).text.lower()

    def cited(seed: int) -> bool:
        return assistant.answer(questions[seed % len(questions)]["question"], seed).cited

    def fast(seed: int) -> bool:
        return assistant.answer(questions[seed % len(questions)]["question"], seed).latency_s <= LATENCY_SLO_S

    def tool(seed: int) -> bool:
        case = tool_cases[seed % len(tool_cases)]
        return bool(assistant.choose_tool(case["question"], seed) == case["tool"])

    serving, errors = rate(fast)
    return Rates(rate(answer)[0], rate(cited)[0], serving, errors / n, rate(tool)[0])


def table(rows: dict[str, Rates]) -> list[str]:
    lines = [
        "| configuration | answers (accuracy) | citations | serving (within SLO) | timeouts (errors) | tools "
        "| latency median / p99 (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        latency = "n/a" if math.isnan(r.median_s) else f"{r.median_s:.1f} / {r.p99_s:.1f}"
        lines.append(
            f"| {name} | {r.answers:.3f} | {r.citations:.3f} | {r.serving:.3f} | {r.timeouts:.4f} | {r.tools:.3f} "
            f"| {latency} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mc", type=int, metavar="N", help="also estimate each rate from N simulated trials")
    parser.add_argument("--cases", action="store_true", help="per-case answer accuracy, base vs all three")
    args = parser.parse_args(argv)
    base = load_config(ROOT)
    configs = {name: base.with_values(**changes) for name, changes in CONFIGS.items()}
    exact = {name: exact_rates(config) for name, config in configs.items()}
    print("True rates (exact):\n")
    print("\n".join(table(exact)))
    if args.mc:
        print(f"\nMonte Carlo, {args.mc} trials per cell, seeds 0..{args.mc - 1} (standard error <= "
              f"{0.5 / math.sqrt(args.mc):.4f}):\n")
        print("\n".join(table({name: monte_carlo(config, args.mc) for name, config in configs.items()})))
    if args.cases:
        print_cases(configs[BASE], configs[BUNDLE])
    return 0


def print_cases(before: AppConfig, after: AppConfig) -> None:
    a, b = Assistant(before), Assistant(after)
    assert isinstance(a.model, SimulatedModel) and isinstance(b.model, SimulatedModel)
    print("\n| case | base | all three |\n|---|---|---|")
    for case in load_questions():
        pa = exact_pass_rate(a.model.plan(a.prompt_for(case["question"])), [case["expected"]])
        pb = exact_pass_rate(b.model.plan(b.prompt_for(case["question"])), [case["expected"]])
        print(f"| {case['id']} | {pa:.3f} | {pb:.3f} |")


if __name__ == "__main__":
    raise SystemExit(main())
