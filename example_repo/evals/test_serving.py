"""Serving: does an answer arrive within the latency SLO? (layer: infra)

Calls past ``serving.timeout_s`` raise ``TimeoutError``: pytest-rollout counts those as error
trials, apart from failures, and the eval is an ERROR (never a PASS) if they exceed
``max_error_rate`` (default 0.1). Latency does not depend on the question, so trials, not
cases, are the unit here.
"""

from __future__ import annotations

import pytest

from evals.casebook import LATENCY_SLO_S


@pytest.mark.layer("infra")
@pytest.mark.eval(trials=500, pass_rate=0.95, margin=0.05)
def test_answer_within_latency_slo(trial, assistant, questions):
    question = questions[trial.index % len(questions)]["question"]
    reply = assistant.answer(question, seed=trial.seed)
    assert reply.latency_s <= LATENCY_SLO_S, f"answer took {reply.latency_s:.1f}s (SLO {LATENCY_SLO_S:g}s)"
