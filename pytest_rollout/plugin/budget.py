"""``pytest-rollout budget``'s collector: loaded with ``-p`` into a ``pytest --collect-only`` run,
it writes each eval's budget rows (``evals.budgets``) as JSON to ``$ROLLOUT_BUDGET_OUT``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from pytest_rollout.plugin.release import SPEC_KEY, STATE_KEY

OUT_ENV = "ROLLOUT_BUDGET_OUT"


def pytest_collection_finish(session: pytest.Session) -> None:
    path = os.environ.get(OUT_ENV)
    if not path:
        return
    from pytest_rollout.evals.budgets import budget_rows
    from pytest_rollout.plugin.evals import EvalPlugin

    plugin = session.config.pluginmanager.get_plugin("rollout-evals")
    assert isinstance(plugin, EvalPlugin)
    state = session.config.stash[STATE_KEY]
    family, correction = max(state.eval_count, 1), plugin.options.correction
    rows = []
    for item in session.items:
        spec = item.stash.get(SPEC_KEY, None)
        if spec is None:
            continue
        baseline = plugin.collection_baseline(item, spec)
        for row in budget_rows(spec, family, correction, baseline):
            rows.append({"nodeid": item.nodeid, **asdict(row), "decides": row.decides})
    doc = {"family": state.eval_count, "correction": correction, "rows": rows}
    Path(path).write_text(json.dumps(doc, indent=2), encoding="utf-8")
