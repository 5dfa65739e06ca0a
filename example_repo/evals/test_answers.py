"""Answer accuracy: does the reply contain the labelled answer? (layers: context, model)

Retrieval settings and the context window decide what the model reads, and the model decides
how well it reads it, so this eval runs when either layer moves. Two criteria must hold:
an absolute bar (pass rate >= 0.80, 0.70 or below is a clear failure) and no regression of
more than 5 points against the baseline recorded at the base commit, paired by case id.
"""

from __future__ import annotations

import pytest

from evals.casebook import load_questions


@pytest.mark.layer("context", "model")
@pytest.mark.eval(trials=1280, cases=load_questions, epochs=8, pass_rate=0.80, margin=0.10, max_regression=0.05)
def test_answer_accuracy(trial, assistant):
    case = trial.case
    reply = assistant.answer(case["question"], seed=trial.seed)
    assert case["expected"].lower() in reply.text.lower(), f"expected {case['expected']!r}, got {reply.text!r}"
