"""The labelled cases, loadable at import time (for ``cases=``) and as fixtures (conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
ROOT = HERE.parent  # the example repository
LATENCY_SLO_S = 20.0  # product requirement: 95% of answers within 20 seconds (test_serving.py)


def _load(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(c, dict) and c.get("id") for c in data):
        raise ValueError(f"{name}: expected a list of mappings, each with an 'id'")
    return data


def load_questions() -> list[dict[str, Any]]:
    """Policy questions: id, policy, expected (phrase a correct answer contains), question."""
    return _load("questions.yaml")


def load_tool_cases() -> list[dict[str, Any]]:
    """Order questions (lookup_order is right) and every policy question (search_policy is right)."""
    orders = [{**c, "tool": "lookup_order"} for c in _load("order_questions.yaml")]
    policies = [
        {"id": f"policy-{c['id']}", "question": c["question"], "tool": "search_policy"} for c in load_questions()
    ]
    return orders + policies
