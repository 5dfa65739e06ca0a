"""Self-check of the example app, without pytest-rollout: ``python check_app.py`` (exit 0 = fine).

Checks what the demo's story relies on: replies are a function of the seed; the Monte Carlo
through ``Assistant.answer`` agrees with the exact rates of ``true_rates.py``; the context step
carries the ~8-point drop and the other steps do not; batch 32 times out rarely; bad config is
reported with its file and key.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from assistant import Assistant, ConfigError, load_config  # noqa: E402
from evals.casebook import load_questions  # noqa: E402
from true_rates import BASE, BUNDLE, CONFIGS, exact_rates, monte_carlo  # noqa: E402


def check(condition: bool, message: str) -> None:
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        raise SystemExit(1)


def main() -> int:
    base = load_config(ROOT)
    question = load_questions()[0]["question"]
    a, b = Assistant(base), Assistant(base)
    check(all(a.answer(question, s) == b.answer(question, s) for s in range(200)), "replies are a function of the seed")

    configs = {name: base.with_values(**changes) for name, changes in CONFIGS.items()}
    exact = {name: exact_rates(c) for name, c in configs.items()}
    step2 = exact["infra + model = step 2"]
    drop = step2.answers - exact[BUNDLE].answers
    check(0.07 <= drop <= 0.09, f"the context step drops answer accuracy by {drop:.3f} (~8 points)")
    check(step2.answers >= exact[BASE].answers, "the model step does not lower answer accuracy")
    step1 = exact["+ infra alone (batch 32) = step 1"]
    check(0.005 <= step1.timeouts <= 0.02 and step1.serving >= 0.97, f"batch 32: {step1.timeouts:.2%} timeouts")
    check(exact[BASE].timeouts < 1e-6, "batch 8: no timeouts")

    n = 8000
    for name in (BASE, BUNDLE):
        mc, ex = monte_carlo(configs[name], n), exact[name]
        for field in ("answers", "citations", "serving", "tools"):
            got, want = getattr(mc, field), getattr(ex, field)
            tolerance = 4 * math.sqrt(max(want * (1 - want), 1e-4) / n)
            check(abs(got - want) <= tolerance, f"{name}: {field} simulated {got:.3f} vs exact {want:.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "config", Path(tmp, "config"))
        shutil.copytree(ROOT / "deploy", Path(tmp, "deploy"))
        path = Path(tmp, "deploy", "serving.yaml")
        path.write_text(path.read_text().replace("batch_size:", "batchsize:"))
        try:
            load_config(tmp)
        except ConfigError as exc:
            check("serving.batch_size" in str(exc) and "deploy/serving.yaml" in str(exc), f"bad config: {exc}")
        else:
            check(False, "a misspelt key is an error")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
