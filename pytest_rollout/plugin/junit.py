"""What junitxml (``--junitxml``) shows of the evals: JSON properties, and the evals not run as skipped.

Properties: pytest writes ``str(value)`` of each ``user_properties`` entry, so a tuple became
``(0.81, 0.9)``. Every value here is a string already: text as is, anything else as JSON
(``[0.81, 0.9]``, ``null``, ``{"cost": 0.4, ...}``), which CI test views and scripts can parse.

Skipped: an eval the gate deselected never reaches junitxml, so CI test views did not show it
at all. At the end of the session (on the controller, before junitxml writes its file) each one
is handed to junitxml's own plugin object as a skipped test with its reason (a setup report and
a teardown report, as pytest's own runner makes them). Evals that run on another shard are
left out: that shard's file lists them. Nothing happens without ``--junitxml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_rollout.models import EvalResult

SHARD_REASON = "runs on shard "


def eval_properties(result: EvalResult) -> list[tuple[str, str]]:
    """The ``rollout_*`` junit properties of an eval, every value a string (JSON unless it is text)."""
    values: list[tuple[str, Any]] = [
        ("verdict", result.verdict),
        ("estimate", result.estimate),
        ("interval", result.interval),
        ("n", result.n),
    ]
    if result.retries:
        values.append(("retries", result.retries))
    if result.usage is not None:
        values.append(("usage", result.usage.model_dump(mode="json")))
    return [(f"rollout_{k}", v if isinstance(v, str) else json.dumps(v)) for k, v in values]


def _logxml(config: pytest.Config) -> Any:
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "LogXML" and hasattr(plugin, "pytest_runtest_logreport"):
            return plugin
    return None


def report_not_run(config: pytest.Config, deselected: Mapping[str, str]) -> None:
    """Each deselected eval (but those of other shards) as a skipped test in the junit file."""
    xml = _logxml(config)
    if xml is None:
        return
    for nodeid, reason in sorted(deselected.items()):
        if reason.startswith(SHARD_REASON):
            continue
        path, _, name = nodeid.partition("::")
        location = (path, None, name or nodeid)
        text = f"not run: {reason}"
        for when, outcome, longrepr in (("setup", "skipped", (path, 0, text)), ("teardown", "passed", None)):
            xml.pytest_runtest_logreport(
                pytest.TestReport(nodeid, location, {}, outcome, longrepr, when)  # type: ignore[arg-type]
            )
