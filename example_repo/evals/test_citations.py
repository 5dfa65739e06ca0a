"""Prompt following: does the reply end with the [policy: name] citation? (layers: prompt, model)

The system prompt's rule 2 asks for it; how reliably a model obeys depends on the model and
on the few-shot examples, so the eval runs when the prompt or the model moves.
"""

from __future__ import annotations

import pytest

from evals.casebook import load_questions


@pytest.mark.layer("prompt", "model")
@pytest.mark.eval(trials=320, cases=load_questions, epochs=2, pass_rate=0.85, margin=0.10)
def test_reply_cites_a_policy(trial, assistant):
    reply = assistant.answer(trial.case["question"], seed=trial.seed)
    assert reply.cited, f"no [policy: ...] citation in {reply.text!r}"
